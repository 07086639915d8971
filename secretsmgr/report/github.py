"""GitHub Actions workflow commands: one ``::error|warning|notice`` annotation per finding."""

from __future__ import annotations

from secretsmgr.audit.finding import AuditReport, Finding, Severity
from secretsmgr.report._shared import KEY_RULES, hidden_message, primary_place, sorted_findings

COMMANDS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def escape_data(text: str) -> str:
    """Escape a command's message: ``%``, CR and LF."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a property value: as a message, plus ``:`` and ``,``."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(finding: Finding) -> str:
    """The workflow command for one finding (the fix, if any, on a second line), at the line
    of its key path, or where its fix goes when that is another file."""
    message = finding.message
    if finding.key_path and finding.key_path not in message:
        message += f" (at {finding.key_path})"
    if finding.fix:
        message += f"\nfix: {finding.fix}"
    place = primary_place(finding)
    if place.path != finding.path:
        message = f"{finding.path}: {message}"
    props = f"file={escape_property(place.path)}"
    if place.line is not None:
        props += f",line={place.line}"
    props += f",title={escape_property(finding.rule)}"
    return f"::{COMMANDS[finding.severity]} {props}::{escape_data(message)}"


def render(report: AuditReport) -> str:
    """Every finding as an annotation line, in report order; empty when clean. Beside a
    finding that rests on the cluster key, a notice says how that key was chosen."""
    lines = [annotation(f) for f in sorted_findings(report)]
    if any(f.rule in KEY_RULES for f in report.findings):
        lines += [f"::notice title=cluster key::{escape_data(n)}" for n in report.key_notes]
    lines += [
        f"::warning file={escape_property(f.path)}"
        + (f",line={f.line}" if f.line is not None else "")
        + ",title=hidden by this change::"
        + escape_data(hidden_message(f, why))
        for f, why in report.newly_ignored
    ]
    return "".join(line + "\n" for line in lines)
