namespace ControlPlane.Api.Engines;

/// <summary>A slot that is moving: IMPORTING from <paramref name="PeerId"/>, or MIGRATING to it.</summary>
public sealed record SlotMigration(int Slot, bool Importing, string PeerId);
