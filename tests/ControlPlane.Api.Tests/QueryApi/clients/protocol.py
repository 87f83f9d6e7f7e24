"""The protocol with real clients, no nodes needed: errors, faults, signatures, roles, paging, catalogue."""
import datetime
import os

from common import *

ec = client()

step("an unknown group: the exact fault the waiters rely on")
code, status, _ = fault(ec.describe_replication_groups, ReplicationGroupId="nope")
expect((code, status) == ("ReplicationGroupNotFoundFault", 404), f"unknown group gave {code} {status}")
code, status, _ = fault(ec.describe_cache_clusters, CacheClusterId="nope-0001-001")
expect((code, status) == ("CacheClusterNotFound", 404), f"unknown cluster gave {code} {status}")
code, status, _ = fault(ec.describe_snapshots, SnapshotName="nope")
expect((code, status) == ("SnapshotNotFoundFault", 404), f"unknown snapshot gave {code} {status}")
# The CLI's waiter for deletion succeeds on that fault at once.
ec.get_waiter("replication_group_deleted").wait(ReplicationGroupId="nope", WaiterConfig={"Delay": 1, "MaxAttempts": 2})

step("bad input: unknown Action, unknown Version, missing parameter, JSON body, unsigned, bad signature, unknown key, old signature")
status, text = raw("Action=DescribeEverything&Version=2015-02-02")
expect(status == 400 and "<Code>InvalidAction</Code>" in text and "<RequestId>" in text, f"unknown action: {status} {text}")
status, text = raw("Action=DescribeReplicationGroups&Version=2014-09-30")
expect(status == 400 and "<Code>InvalidAction</Code>" in text and "2014-09-30" in text, f"unknown version: {status} {text}")
status, text = raw("Action=DescribeReplicationGroups")
expect(status == 400 and "<Code>MissingParameter</Code>" in text, f"no version: {status} {text}")
status, text = raw("Action=DeleteReplicationGroup&Version=2015-02-02")
expect(status == 400 and "<Code>MissingParameter</Code>" in text and "ReplicationGroupId" in text, f"missing id: {status} {text}")
status, text = raw('{"Action": "CreateReplicationGroup", "ReplicationGroupId": "json", "ReplicationGroupDescription": "x"}', "application/json")
expect(status == 400 and "<Code>MalformedQueryString</Code>" in text and "ErrorResponse" in text, f"JSON body: {status} {text}")
status, text = raw("Action=CreateReplicationGroup&Version=2015-02-02&ReplicationGroupId=unsigned&ReplicationGroupDescription=x", sign=False)
expect(status == 403 and "<Code>MissingAuthenticationToken</Code>" in text, f"unsigned: {status} {text}")
status, text = raw("Action=CreateReplicationGroup&Version=2015-02-02&ReplicationGroupId=badsig&ReplicationGroupDescription=x", secret="0" * 64)
expect(status == 403 and "<Code>SignatureDoesNotMatch</Code>" in text, f"bad signature: {status} {text}")
status, text = raw("Action=CreateReplicationGroup&Version=2015-02-02&ReplicationGroupId=badkey&ReplicationGroupDescription=x", key_id="0123456789ab")
expect(status == 403 and "<Code>InvalidClientTokenId</Code>" in text, f"unknown key: {status} {text}")
old = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=20)
status, text = raw("Action=CreateReplicationGroup&Version=2015-02-02&ReplicationGroupId=stale&ReplicationGroupDescription=x", amz_date=old)
expect(status == 400 and "<Code>RequestExpired</Code>" in text, f"20-minute-old signature: {status} {text}")
recent = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=10)
status, text = raw("Action=DescribeReplicationGroups&Version=2015-02-02", amz_date=recent)
expect(status == 200, f"a 10-minute-old signature is within the 15 minutes allowed: {status} {text}")
code, status, _ = fault(client(secret="1" * 64).describe_replication_groups)
expect((code, status) == ("SignatureDoesNotMatch", 403), f"boto3 with a wrong secret: {code} {status}")
for name in ["json", "unsigned", "badsig", "badkey", "stale"]:
    expect(rest("GET", f"/v1/replication-groups/{name}")[0] == 404, f"{name} was stored after a refused request")

def other_client():
    return client(os.environ["CP_OTHER_KEY_ID"], os.environ["CP_OTHER_SECRET"])


step("features not built answer InvalidParameterCombination, and nothing is stored")
code, status, message = fault(ec.create_replication_group, ReplicationGroupId="secgroups", ReplicationGroupDescription="x", SecurityGroupIds=["sg-1"])
expect((code, status) == ("InvalidParameterCombination", 400) and "SecurityGroupIds" in message, f"SecurityGroupIds: {code} {message}")
expect(rest("GET", "/v1/replication-groups/secgroups")[0] == 404, "a refused create was stored")
code, status, message = fault(ec.create_replication_group, ReplicationGroupId="atrest", ReplicationGroupDescription="x", AtRestEncryptionEnabled=True)
expect(code == "InvalidParameterCombination" and "not supported" in message, f"at-rest encryption: {code} {message}")
code, _, message = fault(ec.create_cache_parameter_group, CacheParameterGroupName="mine", CacheParameterGroupFamily="redis7", Description="x",
                         Tags=[{"Key": "a", "Value": "b"}])
expect(code == "InvalidParameterCombination" and "not supported" in message, f"tags on parameter groups: {code} {message}")
expect(rest("GET", "/v1/parameter-groups/mine")[0] == 404, "a refused parameter group was stored")
code, _, message = fault(ec.describe_serverless_caches)
expect(code == "InvalidParameterCombination" and "not supported" in message, f"serverless: {code} {message}")

step("users and user groups in ElastiCache's shapes; bad ones stored nothing")
user = ec.create_user(UserId="app", UserName="app", Engine="redis", AccessString="on ~app:* +@read", Passwords=["app-password-0123456789"])
expect(user["UserId"] == "app" and user["Status"] == "active" and user["Authentication"] == {"Type": "password", "PasswordCount": 1}
       and user["ARN"].endswith(":user:app") and "Passwords" not in user, f"created user {user}")
ec.create_user(UserId="app-default", UserName="default", Engine="redis", AccessString="off", AuthenticationMode={"Type": "no-password-required"})
code, status, _ = fault(ec.create_user, UserId="short", UserName="short", Engine="redis", AccessString="on ~* +@all", Passwords=["too-short"])
expect((code, status) == ("InvalidParameterValue", 400), f"short password: {code} {status}")
code, status, _ = fault(ec.create_user, UserId="app", UserName="again", Engine="redis", AccessString="on ~* +@all", NoPasswordRequired=True)
expect((code, status) == ("UserAlreadyExists", 400), f"twice: {code} {status}")
code, status, _ = fault(ec.create_user_group, UserGroupId="team", Engine="redis", UserIds=["app"])
expect((code, status) == ("InvalidParameterValue", 400), f"a user group without default: {code} {status}")
group = ec.create_user_group(UserGroupId="team", Engine="redis", UserIds=["app", "app-default"])
expect(group["UserGroupId"] == "team" and sorted(group["UserIds"]) == ["app", "app-default"] and group["Status"] == "active", f"group {group}")
modified = ec.modify_user(UserId="app", AppendAccessString="+@write")
expect(modified["AccessString"] == "on ~app:* +@read +@write" and modified["UserGroupIds"] == ["team"], f"modified {modified}")
code, status, _ = fault(ec.delete_user, UserId="app")
expect((code, status) == ("InvalidUserState", 400), f"a user in a group deleted: {code} {status}")
users = ec.describe_users()["Users"]
expect(sorted(u["UserId"] for u in users) == ["app", "app-default"], f"users {users}")
expect([g["UserGroupId"] for g in ec.describe_user_groups()["UserGroups"]] == ["team"], "user groups")
code, status, _ = fault(other_client().describe_users, UserId="app")
expect((code, status) == ("UserNotFound", 404), f"another tenant's user: {code} {status}")
expect(ec.delete_user_group(UserGroupId="team")["Status"] == "deleting", "user group deleted")
expect(ec.delete_user(UserId="app")["Status"] == "deleting", "user deleted")
code, status, _ = fault(ec.describe_user_groups, UserGroupId="team")
expect((code, status) == ("UserGroupNotFound", 404), f"deleted user group: {code} {status}")
step("transit encryption: TransitEncryptionEnabled and TransitEncryptionMode pass through, with the REST rules")
status, text = raw("Action=CreateReplicationGroup&Version=2015-02-02&ReplicationGroupId=tlsmode&ReplicationGroupDescription=x"
                   "&TransitEncryptionMode=required")
expect(status == 400 and "<Code>InvalidParameterCombination</Code>" in text, f"a mode without TransitEncryptionEnabled: {status} {text}")
expect(rest("GET", "/v1/replication-groups/tlsmode")[0] == 404, "a refused create was stored")
status, text = raw("Action=CreateReplicationGroup&Version=2015-02-02&ReplicationGroupId=tlsmode&ReplicationGroupDescription=x"
                   "&TransitEncryptionEnabled=true&TransitEncryptionMode=preferred")
expect(status == 200 and "<TransitEncryptionEnabled>true</TransitEncryptionEnabled>" in text
       and "<TransitEncryptionMode>preferred</TransitEncryptionMode>" in text, f"a preferred-mode create: {status} {text}")
code, body = rest("GET", "/v1/replication-groups/tlsmode")
expect(code == 200 and body["transitEncryption"] is True and body["transitEncryptionMode"] == "preferred", f"REST sees {code} {body}")
expect(rest("DELETE", "/v1/replication-groups/tlsmode")[0] == 202, "REST delete of tlsmode")
code, status, message = fault(ec.create_replication_group, ReplicationGroupId="plaintoken", ReplicationGroupDescription="x",
                              AuthToken="plain-text-token-0123456789")
expect((code, status) == ("InvalidParameterCombination", 400) and "transitEncryption" in message, f"a token without TLS: {code} {status} {message}")
expect(rest("GET", "/v1/replication-groups/plaintoken")[0] == 404, "a token group without TLS was stored")

step("a viewer key reads and may not change")
viewer = client(os.environ["CP_VIEWER_KEY_ID"], os.environ["CP_VIEWER_SECRET"])
viewer.describe_replication_groups()
code, status, _ = fault(viewer.create_replication_group, ReplicationGroupId="byviewer", ReplicationGroupDescription="x")
expect((code, status) == ("AccessDenied", 403), f"viewer create: {code} {status}")
expect(rest("GET", "/v1/replication-groups/byviewer")[0] == 404, "the viewer's create was stored")

step("another tenant's key sees nothing of this tenant")
other = client(os.environ["CP_OTHER_KEY_ID"], os.environ["CP_OTHER_SECRET"])
expect(rest("POST", "/v1/cache-clusters", {"id": "mine", "engine": "memcached", "numNodes": 1})[0] == 202, "REST create of mine")
code, status, _ = fault(other.describe_cache_clusters, CacheClusterId="mine")
expect((code, status) == ("CacheClusterNotFound", 404), f"other tenant: {code} {status}")
expect(all(c["CacheClusterId"] != "mine" for c in other.describe_cache_clusters()["CacheClusters"]), "other tenant lists mine")
mine = ec.describe_cache_clusters(CacheClusterId="mine")["CacheClusters"][0]
expect(mine["Engine"] == "memcached" and mine["NumCacheNodes"] == 1, f"mine: {mine}")
account = mine["ARN"].split(":")[4]
code, status, _ = fault(other.list_tags_for_resource, ResourceName=mine["ARN"])
expect((code, status) == ("InvalidARN", 400), f"other tenant's ARN: {code} {status}")
expect(len(account) == 12 and account.isdigit(), f"account {account}")

step("tags on a Memcached cluster, by ARN, seen through REST")
tags = ec.add_tags_to_resource(ResourceName=mine["ARN"], Tags=[{"Key": "team", "Value": "cache"}, {"Key": "env", "Value": "ci"}])["TagList"]
expect(sorted((t["Key"], t["Value"]) for t in tags) == [("env", "ci"), ("team", "cache")], f"tags {tags}")
expect(rest("GET", "/v1/cache-clusters/mine/tags") == (200, {"env": "ci", "team": "cache"}), "REST tags")
ec.remove_tags_from_resource(ResourceName=mine["ARN"], TagKeys=["env"])
expect(ec.list_tags_for_resource(ResourceName=mine["ARN"])["TagList"] == [{"Key": "team", "Value": "cache"}], "after remove")
code, status, _ = fault(ec.remove_tags_from_resource, ResourceName=mine["ARN"], TagKeys=["nope"])
expect((code, status) == ("TagNotFound", 404), f"remove missing tag: {code} {status}")
code, status, _ = fault(ec.add_tags_to_resource, ResourceName=mine["ARN"], Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(50)])
expect((code, status) == ("TagQuotaPerResourceExceeded", 400), f"51 tags: {code} {status}")
expect(rest("DELETE", "/v1/cache-clusters/mine")[0] == 202, "REST delete of mine")

step("catalogue: engine versions, the one subnet group")
versions = ec.describe_cache_engine_versions(Engine="redis")["CacheEngineVersions"]
expect(any(v["EngineVersion"] == "7.0" and v["CacheParameterGroupFamily"] == "redis7" for v in versions), f"versions {versions}")
groups = ec.describe_cache_subnet_groups()["CacheSubnetGroups"]
expect(len(groups) == 1 and groups[0]["CacheSubnetGroupName"] == "default" and len(groups[0]["Subnets"]) >= 1, f"subnet groups {groups}")
code, _, _ = fault(ec.describe_cache_subnet_groups, CacheSubnetGroupName="private")
expect(code == "CacheSubnetGroupNotFoundFault", f"unknown subnet group: {code}")

step("paging: Marker and MaxRecords through boto3's paginator")
events = []
for page in ec.get_paginator("describe_events").paginate(Duration=60, PaginationConfig={"PageSize": 20}):
    expect(len(page["Events"]) <= 20, f"page of {len(page['Events'])}")
    events.extend(page["Events"])
total = int(os.environ["CP_EXPECTED_EVENTS"])
expect(len(events) >= total, f"{len(events)} events paged, at least {total} expected")
expect(len({(e["Date"], e["Message"]) for e in events}) == len(events), "an event came twice")
first = ec.describe_events(Duration=60, MaxRecords=20)
expect(len(first["Events"]) == 20 and "Marker" in first, "a first page of 20 with a marker")
code, _, _ = fault(ec.describe_events, MaxRecords=5)
expect(code == "InvalidParameterValue", f"MaxRecords 5: {code}")
print("protocol: all checks passed")
