using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using System.Xml.Linq;

namespace ControlPlane.Api.QueryApi;

/// <summary>The XML of ElastiCache's query protocol: the response envelope, the error document and small element helpers.</summary>
public static class QueryXml
{
    public const string ApiVersion = "2015-02-02";
    public static readonly XNamespace Ns = "http://elasticache.amazonaws.com/doc/2015-02-02/";

    public static XDocument Response(string action, IEnumerable<XElement?> result, string requestId) =>
        new(new XElement(Ns + $"{action}Response",
            new XElement(Ns + $"{action}Result", result.OfType<XElement>()),
            new XElement(Ns + "ResponseMetadata", new XElement(Ns + "RequestId", requestId))));

    public static XDocument Error(QueryFault fault, string requestId) =>
        new(new XElement(Ns + "ErrorResponse",
            new XElement(Ns + "Error",
                new XElement(Ns + "Type", fault.Type),
                new XElement(Ns + "Code", fault.Code),
                new XElement(Ns + "Message", fault.Message)),
            new XElement(Ns + "RequestId", requestId)));

    /// <summary>An element, or nothing when the value is null (absent members are left out, as ElastiCache does).</summary>
    public static XElement? E(string name, object? value) => value switch
    {
        null => null,
        XElement or IEnumerable<XElement?> => new XElement(Ns + name, value is XElement x ? x : ((IEnumerable<XElement?>)value).OfType<XElement>()),
        bool b => new XElement(Ns + name, b ? "true" : "false"),
        DateTimeOffset t => new XElement(Ns + name, t.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture)),
        JsonNode node => E(name, Scalar(node)),
        IFormattable f => new XElement(Ns + name, f.ToString(null, CultureInfo.InvariantCulture)),
        _ => new XElement(Ns + name, value.ToString()),
    };

    /// <summary>A list element whose members carry the model's member name (<c>&lt;MemberClusters&gt;&lt;ClusterId&gt;</c>).</summary>
    public static XElement List(string name, string member, IEnumerable<object?> items) =>
        new(Ns + name, items.Select(i => i is XElement x ? new XElement(Ns + member, x.Elements()) : E(member, i)).OfType<XElement>());

    /// <summary>A structure element of the given members.</summary>
    public static XElement Struct(string name, params XElement?[] members) => new(Ns + name, members.OfType<XElement>());

    private static object? Scalar(JsonNode node) => node.GetValueKind() switch
    {
        System.Text.Json.JsonValueKind.True => true,
        System.Text.Json.JsonValueKind.False => false,
        System.Text.Json.JsonValueKind.Null => null,
        System.Text.Json.JsonValueKind.Number => node.GetValue<decimal>(),
        _ => (string?)node,
    };
}

/// <summary>
/// ARNs as ElastiCache writes them, <c>arn:aws:elasticache:&lt;region&gt;:&lt;account&gt;:replicationgroup:&lt;id&gt;</c>.
/// The account is derived from the tenant (12 digits of a SHA-256 of its name), so every tenant
/// has its own, stable account number; the region is the one the request was signed for.
/// </summary>
public static class Arns
{
    public static string Account(string tenant)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes("controlplane-tenant:" + tenant));
        var number = BitConverter.ToUInt64(hash, 0) % 1_000_000_000_000UL;
        return number.ToString("D12", CultureInfo.InvariantCulture);
    }

    public static string For(string region, string tenant, string type, string id) => $"arn:aws:elasticache:{region}:{Account(tenant)}:{type}:{id}";

    /// <summary>Type and id of an ARN of this tenant's account; anything else is InvalidARN.</summary>
    public static (string Type, string Id) Parse(string arn, string tenant)
    {
        var parts = arn.Split(':');
        if (parts is not ["arn", "aws", "elasticache", _, var account, var type, var id] || id.Length == 0)
            throw new QueryFault(400, "InvalidARN", $"{arn} is not an ElastiCache ARN (arn:aws:elasticache:<region>:<account>:<type>:<name>).");
        if (account != Account(tenant))
            throw new QueryFault(400, "InvalidARN", $"{arn} names account {account}; the key's account is {Account(tenant)}.");
        return (type, id);
    }
}
