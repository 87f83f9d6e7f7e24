namespace ControlPlane.Domain.Planning;

/// <summary>
/// The pure planner: given a group as stored and what one pass observed, the next steps. The
/// reconciler acts, observes again and asks again until the plan is empty (converged) or only waits.
/// </summary>
public static class GroupPlanner
{
    public static IReadOnlyList<NodeAction> Plan(DesiredGroup group, IReadOnlyDictionary<string, ObservedNode> observed)
    {
        ObservedNode Seen(DesiredNode n) => observed.GetValueOrDefault(n.Id) ?? ObservedNode.Missing(n.Id);
        var nodes = group.Nodes.ToList();

        if (group.Status == GroupStatus.Deleting)
            return Teardown(nodes.Select(Seen));
        if (group.Status == GroupStatus.CreateFailed)
            return [];

        var creating = group.Status == GroupStatus.Creating;
        if (Containers(nodes, Seen, creating) is { Count: > 0 } containerSteps)
            return containerSteps;

        var wiring = group.ClusterMode == ClusterMode.Disabled ? WireReplication(group, Seen) : WireCluster(group, Seen);
        if (wiring.Count > 0)
            return wiring;

        return Statuses(group, Seen);
    }

    public static IReadOnlyList<NodeAction> Plan(DesiredCluster cluster, IReadOnlyDictionary<string, ObservedNode> observed)
    {
        ObservedNode Seen(DesiredNode n) => observed.GetValueOrDefault(n.Id) ?? ObservedNode.Missing(n.Id);
        if (cluster.Status == CacheClusterStatus.Deleting)
            return Teardown(cluster.Nodes.Select(Seen));
        if (cluster.Status == CacheClusterStatus.CreateFailed)
            return [];
        var creating = cluster.Status == CacheClusterStatus.Creating;
        if (Containers(cluster.Nodes, Seen, creating) is { Count: > 0 } containerSteps)
            return containerSteps;
        var steps = new List<NodeAction>();
        foreach (var node in cluster.Nodes.Where(n => n.Status != NodeStatus.Available))
            steps.Add(new MarkNode(node.Id, NodeStatus.Available, NodeRole.Primary));
        if (creating)
            steps.Add(new MarkGroup(GroupStatus.Available, $"Cache cluster {cluster.Id} created"));
        return steps;
    }

    private static IReadOnlyList<NodeAction> Teardown(IEnumerable<ObservedNode> nodes)
    {
        var remove = nodes.Where(n => n.Container is not (ContainerState.Missing or ContainerState.ZoneUnreachable))
            .Select(n => (NodeAction)new RemoveContainer(n.NodeId)).ToList();
        return remove.Count > 0 ? remove : [new ReleaseAll()];
    }

    /// <summary>Ports first, then one running, answering container per node.</summary>
    private static List<NodeAction> Containers(IReadOnlyList<DesiredNode> nodes, Func<DesiredNode, ObservedNode> seen, bool creating)
    {
        var steps = nodes.Where(n => n.Port is null).Select(n => (NodeAction)new AllocatePort(n.Id)).ToList();
        if (steps.Count > 0)
            return steps;

        var waits = new List<NodeAction>();
        foreach (var node in nodes)
        {
            var o = seen(node);
            switch (o.Container)
            {
                case ContainerState.Exited when creating:
                    return [new Fail($"Node {node.Id} exited with code {o.ExitCode} while starting")];
                case ContainerState.Missing when creating || node.Status == NodeStatus.Creating:
                    steps.Add(new StartContainer(node.Id));
                    break;
                case ContainerState.Outdated:
                    steps.Add(new RemoveContainer(node.Id));
                    break;
                case ContainerState.Missing or ContainerState.Exited or ContainerState.ZoneUnreachable when !creating:
                case ContainerState.Running when !o.Reachable && !creating:
                    // Replacing dead nodes and failing over are the failover planner's; here a dead node is reported, not hidden.
                    if (node.Status != NodeStatus.Failed)
                        steps.Add(new MarkNode(node.Id, NodeStatus.Failed, node.Role));
                    else
                        waits.Add(new Wait($"node {node.Id} failed"));
                    break;
                case ContainerState.ZoneUnreachable:
                    waits.Add(new Wait($"the zone of node {node.Id} is unreachable"));
                    break;
                case ContainerState.Running when !o.Reachable:
                    waits.Add(new Wait($"node {node.Id} is starting"));
                    break;
            }
        }
        return steps.Count > 0 ? steps : waits;
    }

    private static List<NodeAction> WireReplication(DesiredGroup group, Func<DesiredNode, ObservedNode> seen)
    {
        var shard = group.Shards[0];
        var primary = shard.Primary;
        var steps = new List<NodeAction>();
        var waits = new List<NodeAction>();
        if (!seen(primary).IsPrimary)
            return [new Wait($"node {primary.Id} is not a primary")];
        foreach (var replica in shard.Nodes.Where(n => n.Role == NodeRole.Replica))
        {
            var o = seen(replica);
            if (o.IsPrimary || o.PrimaryNodeId != primary.Id)
                steps.Add(new ReplicateFrom(replica.Id, primary.Id));
            else if (!o.LinkUp)
                waits.Add(new Wait($"node {replica.Id} is syncing from {primary.Id}"));
        }
        return steps.Count > 0 ? steps : waits;
    }

    private static List<NodeAction> WireCluster(DesiredGroup group, Func<DesiredNode, ObservedNode> seen)
    {
        var nodes = group.Nodes.ToList();
        if (nodes.FirstOrDefault(n => seen(n).ClusterId is null) is { } unknown)
            return [new Wait($"node {unknown.Id} has no cluster id yet")];

        // Everyone meets one seed; gossip then introduces them to each other.
        var seed = nodes[0];
        var seedKnows = seen(seed).KnownNodeIds ?? new HashSet<string>();
        var meets = nodes.Skip(1).Where(n => !seedKnows.Contains(n.Id)).Select(n => (NodeAction)new ClusterMeet(seed.Id, n.Id)).ToList();
        if (meets.Count > 0)
            return meets;
        if (nodes.FirstOrDefault(n => nodes.Any(other => !(seen(n).KnownNodeIds?.Contains(other.Id) ?? false))) is { } behind)
            return [new Wait($"gossip has not introduced every node to {behind.Id} yet")];

        var owned = group.Shards.SelectMany(s => SlotList(seen(s.Primary).OwnedSlots)).ToHashSet();
        var steps = new List<NodeAction>();
        foreach (var shard in group.Shards)
        {
            var missing = SlotList(shard.Slots).Where(slot => !owned.Contains(slot)).ToList();
            if (missing.Count > 0)
                steps.Add(new AssignSlots(shard.Primary.Id, SlotRanges.Format(missing)));
        }
        var waits = new List<NodeAction>();
        foreach (var shard in group.Shards)
            foreach (var replica in shard.Nodes.Where(n => n.Role == NodeRole.Replica))
            {
                var o = seen(replica);
                if (o.ClusterPrimaryNodeId == shard.Primary.Id)
                    continue;
                if (o.KnownNodeIds?.Contains(shard.Primary.Id) == true)
                    steps.Add(new ClusterReplicate(replica.Id, shard.Primary.Id));
                else
                    waits.Add(new Wait($"node {replica.Id} does not know {shard.Primary.Id} yet"));
            }
        if (steps.Count > 0)
            return steps;
        if (waits.Count > 0)
            return waits;
        return nodes.Where(n => !seen(n).ClusterStateOk).Select(n => (NodeAction)new Wait($"cluster_state is not ok on {n.Id}")).ToList();
    }

    private static List<NodeAction> Statuses(DesiredGroup group, Func<DesiredNode, ObservedNode> seen)
    {
        var steps = new List<NodeAction>();
        foreach (var node in group.Nodes)
        {
            var role = seen(node).IsPrimary ? NodeRole.Primary : NodeRole.Replica;
            if (node.Status != NodeStatus.Available || node.Role != role)
                steps.Add(new MarkNode(node.Id, NodeStatus.Available, role));
        }
        foreach (var shard in group.Shards.Where(s => s.Status == ShardStatus.Creating))
            steps.Add(new MarkShard(shard.Id, ShardStatus.Available));
        if (group.Status == GroupStatus.Creating)
            steps.Add(new MarkGroup(GroupStatus.Available, $"Replication group {group.Id} created"));
        return steps;
    }

    private static IEnumerable<int> SlotList(string? slots) =>
        SlotRanges.TryParse(slots, out var ranges) ? SlotRanges.Expand(ranges) : [];
}
