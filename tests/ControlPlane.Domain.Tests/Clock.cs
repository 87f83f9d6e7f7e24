namespace ControlPlane.Domain.Tests;

/// <summary>The time the planner tests plan at, unless a test is about time: a Monday noon, UTC.</summary>
internal static class Clock
{
    public static readonly DateTimeOffset Now = new(2026, 11, 30, 12, 0, 0, TimeSpan.Zero);
}
