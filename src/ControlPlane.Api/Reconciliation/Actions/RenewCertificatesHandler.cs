using ControlPlane.Domain.Planning;

namespace ControlPlane.Api.Reconciliation.Actions;

/// <summary>
/// A cache cluster's certificates that are due: each node gets a renewed pair, online, told in an
/// event. A node that does not take it is logged, not thrown for, and asked again after a wait.
/// </summary>
public sealed class RenewCertificatesHandler(TransitEncryption transit) : ActionHandler<RenewCertificates, ClusterRecord>
{
    public override bool Waits => true;

    protected override Task StepAsync(RenewCertificates action, ClusterRecord record, ActionPass pass) =>
        pass.WriteAsync(() => transit.StepAsync(pass.Db, record.Entity, pass.Ct));
}
