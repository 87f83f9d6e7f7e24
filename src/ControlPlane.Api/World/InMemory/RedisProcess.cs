using System.Globalization;
using ControlPlane.Api.Engines;
using ControlPlane.Domain;
using StackExchange.Redis;

namespace ControlPlane.Api.World.InMemory;

/// <summary>
/// A Redis node of the <see cref="MemoryWorld"/>: replication (REPLICAOF, FAILOVER TO; a replica
/// syncs once its primary answers, then follows its offset, which grows about 14 bytes a second,
/// Redis' replication ping, and with writes) and cluster mode (MYID, MEET, ADDSLOTSRANGE,
/// SET-CONFIG-EPOCH, REPLICATE, FORGET, FAILOVER [FORCE|TAKEOVER], CLUSTER NODES and INFO). Gossip is
/// instant: a MEET joins both nodes' views at once, and every node sees its peers' roles, slots and
/// epochs as they are, a peer down for the node timeout as "fail". Errors are the engine's own
/// (RedisServerException with Redis' text). Every member is used under the world's lock.
/// </summary>
public sealed class RedisProcess : EngineProcess
{
    /// <summary>How much a primary's offset grows a second with no writes (Redis pings its replicas).</summary>
    private const long PingBytes = 14;

    /// <summary>How long a forgotten node may not come back through gossip (Redis' ban).</summary>
    private static readonly TimeSpan ForgetBan = TimeSpan.FromSeconds(60);

    private long _offsetBase;
    private DateTimeOffset _offsetAt;
    private long _replicaOffset;
    private DateTimeOffset _followingSince;
    private string? _following;
    private readonly Dictionary<string, DateTimeOffset> _banned = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _config = new(StringComparer.Ordinal);

    internal RedisProcess(MemoryWorld world, string containerName, string host, int port, string version, long maxMemoryBytes, bool cluster, TimeSpan nodeTimeout)
        : base(world, containerName, host, port, version, maxMemoryBytes)
    {
        Cluster = cluster;
        NodeTimeout = nodeTimeout;
        _offsetAt = world.Now;
        if (cluster)
        {
            MyId = world.NewClusterId();
            _known.Add(MyId);
            world.ClusterPeers[MyId] = this;
        }
    }

    public bool Cluster { get; }
    public TimeSpan NodeTimeout { get; }
    public RedisRole Role { get; private set; } = RedisRole.Master;
    public string? MasterHost { get; private set; }
    public int? MasterPort { get; private set; }
    public long Keys { get; private set; }

    // Cluster mode.
    public string MyId { get; } = "";
    public string? ClusterMasterId { get; private set; }
    public long ConfigEpoch { get; private set; }
    public SlotSet Slots { get; } = new();

    private readonly HashSet<string> _known = new(StringComparer.Ordinal);

    /// <summary>
    /// The known nodes' processes, resolved once per change of <see cref="Known"/>: every probe's CLUSTER INFO
    /// walks them, and resolving 500 ids at each of a 500-node cluster's probes was a fifth of the bench's CPU.
    /// An id always resolves to the same process: a process registers its new id before anyone can learn it,
    /// and ClusterPeers only grows.
    /// </summary>
    private List<RedisProcess>? _knownPeers;

    /// <summary>The node ids this node knows, itself included.</summary>
    public IReadOnlySet<string> Known => _known;

    internal override void Exited(DateTimeOffset now)
    {
        Follow(null);
        base.Exited(now);
    }

    /// <summary>The dump file of this world: no .rdb, only the number of keys it holds.</summary>
    private const string DumpPrefix = "memory-world-dump keys=";

    internal static string Dump(long keys) => DumpPrefix + Text(keys);

    /// <summary>A node starting on a dump file holds its keys; a file of another format holds none here.</summary>
    internal void Load(string dump)
    {
        if (dump.StartsWith(DumpPrefix, StringComparison.Ordinal)
            && long.TryParse(dump[DumpPrefix.Length..], NumberStyles.None, CultureInfo.InvariantCulture, out var keys))
            Write(keys);
    }

    /// <summary>BGSAVE, answered at once: a replica saves what it has synced.</summary>
    internal void Save()
    {
        _ = Role == RedisRole.Replica && LinkUp; // a linked replica's keys are its primary's
        World.Save(this);
    }

    internal void Write(long keys)
    {
        Keys += keys;
        _offsetBase += keys * 40;
    }

    public long Offset
    {
        get
        {
            if (Role == RedisRole.Master)
                return _offsetBase + PingBytes * (long)(World.Now - _offsetAt).TotalSeconds;
            if (LinkUp)
                _replicaOffset = Primary!.Offset;
            return _replicaOffset;
        }
    }

    /// <summary>The primary at the address it replicates from, when it is there and answering.</summary>
    private RedisProcess? Primary =>
        Role == RedisRole.Replica && MasterHost is { } host && MasterPort is { } port && World.Listening(host, port) is RedisProcess { Hung: false } primary
            ? primary : null;

    /// <summary>Linked and synced: the primary answers and the full sync since it started following has had its time.</summary>
    public bool LinkUp
    {
        get
        {
            if (Primary is not { } primary || World.Now - _followingSince < World.SyncDelay)
                return false;
            Keys = primary.Keys;
            return true;
        }
    }

    // ---- Replication ----

    internal void ReplicaOf(string host, int port)
    {
        if (Cluster)
            throw Error("ERR REPLICAOF not allowed in cluster mode.");
        BecomeReplica(host, port);
    }

    internal void PromoteToPrimary()
    {
        if (Cluster)
            throw Error("ERR REPLICAOF not allowed in cluster mode.");
        BecomePrimary();
    }

    /// <summary>FAILOVER TO host port, sent to a primary: the replica there, synced, becomes primary and this one its replica.</summary>
    internal void FailoverTo(string host, int port)
    {
        if (Role != RedisRole.Master)
            throw Error("ERR FAILOVER is not valid when server is a replica.");
        if (World.Listening(host, port) is not RedisProcess { Hung: false } target || target.MasterHost != Host || target.MasterPort != Port || !target.LinkUp)
            throw Error("ERR FAILOVER target HOST and PORT is not a replica.");
        target.BecomePrimary();
        BecomeReplica(target.Host, target.Port);
    }

    private void BecomeReplica(string host, int port)
    {
        _replicaOffset = Offset;
        (Role, MasterHost, MasterPort) = (RedisRole.Replica, host, port);
        _followingSince = World.Now;
        Follow(Address(host, port));
    }

    private void BecomePrimary()
    {
        var offset = Offset;
        (Role, MasterHost, MasterPort, ClusterMasterId) = (RedisRole.Master, null, null, null);
        (_offsetBase, _offsetAt) = (offset, World.Now);
        Follow(null);
    }

    private void Follow(string? address)
    {
        if (_following is { } before && World.Followers.TryGetValue(before, out var old))
            old.Remove(this);
        _following = address;
        if (address is not null)
        {
            if (!World.Followers.TryGetValue(address, out var set))
                World.Followers[address] = set = [];
            set.Add(this);
        }
    }

    /// <summary>The replicas following this node's address, as INFO lists them.</summary>
    internal IEnumerable<RedisProcess> Followers =>
        World.Followers.GetValueOrDefault(Address(Host, Port))?.Where(r => r.Alive && r.Primary == this) ?? [];

    /// <summary>
    /// Before this node stops answering (it hangs or exits): replicas whose full sync has had its time
    /// hold its data now, whether or not anyone looked at them since (their keys are read lazily).
    /// </summary>
    internal void SettleFollowers()
    {
        foreach (var replica in Followers.ToList())
            _ = replica.LinkUp;
    }

    internal void ConfigSet(IReadOnlyList<(string Name, string Value)> settings)
    {
        foreach (var (name, value) in settings)
        {
            if (name.Equals("maxmemory", StringComparison.OrdinalIgnoreCase))
                MaxMemoryBytes = long.TryParse(value, CultureInfo.InvariantCulture, out var bytes) ? bytes : throw Error($"ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument couldn't be parsed into an integer");
            _config[name.ToLowerInvariant()] = value;
        }
    }

    /// <summary>The client users (ACL) the node has, by name: their rules as written, not interpreted.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> ClientUsers => _users;

    private readonly Dictionary<string, IReadOnlyList<string>> _users = new(StringComparer.Ordinal);

    /// <summary>Exactly these client users (ACL SETUSER each, DELUSER the others); the control plane's own are not kept here.</summary>
    internal void SetClientUsers(IReadOnlyList<Security.AclUser> users)
    {
        _users.Clear();
        foreach (var user in users)
            _users[user.Name] = user.Rules;
    }

    // ---- Cluster ----

    internal void SetConfigEpoch(long epoch)
    {
        RequireCluster();
        if (Known.Count > 1)
            throw Error("ERR The user can assign a config epoch only when the node does not know any other node.");
        if (ConfigEpoch != 0)
            throw Error("ERR Node config epoch is already non-zero");
        ConfigEpoch = epoch;
    }

    /// <summary>CLUSTER MEET: both views join (and every node they know hears of the other side). A peer not listening is never met, as the handshake never ends.</summary>
    internal void Meet(string host, int port)
    {
        RequireCluster();
        if (World.Listening(host, port) is not RedisProcess { Cluster: true, Hung: false } peer || peer == this)
            return;
        // Each side hears of what the other side knows; only the news is passed on (a big cluster's create meets one node at a time).
        var (mine, theirs) = (Known.ToList(), peer.Known.ToList());
        var toMine = theirs.Where(id => !Known.Contains(id)).ToList();
        var toTheirs = mine.Where(id => !peer.Known.Contains(id)).ToList();
        foreach (var id in mine)
            if (World.ClusterPeers.GetValueOrDefault(id) is { Alive: true } node)
                node.Learn(toMine);
        foreach (var id in theirs)
            if (World.ClusterPeers.GetValueOrDefault(id) is { Alive: true } node)
                node.Learn(toTheirs);
    }

    private void Learn(List<string> ids)
    {
        var now = World.Now;
        foreach (var id in ids)
            if (!(_banned.TryGetValue(id, out var until) && until > now) && _known.Add(id))
                _knownPeers = null;
    }

    internal void AddSlotsRange(IEnumerable<(int Start, int End)> ranges)
    {
        RequireCluster();
        var slots = SlotRanges.Expand(ranges).ToList();
        var busy = KnownPeers().SelectMany(p => p.Slots).ToHashSet();
        if (slots.Where(busy.Contains).Select(s => (int?)s).FirstOrDefault() is { } taken)
            throw Error($"ERR Slot {taken} is already busy");
        foreach (var slot in slots)
            Slots.Add(slot);
    }

    internal void Replicate(string masterId)
    {
        RequireCluster();
        if (!Known.Contains(masterId) || World.ClusterPeers.GetValueOrDefault(masterId) is not { } master)
            throw Error($"ERR Unknown node {masterId}");
        if (master == this)
            throw Error("ERR Can't replicate myself");
        if (master.Role != RedisRole.Master)
            throw Error("ERR I can only replicate a master, not a replica.");
        if (Role == RedisRole.Master && (Slots.Count > 0 || Keys > 0))
            throw Error("ERR To set a master the node must be empty and without assigned slots.");
        ClusterMasterId = masterId;
        BecomeReplica(master.Host, master.Port);
    }

    internal void Forget(string nodeId)
    {
        RequireCluster();
        if (nodeId == MyId)
            throw Error("ERR I tried hard but I can't forget myself...");
        if (!Known.Contains(nodeId))
            throw Error($"ERR Unknown node {nodeId}");
        if (Role == RedisRole.Replica && ClusterMasterId == nodeId)
            throw Error("ERR Can't forget my master!");
        _known.Remove(nodeId);
        _knownPeers = null;
        _banned[nodeId] = World.Now + ForgetBan;
    }

    /// <summary>
    /// Sent to a replica. Default: its master must answer (otherwise, as in Redis, the manual failover
    /// times out and nothing changes); FORCE: a majority of the masters must answer; TAKEOVER: at once.
    /// </summary>
    internal void ClusterFailover(ClusterFailoverMode mode)
    {
        RequireCluster();
        if (Role == RedisRole.Master || ClusterMasterId is not { } masterId)
            throw Error("ERR You should send CLUSTER FAILOVER to a replica");
        var master = World.ClusterPeers.GetValueOrDefault(masterId);
        if (mode == ClusterFailoverMode.Default && master?.DownSince is not null)
            return;
        if (mode == ClusterFailoverMode.Force)
        {
            var masters = KnownPeers().Where(p => p.Role == RedisRole.Master && p.Slots.Count > 0).ToList();
            if (masters.Count(p => p.DownSince is null) * 2 <= masters.Count)
                return;
        }
        TakeOver(master);
    }

    private void TakeOver(RedisProcess? master)
    {
        var epoch = KnownPeers().Max(p => p.ConfigEpoch) + 1;
        var oldMasterId = ClusterMasterId;
        BecomePrimary();
        ConfigEpoch = epoch;
        if (master is not null)
        {
            foreach (var slot in master.Slots)
                Slots.Add(slot);
            master.Slots.Clear();
        }
        // The master's other replicas follow the new one; the old master, if it lives, too.
        foreach (var peer in KnownPeers().Where(p => p.Alive && p != this && (p.ClusterMasterId == oldMasterId || p == master)).ToList())
        {
            peer.ClusterMasterId = MyId;
            peer.BecomeReplica(Host, Port);
        }
    }

    /// <summary>
    /// Hands the slots to another master (a reshard): keys go along in proportion to the slots, the
    /// taker's epoch rises above every known one, as SETSLOT NODE does. Slots it has already are done.
    /// </summary>
    internal long GiveSlots(RedisProcess target, IReadOnlyList<int> slots)
    {
        if (slots.Where(s => !Slots.Contains(s) && !target.Slots.Contains(s)).Select(s => (int?)s).FirstOrDefault() is { } stray)
            throw new SlotMoveException($"Slot {stray} belongs to neither {Host}:{Port} nor {target.Host}:{target.Port}.");
        var giving = slots.Where(Slots.Contains).ToList();
        if (giving.Count == 0)
            return 0;
        var keys = Slots.Count == 0 ? 0 : Keys * giving.Count / Slots.Count;
        foreach (var slot in giving)
        {
            Slots.Remove(slot);
            target.Slots.Add(slot);
        }
        Keys -= keys;
        target.Keys += keys;
        target.ConfigEpoch = KnownPeers().Max(p => p.ConfigEpoch) + 1;
        return keys;
    }

    /// <summary>Known nodes, this one included, live or not.</summary>
    private List<RedisProcess> KnownPeers() => _knownPeers ??= _known.Select(id => World.ClusterPeers.GetValueOrDefault(id)).OfType<RedisProcess>().ToList();

    /// <summary>Agreed failed: down for the node timeout.</summary>
    private bool Failed(RedisProcess peer) => peer.DownSince is { } since && World.Now - since >= NodeTimeout;

    /// <summary>CLUSTER NODES as the parser gives it: one entry per known node, as this node sees it.</summary>
    internal IReadOnlyList<ClusterNodeInfo> ClusterNodes()
    {
        RequireCluster();
        World.ClusterNodesReads++;
        return KnownPeers().Select(p =>
        {
            if (p.DownSince is null)
                return new ClusterNodeInfo(p.MyId, p.Host, p.Port, p.Port + SlotRanges.ClusterBusOffset, HealthyFlags(p == this, p.Role), p.ClusterMasterId, p.ShownEpoch,
                    "connected", p.Slots.Ranges, []);
            var flags = new HashSet<string>(StringComparer.Ordinal);
            if (p == this)
                flags.Add("myself");
            flags.Add(p.Role == RedisRole.Master ? "master" : "slave");
            if (p != this && Failed(p))
                flags.Add("fail");
            else if (p != this && p.DownSince is not null)
                flags.Add("fail?");
            // Another node answers at a down node's address now (its port was reused): Redis' bus, reconnecting,
            // gets a PONG with another id and drops the address (":0@0", noaddr).
            if (p != this && p.DownSince is not null && World.Listening(p.Host, p.Port) is { } other && other != p)
            {
                flags.Add("noaddr");
                return new ClusterNodeInfo(p.MyId, "", 0, 0, flags, p.ClusterMasterId, p.ShownEpoch, "disconnected", p.Slots.Ranges, []);
            }
            return new ClusterNodeInfo(p.MyId, p.Host, p.Port, p.Port + SlotRanges.ClusterBusOffset, flags, p.ClusterMasterId, p.ShownEpoch,
                p == this || p.DownSince is null ? "connected" : "disconnected", p.Slots.Ranges, []);
        }).ToList();
    }

    private static readonly IReadOnlySet<string>[] HealthyFlagSets =
        [new HashSet<string>(["master"]), new HashSet<string>(["slave"]), new HashSet<string>(["myself", "master"]), new HashSet<string>(["myself", "slave"])];

    /// <summary>A live node's flags, one shared set per kind (a view of a 500-node cluster built 500 sets per read).</summary>
    private static IReadOnlySet<string> HealthyFlags(bool myself, RedisRole role) => HealthyFlagSets[(myself ? 2 : 0) + (role == RedisRole.Master ? 0 : 1)];

    /// <summary>The config epoch CLUSTER NODES shows: a replica's is its master's.</summary>
    private long ShownEpoch => Role == RedisRole.Replica && ClusterMasterId is { } m && World.ClusterPeers.GetValueOrDefault(m) is { } master ? master.ConfigEpoch : ConfigEpoch;

    /// <summary>What CLUSTER INFO counts over the known nodes.</summary>
    private readonly record struct ClusterCounts(int Assigned, int Ok, int PFail, int Size, long CurrentEpoch)
    {
        public string State => Ok == SlotRanges.SlotCount ? "ok" : "fail";
    }

    /// <summary>CLUSTER INFO's fields.</summary>
    internal IReadOnlyDictionary<string, string> ClusterInfo()
    {
        var counts = CountCluster();
        return new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["cluster_state"] = counts.State,
            ["cluster_slots_assigned"] = Text(counts.Assigned),
            ["cluster_slots_ok"] = Text(counts.Ok),
            ["cluster_slots_pfail"] = Text(counts.PFail),
            ["cluster_slots_fail"] = Text(counts.Assigned - counts.Ok),
            ["cluster_known_nodes"] = Text(Known.Count),
            ["cluster_size"] = Text(counts.Size),
            ["cluster_current_epoch"] = Text(counts.CurrentEpoch),
            ["cluster_my_epoch"] = Text(ConfigEpoch),
        };
    }

    private ClusterCounts CountCluster()
    {
        RequireCluster();
        // One loop over the known nodes: every probe of every node asks this, so a cluster of 500 asks it of 500 peers 500 times.
        var (assigned, ok, pfail, size, epoch) = (0, 0, 0, 0, long.MinValue);
        foreach (var p in KnownPeers())
        {
            var slots = p.Slots.Count;
            assigned += slots;
            var failed = p != this && Failed(p);
            if (!failed)
                ok += slots;
            if (p != this && p.DownSince is not null && !failed)
                pfail += slots;
            if (p.Role == RedisRole.Master && slots > 0)
                size++;
            epoch = Math.Max(epoch, p.ConfigEpoch);
        }
        return new ClusterCounts(assigned, ok, pfail, size, epoch == long.MinValue ? ConfigEpoch : epoch);
    }

    /// <summary>INFO's fields (server, memory, persistence, replication, cluster, keyspace), as Redis names them.</summary>
    internal IReadOnlyDictionary<string, string> Info()
    {
        var replica = Role == RedisRole.Replica;
        var linkUp = replica && LinkUp;
        var info = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["redis_version"] = Version,
            ["tcp_port"] = Text(Port),
            ["used_memory"] = Text(1_000_000 + Keys * 100),
            ["maxmemory"] = Text(MaxMemoryBytes),
            ["loading"] = "0",
            ["rdb_bgsave_in_progress"] = "0",
            ["role"] = replica ? "slave" : "master",
            ["cluster_enabled"] = Cluster ? "1" : "0",
        };
        if (replica)
        {
            info["master_host"] = MasterHost!;
            info["master_port"] = Text(MasterPort!.Value);
            info["master_link_status"] = linkUp ? "up" : "down";
            info["master_sync_in_progress"] = Primary is not null && !linkUp ? "1" : "0";
            info["slave_repl_offset"] = Text(Offset);
            info["connected_slaves"] = "0";
        }
        else
        {
            var followers = Followers.ToList();
            info["master_repl_offset"] = Text(Offset);
            info["connected_slaves"] = Text(followers.Count);
            for (var i = 0; i < followers.Count; i++)
            {
                var r = followers[i];
                var online = r.LinkUp;
                info[$"slave{i}"] = string.Create(CultureInfo.InvariantCulture,
                    $"ip={r.Host},port={r.Port},state={(online ? "online" : "wait_bgsave")},offset={(online ? r.Offset : 0)},lag=0");
            }
        }
        if (Keys > 0)
            info["db0"] = string.Create(CultureInfo.InvariantCulture, $"keys={Keys},expires=0,avg_ttl=0");
        return info;
    }

    /// <summary>What one probe of the node gives (<see cref="RedisAdmin.ProbeAsync"/>'s reading of INFO and CLUSTER INFO).</summary>
    internal RedisNodeState State()
    {
        var info = Info();
        // The counts themselves, not CLUSTER INFO's text read back: the probe is the fakes' hottest path.
        ClusterCounts? cluster = Cluster ? CountCluster() : null;
        var replica = Role == RedisRole.Replica;
        return new RedisNodeState(
            Role, replica ? MasterHost : null, replica ? MasterPort : null, replica && info["master_link_status"] == "up",
            Offset, Followers.Count(), Loading: false, SyncInProgress: info.GetValueOrDefault("master_sync_in_progress") == "1",
            Keys, Version, long.Parse(info["used_memory"], CultureInfo.InvariantCulture), MaxMemoryBytes,
            Cluster, cluster?.State, Cluster ? MyId : null, cluster is null ? null : Known.Count, cluster?.Assigned, cluster?.Ok)
        {
            Replicas = replica ? [] : Followers.Select(r => new ReplicaLink(r.Host, r.Port, r.LinkUp, r.LinkUp ? r.Offset : 0)).ToList(),
            CurrentEpoch = cluster?.CurrentEpoch,
            MyEpoch = cluster is null ? null : ConfigEpoch,
        };
    }

    private void RequireCluster()
    {
        if (!Cluster)
            throw Error("ERR This instance has cluster support disabled");
    }

    private static string Address(string host, int port) => MemoryWorld.Address(host, port);

    private static string Text(long value) => value.ToString(CultureInfo.InvariantCulture);

    private static RedisServerException Error(string message) => new(RedisErrorKind.UnknownError, CommandFlags.None, message);
}
