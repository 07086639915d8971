"""SM015 flux-cannot-decrypt: a SOPS file kustomize-controller will not decrypt."""

from __future__ import annotations

from collections.abc import Iterator

from secretsmgr.audit.context import AuditContext, reencrypt_hint
from secretsmgr.audit.finding import Finding, Rule, RuleId, Severity
from secretsmgr.repo.inventory import DECRYPT_ANNOTATION, FLUX_MARKERS, SopsEntry

MAX_SIZE = 5 * 1024 * 1024  # kustomize-controller's limit for files it decrypts


def _reasons(ctx: AuditContext, entry: SopsEntry) -> list[tuple[str, str]]:
    """(reason, fix) pairs, in a fixed order."""
    reasons: list[tuple[str, str]] = []
    in_component = [
        layer.name for layer in ctx.repo.layers.layers if entry.path in layer.component_files
    ]
    if in_component:
        reasons.append(
            (
                f"reached through a kustomize Component (layer {', '.join(in_component)})",
                "list it under resources: of a kustomization.yaml instead of a Component",
            )
        )
    if entry.size > MAX_SIZE:
        reasons.append(
            (
                f"{entry.size / (1024 * 1024):.1f} MiB is over the 5 MiB limit",
                "split it into smaller files",
            )
        )
    if entry.decrypt_disabled:
        reasons.append(
            (
                f"annotated {DECRYPT_ANNOTATION}: Disabled",
                f"remove the {DECRYPT_ANNOTATION} annotation",
            )
        )
    if entry.bare_documents:
        numbers = ", ".join(str(n) for n in entry.bare_documents)
        noun = "document" if len(entry.bare_documents) == 1 else "documents"
        reasons.append(
            (
                f"{noun} {numbers} carry no sops block of their own",
                reencrypt_hint(entry.path),
            )
        )
    generator = [
        layer.name for layer in ctx.repo.layers.layers if entry.path in layer.generator_files
    ]
    if generator and not entry.has_flux_marker:
        marker = FLUX_MARKERS[entry.format].decode()
        reasons.append(
            (
                f"a generator input (layer {', '.join(generator)}) without the exact "
                f"marker '{marker}' Flux looks for",
                reencrypt_hint(entry.path),
            )
        )
    return reasons


def check(ctx: AuditContext) -> Iterator[Finding]:
    """One finding per SOPS file naming every reason Flux will leave it encrypted."""
    for entry in ctx.repo.sops_files:
        if entry.sops_file is None:
            continue
        reasons = _reasons(ctx, entry)
        if reasons:
            yield RULE.finding(
                entry.path,
                "Flux will not decrypt it: " + "; ".join(r for r, _ in reasons),
                fix=reasons[0][1],
            )


RULE = Rule(
    id=RuleId("SM015"),
    name="flux-cannot-decrypt",
    severity=Severity.ERROR,
    needs=frozenset(),
    summary="A SOPS file Flux will not decrypt: in a Component, over 5 MiB, decrypt: Disabled",
    check=check,
)
