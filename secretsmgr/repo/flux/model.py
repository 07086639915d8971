"""The repository as Flux reconciles it: clusters, their live Kustomizations, and what each reads.

1. **Cluster roots.** A Flux bootstrap (a Kustomization whose own build reaches the file that
   defines it: ``flux-system`` at ``clusters/<name>``), a flux-operator ``FluxInstance`` with
   ``spec.sync``, or a ``clusters:`` entry of ``.secretsmgr.yaml``. A repository with none of
   these gets one implicit cluster whose roots are the Flux Kustomizations no other one reaches.
2. **Live Kustomizations** are those reached from a root: the Flux Kustomizations in a parent's
   build output, after the parent's kustomize transformations, its own ``spec.patches``,
   ``spec.components`` and ``postBuild`` substitution. One commented out of a kustomization.yaml
   is not live.
3. **Sources.** ``spec.sourceRef`` decides where ``spec.path`` points: the repository's own
   GitRepository (the bootstrap one, or another with the same URL) is this checkout as its
   artifact holds it (``.sourceignore``, ``spec.ignore``, default exclusions); any other source is
   external unless ``sources:`` in ``.secretsmgr.yaml`` maps it to a folder. External layers are
   listed and never resolved against the checkout.

Nothing here is an error that stops the model: what it cannot know (an external source, an
unknown variable, an unreadable manifest) becomes a note.
"""

from __future__ import annotations

import heapq
import posixpath
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from secretsmgr.errors import ConfigError, FormatError
from secretsmgr.repo import git
from secretsmgr.repo.flux.build import (
    MANIFEST_SUFFIXES,
    Artifact,
    Builder,
    BuildResult,
    RepoFiles,
    Use,
    UseKind,
    flux_overlay,
)
from secretsmgr.repo.flux.ignore import SourceFilter, ignore_patterns, read_patterns
from secretsmgr.repo.flux.objects import (
    Decryption,
    FluxInstance,
    FluxKustomization,
    Ref,
    Source,
    as_map,
    as_str,
    is_flux_instance,
    is_flux_kustomization,
    is_source,
    meta,
    normalize_spec_path,
    parse_instance,
    parse_kustomization,
    parse_source,
)
from secretsmgr.repo.flux.substitute import Variables, substitute_doc
from secretsmgr.repo.flux.version import (
    ASSUMED,
    FluxVersion,
    from_instance,
    from_manifest_bytes,
)
from secretsmgr.repo.settings import ClusterSpec
from secretsmgr.repo.snapshot import Snapshot
from secretsmgr.sops.yamlio import safe_load_all

GENERATOR_USES = frozenset({UseKind.SECRET_FILE, UseKind.SECRET_ENV, UseKind.CONFIGMAP_SOURCE})
_ENCRYPTED_NAME = re.compile(r"\.(enc|sops)\.ya?ml$")


@dataclass(frozen=True, slots=True)
class Layer:
    """One live Flux Kustomization of one cluster, and every repository file its build reads."""

    name: str
    namespace: str
    cluster: str | None
    path: str  # the repo-relative folder its build starts in ("" when not resolved)
    source: str  # the manifest that defines it
    source_ref: str  # "GitRepository/flux-system/flux-system"
    depends_on: tuple[str, ...]
    decryption: Decryption | None
    uses: Mapping[str, frozenset[Use]] = field(repr=False)
    files: frozenset[str] = field(repr=False)
    component_files: frozenset[str] = field(repr=False)
    generator_files: frozenset[str] = field(repr=False)
    missing: tuple[str, ...] = ()
    external: str | None = None  # the source, when it is not this checkout
    unresolved: tuple[str, ...] = ()  # unknown variables in spec.path
    version: FluxVersion = ASSUMED
    problems: tuple[str, ...] = ()

    @property
    def decrypts_sops(self) -> bool:
        """Whether Flux decrypts SOPS files in this layer."""
        return self.decryption is not None and self.decryption.is_sops

    @property
    def key(self) -> tuple[str | None, str, str]:
        """(cluster, namespace, name): unique in the model."""
        return (self.cluster, self.namespace, self.name)

    @property
    def label(self) -> str:
        """``name`` in a one-cluster repository, ``cluster/name`` otherwise (set by the graph)."""
        return self.name if self.cluster is None else f"{self.cluster}/{self.name}"


def make_layer(
    ks: FluxKustomization,
    cluster: str | None,
    path: str,
    result: BuildResult | None,
    *,
    external: str | None = None,
    unresolved: Iterable[str] = (),
    version: FluxVersion = ASSUMED,
) -> Layer:
    """A layer from a Flux Kustomization and its build."""
    uses = {p: frozenset(u) for p, u in (result.uses.items() if result else ())}
    return Layer(
        name=ks.name,
        namespace=ks.namespace,
        cluster=cluster,
        path=path,
        source=ks.origin,
        source_ref=ks.source.label,
        depends_on=tuple(name for name, _ in ks.depends_on),
        decryption=ks.decryption,
        uses=MappingProxyType(uses),
        files=frozenset(uses),
        component_files=frozenset(p for p, u in uses.items() if any(x.via_component for x in u)),
        generator_files=frozenset(
            p for p, u in uses.items() if any(x.kind in GENERATOR_USES for x in u)
        ),
        missing=tuple(sorted(result.missing)) if result else (),
        external=external,
        unresolved=tuple(sorted(unresolved)),
        version=version,
        problems=tuple(dict.fromkeys((*ks.problems, *(result.problems if result else ())))),
    )


@dataclass(frozen=True, slots=True)
class Cluster:
    """A cluster: where its root is, the Flux version it runs, its key when configured."""

    name: str | None
    root: str  # "clusters/prod/flux-system/gotk-sync.yaml" or a description
    path: str | None
    version: FluxVersion
    cluster_key: str | None = None
    context: str | None = None


@dataclass(frozen=True, slots=True)
class LayerGraph:
    """Every live layer: clusters in name order, each cluster's layers in dependsOn order."""

    layers: tuple[Layer, ...]
    clusters: tuple[Cluster, ...] = ()
    unknown_dependencies: tuple[tuple[str, str], ...] = ()
    notes: tuple[str, ...] = ()
    _by_file: Mapping[str, tuple[int, ...]] = field(default_factory=dict, repr=False, compare=False)

    def names(self) -> tuple[str, ...]:
        """Layer names in order, each once."""
        return tuple(dict.fromkeys(layer.name for layer in self.layers))

    def get(self, name: str) -> Layer | None:
        """The first layer called ``name`` (or ``cluster/name``), or None."""
        return next((x for x in self.layers if name in (x.name, x.label)), None)

    def placements(self, path: str) -> tuple[Layer, ...]:
        """The layers whose build reads ``path``, in order."""
        return tuple(self.layers[i] for i in self._by_file.get(path, ()))

    def layers_of(self, path: str) -> tuple[str, ...]:
        """Names of the layers reaching ``path``, in order, each once."""
        return tuple(dict.fromkeys(layer.name for layer in self.placements(path)))

    def clusters_of(self, path: str) -> tuple[str | None, ...]:
        """The clusters that apply ``path``, each once."""
        return tuple(dict.fromkeys(layer.cluster for layer in self.placements(path)))

    def cluster(self, name: str | None) -> Cluster | None:
        """The cluster called ``name``."""
        return next((c for c in self.clusters if c.name == name), None)


def graph_of(
    layers: Sequence[Layer],
    clusters: Sequence[Cluster] = (),
    unknown: Sequence[tuple[str, str]] = (),
    notes: Sequence[str] = (),
) -> LayerGraph:
    """A graph with its per-file index."""
    index: dict[str, list[int]] = {}
    for i, layer in enumerate(layers):
        for path in layer.files:
            index.setdefault(path, []).append(i)
    return LayerGraph(
        layers=tuple(layers),
        clusters=tuple(clusters),
        unknown_dependencies=tuple(unknown),
        notes=tuple(dict.fromkeys(notes)),
        _by_file=MappingProxyType({k: tuple(v) for k, v in index.items()}),
    )


# ------------------------------------------------------------------------------ helpers


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
        "main",
        ".",
    }
)


def cluster_name(path: str, fallback: str) -> str:
    """A cluster's name from its root path: the folder after ``clusters/``, else the deepest
    folder that is not a generic word (``kubernetes/cluster-0/flux`` → ``cluster-0``)."""
    parts = [p for p in path.split("/") if p]
    if "clusters" in parts[:-1]:
        return parts[parts.index("clusters") + 1]
    for part in reversed(parts):
        if part.lower() not in _GENERIC:
            return part
    return fallback


def _shared_depth(a: str, b: str) -> int:
    depth = 0
    for x, y in zip(posixpath.dirname(a).split("/"), posixpath.dirname(b).split("/"), strict=False):
        if x != y:
            break
        depth += 1
    return depth


@dataclass
class _Scan:
    kustomizations: list[FluxKustomization] = field(default_factory=list)
    sources: dict[Ref, list[Source]] = field(default_factory=dict)

    def source(self, ref: Ref, near: str) -> Source | None:
        """The definition of ``ref`` closest to the file ``near`` (several clusters may each
        define a source of the same name)."""
        found = self.sources.get(ref)
        if not found:
            return None
        return max(found, key=lambda s: (_shared_depth(s.origin, near), -found.index(s)))

    def add_source(self, src: Source) -> None:
        """Record a source definition (each origin once)."""
        known = self.sources.setdefault(src.ref, [])
        if all(s.origin != src.origin for s in known):
            known.append(src)

    instances: list[FluxInstance] = field(default_factory=list)
    versions: dict[str, tuple[int, int, int]] = field(default_factory=dict)


def _scan(repo: RepoFiles) -> _Scan:
    scan = _Scan()
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
            elif is_flux_instance(doc):
                scan.instances.append(parse_instance(doc, path))
        try:
            data = repo.read(path)
        except OSError:
            continue
        if b"kustomize-controller" in data or b"Flux Version" in data:
            found = from_manifest_bytes(data)
            if found is not None:
                scan.versions[path] = found
    return scan


class _Variables:
    """Finds the ConfigMaps and Secrets ``postBuild.substituteFrom`` names, by name."""

    def __init__(self, repo: RepoFiles) -> None:
        self.repo = repo
        self._found: dict[str, list[tuple[str, dict[str, object]]]] = {}

    def _objects(self, name: str) -> list[tuple[str, dict[str, object]]]:
        cached = self._found.get(name)
        if cached is not None:
            return cached
        needle = name.encode("utf-8")
        found: list[tuple[str, dict[str, object]]] = []
        for path in sorted(self.repo.files):
            if not path.endswith(MANIFEST_SUFFIXES):
                continue
            try:
                data = self.repo.read(path)
            except OSError:
                continue
            if needle not in data or (b"ConfigMap" not in data and b"Secret" not in data):
                continue
            try:
                docs = safe_load_all(data.decode("utf-8"))
            except (UnicodeDecodeError, FormatError):
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

    def of(self, ks: FluxKustomization) -> Variables:
        """The variables ``ks`` substitutes in its build output."""
        values: dict[str, str] = {}
        complete = True
        for ref in ks.substitute_from:
            candidates = [
                doc
                for _, doc in self._objects(ref.name)
                if doc.get("kind") == ref.kind
                and (as_str(meta(doc).get("namespace")) or ks.namespace) == ks.namespace
            ]
            if not candidates:
                if not ref.optional:
                    complete = False
                continue
            doc = candidates[0]
            if "sops" in doc:
                complete = False  # encrypted: its values are unknown without a key
                continue
            data = as_map(doc.get("data")) or {}
            if ref.kind == "Secret":
                string_data = as_map(doc.get("stringData")) or {}
                if data:
                    complete = False  # base64 values: not worth decoding for paths
                values.update({k: str(v).replace("\n", "") for k, v in string_data.items()})
            else:
                values.update({k: str(v).replace("\n", "") for k, v in data.items()})
        values.update(ks.substitute)
        return Variables(MappingProxyType(values), complete)


# ------------------------------------------------------------------------------ the model


@dataclass
class _Root:
    ks: FluxKustomization
    cluster: str | None
    path: str | None
    origin: str
    cluster_key: str | None = None
    context: str | None = None
    bootstrap: Ref | None = None  # the bootstrap source: this checkout


class _Model:
    def __init__(
        self,
        snapshot: Snapshot,
        clusters: Sequence[ClusterSpec],
        sources: Mapping[str, str],
    ) -> None:
        # source-controller never archives a symbolic link: Flux does not see them
        self.repo = RepoFiles([p for p in snapshot.paths if p not in snapshot.links], snapshot.read)
        self.settings_clusters = clusters
        self.mapped = dict(sources)
        self.scan = _scan(self.repo)
        self.variables = _Variables(self.repo)
        self.notes: list[str] = []
        self._artifacts: dict[tuple[str, str], Artifact] = {}
        self.root = snapshot.root
        self._roots: list[_Root] = []
        self._own_urls: set[str] | None = None
        self._remote: str | None = None
        self._remote_read = False
        self.layers: list[Layer] = []
        self.clusters: dict[str | None, Cluster] = {}
        self._seen: set[tuple[str | None, str, str]] = set()
        self._defined: set[tuple[str, str]] = set()  # (origin, name) of every live layer
        self._builds: dict[tuple[object, ...], BuildResult] = {}

    # -------------------------------------------------------------- artifacts
    def artifact(self, base: str, ignore: str | None) -> Artifact:
        """The artifact of a source whose content is the folder ``base`` of this checkout."""
        key = (base, ignore or "")
        cached = self._artifacts.get(key)
        if cached is None:
            inside = [
                f[len(base) + 1 :] if base else f
                for f in self.repo.files
                if not base or f.startswith(base + "/")
            ]

            def read(rel: str) -> str:
                return self.repo.text(f"{base}/{rel}" if base else rel)

            patterns = ignore_patterns(inside, read)
            if ignore:
                patterns += read_patterns(ignore)
            cached = self._artifacts[key] = Artifact(base, SourceFilter(patterns))
        return cached

    def build(self, art: Artifact, folder: str, ks: FluxKustomization | None) -> BuildResult:
        """The build of ``folder`` in ``art`` with ``ks``'s own fields merged in (cached)."""
        if ks is None:
            key: tuple[object, ...] = (id(art), folder)
            overlay = flux_overlay((), (), None, "", "")
        else:
            key = (
                id(art),
                folder,
                ks.components,
                repr(ks.patches),
                ks.target_namespace,
                ks.name_prefix,
                ks.name_suffix,
            )
            overlay = flux_overlay(
                ks.components, ks.patches, ks.target_namespace, ks.name_prefix, ks.name_suffix
            )
        cached = self._builds.get(key)
        if cached is None:
            cached = self._builds[key] = Builder(self.repo, art).build(folder, overlay)
        return cached

    def source_of(self, ks: FluxKustomization, root: _Root) -> tuple[Artifact | None, str]:
        """The artifact ``ks``'s sourceRef names, or None when it is external; and its label."""
        ref = ks.source
        label = ref.label
        mapped = self.mapped.get(label)
        definition = self.scan.source(ref, ks.origin)
        if mapped is not None:
            base = normalize_spec_path(mapped)
            ignore = definition.ignore if definition is not None else None
            return self.artifact("" if base == "." else base, ignore), label
        if ref.kind != "GitRepository":
            return None, label
        bootstrap = root.bootstrap
        if bootstrap is not None and ref == bootstrap:
            own = self.scan.source(bootstrap, root.origin)
            return self.artifact("", own.ignore if own else None), label
        if definition is None:
            # no definition in the repository: only the implicit cluster takes it as this one
            return (self.artifact("", None), label) if bootstrap is None else (None, label)
        if normalize_url(definition.url) in self.own_urls():
            return self.artifact("", definition.ignore), label
        return None, label

    def remote(self) -> str | None:
        """git's ``origin`` URL of the checkout, normalized (read once)."""
        if not self._remote_read:
            self._remote_read = True
            self._remote = normalize_url(git.remote_url(self.root))
        return self._remote

    def own_urls(self) -> set[str]:
        """URLs that mean this checkout: every bootstrap source's, and git's ``origin`` remote."""
        if self._own_urls is None:
            urls = {
                normalize_url(src.url)
                for root in self._roots
                if root.bootstrap is not None
                for src in self.scan.sources.get(root.bootstrap, ())
            }
            urls.add(self.remote())
            self._own_urls = {u for u in urls if u}
        return self._own_urls

    # -------------------------------------------------------------- roots
    def roots(self) -> list[_Root]:
        """Cluster roots, in the order the clusters will be reported."""
        found: list[_Root] = []
        for ks in self.scan.kustomizations:
            if ks.source.kind != "GitRepository":
                continue
            folder = normalize_spec_path(ks.path)
            origin_dir = posixpath.dirname(ks.origin)
            if folder != "." and not (origin_dir == folder or origin_dir.startswith(folder + "/")):
                continue
            own = self.scan.source(ks.source, ks.origin)
            # a bootstrap defines its GitRepository in the same file (gotk-sync.yaml), or names
            # one whose URL is this checkout's remote: any other source is not this checkout
            if own is None or not (
                own.origin == ks.origin or normalize_url(own.url) == self.remote()
            ):
                continue
            art = self.artifact("", own.ignore)
            result = self.build(art, folder, None)
            if ks.origin in result.uses:
                name = cluster_name(folder, ks.name)
                found.append(
                    _Root(self._as_built(ks, result), name, folder, ks.origin, bootstrap=ks.source)
                )
        for fi in self.scan.instances:
            if fi.sync_path is None or fi.sync_kind is None:
                continue
            sync_name = fi.sync_name or fi.namespace
            ref = Ref(fi.sync_kind, fi.namespace, sync_name)
            ks = FluxKustomization(
                name=sync_name,
                namespace=fi.namespace,
                path=fi.sync_path,
                source=ref,
                depends_on=(),
                decryption=None,
                components=(),
                patches=(),
                target_namespace=None,
                name_prefix="",
                name_suffix="",
                substitute={},
                substitute_from=(),
                origin=fi.origin,
            )
            folder = normalize_spec_path(fi.sync_path)
            name = cluster_name(folder, fi.namespace)
            boot = ref if fi.sync_kind == "GitRepository" else None
            if boot is not None:
                self.scan.add_source(Source(ref, fi.sync_url, None, fi.origin))
            found.append(_Root(ks, name, folder, fi.origin, bootstrap=boot))
        self._roots = self._unique_names(self._with_settings(found))
        return self._roots

    @staticmethod
    def _as_built(ks: FluxKustomization, result: BuildResult) -> FluxKustomization:
        """A bootstrap Kustomization as its own build renders it: the kustomization.yaml next to
        it often patches it (``spec.decryption`` added to ``flux-system`` is common)."""
        for obj in result.objects:
            if obj.origin != ks.origin or not is_flux_kustomization(obj.doc):
                continue
            built = parse_kustomization(obj.doc, obj.origin)
            if built is not None and built.name == ks.name:
                return built
        return ks

    def _with_settings(self, found: list[_Root]) -> list[_Root]:
        if not self.settings_clusters:
            return found
        out: list[_Root] = []
        for spec in self.settings_clusters:
            folder = normalize_spec_path(spec.path)
            match = next((r for r in found if r.path == folder), None)
            if match is None:
                match = next((r for r in found if r.path and r.path.startswith(folder + "/")), None)
            if match is not None:
                match.cluster, match.cluster_key, match.context = (
                    spec.name,
                    spec.cluster_key,
                    spec.context,
                )
                out.append(match)
                continue
            ref = Ref("GitRepository", "flux-system", "flux-system")
            ks = FluxKustomization(
                name="flux-system",
                namespace="flux-system",
                path=folder,
                source=ref,
                depends_on=(),
                decryption=None,
                components=(),
                patches=(),
                target_namespace=None,
                name_prefix="",
                name_suffix="",
                substitute={},
                substitute_from=(),
                origin=f"{folder} (.secretsmgr.yaml clusters.{spec.name})",
            )
            out.append(
                _Root(ks, spec.name, folder, ks.origin, spec.cluster_key, spec.context, None)
            )
        named = {r.origin for r in out}
        out += [r for r in found if r.origin not in named]
        return out

    def implicit_roots(self, live: Sequence[Layer], named: bool) -> list[_Root]:
        """Flux Kustomizations no cluster root reaches, and nothing else reaches either: roots
        of their own (a repository without a bootstrap in it, a manually applied kustomization).

        One whose file lies inside another one's path, yet which that build does not read, is
        one its parent no longer lists (commented out): nothing applies it. So is one whose own
        path lies inside a live layer's (an archived copy of a retired app's ks.yaml). With
        ``named`` (the repository has other clusters) each root is a cluster named after its
        folder.
        """
        done = {(x.source, x.name) for x in live}
        # the same Kustomization (name and path) defined twice: a template or a backup copy
        copies = {(x.name, x.path) for x in live}
        reached = {p for x in live for p in x.files}
        folders = [x.path for x in live if x.path not in ("", ".")]
        live_folders = list(folders)
        candidates = [
            ks
            for ks in self.scan.kustomizations
            if (ks.origin, ks.name) not in done
            and (ks.name, normalize_spec_path(ks.path)) not in copies
        ]
        stale: set[tuple[str, str]] = set()
        for ks in candidates:
            art, _ = self.source_of(ks, _Root(ks, None, None, ks.origin))
            folder = art.resolve(normalize_spec_path(ks.path)) if art is not None else None
            if art is None or folder is None:
                continue
            if any(folder == f or folder.startswith(f + "/") for f in live_folders):
                stale.add((ks.origin, ks.name))  # points into a live layer's tree, unapplied
                continue
            result = self.build(art, folder, ks)
            reached.update(p for p in result.uses if p != ks.origin)
            if folder != ".":
                folders.append(folder)
        tops = [
            ks
            for ks in candidates
            if ks.origin not in reached
            and (ks.origin, ks.name) not in stale
            and not any(ks.origin.startswith(f + "/") for f in folders)
        ]
        keys = [(ks.namespace, ks.name) for ks in tops]
        clash = len(set(keys)) < len(keys)
        roots = []
        for ks in tops:
            cluster = None
            if named or clash:
                folder = posixpath.dirname(ks.origin)
                cluster = cluster_name(folder, posixpath.basename(folder) or ".")
            roots.append(_Root(ks, cluster, None, ks.origin))
        return roots

    @staticmethod
    def _unique_names(roots: list[_Root]) -> list[_Root]:
        seen: dict[str | None, int] = {}
        for root in roots:
            seen[root.cluster] = seen.get(root.cluster, 0) + 1
        for root in roots:
            if root.cluster is not None and seen[root.cluster] > 1 and root.path:
                root.cluster = root.path
        return roots

    # -------------------------------------------------------------- layers
    def layers_from(self, roots: Sequence[_Root]) -> None:
        """Walk every cluster from its roots into ``self.layers`` and ``self.clusters``."""
        layers, clusters, seen, defined = self.layers, self.clusters, self._seen, self._defined
        for root in sorted(roots, key=lambda r: (r.path or "").count("/")):
            if (root.ks.origin, root.ks.name) in defined and root.cluster not in clusters:
                continue  # a Kustomization another cluster's walk reaches: not a root of its own
            queue: list[FluxKustomization] = [root.ks]
            version = self._version_for(root)
            cluster_layers: list[Layer] = []
            while queue:
                ks = queue.pop(0)
                key = (root.cluster, ks.namespace, ks.name)
                if key in seen:
                    continue
                seen.add(key)
                layer, children = self._layer(ks, root, version)
                defined.add((ks.origin, ks.name))
                cluster_layers.append(layer)
                queue.extend(children)
            version = self._version_for(root, cluster_layers)
            cluster_layers = [_with_version(x, version) for x in cluster_layers]
            layers.extend(cluster_layers)
            if root.cluster not in clusters:
                clusters[root.cluster] = Cluster(
                    root.cluster, root.origin, root.path, version, root.cluster_key, root.context
                )

    def _layer(
        self, ks: FluxKustomization, root: _Root, version: FluxVersion
    ) -> tuple[Layer, list[FluxKustomization]]:
        art, label = self.source_of(ks, root)
        if art is None:
            return make_layer(ks, root.cluster, "", None, external=label, version=version), []
        unknown = set(re.findall(r"\$\{([_A-Za-z][_A-Za-z0-9]*)", ks.path))
        if unknown:
            return make_layer(ks, root.cluster, "", None, unresolved=unknown, version=version), []
        folder = art.resolve(normalize_spec_path(ks.path))
        if folder is None:
            return make_layer(ks, root.cluster, "", None, version=version), []
        result = self.build(art, folder, ks)
        variables = self.variables.of(ks)
        children: list[FluxKustomization] = []
        for obj in result.objects:
            doc, _unknown = substitute_doc(obj.doc, variables)
            if is_flux_kustomization(doc):
                child = parse_kustomization(doc, obj.origin)
                if child is not None:
                    children.append(child)
            elif is_source(doc):
                src = parse_source(doc, obj.origin)
                if src is not None:
                    self.scan.add_source(src)
        return make_layer(ks, root.cluster, folder, result, version=version), children

    def _version_for(self, root: _Root, layers: Sequence[Layer] = ()) -> FluxVersion:
        reached = {p for layer in layers for p in layer.files}
        for fi in self.scan.instances:
            if fi.origin == root.origin or fi.origin in reached:
                parsed = from_instance(fi.version)
                if parsed is not None:
                    return FluxVersion(parsed, fi.origin)
        for path, found in sorted(self.scan.versions.items()):
            if path in reached:
                return FluxVersion(found, path)
        distinct = set(self.scan.versions.values())
        if len(distinct) == 1:
            path = min(self.scan.versions)
            return FluxVersion(distinct.pop(), path)
        return ASSUMED


def _with_version(layer: Layer, version: FluxVersion) -> Layer:
    return layer if layer.version == version else replace(layer, version=version)


def _order(layers: list[Layer]) -> tuple[list[Layer], list[tuple[str, str]]]:
    """Clusters in name order (the implicit one first), layers in dependsOn order."""
    by_cluster: dict[str | None, list[int]] = {}
    for i, layer in enumerate(layers):
        by_cluster.setdefault(layer.cluster, []).append(i)
    out: list[Layer] = []
    unknown: list[tuple[str, str]] = []
    for cluster in sorted(by_cluster, key=lambda c: (c is not None, c or "")):
        members = [layers[i] for i in by_cluster[cluster]]
        index = {(x.namespace, x.name): j for j, x in enumerate(members)}
        names: dict[str, list[int]] = {}
        for j, x in enumerate(members):
            names.setdefault(x.name, []).append(j)
        deps: list[list[int]] = []
        for x in members:
            targets: list[int] = []
            for dep in x.depends_on:
                hit = index.get((x.namespace, dep))
                if hit is None and len(names.get(dep, ())) >= 1:
                    hit = names[dep][0]
                if hit is None:
                    unknown.append((x.name, dep))
                else:
                    targets.append(hit)
            deps.append(sorted(set(targets)))
        out.extend(members[j] for j in _topological(members, deps))
    return out, unknown


def _topological(members: Sequence[Layer], deps: list[list[int]]) -> list[int]:
    waiting = [len(d) for d in deps]
    dependents: list[list[int]] = [[] for _ in members]
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
    if len(order) < len(members):
        left = set(range(len(members))) - set(order)
        node = min(left)
        trail: list[int] = []
        while node not in trail:
            trail.append(node)
            node = min(j for j in deps[node] if j in left)
        cycle = [*trail[trail.index(node) :], node]
        raise ConfigError("dependsOn cycle: " + " → ".join(members[i].name for i in cycle))
    return order


def find_layers(
    snapshot: Snapshot,
    clusters: Sequence[ClusterSpec] = (),
    sources: Mapping[str, str] = MappingProxyType({}),
) -> LayerGraph:
    """The live Flux layers of the repository in ``snapshot``."""
    model = _Model(snapshot, clusters, sources)
    roots = model.roots()
    model.layers_from(roots)
    explicit = set(model.clusters)
    model.layers_from(model.implicit_roots(model.layers, named=bool(roots)))
    if explicit:
        # an implicit cluster that reads nothing of this checkout (only external sources)
        # is an unapplied leftover, not a cluster worth reporting
        empty = {
            c
            for c in set(model.clusters) - explicit
            if all(not x.files for x in model.layers if x.cluster == c)
        }
        model.layers = [x for x in model.layers if x.cluster not in empty]
        for c in empty:
            del model.clusters[c]
    found_clusters = list(model.clusters.values())
    ordered, unknown = _order(model.layers)
    notes = list(model.notes)
    for layer in ordered:
        if layer.external is not None:
            notes.append(
                f"layer {layer.name} reads {layer.external}, a source outside this checkout: "
                "its files are not judged (map it with sources: in .secretsmgr.yaml)"
            )
        elif layer.unresolved:
            names = ", ".join(layer.unresolved)
            notes.append(
                f"layer {layer.name}: spec.path uses variables not known here ({names}): "
                "its files are not mapped"
            )
    notes += sorted(model.repo.problems.values())
    for layer in ordered:
        notes += [f"layer {layer.name}: {p}" for p in layer.problems]
    versions = {c.version for c in found_clusters}
    if ordered and any(v.assumed for v in versions):
        notes.append(
            f"the repository does not say which Flux version it runs: assuming the current "
            f"release, {ASSUMED.label}"
        )
    found_clusters.sort(key=lambda c: (c.name is not None, c.name or ""))
    return graph_of(ordered, found_clusters, unknown, notes)
