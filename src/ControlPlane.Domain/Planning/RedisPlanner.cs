using static ControlPlane.Domain.Planning.PlannerSteps;

namespace ControlPlane.Domain.Planning;

/// <summary>
/// The pure planner of Redis groups: given a group as stored, what one pass observed and the time,
/// the next steps. The reconciler acts, observes again and asks again until the plan is empty
/// (converged) or only waits. Each call returns one kind of step, in order: report, decide, fence,
/// promote, replace, start, wire, settle; then, once an available or snapshotting group has nothing else
/// to do, its nodes' parameters. Last, so that healing and wiring never wait behind a node that refuses
/// them, and a parameter group changed while a node is replaced reaches the nodes once they are settled.
/// The client users of the nodes that lack them go with the steps that are no failure handling.
/// </summary>
public static partial class RedisPlanner
{
    public static IReadOnlyList<NodeAction> Plan(DesiredGroup group, IReadOnlyDictionary<string, ObservedNode> observed, PlanContext? context, DateTimeOffset now)
    {
        context ??= PlanContext.None;
        // A create from a snapshot checks every file against its checksum before anything starts.
        if (group.Status == GroupStatus.Creating && context.RestoreProblem is { } unusable)
            return [new Fail($"Snapshot {group.RestoreFromSnapshot} cannot be restored: {unusable}")];
        // Nodes started by an older control plane (another command line) are replaced one by one, as a
        // node type change replaces them: new nodes sync, primaries hand over, nothing is lost. Outside
        // the maintenance window that waits for it, and the group keeps serving as it is.
        if (group.Status == GroupStatus.Available
            && Refresh(group.Nodes.Where(n => observed.GetValueOrDefault(n.Id)?.Container == ContainerState.Outdated).Select(n => n.Id).Order(StringComparer.Ordinal).ToList(),
                group.Window, group.Scheduled, now, "replacing") is { } refresh)
            return [refresh];

        var (steps, healing) = PlanSteps(group, observed, context);
        return WithClientAccess(group, observed, group.Status switch
        {
            GroupStatus.Creating => Created(group, UnlessTimedOut(steps, group.CreatedAt, context, now)),
            // Snapshots are taken of a group that is healthy and wired, with nothing else to do. Its nodes'
            // parameters are set beside: a node that refuses them must not hold the snapshot up.
            GroupStatus.Snapshotting when steps.Count == 0 => [.. ParameterSteps.Parameters(group.Nodes, now), new TakeSnapshots()],
            GroupStatus.Available when steps.Count == 0 && ParameterSteps.Parameters(group.Nodes, now) is { Count: > 0 } parameters => parameters,
            GroupStatus.Available => WithTransit(group, observed, Reachability(group, observed, steps), now),
            GroupStatus.IncompatibleNetwork => Reachability(group, observed, steps),
            // Not while a modification runs: it may need the engines as they are (new nodes keep the values
            // their command line gives them, and say applying, until the group is available again).
            _ => steps,
        }, healing);
    }

    /// <summary>Restored into the snapshot's shape, a group that asked for another shard count goes on to reshard instead of becoming available.</summary>
    private static IReadOnlyList<NodeAction> Created(DesiredGroup group, IReadOnlyList<NodeAction> steps)
    {
        if (group.Pending?.NumShards is not { } shards || steps.FirstOrDefault(a => a is MarkGroup { Status: GroupStatus.Available }) is not MarkGroup created)
            return steps;
        return [.. steps.Where(a => a != created),
            new MarkGroup(GroupStatus.Modifying, $"{created.Message} from snapshot {group.RestoreFromSnapshot}; its keys now move onto {shards} shard(s)")];
    }

    private static IReadOnlyList<NodeAction> Reachability(DesiredGroup group, IReadOnlyDictionary<string, ObservedNode> observed, IReadOnlyList<NodeAction> steps)
    {
        // Told truthfully: a group with a shard none of whose nodes can be reached, and nothing to do about
        // it now but wait, is not available; it is again once the plan is empty.
        var stuck = steps.All(s => s is Wait or Hold);
        var unserved = group.Shards.Where(s => s.Status != ShardStatus.Deleting
                && !s.Nodes.Any(n => n.Status != NodeStatus.Deleting && observed.GetValueOrDefault(n.Id) is { } o && (o.Reachable || o.Unknown))).Select(s => s.Id).ToList();
        if (group.Status == GroupStatus.Available && stuck && steps.Count > 0 && unserved.Count > 0)
            return [new MarkGroup(GroupStatus.IncompatibleNetwork,
                $"Replication group {group.Id} is not available: the control plane cannot reach any node of node group(s) {string.Join(", ", unserved)}")];
        if (group.Status == GroupStatus.IncompatibleNetwork && steps.Count == 0)
            return [new MarkGroup(GroupStatus.Available, $"Replication group {group.Id} is available again")];
        return steps;
    }

    /// <summary>The steps, and whether they handle a failure (the client users then wait for the next step).</summary>
    private static (IReadOnlyList<NodeAction> Steps, bool Healing) PlanSteps(DesiredGroup group, IReadOnlyDictionary<string, ObservedNode> observed, PlanContext context)
    {
        ObservedNode Seen(DesiredNode n) => observed.GetValueOrDefault(n.Id) ?? ObservedNode.Missing(n.Id);

        // A final snapshot still to take comes before anything is removed.
        if (group.Status == GroupStatus.Deleting)
            return (group.FinalSnapshot is { } final ? [new TakeFinalSnapshot(final)] : Teardown(group.Nodes.Select(Seen)), false);
        if (group.Status == GroupStatus.CreateFailed)
            return ([], false);

        var creating = group.Status == GroupStatus.Creating;
        // Held fire is no failure being handled: the nodes that answer are given their users beside it.
        if (!creating && Heal(group, Seen, context) is { Count: > 0 } healing)
            return (healing, healing.Any(s => s is not Hold));
        return (Converge(group, Seen, context), false);
    }

    /// <summary>A group with no failure to handle: ports, containers, wiring, statuses, then what a modification asks.</summary>
    private static IReadOnlyList<NodeAction> Converge(DesiredGroup group, Func<DesiredNode, ObservedNode> seen, PlanContext context)
    {
        var nodes = group.Nodes.ToList();
        var creating = group.Status == GroupStatus.Creating;
        // A node this control plane has not heard from yet is neither rewired nor given a role from a guess.
        if (!creating && nodes.FirstOrDefault(n => Active(n) && seen(n).Unknown) is { } unknown)
            return [new Wait($"node {unknown.Id} has not answered a probe yet")];

        // While creating, every node is new; afterwards only replacements are, and they start like new ones.
        var starting = creating ? nodes : nodes.Where(n => n.Status == NodeStatus.Creating).ToList();
        if (Containers(starting, seen, creating) is { Count: > 0 } containerSteps)
            return containerSteps;

        var wiring = group.ClusterMode == ClusterMode.Disabled ? WireReplication(group, seen) : WireCluster(group, seen);
        if (wiring.Count > 0)
            return wiring;

        var marks = Statuses(group, seen);
        if (group.Status == GroupStatus.Creating)
            return [.. marks, new MarkGroup(GroupStatus.Available, $"Replication group {group.Id} created")];
        if (marks.Count > 0 || group.Status != GroupStatus.Modifying)
            return marks;
        if (group.Target is { } target && Modify(group, target, seen, context) is { Count: > 0 } modifying)
            return modifying;
        if (group.Pending is { HasOnlineChange: true } online)
            return AwaitOnlineChanges(group, online, seen);
        return [new MarkGroup(GroupStatus.Available, $"Replication group {group.Id} is available")];
    }

    /// <summary>
    /// Failure handling of a group that exists: report newly dead nodes, take test failovers, decide
    /// failovers (stored before acted on), fence old primaries, promote, then replace what was lost.
    /// </summary>
    private static List<NodeAction> Heal(DesiredGroup group, Func<DesiredNode, ObservedNode> seen, PlanContext context)
    {
        var steps = new List<NodeAction>();
        foreach (var shard in group.Shards)
        {
            var report = KeepSoleCopy(shard, Report(shard.Nodes, seen, context, $"node group {shard.Id}"), seen, context);
            foreach (var node in shard.Nodes.Where(n => n.Status == NodeStatus.Available && n.Role == NodeRole.Primary && !Dead(seen(n))))
                if (LostItsData(shard, node, seen))
                    report.Add(new MarkNode(node.Id, NodeStatus.Failed, node.Role));
            steps.AddRange(report);
            // A primary reported failed is failed over in the same step when the choice is already clear:
            // the decision is stored with the report (the executor stores it before any engine step of
            // the plan), and a primary whose container is gone, so that there is nothing to fence, is
            // promoted in the same step too. Every round trip saved is time without writes.
            if (report.OfType<MarkNode>().FirstOrDefault(m => m.Role == NodeRole.Primary) is { } lost
                && shard.Nodes.First(n => n.Id == lost.NodeId) is var primary
                && Decide(group, shard, primary, seen, context) is Failover failover)
            {
                steps.Add(failover);
                if (seen(primary).Gone)
                    steps.Add(group.ClusterMode == ClusterMode.Disabled ? new Promote(failover.ToNodeId, primary.Id) : new ClusterTakeover(failover.ToNodeId, primary.Id));
            }
            // A replacement that cannot start because its zone stays down is placed again elsewhere.
            foreach (var node in shard.Nodes.Where(n => n.Status == NodeStatus.Creating && context.ZonesDown.Contains(n.Zone) && !seen(n).Reachable))
                steps.Add(new MarkNode(node.Id, NodeStatus.Failed, node.Role));
        }
        // A held shard does not stop the others from healing; it is only what is left to say when nothing else is.
        var holds = steps.OfType<Hold>().ToList<NodeAction>();
        steps.RemoveAll(s => s is Hold);
        if (steps.Count > 0)
            return steps;

        foreach (var shardId in group.TestFailoverShards ?? new HashSet<string>())
            if (group.Shards.FirstOrDefault(s => s.Id == shardId) is { } shard && shard.Nodes.FirstOrDefault(n => n.Role == NodeRole.Primary) is { } primary)
                steps.Add(new StartTestFailover(shardId, primary.Id));
        if (steps.Count > 0)
            return steps;

        // Decide: the replica with the highest replication offset takes over; without one, or without
        // automatic failover, the primary is replaced by an empty one and the data of the shard is lost.
        foreach (var shard in group.Shards)
        {
            var primary = shard.Nodes.FirstOrDefault(n => n.Role == NodeRole.Primary);
            if (primary is not null && primary.Status == NodeStatus.Failed)
                steps.Add(Decide(group, shard, primary, seen, context));
        }
        if (steps.Count > 0)
            return steps.Any(s => s is not Wait) ? steps.Where(s => s is not Wait).ToList() : steps;

        // A failed replica that answers again (it hung, its zone was out of reach) and has not been
        // replaced yet is kept: it joins again like a new replica, available once it has synced. Fencing
        // it would throw away a copy of the shard for an empty one (the simulation found the primary lost
        // right after, seed 325). One that answers as a primary is an old primary: that one is fenced.
        var back = group.Nodes.Where(n => n.Status == NodeStatus.Failed && n.Role == NodeRole.Replica && !context.Unreachable(n.Zone)
                && seen(n) is { Reachable: true, Stale: false, IsPrimary: false })
            .Select(n => (NodeAction)new MarkNode(n.Id, NodeStatus.Creating, NodeRole.Replica)).ToList();
        if (back.Count > 0)
            return back;

        // Fence before promoting: a failed node whose container still runs (hung, or demoted) goes
        // first, so there are never two primaries. An exited one takes no writes; it goes with its replacement.
        var failed = group.Nodes.Where(n => n.Status == NodeStatus.Failed).ToList();
        var fence = failed.Where(n => seen(n).Container is ContainerState.Running or ContainerState.Outdated)
            .Select(n => (NodeAction)new RemoveContainer(n.Id)).ToList();
        if (fence.Count > 0)
            return fence;

        foreach (var shard in group.Shards)
        {
            var primary = shard.Nodes.FirstOrDefault(n => n.Role == NodeRole.Primary && n.Status == NodeStatus.Available);
            if (primary is null || seen(primary).IsPrimary)
                continue;
            var from = shard.Nodes.FirstOrDefault(n => n.Status == NodeStatus.Failed)?.Id;
            // A stored failover is the evidence its promotion needs; without one, only a fresh answer says
            // a node is not primary: one not heard from (or remembered) is never promoted on a guess.
            if (from is null && seen(primary) is not { Reachable: true, Stale: false })
                continue;
            // A switchover that happened but was not recorded (the control plane stopped in between):
            // the shard's real primary is another live node. Record it; taking the role back would lose writes.
            if (from is null && shard.Nodes.FirstOrDefault(n => n != primary && n.Status == NodeStatus.Available && seen(n) is { Reachable: true, Stale: false, IsPrimary: true }) is { } actual)
            {
                steps.Add(new MarkNode(actual.Id, NodeStatus.Available, NodeRole.Primary));
                steps.Add(new MarkNode(primary.Id, NodeStatus.Available, NodeRole.Replica));
                continue;
            }
            steps.Add(group.ClusterMode == ClusterMode.Disabled ? new Promote(primary.Id, from) : new ClusterTakeover(primary.Id, from));
        }
        if (steps.Count > 0)
            return steps;

        // The surviving replicas follow the new primary at once, so writes are acknowledged again
        // before the replacement is even started.
        var repoint = group.ClusterMode == ClusterMode.Disabled && failed.Count > 0 ? WireReplication(group, seen).Where(a => a is ReplicateFrom) : [];
        List<NodeAction> healing = [.. repoint, .. Replace(failed, group.Nodes.ToList(), seen, context)];
        return healing.Count > 0 ? healing : holds;
    }

    /// <summary>
    /// A primary that only stopped answering (its container runs, or its zone is out of reach, even
    /// past the grace) while no replica of its shard is available (a replica is marked available only
    /// once it synced) holds the shard's only copy: replacing it would serve the shard empty while that
    /// copy may still come back. It is held instead, with an event; once its container is gone
    /// (certain death) it is replaced, and its data is lost. A zone down is evidence enough to fail
    /// over to a replica elsewhere (nothing is lost), not to throw a shard's data away: the simulation
    /// found zones that came back, their nodes and data alive, after their shards had been replaced empty.
    /// </summary>
    private static List<NodeAction> KeepSoleCopy(DesiredShard shard, List<NodeAction> report, Func<DesiredNode, ObservedNode> seen, PlanContext context)
    {
        if (report.OfType<MarkNode>().FirstOrDefault(m => m.Role == NodeRole.Primary) is not { } lost
            || shard.Nodes.First(n => n.Id == lost.NodeId) is var primary && seen(primary).Gone)
            return report;
        if (shard.Nodes.Any(n => n.Role == NodeRole.Replica && n.Status == NodeStatus.Available && !seen(n).Gone))
            return report;
        return [.. report.Where(a => a != lost), new Hold($"Cache node {primary.Id}, the primary of node group {shard.Id}, stopped answering{Where(primary, context)}, "
            + "and no replica has synced its data: it is not replaced by an empty node while it may come back")];
    }

    /// <summary>Why a silent node may still be alive: its container runs, or its zone is out of reach.</summary>
    private static string Where(DesiredNode node, PlanContext context) =>
        context.Unreachable(node.Zone) ? $" while its zone {node.Zone} is out of reach" : " while its container runs";

    /// <summary>
    /// The decision for a shard whose primary failed: the replica with the highest replication offset
    /// takes over; without one, or without automatic failover, the primary is replaced by an empty
    /// one and the data of the shard is lost, unless a replica that does not answer may still hold it.
    /// </summary>
    private static NodeAction Decide(DesiredGroup group, DesiredShard shard, DesiredNode primary, Func<DesiredNode, ObservedNode> seen, PlanContext context)
    {
        var candidates = shard.Nodes.Where(n => n.Role == NodeRole.Replica && n.Status == NodeStatus.Available && !Dead(seen(n))).ToList();
        // The offsets must be fresh: a remembered one could crown a replica that lacks acknowledged writes.
        if (group.AutomaticFailover && candidates.FirstOrDefault(n => seen(n).Stale) is { } stale)
            return new Wait($"the replication offset of {stale.Id} is not fresh");
        var best = candidates.OrderByDescending(n => seen(n).Offset).ThenBy(n => n.Id).FirstOrDefault();
        if (group.AutomaticFailover && best is not null)
            return new Failover(shard.Id, primary.Id, best.Id);
        // A replica failed earlier (it hung, its zone went out of reach) whose container may still run
        // keeps what it had: once it answers again it is a candidate again, rather than fenced and the
        // shard started empty beside it.
        if (group.AutomaticFailover && shard.Nodes.FirstOrDefault(n => n.Role == NodeRole.Replica && n.Status == NodeStatus.Failed && seen(n) is { Reachable: true, Stale: false }) is { } back)
            return new MarkNode(back.Id, NodeStatus.Available, NodeRole.Replica);
        // So does a replacement that synced before it could be marked so (it hung, its zone went out of
        // reach): once it answers with the keys it is a candidate, and while it does not it may have them
        // (the simulation found one wiped by a resync from the empty primary that replaced its own, seed 2142).
        if (group.AutomaticFailover && shard.Nodes.FirstOrDefault(n => n.Role == NodeRole.Replica && n.Status == NodeStatus.Creating && seen(n) is { Reachable: true, Stale: false, Keys: > 0 }) is { } synced)
            return new MarkNode(synced.Id, NodeStatus.Available, NodeRole.Replica);
        if (group.AutomaticFailover && shard.Nodes.FirstOrDefault(n => n.Role == NodeRole.Replica && !seen(n).Gone
                && (n.Status is NodeStatus.Available or NodeStatus.Failed || (n.Status == NodeStatus.Creating && !seen(n).Reachable))) is { } silent)
            return new Wait($"replica {silent.Id} does not answer but may hold the data of node group {shard.Id}; it is not replaced empty");
        // Nor is the primary while its container may still run (it hangs, or its zone is out of reach):
        // it keeps the shard's data, and when it answers again as the primary it simply is one again.
        if (!seen(primary).Gone)
            return seen(primary) is { Reachable: true, Stale: false, IsPrimary: true }
                ? new MarkNode(primary.Id, NodeStatus.Available, NodeRole.Primary)
                : new Hold($"Cache node {primary.Id}, the primary of node group {shard.Id}, does not answer{Where(primary, context)}, "
                    + "and no replica holds its data: it is not replaced by an empty node while it may come back");
        return ReplacementZone(primary, shard.Nodes, context) is { } zone
            ? new ReplaceNode(primary.Id, zone, AsPrimary: true, DataLost: true)
            : new Wait($"the zone of node {primary.Id} is unreachable");
    }

    /// <summary>
    /// A primary that answers with a smaller offset than a replica that lost its link to it was
    /// restarted empty: it must not stay primary, or the replicas resync from it and wipe themselves.
    /// </summary>
    private static bool LostItsData(DesiredShard shard, DesiredNode primary, Func<DesiredNode, ObservedNode> seen)
    {
        var p = seen(primary);
        // Only a fresh answer counts: a remembered offset is older than the replicas' and proves nothing.
        // A replica that holds no key has no data to lose: a new replica that has not synced yet may
        // already count an offset ahead of a primary that never had a replica (Valkey 8 reports 1
        // against the primary's 0), and failing that primary would replace it empty, data and all.
        return p is { Reachable: true, Stale: false, IsPrimary: true } && shard.Nodes.Any(n => n.Role == NodeRole.Replica
            && seen(n) is { Reachable: true, IsPrimary: false, LinkUp: false } r && r.Offset > p.Offset && r.Keys is not 0);
    }

    private static List<NodeAction> WireReplication(DesiredGroup group, Func<DesiredNode, ObservedNode> seen)
    {
        var shard = group.Shards[0];
        var primary = shard.Primary;
        var steps = new List<NodeAction>();
        var waits = new List<NodeAction>();
        if (!seen(primary).IsPrimary)
            return [new Wait($"node {primary.Id} is not a primary")];
        foreach (var replica in shard.Nodes.Where(n => n.Role == NodeRole.Replica && Active(n)))
        {
            var o = seen(replica);
            if (o.IsPrimary || o.PrimaryNodeId != primary.Id)
                steps.Add(new ReplicateFrom(replica.Id, primary.Id));
            else if (!o.LinkUp || o.Lagging)
                waits.Add(new Wait($"node {replica.Id} is syncing from {primary.Id}"));
        }
        return steps.Count > 0 ? steps : waits;
    }

    private static List<NodeAction> WireCluster(DesiredGroup group, Func<DesiredNode, ObservedNode> seen)
    {
        var nodes = group.Nodes.Where(Active).ToList();
        if (nodes.FirstOrDefault(n => seen(n).ClusterId is null) is { } unknown)
            return [new Wait($"node {unknown.Id} has no cluster id yet")];
        return group.Status == GroupStatus.Creating ? WireNewCluster(group, nodes, seen) : RepairCluster(group, nodes, seen);
    }

    /// <summary>
    /// A new cluster, wired as redis-cli does but without its sleeps: distinct config epochs and the
    /// slots on each primary before anyone meets, so the slots travel with the first handshake; then
    /// every node meets every primary, and each replica attaches as soon as it knows its primary.
    /// Waiting for gossip to mesh everyone first, and assigning slots after, cost many seconds.
    /// </summary>
    private static List<NodeAction> WireNewCluster(DesiredGroup group, List<DesiredNode> nodes, Func<DesiredNode, ObservedNode> seen)
    {
        var primaries = group.Shards.Select(s => s.Primary).ToList();
        var steps = new List<NodeAction>();
        for (var i = 0; i < primaries.Count; i++)
        {
            var p = seen(primaries[i]);
            var alone = (p.KnownNodeIds?.Count ?? 0) <= 1;
            if (alone && p.ConfigEpoch == 0)
                steps.Add(new SetConfigEpoch(primaries[i].Id, i + 1));
        }
        steps.AddRange(UnservedSlots(group, seen));
        if (steps.Count > 0)
            return steps;

        foreach (var node in nodes)
            foreach (var primary in primaries.Where(p => p != node && !(seen(node).KnownNodeIds?.Contains(p.Id) ?? false)))
                steps.Add(new ClusterMeet(node.Id, primary.Id));
        var waits = new List<NodeAction>();
        foreach (var shard in group.Shards)
            foreach (var replica in shard.Nodes.Where(n => n.Role == NodeRole.Replica))
            {
                var o = seen(replica);
                if (o.ClusterPrimaryNodeId == shard.Primary.Id)
                {
                    if (!o.LinkUp || o.Lagging)
                        waits.Add(new Wait($"node {replica.Id} is syncing from {shard.Primary.Id}"));
                }
                else if (o.KnownNodeIds?.Contains(shard.Primary.Id) == true)
                    steps.Add(new ClusterReplicate(replica.Id, shard.Primary.Id));
            }
        if (steps.Count > 0)
            return steps;
        waits.AddRange(nodes.Where(n => !seen(n).ClusterStateOk).Select(n => (NodeAction)new Wait($"cluster_state is not ok on {n.Id}")));
        return waits;
    }

    /// <summary>A cluster that exists and lost nodes: the newcomers meet it, gone nodes are forgotten, then orphaned slots are served again.</summary>
    private static List<NodeAction> RepairCluster(DesiredGroup group, List<DesiredNode> nodes, Func<DesiredNode, ObservedNode> seen)
    {
        // Everyone meets one seed; gossip then introduces them to each other.
        var seed = nodes.FirstOrDefault(n => n.Status == NodeStatus.Available) ?? nodes[0];
        var seedKnows = seen(seed).KnownNodeIds ?? new HashSet<string>();
        var meets = nodes.Where(n => n != seed && !seedKnows.Contains(n.Id)).Select(n => (NodeAction)new ClusterMeet(seed.Id, n.Id)).ToList();
        if (meets.Count > 0)
            return meets;
        // Every node knows every other: a look per node and peer, so at 500 nodes 250,000 of them. The
        // nodes of a settled cluster share one set of peers (the observer hands out one instance per
        // distinct view), so each distinct set is checked once.
        var knowsAll = new Dictionary<IReadOnlySet<string>, bool>(ReferenceEqualityComparer.Instance);
        bool KnowsAll(IReadOnlySet<string>? known) => known is not null && known.Count >= nodes.Count
            && (knowsAll.TryGetValue(known, out var all) ? all : knowsAll[known] = nodes.All(other => known.Contains(other.Id)));
        if (nodes.FirstOrDefault(n => !KnowsAll(seen(n).KnownNodeIds)) is { } behind)
            return [new Wait($"gossip has not introduced every node to {behind.Id} yet")];

        var steps = new List<NodeAction>();
        var waits = new List<NodeAction>();
        foreach (var shard in group.Shards)
        {
            if (shard.Nodes.FirstOrDefault(n => n.Role == NodeRole.Primary && Active(n)) is not { } primary)
                continue;
            foreach (var replica in shard.Nodes.Where(n => n.Role == NodeRole.Replica && Active(n)))
            {
                var o = seen(replica);
                if (o.ClusterPrimaryNodeId == primary.Id)
                {
                    // A replacement is marked available only once it holds its primary's data: the
                    // failover rules take an available replica for a copy, and promoting one that has not
                    // synced would serve the shard empty (the simulation found it, seed 185).
                    if (replica.Status != NodeStatus.Available && (!o.LinkUp || o.Lagging))
                        waits.Add(new Wait($"node {replica.Id} is syncing from {primary.Id}"));
                    continue;
                }
                if (o.KnownNodeIds?.Contains(primary.Id) == true)
                    steps.Add(new ClusterReplicate(replica.Id, primary.Id));
                else
                    waits.Add(new Wait($"node {replica.Id} does not know {primary.Id} yet"));
            }
        }

        // Nodes that are gone are forgotten on every live node in the same step, or gossip brings them
        // back; their slots are only handed to a new primary once nobody remembers the old owner.
        // A node on its way out is still live until its container is gone: forgetting it earlier only
        // has gossip bring it back.
        // A node's view may include itself; it is not forgotten by itself. The strangers of a view shared
        // by many nodes (as above) are found once.
        var live = group.Nodes.Where(n => n.Status != NodeStatus.Failed).Select(n => seen(n).ClusterId).OfType<string>().ToHashSet();
        var strangers = new Dictionary<IReadOnlySet<string>, List<string>>(ReferenceEqualityComparer.Instance);
        List<string> StrangersIn(IReadOnlySet<string> view) =>
            strangers.TryGetValue(view, out var found) ? found : strangers[view] = view.Where(id => !live.Contains(id)).ToList();
        var forgets = nodes.SelectMany(n => seen(n) is { ViewClusterIds: { } view } o
                ? StrangersIn(view).Where(id => id != o.ClusterMasterId && id != o.ClusterId).Select(id => (NodeAction)new ClusterForget(n.Id, id))
                : [])
            .ToList();
        if (forgets.Count > 0)
            return [.. steps, .. forgets];

        steps.AddRange(UnservedSlots(group, seen));
        if (steps.Count > 0)
            return steps;
        if (waits.Count > 0)
            return waits;
        return nodes.Where(n => !seen(n).ClusterStateOk).Select(n => (NodeAction)new Wait($"cluster_state is not ok on {n.Id}")).ToList();
    }

    /// <summary>Every wired node is available in the role it really has; every shard that stays is available.</summary>
    private static List<NodeAction> Statuses(DesiredGroup group, Func<DesiredNode, ObservedNode> seen)
    {
        var steps = new List<NodeAction>();
        foreach (var node in group.Nodes.Where(Active))
        {
            var role = seen(node).IsPrimary ? NodeRole.Primary : NodeRole.Replica;
            if (node.Status != NodeStatus.Available || node.Role != role)
                steps.Add(new MarkNode(node.Id, NodeStatus.Available, role));
        }
        foreach (var shard in group.Shards.Where(s => s.Status is not (ShardStatus.Available or ShardStatus.Deleting)))
            steps.Add(new MarkShard(shard.Id, ShardStatus.Available));
        return steps;
    }

    /// <summary>Each shard's primary is given the slots of its shard that no primary serves yet.</summary>
    private static IEnumerable<NodeAction> UnservedSlots(DesiredGroup group, Func<DesiredNode, ObservedNode> seen)
    {
        var primaries = group.Shards.Select(s => (Shard: s, Primary: s.Nodes.FirstOrDefault(n => n.Role == NodeRole.Primary && Active(n))))
            .Where(p => p.Primary is not null).ToList();
        // Settled, every primary owns exactly its shard's slots (both printed the same way): nothing is
        // missing, and 16,384 slots need not be counted at every observation of every group.
        if (primaries.All(p => seen(p.Primary!).OwnedSlots == p.Shard.Slots))
            yield break;
        var owned = primaries.SelectMany(p => SlotList(seen(p.Primary!).OwnedSlots)).ToHashSet();
        foreach (var (shard, primary) in primaries)
        {
            var missing = SlotList(shard.Slots).Where(slot => !owned.Contains(slot)).ToList();
            if (missing.Count > 0)
                yield return new AssignSlots(primary!.Id, SlotRanges.Format(missing));
        }
    }

    private static IEnumerable<int> SlotList(string? slots) =>
        SlotRanges.TryParse(slots, out var ranges) ? SlotRanges.Expand(ranges) : [];
}
