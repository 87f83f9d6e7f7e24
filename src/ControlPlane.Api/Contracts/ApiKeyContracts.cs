using ControlPlane.Api.Data;

namespace ControlPlane.Api.Contracts;

public sealed record CreateApiKeyRequest(string? Name = null, ApiRole? Role = null, string? Tenant = null);

/// <summary>A key as listed: never its secret.</summary>
public sealed record ApiKeyResponse(string KeyId, string Name, ApiRole Role, string Tenant, DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt);

/// <summary>The answer to a create: the only time the whole key is shown.</summary>
public sealed record CreatedApiKeyResponse(string KeyId, string Name, ApiRole Role, string Tenant, DateTimeOffset CreatedAt, string Key);
