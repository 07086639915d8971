"""What the repository defines, read once: Flux objects, sources, Flux versions, and the
ConfigMaps and Secrets ``postBuild.substituteFrom`` names."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from secretsmgr.errors import FormatError
from secretsmgr.repo.flux.files import MANIFEST_SUFFIXES, RepoFiles
from secretsmgr.repo.flux.kfile import KUSTOMIZATION_NAMES
from secretsmgr.repo.flux.objects import (
    FluxInstance,
    FluxKustomization,
    Ref,
    Source,
    as_list,
    as_map,
    as_str,
    instance_from_values,
    is_flux_instance,
    is_flux_kustomization,
    is_source,
    meta,
    parse_instance,
    parse_kustomization,
    parse_source,
)
from secretsmgr.repo.flux.resourceset import is_resource_set, resource_set_names
from secretsmgr.repo.flux.substitute import Variables
from secretsmgr.repo.flux.version import (
    from_install_reference,
    from_manifest_bytes,
    from_manifests_source,
)
from secretsmgr.sops.yamlio import safe_load_all

_ENCRYPTED_NAME = re.compile(r"\.(enc|sops)\.ya?ml$")


def normalize_url(url: str | None) -> str | None:
    """A git URL reduced to ``host/path`` so ssh and https spellings compare equal."""
    if not url:
        return None
    text = url.strip().lower()
    text = re.sub(r"^[a-z+]+://", "", text)
    text = re.sub(r"^[^@/]+@", "", text)
    text = text.replace(":", "/", 1) if re.match(r"^[^/]+:[^/0-9]", text) else text
    text = re.sub(r":\d+/", "/", text)
    return text.removesuffix("/").removesuffix(".git")


_GENERIC = frozenset(
    {
        "flux",
        "flux-system",
        "config",
        "cluster",
        "clusters",
        "bootstrap",
        "kubernetes",
        "k8s",
        "gitops",
        "base",
        ".",
    }
)


def cluster_name(path: str, fallback: str) -> str:
    """A cluster's name from its root path: the folder after ``clusters/``, else the deepest
    folder that is not a generic word (``kubernetes/cluster-0/flux`` → ``cluster-0``), else the
    deepest one that is not Flux's own (``bootstrap/flux-system`` → ``bootstrap``)."""
    parts = [p for p in path.split("/") if p]
    if "clusters" in parts[:-1]:
        return parts[parts.index("clusters") + 1]
    for part in reversed(parts):
        if part.lower() not in _GENERIC:
            return part
    # only generic words: the folder that holds the sync (``bootstrap/flux-system`` →
    # ``bootstrap``), not Flux's own folder name
    if len(parts) >= 2 and parts[-1] == "flux-system" and parts[-2] != ".":
        return parts[-2]
    return fallback


def _shared_depth(a: str, b: str) -> int:
    depth = 0
    for x, y in zip(posixpath.dirname(a).split("/"), posixpath.dirname(b).split("/"), strict=False):
        if x != y:
            break
        depth += 1
    return depth


@dataclass
class Scan:
    kustomizations: list[FluxKustomization] = field(default_factory=list)
    sources: dict[Ref, list[Source]] = field(default_factory=dict)

    def source(self, ref: Ref, near: str) -> Source | None:
        """The definition of ``ref`` closest to the file ``near`` (several clusters may each
        define a source of the same name)."""
        found = self.sources.get(ref)
        if not found:
            # defined in the same file under another namespace: one given none, which a
            # kustomization's namespace: or the apply sets (an archived crds.yaml holding a
            # GitRepository and then its Kustomization in namespace database)
            return next(
                (
                    src
                    for other, sources in self.sources.items()
                    if (other.kind, other.name) == (ref.kind, ref.name)
                    for src in sources
                    if src.origin == near
                ),
                None,
            )
        # a definition without spec.url beside one with it is a patch of it (a bootstrap
        # gotk-patch.yaml setting spec.interval: Michaelpalacce/HomeLab, sweep 18, made every
        # layer external), never the object a Kustomization reads
        whole = [s for s in found if s.url] or found
        return max(whole, key=lambda s: (_shared_depth(s.origin, near), -whole.index(s)))

    def add_source(self, src: Source, built: bool = False) -> None:
        """Record a source definition (each origin once). With ``built``, ``src`` is the object
        as a build that applies its file gives it, after that build's patches: it takes the
        place of the definition as written (the first build to give it wins)."""
        known = self.sources.setdefault(src.ref, [])
        key = (src.ref, src.origin)
        at = next((i for i, s in enumerate(known) if s.origin == src.origin), None)
        if at is None:
            known.append(src)
        elif built and key not in self._built:
            known[at] = src
        if built:
            self._built.add(key)

    instances: list[FluxInstance] = field(default_factory=list)
    # (ref, origin) of the sources recorded as a build gives them (``add_source(built=True)``)
    _built: set[tuple[Ref, str]] = field(default_factory=set)
    versions: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    # Flux's release named where it may be for something else (a GitRepository of fluxcd/flux2,
    # a kustomization's install manifests): counted only in a file the cluster's layers read
    named_versions: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    # the Secrets kustomize-controller's --sops-age-secret flag names, each once
    # each flag's Secret -> the files that set it (a file no layer applies sets nothing)
    age_secret_flag_files: dict[str, list[str]] = field(default_factory=dict)
    # files that give kustomize-controller an age key in its environment (SOPS_AGE_KEY or
    # SOPS_AGE_KEY_FILE, which sops reads where a Kustomization's decryption names no Secret)
    age_env_files: list[str] = field(default_factory=list)
    # the names of the Kustomizations ResourceSets make, templated ones as written
    # (``tenants-<< inputs.tenant >>``): a layer's dependsOn may name one
    made_names: set[str] = field(default_factory=set)


def scan_repository(repo: RepoFiles) -> Scan:
    scan = Scan()
    for path in sorted(repo.files):
        if not path.endswith(MANIFEST_SUFFIXES) or _ENCRYPTED_NAME.search(path):
            continue
        for doc in repo.flux_docs(path):
            if is_flux_kustomization(doc):
                ks = parse_kustomization(doc, path)
                if ks is not None:
                    scan.kustomizations.append(ks)
            elif is_source(doc):
                src = parse_source(doc, path)
                if src is not None:
                    scan.add_source(src)
                pinned = from_manifests_source(doc)
                if pinned is not None:
                    kept = (
                        scan.named_versions if doc.get("kind") == "GitRepository" else scan.versions
                    )
                    kept[path] = pinned
            elif is_flux_instance(doc):
                scan.instances.append(parse_instance(doc, path))
            elif is_resource_set(doc):
                scan.made_names.update(resource_set_names(doc))
        try:
            data = repo.read(path)
        except OSError:
            continue
        if len(data) <= _VALUES_MAX and _INSTANCE_VALUES.search(data):
            chart = posixpath.join(posixpath.dirname(path), "Chart.yaml")
            if chart not in repo.files:  # a vendored copy of the chart: its defaults, no root
                scan.instances.extend(_chart_instances(data, path))
        if b"kustomize-controller" in data or b"Flux Version" in data:
            found = from_manifest_bytes(data)
            if found is not None:
                scan.versions[path] = found
        elif b"fluxcd/flux2" in data and (found := from_install_reference(data)) is not None:
            scan.named_versions.setdefault(path, found)
        if (
            (b"SOPS_AGE_" in data or b"sops-age-secret" in data or b"sopsAgeSecret" in data)
            and _AGE_ENV.search(data)
        ) or (
            b"envFrom" in data
            and (b"kustomize-controller" in data or b"kustomizeController" in data)
        ):
            # an age key or an env Secret given to a controller: its patch may sit in a file
            # of its own, the target named elsewhere (the review of stop 51)
            scan.age_env_files.append(path)
        if b"--sops-age-secret" in data and b"kustomize-controller" in data:
            for flag in _SOPS_AGE_SECRET_FLAGS:
                for m in flag.finditer(data):
                    scan.age_secret_flag_files.setdefault(m["name"].decode(), []).append(path)
    return scan


# an environment variable's name, as a container's env entry or a patch's value gives it, on a
# line no comment holds
_AGE_ENV = re.compile(
    rb"^[^#\n]*(?:\bSOPS_AGE_[A-Z_]+|--sops-age-secret|sopsAgeSecret)", re.MULTILINE
)

# kustomize-controller's flag naming the Secret (in its own namespace) it decrypts with when a
# Kustomization's decryption names none (a flux-operator FluxInstance patch, 00o-sh): only as a
# whole YAML value, a container argument or a patch's ``value:``, in a file that names the
# controller (the reviews: a comment's prose, a commented-out patch and an example file's
# ``args`` were read as the flag)
_SECRET_NAME = rb"(?P<name>[a-z0-9](?:[-a-z0-9.]*[a-z0-9])?)"
_SOPS_AGE_SECRET_FLAGS = (
    re.compile(
        rb"^[ \t]*(?:-[ \t]+)?(?:value:[ \t]*)?([\"']?)--sops-age-secret="
        + _SECRET_NAME
        + rb"\1[ \t]*$",
        re.MULTILINE,
    ),
    # pflag's two arguments, one list item each (the attack review of sweep 85: the flag was
    # unseen, and SM004 let a KMS file pass a controller that decrypts with an age key)
    re.compile(
        rb"^[ \t]*-[ \t]+([\"']?)--sops-age-secret\1[ \t]*\r?\n[ \t]*-[ \t]+([\"']?)"
        + _SECRET_NAME
        + rb"\2[ \t]*$",
        re.MULTILINE,
    ),
    # a flow list on a line that is no comment: args: ["--sops-age-secret=NAME", …]
    re.compile(
        rb"^[^#\n]*\[[^\]\n]*?([\"']?)--sops-age-secret(?:=|\1[ \t]*,[ \t]*([\"']?))"
        + _SECRET_NAME
        + rb"[\"']?[ \t]*[,\]]",
        re.MULTILINE,
    ),
)


# ``instance:`` opening a mapping: the values of the flux-instance Helm chart (in a values file,
# or under a HelmRelease's spec.values); ``app.kubernetes.io/instance: x`` labels never match
_VALUES_MAX = 1024 * 1024
_INSTANCE_VALUES = re.compile(rb"(?m)^[ \t]*instance:[ \t]*(?:#.*)?\r?$")


def _chart_instances(data: bytes, path: str) -> list[FluxInstance]:
    """FluxInstances the flux-instance chart makes from the values in ``path``."""
    try:
        docs = safe_load_all(data.decode("utf-8"))
    except (UnicodeDecodeError, FormatError):
        return []
    found = []
    for raw in docs:
        doc = as_map(raw)
        instance = instance_from_values(doc, path) if doc is not None else None
        if instance is not None:
            found.append(instance)
    return found


def _nearest(
    candidates: Sequence[tuple[str, dict[str, object]]], origin: str, near: str | None = None
) -> dict[str, object]:
    """Of several objects of one name (each cluster's ``cluster-settings``), the one whose file
    shares the most folders with the Kustomization's own: a cluster's Kustomization reads its
    cluster's variables (sweep 75, angelnu/k8s-gitops: the test cluster's `${CLUSTER_NAME}`
    was prod's, the first by path). A Kustomization in a file both clusters share ties: then
    the one nearest ``near``, the file of the cluster's root (the attack review). The first by
    path when none is nearer."""

    def shared(path: str, other: str) -> int:
        count = 0
        for mine, theirs in zip(other.split("/")[:-1], path.split("/")[:-1], strict=False):
            if mine != theirs:
                break
            count += 1
        return count

    def score(path: str) -> tuple[int, int]:
        return shared(path, origin), shared(path, near) if near is not None else 0

    best = max(score(path) for path, _ in candidates)
    return next(doc for path, doc in candidates if score(path) == best)


class SubstituteSources:
    """Finds the ConfigMaps and Secrets ``postBuild.substituteFrom`` names, by name."""

    def __init__(self, repo: RepoFiles) -> None:
        self.repo = repo
        self._found: dict[str, list[tuple[str, dict[str, object]]]] = {}

    def _objects(self, name: str) -> list[tuple[str, dict[str, object]]]:
        cached = self._found.get(name)
        if cached is not None:
            return cached
        needle = name.encode("utf-8", "surrogateescape")
        found: list[tuple[str, dict[str, object]]] = []
        for path in sorted(self.repo.files):
            if not path.endswith(MANIFEST_SUFFIXES):
                continue
            try:
                data = self.repo.read(path)
            except OSError:
                continue
            if needle not in data or not any(
                word in data for word in (b"ConfigMap", b"Secret", b"configMapGenerator")
            ):
                continue
            try:
                docs = safe_load_all(data.decode("utf-8"))
            except (UnicodeDecodeError, FormatError):
                continue
            if posixpath.basename(path) in KUSTOMIZATION_NAMES:
                found += self._generated(path, docs[0] if docs else None, name)
                continue
            for raw in docs:
                doc = as_map(raw)
                kind = doc.get("kind") if doc else None
                if (
                    doc
                    and kind in ("ConfigMap", "Secret")
                    and as_str(meta(doc).get("name")) == name
                ):
                    found.append((path, doc))
        self._found[name] = found
        return found

    def _generated(
        self, path: str, kustomization: object, name: str
    ) -> list[tuple[str, dict[str, object]]]:
        """The ConfigMap a kustomization's ``configMapGenerator`` makes under ``name`` exactly
        (its hash suffix disabled, or substituteFrom could not name it), as (the file its values
        are written in, the object): its literals and ``envs:`` lines (the second attack review
        of stop 52: a generated cluster-vars ConfigMap's password passed)."""
        top = as_map(kustomization)
        if not top:
            return []
        default_off = (as_map(top.get("generatorOptions")) or {}).get("disableNameSuffixHash")
        folder = posixpath.dirname(path)
        made: list[tuple[str, dict[str, object]]] = []
        for raw in as_list(top.get("configMapGenerator")):
            entry = as_map(raw)
            if not entry or as_str(entry.get("name")) != name:
                continue
            options = as_map(entry.get("options")) or {}
            if options.get("disableNameSuffixHash", default_off) is not True:
                continue
            data: dict[str, object] = {}
            where = path
            for literal in as_list(entry.get("literals")):
                key, sep, value = str(literal).partition("=")
                if sep:
                    data[key.strip()] = value.strip().strip("\"'")
            envs = [as_str(e) for e in as_list(entry.get("envs")) if as_str(e)]
            for env in envs:
                env_path = posixpath.normpath(posixpath.join(folder, env or ""))
                try:
                    lines = self.repo.read(env_path).decode("utf-8").splitlines()
                except (OSError, UnicodeDecodeError):
                    continue
                for line in lines:
                    key, sep, value = line.strip().partition("=")
                    if sep and key and not key.startswith("#"):
                        data[key.strip()] = value.strip().strip("\"'")
                if len(envs) == 1 and not entry.get("literals"):
                    where = env_path
            namespace = as_str(entry.get("namespace")) or as_str(top.get("namespace"))
            made.append(
                (
                    where,
                    {
                        "apiVersion": "v1",
                        "kind": "ConfigMap",
                        "metadata": {"name": name, "namespace": namespace},
                        "data": data,
                    },
                )
            )
        return made

    def _written_in(self, origin: str, name: str) -> str:
        """``origin`` when the variable's name is written in it, else "": a patch of the
        Kustomization above it set the variable (the second attack review of stop 52: the
        finding sent the user to a file that does not hold it)."""
        try:
            data = self.repo.read(origin)
        except OSError:
            return origin
        return origin if name.encode("utf-8", "surrogateescape") in data else ""

    def of(self, ks: FluxKustomization, near: str | None = None) -> Variables:
        """The variables ``ks`` substitutes in its build output (``near``: the file of the
        cluster root whose walk reached ``ks``)."""
        values: dict[str, str] = {}
        origins: dict[str, str] = {}
        complete = True
        for ref in ks.substitute_from:
            candidates = [
                (path, doc)
                for path, doc in self._objects(ref.name)
                if doc.get("kind") == ref.kind
                and (as_str(meta(doc).get("namespace")) or ks.namespace) == ks.namespace
            ]
            if not candidates:
                if not ref.optional:
                    complete = False
                continue
            doc = _nearest(candidates, ks.origin, near)
            if "sops" in doc:
                complete = False  # encrypted: its values are unknown without a key
                continue
            data = as_map(doc.get("data")) or {}
            if ref.kind == "Secret":
                string_data = as_map(doc.get("stringData")) or {}
                if data:
                    complete = False  # base64 values: not worth decoding for paths
                given = {k: str(v).replace("\n", "") for k, v in string_data.items()}
            else:
                given = {k: str(v).replace("\n", "") for k, v in data.items()}
            values.update(given)
            if ref.kind == "ConfigMap":  # a Secret in clear is SM001's finding itself
                origins.update(dict.fromkeys(given, next(p for p, d in candidates if d is doc)))
            else:
                for name in given:
                    origins.pop(name, None)
        values.update(ks.substitute)
        origins.update({name: self._written_in(ks.origin, name) for name in ks.substitute})
        return Variables(MappingProxyType(values), complete, MappingProxyType(origins))


# ------------------------------------------------------------------------------ the model
