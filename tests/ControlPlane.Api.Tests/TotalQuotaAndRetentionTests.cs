using System.Net;
using ControlPlane.Api.Data;
using ControlPlane.Api.Tests.Infrastructure;
using ControlPlane.Domain;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace ControlPlane.Api.Tests;

/// <summary>One client cannot fill the port range with groups that each stay under the per-group quota.</summary>
public sealed class TotalNodeQuotaTests(PostgresFixture postgres) : ApiTest(postgres)
{
    protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?> { ["ControlPlane:TotalNodeQuota"] = "100" };

    [Fact]
    public async Task Groups_and_clusters_together_stay_under_the_control_plane_quota()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "big", clusterMode = "enabled", numShards = 40, replicasPerShard = 1 }));
        await AssertProblemAsync(await PostAsync("/v1/replication-groups", new { id = "bigger", clusterMode = "enabled", numShards = 21, replicasPerShard = 0 }),
            HttpStatusCode.BadRequest, ErrorCodes.NodeQuotaForCustomerExceeded, "numShards");
        await AssertAcceptedAsync(await PostAsync("/v1/cache-clusters", new { id = "mc", engine = "memcached", numNodes = 15 }));
        await AssertProblemAsync(await PostAsync("/v1/cache-clusters", new { id = "mc2", engine = "memcached", numNodes = 6 }),
            HttpStatusCode.BadRequest, ErrorCodes.NodeQuotaForCustomerExceeded, "numNodes");

        await MarkAvailableAsync("big");
        await AssertProblemAsync(await PatchAsync("/v1/replication-groups/big", new { numShards = 43 }),
            HttpStatusCode.BadRequest, ErrorCodes.NodeQuotaForCustomerExceeded, "numShards");
        Assert.Equal(2, await CountAsync(db => db.ReplicationGroups.Where(g => g.ReplicasPerShard == 1 && g.NumShards == 40).Select(g => g.Id).Concat(db.CacheClusters.Select(c => c.Id))));
        // Fewer nodes are always allowed.
        await AssertAcceptedAsync(await PatchAsync("/v1/replication-groups/big", new { replicasPerShard = 0, multiAz = false }));
    }

    [Fact]
    public async Task Parallel_creates_do_not_squeeze_past_the_quota()
    {
        var answers = await Task.WhenAll(Enumerable.Range(0, 8).Select(i =>
            PostAsync("/v1/cache-clusters", new { id = $"p{i}", engine = "memcached", numNodes = 20 })));
        Assert.Equal(5, answers.Count(a => a.StatusCode == HttpStatusCode.Accepted));
        Assert.Equal(100, await CountAsync(db => db.CacheNodes));
    }
}

public sealed class RetentionTests(PostgresFixture postgres) : ApiTest(postgres)
{
    [Fact]
    public async Task Events_keys_and_test_failovers_are_pruned_after_their_windows()
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/cache-clusters") { Content = Json("{\"id\":\"old\",\"engine\":\"memcached\"}") };
        request.Headers.Add("Idempotency-Key", "old-key");
        await AssertAcceptedAsync(await Client.SendAsync(request));
        await using (var db = Factory.NewDbContext())
        {
            var now = Factory.Clock.GetUtcNow();
            db.TestFailovers.AddRange(
                new TestFailoverEntity { ReplicationGroupId = "g", ShardId = "0001", RequestedAt = now, CompletedAt = now },
                new TestFailoverEntity { ReplicationGroupId = "g", ShardId = "0002", RequestedAt = now });
            await db.SaveChangesAsync();
        }
        var retention = Factory.Services.GetRequiredService<Retention>();

        Factory.Clock.Advance(TimeSpan.FromHours(23));
        Assert.Equal((0, 0, 0), await retention.PruneAsync(CancellationToken.None));
        Factory.Clock.Advance(TimeSpan.FromHours(2));
        // The key and the finished failover are past 24 hours; the pending one is still the reconciler's work.
        Assert.Equal((0, 1, 1), await retention.PruneAsync(CancellationToken.None));
        Assert.Equal("0002", (await Factory.NewDbContext().TestFailovers.SingleAsync()).ShardId);
        Factory.Clock.Advance(TimeSpan.FromDays(14));
        Assert.Equal((1, 0, 0), await retention.PruneAsync(CancellationToken.None));
    }
}
