namespace ControlPlane.Api.Engines;

/// <summary>One entry of SLOWLOG GET: arguments cut as the engine cuts them (32 at most, 128 bytes each).</summary>
public sealed record SlowLogEntry(long Id, DateTimeOffset Time, long DurationMicros, IReadOnlyList<string> Command, string ClientAddress);
