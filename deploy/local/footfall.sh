#!/usr/bin/env bash
# Footfall itself on top of the local services: builds bin/footfall, migrates,
# loads the demo catalog, and runs `footfall all` (collector, enricher, loader,
# promotions in one process) in the background.
#
#   footfall.sh start    build, migrate, seed, start, wait until every service is ready
#   footfall.sh stop     stop it (SIGTERM: the services drain, then exit)
#   footfall.sh status   one line
#   footfall.sh urls     where to look
#   footfall.sh env      the FOOTFALL_E2E_* exports the end-to-end test reads
#
# The demo site's write key and secret server key are generated once into
# $DATA_DIR/footfall/demo-write-key and demo-server-key (never committed); the
# demo's browsers may send from the collector's own origin only. The
# collector spools the batches Kafka does not take in time into
# $DATA_DIR/footfall/spool (docs/operations.md, Spool). The services
# and their default ports come from the binary's registry (`footfall ports`);
# FOOTFALL_<SERVICE>_PORT overrides one, e.g. FOOTFALL_COLLECTOR_PORT=18080.
SERVICE=footfall
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PID_MATCH="footfall all"
BIN="$REPO_ROOT/bin/footfall"
FF_DIR="$DATA_DIR/footfall"
PIDFILE="$DATA_DIR/run/footfall.pid"
LOGFILE="$FF_DIR/footfall.log"
KEYFILE="$FF_DIR/demo-write-key"
SERVERKEYFILE="$FF_DIR/demo-server-key"
STATSKEYFILE="$FF_DIR/demo-stats-key"

# The services' settings, as the binary reads them (flags fall back to FOOTFALL_*).
eval "$("$LOCAL_DIR/env.sh")"

do_install() {
  command -v go >/dev/null || die "Go is missing (https://go.dev/dl/); go.mod says which version"
  log "building $BIN"
  (cd "$REPO_ROOT" && go build -o "$BIN" ./cmd/footfall) || die "go build failed"
}

# load_ports: SERVICES (names, in the registry's order) and PORTS[name],
# from `footfall ports` and any FOOTFALL_<NAME>_PORT; exports each
# service's FOOTFALL_<NAME>_ADDR for the binary.
declare -A PORTS
SERVICES=()
load_ports() {
  [[ -x "$BIN" ]] || do_install
  local name port var
  while read -r name port; do
    var="FOOTFALL_${name^^}_PORT"
    port="${!var:-$port}"
    [[ "$port" =~ ^[0-9]{1,5}$ ]] || die "$var must be a port number, got '$port'"
    SERVICES+=("$name"); PORTS[$name]=$port
    export "FOOTFALL_${name^^}_ADDR=$HOST:$port"
  done < <("$BIN" ports)
  (( ${#SERVICES[@]} > 0 )) || die "'$BIN ports' listed no services"
}

ready() {
  local name
  for name in "${SERVICES[@]}"; do
    curl -fsS -o /dev/null --max-time 2 "http://$HOST:${PORTS[$name]}/readyz" || return 1
  done
}

do_start() {
  local sum; sum="$(sha256sum "$BIN" | cut -d' ' -f1)"
  if pid_alive "$PIDFILE"; then
    if [[ "$(cat "$FF_DIR/running.sha256" 2>/dev/null)" == "$sum" ]]; then
      already_running "$PIDFILE" "$HOST:${PORTS[collector]}"; print_urls; return
    fi
    log "the code changed since footfall was started: restarting it"
    stop_pid "$PIDFILE" TERM
  fi
  "$LOCAL_DIR/services.sh" status >/dev/null || die "Kafka, PostgreSQL or ClickHouse is not running; start them with deploy/local/services.sh up"
  mkdir -p "$FF_DIR"
  "$BIN" migrate --log-format text >"$FF_DIR/migrate.log" 2>&1 || fail_with_log "footfall migrate failed" "$FF_DIR/migrate.log"
  "$BIN" seed-demo --log-format text >>"$FF_DIR/migrate.log" 2>&1 || fail_with_log "footfall seed-demo failed" "$FF_DIR/migrate.log"
  local f
  for f in "$KEYFILE" "$SERVERKEYFILE" "$STATSKEYFILE"; do
    [[ -s "$f" ]] || (umask 077; head -c 18 /dev/urandom | base64 | tr '+/' '-_' >"$f")
  done
  local name listing=()
  for name in "${SERVICES[@]}"; do
    if port_open "${PORTS[$name]}"; then
      die "port ${PORTS[$name]} ($name) is already in use (by $(port_owner "${PORTS[$name]}" || true)); stop that process, or set FOOTFALL_${name^^}_PORT to another port"
    fi
    listing+=("$name :${PORTS[$name]}")
  done
  log "starting footfall all ($(IFS=,; echo "${listing[*]}" | sed 's/,/, /g'))"
  FOOTFALL_COLLECTOR_SITES="demo=$(cat "$KEYFILE")" \
  FOOTFALL_COLLECTOR_SERVER_KEYS="demo=$(cat "$SERVERKEYFILE")" \
  FOOTFALL_REVIEWS_SERVER_KEYS="demo=$(cat "$SERVERKEYFILE")" \
  FOOTFALL_PRIVACY_SERVER_KEYS="demo=$(cat "$SERVERKEYFILE")" \
  FOOTFALL_COLLECTOR_ALLOWED_ORIGINS="demo=http://$HOST:${PORTS[collector]}|http://localhost:${PORTS[collector]}" \
  FOOTFALL_DASHBOARD_KEYS="demo=$(cat "$STATSKEYFILE")" \
  FOOTFALL_COLLECTOR_DEMO_SITE=demo \
  FOOTFALL_COLLECTOR_DEMO_PROMOTIONS_URL="http://$HOST:${PORTS[promotions]}" \
  FOOTFALL_COLLECTOR_SPOOL_DIR="$FF_DIR/spool" \
    start_bg "$PIDFILE" "$LOGFILE" "$BIN" all --log-format json
  echo "$sum" >"$FF_DIR/running.sha256"
  local rc=0
  wait_until "$START_TIMEOUT" "$PIDFILE" ready || rc=$?
  case $rc in
    0) log "ready" ;;
    1) fail_with_log "footfall exited during start" "$LOGFILE" ;;
    *) fail_with_log "footfall not ready after ${START_TIMEOUT}s" "$LOGFILE" ;;
  esac
  print_urls
}

print_urls() {
  local collector="http://$HOST:${PORTS[collector]}" ports="" name
  for name in "${SERVICES[@]}"; do ports+="${ports:+,}${PORTS[$name]}"; done
  cat >&2 <<MSG
[footfall] demo shop      $collector/demo/   (search "humidifier", then go home)
[footfall] dashboard      http://$HOST:${PORTS[dashboard]}/#site=demo&key=$(cat "$STATSKEYFILE" 2>/dev/null)
[footfall] collector      POST $collector/v1/batch   beacon $collector/footfall.js
[footfall] promotions     http://$HOST:${PORTS[promotions]}/v1/promotions?site=demo&user=<anonymous id>
[footfall] forget         curl -u "\$(cat $SERVERKEYFILE):" -d '{"user_id":"<id>"}' http://$HOST:${PORTS[privacy]}/v1/forget   (or: bin/footfall forget --site demo --user <id>)
[footfall] reviews        curl -u "\$(cat $SERVERKEYFILE):" 'http://$HOST:${PORTS[reviews]}/v1/reviews?product=<id>&viewer=<author>'
[footfall] metrics        http://$HOST:{$ports}/metrics   (also /healthz, /readyz; --pprof adds /debug/pprof/)
[footfall] ClickHouse     deploy/local/clickhouse.sh client -d footfall -q 'SELECT type, count() FROM events GROUP BY type'
[footfall] demo write key $KEYFILE   Stats API key $STATSKEYFILE
[footfall] demo server key $SERVERKEYFILE   (secret: HTTP Basic user, may set user_id, ip, ts)
[footfall] log            $LOGFILE
MSG
}

do_stop() { stop_pid "$PIDFILE" TERM; }
do_status() { status_line footfall "$PIDFILE" "collector http://$HOST:${PORTS[collector]}  log $LOGFILE"; }

load_ports
case "${1:-}" in
  urls) print_urls ;;
  env)  # for the e2e test: where the running pipeline answers
    printf "export %s='%s'\n" \
      FOOTFALL_E2E_COLLECTOR "http://$HOST:${PORTS[collector]}" \
      FOOTFALL_E2E_PROMOTIONS "http://$HOST:${PORTS[promotions]}" \
      FOOTFALL_E2E_DASHBOARD "http://$HOST:${PORTS[dashboard]}" \
      FOOTFALL_E2E_CLICKHOUSE_HTTP "http://$HOST:$CH_HTTP_PORT" ;;
  *) dispatch "$@" ;;
esac
