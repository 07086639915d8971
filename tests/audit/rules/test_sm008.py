"""SM008 stale-data-key: the data key is older than ``max_age_days``."""

from __future__ import annotations

import os
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

from secretsmgr.audit.engine import run_audit
from tests.conftest import GIT_ENV, git

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


def test_sm008_dates_the_key_from_the_changelog_with_or_without_a_key(tmp_path: Path) -> None:
    root = history_repo(tmp_path)
    stamp = lastmodified(root, FILE)
    log(root, FILE, stamp - timedelta(days=200))  # the key was first recorded long ago
    now = stamp + timedelta(days=10)
    # Key-less: the entry that records the file's current bytes names its data key.
    keyless = run_audit(root, now=now)
    assert FILE in paths_of(keyless, "SM008")
    keyed = run_audit(root, now=now, identities=[identity(1)], verify_mac=True)
    assert FILE in paths_of(keyed, "SM008")
    message = next(f.message for f in keyed.findings if f.rule == "SM008" and f.path == FILE)
    assert "210 days old" in message and "from the changelog" in message


def test_sm008_key_less_near_miss_when_the_entry_records_other_bytes(tmp_path: Path) -> None:
    root = history_repo(tmp_path)
    stamp = lastmodified(root, FILE)
    log(root, FILE, stamp - timedelta(days=200), sha256="1" * 64)
    # Nothing ties that entry to these bytes without a key: lastmodified alone says 10 days.
    assert paths_of(run_audit(root, now=stamp + timedelta(days=10)), "SM008") == []


def test_sm008_a_rewritten_later_time_cannot_make_the_key_younger(tmp_path: Path) -> None:
    # The forger moves the only line to "now": lastmodified still dates the key.
    root = history_repo(tmp_path)
    stamp = lastmodified(root, FILE)
    now = stamp + timedelta(days=120)
    log(root, FILE, now)
    report = run_audit(root, now=now, identities=[identity(1)], verify_mac=True)
    assert FILE in paths_of(report, "SM008")


def test_sm008_takes_the_commit_time_of_a_line_git_held_earlier(tmp_path: Path) -> None:
    # A later entry (a value set, same data key) moved lastmodified on; the first line was
    # committed 200 days ago and then re-dated by a forger. Git's commit time still dates it.
    root = history_repo(tmp_path)
    stamp = lastmodified(root, FILE)
    old = stamp - timedelta(days=200)
    log(root, FILE, old, lastmodified="2001-01-01T00:00:00Z")
    commit(root, old)
    changelog = root / "secrets-changelog.jsonl"
    changelog.unlink()
    log(root, FILE, stamp, lastmodified="2001-01-01T00:00:00Z")  # re-dated, chain recomputed
    log(root, FILE, stamp)
    commit(root, stamp)
    now = stamp + timedelta(days=10)
    report = run_audit(root, now=now, identities=[identity(1)], verify_mac=True)
    assert FILE in paths_of(report, "SM008")
    assert "210 days old" in next(f.message for f in report.findings if f.rule == "SM008")


def commit(root: Path, when: datetime) -> None:
    """Commit everything with ``when`` as the committer (and author) time."""
    if not (root / ".git").exists():
        git(root, "init", "-q", "-b", "main")
    date = when.strftime("%Y-%m-%dT%H:%M:%S+0000")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")} | GIT_ENV
    env |= {"GIT_COMMITTER_DATE": date, "GIT_AUTHOR_DATE": date}
    for args in (["add", "-A"], ["commit", "-q", "--no-gpg-sign", "-m", "changelog"]):
        subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True)


def test_sm008_key_less_an_appended_line_with_another_key_id_cannot_date_it(
    tmp_path: Path,
) -> None:
    # The first record of these bytes is 200 days old; a forged line for the same state with
    # an invented data key id, appended today, does not make the key young.
    root = history_repo(tmp_path)
    stamp = lastmodified(root, FILE)
    log(root, FILE, stamp - timedelta(days=200))
    log(root, FILE, stamp + timedelta(days=9), key_id="e" * 32)
    assert FILE in paths_of(run_audit(root, now=stamp + timedelta(days=10)), "SM008")
