"""``check``: judge the repository as the next commit will hold it (the git index).

The staged files are the focus: every finding on them is reported. Elsewhere, only what the
staged change causes: a finding on another file is reported when HEAD did not have it (same
rule, path and key path). The files whose findings can change are found from the change itself:

- the changed files (added, modified, deleted, renamed);
- every file, when `.sops.yaml` or `.secretsmgr.yaml` changed (creation rules, cluster keys);
- the files whose layers changed, when the Flux/kustomize model differs from HEAD's;
- the files that share a wrapped data key or MAC with a changed SOPS file (a staged copy).

Both states are audited over those files only; everything else is the same in both. A blob
cache in the git directory answers detector hits, fingerprints and layer graphs it has seen.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
from collections.abc import Callable, Mapping, Sequence
from dataclasses import fields, replace
from functools import partial
from pathlib import Path

from secretsmgr.audit.engine import load_context, run_rules
from secretsmgr.audit.finding import AuditReport, Finding, Severity
from secretsmgr.audit.registry import RULES
from secretsmgr.errors import ConfigError, SecretsmgrError, UsageError
from secretsmgr.gate.cache import COMMIT_FIELD, cache_folder
from secretsmgr.gate.facts import GateCache
from secretsmgr.plural import plural
from secretsmgr.repo import git, gitlog
from secretsmgr.repo.flux import LayerGraph, find_layers
from secretsmgr.repo.inventory import EMPTY_ENV, LiveKeys
from secretsmgr.repo.lock import state_dir
from secretsmgr.repo.settings import SETTINGS_NAME, settings_of
from secretsmgr.repo.snapshot import CommitSnapshot, IndexSnapshot, Snapshot
from secretsmgr.repo.sopsconfig import SOPS_CONFIG_NAME, SopsConfigs
from secretsmgr.shellword import sh_path

CONFIG_NAMES = frozenset({SOPS_CONFIG_NAME, SETTINGS_NAME})
Identity = tuple[str, str, str]


def identity(finding: Finding) -> Identity:
    """What makes two findings the same: rule, path, key path (never a line or a message)."""
    return (finding.rule, finding.path, finding.key_path or "")


def open_cache(root: Path) -> GateCache:
    """The blob cache of the repository at ``root`` (in its git directory)."""
    return GateCache.open(cache_folder(state_dir(root)), RULES)


class _WithUntracked:
    """The index plus files a user named that git does not track yet (read from disk)."""

    def __init__(self, index: IndexSnapshot, extra: Sequence[str]) -> None:
        self.index = index
        self._extra = frozenset(extra)
        self._paths = tuple(sorted(set(index.paths) | self._extra))

    @property
    def root(self) -> Path:
        return self.index.root

    @property
    def paths(self) -> tuple[str, ...]:
        return self._paths

    @property
    def links(self) -> frozenset[str]:
        return self.index.links | {p for p in self._extra if (self.root / p).is_symlink()}

    def link_target(self, path: str) -> str | None:
        if path not in self._extra:
            return self.index.link_target(path)
        real = (self.root / path).resolve()
        try:
            return real.relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return None

    def read(self, path: str) -> bytes:
        if path in self._extra:
            if path in self.links and self.link_target(path) is None:
                raise PermissionError(f"{path}: a symbolic link out of the repository")
            return (self.index.root / path).read_bytes()
        return self.index.read(path)

    def blob_id(self, path: str) -> str | None:
        return None if path in self._extra else self.index.blob_id(path)

    def changed_since_head(self) -> Sequence[tuple[str, str, str]]:
        return self.index.changed_since_head()


def unstaged_config(root: Path) -> list[tuple[str, bool]]:
    """`.secretsmgr.yaml` and the baseline where the files on disk differ from what the index
    holds (changed, untracked or git-ignored), each with whether the index holds it at all:
    the gate takes neither from disk."""
    from secretsmgr.gate.baseline import BASELINE_NAME

    if git.describe(root) is None:
        return []
    return git.unstaged_paths(root, [SETTINGS_NAME, BASELINE_NAME])


class _HeadSettings:
    """A staged state with HEAD's `.secretsmgr.yaml` in place of its own (none where HEAD has
    none): what the gate would find if the change left the settings alone."""

    def __init__(self, state: Snapshot, head: Snapshot | None) -> None:
        self.state = state
        self.head = head
        held = head is not None and SETTINGS_NAME in head.paths
        others = [p for p in state.paths if p != SETTINGS_NAME]
        self._paths = tuple(sorted([*others, SETTINGS_NAME] if held else others))

    @property
    def root(self) -> Path:
        return self.state.root

    @property
    def paths(self) -> tuple[str, ...]:
        return self._paths

    @property
    def links(self) -> frozenset[str]:
        return self.state.links - {SETTINGS_NAME}

    def link_target(self, path: str) -> str | None:
        return self.state.link_target(path)

    def read(self, path: str) -> bytes:
        if path == SETTINGS_NAME and self.head is not None:
            return self.head.read(path)
        return self.state.read(path)

    def blob_id(self, path: str) -> str | None:
        if path == SETTINGS_NAME:
            return self.head.blob_id(path) if self.head is not None else None
        return self.state.blob_id(path)


def _layer_context(graph: LayerGraph, path: str) -> tuple[object, ...]:
    """Everything about the layers reaching ``path`` that a rule may read, membership included.

    Generic over the layer model: each field of each reaching layer, with file sets reduced to
    whether they hold ``path``.
    """
    out: list[object] = []
    for layer in graph.placements(path):
        for f in fields(layer):
            value = getattr(layer, f.name)
            if isinstance(value, frozenset):
                value = path in value
            elif isinstance(value, Mapping):
                value = value.get(path)  # what the layer does with this file (uses)
            out.append((f.name, value))
    return tuple(out)


def layer_builder(snap: Snapshot) -> Callable[[Snapshot], LayerGraph]:
    """The layer build the inventory runs for ``snap`` (its settings name clusters, sources)."""
    settings = settings_of(snap)
    return partial(find_layers, clusters=settings.clusters, sources=dict(settings.sources))


def _layers_changed(old: LayerGraph, new: LayerGraph, paths: set[str]) -> set[str]:
    if old == new:
        return set()
    return {p for p in paths if _layer_context(old, p) != _layer_context(new, p)}


def _copies(
    cache: GateCache,
    snap: Snapshot,
    head: CommitSnapshot | None,
    changed: set[str],
    focus: set[str],
) -> set[str]:
    """Files sharing a wrapped data key or MAC with a changed (or focused) SOPS file, and those
    files: the staged copy against every tracked file. The fingerprints of HEAD's files are
    cached per commit; only the changed files are read."""
    present = set(snap.paths)
    prints = _head_prints(cache, head) if head is not None else {}
    for path in changed:
        prints.pop(path, None)
        if path in present:
            found = cache.fingerprints(snap, path)
            if found:
                prints[path] = "".join(found)
    wanted = {fp for p in changed | focus if p in present for fp in _split(prints.get(p, ""))}
    if not wanted:
        return set()
    return {
        p
        for p, run in prints.items()
        if any(fp in run for fp in wanted) and wanted.intersection(_split(run))
    }


def _prints_key(commit: str, root: Path) -> str:
    return hashlib.sha256(f"{commit}\0{root}".encode("utf-8", "surrogateescape")).hexdigest()[:40]


def _head_prints(cache: GateCache, head: CommitSnapshot) -> dict[str, str]:
    """HEAD's path -> fingerprints map: cached per commit; else the newest cached map moved
    forward by the files that changed since its commit (a new commit reads only those)."""
    key = _prints_key(head.commit, head.root)
    known = cache.store.prints(key)
    if known is not None:
        return {p: v for p, v in known.items() if p != COMMIT_FIELD}
    latest = cache.store.latest_prints()
    base = cache.store.prints(latest) if latest is not None else None
    old = base.get(COMMIT_FIELD) if base is not None else None
    prints: dict[str, str]
    if base is not None and old is not None and _prints_key(old, head.root) == latest:
        prints = {p: v for p, v in base.items() if p != COMMIT_FIELD}
        try:
            changes = gitlog.changed_between(head.root, old, head.commit)
        except ConfigError:
            changes = None  # the old commit is gone (rebased, gc'd): build afresh
        if changes is not None:
            for path, blob in changes:
                prints.pop(path, None)
                if blob:
                    found = cache.fingerprints(head, path)
                    if found:
                        prints[path] = "".join(found)
            cache.store.store_prints(key, {**prints, COMMIT_FIELD: head.commit})
            return prints
    prints = cache.print_map(head, None)  # reads go through the index when equal
    cache.store.store_prints(key, {**prints, COMMIT_FIELD: head.commit})
    return prints


def _split(run: str) -> list[str]:
    return [run[i : i + 32] for i in range(0, len(run), 32)]


def judge_index(
    root: Path,
    files: Sequence[str] | None = None,
    *,
    env: Mapping[str, str] = EMPTY_ENV,
    live_cluster: LiveKeys | Sequence[LiveKeys] | None = None,
    cache: GateCache | None = None,
) -> AuditReport:
    """The key-less findings of the index: on ``files`` (repo-relative), plus those the staged
    change causes elsewhere; with ``files`` None, every finding of the index.

    Outside git the working tree is judged instead.
    """
    facts = git.describe(root)
    if facts is None:
        ctx = load_context(root, files=files, env=env, live_cluster=live_cluster)
        return run_rules(ctx, keyless_only=True)
    _, state, head_id = facts
    if cache is None:
        cache = GateCache.open(cache_folder(Path(os.path.abspath(state))), RULES)
    index = IndexSnapshot(root)
    head = CommitSnapshot.beside(index, head_id) if head_id is not None else None
    try:
        if files is None and head is not None and not index.paths:
            _refuse_missing_index(root, head)
        untracked = [f for f in files or () if index.blob_id(f) is None and (root / f).is_file()]
        snap: Snapshot = _WithUntracked(index, untracked) if untracked else index
        missing = [f for f in files or () if f not in set(snap.paths)]
        if missing:
            raise UsageError(f"{missing[0]}: no such file in the index or the working tree")

        def audit(state: Snapshot, scope: Sequence[str] | None) -> AuditReport:
            ctx = load_context(
                root,
                files=scope,
                env=env,
                live_cluster=live_cluster,
                snapshot=state,
                cache=cache,
            )
            return run_rules(ctx, keyless_only=True)

        if files is None:
            report = _encrypted_since_staged(root, snap, audit(snap, None))
            report = _hidden_by_settings(report, snap, head, lambda s: audit(s, None))
            return _staged_only(_rotate_staged(report, snap, head), snap, head)
        focus = set(files)
        scope = _scope(cache, snap, head, focus)
        now = audit(snap, sorted(scope & set(snap.paths)))
        before: set[Identity] = set()
        if head is not None:
            in_head = sorted(scope & set(head.paths))
            before = {identity(f) for f in audit(head, in_head).findings} if in_head else set()
        kept = tuple(f for f in now.findings if f.path in focus or identity(f) not in before)
        report = _encrypted_since_staged(root, snap, replace(now, findings=kept))
        in_scope = sorted(scope & set(snap.paths))
        report = _hidden_by_settings(report, snap, head, lambda s: audit(s, in_scope))
        return _staged_only(_rotate_staged(report, snap, head), snap, head)
    finally:
        index.close()
        if head is not None:
            head.close()
        cache.save()


_IN_GIT = ": it is in git"


def _hidden_by_settings(
    report: AuditReport,
    snap: Snapshot,
    head: Snapshot | None,
    audit: Callable[[Snapshot], AuditReport],
) -> AuditReport:
    """The errors the staged `.secretsmgr.yaml` hides where HEAD's showed them, each with why:
    an ``ignore:`` entry (and its reason), or what else the settings changed (``sources:``
    that move a layer, ``outside_flux:``, ``clusters:``). A change that silenced its own
    finding passed without a word (the attack review of stop 44)."""
    if head is not None and snap.blob_id(SETTINGS_NAME) == head.blob_id(SETTINGS_NAME):
        return report
    if head is None and SETTINGS_NAME not in snap.paths:
        return report
    before = audit(_HeadSettings(snap, head))
    shown = {identity(f) for f in report.findings if f.severity is Severity.ERROR}
    staged = settings_of(snap)
    hidden: list[tuple[Finding, str]] = []
    for finding in before.findings:
        if finding.severity is not Severity.ERROR or identity(finding) in shown:
            continue
        entry = next(
            (e for e in staged.ignore if e.matches(finding.rule, finding.path, finding.key_path)),
            None,
        )
        why = f"ignore: {entry.reason}" if entry is not None else f"its {SETTINGS_NAME}"
        hidden.append((finding, why))
    if not hidden:
        return report
    return replace(report, newly_ignored=(*report.newly_ignored, *hidden))


def _rotate_staged(report: AuditReport, index: Snapshot, head: Snapshot | None) -> AuditReport:
    """A fix that rotates a file whose staged content HEAD does not hold takes ``--allow-dirty``:
    rotate refuses a file with uncommitted changes, and the gate blocks the commit that would
    give it none (sweep H of stop 55: SM004's fix failed when pasted)."""

    def staged(path: str) -> bool:
        return head is None or path not in head.paths or index.blob_id(path) != head.blob_id(path)

    plain = "secretsmgr rotate "
    kept = tuple(
        replace(f, fix=f.fix.replace(plain, plain + "--allow-dirty ", 1))
        if f.fix is not None and f.fix.startswith(plain) and staged(f.path)
        else f
        for f in report.findings
    )
    return replace(report, findings=kept)


def _staged_only(report: AuditReport, index: Snapshot, head: Snapshot | None) -> AuditReport:
    """A fix that says to rotate a value "it is in git" of a file whose staged content HEAD
    does not hold: the value may be staged only, not committed (sweeps 57, 59 and 60: the gate
    told users their value was in git when it had never been). A file HEAD holds as staged
    keeps the words."""
    present = set(head.paths) if head is not None else set()
    texts: dict[str, tuple[list[str], set[str]] | None] = {}

    def lines_of(path: str) -> tuple[list[str], set[str]] | None:
        if path not in texts:
            try:
                staged = index.read(path).decode("utf-8", "replace").splitlines()
                committed = head.read(path).decode("utf-8", "replace") if head else ""
                texts[path] = (staged, set(committed.splitlines()))
            except OSError:
                texts[path] = None
        return texts[path]

    def why(finding: Finding) -> str | None:
        if finding.path not in present:
            return "the file is new: staged, not in git yet"
        found = lines_of(finding.path)
        if found is None:
            return None
        staged, committed = found
        line = finding.line
        if line is not None and 0 < line <= len(staged):
            # its line as HEAD has it: the value is committed (the attack review: an edit of
            # another line said it may not be)
            if staged[line - 1] in committed:
                return None
            return "this change to the file is staged, not in git yet"
        return None if set(staged) == committed else "staged, perhaps not in git yet"

    # a plaintext Secret whose value lines HEAD holds: its values are in git already, which
    # SM001's fix (encrypt it) does not say (sweep 66: a committed demo Secret's password)
    plaintext = [f for f in report.findings if f.rule == "SM001" and f.severity is Severity.ERROR]
    # every one of the file's values on a line HEAD holds (the attack review: one committed
    # user name beside a new, only staged password made the note claim both)
    committed = tuple(
        path
        for path in dict.fromkeys(f.path for f in plaintext)
        if path in present
        and lines_of(path) is not None
        and all(f.line is not None and why(f) is None for f in plaintext if f.path == path)
    )
    if committed:
        report = replace(report, committed_plaintext=committed)
    reasons = {id(f): why(f) for f in report.findings if f.fix and _IN_GIT in f.fix}
    if not any(reasons.values()):
        return report
    findings = tuple(
        replace(f, fix=f.fix.replace(_IN_GIT, f" if it was ever committed ({reasons[id(f)]})", 1))
        if f.fix and reasons.get(id(f))
        else f
        for f in report.findings
    )
    return replace(report, findings=findings)


def _encrypted_since_staged(root: Path, index: Snapshot, report: AuditReport) -> AuditReport:
    """A plaintext file whose copy on disk is now the same document SOPS-encrypted as its rule
    says: the fix is to stage it (sweep 42, ZicTec/pi-cluster: check kept printing `encrypt
    -i` after it had run, as it reads the index, and pasted again encrypt refused the file)."""
    paths = {f.path for f in report.findings if f.rule in ("SM001", "SM002")}
    cleared = {f.path for f in report.findings if f.rule == "SM003"} - paths
    if not paths and not cleared:
        return report
    configs = SopsConfigs(index)  # the staged rules: the commit is judged by them
    staged = {p for p in paths if _encrypted_as_its_rule_says(root, p, configs, index)}
    # a value added in clear that `set` or `unset` has since dealt with on disk (sweep 59,
    # prtzb/chezmoi-l8s: check repeated SM003's `secretsmgr set`, and pasted again it would
    # have replaced the new value)
    mended = {p for p in cleared if _no_clear_value_on_disk(root, p, configs, index)}
    if not staged and not mended:
        return report
    findings = tuple(
        # the why in the message, the fix a command alone: pasted whole, a fix ending in words
        # in brackets was a shell syntax error (sweep 82, Haasie/kube-cluster)
        replace(
            f,
            message=f"{f.message} (in the index; on disk it is encrypted since it was staged)",
            fix=f"git add {sh_path(f.path)}",
        )
        if f.path in staged and f.rule in ("SM001", "SM002", "SM003", "SM018")
        else replace(
            f,
            message=f"{f.message} (in the index; on disk no value is in clear since it was staged)",
            fix=f"git add {sh_path(f.path)}",
        )
        if f.path in mended and f.rule == "SM003"
        else f
        for f in report.findings
    )
    return replace(report, findings=findings)


def _on_disk(root: Path, path: str) -> bytes | None:
    """The bytes of ``path`` in the working tree: a regular file of 16 MiB at most, with no
    link on the way (None otherwise); ``OSError`` when it cannot be read."""
    from secretsmgr.fsutil import confined

    disk, _ = confined(root, path)  # no link, nor a folder under one
    if not disk.is_file() or disk.stat().st_size > 1 << 24:
        return None
    return disk.read_bytes()


def _no_clear_value_on_disk(root: Path, path: str, configs: SopsConfigs, index: Snapshot) -> bool:
    """Whether the file on disk differs from the staged one and is a SOPS file with every value
    its metadata selects encrypted (the MAC is not checked here: that needs the key)."""
    from secretsmgr.repo.sopsentry import read_sops_entry
    from secretsmgr.sops.document import format_for_text

    try:
        data = _on_disk(root, path)
        staged = index.read(path)
        if data is None or data == staged:
            return False
        rule = configs.rule_for(path)
        fmt = format_for_text(posixpath.basename(path), data.decode("utf-8"))
        entry = read_sops_entry(path, data, fmt, rule)
        before = read_sops_entry(path, staged, fmt, rule)
    except (OSError, UnicodeDecodeError, SecretsmgrError, RecursionError):
        return False
    if entry is None or entry.sops_file is None or before is None or before.sops_file is None:
        return False
    # what set and unset keep: the encryption rule and the keys (the attack review: a file
    # whose own encrypted_regex was narrowed on disk left the value in clear, "no value in
    # clear" by its own rule, and `git add` committed it)
    now, then = entry.sops_file.metadata, before.sops_file.metadata
    return (
        not entry.plaintext_leaves
        and not entry.malformed_leaves
        and now.rule == then.rule
        and now.mac_only_encrypted == then.mac_only_encrypted
        and now.key_groups == then.key_groups
    )


def _encrypted_as_its_rule_says(
    root: Path, path: str, configs: SopsConfigs, index: Snapshot
) -> bool:
    """Whether the file on disk is the staged document encrypted as its creation rule says:
    its rule's age keys exactly, nothing the rule encrypts left in clear, the same keys as the
    staged file (the attack review: a file encrypted to a stranger's key, one with its values
    in clear under a copied sops block, and another file's content each got `git add`)."""
    from secretsmgr.audit.rules.sm011_creation_rule_drift import foreign_drift
    from secretsmgr.repo.sopsentry import read_sops_entry
    from secretsmgr.sops.document import format_for_text, parse_documents
    from secretsmgr.sops.model import EncryptionRule, RuleKind

    try:
        data = _on_disk(root, path)
        if data is None:
            return False
        fmt = format_for_text(posixpath.basename(path), data.decode("utf-8"))
        rule = configs.rule_for(path)
        entry = read_sops_entry(path, data, fmt, rule, named=True)
        # the staged bytes may hold some that are not UTF-8 (SM001 drops them on disk first)
        before = parse_documents(index.read(path).decode("utf-8", "replace"), fmt)
    except (OSError, UnicodeDecodeError, SecretsmgrError, RecursionError):
        return False
    if entry is None or entry.sops_file is None or entry.plaintext_leaves or rule[1] is None:
        return False
    creation, meta = rule[1], entry.sops_file.metadata
    wanted = {key for group in creation.key_groups for key in group.age}
    # a rule of PGP or KMS keys only names no age key: its keys are compared below (sweep 71,
    # dashaun-cloud/flux-control: after the printed `sops encrypt -i` ran, check printed it
    # again, and pasted again sops refused the file as encrypted already)
    names_keys = bool(wanted) or any(group.pgp or group.other for group in creation.key_groups)
    if not names_keys or set(meta.age_recipients) != wanted:
        return False
    # the rule's groups, threshold, other keys, encryption rule and MAC setting too (the
    # attack review: an extra KMS key, one group for a shamir rule of two, a narrower
    # encrypted_regex each got `git add`)
    groups = len(creation.key_groups)
    if len(meta.key_groups) != groups or (meta.shamir_threshold or groups) != (
        creation.shamir_threshold or groups
    ):
        return False
    spec = creation.encryption_rule
    if foreign_drift(creation, meta) or meta.mac_only_encrypted != creation.mac_only_encrypted:
        return False
    if meta.rule != (EncryptionRule(RuleKind(spec.kind), spec.value) if spec else EncryptionRule()):
        return False
    return _key_paths(before) == _key_paths(entry.sops_file.docs)


def _key_paths(docs: Sequence[object]) -> set[tuple[int, tuple[str, ...]]]:
    from secretsmgr.sops.model import EncryptionRule
    from secretsmgr.sops.rules import iter_leaves
    from secretsmgr.sops.tree import MapNode, SeqNode

    return {
        (n, tuple(str(p) for p in path))
        for n, doc in enumerate(docs)
        if isinstance(doc, MapNode | SeqNode)
        for path, _, _ in iter_leaves(
            doc.without("sops") if isinstance(doc, MapNode) else doc, EncryptionRule()
        )
    }


def _refuse_missing_index(root: Path, head: CommitSnapshot) -> None:
    """Refuse to judge an index that does not exist while HEAD holds files (a checkout that
    failed, moredatapls/homeserver in sweep 10): it lists no file, and a gate that judged none
    would pass. An empty index git wrote (``git rm -r --cached .``) is judged as it is."""
    if not head.paths or git.git_path(root, "index").exists():
        return
    raise UsageError(
        f"the git index is missing while HEAD holds {plural(len(head.paths), 'file')}: check "
        "judges the index and would find no file to judge (a checkout that failed?)",
        hints=(
            "rebuild the index from HEAD, keeping the working tree: git reset",
            "or check HEAD's files out again: git checkout -f HEAD",
        ),
    )


def _scope(
    cache: GateCache, snap: Snapshot, head: CommitSnapshot | None, focus: set[str]
) -> set[str]:
    """The files whose findings the staged change (or ``focus``) may change."""
    now_blobs = {p: snap.blob_id(p) for p in snap.paths}
    old_blobs = head.blobs if head is not None else {}
    everything = set(now_blobs) | set(old_blobs)
    changed = {p for p in everything if now_blobs.get(p, "-") != old_blobs.get(p, "-")}
    changed |= {p for p, blob in now_blobs.items() if blob is None}  # named, untracked
    scope = focus | changed
    if any(posixpath.basename(p) in CONFIG_NAMES for p in changed):
        return everything
    if head is not None and changed and not cache.same_layers(snap, head):
        now_graph = cache.layers(snap, layer_builder(snap))
        old_graph = cache.layers(head, layer_builder(head))
        scope |= _layers_changed(old_graph, now_graph, everything)
    scope |= _copies(cache, snap, head, changed, focus)
    return scope
