"""Parameter groups through the aws CLI; groups and clusters that use them, Valkey, engine upgrades and reboots through boto3."""
import datetime
import time

from common import *

ec = client()
fast = {"Delay": 2, "MaxAttempts": 120}


def member(group_id):
    """The first member cluster of a group with its node, as Terraform reads it."""
    g = ec.describe_replication_groups(ReplicationGroupId=group_id)["ReplicationGroups"][0]
    cluster_id = g["NodeGroups"][0]["NodeGroupMembers"][0]["CacheClusterId"]
    return ec.describe_cache_clusters(CacheClusterId=cluster_id, ShowCacheNodeInfo=True)["CacheClusters"][0]


def node_statuses(group_id):
    body = rest("GET", f"/v1/replication-groups/{group_id}")[1]
    return {n["id"]: n["parameterGroupStatus"] for s in body["shards"] for n in s["nodes"]}


def wait_statuses(group_id, wanted, seconds=60):
    end = time.monotonic() + seconds
    while set(node_statuses(group_id).values()) != {wanted}:
        expect(time.monotonic() < end, f"{group_id} nodes never all {wanted}: {node_statuses(group_id)}")
        time.sleep(1)


step("the default groups and the engine defaults are there to read")
groups = aws("describe-cache-parameter-groups")["CacheParameterGroups"]
names = {g["CacheParameterGroupName"]: g["CacheParameterGroupFamily"] for g in groups}
expect(names.get("default.redis7") == "redis7" and names.get("default.valkey8.cluster.on") == "valkey8"
       and names.get("default.memcached1.6") == "memcached1.6", f"default groups {names}")
defaults = ec.describe_engine_default_parameters(CacheParameterGroupFamily="redis7")["EngineDefaults"]
expect(defaults["CacheParameterGroupFamily"] == "redis7" and any(p["ParameterName"] == "maxmemory-policy" and p["ParameterValue"] == "volatile-lru"
                                                                 for p in defaults["Parameters"]), f"engine defaults {defaults}")
code, status, _ = fault(ec.describe_engine_default_parameters, CacheParameterGroupFamily="redis2")
expect((code, status) == ("InvalidParameterValue", 400), f"unknown family: {code} {status}")

step("create a redis7 group with the CLI; a second create and a changed default are refused")
created = aws("create-cache-parameter-group", "--cache-parameter-group-name", "qa-redis", "--cache-parameter-group-family", "redis7",
              "--description", "tuned")["CacheParameterGroup"]
expect(created["CacheParameterGroupName"] == "qa-redis" and created["CacheParameterGroupFamily"] == "redis7"
       and created["ARN"].endswith(":parametergroup:qa-redis") and created["IsGlobal"] is False, f"created {created}")
again = aws("create-cache-parameter-group", "--cache-parameter-group-name", "qa-redis", "--cache-parameter-group-family", "redis7",
            "--description", "again", check=False)
expect(again.returncode != 0 and "CacheParameterGroupAlreadyExists" in again.stderr, f"twice: {again.stderr}")
code, status, _ = fault(ec.modify_cache_parameter_group, CacheParameterGroupName="default.redis7",
                        ParameterNameValues=[{"ParameterName": "maxmemory-policy", "ParameterValue": "allkeys-lru"}])
expect((code, status) == ("InvalidCacheParameterGroupState", 400), f"default changed: {code} {status}")
code, status, _ = fault(ec.describe_cache_parameters, CacheParameterGroupName="nope")
expect((code, status) == ("CacheParameterGroupNotFound", 404), f"unknown group: {code} {status}")

step("modify parameters with the CLI and read them back, paged, in ElastiCache's shape")
answer = aws("modify-cache-parameter-group", "--cache-parameter-group-name", "qa-redis", "--parameter-name-values",
             "ParameterName=maxmemory-policy,ParameterValue=allkeys-lru", "ParameterName=timeout,ParameterValue=300")
expect(answer == {"CacheParameterGroupName": "qa-redis"}, f"modify answer {answer}")
bad = aws("modify-cache-parameter-group", "--cache-parameter-group-name", "qa-redis", "--parameter-name-values",
          "ParameterName=maxmemory-policy,ParameterValue=sometimes", check=False)
expect(bad.returncode != 0 and "InvalidParameterValue" in bad.stderr, f"bad value: {bad.stderr}")
user = aws("describe-cache-parameters", "--cache-parameter-group-name", "qa-redis", "--source", "user")["Parameters"]
expect(sorted((p["ParameterName"], p["ParameterValue"]) for p in user) == [("maxmemory-policy", "allkeys-lru"), ("timeout", "300")], f"user {user}")
policy = next(p for p in user if p["ParameterName"] == "maxmemory-policy")
expect(policy["Source"] == "user" and policy["DataType"] == "string" and "allkeys-lru" in policy["AllowedValues"].split(",")
       and policy["IsModifiable"] is True and policy["ChangeType"] == "immediate" and policy["MinimumEngineVersion"] == "7.0.0", f"shape {policy}")
pages = list(ec.get_paginator("describe_cache_parameters").paginate(CacheParameterGroupName="qa-redis", PaginationConfig={"PageSize": 20}))
every = [p for page in pages for p in page["Parameters"]]
expect(len(pages) >= 2 and len(every) == len({p["ParameterName"] for p in every}), f"{len(pages)} pages, {len(every)} parameters")
databases = next(p for p in every if p["ParameterName"] == "databases")
expect(databases["ChangeType"] == "requires-reboot" and databases["Source"] == "engine-default" and databases["ParameterValue"] == "16", f"{databases}")

step("a group created with it runs it; a start-up parameter waits for a reboot, which RebootCacheCluster gives")
ec.create_replication_group(ReplicationGroupId="pg-r", ReplicationGroupDescription="own parameters", Engine="redis",
                            CacheParameterGroupName="qa-redis", NumCacheClusters=1)
ec.get_waiter("replication_group_available").wait(ReplicationGroupId="pg-r", WaiterConfig=fast)
m = member("pg-r")
expect(m["CacheParameterGroup"]["CacheParameterGroupName"] == "qa-redis" and m["Engine"] == "redis", f"member {m}")
wait_statuses("pg-r", "in-sync")
code, status, _ = fault(ec.delete_cache_parameter_group, CacheParameterGroupName="qa-redis")
expect((code, status) == ("InvalidCacheParameterGroupState", 400), f"deleting a group in use: {code} {status}")
ec.modify_cache_parameter_group(CacheParameterGroupName="qa-redis", ParameterNameValues=[{"ParameterName": "databases", "ParameterValue": "32"}])
wait_statuses("pg-r", "pending-reboot")
m = member("pg-r")
expect(m["CacheParameterGroup"]["ParameterApplyStatus"] == "pending-reboot" and m["CacheParameterGroup"]["CacheNodeIdsToReboot"] == ["0001"]
       and m["CacheNodes"][0]["ParameterGroupStatus"] == "pending-reboot", f"pending reboot {m['CacheParameterGroup']}")
code, status, _ = fault(ec.reboot_cache_cluster, CacheClusterId=m["CacheClusterId"], CacheNodeIdsToReboot=["0002"])
expect((code, status) == ("CacheClusterNotFound", 404), f"a node the member has not: {code} {status}")
before = set(node_statuses("pg-r"))
rebooted = ec.reboot_cache_cluster(CacheClusterId=m["CacheClusterId"], CacheNodeIdsToReboot=["0001"])["CacheCluster"]
expect(rebooted["CacheClusterId"] == m["CacheClusterId"] and rebooted["ReplicationGroupId"] == "pg-r", f"reboot answer {rebooted}")
# The reboot made the group modifying as it answered: the waiter cannot catch it available from before.
ec.get_waiter("replication_group_available").wait(ReplicationGroupId="pg-r", WaiterConfig=fast)
after = node_statuses("pg-r")
# A reboot keeps the node (its id and endpoint); a new container gave it the start-up value.
expect(set(after) == before and set(after.values()) == {"in-sync"}, f"nodes before {before}, after {after}")

step("reset one parameter, then all")
ec.reset_cache_parameter_group(CacheParameterGroupName="qa-redis", ParameterNameValues=[{"ParameterName": "timeout"}])
user = ec.describe_cache_parameters(CacheParameterGroupName="qa-redis", Source="user")["Parameters"]
expect(sorted(p["ParameterName"] for p in user) == ["databases", "maxmemory-policy"], f"after one reset {user}")
aws("reset-cache-parameter-group", "--cache-parameter-group-name", "qa-redis", "--reset-all-parameters")
expect(ec.describe_cache_parameters(CacheParameterGroupName="qa-redis", Source="user")["Parameters"] == [], "after reset all")

step("Valkey: an engine=valkey group with a valkey8 parameter group of its own")
ec.create_cache_parameter_group(CacheParameterGroupName="qa-valkey", CacheParameterGroupFamily="valkey8", Description="valkey")
ec.modify_cache_parameter_group(CacheParameterGroupName="qa-valkey", ParameterNameValues=[{"ParameterName": "maxmemory-policy", "ParameterValue": "allkeys-lfu"}])
code, _, message = fault(ec.create_replication_group, ReplicationGroupId="pg-wrong", ReplicationGroupDescription="x", Engine="redis",
                         CacheParameterGroupName="qa-valkey")
expect(code == "InvalidParameterCombination" and "valkey8" in message, f"redis with a valkey8 group: {code} {message}")
expect(rest("GET", "/v1/replication-groups/pg-wrong")[0] == 404, "a refused create was stored")
ec.create_replication_group(ReplicationGroupId="pg-v", ReplicationGroupDescription="valkey", Engine="valkey",
                            CacheParameterGroupName="qa-valkey", NumCacheClusters=2, AutomaticFailoverEnabled=True)
ec.get_waiter("replication_group_available").wait(ReplicationGroupId="pg-v", WaiterConfig=fast)
g = ec.describe_replication_groups(ReplicationGroupId="pg-v")["ReplicationGroups"][0]
m = member("pg-v")
expect(g["Engine"] == "valkey" and m["Engine"] == "valkey" and m["EngineVersion"].startswith("8.")
       and m["CacheParameterGroup"]["CacheParameterGroupName"] == "qa-valkey", f"valkey {g} {m}")
wait_statuses("pg-v", "in-sync")

step("an engine upgrade waits for PreferredMaintenanceWindow unless ApplyImmediately")
day = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][(datetime.datetime.now(datetime.timezone.utc).weekday() + 3) % 7]
window = f"{day}:03:00-{day}:04:00"
ec.create_replication_group(ReplicationGroupId="pg-u", ReplicationGroupDescription="upgrade", Engine="redis", EngineVersion="7.0",
                            NumCacheClusters=1, PreferredMaintenanceWindow=window)
ec.get_waiter("replication_group_available").wait(ReplicationGroupId="pg-u", WaiterConfig=fast)
expect(member("pg-u")["PreferredMaintenanceWindow"] == window, "window shown")
ec.modify_replication_group(ReplicationGroupId="pg-u", Engine="valkey", EngineVersion="8.0", ApplyImmediately=False)
body = rest("GET", "/v1/replication-groups/pg-u")[1]
m = member("pg-u")
expect(body["status"] == "available" and body["engine"] == "redis" and body["pendingChanges"]["engine"] == "valkey"
       and body["pendingChanges"]["applyAt"], f"scheduled {body}")
expect(m["Engine"] == "redis" and m["PendingModifiedValues"].get("EngineVersion") == "8.0", f"pending upgrade {m}")
ec.modify_replication_group(ReplicationGroupId="pg-u", Engine="valkey", EngineVersion="8.0", ApplyImmediately=True)
ec.get_waiter("replication_group_available").wait(ReplicationGroupId="pg-u", WaiterConfig=fast)
m = member("pg-u")
expect(m["Engine"] == "valkey" and m["EngineVersion"] == "8.0" and m["CacheParameterGroup"]["CacheParameterGroupName"] == "default.valkey8"
       and m["PendingModifiedValues"] == {}, f"upgraded {m}")

step("Memcached with a memcached1.6 group of its own, and a reboot of its node")
ec.create_cache_parameter_group(CacheParameterGroupName="qa-mc", CacheParameterGroupFamily="memcached1.6", Description="memcached")
ec.create_cache_cluster(CacheClusterId="pg-m", Engine="memcached", NumCacheNodes=1, CacheParameterGroupName="qa-mc")
ec.get_waiter("cache_cluster_available").wait(CacheClusterId="pg-m", WaiterConfig=fast)
c = ec.describe_cache_clusters(CacheClusterId="pg-m", ShowCacheNodeInfo=True)["CacheClusters"][0]
expect(c["CacheParameterGroup"]["CacheParameterGroupName"] == "qa-mc", f"memcached {c}")
before = [n["id"] for n in rest("GET", "/v1/cache-clusters/pg-m")[1]["nodes"]]
ec.reboot_cache_cluster(CacheClusterId="pg-m", CacheNodeIdsToReboot=[c["CacheNodes"][0]["CacheNodeId"]])
ec.get_waiter("cache_cluster_available").wait(CacheClusterId="pg-m", WaiterConfig=fast)
after = [n["id"] for n in rest("GET", "/v1/cache-clusters/pg-m")[1]["nodes"]]
expect(after == before, f"memcached node before {before}, after {after}")

step("delete the groups and clusters, then their parameter groups")
for gid in ["pg-r", "pg-v", "pg-u"]:
    ec.delete_replication_group(ReplicationGroupId=gid)
ec.delete_cache_cluster(CacheClusterId="pg-m")
for gid in ["pg-r", "pg-v", "pg-u"]:
    ec.get_waiter("replication_group_deleted").wait(ReplicationGroupId=gid, WaiterConfig=fast)
ec.get_waiter("cache_cluster_deleted").wait(CacheClusterId="pg-m", WaiterConfig=fast)
aws("delete-cache-parameter-group", "--cache-parameter-group-name", "qa-redis")
for name in ["qa-valkey", "qa-mc"]:
    ec.delete_cache_parameter_group(CacheParameterGroupName=name)
code, status, _ = fault(ec.describe_cache_parameter_groups, CacheParameterGroupName="qa-redis")
expect((code, status) == ("CacheParameterGroupNotFound", 404), f"after delete: {code} {status}")
left = {g["CacheParameterGroupName"] for g in ec.describe_cache_parameter_groups()["CacheParameterGroups"]}
expect(not any(n.startswith("qa-") for n in left), f"left {left}")
print("parameters: all checks passed")
