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

# No registry is reachable here: make each Debian base image from Debian's archive.
for suite in ${LRB_BASE_SUITES:-bookworm bullseye}; do
  if docker image inspect "debian:$suite" >/dev/null 2>&1; then
    log "image debian:$suite present"
    continue
  fi
  log "creating debian:$suite with debootstrap"
  dir=$(mktemp -d "/tmp/rootfs-$suite.XXXXXX")
  $SUDO debootstrap --variant=minbase "$suite" "$dir" http://deb.debian.org/debian >/tmp/debootstrap-$suite.log 2>&1 \
    || { tail -20 /tmp/debootstrap-$suite.log; exit 1; }
  $SUDO tar -C "$dir" -c . | docker import - "debian:$suite" >/dev/null
  $SUDO rm -rf "$dir"
  log "image debian:$suite created"
done

# Images and services the tests use beyond the base images (each script is idempotent).
for extra in .ci/make-glibc-image.sh .ci/setup-services.sh; do
  script="$(dirname "$0")/$(basename "$extra")"
  if [[ -f "$script" ]]; then bash "$script"; fi
done
