namespace ControlPlane.Api.Runtime;

/// <summary>A container of ours that changed: die, oom, stop, destroy, start.</summary>
public sealed record ContainerEvent(string Zone, string Action, string ContainerId, IReadOnlyDictionary<string, string> Labels);
