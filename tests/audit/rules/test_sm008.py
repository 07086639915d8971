"""SM008 stale-data-key: the data key is older than ``max_age_days``."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from secretsmgr.audit.engine import run_audit

from ..helpers import identity
from .history import FILE, history_repo, lastmodified, log, paths_of


def test_sm008_fires_on_an_old_lastmodified(tmp_path: Path) -> None:
    root = history_repo(tmp_path)
    later = lastmodified(root, FILE) + timedelta(days=91)
    report = run_audit(root, now=later)
    assert FILE in paths_of(report, "SM008")
    message = next(f.message for f in report.findings if f.rule == "SM008" and f.path == FILE)
    assert "from lastmodified" in message and "max 90" in message


def test_sm008_near_miss_within_the_threshold(tmp_path: Path) -> None:
    root = history_repo(tmp_path)
    report = run_audit(root, now=lastmodified(root, FILE) + timedelta(days=89))
    assert paths_of(report, "SM008") == []


def test_sm008_dates_the_key_from_the_changelog_when_a_key_opens_it(tmp_path: Path) -> None:
    root = history_repo(tmp_path)
    stamp = lastmodified(root, FILE)
    log(root, FILE, stamp - timedelta(days=200))  # the key was first recorded long ago
    now = stamp + timedelta(days=10)
    keyless = run_audit(root, now=now)
    assert FILE not in paths_of(keyless, "SM008")  # lastmodified alone says 10 days
    keyed = run_audit(root, now=now, identities=[identity(1)], verify_mac=True)
    assert FILE in paths_of(keyed, "SM008")
    message = next(f.message for f in keyed.findings if f.rule == "SM008" and f.path == FILE)
    assert "210 days old" in message and "from the changelog" in message
