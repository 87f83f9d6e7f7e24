namespace ControlPlane.Api.Engines;

/// <summary>The node answered with an error; the message is the server's own ("ERR Unknown node ...", "LOADING ...").</summary>
public sealed class EngineRefusedException(string message, Exception? inner = null) : EngineException(message, inner);
