#!/usr/bin/env bash
# Install secretsmgr into ./.venv and run the main job on the bundled demo repositories:
# an audit of the clean demo (exit 0) and of the broken one (one planted defect per rule,
# exit 1), MACs verified in-process with the DEMO-ONLY key; then the rotation plan of the
# databases layer (nothing written) and the demo's changelog.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -e .
export PATH="$PWD/.venv/bin:$PATH"
export SOPS_AGE_KEY_FILE="$PWD/fixtures/keys/demo-only.agekey"   # DEMO KEY ONLY
run() { printf '\n$ %s\n' "$*"; "$@"; }
run secretsmgr --repo fixtures/demo audit --verify-mac
set +e; run secretsmgr --repo fixtures/broken audit --verify-mac; rc=$?; set -e
echo "(exit $rc: the broken demo has one planted defect per rule)"
run secretsmgr --repo fixtures/demo rotate --layer databases --reason "quarterly rotation" --dry-run
run secretsmgr --repo fixtures/demo log --verify
