namespace ControlPlane.Domain;

public enum ClusterMode { Disabled, Enabled }

public enum AzMode { SingleAz, CrossAz }

public enum NodeRole { Primary, Replica }

public enum GroupStatus { Creating, Available, Modifying, Snapshotting, Deleting, CreateFailed }

public enum ShardStatus { Creating, Available, Modifying, Deleting }

public enum NodeStatus { Creating, Available, Failed, Replacing, Deleting }

public enum CacheClusterStatus { Creating, Available, Modifying, Deleting, CreateFailed }

public enum SnapshotStatus { Creating, Available, Restoring, Copying, Deleting, Failed }

public enum SnapshotSource { Manual, Automated }

public enum SourceType { ReplicationGroup, CacheCluster, Snapshot }

public enum AuthTokenUpdateStrategy { Rotate, Set, Delete }
