#!/bin/sh
# Prints "path<TAB>package<TAB>version" for each argument: the platform package (dpkg or rpm)
# that owns the file, merged-/usr aware. Unknown owners print "-". Run by the bundle-libraries
# step inside the build image, for the manifest's library provenance.
for f in "$@"; do
  real=$(readlink -f "$f")
  owner=""
  ver=""
  if command -v dpkg-query >/dev/null 2>&1; then
    for p in "$f" "$real" "/usr$f" "/usr$real" "${f#/usr}" "${real#/usr}"; do
      owner=$(dpkg-query -S "$p" 2>/dev/null | head -n 1 | cut -d: -f1) && [ -n "$owner" ] && break
    done
    [ -n "$owner" ] && ver=$(dpkg-query -W -f='${Version}' "$owner" 2>/dev/null | head -n 1)
  elif command -v rpm >/dev/null 2>&1; then
    line=$(rpm -qf --qf '%{NAME}\t%{VERSION}-%{RELEASE}\n' "$real" 2>/dev/null | head -n 1)
    case "$line" in
      *"not owned"* | "") ;;
      *)
        owner=$(printf '%s' "$line" | cut -f1)
        ver=$(printf '%s' "$line" | cut -f2)
        ;;
    esac
  fi
  printf '%s\t%s\t%s\n' "$f" "${owner:--}" "${ver:--}"
done
