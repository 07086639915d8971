"""A kustomize build as Flux's kustomize-controller runs it, reduced to what the model needs.

For one Flux Kustomization the build answers two questions: which repository files it reads and
how (resource, generator input, patch, …), and which Flux objects come out of it (child
Kustomizations, sources), after kustomize's patches, namespace and name prefix/suffix. Other
objects are never parsed: a resource file is recorded as read, not rendered.

kustomize order per kustomization: resources, then components (each applied on top of what is
accumulated), then generators, then ``patchesStrategicMerge`` and ``patches``, then namespace,
name prefix/suffix and labels, then ``patchesJson6902``. A folder without a kustomization file is
generated the way kustomize-controller generates one: every ``.yaml``/``.yml`` file below it,
and every sub-folder that has a kustomization file as one resource.
"""

from __future__ import annotations

import copy
import posixpath
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import cast

from secretsmgr.errors import FormatError
from secretsmgr.repo.flux.ignore import SourceFilter
from secretsmgr.repo.flux.objects import (
    MARKERS,
    as_list,
    as_map,
    as_str,
    is_flux_instance,
    is_flux_kustomization,
    is_source,
    meta,
)
from secretsmgr.repo.flux.patch import Patch, Target, parse_target, patch_from_data, patches_of
from secretsmgr.sops.yamlio import safe_load_all

KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
_SOPS_NAME = re.compile(r"\.(enc|sops)\.(ya?ml|json|env)$")
MANIFEST_SUFFIXES = (".yaml", ".yml")
_REMOTE_PREFIXES = ("git@", "git::", "gh:", "ssh:", "github.com/", "github.com:", "oci:")


class UseKind(StrEnum):
    """How a build reads a file."""

    RESOURCE = "resource"
    SECRET_FILE = "secretGenerator files"
    SECRET_ENV = "secretGenerator envs"
    CONFIGMAP_SOURCE = "configMapGenerator input"
    PATCH = "patch"  # kustomize `patches:` with a path: decrypted by kustomize-controller >= 1.5
    LEGACY_PATCH = "legacy patch"  # patchesStrategicMerge / patchesJson6902 files: never
    KUSTOMIZATION = "kustomization"
    OTHER = "other"  # crds, configurations, replacements, generator/transformer configs


@dataclass(frozen=True, slots=True)
class Use:
    """One way a build reads a file; ``via_component`` = reached through a kustomize Component."""

    kind: UseKind
    via_component: bool


@dataclass(frozen=True, slots=True)
class PatchRef:
    """A patch of a kustomization file: a file (``path``) or inline text."""

    path: str | None
    inline: str | None
    target: Target | None
    kind: UseKind  # PATCH or LEGACY_PATCH
    json6902: bool = False


@dataclass(frozen=True, slots=True)
class KFile:
    """The parts of one kustomization file the model follows (paths relative to its folder)."""

    path: str
    resources: tuple[str, ...] = ()
    components: tuple[str, ...] = ()
    patches: tuple[PatchRef, ...] = ()
    inline_patches: tuple[Patch, ...] = ()  # Flux spec.patches, already parsed
    secret_files: tuple[str, ...] = ()
    secret_envs: tuple[str, ...] = ()
    configmap_sources: tuple[str, ...] = ()
    other_files: tuple[str, ...] = ()
    namespace: str | None = None
    name_prefix: str = ""
    name_suffix: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    problems: tuple[str, ...] = ()


def is_remote(ref: str) -> bool:
    """Whether a kustomize reference points outside the repository (a URL, a git remote)."""
    return "://" in ref or ref.startswith(_REMOTE_PREFIXES) or "?ref=" in ref


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [v for v in as_list(value) if isinstance(v, str)]


def parse_kfile(path: str, text: str) -> KFile:
    """The references of a kustomization file; malformed parts become ``problems``."""
    problems: list[str] = []
    try:
        docs = [d for d in safe_load_all(text) if d is not None]
    except FormatError as exc:
        return KFile(path, problems=(f"{path}: {exc.message}",))
    data = as_map(docs[0]) if docs else {}
    if data is None:
        return KFile(path, problems=(f"{path}: a kustomization must be a mapping",))
    resources = [
        *_strings(data.get("resources")),
        *_strings(data.get("bases")),
    ]
    other = [
        *_strings(data.get("crds")),
        *_strings(data.get("configurations")),
        *_strings(data.get("generators")),
        *_strings(data.get("transformers")),
        *_strings(data.get("validators")),
    ]
    for entry in as_list(data.get("replacements")):
        ref = as_map(entry)
        if ref and as_str(ref.get("path")):
            other.append(cast(str, ref.get("path")))
    openapi = as_map(data.get("openapi"))
    if openapi and as_str(openapi.get("path")):
        other.append(cast(str, openapi.get("path")))
    patches: list[PatchRef] = []
    for entry in as_list(data.get("patches")):
        if isinstance(entry, str):
            if "\n" not in entry:
                patches.append(PatchRef(entry, None, None, UseKind.PATCH))
            continue
        ref = as_map(entry)
        if ref is None:
            problems.append(f"{path}: a patches entry is not a mapping")
            continue
        patches.append(
            PatchRef(
                as_str(ref.get("path")),
                as_str(ref.get("patch")),
                parse_target(ref.get("target")),
                UseKind.PATCH,
            )
        )
    for entry in as_list(data.get("patchesStrategicMerge")):
        if isinstance(entry, str):
            is_file = "\n" not in entry and not entry.lstrip().startswith(("{", "apiVersion"))
            patches.append(
                PatchRef(
                    entry if is_file else None,
                    None if is_file else entry,
                    None,
                    UseKind.LEGACY_PATCH,
                )
            )
    for entry in as_list(data.get("patchesJson6902")):
        ref = as_map(entry)
        if ref is None:
            continue
        patches.append(
            PatchRef(
                as_str(ref.get("path")),
                as_str(ref.get("patch")),
                parse_target(ref.get("target")),
                UseKind.LEGACY_PATCH,
                json6902=True,
            )
        )
    secret_files: list[str] = []
    secret_envs: list[str] = []
    configmap: list[str] = []
    for field_name, is_secret in (("secretGenerator", True), ("configMapGenerator", False)):
        for entry in as_list(data.get(field_name)):
            gen = as_map(entry)
            if gen is None:
                problems.append(f"{path}: a {field_name} entry is not a mapping")
                continue
            files = []
            for source in _strings(gen.get("files")):
                key, sep, ref_path = source.partition("=")
                files.append(ref_path if sep else key)
            envs = [*_strings(gen.get("envs")), *_strings(gen.get("env"))]
            if is_secret:
                secret_files += files
                secret_envs += envs
            else:
                configmap += files + envs
    labels: dict[str, str] = {}
    for k, v in (as_map(data.get("commonLabels")) or {}).items():
        labels[k] = str(v)
    for entry in as_list(data.get("labels")):
        label_entry = as_map(entry) or {}
        pairs = as_map(label_entry.get("pairs")) or {}
        labels.update({k: str(v) for k, v in pairs.items()})
    return KFile(
        path=path,
        resources=tuple(resources),
        components=tuple(_strings(data.get("components"))),
        patches=tuple(patches),
        secret_files=tuple(secret_files),
        secret_envs=tuple(secret_envs),
        configmap_sources=tuple(configmap),
        other_files=tuple(other),
        namespace=as_str(data.get("namespace")),
        name_prefix=as_str(data.get("namePrefix")) or "",
        name_suffix=as_str(data.get("nameSuffix")) or "",
        labels=labels,
        problems=tuple(problems),
    )


@dataclass(slots=True)
class Obj:
    """A Flux object in a build's output, with the file it came from."""

    doc: dict[str, object]
    origin: str


def _docs(text: str) -> list[object]:
    return list(safe_load_all(text))


class RepoFiles:
    """The repository's files by folder, with parse caches shared by every build."""

    def __init__(self, paths: Iterable[str], read: Callable[[str], bytes]) -> None:
        """Index ``paths`` (repo-relative); ``read`` returns a file's bytes."""
        self._read = read
        self._bytes: dict[str, bytes] = {}
        self.files = frozenset(paths)
        self._in: dict[str, list[str]] = {}
        self._sub: dict[str, set[str]] = {}
        for path in sorted(self.files):
            parent = posixpath.dirname(path) or "."
            self._in.setdefault(parent, []).append(path)
            child = parent
            while child != ".":
                up = posixpath.dirname(child) or "."
                subs = self._sub.setdefault(up, set())
                if child in subs:
                    break
                subs.add(child)
                child = up
        self._kfiles: dict[str, KFile] = {}
        self._flux: dict[str, tuple[dict[str, object], ...]] = {}
        self.problems: dict[str, str] = {}

    def files_in(self, folder: str) -> list[str]:
        """Files directly in ``folder``, sorted."""
        return self._in.get(folder, [])

    def subdirs(self, folder: str) -> list[str]:
        """Folders directly in ``folder``, sorted."""
        return sorted(self._sub.get(folder, ()))

    def is_dir(self, folder: str) -> bool:
        """Whether ``folder`` holds any file (at any depth)."""
        return folder in self._in or folder in self._sub

    def read(self, path: str) -> bytes:
        """A file's bytes, read once (``OSError`` when it cannot be read)."""
        cached = self._bytes.get(path)
        if cached is None:
            cached = self._bytes[path] = self._read(path)
        return cached

    def text(self, path: str) -> str:
        """A file as UTF-8 text (``OSError``/``UnicodeDecodeError`` when it cannot be read)."""
        return self.read(path).decode("utf-8")

    def kfile(self, path: str) -> KFile:
        """The parsed kustomization file at ``path`` (cached)."""
        cached = self._kfiles.get(path)
        if cached is None:
            try:
                cached = parse_kfile(path, self.text(path))
            except (OSError, UnicodeDecodeError):
                cached = KFile(path, problems=(f"{path}: cannot read the kustomization",))
            self._kfiles[path] = cached
        return cached

    def flux_docs(self, path: str) -> tuple[dict[str, object], ...]:
        """The Flux objects defined in the manifest ``path`` (cached; none for other files)."""
        cached = self._flux.get(path)
        if cached is not None:
            return cached
        found: list[dict[str, object]] = []
        try:
            # an encrypted file never holds a Flux object: spare reading it twice
            data = b"" if _SOPS_NAME.search(path) else self.read(path)
        except OSError:
            data = b""
        if any(marker in data for marker in MARKERS) and b"\nsops:" not in data:
            try:
                docs = safe_load_all(data.decode("utf-8"))
            except (UnicodeDecodeError, FormatError) as exc:
                reason = exc.message if isinstance(exc, FormatError) else "not valid UTF-8"
                self.problems[path] = f"{path}: {reason}"
                docs = []
            for doc in _flatten(docs):
                if is_flux_kustomization(doc) or is_source(doc) or is_flux_instance(doc):
                    found.append(doc)
        result = tuple(found)
        self._flux[path] = result
        return result


def _flatten(docs: Iterable[object]) -> Iterable[dict[str, object]]:
    """Documents as kustomize sees resources: ``kind: List`` items are resources too."""
    for raw in docs:
        doc = as_map(raw)
        if doc is None:
            continue
        if doc.get("kind") == "List" or (
            isinstance(doc.get("kind"), str) and cast(str, doc.get("kind")).endswith("List")
        ):
            yield from _flatten(as_list(doc.get("items")))
        else:
            yield doc


class Artifact:
    """What a Flux source holds of this checkout: files under ``base``, minus ignored ones."""

    def __init__(self, base: str, source_filter: SourceFilter) -> None:
        """The folder ``base`` ("" for the repository root) filtered by ``source_filter``."""
        self.base = base
        self.filter = source_filter
        self._holds: dict[str, bool] = {}

    def holds(self, path: str) -> bool:
        """Whether the repository file ``path`` is in the artifact."""
        cached = self._holds.get(path)
        if cached is None:
            rel = path
            if self.base:
                rel = path[len(self.base) + 1 :] if path.startswith(self.base + "/") else ""
            cached = self._holds[path] = bool(rel) and not self.filter.excludes(rel)
        return cached

    def resolve(self, spec_path: str) -> str | None:
        """A repo-relative folder for a ``spec.path`` relative to the artifact root."""
        joined = posixpath.normpath(posixpath.join(self.base or ".", spec_path))
        if joined.startswith("../") or joined == "..":
            return None
        if self.base and joined != self.base and not joined.startswith(self.base + "/"):
            return None
        return joined


@dataclass
class BuildResult:
    """What one Flux Kustomization's build reads and produces."""

    uses: dict[str, set[Use]] = field(default_factory=dict)
    objects: list[Obj] = field(default_factory=list)
    missing: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)


class Builder:
    """Builds one Flux Kustomization's path inside one artifact."""

    def __init__(self, repo: RepoFiles, artifact: Artifact) -> None:
        """Build against ``repo``'s files, as far as ``artifact`` holds them."""
        self.repo = repo
        self.artifact = artifact
        self.result = BuildResult()
        self._stack: list[str] = []

    # ------------------------------------------------------------------ file access
    def _is_file(self, path: str) -> bool:
        return path in self.repo.files and self.artifact.holds(path)

    def _is_dir(self, path: str) -> bool:
        return self.repo.is_dir(path)

    def _kustomization_of(self, folder: str) -> str | None:
        found = [
            p
            for name in KUSTOMIZATION_NAMES
            if self._is_file(p := name if folder == "." else f"{folder}/{name}")
        ]
        if len(found) > 1:
            self.result.problems.append(f"{folder}: more than one kustomization file")
        return found[0] if found else None

    def _use(self, path: str, kind: UseKind, via_component: bool) -> None:
        self.result.uses.setdefault(path, set()).add(Use(kind, via_component))

    def _join(self, folder: str, ref: str) -> str | None:
        ref = ref.strip()
        if not ref or is_remote(ref) or posixpath.isabs(ref):
            return None
        joined = posixpath.normpath(posixpath.join(folder, ref))
        if joined == ".." or joined.startswith("../"):
            return None
        if self.artifact.base and not (
            joined == self.artifact.base or joined.startswith(self.artifact.base + "/")
        ):
            return None  # kustomize-controller's secure file system stops at the artifact root
        return joined

    # ------------------------------------------------------------------ building
    def build(self, folder: str, flux_kfile: Callable[[KFile], KFile]) -> BuildResult:
        """Build ``folder`` with the Flux Kustomization's own fields merged in by
        ``flux_kfile`` (components, patches, targetNamespace, name prefix/suffix)."""
        if not self._is_dir(folder):
            self.result.missing.add(folder)
            return self.result
        kpath = self._kustomization_of(folder)
        kfile = self.repo.kfile(kpath) if kpath is not None else self._generated(folder)
        if kpath is not None:
            self._use(kpath, UseKind.KUSTOMIZATION, False)
        self.result.problems.extend(kfile.problems)
        self.result.objects = self._accumulate(folder, flux_kfile(kfile), [], False)
        return self.result

    def _generated(self, folder: str) -> KFile:
        """The kustomization kustomize-controller writes for a folder that has none."""
        resources: list[str] = []
        pending = [folder]
        while pending:
            current = pending.pop(0)
            for path in self.repo.files_in(current):
                if path.endswith(MANIFEST_SUFFIXES) and self._is_file(path):
                    resources.append(posixpath.relpath(path, folder))
            for sub in self.repo.subdirs(current):
                if self._kustomization_of(sub) is not None:
                    resources.append(posixpath.relpath(sub, folder))
                else:
                    pending.append(sub)
        return KFile(path=f"{folder}/(generated)", resources=tuple(resources))

    def _accumulate(
        self, folder: str, kfile: KFile, objs: list[Obj], via_component: bool
    ) -> list[Obj]:
        if folder in self._stack:
            return objs  # a cycle: kustomize refuses it; the model stops following
        self._stack.append(folder)
        try:
            for ref in kfile.resources:
                objs = objs + self._resource(folder, ref, via_component)
            for ref in kfile.components:
                objs = self._component(folder, ref, objs)
            for ref in kfile.secret_files:
                self._file(folder, ref, UseKind.SECRET_FILE, via_component)
            for ref in kfile.secret_envs:
                self._file(folder, ref, UseKind.SECRET_ENV, via_component)
            for ref in kfile.configmap_sources:
                self._file(folder, ref, UseKind.CONFIGMAP_SOURCE, via_component)
            for ref in kfile.other_files:
                self._file(folder, ref, UseKind.OTHER, via_component)
            early = [p for p in kfile.patches if p.kind is UseKind.LEGACY_PATCH and not p.json6902]
            early += [p for p in kfile.patches if p.kind is UseKind.PATCH]
            late = [p for p in kfile.patches if p.json6902]
            objs = self._patch(folder, early, objs, via_component)
            objs = self._apply(objs, kfile.inline_patches)
            objs = _transform(objs, kfile)
            return self._patch(folder, late, objs, via_component)
        finally:
            self._stack.pop()

    def _resource(self, folder: str, ref: str, via_component: bool) -> list[Obj]:
        target = self._join(folder, ref)
        if target is None:
            return []
        if self._is_file(target):
            self._use(target, UseKind.RESOURCE, via_component)
            return [Obj(copy.deepcopy(d), target) for d in self.repo.flux_docs(target)]
        if self._is_dir(target):
            kpath = self._kustomization_of(target)
            if kpath is None:
                self.result.missing.add(target)  # kustomize needs a kustomization file here
                return []
            self._use(kpath, UseKind.KUSTOMIZATION, via_component)
            kfile = self.repo.kfile(kpath)
            self.result.problems.extend(kfile.problems)
            return self._accumulate(target, kfile, [], via_component)
        self.result.missing.add(target)
        return []

    def _component(self, folder: str, ref: str, objs: list[Obj]) -> list[Obj]:
        target = self._join(folder, ref)
        if target is None:
            return objs
        kpath = self._kustomization_of(target) if self._is_dir(target) else None
        if kpath is None:
            self.result.missing.add(target)
            return objs
        self._use(kpath, UseKind.KUSTOMIZATION, True)
        kfile = self.repo.kfile(kpath)
        self.result.problems.extend(kfile.problems)
        return self._accumulate(target, kfile, objs, True)

    def _file(self, folder: str, ref: str, kind: UseKind, via_component: bool) -> str | None:
        target = self._join(folder, ref)
        if target is None:
            return None
        if self._is_file(target):
            self._use(target, kind, via_component)
            return target
        if kind is UseKind.OTHER and self._is_dir(target):
            return None  # a folder of generator or transformer configs
        self.result.missing.add(target)
        return None

    def _patch(
        self, folder: str, refs: Sequence[PatchRef], objs: list[Obj], via_component: bool
    ) -> list[Obj]:
        patches: list[Patch] = []
        for ref in refs:
            text: str | None = ref.inline
            if ref.path is not None:
                path = self._file(folder, ref.path, ref.kind, via_component)
                if path is None:
                    continue
                try:
                    raw = self.repo.read(path)
                except OSError:
                    continue
                if b"\nsops:" in raw or raw.startswith(b"sops:"):
                    continue  # an encrypted patch (a Secret's values): it never targets Flux
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError:
                    continue
            if text is None:
                continue
            try:
                docs = _docs(text)
            except FormatError:
                continue
            data: object = docs[0] if len(docs) == 1 else docs
            patch = patch_from_data(data, ref.target)
            if patch is not None:
                patches.append(patch)
        return self._apply(objs, patches)

    @staticmethod
    def _apply(objs: list[Obj], patches: Sequence[Patch]) -> list[Obj]:
        if not patches:
            return objs
        out = []
        for obj in objs:
            doc = obj.doc
            for patch in patches:
                doc = patch.apply(doc)
            out.append(Obj(doc, obj.origin))
        return out


def _transform(objs: list[Obj], kfile: KFile) -> list[Obj]:
    """kustomize's namespace, name prefix/suffix and label transformers."""
    if not (kfile.namespace or kfile.name_prefix or kfile.name_suffix or kfile.labels):
        return objs
    for obj in objs:
        md = dict(meta(obj.doc))
        if kfile.namespace:
            md["namespace"] = kfile.namespace
        name = as_str(md.get("name"))
        if name is not None and (kfile.name_prefix or kfile.name_suffix):
            md["name"] = f"{kfile.name_prefix}{name}{kfile.name_suffix}"
        if kfile.labels:
            md["labels"] = {**(as_map(md.get("labels")) or {}), **kfile.labels}
        obj.doc = {**obj.doc, "metadata": md}
    return objs


def flux_overlay(
    components: Sequence[str],
    patches: Sequence[Mapping[str, object]],
    target_namespace: str | None,
    name_prefix: str,
    name_suffix: str,
) -> Callable[[KFile], KFile]:
    """What kustomize-controller merges into the kustomization at a Kustomization's path."""
    parsed = patches_of(list(patches), _docs)

    def merge(kfile: KFile) -> KFile:
        return replace(
            kfile,
            components=kfile.components + tuple(components),
            inline_patches=kfile.inline_patches + tuple(parsed),
            namespace=target_namespace or kfile.namespace,
            name_prefix=name_prefix or kfile.name_prefix,
            name_suffix=name_suffix or kfile.name_suffix,
        )

    return merge
