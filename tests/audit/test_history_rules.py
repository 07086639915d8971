"""SM008 stale-data-key and SM013 changelog-gap: a hit and a near miss each."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from secretsmgr.audit.engine import run_audit
from secretsmgr.changelog.chain import FileRecord, append, datakey_id, next_entry
from secretsmgr.sops import FileFormat, load
from secretsmgr.sops.datakey import unwrap_data_key

from .helpers import K1, enc, identity, secret, standard_repo

FILE = "apps/db.enc.yaml"


def _repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    standard_repo(root, {FILE: enc(secret())})
    return root


def _lastmodified(root: Path, rel: str) -> datetime:
    sf = load((root / rel).read_text(), FileFormat.YAML)
    return datetime.fromisoformat(sf.metadata.lastmodified.replace("Z", "+00:00"))


def _log(root: Path, rel: str, when: datetime, *, lastmodified: str | None = None) -> None:
    sf = load((root / rel).read_text(), FileFormat.YAML)
    key = unwrap_data_key(sf.metadata, [identity(1)])
    record = FileRecord(
        rel,
        lastmodified or sf.metadata.lastmodified,
        (K1,),
        (K1,),
        datakey_id(key),
        "0" * 64,
        "1" * 64,
    )
    path = root / "secrets-changelog.jsonl"
    old = path.read_bytes() if path.exists() else b""
    entry = next_entry(
        old,
        time=when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        actor="t",
        action="rotate",
        reason="r",
        layers=("databases",),
        files=[record],
    )
    path.write_bytes(append(old, entry))


def _rules(report: object, rule: str) -> list[str]:
    return [f.path for f in report.findings if f.rule == rule]  # type: ignore[attr-defined]


def test_sm008_fires_on_an_old_lastmodified(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    later = _lastmodified(root, FILE) + timedelta(days=91)
    report = run_audit(root, now=later)
    assert FILE in _rules(report, "SM008")
    message = next(f.message for f in report.findings if f.rule == "SM008" and f.path == FILE)
    assert "from lastmodified" in message and "max 90" in message


def test_sm008_near_miss_within_the_threshold(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    report = run_audit(root, now=_lastmodified(root, FILE) + timedelta(days=89))
    assert _rules(report, "SM008") == []


def test_sm008_dates_the_key_from_the_changelog_when_a_key_opens_it(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    stamp = _lastmodified(root, FILE)
    _log(root, FILE, stamp - timedelta(days=200))  # the key was first recorded long ago
    now = stamp + timedelta(days=10)
    keyless = run_audit(root, now=now)
    assert FILE not in _rules(keyless, "SM008")  # lastmodified alone says 10 days
    keyed = run_audit(root, now=now, identities=[identity(1)], verify_mac=True)
    assert FILE in _rules(keyed, "SM008")
    message = next(f.message for f in keyed.findings if f.rule == "SM008" and f.path == FILE)
    assert "210 days old" in message and "from the changelog" in message


def test_sm013_is_skipped_without_a_changelog(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    report = run_audit(root, now=datetime.now(UTC))
    assert _rules(report, "SM013") == []
    assert any(rule == "SM013" and "no changelog yet" in why for rule, why in report.skipped)


def test_sm013_fires_for_a_state_the_changelog_does_not_record(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    _log(root, FILE, datetime.now(UTC), lastmodified="2001-01-01T00:00:00Z")
    report = run_audit(root)
    assert FILE in _rules(report, "SM013")


def test_sm013_near_miss_when_the_state_is_recorded(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    _log(root, FILE, datetime.now(UTC))
    report = run_audit(root)
    assert FILE not in _rules(report, "SM013")


def test_check_gate_never_runs_history_rules(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    report = run_audit(root, keyless_only=True, now=datetime(2099, 1, 1, tzinfo=UTC))
    assert not {f.rule for f in report.findings} & {"SM008", "SM013"}
