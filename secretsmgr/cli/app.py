"""The typer app, ``main(argv) -> int`` and the only place exceptions become exit codes."""

from __future__ import annotations

import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer
from typer.exceptions import TyperException

from secretsmgr.cli.commands import audit, check, crypt, key, layers, log, rotate
from secretsmgr.cli.context import Globals
from secretsmgr.errors import SecretsmgrError

app = typer.Typer(
    name="secretsmgr",
    help="Own the whole life of SOPS secrets in a Flux GitOps repository.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
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


app.command("encrypt")(crypt.encrypt_cmd)
app.command("decrypt")(crypt.decrypt_cmd)
app.command("edit")(crypt.edit_cmd)
app.command("audit")(audit.audit_cmd)
app.command("check")(check.check_cmd)
app.command("layers")(layers.layers_cmd)
app.command("log")(log.log_cmd)
app.command("rotate")(rotate.rotate_cmd)
app.add_typer(key.key_app, name="key")


def _error(message: str, hints: Sequence[str] = ()) -> None:
    sys.stderr.write(f"secretsmgr: error: {message}\n")
    for hint in hints:
        sys.stderr.write(f"secretsmgr: hint: {hint}\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI with ``argv`` (default: sys.argv[1:]) and return the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
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
