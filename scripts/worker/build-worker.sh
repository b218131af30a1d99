#!/usr/bin/env bash
# Builds mediasoup-worker offline from mediasoup's npm sources against Debian 12's system
# libraries, and caches it outside the repo, keyed by mediasoup version and by a hash of this
# folder (script + stand-in subprojects), so it is built once per machine per version.
#
#   scripts/worker/build-worker.sh [--cached-only] [VERSION]
#     VERSION: default the mediasoup version in package.json
#     --cached-only: print the cached binary's path if there is one, else exit 3 without building
#
# Prints the absolute path of the binary on stdout; progress goes to stderr.
# Env: MEDIASOUP_WORKER_CACHE (default ${XDG_CACHE_HOME:-$HOME/.cache}/confsfu/mediasoup-worker)
#      JOBS (default: number of cores)   SKIP_APT=1 (never call apt-get; fail naming what is missing)
#
# What the recipe (recipe.sh + shims/) does, and why:
#  - Every meson subproject mediasoup downloads (openssl, libuv, libsrtp3, flatbuffers,
#    abseil-cpp, catch2) is replaced by a local stand-in in shims/ wrapping the Debian library;
#    the .wrap files are deleted and meson runs with --wrap-mode=nodownload.
#  - ankerl::unordered_dense is not packaged by Debian: shims/unordered-dense maps it onto std.
#  - Debian has meson 1.0.1: the meson_version requirement is lowered.
#  - One upstream bug is fixed (DtlsTransport.cpp onSslBioOut tests `== BIO_CB_RETURN`, which
#    never matches; with Debian's kTLS-enabled OpenSSL the worker then crashes on the first DTLS
#    handshake).
set -euo pipefail

# The whole script is one function, so bash has parsed all of it before running any of it
# (editing the file while it runs cannot break a build in progress).
main() {
  here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  repo=$(cd "$here/../.." && pwd)
  say() { printf '[build-worker] %s\n' "$*" >&2; }
  die() { printf '[build-worker] ERROR: %s\n' "$*" >&2; exit 1; }

  cached_only=false
  if [ "${1:-}" = "--cached-only" ]; then cached_only=true; shift; fi
  version="${1:-}"
  if [ -z "$version" ]; then
    version=$(grep -oE '"mediasoup"\s*:\s*"[~^]?[0-9][^"]*"' "$repo/package.json" | head -n1 | sed -E 's/.*"[~^]?([0-9][^"]*)"$/\1/')
    [ -n "$version" ] || die "no VERSION given and no mediasoup dependency found in $repo/package.json"
  fi
  jobs="${JOBS:-$(nproc)}"

  # shellcheck source=recipe.sh
  . "$here/recipe.sh"

  # Cache key: the version plus a hash of what shapes the binary (recipe.sh and shims/).
  key=$(cd "$here" && find recipe.sh shims -type f -print0 | LC_ALL=C sort -z \
    | xargs -0 sha256sum | sha256sum | cut -c1-12)
  cache_root="${MEDIASOUP_WORKER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/confsfu/mediasoup-worker}"
  target_dir="$cache_root/$version-$key"
  target="$target_dir/mediasoup-worker"

  if [ -x "$target" ]; then
    say "cached: $target"
    echo "$target"
    exit 0
  fi
  $cached_only && exit 3

  # --- Debian packages -------------------------------------------------------------------------
  missing=""
  for p in $RECIPE_APT_PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
  done
  if [ -n "$missing" ]; then
    if [ -n "${SKIP_APT:-}" ] || [ "$(id -u)" != 0 ]; then
      die "missing Debian packages:$missing — install them with: sudo apt-get install -y$missing"
    fi
    say "apt-get install:$missing"
    apt-get update -qq >&2 || die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >&2 \
      || die "apt-get install failed for:$missing"
  fi

  # --- Work area (removed on exit; only a finished binary is ever moved into the cache) ---------
  mkdir -p "$cache_root"
  exec 9>"$cache_root/.lock"
  say "waiting for the build lock ($cache_root/.lock)"
  flock 9
  if [ -x "$target" ]; then # another process built it while we waited
    say "cached: $target"
    echo "$target"
    exit 0
  fi
  work=$(mktemp -d "$cache_root/.build-$version-XXXXXX")
  trap 'rm -rf "$work"' EXIT
  log="$work/build.log"

  say "mediasoup $version, cache key $key, $jobs jobs"
  say "[1/5] fetching sources: npm pack mediasoup@$version"
  (cd "$work" && npm pack "mediasoup@$version" --silent >/dev/null 2>"$log") \
    || die "npm pack mediasoup@$version failed (is the npm registry reachable?): $(tail -3 "$log")"
  tar xzf "$work/mediasoup-$version.tgz" -C "$work"
  w="$work/package/worker"
  [ -f "$w/meson.build" ] || die "the tarball has no worker/meson.build"

  say "[2/5] replacing downloadable subprojects with stand-ins over Debian's libraries"
  recipe_prepare_sources "$w" "$here/shims" || die "preparing the sources failed (see above)"
  ud="$work/unordered-dense"
  mkdir -p "$ud/pkgconfig"
  cp -r "$here/shims/unordered-dense/include" "$ud/"
  printf 'Name: unordered_dense\nDescription: stand-in on std containers\nVersion: 4.8.1\nCflags: -I%s\n' \
    "$ud/include" >"$ud/pkgconfig/unordered_dense.pc"
  export PKG_CONFIG_PATH="$ud/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"

  say "[3/5] meson setup (log: kept in the cache on failure)"
  fail() { # keep the log where a person can read it, then stop
    mkdir -p "$cache_root/logs"; cp "$log" "$cache_root/logs/build-$version.log"
    grep -m1 -B2 -A12 -E 'error:|ERROR:|FAILED' "$log" >&2 || tail -30 "$log" >&2
    die "$1 (full log: $cache_root/logs/build-$version.log)"
  }
  (cd "$w" && meson setup $RECIPE_MESON_ARGS out/Release >>"$log" 2>&1) || fail "meson setup failed"

  say "[4/5] compiling (about 5-8 minutes on 2 cores)"
  start=$(date +%s)
  (cd "$w" && meson compile -C out/Release flatbuffers-generator >>"$log" 2>&1) \
    || fail "generating the FlatBuffers headers failed"
  # Show progress: ninja prints [n/total] per step; pass every 50th to the terminal.
  (cd "$w" && nice -n 10 ninja -C out/Release -j"$jobs" mediasoup-worker 2>&1 | tee -a "$log" \
    | awk -F'[][/]' '/^\[[0-9]+\/[0-9]+\]/ { if ($2 % 25 == 0 || $2 == $3) { printf "[build-worker]       %s/%s steps\n", $2, $3 > "/dev/stderr"; fflush("/dev/stderr") } }'
    exit "${PIPESTATUS[0]}") || fail "compiling mediasoup-worker failed"
  say "      compiled in $(( $(date +%s) - start )) s"

  say "[5/5] installing into the cache"
  bin="$w/out/Release/mediasoup-worker"
  [ -x "$bin" ] || fail "ninja finished but produced no binary"
  mkdir -p "$target_dir"
  install -m 755 "$bin" "$target_dir/.mediasoup-worker.partial"
  mv -f "$target_dir/.mediasoup-worker.partial" "$target" # atomic: never a half-written binary
  say "done: $target ($(stat -c %s "$target") bytes)"
  echo "$target"
}
main "$@"
