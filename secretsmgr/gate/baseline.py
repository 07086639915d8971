"""Adoption for existing repositories: findings already present do not block.

Two sources of "already present", as linters do it:
- a committed baseline, ``.secretsmgr-baseline.json`` (``secretsmgr baseline`` writes it, as
  detect-secrets keeps ``.secrets.baseline``): rule, path, key path, a fingerprint and the
  digests of its lines per finding, never a value;
- ``--new-since REV``: the findings the repository had at commit REV.

A finding whose identity (rule, path, key path) is in either is taken out of the report and
counted in its summary (``baselined``); only new findings can fail the run. Where the finding
has a line, its value counts too: a baseline (version 2) keeps a digest of the line each
finding was on (salted with its rule, path and key path, as detect-secrets keeps a hash of each
secret), and ``--new-since`` reads the line at that commit; a finding whose line no longer
matches holds a new value, and is new (the attack review of stop 44: a baselined key path let
any later password there pass). A version 1 baseline, which kept no digest, is read as before.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import secretsmgr
from secretsmgr.audit.engine import load_context, run_rules
from secretsmgr.audit.finding import AuditReport, Finding, Severity
from secretsmgr.errors import ConfigError, UsageError
from secretsmgr.fsutil import write_atomic
from secretsmgr.gate.facts import GateCache
from secretsmgr.repo import git
from secretsmgr.repo.inventory import EMPTY_ENV, LiveKeys
from secretsmgr.repo.snapshot import CommitSnapshot, IndexSnapshot, Snapshot

BASELINE_NAME = ".secretsmgr-baseline.json"
BASELINE_VERSION = 2
_READABLE = (1, 2)
Identity = tuple[str, str, str]
# each known identity, with the digests of the lines its findings were on (None: any line, a
# version 1 entry or a finding with no line)
Known = dict[Identity, frozenset[str] | None]
Lines = Callable[[str], Sequence[str] | None]


def _no_lines(_path: str) -> Sequence[str] | None:
    return None


# rules whose finding with no line is about the file's whole content (a generator's password
# file, a plaintext file named like a SOPS file, a private key file): its digest is the file's
_CONTENT_RULES = frozenset({"SM001", "SM002", "SM009", "SM018"})
_TRAILING_COMMENT = re.compile(r"""[ \t]+#[^'"]*$""")


def _normal(line: str) -> str:
    """A line as its value reads: no quotes, no trailing comment, no outer blanks (the review:
    quotes or a comment added to a baselined line made it a new finding)."""
    return _TRAILING_COMMENT.sub("", line).replace('"', "").replace("'", "").strip()


def line_digest(finding: Finding, lines: Lines) -> str | None:
    """A digest of what ``finding`` is on, salted with its identity: its line, with the lines
    of a block scalar below it (``key: |``, whose value lines change beneath an unchanged key
    line); the whole file for a content rule's finding with no line; else None."""
    text = lines(finding.path)
    if text is None:
        return None
    if finding.line is None:
        if finding.rule not in _CONTENT_RULES or not text:
            return None
        held = "\n".join(_normal(line) for line in text)
    else:
        if not 0 < finding.line <= len(text):
            return None
        first = text[finding.line - 1]
        indent = len(first) - len(first.lstrip())
        block = [first]
        for below in text[finding.line :]:
            if below.strip() and len(below) - len(below.lstrip()) <= indent:
                break
            block.append(below)
        held = "\n".join(_normal(line) for line in block).strip()
    if not held:
        return None
    data = "\0".join((*identity(finding), held)).encode("utf-8", "surrogateescape")
    return hashlib.sha256(data).hexdigest()[:32]


def known_of(findings: Iterable[Finding], lines: Lines) -> Known:
    """Each finding's identity with the digests of its lines (None where one has none)."""
    known: dict[Identity, set[str] | None] = {}
    for finding in findings:
        ident, digest = identity(finding), line_digest(finding, lines)
        held = known.setdefault(ident, set())
        if digest is None or held is None:
            known[ident] = None
        else:
            held.add(digest)
    return {k: None if v is None else frozenset(v) for k, v in known.items()}


def _reader(read: Callable[[str], bytes]) -> Lines:
    """``Lines`` over ``read``, each file read once; None where it cannot be read."""
    cache: dict[str, Sequence[str] | None] = {}

    def lines(path: str) -> Sequence[str] | None:
        if path not in cache:
            try:
                cache[path] = read(path).decode("utf-8", "replace").splitlines()
            except (OSError, ValueError):
                cache[path] = None
        return cache[path]

    return lines


def disk_lines(root: Path) -> Lines:
    """The lines of the files on disk (a symbolic link is not followed: it may lead out of the
    repository, and a link is judged as the link git tracks)."""

    def read(path: str) -> bytes:
        full = root / path
        if full.is_symlink():
            raise OSError(f"{path}: a symbolic link")
        return full.read_bytes()

    return _reader(read)


def _index_lines(root: Path, index: IndexSnapshot) -> Lines:
    """The lines of the files as ``index`` holds them (on disk for a file it does not hold,
    one named to ``check`` untracked)."""
    on_disk = disk_lines(root)
    in_index = _reader(index.read)
    return lambda path: on_disk(path) if index.blob_id(path) is None else in_index(path)


@contextlib.contextmanager
def staged_lines(root: Path) -> Iterator[Lines]:
    """The lines of the files as the index holds them; on disk outside git."""
    if git.describe(root) is None:
        yield disk_lines(root)
        return
    index = IndexSnapshot(root)
    try:
        yield _index_lines(root, index)
    finally:
        index.close()


@contextlib.contextmanager
def _staged(root: Path) -> Iterator[tuple[Known, Lines]]:
    """The baseline and the lines of the files, both as the index holds them, which is what
    the commit will hold: a baseline file that is not staged (changed, untracked or
    git-ignored) counts for nothing (the attack review of stop 44). Outside git, on disk."""
    if git.describe(root) is None:
        yield load_baseline(root), disk_lines(root)
        return
    index = IndexSnapshot(root)
    try:
        yield baseline_in(index), _index_lines(root, index)
    finally:
        index.close()


def identity(finding: Finding) -> Identity:
    """What makes two findings the same: rule, path, key path (never a line or a message)."""
    return (finding.rule, finding.path, finding.key_path or "")


def fingerprint(ident: Identity) -> str:
    """A stable digest of a finding's identity (SARIF-style partial fingerprint)."""
    return hashlib.sha256("\0".join(ident).encode("utf-8", "surrogateescape")).hexdigest()[:32]


def format_baseline(findings: Iterable[Finding], lines: Lines = _no_lines) -> str:
    """The baseline file for ``findings``: sorted, one entry per identity, never a value (the
    digests of the lines its findings are on, which ``lines`` reads)."""
    known = known_of(findings, lines)
    entries = [
        {
            "rule": rule,
            "path": path,
            "key_path": key_path or None,
            "fingerprint": fingerprint((rule, path, key_path)),
            "lines": sorted(known[(rule, path, key_path)] or ()),
        }
        for rule, path, key_path in sorted(known)
    ]
    doc = {
        "version": BASELINE_VERSION,
        "generated_by": f"secretsmgr {secretsmgr.__version__}",
        "findings": entries,
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def write_baseline(root: Path, findings: Iterable[Finding], lines: Lines = _no_lines) -> Path:
    """Write ``.secretsmgr-baseline.json`` at ``root`` atomically; return its path."""
    target = root / BASELINE_NAME
    write_atomic(target, format_baseline(findings, lines))
    return target


_FIELDS = {1: {"rule", "path", "key_path", "fingerprint"}}
_FIELDS[2] = _FIELDS[1] | {"lines"}


def parse_baseline(text: str) -> Known:
    """The identities a baseline lists, with their line digests (a version 1 entry, or one
    with none: any line); ``ConfigError`` naming what is wrong, never guessing."""
    where = BASELINE_NAME
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"{where}: not valid JSON") from exc
    version = doc.get("version") if isinstance(doc, dict) else None
    if version not in _READABLE or isinstance(version, bool):
        raise ConfigError(f"{where}: not a version {BASELINE_VERSION} secretsmgr baseline")
    items = doc.get("findings")
    if not isinstance(items, list):
        raise ConfigError(f"{where}: findings must be a list")
    fields = _FIELDS[version]
    known: Known = {}
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict) or set(item) != fields:
            raise ConfigError(f"{where}: finding {number} needs {', '.join(sorted(fields))}")
        rule, path, key_path = item["rule"], item["path"], item["key_path"]
        if not isinstance(rule, str) or not isinstance(path, str):
            raise ConfigError(f"{where}: finding {number} has no rule or path")
        if key_path is not None and not isinstance(key_path, str):
            raise ConfigError(f"{where}: finding {number} has a malformed key_path")
        ident = (rule, path, key_path or "")
        if item["fingerprint"] != fingerprint(ident):
            raise ConfigError(f"{where}: finding {number} has a fingerprint that does not match")
        digests = item.get("lines", [])
        if not isinstance(digests, list) or not all(isinstance(d, str) for d in digests):
            raise ConfigError(f"{where}: finding {number} has malformed lines")
        known[ident] = frozenset(digests) or None
    return known


def load_baseline(root: Path) -> Known:
    """The committed baseline at ``root`` (empty when there is none)."""
    try:
        text = (root / BASELINE_NAME).read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{BASELINE_NAME}: cannot be read") from exc
    return parse_baseline(text)


def baseline_in(snap: Snapshot) -> Known:
    """The baseline a git state holds ({} for none)."""
    if BASELINE_NAME not in snap.paths:
        return {}
    try:
        text = snap.read(BASELINE_NAME).decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{BASELINE_NAME}: cannot be read") from exc
    return parse_baseline(text)


def findings_at(
    root: Path,
    rev: str,
    *,
    files: Sequence[str] | None = None,
    keyless_only: bool = True,
    env: Mapping[str, str] = EMPTY_ENV,
    live_cluster: LiveKeys | Sequence[LiveKeys] | None = None,
    cluster_key: str | None = None,
    max_age_days: int | None = None,
    cache: GateCache | None = None,
) -> Known:
    """The identities of the findings the repository had at commit ``rev`` (``files`` only,
    when given), with the digests of their lines there; ``UsageError`` when ``rev`` names no
    commit."""
    commit = git.resolve_commit(root, rev) if git.toplevel(root) is not None else None
    if commit is None:
        raise UsageError(f"--new-since {rev}: not a commit of this repository")
    head = git.resolve_commit(root, "HEAD")
    if head is not None:
        # a commit HEAD's history does not hold (a push amended and forced since, a branch
        # that moved on) is compared where the two parted: what HEAD's side added since is
        # new, even if the other side held it too (the sixth attack review of the gate: a
        # plaintext Secret amended and pushed again passed --new-since the first push)
        base = git.merge_base(root, commit, head)
        if base is None:
            raise UsageError(f"--new-since {rev}: it shares no history with HEAD")
        commit = base
    snap = CommitSnapshot(root, commit)
    try:
        scope = None if files is None else sorted(set(files) & set(snap.paths))
        if scope == []:
            return {}
        ctx = load_context(
            root,
            files=scope,
            env=env,
            live_cluster=live_cluster,
            snapshot=snap,
            cache=cache,
            cluster_key=cluster_key,
            max_age_days=max_age_days,
        )
        report = run_rules(ctx, keyless_only=keyless_only)
        return known_of(report.findings, _reader(snap.read))
    finally:
        snap.close()


def without_known(report: AuditReport, known: Known, lines: Lines = _no_lines) -> AuditReport:
    """``report`` with the findings in ``known`` taken out and counted as baselined: those whose
    identity it lists, on a line it lists a digest of (any line where it lists none, or where
    the finding has none)."""
    if not known:
        return report

    def is_known(finding: Finding) -> bool:
        ident = identity(finding)
        if ident not in known:
            return False
        digests = known[ident]
        if digests is None:
            return True
        digest = line_digest(finding, lines)
        return digest is None or digest in digests

    kept = tuple(f for f in report.findings if not is_known(f))
    gone = len(report.findings) - len(kept)
    return replace(report, findings=kept, baselined=report.baselined + gone)


def _merge(a: Known, b: Known) -> Known:
    out = dict(a)
    for ident, digests in b.items():
        had = out.get(ident, frozenset())
        out[ident] = None if had is None or digests is None else had | digests
    return out


def adopted(
    root: Path,
    report: AuditReport,
    new_since: str | None,
    *,
    keyless_only: bool = True,
    env: Mapping[str, str] = EMPTY_ENV,
    live_cluster: LiveKeys | Sequence[LiveKeys] | None = None,
    cluster_key: str | None = None,
    max_age_days: int | None = None,
    staged: bool = False,
) -> AuditReport:
    """``report`` without the findings of the committed baseline and, with ``new_since``, those
    the repository had at that commit (judged over the reported files only). ``staged``: the
    baseline as the index holds it (the gate), else as it is on disk."""
    on_disk = contextlib.nullcontext((load_baseline(root), disk_lines(root)))
    state = _staged(root) if staged else on_disk
    with state as (baseline, lines):
        since: Known = {}
        if new_since is not None:
            paths = sorted({f.path for f in report.findings})
            if paths:
                since = findings_at(
                    root,
                    new_since,
                    files=paths,
                    keyless_only=keyless_only,
                    env=env,
                    live_cluster=live_cluster,
                    cluster_key=cluster_key,
                    max_age_days=max_age_days,
                )
            elif git.toplevel(root) is None or git.resolve_commit(root, new_since) is None:
                raise UsageError(f"--new-since {new_since}: not a commit of this repository")
        known = _merge(baseline, since)
        if not known:
            return report
        out = without_known(report, known, lines)
        # the baseline it is judged against: REV's with --new-since (in CI the commit holds its
        # baseline, HEAD's is the same: the sweep H of stop 55 found a new plaintext token and a
        # baseline holding it, committed together, passed CI without a word), else HEAD's
        if new_since is not None:
            reference, why = (
                _baseline_at(root, new_since),
                f"in a baseline changed since {new_since}",
            )
        else:
            reference, why = (
                _baseline_at(root, "HEAD") if staged else None,
                "in the staged baseline",
            )
        if reference is None or reference == baseline:
            return out
        # the baseline takes out errors the reference one kept: they are named (the attack
        # review of stop 44: a baseline written and staged with a new plaintext Secret passed
        # it without a word)
        before = without_known(report, _merge(reference, since), lines)
        kept = {identity(f) for f in out.findings}
        hidden = tuple(
            (f, why)
            for f in before.findings
            if f.severity is Severity.ERROR and identity(f) not in kept
        )
        return replace(out, newly_ignored=(*out.newly_ignored, *hidden)) if hidden else out


def _baseline_at(root: Path, rev: str) -> Known | None:
    """The baseline commit ``rev`` holds (where it parted from HEAD, for one HEAD's history does
    not hold; {} for none); None outside git or before the first commit."""
    if git.describe(root) is None:
        return None
    commit = git.resolve_commit(root, rev)
    head = git.resolve_commit(root, "HEAD")
    if commit is not None and head is not None and commit != head:
        commit = git.merge_base(root, commit, head)
    if commit is None:
        return None
    snap = CommitSnapshot(root, commit)
    try:
        return baseline_in(snap)
    except ConfigError:
        return {}  # a HEAD baseline that does not read: every staged entry is new
    finally:
        snap.close()
