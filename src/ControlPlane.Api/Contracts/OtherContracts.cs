using ControlPlane.Domain;

namespace ControlPlane.Api.Contracts;

public sealed record CreateSnapshotRequest(string Name, string ReplicationGroupId);

public sealed record CopySnapshotRequest(string TargetName);

public sealed record SnapshotFileResponse(string ShardId, string Slots, long SizeBytes, string Sha256);

public sealed record SnapshotResponse(
    string Name,
    string ReplicationGroupId,
    SnapshotStatus Status,
    SnapshotSource Source,
    ClusterMode ClusterMode,
    string EngineVersion,
    string NodeType,
    int NumShards,
    IReadOnlyList<SnapshotFileResponse> Files,
    DateTimeOffset CreatedAt,
    string Etag);

/// <summary>An event; <c>principal</c> is the key id of the API call that asked for the change (null for the control plane's own).</summary>
public sealed record EventResponse(DateTimeOffset Time, SourceType SourceType, string SourceId, string Message, string? Principal);

public sealed record NodeTypeResponse(string Name, int MemoryMiB, double Cpus);

/// <summary>family: the parameter group family of the version (redis7, valkey8, memcached1.6).</summary>
public sealed record EngineVersionResponse(string Engine, string Version, string Family, string Image);

public enum ZoneStatus { Available, Unreachable }

public sealed record AvailabilityZoneResponse(string Name, ZoneStatus Status);
