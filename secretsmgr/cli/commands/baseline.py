"""``baseline``: record today's findings so that only new ones block (brownfield adoption)."""

from __future__ import annotations

import os

import typer

from secretsmgr.cli.context import out, repo_root


def baseline_cmd(ctx: typer.Context) -> int:
    """Write .secretsmgr-baseline.json: every key-less finding of the index (rule, path, key
    path, fingerprint, a digest of its line; never a value). check and audit then fail only on
    new findings."""
    from secretsmgr.gate.baseline import BASELINE_NAME, staged_lines, write_baseline
    from secretsmgr.gate.judge import judge_index

    root = repo_root(ctx)
    report = judge_index(root, None, env=os.environ)
    with staged_lines(root) as lines:
        write_baseline(root, report.findings, lines)
    count = len({(f.rule, f.path, f.key_path) for f in report.findings})
    noun = "finding" if count == 1 else "findings"
    out(f"wrote {BASELINE_NAME}: {count} {noun}; commit it\n")
    return 0
