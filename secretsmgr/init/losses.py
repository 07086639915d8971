"""What ``init --force`` loses when it replaces the root `.sops.yaml`: the existing creation
rules whose files no new rule matches, and the keys the existing rules name that no new rule
does (sweep 25, Stackclash/home-cluster: the plan said "would replace .sops.yaml 1 creation
rule: cluster/" and nothing of the provision/ rule of ten Ansible and Terraform SOPS files it
dropped, which would then match no rule)."""

from __future__ import annotations

from collections.abc import Iterable

from secretsmgr.keys.bech32 import short_key
from secretsmgr.plural import plural
from secretsmgr.repo.inventory import Inventory
from secretsmgr.repo.sopsconfig import SOPS_CONFIG_NAME, SopsConfig, match_rule
from secretsmgr.repo.sopsentry import SopsEntry
from secretsmgr.sops.model import pgp_id

_SHOWN = 3  # files named in a note, then "and N more"


def _keys(config: SopsConfig) -> dict[tuple[str, str], None]:
    """(kind, key) of every key a rule of ``config`` names, in order: ``age``, ``pgp`` (as
    ``pgp_id`` compares it) or ``other`` (KMS, GCP KMS, Azure Key Vault, Vault, HCKMS)."""
    found: dict[tuple[str, str], None] = {}
    for rule in config.rules:
        for group in rule.key_groups:
            found.update(dict.fromkeys(("age", k.strip()) for k in group.age))
            found.update(dict.fromkeys(("pgp", pgp_id(k)) for k in group.pgp))
            found.update(dict.fromkeys(("other", k) for k in group.other))
    return found


def _same(kind: str, key: str, other: str) -> bool:
    """Whether ``other`` names ``key``: a PGP key id is the end of its fingerprint; an AWS key a
    rule names with its role (``ARN+ROLE``) is the file's ARN (the attack review: init's own
    rule, rewritten, was said to drop a key every file is on)."""
    if kind == "pgp":
        return key.endswith(other) or other.endswith(key)
    return key.split("+", 1)[0] == other.split("+", 1)[0]


def _carries(entry: SopsEntry, kind: str, key: str) -> bool:
    """Whether the SOPS file ``entry`` is encrypted to ``key``."""
    sf = entry.sops_file
    if sf is None:
        return False
    if kind == "age":
        return key in sf.metadata.age_recipients
    return any(
        (field == "pgp") == (kind == "pgp") and _same(kind, key, pgp_id(k) if field == "pgp" else k)
        for group in sf.metadata.key_groups
        for field, k in group.foreign_ids()
    )


def _label(kind: str, key: str) -> str:
    """``the PGP key E3CF3A55…C047``: a key as a note names it."""
    if kind == "age":
        return f"the age key {short_key(key)}"
    if kind == "pgp":
        return f"the PGP key {short_key(key)}"
    if key.startswith("arn:"):
        return f"the KMS key {key}"
    if "/cryptoKeys/" in key:
        return f"the GCP KMS key {key}"
    if ".vault.azure." in key:
        return f"the Azure Key Vault key {key}"
    if "/v1/" in key:
        return f"the Vault key {key}"
    return f"the key {key}"


def _named(paths: list[str]) -> str:
    shown = ", ".join(paths[:_SHOWN])
    return shown + (f" and {len(paths) - _SHOWN} more" if len(paths) > _SHOWN else "")


def _governed(inv: Inventory, number: int) -> list[str]:
    """The SOPS files the root `.sops.yaml`'s rule ``number`` (1-based) governs today."""
    return [
        e.path
        for e in inv.sops_files
        if inv.sops_configs.folder_of(e.path) == ""
        and inv.sops_configs.rule_for(e.path)[2] == number
    ]


def orphaned_rules(inv: Inventory, old: SopsConfig, new: SopsConfig) -> dict[int, list[str]]:
    """The rules of the root `.sops.yaml` ``old`` (by 1-based number) that are the only rule of
    SOPS files no rule of ``new`` matches, with those files: init keeps them after its own
    (rust84/k8s-gitops, sweep 89: --force dropped the rules of its Talos and bootstrap files,
    each SM011 at once and with no rule for sops to re-encrypt them by). Placed after every
    rule init writes and in their former order, each still governs exactly those files."""
    carried = {r.path_regex for r in new.rules}
    found: dict[int, list[str]] = {}
    for number, rule in enumerate(old.rules, start=1):
        if rule.path_regex in carried:
            continue
        lost = sorted(p for p in _governed(inv, number) if match_rule(new, inv.root / p) is None)
        if lost:
            found[number] = lost
    return found


def kept_rule_notes(old: SopsConfig, kept: dict[int, list[str]]) -> list[str]:
    """A note for each rule of ``old`` kept after init's own (``orphaned_rules``)."""
    notes = []
    for number, lost in kept.items():
        rule = old.rules[number - 1]
        regex = f"path_regex {rule.path_regex}" if rule.path_regex is not None else "no path_regex"
        notes.append(
            f"--force keeps rule {number} of {SOPS_CONFIG_NAME} ({regex}) after the rules it "
            f"writes: it is the only rule of {plural(len(lost), 'SOPS file')} no new rule "
            f"matches ({_named(lost)})"
        )
    return notes


def _rule_notes(inv: Inventory, old: SopsConfig, new: SopsConfig) -> list[str]:
    """A note for each rule of ``old`` that ``new`` does not carry, governing SOPS files today
    that no rule of ``new`` would match."""
    carried = {r.path_regex for r in new.rules}
    notes = []
    for number, rule in enumerate(old.rules, start=1):
        if rule.path_regex in carried:
            continue
        governed = _governed(inv, number)
        lost = sorted(p for p in governed if match_rule(new, inv.root / p) is None)
        regex = f"path_regex {rule.path_regex}" if rule.path_regex is not None else "no path_regex"
        if not governed:
            # sweep 80, kaminek/home-ops: a rule for dotenv and INI files, none written yet,
            # went without a word (and encrypt then refused such a file under the new rules)
            notes.append(
                f"--force drops rule {number} of {SOPS_CONFIG_NAME} ({regex}), which no SOPS "
                "file uses now: a new file it matches follows the rules written instead"
            )
            continue
        if not lost:
            continue
        they = "it" if len(lost) == 1 else "they"
        notes.append(
            f"--force drops rule {number} of {SOPS_CONFIG_NAME} ({regex}), the only rule of "
            f"{plural(len(lost), 'SOPS file')} ({_named(lost)}): {they} would match no rule "
            "(SM011)"
        )
    return notes


def _carried_by(count: int, others: int) -> str:
    """``7 SOPS files the layers apply are encrypted to it``, and the other SOPS files."""
    if count and others:
        return (
            f"{plural(count, 'SOPS file')} the layers apply and {others} other"
            f"{'s' if others != 1 else ''} are encrypted to it"
        )
    if count:
        verb = "is" if count == 1 else "are"
        return f"{plural(count, 'SOPS file')} the layers apply {verb} encrypted to it"
    if others:
        return (
            f"no file the layers apply is encrypted to it ({plural(others, 'other SOPS file')} "
            f"{'is' if others == 1 else 'are'})"
        )
    return "no SOPS file is encrypted to it"


def _key_notes(
    inv: Inventory, old: SopsConfig, new: SopsConfig, applied: Iterable[str]
) -> list[str]:
    """A note for each key a rule of ``old`` names that no rule of ``new`` names, with the
    SOPS files encrypted to it."""
    kept = _keys(new)
    on_layers = set(applied)
    notes = []
    for kind, key in _keys(old):
        if any(k == kind and _same(kind, key, other) for k, other in kept):
            continue
        carrying = [e.path for e in inv.sops_files if _carries(e, kind, key)]
        count = sum(1 for p in carrying if p in on_layers)
        notes.append(
            f"--force drops {_label(kind, key)} from {SOPS_CONFIG_NAME}; "
            f"{_carried_by(count, len(carrying) - count)}"
        )
    return notes


def force_losses(
    inv: Inventory, old: SopsConfig, new: SopsConfig, applied: Iterable[str]
) -> list[str]:
    """The notes on what replacing the root `.sops.yaml` ``old`` with ``new`` loses; ``applied``:
    the paths the layers apply."""
    return [*_rule_notes(inv, old, new), *_key_notes(inv, old, new, applied)]
