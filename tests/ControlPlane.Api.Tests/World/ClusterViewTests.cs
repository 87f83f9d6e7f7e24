using ControlPlane.Api.Options;
using ControlPlane.Api.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace ControlPlane.Api.Tests.World;

/// <summary>
/// Watching a settled cluster does not read every node's CLUSTER NODES at every observation (that
/// costs the square of the cluster's size): a node whose CLUSTER INFO and role read the same keeps
/// its last view, until something changes or ClusterViewRefresh has passed.
/// </summary>
public sealed class ClusterViewTests(PostgresFixture postgres) : MemoryWorldTest(postgres)
{
    protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>(base.Settings)
    {
        // Every pass observes every group in full, as the periodic full pass does every 5 s by default.
        ["ControlPlane:Reconciler:QuietPassInterval"] = "00:00:00",
        ["ControlPlane:Reconciler:ClusterViewRefresh"] = "01:00:00",
    };

    [Fact]
    public async Task A_settled_cluster_is_observed_without_its_cluster_views_until_one_changes()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "views", clusterMode = "enabled", numShards = 3, replicasPerShard = 2 }));
        await WaitForStatusAsync("/v1/replication-groups/views", "available");
        await Task.Delay(TimeSpan.FromSeconds(1));

        // Settled: full observations go on (INFO of every node) without reading the views. On a busy
        // machine one missed probe unsettles the group for one observation (9 reads); every
        // observation reading them would be 8 passes x 9 nodes.
        var reads = World.ClusterNodesReads;
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.True(World.ClusterNodesReads - reads <= 9, $"{World.ClusterNodesReads - reads} views read in 2 s of a settled 9-node cluster");

        // A replica dies: what the others' CLUSTER INFO says changes, so their views are read again,
        // and the replacement joins the cluster as every node sees it.
        var group = await BodyAsync(await Client.GetAsync("/v1/replication-groups/views"));
        var replica = group["shards"]![1]!["nodes"]!.AsArray().First(n => (string?)n!["role"] == "replica")!;
        reads = World.ClusterNodesReads;
        Assert.True(World.Kill(ContainerName(replica)));
        var healed = await WaitForFullStrengthAsync("views", 9, gone: (string)replica["id"]!);
        Assert.True(World.ClusterNodesReads - reads >= 9, $"{World.ClusterNodesReads - reads} views read while the cluster healed");
        Assert.All(Nodes(healed), n => Assert.Equal(9, World.Redis(Address(n).Host, Address(n).Port)!.Known.Count));

        // With no reuse allowed, every observation reads every view again.
        Factory.Services.GetRequiredService<IOptions<ControlPlaneOptions>>().Value.Reconciler.ClusterViewRefresh = TimeSpan.Zero;
        reads = World.ClusterNodesReads;
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.True(World.ClusterNodesReads - reads >= 9 * 2, $"only {World.ClusterNodesReads - reads} views read in 2 s of full observations");
    }
}
