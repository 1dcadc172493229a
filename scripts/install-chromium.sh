#!/usr/bin/env bash
# Chromium for the console's real-browser test (test/integration/console-browser.test.ts), from
# Debian's `chromium` package: a distribution-built browser, no download from a browser vendor's
# CDN. Idempotent: prints the binary's path and exits at once when it is already installed.
set -euo pipefail
find_chromium() { command -v chromium || command -v chromium-browser || true; }
bin="$(find_chromium)"
if [ -z "$bin" ]; then
  if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null; then
    echo "install-chromium: chromium is not installed and this user cannot run apt-get (need root or sudo)" >&2
    exit 1
  fi
  run() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
  # The package lists may be missing or stale on a fresh machine: update first.
  run apt-get update -qq >&2
  run env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >&2
  bin="$(find_chromium)"
fi
[ -n "$bin" ] || { echo "install-chromium: chromium not found after apt-get install" >&2; exit 1; }
echo "$bin"
