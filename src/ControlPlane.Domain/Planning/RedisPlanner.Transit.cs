using static ControlPlane.Domain.Planning.PlannerSteps;

namespace ControlPlane.Domain.Planning;

public static partial class RedisPlanner
{
    /// <summary>
    /// An available group's transit encryption work, once nothing but waiting is left to do: a serving
    /// node not at the group's mode yet (a step a control plane stopped half way), one whose
    /// preferred-mode multiplexer is gone and whose inner ports are still leased, or a certificate due.
    /// Healing and every other step come first (a certificate comes due well before it expires), but a
    /// node that waits (one out of reach, a held failover) does not keep the others' certificates from
    /// being renewed. Only nodes that answer are asked. Nothing else makes the step: a quiet group stays
    /// quiet (an empty plan), and the multiplexer that carries its last TLS connections for up to an
    /// hour is waited for by the listing, not by a step at every pass.
    /// </summary>
    private static IReadOnlyList<NodeAction> WithTransit(DesiredGroup group, IReadOnlyDictionary<string, ObservedNode> observed,
        IReadOnlyList<NodeAction> steps, DateTimeOffset now)
    {
        if (!steps.All(s => s is Wait or Hold))
            return steps;
        var due = Answering(group.Nodes, observed).Any(n =>
            (group.TransitEncryptionMode is not null && n.TransitEncryptionMode != group.TransitEncryptionMode)
            || n.InnerPortsToRelease
            || CertificateDue(n, now));
        return due ? [.. steps, new StepTransitEncryption()] : steps;
    }
}
