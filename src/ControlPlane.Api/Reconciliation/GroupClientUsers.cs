using ControlPlane.Api.Security;

namespace ControlPlane.Api.Reconciliation;

/// <summary>
/// The client users a replication group's nodes must hold now, their fingerprint (what a node is
/// remembered to hold), and the revision of the group's user group they are ("id@revision"; null without one).
/// </summary>
public sealed record GroupClientUsers(IReadOnlyList<AclUser> Users, string Fingerprint, string? Mark);
