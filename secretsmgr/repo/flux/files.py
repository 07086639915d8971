"""The repository's files as Flux sees them: indexed by folder, parsed once, and filtered to
what a source artifact holds."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import cast

from secretsmgr.errors import FormatError
from secretsmgr.repo.flux.ignore import SourceFilter
from secretsmgr.repo.flux.kfile import KFile, generator_sources, parse_kfile
from secretsmgr.repo.flux.objects import (
    MARKERS,
    as_list,
    as_map,
    credential_reader,
    is_flux_instance,
    is_flux_kustomization,
    is_source,
)
from secretsmgr.repo.flux.resourceset import is_resource_set
from secretsmgr.sops.yamlio import safe_load_all

MANIFEST_SUFFIXES = (".yaml", ".yml")
_SOPS_NAME = re.compile(r"\.(enc|sops)\.(ya?ml|json|env)$")


@dataclass(slots=True)
class Obj:
    """A Flux object in a build's output, with the file it came from."""

    doc: dict[str, object]
    origin: str


def parse_docs(text: str) -> list[object]:
    """Every YAML document of ``text`` (``FormatError`` when it is not YAML)."""
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
        self._kustomize_kinds: dict[str, str | None] = {}
        self._no_object: dict[str, bool] = {}
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

    def holds_no_object(self, path: str) -> bool:
        """Whether the YAML file ``path`` holds something that is no Kubernetes object: a
        document that is a mapping without ``kind`` (a tool's settings: `.pre-commit-config.yaml`,
        `.secretsmgr.yaml`, a Helm values file), a list or a bare scalar, or text that is no YAML.
        kustomize-controller's generated kustomization takes every YAML file of a folder that
        has none, and fails on such a file ("failed to decode Kubernetes YAML … missing
        Resource metadata"). Empty documents and comments are none (cached)."""
        if path not in self._no_object:
            self._no_object[path] = self._holds_no_object(path)
        return self._no_object[path]

    def _holds_no_object(self, path: str) -> bool:
        try:
            data = self.read(path)
        except OSError:
            return False
        if b"kind" in data:
            return False  # an object somewhere, in every file worth parsing: not judged
        try:
            docs = safe_load_all(data.decode("utf-8"))
        except (UnicodeDecodeError, FormatError):
            return bool(data.strip())
        return any(
            (isinstance(doc, dict | list) and doc) or (isinstance(doc, str) and doc.strip())
            for doc in docs
        )

    def kustomize_kind(self, path: str) -> str | None:
        """``Kustomization`` or ``Component`` when the manifest ``path`` is a kustomize file of
        that kind (``kustomize.config.k8s.io``), else None (cached: every build that lists
        the file asks)."""
        if path not in self._kustomize_kinds:
            self._kustomize_kinds[path] = self._kustomize_kind(path)
        return self._kustomize_kinds[path]

    def _kustomize_kind(self, path: str) -> str | None:
        try:
            data = b"" if _SOPS_NAME.search(path) else self.read(path)
        except OSError:
            return None
        if b"kustomize.config.k8s.io/" not in data:
            return None
        try:
            docs = safe_load_all(data.decode("utf-8"))
        except (UnicodeDecodeError, FormatError):
            return None
        for doc in _flatten(docs):
            kind = doc.get("kind")
            api = doc.get("apiVersion")
            if (
                isinstance(api, str)
                and api.startswith("kustomize.config.k8s.io/")
                and kind in ("Kustomization", "Component")
            ):
                return str(kind)
        return None

    def named_docs(
        self, path: str, wanted: frozenset[tuple[str, str]]
    ) -> tuple[dict[str, object], ...]:
        """The objects of the manifest ``path`` whose (kind, name) is in ``wanted`` that are no
        Flux objects (those come from ``flux_docs``): a replacement's source."""
        try:
            data = b"" if _SOPS_NAME.search(path) else self.read(path)
        except OSError:
            return ()
        names = {name.encode("utf-8", "surrogateescape") for _, name in wanted}
        if not any(name in data for name in names):
            return ()
        try:
            docs = safe_load_all(data.decode("utf-8"))
        except (UnicodeDecodeError, FormatError):
            return ()
        found = []
        for doc in _flatten(docs):
            meta_ = doc.get("metadata")
            name = meta_.get("name") if isinstance(meta_, dict) else None
            if (doc.get("kind"), name) in wanted and not (
                is_flux_kustomization(doc) or is_source(doc) or is_flux_instance(doc)
            ):
                found.append(doc)
        return tuple(found)

    def generator_sources(
        self, path: str | None, inline: str | None = None
    ) -> tuple[list[str], list[str], list[str]]:
        """``generator_sources`` of the config file ``path`` (or the ``inline`` config): what
        its builtin generators read; nothing when it cannot be read as YAML."""
        try:
            text = inline if path is None else self.read(path).decode("utf-8")
            docs = safe_load_all(text or "")
        except (OSError, UnicodeDecodeError, FormatError):
            return [], [], []
        return generator_sources(_flatten(docs))

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
                if (
                    is_flux_kustomization(doc)
                    or is_source(doc)
                    or is_flux_instance(doc)
                    or is_resource_set(doc)  # the model reads the Kustomizations it makes
                    or credential_reader(doc) is not None  # whose Secret is never replaced
                ):
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
