#!/bin/sh
# Install under $LRB_PREFIX/lib a copy of the platform's ICU data library without the data items
# whose names match the arguments (icupkg item names as shell globs, e.g. '*.cnv'). The layer ships
# that copy instead of the platform's: LD_LIBRARY_PATH puts $LRB_PREFIX/lib first, so libicuuc
# (bundled from the platform) loads it by its soname.
# Needs ICU's icupkg and genccode, pkg-config (icu-uc.pc), cc and readelf.
set -eu
: "${LRB_PREFIX:?}"
say() { printf '[lrb] trim-icu-data: %s\n' "$*"; }
die() { printf 'trim-icu-data: %s\n' "$*" >&2; exit 1; }
[ "$#" -gt 0 ] || die "name at least one data item pattern, e.g. '*.cnv'"
for tool in icupkg genccode pkg-config cc readelf; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed (the rule's packages must bring it)"
done

major=$(pkg-config --modversion icu-uc | cut -d. -f1)
lib="$(pkg-config --variable=libdir icu-uc)/libicudata.so.$major"
entry="icudt$major"
# icupkg takes the package name from the file name: icudt<major>l on little-endian machines
# (x86_64 and arm64 both are), the prefix of every item name inside.
package="${entry}l"
[ -f "$lib" ] || die "$lib not found (ICU $major according to pkg-config)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The common data is one exported object, ${entry}_dat: its value and size from the symbol
# table, and its file offset from the section that holds it.
sym=$(readelf -s -W "$lib" | awk -v s="${entry}_dat" '$8 == s && $7 != "UND" { print $2, $3, $7; exit }')
[ -n "$sym" ] || die "$lib exports no ${entry}_dat symbol"
read -r addr size ndx <<EOF
$sym
EOF
sec=$(readelf -S -W "$lib" | sed -n 's/^ *\[ *\([0-9]*\)\] */\1 /p' | awk -v n="$ndx" '$1 == n { print $4, $5; exit }')
[ -n "$sec" ] || die "$lib: section $ndx of ${entry}_dat not found"
read -r secaddr secoff <<EOF
$sec
EOF
offset=$((0x$addr - 0x$secaddr + 0x$secoff))
bytes=$((size))
dd if="$lib" of="$work/$package.dat" bs=65536 iflag=skip_bytes,count_bytes skip="$offset" count="$bytes" status=none

icupkg -l "$work/$package.dat" >"$work/items"
while IFS= read -r item; do
  for pattern in "$@"; do
    # shellcheck disable=SC2254 # the pattern is meant to glob
    case "$item" in $pattern) printf '%s\n' "$item"; break ;; esac
  done
done <"$work/items" >"$work/remove.txt"
[ -s "$work/remove.txt" ] || die "no item of $lib matches: $*"
mkdir -p "$work/out"
icupkg -r "$work/remove.txt" "$work/$package.dat" "$work/out/$package.dat"

# Back into a shared library with the same soname and entry point.
genccode -a gcc -e "$entry" -f data -d "$work" "$work/out/$package.dat"
cc -c -o "$work/data.o" "$work/data.S"
mkdir -p "$LRB_PREFIX/lib"
cc -shared -nostdlib -Wl,-soname,"libicudata.so.$major" -Wl,-z,noexecstack \
  -o "$LRB_PREFIX/lib/libicudata.so.$major" "$work/data.o"
say "$lib: removed $(wc -l <"$work/remove.txt") of $(wc -l <"$work/items") items ($*):" \
  "$(wc -c <"$lib") -> $(wc -c <"$LRB_PREFIX/lib/libicudata.so.$major") bytes at $LRB_PREFIX/lib/libicudata.so.$major"
