"""The cluster key(s) of a repository for the commands that need one cluster's keys
(``key export``, ``init``), by the one key-source order."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from secretsmgr.errors import UsageError
from secretsmgr.repo.inventory import EMPTY_ENV, Inventory, load_inventory
from secretsmgr.repo.settings import CLUSTER_KEY_ENV, load_settings, resolve_cluster_key
from secretsmgr.repo.sopsconfig import SOPS_CONFIG_NAME


@dataclass(frozen=True, slots=True)
class RepoKeys:
    """The repository's cluster key(s) as one cluster holds them, where they came from, and
    the notes about any choice the order made."""

    keys: tuple[str, ...]
    source: str
    notes: tuple[str, ...] = ()


def repository_keys(
    root: Path, env: Mapping[str, str] = EMPTY_ENV, cluster_key_cli: str | None = None
) -> RepoKeys | None:
    """The cluster key(s) of the repository at ``root`` by the one key-source order, for the
    commands that need one cluster's keys (``key export``, ``init``); None when nothing names one.

    ``--cluster-key``, ``SECRETSMGR_CLUSTER_KEY`` and a plain ``cluster_key`` are read without
    scanning the repository; otherwise the keys each cluster's files need decide. Several
    clusters with different keys are a usage error (one Secret must never hold another
    cluster's key): the caller names one with ``--cluster-key``.
    """
    settings = load_settings(root)
    named = bool(cluster_key_cli and cluster_key_cli.strip()) or bool(
        env.get(CLUSTER_KEY_ENV, "").strip()
    )
    plain = settings.cluster_key is not None and not any(c.cluster_key for c in settings.clusters)
    if named or plain:
        resolved = resolve_cluster_key(cluster_key_cli, env, settings, ())
        return None if resolved is None else RepoKeys(*resolved)
    return inventory_keys(load_inventory(root, env=env))


def inventory_keys(inv: Inventory) -> RepoKeys | None:
    """``repository_keys`` from a repository already read, where nothing names the key."""
    settings = inv.settings
    groups = [g for g in inv.keys_by_cluster() if g.keys]
    distinct = {g.keys for g in groups}
    if len(distinct) > 1:
        shown = "; ".join(f"{g.cluster}: {', '.join(g.keys)}" for g in groups)
        pinned = any(c.cluster_key for c in settings.clusters)
        raise UsageError(
            f"the clusters of this repository have different keys ({shown})",
            hints=(
                "name the cluster: --cluster NAME, or its key: --cluster-key age1…"
                if pinned
                # --cluster needs clusters: entries (sweep 19, coldb: "no such cluster")
                else "name its key: --cluster-key age1…; or pin each cluster's key under "
                "clusters: first (secretsmgr init writes them), then --cluster NAME",
            ),
        )
    if groups:
        return RepoKeys(groups[0].keys, groups[0].source or SOPS_CONFIG_NAME, inv.key_notes)
    if inv.cluster_keys and inv.cluster_key_source is not None:
        return RepoKeys(inv.cluster_keys, inv.cluster_key_source, inv.key_notes)
    return None


def cluster_key_lines(root: Path, env: Mapping[str, str], held: Mapping[str, bool]) -> list[str]:
    """``key show``'s lines about the repository's cluster key(s): where each is named, and
    whether a private half was found (``held``: public key → recorded as a cluster key)."""
    from secretsmgr.errors import SecretsmgrError
    from secretsmgr.repo.settings import SETTINGS_NAME

    try:
        settings = load_settings(root)
    except SecretsmgrError:
        return []
    found: RepoKeys | None = None
    each: list[tuple[str, str | None, str]] = []
    try:
        # with no cluster_key, the same key-source order as every command (.sops.yaml rules)
        if settings.cluster_key is None and env.get(CLUSTER_KEY_ENV, "").strip():
            found = repository_keys(root, env)
        elif settings.cluster_key is None:
            inv = load_inventory(root, env=env)
            try:
                found = inventory_keys(inv)
            except UsageError:
                # the clusters' keys differ and none is pinned: each cluster's (sweep 75,
                # angelnu/k8s-gitops: key show listed no public key at all)
                each = [
                    (f"cluster {g.cluster} key", key, g.source or SOPS_CONFIG_NAME)
                    for g in inv.keys_by_cluster()
                    if g.cluster is not None
                    for key in g.keys
                ]
    except SecretsmgrError:
        found = None
    named: list[tuple[str, str | None, str]] = [
        ("cluster key", settings.cluster_key, SETTINGS_NAME),
        ("next cluster key", settings.next_cluster_key, SETTINGS_NAME),
    ]
    pinned = [
        pin
        for c in settings.clusters
        if c.cluster_key
        for pin in (
            (f"cluster {c.name} key", c.cluster_key, f"{SETTINGS_NAME} clusters"),
            (f"cluster {c.name} next key", c.next_cluster_key, f"{SETTINGS_NAME} clusters"),
        )
    ]
    if pinned:  # each cluster's own key, pinned under clusters:
        named = [*(n for n in named if n[1] is not None), *pinned]
    elif found is not None:
        named = [("cluster key", key, found.source) for key in found.keys]
    elif each:
        named = each
    lines = []
    for what, key, source in named:
        if key is None:
            continue
        if key not in held:
            state = "no private half here"
        elif held[key]:
            state = "private half found (recorded as a cluster key)"
        else:
            state = "private half found (not recorded as a cluster key: see key export)"
        lines.append(f"{what} ({source}): {key}  {state}\n")
    return lines
