using ControlPlane.Api.Contracts;
using ControlPlane.Api.Data;
using ControlPlane.Api.Http;
using ControlPlane.Api.QueryApi;
using ControlPlane.Domain;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace ControlPlane.Api.Endpoints;

/// <summary>Key management, for admin keys only. A key's secret is shown once, in the create's answer.</summary>
public static class ApiKeysApi
{
    public static IEndpointRouteBuilder MapApiKeys(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/v1/api-keys").WithTags("API keys").RequireAuthorization(AccessPolicies.Admin);
        api.MapPost("/", Create).WithName("CreateApiKey").WithSummary("Create an API key; the answer is the only time the key is shown")
            .ProducesProblem(400);
        api.MapGet("/", List).WithName("ListApiKeys").WithSummary("List API keys, without their secrets");
        api.MapDelete("/{keyId}", Revoke).WithName("RevokeApiKey").WithSummary("Revoke an API key, effective on the next request")
            .ProducesProblem(404).ProducesProblem(409);
        return app;
    }

    private static async Task<Results<Created<CreatedApiKeyResponse>, ProblemHttpResult>> Create(
        CreateApiKeyRequest request, ControlPlaneDbContext db, TimeProvider time, Caller caller, ApiKeySecrets secrets, CancellationToken ct)
    {
        var violations = new List<Violation>();
        var name = request.Name?.Trim() ?? "";
        if (name.Length is 0 or > Limits.MaxDescriptionLength)
            violations.Add(new Violation(ErrorCodes.InvalidParameterValue, "name", $"name is required, at most {Limits.MaxDescriptionLength} characters."));
        if (request.Role is null)
            violations.Add(new Violation(ErrorCodes.InvalidParameterValue, "role", "role is required: viewer, operator or admin."));
        var tenant = (request.Tenant ?? TenantNames.Default).Trim().ToLowerInvariant();
        if (TenantNames.Check(tenant) is { } error)
            violations.Add(new Violation(ErrorCodes.InvalidParameterValue, "tenant", $"The tenant {error}"));
        if (violations.Count > 0)
            return Problems.Validation(violations);

        var (keyId, key) = ApiKeyFormat.New();
        ApiKeyFormat.TryParse(key, out _, out var secret);
        var entity = new ApiKeyEntity
        {
            KeyId = keyId, Name = name, Role = request.Role!.Value, Tenant = tenant, SecretHash = ApiKeyFormat.Hash(secret!),
            SecretProtected = secrets.Protect(secret!), CreatedAt = time.GetUtcNow(),
        };
        db.ApiKeys.Add(entity);
        Audit(db, time, caller, entity, $"API key {keyId} ({name}, {AccessPolicies.RoleName(entity.Role)}) created");
        await db.SaveChangesAsync(ct);
        return TypedResults.Created($"/v1/api-keys/{keyId}", new CreatedApiKeyResponse(keyId, name, entity.Role, tenant, entity.CreatedAt, key));
    }

    private static async Task<Results<Ok<Page<ApiKeyResponse>>, ProblemHttpResult>> List(
        ControlPlaneDbContext db, int? limit, string? cursor, CancellationToken ct)
    {
        if (!PageRequest.TryParse(limit, cursor, out var page, out var problem))
            return problem!;
        var query = db.ApiKeys.AsNoTracking();
        if (page.After is { } after)
            query = query.Where(k => string.Compare(k.KeyId, after) > 0);
        var rows = await query.OrderBy(k => k.KeyId).Take(page.Limit + 1).ToListAsync(ct);
        var (items, next) = rows.Cut(page, k => k.KeyId);
        return TypedResults.Ok(new Page<ApiKeyResponse>(items.Select(ToResponse).ToList(), next));
    }

    private static async Task<Results<Ok<ApiKeyResponse>, ProblemHttpResult>> Revoke(
        string keyId, ControlPlaneDbContext db, TimeProvider time, ConfiguredAdminKey adminKey, Caller caller, CancellationToken ct)
    {
        if (keyId == adminKey.KeyId)
            return Problems.Conflict(ErrorCodes.InvalidApiKeyState, "This admin key comes from the configuration (ControlPlane:AdminKey or AdminKeyFile); remove it there.");
        var key = await db.ApiKeys.FirstOrDefaultAsync(k => k.KeyId == keyId, ct);
        if (key is null)
            return Problems.NotFound(ErrorCodes.ApiKeyNotFound, $"API key {(ApiKeyFormat.IsKeyId(keyId) ? keyId : "")} does not exist.");
        if (key.RevokedAt is null)
        {
            key.RevokedAt = time.GetUtcNow();
            Audit(db, time, caller, key, $"API key {key.KeyId} ({key.Name}, {AccessPolicies.RoleName(key.Role)}) revoked");
        }
        await db.SaveChangesAsync(ct);
        return TypedResults.Ok(ToResponse(key));
    }

    /// <summary>Key management is a change like any other: an event in the key's tenant, naming the admin key that asked.</summary>
    private static void Audit(ControlPlaneDbContext db, TimeProvider time, Caller caller, ApiKeyEntity key, string message) =>
        db.Events.Add(new EventEntity
        {
            Time = time.GetUtcNow(), SourceType = SourceType.ApiKey, SourceId = TenantNames.Internal(key.Tenant, key.KeyId), Message = message, Tenant = key.Tenant, Principal = caller.KeyId,
        });

    private static ApiKeyResponse ToResponse(ApiKeyEntity k) => new(k.KeyId, k.Name, k.Role, k.Tenant, k.CreatedAt, k.RevokedAt);
}
