#!/usr/bin/env bash
# What the node metrics cost: 100 Redis nodes (50 groups of a primary and a replica) under one
# control plane, measured with the metrics collector off and on, interleaved in one run (off, on,
# off, on, ...) so machine noise hits both alike. The API is restarted between phases with
# ControlPlane:Metrics:CollectorEnabled false or true; the nodes keep running.
#
# Each phase waits BENCH_WARMUP seconds after the start (first passes, JIT), then measures for
# BENCH_PHASE seconds:
#   api cpu      CPU time of the control plane's process, percent of one core
#   dockerd cpu  CPU time of the zone's container engine (container statistics are read there)
#   pass ms      mean reconcile pass duration (controlplane_reconcile_pass_duration_seconds)
# With the collector on it also checks that /metrics shows all 100 nodes up, and prints how long
# one collection round of the 100 nodes took (from the collector's own log line).
# Everything runs in a throwaway folder (Postgres, a private dockerd, the API built from this
# tree) that is removed at the end. Runs as root, like deploy/test.sh; loopback only.
#
#   BENCH_GROUPS      groups of 2 nodes (default 50: 100 nodes)
#   BENCH_ROUNDS      off/on pairs (default 2)
#   BENCH_PHASE       seconds measured per phase (default 60)
#   BENCH_WARMUP      seconds before measuring (default 20)
#   BENCH_INTERVAL    ControlPlane:Metrics:Interval in seconds (default 15)
#   BENCH_OURS_PORTS  node and endpoint ports (default 6000-6299; 2 per node)
#   BENCH_KEEP_STATE  1: keep the temp folder after the run
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
export LC_ALL=C

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
# shellcheck source=../lib/common.sh
source deploy/lib/common.sh

groups=${BENCH_GROUPS:-50}
rounds=${BENCH_ROUNDS:-2}
phase=${BENCH_PHASE:-60}
warmup=${BENCH_WARMUP:-20}
interval=${BENCH_INTERVAL:-15}
ours_ports=${BENCH_OURS_PORTS:-6000-6299}
log_level=Warning
keep=${BENCH_KEEP_STATE:-0}
for n in "$groups" "$rounds" "$phase" "$warmup" "$interval"; do
  [[ $n =~ ^[1-9][0-9]*$ ]] || { cp_log "BENCH_GROUPS, _ROUNDS, _PHASE, _WARMUP and _INTERVAL must be positive integers"; exit 2; }
done
[[ $ours_ports =~ ^([0-9]+)-([0-9]+)$ ]] || { cp_log "BENCH_OURS_PORTS must look like 6000-6299"; exit 2; }
ours_start=${BASH_REMATCH[1]} ours_end=${BASH_REMATCH[2]}
((ours_end - ours_start + 1 >= 4 * groups)) || { cp_log "BENCH_OURS_PORTS holds fewer than $((4 * groups)) ports"; exit 2; }
# shellcheck source=env.sh
source deploy/bench/env.sh

api_get() { curl -fsS --max-time 10 -H "Authorization: Bearer $BENCH_API_KEY" "http://$api$1"; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; } # utime + stime of one process, in clock ticks
pass_stats() { # "sum count" of the reconcile pass histogram
  api_get /metrics | awk '/^controlplane_reconcile_pass_duration_seconds_sum/ { s = $NF } /^controlplane_reconcile_pass_duration_seconds_count/ { c = $NF } END { print s + 0, c + 0 }'
}

setup
dockerd_pid=$(cat "$state/engines/az-a/dockerd.pid")
hz=$(getconf CLK_TCK)

cp_log "creating $groups groups of 2 nodes"
for i in $(seq -w 1 "$groups"); do
  curl -fsS -o /dev/null --max-time 10 -H "Authorization: Bearer $BENCH_API_KEY" -H 'Content-Type: application/json' \
    -d "{\"id\":\"m$i\",\"replicasPerShard\":1,\"nodeType\":\"cache.micro\"}" "http://$api/v1/replication-groups"
done
deadline=$((SECONDS + 600))
available() { api_get '/v1/replication-groups?limit=100' | python3 -c 'import json, sys; print(sum(g["status"] == "available" for g in json.load(sys.stdin)["items"]))'; }
until (($(available) == groups)); do
  ((SECONDS < deadline)) || cp_die "the $groups groups did not all become available within 600 s"
  sleep 2
done
cp_log "$((2 * groups)) nodes available after $((SECONDS - bench_started)) s"

results=$state/results
: >"$results"
for round in $(seq "$rounds"); do
  for collector in false true; do
    stop_api
    start_api "ControlPlane__Metrics__CollectorEnabled=$collector" "ControlPlane__Metrics__Interval=00:00:$(printf %02d "$interval")" \
      Logging__LogLevel__ControlPlane.Api.Monitoring=Debug
    sleep "$warmup"
    read -r sum0 count0 < <(pass_stats)
    api0=$(cpu_ticks "$api_pid") docker0=$(cpu_ticks "$dockerd_pid") t0=${EPOCHREALTIME/./}
    sleep "$phase"
    api1=$(cpu_ticks "$api_pid") docker1=$(cpu_ticks "$dockerd_pid") t1=${EPOCHREALTIME/./}
    read -r sum1 count1 < <(pass_stats)
    if [[ $collector == true ]]; then
      up=$(api_get /metrics | grep -c '^controlplane_node_up{.*} 1' || true)
      ((up == 2 * groups)) || cp_die "/metrics shows $up nodes up, not $((2 * groups))"
    fi
    awk -v c="$collector" -v r="$round" -v a=$((api1 - api0)) -v d=$((docker1 - docker0)) -v hz="$hz" -v us=$((t1 - t0)) \
      -v s0="$sum0" -v s1="$sum1" -v c0="$count0" -v c1="$count1" 'BEGIN {
        secs = us / 1e6
        printf "%s %s %.2f %.2f %.2f\n", c, r, 100 * a / hz / secs, 100 * d / hz / secs, (c1 > c0 ? 1000 * (s1 - s0) / (c1 - c0) : 0)
      }' >>"$results"
    say "round $round collector=$collector: $(tail -n 1 "$results" | cut -d' ' -f3-) (api cpu %, dockerd cpu %, pass ms)"
  done
done

rounds_ms=$(sed -n 's/.*Read \([0-9]*\) nodes in \([0-9]*\) ms.*/\1 \2/p' "$state/api.log" | awk -v n=$((2 * groups)) '$1 == n { print $2 }' | sort -n)
[[ -n $rounds_ms ]] || cp_die "no collection round of $((2 * groups)) nodes in the log"
echo
say "metrics collector cost, $((2 * groups)) Redis nodes, interval ${interval} s, $rounds x ${phase} s per side:"
awk '{ n[$1]++; api[$1] += $3; dock[$1] += $4; pass[$1] += $5 }
  END {
    printf "  %-22s %10s %10s %10s\n", "", "off", "on", "on/off"
    printf "  %-22s %10.2f %10.2f %10.2f\n", "api cpu (% of a core)", api["false"] / n["false"], api["true"] / n["true"], (api["true"] / n["true"]) / (api["false"] / n["false"])
    printf "  %-22s %10.2f %10.2f %10.2f\n", "dockerd cpu (%)", dock["false"] / n["false"], dock["true"] / n["true"], (dock["true"] / n["true"]) / (dock["false"] / n["false"])
    printf "  %-22s %10.2f %10.2f %10.2f\n", "reconcile pass (ms)", pass["false"] / n["false"], pass["true"] / n["true"], (pass["true"] / n["true"]) / (pass["false"] / n["false"])
  }' "$results"
awk '{ a[NR] = $1 } END { printf "  one collection round of %d nodes: median %d ms, max %d ms (%d rounds)\n", n, a[int((NR + 1) / 2)], a[NR], NR }' n=$((2 * groups)) <<<"$rounds_ms"
