using System.Net;
using ControlPlane.Api.Maintenance;
using ControlPlane.Api.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace ControlPlane.Api.Tests;

/// <summary>Maintenance windows on the fake clock: node-replacing changes wait for the window unless applied immediately.</summary>
public sealed class MaintenanceWindowApiTests(PostgresFixture postgres) : ApiTest(postgres)
{
    private const string Window = "sun:05:00-sun:06:00";

    [Fact]
    public async Task Bad_windows_are_refused_with_their_field_and_nothing_is_created()
    {
        await AssertProblemAsync(await PostAsync("/v1/replication-groups", new { id = "short", preferredMaintenanceWindow = "sun:05:00-sun:05:30" }),
            HttpStatusCode.BadRequest, "InvalidParameterValue", "preferredMaintenanceWindow");
        await AssertProblemAsync(await PostAsync("/v1/replication-groups", new { id = "shape", preferredMaintenanceWindow = "sunday 5am" }),
            HttpStatusCode.BadRequest, "InvalidParameterValue", "preferredMaintenanceWindow");
        await AssertProblemAsync(await PostAsync("/v1/replication-groups",
                new { id = "overlap", preferredMaintenanceWindow = Window, snapshotRetentionLimit = 1, snapshotWindow = "05:30-06:30" }),
            HttpStatusCode.BadRequest, "InvalidParameterCombination", "preferredMaintenanceWindow");
        Assert.Equal(HttpStatusCode.NotFound, (await Client.GetAsync("/v1/replication-groups/overlap")).StatusCode);

        var created = await AssertAcceptedAsync(await PostAsync("/v1/replication-groups",
            new { id = "fine", preferredMaintenanceWindow = Window, snapshotRetentionLimit = 1, snapshotWindow = "03:00-04:00" }));
        Assert.Equal(Window, (string?)created["preferredMaintenanceWindow"]);
        await MarkAvailableAsync("fine");
        await AssertProblemAsync(await PatchAsync("/v1/replication-groups/fine", new { snapshotWindow = "04:30-05:30" }),
            HttpStatusCode.BadRequest, "InvalidParameterCombination", "preferredMaintenanceWindow");
        Assert.Equal("03:00-04:00", (string?)(await BodyAsync(await Client.GetAsync("/v1/replication-groups/fine")))["snapshotWindow"]);
    }

    [Fact]
    public async Task A_node_type_change_waits_for_the_window_and_starts_when_it_opens()
    {
        var wednesday = NextWeekday(DayOfWeek.Wednesday, 12);
        Factory.Clock.SetUtcNow(wednesday);
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "waits", preferredMaintenanceWindow = Window }));
        await MarkAvailableAsync("waits");

        var body = await AssertAcceptedAsync(await PatchAsync("/v1/replication-groups/waits", new { nodeType = "cache.medium", description = "now" }));
        var opens = NextWeekday(DayOfWeek.Sunday, 5, after: wednesday);
        Assert.Equal(("available", "cache.small", "now"), ((string?)body["status"], (string?)body["nodeType"], (string?)body["description"]));
        Assert.Equal("cache.medium", (string?)body["pendingChanges"]!["nodeType"]);
        Assert.Equal(opens, (DateTimeOffset)body["pendingChanges"]!["applyAt"]!);

        var scheduler = Factory.Services.GetRequiredService<MaintenanceScheduler>();
        Factory.Clock.SetUtcNow(opens.AddMinutes(-1));
        await scheduler.RunAsync(CancellationToken.None);
        Assert.Equal("available", (string?)(await BodyAsync(await Client.GetAsync("/v1/replication-groups/waits")))["status"]);

        Factory.Clock.SetUtcNow(opens.AddSeconds(30));
        await scheduler.RunAsync(CancellationToken.None);
        var started = await BodyAsync(await Client.GetAsync("/v1/replication-groups/waits"));
        Assert.Equal(("modifying", "cache.medium"), ((string?)started["status"], (string?)started["nodeType"]));
        Assert.Equal("cache.medium", (string?)started["pendingChanges"]!["nodeType"]);
        Assert.Null(started["pendingChanges"]!["applyAt"]);
        var events = (await BodyAsync(await Client.GetAsync("/v1/events?sourceId=waits")))["items"]!.AsArray().Select(e => (string)e!["message"]!).ToList();
        Assert.Contains(events, e => e.StartsWith("Maintenance window of replication group waits open: applying nodeType", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_upgrade_applied_immediately_starts_at_once_and_one_without_waits_with_its_parameter_group()
    {
        Factory.Clock.SetUtcNow(NextWeekday(DayOfWeek.Wednesday, 12));
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "now", preferredMaintenanceWindow = Window }));
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "later", preferredMaintenanceWindow = Window }));
        await MarkAvailableAsync("now");
        await MarkAvailableAsync("later");

        var immediate = await AssertAcceptedAsync(await PatchAsync("/v1/replication-groups/now", new { engine = "valkey", applyImmediately = true }));
        Assert.Equal(("modifying", "valkey", "8.0", "default.valkey8"),
            ((string?)immediate["status"], (string?)immediate["engine"], (string?)immediate["engineVersion"], (string?)immediate["parameterGroupName"]));
        Assert.Null(immediate["pendingChanges"]!["applyAt"]);

        var waiting = await AssertAcceptedAsync(await PatchAsync("/v1/replication-groups/later", new { engine = "valkey" }));
        Assert.Equal(("available", "redis", "7.0", "default.redis7"),
            ((string?)waiting["status"], (string?)waiting["engine"], (string?)waiting["engineVersion"], (string?)waiting["parameterGroupName"]));
        Assert.Equal(("valkey", "8.0"), ((string?)waiting["pendingChanges"]!["engine"], (string?)waiting["pendingChanges"]!["engineVersion"]));
        Assert.NotNull(waiting["pendingChanges"]!["applyAt"]);

        // Applying it now instead takes it out of the schedule.
        var now = await AssertAcceptedAsync(await PatchAsync("/v1/replication-groups/later", new { engine = "valkey", applyImmediately = true }));
        Assert.Equal(("modifying", "valkey"), ((string?)now["status"], (string?)now["engine"]));
        Assert.Null(now["pendingChanges"]!["applyAt"]);
    }

    [Fact]
    public async Task Nodes_pending_reboot_are_rebooted_in_the_window_and_not_before()
    {
        var wednesday = NextWeekday(DayOfWeek.Wednesday, 12);
        Factory.Clock.SetUtcNow(wednesday);
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "static", replicasPerShard = 1, preferredMaintenanceWindow = Window }));
        await MarkAvailableAsync("static");
        // Playing the reconciler's part: a start-up value changed, the nodes wait for a reboot.
        await using (var db = Factory.NewDbContext())
            await db.RedisNodes.Where(n => n.ReplicationGroupId == "static")
                .ExecuteUpdateAsync(s => s.SetProperty(n => n.ParameterGroupStatus, "pending-reboot"));
        var scheduler = Factory.Services.GetRequiredService<MaintenanceScheduler>();
        await scheduler.RebootPendingAsync(CancellationToken.None);
        Assert.Equal("available", (string?)(await BodyAsync(await Client.GetAsync("/v1/replication-groups/static")))["status"]);

        Factory.Clock.SetUtcNow(NextWeekday(DayOfWeek.Sunday, 5, after: wednesday).AddMinutes(10));
        await scheduler.RebootPendingAsync(CancellationToken.None);
        var rebooting = await BodyAsync(await Client.GetAsync("/v1/replication-groups/static"));
        Assert.Equal("modifying", (string?)rebooting["status"]);
        Assert.Equal(["static-0001-001", "static-0001-002"], rebooting["pendingChanges"]!["rebootNodes"]!.AsArray().Select(n => (string)n!));
    }

    /// <summary>The next given weekday at hour:00 UTC after the given time (the fake clock's now by default).</summary>
    private DateTimeOffset NextWeekday(DayOfWeek day, int hour, DateTimeOffset? after = null) => NextWeekday(after ?? Factory.Clock.GetUtcNow(), day, hour);

    internal static DateTimeOffset NextWeekday(DateTimeOffset from, DayOfWeek day, int hour)
    {
        var date = from.UtcDateTime.Date.AddDays(1);
        while (date.DayOfWeek != day)
            date = date.AddDays(1);
        return new DateTimeOffset(date.AddHours(hour), TimeSpan.Zero);
    }
}
