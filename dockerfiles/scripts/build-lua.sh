#!/bin/sh
# Build Lua (plain Makefile, no configure) into $LRB_PREFIX.
# Arguments: the make target (linux, linux-readline, posix, ...).
# shellcheck source=common.sh
. "$(dirname "$0")/common.sh"
lrb_unpack
target=${1:-linux}
if [ -n "${LRB_HOST:-}" ]; then
  # Lua's Makefile has no configure step: name the cross tools (its own defaults are gcc -std=gnu99,
  # ar rcu, ranlib).
  lrb_log "building Lua $LRB_VERSION (make $target) for $LRB_HOST"
  make -j"$(lrb_jobs)" "$target" CC="$(lrb_tool gcc) -std=gnu99" AR="$(lrb_tool ar) rcu" RANLIB="$(lrb_tool ranlib)"
else
  lrb_log "building Lua $LRB_VERSION (make $target)"
  make -j"$(lrb_jobs)" "$target"
fi
make install INSTALL_TOP="$LRB_PREFIX"
lrb_cleanup
