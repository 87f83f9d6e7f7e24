namespace ControlPlane.Domain.Parameters;

/// <summary>
/// A node's parameterGroupStatus as the contract spells it. Its row stores null for in sync. The
/// planner decides it (see <see cref="Planning.NodeParameters"/>), so it lives with the Domain.
/// </summary>
public static class ParameterStatus
{
    public const string InSync = "in-sync";
    public const string Applying = "applying";
    public const string PendingReboot = "pending-reboot";
}
