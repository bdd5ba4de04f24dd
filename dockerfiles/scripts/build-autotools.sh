#!/bin/sh
# Build an autotools project (curl, PHP, ...) or one with the same ./configure --prefix interface
# (zlib) into $LRB_PREFIX.
# Arguments: ./configure flags from the recipe.
. "$(dirname "$0")/common.sh"
lrb_unpack
export PKG_CONFIG_PATH="$LRB_PREFIX/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
export LDFLAGS="-L$LRB_PREFIX/lib -Wl,-rpath-link,$LRB_PREFIX/lib ${LDFLAGS:-}"
export CPPFLAGS="-I$LRB_PREFIX/include $(lrb_prefix_map_cppflags) ${CPPFLAGS:-}"
lrb_log "configuring $(basename "$PWD"): $*"
./configure --prefix="$LRB_PREFIX" "$@"
make -j"$(lrb_jobs)"
make install
lrb_cleanup
