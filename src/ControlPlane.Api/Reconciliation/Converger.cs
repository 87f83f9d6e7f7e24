using ControlPlane.Api.Data;
using ControlPlane.Api.Engines;
using ControlPlane.Api.Options;
using ControlPlane.Domain;
using ControlPlane.Domain.Planning;
using Docker.DotNet;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Npgsql;

namespace ControlPlane.Api.Reconciliation;

/// <summary>
/// Converges one group or cluster: observe, plan (pure), act, and again, until the plan is empty,
/// only waits past this pass's budget, or fails the create. Holds a Postgres advisory lock on the
/// group meanwhile, so only one actor changes it even with several control-plane processes.
/// </summary>
public sealed partial class Converger(
    IServiceScopeFactory scopes,
    ZoneRegistry zones,
    NodeSpecs specs,
    PortAllocator ports,
    Observer observer,
    RedisAdmin redis,
    TimeProvider time,
    IOptions<ControlPlaneOptions> options,
    ILogger<Converger> logger)
{
    private static readonly TimeSpan WaitStep = TimeSpan.FromMilliseconds(50);

    private ReconcilerOptions Settings => options.Value.Reconciler;
    private TimeProvider Time => time;
    private PortAllocator Ports => ports;
    private ZoneRegistry Zones => zones;
    private NodeSpecs Specs => specs;
    private Observer Observer_ => observer;
    private RedisAdmin Redis => redis;

    public async Task ConvergeAsync(Target target, ContainerView view, CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<ControlPlaneDbContext>();
        await using var lease = await GroupLock.TryTakeAsync(db, target.Key, ct);
        if (lease is null)
            return; // another control-plane process is on it

        var budgetEnds = time.GetUtcNow() + Settings.ConvergeBudget;
        while (true)
        {
            db.ChangeTracker.Clear();
            var step = target.Engine == Catalog.Redis
                ? await StepGroupAsync(db, target.Id, view, ct)
                : await StepClusterAsync(db, target.Id, view, ct);
            // Only a change under way (a create, a delete) waits within the pass for nodes, sync and gossip;
            // a settled group that waits (on a failed node) is looked at again by the next pass, with a fresh listing.
            if (step == Progress.Done || step == Progress.Settled || (step == Progress.Waiting && time.GetUtcNow() >= budgetEnds))
                return;
            if (step == Progress.Waiting)
                await Task.Delay(WaitStep, time, ct);
        }
    }

    private enum Progress { Done, Acted, Waiting, Settled }

    private async Task<Progress> StepGroupAsync(ControlPlaneDbContext db, string id, ContainerView view, CancellationToken ct)
    {
        var group = await db.ReplicationGroups.Include(g => g.Shards).ThenInclude(s => s.Nodes).AsSplitQuery().FirstOrDefaultAsync(g => g.Id == id, ct);
        if (group is null)
            return Progress.Done;
        var cluster = group.ClusterMode == ClusterMode.Enabled;
        var nodes = group.Shards.SelectMany(s => s.Nodes).OrderBy(n => n.Id).ToList();
        var places = nodes.Select(n => new NodePlace(n.Id, n.AvailabilityZone, n.Host, n.Port,
            n.Port is { } p ? specs.Redis(group.Id, n.ShardId, n.Id, n.Host!, p, group.EngineVersion, group.NodeType, cluster) : null)).ToList();
        var creating = group.Status == GroupStatus.Creating;
        var observed = await observer.ObserveAsync(Catalog.Redis, cluster, creating, places, view, Settings.FailureThreshold, ct);
        var desired = new DesiredGroup(group.Id, group.ClusterMode, group.Status,
            group.Shards.OrderBy(s => s.Id).Select(s => new DesiredShard(s.Id, s.Slots, s.Status,
                s.Nodes.OrderBy(n => n.Id).Select(n => new DesiredNode(n.Id, n.ShardId, n.Role, n.AvailabilityZone, n.Status, n.Port)).ToList())).ToList());
        var plan = GroupPlanner.Plan(desired, observed);

        var acts = new Acts(this, db, view, places, observed, SourceType.ReplicationGroup, group.Id, ct);
        return await acts.RunAsync(plan, creating ? group.CreatedAt : null, group.Status == GroupStatus.Available,
            markNode: (nodeId, status, role) =>
            {
                var node = nodes.First(n => n.Id == nodeId);
                node.Status = status;
                node.Role = role;
            },
            markShard: (shardId, status) => group.Shards.First(s => s.Id == shardId).Status = status,
            markGroup: status =>
            {
                group.Status = status;
                group.UpdatedAt = time.GetUtcNow();
                if (status == GroupStatus.Available)
                {
                    group.ObservedGeneration = group.Generation;
                    group.PendingChanges = null;
                }
            },
            assignPort: (nodeId, host, port) =>
            {
                var node = nodes.First(n => n.Id == nodeId);
                node.Host = host;
                node.Port = port;
            },
            remove: () => db.ReplicationGroups.Remove(group),
            failed: () =>
            {
                group.Status = GroupStatus.CreateFailed;
                foreach (var node in nodes)
                    (node.Status, node.Host, node.Port) = (NodeStatus.Failed, null, null);
            });
    }

    private async Task<Progress> StepClusterAsync(ControlPlaneDbContext db, string id, ContainerView view, CancellationToken ct)
    {
        var cluster = await db.CacheClusters.Include(c => c.Nodes).FirstOrDefaultAsync(c => c.Id == id, ct);
        if (cluster is null)
            return Progress.Done;
        var nodes = cluster.Nodes.OrderBy(n => n.Id).ToList();
        var places = nodes.Select(n => new NodePlace(n.Id, n.AvailabilityZone, n.Host, n.Port,
            n.Port is { } p ? specs.Memcached(cluster.Id, n.Id, n.Host!, p, cluster.EngineVersion, cluster.NodeType) : null)).ToList();
        var creating = cluster.Status == CacheClusterStatus.Creating;
        var observed = await observer.ObserveAsync(Catalog.Memcached, false, creating, places, view, Settings.FailureThreshold, ct);
        var desired = new DesiredCluster(cluster.Id, cluster.Status,
            nodes.Select(n => new DesiredNode(n.Id, null, NodeRole.Primary, n.AvailabilityZone, n.Status, n.Port)).ToList());
        var plan = GroupPlanner.Plan(desired, observed);

        var acts = new Acts(this, db, view, places, observed, SourceType.CacheCluster, cluster.Id, ct);
        return await acts.RunAsync(plan, creating ? cluster.CreatedAt : null, cluster.Status == CacheClusterStatus.Available,
            markNode: (nodeId, status, _) => nodes.First(n => n.Id == nodeId).Status = status,
            markShard: (_, _) => { },
            markGroup: status =>
            {
                cluster.Status = status == GroupStatus.Available ? CacheClusterStatus.Available : cluster.Status;
                cluster.UpdatedAt = time.GetUtcNow();
                cluster.ObservedGeneration = cluster.Generation;
                cluster.PendingChanges = null;
            },
            assignPort: (nodeId, host, port) =>
            {
                var node = nodes.First(n => n.Id == nodeId);
                node.Host = host;
                node.Port = port;
            },
            remove: () => db.CacheClusters.Remove(cluster),
            failed: () =>
            {
                cluster.Status = CacheClusterStatus.CreateFailed;
                foreach (var node in nodes)
                    (node.Status, node.Host, node.Port) = (NodeStatus.Failed, null, null);
            });
    }

    /// <summary>Records a failed attempt as an event, once, so a broken group is visible without flooding the log.</summary>
    public async Task RecordFailureAsync(Target target, int failures, Exception e, CancellationToken ct)
    {
        if (failures != 1 && failures % 10 != 0)
            return;
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<ControlPlaneDbContext>();
            db.Record(time, target.Engine == Catalog.Redis ? SourceType.ReplicationGroup : SourceType.CacheCluster, target.Id,
                $"Reconciliation attempt {failures} failed and will be retried: {e.GetBaseException().Message}");
            await db.SaveChangesAsync(ct);
        }
        catch (Exception inner) when (!ct.IsCancellationRequested)
        {
            LogRecordFailed(logger, target.Id, inner.Message);
        }
    }

    /// <summary>Carries out one plan against the engines and the database.</summary>
    private sealed class Acts(
        Converger owner, ControlPlaneDbContext db, ContainerView view, IReadOnlyList<NodePlace> places,
        IReadOnlyDictionary<string, ObservedNode> observed, SourceType sourceType, string id, CancellationToken ct)
    {
        private NodePlace Place(string nodeId) => places.First(p => p.NodeId == nodeId);

        public async Task<Progress> RunAsync(
            IReadOnlyList<NodeAction> plan, DateTimeOffset? creatingSince, bool settled,
            Action<string, NodeStatus, NodeRole> markNode, Action<string, ShardStatus> markShard, Action<GroupStatus> markGroup,
            Action<string, string, int> assignPort, Action remove, Action failed)
        {
            if (plan.Count == 0)
                return Progress.Done;
            if (plan.OfType<Fail>().FirstOrDefault() is { } fail)
                return await FailAsync(fail.Reason, failed);
            if (plan.All(a => a is Wait))
            {
                if (creatingSince is { } since && owner.Time.GetUtcNow() - since > owner.Settings.CreateTimeout)
                    return await FailAsync($"Creation did not finish within {owner.Settings.CreateTimeout}: {((Wait)plan[0]).Reason}", failed);
                return settled ? Progress.Settled : Progress.Waiting;
            }

            if (plan.OfType<AllocatePort>().ToList() is { Count: > 0 } allocations)
            {
                await owner.Ports.AllocateAsync(db, allocations.Select(a =>
                {
                    var host = owner.Zones[Place(a.NodeId).Zone].Host;
                    return (a.NodeId, host, (Action<int>)(port => assignPort(a.NodeId, host, port)));
                }).ToList(), ct);
            }
            try
            {
                await Task.WhenAll(plan.Select(EngineStepAsync));
            }
            catch (DockerApiException e) when (e.StatusCode == System.Net.HttpStatusCode.NotFound && creatingSince is not null)
            {
                // No such image: nothing a retry fixes.
                return await FailAsync($"A node could not start: {e.Message.Trim()}", failed);
            }

            foreach (var action in plan)
            {
                switch (action)
                {
                    case MarkNode m:
                        markNode(m.NodeId, m.Status, m.Role);
                        if (m.Status == NodeStatus.Failed)
                            db.Record(owner.Time, sourceType, id, $"Cache node {m.NodeId} failed");
                        break;
                    case MarkShard s:
                        markShard(s.ShardId, s.Status);
                        break;
                    case MarkGroup g:
                        markGroup(g.Status);
                        db.Record(owner.Time, sourceType, id, g.Message);
                        break;
                    case ReleaseAll:
                        await PortAllocator.ReleaseAsync(db, places.Select(p => p.NodeId).ToList(), ct);
                        remove();
                        db.Record(owner.Time, sourceType, id, sourceType == SourceType.ReplicationGroup ? $"Replication group {id} deleted" : $"Cache cluster {id} deleted");
                        break;
                }
            }
            await SaveAsync();
            return plan.Any(a => a is ReleaseAll) ? Progress.Done : Progress.Acted;
        }

        private async Task EngineStepAsync(NodeAction action)
        {
            switch (action)
            {
                case StartContainer s:
                    var place = Place(s.NodeId);
                    await owner.Zones[place.Zone].Runtime.RunAsync(place.Spec!, ct);
                    view.Started(s.NodeId);
                    break;
                case RemoveContainer r:
                    var removed = Place(r.NodeId);
                    await owner.Zones[removed.Zone].Runtime.RemoveAsync(owner.Specs.ContainerName(r.NodeId), ct);
                    view.Removed(r.NodeId);
                    owner.Observer_.Forget(r.NodeId);
                    if (removed.Port is { } port)
                        await owner.Redis.DisconnectAsync(removed.Host!, port);
                    break;
                case ReplicateFrom f:
                    var (replica, primary) = (Place(f.NodeId), Place(f.PrimaryNodeId));
                    await owner.Redis.ReplicaOfAsync(replica.Host!, replica.Port!.Value, primary.Host!, primary.Port!.Value, ct);
                    break;
                case ClusterMeet m:
                    var (seed, peer) = (Place(m.NodeId), Place(m.PeerNodeId));
                    await owner.Redis.ClusterMeetAsync(seed.Host!, seed.Port!.Value, peer.Host!, peer.Port!.Value, ct);
                    break;
                case AssignSlots a:
                    var owner_ = Place(a.NodeId);
                    if (!SlotRanges.TryParse(a.Slots, out var ranges))
                        throw new InvalidOperationException($"Invalid slots {a.Slots}");
                    await owner.Redis.ClusterAddSlotsRangeAsync(owner_.Host!, owner_.Port!.Value, ranges, ct);
                    break;
                case ClusterReplicate c:
                    var node = Place(c.NodeId);
                    await owner.Redis.ClusterReplicateAsync(node.Host!, node.Port!.Value, observed[c.PrimaryNodeId].ClusterId!, ct);
                    break;
            }
        }

        private async Task<Progress> FailAsync(string reason, Action failed)
        {
            // Nothing half-built is left running: the containers go, the ports are released, the record stays to say why.
            await Task.WhenAll(places.Select(p => owner.Zones[p.Zone].Runtime.RemoveAsync(owner.Specs.ContainerName(p.NodeId), ct)));
            await PortAllocator.ReleaseAsync(db, places.Select(p => p.NodeId).ToList(), ct);
            failed();
            db.Record(owner.Time, sourceType, id, $"Creation of {(sourceType == SourceType.ReplicationGroup ? "replication group" : "cache cluster")} {id} failed: {reason}");
            await SaveAsync();
            return Progress.Done;
        }

        private async Task SaveAsync()
        {
            try
            {
                await db.SaveChangesAsync(ct);
            }
            catch (DbUpdateConcurrencyException)
            {
                // The API changed the group meanwhile (a delete, say); observe and plan again from what is stored now.
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not record the failure of {Id}: {Reason}")]
    private static partial void LogRecordFailed(ILogger logger, string id, string reason);
}

/// <summary>A session-level Postgres advisory lock on one group, held on its own connection while the group converges.</summary>
public sealed class GroupLock : IAsyncDisposable
{
    private readonly NpgsqlConnection _connection;
    private readonly string _key;

    private GroupLock(NpgsqlConnection connection, string key) => (_connection, _key) = (connection, key);

    public static async Task<GroupLock?> TryTakeAsync(ControlPlaneDbContext db, string key, CancellationToken ct)
    {
        var connection = new NpgsqlConnection(db.Database.GetConnectionString());
        await connection.OpenAsync(ct);
        await using var command = new NpgsqlCommand("SELECT pg_try_advisory_lock(hashtextextended(@key, 0))", connection);
        command.Parameters.AddWithValue("key", key);
        if ((bool)(await command.ExecuteScalarAsync(ct))!)
            return new GroupLock(connection, key);
        await connection.DisposeAsync();
        return null;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await using var command = new NpgsqlCommand("SELECT pg_advisory_unlock(hashtextextended(@key, 0))", _connection);
            command.Parameters.AddWithValue("key", _key);
            await command.ExecuteScalarAsync();
        }
        finally
        {
            await _connection.DisposeAsync();
        }
    }
}
