namespace ControlPlane.Api.Reconciliation;

/// <summary>How far one observe-plan-act step got, and so whether the convergence goes on within this pass.</summary>
public enum Progress
{
    /// <summary>The convergence ends for this pass: nothing left to do, the group deleted, or its create failed.</summary>
    Done,

    /// <summary>Something was done: observe and plan again at once.</summary>
    Acted,

    /// <summary>Only waits (nodes starting, a sync, gossip): observe again shortly, while the pass's budget lasts.</summary>
    Waiting,

    /// <summary>A settled group waits (on a failed node, say): the next pass looks again, with a fresh listing.</summary>
    Settled,

    /// <summary>The plan was empty.</summary>
    Quiet,
}
