"""The cluster gate of ``key rotate --finish``: the begin commit, and whether Flux applied it.

The begin commit is the commit that brought the pending key (``next_cluster_key``, or a
cluster's own under ``clusters:``) into ``.secretsmgr.yaml``, found in the history of that file,
or, when begin ran again since, the commit that added the changelog's last ``key-rotate-begin``
entry that encrypted to that key. What the live cluster holds
is read by the caller (the CLI, through ``cluster/``) only once the local checks pass, and
judged by ``fluxcheck.evaluate`` with ``git merge-base --is-ancestor`` as the ancestry
predicate.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from secretsmgr.changelog.anchor import anchor_changelog
from secretsmgr.changelog.chain import parse_entries
from secretsmgr.changelog.store import changelog_path, load_changelog
from secretsmgr.errors import RefusedError, SecretsmgrError
from secretsmgr.keys.bech32 import short_key
from secretsmgr.repo.gitlog import blobs_at, is_ancestor, run_start
from secretsmgr.repo.settings import SETTINGS_NAME, load_settings, parse_settings
from secretsmgr.rotate.fluxcheck import ClusterView, evaluate, summary


def begin_commit(root: Path, new_key: str) -> str:
    """The commit that introduced ``new_key`` as a pending key; refused when none did."""

    def holds(data: bytes) -> bool:
        try:
            pending = parse_settings(data.decode("utf-8")).pending_rotations
        except (SecretsmgrError, UnicodeDecodeError):
            return False
        return any(new == new_key for _cluster, _old, new in pending)

    found = run_start(root, SETTINGS_NAME, holds)
    last = _last_begin(root, new_key)
    if found is None or last is False:
        why = (
            f"no commit sets the pending key {short_key(new_key)} in {SETTINGS_NAME}"
            if found is None
            else "the last key-rotate-begin entry of the changelog is in no commit"
        )
        raise RefusedError(
            f"the begin step is not committed: {why}, so Flux cannot have applied it",
            hints=(
                "commit and push the begin step first (git commit, git push), let Flux "
                "reconcile, then run secretsmgr key rotate --finish",
            ),
        )
    # A begin run again (files that joined during the overlap, re-encrypted to both keys) is
    # a later begin: Flux must have applied that one, not only the first.
    if not isinstance(last, str) or last == found or is_ancestor(root, last, found):
        return found
    if is_ancestor(root, found, last):
        return last
    raise RefusedError(
        f"the begin step was committed twice on separate lines of history ({found[:12]} and "
        f"{last[:12]}): which one Flux must have applied cannot be told",
        hints=(
            "check that Flux applied both, then: secretsmgr key rotate --finish "
            "--skip-cluster-check",
        ),
    )


def _last_begin(root: Path, new_key: str) -> str | bool | None:
    """The commit that added the changelog's last ``key-rotate-begin`` entry that put ``new_key``
    on a file (a begin of another cluster's key is not this one); False when that entry is not
    committed yet; None when the changelog names no begin, is in no commit at all
    (ignored by git) or cannot be read."""
    settings = load_settings(root)
    try:
        data = load_changelog(changelog_path(root, settings.changelog))
        entries = parse_entries(data)
        # the begins that put the key on a file: a begin of another cluster's key re-encrypts
        # a shared file that already carries this one, which Flux need not have applied here
        begins = [
            e.seq
            for e in entries
            if e.action == "key-rotate-begin"
            and any(
                new_key in f.recipients_after and new_key not in f.recipients_before
                for f in e.files
            )
        ]
        if not begins:
            return None
        anchoring = anchor_changelog(root, settings.changelog, data, entries, check_states=False)
    except SecretsmgrError:
        return None
    if not anchoring.commits or blobs_at(root, [("HEAD", settings.changelog)])[0] is None:
        return None  # a changelog git does not keep (ignored, never committed): no evidence
    where = anchoring.anchored.get(begins[-1])
    return where[0] if where is not None else False


def check_cluster(root: Path, new_key: str, read: Callable[[], ClusterView]) -> None:
    """Refuse unless the live cluster holds ``new_key`` and every decrypting Kustomization is
    Ready at a revision containing the begin commit. ``read`` reads the cluster."""
    begin = begin_commit(root, new_key)
    blockers = evaluate(new_key, begin, read(), lambda a, d: is_ancestor(root, a, d))
    if blockers:
        message, hints = summary(blockers)
        raise RefusedError(message, hints=hints)
