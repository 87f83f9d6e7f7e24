using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using ControlPlane.Api.Data;
using ControlPlane.Domain;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;

namespace ControlPlane.Api.Http;

/// <summary>
/// Idempotency-Key on creates: the first answer is stored with the resource in one transaction,
/// so the same key and body replay it (also after a restart) and a different body is 422.
/// </summary>
public sealed class Idempotency(ControlPlaneDbContext db, IOptions<JsonOptions> json, TimeProvider time, Caller caller)
{
    public const string Header = "Idempotency-Key";

    /// <summary>A fingerprint of the request: the path and the body as bound, so whitespace does not count.</summary>
    public string Fingerprint<T>(HttpRequest request, T body) =>
        Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(
            request.Path.Value + "\n" + JsonSerializer.Serialize(body, json.Value.SerializerOptions))));

    /// <summary>The stored answer for this key (or 422 when the body differs); null when the key is new or absent.</summary>
    public async Task<IResult?> ReplayAsync(string? key, string fingerprint, CancellationToken ct)
    {
        if (string.IsNullOrEmpty(key))
            return null;
        var record = await db.IdempotencyRecords.FindAsync([Stored(key)], ct);
        if (record is null)
            return null;
        if (record.RequestHash != fingerprint)
            return Problems.Create(StatusCodes.Status422UnprocessableEntity, ErrorCodes.IdempotencyKeyReused,
                $"Idempotency-Key {key} was used before with a different request.");
        return new Replay(record);
    }

    public void Remember(string? key, string fingerprint, int statusCode, object body, string? location, string? etag)
    {
        if (string.IsNullOrEmpty(key))
            return;
        db.IdempotencyRecords.Add(new IdempotencyRecordEntity
        {
            Key = Stored(key),
            RequestHash = fingerprint,
            StatusCode = statusCode,
            ResponseBody = JsonSerializer.Serialize(body, body.GetType(), json.Value.SerializerOptions),
            Location = location,
            ETag = etag,
            CreatedAt = time.GetUtcNow(),
        });
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
