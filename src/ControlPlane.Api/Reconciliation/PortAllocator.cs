using System.Data.Common;
using System.Net;
using System.Net.Sockets;
using ControlPlane.Api.Data;
using ControlPlane.Api.Options;
using ControlPlane.Domain;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace ControlPlane.Api.Reconciliation;

/// <summary>
/// Hands out node ports from the configured range, recorded in port_leases (unique per host), so
/// two nodes never share one even across control-plane processes. A lease is committed, under a
/// per-host lock, before the caller starts anything on the port: a unique index that fails at
/// commit would be too late, the container would already run on someone else's port. Asking again
/// for a node that holds a lease on the host returns that lease, so a control plane killed between
/// the lease and recording the port leaks nothing. The range sits below 55536 and is narrower than
/// 10000, so a node port never collides with another node's cluster bus port.
/// </summary>
public sealed class PortAllocator(IOptions<ControlPlaneOptions> options)
{
    /// <summary>
    /// The kernel's ephemeral port range ("32768-60999") when node ports from start to end, or their
    /// cluster bus ports, reach into it; null when they do not, or off Linux. A port there may be the
    /// source port of any connection of the machine when a node comes to bind it, and the node exits.
    /// </summary>
    public static string? EphemeralOverlap(int start, int end)
    {
        const string path = "/proc/sys/net/ipv4/ip_local_port_range";
        return File.Exists(path) ? EphemeralOverlap(start, end, File.ReadAllText(path)) : null;
    }

    /// <summary>The same, against the kernel's range as its file gives it ("32768\t60999").</summary>
    public static string? EphemeralOverlap(int start, int end, string kernelRange)
    {
        var parts = kernelRange.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length != 2 || !int.TryParse(parts[0], out var low) || !int.TryParse(parts[1], out var high))
            return null;
        bool Reaches(int first, int last) => first <= high && last >= low;
        return Reaches(start, end) || Reaches(start + SlotRanges.ClusterBusOffset, end + SlotRanges.ClusterBusOffset) ? $"{low}-{high}" : null;
    }

    public async Task AllocateAsync(ControlPlaneDbContext db, IReadOnlyList<(string NodeId, string Host, Action<int> Assign)> requests, CancellationToken ct)
    {
        var settings = options.Value.Reconciler;
        var granted = new List<(Action<int> Assign, int Port)>();
        // A connection of its own, so the lease commits before anything starts on the port, whatever the caller's context has open.
        await using var connection = DbProviderFactories.GetFactory(db.Database.GetDbConnection())!.CreateConnection()!;
        connection.ConnectionString = db.Database.GetConnectionString();
        await connection.OpenAsync(ct);
        foreach (var byHost in requests.GroupBy(r => r.Host))
        {
            var host = byHost.Key;
            await using var tx = await connection.BeginTransactionAsync(ct);
            // Off Postgres (the simulation's SQLite), one process owns the database and the transaction alone keeps others out.
            if (db.Database.IsNpgsql())
                await ExecuteAsync(connection, tx, "SELECT pg_advisory_xact_lock(hashtextextended('port_leases/' || @host, 0))", ct, ("host", host));
            var leases = new List<(int Port, string NodeId)>();
            await using (var read = Command(connection, tx, """SELECT "Port", "NodeId" FROM port_leases WHERE "Host" = @host""", ("host", host)))
            {
                await using var reader = await read.ExecuteReaderAsync(ct);
                while (await reader.ReadAsync(ct))
                    leases.Add((reader.GetInt32(0), reader.GetString(1)));
            }
            var held = leases.ToDictionary(l => l.NodeId, l => l.Port);
            var leased = leases.Select(l => l.Port).ToHashSet();
            var candidates = Enumerable.Range(settings.PortRangeStart, settings.PortRangeEnd - settings.PortRangeStart + 1)
                .Where(p => !leased.Contains(p) && IsFree(host, p) && IsFree(host, p + SlotRanges.ClusterBusOffset));
            using var free = candidates.GetEnumerator();
            foreach (var request in byHost)
            {
                if (held.TryGetValue(request.NodeId, out var mine))
                {
                    granted.Add((request.Assign, mine));
                    continue;
                }
                if (!free.MoveNext())
                    throw new InvalidOperationException($"No free port left in {settings.PortRangeStart}-{settings.PortRangeEnd} on {host}.");
                // A lease of this node on another host is given up: the caller moves the node.
                await ExecuteAsync(connection, tx, """DELETE FROM port_leases WHERE "NodeId" = @node""", ct, ("node", request.NodeId));
                await ExecuteAsync(connection, tx, """INSERT INTO port_leases ("Host", "Port", "NodeId") VALUES (@host, @port, @node)""", ct,
                    ("host", host), ("port", free.Current), ("node", request.NodeId));
                granted.Add((request.Assign, free.Current));
            }
            await tx.CommitAsync(ct);
        }
        foreach (var (assign, port) in granted)
            assign(port);
    }

    public static async Task ReleaseAsync(ControlPlaneDbContext db, IReadOnlyCollection<string> nodeIds, CancellationToken ct) =>
        await db.PortLeases.Where(l => nodeIds.Contains(l.NodeId)).ExecuteDeleteAsync(ct);

    /// <summary>
    /// Releases the nodes' leases with the caller's next SaveChanges, in the transaction that stores
    /// the record that stops using the ports (a node removed or replaced, a create failed, a group
    /// deleted). Released at once instead, a save that then fails leaves the nodes on ports nobody
    /// holds: the next node allocated takes one of them, and two nodes of a group share a port.
    /// </summary>
    public static async Task ReleaseOnSaveAsync(ControlPlaneDbContext db, IReadOnlyCollection<string> nodeIds, CancellationToken ct) =>
        db.PortLeases.RemoveRange(await db.PortLeases.Where(l => nodeIds.Contains(l.NodeId)).ToListAsync(ct));

    private static async Task ExecuteAsync(DbConnection connection, DbTransaction tx, string sql, CancellationToken ct, params (string Name, object Value)[] parameters)
    {
        await using var command = Command(connection, tx, sql, parameters);
        await command.ExecuteNonQueryAsync(ct);
    }

    private static DbCommand Command(DbConnection connection, DbTransaction tx, string sql, params (string Name, object Value)[] parameters)
    {
        var command = connection.CreateCommand();
        (command.CommandText, command.Transaction) = (sql, tx);
        foreach (var (name, value) in parameters)
        {
            var parameter = command.CreateParameter();
            (parameter.ParameterName, parameter.Value) = ($"@{name}", value);
            command.Parameters.Add(parameter);
        }
        return command;
    }

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
