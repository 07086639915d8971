"""The demo repositories: the clean one raises nothing, the broken one exactly EXPECTED.md."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from secretsmgr.audit.engine import run_audit
from secretsmgr.audit.finding import Severity
from secretsmgr.keys.age import AgeIdentity, parse_identities

from .helpers import ROOT, pairs

DEMO = ROOT / "fixtures" / "demo"
BROKEN = ROOT / "fixtures" / "broken"
DEMO_KEY = ROOT / "fixtures" / "keys" / "demo-only.agekey"
# A fixed clock: the demo was encrypted on 2026-11-26; SM008 must not start firing in 90 days.
NOW = datetime(2026, 11, 27, tzinfo=UTC)
ROW = re.compile(r"^\| (SM\d{3}) \| [a-z-]+ \| (error|warning|info) \| `([^`]+)` \|", re.M)


def demo_identity() -> list[AgeIdentity]:
    return [parse_identities(DEMO_KEY.read_text(encoding="utf-8"), DEMO_KEY.name)]


def planted() -> set[tuple[str, str]]:
    """The rows of the 'Planted defects' table of fixtures/broken/EXPECTED.md."""
    text = (BROKEN / "EXPECTED.md").read_text(encoding="utf-8")
    table = text.split("## Planted defects", 1)[1].split("## ", 1)[0]
    return {(rule, path) for rule, _, path in ROW.findall(table)}


KEYLESS_SIDE_EFFECTS = {("SM011", "gitops/apps/redis/auth.enc.yaml")}
HISTORY_OR_KEY = {"SM007", "SM008", "SM013"}  # rules `check` does not run
IDENTITY_SIDE_EFFECTS = {("SM007", "gitops/apps/authentik/secret.enc.yaml")}


@pytest.mark.parametrize("verify_mac", [False, True])
def test_clean_demo_has_no_finding(verify_mac: bool) -> None:
    identities = demo_identity() if verify_mac else []
    report = run_audit(DEMO, identities=identities, verify_mac=verify_mac, now=NOW)
    assert report.findings == ()
    assert report.suppressed == 0
    assert report.cluster_key_source == ".secretsmgr.yaml"
    names = [layer.name for layer in report.layers]
    assert names == ["flux-system", "infrastructure", "databases", "apps"]
    assert len(report.sops_files) == 4
    if verify_mac:  # only what needs the live cluster or a rotation under way is left out
        assert [rule for rule, _ in report.skipped] == ["SM016", "SM017", "SM019", "SM020"]
    # the history walk's other finds are named where its rules are skipped (sweep 94,
    # Dapacruz/k8s-infra: SM023 found a committed hand edit with --history only, unsaid)
    why = dict(report.skipped)["SM019"]
    assert "use audit --history" in why and "SM009" in why and "SM023" in why, why


def test_clean_demo_check_skips_only_key_and_history_rules() -> None:
    report = run_audit(DEMO, keyless_only=True, now=NOW)
    assert report.findings == ()
    skipped = [rule for rule, _ in report.skipped]
    assert skipped == ["SM007", "SM008", "SM013", "SM016", "SM017", "SM019", "SM020"]


def test_broken_demo_keyless_matches_expected() -> None:
    report = run_audit(BROKEN, keyless_only=True, now=NOW)
    expected = {p for p in planted() if p[0] not in HISTORY_OR_KEY} | KEYLESS_SIDE_EFFECTS
    assert pairs(report) == expected
    assert (report.count(Severity.ERROR), report.count(Severity.WARNING)) == (8, 4)
    assert report.count(Severity.INFO) == 1


def test_broken_demo_key_paths_and_layers() -> None:
    report = run_audit(BROKEN, keyless_only=True, now=NOW)
    got = {(str(f.rule), f.path): f for f in report.findings}
    sm001 = got["SM001", "gitops/apps/redis/redis-acl.yaml"]
    assert (sm001.key_path, sm001.layer) == ("stringData.acl-password", "databases")
    assert got["SM003", "gitops/apps/authentik/secret.enc.yaml"].key_path == (
        "stringData.ADMIN_TOKEN"
    )
    sm006 = got["SM006", "gitops/infrastructure/cert-manager/cloudflare-api-token.enc.yaml"]
    assert sm006.key_path == "data.api-token"
    assert got["SM009", "gitops/apps/authentik/notes.txt"].layers == ()
    assert got["SM015", "gitops/components/extra-secret/extra.enc.env"].layer == "apps"
    assert got["SM010", "gitops/monitoring/grafana-admin.enc.yaml"].layer == "monitoring"
    assert [f.sort_key for f in report.findings] == sorted(f.sort_key for f in report.findings)


def test_broken_demo_with_identity_adds_sm007() -> None:
    report = run_audit(BROKEN, identities=demo_identity(), verify_mac=True, now=NOW)
    expected = planted() | KEYLESS_SIDE_EFFECTS | IDENTITY_SIDE_EFFECTS
    assert pairs(report) == expected
    assert ("SM007", "1 file not verified, no identity opens: gitops/apps/redis/auth.enc.yaml") in (
        report.skipped
    )


def test_broken_demo_never_prints_the_committed_key() -> None:
    notes = (BROKEN / "gitops/apps/authentik/notes.txt").read_text(encoding="utf-8")
    (key,) = re.findall(r"AGE-SECRET-KEY-1[0-9A-Z]+", notes)
    report = run_audit(BROKEN, identities=demo_identity(), verify_mac=True, now=NOW)
    for finding in report.findings:
        for text in (finding.message, finding.fix or ""):
            assert key not in text
            assert key[16:36] not in text
    sm009 = next(f for f in report.findings if f.rule == "SM009")
    assert "line 7" in sm009.message and "AGE-SECRET-KEY-1…" in sm009.message


def test_broken_demo_never_prints_plaintext() -> None:
    acl = (BROKEN / "gitops/apps/redis/redis-acl.yaml").read_text(encoding="utf-8")
    plaintext = [acl.rsplit(":", 1)[1].strip(), "plain-value"]
    report = run_audit(BROKEN, identities=demo_identity(), verify_mac=True, now=NOW)
    for finding in report.findings:
        assert not any(value in finding.message for value in plaintext)


def test_layer_filter_on_broken_demo() -> None:
    report = run_audit(BROKEN, keyless_only=True, layer_filter=["databases"])
    assert {f.layer for f in report.findings} == {"databases"}
    assert [layer.name for layer in report.layers] == ["databases"]
    assert all(p.startswith("gitops/apps/") for p in report.sops_files)


def test_files_subset_on_broken_demo(tmp_path: Path) -> None:
    report = run_audit(
        BROKEN,
        keyless_only=True,
        files=["gitops/apps/redis/redis-acl.yaml", str(BROKEN / "old/legacy.enc.yaml")],
    )
    assert pairs(report) == {
        ("SM001", "gitops/apps/redis/redis-acl.yaml"),
        ("SM012", "old/legacy.enc.yaml"),
    }
    assert report.findings[0].layers == ("databases",)
    assert report.files == 2


def test_broken_demo_audit_adds_the_history_rules() -> None:
    report = run_audit(BROKEN, now=NOW)
    expected = {p for p in planted() if p[0] != "SM007"} | KEYLESS_SIDE_EFFECTS
    assert pairs(report) == expected
    assert (report.count(Severity.ERROR), report.count(Severity.WARNING)) == (8, 6)
    sm008 = next(f for f in report.findings if f.rule == "SM008")
    # Key-less, the changelog line that records the file's bytes names its data key.
    assert "543 days old" in sm008.message and "from the changelog" in sm008.message
    keyed = run_audit(BROKEN, identities=demo_identity(), verify_mac=True, now=NOW)
    sm008 = next(f for f in keyed.findings if f.rule == "SM008")
    assert "543 days old" in sm008.message and "from the changelog" in sm008.message
