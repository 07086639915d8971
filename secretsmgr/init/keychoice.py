"""The cluster key of each cluster, for ``init``: by the one key-source order, else the one
age key all of a cluster's SOPS files share, else a new identity (made in memory here, stored
only when the run applies)."""

from __future__ import annotations

from collections.abc import Sequence
from types import MappingProxyType

from secretsmgr.errors import UsageError
from secretsmgr.init.keystore import NewKey
from secretsmgr.init.model import NEW, ClusterKey, InitOptions
from secretsmgr.keys.age import generate_identity
from secretsmgr.keys.bech32 import is_age_recipient, short_key
from secretsmgr.repo.flux import Cluster
from secretsmgr.repo.inventory import Inventory, LiveKeys
from secretsmgr.repo.settings import SETTINGS_NAME, Settings, resolve_cluster_key
from secretsmgr.repo.sopsconfig import SOPS_CONFIG_NAME
from secretsmgr.shellword import sh_word


def _name(cluster: str | None) -> str:
    return f"cluster {cluster}" if cluster is not None else "the cluster"


def decide_keys(inv: Inventory, options: InitOptions) -> tuple[list[ClusterKey], list[NewKey]]:
    """The key of every cluster by the one key-source order; new identities where none is."""
    clusters = inv.layers.clusters
    if options.cluster_key is not None:
        resolved = resolve_cluster_key(options.cluster_key, MappingProxyType({}), Settings(), ())
        keys = resolved[0] if resolved is not None else ()
        if len(keys) != 1:
            raise UsageError("--cluster-key: give exactly one age public key")
        # one key for every cluster: never over the key clusters: pins for another cluster
        # (with --force it rewrote that cluster's rule and setting to this key)
        other = [
            c
            for c in inv.settings.clusters
            if c.cluster_key and c.cluster_key != keys[0] and len(clusters) > 1
        ]
        if other:
            raise UsageError(
                f"--cluster-key names one key for every cluster, and {SETTINGS_NAME} pins "
                f"another for cluster {other[0].name} ({short_key(other[0].cluster_key or '')}); "
                "nothing was changed",
                hints=(
                    f"each cluster's key is set under clusters: in {SETTINGS_NAME}; "
                    "run secretsmgr init without --cluster-key",
                ),
            )
        return [ClusterKey(c.name, keys[0], "--cluster-key") for c in clusters], []
    if options.live:
        return [_live_key(cluster, options.live, len(clusters)) for cluster in clusters], []
    for name, _old, _new in inv.settings.pending_rotations:
        where = "next_cluster_key" if name is None else f"clusters.{name}.next_cluster_key"
        finish = "secretsmgr key rotate --finish" + (f" --cluster {sh_word(name)}" if name else "")
        raise UsageError(
            f"a cluster-key rotation is under way ({where} is set)",
            hints=(f"finish it first: {finish}",),
        )
    groups = {g.cluster: g for g in inv.keys_by_cluster()}
    single = inv.cluster_keys if len(inv.cluster_keys) == 1 else ()
    out: list[ClusterKey] = []
    new: list[NewKey] = []
    for cluster in clusters:
        group = groups.get(cluster.name)
        keys, source = (group.keys, group.source) if group is not None else ((), None)
        if len(keys) > 1:
            # a base every cluster shares is on every cluster's key: the key that every file
            # of this cluster carries is still its own (devantler/homelab)
            shared = _one_shared(inv, cluster.name)
            if shared is None or shared not in keys:
                several = len(clusters) > 1
                raise UsageError(
                    f"{_name(cluster.name)}'s files are encrypted to several cluster keys "
                    f"({', '.join(short_key(k) for k in keys)})",
                    hints=(
                        f"pin each cluster's key under clusters: in {SETTINGS_NAME}, then run "
                        "secretsmgr init again"
                        if several
                        else "name the cluster key: secretsmgr init --cluster-key age1…",
                    ),
                )
            keys, source = (shared,), "the recipient every SOPS file of the cluster has"
        if not keys and single and not _without_age(inv, cluster.name):
            keys, source = single, inv.cluster_key_source
        if not keys:
            keys, source = _shared_recipient(inv, cluster.name)
        if not keys:
            keys, source = _rule_for_new_files(inv, cluster.name)
        if keys:
            out.append(ClusterKey(cluster.name, keys[0], source or SOPS_CONFIG_NAME))
            continue
        secret, public = generate_identity()
        new.append(NewKey(cluster.name, public, secret))
        out.append(ClusterKey(cluster.name, public, NEW))
    return out, new


def _live_key(cluster: Cluster, lives: Sequence[LiveKeys], count: int) -> ClusterKey:
    """The one age key the Secret read for ``cluster`` holds (its own context's, or the one
    Secret read for a repository with a single cluster)."""
    live = next((x for x in lives if x.cluster is not None and x.cluster == cluster.name), None)
    if live is None and count == 1:
        live = next((x for x in lives if x.cluster is None), None)
    if live is None:
        raise UsageError(
            f"--from-cluster read no Secret for {_name(cluster.name)}: with several clusters, "
            "each needs its kube context (clusters.NAME.context in .secretsmgr.yaml)",
            hints=("or name the key every cluster shares: secretsmgr init --cluster-key age1…",),
        )
    publics = [k for k in live.publics if is_age_recipient(k)]
    if len(publics) != 1:
        raise UsageError(
            f"the live Secret ({live.label}) holds {len(publics)} age keys",
            hints=("name the cluster key: secretsmgr init --cluster-key age1…",),
        )
    return ClusterKey(cluster.name, publics[0], f"cluster ({live.label})")


def _rule_for_new_files(inv: Inventory, cluster: str | None) -> tuple[tuple[str, ...], str | None]:
    """A cluster with no SOPS file yet: the cluster key of the `.sops.yaml` rule that would
    govern a new one in its layers' folders (a catch-all rule naming one key), when that is
    one key for all of them."""
    found: set[str] = set()
    for layer in inv.layers.layers:
        if layer.cluster != cluster or layer.external or layer.path in ("", "."):
            continue
        label, _rule, number = inv.sops_configs.rule_for(f"{layer.path}/secret.sops.yaml")
        ruled = inv.rule_keys.get((label, number)) if label and number is not None else None
        if ruled is None or len(ruled.cluster_keys) != 1:
            return (), None
        found.update(ruled.cluster_keys)
    if len(found) != 1:
        return (), None
    return tuple(found), "the .sops.yaml rule for the cluster's folders"


def _one_shared(inv: Inventory, cluster: str | None) -> str | None:
    """The one age key every SOPS file ``cluster`` applies carries, or None."""
    common = _common_keys(inv, cluster)
    return next(iter(common)) if common is not None and len(common) == 1 else None


def _without_age(inv: Inventory, cluster: str | None) -> bool:
    """Whether ``cluster`` applies SOPS files and none is encrypted to an age key (Flux decrypts
    them with a PGP or KMS key), while the one key `.sops.yaml` names came from other rules: in
    a repository of several clusters, that is another cluster's key (garvbox, sweep 14)."""
    if inv.cluster_key_source != SOPS_CONFIG_NAME or len(inv.layers.clusters) < 2:
        return False
    return _common_keys(inv, cluster) == {} and not any(
        entry.sops_file is not None
        and entry.sops_file.metadata.age_recipients
        and cluster in inv.layers.clusters_of(entry.path)
        for entry in inv.sops_files
    )


def _common_keys(inv: Inventory, cluster: str | None) -> dict[str, None] | None:
    """The age keys every SOPS file ``cluster`` applies carries (None: it applies none)."""
    common: dict[str, None] | None = None
    for entry in inv.sops_files:
        sf = entry.sops_file
        if sf is None or cluster not in inv.layers.clusters_of(entry.path):
            continue
        keys = [k for k in sf.metadata.age_recipients if is_age_recipient(k)]
        common = dict.fromkeys(keys) if common is None else {k: None for k in common if k in keys}
    return common


def _pin_example(inv: Inventory, cluster: str | None) -> str:
    """What a ``clusters:`` entry for ``cluster`` holds, with its path filled in."""
    path = next((c.path for c in inv.layers.clusters if c.name == cluster), None)
    return f"{cluster or 'NAME'}: path: {path or 'PATH'}, cluster_key: age1…"


def _shared_recipient(inv: Inventory, cluster: str | None) -> tuple[tuple[str, ...], str | None]:
    """With no configuration naming a key: the one age key every SOPS file the cluster applies
    is encrypted to (Flux decrypts them all today, so it holds that key). Several such keys
    cannot be told apart (a cluster key and an admin key): the operator names one."""
    common = _common_keys(inv, cluster)
    if not common:
        return (), None
    if len(common) > 1:
        # with several clusters, --cluster-key names one key for all of them: a cluster whose
        # key is its own is pinned in the settings (sweep 71, shikanime/manifests: the hint put
        # the other cluster's files on this cluster's key)
        several = len(inv.layers.clusters) > 1
        raise UsageError(
            f"{_name(cluster)}'s SOPS files are all encrypted to {len(common)} keys "
            f"({', '.join(short_key(k) for k in common)}), and nothing says which is the cluster's",
            hints=(
                *(
                    (
                        f"if each cluster has a key of its own, pin each under clusters: in "
                        f"{SETTINGS_NAME} ({_pin_example(inv, cluster)}; in block style, see "
                        "docs/configuration.md), then run secretsmgr init again",
                    )
                    if several
                    else ()
                ),
                "name it: secretsmgr init --cluster-key age1…"
                + (" (one key for every cluster)" if several else ""),
                "or read it from the cluster: secretsmgr init --from-cluster",
                # a new key was the route an operator had to find alone (sweep 69); `key
                # generate` prints the public key alone for $(…)
                'or start from a new key: secretsmgr init --cluster-key "$(secretsmgr key '
                'generate -o FILE)", then move the files onto it: secretsmgr rotate --all',
            ),
        )
    return tuple(common), "the recipient every SOPS file of the cluster has"
