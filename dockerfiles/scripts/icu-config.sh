#!/bin/sh
# icu-config answered from ICU's pkg-config files (icu-uc, icu-i18n, icu-io), for a build that still
# asks for icu-config where the platform's ICU ships none (Debian's libicu-dev has none since ICU 63;
# rule icu-config-for-php-7.3-where-icu-ships-none in recipes/php.json says who asks and why).
#
#   sh icu-config.sh --install DEST   copy this script to DEST (executable), then check that it answers
#   icu-config OPTION...               print what ICU's own icu-config prints for each option, in order
#
# Options: --prefix --exec-prefix --version --cppflags --cppflags-searchpath --cflags --cxxflags
# --ldflags --ldflags-searchpath --ldflags-libsonly --ldflags-icuio --exists. Any other option is an
# error, so a build that needs more fails at its configure step instead of getting a wrong answer.
set -eu

me="icu-config (from pkg-config)"
# In a cross build the target's pkg-config (common.sh's LRB_HOST) reads the target's .pc files.
pc=${PKG_CONFIG:-}
if [ -z "$pc" ]; then
  pc=pkg-config
  if [ -n "${LRB_HOST:-}" ] && command -v "$LRB_HOST-pkg-config" >/dev/null 2>&1; then pc="$LRB_HOST-pkg-config"; fi
fi

if [ "${1:-}" = "--install" ]; then
  dest=${2:?"$me: --install needs a destination path"}
  cp "$0" "$dest.tmp"
  chmod 0755 "$dest.tmp"
  if ! version=$("$dest.tmp" --version) || ! prefix=$("$dest.tmp" --prefix); then
    rm -f "$dest.tmp"
    exit 1
  fi
  mv "$dest.tmp" "$dest"
  printf '[lrb] %s: ICU %s, prefix %s\n' "$dest" "$version" "$prefix"
  exit 0
fi

if [ "$#" -eq 0 ]; then
  echo "$me: usage: icu-config --prefix | --version | --cppflags-searchpath | --ldflags [--ldflags-icuio] | --cxxflags | ..." >&2
  exit 1
fi
if ! "$pc" --exists icu-uc icu-i18n icu-io; then
  echo "$me: $pc finds no icu-uc, icu-i18n and icu-io (.pc files of ICU's development package)" >&2
  exit 1
fi

var() { "$pc" --variable="$1" icu-uc; }
out=""
for opt in "$@"; do
  case "$opt" in
    --prefix) word=$(var prefix) ;;
    --exec-prefix) word=$(var exec_prefix) ;;
    --version) word=$("$pc" --modversion icu-uc) ;;
    --cppflags) word="-I$(var includedir) $(var DEFS)" ;;
    --cppflags-searchpath) word="-I$(var includedir)" ;;
    --cflags) word=$(var CFLAGS) ;;
    --cxxflags) word=$(var CXXFLAGS) ;;
    --ldflags) word="$("$pc" --libs-only-L icu-i18n) $("$pc" --libs-only-l icu-i18n)" ;;
    --ldflags-searchpath) word="-L$(var libdir)" ;;
    --ldflags-libsonly) word=$("$pc" --libs-only-l icu-i18n) ;;
    --ldflags-icuio) word="-licuio" ;;
    --exists) word="" ;;
    *)
      echo "$me: option $opt is not answered here (only what ICU's pkg-config files say)" >&2
      exit 1
      ;;
  esac
  out="$out${out:+ }$word"
done
# icu-config prints its words on one line (and nothing for --exists alone).
# shellcheck disable=SC2086 # unquoted on purpose: collapses the empty words' spaces
set -f -- $out
[ "$#" -eq 0 ] || printf '%s\n' "$*"
