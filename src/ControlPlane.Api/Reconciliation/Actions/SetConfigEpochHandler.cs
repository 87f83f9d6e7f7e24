using ControlPlane.Api.Engines;
using ControlPlane.Domain.Planning;

namespace ControlPlane.Api.Reconciliation.Actions;

/// <summary>CLUSTER SET-CONFIG-EPOCH on a fresh primary, before it meets anyone.</summary>
public sealed class SetConfigEpochHandler(IRedisAdmin redis) : ActionHandler<SetConfigEpoch, GroupRecord>
{
    protected override Task StepAsync(SetConfigEpoch action, GroupRecord record, ActionPass pass)
    {
        var fresh = pass.Place(action.NodeId);
        return redis.ClusterSetConfigEpochAsync(fresh.Host!, fresh.Port!.Value, action.Epoch, pass.Ct);
    }
}
