using static ControlPlane.Domain.Planning.PlannerSteps;

namespace ControlPlane.Domain.Planning;

/// <summary>The pure planner of Memcached clusters, and the node set a resize asks for.</summary>
public static class MemcachedPlanner
{
    public static IReadOnlyList<NodeAction> Plan(DesiredCluster cluster, IReadOnlyDictionary<string, ObservedNode> observed, PlanContext? context, DateTimeOffset now)
    {
        context ??= PlanContext.None;
        // Nodes started by an older control plane (another command line) are rebooted into the current
        // one, each coming back empty: inside the maintenance window (or at once without one); outside it
        // the refresh waits for the window, and the nodes keep serving as they are.
        if (cluster.Status == CacheClusterStatus.Available
            && Refresh(cluster.Nodes.Where(n => n.Status == NodeStatus.Available && observed.GetValueOrDefault(n.Id)?.Container == ContainerState.Outdated)
                    .Select(n => n.Id).Order(StringComparer.Ordinal).ToList(), cluster.Window, cluster.Scheduled, now, "rebooting") is { } refresh)
            return [refresh];
        var steps = PlanSteps(cluster, observed, context, now);
        if (cluster.Status == CacheClusterStatus.Creating)
            return UnlessTimedOut(steps, cluster.CreatedAt, context, now);
        // Certificates are renewed once nothing but waiting is left to do: they come due well before they expire.
        if (cluster.Status == CacheClusterStatus.Available && steps.All(s => s is Wait or Hold) && Answering(cluster.Nodes, observed).Any(n => CertificateDue(n, now)))
            return [.. steps, new RenewCertificates()];
        return steps;
    }

    private static IReadOnlyList<NodeAction> PlanSteps(DesiredCluster cluster, IReadOnlyDictionary<string, ObservedNode> observed, PlanContext context, DateTimeOffset now)
    {
        ObservedNode Seen(DesiredNode n) => observed.GetValueOrDefault(n.Id) ?? ObservedNode.Missing(n.Id);
        if (cluster.Status == CacheClusterStatus.Deleting)
            return Teardown(cluster.Nodes.Select(Seen));
        if (cluster.Status == CacheClusterStatus.CreateFailed)
            return [];
        var creating = cluster.Status == CacheClusterStatus.Creating;
        // Nodes marked deleting were chosen for removal by the request; they are no longer cared for.
        var serving = cluster.Nodes.Where(n => n.Status != NodeStatus.Deleting).ToList();
        var leaving = cluster.Nodes.Where(n => n.Status == NodeStatus.Deleting).ToList();
        // Told truthfully: a cluster none of whose nodes the control plane can reach is not available.
        if (cluster.Status == CacheClusterStatus.Available && serving.Count > 0 && serving.All(n => Seen(n).Unanswering))
            return [new MarkGroup(GroupStatus.IncompatibleNetwork, $"Cache cluster {cluster.Id} is not available: the control plane cannot reach any of its nodes")];
        if (!creating)
        {
            if (Report(serving, Seen, context, $"cache cluster {cluster.Id}") is { Count: > 0 } report)
                return report;
            if (serving.FirstOrDefault(n => n.Status == NodeStatus.Available && Seen(n).Unknown) is { } unknown)
                return [new Wait($"node {unknown.Id} has not answered a probe yet")];
            if (Replace(serving.Where(n => n.Status == NodeStatus.Failed), serving, Seen, context) is { Count: > 0 } replacing)
                return replacing;
        }
        // While creating, every node is new; afterwards added nodes and replacements start the same way.
        var starting = creating ? serving : serving.Where(n => n.Status is NodeStatus.Creating or NodeStatus.Replacing).ToList();
        if (Containers(starting, Seen, creating) is { Count: > 0 } containerSteps)
            return containerSteps;
        var steps = serving.Where(n => n.Status != NodeStatus.Available)
            .Select(n => (NodeAction)new MarkNode(n.Id, NodeStatus.Available, NodeRole.Primary)).ToList();
        if (creating)
            return [.. steps, new MarkGroup(GroupStatus.Available, $"Cache cluster {cluster.Id} created")];
        if (steps.Count > 0)
            return steps;

        // Make before break: a node goes only once every node that stays (or takes its place) serves.
        // One in a zone that does not answer waits for it, so its port is not handed out while it may still run.
        if (leaving.Count > 0)
        {
            var removals = leaving.Where(n => Seen(n).Container != ContainerState.ZoneUnreachable).Select(n => (NodeAction)new RemoveNode(n.Id)).ToList();
            return removals.Count > 0 ? removals : leaving.Select(n => (NodeAction)new Wait($"the zone of node {n.Id} is unreachable")).ToList();
        }
        // A reboot restarts the nodes named in place, one at a time, so the others keep serving; each
        // comes back empty, as on ElastiCache.
        if (cluster.Status == CacheClusterStatus.Modifying && cluster.Reboot is { Count: > 0 } reboot
            && serving.Where(n => reboot.Contains(n.Id)).OrderBy(n => n.Id, StringComparer.Ordinal).FirstOrDefault() is { } next)
            return [new RestartNode(next.Id)];
        // Last, once nothing else is left (healing, node changes, reboots): each node's parameterGroupStatus,
        // all start-up options in Memcached, so in sync or pending-reboot; also as a modification settles.
        var parameters = ParameterSteps.Parameters(serving, now);
        return cluster.Status == CacheClusterStatus.Modifying ? [.. parameters, new MarkGroup(GroupStatus.Available, $"Cache cluster {cluster.Id} is available")]
            : cluster.Status == CacheClusterStatus.IncompatibleNetwork ? [new MarkGroup(GroupStatus.Available, $"Cache cluster {cluster.Id} is available again")]
            : parameters;
    }

    /// <summary>
    /// The nodes a cluster gains and loses to reach numNodes. Without ids to remove, the newest nodes
    /// (highest ordinal) go. New ids continue after the highest ordinal ever used. Cross-az places each
    /// new node in the zone with the fewest nodes (the first such zone in the list), single-az in the
    /// cluster's zone. A new node type replaces every node that stays with one in its zone.
    /// </summary>
    public static NodeSetChange Resize(
        string clusterId, AzMode azMode, IReadOnlyList<DesiredNode> nodes, int numNodes, IReadOnlyList<string>? nodeIdsToRemove,
        bool replaceAll, int lastOrdinal, IReadOnlyList<string> zones)
    {
        var current = nodes.Where(n => n.Status != NodeStatus.Deleting).OrderBy(n => Identifiers.Ordinal(n.Id)).ToList();
        var remove = numNodes >= current.Count ? []
            : nodeIdsToRemove is { Count: > 0 } chosen ? chosen.ToList()
            : current.OrderByDescending(n => Identifiers.Ordinal(n.Id)).Take(current.Count - numNodes).Select(n => n.Id).ToList();
        var kept = current.Where(n => !remove.Contains(n.Id)).ToList();

        var next = Math.Max(lastOrdinal, nodes.Select(n => Identifiers.Ordinal(n.Id)).DefaultIfEmpty(0).Max());
        var add = new List<PlannedNode>();
        if (replaceAll)
        {
            foreach (var node in kept)
                add.Add(new PlannedNode(Identifiers.MemcachedNodeId(clusterId, ++next), NodeRole.Primary, node.Zone));
            remove.AddRange(kept.Select(n => n.Id));
        }
        var placed = kept.Select(n => n.Zone).ToList();
        var home = (kept.Count > 0 ? kept : current).FirstOrDefault()?.Zone ?? zones[0];
        for (var i = kept.Count; i < numNodes; i++)
        {
            var zone = azMode == AzMode.CrossAz ? LeastUsedZone(zones, placed) : home;
            placed.Add(zone);
            add.Add(new PlannedNode(Identifiers.MemcachedNodeId(clusterId, ++next), NodeRole.Primary, zone));
        }
        return new NodeSetChange(add, remove, next);
    }
}
