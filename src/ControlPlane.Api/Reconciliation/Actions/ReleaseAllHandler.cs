using ControlPlane.Domain;
using ControlPlane.Domain.Planning;

namespace ControlPlane.Api.Reconciliation.Actions;

/// <summary>The last step of a delete, once every container is gone: the ports, the extras and the record itself.</summary>
public sealed class ReleaseAllHandler : ActionHandler<ReleaseAll, ITargetRecord>
{
    public override bool EndsConvergence => true;

    protected override async Task RecordAsync(ReleaseAll action, ITargetRecord record, ActionPass pass)
    {
        await pass.TeardownExtras();
        // A node whose zone does not answer may still run there: its port stays leased until its container is gone.
        await PortAllocator.ReleaseOnSaveAsync(pass.Db, pass.Places.Where(p => pass.Observed.GetValueOrDefault(p.NodeId)?.Container != ContainerState.ZoneUnreachable)
            .Select(p => p.NodeId).ToList(), pass.Ct);
        record.Remove();
        pass.Event(record.SourceType == SourceType.ReplicationGroup ? $"Replication group {record.Id} deleted" : $"Cache cluster {record.Id} deleted");
    }
}
