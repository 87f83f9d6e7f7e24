namespace ControlPlane.Api.Runtime;

/// <summary>The engine refused the call for the container's state (HTTP 409): a removal already in progress, a name taken, not running.</summary>
public sealed class RuntimeConflictException(string message, Exception? inner = null) : NodeRuntimeException(message, inner);
