using System.Runtime.CompilerServices;
using System.Text;
using ControlPlane.Api.Runtime;

namespace ControlPlane.Api.World.InMemory;

/// <summary>
/// One zone's container engine in a <see cref="MemoryWorld"/>, with the contract of
/// <see cref="DockerNodeRuntime"/>: idempotent calls, a stopped container replaced rather than
/// started again, a name taken by another spec refused, the engine's not-found error for a
/// container that is not there, and the events "start", "die" and "destroy". A zone whose engine
/// does not answer fails every call as a refused connection does with the Docker runtime (ZoneUnreachableException).
/// </summary>
public sealed class MemoryNodeRuntime(string zone, MemoryWorld world) : INodeRuntime
{
    public string Zone { get; } = zone;

    public Task PingAsync(CancellationToken ct)
    {
        lock (world.Gate)
            Answering();
        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<ContainerInfo>> ListAsync(CancellationToken ct)
    {
        lock (world.Gate)
            return Task.FromResult<IReadOnlyList<ContainerInfo>>(Answering().Containers.Values
                .Where(c => c.Spec.Labels.GetValueOrDefault(Labels.Managed) == "true").Select(c => c.Info()).ToList());
    }

    public Task<ContainerInfo?> FindAsync(string name, CancellationToken ct)
    {
        lock (world.Gate)
            return Task.FromResult(Answering().Containers.Values
                .FirstOrDefault(c => c.Name == name && c.Spec.Labels.GetValueOrDefault(Labels.Managed) == "true")?.Info());
    }

    public async Task<string> RunAsync(ContainerSpec spec, CancellationToken ct)
    {
        // Seed files (a snapshot's .rdb for a restored primary) are read before the world is locked.
        var seeds = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var seed in spec.Seeds ?? [])
        {
            await using var stream = await seed.Open(ct);
            seeds[seed.ContainerPath] = await new StreamReader(stream).ReadToEndAsync(ct);
        }
        return Run(spec, seeds);
    }

    private string Run(ContainerSpec spec, IReadOnlyDictionary<string, string> seeds)
    {
        lock (world.Gate)
        {
            var zone = Answering();
            if (zone.Containers.Values.FirstOrDefault(c => c.Name == spec.Name) is { } existing)
            {
                if (existing.Spec.Labels.GetValueOrDefault(Labels.Managed) != "true")
                    throw new InvalidOperationException($"Container {spec.Name} exists and is not managed by the control plane.");
                if (spec.Labels.TryGetValue(Labels.SpecHash, out var wanted) && existing.Spec.Labels.GetValueOrDefault(Labels.SpecHash) != wanted)
                    throw new InvalidOperationException($"Container {spec.Name} exists with another spec hash; remove it before running the new spec.");
                if (existing.Running)
                    return existing.Id;
                // As Docker's runtime: a stopped node never comes back with its old role and data.
                Remove(zone, existing);
            }
            var container = new MemoryContainer(world.NewContainerId(), zone, spec);
            foreach (var (path, content) in (spec.Files ?? new Dictionary<string, string>()).Concat(seeds))
                container.Files[path] = content;
            zone.Containers[container.Id] = container;
            world.Start(container);
            return container.Id;
        }
    }

    public Task<bool> RemoveAsync(string nameOrId, CancellationToken ct)
    {
        lock (world.Gate)
        {
            // Named in the call, so that a simulation can tell what was removed, and when.
            var zone = Answering($"{nameof(RemoveAsync)} {nameOrId}");
            if (Find(zone, nameOrId) is not { } container)
                return Task.FromResult(false);
            Remove(zone, container);
            return Task.FromResult(true);
        }
    }

    public Task StopAsync(string nameOrId, CancellationToken ct)
    {
        lock (world.Gate)
        {
            if (Find(Answering(), nameOrId) is { Running: true } container)
                world.Exit(container, 0);
        }
        return Task.CompletedTask;
    }

    public Task<bool> SignalAsync(string nameOrId, string signal, CancellationToken ct)
    {
        lock (world.Gate)
        {
            if (Find(Answering(), nameOrId) is not { Running: true } container)
                return Task.FromResult(false);
            // Every signal the reconciler sends ends the process (TERM, a soft stop; KILL).
            world.Exit(container, signal is "SIGKILL" or "KILL" ? 137 : 0);
            return Task.FromResult(true);
        }
    }

    public Task RestartAsync(string nameOrId, IReadOnlyDictionary<string, string>? files, CancellationToken ct)
    {
        lock (world.Gate)
        {
            var container = Find(Answering(), nameOrId) ?? throw NotFound(nameOrId);
            if (container.Running)
                world.Exit(container, 0);
            foreach (var (path, content) in files ?? new Dictionary<string, string>())
                container.Files[path] = content;
            // Same id, a fresh process: no dump file is modelled, so a Redis node comes back empty.
            world.Start(container);
        }
        return Task.CompletedTask;
    }

    public Task UpdateLimitsAsync(string nameOrId, long memoryBytes, double cpus, CancellationToken ct)
    {
        lock (world.Gate)
        {
            var container = Find(Answering(), nameOrId) ?? throw NotFound(nameOrId);
            container.Process?.LimitMemory(memoryBytes);
        }
        return Task.CompletedTask;
    }

    public async IAsyncEnumerable<ContainerEvent> EventsAsync([EnumeratorCancellation] CancellationToken ct)
    {
        System.Threading.Channels.ChannelReader<ContainerEvent> reader;
        MemoryZone zone;
        lock (world.Gate)
        {
            zone = Answering();
            reader = zone.Subscribe();
        }
        try
        {
            while (await reader.WaitToReadAsync(ct))
                while (reader.TryRead(out var change))
                    yield return change;
        }
        finally
        {
            lock (world.Gate)
                zone.Unsubscribe(reader);
        }
    }

    public Task<Stream> ReadFileAsync(string containerName, string path, CancellationToken ct)
    {
        lock (world.Gate)
        {
            var container = Find(Answering(), containerName) ?? throw NotFound(containerName);
            return container.Files.TryGetValue(path, out var content)
                ? Task.FromResult<Stream>(new MemoryStream(Encoding.UTF8.GetBytes(content), writable: false))
                : throw new FileNotFoundException($"Container {containerName} has no file {path}.", path);
        }
    }

    public Task WriteFilesAsync(string containerName, IReadOnlyDictionary<string, string> files, CancellationToken ct)
    {
        lock (world.Gate)
        {
            var container = Find(Answering(), containerName) ?? throw NotFound(containerName);
            foreach (var (path, content) in files)
                container.Files[path] = content;
        }
        return Task.CompletedTask;
    }

    private MemoryZone Answering([CallerMemberName] string call = "")
    {
        world.Called($"{Zone} {call}");
        var zone = world.ZoneOf(Zone);
        return zone.Answering ? zone : throw new ZoneUnreachableException(Zone, $"Zone {Zone}: the container engine does not answer (connection refused).");
    }

    private static MemoryContainer? Find(MemoryZone zone, string nameOrId) =>
        zone.Containers.GetValueOrDefault(nameOrId) ?? zone.Containers.Values.FirstOrDefault(c => c.Name == nameOrId);

    private void Remove(MemoryZone zone, MemoryContainer container)
    {
        if (container.Running)
            world.Exit(container, 137);
        zone.Containers.Remove(container.Id);
        zone.Publish("destroy", container);
    }

    private static RuntimeNotFoundException NotFound(string nameOrId) => new($"No such container: {nameOrId}");
}
