"""Which kustomize-controller a repository runs, read from the repository itself.

The kustomize-controller image in the committed Flux components (``gotk-components.yaml``,
``ghcr.io/fluxcd/kustomize-controller:v1.4.0``), the ``# Flux Version: v2.4.0`` line flux
bootstrap writes above them, or a flux-operator ``FluxInstance``'s ``spec.distribution.version``
(``2.4.x``, ``2.x``), or the tag of an ``OCIRepository`` of ``oci://ghcr.io/fluxcd/flux-manifests``
(Flux installing itself from its release artifact). Flux 2.N ships kustomize-controller 1.N, so
all map to one number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# What the model assumes when the repository does not say: the current release line.
CURRENT = (1, 9, 4)
# kustomize-controller v1.5.0 (Flux 2.5) decrypts generator sources inside Components and
# SOPS files used as patches (its source walk recurses into components and visits patches).
DECRYPTS_COMPONENT_SOURCES = (1, 5, 0)

_IMAGE = re.compile(rb"fluxcd/kustomize-controller:v(\d+)\.(\d+)\.(\d+)")
_FLUX_LINE = re.compile(rb"^#\s*Flux\s+Version:\s*v?(\d+)\.(\d+)(?:\.(\d+))?", re.MULTILINE)
_INSTANCE = re.compile(r"^\s*v?(\d+)(?:\.(\d+|x|\*))?(?:\.(\d+|x|\*))?")


@dataclass(frozen=True, slots=True)
class FluxVersion:
    """A kustomize-controller version and where it was read (``assumed`` when nowhere)."""

    controller: tuple[int, int, int]
    origin: str | None  # the file it was read from; None = assumed

    @property
    def assumed(self) -> bool:
        """Whether the repository does not state its Flux version."""
        return self.origin is None

    @property
    def label(self) -> str:
        """``kustomize-controller v1.4.0 (Flux 2.4)``."""
        major, minor, patch = self.controller
        return f"kustomize-controller v{major}.{minor}.{patch} (Flux 2.{minor})"

    def describe(self) -> str:
        """``kustomize-controller v1.4.0 (Flux 2.4, from clusters/x/gotk-components.yaml)``."""
        major, minor, patch = self.controller
        where = f"from {self.origin}" if self.origin else "assumed: the repository does not say"
        return f"kustomize-controller v{major}.{minor}.{patch} (Flux 2.{minor}, {where})"

    @property
    def decrypts_component_sources(self) -> bool:
        """Whether SOPS generator sources in Components and SOPS patches are decrypted."""
        return self.controller >= DECRYPTS_COMPONENT_SOURCES


ASSUMED = FluxVersion(CURRENT, None)


def from_manifest_bytes(data: bytes) -> tuple[int, int, int] | None:
    """The kustomize-controller version committed Flux components pin, or None."""
    m = _IMAGE.search(data)
    if m is not None:
        return (int(m.group(1)), int(m.group(2)), int(m.group(3)))
    line = _FLUX_LINE.search(data)
    if line is not None and line.group(1) == b"2":
        return (1, int(line.group(2)), int(line.group(3) or 0))
    return None


_MANIFESTS = re.compile(r"^oci://ghcr\.io/fluxcd/flux-manifests/?$")
# a tag, also pinned to its digest as Renovate writes it (``v2.9.4@sha256:…``)
_TAG = re.compile(r"^v?2\.(\d+)\.(\d+)(?:@sha256:[0-9a-f]{64})?$")


def from_manifests_source(doc: object) -> tuple[int, int, int] | None:
    """The kustomize-controller of an ``OCIRepository`` that pulls Flux's own release
    manifests at a tag (``ref.tag: v2.4.0``), or None for any other object."""
    if not isinstance(doc, dict) or doc.get("kind") != "OCIRepository":
        return None
    spec = doc.get("spec")
    if not isinstance(spec, dict) or not _MANIFESTS.match(str(spec.get("url", ""))):
        return None
    ref = spec.get("ref")
    tag = ref.get("tag") if isinstance(ref, dict) else None
    m = _TAG.match(tag.strip()) if isinstance(tag, str) else None
    return (1, int(m.group(1)), int(m.group(2))) if m is not None else None


def from_instance(version: str | None) -> tuple[int, int, int] | None:
    """The kustomize-controller of a FluxInstance ``distribution.version`` (``2.4.x``, ``2.x``)."""
    if not version:
        return None
    m = _INSTANCE.match(version.strip().lstrip(">=~^ "))
    if m is None or m.group(1) != "2":
        return None
    minor = m.group(2)
    if minor is None or not minor.isdigit():
        return CURRENT  # "2.x": the latest 2.y release
    patch = m.group(3)
    return (1, int(minor), int(patch) if patch is not None and patch.isdigit() else 0)
