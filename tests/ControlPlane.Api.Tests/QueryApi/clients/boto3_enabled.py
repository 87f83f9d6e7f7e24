"""Cluster mode enabled and Memcached through boto3 with its waiters; REST and query API on the same resources."""
import datetime
import time

from common import *

ec = client()
fast = {"Delay": 2, "MaxAttempts": 120}


def group(group_id):
    return ec.describe_replication_groups(ReplicationGroupId=group_id)["ReplicationGroups"][0]


step("create with ClusterMode=enabled: two shards of a primary and a replica")
created = ec.create_replication_group(ReplicationGroupId="b3-c", ReplicationGroupDescription="boto3", ClusterMode="enabled",
                                      NumNodeGroups=2, ReplicasPerNodeGroup=1, AutomaticFailoverEnabled=True,
                                      Tags=[{"Key": "owner", "Value": "boto3"}])["ReplicationGroup"]
expect(created["ClusterEnabled"] is True and created["ClusterMode"] == "enabled", f"created {created}")
ec.get_waiter("replication_group_available").wait(ReplicationGroupId="b3-c", WaiterConfig=fast)
g = group("b3-c")
expect(len(g["NodeGroups"]) == 2 and all(len(n["NodeGroupMembers"]) == 2 for n in g["NodeGroups"]), f"shape {g}")
expect(g["ConfigurationEndpoint"]["Port"] > 0 and sorted(n["Slots"] for n in g["NodeGroups"]) == ["0-8191", "8192-16383"], f"{g}")
expect(ec.list_tags_for_resource(ResourceName=g["ARN"])["TagList"] == [{"Key": "owner", "Value": "boto3"}], "tags")

step("a *.cluster.on parameter group chooses cluster mode too")
ec.create_replication_group(ReplicationGroupId="b3-p", ReplicationGroupDescription="by parameter group",
                            CacheParameterGroupName="default.redis7.cluster.on", NumNodeGroups=1, ReplicasPerNodeGroup=0)
ec.get_waiter("replication_group_available").wait(ReplicationGroupId="b3-p", WaiterConfig=fast)
p = group("b3-p")
expect(p["ClusterEnabled"] is True and "ConfigurationEndpoint" in p, f"b3-p {p}")

step("shards 2 -> 3 -> 2 online")
ec.modify_replication_group_shard_configuration(ReplicationGroupId="b3-c", NodeGroupCount=3, ApplyImmediately=True)
time.sleep(1)
ec.get_waiter("replication_group_available").wait(ReplicationGroupId="b3-c", WaiterConfig=fast)
expect(len(group("b3-c")["NodeGroups"]) == 3, "three shards")
code, _, message = fault(ec.modify_replication_group_shard_configuration, ReplicationGroupId="b3-c", NodeGroupCount=2,
                         ApplyImmediately=True, NodeGroupsToRemove=["0001"])
expect(code == "InvalidParameterCombination" and "0003" in message, f"removing 0001: {code} {message}")
ec.modify_replication_group_shard_configuration(ReplicationGroupId="b3-c", NodeGroupCount=2, ApplyImmediately=True, NodeGroupsToRemove=["0003"])
time.sleep(1)
ec.get_waiter("replication_group_available").wait(ReplicationGroupId="b3-c", WaiterConfig=fast)
expect(sorted(n["NodeGroupId"] for n in group("b3-c")["NodeGroups"]) == ["0001", "0002"], "shards 0001 and 0002 stay")

step("test failover of shard 0002")
before = rest("GET", "/v1/replication-groups/b3-c")[1]
ec.test_failover(ReplicationGroupId="b3-c", NodeGroupId="0002")
time.sleep(1)
ec.get_waiter("replication_group_available").wait(ReplicationGroupId="b3-c", WaiterConfig=fast)
after = rest("GET", "/v1/replication-groups/b3-c")[1]
primary = lambda body: [n["id"] for s in body["shards"] if s["id"] == "0002" for n in s["nodes"] if n["role"] == "primary"]
expect(primary(before) != primary(after), f"primary of 0002 before {primary(before)}, after {primary(after)}")
code, status, _ = fault(ec.test_failover, ReplicationGroupId="b3-c", NodeGroupId="0009")
expect((code, status) == ("NodeGroupNotFoundFault", 404), f"unknown shard: {code} {status}")

step("a group made through REST is seen and changed through the query API")
code, body = rest("POST", "/v1/replication-groups", {"id": "rest-made", "replicasPerShard": 1})
expect(code == 202, f"REST create {code} {body}")
ec.get_waiter("replication_group_available").wait(ReplicationGroupId="rest-made", WaiterConfig=fast)
r = group("rest-made")
expect(r["ClusterEnabled"] is False and len(r["MemberClusters"]) == 2, f"rest-made {r}")
# With a retention limit and no window, the daily automatic snapshot starts within seconds, and a group
# that is snapshotting cannot be deleted: the window is put half a day away, so the delete below finds it available.
hour = (datetime.datetime.now(datetime.timezone.utc).hour + 12) % 24
window = f"{hour:02d}:00-{(hour + 1) % 24:02d}:00"
ec.modify_replication_group(ReplicationGroupId="rest-made", ReplicationGroupDescription="via boto3", SnapshotRetentionLimit=3,
                            SnapshotWindow=window, ApplyImmediately=True)
body = rest("GET", "/v1/replication-groups/rest-made")[1]
expect(body["description"] == "via boto3" and body["snapshotRetentionLimit"] == 3 and body["snapshotWindow"] == window, f"REST after modify {body}")
code, status, _ = fault(ec.create_replication_group, ReplicationGroupId="rest-made", ReplicationGroupDescription="again")
expect((code, status) == ("ReplicationGroupAlreadyExists", 400), f"twice: {code} {status}")
ec.delete_replication_group(ReplicationGroupId="rest-made")
code, status, _ = fault(ec.modify_replication_group, ReplicationGroupId="rest-made", ReplicationGroupDescription="late", ApplyImmediately=True)
expect(code == "InvalidReplicationGroupState" or code == "ReplicationGroupNotFoundFault", f"modify while deleting: {code}")

step("snapshot a cluster-mode group and restore it with three shards")
ec.create_snapshot(ReplicationGroupId="b3-c", SnapshotName="b3-snap")
deadline = time.monotonic() + 120
while ec.describe_snapshots(SnapshotName="b3-snap")["Snapshots"][0]["SnapshotStatus"] != "available":
    expect(time.monotonic() < deadline, "snapshot never available")
    time.sleep(1)
snap = ec.describe_snapshots(SnapshotName="b3-snap")["Snapshots"][0]
expect(snap["NumNodeGroups"] == 2 and len(snap["NodeSnapshots"]) == 2, f"snapshot {snap}")
copy = ec.copy_snapshot(SourceSnapshotName="b3-snap", TargetSnapshotName="b3-copy")["Snapshot"]
expect(copy["SnapshotName"] == "b3-copy", f"copy {copy}")
code, status, _ = fault(ec.create_snapshot, ReplicationGroupId="b3-c", SnapshotName="b3-snap")
expect((code, status) == ("SnapshotAlreadyExistsFault", 400), f"same name: {code} {status}")
ec.create_replication_group(ReplicationGroupId="b3-r", ReplicationGroupDescription="restored", ClusterMode="enabled",
                            NumNodeGroups=3, ReplicasPerNodeGroup=0, SnapshotName="b3-snap")
ec.get_waiter("replication_group_available").wait(ReplicationGroupId="b3-r", WaiterConfig=fast)
expect(len(group("b3-r")["NodeGroups"]) == 3, "restored into three shards")

step("Memcached through the cache cluster actions and waiters")
ec.create_cache_cluster(CacheClusterId="b3-m", Engine="memcached", NumCacheNodes=3, AZMode="cross-az")
ec.get_waiter("cache_cluster_available").wait(CacheClusterId="b3-m", ShowCacheNodeInfo=True, WaiterConfig=fast)
m = ec.describe_cache_clusters(CacheClusterId="b3-m", ShowCacheNodeInfo=True)["CacheClusters"][0]
expect(m["NumCacheNodes"] == 3 and [n["CacheNodeId"] for n in m["CacheNodes"]] == ["0001", "0002", "0003"], f"memcached {m}")
ec.modify_cache_cluster(CacheClusterId="b3-m", NumCacheNodes=2, CacheNodeIdsToRemove=["0002"], ApplyImmediately=True)
time.sleep(1)
ec.get_waiter("cache_cluster_available").wait(CacheClusterId="b3-m", WaiterConfig=fast)
m = ec.describe_cache_clusters(CacheClusterId="b3-m", ShowCacheNodeInfo=True)["CacheClusters"][0]
expect([n["CacheNodeId"] for n in m["CacheNodes"]] == ["0001", "0003"], f"node 0002 removed: {m}")
code, _, _ = fault(ec.create_snapshot, CacheClusterId="b3-m", SnapshotName="never")
expect(code == "SnapshotFeatureNotSupportedFault", f"memcached snapshot: {code}")
listed = {c["CacheClusterId"] for c in ec.describe_cache_clusters()["CacheClusters"]}
expect("b3-m" in listed and any(c.startswith("b3-c-0001-") for c in listed), f"listed {listed}")
alone = {c["CacheClusterId"] for c in ec.describe_cache_clusters(ShowCacheClustersNotInReplicationGroups=True)["CacheClusters"]}
expect(alone == {"b3-m"}, f"not in groups {alone}")
ec.delete_cache_cluster(CacheClusterId="b3-m")
ec.get_waiter("cache_cluster_deleted").wait(CacheClusterId="b3-m", WaiterConfig=fast)

step("delete everything and wait for it")
for gid in ["b3-c", "b3-p", "b3-r"]:
    ec.delete_replication_group(ReplicationGroupId=gid)
for gid in ["b3-c", "b3-p", "b3-r", "rest-made"]:
    ec.get_waiter("replication_group_deleted").wait(ReplicationGroupId=gid, WaiterConfig=fast)
for name in ["b3-snap", "b3-copy"]:
    ec.delete_snapshot(SnapshotName=name)
events = ec.describe_events(SourceType="replication-group", SourceIdentifier="b3-c", Duration=60)["Events"]
expect(any("b3-c" in e["Message"] for e in events), f"events {events}")
code, body = rest("GET", "/v1/events?sourceType=replication-group&sourceId=b3-c&limit=100")
expect(code == 200 and body["items"] and all(e["principal"] == KEY_ID for e in body["items"] if "requested" in e["message"]),
       f"changes made through the query API name its key: {body}")
print("boto3: all checks passed")
