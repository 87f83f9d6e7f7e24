namespace ControlPlane.Api.Maintenance;

public static class MaintenanceSetup
{
    /// <summary>Changes held for a maintenance window are started when it opens.</summary>
    public static IServiceCollection AddMaintenance(this IServiceCollection services)
    {
        services.AddSingleton<MaintenanceScheduler>();
        services.AddHostedService<MaintenanceWorker>();
        return services;
    }
}
