using ControlPlane.Api.Data;
using ControlPlane.Api.Security;
using ControlPlane.Domain;
using ControlPlane.Domain.Planning;

namespace ControlPlane.Api.Reconciliation;

public sealed partial class Converger
{
    /// <summary>
    /// A group modifying for an online change (<see cref="OnlineChanges"/>: auth tokens, users, a
    /// transit encryption step) is available again only once every node holds it. When the plan says
    /// available (whatever else the modification asked of the topology is done), the transit encryption
    /// step runs; while a node lags the plan waits instead (failures are still handled first: the
    /// planner heals before it settles), and the event then says what every node holds.
    /// </summary>
    private async Task<IReadOnlyList<NodeAction>> AwaitOnlineChangesAsync(ControlPlaneDbContext db, ReplicationGroupEntity group,
        IReadOnlyList<RedisNodeEntity> nodes, IReadOnlySet<string> holdingUsers, IReadOnlyList<NodeAction> plan, ContainerView view, CancellationToken ct)
    {
        if (group.Status != GroupStatus.Modifying || plan is not [MarkGroup { Status: GroupStatus.Available } available])
            return plan;
        if (group.PendingChanges is not { } pending || !OnlineChanges.Any(pending))
            return plan;
        if (pending.TransitEncryptionMode is not null)
            await transit.StepAsync(db, group, nodes, view, ct);
        if (OnlineChanges.Lagging(group, pending, holdingUsers) is { } lagging)
            return [new Wait(lagging)];
        return [available with { Message = OnlineChanges.Done(group.Id, pending) }];
    }
}
