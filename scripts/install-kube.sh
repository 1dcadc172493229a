#!/usr/bin/env bash
# Builds the pinned kube-apiserver and etcd from the Go module proxy into a version-keyed,
# git-ignored cache: ${PICOSEG_CACHE:-.cache}/kube/<version>/bin/{kube-apiserver,etcd}.
# The Kubernetes tests (test/integration/k8s-*) start them; `npm run kube:install` and the
# integration tests' global setup call this script. A second run finds the binaries at once.
#
# The versions and every dependency are pinned by the build modules in scripts/kube-build/
# (go.mod + go.sum): k8s.io/kubernetes replaces its staging modules with ./staging paths that
# only exist in its own repository, so the build module pins each one to the published v0.37.2.
# etcd is built too: Debian's etcd-server is 3.4, older than kube-apiserver 1.37 supports.
set -euo pipefail
KUBE_VERSION="v1.37.2"
ETCD_VERSION="v3.6.16"
cd "$(dirname "$0")/.."
ROOT="$PWD"
BIN="${PICOSEG_CACHE:-$ROOT/.cache}/kube/$KUBE_VERSION-etcd-$ETCD_VERSION/bin"

# Checks the module pins the script's versions, so a bump in one place cannot silently diverge.
grep -q "k8s.io/kubernetes $KUBE_VERSION" scripts/kube-build/apiserver/go.mod ||
  { echo "install-kube: scripts/kube-build/apiserver/go.mod does not require k8s.io/kubernetes $KUBE_VERSION" >&2; exit 1; }
grep -q "go.etcd.io/etcd/server/v3 $ETCD_VERSION" scripts/kube-build/etcd/go.mod ||
  { echo "install-kube: scripts/kube-build/etcd/go.mod does not require go.etcd.io/etcd/server/v3 $ETCD_VERSION" >&2; exit 1; }

build() { # build <module dir> <package> <output name> [extra -ldflags]
  local dir="$1" pkg="$2" out="$3" LDFLAGS="${4:-}"
  [ -x "$BIN/$out" ] && return 0
  command -v go >/dev/null || { echo "install-kube: go is not on PATH (Go >= 1.26 is needed)" >&2; exit 1; }
  mkdir -p "$BIN"
  echo "install-kube: building $pkg (first run: several minutes)" >&2
  local start=$SECONDS
  # Static like the upstream release builds; -trimpath keeps local paths out of the cache;
  # -mod=readonly: go.sum in the repo is the pin, a build never rewrites it. Built to a temp
  # name then renamed, so an interrupted build never leaves a binary the cache check accepts.
  (cd "$dir" && CGO_ENABLED=0 GOFLAGS="-buildvcs=false -mod=readonly" \
    go build -trimpath -ldflags="-s -w $LDFLAGS" -o "$BIN/$out.partial" "$pkg")
  mv "$BIN/$out.partial" "$BIN/$out"
  echo "install-kube: built $out in $((SECONDS - start)) s" >&2
}
build scripts/kube-build/etcd go.etcd.io/etcd/server/v3 etcd
# Kubernetes stamps its version at link time (hack/lib/version.sh); without it the server reports
# v0.0.0-master and clients warn about version skew.
MINOR="${KUBE_VERSION#v1.}"; MINOR="${MINOR%%.*}"
build scripts/kube-build/apiserver k8s.io/kubernetes/cmd/kube-apiserver kube-apiserver \
  "-X k8s.io/component-base/version.gitVersion=$KUBE_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$MINOR -X k8s.io/component-base/version.gitTreeState=clean"

"$BIN/etcd" --version >/dev/null || { echo "install-kube: $BIN/etcd does not run" >&2; exit 1; }
"$BIN/kube-apiserver" --version >/dev/null || { echo "install-kube: $BIN/kube-apiserver does not run" >&2; exit 1; }
echo "install-kube: $("$BIN/kube-apiserver" --version), etcd $ETCD_VERSION in $BIN" >&2
# stdout is the bin folder alone, for the tests' global setup.
echo "$BIN"
