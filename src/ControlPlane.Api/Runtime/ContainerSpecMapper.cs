using Docker.DotNet.Models;

namespace ControlPlane.Api.Runtime;

/// <summary>
/// The one place a node's spec becomes Docker's create request (testcontainers-dotnet's ContainerConfigurationConverter).
/// Every container is locked down the same way: it runs as <see cref="User"/> (the images' nobody),
/// with no capability, no-new-privileges, a process limit and a read-only root file system. What it
/// writes goes to an anonymous volume (/data, and the folders of the spec's files, which can only be
/// put into a volume of a read-only container) or to a small tmpfs at /tmp.
/// </summary>
public static class ContainerSpecMapper
{
    public const int UserId = 65534;
    public const string User = "65534:65534";

    /// <summary>The open-file limit of every container: 10000 clients and the engine's own descriptors.</summary>
    public const long OpenFiles = 16384;

    /// <summary>Redis forks for a save and runs a few background threads; memcached and HAProxy use a few threads. Threads count.</summary>
    public const long PidsLimit = 128;

    /// <summary>Where a node keeps its data: a volume, so that it survives a stop and its files can be read and seeded.</summary>
    public const string DataDir = "/data";

    public static CreateContainerParameters ToCreateParameters(ContainerSpec spec)
    {
        // Every container we create carries our marker, whatever the caller passed, so ListAsync
        // (and orphan removal) can never lose track of it.
        var labels = new Dictionary<string, string>(spec.Labels) { [Labels.Managed] = "true" };
        var memory = Math.Max(0, spec.MemoryBytes);

        return new CreateContainerParameters
        {
            Name = spec.Name,
            Image = spec.Image,
            Cmd = [.. spec.Command],
            Labels = labels,
            User = User,
            Volumes = Volumes(spec).ToDictionary(v => v, _ => new EmptyStruct()),
            HostConfig = new HostConfig
            {
                CapDrop = ["ALL"],
                SecurityOpt = ["no-new-privileges"],
                PidsLimit = PidsLimit,
                // Room for the nodes' 10000 client connections (Redis keeps 32 descriptors more for itself), set
                // rather than inherited from the engine so every node runs the same, and low enough for an engine
                // whose own hard limit is below ElastiCache's 65000 (20000 on the machine this was built on).
                Ulimits = [new Ulimit { Name = "nofile", Soft = OpenFiles, Hard = OpenFiles }],
                ReadonlyRootfs = true,
                Tmpfs = new Dictionary<string, string> { ["/tmp"] = "rw,nosuid,nodev,noexec,size=16m,mode=1777" },
                // Nodes listen on a loopback port of the host: no bridge, no port mapping.
                NetworkMode = "host",
                Memory = memory,
                // Swap equal to memory means no swap: a swapping Redis is slower than a dead one.
                MemorySwap = memory,
                NanoCPUs = spec.Cpus > 0 ? (long)Math.Round(spec.Cpus * 1_000_000_000) : 0,
                // Never let Docker restart a Redis node: a primary restarted empty wipes its replicas
                // when they resync from it. The reconciler decides how a node comes back.
                RestartPolicy = new RestartPolicy { Name = RestartPolicyKind.No },
                // The container must outlive its process so its exit code and labels can be listed.
                AutoRemove = false,
                // json-file keeps everything forever by default; a chatty node must not fill the disk.
                LogConfig = new LogConfig
                {
                    Type = "json-file",
                    Config = new Dictionary<string, string> { ["max-size"] = "10m", ["max-file"] = "3" },
                },
            },
        };
    }

    /// <summary>/data and the folder of every file put in before the start (the engine copies into a read-only container's volumes only).</summary>
    private static IEnumerable<string> Volumes(ContainerSpec spec) =>
        new[] { DataDir }
            .Concat((spec.Files?.Keys ?? []).Concat(spec.Seeds?.Select(s => s.ContainerPath) ?? []).Select(p => Path.GetDirectoryName(p)!))
            .Where(d => d is not ("/" or "/tmp"))
            .Distinct(StringComparer.Ordinal);
}
