"""The changelog file on disk: where it is (inside the repository), read whole, written whole."""

from __future__ import annotations

import posixpath
from pathlib import Path

from secretsmgr.changelog.chain import Entry, append
from secretsmgr.errors import ChainError, ConfigError, RefusedError
from secretsmgr.fsutil import check_write_target, write_atomic
from secretsmgr.repo.settings import SETTINGS_NAME
from secretsmgr.shellword import sh_path


def changelog_path(root: Path, name: str) -> Path:
    """The changelog ``name`` (``changelog:`` in ``.secretsmgr.yaml``) of the repository at
    ``root``; ``ConfigError`` unless it is a relative path inside the root with no symbolic link
    on the way (never ``../x.jsonl``, an absolute path or a link out of the repository), and
    outside the git directory (``.git/…`` is not history anyone reviews)."""
    clean = name if name.startswith("/") else posixpath.normpath(name)
    if clean.lower().endswith((".yaml", ".yml")) or posixpath.basename(clean) == "Kustomization":
        # .sops.yaml, a manifest or a SOPS file is no changelog, and restoring it from git
        # changes nothing (the attack review of stop 52: "restore .sops.yaml from git" looped);
        # a YAML changelog in a layer's folder would also be read by Flux as a manifest
        hint = "set changelog: secrets-changelog.jsonl (the default), or remove the key"
        try:
            with (root / clean).open("rb") as existing:
                held = existing.read(2) == b'{"'
        except OSError:
            held = False
        if held:
            # a changelog an older secretsmgr wrote under that name: moved, its history kept
            # (the review of stop 52: the hint alone started a new, empty chain)
            hint = (
                f"keep its history: git mv {sh_path(clean)} secrets-changelog.jsonl, then "
                "remove the changelog key (or set it to that name)"
            )
        raise ConfigError(
            f"{SETTINGS_NAME}: changelog names {clean}, a YAML file; the changelog is JSON "
            "lines in a file of its own",
            hints=(hint,),
        )
    if ".git" in clean.split("/"):
        raise ConfigError(
            f"{SETTINGS_NAME}: changelog must be a file inside the repository, "
            "not in its git directory"
        )
    try:
        return check_write_target(root, clean)
    except RefusedError as exc:
        raise ConfigError(
            f"{SETTINGS_NAME}: changelog must be a file inside the repository ({exc.message})"
        ) from exc


def load_changelog(path: Path) -> bytes:
    """The changelog's bytes; ``b""`` when the file does not exist yet."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return b""
    except IsADirectoryError as exc:
        raise ConfigError(f"{path}: the changelog path is a directory") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the changelog ({exc.strerror})") from exc


def write_changelog(path: Path, data: bytes) -> None:
    """Replace the changelog with ``data`` atomically and durably (file and folder fsynced)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ChainError(f"{path} is not valid UTF-8") from exc
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, text)


def append_entry(path: Path, entry: Entry) -> None:
    """Append ``entry`` by writing the whole new changelog to a temp file and replacing it."""
    write_changelog(path, append(load_changelog(path), entry))
