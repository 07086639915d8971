"""The cluster gate of ``key rotate --finish``: the begin commit, and whether Flux applied it.

The begin commit is the commit that brought ``next_cluster_key`` (the pending key) into
``.secretsmgr.yaml``, found in the history of that file. What the live cluster holds is read by
the caller (the CLI, through ``cluster/``) only once the local checks pass, and judged by
``fluxcheck.evaluate`` with ``git merge-base --is-ancestor`` as the ancestry predicate.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from secretsmgr.errors import RefusedError, SecretsmgrError
from secretsmgr.keys.bech32 import short_key
from secretsmgr.repo.gitlog import is_ancestor, run_start
from secretsmgr.repo.settings import SETTINGS_NAME, parse_settings
from secretsmgr.rotate.fluxcheck import ClusterView, evaluate, summary


def begin_commit(root: Path, new_key: str) -> str:
    """The commit that introduced ``next_cluster_key: new_key``; refused when none did."""

    def holds(data: bytes) -> bool:
        try:
            return parse_settings(data.decode("utf-8")).next_cluster_key == new_key
        except (SecretsmgrError, UnicodeDecodeError):
            return False

    found = run_start(root, SETTINGS_NAME, holds)
    if found is None:
        raise RefusedError(
            f"the begin step is not committed: no commit sets next_cluster_key "
            f"{short_key(new_key)} in {SETTINGS_NAME}, so Flux cannot have applied it",
            hints=(
                "commit and push the begin step first (git commit, git push), let Flux "
                "reconcile, then run secretsmgr key rotate --finish",
            ),
        )
    return found


def check_cluster(root: Path, new_key: str, read: Callable[[], ClusterView]) -> None:
    """Refuse unless the live cluster holds ``new_key`` and every decrypting Kustomization is
    Ready at a revision containing the begin commit. ``read`` reads the cluster."""
    begin = begin_commit(root, new_key)
    blockers = evaluate(new_key, begin, read(), lambda a, d: is_ancestor(root, a, d))
    if blockers:
        message, hints = summary(blockers)
        raise RefusedError(message, hints=hints)
