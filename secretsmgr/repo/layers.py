"""The Flux layer graph: each ``kustomize.toolkit.fluxcd.io`` Kustomization is a layer."""

from __future__ import annotations

import heapq
import posixpath
import re
from dataclasses import dataclass
from typing import cast

from secretsmgr.errors import ConfigError, FormatError
from secretsmgr.repo.kustomize import RepoIndex, resolve_tree_indexed
from secretsmgr.repo.snapshot import Snapshot
from secretsmgr.sops.yamlio import safe_load_all

FLUX_KUSTOMIZE_GROUP = "kustomize.toolkit.fluxcd.io"
_MARKER = FLUX_KUSTOMIZE_GROUP.encode("ascii")
_MANIFEST_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True, slots=True)
class Decryption:
    """``spec.decryption`` of a Flux Kustomization; ``secret_ref`` None = controller-wide key."""

    provider: str
    secret_ref: str | None


@dataclass(frozen=True, slots=True)
class Layer:
    """One Flux Kustomization and every repo file its build reads."""

    name: str
    namespace: str | None
    path: str
    depends_on: tuple[str, ...]
    decryption: Decryption | None
    source: str
    files: frozenset[str]
    component_files: frozenset[str]
    generator_files: frozenset[str]
    missing: tuple[str, ...] = ()

    @property
    def decrypts_sops(self) -> bool:
        """Tell whether Flux decrypts SOPS files in this layer."""
        return self.decryption is not None and self.decryption.provider == "sops"


@dataclass(frozen=True, slots=True)
class LayerGraph:
    """Layers in dependsOn order; ``unknown_dependencies`` holds (layer, missing name) pairs."""

    layers: tuple[Layer, ...]
    unknown_dependencies: tuple[tuple[str, str], ...] = ()

    def names(self) -> tuple[str, ...]:
        """Return the layer names in dependsOn order (each once)."""
        return tuple(dict.fromkeys(layer.name for layer in self.layers))

    def get(self, name: str) -> Layer | None:
        """Return the first layer called ``name``, or None."""
        return next((layer for layer in self.layers if layer.name == name), None)

    def layers_of(self, path: str) -> tuple[str, ...]:
        """Return the names of the layers whose tree reaches ``path``, in dependsOn order."""
        return tuple(dict.fromkeys(layer.name for layer in self.layers if path in layer.files))


@dataclass(frozen=True, slots=True)
class _Manifest:
    name: str
    namespace: str | None
    path: str
    depends_on: tuple[tuple[str, str | None], ...]
    decryption: Decryption | None
    components: tuple[str, ...]
    source: str


def normalize_spec_path(raw: str) -> str:
    """Turn a Flux ``spec.path`` into a normalized repo-relative path ("." for the root)."""
    text = raw.strip()
    while text.startswith("./"):
        text = text[2:]
    text = text.lstrip("/")
    return posixpath.normpath(text) if text else "."


def _mapping(value: object, source: str, where: str) -> dict[str, object]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{source}: {where} must be a mapping")
    return cast(dict[str, object], value)


def _optional_str(value: object, source: str, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigError(f"{source}: {where} must be a string")
    return value


def _parse_manifest(doc: dict[str, object], source: str) -> _Manifest:
    meta = _mapping(doc.get("metadata"), source, "metadata")
    name = _optional_str(meta.get("name"), source, "metadata.name")
    if not name:
        raise ConfigError(f"{source}: a flux kustomization has no metadata.name")
    where = f"kustomization {name}"
    namespace = _optional_str(meta.get("namespace"), source, f"{where} metadata.namespace")
    spec = _mapping(doc.get("spec"), source, f"{where} spec")
    path = _optional_str(spec.get("path"), source, f"{where} spec.path") or "."

    deps: list[tuple[str, str | None]] = []
    raw_deps = spec.get("dependsOn") or []
    if not isinstance(raw_deps, list):
        raise ConfigError(f"{source}: {where} spec.dependsOn must be a list")
    for entry in cast(list[object], raw_deps):
        dep = _mapping(entry, source, f"{where} spec.dependsOn entry")
        dep_name = _optional_str(dep.get("name"), source, f"{where} spec.dependsOn name")
        if not dep_name:
            raise ConfigError(f"{source}: {where} has a spec.dependsOn entry without a name")
        dep_ns = _optional_str(dep.get("namespace"), source, f"{where} spec.dependsOn namespace")
        deps.append((dep_name, dep_ns or None))

    decryption: Decryption | None = None
    if spec.get("decryption") is not None:
        raw = _mapping(spec.get("decryption"), source, f"{where} spec.decryption")
        provider = _optional_str(raw.get("provider"), source, f"{where} decryption provider")
        ref = _mapping(raw.get("secretRef"), source, f"{where} decryption secretRef")
        secret = _optional_str(ref.get("name"), source, f"{where} decryption secretRef name")
        decryption = Decryption(provider=provider or "", secret_ref=secret or None)

    components = spec.get("components") or []
    if not isinstance(components, list) or not all(isinstance(c, str) for c in components):
        raise ConfigError(f"{source}: {where} spec.components must be a list of strings")

    return _Manifest(
        name=name,
        namespace=namespace or None,
        path=normalize_spec_path(path),
        depends_on=tuple(deps),
        decryption=decryption,
        components=tuple(cast(list[str], components)),
        source=source,
    )


_ENCRYPTED_NAME = re.compile(r"\.(enc|sops)\.ya?ml$")


def _scan(snapshot: Snapshot) -> list[_Manifest]:
    manifests: list[_Manifest] = []
    for rel in snapshot.paths:
        if not rel.endswith(_MANIFEST_SUFFIXES) or _ENCRYPTED_NAME.search(rel):
            continue  # a Flux Kustomization is applied by Flux itself: it is never a SOPS file
        try:
            data = snapshot.read(rel)
        except OSError:
            continue  # vanished or unreadable: not a manifest we can follow
        if _MARKER not in data:
            continue
        try:
            docs = safe_load_all(data.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{rel}: not valid UTF-8") from exc
        except FormatError as exc:
            raise ConfigError(f"{rel}: {exc.message}") from exc
        for doc in docs:
            if not isinstance(doc, dict):
                continue
            api = doc.get("apiVersion")
            if (
                isinstance(api, str)
                and api.startswith(FLUX_KUSTOMIZE_GROUP + "/")
                and doc.get("kind") == "Kustomization"
            ):
                manifests.append(_parse_manifest(cast(dict[str, object], doc), rel))
    return manifests


def _shared_depth(a: str, b: str) -> int:
    parts_a = posixpath.dirname(a).split("/")
    parts_b = posixpath.dirname(b).split("/")
    depth = 0
    for x, y in zip(parts_a, parts_b, strict=False):
        if x != y:
            break
        depth += 1
    return depth


def _dependencies(
    manifests: list[_Manifest],
) -> tuple[list[list[int]], list[tuple[str, str]]]:
    """For each manifest, the indexes it depends on; plus (layer, name) pairs that match none."""
    by_name: dict[str, list[int]] = {}
    for i, m in enumerate(manifests):
        by_name.setdefault(m.name, []).append(i)
    deps: list[list[int]] = []
    unknown: list[tuple[str, str]] = []
    for m in manifests:
        targets: list[int] = []
        for dep_name, dep_ns in m.depends_on:
            found = [
                j
                for j in by_name.get(dep_name, [])
                if dep_ns is None or manifests[j].namespace in (None, dep_ns)
            ]
            if not found:
                unknown.append((m.name, dep_name))
                continue
            # Same name in several places (one folder per cluster): take the nearest ones.
            best = max(_shared_depth(m.source, manifests[j].source) for j in found)
            targets += [j for j in found if _shared_depth(m.source, manifests[j].source) == best]
        deps.append(sorted(set(targets)))
    return deps, unknown


def _cycle_message(manifests: list[_Manifest], deps: list[list[int]], left: set[int]) -> str:
    node = min(left)
    trail: list[int] = []
    while node not in trail:
        trail.append(node)
        node = min(j for j in deps[node] if j in left)
    cycle = [*trail[trail.index(node) :], node]
    return "dependsOn cycle: " + " → ".join(manifests[i].name for i in cycle)


def _topological(manifests: list[_Manifest], deps: list[list[int]]) -> list[int]:
    """Kahn's algorithm; among ready layers the one found first goes first."""
    waiting = [len(d) for d in deps]
    dependents: list[list[int]] = [[] for _ in manifests]
    for i, d in enumerate(deps):
        for j in d:
            dependents[j].append(i)
    ready = [i for i, n in enumerate(waiting) if n == 0]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        i = heapq.heappop(ready)
        order.append(i)
        for k in dependents[i]:
            waiting[k] -= 1
            if waiting[k] == 0:
                heapq.heappush(ready, k)
    if len(order) < len(manifests):
        left = set(range(len(manifests))) - set(order)
        raise ConfigError(_cycle_message(manifests, deps, left))
    return order


def find_layers(snapshot: Snapshot) -> LayerGraph:
    """Find every Flux Kustomization in ``snapshot`` and follow each one's kustomize tree."""
    manifests = _scan(snapshot)
    deps, unknown = _dependencies(manifests)
    order = _topological(manifests, deps)
    index = RepoIndex(snapshot)
    layers: list[Layer] = []
    for i in order:
        m = manifests[i]
        tree = resolve_tree_indexed(index, m.path, m.components)
        layers.append(
            Layer(
                name=m.name,
                namespace=m.namespace,
                path=m.path,
                depends_on=tuple(name for name, _ in m.depends_on),
                decryption=m.decryption,
                source=m.source,
                files=tree.files,
                component_files=tree.component_files,
                generator_files=tree.generator_files,
                missing=tree.missing,
            )
        )
    return LayerGraph(layers=tuple(layers), unknown_dependencies=tuple(unknown))
