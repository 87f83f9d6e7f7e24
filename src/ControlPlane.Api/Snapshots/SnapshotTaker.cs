using ControlPlane.Api.Data;
using ControlPlane.Api.Engines;
using ControlPlane.Api.Runtime;
using ControlPlane.Domain;
using ControlPlane.Domain.Planning;

namespace ControlPlane.Api.Snapshots;

/// <summary>
/// Takes a snapshot of a group that is healthy: each shard saved (BGSAVE) on its most advanced
/// linked replica, or on the primary when it has none, the .rdb copied out of the container through
/// the Docker API into the store, its size and SHA-256 recorded. All shards or nothing: a shard that
/// fails fails the snapshot, and the files already written are removed.
/// </summary>
public sealed partial class SnapshotTaker(ZoneRegistry zones, IRedisAdmin redis, ISnapshotStore store, TimeProvider time, ILogger<SnapshotTaker> logger)
{
    private static readonly TimeSpan SaveTimeout = TimeSpan.FromMinutes(10);

    /// <summary>Takes the snapshot into its record's files; true when it is available, false when it failed (with an event).</summary>
    public async Task<bool> TakeAsync(
        ControlPlaneDbContext db, ReplicationGroupEntity group, SnapshotEntity snapshot,
        IReadOnlyList<NodePlace> places, IReadOnlyDictionary<string, ObservedNode> observed, CancellationToken ct)
    {
        var shards = group.Shards.OrderBy(s => s.Id, StringComparer.Ordinal).ToList();
        var written = new List<string>();
        try
        {
            var files = await Task.WhenAll(shards.Select(async shard =>
            {
                var source = Source(shard, observed) ?? throw new InvalidOperationException($"Node group {shard.Id} has no node that answers.");
                var place = places.First(p => p.NodeId == source.Id);
                await redis.SaveAsync(place.Host!, place.Port!.Value, SaveTimeout, ct);
                var key = SnapshotKeys.File(snapshot.Name, shard.Id);
                await using var content = await zones[place.Zone].Runtime.ReadFileAsync(place.ContainerName, IRedisAdmin.DumpPath, ct);
                var stored = await store.PutAsync(key, content, ct);
                lock (written)
                    written.Add(key);
                return new SnapshotFileEntity { SnapshotName = snapshot.Name, ShardId = shard.Id, Slots = shard.Slots, SizeBytes = stored.SizeBytes, Sha256 = stored.Sha256 };
            }));
            snapshot.Files.AddRange(files);
            snapshot.Status = SnapshotStatus.Available;
            db.Record(time, SourceType.Snapshot, snapshot.Name,
                $"Snapshot succeeded for snapshot with ID '{snapshot.Name}' of replication group with ID '{group.Id}' ({files.Length} file(s), {files.Sum(f => f.SizeBytes)} bytes)");
            return true;
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            LogFailed(logger, snapshot.Name, group.Id, e);
            foreach (var key in written)
                await store.DeleteAsync(key, CancellationToken.None);
            snapshot.Status = SnapshotStatus.Failed;
            db.Record(time, SourceType.Snapshot, snapshot.Name,
                $"Snapshot failed for snapshot with ID '{snapshot.Name}' of replication group with ID '{group.Id}'");
            return false;
        }
    }

    /// <summary>
    /// The shard's most advanced replica that has every write its primary had when observed (linked,
    /// listed online by that primary, its offset at the primary's), else the primary; only nodes that
    /// answer. A replica behind its primary would leave acknowledged writes out of the snapshot.
    /// </summary>
    private static RedisNodeEntity? Source(ShardEntity shard, IReadOnlyDictionary<string, ObservedNode> observed)
    {
        bool Answers(RedisNodeEntity n) => n.Status == NodeStatus.Available && observed.GetValueOrDefault(n.Id) is { Reachable: true, Stale: false };
        var primary = shard.Nodes.FirstOrDefault(n => n.Role == NodeRole.Primary && Answers(n));
        var upTo = primary is null ? long.MaxValue : observed[primary.Id].Offset;
        return shard.Nodes.Where(n => n.Role == NodeRole.Replica && Answers(n)
                    && observed[n.Id] is { LinkUp: true, Lagging: false } replica && replica.PrimaryNodeId == primary?.Id && replica.Offset >= upTo)
                .OrderByDescending(n => observed[n.Id].Offset).ThenBy(n => n.Id, StringComparer.Ordinal).FirstOrDefault()
            ?? primary;
    }

    /// <summary>
    /// Before a create from a snapshot starts anything: every file is there and its SHA-256 is the
    /// recorded one. Null when all is well, else why not.
    /// </summary>
    public async Task<string?> VerifyAsync(SnapshotEntity? snapshot, string snapshotName, CancellationToken ct)
    {
        if (snapshot is null || snapshot.Status != SnapshotStatus.Available)
            return $"snapshot {snapshotName} is not available";
        if (snapshot.Files.Count == 0)
            return $"snapshot {snapshotName} has no files";
        foreach (var file in snapshot.Files)
        {
            var key = SnapshotKeys.File(snapshot.Name, file.ShardId);
            if (!await store.ExistsAsync(key, ct))
                return $"the file of node group {file.ShardId} of snapshot {snapshot.Name} is missing";
            if (await store.HashAsync(key, ct) is var hash && hash != file.Sha256)
                return $"the file of node group {file.ShardId} of snapshot {snapshot.Name} does not match its checksum (SHA-256 {hash}, recorded {file.Sha256}); it is damaged";
        }
        return null;
    }

    /// <summary>The file a new primary starts with: the snapshot's file of the shard with the same slots (the only one, for cluster mode disabled).</summary>
    public SeedFile? Seed(SnapshotEntity snapshot, ShardEntity shard)
    {
        var file = snapshot.Files.Count == 1 ? snapshot.Files[0] : snapshot.Files.FirstOrDefault(f => f.Slots == shard.Slots);
        return file is null ? null : new SeedFile(IRedisAdmin.DumpPath, c => store.OpenAsync(SnapshotKeys.File(snapshot.Name, file.ShardId), c));
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Snapshot {Snapshot} of {Group} failed")]
    private static partial void LogFailed(ILogger logger, string snapshot, string group, Exception e);
}
