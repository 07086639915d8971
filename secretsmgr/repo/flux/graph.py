"""Layers and clusters: the Flux model's result, and the dependsOn order it is reported in."""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from secretsmgr.errors import ConfigError, UsageError
from secretsmgr.repo.flux.build import BuildResult, Use, UseKind
from secretsmgr.repo.flux.objects import Decryption, FluxKustomization
from secretsmgr.repo.flux.substitute import Variables
from secretsmgr.repo.flux.version import ASSUMED, FluxVersion

GENERATOR_USES = frozenset({UseKind.SECRET_FILE, UseKind.SECRET_ENV, UseKind.CONFIGMAP_SOURCE})


@dataclass(frozen=True, slots=True)
class Layer:
    """One live Flux Kustomization of one cluster, and every repository file its build reads."""

    name: str  # the Kustomization's; ``namespace/name`` when another of its cluster has it
    namespace: str
    cluster: str | None
    path: str  # the repo-relative folder its build starts in ("" when not resolved)
    source: str  # the manifest that defines it
    source_ref: str  # "GitRepository/flux-system/flux-system"
    # (namespace, name) of each dependsOn entry: Flux defaults the namespace to the layer's own
    depends_on_keys: tuple[tuple[str, str], ...]
    decryption: Decryption | None
    uses: Mapping[str, frozenset[Use]] = field(repr=False)
    files: frozenset[str] = field(repr=False)
    component_files: frozenset[str] = field(repr=False)
    generator_files: frozenset[str] = field(repr=False)
    missing: tuple[str, ...] = ()
    # a missing path -> the kustomization file that names it, and the entry as written
    missing_from: Mapping[str, tuple[str, str]] = field(default_factory=dict, repr=False)
    # the missing paths that are folders with no kustomization file (kustomize cannot build one)
    without_kfile: frozenset[str] = field(default_factory=frozenset, repr=False)
    external: str | None = None  # the source, when it is not this checkout
    # an external layer's spec.path, inside that source ("" when unknown or its root)
    external_path: str = ""
    # for an external source no manifest defines: the one of that kind and name that one does
    # define in another namespace (a sourceRef without namespace, moved by namespace:)
    source_elsewhere: str = ""
    # an external GitRepository whose URL names another repository than this checkout
    another_repository: bool = False
    # ... of another owner (or host): never a mirror or a renamed copy of this checkout
    another_owner: bool = False
    unresolved: tuple[str, ...] = ()  # unknown variables in spec.path
    version: FluxVersion = ASSUMED
    problems: tuple[str, ...] = ()
    # SOPS-named files below ``path`` that its source leaves out (.sourceignore, spec.ignore)
    ignored: frozenset[str] = field(default=frozenset(), repr=False)
    # files whose objects the build's namespace, name or label transformers rewrite
    transformed: frozenset[str] = field(default=frozenset(), repr=False)
    # the postBuild variables written in clear in the checkout: name -> (value, file)
    variables: Mapping[str, tuple[str, str]] = field(default_factory=dict, repr=False)

    @property
    def depends_on(self) -> tuple[str, ...]:
        """The names of its dependsOn entries, for reports."""
        return tuple(name for _, name in self.depends_on_keys)

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
    ignored: Iterable[str] = (),
    external_path: str = "",
    source_elsewhere: str = "",
    another_repository: bool = False,
    another_owner: bool = False,
    variables: Variables | None = None,
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
        depends_on_keys=tuple((namespace, name) for name, namespace in ks.depends_on),
        decryption=ks.decryption,
        uses=MappingProxyType(uses),
        files=frozenset(uses),
        component_files=frozenset(p for p, u in uses.items() if any(x.via_component for x in u)),
        generator_files=frozenset(
            p for p, u in uses.items() if any(x.kind in GENERATOR_USES for x in u)
        ),
        missing=tuple(sorted(result.missing)) if result else (),
        missing_from=MappingProxyType(dict(result.listed_in)) if result else MappingProxyType({}),
        without_kfile=frozenset(result.without_kfile) if result else frozenset(),
        external=external,
        external_path=external_path,
        source_elsewhere=source_elsewhere,
        another_repository=another_repository,
        another_owner=another_owner,
        unresolved=tuple(sorted(unresolved)),
        version=version,
        problems=tuple(dict.fromkeys((*ks.problems, *(result.problems if result else ())))),
        ignored=frozenset(ignored),
        transformed=frozenset(result.transformed) if result else frozenset(),
        variables=MappingProxyType(_in_clear(variables)),
    )


def _in_clear(variables: Variables | None) -> dict[str, tuple[str, str]]:
    """The known variables with the file each is written in."""
    if variables is None:
        return {}
    return {
        name: (value, variables.origins[name])
        for name, value in variables.values.items()
        if name in variables.origins
    }


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
    # Flux Kustomizations the repository holds, live or not (none live: no root applies them)
    kustomizations: int = 0
    # the Secrets kustomize-controller's --sops-age-secret flag names in the manifests (it
    # decrypts with that one where a Kustomization's decryption names no secretRef), each with
    # the clusters whose layers apply the manifest that sets it
    controller_age_secret_clusters: Mapping[str, frozenset[str | None]] = field(
        default_factory=dict
    )
    # the clusters whose layers give kustomize-controller an age key in its environment
    controller_age_env_clusters: frozenset[str | None] = frozenset()
    # an outside source a layer reads -> the folder of this checkout that looks like a copy of
    # it: a Kustomization reading it lies there below its own spec.path (a bootstrap's
    # clusters/NAME, in kubernetes/ here), so mapping it with sources: is likely right
    mirrors: Mapping[str, str] = field(default_factory=dict)
    # Flux Kustomizations of this checkout's own source that nothing applies: (name, the file
    # that defines it, its spec.path in the repository, whether it has a spec.decryption of
    # its own), the app a commented-out entry left out
    dormant: tuple[tuple[str, str, str, bool], ...] = ()
    # ``namespace/name`` of each Secret a Flux source of the repository reads its credentials
    # from (a GitRepository's deploy key), with those sources (``GitRepository flux-system``):
    # a key sent there must go beside them, never replace the Secret (sweep 93,
    # shangkuei/fluxcd: its layers decrypt with `flux-system`, the Git deploy key's Secret)
    source_secrets: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    _by_file: Mapping[str, tuple[int, ...]] = field(default_factory=dict, repr=False, compare=False)

    def names(self) -> tuple[str, ...]:
        """Layer names in order, each once."""
        return tuple(dict.fromkeys(layer.name for layer in self.layers))

    def shown(self, layer: Layer) -> str:
        """How a message names ``layer``: ``cluster/name`` when the repository has several
        clusters, else its name (sweep 94, soulwhisper/home-ops: init listed its one
        cluster's layers as `flux-system/gitops-system`, read as a namespace)."""
        return layer.label if len(self.clusters) > 1 else layer.name

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

    def decryption_secrets(
        self, holding: AbstractSet[str] | None = None, *, local: bool = False
    ) -> dict[str | None, tuple[tuple[str, str], ...]]:
        """(namespace, Secret) each cluster's decrypting layers read their keys from: the
        Kustomization's own namespace and its ``decryption.secretRef`` (Flux in
        ``gitops-system``, a ``sops-gpg`` Secret, a Secret per app namespace), in layer order.
        ``holding``: only layers of this checkout that read one of these files (SOPS files);
        ``local``: only layers of this checkout (not a tenant's over a source of its own)."""
        found: dict[str | None, dict[tuple[str, str], None]] = {}
        for layer in self.layers:
            ref = layer.decryption.secret_ref if layer.decryption is not None else None
            if not layer.decrypts_sops or not ref:
                continue
            if (holding is not None or local) and layer.external is not None:
                continue
            if holding is not None and not layer.files & holding:
                continue
            found.setdefault(layer.cluster, {})[(layer.namespace, ref)] = None
        return {cluster: tuple(pairs) for cluster, pairs in found.items()}

    @property
    def controller_age_secrets(self) -> tuple[str, ...]:
        """The ``--sops-age-secret`` Secrets of every cluster, by name."""
        return tuple(sorted(self.controller_age_secret_clusters))

    def controller_age_secrets_of(self, cluster: str | None) -> tuple[str, ...]:
        """The ``--sops-age-secret`` Secrets that ``cluster``'s kustomize-controller is given."""
        held = self.controller_age_secret_clusters
        return tuple(name for name in self.controller_age_secrets if cluster in held[name])

    def controller_namespace(self, cluster: str | None = None) -> str:
        """The namespace kustomize-controller most likely runs in for ``cluster`` (None: any):
        that of its layers when they share one other than ``flux-system`` (Flux installed in
        ``gitops-system``, the review), else ``flux-system``."""
        found = {
            layer.namespace
            for layer in self.layers
            if layer.external is None and (cluster is None or layer.cluster == cluster)
        }
        return found.pop() if len(found) == 1 and None not in found else "flux-system"

    def controller_key_clusters(self, holding: AbstractSet[str]) -> frozenset[str | None]:
        """Clusters whose decrypting layers of this checkout all decrypt with the controller's
        own keys (``decryption`` with no ``secretRef``: its ``--sops-age-secret`` flag, cloud
        KMS credentials): those holding one of ``holding`` (SOPS files), or, in a cluster with
        none yet, every such layer."""
        refs: dict[str | None, list[bool]] = {}
        held: dict[str | None, list[bool]] = {}
        for layer in self.layers:
            if not layer.decrypts_sops or layer.external is not None:
                continue
            ref = bool(layer.decryption.secret_ref) if layer.decryption is not None else False
            refs.setdefault(layer.cluster, []).append(ref)
            if layer.files & holding:
                held.setdefault(layer.cluster, []).append(ref)
        return frozenset(
            cluster for cluster, found in refs.items() if not any(held.get(cluster) or found)
        )


def graph_of(
    layers: Sequence[Layer],
    clusters: Sequence[Cluster] = (),
    unknown: Sequence[tuple[str, str]] = (),
    notes: Sequence[str] = (),
    kustomizations: int = 0,
    controller_age_secret_clusters: Mapping[str, frozenset[str | None]] = MappingProxyType({}),
    mirrors: Mapping[str, str] = MappingProxyType({}),
    dormant: Sequence[tuple[str, str, str, bool]] = (),
    source_secrets: Mapping[str, tuple[str, ...]] = MappingProxyType({}),
    controller_age_env_clusters: frozenset[str | None] = frozenset(),
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
        kustomizations=kustomizations,
        controller_age_secret_clusters=MappingProxyType(dict(controller_age_secret_clusters)),
        mirrors=MappingProxyType(dict(mirrors)),
        dormant=tuple(dormant),
        source_secrets=MappingProxyType(dict(source_secrets)),
        controller_age_env_clusters=controller_age_env_clusters,
        _by_file=MappingProxyType({k: tuple(v) for k, v in index.items()}),
    )


# ------------------------------------------------------------------------------ helpers


def with_version(layer: Layer, version: FluxVersion) -> Layer:
    return layer if layer.version == version else replace(layer, version=version)


def order_layers(layers: list[Layer]) -> tuple[list[Layer], list[tuple[str, str]]]:
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
            for namespace, dep in x.depends_on_keys:
                hit = index.get((namespace, dep))
                if hit is None:  # a namespace the model could not resolve: a unique name will do
                    same = [j for j in names.get(dep, ()) if members[j] is not x]
                    hit = same[0] if len(same) == 1 else None
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
        names = [members[i].name for i in cycle]
        if len(names) > 9:  # one line still (the attack review of stop 51: 3,000 names, 30 KB)
            names = [*names[:4], f"… {len(names) - 7} more …", *names[-3:]]
        raise ConfigError("dependsOn cycle: " + " → ".join(names))
    return order


def unknown_layer(name: str, known: Sequence[str]) -> UsageError:
    """The error for a ``--layer`` no layer answers to: ambiguous when layers of that name in
    several namespaces are known only as ``namespace/name``, else unknown, with the names."""
    shared = [k for k in known if k.rsplit("/", 1)[-1] == name and k != name]
    if len(shared) > 1:
        return UsageError(
            f"layer {name!r} is ambiguous: {', '.join(shared)}",
            hints=(f"name one: --layer {shared[0]}",),
        )
    shown = ", ".join(known) if known else "none"
    return UsageError(f"unknown layer: {name}", hints=(f"layers: {shown}",))
