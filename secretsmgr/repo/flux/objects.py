"""The Flux objects the model reads, parsed leniently from manifest documents.

A malformed field never stops the model: it is recorded as a problem on the object (the report
shows it as a note) and the field is taken as absent. Only the fields that decide what Flux
applies and decrypts are read.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import cast

KUSTOMIZE_GROUP = "kustomize.toolkit.fluxcd.io"
SOURCE_GROUP = "source.toolkit.fluxcd.io"
OPERATOR_GROUP = "fluxcd.controlplane.io"
SOURCE_KINDS = frozenset({"GitRepository", "OCIRepository", "Bucket", "ExternalArtifact"})
# Bytes that a file holding any object the model reads must contain (a cheap pre-filter).
MARKERS = (b"toolkit.fluxcd.io", OPERATOR_GROUP.encode("ascii"), b"kustomize-controller")


@dataclass(frozen=True, slots=True)
class Ref:
    """A namespaced object reference, ``Kind/namespace/name``."""

    kind: str
    namespace: str
    name: str

    @property
    def label(self) -> str:
        """``OCIRepository/flux-system/cluster``."""
        return f"{self.kind}/{self.namespace}/{self.name}"


_PGP_WORD = re.compile(r"(?i)(?:^|[-_.])(?:gpg|pgp|gnupg|openpgp)(?:$|[-_.])")


def pgp_secret_name(name: str) -> bool:
    """Whether a decryption Secret's name says it holds PGP keys (``sops-gpg``, as in Flux's
    PGP guide): the word, not the letters inside another (``pgpool-sops``: the attack review
    of sweep 84)."""
    return _PGP_WORD.search(name) is not None


@dataclass(frozen=True, slots=True)
class Decryption:
    """``spec.decryption``; ``secret_ref`` None = the controller-wide key."""

    provider: str
    secret_ref: str | None

    @property
    def is_sops(self) -> bool:
        """Whether Flux decrypts SOPS files with it."""
        return self.provider == "sops"

    def describe(self) -> str:
        """``sops/sops-age`` or ``sops (controller key)``."""
        provider = self.provider or "(no provider)"
        return (
            f"{provider}/{self.secret_ref}" if self.secret_ref else f"{provider} (controller key)"
        )


@dataclass(frozen=True, slots=True)
class SubstituteFrom:
    """One ``postBuild.substituteFrom`` entry."""

    kind: str
    name: str
    optional: bool


def as_map(value: object) -> dict[str, object] | None:
    """``value`` as a string-keyed mapping, or None."""
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return cast(dict[str, object], value)
    return None


def go_fields(value: object, fields: Iterable[str]) -> dict[str, object] | None:
    """``value`` as a mapping keyed the way Go's ``encoding/json`` fills a struct with ``fields``.

    A key names the field it equals, else the field it equals ignoring case; of several keys for
    one field, the one that sorts last wins (Go's map order); a key no field matches stays.
    kustomize reads ``kustomization.yaml`` so: ``secretgenerator:`` is its ``secretGenerator``.
    (Flux's own objects go through the API server, which matches field names exactly.)
    """
    data = as_map(value)
    if data is None:
        return None
    names = tuple(fields)
    exact = set(names)
    folded: dict[str, str] = {}
    for name in names:
        folded.setdefault(name.casefold(), name)
    out: dict[str, object] = {}
    # kustomize turns the YAML into JSON through a Go map, whose keys come out sorted: of two
    # spellings of one field, the one that sorts last fills it, wherever it was written
    for key, item in sorted(data.items()):
        out[key if key in exact else folded.get(key.casefold(), key)] = item
    return out


def go_field(data: Mapping[str, object], name: str) -> tuple[str, object] | None:
    """(the key as written, its value) of the field ``name`` as ``go_fields`` reads it (any
    case; of several, the one that sorts last), or None. Keys that are no strings are skipped."""
    folded = name.casefold()
    found: tuple[str, object] | None = None
    for key, item in sorted((k, v) for k, v in data.items() if isinstance(k, str)):
        if key == name or key.casefold() == folded:
            found = (key, item)
    return found


def as_list(value: object) -> list[object]:
    """``value`` as a list ([] for None or anything else)."""
    return cast(list[object], value) if isinstance(value, list) else []


def as_str(value: object) -> str | None:
    """``value`` when it is a string, else None."""
    return value if isinstance(value, str) else None


def api_group(doc: Mapping[str, object]) -> str:
    """The API group of a manifest (``""`` for the core group)."""
    api = as_str(doc.get("apiVersion")) or ""
    return api.rpartition("/")[0] if "/" in api else ""


def meta(doc: Mapping[str, object]) -> dict[str, object]:
    """``metadata`` of a manifest ({} when absent or malformed)."""
    return as_map(doc.get("metadata")) or {}


def is_flux_kustomization(doc: Mapping[str, object]) -> bool:
    """Whether ``doc`` is a ``kustomize.toolkit.fluxcd.io`` Kustomization."""
    return doc.get("kind") == "Kustomization" and api_group(doc) == KUSTOMIZE_GROUP


def is_source(doc: Mapping[str, object]) -> bool:
    """Whether ``doc`` is a Flux source (GitRepository, OCIRepository, Bucket, …)."""
    return doc.get("kind") in SOURCE_KINDS and api_group(doc) == SOURCE_GROUP


# Flux objects besides the sources that read credentials from ``spec.secretRef``: a chart
# repository's or an image registry's login, a notification provider's token or a receiver's
# (the attack review of stop 49: a HelmRepository's Secret could be replaced whole)
_CREDENTIAL_KINDS = {
    ("HelmRepository", SOURCE_GROUP),
    ("ImageRepository", "image.toolkit.fluxcd.io"),
    ("Provider", "notification.toolkit.fluxcd.io"),
    ("Receiver", "notification.toolkit.fluxcd.io"),
}


def credential_reader(doc: Mapping[str, object]) -> tuple[str | None, str, str] | None:
    """(its own namespace or None, the Secret's name, ``Kind name``) of a Flux object of
    ``_CREDENTIAL_KINDS`` that reads credentials from ``spec.secretRef``; None for any other."""
    kind = as_str(doc.get("kind"))
    if kind is None or (kind, api_group(doc)) not in _CREDENTIAL_KINDS:
        return None
    secret = as_str((as_map((as_map(doc.get("spec")) or {}).get("secretRef")) or {}).get("name"))
    md = meta(doc)
    name = as_str(md.get("name"))
    if not secret or not name:
        return None
    return as_str(md.get("namespace")) or None, secret, f"{kind} {name}"


def is_flux_instance(doc: Mapping[str, object]) -> bool:
    """Whether ``doc`` is a flux-operator FluxInstance."""
    return doc.get("kind") == "FluxInstance" and api_group(doc) == OPERATOR_GROUP


def normalize_spec_path(raw: str) -> str:
    """A Flux ``spec.path`` as a normalized relative path ("." for the root)."""
    text = raw.strip()
    while text.startswith("./"):
        text = text[2:]
    text = text.lstrip("/")
    return posixpath.normpath(text) if text else "."


@dataclass(frozen=True, slots=True)
class FluxKustomization:
    """A Flux Kustomization as the model reads it (after its parent's patches and
    substitution, when it was found in a parent's build)."""

    name: str
    namespace: str
    path: str  # as written (may still hold ${VARS}); normalize_spec_path() for use
    source: Ref
    depends_on: tuple[tuple[str, str], ...]
    decryption: Decryption | None
    components: tuple[str, ...]
    patches: tuple[Mapping[str, object], ...] = field(repr=False)
    target_namespace: str | None
    name_prefix: str
    name_suffix: str
    substitute: Mapping[str, str] = field(repr=False)
    substitute_from: tuple[SubstituteFrom, ...]
    origin: str  # the file that defines it
    problems: tuple[str, ...] = ()
    path_given: bool = True  # False: no spec.path, so the whole tree of its source
    # the API server refuses it (its schema wants a mapping spec and a string spec.path): it
    # never exists in the cluster and applies nothing; ``problems`` says why
    rejected: bool = False

    @property
    def key(self) -> tuple[str, str]:
        """(namespace, name): unique within one cluster."""
        return (self.namespace, self.name)


def parse_kustomization(doc: Mapping[str, object], origin: str) -> FluxKustomization | None:
    """A Flux Kustomization from its manifest; None when it has no name."""
    problems: list[str] = []
    md = meta(doc)
    name = as_str(md.get("name"))
    if not name:
        return None
    namespace = as_str(md.get("namespace")) or "flux-system"
    spec = as_map(doc.get("spec"))
    rejected = spec is None
    if spec is None:
        problems.append("spec is not a mapping")
        spec = {}
    raw_path = spec.get("path")
    path_given = raw_path is not None
    path = as_str(raw_path) if raw_path is not None else "."
    if path is None:
        # sweep 22, kptasznik/homelab: ``path:`` holding a list item (``- ./apps/prod``) was
        # read as the whole repository, which made the layer a cluster root of its own
        problems.append("spec.path is not a string")
        rejected = True
        path = "."
    if rejected:
        problems[-1] += ": Flux refuses this Kustomization, which applies nothing"
    source_map = as_map(spec.get("sourceRef")) or {}
    source = Ref(
        as_str(source_map.get("kind")) or "GitRepository",
        as_str(source_map.get("namespace")) or namespace,
        as_str(source_map.get("name")) or "",
    )
    deps: list[tuple[str, str]] = []
    for entry in as_list(spec.get("dependsOn")):
        dep = as_map(entry)
        dep_name = as_str(dep.get("name")) if dep else None
        if not dep or not dep_name:
            problems.append("a spec.dependsOn entry has no name")
            continue
        deps.append((dep_name, as_str(dep.get("namespace")) or namespace))
    decryption: Decryption | None = None
    raw_dec = spec.get("decryption")
    if raw_dec is not None:
        dec = as_map(raw_dec) or {}
        ref = as_map(dec.get("secretRef")) or {}
        decryption = Decryption(as_str(dec.get("provider")) or "", as_str(ref.get("name")) or None)
    components = tuple(c for c in as_list(spec.get("components")) if isinstance(c, str))
    patches = tuple(p for p in (as_map(x) for x in as_list(spec.get("patches"))) if p)
    post = as_map(spec.get("postBuild")) or {}
    substitute = {
        k: v.replace("\n", "") if isinstance(v, str) else str(v)
        for k, v in (as_map(post.get("substitute")) or {}).items()
    }
    subst_from: list[SubstituteFrom] = []
    for entry in as_list(post.get("substituteFrom")):
        ref_map = as_map(entry)
        if not ref_map or not as_str(ref_map.get("name")):
            continue
        subst_from.append(
            SubstituteFrom(
                as_str(ref_map.get("kind")) or "ConfigMap",
                as_str(ref_map.get("name")) or "",
                ref_map.get("optional") is True,
            )
        )
    return FluxKustomization(
        name=name,
        namespace=namespace,
        path=path,
        source=source,
        depends_on=tuple(deps),
        decryption=decryption,
        components=components,
        patches=patches,
        target_namespace=as_str(spec.get("targetNamespace")),
        name_prefix=as_str(spec.get("namePrefix")) or "",
        name_suffix=as_str(spec.get("nameSuffix")) or "",
        substitute=substitute,
        substitute_from=tuple(subst_from),
        origin=origin,
        problems=tuple(problems),
        path_given=path_given,
        rejected=rejected,
    )


@dataclass(frozen=True, slots=True)
class Source:
    """A Flux source object: where a Kustomization's ``spec.path`` is resolved."""

    ref: Ref
    url: str | None
    ignore: str | None
    origin: str
    # what a GitRepository follows, in words (``branch main``, ``tag v1.2.0``), when its
    # ``spec.ref`` says
    revision: str | None = None
    # the Secret of its credentials (``spec.secretRef.name``: a Git deploy key, a token), in
    # ``ref.namespace``
    secret_ref: str | None = None


# spec.ref's fields in the order Flux takes them (the first one set wins), and how to say it
_REVISION_FIELDS = (
    ("commit", "commit {}"),
    ("name", "ref {}"),
    ("semver", "tags matching {}"),
    ("tag", "tag {}"),
    ("branch", "branch {}"),
)


def _revision(spec: Mapping[str, object]) -> str | None:
    ref = as_map(spec.get("ref")) or {}
    for key, words in _REVISION_FIELDS:
        value = as_str(ref.get(key))
        if not value:
            continue
        if key == "name":  # a full reference names a branch or a tag too
            for prefix, kind in (("refs/heads/", "branch {}"), ("refs/tags/", "tag {}")):
                if value.startswith(prefix) and len(value) > len(prefix):
                    return kind.format(value[len(prefix) :])
        return words.format(value)
    return None


def parse_source(doc: Mapping[str, object], origin: str) -> Source | None:
    """A GitRepository/OCIRepository/Bucket/ExternalArtifact from its manifest."""
    md = meta(doc)
    name = as_str(md.get("name"))
    kind = as_str(doc.get("kind"))
    if not name or not kind:
        return None
    spec = as_map(doc.get("spec")) or {}
    return Source(
        Ref(kind, as_str(md.get("namespace")) or "flux-system", name),
        as_str(spec.get("url")),
        as_str(spec.get("ignore")),
        origin,
        _revision(spec) if kind == "GitRepository" else None,
        as_str((as_map(spec.get("secretRef")) or {}).get("name")) or None,
    )


@dataclass(frozen=True, slots=True)
class FluxInstance:
    """A flux-operator FluxInstance: the Flux version and, with ``spec.sync``, a cluster root."""

    name: str
    namespace: str
    version: str | None
    sync_kind: str | None
    sync_url: str | None
    sync_path: str | None
    sync_name: str | None
    origin: str
    # ``spec.kustomize.patches``: flux-operator applies them to what it generates, the sync
    # Kustomization included (a patch that adds ``spec.decryption`` to it is common)
    patches: tuple[Mapping[str, object], ...] = field(default=(), repr=False)


def parse_instance(doc: Mapping[str, object], origin: str) -> FluxInstance:
    """A FluxInstance from its manifest."""
    md = meta(doc)
    spec = as_map(doc.get("spec")) or {}
    return _instance(spec, as_str(md.get("name")), as_str(md.get("namespace")), origin)


def _instance(
    spec: Mapping[str, object], name: str | None, namespace: str | None, origin: str
) -> FluxInstance:
    dist = as_map(spec.get("distribution")) or {}
    sync = as_map(spec.get("sync"))
    version = dist.get("version")
    kustomize = as_map(spec.get("kustomize")) or {}
    patches = tuple(p for p in (as_map(x) for x in as_list(kustomize.get("patches"))) if p)
    return FluxInstance(
        name=name or "flux",
        namespace=namespace or "flux-system",
        version=str(version) if isinstance(version, str | int | float) else None,
        sync_kind=as_str(sync.get("kind")) if sync else None,
        sync_url=as_str(sync.get("url")) if sync else None,
        sync_path=as_str(sync.get("path")) if sync else None,
        sync_name=as_str(sync.get("name")) if sync else None,
        origin=origin,
        patches=patches,
    )


def instance_from_values(doc: Mapping[str, object], origin: str) -> FluxInstance | None:
    """The FluxInstance the ``flux-instance`` Helm chart makes from its values: ``doc`` is a
    values file (``instance:`` at the top) or a HelmRelease with them under ``spec.values``;
    None unless ``instance.sync`` names a path."""
    namespace: str | None = None
    values: Mapping[str, object] | None = doc
    if doc.get("kind") == "HelmRelease" and api_group(doc) == "helm.toolkit.fluxcd.io":
        spec = as_map(doc.get("spec")) or {}
        values = as_map(spec.get("values"))
        namespace = as_str(spec.get("targetNamespace")) or as_str(meta(doc).get("namespace"))
    elif "kind" in doc or "apiVersion" in doc:
        return None
    instance = as_map(values.get("instance")) if values is not None else None
    sync = as_map(instance.get("sync")) if instance is not None else None
    # the chart renders spec.sync only with a URL; its own default values have none ("")
    if instance is None or sync is None or not as_str(sync.get("url")):
        return None
    if not as_str(sync.get("path")):
        return None
    return _instance(instance, None, namespace, origin)
