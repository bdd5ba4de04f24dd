#!/usr/bin/env bash
# Make the arm64 Debian root images that arm64 layers are smoke-tested in (and emulated builds run
# in) on a machine whose engine is x86_64: `debootstrap --arch=arm64` from Debian's archive (no
# registry), its second stage run under QEMU user mode, then `docker import`. Needs qemu-user-static
# and the aarch64 binfmt_misc entry (.ci/setup-machine.sh registers both). Safe to run again: an
# existing image is kept.
#
# Tagged lambda-runtime-builder/debian-arm64:<suite>, never debian:<suite>, so it cannot shadow the
# engine's own image. Docker 20.10's `docker import` records the engine's architecture whatever
# --platform says, so the tool names this image by its tag (dockerfiles/platforms.json,
# `foreignArch`), never by platform.
#
# Arguments: the Debian suites to make (default: bookworm; LRB_ARM64_SUITES, if set, is the default).
set -euo pipefail
log() { printf '[arm64-images] %s\n' "$*"; }
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi

suites=("$@")
[[ ${#suites[@]} -gt 0 ]] || read -r -a suites <<<"${LRB_ARM64_SUITES:-bookworm}"
for suite in "${suites[@]}"; do
  tag="lambda-runtime-builder/debian-arm64:$suite"
  if docker image inspect "$tag" >/dev/null 2>&1; then
    log "image $tag present"
    continue
  fi
  if [[ "$(uname -m)" != aarch64 && ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]]; then
    echo "make-arm64-images: aarch64 is not registered with binfmt_misc: run bash .ci/setup-machine.sh first" >&2
    exit 1
  fi
  log "creating $tag with debootstrap --arch=arm64 (second stage under QEMU)"
  start=$(date +%s)
  dir=$(mktemp -d "/tmp/rootfs-arm64-$suite.XXXXXX")
  logfile="/tmp/debootstrap-arm64-$suite.log"
  # --foreign unpacks without running anything; the second stage then runs the arm64 maintainer
  # scripts in a chroot, through binfmt_misc's qemu-aarch64 entry (flag F: no copy of QEMU inside).
  if ! { $SUDO debootstrap --variant=minbase --arch=arm64 --foreign "$suite" "$dir" http://deb.debian.org/debian \
    && $SUDO chroot "$dir" /debootstrap/debootstrap --second-stage; } >"$logfile" 2>&1; then
    tail -20 "$logfile"
    $SUDO rm -rf "$dir"
    exit 1
  fi
  machine=$($SUDO chroot "$dir" uname -m)
  [[ "$machine" == aarch64 ]] || { echo "make-arm64-images: $dir runs as $machine, not aarch64" >&2; exit 1; }
  $SUDO tar -C "$dir" --numeric-owner -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'LABEL io.lambda-runtime-builder.arch=arm64' \
    - "$tag" >/dev/null
  $SUDO rm -rf "$dir"
  log "image $tag created in $(($(date +%s) - start)) s"
done
