using ControlPlane.Api.Data;
using ControlPlane.Api.Options;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace ControlPlane.Api.Tests;

/// <summary>
/// The periodic workers (snapshot housekeeping, maintenance windows) run seldom when nothing is
/// written and at once, a gap later, after an API write: an idle control plane does not query for
/// them every few seconds, and a snapshot copy asked for does not wait half a minute.
/// </summary>
public sealed class PeriodicWorkerTests
{
    private static readonly TimeSpan Step = TimeSpan.FromMilliseconds(250);

    private sealed class CountingWorker(TimeProvider time, DatabaseChanges? changes)
        : PeriodicWorker(time, Microsoft.Extensions.Options.Options.Create(new ControlPlaneOptions()), NullLogger.Instance, changes)
    {
        public SemaphoreSlim Rounds { get; } = new(0);

        protected override TimeSpan Interval => TimeSpan.FromSeconds(30);

        protected override Task RoundAsync(CancellationToken ct)
        {
            Rounds.Release();
            return Task.CompletedTask;
        }
    }

    [Fact]
    public async Task A_write_brings_the_next_round_a_gap_later_and_without_one_it_waits_the_interval()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var changes = new DatabaseChanges();
        using var worker = new CountingWorker(clock, changes);
        await worker.StartAsync(CancellationToken.None);
        try
        {
            Assert.True(await worker.Rounds.WaitAsync(TimeSpan.FromSeconds(10)), "the first round runs at the start");

            // Long before the interval, not before the gap (a slow machine can only make it look later).
            changes.Changed();
            var woken = await AdvanceUntilRoundAsync(clock, worker, TimeSpan.FromSeconds(29));
            Assert.NotNull(woken);
            Assert.InRange(woken.Value, PeriodicWorker.WakeGap, TimeSpan.FromSeconds(10));

            await AssertIntervalAsync(clock, worker);
        }
        finally
        {
            await worker.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task Without_changes_to_hear_a_worker_runs_at_its_interval()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        using var worker = new CountingWorker(clock, changes: null);
        await worker.StartAsync(CancellationToken.None);
        try
        {
            Assert.True(await worker.Rounds.WaitAsync(TimeSpan.FromSeconds(10)));
            await AssertIntervalAsync(clock, worker);
        }
        finally
        {
            await worker.StopAsync(CancellationToken.None);
        }
    }

    /// <summary>
    /// Nothing written: no round well before the 30 s interval (2 s spare for the steps that passed
    /// before the last round was seen), one by just after it.
    /// </summary>
    private static async Task AssertIntervalAsync(FakeTimeProvider clock, CountingWorker worker)
    {
        Assert.Null(await AdvanceUntilRoundAsync(clock, worker, TimeSpan.FromSeconds(28)));
        clock.Advance(TimeSpan.FromSeconds(3));
        Assert.True(await worker.Rounds.WaitAsync(TimeSpan.FromSeconds(10)), "a round at the interval");
    }

    /// <summary>
    /// Moves the clock a step at a time (the worker sets its timers on another thread, so one long
    /// jump could pass before they exist) until a round runs; how far it moved, or null when none ran.
    /// </summary>
    private static async Task<TimeSpan?> AdvanceUntilRoundAsync(FakeTimeProvider clock, CountingWorker worker, TimeSpan limit)
    {
        for (var moved = TimeSpan.Zero; moved < limit;)
        {
            clock.Advance(Step);
            moved += Step;
            if (await worker.Rounds.WaitAsync(TimeSpan.FromMilliseconds(20)))
                return moved;
        }
        return null;
    }
}
