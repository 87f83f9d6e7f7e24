#!/usr/bin/env bash
# Data-path cost of a group's endpoint: redis-benchmark straight to a Redis node and through the
# endpoint proxy in front of it (HAProxy, the configuration EndpointProxy generates, the same
# memory and CPU limits), on one private Docker engine, interleaved (direct, proxied, direct, ...)
# so machine noise hits both alike. Prints one line per command and pipeline depth:
#
#   proxy-cost: set -P 1 direct=94339 proxied=61349 ratio=0.65 p50 direct=0.271 proxied=0.415 ms
#
# with the median requests/s of the runs, proxied/direct, and the median p50 latencies.
# Everything listens on 127.0.0.1 and is removed at the end (container, engine, temp folder).
#
#   BENCH_RUNS      runs per case and side (default 3)
#   BENCH_REQUESTS  requests per run (default 100000)
#   BENCH_CLIENTS   parallel connections (default 50)
#   BENCH_PORT      the node's port; the proxy takes the next two (default: three free ports the
#                   kernel hands out, so that other benchmarks' fixed ranges are left alone)
#   BENCH_TIMEOUT   seconds one redis-benchmark run may take (default 120)
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
export LC_ALL=C

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
# shellcheck source=../lib/common.sh
source deploy/lib/common.sh

runs=${BENCH_RUNS:-3}
requests=${BENCH_REQUESTS:-100000}
clients=${BENCH_CLIENTS:-50}
timeout=${BENCH_TIMEOUT:-120}
if [[ -n ${BENCH_PORT:-} ]]; then
  node_port=$BENCH_PORT primary_port=$((BENCH_PORT + 1)) reader_port=$((BENCH_PORT + 2))
else
  read -r node_port primary_port reader_port < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(3)]
for s in socks: s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))')
fi
redis_image=${CONTROLPLANE_REDIS_IMAGE:-controlplane/redis:7.0}
haproxy_image=${CONTROLPLANE_HAPROXY_IMAGE:-controlplane/haproxy:2.6}
group=bench-proxy

for value in "$runs" "$requests" "$clients" "$node_port" "$timeout"; do
  [[ $value =~ ^[1-9][0-9]*$ ]] || { cp_log "BENCH_* settings must be positive integers"; exit 2; }
done
command -v redis-benchmark >/dev/null || cp_ensure_apt_packages redis-tools

state=$(mktemp -d /tmp/cpx.XXXXXX)
engine=

dk() { docker -H "$engine" "$@"; }

# shellcheck disable=SC2317,SC2329  # run by the EXIT trap
cleanup() {
  local rc=$? uri ids
  trap - EXIT INT TERM
  trap '' PIPE # a closed terminal or pipe must not cut the cleanup short
  set +e
  if ((rc != 0)) && [[ -n $engine ]]; then
    cp_log "last lines of the proxy's log:"
    dk logs --tail 20 "$group-endpoint" >&2 2>&1
  fi
  uri=$(cp_engine_uri az-a "$state")
  if _cp_engine_answers "$uri"; then
    ids=$(docker -H "$uri" ps -aq)
    if [[ -n $ids ]]; then
      # shellcheck disable=SC2086  # one id a word
      docker -H "$uri" rm -f $ids >/dev/null
    fi
  fi
  cp_stop_engine az-a "$state"
  _cp_umount_under "$state" # nothing mounted may be left below a folder that rm -rf walks
  rm -rf "$state"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# until_answers PORT ROLE: wait (10 s at most) until the node behind PORT says ROLE (e.g. master).
until_answers() {
  local deadline=$((SECONDS + 10))
  until [[ $(timeout 2 redis-cli -h 127.0.0.1 -p "$1" role 2>/dev/null | head -n1) == "$2" ]]; do
    ((SECONDS < deadline)) || cp_die "nothing answers as $2 on 127.0.0.1:$1" || return
    sleep 0.05
  done
}

# The proxy's configuration comes from EndpointProxy itself (a .NET file-based app that references
# the API project), so the bench measures what the control plane deploys.
proxy_config() {
  cat >"$state/proxy-config.cs" <<EOF
#:project $root/src/ControlPlane.Api/ControlPlane.Api.csproj
using ControlPlane.Api.Runtime;
Console.Write(EndpointProxy.Config("$group", "127.0.0.1", $primary_port, $reader_port, [new ProxyNode("$group-001", "127.0.0.1", $node_port)]));
Console.Error.WriteLine(System.FormattableString.Invariant(\$"{EndpointProxy.DefaultMemoryBytes} {EndpointProxy.DefaultCpus}"));
EOF
  cp_log "building EndpointProxy's configuration"
  dotnet build "$state/proxy-config.cs" >"$state/build.log" 2>&1 \
    || { grep -E 'error' "$state/build.log" | tail -n 20 >&2; cp_die "building the configuration generator failed"; return; }
  dotnet run --no-build "$state/proxy-config.cs" >"$state/haproxy.cfg" 2>"$state/limits"
}

# rps_of OUTPUT TEST: requests/s and p50 (ms) of TEST (SET or GET) in redis-benchmark -q output.
rps_of() {
  tr '\r' '\n' <<<"$1" | sed -n "s/^$2: \([0-9.]*\) requests per second, p50=\([0-9.]*\) msec.*/\1 \2/p" | tail -n1
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

bench_started=$SECONDS
for port in "$node_port" "$primary_port" "$reader_port"; do
  if port_in_use "$port"; then cp_log "127.0.0.1:$port is in use; set BENCH_PORT"; exit 2; fi
done
cp_start_engine az-a "$state" >/dev/null
engine=$CP_ENGINE_URI
deploy/images/build.sh "$engine"
proxy_config
read -r memory cpus <"$state/limits"

dk run -d --name "$group-001" --network host "$redis_image" \
  redis-server --port "$node_port" --bind 127.0.0.1 --protected-mode no --save "" --appendonly no >/dev/null
dk create --name "$group-endpoint" --network host --memory "$memory" --memory-swap "$memory" --cpus "$cpus" \
  "$haproxy_image" haproxy -f /etc/haproxy/haproxy.cfg -db >/dev/null
dk cp "$state/haproxy.cfg" "$group-endpoint:/etc/haproxy/haproxy.cfg"
dk start "$group-endpoint" >/dev/null
until_answers "$node_port" master
until_answers "$primary_port" master
until_answers "$reader_port" master # no replica: the primary serves reads

results=$state/results
for pipeline in 1 16; do
  for run in $(seq "$runs"); do
    for side in direct proxied; do
      if [[ $side == direct ]]; then port=$node_port; else port=$primary_port; fi
      out=$(timeout "$timeout" redis-benchmark -h 127.0.0.1 -p "$port" -q -t set,get \
        -n "$requests" -c "$clients" -P "$pipeline" 2>&1) \
        || { printf '%s\n' "$out" >&2; cp_die "redis-benchmark on port $port failed"; exit 1; }
      for test in SET GET; do
        read -r rps p50 <<<"$(rps_of "$out" "$test")"
        [[ -n $rps ]] || { printf '%s\n' "$out" >&2; cp_die "no $test result on port $port"; exit 1; }
        printf '%s %s %s %s %s\n' "$test" "$pipeline" "$side" "$rps" "$p50" >>"$results"
        cp_log "-P $pipeline run $run $side: $test $rps requests/s, p50 $p50 ms"
      done
    done
  done
done

# pick TEST PIPELINE SIDE FIELD: the median of FIELD (4 requests/s, 5 p50) over the runs.
pick() {
  awk -v t="$1" -v p="$2" -v s="$3" -v f="$4" '$1 == t && $2 == p && $3 == s { print $f }' "$results" | median
}
for pipeline in 1 16; do
  for test in SET GET; do
    direct=$(pick "$test" "$pipeline" direct 4) proxied=$(pick "$test" "$pipeline" proxied 4)
    printf 'proxy-cost: %s -P %s direct=%.0f proxied=%.0f ratio=%.2f p50 direct=%s proxied=%s ms\n' \
      "${test,,}" "$pipeline" "$direct" "$proxied" "$(awk -v a="$proxied" -v b="$direct" 'BEGIN { print a / b }')" \
      "$(pick "$test" "$pipeline" direct 5)" "$(pick "$test" "$pipeline" proxied 5)"
  done
done
dk stats --no-stream --format 'proxy-cost: proxy container memory {{.MemUsage}}' "$group-endpoint"
printf 'proxy-cost: %s runs of %s requests, %s clients; bench took %ss\n' "$runs" "$requests" "$clients" "$((SECONDS - bench_started))"
