"""What a rule sees: the repository inventory plus the changelog, the clock and any keys.

``build_context`` adds to an ``Inventory`` (``repo/``) what only the audit needs: the parsed
changelog, the identities for ``--verify-mac`` and the data keys they open, the live
cluster's keys, and what an interrupted write left behind (``repo/pending.py``). Rules are
pure functions of the ``AuditContext`` it returns.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

from secretsmgr.audit.finding import LOST_METADATA
from secretsmgr.audit.history import HistoryFacts
from secretsmgr.changelog.chain import Entry, parse_entries
from secretsmgr.changelog.store import changelog_path
from secretsmgr.errors import ChainError, ConfigError, DecryptionError, FormatError
from secretsmgr.keys.bech32 import is_post_quantum
from secretsmgr.keys.protocols import Identity
from secretsmgr.repo.earlier import EarlierStates
from secretsmgr.repo.inventory import Inventory, LiveKeys
from secretsmgr.repo.pending import PendingWrites, find_pending
from secretsmgr.repo.sopsconfig import CreationRule
from secretsmgr.repo.sopsentry import SopsEntry
from secretsmgr.shellword import sh_path, sh_word
from secretsmgr.sops.datakey import unwrap_data_key
from secretsmgr.sops.model import EncryptionRule, RuleKind, SopsMetadata
from secretsmgr.sops.rules import path_is_encrypted
from secretsmgr.sops.tree import MapNode, SeqNode

if TYPE_CHECKING:
    from secretsmgr.changelog.anchor import Anchoring


@dataclass(frozen=True, slots=True, eq=False)
class AuditContext:
    """Everything a rule may read: ``repo`` is the repository, the rest what the audit adds."""

    repo: Inventory
    max_age_days: int
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    changelog: tuple[Entry, ...] = ()
    changelog_present: bool = False
    changelog_error: str | None = None
    changelog_history: ChangelogHistory | None = field(default=None, repr=False)
    verify_mac: bool = False
    identities: tuple[Identity, ...] = field(default=(), repr=False)
    data_keys: Mapping[str, bytes] = field(default_factory=dict, repr=False)
    unopened: tuple[str, ...] = ()
    live_cluster: LiveKeys | None = None  # read for every cluster (one context)
    pending: PendingWrites = field(default_factory=PendingWrites)  # an interrupted write (SM022)
    history: HistoryFacts | None = None  # audit --history: what past commits held
    # the SOPS files this state changes, as the last commit holds them (SM023), key-less
    earlier: EarlierStates = field(default_factory=EarlierStates, repr=False)

    @property
    def live_clusters(self) -> tuple[LiveKeys, ...]:
        """Every live Secret read: one for all clusters, or one per cluster context."""
        return self.repo.live or ((self.live_cluster,) if self.live_cluster else ())


ROTATION_CURE = "secretsmgr key rotate --begin"
"""The cure for a file still on the old key only during a cluster-key rotation (SM011, SM017):
run again, begin re-encrypts exactly the files not yet on both keys, with the pending key."""


def rotation_cure(cluster: str | None) -> str:
    """``ROTATION_CURE`` for the repository-wide rotation (None) or one cluster's own."""
    return ROTATION_CURE if cluster is None else f"{ROTATION_CURE} --cluster {sh_word(cluster)}"


OLD_KEY_ONLY = "still on the old key only: key rotate --finish would refuse"


def restore_metadata_hint(path: str) -> str:
    """A file whose ``ENC[…]`` values lost their ``sops`` block: encrypting it again would
    encrypt the ciphertext text as the value; the block comes back from git, or the values
    are made again."""
    return (
        f"{LOST_METADATA} (git log --oneline -- {sh_path(path)} lists "
        f"its versions; git checkout COMMIT -- {sh_path(path)}), or put the values in again in "
        f"clear and encrypt it: secretsmgr encrypt -i {sh_path(path)}"
    )


# The plaintext file goes however the line ends: run in a subshell, whose EXIT trap removes it
# and whose HUP/INT/TERM traps end it (a Ctrl-C in the middle left it in /dev/shm while the line
# ended in `; rm -f "$P"`: stop 29). The line's status is the failed step's, or 0.
_SCRATCH = (
    "P=$(mktemp /dev/shm/secretsmgr-plain.XXXXXX) || exit; "
    """trap 'rm -f "$P"' EXIT; trap 'exit 130' HUP INT TERM; """
)


# the sops flag of each key field a file may carry, as its ``foreign_ids`` name the keys
_KEY_FLAGS = {
    "pgp": "--pgp",
    "kms": "--kms",
    "gcp_kms": "--gcp-kms",
    "azure_kv": "--azure-kv",
    "hc_vault": "--hc-vault-transit",
}


# the rule flags `sops encrypt` takes (3.11)
_ENCRYPT_RULE_FLAGS = {
    RuleKind.UNENCRYPTED_SUFFIX: "--unencrypted-suffix",
    RuleKind.ENCRYPTED_SUFFIX: "--encrypted-suffix",
    RuleKind.UNENCRYPTED_REGEX: "--unencrypted-regex",
    RuleKind.ENCRYPTED_REGEX: "--encrypted-regex",
}


def own_key_flags(metadata: SopsMetadata) -> str | None:
    """The sops flags that encrypt a file as it is now, for a file no creation rule governs:
    its keys (one key group, every key in it), its encryption rule, ``--mac-only-encrypted``.
    None where a flag cannot say it (several key groups, a KMS key with a role or context)."""
    if len(metadata.key_groups) != 1:
        return None
    group = metadata.key_groups[0]
    flags: list[str] = []
    if group.recipients:
        flags.append(f"--age {sh_word(','.join(group.recipients))}")
    ids = group.foreign_ids()
    for name, value in group.foreign:
        count = len(value.items) if isinstance(value, SeqNode) else 0
        if name not in _KEY_FLAGS or count != sum(1 for n, _ in ids if n == name):
            return None
        for item in value.items if isinstance(value, SeqNode) else ():
            if isinstance(item, MapNode) and (item.get("role") or item.get("context")):
                return None  # a flag names the ARN alone
    for name in dict.fromkeys(n for n, _ in ids):
        flags.append(f"{_KEY_FLAGS[name]} {sh_word(','.join(k for n, k in ids if n == name))}")
    rule = metadata.rule
    if not flags or metadata.mac_only_encrypted or rule.kind not in _ENCRYPT_RULE_FLAGS:
        # `sops encrypt` has no flag for these (the top-level `sops -e` has): not offered
        # (the third attack review of stop 48: the pasted line died on an unknown flag)
        return None
    flags.append(f"{_ENCRYPT_RULE_FLAGS[rule.kind]} {sh_word(rule.value)}")
    return " ".join(flags)


def reencrypt_hint(
    path: str,
    *,
    with_sops: bool = False,
    config: str | None = None,
    ignore_mac: bool = False,
    own_keys: str | None = None,
) -> str:
    """Re-encrypt under the creation rule with the plaintext only in memory-backed /dev/shm,
    in a file of its own (``mktemp``: 0600, a new name, so no other user or run can hold or
    read it, as a fixed name in a shared folder would allow), removed whatever happens. The
    line is a subshell, so the user's shell keeps its folder and traps. ``with_sops``: through
    the sops binary, for a file only PGP or KMS keys open: age keys are the only ones read here.
    sops finds `.sops.yaml` from the current folder up and matches rules against the path as
    given, so a file governed by a nested ``config`` is re-encrypted from that config's
    folder. ``ignore_mac``: sops opens a file whose MAC no longer verifies (SM023), and the
    encrypt writes a new one. ``own_keys`` (``own_key_flags``): a file no creation rule
    governs is encrypted to its own keys, with no `.sops.yaml` read (sweep 91,
    noahlehmann/homelab-k8s-gitops: the pasted line failed "no creation rules")."""
    if own_keys is not None:
        quoted = sh_path(path)
        opener = f"sops decrypt {'--ignore-mac ' if ignore_mac else ''}"
        return (
            f'({_SCRATCH}{opener}--output "$P" {quoted} && sops --config /dev/null encrypt '
            f'{own_keys} --filename-override {quoted} --output {quoted} "$P")'
        )
    if with_sops or ignore_mac:
        folder = posixpath.dirname(config) if config and not posixpath.isabs(config) else ""
        inside = folder and path.startswith(folder + "/")
        inner = sh_path(path[len(folder) + 1 :] if inside else path)
        cd = f"cd {sh_path(folder)} || exit; " if inside else ""
        return (
            f"({cd}{_SCRATCH}sops decrypt {'--ignore-mac ' if ignore_mac else ''}"
            f'--output "$P" {inner} && '
            f'sops encrypt --filename-override {inner} --output {inner} "$P")'
        )
    quoted = sh_path(path)
    return (
        f'({_SCRATCH}secretsmgr decrypt -o "$P" {quoted} && '
        f'secretsmgr encrypt --filename-override {quoted} -o {quoted} "$P")'
    )


def sops_only(entry: SopsEntry) -> bool:
    """Whether only sops can open ``entry``: its keys are PGP, KMS or Vault keys, no age key."""
    sf = entry.sops_file
    return sf is not None and bool(sf.metadata.foreign_kinds) and not sf.metadata.age_recipients


def keys_of_its_clusters(
    ctx: AuditContext, path: str, memo: dict[str | None, frozenset[str]]
) -> frozenset[str]:
    """The cluster keys the clusters that apply ``path`` expect of their files (its other
    files' rules name them), which the file's own rule may leave out (Ramblurr/home-lab: a
    catch-all rule naming the operator's key alone). ``memo``: each cluster's keys, filled on
    first use, one per rule run."""
    if not memo:
        memo.update((g.cluster, frozenset(g.keys)) for g in ctx.repo.keys_by_cluster())
    return frozenset(
        key
        for cluster in ctx.repo.layers.clusters_of(path)
        for key in memo.get(cluster, ())
        if key in ctx.repo.cluster_keys
    )


def own_rule_fix(entry: SopsEntry) -> str:
    """The fix for a plaintext SOPS-named file whose creation rule would encrypt none of its
    values (``entry.encrypts_none``): ``encrypt`` refuses that rule, so the file's own rule,
    above it, comes first (SM002's and SM018's fix)."""
    where = entry.sops_config or ".sops.yaml"
    number = entry.creation_rule_number
    return (
        f"{where} rule {number} would encrypt none of its values: add a rule for it above rule "
        f"{number} (a path_regex for its name, the same keys, no encrypted_regex), then "
        f"secretsmgr encrypt -i {entry.path}"
    )


def reencrypt_fix(entry: SopsEntry) -> str:
    """``reencrypt_hint`` for ``entry``, through sops when only sops can open it, or when its
    creation rule names keys secretsmgr cannot encrypt to (PGP, KMS, Vault, post-quantum age:
    sweep 72, Diaoul/home-ops and Ramblurr/home-ops, where `encrypt` refused the pasted line)."""
    rule = entry.creation_rule
    foreign = rule is not None and any(
        g.pgp or g.other or any(is_post_quantum(k) for k in g.age) for g in rule.key_groups
    )
    return reencrypt_hint(
        entry.path, with_sops=sops_only(entry) or foreign, config=entry.sops_config
    )


def creation_rule_encrypts(entry: SopsEntry, key_path: str) -> bool:
    """Whether re-encrypting under the file's ``.sops.yaml`` creation rule would encrypt
    ``key_path`` (no rule, or one that cannot be judged here: assume it would)."""
    return rule_encrypts(entry.creation_rule, key_path)


def rule_encrypts(rule: CreationRule | None, key_path: str) -> bool:
    """Whether encrypting under the creation rule ``rule`` would encrypt ``key_path`` (no
    rule, or one that cannot be judged here: assume it would)."""
    spec = rule.encryption_rule if rule is not None else None
    if spec is None:
        return True  # sops's default: every value encrypted
    parts = key_path.split(".")
    cut = next((i for i, p in enumerate(parts) if p in ("data", "stringData")), len(parts) - 1)
    path = (*parts[: cut + 1], ".".join(parts[cut + 1 :])) if cut + 1 < len(parts) else tuple(parts)
    try:
        return path_is_encrypted(EncryptionRule(RuleKind(spec.kind), spec.value), path)
    except (FormatError, ValueError):
        return True


def widen_hint(entry: SopsEntry, key_path: str, *, too: bool) -> str:
    """The fix when the creation rule itself leaves ``key_path`` in clear: change the rule,
    then re-encrypt (``too``: the file's own rule leaves it in clear as well)."""
    where = entry.sops_config or ".sops.yaml"
    number = f" {entry.creation_rule_number}" if entry.creation_rule_number else ""
    spec = entry.creation_rule.encryption_rule if entry.creation_rule is not None else None
    # a KEY=value file has no data/stringData: a Secret's regex would encrypt none of it
    dotenv = entry.sops_file is not None and entry.sops_file.format.value == "dotenv"
    widen = (
        "widen its encrypted_regex, or give the file a rule with none (every value encrypted)"
        if dotenv
        else "widen its encrypted_regex (for a Secret, ^(data|stringData)$)"
    )
    change = {
        "encrypted_regex": widen,
        "encrypted_suffix": "make the key end in its encrypted_suffix, or use encrypted_regex",
        "unencrypted_regex": "narrow its unencrypted_regex",
        "unencrypted_suffix": "rename the key so it does not end in its unencrypted_suffix",
    }.get(spec.kind if spec is not None else "", "change its encryption rule")
    leaves = "leaves" if too else "would leave"
    return (
        f"{where} rule{number} {leaves} {key_path} in clear{' too' if too else ''}: {change}, "
        "then re-encrypt: " + reencrypt_fix(entry)
    )


class ChangelogHistory:
    """What git's history of the changelog says about its lines, read on first use (only the
    rules that date or cover file states ask, so the gate never runs git for it)."""

    def __init__(self, root: Path, name: str, data: bytes, entries: Sequence[Entry]) -> None:
        self._args = (root, name, data, tuple(entries))
        self._anchoring: Anchoring | None = None

    def anchoring(self) -> Anchoring:
        """Commit and time of each committed line, and any rewrite of committed lines."""
        from secretsmgr.changelog.anchor import Anchoring, anchor_changelog

        if self._anchoring is None:
            root, name, data, entries = self._args
            if not entries:
                self._anchoring = Anchoring()
            else:
                try:
                    self._anchoring = anchor_changelog(
                        root, name, data, entries, check_states=False
                    )
                except ConfigError:  # git unusable here: nothing is anchored, nothing breaks
                    self._anchoring = Anchoring()
        return self._anchoring


def _load_changelog(root: Path, name: str) -> tuple[bytes, tuple[Entry, ...], bool, str | None]:
    try:
        path = changelog_path(root, name)  # inside the repository, no link on the way
    except ConfigError as exc:
        return b"", (), True, exc.message
    try:
        data = path.read_bytes()
    except OSError:
        return b"", (), False, None
    try:
        return data, tuple(parse_entries(data)), True, None
    except ChainError as exc:
        return data, (), True, exc.message


def build_context(
    repo: Inventory,
    *,
    identities: Sequence[Identity] = (),
    max_age_days: int | None = None,
    verify_mac: bool = False,
    now: datetime | None = None,
    live_cluster: LiveKeys | Sequence[LiveKeys] | None = None,
    history: HistoryFacts | None = None,
    earlier: EarlierStates | None = None,
) -> AuditContext:
    """Add the changelog, the clock and (with ``verify_mac``) the opened data keys to ``repo``."""
    name = repo.settings.changelog
    data, entries, present, error = _load_changelog(repo.root, name)
    data_keys: dict[str, bytes] = {}
    unopened: list[str] = []
    if verify_mac and identities:
        for entry in repo.sops_files:
            if entry.sops_file is None:
                continue
            try:
                data_keys[entry.path] = unwrap_data_key(entry.sops_file.metadata, identities)
            except DecryptionError:
                unopened.append(entry.path)
    return AuditContext(
        repo=repo,
        max_age_days=max_age_days if max_age_days is not None else repo.settings.max_age_days,
        now=now or datetime.now(UTC),
        changelog=entries,
        changelog_present=present,
        changelog_error=error,
        changelog_history=ChangelogHistory(repo.root, name, data, entries),
        verify_mac=verify_mac,
        identities=tuple(identities),
        data_keys=MappingProxyType(data_keys),
        unopened=tuple(unopened),
        live_cluster=live_cluster if isinstance(live_cluster, LiveKeys) else None,
        pending=find_pending(repo.root, repo.all_files),
        history=history,
        earlier=earlier or EarlierStates(),
    )
