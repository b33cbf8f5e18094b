#!/usr/bin/env bash
# Installs the test tools a fresh machine lacks: Debian's chromium (for the
# browser tests), chDB + pytest from PyPI (the ClickHouse migrations against a
# current engine), and the npm packages of sdk-js and dashboard/web (esbuild,
# playwright-core, typescript, uPlot).
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
for pkg in sdk-js dashboard/web; do
  if [[ ! -d "$REPO_ROOT/$pkg/node_modules/playwright-core" || \
        "$REPO_ROOT/$pkg/package-lock.json" -nt "$REPO_ROOT/$pkg/node_modules/.package-lock.json" ]]; then
    log "installing $pkg npm packages (npm ci)"
    (cd "$REPO_ROOT/$pkg" && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci failed in $pkg"
  fi
done
