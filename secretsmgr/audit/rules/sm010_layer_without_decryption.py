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


def _name(layer: Layer, clusters: bool) -> str:
    return f"{layer.label}" if clusters else layer.name


def check(ctx: AuditContext) -> Iterator[Finding]:
    """SOPS files a live layer applies although its Flux Kustomization does not decrypt sops.

    The decryption is the layer's own after its parent's ``spec.patches`` (a parent that adds
    ``spec.decryption`` to every child is honoured). Files under an ``outside_flux:`` glob are
    never reported. The finding is on the SOPS file; the message names the layer and manifest.
    """
    graph = ctx.repo.layers
    if not graph.layers:
        return
    clusters = len(graph.clusters) > 1
    for entry in ctx.repo.sops_files:
        if not entry.has_metadata or ctx.repo.settings.is_outside_flux(entry.path):
            continue
        bad = [layer for layer in graph.placements(entry.path) if not layer.decrypts_sops]
        if not bad:
            continue
        parts = [f"layer {_name(x, clusters)} ({x.source}) {_why(x)}" for x in bad]
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
