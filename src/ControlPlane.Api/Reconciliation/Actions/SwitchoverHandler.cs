using ControlPlane.Api.Engines;
using ControlPlane.Api.Monitoring;
using ControlPlane.Domain;
using ControlPlane.Domain.Planning;

namespace ControlPlane.Api.Reconciliation.Actions;

/// <summary>
/// A coordinated handover: the old primary pauses its clients until the replica has every write,
/// then they swap (FAILOVER TO; CLUSTER FAILOVER asked of the replica in cluster mode). The roles
/// are recorded once it has happened.
/// </summary>
public sealed class SwitchoverHandler(IRedisAdmin redis, ControlPlaneMetrics metrics, TimeProvider time) : ActionHandler<Switchover, GroupRecord>
{
    private static readonly TimeSpan WaitStep = TimeSpan.FromMilliseconds(50);

    /// <summary>How long a planned switchover may take before it counts as failed.</summary>
    private static readonly TimeSpan SwitchoverTimeout = TimeSpan.FromSeconds(15);

    public override bool ChangesRoles => true;

    protected override async Task StepAsync(Switchover action, GroupRecord record, ActionPass pass)
    {
        var (from, to) = (pass.Place(action.FromNodeId), pass.Place(action.ToNodeId));
        var ct = pass.Ct;
        if (pass.Observed[to.NodeId].ClusterId is not null)
            await redis.ClusterFailoverAsync(to.Host!, to.Port!.Value, ClusterFailoverMode.Default, ct);
        else
            await redis.FailoverToAsync(from.Host!, from.Port!.Value, to.Host!, to.Port!.Value, SwitchoverTimeout / 3, ct);
        var deadline = time.GetUtcNow() + SwitchoverTimeout;
        while (true)
        {
            var oldState = await redis.ProbeAsync(from.Host!, from.Port!.Value, ct);
            var newState = await redis.ProbeAsync(to.Host!, to.Port!.Value, ct);
            if (oldState?.Role == RedisRole.Replica && newState?.Role == RedisRole.Master)
                return;
            if (time.GetUtcNow() > deadline)
                throw new TimeoutException($"The switchover from {from.NodeId} to {to.NodeId} did not happen within {SwitchoverTimeout}.");
            await Task.Delay(WaitStep, time, ct);
        }
    }

    protected override Task RecordAsync(Switchover action, GroupRecord record, ActionPass pass)
    {
        record.MarkNode(action.ToNodeId, NodeStatus.Available, NodeRole.Primary);
        record.MarkNode(action.FromNodeId, NodeStatus.Available, NodeRole.Replica);
        pass.Event($"Failover from primary node {action.FromNodeId} to replica node {action.ToNodeId} completed");
        metrics.FailoverCompleted();
        return Task.CompletedTask;
    }
}
