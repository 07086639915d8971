"""Which files of a checkout a Flux source artifact holds: `.sourceignore`, ``spec.ignore`` and
source-controller's default exclusions, with the gitignore dialect Flux uses.

Facts carried over from source-controller (fluxcd/pkg ``sourceignore`` and ``artifact/storage``):

- Patterns come from every ``.sourceignore`` file of the tree (each one anchored at its own
  folder), then from the source's ``spec.ignore`` (anchored at the artifact root).
- When there is no pattern at all, the default exclusions apply (images and archives, CI files,
  ``**/.sops.yaml``, ``**/.goreleaser.yml``, ``**/.flux.yaml``). As soon as there is one pattern,
  only the version-control exclusions (``.git/``, ``.gitignore``, …) stay.
- The last matching pattern decides (``!`` re-includes). A pattern without ``/`` matches any path
  component; a trailing ``/`` matches folders only, so it excludes every file below them.
- Symbolic links are never archived.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

IGNORE_FILE = ".sourceignore"
EXCLUDE_VCS = (".git/", ".gitignore", ".gitmodules", ".gitattributes")
EXCLUDE_DEFAULT = (
    "*.jpg",
    "*.jpeg",
    "*.gif",
    "*.png",
    "*.wmv",
    "*.flv",
    "*.tar.gz",
    "*.zip",
    ".github/",
    ".circleci/",
    ".travis.yml",
    ".gitlab-ci.yml",
    "appveyor.yml",
    ".drone.yml",
    "cloudbuild.yaml",
    "codeship-services.yml",
    "codeship-steps.yml",
    "**/.goreleaser.yml",
    "**/.sops.yaml",
    "**/.flux.yaml",
)


def _component_source(pattern: str) -> str | None:
    """Go's ``filepath.Match`` for one path component, as a regex source; None if malformed."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "\\":
            i += 1
            if i >= n:
                return None
            out.append(re.escape(pattern[i]))
        elif ch == "[":
            end = i + 1
            if end < n and pattern[end] == "^":
                end += 1
            if end < n and pattern[end] == "]":
                end += 1
            end = pattern.find("]", end)
            if end == -1:
                return None
            body = pattern[i + 1 : end]
            negate = body.startswith("^")
            body = body[1:] if negate else body
            cls = "".join("\\" + c if c in "\\[]^" else c for c in body)
            out.append(f"[^/{cls}]" if negate else f"[{cls}]")
            i = end
        else:
            out.append(re.escape(ch))
        i += 1
    return "(?:" + "".join(out) + ")"


@dataclass(frozen=True, slots=True)
class Pattern:
    """One gitignore pattern anchored at ``domain`` (path components from the artifact root).

    Matching follows Flux's matcher exactly: a pattern without ``/`` matches any path component
    (the first one that matches decides); a pattern with ``/`` matches from its domain, ``**``
    skips components up to the first one matching the next part, and a match of a leading run
    of components covers every path below it.
    """

    domain: tuple[str, ...]
    parts: tuple[str, ...]
    include: bool
    dir_only: bool
    is_glob: bool

    @classmethod
    def parse(cls, text: str, domain: Sequence[str] = ()) -> Pattern:
        """Parse one line of a `.sourceignore` (already known not to be blank or a comment)."""
        include = text.startswith("!")
        if include:
            text = text[1:]
        if not text.endswith("\\ "):
            text = text.rstrip(" ")
        dir_only = text.endswith("/")
        if dir_only:
            text = text[:-1]
        if text.startswith("**/") and "/" not in text[3:] and "**" not in text[3:]:
            text = text[3:]  # "**/name" matches exactly what "name" does: any component
        return cls(tuple(domain), tuple(text.split("/")), include, dir_only, "/" in text)

    def regex(self) -> str | None:
        """A regex over the file's ``/``-joined path matching what the pattern matches."""
        end = "/" if self.dir_only else "(?:/|$)"
        out = "^" + "".join(re.escape(d) + "/" for d in self.domain)
        if not self.is_glob:
            comp = _component_source(self.parts[0])
            return None if comp is None else out + "(?:[^/]*/)*?" + comp + end
        traverse = False
        first = True
        for i, part in enumerate(self.parts):
            if part == "":
                traverse = False
                continue
            if part == "**":
                if i == len(self.parts) - 1:
                    break
                traverse = True
                continue
            comp = _component_source(part)
            if "**" in part or comp is None:
                return None
            out += "" if first else "/"
            if traverse:
                out += f"(?:(?!{comp}(?:/|$))[^/]+/)*"
                traverse = False
            out += comp
            first = False
        return None if first else out + end


def read_patterns(text: str, domain: Sequence[str] = ()) -> list[Pattern]:
    """The patterns of a `.sourceignore` file or a ``spec.ignore`` block."""
    return [
        Pattern.parse(line, domain)
        for line in text.splitlines()
        if line.strip() and not line.startswith("#")
    ]


def _component_matcher(pattern: str) -> Callable[[str], bool] | None:
    """A fast test of one path component: a literal, a ``*.ext`` suffix, else a regex."""
    if not any(c in pattern for c in "*?[\\"):
        return pattern.__eq__
    tail = pattern[1:]
    if pattern.startswith("*") and not any(c in tail for c in "*?[\\"):
        return lambda name: name.endswith(tail)
    source = _component_source(pattern)
    if source is None:
        return None
    rx = re.compile(source + r"\Z", re.DOTALL)
    return lambda name: rx.match(name) is not None


def _path_matcher(pattern: Pattern) -> Callable[[str], bool] | None:
    source = pattern.regex()
    if source is None:
        return None
    rx = re.compile(source, re.DOTALL)
    return lambda path: rx.search(path) is not None


class SourceFilter:
    """Decides which files of a folder a Flux source artifact built from it would hold.

    Patterns without ``/`` (nearly all of them, the defaults included) are matched component by
    component, with the results for each folder and each file name kept, so a repository of
    thousands of files costs a few dictionary look-ups per file; the rest go through their regex.
    """

    def __init__(self, patterns: Iterable[Pattern]) -> None:
        """Build the matcher as source-controller does: defaults only when nothing is given."""
        given = list(patterns)
        base = EXCLUDE_VCS if given else EXCLUDE_VCS + EXCLUDE_DEFAULT
        self.patterns = [Pattern.parse(p) for p in base] + given
        self._kinds: list[tuple[bool, Callable[[str], bool] | None, str, bool, bool]] = []
        for pattern in self.patterns:
            simple = not pattern.is_glob
            matcher = _component_matcher(pattern.parts[0]) if simple else _path_matcher(pattern)
            prefix = "".join(d + "/" for d in pattern.domain)
            self._kinds.append((simple, matcher, prefix, pattern.dir_only, not pattern.include))
        self._dirs: dict[str, tuple[bool, ...]] = {}
        self._names: dict[str, tuple[bool, ...]] = {}
        self._globs = any(not simple for simple, *_ in self._kinds)
        self._none = tuple(False for _ in self._kinds)
        # names no simple file pattern can match share one answer
        self._literals: set[str] = set()
        self._suffixes: list[str] = []
        self._other = False
        for pattern in self.patterns:
            if pattern.is_glob or pattern.dir_only:
                continue
            part = pattern.parts[0]
            if not any(c in part for c in "*?[\\"):
                self._literals.add(part)
            elif part.startswith("*") and not any(c in part[1:] for c in "*?[\\"):
                self._suffixes.append(part[1:])
            else:
                self._other = True
        self._suffix_tuple = tuple(self._suffixes)

    def _dir_hits(self, folder: str) -> tuple[bool, ...]:
        """For each simple pattern: does a component of ``folder`` below its domain match?"""
        cached = self._dirs.get(folder)
        if cached is None:
            parts = folder.split("/") if folder else []
            hits = []
            for simple, rx, prefix, _dir_only, _excl in self._kinds:
                if not simple or rx is None:
                    hits.append(False)
                    continue
                depth = prefix.count("/")
                inside = (folder + "/").startswith(prefix)
                hits.append(inside and any(rx(c) for c in parts[depth:]))
            result = tuple(hits)
            cached = self._dirs[folder] = self._none if not any(result) else result
        return cached

    def _name_hits(self, name: str) -> tuple[bool, ...]:
        if not (self._other or name in self._literals or name.endswith(self._suffix_tuple)):
            return self._none
        cached = self._names.get(name)
        if cached is None:
            cached = self._names[name] = tuple(
                simple and rx is not None and not dir_only and rx(name)
                for simple, rx, _prefix, dir_only, _excl in self._kinds
            )
        return cached

    def excludes(self, path: str) -> bool:
        """Whether the file at ``path`` (relative to the artifact root) is left out."""
        folder, _, name = path.rpartition("/")
        dirs = self._dir_hits(folder)
        names = self._name_hits(name)
        if dirs is names is self._none and not self._globs:
            return False
        for i in range(len(self._kinds) - 1, -1, -1):
            simple, rx, prefix, _dir_only, excluded = self._kinds[i]
            if simple:
                hit = dirs[i] or (names[i] and path.startswith(prefix))
            else:
                hit = rx is not None and rx(path)
            if hit:
                return excluded
        return False


def ignore_patterns(files: Iterable[str], read: Callable[[str], str]) -> list[Pattern]:
    """Patterns of every `.sourceignore` among ``files`` (paths relative to the artifact root),
    in the depth-first order source-controller walks the tree in."""

    def folder_key(path: str) -> tuple[str, ...]:
        folder = posixpath.dirname(path)
        return tuple(folder.split("/")) if folder else ()

    found = sorted((f for f in files if posixpath.basename(f) == IGNORE_FILE), key=folder_key)
    patterns: list[Pattern] = []
    for path in found:
        folder = posixpath.dirname(path)
        domain = tuple(folder.split("/")) if folder else ()
        try:
            text = read(path)
        except (OSError, UnicodeDecodeError):
            continue
        patterns.extend(read_patterns(text, domain))
    return patterns
