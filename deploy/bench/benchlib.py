#!/usr/bin/env python3
"""Helpers for deploy/bench/*.sh: the REST calls that need millisecond timing, and the figures.

Standard library only.

  benchlib.py freeport                              print a free loopback TCP port
  benchlib.py portsfree PORT...                     exit 1 when one of them cannot be bound
  benchlib.py create HOST:PORT ID BODY TIMEOUT      POST the group, poll GET every 20 ms until
                                                    "available"; print the seconds and the endpoints
  benchlib.py delete HOST:PORT ID TIMEOUT           DELETE the group, poll until GET answers 404
  benchlib.py events HOST:PORT ID                   the group's events, oldest first
  benchlib.py stats TARGET_CASE TARGET_RATIO        read "case side seconds" lines, print the table
  benchlib.py provision HOST:PORT TIMEOUT PATH=BODY...
                                                    POST every resource at once, poll until all are
                                                    "available"; print the seconds
  benchlib.py cpu SECONDS PID...                    each process tree's CPU time over SECONDS of wall
                                                    time, as a fraction of one core
  benchlib.py cpujit SECONDS PID...                 the same, then the share of it that the first
                                                    process's JIT (tiered compilation) took
"""

import http.client
import json
import os
import socket
import statistics
import sys
import time
import urllib.parse

POLL = 0.02


class Api:
    """One keep-alive connection to the API; GET and DELETE are retried once on a fresh one."""

    def __init__(self, address):
        host, port = address.rsplit(":", 1)
        self.host, self.port, self.conn = host, int(port), None

    def call(self, method, path, body=None):
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
            try:
                headers = {"Accept": "application/json"}
                if os.environ.get("BENCH_API_KEY"):
                    headers["Authorization"] = "Bearer " + os.environ["BENCH_API_KEY"]
                data = None
                if body is not None:
                    data = body.encode()
                    headers["Content-Type"] = "application/json"
                self.conn.request(method, path, body=data, headers=headers)
                response = self.conn.getresponse()
                return response.status, response.read()
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
                # A POST is not repeated: the first one may have been stored.
                if attempt or method == "POST":
                    raise
        raise AssertionError("unreachable")


def fail(message):
    print(f"benchlib: {message}", file=sys.stderr)
    sys.exit(1)


def group_path(group_id):
    return "/v1/replication-groups/" + urllib.parse.quote(group_id)


def create(address, group_id, body, timeout):
    api = Api(address)
    path = group_path(group_id)
    start = time.monotonic()
    deadline = start + timeout
    status, payload = api.call("POST", "/v1/replication-groups", body)
    if status != 202:
        fail(f"POST {group_id} answered {status}: {payload[:500].decode(errors='replace')}")
    ports_at = None
    while True:
        status, payload = api.call("GET", path)
        now = time.monotonic()
        if status != 200:
            fail(f"GET {path} answered {status}: {payload[:500].decode(errors='replace')}")
        group = json.loads(payload)
        nodes = [n for s in group["shards"] for n in s["nodes"]]
        if ports_at is None and nodes and all(n.get("endpoint") for n in nodes):
            ports_at = now - start
        if group["status"] == "available":
            break
        if group["status"] == "create-failed":
            fail(f"{group_id} is create-failed after {now - start:.2f}s")
        if now >= deadline:
            fail(f"{group_id} is still {group['status']} after {timeout}s")
        time.sleep(POLL)
    print(f"elapsed {now - start:.6f}")
    print(f"ports_at {ports_at if ports_at is not None else -1:.6f}")
    for key in ("configurationEndpoint", "primaryEndpoint", "readerEndpoint"):
        if group.get(key):
            print(f"{key} {group[key]['port']}")
    for node in nodes:
        print(f"node {node['id']} {node['role']} {node['endpoint']['port']}")


def delete(address, group_id, timeout):
    api = Api(address)
    path = group_path(group_id)
    deadline = time.monotonic() + timeout
    status, payload = api.call("DELETE", path)
    if status not in (202, 404):
        fail(f"DELETE {path} answered {status}: {payload[:500].decode(errors='replace')}")
    while True:
        status, _ = api.call("GET", path)
        if status == 404:
            return
        if time.monotonic() >= deadline:
            fail(f"{group_id} still exists {timeout}s after DELETE")
        time.sleep(POLL)


def events(address, group_id):
    query = urllib.parse.urlencode({"sourceType": "replication-group", "sourceId": group_id, "limit": 100})
    status, payload = Api(address).call("GET", "/v1/events?" + query)
    if status != 200:
        fail(f"GET /v1/events answered {status}")
    for event in reversed(json.loads(payload)["items"]):
        print(f"  {event['time']}  {event['message']}")


def stats(target_case, target_ratio):
    runs = {}
    order = []
    for line in sys.stdin:
        case, side, seconds = line.split()
        if case not in order:
            order.append(case)
        runs.setdefault((case, side), []).append(float(seconds))

    def cell(values):
        return f"{statistics.median(values):6.2f}s ({min(values):.2f}-{max(values):.2f})"

    print(f"{'case':<6} {'runs':>4}  {'ours median (min-max)':<22}  {'baseline median (min-max)':<25}  ratio")
    quotes = []
    for case in order:
        ours, base = runs.get((case, "ours"), []), runs.get((case, "baseline"), [])
        if not ours or not base:
            continue
        ratio = statistics.median(ours) / statistics.median(base)
        verdict = ""
        if case == target_case:
            verdict = f"  (target <= {target_ratio:.2f}: {'met' if ratio <= target_ratio else 'MISSED'})"
        print(f"{case:<6} {len(ours):>4}  {cell(ours):<22}  {cell(base):<25}  {ratio:5.2f}{verdict}")
        quotes.append(f"create-bench: {case} ours={statistics.median(ours):.2f}s "
                      f"baseline={statistics.median(base):.2f}s ratio={ratio:.2f}")
    print()
    for case in order:
        for side in ("ours", "baseline"):
            values = runs.get((case, side), [])
            print(f"  {case} {side:<8} " + " ".join(f"{v:.2f}" for v in values))
    print()
    for quote in quotes:
        print(quote)


def provision(address, timeout, resources):
    api = Api(address)
    start = time.monotonic()
    pending = []
    for resource in resources:
        collection, body = resource.split("=", 1)
        status, payload = api.call("POST", collection, body)
        if status != 202:
            fail(f"POST {collection} answered {status}: {payload[:500].decode(errors='replace')}")
        pending.append(f"{collection}/{urllib.parse.quote(json.loads(body)['id'])}")
    while pending:
        for path in list(pending):
            status, payload = api.call("GET", path)
            if status != 200:
                fail(f"GET {path} answered {status}")
            state = json.loads(payload)["status"]
            if state == "available":
                pending.remove(path)
            elif state == "create-failed":
                fail(f"{path} failed to create")
        if time.monotonic() - start > timeout:
            fail(f"not available after {timeout}s: {' '.join(pending)}")
        time.sleep(0.2)
    print(f"{time.monotonic() - start:.2f}")


def stat_fields(pid):
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def tree_ticks(pid):
    """CPU clock ticks of a process and its children, live (utime + stime) and reaped (cutime + cstime)."""
    fields = stat_fields(pid)
    ticks = sum(int(v) for v in fields[11:15])
    for child in open(f"/proc/{pid}/task/{pid}/children").read().split():
        try:
            ticks += sum(int(v) for v in stat_fields(child)[11:13])
        except FileNotFoundError:
            pass  # ended meanwhile: its parent's cutime has it
    return ticks


def jit_ticks(pid):
    """CPU clock ticks of the runtime's tiered-compilation threads (utime + stime), by thread id."""
    ticks = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                if f.read().startswith(".NET Tiered"):
                    ticks[tid] = sum(int(v) for v in stat_fields(f"{pid}/task/{tid}")[11:13])
        except FileNotFoundError:
            pass  # ended meanwhile
    return ticks


def cpu(seconds, pids, jit=False):
    """
    Each process tree's CPU time over SECONDS of wall time, as a fraction of one core; with JIT,
    then the part of it that the first process's tiered-compilation threads took.
    """
    hz = os.sysconf("SC_CLK_TCK")
    jit_before = jit_ticks(pids[0]) if jit else {}
    before, start = [tree_ticks(p) for p in pids], time.monotonic()
    time.sleep(seconds)
    after, wall = [tree_ticks(p) for p in pids], time.monotonic() - start
    shares = [(a - b) / hz / wall for a, b in zip(after, before)]
    if jit:
        shares.append(sum(t - jit_before.get(tid, 0) for tid, t in jit_ticks(pids[0]).items()) / hz / wall)
    print(" ".join(f"{share:.4f}" for share in shares))


def main(argv):
    command, args = argv[1], argv[2:]
    if command == "freeport":
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            print(s.getsockname()[1])
    elif command == "portsfree":
        for port in args:
            with socket.socket() as s:
                # As Redis binds: a port whose old connections linger in TIME_WAIT is still free.
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    s.bind(("127.0.0.1", int(port)))
                except OSError:
                    fail(f"port {port} is in use")
    elif command == "create":
        create(args[0], args[1], args[2], float(args[3]))
    elif command == "delete":
        delete(args[0], args[1], float(args[2]))
    elif command == "events":
        events(args[0], args[1])
    elif command == "stats":
        stats(args[0], float(args[1]))
    elif command == "provision":
        provision(args[0], float(args[1]), args[2:])
    elif command == "cpu":
        cpu(float(args[0]), [int(p) for p in args[1:]])
    elif command == "cpujit":
        cpu(float(args[0]), [int(p) for p in args[1:]], jit=True)
    else:
        fail(f"unknown command {command}")


if __name__ == "__main__":
    main(sys.argv)
