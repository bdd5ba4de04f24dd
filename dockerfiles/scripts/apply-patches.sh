#!/bin/sh
# Apply a recipe version's patches to its source, in a step of their own before the build script:
# unpacks $LRB_SOURCE, applies $LRB_PATCHES (from $LRB_PATCHES_DIR in the archive $LRB_PATCHES_FROM)
# in order, each with `patch -p1` and no fuzz, and writes the patched tree as the tar $LRB_PATCHED,
# which the build step then takes as its LRB_SOURCE. A patch that does not apply exactly (or was
# applied already) fails the build, naming it. Patched files, and the tree's top directory, keep
# the source's date (SOURCE_DATE_EPOCH), so the build that follows is the same as from an
# unpatched source apart from the patches (make sees nothing to regenerate).
# Kept out of common.sh on purpose: every stage copies common.sh, so changing it rebuilds them all.
# shellcheck source=common.sh
. "$(dirname "$0")/common.sh"
: "${LRB_PATCHES:?LRB_PATCHES is not set}"
: "${LRB_PATCHES_FROM:?LRB_PATCHES_FROM is not set}"
: "${LRB_PATCHES_DIR:?LRB_PATCHES_DIR is not set}"
: "${LRB_PATCHED:?LRB_PATCHED is not set}"
# Unpacked and patched here, not in the build directory (LRB_PATCH_ROOT: another place, e.g. a test's).
LRB_BUILD_ROOT=${LRB_PATCH_ROOT:-/usr/src/lrb/patching}
lrb_unpack
tree=$PWD
patches=$LRB_WORKDIR.patches
rm -rf "$patches"
mkdir -p "$patches"
tar -xf "$LRB_PATCHES_FROM" -C "$patches"
count=0
for p in $LRB_PATCHES; do
  file=$patches/$LRB_PATCHES_DIR/$p
  if [ ! -f "$file" ]; then
    echo "[lrb] patch $p is not in $LRB_PATCHES_DIR of $(basename "$LRB_PATCHES_FROM")" >&2
    exit 1
  fi
  if ! patch -p1 --forward --batch --fuzz=0 --no-backup-if-mismatch --quiet < "$file"; then
    echo "[lrb] patch $p (from $(basename "$LRB_PATCHES_FROM")) does not apply to $(basename "$LRB_SOURCE")" >&2
    exit 1
  fi
  # Only the files this patch names (+++ lines), relative to the tree (-p1).
  sed -n 's/^+++ [^/]*\/\([^[:space:]]*\).*/\1/p' "$file" | while IFS= read -r changed; do
    if [ -e "$changed" ]; then touch -d "@$SOURCE_DATE_EPOCH" "$changed"; fi
  done
  count=$((count + 1))
done
rm -rf "$patches"
touch -d "@$SOURCE_DATE_EPOCH" "$tree"
cd "$LRB_WORKDIR"
tar -cf "$LRB_PATCHED" "$(basename "$tree")"
lrb_log "applied $count patches from $(basename "$LRB_PATCHES_FROM") to $(basename "$LRB_SOURCE"): $(basename "$LRB_PATCHED")"
lrb_cleanup
