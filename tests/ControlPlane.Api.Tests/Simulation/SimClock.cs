namespace ControlPlane.Api.Tests.Simulation;

/// <summary>
/// The simulation's clock, shared by the control plane and the in-memory world: it stands still
/// until the driver moves it, and fires due timers in due order (ties in creation order), each with
/// the clock at its due time, on the thread that moves it. Task.Delay and CancellationTokenSource
/// on this provider wait for it.
/// </summary>
public sealed class SimClock(DateTimeOffset start) : TimeProvider
{
    private readonly Lock _gate = new();
    private readonly List<SimTimer> _timers = [];
    private DateTimeOffset _now = start;
    private long _created;

    public override DateTimeOffset GetUtcNow()
    {
        lock (_gate)
            return _now;
    }

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp() => GetUtcNow().UtcTicks;

    public override TimeZoneInfo LocalTimeZone => TimeZoneInfo.Utc;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new SimTimer(this, callback, state, Interlocked.Increment(ref _created));
        timer.Change(dueTime, period);
        return timer;
    }

    /// <summary>When the next timer is due, or null when none is armed.</summary>
    public DateTimeOffset? NextDue
    {
        get
        {
            lock (_gate)
                return _timers.Count == 0 ? null : _timers.Min(t => t.Due);
        }
    }

    /// <summary>Moves the clock on by <paramref name="by"/>, firing every timer due on the way.</summary>
    public void Advance(TimeSpan by) => AdvanceTo(GetUtcNow() + by);

    public void AdvanceTo(DateTimeOffset until)
    {
        while (true)
        {
            SimTimer? next;
            lock (_gate)
            {
                next = _timers.Where(t => t.Due <= until).OrderBy(t => t.Due).ThenBy(t => t.Sequence).FirstOrDefault();
                if (next is null)
                {
                    if (until > _now)
                        _now = until;
                    return;
                }
                if (next.Due > _now)
                    _now = next.Due!.Value;
                _timers.Remove(next);
                if (next.Period is { } period)
                {
                    next.Due = _now + period;
                    _timers.Add(next);
                }
                else
                    next.Due = null;
            }
            next.Fire();
        }
    }

    private void Arm(SimTimer timer, TimeSpan dueTime, TimeSpan period)
    {
        lock (_gate)
        {
            _timers.Remove(timer);
            timer.Period = period > TimeSpan.Zero && period != Timeout.InfiniteTimeSpan ? period : null;
            timer.Due = dueTime == Timeout.InfiniteTimeSpan ? null : _now + (dueTime < TimeSpan.Zero ? TimeSpan.Zero : dueTime);
            if (timer.Due is not null)
                _timers.Add(timer);
        }
    }

    private sealed class SimTimer(SimClock clock, TimerCallback callback, object? state, long sequence) : ITimer
    {
        public long Sequence { get; } = sequence;
        public DateTimeOffset? Due { get; set; }
        public TimeSpan? Period { get; set; }

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            clock.Arm(this, dueTime, period);
            return true;
        }

        public void Fire() => callback(state);

        public void Dispose() => clock.Arm(this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
