#!/usr/bin/env python3
"""The cluster client, the loader and the figures of deploy/bench/reshard.sh. Standard library only
(raw RESP, through failoverlib.Redis).

  reshardlib.py load --seeds H:P,... --keys N --value-size B
      SET key:0 .. key:<N-1> (each value "<i>:" padded with x to B bytes), pipelined to each key's
      master by the cluster's slot map
  reshardlib.py step OPTIONS -- [COMMAND...]
      one migration under a concurrent writer: the slot map and the keys per slot before, the writer
      started (SET w:<side>:<step>:<i> at --rate writes/s, following MOVED and ASK), after --warmup s
      of steady writes the migration (baseline: COMMAND, e.g. redis-cli --cluster rebalance; ours:
      PATCH numShards, then GET until the group is available with that many shards), timed; the
      writer goes on --after s more; then the slot map again, every loaded key and every
      acknowledged write read back. Prints the step's line, appends its figures (one JSON line) to
      --result. Exits 3 when ours did not finish within --timeout. See `step --help`.
  reshardlib.py stats TARGET_RATIO < RESULTS
      the table and the quotable lines

Keys moved = the keys, counted per slot just before the migration, of the slots whose owner (node
id) differs after it. Writes sent during the migration into moved slots are not counted as moved.
The worst write latency is over the writes in flight at any time between the migration's start
and end: from the first send to the OK, redirections and retries included. After each step the
writer's keys are deleted, so every step moves the loaded keys only.
"""

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402  (next to this file)
from failoverlib import Redis, RespError  # noqa: E402

SLOTS = 16384
LOOPBACK = ("127.0.0.1", "localhost")


# ---------------------------------------------------------------- slots


def _crc16_table():
    table = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
        table.append(crc & 0xFFFF)
    return table


CRC16 = _crc16_table()


def keyslot(key):
    """Redis Cluster's slot of KEY (str): CRC16/XMODEM of the hash tag or the whole key, mod 16384."""
    data = key.encode()
    start = data.find(b"{")
    if start >= 0:
        end = data.find(b"}", start + 1)
        if end > start + 1:
            data = data[start + 1:end]
    crc = 0
    for b in data:
        crc = ((crc << 8) & 0xFFFF) ^ CRC16[((crc >> 8) ^ b) & 0xFF]
    return crc % SLOTS


def loaded_key(i):
    return f"key:{i}"


def loaded_value(i, size):
    head = f"{i}:"
    return (head + "x" * max(0, size - len(head))).encode()


# ---------------------------------------------------------------- the cluster client


class Cluster:
    """A slot map (CLUSTER SLOTS) and one connection per node. execute() follows MOVED and ASK and
    retries TRYAGAIN, CLUSTERDOWN and broken connections until its deadline."""

    def __init__(self, seeds, timeout=2.0):
        self.seeds = list(seeds)
        self.timeout = timeout
        self.owner = [None] * SLOTS  # (host, port) of each slot's master
        self.ids = {}  # (host, port) -> node id
        self.conns = {}
        self.redirects = {"MOVED": 0, "ASK": 0, "retry": 0}

    @staticmethod
    def address(host, port):
        host = host.decode() if isinstance(host, bytes) else host
        if host not in LOOPBACK:
            # The bench speaks to loopback only, whatever a node announces.
            raise LookupError(f"a node announces {host}:{port}, not a loopback address")
        return "127.0.0.1", int(port)

    def conn(self, addr):
        c = self.conns.get(addr)
        if c is None:
            c = Redis(*addr, connect_timeout=1.0, timeout=self.timeout)
            self.conns[addr] = c
        return c

    def drop(self, addr):
        c = self.conns.pop(addr, None)
        if c is not None:
            c.close()

    def close(self):
        for addr in list(self.conns):
            self.drop(addr)

    def candidates(self):
        known = [a for a in dict.fromkeys(self.owner) if a is not None]
        return list(dict.fromkeys(known + self.seeds))

    def slots_from(self, addr):
        """CLUSTER SLOTS of one node: (owner per slot, node id per address)."""
        owner, ids = [None] * SLOTS, {}
        for entry in self.conn(addr).call("CLUSTER", "SLOTS"):
            start, end, master = entry[0], entry[1], entry[2]
            a = self.address(master[0] or addr[0], master[1])
            if len(master) > 2 and master[2]:
                ids[a] = master[2].decode()
            for slot in range(start, end + 1):
                owner[slot] = a
        return owner, ids

    def refresh(self):
        errors = []
        for addr in self.candidates():
            try:
                self.owner, ids = self.slots_from(addr)
                self.ids.update(ids)
                return addr
            except (OSError, ConnectionError, RespError) as e:
                self.drop(addr)
                errors.append(f"{addr[1]}: {type(e).__name__}")
        raise LookupError("no node answered CLUSTER SLOTS (" + ", ".join(errors) + ")")

    def settled(self, timeout):
        """Wait until every master of the map gives the same map; returns (owner ids per slot,
        whether they agreed). An unassigned slot is None."""
        deadline = time.monotonic() + timeout
        while True:
            self.refresh()
            masters = [a for a in dict.fromkeys(self.owner) if a is not None]
            views = []
            for addr in masters:
                try:
                    owner, ids = self.slots_from(addr)
                    self.ids.update(ids)
                    views.append(owner)
                except (OSError, ConnectionError, RespError):
                    self.drop(addr)
                    views.append(None)
            agreed = all(v == self.owner for v in views)
            if agreed or time.monotonic() >= deadline:
                return [self.ids.get(a, f"{a[0]}:{a[1]}") if a else None for a in self.owner], agreed
            time.sleep(0.05)

    def slot_counts(self):
        """Keys per slot, each slot asked of its master (CLUSTER COUNTKEYSINSLOT, pipelined)."""
        counts = [0] * SLOTS
        by_node = {}
        for slot, addr in enumerate(self.owner):
            if addr is not None:
                by_node.setdefault(addr, []).append(slot)
        for addr, slots in by_node.items():
            c = self.conn(addr)
            for i in range(0, len(slots), 2000):
                batch = slots[i:i + 2000]
                c.send(*[("CLUSTER", "COUNTKEYSINSLOT", s) for s in batch])
                for s in batch:
                    reply = c.read()
                    if isinstance(reply, RespError):
                        raise reply
                    counts[s] = reply
        return counts

    def execute(self, key, args, timeout):
        slot = keyslot(key)
        deadline = time.monotonic() + timeout
        addr, asking, hops = self.owner[slot], False, 0
        while True:
            if time.monotonic() >= deadline:
                raise TimeoutError(f"no answer for {key} within {timeout}s")
            try:
                if addr is None:
                    self.refresh()
                    addr, asking = self.owner[slot], False
                    if addr is None:
                        raise LookupError(f"slot {slot} has no owner")
                c = self.conn(addr)
                if asking:
                    c.send(("ASKING",), args)
                    c.read()
                else:
                    c.send(args)
                reply = c.read()
            except (OSError, ConnectionError, LookupError):
                if addr is not None:
                    self.drop(addr)
                self.redirects["retry"] += 1
                time.sleep(0.01)
                addr, asking = None, False
                continue
            if isinstance(reply, RespError):
                words = str(reply).split()
                if words and words[0] in ("MOVED", "ASK") and len(words) == 3:
                    host, _, port = words[2].rpartition(":")
                    target = self.address(host or addr[0], port)
                    self.redirects[words[0]] += 1
                    if words[0] == "MOVED":
                        self.owner[slot] = target
                    addr, asking = target, words[0] == "ASK"
                    hops += 1
                    if hops % 8 == 0:  # two nodes that disagree for a moment must not spin the CPU
                        time.sleep(0.005)
                    continue
                if words and words[0] in ("TRYAGAIN", "CLUSTERDOWN", "LOADING"):
                    self.redirects["retry"] += 1
                    time.sleep(0.01)
                    asking = False
                    continue
                raise reply
            return reply

    def read_keys(self, keys):
        """GET every key: {key: value or None}."""
        return self.each_key(keys, "GET")

    def each_key(self, keys, command):
        """COMMAND key for every key, pipelined to its master (a redirected one again through
        execute()): {key: reply}."""
        values, again = {}, []
        by_node = {}
        for key in keys:
            by_node.setdefault(self.owner[keyslot(key)], []).append(key)
        for addr, node_keys in by_node.items():
            if addr is None:
                again += node_keys
                continue
            try:
                c = self.conn(addr)
                for i in range(0, len(node_keys), 2000):
                    batch = node_keys[i:i + 2000]
                    c.send(*[(command, k) for k in batch])
                    for k in batch:
                        reply = c.read()
                        if isinstance(reply, RespError):
                            again.append(k)
                        else:
                            values[k] = reply
            except (OSError, ConnectionError):
                self.drop(addr)
                again += [k for k in node_keys if k not in values]
        for key in again:
            values[key] = self.execute(key, (command, key), 10.0)
        return values


def parse_seeds(text):
    seeds = []
    for item in text.split(","):
        host, _, port = item.strip().rpartition(":")
        seeds.append(Cluster.address(host or "127.0.0.1", port))
    return seeds


# ---------------------------------------------------------------- load


def load(args):
    cluster = Cluster(parse_seeds(args.seeds), timeout=10.0)
    cluster.refresh()
    started = time.monotonic()
    by_node = {}
    for i in range(args.keys):
        by_node.setdefault(cluster.owner[keyslot(loaded_key(i))], []).append(i)
    if None in by_node:
        benchlib.fail(f"{len(by_node[None])} keys hash to slots without an owner")
    for addr, indexes in by_node.items():
        c = cluster.conn(addr)
        for start in range(0, len(indexes), 5000):
            batch = indexes[start:start + 5000]
            c.send(*[("SET", loaded_key(i), loaded_value(i, args.value_size)) for i in batch])
            for i in batch:
                reply = c.read()
                if reply != "OK":
                    benchlib.fail(f"SET {loaded_key(i)} on {addr[0]}:{addr[1]} answered {reply!r}")
    cluster.close()
    print(f"loaded {args.keys} keys of {args.value_size} bytes into {len(by_node)} masters in "
          f"{time.monotonic() - started:.2f}s")


# ---------------------------------------------------------------- the writer


class Writer(threading.Thread):
    """SET <prefix><i> <i> at RATE writes/s through its own cluster client. A write is acknowledged
    when SET answered OK (there are no replicas to wait for)."""

    def __init__(self, seeds, prefix, rate, write_timeout):
        super().__init__(daemon=True)
        self.cluster = Cluster(seeds, timeout=write_timeout)
        self.prefix, self.interval, self.write_timeout = prefix, 1.0 / rate, write_timeout
        self.writes = []  # (key, sent, done, ok, detail)
        self.stopping = threading.Event()

    def run(self):
        try:
            self.cluster.refresh()
        except LookupError:
            pass  # execute() refreshes again
        i, next_at = 0, time.monotonic()
        while not self.stopping.is_set():
            key = f"{self.prefix}{i}"
            sent = time.monotonic()
            try:
                reply = self.cluster.execute(key, ("SET", key, str(i)), self.write_timeout)
                ok, detail = reply == "OK", "" if reply == "OK" else repr(reply)
            except (RespError, TimeoutError, LookupError) as e:
                ok, detail = False, str(e).split()[0] if str(e) else type(e).__name__
            self.writes.append((key, sent, time.monotonic(), ok, detail))
            i += 1
            next_at = max(next_at + self.interval, time.monotonic() - self.interval)
            pause = next_at - time.monotonic()
            if pause > 0:
                time.sleep(pause)

    def steady_for(self, seconds, timeout):
        """Wait until the writer has had SECONDS of acknowledged writes with no failure."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ok = [w for w in self.writes if w[3]]
            if ok and not any(not w[3] for w in self.writes) and ok[-1][2] - ok[0][1] >= seconds:
                return
            time.sleep(0.05)
        raise SystemExit(f"reshardlib: the writer was not steady within {timeout}s")

    def stop(self):
        self.stopping.set()
        self.join(self.write_timeout + 5)
        self.cluster.close()


# ---------------------------------------------------------------- the control plane's reshard


def ours_reshard(address, group_id, shards, timeout, log):
    """PATCH numShards, then GET every 50 ms until the group is available with SHARDS shards.
    Returns (finished, last status line)."""
    api = benchlib.Api(address)
    path = benchlib.group_path(group_id)
    status, payload = api.call("PATCH", path, json.dumps({"numShards": shards}))
    log.write(f"PATCH {path} numShards={shards}: {status} {payload[:300].decode(errors='replace')}\n")
    if status != 202:
        return False, f"PATCH answered {status}: {payload[:300].decode(errors='replace')}"
    deadline = time.monotonic() + timeout
    last = ""
    while True:
        try:
            status, payload = api.call("GET", path)
        except (OSError, http.client.HTTPException) as e:
            status, payload = None, str(e).encode()
        if status == 200:
            group = json.loads(payload)
            line = (f"status {group['status']}, numShards {group.get('numShards')}, shards "
                    + ", ".join(f"{s['id']} {s['status']} {s.get('slots', '')}" for s in group["shards"])
                    + (f", pendingChanges {json.dumps(group.get('pendingChanges'))}" if group.get("pendingChanges") else ""))
            if line != last:
                log.write(f"{time.strftime('%H:%M:%S')} {line}\n")
                last = line
            if (group["status"] == "available" and len(group["shards"]) == shards
                    and all(s["status"] == "available" for s in group["shards"])):
                return True, last
        if time.monotonic() >= deadline:
            return False, last
        time.sleep(0.05)


# ---------------------------------------------------------------- one step


def step(args):
    seeds = parse_seeds(args.seeds)
    probe = Cluster(seeds, timeout=10.0)
    before, agreed = probe.settled(10.0)
    if not agreed:
        benchlib.fail("the masters do not agree on the slot map before the migration")
    counts = probe.slot_counts()
    keys = [loaded_key(i) for i in range(args.keys)]

    writer = Writer(seeds, f"w:{args.side}:{args.step}:", args.rate, args.write_timeout)
    writer.start()
    writer.steady_for(args.warmup, 30)
    finished, detail = True, ""
    with open(args.log, "a", encoding="utf-8") as log:
        log.write(f"---- {args.side} {args.step}: {' '.join(args.command)}\n")
        log.flush()
        start = time.monotonic()
        if args.side == "baseline":
            try:
                rc = subprocess.run(args.command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    timeout=args.timeout, check=False).returncode
                finished, detail = rc == 0, f"exit {rc}"
            except subprocess.TimeoutExpired:
                finished, detail = False, f"still running after {args.timeout}s (killed)"
        else:
            finished, detail = ours_reshard(args.api, args.group, args.shards, args.timeout, log)
        end = time.monotonic()
    time.sleep(args.after)
    writer.stop()

    after, agreed = probe.settled(10.0)
    moved = [s for s in range(SLOTS) if before[s] != after[s]]
    keys_moved = sum(counts[s] for s in moved)
    unowned = sum(1 for s in after if s is None)
    seconds = end - start

    values = probe.read_keys(keys)
    lost = [k for i, k in enumerate(keys) if values.get(k) != loaded_value(i, args.value_size)]
    acked = [(w[0], w[0].rsplit(":", 1)[1]) for w in writer.writes if w[3]]
    acked_values = probe.read_keys([k for k, _ in acked])
    acked_lost = [k for k, v in acked if acked_values.get(k) != v.encode()]
    # The writer's keys go, so that the next step moves the loaded keys only.
    probe.each_key([w[0] for w in writer.writes], "DEL")
    failed = [w for w in writer.writes if not w[3]]
    during = [w for w in writer.writes if w[1] <= end and w[2] >= start]
    latencies = sorted(1000 * (w[2] - w[1]) for w in during)
    steady = sorted(1000 * (w[2] - w[1]) for w in writer.writes if w[2] < start)
    worst = latencies[-1] if latencies else None
    p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))] if latencies else None
    steady_worst = steady[-1] if steady else None
    probe.close()

    nodes_before = len({o for o in before if o})
    nodes_after = len({o for o in after if o})
    label = f"{args.step:<5} {args.side:<8}"
    if finished:
        rate = keys_moved / seconds if seconds > 0 else 0.0
        print(f"  {label} {len(moved)} slots, {keys_moved} keys moved in {seconds:.2f}s = {rate:.0f} keys/s "
              f"({nodes_before} -> {nodes_after} masters)")
    else:
        rate = None
        so_far = f"{len(moved)} slots, {keys_moved} keys had moved by then ({nodes_before} -> {nodes_after} masters)"
        if detail.startswith("PATCH answered"):
            print(f"  {label} control plane refused the reshard: {detail}")
        elif detail.startswith("exit"):
            print(f"  {label} redis-cli failed ({detail}; its output in migrations.log, BENCH_VERBOSE=1); {so_far}")
        else:
            what = "control plane" if args.side == "ours" else "redis-cli"
            print(f"  {label} {what} did not finish within {args.timeout:.0f} s ({detail}); {so_far}")
    fmt = lambda v: f"{v:.1f} ms" if v is not None else "n/a"  # noqa: E731
    print(f"  {'':<5} {'':<8} keys lost {len(lost)} of {len(keys)}; worst write {fmt(worst)} during the migration "
          f"(p99 {fmt(p99)}, {len(during)} writes; before it: worst {fmt(steady_worst)}); acknowledged writes lost "
          f"{len(acked_lost)} of {len(acked)}; failed writes {len(failed)}; redirections MOVED {writer.cluster.redirects['MOVED']}, "
          f"ASK {writer.cluster.redirects['ASK']}, retries {writer.cluster.redirects['retry']}")
    if not agreed:
        print(f"  {'':<5} {'':<8} ODD: the masters did not agree on the slot map 10 s after the migration")
    if unowned:
        print(f"  {'':<5} {'':<8} ODD: {unowned} slots have no owner after the migration")
    if lost:
        print(f"  {'':<5} {'':<8} LOST keys: " + " ".join(lost[:20]) + (" ..." if len(lost) > 20 else ""))
    if acked_lost:
        print(f"  {'':<5} {'':<8} LOST acknowledged writes: " + " ".join(acked_lost[:20])
              + (" ..." if len(acked_lost) > 20 else ""))
    if failed:
        kinds = {}
        for w in failed:
            kinds[w[4]] = kinds.get(w[4], 0) + 1
        print(f"  {'':<5} {'':<8} failed writes: " + ", ".join(f"{k} x{n}" for k, n in kinds.items()))

    result = {"side": args.side, "step": args.step, "finished": finished, "seconds": seconds if finished else None,
              "slots_moved": len(moved), "keys_moved": keys_moved, "keys_per_s": rate, "keys": len(keys),
              "keys_lost": len(lost), "worst_ms": worst, "p99_ms": p99, "steady_worst_ms": steady_worst,
              "writes_during": len(during), "acked": len(acked), "acked_lost": len(acked_lost), "failed_writes": len(failed)}
    with open(args.result, "a", encoding="utf-8") as f:
        f.write(json.dumps(result) + "\n")
    if not finished:
        sys.exit(3)


# ---------------------------------------------------------------- the figures


def stats(target_ratio):
    results = [json.loads(line) for line in sys.stdin if line.strip()]
    steps = list(dict.fromkeys(r["step"] for r in results))
    by = {(r["step"], r["side"]): r for r in results}
    names = {"baseline": "redis-cli --cluster", "ours": "ours (API + reconciler)"}

    def num(v, f="{:.0f}"):
        return f.format(v) if v is not None else "n/a"

    print("| step | side | slots moved | keys moved | seconds | keys/s | keys lost | worst write latency | acknowledged writes lost |")
    print("|---|---|---|---|---|---|---|---|---|")
    for s in steps:
        for side in ("baseline", "ours"):
            r = by.get((s, side))
            if r is None:
                continue
            seconds = num(r["seconds"], "{:.2f}s") if r["finished"] else "did not finish"
            print(f"| {s} | {names[side]} | {r['slots_moved']} | {r['keys_moved']} | {seconds} | {num(r['keys_per_s'])} | "
                  f"{r['keys_lost']} of {r['keys']} | {num(r['worst_ms'], '{:.1f} ms')} | {r['acked_lost']} of {r['acked']} |")
    print()
    met = True
    for s in steps:
        base, ours = by.get((s, "baseline")), by.get((s, "ours"))
        ratio = None
        if base and ours and base["keys_per_s"] and ours["keys_per_s"] is not None:
            ratio = ours["keys_per_s"] / base["keys_per_s"]
        parts = [f"reshard-bench: {s}"]
        for side, r in (("ours", ours), ("baseline", base)):
            if r is not None:
                parts.append(f"{side}={num(r['keys_per_s'])}keys/s" if r["finished"] else f"{side}=unfinished")
        parts.append(f"ratio={ratio:.2f}" if ratio is not None else "ratio=n/a")
        for side, r in (("ours", ours), ("baseline", base)):
            if r is not None:
                parts.append(f"lost_{side}={r['keys_lost']} acked_lost_{side}={r['acked_lost']} "
                             f"worst_write_{side}={num(r['worst_ms'], '{:.0f}')}ms")
        print(" ".join(parts))
        if ours is None or ratio is None or ratio < target_ratio or ours["keys_lost"] or ours["acked_lost"]:
            met = False
    if any(side == "ours" for _, side in by):
        print(f"target: ours >= {target_ratio:.2f} x redis-cli keys/s on every step, no key and no acknowledged "
              f"write lost: {'met' if met else 'MISSED'}")
    else:
        print("target: not judged (baseline only)")


def main(argv):
    if len(argv) < 2:
        benchlib.fail("usage: reshardlib.py load|step|stats ...")
    command = argv[1]
    if command == "load":
        parser = argparse.ArgumentParser(prog="reshardlib.py load")
        parser.add_argument("--seeds", required=True, help="host:port of some nodes, comma-separated")
        parser.add_argument("--keys", type=int, required=True)
        parser.add_argument("--value-size", type=int, default=100)
        load(parser.parse_args(argv[2:]))
    elif command == "step":
        parser = argparse.ArgumentParser(prog="reshardlib.py step")
        parser.add_argument("--side", choices=("ours", "baseline"), required=True)
        parser.add_argument("--step", required=True, help="its label, e.g. 3->6")
        parser.add_argument("--seeds", required=True, help="host:port of some nodes, comma-separated")
        parser.add_argument("--keys", type=int, required=True, help="the loaded keys, read back after")
        parser.add_argument("--value-size", type=int, default=100)
        parser.add_argument("--result", required=True, help="file the step's JSON line is appended to")
        parser.add_argument("--log", required=True, help="file the migration's output is appended to")
        parser.add_argument("--api", help="ours: host:port of the API")
        parser.add_argument("--group", help="ours: the replication group id")
        parser.add_argument("--shards", type=int, help="ours: the new numShards")
        parser.add_argument("--rate", type=float, default=300.0, help="writes/s of the concurrent writer")
        parser.add_argument("--write-timeout", type=float, default=10.0, help="seconds one write may retry")
        parser.add_argument("--warmup", type=float, default=1.0)
        parser.add_argument("--after", type=float, default=0.5)
        parser.add_argument("--timeout", type=float, default=180.0)
        parser.add_argument("command", nargs="*", help="baseline: the migration command")
        args = parser.parse_args(argv[2:])
        if args.side == "baseline" and not args.command:
            parser.error("the baseline needs the migration command after --")
        if args.side == "ours" and not (args.api and args.group and args.shards):
            parser.error("ours needs --api, --group and --shards")
        step(args)
    elif command == "stats":
        stats(float(argv[2]))
    else:
        benchlib.fail(f"unknown command {command}")


if __name__ == "__main__":
    main(sys.argv)
