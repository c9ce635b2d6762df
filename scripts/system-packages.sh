#!/usr/bin/env bash
# Installs the Debian packages named as arguments that are missing; elsewhere, says what to get.
set -euo pipefail
if ! command -v dpkg >/dev/null || ! command -v apt-get >/dev/null; then
  echo "not a Debian-like system: install these (or your system's equivalents) by hand: $*" >&2
  echo "then run the make target again; see the README's 'Other systems'" >&2
  exit 0
fi
missing=()
for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing system packages: ${missing[*]}"
if [ "$(id -u)" = 0 ]; then as_root=(); elif command -v sudo >/dev/null; then as_root=(sudo); else
  echo "missing system packages: ${missing[*]}; run this as root or install them first" >&2
  exit 1
fi
"${as_root[@]}" apt-get update -q
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
