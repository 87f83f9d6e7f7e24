namespace ControlPlane.Domain.Planning;

/// <summary>
/// A change of a Memcached cluster's node set, decided when it is asked for so the choice is fixed:
/// the nodes to add (new ids, placed in zones) and the ids of those to remove. LastOrdinal is the
/// highest ordinal handed out so far, kept so an id is never used twice.
/// </summary>
public sealed record NodeSetChange(IReadOnlyList<PlannedNode> Add, IReadOnlyList<string> Remove, int LastOrdinal);
