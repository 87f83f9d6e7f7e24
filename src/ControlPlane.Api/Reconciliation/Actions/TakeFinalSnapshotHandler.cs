using ControlPlane.Api.Data;
using ControlPlane.Api.Snapshots;
using ControlPlane.Domain;
using ControlPlane.Domain.Planning;
using Microsoft.EntityFrameworkCore;

namespace ControlPlane.Api.Reconciliation.Actions;

/// <summary>
/// A deleting group's final snapshot, taken before anything is removed. When it cannot be taken, the
/// group is not deleted: it is available again and no longer asks for the snapshot, and the event says why.
/// </summary>
public sealed class TakeFinalSnapshotHandler(SnapshotTaker snapshots, TimeProvider time) : ActionHandler<TakeFinalSnapshot, GroupRecord>
{
    protected override Task StepAsync(TakeFinalSnapshot action, GroupRecord record, ActionPass pass) => pass.WriteAsync(async () =>
    {
        var snapshot = await pass.Db.Snapshots.Include(s => s.Files).FirstOrDefaultAsync(s => s.Name == action.Name, pass.Ct);
        if (snapshot is null)
        {
            snapshot = SnapshotEntity.Taking(record.Entity, action.Name, SnapshotSource.Manual, time.GetUtcNow());
            pass.Db.Snapshots.Add(snapshot);
        }
        await snapshots.TakeAsync(pass.Db, record.Entity, snapshot, pass.Places, pass.Observed, pass.Ct);
    });

    protected override Task RecordAsync(TakeFinalSnapshot action, GroupRecord record, ActionPass pass)
    {
        // Taken: the next step plans the teardown.
        if (pass.Db.Snapshots.Local.FirstOrDefault(s => s.Name == action.Name) is { Status: SnapshotStatus.Available })
            return Task.CompletedTask;
        record.MarkGroup(GroupStatus.Available);
        record.Entity.FinalSnapshotName = null;
        pass.Event($"Final snapshot {action.Name} failed; replication group {record.Id} was not deleted");
        return Task.CompletedTask;
    }
}
