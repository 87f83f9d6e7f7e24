namespace ControlPlane.Api.Runtime;

public sealed record ContainerInfo(
    string Id,
    string Name,
    IReadOnlyDictionary<string, string> Labels,
    bool Running,
    string State,
    long? ExitCode);
