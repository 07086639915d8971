"""Line edits of `.secretsmgr.yaml` for ``key rotate``: one key set or removed, every comment,
the order and the line endings of the file kept, and the result verified by parsing it back.

A top-level key (``cluster_key``, ``next_cluster_key``) and a key of one cluster under
``clusters:`` (``clusters.<name>.cluster_key``, ``clusters.<name>.next_cluster_key``) can be
edited; a value spanning several lines, and ``clusters:`` in flow style, are refused with a
hint (set them on one line, in block style, first).
"""

from __future__ import annotations

import re

from secretsmgr.errors import ConfigError, FormatError
from secretsmgr.repo.settings import SETTINGS_NAME, parse_settings
from secretsmgr.sops.yamlio import safe_load_all

# a ``key:`` line below ``clusters:``: the key plain, double- or single-quoted
_ENTRY = re.compile(
    r"""^(?P<indent>[ ]+)(?P<key>"(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^#\s"'][^:#]*?)\s*:(?:\s|$)"""
)


def _top_level_line(lines: list[str], key: str) -> int | None:
    pattern = re.compile(rf"^{re.escape(key)}\s*:")
    for number, line in enumerate(lines):
        if pattern.match(line):
            return number
    return None


def _prepare(text: str | None) -> tuple[list[str], str]:
    text = text or ""
    eol = "\r\n" if "\r\n" in text else "\n"
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += eol
    return lines, eol


def _is_filler(line: str) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


def _replace_at(lines: list[str], at: int, key: str, value: str | None, where: str) -> None:
    """Set (or, for None, delete) the one-line ``key: …`` at line ``at``."""
    indent = len(lines[at]) - len(lines[at].lstrip(" "))
    following = lines[at + 1] if at + 1 < len(lines) else ""
    deeper = len(following) - len(following.lstrip(" ")) > indent or following[:1] == "\t"
    stripped = following.strip()
    if (
        (deeper or (indent == 0 and following[:1] == "-"))
        and stripped
        and not (stripped.startswith(("#", "---")))
    ):
        raise ConfigError(f"{SETTINGS_NAME}: {where} spans several lines; set it on one line first")
    eol = "\r\n" if lines[at].endswith("\r\n") else "\n"
    comment = re.search(r"\s+#.*$", lines[at].rstrip("\r\n"))
    tail = comment.group(0) if comment else ""
    if value is None:
        del lines[at]
    else:
        lines[at] = f"{' ' * indent}{key}: {value}{tail}{eol}"


def set_setting(text: str | None, key: str, value: str | None, *, after: str | None = None) -> str:
    """``.secretsmgr.yaml`` with the top-level ``key`` set to ``value`` (or removed for None).

    Inserted lines go after the ``after`` key, else at the top below leading comments and any
    ``---``/``%`` directive lines.
    """
    lines, eol = _prepare(text)
    at = _top_level_line(lines, key)
    if at is not None:
        _replace_at(lines, at, key, value, key)
        return "".join(lines)
    if value is None:
        return "".join(lines)
    anchor = _top_level_line(lines, after) if after else None
    if anchor is None:
        anchor = -1
        while anchor + 1 < len(lines) and lines[anchor + 1].lstrip().startswith(("#", "%", "---")):
            anchor += 1
    lines.insert(anchor + 1, f"{key}: {value}{eol}")
    return "".join(lines)


def _key_of(raw: str) -> object:
    """The mapping key a ``key:`` line spells (quoted or plain), as YAML reads it."""
    try:
        docs = safe_load_all(f"{raw}: 0\n")
    except FormatError:
        return None
    doc = docs[0] if docs else None
    return next(iter(doc)) if isinstance(doc, dict) and len(doc) == 1 else None


def _block(lines: list[str], start: int, indent: int) -> int:
    """The end (exclusive) of the block below line ``start``: its lines are deeper than
    ``indent`` (blank and comment lines inside it belong to it; trailing ones do not)."""
    end = start + 1
    last = start
    while end < len(lines):
        line = lines[end]
        if not _is_filler(line):
            if len(line) - len(line.lstrip(" ")) <= indent:
                break
            last = end
        end += 1
    return last + 1


def _children(lines: list[str], start: int, end: int) -> list[tuple[int, int, object, str]]:
    """(line number, indent, key, what follows the colon) of each direct child ``key:`` line
    of a block."""
    out: list[tuple[int, int, object, str]] = []
    child_indent: int | None = None
    for number in range(start, end):
        line = lines[number]
        if _is_filler(line):
            continue
        indent = len(line) - len(line.lstrip(" "))
        if child_indent is None:
            child_indent = indent
        if indent != child_indent:
            continue
        match = _ENTRY.match(line)
        if match:
            rest = line[match.end() :].strip()
            out.append((number, indent, _key_of(match.group("key")), rest))
    return out


def set_cluster_setting(
    text: str | None, cluster: str, key: str, value: str | None, *, after: str | None = None
) -> str:
    """``.secretsmgr.yaml`` with ``clusters.<cluster>.<key>`` set to ``value`` (None removes
    it); an inserted line goes after the ``after`` key of that cluster, else at its end."""
    where = f"clusters.{cluster}.{key}"
    lines, eol = _prepare(text)
    top = _top_level_line(lines, "clusters")
    if top is None:
        raise ConfigError(f"{SETTINGS_NAME}: no clusters: to set {where} in")
    rest = lines[top].split(":", 1)[1].strip()
    if rest and not rest.startswith("#"):
        raise ConfigError(
            f"{SETTINGS_NAME}: clusters: is written in flow style ({{…}}), which secretsmgr "
            f"cannot edit line by line to set {where}",
            hints=(
                "write it in block style (one 'name:' line per cluster, its keys indented "
                "below), then run the step again",
            ),
        )
    end = _block(lines, top, 0)
    found = [c for c in _children(lines, top + 1, end) if c[2] == cluster]
    if not found:
        raise ConfigError(f"{SETTINGS_NAME}: clusters: has no entry {cluster!r} to set {key} in")
    at, indent, _, rest = found[0]
    if rest and not rest.startswith("#"):
        raise ConfigError(
            f"{SETTINGS_NAME}: clusters.{cluster} is written in flow style ({{…}}), which "
            f"secretsmgr cannot edit line by line to set {key}",
            hints=("write it in block style (its keys indented below it), then run again",),
        )
    stop = _block(lines, at, indent)
    children = _children(lines, at + 1, stop)
    mine = [c for c in children if c[2] == key]
    if mine:
        _replace_at(lines, mine[0][0], key, value, where)
        return "".join(lines)
    if value is None:
        return "".join(lines)
    child = children[0][1] if children else indent + 2
    anchor = next((c[0] for c in children if after is not None and c[2] == after), stop - 1)
    lines.insert(anchor + 1, f"{' ' * child}{key}: {value}{eol}")
    return "".join(lines)


def settings_text(text: str | None, cluster_key: str, next_key: str | None) -> str:
    """The settings text with ``cluster_key`` and ``next_cluster_key`` as given, verified."""
    out = set_setting(text, "cluster_key", cluster_key)
    out = set_setting(out, "next_cluster_key", next_key, after="cluster_key")
    parsed = parse_settings(out)
    if parsed.cluster_key != cluster_key or parsed.next_cluster_key != next_key:
        raise ConfigError(
            f"{SETTINGS_NAME}: could not update cluster_key/next_cluster_key in place",
            hints=("set them by hand, then run the step again",),
        )
    return out


def cluster_settings_text(
    text: str | None, cluster: str, cluster_key: str, next_key: str | None
) -> str:
    """The settings text with ``clusters.<cluster>.cluster_key`` and ``.next_cluster_key`` as
    given (every other line as it was), verified by parsing it back."""
    out = set_cluster_setting(text, cluster, "cluster_key", cluster_key)
    out = set_cluster_setting(out, cluster, "next_cluster_key", next_key, after="cluster_key")
    spec = parse_settings(out).cluster(cluster)
    if spec is None or spec.cluster_key != cluster_key or spec.next_cluster_key != next_key:
        raise ConfigError(
            f"{SETTINGS_NAME}: could not update clusters.{cluster}.cluster_key/next_cluster_key "
            "in place",
            hints=("set them by hand, then run the step again",),
        )
    return out
