"""SM010 layer-without-decryption: Flux applies the file still encrypted."""

from __future__ import annotations

from collections.abc import Iterator

from secretsmgr.audit.context import AuditContext
from secretsmgr.audit.finding import Finding, Rule, RuleId, Severity
from secretsmgr.repo.flux import Layer


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
        )


RULE = Rule(
    id=RuleId("SM010"),
    name="layer-without-decryption",
    severity=Severity.ERROR,
    needs=frozenset(),
    summary="A SOPS file in a layer whose Kustomization has no sops decryption",
    check=check,
)
