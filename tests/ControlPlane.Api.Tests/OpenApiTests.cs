using ControlPlane.Api.Tests.Infrastructure;

namespace ControlPlane.Api.Tests;

public sealed class OpenApiTests(PostgresFixture postgres) : ApiTest(postgres)
{
    /// <summary>
    /// openapi.yaml at the root is the document the service serves. After a deliberate API change,
    /// regenerate it with UPDATE_OPENAPI=1 ./deploy/test.sh --filter OpenApi and review the diff.
    /// </summary>
    [Fact]
    public async Task Committed_openapi_yaml_matches_what_the_service_serves()
    {
        var served = await Client.GetStringAsync("/openapi/v1.yaml");
        var path = Path.Combine(RepositoryRoot(), "openapi.yaml");
        if (Environment.GetEnvironmentVariable("UPDATE_OPENAPI") == "1")
            await File.WriteAllTextAsync(path, served);
        Assert.True(File.Exists(path), "openapi.yaml is missing at the repository root");
        var committed = await File.ReadAllTextAsync(path);
        Assert.True(committed.ReplaceLineEndings() == served.ReplaceLineEndings(),
            "openapi.yaml differs from /openapi/v1.yaml; regenerate it with UPDATE_OPENAPI=1 and review the diff");

        var json = await Client.GetStringAsync("/openapi/v1.json");
        foreach (var path_ in new[] { "/v1/replication-groups", "/v1/replication-groups/{id}/test-failover", "/v1/cache-clusters/{id}",
                     "/v1/snapshots/{name}/copy", "/v1/events", "/v1/node-types", "/v1/engine-versions", "/v1/availability-zones", "/healthz", "/readyz" })
            Assert.Contains($"\"{path_}\"", json);
    }

    /// <summary>Users get the repository alone: every code the service can send is documented in it.</summary>
    [Fact]
    public async Task Every_error_code_is_documented_in_the_readme_and_the_openapi_document()
    {
        var readme = await File.ReadAllTextAsync(Path.Combine(RepositoryRoot(), "README.md"));
        var document = await Client.GetStringAsync("/openapi/v1.json");
        foreach (var code in typeof(ControlPlane.Domain.ErrorCodes).GetFields().Select(f => (string)f.GetValue(null)!))
        {
            Assert.Contains($"`{code}`", readme);
            Assert.Contains($"`{code}`", document);
        }
    }

    [Fact]
    public async Task Swagger_ui_loads()
    {
        var page = await Client.GetStringAsync("/swagger/index.html");
        Assert.Contains("swagger-ui", page);
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "ControlPlane.sln")))
                return dir.FullName;
        throw new InvalidOperationException("ControlPlane.sln not found above " + AppContext.BaseDirectory);
    }
}
