namespace ControlPlane.Api.Reconciliation;

/// <summary>Wakes the reconciler early: an API write (through NOTIFY) or a container event.</summary>
public sealed class ReconcileSignal
{
    private readonly SemaphoreSlim _signal = new(0, 1);

    public void Wake()
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

    /// <summary>Returns when woken (true) or when the interval has passed (false).</summary>
    public Task<bool> WaitAsync(TimeSpan interval, CancellationToken ct) => _signal.WaitAsync(interval, ct);
}
