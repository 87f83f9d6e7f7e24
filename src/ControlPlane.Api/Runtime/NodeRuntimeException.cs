namespace ControlPlane.Api.Runtime;

/// <summary>
/// A zone's container engine failed a call, as the rest of the control plane sees it: the engine
/// library's own exceptions stop in this folder. This base type is an error the engine answered
/// with that none of the subtypes names (a server error, a bad request).
/// </summary>
public class NodeRuntimeException(string message, Exception? inner = null) : Exception(message, inner);
