using System.Globalization;
using ControlPlane.Domain;

namespace ControlPlane.Api.Security.Tls;

/// <summary>
/// What a TLS node runs with: its mode (<see cref="TransitEncryptionModes"/>), the port that speaks TLS
/// (the node's port, which the endpoints forward to), the plain-text port of preferred mode, and its
/// certificate. The files go into the node's data volume before it starts; the root file system is
/// read-only and the node runs as nobody.
/// </summary>
public sealed record NodeTransit(string Mode, int Port, int? PlainPort, NodeCertificate Certificate, string AuthorityPem)
{
    public const string Folder = "/data";
    public const string AuthorityFile = Folder + "/tls-ca.crt";
    public const string CertificateFile = Folder + "/tls-node.crt";
    public const string KeyFile = Folder + "/tls-node.key";

    /// <summary>The files a renewal writes: new names, so that CONFIG SET sees a change and loads them.</summary>
    public static (string Certificate, string Key) RenewedFiles(long serial) =>
        ($"{Folder}/tls-node-{serial}.crt", $"{Folder}/tls-node-{serial}.key");

    public IReadOnlyDictionary<string, string> Files => new Dictionary<string, string>
    {
        [AuthorityFile] = AuthorityPem,
        [CertificateFile] = Certificate.CertificatePem,
        [KeyFile] = Certificate.KeyPem,
    };

    /// <summary>
    /// After the node's own options (which said --port with the node's port): TLS there, plain text
    /// on the second port in preferred mode or nowhere (0) in required mode; TLS on replication and
    /// the cluster bus. Clients need no certificate; nodes present theirs to each other (the cluster
    /// bus asks for one).
    /// </summary>
    public IReadOnlyList<string> RedisArguments(bool cluster) =>
    [
        "--port", Text(Mode == TransitEncryptionModes.Preferred ? PlainPort ?? 0 : 0),
        "--tls-port", Text(Port),
        "--tls-cert-file", CertificateFile, "--tls-key-file", KeyFile, "--tls-ca-cert-file", AuthorityFile,
        "--tls-auth-clients", "no",
        "--tls-replication", "yes",
        .. cluster ? ["--tls-cluster", "yes"] : Array.Empty<string>(),
    ];

    /// <summary>Memcached 1.6: TLS on its port (-Z), no plain text.</summary>
    public IReadOnlyList<string> MemcachedArguments() =>
        ["-Z", "-o", $"ssl_chain_cert={CertificateFile},ssl_key={KeyFile},ssl_ca_cert={AuthorityFile}"];

    private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);
}
