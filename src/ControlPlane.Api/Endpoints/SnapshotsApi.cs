using ControlPlane.Api.Contracts;
using ControlPlane.Api.Data;
using ControlPlane.Api.Http;
using ControlPlane.Domain;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;

namespace ControlPlane.Api.Endpoints;

public static class SnapshotsApi
{
    public static IEndpointRouteBuilder MapSnapshots(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/v1/snapshots").WithTags("Snapshots");
        api.MapPost("/", Create).WithName("CreateSnapshot").WithSummary("Snapshot a replication group")
            .Produces<SnapshotResponse>(StatusCodes.Status202Accepted)
            .ProducesProblem(400).ProducesProblem(404).ProducesProblem(409).ProducesProblem(422).ProducesProblem(429).ProducesProblem(503);
        api.MapGet("/", List).WithName("ListSnapshots").WithSummary("List snapshots, optionally of one replication group");
        api.MapGet("/{name}", Get).WithName("GetSnapshot").WithSummary("Describe a snapshot");
        api.MapDelete("/{name}", Delete).WithName("DeleteSnapshot").WithSummary("Delete a snapshot and its files")
            .Produces<SnapshotResponse>(StatusCodes.Status202Accepted)
            .ProducesProblem(404).ProducesProblem(409).ProducesProblem(412).ProducesProblem(503);
        api.MapPost("/{name}/copy", Copy).WithName("CopySnapshot").WithSummary("Copy a snapshot under a new name")
            .Produces<SnapshotResponse>(StatusCodes.Status202Accepted)
            .ProducesProblem(400).ProducesProblem(404).ProducesProblem(409).ProducesProblem(503);
        return app;
    }

    private static async Task<IResult> Create(
        CreateSnapshotRequest request, HttpContext http, ControlPlaneDbContext db, TimeProvider time, Idempotency idempotency, Caller caller,
        [FromHeader(Name = Idempotency.Header)] string? idempotencyKey, CancellationToken ct)
    {
        var fingerprint = idempotency.Fingerprint(http.Request, request);
        if (await idempotency.ReplayAsync(idempotencyKey, fingerprint, ct) is { } replay)
            return replay;
        var name = Identifiers.Normalize(request.Name ?? "");
        if (Identifiers.Check(name, Limits.MaxSnapshotNameLength) is { } nameError)
            return Problems.Invalid("name", $"The snapshot name {nameError}");
        var publicName = name;
        name = caller.Internal(name);
        var groupId = Identifiers.Normalize(request.ReplicationGroupId ?? "");
        var storedGroupId = caller.Internal(groupId);
        var group = await db.ReplicationGroups.FirstOrDefaultAsync(g => g.Id == storedGroupId, ct);
        if (group is null)
            return await db.CacheClusters.AnyAsync(c => c.Id == storedGroupId, ct)
                ? Problems.Create(StatusCodes.Status400BadRequest, ErrorCodes.SnapshotFeatureNotSupported, $"{groupId} is a Memcached cluster; Memcached has no snapshots.")
                : Problems.NotFound(ErrorCodes.ReplicationGroupNotFound, $"Replication group {groupId} does not exist.");
        if (await db.Snapshots.AnyAsync(s => s.Name == name, ct))
            return Problems.Conflict(ErrorCodes.SnapshotAlreadyExists, $"Snapshot {publicName} already exists.");
        if (group.Status != GroupStatus.Available)
            return Problems.Conflict(ErrorCodes.InvalidReplicationGroupState, $"Replication group {groupId} is {JsonBodies.EnumText(group.Status)}, not available.");

        var now = time.GetUtcNow();
        // The ledger outlives deleted snapshots, so deleting and retaking does not get round the quota.
        var used = await db.SnapshotRequests.CountAsync(r => r.ReplicationGroupId == group.Id && r.RequestedAt > now.AddDays(-1), ct);
        if (used >= Limits.ManualSnapshotsPerDay)
            return Problems.Create(StatusCodes.Status429TooManyRequests, ErrorCodes.SnapshotQuotaExceeded,
                $"Replication group {groupId} has had its {Limits.ManualSnapshotsPerDay} manual snapshots of the last 24 hours.");

        var snapshot = SnapshotEntity.Taking(group, name, SnapshotSource.Manual, now);
        db.Snapshots.Add(snapshot);
        db.SnapshotRequests.Add(new SnapshotRequestEntity { ReplicationGroupId = group.Id, SnapshotName = name, RequestedAt = now });
        // Saved with the record, under the group's xmin: the reconciler sees both or neither.
        group.Status = GroupStatus.Snapshotting;
        // A snapshot asked of the group is desired state like any other write: a new generation, observed once it is taken.
        group.Generation++;
        group.UpdatedAt = now;
        db.Record(time, SourceType.Snapshot, name, $"Snapshot {name} of replication group {group.Id} requested");
        return await Store.CreateAsync(db, http, idempotency, idempotencyKey, fingerprint, $"/v1/snapshots/{publicName}",
            () => snapshot.ToResponse(), r => r.Etag, ErrorCodes.SnapshotAlreadyExists, $"Snapshot {publicName} already exists.", ct);
    }

    private static async Task<IResult> Copy(
        string name, CopySnapshotRequest request, HttpContext http, ControlPlaneDbContext db, TimeProvider time, Idempotency idempotency, Caller caller,
        [FromHeader(Name = Idempotency.Header)] string? idempotencyKey, CancellationToken ct)
    {
        var fingerprint = idempotency.Fingerprint(http.Request, request);
        if (await idempotency.ReplayAsync(idempotencyKey, fingerprint, ct) is { } replay)
            return replay;
        var target = Identifiers.Normalize(request.TargetName ?? "");
        if (Identifiers.Check(target, Limits.MaxSnapshotNameLength) is { } nameError)
            return Problems.Invalid("targetName", $"The snapshot name {nameError}");
        var publicTarget = target;
        var source = await Find(db, caller, name, ct);
        if (source is null)
            return NotFound(name);
        if (source.Status != SnapshotStatus.Available)
            return Problems.Conflict(ErrorCodes.InvalidSnapshotState, $"Snapshot {TenantNames.Public(source.Name)} is {JsonBodies.EnumText(source.Status)}, not available.");
        target = TenantNames.Internal(source.Tenant, target);
        if (await db.Snapshots.AnyAsync(s => s.Name == target, ct))
            return Problems.Conflict(ErrorCodes.SnapshotAlreadyExists, $"Snapshot {publicTarget} already exists.");

        // The housekeeping copies the files and makes the copy available.
        var copy = new SnapshotEntity
        {
            Name = target, Tenant = source.Tenant, ReplicationGroupId = source.ReplicationGroupId, Status = SnapshotStatus.Copying, Source = SnapshotSource.Manual,
            ClusterMode = source.ClusterMode, Engine = source.Engine, EngineVersion = source.EngineVersion, NodeType = source.NodeType, NumShards = source.NumShards,
            CreatedAt = time.GetUtcNow(), CopiedFrom = source.Name,
        };
        db.Snapshots.Add(copy);
        db.Record(time, SourceType.Snapshot, target, $"Copy of snapshot {source.Name} to {target} requested");
        return await Store.CreateAsync(db, http, idempotency, idempotencyKey, fingerprint, $"/v1/snapshots/{publicTarget}",
            () => copy.ToResponse(), r => r.Etag, ErrorCodes.SnapshotAlreadyExists, $"Snapshot {publicTarget} already exists.", ct);
    }

    private static async Task<Results<Ok<Page<SnapshotResponse>>, ProblemHttpResult>> List(
        ControlPlaneDbContext db, Caller caller, string? replicationGroupId, int? limit, string? cursor, CancellationToken ct)
    {
        if (!PageRequest.TryParse(limit, cursor, out var page, out var problem))
            return problem!;
        var tenant = caller.Tenant;
        var query = db.Snapshots.Include(s => s.Files).AsNoTracking().Where(s => s.Tenant == tenant);
        if (replicationGroupId is not null)
        {
            var groupId = caller.Internal(Identifiers.Normalize(replicationGroupId));
            query = query.Where(s => s.ReplicationGroupId == groupId);
        }
        if (page.After is { } after)
            query = query.Where(s => string.Compare(s.Name, after) > 0);
        var rows = await query.OrderBy(s => s.Name).Take(page.Limit + 1).ToListAsync(ct);
        var (items, next) = rows.Cut(page, s => s.Name);
        return TypedResults.Ok(new Page<SnapshotResponse>(items.Select(s => s.ToResponse()).ToList(), next));
    }

    private static async Task<Results<Ok<SnapshotResponse>, ProblemHttpResult>> Get(
        string name, ControlPlaneDbContext db, Caller caller, HttpResponse response, CancellationToken ct)
    {
        var snapshot = await Find(db, caller, name, ct);
        if (snapshot is null)
            return NotFound(name);
        var body = snapshot.ToResponse();
        ETags.Set(response, body.Etag);
        return TypedResults.Ok(body);
    }

    private static async Task<IResult> Delete(string name, HttpContext http, ControlPlaneDbContext db, TimeProvider time, Caller caller, CancellationToken ct)
    {
        var snapshot = await Find(db, caller, name, ct);
        if (snapshot is null)
            return NotFound(name);
        if (Store.CheckIfMatch(http.Request, snapshot.Version) is { } stale)
            return stale;
        if (snapshot.Status is not (SnapshotStatus.Available or SnapshotStatus.Failed))
            return Problems.Conflict(ErrorCodes.InvalidSnapshotState, $"Snapshot {TenantNames.Public(snapshot.Name)} is {JsonBodies.EnumText(snapshot.Status)} and cannot be deleted now.");
        snapshot.Status = SnapshotStatus.Deleting;
        db.Record(time, SourceType.Snapshot, snapshot.Name, $"Snapshot {snapshot.Name} deletion requested");
        return await Store.SaveAsync(db, http, snapshot.Version, ErrorCodes.InvalidSnapshotState, () => snapshot.ToResponse(), r => r.Etag, ct);
    }

    private static Task<SnapshotEntity?> Find(ControlPlaneDbContext db, Caller caller, string name, CancellationToken ct)
    {
        var stored = caller.Internal(Identifiers.Normalize(name));
        return db.Snapshots.Include(s => s.Files).FirstOrDefaultAsync(s => s.Name == stored, ct);
    }

    private static ProblemHttpResult NotFound(string name) =>
        Problems.NotFound(ErrorCodes.SnapshotNotFound, $"Snapshot {Identifiers.Normalize(name)} does not exist.");
}
