using System.Diagnostics;

namespace ControlPlane.Runtime.Tests.Infrastructure;

/// <summary>Polls a condition until it holds or the deadline passes; tests never sleep a fixed time.</summary>
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

    private static string Describe<T>(T value) => value switch
    {
        null => "null",
        System.Collections.IEnumerable items and not string => $"[{string.Join(", ", items.Cast<object?>())}]",
        _ => value.ToString() ?? "",
    };
}
