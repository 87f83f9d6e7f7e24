namespace ControlPlane.Api.Runtime;

/// <summary>
/// The container engine of one availability zone. Every call is idempotent: removing what is
/// already gone is success, creating a name that exists with the same spec returns it.
/// Failures are <see cref="NodeRuntimeException"/>s: <see cref="ZoneUnreachableException"/>,
/// <see cref="RuntimeNotFoundException"/>, <see cref="RuntimeConflictException"/>.
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
    /// such file; <see cref="RuntimeNotFoundException"/> when there is no such container.
    /// </summary>
    Task<Stream> ReadFileAsync(string containerName, string path, CancellationToken ct);

    /// <summary>
    /// Writes text files (absolute path to UTF-8 content, mode 0644) into a running container's volume
    /// folders, e.g. a renewed certificate; the folders must be volumes (the root file system is read-only).
    /// </summary>
    Task WriteFilesAsync(string containerName, IReadOnlyDictionary<string, string> files, CancellationToken ct);
}
