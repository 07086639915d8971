"""``log``: the changelog as a table or JSON; ``--verify`` checks its chain and coverage."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from secretsmgr.cli.context import out, repo_root

if TYPE_CHECKING:
    from secretsmgr.changelog.chain import Entry


class LogFormat(StrEnum):
    """Output formats of ``secretsmgr log``."""

    TEXT = "text"
    JSON = "json"


_TIME = re.compile(r"(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)Z")
_HEADER = ("seq", "time (UTC)", "actor", "action", "layers", "files", "reason")
_RIGHT = frozenset({0, 5})  # seq and files


def _cell(text: str) -> str:
    """One table cell: control characters (a terminal escape in a reason) made harmless."""
    return "".join(ch if ch.isprintable() else "?" for ch in text)


def _shown_time(stamp: str) -> str:
    match = _TIME.fullmatch(stamp)
    return f"{match[1]} {match[2]}" if match else _cell(stamp)


def render_table(entries: Sequence[Entry]) -> str:
    """The ``seq  time (UTC)  actor  action  layers  files  reason`` table."""
    rows = [_HEADER] + [
        (
            str(e.seq),
            _shown_time(e.time),
            _cell(e.actor),
            _cell(e.action),
            _cell(",".join(e.layers)) or "-",
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


def sops_states(root: Path, skip: str) -> Iterator[tuple[str, str]]:
    """(path, lastmodified) of every SOPS file in the repo, in path order.

    The same discovery as the audit (and its SM013), so `log --verify` and `audit` agree;
    files with malformed metadata are audit's SM006, not a changelog question.
    """
    from secretsmgr.repo.inventory import load_inventory

    for entry in load_inventory(root).sops_files:
        if entry.sops_file is not None and entry.path != skip:
            yield entry.path, entry.sops_file.metadata.lastmodified


def verify_repo(root: Path, name: str, data: bytes) -> int:
    """Check the chain, then that every SOPS file's state has an entry; the entry count."""
    from secretsmgr.changelog import covered, find_break, parse_entries
    from secretsmgr.errors import ChainError

    found = find_break(data)
    if found is not None:
        raise ChainError(
            f"changelog broken at seq {found.seq}: {found.reason}",
            hints=(f"restore {name} from git",),
        )
    entries = parse_entries(data)
    seen = covered(entries)
    missing = [(p, lm) for p, lm in sops_states(root, name) if (p, lm) not in seen]
    if missing:
        path, lastmodified = missing[0]
        hints = [f"{len(missing) - 1} more SOPS file(s) have no entry"] if len(missing) > 1 else []
        hints += [
            "it was changed outside secretsmgr, or its changelog entry was removed",
            "record the current state of every such file: secretsmgr log --adopt --reason '…'",
            f"or give it a fresh data key: secretsmgr rotate {path} --reason '…'",
        ]
        raise ChainError(f"{path}: lastmodified {lastmodified} has no changelog entry", hints=hints)
    return len(entries)


def log_cmd(
    ctx: typer.Context,
    layer: Annotated[
        list[str] | None,
        typer.Option(
            "--layer", "-l", help="Only entries touching this layer (repeatable).", metavar="L"
        ),
    ] = None,
    fmt: Annotated[
        LogFormat,
        typer.Option("--format", "-f", help="Output format.", case_sensitive=False),
    ] = LogFormat.TEXT,
    verify: Annotated[
        bool,
        typer.Option(
            "--verify", help="Check the hash chain and that every SOPS file has an entry."
        ),
    ] = False,
    adopt: Annotated[
        bool,
        typer.Option(
            "--adopt",
            help="Record the current state of every SOPS file the changelog lacks "
            "(nothing is re-encrypted).",
        ),
    ] = False,
    reason: Annotated[
        str, typer.Option("--reason", help="Why (with --adopt); recorded in the changelog.")
    ] = "",
) -> int:
    """Show the changelog; --verify checks its hash chain and that it covers every SOPS file."""
    from secretsmgr.changelog import load_changelog, parse_entries, to_dict
    from secretsmgr.errors import ChainError
    from secretsmgr.repo.settings import load_settings

    root = repo_root(ctx)
    if adopt or reason:
        from secretsmgr.cli.commands.init import adopt_cmd

        return adopt_cmd(root, reason, adopt=adopt, others=bool(layer or verify))
    name = load_settings(root).changelog
    data = load_changelog(root / name)
    count = verify_repo(root, name, data) if verify else None
    try:
        entries = parse_entries(data)
    except ChainError as exc:
        raise ChainError(exc.message, hints=(f"restore {name} from git",)) from exc
    if layer:
        entries = [e for e in entries if set(e.layers) & set(layer)]
    if fmt is LogFormat.JSON:
        doc = {"version": 1, "entries": [to_dict(e) for e in entries]}
        out(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
        return 0
    if not data:
        out(f"no changelog yet ({name})\n")
    elif entries:
        out(render_table(entries))
    else:
        out(f"no changelog entry touches layer {', '.join(layer or ())}\n")
    if count is not None:
        noun = "entry" if count == 1 else "entries"
        out(f"chain ok ({count} {noun}); every SOPS file's state has an entry\n")
    return 0
