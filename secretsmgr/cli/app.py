"""The typer app, ``main(argv) -> int`` and the only place exceptions become exit codes."""

from __future__ import annotations

import contextvars
import gc
import importlib
import logging
import re
import sys
import traceback
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.exceptions import TyperException

from secretsmgr.cli.context import Globals, out
from secretsmgr.errors import SecretsmgrError
from secretsmgr.repo import git
from secretsmgr.shellword import one_line

# Command name -> (module in secretsmgr.cli.commands, attribute). A run imports and registers
# only the command it invokes: typer builds every registered command's parameters on each run,
# and `check` runs in pre-commit on every commit. Help and unknown commands get all of them.
COMMANDS: dict[str, tuple[str, str]] = {
    "encrypt": ("crypt", "encrypt_cmd"),
    "decrypt": ("crypt", "decrypt_cmd"),
    "edit": ("crypt", "edit_cmd"),
    "set": ("setvalue", "set_cmd"),
    "unset": ("setvalue", "unset_cmd"),
    "audit": ("audit", "audit_cmd"),
    "check": ("check", "check_cmd"),
    "baseline": ("baseline", "baseline_cmd"),
    "layers": ("layers", "layers_cmd"),
    "log": ("log", "log_cmd"),
    "rotate": ("rotate", "rotate_cmd"),
    "recover": ("recover", "recover_cmd"),
    "init": ("init", "init_cmd"),
}
GROUPS: dict[str, tuple[str, str]] = {"key": ("key", "key_app")}
# Global options: accepted before or after the command (moved to the front before parsing).
GLOBAL_FLAGS = frozenset({"--debug"})
GLOBAL_VALUES = frozenset({"--repo", "--max-file-size"})


def _print_version(value: bool) -> None:
    if value:
        from secretsmgr import __version__

        out(f"secretsmgr {__version__}\n")
        raise typer.Exit(0)


def _globals(
    ctx: typer.Context,
    repo: Annotated[
        Path | None,
        typer.Option("--repo", help="Repository root (default: git top-level of the cwd)."),
    ] = None,
    debug: Annotated[
        bool,
        typer.Option("--debug", help="Show tracebacks of internal errors and library warnings."),
    ] = False,
    max_file_size: Annotated[
        str | None,
        typer.Option(
            "--max-file-size",
            metavar="SIZE",
            help="Read files up to SIZE (default 64MiB; e.g. 256MiB, 1GiB); larger ones are "
            "refused.",
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the version and exit.", is_eager=True, callback=_print_version
        ),
    ] = False,
) -> None:
    """Own the whole life of SOPS secrets in a Flux GitOps repository.

    --repo, --max-file-size and --debug may come before or after the command.
    """
    if max_file_size is not None:
        from secretsmgr.sops.limits import parse_size, set_max_file_bytes

        set_max_file_bytes(parse_size(max_file_size))
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


def build_command(only: str | None = None) -> Any:
    """The click command tree typer builds from ``build_app(only)`` (what actually parses)."""
    return typer.main.get_command(build_app(only))


def _command_of(args: Sequence[str]) -> str | None:
    """The command ``args`` invoke, when it is a known one and no global help comes first.

    ``""`` for ``--version`` alone: no command needs loading to print it.
    """
    skip = False
    for arg in args:
        if skip:
            skip = False
            continue
        if arg in GLOBAL_VALUES:
            skip = True
        elif arg.startswith(tuple(f"{v}=" for v in GLOBAL_VALUES)) or arg in GLOBAL_FLAGS:
            continue
        elif arg == "--version":
            return ""
        elif arg.startswith("-"):
            return None  # --help, or something typer should report with the full app
        else:
            return arg if arg in COMMANDS or arg in GROUPS else None
    return None


def value_options(command: Any) -> frozenset[str]:
    """The option names of a click command that take a value (``--layer``, ``-l``)."""
    names: set[str] = set()
    for param in getattr(command, "params", ()):
        if getattr(param, "param_type_name", "") == "option" and not (param.is_flag or param.count):
            names.update(param.opts)
            names.update(param.secondary_opts)
    return frozenset(names)


def hoist_globals(args: Sequence[str], root: Any) -> list[str]:
    """``args`` with every global option found after the command moved to the front.

    The command tree says which tokens are values of other options (``--reason --debug``
    keeps ``--debug`` as the reason), and ``--`` ends the options.
    """
    front: list[str] = []
    rest: list[str] = []
    node, values, past_command = root, value_options(root), False
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest.extend(args[i:])
            break
        if past_command and (arg in GLOBAL_FLAGS or arg.split("=", 1)[0] in GLOBAL_VALUES):
            take = 2 if arg in GLOBAL_VALUES else 1
            front.extend(args[i : i + take])
            i += take
            continue
        rest.append(arg)
        if arg in values and i + 1 < len(args):
            rest.append(args[i + 1])
            i += 2
            continue
        sub = getattr(node, "commands", {}).get(arg) if not arg.startswith("-") else None
        if sub is not None:
            node, values, past_command = sub, value_options(sub), True
        i += 1
    return front + rest


def _error(message: str, hints: Sequence[str] = ()) -> None:
    # a name with a newline stays on the message's one line (the attack review of stop 50)
    sys.stderr.write(f"secretsmgr: error: {one_line(message)}\n")
    for hint in hints:
        sys.stderr.write(f"secretsmgr: hint: {one_line(hint)}\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI with ``argv`` (default: sys.argv[1:]) and return the exit code.

    Warnings and log records of third-party libraries (urllib3's InsecureRequestWarning with
    an insecure kubeconfig, for one) never reach the user, unless ``--debug`` is given.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    with warnings.catch_warnings():
        if not debug:
            warnings.simplefilter("ignore")
            _silence_library_logging()
        # Settings of this run (--max-file-size) live in a context of its own: a second run in
        # the same process starts from the defaults.
        return contextvars.copy_context().run(_run, args, debug)


_EXTRA_ARGUMENTS = "Got unexpected extra argument"


def _extra_hint(path: str) -> tuple[str, ...]:
    """Where a value goes instead, for the commands that take one."""
    if path.endswith(" set"):
        return ("a value is read from standard input or --value-file, never from the command line",)
    return ()


def _silence_library_logging() -> None:
    """No handler of ours: keep logging's last-resort handler from printing to stderr."""
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.NullHandler())


_FORMAT_SHORTHAND = re.compile(r"^No such option: --(json|sarif|github|text)\b", re.IGNORECASE)


def _has_format(ctx: object, value: str) -> bool:
    """Whether the command of ``ctx`` takes ``--format value``."""
    command = getattr(ctx, "command", None)
    return any(
        "--format" in getattr(param, "opts", ())
        and value in (getattr(getattr(param, "type", None), "choices", None) or ())
        for param in getattr(command, "params", ())
    )


def _run(args: list[str], debug: bool) -> int:
    git.forget()  # what an earlier command in this process learnt of git may be stale
    try:
        command = build_command(_command_of(args))
        args = hoist_globals(args, command)
        result = command.main(args=args, prog_name="secretsmgr", standalone_mode=False)
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
        ctx = getattr(exc, "ctx", None)  # the (sub)command whose options were wrong
        path = getattr(ctx, "command_path", "") or "secretsmgr"
        if lines and lines[0].startswith(_EXTRA_ARGUMENTS):
            # the parser quotes them: `set FILE KEY hunter2` printed the value it was given
            _error("unexpected extra arguments (not shown: one may be a secret)", _extra_hint(path))
        else:
            _error(lines[0] if lines else "usage error")
        shorthand = _FORMAT_SHORTHAND.match(lines[0]) if lines else None
        if shorthand is not None and _has_format(ctx, shorthand[1].lower()):
            # `audit --json`, the habit of other scanners (sweeps 71 and 72)
            sys.stderr.write(f"secretsmgr: hint: {path} --format {shorthand[1].lower()}\n")
        sys.stderr.write(f"secretsmgr: hint: see '{path} --help'\n")
        return 2
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug: fail closed, never show locals or plaintext
        sys.stderr.write(f"secretsmgr: internal error: {type(exc).__name__}\n")
        if debug:
            traceback.print_exc()
        else:
            sys.stderr.write("secretsmgr: hint: rerun with --debug for a traceback\n")
        return 3
    if result == _INTERRUPTED:
        # typer turns Ctrl-C into exit 130 itself; said here as any interrupt is (the attack
        # review: an interrupted rotation, its files restored, ended with nothing said)
        sys.stderr.write("secretsmgr: interrupted\n")
    return result if isinstance(result, int) else 0


_INTERRUPTED = 130  # no command of ours ends with it: only typer's Ctrl-C does


def run() -> None:
    """Console-script entry point.

    A command is a short process that builds large trees and drops them whole (no cycles to
    find), so the cyclic collector runs seldom: what is imported by now is never walked, and a
    young collection waits for 20,000 new objects, not 700 (it took 3% of a rotation of 1,000
    files in 130 passes).
    """
    gc.freeze()
    gc.set_threshold(20_000, 10, 10)
    sys.exit(main())
