"""The changelog file on disk: read it whole, write it whole (atomically)."""

from __future__ import annotations

from pathlib import Path

from secretsmgr.changelog.chain import Entry, append
from secretsmgr.errors import ChainError, ConfigError
from secretsmgr.fsutil import write_atomic


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


def append_entry(path: Path, entry: Entry) -> None:
    """Append ``entry`` by writing the whole new changelog to a temp file and replacing it."""
    data = append(load_changelog(path), entry)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ChainError(f"{path} is not valid UTF-8") from exc
    write_atomic(path, text)
