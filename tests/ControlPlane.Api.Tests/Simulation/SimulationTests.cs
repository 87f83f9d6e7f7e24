using System.Diagnostics;
using System.Globalization;
using ControlPlane.Api.Tests.Infrastructure;
using Xunit.Abstractions;

namespace ControlPlane.Api.Tests.Simulation;

/// <summary>
/// Deterministic simulation of the real reconciler on the in-memory world (<see cref="Simulation"/>),
/// with its database in memory (<see cref="SimSqlite"/>: hundreds of seeds in a run, as many as CONTROLPLANE_SIM_SEEDS asks) and on real Postgres
/// (<see cref="SimPostgres"/>: fewer, slower, the real database's locks and errors).
/// CONTROLPLANE_SIM_SEEDS and CONTROLPLANE_SIM_POSTGRES_SEEDS set how many seeds each tries (from
/// CONTROLPLANE_SIM_FIRST, default 1); CONTROLPLANE_SIM_SEED replays one seed on both and prints its trace.
/// A failing seed is named in the failure with its trace, and replays to the same run.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class SimulationTests(PostgresFixture postgres, ITestOutputHelper output) : IAsyncLifetime
{
    private const int DefaultSeeds = 300;
    private const int DefaultPostgresSeeds = 10;

    private string _connectionString = "";

    public async Task InitializeAsync() => _connectionString = await postgres.NewDatabaseAsync();

    public Task DisposeAsync()
    {
        using var connection = new Npgsql.NpgsqlConnection(_connectionString);
        Npgsql.NpgsqlConnection.ClearPool(connection);
        return Task.CompletedTask;
    }

    /// <summary>How many port windows the seeds share, and so how many may run side by side.</summary>
    private const int PortWindows = 2;

    /// <summary>
    /// Node ports of the memory world are numbers only, but the port allocator checks each on the
    /// machine: each seed gets a window of 200 in the test window's last thousand, chosen by the seed
    /// alone, so that seeds side by side never probe each other's ports and a replay uses the same ones.
    /// </summary>
    private static int PortStart(int seed) => TestPorts.Window.End - 999 + 200 * (seed % PortWindows);

    /// <summary>Seeds in memory run side by side, one per core (CONTROLPLANE_SIM_WORKERS), each on its own thread, database and world.</summary>
    private static int Workers => Math.Clamp(
        int.Parse(Environment.GetEnvironmentVariable("CONTROLPLANE_SIM_WORKERS") ?? $"{Environment.ProcessorCount}", CultureInfo.InvariantCulture), 1, PortWindows);

    /// <summary>
    /// Seeds that once broke an invariant in the real reconciler, run every time beside the regular ones.
    /// 23: a hung primary whose replicas had not synced yet was replaced, and its shard served empty.
    /// 60, 76: a shard whose every copy sat in zones down past the grace was replaced empty; the zones came back.
    /// 185: a replacement replica was marked available before it synced, then promoted empty.
    /// 325: a failed replica that answered again was fenced, and the primary died right after.
    /// 1387, 2142: a replacement replica that had synced but was not marked so yet did not count as a copy.
    /// 706: a failed create released its nodes' port leases, then its record failed to save; the create went
    /// on, on ports nobody held, and a replacement node was given one of them: two nodes of a group on one port.
    /// 2083, 2141: a hung node fenced while another served the data, which the faults then killed: the
    /// invariant blamed the fence, judged at the end of the pass; it now judges a removal when it is made.
    /// </summary>
    private static readonly int[] FoundSeeds = [23, 60, 76, 185, 325, 706, 1387, 2083, 2141, 2142];

    [Fact]
    public async Task Seeds_that_found_a_bug_keep_the_invariants()
    {
        await OnBothDatabasesAsync(async database =>
        {
            foreach (var seed in FoundSeeds)
            {
                // As they ran when they found their bug (a full pass every turn), and, in memory, as seeds run now.
                foreach (var fullPasses in database is SimSqlite ? new[] { true, false } : [true])
                {
                    var outcome = await Simulation.RunAsync(seed, database, PortStart(seed), fullPasses);
                    Assert.True(outcome.Passed, $"seed {seed} on {database.GetType().Name}{(fullPasses ? ", full passes" : "")}: {outcome.Violation}\n{string.Join('\n', outcome.Trace.TakeLast(60))}");
                }
            }
        });
    }

    [Fact]
    public async Task Seeds_in_memory_keep_the_invariants_and_converge_once_the_faults_stop()
    {
        await RunSeedsAsync(() => new SimSqlite(), Workers, Seeds("CONTROLPLANE_SIM_SEEDS", DefaultSeeds));
    }

    [Fact]
    public async Task Seeds_on_Postgres_keep_the_invariants_and_converge_once_the_faults_stop()
    {
        using var inFlight = new PostgresInFlight();
        // One database, and the scheduler counts every Npgsql command of the process: one seed at a time.
        await RunSeedsAsync(() => new SimPostgres(_connectionString, inFlight), 1, Seeds("CONTROLPLANE_SIM_POSTGRES_SEEDS", DefaultPostgresSeeds));
    }

    [Fact]
    public async Task A_seed_run_twice_is_the_same_run()
    {
        await OnBothDatabasesAsync(async database =>
        {
            foreach (var seed in new[] { 3, 7 })
            {
                var once = await Simulation.RunAsync(seed, database, PortStart(seed));
                var again = await Simulation.RunAsync(seed, database, PortStart(seed));
                var diverged = once.Trace.Zip(again.Trace).Select((pair, i) => (pair, i)).FirstOrDefault(x => x.pair.First != x.pair.Second);
                Assert.True(once.Digest == again.Digest,
                    $"seed {seed} on {database.GetType().Name} ran differently the second time, from line {diverged.i}:\n{diverged.pair.First}\n{diverged.pair.Second}");
                Assert.True(once.Steps >= 40 && once.WorldCalls > 100, $"seed {seed} ran only {once.Steps} steps, {once.WorldCalls} calls");
            }
        });
    }

    /// <summary>Runs <paramref name="test"/> on an in-memory database, then on Postgres, one after the other.</summary>
    private async Task OnBothDatabasesAsync(Func<SimDatabase, Task> test)
    {
        using var inFlight = new PostgresInFlight();
        SimDatabase[] databases = [new SimSqlite(), new SimPostgres(_connectionString, inFlight)];
        foreach (var database in databases)
            using (database)
                await test(database);
    }

    /// <summary>The seeds to run: CONTROLPLANE_SIM_SEED alone, or <paramref name="countVariable"/> of them from CONTROLPLANE_SIM_FIRST.</summary>
    private static (int First, int Count) Seeds(string countVariable, int defaultCount) =>
        Environment.GetEnvironmentVariable("CONTROLPLANE_SIM_SEED") is { Length: > 0 } one
            ? (int.Parse(one, CultureInfo.InvariantCulture), 1)
            : (int.Parse(Environment.GetEnvironmentVariable("CONTROLPLANE_SIM_FIRST") ?? "1", CultureInfo.InvariantCulture),
               int.Parse(Environment.GetEnvironmentVariable(countVariable) ?? $"{defaultCount}", CultureInfo.InvariantCulture));

    /// <summary>Runs the seeds on <paramref name="workers"/> side by side (seed modulo workers picks the worker), each on a database of its own.</summary>
    private async Task RunSeedsAsync(Func<SimDatabase> newDatabase, int workers, (int First, int Count) seeds)
    {
        var (first, count) = seeds;
        var clock = Stopwatch.StartNew();
        var outcomes = new System.Collections.Concurrent.ConcurrentBag<SimOutcome>();
        var kind = "";
        await Task.WhenAll(Enumerable.Range(0, workers).Select(worker => Task.Run(async () =>
        {
            using var database = newDatabase();
            kind = database.GetType().Name;
            for (var seed = first; seed < first + count; seed++)
                if (seed % workers == worker)
                    outcomes.Add(await Simulation.RunAsync(seed, database, PortStart(seed)));
        })));
        var seconds = clock.Elapsed.TotalSeconds;
        var failed = new List<SimOutcome>();
        foreach (var outcome in outcomes.OrderBy(o => o.Seed))
        {
            if (count == 1)
                output.WriteLine(string.Join('\n', outcome.Trace));
            // Many seeds print one line per hundred; a few print each.
            if (count <= 100 || outcome.Seed % 100 == 0 || !outcome.Passed)
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"seed {outcome.Seed}: {outcome.Steps} steps, {outcome.WorldCalls} calls, {outcome.Commands} database commands, {outcome.ClockJumps} clock jumps, {outcome.Restarts} restarts; {outcome.Time.Total.TotalSeconds:0.000} s ({outcome.Time.Starting.TotalSeconds:0.000} starting, {outcome.Time.Passes.TotalSeconds:0.000} in passes) {outcome.Digest}"));
            if (!outcome.Passed)
            {
                failed.Add(outcome);
                output.WriteLine($"seed {outcome.Seed} FAILED: {outcome.Violation}");
            }
        }
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{kind}: {count} seeds ({first}..{first + count - 1}) in {seconds:0.0} s on {workers} worker(s): {count / seconds:0.00} seeds/s; {outcomes.Sum(o => o.Steps)} reconciler passes, {outcomes.Sum(o => o.WorldCalls)} calls into the world, {outcomes.Sum(o => o.Commands)} database commands, {outcomes.Sum(o => o.Restarts)} control-plane restarts; {failed.Count} failed"));
        if (failed.Count > 0)
        {
            var worst = failed[0];
            Assert.Fail($"{failed.Count} of {count} seeds on {kind} broke an invariant: {string.Join(", ", failed.Select(f => f.Seed))}.\n" +
                $"Replay one with CONTROLPLANE_SIM_SEED={worst.Seed}. Seed {worst.Seed}: {worst.Violation}\n{string.Join('\n', worst.Trace.TakeLast(60))}");
        }
    }
}
