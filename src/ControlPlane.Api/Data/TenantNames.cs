using ControlPlane.Domain;

namespace ControlPlane.Api.Data;

/// <summary>
/// The one mapping between what a tenant sees and what is stored and reaches Docker, Redis,
/// nftables and the file system. A stored id is <c>&lt;tenant&gt;--&lt;id&gt;</c>: public ids follow the
/// identifier rules, which forbid two hyphens in a row, so the first "--" always ends the tenant
/// and no two tenants' names can collide. Node ids, container names, port leases, endpoint chains
/// and snapshot paths are all derived from these stored ids, so they are tenant-qualified too.
/// The default tenant is stored bare, which keeps every resource made before tenants existed
/// (and its running containers) exactly as it was.
/// </summary>
public static class TenantNames
{
    public const string Default = "default";
    public const string Separator = "--";
    public const int MaxTenantLength = 20;

    /// <summary>Room a stored id needs beyond the public id's limit.</summary>
    public const int MaxPrefixLength = MaxTenantLength + 2;

    public static string Internal(string tenant, string publicId) =>
        tenant == Default ? publicId : tenant + Separator + publicId;

    public static string Public(string internalId)
    {
        var at = internalId.IndexOf(Separator, StringComparison.Ordinal);
        return at < 0 ? internalId : internalId[(at + Separator.Length)..];
    }

    public static string TenantOf(string internalId)
    {
        var at = internalId.IndexOf(Separator, StringComparison.Ordinal);
        return at < 0 ? Default : internalId[..at];
    }

    /// <summary>An event text names stored ids; the tenant reads its own names.</summary>
    public static string PublicText(string tenant, string text) =>
        tenant == Default ? text : text.Replace(tenant + Separator, "", StringComparison.Ordinal);

    /// <summary>Null when the tenant name is valid, else why not.</summary>
    public static string? Check(string? tenant) => Identifiers.Check(tenant, MaxTenantLength);
}
