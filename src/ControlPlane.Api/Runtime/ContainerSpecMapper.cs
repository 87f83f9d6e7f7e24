using Docker.DotNet.Models;

namespace ControlPlane.Api.Runtime;

/// <summary>The one place a node's spec becomes Docker's create request (testcontainers-dotnet's ContainerConfigurationConverter).</summary>
public static class ContainerSpecMapper
{
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
            HostConfig = new HostConfig
            {
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
}
