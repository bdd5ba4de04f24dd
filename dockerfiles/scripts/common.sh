# shellcheck shell=sh
# Shared helpers for the build scripts. Sourced, not executed.
# Every build script runs in a fresh Docker layer with:
#   LRB_SOURCE   path of the verified source tarball inside the build context copy
#   LRB_PREFIX   install prefix (Lambda extracts layers at /opt)
#   LRB_VERSION  the recipe version being built
# and receives the recipe's configure flags as its arguments.
set -eu

lrb_log() { printf '[lrb] %s\n' "$*"; }

# Cross builds: the toolchain stage sets LRB_HOST to the target's GNU triplet (aarch64-linux-gnu).
# `lrb_tool gcc` names the target's tool (aarch64-linux-gnu-gcc), or the build machine's own when
# LRB_HOST is unset; `lrb_machine` is the target's machine name (uname -m of where it will run).
lrb_tool() { echo "${LRB_HOST:+$LRB_HOST-}$1"; }
lrb_machine() { if [ -n "${LRB_HOST:-}" ]; then echo "${LRB_HOST%%-*}"; else uname -m; fi; }

# Every source is compiled here (see lrb_unpack).
LRB_BUILD_ROOT=/usr/src/lrb/build

# Unpack "$LRB_SOURCE" into the build directory and cd into its single top-level dir.
# Reproducible builds (two builds without Docker's cache give byte-identical layers):
# - the directory is always the same, since compilers embed source paths (OpenSSL's error records);
# - SOURCE_DATE_EPOCH is the source's own date, for gcc's __DATE__/__TIME__ (PHP's "built:")
#   and OpenSSL's "built on";
# - PHP records a fixed system name instead of `uname -a` (which names the build container).
lrb_unpack() {
  : "${LRB_SOURCE:?LRB_SOURCE is not set}"
  work=$LRB_BUILD_ROOT
  rm -rf "$work"
  mkdir -p "$work"
  lrb_log "unpacking $(basename "$LRB_SOURCE")"
  tar -xf "$LRB_SOURCE" -C "$work"
  set -- "$work"/*
  if [ "$#" -ne 1 ] || [ ! -d "$1" ]; then
    echo "[lrb] expected one top-level directory in $(basename "$LRB_SOURCE")" >&2
    exit 1
  fi
  cd "$1"
  LRB_WORKDIR=$work
  SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(stat -c %Y "$1")}
  PHP_UNAME=${PHP_UNAME:-"Linux lambda-runtime-builder $(lrb_machine)"}
  export SOURCE_DATE_EPOCH PHP_UNAME
  lrb_log "SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH ($(date -u -d "@$SOURCE_DATE_EPOCH" 2>/dev/null || echo "$SOURCE_DATE_EPOCH"))"
}

# Preprocessor flag that keeps the build directory out of the binaries: __FILE__ (PHP's
# zend_bailout(), assertions) then names `php-7.4.33/Zend/zend.c`, not /usr/src/lrb/build/...
# gcc 8+ and clang 10+ know -fmacro-prefix-map; older compilers (gcc 4.8 on amzn-2017.03, gcc 7 on
# al2) get nothing, so only their binaries keep the path.
lrb_prefix_map_cppflags() {
  flag="-fmacro-prefix-map=$LRB_BUILD_ROOT/="
  if echo 'int lrb;' | "${CC:-cc}" "$flag" -x c -c -o /dev/null - 2>/dev/null; then echo "$flag"; fi
}

# autoconf's default CFLAGS and CXXFLAGS are "-g -O2". finalize.sh strips every binary, so debug
# information is never shipped; generating it only costs compile time (about a quarter of it:
# 36.4 s against 28.2 s for five of PHP 8.2's largest files, measured with gcc on 2 cores), and gcc
# emits the same code with or without -g. For an autoconf configure only (zlib's hand-written one
# defaults to -O3); flags a recipe sets (CFLAGS=... among its configure arguments) win.
lrb_no_debug_info() {
  CFLAGS=${CFLAGS--O2}
  CXXFLAGS=${CXXFLAGS--O2}
  export CFLAGS CXXFLAGS
}

# Number of parallel compile jobs: every core the engine gives us.
lrb_jobs() { nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2; }

lrb_cleanup() { cd /; rm -rf "${LRB_WORKDIR:-/nonexistent}"; }
