using System.Collections.Concurrent;
using System.Globalization;
using System.Runtime.CompilerServices;
using ControlPlane.Api.Data;
using ControlPlane.Api.Engines;
using ControlPlane.Api.Options;
using ControlPlane.Api.Runtime;
using ControlPlane.Api.Security.Tls;
using ControlPlane.Api.Security;
using ControlPlane.Domain;
using Microsoft.Extensions.Options;

namespace ControlPlane.Api.Reconciliation;

/// <summary>
/// The reconciler's side of transit encryption: each node's <see cref="NodeTransit"/> for its spec,
/// the multiplexer and inner ports of preferred mode (<see cref="NodeMultiplexer"/>), the online steps
/// between modes (CONFIG SET of port and tls-port, no restart) and certificate renewal on running
/// nodes. It tells <see cref="NodeTransport"/> what every node's port speaks.
/// </summary>
public sealed partial class TransitEncryption(
    CertificateAuthority authority,
    NodeTransport transport,
    IRedisAdmin redis,
    ISlotMover mover,
    IHeartbeats heartbeats,
    IMemcachedAdmin memcached,
    ZoneRegistry zones,
    PortAllocator ports,
    NodeSpecs specs,
    IOptions<ControlPlaneOptions> options,
    TimeProvider time,
    ILogger<TransitEncryption> logger)
{
    /// <summary>The lease id of a node's inner plain-text port in preferred mode.</summary>
    public static string PlainLeaseId(string nodeId) => nodeId + PlainLeaseSuffix;

    /// <summary>The lease id of a node's inner TLS port in preferred mode.</summary>
    public static string TlsLeaseId(string nodeId) => nodeId + TlsLeaseSuffix;

    public const string PlainLeaseSuffix = "-plain";

    public const string TlsLeaseSuffix = "-tls";

    /// <summary>The node id an inner-port lease belongs to, or null for another lease.</summary>
    public static string? NodeOfInnerLease(string leaseId) =>
        leaseId.EndsWith(PlainLeaseSuffix, StringComparison.Ordinal) ? leaseId[..^PlainLeaseSuffix.Length]
        : leaseId.EndsWith(TlsLeaseSuffix, StringComparison.Ordinal) ? leaseId[..^TlsLeaseSuffix.Length]
        : null;

    /// <summary>How long a node's TLS listener may wait for its multiplexer to let go of the port (a soft stop takes milliseconds).</summary>
    private static readonly TimeSpan PortHandOver = TimeSpan.FromSeconds(5);

    private readonly ConcurrentDictionary<string, NodeCertificate> _certificates = new();

    private readonly ConditionalWeakTable<ContainerView, ConcurrentDictionary<string, bool>> _startedInPass = new();

    /// <summary>
    /// Before the group's specs are built: the authority loaded, the inner ports of every node of
    /// preferred mode (and of every node about to move there), the multiplexers of preferred mode
    /// running, and the ports told to the transport.
    /// </summary>
    public async Task PrepareAsync(ControlPlaneDbContext db, ReplicationGroupEntity group, IReadOnlyList<RedisNodeEntity> nodes, ContainerView view, CancellationToken ct)
    {
        if (!group.TransitEncryption && nodes.All(n => n.TransitEncryptionMode is null))
        {
            foreach (var node in nodes.Where(n => n.Port is not null))
                transport.Set(node.Host!, node.Port!.Value, tls: false);
            return;
        }
        await authority.LoadAsync(ct);
        var needInner = nodes.Where(n => n.Port is not null && (n.PlainPort is null || n.InnerTlsPort is null)
            && (n.TransitEncryptionMode == TransitEncryptionModes.Preferred
                || (n.TransitEncryptionMode is null && group.TransitEncryptionMode == TransitEncryptionModes.Preferred))).ToList();
        if (needInner.Count > 0)
        {
            await ports.AllocateAsync(db,
            [
                .. needInner.Where(n => n.PlainPort is null).Select(n => (PlainLeaseId(n.Id), n.Host!, (Action<int>)(p => n.PlainPort = p))),
                .. needInner.Where(n => n.InnerTlsPort is null).Select(n => (TlsLeaseId(n.Id), n.Host!, (Action<int>)(p => n.InnerTlsPort = p))),
            ], ct);
            await db.SaveChangesAsync(ct);
        }
        foreach (var node in nodes.Where(n => n.Port is not null))
        {
            transport.Set(node.Host!, node.Port!.Value, node.TransitEncryptionMode is not null);
            if (node.InnerTlsPort is { } inner)
                transport.Set(node.Host!, inner, tls: true);
        }
        foreach (var node in nodes.Where(n => n.TransitEncryptionMode == TransitEncryptionModes.Preferred && n.Status is not (NodeStatus.Failed or NodeStatus.Deleting)))
            await EnsureMultiplexerAsync(group, node, view, ct);
    }

    /// <summary>
    /// A node of preferred mode has its multiplexer on its port, also after a reboot of the host, a
    /// crash of HAProxy, or a new container for the node (it starts on the inner ports).
    /// </summary>
    private async Task EnsureMultiplexerAsync(ReplicationGroupEntity group, RedisNodeEntity node, ContainerView view, CancellationToken ct)
    {
        if (Inner(node) is not { } inner || !view.Listed(node.AvailabilityZone))
            return;
        var spec = MultiplexerSpec(group, node, inner);
        var hash = spec.Labels[Labels.SpecHash];
        var running = view.Named(node.AvailabilityZone, spec.Name);
        if ((running is { Running: true } && running.Labels.GetValueOrDefault(Labels.SpecHash) == hash) || StartedInPass(view, spec))
            return;
        var runtime = zones[node.AvailabilityZone].Runtime;
        if (running is not null)
            await runtime.RemoveAsync(running.Id, ct);
        await runtime.RunAsync(spec, ct);
        MarkStarted(view, spec);
        LogMultiplexerStarted(logger, node.Id, node.Port!.Value, inner.TlsPort, inner.PlainPort);
    }

    // The steps of one pass share its listing: a multiplexer started by an earlier step is not in it.
    private bool StartedInPass(ContainerView view, ContainerSpec spec) =>
        _startedInPass.TryGetValue(view, out var started) && started.ContainsKey(spec.Name + "/" + spec.Labels[Labels.SpecHash]);

    private void MarkStarted(ContainerView view, ContainerSpec spec) =>
        _startedInPass.GetOrCreateValue(view)[spec.Name + "/" + spec.Labels[Labels.SpecHash]] = true;

    /// <summary>
    /// The replication and cluster-bus links switch to TLS once every node accepts it. Asked again at
    /// every step while the group is modifying, not only in the step that moved the last node: a
    /// failure between saving that node's mode and these CONFIG SETs would otherwise leave the links
    /// in plain text under a group that says TLS (each node's row already says it has moved).
    /// </summary>
    private async Task LinksOverTlsAsync(ReplicationGroupEntity group, IReadOnlyList<RedisNodeEntity> serving, CancellationToken ct)
    {
        if (serving.Count == 0 || serving.Any(n => n.TransitEncryptionMode is null))
            return;
        var links = group.ClusterMode == ClusterMode.Enabled ? [("tls-replication", "yes"), ("tls-cluster", "yes")] : new[] { ("tls-replication", "yes") };
        foreach (var node in serving)
            await redis.ConfigSetAsync(node.Host!, node.Port!.Value, links, ct);
    }

    private ContainerSpec MultiplexerSpec(ReplicationGroupEntity group, RedisNodeEntity node, MultiplexedPorts inner) =>
        NodeMultiplexer.Spec(MultiplexerName(node.Id), options.Value.EndpointImage, options.Value.Reconciler.Instance, group.Id, node.Id, node.Host!, inner);

    private string MultiplexerName(string nodeId) => specs.ContainerName(NodeMultiplexer.NodeLabel(nodeId));

    /// <summary>
    /// A node that serves TLS only on its port again still holds the inner ports of its preferred-mode
    /// days, and its zone's listing shows its multiplexer gone: they are to give back (the multiplexer
    /// carries its last TLS connections for up to <see cref="NodeMultiplexer.Grace"/>, and its exit is a
    /// container event that wakes the reconciler).
    /// </summary>
    public bool InnerPortsToRelease(RedisNodeEntity node, ContainerView view) =>
        node.TransitEncryptionMode == TransitEncryptionModes.Required && (node.PlainPort is not null || node.InnerTlsPort is not null)
        && view.Listed(node.AvailabilityZone) && view.Running(node.AvailabilityZone, MultiplexerName(node.Id)) is null;

    private static MultiplexedPorts? Inner(RedisNodeEntity node) =>
        node is { Port: { } port, PlainPort: { } plain, InnerTlsPort: { } tls } ? new MultiplexedPorts(port, plain, tls) : null;

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
        var inner = mode == TransitEncryptionModes.Preferred
            ? Inner(node) ?? throw new InvalidOperationException($"Node {node.Id} of preferred mode has no inner ports.")
            : null;
        return new NodeTransit(mode, port, inner, certificate, authority.CertificatePem);
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
    /// A replication group's transit encryption steps and certificate renewals, their events recorded.
    /// True when what the nodes' ports speak changed: the endpoints' checks must follow at once.
    /// </summary>
    public async Task<bool> StepAsync(ControlPlaneDbContext db, ReplicationGroupEntity group, IReadOnlyList<RedisNodeEntity> nodes, ContainerView view, CancellationToken ct)
    {
        var speakingTls = nodes.Count(n => n.TransitEncryptionMode is not null);
        await RecordedAsync(db, SourceType.ReplicationGroup, group.Id, () => ConvergeAsync(db, group, nodes, view, ct), ct);
        return nodes.Count(n => n.TransitEncryptionMode is not null) != speakingTls;
    }

    /// <summary>A cache cluster's certificate renewals, their events recorded.</summary>
    public Task StepAsync(ControlPlaneDbContext db, CacheClusterEntity cluster, CancellationToken ct) =>
        RecordedAsync(db, SourceType.CacheCluster, cluster.Id, () => ConvergeAsync(db, cluster, ct), ct);

    /// <summary>A node that fails its step is tried again later (the next pass, or the next step of a group modifying for it), and the group goes on meanwhile.</summary>
    private async Task RecordedAsync(ControlPlaneDbContext db, SourceType source, string id, Func<Task<IReadOnlyList<string>>> step, CancellationToken ct)
    {
        try
        {
            foreach (var message in await step())
                db.Record(time, source, id, message);
            await db.SaveChangesAsync(ct);
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            LogTransitFailed(logger, id, e.Message);
        }
    }

    /// <summary>
    /// Once the group is available, or while it is modifying for a transit step: every node one step towards the group's mode (none -> preferred ->
    /// required), online, and the certificates due renewed. Each node's new state is saved as soon as it
    /// holds, so that a failure half way leaves every node's row telling what it speaks. Returns the
    /// events to record.
    /// </summary>
    public async Task<IReadOnlyList<string>> ConvergeAsync(ControlPlaneDbContext db, ReplicationGroupEntity group, IReadOnlyList<RedisNodeEntity> nodes, ContainerView view, CancellationToken ct)
    {
        var events = new List<string>();
        var cluster = group.ClusterMode == ClusterMode.Enabled;
        var serving = nodes.Where(n => n.Status == NodeStatus.Available && n.Port is not null).ToList();
        var moving = serving.Where(n => n.TransitEncryptionMode != group.TransitEncryptionMode).ToList();
        if (moving.Count > 0 && group.TransitEncryptionMode is not null)
        {
            // Plain text -> preferred: each node takes TLS and plain text on inner ports, and its
            // multiplexer takes the node's port; the replication and cluster-bus links switch to TLS
            // once every node accepts it.
            foreach (var node in moving.Where(n => n.TransitEncryptionMode is null))
            {
                if (Inner(node) is not { } inner)
                    continue; // leased at the next pass's PrepareAsync
                var (host, port) = (node.Host!, node.Port!.Value);
                var transit = new NodeTransit(TransitEncryptionModes.Preferred, port, inner, Certificate(node.Id, host), authority.CertificatePem);
                var runtime = zones[node.AvailabilityZone].Runtime;
                await runtime.WriteFilesAsync(specs.ContainerName(node.PoolId ?? node.Id), transit.Files, ct);
                await redis.ConfigSetAsync(host, port,
                [
                    ("tls-cert-file", NodeTransit.CertificateFile), ("tls-key-file", NodeTransit.KeyFile),
                    ("tls-ca-cert-file", NodeTransit.AuthorityFile), ("tls-auth-clients", "no"),
                ], ct);
                // The node keeps telling replicas and the cluster its own port (and bus port) while its listeners move inside.
                await redis.ConfigSetAsync(host, port, NodeTransit.Announced(port, cluster), ct);
                await redis.ConfigSetAsync(host, port, "tls-port", Text(inner.TlsPort), ct);
                // Plain text moves inside: the connections made to the node's port stay open and served
                // (Redis closes only its listener); new ones are refused until the multiplexer has the port.
                await redis.ConfigSetAsync(host, port, "port", Text(inner.PlainPort), ct);
                var multiplexer = MultiplexerSpec(group, node, inner);
                await runtime.RunAsync(multiplexer, ct);
                MarkStarted(view, multiplexer);
                node.TransitEncryptionMode = TransitEncryptionModes.Preferred;
                node.CertificateRenewAt = transit.Certificate.RenewAt;
                await db.SaveChangesAsync(ct);
                transport.Set(host, port, tls: true);
                transport.Set(host, inner.TlsPort, tls: true);
                await ReconnectAsync(host, port, ct);
                events.Add($"Cache node {node.Id} takes TLS and plain text on port {port}");
            }
            await LinksOverTlsAsync(group, serving, ct);
            // Preferred -> required: the node takes TLS on its port again, the plain-text clients are let go.
            foreach (var node in moving.Where(n => n.TransitEncryptionMode == TransitEncryptionModes.Preferred && group.TransitEncryptionMode == TransitEncryptionModes.Required))
            {
                await RequireAsync(node, cluster, ct);
                node.TransitEncryptionMode = TransitEncryptionModes.Required;
                await db.SaveChangesAsync(ct);
                events.Add($"Cache node {node.Id} serves TLS only; its multiplexer carries the TLS connections it has until they end (at most {NodeMultiplexer.Grace.TotalMinutes:0} minutes)");
            }
        }
        else if (group.TransitEncryptionMode is not null && group.Status == GroupStatus.Modifying)
            await LinksOverTlsAsync(group, serving, ct);
        // A multiplexer that let go of its node's port ends with its last connection: then its inner ports go.
        foreach (var node in serving.Where(n => n.TransitEncryptionMode == TransitEncryptionModes.Required && (n.PlainPort is not null || n.InnerTlsPort is not null)))
        {
            var runtime = zones[node.AvailabilityZone].Runtime;
            if (await runtime.FindAsync(MultiplexerName(node.Id), ct) is { } multiplexer)
            {
                if (multiplexer.Running)
                    continue;
                await runtime.RemoveAsync(multiplexer.Id, ct);
            }
            if (node.InnerTlsPort is { } inner)
            {
                await redis.DisconnectAsync(node.Host!, inner);
                transport.Set(node.Host!, inner, tls: false);
            }
            await PortAllocator.ReleaseOnSaveAsync(db, [PlainLeaseId(node.Id), TlsLeaseId(node.Id)], ct);
            (node.PlainPort, node.InnerTlsPort) = (null, null);
            await db.SaveChangesAsync(ct);
            LogMultiplexerGone(logger, node.Id);
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

    /// <summary>
    /// One node from preferred to required, without dropping a TLS client: the multiplexer lets go of the
    /// port (a soft stop: the sessions it carries go on, TLS included, into the node's inner TLS
    /// listener, which keeps its connections when it moves), and the node's TLS listener moves onto its
    /// port. The control plane gives the commands over the inner TLS port, which needs no multiplexer.
    /// </summary>
    private async Task RequireAsync(RedisNodeEntity node, bool cluster, CancellationToken ct)
    {
        var (host, port) = (node.Host!, node.Port!.Value);
        var inner = Inner(node) ?? throw new InvalidOperationException($"Node {node.Id} of preferred mode has no inner ports.");
        var admin = inner.TlsPort;
        // Plain-text connections made to the node's port before it moved to preferred are the only ones
        // the node has there (the multiplexer's arrive on the inner ports): once TLS takes it, they could
        // no longer be told apart.
        await redis.KillClientsOnAsync(host, admin, port, ct);
        await zones[node.AvailabilityZone].Runtime.SignalAsync(MultiplexerName(node.Id), NodeMultiplexer.SoftStopSignal, ct);
        var until = time.GetUtcNow() + PortHandOver;
        while (true)
        {
            try
            {
                await redis.ConfigSetAsync(host, admin, "tls-port", Text(port), ct);
                break;
            }
            catch (EngineRefusedException) when (time.GetUtcNow() < until)
            {
                // The multiplexer has not closed its listener yet (EADDRINUSE): a moment more.
                await Task.Delay(TimeSpan.FromMilliseconds(20), time, ct);
            }
        }
        if (cluster)
            await redis.ConfigSetAsync(host, admin, [("cluster-announce-port", "0"), ("cluster-announce-tls-port", "0")], ct);
        await redis.ConfigSetAsync(host, admin, "port", "0", ct);
        // Replication links made in plain text or through the multiplexer reconnect to the port over TLS (a partial resync).
        if (node.Role == NodeRole.Primary)
            await redis.KillReplicaLinksAsync(host, admin, ct);
        await redis.KillClientsOnAsync(host, admin, inner.PlainPort, ct);
        // The control plane's own connections went through the multiplexer: new ones go to the node, and it can end.
        await mover.DisconnectAsync(host, port);
        heartbeats.Forget(host, port);
        await ReconnectAsync(host, port, ct);
    }

    /// <summary>
    /// The admin connection to the node's port made again now that its port speaks another way, here
    /// rather than by the next probe: a TLS connect and login on a busy host can outlast a probe's
    /// timeout, and a few probes missed in a row would look like a dead node.
    /// </summary>
    private async Task ReconnectAsync(string host, int port, CancellationToken ct)
    {
        await redis.DisconnectAsync(host, port);
        await redis.ProbeAsync(host, port, ct);
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

    [LoggerMessage(Level = LogLevel.Warning, Message = "Transit encryption of {Id} did not converge this pass: {Reason}")]
    private static partial void LogTransitFailed(ILogger logger, string id, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Started the multiplexer of node {NodeId} on port {Port} (TLS to {TlsPort}, plain text to {PlainPort})")]
    private static partial void LogMultiplexerStarted(ILogger logger, string nodeId, int port, int tlsPort, int plainPort);

    [LoggerMessage(Level = LogLevel.Information, Message = "The multiplexer of node {NodeId} carries no connection any more: removed, its inner ports released")]
    private static partial void LogMultiplexerGone(ILogger logger, string nodeId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Renewed the TLS certificate of node {NodeId}; valid until {NotAfter:u}")]
    private static partial void LogRenewed(ILogger logger, string nodeId, DateTimeOffset notAfter);
}
