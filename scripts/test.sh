#!/usr/bin/env bash
# Install everything the tests need and run the whole suite: lint, types, tests.
# Used as-is by .ci/run. Safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive PIP_DISABLE_PIP_VERSION_CHECK=1
# Debian packages the tests need: git; gnome-keyring + dbus for the real OS keyring
# (libsecret-tools gives secret-tool, an independent cross-check); etcd for the real
# Kubernetes API server; age for cross-checks; gnupg for sops's PGP keys.
need=()
for pair in git:git gnome-keyring-daemon:gnome-keyring secret-tool:libsecret-tools \
            dbus-daemon:dbus-daemon dbus-send:dbus-bin etcd:etcd-server age:age gpg:gnupg; do
  command -v "${pair%%:*}" >/dev/null || need+=("${pair#*:}")
done
if ((${#need[@]})); then
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}"
  else echo "missing: ${need[*]} (install them with apt-get)" >&2; exit 1; fi
fi
# A real kube-apiserver, built once from Debian's source package and cached outside the
# checkout (about 10-15 minutes the first time on a new machine, nothing after that).
CACHE=${SECRETSMGR_CI_CACHE:-/var/cache/secretsmgr-ci}
bash scripts/build-kube-apiserver.sh "$CACHE"
export SECRETSMGR_TEST_KUBE_APISERVER=$CACHE/kube-apiserver-v1.20.2
# The keyring and cluster tests must run here, never skip.
export SECRETSMGR_REQUIRE_KEYRING=1 SECRETSMGR_REQUIRE_KUBE=1
python3 -m venv .venv
.venv/bin/pip install -q -e '.[test]'
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy --strict secretsmgr
# The project's own gate: no plaintext secret or stray private key in this repository.
.venv/bin/secretsmgr check
# pytest exits 5 when it collected no test: that fails this script, as it should.
# worksteal: a worker that runs out of tests takes some of the other's (the slow end-to-end tests
# otherwise leave one core idle at the end; 286 s against 301-328 s here)
.venv/bin/python -m pytest -q -p no:cacheprovider -n auto --dist worksteal "$@"
