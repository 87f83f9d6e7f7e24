using System.Security.Cryptography;
using Microsoft.AspNetCore.DataProtection;

namespace ControlPlane.Api.QueryApi;

/// <summary>
/// Signature Version 4 needs the secret itself on the server, not only its hash: every key made
/// since the query API exists also keeps its secret encrypted with ASP.NET Core Data Protection
/// (the key ring lives in <c>ControlPlane:KeyRingDir</c>, outside the database, so a copy of the
/// database alone holds no usable secret). Bearer authentication still checks the hash.
/// </summary>
public sealed class ApiKeySecrets(IDataProtectionProvider provider)
{
    private readonly IDataProtector _protector = provider.CreateProtector("ControlPlane.ApiKeys.SigV4");

    public string Protect(string secret) => _protector.Protect(secret);

    /// <summary>The secret, or null when the key ring that protected it is gone.</summary>
    public string? Unprotect(string stored)
    {
        try
        {
            return _protector.Unprotect(stored);
        }
        catch (CryptographicException)
        {
            return null;
        }
    }
}
