#!/usr/bin/env bash
# Runs a command in a network namespace of its own, with only a loopback interface (up).
# The Istio tests run in one: a sidecar and istiod use Istio's well-known ports (15000, 15001,
# 15006, 15010, 15020, 15021, 15090, ...) and a redirect-mode sidecar binds 0.0.0.0; inside the
# namespace none of that can collide with, or be reached from, anything else on the machine.
# As root (CI) a plain network namespace; otherwise a user namespace maps the caller to root
# inside it. Install steps that need the network run before, outside.
set -euo pipefail
if [ "${PICOSEG_NETNS:-}" = 1 ]; then exec "$@"; fi
command -v unshare >/dev/null && command -v ip >/dev/null ||
  { echo "netns: needs unshare (util-linux) and ip (iproute2)" >&2; exit 1; }
FLAGS=(--net)
[ "$(id -u)" = 0 ] || FLAGS+=(--map-root-user)
exec unshare "${FLAGS[@]}" -- env PICOSEG_NETNS=1 bash -c 'ip link set lo up && exec "$@"' netns "$@"
