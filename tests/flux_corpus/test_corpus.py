"""Real-world Flux layouts: each case's findings and layers against its golden file.

``UPDATE_GOLDEN=1 pytest tests/flux_corpus`` rewrites ``golden/<case>.json``; review the diff.
The golden file records, per case, every layer (cluster, name, path, decryption, source) and
every key-less finding (rule, severity, path, cluster, layer, key path), never a value.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from secretsmgr.audit.engine import run_audit
from tests.flux_corpus.corpus import case_names, materialize

GOLDEN = Path(__file__).resolve().parent / "golden"
NOW = datetime(2026, 12, 1, tzinfo=UTC)

pytestmark = pytest.mark.interop


def snapshot(root: Path) -> dict[str, object]:
    """What a case's golden file pins."""
    report = run_audit(root, keyless_only=True, now=NOW)
    return {
        "clusters": list(report.clusters),
        "layers": [
            {
                "cluster": layer.cluster,
                "name": layer.name,
                "path": layer.path,
                "decryption": layer.decryption,
                "external": layer.external,
                "unresolved": list(layer.unresolved),
                "sops_files": list(layer.sops_files),
            }
            for layer in report.layers
        ],
        "findings": [
            {
                "rule": f.rule,
                "severity": f.severity.value,
                "path": f.path,
                "cluster": f.cluster,
                "layer": f.layer,
                "key_path": f.key_path,
            }
            for f in report.findings
        ],
        "notes": list(report.notes),
    }


@pytest.mark.parametrize("case", case_names())
def test_case_matches_its_golden_file(case: str, tmp_path: Path) -> None:
    root = materialize(case, tmp_path / case)
    actual = json.dumps(snapshot(root), indent=2, ensure_ascii=False) + "\n"
    golden = GOLDEN / f"{case}.json"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(actual, encoding="utf-8")
    assert golden.is_file(), f"no golden file for {case}: run with UPDATE_GOLDEN=1"
    assert actual == golden.read_text(encoding="utf-8")
