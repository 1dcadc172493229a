#!/usr/bin/env bash
# Chromium for the console's real-browser test (test/integration/console-browser.test.ts), from
# Debian's `chromium` package: a distribution-built browser, no download from a browser vendor's
# CDN. Idempotent: prints the binary's path and exits at once when it is already installed.
set -euo pipefail
find_chromium() { command -v chromium || command -v chromium-browser || true; }
[ -n "$(find_chromium)" ] || bash "$(dirname "$0")/apt-install.sh" chromium=chromium
bin="$(find_chromium)"
[ -n "$bin" ] || { echo "install-chromium: chromium not found after apt-get install" >&2; exit 1; }
echo "$bin"
