using ControlPlane.Api.Data;
using ControlPlane.Domain;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace ControlPlane.Api.Http;

/// <summary>
/// Saving an accepted change: one transaction for the resource, its event and its idempotency
/// record, and a NOTIFY (delivered on commit) that wakes every reconciler listening.
/// </summary>
public static class Store
{
    public const string ChangesChannel = "controlplane_changes";

    public static async Task<IResult> CreateAsync<TResponse>(
        ControlPlaneDbContext db, HttpContext http, Idempotency idempotency, string? key, string fingerprint, string location,
        Func<TResponse> respond, Func<TResponse, string> etagOf, string conflictCode, string conflictDetail, CancellationToken ct)
        where TResponse : notnull
    {
        SignEvents(db, http);
        // With an Idempotency-Key the transaction is open already and holds the key's lock.
        await using var tx = db.Database.CurrentTransaction ?? await db.Database.BeginTransactionAsync(ct);
        try
        {
            await db.SaveChangesAsync(ct);
            var body = respond();
            idempotency.Remember(key, fingerprint, StatusCodes.Status202Accepted, body, location, etagOf(body));
            await db.SaveChangesAsync(ct);
            await NotifyAsync(db, ct);
            await tx.CommitAsync(ct);
            ETags.Set(http.Response, etagOf(body));
            return TypedResults.Accepted(location, body);
        }
        catch (DbUpdateException e) when (e.InnerException is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation })
        {
            // Another request created the same id (or used the same key) between our check and our insert.
            return Problems.Conflict(conflictCode, conflictDetail);
        }
        catch (DbUpdateConcurrencyException)
        {
            // A create that also changes its parent (a snapshot sets its group snapshotting) lost a race for the parent.
            return Problems.Conflict(ErrorCodes.InvalidReplicationGroupState,
                "The replication group changed while this request was handled; read it again and retry.");
        }
    }

    /// <summary>Saves a change; one that lost a race with another writer is 412 under If-Match, else 409 with <paramref name="stateCode"/>.</summary>
    public static async Task<IResult> SaveAsync<TResponse>(
        ControlPlaneDbContext db, HttpContext http, uint loadedVersion, string stateCode, Func<TResponse> respond, Func<TResponse, string> etagOf, CancellationToken ct)
        where TResponse : notnull
    {
        SignEvents(db, http);
        // A change that adds nodes holds the node quota's lock in its transaction already.
        await using var tx = db.Database.CurrentTransaction ?? await db.Database.BeginTransactionAsync(ct);
        try
        {
            await db.SaveChangesAsync(ct);
            await NotifyAsync(db, ct);
            await tx.CommitAsync(ct);
        }
        catch (DbUpdateConcurrencyException)
        {
            return ETags.IfMatch(http.Request) is not null
                ? Problems.PreconditionFailed(ETags.Format(loadedVersion))
                : Problems.Conflict(stateCode, "The resource changed while this request was handled; read it again and retry.");
        }
        var body = respond();
        ETags.Set(http.Response, etagOf(body));
        return TypedResults.Accepted((string?)null, body);
    }

    /// <summary>412 when If-Match names another version than the one loaded; the save's xmin check covers the rest.</summary>
    public static ProblemHttpResult? CheckIfMatch(HttpRequest request, uint version) =>
        ETags.IfMatch(request) is { } expected && expected != version ? Problems.PreconditionFailed(ETags.Format(version)) : null;

    /// <summary>
    /// Every change made through the API goes through here: its events name the key that asked, and
    /// the group or cluster keeps the request's trace context for the reconciler's work on it.
    /// </summary>
    private static void SignEvents(ControlPlaneDbContext db, HttpContext http)
    {
        var keyId = http.User.FindFirst(ApiKeyClaims.KeyId)?.Value;
        foreach (var entry in db.ChangeTracker.Entries<EventEntity>().Where(e => e.State == EntityState.Added))
            entry.Entity.Principal ??= keyId;
        if (System.Diagnostics.Activity.Current?.Id is not { } traceParent)
            return;
        foreach (var entry in db.ChangeTracker.Entries<ReplicationGroupEntity>().Where(e => e.State is EntityState.Added or EntityState.Modified))
            entry.Entity.TraceParent = traceParent;
        foreach (var entry in db.ChangeTracker.Entries<CacheClusterEntity>().Where(e => e.State is EntityState.Added or EntityState.Modified))
            entry.Entity.TraceParent = traceParent;
    }

    /// <summary>Only Postgres wakes listeners; the simulation's SQLite has none, its driver runs every pass.</summary>
    private static Task NotifyAsync(ControlPlaneDbContext db, CancellationToken ct) =>
        db.Database.IsNpgsql() ? db.Database.ExecuteSqlRawAsync($"NOTIFY {ChangesChannel}", ct) : Task.CompletedTask;
}
