using ControlPlane.Api.Runtime;
using System.Collections.Concurrent;
using ControlPlane.Api.Data;
using ControlPlane.Domain;
using ControlPlane.Domain.Planning;
using Microsoft.EntityFrameworkCore;

namespace ControlPlane.Api.Reconciliation.Actions;

/// <summary>
/// One plan being carried out for one group or cluster: what the handlers act on (the database, the
/// pass's container view, where each node lives, what was observed, the record to write) and what
/// the handlers of one plan tell each other.
/// </summary>
public sealed class ActionPass(
    ControlPlaneDbContext db, ContainerView view, IReadOnlyList<NodePlace> places, IReadOnlyDictionary<string, ObservedNode> observed,
    ITargetRecord record, TimeProvider time, CancellationToken ct)
{
    /// <summary>The steps of a plan run at the same time but share one DbContext: a step that writes while it works takes its turn.</summary>
    private readonly SemaphoreSlim _writing = new(1, 1);

    public ControlPlaneDbContext Db => db;
    public ContainerView View => view;
    public IReadOnlyList<NodePlace> Places => places;
    public IReadOnlyDictionary<string, ObservedNode> Observed => observed;
    public ITargetRecord Record => record;
    public CancellationToken Ct => ct;

    /// <summary>What goes with the group besides its nodes and ports (its endpoint, its discovery record), removed when it is deleted or its create fails.</summary>
    public Func<Task> TeardownExtras { get; init; } = () => Task.CompletedTask;

    /// <summary>The endpoints follow a change of primary (a replication group without cluster mode has one that forwards to it).</summary>
    public Func<Task> RolesChanged { get; init; } = () => Task.CompletedTask;

    /// <summary>Each shard's available primary when the plan was made (shard id to node id); a cache cluster has none.</summary>
    public IReadOnlyDictionary<string, string> Primaries { get; init; } = new Dictionary<string, string>();

    /// <summary>Per node of a replication group whose container runs: the immediate values of its parameter group it is to have.</summary>
    public IReadOnlyDictionary<string, ImmediateValues> ImmediateValues { get; init; } = new Dictionary<string, ImmediateValues>();
    /// <summary>The client users a replication group's nodes must hold (what <see cref="SetClientUsers"/> writes); null for a cache cluster.</summary>
    public GroupClientUsers? ClientUsers { get; init; }

    /// <summary>The API request's trace this work joins, if it was asked for.</summary>
    public string? TraceParent { get; init; }

    /// <summary>Replaced nodes whose container could not be removed: their ports stay leased.</summary>
    public ConcurrentBag<string> StillLeased { get; } = [];

    /// <summary>Set when slot moves failed too often: the reshard is given up, for this reason, after this plan's other moves end.</summary>
    public string? ReshardGivenUp { get; set; }

    public NodePlace Place(string nodeId) => places.First(p => p.NodeId == nodeId);

    /// <summary>An event of the group or cluster, stored with the next save.</summary>
    public void Event(string message) => db.Record(time, record.SourceType, record.Id, message);

    /// <summary>Runs a write of a step that works at the same time as others, alone on the pass's DbContext.</summary>
    public async Task WriteAsync(Func<Task> write)
    {
        await _writing.WaitAsync(ct);
        try
        {
            await write();
        }
        finally
        {
            _writing.Release();
        }
    }

    /// <summary>False when the API changed the group meanwhile (a delete, say): then nothing was stored, and the caller observes and plans again.</summary>
    public async Task<bool> SaveAsync()
    {
        try
        {
            await db.SaveChangesAsync(ct);
            return true;
        }
        catch (DbUpdateConcurrencyException)
        {
            return false;
        }
    }
}
