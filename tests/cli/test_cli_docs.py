"""docs/cli.md documents the real command tree: a section for every command, every option of a
command (long and short form) in its section, the default of every option that has a value as
default in the option's table row, and no option the tree lacks.

The tree is the one that parses: typer's click commands, walked from the root. Each check is a
function returning what is wrong, so a test can also show that a doc missing something fails.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from enum import Enum
from pathlib import Path
from typing import Any

import pytest

from secretsmgr.cli.app import build_command

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "cli.md"
GLOBAL_SECTION = "Global options"

FENCE = re.compile(r"^```[^\n]*\n.*?^```", re.MULTILINE | re.DOTALL)
INLINE = re.compile(r"`([^`\n]+)`")
LONG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
SHORT = re.compile(r"(?<![\w-])-[a-zA-Z](?![\w-])")
HEADING = re.compile(r"^(#{2,3}) (.+)$", re.MULTILINE)

Path_ = tuple[str, ...]


def commands(node: Any, path: Path_ = ()) -> Iterator[tuple[Path_, Any]]:
    """Every command of the tree, groups included, with its path of names (root: ``()``)."""
    yield path, node
    for name, sub in sorted(getattr(node, "commands", {}).items()):
        yield from commands(sub, (*path, name))


def options(node: Any) -> list[Any]:
    """The click options of one command (arguments left out)."""
    return [p for p in node.params if p.param_type_name == "option"]


def help_names(root: Any) -> list[str]:
    """``-h``/``--help``: click adds them to every command from the root's settings."""
    return list(root.context_settings.get("help_option_names", ["--help"]))


def option_names(root: Any, path: Path_, node: Any) -> list[str]:
    """Every name an option of ``node`` answers to; the root also documents help."""
    names = [name for opt in options(node) for name in (*opt.opts, *opt.secondary_opts)]
    return names + help_names(root) if not path else names


def section_title(path: Path_) -> str:
    """The heading that documents ``path``: ``secretsmgr key rotate``, or the global options."""
    return "secretsmgr " + " ".join(path) if path else GLOBAL_SECTION


def sections(text: str) -> dict[str, str]:
    """Heading (backticks dropped) -> the text up to the next heading of level 2 or 3."""
    text = FENCE.sub(lambda m: m.group(0).replace("#", "\\#"), text)  # no headings in code
    found = list(HEADING.finditer(text))
    out: dict[str, str] = {}
    for i, match in enumerate(found):
        end = found[i + 1].start() if i + 1 < len(found) else len(text)
        out[match.group(2).replace("`", "").strip()] = text[match.end() : end].replace("\\#", "#")
    return out


def code_text(text: str) -> list[str]:
    """What the doc shows as code: fenced blocks and inline spans."""
    blocks = [m.group(0) for m in FENCE.finditer(text)]
    rest = FENCE.sub("", text)
    return blocks + INLINE.findall(rest)


def flags_in(text: str) -> set[str]:
    """Every ``--long`` and ``-s`` option named in the code of ``text``."""
    found: set[str] = set()
    for code in code_text(text):
        found.update(LONG.findall(code))
        found.update(SHORT.findall(code))
    return found


def option_rows(section: str) -> dict[str, str]:
    """Option name -> its table row, for rows whose first cell names options in backticks."""
    rows: dict[str, str] = {}
    for line in section.splitlines():
        if not line.startswith("| `-"):
            continue
        first = line.split("|")[1]
        for name in flags_in(first):
            rows[name] = line
    return rows


def default_text(opt: Any) -> str | None:
    """The default a reader must see for ``opt``: a string or enum value; None for flags,
    repeatable options and options without a default."""
    value = opt.default
    if opt.is_flag or opt.multiple or value is None or value == "":
        return None
    return str(value.value if isinstance(value, Enum) else value)


# ----------------------------------------------------------------------------- the checks


def missing_sections(root: Any, doc: str) -> list[str]:
    """Commands with no section of their own."""
    have = sections(doc)
    return [section_title(path) for path, _ in commands(root) if section_title(path) not in have]


def undocumented_options(root: Any, doc: str) -> list[str]:
    """``command: option`` for every option name its command's section does not show as code."""
    have = sections(doc)
    missing: list[str] = []
    for path, node in commands(root):
        shown = flags_in(have.get(section_title(path), ""))
        missing += [
            f"{section_title(path)}: {name}"
            for name in option_names(root, path, node)
            if name not in shown
        ]
    return missing


def wrong_rows(root: Any, doc: str) -> list[str]:
    """Option table rows that name an option the command lacks, and options whose table row is
    missing or does not show their default (in its second cell)."""
    have = sections(doc)
    problems: list[str] = []
    for path, node in commands(root):
        title = section_title(path)
        rows = option_rows(have.get(title, ""))
        names = set(option_names(root, path, node))
        problems += [
            f"{title}: row for {name}, no such option" for name in rows if name not in names
        ]
        for opt in options(node):
            long = next((n for n in opt.opts if n.startswith("--")), opt.opts[0])
            row = rows.get(long)
            if row is None:
                problems.append(f"{title}: no table row for {long}")
                continue
            default = default_text(opt)
            if default is not None and f"`{default}`" not in row.split("|")[2]:
                problems.append(f"{title}: the row of {long} does not give its default {default}")
    return problems


def unknown_options(root: Any, doc: str) -> list[str]:
    """``--long`` options the doc shows as code that no command of the tree has."""
    known = {name for path, node in commands(root) for name in option_names(root, path, node)}
    shown = {flag for code in code_text(doc) for flag in LONG.findall(code)}
    return sorted(shown - known)


# ----------------------------------------------------------------------------- the tests


@pytest.fixture(scope="module")
def root() -> Any:
    return build_command()


@pytest.fixture(scope="module")
def doc() -> str:
    return DOC.read_text(encoding="utf-8")


def test_the_walk_reaches_every_command_and_group(root: Any) -> None:
    paths = {" ".join(path) for path, _ in commands(root)}
    assert {"audit", "init", "log", "key", "key rotate", "key export"} <= paths
    rotate = dict(commands(root))[("key", "rotate")]
    assert {"--begin", "--finish", "--apply", "--from-cluster"} <= set(
        option_names(root, ("key", "rotate"), rotate)
    )


def test_every_command_has_its_own_section(root: Any, doc: str) -> None:
    assert missing_sections(root, doc) == []


def test_every_option_and_short_form_appears_in_its_commands_section(root: Any, doc: str) -> None:
    assert undocumented_options(root, doc) == []


def test_every_option_has_a_table_row_giving_its_default(root: Any, doc: str) -> None:
    assert wrong_rows(root, doc) == []


def test_the_doc_names_no_option_the_tree_lacks(root: Any, doc: str) -> None:
    assert unknown_options(root, doc) == []


def test_a_doc_missing_an_option_or_naming_a_stale_one_fails(root: Any, doc: str) -> None:
    """The checks find each kind of drift: an option dropped from its section, a wrong default,
    a whole command missing, and an option the code no longer has."""
    rotate = sections(doc)["secretsmgr key rotate"]
    without_finish = doc.replace(rotate, rotate.replace("--finish", "--finnish"))
    assert "secretsmgr key rotate: --finish" in undocumented_options(root, without_finish)
    assert unknown_options(root, without_finish) == ["--finnish"]

    audit = sections(doc)["secretsmgr audit"]
    moved = doc.replace(audit, audit.replace("| `--fail-on SEVERITY` | `error` |", "| x |"))
    assert "secretsmgr audit: no table row for --fail-on" in wrong_rows(root, moved)
    wrong = doc.replace(
        audit, audit.replace("`-f`, `--format FORMAT` | `text`", "`-f`, `--format FORMAT` | `json`")
    )
    assert "secretsmgr audit: the row of --format does not give its default text" in wrong_rows(
        root, wrong
    )

    no_recover = doc.replace("## `secretsmgr recover`", "## Recovering")
    assert missing_sections(root, no_recover) == ["secretsmgr recover"]


def test_the_readme_and_the_configuration_page_link_the_reference() -> None:
    assert "(docs/cli.md)" in (ROOT / "README.md").read_text(encoding="utf-8")
    assert "(cli.md)" in (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
