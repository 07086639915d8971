"""What the one-file commands (encrypt, decrypt, edit, set, unset) share: error context, the
changelog recorder (warnings go through ``context.warn``)."""

from __future__ import annotations

import contextlib
import json
import os
import shlex
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from secretsmgr.cli.context import warn
from secretsmgr.keys.bech32 import is_age_recipient, short_key
from secretsmgr.shellword import sh_path, sh_word

if TYPE_CHECKING:
    from secretsmgr.errors import DecryptionError
    from secretsmgr.fileops.files import Recorder
    from secretsmgr.fileops.text import Written
    from secretsmgr.keys.sources import LayeredIdentity
    from secretsmgr.sops.document import SopsFile
    from secretsmgr.sops.tree import MapNode


@contextlib.contextmanager
def about_file(
    file: Path,
    identities: LayeredIdentity | None,
    verb: str | None = None,
    key_path: str | None = None,
) -> Iterator[None]:
    """Name the file in any error, with a hint on how to recover (for ``verb``, a command of
    sops's, when no age entry could open the file)."""
    from secretsmgr.errors import (
        BusyError,
        ClearValueError,
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
        if isinstance(exc, ClearValueError) and exc.key_path:
            where = shlex.quote(".".join(exc.key_path))
            err.hints = (
                "added in clear by hand (SM003): encrypt a new value in its place: "
                f"secretsmgr set {sh_path(str(file))} {where}",
            )
        elif isinstance(exc, IntegrityError):
            err.hints = _integrity_hints(file)
        elif isinstance(exc, DecryptionError) and exc.hints:
            err.hints = exc.hints  # it says why already (too few key groups opened)
        elif isinstance(exc, DecryptionError):
            age_less = _age_less(file, verb, key_path) if verb is not None else None
            if age_less is not None:
                raise age_less from exc
            publics = _tried(identities)
            shown = ", ".join(short_key(p) for p in publics) or "none"
            err.hints = (
                f"the identities tried ({shown}) are not among its recipients",
                # the key tried, not a stand-in a pasted hint fails on (sweep 22)
                "ask a holder of one of its keys to run: secretsmgr rotate --add-recipient "
                f"{sh_word(publics[0]) if publics else 'YOUR_AGE_KEY'} {sh_path(str(file))}",
            )
        raise err from exc


def _integrity_hints(file: Path) -> tuple[str, ...]:
    """How to recover a file that fails its MAC: git's copy, when HEAD's differs from it; when
    HEAD holds it as it is, the commit that changed it outside sops (sweep 103, Mackeul/
    k8s-cluster: a namespace added by hand and committed; "git checkout HEAD" restored the
    same broken bytes)."""
    from secretsmgr.repo import git

    shown = sh_path(str(file))
    top = git.toplevel(file.parent) if file.parent.is_dir() else None
    if top is not None:
        try:
            rel = os.path.relpath(os.path.realpath(file), top)
            clean = not git.dirty_paths(top, [rel]) and git.is_tracked(top, rel)
        except (OSError, ValueError):
            clean = False
        if clean:
            return (
                "git holds it as it is now (HEAD): secretsmgr audit --history names the commit "
                "that changed it outside sops (SM023) and how to repair it",
                "or re-encrypt from a trusted plaintext",
            )
    return (
        f"restore it from git (git checkout HEAD -- {shown}) or re-encrypt from a "
        "trusted plaintext",
    )


def identities_for(file: Path, verb: str, key_path: str | None = None) -> LayeredIdentity:
    """Every identity (``load_identities``); when none can be had (none found, or a key file
    that is missing or unreadable), a file that no age entry could open anyway (pgp, KMS or
    Vault keys only) is named as such instead."""
    from secretsmgr.cli.context import load_identities
    from secretsmgr.errors import UserError

    try:
        return load_identities()
    except UserError as exc:
        loaded = _loaded(file)
        age_less = _age_error(file, loaded, verb, key_path)
        if age_less is not None:
            raise age_less from exc
        found = loaded.metadata.age_recipients if loaded is not None else ()
        needed = [k for k in found if is_age_recipient(k)]  # never a key pasted there
        if needed and exc.message.startswith("no age identity"):
            # which key it needs, as key rotate says (sweep 60 operator run: set and edit said
            # only "no age identity found")
            shown = ", ".join(short_key(k) for k in needed[:3])
            more = " or another of its recipients" if len(needed) > 3 else ""
            exc.hints = (
                f"{file} opens with the private key of {shown}{more}",
                *exc.hints,
            )
        raise


def _loaded(file: Path) -> SopsFile | None:
    """The SOPS file at ``file`` (its metadata and documents, nothing decrypted), or None when
    it is none (a pipe or a device too). Read only on a path that already failed."""
    from secretsmgr.errors import SecretsmgrError
    from secretsmgr.sops.document import format_for_text, load

    try:
        if not file.is_file():
            return None
        text = file.read_text(encoding="utf-8")
        return load(text, format_for_text(file.name, text))
    except (OSError, UnicodeDecodeError, SecretsmgrError):
        return None


def _age_less(file: Path, verb: str, key_path: str | None = None) -> DecryptionError | None:
    """The error for a SOPS file whose data key no age entry wraps, or None (anything else is
    left to the command)."""
    return _age_error(file, _loaded(file), verb, key_path)


def _age_error(
    file: Path, loaded: SopsFile | None, verb: str, key_path: str | None
) -> DecryptionError | None:
    """``_age_less`` of a file already read."""
    from secretsmgr.errors import DecryptionError

    if loaded is None:
        return None
    metadata = loaded.metadata
    kinds = metadata.foreign_kinds
    if not kinds or metadata.age_recipients:
        return None
    named = " and ".join(kinds)
    how = f"sops {verb} {sh_path(file)}"
    if verb in ("set", "unset") and key_path is not None:
        # the path as sops's index, not a template of one (sweep 57: `['key']['path'] …` was
        # printed as it stood, brackets and all)
        index = shlex.quote(_sops_index(loaded.docs, key_path, for_set=verb == "set"))
        how = (
            f"sops set --value-stdin {sh_path(file)} {index} (stdin: the value as a JSON string)"
            if verb == "set"
            else f"{how} {index}"
        )
    return DecryptionError(
        f"{file}: encrypted to {named} keys only; secretsmgr opens age keys",
        hints=(
            f"use sops for it, which reads {named} keys: {how}",
            "or have a holder of those keys add an age recipient: "
            f"sops rotate -i --add-age AGE_PUBLIC_KEY {sh_path(file)}",
        ),
    )


def _sops_index(docs: Sequence[MapNode], spec: str, *, for_set: bool) -> str:
    """``spec`` (dotted or bracketed) as sops's bracket index, resolved on the file's first
    document as set/unset resolve it (its keys are in clear); as written when it is not there."""
    from secretsmgr.errors import UsageError
    from secretsmgr.fileops.keypath import resolve, resolve_for_set

    try:
        if not docs:
            raise UsageError("no document")
        path = (resolve_for_set if for_set else resolve)(docs[0], spec)
    except UsageError:
        path = tuple(int(p) if p.isdigit() else p for p in spec.split("."))
    return "".join(f"[{p}]" if isinstance(p, int) else f"[{json.dumps(p)}]" for p in path)


def with_key_hints(exc: DecryptionError, identities: LayeredIdentity) -> DecryptionError:
    """``exc`` of a multi-file command (``rotate``, ``key rotate``: all or nothing) with the
    hints ``decrypt`` gives for a file no identity at hand opens: which were tried, and where a
    key that opens it comes from."""
    if "nothing was changed" not in exc.message:
        # every file is opened before any is written: say so (sweep 42: the user could not
        # tell whether the other files of the layer had been rotated)
        exc.message = f"{exc.message}; nothing was changed"
    if exc.hints:
        return exc
    shown = ", ".join(short_key(p) for p in _tried(identities)) or "none"
    exc.hints = (
        f"the identities tried ({shown}) are not among its recipients",
        "secretsmgr key show lists the keys found and where; import the one that opens it: "
        "secretsmgr key import FILE (or set SOPS_AGE_KEY_FILE)",
        # sweep 95, SinLess-Games/Production-Cluster: a file on a key nobody has any more, and
        # the operator was left to work out that its values are gone with it
        "where no key opens it any more, its values are lost with the key: make the Secret "
        "anew (write it in clear, then secretsmgr encrypt -i), or remove the file, then run "
        "again",
    )
    return exc


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
    from secretsmgr.repo.pending import journal_path
    from secretsmgr.rotate.journal import pending_append
    from secretsmgr.rotate.record import check_recordable

    if target is not None:
        # a rotation killed midway is finished or rolled back first, and said so: after the
        # write, its recovery met a file changed since, and the write was called a failure
        # (the attack review of stop 37)
        where = journal_path(root)
        if (where is not None and where.exists()) or pending_append(root):
            # and a changelog append a killed write left in its temp file, before this write
            # changes the file it records (the review of stop 53: recovered after it, the
            # killed run's entry was dropped)
            from secretsmgr.cli.context import recover_interrupted

            recover_interrupted(root)
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
        _warn_if_ignored(root, path)

    return record


def _warn_if_ignored(root: Path, path: Path) -> None:
    """Say so when git ignores the file just written: no commit takes it, so Flux never gets
    it (sweep 31, nwarila-platform/talos-cluster: a deny-all .gitignore; the new SOPS file was
    left out of the commit and log --verify then called its state one no commit holds)."""
    from secretsmgr.repo.git import ignored_paths

    try:
        rel = os.path.relpath(os.path.abspath(path), os.path.abspath(root)).replace(os.sep, "/")
        if rel.startswith("../") or not ignored_paths(root, [rel]):
            return
    except (OSError, ValueError):
        return
    warn(
        f"git ignores {rel}: no commit takes it, so Flux never gets it; commit it with "
        f"git add -f {sh_path(rel)}, or change .gitignore"
    )
