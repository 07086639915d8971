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


def _compile(patterns: Sequence[Pattern]) -> list[tuple[re.Pattern[str], bool]]:
    compiled = []
    for pattern in patterns:
        source = pattern.regex()
        if source is not None:
            compiled.append((re.compile(source, re.DOTALL), not pattern.include))
    return compiled


def read_patterns(text: str, domain: Sequence[str] = ()) -> list[Pattern]:
    """The patterns of a `.sourceignore` file or a ``spec.ignore`` block."""
    return [
        Pattern.parse(line, domain)
        for line in text.splitlines()
        if line.strip() and not line.startswith("#")
    ]


class SourceFilter:
    """Decides which files of a folder a Flux source artifact built from it would hold."""

    def __init__(self, patterns: Iterable[Pattern]) -> None:
        """Build the matcher as source-controller does: defaults only when nothing is given."""
        given = list(patterns)
        base = EXCLUDE_VCS if given else EXCLUDE_VCS + EXCLUDE_DEFAULT
        self.patterns = [Pattern.parse(p) for p in base] + given
        compiled = _compile(self.patterns)
        self._ordered = compiled[::-1]
        self._any: re.Pattern[str] | None = None
        if all(excluded for _, excluded in compiled):
            joined = "|".join(f"(?:{rx.pattern})" for rx, _ in compiled)
            self._any = re.compile(joined, re.DOTALL) if joined else None

    def excludes(self, path: str) -> bool:
        """Whether the file at ``path`` (relative to the artifact root) is left out."""
        if not self._ordered:
            return False
        if self._any is not None:
            return self._any.search(path) is not None
        for rx, excluded in self._ordered:
            if rx.search(path) is not None:
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
