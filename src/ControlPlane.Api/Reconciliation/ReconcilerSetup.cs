using ControlPlane.Api.Reconciliation.Actions;

namespace ControlPlane.Api.Reconciliation;

public static class ReconcilerSetup
{
    /// <summary>The reconciler: node specs and ports, the observer, the endpoints it keeps, the appliers, the converger, and its wake-ups.</summary>
    public static IServiceCollection AddReconciler(this IServiceCollection services)
    {
        services.AddSingleton<NodeSpecs>();
        services.AddSingleton<PortAllocator>();
        services.AddSingleton<Observer>();
        services.AddSingleton<KernelEndpoints>();
        services.AddSingleton<ProxyEndpoints>();
        services.AddSingleton<GroupEndpoints>();
        services.AddSingleton<WarmPool>();
        services.AddSingleton<GroupMemory>();
        services.AddSingleton<ParameterState>();
        services.AddSingleton<ClientAccessApplier>();
        services.AddSingleton<TransitEncryption>();
        services.AddSingleton<DiscoveryEndpoints>();
        services.AddSingleton<NodeReboots>();
        services.AddActionHandlers();
        services.AddSingleton<Converger>();
        services.AddSingleton<ReconcileSignal>();
        services.AddSingleton<ContainerDeaths>();
        services.AddSingleton<Reconciler>();
        services.AddHostedService(sp => sp.GetRequiredService<Reconciler>());
        services.AddHostedService<ChangeListener>();
        services.AddHostedService<ContainerEventWatcher>();
        return services;
    }
}
