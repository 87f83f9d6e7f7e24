using System.Globalization;
using ControlPlane.Domain;

namespace ControlPlane.Api.Security.Tls;

/// <summary>
/// What a TLS node runs with: its mode (<see cref="TransitEncryptionModes"/>), its port (which the
/// endpoints forward to), in preferred mode the two inner ports behind its multiplexer
/// (<see cref="NodeMultiplexer"/>), and its certificate. The files go into the node's data volume
/// before it starts; the root file system is read-only and the node runs as nobody.
/// </summary>
public sealed record NodeTransit(string Mode, int Port, MultiplexedPorts? Inner, NodeCertificate Certificate, string AuthorityPem)
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
    /// After the node's own options (which said --port with the node's port): in required mode TLS
    /// there and no plain text (port 0); in preferred mode both on the inner ports behind the
    /// multiplexer, the node telling replicas and the cluster its own port (and the bus port beside
    /// it) rather than the inner ones. TLS on replication and the cluster bus. Clients need no
    /// certificate; nodes present theirs to each other (the cluster bus asks for one).
    /// </summary>
    public IReadOnlyList<string> RedisArguments(bool cluster) =>
    [
        .. Inner is { } inner
            ? ["--port", Text(inner.PlainPort), "--tls-port", Text(inner.TlsPort), .. AnnouncedArguments(Port, cluster)]
            : new[] { "--port", "0", "--tls-port", Text(Port) },
        "--tls-cert-file", CertificateFile, "--tls-key-file", KeyFile, "--tls-ca-cert-file", AuthorityFile,
        "--tls-auth-clients", "no",
        "--tls-replication", "yes",
        .. cluster ? ["--tls-cluster", "yes"] : Array.Empty<string>(),
    ];

    /// <summary>
    /// What a node behind a multiplexer tells others: its own port to a primary (REPLCONF listening-port)
    /// and, in cluster mode, to the cluster for both kinds of client (MOVED, CLUSTER SLOTS), with its
    /// bus where it always is (port + 10000, not beside the inner TLS port).
    /// </summary>
    public static IReadOnlyList<string> AnnouncedArguments(int port, bool cluster) =>
    [
        // Without it Redis would open its bus at the inner TLS port + 10000 (cluster-port is fixed at the start).
        .. cluster ? ["--cluster-port", Text(port + SlotRanges.ClusterBusOffset)] : Array.Empty<string>(),
        .. Announced(port, cluster).SelectMany(s => new[] { "--" + s.Name, s.Value }),
    ];

    /// <summary>The same as CONFIG SET pairs, for a running node (whose bus is already at port + 10000).</summary>
    public static IReadOnlyList<(string Name, string Value)> Announced(int port, bool cluster) =>
    [
        ("replica-announce-port", Text(port)),
        .. cluster
            ? [
                ("cluster-announce-port", Text(port)), ("cluster-announce-tls-port", Text(port)),
                ("cluster-announce-bus-port", Text(port + SlotRanges.ClusterBusOffset)),
            ]
            : Array.Empty<(string, string)>(),
    ];

    /// <summary>Memcached 1.6: TLS on its port (-Z), no plain text.</summary>
    public IReadOnlyList<string> MemcachedArguments() =>
        ["-Z", "-o", $"ssl_chain_cert={CertificateFile},ssl_key={KeyFile},ssl_ca_cert={AuthorityFile}"];

    private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);
}
