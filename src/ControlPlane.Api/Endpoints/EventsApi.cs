using System.Globalization;
using ControlPlane.Api.Contracts;
using ControlPlane.Api.Data;
using ControlPlane.Api.Http;
using ControlPlane.Api.Options;
using ControlPlane.Domain;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace ControlPlane.Api.Endpoints;

public static class EventsApi
{
    public static IEndpointRouteBuilder MapEvents(this IEndpointRouteBuilder app)
    {
        app.MapGet("/v1/events", List).WithTags("Events").WithName("ListEvents")
            .WithSummary("Events, newest first; the default window is the last hour, kept for 14 days");
        return app;
    }

    private static async Task<Results<Ok<Page<EventResponse>>, ProblemHttpResult>> List(
        ControlPlaneDbContext db, TimeProvider time, IOptions<ControlPlaneOptions> options, Caller caller,
        string? sourceType, string? sourceId, string? since, string? until, int? limit, string? cursor, CancellationToken ct)
    {
        if (!PageRequest.TryParse(limit, cursor, out var page, out var problem))
            return problem!;
        if (ParseTime("since", since, out var sinceTime) is { } badSince)
            return badSince;
        if (ParseTime("until", until, out var untilTime) is { } badUntil)
            return badUntil;
        var now = time.GetUtcNow();
        var from = sinceTime ?? now.AddHours(-1);
        var oldest = now - options.Value.EventRetention;
        if (from < oldest)
            from = oldest;
        var tenant = caller.Tenant;
        var query = db.Events.AsNoTracking().Where(e => e.Tenant == tenant && e.Time >= from);
        if (untilTime is { } to)
            query = query.Where(e => e.Time <= to);
        if (sourceType is not null)
        {
            if (!JsonBodies.TryParseEnum<SourceType>(sourceType, out var type))
                return Problems.Invalid("sourceType", "sourceType must be replication-group, cache-cluster, snapshot or api-key.");
            query = query.Where(e => e.SourceType == type);
        }
        if (sourceId is not null)
        {
            var id = caller.Internal(Identifiers.Normalize(sourceId));
            query = query.Where(e => e.SourceId == id);
        }
        if (page.After is { } after)
        {
            // The cursor is the last event's id: newest first means lower ids come next.
            if (!long.TryParse(after, NumberStyles.None, CultureInfo.InvariantCulture, out var lastId))
                return Problems.Invalid("cursor", "cursor is not one this service handed out.");
            query = query.Where(e => e.Id < lastId);
        }
        var rows = await query.OrderByDescending(e => e.Id).Take(page.Limit + 1).ToListAsync(ct);
        var (items, next) = rows.Cut(page, e => e.Id.ToString(CultureInfo.InvariantCulture));
        return TypedResults.Ok(new Page<EventResponse>(items.Select(e => e.ToResponse()).ToList(), next));
    }

    /// <summary>An RFC 3339 time of the query (any offset, converted to UTC), or the 400 that says what is wrong.</summary>
    internal static ProblemHttpResult? ParseTime(string field, string? text, out DateTimeOffset? value)
    {
        value = null;
        if (text is null)
            return null;
        if (!Rfc3339Converter.TryParse(text, out var parsed))
            return Problems.Invalid(field, $"{field} {Rfc3339Converter.Expected}");
        value = parsed;
        return null;
    }
}
