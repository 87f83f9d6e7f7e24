using System.Text.Json.Nodes;
using System.Xml.Linq;
using static ControlPlane.Api.QueryApi.QueryXml;

namespace ControlPlane.Api.QueryApi;

/// <summary>
/// REST representations (JSON) in ElastiCache's shapes: ReplicationGroup, CacheCluster, Snapshot,
/// Event, ... with the member names of the service model (botocore's service-2.json). What this
/// control plane does not have (VPCs, KMS, log delivery, Outposts) is left out or reported as off.
/// </summary>
public sealed class QueryShapes(string region, string tenant)
{
    public string Arn(string type, string id) => Arns.For(region, tenant, type, id);

    private static XElement? Endpoint(string name, JsonNode? endpoint) =>
        endpoint is null ? null : Struct(name, E("Address", endpoint["host"]), E("Port", endpoint["port"]));

    private static bool Enabled(JsonNode g) => (string?)g["clusterMode"] == "enabled";

    /// <summary>The parameter group a Redis group runs with: its own once groups take one, else ElastiCache's default for its mode.</summary>
    public static string ParameterGroupName(JsonNode g) =>
        (string?)g["parameterGroupName"] ?? $"default.{Family((string?)g["engine"] ?? "redis", (string)g["engineVersion"]!)}{(Enabled(g) ? ".cluster.on" : "")}";

    /// <summary>ElastiCache's parameter group family: redis7, valkey8, memcached1.6.</summary>
    public static string Family(string engine, string version)
    {
        var parts = version.Split('.');
        return engine == "memcached" ? $"memcached{parts[0]}.{(parts.Length > 1 ? parts[1] : "0")}" : $"{engine}{parts[0]}";
    }

    public XElement ReplicationGroup(JsonNode g)
    {
        var enabled = Enabled(g);
        var shards = g["shards"]!.AsArray().Select(s => s!).ToList();
        var pending = g["pendingChanges"] as JsonObject;
        return Struct("ReplicationGroup",
            E("ReplicationGroupId", g["id"]),
            E("Description", g["description"]),
            E("Status", g["status"]),
            Struct("PendingModifiedValues",
                pending?["numShards"] is not null || pending?["rebalance"] is not null
                    ? Struct("Resharding", Struct("SlotMigration", E("ProgressPercentage", 0.0)))
                    : null,
                // An auth token or transit encryption step on its way to every node.
                E("AuthTokenStatus", (string?)pending?["authTokenUpdateStrategy"] switch { "rotate" => "ROTATING", "set" => "SETTING", _ => null }),
                pending?["transitEncryptionMode"] is not null ? E("TransitEncryptionEnabled", true) : null,
                E("TransitEncryptionMode", pending?["transitEncryptionMode"])),
            List("MemberClusters", "ClusterId", shards.SelectMany(s => s["nodes"]!.AsArray()).Select(n => (object?)(string?)n!["id"])),
            List("NodeGroups", "NodeGroup", shards.Select(s => (object?)Struct("NodeGroup",
                E("NodeGroupId", s["id"]),
                E("Status", s["status"]),
                enabled ? null : Endpoint("PrimaryEndpoint", g["primaryEndpoint"]),
                enabled ? null : Endpoint("ReaderEndpoint", g["readerEndpoint"]),
                enabled ? E("Slots", s["slots"]) : null,
                List("NodeGroupMembers", "NodeGroupMember", s["nodes"]!.AsArray().Select(n => (object?)Struct("NodeGroupMember",
                    E("CacheClusterId", n!["id"]),
                    E("CacheNodeId", "0001"),
                    Endpoint("ReadEndpoint", n["endpoint"]),
                    E("PreferredAvailabilityZone", n["availabilityZone"]),
                    enabled ? null : E("CurrentRole", n["role"]))))))),
            E("AutomaticFailover", (bool)g["automaticFailover"]! ? "enabled" : "disabled"),
            E("MultiAZ", (bool)g["multiAz"]! ? "enabled" : "disabled"),
            enabled ? Endpoint("ConfigurationEndpoint", g["configurationEndpoint"]) : null,
            E("SnapshotRetentionLimit", g["snapshotRetentionLimit"]),
            E("SnapshotWindow", g["snapshotWindow"]),
            E("ClusterEnabled", enabled),
            E("CacheNodeType", g["nodeType"]),
            E("AuthTokenEnabled", g["authTokenEnabled"]),
            E("AuthTokenLastModifiedDate", g["authTokenLastModifiedAt"]),
            E("TransitEncryptionEnabled", g["transitEncryption"]),
            E("AtRestEncryptionEnabled", false),
            E("ARN", Arn("replicationgroup", (string)g["id"]!)),
            g["userGroupIds"] is JsonArray groups ? List("UserGroupIds", "member", groups.Select(u => (object?)(string?)u)) : null,
            E("ReplicationGroupCreateTime", g["createdAt"]),
            E("DataTiering", "disabled"),
            E("AutoMinorVersionUpgrade", true),
            E("NetworkType", "ipv4"),
            E("IpDiscovery", "ipv4"),
            E("TransitEncryptionMode", g["transitEncryptionMode"]),
            E("ClusterMode", enabled ? "enabled" : "disabled"),
            E("Engine", g["engine"]));
    }

    /// <summary>A node of a Redis group, which ElastiCache shows as a cache cluster of one node (its "member cluster").</summary>
    public XElement MemberCluster(JsonNode g, JsonNode shard, JsonNode node, bool showNodes) => Struct("CacheCluster",
        E("CacheClusterId", node["id"]),
        E("CacheNodeType", g["nodeType"]),
        E("Engine", g["engine"]),
        E("EngineVersion", g["engineVersion"]),
        E("CacheClusterStatus", node["status"]),
        E("NumCacheNodes", 1),
        E("PreferredAvailabilityZone", node["availabilityZone"]),
        E("CacheClusterCreateTime", g["createdAt"]),
        E("PreferredMaintenanceWindow", g["preferredMaintenanceWindow"]),
        // What the group still changes on its nodes, now or in its maintenance window.
        Struct("PendingModifiedValues", E("EngineVersion", g["pendingChanges"]?["engineVersion"]), E("CacheNodeType", g["pendingChanges"]?["nodeType"])),
        new XElement(Ns + "CacheSecurityGroups"),
        Struct("CacheParameterGroup", E("CacheParameterGroupName", ParameterGroupName(g)), E("ParameterApplyStatus", node["parameterGroupStatus"] ?? "in-sync"),
            List("CacheNodeIdsToReboot", "CacheNodeId", (string?)node["parameterGroupStatus"] == "pending-reboot" ? ["0001"] : [])),
        E("CacheSubnetGroupName", QueryActions.DefaultSubnetGroup),
        showNodes ? List("CacheNodes", "CacheNode", [Struct("CacheNode",
            E("CacheNodeId", "0001"),
            E("CacheNodeStatus", node["status"]),
            E("CacheNodeCreateTime", g["createdAt"]),
            Endpoint("Endpoint", node["endpoint"]),
            E("ParameterGroupStatus", node["parameterGroupStatus"] ?? "in-sync"),
            E("CustomerAvailabilityZone", node["availabilityZone"]))]) : null,
        E("AutoMinorVersionUpgrade", true),
        new XElement(Ns + "SecurityGroups"),
        E("ReplicationGroupId", g["id"]),
        E("SnapshotRetentionLimit", g["snapshotRetentionLimit"]),
        E("SnapshotWindow", g["snapshotWindow"]),
        E("AuthTokenEnabled", g["authTokenEnabled"]),
        E("TransitEncryptionEnabled", g["transitEncryption"]),
        E("AtRestEncryptionEnabled", false),
        E("ARN", Arn("cluster", (string)node["id"]!)),
        E("ReplicationGroupLogDeliveryEnabled", false),
        E("NetworkType", "ipv4"),
        E("IpDiscovery", "ipv4"),
        E("TransitEncryptionMode", g["transitEncryptionMode"]));

    /// <summary>A Memcached cluster; its node ids are ElastiCache's four digits ("0001"), the part after the cluster id.</summary>
    public XElement MemcachedCluster(JsonNode c, bool showNodes)
    {
        var id = (string)c["id"]!;
        var nodes = c["nodes"]!.AsArray().Select(n => n!).ToList();
        var zones = nodes.Select(n => (string?)n["availabilityZone"]).Distinct().ToList();
        var pending = c["pendingChanges"] as JsonObject;
        var rebooting = nodes.Where(n => (string?)n["parameterGroupStatus"] == "pending-reboot").Select(n => (string)n["id"]!).ToList();
        return Struct("CacheCluster",
            E("CacheClusterId", id),
            Endpoint("ConfigurationEndpoint", c["configurationEndpoint"]),
            E("CacheNodeType", c["nodeType"]),
            E("Engine", c["engine"]),
            E("EngineVersion", c["engineVersion"]),
            E("CacheClusterStatus", c["status"]),
            E("NumCacheNodes", c["numNodes"]),
            E("PreferredAvailabilityZone", zones.Count == 1 ? zones[0] : "Multiple"),
            E("CacheClusterCreateTime", c["createdAt"]),
            E("PreferredMaintenanceWindow", c["preferredMaintenanceWindow"]),
            Struct("PendingModifiedValues", E("NumCacheNodes", pending?["numNodes"]), E("CacheNodeType", pending?["nodeType"])),
            new XElement(Ns + "CacheSecurityGroups"),
            Struct("CacheParameterGroup",
                E("CacheParameterGroupName", (string?)c["parameterGroupName"] ?? $"default.{Family("memcached", (string)c["engineVersion"]!)}"),
                E("ParameterApplyStatus", rebooting.Count > 0 ? "pending-reboot" : "in-sync"),
                List("CacheNodeIdsToReboot", "CacheNodeId", rebooting.Select(n => (object?)NodeNumber(id, n)))),
            E("CacheSubnetGroupName", QueryActions.DefaultSubnetGroup),
            showNodes ? List("CacheNodes", "CacheNode", nodes.Select(n => (object?)Struct("CacheNode",
                E("CacheNodeId", NodeNumber(id, (string)n["id"]!)),
                E("CacheNodeStatus", n["status"]),
                E("CacheNodeCreateTime", c["createdAt"]),
                Endpoint("Endpoint", n["endpoint"]),
                E("ParameterGroupStatus", n["parameterGroupStatus"] ?? "in-sync"),
                E("CustomerAvailabilityZone", n["availabilityZone"])))) : null,
            E("AutoMinorVersionUpgrade", true),
            new XElement(Ns + "SecurityGroups"),
            E("AuthTokenEnabled", false),
            E("TransitEncryptionEnabled", false),
            E("AtRestEncryptionEnabled", false),
            E("ARN", Arn("cluster", id)),
            E("ReplicationGroupLogDeliveryEnabled", false),
            E("NetworkType", "ipv4"),
            E("IpDiscovery", "ipv4"));
    }

    public static string NodeNumber(string clusterId, string nodeId) =>
        nodeId.StartsWith(clusterId + "-", StringComparison.Ordinal) ? nodeId[(clusterId.Length + 1)..] : nodeId;

    public XElement Snapshot(JsonNode s)
    {
        var name = (string)s["name"]!;
        var files = s["files"]!.AsArray().Select(f => f!).ToList();
        var enabled = (string?)s["clusterMode"] == "enabled";
        return Struct("Snapshot",
            E("SnapshotName", name),
            E("ReplicationGroupId", s["replicationGroupId"]),
            E("SnapshotStatus", s["status"]),
            E("SnapshotSource", s["source"]),
            E("CacheNodeType", s["nodeType"]),
            E("Engine", (string?)s["engine"] ?? "redis"),
            E("EngineVersion", s["engineVersion"]),
            E("CacheParameterGroupName", $"default.{Family((string?)s["engine"] ?? "redis", (string)s["engineVersion"]!)}{(enabled ? ".cluster.on" : "")}"),
            E("CacheSubnetGroupName", QueryActions.DefaultSubnetGroup),
            E("AutoMinorVersionUpgrade", true),
            E("SnapshotRetentionLimit", 0),
            E("NumNodeGroups", s["numShards"]),
            List("NodeSnapshots", "NodeSnapshot", files.Select(f => (object?)Struct("NodeSnapshot",
                E("NodeGroupId", f["shardId"]),
                Struct("NodeGroupConfiguration", E("NodeGroupId", f["shardId"]), E("Slots", f["slots"])),
                E("CacheSize", $"{Math.Ceiling((long)f["sizeBytes"]! / (1024.0 * 1024.0)):0} MB"),
                E("SnapshotCreateTime", s["createdAt"])))),
            E("ARN", Arn("snapshot", name)),
            E("DataTiering", "disabled"));
    }

    public static XElement Event(JsonNode e) => Struct("Event",
        E("SourceIdentifier", e["sourceId"]),
        E("SourceType", e["sourceType"]),
        E("Message", e["message"]),
        E("Date", e["time"]));
}
