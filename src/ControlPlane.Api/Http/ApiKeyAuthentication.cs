using System.Security.Claims;
using System.Text.Encodings.Web;
using ControlPlane.Api.Data;
using ControlPlane.Api.Options;
using ControlPlane.Domain;
using Microsoft.AspNetCore.Authentication;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace ControlPlane.Api.Http;

public static class ApiKeyClaims
{
    public const string Scheme = "ApiKey";
    public const string KeyId = "cp:key-id";
    public const string Tenant = "cp:tenant";
    public const string AuthenticationRequired = ErrorCodes.AuthenticationRequired;
    public const string InvalidApiKey = ErrorCodes.InvalidApiKey;
    public const string AccessDenied = ErrorCodes.AccessDenied;

    public static ClaimsPrincipal Principal(string keyId, ApiRole role, string tenant) => new(new ClaimsIdentity(
        [new Claim(KeyId, keyId), new Claim(ClaimTypes.Role, JsonBodies.EnumText(role)), new Claim(Tenant, tenant)], Scheme, KeyId, ClaimTypes.Role));
}

/// <summary>
/// The admin key named by configuration (<c>ControlPlane:AdminKey</c>, or the file
/// <c>ControlPlane:AdminKeyFile</c> that deploy/up.sh writes): it works before any key is stored,
/// also while the database is being set up. Bearer calls check its hash; the secret stays in memory
/// too because Signature Version 4 (the ElastiCache query API) signs with it.
/// </summary>
public sealed class ConfiguredAdminKey
{
    private readonly string? _hash;

    public ConfiguredAdminKey(IOptions<ControlPlaneOptions> options)
    {
        var key = options.Value.AdminKey;
        if (string.IsNullOrEmpty(key) && options.Value.AdminKeyFile is { Length: > 0 } file)
            key = File.ReadAllText(file).Trim();
        if (string.IsNullOrEmpty(key))
            return;
        if (!ApiKeyFormat.TryParse(key, out var keyId, out var secret))
            throw new InvalidOperationException("ControlPlane:AdminKey (or the file ControlPlane:AdminKeyFile) is not a key of the form cpk_<12 hex>_<64 hex>.");
        (KeyId, _hash, Secret) = (keyId, ApiKeyFormat.Hash(secret), secret);
    }

    public string? KeyId { get; }

    /// <summary>The secret, for Signature Version 4 only.</summary>
    public string? Secret { get; }

    public bool Matches(string keyId, string secret) => keyId == KeyId && ApiKeyFormat.Verify(secret, _hash!);
}

/// <summary>
/// <c>Authorization: Bearer cpk_...</c>. The key is looked up on every request, so a revoked key
/// fails on the next one. Failures answer the contract's problem details; only the key id (never
/// the secret, never a malformed header) is logged.
/// </summary>
public sealed partial class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory loggerFactory, UrlEncoder encoder,
    ControlPlaneDbContext db, ConfiguredAdminKey adminKey)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, loggerFactory, encoder)
{
    private const string BearerPrefix = "Bearer ";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (!Request.Headers.TryGetValue("Authorization", out var values))
            return AuthenticateResult.NoResult();
        var header = values.Count == 1 ? values[0] : null;
        // Signature Version 4 is the query API's own (QueryApi/SigV4.cs), checked by its endpoint.
        if (header?.StartsWith(ControlPlane.Api.QueryApi.SigV4.Algorithm + " ", StringComparison.Ordinal) == true)
            return AuthenticateResult.NoResult();
        if (header is null || !header.StartsWith(BearerPrefix, StringComparison.OrdinalIgnoreCase)
            || !ApiKeyFormat.TryParse(header[BearerPrefix.Length..].Trim(), out var keyId, out var secret))
        {
            LogMalformed(Logger);
            return AuthenticateResult.Fail(ApiKeyClaims.InvalidApiKey);
        }
        if (adminKey.Matches(keyId, secret))
            return Success(keyId, ApiRole.Admin, TenantNames.Default);
        var key = await db.ApiKeys.AsNoTracking().FirstOrDefaultAsync(k => k.KeyId == keyId && k.RevokedAt == null, Context.RequestAborted);
        if (key is null || !ApiKeyFormat.Verify(secret, key.SecretHash))
        {
            LogRefused(Logger, keyId);
            return AuthenticateResult.Fail(ApiKeyClaims.InvalidApiKey);
        }
        return Success(key.KeyId, key.Role, key.Tenant);
    }

    private AuthenticateResult Success(string keyId, ApiRole role, string tenant) =>
        AuthenticateResult.Success(new AuthenticationTicket(ApiKeyClaims.Principal(keyId, role, tenant), Scheme.Name));

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.Headers.WWWAuthenticate = "Bearer";
        var result = Request.Headers.ContainsKey("Authorization")
            ? Problems.Create(StatusCodes.Status401Unauthorized, ApiKeyClaims.InvalidApiKey, "The API key is unknown, revoked or malformed.")
            : Problems.Create(StatusCodes.Status401Unauthorized, ApiKeyClaims.AuthenticationRequired, "This call needs an API key: Authorization: Bearer cpk_...");
        await result.ExecuteAsync(Context);
    }

    protected override async Task HandleForbiddenAsync(AuthenticationProperties properties) =>
        await Problems.Create(StatusCodes.Status403Forbidden, ApiKeyClaims.AccessDenied,
            $"The key's role ({Context.User.FindFirstValue(ClaimTypes.Role)}) does not allow this call.").ExecuteAsync(Context);

    [LoggerMessage(Level = LogLevel.Information, Message = "Refused a malformed Authorization header")]
    private static partial void LogMalformed(ILogger logger);

    [LoggerMessage(Level = LogLevel.Information, Message = "Refused API key {KeyId}: unknown or revoked")]
    private static partial void LogRefused(ILogger logger, string keyId);
}
