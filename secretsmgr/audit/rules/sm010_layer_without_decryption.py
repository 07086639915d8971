"""SM010 layer-without-decryption: Flux applies the file still encrypted."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from secretsmgr.audit.context import AuditContext
from secretsmgr.audit.finding import Finding, Place, Rule, RuleId, Severity
from secretsmgr.repo.inventory import ScannedFile
from secretsmgr.repo.layers import FLUX_KUSTOMIZE_GROUP, Layer
from secretsmgr.sops.document import FileFormat
from secretsmgr.sops.locate import key_lines

_MARKER = FLUX_KUSTOMIZE_GROUP.encode("ascii")


@dataclass(frozen=True, slots=True)
class SpecLine:
    """Where a Flux Kustomization's ``spec`` starts (where ``decryption`` goes)."""

    path: str
    name: str
    line: int


def detect(file: ScannedFile) -> list[SpecLine]:
    """The ``spec`` line of every Flux Kustomization in a YAML file."""
    if file.format is not FileFormat.YAML or _MARKER not in file.data:
        return []
    try:
        text = file.data.decode("utf-8")
    except UnicodeDecodeError:
        return []
    return [
        SpecLine(file.path, doc.name, doc.lines["spec"])
        for doc in key_lines(text, FileFormat.YAML)
        if doc.kind == "Kustomization" and doc.name is not None and "spec" in doc.lines
    ]


def _why(layer: Layer) -> str:
    if layer.decryption is None:
        return "has no spec.decryption"
    provider = layer.decryption.provider or "(none)"
    return f"has decryption provider {provider}, not sops"


def check(ctx: AuditContext) -> Iterator[Finding]:
    """SOPS files reached by a layer whose Flux Kustomization does not decrypt sops.

    The finding is on the SOPS file; the message names the layer and its manifest.
    """
    if not ctx.repo.layers.layers:
        return
    spec_lines: dict[tuple[str, str], int] = {}
    for hit in ctx.repo.hits_of(RULE.id):
        assert isinstance(hit, SpecLine)
        spec_lines.setdefault((hit.path, hit.name), hit.line)
    for entry in ctx.repo.sops_files:
        if not entry.has_metadata:
            continue
        bad = [
            layer
            for layer in ctx.repo.layers.layers
            if entry.path in layer.files and not layer.decrypts_sops
        ]
        if not bad:
            continue
        parts = [f"layer {layer.name} ({layer.source}) {_why(layer)}" for layer in bad]
        yield RULE.finding(
            entry.path,
            "; ".join(parts) + ": Flux applies this file still encrypted",
            fix=f"add spec.decryption {{provider: sops, secretRef: {{name: sops-age}}}} "
            f"to {bad[0].source}",
            fix_at=Place(bad[0].source, spec_lines.get((bad[0].source, bad[0].name))),
        )


RULE = Rule(
    id=RuleId("SM010"),
    name="layer-without-decryption",
    severity=Severity.ERROR,
    needs=frozenset(),
    summary="A SOPS file in a layer whose Kustomization has no sops decryption",
    check=check,
    detect=detect,
)
