using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace ControlPlane.Api.Http;

/// <summary>
/// <c>cpk_&lt;keyId&gt;_&lt;secret&gt;</c>: a 12-hex-digit key id (safe to log, names the key in events) and
/// a 256-bit secret in hex. The secret is random, so a salted HMAC-SHA256 is as strong as a slow KDF
/// here and cheap enough to check on every request; the comparison takes constant time.
/// </summary>
public static partial class ApiKeyFormat
{
    public const string Prefix = "cpk_";
    /// <summary>Longer than any key we hand out; anything longer is not looked at.</summary>
    public const int MaxLength = 128;

    [GeneratedRegex("^cpk_([0-9a-f]{12})_([0-9a-f]{64})$")]
    private static partial Regex Shape();

    [GeneratedRegex("^[0-9a-f]{12}$")]
    private static partial Regex KeyIdShape();

    public static (string KeyId, string Key) New()
    {
        var keyId = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));
        return (keyId, $"{Prefix}{keyId}_{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32))}");
    }

    public static bool TryParse(string? key, [NotNullWhen(true)] out string? keyId, [NotNullWhen(true)] out string? secret)
    {
        keyId = secret = null;
        if (key is null || key.Length > MaxLength || Shape().Match(key) is not { Success: true } m)
            return false;
        (keyId, secret) = (m.Groups[1].Value, m.Groups[2].Value);
        return true;
    }

    public static bool IsKeyId(string keyId) => KeyIdShape().IsMatch(keyId);

    public static string Hash(string secret)
    {
        var salt = RandomNumberGenerator.GetBytes(16);
        return $"hmac-sha256${Convert.ToBase64String(salt)}${Convert.ToBase64String(HMACSHA256.HashData(salt, Encoding.UTF8.GetBytes(secret)))}";
    }

    public static bool Verify(string secret, string stored)
    {
        var parts = stored.Split('$');
        if (parts is not ["hmac-sha256", var salt, var hash])
            return false;
        var actual = HMACSHA256.HashData(Convert.FromBase64String(salt), Encoding.UTF8.GetBytes(secret));
        return CryptographicOperations.FixedTimeEquals(actual, Convert.FromBase64String(hash));
    }
}
