#!/usr/bin/env bash
# Installs the test tools a fresh machine lacks: Debian's chromium (for the
# browser tests), chDB + pytest from PyPI (the ClickHouse migrations against a
# current engine), and sdk-js's npm packages (esbuild, playwright-core, typescript).
# Idempotent; used by `make test` and .ci/run.
SERVICE=tools
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

apt_ensure chromium chromium
if ! python3 -c 'import chdb, pytest' 2>/dev/null; then
  log "installing chdb and pytest from PyPI"
  pip install -q chdb pytest 2>/dev/null || pip install -q --break-system-packages chdb pytest \
    || die "pip install chdb pytest failed"
fi
command -v npm >/dev/null || apt_ensure npm nodejs npm
if [[ ! -d "$REPO_ROOT/sdk-js/node_modules/playwright-core" || \
      "$REPO_ROOT/sdk-js/package-lock.json" -nt "$REPO_ROOT/sdk-js/node_modules/.package-lock.json" ]]; then
  log "installing sdk-js npm packages (npm ci)"
  (cd "$REPO_ROOT/sdk-js" && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci failed in sdk-js"
fi
