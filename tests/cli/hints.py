"""Parse the ``secretsmgr …`` commands a hint names against the real command tree.

A hint is a runnable command (or says how to run one). ``problems(text)`` finds every
``secretsmgr`` in the text and walks the click tree typer builds: each command word must name
a command or group, each option must exist on that command (or be global: ``--repo``,
``--debug``, ``--version``, ``--help``). Option values are skipped; words a command takes no
positional argument for are where the prose resumes ("secretsmgr log --verify shows …"). A
token ending in ``,`` ``;`` ``)`` ``:`` ``.`` or a quote, and the shell operators ``&&`` ``||``
``|``, end a command.

    from tests.cli.hints import assert_runnable
    assert_runnable(finding.fix)
"""

from __future__ import annotations

import functools
import re
from typing import Any

from secretsmgr.cli.app import GLOBAL_FLAGS, GLOBAL_VALUES, build_command, value_options

MENTION = re.compile(r"(?<![\w/.-])secretsmgr(?=\s)")
TOKEN = re.compile(r"'[^']*'|\"[^\"]*\"|\S+")
SHELL_OPERATORS = frozenset({"&&", "||", "|", ";", "/"})
ENDING = ",;):.'\"`"
ALWAYS = frozenset({"--help", "-h", "--version", *GLOBAL_FLAGS, *GLOBAL_VALUES})


@functools.cache
def tree() -> Any:
    """The full click command tree (every command loaded)."""
    return build_command()


def _options(command: Any) -> frozenset[str]:
    names = set(ALWAYS)
    for param in getattr(command, "params", ()):
        if getattr(param, "param_type_name", "") == "option":
            names.update(param.opts)
            names.update(param.secondary_opts)
    return frozenset(names)


def _positionals(command: Any) -> float:
    """How many positional words ``command`` takes (inf for ``FILES…``)."""
    total: float = 0
    for param in getattr(command, "params", ()):
        if getattr(param, "param_type_name", "") == "argument":
            total += float("inf") if param.nargs < 0 else param.nargs
    return total


def mentions(text: str) -> list[list[str]]:
    """The token lists following each ``secretsmgr`` in ``text``."""
    return [TOKEN.findall(text[m.end() :]) for m in MENTION.finditer(text)]


def _check(tokens: list[str]) -> list[str]:
    node, path, i = tree(), ["secretsmgr"], 0
    while hasattr(node, "commands") and i < len(tokens):
        raw = tokens[i]
        word = raw.rstrip(ENDING)
        if word.startswith("-") or raw in SHELL_OPERATORS:
            break
        sub = node.commands.get(word)
        if sub is None:
            return [f"'{' '.join(path)} {word}' is not a command"]
        node, i = sub, i + 1
        path.append(word)
        if word != raw:
            return []
    problems: list[str] = []
    options, values, left = _options(node), value_options(node) | GLOBAL_VALUES, _positionals(node)
    while i < len(tokens):
        raw = tokens[i]
        if raw in SHELL_OPERATORS:
            break
        word = raw.rstrip(ENDING)
        ended = word != raw
        if word.startswith("-") and len(word) > 1:
            name = word.split("=", 1)[0]
            if name not in options:
                problems.append(f"'{' '.join(path)}' has no option {name}")
            elif name in values and "=" not in word and not ended:
                i += 1  # its value
        elif left > 0:
            left -= 1
        else:
            break  # prose
        if ended:
            break
        i += 1
    return problems


def problems(text: str) -> list[str]:
    """What is wrong with the ``secretsmgr …`` commands ``text`` names (empty: all runnable)."""
    return [problem for tokens in mentions(text) for problem in _check(tokens)]


def names_a_command(text: str) -> bool:
    """Whether a ``secretsmgr`` in ``text`` is followed by a command word or an option."""
    for tokens in mentions(text):
        if tokens and (tokens[0].startswith("-") or tokens[0].rstrip(ENDING) in tree().commands):
            return True
    return False


def assert_runnable(text: str) -> None:
    """Fail unless every ``secretsmgr …`` in ``text`` names a real command and options."""
    found = problems(text)
    assert not found, f"{text!r}: {'; '.join(found)}"
