#!/usr/bin/env bash
# Services the publish and image tests run against (no mocks), made from Debian's archive only.
# Safe to run again: each part is skipped when it is already there.
#  - lrb-test/moto:trixie  a Docker image with moto's server (Debian trixie's python3-moto; the
#                          host stays on bookworm: trixie is only ever inside the image)
#  - docker-registry       Debian's registry (distribution) binary on the host; the image test
#                          starts it on 127.0.0.1 with its own config and storage, and stops it
#  - htpasswd              Debian's apache2-utils, for the bcrypt htpasswd file (`htpasswd -B`) of
#                          the registry the push tests protect with credentials
set -euo pipefail
log() { printf '[setup-services] %s\n' "$*"; }
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
MOTO_IMAGE="${LRB_MOTO_IMAGE:-lrb-test/moto:trixie}"
MIRROR="${LRB_DEBIAN_MIRROR:-http://deb.debian.org/debian}"

if ! command -v docker-registry >/dev/null 2>&1 && [[ ! -x /usr/bin/docker-registry ]]; then
  log "installing docker-registry (Debian bookworm)"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends docker-registry >/dev/null
  # The package starts a registry on :5000 as a system service; the tests start their own.
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet docker-registry 2>/dev/null; then
    $SUDO systemctl stop docker-registry || true
    $SUDO systemctl disable docker-registry >/dev/null 2>&1 || true
  fi
fi
log "docker-registry: $(command -v docker-registry || echo /usr/bin/docker-registry)"

if ! command -v htpasswd >/dev/null 2>&1; then
  log "installing apache2-utils (htpasswd)"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends apache2-utils >/dev/null
fi
log "htpasswd: $(command -v htpasswd)"

for _ in $(seq 1 60); do
  docker info >/dev/null 2>&1 && break
  sleep 1
done
docker info >/dev/null 2>&1 || { log "no Docker engine answers: run .ci/setup-machine.sh first"; exit 1; }

if docker image inspect "$MOTO_IMAGE" >/dev/null 2>&1; then
  log "image $MOTO_IMAGE present"
  exit 0
fi
command -v debootstrap >/dev/null 2>&1 || {
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
}
log "creating $MOTO_IMAGE: debootstrap trixie + python3-moto (a few minutes)"
dir=$(mktemp -d /tmp/rootfs-moto.XXXXXX)
logfile=/tmp/setup-services-moto.log
cleanup() {
  for m in proc sys dev; do $SUDO umount "$dir/$m" 2>/dev/null || true; done
  $SUDO rm -rf "$dir"
}
trap cleanup EXIT
$SUDO debootstrap --variant=minbase trixie "$dir" "$MIRROR" >"$logfile" 2>&1 || { tail -20 "$logfile"; exit 1; }
$SUDO mount -t proc proc "$dir/proc"
# moto's server is a Flask app: python3-moto ships moto.server; flask, flask-cors and werkzeug
# are what it imports to serve; python3-openssl/cryptography for the few services that sign.
$SUDO chroot "$dir" /usr/bin/env DEBIAN_FRONTEND=noninteractive sh -c \
  'apt-get update -qq && apt-get install -y -qq --no-install-recommends python3-moto python3-flask python3-flask-cors python3-werkzeug python3-yaml ca-certificates && apt-get clean && rm -rf /var/lib/apt/lists/*' \
  >>"$logfile" 2>&1 || { tail -30 "$logfile"; exit 1; }
# The server's entry point must be there, or the image is useless.
$SUDO chroot "$dir" python3 -c 'import moto.server, flask, flask_cors' >>"$logfile" 2>&1 \
  || { log "python3-moto in trixie does not provide a usable moto.server"; tail -20 "$logfile"; exit 1; }
$SUDO umount "$dir/proc"
$SUDO tar -C "$dir" -c . | docker import \
  --change 'ENTRYPOINT ["python3", "-m", "moto.server"]' \
  --change 'LABEL io.lambda-runtime-builder.test-service=moto' - "$MOTO_IMAGE" >/dev/null
log "image $MOTO_IMAGE created ($(docker run --rm --entrypoint python3 "$MOTO_IMAGE" -c 'import moto; print("moto", moto.__version__)'))"
