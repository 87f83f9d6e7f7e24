namespace ControlPlane.Api.Engines;

/// <summary>What one <see cref="ISlotMover.MoveAsync"/> call finished: slots switched to the target and keys sent for them.</summary>
public sealed record SlotMoveResult(IReadOnlyList<int> Moved, long KeysMoved);
