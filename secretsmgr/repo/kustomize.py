"""Follow a kustomize tree from a folder, as kustomize and Flux's kustomize-controller build it.

Only the local files a build reads are collected; nothing is rendered. The repository's file
list (tracked plus untracked-not-ignored) is the truth about what exists: a file git ignores
is not in the cluster's copy of the repository either.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from secretsmgr.errors import ConfigError, FormatError
from secretsmgr.repo.snapshot import Snapshot, WorktreeSnapshot
from secretsmgr.sops.yamlio import safe_load_all

KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
# What Flux's generator picks up in a folder that has no kustomization file.
FLUX_MANIFEST_SUFFIXES = (".yaml", ".yml")
_REMOTE_PREFIXES = (
    "git@",
    "git::",
    "ssh:",
    "github.com/",
    "gitlab.com/",
    "bitbucket.org/",
    "oci:",
)


@dataclass(frozen=True, slots=True)
class KustomizeTree:
    """Every repo-relative file a kustomize build from one folder reads."""

    files: frozenset[str]
    component_files: frozenset[str]
    generator_files: frozenset[str]
    kustomization_files: frozenset[str]
    missing: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Kustomization:
    """The local references of one kustomization file, relative to its folder."""

    resources: tuple[str, ...]
    components: tuple[str, ...]
    plain_files: tuple[str, ...]
    generator_files: tuple[str, ...]


def is_remote(ref: str) -> bool:
    """Tell whether a kustomize reference points outside the repository (URL, git remote)."""
    return "://" in ref or ref.startswith(_REMOTE_PREFIXES) or "?ref=" in ref


def normalize(base_dir: str, ref: str) -> str | None:
    """Join ``ref`` onto the repo-relative ``base_dir``; None when it leaves the repository."""
    if posixpath.isabs(ref):
        return None
    joined = posixpath.normpath(posixpath.join(base_dir, ref))
    if joined == ".." or joined.startswith("../"):
        return None
    return joined


class RepoIndex:
    """The repository's files indexed by folder, plus a cache of parsed kustomization files."""

    def __init__(self, snapshot: Snapshot) -> None:
        """Index the files of ``snapshot`` by folder."""
        self.snapshot = snapshot
        self.files: frozenset[str] = frozenset(snapshot.paths)
        self._files_in: dict[str, list[str]] = {}
        self._subdirs: dict[str, set[str]] = {}
        for path in sorted(self.files):
            parent = posixpath.dirname(path) or "."
            self._files_in.setdefault(parent, []).append(path)
            child = parent
            while child != ".":
                up = posixpath.dirname(child) or "."
                subdirs = self._subdirs.setdefault(up, set())
                if child in subdirs:
                    break
                subdirs.add(child)
                child = up
        self._parsed: dict[str, _Kustomization] = {}

    def is_file(self, path: str) -> bool:
        """Tell whether ``path`` is a file of the repository."""
        return path in self.files

    def is_dir(self, path: str) -> bool:
        """Tell whether ``path`` is a folder holding at least one repository file."""
        return path in self._files_in or path in self._subdirs

    def files_in(self, folder: str) -> list[str]:
        """Return the files directly inside ``folder``, sorted."""
        return self._files_in.get(folder, [])

    def subdirs(self, folder: str) -> list[str]:
        """Return the folders directly inside ``folder``, sorted."""
        return sorted(self._subdirs.get(folder, ()))

    def kustomization_file(self, folder: str) -> str | None:
        """Return the kustomization file of ``folder``; more than one is a ConfigError."""
        found = [
            path
            for name in KUSTOMIZATION_NAMES
            if (path := name if folder == "." else f"{folder}/{name}") in self.files
        ]
        if len(found) > 1:
            raise ConfigError(f"{folder}: found more than one kustomization file")
        return found[0] if found else None

    def kustomization(self, path: str) -> _Kustomization:
        """Return the parsed references of the kustomization file at ``path`` (cached)."""
        cached = self._parsed.get(path)
        if cached is None:
            cached = self._parsed[path] = _parse_kustomization(self.snapshot, path)
        return cached


def _strings(value: object, path: str, field: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{path}: {field} must be a list of strings")
    return cast(list[str], value)


def _entries(value: object, path: str, field: str) -> list[object]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ConfigError(f"{path}: {field} must be a list")
    return cast(list[object], value)


def _path_field(entry: object, path: str, field: str) -> list[str]:
    """A ``- path: x`` entry (patches, replacements, …) or a plain string naming a file."""
    if isinstance(entry, str):
        return [] if "\n" in entry else [entry]  # a multi-line string is an inline patch
    if isinstance(entry, dict):
        ref = cast(dict[str, object], entry).get("path")
        if ref is None:
            return []
        if not isinstance(ref, str):
            raise ConfigError(f"{path}: {field} path must be a string")
        return [ref]
    raise ConfigError(f"{path}: {field} entries must be mappings or strings")


def _generator_inputs(entries: list[object], path: str, field: str) -> Iterator[str]:
    for entry in entries:
        if not isinstance(entry, dict):
            raise ConfigError(f"{path}: {field} entries must be mappings")
        gen = cast(dict[str, object], entry)
        for source in _strings(gen.get("files"), path, f"{field} files"):
            key, sep, ref = source.partition("=")
            yield ref if sep else key
        yield from _strings(gen.get("envs"), path, f"{field} envs")
        yield from _strings(gen.get("env"), path, f"{field} env")


def _parse_kustomization(snapshot: Snapshot, path: str) -> _Kustomization:
    try:
        text = snapshot.read(path).decode("utf-8")
        docs = [d for d in safe_load_all(text) if d is not None]
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read kustomization") from exc
    except FormatError as exc:
        raise ConfigError(f"{path}: {exc.message}") from exc
    if not docs:
        return _Kustomization((), (), (), ())
    if not isinstance(docs[0], dict):
        raise ConfigError(f"{path}: a kustomization must be a mapping")
    data = cast(dict[str, object], docs[0])

    resources = _strings(data.get("resources"), path, "resources")
    resources += _strings(data.get("bases"), path, "bases")
    resources += _strings(data.get("generators"), path, "generators")
    resources += _strings(data.get("transformers"), path, "transformers")
    resources += _strings(data.get("validators"), path, "validators")

    plain: list[str] = []
    plain += _strings(data.get("crds"), path, "crds")
    plain += _strings(data.get("configurations"), path, "configurations")
    for field in ("patches", "patchesJson6902", "replacements"):
        for entry in _entries(data.get(field), path, field):
            plain += _path_field(entry, path, field)
    for entry in _entries(data.get("patchesStrategicMerge"), path, "patchesStrategicMerge"):
        if not isinstance(entry, str):
            raise ConfigError(f"{path}: patchesStrategicMerge entries must be strings")
        if "\n" not in entry:
            plain.append(entry)

    generated: list[str] = []
    for field in ("secretGenerator", "configMapGenerator"):
        generated += _generator_inputs(_entries(data.get(field), path, field), path, field)

    return _Kustomization(
        resources=tuple(resources),
        components=tuple(_strings(data.get("components"), path, "components")),
        plain_files=tuple(plain),
        generator_files=tuple(generated),
    )


class _Walker:
    def __init__(self, index: RepoIndex) -> None:
        self.index = index
        self.files: set[str] = set()
        self.component_files: set[str] = set()
        self.generator_files: set[str] = set()
        self.kustomization_files: set[str] = set()
        self.missing: set[str] = set()
        self._seen: set[tuple[str, bool]] = set()
        self._stack: list[tuple[str, bool]] = []

    def add_file(self, path: str, via_component: bool) -> None:
        self.files.add(path)
        if via_component:
            self.component_files.add(path)

    def reference(
        self, base_dir: str, ref: str, via_component: bool, *, folder_ok: bool
    ) -> str | None:
        """Follow one reference: a file (returned), or (``folder_ok``) a kustomization folder."""
        ref = ref.strip()
        if not ref or is_remote(ref):
            return None
        target = normalize(base_dir, ref)
        if target is None:
            return None
        if self.index.is_file(target):
            self.add_file(target, via_component)
            return target
        if folder_ok and self.index.is_dir(target):
            if self.index.kustomization_file(target) is None:
                self.missing.add(target)  # kustomize refuses a folder without one
            else:
                self._stack.append((target, via_component))
        else:
            self.missing.add(target)
        return None

    def folder(self, folder: str, via_component: bool) -> None:
        """Visit a folder: its kustomization, or every manifest below it as Flux generates."""
        if (folder, via_component) in self._seen:
            return
        self._seen.add((folder, via_component))
        kfile = self.index.kustomization_file(folder)
        if kfile is None:
            self.generated(folder, via_component)
            return
        self.add_file(kfile, via_component)
        self.kustomization_files.add(kfile)
        kust = self.index.kustomization(kfile)
        for ref in kust.resources:
            self.reference(folder, ref, via_component, folder_ok=True)
        for ref in kust.components:
            self.reference(folder, ref, True, folder_ok=True)
        for ref in kust.plain_files:
            self.reference(folder, ref, via_component, folder_ok=False)
        for ref in kust.generator_files:
            added = self.reference(folder, ref, via_component, folder_ok=False)
            if added is not None:
                self.generator_files.add(added)

    def generated(self, folder: str, via_component: bool) -> None:
        """Flux's generated kustomization: every manifest, recursing until a kustomization."""
        pending = [folder]
        while pending:
            current = pending.pop()
            for path in self.index.files_in(current):
                if path.endswith(FLUX_MANIFEST_SUFFIXES):
                    self.add_file(path, via_component)
            for sub in self.index.subdirs(current):
                if self.index.kustomization_file(sub) is not None:
                    self._stack.append((sub, via_component))
                else:
                    pending.append(sub)

    def run(self, start: str, components: Sequence[str]) -> None:
        if not self.index.is_dir(start):
            self.missing.add(start)
        else:
            self._stack.append((start, False))
        for ref in components:
            self.reference(start, ref, True, folder_ok=True)
        while self._stack:
            self.folder(*self._stack.pop())

    def result(self) -> KustomizeTree:
        return KustomizeTree(
            files=frozenset(self.files),
            component_files=frozenset(self.component_files),
            generator_files=frozenset(self.generator_files),
            kustomization_files=frozenset(self.kustomization_files),
            missing=tuple(sorted(self.missing)),
        )


def resolve_tree_indexed(
    index: RepoIndex, start: str, components: Sequence[str] = ()
) -> KustomizeTree:
    """Like resolve_tree, over a prebuilt RepoIndex (shared by many layers)."""
    target = normalize(".", start.strip() or ".")
    walker = _Walker(index)
    if target is None:
        walker.missing.add(start)
    else:
        walker.run(target, components)
    return walker.result()


def resolve_tree(
    root: Path,
    start: str,
    files: AbstractSet[str] | Iterable[str],
    components: Sequence[str] = (),
) -> KustomizeTree:
    """Collect every file a build of the repo-relative folder ``start`` reads.

    ``components`` are extra component folders relative to ``start`` (Flux ``spec.components``).
    """
    return resolve_tree_indexed(
        RepoIndex(WorktreeSnapshot(root, sorted(set(files)))), start, components
    )
