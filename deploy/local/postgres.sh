#!/usr/bin/env bash
# PostgreSQL (Debian binaries) with its own cluster -- not the system cluster --
# in $DATA_DIR/postgres, or, when that is out of the postgres OS user's reach,
# in /var/lib/footfall/<id> (see pg_home). Listens on
# 127.0.0.1:$FOOTFALL_PG_PORT, trust auth on loopback, role + database
# `footfall` (the role is SUPERUSER: tests create scratch databases).
#
#   postgres.sh install|start|stop|status
#   postgres.sh psql ARGS...     psql as footfall against the local cluster
SERVICE=postgres
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Where clusters go that cannot live under $DATA_DIR (see pg_home).
PG_RELOCATED_ROOT=/var/lib/footfall
# PG_HOME (cluster, socket, logs) and the paths under it: set by pg_paths.
PG_HOME="" PGDATA="" SOCK_DIR="" LOG_DIR="" LOGFILE=""
PID_MATCH=/postgres
PIDFILE="$DATA_DIR/run/postgres.pid"
PG_USER=footfall
PG_DB=footfall
# Root cannot run initdb/postgres: use the `postgres` OS user then.
RUN_AS=()
[[ $EUID -eq 0 ]] && RUN_AS=(setpriv --reuid=postgres --regid=postgres --init-groups)

pg_bin() {
  local d
  # shellcheck disable=SC2012  # fixed, simple paths
  d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)"
  [[ -n "$d" ]] && echo "$d"
}

do_install() {
  if [[ -z "$(pg_bin)" ]]; then
    # Installing the Debian package would also create and start a system
    # cluster on 5432, which is our port: tell postgresql-common not to.
    if [[ $EUID -eq 0 ]]; then
      mkdir -p /etc/postgresql-common/createcluster.d
      echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.d/footfall-local.conf
    fi
    apt_ensure /usr/lib/postgresql/15/bin/initdb postgresql
  fi
  [[ -n "$(pg_bin)" ]] || die "no PostgreSQL binaries under /usr/lib/postgresql/*/bin"
  command -v setpriv >/dev/null || apt_ensure setpriv util-linux
}

as_owner() { "${RUN_AS[@]}" "$@"; }

# postgres_can_enter DIR : the postgres OS user can enter DIR (or, while DIR
# does not exist yet, its nearest existing parent). Before the package has
# created that user (`status` on a fresh machine), `nobody` stands in for it.
postgres_can_enter() {
  local d="$1" u=postgres
  while [[ ! -e "$d" ]]; do d="$(dirname "$d")"; done
  id -u "$u" >/dev/null 2>&1 || u=nobody
  setpriv --reuid="$u" --regid="$(id -g "$u")" --init-groups test -x "$d" 2>/dev/null
}

# pg_relocated : this checkout's folder under $PG_RELOCATED_ROOT, named by a
# hash of $DATA_DIR, so two checkouts never share a cluster.
pg_relocated() {
  printf '%s/%s\n' "$PG_RELOCATED_ROOT" "$(printf '%s' "$DATA_DIR" | sha256sum | cut -c1-12)"
}

# pg_home : the folder holding the cluster (data/), its socket (run/) and its
# logs (logs/). The only place that decides; start and status both use it
# (stop needs only the pid file, which stays in $DATA_DIR/run).
#   - $DATA_DIR/postgres, as always, when it is a real folder holding a cluster,
#     when the server runs as the invoking user (not root), or when the
#     postgres OS user can enter $DATA_DIR;
#   - otherwise (root, with the checkout in a private folder such as /root)
#     $(pg_relocated), and start makes $DATA_DIR/postgres a symlink to it.
#     Once that symlink exists the cluster stays there. Its target is not
#     trusted (a copied .data would point at another checkout's cluster): the
#     folder is always recomputed from $DATA_DIR, and start re-points the link.
pg_home() {
  local here="$DATA_DIR/postgres"
  if [[ -L "$here" ]]; then pg_relocated; return; fi
  if [[ $EUID -ne 0 || -f "$here/data/PG_VERSION" ]] || postgres_can_enter "$DATA_DIR"; then
    echo "$here"; return
  fi
  pg_relocated
}

pg_paths() {
  PG_HOME="$(pg_home)"
  PGDATA="$PG_HOME/data"
  SOCK_DIR="$PG_HOME/run"
  LOG_DIR="$PG_HOME/logs"
  LOGFILE="$LOG_DIR/postgres.log"
}

# link_pg_home : for a relocated cluster, make $DATA_DIR/postgres a symlink
# to it, so it can be found from the checkout.
link_pg_home() {
  local link="$DATA_DIR/postgres"
  [[ "$PG_HOME" != "$link" ]] || return 0
  if [[ -L "$link" ]]; then
    [[ "$(readlink "$link")" == "$PG_HOME" ]] && return 0
    log "$link pointed to $(readlink "$link") (a copy of another checkout's .data?); pointing it to $PG_HOME"
    rm -f "$link"
  elif [[ -e "$link" ]]; then
    # pg_home only relocates past a real folder without a cluster: what an
    # earlier start left when it stopped at "cannot reach" (empty run/, logs/).
    [[ ! -f "$link/data/PG_VERSION" ]] || die "$link holds a cluster; not replacing it"
    log "removing $link (no cluster in it; left by an earlier start that could not use it)"
    rm -rf "$link"
  fi
  ln -s "$PG_HOME" "$link"
}

# psql as the cluster's bootstrap superuser over the unix socket.
psql_admin() { "$(pg_bin)/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCK_DIR" -p "$PG_PORT" -U postgres -d postgres; }

init_cluster() {
  if [[ "$PG_HOME" != "$DATA_DIR/postgres" ]]; then
    [[ -d "$PG_RELOCATED_ROOT" ]] || install -d -m 0755 "$PG_RELOCATED_ROOT"
    if [[ -f "$PGDATA/PG_VERSION" && ! -L "$DATA_DIR/postgres" ]]; then
      log "using the existing cluster in $PGDATA (left from an earlier $DATA_DIR)"
    fi
    mkdir -p "$PG_HOME"
    # Which checkout this belongs to, for whoever looks in $PG_RELOCATED_ROOT.
    printf '%s\n' "$DATA_DIR" >"$PG_HOME/footfall-data-dir"
    link_pg_home
  fi
  mkdir -p "$PG_HOME" "$SOCK_DIR" "$LOG_DIR"
  if [[ $EUID -eq 0 ]]; then
    chown -R postgres:postgres "$PG_HOME"
    if ! as_owner test -x "$PG_HOME"; then
      [[ -f "$PGDATA/PG_VERSION" && "$PG_HOME" == "$DATA_DIR/postgres" ]] &&
        die "the postgres OS user cannot reach $PG_HOME, which holds an existing cluster; make its parent folders world-executable (chmod o+x), or move it out: mkdir -p $PG_RELOCATED_ROOT && mv $PG_HOME $(pg_relocated) && ln -s $(pg_relocated) $PG_HOME"
      die "the postgres OS user cannot reach $PG_HOME; make its parent folders world-executable (chmod o+x) or set FOOTFALL_DATA_DIR"
    fi
  fi
  [[ -f "$PGDATA/PG_VERSION" ]] && return 0
  log "creating a new cluster in $PGDATA"
  as_owner "$(pg_bin)/initdb" -D "$PGDATA" -U postgres --auth=trust \
    --encoding=UTF8 --locale=C.UTF-8 >"$LOG_DIR/initdb.log" 2>&1 ||
    fail_with_log "initdb failed" "$LOG_DIR/initdb.log"
  echo "include_if_exists = 'footfall.conf'" >>"$PGDATA/postgresql.conf"
}

write_config() {
  # Rewritten on every start so FOOTFALL_PG_PORT changes take effect.
  as_owner tee "$PGDATA/footfall.conf" >/dev/null <<EOF
# Generated by deploy/local/postgres.sh on every start.
listen_addresses = '$HOST'
port = $PG_PORT
unix_socket_directories = '$SOCK_DIR'
max_connections = 200
shared_buffers = 128MB
logging_collector = off
log_line_prefix = '%m [%p] %q%u@%d '
log_timezone = 'UTC'
timezone = 'UTC'
EOF
  as_owner tee "$PGDATA/pg_hba.conf" >/dev/null <<EOF
# Generated by deploy/local/postgres.sh: loopback only, no passwords.
# TYPE  DATABASE  USER  ADDRESS       METHOD
local   all       all                 trust
host    all       all   127.0.0.1/32  trust
EOF
}

ready() {
  "$(pg_bin)/pg_isready" -q -h "$HOST" -p "$PG_PORT" -U postgres -d postgres
}

bootstrap_roles() {
  psql_admin <<EOF || fail_with_log "could not create role/database $PG_USER" "$LOGFILE"
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_USER') THEN
    CREATE ROLE $PG_USER LOGIN SUPERUSER;
  END IF;
END \$\$;
SELECT 'CREATE DATABASE $PG_DB OWNER $PG_USER'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$PG_DB') \gexec
EOF
  "$(pg_bin)/psql" -X -q -h "$HOST" -p "$PG_PORT" -U "$PG_USER" -d "$PG_DB" -tAc 'select 1' >/dev/null ||
    fail_with_log "cannot connect as $PG_USER over TCP" "$LOGFILE"
}

do_start() {
  if pid_alive "$PIDFILE"; then already_running "$PIDFILE" "$HOST:$PG_PORT"; return 0; fi
  ensure_ports_free PG_PORT
  pg_paths
  init_cluster
  write_config
  log "starting PostgreSQL $("$(pg_bin)/postgres" --version | awk '{print $3}') on $HOST:$PG_PORT"
  start_bg "$PIDFILE" "$LOGFILE" "${RUN_AS[@]}" "$(pg_bin)/postgres" -D "$PGDATA"
  local rc=0
  wait_until "$START_TIMEOUT" "$PIDFILE" ready || rc=$?
  case $rc in
    0) bootstrap_roles; log "ready on $HOST:$PG_PORT (database $PG_DB, role $PG_USER; data in $PGDATA)" ;;
    1) rm -f "$PIDFILE"; fail_with_log "PostgreSQL exited during startup" "$LOGFILE" ;;
    *) fail_with_log "PostgreSQL not ready after ${START_TIMEOUT}s (pid $(read_pid "$PIDFILE") still running; 'postgres.sh stop' to stop it)" "$LOGFILE" ;;
  esac
}

# SIGINT = "fast" shutdown: disconnects clients (tests may hold connections).
do_stop() { stop_pid "$PIDFILE" INT; }

do_status() {
  pg_paths
  status_line postgres "$PIDFILE" "$HOST:$PG_PORT  db $PG_DB  data $PGDATA  logs $LOGFILE" "data $PGDATA"
}

if [[ "${1:-}" == psql ]]; then
  shift; exec "$(pg_bin)/psql" -h "$HOST" -p "$PG_PORT" -U "$PG_USER" -d "$PG_DB" "$@"
fi
dispatch "$@"
