#!/usr/bin/env bash
# Builds the pinned NATS server from the Go module proxy into a version-keyed, git-ignored cache:
# ${PICOSEG_CACHE:-.cache}/nats/<version>/nats-server. The NATS tests (real server-first INFO
# bytes, test/wire) start it; a second run finds the binary at once. The version and every
# dependency are pinned by scripts/nats-build/go.mod + go.sum. stdout is the binary's path.
set -euo pipefail
NATS_VERSION="v2.15.3"
cd "$(dirname "$0")/.."
ROOT="$PWD"
BIN="${PICOSEG_CACHE:-$ROOT/.cache}/nats/$NATS_VERSION/nats-server"
grep -q "github.com/nats-io/nats-server/v2 $NATS_VERSION" scripts/nats-build/go.mod ||
  { echo "install-nats: scripts/nats-build/go.mod does not require nats-server $NATS_VERSION" >&2; exit 1; }
if [ ! -x "$BIN" ]; then
  command -v go >/dev/null || { echo "install-nats: go is not on PATH (Go >= 1.26 is needed)" >&2; exit 1; }
  mkdir -p "$(dirname "$BIN")"
  echo "install-nats: building nats-server $NATS_VERSION (first run: a minute or two)" >&2
  # Built to a temp name then renamed: an interrupted build never leaves a binary the check accepts.
  (cd scripts/nats-build && CGO_ENABLED=0 GOFLAGS="-buildvcs=false -mod=readonly" \
    go build -trimpath -ldflags="-s -w" -o "$BIN.partial" github.com/nats-io/nats-server/v2)
  mv "$BIN.partial" "$BIN"
fi
"$BIN" --version >/dev/null || { echo "install-nats: $BIN does not run" >&2; exit 1; }
echo "$BIN"
