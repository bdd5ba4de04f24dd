#!/bin/sh
# Build a PHP extension (a PECL release, or one bundled in PHP's source) against the PHP installed in $LRB_PREFIX, with that PHP's
# own phpize and php-config: the same API version and thread safety (NTS) as the layer's PHP. It is
# installed in that PHP's extension directory; write-ini.sh enables it afterwards.
# Arguments: ./configure flags from the extension's recipe.
# shellcheck source=common.sh
. "$(dirname "$0")/common.sh"
: "${LRB_SOURCE:?LRB_SOURCE is not set}"
: "${LRB_PREFIX:?LRB_PREFIX is not set}"
phpize="$LRB_PREFIX/bin/phpize"
php_config="$LRB_PREFIX/bin/php-config"
if [ ! -x "$phpize" ] || [ ! -x "$php_config" ]; then
  echo "[lrb] $phpize or $php_config is missing: an extension builds only in a stage after the interpreter's" >&2
  exit 1
fi

# A PECL tarball holds package.xml beside the source directory (lrb_unpack wants one top-level
# directory): unpack into the same build directory as every source, then enter the directory
# that has config.m4. An extension bundled with PHP (LRB_EXT_DIR=ext/pgsql) is built from the
# interpreter's own tarball, in that directory of its top-level one.
work=$LRB_BUILD_ROOT
rm -rf "$work"
mkdir -p "$work"
lrb_log "unpacking $(basename "$LRB_SOURCE")"
tar -xf "$LRB_SOURCE" -C "$work"
if [ -n "${LRB_EXT_DIR:-}" ]; then
  src=$(find "$work" -mindepth 1 -maxdepth 1 -type d)/$LRB_EXT_DIR
  if [ ! -f "$src/config.m4" ]; then
    echo "[lrb] $(basename "$LRB_SOURCE") has no $LRB_EXT_DIR/config.m4 (extension.bundled.dir of the recipe)" >&2
    exit 1
  fi
else
  src=$(find "$work" -mindepth 2 -maxdepth 2 -name config.m4 | sed 's,/config.m4$,,')
fi
if [ -z "$src" ] || [ "$(printf '%s\n' "$src" | wc -l)" -ne 1 ]; then
  echo "[lrb] expected one directory with config.m4 in $(basename "$LRB_SOURCE"), found: ${src:-none}" >&2
  exit 1
fi
cd "$src"
LRB_WORKDIR=$work
# Reproducible: the source's own date (see lrb_unpack) and no build paths in __FILE__.
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(stat -c %Y "$src")}
CPPFLAGS="$(lrb_prefix_map_cppflags) ${CPPFLAGS:-}"
export SOURCE_DATE_EPOCH CPPFLAGS

lrb_log "phpize $(basename "$src") for PHP $("$php_config" --version), extension dir $("$php_config" --extension-dir)"
"$phpize"
lrb_no_debug_info
if [ -n "${LRB_HOST:-}" ]; then set -- --host="$LRB_HOST" "$@"; fi
lrb_log "configuring $(basename "$src"): $*"
./configure --with-php-config="$php_config" "$@"
make -j"$(lrb_jobs)"
make install
lrb_cleanup
