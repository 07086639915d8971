"""Commands stay thin: parse, call one library function, render; plumbing lives in cli/."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from secretsmgr.cli.context import note, warn

COMMANDS = Path(__file__).resolve().parents[2] / "secretsmgr" / "cli" / "commands"
MODULES = sorted(p for p in COMMANDS.glob("*.py") if p.name != "__init__.py")
LINES_PER_COMMAND = 80


def _tree(module: Path) -> ast.Module:
    return ast.parse(module.read_text(encoding="utf-8"))


def logic_lines(module: Path) -> int:
    """Non-blank, non-comment lines, without the module docstring, imports and
    ``if TYPE_CHECKING:`` blocks (what a reader has to follow)."""
    tree = _tree(module)
    skip: set[int] = set()
    for i, node in enumerate(tree.body):
        is_doc = i == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        if is_doc or isinstance(node, ast.Import | ast.ImportFrom | ast.If):
            skip.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    lines = module.read_text(encoding="utf-8").splitlines()
    return sum(
        1
        for number, line in enumerate(lines, start=1)
        if line.strip() and not line.lstrip().startswith("#") and number not in skip
    )


def commands_in(module: Path) -> list[str]:
    """The command functions of a module (``*_cmd``)."""
    return [
        node.name
        for node in ast.walk(_tree(module))
        if isinstance(node, ast.FunctionDef) and node.name.endswith("_cmd")
    ]


@pytest.mark.parametrize("module", MODULES, ids=lambda p: p.name)
def test_no_command_module_exceeds_80_lines_per_command(module: Path) -> None:
    count = len(commands_in(module))
    assert count, f"{module.name} defines no *_cmd function"
    assert logic_lines(module) <= LINES_PER_COMMAND * count, (
        f"{module.name}: {logic_lines(module)} lines for {count} command(s): "
        "move logic into the library, shared options into cli/options.py"
    )


@pytest.mark.parametrize("module", MODULES, ids=lambda p: p.name)
def test_no_command_imports_another_command(module: Path) -> None:
    for node in ast.walk(_tree(module)):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            if name.startswith("secretsmgr.cli.commands."):
                assert name.split(".")[3] == module.stem, f"{module.name} imports {name}"


@pytest.mark.parametrize("module", MODULES, ids=lambda p: p.name)
def test_commands_write_stderr_only_through_the_context_helpers(module: Path) -> None:
    assert "sys.stderr" not in module.read_text(encoding="utf-8"), (
        f"{module.name}: use warn() or note() from cli/context.py"
    )


def test_the_size_measure_counts_logic_not_imports(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        '"""Doc."""\n\nimport os\nfrom typing import (\n    Any,\n)\n\nif True:\n    x = 1\n\n'
        "# a comment\ndef run_cmd() -> int:\n    return 0\n",
        encoding="utf-8",
    )
    assert logic_lines(sample) == 2
    assert commands_in(sample) == ["run_cmd"]


def test_warn_is_one_prefixed_line(capsys: pytest.CaptureFixture[str]) -> None:
    warn("the manifest holds a private key")
    assert capsys.readouterr() == ("", "secretsmgr: warning: the manifest holds a private key\n")


def test_note_says_nothing_without_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    note("stored the new identity in the keyring")
    assert capsys.readouterr() == ("", "")
