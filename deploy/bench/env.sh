# shellcheck shell=bash
# shellcheck disable=SC2034  # api, engine, state, bench_started are read by the scripts that source this file
# shellcheck disable=SC2154  # root, ours_*, log_level, keep are set by the script that sources this file
# The throwaway environment of the deploy/bench/*.sh benchmarks and the helpers they share. Source
# it (after common.sh, from the repo root, with `set -euo pipefail`); it creates the temp folder and
# installs the EXIT/INT/TERM traps at once. The sourcing script sets first:
#
#   ours_ports ours_start ours_end  the control plane's node port range ("6000-6099", 6000, 6099)
#   log_level                       log level of the API's own categories (ControlPlane.*)
#   keep                            1: keep the temp folder after the run
#   bench_py                        benchlib.py (default deploy/bench/benchlib.py)
#
# What it provides:
#
#   BENCH_ENDPOINTS      ControlPlane:Endpoints:Mode of the API: nftables (default) or proxy
#   setup                Postgres, a private Docker engine (az-a), the node images, the migrations,
#                        and the API from the Release build on a free loopback port; sets
#                        $api (host:port), $engine (its unix:// URI) and $api_pid. It is
#                        setup_engine (the engine and the images) then setup_api (the rest).
#   start_api [NAME=VALUE...], stop_api   restart the API with other settings (same $api)
#   $state               the temp folder (logs, the API's copy, scratch files); removed at the end
#   bench ARGS           benchlib.py;  dk ARGS: docker on the bench engine;  rcli PORT ARGS: redis-cli
#   say, run_label N, seconds_since START_US, assert_engine_empty, wait_for SECONDS WHAT COMMAND...,
#   field, answers_ping, all_answer_ping, link_up, all_links_up, cluster_ok, all_cluster_ok, reads

: "${bench_py:=$root/deploy/bench/benchlib.py}"

command -v redis-cli >/dev/null || cp_ensure_apt_packages redis-tools
cp_ensure_netfilter_tools

bench_started=$SECONDS
state=$(mktemp -d /tmp/cpb.XXXXXX)
chmod 755 "$state" # Postgres runs as user postgres
api_pid=
api=
engine=

bench() { python3 "$bench_py" "$@"; }
dk() { docker -H "$engine" "$@"; }
rcli() { timeout 5 redis-cli -h 127.0.0.1 -p "$@"; }
say() { printf '%s\n' "$*"; }
run_label() { if (($1 == 0)); then echo warm-up; else echo "run $1"; fi; }

# shellcheck disable=SC2317,SC2329  # run by the EXIT trap
cleanup() {
  local rc=$? ids uri
  trap - EXIT INT TERM
  trap '' PIPE # a closed terminal or pipe must not cut the cleanup short
  set +e
  if ((rc != 0)) && [[ -s $state/api.log ]]; then
    cp_log "last lines of the API log:"
    tail -n 40 "$state/api.log" >&2
  fi
  if [[ -n $api_pid ]] && _cp_pid_alive "$api_pid"; then
    stop_api
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
  cp_stop_postgres "$state"
  # The endpoints' kernel rules outlive the API on purpose; the bench's go with it.
  if command -v nft >/dev/null; then nft delete table ip controlplane-bench 2>/dev/null; fi
  _cp_umount_under "$state" # nothing mounted may be left below a folder that rm -rf walks
  if [[ $keep == 1 ]]; then
    cp_log "state kept in $state"
  else
    rm -rf "$state"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# seconds_since START_US: seconds (6 decimals) from START_US (EPOCHREALTIME without its dot) to now
seconds_since() {
  local now=${EPOCHREALTIME/./} d
  d=$((now - $1))
  printf '%d.%06d\n' $((d / 1000000)) $((d % 1000000))
}

# ---------------------------------------------------------------- the environment

setup() {
  setup_engine
  setup_api
}

# setup_engine: only the private Docker engine and the node images (a bench whose baseline runs
# without the API, e.g. reshard.sh BENCH_ONLY=baseline)
setup_engine() {
  cp_start_engine az-a "$state" >/dev/null
  engine=$CP_ENGINE_URI
  deploy/images/build.sh "$engine"
}

# setup_api: Postgres, the migrations and the API, against the engine setup_engine started
setup_api() {
  local pg_port api_port
  pg_port=$(bench freeport)
  cp_start_postgres "$state" "$pg_port"

  cp_log "applying migrations"
  ConnectionStrings__ControlPlane=$CP_PG_CONN dotnet run --project migrations/ControlPlane.Migrations -c Release >"$state/migrate.log" 2>&1 \
    || { tail -n 30 "$state/migrate.log" >&2; cp_die "the migrations failed"; return; }
  cp_log "building the API (Release)"
  dotnet build -c Release src/ControlPlane.Api >"$state/build.log" 2>&1 \
    || { grep -E 'error|Error' "$state/build.log" | tail -n 30 >&2; cp_die "the build failed"; return; }
  # Run a copy: other work in this tree (dotnet test -c Release) rebuilds bin/Release under a running API.
  cp -a src/ControlPlane.Api/bin/Release/net10.0 "$state/api"

  api_port=$(bench freeport)
  api=127.0.0.1:$api_port
  # The benches' admin key: the Python clients send it (benchlib.Api reads BENCH_API_KEY).
  BENCH_API_KEY=cpk_$(cp_random_hex 6)_$(cp_random_hex 32)
  export BENCH_API_KEY
  start_api
}

# start_api [NAME=VALUE...]: the API copy on $api, with these settings on top of the bench's own
# (e.g. ControlPlane__Reconciler__NodeQuota=250); waits for /healthz. stop_api ends it.
start_api() {
  local deadline
  cp_log "starting the API on $api (node ports $ours_ports${1:+; $*})"
  # Secrets as assignments (the environment), not as env(1)'s arguments (the process list).
  ConnectionStrings__ControlPlane=$CP_PG_CONN ControlPlane__AdminKey=$BENCH_API_KEY env \
    "ASPNETCORE_URLS=http://$api" \
    ControlPlane__AvailabilityZones__0__Name=az-a \
    "ControlPlane__AvailabilityZones__0__DockerEndpoint=$engine" \
    ControlPlane__AvailabilityZones__0__Host=127.0.0.1 \
    "ControlPlane__Reconciler__PortRangeStart=$ours_start" \
    "ControlPlane__Reconciler__PortRangeEnd=$ours_end" \
    "ControlPlane__Reconciler__WarmPoolSize=${BENCH_WARM_POOL:-0}" \
    ControlPlane__Reconciler__Instance=bench \
    "ControlPlane__Endpoints__Mode=${BENCH_ENDPOINTS:-nftables}" \
    Logging__LogLevel__Default=Warning \
    "Logging__LogLevel__ControlPlane=$log_level" \
    "Logging__Console__TimestampFormat=HH:mm:ss.fff " \
    "$@" \
    setsid dotnet "$state/api/ControlPlane.Api.dll" >>"$state/api.log" 2>&1 </dev/null &
  api_pid=$!
  deadline=$((SECONDS + 60))
  until curl -fsS -o /dev/null --max-time 2 "http://$api/healthz" 2>/dev/null; do
    _cp_pid_alive "$api_pid" || cp_die "the API exited (log: $state/api.log)" || return
    ((SECONDS < deadline)) || cp_die "the API did not answer /healthz within 60 s" || return
    sleep 0.1
  done
}

stop_api() {
  [[ -n $api_pid ]] || return 0
  kill -TERM -- "-$api_pid" 2>/dev/null || true
  for _ in $(seq 100); do _cp_pid_alive "$api_pid" || break; sleep 0.1; done
  kill -KILL -- "-$api_pid" 2>/dev/null || true
  api_pid=
}

# The engine must be empty between runs, so that no run pays for another's leftovers.
# The control plane's warm pool of idle nodes (BENCH_WARM_POOL) is not a leftover.
assert_engine_empty() {
  local left
  left=$(dk ps -a --format '{{.Names}} {{.Label "controlplane.kind"}}' | awk '$2 != "pool" { print $1 }')
  [[ -z $left ]] || cp_die "containers left on the engine: $(tr '\n' ' ' <<<"$left")"
}

# wait_for_pool: before a timed create, the pool is full again (it refills after each create)
wait_for_pool() {
  local want=${BENCH_WARM_POOL:-0} deadline=$((SECONDS + 60))
  ((want > 0)) || return 0
  until (($(dk ps -q --filter label=controlplane.kind=pool --filter status=running | wc -l) >= want)); do
    ((SECONDS < deadline)) || cp_die "the warm pool did not fill to $want within 60 s" || return
    sleep 0.1
  done
}
# ---------------------------------------------------------------- small checks

# wait_for SECONDS DESCRIPTION COMMAND...: poll COMMAND every 20 ms until it succeeds
wait_for() {
  local limit=$1 what=$2 deadline
  shift 2
  deadline=$((${EPOCHREALTIME/./} + limit * 1000000))
  until "$@"; do
    ((${EPOCHREALTIME/./} < deadline)) || cp_die "$what: not true after ${limit}s" || return
    sleep 0.02
  done
}

field() { # field PORT SECTION-COMMAND NAME: one field of INFO/CLUSTER INFO
  local port=$1 name=$3
  # shellcheck disable=SC2086  # the section command is two words for CLUSTER INFO
  rcli "$port" $2 2>/dev/null | tr -d '\r' | sed -n "s/^$name://p"
}

cluster_ok() { [[ $(field "$1" 'cluster info' cluster_state) == ok ]]; }
all_cluster_ok() { local p; for p in "$@"; do cluster_ok "$p" || return 1; done; }
answers_ping() { [[ $(rcli "$1" ping 2>/dev/null) == PONG ]]; }
all_answer_ping() { local p; for p in "$@"; do answers_ping "$p" || return 1; done; }
link_up() { [[ $(field "$1" 'info replication' master_link_status) == up ]]; }
all_links_up() { local p; for p in "$@"; do link_up "$p" || return 1; done; }
reads() { [[ $(rcli "$1" get bench-key 2>/dev/null) == "$2" ]]; }
