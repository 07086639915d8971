"""The checkout as Flux's sources hold it: artifacts (``.sourceignore``, ``spec.ignore``),
cached kustomize builds, and which ``sourceRef`` means this checkout.

``model.py`` finds the clusters and their layers on top of it.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from secretsmgr.errors import SecretsmgrError
from secretsmgr.repo import git
from secretsmgr.repo.flux.build import Artifact, Builder, BuildResult, RepoFiles, flux_overlay
from secretsmgr.repo.flux.graph import Cluster, Layer
from secretsmgr.repo.flux.ignore import SourceFilter, ignore_patterns, read_patterns
from secretsmgr.repo.flux.objects import FluxKustomization, Ref, Source, normalize_spec_path
from secretsmgr.repo.flux.scan import SubstituteSources, normalize_url, scan_repository
from secretsmgr.repo.settings import ClusterSpec
from secretsmgr.repo.snapshot import Snapshot
from secretsmgr.repo.sopsentry import is_named_sops
from secretsmgr.sops.yamlio import safe_load_all

# an ArtifactGenerator's copy of a folder's whole tree, and where it goes in the artifact
_COPY_FROM = re.compile(r"^@(?P<alias>[\w.-]+)/(?P<path>[^*?\[]+?)/\*\*$")
_COPY_TO = re.compile(r"^@artifact(?:/(?P<path>[^*?\[]*))?$")


@dataclass
class Root:
    """A cluster root: the Kustomization Flux starts from, and what it means."""

    ks: FluxKustomization
    cluster: str | None
    path: str | None
    origin: str
    cluster_key: str | None = None
    context: str | None = None
    bootstrap: Ref | None = None  # the bootstrap source: this checkout
    # a Kustomization of a kustomize base, applied as the cluster folder including it builds it:
    # a root of that cluster although another cluster's walk took it too
    shared: bool = False


class Workspace:
    """The checkout as Flux sources see it: artifacts, cached builds, which source is this
    checkout."""

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
        self.scan = scan_repository(self.repo)
        # ``namespace/name`` of a Secret -> the objects of live layers besides sources that read
        # credentials from it (``HelmRepository charts``), each once
        self.credential_readers: dict[str, dict[str, None]] = {}
        self.variables = SubstituteSources(self.repo)
        self.notes: list[str] = []
        # roots (file, namespace, name) whose spec.path holds nothing (noted)
        self.empty_path_roots: set[tuple[str, str, str]] = set()
        self._artifacts: dict[tuple[str, str], Artifact] = {}
        self.root = snapshot.root
        self._roots: list[Root] = []
        self._own_urls: set[str] | None = None
        # URLs of bootstraps that apply their own file from here under another repository's
        # name (renamed since)
        self._renamed: set[str] = set()
        self._remote: str | None = None
        self._remote_read = False
        self.layers: list[Layer] = []
        self.clusters: dict[str | None, Cluster] = {}
        self._seen: set[tuple[str | None, str, str]] = set()
        self._defined: set[tuple[str, str]] = set()  # (origin, name) of every live layer
        self._builds: dict[tuple[object, ...], BuildResult] = {}
        self._sops_named: list[str] | None = None
        # a path -> the kustomization files that list it (resources, components); read once
        self._includers: dict[str, set[str]] | None = None
        self._flux_paths: set[str] | None = None
        self._generator_docs: list[tuple[str, dict[str, object]]] | None = None
        self.walking: list[Layer] = []  # the layers of the cluster being walked
        self._folders: set[str] | None = None  # every folder of the checkout

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

    def ignored_below(self, art: Artifact, folder: str) -> list[str]:
        """The SOPS-named files below ``folder`` that ``art`` leaves out: its source's ignore
        rules drop them, so no Kustomization of that source can apply them (SM012 says so)."""
        if self._sops_named is None:
            self._sops_named = [f for f in self.repo.files if is_named_sops(f)]
        prefix = f"{folder}/" if folder and folder != "." else ""
        return [f for f in self._sops_named if f.startswith(prefix) and not art.holds(f)]

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
                ks.origin if ks.components else "",  # where a missing component is named
            )
            overlay = flux_overlay(
                ks.components, ks.patches, ks.target_namespace, ks.name_prefix, ks.name_suffix
            )
        cached = self._builds.get(key)
        if cached is None:
            named = (ks.origin, tuple(ks.components)) if ks is not None else ("", ())
            cached = self._builds[key] = Builder(self.repo, art).build(folder, overlay, named)
        return cached

    def source_of(self, ks: FluxKustomization, root: Root) -> tuple[Artifact | None, str]:
        """The artifact ``ks``'s sourceRef names, or None when it is external; and its label."""
        ref = ks.source
        label = ref.label
        mapped = self.mapped.get(label)
        definition = self.scan.source(ref, ks.origin)
        if mapped is not None:
            base = normalize_spec_path(mapped)
            ignore = definition.ignore if definition is not None else None
            return self.artifact("" if base == "." else base, ignore), label
        if ref.kind == "ExternalArtifact":
            made = self._generated(ref, ks, root)
            return (self.artifact(*made), label) if made is not None else (None, label)
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
            self._note_other_revision(ks, root, definition)
            return self.artifact("", definition.ignore), label
        return None, label

    def _note_other_revision(self, ks: FluxKustomization, root: Root, source: Source) -> None:
        """A note when ``ks`` reads this repository at another branch or tag than its
        cluster's own source (sweep 66, joshrnoll/homelab-as-code: a staging layer read
        branch staging, which held a SOPS file this checkout of main has not): its files are
        judged as this checkout holds them."""
        own = self.scan.source(root.bootstrap, root.origin) if root.bootstrap else None
        if own is None or own.revision is None or source.revision in (None, own.revision):
            return
        where = f" of cluster {root.cluster}" if root.cluster else ""
        note = (
            f"layer {ks.name}{where} reads {source.ref.label}, which follows {source.revision} "
            f"of this repository while the cluster's own source follows {own.revision}: its "
            f"files are judged as this checkout holds them; audit a checkout of "
            f"{source.revision} too"
        )
        if note not in self.notes:
            self.notes.append(note)

    def _generated(
        self, ref: Ref, ks: FluxKustomization, root: Root
    ) -> tuple[str, str | None] | None:
        """The folder of this checkout an ``ExternalArtifact`` holds (and its GitRepository's
        ignore rules), when an ArtifactGenerator here makes it by copying that folder's tree
        from a GitRepository of this checkout (Flux 2.7; sweep 48, FelixDobler/kubernetes:
        every layer read one, and none was mapped): each copy ``@ALIAS/B/Q/**`` to
        ``@artifact/Q/`` for one folder B, with no ``exclude``. Only a generator a layer of the
        same cluster applies counts, and only one (the attack review: another cluster's, or a
        leftover no layer applies, mapped the wrong folder); None otherwise."""
        found: list[tuple[str, str | None] | None] = []
        for path, doc in self._generators():
            applied = (*self.layers, *self.walking)
            if not any(x.cluster == root.cluster and path in x.files for x in applied):
                continue
            meta = doc.get("metadata")
            spec = doc.get("spec")
            if not isinstance(meta, dict) or not isinstance(spec, dict):
                continue
            if meta.get("namespace", ks.namespace) != ref.namespace:
                continue
            aliases = {
                str(src.get("alias")): Ref(
                    "GitRepository", str(src.get("namespace") or ref.namespace), str(src["name"])
                )
                for src in spec.get("sources") or []
                if isinstance(src, dict) and src.get("kind") == "GitRepository" and src.get("name")
            }
            for artifact in spec.get("artifacts") or []:
                if isinstance(artifact, dict) and artifact.get("name") == ref.name:
                    found.append(self._copied_folder(artifact.get("copy"), aliases, ks, root))
        return found[0] if len(found) == 1 else None

    def _copied_folder(
        self, copies: object, aliases: Mapping[str, Ref], ks: FluxKustomization, root: Root
    ) -> tuple[str, str | None] | None:
        bases = set()
        ignores = set()
        for entry in copies if isinstance(copies, list) else []:
            if not isinstance(entry, dict) or entry.get("exclude"):
                return None  # some of the tree left out: not the folder as it is here
            source, target = entry.get("from"), entry.get("to")
            got = _COPY_FROM.match(source) if isinstance(source, str) else None
            put = _COPY_TO.match(target) if isinstance(target, str) else None
            if got is None or put is None or got["alias"] not in aliases:
                return None
            repository = aliases[got["alias"]]
            if not self._this_checkout(repository, ks, root):
                return None
            definition = self.scan.source(repository, ks.origin)
            ignores.add(definition.ignore if definition is not None else None)
            folder = posixpath.normpath(got["path"].strip("/"))
            sub = posixpath.normpath((put["path"] or "").strip("/") or ".")
            if folder.startswith("..") or sub.startswith(".."):
                return None
            if sub == ".":
                bases.add(folder)
            elif folder == sub or folder.endswith("/" + sub):
                bases.add(folder[: len(folder) - len(sub)].rstrip("/") or ".")
            else:
                return None  # copied under another name: no one folder of the checkout
        if len(bases) != 1 or len(ignores) != 1:
            return None
        base = bases.pop()
        return ("" if base == "." else base), ignores.pop()

    def _this_checkout(self, source: Ref, ks: FluxKustomization, root: Root) -> bool:
        if root.bootstrap is not None and source == root.bootstrap:
            return True
        definition = self.scan.source(source, ks.origin)
        return definition is not None and normalize_url(definition.url) in self.own_urls()

    def _generators(self) -> list[tuple[str, dict[str, object]]]:
        """(file, document) of every ArtifactGenerator in the checkout (read once, when a layer
        asks)."""
        if self._generator_docs is None:
            self._generator_docs = []
            for path in sorted(self.repo.files):
                if not path.endswith((".yaml", ".yml")):
                    continue
                try:
                    data = self.repo.read(path)
                except OSError:
                    continue
                if b"ArtifactGenerator" not in data:
                    continue
                try:
                    docs = safe_load_all(data.decode("utf-8", "replace"))
                except SecretsmgrError:
                    continue
                self._generator_docs += [
                    (path, d)
                    for d in docs
                    if isinstance(d, dict) and d.get("kind") == "ArtifactGenerator"
                ]
        return self._generator_docs

    def remote(self) -> str | None:
        """git's ``origin`` URL of the checkout, normalized (read once); when no GitRepository
        names it, the one URL among theirs that is the same repository under another host
        name (an ssh alias: ``git@github-work:org/repo``) or, failing that, the one fork
        parent (``someone/repo`` cloned from ``org/repo``), with a note saying so."""
        if not self._remote_read:
            self._remote_read = True
            raw = git.remote_url(self.root)
            self._remote = self._as_declared(normalize_url(raw), raw)
        return self._remote

    def _as_declared(self, origin: str | None, raw: str | None = None) -> str | None:
        if origin is None or "/" not in origin:
            return origin
        # each URL as the manifest spells it, for the note (compared in small letters, shown
        # as written: sweep 100, a path and a URL printed lower-cased named nothing that exists)
        written: dict[str, str] = {}
        for sources in self.scan.sources.values():
            for src in sources:
                if src.ref.kind == "GitRepository" and (url := normalize_url(src.url)):
                    written.setdefault(url, str(src.url).strip())
        declared = set(written)
        if origin in declared:
            return origin
        path = origin.split("/", 1)[1]
        name = "/" + path.rsplit("/", 1)[-1]
        named = sorted(u for u in declared if u.endswith(name) and "/" in u)
        for why, found in (
            (
                "the same repository under another host name",
                [u for u in named if u.split("/", 1)[1] == path],
            ),
            ("a repository of the same name (origin may be a fork)", named),
        ):
            if len(found) == 1:
                self.notes.append(
                    f"origin {(raw or origin).strip()} is not a GitRepository URL here; "
                    f"{written.get(found[0], found[0])} is taken as this checkout: {why}"
                )
                return found[0]
        return origin

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
            urls.add(self._without_origin())
            self._own_urls = {u for u in urls if u}
        return self._own_urls

    def _without_origin(self) -> str | None:
        """The URL that stands for this checkout where git's origin is no hosted URL (a CI
        clone of a mirror): none here; the model knows the bootstrap sources'."""
        return None
