"""`.sops.yaml` creation rules from the Flux model: one rule per set of clusters.

Every file a live layer reads belongs to the clusters that apply it. Folders are taken as wide
as possible while every file below them belongs to the same clusters: in a one-cluster
repository that is each top-level folder the cluster reads (``clusters/``, ``gitops/``), and in a
repository with a shared base the base gets a rule naming every cluster's key. A file that no
layer reads lies outside every rule unless its folder is covered, so a Talos or Ansible secret
never silently gets a cluster key.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from secretsmgr.repo.flux import LayerGraph
from secretsmgr.repo.settings import SETTINGS_NAME
from secretsmgr.repo.sopsconfig import SOPS_CONFIG_NAME

_SPECIAL = re.compile(r"([\\.+*?()|\[\]{}^$])")


@dataclass(frozen=True, slots=True)
class PathGroup:
    """Folders (ending in ``/``) and single files that the same clusters apply."""

    clusters: tuple[str | None, ...]  # in the graph's cluster order
    paths: tuple[str, ...]

    @property
    def path_regex(self) -> str:
        """The rule's ``path_regex`` (RE2, as sops reads it), anchored at the config's folder."""
        alternatives = [_escape(p) if p.endswith("/") else _escape(p) + "$" for p in self.paths]
        return "^(?:" + "|".join(alternatives) + ")"


def exact_regex(paths: Iterable[str]) -> str:
    """A ``path_regex`` matching exactly ``paths`` (relative to the config's folder)."""
    return "^(?:" + "|".join(_escape(p) + "$" for p in paths) + ")"


def _escape(text: str) -> str:
    return _SPECIAL.sub(r"\\\1", text)


# the files init writes at the root (a root build with a generated kustomization reads them
# until init's .sourceignore keeps them out): no creation rule is for them
TOOL_FILES = frozenset((SOPS_CONFIG_NAME, SETTINGS_NAME, ".pre-commit-config.yaml"))  # texts.py


def path_groups(
    graph: LayerGraph,
    unread: Iterable[str] = (),
    folder: str = "",
    elsewhere: Iterable[str] = (),
    present: Collection[str] = (),
) -> list[PathGroup]:
    """The paths each set of clusters applies, widest folders first; sets in cluster order.

    ``unread``: SOPS files no layer reads. One in a folder of its own (no file a layer reads
    beside it) keeps the folders above it from being taken whole, so its rule is not the
    cluster's (rust84/k8s-gitops: a Talos secret under ``kubernetes/bootstrap/`` got
    ``kubernetes/``'s rule, and SM011 at once; sweep 19).

    ``folder``: the folder of the `.sops.yaml` the rules are for ("" for the root): only the
    files below it count, as paths relative to it. ``elsewhere``: folders with a `.sops.yaml`
    of their own, which governs the files below them: those files join no group and keep the
    folders above them from being taken whole (sweep 22, tinoha/homelab: the root rules init
    wrote named folders below ``kubernetes/``, whose own `.sops.yaml` governs them).
    ``present``: folders of this checkout; a decrypting layer's folder among them that holds
    no file its build reads yet (a `secrets/` made with a `.gitkeep`) is its clusters' too, so
    the first secret init's step puts there has a rule (the attack review of sweep 66)."""
    owners: dict[str, set[str | None]] = {}
    for layer in graph.layers:
        if layer.external is not None:
            continue
        for path in layer.files:
            if path in TOOL_FILES:
                continue  # init's own files, which a root build may read: never secrets
            owners.setdefault(path, set()).add(layer.cluster)
    for layer in graph.layers:
        empty = layer.external is None and not layer.files and layer.decrypts_sops
        if empty and layer.path not in ("", ".") and layer.path in present:
            owners.setdefault(layer.path + "/", set()).add(layer.cluster)
    read_folders = {posixpath.dirname(p) for p in owners}
    for path in unread:
        if path not in owners and posixpath.dirname(path) not in read_folders:
            owners[path] = set()  # nobody's: it splits the folders above it, joins no group
    prefix = folder + "/" if folder else ""
    others = tuple(d + "/" for d in elsewhere if d.startswith(prefix) and d != folder)
    owners = {
        path[len(prefix) :]: set() if path.startswith(others) else clusters
        for path, clusters in owners.items()
        if path.startswith(prefix)
    }
    found: dict[frozenset[str | None], list[str]] = {}

    def walk(prefix: str, rests: list[str]) -> None:
        heads: dict[str, list[str]] = {}
        for rest in rests:
            head, slash, tail = rest.partition("/")
            heads.setdefault(head + slash, []).append(tail)
        for head, tails in sorted(heads.items()):
            full = prefix + head
            if not head.endswith("/"):
                if owners[full]:
                    found.setdefault(frozenset(owners[full]), []).append(full)
                continue
            sets = {frozenset(owners[full + tail]) for tail in tails}
            if len(sets) == 1:
                only = sets.pop()
                if only:
                    found.setdefault(only, []).append(full)
            else:
                walk(full, tails)

    walk("", sorted(owners))
    order = {c.name: i for i, c in enumerate(graph.clusters)}

    def rank(clusters: frozenset[str | None]) -> tuple[int, list[int]]:
        return len(clusters), sorted(order.get(c, len(order)) for c in clusters)

    return [
        PathGroup(tuple(sorted(s, key=lambda c: order.get(c, len(order)))), tuple(found[s]))
        for s in sorted(found, key=rank)
    ]


def present_folders(files: Iterable[str]) -> set[str]:
    """Every folder that holds one of ``files`` (repository-relative), and the folders above."""
    found: set[str] = set()
    for path in files:
        parts = path.split("/")[:-1]
        found.update("/".join(parts[: i + 1]) for i in range(len(parts)))
    return found
