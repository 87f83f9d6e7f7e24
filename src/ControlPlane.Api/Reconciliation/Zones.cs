using ControlPlane.Api.Options;
using ControlPlane.Api.Runtime;
using Microsoft.Extensions.Options;

namespace ControlPlane.Api.Reconciliation;

public sealed record Zone(string Name, string Host, INodeRuntime Runtime);

/// <summary>The configured availability zones, each a container engine and the address its nodes listen on.</summary>
public sealed class ZoneRegistry : IDisposable
{
    private readonly Dictionary<string, Zone> _zones;

    public ZoneRegistry(IOptions<ControlPlaneOptions> options, TimeProvider time, ILoggerFactory loggers) =>
        _zones = options.Value.Zones.ToDictionary(z => z.Name, z => new Zone(z.Name, z.Host,
            new DockerNodeRuntime(z.Name, new Uri(z.DockerEndpoint), time, loggers.CreateLogger<DockerNodeRuntime>())));

    public IReadOnlyCollection<Zone> All => _zones.Values;

    public Zone this[string name] => _zones[name];

    public void Dispose()
    {
        foreach (var zone in _zones.Values)
            (zone.Runtime as IDisposable)?.Dispose();
    }
}

/// <summary>Wakes the reconciler early: an API write (through NOTIFY) or a container event.</summary>
public sealed class ReconcileSignal
{
    private readonly SemaphoreSlim _signal = new(0, 1);

    public void Wake()
    {
        try
        {
            _signal.Release();
        }
        catch (SemaphoreFullException)
        {
            // Already awake: one pending wake-up is as good as many.
        }
    }

    /// <summary>Returns when woken or when the interval has passed.</summary>
    public Task WaitAsync(TimeSpan interval, CancellationToken ct) => _signal.WaitAsync(interval, ct);
}
