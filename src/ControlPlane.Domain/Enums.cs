namespace ControlPlane.Domain;

public enum ClusterMode { Disabled, Enabled }

public enum AzMode { SingleAz, CrossAz }

public enum NodeRole { Primary, Replica }

/// <summary>IncompatibleNetwork: the control plane cannot reach nodes it needs (a shard has no primary it can reach); the group is not available until it can.</summary>
public enum GroupStatus { Creating, Available, Modifying, Snapshotting, Deleting, CreateFailed, IncompatibleNetwork }

public enum ShardStatus { Creating, Available, Modifying, Deleting }

public enum NodeStatus { Creating, Available, Failed, Replacing, Deleting }

/// <summary>IncompatibleNetwork: the control plane cannot reach any of the cluster's nodes; the cluster is not available until it can.</summary>
public enum CacheClusterStatus { Creating, Available, Modifying, Deleting, CreateFailed, IncompatibleNetwork }

public enum SnapshotStatus { Creating, Available, Restoring, Copying, Deleting, Failed }

public enum SnapshotSource { Manual, Automated }

public enum SourceType { ReplicationGroup, CacheCluster, Snapshot, ApiKey, ParameterGroup, User, UserGroup }

public enum AuthTokenUpdateStrategy { Rotate, Set, Delete }
