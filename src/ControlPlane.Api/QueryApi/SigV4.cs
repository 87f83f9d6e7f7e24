using System.Globalization;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using ControlPlane.Api.Data;
using ControlPlane.Api.Http;
using Microsoft.EntityFrameworkCore;

namespace ControlPlane.Api.QueryApi;

/// <summary>
/// AWS Signature Version 4 over a query request, checked with the API key's secret: the access key
/// id is the key's keyId, the secret access key its secret (kept encrypted, see
/// <see cref="ApiKeySecrets"/>). The key's role and tenant then apply exactly as for a Bearer key.
/// Unknown, revoked and keys without a SigV4 secret get one and the same answer, as on REST.
/// </summary>
public sealed partial class SigV4(ControlPlaneDbContext db, ConfiguredAdminKey adminKey, ApiKeySecrets secrets, TimeProvider time)
{
    public const string Algorithm = "AWS4-HMAC-SHA256";
    public static readonly TimeSpan AllowedSkew = TimeSpan.FromMinutes(15);

    public sealed record Signed(ClaimsPrincipal Principal, string Region);

    public async Task<Signed> VerifyAsync(HttpRequest request, byte[] body, CancellationToken ct)
    {
        if (request.Headers.Authorization is not [{ } header] || !header.StartsWith(Algorithm + " ", StringComparison.Ordinal))
            throw new QueryFault(403, "MissingAuthenticationToken",
                "Request is missing Authentication Token: sign it with Signature Version 4, the API key's id as the access key id and its secret as the secret access key.");
        if (AuthorizationShape().Match(header) is not { Success: true } m)
            throw new QueryFault(400, "IncompleteSignature", "The Authorization header must name Credential, SignedHeaders and Signature.");
        var (credential, signedHeaders, signature) = (m.Groups["credential"].Value, m.Groups["headers"].Value, m.Groups["signature"].Value);
        var scope = credential.Split('/');
        if (scope is not [var keyId, var date, var region, var service, "aws4_request"])
            throw new QueryFault(400, "IncompleteSignature", "Credential must be <access key id>/<yyyymmdd>/<region>/elasticache/aws4_request.");
        if (service != "elasticache")
            throw new QueryFault(403, "SignatureDoesNotMatch", $"The credential scope names the service '{service}'; this endpoint is elasticache.");

        if (request.Headers["X-Amz-Date"] is not [{ } amzDate]
            || !DateTimeOffset.TryParseExact(amzDate, "yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var signedAt))
            throw new QueryFault(400, "IncompleteSignature", "X-Amz-Date (yyyyMMddTHHmmssZ) is required and must be signed.");
        if (!amzDate.StartsWith(date, StringComparison.Ordinal))
            throw new QueryFault(403, "SignatureDoesNotMatch", "The credential scope's date is not the date of X-Amz-Date.");
        var now = time.GetUtcNow();
        if ((now - signedAt).Duration() > AllowedSkew)
            throw new QueryFault(400, "RequestExpired",
                $"Signature expired or not yet valid: {amzDate} is more than {AllowedSkew.TotalMinutes} minutes from the server's time {now:yyyyMMdd'T'HHmmss'Z'}.");
        var headers = signedHeaders.Split(';');
        if (!headers.Contains("host") || !headers.Contains("x-amz-date"))
            throw new QueryFault(400, "IncompleteSignature", "SignedHeaders must include host and x-amz-date.");

        var (principal, secret) = await FindKeyAsync(keyId, ct);
        if (principal is null || secret is null)
            throw new QueryFault(403, "InvalidClientTokenId", "The security token included in the request is invalid.");

        var canonical = string.Join('\n',
            request.Method,
            CanonicalPath(request.Path.Value ?? "/"),
            CanonicalQuery(request.QueryString.Value),
            string.Concat(headers.Select(h => $"{h}:{HeaderValue(request, h)}\n")),
            signedHeaders,
            Hex(SHA256.HashData(body)));
        var toSign = string.Join('\n', Algorithm, amzDate, $"{date}/{region}/{service}/aws4_request", Hex(SHA256.HashData(Encoding.UTF8.GetBytes(canonical))));
        var key = Hmac(Hmac(Hmac(Hmac(Encoding.UTF8.GetBytes("AWS4" + secret), date), region), service), "aws4_request");
        var expected = Encoding.ASCII.GetBytes(Hex(Hmac(key, toSign)));
        if (!CryptographicOperations.FixedTimeEquals(expected, Encoding.ASCII.GetBytes(signature)))
            throw new QueryFault(403, "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.");
        return new Signed(principal, region);
    }

    private async Task<(ClaimsPrincipal? Principal, string? Secret)> FindKeyAsync(string keyId, CancellationToken ct)
    {
        if (keyId == adminKey.KeyId)
            return (ApiKeyClaims.Principal(keyId, ApiRole.Admin, TenantNames.Default), adminKey.Secret);
        if (!ApiKeyFormat.IsKeyId(keyId))
            return (null, null);
        var key = await db.ApiKeys.AsNoTracking().FirstOrDefaultAsync(k => k.KeyId == keyId && k.RevokedAt == null, ct);
        if (key?.SecretProtected is not { } stored || secrets.Unprotect(stored) is not { } secret)
            return (null, null);
        return (ApiKeyClaims.Principal(key.KeyId, key.Role, key.Tenant), secret);
    }

    private static string HeaderValue(HttpRequest request, string name) =>
        string.Join(',', request.Headers[name].Select(v => Spaces().Replace((v ?? "").Trim(), " ")));

    private static string CanonicalPath(string path) =>
        string.Join('/', path.Split('/').Select(s => Uri.EscapeDataString(Uri.UnescapeDataString(s))));

    private static string CanonicalQuery(string? query)
    {
        if (string.IsNullOrEmpty(query) || query == "?")
            return "";
        return string.Join('&', query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries)
            .Select(p => p.Split('=', 2))
            .Select(p => (Key: Uri.EscapeDataString(Uri.UnescapeDataString(p[0])), Value: Uri.EscapeDataString(Uri.UnescapeDataString(p.Length > 1 ? p[1] : ""))))
            .OrderBy(p => p.Key, StringComparer.Ordinal).ThenBy(p => p.Value, StringComparer.Ordinal)
            .Select(p => $"{p.Key}={p.Value}"));
    }

    private static byte[] Hmac(byte[] key, string data) => HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(data));

    private static string Hex(byte[] bytes) => Convert.ToHexStringLower(bytes);

    [GeneratedRegex(@"^AWS4-HMAC-SHA256\s+Credential=(?<credential>[^,\s]+),\s*SignedHeaders=(?<headers>[a-z0-9;\-]+),\s*Signature=(?<signature>[0-9a-f]{64})$")]
    private static partial Regex AuthorizationShape();

    [GeneratedRegex(" +")]
    private static partial Regex Spaces();
}
