using ControlPlane.Api.Engines;
using ControlPlane.Api.Monitoring;
using ControlPlane.Api.Options;
using ControlPlane.Api.Runtime;
using ControlPlane.Api.World.InMemory;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace ControlPlane.Api.World;

/// <summary>
/// What the reconciler runs its nodes on, from ControlPlane:World: "docker" (the default: a Docker
/// engine per zone, real Redis and Memcached) or "memory" (one <see cref="MemoryWorld"/> on the host's
/// clock: every zone's runtime in memory, the engine ports on its fake nodes; no Docker, no node
/// process). The memory world does not cover the endpoints of cluster-mode-disabled groups (kernel
/// rules or a proxy), transit encryption, client users, snapshots and reboots that keep data; the
/// node metrics collector is off there unless ControlPlane:Metrics:CollectorEnabled says otherwise
/// (it reads container statistics from Docker). See the README.
/// </summary>
public static class WorldSetup
{
    public const string Key = "ControlPlane:World";
    public const string Docker = "docker";
    public const string Memory = "memory";

    /// <summary>Registered after the Docker world's services: "memory" replaces them.</summary>
    public static IServiceCollection AddWorld(this IServiceCollection services, IConfiguration configuration)
    {
        var world = configuration[Key] ?? Docker;
        if (world.Equals(Docker, StringComparison.OrdinalIgnoreCase))
            return services;
        if (!world.Equals(Memory, StringComparison.OrdinalIgnoreCase))
            throw new InvalidOperationException($"{Key} is '{world}'; it is '{Docker}' (the default) or '{Memory}'.");

        services.AddSingleton(sp => new MemoryWorld(sp.GetRequiredService<TimeProvider>(), configuration.GetValue($"{Key}Seed", 1)));
        services.Replace(ServiceDescriptor.Singleton<INodeRuntimeFactory>(sp => new MemoryNodeRuntimeFactory(sp.GetRequiredService<MemoryWorld>())));
        services.Replace(ServiceDescriptor.Singleton<IRedisAdmin, MemoryRedisAdmin>());
        services.Replace(ServiceDescriptor.Singleton<ISlotMover, MemorySlotMover>());
        services.Replace(ServiceDescriptor.Singleton<IHeartbeats, MemoryHeartbeats>());
        services.Replace(ServiceDescriptor.Singleton<IMemcachedAdmin, MemoryMemcachedAdmin>());
        services.PostConfigure<MetricsOptions>(o => o.CollectorEnabled ??= false);
        // Never the host's kernel: the endpoints of cluster-mode-disabled groups would be its NAT rules
        // (and Auto tries nft). In proxy mode their proxy is a memory container that nothing answers in.
        services.PostConfigure<ControlPlaneOptions>(o => o.Endpoints.Mode = EndpointMode.Proxy);
        return services;
    }
}
