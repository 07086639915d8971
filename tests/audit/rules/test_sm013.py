"""SM013 changelog-gap: the file's current ``lastmodified`` has no changelog entry."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from secretsmgr.audit.engine import run_audit

from .history import FILE, history_repo, log, paths_of


def test_sm013_is_skipped_without_a_changelog(tmp_path: Path) -> None:
    root = history_repo(tmp_path)
    report = run_audit(root, now=datetime.now(UTC))
    assert paths_of(report, "SM013") == []
    assert any(rule == "SM013" and "no changelog yet" in why for rule, why in report.skipped)


def test_sm013_fires_for_a_state_the_changelog_does_not_record(tmp_path: Path) -> None:
    root = history_repo(tmp_path)
    log(root, FILE, datetime.now(UTC), lastmodified="2001-01-01T00:00:00Z")
    report = run_audit(root)
    assert FILE in paths_of(report, "SM013")


def test_sm013_near_miss_when_the_state_is_recorded(tmp_path: Path) -> None:
    root = history_repo(tmp_path)
    log(root, FILE, datetime.now(UTC))
    report = run_audit(root)
    assert FILE not in paths_of(report, "SM013")


def test_check_gate_never_runs_history_rules(tmp_path: Path) -> None:
    # SM008 and SM013 both read the changelog and the clock: never in the commit gate.
    root = history_repo(tmp_path)
    report = run_audit(root, keyless_only=True, now=datetime(2099, 1, 1, tzinfo=UTC))
    assert not {f.rule for f in report.findings} & {"SM008", "SM013"}
