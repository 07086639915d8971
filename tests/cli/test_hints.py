"""Every hint names commands and options that exist: in the code, the rule pages and README."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from .hints import assert_runnable, names_a_command, problems

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "secretsmgr"
HINT_NAMES = re.compile(r"^(fix|hints?|.*_HINTS?|.*_hint)$")


# --- the checker itself ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("secretsmgr key import FILE", []),
        ("or write it to a file: secretsmgr key import -o FILE", ["has no option -o"]),
        ("secretsmgr rotate X --reason '…'   (records who and why)", []),
        ("secretsmgr rotate --reason --debug", []),  # --debug is the reason here
        ("run secretsmgr rotate without --dry-run; it rolls back", []),
        ("secretsmgr frobnicate --all", ["'secretsmgr frobnicate' is not a command"]),
        ("secretsmgr key rotate --begin / --finish", []),
        ("secretsmgr key rotate --start", ["'secretsmgr key rotate' has no option --start"]),
        ("secretsmgr log --verify shows the state of the changelog", []),
        ("secretsmgr decrypt -o P F && secretsmgr encrypt --filename-override F -o F P", []),
        ("secretsmgr decrypt -o P F && secretsmgr encrypt --override F", ["no option --override"]),
        ("fix it first: secretsmgr audit --layer apps --repo . --debug", []),
        ("see 'secretsmgr --help'", []),
        ("secretsmgr audit -l", []),
        ("(secretsmgr key show), then secretsmgr key show --all", ["no option --all"]),
    ],
)
def test_the_checker(text: str, expected: list[str]) -> None:
    found = problems(text)
    assert len(found) == len(expected), found
    for problem, needle in zip(found, expected, strict=True):
        assert needle in problem


# --- every hint in the code ------------------------------------------------------------------


def _render(node: ast.expr) -> str:
    """A string literal's text; an f-string's placeholders become ``X``."""
    if isinstance(node, ast.Constant):
        return str(node.value)
    assert isinstance(node, ast.JoinedStr)
    return "".join(
        str(part.value) if isinstance(part, ast.Constant) else "X" for part in node.values
    )


def _is_hint_context(ancestors: list[ast.AST]) -> bool:
    for node in ancestors:
        if isinstance(node, ast.keyword) and node.arg in ("hints", "fix"):
            return True
        if isinstance(node, ast.FunctionDef) and "hint" in node.name:
            return True
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign):
            targets = [node.target]
        for target in targets:
            names = target.elts if isinstance(target, ast.Tuple) else [target]
            for name in names:
                if isinstance(name, ast.Name) and HINT_NAMES.match(name.id):
                    return True
                if isinstance(name, ast.Attribute) and HINT_NAMES.match(name.attr):
                    return True
    return False


def _visit(
    node: ast.AST, ancestors: list[ast.AST], where: str, docs: set[int]
) -> Iterator[tuple[str, str, bool]]:
    if isinstance(node, ast.Constant | ast.JoinedStr) and id(node) not in docs:
        if isinstance(node, ast.JoinedStr) or isinstance(node.value, str):
            yield f"{where}:{node.lineno}", _render(node), _is_hint_context(ancestors)
        return  # the parts of an f-string are not strings of their own
    for child in ast.iter_child_nodes(node):
        yield from _visit(child, [*ancestors, node], where, docs)


def code_strings() -> Iterator[tuple[str, str, bool]]:
    """(where, text, is a hint) for every non-docstring string literal in the package."""
    for module in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(module.read_text(encoding="utf-8"))
        docs = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef)
            and node.body
            and isinstance(node.body[0], ast.Expr)
        }
        yield from _visit(tree, [], str(module.relative_to(ROOT)), docs)


CODE = [(w, t, h) for w, t, h in code_strings() if "secretsmgr " in t]


def test_the_package_has_hints_to_check() -> None:
    assert sum(1 for _, _, hint in CODE if hint) >= 30


@pytest.mark.parametrize(("where", "text", "hint"), CODE, ids=[w for w, _, _ in CODE])
def test_every_command_in_the_code_exists(where: str, text: str, hint: bool) -> None:
    if hint or names_a_command(text):
        assert_runnable(text)


def test_no_hint_sends_the_reader_to_audit_for_recipients() -> None:
    wrong = [w for w, t, _ in CODE if "recipients with: secretsmgr audit" in t]
    assert wrong == []


# --- the rule pages and README ---------------------------------------------------------------

FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
INLINE = re.compile(r"`([^`\n]+)`")


def doc_commands() -> Iterator[tuple[str, str]]:
    """(where, text) of every code line and inline code span naming ``secretsmgr``."""
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        text = page.read_text(encoding="utf-8")
        where = str(page.relative_to(ROOT))
        for block in FENCE.findall(text):
            for line in block.splitlines():
                code = line.split(" #", 1)[0]  # a shell comment is prose
                if "secretsmgr " in code:
                    yield where, code
        for span in INLINE.findall(FENCE.sub("", text)):
            if "secretsmgr " in span:
                yield where, span


DOCS = list(doc_commands())


@pytest.mark.parametrize(("where", "text"), DOCS, ids=[f"{w}:{t[:40]}" for w, t in DOCS])
def test_every_command_in_the_docs_exists(where: str, text: str) -> None:
    if names_a_command(text):
        assert_runnable(text)
