using System.Net;
using System.Text;
using ControlPlane.Api.Snapshots;
using ControlPlane.Api.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace ControlPlane.Api.Tests;

/// <summary>What the control plane's host gives away: nothing to a foreign Host header, nothing in its files.</summary>
public sealed class HostLockdownTests(PostgresFixture postgres) : ApiTest(postgres)
{
    [Theory]
    [InlineData("evil.example")]
    [InlineData("evil.example:8080")]
    [InlineData("127.0.0.1.nip.io")]
    public async Task A_request_for_another_host_name_is_refused(string host)
    {
        // DNS rebinding: a web page whose name resolves to 127.0.0.1 sends its own name as Host.
        var request = new HttpRequestMessage(HttpMethod.Get, "/v1/replication-groups");
        request.Headers.Host = host;
        await AssertProblemAsync(await Client.SendAsync(request), HttpStatusCode.BadRequest, "MalformedRequest");
        var health = new HttpRequestMessage(HttpMethod.Get, "/healthz");
        health.Headers.Host = host;
        Assert.Equal(HttpStatusCode.BadRequest, (await Client.SendAsync(health)).StatusCode);
    }

    [Theory]
    [InlineData("localhost")]
    [InlineData("127.0.0.1:8080")]
    [InlineData("[::1]:8080")]
    public async Task The_API_answers_to_its_own_host_names(string host)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "/v1/replication-groups");
        request.Headers.Host = host;
        Assert.Equal(HttpStatusCode.OK, (await Client.SendAsync(request)).StatusCode);
    }

    [Fact]
    public async Task Snapshot_files_and_folders_are_readable_by_their_owner_only()
    {
        if (OperatingSystem.IsWindows())
            return;
        var store = Factory.Services.GetRequiredService<ISnapshotStore>();
        await store.PutAsync(SnapshotKeys.File("private", "0001"), new MemoryStream(Encoding.UTF8.GetBytes("REDIS0011 keys")), CancellationToken.None);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(Factory.SnapshotDir, "private", "0001.rdb")));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.Combine(Factory.SnapshotDir, "private")));
    }
}
