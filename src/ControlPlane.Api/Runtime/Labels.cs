namespace ControlPlane.Api.Runtime;

/// <summary>The labels every managed container carries; the reconciler finds its containers by them.</summary>
public static class Labels
{
    public const string Managed = "controlplane.managed";
    public const string Kind = "controlplane.kind";          // "redis" | "memcached"
    public const string Group = "controlplane.group";        // replication group or cache cluster id
    public const string Shard = "controlplane.shard";        // "0001" (Redis only)
    public const string Node = "controlplane.node";          // node id
    public const string Port = "controlplane.port";
    public const string SpecHash = "controlplane.spec-hash";
    public const string Instance = "controlplane.instance"; // which control plane owns it (engines may be shared)
}
