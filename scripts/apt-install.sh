#!/usr/bin/env bash
# Installs Debian packages the tests need (apt-get; root or sudo), for the ones whose command is
# missing. Arguments: COMMAND=PACKAGE pairs, e.g. `zsh=zsh fish=fish`; a pair whose COMMAND is a
# path (bash-completion's script) is satisfied when that file exists. Idempotent: with everything
# present it changes nothing and asks no mirror.
set -euo pipefail
missing=()
for pair in "$@"; do
  cmd="${pair%%=*}"; pkg="${pair#*=}"
  if [[ "$cmd" == /* ]]; then [ -e "$cmd" ] || missing+=("$pkg")
  else command -v "$cmd" >/dev/null || missing+=("$pkg"); fi
done
[ "${#missing[@]}" -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null; then
  echo "apt-install: ${missing[*]} not installed and this user cannot run apt-get (need root or sudo)" >&2
  exit 1
fi
run() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
# The package lists may be missing or stale on a fresh machine: update first.
run apt-get update -qq >&2
run env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
