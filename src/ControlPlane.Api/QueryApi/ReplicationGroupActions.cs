using System.Text.Json.Nodes;
using System.Xml.Linq;
using static ControlPlane.Api.QueryApi.QueryXml;

namespace ControlPlane.Api.QueryApi;

public sealed partial class QueryActions
{
    private const string Groups = "replication-groups";

    private async Task<IEnumerable<XElement?>> CreateReplicationGroup()
    {
        var id = p.Required("ReplicationGroupId");
        var body = new JsonObject { ["id"] = id, ["description"] = p.Required("ReplicationGroupDescription") };
        if (p.Get("Engine")?.ToLowerInvariant() is { } engine)
            body["engine"] = engine is "redis" or "valkey" ? engine : throw QueryFault.InvalidParameterValue($"Engine must be redis or valkey; got {engine}.");
        Copy("EngineVersion", body, "engineVersion");
        Copy("CacheNodeType", body, "nodeType");
        Copy("PreferredMaintenanceWindow", body, "preferredMaintenanceWindow");

        // Cluster mode as ElastiCache chooses it: a parameter group with cluster-enabled yes, or ClusterMode=enabled.
        var parameterGroup = p.Get("CacheParameterGroupName");
        var clusterMode = p.Get("ClusterMode")?.ToLowerInvariant();
        if (clusterMode is not (null or "enabled" or "disabled"))
            throw QueryFault.NotBuilt($"Cluster mode '{clusterMode}'");
        var enabled = clusterMode == "enabled" || (parameterGroup is not null && await ClusterEnabledIn(parameterGroup));
        if (clusterMode == "disabled" && enabled)
            throw QueryFault.InvalidParameterCombination($"ClusterMode=disabled does not go with the cluster-mode parameter group {parameterGroup}.");
        if (parameterGroup is not null)
            body["parameterGroupName"] = parameterGroup;
        body["clusterMode"] = enabled ? "enabled" : "disabled";

        var shards = p.Int("NumNodeGroups");
        var replicas = p.Int("ReplicasPerNodeGroup");
        var clusters = p.Int("NumCacheClusters");
        if (clusters is { } n)
        {
            if (enabled)
                throw QueryFault.InvalidParameterCombination("NumCacheClusters is for cluster mode disabled; use NumNodeGroups and ReplicasPerNodeGroup.");
            if (replicas is { } r && r != n - 1)
                throw QueryFault.InvalidParameterCombination("NumCacheClusters and ReplicasPerNodeGroup disagree.");
            if (n is < 1 or > 6)
                throw QueryFault.InvalidParameterValue("NumCacheClusters must be between 1 and 6.");
            replicas = n - 1;
        }
        // ElastiCache's default is a single node (no replica) in either mode.
        body["replicasPerShard"] = replicas ?? 0;
        if (shards is { } s)
            body["numShards"] = s;
        var layout = p.Structures("NodeGroupConfiguration");
        if (layout.Count > 0)
            body["shards"] = NodeGroupLayout(layout);

        // ElastiCache's defaults: automatic failover and Multi-AZ off unless asked for (cluster mode enabled always fails over).
        var failover = p.Bool("AutomaticFailoverEnabled") ?? enabled;
        body["automaticFailover"] = failover;
        body["multiAz"] = p.Bool("MultiAZEnabled") ?? false;
        if (p.Bool("TransitEncryptionEnabled") is { } tls)
            body["transitEncryption"] = tls;
        if (p.Get("TransitEncryptionMode") is { } transitMode)
            body["transitEncryptionMode"] = transitMode.ToLowerInvariant();
        Copy("AuthToken", body, "authToken");
        if (p.List("UserGroupIds") is { Count: > 0 } userGroups)
            body["userGroupIds"] = new JsonArray(userGroups.Select(x => (JsonNode?)JsonValue.Create(x)).ToArray());
        if (p.Int("SnapshotRetentionLimit") is { } retention)
            body["snapshotRetentionLimit"] = retention;
        Copy("SnapshotWindow", body, "snapshotWindow");
        Copy("SnapshotName", body, "restoreFromSnapshot");
        CommonNetworkParameters();
        var tags = TagsParameter();
        p.RefuseUnread();

        var group = await Call(HttpMethods.Post, $"/v1/{Groups}", body);
        await TagAsync(Groups, id, tags);
        return [shapes.ReplicationGroup(group)];
    }

    private static JsonArray NodeGroupLayout(List<Dictionary<string, string>> layout)
    {
        var shards = new JsonArray();
        foreach (var group in layout)
        {
            var shard = new JsonObject();
            foreach (var (key, value) in group)
            {
                if (key == "Slots")
                    shard["slots"] = value;
                else if (key == "PrimaryAvailabilityZone")
                    shard["primaryAz"] = value;
                else if (key is not ("NodeGroupId" or "ReplicaCount"))
                    throw QueryFault.NotBuilt($"NodeGroupConfiguration.{key}");
            }
            if (shard["slots"] is null)
                throw QueryFault.InvalidParameterValue("Every NodeGroupConfiguration needs Slots (for example 0-8191).");
            shards.Add(shard);
        }
        return shards;
    }

    /// <summary>Whether a parameter group turns cluster mode on (its cluster-enabled is yes); the REST create checks the rest of the match.</summary>
    private async Task<bool> ClusterEnabledIn(string parameterGroup) =>
        (await Get(Path(ParameterGroups, parameterGroup)))["parameters"]!.AsArray()
            .Any(x => (string?)x!["name"] == "cluster-enabled" && (string?)x["value"] == "yes");

    private async Task<IEnumerable<XElement?>> DescribeReplicationGroups()
    {
        var id = p.Get("ReplicationGroupId");
        var (page, marker) = id is not null
            ? Paged([(id, shapes.ReplicationGroup(await Get(Path(Groups, id))))])
            : Paged((await ListAll($"/v1/{Groups}")).Select(g => ((string)g["id"]!, shapes.ReplicationGroup(g))));
        p.RefuseUnread();
        return [marker, E("ReplicationGroups", page.Select(x => (XElement?)x))];
    }

    private async Task<IEnumerable<XElement?>> ModifyReplicationGroup()
    {
        var id = p.Required("ReplicationGroupId");
        var patch = new JsonObject();
        Copy("ReplicationGroupDescription", patch, "description");
        if (p.Bool("AutomaticFailoverEnabled") is { } failover)
            patch["automaticFailover"] = failover;
        if (p.Bool("MultiAZEnabled") is { } multiAz)
            patch["multiAz"] = multiAz;
        Copy("CacheNodeType", patch, "nodeType");
        if (p.Int("SnapshotRetentionLimit") is { } retention)
            patch["snapshotRetentionLimit"] = retention;
        Copy("SnapshotWindow", patch, "snapshotWindow");
        if (p.Bool("TransitEncryptionEnabled") is { } tls)
            patch["transitEncryption"] = tls;
        if (p.Get("TransitEncryptionMode") is { } transitMode)
            patch["transitEncryptionMode"] = transitMode.ToLowerInvariant();
        Copy("AuthToken", patch, "authToken");
        if (p.Get("AuthTokenUpdateStrategy") is { } strategy)
            patch["authTokenUpdateStrategy"] = strategy.ToLowerInvariant();
        if (p.List("UserGroupIdsToAdd") is { Count: > 0 } addGroups)
            patch["userGroupIdsToAdd"] = new JsonArray(addGroups.Select(x => (JsonNode?)JsonValue.Create(x)).ToArray());
        if (p.List("UserGroupIdsToRemove") is { Count: > 0 } removeGroups)
            patch["userGroupIdsToRemove"] = new JsonArray(removeGroups.Select(x => (JsonNode?)JsonValue.Create(x)).ToArray());
        // Node-replacing changes (node type, engine, version) wait for PreferredMaintenanceWindow unless ApplyImmediately, as the REST API does.
        Copy("PreferredMaintenanceWindow", patch, "preferredMaintenanceWindow");
        if (p.Bool("ApplyImmediately") is { } immediately)
            patch["applyImmediately"] = immediately;
        // The snapshotting node is chosen by the control plane (the most caught-up replica).
        p.Accept("SnapshottingClusterId");

        var current = await Get(Path(Groups, id));
        if (p.Get("Engine")?.ToLowerInvariant() is { } engine && engine != (string?)current["engine"])
            patch["engine"] = engine;
        if (p.Get("EngineVersion") is { } version && version != (string?)current["engineVersion"])
            patch["engineVersion"] = version;
        if (p.Get("CacheParameterGroupName") is { } parameterGroup && parameterGroup != QueryShapes.ParameterGroupName(current))
            patch["parameterGroupName"] = parameterGroup;
        OnlyValue("ClusterMode", (string?)current["clusterMode"] ?? "disabled", "Changing the cluster mode");
        CommonNetworkParameters();
        p.RefuseUnread();

        return [shapes.ReplicationGroup(await Call(HttpMethods.Patch, Path(Groups, id), patch))];
    }

    private async Task<IEnumerable<XElement?>> DeleteReplicationGroup()
    {
        var id = p.Required("ReplicationGroupId");
        OnlyValue("RetainPrimaryCluster", "false", "Keeping the primary as a cluster of its own (RetainPrimaryCluster)");
        var final = p.Get("FinalSnapshotIdentifier");
        p.RefuseUnread();
        var query = new Dictionary<string, string?> { ["finalSnapshotName"] = final };
        return [shapes.ReplicationGroup(await Call(HttpMethods.Delete, Path(Groups, id), null, query))];
    }

    private async Task<IEnumerable<XElement?>> ModifyShardConfiguration()
    {
        var id = p.Required("ReplicationGroupId");
        var count = p.Int("NodeGroupCount") ?? throw QueryFault.MissingParameter("NodeGroupCount");
        var immediately = p.Bool("ApplyImmediately") ?? throw QueryFault.MissingParameter("ApplyImmediately");
        if (!immediately)
            throw QueryFault.InvalidParameterValue("ApplyImmediately must be true: resharding is done online, at once.");
        if (p.Structures("ReshardingConfiguration").Count > 0)
            throw QueryFault.NotBuilt("Choosing the slots of each shard when resharding (ReshardingConfiguration)");
        var remove = p.List("NodeGroupsToRemove");
        var retain = p.List("NodeGroupsToRetain");
        p.RefuseUnread();

        var current = await Get(Path(Groups, id));
        // The REST API keeps the lowest-numbered shards and removes the others; a choice that differs is not built.
        var ids = current["shards"]!.AsArray().Select(s => (string)s!["id"]!).Order(StringComparer.Ordinal).ToList();
        if (remove.Count > 0 && !remove.Order(StringComparer.Ordinal).SequenceEqual(ids.Skip(count)))
            throw QueryFault.NotBuilt($"Removing shards other than the highest-numbered ones ({string.Join(", ", ids.Skip(count))})");
        if (retain.Count > 0 && !retain.Order(StringComparer.Ordinal).SequenceEqual(ids.Take(count)))
            throw QueryFault.NotBuilt($"Keeping shards other than the lowest-numbered ones ({string.Join(", ", ids.Take(count))})");
        return [shapes.ReplicationGroup(await Call(HttpMethods.Patch, Path(Groups, id), new JsonObject { ["numShards"] = count }))];
    }

    private async Task<IEnumerable<XElement?>> ChangeReplicaCount(bool increase)
    {
        var id = p.Required("ReplicationGroupId");
        if (p.Bool("ApplyImmediately") is null)
            throw QueryFault.MissingParameter("ApplyImmediately");
        var count = p.Int("NewReplicaCount");
        if (p.Structures("ReplicaConfiguration").Count > 0)
            throw QueryFault.NotBuilt("A replica count per shard (ReplicaConfiguration); every shard has the same count here");
        if (!increase && p.List("ReplicasToRemove").Count > 0)
            throw QueryFault.NotBuilt("Choosing which replicas to remove (ReplicasToRemove)");
        p.RefuseUnread();
        if (count is not { } wanted)
            throw QueryFault.MissingParameter("NewReplicaCount");

        var current = await Get(Path(Groups, id));
        var replicas = (int)current["replicasPerShard"]!;
        if (increase ? wanted <= replicas : wanted >= replicas)
            throw QueryFault.InvalidParameterValue(
                $"NewReplicaCount ({wanted}) must be {(increase ? "more" : "fewer")} than the group's {replicas} replica(s) per shard.");
        return [shapes.ReplicationGroup(await Call(HttpMethods.Patch, Path(Groups, id), new JsonObject { ["replicasPerShard"] = wanted }))];
    }

    private async Task<IEnumerable<XElement?>> TestFailover()
    {
        var id = p.Required("ReplicationGroupId");
        var shard = p.Required("NodeGroupId");
        p.RefuseUnread();
        return [shapes.ReplicationGroup(await Call(HttpMethods.Post, Path(Groups, id) + "/test-failover", new JsonObject { ["shardId"] = shard }))];
    }
}
