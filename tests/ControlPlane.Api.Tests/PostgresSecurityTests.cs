using ControlPlane.Api.Tests.Infrastructure;
using Npgsql;

namespace ControlPlane.Api.Tests;

/// <summary>The database is locked down as deploy/up.sh sets it up: passwords, and a service role that is no superuser.</summary>
public sealed class PostgresSecurityTests(PostgresFixture postgres) : ApiTest(postgres)
{
    [Theory]
    [InlineData("postgres")]
    [InlineData(PostgresServer.ServiceRole)]
    public async Task Psql_without_the_password_is_refused(string role) =>
        await PostgresServer.AssertPsqlWithoutPasswordRefusedAsync(Postgres.Server.BinDir, Postgres.Server.Port, role);

    [Fact]
    public async Task The_service_role_is_no_superuser_and_cannot_run_programs()
    {
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using (var super = new NpgsqlCommand("SELECT rolsuper OR rolcreaterole OR rolcreatedb FROM pg_roles WHERE rolname = current_user", connection))
            Assert.False((bool)(await super.ExecuteScalarAsync())!);
        await using var program = new NpgsqlCommand("COPY (SELECT 1) TO PROGRAM 'true'", connection);
        var refused = await Assert.ThrowsAsync<PostgresException>(() => program.ExecuteNonQueryAsync());
        Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, refused.SqlState);
    }
}
