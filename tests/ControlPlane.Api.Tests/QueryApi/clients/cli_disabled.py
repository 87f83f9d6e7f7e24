"""Cluster mode disabled through the aws CLI and its own waiters: create, failover, replicas, snapshot and restore, tags, delete."""
import time

from common import *


def roles(group):
    return {m["CacheClusterId"]: m["CurrentRole"] for m in group["NodeGroups"][0]["NodeGroupMembers"]}


def describe(group_id):
    return aws("describe-replication-groups", "--replication-group-id", group_id)["ReplicationGroups"][0]


step("create a group of a primary and a replica, with tags")
created = aws("create-replication-group", "--replication-group-id", "cli-a", "--replication-group-description", "made by the CLI",
              "--num-cache-clusters", "2", "--automatic-failover-enabled", "--multi-az-enabled", "--cache-node-type", "cache.small",
              "--tags", "Key=team,Value=platform")["ReplicationGroup"]
expect(created["Status"] == "creating" and created["ClusterEnabled"] is False, f"created {created}")
aws("wait", "replication-group-available", "--replication-group-id", "cli-a")
group = describe("cli-a")
expect(group["Status"] == "available" and len(group["MemberClusters"]) == 2, f"available {group}")
expect(group["AutomaticFailover"] == "enabled" and group["MultiAZ"] == "enabled", f"failover and multi-AZ {group}")
primary_endpoint = group["NodeGroups"][0]["PrimaryEndpoint"]
expect(primary_endpoint["Address"] == "127.0.0.1" and primary_endpoint["Port"] > 0, f"primary endpoint {primary_endpoint}")
expect(sorted(roles(group).values()) == ["primary", "replica"], f"roles {roles(group)}")
arn = group["ARN"]
expect(arn.startswith("arn:aws:elasticache:") and arn.endswith(":replicationgroup:cli-a"), f"ARN {arn}")
expect(aws("list-tags-for-resource", "--resource-name", arn)["TagList"] == [{"Key": "team", "Value": "platform"}], "tags at create")

step("the REST side sees the same group")
code, body = rest("GET", "/v1/replication-groups/cli-a")
expect(code == 200 and body["replicasPerShard"] == 1 and body["description"] == "made by the CLI", f"REST {code} {body}")
expect(rest("GET", "/v1/replication-groups/cli-a/tags") == (200, {"team": "platform"}), "REST tags")

step("Terraform's refresh: the first member cluster with its node")
member = group["NodeGroups"][0]["NodeGroupMembers"][0]["CacheClusterId"]
cluster = aws("describe-cache-clusters", "--cache-cluster-id", member, "--show-cache-node-info")["CacheClusters"][0]
expect(cluster["ReplicationGroupId"] == "cli-a" and cluster["Engine"] == "redis" and len(cluster["CacheNodes"]) == 1, f"member {cluster}")
expect(cluster["CacheParameterGroup"]["CacheParameterGroupName"] == "default.redis7", f"parameter group {cluster}")

step("test failover")
before = roles(group)
aws("test-failover", "--replication-group-id", "cli-a", "--node-group-id", "0001")
time.sleep(1)
aws("wait", "replication-group-available", "--replication-group-id", "cli-a")
after = roles(describe("cli-a"))
expect(after != before and sorted(after.values()) == ["primary", "replica"], f"roles before {before}, after {after}")

step("replicas up to 2 and down to 1")
aws("increase-replica-count", "--replication-group-id", "cli-a", "--new-replica-count", "2", "--apply-immediately")
time.sleep(1)
aws("wait", "replication-group-available", "--replication-group-id", "cli-a")
expect(len(describe("cli-a")["MemberClusters"]) == 3, "three members after increase")
result = aws("decrease-replica-count", "--replication-group-id", "cli-a", "--new-replica-count", "3", "--apply-immediately", check=False)
expect(result.returncode != 0 and "InvalidParameterValue" in result.stderr, f"decrease to more: {result.stderr}")
aws("decrease-replica-count", "--replication-group-id", "cli-a", "--new-replica-count", "1", "--apply-immediately")
time.sleep(1)
aws("wait", "replication-group-available", "--replication-group-id", "cli-a")
expect(len(describe("cli-a")["MemberClusters"]) == 2, "two members after decrease")

step("modify: description; an unchanged modify says no modifications were requested")
aws("modify-replication-group", "--replication-group-id", "cli-a", "--replication-group-description", "changed", "--apply-immediately")
expect(rest("GET", "/v1/replication-groups/cli-a")[1]["description"] == "changed", "description through REST")
result = aws("modify-replication-group", "--replication-group-id", "cli-a", "--replication-group-description", "changed", check=False)
expect(result.returncode != 0 and "InvalidParameterCombination" in result.stderr and "No modifications were requested" in result.stderr, result.stderr)

step("snapshot, then restore it into a new group")
aws("create-snapshot", "--replication-group-id", "cli-a", "--snapshot-name", "cli-a-snap")
deadline = time.monotonic() + 120
while True:
    snapshot = aws("describe-snapshots", "--snapshot-name", "cli-a-snap")["Snapshots"][0]
    if snapshot["SnapshotStatus"] == "available":
        break
    expect(time.monotonic() < deadline and snapshot["SnapshotStatus"] == "creating", f"snapshot {snapshot}")
    time.sleep(1)
expect(snapshot["ReplicationGroupId"] == "cli-a" and len(snapshot["NodeSnapshots"]) == 1, f"snapshot {snapshot}")
listed = aws("describe-snapshots", "--replication-group-id", "cli-a")["Snapshots"]
expect([s["SnapshotName"] for s in listed] == ["cli-a-snap"], f"listed {listed}")
aws("create-replication-group", "--replication-group-id", "cli-b", "--replication-group-description", "restored",
    "--snapshot-name", "cli-a-snap")
aws("wait", "replication-group-available", "--replication-group-id", "cli-b")
expect(describe("cli-b")["Status"] == "available", "restored group available")

step("delete both groups and the snapshot, and wait with the CLI's waiter")
deleting = aws("delete-replication-group", "--replication-group-id", "cli-a")["ReplicationGroup"]
expect(deleting["Status"] == "deleting", f"deleting {deleting}")
aws("delete-replication-group", "--replication-group-id", "cli-b")
aws("wait", "replication-group-deleted", "--replication-group-id", "cli-a")
aws("wait", "replication-group-deleted", "--replication-group-id", "cli-b")
expect(rest("GET", "/v1/replication-groups/cli-a")[0] == 404, "gone through REST")
aws("delete-snapshot", "--snapshot-name", "cli-a-snap")
result = aws("describe-replication-groups", "--replication-group-id", "cli-a", check=False)
expect(result.returncode != 0 and "ReplicationGroupNotFoundFault" in result.stderr, result.stderr)
print("cli: all checks passed")
