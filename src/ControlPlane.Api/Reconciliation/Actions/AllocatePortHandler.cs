using ControlPlane.Api.Runtime;
using ControlPlane.Domain.Planning;

namespace ControlPlane.Api.Reconciliation.Actions;

/// <summary>
/// Leases the plan's new ports all at once (one transaction per host), committed before any engine
/// step: a container must never start on a port another node may be handed. The ports are recorded
/// on the nodes with the plan's records.
/// </summary>
public sealed class AllocatePortHandler(PortAllocator ports, ZoneRegistry zones) : ActionHandler<AllocatePort, ITargetRecord>
{
    protected override async Task PrepareAsync(IReadOnlyList<AllocatePort> actions, ITargetRecord record, ActionPass pass)
    {
        await ports.AllocateAsync(pass.Db, actions.Select(a =>
        {
            var host = zones[pass.Place(a.NodeId).Zone].Host;
            return (a.NodeId, host, (Action<int>)(port => record.AssignPort(a.NodeId, host, port)));
        }).ToList(), pass.Ct);
    }
}
