using System.Collections.Concurrent;
using System.Globalization;
using ControlPlane.Api.Data;
using ControlPlane.Api.Engines;
using ControlPlane.Api.Reconciliation;
using ControlPlane.Domain;

namespace ControlPlane.Api.Security.Tls;

/// <summary>
/// The reconciler's side of transit encryption: each node's <see cref="NodeTransit"/> for its spec,
/// the plain-text port of preferred mode, the online steps between modes (CONFIG SET of port and
/// tls-port, no restart) and certificate renewal on running nodes. It tells <see cref="NodeTransport"/>
/// what every node's port speaks.
/// </summary>
public sealed partial class TransitEncryption(
    CertificateAuthority authority,
    NodeTransport transport,
    RedisAdmin redis,
    MemcachedAdmin memcached,
    ZoneRegistry zones,
    PortAllocator ports,
    NodeSpecs specs,
    TimeProvider time,
    ILogger<TransitEncryption> logger)
{
    /// <summary>The lease id of a node's plain-text port in preferred mode.</summary>
    public static string PlainLeaseId(string nodeId) => nodeId + PlainLeaseSuffix;

    public const string PlainLeaseSuffix = "-plain";

    /// <summary>The node id a plain-port lease belongs to, or null for another lease.</summary>
    public static string? NodeOfPlainLease(string leaseId) =>
        leaseId.EndsWith(PlainLeaseSuffix, StringComparison.Ordinal) ? leaseId[..^PlainLeaseSuffix.Length] : null;

    private readonly ConcurrentDictionary<string, NodeCertificate> _certificates = new();

    /// <summary>
    /// Before the group's specs are built: the authority loaded, a plain-text port for every node of
    /// preferred mode (and for every node about to move there), and the ports told to the transport.
    /// </summary>
    public async Task PrepareAsync(ControlPlaneDbContext db, ReplicationGroupEntity group, IReadOnlyList<RedisNodeEntity> nodes, CancellationToken ct)
    {
        if (!group.TransitEncryption && nodes.All(n => n.TransitEncryptionMode is null))
        {
            foreach (var node in nodes.Where(n => n.Port is not null))
                transport.Set(node.Host!, node.Port!.Value, tls: false);
            return;
        }
        await authority.LoadAsync(ct);
        var needPlain = nodes.Where(n => n.Port is not null && n.PlainPort is null
            && (n.TransitEncryptionMode == TransitEncryptionModes.Preferred
                || (n.TransitEncryptionMode is null && group.TransitEncryptionMode == TransitEncryptionModes.Preferred))).ToList();
        if (needPlain.Count > 0)
        {
            await ports.AllocateAsync(db, needPlain.Select(n => (PlainLeaseId(n.Id), n.Host!, (Action<int>)(p => n.PlainPort = p))).ToList(), ct);
            await db.SaveChangesAsync(ct);
        }
        foreach (var node in nodes.Where(n => n.Port is not null))
            transport.Set(node.Host!, node.Port!.Value, node.TransitEncryptionMode is not null);
    }

    public async Task PrepareAsync(CacheClusterEntity cluster, CancellationToken ct)
    {
        if (cluster.TransitEncryption)
            await authority.LoadAsync(ct);
        foreach (var node in cluster.Nodes.Where(n => n.Port is not null))
            transport.Set(node.Host!, node.Port!.Value, cluster.TransitEncryption);
    }

    /// <summary>What the node starts with; null for a plain-text node.</summary>
    public NodeTransit? For(RedisNodeEntity node)
    {
        if (node.TransitEncryptionMode is not { } mode || node.Port is not { } port)
            return null;
        var certificate = Certificate(node.Id, node.Host!);
        node.CertificateRenewAt ??= certificate.RenewAt;
        return new NodeTransit(mode, port, node.PlainPort, certificate, authority.CertificatePem);
    }

    public NodeTransit? For(CacheClusterEntity cluster, CacheNodeEntity node)
    {
        if (!cluster.TransitEncryption || node.Port is not { } port)
            return null;
        var certificate = Certificate(node.Id, node.Host!);
        node.CertificateRenewAt ??= certificate.RenewAt;
        return new NodeTransit(TransitEncryptionModes.Required, port, null, certificate, authority.CertificatePem);
    }

    /// <summary>
    /// Once the group is available: every node one step towards the group's mode (none -> preferred ->
    /// required), online, and the certificates due renewed. Each node's new state is saved as soon as it
    /// holds, so that a failure half way leaves every node's row telling what it speaks. Returns the
    /// events to record.
    /// </summary>
    public async Task<IReadOnlyList<string>> ConvergeAsync(ControlPlaneDbContext db, ReplicationGroupEntity group, IReadOnlyList<RedisNodeEntity> nodes, CancellationToken ct)
    {
        var events = new List<string>();
        var cluster = group.ClusterMode == ClusterMode.Enabled;
        var serving = nodes.Where(n => n.Status == NodeStatus.Available && n.Port is not null).ToList();
        var moving = serving.Where(n => n.TransitEncryptionMode != group.TransitEncryptionMode).ToList();
        if (moving.Count > 0 && group.TransitEncryptionMode is not null)
        {
            // Plain text -> preferred: each node serves TLS on its port and plain text on its second one;
            // the replication and cluster-bus links switch to TLS once every node accepts it.
            foreach (var node in moving.Where(n => n.TransitEncryptionMode is null && n.PlainPort is not null))
            {
                var (host, port) = (node.Host!, node.Port!.Value);
                var transit = new NodeTransit(TransitEncryptionModes.Preferred, port, node.PlainPort, Certificate(node.Id, host), authority.CertificatePem);
                await zones[node.AvailabilityZone].Runtime.WriteFilesAsync(specs.ContainerName(node.PoolId ?? node.Id), transit.Files, ct);
                await redis.ConfigSetAsync(host, port,
                [
                    ("tls-cert-file", NodeTransit.CertificateFile), ("tls-key-file", NodeTransit.KeyFile),
                    ("tls-ca-cert-file", NodeTransit.AuthorityFile), ("tls-auth-clients", "no"),
                ], ct);
                // In cluster mode the node keeps announcing its port and bus port while they move: without
                // tls-cluster yet, Redis would announce the plain-text port and derive the bus port from it.
                if (cluster)
                    await redis.ConfigSetAsync(host, port,
                    [
                        ("cluster-announce-port", Text(port)), ("cluster-announce-tls-port", Text(port)),
                        ("cluster-announce-bus-port", Text(port + RedisAdmin.ClusterBusOffset)),
                    ], ct);
                // Plain text moves first (the connections made to the port stay open), then TLS takes the port.
                await redis.ConfigSetAsync(host, port, "port", Text(node.PlainPort!.Value), ct);
                await redis.ConfigSetAsync(host, port, "tls-port", Text(port), ct);
                node.TransitEncryptionMode = TransitEncryptionModes.Preferred;
                node.CertificateRenewAt = transit.Certificate.RenewAt;
                await db.SaveChangesAsync(ct);
                transport.Set(host, port, tls: true);
                await redis.DisconnectAsync(host, port);
                events.Add($"Cache node {node.Id} serves TLS on port {port} and plain text on port {node.PlainPort}");
            }
            if (serving.All(n => n.TransitEncryptionMode is not null))
            {
                foreach (var node in serving)
                {
                    List<(string, string)> links = [("tls-replication", "yes")];
                    // With tls-cluster the node announces its TLS port, its plain-text one for plain-text
                    // clients, and the bus port derived from the TLS port: its own ports, no override needed.
                    if (cluster)
                        links.AddRange([("tls-cluster", "yes"), ("cluster-announce-port", "0"), ("cluster-announce-tls-port", "0")]);
                    await redis.ConfigSetAsync(node.Host!, node.Port!.Value, links, ct);
                }
            }
            // Preferred -> required: the plain-text port closes, and the clients still on it are let go.
            foreach (var node in moving.Where(n => n.TransitEncryptionMode == TransitEncryptionModes.Preferred && group.TransitEncryptionMode == TransitEncryptionModes.Required))
            {
                var (host, port) = (node.Host!, node.Port!.Value);
                await redis.ConfigSetAsync(host, port, "port", "0", ct);
                // Replication links made in plain text before reconnect over TLS (a partial resync).
                if (node.Role == NodeRole.Primary)
                    await redis.KillReplicaLinksAsync(host, port, ct);
                if (node.PlainPort is { } plain)
                {
                    await redis.KillClientsOnAsync(host, port, plain, ct);
                    await PortAllocator.ReleaseAsync(db, [PlainLeaseId(node.Id)], ct);
                }
                node.TransitEncryptionMode = TransitEncryptionModes.Required;
                node.PlainPort = null;
                await db.SaveChangesAsync(ct);
                events.Add($"Cache node {node.Id} serves TLS only");
            }
        }
        foreach (var node in serving.Where(n => n.TransitEncryptionMode is not null && n.CertificateRenewAt is { } due && due <= time.GetUtcNow()))
        {
            var (host, port) = (node.Host!, node.Port!.Value);
            var renewed = authority.Issue(node.Id, host);
            var (certificateFile, keyFile) = NodeTransit.RenewedFiles(time.GetUtcNow().ToUnixTimeMilliseconds());
            await zones[node.AvailabilityZone].Runtime.WriteFilesAsync(specs.ContainerName(node.PoolId ?? node.Id),
                new Dictionary<string, string> { [certificateFile] = renewed.CertificatePem, [keyFile] = renewed.KeyPem }, ct);
            // Redis loads the new pair at once; connections made before keep theirs.
            await redis.ConfigSetAsync(host, port, [("tls-cert-file", certificateFile), ("tls-key-file", keyFile)], ct);
            node.CertificateRenewAt = renewed.RenewAt;
            await db.SaveChangesAsync(ct);
            events.Add(Renewed(node.Id, renewed));
        }
        return events;
    }

    /// <summary>Memcached: certificates renewed in place (same files, refresh_certs).</summary>
    public async Task<IReadOnlyList<string>> ConvergeAsync(ControlPlaneDbContext db, CacheClusterEntity cluster, CancellationToken ct)
    {
        var events = new List<string>();
        if (!cluster.TransitEncryption)
            return events;
        foreach (var node in cluster.Nodes.Where(n => n.Status == NodeStatus.Available && n.Port is not null && n.CertificateRenewAt is { } due && due <= time.GetUtcNow()))
        {
            var renewed = authority.Issue(node.Id, node.Host!);
            await zones[node.AvailabilityZone].Runtime.WriteFilesAsync(specs.ContainerName(node.Id),
                new Dictionary<string, string> { [NodeTransit.CertificateFile] = renewed.CertificatePem, [NodeTransit.KeyFile] = renewed.KeyPem }, ct);
            if (!await memcached.RefreshCertificatesAsync(node.Host!, node.Port!.Value, ct))
                continue; // tried again at the next pass
            node.CertificateRenewAt = renewed.RenewAt;
            await db.SaveChangesAsync(ct);
            events.Add(Renewed(node.Id, renewed));
        }
        return events;
    }

    /// <summary>A renewal that took: new containers of the node start with it too. Returns the event.</summary>
    private string Renewed(string nodeId, NodeCertificate renewed)
    {
        _certificates[nodeId] = renewed;
        LogRenewed(logger, nodeId, renewed.NotAfter);
        return $"Cache node {nodeId} has a renewed certificate, valid until {renewed.NotAfter:yyyy-MM-dd HH:mm:ss} UTC";
    }

    /// <summary>The certificate a new container of the node starts with: one per node and process, issued again once due.</summary>
    private NodeCertificate Certificate(string nodeId, string host)
    {
        var now = time.GetUtcNow();
        return _certificates.AddOrUpdate(nodeId,
            _ => authority.Issue(nodeId, host),
            (_, held) => held.RenewAt <= now ? authority.Issue(nodeId, host) : held);
    }

    private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);

    [LoggerMessage(Level = LogLevel.Information, Message = "Renewed the TLS certificate of node {NodeId}; valid until {NotAfter:u}")]
    private static partial void LogRenewed(ILogger logger, string nodeId, DateTimeOffset notAfter);
}
