namespace ControlPlane.Api.Reconciliation;

/// <summary>A replication group (engine redis) or a cache cluster (engine memcached).</summary>
public sealed record Target(string Engine, string Id)
{
    public string Key => $"{Engine}:{Id}";
}
