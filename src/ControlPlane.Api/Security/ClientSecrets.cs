using System.Text.Json;
using Microsoft.AspNetCore.DataProtection;

namespace ControlPlane.Api.Security;

/// <summary>
/// Auth tokens and RBAC user passwords, stored encrypted with the Data Protection ring that also
/// protects the node secrets (a database dump alone opens none of them). The nodes only ever get
/// their SHA-256 (ACL's <c>#&lt;hash&gt;</c>); the API never returns them.
/// </summary>
public sealed class ClientSecrets(IDataProtectionProvider protection)
{
    private readonly IDataProtector _protector = protection.CreateProtector("ControlPlane.ClientSecrets.v1");

    /// <summary>A list of secrets (null entries allowed: "no password", as an open default user still accepts while rotating to a token).</summary>
    public string Protect(IReadOnlyList<string?> secrets) => _protector.Protect(JsonSerializer.Serialize(secrets));

    public IReadOnlyList<string?> Unprotect(string? stored) =>
        stored is null ? [] : JsonSerializer.Deserialize<List<string?>>(_protector.Unprotect(stored)) ?? [];
}
