namespace ControlPlane.Api.Runtime;

/// <summary>Whether each availability zone's container engine answers a ping, within a short timeout.</summary>
public sealed class ZoneHealth(ZoneRegistry zones)
{
    private static readonly TimeSpan PingTimeout = TimeSpan.FromSeconds(2);

    public async Task<IReadOnlyDictionary<string, bool>> ProbeAsync(CancellationToken ct)
    {
        var results = await Task.WhenAll(zones.All.Select(async zone => (zone.Name, Up: await PingAsync(zone.Runtime, ct))));
        return results.OrderBy(r => r.Name).ToDictionary(r => r.Name, r => r.Up);
    }

    private static async Task<bool> PingAsync(INodeRuntime runtime, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(PingTimeout);
        try
        {
            await runtime.PingAsync(timeout.Token);
            return true;
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            return false;
        }
    }
}
