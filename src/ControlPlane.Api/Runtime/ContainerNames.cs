namespace ControlPlane.Api.Runtime;

/// <summary>A node's container is named after the control plane instance that owns it and the node: one rule for all who look for it.</summary>
public static class ContainerNames
{
    public static string Of(string instance, string nodeId) => $"{instance}-{nodeId}";
}
