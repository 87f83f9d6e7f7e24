using System.Text;
using System.Text.Json.Nodes;
using System.Xml.Linq;
using static ControlPlane.Api.QueryApi.QueryXml;

namespace ControlPlane.Api.QueryApi;

/// <summary>
/// The actions of ElastiCache's API that this control plane carries out, each by calling the REST
/// endpoints (<see cref="RestFace"/>). Every other operation of ElastiCache's model answers
/// InvalidParameterCombination saying it is not supported, never a silent no-op; so does any
/// parameter an action does not read (<see cref="QueryParameters.RefuseUnread"/>).
/// </summary>
public sealed partial class QueryActions(HttpContext http, QueryParameters p, RestFace rest, QueryShapes shapes, string tenant, CancellationToken ct)
{
    public const string DefaultSubnetGroup = "default";

    private static readonly Dictionary<string, Func<QueryActions, Task<IEnumerable<XElement?>>>> Handlers = new(StringComparer.Ordinal)
    {
        ["CreateReplicationGroup"] = a => a.CreateReplicationGroup(),
        ["DescribeReplicationGroups"] = a => a.DescribeReplicationGroups(),
        ["ModifyReplicationGroup"] = a => a.ModifyReplicationGroup(),
        ["DeleteReplicationGroup"] = a => a.DeleteReplicationGroup(),
        ["ModifyReplicationGroupShardConfiguration"] = a => a.ModifyShardConfiguration(),
        ["IncreaseReplicaCount"] = a => a.ChangeReplicaCount(increase: true),
        ["DecreaseReplicaCount"] = a => a.ChangeReplicaCount(increase: false),
        ["TestFailover"] = a => a.TestFailover(),
        ["CreateCacheCluster"] = a => a.CreateCacheCluster(),
        ["DescribeCacheClusters"] = a => a.DescribeCacheClusters(),
        ["ModifyCacheCluster"] = a => a.ModifyCacheCluster(),
        ["DeleteCacheCluster"] = a => a.DeleteCacheCluster(),
        ["CreateSnapshot"] = a => a.CreateSnapshot(),
        ["DescribeSnapshots"] = a => a.DescribeSnapshots(),
        ["CopySnapshot"] = a => a.CopySnapshot(),
        ["DeleteSnapshot"] = a => a.DeleteSnapshot(),
        ["DescribeEvents"] = a => a.DescribeEvents(),
        ["DescribeCacheEngineVersions"] = a => a.DescribeCacheEngineVersions(),
        ["DescribeCacheSubnetGroups"] = a => a.DescribeCacheSubnetGroups(),
        ["AddTagsToResource"] = a => a.AddTags(),
        ["ListTagsForResource"] = a => a.ListTags(),
        ["RemoveTagsFromResource"] = a => a.RemoveTags(),
        ["CreateCacheParameterGroup"] = a => a.CreateCacheParameterGroup(),
        ["DescribeCacheParameterGroups"] = a => a.DescribeCacheParameterGroups(),
        ["ModifyCacheParameterGroup"] = a => a.ModifyCacheParameterGroup(),
        ["ResetCacheParameterGroup"] = a => a.ResetCacheParameterGroup(),
        ["DeleteCacheParameterGroup"] = a => a.DeleteCacheParameterGroup(),
        ["DescribeCacheParameters"] = a => a.DescribeCacheParameters(),
        ["DescribeEngineDefaultParameters"] = a => a.DescribeEngineDefaultParameters(),
        ["RebootCacheCluster"] = a => a.RebootCacheCluster(),
        ["CreateUser"] = a => a.CreateUser(),
        ["DescribeUsers"] = a => a.DescribeUsers(),
        ["ModifyUser"] = a => a.ModifyUser(),
        ["DeleteUser"] = a => a.DeleteUser(),
        ["CreateUserGroup"] = a => a.CreateUserGroup(),
        ["DescribeUserGroups"] = a => a.DescribeUserGroups(),
        ["ModifyUserGroup"] = a => a.ModifyUserGroup(),
        ["DeleteUserGroup"] = a => a.DeleteUserGroup(),
    };

    /// <summary>Operations that an issue of this control plane builds but that have not landed yet.</summary>
    private static readonly Dictionary<string, string> Pending = new(StringComparer.Ordinal)
    {
    };

    /// <summary>Every operation of ElastiCache's API version 2015-02-02 (botocore's service model).</summary>
    private static readonly HashSet<string> ModelOperations =
    [
        "AddTagsToResource", "AuthorizeCacheSecurityGroupIngress", "BatchApplyUpdateAction", "BatchStopUpdateAction", "CompleteMigration",
        "CopyServerlessCacheSnapshot", "CopySnapshot", "CreateCacheCluster", "CreateCacheParameterGroup", "CreateCacheSecurityGroup",
        "CreateCacheSubnetGroup", "CreateGlobalReplicationGroup", "CreateReplicationGroup", "CreateServerlessCache", "CreateServerlessCacheSnapshot",
        "CreateSnapshot", "CreateUser", "CreateUserGroup", "DecreaseNodeGroupsInGlobalReplicationGroup", "DecreaseReplicaCount",
        "DeleteCacheCluster", "DeleteCacheParameterGroup", "DeleteCacheSecurityGroup", "DeleteCacheSubnetGroup", "DeleteGlobalReplicationGroup",
        "DeleteReplicationGroup", "DeleteServerlessCache", "DeleteServerlessCacheSnapshot", "DeleteSnapshot", "DeleteUser", "DeleteUserGroup",
        "DescribeCacheClusters", "DescribeCacheEngineVersions", "DescribeCacheParameterGroups", "DescribeCacheParameters",
        "DescribeCacheSecurityGroups", "DescribeCacheSubnetGroups", "DescribeEngineDefaultParameters", "DescribeEvents",
        "DescribeGlobalReplicationGroups", "DescribeReplicationGroups", "DescribeReservedCacheNodes", "DescribeReservedCacheNodesOfferings",
        "DescribeServerlessCacheSnapshots", "DescribeServerlessCaches", "DescribeServiceUpdates", "DescribeSnapshots", "DescribeUpdateActions",
        "DescribeUserGroups", "DescribeUsers", "DisassociateGlobalReplicationGroup", "ExportServerlessCacheSnapshot",
        "FailoverGlobalReplicationGroup", "IncreaseNodeGroupsInGlobalReplicationGroup", "IncreaseReplicaCount",
        "ListAllowedNodeTypeModifications", "ListTagsForResource", "ModifyCacheCluster", "ModifyCacheParameterGroup", "ModifyCacheSubnetGroup",
        "ModifyGlobalReplicationGroup", "ModifyReplicationGroup", "ModifyReplicationGroupShardConfiguration", "ModifyServerlessCache",
        "ModifyUser", "ModifyUserGroup", "PurchaseReservedCacheNodesOffering", "RebalanceSlotsInGlobalReplicationGroup", "RebootCacheCluster",
        "RemoveTagsFromResource", "ResetCacheParameterGroup", "RevokeCacheSecurityGroupIngress", "StartMigration", "TestFailover", "TestMigration",
    ];

    public static bool Known(string action) => ModelOperations.Contains(action);

    public async Task<IEnumerable<XElement?>> RunAsync(string action)
    {
        if (Handlers.TryGetValue(action, out var handler))
            return await handler(this);
        if (Pending.TryGetValue(action, out var feature))
            throw QueryFault.NotBuilt(feature);
        throw QueryFault.NotBuilt($"The ElastiCache operation {action}");
    }

    // ---- calling the REST face ----

    private async Task<JsonNode> Call(string method, string path, JsonNode? body = null, IReadOnlyDictionary<string, string?>? query = null)
    {
        var answer = await rest.SendAsync(http, method, path, body, query, ct);
        return answer.Ok ? answer.Body ?? new JsonObject() : throw QueryFault.FromRest(answer);
    }

    private Task<JsonNode> Get(string path, IReadOnlyDictionary<string, string?>? query = null) => Call(HttpMethods.Get, path, null, query);

    private async Task<List<JsonNode>> ListAll(string path, IReadOnlyDictionary<string, string?>? query = null)
    {
        var (items, failure) = await rest.ListAllAsync(http, path, query, ct);
        return failure is null ? items : throw QueryFault.FromRest(failure);
    }

    private static string Path(string collection, string id) => $"/v1/{collection}/{Uri.EscapeDataString(id)}";

    // ---- paging: Marker / MaxRecords (20-100, default 100), as ElastiCache pages ----

    private (List<XElement> Page, XElement? Marker) Paged(IEnumerable<(string Key, XElement Item)> items)
    {
        var max = p.Int("MaxRecords") ?? 100;
        if (max is < 20 or > 100)
            throw QueryFault.InvalidParameterValue($"MaxRecords must be between 20 and 100; got {max}.");
        string? after = null;
        if (p.Get("Marker") is { Length: > 0 } marker)
        {
            try
            {
                after = Encoding.UTF8.GetString(Convert.FromBase64String(marker));
            }
            catch (FormatException)
            {
                throw QueryFault.InvalidParameterValue("Marker is not a marker this API handed out.");
            }
        }
        var ordered = items.OrderBy(i => i.Key, StringComparer.Ordinal).Where(i => after is null || string.CompareOrdinal(i.Key, after) > 0).Take(max + 1).ToList();
        var page = ordered.Take(max).ToList();
        return (page.Select(i => i.Item).ToList(),
            ordered.Count > max ? E("Marker", Convert.ToBase64String(Encoding.UTF8.GetBytes(page[^1].Key))) : null);
    }

    // ---- shared parameter rules ----

    /// <summary>A string parameter, when given, into a REST body's field.</summary>
    private void Copy(string parameter, JsonObject into, string field)
    {
        if (p.Get(parameter) is { } value)
            into[field] = value;
    }

    /// <summary>Parameters whose only value here is what this control plane already does; another value is a feature not built.</summary>
    private void OnlyValue(string name, string allowed, string what)
    {
        if (p.Get(name) is { } value && !value.Equals(allowed, StringComparison.OrdinalIgnoreCase))
            throw QueryFault.NotBuilt($"{what} ({name}={value})");
    }

    private void CommonNetworkParameters()
    {
        OnlyValue("CacheSubnetGroupName", DefaultSubnetGroup, "Cache subnet groups other than 'default'");
        OnlyValue("AtRestEncryptionEnabled", "false", "Encryption at rest");
        OnlyValue("DataTieringEnabled", "false", "Data tiering");
        OnlyValue("NetworkType", "ipv4", "Network types other than ipv4");
        OnlyValue("IpDiscovery", "ipv4", "IP discovery other than ipv4");
        // Minor version upgrades are the control plane's own business; nothing to switch.
        p.Accept("AutoMinorVersionUpgrade");
    }

    private JsonObject? TagsParameter()
    {
        var tags = p.Structures("Tags");
        if (tags.Count == 0)
            return null;
        var patch = new JsonObject();
        foreach (var tag in tags)
            patch[tag.GetValueOrDefault("Key") ?? throw QueryFault.InvalidParameterValue("Every tag needs a Key.")] = tag.GetValueOrDefault("Value") ?? "";
        return patch;
    }

    private async Task TagAsync(string collection, string id, JsonObject? tags)
    {
        if (tags is not null)
            await Call(HttpMethods.Patch, Path(collection, id) + "/tags", tags);
    }
}
