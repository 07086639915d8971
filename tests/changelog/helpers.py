"""Builders for changelog entries and chains."""

from __future__ import annotations

import hashlib

from secretsmgr.changelog.chain import FileRecord, append, datakey_id, next_entry

PUB1 = "age17m4zztwdtjwv5yastfc6v72cjnsrn7yuxlpmgwgr5c8s52lst4jq9x0tvy"


def record(path: str, lastmodified: str = "2026-11-26T10:03:09Z", n: int = 0) -> FileRecord:
    """A file record with fingerprints derived from ``n``."""
    return FileRecord(
        path=path,
        lastmodified=lastmodified,
        recipients_before=(PUB1,),
        recipients_after=(PUB1,),
        datakey_id=datakey_id(n.to_bytes(32, "big")),
        sha256_before=hashlib.sha256(f"before {n}".encode()).hexdigest(),
        sha256_after=hashlib.sha256(f"after {n}".encode()).hexdigest(),
    )


def chain(count: int, *, layers: tuple[str, ...] = ("databases",)) -> bytes:
    """A valid changelog of ``count`` rotate entries."""
    data = b""
    for i in range(1, count + 1):
        entry = next_entry(
            data,
            time=f"2026-11-{i:02d}T10:03:10Z",
            actor="bob@example.org",
            action="rotate",
            reason=f"rotation {i}",
            layers=layers,
            files=[record(f"gitops/s{i}.enc.yaml", n=i)],
        )
        data = append(data, entry)
    return data
