#!/bin/sh
# Build OpenSSL into $LRB_PREFIX. Arguments: extra ./config flags from the recipe.
# shellcheck source=common.sh
. "$(dirname "$0")/common.sh"
lrb_unpack
if [ -n "${LRB_HOST:-}" ]; then
  # Cross build: ./config would detect the build machine; name the target and the tools' prefix.
  case "$LRB_HOST" in
    aarch64-*) target=linux-aarch64 ;;
    x86_64-*) target=linux-x86_64 ;;
    *) echo "[lrb] no OpenSSL target known for $LRB_HOST" >&2; exit 1 ;;
  esac
  lrb_log "configuring OpenSSL $LRB_VERSION for $target ($LRB_HOST): $*"
  ./Configure "$target" --cross-compile-prefix="$LRB_HOST-" --prefix="$LRB_PREFIX" --openssldir="$LRB_PREFIX/ssl" "$@"
else
  lrb_log "configuring OpenSSL $LRB_VERSION: $*"
  ./config --prefix="$LRB_PREFIX" --openssldir="$LRB_PREFIX/ssl" "$@"
fi
case "$LRB_VERSION" in
  1.0.*)
    # 1.0.x's dependency generation and build are not safe in parallel.
    make depend
    make
    ;;
  *)
    make -j"$(lrb_jobs)"
    ;;
esac
# Parallel `make install` is flaky for OpenSSL: install serially, software and
# the OPENSSLDIR (openssl.cnf, certs/) only, no man pages.
make install_sw
if [ "${LRB_VERSION#1.0.}" = "$LRB_VERSION" ]; then make install_ssldirs; fi
mkdir -p "$LRB_PREFIX/ssl"
[ -f "$LRB_PREFIX/ssl/openssl.cnf" ] || cp apps/openssl.cnf "$LRB_PREFIX/ssl/openssl.cnf"
# Ship a CA bundle where this OpenSSL looks by default (OPENSSLDIR/cert.pem).
for bundle in /etc/ssl/certs/ca-certificates.crt /etc/pki/tls/certs/ca-bundle.crt; do
  if [ -f "$bundle" ]; then cp "$bundle" "$LRB_PREFIX/ssl/cert.pem"; break; fi
done
[ -f "$LRB_PREFIX/ssl/cert.pem" ] || { echo "[lrb] no CA bundle found in the build image" >&2; exit 1; }
lrb_cleanup
