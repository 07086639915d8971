"""Imports point downward only.

cli → audit | rotate | changelog | report → repo | keys | sops → errors.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "secretsmgr"

# For each area: the secretsmgr areas it may import, and the third-party packages it may use.
ALLOWED: dict[str, tuple[set[str], set[str]]] = {
    "errors": (set(), set()),
    "plural": (set(), set()),
    # file and other names as one shell word in the commands secretsmgr prints
    "shellword": (set(), set()),
    "fsutil": ({"errors"}, set()),
    # the fork-based ordered map: the inventory reads, and a rotation stages, on every core
    "workers": ({"errors"}, set()),
    "sops": ({"errors", "keys.protocols"}, {"cryptography", "ruamel", "_ruamel_yaml", "re2"}),
    "keys": ({"errors", "keys"}, {"pyrage", "keyring", "cryptography"}),
    "repo": (
        {"errors", "plural", "shellword", "sops", "fsutil", "workers", "keys.bech32", "keys.pem"},
        set(),
    ),
    "fileops": ({"errors", "plural", "shellword", "sops", "keys", "repo", "fsutil"}, set()),
    "changelog": ({"errors", "plural", "shellword", "sops", "keys", "repo", "fsutil"}, set()),
    "audit": (
        {"errors", "plural", "shellword", "sops", "keys", "repo", "fsutil", "changelog"},
        {"detect_secrets"},
    ),
    "report": (
        {"errors", "plural", "shellword", "audit.finding", "audit.registry", "repo", "keys.bech32"},
        set(),
    ),
    "rotate": (
        {"errors", "plural", "shellword", "sops", "keys", "repo", "fsutil", "workers"}
        | {"changelog", "audit", "fileops.keypath"},  # key paths as set/unset read them
        set(),
    ),
    # the commit gate: index vs HEAD, blob cache, history, baselines (runs the audit engine)
    "gate": (
        {"errors", "plural", "shellword", "sops", "keys", "repo", "fsutil", "changelog", "audit"},
        set(),
    ),
    "init": (
        {"errors", "plural", "shellword", "sops", "keys", "repo", "fsutil", "changelog"},
        set(),
    ),
    "cluster": ({"errors", "keys"}, {"kubernetes", "urllib3"}),
    "cli": ({"*"}, {"typer"}),
}
STDLIB_OK = {"__future__"}


def _area(module: Path) -> str:
    first = module.relative_to(PKG).with_suffix("").parts[0]
    return "errors" if first in ("errors", "__init__") else first


def _imports(module: Path) -> list[str]:
    tree = ast.parse(module.read_text(encoding="utf-8"))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def _modules() -> list[Path]:
    return sorted(p for p in PKG.rglob("*.py") if p.name not in ("__main__.py",))


@pytest.mark.parametrize("module", _modules(), ids=lambda p: str(p.relative_to(PKG)))
def test_imports_point_downward(module: Path) -> None:
    import sys

    area = _area(module)
    if module.relative_to(PKG).parts == ("__init__.py",):
        return
    inner, third = ALLOWED.get(area, ({"*"}, set()))
    for name in _imports(module):
        top = name.split(".")[0]
        if top == "secretsmgr":
            target = ".".join(name.split(".")[1:])
            if not target or "*" in inner or target.split(".")[0] == area:
                continue
            assert any(target == a or target.startswith(a + ".") for a in inner), (
                f"{module.relative_to(PKG)} ({area}) imports {name}"
            )
        elif top in sys.stdlib_module_names or top in STDLIB_OK:
            continue
        else:
            assert top in third or area == "cli", f"{module.relative_to(PKG)} imports {name}"


def test_format_core_never_touches_environment_or_output() -> None:
    for module in (PKG / "sops").rglob("*.py"):
        text = module.read_text(encoding="utf-8")
        assert "os.environ" not in text and "print(" not in text and "sys.exit" not in text, module


def test_no_module_binds_a_top_level_name_twice() -> None:
    # the re-read of stop 45: a second `_ADDRESS_KEY` in audit/credentials.py took the place of
    # the first, for every function of the module (both patterns, so mypy saw nothing)
    for path in sorted(PKG.rglob("*.py")):
        names: list[str] = []
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Assign):
                names += [t.id for t in node.targets if isinstance(t, ast.Name)]
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                names += [node.target.id] if isinstance(node.target, ast.Name) else []
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.append(node.name)
        twice = sorted({n for n in names if names.count(n) > 1})
        assert not twice, f"{path.relative_to(PKG)} binds {twice} more than once"
