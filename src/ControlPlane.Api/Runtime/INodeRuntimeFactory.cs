using ControlPlane.Api.Options;

namespace ControlPlane.Api.Runtime;

/// <summary>Builds the container engine of one configured availability zone; the registry asks it once per zone.</summary>
public interface INodeRuntimeFactory
{
    INodeRuntime Create(AvailabilityZoneOptions zone);
}
