"""What the one-file commands (encrypt, decrypt, edit, set, unset) share: error context, the
changelog recorder (warnings go through ``context.warn``)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from secretsmgr.keys.bech32 import short_key

if TYPE_CHECKING:
    from secretsmgr.fileops.files import Recorder
    from secretsmgr.fileops.text import Written
    from secretsmgr.keys.sources import LayeredIdentity


@contextlib.contextmanager
def about_file(file: Path, identities: LayeredIdentity | None) -> Iterator[None]:
    """Name the file in any error, with a hint on how to recover."""
    from secretsmgr.errors import (
        BusyError,
        DecryptionError,
        IntegrityError,
        SecretsmgrError,
        about,
    )

    try:
        yield
    except SecretsmgrError as exc:
        if isinstance(exc, BusyError) or str(exc.message).startswith(str(file)):
            raise
        err = about(str(file), exc)
        if isinstance(exc, IntegrityError):
            err.hints = (
                f"restore it from git (git checkout HEAD -- {file}) "
                "or re-encrypt from a trusted plaintext",
            )
        elif isinstance(exc, DecryptionError):
            publics = _tried(identities)
            shown = ", ".join(short_key(p) for p in publics) or "none"
            err.hints = (
                f"the identities tried ({shown}) are not among its recipients",
                "ask a holder of one of its keys to run: secretsmgr rotate --add-recipient "
                f"YOUR_AGE_KEY {file}",
            )
        raise err from exc


def refuse_without_age(file: Path, verb: str) -> None:
    """Refuse a SOPS file whose data key no age entry wraps (pgp, KMS or Vault keys only) before
    asking for an age identity, which could never open it; anything else passes to the command
    (a pipe or a device too: read once, by the command).
    """
    from secretsmgr.errors import DecryptionError, SecretsmgrError
    from secretsmgr.sops.document import format_for_text, load

    try:
        if not file.is_file():
            return
        text = file.read_text(encoding="utf-8")
        groups = load(text, format_for_text(file.name, text)).metadata.key_groups
    except (OSError, UnicodeDecodeError, SecretsmgrError):
        return
    kinds = sorted({name for group in groups for name, _ in group.foreign})
    if not kinds or any(group.age for group in groups):
        return
    named = " and ".join(kinds)
    how = f"sops {verb} {file}" + (" ['key']['path'] …" if verb in ("set", "unset") else "")
    raise DecryptionError(
        f"{file}: encrypted to {named} keys only; secretsmgr opens age keys",
        hints=(
            f"use sops for it, which reads {named} keys: {how}",
            "or have a holder of those keys add an age recipient: "
            f"sops rotate -i --add-age AGE_PUBLIC_KEY {file}",
        ),
    )


def _tried(identities: LayeredIdentity | None) -> tuple[str, ...]:
    from secretsmgr.errors import SecretsmgrError

    if identities is None:
        return ()
    try:
        return identities.publics
    except SecretsmgrError:
        return identities.early_publics()


def changelog_recorder(root: Path, target: Path | None) -> Recorder:
    """Record a write inside ``root`` in its changelog (when it keeps one).

    Checked now, before ``target`` (None: stdout) is written: a broken changelog or a bad
    configuration refuses the write and leaves the file as it was.
    """
    from secretsmgr.rotate.record import check_recordable

    if target is not None:
        check_recordable(root, target)

    def record(
        path: Path, action: str, before: str, written: Written, keys: tuple[str, ...]
    ) -> None:
        from secretsmgr.errors import RefusedError, SecretsmgrError
        from secretsmgr.rotate.record import record_write

        try:
            record_write(root, path, action, before, written.text, written.data_key, key_paths=keys)
        except SecretsmgrError as exc:
            raise RefusedError(
                f"{path} was written but the changelog entry failed: {exc.message}",
                hints=("secretsmgr log --verify shows the state of the changelog",),
            ) from exc

    return record
