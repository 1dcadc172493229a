#!/usr/bin/env bash
# npm's prepare: the pinned Envoy, then the filter and the TypeScript (`npm ci` runs it).
# `npx picoseg` in a checkout makes npm install the checkout into its npx cache to link the
# package's own bin, and that install runs prepare again — the whole build, in silence, rewriting
# filter/build/picoseg.wasm under whatever runs. npm names that command `exec`: then there is
# nothing to prepare, `npm ci` built the checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${npm_command:-}" = exec ]; then exit 0; fi
bash scripts/install-envoy.sh
npm run build
