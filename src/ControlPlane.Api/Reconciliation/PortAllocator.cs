using System.Net;
using System.Net.Sockets;
using ControlPlane.Api.Data;
using ControlPlane.Api.Options;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace ControlPlane.Api.Reconciliation;

/// <summary>
/// Hands out node ports from the configured range, recorded in port_leases (unique per host), so
/// two nodes never share one even across control-plane processes. The range sits below 55536 and is
/// narrower than 10000, so a node port never collides with another node's cluster bus port.
/// </summary>
public sealed class PortAllocator(IOptions<ControlPlaneOptions> options)
{
    public async Task AllocateAsync(ControlPlaneDbContext db, IReadOnlyList<(string NodeId, string Host, Action<int> Assign)> requests, CancellationToken ct)
    {
        var settings = options.Value.Reconciler;
        foreach (var byHost in requests.GroupBy(r => r.Host))
        {
            var host = byHost.Key;
            var leased = (await db.PortLeases.Where(l => l.Host == host).Select(l => l.Port).ToListAsync(ct)).ToHashSet();
            var candidates = Enumerable.Range(settings.PortRangeStart, settings.PortRangeEnd - settings.PortRangeStart + 1)
                .Where(p => !leased.Contains(p) && IsFree(host, p) && IsFree(host, p + 10000));
            using var free = candidates.GetEnumerator();
            foreach (var request in byHost)
            {
                if (!free.MoveNext())
                    throw new InvalidOperationException($"No free port left in {settings.PortRangeStart}-{settings.PortRangeEnd} on {host}.");
                db.PortLeases.Add(new PortLeaseEntity { Host = host, Port = free.Current, NodeId = request.NodeId });
                request.Assign(free.Current);
            }
        }
    }

    public static async Task ReleaseAsync(ControlPlaneDbContext db, IReadOnlyCollection<string> nodeIds, CancellationToken ct) =>
        await db.PortLeases.Where(l => nodeIds.Contains(l.NodeId)).ExecuteDeleteAsync(ct);

    /// <summary>Something else may listen on a port of the range; only loopback hosts can be checked from here.</summary>
    private static bool IsFree(string host, int port)
    {
        if (!IPAddress.TryParse(host, out var address) || !IPAddress.IsLoopback(address))
            return true;
        try
        {
            using var listener = new TcpListener(address, port);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
