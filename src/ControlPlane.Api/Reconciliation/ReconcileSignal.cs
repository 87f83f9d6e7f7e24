using System.Collections.Concurrent;

namespace ControlPlane.Api.Reconciliation;

/// <summary>
/// Wakes the reconciler early. Two kinds, because they ask for different passes:
/// <list type="bullet">
/// <item><see cref="Wake"/>: something outside changed (an API write through NOTIFY, a container
/// event); the next pass looks at every group.</item>
/// <item><see cref="WakeFor"/>: the reconciler itself wants one group converged again (a write came
/// while it converged, or its convergence ended after the pass's listing); the next pass converges
/// that group and leaves the quiet ones to their heartbeat. Were this a wake of the first kind, every
/// convergence still running at that pass would be marked for another, whose end wakes the next: at
/// a hundred groups the reconciler never stopped passing.</item>
/// </list>
/// </summary>
public sealed class ReconcileSignal
{
    private readonly SemaphoreSlim _signal = new(0, 1);
    private readonly ConcurrentDictionary<string, bool> _again = new();
    private int _external;

    public void Wake()
    {
        Volatile.Write(ref _external, 1);
        Release();
    }

    /// <summary>Asks for one more convergence of the group with this key.</summary>
    public void WakeFor(string key)
    {
        _again[key] = true;
        Release();
    }

    private void Release()
    {
        try
        {
            _signal.Release();
        }
        catch (SemaphoreFullException)
        {
            // Already awake: one pending wake-up is as good as many.
        }
    }

    /// <summary>Returns when woken or when the interval has passed; <see cref="Take"/> then says by what.</summary>
    public Task WaitAsync(TimeSpan interval, CancellationToken ct) => _signal.WaitAsync(interval, ct);

    /// <summary>What woke the reconciler since the last call: an outside change, and the groups to converge again.</summary>
    public (bool External, IReadOnlySet<string> Again) Take()
    {
        var external = Interlocked.Exchange(ref _external, 0) == 1;
        var again = new HashSet<string>(StringComparer.Ordinal);
        foreach (var key in _again.Keys)
            if (_again.TryRemove(key, out _))
                again.Add(key);
        return (external, again);
    }
}
