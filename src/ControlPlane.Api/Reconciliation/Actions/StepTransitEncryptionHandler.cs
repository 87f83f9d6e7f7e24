using ControlPlane.Domain;
using ControlPlane.Domain.Planning;

namespace ControlPlane.Api.Reconciliation.Actions;

/// <summary>
/// A group modifying for a transit encryption step: every serving node one step towards the group's
/// mode, online, each move told in an event, and the links over TLS once every node accepts it. An
/// available group: the certificates due renewed, the inner ports of a multiplexer that is gone given
/// back, a step a control plane stopped half way finished. A node that fails its step is logged, not
/// thrown for: the group goes on, and the planner asks again while the work is due.
/// </summary>
public sealed class StepTransitEncryptionHandler(TransitEncryption transit, GroupEndpoints endpoints) : ActionHandler<StepTransitEncryption, GroupRecord>
{
    // A node may not be able to move yet (its inner ports are leased at the next step), or fail to: beside
    // the planner's wait for it, the next try comes after that wait, within the pass's budget, not in a
    // loop of immediate re-plans.
    public override bool Waits => true;

    protected override Task StepAsync(StepTransitEncryption action, GroupRecord record, ActionPass pass) => pass.WriteAsync(async () =>
    {
        var group = record.Entity;
        var nodes = group.Shards.SelectMany(s => s.Nodes).OrderBy(n => n.Id).ToList();
        // A step from plain text to TLS changes what the endpoint proxy's checks must speak: at once, not a step later.
        if (await transit.StepAsync(pass.Db, group, nodes, pass.View, pass.Ct) && group.ClusterMode == ClusterMode.Disabled)
            await endpoints.EnsureAsync(pass.Db, group, pass.View, wiredNow: false, pass.Ct);
    });
}
