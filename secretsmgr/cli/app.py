"""The typer app, ``main(argv) -> int`` and the only place exceptions become exit codes."""

from __future__ import annotations

import importlib
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.exceptions import TyperException

from secretsmgr.cli.context import Globals
from secretsmgr.errors import SecretsmgrError

# Command name -> (module in secretsmgr.cli.commands, attribute). A run imports and registers
# only the command it invokes: typer builds every registered command's parameters on each run,
# and `check` runs in pre-commit on every commit. Help and unknown commands get all of them.
COMMANDS: dict[str, tuple[str, str]] = {
    "encrypt": ("crypt", "encrypt_cmd"),
    "decrypt": ("crypt", "decrypt_cmd"),
    "edit": ("crypt", "edit_cmd"),
    "audit": ("audit", "audit_cmd"),
    "check": ("check", "check_cmd"),
    "baseline": ("baseline", "baseline_cmd"),
    "layers": ("layers", "layers_cmd"),
    "log": ("log", "log_cmd"),
    "rotate": ("rotate", "rotate_cmd"),
}
GROUPS: dict[str, tuple[str, str]] = {"key": ("key", "key_app")}


def _globals(
    ctx: typer.Context,
    repo: Annotated[
        Path | None,
        typer.Option("--repo", help="Repository root (default: git top-level of the cwd)."),
    ] = None,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks of internal errors.")
    ] = False,
) -> None:
    """Own the whole life of SOPS secrets in a Flux GitOps repository."""
    ctx.obj = Globals(repo=repo, debug=debug)


def _load(module: str, attr: str) -> Any:
    return getattr(importlib.import_module(f"secretsmgr.cli.commands.{module}"), attr)


def build_app(only: str | None = None) -> typer.Typer:
    """The CLI with every command, or with only ``only`` (same options, same behaviour)."""
    built = typer.Typer(
        name="secretsmgr",
        help="Own the whole life of SOPS secrets in a Flux GitOps repository.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        pretty_exceptions_show_locals=False,
        rich_markup_mode=None,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    built.callback()(_globals)
    for name, (module, attr) in COMMANDS.items():
        if only is None or only == name:
            built.command(name)(_load(module, attr))
    for name, (module, attr) in GROUPS.items():
        if only is None or only == name:
            built.add_typer(_load(module, attr), name=name)
    return built


def _command_of(args: Sequence[str]) -> str | None:
    """The command ``args`` invoke, when it is a known one and no global help comes first."""
    skip = False
    for arg in args:
        if skip:
            skip = False
            continue
        if arg == "--repo":
            skip = True
        elif arg.startswith("--repo=") or arg == "--debug":
            continue
        elif arg.startswith("-"):
            return None  # --help, or something typer should report with the full app
        else:
            return arg if arg in COMMANDS or arg in GROUPS else None
    return None


def _error(message: str, hints: Sequence[str] = ()) -> None:
    sys.stderr.write(f"secretsmgr: error: {message}\n")
    for hint in hints:
        sys.stderr.write(f"secretsmgr: hint: {hint}\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI with ``argv`` (default: sys.argv[1:]) and return the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        app = build_app(_command_of(args))
        result = app(args=args, prog_name="secretsmgr", standalone_mode=False)
    except SecretsmgrError as exc:
        _error(exc.message, exc.hints)
        return exc.exit_code
    except typer.Exit as exc:
        return int(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        sys.stderr.write("secretsmgr: interrupted\n")
        return 130
    except TyperException as exc:
        lines = exc.format_message().splitlines()
        _error(lines[0] if lines else "usage error")
        sys.stderr.write("secretsmgr: hint: see 'secretsmgr --help'\n")
        return 2
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug: fail closed, never show locals or plaintext
        sys.stderr.write(f"secretsmgr: internal error: {type(exc).__name__}\n")
        if "--debug" in args:
            traceback.print_exc()
        else:
            sys.stderr.write("secretsmgr: hint: rerun with --debug for a traceback\n")
        return 3
    return result if isinstance(result, int) else 0


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
