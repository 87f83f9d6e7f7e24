using System.Net;
using System.Text.Json.Nodes;
using ControlPlane.Api.Maintenance;
using ControlPlane.Api.Tests.Infrastructure;
using ControlPlane.Domain;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace ControlPlane.Api.Tests;

/// <summary>Maintenance windows of Memcached clusters on the fake clock: node-replacing and node-restarting changes wait for the window unless applied immediately.</summary>
public sealed class MemcachedMaintenanceWindowTests(PostgresFixture postgres) : ApiTest(postgres)
{
    private const string Window = "sun:05:00-sun:06:00";

    [Fact]
    public async Task Bad_windows_are_refused_with_their_field_and_nothing_is_stored()
    {
        await AssertProblemAsync(await PostAsync("/v1/cache-clusters", new { id = "short", engine = "memcached", preferredMaintenanceWindow = "sun:05:00-sun:05:30" }),
            HttpStatusCode.BadRequest, "InvalidParameterValue", "preferredMaintenanceWindow");
        await AssertProblemAsync(await PostAsync("/v1/cache-clusters", new { id = "shape", engine = "memcached", preferredMaintenanceWindow = "sunday 5am" }),
            HttpStatusCode.BadRequest, "InvalidParameterValue", "preferredMaintenanceWindow");
        Assert.Equal(HttpStatusCode.NotFound, (await Client.GetAsync("/v1/cache-clusters/short")).StatusCode);

        var created = await AssertAcceptedAsync(await PostAsync("/v1/cache-clusters", new { id = "fine", engine = "memcached", preferredMaintenanceWindow = Window }));
        Assert.Equal(Window, (string?)created["preferredMaintenanceWindow"]);
        await MarkClusterAvailableAsync("fine");
        await AssertProblemAsync(await PatchAsync("/v1/cache-clusters/fine", new { preferredMaintenanceWindow = "mon:23:30-tue:00:10" }),
            HttpStatusCode.BadRequest, "InvalidParameterValue", "preferredMaintenanceWindow");
        Assert.Equal(Window, (string?)(await BodyAsync(await Client.GetAsync("/v1/cache-clusters/fine")))["preferredMaintenanceWindow"]);

        var moved = await AssertAcceptedAsync(await PatchAsync("/v1/cache-clusters/fine", new { preferredMaintenanceWindow = "mon:23:30-tue:00:30" }));
        Assert.Equal(("available", "mon:23:30-tue:00:30"), ((string?)moved["status"], (string?)moved["preferredMaintenanceWindow"]));
    }

    [Fact]
    public async Task A_node_type_change_waits_for_the_window_and_starts_when_it_opens()
    {
        var wednesday = NextWeekday(DayOfWeek.Wednesday, 12);
        Factory.Clock.SetUtcNow(wednesday);
        await AssertAcceptedAsync(await PostAsync("/v1/cache-clusters", new { id = "waits", engine = "memcached", numNodes = 2, preferredMaintenanceWindow = Window }));
        await MarkClusterAvailableAsync("waits");

        var body = await AssertAcceptedAsync(await PatchAsync("/v1/cache-clusters/waits", new { nodeType = "cache.medium" }));
        var opens = NextWeekday(DayOfWeek.Sunday, 5, after: wednesday);
        Assert.Equal(("available", "cache.small"), ((string?)body["status"], (string?)body["nodeType"]));
        Assert.Equal("cache.medium", (string?)body["pendingChanges"]!["nodeType"]);
        Assert.Equal(opens, (DateTimeOffset)body["pendingChanges"]!["applyAt"]!);
        Assert.Equal(["waits-0001", "waits-0002"], Ids(body));

        var scheduler = Factory.Services.GetRequiredService<MaintenanceScheduler>();
        Factory.Clock.SetUtcNow(opens.AddMinutes(-1));
        await scheduler.RunClustersAsync(CancellationToken.None);
        Assert.Equal("available", (string?)(await BodyAsync(await Client.GetAsync("/v1/cache-clusters/waits")))["status"]);

        Factory.Clock.SetUtcNow(opens.AddSeconds(30));
        await scheduler.RunClustersAsync(CancellationToken.None);
        var started = await BodyAsync(await Client.GetAsync("/v1/cache-clusters/waits"));
        Assert.Equal(("modifying", "cache.medium"), ((string?)started["status"], (string?)started["nodeType"]));
        Assert.Equal("cache.medium", (string?)started["pendingChanges"]!["nodeType"]);
        Assert.Null(started["pendingChanges"]!["applyAt"]);
        // Every node is replaced by one of the new type, as the PATCH would have done at once.
        Assert.Equal(["waits-0001", "waits-0002"], started["pendingChanges"]!["nodeIdsToRemove"]!.AsArray().Select(n => (string)n!));
        Assert.Equal(["waits-0001", "waits-0002", "waits-0003", "waits-0004"], Ids(started));
        var events = (await BodyAsync(await Client.GetAsync("/v1/events?sourceId=waits")))["items"]!.AsArray().Select(e => (string)e!["message"]!).ToList();
        Assert.Contains(events, e => e.StartsWith("Maintenance window of cache cluster waits open: applying nodeType", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_node_type_change_applied_immediately_starts_at_once_and_takes_a_waiting_one_out_of_the_schedule()
    {
        Factory.Clock.SetUtcNow(NextWeekday(DayOfWeek.Wednesday, 12));
        await AssertAcceptedAsync(await PostAsync("/v1/cache-clusters", new { id = "now", engine = "memcached", preferredMaintenanceWindow = Window }));
        await MarkClusterAvailableAsync("now");

        var waiting = await AssertAcceptedAsync(await PatchAsync("/v1/cache-clusters/now", new { nodeType = "cache.medium" }));
        Assert.NotNull(waiting["pendingChanges"]!["applyAt"]);
        var immediate = await AssertAcceptedAsync(await PatchAsync("/v1/cache-clusters/now", new { nodeType = "cache.medium", applyImmediately = true }));
        Assert.Equal(("modifying", "cache.medium"), ((string?)immediate["status"], (string?)immediate["nodeType"]));
        Assert.Null(immediate["pendingChanges"]!["applyAt"]);
        Assert.Equal(["now-0001", "now-0002"], Ids(immediate));
        await using var db = Factory.NewDbContext();
        Assert.Null((await db.CacheClusters.SingleAsync(c => c.Id == "now")).ScheduledChanges);
    }

    [Fact]
    public async Task Nodes_pending_reboot_are_rebooted_in_the_window_and_not_before()
    {
        var wednesday = NextWeekday(DayOfWeek.Wednesday, 12);
        Factory.Clock.SetUtcNow(wednesday);
        await AssertAcceptedAsync(await PostAsync("/v1/cache-clusters", new { id = "static", engine = "memcached", numNodes = 2, preferredMaintenanceWindow = Window }));
        await AssertAcceptedAsync(await PostAsync("/v1/cache-clusters", new { id = "nowindow", engine = "memcached" }));
        await MarkClusterAvailableAsync("static");
        await MarkClusterAvailableAsync("nowindow");
        // Playing the reconciler's part: a parameter changed, every node waits for a reboot.
        await using (var db = Factory.NewDbContext())
            await db.CacheNodes.ExecuteUpdateAsync(s => s.SetProperty(n => n.ParameterGroupStatus, "pending-reboot").SetProperty(n => n.Status, NodeStatus.Available));
        var scheduler = Factory.Services.GetRequiredService<MaintenanceScheduler>();
        await scheduler.RebootPendingClustersAsync(CancellationToken.None);
        Assert.Equal("available", (string?)(await BodyAsync(await Client.GetAsync("/v1/cache-clusters/static")))["status"]);

        Factory.Clock.SetUtcNow(NextWeekday(DayOfWeek.Sunday, 5, after: wednesday).AddMinutes(10));
        await scheduler.RebootPendingClustersAsync(CancellationToken.None);
        var rebooting = await BodyAsync(await Client.GetAsync("/v1/cache-clusters/static"));
        Assert.Equal("modifying", (string?)rebooting["status"]);
        Assert.Equal(["static-0001", "static-0002"], rebooting["pendingChanges"]!["rebootNodes"]!.AsArray().Select(n => (string)n!));
        // Without a window, a reboot waits to be asked for.
        Assert.Equal("available", (string?)(await BodyAsync(await Client.GetAsync("/v1/cache-clusters/nowindow")))["status"]);
    }

    private static List<string> Ids(JsonObject cluster) => cluster["nodes"]!.AsArray().Select(n => (string)n!["id"]!).ToList();

    private DateTimeOffset NextWeekday(DayOfWeek day, int hour, DateTimeOffset? after = null) =>
        MaintenanceWindowApiTests.NextWeekday(after ?? Factory.Clock.GetUtcNow(), day, hour);
}
