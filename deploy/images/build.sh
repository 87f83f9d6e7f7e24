#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Build the node images from Debian's packages, without any registry:
#   ${CONTROLPLANE_REDIS_IMAGE:-controlplane/redis:7.0}          redis-server (+ redis-cli)
#   ${CONTROLPLANE_VALKEY_IMAGE:-controlplane/valkey:8.0}        valkey-server (+ valkey-cli), from bookworm-backports
#   ${CONTROLPLANE_MEMCACHED_IMAGE:-controlplane/memcached:1.6}  memcached
#   ${CONTROLPLANE_HAPROXY_IMAGE:-controlplane/haproxy:2.6}      haproxy (a group's endpoints)
# Each is a single-layer image (like FROM scratch): the binaries, the shared libraries that ldd
# finds for them, the dynamic loader, /etc/passwd+group (root, nobody), /tmp and /data. The redis
# and valkey images also have /bin/sh (dash): the control plane starts redis-server through a one-line guard
# that refuses a second start of the same container (a node never comes back empty in place).
# No entrypoint: run e.g. `redis-server --port 7000`, `memcached -p 11211 -u nobody` or
# `haproxy -f /etc/haproxy/haproxy.cfg -db` (its configuration is put in before the start).
#
# Usage: deploy/images/build.sh [DOCKER_HOST_URI...]   (default: $DOCKER_HOST or the default engine)
# An image whose label controlplane.image.key matches is left alone, so re-runs take a second.
# Root file systems are cached as tarballs in ${CONTROLPLANE_IMAGE_CACHE:-/var/cache/controlplane/images}.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib/common.sh
source "$here/../lib/common.sh"

redis_image=${CONTROLPLANE_REDIS_IMAGE:-controlplane/redis:7.0}
valkey_image=${CONTROLPLANE_VALKEY_IMAGE:-controlplane/valkey:8.0}
memcached_image=${CONTROLPLANE_MEMCACHED_IMAGE:-controlplane/memcached:1.6}
haproxy_image=${CONTROLPLANE_HAPROXY_IMAGE:-controlplane/haproxy:2.6}
if (($# > 0)); then hosts=("$@"); else hosts=("${DOCKER_HOST:-}"); fi

# redis-tools ships the real redis-server binary (redis-server's package only adds a symlink to
# redis-check-rdb); redis-cli and redis-benchmark are wanted on the host by the benchmarks anyway.
cp_ensure_apt_packages redis-tools

recipe=$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-12)
redis_version=$(dpkg-query -W -f='${Version}' redis-tools)

# candidate_version VAR PKG: set VAR to the version apt would install (fetching the package lists
# if needed; not in a subshell, so that they are fetched once).
candidate_version() {
  local version
  version=$(apt-cache policy "$2" | sed -n 's/^ *Candidate: //p')
  if [[ -z $version || $version == "(none)" ]]; then
    _cp_apt_update_once
    version=$(apt-cache policy "$2" | sed -n 's/^ *Candidate: //p')
  fi
  [[ -n $version && $version != "(none)" ]] || cp_die "apt has no candidate for $2" || return
  printf -v "$1" '%s' "$version"
}
# Valkey 8.0 is packaged for Debian 12 in bookworm-backports only (8.0.1, built with TLS).
cp_enable_backports valkey-tools valkey-server
memcached_version='' haproxy_version='' valkey_version=''
candidate_version memcached_version memcached
candidate_version valkey_version valkey-tools
candidate_version haproxy_version haproxy
redis_key="redis-tools=$redis_version;recipe=$recipe"
valkey_key="valkey-tools=$valkey_version;recipe=$recipe"
memcached_key="memcached=$memcached_version;recipe=$recipe"
haproxy_key="haproxy=$haproxy_version;recipe=$recipe"

cache=${CONTROLPLANE_IMAGE_CACHE:-/var/cache/controlplane/images}
work=$(mktemp -d /tmp/cp-images.XXXXXX)
trap 'rm -rf "$work"' EXIT

dk() { local host=$1; shift; if [[ -n $host ]]; then docker -H "$host" "$@"; else docker "$@"; fi; }

image_key() {
  dk "$1" image inspect -f '{{index .Config.Labels "controlplane.image.key"}}' "$2" 2>/dev/null || true
}

# Copy each binary and every library ldd resolves for it (plus the loader) into ROOTFS.
copy_with_libs() {
  local rootfs=$1 bin lib
  shift
  for bin in "$@"; do
    ldd "$bin" | grep -q 'not found' && { ldd "$bin" >&2; cp_die "missing libraries for $bin"; return; }
    for lib in $(ldd "$bin" | grep -oE '(^|[[:space:]])/[^[:space:]]+'); do
      mkdir -p "$rootfs$(dirname "$lib")"
      cp -L "$lib" "$rootfs$lib"
    done
  done
}

base_rootfs() {
  local rootfs=$1
  mkdir -p "$rootfs"/{etc,usr/bin,data,tmp}
  chmod 1777 "$rootfs/tmp" "$rootfs/data"
  printf '%s\n' 'root:x:0:0:root:/root:/sbin/nologin' \
    'nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin' >"$rootfs/etc/passwd"
  printf '%s\n' 'root:x:0:' 'nogroup:x:65534:' >"$rootfs/etc/group"
  printf '%s\n' 'passwd: files' 'group: files' 'hosts: files' >"$rootfs/etc/nsswitch.conf"
  printf '%s\n' '127.0.0.1 localhost' '::1 localhost' >"$rootfs/etc/hosts"
}

build_redis_rootfs() {
  local rootfs=$work/redis
  base_rootfs "$rootfs"
  cp /usr/bin/redis-check-rdb "$rootfs/usr/bin/redis-server"
  cp /usr/bin/redis-cli "$rootfs/usr/bin/redis-cli"
  ln -s redis-server "$rootfs/usr/bin/redis-sentinel"
  mkdir -p "$rootfs/bin"
  cp /bin/dash "$rootfs/bin/sh"
  copy_with_libs "$rootfs" /usr/bin/redis-check-rdb /usr/bin/redis-cli /bin/dash
}

# binary_from_deb PKG VERSION PATH ROOTFS: copy PATH (e.g. /usr/bin/memcached) out of the package's
# .deb into ROOTFS, with the libraries it needs from the host. Taken from the .deb so that no
# service of it is installed on the host; its lib* dependencies are installed for ldd to find.
binary_from_deb() {
  local pkg=$1 version=$2 path=$3 rootfs=$4 deps
  deps=$(apt-cache depends --important "$pkg" | sed -n 's/^ *Depends: \(lib[^ <>]*\)$/\1/p')
  # shellcheck disable=SC2086  # one package name a word
  cp_ensure_apt_packages $deps
  mkdir -p "$rootfs$(dirname "$path")"
  (cd "$work" && apt-get download -qq -o APT::Sandbox::User=root "$pkg=$version") >&2
  dpkg -x "$work/${pkg}_"*.deb "$work/$pkg-deb"
  cp "$work/$pkg-deb$path" "$rootfs$path"
  copy_with_libs "$rootfs" "$rootfs$path"
}

# valkey-tools ships the real valkey-server binary (as valkey-check-rdb; valkey-server's package
# only adds the symlink and the service), and valkey-cli.
build_valkey_rootfs() {
  local rootfs=$work/valkey
  base_rootfs "$rootfs"
  binary_from_deb valkey-tools "$valkey_version" /usr/bin/valkey-check-rdb "$rootfs"
  mv "$rootfs/usr/bin/valkey-check-rdb" "$rootfs/usr/bin/valkey-server"
  cp "$work/valkey-tools-deb/usr/bin/valkey-cli" "$rootfs/usr/bin/valkey-cli"
  mkdir -p "$rootfs/bin"
  cp /bin/dash "$rootfs/bin/sh"
  copy_with_libs "$rootfs" "$rootfs/usr/bin/valkey-cli" /bin/dash
}

build_memcached_rootfs() {
  local rootfs=$work/memcached
  base_rootfs "$rootfs"
  binary_from_deb memcached "$memcached_version" /usr/bin/memcached "$rootfs"
}

build_haproxy_rootfs() {
  local rootfs=$work/haproxy
  base_rootfs "$rootfs"
  mkdir -p "$rootfs/etc/haproxy"
  binary_from_deb haproxy "$haproxy_version" /usr/sbin/haproxy "$rootfs"
  ln -s ../sbin/haproxy "$rootfs/usr/bin/haproxy"
}

# rootfs_tar KIND KEY: print the path of KIND's root file system as a tarball, built when the
# cache has none for KEY (test runs start new engines every time; the cache makes that quick).
rootfs_tar() {
  local kind=$1 key=$2 tar
  tar=$cache/$kind-$(printf '%s' "$key" | sha256sum | cut -c1-16).tar
  if [[ ! -s $tar ]]; then
    "build_${kind}_rootfs"
    mkdir -p "$cache"
    rm -f "$cache/$kind"-*.tar
    tar -C "$work/$kind" --numeric-owner --owner=0 --group=0 -cf "$tar.$$" . && mv "$tar.$$" "$tar"
  fi
  printf '%s\n' "$tar"
}

# import_image HOST TAR IMAGE KEY CMD: load the root file system TAR into HOST as IMAGE.
import_image() {
  local host=$1 tar=$2 image=$3 key=$4 cmd=$5
  cp_log "importing $image into ${host:-default engine} ($key)"
  dk "$host" image import \
    --change "LABEL controlplane.image.key=\"$key\"" \
    --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
    --change 'WORKDIR /data' \
    --change "CMD [\"$cmd\"]" \
    --message "controlplane $key" - "$image" <"$tar" >/dev/null
}

for spec in "redis|$redis_image|$redis_key|redis-server" \
  "valkey|$valkey_image|$valkey_key|valkey-server" \
  "memcached|$memcached_image|$memcached_key|memcached" \
  "haproxy|$haproxy_image|$haproxy_key|haproxy"; do
  IFS='|' read -r kind image key cmd <<<"$spec"
  stale=()
  for host in "${hosts[@]}"; do
    if [[ $(image_key "$host" "$image") == "$key" ]]; then
      cp_log "$image is up to date on ${host:-default engine}"
    else
      stale+=("$host")
    fi
  done
  ((${#stale[@]} > 0)) || continue
  tar=$(rootfs_tar "$kind" "$key")
  pids=()
  for host in "${stale[@]}"; do
    import_image "$host" "$tar" "$image" "$key" "$cmd" &
    pids+=("$!")
  done
  for pid in "${pids[@]}"; do wait "$pid"; done
done
