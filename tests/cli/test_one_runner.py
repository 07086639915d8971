"""Every test runs the CLI through ``tests/cli/runner.py``, which checks what each run prints.

An AST walk over ``tests/**/*.py`` fails on a module other than the runner that:

- imports the CLI's entry points: ``main``, ``app`` or ``run`` of ``secretsmgr.cli.app``, the
  module itself, or ``secretsmgr.__main__`` (importing what a test inspects, such as
  ``build_command``, is fine);
- uses typer's or click's ``CliRunner``;
- spawns the CLI itself: an argv holding ``"-m", "secretsmgr"``; a script text that runs it
  (``-m secretsmgr``, ``secretsmgr.cli.app``); the installed console script
  (``<bin dir> / "secretsmgr"``, ``shutil.which("secretsmgr")``, or ``secretsmgr`` as the
  program of a process call, shell command lines included).

A module may do so only when ``ALLOWED`` names it, with the reason.
"""

from __future__ import annotations

import ast
import re
from itertools import pairwise
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
RUNNER = "tests/cli/runner.py"
ALLOWED = {
    # pre-commit runs the installed console script as the hook's entry: what pre-commit shows
    # of that run is what the test checks, so the hook config names the script itself.
    "tests/precommit/test_quiet_pass.py": "pre-commit runs the hook's console script",
    # this module: its hit examples below are source text the check must flag.
    "tests/cli/test_one_runner.py": "the check's own examples",
}
ENTRY_POINTS = {"main", "app", "run"}
PROCESS_CALLS = {
    "subprocess.run",
    "subprocess.Popen",
    "subprocess.call",
    "subprocess.check_call",
    "subprocess.check_output",
    "pexpect.spawn",
    "pexpect.run",
    "os.system",
    "os.popen",
    "asyncio.create_subprocess_exec",
    "asyncio.create_subprocess_shell",
}
SCRIPT_TEXT = re.compile(r"-m\s+secretsmgr\b|secretsmgr\.cli\.app\b|secretsmgr\.__main__\b")
PROGRAM = re.compile(r"^(?:\S*/)?secretsmgr(?:\s|$)")
IN_SHELL = re.compile(r"(?:^|[\s;&|(`])(?:\S*/)?secretsmgr\s")
BIN_DIR = re.compile(r"bin|executable|scripts", re.I)


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def _text(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _docstrings(tree: ast.Module) -> set[int]:
    """ids of the docstring nodes (prose about the CLI is not a run of it)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and _text(body[0].value) is not None:
                found.add(id(body[0].value))
    return found


def _imports(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [
            f"imports {a.name}"
            for a in node.names
            if a.name in ("secretsmgr.cli.app", "secretsmgr.__main__")
            or (a.name.split(".")[0] in ("typer", "click") and a.name.endswith(".testing"))
        ]
    if isinstance(node, ast.ImportFrom):
        module = node.module or ""
        names = {a.name for a in node.names}
        if module == "secretsmgr.cli.app" and names & ENTRY_POINTS:
            return [f"imports {sorted(names & ENTRY_POINTS)} from secretsmgr.cli.app"]
        if module == "secretsmgr.cli" and "app" in names:
            return ["imports secretsmgr.cli.app"]
        if module == "secretsmgr" and "__main__" in names:
            return ["imports secretsmgr.__main__"]
        if module in ("typer.testing", "click.testing"):
            return [f"imports {module}"]
    return []


def _process_call(node: ast.Call) -> list[str]:
    name = _dotted(node.func)
    if name not in PROCESS_CALLS and not name.startswith(("os.exec", "os.spawn", "os.posix_spawn")):
        return []
    if not node.args:
        return []
    first = node.args[0]
    argv = first.elts if isinstance(first, ast.List | ast.Tuple) else [first]
    program = _text(argv[0]) if argv else None
    if program is not None and PROGRAM.match(program):
        return [f"{name} runs {program!r}"]
    texts = [_text(e) for e in argv]
    for flag, line in pairwise(texts):
        if flag == "-c" and line is not None and IN_SHELL.search(f" {line}"):
            return [f"{name} runs a command line calling secretsmgr"]
    return []


def violations(source: str) -> list[str]:
    """What in ``source`` runs the CLI around the shared runner, one line each."""
    tree = ast.parse(source)
    skip = _docstrings(tree)
    found: list[str] = []
    for node in ast.walk(tree):
        where = f"line {getattr(node, 'lineno', '?')}: "
        found += [where + what for what in _imports(node)]
        if isinstance(node, ast.Name | ast.Attribute) and (
            (isinstance(node, ast.Name) and node.id == "CliRunner")
            or (isinstance(node, ast.Attribute) and node.attr == "CliRunner")
        ):
            found.append(where + "uses CliRunner")
        if isinstance(node, ast.List | ast.Tuple):
            texts = [_text(e) for e in node.elts]
            if any(a == "-m" and b == "secretsmgr" for a, b in pairwise(texts)):
                found.append(where + 'an argv with "-m", "secretsmgr"')
        text = _text(node)
        if text is not None and id(node) not in skip and SCRIPT_TEXT.search(text):
            found.append(where + "a script text that runs the CLI")
        if (
            isinstance(node, ast.BinOp)
            and isinstance(node.op, ast.Div)
            and _text(node.right) == "secretsmgr"
            and BIN_DIR.search(ast.unparse(node.left))
        ):
            found.append(where + "names the secretsmgr console script")
        if isinstance(node, ast.Call):
            which = _dotted(node.func) == "shutil.which" and node.args
            if which and _text(node.args[0]) == "secretsmgr":
                found.append(where + "looks up the secretsmgr console script")
            found += [where + what for what in _process_call(node)]
    return found


def test_no_test_module_runs_the_cli_around_the_runner() -> None:
    modules = sorted(TESTS.rglob("*.py"))
    assert len(modules) > 50  # the walk found the test tree
    offenders = {}
    for path in modules:
        rel = path.relative_to(TESTS.parent).as_posix()
        if rel == RUNNER or rel in ALLOWED:
            continue
        found = violations(path.read_text(encoding="utf-8"))
        if found:
            offenders[rel] = found
    assert offenders == {}, "run the CLI through tests/cli/runner.py (run, run_process, ...)"


def test_every_allowed_module_exists_and_still_needs_its_exception() -> None:
    for rel, reason in ALLOWED.items():
        assert reason, rel
        path = TESTS.parent / rel
        assert path.is_file(), f"{rel} is gone: drop it from ALLOWED"
        assert violations(path.read_text(encoding="utf-8")), f"{rel} needs no exception now"


def test_the_runner_itself_is_what_the_check_would_flag() -> None:
    # the one module that may run the CLI does each thing the check looks for
    found = " ".join(violations((TESTS / "cli" / "runner.py").read_text(encoding="utf-8")))
    assert "imports ['main'] from secretsmgr.cli.app" in found
    assert 'an argv with "-m", "secretsmgr"' in found
    assert "a script text that runs the CLI" in found


HITS = {
    "main": "from secretsmgr.cli.app import main\n",
    "app and run": "from secretsmgr.cli.app import app, run\n",
    "the module": "import secretsmgr.cli.app as cli\n",
    "the module from its package": "from secretsmgr.cli import app\n",
    "__main__": "import secretsmgr.__main__\n",
    "typer's CliRunner": "from typer.testing import CliRunner\n",
    "click's CliRunner": "import click.testing\nr = click.testing.CliRunner()\n",
    "argv": 'subprocess.run([sys.executable, "-m", "secretsmgr", "check"])\n',
    "argv built first": 'args = [sys.executable, "-m", "secretsmgr", "decrypt"]\n',
    "pexpect": 'pexpect.spawn(sys.executable, ["-m", "secretsmgr", "key", "show"])\n',
    "script text": 'CODE = "from secretsmgr.cli.app import main\\nmain([])\\n"\n',
    "script text in an f-string": 'CODE = f"python -m secretsmgr --repo {repo} rotate"\n',
    "console script path": 'exe = str(VENV_BIN / "secretsmgr")\n',
    "console script by interpreter": 'exe = Path(sys.executable).parent / "secretsmgr"\n',
    "console script lookup": 'exe = shutil.which("secretsmgr")\n',
    "console script as the program": 'subprocess.run(["secretsmgr", "check"], check=False)\n',
    "console script by path": 'subprocess.Popen(["/venv/bin/secretsmgr", "audit"])\n',
    "a shell line": 'subprocess.run(["bash", "-c", "cd x && secretsmgr audit"])\n',
    "os.system": 'os.system("secretsmgr check")\n',
    "exec": 'os.execvp("secretsmgr", ["secretsmgr", "check"])\n',
}
MISSES = {
    "what a test inspects": "from secretsmgr.cli.app import build_command, hoist_globals\n",
    "the runner": "from tests.cli.runner import run, run_process\n",
    "the package folder": 'PKG = ROOT / "secretsmgr"\n',
    "state under .git": 'folder = root / ".git" / "secretsmgr" / "cache"\n',
    "a keyring lookup": 'subprocess.run(["secret-tool", "lookup", "service", "secretsmgr"])\n',
    "a command path in a tree walk": 'path = ["secretsmgr"]\n',
    "prose": '"""Runs ``python -m secretsmgr`` through the runner."""\n',
    "another module": 'subprocess.run([sys.executable, "-m", "pre_commit", "run"])\n',
    "a word in a shell line": 'subprocess.run(["bash", "-c", "echo secretsmgr-ci"])\n',
}


@pytest.mark.parametrize("name", sorted(HITS))
def test_the_check_catches_each_way_around_the_runner(name: str) -> None:
    assert violations(HITS[name]), name


@pytest.mark.parametrize("name", sorted(MISSES))
def test_the_check_leaves_near_misses_alone(name: str) -> None:
    assert violations(MISSES[name]) == [], name
