using System.Collections.Concurrent;
using System.Net;
using ControlPlane.Api.Options;
using ControlPlane.Api.Runtime;
using Microsoft.Extensions.Options;

namespace ControlPlane.Api.Reconciliation;

/// <summary>
/// The endpoints as kernel NAT rules (<see cref="NftRuleset"/>) in this control plane's table. What a
/// group forwards to is derived from the database (its leased endpoint ports, its available primary
/// and replicas); the kernel is brought to that, per group, in one transaction, and only when it
/// differs from what was last applied. After a change the tracked connections to nodes that left
/// the endpoint are forgotten, so their clients are reset and reconnect to the right node; the
/// connections to nodes that stay are not touched.
/// </summary>
public sealed partial class KernelEndpoints(Netfilter netfilter, IOptions<ControlPlaneOptions> options, ILogger<KernelEndpoints> logger)
{
    /// <summary>Each group's forwarding as last applied (canonical text); dropped when the kernel is found to differ.</summary>
    private readonly ConcurrentDictionary<string, string> _applied = new(StringComparer.Ordinal);

    /// <summary>Each group's forwarding as last applied by this process, for the fast path of a change of targets only.</summary>
    private readonly ConcurrentDictionary<string, GroupForwarding> _last = new(StringComparer.Ordinal);

    /// <summary>One writer at a time: a group's read-then-write of its map keys, and the rebuild, see no one else's half step.</summary>
    private readonly SemaphoreSlim _writer = new(1, 1);

    public string Table => NftRuleset.TableName(options.Value.Reconciler.Instance);

    public async Task ApplyAsync(GroupForwarding desired, CancellationToken ct)
    {
        var canonical = desired.Canonical();
        if (_applied.TryGetValue(desired.GroupId, out var applied) && applied == canonical)
            return;
        // A failover changes the targets only, on ports this process applied itself and the kernel still
        // held at the last sweep: the rules are replaced and the connections to the nodes that left are
        // reset directly, without reading the table and the tracked connections first (each a process
        // start, on the path of a failover).
        if (applied is not null && _last.TryGetValue(desired.GroupId, out var before) && before.Host.Equals(desired.Host)
            && before.Ports.Select(p => p.Port).Order().SequenceEqual(desired.Ports.Select(p => p.Port).Order()))
        {
            await _writer.WaitAsync(ct);
            try
            {
                await netfilter.ApplyAsync(NftRuleset.Apply(Table, desired, []), ct);
            }
            finally
            {
                _writer.Release();
            }
            await Task.WhenAll(desired.Ports.SelectMany(port => before.Ports.Where(p => p.Port == port.Port).SelectMany(p => p.Targets)
                .Where(target => !port.Targets.Contains(target))
                .Select(target => netfilter.ForgetFlowsAsync(new IPEndPoint(desired.Host, port.Port), target, ct))));
            Applied(desired, canonical);
            return;
        }
        await _writer.WaitAsync(ct);
        try
        {
            var listed = await netfilter.ListAsync(Table, ct);
            if (listed is null)
            {
                // The table is gone (removed by hand?): this group's rules come back at once, the others' on their next pass.
                _applied.Clear();
                await netfilter.ApplyAsync(NftRuleset.Rebuild(Table, [desired]), ct);
            }
            else
            {
                var keys = desired.Ports.Select(p => new IPEndPoint(desired.Host, p.Port)).ToHashSet();
                var stale = NftRuleset.Parse(listed).KeysOf(desired.GroupId).Where(k => !keys.Contains(k)).ToList();
                await netfilter.ApplyAsync(NftRuleset.Apply(Table, desired, stale), ct);
                foreach (var key in stale)
                    await netfilter.ForgetFlowsAsync(key, null, ct);
            }
        }
        finally
        {
            _writer.Release();
        }
        await ForgetLeftFlowsAsync(desired, ct);
        Applied(desired, canonical);
    }

    private void Applied(GroupForwarding forwarding, string canonical)
    {
        _applied[forwarding.GroupId] = canonical;
        _last[forwarding.GroupId] = forwarding;
        LogApplied(logger, forwarding.GroupId, canonical);
    }

    /// <summary>Removes a group's rules and forgets the connections to its endpoints (given: the rules may be gone already).</summary>
    public async Task RemoveAsync(string groupId, IReadOnlyCollection<IPEndPoint> endpoints, CancellationToken ct)
    {
        await _writer.WaitAsync(ct);
        try
        {
            _applied.TryRemove(groupId, out _);
            _last.TryRemove(groupId, out _);
            if (await netfilter.ListAsync(Table, ct) is { } listed)
            {
                var table = NftRuleset.Parse(listed);
                if (table.Groups.ContainsKey(groupId) || table.KeysOf(groupId).Count > 0)
                    await netfilter.ApplyAsync(NftRuleset.Remove(Table, groupId, table.KeysOf(groupId)), ct);
            }
        }
        finally
        {
            _writer.Release();
        }
        foreach (var endpoint in endpoints)
            await netfilter.ForgetFlowsAsync(endpoint, null, ct);
    }

    /// <summary>Replaces the table with exactly these groups (a start-up: the database is the truth, whatever the kernel held).</summary>
    public async Task RebuildAsync(IReadOnlyList<GroupForwarding> groups, CancellationToken ct)
    {
        await _writer.WaitAsync(ct);
        try
        {
            _applied.Clear();
            await netfilter.ApplyAsync(NftRuleset.Rebuild(Table, groups), ct);
        }
        finally
        {
            _writer.Release();
        }
        foreach (var group in groups)
        {
            await ForgetLeftFlowsAsync(group, ct);
            _applied[group.GroupId] = group.Canonical();
            _last[group.GroupId] = group;
        }
        LogRebuilt(logger, Table, groups.Count);
    }

    /// <summary>
    /// Each pass: removes the rules of groups the database does not know (a delete that did not finish),
    /// and drops what was last applied for groups whose rules differ from it, so that they are applied again.
    /// False when the table is missing (the caller rebuilds it).
    /// </summary>
    public async Task<bool> SweepAsync(IReadOnlySet<string> known, CancellationToken ct)
    {
        var listed = await netfilter.ListAsync(Table, ct);
        if (listed is null)
            return false;
        var table = NftRuleset.Parse(listed);
        foreach (var (groupId, observed) in table.Groups)
        {
            if (!known.Contains(groupId))
            {
                LogOrphan(logger, groupId);
                await RemoveAsync(groupId, table.KeysOf(groupId), ct);
            }
            else if (_applied.TryGetValue(groupId, out var applied) && applied != observed.Canonical())
                _applied.TryRemove(groupId, out _);
        }
        foreach (var groupId in _applied.Keys.Where(g => !table.Groups.ContainsKey(g)))
            _applied.TryRemove(groupId, out _);
        return true;
    }

    /// <summary>Connections tracked to a node that is no longer a target of their endpoint are forgotten (and so reset).</summary>
    private async Task ForgetLeftFlowsAsync(GroupForwarding group, CancellationToken ct)
    {
        foreach (var port in group.Ports)
        {
            var endpoint = new IPEndPoint(group.Host, port.Port);
            foreach (var target in (await netfilter.FlowTargetsAsync(endpoint, ct)).Where(t => !port.Targets.Contains(t)))
            {
                LogForgetting(logger, endpoint, target);
                await netfilter.ForgetFlowsAsync(endpoint, target, ct);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Endpoints of {GroupId} forward {Forwarding}")]
    private static partial void LogApplied(ILogger logger, string groupId, string forwarding);

    [LoggerMessage(Level = LogLevel.Information, Message = "Rebuilt nftables table {Table} with the endpoints of {Count} group(s)")]
    private static partial void LogRebuilt(ILogger logger, string table, int count);

    [LoggerMessage(Level = LogLevel.Information, Message = "Removing the endpoint rules of {GroupId}: the database has no such group")]
    private static partial void LogOrphan(ILogger logger, string groupId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Resetting the connections of endpoint {Endpoint} to {Target}, which it no longer forwards to")]
    private static partial void LogForgetting(ILogger logger, IPEndPoint endpoint, IPEndPoint target);
}
