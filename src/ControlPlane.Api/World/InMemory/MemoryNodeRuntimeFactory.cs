using ControlPlane.Api.Options;
using ControlPlane.Api.Runtime;

namespace ControlPlane.Api.World.InMemory;

/// <summary>Every configured zone's container engine is the memory world's runtime of that zone.</summary>
public sealed class MemoryNodeRuntimeFactory(MemoryWorld world) : INodeRuntimeFactory
{
    public INodeRuntime Create(AvailabilityZoneOptions zone) => world.Runtime(zone.Name);
}
