using ControlPlane.Domain.Planning;

namespace ControlPlane.Domain.Tests;

public sealed class MaintenanceWindowTests
{
    [Theory]
    [InlineData("sun:05:00-sun:06:00", null)]
    [InlineData("sat:23:30-sun:00:30", null)]
    [InlineData("mon:00:00-tue:00:00", null)]
    [InlineData("sun:05:00-sun:05:59", "between 60 minutes and 24 hours")]
    [InlineData("mon:00:00-tue:00:01", "between 60 minutes and 24 hours")]
    [InlineData("sun:25:00-sun:26:00", "sun..sat and times")]
    [InlineData("xyz:05:00-sun:06:00", "sun..sat and times")]
    [InlineData("Sun:05:00-Sun:06:00", "must look like")]
    [InlineData("05:00-06:00", "must look like")]
    public void Windows_are_at_least_an_hour_and_at_most_a_day(string text, string? problem)
    {
        var error = MaintenanceWindow.TryParse(text, out var window);
        if (problem is null)
            Assert.True(error is null && window is not null, error);
        else
            Assert.Contains(problem, error);
    }

    // 2026-11-29 is a Sunday.
    [Theory]
    [InlineData("sun:05:00-sun:06:00", "2026-11-29T05:00:00Z", true, "2026-11-29T05:00:00Z")]
    [InlineData("sun:05:00-sun:06:00", "2026-11-29T05:59:59Z", true, "2026-11-29T05:59:59Z")]
    [InlineData("sun:05:00-sun:06:00", "2026-11-29T06:00:00Z", false, "2026-12-06T05:00:00Z")]
    [InlineData("sun:05:00-sun:06:00", "2026-12-02T12:34:56Z", false, "2026-12-06T05:00:00Z")]
    [InlineData("sat:23:30-sun:00:30", "2026-11-29T00:10:00Z", true, "2026-11-29T00:10:00Z")]
    [InlineData("sat:23:30-sun:00:30", "2026-11-28T23:00:00Z", false, "2026-11-28T23:30:00Z")]
    public void A_window_knows_whether_it_is_open_and_when_it_opens_next(string text, string now, bool open, string next)
    {
        MaintenanceWindow.TryParse(text, out var window);
        var at = DateTimeOffset.Parse(now, System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(open, window!.Contains(at));
        Assert.Equal(DateTimeOffset.Parse(next, System.Globalization.CultureInfo.InvariantCulture), window.NextStart(at));
    }

    [Theory]
    [InlineData("sun:05:00-sun:06:00", "04:00-05:00", false)]
    [InlineData("sun:05:00-sun:06:00", "04:00-05:01", true)]
    [InlineData("sun:05:00-sun:06:00", "06:00-07:00", false)]
    [InlineData("sat:23:30-sun:00:30", "00:00-01:00", true)]
    [InlineData("mon:10:00-mon:11:00", "23:00-10:30", true)]
    public void A_window_may_not_overlap_the_daily_snapshot_window(string text, string snapshots, bool overlaps)
    {
        MaintenanceWindow.TryParse(text, out var window);
        Assert.Equal(overlaps, window!.Overlaps(snapshots));
    }

    [Fact]
    public void Node_replacing_changes_wait_for_the_window_unless_applied_immediately()
    {
        MaintenanceWindow.TryParse("sun:05:00-sun:06:00", out var window);
        var wednesday = new DateTimeOffset(2026, 12, 2, 12, 0, 0, TimeSpan.Zero);
        Assert.Equal(new DateTimeOffset(2026, 12, 6, 5, 0, 0, TimeSpan.Zero), MaintenancePlanner.WhenToApply(window, wednesday, applyImmediately: false));
        Assert.Equal(wednesday, MaintenancePlanner.WhenToApply(window, wednesday, applyImmediately: true));
        Assert.Equal(wednesday, MaintenancePlanner.WhenToApply(null, wednesday, applyImmediately: false));
    }
}

public sealed class MemcachedDiscoveryTests
{
    [Fact]
    public void The_answer_is_elasticaches_with_the_body_length_counted()
    {
        var answer = MemcachedDiscovery.ConfigAnswer(12, [("127.0.0.1", "127.0.0.1", 7001), ("127.0.0.1", "127.0.0.1", 7002)]);
        const string body = "12\n127.0.0.1|127.0.0.1|7001 127.0.0.1|127.0.0.1|7002\n";
        Assert.Equal($"CONFIG cluster 0 {body.Length}\r\n{body}\r\nEND\r\n", answer);
        Assert.Equal("CONFIG cluster 0 3\r\n1\n\n\r\nEND\r\n", MemcachedDiscovery.ConfigAnswer(1, []));
    }
}
