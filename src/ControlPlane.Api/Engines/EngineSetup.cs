namespace ControlPlane.Api.Engines;

public static class EngineSetup
{
    /// <summary>The engine ports: Redis administration and slot moves, Memcached probes, the heartbeats.</summary>
    public static IServiceCollection AddEngines(this IServiceCollection services)
    {
        services.AddSingleton<IRedisAdmin, RedisAdmin>();
        services.AddSingleton<ISlotMover, SlotMover>();
        services.AddSingleton<IMemcachedAdmin, MemcachedAdmin>();
        services.AddSingleton<IHeartbeats, Heartbeats>();
        return services;
    }
}
