#!/usr/bin/env python3
"""The client and the figures of deploy/bench/failover.sh. Standard library only (raw RESP).

  failoverlib.py sentinel-ready NAME REPLICAS TIMEOUT PORT...
      wait until every Sentinel sees NAME as a master with REPLICAS linked replicas, knows the other
      Sentinels and can reach the quorum (SENTINEL CKQUORUM)
  failoverlib.py run OPTIONS
      the writer: a new key every --interval (SET k<i> v, then WAIT 1 200) on the primary it resolves
      (from the API's primaryEndpoint, or by asking the Sentinels), --warmup seconds of steady writes,
      then the primary's container is killed (SIGKILL through the Docker API), writing goes on until
      --after seconds past the first write accepted after the kill; then every acknowledged key is
      read back from the current primary. Prints the run's report; appends its figures (one JSON
      line) to --result. See `run --help`.
  failoverlib.py stats TARGET_RATIO < RESULTS
      the table and the quotable lines

A write is acknowledged when WAIT answers >= 1 (a replica has it), accepted when SET answered OK.
The outage is the time from the kill request to the first write, sent after the kill returned,
that was accepted. On any error the client resolves the primary again and reconnects, every
--retry seconds. A server found at the killed node's own address after the kill cannot be that
node: its writes are reported (ODD), left out of every figure, and the client resolves again.
"""

import argparse
import datetime
import http.client
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402  (next to this file)


# ---------------------------------------------------------------- RESP


class RespError(Exception):
    """An error reply (-ERR ..., -READONLY ...)."""


class Redis:
    """One connection; commands may be pipelined (send several, then read as many replies)."""

    def __init__(self, host, port, connect_timeout=0.5, timeout=1.0):
        self.sock = socket.create_connection((host, port), timeout=connect_timeout)
        self.sock.settimeout(timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, *commands):
        out = bytearray()
        for args in commands:
            out += b"*%d\r\n" % len(args)
            for arg in args:
                arg = arg if isinstance(arg, bytes) else str(arg).encode()
                out += b"$%d\r\n%s\r\n" % (len(arg), arg)
        self.sock.sendall(out)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed by the server")
        self.buf += chunk

    def _line(self):
        while True:
            end = self.buf.find(b"\r\n")
            if end >= 0:
                line = bytes(self.buf[:end])
                del self.buf[:end + 2]
                return line
            self._fill()

    def _exactly(self, n):
        while len(self.buf) < n + 2:
            self._fill()
        data = bytes(self.buf[:n])
        del self.buf[:n + 2]
        return data

    def read(self):
        """One reply; an error reply is returned as a RespError (not raised), so pipelines stay in step."""
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return RespError(rest.decode(errors="replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exactly(n)
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        raise ConnectionError(f"unexpected reply {line[:60]!r}")

    def call(self, *args):
        self.send(args)
        reply = self.read()
        if isinstance(reply, RespError):
            raise reply
        return reply


def pairs(reply):
    """A flat [k1, v1, k2, v2, ...] reply as a dict of str."""
    text = [x.decode() if isinstance(x, bytes) else str(x) for x in reply]
    return dict(zip(text[0::2], text[1::2]))


# ---------------------------------------------------------------- where the primary is


class ApiPrimary:
    """The control plane's answer: primaryEndpoint of GET /v1/replication-groups/{id}."""

    def __init__(self, address, group_id):
        self.api = benchlib.Api(address)
        self.path = benchlib.group_path(group_id)
        self.source = "the API's primaryEndpoint"

    def resolve(self):
        status, payload = self.api.call("GET", self.path)
        if status != 200:
            raise LookupError(f"GET {self.path} answered {status}")
        endpoint = json.loads(payload).get("primaryEndpoint")
        if not endpoint:
            raise LookupError("the group has no primaryEndpoint")
        return endpoint["host"], int(endpoint["port"])

    def close(self):
        if self.api.conn is not None:
            self.api.conn.close()


class SentinelPrimary:
    """SENTINEL get-master-addr-by-name, asking the Sentinels in turn: each resolve starts with the
    Sentinel after the one that answered last, so one that has not heard of the failover yet (only
    the leader knows the promoted replica before the others get its hello) is not asked forever."""

    def __init__(self, ports, name):
        self.ports, self.name, self.next, self.conns = ports, name, 0, {}
        self.source = "SENTINEL get-master-addr-by-name"

    def resolve(self):
        errors = []
        for k in range(len(self.ports)):
            port = self.ports[(self.next + k) % len(self.ports)]
            try:
                conn = self.conns.get(port) or Redis("127.0.0.1", port)
                self.conns[port] = conn
                reply = conn.call("SENTINEL", "get-master-addr-by-name", self.name)
            except (OSError, ConnectionError, RespError) as e:
                conn = self.conns.pop(port, None)
                if conn:
                    conn.close()
                errors.append(f"{port}: {type(e).__name__}")
                continue
            self.next = (self.next + k + 1) % len(self.ports)
            if not reply:
                raise LookupError(f"Sentinel {port} does not know {self.name}")
            return reply[0].decode(), int(reply[1])
        raise LookupError("no Sentinel answered (" + ", ".join(errors) + ")")

    def close(self):
        for conn in self.conns.values():
            conn.close()


# ---------------------------------------------------------------- Docker (the kill, timed)


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=10):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.unix_path)
        self.sock = sock


def engine_socket(uri):
    if not uri.startswith("unix://"):
        raise SystemExit(f"failoverlib: only unix:// engines are supported, not {uri}")
    return uri[len("unix://"):]


class Killer:
    """docker kill -s KILL through the engine's API on an open connection, so the moment is known to
    a few milliseconds. The engine answers once the container has stopped."""

    def __init__(self, engine_uri, container):
        self.conn = UnixHTTPConnection(engine_socket(engine_uri))
        self.conn.connect()
        self.container = container
        self.sent = self.done = None
        self.error = None
        self.finished = threading.Event()

    def kill(self):
        try:
            self.sent = time.monotonic()
            self.conn.request("POST", f"/containers/{self.container}/kill?signal=KILL")
            response = self.conn.getresponse()
            body = response.read()
            self.done = time.monotonic()
            if response.status != 204:
                self.error = f"kill answered {response.status}: {body[:200].decode(errors='replace')}"
        except (OSError, http.client.HTTPException) as e:
            self.error = f"kill failed: {e}"
        finally:
            self.conn.close()
            self.finished.set()

    def start(self):
        threading.Thread(target=self.kill, daemon=True).start()


# ---------------------------------------------------------------- the writer


class Write:
    """One attempt: sent, accepted (SET answered OK; None if not), done (WAIT answered, or the error)."""

    __slots__ = ("key", "sent", "accepted", "done", "status", "detail", "endpoint")

    def __init__(self, key, sent, accepted, done, status, detail="", endpoint=None):
        self.key, self.sent, self.accepted, self.done = key, sent, accepted, done
        self.status, self.detail, self.endpoint = status, detail, endpoint


def identify(conn, endpoint, killed_endpoint, after_kill):
    """Who answers on a connection: its run_id, role, uptime and port (and, when the killed
    primary's address answers again after the kill, which host process listens there)."""
    info = {}
    try:
        for line in conn.call("INFO", "server").decode().splitlines():
            key, _, value = line.partition(":")
            if key in ("run_id", "tcp_port", "uptime_in_seconds", "process_id", "executable", "config_file"):
                info[key] = value.strip()
        info["role"] = conn.call("ROLE")[0].decode()
    except (OSError, ConnectionError, RespError, ValueError) as e:
        info["error"] = type(e).__name__
    if after_kill and endpoint == killed_endpoint:
        ss = subprocess.run(["ss", "-ltnpH", f"sport = :{endpoint[1]}"], capture_output=True, text=True,
                            timeout=5, check=False)
        info["listener"] = " ".join(ss.stdout.split())
    return info


def write_until_done(resolver, killer, args, killed, on_kill=None):
    """Returns the writes, the endpoints used (in order, each with the time it was first used) and
    the servers connected to (time, endpoint, what the server says it is)."""
    writes, endpoints, servers = [], [], []
    conn, endpoint, i, fresh = None, None, 0, False
    started = time.monotonic()
    steady_since = None
    first_ok_after = None
    while True:
        now = time.monotonic()
        if killer.sent is None and steady_since is not None and now - steady_since >= args.warmup:
            killer.start()
            while killer.sent is None:  # the thread stamps the moment it sends
                time.sleep(0.0002)
            if on_kill:
                on_kill(killer.sent)
        if killer.finished.is_set() and killer.error:
            raise SystemExit(f"failoverlib: {killer.error}")
        if (first_ok_after is not None and now - first_ok_after >= args.after
                and now - killer.sent >= args.window):
            break
        if killer.sent is None and now - started > args.timeout:
            raise SystemExit(f"failoverlib: no steady writes within {args.timeout}s")
        if killer.sent is not None and now - killer.sent > args.timeout:
            print(f"failoverlib: no write accepted within {args.timeout}s of the kill", file=sys.stderr)
            break
        if conn is None:
            try:
                endpoint = resolver.resolve()
                conn = Redis(*endpoint, connect_timeout=0.5, timeout=1.0)
                fresh = True
                if not endpoints or endpoints[-1][0] != endpoint:
                    endpoints.append((endpoint, time.monotonic()))
            except (OSError, ConnectionError, LookupError, RespError, http.client.HTTPException, ValueError) as e:
                detail = f"connect {type(e).__name__}" + (f" ({e})" if isinstance(e, LookupError) else "")
                writes.append(Write(None, now, None, time.monotonic(), "error", detail))
                conn = None
                time.sleep(args.retry)
                continue
        i += 1
        key = f"k{i}"
        sent = time.monotonic()
        try:
            conn.send(("SET", key, "v"), ("WAIT", "1", "200"))
            set_reply = conn.read()
            accepted = time.monotonic()
            wait_reply = conn.read()
            done = time.monotonic()
            if isinstance(set_reply, RespError):
                raise set_reply
            if set_reply != "OK":
                raise ConnectionError(f"SET answered {set_reply!r}")
            acked = isinstance(wait_reply, int) and wait_reply >= 1
            writes.append(Write(key, sent, accepted, done, "ack" if acked else "accepted", endpoint=endpoint))
        except (OSError, ConnectionError, RespError, ValueError) as e:
            detail = str(e).split()[0] if isinstance(e, RespError) else type(e).__name__
            writes.append(Write(key, sent, None, time.monotonic(), "error", detail))
            conn.close()
            conn = None
            time.sleep(args.retry)
            continue
        if steady_since is None:
            steady_since = done
        if fresh:
            # After the write, so that it does not delay the first write on a new connection.
            fresh = False
            servers.append((accepted, endpoint, identify(conn, endpoint, killed, killer.sent is not None)))
        if killer.done is not None and sent >= killer.done and endpoint == killed:
            # Someone else answers at the dead node's address (see run()): not the group; ask again.
            conn.close()
            conn = None
            time.sleep(args.retry)
            continue
        if first_ok_after is None and killer.done is not None and sent >= killer.done:
            first_ok_after = accepted
        pause = sent + args.interval - time.monotonic()
        if pause > 0:
            time.sleep(pause)
    if conn is not None:
        conn.close()
    return writes, endpoints, servers


def missing_keys(resolver, keys, killed, timeout):
    """The keys the current primary does not have (MGET in batches), and the primary asked."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            endpoint = resolver.resolve()
            if endpoint == killed:
                raise LookupError(f"the primary is still given as the killed node {endpoint}")
            conn = Redis(*endpoint, timeout=5.0)
            try:
                role = conn.call("ROLE")
                if role[0] != b"master":
                    raise LookupError(f"{endpoint} is a {role[0].decode()}")
                missing = []
                for start in range(0, len(keys), 1000):
                    batch = keys[start:start + 1000]
                    values = conn.call("MGET", *batch)
                    missing += [k for k, v in zip(batch, values) if v is None]
                return missing, endpoint
            finally:
                conn.close()
        except (OSError, ConnectionError, LookupError, RespError, http.client.HTTPException) as e:
            if time.monotonic() >= deadline:
                raise SystemExit(f"failoverlib: could not read the keys back: {e}")
            time.sleep(0.05)


class GroupWatcher:
    """From the kill on, GET the group every 50 ms: the changes of its and its nodes' statuses, and
    the time until it is available again with NODES available nodes (full strength)."""

    def __init__(self, address, group_id, nodes, timeout):
        self.api = benchlib.Api(address)
        self.path = benchlib.group_path(group_id)
        self.nodes, self.timeout = nodes, timeout
        self.changes, self.recovered, self.thread = [], None, None

    def start(self, kill_at):
        self.thread = threading.Thread(target=self.watch, args=(kill_at,), daemon=True)
        self.thread.start()

    def watch(self, kill_at):
        deadline = kill_at + self.timeout
        last, degraded = None, False
        while time.monotonic() < deadline:
            try:
                status, payload = self.api.call("GET", self.path)
            except (OSError, http.client.HTTPException):
                status, payload = None, b""
            now = time.monotonic()
            if status == 200:
                group = json.loads(payload)
                nodes = [n for shard in group["shards"] for n in shard["nodes"]]
                summary = f"api: group {group['status']}; " + ", ".join(
                    f"{n['id'].rsplit('-', 1)[-1]} {n['role']} {n['status']}" for n in nodes)
                if summary != last:
                    self.changes.append((now - kill_at, summary))
                    last = summary
                full = (group["status"] == "available" and len(nodes) == self.nodes
                        and all(n["status"] == "available" for n in nodes))
                # Until the reconciler has noticed the kill, the group still looks whole.
                if full and degraded:
                    self.recovered = now - kill_at
                    return
                degraded = degraded or not full
            time.sleep(0.05)

    def wait(self):
        if self.thread is not None:
            self.thread.join()
        return self.recovered


# ---------------------------------------------------------------- what happened meanwhile


def parse_time(text):
    """RFC 3339 with any number of fraction digits, as a UTC epoch."""
    m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)?$", text)
    if not m:
        return None
    fraction = (m.group(2) or "0")[:6].ljust(6, "0")
    zone = m.group(3) or "Z"
    stamp = datetime.datetime.fromisoformat(f"{m.group(1)}.{fraction}{'+00:00' if zone == 'Z' else zone}")
    return stamp.timestamp()


def api_events(address, group_id, kill_epoch):
    query = "/v1/events?" + urllib.parse.urlencode(
        {"sourceType": "replication-group", "sourceId": group_id, "limit": 100})
    status, payload = benchlib.Api(address).call("GET", query)
    if status != 200:
        return [f"(GET /v1/events answered {status})"]
    lines = []
    for event in reversed(json.loads(payload)["items"]):
        at = parse_time(event["time"])
        if at is not None and at >= kill_epoch - 1:
            lines.append(f"{at - kill_epoch:+7.3f}s  {event['message']}")
    return lines


SENTINEL_LINE = re.compile(r"^\d+:X (\d+ \w{3} \d{4} \d\d:\d\d:\d\d\.\d{3}) [.*#-] (\S+) (.*)$")
SENTINEL_STEPS = ("+sdown", "+odown", "+try-failover", "+vote-for-leader", "+elected-leader",
                  "+selected-slave", "+failover-state-send-slaveof-noone", "+promoted-slave",
                  "+slave-reconf-sent", "+slave-reconf-done", "+failover-end", "+switch-master")


def sentinel_timeline(engine_uri, containers, kill_epoch):
    """The first time any Sentinel logged each step of the failover, relative to the kill."""
    first = {}
    for name in containers:
        logs = subprocess.run(["docker", "-H", engine_uri, "logs", name], capture_output=True, text=True,
                              timeout=30, check=False)
        for line in (logs.stdout + logs.stderr).splitlines():
            m = SENTINEL_LINE.match(line.strip())
            if not m or not (m.group(2) in SENTINEL_STEPS or m.group(2).startswith("-failover-abort")):
                continue
            if m.group(2) == "+sdown" and not m.group(3).startswith("master"):
                continue
            at = datetime.datetime.strptime(m.group(1), "%d %b %Y %H:%M:%S.%f").replace(
                tzinfo=datetime.timezone.utc).timestamp()
            if at >= kill_epoch - 0.5 and (m.group(2) not in first or at < first[m.group(2)][0]):
                first[m.group(2)] = (at, name, m.group(3))
    return [f"{first[s][0] - kill_epoch:+7.3f}s  {s} {first[s][2]}  ({first[s][1]})"
            for s in sorted(first, key=lambda s: first[s][0])]


def offset_of(line):
    """The seconds a timeline line starts with (notes without one go last)."""
    try:
        return float(line.split("s", 1)[0])
    except ValueError:
        return float("inf")


# ---------------------------------------------------------------- one run


def unavailability(acked, kill_at, window, gap):
    """The time without acknowledged writes in the window after the kill: the sum of the gaps longer
    than GAP between the kill, each acknowledged write's end and the window's end (a client writing
    every 5 ms sees gaps of a few ms while all is well). Also the gaps (start after the kill, length)."""
    end = kill_at + window
    points = [kill_at] + sorted(t for t in acked if kill_at <= t <= end) + [end]
    gaps = [(a - kill_at, b - a) for a, b in zip(points, points[1:]) if b - a > gap]
    return sum(length for _, length in gaps), gaps



def run(args):
    if args.side == "ours":
        resolver = ApiPrimary(args.api, args.group)
    else:
        resolver = SentinelPrimary([int(p) for p in args.sentinels.split(",")], args.master)
    killer = Killer(args.engine, args.container)
    watcher = GroupWatcher(args.api, args.group, args.nodes, args.timeout) if args.side == "ours" and args.nodes else None
    epoch_offset = time.time() - time.monotonic()

    killed = (args.killed.rsplit(":", 1)[0], int(args.killed.rsplit(":", 1)[1]))
    writes, endpoints, servers = write_until_done(resolver, killer, args, killed, watcher.start if watcher else None)
    kill_at, kill_done = killer.sent, killer.done
    kill_epoch = kill_at + epoch_offset

    # Writes a server at the killed node's address took after the kill: that cannot be the node, so
    # they are not counted as the end of the outage (and are reported).
    stale = [w for w in writes if w.status != "error" and w.sent >= kill_done and w.endpoint == killed]
    ok_after = [w for w in writes if w.status != "error" and w.sent >= kill_done and w.endpoint != killed]
    ack_after = [w for w in ok_after if w.status == "ack"]
    outage = ok_after[0].accepted - kill_at if ok_after else None
    ack_outage = ack_after[0].done - kill_at if ack_after else None
    ok_times = [w.accepted for w in writes if w.status != "error"]
    unavailable, gaps = unavailability([w.done for w in writes if w.status == "ack" and w not in stale], kill_at, args.window, args.gap)
    gap = max((b - a for a, b in zip(ok_times, ok_times[1:]) if b >= kill_at), default=None)
    errors_after = [w for w in writes if w.status == "error" and w.done >= kill_at]
    kinds = {}
    for w in errors_after:
        kinds[w.detail] = kinds.get(w.detail, 0) + 1
    first_error = min((w.done for w in errors_after), default=None)

    # The group's writes only: what a stranger at the dead node's address took is not the group's.
    acked = [w.key for w in writes if w.status == "ack" and w not in stale]
    unacked = [w.key for w in writes if w.status == "accepted" and w not in stale]
    missing, read_from = missing_keys(resolver, acked + unacked, killed, 30)
    missing_set = set(missing)
    lost = [k for k in acked if k in missing_set]
    unacked_missing = [k for k in unacked if k in missing_set]
    resolver.close()

    before = endpoints[0][0]
    after = endpoints[-1][0]
    switched = next((t for e, t in endpoints if e != before and t >= kill_at), None)

    recovery = watcher.wait() if watcher else None

    fmt = lambda v: f"{v:.2f}s" if v is not None else "never"  # noqa: E731
    label = f"{args.label:<8} {args.side:<8}"
    print(f"  {label} no acknowledged write for {fmt(unavailable)} in the {args.window:.0f} s after the kill "
          f"({len(gaps)} gaps over {1000 * args.gap:.0f} ms: " + ", ".join(f"+{a:.3f}s {b:.3f}s" for a, b in gaps[:6]) + ")")
    print(f"  {'':<8} {'':<8} outage {fmt(outage)} (first acked write {fmt(ack_outage)}, longest gap between "
          f"accepted writes {fmt(gap)}); lost {len(lost)} of {len(acked)} acked writes; "
          f"{len(unacked)} accepted without a replica's ack ({len(unacked_missing)} of them missing)")
    where = f"{before[0]}:{before[1]}" + (f" -> {after[0]}:{after[1]} (changed)" if after != before else " (unchanged)")
    extra = f"; back to {args.nodes} available nodes after {fmt(recovery)}" if args.side == "ours" and args.nodes else ""
    killed_at = datetime.datetime.fromtimestamp(kill_epoch, datetime.timezone.utc).strftime("%H:%M:%S.%f")[:-3]
    print(f"  {'':<8} {'':<8} endpoint {where}; killed at {killed_at} UTC, kill call {1000 * (kill_done - kill_at):.0f} ms; "
          f"{sum(kinds.values())} failed attempts after the kill ("
          + ", ".join(f"{k} x{n}" for k, n in sorted(kinds.items(), key=lambda x: -x[1])) + ")" + extra)
    timeline = []
    if first_error is not None:
        timeline.append(f"{first_error - kill_at:+7.3f}s  client: first failed attempt")
    if switched is not None:
        timeline.append(f"{switched - kill_at:+7.3f}s  client: {resolver.source} gives the new primary {after[0]}:{after[1]}")
    for at, (host, port), info in servers:
        if at >= kill_at:
            timeline.append(f"{at - kill_at:+7.3f}s  client: wrote to {host}:{port}: "
                            + ", ".join(f"{k} {v}" for k, v in info.items()))
    if outage is not None:
        timeline.append(f"{outage:+7.3f}s  client: first write accepted")
    if ack_outage is not None:
        timeline.append(f"{ack_outage:+7.3f}s  client: first write acknowledged by a replica")
    try:
        if args.side == "ours":
            timeline += api_events(args.api, args.group, kill_epoch)
            timeline += [f"{t:+7.3f}s  {summary}" for t, summary in (watcher.changes if watcher else [])]
        else:
            timeline += sentinel_timeline(args.engine, args.sentinel_containers.split(","), kill_epoch)
    except (OSError, subprocess.SubprocessError, http.client.HTTPException, ValueError) as e:
        timeline.append(f"(could not read the timeline: {e})")
    timeline.sort(key=offset_of)
    if args.timeline:
        for line in timeline:
            print(f"  {'':<8} {'':<8}   {line}")
    if stale:
        print(f"  {'':<8} {'':<8} ODD: {len(stale)} writes accepted at the killed node's address "
              f"{killed[0]}:{killed[1]} after the kill ({stale[0].key} .. {stale[-1].key}), not counted")
    if lost:
        print(f"  {'':<8} {'':<8} LOST acknowledged keys (read from {read_from[0]}:{read_from[1]}): "
              + " ".join(lost[:50]) + (" ..." if len(lost) > 50 else ""))
    if watcher and recovery is None:
        print(f"  {'':<8} {'':<8} the group did not return to {args.nodes} available nodes within {args.timeout}s")

    result = {"side": args.side, "run": args.run, "unavailable": unavailable, "outage": outage, "ack_outage": ack_outage, "gap": gap,
              "acked": len(acked), "lost": len(lost), "lost_keys": lost[:200], "unacked": len(unacked),
              "unacked_missing": len(unacked_missing), "recovery": recovery,
              "endpoint_before": f"{before[0]}:{before[1]}", "endpoint_after": f"{after[0]}:{after[1]}",
              "kill_ms": 1000 * (kill_done - kill_at), "stale_writes": len(stale)}
    with open(args.result, "a", encoding="utf-8") as f:
        f.write(json.dumps(result) + "\n")
    if outage is None:
        sys.exit(1)


# ---------------------------------------------------------------- Sentinels ready


def sentinel_ready(name, replicas, timeout, ports):
    deadline = time.monotonic() + timeout
    last = ""
    while True:
        try:
            ready = True
            for port in ports:
                conn = Redis("127.0.0.1", port, timeout=2.0)
                try:
                    master = pairs(conn.call("SENTINEL", "MASTER", name))
                    linked = [pairs(r) for r in conn.call("SENTINEL", "REPLICAS", name)]
                    quorum = conn.call("SENTINEL", "CKQUORUM", name)
                finally:
                    conn.close()
                good = [r for r in linked if r.get("flags") == "slave" and r.get("master-link-status") == "ok"]
                last = (f"Sentinel {port}: flags {master.get('flags')}, {len(good)}/{master.get('num-slaves')} "
                        f"replicas linked, {master.get('num-other-sentinels')} other Sentinels, {quorum}")
                if (master.get("flags") != "master" or len(good) != replicas
                        or int(master.get("num-other-sentinels", 0)) != len(ports) - 1):
                    ready = False
                    break
            if ready:
                return
        except (OSError, ConnectionError, RespError) as e:
            last = f"{type(e).__name__}: {e}"
        if time.monotonic() >= deadline:
            benchlib.fail(f"the Sentinels are not ready after {timeout}s: {last}")
        time.sleep(0.05)


# ---------------------------------------------------------------- the figures


def stats(target_ratio):
    results = [json.loads(line) for line in sys.stdin if line.strip()]
    timed = [r for r in results if r["run"] > 0]
    by_side = {side: [r for r in timed if r["side"] == side] for side in ("ours", "sentinel")}

    def values(side, field):
        return [r[field] for r in by_side[side] if r[field] is not None]

    def cell(vals):
        if not vals:
            return "n/a"
        return f"{statistics.median(vals):.2f}s ({min(vals):.2f}-{max(vals):.2f})"

    names = {"ours": "ours (API + reconciler)", "sentinel": "Redis Sentinel"}
    print("| side | runs | no acknowledged write, total in the 10 s after the kill | write outage (first accepted) | first acknowledged write | lost acknowledged writes | back to 3 available nodes |")
    print("|---|---|---|---|---|---|---|")
    for side in ("ours", "sentinel"):
        rows = by_side[side]
        strength = cell(values(side, "recovery")) if side == "ours" else "n/a (not replaced)"
        print(f"| {names[side]} | {len(rows)} | {cell(values(side, 'unavailable'))} | {cell(values(side, 'outage'))} | {cell(values(side, 'ack_outage'))} | "
              f"{sum(r['lost'] for r in rows)} of {sum(r['acked'] for r in rows)} | {strength} |")
    print()
    for side in ("ours", "sentinel"):
        print(f"  {side:<8} no acks   " + " ".join(f"{v:.3f}" for v in values(side, "unavailable")))
        print(f"  {side:<8} outage    " + " ".join(f"{v:.2f}" for v in values(side, "outage")))
        print(f"  {side:<8} first ack " + " ".join(f"{v:.2f}" for v in values(side, "ack_outage")))
        print(f"  {side:<8} lost      " + " ".join(str(r["lost"]) for r in by_side[side]))
    recovery = values("ours", "recovery")
    print("  ours     back to full strength " + " ".join(f"{v:.2f}" for v in recovery)
          + (f" (median {statistics.median(recovery):.2f}s)" if recovery else ""))
    changed = [r for r in by_side["ours"] if r["endpoint_before"] != r["endpoint_after"]]
    print(f"  ours     primaryEndpoint changed across the failover in {len(changed)} of {len(by_side['ours'])} runs"
          + (" (" + "; ".join(f"{r['endpoint_before']} -> {r['endpoint_after']}" for r in changed) + ")" if changed else
             " (stable endpoint)"))
    odd = [r for r in results if r.get("stale_writes")]
    if odd:
        print("  ODD: writes were accepted at the killed node's address after the kill in "
              + "; ".join(f"{r['side']} run {r['run']} ({r['stale_writes']})" for r in odd)
              + " (not counted as the end of the outage; see the runs' timelines)")
    cold = [r for r in results if r["run"] == 0]
    if cold:
        print("  warm-up (untimed, first failover of the process): " + "; ".join(
            f"{r['side']} {r['outage']:.2f}s" if r["outage"] is not None else f"{r['side']} never" for r in cold))
    print()

    ours, base = values("ours", "unavailable"), values("sentinel", "unavailable")
    lost_ours = sum(r["lost"] for r in by_side["ours"])
    lost_base = sum(r["lost"] for r in by_side["sentinel"])
    if ours and base and len(ours) == len(by_side["ours"]) and len(base) == len(by_side["sentinel"]):
        ratio = statistics.median(ours) / statistics.median(base)
        met = ratio <= target_ratio and lost_ours == 0
        print(f"target: time without acknowledged writes, ours <= {target_ratio:.2f} x Sentinel, and no acknowledged write lost: "
              f"{'met' if met else 'MISSED'}")
        print(f"failover-bench: no_acks ours={statistics.median(ours):.3f}s sentinel={statistics.median(base):.3f}s "
              f"ratio={ratio:.3f} lost_ours={lost_ours} lost_sentinel={lost_base}")
    else:
        print("target: MISSED (a failover never completed)")
        print(f"failover-bench: ours={'n/a'} sentinel={'n/a'} ratio=n/a lost_ours={lost_ours} lost_sentinel={lost_base}")
    out_ours, out_base = values("ours", "outage"), values("sentinel", "outage")
    if out_ours and out_base:
        print(f"failover-bench: first_accepted ours={statistics.median(out_ours):.2f}s sentinel={statistics.median(out_base):.2f}s")
    ack_ours, ack_base = values("ours", "ack_outage"), values("sentinel", "ack_outage")
    if ack_ours and ack_base:
        print(f"failover-bench: first_ack ours={statistics.median(ack_ours):.2f}s "
              f"sentinel={statistics.median(ack_base):.2f}s")
    if recovery:
        print(f"failover-bench: ours_full_strength={statistics.median(recovery):.2f}s "
              f"(kill to 3 available nodes, median of {len(recovery)})")
    print(f"failover-bench: endpoint_changed={len(changed)}/{len(by_side['ours'])}")


def main(argv):
    if len(argv) < 2:
        benchlib.fail("usage: failoverlib.py sentinel-ready|run|stats ...")
    command = argv[1]
    if command == "sentinel-ready":
        sentinel_ready(argv[2], int(argv[3]), float(argv[4]), [int(p) for p in argv[5:]])
    elif command == "stats":
        stats(float(argv[2]))
    elif command == "run":
        parser = argparse.ArgumentParser(prog="failoverlib.py run")
        parser.add_argument("--side", choices=("ours", "sentinel"), required=True)
        parser.add_argument("--run", type=int, required=True, help="0: the warm-up")
        parser.add_argument("--label", required=True)
        parser.add_argument("--engine", required=True, help="unix:// URI of the Docker engine")
        parser.add_argument("--container", required=True, help="the primary's container, killed")
        parser.add_argument("--killed", required=True, help="host:port of the killed primary node")
        parser.add_argument("--result", required=True, help="file the run's JSON line is appended to")
        parser.add_argument("--api", help="ours: host:port of the API")
        parser.add_argument("--group", help="ours: the replication group id")
        parser.add_argument("--nodes", type=int, default=0, help="ours: wait for this many available nodes")
        parser.add_argument("--sentinels", help="sentinel: their ports, comma-separated")
        parser.add_argument("--sentinel-containers", default="", help="sentinel: their containers (logs)")
        parser.add_argument("--master", help="sentinel: the monitored master's name")
        parser.add_argument("--interval", type=float, default=0.005)
        parser.add_argument("--retry", type=float, default=0.010)
        parser.add_argument("--warmup", type=float, default=1.0)
        parser.add_argument("--after", type=float, default=2.0)
        parser.add_argument("--window", type=float, default=10.0, help="seconds after the kill the writer runs and is judged on")
        parser.add_argument("--gap", type=float, default=0.05, help="a longer gap between acknowledged writes counts as unavailable")
        parser.add_argument("--timeout", type=float, default=120.0)
        parser.add_argument("--timeline", type=int, default=1)
        run(parser.parse_args(argv[2:]))
    else:
        benchlib.fail(f"unknown command {command}")


if __name__ == "__main__":
    main(sys.argv)
