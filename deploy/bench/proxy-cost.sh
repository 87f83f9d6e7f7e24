#!/usr/bin/env bash
# Data-path cost of a group's endpoint: redis-benchmark straight to a Redis node, through the kernel
# endpoint (the nftables rules NftRuleset generates: DNAT in the output hook, nothing on the data
# path) and through the endpoint proxy (HAProxy, the configuration EndpointProxy generates, the
# same memory and CPU limits), on one private Docker engine, interleaved (direct, kernel, proxied,
# direct, ...) so machine noise hits all alike. Two more sides for transit encryption: a TLS node
# (certificates of a throwaway authority) straight (tls-direct) and through its own proxy
# (tls-proxied: TCP mode, the client's TLS with the node, the proxy's checks over TLS), with
# redis-benchmark --tls; their ratios are against tls-direct. Prints one line per command,
# pipeline depth and side:
#
#   proxy-cost: set -P 1 kernel rps=94339 ratio=0.99 p50=0.271 (x1.00) p99=0.455 (x1.02) ms
#
# with the median requests/s of the rounds and its ratio to direct, and the median p50 and p99
# latencies with their ratio to direct's (lower is better). Target: the kernel endpoint at 0.95x
# or better of direct's requests/s on every row; a second line judges the latencies as strictly
# (ratio <= 1/0.95).
# Everything listens on 127.0.0.1 and is removed at the end (containers, rules, engine, temp folder).
#
#   BENCH_RUNS      interleaved rounds (default 5)
#   BENCH_REQUESTS  requests per run (default 100000)
#   BENCH_CLIENTS   parallel connections (default 50)
#   BENCH_PORT      the node's port; the proxy takes the next two, the kernel endpoint the two after,
#                   the proxy's runtime API the next, then the TLS node and its proxy's three (ten in
#                   all; default: ten free ports the kernel hands out, so that other benchmarks' fixed
#                   ranges are left alone)
#   BENCH_TIMEOUT   seconds one redis-benchmark run may take (default 120)
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
export LC_ALL=C

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
# shellcheck source=../lib/common.sh
source deploy/lib/common.sh

runs=${BENCH_RUNS:-5}
requests=${BENCH_REQUESTS:-100000}
clients=${BENCH_CLIENTS:-50}
timeout=${BENCH_TIMEOUT:-120}
if [[ -n ${BENCH_PORT:-} ]]; then
  node_port=$BENCH_PORT primary_port=$((BENCH_PORT + 1)) reader_port=$((BENCH_PORT + 2))
  kernel_port=$((BENCH_PORT + 3)) kernel_reader_port=$((BENCH_PORT + 4)) admin_port=$((BENCH_PORT + 5))
  tls_node_port=$((BENCH_PORT + 6)) tls_primary_port=$((BENCH_PORT + 7)) tls_reader_port=$((BENCH_PORT + 8)) tls_admin_port=$((BENCH_PORT + 9))
else
  read -r node_port primary_port reader_port kernel_port kernel_reader_port admin_port \
    tls_node_port tls_primary_port tls_reader_port tls_admin_port < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(10)]
for s in socks: s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))')
fi
redis_image=${CONTROLPLANE_REDIS_IMAGE:-controlplane/redis:7.0}
haproxy_image=${CONTROLPLANE_HAPROXY_IMAGE:-controlplane/haproxy:2.6}
group=bench-proxy
table=controlplane-benchcost

for value in "$runs" "$requests" "$clients" "$node_port" "$timeout"; do
  [[ $value =~ ^[1-9][0-9]*$ ]] || { cp_log "BENCH_* settings must be positive integers"; exit 2; }
done
command -v redis-benchmark >/dev/null || cp_ensure_apt_packages redis-tools
redis-benchmark --help 2>&1 | grep -q -- '--tls' || cp_die "this redis-benchmark is built without TLS"
cp_ensure_netfilter_tools

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
    dk logs --tail 20 "$group-tls-endpoint" >&2 2>&1
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
  nft delete table ip "$table" 2>/dev/null
  _cp_umount_under "$state" # nothing mounted may be left below a folder that rm -rf walks
  rm -rf "$state"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# until_answers PORT ROLE [redis-cli options]: wait (10 s at most) until the node behind PORT says ROLE (e.g. master).
until_answers() {
  local deadline=$((SECONDS + 10))
  until [[ $(timeout 2 redis-cli -h 127.0.0.1 -p "$1" "${@:3}" role 2>/dev/null | head -n1) == "$2" ]]; do
    ((SECONDS < deadline)) || cp_die "nothing answers as $2 on 127.0.0.1:$1" || return
    sleep 0.05
  done
}

# The proxy's configuration and the kernel endpoint's rules come from EndpointProxy and NftRuleset
# themselves (a .NET file-based app that references the API project), so the bench measures what
# the control plane deploys. The TLS node's files (authority, certificate and key, ECDSA P-256 as
# the control plane's) come from it too.
proxy_config() {
  cat >"$state/proxy-config.cs" <<EOF
#:project $root/src/ControlPlane.Api/ControlPlane.Api.csproj
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using ControlPlane.Api.Runtime;
// "serve": put the node in the running proxy's slots through its runtime API, as the reconciler does.
if (args is ["serve"])
{
    await ProxyAdmin.ServeAsync("127.0.0.1", $admin_port, [new ProxyNode("$group-001", "127.0.0.1", $node_port)], TimeSpan.FromSeconds(30), TimeProvider.System, CancellationToken.None);
    await ProxyAdmin.ServeAsync("127.0.0.1", $tls_admin_port, [new ProxyNode("$group-tls-001", "127.0.0.1", $tls_node_port)], TimeSpan.FromSeconds(30), TimeProvider.System, CancellationToken.None);
    return;
}
var now = DateTimeOffset.UtcNow;
var authorityKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
var authorityRequest = new CertificateRequest("CN=proxy-cost authority", authorityKey, HashAlgorithmName.SHA256);
authorityRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
authorityRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign, true));
using var authority = authorityRequest.CreateSelfSigned(now.AddMinutes(-5), now.AddDays(1));
var nodeKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
var nodeRequest = new CertificateRequest("CN=$group-tls-001", nodeKey, HashAlgorithmName.SHA256);
var names = new SubjectAlternativeNameBuilder();
names.AddIpAddress(System.Net.IPAddress.Loopback);
nodeRequest.CertificateExtensions.Add(names.Build());
using var nodeCertificate = nodeRequest.Create(authority, now.AddMinutes(-5), now.AddDays(1), RandomNumberGenerator.GetBytes(8));
var authorityPem = authority.ExportCertificatePem() + "\n";
File.WriteAllText("$state/tls-ca.crt", authorityPem);
File.WriteAllText("$state/tls-node.crt", nodeCertificate.ExportCertificatePem() + "\n");
File.WriteAllText("$state/tls-node.key", nodeKey.ExportPkcs8PrivateKeyPem() + "\n");
File.WriteAllText("$state/haproxy-tls.cfg", EndpointProxy.Config("$group-tls", "127.0.0.1", new ProxyPorts($tls_primary_port, $tls_reader_port, $tls_admin_port),
    tls: new HealthTls(authorityPem)));
Console.Write(EndpointProxy.Config("$group", "127.0.0.1", new ProxyPorts($primary_port, $reader_port, $admin_port)));
Console.Error.WriteLine(System.FormattableString.Invariant(\$"{EndpointProxy.DefaultMemoryBytes} {EndpointProxy.DefaultCpus}"));
var node = new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, $node_port);
File.WriteAllText("$state/rules.nft", NftRuleset.Rebuild("$table", [new GroupForwarding("$group", System.Net.IPAddress.Loopback,
    [new PortForward($kernel_port, [node]), new PortForward($kernel_reader_port, [node])])]));
EOF
  cp_log "building EndpointProxy's configuration"
  dotnet build "$state/proxy-config.cs" >"$state/build.log" 2>&1 \
    || { grep -E 'error' "$state/build.log" | tail -n 20 >&2; cp_die "building the configuration generator failed"; return; }
  dotnet run --no-build "$state/proxy-config.cs" >"$state/haproxy.cfg" 2>"$state/limits"
}

# rps_of OUTPUT TEST: requests/s, p50 and p99 (ms) of TEST (SET or GET) in redis-benchmark --csv output.
rps_of() {
  awk -F'"' -v t="$2" '$2 == t { print $4, $10, $14 }' <<<"$1" | tail -n1
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

bench_started=$SECONDS
for port in "$node_port" "$primary_port" "$reader_port" "$kernel_port" "$kernel_reader_port" "$admin_port" \
  "$tls_node_port" "$tls_primary_port" "$tls_reader_port" "$tls_admin_port"; do
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
# The TLS node as a TLS group's node runs (NodeTransit): TLS only on its port, no client certificate.
dk create --name "$group-tls-001" --network host "$redis_image" \
  redis-server --port 0 --tls-port "$tls_node_port" --bind 127.0.0.1 --protected-mode no --save "" --appendonly no \
  --tls-cert-file /data/tls-node.crt --tls-key-file /data/tls-node.key --tls-ca-cert-file /data/tls-ca.crt --tls-auth-clients no >/dev/null
for file in tls-ca.crt tls-node.crt tls-node.key; do dk cp "$state/$file" "$group-tls-001:/data/$file"; done
dk start "$group-tls-001" >/dev/null
dk create --name "$group-tls-endpoint" --network host --memory "$memory" --memory-swap "$memory" --cpus "$cpus" \
  "$haproxy_image" haproxy -f /etc/haproxy/haproxy.cfg -db >/dev/null
dk cp "$state/haproxy-tls.cfg" "$group-tls-endpoint:/etc/haproxy/haproxy.cfg"
dk cp "$state/tls-ca.crt" "$group-tls-endpoint:/etc/haproxy/tls-ca.pem"
dk start "$group-tls-endpoint" >/dev/null
tls_args=(--tls --cacert "$state/tls-ca.crt" --sni 127.0.0.1)
until_answers "$node_port" master
until_answers "$tls_node_port" master "${tls_args[@]}"
dotnet run --no-build "$state/proxy-config.cs" -- serve || cp_die "putting the node in the proxy failed" || exit 1
until_answers "$primary_port" master
until_answers "$reader_port" master # no replica: the primary serves reads
until_answers "$tls_primary_port" master "${tls_args[@]}" # the proxy's TLS checks took the node
nft -f "$state/rules.nft"
until_answers "$kernel_port" master
until_answers "$kernel_reader_port" master

results=$state/results
for pipeline in 1 16; do
  for run in $(seq "$runs"); do
    for side in direct kernel proxied tls-direct tls-proxied; do
      extra=()
      case $side in
        direct) port=$node_port ;; kernel) port=$kernel_port ;; proxied) port=$primary_port ;;
        tls-direct) port=$tls_node_port extra=("${tls_args[@]}") ;; tls-proxied) port=$tls_primary_port extra=("${tls_args[@]}") ;;
      esac
      out=$(timeout "$timeout" redis-benchmark -h 127.0.0.1 -p "$port" "${extra[@]}" --csv -t set,get \
        -n "$requests" -c "$clients" -P "$pipeline" 2>&1) \
        || { printf '%s\n' "$out" >&2; cp_die "redis-benchmark on port $port failed"; exit 1; }
      for test in SET GET; do
        read -r rps p50 p99 <<<"$(rps_of "$out" "$test")"
        [[ -n $p99 ]] || { printf '%s\n' "$out" >&2; cp_die "no $test result on port $port"; exit 1; }
        printf '%s %s %s %s %s %s\n' "$test" "$pipeline" "$side" "$rps" "$p50" "$p99" >>"$results"
        cp_log "-P $pipeline run $run $side: $test $rps requests/s, p50 $p50 ms, p99 $p99 ms"
      done
    done
  done
done

# pick TEST PIPELINE SIDE FIELD: the median of FIELD (4 requests/s, 5 p50, 6 p99) over the rounds.
pick() {
  awk -v t="$1" -v p="$2" -v s="$3" -v f="$4" '$1 == t && $2 == p && $3 == s { print $f }' "$results" | median
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
met=1 latency_met=1
printf '| command | pipeline | side | requests/s | ratio | p50 ms | p99 ms |\n|---|---|---|---|---|---|---|\n' >"$state/table"
for pipeline in 1 16; do
  for test in SET GET; do
    for side in direct kernel proxied tls-direct tls-proxied; do
      # TLS sides against the TLS node straight, the others against the plain-text node straight.
      base=direct
      [[ $side == tls-* ]] && base=tls-direct
      d_rps=$(pick "$test" "$pipeline" "$base" 4) d_p50=$(pick "$test" "$pipeline" "$base" 5) d_p99=$(pick "$test" "$pipeline" "$base" 6)
      rps=$(pick "$test" "$pipeline" "$side" 4) p50=$(pick "$test" "$pipeline" "$side" 5) p99=$(pick "$test" "$pipeline" "$side" 6)
      r=$(ratio "$rps" "$d_rps") l50=$(ratio "$p50" "$d_p50") l99=$(ratio "$p99" "$d_p99")
      printf 'proxy-cost: %s -P %s %-11s rps=%.0f ratio=%s p50=%s (x%s) p99=%s (x%s) ms\n' \
        "${test,,}" "$pipeline" "$side" "$rps" "$r" "$p50" "$l50" "$p99" "$l99"
      printf '| %s | %s | %s | %.0f | %s | %s (x%s) | %s (x%s) |\n' "$test" "$pipeline" "$side" "$rps" "$r" "$p50" "$l50" "$p99" "$l99" >>"$state/table"
      # The issue's target is throughput; latency is judged as strictly too, and reported on its own line.
      if [[ $side == kernel ]] && ! awk -v r="$r" 'BEGIN { exit !(r >= 0.95) }'; then met=0; fi
      if [[ $side == kernel ]] && ! awk -v a="$l50" -v b="$l99" 'BEGIN { exit !(a <= 1 / 0.95 && b <= 1 / 0.95) }'; then latency_met=0; fi
    done
  done
done
cat "$state/table"
verdict() { if (($1)); then echo met; else echo MISSED; fi; }
echo "proxy-cost: target (kernel endpoint requests/s >= 0.95x direct on every row): $(verdict "$met")"
echo "proxy-cost: latency (kernel endpoint p50 and p99 within 1/0.95 of direct on every row): $(verdict "$latency_met")"
dk stats --no-stream --format 'proxy-cost: proxy container memory {{.MemUsage}}' "$group-endpoint"
printf 'proxy-cost: %s runs of %s requests, %s clients; bench took %ss\n' "$runs" "$requests" "$clients" "$((SECONDS - bench_started))"
