"""CLI habits every command shares: --version, global options anywhere, the same short options,
unknown layers, counted nouns, a word on a clean check at a terminal, no library noise."""

from __future__ import annotations

import ast
import logging
import re
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from secretsmgr import __version__
from secretsmgr.cli.app import build_command, hoist_globals
from tests.conftest import FIXTURES, copy_tree

from .runner import assert_user_error, hints_of, run

PACKAGE = Path(__file__).resolve().parents[2] / "secretsmgr"
DEMO = FIXTURES / "demo"
DEMO_KEY = FIXTURES / "keys" / "demo-only.agekey"
PIN = ["--max-age", "100000"]


def commands(node: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every command of the tree (groups included), with its path of names."""
    yield path, node
    for name, sub in sorted(getattr(node, "commands", {}).items()):
        yield from commands(sub, (*path, name))


# --- --version -------------------------------------------------------------------------------


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--version"], capsys) == (0, f"secretsmgr {__version__}\n", "")


# --- global options before or after the command ----------------------------------------------


def test_repo_is_accepted_after_the_command(capsys: pytest.CaptureFixture[str]) -> None:
    before = run(["--repo", str(DEMO), "audit", *PIN], capsys, expect=0)
    after = run(["audit", *PIN, "--repo", str(DEMO)], capsys, expect=0)
    joined = run(["audit", f"--repo={DEMO}", *PIN, "--debug"], capsys, expect=0)
    assert before == after == joined
    assert before.out.startswith("secretsmgr audit — 4 layers")


def test_repo_after_a_group_command(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(DEMO_KEY))
    got = run(["key", "export", "--repo", str(DEMO)], capsys, warnings=["private key"])
    # the demo's settings name the cluster key that the demo key file holds
    assert got.code == 0 and "age.agekey: |" in got.out


def test_global_options_are_moved_only_where_they_are_options() -> None:
    tree = build_command()
    assert hoist_globals(["rotate", "-l", "apps", "--repo", "r", "--debug"], tree) == [
        "--repo", "r", "--debug", "rotate", "-l", "apps",
    ]  # fmt: skip
    # a value of another option stays where it is; so does anything after --
    assert hoist_globals(["rotate", "--reason", "--debug", "x"], tree) == [
        "rotate", "--reason", "--debug", "x",
    ]  # fmt: skip
    assert hoist_globals(["check", "--", "--repo"], tree) == ["check", "--", "--repo"]
    assert hoist_globals(["--repo", "r", "audit"], tree) == ["--repo", "r", "audit"]
    assert hoist_globals(["key", "rotate", "--begin", "--repo=r"], tree) == [
        "--repo=r", "key", "rotate", "--begin",
    ]  # fmt: skip


# --- the same short options everywhere -------------------------------------------------------

SHORT = {
    "--layer": "-l",
    "--format": "-f",
    "--output": "-o",
    "--in-place": "-i",
    "--verbose": "-v",
    "--help": "-h",
}


def test_short_options_mean_the_same_everywhere() -> None:
    seen = 0
    for path, command in commands(build_command()):
        for param in getattr(command, "params", ()):
            longs = [o for o in param.opts if o.startswith("--")]
            shorts = [o for o in param.opts if re.fullmatch(r"-[a-zA-Z]", o)]
            for long in longs:
                if long in SHORT:
                    seen += 1
                    assert SHORT[long] in param.opts, (path, long)
            for short in shorts:
                assert any(SHORT.get(long) == short for long in longs), (path, param.opts)
    assert seen >= 8  # --layer, --format and --output are on several commands


# --- an unknown layer is a usage error everywhere --------------------------------------------


@pytest.mark.parametrize("command", [["audit"], ["log"], ["rotate", "--dry-run"]])
def test_an_unknown_layer_exits_2(
    command: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(DEMO_KEY))
    repo = copy_tree(DEMO, tmp_path / "demo")
    got = run(["--repo", str(repo), *command, "-l", "nosuch"], capsys, expect=2)
    assert got.out == ""
    assert_user_error(got.err, "nosuch")
    assert any("databases" in hint for hint in hints_of(got.err)) or "databases" in got.err


# --- counted nouns ---------------------------------------------------------------------------


def _strings(module: Path) -> Iterator[tuple[int, str]]:
    """The string literals of a module (f-string parts included), docstrings left out."""
    tree = ast.parse(module.read_text(encoding="utf-8"))
    docs = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            yield node.lineno, node.value


def test_no_message_counts_with_a_parenthesised_plural() -> None:
    bad = [
        f"{module.relative_to(PACKAGE)}:{line}: {text!r}"
        for module in sorted(PACKAGE.rglob("*.py"))
        for line, text in _strings(module)
        if re.search(r"[a-z]\((s|es)\)", text)
    ]
    assert bad == [], "say '1 file' / '2 files' with secretsmgr.plural.plural"


def test_rotate_counts_one_file_in_the_singular(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(DEMO_KEY))
    repo = copy_tree(DEMO, tmp_path / "demo")
    target = repo / "gitops" / "apps" / "redis" / "auth.enc.yaml"
    got = run(["--repo", str(repo), "rotate", str(target), "--reason", "t"], capsys, expect=0)
    assert got.out.startswith("rotated 1 file in "), got.out


# --- check says one line when clean, to a person only ----------------------------------------


def test_clean_check_says_one_line_at_a_terminal(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PRE_COMMIT", raising=False)
    assert run(["--repo", str(DEMO), "check"], capsys) == (0, "", "")  # not a terminal
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    got = run(["--repo", str(DEMO), "check"], capsys, expect=0)
    assert re.fullmatch(r"ok: \d+ files checked, no findings\n", got.out), got.out
    one = DEMO / "gitops" / "apps" / "redis" / "auth.enc.yaml"
    assert run(["--repo", str(DEMO), "check", str(one)], capsys).out == (
        "ok: 1 file checked, no findings\n"
    )
    monkeypatch.setenv("PRE_COMMIT", "1")  # pre-commit gives hooks a pty for colour
    assert run(["--repo", str(DEMO), "check"], capsys) == (0, "", "")


# --- no third-party warning reaches the user -------------------------------------------------


def _noisy_layers_cmd() -> int:
    warnings.warn("Unverified HTTPS request is being made", UserWarning, stacklevel=1)
    logging.getLogger("urllib3.connectionpool").warning("Retrying after connection broken")
    return 0


def test_library_warnings_and_log_records_never_reach_stderr(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from secretsmgr.cli.commands import layers

    monkeypatch.setattr(layers, "layers_cmd", _noisy_layers_cmd)
    monkeypatch.setattr(logging.getLogger(), "handlers", [])  # as in a real process
    assert run(["layers"], capsys) == (0, "", "")
    monkeypatch.setattr(logging.getLogger(), "handlers", [])
    # urllib3 hangs a NullHandler on its logger when imported: a cluster test run earlier in
    # this process (run_inline) leaves it there, which a fresh process would not have
    monkeypatch.setattr(logging.getLogger("urllib3"), "handlers", [])
    with pytest.warns(UserWarning, match="Unverified HTTPS request"):  # not swallowed
        debug = run(["layers", "--debug"], capsys, expect=0)
    assert debug.err == "Retrying after connection broken\n"


@pytest.mark.parametrize(
    ("args", "help_of"),
    [
        (["edit", "--age", "age1x", "f.yaml"], "secretsmgr edit"),
        (["key", "rotate", "--bogus"], "secretsmgr key rotate"),
        (["audit", "--format", "nope"], "secretsmgr audit"),
        (["--bogus"], "secretsmgr"),
        (["nosuch"], "secretsmgr"),
    ],
)
def test_an_option_error_points_at_the_help_of_its_command(
    args: list[str], help_of: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(args, capsys)
    assert code == 2
    assert err.splitlines()[-1] == f"secretsmgr: hint: see '{help_of} --help'"


@pytest.mark.parametrize(
    ("args", "hint"),
    [
        (["audit", "--json"], "secretsmgr audit --format json"),
        (["check", "--sarif"], "secretsmgr check --format sarif"),
        (["layers", "--json"], "secretsmgr layers --format json"),
    ],
)
def test_a_format_shorthand_is_pointed_at_format(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], hint: str
) -> None:
    # sweeps 71 and 72: `audit --json`, the habit of other scanners, was "No such option" alone
    code, out, err = run(["--repo", str(tmp_path), *args], capsys)
    assert (code, out) == (2, "")
    assert f"secretsmgr: hint: {hint}\n" in err
    # and none where the command has no such format (layers has no sarif)
    code, _, err = run(["--repo", str(tmp_path), "layers", "--sarif"], capsys)
    assert code == 2 and "--format sarif" not in err
