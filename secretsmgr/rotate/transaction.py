"""Rotation as a transaction: every file or none, one writer at a time.

``rotate`` runs these steps, each a function below:

1. take the repository's write lock and finish any interrupted run (``journal.recover``);
2. ``_prepare``: read the repository, plan the run (targets, recipients, regenerated values),
   refuse symlinked and dirty targets, then decrypt every target (MAC verified), stage its new
   file in memory and verify that it decrypts to the intended plaintext (``_stage_all``, on
   every core: ``workers``);
3. ``_write``: the journal (old bytes of every target: ciphertext only) → a temp file beside
   each target → one sync of them all (``fsutil.fsync_files``) → ``os.replace`` each → the
   folders synced → the changelog entry, which is the commit point;
4. the journal goes (the run is complete), then ``_commit``: the optional git commit; then
   the lock is released.

A failure before the changelog entry writes every original back and removes the temp files
(``journal.settle``); a failure at the git commit leaves the rotation complete but uncommitted,
and says so. A killed run leaves its journal; the next writer (or ``secretsmgr recover``)
completes it when its changelog entry is on disk, and rolls it back otherwise.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from secretsmgr.changelog.chain import Entry, append, conflict_error, has_conflict
from secretsmgr.changelog.store import changelog_path, load_changelog, write_changelog
from secretsmgr.changelog.verified import chain_break, remember
from secretsmgr.errors import (
    DecryptionError,
    InputFileError,
    RefusedError,
    RotatedNotCommittedError,
    RotationAbortedError,
    SecretsmgrError,
)
from secretsmgr.fsutil import (
    check_write_target,
    check_write_targets,
    file_mode,
    fsync_dirs,
    fsync_files,
    in_runs,
    read_optional,
    replace_all,
    sync_token,
    temp_path,
    write_new,
)
from secretsmgr.keys.bech32 import short_key
from secretsmgr.keys.protocols import Identity
from secretsmgr.plural import plural
from secretsmgr.repo import git
from secretsmgr.repo.inventory import Inventory, load_inventory
from secretsmgr.repo.lock import repo_lock
from secretsmgr.repo.pending import journal_path
from secretsmgr.repo.root import is_git_work_tree
from secretsmgr.repo.sopsentry import SopsEntry
from secretsmgr.rotate.faults import FaultHook, ProgressHook, no_fault
from secretsmgr.rotate.journal import (
    JournalFile,
    new_journal,
    recover,
    refuse_pending,
    settle,
    sha_text,
    write_journal,
)
from secretsmgr.rotate.keymanifests import is_key_manifest, key_secret_names, rekey
from secretsmgr.rotate.plan import (
    FilePlan,
    RotationPlan,
    RotationRequest,
    build_plan,
    check_request,
    link_values,
    linked_how,
    name_others,
    refuse_links,
    select_targets,
)
from secretsmgr.rotate.record import build_entry, file_record
from secretsmgr.rotate.regenerate import Regeneration, regenerate_named
from secretsmgr.rotate.stage import Staged, open_file, stage_file
from secretsmgr.sops.datakey import unwrap_data_key
from secretsmgr.sops.tree import MapNode
from secretsmgr.workers import ordered_map, worker_count

__all__ = ["RotationRequest", "RotationResult", "refuse_dirty", "rotate"]


@dataclass(frozen=True, slots=True)
class RotationResult:
    """What happened."""

    plan: RotationPlan
    seq: int | None = None
    commit: str | None = None
    seconds: float = 0.0
    recovered: str | None = None


@dataclass(slots=True)
class _Write:
    """One file the run replaces (a SOPS file, or a configuration file of a key rotation)."""

    path: str
    target: Path
    old: str | None = field(repr=False)
    new: str = field(repr=False)
    temp: Path | None = None


@dataclass(slots=True)
class _Prepared:
    """Everything staged in memory, nothing written yet."""

    plan: RotationPlan
    staged: list[Staged]
    writes: list[_Write]
    changelog: Path
    changelog_rel: str
    old_log: bytes


def rotate(
    root: Path,
    request: RotationRequest,
    identities: Sequence[Identity],
    *,
    env: Mapping[str, str],
    fault: FaultHook | None = None,
    progress: ProgressHook | None = None,
    recovered_hook: Callable[[str], None] | None = None,
) -> RotationResult:
    """Rotate the requested files as one transaction; see the module docstring.

    ``recovered_hook`` hears at once of an interrupted run that step 1 finished or rolled back
    (so the news is not lost if this run then fails)."""
    fault = fault or no_fault
    started = time.perf_counter()
    if request.dry_run:
        refuse_pending(root)
        prepared = _prepare(root, request, identities, env, fault)
        return RotationResult(prepared.plan, seconds=time.perf_counter() - started)
    with repo_lock(root):
        done = recover(root)
        recovered = done.message
        for said in (done.message, done.appended):
            if said and recovered_hook is not None:
                recovered_hook(said)
        prepared = _prepare(root, request, identities, env, fault)
        where = journal_path(root)  # None outside git: no journal there
        entry = _write(root, prepared, request, where, fault, progress)
        # The changelog entry is on disk: the run is complete and recovery has nothing left to
        # do. The journal goes before the commit, so a pre-commit hook (secretsmgr check) does
        # not take this run for an interrupted one (SM022).
        _drop_journal(where)
        sha = _commit(root, prepared, request, entry.seq, fault)
    return RotationResult(prepared.plan, entry.seq, sha, time.perf_counter() - started, recovered)


def keyless_error(
    root: Path, request: RotationRequest, env: Mapping[str, str], exc: SecretsmgrError
) -> SecretsmgrError:
    """The error for a run with no age identity at hand (``exc``): a refusal that needs no key
    says more (a pgp-only file); else ``exc`` with a first hint naming the keys the files open
    with, those on every one of them, else those on any (sweep 63: rotate named none, where set
    and key rotate do)."""
    try:
        _, targets = _targets(root, request, env)
    except SecretsmgrError as refused:
        return refused
    sets = [tuple(e.sops_file.metadata.age_recipients) for e in targets if e.sops_file]
    common = [k for k in sets[0] if all(k in other for other in sets[1:])] if sets else []
    needed = common or list(dict.fromkeys(k for keys in sets for k in keys))
    if needed and exc.message.startswith("no age identity"):
        shown = ", ".join(short_key(k) for k in needed[:3])
        more = " or another of their recipients" if len(needed) > 3 else ""
        exc.hints = (f"the files open with the private key of {shown}{more}", *exc.hints)
    return exc


def _targets(
    root: Path, request: RotationRequest, env: Mapping[str, str]
) -> tuple[Inventory, list[SopsEntry]]:
    """The repository as the run reads it, and the files it rotates (before any key is used)."""
    # Named files only: read just those (layers and rules still come from the whole tree).
    # A regeneration looks for its values in every SOPS file, so it reads them all.
    refuse_links(root, request.files, dry_run=request.dry_run)
    named_only = request.files and not (request.all_files or request.layers or request.regenerate)
    scope = [os.path.abspath(name) for name in request.files] if named_only else None
    ctx = load_inventory(root, files=scope, env=env, cluster_key_cli=request.cluster_key)
    check_request(ctx, request)
    return ctx, select_targets(ctx, request)


def refuse_dirty(root: Path, paths: Sequence[str]) -> None:
    """``RefusedError`` when any of ``paths`` has uncommitted changes (outside git: never)."""
    if not is_git_work_tree(root):
        return
    dirty = git.dirty_paths(root, list(paths))
    if dirty:
        raise RefusedError(
            # the changelog counts too: a "target" count named one file more than the
            # rotation had (sweep 84, j0sh3rs/home-ops)
            f"{dirty[0]} has uncommitted changes "
            f"({plural(len(dirty), 'file')} the run writes {'is' if len(dirty) == 1 else 'are'} "
            "dirty)",
            hints=("commit or stash them first, or pass --allow-dirty",),
        )


def _prepare(
    root: Path,
    request: RotationRequest,
    identities: Sequence[Identity],
    env: Mapping[str, str],
    fault: FaultHook,
) -> _Prepared:
    """Step 2: the plan and every new file, staged and verified in memory."""
    ctx, targets = _targets(root, request, env)
    rel_log = ctx.settings.changelog
    log_path = changelog_path(root, rel_log)
    old_log = load_changelog(log_path)
    broken = chain_break(root, log_path, old_log)
    if broken is not None and has_conflict(old_log):
        raise conflict_error(rel_log)
    if broken is not None:
        raise RefusedError(
            f"{rel_log} is broken at seq {broken.seq}: {broken.reason}",
            hints=(f"restore {rel_log} from git before rotating",),
        )
    checked = check_write_targets(root, [entry.path for entry in targets])
    opened: dict[str, list[MapNode]] = {}
    regenerations: list[Regeneration] = []
    if request.regenerate:  # new values, and where else the old ones sit: every target first
        opened = {entry.path: open_file(entry, identities)[1] for entry in targets}
        replacements, regenerations, sources = regenerate_named(request.regenerate, targets, opened)
        linked, linked_regenerations = link_values(
            ctx, request, opened, replacements, identities, sources
        )
        targets += linked
        regenerations += linked_regenerations
        checked.update(check_write_targets(root, [entry.path for entry in linked]))
    if request.key_swap is not None:
        # the cluster key's copies the repository ships: the old key's line swapped
        names = key_secret_names(ctx)
        manifests = [e for e in targets if is_key_manifest(e, names)]
        for entry in manifests:
            if entry.path not in opened:
                opened[entry.path] = open_file(entry, identities)[1]
        swapped, swaps = rekey(manifests, opened, names, *request.key_swap)
        opened.update(swapped)
        regenerations += swaps
    configs = [
        _Write(rel, check_write_target(root, rel), read_optional(root / rel), text)
        for rel, text in request.config_writes
    ]
    if request.commit and not request.dry_run and is_git_work_tree(root):
        git.refuse_unfinished(root)
    if not request.allow_dirty and not request.dry_run:
        watched = [e.path for e in targets] + [c.path for c in configs]
        refuse_dirty(root, watched + ([rel_log] if request.commit else []))
    plan = build_plan(ctx, request, targets, regenerations)
    try:
        staged = _stage_all(plan, {e.path: e for e in targets}, opened, identities, fault)
    except DecryptionError as exc:
        raise _name_openable(exc, request, targets, identities) from exc
    writes = [_Write(s.path, checked[s.path], s.old_text, s.new_text) for s in staged] + configs
    rel_log = log_path.relative_to(os.path.realpath(root)).as_posix()
    return _Prepared(plan, staged, writes, log_path, rel_log, old_log)


def _name_openable(
    exc: DecryptionError,
    request: RotationRequest,
    targets: Sequence[SopsEntry],
    identities: Sequence[Identity],
) -> DecryptionError:
    """A file of a selection (--all, --layer) that no identity at hand opens: the files that
    do, to rotate by name (sweep 72, auricom/home-ops: `rotate --all` refused on one file that
    only the repository owner's key opens, and said nothing of the rest)."""
    if not (request.all_files or request.layers):
        return exc
    closed: list[str] = []
    for entry in targets:
        sf = entry.sops_file
        try:
            if sf is not None:
                unwrap_data_key(sf.metadata, identities)
        except SecretsmgrError:
            closed.append(entry.path)
    rest = [e.path for e in targets if e.path not in closed]
    if not rest:
        return exc
    shown = ", ".join(closed[:3]) + (", …" if len(closed) > 3 else "")
    again = f"the {plural(len(closed), 'file')} no identity at hand opens, {shown},"
    lead = "to rotate the rest now, name them"
    hint = name_others(rest, again, reason=request.reason, lead=lead, request=request, left=closed)
    exc.hints = (*exc.hints, hint)
    return exc


def _stage_all(
    plan: RotationPlan,
    entries: Mapping[str, SopsEntry],
    opened: Mapping[str, list[MapNode]],
    identities: Sequence[Identity],
    fault: FaultHook,
) -> list[Staged]:
    """Decrypt (unless already open), stage and verify every file of the plan, on every core."""
    for i in range(len(plan.files)):
        fault("stage", i)

    def one(fp: FilePlan) -> Staged:
        entry = entries[fp.path]
        docs = opened.get(fp.path)
        if docs is None:
            docs = open_file(entry, identities)[1]
        return stage_file(entry, docs, fp.recipients_after, fp.regenerated)

    return ordered_map(one, plan.files, worker_count(len(plan.files)))


def _write(
    root: Path,
    prepared: _Prepared,
    request: RotationRequest,
    where: Path | None,
    fault: FaultHook,
    progress: ProgressHook | None,
) -> Entry:
    """Step 3: journal, temp files, one fsync pass, renames, folder fsyncs, changelog entry."""
    staged, writes = prepared.staged, prepared.writes
    entry = build_entry(
        root,
        prepared.old_log,
        verified=True,  # _prepare checked these bytes, under the same lock
        action=request.action,
        reason=request.reason,
        layers=prepared.plan.layers,
        files=[
            file_record(
                s.path,
                old_text=s.old_text,
                new_text=s.new_text,
                data_key=s.data_key,
                lastmodified=s.lastmodified,
                recipients_before=s.recipients_before,
                recipients_after=s.recipients_after,
                key_paths=s.regenerated,
            )
            for s in staged
        ],
    )
    new_log = append(prepared.old_log, entry)
    run = secrets.token_hex(4)
    journal = new_journal(
        root,
        run=run,
        seq=entry.seq,
        changelog=prepared.changelog_rel,
        old_log=prepared.old_log,
        new_log=new_log,
        files=[JournalFile(w.path, w.old, sha_text(w.old), sha_text(w.new)) for w in writes],
    )
    fault("journal", 0)
    if where is not None:
        try:
            write_journal(where, journal)
        except BaseException:
            # nothing was written beside the targets yet: a journal left behind would hold
            # every commit up as an interrupted rotation (SM022; the attack review of stop 52)
            _drop_journal(where)
            raise
    replacing = False  # a failure from here on is reported as an aborted (restored) rotation
    # the folders' filesystems held open from before the first temp file: one syncfs each may
    # then stand in for an fsync per file, and reports any writeback error since (fsutil)
    token = sync_token(w.target.parent for w in writes)
    try:

        def create(i: int) -> None:
            w = writes[i]
            fault("write", i)
            w.temp = temp_path(w.target, run)
            try:
                write_new(w.temp, w.new, file_mode(w.target))
            except OSError as exc:  # a read-only or immutable folder, a full disk
                w.temp = None  # settle removes a half-written one by its journal name
                raise InputFileError(
                    f"{w.path}: cannot write beside it ({exc.strerror}); nothing was changed"
                ) from exc

        in_runs(len(writes), create)
        fault("fsync", 0)
        try:
            fsync_files([w.temp for w in writes if w.temp is not None], token)
        except OSError as exc:  # a disk that fails to write (EIO): the temp files go
            raise InputFileError(
                f"cannot write the new files to disk ({exc.strerror}); nothing was changed"
            ) from exc
        replacing = True

        def before_replace(i: int) -> None:
            fault("replace", i)
            if progress is not None and 0 < i <= len(staged):
                progress(i, len(staged))

        replace_all([(w.temp, w.target) for w in writes if w.temp is not None], before_replace)
        if progress is not None:
            progress(len(staged), len(staged))
        fault("dirsync", 0)
        fsync_dirs((w.target.parent for w in writes), token)
        fault("changelog", 0)
        write_changelog(prepared.changelog, new_log)
        remember(root, prepared.changelog, new_log)  # the next writer checks only what follows
    except BaseException as exc:
        settled = settle(root, journal)
        _drop_journal(where)
        if settled.committed:
            raise RotatedNotCommittedError(
                f"rotated {plural(len(staged), 'file')} (changelog seq {entry.seq}), "
                f"but finishing failed: {failure_text(exc)}",
                hints=("the files and the changelog are changed on disk; commit them yourself",),
            ) from exc
        if not replacing or isinstance(exc, SecretsmgrError | KeyboardInterrupt):
            raise
        raise RotationAbortedError(
            f"rotation failed while writing ({type(exc).__name__}); every file was restored"
        ) from exc
    finally:
        token.close()
    return entry


def failure_text(exc: BaseException) -> str:
    """What went wrong, for a message: a SecretsmgrError's own words, else the exception's
    type (never its text, which may quote a value)."""
    return exc.message if isinstance(exc, SecretsmgrError) else type(exc).__name__


def commit_message(request: RotationRequest, plan: RotationPlan, seq: int) -> str:
    """The commit of a rotation: what, why, every regenerated key path, the changelog seq."""
    lines = [
        f"secrets: {request.action} {plan.label} ({plural(len(plan.files), 'file')})",
        "",
        request.reason or "no reason given",
        "",
    ]
    regenerated = [r for r in plan.regenerations if not r.cluster_key]
    if regenerated:
        lines.append("Regenerated values (new random values):")
        lines += [
            f"- {r.key_path} in {r.path}{f' ({linked_how(r)})' if r.linked else ''}"
            for r in regenerated
        ]
        lines.append("")
    swapped = [r for r in plan.regenerations if r.cluster_key]
    if swapped:
        lines.append("Cluster key entries of key Secrets this repository ships:")
        lines += [f"- {r.key_path} in {r.path}" for r in swapped]
        lines.append("")
    lines.append(f"Secrets-Changelog-Seq: {seq}")
    return "\n".join(lines) + "\n"


def _commit(
    root: Path, prepared: _Prepared, request: RotationRequest, seq: int, fault: FaultHook
) -> str | None:
    """Step 4: one git commit of the files and the changelog (when asked)."""
    if not request.commit:
        return None
    try:
        fault("commit", 0)
        paths = [w.path for w in prepared.writes] + [prepared.changelog_rel]
        return git.commit(root, paths, commit_message(request, prepared.plan, seq))
    except Exception as exc:
        raise RotatedNotCommittedError(
            f"rotated {plural(len(prepared.staged), 'file')} (changelog seq {seq}) "
            f"but the commit failed: {failure_text(exc)}",
            hints=("the files and the changelog are changed on disk; commit them yourself",),
        ) from exc


def _drop_journal(where: Path | None) -> None:
    if where is not None:
        with contextlib.suppress(FileNotFoundError):
            where.unlink()
