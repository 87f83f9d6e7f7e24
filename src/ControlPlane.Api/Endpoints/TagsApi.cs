using System.Text.Json;
using System.Text.Json.Nodes;
using ControlPlane.Api.Data;
using ControlPlane.Api.Http;
using ControlPlane.Domain;
using Microsoft.EntityFrameworkCore;

namespace ControlPlane.Api.Endpoints;

/// <summary>
/// Tags (ElastiCache's cost allocation tags) on replication groups, cache clusters and snapshots:
/// <c>GET .../{id}/tags</c> answers them as one JSON object, <c>PATCH .../{id}/tags</c> is a JSON
/// merge patch of it (a string sets a tag, null removes it). The same tags the query API's
/// AddTagsToResource / ListTagsForResource / RemoveTagsFromResource work on. They go with the resource.
/// </summary>
public static class TagsApi
{
    public const int MaxTags = 50;
    public const int MaxKeyLength = 128;
    public const int MaxValueLength = 256;

    public static IEndpointRouteBuilder MapTags(this IEndpointRouteBuilder app)
    {
        Map(app, "replication-groups", "ReplicationGroup", ErrorCodes.ReplicationGroupNotFound, "Replication group",
            (db, id) => db.ReplicationGroups.Where(g => g.Id == id).Select(g => new Tagged(g.Tags)), (db, id, before, tags) =>
                db.ReplicationGroups.Where(g => g.Id == id && g.Tags == before).ExecuteUpdateAsync(s => s.SetProperty(g => g.Tags, tags)));
        Map(app, "cache-clusters", "CacheCluster", ErrorCodes.CacheClusterNotFound, "Cache cluster",
            (db, id) => db.CacheClusters.Where(c => c.Id == id).Select(c => new Tagged(c.Tags)), (db, id, before, tags) =>
                db.CacheClusters.Where(c => c.Id == id && c.Tags == before).ExecuteUpdateAsync(s => s.SetProperty(c => c.Tags, tags)));
        Map(app, "snapshots", "Snapshot", ErrorCodes.SnapshotNotFound, "Snapshot",
            (db, id) => db.Snapshots.Where(x => x.Name == id).Select(x => new Tagged(x.Tags)), (db, id, before, tags) =>
                db.Snapshots.Where(x => x.Name == id && x.Tags == before).ExecuteUpdateAsync(s => s.SetProperty(x => x.Tags, tags)));
        return app;
    }

    private sealed record Tagged(string? Tags);

    private static void Map(IEndpointRouteBuilder app, string collection, string kind, string notFoundCode, string noun,
        Func<ControlPlaneDbContext, string, IQueryable<Tagged>> find, Func<ControlPlaneDbContext, string, string?, string, Task<int>> store)
    {
        var tags = app.MapGroup($"/v1/{collection}/{{id}}/tags").WithTags("Tags");
        tags.MapGet("/", async Task<IResult> (string id, ControlPlaneDbContext db, Caller caller, CancellationToken ct) =>
        {
            var row = await find(db, caller.Internal(Identifiers.Normalize(id))).AsNoTracking().FirstOrDefaultAsync(ct);
            return row is null
                ? Problems.NotFound(notFoundCode, $"{noun} {Identifiers.Normalize(id)} does not exist.")
                : TypedResults.Ok(Parse(row.Tags));
        }).WithName($"Get{kind}Tags").WithSummary($"The tags of a {noun.ToLowerInvariant()}")
            .Produces<Dictionary<string, string>>().ProducesProblem(404);

        tags.MapPatch("/", async Task<IResult> (string id, HttpRequest request, ControlPlaneDbContext db, Caller caller, CancellationToken ct) =>
        {
            JsonObject patch;
            try
            {
                patch = await JsonNode.ParseAsync(request.Body, cancellationToken: ct) as JsonObject
                    ?? throw new JsonException("not an object");
            }
            catch (JsonException)
            {
                return Problems.Invalid("tags", "The body is a JSON object of tag keys to string values (null removes a tag).");
            }
            var stored = caller.Internal(Identifiers.Normalize(id));
            // Compare and swap: the write only lands on the tags it was computed from, else it is done again.
            while (true)
            {
                var row = await find(db, stored).AsNoTracking().FirstOrDefaultAsync(ct);
                if (row is null)
                    return Problems.NotFound(notFoundCode, $"{noun} {Identifiers.Normalize(id)} does not exist.");
                var current = Parse(row.Tags);
                foreach (var (key, value) in patch)
                {
                    if (key.Length is 0 or > MaxKeyLength || key.StartsWith("aws:", StringComparison.OrdinalIgnoreCase))
                        return Problems.Invalid("tags", $"Tag keys are 1-{MaxKeyLength} characters and do not start with 'aws:'; got '{key}'.");
                    if (value is null)
                        current.Remove(key);
                    else if (value.GetValueKind() != JsonValueKind.String || ((string)value!).Length > MaxValueLength)
                        return Problems.Invalid("tags", $"The value of tag '{key}' must be a string of at most {MaxValueLength} characters, or null to remove it.");
                    else
                        current[key] = (string)value!;
                }
                if (current.Count > MaxTags)
                    return Problems.Create(StatusCodes.Status400BadRequest, ErrorCodes.TagQuotaPerResourceExceeded,
                        $"A resource has at most {MaxTags} tags; this would give it {current.Count}.");
                if (await store(db, stored, row.Tags, JsonSerializer.Serialize(current)) == 1)
                    return TypedResults.Ok(current);
            }
        }).WithName($"Modify{kind}Tags").WithSummary($"Set or remove tags of a {noun.ToLowerInvariant()} (JSON merge patch)")
            .Accepts<Dictionary<string, string>>("application/merge-patch+json", "application/json")
            .Produces<Dictionary<string, string>>().ProducesProblem(400).ProducesProblem(404);
    }

    private static SortedDictionary<string, string> Parse(string? json) =>
        json is null ? new(StringComparer.Ordinal) : new(JsonSerializer.Deserialize<Dictionary<string, string>>(json)!, StringComparer.Ordinal);
}
