"""SARIF 2.1.0 for code-scanning upload: rules from the registry, one result per finding."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from secretsmgr import __version__
from secretsmgr.audit.finding import AuditReport, Finding, Rule, Severity
from secretsmgr.report._shared import sorted_findings

SARIF_SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
SARIF_VERSION = "2.1.0"
INFORMATION_URI = "https://github.com/secretsmgr/secretsmgr"
HELP_URI = INFORMATION_URI + "/blob/main/docs/rules/{id}.md"
FINGERPRINT = "secretsmgr/v1"
LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def fingerprint(finding: Finding) -> str:
    """sha256 of (rule, path, key path): stable across line moves and runs."""
    raw = "\0".join((finding.rule, finding.path, finding.key_path or ""))
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def rule_descriptor(rule: Rule) -> dict[str, Any]:
    """A ``reportingDescriptor`` for one registered rule."""
    return {
        "id": rule.id,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "helpUri": HELP_URI.format(id=rule.id),
        "defaultConfiguration": {"level": LEVELS[rule.severity]},
        "properties": {
            "needs": sorted(need.value for need in rule.needs),
            "tags": ["security", "secrets"],
        },
    }


def result(finding: Finding, index: int | None) -> dict[str, Any]:
    """A SARIF ``result`` for one finding (``ruleIndex`` when the rule is registered)."""
    entry: dict[str, Any] = {"ruleId": finding.rule}
    if index is not None:
        entry["ruleIndex"] = index
    entry["level"] = LEVELS[finding.severity]
    entry["message"] = {"text": finding.message}
    entry["locations"] = [
        {
            "physicalLocation": {
                "artifactLocation": {"uri": finding.path, "uriBaseId": "%SRCROOT%"},
                "region": {"startLine": 1},
            }
        }
    ]
    entry["partialFingerprints"] = {FINGERPRINT: fingerprint(finding)}
    properties: dict[str, Any] = {"layers": list(finding.layers)}
    if finding.key_path:
        properties["keyPath"] = finding.key_path
    if finding.fix:
        properties["fix"] = finding.fix
    entry["properties"] = properties
    return entry


def render(report: AuditReport, rules: Sequence[Rule]) -> str:
    """The SARIF log, ``indent=2`` with a trailing newline."""
    index = {rule.id: i for i, rule in enumerate(rules)}
    log = {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "secretsmgr",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "informationUri": INFORMATION_URI,
                        "rules": [rule_descriptor(rule) for rule in rules],
                    }
                },
                "results": [result(f, index.get(f.rule)) for f in sorted_findings(report)],
            }
        ],
    }
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"
