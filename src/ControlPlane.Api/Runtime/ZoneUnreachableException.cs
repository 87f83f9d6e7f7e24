namespace ControlPlane.Api.Runtime;

/// <summary>The zone's container engine did not answer: its socket refused or closed, TLS failed, or no reply within the request timeout.</summary>
public sealed class ZoneUnreachableException(string zone, string message, Exception? inner = null) : NodeRuntimeException(message, inner)
{
    public string Zone { get; } = zone;
}
