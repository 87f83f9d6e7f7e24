using ControlPlane.Api.Runtime;

namespace ControlPlane.Api.Reconciliation;

/// <summary>A group whose last convergence found nothing to do, and the nodes a heartbeat watches until something changes.</summary>
public sealed record QuietGroup(string Engine, IReadOnlyList<NodePlace> Nodes);
