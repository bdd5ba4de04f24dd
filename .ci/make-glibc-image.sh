#!/usr/bin/env bash
# Make the runtime image that proves a portable layer (platform al2023-portable): nothing but the
# files of Debian's libc6 package (glibc 2.31 for bullseye) plus Debian's busybox-static as
# /bin/sh, and the empty directories Lambda provides (/tmp, /var/task, /opt). No registry is
# needed: both packages come from Debian's archive, fetched inside debian:$SUITE with apt (which
# checks them against the archive's signed indexes). Safe to run again: an existing image is kept.
#
#   make-glibc-image.sh [SUITE [ARCH]]   (or the variables below)
#   LRB_GLIBC_SUITE  Debian suite whose glibc the image holds (default bullseye)
#   LRB_GLIBC_ARCH   x86_64 (default) or arm64
set -euo pipefail
log() { printf '[glibc-image] %s\n' "$*"; }
suite=${1:-${LRB_GLIBC_SUITE:-bullseye}}
arch=${2:-${LRB_GLIBC_ARCH:-x86_64}}
case "$arch" in
  x86_64) deb_arch=amd64 ;;
  arm64) deb_arch=arm64 ;;
  *) echo "make-glibc-image: unknown LRB_GLIBC_ARCH '$arch': use x86_64 or arm64" >&2; exit 2 ;;
esac
tag="lambda-runtime-builder/glibc-only:$suite-$arch"

if docker image inspect "$tag" >/dev/null 2>&1; then
  log "image $tag present"
  exit 0
fi
if ! docker image inspect "debian:$suite" >/dev/null 2>&1; then
  echo "make-glibc-image: debian:$suite is missing: create it first (LRB_BASE_SUITES=\"bookworm $suite\" bash .ci/setup-machine.sh)" >&2
  exit 1
fi

log "creating $tag from debian:$suite's libc6 and busybox-static ($deb_arch)"
tmp=$(mktemp -d /tmp/glibc-image.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# The container prints the root file system as a tar on stdout and the package versions on stderr.
docker run --rm -e DEB_ARCH="$deb_arch" "debian:$suite" sh -euc '
  exec 3>&1 1>&2
  [ "$DEB_ARCH" = "$(dpkg --print-architecture)" ] || dpkg --add-architecture "$DEB_ARCH"
  apt-get update -qq >/dev/null
  mkdir -p /dl /rootfs && cd /dl
  apt-get download -qq "libc6:$DEB_ARCH" "busybox-static:$DEB_ARCH" >/dev/null
  for deb in /dl/*.deb; do
    echo "package $(dpkg-deb -f "$deb" Package) $(dpkg-deb -f "$deb" Version) $(dpkg-deb -f "$deb" Architecture)"
    dpkg-deb -x "$deb" /rootfs
  done
  cd /rootfs
  [ -x bin/busybox ] || { echo "busybox-static did not install bin/busybox" >&2; exit 1; }
  ln -s busybox bin/sh
  mkdir -p tmp var/task opt
  chmod 1777 tmp
  tar --numeric-owner --owner=0 --group=0 --sort=name -c . >&3
' >"$tmp/rootfs.tar" 2>"$tmp/log" || { cat "$tmp/log" >&2; exit 1; }
versions=$(sed -n 's/^package //p' "$tmp/log" | paste -sd ';' -)
[ -n "$versions" ] || { cat "$tmp/log" >&2; exit 1; }
docker import \
  --change "LABEL io.lambda-runtime-builder.glibc-only=\"$versions\"" \
  --change "LABEL io.lambda-runtime-builder.arch=$arch" \
  --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
  --change 'WORKDIR /var/task' \
  "$tmp/rootfs.tar" "$tag" >/dev/null
log "image $tag created ($versions)"
