using System.Globalization;
using ControlPlane.Api.Tests.Infrastructure;

namespace ControlPlane.Api.Tests.World;

/// <summary>
/// A control plane whose groups are all available does no work until something changes: no full
/// pass after another, however many groups there are and however few converge at once.
/// </summary>
public sealed class QuietReconcilerTests(PostgresFixture postgres) : MemoryWorldTest(postgres)
{
    private const int Groups = 8;

    protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>(base.Settings)
    {
        // One convergence at a time: a pass's convergences then outlast the pass interval, as a
        // hundred groups' do on a real control plane. The periodic full observation is out of the way.
        ["ControlPlane:Reconciler:MaxConvergences"] = "1",
        ["ControlPlane:Reconciler:QuietPassInterval"] = "01:00:00",
    };

    [Fact]
    public async Task Once_every_group_is_available_the_reconciler_stops_converging_them()
    {
        for (var i = 0; i < Groups; i++)
            await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = $"quiet-{i}", clusterMode = "enabled", numShards = 2, replicasPerShard = 1 }));
        for (var i = 0; i < Groups; i++)
            await WaitForStatusAsync($"/v1/replication-groups/quiet-{i}", "available");

        // The creates' last convergences end; then nothing wakes the reconciler any more.
        await Task.Delay(TimeSpan.FromSeconds(2));
        var before = await ConvergencesAsync();
        await Task.Delay(TimeSpan.FromSeconds(3));
        var during = await ConvergencesAsync() - before;

        // Each convergence that found the group quiet leaves it to heartbeats; a wake-up loop (a pass
        // marking every running convergence for another, whose end wakes the next pass) would converge
        // every group several times a second.
        // A heartbeat missed on a busy machine costs its group one convergence; the loop cost 153.
        Assert.True(during <= 2 * Groups, $"{during} convergences in 3 s of {Groups} available groups and no change");
    }

    /// <summary>Convergences so far, of every engine and result, from /metrics.</summary>
    private async Task<long> ConvergencesAsync() =>
        (await Client.GetStringAsync("/metrics")).Split('\n')
            .Where(l => l.StartsWith("controlplane_reconcile_converge_duration_seconds_count", StringComparison.Ordinal))
            .Sum(l => (long)double.Parse(l[(l.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture));
}
