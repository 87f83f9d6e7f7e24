using System.Globalization;
using System.Text.Json.Nodes;
using System.Xml.Linq;
using static ControlPlane.Api.QueryApi.QueryXml;

namespace ControlPlane.Api.QueryApi;

/// <summary>Snapshots, events, the catalogue, the one subnet group and tags.</summary>
public sealed partial class QueryActions
{
    private const string Snapshots = "snapshots";

    // ---- snapshots ----

    /// <summary>The group a snapshot is taken of: ReplicationGroupId, or the group of a Redis member cluster.</summary>
    private async Task<string> SnapshotSource()
    {
        var group = p.Get("ReplicationGroupId");
        var cluster = p.Get("CacheClusterId");
        if (group is not null && cluster is not null)
            throw QueryFault.InvalidParameterCombination("Give ReplicationGroupId or CacheClusterId, not both.");
        if (group is not null)
            return group;
        if (cluster is null)
            throw QueryFault.InvalidParameterCombination("Give ReplicationGroupId or CacheClusterId.");
        var memcached = await rest.GetAsync(http, Path(Clusters, cluster), null, ct);
        if (memcached.Ok)
            throw new QueryFault(400, "SnapshotFeatureNotSupportedFault", $"Cache cluster {cluster} is Memcached, which has no snapshots.");
        var (g, _, _) = await FindMemberCluster(cluster);
        return (string)g["id"]!;
    }

    private async Task<IEnumerable<XElement?>> CreateSnapshot()
    {
        var name = p.Required("SnapshotName");
        if (p.Get("KmsKeyId") is not null)
            throw QueryFault.NotBuilt("Encrypting snapshots with a KMS key (KmsKeyId)");
        var tags = TagsParameter();
        var group = await SnapshotSource();
        p.RefuseUnread();
        var snapshot = await Call(HttpMethods.Post, $"/v1/{Snapshots}", new JsonObject { ["name"] = name, ["replicationGroupId"] = group });
        await TagAsync(Snapshots, name, tags);
        return [shapes.Snapshot(snapshot)];
    }

    private async Task<IEnumerable<XElement?>> DescribeSnapshots()
    {
        var name = p.Get("SnapshotName");
        var source = p.Get("SnapshotSource");
        var wanted = source switch
        {
            null => null,
            "user" or "manual" => "manual",
            "system" or "automated" => "automated",
            _ => throw QueryFault.InvalidParameterValue("SnapshotSource must be user or system."),
        };
        string? group = null;
        if (p.Get("ReplicationGroupId") is not null || p.Get("CacheClusterId") is not null)
            group = await SnapshotSource();
        p.Accept("ShowNodeGroupConfig");
        List<JsonNode> found;
        if (name is not null)
            found = [await Get(Path(Snapshots, name))];
        else
            found = await ListAll($"/v1/{Snapshots}", new Dictionary<string, string?> { ["replicationGroupId"] = group });
        var items = found
            .Where(s => group is null || (string?)s["replicationGroupId"] == group.ToLowerInvariant())
            .Where(s => wanted is null || (string?)s["source"] == wanted)
            .Select(s => ((string)s["name"]!, shapes.Snapshot(s)));
        var (page, marker) = Paged(items);
        p.RefuseUnread();
        return [marker, E("Snapshots", page.Select(x => (XElement?)x))];
    }

    private async Task<IEnumerable<XElement?>> CopySnapshot()
    {
        var source = p.Required("SourceSnapshotName");
        var target = p.Required("TargetSnapshotName");
        if (p.Get("TargetBucket") is not null)
            throw QueryFault.NotBuilt("Exporting snapshots to a bucket (TargetBucket)");
        if (p.Get("KmsKeyId") is not null)
            throw QueryFault.NotBuilt("Encrypting snapshots with a KMS key (KmsKeyId)");
        var tags = TagsParameter();
        p.RefuseUnread();
        var copy = await Call(HttpMethods.Post, Path(Snapshots, source) + "/copy", new JsonObject { ["targetName"] = target });
        await TagAsync(Snapshots, target, tags);
        return [shapes.Snapshot(copy)];
    }

    private async Task<IEnumerable<XElement?>> DeleteSnapshot()
    {
        var name = p.Required("SnapshotName");
        p.RefuseUnread();
        return [shapes.Snapshot(await Call(HttpMethods.Delete, Path(Snapshots, name)))];
    }

    // ---- events ----

    private async Task<IEnumerable<XElement?>> DescribeEvents()
    {
        var query = new Dictionary<string, string?>();
        if (p.Get("SourceType") is { } type)
        {
            if (type is not ("replication-group" or "cache-cluster" or "snapshot"))
                throw QueryFault.NotBuilt($"Events of source type {type}");
            query["sourceType"] = type;
        }
        if (p.Get("SourceIdentifier") is { } source)
            query["sourceId"] = source;
        var start = p.Time("StartTime");
        var end = p.Time("EndTime");
        if (p.Int("Duration") is { } minutes)
        {
            if (minutes is < 1 or > 20160)
                throw QueryFault.InvalidParameterValue("Duration must be between 1 and 20160 minutes (14 days).");
            if (start is null && end is null)
                end = DateTimeOffset.UtcNow;
            start ??= end!.Value.AddMinutes(-minutes);
            end ??= start.Value.AddMinutes(minutes);
        }
        query["since"] = start?.ToString("O", CultureInfo.InvariantCulture);
        query["until"] = end?.ToString("O", CultureInfo.InvariantCulture);
        var events = await ListAll("/v1/events", query);
        // Newest first, as ElastiCache lists them. The marker keys on the event's own time (and what it says), not
        // its position: events recorded while a client pages come before the marker instead of pushing one already
        // handed out past it a second time.
        var items = events.Select(e => (EventKey(e), QueryShapes.Event(e)));
        var (page, marker) = Paged(items);
        p.RefuseUnread();
        return [marker, E("Events", page.Select(x => (XElement?)x))];
    }

    private static string EventKey(JsonNode e) =>
        $"{DateTimeOffset.MaxValue.UtcTicks - ((DateTimeOffset)e["time"]!).UtcTicks:D19}/{e["sourceType"]}/{e["sourceId"]}/{e["message"]}";

    // ---- catalogue ----

    private async Task<IEnumerable<XElement?>> DescribeCacheEngineVersions()
    {
        var engine = p.Get("Engine");
        var version = p.Get("EngineVersion");
        var family = p.Get("CacheParameterGroupFamily");
        var defaultOnly = p.Bool("DefaultOnly") ?? false;
        var versions = (await Get("/v1/engine-versions")).AsArray().Select(v => v!)
            .Where(v => engine is null || (string?)v["engine"] == engine)
            .Where(v => version is null || (string?)v["version"] == version)
            .Select(v => (Engine: (string)v["engine"]!, Version: (string)v["version"]!))
            .Select(v => (v.Engine, v.Version, Family: QueryShapes.Family(v.Engine, v.Version)))
            .Where(v => family is null || v.Family == family)
            .ToList();
        if (defaultOnly)
            versions = versions.GroupBy(v => v.Engine).Select(g => g.OrderByDescending(v => Version.TryParse(v.Version, out var n) ? n : new Version()).First()).ToList();
        var items = versions.Select(v => ($"{v.Engine}/{v.Version}", Struct("CacheEngineVersion",
            E("Engine", v.Engine), E("EngineVersion", v.Version), E("CacheParameterGroupFamily", v.Family),
            E("CacheEngineDescription", v.Engine switch { "memcached" => "Memcached", "valkey" => "Valkey", _ => "Redis" }),
            E("CacheEngineVersionDescription", $"{v.Engine} {v.Version}"))));
        var (page, marker) = Paged(items);
        p.RefuseUnread();
        return [marker, E("CacheEngineVersions", page.Select(x => (XElement?)x))];
    }

    /// <summary>One subnet group, "default", with a subnet per availability zone: nodes listen on loopback ports of each zone's host.</summary>
    private async Task<IEnumerable<XElement?>> DescribeCacheSubnetGroups()
    {
        var name = p.Get("CacheSubnetGroupName");
        if (name is not null && name != DefaultSubnetGroup)
            throw new QueryFault(400, "CacheSubnetGroupNotFoundFault", $"Cache subnet group {name} not found; the only one is '{DefaultSubnetGroup}'.");
        var zones = (await Get("/v1/availability-zones")).AsArray().Select(z => (string)z!["name"]!).ToList();
        var group = Struct("CacheSubnetGroup",
            E("CacheSubnetGroupName", DefaultSubnetGroup),
            E("CacheSubnetGroupDescription", "The availability zones of this control plane"),
            E("VpcId", "vpc-controlplane"),
            List("Subnets", "Subnet", zones.Select(z => (object?)Struct("Subnet",
                E("SubnetIdentifier", $"subnet-{z}"),
                Struct("SubnetAvailabilityZone", E("Name", z)),
                List("SupportedNetworkTypes", "member", ["ipv4"])))),
            E("ARN", shapes.Arn("subnetgroup", DefaultSubnetGroup)),
            List("SupportedNetworkTypes", "member", ["ipv4"]));
        var (page, marker) = Paged([(DefaultSubnetGroup, group)]);
        p.RefuseUnread();
        return [marker, E("CacheSubnetGroups", page.Select(x => (XElement?)x))];
    }

    // ---- tags: the REST resource's tags, named by ARN ----

    private string TagsPath()
    {
        var (type, id) = Arns.Parse(p.Required("ResourceName"), tenant);
        var collection = type switch
        {
            "replicationgroup" => Groups,
            "cluster" => Clusters,
            "snapshot" => Snapshots,
            _ => throw QueryFault.NotBuilt($"Tags on {type} resources"),
        };
        return Path(collection, id) + "/tags";
    }

    private async Task<string> ClusterTagsPath(string path)
    {
        // A Redis member cluster's ARN names a node, which has no tags of its own here.
        if (path.StartsWith($"/v1/{Clusters}/", StringComparison.Ordinal))
        {
            var id = Uri.UnescapeDataString(path.Split('/')[3]);
            await RequireMemcached(id, "tag");
        }
        return path;
    }

    private static IEnumerable<XElement?> TagList(JsonNode tags) =>
        [List("TagList", "Tag", tags.AsObject().Select(t => (object?)Struct("Tag", E("Key", t.Key), E("Value", t.Value))))];

    private async Task<IEnumerable<XElement?>> AddTags()
    {
        var path = TagsPath();
        var tags = TagsParameter() ?? throw QueryFault.MissingParameter("Tags");
        p.RefuseUnread();
        return TagList(await Call(HttpMethods.Patch, await ClusterTagsPath(path), tags));
    }

    private async Task<IEnumerable<XElement?>> ListTags()
    {
        var path = TagsPath();
        p.RefuseUnread();
        return TagList(await Get(await ClusterTagsPath(path)));
    }

    private async Task<IEnumerable<XElement?>> RemoveTags()
    {
        var path = TagsPath();
        var keys = p.List("TagKeys");
        if (keys.Count == 0)
            throw QueryFault.MissingParameter("TagKeys");
        p.RefuseUnread();
        path = await ClusterTagsPath(path);
        var current = (await Get(path)).AsObject();
        var missing = keys.Where(k => !current.ContainsKey(k)).ToList();
        if (missing.Count > 0)
            throw new QueryFault(404, "TagNotFound", $"The resource has no tag {string.Join(", ", missing)}.");
        var patch = new JsonObject();
        foreach (var key in keys)
            patch[key] = null;
        return TagList(await Call(HttpMethods.Patch, path, patch));
    }
}
