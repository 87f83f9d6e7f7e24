using System.Text.Json;
using System.Text.Json.Nodes;
using ControlPlane.Api.Contracts;
using ControlPlane.Api.Data;
using ControlPlane.Api.Reconciliation;
using ControlPlane.Api.Http;
using ControlPlane.Api.Options;
using ControlPlane.Api.Parameters;
using ControlPlane.Api.Validation;
using ControlPlane.Domain;
using ControlPlane.Domain.Parameters;
using ControlPlane.Domain.Planning;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace ControlPlane.Api.Endpoints;

public static class ReplicationGroupsApi
{
    public static IEndpointRouteBuilder MapReplicationGroups(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/v1/replication-groups").WithTags("Replication groups");
        api.MapPost("/", Create).WithName("CreateReplicationGroup").WithSummary("Create a Redis replication group")
            .Produces<ReplicationGroupResponse>(StatusCodes.Status202Accepted)
            .ProducesProblem(400).ProducesProblem(404).ProducesProblem(409).ProducesProblem(422).ProducesProblem(503);
        api.MapGet("/", List).WithName("ListReplicationGroups").WithSummary("List replication groups");
        api.MapGet("/{id}", Get).WithName("GetReplicationGroup").WithSummary("Describe a replication group");
        api.MapPatch("/{id}", Patch).WithName("ModifyReplicationGroup").WithSummary("Modify a replication group (JSON merge patch)")
            .Produces<ReplicationGroupResponse>(StatusCodes.Status202Accepted)
            .Accepts<ReplicationGroupPatch>("application/merge-patch+json", "application/json")
            .ProducesProblem(400).ProducesProblem(404).ProducesProblem(409).ProducesProblem(412).ProducesProblem(503);
        api.MapDelete("/{id}", Delete).WithName("DeleteReplicationGroup").WithSummary("Delete a replication group, optionally after a final snapshot")
            .Produces<ReplicationGroupResponse>(StatusCodes.Status202Accepted)
            .ProducesProblem(400).ProducesProblem(404).ProducesProblem(409).ProducesProblem(412).ProducesProblem(503);
        api.MapPost("/{id}/test-failover", TestFailover).WithName("TestFailover").WithSummary("Fail over a shard's primary to its best replica")
            .Produces<ReplicationGroupResponse>(StatusCodes.Status202Accepted)
            .ProducesProblem(400).ProducesProblem(404).ProducesProblem(409).ProducesProblem(429).ProducesProblem(503);
        return app;
    }

    /// <summary>Applies the contract's defaults; the id is lowercased as the contract stores it.</summary>
    public static ReplicationGroupSpec ToSpec(this CreateReplicationGroupRequest r, Catalog catalog)
    {
        var replicas = r.ReplicasPerShard ?? 1;
        var mode = r.ClusterMode ?? ClusterMode.Disabled;
        // Cluster mode enabled always has automatic failover, as on ElastiCache, even without a replica to fail over to.
        var failover = r.AutomaticFailover ?? (mode == ClusterMode.Enabled || replicas >= 1);
        var engine = r.Engine ?? Catalog.Redis;
        return new ReplicationGroupSpec(
            Identifiers.Normalize(r.Id ?? ""), r.Description ?? "", r.EngineVersion ?? catalog.NewestVersion(engine),
            r.NodeType ?? "cache.small", mode, r.NumShards ?? 1, replicas,
            failover, r.MultiAz ?? (failover && replicas >= 1), r.TransitEncryption ?? false, r.AuthToken,
            r.SnapshotRetentionLimit ?? 0, r.SnapshotWindow, r.RestoreFromSnapshot is { } s ? Identifiers.Normalize(s) : null,
            r.Shards?.Select(s => new ShardSpec(s.Slots, s.PrimaryAz, s.ReplicaAzs)).ToList(), r.ExpiresAt, engine, r.PreferredMaintenanceWindow,
            r.TransitEncryptionMode);
    }

    private static async Task<IResult> Create(
        CreateReplicationGroupRequest request, HttpContext http, ControlPlaneDbContext db, Catalog catalog, TimeProvider time,
        IValidator<ReplicationGroupSpec> validator, Idempotency idempotency, IOptions<ControlPlaneOptions> options, Caller caller,
        ParameterGroups parameterGroups, Security.ClientSecrets secrets, [FromHeader(Name = Idempotency.Header)] string? idempotencyKey, CancellationToken ct)
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
        var (parameterGroup, badParameterGroup) = await parameterGroups.ResolveAsync(
            tenant, request.ParameterGroupName, spec.Engine, spec.EngineVersion, spec.ClusterMode == ClusterMode.Enabled, ct);
        if (badParameterGroup is not null)
            return ParameterGroupsApi.Problem(badParameterGroup);
        var (userGroup, badUserGroup) = await ReplicationGroupAccess.CheckCreateAsync(db, tenant, spec.AuthToken, request.UserGroupIds, ct);
        if (badUserGroup is not null)
            return badUserGroup;
        var publicId = spec.Id;
        // From here on the ids are the stored, tenant-qualified ones: node ids are derived from them.
        spec = spec with
        {
            Id = TenantNames.Internal(tenant, spec.Id),
            RestoreFromSnapshot = spec.RestoreFromSnapshot is { } restore ? TenantNames.Internal(tenant, restore) : null,
        };
        // A snapshot with another shard count is restored into its own shape first; the group then
        // reshards online to the count asked for, as a PATCH of numShards would.
        var numShards = spec.NumShards;
        if (spec.RestoreFromSnapshot is { } snapshotName)
        {
            var (badSource, layout) = await CheckRestoreSource(db, spec, snapshotName, catalog, ct);
            if (badSource is not null)
                return badSource;
            spec = spec with { Shards = spec.Shards ?? layout, NumShards = spec.Shards?.Count ?? layout?.Count ?? spec.NumShards };
        }
        if (await db.ReplicationGroups.AnyAsync(g => g.Id == spec.Id, ct))
            return Problems.Conflict(ErrorCodes.ReplicationGroupAlreadyExists, $"Replication group {publicId} already exists.");
        var nodes = Math.Max(numShards, spec.NumShards) * (spec.ReplicasPerShard + 1);
        if (await TotalNodeQuota.CheckAsync(db, options.Value, tenant, nodes, "numShards", ct) is { } overQuota)
            return overQuota;

        var now = time.GetUtcNow();
        var group = NewGroup(spec, catalog, now);
        group.Tenant = tenant;
        group.ParameterGroupName = parameterGroup;
        ReplicationGroupAccess.SetOnCreate(group, spec.AuthToken, userGroup, secrets, now);
        if (numShards != spec.NumShards)
        {
            group.NumShards = numShards;
            group.PendingChanges = new PendingChanges { NumShards = numShards };
        }
        db.ReplicationGroups.Add(group);
        db.Record(time, SourceType.ReplicationGroup, group.Id,
            $"Replication group {group.Id} creation requested: {spec.NumShards} shard(s) of {spec.ReplicasPerShard + 1} node(s), cluster mode {Json(spec.ClusterMode)}");
        var location = $"/v1/replication-groups/{publicId}";
        return await Store.CreateAsync(db, http, idempotency, idempotencyKey, fingerprint, location, () => group.ToResponse(), r => r.Etag,
            ErrorCodes.ReplicationGroupAlreadyExists, $"Replication group {publicId} already exists.", ct);
    }

    private static ReplicationGroupEntity NewGroup(ReplicationGroupSpec spec, Catalog catalog, DateTimeOffset now)
    {
        var group = new ReplicationGroupEntity
        {
            Id = spec.Id, Description = spec.Description, Engine = spec.Engine, EngineVersion = spec.EngineVersion, NodeType = spec.NodeType,
            ClusterMode = spec.ClusterMode, NumShards = spec.NumShards, ReplicasPerShard = spec.ReplicasPerShard,
            AutomaticFailover = spec.AutomaticFailover, MultiAz = spec.MultiAz, TransitEncryption = spec.TransitEncryption,
            TransitEncryptionMode = TransitEncryptionModes.Effective(spec.TransitEncryption, spec.TransitEncryptionMode),
            SnapshotRetentionLimit = spec.SnapshotRetentionLimit, SnapshotWindow = spec.SnapshotWindow,
            PreferredMaintenanceWindow = spec.PreferredMaintenanceWindow, RestoreFromSnapshot = spec.RestoreFromSnapshot, Status = GroupStatus.Creating, Generation = 1,
            CreatedAt = now, UpdatedAt = now, ExpiresAt = spec.ExpiresAt, LastNodeOrdinal = spec.ReplicasPerShard + 1,
        };
        foreach (var planned in Topology.ForReplicationGroup(spec, catalog.AvailabilityZones))
            group.Shards.Add(new ShardEntity
            {
                ReplicationGroupId = spec.Id, Id = planned.Id, Slots = planned.Slots, Status = ShardStatus.Creating,
                Nodes = planned.Nodes.Select(n => new RedisNodeEntity
                {
                    Id = n.Id, ReplicationGroupId = spec.Id, ShardId = planned.Id, Role = n.Role,
                    AvailabilityZone = n.AvailabilityZone, Status = NodeStatus.Creating, NodeType = spec.NodeType, CreatedAt = now,
                    Engine = spec.Engine, EngineVersion = spec.EngineVersion, ParameterGroupStatus = ParameterStatus.Applying,
                    TransitEncryptionMode = TransitEncryptionModes.Effective(spec.TransitEncryption, spec.TransitEncryptionMode),
                }).ToList(),
            });
        return group;
    }

    /// <summary>
    /// A snapshot restores into cluster mode disabled from disabled, and into cluster mode enabled from
    /// either. The new group starts with the snapshot's shards and slots (the layout returned), each
    /// primary with its shard's file; when another shard count is asked for, the keys are then moved
    /// online. Refused when the shards are laid out by hand with other slots or another count, or when
    /// the files alone would fill more than three quarters of the shards asked for.
    /// </summary>
    private static async Task<(IResult? Problem, IReadOnlyList<ShardSpec>? Layout)> CheckRestoreSource(
        ControlPlaneDbContext db, ReplicationGroupSpec spec, string name, Catalog catalog, CancellationToken ct)
    {
        var snapshot = await db.Snapshots.AsNoTracking().Include(s => s.Files).FirstOrDefaultAsync(s => s.Name == name, ct);
        if (snapshot is null)
            return (Problems.NotFound(ErrorCodes.SnapshotNotFound, $"Snapshot {TenantNames.Public(name)} does not exist."), null);
        if (snapshot.Status != SnapshotStatus.Available)
            return (Problems.Conflict(ErrorCodes.InvalidSnapshotState, $"Snapshot {TenantNames.Public(name)} is {Json(snapshot.Status)}, not available."), null);
        if (snapshot.Engine == Catalog.Valkey && spec.Engine != Catalog.Valkey)
            return (Problems.Invalid("restoreFromSnapshot", $"Snapshot {TenantNames.Public(name)} was written by valkey, which redis cannot load.",
                ErrorCodes.InvalidParameterCombination), null);
        if (snapshot.ClusterMode == ClusterMode.Enabled && spec.ClusterMode == ClusterMode.Disabled)
            return (Problems.Invalid("restoreFromSnapshot", "A snapshot of a cluster-mode-enabled group cannot seed a cluster-mode-disabled group.",
                ErrorCodes.InvalidParameterCombination), null);
        if (spec.ClusterMode == ClusterMode.Disabled)
            return (null, null);
        var shards = snapshot.ClusterMode == ClusterMode.Disabled ? 1 : snapshot.NumShards;
        // A snapshot without its files (they are checked again, with their checksums, before the create starts anything) lays out nothing.
        if (snapshot.ClusterMode == ClusterMode.Enabled && snapshot.Files.Count != shards)
            return (null, null);
        var slots = snapshot.ClusterMode == ClusterMode.Disabled
            ? ["0-16383"]
            : snapshot.Files.OrderBy(f => f.ShardId, StringComparer.Ordinal).Select(f => f.Slots).ToList();
        if (spec.Shards is { } given && !given.Select(g => NormalSlots(g.Slots)).Order().SequenceEqual(slots.Select(NormalSlots).Order()))
            return (Problems.Invalid("shards", $"Snapshot {TenantNames.Public(name)} holds the slots {string.Join(" | ", slots)}; shards laid out by hand must keep them.",
                ErrorCodes.InvalidParameterCombination), null);
        var type = catalog.NodeTypes.First(t => t.Name == spec.NodeType);
        var usable = (long)(spec.NumShards * type.MaxMemoryBytes * ScaleInFillLimit);
        if (snapshot.Files.Sum(f => f.SizeBytes) > usable)
            return (Problems.Invalid("numShards", $"Snapshot {TenantNames.Public(name)} holds {Mib(snapshot.Files.Sum(f => f.SizeBytes))} MiB of files, more than "
                + $"{spec.NumShards} shard(s) of {type.Name} may be filled with ({Mib(usable)} MiB)."), null);
        return (null, slots.Select(s => new ShardSpec(s, null, null)).ToList());
    }

    private static string NormalSlots(string slots) => SlotRanges.TryParse(slots, out var ranges) ? SlotRanges.Format(SlotRanges.Expand(ranges)) : slots;

    private static async Task<Results<Ok<Page<ReplicationGroupResponse>>, ProblemHttpResult>> List(
        ControlPlaneDbContext db, Caller caller, int? limit, string? cursor, CancellationToken ct)
    {
        if (!PageRequest.TryParse(limit, cursor, out var page, out var problem))
            return problem!;
        var tenant = caller.Tenant;
        var query = Load(db).AsNoTracking().Where(g => g.Tenant == tenant);
        if (page.After is { } after)
            query = query.Where(g => string.Compare(g.Id, after) > 0);
        var rows = await query.OrderBy(g => g.Id).Take(page.Limit + 1).ToListAsync(ct);
        var (items, next) = rows.Cut(page, g => g.Id);
        return TypedResults.Ok(new Page<ReplicationGroupResponse>(items.Select(g => g.ToResponse()).ToList(), next));
    }

    private static async Task<Results<Ok<ReplicationGroupResponse>, ProblemHttpResult>> Get(
        string id, ControlPlaneDbContext db, Caller caller, HttpResponse response, CancellationToken ct)
    {
        var group = await Find(db, caller, id, ct);
        if (group is null)
            return NotFound(id);
        var body = group.ToResponse();
        ETags.Set(response, body.Etag);
        return TypedResults.Ok(body);
    }

    private static readonly HashSet<string> Patchable =
    [
        "description", "nodeType", "replicasPerShard", "numShards", "automaticFailover", "multiAz", "authToken",
        "authTokenUpdateStrategy", "snapshotRetentionLimit", "snapshotWindow", "expiresAt", "parameterGroupName",
        "engine", "engineVersion", "preferredMaintenanceWindow", "applyImmediately", "userGroupIdsToAdd", "userGroupIdsToRemove",
        "transitEncryption", "transitEncryptionMode",
    ];

    private static readonly HashSet<string> Clearable = ["description", "snapshotWindow", "expiresAt", "preferredMaintenanceWindow", "applyImmediately"];

    private static readonly HashSet<string> CreateOnly =
    [
        "id", "clusterMode", "restoreFromSnapshot", "shards",
        "status", "primaryEndpoint", "readerEndpoint", "configurationEndpoint", "createdAt", "updatedAt", "etag",
        "authTokenEnabled", "pendingChanges", "userGroupIds", "authTokenLastModifiedAt",
    ];

    private static async Task<IResult> Patch(
        string id, HttpContext http, ControlPlaneDbContext db, Catalog catalog, TimeProvider time,
        IValidator<ReplicationGroupSpec> validator, JsonBodies bodies, GroupMemory memory, IOptions<ControlPlaneOptions> options, Caller caller,
        ParameterGroups parameterGroups, Security.ClientSecrets secrets, CancellationToken ct)
    {
        var (fields, patch, bad) = await bodies.ReadPatchAsync<ReplicationGroupPatch>(http.Request, Patchable, CreateOnly, Clearable, ct);
        if (bad is not null)
            return bad;
        var group = await Find(db, caller, id, ct);
        if (group is null)
            return NotFound(id);
        if (Store.CheckIfMatch(http.Request, group.Version) is { } stale)
            return stale;
        if (group.Status != GroupStatus.Available)
            return Problems.Conflict(ErrorCodes.InvalidReplicationGroupState, $"Replication group {TenantNames.Public(group.Id)} is {Json(group.Status)}, not available.");

        var transitMode = group.TransitEncryptionMode;
        if (fields.Contains("transitEncryption") || fields.Contains("transitEncryptionMode"))
        {
            var (mode, refusedStep) = TransitEncryptionModes.Step(group.TransitEncryptionMode, patch!.TransitEncryption, patch.TransitEncryptionMode);
            if (refusedStep is not null)
                return Problems.Validation([refusedStep]);
            // One step at a time: the next waits until every node has taken the last.
            if (mode != group.TransitEncryptionMode && group.Shards.SelectMany(s => s.Nodes).Any(n => n.TransitEncryptionMode != group.TransitEncryptionMode))
                return Problems.Conflict(ErrorCodes.InvalidReplicationGroupState,
                    $"Replication group {TenantNames.Public(group.Id)} is still moving its nodes to transit encryption mode {group.TransitEncryptionMode}.");
            transitMode = mode;
        }
        var current = ToSpec(group);
        // An engine named without a version takes that engine's newest.
        var engine = patch!.Engine ?? group.Engine;
        var engineVersion = patch.EngineVersion ?? (engine != group.Engine ? catalog.NewestVersion(engine) : group.EngineVersion);
        if ((engine != group.Engine || engineVersion != group.EngineVersion)
            && EngineUpgrades.Check(group.Engine, group.EngineVersion, engine, engineVersion, catalog) is { } refused)
            return Problems.Validation([refused]);
        var next = current with
        {
            Engine = engine,
            EngineVersion = engineVersion,
            Description = fields.Contains("description") ? patch!.Description ?? "" : current.Description,
            NodeType = patch!.NodeType ?? current.NodeType,
            ReplicasPerShard = patch.ReplicasPerShard ?? current.ReplicasPerShard,
            NumShards = patch.NumShards ?? current.NumShards,
            AutomaticFailover = patch.AutomaticFailover ?? current.AutomaticFailover,
            MultiAz = patch.MultiAz ?? current.MultiAz,
            AuthToken = patch.AuthToken,
            // A token may come with the step to preferred: the state the PATCH leads to is what is judged.
            TransitEncryption = transitMode is not null,
            SnapshotRetentionLimit = patch.SnapshotRetentionLimit ?? current.SnapshotRetentionLimit,
            SnapshotWindow = fields.Contains("snapshotWindow") ? patch.SnapshotWindow : current.SnapshotWindow,
            PreferredMaintenanceWindow = fields.Contains("preferredMaintenanceWindow") ? patch.PreferredMaintenanceWindow : current.PreferredMaintenanceWindow,
            // An expiry already stored is not re-judged against the clock; a new one is.
            ExpiresAt = fields.Contains("expiresAt") ? patch.ExpiresAt : null,
        };
        if (await validator.ProblemAsync(next, ct) is { } invalid)
            return invalid;
        // Auth tokens and user groups: applied to the entity here (the save below is all or nothing), online by the reconciler.
        var (accessChanges, badAccess) = await ReplicationGroupAccess.PatchAsync(db, group, fields, patch, secrets, time.GetUtcNow(), ct);
        if (badAccess is not null)
            return badAccess;

        var changes = new Dictionary<string, object?>(accessChanges);
        void Changed<T>(string field, T before, T after)
        {
            if (!EqualityComparer<T>.Default.Equals(before, after))
                changes[field] = after;
        }
        Changed("description", current.Description, next.Description);
        Changed("nodeType", current.NodeType, next.NodeType);
        Changed("replicasPerShard", current.ReplicasPerShard, next.ReplicasPerShard);
        Changed("automaticFailover", current.AutomaticFailover, next.AutomaticFailover);
        Changed("multiAz", current.MultiAz, next.MultiAz);
        Changed("snapshotRetentionLimit", current.SnapshotRetentionLimit, next.SnapshotRetentionLimit);
        Changed("snapshotWindow", current.SnapshotWindow, next.SnapshotWindow);
        Changed("preferredMaintenanceWindow", current.PreferredMaintenanceWindow, next.PreferredMaintenanceWindow);
        Changed("engine", current.Engine, next.Engine);
        Changed("engineVersion", current.EngineVersion, next.EngineVersion);
        Changed("transitEncryptionMode", group.TransitEncryptionMode, transitMode);
        var parameterGroup = group.ParameterGroupName;
        var newFamily = Catalog.Family(engine, engineVersion) != Catalog.Family(group.Engine, group.EngineVersion);
        if (newFamily && !fields.Contains("parameterGroupName"))
        {
            // The default group follows the engine; a group of one's own is of the old family and must be replaced by one of the new.
            if (parameterGroup is not null && !Domain.Parameters.ParameterCatalog.IsDefaultName(parameterGroup))
                return Problems.Invalid("parameterGroupName", $"Parameter group {TenantNames.Public(parameterGroup)} is of the {Catalog.Family(group.Engine, group.EngineVersion)} "
                    + $"family; name one of the {Catalog.Family(engine, engineVersion)} family (or a default.* one) with the upgrade.", ErrorCodes.InvalidParameterCombination);
            parameterGroup = null;
        }
        if (fields.Contains("parameterGroupName"))
        {
            var (resolved, badParameterGroup) = await parameterGroups.ResolveAsync(
                group.Tenant, patch.ParameterGroupName, engine, engineVersion, group.ClusterMode == ClusterMode.Enabled, ct);
            if (badParameterGroup is not null)
                return ParameterGroupsApi.Problem(badParameterGroup);
            Changed("parameterGroupName", group.ParameterGroupName, resolved);
            parameterGroup = resolved;
        }
        if (fields.Contains("expiresAt"))
            Changed("expiresAt", group.ExpiresAt, next.ExpiresAt);
        if (next.NumShards != current.NumShards)
            changes["numShards"] = next.NumShards;
        else if (fields.Contains("numShards") && !SlotRanges.IsBalanced(group.Shards.Select(s => s.Slots)))
            changes["rebalance"] = true;
        if (changes.Count == 0)
            return Problems.NoOperation(fields.Contains("numShards")
                ? $"Replication group {TenantNames.Public(group.Id)} already has {group.NumShards} shard(s) with its slots evenly balanced."
                : "The modification changes nothing.");
        if (next.NumShards < current.NumShards && await CheckScaleInFitsAsync(group, next, catalog, memory, ct) is { } wontFit)
            return wontFit;
        if (await TotalNodeQuota.CheckAsync(db, options.Value, group.Tenant, next.NodeCount - current.NodeCount,
                next.NumShards != current.NumShards ? "numShards" : "replicasPerShard", ct) is { } overQuota)
            return overQuota;

        var deferred = Defer(group, next, changes, newFamily, parameterGroup, patch.ApplyImmediately ?? false, time.GetUtcNow());
        group.Description = next.Description;
        if (!deferred.ContainsKey("nodeType"))
            group.NodeType = next.NodeType;
        group.ReplicasPerShard = next.ReplicasPerShard;
        group.NumShards = next.NumShards;
        group.AutomaticFailover = next.AutomaticFailover;
        group.MultiAz = next.MultiAz;
        group.SnapshotRetentionLimit = next.SnapshotRetentionLimit;
        group.SnapshotWindow = next.SnapshotWindow;
        group.PreferredMaintenanceWindow = next.PreferredMaintenanceWindow;
        // The reconciler moves every node one step, online (CONFIG SET of port and tls-port).
        (group.TransitEncryptionMode, group.TransitEncryption) = (transitMode, transitMode is not null);
        // The nodes keep theirs until the reconciler replaces them, replicas first.
        if (!deferred.ContainsKey("engine") && !deferred.ContainsKey("engineVersion"))
        {
            group.Engine = next.Engine;
            group.EngineVersion = next.EngineVersion;
        }
        if (deferred.ContainsKey("parameterGroupName"))
            parameterGroup = group.ParameterGroupName;
        if (group.ParameterGroupName != parameterGroup)
        {
            // Applied by the reconciler within seconds, without a restart; until then its nodes say so.
            group.ParameterGroupName = parameterGroup;
            foreach (var node in group.Shards.SelectMany(s => s.Nodes))
                node.ParameterGroupStatus = ParameterStatus.Applying;
        }
        if (fields.Contains("expiresAt"))
            group.ExpiresAt = next.ExpiresAt;
        // The fields whose change the reconciler must carry out (those that wait for the window are scheduled); the others take effect as stored.
        // Auth tokens, user groups and transit encryption steps change no topology, but the group is modifying until every node holds them too.
        bool Pends(string field) => changes.ContainsKey(field) && !deferred.ContainsKey(field);
        var pending = new PendingChanges
        {
            NodeType = Pends(PendingChangesJson.NodeType) ? next.NodeType : null,
            ReplicasPerShard = Pends(PendingChangesJson.ReplicasPerShard) ? next.ReplicasPerShard : null,
            Engine = Pends(PendingChangesJson.Engine) ? next.Engine : null,
            EngineVersion = Pends(PendingChangesJson.EngineVersion) ? next.EngineVersion : null,
            TransitEncryptionMode = Pends(PendingChangesJson.TransitEncryptionMode) ? new Change<string?>(transitMode) : null,
            AuthTokenUpdateStrategy = changes.GetValueOrDefault(PendingChangesJson.AuthTokenUpdateStrategy) as string,
            UserGroupIds = changes.GetValueOrDefault(PendingChangesJson.UserGroupIds) as IReadOnlyList<string>,
            NumShards = Pends(PendingChangesJson.NumShards) ? next.NumShards : null,
            Rebalance = Pends(PendingChangesJson.Rebalance),
        };
        if (!pending.IsEmpty)
        {
            group.Status = GroupStatus.Modifying;
            group.PendingChanges = pending;
        }
        group.Generation++;
        group.UpdatedAt = time.GetUtcNow();
        db.Record(time, SourceType.ReplicationGroup, group.Id, $"Modification requested for replication group {group.Id}: {string.Join(", ", changes.Keys)}"
            + (deferred.Count > 0 ? $"; {string.Join(", ", deferred.Keys)} wait for the maintenance window at {group.ScheduledAt:yyyy-MM-dd HH:mm} UTC" : ""));
        return await Store.SaveAsync(db, http, group.Version, ErrorCodes.InvalidReplicationGroupState, () => group.ToResponse(), r => r.Etag, ct);
    }

    /// <summary>
    /// The node-replacing changes of a PATCH that wait for the group's maintenance window (stored as
    /// scheduled, with when they start), or none: without a window, inside it, or with applyImmediately
    /// they start now and replace what was scheduled for the same fields. An upgrade to another family
    /// takes its parameter group along.
    /// </summary>
    private static Dictionary<string, object?> Defer(ReplicationGroupEntity group, ReplicationGroupSpec next, Dictionary<string, object?> changes,
        bool newFamily, string? parameterGroup, bool applyImmediately, DateTimeOffset now)
    {
        var replacing = changes.Where(c => MaintenancePlanner.NodeReplacing.Contains(c.Key)).ToDictionary();
        var scheduled = group.ScheduledChanges ?? PendingChanges.None;
        if (replacing.Count == 0)
            return [];
        MaintenanceWindow? window = null;
        if (next.PreferredMaintenanceWindow is { } text)
            MaintenanceWindow.TryParse(text, out window);
        var at = MaintenancePlanner.WhenToApply(window, now, applyImmediately);
        bool Replaces(string field) => replacing.ContainsKey(field);
        if (at <= now)
        {
            scheduled = scheduled with
            {
                NodeType = Replaces(PendingChangesJson.NodeType) ? null : scheduled.NodeType,
                Engine = Replaces(PendingChangesJson.Engine) ? null : scheduled.Engine,
                EngineVersion = Replaces(PendingChangesJson.EngineVersion) ? null : scheduled.EngineVersion,
                ParameterGroupName = null,
            };
            (group.ScheduledChanges, group.ScheduledAt) = !scheduled.IsEmpty ? (scheduled, group.ScheduledAt) : (null, null);
            return [];
        }
        if (newFamily)
            replacing[PendingChangesJson.ParameterGroupName] = parameterGroup;
        group.ScheduledChanges = scheduled with
        {
            NodeType = Replaces(PendingChangesJson.NodeType) ? next.NodeType : scheduled.NodeType,
            Engine = Replaces(PendingChangesJson.Engine) ? next.Engine : scheduled.Engine,
            EngineVersion = Replaces(PendingChangesJson.EngineVersion) ? next.EngineVersion : scheduled.EngineVersion,
            ParameterGroupName = newFamily ? new Change<string?>(parameterGroup) : scheduled.ParameterGroupName,
        };
        group.ScheduledAt = at;
        return replacing;
    }

    private static async Task<IResult> Delete(
        string id, string? finalSnapshotName, HttpContext http, ControlPlaneDbContext db, TimeProvider time, Caller caller, CancellationToken ct)
    {
        var group = await Find(db, caller, id, ct);
        if (group is null)
            return NotFound(id);
        if (Store.CheckIfMatch(http.Request, group.Version) is { } stale)
            return stale;
        if (group.Status is not (GroupStatus.Available or GroupStatus.Creating or GroupStatus.CreateFailed or GroupStatus.IncompatibleNetwork))
            return Problems.Conflict(ErrorCodes.InvalidReplicationGroupState, $"Replication group {TenantNames.Public(group.Id)} is {Json(group.Status)} and cannot be deleted now.");
        if (finalSnapshotName is not null)
        {
            var name = Identifiers.Normalize(finalSnapshotName);
            if (Identifiers.Check(name, Limits.MaxSnapshotNameLength) is { } error)
                return Problems.Invalid("finalSnapshotName", $"The snapshot name {error}");
            if (group.Status != GroupStatus.Available)
                return Problems.Conflict(ErrorCodes.InvalidReplicationGroupState, $"A final snapshot needs replication group {TenantNames.Public(group.Id)} to be available; it is {Json(group.Status)}.");
            var stored = TenantNames.Internal(group.Tenant, name);
            if (await db.Snapshots.AnyAsync(s => s.Name == stored, ct))
                return Problems.Conflict(ErrorCodes.SnapshotAlreadyExists, $"Snapshot {name} already exists.");
            group.FinalSnapshotName = stored;
        }
        group.Status = GroupStatus.Deleting;
        group.Generation++;
        group.UpdatedAt = time.GetUtcNow();
        db.Record(time, SourceType.ReplicationGroup, group.Id, group.FinalSnapshotName is { } final
            ? $"Replication group {group.Id} deletion requested with final snapshot {final}"
            : $"Replication group {group.Id} deletion requested");
        return await Store.SaveAsync(db, http, group.Version, ErrorCodes.InvalidReplicationGroupState, () => group.ToResponse(), r => r.Etag, ct);
    }

    private static async Task<IResult> TestFailover(
        string id, TestFailoverRequest request, HttpContext http, ControlPlaneDbContext db, TimeProvider time, Caller caller, CancellationToken ct)
    {
        var group = await Find(db, caller, id, ct);
        if (group is null)
            return NotFound(id);
        var shard = group.Shards.FirstOrDefault(s => s.Id == request.ShardId);
        if (shard is null)
            return Problems.NotFound(ErrorCodes.NodeGroupNotFound, $"Replication group {TenantNames.Public(group.Id)} has no shard {request.ShardId}.");
        if (group.Status != GroupStatus.Available)
            return Problems.Conflict(ErrorCodes.InvalidReplicationGroupState, $"Replication group {TenantNames.Public(group.Id)} is {Json(group.Status)}, not available.");
        if (!group.AutomaticFailover || group.ReplicasPerShard < 1)
            return Problems.Invalid("shardId", "Test failover needs automatic failover and at least one replica.", ErrorCodes.InvalidParameterCombination);
        var now = time.GetUtcNow();
        var used = await db.TestFailovers.CountAsync(f => f.ReplicationGroupId == group.Id && f.RequestedAt > now.AddDays(-1), ct);
        if (used >= Limits.TestFailoverShardsPerDay)
            return Problems.Create(StatusCodes.Status429TooManyRequests, ErrorCodes.TestFailoverNotAvailable,
                $"Replication group {TenantNames.Public(group.Id)} used its {Limits.TestFailoverShardsPerDay} test failovers of the last 24 hours.");
        db.TestFailovers.Add(new TestFailoverEntity { ReplicationGroupId = group.Id, ShardId = shard.Id, RequestedAt = now });
        group.Status = GroupStatus.Modifying;
        // What the group should be changed (a shard's primary is to hand over): a new generation, observed once it has.
        group.Generation++;
        group.UpdatedAt = now;
        db.Record(time, SourceType.ReplicationGroup, group.Id, $"Test Failover API called for node group {shard.Id}");
        return await Store.SaveAsync(db, http, group.Version, ErrorCodes.InvalidReplicationGroupState, () => group.ToResponse(), r => r.Etag, ct);
    }

    /// <summary>
    /// Scale-in moves every key onto the shards that stay: refused, with nothing changed, when what the
    /// primaries hold now would fill more than three quarters of the remaining shards' memory (the
    /// quarter ElastiCache reserves for the engine's own use).
    /// </summary>
    private static async Task<IResult?> CheckScaleInFitsAsync(ReplicationGroupEntity group, ReplicationGroupSpec next, Catalog catalog, GroupMemory memory, CancellationToken ct)
    {
        var primaries = group.Shards.Select(s => s.Nodes.FirstOrDefault(n => n.Role == NodeRole.Primary && n.Port is not null)).OfType<RedisNodeEntity>();
        var (used, unmeasured) = await memory.UsedAsync(primaries.Select(p => (p.Id, p.Host!, p.Port!.Value)), ct);
        if (unmeasured is not null)
            return Problems.Conflict(ErrorCodes.InvalidReplicationGroupState,
                $"The memory in use on {TenantNames.Public(unmeasured)} could not be measured, so it is not known whether the data fits in {next.NumShards} shard(s); try again.");
        var type = catalog.NodeTypes.First(t => t.Name == next.NodeType);
        var usable = (long)(next.NumShards * type.MaxMemoryBytes * ScaleInFillLimit);
        return used <= usable ? null : Problems.Invalid("numShards",
            $"The data of replication group {TenantNames.Public(group.Id)} ({Mib(used)} MiB in use) does not fit in {next.NumShards} shard(s) of {type.Name}: "
                + $"{Mib(usable)} MiB may be filled ({ScaleInFillLimit:P0} of {Mib(type.MaxMemoryBytes)} MiB each). Nothing was changed.");
    }

    private const double ScaleInFillLimit = 0.75;

    private static long Mib(long bytes) => bytes / (1024 * 1024);

    internal static IQueryable<ReplicationGroupEntity> Load(ControlPlaneDbContext db) =>
        db.ReplicationGroups.Include(g => g.Shards).ThenInclude(s => s.Nodes).AsSplitQuery();

    private static Task<ReplicationGroupEntity?> Find(ControlPlaneDbContext db, Caller caller, string id, CancellationToken ct)
    {
        var stored = caller.Internal(Identifiers.Normalize(id));
        return Load(db).FirstOrDefaultAsync(g => g.Id == stored, ct);
    }

    private static ProblemHttpResult NotFound(string id) =>
        Problems.NotFound(ErrorCodes.ReplicationGroupNotFound, $"Replication group {Identifiers.Normalize(id)} does not exist.");

    private static ReplicationGroupSpec ToSpec(ReplicationGroupEntity g) => new(
        TenantNames.Public(g.Id), g.Description, g.EngineVersion, g.NodeType, g.ClusterMode, g.NumShards, g.ReplicasPerShard, g.AutomaticFailover,
        g.MultiAz, g.TransitEncryption, null, g.SnapshotRetentionLimit, g.SnapshotWindow, null, null, g.ExpiresAt, g.Engine, g.PreferredMaintenanceWindow);

    internal static string Json<T>(T value) where T : struct, Enum => JsonBodies.EnumText(value);
}
