#!/usr/bin/env bash
# Build kube-apiserver v1.20.2 once, from Debian bookworm's `kubernetes` source package, for the
# cluster tests (tests/cluster). No prebuilt API server exists on PyPI or in Debian, and the tests
# need a real one: real TLS, token auth, RBAC and etcd storage.
#
#   scripts/build-kube-apiserver.sh [CACHE]     (default CACHE: /var/cache/secretsmgr-ci)
#
# Leaves CACHE/kube-apiserver-v1.20.2 and does nothing when it is already there. The build runs
# offline against the vendored tree with Debian's Go; only the source comes from the archive. It
# uses a private deb-src list, so /etc/apt is untouched. About 15 minutes on 2 cores, ~2 GB disk.
set -euo pipefail
CACHE=${1:-/var/cache/secretsmgr-ci}
OUT=$CACHE/kube-apiserver-v1.20.2
[ -x "$OUT" ] && { echo "kube-apiserver: cached at $OUT"; exit 0; }
VERSION=1.20.5+really1.20.2-1.1+deb12u1
TARBALL=kubernetes_1.20.5+really1.20.2.orig.tar.gz
SHA256=b83c0780efb182d928dc63d46488a847f161f04e40a94b96bf5247dd671ecdfc
WORK=$CACHE/build
rm -rf "$WORK"; mkdir -p "$WORK/apt/lists/partial" "$WORK/home"
cd "$WORK"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends golang-go rsync make etcd-server >/dev/null
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
# `make WHAT=…` runs the code generators (openapi and friends) a bare `go build` would miss.
env GOPROXY=off GOFLAGS= GO111MODULE=off CGO_ENABLED=0 HOME="$WORK/home" make WHAT=cmd/kube-apiserver >"$WORK/build.log" 2>&1 \
  || { tail -40 "$WORK/build.log" >&2; exit 1; }
cp _output/bin/kube-apiserver "$OUT.tmp" && mv "$OUT.tmp" "$OUT"
cd "$CACHE" && rm -rf "$WORK"
"$OUT" --version
