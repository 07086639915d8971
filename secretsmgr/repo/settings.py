"""`.secretsmgr.yaml` (optional, repo root) and the cluster-key precedence chain."""

from __future__ import annotations

import fnmatch
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import cast

from secretsmgr.errors import ConfigError, FormatError
from secretsmgr.keys.bech32 import is_age_recipient, is_sops_recipient, plugin_of_recipient
from secretsmgr.repo.schema import validate
from secretsmgr.repo.snapshot import Snapshot, WorktreeSnapshot
from secretsmgr.shellword import sh_word
from secretsmgr.sops.regex import GoRegex, compile_go, escape
from secretsmgr.sops.yamlio import safe_load_all

SETTINGS_NAME = ".secretsmgr.yaml"
CLUSTER_KEY_ENV = "SECRETSMGR_CLUSTER_KEY"

_CLUSTER_KEYS = frozenset({"path", "cluster_key", "next_cluster_key", "context", "decryption"})
_SOURCE_KEY = re.compile(r"^(GitRepository|OCIRepository|Bucket|ExternalArtifact)/[^/\s]+/[^/\s]+$")
_RULE_ID = re.compile(r"^SM\d{3}$")


def without_cluster_key_env(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` without ``SECRETSMGR_CLUSTER_KEY``: each file's keys come from the repository
    (the operator's own choice of key must not decide which keys a cluster needs)."""
    return {k: v for k, v in env.items() if k != CLUSTER_KEY_ENV}


def _check_recipient(key: str, where: str) -> str:
    if key.upper().startswith("AGE-SECRET-KEY-"):
        raise ConfigError(f"{where} holds an age private key, not a public key")
    plugin = plugin_of_recipient(key)
    if plugin is not None:
        # Flux's kustomize-controller holds age identities in a Secret and runs no plugin
        raise ConfigError(
            f"{where} is an age plugin recipient (age-plugin-{plugin}): Flux cannot decrypt "
            "with a plugin's key, so it cannot be a cluster key",
            hints=(f"list it under allowed_recipients in {SETTINGS_NAME}",),
        )
    if not is_age_recipient(key):
        raise ConfigError(f"{where} is not an age public key (age1…)")
    return key


@lru_cache(maxsize=512)
def glob_to_regex(pattern: str) -> GoRegex:
    """Translate a path glob: ``**/`` = zero or more folders, ``*`` and ``?`` never cross ``/``.

    The result is an RE2 pattern (``fullmatch`` it against a repo-relative path): a glob such
    as ``*a*a*a*a*b`` would backtrack for minutes in Python's ``re``; RE2 is linear.
    """
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if pattern.startswith("**", i):
            if pattern.startswith("**/", i):
                out.append("(?:[^/]*/)*")
                i += 3
            else:
                out.append(".*")
                i += 2
        elif ch == "*":
            out.append("[^/]*")
            i += 1
        elif ch == "?":
            out.append("[^/]")
            i += 1
        elif ch == "[":
            j = i + 1
            negate = j < n and pattern[j] in "!^"
            if negate:
                j += 1
            first = j
            if j < n and pattern[j] == "]":
                j += 1  # a leading "]" is literal, as in fnmatch
            end = pattern.find("]", j)
            if end == -1:
                out.append(escape(ch))
                i += 1
                continue
            body = "".join("\\" + c if c in "\\[]^" else c for c in pattern[first:end])
            out.append(f"[^/{body}]" if negate else f"[{body}]")
            i = end + 1
        else:
            out.append(escape(ch))
            i += 1
    try:
        return compile_go("(?s)" + "".join(out))
    except FormatError as exc:
        raise ConfigError(f"{SETTINGS_NAME}: the path glob {pattern!r} is invalid") from exc


def glob_literal(text: str) -> str:
    """``text`` as a glob (a path's, or a key path's) that matches it alone: ``[``, ``*`` and
    ``?`` each in a class of its own (the attack review of sweep 83: a printed ignore entry for
    `apps/db [prod]/…` read `[prod]` as a class and suppressed nothing)."""
    return "".join(f"[{c}]" if c in "[*?" else c for c in text)


@dataclass(frozen=True, slots=True)
class IgnoreEntry:
    """A suppression: findings of ``rule`` on paths matching the glob ``path``, with a reason."""

    rule: str
    path: str
    reason: str
    key_path: str | None = None  # a glob over the dotted key path (``spec.values.*.tag``)

    def matches(self, rule_id: str, path: str, key_path: str | None = None) -> bool:
        """Tell whether this entry suppresses ``rule_id`` on the repo-relative ``path`` (and,
        when the entry names one, on ``key_path``)."""
        if rule_id != self.rule or not glob_to_regex(self.path).fullmatch(path):
            return False
        if self.key_path is None:
            return True
        return key_path is not None and fnmatch.fnmatchcase(key_path, self.key_path)


@dataclass(frozen=True, slots=True)
class ClusterSpec:
    """A cluster named in ``clusters:``: where its Flux root is, and its key."""

    name: str
    path: str
    cluster_key: str | None = None
    context: str | None = None
    # the spec.decryption of a root applied from outside the repository (Terraform, a cloud
    # provider's Flux extension): (provider, secretRef name or None); None when not given
    decryption: tuple[str, str | None] | None = None
    next_cluster_key: str | None = None  # while a rotation of this cluster's own key is under way


@dataclass(frozen=True, slots=True)
class Settings:
    """The contents of `.secretsmgr.yaml`, defaults filled in."""

    cluster_key: str | None = None
    next_cluster_key: str | None = None
    allowed_recipients: tuple[str, ...] = ()
    max_age_days: int = 90
    changelog: str = "secrets-changelog.jsonl"
    ignore: tuple[IgnoreEntry, ...] = ()
    clusters: tuple[ClusterSpec, ...] = ()
    sources: tuple[tuple[str, str], ...] = ()  # ("OCIRepository/flux-system/x", "kubernetes")
    outside_flux: tuple[str, ...] = ()

    def is_ignored(self, rule_id: str, path: str, key_path: str | None = None) -> bool:
        """Tell whether any ignore entry suppresses ``rule_id`` on ``path`` (at ``key_path``)."""
        return any(entry.matches(rule_id, path, key_path) for entry in self.ignore)

    @property
    def pending_rotations(self) -> tuple[tuple[str | None, str, str], ...]:
        """(cluster name, old key, new key) of every cluster-key rotation under way: the
        repository-wide one (name None), and each cluster's own (``clusters.<name>``)."""
        out: list[tuple[str | None, str, str]] = []
        if self.cluster_key is not None and self.next_cluster_key is not None:
            out.append((None, self.cluster_key, self.next_cluster_key))
        out.extend(
            (c.name, c.cluster_key, c.next_cluster_key)
            for c in self.clusters
            if c.cluster_key is not None and c.next_cluster_key is not None
        )
        return tuple(out)

    def cluster(self, name: str) -> ClusterSpec | None:
        """The ``clusters:`` entry called ``name``, if any."""
        return next((c for c in self.clusters if c.name == name), None)

    def is_outside_flux(self, path: str) -> bool:
        """Whether ``path`` matches an ``outside_flux:`` glob (Talos, Ansible, Terraform …)."""
        return any(glob_to_regex(g).fullmatch(path) for g in self.outside_flux)


def _optional_key(raw: object, where: str) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, str) or not raw.strip():
        raise ConfigError(f"{where} must be a non-empty string")
    return _check_recipient(raw.strip(), where)


def _parse_ignore(raw: object) -> tuple[IgnoreEntry, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ConfigError(f"{SETTINGS_NAME}: ignore must be a list")
    entries: list[IgnoreEntry] = []
    for number, item in enumerate(cast(list[object], raw), start=1):
        where = f"{SETTINGS_NAME}: ignore entry {number}"
        if not isinstance(item, dict):
            raise ConfigError(f"{where} must be a mapping with rule, path and reason")
        entry = cast(dict[str, object], item)
        unknown = sorted(set(entry) - {"rule", "path", "reason", "key_path"}, key=str)
        if unknown:
            raise ConfigError(f"{where} has an unknown field: {unknown[0]}")
        values: dict[str, str] = {}
        for field in ("rule", "path", "reason"):
            value = entry.get(field)
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(f"{where} has no {field}")
            values[field] = value.strip()
        if not _RULE_ID.match(values["rule"]):
            raise ConfigError(f"{where} names no rule id like SM001")
        glob_to_regex(values["path"])  # a broken glob fails here, naming the file
        key_path = entry.get("key_path")
        if key_path is not None and (not isinstance(key_path, str) or not key_path.strip()):
            raise ConfigError(f"{where} has an empty key_path")
        entries.append(IgnoreEntry(**values, key_path=key_path.strip() if key_path else None))
    return tuple(entries)


def _parse_clusters(raw: object) -> tuple[ClusterSpec, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise ConfigError(f"{SETTINGS_NAME}: clusters must be a mapping of name to settings")
    out: list[ClusterSpec] = []
    for name, value in cast(dict[object, object], raw).items():
        where = f"{SETTINGS_NAME}: clusters.{name}"
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"{SETTINGS_NAME}: a cluster name must be a non-empty string")
        if not isinstance(value, dict):
            raise ConfigError(f"{where} must be a mapping with path and cluster_key")
        entry = cast(dict[str, object], value)
        unknown = sorted(str(k) for k in set(entry) - _CLUSTER_KEYS)
        if unknown:
            raise ConfigError(f"{where} has an unknown field: {unknown[0]}")
        path = entry.get("path")
        if not isinstance(path, str) or not path.strip():
            raise ConfigError(f"{where}.path must be a non-empty path")
        context = entry.get("context")
        if context is not None and not isinstance(context, str):
            raise ConfigError(f"{where}.context must be a string")
        key = _optional_key(entry.get("cluster_key"), f"{where}.cluster_key")
        next_key = _optional_key(entry.get("next_cluster_key"), f"{where}.next_cluster_key")
        if next_key is not None and key is None:
            raise ConfigError(f"{where}.next_cluster_key is set without {where}.cluster_key")
        if next_key is not None and next_key == key:
            raise ConfigError(f"{where}.next_cluster_key is the same key as its cluster_key")
        out.append(
            ClusterSpec(
                name=name,
                path=path.strip(),
                cluster_key=key,
                context=context,
                decryption=_decryption(entry.get("decryption"), f"{where}.decryption"),
                next_cluster_key=next_key,
            )
        )
    return tuple(out)


def _decryption(raw: object, where: str) -> tuple[str, str | None] | None:
    """``{provider: sops, secretRef: {name: sops-age}}`` as Flux spells it."""
    if raw is None:
        return None
    provider = raw.get("provider") if isinstance(raw, dict) else None
    if not isinstance(provider, str) or not provider.strip():
        raise ConfigError(f"{where} must be a mapping with provider (and secretRef.name)")
    ref = cast(dict[str, object], raw).get("secretRef")
    name = ref.get("name") if isinstance(ref, dict) else None
    if ref is not None and (not isinstance(name, str) or not name.strip()):
        raise ConfigError(f"{where}.secretRef must be a mapping with name")
    return provider.strip(), name.strip() if isinstance(name, str) else None


def _parse_sources(raw: object) -> tuple[tuple[str, str], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise ConfigError(f"{SETTINGS_NAME}: sources must be a mapping of Kind/namespace/name")
    out: list[tuple[str, str]] = []
    for key, value in cast(dict[object, object], raw).items():
        if not isinstance(key, str) or not _SOURCE_KEY.match(key):
            raise ConfigError(
                f"{SETTINGS_NAME}: sources key {key!s} is not Kind/namespace/name "
                "(e.g. OCIRepository/flux-system/cluster)"
            )
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{SETTINGS_NAME}: sources.{key} must be a folder of the repository")
        folder = value.strip()
        if folder.startswith("/") or ".." in folder.split("/"):
            raise ConfigError(f"{SETTINGS_NAME}: sources.{key} must stay inside the repository")
        out.append((key, folder))
    return tuple(out)


def _parse_globs(raw: object, name: str) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(g, str) and g.strip() for g in raw):
        raise ConfigError(f"{SETTINGS_NAME}: {name} must be a list of path globs")
    return tuple(cast(list[str], raw))


def _plain_path(name: str) -> str:
    """A relative path as git and the inventory spell it (``./logs//x`` is ``logs/x``); an
    absolute one is left for the writers to judge (they refuse one outside the repository)."""
    return name if name.startswith("/") else posixpath.normpath(name)


def parse_settings(text: str) -> Settings:
    """Parse the text of `.secretsmgr.yaml`."""
    try:
        docs = [d for d in safe_load_all(text) if d is not None]
    except FormatError as exc:
        raise ConfigError(f"{SETTINGS_NAME}: {exc.message}") from exc
    if not docs:
        return Settings()
    if len(docs) > 1 or not isinstance(docs[0], dict):
        raise ConfigError(f"{SETTINGS_NAME}: must be a single mapping")
    validate(docs[0], SETTINGS_NAME)  # the published schema: structure, types, unknown keys
    data = cast(dict[str, object], docs[0])

    cluster_key = _optional_key(data.get("cluster_key"), f"{SETTINGS_NAME}: cluster_key")
    next_key = _optional_key(data.get("next_cluster_key"), f"{SETTINGS_NAME}: next_cluster_key")
    if next_key is not None and cluster_key is None:
        raise ConfigError(f"{SETTINGS_NAME}: next_cluster_key is set without cluster_key")
    if next_key is not None and next_key == cluster_key:
        raise ConfigError(f"{SETTINGS_NAME}: next_cluster_key is the same key as cluster_key")

    allowed_raw = data.get("allowed_recipients")
    if allowed_raw is None:
        allowed_raw = []
    if not isinstance(allowed_raw, list):
        raise ConfigError(f"{SETTINGS_NAME}: allowed_recipients must be a list")
    allowed: list[str] = []
    for number, item in enumerate(cast(list[object], allowed_raw), start=1):
        where = f"{SETTINGS_NAME}: allowed_recipients entry {number}"
        if not isinstance(item, str):
            raise ConfigError(f"{where} is not an age public key (age1…)")
        if is_sops_recipient(item.strip()):  # ssh keys and plugin recipients too, as sops
            allowed.append(item.strip())
        else:
            allowed.append(_check_recipient(item.strip(), where))  # says what is wrong
    clusters = _parse_clusters(data.get("clusters"))
    for spec in clusters:
        if spec.next_cluster_key is not None and spec.next_cluster_key in allowed:
            raise ConfigError(
                f"{SETTINGS_NAME}: clusters.{spec.name}.next_cluster_key is listed in "
                "allowed_recipients (an operator key can never be the next cluster key)",
                hints=(
                    f"remove it from {SETTINGS_NAME}, then start again: "
                    f"secretsmgr key rotate --begin --cluster {sh_word(spec.name)}",
                ),
            )
    if next_key is not None and next_key in allowed:
        # key export sends the cluster keys' private halves to the cluster: an operator's key
        # must never become one by a line of configuration
        raise ConfigError(
            f"{SETTINGS_NAME}: next_cluster_key is listed in allowed_recipients "
            "(an operator key can never be the next cluster key)",
            hints=(
                f"remove next_cluster_key from {SETTINGS_NAME}, then start again: "
                "secretsmgr key rotate --begin",
            ),
        )

    max_age = data.get("max_age_days", 90)
    if isinstance(max_age, bool) or not isinstance(max_age, int) or max_age < 1:
        raise ConfigError(f"{SETTINGS_NAME}: max_age_days must be a positive integer")

    changelog = data.get("changelog", "secrets-changelog.jsonl")
    if not isinstance(changelog, str) or not changelog.strip():
        raise ConfigError(f"{SETTINGS_NAME}: changelog must be a non-empty path")
    if "\x00" in changelog:  # no file system takes it (the attack review: an internal error)
        raise ConfigError(f"{SETTINGS_NAME}: changelog must be a path without a NUL character")

    return Settings(
        cluster_key=cluster_key,
        next_cluster_key=next_key,
        allowed_recipients=tuple(dict.fromkeys(allowed)),
        max_age_days=max_age,
        changelog=_plain_path(changelog.strip()),
        ignore=_parse_ignore(data.get("ignore")),
        clusters=clusters,
        sources=_parse_sources(data.get("sources")),
        outside_flux=_parse_globs(data.get("outside_flux"), "outside_flux"),
    )


def load_settings(root: Path) -> Settings:
    """Load `<root>/.secretsmgr.yaml`, or the defaults when it is absent."""
    path = root / SETTINGS_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Settings()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {SETTINGS_NAME}") from exc
    return parse_settings(text)


def settings_of(snap: Snapshot) -> Settings:
    """The settings of one state of the repository: `.secretsmgr.yaml` on disk for the working
    tree, the staged file for the index and a commit's own for a commit; the defaults where
    that state holds none.

    The gate judges what is staged, so its suppressions, clusters and sources come from what is
    staged too (the attack review of stop 44: an unstaged or git-ignored `ignore:` entry passed
    a staged plaintext Secret, and the commit went through without it).
    """
    if isinstance(snap, WorktreeSnapshot):
        return load_settings(snap.root)
    if SETTINGS_NAME not in snap.paths or snap.blob_id(SETTINGS_NAME) is None:
        return Settings()  # untracked: not part of what is judged
    try:
        text = snap.read(SETTINGS_NAME).decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {SETTINGS_NAME} (as git holds it)") from exc
    try:
        return parse_settings(text)
    except ConfigError as exc:
        # the file on disk may be fine: say which one was read (the review of this stop)
        raise ConfigError(
            f"{exc.message} (in the file as git holds it: staged, or committed)",
            hints=(*exc.hints, f"git show :{SETTINGS_NAME} prints the staged file"),
        ) from exc


def _split_keys(value: str, source: str) -> tuple[str, ...]:
    keys = [k.strip() for k in re.split(r"[,\s]+", value) if k.strip()]
    for number, key in enumerate(keys, start=1):
        where = source if len(keys) == 1 else f"{source} key {number}"
        _check_recipient(key, where)
    return tuple(dict.fromkeys(keys))


def resolve_cluster_key(
    cli_key: str | None,
    env: Mapping[str, str],
    settings: Settings,
    creation_rule_recipients: tuple[str, ...],
) -> tuple[tuple[str, ...], str] | None:
    """Walk the cluster-key precedence: flag > env > .secretsmgr.yaml > .sops.yaml rule.

    ``--from-cluster`` (between the flag and the env) is the caller's business. Returns the
    keys and the name of the source that supplied them, or None. A value may hold several
    comma-separated keys; `.secretsmgr.yaml` yields ``next_cluster_key`` too while a key
    rotation is under way.
    """
    if cli_key is not None and cli_key.strip():
        return _split_keys(cli_key, "--cluster-key"), "--cluster-key"
    env_value = env.get(CLUSTER_KEY_ENV, "")
    if env_value.strip():
        return _split_keys(env_value, CLUSTER_KEY_ENV), CLUSTER_KEY_ENV
    if settings.cluster_key is not None:
        keys: tuple[str, ...] = (settings.cluster_key,)
        if settings.next_cluster_key is not None and settings.next_cluster_key not in keys:
            keys += (settings.next_cluster_key,)
        return keys, SETTINGS_NAME
    if creation_rule_recipients:
        for number, key in enumerate(creation_rule_recipients, start=1):
            _check_recipient(key, f".sops.yaml: age recipient {number}")
        return tuple(dict.fromkeys(creation_rule_recipients)), ".sops.yaml"
    return None
