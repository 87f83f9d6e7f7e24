#!/usr/bin/env bash
# What watching nodes costs the control plane, on real Docker: its own CPU while every node idles,
# the way it runs by default (quiet passes: one PING per node between full observations) against
# the same build observing everything on every pass (QuietPassInterval=0), restarted in turn on
# the same nodes, interleaved (quiet, every-pass, quiet, every-pass, ...) so machine noise hits both.
#
#   idle        BENCH_IDLE_NODES idle nodes (default 100): 15-node cluster-mode-enabled groups
#               (5 shards of a primary and 2 replicas) for 60%, 3-node cluster-mode-disabled groups
#               for 30%, one Memcached cluster for the rest; all cache.micro
#   cluster250  one cluster-mode-enabled group of BENCH_CLUSTER_NODES nodes (default 250: 125
#               shards of a primary and a replica, cache.micro): its create time, then the same
#               idle measurement with it running
#   memory      the reconciler against the in-memory world (ControlPlane__World=memory: no Docker,
#               fake nodes in the API process, three zones on 127.0.0.1/.2/.3), for each size of
#               BENCH_MEMORY_SIZES (default "300 1000 3000") and each shape: groups of 30 nodes
#               (cluster mode, 10 shards of a primary and 2 replicas; 1000 is 990) and, from 500
#               nodes on, groups of 500 (250 shards of a primary and a replica; created one after
#               another, the create time is their sum). Printed per size and shape: the create
#               time, the mean duration of one full pass (listing, reads and every group's
#               convergence: controlplane_reconcile_full_pass_duration_seconds over the measurement)
#               and the API's CPU at steady state (quiet passes). The fake nodes run in the API
#               process, so their share is in that figure (about a third of it at 1,000 nodes in
#               groups of 500: heartbeats and probes under the world's one lock).
#               Needs no Docker engine when it is the only case.
#
# The API runs as deployed, with tiered compilation and its dynamic PGO: the hot code is compiled
# again with what its first calls showed, which in the memory case makes a full pass over 3,000
# nodes about 1.7x faster than code compiled once (DOTNET_TieredCompilation=0 in
# BENCH_API_SETTINGS measures that way). A method is recompiled once its calls reach a count
# (30, then 30 more with PGO's instrumentation): a busy API gets there in seconds, an idle one calls
# most of its code every 5-30 s and runs it unoptimized for many minutes. Measured on one idle API
# (100 nodes, 60 s each, its JIT's own threads at 0.1% of a core or less throughout): 3.83% of a
# core 3 minutes after the start, 3.27% after 6, 3.07% after 10, 2.66% after 15, 2.53% after 25. So the quiet side
# is measured BENCH_QUIET_SETTLE seconds after its start (default 900), the every-pass side BENCH_SETTLE.
# Printed per case and side: the API process's CPU (share of one core, and per 100 nodes), the
# part of it its JIT's threads took, and Postgres' (all its processes), each the median of the
# rounds. The target for the quiet side is at most 3% of one core per 100 idle nodes, growing
# linearly (compare the two cases).
# Everything runs in a throwaway folder (Postgres, a private dockerd, the API built from this
# tree), removed at the end. Runs as root; loopback only.
#
#   BENCH_CASES           which cases, in order (default "idle cluster250")
#   BENCH_ROUNDS          measurements per side (default 2)
#   BENCH_SECONDS         length of one measurement (default 30)
#   BENCH_SETTLE          seconds after a (re)start before measuring the every-pass side and the
#                         memory case (default 90)
#   BENCH_QUIET_SETTLE    seconds after a (re)start before measuring the quiet side (default 900)
#   BENCH_IDLE_NODES      nodes of the idle case (default 100, at least 25)
#   BENCH_CLUSTER_NODES   nodes of the cluster250 case (default 250, even)
#   BENCH_OURS_PORTS      the control plane's node port range (default 6000-6399)
#   BENCH_TIMEOUT         seconds a case's creates may take (default 900)
#   BENCH_MEMORY_SIZES    node counts of the memory case (default "300 1000 3000")
#   BENCH_MEMORY_SHAPES   group sizes of the memory case (default "30 500")
#   BENCH_MEMORY_PORTS    its node port range, per zone host (default 20000-21999: 3 x 2000 ports)
#   BENCH_API_SETTINGS    more settings for the API on both sides, as NAME=VALUE words (e.g.
#                         "ControlPlane__Metrics__CollectorEnabled=false" to see the collector's share)
#   BENCH_LOG_LEVEL, BENCH_KEEP_STATE   as in the other benches
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
export LC_ALL=C

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
# shellcheck source=../lib/common.sh
source deploy/lib/common.sh

read -r -a cases <<<"${BENCH_CASES:-idle cluster250}"
rounds=${BENCH_ROUNDS:-2}
seconds=${BENCH_SECONDS:-30}
settle=${BENCH_SETTLE:-90}
quiet_settle=${BENCH_QUIET_SETTLE:-900}
idle_nodes=${BENCH_IDLE_NODES:-100}
cluster_nodes=${BENCH_CLUSTER_NODES:-250}
ours_ports=${BENCH_OURS_PORTS:-6000-6399}
timeout=${BENCH_TIMEOUT:-900}
log_level=${BENCH_LOG_LEVEL:-Warning}
keep=${BENCH_KEEP_STATE:-0}
target=0.03

for n in "$rounds" "$seconds" "$settle" "$quiet_settle" "$idle_nodes" "$cluster_nodes" "$timeout"; do
  [[ $n =~ ^[1-9][0-9]*$ ]] || { cp_log "counts and durations must be positive integers"; exit 2; }
done
for case in "${cases[@]}"; do
  [[ $case == idle || $case == cluster250 || $case == memory ]] || { cp_log "BENCH_CASES: unknown case $case (idle, cluster250, memory)"; exit 2; }
done
read -r -a memory_sizes <<<"${BENCH_MEMORY_SIZES:-300 1000 3000}"
read -r -a memory_shapes <<<"${BENCH_MEMORY_SHAPES:-30 500}"
for shape in "${memory_shapes[@]}"; do
  [[ $shape == 30 || $shape == 500 ]] || { cp_log "BENCH_MEMORY_SHAPES: $shape is not 30 or 500"; exit 2; }
done
for n in "${memory_sizes[@]}"; do
  [[ $n =~ ^[1-9][0-9]*$ ]] && ((n >= 30)) || { cp_log "BENCH_MEMORY_SIZES: $n is not a whole number of at least 30"; exit 2; }
done
[[ ${BENCH_MEMORY_PORTS:-20000-21999} =~ ^([0-9]+)-([0-9]+)$ ]] || { cp_log "BENCH_MEMORY_PORTS must look like 20000-21999"; exit 2; }
memory_ports=("ControlPlane__Reconciler__PortRangeStart=${BASH_REMATCH[1]}" "ControlPlane__Reconciler__PortRangeEnd=${BASH_REMATCH[2]}")
((idle_nodes >= 25)) || { cp_log "BENCH_IDLE_NODES must be at least 25"; exit 2; }
((cluster_nodes % 2 == 0)) || { cp_log "BENCH_CLUSTER_NODES must be even (shards of two nodes)"; exit 2; }
[[ $ours_ports =~ ^([0-9]+)-([0-9]+)$ ]] || { cp_log "BENCH_OURS_PORTS must look like 6000-6399"; exit 2; }
ours_start=${BASH_REMATCH[1]} ours_end=${BASH_REMATCH[2]}

# shellcheck source=env.sh
source deploy/bench/env.sh

# Room for the biggest group, per group and per tenant.
quotas=(ControlPlane__NodeQuota=500 ControlPlane__ShardQuota=500 ControlPlane__TenantNodeQuota=1000 ControlPlane__TotalNodeQuota=1000)
read -r -a api_settings <<<"${BENCH_API_SETTINGS:-}"
quotas+=("${api_settings[@]}")
every_pass=ControlPlane__Reconciler__QuietPassInterval=00:00:00

# idle_resources N: the POST bodies of the idle case, as PATH=BODY words
idle_resources() {
  local n=$1 cme cmd mc i
  cme=$((n * 60 / 100 / 15)) cmd=$((n * 30 / 100 / 3))
  mc=$((n - 15 * cme - 3 * cmd))
  for ((i = 1; i <= cme; i++)); do
    echo "/v1/replication-groups={\"id\":\"cme-$i\",\"clusterMode\":\"enabled\",\"numShards\":5,\"replicasPerShard\":2,\"nodeType\":\"cache.micro\"}"
  done
  for ((i = 1; i <= cmd; i++)); do
    echo "/v1/replication-groups={\"id\":\"cmd-$i\",\"replicasPerShard\":2,\"nodeType\":\"cache.micro\"}"
  done
  echo "/v1/cache-clusters={\"id\":\"mc-1\",\"engine\":\"memcached\",\"numNodes\":$mc,\"nodeType\":\"cache.micro\"}"
}

postmaster() { head -n 1 "$state/pg/postmaster.pid"; }

# memory_resources N SHAPE: the POST bodies of the memory case, as PATH=BODY words
memory_resources() {
  local n=$1 shape=$2 i
  for ((i = 1; i <= n / shape; i++)); do
    if ((shape == 30)); then
      echo "/v1/replication-groups={\"id\":\"m30-$i\",\"clusterMode\":\"enabled\",\"numShards\":10,\"replicasPerShard\":2,\"nodeType\":\"cache.micro\"}"
    else
      echo "/v1/replication-groups={\"id\":\"m500-$i\",\"clusterMode\":\"enabled\",\"numShards\":250,\"replicasPerShard\":1,\"nodeType\":\"cache.micro\"}"
    fi
  done
}

# histogram_totals [NAME]: the sum (seconds) and count of a reconcile histogram (default the full
# pass; pass: the listing part; converge: one group's convergence), over every label, as /metrics shows them now
histogram_totals() {
  local name=controlplane_reconcile_${1:-full_pass}_duration_seconds
  curl -fsS -H "Authorization: Bearer $BENCH_API_KEY" "http://$api/metrics" \
    | awk -v n="$name" '$1 ~ "^" n "_sum" { s += $NF } $1 ~ "^" n "_count" { c += $NF } END { print s + 0, c + 0 }'
}

# mean_ms "SUM COUNT" "SUM COUNT": the mean in ms of what was recorded between the two readings
mean_ms() {
  python3 -c 'import sys; s0, c0 = map(float, sys.argv[1].split()); s1, c1 = map(float, sys.argv[2].split()); print(round((s1 - s0) * 1000 / (c1 - c0), 1) if c1 > c0 else "none")' "$1" "$2"
}

# memory_case N SHAPE: a fresh API on the memory world, N nodes in groups of SHAPE, measured, then deleted
memory_case() {
  local n=$1 shape=$2 secs before after figures resource body id
  stop_api
  start_api "${quotas[@]}" "${memory_ports[@]}" ControlPlane__World=memory ControlPlane__TenantNodeQuota=5000 ControlPlane__TotalNodeQuota=5000 \
    ControlPlane__AvailabilityZones__1__Name=az-b ControlPlane__AvailabilityZones__1__DockerEndpoint=unix:///nonexistent/docker.sock \
    ControlPlane__AvailabilityZones__1__Host=127.0.0.2 \
    ControlPlane__AvailabilityZones__2__Name=az-c ControlPlane__AvailabilityZones__2__DockerEndpoint=unix:///nonexistent/docker.sock \
    ControlPlane__AvailabilityZones__2__Host=127.0.0.3
  mapfile -t resources < <(memory_resources "$n" "$shape")
  cp_log "memory: creating $n nodes in ${#resources[@]} groups of $shape"
  if ((shape >= 500)); then
    # One after another: six 500-node creates at once keep the fake world's one lock busy (every
    # create step reads CLUSTER NODES of 500 entries from 500 nodes), the API's thread pool starves
    # and even its Postgres connects time out. What is measured is the steady state after.
    secs=0
    for resource in "${resources[@]}"; do
      secs=$(python3 -c "import sys; print(round(float(sys.argv[1]) + float(sys.argv[2]), 2))" "$secs" "$(bench provision "$api" "$timeout" "$resource")")
    done
  else
    secs=$(bench provision "$api" "$timeout" "${resources[@]}")
  fi
  cp_log "memory: every group available after ${secs}s; settling ${settle}s"
  sleep "$settle"
  before=$(histogram_totals) listing_before=$(histogram_totals pass) converge_before=$(histogram_totals converge)
  figures=$(bench cpu "$seconds" "$api_pid" "$(postmaster)")
  after=$(histogram_totals) listing_after=$(histogram_totals pass) converge_after=$(histogram_totals converge)
  say "memory $n $shape $secs $before $after $figures" >>"$state/figures"
  cp_log "memory $n nodes (groups of $shape): full passes (sum count) $before -> $after; API and Postgres $(sed 's/ / and /' <<<"$figures") of one core"
  # Where a full pass goes: its listing part, then the groups' convergences (of every pass, quick ones too).
  cp_log "memory $n nodes (groups of $shape): mean listing $(mean_ms "$listing_before" "$listing_after") ms, mean convergence $(mean_ms "$converge_before" "$converge_after") ms"
  for resource in "${resources[@]}"; do
    body=${resource#*=} id=${body#*\"id\":\"} id=${id%%\"*}
    curl -fsS -o /dev/null -X DELETE -H "Authorization: Bearer $BENCH_API_KEY" "http://$api${resource%%=*}/$id"
  done
  wait_for "$timeout" "the memory case's groups to go" bash -c \
    "[[ \$(curl -fsS -H 'Authorization: Bearer $BENCH_API_KEY' 'http://$api/v1/replication-groups' | python3 -c 'import json,sys; print(len(json.load(sys.stdin)[\"items\"]))') == 0 ]]"
}

# measure CASE NODES: the rounds of both sides, each after a restart of the API; one line per round and side
measure() {
  local case=$1 nodes=$2 round side figures shares
  for ((round = 1; round <= rounds; round++)); do
    for side in quiet every-pass; do
      stop_api
      if [[ $side == quiet ]]; then
        start_api "${quotas[@]}"
        sleep "$quiet_settle"
      else
        start_api "${quotas[@]}" "$every_pass"
        sleep "$settle"
      fi
      figures=$(bench cpujit "$seconds" "$api_pid" "$(postmaster)")
      say "$case $nodes $side $figures" >>"$state/figures"
      read -r -a shares <<<"$figures"
      cp_log "$case round $round $side: API ${shares[0]} (its JIT ${shares[2]}) and Postgres ${shares[1]} of one core"
    done
  done
}

if [[ " ${cases[*]} " == " memory " ]]; then
  engine=unix:///nonexistent/docker.sock # the memory world needs no engine
  setup_api
else
  setup
fi
stop_api
start_api "${quotas[@]}"
: >"$state/figures"
for case in "${cases[@]}"; do
  case $case in
  idle)
    mapfile -t resources < <(idle_resources "$idle_nodes")
    cp_log "idle: creating $idle_nodes nodes in ${#resources[@]} groups and clusters"
    secs=$(bench provision "$api" "$timeout" "${resources[@]}")
    cp_log "idle: every group available after ${secs}s"
    measure idle "$idle_nodes"
    for resource in "${resources[@]}"; do
      body=${resource#*=} id=${body#*\"id\":\"} id=${id%%\"*}
      curl -fsS -o /dev/null -X DELETE -H "Authorization: Bearer $BENCH_API_KEY" "http://$api${resource%%=*}/$id"
    done
    wait_for "$timeout" "the idle case's nodes to go" bash -c "[[ -z \$(docker -H '$engine' ps -aq) ]]"
    ;;
  cluster250)
    shards=$((cluster_nodes / 2))
    cp_log "cluster250: creating one cluster-mode-enabled group of $cluster_nodes nodes ($shards shards)"
    secs=$(bench provision "$api" "$timeout" \
      "/v1/replication-groups={\"id\":\"big\",\"clusterMode\":\"enabled\",\"numShards\":$shards,\"replicasPerShard\":1,\"nodeType\":\"cache.micro\"}")
    say "create $cluster_nodes $secs" >>"$state/figures"
    cp_log "cluster250: available after ${secs}s"
    measure cluster250 "$cluster_nodes"
    ;;
  memory)
    for n in "${memory_sizes[@]}"; do
      for shape in "${memory_shapes[@]}"; do
        ((n < shape)) || memory_case "$((n / shape * shape))" "$shape"
      done
    done
    ;;
  esac
done

say
say "machine: $(nproc) CPUs, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(uname -r)"
python3 - "$state/figures" "$target" <<'EOF'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
target = float(sys.argv[2])
for row in rows:
    if row[0] == "create":
        print(f"scale-bench: create of one {row[1]}-node cluster-mode-enabled group: {float(row[2]):.1f}s")
memory = [row for row in rows if row[0] == "memory"]
if memory:
    print(f"{'memory world':<14} {'nodes':>5} {'groups of':>9} {'create s':>8} {'full pass ms':>12} {'passes':>6} {'API % core':>10} {'per 100 nodes':>13} {'Postgres %':>10}")
    for _, nodes, shape, secs, s0, c0, s1, c1, api, pg in memory:
        passes = float(c1) - float(c0)
        mean = f"{(float(s1) - float(s0)) * 1000 / passes:.1f}" if passes > 0 else "none ended"
        print(f"{'':<14} {nodes:>5} {shape:>9} {float(secs):>8.1f} {mean:>12} {passes:>6.0f} {float(api):>10.2%} {float(api) * 100 / int(nodes):>13.2%} {float(pg):>10.2%}")
        print(f"scale-bench: memory world {nodes} nodes in groups of {shape}: one full pass {mean} ms, API {float(api):.2%} of one core after the create")
cases = []
for row in rows:
    if row[0] not in ("create", "memory") and (row[0], row[1]) not in cases:
        cases.append((row[0], row[1]))
print(f"{'case':<11} {'nodes':>5}  {'side':<10} {'API % core':>10} {'its JIT':>8} {'per 100 nodes':>13} {'Postgres %':>10}")
for case, nodes in cases:
    medians = {}
    for side in ("quiet", "every-pass"):
        api = [float(r[3]) for r in rows if r[0] == case and r[2] == side]
        pg = [float(r[4]) for r in rows if r[0] == case and r[2] == side]
        jit = [float(r[5]) for r in rows if r[0] == case and r[2] == side]
        medians[side] = statistics.median(api)
        per100 = medians[side] * 100 / int(nodes)
        verdict = f"  (target <= {target:.0%} per 100: {'met' if per100 <= target else 'MISSED'})" if side == "quiet" else ""
        print(f"{case:<11} {nodes:>5}  {side:<10} {medians[side]:>10.2%} {statistics.median(jit):>8.2%} {per100:>13.2%} {statistics.median(pg):>10.2%}{verdict}")
    print(f"scale-bench: {case} {nodes} nodes idle: API {medians['quiet']:.2%} of one core "
          f"({medians['quiet'] * 100 / int(nodes):.2%} per 100 nodes) vs {medians['every-pass']:.2%} observing every pass "
          f"(ratio {medians['quiet'] / medians['every-pass']:.2f})")
EOF
