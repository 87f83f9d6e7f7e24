using System.Collections.Concurrent;

namespace ControlPlane.Api.Reconciliation;

/// <summary>
/// The containers the engines reported dead ("die" events), by container id. A die event is certain,
/// and it usually arrives before a listing shows the container exited: a pass whose listing still
/// shows it running takes it for exited at once instead of waiting for the next listing. Entries
/// are forgotten after a while; by then every listing shows the container as it is.
/// </summary>
public sealed class ContainerDeaths(TimeProvider time)
{
    private static readonly TimeSpan Memory = TimeSpan.FromMinutes(5);

    private readonly ConcurrentDictionary<string, DateTimeOffset> _died = new();

    public void Died(string containerId)
    {
        var now = time.GetUtcNow();
        _died[containerId] = now;
        foreach (var (id, at) in _died)
            if (now - at > Memory)
                _died.TryRemove(id, out _);
    }

    /// <summary>The container started again (a reboot in place keeps its id): its death is over.</summary>
    public void Started(string containerId) => _died.TryRemove(containerId, out _);

    public bool HasDied(string containerId) => _died.ContainsKey(containerId);
}
