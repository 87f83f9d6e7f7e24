#!/usr/bin/env bash
# Run every test: three throwaway Docker engines (availability zones az-a, az-b, az-c) with the
# node images, PostgreSQL server binaries for the tests' own clusters, then `dotnet test`.
# Extra arguments go to `dotnet test` (e.g. --filter 'FullyQualifiedName~Failover').
#
# Exported to the tests:
#   CONTROLPLANE_PG_BINDIR              PostgreSQL server binaries (initdb, pg_ctl, postgres)
#   CONTROLPLANE_TEST_DOCKER_AZ_A/B/C   unix:// URIs of the three engines
#   CONTROLPLANE_TEST_STATE_DIR         temp folder holding them (engines/<az>/dockerd.pid, ...);
#                                       `source deploy/lib/common.sh; cp_stop_engine az-b "$dir"`
#                                       simulates an AZ outage, cp_start_engine brings it back
#   CONTROLPLANE_REDIS_IMAGE, CONTROLPLANE_VALKEY_IMAGE, CONTROLPLANE_MEMCACHED_IMAGE, CONTROLPLANE_HAPROXY_IMAGE
#   CONTROLPLANE_DEPLOY_LIB             path of deploy/lib/common.sh
# CONTROLPLANE_TEST_RESULTS_DIR keeps the TRX files and the console's screenshots (default: inside
# the temp folder, removed).
# CONTROLPLANE_TEST_PORTS (default 20000-22599) is the window the API tests take node and endpoint
# ports from: give two test runs on one machine windows that do not overlap.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# shellcheck source=lib/common.sh
source deploy/lib/common.sh

zones=(az-a az-b az-c)
state=$(mktemp -d /tmp/cpt.XXXXXX)
chmod 755 "$state" # the tests' Postgres clusters run as user postgres
results=${CONTROLPLANE_TEST_RESULTS_DIR:-$state/results}

# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
  local rc=$? zone uri ids
  trap - EXIT INT TERM
  trap '' PIPE # a closed terminal or pipe must not cut the cleanup short
  set +e
  for zone in "${zones[@]}"; do
    uri=$(cp_engine_uri "$zone" "$state")
    if _cp_engine_answers "$uri"; then
      ids=$(docker -H "$uri" ps -aq --filter label=controlplane.managed=true)
      if [[ -n $ids ]]; then
        cp_log "removing $(wc -w <<<"$ids") leftover container(s) on $zone"
        # shellcheck disable=SC2086  # one id a word
        docker -H "$uri" rm -f $ids >/dev/null || true
      fi
    fi
    cp_stop_engine "$zone" "$state" || true
  done
  _cp_umount_under "$state" # nothing mounted may be left below a folder that rm -rf walks
  rm -rf "$state"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

cp_pg_bindir >/dev/null # installs the server binaries when missing
cp_ensure_netfilter_tools # the reconciler tests run the nftables endpoints for real
cp_ensure_aws_clients     # the query API's tests run the aws CLI and boto3
export CONTROLPLANE_TEST_PYTHON=$CP_PYTHON
# promtool and a Prometheus server (the alert rules, a real scrape), chromium (the console, headless).
command -v promtool >/dev/null || cp_ensure_apt_packages prometheus
command -v chromium >/dev/null || cp_ensure_apt_packages chromium
promtool check rules deploy/monitoring/alerts.yml
promtool test rules deploy/monitoring/alerts.test.yml
export CONTROLPLANE_PG_BINDIR=$CP_PG_BINDIR CONTROLPLANE_TEST_STATE_DIR=$state
export CONTROLPLANE_DEPLOY_LIB=$root/deploy/lib/common.sh
export CONTROLPLANE_TEST_RESULTS_DIR=$results # the console test's screenshots go beside the TRX files
export CONTROLPLANE_REDIS_IMAGE=${CONTROLPLANE_REDIS_IMAGE:-controlplane/redis:7.0}
export CONTROLPLANE_VALKEY_IMAGE=${CONTROLPLANE_VALKEY_IMAGE:-controlplane/valkey:8.0}
export CONTROLPLANE_MEMCACHED_IMAGE=${CONTROLPLANE_MEMCACHED_IMAGE:-controlplane/memcached:1.6}
export CONTROLPLANE_HAPROXY_IMAGE=${CONTROLPLANE_HAPROXY_IMAGE:-controlplane/haproxy:2.6}

uris=()
for zone in "${zones[@]}"; do
  cp_start_engine "$zone" "$state" >/dev/null
  uris+=("$CP_ENGINE_URI")
done
export CONTROLPLANE_TEST_DOCKER_AZ_A=${uris[0]} CONTROLPLANE_TEST_DOCKER_AZ_B=${uris[1]} \
  CONTROLPLANE_TEST_DOCKER_AZ_C=${uris[2]}
deploy/images/build.sh "${uris[@]}"

rc=0
touch "$state/started"
dotnet test ControlPlane.sln -c Release --logger "trx;LogFilePrefix=results" \
  --results-directory "$results" "$@" || rc=$?

# Add up the <Counters .../> of every TRX file.
total=0 executed=0 passed=0 failed=0
counter() { # counter NAME LINE: the value of attribute NAME, 0 when absent
  local v
  v=$(sed -n "s/.* $1=\"\([0-9]*\)\".*/\1/p" <<<"$2")
  echo "${v:-0}"
}
while IFS= read -r line; do
  total=$((total + $(counter total "$line")))
  executed=$((executed + $(counter executed "$line")))
  passed=$((passed + $(counter passed "$line")))
  failed=$((failed + $(counter failed "$line") + $(counter error "$line") + $(counter timeout "$line") + $(counter aborted "$line")))
done < <(find "$results" -name '*.trx' -newer "$state/started" -exec grep -ho '<Counters [^>]*>' {} + 2>/dev/null)
echo "tests: $passed passed, $failed failed, $((total - executed)) skipped"
# The failed tests again, last, with the head of their messages: the end of the output is what a CI page keeps.
if ((failed > 0)); then
  find "$results" -name '*.trx' -newer "$state/started" -exec "$CP_PYTHON" deploy/lib/trx-failures.py {} + || true
fi
# A project that does not build (or a crashed test host) writes no results: say so, the counts above miss it.
if ((rc != 0 && failed == 0)); then echo "tests: dotnet test exited with $rc without a failed test: a build error or a crashed test host (see above)"; fi

# A test host killed before it wrote its results can leave dotnet test exiting 0, and the counts
# above would then be the other projects' alone: every test project writes one file, filtered or not.
projects=$(find tests -name '*.Tests.csproj' -not -path '*/obj/*' | wc -l)
written=$(find "$results" -name '*.trx' -newer "$state/started" | wc -l)
if ((written < projects)); then
  echo "tests: $written results file(s) for $projects test project(s): a test host ended without its results"
  rc=1
fi

if ((rc == 0 && (executed == 0 || failed > 0))); then rc=1; fi
exit "$rc"
