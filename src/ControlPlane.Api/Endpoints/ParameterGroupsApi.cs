using ControlPlane.Api.Contracts;
using ControlPlane.Api.Http;
using ControlPlane.Api.Parameters;
using ControlPlane.Domain;
using ControlPlane.Domain.Parameters;

namespace ControlPlane.Api.Endpoints;

/// <summary>The REST face of <see cref="ParameterGroups"/>: each handler reads the request, calls it and shapes the answer.</summary>
public static class ParameterGroupsApi
{
    public static IEndpointRouteBuilder MapParameterGroups(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/v1/parameter-groups").WithTags("Parameter groups");
        api.MapPost("/", Create).WithName("CreateParameterGroup").WithSummary("Create a parameter group of a family")
            .Produces<ParameterGroupResponse>(StatusCodes.Status201Created)
            .ProducesProblem(400).ProducesProblem(409).ProducesProblem(503);
        api.MapGet("/", List).WithName("ListParameterGroups").WithSummary("List the default parameter groups and the tenant's own");
        api.MapGet("/{name}", Get).WithName("GetParameterGroup").WithSummary("Describe a parameter group and its parameters")
            .Produces<ParameterGroupResponse>().ProducesProblem(404);
        api.MapPatch("/{name}", Modify).WithName("ModifyParameterGroup").WithSummary("Set parameter values of a parameter group")
            .Produces<ParameterGroupResponse>().Accepts<ModifyParameterGroupRequest>("application/json", "application/merge-patch+json")
            .ProducesProblem(400).ProducesProblem(404).ProducesProblem(503);
        api.MapPost("/{name}/reset", Reset).WithName("ResetParameterGroup").WithSummary("Give parameters of a parameter group their defaults back")
            .Produces<ParameterGroupResponse>().ProducesProblem(400).ProducesProblem(404).ProducesProblem(503);
        api.MapDelete("/{name}", Delete).WithName("DeleteParameterGroup").WithSummary("Delete a parameter group no group or cluster uses")
            .Produces(StatusCodes.Status204NoContent).ProducesProblem(400).ProducesProblem(404).ProducesProblem(503);
        return app;
    }

    private static async Task<IResult> Create(CreateParameterGroupRequest request, ParameterGroups groups, Caller caller, CancellationToken ct)
    {
        var name = Identifiers.Normalize(request.Name ?? "");
        var (group, error) = await groups.CreateAsync(caller.Tenant, name, request.Family ?? "", request.Description, ct);
        return error is not null ? Problem(error) : TypedResults.Created($"/v1/parameter-groups/{group!.Name}", ToResponse(group));
    }

    private static async Task<IResult> List(ParameterGroups groups, Caller caller, CancellationToken ct) =>
        TypedResults.Ok(new Page<ParameterGroupResponse>((await groups.ListAsync(caller.Tenant, ct)).Select(ToResponse).ToList(), null));

    private static async Task<IResult> Get(string name, ParameterGroups groups, Caller caller, CancellationToken ct) =>
        await groups.FindAsync(caller.Tenant, name, ct) is { } group
            ? TypedResults.Ok(ToResponse(group))
            : Problems.NotFound(ErrorCodes.CacheParameterGroupNotFound, $"Parameter group {name} does not exist.");

    private static async Task<IResult> Modify(string name, ModifyParameterGroupRequest request, ParameterGroups groups, Caller caller, CancellationToken ct)
    {
        var (group, error) = await groups.ModifyAsync(caller.Tenant, name, request.Parameters ?? new Dictionary<string, string>(), ct);
        return error is not null ? Problem(error) : TypedResults.Ok(ToResponse(group!));
    }

    private static async Task<IResult> Reset(string name, ResetParameterGroupRequest request, ParameterGroups groups, Caller caller, CancellationToken ct)
    {
        var (group, error) = await groups.ResetAsync(caller.Tenant, name, request.ParameterNames, request.All ?? false, ct);
        return error is not null ? Problem(error) : TypedResults.Ok(ToResponse(group!));
    }

    private static async Task<IResult> Delete(string name, ParameterGroups groups, Caller caller, CancellationToken ct) =>
        await groups.DeleteAsync(caller.Tenant, name, ct) is { } error ? Problem(error) : TypedResults.NoContent();

    public static IResult Problem(ParameterGroupError error) => error.Status == StatusCodes.Status400BadRequest
        ? Problems.Invalid(error.Field, error.Message, error.Code)
        : Problems.Create(error.Status, error.Code, error.Message);

    public static ParameterGroupResponse ToResponse(ParameterGroupView group) => new(
        group.Name, group.Family, group.Description, group.IsDefault,
        group.Parameters().Select(p => new ParameterResponse(
            p.Definition.Name, p.Value, p.Definition.AllowedValues, p.Definition.DataType, p.Definition.IsModifiable,
            p.Definition.ChangeType == ChangeType.Immediate ? "immediate" : "requires-reboot",
            p.FromUser ? "user" : "engine-default", p.Definition.Description)).ToList());
}
