using static ControlPlane.Domain.Planning.PlannerSteps;

namespace ControlPlane.Domain.Planning;

public static partial class RedisPlanner
{
    /// <summary>
    /// A modification under way, on a group that is healthy and wired, one kind of step at a time:
    /// nodes marked deleting go; new shards are added; missing replicas are added; nodes of the old
    /// type are replaced one per shard at a time (the primary last, by a switchover); surplus replicas,
    /// the most lagging first, are marked deleting; slots are planned, then moved; leaving shards,
    /// once empty, are removed. Empty when the group has the shape asked for.
    /// </summary>
    private static List<NodeAction> Modify(DesiredGroup group, GroupTarget target, Func<DesiredNode, ObservedNode> seen, PlanContext context)
    {
        var removals = group.Nodes.Where(n => n.Status == NodeStatus.Deleting).Select(n => (NodeAction)new RemoveNode(n.Id)).ToList();
        if (removals.Count > 0)
            return removals;

        var zones = ZonesFor(group, context);
        var cluster = group.ClusterMode == ClusterMode.Enabled;
        var shards = group.Shards.OrderBy(s => s.Id, StringComparer.Ordinal).ToList();
        var leaving = cluster ? shards.Where(s => s.Status == ShardStatus.Deleting).Concat(shards.Where(s => s.Status != ShardStatus.Deleting).Skip(target.NumShards)).ToList() : [];
        var staying = shards.Except(leaving).ToList();

        if (cluster && staying.Count < target.NumShards)
            return AddShards(shards, target, zones, target.NumShards - staying.Count);

        var steps = new List<NodeAction>();
        foreach (var shard in staying)
        {
            var placed = shard.Nodes.Select(n => n.Zone).ToList();
            for (var k = shard.Nodes.Count(n => n.Role == NodeRole.Replica); k < target.ReplicasPerShard; k++)
            {
                var zone = LeastUsedZone(zones, placed);
                placed.Add(zone);
                steps.Add(new AddNode(shard.Id, NodeRole.Replica, zone, target.NodeType));
            }
        }
        if (steps.Count > 0)
            return steps;

        // A reboot takes one shard at a time: the others keep every node serving meanwhile.
        if (target.Reboot is { Count: > 0 } reboot && staying.Select(s => NextRebootStep(s, reboot, seen)).FirstOrDefault(s => s is not null) is { } restart)
            return [restart];

        foreach (var shard in staying)
            if (NextNodeTypeStep(shard, target, seen) is { } step)
                steps.Add(step);
        if (steps.Count > 0)
            return steps;

        foreach (var shard in staying)
        {
            var replicas = shard.Nodes.Where(n => n.Role == NodeRole.Replica).ToList();
            steps.AddRange(replicas.OrderBy(n => seen(n).Offset).ThenByDescending(n => n.Id, StringComparer.Ordinal)
                .Take(replicas.Count - target.ReplicasPerShard)
                .Select(n => new MarkNode(n.Id, NodeStatus.Deleting, NodeRole.Replica)));
        }
        if (steps.Count > 0 || !cluster)
            return steps;

        return Reshard(group, target, staying, leaving);
    }

    /// <summary>New shards get the next ids, with no slots yet, laid out across the zones as a create would.</summary>
    private static List<NodeAction> AddShards(List<DesiredShard> shards, GroupTarget target, IReadOnlyList<string> zones, int count)
    {
        var next = shards.Count == 0 ? 0 : shards.Max(s => int.Parse(s.Id, System.Globalization.CultureInfo.InvariantCulture));
        var steps = new List<NodeAction>();
        for (var i = next; i < next + count; i++)
            steps.Add(new AddShard(Identifiers.ShardId(i), zones[i % zones.Count],
                Enumerable.Range(0, target.ReplicasPerShard).Select(r => zones[(i + r + 1) % zones.Count]).ToList(), target.NodeType));
        return steps;
    }

    /// <summary>
    /// Rolling replacement of one shard's old nodes (of another type, or running an outdated
    /// configuration): one new node beside the shard (in the zone of the node it replaces), then an
    /// old replica goes; the old primary, last, hands over to the most advanced new replica first.
    /// </summary>
    private static NodeAction? NextNodeTypeStep(DesiredShard shard, GroupTarget target, Func<DesiredNode, ObservedNode> seen)
    {
        bool Old(DesiredNode n) => n.NodeType != target.NodeType || (target.Refresh && seen(n).Container == ContainerState.Outdated)
            || (target.Engine is { } engine && n.Engine != engine);
        var old = shard.Nodes.Where(Old).OrderBy(n => n.Role == NodeRole.Primary).ThenBy(n => n.Id, StringComparer.Ordinal).ToList();
        if (old.Count == 0)
            return null;
        if (shard.Nodes.Count <= target.ReplicasPerShard + 1)
            return new AddNode(shard.Id, NodeRole.Replica, old[0].Zone, target.NodeType);
        if (old.FirstOrDefault(n => n.Role == NodeRole.Replica) is { } replica)
            return new MarkNode(replica.Id, NodeStatus.Deleting, NodeRole.Replica);
        var successor = shard.Nodes.Where(n => n.Role == NodeRole.Replica && !Old(n))
            .OrderByDescending(n => seen(n).Offset).ThenBy(n => n.Id, StringComparer.Ordinal).First();
        return new Switchover(shard.Id, old[0].Id, successor.Id);
    }

    /// <summary>
    /// The next step of a shard's reboot: its named replicas restart first, one at a time; a named
    /// primary then hands over to its most advanced synced replica and restarts as a replica. A primary
    /// with no replica restarts keeping its data (saved first, writes paused). Null when nothing of the
    /// shard is left to reboot. The wiring steps run before this: a restarted replica has resynced first.
    /// </summary>
    private static NodeAction? NextRebootStep(DesiredShard shard, IReadOnlySet<string> reboot, Func<DesiredNode, ObservedNode> seen)
    {
        var named = shard.Nodes.Where(n => reboot.Contains(n.Id) && Active(n)).ToList();
        if (named.FirstOrDefault(n => n.Role == NodeRole.Replica) is { } replica)
            return new RestartNode(replica.Id);
        if (named.FirstOrDefault(n => n.Role == NodeRole.Primary) is not { } primary)
            return null;
        var successor = shard.Nodes.Where(n => n.Role == NodeRole.Replica && Active(n) && seen(n) is { Reachable: true, LinkUp: true, Lagging: false })
            .OrderByDescending(n => seen(n).Offset).ThenBy(n => n.Id, StringComparer.Ordinal).FirstOrDefault();
        if (successor is not null)
            return new Switchover(shard.Id, primary.Id, successor.Id);
        return shard.Nodes.Any(n => n.Role == NodeRole.Replica && Active(n))
            ? new Wait($"node {primary.Id} waits for a synced replica to hand over to before its reboot")
            : new RestartNode(primary.Id, KeepData: true);
    }

    /// <summary>
    /// Slots: a stored plan is carried out; without one, a plan is made when leaving shards still hold
    /// slots or a reshard left the others unbalanced; then the emptied leaving shards are taken down.
    /// </summary>
    private static List<NodeAction> Reshard(DesiredGroup group, GroupTarget target, List<DesiredShard> staying, List<DesiredShard> leaving)
    {
        if (group.Moves is { Count: > 0 } moves)
            return moves.GroupBy(m => (m.FromShardId, m.ToShardId))
                .Select(g => (NodeAction)new MoveSlots(g.Key.FromShardId, g.Key.ToShardId, g.Select(m => m.Slot).Order().ToList()))
                .ToList();

        var unmarked = leaving.Where(s => s.Status != ShardStatus.Deleting).Select(s => s.Id).ToList();
        var holding = leaving.Any(s => SlotCount(s.Slots) > 0);
        if (unmarked.Count > 0 || holding || (target.Reshard && !SlotRanges.IsBalanced(staying.Select(s => s.Slots))))
        {
            var planned = SlotPlanner.Rebalance(staying.Select(s => (s.Id, s.Slots)).ToList(), leaving.Select(s => (s.Id, s.Slots)).ToList());
            if (planned.Count > 0 || unmarked.Count > 0)
                return [new PlanSlotMoves(planned, leaving.Select(s => s.Id).ToList())];
        }

        var steps = new List<NodeAction>();
        foreach (var shard in leaving)
        {
            if (shard.Nodes.Count == 0)
                steps.Add(new RemoveShard(shard.Id));
            else
                steps.AddRange(shard.Nodes.Select(n => new MarkNode(n.Id, NodeStatus.Deleting, n.Role)));
        }
        return steps;
    }

    private static int SlotCount(string slots) => SlotRanges.TryParse(slots, out var ranges) ? ranges.Sum(r => r.End - r.Start + 1) : 0;

    /// <summary>The zones to place new nodes in: the reachable configured ones, else those the group already uses.</summary>
    private static IReadOnlyList<string> ZonesFor(DesiredGroup group, PlanContext context)
    {
        var configured = context.Zones.Where(z => !context.Unreachable(z)).ToList();
        return configured.Count > 0 ? configured : group.Nodes.Select(n => n.Zone).Distinct().Order(StringComparer.Ordinal).ToList();
    }
}
