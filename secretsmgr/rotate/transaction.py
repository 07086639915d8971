"""Rotation as a transaction: every file or none.

Steps: refuse dirty targets → decrypt and verify every target → stage each new file in memory →
verify each staged file decrypts to the intended plaintext under its new data key → journal
(hashes and the old bytes of every target: ciphertext only) → temp files beside the targets →
``os.replace`` each → append the changelog → optional git commit → remove the journal.

A failure before the first replace removes temp files only. A failure after it writes every
original back and restores the changelog's previous bytes. A journal left by a killed run is
found by the next run, which rolls back (before the changelog entry was written) or completes
(after) and says which.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

from secretsmgr.changelog.chain import FileRecord, append, datakey_id, find_break, next_entry
from secretsmgr.errors import (
    DecryptionError,
    IntegrityError,
    RefusedError,
    RotationAbortedError,
    SecretsmgrError,
    UsageError,
    about,
)
from secretsmgr.fsutil import write_atomic
from secretsmgr.keys.age import AgeRecipient
from secretsmgr.keys.protocols import Identity
from secretsmgr.plural import plural
from secretsmgr.repo import git
from secretsmgr.repo.inventory import Inventory, SopsEntry, load_inventory
from secretsmgr.repo.root import is_git_work_tree
from secretsmgr.repo.settings import load_settings
from secretsmgr.rotate.plan import FilePlan, Regeneration, RotationPlan, policy_recipients
from secretsmgr.rotate.regenerate import regenerate
from secretsmgr.sops.datakey import new_data_key, unwrap_data_key, wrap_data_key
from secretsmgr.sops.document import SopsFile, decrypt_docs, dump, load, same_data, seal
from secretsmgr.sops.model import SopsMetadata
from secretsmgr.sops.rules import Leaf, map_with_rule
from secretsmgr.sops.splice import splice
from secretsmgr.sops.tree import MapNode, Node
from secretsmgr.sops.tree import Path as KeyPath
from secretsmgr.sops.values import Comment

JOURNAL = ".secretsmgr-rotation.journal"
FaultHook = Callable[[str, int], None]
ProgressHook = Callable[[int, int], None]


def _no_fault(_step: str, _index: int) -> None:
    return None


@dataclass(frozen=True, slots=True)
class RotationRequest:
    """What the user asked for."""

    layers: tuple[str, ...] = ()
    all_files: bool = False
    files: tuple[str, ...] = ()
    add: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()
    regenerate: tuple[str, ...] = ()
    linked: bool = False
    reason: str = ""
    dry_run: bool = False
    commit: bool = False
    allow_dirty: bool = False
    cluster_key: str | None = None
    action: str = "rotate"
    # key rotate: the cluster keys every file is re-encrypted to (instead of the policy's own),
    # and configuration files (repo-relative path, new text) replaced in the same transaction.
    cluster_keys: tuple[str, ...] | None = None
    config_writes: tuple[tuple[str, str], ...] = ()
    retire: tuple[str, ...] = ()  # keys no file may keep, even an allowed recipient


@dataclass(frozen=True, slots=True)
class RotationResult:
    """What happened."""

    plan: RotationPlan
    seq: int | None = None
    commit: str | None = None
    seconds: float = 0.0
    recovered: str | None = None


@dataclass(slots=True)
class _Staged:
    entry: SopsEntry
    abs_path: Path
    old_text: str
    new_text: str
    data_key: bytes = field(repr=False)
    lastmodified: str
    recipients_before: tuple[str, ...]
    recipients_after: tuple[str, ...]
    temp: Path | None = None
    sealed: SopsFile | None = field(default=None, repr=False)

    @property
    def whole(self) -> str:
        """The file written whole by our emitter: the fallback when a splice does not fit."""
        return dump(self.sealed) if self.sealed is not None else self.new_text

    @property
    def sha_old(self) -> str:
        return hashlib.sha256(self.old_text.encode("utf-8")).hexdigest()

    @property
    def sha_new(self) -> str:
        return hashlib.sha256(self.new_text.encode("utf-8")).hexdigest()


@dataclass(slots=True)
class _ConfigWrite:
    """A configuration file (``.secretsmgr.yaml``, ``.sops.yaml``) changed with the files."""

    path: str
    abs_path: Path
    old_text: str | None  # None: the file did not exist
    new_text: str
    temp: Path | None = None

    @property
    def sha_old(self) -> str:
        return _sha_text(self.old_text)

    @property
    def sha_new(self) -> str:
        return _sha_text(self.new_text)


def _sha_text(text: str | None) -> str:
    if text is None:
        return "0" * 64  # stands for "no file"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# ------------------------------------------------------------------------------ recovery


def journal_path(root: Path) -> Path:
    """The journal: inside the git directory (never committed), else at the root."""
    if is_git_work_tree(root):
        return git.git_path(root, "secretsmgr-rotation.journal")
    return root / JOURNAL


_journal_path = journal_path
_HEX64 = re.compile(r"[0-9a-f]{64}")
_TEMP = re.compile(r"\.(?P<name>.+)\.secretsmgr-[0-9a-f]{8}\.new")


def _inside(root: Path, rel: object) -> Path:
    """A journal path, accepted only when it is repo-relative and stays inside the repo."""
    if not isinstance(rel, str) or not rel or rel.startswith("/") or "\\" in rel:
        raise ValueError("path")
    parts = rel.split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise ValueError("path")
    return root / rel


def _read_journal(root: Path, journal: Path, changelog: str) -> dict[str, object]:
    """The journal, checked strictly: it names files the next run will write or delete."""
    state = json.loads(journal.read_text(encoding="utf-8"))
    if not isinstance(state, dict) or state.get("phase") not in ("replacing", "logged"):
        raise ValueError("phase")
    if state.get("changelog") != changelog or not isinstance(state.get("changelog_old"), str):
        raise ValueError("changelog")
    bytes.fromhex(state["changelog_old"])
    files = state.get("files")
    configs = state.setdefault("configs", [])
    if not isinstance(files, list) or not isinstance(configs, list):
        raise ValueError("files")
    for item in configs:
        if not isinstance(item, dict) or not isinstance(item.get("old"), str | None):
            raise ValueError("config")
        if not isinstance(item.get("new"), str):
            raise ValueError("config")
        _inside(root, item.get("path"))
        temp = item.get("temp")
        if temp is not None and (
            Path(temp).parent != Path(item["path"]).parent
            or _TEMP.fullmatch(Path(temp).name) is None
        ):
            raise ValueError("temp")
    for item in files:
        if not isinstance(item, dict) or not isinstance(item.get("old"), str):
            raise ValueError("file")
        target = _inside(root, item.get("path"))
        for key in ("sha_old", "sha_new"):
            if not isinstance(item.get(key), str) or not _HEX64.fullmatch(item[key]):
                raise ValueError(key)
        temp = item.get("temp")
        if temp is not None:
            found = _TEMP.fullmatch(_inside(root, temp).name)
            if (
                found is None
                or found["name"] != target.name
                or Path(temp).parent != Path(item["path"]).parent
            ):
                raise ValueError("temp")
    return state


def _sha_file(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _stray_temps(root: Path, changelog: str) -> list[Path]:
    """Temp files ``write_atomic`` leaves when killed while writing the journal or changelog."""
    log = root / changelog
    journal = journal_path(root)
    return [
        *journal.parent.glob(f".{journal.name}.*.tmp"),
        *log.parent.glob(f".{log.name}.*.tmp"),
    ]


def recover(root: Path, changelog: str | None = None) -> str | None:
    """Finish or undo a rotation a killed run left behind; None when there was none.

    Before the changelog entry was written the run is rolled back (every file gets its old
    bytes, kept in the journal); after it, the run is complete and only the leftovers go.
    """
    changelog = changelog or load_settings(root).changelog
    for stray in _stray_temps(root, changelog):
        with contextlib.suppress(FileNotFoundError):
            stray.unlink()
    journal = _journal_path(root)
    if not journal.exists():
        return None
    try:
        state = _read_journal(root, journal, changelog)
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise RefusedError(
            f"the rotation journal ({journal}) is malformed; recover by hand",
            hints=("compare the files with git (git status, git diff), then delete the journal",),
        ) from exc
    files = cast(list[dict[str, str]], state["files"])
    configs = cast(list[dict[str, str | None]], state["configs"])
    temps = [item.get("temp") for item in files] + [item.get("temp") for item in configs]
    for temp in temps:
        if temp:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(root / temp)
    if state.get("phase") == "logged":
        journal.unlink()
        return (
            f"completed an interrupted rotation (changelog seq {state.get('seq')}); "
            "its files are rotated but were not committed"
        )
    restored = 0
    untouched: list[str] = []
    for item in files:
        target = root / item["path"]
        current = _sha_file(target)
        if current == item["sha_old"]:
            continue
        if current is None or current == item["sha_new"]:
            write_atomic(target, item["old"])
            restored += 1
        else:
            untouched.append(item["path"])  # changed by someone else since: not ours to undo
    for config in configs:
        target = root / cast(str, config["path"])
        old = config["old"]
        current = _sha_file(target)
        if current == _sha_text(old) or (current is None and old is None):
            continue
        if current == _sha_text(config["new"]):
            if old is None:
                target.unlink()
            else:
                write_atomic(target, old)
            restored += 1
        else:
            untouched.append(cast(str, config["path"]))
    log = root / changelog
    old_log = bytes.fromhex(cast(str, state["changelog_old"]))
    if log.exists():
        now = log.read_bytes()
        if now != old_log and now.startswith(old_log):
            if old_log:
                write_atomic(log, old_log.decode("utf-8"))
            else:
                log.unlink()
    if untouched:
        journal.unlink()
        raise RefusedError(
            f"rolled back an interrupted rotation, except {untouched[0]} "
            f"({plural(len(untouched), 'file')} changed since): check them by hand",
        )
    journal.unlink()
    return (
        "rolled back an interrupted rotation: "
        f"restored {plural(restored, 'file')} to their old version"
    )


# ------------------------------------------------------------------------------ planning


def refuse_dirty(root: Path, paths: Sequence[str]) -> None:
    """``RefusedError`` when any of ``paths`` has uncommitted changes (outside git: never)."""
    if not is_git_work_tree(root):
        return
    dirty = git.dirty_paths(root, list(paths))
    if dirty:
        raise RefusedError(
            f"{dirty[0]} has uncommitted changes ({plural(len(dirty), 'target')} dirty)",
            hints=("commit or stash them first, or pass --allow-dirty",),
        )


def _targets(ctx: Inventory, request: RotationRequest) -> list[SopsEntry]:
    valid = {e.path: e for e in ctx.sops_files}
    chosen: dict[str, SopsEntry] = {}
    if request.all_files:
        chosen.update(valid)
    for layer in request.layers:
        if ctx.layers.get(layer) is None:
            names = ", ".join(ctx.layers.names()) or "none"
            raise UsageError(f"unknown layer {layer!r} (layers: {names})")
        for path, entry in valid.items():
            if layer in ctx.layers_of(path):
                chosen[path] = entry
    for name in request.files:
        rel = _relative(ctx.root, name)
        if rel not in valid:
            raise UsageError(f"{name}: not a SOPS file of this repository")
        chosen[rel] = valid[rel]
    if not chosen:
        raise UsageError("nothing to rotate", hints=("name --layer L, --all or files",))
    for entry in chosen.values():
        if entry.sops_file is None:
            raise RefusedError(f"{entry.path}: {entry.error or 'not a valid SOPS file'}")
    order = {name: i for i, name in enumerate(ctx.layers.names())}

    def rank(entry: SopsEntry) -> tuple[int, str]:
        layers = ctx.layers_of(entry.path)
        return (order.get(layers[0], len(order)) if layers else len(order), entry.path)

    return sorted(chosen.values(), key=rank)


def _relative(root: Path, name: str) -> str:
    path = Path(name)
    if not path.is_absolute():
        path = Path.cwd() / path
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError as exc:
        raise UsageError(f"{name} is outside the repository {root}") from exc


def _open(entry: SopsEntry, identities: Sequence[Identity]) -> tuple[bytes, list[MapNode]]:
    sf = entry.sops_file
    assert sf is not None
    try:
        key = unwrap_data_key(sf.metadata, identities)
        docs, _ivs = decrypt_docs(sf, key)
    except SecretsmgrError as exc:
        raise about(entry.path, exc) from exc
    return key, docs


def _find(node: Node, parts: list[str]) -> list[tuple[MapNode, str]]:
    """Mapping slots addressed by dotted ``parts`` (keys may contain dots themselves)."""
    if not parts or not isinstance(node, MapNode):
        return []
    found = []
    for cut in range(len(parts), 0, -1):
        key = ".".join(parts[:cut])
        if node.has(key):
            if cut == len(parts):
                found.append((node, key))
            else:
                found += _find(node.get(key), parts[cut:])
    return found


def _replace_value(node: MapNode, key: str, value: str) -> None:
    node.items = [
        (k, value) if not isinstance(item, Comment) and (k := item[0]) == key else item
        for item in node.items
    ]


def _replace_equal(doc: MapNode, meta: SopsMetadata, old: str, new: str) -> tuple[MapNode, int]:
    hits = 0

    def swap(_path: KeyPath, leaf: Leaf, encrypted: bool) -> Leaf:
        nonlocal hits
        if encrypted and leaf == old:
            hits += 1
            return new
        return leaf

    out = map_with_rule(doc, meta.rule, swap)
    assert isinstance(out, MapNode)
    return out, hits


def _stage_one(
    entry: SopsEntry,
    root: Path,
    docs: list[MapNode],
    recipients: tuple[str, ...],
) -> _Staged:
    sf = entry.sops_file
    assert sf is not None
    abs_path = root / entry.path
    old_text = entry.text or abs_path.read_text(encoding="utf-8")
    key = new_data_key()
    groups, threshold = wrap_data_key(key, [[AgeRecipient(r) for r in recipients]])
    meta = sf.metadata
    template = SopsMetadata(
        key_groups=groups,
        lastmodified="",
        mac="",
        rule=meta.rule,
        mac_only_encrypted=meta.mac_only_encrypted,
        shamir_threshold=threshold,
        version=meta.version,
    )
    sealed = seal(docs, fmt=sf.format, data_key=key, metadata=template)
    text = (
        splice(old_text, sealed.docs, sealed.metadata, values=sealed.enc_values)
        if sf.format.value == "yaml"
        else None
    )
    return _Staged(
        entry,
        abs_path,
        old_text,
        text or dump(sealed),
        key,
        sealed.metadata.lastmodified,
        sf.metadata.age_recipients,
        recipients,
        sealed=sealed,
    )


def _verify(staged: _Staged, intended: list[MapNode]) -> None:
    """The staged text parses, its MAC checks, it decrypts to ``intended`` under its key."""
    sf: SopsFile = load(staged.new_text, staged.entry.format)
    if sf.metadata.age_recipients != staged.recipients_after:
        raise IntegrityError(f"{staged.entry.path}: staged recipients differ from the plan")
    docs, _ = decrypt_docs(sf, staged.data_key)
    if not same_data(docs, intended):
        raise IntegrityError(f"{staged.entry.path}: staged file does not decrypt to the plaintext")


# ------------------------------------------------------------------------------ the run


def rotate(
    root: Path,
    request: RotationRequest,
    identities: Sequence[Identity],
    *,
    env: Mapping[str, str],
    fault: FaultHook | None = None,
    progress: ProgressHook | None = None,
) -> RotationResult:
    """Rotate the requested files as one transaction; see the module docstring."""
    fault = fault or _no_fault
    started = time.perf_counter()
    if request.dry_run:
        recovered = None
        if _journal_path(root).exists():
            raise RefusedError(
                "an interrupted rotation needs recovery first",
                hints=("run secretsmgr rotate without --dry-run; it rolls back or completes it",),
            )
    else:
        recovered = recover(root)
    ctx = load_inventory(root, env=env, cluster_key_cli=request.cluster_key)
    targets = _targets(ctx, request)
    settings = ctx.settings
    changelog = root / settings.changelog
    for key in (*request.add, *request.remove):
        AgeRecipient(key)
    protected = set(ctx.cluster_keys) & set(request.remove)
    if protected:
        raise RefusedError(
            "--remove-recipient names the cluster key: Flux could no longer decrypt",
            hints=("rotate the cluster key with: secretsmgr key rotate --begin / --finish",),
        )
    if changelog.exists():
        broken = find_break(changelog.read_bytes())
        if broken is not None:
            raise RefusedError(
                f"{settings.changelog} is broken at seq {broken.seq}: {broken.reason}",
                hints=(f"restore {settings.changelog} from git before rotating",),
            )

    # 1. decrypt and verify every target first
    opened: dict[str, list[MapNode]] = {}
    for entry in targets:
        _key, docs = _open(entry, identities)
        opened[entry.path] = docs

    # 2. regenerate values (and, with --linked, the same old value elsewhere)
    regenerations: list[Regeneration] = []
    replacements: dict[str, str] = {}
    for spec in request.regenerate:
        hit = False
        for entry in targets:
            for doc in opened[entry.path]:
                for node, key in _find(doc, spec.split(".")):
                    old = node.get(key)
                    if not isinstance(old, str) or not old:
                        raise UsageError(f"{entry.path}: {spec} is not a non-empty string")
                    new = replacements.setdefault(old, regenerate(old, f"{entry.path}: {spec}"))
                    _replace_value(node, key, new)
                    regenerations.append(Regeneration(entry.path, spec))
                    hit = True
        if not hit:
            raise UsageError(f"--regenerate {spec}: no target file has that key path")
    linked_targets: list[SopsEntry] = []
    if request.linked and replacements:
        for entry in ctx.sops_files:
            if entry.sops_file is None:
                continue
            if entry.path in opened:
                docs = opened[entry.path]
            else:
                try:
                    _key, docs = _open(entry, identities)
                except DecryptionError:
                    continue
            changed = False
            new_docs = []
            for doc in docs:
                for old, new in replacements.items():
                    doc, hits = _replace_equal(doc, entry.sops_file.metadata, old, new)
                    if hits:
                        changed = True
                new_docs.append(doc)
            if changed:
                if entry.path not in opened:
                    linked_targets.append(entry)
                    regenerations.append(Regeneration(entry.path, "(same value)", linked=True))
                opened[entry.path] = new_docs
    all_targets = targets + linked_targets
    configs = [
        _ConfigWrite(rel, root / rel, _read_optional(root / rel), text)
        for rel, text in request.config_writes
    ]
    if not request.allow_dirty and not request.dry_run:
        watched = [t.path for t in all_targets] + [c.path for c in configs]
        refuse_dirty(root, watched + ([settings.changelog] if request.commit else []))

    # 3. the plan
    plans = []
    for entry in all_targets:
        assert entry.sops_file is not None
        next_key: tuple[str, ...]
        if request.cluster_keys is not None:
            cluster_keys, next_key = request.cluster_keys, ()
        else:
            cluster_keys = ctx.cluster_keys_for(entry)
            next_key = (settings.next_cluster_key,) if settings.next_cluster_key else ()
        recipients = policy_recipients(
            cluster_keys,
            (*settings.allowed_recipients, *next_key),
            request.add,
            (*request.remove, *request.retire),
        )
        if not recipients:
            raise RefusedError(
                f"{entry.path}: the policy leaves no recipient",
                hints=("set cluster_key in .secretsmgr.yaml or pass --cluster-key",),
            )
        plans.append(
            FilePlan(
                entry.path,
                ctx.layers_of(entry.path),
                entry.sops_file.metadata.age_recipients,
                recipients,
                tuple(r.key_path for r in regenerations if r.path == entry.path),
            )
        )
    layers = request.layers or tuple(
        name for name in ctx.layers.names() if any(name in p.layers for p in plans)
    )
    plan = RotationPlan(tuple(plans), tuple(layers), request.reason, tuple(regenerations))

    # 4. stage in memory and verify
    staged: list[_Staged] = []
    entries = {e.path: e for e in all_targets}
    for i, fp in enumerate(plan.files):
        fault("stage", i)
        item = _stage_one(entries[fp.path], root, opened[fp.path], fp.recipients_after)
        try:
            _verify(item, opened[fp.path])
        except SecretsmgrError:
            whole = item.whole
            if item.new_text == whole:
                raise
            item.new_text = whole  # the splice did not fit this file: write it whole
            _verify(item, opened[fp.path])
        staged.append(item)
    if request.dry_run:
        return RotationResult(plan, seconds=time.perf_counter() - started, recovered=recovered)

    # 5. the journal (old bytes of every target: ciphertext only), then temp files beside each
    old_log = changelog.read_bytes() if changelog.exists() else b""
    run = secrets.token_hex(4)
    writes: list[_Staged | _ConfigWrite] = [*staged, *configs]
    for write in writes:
        write.temp = write.abs_path.with_name(f".{write.abs_path.name}.secretsmgr-{run}.new")
    try:
        fault("journal", 0)
        _write_journal(root, staged, "replacing", settings.changelog, old_log, configs=configs)
        umask = _umask()
        for i, item in enumerate(staged):
            fault("write", i)
            assert item.temp is not None
            _write_temp(item.temp, item.new_text, item.abs_path, umask)
        for config in configs:
            assert config.temp is not None
            _write_temp(config.temp, config.new_text, config.abs_path, umask)
        with contextlib.suppress(AttributeError):
            os.sync()  # one flush for all temp files instead of an fsync each
    except BaseException:
        _cleanup(staged, configs)
        with contextlib.suppress(FileNotFoundError):
            _journal_path(root).unlink()
        raise

    # 6. replace, 7. changelog: restore everything on failure
    actor = git.user_identity(root) if is_git_work_tree(root) else "unknown"
    seq: int | None = None
    try:
        for i, item in enumerate(staged):
            fault("replace", i)
            assert item.temp is not None
            os.replace(item.temp, item.abs_path)
            item.temp = None
            if progress is not None:
                progress(i + 1, len(staged))
        for config in configs:
            assert config.temp is not None
            os.replace(config.temp, config.abs_path)
            config.temp = None
        fault("changelog", 0)
        log_entry = next_entry(
            old_log,
            time=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            actor=actor,
            action=request.action,
            reason=request.reason,
            layers=plan.layers,
            files=[
                FileRecord(
                    path=item.entry.path,
                    lastmodified=item.lastmodified,
                    recipients_before=item.recipients_before,
                    recipients_after=item.recipients_after,
                    datakey_id=datakey_id(item.data_key),
                    sha256_before=item.sha_old,
                    sha256_after=item.sha_new,
                )
                for item in staged
            ],
        )
        changelog.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(changelog, append(old_log, log_entry).decode("utf-8"))
        seq = log_entry.seq
        # past the commit point: nothing left to undo, so the journal no longer needs old bytes
        _write_journal(root, [], "logged", settings.changelog, old_log, seq)
    except BaseException as exc:
        _rollback(staged, changelog, old_log, configs)
        with contextlib.suppress(FileNotFoundError):
            _journal_path(root).unlink()
        if isinstance(exc, SecretsmgrError | KeyboardInterrupt):
            raise
        raise RotationAbortedError(
            f"rotation failed while writing ({type(exc).__name__}); every file was restored"
        ) from exc

    # 8. commit, 9. drop the journal
    sha = None
    try:
        if request.commit:
            fault("commit", 0)
            message = (
                f"secrets: {request.action} {plan.label} ({plural(len(staged), 'file')})\n\n"
                f"{request.reason or 'no reason given'}\n\nSecrets-Changelog-Seq: {seq}\n"
            )
            paths = [item.entry.path for item in staged] + [c.path for c in configs]
            paths.append(settings.changelog)
            sha = git.commit(root, paths, message)
    except Exception as exc:
        why = exc.message if isinstance(exc, SecretsmgrError) else type(exc).__name__
        raise RefusedError(
            f"rotated {plural(len(staged), 'file')} (changelog seq {seq}) "
            f"but the commit failed: {why}",
            hints=("the files and the changelog are changed on disk; commit them yourself",),
        ) from exc
    finally:
        _cleanup(staged, configs)
        with contextlib.suppress(FileNotFoundError):
            _journal_path(root).unlink()
    return RotationResult(plan, seq, sha, time.perf_counter() - started, recovered)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _write_temp(temp: Path, text: str, target: Path, umask: int) -> None:
    """A new file (never an existing one) with the target's permission bits, in one create."""
    try:
        mode = target.stat().st_mode & 0o777
    except OSError:
        mode = 0o644
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
        if mode & umask:
            os.fchmod(fd, mode)  # the umask took bits the target has
        handle.write(text)


def _write_journal(
    root: Path,
    staged: list[_Staged],
    phase: str,
    changelog: str,
    old_log: bytes,
    seq: int | None = None,
    *,
    configs: Sequence[_ConfigWrite] = (),
) -> None:
    state = {
        "phase": phase,
        "seq": seq,
        "changelog": changelog,
        "changelog_old": old_log.hex(),
        "files": [
            {
                "path": item.entry.path,
                "sha_old": item.sha_old,
                "sha_new": item.sha_new,
                "temp": _rel(root, item.abs_path.parent / f"{item.temp.name}")
                if item.temp is not None
                else None,
                "old": item.old_text,
            }
            for item in staged
        ],
        "configs": [
            {
                "path": c.path,
                "old": c.old_text,
                "new": c.new_text,
                "temp": _rel(root, c.temp),
            }
            for c in configs
        ],
    }
    write_atomic(_journal_path(root), json.dumps(state, sort_keys=True), mode=0o600)


def _read_optional(path: Path) -> str | None:
    """A file's text exactly as on disk (line endings kept), or None when it is absent."""
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def _rel(root: Path, path: Path | None) -> str | None:
    return None if path is None else path.relative_to(root).as_posix()


def _rollback(
    staged: list[_Staged],
    changelog: Path,
    old_log: bytes,
    configs: Sequence[_ConfigWrite] = (),
) -> None:
    for item in staged:
        if _sha_file(item.abs_path) != item.sha_old:
            write_atomic(item.abs_path, item.old_text)
    for config in configs:
        if config.temp is not None:
            continue  # never replaced
        if config.old_text is None:
            with contextlib.suppress(FileNotFoundError):
                config.abs_path.unlink()
        elif _sha_file(config.abs_path) != config.sha_old:
            write_atomic(config.abs_path, config.old_text)
    now = changelog.read_bytes() if changelog.exists() else b""
    if now != old_log:
        if old_log:
            write_atomic(changelog, old_log.decode("utf-8"))
        else:
            changelog.unlink()
    _cleanup(staged, configs)


def _cleanup(staged: list[_Staged], configs: Sequence[_ConfigWrite] = ()) -> None:
    writes: list[_Staged | _ConfigWrite] = [*staged, *configs]
    for write in writes:
        if write.temp is not None:
            with contextlib.suppress(FileNotFoundError):
                write.temp.unlink()
        write.temp = None
