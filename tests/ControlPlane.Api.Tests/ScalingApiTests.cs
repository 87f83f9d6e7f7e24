using System.Net;
using ControlPlane.Api.Tests.Infrastructure;
using ControlPlane.Domain;

namespace ControlPlane.Api.Tests;

/// <summary>The limits a modification is judged by again, with nothing stored when it is refused.</summary>
public sealed class ScalingApiTests(PostgresFixture postgres) : ApiTest(postgres)
{
    [Fact]
    public async Task The_last_replica_cannot_go_while_automatic_failover_or_multi_az_needs_it()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "keep", replicasPerShard = 2 }));
        await MarkAvailableAsync("keep");
        var before = await Client.GetStringAsync("/v1/replication-groups/keep");

        await AssertProblemAsync(await PatchAsync("/v1/replication-groups/keep", new { replicasPerShard = 0 }), HttpStatusCode.BadRequest, ErrorCodes.InvalidParameterCombination);
        await AssertProblemAsync(await PatchAsync("/v1/replication-groups/keep", new { replicasPerShard = 0, automaticFailover = false }), HttpStatusCode.BadRequest, ErrorCodes.InvalidParameterCombination);
        await AssertProblemAsync(await PatchAsync("/v1/replication-groups/keep", new { replicasPerShard = 6 }), HttpStatusCode.BadRequest, ErrorCodes.InvalidParameterValue, "replicasPerShard");
        Assert.Equal(before, await Client.GetStringAsync("/v1/replication-groups/keep"));

        var body = await AssertAcceptedAsync(await PatchAsync("/v1/replication-groups/keep", new { replicasPerShard = 0, automaticFailover = false, multiAz = false }));
        Assert.Equal(("modifying", 0), ((string?)body["status"], (int)body["pendingChanges"]!["replicasPerShard"]!));
    }

    [Fact]
    public async Task A_scale_in_of_nodes_that_were_never_started_needs_no_measurement()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "shrink", clusterMode = "enabled", numShards = 3, replicasPerShard = 0 }));
        await MarkAvailableAsync("shrink");
        var body = await AssertAcceptedAsync(await PatchAsync("/v1/replication-groups/shrink", new { numShards = 2 }));
        Assert.Equal(2, (int)body["pendingChanges"]!["numShards"]!);
    }
}
