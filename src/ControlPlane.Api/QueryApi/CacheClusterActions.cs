using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using static ControlPlane.Api.QueryApi.QueryXml;

namespace ControlPlane.Api.QueryApi;

/// <summary>
/// Cache clusters as ElastiCache has them: Memcached clusters, and every node of a Redis group as a
/// "member cluster" of one node (<c>orders-0001-002</c>), which Terraform reads on every refresh.
/// </summary>
public sealed partial class QueryActions
{
    private const string Clusters = "cache-clusters";

    [GeneratedRegex(@"^(?<group>.+)-(?<shard>\d{4})-\d{3}$")]
    private static partial Regex MemberClusterId();

    private async Task<IEnumerable<XElement?>> CreateCacheCluster()
    {
        var id = p.Required("CacheClusterId");
        if (p.Get("ReplicationGroupId") is not null)
            throw QueryFault.NotBuilt("Adding a cache cluster to a replication group (use IncreaseReplicaCount)");
        var engine = p.Get("Engine") ?? throw QueryFault.MissingParameter("Engine");
        if (engine != "memcached")
            throw QueryFault.NotBuilt($"Single-node {engine} cache clusters (create a replication group with CreateReplicationGroup)");
        var body = new JsonObject { ["id"] = id, ["engine"] = engine };
        Copy("EngineVersion", body, "engineVersion");
        Copy("CacheNodeType", body, "nodeType");
        var nodes = p.Int("NumCacheNodes") ?? 1;
        body["numNodes"] = nodes;
        Copy("AZMode", body, "azMode");
        var zones = p.List("PreferredAvailabilityZones");
        if (p.Get("PreferredAvailabilityZone") is { } zone)
        {
            if (zones.Count > 0)
                throw QueryFault.InvalidParameterCombination("Give PreferredAvailabilityZone or PreferredAvailabilityZones, not both.");
            zones = Enumerable.Repeat(zone, nodes).ToList();
        }
        if (zones.Count > 0)
            body["preferredAvailabilityZones"] = new JsonArray(zones.Select(z => (JsonNode)z).ToArray());
        Copy("CacheParameterGroupName", body, "parameterGroupName");
        Copy("PreferredMaintenanceWindow", body, "preferredMaintenanceWindow");
        CommonNetworkParameters();
        var tags = TagsParameter();
        p.RefuseUnread();

        var cluster = await Call(HttpMethods.Post, $"/v1/{Clusters}", body);
        await TagAsync(Clusters, id, tags);
        return [shapes.MemcachedCluster(cluster, showNodes: false)];
    }

    private async Task<IEnumerable<XElement?>> DescribeCacheClusters()
    {
        var id = p.Get("CacheClusterId");
        var showNodes = p.Bool("ShowCacheNodeInfo") ?? false;
        var onlyOutsideGroups = p.Bool("ShowCacheClustersNotInReplicationGroups") ?? false;
        List<(string, XElement)> items;
        if (id is not null)
            items = [(id, await OneCacheCluster(id, showNodes))];
        else
        {
            items = (await ListAll($"/v1/{Clusters}")).Select(c => ((string)c["id"]!, shapes.MemcachedCluster(c, showNodes))).ToList();
            if (!onlyOutsideGroups)
                foreach (var g in await ListAll($"/v1/{Groups}"))
                    foreach (var shard in g["shards"]!.AsArray())
                        foreach (var node in shard!["nodes"]!.AsArray())
                            items.Add(((string)node!["id"]!, shapes.MemberCluster(g, shard, node, showNodes)));
        }
        var (page, marker) = Paged(items);
        p.RefuseUnread();
        return [marker, E("CacheClusters", page.Select(x => (XElement?)x))];
    }

    /// <summary>A Memcached cluster by id, else the Redis node of that id; CacheClusterNotFound when neither exists.</summary>
    private async Task<XElement> OneCacheCluster(string id, bool showNodes)
    {
        var answer = await rest.GetAsync(http, Path(Clusters, id), null, ct);
        if (answer.Ok)
            return shapes.MemcachedCluster(answer.Body!, showNodes);
        if (answer.Code != "CacheClusterNotFound")
            throw QueryFault.FromRest(answer);
        var (group, shard, node) = await FindMemberCluster(id);
        return shapes.MemberCluster(group, shard, node, showNodes);
    }

    private async Task<(JsonNode Group, JsonNode Shard, JsonNode Node)> FindMemberCluster(string id)
    {
        var notFound = new QueryFault(404, "CacheClusterNotFound", $"CacheCluster {id} not found.");
        if (MemberClusterId().Match(id.ToLowerInvariant()) is not { Success: true } m)
            throw notFound;
        var answer = await rest.GetAsync(http, Path(Groups, m.Groups["group"].Value), null, ct);
        if (!answer.Ok)
            throw answer.Code == "ReplicationGroupNotFound" ? notFound : QueryFault.FromRest(answer);
        foreach (var shard in answer.Body!["shards"]!.AsArray())
            foreach (var node in shard!["nodes"]!.AsArray())
                if ((string?)node!["id"] == id.ToLowerInvariant())
                    return (answer.Body, shard, node);
        throw notFound;
    }

    /// <summary>True when the id is a Memcached cluster; a Redis member cluster is refused for what only its group can do.</summary>
    private async Task RequireMemcached(string id, string what)
    {
        var answer = await rest.GetAsync(http, Path(Clusters, id), null, ct);
        if (answer.Ok)
            return;
        if (answer.Code != "CacheClusterNotFound")
            throw QueryFault.FromRest(answer);
        var (group, _, _) = await FindMemberCluster(id);
        throw QueryFault.InvalidParameterCombination(
            $"Cache cluster {id} is a node of replication group {(string?)group["id"]}; {what} it through the replication group.");
    }

    private async Task<IEnumerable<XElement?>> ModifyCacheCluster()
    {
        var id = p.Required("CacheClusterId");
        var patch = new JsonObject();
        if (p.Int("NumCacheNodes") is { } nodes)
            patch["numNodes"] = nodes;
        var remove = p.List("CacheNodeIdsToRemove");
        if (remove.Count > 0)
            patch["nodeIdsToRemove"] = new JsonArray(remove.Select(n => (JsonNode)$"{id.ToLowerInvariant()}-{n}").ToArray());
        Copy("CacheNodeType", patch, "nodeType");
        if (p.Get("AZMode") is not null || p.List("NewAvailabilityZones").Count > 0)
            throw QueryFault.NotBuilt("Choosing the zones of added Memcached nodes (AZMode, NewAvailabilityZones)");
        if (p.Get("EngineVersion") is { } version)
            throw QueryFault.NotBuilt($"Engine upgrades (EngineVersion {version})");
        Copy("CacheParameterGroupName", patch, "parameterGroupName");
        // A node type change waits for PreferredMaintenanceWindow unless ApplyImmediately, as the REST API does.
        Copy("PreferredMaintenanceWindow", patch, "preferredMaintenanceWindow");
        if (p.Bool("ApplyImmediately") is { } immediately)
            patch["applyImmediately"] = immediately;
        CommonNetworkParameters();
        p.RefuseUnread();
        await RequireMemcached(id, "modify");
        return [shapes.MemcachedCluster(await Call(HttpMethods.Patch, Path(Clusters, id), patch), showNodes: false)];
    }

    private async Task<IEnumerable<XElement?>> DeleteCacheCluster()
    {
        var id = p.Required("CacheClusterId");
        if (p.Get("FinalSnapshotIdentifier") is not null)
            throw new QueryFault(400, "SnapshotFeatureNotSupportedFault", "Memcached clusters have no snapshots; delete without FinalSnapshotIdentifier.");
        p.RefuseUnread();
        await RequireMemcached(id, "delete");
        return [shapes.MemcachedCluster(await Call(HttpMethods.Delete, Path(Clusters, id)), showNodes: false)];
    }
}
