using System.Security.Cryptography;

namespace ControlPlane.Api.Http;

/// <summary>Auth tokens are kept only as salted PBKDF2 hashes: never returned, logged or stored in plain text.</summary>
public static class Secrets
{
    private const int Iterations = 100_000;

    public static string Hash(string secret)
    {
        var salt = RandomNumberGenerator.GetBytes(16);
        var hash = Rfc2898DeriveBytes.Pbkdf2(secret, salt, Iterations, HashAlgorithmName.SHA256, 32);
        return $"pbkdf2-sha256${Iterations}${Convert.ToBase64String(salt)}${Convert.ToBase64String(hash)}";
    }
}
