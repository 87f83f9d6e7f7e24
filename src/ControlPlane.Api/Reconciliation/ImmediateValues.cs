namespace ControlPlane.Api.Reconciliation;

/// <summary>
/// The immediate values a Redis node is to have: its parameter group's (Fingerprint), with maxmemory from
/// its memory, on the container it runs now.
/// </summary>
public sealed record ImmediateValues(string Family, IReadOnlyDictionary<string, string> Values, long MemoryBytes, string ContainerId, string Fingerprint)
{
    /// <summary>What says they are set: a new container, other values or another memory are not.</summary>
    public string Key => $"{ContainerId}|{Fingerprint}|{MemoryBytes}";
}
