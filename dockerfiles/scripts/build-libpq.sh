#!/bin/sh
# Build libpq, PostgreSQL's client library, from PostgreSQL's source into $LRB_PREFIX: configure
# the whole tree (its Makefiles need it), then build and install only libpq (with the parts of
# src/port and src/common it links) and the headers a client compiles against. The server, its
# tools and pg_config are not built.
# Arguments: ./configure flags from the recipe.
# shellcheck source=common.sh
. "$(dirname "$0")/common.sh"
lrb_unpack
export PKG_CONFIG_PATH="$LRB_PREFIX/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
export LDFLAGS="-L$LRB_PREFIX/lib -Wl,-rpath-link,$LRB_PREFIX/lib ${LDFLAGS:-}"
CPPFLAGS="-I$LRB_PREFIX/include $(lrb_prefix_map_cppflags) ${CPPFLAGS:-}"
export CPPFLAGS
if [ -n "${LRB_HOST:-}" ]; then set -- --host="$LRB_HOST" "$@"; fi
lrb_log "configuring $(basename "$PWD"): $*"
./configure --prefix="$LRB_PREFIX" "$@"
make -j"$(lrb_jobs)" -C src/interfaces/libpq
make -C src/interfaces/libpq install
# postgres_ext.h and pg_config_ext.h, which libpq-fe.h includes.
make -C src/include install
lrb_cleanup
