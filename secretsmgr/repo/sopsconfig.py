"""SOPS's own `.sops.yaml`: creation rules, read the way sops reads them (never rewritten)."""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from secretsmgr.errors import ConfigError, FormatError
from secretsmgr.fsutil import read_regular
from secretsmgr.keys.bech32 import is_age_recipient, is_post_quantum
from secretsmgr.repo.snapshot import Snapshot
from secretsmgr.shellword import sh_path
from secretsmgr.sops.model import SopsMetadata, pgp_id
from secretsmgr.sops.regex import compile_go
from secretsmgr.sops.yamlio import safe_load_all

SOPS_CONFIG_NAME = ".sops.yaml"
_MAX_PARENT_LEVELS = 100

ENCRYPTION_RULE_KINDS = (
    "unencrypted_suffix",
    "encrypted_suffix",
    "unencrypted_regex",
    "encrypted_regex",
    "unencrypted_comment_regex",
    "encrypted_comment_regex",
)

# Flat (comma-separated string or list) fields of a creation rule that are not age/pgp.
_FLAT_OTHER_FIELDS = ("kms", "gcp_kms", "azure_keyvault", "hc_vault_transit_uri", "hckms")
# Fields of a key group that are not age/pgp, with the key naming each object entry.
_GROUP_OTHER_FIELDS = ("kms", "gcp_kms", "azure_keyvault", "hc_vault", "hckms")
_OBJECT_KEY_FIELD = {"kms": "arn", "gcp_kms": "resource_id", "hckms": "key_id"}


@dataclass(frozen=True, slots=True)
class KeyGroupSpec:
    """One key group of a creation rule; ``other`` holds kms/gcp/azure/vault/hckms key ids."""

    age: tuple[str, ...] = ()
    pgp: tuple[str, ...] = ()
    other: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class EncryptionRuleSpec:
    """Which values get encrypted: ``kind`` is one of ENCRYPTION_RULE_KINDS."""

    kind: str
    value: str


@dataclass(frozen=True, slots=True)
class CreationRule:
    """One entry of ``creation_rules``."""

    path_regex: str | None
    key_groups: tuple[KeyGroupSpec, ...]
    shamir_threshold: int = 0
    encryption_rule: EncryptionRuleSpec | None = None
    mac_only_encrypted: bool = False


@dataclass(frozen=True, slots=True)
class SopsConfig:
    """A parsed `.sops.yaml`; ``path`` is the file itself."""

    path: Path
    rules: tuple[CreationRule, ...]
    yaml_indent: int = 4
    json_indent: int = -1
    # the key it spells ``creation_rules`` with (``creationRules``), which sops never reads
    misspelled: str | None = None


class _Reader:
    """Type-checked access to the untyped YAML tree, raising ConfigError naming the file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, message: str, hints: tuple[str, ...] = ()) -> ConfigError:
        return ConfigError(f"{self.path}: {message}", hints=hints)

    def mapping(self, value: object, where: str) -> dict[str, object]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail(f"{where} must be a mapping")
        return cast(dict[str, object], value)

    def sequence(self, value: object, where: str) -> list[object]:
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail(f"{where} must be a list")
        return cast(list[object], value)

    def string(self, value: object, where: str) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.fail(f"{where} must be a string")
        return value

    def integer(self, value: object, where: str, default: int) -> int:
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(f"{where} must be an integer")
        return value

    def boolean(self, value: object, where: str) -> bool:
        if value is None:
            return False
        if not isinstance(value, bool):
            raise self.fail(f"{where} must be true or false")
        return value

    def key_list(self, value: object, where: str) -> list[str]:
        """A comma-separated string or a list of strings, as sops accepts for flat key fields."""
        if value is None:
            return []
        if isinstance(value, str):
            items: list[object] = list(value.split(","))
        elif isinstance(value, list):
            items = cast(list[object], value)
        else:
            raise self.fail(f"{where} must be a string or a list of strings")
        keys: list[str] = []
        for item in items:
            if not isinstance(item, str):
                raise self.fail(f"{where} must be a string or a list of strings")
            keys.extend(k.strip() for k in item.split(",") if k.strip())
        return keys


def _dedupe(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def _other_key(reader: _Reader, field: str, entry: object, where: str) -> str:
    if isinstance(entry, str):
        return entry.strip()
    obj = reader.mapping(entry, where)
    if field == "azure_keyvault":
        url = reader.string(obj.get("vaultUrl"), f"{where}.vaultUrl") or ""
        key = reader.string(obj.get("key"), f"{where}.key") or ""
        version = reader.string(obj.get("version"), f"{where}.version") or ""
        return f"{url.rstrip('/')}/keys/{key}/{version}".rstrip("/")
    name = _OBJECT_KEY_FIELD.get(field, "")
    key_id = reader.string(obj.get(name), f"{where}.{name}") if name else None
    if not key_id:
        raise reader.fail(f"{where} has no {name or 'key'}")
    return key_id


def _parse_group(reader: _Reader, raw: object, where: str, depth: int = 0) -> KeyGroupSpec:
    if depth > 20:
        raise reader.fail(f"{where}: merge nested too deeply")
    group = reader.mapping(raw, where)
    age: list[str] = []
    pgp: list[str] = []
    other: list[str] = []
    # sops puts merged groups' keys first, then the group's own, and drops duplicates.
    for i, sub in enumerate(reader.sequence(group.get("merge"), f"{where}.merge")):
        merged = _parse_group(reader, sub, f"{where}.merge[{i}]", depth + 1)
        age.extend(merged.age)
        pgp.extend(merged.pgp)
        other.extend(merged.other)
    age.extend(reader.key_list(group.get("age"), f"{where}.age"))
    pgp.extend(reader.key_list(group.get("pgp"), f"{where}.pgp"))
    for field in _GROUP_OTHER_FIELDS:
        for j, entry in enumerate(reader.sequence(group.get(field), f"{where}.{field}")):
            other.append(_other_key(reader, field, entry, f"{where}.{field}[{j}]"))
    return KeyGroupSpec(age=_dedupe(age), pgp=_dedupe(pgp), other=_dedupe(other))


def _check_regex(reader: _Reader, where: str, field: str, pattern: str) -> None:
    """Refuse a pattern Go's regexp (which sops compiles it with) would refuse."""
    try:
        compile_go(pattern)
    except FormatError as exc:
        raise reader.fail(f"{where} has an invalid {field}: {exc.message}") from exc


def _parse_rule(reader: _Reader, raw: object, index: int) -> CreationRule:
    where = f"creation rule {index + 1}"
    rule = reader.mapping(raw, where)
    path_regex = reader.string(rule.get("path_regex"), f"{where} path_regex") or None
    if path_regex is not None:
        _check_regex(reader, where, "path_regex", path_regex)

    groups_raw = reader.sequence(rule.get("key_groups"), f"{where} key_groups")
    if groups_raw:
        key_groups = tuple(
            _parse_group(reader, g, f"{where} key_groups[{i}]") for i, g in enumerate(groups_raw)
        )
    else:
        age = reader.key_list(rule.get("age"), f"{where} age")
        pgp = reader.key_list(rule.get("pgp"), f"{where} pgp")
        other: list[str] = []
        for field in _FLAT_OTHER_FIELDS:
            other.extend(reader.key_list(rule.get(field), f"{where} {field}"))
        flat = KeyGroupSpec(age=_dedupe(age), pgp=_dedupe(pgp), other=_dedupe(other))
        key_groups = (flat,) if flat.age or flat.pgp or flat.other else ()

    present: list[EncryptionRuleSpec] = []
    for kind in ENCRYPTION_RULE_KINDS:
        value = reader.string(rule.get(kind), f"{where} {kind}")
        if value:  # sops treats an empty string as unset
            present.append(EncryptionRuleSpec(kind=kind, value=value))
    if len(present) > 1:
        kinds = ", ".join(spec.kind for spec in present)
        raise reader.fail(f"{where} sets more than one encryption rule ({kinds})")
    encryption_rule = present[0] if present else None
    if encryption_rule is not None and encryption_rule.kind.endswith("regex"):
        _check_regex(reader, where, encryption_rule.kind, encryption_rule.value)

    threshold = reader.integer(rule.get("shamir_threshold"), f"{where} shamir_threshold", 0)
    if threshold < 0:
        raise reader.fail(f"{where} shamir_threshold must not be negative")
    return CreationRule(
        path_regex=path_regex,
        key_groups=key_groups,
        shamir_threshold=threshold,
        encryption_rule=encryption_rule,
        mac_only_encrypted=reader.boolean(
            rule.get("mac_only_encrypted"), f"{where} mac_only_encrypted"
        ),
    )


def parse_sops_config(text: str, path: Path) -> SopsConfig:
    """Parse the text of a `.sops.yaml`; ``path`` names it in errors and anchors path_regex."""
    reader = _Reader(path)
    try:
        docs = safe_load_all(text)
    except FormatError as exc:
        raise reader.fail(exc.message, exc.hints) from exc
    docs = [d for d in docs if d is not None]
    top = reader.mapping(docs[0] if docs else None, "the document")
    rules = tuple(
        _parse_rule(reader, raw, i)
        for i, raw in enumerate(reader.sequence(top.get("creation_rules"), "creation_rules"))
    )
    stores = reader.mapping(top.get("stores"), "stores")
    yaml_store = reader.mapping(stores.get("yaml"), "stores.yaml")
    json_store = reader.mapping(stores.get("json"), "stores.json")
    yaml_indent = reader.integer(yaml_store.get("indent"), "stores.yaml.indent", 4) or 4  # 0: unset
    if yaml_indent < 0:
        raise reader.fail("stores.yaml.indent is negative (sops refuses it too)")
    json_indent = reader.integer(json_store.get("indent"), "stores.json.indent", -1)
    misspelled = None
    if "creation_rules" not in top:
        misspelled = next(
            (k for k in top if isinstance(k, str) and _squashed(k) == "creationrules"), None
        )
    return SopsConfig(
        path=path,
        rules=rules,
        yaml_indent=yaml_indent,
        json_indent=json_indent,
        misspelled=misspelled,
    )


def _squashed(key: str) -> str:
    return key.lower().replace("_", "").replace("-", "")


def load_sops_config(path: Path) -> SopsConfig:
    """Read and parse the `.sops.yaml` at ``path``: a regular file of UTF-8 text, else a
    ``ConfigError`` that says why (a folder, a FIFO: never waited for)."""
    try:
        data = read_regular(path, limit=_CONFIG_LIMIT)
        if len(data) > _CONFIG_LIMIT:
            raise ConfigError(f"cannot read {path}: over 1 MiB, more than a .sops.yaml holds")
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"cannot read {path}: it is no UTF-8 text") from exc
    except OSError as exc:
        why = "it is a folder" if path.is_dir() else exc.strerror or "it cannot be opened"
        raise ConfigError(f"cannot read {path}: {why}") from exc
    return parse_sops_config(text, path)


_CONFIG_LIMIT = 1 << 20


def find_sops_config(start_dir: Path, stop_at: Path | None = None) -> Path | None:
    """Find `.sops.yaml` in ``start_dir`` or up to 100 parents (not above ``stop_at``)."""
    current = Path(os.path.abspath(start_dir))
    stop = Path(os.path.abspath(stop_at)) if stop_at is not None else None
    for _ in range(_MAX_PARENT_LEVELS + 1):
        candidate = current / SOPS_CONFIG_NAME
        if candidate.exists():
            # found whatever it is, as sops finds it (a folder or a FIFO of that name made
            # encrypt say "no .sops.yaml found"; sops says it cannot read it, and so does
            # load_sops_config)
            return candidate
        if current == stop or current.parent == current:
            return None
        current = current.parent
    return None


def _relative_to(base: str, target: str) -> str | None:
    prefix = base.rstrip("/") + "/"
    return target[len(prefix) :] if target.startswith(prefix) else None


def config_relative_path(config: SopsConfig, file_path: Path) -> str:
    """Return the string sops matches path_regex against: the path below the config's folder."""
    target = os.path.abspath(file_path)
    config_dir = os.path.dirname(os.path.abspath(config.path))
    rel = _relative_to(config_dir, target)
    if rel is None:  # a symlinked folder on one side only: compare resolved folders
        resolved = os.path.join(os.path.realpath(os.path.dirname(target)), file_path.name)
        rel = _relative_to(os.path.realpath(config_dir), resolved)
    return Path(rel).as_posix() if rel is not None else Path(target).as_posix()


def match_rule(config: SopsConfig, file_path: Path) -> CreationRule | None:
    """Return the first creation rule whose path_regex matches ``file_path``, as sops picks it."""
    subject = config_relative_path(config, file_path)
    for rule in config.rules:
        if rule.path_regex is None or compile_go(rule.path_regex).search(subject):
            return rule
    return None


def age_keys_under_pgp(rule: CreationRule) -> list[str]:
    """The age recipients ``rule`` lists under ``pgp:``, where sops reads a PGP fingerprint
    and cannot encrypt to them (Michaelpalacce/HomeLab, sweep 18)."""
    return [k for g in rule.key_groups for k in g.pgp if is_age_recipient(k.strip())]


_HEX_ID = re.compile(r"[0-9A-F]{8,40}")


def malformed_pgp(rule: CreationRule) -> list[str]:
    """The entries ``rule`` lists under ``pgp:`` that are no PGP fingerprint or key id (hex
    digits; an age key there is ``age_keys_under_pgp``'s): sops cannot encrypt to them (sweeps
    57 and 60, lab-xyz/lab: `C30C…396r38…`, one letter off the files' key)."""
    return [
        k.strip()
        for g in rule.key_groups
        for k in g.pgp
        if not is_age_recipient(k.strip()) and not _HEX_ID.fullmatch(pgp_id(k))
    ]


def nearest_pgp(written: str, fingerprints: Iterable[str]) -> str | None:
    """The fingerprint among ``fingerprints`` that ``written`` misspells: as long, and
    differing in two places at most."""
    want = pgp_id(written)
    for fingerprint in fingerprints:
        have = pgp_id(fingerprint)
        if len(have) == len(want) and sum(a != b for a, b in zip(have, want, strict=True)) <= 2:
            return have
    return None


def all_age_recipients(rule: CreationRule) -> tuple[str, ...]:
    """Return every age recipient of ``rule`` across its key groups, first occurrence kept."""
    return _dedupe(key for group in rule.key_groups for key in group.age)


class SopsConfigs:
    """The nearest `.sops.yaml` for each file: in its folder or above, inside the repository,
    else the one ``find_sops_config`` finds from the root upwards (as ``encrypt`` does)."""

    def __init__(self, snapshot: Snapshot) -> None:
        """Index the `.sops.yaml` files of ``snapshot`` (each parsed on first use)."""
        self.snapshot = snapshot
        self.root = snapshot.root
        tail = "/" + SOPS_CONFIG_NAME
        self.dirs = {  # a suffix test, not basename(): this runs over every path of the repo
            posixpath.dirname(f)
            for f in snapshot.paths
            if f.endswith(tail) or f == SOPS_CONFIG_NAME
        }
        self._loaded: dict[str, SopsConfig] = {}
        # each `.sops.yaml` of the repository that cannot be read, with why: it counts as one
        # with no rule, and SM011 reports it (sweep 106, Odinyg/homelab: a malformed one in a
        # folder of no SOPS file made every command refuse)
        self.broken: dict[str, str] = {}
        self._outside: SopsConfig | None = None
        self._outside_done = False
        self._labels: dict[Path, str] = {}

    def _load(self, folder: str) -> SopsConfig:
        cached = self._loaded.get(folder)
        if cached is None:
            rel = posixpath.join(folder, SOPS_CONFIG_NAME) if folder else SOPS_CONFIG_NAME
            try:
                cached = self._parse(rel)
            except ConfigError as exc:
                if not folder:
                    raise  # the root's: every sops run from the root fails on it too
                self.broken[rel] = exc.message.replace(str(self.root / rel), rel, 1)
                cached = SopsConfig(self.root / rel, ())
            self._loaded[folder] = cached
        return cached

    def _parse(self, rel: str) -> SopsConfig:
        try:
            text = self.snapshot.read(rel).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError(f"cannot read {rel}: it is no UTF-8 text") from exc
        except OSError as exc:
            # say why (the attack review of stop 50: a link out of the repository read as
            # "cannot read .sops.yaml", which other commands named for what it is)
            why = exc.strerror or str(exc).removeprefix(f"{rel}: ")
            raise ConfigError(f"cannot read {rel}: {why}") from exc
        return parse_sops_config(text, self.root / rel)

    def unreadable(self) -> dict[str, str]:
        """Each `.sops.yaml` below the root that cannot be read, with why (every one loaded)."""
        for folder in sorted(self.dirs):
            if folder:
                self._load(folder)
        return dict(self.broken)

    def fallback(self) -> SopsConfig | None:
        """The config for files with none in the repository (root, or above it)."""
        if "" in self.dirs:
            return self._load("")
        if not self._outside_done:
            self._outside_done = True
            found = find_sops_config(self.root)
            self._outside = load_sops_config(found) if found is not None else None
        return self._outside

    def governing(self, path: str) -> SopsConfig | None:
        """The `.sops.yaml` that governs ``path`` (its folder's or one above), or None."""
        folder = self.folder_of(path)
        return self._load(folder) if folder or "" in self.dirs else self.fallback()

    def folder_of(self, path: str) -> str:
        """The folder of the `.sops.yaml` that governs ``path``: the nearest one in its folder
        or above, "" for the root's (or none in the repository)."""
        folder = posixpath.dirname(path)
        while folder and folder not in self.dirs:
            folder = posixpath.dirname(folder)
        return folder

    def rule_for(self, path: str) -> tuple[str | None, CreationRule | None, int | None]:
        """(config label, matching creation rule, its 1-based number) for ``path``."""
        folder = self.folder_of(path)
        if folder or "" in self.dirs:
            config = self._load(folder)
            rule, number = self._match_in(config, folder, path)
            return self.label(config), rule, number
        outside = self.fallback()
        if outside is None:
            return None, None, None
        found = match_rule(outside, self.root / path)
        if found is None:
            return self.label(outside), None, None
        return self.label(outside), found, outside.rules.index(found) + 1

    def rule_above(self, path: str) -> tuple[str, int] | None:
        """(config label, rule number) of the first rule of a `.sops.yaml` above the one that
        governs ``path`` that matches it: the rule a sops run from that config's folder uses,
        while the nearer config matches nothing (sweep 64, Sol-Duara-Inc/pdvd-platform: a
        `clusters/.sops.yaml` of broken rules under a root one that matched)."""
        folder = self.folder_of(path)
        while folder:
            folder = posixpath.dirname(folder)
            while folder and folder not in self.dirs:
                folder = posixpath.dirname(folder)
            if folder not in self.dirs:
                return None
            config = self._load(folder)
            number = self._match_in(config, folder, path)[1]
            if number is not None:
                return self.label(config), number
        return None

    @staticmethod
    def _match_in(
        config: SopsConfig, folder: str, path: str
    ) -> tuple[CreationRule | None, int | None]:
        """The first rule of ``config`` (in ``folder``) whose path_regex matches ``path``,
        taken below that folder as sops takes it, with its 1-based number."""
        subject = path[len(folder) + 1 :] if folder else path
        for number, rule in enumerate(config.rules, start=1):
            if rule.path_regex is None or compile_go(rule.path_regex).search(subject):
                return rule, number
        return None, None

    def sops_command(self, args: str, path: str) -> str:
        """``sops ARGS PATH`` as it finds the rule secretsmgr reads for ``path``: sops looks for
        `.sops.yaml` from the current folder up, not from the file's, so under a config below
        the root it runs from that config's folder (sweep 36, luisgj/flux-sops: a command
        pasted at the root found no config)."""
        label = self.rule_for(path)[0]
        folder = posixpath.dirname(label) if label and not posixpath.isabs(label) else ""
        if folder and path.startswith(folder + "/"):
            # in a subshell: the next command pasted after it runs at the root again (the
            # attack review: `sops exec-env DIR/x.env …` after `cd DIR && …` found nothing)
            return f"(cd {sh_path(folder)} && sops {args} {sh_path(path[len(folder) + 1 :])})"
        return f"sops {args} {sh_path(path)}"

    def needs_sops(self, path: str) -> bool:
        """Whether the creation rule of ``path`` names a key only sops encrypts to: PGP, KMS,
        Vault, or a post-quantum age key (sops 3.11 encrypts to them, pyrage cannot: sweep 42,
        CJ-Jackson/homelab, the fix failed when pasted)."""
        rule = self.rule_for(path)[1]
        return rule is not None and any(
            g.pgp or g.other or any(is_post_quantum(k) for k in g.age) for g in rule.key_groups
        )

    def encrypt_command(self, path: str) -> str:
        """How ``path`` is encrypted in place under its creation rule: ``secretsmgr encrypt
        -i`` where the rule names classic age keys alone, else sops, which encrypts to the PGP,
        KMS, Vault and post-quantum age keys it names too (the encrypt command refuses them;
        sweep 36, luisgj/flux-sops)."""
        if self.needs_sops(path):
            return self.sops_command("encrypt -i", path)
        return f"secretsmgr encrypt -i {sh_path(path)}"

    def encrypt_renamed_command(self, path: str, target: str) -> str:
        """How sops encrypts ``path`` into ``target`` (its new name in the same folder) under
        the creation rule of ``target``, then removes it: nothing is renamed or removed unless
        the encryption succeeds, which needs the PGP keys (or KMS access) the rule names (sweep
        83, TkPegatron/homelab-as-code: sops found no PGP key after the pasted fix had renamed
        the plaintext file to a SOPS name)."""
        label = self.rule_for(target)[0]
        folder = posixpath.dirname(label) if label and not posixpath.isabs(label) else ""
        if folder and path.startswith(folder + "/") and target.startswith(folder + "/"):
            old, new = sh_path(path[len(folder) + 1 :]), sh_path(target[len(folder) + 1 :])
            return (
                f"(cd {sh_path(folder)} && sops encrypt --filename-override {new} --output {new} "
                f"{old} && rm -f {old})"
            )
        old, new = sh_path(path), sh_path(target)
        return f"sops encrypt --filename-override {new} --output {new} {old} && rm -f {old}"

    def updatekeys_hint(
        self, path: str, kinds: Sequence[str], cluster_keys: Sequence[str] = ()
    ) -> str:
        """How a holder of ``kinds`` keys (pgp, KMS, Vault) re-wraps the data key of ``path``
        to its creation rule with sops, which finds `.sops.yaml` from the current folder up
        and matches the rule against the path as given: from that config's folder. Says so
        when no rule matches the file, or its rule names no age key (the cluster's)."""
        # a file on age keys whose rule also names PGP keys: its age key opens it (sweep 19)
        held = " and ".join(kinds) or "age"
        label, rule, number = self.rule_for(path)
        if label is None or rule is None:
            where = f"in {label}" if label is not None else "in a .sops.yaml above it"
            # the cluster's age key only where a cluster decrypts the file with one (a
            # repository whose Flux decrypts with a PGP or KMS key has none)
            names = "the cluster's age key" if cluster_keys else f"its {held} keys"
            return (
                f"no creation rule matches {path}: add one {where} that names {names}, then a "
                f"holder of its {held} keys runs sops updatekeys -y on it from that "
                ".sops.yaml's folder"
            )
        command = self.sops_command("updatekeys -y", path)
        holder = f"a holder of its {held} keys"
        if "pgp" not in kinds and any(group.pgp for group in rule.key_groups):
            # an age key's holder syncs the file, and sops encrypts to every PGP key the rule
            # names from the GnuPG keyring (sweep 52, Pumba98/k3s-flux-cluster: pasted, it
            # failed "gpg: …: skipped: No public key"); said before the command, which is
            # pasted as it stands (the attack review: in it, the words broke bash)
            holder += (
                ", with the public half of each PGP key the rule names in their GnuPG keyring "
                "(gpg --import),"
            )
        cloud = {"kms", "gcp_kms", "azure_kv", "hc_vault", "hckms"}
        if not cloud & set(kinds) and any(group.other for group in rule.key_groups):
            # sops wraps the data key for each KMS or Vault key the rule names, so the holder
            # needs access to them too (sweep 96, adrianmo/aks-flux: pasted with the age key
            # alone, it failed reaching the Azure Key Vault, the file unchanged)
            holder = holder.rstrip(",") + ", with access to the KMS or Vault keys the rule names,"
        named = {key for group in rule.key_groups for key in group.age}
        if not named and cluster_keys:
            return (
                f"{label} rule {number} names no age key: add the cluster's age key to it, then "
                f"{holder} runs: {command}"
            )
        if cluster_keys and not named & set(cluster_keys):
            return (
                f"{label} rule {number} names no cluster key ({cluster_keys[0]}): add it to the "
                f"rule, then {holder} runs: {command}"
            )
        return f"{holder} syncs it to {label} rule {number}: {command}"

    def all_loaded(self) -> list[SopsConfig]:
        """Every config in the repository (loaded), plus the fallback."""
        configs = [self._load(d) for d in sorted(self.dirs)]
        outside = self.fallback()
        if outside is not None and outside not in configs:
            configs.append(outside)
        return configs

    def label(self, config: SopsConfig) -> str:
        """The config's path relative to the root when inside it."""
        cached = self._labels.get(config.path)
        if cached is None:
            try:
                cached = config.path.resolve().relative_to(self.root.resolve()).as_posix()
            except ValueError:
                cached = str(config.path)
            self._labels[config.path] = cached
        return cached


def sops_rotate_hint(path: str, metadata: SopsMetadata) -> str | None:
    """How a file gets a new data key when ``secretsmgr rotate`` refuses it: keys only sops
    can wrap one for (PGP, KMS, Vault), or several key groups; None when secretsmgr can."""
    quoted = sh_path(path)
    if len(metadata.key_groups) > 1:
        return f"rotate it with sops, which keeps its groups: sops rotate -i {quoted}"
    kinds = metadata.foreign_kinds
    if not kinds:
        return None
    held = " and ".join(kinds)
    if metadata.age_recipients:
        return f"rotate it with sops, which holds those keys: sops rotate -i {quoted}"
    # `sops updatekeys` keeps the data key: only `sops rotate` makes a new one, run where
    # sops can reach the file's keys (a PGP secret key, KMS or Vault credentials)
    return f"a holder of its {held} keys gives it a new data key with sops: sops rotate -i {quoted}"
