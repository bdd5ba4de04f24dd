#!/usr/bin/env bash
# Make this machine able to build and test: Debian packages, a running Docker
# engine and the local base images the Debian platforms use. Safe to run again.
set -euo pipefail
log() { printf '[setup] %s\n' "$*"; }
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi

need_pkgs=()
command -v dockerd >/dev/null 2>&1 || need_pkgs+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || need_pkgs+=(debootstrap)
command -v php >/dev/null 2>&1 || need_pkgs+=(php-cli)
if command -v php >/dev/null 2>&1 && ! php -m 2>/dev/null | grep -qx curl; then need_pkgs+=(php-curl); fi
command -v php >/dev/null 2>&1 || need_pkgs+=(php-curl)
command -v unzip >/dev/null 2>&1 || need_pkgs+=(unzip)
command -v shellcheck >/dev/null 2>&1 || need_pkgs+=(shellcheck)
command -v patch >/dev/null 2>&1 || need_pkgs+=(patch) # test/unit/scripts/apply-patches.test.ts runs dockerfiles/scripts/apply-patches.sh
command -v pkg-config >/dev/null 2>&1 || need_pkgs+=(pkgconf) # test/unit/scripts/icu-config.test.ts runs dockerfiles/scripts/icu-config.sh
# ip (iproute2): test/integration/remote-engine.test.ts gives its second dockerd a bridge of its own.
command -v ip >/dev/null 2>&1 || need_pkgs+=(iproute2)
# A real Redis for the extensions test (test/integration/extensions.test.ts starts its own on loopback).
command -v redis-server >/dev/null 2>&1 || need_pkgs+=(redis-server)
# A real PostgreSQL server for the pgsql layer test (test/integration/pgsql-layer.test.ts runs its
# own cluster on loopback, as the package's `postgres` user when run as root).
compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || need_pkgs+=(postgresql)
# arm64 layers on an x86_64 machine: arm64 programs run through QEMU user mode (registered below).
if [[ "$(uname -m)" == x86_64 && ! -x /usr/bin/qemu-aarch64-static ]]; then need_pkgs+=(qemu-user-static); fi
if ((${#need_pkgs[@]})); then
  log "installing Debian packages: ${need_pkgs[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  log "starting dockerd"
  $SUDO mkdir -p /var/log
  $SUDO sh -c 'nohup dockerd >/var/log/dockerd.log 2>&1 &'
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  docker info >/dev/null 2>&1 || { log "dockerd did not come up; see /var/log/dockerd.log"; tail -20 /var/log/dockerd.log || true; exit 1; }
fi
log "Docker engine $(docker version --format '{{.Server.Version}}') is up"

# arm64 layers on an x86_64 machine: arm64 programs run through QEMU user mode, registered with
# binfmt_misc with flag F (the kernel opens the interpreter at registration, so containers need no
# copy of it).
if [[ "$(uname -m)" == x86_64 ]]; then
  binfmt=/proc/sys/fs/binfmt_misc
  [[ -e "$binfmt/register" ]] || $SUDO mount -t binfmt_misc binfmt_misc "$binfmt"
  if [[ -e "$binfmt/qemu-aarch64" ]] && ! grep -q '^flags: .*F' "$binfmt/qemu-aarch64"; then
    log "binfmt_misc: re-registering aarch64 with flag F"
    $SUDO sh -c "echo -1 >$binfmt/qemu-aarch64"
  fi
  # Debian's own entry (magic, mask, interpreter, flags), as systemd-binfmt would load it at boot.
  [[ -e "$binfmt/qemu-aarch64" ]] || $SUDO sh -c "cat /usr/lib/binfmt.d/qemu-aarch64.conf >$binfmt/register"
  log "binfmt_misc: aarch64 runs through $(sed -n 's/^interpreter //p' "$binfmt/qemu-aarch64") ($(sed -n 's/^flags: //p' "$binfmt/qemu-aarch64"))"
fi

# No registry is reachable here: make each Debian base image from Debian's archive, then the
# glibc-only images that prove portable layers (made from debian:bullseye).
base_images() {
  for suite in ${LRB_BASE_SUITES:-bookworm bullseye}; do
    if docker image inspect "debian:$suite" >/dev/null 2>&1; then
      log "image debian:$suite present"
      continue
    fi
    log "creating debian:$suite with debootstrap"
    local dir
    dir=$(mktemp -d "/tmp/rootfs-$suite.XXXXXX")
    $SUDO debootstrap --variant=minbase "$suite" "$dir" http://deb.debian.org/debian >"/tmp/debootstrap-$suite.log" 2>&1 \
      || { tail -20 "/tmp/debootstrap-$suite.log"; exit 1; }
    $SUDO tar -C "$dir" -c . | docker import - "debian:$suite" >/dev/null
    $SUDO rm -rf "$dir"
    log "image debian:$suite created"
  done
  bash "$here/make-glibc-image.sh"
  # The arm64 glibc-only image (only unpacks arm64 packages: no QEMU needed to make it).
  if [[ "$(uname -m)" == x86_64 ]]; then bash "$here/make-glibc-image.sh" bullseye arm64; fi
}

# The jobs below share nothing and spend their time on downloads and unpacking, mostly on one
# core each: run them at once. Every line they print starts with its script's tag.
here="$(dirname "$0")"
started=$(date +%s)
declare -A job_pids=()
base_images & job_pids[base-images]=$!
# Images and services the tests use beyond the base images (.ci/setup-services.sh).
bash "$here/setup-services.sh" & job_pids[services]=$!
# The arm64 base images that arm64 layers are smoke-tested (and emulated builds run) in.
if [[ "$(uname -m)" == x86_64 ]]; then
  bash "$here/make-arm64-images.sh" & job_pids[arm64-images]=$!
fi
failed=()
for job in "${!job_pids[@]}"; do
  wait "${job_pids[$job]}" || failed+=("$job")
done
if ((${#failed[@]})); then
  log "failed: ${failed[*]} (its lines above say why)"
  exit 1
fi
log "images and services ready in $(($(date +%s) - started)) s"
