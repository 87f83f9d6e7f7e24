using ControlPlane.Api.Data;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace ControlPlane.Api.Reconciliation;

/// <summary>A session-level Postgres advisory lock on one group, held on its own connection while the group converges.</summary>
public sealed class GroupLock : IAsyncDisposable
{
    private readonly NpgsqlConnection _connection;
    private readonly string _key;

    private GroupLock(NpgsqlConnection connection, string key) => (_connection, _key) = (connection, key);

    public static async Task<GroupLock?> TryTakeAsync(ControlPlaneDbContext db, string key, CancellationToken ct)
    {
        var connection = new NpgsqlConnection(db.Database.GetConnectionString());
        await connection.OpenAsync(ct);
        await using var command = new NpgsqlCommand("SELECT pg_try_advisory_lock(hashtextextended(@key, 0))", connection);
        command.Parameters.AddWithValue("key", key);
        if ((bool)(await command.ExecuteScalarAsync(ct))!)
            return new GroupLock(connection, key);
        await connection.DisposeAsync();
        return null;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await using var command = new NpgsqlCommand("SELECT pg_advisory_unlock(hashtextextended(@key, 0))", _connection);
            command.Parameters.AddWithValue("key", _key);
            await command.ExecuteScalarAsync();
        }
        finally
        {
            await _connection.DisposeAsync();
        }
    }
}
