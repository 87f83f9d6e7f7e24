using System.Globalization;
using System.Text.RegularExpressions;

namespace ControlPlane.Domain;

/// <summary>Where one shard's nodes go and which slots it serves (cluster mode enabled).</summary>
public sealed record ShardSpec(string Slots, string? PrimaryAz, IReadOnlyList<string>? ReplicaAzs);

/// <summary>The desired state of a Redis replication group, defaults already applied.</summary>
public sealed record ReplicationGroupSpec(
    string Id,
    string Description,
    string EngineVersion,
    string NodeType,
    ClusterMode ClusterMode,
    int NumShards,
    int ReplicasPerShard,
    bool AutomaticFailover,
    bool MultiAz,
    bool TransitEncryption,
    string? AuthToken,
    int SnapshotRetentionLimit,
    string? SnapshotWindow,
    string? RestoreFromSnapshot,
    IReadOnlyList<ShardSpec>? Shards,
    DateTimeOffset? ExpiresAt,
    string Engine = Catalog.Redis,
    string? PreferredMaintenanceWindow = null,
    string? TransitEncryptionMode = null)
{
    public int NodeCount => NumShards * (ReplicasPerShard + 1);
}

/// <summary>The limits table for Redis replication groups: one place, used by the API and the reconciler.</summary>
public static partial class ReplicationGroupRules
{
    [GeneratedRegex(@"^[A-Za-z0-9!&#$^<>\-]+\z")]
    private static partial Regex AuthTokenCharacters();

    // \z, not $: "$" also matches before a final newline, which would then be stored.
    [GeneratedRegex(@"^([0-9]{2}):([0-9]{2})-([0-9]{2}):([0-9]{2})\z")]
    private static partial Regex WindowShape();

    /// <summary>Every broken rule of a create (or of the state a patch would lead to); empty when valid.</summary>
    public static IReadOnlyList<Violation> Validate(ReplicationGroupSpec spec, Limits limits, Catalog catalog, DateTimeOffset now)
    {
        var errors = new List<Violation>();
        void Value(string field, string message) => errors.Add(new(ErrorCodes.InvalidParameterValue, field, message));
        void Combination(string field, string message) => errors.Add(new(ErrorCodes.InvalidParameterCombination, field, message));

        if (Identifiers.Check(spec.Id, Limits.MaxGroupIdLength) is { } idError)
            Value("id", $"The replication group id {idError}");
        if (spec.Description.Length > Limits.MaxDescriptionLength)
            Value("description", $"The description must be at most {Limits.MaxDescriptionLength} characters.");
        if (!Catalog.IsRedisLike(spec.Engine))
            Value("engine", $"A replication group runs {Catalog.Redis} or {Catalog.Valkey}, not {spec.Engine}.");
        else if (!catalog.HasEngineVersion(spec.Engine, spec.EngineVersion))
            Value("engineVersion", $"Engine version {spec.EngineVersion} is not supported for {spec.Engine}; see GET /v1/engine-versions.");
        if (!catalog.HasNodeType(spec.NodeType))
            Value("nodeType", $"Node type {spec.NodeType} does not exist; see GET /v1/node-types.");

        if (spec.ReplicasPerShard is < 0 or > Limits.MaxReplicasPerShard)
            Value("replicasPerShard", $"replicasPerShard must be between 0 and {Limits.MaxReplicasPerShard}.");

        if (spec.ClusterMode == ClusterMode.Disabled)
        {
            if (spec.NumShards != 1)
                Combination("numShards", "A replication group with cluster mode disabled has exactly 1 shard.");
            if (spec.AutomaticFailover && spec.ReplicasPerShard < 1)
                Combination("automaticFailover", "Automatic failover needs at least one replica.");
            if (spec.Shards is not null)
                Combination("shards", "Shard layouts can only be given with cluster mode enabled.");
        }
        else
        {
            if (spec.NumShards is < 1 or > Limits.MaxShards)
                Value("numShards", $"numShards must be between 1 and {Limits.MaxShards} with cluster mode enabled.");
            else if (spec.NumShards > limits.ShardQuota)
                errors.Add(new(ErrorCodes.NodeGroupsPerReplicationGroupQuotaExceeded, "numShards",
                    $"The shard quota is {limits.ShardQuota} shards per replication group."));
            if (!spec.AutomaticFailover)
                Combination("automaticFailover", "Automatic failover must be enabled with cluster mode enabled.");
        }

        if (spec.MultiAz && !spec.AutomaticFailover)
            Combination("multiAz", "Multi-AZ needs automatic failover.");
        else if (spec.MultiAz && spec.ReplicasPerShard < 1)
            Combination("multiAz", "Multi-AZ needs at least one replica.");

        if (spec.NumShards is >= 1 and <= Limits.MaxShards && spec.ReplicasPerShard is >= 0 and <= Limits.MaxReplicasPerShard
            && spec.NodeCount > limits.NodeQuota)
            errors.Add(new(ErrorCodes.NodeQuotaForClusterExceeded, "numShards",
                $"numShards x (replicasPerShard + 1) = {spec.NodeCount} is over the node quota of {limits.NodeQuota}."));

        if (spec.AuthToken is { } token)
        {
            if (token.Length is < Limits.MinAuthTokenLength or > Limits.MaxAuthTokenLength)
                Value("authToken", $"The auth token must be {Limits.MinAuthTokenLength}-{Limits.MaxAuthTokenLength} characters.");
            else if (!AuthTokenCharacters().IsMatch(token))
                Value("authToken", "The auth token may contain only letters, digits and the special characters ! & # $ ^ < > -.");
            // As ElastiCache: a token sent in plain text would be readable by anyone on the path.
            else if (!spec.TransitEncryption)
                Combination("authToken", "An auth token needs transitEncryption: true (clients would send it in plain text).");
        }

        if (spec.SnapshotRetentionLimit is < 0 or > Limits.MaxSnapshotRetentionDays)
            Value("snapshotRetentionLimit", $"snapshotRetentionLimit must be between 0 and {Limits.MaxSnapshotRetentionDays} days.");
        if (spec.SnapshotWindow is { } window && CheckWindow(window) is { } windowError)
            Value("snapshotWindow", windowError);
        if (spec.PreferredMaintenanceWindow is { } maintenance)
        {
            if (Planning.MaintenanceWindow.TryParse(maintenance, out var parsed) is { } maintenanceError)
                Value("preferredMaintenanceWindow", maintenanceError);
            else if (spec.SnapshotWindow is { } snapshots && CheckWindow(snapshots) is null && parsed!.Overlaps(snapshots))
                Combination("preferredMaintenanceWindow", $"The maintenance window {maintenance} overlaps the snapshot window {snapshots}.");
        }
        if (spec.RestoreFromSnapshot is { } snapshot && Identifiers.CheckExistingSnapshot(snapshot) is { } snapshotError)
            Value("restoreFromSnapshot", $"The snapshot name {snapshotError}");
        if (spec.ExpiresAt is { } expiresAt && expiresAt <= now)
            Value("expiresAt", "expiresAt must be in the future.");

        if (spec.ClusterMode == ClusterMode.Enabled && spec.Shards is { } shards)
            ValidateShards(spec, shards, catalog, errors);

        if (TransitEncryptionModes.Check(spec.TransitEncryption, spec.TransitEncryptionMode) is { } transit)
            errors.Add(transit);
        return errors;
    }

    private static void ValidateShards(ReplicationGroupSpec spec, IReadOnlyList<ShardSpec> shards, Catalog catalog, List<Violation> errors)
    {
        if (shards.Count != spec.NumShards)
        {
            errors.Add(new(ErrorCodes.InvalidParameterCombination, "shards", $"shards must have exactly numShards ({spec.NumShards}) entries."));
            return;
        }
        var owner = new int[SlotRanges.SlotCount];
        for (var i = 0; i < shards.Count; i++)
        {
            var shard = shards[i];
            var field = $"shards[{i}]";
            if (!SlotRanges.TryParse(shard.Slots, out var ranges))
                errors.Add(new(ErrorCodes.InvalidParameterValue, $"{field}.slots", "Slots must be ranges like \"0-5460\" or \"0-100,200-300\" within 0-16383."));
            else
                foreach (var slot in SlotRanges.Expand(ranges))
                {
                    if (owner[slot] != 0)
                    {
                        errors.Add(new(ErrorCodes.InvalidParameterValue, $"{field}.slots", $"Slot {slot} is already assigned to shards[{owner[slot] - 1}]."));
                        break;
                    }
                    owner[slot] = i + 1;
                }
            if (shard.PrimaryAz is { } primaryAz && !catalog.HasAvailabilityZone(primaryAz))
                errors.Add(new(ErrorCodes.InvalidParameterValue, $"{field}.primaryAz", $"Availability zone {primaryAz} does not exist."));
            if (shard.ReplicaAzs is { } replicaAzs)
            {
                if (replicaAzs.Count != spec.ReplicasPerShard)
                    errors.Add(new(ErrorCodes.InvalidParameterCombination, $"{field}.replicaAzs", $"replicaAzs must have replicasPerShard ({spec.ReplicasPerShard}) entries."));
                foreach (var az in replicaAzs.Where(az => !catalog.HasAvailabilityZone(az)).Distinct())
                    errors.Add(new(ErrorCodes.InvalidParameterValue, $"{field}.replicaAzs", $"Availability zone {az} does not exist."));
            }
        }
        if (errors.Count == 0 && Array.IndexOf(owner, 0) is var missing and >= 0)
            errors.Add(new(ErrorCodes.InvalidParameterValue, "shards", $"The slot ranges must cover 0-16383 exactly once; slot {missing} is not covered."));
    }

    /// <summary>The reason a maintenance window "hh:mm-hh:mm" is invalid, or null.</summary>
    public static string? CheckWindow(string window)
    {
        var match = WindowShape().Match(window);
        if (!match.Success)
            return "snapshotWindow must look like hh:mm-hh:mm (UTC).";
        var parts = Enumerable.Range(1, 4).Select(i => int.Parse(match.Groups[i].Value, CultureInfo.InvariantCulture)).ToArray();
        if (parts[0] > 23 || parts[2] > 23 || parts[1] > 59 || parts[3] > 59)
            return "snapshotWindow must use times between 00:00 and 23:59.";
        var start = parts[0] * 60 + parts[1];
        var end = parts[2] * 60 + parts[3];
        var length = (end - start + 24 * 60) % (24 * 60);
        return length < Limits.MinSnapshotWindowMinutes ? $"snapshotWindow must be at least {Limits.MinSnapshotWindowMinutes} minutes long." : null;
    }
}
