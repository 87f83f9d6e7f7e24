namespace ControlPlane.Api.Data;

/// <summary>
/// The API's writes as this process hears of them (their NOTIFY, which
/// <see cref="Reconciliation.ChangeListener"/> receives). The periodic workers wait on
/// <see cref="Next"/> as well as on their interval: a write that is work for one of them (a snapshot
/// to copy or delete, a change for the next maintenance window) is taken up within seconds, while an idle
/// control plane runs them seldom.
/// </summary>
public sealed class DatabaseChanges
{
    private TaskCompletionSource _next = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes at the first change after it was read.</summary>
    public Task Next => Volatile.Read(ref _next).Task;

    public void Changed() =>
        Interlocked.Exchange(ref _next, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
}
