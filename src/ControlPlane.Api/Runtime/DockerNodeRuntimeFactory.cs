using ControlPlane.Api.Options;

namespace ControlPlane.Api.Runtime;

/// <summary>A Docker engine per zone, over its unix socket or, with its certificates, over mutual TLS.</summary>
public sealed class DockerNodeRuntimeFactory(TimeProvider time, ILoggerFactory loggers) : INodeRuntimeFactory
{
    public INodeRuntime Create(AvailabilityZoneOptions zone) =>
        new DockerNodeRuntime(zone.Name, new Uri(zone.DockerEndpoint), time, loggers.CreateLogger<DockerNodeRuntime>(),
            zone.DockerCertPath is { Length: > 0 } certs ? DockerMutualTls.Load(certs) : null);
}
