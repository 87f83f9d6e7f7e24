using ControlPlane.Domain.Parameters;

namespace ControlPlane.Domain.Planning;

/// <summary>
/// Both planners bring a settled group's nodes to its parameter group's values: the immediate ones set
/// on each available node whose container does not hold them yet, and each node's parameterGroupStatus
/// told as it stands. Nothing at all when every node is in sync, so a quiet group's plan stays empty.
/// </summary>
internal static class ParameterSteps
{
    /// <summary>
    /// A node that refused the values (busy loading, a timeout) is asked again after this, not at every
    /// step: meanwhile it says applying, and its group may be quiet, as it was when the reconciler set
    /// them outside the plan and tried again at each pass that looked at the group in full.
    /// </summary>
    internal static readonly TimeSpan AskAgainAfter = TimeSpan.FromSeconds(3);

    internal static List<NodeAction> Parameters(IEnumerable<DesiredNode> nodes, DateTimeOffset now)
    {
        var steps = new List<NodeAction>();
        foreach (var node in nodes.Where(n => n.Status == NodeStatus.Available))
        {
            if (node.Parameters is not { } p)
                continue;
            if (!p.Set && !(p.RefusedAt is { } refused && now - refused < AskAgainAfter))
                steps.Add(new SetParameters(node.Id));
            // Start-up values take a new container (a reboot). Immediate ones not set yet are told applying
            // only once the node refused them: a node asked for the first time (after a reboot, or a restart
            // of the control plane) keeps what it shows until it answered, as it did when they were set
            // and told in one go, so a node in sync does not flicker to applying and back.
            var status = !p.StartedWithWanted ? ParameterStatus.PendingReboot
                : p.Set ? null
                : p.RefusedAt is not null ? ParameterStatus.Applying
                : p.Status;
            if (status != p.Status)
                steps.Add(new MarkParameterStatus(node.Id, status));
        }
        return steps;
    }
}
