namespace ControlPlane.Api.Runtime;

/// <summary>A node as the reconciler places it: its zone, where it listens and what its container should be.</summary>
public sealed record NodePlace(string NodeId, string Zone, string? Host, int? Port, ContainerSpec? Spec, string ContainerName, bool FromPool = false);
