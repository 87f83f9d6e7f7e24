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
public sealed class GroupLock : IAsyncDisposable
{
    private readonly ControlPlaneDbContext _db;
    private readonly string _key;

    private GroupLock(ControlPlaneDbContext db, string key) => (_db, _key) = (db, key);

    public static async Task<GroupLock?> TryTakeAsync(ControlPlaneDbContext db, string key, CancellationToken ct)
    {
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
