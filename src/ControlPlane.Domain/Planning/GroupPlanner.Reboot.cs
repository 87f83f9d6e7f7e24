namespace ControlPlane.Domain.Planning;

public static partial class GroupPlanner
{
    /// <summary>
    /// A Memcached reboot: each node named is replaced by a new one in its zone (a node never starts
    /// again in place; a Memcached node comes back empty either way, as on ElastiCache). Ids continue
    /// after the highest ordinal ever used.
    /// </summary>
    public static NodeSetChange Reboot(string clusterId, IReadOnlyList<DesiredNode> nodes, IReadOnlyList<string> rebooted, int lastOrdinal)
    {
        var next = Math.Max(lastOrdinal, nodes.Select(n => Identifiers.Ordinal(n.Id)).DefaultIfEmpty(0).Max());
        var add = nodes.Where(n => rebooted.Contains(n.Id)).OrderBy(n => Identifiers.Ordinal(n.Id))
            .Select(n => new PlannedNode(Identifiers.MemcachedNodeId(clusterId, ++next), NodeRole.Primary, n.Zone)).ToList();
        return new NodeSetChange(add, nodes.Where(n => rebooted.Contains(n.Id)).Select(n => n.Id).ToList(), next);
    }
}
