#!/usr/bin/env bash
# Check that the node images start and answer, on each Docker host given (default: $DOCKER_HOST).
# Runs each image with host networking on a free loopback port, then removes the containers.
#   Usage: deploy/images/smoke.sh [DOCKER_HOST_URI...]
set -euo pipefail

redis_image=${CONTROLPLANE_REDIS_IMAGE:-controlplane/redis:7.0}
memcached_image=${CONTROLPLANE_MEMCACHED_IMAGE:-controlplane/memcached:1.6}
if (($# > 0)); then hosts=("$@"); else hosts=("${DOCKER_HOST:-}"); fi

containers=()
dk() { local host=$1; shift; if [[ -n $host ]]; then docker -H "$host" "$@"; else docker "$@"; fi; }
cleanup() {
  local entry
  for entry in "${containers[@]}"; do
    dk "${entry%%|*}" rm -f "${entry#*|}" >/dev/null 2>&1 || true
  done
}
trap cleanup EXIT

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

free_port() {
  local port
  for _ in $(seq 50); do
    port=$((20000 + RANDOM % 20000))
    port_in_use "$port" || { echo "$port"; return 0; }
  done
  echo "no free port found" >&2
  return 1
}

# run_node HOST IMAGE CMD...: start a detached container with host networking, print its id.
run_node() {
  local host=$1 image=$2 id
  shift 2
  id=$(dk "$host" run -d --network host --label controlplane.smoke=true "$image" "$@")
  containers+=("$host|$id")
}

# memcached_version PORT: print memcached's answer to "version" (in a subshell: fd 3 stays local).
memcached_version() (
  local line=
  exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
  printf 'version\r\n' >&3
  IFS= read -r -t 2 line <&3 || true
  [[ $line == VERSION* ]] && printf '%s\n' "${line%$'\r'}"
) 2>/dev/null

# wait_for DESCRIPTION COMMAND...: retry COMMAND for up to 10 s.
wait_for() {
  local what=$1 deadline=$((SECONDS + 10))
  shift
  until "$@"; do
    ((SECONDS < deadline)) || { echo "smoke: $what did not answer" >&2; return 1; }
    sleep 0.1
  done
}

for host in "${hosts[@]}"; do
  port=$(free_port)
  run_node "$host" "$redis_image" redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no
  wait_for "$redis_image on port $port" bash -c "[[ \$(redis-cli -p $port ping 2>/dev/null) == PONG ]]"
  echo "smoke: ${host:-default engine}: $redis_image PONG on 127.0.0.1:$port"

  port=$(free_port)
  run_node "$host" "$memcached_image" memcached -p "$port" -l 127.0.0.1 -u nobody -m 16
  wait_for "$memcached_image on port $port" memcached_version "$port" >/dev/null
  echo "smoke: ${host:-default engine}: $memcached_image $(memcached_version "$port") on 127.0.0.1:$port"
done
