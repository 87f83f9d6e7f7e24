using System.Collections.Concurrent;
using ControlPlane.Api.Monitoring;
using ControlPlane.Api.Options;
using ControlPlane.Api.Reconciliation;
using ControlPlane.Api.Reconciliation.Actions;
using ControlPlane.Api.Tests.Infrastructure;
using ControlPlane.Domain;
using ControlPlane.Domain.Planning;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ControlPlane.Api.Tests.Reconciliation;

/// <summary>
/// The executor's order, with handlers that only write down what they are asked to do (on the real
/// database, no engine): decisions stored first, every step at once, then every record in plan order.
/// </summary>
public sealed class ActionExecutorTests(PostgresFixture postgres) : ApiTest(postgres)
{
    [Fact]
    public void Every_action_has_exactly_one_handler()
    {
        var handled = new ServiceCollection().AddActionHandlers()
            .Where(d => d.ServiceType == typeof(IActionHandler))
            .Select(d => d.ImplementationType!.BaseType!.GetGenericArguments()[0].Name).Order().ToList();
        var actions = typeof(NodeAction).Assembly.GetTypes().Where(t => !t.IsAbstract && t.IsSubclassOf(typeof(NodeAction))).Select(t => t.Name).Order().ToList();
        Assert.Equal(actions, handled);
    }

    [Fact]
    public async Task Every_step_runs_at_once_then_every_record_in_plan_order()
    {
        var journal = new ConcurrentQueue<string>();
        var secondStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        // The first step can only end once the second has started: the steps run at the same time.
        var start = new Scripted<StartContainer>(journal, async a =>
        {
            if (a.NodeId == "n1")
                await secondStarted.Task.WaitAsync(TimeSpan.FromSeconds(10));
            else
                secondStarted.SetResult();
        });
        var executor = Executor(start, new Scripted<MarkNode>(journal), new Scripted<MarkGroup>(journal));
        await using var db = Factory.NewDbContext();

        var progress = await executor.RunAsync(
            [new StartContainer("n1"), new MarkNode("n2", NodeStatus.Available, NodeRole.Primary), new StartContainer("n2"), new MarkGroup(GroupStatus.Available, "done")],
            Pass(db, journal), creatingSince: null, settled: false);

        Assert.Equal(Progress.Acted, progress);
        Assert.Equal(["step MarkGroup", "step MarkNode n2", "step StartContainer n1", "step StartContainer n2"], journal.Take(4).Order());
        Assert.Equal(["record StartContainer n1", "record MarkNode n2", "record StartContainer n2", "record MarkGroup"], journal.Skip(4));
    }

    [Fact]
    public async Task A_decision_is_stored_with_the_plans_node_marks_before_any_step_and_the_roles_follow_twice()
    {
        var journal = new ConcurrentQueue<string>();
        var executor = Executor(new Scripted<Failover>(journal, decision: true), new Scripted<MarkNode>(journal), new Scripted<Promote>(journal, changesRoles: true));
        await using var db = Factory.NewDbContext();

        await executor.RunAsync(
            [new MarkNode("n1", NodeStatus.Failed, NodeRole.Primary), new Failover("0001", "n1", "n2"), new Promote("n2", "n1")],
            Pass(db, journal), creatingSince: null, settled: false);

        Assert.Equal(["record MarkNode n1", "record Failover n2", "roles"], journal.Take(3));
        Assert.Equal(["step Failover n2", "step MarkNode n1", "step Promote n2"], journal.Skip(3).Take(3).Order());
        Assert.Equal(["record Promote n2", "roles"], journal.Skip(6));
    }

    [Fact]
    public async Task A_failing_step_records_nothing_of_the_plan()
    {
        var journal = new ConcurrentQueue<string>();
        var executor = Executor(new Scripted<StartContainer>(journal, a => a.NodeId == "n1" ? throw new InvalidOperationException("no") : Task.CompletedTask),
            new Scripted<MarkNode>(journal));
        await using var db = Factory.NewDbContext();

        await Assert.ThrowsAsync<InvalidOperationException>(() => executor.RunAsync(
            [new StartContainer("n1"), new StartContainer("n2"), new MarkNode("n3", NodeStatus.Failed, NodeRole.Replica)], Pass(db, journal), null, false));

        Assert.DoesNotContain(journal, e => e.StartsWith("record", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_fail_runs_alone_and_ends_the_convergence()
    {
        var journal = new ConcurrentQueue<string>();
        var executor = Executor(new Scripted<Fail>(journal), new Scripted<StartContainer>(journal));
        await using var db = Factory.NewDbContext();

        var progress = await executor.RunAsync([new StartContainer("n1"), new Fail("broken")], Pass(db, journal), null, false);

        Assert.Equal(Progress.Done, progress);
        Assert.Equal(["step Fail", "record Fail"], journal);
    }

    /// <summary>Waiting, however long, is the planner's to judge (a create that waited too long gets a Fail from it): the executor only waits.</summary>
    [Fact]
    public async Task A_plan_of_waits_is_not_acted_on()
    {
        var journal = new ConcurrentQueue<string>();
        var executor = Executor(new Scripted<Fail>(journal), new Scripted<Wait>(journal));
        await using var db = Factory.NewDbContext();
        var now = Factory.Services.GetRequiredService<TimeProvider>().GetUtcNow();

        Assert.Equal(Progress.Waiting, await executor.RunAsync([new Wait("starting")], Pass(db, journal), now, settled: false));
        Assert.Equal(Progress.Settled, await executor.RunAsync([new Wait("starting")], Pass(db, journal), null, settled: true));
        Assert.Equal(Progress.Waiting, await executor.RunAsync([new Wait("starting")], Pass(db, journal), now - TimeSpan.FromHours(1), settled: false));
        Assert.Empty(journal);
    }

    /// <summary>A step that may find nothing it can do yet (a transit step beside the wait for it) must not be planned again at once, and for ever.</summary>
    [Fact]
    public async Task Steps_that_leave_the_group_waiting_are_taken_then_waited_after()
    {
        var journal = new ConcurrentQueue<string>();
        var executor = Executor(new Scripted<StepTransitEncryption>(journal, waits: true), new Scripted<Wait>(journal, waits: true), new Scripted<StartContainer>(journal));
        await using var db = Factory.NewDbContext();

        Assert.Equal(Progress.Waiting, await executor.RunAsync([new StepTransitEncryption(), new Wait("nodes lag")], Pass(db, journal), null, settled: false));
        Assert.Equal(Progress.Settled, await executor.RunAsync([new StepTransitEncryption(), new Wait("nodes lag")], Pass(db, journal), null, settled: true));
        Assert.Equal(2, journal.Count(e => e == "step StepTransitEncryption"));
        // Beside a step that does not wait, a wait changes nothing: observed and planned again at once.
        Assert.Equal(Progress.Acted, await executor.RunAsync([new StartContainer("n1"), new Wait("nodes lag")], Pass(db, journal), null, settled: false));
    }

    [Fact]
    public async Task An_action_only_a_replication_group_has_is_refused_for_a_cache_cluster_before_anything_runs()
    {
        var journal = new ConcurrentQueue<string>();
        var executor = Executor(new Scripted<StartContainer>(journal), new GroupOnly(journal));
        await using var db = Factory.NewDbContext();

        await Assert.ThrowsAsync<InvalidOperationException>(() => executor.RunAsync(
            [new StartContainer("n1"), new AddNode("0001", NodeRole.Replica, "az-a", "cache.micro")], Pass(db, journal), null, false));

        Assert.Empty(journal);
    }

    private ActionExecutor Executor(params IActionHandler[] handlers) => new(handlers,
        Factory.Services.GetRequiredService<ControlPlaneMetrics>(), Factory.Services.GetRequiredService<ILogger<ActionExecutor>>());

    private ActionPass Pass(Api.Data.ControlPlaneDbContext db, ConcurrentQueue<string> journal) =>
        new(db, new ContainerView(new Dictionary<string, IReadOnlyList<Api.Runtime.ContainerInfo>?>()), [], new Dictionary<string, ObservedNode>(),
            new NoRecord(), Factory.Services.GetRequiredService<TimeProvider>(), CancellationToken.None)
        {
            RolesChanged = () =>
            {
                journal.Enqueue("roles");
                return Task.CompletedTask;
            },
        };

    /// <summary>Writes down its steps and records; a step may be given work of its own.</summary>
    private sealed class Scripted<TAction>(ConcurrentQueue<string> journal, Func<TAction, Task>? step = null, bool decision = false, bool changesRoles = false, bool waits = false)
        : ActionHandler<TAction, ITargetRecord> where TAction : NodeAction
    {
        public override bool IsDecision => decision;

        public override bool Waits => waits;

        public override bool ChangesRoles => changesRoles;

        public override bool EndsConvergence => typeof(TAction) == typeof(Fail);

        protected override async Task StepAsync(TAction action, ITargetRecord record, ActionPass pass)
        {
            if (step is not null)
                await step(action);
            journal.Enqueue($"step {Name(action)}");
        }

        protected override Task RecordAsync(TAction action, ITargetRecord record, ActionPass pass)
        {
            journal.Enqueue($"record {Name(action)}");
            return Task.CompletedTask;
        }

        private static string Name(TAction action) =>
            $"{typeof(TAction).Name} {(action is Failover f ? f.ToNodeId : action.GetType().GetProperty("NodeId")?.GetValue(action))}".TrimEnd();
    }

    private sealed class GroupOnly(ConcurrentQueue<string> journal) : ActionHandler<AddNode, GroupRecord>
    {
        protected override Task RecordAsync(AddNode action, GroupRecord record, ActionPass pass)
        {
            journal.Enqueue("record AddNode");
            return Task.CompletedTask;
        }
    }

    /// <summary>A cache cluster's record that nothing here writes to.</summary>
    private sealed class NoRecord : ITargetRecord
    {
        public SourceType SourceType => SourceType.CacheCluster;
        public string Id => "executor-test";
        public bool Creating => false;
        public NodeStatus StatusOf(string nodeId) => NodeStatus.Available;
        public void MarkNode(string nodeId, NodeStatus status, NodeRole role) { }
        public void MarkParameterStatus(string nodeId, string? status) { }
        public void MarkGroup(GroupStatus status) { }
        public void AssignPort(string nodeId, string host, int port) { }
        public string Replace(string nodeId, string zone, bool asPrimary) => nodeId;
        public void Remove() { }
        public void CreateFailed() { }
        public bool IsReplacement(string nodeId) => false;
        public void RemoveNode(string nodeId) { }
        public void Rebooted(string nodeId) { }
        public void StartRefresh(IReadOnlyList<string> nodeIds) { }
        public void ScheduleRefresh(IReadOnlyList<string> nodeIds, DateTimeOffset at) { }
    }
}
