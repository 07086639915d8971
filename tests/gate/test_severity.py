"""Severity that matches the harm: a readable Secret value is an error whatever the rule says."""

from __future__ import annotations

from pathlib import Path

from secretsmgr.audit.engine import run_audit
from secretsmgr.audit.finding import Severity
from secretsmgr.sops import EncryptionRule, RuleKind
from tests.audit.helpers import enc, secret, standard_repo

DATA_ONLY = EncryptionRule(RuleKind.ENCRYPTED_REGEX, "^data$")


def test_plain_string_data_under_a_data_only_rule_is_sm003_error(tmp_path: Path) -> None:
    text = secret("db", {"password": "hunter2"}) + "data:\n  token: aHVudGVy\n"
    standard_repo(tmp_path, {"apps/db.enc.yaml": enc(text, rule=DATA_ONLY)})
    report = run_audit(tmp_path, keyless_only=True)
    sm003 = [f for f in report.findings if f.rule == "SM003"]
    assert [(f.key_path, f.severity) for f in sm003] == [("stringData.password", Severity.ERROR)]
    assert "hunter2" not in sm003[0].message
    assert {f.rule for f in report.findings} == {"SM003", "SM011"}
    assert report.fails(Severity.ERROR)


def test_sm011_alone_is_a_warning_when_every_secret_value_is_encrypted(tmp_path: Path) -> None:
    text = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ndata:\n  token: aHVudGVy\n"
    standard_repo(tmp_path, {"apps/db.enc.yaml": enc(text, rule=DATA_ONLY)})
    report = run_audit(tmp_path, keyless_only=True)
    assert [(f.rule, f.severity) for f in report.findings] == [("SM011", Severity.WARNING)]
    assert not report.fails(Severity.ERROR)


def test_placeholders_in_a_sops_secret_are_not_sm003(tmp_path: Path) -> None:
    text = secret("db", {"password": "${DB_PASSWORD}", "empty": '""'})
    text += "data:\n  token: aHVudGVy\n"
    standard_repo(tmp_path, {"apps/db.enc.yaml": enc(text, rule=DATA_ONLY)})
    report = run_audit(tmp_path, keyless_only=True)
    assert not [f for f in report.findings if f.rule == "SM003"]
