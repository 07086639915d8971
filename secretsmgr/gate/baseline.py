"""Adoption for existing repositories: findings already present do not block.

Two sources of "already present", as linters do it:
- a committed baseline, ``.secretsmgr-baseline.json`` (``secretsmgr baseline`` writes it, as
  detect-secrets keeps ``.secrets.baseline``): rule, path, key path and a fingerprint per
  finding, never a value;
- ``--new-since REV``: the findings the repository had at commit REV.

A finding whose identity (rule, path, key path) is in either is taken out of the report and
counted in its summary (``baselined``); only new findings can fail the run.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import secretsmgr
from secretsmgr.audit.engine import load_context, run_rules
from secretsmgr.audit.finding import AuditReport, Finding
from secretsmgr.errors import ConfigError, UsageError
from secretsmgr.fsutil import write_atomic
from secretsmgr.gate.facts import GateCache
from secretsmgr.repo import git
from secretsmgr.repo.inventory import EMPTY_ENV, LiveKeys
from secretsmgr.repo.snapshot import CommitSnapshot, IndexSnapshot

BASELINE_NAME = ".secretsmgr-baseline.json"
BASELINE_VERSION = 1
Identity = tuple[str, str, str]


def identity(finding: Finding) -> Identity:
    """What makes two findings the same: rule, path, key path (never a line or a message)."""
    return (finding.rule, finding.path, finding.key_path or "")


def fingerprint(ident: Identity) -> str:
    """A stable digest of a finding's identity (SARIF-style partial fingerprint)."""
    return hashlib.sha256("\0".join(ident).encode("utf-8")).hexdigest()[:32]


def format_baseline(findings: Iterable[Finding]) -> str:
    """The baseline file for ``findings``: sorted, one entry per identity, never a value."""
    entries = {
        identity(f): {
            "rule": f.rule,
            "path": f.path,
            "key_path": f.key_path,
            "fingerprint": fingerprint(identity(f)),
        }
        for f in findings
    }
    doc = {
        "version": BASELINE_VERSION,
        "generated_by": f"secretsmgr {secretsmgr.__version__}",
        "findings": [entries[k] for k in sorted(entries)],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def write_baseline(root: Path, findings: Iterable[Finding]) -> Path:
    """Write ``.secretsmgr-baseline.json`` at ``root`` atomically; return its path."""
    target = root / BASELINE_NAME
    write_atomic(target, format_baseline(findings))
    return target


def parse_baseline(text: str) -> frozenset[Identity]:
    """The identities a baseline lists; ``ConfigError`` naming what is wrong, never guessing."""
    where = BASELINE_NAME
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"{where}: not valid JSON") from exc
    if not isinstance(doc, dict) or doc.get("version") != BASELINE_VERSION:
        raise ConfigError(f"{where}: not a version {BASELINE_VERSION} secretsmgr baseline")
    items = doc.get("findings")
    if not isinstance(items, list):
        raise ConfigError(f"{where}: findings must be a list")
    known: set[Identity] = set()
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict) or set(item) != {"rule", "path", "key_path", "fingerprint"}:
            raise ConfigError(f"{where}: finding {number} needs rule, path, key_path, fingerprint")
        rule, path, key_path = item["rule"], item["path"], item["key_path"]
        if not isinstance(rule, str) or not isinstance(path, str):
            raise ConfigError(f"{where}: finding {number} has no rule or path")
        if key_path is not None and not isinstance(key_path, str):
            raise ConfigError(f"{where}: finding {number} has a malformed key_path")
        ident = (rule, path, key_path or "")
        if item["fingerprint"] != fingerprint(ident):
            raise ConfigError(f"{where}: finding {number} has a fingerprint that does not match")
        known.add(ident)
    return frozenset(known)


def load_baseline(root: Path) -> frozenset[Identity]:
    """The committed baseline at ``root`` (empty when there is none)."""
    try:
        text = (root / BASELINE_NAME).read_text(encoding="utf-8")
    except FileNotFoundError:
        return frozenset()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{BASELINE_NAME}: cannot be read") from exc
    return parse_baseline(text)


def load_staged_baseline(root: Path) -> frozenset[Identity]:
    """The baseline as the git index holds it, which is what the commit will hold: a baseline
    file that is not staged (changed, untracked or git-ignored) counts for nothing (the attack
    review of stop 44). Outside git, the file on disk."""
    if git.describe(root) is None:
        return load_baseline(root)
    index = IndexSnapshot(root)
    try:
        if BASELINE_NAME not in index.paths:
            return frozenset()
        try:
            text = index.read(BASELINE_NAME).decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{BASELINE_NAME}: cannot be read") from exc
    finally:
        index.close()
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
) -> frozenset[Identity]:
    """The identities of the findings the repository had at commit ``rev`` (``files`` only,
    when given); ``UsageError`` when ``rev`` names no commit."""
    commit = git.resolve_commit(root, rev) if git.toplevel(root) is not None else None
    if commit is None:
        raise UsageError(f"--new-since {rev}: not a commit of this repository")
    snap = CommitSnapshot(root, commit)
    try:
        scope = None if files is None else sorted(set(files) & set(snap.paths))
        if scope == []:
            return frozenset()
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
    finally:
        snap.close()
    return frozenset(identity(f) for f in report.findings)


def without_known(report: AuditReport, known: frozenset[Identity]) -> AuditReport:
    """``report`` with the findings in ``known`` taken out and counted as baselined."""
    if not known:
        return report
    kept = tuple(f for f in report.findings if identity(f) not in known)
    gone = len(report.findings) - len(kept)
    return replace(report, findings=kept, baselined=report.baselined + gone)


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
    known = set(load_staged_baseline(root) if staged else load_baseline(root))
    if new_since is not None:
        paths = sorted({f.path for f in report.findings})
        if paths:
            known |= findings_at(
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
    return without_known(report, frozenset(known))
