#!/usr/bin/env bash
# Tests of the local-services scripts themselves, run by `make test`.
#
# private-home: a checkout under a folder only root may enter (a 0700 /root,
# the usual place on a fresh server) still gets a working PostgreSQL, whose
# data then lives where the postgres OS user can reach it.
SERVICE=selftest
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [[ $EUID -ne 0 ]]; then
  log "private-home: skipped (only root runs PostgreSQL as another OS user)"
  exit 0
fi

parent="$(mktemp -d)"
chmod 700 "$parent"
checkout="$parent/footfall"
mkdir -p "$checkout/deploy"
cp -a "$LOCAL_DIR" "$checkout/deploy/local"
port=15432
while port_open "$port"; do port=$((port + 1)); done
pg() { FOOTFALL_PG_PORT="$port" "$checkout/deploy/local/postgres.sh" "$@"; }
cleanup() {
  pg stop >/dev/null 2>&1 || true
  local moved; moved="$(readlink "$checkout/.data/postgres" 2>/dev/null || true)"
  [[ -n "$moved" && "$moved" == /var/lib/footfall/* ]] && rm -rf "$moved"
  rm -rf "$parent"
}
trap cleanup EXIT

pg start >"$parent.log" 2>&1 || { cat "$parent.log" >&2; rm -f "$parent.log"; die "private-home: postgres.sh start failed under a 0700 folder"; }
rm -f "$parent.log"
[[ "$(pg psql -tAc 'select 40 + 2')" == 42 ]] || die "private-home: the cluster does not answer"
status="$(pg status)"
data="$(pg psql -tAc 'show data_directory')"
[[ "$status" == *"data $data"* ]] || die "private-home: status does not say where the data is: $status (server: $data)"
[[ "$data" != "$parent"/* ]] || die "private-home: the data stayed under the private folder: $data"
log "private-home: ok (data in $data)"
