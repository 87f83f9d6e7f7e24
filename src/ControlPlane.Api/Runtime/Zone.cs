namespace ControlPlane.Api.Runtime;

/// <summary>One availability zone: its name, the address its nodes listen on, and its container engine.</summary>
public sealed record Zone(string Name, string Host, INodeRuntime Runtime);
