namespace ControlPlane.Api.Engines;

/// <summary>
/// A move that could not go on: MIGRATE failed (the target is out of memory, unreachable, ...), a node
/// is not the one expected, or a slot belongs to neither side. The slots in hand stay IMPORTING/MIGRATING;
/// a later call finishes them.
/// </summary>
public sealed class SlotMoveException(string message, Exception? inner = null) : Exception(message, inner);
