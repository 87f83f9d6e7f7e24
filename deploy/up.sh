#!/usr/bin/env bash
# Run the control plane locally: Postgres, one Docker engine (az-a), the node images, the
# migrations, then the API in the foreground, supervised: when the API dies (a crash, kill -9) it
# is started again and the caches keep running meanwhile; the API is never their lifeline. Only
# Ctrl-C or SIGTERM to this script stops the stack; the data stays in the state folder and the
# next run reuses it.
#
#   CONTROLPLANE_STATE_DIR   state folder (default ./.state, relative to the repo root); api.pid in it
#                            names the API's process group while it runs; admin.key (0600) holds the
#                            admin API key made on the first start
#   CONTROLPLANE_ADMIN_KEY   use this admin key (cpk_<12 hex>_<64 hex>) instead of making one
#   CONTROLPLANE_PG_PORT     Postgres port on 127.0.0.1 (default 55432)
#   CONTROLPLANE_URL         API address (default http://127.0.0.1:8080)
#   CONTROLPLANE_DOCKER_HOST use this Docker engine for az-a instead of starting one, if it answers
#   CONTROLPLANE_REDIS_IMAGE, CONTROLPLANE_VALKEY_IMAGE, CONTROLPLANE_MEMCACHED_IMAGE   image names (see images/build.sh)
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# shellcheck source=lib/common.sh
source deploy/lib/common.sh

state=$(_cp_abs_dir "${CONTROLPLANE_STATE_DIR:-./.state}")
# Keys, passwords and snapshots live here: nobody else may list or read it. Others may only pass
# through (user postgres reaches its own folder, pg/, below).
chmod 711 "$state"
pg_port=${CONTROLPLANE_PG_PORT:-55432}
url=${CONTROLPLANE_URL:-http://127.0.0.1:8080}

# The admin key: made on the first start of a state folder (or taken from CONTROLPLANE_ADMIN_KEY),
# kept in a file only its owner reads; the API is told the file, never the key.
admin_key=$state/admin.key
if [[ -n ${CONTROLPLANE_ADMIN_KEY:-} ]]; then
  [[ $CONTROLPLANE_ADMIN_KEY =~ ^cpk_[0-9a-f]{12}_[0-9a-f]{64}$ ]] \
    || { cp_log "ERROR: CONTROLPLANE_ADMIN_KEY is not a key of the form cpk_<12 hex>_<64 hex>"; exit 1; }
  (umask 077 && printf '%s\n' "$CONTROLPLANE_ADMIN_KEY" >"$admin_key")
elif [[ ! -s $admin_key ]]; then
  (umask 077 && printf 'cpk_%s_%s\n' "$(cp_random_hex 6)" "$(cp_random_hex 32)" >"$admin_key")
  cp_log "made an admin API key"
fi
chmod 600 "$admin_key"

api_env=(
  "ASPNETCORE_URLS=$url"
  "ControlPlane__AdminKeyFile=$admin_key"
  "ControlPlane__AvailabilityZones__0__Name=az-a"
  "ControlPlane__AvailabilityZones__0__Host=127.0.0.1"
  "ControlPlane__SnapshotDir=$state/snapshots"
  "ControlPlane__KeyRingDir=$state/keys" # encrypts API key secrets for the ElastiCache query API (SigV4)
)
# The API's catalog has the default image names; tell it only about overridden ones.
if [[ -n ${CONTROLPLANE_REDIS_IMAGE:-}${CONTROLPLANE_MEMCACHED_IMAGE:-}${CONTROLPLANE_VALKEY_IMAGE:-} ]]; then
  api_env+=(
    ControlPlane__EngineVersions__0__Engine=redis
    ControlPlane__EngineVersions__0__Version=7.0
    "ControlPlane__EngineVersions__0__Image=${CONTROLPLANE_REDIS_IMAGE:-controlplane/redis:7.0}"
    ControlPlane__EngineVersions__1__Engine=memcached
    ControlPlane__EngineVersions__1__Version=1.6
    "ControlPlane__EngineVersions__1__Image=${CONTROLPLANE_MEMCACHED_IMAGE:-controlplane/memcached:1.6}"
    ControlPlane__EngineVersions__2__Engine=valkey
    ControlPlane__EngineVersions__2__Version=8.0
    "ControlPlane__EngineVersions__2__Image=${CONTROLPLANE_VALKEY_IMAGE:-controlplane/valkey:8.0}"
  )
fi

CP_PG_STARTED=0
CP_ENGINE_STARTED=0
api_pid=
stopping=0

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  trap '' PIPE # a closed terminal or pipe must not cut the cleanup short
  set +e
  if [[ -n $api_pid ]] && _cp_pid_alive "$api_pid"; then
    cp_log "stopping the API"
    kill -TERM -- "-$api_pid" 2>/dev/null || true
    for _ in $(seq 100); do _cp_pid_alive "$api_pid" || break; sleep 0.1; done
    kill -KILL -- "-$api_pid" 2>/dev/null || true
  fi
  if ((CP_ENGINE_STARTED)); then cp_stop_engine az-a "$state" || true; fi
  if ((CP_PG_STARTED)); then cp_stop_postgres "$state" || true; fi
  cp_log "stopped; data kept in $state"
  exit "$rc"
}
trap cleanup EXIT
trap 'stopping=1; exit 130' INT
trap 'stopping=1; exit 143' TERM

cp_start_postgres "$state" "$pg_port"
# The service role's connection string carries its password: environment only, never argv.
api_env+=("ConnectionStrings__ControlPlane=$CP_PG_CONN")
cp_ensure_netfilter_tools # the endpoints' kernel rules (ControlPlane:Endpoints:Mode, default Auto)

if [[ -n ${CONTROLPLANE_DOCKER_HOST:-} ]] && _cp_engine_answers "$CONTROLPLANE_DOCKER_HOST"; then
  docker_uri=$CONTROLPLANE_DOCKER_HOST
  cp_log "using Docker engine $docker_uri for az-a"
else
  if [[ -n ${CONTROLPLANE_DOCKER_HOST:-} ]]; then
    cp_log "CONTROLPLANE_DOCKER_HOST=$CONTROLPLANE_DOCKER_HOST does not answer; starting our own engine"
  fi
  cp_start_engine az-a "$state" >/dev/null
  docker_uri=$CP_ENGINE_URI
fi

deploy/images/build.sh "$docker_uri"
mkdir -p "$state/snapshots" "$state/keys"
chmod 700 "$state/snapshots" "$state/keys"

cp_log "applying migrations"
ConnectionStrings__ControlPlane=$CP_PG_CONN dotnet run --project migrations/ControlPlane.Migrations -c Release

cp_log "building the API"
dotnet build src/ControlPlane.Api -c Release -v quiet -nologo >/dev/null
echo "Swagger UI: $url/swagger"
echo "Admin API key: $admin_key (curl -H \"Authorization: Bearer \$(cat $admin_key)\" $url/v1/replication-groups)"
# Supervised: the API runs in its own session and process group (stopping it reaches it whole),
# and is started again whenever it exits without being asked to. The engine, Postgres and every
# node keep running meanwhile. A restart loop that fails at once is slowed down, not given up.
restarts=0
while true; do
  started=$SECONDS
  # Exported, not passed to env(1): the connection string's password never shows in a process list.
  (
    export "${api_env[@]}" "ControlPlane__AvailabilityZones__0__DockerEndpoint=$docker_uri"
    exec setsid dotnet run --project src/ControlPlane.Api -c Release --no-launch-profile --no-build
  ) &
  api_pid=$!
  echo "$api_pid" >"$state/api.pid" # the API's process group, for operators (and the supervision test)
  rc=0
  wait "$api_pid" || rc=$?
  ((stopping)) && break
  restarts=$((restarts + 1))
  delay=1
  ((SECONDS - started < 10)) && delay=5
  cp_log "the API exited with code $rc; restart $restarts in ${delay} s (the caches keep running)"
  sleep "$delay"
done
