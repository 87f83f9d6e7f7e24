namespace ControlPlane.Api.Engines;

/// <summary>The node did not answer: refused or lost connection, a login it refused, or no reply in time (a hung node).</summary>
public sealed class EngineUnreachableException(string message, Exception? inner = null) : EngineException(message, inner);
