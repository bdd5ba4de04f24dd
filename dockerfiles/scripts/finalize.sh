#!/bin/sh
# Last step of every image: drop what a Lambda layer does not need and strip
# binaries. Arguments: paths under $LRB_PREFIX to delete (globs allowed).
set -eu
: "${LRB_PREFIX:?}"
cd "$LRB_PREFIX"
for pattern in "$@"; do
  # shellcheck disable=SC2086 # the pattern is meant to glob
  for path in $pattern; do
    [ -e "$path" ] || [ -L "$path" ] || continue
    rm -rf "$path"
  done
done
# Strip ELF executables and shared objects (not static archives, not scripts), with the target's
# strip in a cross build (LRB_HOST, see common.sh): the build machine's cannot read foreign files.
strip="${LRB_HOST:+$LRB_HOST-}strip"
find "$LRB_PREFIX" -type f | while read -r f; do
  case "$(head -c 4 "$f" | od -An -c | tr -d ' ')" in
    177ELF) "$strip" --strip-unneeded "$f" 2>/dev/null || true ;;
  esac
done
echo "[lrb] $LRB_PREFIX after finalize: $(du -sh "$LRB_PREFIX" | cut -f1)"
