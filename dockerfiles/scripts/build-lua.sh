#!/bin/sh
# Build Lua (plain Makefile, no configure) into $LRB_PREFIX.
# Arguments: the make target (linux, linux-readline, posix, ...).
. "$(dirname "$0")/common.sh"
lrb_unpack
target=${1:-linux}
lrb_log "building Lua $LRB_VERSION (make $target)"
make -j"$(lrb_jobs)" "$target"
make install INSTALL_TOP="$LRB_PREFIX"
lrb_cleanup
