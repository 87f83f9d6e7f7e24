using System.Collections.Concurrent;
using ControlPlane.Api.Data;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace ControlPlane.Api.Reconciliation;

/// <summary>
/// A session-level Postgres advisory lock on one group, held on the context's own connection, which
/// stays open while the group converges. The lock and every read and write under it share one
/// connection: a convergence costs one connection, not two, and when that connection breaks, the
/// lock and the work it guards end together (on a second connection, the work could go on after
/// the lock was gone). The context must outlive the lock: disposing it closes the connection, which
/// lets the lock go.
/// </summary>
/// <remarks>
/// On any other database (the simulation's SQLite, which one process owns) the lock is this
/// process's: there is no other control plane to keep out.
/// </remarks>
public sealed class GroupLock : IAsyncDisposable
{
    /// <summary>The locks held off Postgres: database and key.</summary>
    private static readonly ConcurrentDictionary<(string? Database, string Key), GroupLock> Local = new();

    private readonly ControlPlaneDbContext _db;
    private readonly string _key;

    private GroupLock(ControlPlaneDbContext db, string key) => (_db, _key) = (db, key);

    public static async Task<GroupLock?> TryTakeAsync(ControlPlaneDbContext db, string key, CancellationToken ct)
    {
        if (!db.Database.IsNpgsql())
        {
            var held = new GroupLock(db, key);
            return Local.TryAdd((db.Database.GetConnectionString(), key), held) ? held : null;
        }
        await db.Database.OpenConnectionAsync(ct);
        var taken = false;
        try
        {
            taken = (bool)(await RunAsync(db, "SELECT pg_try_advisory_lock(hashtextextended(@key, 0))", key, ct))!;
            return taken ? new GroupLock(db, key) : null;
        }
        finally
        {
            if (!taken)
                await db.Database.CloseConnectionAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_db.Database.IsNpgsql())
        {
            Local.TryRemove(new((_db.Database.GetConnectionString(), _key), this));
            return;
        }
        try
        {
            await RunAsync(_db, "SELECT pg_advisory_unlock(hashtextextended(@key, 0))", _key, CancellationToken.None);
        }
        finally
        {
            // Back to the pool. An unlock that failed found the connection broken, and the lock went with its session.
            await _db.Database.CloseConnectionAsync();
        }
    }

    private static async Task<object?> RunAsync(ControlPlaneDbContext db, string sql, string key, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand(sql, (NpgsqlConnection)db.Database.GetDbConnection());
        command.Parameters.AddWithValue("key", key);
        return await command.ExecuteScalarAsync(ct);
    }
}
