using ControlPlane.Api.Runtime;
using ControlPlane.Runtime.Tests.Infrastructure;

namespace ControlPlane.Runtime.Tests;

public sealed class DockerNodeRuntimeTests : NodeTest
{
    [Fact]
    public async Task Run_starts_a_labelled_container_that_the_list_finds()
    {
        var port = FreePorts.Next();

        var id = await Zone('a').RunAsync(RedisSpec("n1", port), Ct);

        var listed = Assert.Single(await Zone('a').ListAsync(Ct), c => c.Id == id);
        Assert.Equal($"{Group}-n1", listed.Name);
        Assert.True(listed.Running);
        Assert.Equal("running", listed.State);
        Assert.Null(listed.ExitCode);
        Assert.Equal("true", listed.Labels[Labels.Managed]);
        Assert.Equal(Group, listed.Labels[Labels.Group]);
        Assert.Equal($"{port}", listed.Labels[Labels.Port]);
        // Host networking on loopback: the node answers on the host's port.
        await Eventually.UntilAsync(() => Redis.ProbeAsync(Loopback, port, Ct), s => s is not null, Deadline, "answering");
    }

    [Fact]
    public async Task Run_twice_with_the_same_name_returns_the_same_container()
    {
        var spec = RedisSpec("n1", FreePorts.Next());

        var first = await Zone('a').RunAsync(spec, Ct);
        var second = await Zone('a').RunAsync(spec, Ct);

        Assert.Equal(first, second);
        Assert.Single(await Zone('a').ListAsync(Ct), c => c.Name == spec.Name);
    }

    [Fact]
    public async Task Run_replaces_a_stopped_container_instead_of_restarting_it()
    {
        var spec = RedisSpec("n1", FreePorts.Next());
        var first = await Zone('a').RunAsync(spec, Ct);
        await Zone('a').StopAsync(first, Ct);
        var stopped = Assert.Single(await Zone('a').ListAsync(Ct), c => c.Id == first);
        Assert.False(stopped.Running);
        Assert.Equal("exited", stopped.State);
        Assert.NotNull(stopped.ExitCode);

        var second = await Zone('a').RunAsync(spec, Ct);

        Assert.NotEqual(first, second);
        var listed = Assert.Single(await Zone('a').ListAsync(Ct), c => c.Name == spec.Name);
        Assert.Equal(second, listed.Id);
        Assert.True(listed.Running);
    }

    [Fact]
    public async Task Run_refuses_a_name_held_by_another_spec()
    {
        var spec = RedisSpec("n1", FreePorts.Next());
        await Zone('a').RunAsync(spec, Ct);
        var changed = spec with { Labels = new Dictionary<string, string>(spec.Labels) { [Labels.SpecHash] = "other" } };

        await Assert.ThrowsAsync<InvalidOperationException>(() => Zone('a').RunAsync(changed, Ct));
    }

    [Fact]
    public async Task Remove_of_a_missing_container_returns_false()
    {
        Assert.False(await Zone('a').RemoveAsync($"{Group}-missing", Ct));

        var id = await Zone('a').RunAsync(RedisSpec("n1", FreePorts.Next()), Ct);
        Assert.True(await Zone('a').RemoveAsync(id, Ct));
        Assert.False(await Zone('a').RemoveAsync(id, Ct));
        Assert.DoesNotContain(await Zone('a').ListAsync(Ct), c => c.Id == id);
    }

    [Fact]
    public async Task Stop_of_a_missing_container_does_nothing() =>
        await Zone('a').StopAsync($"{Group}-missing", Ct);

    [Fact]
    public async Task Stopping_a_container_yields_a_die_event()
    {
        var id = await Zone('a').RunAsync(RedisSpec("n1", FreePorts.Next()), Ct);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        deadline.CancelAfter(Deadline);
        await using var events = Zone('a').EventsAsync(deadline.Token).GetAsyncEnumerator(deadline.Token);
        // The first MoveNext opens the stream; it delivers from the moment of that call, so the
        // stop below cannot slip in before the subscription.
        var next = events.MoveNextAsync();

        await Zone('a').StopAsync(id, Ct);

        try
        {
            while (await next)
            {
                var e = events.Current;
                if (e.ContainerId == id && e.Action == "die")
                {
                    Assert.Equal("az-a", e.Zone);
                    Assert.Equal(Group, e.Labels[Labels.Group]);
                    return;
                }
                next = events.MoveNextAsync();
            }
            Assert.Fail("The event stream ended without a die event.");
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
            Assert.Fail($"No die event for {id} within {Deadline.TotalSeconds:0} s.");
        }
    }
}
