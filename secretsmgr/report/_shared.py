"""Small helpers every reporter shares: counting words, worst severity, grouping by path."""

from __future__ import annotations

import posixpath
from collections.abc import Iterable

from secretsmgr.audit.finding import AuditReport, Finding, LayerSummary, Place, Severity
from secretsmgr.plural import plural

__all__ = ["plural"]  # re-exported: the reporters count with it


# rules whose findings rest on the cluster key: beside them, check names how it chose that key
KEY_RULES = frozenset({"SM004", "SM005", "SM016"})


def worst(findings: Iterable[Finding]) -> Severity | None:
    """The most severe severity among ``findings``, None when there is none."""
    best: Severity | None = None
    for finding in findings:
        if best is None or finding.severity.rank > best.rank:
            best = finding.severity
    return best


def sorted_findings(report: AuditReport) -> list[Finding]:
    """Findings in report order: (path, rule, key path)."""
    return sorted(report.findings, key=lambda f: f.sort_key)


def by_path(report: AuditReport) -> dict[str, list[Finding]]:
    """Findings grouped by path, each group in report order."""
    groups: dict[str, list[Finding]] = {}
    for finding in sorted_findings(report):
        groups.setdefault(finding.path, []).append(finding)
    return groups


def counts_phrase(report: AuditReport) -> str:
    """``2 errors, 1 warning, 1 info (1 suppressed)`` or ``no findings``."""
    parts = [
        plural(report.count(Severity.ERROR), "error"),
        plural(report.count(Severity.WARNING), "warning"),
        plural(report.count(Severity.INFO), "info"),
    ]
    shown = [p for p in parts if not p.startswith("0 ")] or ["no findings"]
    text = ", ".join(shown)
    extra = [f"{report.suppressed} suppressed"] if report.suppressed else []
    if report.baselined:
        extra.append(f"{report.baselined} already present")
    if extra:
        text += f" ({', '.join(extra)})"
    return text


LayerKey = tuple[str | None, str]  # (cluster, layer name)


def file_layers(report: AuditReport) -> dict[str, tuple[LayerKey, ...]]:
    """Every path the report knows -> the (cluster, layer) pairs applying it, in report order."""
    order = {layer.key: i for i, layer in enumerate(report.layers)}
    known: dict[str, list[LayerKey]] = {path: list(keys) for path, keys in report.file_layers}
    for layer in report.layers:
        for path in layer.sops_files:
            keys = known.setdefault(path, [])
            if layer.key not in keys:
                keys.append(layer.key)
    for finding in report.findings:
        keys = known.setdefault(finding.path, [])
        keys.extend(k for k in finding.placements if k not in keys)
    for path in report.sops_files:
        known.setdefault(path, [])
    return {
        path: tuple(sorted(keys, key=lambda k: order.get(k, len(order))))
        for path, keys in known.items()
    }


def multi_cluster(report: AuditReport) -> bool:
    """Whether the report spans more than one cluster (then output names them)."""
    return len({layer.cluster for layer in report.layers}) > 1


def relative(path: str, root: str) -> str:
    """``path`` relative to the layer ``root`` when it lies under it, else unchanged."""
    root = root.strip("/")
    if root in ("", "."):
        return path
    if path.startswith(root + "/"):
        return posixpath.relpath(path, root)
    return path


def heading(layer: LayerSummary) -> str:
    """``name  (path, decryption …, dependsOn …)``; an external or unresolved layer says so."""
    if layer.external is not None:
        return f"{layer.name}  (external source {layer.external}: its files are not judged)"
    if layer.unresolved:
        names = ", ".join("${" + v + "}" for v in layer.unresolved)
        return f"{layer.name}  (spec.path uses {names}, not known here: no file mapped)"
    parts = [layer.path or "."]
    parts.append(f"decryption {layer.decryption}" if layer.decryption else "no decryption")
    if layer.depends_on:
        parts.append("dependsOn " + ", ".join(layer.depends_on))
    return f"{layer.name}  ({', '.join(parts)})"


def cluster_heading(name: str | None) -> str:
    """``cluster staging``, or the implicit cluster of a repository without a root."""
    return f"cluster {name}" if name is not None else "layers outside any cluster root"


_CONTROL = {i: f"\\x{i:02x}" for i in (*range(32), 127)} | {10: "\\n", 13: "\\r", 9: " "}


def one_line(text: str) -> str:
    """``text`` safe for one terminal line: control characters (ESC, CR, LF…) made visible."""
    return text.translate(_CONTROL)


def primary_place(finding: Finding) -> Place:
    """Where a reader is sent: where the fix goes (``fix_at``), else the finding's own line."""
    return finding.fix_at or Place(finding.path, finding.line)


def ignored_line(finding: Finding, why: str) -> str:
    """An error the change's own settings or baseline hide, in one line (no value)."""
    at = f" at {finding.key_path}" if finding.key_path else ""
    return f"{finding.rule} {finding.path}{at}" + (f" ({why})" if why else "")


def hidden_message(finding: Finding, why: str) -> str:
    """The sentence a machine-read report gives one such error."""
    return f"this change's own settings or baseline hide an error: {ignored_line(finding, why)}"
