using System.Diagnostics;

namespace ControlPlane.Api.Tests.Simulation;

/// <summary>
/// Runs the control plane's code on one thread, the caller's, in the order it was queued: every
/// await in the reconciler comes back here (it captures this scheduler), so concurrent steps (the
/// probes of a group's nodes) interleave the same way every run. When nothing is left to run and
/// the work is not done, it is waiting for Postgres (a command in flight: wait for its answer) or
/// for the clock (then the clock jumps to the next timer). That is what makes a run a function of
/// its seed; see <see cref="PostgresInFlight"/> for the one gap. Without Postgres (<paramref name="postgres"/>
/// null: SQLite runs every command on this thread) there is no gap: nothing to run means the clock moves.
/// </summary>
public sealed class SimScheduler(SimClock clock, PostgresInFlight? postgres) : TaskScheduler
{
    /// <summary>How long nothing may arrive from Postgres before a command is taken for lost.</summary>
    private static readonly TimeSpan PostgresPatience = TimeSpan.FromSeconds(30);

    /// <summary>How long to wait for stragglers (the tail of an answer Npgsql does not trace) before moving the clock.</summary>
    private static readonly TimeSpan Settle = TimeSpan.FromMilliseconds(5);

    private readonly Queue<Task> _queue = new();
    private readonly SemaphoreSlim _arrived = new(0);
    private Thread? _thread;

    /// <summary>How many times the clock jumped because the work only waited for it.</summary>
    public long ClockJumps { get; private set; }

    /// <summary>Runs <paramref name="work"/> here until it ends, or throws after <paramref name="limit"/> of simulated time.</summary>
    public void Run(Func<Task> work, TimeSpan limit)
    {
        var previous = SynchronizationContext.Current;
        SynchronizationContext.SetSynchronizationContext(null);
        _thread = Thread.CurrentThread;
        try
        {
            var deadline = clock.GetUtcNow() + limit;
            var root = Task.Factory.StartNew(work, CancellationToken.None, TaskCreationOptions.DenyChildAttach, this).Unwrap();
            while (!root.IsCompleted)
            {
                if (TryTake(out var task))
                {
                    TryExecuteTask(task);
                    continue;
                }
                if (postgres?.Busy == true)
                {
                    if (!_arrived.Wait(PostgresPatience))
                        throw new TimeoutException($"Postgres did not answer for {PostgresPatience.TotalSeconds:0} s.");
                    _arrived.Release();
                    continue;
                }
                if (postgres is not null && _arrived.Wait(Settle))
                {
                    _arrived.Release();
                    continue;
                }
                if (root.IsCompleted)
                    break;
                if (clock.NextDue is { } due)
                {
                    if (due > deadline)
                        throw new TimeoutException($"Still running after {limit} of simulated time; next timer at {due:O}.");
                    ClockJumps++;
                    clock.AdvanceTo(due);
                    continue;
                }
                // Neither the clock nor Postgres: something outside (a real timer, a thread-pool hop).
                if (!_arrived.Wait(PostgresPatience))
                    throw new TimeoutException("Nothing to run, no timer armed, no Postgres command in flight: the work waits for something the simulation does not drive.");
                _arrived.Release();
            }
            root.GetAwaiter().GetResult();
        }
        finally
        {
            _thread = null;
            SynchronizationContext.SetSynchronizationContext(previous);
        }
    }

    private bool TryTake(out Task task)
    {
        lock (_queue)
        {
            if (_queue.TryDequeue(out task!))
            {
                _arrived.Wait(0);
                return true;
            }
            return false;
        }
    }

    protected override void QueueTask(Task task)
    {
        lock (_queue)
        {
            _queue.Enqueue(task);
            _arrived.Release();
        }
    }

    protected override bool TryExecuteTaskInline(Task task, bool taskWasPreviouslyQueued) =>
        Thread.CurrentThread == _thread && !taskWasPreviouslyQueued && TryExecuteTask(task);

    protected override IEnumerable<Task> GetScheduledTasks()
    {
        lock (_queue)
            return _queue.ToList();
    }
}

/// <summary>
/// Whether a Postgres command of the simulation's database is in flight, from Npgsql's own tracing
/// (ActivitySource "Npgsql": every command, every physical connect). Not traced: COMMIT/ROLLBACK of
/// a transaction opened by hand (PortAllocator) and the hop from Npgsql's thread back to the
/// scheduler; the scheduler waits <c>Settle</c> for those before it moves the clock, so a Postgres
/// slower than that there can move the clock early: the one way a run can differ from its replay.
/// </summary>
public sealed class PostgresInFlight : IDisposable
{
    private readonly ActivityListener _listener;
    private int _inFlight;

    /// <summary>Counts every Npgsql command of the process: the API tests run one at a time (one collection).</summary>
    public PostgresInFlight()
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "Npgsql",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStarted = a => Interlocked.Increment(ref _inFlight),
            ActivityStopped = a => Interlocked.Decrement(ref _inFlight),
        };
        ActivitySource.AddActivityListener(_listener);
    }

    public bool Busy => Volatile.Read(ref _inFlight) > 0;

    public void Dispose() => _listener.Dispose();
}
