using System.Globalization;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using ControlPlane.Domain;

namespace ControlPlane.Api.Runtime;

/// <summary>The proxy's three ports: the two endpoints, and the runtime API the control plane drives it through.</summary>
public sealed record ProxyPorts(int Primary, int Reader, int Admin);

/// <summary>The user and password the proxy's health checks log in to nodes with (letters, digits and hyphens only: they go in the configuration unquoted).</summary>
public sealed record HealthLogin(string User, string Password)
{
    public override string ToString() => $"HealthLogin {{ {User}, *** }}";
}

/// <summary>
/// The nodes' ports speak TLS: the health checks do too, and accept a node only with a certificate
/// of this authority (PEM). Client connections are not touched: HAProxy forwards them in TCP mode,
/// and the TLS session is the client's with the node.
/// </summary>
public sealed record HealthTls(string AuthorityPem);

/// <summary>A Redis node behind a group's endpoints; the id names it in the control plane's logs.</summary>
public sealed record ProxyNode(string Id, string Host, int Port);

/// <summary>One server of the running proxy, from the runtime API's <c>show servers state</c>.</summary>
public sealed record ProxyServer(string Backend, string Name, string Address, int Port, int AdminState)
{
    // SRV_ADMF_FMAINT (set server ... state maint, or `disabled` in the configuration) and
    // SRV_ADMF_IMAINT (inherited from a tracked server). CMAINT (0x04) only remembers `disabled`.
    public bool InMaintenance => (AdminState & 0x03) != 0;
}

/// <summary>What <see cref="EndpointProxy.Changes"/> found: the commands to send, and who joined, left or found no slot.</summary>
public sealed record ProxyChanges(
    IReadOnlyList<string> Commands,
    IReadOnlyList<(ProxyNode Node, string Slot)> Joined,
    IReadOnlyList<(string Address, string Slot)> Left,
    IReadOnlyList<ProxyNode> Unplaced);

/// <summary>
/// The endpoints of a cluster-mode-disabled group: one HAProxy container (host networking, loopback)
/// whose primary port reaches whichever node says <c>role:master</c> and whose reader port reaches the
/// nodes that say <c>role:slave</c> with a live link, or the primary when there is none. The
/// configuration does not name the nodes: each backend has <see cref="ServerSlots"/> server slots, in
/// maintenance until the control plane puts a node's address in one through the runtime API (an admin
/// socket on a third port), so nodes joining and leaving change no container and cut only the
/// connections of the node that leaves. A failover needs nothing at all: the health checks see the roles change.
/// </summary>
public static partial class EndpointProxy
{
    public const string ConfigPath = "/etc/haproxy/haproxy.cfg";

    /// <summary>The authority the health checks verify TLS nodes with (<see cref="HealthTls"/>).</summary>
    public const string AuthorityPath = "/etc/haproxy/tls-ca.pem";

    /// <summary>Measured: 4 MiB idle, 38 MiB with the 4096 connections it accepts (also while all of them write 64 KiB values).</summary>
    public const long DefaultMemoryBytes = 64L << 20;

    /// <summary>HAProxy runs one thread (nbthread 1): a second one under a one-CPU quota measured slower.</summary>
    public const double DefaultCpus = 1;

    /// <summary>Server slots per backend: the largest shard (a primary and its replicas).</summary>
    public const int ServerSlots = 1 + Limits.MaxReplicasPerShard;

    /// <summary>
    /// How often a node that is up in a backend is checked: a killed or demoted primary is out of the
    /// primary backend within this. Each check is one short connection (PING, INFO replication, QUIT).
    /// </summary>
    public static readonly TimeSpan CheckInterval = TimeSpan.FromMilliseconds(50);

    /// <summary>
    /// How often a node that is down in a backend is checked: a promoted replica takes the primary
    /// port within this. Measured on loopback: writes through it resume 1-25 ms after the promotion.
    /// </summary>
    public static readonly TimeSpan DownCheckInterval = TimeSpan.FromMilliseconds(20);

    /// <summary>How many TLS checks in a row must fail before a node is down (see <see cref="Config"/>).</summary>
    public const int TlsFall = 3;

    // Each connection takes two files (the client's and the node's), and HAProxy refuses to start
    // when it cannot have 2 x maxconn + a few: containers inherit the engine's open-file limit, which
    // can be as low as 20000 (the test engines'), so it is not derived from that limit.
    private const int MaxConnections = 4096;

    // Where an unused slot points: it is in maintenance, so nothing connects there and it is never checked.
    private const string Unused = "127.0.0.1:1";

    private const string AsPrimarySuffix = "-as-primary";

    public static ContainerSpec Spec(
        string name,
        string image,
        string groupId,
        string bindHost,
        ProxyPorts ports,
        IReadOnlyDictionary<string, string> labels,
        long memoryBytes = DefaultMemoryBytes,
        double cpus = DefaultCpus,
        HealthLogin? login = null,
        HealthTls? tls = null)
    {
        var files = new Dictionary<string, string> { [ConfigPath] = Config(groupId, bindHost, ports, login, tls) };
        if (tls is not null)
            files[AuthorityPath] = tls.AuthorityPem;
        // -db: foreground, no daemon, messages to stderr (the container's log); no shell needed.
        return new(name, image, ["haproxy", "-f", ConfigPath, "-db"], labels, memoryBytes, cpus, files);
    }

    public static string Slot(int number) => $"s{number.ToString(CultureInfo.InvariantCulture)}";

    /// <param name="login">The user the checks log in as (AUTH first), so that they also pass on nodes whose default user needs a password; none for bare nodes.</param>
    /// <param name="tls">The nodes' ports speak TLS: so do the checks (the file <see cref="AuthorityPath"/> goes in with the configuration).</param>
    public static string Config(string groupId, string bindHost, ProxyPorts ports, HealthLogin? login = null, HealthTls? tls = null)
    {
        Validate(groupId, bindHost, ports);
        var config = new StringBuilder();
        void Line(string text = "") => config.Append(text).Append('\n');
        var slots = Enumerable.Range(1, ServerSlots).Select(Slot).ToList();

        Line($"# Endpoints of replication group {groupId}; generated by the control plane, which puts the nodes in the slots.");
        Line("global");
        Line($"    maxconn {Text(MaxConnections)}");
        Line("    nbthread 1");
        // The control plane's way in (set server, shutdown sessions); like the nodes, bound on the zone's host.
        Line($"    stats socket ipv4@{bindHost}:{Text(ports.Admin)} level admin");
        Line();
        Line("defaults");
        Line("    mode tcp");
        // Redis connections are long-lived and often idle (pools, pub/sub). Connects on loopback (or a
        // LAN) take well under a millisecond; the connect timeout is also the pause before a retry
        // after a refused connect (HAProxy's turn-around, at most 1 s), which a failover must not wait.
        Line("    timeout connect 100ms");
        Line("    timeout client 1h");
        Line("    timeout server 1h");
        // A node that does not answer its check within this is down (a refused connect is at once):
        // long enough that a node busy for a moment (a fork, a slow command) keeps its clients.
        Line("    timeout check 1s");
        // A connection that reaches a node just killed, not yet seen down, goes to another server.
        Line("    retries 2");
        Line("    option redispatch 1");
        // rise 1 fall 1: one check decides. With TLS nodes, verify and ca-file are for the checks only:
        // no server says `ssl`, so the clients' connections pass through untouched (their TLS is theirs
        // with the node). No host name is checked (checks send no SNI): only our authority signs node
        // certificates, so its signature is the proof that the port is one of our nodes. A check's
        // connect, its TLS handshake included, gets min(timeout connect, inter) = 50 ms, which a node
        // or a proxy busy with TLS clients misses now and then (measured with deploy/bench/proxy-cost.sh:
        // with fall 1 the primary flapped and its 50 clients were cut): TlsFall checks in a row decide,
        // fastinter apart, so a dead or demoted node is still out within about 90 ms.
        var settle = tls is null
            ? "rise 1 fall 1"
            : $"rise 1 fall {Text(TlsFall)} fastinter {Milliseconds(DownCheckInterval)} verify required ca-file {AuthorityPath}";
        Line($"    default-server inter {Milliseconds(CheckInterval)} downinter {Milliseconds(DownCheckInterval)} {settle}");
        Line();
        Frontend("primary", bindHost, ports.Primary);
        Line("backend primary");
        RoleCheck("role:master");
        // A node that stops being the primary (demoted, dead) loses its clients, so that they reconnect
        // to the new one instead of writing into READONLY errors.
        foreach (var slot in slots)
            Line($"    server {slot} {Unused} check disabled on-marked-down shutdown-sessions");
        Line();
        Frontend("reader", bindHost, ports.Reader);
        Line("backend reader");
        Line("    balance leastconn");
        // A replica still syncing (or cut off from its primary) answers with old or no data: no new
        // reads go there. Its established clients stay: reads from a replica whose link dropped for a
        // moment (its primary failed over) are no worse than a moment of lag, and cutting them would
        // turn every failover into reconnects for every reader.
        RoleCheck("role:slave", "master_link_status:up");
        foreach (var slot in slots)
            Line($"    server {slot} {Unused} check disabled");
        // With no replica up, reads go to the primary: each slot as a backup that is up exactly when
        // the primary backend's check says it is the primary (and in maintenance with it).
        foreach (var slot in slots)
            Line($"    server {slot}{AsPrimarySuffix} {Unused} backup track primary/{slot}");
        return config.ToString();

        void Frontend(string name, string host, int port)
        {
            Line($"frontend {name}");
            Line($"    bind {host}:{Text(port)}");
            Line($"    default_backend {name}");
            Line();
        }

        // PING, INFO and QUIT in one write: Redis answers all three and closes, so a node with the
        // wrong role fails at once (the expected text is missing and no more can come) instead of
        // at the check timeout.
        void RoleCheck(params string[] expected)
        {
            Line("    option tcp-check");
            Line(tls is null ? "    tcp-check connect" : "    tcp-check connect ssl");
            if (login is null)
            {
                Line("    tcp-check send \"PING\\r\\nINFO replication\\r\\nQUIT\\r\\n\"");
            }
            else
            {
                Line($"    tcp-check send \"AUTH {login.User} {login.Password}\\r\\nPING\\r\\nINFO replication\\r\\nQUIT\\r\\n\"");
                Line("    tcp-check expect string +OK");
            }
            Line("    tcp-check expect string +PONG");
            foreach (var text in expected)
                Line($"    tcp-check expect string {text}");
        }
    }

    /// <summary>The servers in the runtime API's answer to <c>show servers state</c> (format 1).</summary>
    public static IReadOnlyList<ProxyServer> ParseServersState(string text)
    {
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (lines.Length < 2 || lines[0] != "1" || !lines[1].StartsWith('#'))
            throw new FormatException($"Not a servers state of format 1: {text}");
        var columns = lines[1].TrimStart('#').Split(' ', StringSplitOptions.RemoveEmptyEntries).ToList();
        int Column(string name) => columns.IndexOf(name) is >= 0 and var i ? i : throw new FormatException($"No column {name} in the servers state.");
        int backend = Column("be_name"), server = Column("srv_name"), address = Column("srv_addr"), admin = Column("srv_admin_state"), port = Column("srv_port");
        return lines.Skip(2).Where(l => !l.StartsWith('#')).Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Select(f => new ProxyServer(f[backend], f[server], f[address], int.Parse(f[port], CultureInfo.InvariantCulture), int.Parse(f[admin], CultureInfo.InvariantCulture)))
            .ToList();
    }

    /// <summary>
    /// The runtime API commands that make the running proxy serve exactly <paramref name="nodes"/>;
    /// none when it does already. A node keeps the slot it has (its connections are untouched); a
    /// node that left goes to maintenance and its connections are cut; a node that joins takes the
    /// lowest free slot. Nodes are known by address and port (a node keeps both for its whole life).
    /// </summary>
    public static ProxyChanges Changes(IReadOnlyList<ProxyServer> servers, IReadOnlyList<ProxyNode> nodes)
    {
        foreach (var node in nodes)
            if (!IPAddress.TryParse(node.Host, out _) || node.Port is < 1 or > 65535)
                throw new ArgumentException($"Node {node} cannot be a proxy server: the runtime API takes IP addresses.", nameof(nodes));
        var byName = servers.ToDictionary(s => (s.Backend, s.Name));
        ProxyServer Server(string backend, string name) => byName.TryGetValue((backend, name), out var server)
            ? server
            : throw new InvalidOperationException($"The proxy has no server {backend}/{name}: not a configuration of this version.");
        var slots = Enumerable.Range(1, ServerSlots).Select(Slot).ToList();
        string Key(string host, int port) => $"{IPAddress.Parse(host)}:{Text(port)}";

        // A slot belongs to the node it points at while it is in service in the primary backend.
        var wanted = nodes.GroupBy(n => Key(n.Host, n.Port)).ToDictionary(g => g.Key, g => g.OrderBy(n => n.Id, StringComparer.Ordinal).First());
        var target = new Dictionary<string, ProxyNode?>();
        foreach (var slot in slots)
        {
            var primary = Server("primary", slot);
            var key = Key(primary.Address, primary.Port);
            target[slot] = !primary.InMaintenance && wanted.Remove(key, out var node) ? node : null;
        }
        var joining = wanted.Values.OrderBy(n => n.Id, StringComparer.Ordinal).ToList();
        var free = slots.Where(s => target[s] is null).ToList();
        var joined = joining.Zip(free).Select(p => (Node: p.First, Slot: p.Second)).ToList();
        foreach (var (node, slot) in joined)
            target[slot] = node;

        // Everything that leaves first, then everything that joins: a slot changing hands never
        // forwards to the new address with the old one's connections, nor the other way round.
        var leaving = new List<string>();
        var entering = new List<string>();
        var left = new List<(string, string)>();
        foreach (var slot in slots)
        {
            var node = target[slot];
            var primary = Server("primary", slot);
            var primaryLeaves = !primary.InMaintenance && (node is null || Key(primary.Address, primary.Port) != Key(node.Host, node.Port));
            if (primaryLeaves)
                left.Add((Key(primary.Address, primary.Port), slot));
            foreach (var (backend, name, tracking) in new[] { ("primary", slot, false), ("reader", slot, false), ("reader", slot + AsPrimarySuffix, true) })
            {
                var server = Server(backend, name);
                var at = Key(server.Address, server.Port);
                // A tracking server is in maintenance with the server it tracks; its connections go with it.
                var leaves = tracking ? primaryLeaves : !server.InMaintenance && (node is null || at != Key(node.Host, node.Port));
                if (leaves && !tracking)
                    leaving.Add($"set server {backend}/{name} state maint");
                if (leaves)
                    leaving.Add($"shutdown sessions server {backend}/{name}");
                if (node is null)
                    continue;
                if (at != Key(node.Host, node.Port))
                    entering.Add($"set server {backend}/{name} addr {node.Host} port {Text(node.Port)}");
                if (!tracking && (server.InMaintenance || leaves))
                {
                    // Connections left from before a restart of the control plane mid-change go first.
                    entering.Add($"shutdown sessions server {backend}/{name}");
                    entering.Add($"set server {backend}/{name} state ready");
                }
            }
        }
        return new ProxyChanges([.. leaving, .. entering], joined, left, joining.Skip(free.Count).ToList());
    }

    private static void Validate(string groupId, string bindHost, ProxyPorts ports)
    {
        if (!Token().IsMatch(groupId))
            throw new ArgumentException($"Group id '{groupId}' is not a valid proxy name.", nameof(groupId));
        if (!Token().IsMatch(bindHost))
            throw new ArgumentException($"'{bindHost}' is not an address to bind.", nameof(bindHost));
        int[] all = [ports.Primary, ports.Reader, ports.Admin];
        if (all.Any(p => p is < 1 or > 65535) || all.Distinct().Count() != all.Length)
            throw new ArgumentException($"The primary, reader and admin ports must be three different ports ({ports}).", nameof(ports));
    }

    private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Milliseconds(TimeSpan value) => $"{Text((int)value.TotalMilliseconds)}ms";

    // HAProxy's names (letters, digits, '-', '_', '.', ':'), which also covers IP literals and host
    // names: nothing that could end a line or start another word of the configuration.
    [GeneratedRegex(@"^[A-Za-z0-9_.:-]+\z")]
    private static partial Regex Token();
}
