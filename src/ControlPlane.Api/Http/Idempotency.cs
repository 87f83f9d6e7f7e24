using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using ControlPlane.Api.Data;
using ControlPlane.Api.Options;
using ControlPlane.Domain;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;

namespace ControlPlane.Api.Http;

/// <summary>
/// Idempotency-Key on creates: the first answer is stored with the resource in one transaction,
/// so the same key and body replay it (also after a restart) and a different body is 422.
/// Requests with one key are serialised by a Postgres advisory lock taken before the key is looked
/// up and held until the request's transaction ends, so concurrent retries all replay the first
/// answer instead of racing it. A key is forgotten after <see cref="ControlPlaneOptions.IdempotencyKeyLifetime"/>.
/// </summary>
public sealed class Idempotency(ControlPlaneDbContext db, IOptions<JsonOptions> json, IOptions<ControlPlaneOptions> options, TimeProvider time, Caller caller)
{
    public const string Header = "Idempotency-Key";
    public const int MaxKeyLength = 255;

    /// <summary>Keeps these locks apart from the reconciler's one-key advisory locks.</summary>
    private const int LockSpace = 0x1DE7;

    private IdempotencyRecordEntity? _expired;

    /// <summary>The reason an Idempotency-Key header is unusable, or null: 1-255 visible ASCII characters, once.</summary>
    public static string? CheckKey(StringValues values)
    {
        if (values.Count > 1)
            return $"{Header} is given more than once.";
        var key = values[0] ?? "";
        if (key.Length is 0 or > MaxKeyLength)
            return $"{Header} must be 1-{MaxKeyLength} characters.";
        return key.All(c => c is >= '!' and <= '~') ? null : $"{Header} may contain only visible ASCII characters (no spaces).";
    }

    /// <summary>A fingerprint of the request: method, path and the body as bound, so whitespace does not count.</summary>
    public string Fingerprint<T>(HttpRequest request, T body) =>
        Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(
            request.Method + " " + request.Path.Value + "\n" + JsonSerializer.Serialize(body, json.Value.SerializerOptions))));

    /// <summary>
    /// The stored answer for this key (or 422 when the request differs); null when the key is new,
    /// expired or absent. With a key, this opens the request's transaction and takes the key's lock.
    /// </summary>
    public async Task<IResult?> ReplayAsync(string? key, string fingerprint, CancellationToken ct)
    {
        if (string.IsNullOrEmpty(key))
            return null;
        await db.Database.BeginTransactionAsync(ct);
        // Off Postgres (the simulation's SQLite) one process owns the database: its transaction alone keeps the key's requests apart.
        if (db.Database.IsNpgsql())
            await db.Database.ExecuteSqlAsync($"SELECT pg_advisory_xact_lock({LockSpace}, hashtext({Stored(key)}))", ct);
        var record = await db.IdempotencyRecords.FindAsync([Stored(key)], ct);
        if (record is null)
            return null;
        if (record.CreatedAt <= time.GetUtcNow() - options.Value.IdempotencyKeyLifetime)
        {
            _expired = record;
            return null;
        }
        if (record.RequestHash != fingerprint)
            return Problems.Create(StatusCodes.Status422UnprocessableEntity, ErrorCodes.IdempotencyKeyReused,
                $"Idempotency-Key {key} was used before with a different request.");
        return new Replay(record);
    }

    public void Remember(string? key, string fingerprint, int statusCode, object body, string? location, string? etag)
    {
        if (string.IsNullOrEmpty(key))
            return;
        var record = _expired ?? db.IdempotencyRecords.Add(new IdempotencyRecordEntity { Key = Stored(key), RequestHash = "", ResponseBody = "" }).Entity;
        record.RequestHash = fingerprint;
        record.StatusCode = statusCode;
        record.ResponseBody = JsonSerializer.Serialize(body, body.GetType(), json.Value.SerializerOptions);
        record.Location = location;
        record.ETag = etag;
        record.CreatedAt = time.GetUtcNow();
    }

    /// <summary>Keys are the client's own choice, so each tenant has its own: another tenant's key never replays here.</summary>
    private string Stored(string key) => caller.Tenant + "/" + key;

    private sealed class Replay(IdempotencyRecordEntity record) : IResult
    {
        public async Task ExecuteAsync(HttpContext context)
        {
            context.Response.StatusCode = record.StatusCode;
            if (record.Location is not null)
                context.Response.Headers.Location = record.Location;
            if (record.ETag is not null)
                context.Response.Headers.ETag = record.ETag;
            context.Response.Headers["Idempotent-Replayed"] = "true";
            context.Response.ContentType = "application/json; charset=utf-8";
            await context.Response.WriteAsync(record.ResponseBody);
        }
    }
}
