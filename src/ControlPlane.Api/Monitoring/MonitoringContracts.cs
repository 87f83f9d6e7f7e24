namespace ControlPlane.Api.Monitoring;

public sealed record MetricPointResponse(DateTimeOffset Time, double Value);

/// <summary>One metric of one node: the points of the window, one per period; a period without a read has none.</summary>
public sealed record MetricSeriesResponse(string NodeId, string? ShardId, string AvailabilityZone, string Name, IReadOnlyList<MetricPointResponse> Points);

public sealed record MetricSeriesPageResponse(string Id, int Period, DateTimeOffset Since, DateTimeOffset Until, IReadOnlyList<MetricSeriesResponse> Series);

public sealed record SlowLogEntryResponse(string NodeId, long Id, DateTimeOffset Time, long DurationMicros, IReadOnlyList<string> Command, string ClientAddress);

public sealed record SlowLogResponse(IReadOnlyList<SlowLogEntryResponse> Items);
