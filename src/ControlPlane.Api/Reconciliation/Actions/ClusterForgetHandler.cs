using ControlPlane.Api.Engines;
using ControlPlane.Domain.Planning;

namespace ControlPlane.Api.Reconciliation.Actions;

/// <summary>CLUSTER FORGET a node that is gone, on one live node.</summary>
public sealed class ClusterForgetHandler(IRedisAdmin redis) : ActionHandler<ClusterForget, GroupRecord>
{
    protected override async Task StepAsync(ClusterForget action, GroupRecord record, ActionPass pass)
    {
        var forgetting = pass.Place(action.NodeId);
        try
        {
            await redis.ClusterForgetAsync(forgetting.Host!, forgetting.Port!.Value, action.ClusterId, pass.Ct);
        }
        catch (EngineRefusedException e) when (e.Message.Contains("Unknown node", StringComparison.OrdinalIgnoreCase))
        {
            // Forgotten already.
        }
    }
}
