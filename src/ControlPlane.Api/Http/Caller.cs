using System.Security.Claims;
using ControlPlane.Api.Data;

namespace ControlPlane.Api.Http;

/// <summary>
/// Who is calling and which tenant the call acts on: the key's own tenant; an admin may name
/// another with <c>?tenant=</c> (or <c>"tenant"</c> in a create's body). Endpoints turn public ids
/// into stored ones only through here, so a key never reaches another tenant's rows.
/// </summary>
public sealed class Caller(IHttpContextAccessor accessor)
{
    public const string TenantParameter = "tenant";

    private ClaimsPrincipal User => accessor.HttpContext?.User ?? new ClaimsPrincipal();

    public string? KeyId => User.FindFirstValue(ApiKeyClaims.KeyId);

    public bool IsAdmin => User.IsInRole(AccessPolicies.Admin);

    public string OwnTenant => User.FindFirstValue(ApiKeyClaims.Tenant) ?? TenantNames.Default;

    /// <summary>The tenant this request acts on.</summary>
    public string Tenant => IsAdmin && accessor.HttpContext?.Request.Query[TenantParameter] is [{ Length: > 0 } named]
        ? named.Trim().ToLowerInvariant()
        : OwnTenant;

    public string Internal(string publicId) => TenantNames.Internal(Tenant, publicId);

    /// <summary>The tenant a create puts its resource in, or the problem with the one asked for.</summary>
    public (string Tenant, IResult? Problem) ForCreate(string? requested)
    {
        var tenant = requested?.Trim().ToLowerInvariant() ?? Tenant;
        if (TenantNames.Check(tenant) is { } error)
            return (tenant, Problems.Invalid("tenant", $"The tenant {error}"));
        if (!IsAdmin && tenant != OwnTenant)
            return (tenant, Problems.Create(StatusCodes.Status403Forbidden, ApiKeyClaims.AccessDenied, "Only an admin key may create resources in another tenant."));
        return (tenant, null);
    }
}
