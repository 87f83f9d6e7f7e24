#!/usr/bin/env bash
# What TLS costs on the data path: redis-benchmark against one Redis node of a transit-encryption
# group in preferred mode, which takes TLS and plain text on the same port (its multiplexer in front),
# interleaved (plain, tls, plain, ...) so machine noise hits both alike. A third side, direct, is
# plain text straight to the node's inner plain-text port (behind the multiplexer): what the
# multiplexer itself costs (ratio mux = plain / direct). The client trusts the
# authority from GET /v1/ca.pem, as a user's client would. Prints per command and pipeline depth:
#
#   tls-cost: set -P 1 plain rps=61000 tls rps=52000 ratio=0.85 direct rps=90000 mux=0.68
#
# (the medians of the rounds; ratio = tls / plain, mux = plain / direct). Bounded: a few seconds a run.
# Everything listens on 127.0.0.1 and is removed at the end (API, Postgres, engine, temp folder).
#
#   BENCH_RUNS        interleaved rounds (default 3)
#   BENCH_REQUESTS    requests per run (default 20000)
#   BENCH_CLIENTS     parallel connections (default 20)
#   BENCH_OURS_PORTS  the control plane's node port range (default 6300-6349)
#   BENCH_TIMEOUT     seconds one redis-benchmark run may take (default 60)
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
export LC_ALL=C

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
# shellcheck source=../lib/common.sh
source deploy/lib/common.sh

runs=${BENCH_RUNS:-3}
requests=${BENCH_REQUESTS:-20000}
clients=${BENCH_CLIENTS:-20}
timeout=${BENCH_TIMEOUT:-60}
ours_ports=${BENCH_OURS_PORTS:-6300-6349}
log_level=Warning
keep=${BENCH_KEEP_STATE:-0}
for n in "$runs" "$requests" "$clients" "$timeout"; do
  [[ $n =~ ^[1-9][0-9]*$ ]] || { cp_log "BENCH_RUNS, _REQUESTS, _CLIENTS and _TIMEOUT must be positive integers"; exit 2; }
done
[[ $ours_ports =~ ^([0-9]+)-([0-9]+)$ ]] || { cp_log "BENCH_OURS_PORTS must look like 6300-6349"; exit 2; }
# shellcheck disable=SC2034  # read by env.sh
ours_start=${BASH_REMATCH[1]} ours_end=${BASH_REMATCH[2]}
# shellcheck source=env.sh
source deploy/bench/env.sh
command -v redis-benchmark >/dev/null || cp_ensure_apt_packages redis-tools
redis-benchmark --help 2>&1 | grep -q -- '--tls' || cp_die "this redis-benchmark is built without TLS"

api_get() { curl -fsS --max-time 10 -H "Authorization: Bearer $BENCH_API_KEY" "http://$api$1"; }

setup
api_get /v1/ca.pem >"$state/ca.pem"
cp_log "creating a group in transit encryption's preferred mode"
curl -fsS -o /dev/null --max-time 10 -H "Authorization: Bearer $BENCH_API_KEY" -H 'Content-Type: application/json' \
  -d '{"id":"tlscost","replicasPerShard":0,"transitEncryption":true,"transitEncryptionMode":"preferred"}' "http://$api/v1/replication-groups"
deadline=$((SECONDS + 120))
ports=
until [[ -n $ports ]]; do
  ((SECONDS < deadline)) || cp_die "the group did not become available within 120 s"
  sleep 1
  ports=$(api_get /v1/replication-groups/tlscost | python3 -c '
import json, sys
g = json.load(sys.stdin)
n = g["shards"][0]["nodes"][0]
if g["status"] == "available" and n.get("endpoint"):
    print(n["endpoint"]["port"])')
done
tls_port=$ports plain_port=$ports
# The node's own command line says where its plain-text listener is (the last --port).
direct_port=$(dk inspect -f '{{json .Config.Cmd}}' "$(dk ps --filter label=controlplane.kind=redis --filter "label=controlplane.port=$ports" --format '{{.Names}}')" \
  | python3 -c 'import json, sys; c = json.load(sys.stdin); print([c[i + 1] for i, a in enumerate(c) if a == "--port"][-1])')
cp_log "node: TLS and plain text on $ports (through its multiplexer), plain text directly on $direct_port"

rps_of() { awk -F'"' -v t="$2" '$2 == t { print $4 }' <<<"$1" | tail -n1; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
results=$state/results
: >"$results"
for pipeline in 1 16; do
  for run in $(seq "$runs"); do
    for side in plain tls direct; do
      case $side in
        tls) args=(-p "$tls_port" --tls --cacert "$state/ca.pem" --sni 127.0.0.1) ;;
        plain) args=(-p "$plain_port") ;;
        direct) args=(-p "$direct_port") ;;
      esac
      out=$(timeout "$timeout" redis-benchmark -h 127.0.0.1 "${args[@]}" --csv -t set,get -n "$requests" -c "$clients" -P "$pipeline" 2>&1) \
        || { printf '%s\n' "$out" >&2; cp_die "redis-benchmark ($side) failed"; exit 1; }
      for test in SET GET; do
        rps=$(rps_of "$out" "$test")
        [[ -n $rps ]] || { printf '%s\n' "$out" >&2; cp_die "no $test result ($side)"; exit 1; }
        printf '%s %s %s %s\n' "$test" "$pipeline" "$side" "$rps" >>"$results"
        cp_log "-P $pipeline run $run $side: $test $rps requests/s"
      done
    done
  done
done

pick() { awk -v t="$1" -v p="$2" -v s="$3" '$1 == t && $2 == p && $3 == s { print $4 }' "$results" | median; }
printf '| command | pipeline | plain requests/s | TLS requests/s | TLS / plain | direct requests/s | plain / direct |\n|---|---|---|---|---|---|---|\n'
for pipeline in 1 16; do
  for test in SET GET; do
    plain=$(pick "$test" "$pipeline" plain) tls=$(pick "$test" "$pipeline" tls) direct=$(pick "$test" "$pipeline" direct)
    ratio=$(awk -v a="$tls" -v b="$plain" 'BEGIN { printf "%.2f", a / b }')
    mux=$(awk -v a="$plain" -v b="$direct" 'BEGIN { printf "%.2f", a / b }')
    printf '| %s | %s | %.0f | %.0f | %s | %.0f | %s |\n' "$test" "$pipeline" "$plain" "$tls" "$ratio" "$direct" "$mux"
    printf 'tls-cost: %s -P %s plain rps=%.0f tls rps=%.0f ratio=%s direct rps=%.0f mux=%s\n' "${test,,}" "$pipeline" "$plain" "$tls" "$ratio" "$direct" "$mux" >&2
  done
done
printf 'tls-cost: %s runs of %s requests, %s clients; bench took %ss\n' "$runs" "$requests" "$clients" "$((SECONDS - bench_started))"
