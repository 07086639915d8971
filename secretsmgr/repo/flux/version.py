"""Which kustomize-controller a repository runs, read from the repository itself.

The kustomize-controller image in the committed Flux components (``gotk-components.yaml``,
``ghcr.io/fluxcd/kustomize-controller:v1.4.0``), the ``# Flux Version: v2.4.0`` line flux
bootstrap writes above them, or a flux-operator ``FluxInstance``'s ``spec.distribution.version``
(``2.4.x``, ``2.x``), or the tag of an ``OCIRepository`` of ``oci://ghcr.io/fluxcd/flux-manifests``
(Flux installing itself from its release artifact), or a release of ``github.com/fluxcd/flux2``
(a ``GitRepository`` at a tag, a kustomization's ``manifests/install?ref=…``). Flux 2.N ships
kustomize-controller 1.N, so all map to one number; a Flux 0.x release to "some v0.x".
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
    # read from a release a file names (fluxcd/flux2 at a tag), not from the components or the
    # FluxInstance that install the controller: how the controller runs is not seen
    named: bool = False

    @property
    def assumed(self) -> bool:
        """Whether the repository does not state its Flux version."""
        return self.origin is None

    @property
    def label(self) -> str:
        """``kustomize-controller v1.4.0 (Flux 2.4)``."""
        return f"{self._controller} ({self._flux})"

    def describe(self) -> str:
        """``kustomize-controller v1.4.0 (Flux 2.4, from clusters/x/gotk-components.yaml)``."""
        where = f"from {self.origin}" if self.origin else "assumed: the repository does not say"
        return f"{self._controller} ({self._flux}, {where})"

    @property
    def _controller(self) -> str:
        if self.controller == BEFORE_V1:
            return "kustomize-controller v0.x"
        return "kustomize-controller v{}.{}.{}".format(*self.controller)

    @property
    def _flux(self) -> str:
        major, minor, _patch = self.controller
        return f"Flux 2.{minor}" if major >= 1 else "Flux before 2.0"

    @property
    def decrypts_component_sources(self) -> bool:
        """Whether SOPS generator sources in Components and SOPS patches are decrypted."""
        return self.controller >= DECRYPTS_COMPONENT_SOURCES


ASSUMED = FluxVersion(CURRENT, None)
# Flux 0.x named by its release (a tag of fluxcd/flux2), not by its controller's version: some
# kustomize-controller v0.y, older than every feature the model asks about
BEFORE_V1 = (0, 0, 0)


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
    if not isinstance(doc, dict) or doc.get("kind") not in ("OCIRepository", "GitRepository"):
        return None
    spec = doc.get("spec")
    if not isinstance(spec, dict):
        return None
    ref = spec.get("ref")
    tag = ref.get("tag") if isinstance(ref, dict) else None
    if not isinstance(tag, str):
        return None
    if doc.get("kind") == "GitRepository":
        # Flux's own repository at a release tag, applying its manifests (sweep 95,
        # SinLess-Games/Production-Cluster: `tag: "v0.31.3"` of github.com/fluxcd/flux2)
        if not _FLUX2_REPO.match(str(spec.get("url", "")).strip()):
            return None
        found = _RELEASE_TAG.match(tag.strip())
        return _release(*found.groups()) if found is not None else None
    if not _MANIFESTS.match(str(spec.get("url", ""))):
        return None
    m = _TAG.match(tag.strip())
    return (1, int(m.group(1)), int(m.group(2))) if m is not None else None


_FLUX2_REPO = re.compile(r"^(?:https?://|ssh://git@|git@)?github\.com[/:]fluxcd/flux2(?:\.git)?/?$")
_RELEASE_TAG = re.compile(r"^v?(0|2)\.(\d+)\.(\d+)$")
# kustomize's remote resource of Flux's install manifests at a release, or its release asset
_INSTALL_REF = re.compile(
    rb"github\.com/fluxcd/flux2/(?:/?manifests/install/?\?ref=|releases/download/)"
    rb"v?(0|2)\.(\d+)\.(\d+)\b"
)


def _release(major: str, minor: str, patch: str) -> tuple[int, int, int]:
    """The kustomize-controller of Flux release ``major.minor.patch``: 1.N for Flux 2.N."""
    return (1, int(minor), int(patch)) if major == "2" else BEFORE_V1


def from_install_reference(data: bytes) -> tuple[int, int, int] | None:
    """The kustomize-controller of Flux's install manifests a kustomization takes from GitHub
    at a release (``github.com/fluxcd/flux2/manifests/install?ref=v0.31.1``), or None."""
    for line in data.splitlines():
        if line.lstrip().startswith(b"#"):
            continue  # a line switched off (the review of stop 51: it set the version)
        m = _INSTALL_REF.search(line)
        if m is not None:
            return _release(*(g.decode() for g in m.groups()))
    return None


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
