namespace ControlPlane.Api.Snapshots;

public static class SnapshotSetup
{
    /// <summary>The snapshot store (a folder), the taker the reconciler calls, and the housekeeping worker (copies, deletions, expiry, daily snapshots; off with the reconciler).</summary>
    public static IServiceCollection AddSnapshots(this IServiceCollection services)
    {
        services.AddSingleton<ISnapshotStore, FolderSnapshotStore>();
        services.AddSingleton<SnapshotTaker>();
        services.AddSingleton<SnapshotHousekeeping>();
        services.AddHostedService<SnapshotHousekeepingWorker>();
        return services;
    }
}
