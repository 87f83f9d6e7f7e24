#!/usr/bin/env bash
# Failover benchmark: how long writes stop when a primary is killed, and whether acknowledged writes
# survive, for our control plane against Redis Sentinel on the same Docker engine and image, in one
# run, interleaved (ours, sentinel, ours, sentinel, ...) so machine noise hits both alike.
#
#   ours      a cluster-mode-disabled group, 1 primary + 2 replicas, created through the API; the
#             client finds the primary through GET /v1/replication-groups/{id} (primaryEndpoint)
#   sentinel  3 redis-server containers (same image, flags and limits as our nodes: cache.small,
#             512 MiB and 0.5 CPU each), the replicas wired with REPLICAOF, plus 3 Sentinels
#             (quorum 2, down-after-milliseconds 1000, failover-timeout 2000, parallel-syncs 1); the
#             client finds the primary with SENTINEL get-master-addr-by-name
#
# The client (failoverlib.py, one long-lived python process, raw RESP) writes a new key every 5 ms:
# SET k<i> v, then WAIT 1 200 (acknowledged when WAIT answers >= 1). After 1 s of steady writes the
# primary's container gets `docker kill -s KILL` (through the engine's API, timed); on any error the
# client asks again where the primary is and reconnects, every 10 ms. The outage runs from the kill
# to the first write accepted after it; the figure judged is the total time without acknowledged
# writes (gaps over 50 ms between them) in the 10 s after the kill, when the writer stops (at least
# 2 s after the first accepted write); then every acknowledged key is read
# back from the current primary and the missing ones are counted. Ours then waits (not timed into the
# outage) until the group has 3 available nodes again, and prints how long that took. Each run
# prints a timeline: the client's view, then our events (GET /v1/events) or the Sentinels' log lines.
# One untimed warm-up run per side comes first (the first failover of the API process, JIT).
# Everything runs in a throwaway folder (Postgres, a private dockerd, the API built from this tree)
# that is removed at the end.
#
#   BENCH_RUNS            timed runs per side (default 3)
#   BENCH_TIMEOUT         seconds a create, a failover or a recovery may take (default 120)
#   BENCH_OURS_PORTS      the control plane's node port range (default 6200-6299)
#   BENCH_BASELINE_PORT   the baseline's first node port (default 6300; 3 ports from there)
#   BENCH_SENTINEL_PORT   the first Sentinel's port (default 6310; 3 ports from there; the API tests
#                         take ports from 20000 up, so the usual 26379 neighbourhood is avoided)
#   BENCH_FAILOVER_TIMEOUT  the Sentinels' failover-timeout in ms (default 2000)
#   BENCH_WARMUP          1 (default): one untimed run per side first; 0: none
#   BENCH_LOG_LEVEL       log level of the API's own categories (ControlPlane.*; default Warning)
#   BENCH_VERBOSE         1: print the API log at the end
#   BENCH_KEEP_STATE      1: keep the temp folder (API, dockerd and Postgres logs, results) after the run
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
export LC_ALL=C # EPOCHREALTIME with a dot

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
# shellcheck source=../lib/common.sh
source deploy/lib/common.sh

runs=${BENCH_RUNS:-3}
timeout=${BENCH_TIMEOUT:-120}
ours_ports=${BENCH_OURS_PORTS:-6200-6299}
base_port=${BENCH_BASELINE_PORT:-6300}
sentinel_port=${BENCH_SENTINEL_PORT:-6310}
failover_timeout=${BENCH_FAILOVER_TIMEOUT:-2000}
warmup=${BENCH_WARMUP:-1}
log_level=${BENCH_LOG_LEVEL:-Warning}
verbose=${BENCH_VERBOSE:-0}
keep=${BENCH_KEEP_STATE:-0}
image=${CONTROLPLANE_REDIS_IMAGE:-controlplane/redis:7.0}
target_ratio=0.10
master_name=benchfo
fo_py=$root/deploy/bench/failoverlib.py

[[ $runs =~ ^[1-9][0-9]*$ ]] || { cp_log "BENCH_RUNS must be a positive integer"; exit 2; }
[[ $warmup == 0 || $warmup == 1 ]] || { cp_log "BENCH_WARMUP must be 0 or 1"; exit 2; }
[[ $failover_timeout =~ ^[1-9][0-9]*$ ]] || { cp_log "BENCH_FAILOVER_TIMEOUT must be milliseconds"; exit 2; }
[[ $ours_ports =~ ^([0-9]+)-([0-9]+)$ ]] || { cp_log "BENCH_OURS_PORTS must look like 6200-6299"; exit 2; }
ours_start=${BASH_REMATCH[1]} ours_end=${BASH_REMATCH[2]}
for first in "$base_port" "$sentinel_port"; do
  # Our nodes' cluster bus ports are not used (cluster mode disabled), so only the range itself counts.
  if ((first + 2 >= ours_start && first <= ours_end)); then
    cp_log "the baseline's ports $first-$((first + 2)) overlap BENCH_OURS_PORTS=$ours_ports"
    exit 2
  fi
done
if ((sentinel_port + 2 >= base_port && sentinel_port <= base_port + 2)); then
  cp_log "BENCH_SENTINEL_PORT=$sentinel_port overlaps the baseline's nodes at $base_port-$((base_port + 2))"
  exit 2
fi

# shellcheck source=env.sh
source deploy/bench/env.sh

fo() { python3 "$fo_py" "$@"; }

# ---------------------------------------------------------------- ours

# ours N: create group bench-fo-N (0: the warm-up), kill its primary under the client, delete it
ours() {
  local n=$1 label id body out key a b c primary='' port='' name rc=0
  label=$(run_label "$n")
  id=bench-fo-$n
  body="{\"id\":\"$id\",\"replicasPerShard\":2}"
  assert_engine_empty
  if ! out=$(bench create "$api" "$id" "$body" "$timeout"); then
    bench events "$api" "$id" >&2 || true
    cp_die "our create of $id failed"
    return
  fi
  while read -r key a b c; do
    if [[ $key == node && $b == primary ]]; then primary=$a port=$c; fi
  done <<<"$out"
  [[ -n $primary ]] || cp_die "$id has no primary node: $out" || return
  name=$(dk ps --filter "label=controlplane.node=$primary" --format '{{.Names}}')
  [[ -n $name && $name != *$'\n'* ]] || cp_die "no single running container for node $primary: '$name'" || return
  fo run --side ours --run "$n" --label "$label" --engine "$engine" --container "$name" --killed "127.0.0.1:$port" \
    --result "$results" --api "$api" --group "$id" --nodes 3 --timeout "$timeout" || rc=$?
  if ((rc != 0)); then
    cp_log "the failover of $id did not complete (exit $rc); its events:"
    bench events "$api" "$id" >&2 || true
  fi
  bench delete "$api" "$id" "$timeout" || cp_die "deleting $id failed" || return
}

# ---------------------------------------------------------------- the baseline

# baseline N: 3 nodes + 3 Sentinels by hand on the same engine and image, kill the primary, remove all
baseline() {
  local n=$1 label p s ports=() sports=() nodes=() sentinels=() pids=() pid conf rc=0
  label=$(run_label "$n")
  for ((p = base_port; p < base_port + 3; p++)); do ports+=("$p") nodes+=("bench-fo-node-$p"); done
  for ((s = sentinel_port; s < sentinel_port + 3; s++)); do sports+=("$s") sentinels+=("bench-fo-sentinel-$s"); done
  assert_engine_empty
  bench portsfree "${ports[@]}" "${sports[@]}" || cp_die "the baseline's ports are taken" || return

  # Our nodes' command line and limits (NodeSpecs.Redis, cache.small), without our labels.
  for p in "${ports[@]}"; do
    dk run -d --network host --name "bench-fo-node-$p" --memory 512m --memory-swap 512m --cpus 0.5 \
      "$image" redis-server --port "$p" --bind 127.0.0.1 --protected-mode no --dir /data \
      --save '' --appendonly no --maxmemory 402653184 --maxmemory-policy volatile-lru \
      --repl-diskless-sync-delay 0 >/dev/null &
    pids+=("$!")
  done
  for pid in "${pids[@]}"; do wait "$pid" || cp_die "docker run failed" || return; done
  wait_for 30 "baseline nodes answer PING" all_answer_ping "${ports[@]}" || return
  for p in "${ports[@]:1}"; do
    [[ $(rcli "$p" replicaof 127.0.0.1 "${ports[0]}") == OK ]] || cp_die "REPLICAOF on $p failed" || return
  done
  wait_for 30 "baseline replicas linked" all_links_up "${ports[@]:1}" || return

  # The image has no shell: each Sentinel's config goes into its created, not yet started container.
  for s in "${sports[@]}"; do
    conf=$state/sentinel-$s.conf
    printf '%s\n' "port $s" "bind 127.0.0.1" "protected-mode no" "dir /data" \
      "sentinel monitor $master_name 127.0.0.1 ${ports[0]} 2" \
      "sentinel down-after-milliseconds $master_name 1000" \
      "sentinel failover-timeout $master_name $failover_timeout" \
      "sentinel parallel-syncs $master_name 1" >"$conf"
    dk create --network host --name "bench-fo-sentinel-$s" "$image" redis-sentinel /data/sentinel.conf >/dev/null
    dk cp "$conf" "bench-fo-sentinel-$s:/data/sentinel.conf"
    dk start "bench-fo-sentinel-$s" >/dev/null
  done
  fo sentinel-ready "$master_name" 2 "$timeout" "${sports[@]}" || return

  fo run --side sentinel --run "$n" --label "$label" --engine "$engine" \
    --container "bench-fo-node-${ports[0]}" --killed "127.0.0.1:${ports[0]}" \
    --result "$results" --sentinels "$(IFS=,; printf '%s' "${sports[*]}")" \
    --sentinel-containers "$(IFS=,; printf '%s' "${sentinels[*]}")" --master "$master_name" \
    --timeout "$timeout" || rc=$?
  if ((rc != 0)); then
    cp_log "the Sentinel failover did not complete (exit $rc); the Sentinels' logs:"
    for s in "${sentinels[@]}"; do dk logs "$s" 2>&1 | tail -n 30 >&2; done
  fi
  dk rm -f "${nodes[@]}" "${sentinels[@]}" >/dev/null
}

# ---------------------------------------------------------------- the run

setup
setup_seconds=$((SECONDS - bench_started))
results=$state/results
: >"$results"
settings=$(python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))["ControlPlane"]["Reconciler"]
print("pass interval %s, probe timeout %s, failure threshold %s" % (r.get("PassInterval"), r.get("ProbeTimeout"), r.get("FailureThreshold")))' \
  "$state/api/appsettings.json" 2>/dev/null) || settings="(appsettings.json not readable)"

say "failover: kill -9 of the primary under writes; ours (API + reconciler) vs Redis Sentinel, same engine and image"
say "machine: $(nproc) CPUs, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(uname -r); $(redis-cli --version); image $image"
say "ours: 1 primary + 2 replicas (cache.small); reconciler (appsettings.json): $settings"
say "sentinel: 3 Sentinels, quorum 2, down-after-milliseconds 1000, failover-timeout $failover_timeout, parallel-syncs 1"
say "client: SET k<i> v + WAIT 1 200 every 5 ms; on error it re-reads primaryEndpoint (ours) or asks the next"
say "        Sentinel (get-master-addr-by-name) and reconnects, every 10 ms; kill -9 after 1 s of steady writes;"
say "        judged: total time without acknowledged writes (gaps > 50 ms) in the 10 s after the kill;"
say "        outage = kill request to the first write accepted after it; then acked keys are read back"
say "endpoints: ${BENCH_ENDPOINTS:-nftables} (ControlPlane:Endpoints:Mode)"
say "runs per side: $runs (after $warmup untimed warm-up each); setup took ${setup_seconds}s"
say

if ((warmup)); then
  ours 0
  baseline 0
fi
for ((run = 1; run <= runs; run++)); do
  ours "$run"
  baseline "$run"
done

say
fo stats "$target_ratio" <"$results"
say
say "bench took $((SECONDS - bench_started))s (setup ${setup_seconds}s)"
if [[ $verbose == 1 ]]; then
  say "API log:"
  cat "$state/api.log"
fi
