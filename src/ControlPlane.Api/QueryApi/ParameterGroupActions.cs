using System.Text.Json.Nodes;
using System.Xml.Linq;
using static ControlPlane.Api.QueryApi.QueryXml;

namespace ControlPlane.Api.QueryApi;

/// <summary>Parameter groups and their parameters (/v1/parameter-groups), and reboots of cache clusters' nodes.</summary>
public sealed partial class QueryActions
{
    private const string ParameterGroups = "parameter-groups";

    private XElement ParameterGroup(JsonNode g) => Struct("CacheParameterGroup",
        E("CacheParameterGroupName", g["name"]),
        E("CacheParameterGroupFamily", g["family"]),
        E("Description", g["description"]),
        E("IsGlobal", false),
        E("ARN", shapes.Arn("parametergroup", (string)g["name"]!)));

    /// <summary>A parameter in ElastiCache's shape; REST's source (user, engine-default) and changeType are ElastiCache's words already.</summary>
    private static XElement Parameter(JsonNode parameter, string family) => Struct("Parameter",
        E("ParameterName", parameter["name"]),
        E("ParameterValue", parameter["value"]),
        E("Description", parameter["description"]),
        E("Source", parameter["source"]),
        E("DataType", parameter["dataType"]),
        E("AllowedValues", parameter["allowedValues"]),
        E("IsModifiable", parameter["isModifiable"]),
        E("MinimumEngineVersion", MinimumEngineVersion(family)),
        E("ChangeType", parameter["changeType"]));

    /// <summary>Every parameter of a family exists from its first version here: redis7 7.0.0, valkey8 8.0.0, memcached1.6 1.6.0.</summary>
    private static string MinimumEngineVersion(string family)
    {
        var version = family.TrimStart("abcdefghijklmnopqrstuvwxyz".ToCharArray());
        return version.Contains('.') ? version + ".0" : version + ".0.0";
    }

    private async Task<IEnumerable<XElement?>> CreateCacheParameterGroup()
    {
        var body = new JsonObject
        {
            ["name"] = p.Required("CacheParameterGroupName"),
            ["family"] = p.Required("CacheParameterGroupFamily"),
            ["description"] = p.Required("Description"),
        };
        if (p.Structures("Tags").Count > 0)
            throw QueryFault.NotBuilt("Tags on parameter groups");
        p.RefuseUnread();
        return [ParameterGroup(await Call(HttpMethods.Post, $"/v1/{ParameterGroups}", body))];
    }

    private async Task<IEnumerable<XElement?>> DescribeCacheParameterGroups()
    {
        var name = p.Get("CacheParameterGroupName");
        var groups = name is not null ? [await Get(Path(ParameterGroups, name))] : await ListAll($"/v1/{ParameterGroups}");
        var (page, marker) = Paged(groups.Select(g => ((string)g["name"]!, ParameterGroup(g))));
        p.RefuseUnread();
        return [marker, E("CacheParameterGroups", page.Select(x => (XElement?)x))];
    }

    private async Task<IEnumerable<XElement?>> ModifyCacheParameterGroup()
    {
        var name = p.Required("CacheParameterGroupName");
        var values = new JsonObject();
        foreach (var pair in p.Structures("ParameterNameValues"))
            values[pair.GetValueOrDefault("ParameterName") ?? throw QueryFault.InvalidParameterValue("Every ParameterNameValue needs a ParameterName.")] =
                pair.GetValueOrDefault("ParameterValue") ?? throw QueryFault.InvalidParameterValue($"{pair["ParameterName"]} needs a ParameterValue.");
        if (values.Count == 0)
            throw QueryFault.MissingParameter("ParameterNameValues");
        p.RefuseUnread();
        var group = await Call(HttpMethods.Patch, Path(ParameterGroups, name), new JsonObject { ["parameters"] = values });
        return [E("CacheParameterGroupName", group["name"])];
    }

    private async Task<IEnumerable<XElement?>> ResetCacheParameterGroup()
    {
        var name = p.Required("CacheParameterGroupName");
        var all = p.Bool("ResetAllParameters") ?? false;
        var names = p.Structures("ParameterNameValues")
            .Select(v => v.GetValueOrDefault("ParameterName") ?? throw QueryFault.InvalidParameterValue("Every ParameterNameValue needs a ParameterName."))
            .ToList();
        if (all && names.Count > 0)
            throw QueryFault.InvalidParameterCombination("Give ResetAllParameters or ParameterNameValues, not both.");
        p.RefuseUnread();
        var body = all ? new JsonObject { ["all"] = true } : new JsonObject { ["parameterNames"] = new JsonArray(names.Select(n => (JsonNode)n).ToArray()) };
        var group = await Call(HttpMethods.Post, Path(ParameterGroups, name) + "/reset", body);
        return [E("CacheParameterGroupName", group["name"])];
    }

    private async Task<IEnumerable<XElement?>> DeleteCacheParameterGroup()
    {
        var name = p.Required("CacheParameterGroupName");
        p.RefuseUnread();
        await Call(HttpMethods.Delete, Path(ParameterGroups, name));
        return [];
    }

    private async Task<IEnumerable<XElement?>> DescribeCacheParameters()
    {
        var name = p.Required("CacheParameterGroupName");
        var source = p.Get("Source");
        if (source is not (null or "user" or "system" or "engine-default"))
            throw QueryFault.InvalidParameterValue("Source must be user, system or engine-default.");
        var group = await Get(Path(ParameterGroups, name));
        var family = (string)group["family"]!;
        var (page, marker) = Paged(group["parameters"]!.AsArray()
            .Where(x => source is null || (string?)x!["source"] == source)
            .Select(x => ((string)x!["name"]!, Parameter(x, family))));
        p.RefuseUnread();
        return [marker, E("Parameters", page.Select(x => (XElement?)x))];
    }

    /// <summary>The family's parameters as its default group (default.&lt;family&gt;) has them.</summary>
    private async Task<IEnumerable<XElement?>> DescribeEngineDefaultParameters()
    {
        var family = p.Required("CacheParameterGroupFamily");
        var answer = await rest.GetAsync(http, Path(ParameterGroups, $"default.{family}"), null, ct);
        if (answer.Code == "CacheParameterGroupNotFound")
            throw QueryFault.InvalidParameterValue($"There is no parameter group family {family}.");
        if (!answer.Ok)
            throw QueryFault.FromRest(answer);
        var (page, marker) = Paged(answer.Body!["parameters"]!.AsArray().Select(x => ((string)x!["name"]!, Parameter(x, family))));
        p.RefuseUnread();
        return [Struct("EngineDefaults", E("CacheParameterGroupFamily", family), marker, E("Parameters", page.Select(x => (XElement?)x)))];
    }

    // ---- reboots ----

    /// <summary>
    /// A Memcached cluster's nodes by their numbers, or a Redis member cluster's one node ("0001"): the
    /// REST reboot of the cluster or of the member's replication group, which restarts each node named in place.
    /// </summary>
    private async Task<IEnumerable<XElement?>> RebootCacheCluster()
    {
        var id = p.Required("CacheClusterId");
        var numbers = p.List("CacheNodeIdsToReboot");
        if (numbers.Count == 0)
            throw QueryFault.MissingParameter("CacheNodeIdsToReboot");
        p.RefuseUnread();
        var memcached = await rest.GetAsync(http, Path(Clusters, id), null, ct);
        if (memcached.Ok)
        {
            var nodes = new JsonArray(numbers.Select(n => (JsonNode)$"{id.ToLowerInvariant()}-{n}").ToArray());
            var cluster = await Call(HttpMethods.Post, Path(Clusters, id) + "/reboot", new JsonObject { ["nodeIds"] = nodes });
            return [shapes.MemcachedCluster(cluster, showNodes: false)];
        }
        if (memcached.Code != "CacheClusterNotFound")
            throw QueryFault.FromRest(memcached);
        var (group, shard, node) = await FindMemberCluster(id);
        if (numbers is not ["0001"])
            throw new QueryFault(404, "CacheClusterNotFound", $"Cache cluster {id} has one node, 0001.");
        var groupId = (string)group["id"]!;
        var after = await Call(HttpMethods.Post, Path(Groups, groupId) + "/reboot", new JsonObject { ["nodeIds"] = new JsonArray((string)node["id"]!) });
        foreach (var s in after["shards"]!.AsArray())
            foreach (var member in s!["nodes"]!.AsArray())
                if ((string?)member!["id"] == (string?)node["id"])
                    return [shapes.MemberCluster(after, s, member, showNodes: false)];
        return [shapes.MemberCluster(group, shard, node, showNodes: false)];
    }
}
