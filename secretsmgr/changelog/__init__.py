"""The hash-chained changelog of every rotate, encrypt and key-rotation run.

``chain`` is pure (bytes in, bytes out); ``store`` reads and writes the file.
"""

from secretsmgr.changelog.chain import (
    GENESIS,
    ChainBreak,
    Entry,
    FileRecord,
    State,
    append,
    covered,
    datakey_id,
    find_break,
    next_entry,
    parse_entries,
    serialize,
    to_dict,
    verify,
)
from secretsmgr.changelog.store import append_entry, changelog_path, load_changelog

__all__ = [
    "GENESIS",
    "ChainBreak",
    "Entry",
    "FileRecord",
    "State",
    "append",
    "append_entry",
    "changelog_path",
    "covered",
    "datakey_id",
    "find_break",
    "load_changelog",
    "next_entry",
    "parse_entries",
    "serialize",
    "to_dict",
    "verify",
]
