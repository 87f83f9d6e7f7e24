using System.Globalization;
using System.Text.RegularExpressions;

namespace ControlPlane.Domain.Planning;

/// <summary>
/// A weekly maintenance window as ElastiCache writes it, ddd:hh:mm-ddd:hh:mm in UTC (sun..sat), kept as
/// minutes since Sunday 00:00. It may wrap past Saturday midnight.
/// </summary>
public sealed partial record MaintenanceWindow(int Start, int End)
{
    public const int MinMinutes = 60;
    public const int MaxMinutes = 24 * 60;
    private const int Week = 7 * 24 * 60;
    private static readonly string[] Days = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

    [GeneratedRegex(@"^([a-z]{3}):([0-9]{2}):([0-9]{2})-([a-z]{3}):([0-9]{2}):([0-9]{2})\z")]
    private static partial Regex Shape();

    public int Minutes => ((End - Start) % Week + Week) % Week;

    /// <summary>Why the text is not a usable window, or null (window set) when it is.</summary>
    public static string? TryParse(string text, out MaintenanceWindow? window)
    {
        window = null;
        var match = Shape().Match(text);
        if (!match.Success)
            return "preferredMaintenanceWindow must look like ddd:hh:mm-ddd:hh:mm (UTC, ddd one of sun, mon, tue, wed, thu, fri, sat).";
        int? Minute(int group)
        {
            var day = Array.IndexOf(Days, match.Groups[group].Value);
            var hour = int.Parse(match.Groups[group + 1].Value, CultureInfo.InvariantCulture);
            var minute = int.Parse(match.Groups[group + 2].Value, CultureInfo.InvariantCulture);
            return day < 0 || hour > 23 || minute > 59 ? null : day * 1440 + hour * 60 + minute;
        }
        if (Minute(1) is not { } start || Minute(4) is not { } end)
            return "preferredMaintenanceWindow must name days sun..sat and times between 00:00 and 23:59.";
        var parsed = new MaintenanceWindow(start, end);
        if (parsed.Minutes is < MinMinutes or > MaxMinutes)
            return $"preferredMaintenanceWindow must be between {MinMinutes} minutes and 24 hours long.";
        window = parsed;
        return null;
    }

    public bool Contains(DateTimeOffset now) => ((MinuteOfWeek(now) - Start) % Week + Week) % Week < Minutes;

    /// <summary>When the window next opens: now when it is open.</summary>
    public DateTimeOffset NextStart(DateTimeOffset now)
    {
        if (Contains(now))
            return now;
        var utc = now.ToUniversalTime();
        var minuteStart = new DateTimeOffset(utc.Year, utc.Month, utc.Day, utc.Hour, utc.Minute, 0, TimeSpan.Zero);
        var ahead = ((Start - MinuteOfWeek(utc)) % Week + Week) % Week;
        return minuteStart.AddMinutes(ahead);
    }

    /// <summary>True when any minute of the window falls in the daily snapshot window (hh:mm-hh:mm, may wrap midnight).</summary>
    public bool Overlaps(string snapshotWindow)
    {
        var parts = snapshotWindow.Split('-', ':');
        if (parts.Length != 4)
            return false;
        var from = int.Parse(parts[0], CultureInfo.InvariantCulture) * 60 + int.Parse(parts[1], CultureInfo.InvariantCulture);
        var to = int.Parse(parts[2], CultureInfo.InvariantCulture) * 60 + int.Parse(parts[3], CultureInfo.InvariantCulture);
        var length = ((to - from) % 1440 + 1440) % 1440;
        for (var m = 0; m < Minutes; m++)
            if ((((Start + m) % 1440 - from) % 1440 + 1440) % 1440 < length)
                return true;
        return false;
    }

    private static int MinuteOfWeek(DateTimeOffset time)
    {
        var utc = time.ToUniversalTime();
        return (int)utc.DayOfWeek * 1440 + utc.Hour * 60 + utc.Minute;
    }
}

/// <summary>When a change that replaces or restarts nodes may start.</summary>
public static class MaintenancePlanner
{
    /// <summary>Now with applyImmediately, without a window, or inside it; else when the window next opens.</summary>
    public static DateTimeOffset WhenToApply(MaintenanceWindow? window, DateTimeOffset now, bool applyImmediately) =>
        applyImmediately || window is null ? now : window.NextStart(now);

    /// <summary>The fields of a modification that replace nodes, and so wait for the window.</summary>
    public static readonly IReadOnlySet<string> NodeReplacing = new HashSet<string> { "nodeType", "engine", "engineVersion" };
}
