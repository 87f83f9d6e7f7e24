namespace ControlPlane.Api.Engines;

/// <summary>
/// A Redis or Memcached node failed a command, as the rest of the control plane sees it: the engine
/// clients' own exceptions stop in this folder. Catch this to treat both kinds alike.
/// </summary>
public abstract class EngineException(string message, Exception? inner) : Exception(message, inner);
