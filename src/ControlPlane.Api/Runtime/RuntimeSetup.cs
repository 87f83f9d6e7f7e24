using ControlPlane.Api.Options;
using Microsoft.Extensions.Options;

namespace ControlPlane.Api.Runtime;

public static class RuntimeSetup
{
    /// <summary>The availability zones, a container engine each (Docker), their health, and the host's netfilter endpoints.</summary>
    public static IServiceCollection AddNodeRuntime(this IServiceCollection services)
    {
        // tcp:// engines only with mutual TLS (dockerd --tlsverify): refused at start-up with what to set.
        services.AddSingleton<IValidateOptions<ControlPlaneOptions>, DockerEndpointRules>();
        services.AddSingleton<INodeRuntimeFactory, DockerNodeRuntimeFactory>();
        services.AddSingleton<ZoneRegistry>();
        services.AddSingleton<ZoneHealth>();
        services.AddSingleton<Netfilter>();
        return services;
    }
}
