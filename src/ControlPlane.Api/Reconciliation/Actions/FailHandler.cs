using ControlPlane.Api.Runtime;
using ControlPlane.Domain;
using ControlPlane.Domain.Planning;

namespace ControlPlane.Api.Reconciliation.Actions;

/// <summary>
/// The create cannot finish. Nothing half-built is left running: the containers go, the ports are
/// released, the record stays (create-failed) to say why.
/// </summary>
public sealed class FailHandler(ZoneRegistry zones) : ActionHandler<Fail, ITargetRecord>
{
    public override bool EndsConvergence => true;

    protected override Task StepAsync(Fail action, ITargetRecord record, ActionPass pass) =>
        Task.WhenAll(pass.Places.Select(p => zones[p.Zone].Runtime.RemoveAsync(p.ContainerName, pass.Ct)));

    protected override async Task RecordAsync(Fail action, ITargetRecord record, ActionPass pass)
    {
        await pass.TeardownExtras();
        await PortAllocator.ReleaseOnSaveAsync(pass.Db, pass.Places.Select(p => p.NodeId).ToList(), pass.Ct);
        record.CreateFailed();
        pass.Event($"Creation of {(record.SourceType == SourceType.ReplicationGroup ? "replication group" : "cache cluster")} {record.Id} failed: {action.Reason}");
    }
}
