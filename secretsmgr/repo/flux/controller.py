"""What kustomize-controller itself is told in the repository's manifests: the Secret its
``--sops-age-secret`` flag names, which it decrypts with when a Kustomization's ``decryption``
names no ``secretRef`` (set by a FluxInstance or a kustomize patch of the controller)."""

from __future__ import annotations

import re
from pathlib import Path

from secretsmgr.repo.snapshot import WorktreeSnapshot

# kustomize-controller's flag naming the Secret (in its own namespace) it decrypts with when a
# Kustomization's decryption names none (a flux-operator FluxInstance patch, 00o-sh)
_SOPS_AGE_SECRET_FLAG = re.compile(rb"--sops-age-secret[= ]\"?([a-z0-9](?:[-a-z0-9.]*[a-z0-9])?)")


def controller_age_secret(root: Path) -> str | None:
    """The Secret ``--sops-age-secret`` names in the repository's manifests, if one does."""
    snap = WorktreeSnapshot(root)
    for rel in snap.paths:
        if not rel.endswith((".yaml", ".yml")):
            continue
        try:
            data = snap.read(rel)
        except OSError:
            continue
        found = _SOPS_AGE_SECRET_FLAG.search(data) if b"--sops-age-secret" in data else None
        if found:
            return found.group(1).decode()
    return None
