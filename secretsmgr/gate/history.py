"""``audit --history``: what git already leaked, walked key-less and cached by blob id.

Every commit reachable from HEAD is read as the list of blobs it introduced (``git log --raw``);
each blob is judged once (the gate's blob cache holds what it yields, shared with ``check``):

- a plaintext value (SM001, SM003, a value of a plaintext file named like a SOPS file (SM002),
  or a known-format SM018 hit) is an exposure from the first commit that held it (SM019);
- a SOPS file that lost a recipient while every ``ENC[…]`` value stayed byte-identical kept its
  data key: the removed recipient can still decrypt it (SM020), until a later version changes
  every value and every wrapped data key at once (a new data key: ``sops rotate``,
  ``secretsmgr rotate``);
- an age private key in a past version of a file (SM009).

A warm re-run reads no blob: only ``git log`` and the cache.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from types import MappingProxyType

from secretsmgr.audit.finding import Rule
from secretsmgr.audit.history import (
    Exposure,
    HandEdit,
    HistoryFacts,
    PastKey,
    RecipientRemoval,
    env_slot,
)
from secretsmgr.audit.rules.sm018_plaintext_credential import detect_known
from secretsmgr.gate.cache import BlobFacts, SopsSummary
from secretsmgr.gate.facts import GateCache, hits_variant, summarize
from secretsmgr.repo import git, gitlog
from secretsmgr.repo.scan import scan_file

# hits that mean "this value was readable in this commit" (SM018: known formats only; SM002:
# a plaintext file named like a SOPS file)
EXPOSING = ("SM001", "SM002", "SM003", "SM018")


def _exposing(rule: str, hit: object) -> str | None:
    key_path = getattr(hit, "key_path", None)
    if not isinstance(key_path, str) or not key_path:
        return None  # no value of a document (SM001's whole-file secretGenerator sources)
    if getattr(hit, "env_source", False) or getattr(hit, "patch_ops", False):
        # a KEY=value line or a patch's value is a Secret's only where a layer's generator or
        # patch reads the file, which a past commit's tree is not modelled for (sweep 15: every
        # .env and README of a repository's history was an exposure)
        return None
    if rule == "SM018" and not getattr(hit, "known", False):
        return None
    if getattr(hit, "envsubst", False):
        return None  # ``$BOOTSTRAP_DOMAIN``: a variable's name, no value exposed
    if getattr(hit, "setting", False) or getattr(hit, "stand_in", False):
        return None  # a Secret's host, port or switch, or a stand-in: no credential to change
    if getattr(hit, "sops_document", False):
        return None  # a SOPS-encrypted document as the value: ciphertext (sweep 41)
    return key_path


class _Unreadable(Exception):
    """A blob git could not read: its facts are not cached."""


class _Walk:
    def __init__(
        self,
        cache: GateCache,
        rules: Sequence[Rule],
        reader: git.BlobReader,
        introduced: Callable[[str, str], tuple[str, str] | None] | None = None,
    ) -> None:
        self.cache = cache
        # (commit, date) where a blob came to a path, asked of git for a blob a merge made
        self.introduced = introduced
        # only what the walk counts: exposures (SM018's known formats alone) and past keys
        self.detectors = {
            str(r.id): detect_known if str(r.id) == "SM018" else r.detect
            for r in rules
            if r.detect is not None and str(r.id) in (*EXPOSING, "SM009")
        }
        self.reader = reader
        # by (lineage, key path; an env entry's by its variable: ``env_slot``)
        self.exposures: dict[tuple[int, str], Exposure] = {}
        # by (path, public key or PEM label): a key file overwritten with a new key leaves both
        # in history (sweep 41, HermannH34: the second key of age.agekey went unreported)
        self.past_keys: dict[tuple[str, str], PastKey] = {}
        self.removals: list[RecipientRemoval] = []
        self.encrypted_to: dict[tuple[str, str], None] = {}  # (recipient, path), in order
        self.last: dict[str, SopsSummary] = {}
        self.blobs = 0
        self.unreadable: list[tuple[str, str]] = []  # (path, commit) of blobs git could not read
        self.blob_of: dict[str, str] = {}  # each path's blob now
        # a file's lineage: the same file under the names git moved it to (a commit that deletes
        # it and adds the same blob elsewhere: `git mv`; sweep 46, sakura-dragon: the exposures
        # stayed at the old path, which nothing could close); a file made anew at a name one
        # moved away from starts a lineage of its own (the attack review)
        self.lineage_of: dict[str, int] = {}
        self.where: dict[int, str] = {}  # each lineage's latest name
        # per path: the version sops last wrote (its MAC renewed) and that commit; and the
        # first later commit that changed what that MAC covers without renewing it
        self.sops_wrote: dict[str, tuple[SopsSummary, str, str]] = {}  # + commit and path
        self.hand_edits: dict[str, HandEdit] = {}
        # each MAC sops wrote: the version, commit and path (a file moved or copied by hand
        # and edited in the same commit starts a new path under that MAC)
        self.by_mac: dict[str, tuple[SopsSummary, str, str]] = {}
        self.dates: dict[str, str] = {}  # each commit walked: its date

    def _lineage(self, path: str) -> int:
        found = self.lineage_of.get(path)
        if found is None:
            found = self.lineage_of[path] = len(self.where)
            self.where[found] = path
        return found

    def commit(
        self,
        commit: str,
        date: str,
        changes: Sequence[tuple[str, str]],
        deleted: Mapping[str, str] = MappingProxyType({}),
        parents: Sequence[str] = (),
        before: Mapping[str, str] = MappingProxyType({}),
    ) -> None:
        """Every change of one commit; a file deleted and the same blob added elsewhere in it
        is a move, and keeps its lineage (its exposures). ``deleted``: the blob each deleted
        file held, as the commit says (after a merge that made a new blob of it, the one last
        walked is a side's: sweep 75, tvories/k8s-gitops, a file archived by `git mv` kept its
        exposure at the old path, beside SM018 at the new one). A blob the commit changes or
        deletes (``before``) that no commit walked was made by a merge (merges list no change):
        it is judged as its first parent's, which holds it (the attack review of stop 51: a
        plaintext Secret added in a merge commit alone, deleted in the next, was never
        judged)."""
        self.dates[commit] = date
        for path, blob in before.items():
            if blob != self.blob_of.get(path) and parents:
                # the merge that made it, as git finds it (the review of stop 51: the parent
                # holds the blob, and may be a later commit that never touched the file)
                found = self.introduced(blob, path) if self.introduced else None
                made_in, when = found or (parents[0], self.dates.get(parents[0], date))
                self.version(made_in, when, path, blob)
        gone = {
            path: deleted.get(path) or self.blob_of[path]
            for path, blob in changes
            if not blob and (path in deleted or path in self.blob_of)
        }
        by_blob: dict[str, list[str]] = {}
        for path, blob in gone.items():
            by_blob.setdefault(blob, []).append(path)
        # the moves first, whatever order the paths come in (a SOPS summary carried over before
        # the old path's deletion drops it; several files of one blob moved at once: the review)
        for path, blob in changes:
            olds = by_blob.get(blob) if blob and path not in gone else None
            if olds:
                old = olds.pop(0)
                lineage = self._lineage(old)
                self.lineage_of[path] = lineage
                self.where[lineage] = path
                del self.lineage_of[old]  # a file made there later is another one
                if old in self.last:
                    self.last[path] = self.last.pop(old)
                if old in self.sops_wrote:
                    self.sops_wrote[path] = self.sops_wrote.pop(old)
                if old in self.hand_edits:
                    self.hand_edits[path] = dataclasses.replace(self.hand_edits.pop(old), path=path)
        for path, blob in changes:
            self.version(commit, date, path, blob)
            if blob:
                self.blob_of[path] = blob
            else:
                self.blob_of.pop(path, None)

    def facts(self, path: str, blob: str, commit: str = "") -> BlobFacts:
        def fresh() -> BlobFacts:
            try:
                data = self.reader.read(blob)
            except OSError as exc:
                raise _Unreadable from exc
            scanned = scan_file(path, data)
            hits = {name: tuple(detect(scanned)) for name, detect in self.detectors.items()}
            return BlobFacts(hits, summarize(scanned.sops))

        self.blobs += 1
        # its own cache variant: check's facts of the same blob hold every hit
        try:
            return self.cache.store.facts(blob, f"{hits_variant(path)}+history", path, fresh)
        except _Unreadable:
            # never cached: once the object is fetched, the next walk judges it (sweep 89,
            # josmase/flux: a blob missing from the clone was skipped without a word)
            self.unreadable.append((path, commit))
            return BlobFacts({}, None)

    def version(self, commit: str, date: str, path: str, blob: str) -> None:
        if not blob:
            self.last.pop(path, None)  # deleted: a later file of that name starts afresh
            self.sops_wrote.pop(path, None)
            self.hand_edits.pop(path, None)
            return
        facts = self.facts(path, blob, commit)
        for rule in EXPOSING:
            for hit in facts.hits.get(rule, ()):
                key_path = _exposing(rule, hit)
                if key_path is None:
                    continue
                name = getattr(hit, "variable", None)
                self.exposures.setdefault(
                    (self._lineage(path), env_slot(key_path, name)),
                    Exposure(path, key_path, commit, date, rule, name),
                )
        for hit in facts.hits.get("SM009", ()):
            public = getattr(hit, "public", None)
            kind = str(getattr(hit, "kind", "age"))
            self.past_keys.setdefault(
                (path, public or kind), PastKey(path, commit, date, public, kind)
            )
        now = facts.sops
        for recipient in now.recipients if now is not None else ():
            self.encrypted_to.setdefault((recipient, path), None)
        before = self.last.get(path)
        if now is None:
            self.last.pop(path, None)
            self.sops_wrote.pop(path, None)
            self.hand_edits.pop(path, None)
            return
        self._hand_edit(path, commit, date, now)
        if before is not None:
            self._compare(path, commit, date, before, now)
        self.last[path] = now

    def _compare(
        self, path: str, commit: str, date: str, before: SopsSummary, now: SopsSummary
    ) -> None:
        # a wrapped data key (age, PGP, KMS) or the MAC in common: the same data key (a KMS-only
        # file's MAC alone changes at each sops edit: sweep 20, ol3d/home-ops, an SM020 cured
        # by an edit that kept the data key)
        rekeyed = now.values != before.values and not (
            set(now.fingerprints) & set(before.fingerprints)
            or set(now.wrapped) & set(before.wrapped)
        )
        if rekeyed:  # a new data key: earlier removals from this file are cured
            self.removals = [
                r if r.path != path or r.resolved_by else _resolved(r, commit)
                for r in self.removals
            ]
        removed = [r for r in dict.fromkeys(before.recipients) if r not in now.recipients]
        if removed and now.values == before.values:
            for recipient in removed:
                self.removals.append(RecipientRemoval(path, recipient, commit, date))

    def _hand_edit(self, path: str, commit: str, date: str, now: SopsSummary) -> None:
        """Track what sops last wrote of ``path`` and whether a later version changed what its
        MAC covers under the same MAC and ``lastmodified`` (a hand edit; undone by hand, or
        cured by the next sops write)."""
        wrote = self.sops_wrote.get(path)
        if now.mac in self.by_mac and (wrote is None or now.mac != wrote[0].mac):
            # a copy or move of a file sops wrote, or an older version put back (the attack
            # review: one restored and edited by hand passed)
            wrote = self.by_mac[now.mac]
        if wrote is None or not now.mac or now.mac != wrote[0].mac:
            self.sops_wrote[path] = (now, commit, path)  # every sops write renews the MAC
            if now.mac:
                self.by_mac.setdefault(now.mac, (now, commit, path))
            self.hand_edits.pop(path, None)
            return
        self.sops_wrote.setdefault(path, wrote)
        if not now.covered or not wrote[0].covered:
            return  # a value in clear where the rule encrypts: SM003's, not compared
        if (now.covered, now.lastmodified) == (wrote[0].covered, wrote[0].lastmodified):
            self.hand_edits.pop(path, None)  # the edit undone
        else:
            self.hand_edits.setdefault(path, HandEdit(path, commit, date, wrote[1], wrote[2]))


def _resolved(removal: RecipientRemoval, commit: str) -> RecipientRemoval:
    return RecipientRemoval(removal.path, removal.recipient, removal.commit, removal.date, commit)


def walk_history(
    root: Path,
    cache: GateCache,
    rules: Sequence[Rule],
    progress: Callable[[int, int], None] | None = None,
) -> HistoryFacts:
    """Walk every commit reachable from HEAD under ``root``; blobs judged once, via ``cache``.
    ``progress(done, total)`` is told every hundred commits and at the end (a cold walk of
    ten thousand commits takes a minute: sweep 75 waited with nothing on the screen)."""
    commits = gitlog.log_changes(root)
    reader = git.BlobReader(root)
    walk = _Walk(cache, rules, reader, partial(gitlog.introduced_by, root))
    try:
        for number, (commit, date, changes, deleted, before, parents) in enumerate(
            commits, start=1
        ):
            walk.commit(commit, date, changes, deleted, parents, before)
            if progress is not None and (number % 100 == 0 or number == len(commits)):
                progress(number, len(commits))
    finally:
        reader.close()
        cache.save()
    exposures = [
        e if walk.where[lineage] == e.path else dataclasses.replace(e, moved_to=walk.where[lineage])
        for (lineage, _), e in walk.exposures.items()
    ]
    return HistoryFacts(
        commits=len(commits),
        blobs=walk.blobs,
        exposures=tuple(exposures),
        removals=tuple(walk.removals),
        past_keys=tuple(walk.past_keys.values()),
        unwalked=gitlog.unmerged_refs(root),
        encrypted_to=tuple(walk.encrypted_to),
        hand_edits=tuple(walk.hand_edits.values()),
        unreadable=tuple(walk.unreadable),
    )


def walk_repository(root: Path, progress: Callable[[int, int], None] | None = None) -> HistoryFacts:
    """``walk_history`` with the repository's own cache and every registered rule's detector;
    ``UsageError`` outside git."""
    from secretsmgr.audit.registry import RULES
    from secretsmgr.errors import UsageError
    from secretsmgr.gate.cache import cache_folder

    facts = git.describe(root)
    if facts is None:
        raise UsageError("--history needs a git repository")
    cache = GateCache.open(cache_folder(facts[1]), RULES)
    return walk_history(root, cache, RULES, progress)
