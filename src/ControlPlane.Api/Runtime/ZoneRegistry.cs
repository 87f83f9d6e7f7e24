using ControlPlane.Api.Options;
using Microsoft.Extensions.Options;

namespace ControlPlane.Api.Runtime;

/// <summary>The configured availability zones, each a container engine and the address its nodes listen on.</summary>
public sealed partial class ZoneRegistry : IDisposable
{
    private static readonly TimeSpan ListTimeout = TimeSpan.FromSeconds(3);

    private readonly Dictionary<string, Zone> _zones;
    private readonly string _instance;
    private readonly ILogger<ZoneRegistry> _logger;

    public ZoneRegistry(IOptions<ControlPlaneOptions> options, INodeRuntimeFactory runtimes, ILoggerFactory loggers)
    {
        _zones = options.Value.Zones.ToDictionary(z => z.Name, z => new Zone(z.Name, z.Host, runtimes.Create(z)));
        _instance = options.Value.Reconciler.Instance;
        _logger = loggers.CreateLogger<ZoneRegistry>();
    }

    public IReadOnlyCollection<Zone> All => _zones.Values;

    public Zone this[string name] => _zones[name];

    /// <summary>This control plane's containers in every zone, one call per zone; null for a zone whose engine does not answer.</summary>
    public async Task<IReadOnlyDictionary<string, IReadOnlyList<ContainerInfo>?>> ListAsync(CancellationToken ct)
    {
        var listings = await Task.WhenAll(All.Select(async zone => (zone.Name, Listing: await ListAsync(zone.Name, ct))));
        return listings.ToDictionary(l => l.Name, l => l.Listing);
    }

    /// <summary>This control plane's containers in one zone; null when its engine does not answer within <see cref="ListTimeout"/>.</summary>
    public async Task<IReadOnlyList<ContainerInfo>?> ListAsync(string zone, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(ListTimeout);
        try
        {
            var all = await _zones[zone].Runtime.ListAsync(timeout.Token);
            return all.Where(c => c.Labels.GetValueOrDefault(Labels.Instance) == _instance).ToList();
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            LogZoneUnreachable(_logger, zone, e.Message);
            return null;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Zone {Zone} did not answer: {Reason}")]
    private static partial void LogZoneUnreachable(ILogger logger, string zone, string reason);

    public void Dispose()
    {
        foreach (var zone in _zones.Values)
            (zone.Runtime as IDisposable)?.Dispose();
    }
}
