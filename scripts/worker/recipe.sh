# The build recipe: everything that shapes the mediasoup-worker binary. Sourced by
# build-worker.sh; this file and shims/ are hashed into the cache key, so changing either
# rebuilds the worker, while changes to build-worker.sh's orchestration or output do not.

# Debian packages the build needs.
RECIPE_APT_PACKAGES="meson ninja-build pkg-config g++ python3 libssl-dev libuv1-dev libsrtp2-dev
libabsl-dev libflatbuffers-dev flatbuffers-compiler"

# Release build without io_uring (Debian 12's liburing 2.3 is too old for mediasoup's code).
RECIPE_MESON_ARGS="--wrap-mode=nodownload --buildtype release -Db_ndebug=true"

# recipe_prepare_sources WORKER_DIR SHIMS_DIR: make mediasoup's worker sources build offline.
recipe_prepare_sources() {
  local w="$1" shims="$2" sub
  # Debian 12 has meson 1.0.1.
  sed -i -E "s/meson_version *: *'>= *1\.[0-9]+\.[0-9]+'/meson_version: '>= 1.0.0'/" "$w/meson.build"
  # Nothing may be downloaded: every subproject becomes a stand-in over a Debian library.
  rm -f "$w"/subprojects/*.wrap
  for sub in $(tr '\n' ' ' <"$w/meson.build" | grep -oE "subproject\(\s*'[^']+'" | sed -E "s/.*'(.*)'/\1/"); do
    [ "$sub" = wingetopt ] && continue # Windows only
    [ -d "$shims/$sub" ] || { echo "mediasoup asks for subproject '$sub' and shims/ has no stand-in for it" >&2; return 1; }
    cp -r "$shims/$sub" "$w/subprojects/$sub"
  done
  grep -q "srtp_policy_create" "$w/src/RTC/SrtpSession.cpp" \
    || { echo "this mediasoup does not use the libsrtp 3.0 API that shims/libsrtp3/include/srtp.h maps" >&2; return 1; }
  grep -q "ms_disable_liburing" "$w/meson_options.txt" && RECIPE_MESON_ARGS="$RECIPE_MESON_ARGS -Dms_disable_liburing=true"
  # Upstream bug: onSslBioOut() tests `operationType == BIO_CB_RETURN`, but post-operation codes
  # are BIO_CB_RETURN|op, so it answers 1 to every BIO_ctrl, kTLS queries included; Debian's
  # kTLS-enabled libssl3 then skips allocating its write buffer and the worker crashes (SIGSEGV)
  # on the first DTLS handshake with a browser.
  if grep -q '(operationType == BIO_CB_RETURN)' "$w/src/RTC/DtlsTransport.cpp"; then
    sed -i 's/(operationType == BIO_CB_RETURN)/((operationType \& BIO_CB_RETURN) != 0)/' "$w/src/RTC/DtlsTransport.cpp"
    echo "[build-worker]       patched DtlsTransport.cpp onSslBioOut() (BIO_CB_RETURN is a bit flag)" >&2
  fi
}
