"""``encrypt``, ``decrypt`` and ``edit``."""

from __future__ import annotations

import contextlib
import os
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from secretsmgr.cli.context import load_identities, out, repo_root

if TYPE_CHECKING:
    from secretsmgr.fileops import Written
    from secretsmgr.keys.sources import LayeredIdentity

FileArg = Annotated[Path, typer.Argument(help="The file to read.", show_default=False)]
InPlace = Annotated[bool, typer.Option("-i", "--in-place", help="Write the result over FILE.")]
Output = Annotated[
    Path | None, typer.Option("-o", "--output", help="Write the result to OUT.", metavar="OUT")
]


@contextlib.contextmanager
def about_file(file: Path, identities: LayeredIdentity | None) -> Iterator[None]:
    """Name the file in any error, with a hint on how to recover."""
    from secretsmgr.errors import DecryptionError, IntegrityError, SecretsmgrError, about

    try:
        yield
    except SecretsmgrError as exc:
        err = about(str(file), exc)
        if isinstance(exc, IntegrityError):
            err.hints = (
                f"restore it from git (git checkout -- {file}) "
                "or re-encrypt from a trusted plaintext",
            )
        elif isinstance(exc, DecryptionError):
            publics = _tried(identities)
            shown = ", ".join(p[:12] + "…" for p in publics) or "none"
            err.hints = (
                f"the identities tried ({shown}) are not among its recipients "
                "(its sops.age entries list them)",
                f"ask a holder to add your key: secretsmgr rotate {file} --add-recipient age1…",
            )
        raise err from exc


def _tried(identities: LayeredIdentity | None) -> tuple[str, ...]:
    from secretsmgr.errors import SecretsmgrError

    if identities is None:
        return ()
    try:
        return identities.publics
    except SecretsmgrError:
        return identities.early_publics()


def _check_targets(in_place: bool, output: Path | None) -> None:
    from secretsmgr.errors import UsageError

    if in_place and output is not None:
        raise UsageError("-i and -o cannot be used together")


def _record(ctx: typer.Context, path: Path, action: str, old_text: str, written: Written) -> None:
    """Log a write inside the repository in its changelog (when it keeps one)."""
    from secretsmgr.errors import RefusedError, SecretsmgrError
    from secretsmgr.rotate.record import record_write

    try:
        record_write(repo_root(ctx), path, action, old_text, written.text, written.data_key)
    except SecretsmgrError as exc:
        raise RefusedError(
            f"{path} was written but the changelog entry failed: {exc.message}",
            hints=("secretsmgr log --verify shows the state of the changelog",),
        ) from exc


def encrypt_cmd(
    ctx: typer.Context,
    file: FileArg,
    in_place: InPlace = False,
    output: Output = None,
    age: Annotated[
        list[str] | None,
        typer.Option(
            "--age", help="A recipient replacing the .sops.yaml rule's keys (repeatable)."
        ),
    ] = None,
    filename_override: Annotated[
        Path | None,
        typer.Option(
            "--filename-override",
            help="Pick the creation rule and format as if FILE were at this path.",
            metavar="PATH",
        ),
    ] = None,
) -> int:
    """Encrypt FILE with the recipients and rule of its .sops.yaml creation rule."""
    from secretsmgr.fileops import encrypt_text, resolve_policy, with_pending_key
    from secretsmgr.fsutil import read_text, write_atomic
    from secretsmgr.repo.settings import load_settings
    from secretsmgr.sops import format_for_path

    _check_targets(in_place, output)
    text = read_text(file)
    as_path = filename_override or file
    policy = resolve_policy(as_path, age or ())
    settings = load_settings(repo_root(ctx))
    if not age and settings.cluster_key and settings.next_cluster_key:
        policy = with_pending_key(policy, settings.cluster_key, settings.next_cluster_key)
    with about_file(file, None):
        result = encrypt_text(text, format_for_path(as_path.name), policy)
    if in_place:
        write_atomic(file, result.text)
        _record(ctx, file, "encrypt", "", result)  # the plaintext before is never hashed
    elif output is not None:
        previous = output.read_text(encoding="utf-8") if _is_sops_file(output) else ""
        write_atomic(output, result.text)
        _record(ctx, output, "encrypt", previous, result)
    else:
        out(result.text)
    return 0


def _is_sops_file(path: Path) -> bool:
    from secretsmgr.sops import format_for_path
    from secretsmgr.sops.document import has_metadata, parse_documents

    try:
        text = path.read_text(encoding="utf-8")
        return has_metadata(
            parse_documents(text, format_for_path(path.name)), format_for_path(path.name)
        )
    except (OSError, UnicodeDecodeError, Exception):
        return False


def decrypt_cmd(
    file: FileArg,
    in_place: InPlace = False,
    output: Output = None,
    extract: Annotated[
        str | None,
        typer.Option(
            "--extract",
            help='Print one value: dotted (data.password) or ["data"]["password"].',
            metavar="KEY_PATH",
        ),
    ] = None,
) -> int:
    """Decrypt FILE (MAC verified) to stdout, or to a file you name."""
    from secretsmgr.fileops import decrypt_text
    from secretsmgr.fsutil import read_text, write_atomic
    from secretsmgr.sops import format_for_path

    _check_targets(in_place, output)
    if in_place and extract is not None:
        from secretsmgr.errors import UsageError

        raise UsageError("--extract cannot be used with -i (it would replace the file)")
    text = read_text(file)
    identities = load_identities()
    with about_file(file, identities):
        result = decrypt_text(text, format_for_path(file.name), [identities], extract)
    if in_place:
        write_atomic(file, result)
    elif output is not None:
        write_atomic(output, result, mode=0o600)
    else:
        out(result)
    return 0


def _editor_command() -> list[str]:
    raw = os.environ.get("SOPS_EDITOR") or os.environ.get("EDITOR") or "vi"
    return shlex.split(raw)


def edit_cmd(ctx: typer.Context, file: FileArg) -> int:
    """Open FILE decrypted in $SOPS_EDITOR/$EDITOR; re-encrypt only when it changed."""
    from secretsmgr.errors import RefusedError, UserError
    from secretsmgr.fileops import edit_text
    from secretsmgr.fsutil import memory_dir, read_text, scratch_file, write_atomic
    from secretsmgr.sops import format_for_path

    text = read_text(file)
    identities = load_identities()
    scratch = memory_dir(os.environ)
    suffix = "".join(file.suffixes[-1:]) or ".yaml"

    def run_editor(plain: str) -> str:
        with scratch_file(scratch, suffix, plain) as temp:
            command = [*_editor_command(), str(temp)]
            try:
                result = subprocess.run(command, check=False)
            except FileNotFoundError as exc:
                raise UserError(
                    f"editor not found: {command[0]}",
                    hints=("set SOPS_EDITOR or EDITOR to an editor command",),
                ) from exc
            if result.returncode != 0:
                raise RefusedError(
                    f"the editor exited with status {result.returncode}; nothing was changed"
                )
            return temp.read_text(encoding="utf-8")

    with about_file(file, identities):
        updated = edit_text(text, format_for_path(file.name), [identities], run_editor)
    if updated is not None:
        write_atomic(file, updated.text)
        _record(ctx, file, "edit", text, updated)
    return 0
