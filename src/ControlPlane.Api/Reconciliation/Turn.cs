namespace ControlPlane.Api.Reconciliation;

/// <summary>What one turn of the reconciler's loop did (<see cref="Reconciler.TurnAsync"/>).</summary>
public enum Turn
{
    /// <summary>A full pass: every group not backing off or converging already.</summary>
    Pass,

    /// <summary>Only the heartbeat: every quiet group answered and no other had work.</summary>
    Heartbeat,

    /// <summary>The heartbeat, then a pass for the groups it did not hear from or with work.</summary>
    HeartbeatThenPass,

    /// <summary>The turn threw; it was logged, and the next turn tries again.</summary>
    Failed,
}
