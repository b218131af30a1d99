#!/usr/bin/env bash
# Brings a fresh clone to a runnable state, and is quick (seconds) when nothing is missing:
#   1. Debian packages (as root: apt-get; otherwise it prints the command to run);
#   2. npm packages (npm ci when package-lock.json changed), which bring Node 24 (npm "node");
#   3. the mediasoup worker: MEDIASOUP_WORKER_BIN if set; else the per-machine cache; else
#      mediasoup's own install (prebuilt download) where that works; else an offline build
#      from mediasoup's npm sources (scripts/worker/build-worker.sh, ~8 min once per machine);
#      the chosen path is recorded in node_modules/.mediasoup-worker-bin for the server;
#   4. the demo page bundle (dist/demo).
# Usage: scripts/setup.sh [--test]   (--test also installs what the tests need: Debian's chromium and coturn for
#                                     the E2E tests, redis-server for the cluster tests, prometheus for its promtool,
#                                     which checks the /metrics output)
# Env:   MEDIASOUP_WORKER_SOURCE=auto|mediasoup|build (default auto)
set -euo pipefail
# The whole script is one function, so bash has parsed all of it before running any of it
# (editing the file while it runs cannot break a build in progress).
main() {
  cd "$(dirname "${BASH_SOURCE[0]}")/.."
  say() { printf '[setup] %s\n' "$*" >&2; }
  die() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }

  for_tests=false
  [ "${1:-}" = "--test" ] && for_tests=true

  # --- 1. Debian packages --------------------------------------------------------------------------
  # Runtime libraries of the offline-built worker come with the -dev packages the build needs;
  # scripts/worker/build-worker.sh checks its own list. Here: what the server and tests need.
  apt_needed="openssl ca-certificates"
  # Tests: chromium for the E2E tests, coturn for the TURN relay test, redis-server for the cluster
  # tests (each test starts its own turnserver or redis-server on a free loopback port; the packages'
  # system services are not used), prometheus for promtool (checks the /metrics output).
  $for_tests && apt_needed="$apt_needed chromium fonts-liberation coturn prometheus redis-server"
  missing=""
  for p in $apt_needed; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
  done
  if [ -n "$missing" ]; then
    if [ "$(id -u)" = 0 ]; then
      say "apt-get install:$missing"
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
    else
      die "missing Debian packages:$missing — run: sudo apt-get install -y$missing"
    fi
  fi

  # --- 2. npm packages ---------------------------------------------------------------------------
  lock_hash=$(sha256sum package-lock.json | cut -c1-16)
  if [ ! -f node_modules/.setup-lock-hash ] || [ "$(cat node_modules/.setup-lock-hash)" != "$lock_hash" ]; then
    say "npm ci (first run or package-lock.json changed)"
    # mediasoup's postinstall (worker download/build) is run by step 3 instead, where a failure
    # can fall back to the offline build rather than failing the whole install.
    MEDIASOUP_WORKER_BIN=deferred-to-setup npm ci --no-audit --no-fund --loglevel=error
    echo "$lock_hash" >node_modules/.setup-lock-hash
  fi
  node=node_modules/.bin/node
  [ -x "$node" ] || die "node_modules/.bin/node is missing: the npm package 'node' did not install"
  "$node" -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 22 ? 0 : 1)' \
    || die "the project's Node is older than 22: $("$node" --version)"

  # --- 3. mediasoup worker -----------------------------------------------------------------------
  record=node_modules/.mediasoup-worker-bin
  mediasoup_version=$("$node" -p 'JSON.parse(require("fs").readFileSync("node_modules/mediasoup/package.json", "utf8")).version')
  own="node_modules/mediasoup/worker/out/Release/mediasoup-worker"
  source="${MEDIASOUP_WORKER_SOURCE:-auto}"
  worker_bin=""
  if [ -n "${MEDIASOUP_WORKER_BIN:-}" ]; then
    [ -x "$MEDIASOUP_WORKER_BIN" ] || die "MEDIASOUP_WORKER_BIN=$MEDIASOUP_WORKER_BIN is not an executable file"
    worker_bin="$MEDIASOUP_WORKER_BIN"
  elif [ -x "$own" ] && [ "$source" != build ]; then
    worker_bin="$PWD/$own" # mediasoup's own install got its worker earlier
  else
    # Built by this project before, for this version? (prints the path; builds nothing)
    worker_bin=$(bash scripts/worker/build-worker.sh --cached-only "$mediasoup_version" 2>/dev/null || true)
    if [ -z "$worker_bin" ] && [ "$source" != build ]; then
      say "trying mediasoup's own worker install (prebuilt download; fails fast without internet)"
      (cd node_modules/mediasoup && env -u MEDIASOUP_WORKER_BIN PIP_RETRIES=0 PIP_DEFAULT_TIMEOUT=10 timeout 600 "$OLDPWD/$node" npm-scripts.mjs postinstall) \
        >/tmp/confsfu-mediasoup-postinstall.log 2>&1 || say "mediasoup's own install could not get a worker here"
      [ -x "$own" ] && worker_bin="$PWD/$own"
    fi
    if [ -z "$worker_bin" ]; then
      [ "$source" = mediasoup ] && die "MEDIASOUP_WORKER_SOURCE=mediasoup but mediasoup's install got no worker (/tmp/confsfu-mediasoup-postinstall.log)"
      say "building the mediasoup worker offline (once per machine and version; ~8 minutes on 2 cores)"
      worker_bin=$(bash scripts/worker/build-worker.sh "$mediasoup_version")
    fi
  fi
  echo "$worker_bin" >"$record"
  say "mediasoup $mediasoup_version worker: $worker_bin"

  # --- 4. demo page ------------------------------------------------------------------------------
  if [ -f scripts/build-demo.ts ]; then
    "$node" --import tsx scripts/build-demo.ts >/dev/null || die "building the demo page failed (npm run build:demo)"
  fi
  say "ready"
}
main "$@"
