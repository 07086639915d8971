"""The three files ``init`` writes, each as a ``FileChange``: `.sops.yaml` (one creation rule
per set of clusters), `.secretsmgr.yaml` (the key(s) pinned) and `.pre-commit-config.yaml` (the
hook). An existing file is kept unless ``--force``; one that would not change is up to date."""

from __future__ import annotations

import posixpath
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from secretsmgr.errors import SecretsmgrError
from secretsmgr.fsutil import read_optional
from secretsmgr.init.losses import force_losses, kept_rule_notes, orphaned_rules
from secretsmgr.init.model import FileChange, FileState, KeptConfig
from secretsmgr.init.rules import TOOL_FILES, PathGroup, path_groups, present_folders
from secretsmgr.init.texts import (
    HOOK_ID,
    PRE_COMMIT_NAME,
    OwnRule,
    has_hook,
    kept_rules_text,
    other_settings,
    precommit_text,
    rule_recipients,
    sops_yaml_text,
    with_hook,
)
from secretsmgr.keys.bech32 import short_key
from secretsmgr.plural import plural
from secretsmgr.repo.flux import Cluster, LayerGraph, find_layers
from secretsmgr.repo.inventory import Inventory
from secretsmgr.repo.settings import SETTINGS_NAME, ClusterSpec, Settings, parse_settings
from secretsmgr.repo.settingsfile import render_settings
from secretsmgr.repo.snapshot import WorktreeSnapshot
from secretsmgr.repo.sopsconfig import (
    SOPS_CONFIG_NAME,
    SopsConfig,
    all_age_recipients,
    match_rule,
    parse_sops_config,
)
from secretsmgr.repo.sopsentry import SopsEntry
from secretsmgr.sops.model import DEFAULT_RULE, EncryptionRule, RuleKind
from secretsmgr.sops.yamlio import safe_load_all


def _layer_files(graph: LayerGraph) -> dict[tuple[str | None, str, str], frozenset[str]]:
    return {layer.key: layer.files for layer in graph.layers}


def _root_folder(inv: Inventory, cluster: Cluster) -> str | None:
    """The folder ``clusters:`` would name for ``cluster``: its bootstrap folder, else the folder
    of the file its Kustomizations hang from (a repository without a bootstrap in it)."""
    if cluster.path is not None:
        return cluster.path
    folder = PurePosixPath(cluster.root).parent.as_posix()
    return folder if folder != "." and (inv.root / cluster.root).is_file() else None


def _same_model(found: LayerGraph, written: LayerGraph, sops_paths: set[str]) -> bool:
    """Whether ``written`` (the model with ``clusters:``) places every file as ``found`` does;
    it may add layers that hold no SOPS file (a cluster's own Flux objects, once its folder is
    named)."""
    before, after = _layer_files(found), _layer_files(written)
    return all(after.get(key) == files for key, files in before.items()) and not any(
        files & sops_paths for key, files in after.items() if key not in before
    )


def cluster_specs(inv: Inventory, settings: Settings) -> tuple[ClusterSpec, ...]:
    """One ``clusters:`` entry per discovered cluster, when there are several and each has a
    name and a root folder; none when writing them would change what the model finds."""
    clusters: Sequence[Cluster] = inv.layers.clusters
    folders = [_root_folder(inv, c) for c in clusters]
    if len(clusters) < 2 or any(c.name is None for c in clusters) or None in folders:
        return ()
    specs = tuple(
        ClusterSpec(c.name or "", folder or "", None, c.context)
        for c, folder in zip(clusters, folders, strict=True)
    )
    graph = find_layers(WorktreeSnapshot(inv.root), specs, dict(settings.sources))
    if not _same_model(inv.layers, graph, {e.path for e in inv.sops_files}):
        return ()
    return specs


def _pins(settings: Settings, keys: Mapping[str | None, str], allowed: Sequence[str]) -> bool:
    """Whether ``settings`` already name each cluster's key and allow ``allowed``."""
    own: dict[str | None, str | None] = {c.name: c.cluster_key for c in settings.clusters}
    return (
        settings.next_cluster_key is None
        and set(allowed) <= set(settings.allowed_recipients)
        and all((own.get(c) or settings.cluster_key) == k for c, k in keys.items())
    )


def settings_change(
    inv: Inventory, pinned: Settings, keys: Mapping[str | None, str], force: bool
) -> FileChange:
    """`.secretsmgr.yaml` pinning ``keys``: created, rewritten with ``force``, else kept."""
    existing = read_optional(inv.root / SETTINGS_NAME)
    if pinned.cluster_key is not None:
        what = "cluster_key"
    else:
        what = "clusters: " + ", ".join(c.name for c in pinned.clusters)
    if pinned.allowed_recipients:
        allowed = ", ".join(short_key(k) for k in pinned.allowed_recipients[:3])
        more = ", …" if len(pinned.allowed_recipients) > 3 else ""
        what += f", allowed_recipients {allowed}{more}"
    if existing is not None and _pins(parse_settings(existing), keys, pinned.allowed_recipients):
        return FileChange(SETTINGS_NAME, FileState.UP_TO_DATE, "pins the cluster key")
    text = render_settings(pinned)
    if existing is None:
        return FileChange(SETTINGS_NAME, FileState.CREATE, what, text)
    if force:
        return FileChange(
            SETTINGS_NAME, FileState.REPLACE, f"{what} (from its current values)", text
        )
    # it may pin another key (sweep 60 operator run: "does not pin the cluster key" of a file
    # that pinned one, not the one given)
    current = parse_settings(existing)
    held = [k for k in (current.cluster_key, *(c.cluster_key for c in current.clusters)) if k]
    given = list(dict.fromkeys(keys.values()))
    if not held:
        why = "does not pin the cluster key"
    elif set(held) != set(given):
        why = (
            f"pins {', '.join(short_key(k) for k in dict.fromkeys(held))}, not "
            f"{', '.join(short_key(k) for k in given)}"
        )
    else:
        why = "pins the cluster key, but not as init would (allowed_recipients, a rotation)"
    return FileChange(
        SETTINGS_NAME,
        FileState.KEPT,
        f"exists and {why} (--force rewrites it from its current values; its comments are not "
        "kept)",
        forced=True,
    )


def settings_unpinned(inv: Inventory) -> FileChange:
    """`.secretsmgr.yaml` when the clusters' keys differ and no ``clusters:`` entry can name the
    folders they go with: one key for all would be wrong for every other cluster, so none is
    pinned and the `.sops.yaml` rules stay where each cluster's key is read from."""
    why = "pins no key: the clusters' keys differ (see the note)"
    if (inv.root / SETTINGS_NAME).exists():
        return FileChange(SETTINGS_NAME, FileState.KEPT, f"exists; {why}")
    return FileChange(SETTINGS_NAME, FileState.NOT_WRITTEN, why)


def _check_rules(
    inv: Inventory, config: SopsConfig, keys: Mapping[str | None, str], folder: str
) -> None:
    """Every file a cluster applies that the `.sops.yaml` of ``folder`` (``config``, as init
    writes it) governs matches a rule naming that cluster's key, and keeps its encryption rule
    (or init is wrong)."""
    for path, cluster in _applied(inv):
        if inv.sops_configs.folder_of(path) != folder:
            continue
        rule = match_rule(config, inv.root / path)
        if rule is None or keys[cluster] not in all_age_recipients(rule):
            raise AssertionError(f"init's {config.path} misses {path}")  # pragma: no cover
    for entry in inv.sops_files:  # an applied file keeps its own encryption rule
        if entry.sops_file is None or inv.sops_configs.folder_of(entry.path) != folder:
            continue
        rule = match_rule(config, inv.root / entry.path)
        if rule is not None and inv.layers.placements(entry.path):
            spec = rule.encryption_rule
            made = EncryptionRule(RuleKind(spec.kind), spec.value) if spec else DEFAULT_RULE
            if made != entry.sops_file.metadata.rule:  # pragma: no cover
                raise AssertionError(f"init's {config.path} re-encrypts {entry.path} otherwise")


_WHOLE_STORES = (".env", ".ini")  # sops reads them as dotenv and INI: keys are no data


def _holding_whole(inv: Inventory, groups: Sequence[PathGroup], folder: str) -> frozenset[int]:
    """The groups with a dotenv or INI file in their folders (a secretGenerator's source)."""
    prefix = folder + "/" if folder else ""
    names = [
        p[len(prefix) :]
        for p in inv.all_files
        if p.startswith(prefix) and posixpath.splitext(p)[1] in _WHOLE_STORES
    ]
    return frozenset(
        i
        for i, g in enumerate(groups)
        if any(n.startswith(p) for n in names for p in g.paths if p.endswith("/"))
    )


def _ruleless(inv: Inventory, config: SopsConfig, folder: str) -> list[str]:
    """A note on the SOPS files below ``folder`` that no rule of the new `.sops.yaml` matches
    (files no layer applies: Talos, Ansible): audit says SM011 of each, and sops finds no rule
    when it re-encrypts them (sweep 32, dadezzz/kubernetes: five Talos files, and init said
    nothing)."""
    left = [
        e.path
        for e in inv.sops_files
        if e.has_metadata
        and inv.sops_configs.folder_of(e.path) == folder
        and match_rule(config, inv.root / e.path) is None
    ]
    if not left:
        return []
    shown = ", ".join(left[:3]) + (f" and {len(left) - 3} more" if len(left) > 3 else "")
    return [
        f"{plural(len(left), 'SOPS file')} no layer applies "
        f"{'matches' if len(left) == 1 else 'match'} no rule of the new "
        f"{_config_path(folder)} ({shown}): add a rule for them naming the keys they are "
        "encrypted to (audit reports them as SM011 until then)"
    ]


def _mac_only_groups(inv: Inventory, groups: Sequence[PathGroup], folder: str) -> frozenset[int]:
    """The groups whose folder rule keeps ``mac_only_encrypted: true``: most of their applied
    files under Flux's rule have it (sweep 84, j0sh3rs/home-ops: init --force dropped it from
    the rule, and every one of 60 files was SM011 at once)."""
    votes: dict[int, list[bool]] = {}
    for entry, number, _rel in _grouped(inv, groups, folder):
        assert entry.sops_file is not None
        if entry.sops_file.metadata.rule == _CLUSTER_RULE:
            votes.setdefault(number, []).append(entry.sops_file.metadata.mac_only_encrypted)
    return frozenset(n for n, seen in votes.items() if sum(seen) * 2 > len(seen))


def _grouped(
    inv: Inventory, groups: Sequence[PathGroup], folder: str
) -> Iterator[tuple[SopsEntry, int, str]]:
    """The applied SOPS files below ``folder`` read under its config: each with the group its
    path falls in, and that path relative to the folder."""
    prefix = folder + "/" if folder else ""
    for entry in inv.sops_files:
        if entry.sops_file is None or inv.sops_configs.folder_of(entry.path) != folder:
            continue
        if not inv.layers.placements(entry.path):
            continue
        rel = entry.path[len(prefix) :]
        number = next(
            (
                i
                for i, g in enumerate(groups)
                if any(rel == p or (p.endswith("/") and rel.startswith(p)) for p in g.paths)
            ),
            None,
        )
        if number is not None:
            yield entry, number, rel


def _own_rules(
    inv: Inventory, groups: Sequence[PathGroup], folder: str, mac_only: frozenset[int]
) -> dict[int, list[OwnRule]]:
    """Per group, the applied SOPS files below ``folder`` encrypted under another rule than
    Flux's (sweep 31, vikbaranov/flux-gitops: dotenv, JSON and Helm values files encrypted
    whole, each SM011 under init's rules at once), or with another ``mac_only_encrypted``
    than the group's rule keeps (``mac_only``), by rule; a dotenv or INI file encrypted whole
    needs none (the groups' dotenv and INI rule is that rule)."""
    found: dict[int, dict[tuple[EncryptionRule, bool], list[str]]] = {}
    for entry, number, rel in _grouped(inv, groups, folder):
        assert entry.sops_file is not None
        rule, mac = entry.sops_file.metadata.rule, entry.sops_file.metadata.mac_only_encrypted
        if rule == _CLUSTER_RULE and mac == (number in mac_only):
            continue
        in_folder = any(p.endswith("/") and rel.startswith(p) for p in groups[number].paths)
        whole = rule == DEFAULT_RULE and in_folder and not mac
        if whole and posixpath.splitext(rel)[1] in _WHOLE_STORES:
            continue
        found.setdefault(number, {}).setdefault((rule, mac), []).append(rel)
    return {
        number: [OwnRule(tuple(sorted(paths)), rule, mac) for (rule, mac), paths in rules.items()]
        for number, rules in found.items()
    }


def _orphans(
    inv: Inventory, existing: str, text: str, rel: str
) -> tuple[dict[int, list[str]], str]:
    """The rules of the root `.sops.yaml` (``existing``) that are the only rule of SOPS files no
    rule of init's ``text`` matches, with their files, and the text that keeps them after
    init's rules ({} and "" when there is none, or they do not read back: then the notes say
    what --force drops)."""
    try:
        old = parse_sops_config(existing, inv.root / rel)
        orphaned = orphaned_rules(inv, old, parse_sops_config(text, inv.root / rel))
    except SecretsmgrError:
        return {}, ""
    kept = kept_rules_text(existing, sorted(orphaned))
    return (orphaned, kept) if kept else ({}, "")


def _config_path(folder: str) -> str:
    return posixpath.join(folder, SOPS_CONFIG_NAME) if folder else SOPS_CONFIG_NAME


def _applied(inv: Inventory) -> list[tuple[str, str | None]]:
    """(path, cluster) of every file a layer of this checkout applies (init's own files, which
    a root build may read until its .sourceignore keeps them out, aside)."""
    return [
        (path, layer.cluster)
        for layer in inv.layers.layers
        if layer.external is None
        for path in sorted(layer.files)
        if path not in TOOL_FILES
    ]


_CLUSTER_RULE = EncryptionRule(RuleKind.ENCRYPTED_REGEX, "^(data|stringData)$")


def _foreign_unread(inv: Inventory) -> list[str]:
    """SOPS files no layer reads that the cluster's rule would not fit: encrypted under another
    rule (a Talos secret, encrypted whole). A Secret in a new app's folder, not referenced
    yet, fits it and keeps its folder under the rule (the second review: one such file left
    every future app folder without a rule)."""
    return [
        e.path
        for e in inv.sops_files
        if e.sops_file is not None
        and e.sops_file.metadata.rule != _CLUSTER_RULE
        and not inv.layers.placements(e.path)
    ]


@dataclass(frozen=True, slots=True)
class SopsYamlChanges:
    """The `.sops.yaml` files init writes or keeps, the notes on them, and what each kept one
    that governs files the layers apply lacks."""

    changes: tuple[FileChange, ...]
    notes: tuple[str, ...]
    kept: tuple[KeptConfig, ...]
    written: bool  # a `.sops.yaml` init writes (or finds as it would write it) governs some


def sops_yaml_changes(
    inv: Inventory,
    keys: Mapping[str | None, str],
    allowed: Sequence[str],
    force: bool,
    name: str,
    pgp: Mapping[str | None, Sequence[str]] | None = None,
    new: frozenset[str] = frozenset(),
    kms: Mapping[str | None, Sequence[tuple[str, str]]] | None = None,
) -> SopsYamlChanges:
    """`.sops.yaml` with one rule per set of clusters for the files the layers apply that no
    `.sops.yaml` of a folder below the root governs, and each such nested one that governs
    some of them: kept, or rewritten with ``force`` with those rules for the files below it.

    A file follows the nearest `.sops.yaml` in its folder or above, as secretsmgr (and sops
    run from its folder) reads it: a root rule for a file below a nested `.sops.yaml` is never
    read (sweep 22, tinoha/homelab: init's root rules named only folders below kubernetes/,
    whose own `.sops.yaml` governs them; the step's encrypt then found no rule there).
    ``name``: a new secret's file name, for what a kept config's rules lack; ``pgp`` and
    ``kms``: the keys beside the age key that each cluster's rules keep (``sops_yaml_text``)."""
    configs = inv.sops_configs
    nested = sorted(d for d in configs.dirs if d)
    governed: dict[str, set[str | None]] = {}
    for path, cluster in _applied(inv):
        governed.setdefault(configs.folder_of(path), set()).add(cluster)
    unread = _foreign_unread(inv)
    changes: list[FileChange] = []
    notes: list[str] = []
    kept: list[KeptConfig] = []
    written = False
    present = present_folders(inv.all_files)  # the checkout's folders, for every config
    unreadable = configs.unreadable()  # kept as they are, unread (SM011 reports them)
    for folder in ["", *(d for d in nested if d in governed)]:
        rel = _config_path(folder)
        if not folder and "" not in governed and governed:
            others = " and ".join(_config_path(d) for d in sorted(governed))
            if (inv.root / SOPS_CONFIG_NAME).is_file():
                changes.append(
                    FileChange(
                        rel,
                        FileState.KEPT,
                        f"exists; every file the layers apply is below {others} instead",
                    )
                )
            else:
                changes.append(
                    FileChange(
                        rel,
                        FileState.NOT_WRITTEN,
                        f"not needed: every file the layers apply is below {others}",
                    )
                )
            continue
        groups = path_groups(inv.layers, unread, folder, nested, present)
        if not groups and not folder:
            # sweep 25, ferry133/jg-cluster-template: no layer's folder is in this checkout (a
            # template repository renders them), and init offered a `.sops.yaml` of no rule,
            # under which sops encrypts nothing
            exists = (inv.root / rel).is_file()
            changes.append(
                FileChange(
                    rel,
                    FileState.KEPT if exists else FileState.NOT_WRITTEN,
                    "exists" if exists else "no layer's folder is in this checkout",
                )
            )
            notes.append(
                "no layer applies a folder of this checkout, so there is no creation rule to "
                "write: once one does, run secretsmgr init again"
            )
            continue
        mac_only = _mac_only_groups(inv, groups, folder)
        own = _own_rules(inv, groups, folder, mac_only)
        whole = _holding_whole(inv, groups, folder)
        text = sops_yaml_text(groups, keys, allowed, pgp, own, whole, mac_only, kms)
        existing = read_optional(inv.root / rel)
        kept_rules: dict[int, list[str]] = {}
        if existing is not None and not folder:
            kept_rules, kept_text = _orphans(inv, existing, text, rel)
            text += kept_text
        # sweep 80, Liana64/home-infra: --force dropped `stores: {yaml: {indent: 2}}`, and every
        # file written after changed its indentation
        carried = other_settings(existing or "")
        settings_text, kept_names = carried if carried is not None else ("", ())
        text += settings_text
        written_config = parse_sops_config(text, inv.root / rel)
        _check_rules(inv, written_config, keys, folder)
        count = len(written_config.rules)
        what = f"{count} creation rule{'s' if count != 1 else ''}: " + ", ".join(
            posixpath.join(folder, p) for g in groups for p in g.paths
        )
        extra = count - len(groups) - len(kept_rules)
        if extra > 0:  # sweep 37, Osman-SK: "2 creation rules" named one's folders
            what += f"; {extra} more for files that keep their own encryption"
        if kept_rules:
            what += f"; {len(kept_rules)} kept from the former file"
        # --force rewrites the root file only: a nested one may hold rules for files init does
        # not know (Talos, an admin key), and no one asked for it by name (the review of
        # sweep 22: --force dropped a nested file's talos/ rule and admin key)
        if existing is None or existing == text or (force and not folder):
            state = (
                FileState.CREATE
                if existing is None
                else FileState.UP_TO_DATE
                if existing == text
                else FileState.REPLACE
            )
            if state is FileState.REPLACE:
                # sweep 25, Stackclash/home-cluster: the plan said only "1 creation rule:
                # cluster/", and --force dropped the provision/ rule of ten SOPS files
                old = parse_sops_config(existing or "", inv.root / rel)
                applied = (p for p, _ in _applied(inv))
                notes += kept_rule_notes(old, kept_rules)
                notes += force_losses(inv, old, written_config, applied)
                if carried is None:
                    notes.append(
                        f"--force drops every setting of {rel} beside creation_rules (stores:, "
                        "destination_rules:): it does not read as one YAML mapping (a key "
                        "written twice?); set them again by hand"
                    )
                if kept_names:
                    notes.append(
                        f"--force keeps {', '.join(f'{n}:' for n in kept_names)} of "
                        f"{rel}, as it was"
                    )
            if state is FileState.CREATE:
                notes += _ruleless(inv, written_config, folder)
            changes.append(FileChange(rel, state, what, None if existing == text else text))
            written = True
            continue
        wanted = [k for c, k in keys.items() if c in governed.get(folder, ())]
        if rel in unreadable:
            # sweep 106, Odinyg/homelab: init refused the whole repository
            why = unreadable[rel].removeprefix(rel + ": ")
            notes.append(f"{rel} cannot be read ({why}): kept as it is")
            changes.append(FileChange(rel, FileState.KEPT, "exists; cannot be read (SM011)"))
            continue
        config = parse_sops_config(existing, inv.root / rel)
        named = {k for rule in config.rules for k in all_age_recipients(rule)}
        unnamed = tuple(k for k in dict.fromkeys(wanted) if k not in named)
        rewrites = " (--force rewrites it)" if not folder else ""
        for key in unnamed:
            # sweep 22: a dry run named a key it made up, another one each run
            which = "the new cluster key" if key in new else f"the cluster key {short_key(key)}"
            notes.append(
                f"the kept {rel} names {which} in no rule: "
                f"files sops creates would not be encrypted to it{rewrites}"
            )
        folders = sorted(
            {
                layer.path
                for layer in inv.layers.layers
                if layer.external is None
                and configs.folder_of(posixpath.join(layer.path, name)) == folder
            }
        )
        unmatched = None
        if folders and all(configs.rule_for(posixpath.join(f, name))[1] is None for f in folders):
            unmatched = posixpath.join(folders[0], name)
        kept.append(
            KeptConfig(
                rel,
                folders=tuple(folders),
                unnamed=unnamed,
                unmatched=unmatched,
                example=_example(inv, keys, folder, name) if unmatched else None,
                rules=tuple(
                    (g.path_regex, ",".join(rule_recipients(g, keys, allowed))) for g in groups
                ),
            )
        )
        where = (
            f"; governs the files the layers apply below {folder}/ (init never rewrites it)"
            if folder
            else " (--force rewrites it)"
        )
        changes.append(FileChange(rel, FileState.KEPT, f"exists{where}", forced=not folder))
    return SopsYamlChanges(tuple(changes), tuple(notes), tuple(kept), written)


def _example(inv: Inventory, keys: Mapping[str | None, str], folder: str, name: str) -> str | None:
    """A new file beside a SOPS file the layers apply, below the `.sops.yaml` of ``folder``,
    that a rule of it naming the file's cluster key matches: where its rules expect secrets
    (tinoha/homelab: ``.*/secrets/.*.ya?ml$``, and every Secret in a secrets/ folder)."""
    configs = inv.sops_configs
    names = dict.fromkeys((name, "secret.enc.yaml", "secret.sops.yaml"))
    for entry in sorted(inv.sops_files, key=lambda e: e.path):
        clusters = inv.layers.clusters_of(entry.path)
        if not clusters or configs.folder_of(entry.path) != folder:
            continue
        wanted = {keys[c] for c in clusters if c in keys}
        for candidate in names:
            path = posixpath.join(posixpath.dirname(entry.path), candidate)
            rule = configs.rule_for(path)[1]
            if (
                rule is not None
                and wanted & set(all_age_recipients(rule))
                and not (inv.root / path).exists()
            ):
                return path
    return None


def _hook_entry_ok(text: str) -> bool:
    """Whether ``text`` parses and lists the hook (what ``with_hook`` made of a config)."""
    try:
        docs = safe_load_all(text)
    except Exception:  # a FormatError: our edit broke it; the caller keeps the file
        return False
    repos = docs[0].get("repos") if docs and isinstance(docs[0], dict) else None
    return isinstance(repos, list) and any(
        isinstance(r, dict)
        and any(isinstance(h, dict) and h.get("id") == HOOK_ID for h in r.get("hooks") or [])
        for r in repos
    )


def precommit_change(root: Path, force: bool) -> FileChange:
    """`.pre-commit-config.yaml` with the hook: created, the hook added with ``force``, else
    kept."""
    existing = read_optional(root / PRE_COMMIT_NAME)
    if existing is None:
        return FileChange(
            PRE_COMMIT_NAME, FileState.CREATE, f"the {HOOK_ID} hook", precommit_text()
        )
    if has_hook(existing):
        return FileChange(PRE_COMMIT_NAME, FileState.UP_TO_DATE, f"has the {HOOK_ID} hook")
    if not force:
        return FileChange(
            PRE_COMMIT_NAME,
            FileState.KEPT,
            f"exists without the {HOOK_ID} hook (--force adds it)",
            forced=True,
        )
    added = with_hook(existing)
    if added is None or not _hook_entry_ok(added):
        return FileChange(
            PRE_COMMIT_NAME,
            FileState.KEPT,
            f"exists without the {HOOK_ID} hook, in a layout init cannot extend: add it by hand",
        )
    return FileChange(PRE_COMMIT_NAME, FileState.UPDATE, f"the {HOOK_ID} hook added", added)
