"""The changelog as the ``seq  time (UTC)  actor  action  layers  files  reason`` table."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence

from secretsmgr.changelog.chain import Entry

_TIME = re.compile(r"(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)Z")
_HEADER = ("seq", "time (UTC)", "actor", "action", "layers", "files", "reason")
_RIGHT = frozenset({0, 5})  # seq and files


def _cell(text: str) -> str:
    """One table cell: control characters (a terminal escape in a reason) made harmless."""
    return "".join(ch if ch.isprintable() else "?" for ch in text)


def _shown_time(stamp: str) -> str:
    match = _TIME.fullmatch(stamp)
    return f"{match[1]} {match[2]}" if match else _cell(stamp)


_LAYERS_WIDTH = 40


def _layers_cell(layers: Sequence[str]) -> str:
    """The layers an entry touched, cut after the names that fit in 40 characters with a
    count of the rest (sweep 71: an adopt entry of 27 layers made every row 595 characters
    wide); ``log --format json`` keeps them all."""
    text = _cell(",".join(layers))
    if len(text) <= _LAYERS_WIDTH:
        return text or "-"
    shown: list[str] = []
    for name in layers:
        more = f",… (+{len(layers) - len(shown)})"
        if len(",".join([*shown, name])) + len(more) > _LAYERS_WIDTH:
            break
        shown.append(name)
    return _cell(",".join(shown)) + f"{',' if shown else ''}… (+{len(layers) - len(shown)})"


def render_table(entries: Sequence[Entry]) -> str:
    """The ``seq  time (UTC)  actor  action  layers  files  reason`` table."""
    rows = [_HEADER] + [
        (
            str(e.seq),
            _shown_time(e.time),
            _cell(e.actor),
            _cell(e.action),
            _layers_cell(e.layers),
            str(len(e.files)),
            _cell(e.reason),
        )
        for e in entries
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_HEADER))]
    lines = []
    for row in rows:
        cells = [
            cell.rjust(widths[i]) if i in _RIGHT else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines) + "\n"


def touching(entries: Sequence[Entry], layers: Collection[str]) -> list[Entry]:
    """The entries that touch any of ``layers``."""
    wanted = set(layers)
    return [e for e in entries if wanted.intersection(e.layers)]


def known_layers(entries: Sequence[Entry], current: Sequence[str]) -> tuple[str, ...]:
    """Layer names ``log --layer`` accepts: today's layers, then those only old entries name."""
    logged = (name for e in entries for name in e.layers)
    return tuple(dict.fromkeys([*current, *logged]))
