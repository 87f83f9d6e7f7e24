namespace ControlPlane.Migrations;

/// <summary>
/// The migrator: `dotnet run --project migrations/ControlPlane.Migrations -- "&lt;connection string&gt;"`
/// (or ConnectionStrings__ControlPlane in the environment). Applies every pending migration.
/// </summary>
public static class MigratorEntry
{
    public static async Task<int> Main(string[] args)
    {
        var connectionString = args.FirstOrDefault()
            ?? Environment.GetEnvironmentVariable("ConnectionStrings__ControlPlane")
            ?? ControlPlane.Api.Data.Database.DefaultConnectionString;
        var applied = await Migrator.MigrateAsync(connectionString, CancellationToken.None);
        Console.WriteLine(applied.Count == 0 ? "Database is up to date." : $"Applied {applied.Count} migration(s): {string.Join(", ", applied)}");
        return 0;
    }
}
