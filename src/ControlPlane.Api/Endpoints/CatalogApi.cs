using ControlPlane.Api.Contracts;
using ControlPlane.Api.Data;
using ControlPlane.Api.Runtime;
using ControlPlane.Domain;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace ControlPlane.Api.Endpoints;

public static class CatalogApi
{
    public static IEndpointRouteBuilder MapCatalog(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/v1").WithTags("Catalogue");
        api.MapGet("/node-types", (Catalog catalog) =>
                TypedResults.Ok(catalog.NodeTypes.Select(t => new NodeTypeResponse(t.Name, t.MemoryMiB, t.Cpus)).ToList()))
            .WithName("ListNodeTypes").WithSummary("Node types: container memory and CPU limits");
        api.MapGet("/engine-versions", (Catalog catalog) =>
                TypedResults.Ok(catalog.EngineVersions.Select(v => new EngineVersionResponse(v.Engine, v.Version, Catalog.Family(v.Engine, v.Version), v.Image)).ToList()))
            .WithName("ListEngineVersions").WithSummary("Supported engine versions and their images");
        api.MapGet("/availability-zones", async (ZoneHealth zones, CancellationToken ct) =>
                TypedResults.Ok((await zones.ProbeAsync(ct))
                    .Select(z => new AvailabilityZoneResponse(z.Key, z.Value ? ZoneStatus.Available : ZoneStatus.Unreachable)).ToList()))
            .WithName("ListAvailabilityZones").WithSummary("Availability zones and whether their container engine answers");
        return app;
    }

    public static IEndpointRouteBuilder MapHealth(this IEndpointRouteBuilder app)
    {
        app.MapGet("/healthz", () => TypedResults.Ok(new HealthResponse("ok", null, null)))
            .WithTags("Health").WithName("Healthz").WithSummary("The process is up").AllowAnonymous();
        app.MapGet("/readyz", Ready).WithTags("Health").WithName("Readyz").WithSummary("The database and the container hosts are reachable").AllowAnonymous();
        return app;
    }

    private static async Task<Results<Ok<HealthResponse>, JsonHttpResult<HealthResponse>>> Ready(
        ControlPlaneDbContext db, ZoneHealth zones, CancellationToken ct)
    {
        var database = await CanReachDatabase(db, ct);
        var engines = await zones.ProbeAsync(ct);
        var body = new HealthResponse(database && engines.Values.Any(up => up) ? "ready" : "not-ready", database, engines);
        return body.Status == "ready" ? TypedResults.Ok(body) : TypedResults.Json(body, statusCode: StatusCodes.Status503ServiceUnavailable);
    }

    private static async Task<bool> CanReachDatabase(ControlPlaneDbContext db, CancellationToken ct)
    {
        try
        {
            return await db.Database.CanConnectAsync(ct);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return false;
        }
    }
}

public sealed record HealthResponse(string Status, bool? Database, IReadOnlyDictionary<string, bool>? AvailabilityZones);
