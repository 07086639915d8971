"""What kustomize-controller itself is told in the repository's manifests: the Secret its
``--sops-age-secret`` flag names, which it decrypts with when a Kustomization's ``decryption``
names no ``secretRef`` (set by a FluxInstance or a kustomize patch of the controller)."""

from __future__ import annotations

import re
from pathlib import Path

from secretsmgr.repo.snapshot import WorktreeSnapshot

# kustomize-controller's flag naming the Secret (in its own namespace) it decrypts with when a
# Kustomization's decryption names none (a flux-operator FluxInstance patch, 00o-sh): only as a
# whole YAML value, a container argument or a patch's ``value:`` (the review: a comment's
# prose and a commented-out patch were read as the flag)
_SOPS_AGE_SECRET_FLAG = re.compile(
    rb"^[ \t]*(?:-[ \t]+)?(?:value:[ \t]*)?([\"']?)--sops-age-secret="
    rb"([a-z0-9](?:[-a-z0-9.]*[a-z0-9])?)\1[ \t]*$",
    re.MULTILINE,
)


def controller_age_secrets(root: Path) -> tuple[str, ...]:
    """The Secrets kustomize-controller's ``--sops-age-secret`` flag names in the repository's
    manifests, each once: only in files that name the controller too (its Deployment, a
    FluxInstance or kustomize patch targeting it; the second review: an example file's
    ``args`` changed the answer). Several: which cluster's controller takes which is not
    told here, and the caller asks."""
    snap = WorktreeSnapshot(root)
    found: dict[str, None] = {}
    for rel in snap.paths:
        if not rel.endswith((".yaml", ".yml")):
            continue
        try:
            data = snap.read(rel)
        except OSError:
            continue
        if b"--sops-age-secret=" in data and b"kustomize-controller" in data:
            found.update((m.group(2).decode(), None) for m in _SOPS_AGE_SECRET_FLAG.finditer(data))
    return tuple(found)
