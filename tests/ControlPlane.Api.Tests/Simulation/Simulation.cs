using System.Globalization;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using ControlPlane.Api.Data;
using ControlPlane.Api.Engines;
using ControlPlane.Api.Reconciliation;
using ControlPlane.Api.Runtime;
using ControlPlane.Api.World.InMemory;
using ControlPlane.Domain;
using Microsoft.EntityFrameworkCore;

namespace ControlPlane.Api.Tests.Simulation;

/// <summary>What one seed did: whether every invariant held, the first one broken, and the trace to compare a replay with.</summary>
public sealed record SimOutcome(int Seed, string? Violation, IReadOnlyList<string> Trace, int Steps, long WorldCalls, int Restarts, long ClockJumps, long Commands)
{
    /// <summary>Where the wall-clock time went: starting control planes, running passes, the rest (checks, the database wipe).</summary>
    public (TimeSpan Starting, TimeSpan Passes, TimeSpan Total) Time { get; init; }

    public bool Passed => Violation is null;

    /// <summary>A digest of the trace: two runs of one seed are the same run when theirs are equal.</summary>
    public string Digest => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join('\n', Trace))))[..16];
}

/// <summary>
/// One seeded run of the real reconciler against the in-memory world: a cluster-mode group is
/// created, faults chosen by the seed hit it step after step (a pass of the reconciler is a step),
/// then the faults stop and it must converge. Everything random comes from the seed (the group's
/// shape, which fault when, and at which call into the world a mid-step fault strikes), the clock
/// is the simulation's, and the control plane runs on <see cref="SimScheduler"/>'s one thread, so a
/// seed is one run. The invariants are checked after every step (never two primaries in a shard,
/// never a shard's data replaced empty while a node holding it lives) and at the end (converged, no
/// orphan container, no leaked port).
/// </summary>
public sealed class Simulation
{
    private const int FaultSteps = 40;
    private const int RecoverySteps = 240;
    /// <summary>Full passes after convergence before the leftovers are judged, and the most steps that may take.</summary>
    private const int SettlePasses = 3;
    private const int SettleSteps = 80;
    private const long KeysPerShard = 1000;
    private static readonly TimeSpan PassLimit = TimeSpan.FromMinutes(10);

    private readonly int _seed;
    private readonly SimDatabase _database;
    private readonly int _portStart;
    private readonly Random _random;
    private readonly SimClock _clock = new(new DateTimeOffset(2030, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly MemoryWorld _world;
    // One for every seed: EF keys its internal services (model, compiled queries) by the options,
    // interceptors included, so a new instance per seed would build them all again.
    private readonly FailingCommands _failing = FailingCommands.Shared;
    private readonly SimScheduler _scheduler;
    private readonly List<string> _trace = [];
    private readonly List<(int Step, string What, Action Act)> _later = [];
    private readonly HashSet<string> _shardsWithData = new(StringComparer.Ordinal);
    private readonly string _group;
    private SimControlPlane _controlPlane = null!;
    private long _calls;
    private long _killAtCall;
    private Action? _atCall;
    private bool _dead;
    private readonly bool _fullPassesOnly;
    private bool _woken;
    private IReadOnlySet<string> _again = new HashSet<string>();
    private bool _looking;
    private int _restarts;
    private int _fullPasses;
    private int _step;

    /// <summary>Shape and faults the seed chose, for the failure message.</summary>
    private int _shards;
    private int _replicas;

    private Simulation(int seed, SimDatabase database, int portStart, bool fullPasses)
    {
        _fullPassesOnly = fullPasses;
        _seed = seed;
        _database = database;
        _portStart = portStart;
        _random = new Random(seed);
        _world = new MemoryWorld(_clock, seed);
        _scheduler = new SimScheduler(_clock, database.InFlight);
        _failing.Begin();
        _group = $"sim{seed}";
        _world.BeforeCall = OnCall;
    }

    /// <summary>
    /// Runs the seed on <paramref name="database"/>, emptied first. With <paramref name="fullPasses"/>
    /// every turn is a full pass, woken as by an outside change: how the seeds ran before the loop's
    /// own turns were simulated, so that those that found a bug then replay the same runs.
    /// </summary>
    public static async Task<SimOutcome> RunAsync(int seed, SimDatabase database, int portStart, bool fullPasses = false)
    {
        await database.ResetAsync();
        var simulation = new Simulation(seed, database, portStart, fullPasses);
        try
        {
            var violation = await simulation.RunAsync();
            return simulation.Outcome(violation);
        }
        catch (Exception e)
        {
            return simulation.Outcome($"the run itself failed at step {simulation._step}: {e}");
        }
        finally
        {
            await simulation._controlPlane.DisposeAsync();
        }
    }

    private SimOutcome Outcome(string? violation) =>
        new(_seed, violation, _trace, _step, _calls, _restarts, _scheduler.ClockJumps, _failing.Executed) { Time = (_starting.Elapsed, _passes.Elapsed, _total.Elapsed) };

    private readonly System.Diagnostics.Stopwatch _starting = new(), _passes = new(), _total = System.Diagnostics.Stopwatch.StartNew();

    private async Task<string?> RunAsync()
    {
        _shards = _random.Next(1, 4);
        _replicas = _random.Next(1, 3);
        Log($"group {_group}: {_shards} shards, {_replicas} replicas per shard");
        _controlPlane = Start();
        var client = _controlPlane.CreateClient();
        var created = await client.PostAsJsonAsync("/v1/replication-groups", new { id = _group, clusterMode = "enabled", numShards = _shards, replicasPerShard = _replicas });
        if (!created.IsSuccessStatusCode)
            return $"the create was refused: {(int)created.StatusCode} {await created.Content.ReadAsStringAsync()}";

        for (_step = 0; _step < FaultSteps; _step++)
        {
            RunDue();
            if (_random.NextDouble() < 0.35)
                InjectFault();
            if (await StepAsync() is { } broken)
                return broken;
        }

        Log("faults stop");
        foreach (var (_, what, act) in _later.OrderBy(l => l.Step).ToList())
        {
            Log($"  ends early: {what}");
            act();
        }
        _later.Clear();
        (_world.CommandLatency, _world.StartDelay) = (TimeSpan.Zero, TimeSpan.Zero);
        _failing.Arm(0);
        (_killAtCall, _atCall) = (0, null);
        foreach (var zone in new[] { "az-a", "az-b", "az-c" })
            _world.SetZoneAnswering(zone, true);

        for (var recovery = 0; recovery < RecoverySteps; recovery++, _step++)
        {
            if (await StepAsync() is { } broken)
                return broken;
            if (await NotConvergedAsync() is null)
            {
                Log($"converged after {recovery + 1} recovery steps{(await CreateFailedAsync() ? " (the create failed)" : "")}");
                _step++;
                // Leftovers go at the full passes after (a retired node's lease once its container is gone; a quiet
                // loop runs one every QuietPassInterval, heartbeats between): a few more, then none may be left.
                var passesBefore = _fullPasses;
                for (var after = 0; after < SettleSteps && _fullPasses - passesBefore < SettlePasses; after++, _step++)
                    if (await StepAsync() is { } brokenAfter)
                        return brokenAfter;
                return await NotConvergedAsync() is { } lost ? $"converged, then not: {lost}" : await LeftoversAsync();
            }
        }
        return $"never converged in {RecoverySteps} steps once the faults stopped: {await NotConvergedAsync()}";
    }

    // ---- Steps ----

    /// <summary>
    /// One turn of the reconciler's loop (a full pass, or the heartbeat and a pass for the groups it did
    /// not hear from, every convergence it starts run to the end), the invariants, then the clock moves on.
    /// </summary>
    private async Task<string?> StepAsync()
    {
        var controlPlane = _controlPlane;
        var callsBefore = _calls;
        var holdersBefore = Holders();
        var turn = Turn.Failed;
        _passes.Start();
        try
        {
            _scheduler.Run(async () =>
            {
                try
                {
                    turn = await controlPlane.Reconciler.TurnAsync(_woken || _fullPassesOnly, _again, controlPlane.Life.Token);
                }
                finally
                {
                    await controlPlane.Reconciler.ConvergencesAsync();
                }
            }, PassLimit);
        }
        catch (OperationCanceledException) when (_dead)
        {
        }
        catch (Exception e) when (e is not TimeoutException)
        {
            // A turn logs its own failures and throws only once its life is cancelled: what the kill left.
            Log($"  the turn threw: {e.GetType().Name}: {e.Message.Split('\n')[0]}");
        }
        if (turn == Turn.Pass)
            _fullPasses++;
        // What woke the loop while it turned, as its wait would take it.
        (_woken, _again) = controlPlane.Signal.Take();
        _passes.Stop();
        _failing.Arm(0);
        (_killAtCall, _atCall) = (0, null);
        if (_dead)
        {
            Log("  the control plane died mid-pass; a new one starts");
            await RestartAsync();
        }
        Log($"step {_step} at {_clock.GetUtcNow():HH:mm:ss.fff}: {turn}, {_calls - callsBefore} calls; {WorldText()}");
        if (Violation(holdersBefore) is { } broken)
            return broken;
        await WriteDataAsync();
        _clock.Advance(_random.NextDouble() < 0.8 ? TimeSpan.FromMilliseconds(250) : TimeSpan.FromSeconds(_random.Next(1, 8)));
        return null;
    }

    private SimControlPlane Start()
    {
        _starting.Start();
        _dead = false;
        // A control plane starts with a full pass, as the loop does.
        (_woken, _again) = (true, new HashSet<string>());
        var controlPlane = new SimControlPlane(_database, _world, _clock, _failing, _portStart);
        _ = controlPlane.Services;
        _starting.Stop();
        return controlPlane;
    }

    private async Task RestartAsync()
    {
        _restarts++;
        await _controlPlane.DisposeAsync();
        _controlPlane = Start();
    }

    private void OnCall(string call)
    {
        if (_looking)
            return;
        if (_dead)
            throw new OperationCanceledException("Simulated: this control plane was killed.");
        _calls++;
        if (_killAtCall == _calls)
        {
            Log($"  killed at call {_calls} ({call})");
            _dead = true;
            _controlPlane.Life.Cancel();
            throw new OperationCanceledException("Simulated: this control plane was killed.", _controlPlane.Life.Token);
        }
        if (_atCall is { } act && _calls == _atCallNumber)
        {
            _atCall = null;
            Log($"  at call {_calls} ({call}):");
            act();
        }
        if (call.Split(' ') is [_, nameof(INodeRuntime.RemoveAsync), var removed])
            NoteRemoval(removed);
    }

    /// <summary>Hung nodes the control plane fenced while another node served their shard's data: not the last copy when they went.</summary>
    private readonly HashSet<string> _removedWithACopyLeft = new(StringComparer.Ordinal);

    /// <summary>
    /// A fence is judged when it is made. A hung node is removed so that there are never two
    /// primaries; while another node answers with the shard's data, that takes no last copy, whatever
    /// the faults do to that other node later in the same pass (seeds 2083, 2141: the new primary
    /// killed right after). Removing a node that answers, or the last node holding the data, is
    /// still the control plane's doing (seed 325: a replica that answered again was fenced).
    /// </summary>
    private void NoteRemoval(string nameOrId)
    {
        _looking = true;
        try
        {
            if (GroupContainers().FirstOrDefault(c => c.Container.Name == nameOrId || c.Container.Id == nameOrId).Container is not { } container)
                return;
            var shard = container.Labels.GetValueOrDefault(Labels.Shard) ?? "";
            var processes = Processes();
            // The last attempt decides: one its zone refused is made again later, and judged again then.
            if (processes.Any(p => p.Name == container.Name && p.Process.Hung)
                && processes.Any(p => p.Shard == shard && p.Name != container.Name && p.Process is { Hung: false, Keys: > 0 }))
                _removedWithACopyLeft.Add(container.Name);
            else
                _removedWithACopyLeft.Remove(container.Name);
        }
        finally
        {
            _looking = false;
        }
    }

    private long _atCallNumber;

    // ---- Faults ----

    private void InjectFault()
    {
        var nodes = GroupContainers().Where(c => c.Container.Running).OrderBy(c => c.Container.Name, StringComparer.Ordinal).ToList();
        switch (_random.Next(9))
        {
            case 0 when nodes.Count > 0:
            {
                var victim = nodes[_random.Next(nodes.Count)].Container.Name;
                Log($"  fault: kill {victim}");
                Kill(victim);
                break;
            }
            case 1 when nodes.Count > 0:
            {
                var victim = nodes[_random.Next(nodes.Count)].Container.Name;
                Log($"  fault: hang {victim}");
                _world.Hang(victim);
                Later(_random.Next(1, 12), $"resume {victim}", () => Resume(victim));
                break;
            }
            case 2:
            {
                var zone = new[] { "az-a", "az-b", "az-c" }[_random.Next(3)];
                var hangNodes = _random.Next(2) == 0;
                Log($"  fault: zone {zone} does not answer{(hangNodes ? ", nor do its nodes" : "")}");
                _world.SetZoneAnswering(zone, false);
                var cut = hangNodes ? nodes.Where(n => n.Zone == zone).Select(n => n.Container.Name).ToList() : [];
                foreach (var name in cut)
                    _world.Hang(name);
                Later(_random.Next(2, 40), $"zone {zone} answers again", () =>
                {
                    _world.SetZoneAnswering(zone, true);
                    foreach (var name in cut)
                        Resume(name);
                });
                break;
            }
            case 3:
            {
                var latency = TimeSpan.FromMilliseconds(_random.Next(50, 700));
                Log($"  fault: every command takes {latency.TotalMilliseconds} ms");
                _world.CommandLatency = latency;
                Later(_random.Next(1, 8), "commands fast again", () => _world.CommandLatency = TimeSpan.Zero);
                break;
            }
            case 4:
            {
                var delay = TimeSpan.FromSeconds(_random.Next(1, 15));
                Log($"  fault: containers take {delay.TotalSeconds} s to start");
                _world.StartDelay = delay;
                Later(_random.Next(2, 10), "containers start at once again", () => _world.StartDelay = TimeSpan.Zero);
                break;
            }
            case 5:
                Log("  fault: the control plane restarts before the pass");
                RestartAsync().GetAwaiter().GetResult();
                break;
            case 6:
                _killAtCall = _calls + _random.Next(1, 80);
                Log($"  fault: the control plane dies at call {_killAtCall}");
                break;
            case 7:
            {
                var n = _random.Next(1, 40);
                Log($"  fault: the {n}th database command of the pass fails");
                _failing.Arm(n);
                break;
            }
            case 8 when nodes.Count > 0:
            {
                var victim = nodes[_random.Next(nodes.Count)].Container.Name;
                var hang = _random.Next(2) == 0;
                _atCallNumber = _calls + _random.Next(1, 80);
                Log($"  fault: {(hang ? "hang" : "kill")} {victim} at call {_atCallNumber}");
                _atCall = () =>
                {
                    if (hang)
                    {
                        if (_world.Containers().Any(c => c.Container.Name == victim && c.Container.Running))
                        {
                            _world.Hang(victim);
                            Later(_random.Next(1, 12), $"resume {victim}", () => Resume(victim));
                        }
                    }
                    else
                        Kill(victim);
                };
                break;
            }
        }
    }

    /// <summary>Containers the faults killed: their loss is no fault of the control plane.</summary>
    private readonly HashSet<string> _killed = new(StringComparer.Ordinal);

    private void Kill(string container)
    {
        _killed.Add(container);
        _world.Kill(container);
    }

    private void Resume(string container)
    {
        if (_world.Containers().Any(c => c.Container.Name == container && c.Container.Running))
            _world.Resume(container);
    }

    private void Later(int steps, string what, Action act) => _later.Add((_step + steps, what, act));

    private void RunDue()
    {
        foreach (var due in _later.Where(l => l.Step <= _step).ToList())
        {
            _later.Remove(due);
            Log($"  {due.What}");
            due.Act();
        }
    }

    // ---- The world as the engines see it ----

    private List<(string Zone, ContainerInfo Container)> GroupContainers() =>
        _world.Containers().Where(c => c.Container.Labels.GetValueOrDefault(Labels.Group) == _group).ToList();

    /// <summary>The Redis process of a container, whether it answers or not, null when it does not run or listen yet.</summary>
    private RedisProcess? Process(ContainerInfo container) =>
        container.Running && int.TryParse(container.Labels.GetValueOrDefault(Labels.Port), CultureInfo.InvariantCulture, out var port)
            ? _world.Redis("127.0.0.1", port) is { Alive: true } p && p.ContainerName == container.Name ? p : null
            : null;

    private List<(string Shard, string Name, RedisProcess Process)> Processes()
    {
        var processes = GroupContainers().Select(c => (Shard: c.Container.Labels.GetValueOrDefault(Labels.Shard) ?? "", c.Container.Name, Process: Process(c.Container)))
            .Where(p => p.Process is not null).Select(p => (p.Shard, p.Name, p.Process!)).ToList();
        // A replica's keys are read lazily by the world: a synced one is brought up to date before it is judged.
        foreach (var replica in processes.Select(p => p.Item3).Where(p => p.Role == RedisRole.Replica))
            _ = replica.LinkUp;
        return processes;
    }

    /// <summary>The containers holding each shard's data now (live, answering or not).</summary>
    private Dictionary<string, List<string>> Holders()
    {
        _looking = true;
        try
        {
            return Processes().Where(p => _shardsWithData.Contains(p.Shard) && p.Process.Keys > 0)
                .GroupBy(p => p.Shard).ToDictionary(g => g.Key, g => g.Select(p => p.Name).ToList());
        }
        finally
        {
            _looking = false;
        }
    }

    /// <summary>The invariants that must hold at every step, faults or not; <paramref name="holdersBefore"/>: who held each shard's data before the step.</summary>
    private string? Violation(Dictionary<string, List<string>> holdersBefore)
    {
        _looking = true;
        try
        {
            var processes = Processes();
            // Never two primaries in a shard: two masters of it serving slots, answering, both taking writes.
            foreach (var shard in processes.GroupBy(p => p.Shard))
            {
                var serving = shard.Where(p => p.Process is { Role: RedisRole.Master, Hung: false } && p.Process.Slots.Count > 0).ToList();
                if (serving.Count > 1)
                    return $"two primaries in shard {shard.Key}: {string.Join(", ", serving.Select(p => $"{p.Name} ({p.Process.Slots.Count} slots, {p.Process.Keys} keys)"))}";
            }
            // Every slot's first master, by index: a pass over each master's slots, no grouping of 16,384 entries.
            var owner = new string?[SlotRanges.SlotCount];
            foreach (var (_, name, process) in processes.Where(p => p.Process is { Role: RedisRole.Master, Hung: false }))
                foreach (var slot in process.Slots)
                {
                    if (owner[slot] is { } first)
                        return $"slot {slot} served by two masters: {first}, {name}";
                    owner[slot] = name;
                }
            // Never a shard replaced empty while a node holding its data lives.
            foreach (var shard in processes.GroupBy(p => p.Shard).Where(s => _shardsWithData.Contains(s.Key)))
            {
                var empty = shard.Where(p => p.Process is { Role: RedisRole.Master, Hung: false, Keys: 0 } && p.Process.Slots.Count > 0).ToList();
                var holders = shard.Where(p => p.Process.Keys > 0).ToList();
                if (empty.Count > 0 && holders.Count > 0)
                    return $"shard {empty[0].Shard} is served empty by {empty[0].Name} while {string.Join(", ", holders.Select(h => $"{h.Name} ({h.Process.Role}, {h.Process.Keys} keys)"))} holds its data";
                // Nor by removing the last nodes that held it (hung, out of reach, but alive) in this step: the faults did not kill them, the control plane did.
                var removed = holdersBefore.GetValueOrDefault(shard.Key, [])
                    .Where(name => !_killed.Contains(name) && !_removedWithACopyLeft.Contains(name) && !processes.Any(p => p.Name == name)).ToList();
                if (empty.Count > 0 && holders.Count == 0 && removed.Count > 0)
                    return $"shard {shard.Key} is served empty by {empty[0].Name}: the control plane removed {string.Join(", ", removed)}, the last nodes holding its data, while they lived";
            }
            return null;
        }
        finally
        {
            _looking = false;
        }
    }

    /// <summary>Once the group is first available, each shard's primary gets its data (clients writing).</summary>
    private async Task WriteDataAsync()
    {
        if (_shardsWithData.Count == _shards)
            return;
        await using var db = _database.CreateContext();
        if (await db.ReplicationGroups.AsNoTracking().AnyAsync(g => g.Id == _group && g.Status == GroupStatus.Available) is false)
            return;
        foreach (var (shard, name, process) in Processes().Where(p => p.Process is { Role: RedisRole.Master, Hung: false } && p.Process.Slots.Count > 0))
        {
            if (_shardsWithData.Add(shard))
            {
                _world.Write(process.Host, process.Port, KeysPerShard);
                Log($"  wrote {KeysPerShard} keys to shard {shard} at {name}");
            }
        }
    }

    /// <summary>Null once the group is whole: available, every node available and serving its part, the cluster agreed. Otherwise what is not.</summary>
    private async Task<string?> NotConvergedAsync()
    {
        await using var db = _database.CreateContext();
        var group = await db.ReplicationGroups.AsNoTracking().Include(g => g.Shards).ThenInclude(s => s.Nodes).AsSplitQuery().FirstOrDefaultAsync(g => g.Id == _group);
        if (group is null)
            return "the group is gone";
        // A node killed while the create runs fails the create (the planner's rule, as ElastiCache's
        // create-failed): an end too, as long as it leaves nothing behind (LeftoversAsync).
        if (group.Status == GroupStatus.CreateFailed)
            return null;
        if (group.Status != GroupStatus.Available)
        {
            var events = await db.Events.AsNoTracking().Where(e => e.SourceId == _group).OrderByDescending(e => e.Id).Take(3).Select(e => e.Message).ToListAsync();
            return $"the group is {group.Status} (last events: {string.Join(" | ", events)})";
        }
        var nodes = group.Shards.SelectMany(s => s.Nodes).ToList();
        if (nodes.Count != _shards * (1 + _replicas) || nodes.Any(n => n.Status != NodeStatus.Available))
            return $"nodes: {string.Join(", ", nodes.Select(n => $"{n.Id} {n.Role} {n.Status}"))}";
        _looking = true;
        try
        {
            var slots = 0;
            foreach (var shard in group.Shards)
            {
                RedisProcess? At(RedisNodeEntity n) => n.Port is { } port && _world.Redis(n.Host!, port) is { Alive: true, Hung: false } p && p.ContainerName == $"{SimControlPlane.Instance}-{n.Id}" ? p : null;
                var primary = shard.Nodes.Single(n => n.Role == NodeRole.Primary);
                if (At(primary) is not { Role: RedisRole.Master } master || master.Slots.Count == 0)
                    return $"shard {shard.Id}: its primary {primary.Id} does not serve";
                slots += master.Slots.Count;
                foreach (var replica in shard.Nodes.Where(n => n.Role == NodeRole.Replica))
                    if (At(replica) is not { Role: RedisRole.Replica } r || r.ClusterMasterId != master.MyId || !r.LinkUp)
                        return $"shard {shard.Id}: replica {replica.Id} does not follow {primary.Id}";
            }
            if (slots != SlotRanges.SlotCount)
                return $"{slots} slots served";
            var admin = new MemoryRedisAdmin(_world);
            foreach (var node in nodes)
            {
                var info = await admin.ClusterInfoAsync(node.Host!, node.Port!.Value, CancellationToken.None);
                if (info["cluster_state"] != "ok" || info["cluster_known_nodes"] != $"{nodes.Count}")
                    return $"{node.Id} sees the cluster {info["cluster_state"]} with {info["cluster_known_nodes"]} nodes";
            }
            return null;
        }
        finally
        {
            _looking = false;
        }
    }

    private async Task<bool> CreateFailedAsync()
    {
        await using var db = _database.CreateContext();
        return await db.ReplicationGroups.AnyAsync(g => g.Id == _group && g.Status == GroupStatus.CreateFailed);
    }

    /// <summary>After convergence: every container is a node's, every port lease is a node's.</summary>
    private async Task<string?> LeftoversAsync()
    {
        await using var db = _database.CreateContext();
        var nodes = await db.RedisNodes.AsNoTracking().ToListAsync();
        var ids = nodes.Select(n => n.Id).ToHashSet(StringComparer.Ordinal);
        var orphans = _world.Containers().Where(c => !ids.Contains(c.Container.Labels.GetValueOrDefault(Labels.Node) ?? "")).ToList();
        if (orphans.Count > 0)
            return $"orphan containers: {string.Join(", ", orphans.Select(o => $"{o.Container.Name} in {o.Zone} ({o.Container.State})"))}";
        var stopped = _world.Containers().Where(c => !c.Container.Running).ToList();
        if (stopped.Count > 0)
            return $"containers left stopped: {string.Join(", ", stopped.Select(o => $"{o.Container.Name} in {o.Zone}"))}";
        var leases = await db.PortLeases.AsNoTracking().ToListAsync();
        var leaked = leases.Where(l => !ids.Contains(l.NodeId)).ToList();
        if (leaked.Count > 0)
            return $"leaked port leases: {string.Join(", ", leaked.Select(l => $"{l.Host}:{l.Port} of {l.NodeId}"))}";
        var unleased = nodes.Where(n => n.Port is { } port && !leases.Any(l => l.NodeId == n.Id && l.Host == n.Host && l.Port == port)).ToList();
        if (unleased.Count > 0)
            return $"nodes on ports without their lease: {string.Join(", ", unleased.Select(n => $"{n.Id} at {n.Host}:{n.Port}"))}";
        return null;
    }

    private string WorldText()
    {
        _looking = true;
        try
        {
            return string.Join(" ", GroupContainers().OrderBy(c => c.Container.Name, StringComparer.Ordinal).Select(c =>
            {
                var p = Process(c.Container);
                var state = p is null ? c.Container.State : $"{(p.Role == RedisRole.Master ? "M" : "R")}{(p.Hung ? "!" : "")}/{p.Slots.Count}/{p.Keys}";
                return $"{c.Container.Name[(SimControlPlane.Instance.Length + 1)..]}={state}";
            }));
        }
        finally
        {
            _looking = false;
        }
    }

    private void Log(string line) => _trace.Add(line);
}
