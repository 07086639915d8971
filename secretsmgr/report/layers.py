"""The ``layers`` view: layers in dependsOn order with files and status (text, JSON, mermaid)."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, assert_never

from secretsmgr.audit.finding import AuditReport, Finding, LayerSummary, Severity
from secretsmgr.report._shared import (
    by_path,
    cluster_heading,
    file_layers,
    heading,
    multi_cluster,
    one_line,
    plural,
    relative,
    worst,
)
from secretsmgr.report.text import MARKS, OK_MARK
from secretsmgr.shellword import json_text

FILLS = {"clean": "#c8e6c9", "warning": "#ffe0b2", "error": "#ffcdd2"}


class LayersFormat(StrEnum):
    """Output formats of ``secretsmgr layers``."""

    TEXT = "text"
    JSON = "json"
    MERMAID = "mermaid"


@dataclass(frozen=True, slots=True)
class _File:
    path: str
    sops: bool
    findings: tuple[Finding, ...]

    @property
    def status(self) -> str:
        severity = worst(self.findings)
        return "clean" if severity is None else severity.value


@dataclass(frozen=True, slots=True)
class _Layer:
    summary: LayerSummary | None  # None: the files no layer reaches
    files: tuple[_File, ...]

    @property
    def findings(self) -> tuple[Finding, ...]:
        return tuple(f for file in self.files for f in file.findings)

    @property
    def status(self) -> str:
        severity = worst(self.findings)
        return "clean" if severity is None else severity.value


def _model(report: AuditReport) -> list[_Layer]:
    """Each shown layer with the files it reaches (SOPS files and any file with a finding)."""
    findings = by_path(report)
    layers_of = file_layers(report)
    sops = set(report.sops_files)
    for layer in report.layers:
        sops.update(layer.sops_files)

    def entry(path: str) -> _File:
        return _File(path, path in sops, tuple(findings.get(path, ())))

    model = []
    for layer in report.layers:
        paths = sorted(p for p, keys in layers_of.items() if layer.key in keys)
        paths = [p for p in paths if p in sops or p in findings]
        model.append(_Layer(layer, tuple(entry(p) for p in paths)))
    loose = sorted(p for p, keys in layers_of.items() if not keys and (p in sops or p in findings))
    if loose:
        model.append(_Layer(None, tuple(entry(p) for p in loose)))
    return model


def _status_phrase(findings: tuple[Finding, ...]) -> str:
    if not findings:
        return "clean"
    counts = [
        plural(sum(1 for f in findings if f.severity is s), word)
        for s, word in (
            (Severity.ERROR, "error"),
            (Severity.WARNING, "warning"),
            (Severity.INFO, "info"),
        )
    ]
    return ", ".join(c for c in counts if not c.startswith("0 "))


def _is_empty(layer: _Layer) -> bool:
    s = layer.summary
    return s is not None and not layer.files and s.external is None and not s.unresolved


def render_text(report: AuditReport, *, verbose: bool = False) -> str:
    """Layers by cluster, in dependsOn order, each with its files and a status mark; layers
    without SOPS files collapse into one line unless ``verbose``."""
    lines: list[str] = []
    clusters = multi_cluster(report)
    current: object = object()
    hidden = 0
    for layer in _model(report):
        if _is_empty(layer) and not verbose:
            hidden += 1
            continue
        if layer.summary is None:
            lines.append(f"not in any layer  — {_status_phrase(layer.findings)}")
            root = ""
        else:
            if clusters and layer.summary.cluster != current:
                current = layer.summary.cluster
                lines += [one_line(cluster_heading(layer.summary.cluster)), ""]
            lines.append(one_line(f"{heading(layer.summary)}  — {_status_phrase(layer.findings)}"))
            root = layer.summary.path
        if _is_empty(layer):
            lines.append("  (no SOPS files)")
        names = [one_line(relative(file.path, root)) for file in layer.files]
        width = max((len(n) for n in names), default=0)
        for name, file in zip(names, layer.files, strict=True):
            severity = worst(file.findings)
            mark = OK_MARK if severity is None else MARKS[severity]
            rules = " ".join(sorted({f.rule for f in file.findings}))
            lines.append(f"  {mark} {name.ljust(width)}   {rules}".rstrip())
        lines.append("")
    if hidden:
        lines += [f"{plural(hidden, 'layer')} without SOPS files (--verbose lists them)", ""]
    if not lines and not report.notes:
        return "no layers (no Flux Kustomization found)\n"
    if not lines:
        lines = ["no live layers", ""]
    # what the model could not see or Flux would fail on (a build naming a missing file): a
    # layer marked clean above may apply nothing
    lines += [one_line(f"note: {note}") for note in report.notes]
    if report.notes:
        lines.append("")
    return "\n".join(lines)


def render_json(report: AuditReport) -> str:
    """``{"version": 1, "layers": [...], "unlayered": [...]}``, ``indent=2``."""

    def file_dict(file: _File) -> dict[str, Any]:
        return {
            "path": file.path,
            "sops": file.sops,
            "status": file.status,
            "rules": sorted({f.rule for f in file.findings}),
        }

    layers: list[dict[str, Any]] = []
    unlayered: list[dict[str, Any]] = []
    for layer in _model(report):
        files = [file_dict(f) for f in layer.files]
        if layer.summary is None:
            unlayered = files
            continue
        layers.append(
            {
                "name": layer.summary.name,
                "cluster": layer.summary.cluster,
                "namespace": layer.summary.namespace,
                "path": layer.summary.path,
                "external": layer.summary.external,
                "depends_on": list(layer.summary.depends_on),
                "decryption": layer.summary.decryption,
                "status": layer.status,
                "files": files,
            }
        )
    doc = {
        "version": 1,
        "clusters": list(report.clusters),
        "layers": layers,
        "unlayered": unlayered,
        "notes": list(report.notes),
    }
    return json_text(doc)


class _Ids:
    """Mermaid node ids: safe characters only, unique per key."""

    def __init__(self) -> None:
        self._ids: dict[str, str] = {}

    def __call__(self, prefix: str, key: str) -> str:
        full = f"{prefix}:{key}"
        if full not in self._ids:
            base = f"{prefix}_{re.sub(r'[^A-Za-z0-9_]', '_', key) or 'root'}"
            candidate, n = base, 2
            while candidate in self._ids.values():
                candidate, n = f"{base}_{n}", n + 1
            self._ids[full] = candidate
        return self._ids[full]


def _label(text: str) -> str:
    if re.fullmatch(r"[A-Za-z0-9 _.-]+", text):
        return f"[{text}]"
    return '["' + text.replace('"', "#quot;") + '"]'


def _fill(status: str) -> str:
    return FILLS["clean" if status == "info" else status]


def render_mermaid(report: AuditReport) -> str:
    """A ``graph TD`` of layers (dependsOn edges) and services, coloured by status."""
    ids = _Ids()
    model = _model(report)
    lines = ["graph TD"]
    styles: dict[str, str] = {}
    declared: set[str] = set()

    def node(prefix: str, key: str, label: str) -> str:
        node_id = ids(prefix, key)
        if node_id in declared:
            return node_id
        declared.add(node_id)
        return node_id + _label(label)

    clusters = multi_cluster(report)

    def key(cluster: str | None, name: str) -> str:
        return f"{cluster}/{name}" if clusters and cluster is not None else name

    def label(cluster: str | None, name: str) -> str:
        return key(cluster, name)

    for layer in model:
        if layer.summary is not None:
            s = layer.summary
            lines.append("    " + node("L", key(s.cluster, s.name), label(s.cluster, s.name)))
            styles[ids("L", key(s.cluster, s.name))] = layer.status
        else:
            lines.append("    " + node("U", "unlayered", "not in any layer"))
    for layer in model:
        if layer.summary is not None:
            s = layer.summary
            target = ids("L", key(s.cluster, s.name))
            for dep in s.depends_on:
                lines.append(
                    f"    {node('L', key(s.cluster, dep), label(s.cluster, dep))} --> {target}"
                )

    services: dict[str, list[Finding]] = {}
    for layer in model:
        for file in layer.files:
            services.setdefault(posixpath.dirname(file.path), []).extend(file.findings)
    for layer in model:
        if layer.summary is None:
            source, arrow = ids("U", "unlayered"), "-.->"
        else:
            source, arrow = ids("L", key(layer.summary.cluster, layer.summary.name)), "-->"
        for folder in dict.fromkeys(posixpath.dirname(f.path) for f in layer.files):
            name = posixpath.basename(folder) or "(repository root)"
            lines.append(f"    {source} {arrow} {node('S', folder, name)}")
            severity = worst(services[folder])
            styles[ids("S", folder)] = "clean" if severity is None else severity.value
    lines.append("")
    lines.extend(f"    style {node_id} fill:{_fill(status)}" for node_id, status in styles.items())
    return "\n".join(lines) + "\n"


def render(report: AuditReport, fmt: LayersFormat, *, verbose: bool = False) -> str:
    """Dispatch to the renderer of ``fmt``."""
    match fmt:
        case LayersFormat.TEXT:
            return render_text(report, verbose=verbose)
        case LayersFormat.JSON:
            return render_json(report)
        case LayersFormat.MERMAID:
            return render_mermaid(report)
        case _:
            assert_never(fmt)
