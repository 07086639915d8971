#!/usr/bin/env bash
# Build kube-apiserver v1.20.2 once, from Debian bookworm's `kubernetes` source package, for the
# cluster tests (tests/cluster). No prebuilt API server exists on PyPI or in Debian, and the tests
# need a real one: real TLS, token auth, RBAC and etcd storage.
#
#   scripts/build-kube-apiserver.sh [CACHE]     (default CACHE: /var/cache/secretsmgr-ci)
#
# Leaves CACHE/kube-apiserver-v1.20.2 (and a .reflect2-1.0.2 stamp beside it) and does nothing
# when both are there. The build runs offline against the vendored tree with Debian's Go; only
# the source comes from the archive. It uses a private deb-src list, so /etc/apt is untouched.
# About 15 minutes on 2 cores, ~2 GB disk.
set -euo pipefail
CACHE=${1:-/var/cache/secretsmgr-ci}
OUT=$CACHE/kube-apiserver-v1.20.2
STAMP=$OUT.reflect2-1.0.2  # a binary built before the reflect2 fix below is built again
[ -x "$OUT" ] && [ -e "$STAMP" ] && { echo "kube-apiserver: cached at $OUT"; exit 0; }
VERSION=1.20.5+really1.20.2-1.1+deb12u1
TARBALL=kubernetes_1.20.5+really1.20.2.orig.tar.gz
SHA256=b83c0780efb182d928dc63d46488a847f161f04e40a94b96bf5247dd671ecdfc
WORK=$CACHE/build
rm -rf "$WORK"; mkdir -p "$WORK/apt/lists/partial" "$WORK/home"
cd "$WORK"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends golang-go rsync make etcd-server \
  golang-github-modern-go-reflect2-dev >/dev/null
cat > apt/src.list <<'LIST'
deb-src http://deb.debian.org/debian bookworm main
deb-src http://deb.debian.org/debian-security bookworm-security main
LIST
apt_opts=(-o "Dir::Etc::SourceList=$WORK/apt/src.list" -o Dir::Etc::SourceParts=/dev/null
          -o "Dir::State::Lists=$WORK/apt/lists")
apt-get "${apt_opts[@]}" -qq update
apt-get "${apt_opts[@]}" -qq source --download-only "kubernetes=$VERSION" 2>&1 | grep -v unsandboxed || true
echo "$SHA256  $TARBALL" | sha256sum -c --quiet
tar xzf "$TARBALL"
cd kubernetes-1.20.2
# The vendored reflect2 v1.0.1 reaches into the map iterator of Go < 1.18; built with Debian's
# Go 1.19 the server dies (SIGSEGV in mapiterinit) on the first custom resource it decodes, such
# as a Flux Kustomization. v1.0.2 (Debian's golang-github-modern-go-reflect2-dev) is the fixed,
# API-compatible release.
rsync -a --delete --exclude '*_test.go' --exclude go.mod \
  /usr/share/gocode/src/github.com/modern-go/reflect2/ vendor/github.com/modern-go/reflect2/
# `make WHAT=…` runs the code generators (openapi and friends) a bare `go build` would miss.
env GOPROXY=off GOFLAGS= GO111MODULE=off CGO_ENABLED=0 HOME="$WORK/home" make WHAT=cmd/kube-apiserver >"$WORK/build.log" 2>&1 \
  || { tail -40 "$WORK/build.log" >&2; exit 1; }
cp _output/bin/kube-apiserver "$OUT.tmp" && mv "$OUT.tmp" "$OUT" && touch "$STAMP"
cd "$CACHE" && rm -rf "$WORK"
"$OUT" --version
