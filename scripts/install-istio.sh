#!/usr/bin/env bash
# Builds the pinned Istio control plane and CLI from the Go module proxy (istio.io/istio) into
# a version-keyed, git-ignored cache: .cache/istio/<version>/bin/{pilot-discovery,pilot-agent,istioctl}.
# A second run finds the binaries and returns at once. Nothing is downloaded but Go modules.
set -euo pipefail
ISTIO_VERSION="v0.0.0-20260827124520-eed52ebb66ad"
ISTIO_RELEASE="1.31-dev"   # the module's VERSION file + "-dev", as Istio's own Makefile stamps a master build
cd "$(dirname "$0")/.."
BIN="${PICOSEG_CACHE:-$PWD/.cache}/istio/$ISTIO_VERSION/bin"
TOOLS=(pilot/cmd/pilot-discovery pilot/cmd/pilot-agent istioctl/cmd/istioctl)

# pilot-agent renders Envoy's bootstrap from Istio's template; it ships in the module's source.
TEMPLATE="$BIN/../envoy_bootstrap.json"

have_all() {
  for t in "${TOOLS[@]}"; do [ -x "$BIN/$(basename "$t")" ] || return 1; done
  [ -s "$TEMPLATE" ]
}
if ! have_all; then
  command -v go >/dev/null || { echo "install-istio: go is not on PATH (Go >= 1.26 is needed)" >&2; exit 1; }
  mkdir -p "$BIN"
  echo "install-istio: building istio.io/istio@$ISTIO_VERSION (first run: several minutes)" >&2
  # istio.io/istio has no replace directives, so `go install pkg@version` builds it as released.
  # Istio's release builds are static (CGO off); -trimpath keeps the cache free of local paths.
  # -buildvcs=false: the module zip has no VCS data. The version is stamped as Istio's Makefile
  # does: istiod and the agent compare proxy versions, and "unknown" would not parse.
  LDFLAGS="-s -w -X istio.io/istio/pkg/version.buildVersion=$ISTIO_RELEASE"
  LDFLAGS="$LDFLAGS -X istio.io/istio/pkg/version.buildGitRevision=${ISTIO_VERSION##*-} -X istio.io/istio/pkg/version.buildStatus=Clean"
  PKGS=()
  for t in "${TOOLS[@]}"; do PKGS+=("istio.io/istio/$t@$ISTIO_VERSION"); done
  CGO_ENABLED=0 GOBIN="$BIN" GOFLAGS="-buildvcs=false" go install -trimpath -ldflags="$LDFLAGS" "${PKGS[@]}"
  SRC="$(go mod download -json "istio.io/istio@$ISTIO_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  cp "$SRC/tools/packaging/common/envoy_bootstrap.json" "$TEMPLATE.partial" && mv "$TEMPLATE.partial" "$TEMPLATE"
fi
have_all || { echo "install-istio: build finished without every binary in $BIN" >&2; exit 1; }
echo "install-istio: istio.io/istio@$ISTIO_VERSION ($("$BIN/istioctl" version --remote=false)) in $BIN" >&2
# stdout is the bin folder alone, for the tests' global setup.
echo "$BIN"
