"""``adopt``: record the current state of SOPS files in the changelog, re-encrypting nothing.

A repository that starts its changelog late (``init``, or ``log --adopt``) or holds files
changed with plain ``sops`` has SOPS files whose state no entry records, so ``log --verify``
and SM013 report them. Adopting appends one ``adopt`` entry naming each such file as it is
(path, ``lastmodified``, age recipients, sha256 of its bytes, and ``datakey_id`` when an
identity at hand opens it and it verifies, values and MAC; one that fails is recorded without
it, and said so). It is an attestation by the actor, with a reason: it does not vouch for the
content of files it could not verify, and it is not the gate's findings baseline. When every
file is already recorded nothing is written, except that a repository without a changelog
gets one (an entry with no files starts the chain, so that every later write is recorded).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from types import MappingProxyType

from secretsmgr.changelog.chain import (
    Entry,
    FileRecord,
    append,
    conflict_error,
    datakey_id,
    has_conflict,
    is_current,
    latest_records,
    next_entry,
    read_chain,
)
from secretsmgr.changelog.store import changelog_path, load_changelog
from secretsmgr.errors import (
    ChainError,
    DecryptionError,
    FormatError,
    IntegrityError,
    UsageError,
    UserError,
)
from secretsmgr.fsutil import write_atomic
from secretsmgr.keys.protocols import Identity
from secretsmgr.plural import plural
from secretsmgr.repo import git
from secretsmgr.repo.inventory import Inventory, load_inventory
from secretsmgr.repo.lock import repo_lock
from secretsmgr.repo.root import is_git_work_tree
from secretsmgr.repo.sopsentry import SopsEntry
from secretsmgr.sops.datakey import unwrap_data_key
from secretsmgr.sops.document import decrypt_docs

ACTION = "adopt"


@dataclass(frozen=True, slots=True)
class AdoptPlan:
    """The entry ``adopt`` would append (None when there is nothing to record)."""

    changelog: str  # repo-relative
    entry: Entry | None
    creates: bool  # the changelog does not exist yet
    unopened: tuple[str, ...] = ()  # recorded without datakey_id: no identity at hand opens them
    tampered: tuple[str, ...] = ()  # ... or one does, and the file fails its MAC
    data: bytes = field(default=b"", repr=False)

    @property
    def files(self) -> tuple[FileRecord, ...]:
        """The files the entry records."""
        return self.entry.files if self.entry is not None else ()


def _record(
    entry: SopsEntry, identities: Sequence[Identity], previous: FileRecord | None
) -> tuple[FileRecord, bool]:
    """The file as it is, changed from ``previous`` (the last state recorded for its path),
    and whether an identity opened it and it failed its MAC.

    Starting from the recorded state says where the unrecorded change began, and lets
    ``log --verify`` accept a recorded state that was replaced before anyone committed it.
    """
    sf = entry.sops_file
    assert sf is not None
    key_id: str | None = None
    tampered = False
    if identities:
        try:
            key = unwrap_data_key(sf.metadata, identities)
        except (DecryptionError, FormatError, UserError):  # not opened (a locked keyring too)
            key = None
        # a file changed outside sops (its MAC fails) is recorded unverified, as one no key
        # opens: the entry must not vouch for it with its data key's id (the attack review of
        # stop 52), nor stop init on a repository where one file was edited by hand (the
        # review that followed)
        if key is not None:
            tampered = not _verifies(entry, key)
            key_id = None if tampered else datakey_id(key)
    digest = entry.sha256  # the bytes the inventory read and parsed
    recipients = sf.metadata.age_recipients
    record = FileRecord(
        path=entry.path,
        lastmodified=sf.metadata.lastmodified,
        recipients_before=previous.recipients_after if previous is not None else recipients,
        recipients_after=recipients,
        datakey_id=key_id,
        sha256_before=previous.sha256_after if previous is not None else digest,
        sha256_after=digest,
    )
    return record, tampered


def _verifies(entry: SopsEntry, key: bytes) -> bool:
    """Whether the file's values and MAC verify under ``key`` (an unreadable value: SM006's,
    recorded as it is)."""
    assert entry.sops_file is not None
    try:
        decrypt_docs(entry.sops_file, key)
    except FormatError:
        return True
    except IntegrityError:
        return False
    return True


def plan_adopt(
    inv: Inventory,
    reason: str,
    identities: Sequence[Identity] = (),
    *,
    actor: str = "unknown",
    now: datetime | None = None,
) -> AdoptPlan:
    """The ``adopt`` entry for every valid SOPS file of ``inv`` whose state has no entry."""
    if not reason.strip():
        raise UsageError("an adopt entry needs a reason: --reason TEXT")
    name = inv.settings.changelog
    path = changelog_path(inv.root, name)  # inside the repository, no link on the way
    creates = not path.exists()
    data = load_changelog(path)
    entries, broken = read_chain(data)
    if broken is not None and has_conflict(data):
        raise conflict_error(name)
    if broken is not None:
        raise ChainError(
            f"changelog broken at seq {broken.seq}: {broken.reason}",
            hints=(f"restore {name} from git before adopting",),
        )
    latest = latest_records(entries)
    todo = [
        e
        for e in inv.sops_files
        if e.sops_file is not None
        and e.path != name
        and not is_current(latest, (e.path, e.sops_file.metadata.lastmodified, e.sha256))
    ]
    gone = _removed(inv.root, latest, name)
    if not todo and not gone and not creates:
        return AdoptPlan(name, None, creates=False, data=data)
    made = [_record(e, identities, latest.get(e.path)) for e in todo]
    tampered = tuple(record.path for record, failed in made if failed)
    records = [record for record, _ in made] + gone
    touched = {e.path for e in todo} | {r.path for r in gone}
    layers = tuple(dict.fromkeys(x.name for x in inv.layers.layers if x.files & touched))
    stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    entry = next_entry(
        data,
        time=stamp,
        actor=actor,
        action=ACTION,
        reason=reason.strip(),
        layers=layers,
        files=records,
        verified=True,  # read_chain checked these bytes above
    )
    unopened = tuple(
        r.path
        for r in records
        if r.datakey_id is None and r.sha256_after and r.path not in tampered
    )
    return AdoptPlan(name, entry, creates, unopened, tampered, data)


def _removed(root: Path, latest: Mapping[str, FileRecord], changelog: str) -> list[FileRecord]:
    """A record of each file the changelog last recorded as present that is gone from the
    working tree: from its last recorded state to none (``sha256_after`` empty, as a created
    file's ``sha256_before`` is). A file encrypted and then deleted before anyone committed it
    left a state no commit holds, and ``log --verify`` failed for ever (sweep 19)."""
    gone = []
    tracked = _tracked(root)
    for path, record in latest.items():
        parts = PurePosixPath(path).parts
        if not record.sha256_after or path == changelog or not parts or ".." in parts:
            continue
        if PurePosixPath(path).is_absolute() or os.path.lexists(root / path):
            continue
        if path in tracked:  # in git's index: a sparse checkout, or an rm not staged yet
            continue
        gone.append(
            FileRecord(
                path=path,
                lastmodified=record.lastmodified,
                recipients_before=record.recipients_after,
                recipients_after=(),
                datakey_id=None,
                sha256_before=record.sha256_after,
                sha256_after="",
            )
        )
    return gone


def _tracked(root: Path) -> set[str]:
    """The paths git's index holds (none outside git): a file there is not gone, only not
    checked out (the second review: a sparse checkout's files were recorded as removed)."""
    if not is_git_work_tree(root):
        return set()
    return {path for _mode, _blob, path in git.index_entries(root)}


def write_adopt(root: Path, plan: AdoptPlan) -> int | None:
    """Append the planned entry (atomically); its seq, or None when there was none.

    The caller holds ``repo_lock(root)`` and planned under it, so the changelog is the one
    the plan read.
    """
    if plan.entry is None:
        return None
    path = changelog_path(root, plan.changelog)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, append(plan.data, plan.entry).decode("utf-8"))
    return plan.entry.seq


def actor_of(root: Path) -> str:
    """Who writes: the git author, as every changelog entry names it."""
    return git.user_identity(root) if is_git_work_tree(root) else "unknown"


def adopt_files(
    root: Path,
    reason: str,
    identities: Sequence[Identity] = (),
    *,
    env: Mapping[str, str] = MappingProxyType({}),
    dry_run: bool = False,
) -> AdoptPlan:
    """``log --adopt``: plan and (unless ``dry_run``) append the entry, under the write lock."""
    with repo_lock(root):
        inv = load_inventory(root, env=env)
        plan = plan_adopt(inv, reason, identities, actor=actor_of(root))
        if not dry_run:
            write_adopt(root, plan)
    return plan


def adopt_summary(
    plan: AdoptPlan, seq: int | None, *, dry_run: bool = False, verb: bool = True
) -> str:
    """``adopted 5 SOPS files as they are (changelog seq 1) …``, or why nothing was recorded
    (without the verb when the caller's line already has one)."""
    if plan.entry is None:
        return "nothing to adopt: every SOPS file's state has a changelog entry"
    removed = sum(1 for f in plan.files if not f.sha256_after)
    adopted = len(plan.files) - removed
    count = plural(adopted, "SOPS file")
    where = f"changelog seq {seq}" if seq is not None else f"{plan.changelog}, seq {plan.entry.seq}"
    said = ("would adopt " if dry_run else "adopted ") if verb else ""
    stands = "as it is" if adopted == 1 else "as they are"  # sweep 28: "1 SOPS file as they are"
    line = f"{said}{count} {stands} ({where}); nothing re-encrypted"
    if removed:
        gone = f"{plural(removed, 'recorded file')} gone from the working tree"
        line = (
            f"{line}; {gone}, recorded as removed"
            if adopted
            else f"{said}{gone}: recorded as removed ({where})"
        )
    if plan.unopened:
        line += (
            f"; {plural(len(plan.unopened), 'file')} without a datakey_id "
            "(no identity at hand opens them)"
        )
    if plan.tampered:
        shown = ", ".join(plan.tampered[:3]) + (", …" if len(plan.tampered) > 3 else "")
        line += (
            f"; {plural(len(plan.tampered), 'file')} failing its MAC (changed outside sops: "
            f"{shown}) recorded unverified, without a datakey_id; secretsmgr audit --verify-mac "
            f"reports {'it' if len(plan.tampered) == 1 else 'them'} (SM007)"
        )
    return line
