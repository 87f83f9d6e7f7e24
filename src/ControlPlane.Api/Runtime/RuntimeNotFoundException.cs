namespace ControlPlane.Api.Runtime;

/// <summary>The engine has no such container, or no such image to create one from (HTTP 404).</summary>
public sealed class RuntimeNotFoundException(string message, Exception? inner = null) : NodeRuntimeException(message, inner);
