#!/usr/bin/env bash
# Install everything the tests need and run the whole suite: lint, types, tests.
# Used as-is by .ci/run. Safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive PIP_DISABLE_PIP_VERSION_CHECK=1
# Debian packages some tests need (git is in the image; age is used for cross-checks).
need=()
command -v git >/dev/null || need+=(git)
if ((${#need[@]})); then
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}"
  else echo "missing: ${need[*]} (install them with apt-get)" >&2; exit 1; fi
fi
python3 -m venv .venv
.venv/bin/pip install -q -e '.[test]'
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy --strict secretsmgr
# The project's own gate: no plaintext secret or stray private key in this repository.
.venv/bin/secretsmgr check
# pytest exits 5 when it collected no test: that fails this script, as it should.
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
