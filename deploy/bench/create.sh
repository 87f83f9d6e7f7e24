#!/usr/bin/env bash
# Create-to-available benchmark: our control plane against a scripted baseline on the same Docker
# engine and image, in one run, interleaved (ours, baseline, ours, baseline, ...) so machine noise
# hits both alike.
#
#   cme9  cluster mode enabled, 3 shards x 2 replicas (9 nodes)
#         ours:     POST /v1/replication-groups, GET every 20 ms until "available"
#         baseline: 9 x `docker run` in parallel, PING, `redis-cli --cluster create`, then
#                   cluster_state:ok on all 9
#   cmd3  cluster mode disabled, 1 primary + 2 replicas
#         ours:     the same API calls
#         baseline: 3 x `docker run` in parallel, PING, REPLICAOF on two, master_link_status:up
#
# The clock runs from just before the POST (ours) or the first `docker run` (baseline) to the
# moment the group is seen ready. After each timed create an untimed check proves the group works
# (a write and a read through it, the cluster's or the replicas' state); then it is deleted, untimed.
# One untimed warm-up create per side comes first (JIT, first container of a fresh engine).
# Everything runs in a throwaway folder (Postgres, a private dockerd, the API built from this tree)
# that is removed at the end. Runs as root, like deploy/test.sh; loopback only.
#
#   BENCH_RUNS           timed runs per case and side (default 3)
#   BENCH_CASES          which cases, in order (default "cme9 cmd3")
#   BENCH_BASELINE_ARGS  extra redis-server arguments for the baseline's nodes (default none: Redis'
#                        defaults, e.g. a 5 s repl-diskless-sync-delay before each replica's first sync)
#   BENCH_TIMEOUT        seconds one create may take before the bench fails (default 120)
#   BENCH_OURS_PORTS     the control plane's node port range (default 6000-6099)
#   BENCH_BASELINE_PORT  the baseline's first node port (default 6100; 9 ports from there)
#   BENCH_LOG_LEVEL      log level of the API's own categories (ControlPlane.*; default Warning)
#   BENCH_VERBOSE        1: print each of our creates' events and the API log at the end
#   BENCH_KEEP_STATE     1: keep the temp folder (API, dockerd and Postgres logs) after the run
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
export LC_ALL=C # EPOCHREALTIME with a dot

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
# shellcheck source=../lib/common.sh
source deploy/lib/common.sh

runs=${BENCH_RUNS:-3}
read -r -a cases <<<"${BENCH_CASES:-cme9 cmd3}"
read -r -a baseline_args <<<"${BENCH_BASELINE_ARGS:-}"
timeout=${BENCH_TIMEOUT:-120}
ours_ports=${BENCH_OURS_PORTS:-6000-6099}
base_port=${BENCH_BASELINE_PORT:-6100}
log_level=${BENCH_LOG_LEVEL:-Warning}
verbose=${BENCH_VERBOSE:-0}
keep=${BENCH_KEEP_STATE:-0}
image=${CONTROLPLANE_REDIS_IMAGE:-controlplane/redis:7.0}
target_ratio=0.60
bench_py=$root/deploy/bench/benchlib.py

[[ $runs =~ ^[1-9][0-9]*$ ]] || { cp_log "BENCH_RUNS must be a positive integer"; exit 2; }
for case in "${cases[@]}"; do
  [[ $case == cme9 || $case == cmd3 ]] || { cp_log "BENCH_CASES: unknown case $case (cme9, cmd3)"; exit 2; }
done
((${#cases[@]} > 0)) || { cp_log "BENCH_CASES is empty"; exit 2; }
[[ $ours_ports =~ ^([0-9]+)-([0-9]+)$ ]] || { cp_log "BENCH_OURS_PORTS must look like 6000-6099"; exit 2; }
ours_start=${BASH_REMATCH[1]} ours_end=${BASH_REMATCH[2]}
if ((base_port + 8 >= ours_start && base_port <= ours_end)); then
  cp_log "the baseline's ports $base_port-$((base_port + 8)) overlap BENCH_OURS_PORTS=$ours_ports"
  exit 2
fi
# shellcheck source=env.sh
source deploy/bench/env.sh

# ---------------------------------------------------------------- checks that a group works

# verify_cluster ENTRY PORT...: a write and a read through ENTRY, and every node sees all slots
# assigned. Then it waits (untimed) until every node knows every other one and there are 3 masters
# with 2 linked replicas each, as the replicas themselves report it, and prints how long that took
# after the create was called done: gossip and replica sync may well still be under way then.
verify_cluster() {
  local entry=$1 p started=${EPOCHREALTIME/./}
  shift
  [[ $(rcli "$entry" -c set bench-key v1) == OK ]] || cp_die "SET through $entry failed" || return
  [[ $(rcli "$entry" -c get bench-key) == v1 ]] || cp_die "GET through $entry failed" || return
  for p in "$@"; do
    cluster_ok "$p" || cp_die "cluster_state is not ok on $p" || return
    [[ $(field "$p" 'cluster info' cluster_slots_assigned) == 16384 ]] \
      || cp_die "node $p does not see all 16384 slots assigned" || return
  done
  wait_for 30 "every node knows all $# nodes" all_know "$#" "$@" || return
  wait_for 30 "3 masters with 2 linked replicas each" replicas_in_place 3 2 "$@" || {
    for p in "$@"; do
      cp_log "$p: $(rcli "$p" info replication | tr -d '\r' | grep -E '^(role|master_port|master_link_status|connected_slaves):' | tr '\n' ' ')"
    done
    return 1
  }
  printf 'all nodes meshed, replicas linked +%.2fs' "$(seconds_since "$started")"
}

# shellcheck disable=SC2317,SC2329  # called through wait_for
all_know() { # all_know N PORT...: every node's cluster_known_nodes is N
  local n=$1 p
  shift
  for p in "$@"; do [[ $(field "$p" 'cluster info' cluster_known_nodes) == "$n" ]] || return 1; done
}

# replicas_in_place MASTERS REPLICAS PORT...: MASTERS of the nodes are masters with REPLICAS linked
# replicas each, by INFO replication of every node.
# shellcheck disable=SC2317,SC2329  # called through wait_for
replicas_in_place() {
  local masters=$1 per=$2 p info role mport linked=() count
  shift 2
  declare -A replicas_of=()
  for p in "$@"; do
    info=$(rcli "$p" info replication 2>/dev/null | tr -d '\r') || return 1
    role=$(sed -n 's/^role://p' <<<"$info")
    if [[ $role == slave ]]; then
      [[ $(sed -n 's/^master_link_status://p' <<<"$info") == up ]] || return 1
      mport=$(sed -n 's/^master_port://p' <<<"$info")
      replicas_of[$mport]=$((${replicas_of[$mport]:-0} + 1))
      linked+=("$p")
    fi
  done
  ((${#replicas_of[@]} == masters && ${#linked[@]} == masters * per)) || return 1
  for count in "${replicas_of[@]}"; do ((count == per)) || return 1; done
}

# verify_replication PRIMARY REPLICA...: a write on the primary is read back on every replica.
verify_replication() {
  local primary=$1 p
  shift
  [[ $(field "$primary" 'info replication' role) == master ]] || cp_die "$primary is not a master" || return
  [[ $(field "$primary" 'info replication' connected_slaves) == "$#" ]] \
    || cp_die "$primary does not have $# replicas connected" || return
  [[ $(rcli "$primary" set bench-key v1) == OK ]] || cp_die "SET on $primary failed" || return
  for p in "$@"; do
    link_up "$p" || cp_die "replica $p: master_link_status is not up" || return
    wait_for 5 "replica $p reads the write" reads "$p" v1 || return
  done
  printf 'write on the primary read on %d replicas' "$#"
}

# ---------------------------------------------------------------- ours

# ours CASE N: create group N through the API (0: the warm-up), time it, check it, delete it;
# the seconds go to fd 3
ours() {
  local case=$1 label id body out key a b c secs=0 ports_at=0 entry='' nodes=() replicas=() check
  case $case in
    cme9)
      id=bench-cme-$2
      body="{\"id\":\"$id\",\"clusterMode\":\"enabled\",\"numShards\":3,\"replicasPerShard\":2}"
      ;;
    cmd3)
      id=bench-cmd-$2
      body="{\"id\":\"$id\",\"replicasPerShard\":2}"
      ;;
  esac
  label=$(run_label "$2")
  assert_engine_empty
  wait_for_pool
  if ! out=$(bench create "$api" "$id" "$body" "$timeout"); then
    bench events "$api" "$id" >&2 || true
    cp_die "our create of $id failed"
    return
  fi
  while read -r key a b c; do
    case $key in
      elapsed) secs=$a ;;
      ports_at) ports_at=$a ;;
      configurationEndpoint | primaryEndpoint) entry=$a ;;
      node)
        nodes+=("$c")
        if [[ $b == replica ]]; then replicas+=("$c"); fi
        ;;
    esac
  done <<<"$out"
  if [[ $case == cme9 ]]; then
    check=$(verify_cluster "$entry" "${nodes[@]}") || { bench events "$api" "$id" >&2; return 1; }
  else
    check=$(verify_replication "$entry" "${replicas[@]}") || { bench events "$api" "$id" >&2; return 1; }
  fi
  printf '  %-10s %-4s ours     %6.2fs  (ports assigned at %.2fs; %s)\n' "$label" "$case" "$secs" "$ports_at" "$check"
  if [[ $verbose == 1 ]]; then bench events "$api" "$id"; fi
  bench delete "$api" "$id" "$timeout" || cp_die "deleting $id failed" || return
  printf '%s ours %s\n' "$case" "$secs" >&3
}

# ---------------------------------------------------------------- the baseline

# baseline CASE N: the same group scripted by hand on the same engine and image
baseline() {
  local case=$1 label n ports=() p pids=() pid started secs check args
  case $case in
    cme9) n=9 ;;
    cmd3) n=3 ;;
  esac
  label=$(run_label "$2")
  for ((p = base_port; p < base_port + n; p++)); do ports+=("$p"); done
  assert_engine_empty
  # shellcheck disable=SC2046  # one port a word
  bench portsfree "${ports[@]}" $(printf '%s\n' "${ports[@]}" | awk '{ print $1 + 10000 }') \
    || cp_die "the baseline's ports are taken" || return

  started=${EPOCHREALTIME/./}
  for p in "${ports[@]}"; do
    args=(redis-server --port "$p" --bind 127.0.0.1)
    if [[ $case == cme9 ]]; then args+=(--cluster-enabled yes --cluster-config-file "nodes-$p.conf"); fi
    args+=(--save '' --appendonly no --dir /data "${baseline_args[@]}")
    dk run -d --network host --name "bench-base-$p" "$image" "${args[@]}" >/dev/null &
    pids+=("$!")
  done
  for pid in "${pids[@]}"; do wait "$pid" || cp_die "docker run failed" || return; done
  wait_for "$timeout" "baseline nodes answer PING" all_answer_ping "${ports[@]}" || return
  if [[ $case == cme9 ]]; then
    # shellcheck disable=SC2046  # one address a word
    timeout "$timeout" redis-cli --cluster create $(printf '127.0.0.1:%s ' "${ports[@]}") \
      --cluster-replicas 2 --cluster-yes >"$state/cluster-create.log" 2>&1 \
      || { cat "$state/cluster-create.log" >&2; cp_die "redis-cli --cluster create failed"; return; }
    wait_for "$timeout" "baseline cluster_state:ok on all nodes" all_cluster_ok "${ports[@]}" || return
  else
    for p in "${ports[@]:1}"; do
      [[ $(rcli "$p" replicaof 127.0.0.1 "${ports[0]}") == OK ]] || cp_die "REPLICAOF on $p failed" || return
    done
    wait_for "$timeout" "baseline replicas linked" all_links_up "${ports[@]:1}" || return
  fi
  secs=$(seconds_since "$started")

  if [[ $case == cme9 ]]; then
    check=$(verify_cluster "${ports[0]}" "${ports[@]}") || return
  else
    check=$(verify_replication "${ports[@]}") || return
  fi
  printf '  %-10s %-4s baseline %6.2fs  (%s)\n' "$label" "$case" "$secs" "$check"
  # shellcheck disable=SC2046  # one name a word
  dk rm -f $(printf 'bench-base-%s ' "${ports[@]}") >/dev/null
  printf '%s baseline %s\n' "$case" "$secs" >&3
}

# ---------------------------------------------------------------- the run

# All in one function, called from the last line: bash has then read the whole script, so an edit
# of this file during a run (others work in this tree) cannot change what the run does.
main() {
  setup
  setup_seconds=$((SECONDS - bench_started))
  say "create-to-available: ours (API + reconciler) vs scripted docker run + redis-cli, same engine and image"
  say "machine: $(nproc) CPUs, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(uname -r); $(redis-cli --version); image $image"
  say "runs per case and side: $runs (after one untimed warm-up each); setup took ${setup_seconds}s"
  say "baseline redis-server extra arguments: ${baseline_args[*]:-none (Redis defaults)}"
  say "our warm pool: ${BENCH_WARM_POOL:-0} pre-started cluster nodes (BENCH_WARM_POOL; 0 = off, every node starts a container)"
  say

  results=$state/results
  : >"$results"
  # The warm-up's figures go nowhere (fd 3 to /dev/null); the timed runs' go to the results file.
  ours "${cases[0]}" 0 3>/dev/null
  baseline "${cases[0]}" 0 3>/dev/null
  for case in "${cases[@]}"; do
    for ((run = 1; run <= runs; run++)); do
      ours "$case" "$run" 3>>"$results"
      baseline "$case" "$run" 3>>"$results"
    done
  done

  say
  bench stats cme9 "$target_ratio" <"$results"
  say
  say "bench took $((SECONDS - bench_started))s (setup ${setup_seconds}s)"
  if [[ $verbose == 1 ]]; then
    say "API log:"
    cat "$state/api.log"
  fi
}

main "$@"; exit
