#!/usr/bin/env bash
# Local test substrate: Kafka, PostgreSQL and ClickHouse, natively on loopback.
#
#   services.sh up     [kafka|postgres|clickhouse ...]   install what is missing, start, wait until ready
#   services.sh down   [kafka|postgres|clickhouse ...]   stop what `up` started, wait for exit
#   services.sh status [kafka|postgres|clickhouse ...]   one line per service
#
# With no service named, all three. `up` is idempotent. Exit status: non-zero
# if any service failed to start/stop; for `status`, 3 if any is not running.
# Data, logs and pid files: ${FOOTFALL_DATA_DIR:-<repo>/.data}. See
# docs/local-services.md.
SERVICE=services
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ALL=(kafka postgres clickhouse)

usage() { echo "usage: $0 up|down|status [kafka|postgres|clickhouse ...]" >&2; exit 2; }

cmd="${1:-}"; [[ $# -gt 0 ]] && shift
services=("$@"); [[ ${#services[@]} -gt 0 ]] || services=("${ALL[@]}")
for s in "${services[@]}"; do
  case "$s" in kafka|postgres|clickhouse) ;; *) echo "unknown service '$s'" >&2; usage ;; esac
done

run_each() {   # run_each ACTION SERVICE... : run all, report failures
  local action="$1" s failed=(); shift
  for s in "$@"; do
    "$LOCAL_DIR/$s.sh" "$action" || failed+=("$s")
  done
  if [[ ${#failed[@]} -gt 0 ]]; then
    log "$action failed for: ${failed[*]}"
    return 1
  fi
}

reverse() { local i; for ((i = $# ; i > 0 ; i--)); do echo "${!i}"; done; }

case "$cmd" in
  up)
    mkdir -p "$DATA_DIR/run"
    t0=$SECONDS
    run_each start "${services[@]}"
    log "up: ${services[*]} ready in $((SECONDS - t0))s (data in $DATA_DIR)"
    # shellcheck disable=SC2016  # printed literally on purpose
    log 'connection settings: eval "$(deploy/local/env.sh)"'
    ;;
  down)
    mapfile -t rev < <(reverse "${services[@]}")
    run_each stop "${rev[@]}"
    ;;
  status)
    rc=0
    for s in "${services[@]}"; do "$LOCAL_DIR/$s.sh" status || rc=3; done
    exit "$rc"
    ;;
  *) usage ;;
esac
