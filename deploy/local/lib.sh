# shellcheck shell=bash disable=SC2034  # (variables are used by the sourcing scripts)
# Shared helpers for the local-services scripts. Source it, don't run it.
#
# Everything the services write lives under one folder, $DATA_DIR
# (FOOTFALL_DATA_DIR, default <repo>/.data, git-ignored). Ports come from the
# environment with the defaults below; everything binds to 127.0.0.1 only.

set -euo pipefail

LOCAL_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$LOCAL_DIR/../.." && pwd)"

# Absolute, because services chdir elsewhere; created by the first start.
DATA_DIR="$(realpath -m "${FOOTFALL_DATA_DIR:-$REPO_ROOT/.data}")"

HOST=127.0.0.1
KAFKA_PORT="${FOOTFALL_KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${FOOTFALL_KAFKA_CONTROLLER_PORT:-9093}"
PG_PORT="${FOOTFALL_PG_PORT:-5432}"
CH_PORT="${FOOTFALL_CH_PORT:-9000}"
CH_HTTP_PORT="${FOOTFALL_CH_HTTP_PORT:-8123}"
CH_INTERSERVER_PORT="${FOOTFALL_CH_INTERSERVER_PORT:-9009}"
# Footfall's own services' ports come from the binary (footfall.sh).
for _p in KAFKA_PORT KAFKA_CONTROLLER_PORT PG_PORT CH_PORT CH_HTTP_PORT CH_INTERSERVER_PORT; do
  [[ "${!_p}" =~ ^[0-9]{1,5}$ ]] || { echo "FOOTFALL_$_p must be a port number, got '${!_p}'" >&2; exit 2; }
done
unset _p

# How long "start" waits for a service to become ready, in seconds.
START_TIMEOUT="${FOOTFALL_START_TIMEOUT:-90}"
# How long "stop" waits for a process to exit before SIGKILL, in seconds.
STOP_TIMEOUT="${FOOTFALL_STOP_TIMEOUT:-30}"

export DEBIAN_FRONTEND=noninteractive

# ---- logging -------------------------------------------------------------

_tag() { printf '%s' "${SERVICE:-local}"; }
log()  { printf '[%s] %s\n' "$(_tag)" "$*" >&2; }
warn() { printf '[%s] WARNING: %s\n' "$(_tag)" "$*" >&2; }
die()  { printf '[%s] ERROR: %s\n' "$(_tag)" "$*" >&2; exit 1; }

# fail_with_log MESSAGE LOGFILE... : print the message and the tail of each
# log, then exit non-zero.
fail_with_log() {
  local msg="$1"; shift
  printf '[%s] ERROR: %s\n' "$(_tag)" "$msg" >&2
  local f
  for f in "$@"; do
    [[ -s "$f" ]] || continue
    printf '[%s] ---- last lines of %s ----\n' "$(_tag)" "$f" >&2
    tail -n 25 "$f" | cut -c1-400 >&2
    printf '[%s] ----\n' "$(_tag)" >&2
  done
  exit 1
}

# ---- packages ------------------------------------------------------------

# apt_ensure CMD_OR_PATH PACKAGE... : install PACKAGE(s) if CMD is missing.
_apt_updated=""
apt_ensure() {
  local probe="$1"; shift
  if [[ "$probe" == /* ]]; then [[ -e "$probe" ]] && return 0
  else command -v "$probe" >/dev/null 2>&1 && return 0; fi
  [[ $EUID -eq 0 ]] || die "'$probe' is missing; install Debian package(s) $* (needs root)"
  log "installing Debian package(s): $*"
  if [[ -z "$_apt_updated" ]]; then
    apt-get update -qq >&2 || die "apt-get update failed"
    _apt_updated=1
  fi
  # Debian's postgresql and clickhouse-server packages start a system-wide
  # server (on our ports) when installed; a policy-rc.d that says "no" (exit
  # 101) stops that. Only added, and removed again, if there is none already.
  local policy=/usr/sbin/policy-rc.d own_policy="" rc=0
  if [[ ! -e "$policy" ]]; then
    printf '#!/bin/sh\n# temporary, from footfall deploy/local/lib.sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"; own_policy=1
  fi
  apt-get install -y -qq --no-install-recommends "$@" >&2 || rc=$?
  [[ -z "$own_policy" ]] || rm -f "$policy"
  (( rc == 0 )) || die "apt-get install $* failed"
}

# ---- ports ---------------------------------------------------------------

# port_open PORT : something accepts TCP connections on 127.0.0.1:PORT.
port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

# port_owner PORT : a short description of who listens on PORT (best effort).
port_owner() {
  ss -Hltnp "sport = :$1" 2>/dev/null | sed -n 's/.*users:((\(.*\)))/\1/p' | head -n1
}

# ensure_ports_free VAR... : VAR names a port variable of this file (PG_PORT,
# ...); die with a clear message if its port is taken.
ensure_ports_free() {
  local v p
  for v in "$@"; do
    p="${!v}"
    if port_open "$p" || ss -Hltn "sport = :$p" 2>/dev/null | grep -q .; then
      die "port $p is already in use (by $(port_owner "$p" || true)); stop that process, or set FOOTFALL_$v to another port"
    fi
  done
}

# wait_until DEADLINE_SECONDS PIDFILE CMD... : run CMD every second until it
# succeeds (0), the process in PIDFILE dies (1) or the deadline passes (2).
wait_until() {
  local deadline=$((SECONDS + $1)) pidfile="$2"; shift 2
  while :; do
    if "$@" >/dev/null 2>&1; then return 0; fi
    if [[ -n "$pidfile" ]] && ! pid_alive "$pidfile"; then return 1; fi
    if (( SECONDS >= deadline )); then return 2; fi
    sleep 1
  done
}

# wait_for_port PORT [SECONDS] [PIDFILE]
wait_for_port() { wait_until "${2:-$START_TIMEOUT}" "${3:-}" port_open "$1"; }

# ---- processes -----------------------------------------------------------

# read_pid PIDFILE : prints the pid, or nothing.
read_pid() { if [[ -s "$1" ]]; then tr -dc '0-9' <"$1"; fi; }

# pid_alive PIDFILE : the process in PIDFILE exists, is not a zombie and (if
# the calling script set PID_MATCH) its command line contains PID_MATCH -- so a
# stale pid file whose pid was reused (e.g. after a reboot) is not "running".
pid_alive() {
  local pid; pid="$(read_pid "$1")"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
  [[ "$(ps -o stat= -p "$pid" 2>/dev/null)" != Z* ]] || return 1
  [[ -z "${PID_MATCH:-}" ]] || tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$PID_MATCH"
}

# start_bg PIDFILE LOGFILE CMD... : run CMD detached (own session, stdin from
# /dev/null, stdout+stderr to LOGFILE; the previous run's is kept as
# LOGFILE.1) and record its pid.
# setsid does not fork here (our background child is not a group leader), so
# $! is the service's own pid.
start_bg() {
  local pidfile="$1" logfile="$2"; shift 2
  mkdir -p "$(dirname "$pidfile")" "$(dirname "$logfile")"
  [[ -s "$logfile" ]] && mv -f "$logfile" "$logfile.1"
  printf '==== %s starting: %s\n' "$(date -Is)" "$*" >"$logfile"
  # 9>&- : the service must not inherit dispatch's lock, or the next start
  # or stop would wait for the service to exit.
  nohup setsid "$@" </dev/null >>"$logfile" 2>&1 9>&- &
  echo $! >"$pidfile"
}

# stop_pid PIDFILE [SIGNAL] : signal the process, wait up to STOP_TIMEOUT,
# then SIGKILL. Removes the pid file.
stop_pid() {
  local pidfile="$1" sig="${2:-TERM}" pid
  pid="$(read_pid "$pidfile")"
  if [[ -z "$pid" ]] || ! pid_alive "$pidfile"; then
    log "not running"; rm -f "$pidfile"; return 0
  fi
  log "stopping (pid $pid, SIG$sig)"
  kill -s "$sig" "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + STOP_TIMEOUT))
  while pid_alive "$pidfile"; do
    if (( SECONDS >= deadline )); then
      warn "pid $pid still running after ${STOP_TIMEOUT}s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 1
      break
    fi
    sleep 0.5
  done
  rm -f "$pidfile"
  log "stopped"
}

# already_running PIDFILE WHAT : for `start` when the pid file's process is
# alive: wait until it is ready (a concurrent start may still be warming up).
already_running() {
  log "already running (pid $(read_pid "$1")) on $2"
  local rc=0
  wait_until "$START_TIMEOUT" "$1" ready || rc=$?
  (( rc == 0 )) || die "pid $(read_pid "$1") is running but not answering on $2 (see logs; '$SERVICE.sh stop' then start again)"
}

# status_line NAME PIDFILE DETAIL [STOPPED_DETAIL] : one line for `status`;
# returns 0 if running.
status_line() {
  if pid_alive "$2"; then
    printf '%-10s running  pid %-7s %s\n' "$1" "$(read_pid "$2")" "$3"
  else
    printf '%-10s stopped%s\n' "$1" "${4:+              $4}"
    return 1
  fi
}

# dispatch "$@" : common main for the per-service scripts, which define
# do_install, do_start, do_stop, do_status.
dispatch() {
  case "${1:-}" in
    install|start|stop)   # one start/stop of a service at a time
      mkdir -p "$DATA_DIR/run"
      exec 9>"$DATA_DIR/run/$SERVICE.lock"
      flock -w $((START_TIMEOUT + 300)) 9 || die "another start/stop of $SERVICE is still running" ;;
  esac
  case "${1:-}" in
    install) do_install ;;
    start)   do_install; do_start ;;
    stop)    do_stop ;;
    status)  do_status ;;
    *) echo "usage: $0 install|start|stop|status" >&2; exit 2 ;;
  esac
}
