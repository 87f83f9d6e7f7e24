namespace ControlPlane.Api.Contracts;

/// <summary>Body of POST /v1/parameter-groups.</summary>
public sealed record CreateParameterGroupRequest(string Name, string Family, string? Description = null);

/// <summary>Body of PATCH /v1/parameter-groups/{name}: the values to set, by parameter name.</summary>
public sealed record ModifyParameterGroupRequest(IReadOnlyDictionary<string, string> Parameters);

/// <summary>Body of POST /v1/parameter-groups/{name}/reset: some parameters by name, or all of them.</summary>
public sealed record ResetParameterGroupRequest(IReadOnlyList<string>? ParameterNames = null, bool? All = null);

/// <summary>changeType: immediate or requires-reboot; source: engine-default or user.</summary>
public sealed record ParameterResponse(
    string Name, string Value, string AllowedValues, string DataType, bool IsModifiable, string ChangeType, string Source, string? Description);

public sealed record ParameterGroupResponse(
    string Name, string Family, string Description, bool IsDefault, IReadOnlyList<ParameterResponse> Parameters);
