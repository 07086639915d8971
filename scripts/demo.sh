#!/usr/bin/env bash
# Install secretsmgr into ./.venv and run the main job on the bundled demo repositories:
# an audit of the clean demo (exit 0) and of the broken one (findings, exit 1), then a decrypt
# of one demo secret with the DEMO-ONLY key.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -e .
export PATH="$PWD/.venv/bin:$PATH"
run() { printf '\n$ %s\n' "$*"; "$@"; }
if secretsmgr --help | grep -q ' audit '; then
  run secretsmgr --repo fixtures/demo audit
  set +e; run secretsmgr --repo fixtures/broken audit; rc=$?; set -e
  echo "(exit $rc: the broken demo has one planted defect per rule)"
fi
export SOPS_AGE_KEY_FILE="$PWD/fixtures/keys/demo-only.agekey"   # DEMO KEY ONLY
run secretsmgr decrypt fixtures/demo/gitops/apps/postgresql/credentials.enc.yaml
