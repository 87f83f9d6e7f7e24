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

/// <summary>
/// A binary file written into a new container before it starts (mode 0644, owned by the node user 65534). Its
/// content is opened only then, and streamed: a multi-gigabyte snapshot is never held in memory.
/// The runtime disposes the stream. The parent folder should exist in the image (the engine would
/// create a missing one as root, 0755).
/// </summary>
public sealed record SeedFile(string ContainerPath, Func<CancellationToken, Task<Stream>> Open);

public sealed record ContainerInfo(
    string Id,
    string Name,
    IReadOnlyDictionary<string, string> Labels,
    bool Running,
    string State,
    long? ExitCode);

/// <summary>A container of ours that changed: die, oom, stop, destroy, start.</summary>
public sealed record ContainerEvent(string Zone, string Action, string ContainerId, IReadOnlyDictionary<string, string> Labels);

/// <summary>
/// The container engine of one availability zone. Every call is idempotent: removing what is
/// already gone is success, creating a name that exists with the same spec returns it.
/// </summary>
public interface INodeRuntime
{
    string Zone { get; }

    Task PingAsync(CancellationToken ct);

    /// <summary>Every container labelled managed by us, running or not: one call per zone per pass.</summary>
    Task<IReadOnlyList<ContainerInfo>> ListAsync(CancellationToken ct);

    /// <summary>One managed container by name, as the listing shows it, or null when there is none: a second look before acting on a listing.</summary>
    Task<ContainerInfo?> FindAsync(string name, CancellationToken ct);

    /// <summary>Creates (if missing) and starts the container; returns its id. No restart policy, ever.</summary>
    Task<string> RunAsync(ContainerSpec spec, CancellationToken ct);

    /// <summary>Force-removes the container and its anonymous volumes; false when it was already gone.</summary>
    Task<bool> RemoveAsync(string nameOrId, CancellationToken ct);

    Task StopAsync(string nameOrId, CancellationToken ct);

    /// <summary>Sends a signal to the container's process (e.g. a soft stop); false when it is gone or not running.</summary>
    Task<bool> SignalAsync(string nameOrId, string signal, CancellationToken ct);

    /// <summary>
    /// A reboot in place: stops the container (its grace period), writes the files into it (UTF-8, in
    /// a volume folder, as a spec's Files), and starts the same container again (same id and volumes).
    /// </summary>
    Task RestartAsync(string nameOrId, IReadOnlyDictionary<string, string>? files, CancellationToken ct);

    /// <summary>Changes a running container's memory (no swap) and CPU limits in place.</summary>
    Task UpdateLimitsAsync(string nameOrId, long memoryBytes, double cpus, CancellationToken ct);

    /// <summary>Events of our containers until cancelled; reconnects are the caller's business.</summary>
    IAsyncEnumerable<ContainerEvent> EventsAsync(CancellationToken ct);

    /// <summary>
    /// The content of a regular file in a container, running or exited, read as it streams out of the
    /// engine; disposing the stream ends the transfer. FileNotFoundException when the container has no
    /// such file; the engine's not-found error when there is no such container.
    /// </summary>
    Task<Stream> ReadFileAsync(string containerName, string path, CancellationToken ct);

    /// <summary>
    /// Writes text files (absolute path to UTF-8 content, mode 0644) into a running container's volume
    /// folders, e.g. a renewed certificate; the folders must be volumes (the root file system is read-only).
    /// </summary>
    Task WriteFilesAsync(string containerName, IReadOnlyDictionary<string, string> files, CancellationToken ct);
}
