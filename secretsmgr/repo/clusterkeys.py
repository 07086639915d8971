"""The one cluster-key source order, and the key each `.sops.yaml` rule names.

Every command that needs the cluster key walks the same order (the contract's "Key sources"):

1. ``--cluster-key age1…`` (every file, every cluster);
2. ``--from-cluster``: the public keys of the live ``sops-age`` Secret;
3. ``SECRETSMGR_CLUSTER_KEY``;
4. ``.secretsmgr.yaml``: a cluster's own ``clusters.<name>.cluster_key`` for the files that
   cluster applies, else ``cluster_key`` (with ``next_cluster_key`` while a rotation is under way);
5. ``.sops.yaml``: the age key the file's creation rule names.

A rule often names more than the cluster key: an operator's own key, a break-glass admin key. When
a rule (or one of its key groups) names several age keys, one of them is taken as the cluster key,
in this order: a key listed in ``allowed_recipients`` is never the cluster key; of the others, the
one key every SOPS file the rule's cluster applies carries, when another rule whose files that
cluster applies names it alone and each other key is missing from several of those files (two or
more, and a quarter or more); else the one the fewest of the repository's rules name (an operator's
key tends to be in every rule, each cluster's key only in its own rules); then the one key that
every SOPS file of the rule carries (of those Flux applies, when it applies any) when the
first-listed key is missing from several of them (two or more, and a quarter or more); then the one
listed first. The choice is stated as a note with the line that pins it. A rule whose age keys are
each named alone by another rule (a base that several clusters share, encrypted to each cluster's
key) names them all as cluster keys, with no choice to make. A rule that also names PGP or cloud
KMS keys, whose age keys only their order tells apart, gives no cluster key (with a note): the key
Flux holds may well be its PGP or KMS key, and an operator's age key taken for the cluster's would
make the audit's answers about the cluster key wrong.

In a repository whose ``.secretsmgr.yaml`` names no cluster key, the rule's other age keys are
the repository's own policy: expected on the files the rule governs (no SM005) and kept by
``rotate``, as if listed in ``allowed_recipients``.

Pure: `.sops.yaml` rules and settings in, keys out; ``inventory.py`` applies it to files.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from secretsmgr.keys.bech32 import is_age_recipient, short_key
from secretsmgr.plural import plural
from secretsmgr.repo.settings import SETTINGS_NAME
from secretsmgr.repo.sopsconfig import CreationRule

RuleId = tuple[str, int]  # (config label, 1-based rule number)


@dataclass(frozen=True, slots=True)
class RuleKeys:
    """The cluster key(s) one creation rule names, and its other age recipients."""

    config: str
    number: int
    cluster_keys: tuple[str, ...]  # one per key group that names an age key
    others: tuple[str, ...]  # the rule's other age recipients
    chosen_by: str | None = None  # why, when the rule left a choice; None when it did not
    # the rule also names PGP or cloud KMS keys and nothing tells its age keys apart: the
    # cluster's key may be one of those, so no age key was taken (``cluster_keys`` is empty)
    undecided: bool = False

    @property
    def note(self) -> str | None:
        """What was chosen and how to pin it, when the rule left a choice."""
        return self.note_for(f"rule {self.number} names")

    def note_for(self, rules: str) -> str | None:
        """``note`` with ``rules`` (``rule 2 names``, ``rules 1, 2 and 5 name``) as its subject."""
        if self.undecided:
            return (
                f"{self.config} {rules} PGP or cloud KMS keys beside several "
                "age keys that nothing tells apart: took none as the cluster key (Flux may hold "
                "one of the others, which SM004 does not check); if the cluster's key is an age "
                f"key, pin it in {SETTINGS_NAME}: cluster_key: age1…"
            )
        if self.chosen_by is None:
            return None
        chosen = ", ".join(short_key(k) for k in self.cluster_keys)
        others = ", ".join(short_key(k) for k in self.others)
        return (
            f"{self.config} {rules} several age keys: took {chosen} as the "
            f"cluster key ({self.chosen_by}), {others} as allowed; pin it in {SETTINGS_NAME}: "
            f"cluster_key: {self.cluster_keys[0]} (or clusters:), the others under "
            "allowed_recipients"
        )


def _age_groups(rule: CreationRule) -> list[tuple[str, ...]]:
    """The age keys of each key group (ssh recipients are never cluster keys)."""
    groups = []
    for group in rule.key_groups:
        keys = tuple(dict.fromkeys(k for k in group.age if is_age_recipient(k)))
        if keys:
            groups.append(keys)
    return groups


_BY_FILES = "the one key every file of the rule carries"


_EVERYWHERE = "the one key every SOPS file its cluster applies carries, which a rule names alone"


def _carried_everywhere(candidates: Sequence[str], applied: Sequence[frozenset[str]]) -> str | None:
    """The one candidate every SOPS file Flux applies carries, where each other candidate is
    missing from several of them (two or more, and a quarter or more); else None."""
    on_every = [k for k in candidates if applied and all(k in keys_of for keys_of in applied)]
    if len(on_every) != 1:
        return None
    for other in candidates:
        lacking = sum(other not in keys_of for keys_of in applied)
        if other != on_every[0] and not (lacking >= 2 and lacking * 4 >= len(applied)):
            return None
    return on_every[0]


def _choose(
    keys: tuple[str, ...],
    allowed: frozenset[str],
    uses: Counter[str],
    files: Sequence[frozenset[str]] = (),
    applied: Sequence[frozenset[str]] = (),
    solo: Collection[str] = (),
) -> tuple[str, str | None]:
    """(the cluster key among ``keys``, why when it was a choice; None when it was not).
    ``files``: the age recipients of each SOPS file the rule governs (those Flux applies);
    ``applied``: those of every SOPS file the rule's clusters apply, under any rule; ``solo``:
    the keys a rule whose files those clusters apply names alone."""
    candidates = [k for k in keys if k not in allowed] or list(keys)
    if len(candidates) == 1:
        return candidates[0], None
    # sweep 38, 1spyral/home-lab: a job's rule named an extra key beside the key every file
    # carries, which the catch-all rule names alone; "the fewest rules" took the extra key,
    # and pinning it, as the note said, made every other file an SM004 error. Both facts are
    # needed: an operator's key is on every file of several clusters too, and a catch-all
    # rule may name it alone (Ramblurr/home-lab, where the files carry both keys)
    everywhere = _carried_everywhere(candidates, applied)
    if everywhere is not None and everywhere in solo:
        return everywhere, _EVERYWHERE
    fewest = min(uses[k] for k in candidates)
    rarest = [k for k in candidates if uses[k] == fewest]
    if len(rarest) == 1:
        return rarest[0], "the key the fewest rules name"
    on_every = [k for k in rarest if files and all(k in keys_of for keys_of in files)]
    if len(on_every) == 1 and on_every[0] != rarest[0]:
        # the first-listed key is missing from several files (one stray file encrypted to an
        # admin key alone is a mistake SM004 should report, not evidence against the order)
        lacking = sum(rarest[0] not in keys_of for keys_of in files)
        if lacking >= 2 and lacking * 4 >= len(files):
            return on_every[0], _BY_FILES
    return rarest[0], "listed first"


def rule_keys(
    rules: Iterable[tuple[str, int, CreationRule]],
    allowed: Sequence[str] = (),
    files: Mapping[RuleId, Sequence[frozenset[str]]] | None = None,
    live: Collection[RuleId] | None = None,
    clusters: Mapping[RuleId, frozenset[str | None]] | None = None,
) -> dict[RuleId, RuleKeys]:
    """The cluster key(s) of every rule, given as (config label, number, rule); ``files``: the
    age recipients of the SOPS files each rule governs, which settle a tie the rules leave;
    ``clusters``: the clusters whose layers apply each rule's files."""
    listed = list(rules)
    uses: Counter[str] = Counter()
    for _config, _number, rule in listed:
        uses.update({k for group in _age_groups(rule) for k in group})
    allowed_set = frozenset(allowed)
    # keys some rule whose files Flux applies (``live``; every rule when unknown) names alone:
    # each is that rule's cluster key beyond doubt (a rule for talos/ names a host's key)
    solo = {
        g[0]
        for c, n, r in listed
        if live is None or (c, n) in live
        for g in _age_groups(r)
        if len(g) == 1
    }
    # by cluster: the recipients of the SOPS files its layers apply, and the keys a rule whose
    # files it applies names alone (the attack review: one cluster's catch-all rule for the
    # operator's key is no evidence about another cluster's key)
    by_cluster: dict[str | None, list[frozenset[str]]] = {}
    alone_in: dict[str | None, set[str]] = {}
    for c, n, r in listed:
        for cluster in (clusters or {}).get((c, n), frozenset()):
            by_cluster.setdefault(cluster, []).extend((files or {}).get((c, n), ()))
            alone_in.setdefault(cluster, set()).update(g[0] for g in _age_groups(r) if len(g) == 1)
    out: dict[RuleId, RuleKeys] = {}
    for config, number, rule in listed:
        chosen: list[str] = []
        why: str | None = None
        every: list[str] = []
        for group in _age_groups(rule):
            every.extend(group)
            candidates = [k for k in group if k not in allowed_set]
            if len(candidates) > 1 and all(k in solo for k in candidates):
                # a base shared by clusters: each key is another rule's only key, a cluster's
                chosen.extend(candidates)
                continue
            of_rule = (files or {}).get((config, number), ())
            mine = (clusters or {}).get((config, number), frozenset())
            applied = [keys_of for cluster in mine for keys_of in by_cluster.get(cluster, ())]
            named_alone = {k for cluster in mine for k in alone_in.get(cluster, ())}
            key, reason = _choose(group, allowed_set, uses, of_rule, applied, named_alone)
            chosen.append(key)
            why = why or reason
        foreign = any(group.pgp or group.other for group in rule.key_groups)
        if foreign and why in ("listed first", _BY_FILES, _EVERYWHERE):
            others = tuple(dict.fromkeys(every))
            out[(config, number)] = RuleKeys(config, number, (), others, undecided=True)
            continue
        keys = tuple(dict.fromkeys(chosen))
        others = tuple(k for k in dict.fromkeys(every) if k not in keys)
        out[(config, number)] = RuleKeys(config, number, keys, others, why)
    return out


def chosen_keys(keys: Iterable[RuleKeys]) -> tuple[str, ...]:
    """Every cluster key the rules name, first occurrence kept."""
    return tuple(dict.fromkeys(k for rule in keys for k in rule.cluster_keys))


def key_notes(keys: Iterable[RuleKeys]) -> tuple[str, ...]:
    """The notes of every rule that left a choice: one per choice, naming every rule of a
    config that made it (a repository with seven rules naming the same keys gets one note)."""
    groups: dict[tuple[object, ...], list[RuleKeys]] = {}
    for rule in keys:
        if rule.note is None:
            continue
        same = (rule.config, rule.others, rule.chosen_by, rule.undecided)
        groups.setdefault(same, []).append(rule)
    notes = []
    for rules in groups.values():
        numbers = [str(r.number) for r in rules]
        subject = (
            f"rule {numbers[0]} names"
            if len(numbers) == 1
            else f"rules {', '.join(numbers[:-1])} and {numbers[-1]} name"
        )
        chosen = list(dict.fromkeys(k for r in rules for k in r.cluster_keys))
        if len(chosen) <= 1:  # one choice: the note names it and the line that pins it
            note = rules[0].note_for(subject)
            assert note is not None
            notes.append(note)
            continue
        # one choice per rule (a key per host, as in a nix repository): one note for them all
        first = rules[0]
        shown = ", ".join(short_key(k) for k in chosen[:3]) + (" …" if len(chosen) > 3 else "")
        others = ", ".join(short_key(k) for k in first.others)
        notes.append(
            f"{first.config} {subject} several age keys: took {plural(len(chosen), 'key')} "
            f"as cluster keys, one per rule ({first.chosen_by}: {shown}), {others} as allowed; "
            f"pin them in {SETTINGS_NAME} (clusters:, or cluster_key and allowed_recipients)"
        )
    return tuple(notes)
