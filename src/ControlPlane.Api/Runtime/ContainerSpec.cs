namespace ControlPlane.Api.Runtime;

/// <summary>
/// What to run for one node: host networking, one loopback port, limits from the node type.
/// <paramref name="Files"/> (absolute path to UTF-8 content) are written into the container after it
/// is created and before it starts, e.g. a configuration file; they are part of the spec, so the
/// caller's spec hash must cover them. <paramref name="Seeds"/> are data put in the same way, e.g. a
/// snapshot's dump.rdb; they are not part of the spec (a node restored from a snapshot is the same
/// node), so no hash covers them, and like Files they only count when the container is created.
/// </summary>
public sealed record ContainerSpec(
    string Name,
    string Image,
    IReadOnlyList<string> Command,
    IReadOnlyDictionary<string, string> Labels,
    long MemoryBytes,
    double Cpus,
    IReadOnlyDictionary<string, string>? Files = null,
    IReadOnlyList<SeedFile>? Seeds = null);
