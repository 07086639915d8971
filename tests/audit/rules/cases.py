"""What every per-rule test module shares: a case (a small repository and what must fire).

A near miss must produce no finding at all (key-less, plus SM007 where noted): that is the
zero-false-positive promise for correct Flux files.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from secretsmgr.audit.finding import AuditReport

from ..helpers import audit, identity, pairs

Builder = Callable[[Path], None]

ENC_FIELD = re.compile(r"(api-token|password): (ENC\[[^\n]*\])")
VERIFY = {"verify_mac": True, "identities": [identity(1)]}


@dataclass
class Case:
    """A small repository, what must fire on it, and how to audit it."""

    id: str
    build: Builder
    expect: set[tuple[str, str]]
    options: dict[str, object] = field(default_factory=dict)
    verify: Callable[[AuditReport], None] | None = None


def ids(cases: Sequence[Case]) -> list[str]:
    """pytest ids of ``cases``."""
    return [c.id for c in cases]


def run_case(case: Case, tmp_path: Path) -> AuditReport:
    """Build the case's repository, audit it and check exactly what fired."""
    case.build(tmp_path)
    report = audit(tmp_path, **case.options)
    assert pairs(report) == case.expect
    for finding in report.findings:
        assert "\n" not in finding.message
    if case.verify is not None:
        case.verify(report)
    return report


def insert_after(text: str, anchor: str, line: str) -> str:
    """``text`` with ``line`` inserted after the line ``anchor``."""
    head, sep, tail = text.partition(anchor + "\n")
    assert sep, f"anchor {anchor!r} not found"
    return head + sep + line + "\n" + tail


def live(*keys: str) -> dict[str, object]:
    """Audit options with a live cluster holding ``keys`` (as --from-cluster reads it)."""
    from secretsmgr.repo.inventory import LiveKeys

    return {"live_cluster": LiveKeys("context test: flux-system/sops-age", keys)}
