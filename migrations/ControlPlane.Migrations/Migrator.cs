using ControlPlane.Api.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace ControlPlane.Migrations;

public static class Migrator
{
    public static ControlPlaneDbContext CreateContext(string connectionString) =>
        new(new DbContextOptionsBuilder<ControlPlaneDbContext>()
            .UseNpgsql(connectionString, o => o.MigrationsAssembly(ControlPlaneDbContext.MigrationsAssembly))
            .Options);

    /// <summary>Applies the pending migrations and returns their names.</summary>
    public static async Task<IReadOnlyList<string>> MigrateAsync(string connectionString, CancellationToken ct)
    {
        await using var db = CreateContext(connectionString);
        var pending = (await db.Database.GetPendingMigrationsAsync(ct)).ToList();
        await db.Database.MigrateAsync(ct);
        return pending;
    }
}

/// <summary>Lets `dotnet ef migrations add` build the model without starting the API.</summary>
public sealed class DesignTimeFactory : IDesignTimeDbContextFactory<ControlPlaneDbContext>
{
    public ControlPlaneDbContext CreateDbContext(string[] args) => Migrator.CreateContext(Database.DefaultConnectionString);
}
