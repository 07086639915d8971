"""Gitops repositories in real git, for the gate: commit a state, stage a change, judge it."""

from __future__ import annotations

from pathlib import Path

from secretsmgr.audit.engine import load_context, run_rules
from secretsmgr.audit.finding import AuditReport
from secretsmgr.gate.history import walk_repository
from secretsmgr.gate.judge import judge_index
from tests.audit.helpers import K1, enc, flux_kustomization, secret, sops_yaml, write
from tests.conftest import git


def gitops(root: Path, extra: dict[str, str] | None = None) -> Path:
    """Two layers (infra, apps), each with a SOPS Secret, committed."""
    write(root, ".sops.yaml", sops_yaml((r"\.enc\.yaml$", [K1])))
    write(root, ".secretsmgr.yaml", f"cluster_key: {K1}\n")
    write(root, "clusters/prod/infra.yaml", flux_kustomization("infra", "./infra"))
    write(root, "clusters/prod/apps.yaml", flux_kustomization("apps", "./apps"))
    write(root, "infra/dns.enc.yaml", enc(secret("dns", {"token": "t0ken-value-1"})))
    write(root, "apps/db.enc.yaml", enc(secret("db", {"password": "db-pass-value-2"})))
    write(root, "apps/cache.enc.yaml", enc(secret("cache", {"password": "cache-value-3"})))
    for rel, text in (extra or {}).items():
        write(root, rel, text)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "--no-gpg-sign", "-m", "state")
    return root


def stage(root: Path, rel: str, text: str | None) -> None:
    """Write (or, with None, delete) ``rel`` and stage it."""
    if text is None:
        git(root, "rm", "-q", rel)
        return
    write(root, rel, text)
    git(root, "add", rel)


def staged(root: Path) -> list[str]:
    """The staged paths, as pre-commit passes them (deletions left out)."""
    out = git(root, "diff", "--cached", "--name-only", "--diff-filter=d", "-z")
    return [p for p in out.split("\0") if p]


def judge(root: Path, files: list[str] | None = None) -> AuditReport:
    """``check`` as pre-commit runs it: the staged files (or ``files``)."""
    return judge_index(root, staged(root) if files is None else files)


def found(report: AuditReport) -> set[tuple[str, str]]:
    """(rule, path) of every finding."""
    return {(f.rule, f.path) for f in report.findings}


def commit(root: Path, message: str) -> None:
    """Stage everything and commit."""
    git(root, "add", "-A")
    git(root, "commit", "-q", "--no-gpg-sign", "-m", message)


def history_findings(root: Path) -> dict[tuple[str, str], list[str]]:
    """audit --history's findings: (rule, path) -> messages."""
    facts = walk_repository(root)
    ctx = load_context(root, history=facts)
    report = run_rules(ctx)
    out: dict[tuple[str, str], list[str]] = {}
    for f in report.findings:
        out.setdefault((f.rule, f.path), []).append(f.message)
    return out
