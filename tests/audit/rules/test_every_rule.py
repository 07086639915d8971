"""Every registered rule has its own test module here, with a hit and a near miss."""

from __future__ import annotations

import importlib
from pathlib import Path

from secretsmgr.audit.registry import RULES

HERE = Path(__file__).parent


def _has_cases(rule_id: str) -> tuple[bool, bool]:
    """(has a hit, has a miss) in the rule's module: ``CASES`` or test names."""
    module = importlib.import_module(f"{__package__}.test_{rule_id.lower()}")
    cases = getattr(module, "CASES", [])
    hit = any("hit" in c.id and rule_id in {r for r, _ in c.expect} for c in cases)
    miss = any("miss" in c.id for c in cases)
    names = [n for n in dir(module) if n.startswith("test_")]
    hit = hit or any("fires" in n or "hit" in n for n in names)
    miss = miss or any("miss" in n for n in names)
    return hit, miss


def test_every_rule_has_a_module_with_a_hit_and_a_miss() -> None:
    for rule in RULES:
        assert (HERE / f"test_{rule.id.lower()}.py").is_file(), rule.id
        hit, miss = _has_cases(rule.id)
        assert hit, f"{rule.id}: no case where it fires"
        assert miss, f"{rule.id}: no near miss"


def test_every_rule_module_names_a_registered_rule() -> None:
    known = {f"test_{rule.id.lower()}.py" for rule in RULES}
    modules = {p.name for p in HERE.glob("test_sm*.py")}
    assert modules <= known, sorted(modules - known)
