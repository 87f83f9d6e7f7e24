#!/usr/bin/env bash
# Resharding benchmark: a cluster-mode-enabled group with 200,000 keys scaled 3 -> 6 -> 3 shards
# under a concurrent writer, for our control plane against redis-cli moving the same slots on an
# identical hand-built cluster, on the same Docker engine and image, in one run, step by step
# (baseline 3->6, ours 3->6, baseline 6->3, ours 6->3).
#
#   ours      a group created through the API (3 shards, no replicas), loaded through its nodes,
#             then PATCH /v1/replication-groups/{id} {"numShards": 6} and GET every 50 ms until it
#             is available with 6 available shards; then {"numShards": 3} likewise
#   baseline  6 redis-server containers (same image, flags and limits as our cluster nodes:
#             cache.small, 512 MiB and 0.5 CPU each), 3 made a cluster with `redis-cli --cluster
#             create`, loaded alike; 3 -> 6: `redis-cli --cluster add-node` of the other 3 (untimed),
#             then `redis-cli --cluster rebalance --cluster-use-empty-masters` (timed); 6 -> 3:
#             `redis-cli --cluster rebalance --cluster-weight <id>=0` for the 3 added (timed; they
#             stay in the cluster as empty masters, see baseline_shrink)
#
# Each migration is timed from its start (the PATCH, or redis-cli started) to its end (the group
# available again, or redis-cli exited). The figures (reshardlib.py step): slots moved, keys moved
# (the keys of those slots just before), seconds, keys/s; then every loaded key is read back (keys
# lost: missing or a wrong value). Meanwhile a writer (reshardlib.py, raw RESP, following MOVED and
# ASK) sets a new key BENCH_WRITE_RATE times a second, from 1 s before the migration to 0.5 s
# after it: the worst latency of a write in flight during the migration, and the acknowledged
# writes (SET answered OK) missing afterwards. The ratio is ours / redis-cli keys/s per step.
# Everything runs in a throwaway folder (a private dockerd; with ours also Postgres and the API
# built from this tree) that is removed at the end. Runs as root, like deploy/test.sh; loopback only.
#
#   BENCH_ONLY            both (default), baseline (no Postgres, no API) or ours
#   BENCH_KEYS            keys loaded before the first step (default 200000)
#   BENCH_VALUE_SIZE      bytes per value (default 100)
#   BENCH_WRITE_RATE      the writer's writes per second (default 300)
#   BENCH_TIMEOUT         seconds a create or one migration may take (default 180)
#   BENCH_OURS_PORTS      the control plane's node port range (default 6400-6499)
#   BENCH_BASELINE_PORT   the baseline's first node port (default 6500; 6 ports from there, and
#                         their cluster bus ports 10000 above)
#   BENCH_LOG_LEVEL       log level of the API's own categories (ControlPlane.*; default Warning)
#   BENCH_VERBOSE         1: print the migrations' output (redis-cli, our group's states) and the API log
#   BENCH_KEEP_STATE      1: keep the temp folder (logs, results) after the run
#
# Exit status: 0 when every migration finished (the target is printed, met or MISSED), 1 when one
# did not (the control plane did not finish within BENCH_TIMEOUT), 2 for bad settings.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
export LC_ALL=C # EPOCHREALTIME with a dot

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
# shellcheck source=../lib/common.sh
source deploy/lib/common.sh

only=${BENCH_ONLY:-both}
keys=${BENCH_KEYS:-200000}
value_size=${BENCH_VALUE_SIZE:-100}
write_rate=${BENCH_WRITE_RATE:-300}
timeout=${BENCH_TIMEOUT:-180}
ours_ports=${BENCH_OURS_PORTS:-6400-6499}
base_port=${BENCH_BASELINE_PORT:-6500}
log_level=${BENCH_LOG_LEVEL:-Warning}
verbose=${BENCH_VERBOSE:-0}
keep=${BENCH_KEEP_STATE:-0}
image=${CONTROLPLANE_REDIS_IMAGE:-controlplane/redis:7.0}
target_ratio=1.00
rs_py=$root/deploy/bench/reshardlib.py

[[ $only == both || $only == baseline || $only == ours ]] || { cp_log "BENCH_ONLY must be both, baseline or ours"; exit 2; }
for value in "$keys" "$value_size" "$write_rate" "$timeout" "$base_port"; do
  [[ $value =~ ^[1-9][0-9]*$ ]] || { cp_log "BENCH_KEYS, _VALUE_SIZE, _WRITE_RATE, _TIMEOUT and _BASELINE_PORT must be positive integers"; exit 2; }
done
[[ $ours_ports =~ ^([0-9]+)-([0-9]+)$ ]] || { cp_log "BENCH_OURS_PORTS must look like 6400-6499"; exit 2; }
ours_start=${BASH_REMATCH[1]} ours_end=${BASH_REMATCH[2]}
# Cluster nodes also listen on their port + 10000 (the cluster bus): neither range may meet the other.
if ((base_port + 5 >= ours_start && base_port <= ours_end)) \
  || ((base_port + 10005 >= ours_start && base_port + 10000 <= ours_end)) \
  || ((base_port + 5 >= ours_start + 10000 && base_port <= ours_end + 10000)); then
  cp_log "the baseline's ports $base_port-$((base_port + 5)) (+10000) overlap BENCH_OURS_PORTS=$ours_ports (+10000)"
  exit 2
fi

# shellcheck source=env.sh
source deploy/bench/env.sh

rs() { python3 "$rs_py" "$@"; }

base_ports=()
for ((p = base_port; p < base_port + 6; p++)); do base_ports+=("$p"); done
ours_id=bench-reshard
ours_seeds=
ours_failed=0
base_failed=0

# shellcheck disable=SC2317,SC2329  # called through wait_for
all_know() { # all_know N PORT...: every node's cluster_known_nodes is N
  local n=$1 p
  shift
  for p in "$@"; do [[ $(field "$p" 'cluster info' cluster_known_nodes) == "$n" ]] || return 1; done
}

# step SIDE LABEL ARGS...: one migration through reshardlib.py; 1 when it did not finish
step() {
  local side=$1 label=$2 rc=0
  shift 2
  rs step --side "$side" --step "$label" --keys "$keys" --value-size "$value_size" --rate "$write_rate" \
    --timeout "$timeout" --result "$results" --log "$state/migrations.log" "$@" || rc=$?
  ((rc == 0)) && return 0
  ((rc == 3)) && return 1
  cp_die "the $side step $label failed (exit $rc)"
  exit 1
}

# ---------------------------------------------------------------- the baseline

# baseline_create: 6 nodes with our cluster nodes' command line and limits (NodeSpecs.Redis,
# cache.small), without our labels; the first 3 made a cluster and loaded
baseline_create() {
  local p pids=() pid out
  # shellcheck disable=SC2046  # one port a word
  bench portsfree "${base_ports[@]}" $(printf '%s\n' "${base_ports[@]}" | awk '{ print $1 + 10000 }') \
    || cp_die "the baseline's ports are taken" || return
  for p in "${base_ports[@]}"; do
    dk run -d --network host --name "bench-rs-node-$p" --memory 512m --memory-swap 512m --cpus 0.5 \
      "$image" redis-server --port "$p" --bind 127.0.0.1 --protected-mode no --dir /data \
      --save '' --appendonly no --maxmemory 402653184 --maxmemory-policy volatile-lru \
      --repl-diskless-sync-delay 0 \
      --cluster-enabled yes --cluster-config-file "nodes-$p.conf" --cluster-node-timeout 1000 \
      --cluster-replica-no-failover yes >/dev/null &
    pids+=("$!")
  done
  for pid in "${pids[@]}"; do wait "$pid" || cp_die "docker run failed" || return; done
  wait_for 30 "baseline nodes answer PING" all_answer_ping "${base_ports[@]}" || return
  # shellcheck disable=SC2046  # one address a word
  timeout "$timeout" redis-cli --cluster create $(printf '127.0.0.1:%s ' "${base_ports[@]:0:3}") \
    --cluster-replicas 0 --cluster-yes >"$state/cluster-create.log" 2>&1 \
    || { cat "$state/cluster-create.log" >&2; cp_die "redis-cli --cluster create failed"; return; }
  wait_for 30 "baseline cluster_state:ok on the 3 masters" all_cluster_ok "${base_ports[@]:0:3}" || return
  wait_for 30 "the 3 masters know each other" all_know 3 "${base_ports[@]:0:3}" || return
  out=$(rs load --seeds "$(printf '127.0.0.1:%s,' "${base_ports[@]:0:3}" | sed 's/,$//')" \
    --keys "$keys" --value-size "$value_size") || cp_die "loading the baseline failed" || return
  say "  baseline: $out"
}

baseline_seeds() { printf '127.0.0.1:%s,' "${base_ports[@]}" | sed 's/,$//'; }

# baseline_grow: add the 3 empty masters (untimed), then rebalance onto them (timed)
baseline_grow() {
  local n started
  started=${EPOCHREALTIME/./}
  for ((n = 4; n <= 6; n++)); do
    timeout "$timeout" redis-cli --cluster add-node "127.0.0.1:${base_ports[n - 1]}" "127.0.0.1:${base_ports[0]}" \
      >>"$state/migrations.log" 2>&1 \
      || { tail -n 20 "$state/migrations.log" >&2; cp_die "redis-cli --cluster add-node 127.0.0.1:${base_ports[n - 1]} failed"; return; }
    # The next add-node checks the cluster first and refuses while the nodes disagree.
    wait_for 30 "the $n baseline nodes know each other" all_know "$n" "${base_ports[@]:0:n}" || return
  done
  say "  baseline: add-node of 3 empty masters and their meeting took $(printf '%.2f' "$(seconds_since "$started")")s (not timed)"
  step baseline "3->6" --seeds "$(baseline_seeds)" -- \
    redis-cli --cluster rebalance "127.0.0.1:${base_ports[0]}" --cluster-use-empty-masters
}

# baseline_shrink: drain the 3 added masters (weight 0), timed. A master that loses its last slot
# turns itself into a replica of the node that took it (cluster-allow-replica-migration, on by
# default), and redis-cli 7.0, still sending CLUSTER SETSLOT to every node it first saw as a master,
# then stops with "ERR Please use SETSLOT only with masters" (redis/redis#11104, #9223). So the
# drained nodes get cluster-allow-replica-migration no first (untimed): they stay empty masters.
baseline_shrink() {
  local p weights=()
  for p in "${base_ports[@]:3}"; do
    [[ $(rcli "$p" config set cluster-allow-replica-migration no | tr -d '\r') == OK ]] \
      || cp_die "CONFIG SET cluster-allow-replica-migration on $p failed" || return
    weights+=("$(rcli "$p" cluster myid | tr -d '\r')=0")
  done
  step baseline "6->3" --seeds "$(baseline_seeds)" -- \
    redis-cli --cluster rebalance "127.0.0.1:${base_ports[0]}" --cluster-weight "${weights[@]}"
}

# ---------------------------------------------------------------- ours

# ours_create: the group through the API (untimed; create.sh times creates), loaded through its nodes
ours_create() {
  local out key a c ports=() entry=''
  if ! out=$(bench create "$api" "$ours_id" \
    "{\"id\":\"$ours_id\",\"clusterMode\":\"enabled\",\"numShards\":3,\"replicasPerShard\":0}" "$timeout"); then
    bench events "$api" "$ours_id" >&2 || true
    cp_die "our create of $ours_id failed"
    return
  fi
  while read -r key a _ c; do
    case $key in
      configurationEndpoint) entry=$a ;;
      node) ports+=("$c") ;;
    esac
  done <<<"$out"
  # The nodes first: the configuration endpoint may be a proxy in front of one of them.
  ours_seeds=$(printf '127.0.0.1:%s,' "${ports[@]}" ${entry:+"$entry"} | sed 's/,$//')
  wait_for 30 "our nodes know each other" all_know 3 "${ports[@]}" || return
  out=$(rs load --seeds "$ours_seeds" --keys "$keys" --value-size "$value_size") || cp_die "loading our group failed" || return
  say "  ours:     $out"
}

# ours_step LABEL SHARDS
ours_step() {
  if ! step ours "$1" --seeds "$ours_seeds" --api "$api" --group "$ours_id" --shards "$2"; then
    ours_failed=1
    cp_log "control plane did not finish the $1 reshard within $timeout s; the group's events:"
    bench events "$api" "$ours_id" >&2 || true
    return 1
  fi
}

# ---------------------------------------------------------------- the run

# All in one function, called from the last line: bash has then read the whole script, so an edit
# of this file during a run (others work in this tree) cannot change what the run does.
main() {
  if [[ $only == baseline ]]; then setup_engine; else setup; fi
  setup_seconds=$((SECONDS - bench_started))
  results=$state/results
  : >"$results"
  : >"$state/migrations.log"

  say "reshard: 3 -> 6 -> 3 shards under writes; ours (API + reconciler) vs redis-cli --cluster rebalance, same engine and image"
  say "machine: $(nproc) CPUs, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(uname -r); $(redis-cli --version); image $image"
  say "data: $keys keys of $value_size bytes; nodes: cache.small (512 MiB, 0.5 CPU), no replicas; sides: $only"
  say "writer: SET of a new key $write_rate times a second from 1 s before each migration to 0.5 s after, following MOVED/ASK"
  say "setup took ${setup_seconds}s"
  say

  if [[ $only != ours ]]; then baseline_create; fi
  if [[ $only != baseline ]]; then ours_create; fi
  say

  if [[ $only != ours ]]; then baseline_grow || base_failed=1; fi
  if [[ $only != baseline ]]; then ours_step "3->6" 6 || true; fi
  if [[ $only != ours ]] && ((!base_failed)); then baseline_shrink || base_failed=1; fi
  if [[ $only != baseline ]]; then
    if ((ours_failed)); then
      say "  6->3  ours     skipped: the group did not finish 3->6"
    else
      ours_step "6->3" 3 || true
    fi
  fi

  say
  rs stats "$target_ratio" <"$results"
  say
  say "bench took $((SECONDS - bench_started))s (setup ${setup_seconds}s)"
  if [[ $verbose == 1 ]]; then
    say "migrations' output:"
    cat "$state/migrations.log"
    if [[ -n $api ]]; then
      say "API log:"
      cat "$state/api.log"
    fi
  fi
  ((!ours_failed && !base_failed))
}

main "$@"; exit
