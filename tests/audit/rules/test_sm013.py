"""SM013 changelog-gap: the file's current state (lastmodified, bytes, data key) has no
changelog entry, or the changelog rewrites lines git already holds."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from secretsmgr.audit.engine import run_audit
from tests.conftest import git

from ..helpers import identity
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


def test_sm013_fires_when_the_recorded_bytes_are_not_the_file(tmp_path: Path) -> None:
    # The right path and lastmodified, another content: the entry does not describe this file.
    root = history_repo(tmp_path)
    log(root, FILE, datetime.now(UTC), sha256="1" * 64)
    report = run_audit(root)
    assert FILE in paths_of(report, "SM013")
    message = next(f.message for f in report.findings if f.rule == "SM013")
    assert "bytes differ" in message


def test_sm013_refuses_a_forged_data_key_id_when_the_key_opens_the_file(tmp_path: Path) -> None:
    # A forger can compute path, lastmodified and sha256 from the file, not its data key id.
    root = history_repo(tmp_path)
    log(root, FILE, datetime.now(UTC), key_id="f" * 32)
    assert FILE not in paths_of(run_audit(root), "SM013")  # key-less: the line looks right
    keyed = run_audit(root, identities=[identity(1)], verify_mac=True)
    assert FILE in paths_of(keyed, "SM013")
    assert "another data key" in next(f.message for f in keyed.findings if f.rule == "SM013")


def test_sm013_reports_a_changelog_that_rewrites_its_committed_lines(tmp_path: Path) -> None:
    root = history_repo(tmp_path)
    log(root, FILE, datetime.now(UTC))
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "--no-gpg-sign", "-m", "rotate")
    assert paths_of(run_audit(root), "SM013") == []
    changelog = root / "secrets-changelog.jsonl"
    changelog.unlink()
    log(root, FILE, datetime.now(UTC), key_id="e" * 32)  # the line rewritten, chain recomputed
    git(root, "commit", "-q", "--no-gpg-sign", "-am", "rewrite")
    assert "secrets-changelog.jsonl" in paths_of(run_audit(root), "SM013")


def test_sm013_fires_for_bytes_rolled_back_to_an_earlier_recorded_state(tmp_path: Path) -> None:
    # S1 recorded, S2 written and recorded, then S1's bytes put back (git checkout old -- F):
    # the earlier record no longer covers the file, with or without a key.
    from ..helpers import enc, secret

    root = history_repo(tmp_path)
    log(root, FILE, datetime.now(UTC))
    first = (root / FILE).read_bytes()
    (root / FILE).write_text(enc(secret("db", {"password": "another-one"})), encoding="utf-8")
    log(root, FILE, datetime.now(UTC))
    assert FILE not in paths_of(run_audit(root), "SM013")
    (root / FILE).write_bytes(first)
    for report in (run_audit(root), run_audit(root, identities=[identity(1)], verify_mac=True)):
        assert FILE in paths_of(report, "SM013")
        assert "earlier recorded state" in next(
            f.message for f in report.findings if f.rule == "SM013"
        )


def test_sm013_fires_key_less_for_one_state_recorded_with_two_data_keys(tmp_path: Path) -> None:
    root = history_repo(tmp_path)
    log(root, FILE, datetime.now(UTC))
    log(root, FILE, datetime.now(UTC), key_id="e" * 32)  # an appended forgery
    report = run_audit(root)
    assert FILE in paths_of(report, "SM013")
    assert "2 different data keys" in next(f.message for f in report.findings if f.rule == "SM013")


def test_sm013_sends_a_file_only_sops_rotates_to_adopt(tmp_path: Path) -> None:
    # sweep 22 (FrederikS/homelab): after `sops rotate -i` of a file on PGP and age keys, as
    # rotate's refusal says, SM013's fix was that same rotate, which refused again
    from tests.audit.helpers import write
    from tests.interop.test_key_types import FOREIGN_ONLY

    root = history_repo(tmp_path)
    log(root, FILE, datetime.now(UTC), lastmodified="2001-01-01T00:00:00Z")
    (ours,) = [f for f in run_audit(root).findings if f.rule == "SM013"]
    assert (ours.fix or "").startswith(f"secretsmgr rotate {FILE} --reason")
    write(root, FILE, FOREIGN_ONLY["pgp"])
    (pgp,) = [f for f in run_audit(root).findings if f.rule == "SM013"]
    assert (pgp.fix or "").startswith("secretsmgr log --adopt --reason '…'")


def test_sm013_names_a_file_moved_as_it_was_and_adopt_records_the_move(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # sweep 31 (nwarila-platform/talos-cluster): after a plain `git mv`, SM013 said "changed
    # outside secretsmgr" and offered a new data key
    import shlex

    from tests.cli.runner import hints_of, run

    root = history_repo(tmp_path)
    log(root, FILE, datetime.now(UTC))
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "--no-gpg-sign", "-m", "state")
    moved = FILE.replace(".enc.yaml", "-moved.enc.yaml")
    git(root, "mv", FILE, moved)
    (finding,) = [f for f in run_audit(root).findings if f.rule == "SM013"]
    assert finding.path == moved
    assert f"is recorded for {FILE}, which is gone: the same bytes, moved or renamed" in (
        finding.message
    )
    assert finding.fix is not None and "rotate" not in finding.fix
    command = shlex.split(finding.fix.split("   (")[0])
    assert command[:3] == ["secretsmgr", "log", "--adopt"]
    code, _, err = run(["--repo", str(root), "log", "--verify"], capsys)
    assert code == 1 and any("moved or renamed" in h for h in hints_of(err)), err
    code, _, err = run(["--repo", str(root), *command[1:]], capsys)
    assert code == 0, err
    assert paths_of(run_audit(root), "SM013") == []
