using System.Diagnostics;

namespace ControlPlane.Tests.Shared;

/// <summary>
/// Polls a condition until it holds or the deadline passes; tests never sleep a fixed time. The one
/// polling helper of every test project (linked into each).
/// </summary>
public static class Eventually
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(100);

    /// <summary>Returns the first value <paramref name="done"/> accepts; fails with the last one seen otherwise.</summary>
    public static async Task<T> UntilAsync<T>(Func<Task<T>> probe, Func<T, bool> done, TimeSpan timeout, string what)
    {
        var elapsed = Stopwatch.StartNew();
        while (true)
        {
            var value = await probe();
            if (done(value))
                return value;
            if (elapsed.Elapsed >= timeout)
                throw new TimeoutException($"Not {what} within {timeout.TotalSeconds:0} s; last seen: {Describe(value)}");
            await Task.Delay(Interval);
        }
    }

    /// <summary>Until the condition holds; fails with <paramref name="because"/> (asked only then) after the timeout.</summary>
    public static async Task UntilAsync(Func<Task<bool>> condition, TimeSpan timeout, Func<string> because, TimeSpan? interval = null)
    {
        var elapsed = Stopwatch.StartNew();
        while (!await condition())
        {
            if (elapsed.Elapsed > timeout)
                throw new TimeoutException(because());
            await Task.Delay(interval ?? Interval);
        }
    }

    private static string Describe<T>(T value) => value switch
    {
        null => "null",
        System.Collections.IEnumerable items and not string => $"[{string.Join(", ", items.Cast<object?>())}]",
        _ => value.ToString() ?? "",
    };
}
