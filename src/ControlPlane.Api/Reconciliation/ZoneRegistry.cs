using ControlPlane.Api.Options;
using ControlPlane.Api.Runtime;
using Microsoft.Extensions.Options;

namespace ControlPlane.Api.Reconciliation;

public sealed record Zone(string Name, string Host, INodeRuntime Runtime);

/// <summary>The configured availability zones, each a container engine and the address its nodes listen on.</summary>
public sealed partial class ZoneRegistry : IDisposable
{
    private static readonly TimeSpan ListTimeout = TimeSpan.FromSeconds(3);

    private readonly Dictionary<string, Zone> _zones;
    private readonly string _instance;
    private readonly ILogger<ZoneRegistry> _logger;

    public ZoneRegistry(IOptions<ControlPlaneOptions> options, TimeProvider time, ILoggerFactory loggers)
        : this(options, loggers, z => new DockerNodeRuntime(z.Name, new Uri(z.DockerEndpoint), time, loggers.CreateLogger<DockerNodeRuntime>(),
            z.DockerCertPath is { Length: > 0 } certs ? DockerMutualTls.Load(certs) : null))
    {
    }

    /// <summary>The zones with another runtime than Docker's (the in-memory world).</summary>
    public ZoneRegistry(IOptions<ControlPlaneOptions> options, ILoggerFactory loggers, Func<AvailabilityZoneOptions, INodeRuntime> runtime)
    {
        _zones = options.Value.Zones.ToDictionary(z => z.Name, z => new Zone(z.Name, z.Host, runtime(z)));
        _instance = options.Value.Reconciler.Instance;
        _logger = loggers.CreateLogger<ZoneRegistry>();
    }

    public IReadOnlyCollection<Zone> All => _zones.Values;

    public Zone this[string name] => _zones[name];

    /// <summary>This control plane's containers in every zone, one call per zone; null for a zone whose engine does not answer.</summary>
    public async Task<IReadOnlyDictionary<string, IReadOnlyList<ContainerInfo>?>> ListAsync(CancellationToken ct)
    {
        var listings = await Task.WhenAll(All.Select(async zone =>
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(ListTimeout);
            try
            {
                var all = await zone.Runtime.ListAsync(timeout.Token);
                return (zone.Name, (IReadOnlyList<ContainerInfo>?)all.Where(c => c.Labels.GetValueOrDefault(Labels.Instance) == _instance).ToList());
            }
            catch (Exception e) when (!ct.IsCancellationRequested)
            {
                LogZoneUnreachable(_logger, zone.Name, e.Message);
                return (zone.Name, null);
            }
        }));
        return listings.ToDictionary(l => l.Name, l => l.Item2);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Zone {Zone} did not answer: {Reason}")]
    private static partial void LogZoneUnreachable(ILogger logger, string zone, string reason);

    public void Dispose()
    {
        foreach (var zone in _zones.Values)
            (zone.Runtime as IDisposable)?.Dispose();
    }
}
