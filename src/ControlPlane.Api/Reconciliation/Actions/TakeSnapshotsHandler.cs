using ControlPlane.Api.Data;
using ControlPlane.Api.Snapshots;
using ControlPlane.Domain;
using ControlPlane.Domain.Planning;
using Microsoft.EntityFrameworkCore;

namespace ControlPlane.Api.Reconciliation.Actions;

/// <summary>A snapshotting group is healthy and converged: every snapshot it was asked for is taken from its nodes, then it is available again.</summary>
public sealed class TakeSnapshotsHandler(SnapshotTaker snapshots) : ActionHandler<TakeSnapshots, GroupRecord>
{
    protected override Task StepAsync(TakeSnapshots action, GroupRecord record, ActionPass pass) => pass.WriteAsync(async () =>
    {
        var pending = await pass.Db.Snapshots.Include(s => s.Files)
            .Where(s => s.ReplicationGroupId == record.Id && s.Status == SnapshotStatus.Creating && s.CopiedFrom == null).ToListAsync(pass.Ct);
        foreach (var snapshot in pending)
            await snapshots.TakeAsync(pass.Db, record.Entity, snapshot, pass.Places, pass.Observed, pass.Ct);
    });

    protected override Task RecordAsync(TakeSnapshots action, GroupRecord record, ActionPass pass)
    {
        record.MarkGroup(GroupStatus.Available);
        return Task.CompletedTask;
    }
}
