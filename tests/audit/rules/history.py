"""A repository and changelog entries for the rules that read the changelog and the clock."""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path

from secretsmgr.audit.finding import AuditReport
from secretsmgr.changelog.chain import FileRecord, append, datakey_id, next_entry
from secretsmgr.sops import FileFormat, load
from secretsmgr.sops.datakey import unwrap_data_key

from ..helpers import K1, enc, identity, secret, standard_repo

FILE = "apps/db.enc.yaml"


def history_repo(tmp_path: Path) -> Path:
    """A standard repository with one SOPS file, ``FILE``."""
    root = tmp_path / "repo"
    standard_repo(root, {FILE: enc(secret())})
    return root


def lastmodified(root: Path, rel: str) -> datetime:
    """The file's ``sops.lastmodified`` as a datetime."""
    sf = load((root / rel).read_text(), FileFormat.YAML)
    return datetime.fromisoformat(sf.metadata.lastmodified.replace("Z", "+00:00"))


def log(
    root: Path,
    rel: str,
    when: datetime,
    *,
    lastmodified: str | None = None,
    sha256: str | None = None,
    key_id: str | None = None,
) -> None:
    """Append a rotate entry for ``rel`` at ``when``: its current state (lastmodified, the
    sha256 of its bytes, its data key), or the ``lastmodified``/``sha256``/``key_id`` given."""
    data = (root / rel).read_bytes()
    sf = load(data.decode(), FileFormat.YAML)
    key = unwrap_data_key(sf.metadata, [identity(1)])
    record = FileRecord(
        rel,
        lastmodified or sf.metadata.lastmodified,
        (K1,),
        (K1,),
        key_id or datakey_id(key),
        "0" * 64,
        sha256 or hashlib.sha256(data).hexdigest(),
    )
    path = root / "secrets-changelog.jsonl"
    old = path.read_bytes() if path.exists() else b""
    entry = next_entry(
        old,
        time=when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        actor="t",
        action="rotate",
        reason="r",
        layers=("databases",),
        files=[record],
    )
    path.write_bytes(append(old, entry))


def paths_of(report: AuditReport, rule: str) -> list[str]:
    """The paths ``rule`` reported."""
    return [f.path for f in report.findings if f.rule == rule]
