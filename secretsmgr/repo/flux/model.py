"""The repository as Flux reconciles it: clusters, their live Kustomizations, and what each reads.

1. **Cluster roots.** A Flux bootstrap (a Kustomization whose own build reaches the file that
   defines it: ``flux-system`` at ``clusters/<name>``), a flux-operator ``FluxInstance`` with
   ``spec.sync``, or a ``clusters:`` entry of ``.secretsmgr.yaml``. A repository with none of
   these gets one implicit cluster whose roots are the Flux Kustomizations no other one reaches,
   as the folder applied by hand builds them (a base's, as the cluster folder including it does).
2. **Live Kustomizations** are those reached from a root: the Flux Kustomizations in a parent's
   build output, after the parent's kustomize transformations, its own ``spec.patches``,
   ``spec.components`` and ``postBuild`` substitution. One commented out of a kustomization.yaml
   is not live.
3. **Sources.** ``spec.sourceRef`` decides where ``spec.path`` points: the repository's own
   GitRepository (the bootstrap one, or another with the same URL) is this checkout as its
   artifact holds it (``.sourceignore``, ``spec.ignore``, default exclusions); any other source is
   external unless ``sources:`` in ``.secretsmgr.yaml`` maps it to a folder. External layers are
   listed and never resolved against the checkout. A source object is read as the build that
   applies it gives it, after that build's patches, as a Kustomization is.

Nothing here is an error that stops the model: what it cannot know (an external source, an
unknown variable, an unreadable manifest) becomes a note.
"""

from __future__ import annotations

import posixpath
import re
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import replace
from types import MappingProxyType

from secretsmgr.plural import plural
from secretsmgr.repo.flux.build import BuildResult
from secretsmgr.repo.flux.graph import (
    Cluster,
    Layer,
    LayerGraph,
    graph_of,
    make_layer,
    order_layers,
    with_version,
)
from secretsmgr.repo.flux.kfile import KUSTOMIZATION_NAMES, UseKind, git_address, is_remote
from secretsmgr.repo.flux.objects import (
    KUSTOMIZE_GROUP,
    Decryption,
    FluxInstance,
    FluxKustomization,
    Ref,
    Source,
    credential_reader,
    is_flux_instance,
    is_flux_kustomization,
    is_source,
    normalize_spec_path,
    parse_instance,
    parse_kustomization,
    parse_source,
)
from secretsmgr.repo.flux.patch import patches_of
from secretsmgr.repo.flux.resourceset import is_resource_set, resource_set_kustomizations
from secretsmgr.repo.flux.scan import (
    cluster_name,
    normalize_url,
)
from secretsmgr.repo.flux.substitute import substitute_doc
from secretsmgr.repo.flux.version import ASSUMED, FluxVersion, from_instance
from secretsmgr.repo.flux.workspace import Root, Workspace
from secretsmgr.repo.settings import ClusterSpec
from secretsmgr.repo.snapshot import Snapshot
from secretsmgr.sops.yamlio import safe_load_all

# a list item switched off with a comment in a kustomization file: ``  # - ../app/ks.yaml``,
# with or without a comment of its own after it (``# - app/ks.yaml # retired``)
_COMMENTED_ITEM = re.compile(r"^[ \t]*#[ \t]*-[ \t]*([^\s#]+)[ \t]*(?:#.*)?$", re.M)

__all__ = ["Cluster", "Layer", "LayerGraph", "cluster_name", "find_layers", "normalize_url"]


class _Model(Workspace):
    """Clusters, roots and layers, found on the workspace."""

    _bootstrap_read = False
    _bootstrap: str | None = None

    # -------------------------------------------------------------- roots
    def roots(self) -> list[Root]:
        """Cluster roots, in the order the clusters will be reported."""
        found: list[Root] = []
        for ks in self.scan.kustomizations:
            if ks.source.kind != "GitRepository" or ks.rejected:
                continue
            folder = normalize_spec_path(ks.path)
            origin_dir = posixpath.dirname(ks.origin)
            if folder != "." and not (origin_dir == folder or origin_dir.startswith(folder + "/")):
                continue
            if _whole_tree_from_below(ks, folder):
                continue
            own = self.scan.source(ks.source, ks.origin)
            # a bootstrap defines its GitRepository in the same file (gotk-sync.yaml), or names
            # one whose URL is this checkout's remote: any other source is not this checkout,
            # nor is one defined beside it whose URL names another repository (a Kustomization
            # of keycloak-k8s-resources, of a secrets repository: path ./, same file)
            if own is None:
                continue
            unknown = False
            if not (own.origin == ks.origin or normalize_url(own.url) == self.remote()):
                # ... with no origin to compare (a CI clone of a mirror), a Kustomization of a
                # folder that applies its own file is this checkout's root all the same, below
                # the top (sweep 95, Vylkatis/home-ops: clustertool's flux-entry, over a source
                # defined in another folder, and all its 56 layers were "external")
                checkout = self._bootstrap_url()
                unknown = (
                    folder != "."
                    and not _hosted(self.remote())
                    and (
                        checkout is None
                        or _repository_name(normalize_url(own.url) or "")
                        == _repository_name(checkout)
                    )
                )
                if not unknown:
                    # ... unless the bootstrap names this checkout, and the source another
                    # repository (the review of stop 51: vendor/platform's Kustomization, copied
                    # into a folder of acme/fleet, was judged as acme/fleet's own)
                    continue
            # ... unless it applies its own file from a folder of this checkout, under the same
            # owner (a bootstrap written by hand whose repository was renamed since: Liana64,
            # sweep 13)
            another = (
                not unknown
                and own.ref.name != "flux-system"
                and self._another_repository(own.url, whole=folder == ".")
            )
            if another and (
                folder == "." or own.origin != ks.origin or not self._same_owner(own.url)
            ):
                continue
            art = self.artifact("", own.ignore)
            result = self.build(art, folder, None)
            if ks.origin in result.uses:
                if another:
                    # the layers it applies sync from that source too (a Kustomization of
                    # another repository beside a live app applies this checkout's own layers,
                    # which name flux-system: d4rkfella)
                    if not self._applies_from(result, ks):
                        continue
                    if (url := normalize_url(own.url)) is not None:
                        self._renamed.add(url)
                # its sources as this build applies them: a patch of the kustomization.yaml
                # beside gotk-sync.yaml may set the GitRepository's spec.ignore, and the
                # artifact then leaves out what it names (sweep 22, ShadyF/k8s-homelab:
                # cluster/apps/mb-scheduler/ was judged as applied)
                self._take_sources(result)
                patched = self.scan.source(ks.source, ks.origin)
                if patched is not None and patched.ignore != own.ignore:
                    result = self.build(self.artifact("", patched.ignore), folder, None)
                name = cluster_name(folder, ks.name)
                found.append(
                    Root(self._as_built(ks, result), name, folder, ks.origin, bootstrap=ks.source)
                )
        for fi in self._patched_instances():
            if fi.sync_path is None or fi.sync_kind is None:
                continue
            sync_name = fi.sync_name or fi.namespace
            ref = Ref(fi.sync_kind, fi.namespace, sync_name)
            if fi.sync_name is None:
                ref = self._instance_source(fi, ref)
                sync_name = ref.name
            ks = _sync_kustomization(fi, ref) or FluxKustomization(
                name=sync_name,
                namespace=ref.namespace,
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
            found.append(Root(ks, name, folder, fi.origin, bootstrap=boot))
        self._roots = self._unique_names(self._with_settings(found))
        # the bootstrap URLs this checkout answers to come from the roots: an answer cached
        # while they were being found (a build's sources) holds none of them
        self._own_urls = None
        return self._roots

    def _patched_instances(self) -> list[FluxInstance]:
        """The FluxInstances as the clusters get them: one in a kustomize base that overlays
        patch (a sync path per cluster: shangkuei/infrastructure) is each overlay's patched
        instance instead, as ``kubectl kustomize`` of the overlay gives it; an instance no
        overlay changes stays as written."""
        instances = list(self.scan.instances)
        if not instances:
            return instances
        origins = {fi.origin for fi in instances if fi.sync_path is not None}
        variants: dict[str, dict[str | None, FluxInstance]] = {}
        art = self.artifact("", None)
        for path in sorted(self.repo.files):
            if posixpath.basename(path) not in KUSTOMIZATION_NAMES:
                continue
            kfile = self.repo.kfile(path)
            if not (kfile.patches or kfile.inline_patches):
                continue
            result = self.build(art, posixpath.dirname(path) or ".", None)
            for obj in result.objects:
                if obj.origin in origins and is_flux_instance(obj.doc):
                    # the overlay is where this cluster's instance is defined: its root
                    fi = parse_instance(obj.doc, path)
                    variants.setdefault(obj.origin, {}).setdefault(fi.sync_path, fi)
        out: list[FluxInstance] = []
        for fi in instances:
            found = variants.get(fi.origin, {})
            changed = [v for path, v in found.items() if path != fi.sync_path]
            out += changed if changed else [fi]
        return out

    def _instance_source(self, fi: FluxInstance, ref: Ref) -> Ref:
        """The source flux-operator creates for ``fi``: named after the instance's namespace,
        which a HelmRelease may get only from the Kustomization that applies it
        (``targetNamespace: gitops-system``). When the Kustomizations in its sync folder all
        read one undefined source named after its own namespace, that is the one."""
        folder = normalize_spec_path(fi.sync_path or ".")
        read = {
            ks.source
            for ks in self.scan.kustomizations
            if _inside(ks.origin, folder)
            and ks.source.kind == ref.kind
            and ks.source.name == ks.source.namespace
            and self.scan.source(ks.source, ks.origin) is None
        }
        return read.pop() if len(read) == 1 and ref not in read else ref

    def _same_owner(self, url: str | None) -> bool:
        """Whether ``url`` and git's ``origin`` name repositories of one owner on one host."""
        found, remote = normalize_url(url), self.remote()
        if found is None or remote is None or not (_hosted(found) and _hosted(remote)):
            return False
        return found.rsplit("/", 1)[0].lower() == remote.rsplit("/", 1)[0].lower()

    @staticmethod
    def _applies_from(result: BuildResult, ks: FluxKustomization) -> bool:
        """Whether ``result`` holds another Flux Kustomization synced from ``ks``'s source."""
        for obj in result.objects:
            if obj.origin == ks.origin or not is_flux_kustomization(obj.doc):
                continue
            child = parse_kustomization(obj.doc, obj.origin)
            if (
                child is not None
                and child.source.kind == ks.source.kind
                and child.source.name == ks.source.name
            ):
                return True
        return False

    def _another_repository(self, url: str | None, *, whole: bool = False) -> bool:
        """Whether ``url`` names another repository than this checkout: both hosted
        (``host/owner/name``), no variable in the URL, and another repository name (a fork or
        an ssh alias of origin is this checkout). Asked only of a source not named
        ``flux-system``, as ``flux bootstrap`` names its own: a renamed repository's bootstrap
        keeps its old URL and still syncs. When ``origin`` is a local path or missing (a clone
        of a mirror, an export), the checkout is the repository that the bootstrap sources
        (in a ``flux-system`` folder, or named so) all name; with none or several, any URL may
        be this checkout, except for a root of the whole tree (``whole``, see below)."""
        found = normalize_url(url)
        if found is None or "$" in found or "{" in found or found in self._renamed:
            return False
        remote = self._checkout_url()
        if remote is None:
            # the Kustomizations read a GitRepository flux-system that the checkout does not
            # define (bootstrap made it in the cluster): that one is this checkout, and a root
            # of the whole tree (path ./) read from a source of another name with a hosted URL
            # is another repository's (sweep 80: a `secrets` repository's source, defined beside
            # its Kustomization, became a cluster of this checkout when origin was a local
            # path). Only of the whole tree: a second cluster's own source of another name (a
            # branch of this repository) is this checkout (the attack review: its layer without
            # decryption passed the gate)
            return whole and _hosted(found) and self._reads_undefined_bootstrap()
        return _repository_name(found) != _repository_name(remote)

    def _without_origin(self) -> str | None:
        """With no hosted origin, the one repository the bootstrap sources name: a Kustomization
        applied by hand over a source of that URL reads this checkout, as it does when origin
        names it (sweep 96, iT3E/tnwks-ops: without origin, cluster ms-01's layers were all
        "a source outside this checkout")."""
        return None if _hosted(self.remote()) else self._bootstrap_url()

    def _checkout_url(self) -> str | None:
        """This checkout's hosted URL: git's origin, else the one the bootstrap sources name."""
        remote = self.remote()
        return remote if _hosted(remote) else self._bootstrap_url()

    def _another_owner(self, url: str | None) -> bool:
        """Whether ``url`` names a repository of another owner than this checkout's (origin,
        else the bootstrap's URL), on any host (a mirror on another forge keeps its owner's
        name: jahanson): both hosted, no variable in the URL."""
        found, remote = normalize_url(url), self._checkout_url()
        if found is None or remote is None or not _hosted(found) or "$" in found:
            return False
        return _owner(found) != _owner(remote)

    def _reads_undefined_bootstrap(self) -> bool:
        """Whether the checkout defines no GitRepository flux-system (nor a FluxInstance that
        syncs one) and more Flux Kustomizations read that one than any GitRepository it
        defines: then bootstrap made it in the cluster, for this checkout."""
        if any(fi.sync_kind == "GitRepository" for fi in self.scan.instances):
            return False
        readers: dict[str, int] = {}
        for ks in self.scan.kustomizations:
            if ks.source.kind == "GitRepository":
                readers[ks.source.name] = readers.get(ks.source.name, 0) + 1
        defined = {ref.name for ref in self.scan.sources if ref.kind == "GitRepository"}
        if "flux-system" in defined:
            return False
        most = max((n for name, n in readers.items() if name in defined), default=0)
        return readers.get("flux-system", 0) > most

    def _bootstrap_url(self) -> str | None:
        """The one hosted repository that the checkout's bootstrap sources name (GitRepository
        objects named ``flux-system`` or defined in a ``flux-system`` folder), or None. Where
        the Kustomizations read a flux-system source that git does not hold, another source in
        a flux-system folder is none (sweep 80, USA-RedDragon: a `secrets` repository's)."""
        if not self._bootstrap_read:
            self._bootstrap_read = True
            names: dict[str, str] = {}
            undefined = self._reads_undefined_bootstrap()
            for sources in self.scan.sources.values():
                for src in sources:
                    folder = posixpath.basename(posixpath.dirname(src.origin))
                    if src.ref.kind != "GitRepository" or "flux-system" not in (
                        src.ref.name,
                        "" if undefined else folder,
                    ):
                        continue
                    found = normalize_url(src.url)
                    if found is not None and _hosted(found) and "$" not in found:
                        names.setdefault(_repository_name(found), found)
            self._bootstrap = next(iter(names.values())) if len(names) == 1 else None
        return self._bootstrap

    def _take_sources(self, result: BuildResult) -> None:
        """The sources in ``result``, the build that applies them, as it gives them (after its
        patches): they replace the definitions as written (``spec.ignore``, ``spec.url``)."""
        for obj in result.objects:
            if is_source(obj.doc) and (src := parse_source(obj.doc, obj.origin)) is not None:
                self.scan.add_source(src, built=True)

    @staticmethod
    def _as_built(
        ks: FluxKustomization, result: BuildResult, renamed: bool = False
    ) -> FluxKustomization:
        """A bootstrap Kustomization as its own build renders it: the kustomization.yaml next to
        it often patches it (``spec.decryption`` added to ``flux-system`` is common). With
        ``renamed``, the one Kustomization its file gives is it under any name (a cluster
        folder's namePrefix)."""
        built_all = [
            built
            for obj in result.objects
            if obj.origin == ks.origin and is_flux_kustomization(obj.doc)
            if (built := parse_kustomization(obj.doc, obj.origin)) is not None
        ]
        for built in built_all:
            if built.name == ks.name:
                return built
        if renamed and len(built_all) == 1:
            return built_all[0]
        return ks

    def _with_settings(self, found: list[Root]) -> list[Root]:
        if not self.settings_clusters:
            return found
        out: list[Root] = []
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
            own = None if spec.decryption else self._applies_itself(folder)
            if own is not None:
                # the root's own build holds the Kustomization that applies it, as Flux gets it
                # (sweep 93, hmcts/sds-flux-config: AKS's Flux extension applies clusters/ENV/NN,
                # whose build patches in flux-system's decryption and the postBuild substitute
                # its layers' paths name; a root of none made every layer's files unplaced)
                # ... one of a base the clusters' folders share: each cluster's own root, named
                # by the folder's kustomization file (the base's file is every cluster's)
                where = next(
                    (
                        posixpath.join(folder, n)
                        for n in KUSTOMIZATION_NAMES
                        if posixpath.join(folder, n) in self.repo.files
                    ),
                    folder,
                )
                root = Root(own, spec.name, folder, where, spec.cluster_key, spec.context)
                root.bootstrap, root.shared = own.source, True
                out.append(root)
                continue
            ref = Ref("GitRepository", "flux-system", "flux-system")
            ks = FluxKustomization(
                name="flux-system",
                namespace="flux-system",
                path=folder,
                source=ref,
                depends_on=(),
                decryption=Decryption(*spec.decryption) if spec.decryption else None,
                components=(),
                patches=(),
                target_namespace=None,
                name_prefix="",
                name_suffix="",
                substitute={},
                substitute_from=(),
                origin=f"{folder} (.secretsmgr.yaml clusters.{spec.name})",
            )
            out.append(Root(ks, spec.name, folder, ks.origin, spec.cluster_key, spec.context, None))
        named = {r.origin for r in out}
        out += [r for r in found if r.origin not in named]
        return out

    def _applies_itself(self, folder: str) -> FluxKustomization | None:
        """The one Flux Kustomization the build of ``folder`` renders whose spec.path is that
        folder, over a GitRepository (as its build patches it), or None."""
        if folder in ("", "."):
            return None
        result = self.build(self.artifact("", None), folder, None)
        found = [
            built
            for obj in result.objects
            if is_flux_kustomization(obj.doc)
            and (built := parse_kustomization(obj.doc, obj.origin)) is not None
            and built.source.kind == "GitRepository"
            and normalize_spec_path(built.path) == folder
        ]
        return found[0] if len(found) == 1 else None

    def implicit_roots(self, live: Sequence[Layer], named: bool) -> list[Root]:
        """Flux Kustomizations no cluster root reaches, and nothing else reaches either: roots
        of their own (a repository without a bootstrap in it, a manually applied kustomization).

        One whose file lies inside another one's path, yet which that build does not read, is
        one its parent no longer lists (commented out): nothing applies it. Its own path does
        not count: a Kustomization kept in the folder it builds, which that folder's
        kustomization.yaml does not list, was applied by hand (or by bootstrap) and is a root.
        Nothing applies one that a kustomization file lists only in a comment
        (``# - ../../base/app/ks.yaml``) either, nor one whose own path lies inside a live
        layer's (an archived copy of a retired app's ks.yaml), nor one that depends on a
        Kustomization only another root's walk applies (an optional module nobody listed, also
        when that root is itself implicit). A path with a variable is the one the applying
        candidate renders (``_rendered``); one that stays unknown keeps every folder it may
        name (``_folders_fitting``) from holding roots. With ``named`` (the repository
        has other clusters) each root is a cluster named after its folder.
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
        # ... kept aside: in a cluster folder not bootstrapped yet, beside its own roots, such a
        # copy is that cluster's (flux2-kustomize-helm-example's clusters/production has the
        # infrastructure.yaml of clusters/staging, and its apps wait for it)
        copied = [
            ks
            for ks in self.scan.kustomizations
            if (ks.origin, ks.name) not in done
            and (ks.name, normalize_spec_path(ks.path)) in copies
        ]
        stale: set[tuple[str, str]] = set()
        dead: set[tuple[str, str]] = set()
        # a candidate (file, namespace, name) -> its spec.path that holds nothing (one file may
        # hold several, a live one beside it: sweep 37, evilpandas counted four for two)
        empty: dict[tuple[str, str, str], str] = {}
        read = {p for x in live for p in x.files}
        # a path a variable fills in, as the parent applying it renders it
        rendered = self._rendered(candidates)
        own: dict[str, str] = {}  # a candidate's file -> the folder its own path names
        whole: dict[str, set[str]] = {}  # see _whole_tree_from_below
        applies: dict[str, set[tuple[str, str]]] = {}  # a candidate's file -> the ones it lists
        reach_of: dict[str, set[str]] = {}  # a candidate's file -> the files its build reads
        for ks in candidates:
            if ks.rejected:  # Flux refuses it: it reaches nothing
                dead.add((ks.origin, ks.name))
                continue
            as_built = rendered.get((ks.origin, ks.name), ks)
            art, _ = self.source_of(as_built, self._implicit(as_built, None))
            folder = art.resolve(normalize_spec_path(as_built.path)) if art is not None else None
            if art is None or folder is None:
                continue
            own[ks.origin] = folder
            if any(folder == f or folder.startswith(f + "/") for f in live_folders):
                stale.add((ks.origin, ks.name))  # points into a live layer's tree, unapplied
                continue
            result = self.build(art, folder, as_built)
            if not ks.source.name or not result.uses:
                # one with no sourceRef (Flux refuses it) or a path with nothing in this
                # checkout (an archived ks.yaml of a retired app) applies nothing
                dead.add((ks.origin, ks.name))
                if not result.uses:
                    empty[ks.origin, ks.namespace, ks.name] = ks.path
            reach = {p for p in result.uses if p != ks.origin}
            # a file of several Kustomizations reaches what each of them reaches
            applies.setdefault(ks.origin, set()).update(
                (k.namespace, k.name) for k in self.scan.kustomizations if k.origin in reach
            )
            reach_of.setdefault(ks.origin, set()).update(reach)
            if _whole_tree_from_below(ks, folder):
                whole[ks.origin] = reach  # counted below, unless another one reaches it
            else:
                reached.update(reach)
            read.update(result.uses)
            if folder != ".":
                folders.append(folder)
        # A path with a variable nothing here defines (a substituteFrom ConfigMap of the
        # cluster), of a live layer or of a Kustomization another one applies: which folder it
        # names is unknown, but it is one of those the path's shape fits, so a Kustomization
        # kept below them is that parent's to list, never a root (or a cluster) of its own.
        unknown_paths = [
            k
            for x in live
            if x.unresolved
            for k in self.scan.kustomizations
            if k.origin == x.source and "${" in k.path
        ] + [
            k
            for k in candidates
            if "${" in k.path
            and (k.origin, k.name) not in rendered
            and any(k.origin in reach for reach in reach_of.values())
        ]
        for k in unknown_paths:
            folders += self._folders_fitting(k)
        # One that syncs the whole tree from a folder below the top reaches every file, its
        # own parents too: when another Kustomization reaches it, it is that one's child (a
        # tenant's sync, patched to its path), and what it reaches does not count.
        for origin, reach in whole.items():
            if origin not in reached:
                reached.update(reach)
        # which candidates' builds reach each file: a Kustomization another one applies
        reached_by: Counter[str] = Counter()
        for origin, reach in reach_of.items():
            if origin not in whole or origin not in reached:
                reached_by.update(reach)
        # A dead one is still a root beside a live one in its folder (a layer not filled yet,
        # in a cluster folder), and when nothing else, root or candidate, is alive to go by
        alive = {
            posixpath.dirname(ks.origin) for ks in candidates if (ks.origin, ks.name) not in dead
        }
        dead = {d for d in dead if (alive or live) and posixpath.dirname(d[0]) not in alive}
        commented = self._commented_out(read)  # listed only in a comment: switched off
        live_keys = {(x.namespace, x.name) for x in live}
        candidate_keys = Counter((ks.namespace, ks.name) for ks in candidates)

        def awaited(ks: FluxKustomization) -> Counter[tuple[str, str]]:
            # the copies a cluster folder not bootstrapped yet holds beside ``ks``
            return _beside(ks, copied) if self._awaits_bootstrap(ks) else Counter()

        tops = [
            ks
            for ks in candidates
            if ks.origin not in reached
            and ks.origin not in commented
            and not _below_any(ks.origin, commented)
            and not _template(ks)
            and not (named and _waits_for_live(ks, live_keys, candidate_keys + awaited(ks)))
            and not _waits_for_applied(ks, candidates, reach_of, reached_by)
            and (ks.origin, ks.name) not in stale
            and (ks.origin, ks.name) not in dead
            and not any(ks.origin.startswith(f + "/") and f != own.get(ks.origin) for f in folders)
        ]
        if tops and (named or live):
            homes = {posixpath.dirname(ks.origin) for ks in tops if self._awaits_bootstrap(ks)}
            tops += [
                ks
                for ks in copied
                if posixpath.dirname(ks.origin) in homes
                and ks.origin not in commented
                and not _template(ks)
                and not ks.rejected
            ]
        if live:  # beside live clusters, one kept in an archive folder is retired, not a root
            retired = [ks for ks in tops if _archived(ks.origin)]
            if retired:
                tops = [ks for ks in tops if ks not in retired]
                self.notes.append(
                    f"{plural(len(retired), 'Flux Kustomization')} in an archive folder "
                    f"{'is' if len(retired) == 1 else 'are'} taken as retired, as nothing "
                    f"applies {'it' if len(retired) == 1 else 'them'}: {retired[0].origin}"
                    + (" and others" if len(retired) > 1 else "")
                )
        submodules = _submodule_folders(self)
        kept = [
            ks
            for ks in tops
            if (ks.origin, ks.namespace, ks.name) in empty
            and _in_folders(normalize_spec_path(ks.path), submodules) is None
        ]
        self.empty_path_roots.update((ks.origin, ks.namespace, ks.name) for ks in kept)
        if kept:
            verb = "points" if len(kept) == 1 else "point"
            listed = [f"{k.origin} ({empty[k.origin, k.namespace, k.name]})" for k in kept[:3]]
            more = f" and {len(kept) - 3} more" if len(kept) > 3 else ""
            self.notes.append(
                f"{plural(len(kept), 'Flux Kustomization')} {verb} at a spec.path with nothing "
                f"in this checkout, which Flux fails: {', '.join(listed)}{more}"
            )

        # each as the folder applied by hand builds it: its own, or the cluster folders that
        # include it as a kustomize base (none for a patch file that parses as a Kustomization)
        applied = [found for ks in tops for found in self._applied_as(ks, read)]
        # two roots whose Kustomizations share a name (a cluster folder not bootstrapped yet
        # beside a bootstrap its sync build does not list: both define cluster-apps) are two
        # clusters, or one would replace the other's layer
        seen: Counter[tuple[str, str]] = Counter()
        for ks, _folder, _shared in applied:
            seen.update(applies.get(ks.origin, set()) | {(ks.namespace, ks.name)})
        clash = any(n > 1 for n in seen.values())
        roots = []
        for ks, folder, shared in applied:
            cluster = None
            if named or clash:
                cluster = cluster_name(folder, posixpath.basename(folder) or ".")
            root = self._implicit(ks, cluster)
            root.shared = shared
            roots.append(root)
        return roots

    def _awaits_bootstrap(self, ks: FluxKustomization) -> bool:
        """Whether ``ks`` lies in a cluster folder not bootstrapped yet: one with a
        ``flux-system/`` folder of its own (flux2-kustomize-helm-example's clusters/production,
        its gotk-sync.yaml a placeholder), not an examples or docs folder holding a copy (the
        review of stop 54: such a folder was made a cluster)."""
        folder = posixpath.dirname(ks.origin)
        return self.repo.is_dir(posixpath.join(folder, "flux-system") if folder else "flux-system")

    def _rendered(
        self, candidates: Sequence[FluxKustomization]
    ) -> dict[tuple[str, str], FluxKustomization]:
        """Each candidate whose ``spec.path`` holds a variable, as the candidate whose build
        outputs it renders it: kustomize's transformations, then its ``postBuild``
        substitution, as kustomize-controller applies it (crutonjohn/gitops: ``bootstrap``'s
        ``substitute: {CLUSTER_NAME: production}`` fills in the path
        ``./clusters/apps/env/${CLUSTER_NAME}`` of ``apps``). Rendered ones render their own
        children in turn. One that two parents render to different paths, or whose path keeps
        a variable nothing here defines, stays as written."""
        by_origin: dict[str, list[FluxKustomization]] = {}
        for ks in candidates:
            if "${" in ks.path:
                by_origin.setdefault(ks.origin, []).append(ks)
        found: dict[tuple[str, str], FluxKustomization] = {}
        if not by_origin:
            return found
        differ: set[tuple[str, str]] = set()
        pending = [ks for ks in candidates if "${" not in ks.path and not ks.rejected]
        while pending:
            parent = pending.pop(0)
            art, _ = self.source_of(parent, self._implicit(parent, None))
            folder = art.resolve(normalize_spec_path(parent.path)) if art is not None else None
            if art is None or folder is None:
                continue
            result = self.build(art, folder, parent)
            if not any(origin in by_origin for origin in result.uses):
                continue
            variables = self.variables.of(parent)
            for obj in result.objects:
                if obj.origin not in by_origin:
                    continue
                doc, _unknown = substitute_doc(obj.doc, variables)
                child = parse_kustomization(doc, obj.origin) if is_flux_kustomization(doc) else None
                if child is None or "${" in child.path:
                    continue
                for ks in by_origin[obj.origin]:
                    if not _renders(ks, child):
                        continue
                    key = (ks.origin, ks.name)
                    if key not in found:
                        found[key] = child
                        pending.append(child)
                    elif normalize_spec_path(found[key].path) != normalize_spec_path(child.path):
                        differ.add(key)
        return {k: v for k, v in found.items() if k not in differ}

    def _folders_fitting(self, ks: FluxKustomization) -> list[str]:
        """The folders of the checkout that ``ks``'s ``spec.path``, whose variables are
        unknown, may name (each variable one folder name); never one holding ``ks``'s own
        file, which its parent's chain reaches."""
        if self._folders is None:
            self._folders = {d for f in self.repo.files for d in _ancestors(f)}
        pattern = _template_pattern(normalize_spec_path(ks.path), "[^/]+")
        return sorted(
            f for f in self._folders if pattern.fullmatch(f) and not ks.origin.startswith(f + "/")
        )

    def _applied_as(
        self, ks: FluxKustomization, read: set[str]
    ) -> list[tuple[FluxKustomization, str, bool]]:
        """``ks``, which nothing applies, as each folder applied by hand builds it, with that
        folder and whether it is a base another folder includes. A folder of Flux Kustomizations
        that another folder's kustomization file includes as a kustomize resource
        (``resources: [../base/]``), which nothing includes in turn, is a base, not a root: its
        Kustomizations are applied as that including folder builds them, with its patches
        (honya-bookstore/infrastructure's ``kubernetes/cluster/base``); one per including
        folder, when several clusters share the base. One that only folders Flux applies
        include (a Flux Kustomization's path) is none either: Flux applies it through that
        Kustomization, whose walk lists it when its source is this checkout (none when it is
        outside it). A file its own folder's kustomization reads only as a patch is no
        Kustomization of its own."""
        folder = posixpath.dirname(ks.origin)
        outer, by_flux = self._including_folders(ks.origin, read)
        found = []
        for top in outer:
            if self._includes(top, ks.origin):
                result = self.build(self.artifact("", None), top, None)
                self._take_sources(result)
                found.append((self._as_built(ks, result, renamed=True), top, True))
        if found:
            return found
        if any(self._applied_from_here(top) and self._includes(top, ks.origin) for top in by_flux):
            # sweep 22, Ivanhahanov/ctf-school-ctfd: deploy/clusters/base, shared by the paths
            # of two clusters' Kustomizations that read an OCIRepository, was cluster "base"
            return []
        if any(posixpath.join(folder, n) in self.repo.files for n in KUSTOMIZATION_NAMES):
            own = self.build(self.artifact("", None), folder or ".", None).uses.get(ks.origin)
            if own and all(u.kind in (UseKind.PATCH, UseKind.LEGACY_PATCH) for u in own):
                return []  # a patch of a Kustomization, not one
        return [(self._as_applied(ks), folder, False)]

    def _includes(self, top: str, origin: str) -> bool:
        """Whether kustomize builds ``top`` whole, with ``origin`` as a resource in it (a
        folder kustomize cannot build was never applied that way)."""
        result = self.build(self.artifact("", None), top, None)
        uses = result.uses.get(origin, set())
        return (
            not result.missing
            and not result.problems
            and any(u.kind is UseKind.RESOURCE for u in uses)
        )

    def _including_folders(self, origin: str, read: set[str]) -> tuple[list[str], list[str]]:
        """The outermost folders whose kustomization files include ``origin``, or the folder
        holding it, as a kustomize resource or component, through any chain of other folders;
        none whose kustomization file a build already reads. A folder that is a Flux
        Kustomization's path is no folder applied by hand (Flux applies it, with that
        Kustomization's patches): those come second, and the chain stops there."""
        includers = self._includers_by_target()
        own = posixpath.dirname(origin) or "."

        def including(target: str) -> list[str]:
            return [
                top
                for kpath in sorted(includers.get(target, ()))
                if kpath not in read and (top := posixpath.dirname(kpath) or ".") != own
            ]

        out: list[str] = []
        by_flux: list[str] = []
        done: set[str] = set()
        pending = including(origin) + including(own)
        while pending:
            top = pending.pop(0)
            if top in done:
                continue
            done.add(top)
            if self._flux_applied(top):
                by_flux.append(top)
                continue
            above = including(top)
            if not above:
                out.append(top)  # nothing includes it: the folder applied by hand
            pending += [t for t in above if t not in done]
        return out, by_flux

    def _includers_by_target(self) -> dict[str, set[str]]:
        """Each path a kustomization file includes (resource or component) -> those files."""
        if self._includers is None:
            self._includers = {}
            for path in sorted(self.repo.files):
                if posixpath.basename(path) not in KUSTOMIZATION_NAMES:
                    continue
                base = posixpath.dirname(path)
                kfile = self.repo.kfile(path)
                for ref in kfile.resources + kfile.components:
                    if posixpath.isabs(ref.strip()):
                        continue
                    target = posixpath.normpath(posixpath.join(base or ".", ref.strip()))
                    local = target in self.repo.files or self.repo.is_dir(target)
                    if is_remote(ref) and (git_address(ref) or not local):
                        continue  # a remote's; a local one of such a name is read here
                    self._includers.setdefault(target, set()).add(path)
        return self._includers

    def _flux_applied(self, folder: str) -> bool:
        """Whether ``folder`` is some Flux Kustomization's spec.path: Flux applies it, with that
        Kustomization's patches, even when it reads a source outside the checkout (xunholy's
        cluster overlay, whose parent patches decryption in), so it is never a folder applied
        by hand. An outside source may hold a subfolder of this checkout (an OCI artifact pushed
        from kubernetes/): its path then names the folder's tail."""
        if self._flux_paths is None:
            self._flux_paths = {
                normalize_spec_path(k.path) for k in self.scan.kustomizations if "$" not in k.path
            } - {"."}
        return any(folder == p or folder.endswith("/" + p) for p in self._flux_paths)

    def _applied_from_here(self, folder: str) -> bool:
        """``_flux_applied`` by a Kustomization that may read this checkout: ``folder`` is its
        very path (a path's tail matches any artifact's folder: the second review's vendor
        OCIRepository with ``./prod``), and a GitRepository of another repository counts never
        (the review of sweep 22: another repository's ``./prod`` made clusters/prod a folder
        Flux applies, and its root went)."""
        for k in self.scan.kustomizations:
            if "$" in k.path or k.rejected or normalize_spec_path(k.path) != folder:
                continue
            if k.source.kind == "GitRepository":
                own = self.scan.source(k.source, k.origin)
                if own is not None and self._another_repository(own.url):
                    continue
            return True
        return False

    def depended_roots(self) -> list[Root]:
        """Kustomizations no walk reached that a live layer depends on, as roots of that
        layer's cluster: Flux holds a layer back until each Kustomization it depends on is
        Ready there, so one the repository defines is applied in that cluster, by hand or by a
        script (sweep 69, dramirez-qb/k3d-cluster: a Taskfile applied `cluster-common`, whose
        `cluster-common-apps` both clusters' apps depend on, and its SOPS files were "not
        deployed by Flux"). Only one that no walk reached at all, and a name one definition
        holds."""
        anywhere = {(x.namespace, x.name) for x in self.layers}
        by_key: dict[tuple[str, str], list[FluxKustomization]] = {}
        for ks in self.scan.kustomizations:
            if not ks.rejected:
                by_key.setdefault((ks.namespace, ks.name), []).append(ks)
        found: dict[tuple[str | None, str, str], Root] = {}
        # one switched off in a kustomization file a live layer reads (``# - ./app/ks.yaml``)
        # is applied by nothing: the layer that depends on it waits for ever (sweep 93,
        # brettinternet/homeops: two such were live layers, each an SM010 error on an untouched
        # repository)
        commented = self._commented_out({p for x in self.layers for p in x.files})
        for layer in self.layers:
            if layer.external is not None:
                continue
            for key in layer.depends_on_keys:
                if key in anywhere:  # live somewhere: reached, or another cluster's own
                    continue
                defined = by_key.get(key, [])
                if len(defined) != 1 or (layer.cluster, *key) in found:
                    continue
                origin = defined[0].origin
                if origin in commented or _below_any(origin, commented):
                    self.notes.append(
                        f"layer {layer.label} depends on {key[1]}, which nothing applies (the "
                        f"entry of {origin} is commented out): Flux holds {layer.name} back "
                        "until it exists"
                    )
                    continue
                root = self._implicit(defined[0], layer.cluster)
                bootstrap = self._bootstrap_of(layer.cluster)  # its cluster's source, if any
                if bootstrap is not None:
                    root = replace(root, bootstrap=bootstrap)
                found[(layer.cluster, *key)] = root
        return list(found.values())

    def _bootstrap_of(self, cluster: str | None) -> Ref | None:
        """The bootstrap source of ``cluster``'s roots (None for an implicit one)."""
        return next(
            (r.bootstrap for r in self._roots if r.cluster == cluster and r.bootstrap), None
        )

    def _implicit(self, ks: FluxKustomization, cluster: str | None) -> Root:
        """A root nothing applies. Its source is this checkout when ``flux bootstrap`` wrote it:
        a GitRepository named ``flux-system`` in the Kustomization's own file (gotk-sync.yaml),
        as ``roots`` takes it, or one whose URL is this checkout's remote."""
        own = self.scan.source(ks.source, ks.origin)
        boot = (
            ks.source
            if ks.source.kind == "GitRepository"
            and own is not None
            and own.origin == ks.origin
            and (own.ref.name == "flux-system" or normalize_url(own.url) == self.remote())
            else None
        )
        return Root(ks, cluster, None, ks.origin, bootstrap=boot)

    def _as_applied(self, ks: FluxKustomization) -> FluxKustomization:
        """A Kustomization nothing in the repository applies, as the cluster holds it: applied
        by ``flux bootstrap`` or ``kubectl apply -k`` of its own folder when that folder's
        kustomization.yaml lists its file, so that file's patches are part of it (anasinnyk's
        ``flux-system/kustomization.yaml`` adds ``spec.decryption`` to a sync whose path ``./``
        does not list ``flux-system/``)."""
        folder = posixpath.dirname(ks.origin)
        if not any(posixpath.join(folder, n) in self.repo.files for n in KUSTOMIZATION_NAMES):
            return ks
        result = self.build(self.artifact("", None), folder or ".", None)
        if ks.origin not in result.uses or result.missing or result.problems:
            return ks  # a folder kustomize cannot build was never applied that way
        self._take_sources(result)
        return self._as_built(ks, result)

    def _commented_out(self, read: set[str]) -> set[str]:
        """Paths that a kustomization file among ``read`` lists only in a comment
        (``# - ../../base/app/ks.yaml``): switched off by hand, applied by nothing."""
        out: set[str] = set()
        for path in read:
            if posixpath.basename(path) not in KUSTOMIZATION_NAMES:
                continue
            try:
                text = self.repo.text(path)
            except (OSError, UnicodeDecodeError):
                continue
            base = posixpath.dirname(path)
            for m in _COMMENTED_ITEM.finditer(text):
                out.add(posixpath.normpath(posixpath.join(base, m.group(1))))
        return out

    @staticmethod
    def _unique_names(roots: list[Root]) -> list[Root]:
        """Roots of one name in different folders are named by their folders. Two that sync
        one folder (JJGadgets/Biohazard: one Kustomization per mirror of the repository) are
        one cluster and keep their name."""
        folders: dict[str | None, set[str | None]] = {}
        for root in roots:
            folders.setdefault(root.cluster, set()).add(root.path)
        for root in roots:
            if root.cluster is not None and len(folders[root.cluster]) > 1 and root.path:
                root.cluster = root.path
        return roots

    # -------------------------------------------------------------- layers
    def layers_from(self, roots: Sequence[Root]) -> None:
        """Walk every cluster from its roots into ``self.layers`` and ``self.clusters``."""
        layers, clusters, seen, defined = self.layers, self.clusters, self._seen, self._defined
        for root in sorted(roots, key=lambda r: (r.path or "").count("/")):
            if (
                (root.ks.origin, root.ks.name) in defined
                and root.cluster not in clusters
                and not root.shared
            ):
                continue  # a Kustomization another cluster's walk reaches: not a root of its own
            version = self._version_for(root)
            first: list[Layer] = []
            for again in (False, True):
                queue: list[FluxKustomization] = [root.ks]
                cluster_layers: list[Layer] = []
                # the cluster's layers an ArtifactGenerator may be applied by: so far, or all of
                # them on a second walk (the fifth attack review: one a later layer applies was
                # not seen)
                self.walking = first if again else cluster_layers
                walked: list[tuple[str | None, str, str]] = []
                while queue:
                    ks = queue.pop(0)
                    key = (root.cluster, ks.namespace, ks.name)
                    if key in seen:
                        continue
                    seen.add(key)
                    walked.append(key)
                    layer, children = self._layer(ks, root, version)
                    defined.add((ks.origin, ks.name))
                    cluster_layers.append(layer)
                    queue.extend(children)
                if again or not self._reads_artifacts(cluster_layers):
                    break
                seen.difference_update(walked)
                first = cluster_layers
            self.walking = []
            version = self._version_for(root, cluster_layers)
            cluster_layers = [with_version(x, version) for x in cluster_layers]
            layers.extend(cluster_layers)
            if root.cluster not in clusters:
                clusters[root.cluster] = Cluster(
                    root.cluster, root.origin, root.path, version, root.cluster_key, root.context
                )

    def _reads_artifacts(self, layers: Sequence[Layer]) -> bool:
        """Whether a layer reads an ExternalArtifact left unmapped while an ArtifactGenerator
        is in the checkout: the walk is made again with every layer of the cluster known."""
        return any(
            x.external is not None and x.external.startswith("ExternalArtifact/") for x in layers
        ) and bool(self._generators())

    def _layer(
        self, ks: FluxKustomization, root: Root, version: FluxVersion
    ) -> tuple[Layer, list[FluxKustomization]]:
        art, label = self.source_of(ks, root)
        if art is None:
            inside = normalize_spec_path(ks.path)
            inside = "" if inside == "." or "$" in inside else inside
            elsewhere = _defined_elsewhere(ks.source, self.scan.sources)
            definition = self.scan.source(ks.source, ks.origin)
            layer = make_layer(
                ks,
                root.cluster,
                "",
                None,
                external=label,
                version=version,
                external_path=inside,
                source_elsewhere=elsewhere.label if elsewhere is not None else "",
                another_repository=definition is not None
                and ks.source.kind == "GitRepository"
                and self._another_repository(definition.url),
                another_owner=definition is not None
                and ks.source.kind == "GitRepository"
                and self._another_owner(definition.url),
            )
            return layer, []
        if ks.rejected:  # Flux refuses it (its problems say why): it applies nothing
            return make_layer(ks, root.cluster, "", None, version=version), []
        unknown = set(re.findall(r"\$\{([_A-Za-z][_A-Za-z0-9]*)", ks.path))
        if unknown:
            return make_layer(ks, root.cluster, "", None, unresolved=unknown, version=version), []
        folder = art.resolve(normalize_spec_path(ks.path))
        if folder is None:
            return make_layer(ks, root.cluster, "", None, version=version), []
        result = self.build(art, folder, ks)
        variables = self.variables.of(ks, near=root.origin)
        children: list[FluxKustomization] = []
        for obj in result.objects:
            doc, _unknown = substitute_doc(obj.doc, variables)
            if is_flux_kustomization(doc):
                child = parse_kustomization(doc, obj.origin)
                if child is not None:
                    children.append(child)
            elif is_resource_set(doc):  # its Kustomizations the same for every input
                for made in resource_set_kustomizations(doc):
                    child = parse_kustomization(made, obj.origin)
                    if child is not None:
                        children.append(child)
            elif is_source(doc):
                src = parse_source(doc, obj.origin)
                if src is not None:
                    self.scan.add_source(src, built=True)
            # a live layer's object that reads credentials, in the namespace Flux applies it
            # in (the second attack review of stop 49: a kustomization's namespace: was not
            # taken, and an unrelated Secret was protected in the real one's stead)
            if (reader := credential_reader(doc)) is not None:
                own, secret, label = reader
                where = f"{ks.target_namespace or own or 'default'}/{secret}"
                self.credential_readers.setdefault(where, {})[label] = None
        ignored = self.ignored_below(art, folder)
        return make_layer(
            ks, root.cluster, folder, result, version=version, ignored=ignored, variables=variables
        ), children

    def _version_for(self, root: Root, layers: Sequence[Layer] = ()) -> FluxVersion:
        reached = {p for layer in layers for p in layer.files}
        for fi in self.scan.instances:
            if fi.origin == root.origin or fi.origin in reached:
                parsed = from_instance(fi.version)
                if parsed is not None:
                    return FluxVersion(parsed, fi.origin)
        for path, found in sorted({**self.scan.named_versions, **self.scan.versions}.items()):
            if path in reached:
                return FluxVersion(found, path, named=path not in self.scan.versions)
        # else the one version the repository pins, in components first; a release named
        # elsewhere (a bootstrap's kustomization of Flux's install manifests, applied by hand)
        # only where no components say (sweep 96's regression run: dramirez-qb/k3d-cluster)
        for pinned in (self.scan.versions, self.scan.named_versions):
            distinct = set(pinned.values())
            if len(distinct) == 1:
                named = pinned is self.scan.named_versions
                return FluxVersion(distinct.pop(), min(pinned), named=named)
            if distinct:
                break
        return ASSUMED


_VARIABLE = re.compile(r"\$\{[^}]*\}")


def _template_pattern(template: str, fill: str) -> re.Pattern[str]:
    """``template`` as a regular expression, each ``${...}`` matching ``fill``."""
    parts = _VARIABLE.split(template)
    return re.compile(fill.join(re.escape(p) for p in parts))


def _renders(ks: FluxKustomization, child: FluxKustomization) -> bool:
    """Whether ``child``, from ``ks``'s file in a parent's build output, is ``ks`` filled in:
    its path fits ``ks``'s, and its name too (with any namePrefix or nameSuffix)."""
    path = _template_pattern(normalize_spec_path(ks.path), ".*")
    name = _template_pattern(ks.name, ".*")
    return bool(path.fullmatch(normalize_spec_path(child.path)) and name.search(child.name))


def _ancestors(path: str) -> list[str]:
    """Every folder above ``path``."""
    out = []
    folder = posixpath.dirname(path)
    while folder:
        out.append(folder)
        folder = posixpath.dirname(folder)
    return out


def _namespaced_where_ambiguous(layers: list[Layer]) -> list[Layer]:
    """Flux tells Kustomizations apart by namespace and name: two of one cluster with one name
    in different namespaces (dnv-gssit/kubeit-flux-example's ``infra-sync`` in ``sops-prod``
    and ``sops-staging``) are two layers, each named ``namespace/name`` in reports. A name
    unique in its cluster stays as it is."""
    spaces: dict[tuple[str | None, str], set[str]] = {}
    for x in layers:
        spaces.setdefault((x.cluster, x.name), set()).add(x.namespace)
    return [
        replace(x, name=f"{x.namespace}/{x.name}") if len(spaces[(x.cluster, x.name)]) > 1 else x
        for x in layers
    ]


def _below_any(path: str, folders: set[str]) -> bool:
    """Whether ``path`` lies in one of ``folders`` (at any depth)."""
    folder = posixpath.dirname(path)
    while folder:
        if folder in folders:
            return True
        folder = posixpath.dirname(folder)
    return False


def _waits_for_live(
    ks: FluxKustomization, live: set[tuple[str, str]], candidates: Counter[tuple[str, str]]
) -> bool:
    """Whether ``ks`` depends on a Kustomization only a cluster applies: it was meant to be one
    of that cluster's (an optional module, an app taken out of its list), and nothing applies
    it. It is no cluster of its own. A dependency that another unapplied Kustomization could
    meet does not count: a cluster folder not bootstrapped yet has its own ``infrastructure``
    beside its ``apps``."""
    own = (ks.namespace, ks.name)
    return any(
        key in live and candidates[key] - (key == own) == 0
        for key in ((namespace, name) for name, namespace in ks.depends_on)
    )


def _beside(ks: FluxKustomization, others: Sequence[FluxKustomization]) -> Counter[tuple[str, str]]:
    """The Kustomizations among ``others`` kept in ``ks``'s own folder, by namespace and name."""
    folder = posixpath.dirname(ks.origin)
    return Counter((k.namespace, k.name) for k in others if posixpath.dirname(k.origin) == folder)


def _waits_for_applied(
    ks: FluxKustomization,
    candidates: Sequence[FluxKustomization],
    reach_of: Mapping[str, set[str]],
    reached_by: Counter[str],
) -> bool:
    """Whether ``ks``, which nothing applies, depends on a Kustomization only another root's
    walk applies: an optional module of that root's cluster that nobody listed (an app
    catalog's ``apps/db/foo/fluxcd.yaml`` waiting for the cluster's ``cluster`` and
    ``cert-manager``, where the cluster is applied from outside the repository). It is no root.
    A dependency that a Kustomization nothing applies could meet does not count: roots applied
    by hand side by side (``infra`` and ``apps`` waiting for it) are one cluster's."""
    own = reach_of.get(ks.origin, set())
    deps = {(namespace, name) for name, namespace in ks.depends_on}
    if not deps:
        return False
    met_by_applied: set[tuple[str, str]] = set()
    met_by_root: set[tuple[str, str]] = set()
    for other in candidates:
        key = (other.namespace, other.name)
        if key not in deps or other.origin == ks.origin:
            continue
        others = reached_by[other.origin] - (other.origin in own)
        (met_by_applied if others > 0 else met_by_root).add(key)
    return bool(met_by_applied - met_by_root)


# A folder that keeps what is no longer deployed (``apps/archive/cura``, ``_old``, ``disabled``)
# an archive folder's name, alone or as a word of it (``kube_old``, ``old-cluster``,
# ``k8s.bak``: sweep E of stop 55, aflyingcougar/homelab moved its old tree to kube_old/);
# never ``backup``, a live namespace's word (``backup-system``: velero)
_ARCHIVE_FOLDER = re.compile(
    r"(?i)^[._-]*(?:[a-z0-9]+[._-])?"
    r"(?:archived?|archives|deprecated|disabled|retired|unused|attic|graveyard|old|bak)"
    r"(?:[._-][a-z0-9]+)?$"
)


def _archived(path: str) -> bool:
    """Whether a folder above ``path`` is an archive folder."""
    return any(_ARCHIVE_FOLDER.match(part) for part in path.split("/")[:-1])


def _template(ks: FluxKustomization) -> bool:
    """A Kustomization whose name or path holds a variable nothing substituted
    (``wordpress-${wp_name}``): a template for a parent to fill in, never applied as it is."""
    return "${" in ks.name or "${" in ks.path


def _sync_kustomization(fi: FluxInstance, ref: Ref) -> FluxKustomization | None:
    """The Kustomization flux-operator generates to sync ``fi``, after the instance's own
    ``kustomize.patches`` (which often add ``spec.decryption`` to it); None when it does not
    parse."""
    assert fi.sync_path is not None
    doc: dict[str, object] = {
        "apiVersion": f"{KUSTOMIZE_GROUP}/v1",
        "kind": "Kustomization",
        "metadata": {"name": ref.name, "namespace": ref.namespace},
        "spec": {
            "path": fi.sync_path,
            "prune": True,
            "sourceRef": {"kind": ref.kind, "name": ref.name},
        },
    }
    for patch in patches_of(list(fi.patches), safe_load_all):
        doc = patch.apply(doc)
    return parse_kustomization(doc, fi.origin)


def _whole_tree_from_below(ks: FluxKustomization, folder: str) -> bool:
    """Whether ``ks`` syncs the whole tree because it names no ``spec.path`` at all, from a
    folder below the top. Bootstrap always writes a path (``path: ./``); a tenant's sync (of its
    own branch, in fluxcd/flux2-multi-tenancy) names none and has its path patched in by the
    tenants layer. Its own build reaches its file only because every file is in the tree: it
    is no bootstrap."""
    return folder == "." and not ks.path_given and posixpath.dirname(ks.origin).count("/") > 0


def _fold(model: _Model, c: str | None, owner: str | None, why: str) -> None:
    """Cluster ``c``'s layers join cluster ``owner`` (each Kustomization once); ``c`` goes."""
    owned = {(x.source, x.name) for x in model.layers if x.cluster == owner}
    extra = [
        replace(x, cluster=owner)
        for x in model.layers
        if x.cluster == c and (x.source, x.name) not in owned
    ]
    model.layers = [x for x in model.layers if x.cluster != c] + extra
    model.notes.append(f"{model.clusters[c].root} {why}: counted as cluster {owner}")
    del model.clusters[c]


def _merge_source_readers(model: _Model, explicit: set[str | None]) -> None:
    """A root whose source only another root's layers put in the cluster is of that cluster:
    the GitRepository must exist there for it to sync (sweep 95, Vylkatis/home-ops: clustertool
    applies flux-entry, which reads the source the Kustomization flux-entry-repos applies from
    ./repositories, and that folder was counted as a second cluster). An implicit root joins
    the explicit one, else the smaller the larger, else the one applying the source the one
    reading it; roots with keys of their own stay apart."""
    for root in list(model._roots):
        c = root.cluster
        if c not in explicit or c not in model.clusters or root.bootstrap is None:
            continue
        definition = model.scan.source(root.bootstrap, root.ks.origin)
        if definition is None or definition.origin == root.ks.origin:
            continue
        if len(model.scan.sources.get(root.bootstrap, ())) != 1:
            # another definition of that name (a second cluster's, applied at its bootstrap):
            # which one this root reads is not known, and two clusters are no one (the review
            # of stop 51: clusters a and b, each syncing a GitRepository flux-system, merged)
            continue
        holders = {
            x.cluster
            for x in model.layers
            if x.cluster in model.clusters and definition.origin in x.files
        }
        if len(holders) != 1 or c in holders:
            continue
        other = holders.pop()
        if (model.clusters[c].cluster_key or None) != (model.clusters[other].cluster_key or None):
            continue
        size = Counter(x.cluster for x in model.layers)
        small, large = sorted((c, other), key=lambda n: (n in explicit, size[n], n == c, n or ""))
        why = (
            f"reads {root.bootstrap.name}, which cluster {other}'s layers apply"
            if small == c
            else f"applies {root.bootstrap.name}, which cluster {c}'s root reads"
        )
        _fold(model, small, large, why)


def _merge_overlapping(model: _Model, explicit: set[str | None]) -> None:
    """One cluster synced two ways is one cluster: two roots that sync the same folder of this
    checkout (a legacy bootstrap Kustomization beside a FluxInstance, mid migration), unless
    .secretsmgr.yaml gives them different keys; and an implicit root whose walk reaches
    Kustomizations one cluster already applies, unless a Kustomization of its own has the
    namespace and name of one of that cluster's. Their layers join that cluster, each once."""
    _merge_source_readers(model, explicit)
    by_path: dict[str, str | None] = {}
    for c in sorted(explicit, key=lambda n: n or ""):
        cluster = model.clusters.get(c)
        if cluster is None or not cluster.path:
            continue
        first = by_path.setdefault(cluster.path, c)
        other = model.clusters[first]
        if first != c and (cluster.cluster_key or None) == (other.cluster_key or None):
            _fold(model, c, first, f"syncs {cluster.path} as {other.root} does")
    for c in sorted(explicit, key=lambda n: n or ""):
        # a root syncing a folder inside another cluster's path, all of whose Kustomizations
        # that cluster already applies (a flux-instance chart's values in a layer switched off,
        # syncing kubernetes/flux/cluster below a bootstrap of kubernetes/flux) is that cluster
        cluster = model.clusters.get(c)
        if cluster is None or not cluster.path:
            continue
        mine = {
            (x.source, x.name) for x in model.layers if x.cluster == c and x.source != cluster.root
        }
        for o in sorted(explicit - {c}, key=lambda n: n or ""):
            outer = model.clusters.get(o)
            if outer is None or not outer.path or not _inside(cluster.path, outer.path):
                continue
            theirs = {(x.source, x.name) for x in model.layers if x.cluster == o}
            if (
                mine
                and mine <= theirs
                and (cluster.cluster_key or None) == (outer.cluster_key or None)
            ):
                _fold(
                    model, c, o, f"syncs {cluster.path}, whose Kustomizations {outer.root} applies"
                )
                break
    for c in sorted(explicit, key=lambda n: n or ""):
        # a root that another cluster's layers apply (a flux-instance HelmRelease in the apps
        # of a cluster still synced by its legacy bootstrap, mid migration) is that cluster
        cluster = model.clusters.get(c)
        if cluster is None:
            continue
        owners = {
            x.cluster
            for x in model.layers
            if x.cluster in model.clusters and x.cluster != c and cluster.root in x.files
        }
        if len(owners) > 1 and "$" in (cluster.path or ""):
            # a shared FluxInstance whose sync.path each cluster fills in (${FLUX_PATH}):
            # part of every cluster that applies it, a cluster of none
            model.layers = [x for x in model.layers if x.cluster != c]
            model.notes.append(
                f"{cluster.root} is applied by clusters {', '.join(sorted(map(str, owners)))}, "
                f"each filling in its sync path {cluster.path}: no cluster of its own"
            )
            del model.clusters[c]
            continue
        owner = owners.pop() if len(owners) == 1 else None
        if owner is not None and (cluster.cluster_key or None) == (
            model.clusters[owner].cluster_key or None
        ):
            _fold(model, c, owner, f"is applied by cluster {owner}'s own layers")
    for c in sorted(set(model.clusters) - explicit, key=lambda n: n or ""):
        keys = {(x.source, x.name) for x in model.layers if x.cluster == c}
        owners = {
            x.cluster for x in model.layers if x.cluster in explicit and (x.source, x.name) in keys
        }
        if len(owners) == 1:
            owner = owners.pop()
            if not _would_clash(model, c, owner):
                _fold(model, c, owner, "applies layers another root applies too")


def _defined_elsewhere(ref: Ref, defined: Collection[Ref]) -> Ref | None:
    """For a source ``ref`` that no manifest defines, the one source of that kind and name that
    one does define in another namespace."""
    if ref in defined:
        return None
    found = [r for r in defined if r.kind == ref.kind and r.name == ref.name]
    return found[0] if len(found) == 1 else None


def _repository_name(url: str) -> str:
    """The repository name a normalized URL ends in; of a Zarf mirror
    (``…/mirror__github.com__owner__name``), the mirrored repository's."""
    name = url.rsplit("/", 1)[-1]
    return name.rsplit("__", 1)[-1] if name.startswith("mirror__") else name


def _owner(url: str) -> str:
    """The owner a normalized hosted URL names (``host/owner/name``; a group's path in full)."""
    return url.split("/", 1)[1].rsplit("/", 1)[0].lower()


def _hosted(url: str | None) -> bool:
    """Whether a normalized URL names a hosted repository (``host.tld/owner/name``)."""
    return (
        url is not None
        and not url.startswith("/")
        and url.count("/") >= 2
        and "." in url.split("/")[0]
    )


def _inside(path: str, folder: str) -> bool:
    """Whether ``path`` lies below ``folder`` (``.`` holds everything)."""
    return folder == "." or path.startswith(folder + "/")


def _would_clash(model: _Model, c: str | None, owner: str | None) -> bool:
    """Whether cluster ``c`` has a Kustomization of its own (another file) under a namespace
    and name that cluster ``owner`` already has: one cluster cannot hold both, so ``c`` is a
    cluster of its own (a cluster folder not bootstrapped yet, beside one that is, both
    reaching one shared Kustomization)."""
    theirs = {(x.source, x.name) for x in model.layers if x.cluster == owner}
    names = {(x.namespace, x.name) for x in model.layers if x.cluster == owner}
    return any(
        (x.namespace, x.name) in names
        for x in model.layers
        if x.cluster == c and (x.source, x.name) not in theirs
    )


_DEPENDED_ROUNDS = 4  # dependencies of dependencies, as deep as a repository goes


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
    for _ in range(_DEPENDED_ROUNDS):  # what those depend on may depend on more
        depended = model.depended_roots()
        if not depended:
            break
        model.layers_from(depended)
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
        _drop_pathless(model, {c.name for c in clusters})
        _merge_overlapping(model, explicit)
    found_clusters = list(model.clusters.values())
    ordered, unknown = order_layers(model.layers)
    ordered = _namespaced_where_ambiguous(ordered)
    notes = list(model.notes)
    many = len(found_clusters) > 1
    ordered = _outside_submodules(model, ordered, notes, many)

    def shown(layer: Layer) -> str:  # which cluster's, when there are several
        return layer.label if many else layer.name

    readers: dict[str, list[str]] = {}  # one note per outside source, naming its layers
    for layer in ordered:
        if layer.external is not None:
            readers.setdefault(layer.external, []).append(shown(layer))
    mirrors = _mirror_folders(model, readers, [x.path for x in ordered if x.external is None])
    # sources whose URL names another repository (an upstream project's CRDs): one note for
    # them all, with no mapping to suggest (sweep 77, pascaliske/infrastructure: ten notes,
    # each saying to map a public upstream repository with sources:)
    other = [
        source
        for source in readers
        if source not in mirrors
        and all(x.another_repository for x in ordered if x.external == source)
    ]
    if other:
        shown_sources = ", ".join(s.rpartition("/")[2] for s in other[:5])
        more = f" and {len(other) - 5} more" if len(other) > 5 else ""
        count = sum(len(readers[s]) for s in other)
        notes.append(
            f"{plural(count, 'layer')} read{'s' if count == 1 else ''} "
            f"{plural(len(other), 'other repository', 'other repositories')} "
            f"({shown_sources}{more}): {'its' if len(other) == 1 else 'their'} files are not in "
            "this checkout, and not judged"
        )
    for source in other:
        del readers[source]
    for source, layer_names in readers.items():
        elsewhere = next(
            (x.source_elsewhere for x in ordered if x.external == source and x.source_elsewhere),
            "",
        )
        if elsewhere:
            which = (
                f"layer {layer_names[0]}"
                if len(layer_names) == 1
                else f"{len(layer_names)} layers ({', '.join(layer_names[:5])})"
            )
            notes.append(
                f"{which} read{'s' if len(layer_names) == 1 else ''} {source}, which no "
                f"manifest here defines, while {elsewhere} is: Flux looks a sourceRef "
                "without a namespace up in the Kustomization's own namespace (a kustomization's "
                "namespace: sets it too), so it fails to reconcile and applies nothing; set "
                f"sourceRef.namespace: {elsewhere.split('/')[1]}"
            )
            continue
        mapping = (
            f'; {mirrors[source]} looks like a copy of it: sources: {{"{source}": '
            f"{mirrors[source]}}}"
            if source in mirrors
            else ""
        )
        if len(layer_names) == 1:
            notes.append(
                f"layer {layer_names[0]} reads {source}, a source outside this checkout: "
                f"its files are not judged (map it with sources: in .secretsmgr.yaml{mapping})"
            )
        else:
            more = f" and {len(layer_names) - 5} more" if len(layer_names) > 5 else ""
            listed = ", ".join(layer_names[:5]) + more
            notes.append(
                f"{len(layer_names)} layers read {source}, a source outside this checkout "
                f"({listed}): their files are not judged (map it with sources: in "
                f".secretsmgr.yaml{mapping})"
            )
    for layer in ordered:
        if layer.external is not None:
            continue
        if layer.unresolved:
            names = ", ".join(layer.unresolved)
            notes.append(
                f"layer {shown(layer)}: spec.path uses variables not known here ({names}): "
                "its files are not mapped"
            )
    notes += _undefined_dependencies(model, unknown, {c.name for c in clusters})
    notes += sorted(model.repo.problems.values())
    for layer in ordered:
        notes += [f"layer {shown(layer)}: {p}" for p in layer.problems]
        if layer.path and layer.path in layer.missing:
            own = (layer.source, layer.namespace, layer.name.rpartition("/")[2])
            if own in model.empty_path_roots:
                continue  # an implicit root's, said above
            notes.append(
                f"layer {shown(layer)}: its spec.path ({layer.path}) is not in what its source "
                "holds (missing here, or left out by its ignore rules): Flux fails this "
                "Kustomization and applies nothing"
            )
        elif layer.missing:
            # each with the entry that names it (sweep 61, hanspaerna/k3s-homelab-iac: an entry
            # indented one space too far joined the one above it, and the path shown was in no
            # file); three at most (sweep 59: "and 1 more" named nothing)
            gone = [p for p in layer.missing if p not in layer.without_kfile]
            bare = [p for p in layer.missing if p in layer.without_kfile]
            if gone:
                named = [_named_by(layer, p) for p in gone[:3]]
                more = f" and {len(gone) - 3} more" if len(gone) > 3 else ""
                notes.append(
                    f"layer {shown(layer)}: its build names {', '.join(named)}{more}, not in "
                    "what its source holds (missing here, or left out by its ignore rules): "
                    "Flux fails the whole build and applies nothing of it"
                )
            if bare:
                # sweep 100 (CrystalMethod/homelab): the folder was there, tracked and kept,
                # and the note sent the user looking for a missing one
                named = [_named_by(layer, p) for p in bare[:3]]
                more = f" and {len(bare) - 3} more" if len(bare) > 3 else ""
                folders = "a folder" if len(bare) == 1 else "folders"
                notes.append(
                    f"layer {shown(layer)}: its build names {', '.join(named)}{more}, {folders} "
                    "with no kustomization.yaml, which kustomize cannot build: Flux fails the "
                    "whole build and applies nothing of it"
                )
    unpinned = sorted(c.name or "" for c in found_clusters if c.version.assumed)
    if ordered and unpinned:
        named = [name for name in unpinned if name]
        if named and len(unpinned) < len(found_clusters):
            many = len(unpinned) > 1
            names = ", ".join(named + ["(unnamed)"] * (len(unpinned) - len(named)))
            who = f"clusters {names} do" if many else f"cluster {names} does"
            runs = "they run" if many else "it runs"
        else:
            who, runs = "the repository does", "it runs"
        notes.append(
            f"{who} not say which Flux version {runs}: assuming the current "
            f"release, {ASSUMED.label}"
        )
    found_clusters.sort(key=lambda c: (c.name is not None, c.name or ""))
    held = len(model.scan.kustomizations)
    if not ordered and held:
        notes.append(
            f"{plural(held, 'Flux Kustomization')} but no cluster root that applies "
            f"{'it' if held == 1 else 'them'} (a flux bootstrap, a FluxInstance): if Flux is "
            "applied from outside the repository (Terraform, a cloud provider's Flux extension), "
            "name the root folder under clusters: in .secretsmgr.yaml"
        )
    # a flag counts for the clusters whose layers apply its file, or whose root it is (the
    # attack review of stop 44: an example file nothing applies, or one cluster's patch, gave
    # every cluster's SM010 fix a decryption with no secretRef)
    flag_clusters: dict[str, frozenset[str | None]] = {}
    for name, paths in model.scan.age_secret_flag_files.items():
        held_by = {x.cluster for x in ordered if x.files.intersection(paths)}
        held_by |= {c.name for c in found_clusters if c.root in paths}
        if held_by:
            flag_clusters[name] = frozenset(held_by)
    env_files = set(model.scan.age_env_files)
    for paths in model.scan.age_secret_flag_files.values():
        env_files.update(paths)
    env_clusters = frozenset(
        {x.cluster for x in ordered if x.files.intersection(env_files)}
        | {c.name for c in found_clusters if c.root in env_files}
    )
    if env_files and (
        env_files - {p for x in ordered for p in x.files} - {c.root for c in found_clusters}
    ):
        # a file no layer reads may still give the controller a key (a bootstrap folder
        # applied by hand, a patch file named by a target elsewhere): every cluster may have it
        # (the review of stop 51: SM015 blocked check on such repositories)
        env_clusters |= {c.name for c in found_clusters} | {x.cluster for x in ordered}
    dormant = _dormant(model, ordered)
    secrets: dict[str, dict[str, None]] = {
        where: dict(readers) for where, readers in model.credential_readers.items()
    }
    for defined in model.scan.sources.values():
        for src in defined:
            if src.secret_ref:
                where = f"{src.ref.namespace}/{src.secret_ref}"
                secrets.setdefault(where, {})[f"{src.ref.kind} {src.ref.name}"] = None
    used = {k: tuple(v) for k, v in secrets.items()}
    return graph_of(
        ordered,
        found_clusters,
        unknown,
        notes,
        held,
        flag_clusters,
        mirrors,
        dormant,
        used,
        controller_age_env_clusters=env_clusters,
    )


def _dormant(model: _Model, live: Sequence[Layer]) -> list[tuple[str, str, str, bool]]:
    """The Kustomizations that read a live layer's own source (this checkout, at its root)
    and that nothing applies, with their spec.path (sweep 83, TkPegatron/homelab-as-code:
    `#- ./thanos/ks.yaml` left thanos out, and SM012 said to list its Secret in the parent's
    kustomization, which would apply the Secret without the app)."""
    names = {(x.namespace, x.name.rpartition("/")[2]) for x in live}
    # ... and by the file that defines it: a parent's kustomization may set its namespace
    # (`namespace: default`), which its own file does not say (sweep 88, alex-matthews/home-ops:
    # every live app's Kustomization was "nothing applies it" in SM012's fix)
    defined = {(x.source, x.name.rpartition("/")[2]) for x in live}
    own = {x.source_ref for x in live if x.external is None}
    found = []
    for ks in model.scan.kustomizations:
        if ks.rejected or not ks.path_given or "$" in ks.path or (ks.namespace, ks.name) in names:
            continue
        if (ks.origin, ks.name) in defined:
            continue
        if ks.source.label in own and ks.source.label not in model.mapped:
            decrypts = ks.decryption is not None and ks.decryption.is_sops
            found.append((ks.name, ks.origin, normalize_spec_path(ks.path), decrypts))
    return sorted(found)


def _named_by(layer: Layer, path: str) -> str:
    """A missing path with the entry that names it, where that is not the path as written."""
    listed = layer.missing_from.get(path)
    if listed is None:
        return path
    kfile, ref = listed
    folder = posixpath.dirname(kfile)
    if posixpath.normpath(posixpath.join(folder, ref)) == path and not any(
        c.isspace() for c in ref
    ):
        return f"{path} (in {kfile})"
    shown = ref if len(ref) <= 120 else ref[:117] + "..."
    return f"{path} (the entry {shown!r} in {kfile})"


_SUBMODULE_PATH = re.compile(r"^[ \t]*path[ \t]*=[ \t]*(\S.*?)[ \t]*$", re.MULTILINE | re.I)


def _submodule_folders(model: _Model) -> tuple[str, ...]:
    """The folders ``.gitmodules`` names that hold no file of the checkout: git submodules not
    initialised (the attack review: a `.gitmodules` naming an ordinary folder hid a build
    naming a missing file there)."""
    try:
        text = model.repo.text(".gitmodules") if ".gitmodules" in model.repo.files else ""
    except (OSError, UnicodeDecodeError):
        return ()
    named = {posixpath.normpath(m.strip("\"'")) for m in _SUBMODULE_PATH.findall(text)}
    held = {f for f in named for p in model.repo.files if p.startswith(f + "/")}
    return tuple(sorted(named - held - {"."}))


def _in_folders(path: str, folders: Sequence[str]) -> str | None:
    return next((f for f in folders if path == f or path.startswith(f + "/")), None)


def _drop_pathless(model: _Model, named: Collection[str]) -> None:
    """Take out a found cluster whose roots sync a path this checkout does not hold, and that
    applies no file of it, beside a cluster that does: a root in an archive folder, or a
    template's stand-in path (sweep 84: cbc02009/k8s-home-ops's `.archive/nas` FluxInstance,
    jmuchovej/homelab's `src/kubernetes/clusters/@dc-domain@/flux`, which Nix fills in; each
    became a cluster, and init gave it a key). A cluster ``clusters:`` names stays."""
    live = {x.cluster for x in model.layers if x.files}
    if not live:
        return  # the only clusters there are: a new repository's, before their folders
    for c in list(model.clusters):
        if c in live or c in named:
            continue
        own = [x for x in model.layers if x.cluster == c]
        if not own or not all(x.external is None and x.path in x.missing for x in own):
            continue
        root = model.clusters[c].root
        model.layers = [x for x in model.layers if x.cluster != c]
        del model.clusters[c]
        model.notes.append(
            f"{root} syncs {own[0].path}, which this checkout does not hold (an archived root, "
            "or a path a tool fills in): not counted as a cluster"
        )


def _undefined_dependencies(
    model: _Model, unknown: Sequence[tuple[str, str]], named: Collection[str]
) -> list[str]:
    """A note for each Kustomization that layers depend on and no manifest here defines: one
    made outside the repository (Terraform, a script, ``flux create``), which may apply SOPS
    files of this checkout that no layer here maps (sweep 83, DRSchlaubi/kbs610: Terraform
    made `secrets`, two layers depended on it, and its files were "not deployed by Flux")."""
    defined = {ks.name for ks in model.scan.kustomizations} | set(named)
    # names a ResourceSet makes per input (``tenants-<< inputs.tenant >>``: the attack review
    # of sweep 84, a layer depending on tenants-team1 was told nothing defined it)
    made = [
        re.compile(".+".join(re.escape(part) for part in re.split(r"<<.*?>>", name)))
        for name in model.scan.made_names
    ]
    waiting: dict[str, list[str]] = {}
    for layer, dependency in unknown:
        if dependency in defined or any(p.fullmatch(dependency) for p in made):
            continue
        if layer not in waiting.setdefault(dependency, []):
            waiting[dependency].append(layer)
    notes = []
    for dependency, layers in sorted(waiting.items()):
        which = f"layer {layers[0]}" if len(layers) == 1 else f"layers {', '.join(layers[:5])}"
        notes.append(
            f"{which} depend{'s' if len(layers) == 1 else ''} on {dependency}, a Kustomization "
            "no manifest here defines: Flux applies nothing of "
            f"{'it' if len(layers) == 1 else 'them'} until one of that name is Ready: it is "
            "made outside this repository (Terraform, a script, flux create), or the name is "
            "stale (then fix dependsOn); if it applies a "
            f"folder here, name it under clusters: in .secretsmgr.yaml ({dependency}, with "
            "that folder as its path and its decryption: docs/configuration.md) so its files "
            "are judged"
        )
    return notes


def _outside_submodules(
    model: _Model, layers: list[Layer], notes: list[str], many: bool
) -> list[Layer]:
    """``layers`` without the missing paths that lie in a git submodule (``.gitmodules``),
    which a checkout holds only once initialised, with a note for each layer that names one
    (sweep 57, shosti/eevans-infra: a layer at k8s/secrets, a submodule its GitRepository
    fetches with recurseSubmodules, was said to fail and apply nothing)."""
    folders = _submodule_folders(model)
    if not folders:
        return layers
    out: list[Layer] = []
    for layer in layers:
        held = {p: m for p in layer.missing if (m := _in_folders(p, folders)) is not None}
        if not held:
            out.append(layer)
            continue
        label = layer.label if many else layer.name
        modules = ", ".join(sorted(set(held.values())))
        what = (
            f"its spec.path ({layer.path}) is"
            if layer.path in held
            else f"its build reads {plural(len(held), 'file')}"
        )
        notes.append(
            f"layer {label}: {what} in the git submodule {modules}, not checked out here: "
            "those files are not judged (Flux fetches a submodule only where the "
            "GitRepository sets recurseSubmodules: true)"
        )
        out.append(replace(layer, missing=tuple(p for p in layer.missing if p not in held)))
    return out


def _mirror_folders(model: _Model, outside: Iterable[str], local: Sequence[str]) -> dict[str, str]:
    """Each outside source (of ``outside``) that a folder of this checkout looks like a copy
    of: a Kustomization reading it is defined, with that source, in a file lying below
    ``FOLDER/<its spec.path>/`` (a bootstrap's ``clusters/NAME`` in ``kubernetes/``: sweep 57,
    mer0x/homelab-as-code, whose kubernetes/ is a copy of the repository its GitRepository
    names), and no layer of this checkout applies a folder in it. The checkout's root is no
    such folder: a source whose layout matches it may be another repository's (dfroberg)."""
    wanted = set(outside)
    out: dict[str, str] = {}
    for ks in model.scan.kustomizations:
        label = ks.source.label
        if label not in wanted or label in out or "$" in ks.path:
            continue
        path = normalize_spec_path(ks.path)
        if path == ".":
            continue
        own = model.scan.source(ks.source, ks.origin)
        if own is None or own.origin != ks.origin:
            continue  # a bootstrap's pair, source and Kustomization in one file (the review:
            # any Kustomization in a folder named like its path made that folder a "copy")
        if own.ref.name != "flux-system" and "/flux-system/" not in f"/{ks.origin}":
            continue  # as `flux bootstrap` writes it
        at = f"/{ks.origin}".find(f"/{path}/")
        folder = ks.origin[:at]
        if at > 0 and not any(p == folder.rstrip("/") or p.startswith(folder) for p in local):
            out[label] = folder  # no layer of this checkout applies a folder of the copy
    return out
