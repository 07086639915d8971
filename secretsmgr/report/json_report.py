"""The contract's JSON report (``version: 1``): stable key order, sorted findings."""

from __future__ import annotations

from typing import Any

from secretsmgr.audit.finding import AuditReport, Finding, Severity
from secretsmgr.report._shared import sorted_findings
from secretsmgr.shellword import json_text

SCHEMA_VERSION = 1


def finding_dict(finding: Finding) -> dict[str, Any]:
    """One finding as the contract spells it (keys in contract order)."""
    out: dict[str, Any] = {
        "rule": finding.rule,
        "name": finding.name,
        "severity": finding.severity.value,
        "path": finding.path,
        "cluster": finding.cluster,
        "layer": finding.layer,
        "layers": list(finding.layers),
        "clusters": list(finding.clusters),
        "key_path": finding.key_path,
        "message": finding.message,
    }
    if finding.document is not None:
        out["document"] = finding.document
    if finding.line is not None:
        out["line"] = finding.line
    return out


def report_dict(report: AuditReport) -> dict[str, Any]:
    """The whole report as plain data."""
    return {
        "version": SCHEMA_VERSION,
        "findings": [finding_dict(f) for f in sorted_findings(report)],
        "summary": {
            "files": report.files,
            "sops_files": len(report.sops_files),
            "layers": len(report.layers),
            "errors": report.count(Severity.ERROR),
            "warnings": report.count(Severity.WARNING),
            "infos": report.count(Severity.INFO),
            "suppressed": report.suppressed,
            "baselined": report.baselined,
            "skipped": [{"rule": rule, "reason": reason} for rule, reason in report.skipped],
            "clusters": len(report.clusters),
            "notes": list(report.notes),
            # errors this change's own settings or baseline hide (check's; see docs/cli.md)
            "hidden_by_change": [
                {"rule": f.rule, "path": f.path, "key_path": f.key_path, "why": why}
                for f, why in report.newly_ignored
            ],
        },
    }


def render(report: AuditReport) -> str:
    """``indent=2`` JSON with a trailing newline; non-ASCII kept as is."""
    return json_text(report_dict(report))
