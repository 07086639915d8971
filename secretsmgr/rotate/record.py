"""One changelog entry for a single-file write (``encrypt``, ``edit``, ``set``, ``unset``)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from secretsmgr.changelog.chain import FileRecord, append, datakey_id, next_entry
from secretsmgr.fsutil import write_atomic
from secretsmgr.repo import git
from secretsmgr.repo.flux import find_layers
from secretsmgr.repo.root import is_git_work_tree
from secretsmgr.repo.settings import load_settings
from secretsmgr.repo.snapshot import WorktreeSnapshot
from secretsmgr.sops.document import format_for_path, has_metadata, load, parse_documents


def record_write(
    root: Path,
    path: Path,
    action: str,
    old_text: str,
    new_text: str,
    data_key: bytes,
    *,
    key_paths: Sequence[str] = (),
) -> int | None:
    """Append an entry for ``path`` when it lies in ``root`` and the repo keeps a changelog.

    Returns the new seq, or None when nothing was recorded (no changelog yet, or the file is
    outside the repository). ``key_paths`` names the values a ``set``/``unset`` changed.
    Never records a value or a key.
    """
    try:
        rel = path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return None
    settings = load_settings(root)
    log = root / settings.changelog
    if not log.exists():
        return None
    fmt = format_for_path(path.name)
    new = load(new_text, fmt)
    before: tuple[str, ...] = ()
    old_docs = parse_documents(old_text, fmt) if old_text else []
    if has_metadata(old_docs, fmt):
        before = load(old_text, fmt).metadata.age_recipients
    layers = find_layers(
        WorktreeSnapshot(root), settings.clusters, dict(settings.sources)
    ).layers_of(rel)
    data = log.read_bytes()
    entry = next_entry(
        data,
        time=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        actor=git.user_identity(root) if is_git_work_tree(root) else "unknown",
        action=action,
        reason="",
        layers=layers,
        files=[
            FileRecord(
                path=rel,
                lastmodified=new.metadata.lastmodified,
                recipients_before=before,
                recipients_after=new.metadata.age_recipients,
                datakey_id=datakey_id(data_key),
                sha256_before=hashlib.sha256(old_text.encode("utf-8")).hexdigest(),
                sha256_after=hashlib.sha256(new_text.encode("utf-8")).hexdigest(),
                key_paths=tuple(key_paths),
            )
        ],
    )
    write_atomic(log, append(data, entry).decode("utf-8"))
    return entry.seq
