using System.Text.Json;
using ControlPlane.Api.Contracts;
using ControlPlane.Api.Data;
using ControlPlane.Api.Http;
using ControlPlane.Api.Options;
using ControlPlane.Api.Parameters;
using ControlPlane.Api.Validation;
using ControlPlane.Domain;
using ControlPlane.Domain.Planning;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace ControlPlane.Api.Endpoints;

public static class CacheClustersApi
{
    public static IEndpointRouteBuilder MapCacheClusters(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/v1/cache-clusters").WithTags("Memcached cache clusters");
        api.MapPost("/", Create).WithName("CreateCacheCluster").WithSummary("Create a Memcached cluster")
            .Produces<CacheClusterResponse>(StatusCodes.Status202Accepted)
            .ProducesProblem(400).ProducesProblem(409).ProducesProblem(422).ProducesProblem(503);
        api.MapGet("/", List).WithName("ListCacheClusters").WithSummary("List Memcached clusters");
        api.MapGet("/{id}", Get).WithName("GetCacheCluster").WithSummary("Describe a Memcached cluster");
        api.MapPatch("/{id}", Patch).WithName("ModifyCacheCluster").WithSummary("Modify a Memcached cluster (JSON merge patch)")
            .Produces<CacheClusterResponse>(StatusCodes.Status202Accepted)
            .Accepts<CacheClusterPatch>("application/merge-patch+json", "application/json")
            .ProducesProblem(400).ProducesProblem(404).ProducesProblem(409).ProducesProblem(412).ProducesProblem(503);
        api.MapDelete("/{id}", Delete).WithName("DeleteCacheCluster").WithSummary("Delete a Memcached cluster")
            .Produces<CacheClusterResponse>(StatusCodes.Status202Accepted)
            .ProducesProblem(400).ProducesProblem(404).ProducesProblem(409).ProducesProblem(412).ProducesProblem(503);
        return app;
    }

    public static CacheClusterSpec ToSpec(this CreateCacheClusterRequest r, Catalog catalog) => new(
        Identifiers.Normalize(r.Id ?? ""), r.Engine ?? "", r.EngineVersion ?? catalog.NewestVersion(Catalog.Memcached),
        r.NodeType ?? "cache.small", r.NumNodes ?? 1, r.AzMode ?? AzMode.SingleAz, r.PreferredAvailabilityZones, r.ExpiresAt, r.PreferredMaintenanceWindow,
        r.TransitEncryption ?? false);

    private static async Task<IResult> Create(
        CreateCacheClusterRequest request, HttpContext http, ControlPlaneDbContext db, Catalog catalog, TimeProvider time,
        IValidator<CacheClusterSpec> validator, Idempotency idempotency, IOptions<ControlPlaneOptions> options, Caller caller,
        ParameterGroups parameterGroups, [FromHeader(Name = Idempotency.Header)] string? idempotencyKey, CancellationToken ct)
    {
        var fingerprint = idempotency.Fingerprint(http.Request, request);
        if (await idempotency.ReplayAsync(idempotencyKey, fingerprint, ct) is { } replay)
            return replay;
        var (tenant, wrongTenant) = caller.ForCreate(request.Tenant);
        if (wrongTenant is not null)
            return wrongTenant;
        var spec = request.ToSpec(catalog);
        if (await validator.ProblemAsync(spec, ct) is { } invalid)
            return invalid;
        var (parameterGroup, badParameterGroup) = await parameterGroups.ResolveAsync(tenant, request.ParameterGroupName, spec.Engine, spec.EngineVersion, false, ct);
        if (badParameterGroup is not null)
            return ParameterGroupsApi.Problem(badParameterGroup);
        var publicId = spec.Id;
        // The stored, tenant-qualified id: node ids are derived from it.
        spec = spec with { Id = TenantNames.Internal(tenant, spec.Id) };
        if (await db.CacheClusters.AnyAsync(c => c.Id == spec.Id, ct))
            return Problems.Conflict(ErrorCodes.CacheClusterAlreadyExists, $"Cache cluster {publicId} already exists.");
        if (await TotalNodeQuota.CheckAsync(db, options.Value, tenant, spec.NumNodes, "numNodes", ct) is { } overQuota)
            return overQuota;

        var now = time.GetUtcNow();
        var cluster = new CacheClusterEntity
        {
            Id = spec.Id, Tenant = tenant, Engine = spec.Engine, EngineVersion = spec.EngineVersion, NodeType = spec.NodeType, NumNodes = spec.NumNodes,
            AzMode = spec.AzMode, PreferredAvailabilityZones = spec.PreferredAvailabilityZones?.ToList(), Status = CacheClusterStatus.Creating,
            ParameterGroupName = parameterGroup, PreferredMaintenanceWindow = spec.PreferredMaintenanceWindow, TransitEncryption = spec.TransitEncryption,
            Generation = 1, CreatedAt = now, UpdatedAt = now, ExpiresAt = spec.ExpiresAt, LastNodeOrdinal = spec.NumNodes,
            Nodes = Topology.ForCacheCluster(spec, catalog.AvailabilityZones).Select(n => new CacheNodeEntity
            {
                Id = n.Id, CacheClusterId = spec.Id, AvailabilityZone = n.AvailabilityZone, Status = NodeStatus.Creating, CreatedAt = now,
            }).ToList(),
        };
        db.CacheClusters.Add(cluster);
        db.Record(time, SourceType.CacheCluster, cluster.Id, $"Cache cluster {cluster.Id} creation requested with {spec.NumNodes} node(s)");
        return await Store.CreateAsync(db, http, idempotency, idempotencyKey, fingerprint, $"/v1/cache-clusters/{publicId}",
            () => cluster.ToResponse(), r => r.Etag, ErrorCodes.CacheClusterAlreadyExists, $"Cache cluster {publicId} already exists.", ct);
    }

    private static async Task<Results<Ok<Page<CacheClusterResponse>>, ProblemHttpResult>> List(
        ControlPlaneDbContext db, Caller caller, int? limit, string? cursor, CancellationToken ct)
    {
        if (!PageRequest.TryParse(limit, cursor, out var page, out var problem))
            return problem!;
        var tenant = caller.Tenant;
        var query = db.CacheClusters.Include(c => c.Nodes).AsNoTracking().Where(c => c.Tenant == tenant);
        if (page.After is { } after)
            query = query.Where(c => string.Compare(c.Id, after) > 0);
        var rows = await query.OrderBy(c => c.Id).Take(page.Limit + 1).ToListAsync(ct);
        var (items, next) = rows.Cut(page, c => c.Id);
        return TypedResults.Ok(new Page<CacheClusterResponse>(items.Select(c => c.ToResponse()).ToList(), next));
    }

    private static async Task<Results<Ok<CacheClusterResponse>, ProblemHttpResult>> Get(
        string id, ControlPlaneDbContext db, Caller caller, HttpResponse response, CancellationToken ct)
    {
        var cluster = await Find(db, caller, id, ct);
        if (cluster is null)
            return NotFound(id);
        var body = cluster.ToResponse();
        ETags.Set(response, body.Etag);
        return TypedResults.Ok(body);
    }

    private static readonly HashSet<string> Patchable =
        ["numNodes", "nodeIdsToRemove", "nodeType", "expiresAt", "parameterGroupName", "preferredMaintenanceWindow", "applyImmediately"];
    private static readonly HashSet<string> Clearable = ["nodeIdsToRemove", "expiresAt", "preferredMaintenanceWindow", "applyImmediately"];
    private static readonly HashSet<string> CreateOnly =
    [
        "id", "engine", "engineVersion", "azMode", "preferredAvailabilityZones", "status", "configurationEndpoint",
        "nodes", "createdAt", "updatedAt", "etag",
    ];

    private static async Task<IResult> Patch(
        string id, HttpContext http, ControlPlaneDbContext db, Catalog catalog, TimeProvider time,
        IValidator<CacheClusterSpec> validator, JsonBodies bodies, IOptions<ControlPlaneOptions> options, Caller caller,
        ParameterGroups parameterGroups, CancellationToken ct)
    {
        var (fields, patch, bad) = await bodies.ReadPatchAsync<CacheClusterPatch>(http.Request, Patchable, CreateOnly, Clearable, ct);
        if (bad is not null)
            return bad;
        var cluster = await Find(db, caller, id, ct);
        if (cluster is null)
            return NotFound(id);
        if (Store.CheckIfMatch(http.Request, cluster.Version) is { } stale)
            return stale;
        if (cluster.Status != CacheClusterStatus.Available)
            return Problems.Conflict(ErrorCodes.InvalidCacheClusterState, $"Cache cluster {TenantNames.Public(cluster.Id)} is {JsonBodies.EnumText(cluster.Status)}, not available.");

        var numNodes = patch!.NumNodes ?? cluster.NumNodes;
        var next = new CacheClusterSpec(TenantNames.Public(cluster.Id), cluster.Engine, cluster.EngineVersion, patch.NodeType ?? cluster.NodeType, numNodes,
            cluster.AzMode, null, fields.Contains("expiresAt") ? patch.ExpiresAt : null,
            fields.Contains("preferredMaintenanceWindow") ? patch.PreferredMaintenanceWindow : cluster.PreferredMaintenanceWindow);
        if (await validator.ProblemAsync(next, ct) is { } invalid)
            return invalid;
        var toRemove = (patch.NodeIdsToRemove ?? []).Select(n => TenantNames.Internal(cluster.Tenant, n)).ToList();
        if (toRemove.Count > 0)
        {
            if (numNodes >= cluster.NumNodes)
                return Problems.Invalid("nodeIdsToRemove", "nodeIdsToRemove needs numNodes lower than the current node count.", ErrorCodes.InvalidParameterCombination);
            if (toRemove.Count != cluster.NumNodes - numNodes)
                return Problems.Invalid("nodeIdsToRemove", $"Removing {cluster.NumNodes - numNodes} node(s) needs exactly that many ids.", ErrorCodes.InvalidParameterCombination);
            if (toRemove.FirstOrDefault(n => cluster.Nodes.All(node => node.Id != n)) is { } unknown)
                return Problems.Invalid("nodeIdsToRemove", $"Cache cluster {TenantNames.Public(cluster.Id)} has no node {TenantNames.Public(unknown)}.");
            if (toRemove.Distinct().Count() != toRemove.Count)
                return Problems.Invalid("nodeIdsToRemove", "nodeIdsToRemove lists a node more than once.");
        }

        var changes = PendingChanges.None;
        if (numNodes != cluster.NumNodes)
            changes = changes with { NumNodes = numNodes };
        // A new node type replaces every node: it waits for the maintenance window unless applied immediately.
        var now = time.GetUtcNow();
        var deferred = next.NodeType != cluster.NodeType && Defer(cluster, next.NodeType, next.PreferredMaintenanceWindow, patch.ApplyImmediately ?? false, now);
        var nodeType = deferred ? cluster.NodeType : next.NodeType;
        if (nodeType != cluster.NodeType)
            changes = changes with { NodeType = nodeType };
        var expiryChanged = fields.Contains("expiresAt") && next.ExpiresAt != cluster.ExpiresAt;
        var windowChanged = next.PreferredMaintenanceWindow != cluster.PreferredMaintenanceWindow;
        var parameterGroup = cluster.ParameterGroupName;
        if (fields.Contains("parameterGroupName"))
        {
            var (resolved, badParameterGroup) = await parameterGroups.ResolveAsync(cluster.Tenant, patch.ParameterGroupName, cluster.Engine, cluster.EngineVersion, false, ct);
            if (badParameterGroup is not null)
                return ParameterGroupsApi.Problem(badParameterGroup);
            parameterGroup = resolved;
        }
        // Memcached's parameters are start-up options: the nodes show pending-reboot until they are rebooted.
        var parameterGroupChanged = parameterGroup != cluster.ParameterGroupName;
        cluster.ParameterGroupName = parameterGroup;
        if (changes.IsEmpty && !expiryChanged && !parameterGroupChanged && !windowChanged && !deferred)
            return Problems.NoOperation("The modification changes nothing.");
        if (await TotalNodeQuota.CheckAsync(db, options.Value, cluster.Tenant, numNodes - cluster.NumNodes, "numNodes", ct) is { } overQuota)
            return overQuota;

        if (!changes.IsEmpty)
            changes = ChangeNodes(cluster, numNodes, toRemove, nodeType, catalog.AvailabilityZones, now, changes);
        cluster.PreferredMaintenanceWindow = next.PreferredMaintenanceWindow;
        if (fields.Contains("expiresAt"))
            cluster.ExpiresAt = next.ExpiresAt;
        if (!changes.IsEmpty)
        {
            cluster.Status = CacheClusterStatus.Modifying;
            cluster.PendingChanges = changes;
        }
        cluster.Generation++;
        cluster.UpdatedAt = time.GetUtcNow();
        db.Record(time, SourceType.CacheCluster, cluster.Id,
            $"Modification requested for cache cluster {cluster.Id}: {string.Join(", ", PendingChangesJson.Fields(changes).Concat(expiryChanged ? ["expiresAt"] : []).Concat(parameterGroupChanged ? ["parameterGroupName"] : []).Concat(windowChanged ? ["preferredMaintenanceWindow"] : []).Concat(deferred ? ["nodeType"] : []))}"
            + (deferred ? $"; nodeType waits for the maintenance window at {cluster.ScheduledAt:yyyy-MM-dd HH:mm} UTC" : ""));
        return await Store.SaveAsync(db, http, cluster.Version, ErrorCodes.InvalidCacheClusterState, () => cluster.ToResponse(), r => r.Etag, ct);
    }

    /// <summary>
    /// Which nodes come and go is decided when the change is asked for (or its window opens) and stored
    /// with it: new rows to start, and rows marked deleting, so the reconciler only carries out the
    /// choice. A new node type replaces every node that stays. The cluster turns modifying; the
    /// changes are returned with the nodes that go.
    /// </summary>
    public static PendingChanges ChangeNodes(CacheClusterEntity cluster, int numNodes, IReadOnlyList<string> toRemove, string nodeType,
        IReadOnlyList<string> zones, DateTimeOffset now, PendingChanges changes)
    {
        var change = MemcachedPlanner.Resize(cluster.Id, cluster.AzMode,
            cluster.Nodes.Select(n => new DesiredNode(n.Id, null, NodeRole.Primary, n.AvailabilityZone, n.Status, n.Port)).ToList(),
            numNodes, toRemove, replaceAll: nodeType != cluster.NodeType, cluster.LastNodeOrdinal, zones);
        foreach (var node in cluster.Nodes.Where(n => change.Remove.Contains(n.Id)))
            node.Status = NodeStatus.Deleting;
        foreach (var node in change.Add)
            cluster.Nodes.Add(new CacheNodeEntity
            {
                Id = node.Id, CacheClusterId = cluster.Id, AvailabilityZone = node.AvailabilityZone, Status = NodeStatus.Creating, CreatedAt = now,
            });
        cluster.LastNodeOrdinal = change.LastOrdinal;
        cluster.NumNodes = numNodes;
        cluster.NodeType = nodeType;
        cluster.Status = CacheClusterStatus.Modifying;
        return change.Remove.Count > 0 ? changes with { NodeIdsToRemove = change.Remove } : changes;
    }

    /// <summary>
    /// True when a node-replacing change waits for the maintenance window (it is stored as scheduled,
    /// with when the window opens); false when it runs now (no window, inside it, or applyImmediately),
    /// which also drops what was scheduled for the same field.
    /// </summary>
    private static bool Defer(CacheClusterEntity cluster, string nodeType, string? windowText, bool applyImmediately, DateTimeOffset now)
    {
        var scheduled = cluster.ScheduledChanges ?? PendingChanges.None;
        MaintenanceWindow? window = null;
        if (windowText is not null)
            MaintenanceWindow.TryParse(windowText, out window);
        var at = MaintenancePlanner.WhenToApply(window, now, applyImmediately);
        if (at <= now)
        {
            scheduled = scheduled with { NodeType = null };
            (cluster.ScheduledChanges, cluster.ScheduledAt) = !scheduled.IsEmpty ? (scheduled, cluster.ScheduledAt) : (null, null);
            return false;
        }
        (cluster.ScheduledChanges, cluster.ScheduledAt) = (scheduled with { NodeType = nodeType }, at);
        return true;
    }

    private static async Task<IResult> Delete(
        string id, string? finalSnapshotName, HttpContext http, ControlPlaneDbContext db, TimeProvider time, Caller caller, CancellationToken ct)
    {
        var cluster = await Find(db, caller, id, ct);
        if (cluster is null)
            return NotFound(id);
        if (finalSnapshotName is not null)
            return Problems.Create(StatusCodes.Status400BadRequest, ErrorCodes.SnapshotFeatureNotSupported, "Memcached clusters have no snapshots.");
        if (Store.CheckIfMatch(http.Request, cluster.Version) is { } stale)
            return stale;
        if (cluster.Status is not (CacheClusterStatus.Available or CacheClusterStatus.Creating or CacheClusterStatus.CreateFailed or CacheClusterStatus.IncompatibleNetwork))
            return Problems.Conflict(ErrorCodes.InvalidCacheClusterState, $"Cache cluster {TenantNames.Public(cluster.Id)} is {JsonBodies.EnumText(cluster.Status)} and cannot be deleted now.");
        cluster.Status = CacheClusterStatus.Deleting;
        cluster.Generation++;
        cluster.UpdatedAt = time.GetUtcNow();
        db.Record(time, SourceType.CacheCluster, cluster.Id, $"Cache cluster {cluster.Id} deletion requested");
        return await Store.SaveAsync(db, http, cluster.Version, ErrorCodes.InvalidCacheClusterState, () => cluster.ToResponse(), r => r.Etag, ct);
    }

    private static Task<CacheClusterEntity?> Find(ControlPlaneDbContext db, Caller caller, string id, CancellationToken ct)
    {
        var stored = caller.Internal(Identifiers.Normalize(id));
        return db.CacheClusters.Include(c => c.Nodes).FirstOrDefaultAsync(c => c.Id == stored, ct);
    }

    private static ProblemHttpResult NotFound(string id) =>
        Problems.NotFound(ErrorCodes.CacheClusterNotFound, $"Cache cluster {Identifiers.Normalize(id)} does not exist.");
}
