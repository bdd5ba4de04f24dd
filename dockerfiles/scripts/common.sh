# Shared helpers for the build scripts. Sourced, not executed.
# Every build script runs in a fresh Docker layer with:
#   LRB_SOURCE   path of the verified source tarball inside the build context copy
#   LRB_PREFIX   install prefix (Lambda extracts layers at /opt)
#   LRB_VERSION  the recipe version being built
# and receives the recipe's configure flags as its arguments.
set -eu

lrb_log() { printf '[lrb] %s\n' "$*"; }

# Unpack "$LRB_SOURCE" into a new directory and cd into its single top-level dir.
lrb_unpack() {
  : "${LRB_SOURCE:?LRB_SOURCE is not set}"
  work=$(mktemp -d /tmp/lrb-build.XXXXXX)
  lrb_log "unpacking $(basename "$LRB_SOURCE")"
  tar -xf "$LRB_SOURCE" -C "$work"
  set -- "$work"/*
  if [ "$#" -ne 1 ] || [ ! -d "$1" ]; then
    echo "[lrb] expected one top-level directory in $(basename "$LRB_SOURCE")" >&2
    exit 1
  fi
  cd "$1"
  LRB_WORKDIR=$work
}

# Number of parallel compile jobs: every core the engine gives us.
lrb_jobs() { nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2; }

lrb_cleanup() { cd /; rm -rf "${LRB_WORKDIR:-/nonexistent}"; }
