# shellcheck shell=bash
# shellcheck disable=SC2034  # CP_* globals are read by the scripts that source this file
# Shared helpers for the deploy/ scripts and CI. Source it; do not execute it.
#
#   cp_ensure_apt_packages PKG...     install the Debian packages that are missing
#   cp_ensure_netfilter_tools         install nft and conntrack (the kernel endpoints) when missing
#   cp_ensure_aws_clients             install the aws CLI (awscli) and boto3 when missing; sets CP_PYTHON
#   cp_enable_backports PKG...        let apt take PKG (and only PKG) from bookworm-backports (pinned)
#   cp_pg_bindir                      print (and set CP_PG_BINDIR to) the PostgreSQL server bindir,
#                                     installing postgresql if needed
#   cp_start_postgres STATE_DIR PORT  start (initdb first if needed) a cluster in STATE_DIR/pg that
#                                     takes passwords (SCRAM) only; the database is owned by the
#                                     service role (passwords in STATE_DIR/pg-*.password, 0600)
#   cp_random_hex BYTES               print BYTES random bytes as lowercase hex
#   cp_stop_postgres STATE_DIR
#   cp_engine_uri NAME STATE_DIR      print the unix:// URI engine NAME has (started or not)
#   cp_start_engine NAME STATE_DIR    start a private dockerd in STATE_DIR/engines/NAME, print its URI
#   cp_stop_engine NAME STATE_DIR
#
# Globals set (when called directly, not in $(...)):
#   CP_PG_BINDIR      PostgreSQL server bindir
#   CP_PG_CONN        Npgsql connection string of the last cp_start_postgres: the service role and
#                     its password (hand it over in the environment, never on a command line)
#   CP_PG_STARTED     1 if cp_start_postgres started the server, 0 if it was already running
#   CP_ENGINE_URI     URI of the last cp_start_engine (also exported)
#   CP_ENGINE_STARTED 1 if cp_start_engine started dockerd, 0 if one already answered
#
# Progress goes to stderr; stdout carries only values meant to be captured.

CP_APT_UPDATED=${CP_APT_UPDATED:-0}
CP_PG_DB=controlplane
CP_PG_ROLE=controlplane # the service role: no superuser, owns only its database

cp_log() { printf '[controlplane] %s\n' "$*" >&2; }
cp_die() { cp_log "ERROR: $*"; return 1; }

# Absolute path of a directory, created if missing.
_cp_abs_dir() {
  mkdir -p "$1" && (cd "$1" && pwd -P)
}

# True when PID is a live (non-zombie) process.
_cp_pid_alive() {
  local pid=$1 state
  [[ -n $pid && -r /proc/$pid/stat ]] || return 1
  state=$(sed -E 's/^[0-9]+ \(.*\) ([A-Za-z]).*/\1/' "/proc/$pid/stat" 2>/dev/null) || return 1
  [[ $state != Z && $state != X ]]
}

# Short directory for unix sockets and runtime state of STATE_DIR (socket paths are limited to
# ~107 bytes, and containerd puts its own sockets a few levels below dockerd's exec-root).
_cp_run_dir() {
  local state_dir=$1 hash
  if ((${#state_dir} <= 40)); then
    printf '%s/run\n' "$state_dir"
  else
    hash=$(printf '%s' "$state_dir" | sha256sum | cut -c1-10)
    printf '/run/controlplane-%s\n' "$hash"
  fi
}

_cp_apt_update_once() {
  if [[ $CP_APT_UPDATED != 1 ]]; then
    cp_log "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    export CP_APT_UPDATED=1 # child scripts skip it too
  fi
}

_cp_pkg_installed() {
  [[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) == "install ok installed" ]]
}

cp_ensure_apt_packages() {
  local pkg missing=() rc=0 own_policy=0
  for pkg in "$@"; do
    _cp_pkg_installed "$pkg" || missing+=("$pkg")
  done
  ((${#missing[@]} > 0)) || return 0
  _cp_apt_update_once
  # Keep package maintainer scripts from starting services (dockerd, containerd, postgres, ...).
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    own_policy=1
  fi
  cp_log "apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    >/dev/null || rc=$?
  if ((own_policy)); then rm -f /usr/sbin/policy-rc.d; fi
  ((rc == 0)) || cp_die "apt-get install ${missing[*]} failed (exit $rc)"
}

# The kernel endpoints (ControlPlane:Endpoints:Mode nftables, the default where it works) run
# `nft` (package nftables) and `conntrack` (package conntrack) as root.
cp_ensure_netfilter_tools() {
  local missing=()
  command -v nft >/dev/null || missing+=(nftables)
  command -v conntrack >/dev/null || missing+=(conntrack)
  ((${#missing[@]} == 0)) || cp_ensure_apt_packages "${missing[@]}"
}

# Debian's bookworm-backports suite, enabled for the packages named and nothing else: every other
# package of the suite is pinned at -1, so an upgrade never pulls the rest of backports in.
# valkey-server 8.0 is only packaged there for Debian 12.
cp_enable_backports() {
  local sources=/etc/apt/sources.list.d/controlplane-backports.sources
  local pin=/etc/apt/preferences.d/controlplane-backports
  local wanted
  wanted=$(printf '%s\n' 'Package: '"$*" 'Pin: release n=bookworm-backports' 'Pin-Priority: 500' '' \
    'Package: *' 'Pin: release n=bookworm-backports' 'Pin-Priority: -1')
  [[ -f $pin && $(cat "$pin") == "$wanted" && -f $sources ]] && return 0
  cp_log "enabling bookworm-backports for $* only"
  printf '%s\n' 'Types: deb' 'URIs: http://deb.debian.org/debian' 'Suites: bookworm-backports' \
    'Components: main' 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' >"$sources"
  printf '%s\n' "$wanted" >"$pin"
  CP_APT_UPDATED=0 # the new suite's package list is fetched on the next apt use
  _cp_apt_update_once
}

# ---------------------------------------------------------------- PostgreSQL

_cp_find_pg_bindir() {
  local initdb
  initdb=$(printf '%s\n' /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n1)
  [[ -x $initdb ]] && dirname "$initdb"
}

cp_pg_bindir() {
  local dir
  if ! dir=$(_cp_find_pg_bindir); then
    cp_ensure_apt_packages postgresql
    dir=$(_cp_find_pg_bindir) || cp_die "no initdb under /usr/lib/postgresql/*/bin after install" || return
  fi
  id -u postgres >/dev/null 2>&1 \
    || useradd --system --user-group --home-dir /var/lib/postgresql --shell /bin/bash postgres
  CP_PG_BINDIR=$dir
  printf '%s\n' "$dir"
}

_cp_pg() { runuser -u postgres -- "$@"; }

cp_random_hex() {
  od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'
}

# The password kept in FILE (0600, root's), made on first use.
_cp_password_file() {
  local file=$1
  if [[ ! -s $file ]]; then
    (umask 077 && cp_random_hex 24 >"$file")
  fi
  chmod 600 "$file"
  cat "$file"
}

# psql as the superuser over TCP; the password goes in the environment, never on a command line.
_cp_psql_super() {
  local port=$1 db=$2
  shift 2
  PGPASSWORD=$CP_PG_SUPER_PASSWORD "$CP_PG_BINDIR/psql" -X -w -q -v ON_ERROR_STOP=1 \
    -h 127.0.0.1 -p "$port" -U postgres -d "$db" "$@"
}

_cp_write_pg_hba() {
  printf '%s\n' 'local all all scram-sha-256' 'host all all 127.0.0.1/32 scram-sha-256' >"$1/pg_hba.conf"
  chown postgres: "$1/pg_hba.conf"
}

cp_start_postgres() {
  local state_dir port bindir data sockdir log running_port service_password
  state_dir=$(_cp_abs_dir "$1") || return
  port=$2
  cp_pg_bindir >/dev/null || return
  bindir=$CP_PG_BINDIR
  data=$state_dir/pg
  sockdir=$(_cp_run_dir "$state_dir")/pg
  log=$state_dir/pg.log
  CP_PG_SUPER_PASSWORD=$(_cp_password_file "$state_dir/pg-superuser.password")
  service_password=$(_cp_password_file "$state_dir/pg-service.password")
  CP_PG_CONN="Host=127.0.0.1;Port=$port;Database=$CP_PG_DB;Username=$CP_PG_ROLE;Password=$service_password"
  CP_PG_STARTED=0

  mkdir -p "$data" "$sockdir"
  chmod 700 "$data"
  chown postgres: "$data" "$sockdir"
  touch "$log" && chown postgres: "$log" && chmod 600 "$log"
  _cp_pg test -w "$data" \
    || cp_die "user postgres cannot reach $data; use a CONTROLPLANE_STATE_DIR outside private folders" \
    || return

  if [[ ! -s $data/PG_VERSION ]]; then
    cp_log "initdb $data"
    # The superuser's password reaches initdb through a file only user postgres reads, then goes.
    (umask 077 && printf '%s\n' "$CP_PG_SUPER_PASSWORD" >"$sockdir/pwfile") && chown postgres: "$sockdir/pwfile"
    _cp_pg "$bindir/initdb" -D "$data" -U postgres --auth=scram-sha-256 --pwfile="$sockdir/pwfile" \
      -E UTF8 --locale=C.UTF-8 >>"$log" 2>&1 \
      || { rm -f "$sockdir/pwfile"; tail -n 20 "$log" >&2; cp_die "initdb failed"; return; }
    rm -f "$sockdir/pwfile"
    printf '\n# controlplane dev/test settings\nlisten_addresses = %s\n' "'127.0.0.1'" >>"$data/postgresql.conf"
    _cp_write_pg_hba "$data"
  fi
  # Only local connections, and every one with a password (SCRAM): no local user gets in as the
  # superuser for nothing (and from there runs programs with COPY ... TO PROGRAM).
  if grep -Eq '^[^#]*\btrust\b' "$data/pg_hba.conf"; then
    _cp_secure_trusted_cluster "$bindir" "$data" "$port" "$sockdir" "$log" || return
  fi

  if _cp_pg "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    running_port=$(sed -n 4p "$data/postmaster.pid")
    if [[ $running_port == "$port" ]]; then
      cp_log "postgres already running in $data on port $port"
    else
      cp_log "postgres in $data runs on port $running_port; restarting on $port"
      _cp_pg "$bindir/pg_ctl" -D "$data" -m fast -w stop >/dev/null
    fi
  fi
  if ! _cp_pg "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    cp_log "starting postgres on 127.0.0.1:$port ($data)"
    _cp_pg "$bindir/pg_ctl" -D "$data" -l "$log" -w -t 60 \
      -o "-p $port -k $sockdir -c listen_addresses=127.0.0.1" start >/dev/null \
      || { tail -n 20 "$log" >&2; cp_die "postgres did not start"; return; }
    CP_PG_STARTED=1
  fi

  # The service role owns its database and nothing else; the API and the migrator connect as it.
  _cp_psql_super "$port" postgres <<SQL || cp_die "could not set up the role $CP_PG_ROLE" || return
SELECT format('CREATE ROLE %I LOGIN', '$CP_PG_ROLE') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$CP_PG_ROLE')
\gexec
SET password_encryption = 'scram-sha-256';
ALTER ROLE $CP_PG_ROLE LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD '$service_password';
SELECT format('CREATE DATABASE %I OWNER %I', '$CP_PG_DB', '$CP_PG_ROLE') WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$CP_PG_DB')
\gexec
ALTER DATABASE $CP_PG_DB OWNER TO $CP_PG_ROLE;
SQL
  # A database made by an older up.sh belongs to postgres: its tables (with their sequences) pass to the role.
  _cp_psql_super "$port" "$CP_PG_DB" <<SQL || cp_die "could not hand the tables to $CP_PG_ROLE" || return
DO \$\$
DECLARE t record;
BEGIN
  FOR t IN SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND pg_get_userbyid(c.relowner) <> '$CP_PG_ROLE'
  LOOP
    EXECUTE format('ALTER TABLE %I.%I OWNER TO %I', t.nspname, t.relname, '$CP_PG_ROLE');
  END LOOP;
END
\$\$;
SQL
}

# A cluster made before password authentication (pg_hba "trust"): give the superuser its password
# while trust still lets us in, then require passwords everywhere.
_cp_secure_trusted_cluster() {
  local bindir=$1 data=$2 port=$3 sockdir=$4 log=$5 started=0
  cp_log "securing $data: password (SCRAM) authentication from now on"
  if ! _cp_pg "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    _cp_pg "$bindir/pg_ctl" -D "$data" -l "$log" -w -t 60 \
      -o "-p $port -k $sockdir -c listen_addresses=127.0.0.1" start >/dev/null \
      || { tail -n 20 "$log" >&2; cp_die "postgres did not start"; return; }
    started=1
  fi
  "$bindir/psql" -X -w -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$(sed -n 4p "$data/postmaster.pid")" -U postgres -d postgres <<SQL \
    || { cp_die "could not set the superuser's password"; return; }
SET password_encryption = 'scram-sha-256';
ALTER ROLE postgres PASSWORD '$CP_PG_SUPER_PASSWORD';
SQL
  _cp_write_pg_hba "$data"
  if ((started)); then
    _cp_pg "$bindir/pg_ctl" -D "$data" -m fast -w stop >/dev/null
  else
    _cp_pg "$bindir/pg_ctl" -D "$data" reload >/dev/null
  fi
}

cp_stop_postgres() {
  local state_dir bindir data
  state_dir=$(_cp_abs_dir "$1") || return
  data=$state_dir/pg
  [[ -s $data/PG_VERSION ]] || return 0
  cp_pg_bindir >/dev/null || return
  bindir=$CP_PG_BINDIR
  if _cp_pg "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    cp_log "stopping postgres ($data)"
    _cp_pg "$bindir/pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null
  fi
}

# ---------------------------------------------------------------- Docker engines

cp_engine_uri() {
  local state_dir
  state_dir=$(_cp_abs_dir "$2") || return
  printf 'unix://%s/%s/docker.sock\n' "$(_cp_run_dir "$state_dir")" "$1"
}

_cp_engine_answers() {
  timeout 10 docker -H "$1" info >/dev/null 2>&1
}

cp_start_engine() {
  local name=$1 state_dir dir run uri pid deadline
  state_dir=$(_cp_abs_dir "$2") || return
  dir=$state_dir/engines/$name
  run=$(_cp_run_dir "$state_dir")/$name
  uri=$(cp_engine_uri "$name" "$state_dir")
  CP_ENGINE_URI=$uri
  CP_ENGINE_STARTED=0
  export CP_ENGINE_URI

  if _cp_engine_answers "$uri"; then
    cp_log "engine $name already answers at $uri"
    printf '%s\n' "$uri"
    return 0
  fi
  command -v dockerd >/dev/null || cp_ensure_apt_packages docker.io || return
  command -v docker >/dev/null || cp_ensure_apt_packages docker.io || return
  if [[ -S /run/containerd/containerd.sock ]]; then
    cp_log "warning: a system containerd runs; dockerd will share it instead of running its own"
  fi

  mkdir -p "$dir/data" "$run/exec"
  rm -f "$run/docker.sock"
  cp_log "starting engine $name at $uri"
  setsid dockerd \
    --host "$uri" \
    --data-root "$dir/data" \
    --exec-root "$run/exec" \
    --pidfile "$dir/dockerd.pid" \
    --bridge=none --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false \
    --shutdown-timeout=10 \
    </dev/null >>"$dir/dockerd.log" 2>&1 &
  pid=$!
  deadline=$((SECONDS + 60))
  until _cp_engine_answers "$uri"; do
    if ! _cp_pid_alive "$pid" || ((SECONDS >= deadline)); then
      tail -n 30 "$dir/dockerd.log" >&2
      _cp_pid_alive "$pid" && kill -TERM "$pid"
      cp_die "engine $name did not answer at $uri (log: $dir/dockerd.log)"
      return
    fi
    sleep 0.2
  done
  CP_ENGINE_STARTED=1
  printf '%s\n' "$uri"
}

cp_stop_engine() {
  local name=$1 state_dir dir run pid cpid deadline
  state_dir=$(_cp_abs_dir "$2") || return
  dir=$state_dir/engines/$name
  run=$(_cp_run_dir "$state_dir")/$name
  pid=$(cat "$dir/dockerd.pid" 2>/dev/null) || true
  if ! _cp_pid_alive "$pid" || [[ $(cat "/proc/$pid/comm" 2>/dev/null) != dockerd ]]; then
    return 0
  fi
  cp_log "stopping engine $name (pid $pid)"
  cpid=$(cat "$run/exec/containerd/containerd.pid" 2>/dev/null) || true
  kill -TERM "$pid" 2>/dev/null || true
  deadline=$((SECONDS + 30))
  while _cp_pid_alive "$pid" && ((SECONDS < deadline)); do sleep 0.2; done
  if _cp_pid_alive "$pid"; then
    cp_log "engine $name did not stop in 30 s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
    # Its containerd would outlive it; take it down too.
    if _cp_pid_alive "$cpid" && [[ $(cat "/proc/$cpid/comm" 2>/dev/null) == containerd ]]; then
      kill -KILL "$cpid" 2>/dev/null || true
    fi
  fi
  rm -f "$dir/dockerd.pid"
  _cp_umount_under "$run" "$dir"
}

# Unmount whatever is still mounted below the given folders (dockerd leaves exec-root/netns/default
# mounted when it exits, which would make rm -rf of the state folder fail).
_cp_umount_under() {
  local prefix mnt
  for prefix in "$@"; do
    awk -v p="$prefix/" 'index($2 "/", p) == 1 { print $2 }' /proc/mounts | sort -r |
      while IFS= read -r mnt; do umount -l "$mnt" 2>/dev/null || true; done
  done
}

# The ElastiCache query API's tests drive the real clients: Debian's awscli (the v2 CLI at
# /usr/bin/aws) and boto3. Sets CP_PYTHON to a python3 that imports boto3 (the one on PATH when
# it has it, else Debian's with python3-boto3).
cp_ensure_aws_clients() {
  [[ -x /usr/bin/aws ]] || cp_ensure_apt_packages awscli
  if command -v python3 >/dev/null && python3 -c 'import boto3' 2>/dev/null; then
    CP_PYTHON=$(command -v python3)
  else
    cp_ensure_apt_packages python3-boto3
    CP_PYTHON=/usr/bin/python3
  fi
  export CP_PYTHON
}
