namespace ControlPlane.Api.Contracts;

/// <summary>Body of POST /v1/replication-groups/{id}/reboot and /v1/cache-clusters/{id}/reboot: the nodes to restart.</summary>
public sealed record RebootRequest(IReadOnlyList<string> NodeIds);
