using ControlPlane.Api.Engines;
using ControlPlane.Domain.Parameters;
using ControlPlane.Domain.Planning;

namespace ControlPlane.Api.Reconciliation.Actions;

/// <summary>
/// One CONFIG SET of the node's parameter group's immediate values, recorded in <see cref="ParameterState"/>:
/// set, or refused. A node that refuses is logged, not thrown for: the group goes on, and the planner asks
/// again a while later, saying applying meanwhile.
/// </summary>
public sealed partial class SetParametersHandler(IRedisAdmin redis, ParameterState parameters, TimeProvider time, ILogger<SetParametersHandler> logger)
    : ActionHandler<SetParameters, GroupRecord>
{
    // The node holds the values or refused them; either way the plan made after it says what its status is,
    // and that plan may well be empty. Followed by a wait, a node that refuses is not asked again at once.
    public override bool Waits => true;

    protected override async Task StepAsync(SetParameters action, GroupRecord record, ActionPass pass)
    {
        var values = pass.ImmediateValues[action.NodeId];
        var node = pass.Place(action.NodeId);
        try
        {
            await redis.ConfigSetAsync(node.Host!, node.Port!.Value, ParameterCatalog.OnlineSettings(values.Family, values.Values, values.MemoryBytes), pass.Ct);
            parameters.Applied(action.NodeId, values);
            LogApplied(logger, action.NodeId, values.Fingerprint);
        }
        catch (Exception e) when (e is EngineException or TimeoutException or InvalidOperationException)
        {
            parameters.Refused(action.NodeId, values, time.GetUtcNow());
            LogApplyFailed(logger, action.NodeId, e.Message);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Parameters {Fingerprint} applied to node {NodeId}")]
    private static partial void LogApplied(ILogger logger, string nodeId, string fingerprint);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Applying parameters to node {NodeId} failed: {Reason}")]
    private static partial void LogApplyFailed(ILogger logger, string nodeId, string reason);
}
