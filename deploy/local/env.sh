#!/usr/bin/env bash
# Prints the environment the Footfall services and tests use to reach the local
# services. Usage:  eval "$(deploy/local/env.sh)"
# Ports follow the same FOOTFALL_*_PORT variables as services.sh.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

printf "export %s='%s'\n" \
  FOOTFALL_KAFKA_BROKERS   "$HOST:$KAFKA_PORT" \
  FOOTFALL_POSTGRES_URL    "postgres://footfall@$HOST:$PG_PORT/footfall?sslmode=disable" \
  FOOTFALL_CLICKHOUSE_ADDR "$HOST:$CH_PORT" \
  FOOTFALL_CLICKHOUSE_HTTP "http://$HOST:$CH_HTTP_PORT"
