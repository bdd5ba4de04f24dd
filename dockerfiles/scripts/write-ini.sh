#!/bin/sh
# Write one ini file of the layer: $LRB_PREFIX/<file>, one line per further argument, e.g.
#   write-ini.sh etc/php/conf.d/10-opcache.ini zend_extension=opcache
# Used for OPcache (rule opcache-shared-before-php-8.5) and for every extension built into the layer
# (the Dockerfile's ext-* stages), so that the interpreter's scan dir loads them.
set -eu
: "${LRB_PREFIX:?LRB_PREFIX is not set}"
if [ "$#" -lt 2 ]; then
  echo "usage: write-ini.sh FILE LINE..." >&2
  exit 2
fi
file="$LRB_PREFIX/$1"
shift
mkdir -p "$(dirname "$file")"
printf '%s\n' "$@" > "$file"
printf '[lrb] wrote %s: %s\n' "$file" "$*"
