"""Rotation of one cluster's own key (``clusters.<name>.cluster_key``), in the same two steps
as the repository-wide rotation of ``clusterkey.py``.

A repository with several clusters gives each its own key under ``clusters:``; replacing one
must leave every other cluster's key where it is. So each step changes one key on the files
that carry it and leaves their other recipients alone (``plan.swapped_recipients``):

- ``begin``: a new identity; every SOPS file that carries the cluster's key (or that the policy
  puts it on) re-encrypted with a fresh data key to its recipients plus the new key beside the
  old one; ``clusters.<name>.next_cluster_key`` written and the new key added beside the old
  one in every ``.sops.yaml`` rule naming it, in one transaction.
- ``finish``: refused unless every such file opens with the new key alone and (unless the caller
  skips it) the cluster's live Secret holds the new key with every decrypting Kustomization
  Ready at a revision containing the begin commit; then those files are re-encrypted with the
  new key in the old one's place, ``clusters.<name>.cluster_key`` becomes the new key and the
  rules name it alone.

A key the cluster shares with another cluster (or with the top-level ``cluster_key``) is
refused: replacing it on every file that carries it would take it from the other cluster.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from secretsmgr.errors import RefusedError, UsageError
from secretsmgr.fsutil import read_optional
from secretsmgr.keys.bech32 import short_key
from secretsmgr.keys.manifest import entry_text
from secretsmgr.keys.protocols import IdentitySet
from secretsmgr.plural import plural
from secretsmgr.repo.cloudkms import flux_needs_no_age
from secretsmgr.repo.inventory import Inventory, load_inventory
from secretsmgr.repo.pgpkeys import repository_pgp_ids
from secretsmgr.repo.settings import (
    SETTINGS_NAME,
    Settings,
    load_settings,
    without_cluster_key_env,
)
from secretsmgr.repo.sopsentry import SopsEntry
from secretsmgr.rotate.clusterkey import (
    IdentityStore,
    LiveCluster,
    StepResult,
    begin_identity,
    finish_blockers,
    run_begin,
    secret_of,
    step_configs,
    store_then_write,
    valid_sops_files,
)
from secretsmgr.rotate.faults import FaultHook
from secretsmgr.rotate.finishgate import check_cluster
from secretsmgr.rotate.fluxcheck import ClusterView
from secretsmgr.rotate.keymanifests import both_keys, new_key_alone
from secretsmgr.rotate.plan import RotationRequest, expects_key
from secretsmgr.rotate.record import locked_writer
from secretsmgr.rotate.settingsedit import cluster_settings_text
from secretsmgr.rotate.sopsrules import add_beside, switch
from secretsmgr.rotate.transaction import rotate
from secretsmgr.shellword import sh_word


def own_key(settings: Settings, name: str) -> str:
    """Cluster ``name``'s own key; refused when it has none, or shares it with another."""
    spec = settings.cluster(name)
    if spec is None:
        names = ", ".join(c.name for c in settings.clusters) or "none"
        raise UsageError(
            f"--cluster {name}: no such cluster in {SETTINGS_NAME} (clusters: {names})"
        )
    if spec.cluster_key is None:
        raise UsageError(
            f"--cluster {name}: the cluster has no key of its own in {SETTINGS_NAME} "
            f"(clusters.{name}.cluster_key)",
            hints=("it decrypts with cluster_key: rotate that with secretsmgr key rotate --begin",),
        )
    if settings.next_cluster_key is not None:
        raise RefusedError(
            "a rotation of the repository-wide cluster_key is under way (next_cluster_key): "
            "finish it first",
            hints=("secretsmgr key rotate --finish",),
        )
    sharing = [
        c.name for c in settings.clusters if c.name != name and c.cluster_key == spec.cluster_key
    ]
    if settings.cluster_key == spec.cluster_key:
        sharing.insert(0, "cluster_key")
    if sharing:
        raise RefusedError(
            f"cluster {name}'s key {short_key(spec.cluster_key)} is also named by "
            f"{', '.join(sharing)}: replacing it on every file that carries it would take it "
            "from the others; nothing was changed",
            hints=(
                "give each cluster a key of its own first (docs/key-rotation.md, Several "
                "clusters)"
                + (
                    # repository-wide only where no cluster names another key (sweep 69: "at
                    # once" was offered where begin without --cluster refuses)
                    ", or rotate it for every cluster at once: keep it as cluster_key in "
                    f"{SETTINGS_NAME}, remove the cluster_key lines under clusters:, then "
                    "secretsmgr key rotate --begin"
                    if all(c.cluster_key in (None, spec.cluster_key) for c in settings.clusters)
                    else ""
                ),
            ),
        )
    return spec.cluster_key


def _scope(ctx: Inventory, key: str, *also: str) -> list[SopsEntry]:
    """The SOPS files that carry ``key`` (or any of ``also``), or that the policy puts it on."""
    valid_sops_files(ctx)  # refuses a SOPS file that cannot be read: it may carry the key
    keys = {key, *also}
    named = repository_pgp_ids(ctx)  # asked of every file: read the rules once
    out = []
    for entry in ctx.sops_files:
        sf = entry.sops_file
        if sf is None:
            continue
        carried = bool(keys & set(sf.metadata.age_recipients))
        if not carried and flux_needs_no_age(ctx, entry, named):
            # Flux decrypts it with the repository's PGP key or the controller's cloud KMS key,
            # as in_rotation leaves it (sweep 28, Serubin/flux-infra: after init put each
            # cluster's age key in the PGP rule, --begin --cluster refused over every PGP-only
            # file, for ever)
            continue
        if carried or expects_key(ctx, entry, key):
            out.append(entry)
    for entry in out:
        assert entry.sops_file is not None
        groups = len(entry.sops_file.metadata.key_groups)
        if groups > 1:  # each step writes one group: any one key would then open the file
            raise RefusedError(
                f"{entry.path} has {groups} key groups (shamir_threshold): key rotate --cluster "
                "re-encrypts each file to one group of its keys, so any one of them would open "
                "it; nothing was changed",
                hints=(
                    "replace the cluster's key in that file by hand: edit its .sops.yaml rule, "
                    "then sops updatekeys -y FILE (docs/key-rotation.md, Several clusters)",
                ),
            )
    return out


@locked_writer
def begin(
    root: Path,
    *,
    cluster: str,
    identity: IdentitySet,
    store: IdentityStore,
    env: Mapping[str, str],
    live: LiveCluster | None = None,
    reason: str = "",
    commit: bool = False,
    allow_dirty: bool = False,
    fault: FaultHook | None = None,
) -> StepResult:
    """Step one for cluster ``cluster``; see the module docstring."""
    env = without_cluster_key_env(env)
    ctx = load_inventory(root, env=env)
    old = own_key(ctx.settings, cluster)
    if live is not None and old not in live.publics:
        raise RefusedError(
            f"the cluster ({live.label}) does not hold cluster {cluster}'s key {short_key(old)}",
            hints=(f"is it cluster {cluster}? fix that first: {live.export_hint}",),
        )
    old_secret = secret_of(identity, old, f"cluster {cluster}'s key")
    scope = _scope(ctx, old)
    if not scope and not any(cluster in ctx.layers.clusters_of(e.path) for e in ctx.sops_files):
        # a cluster whose files are all PGP files Flux decrypts with its PGP key still
        # rotates its age key (the rules name it for new files): only one with no file stops
        raise RefusedError(f"no SOPS file carries cluster {cluster}'s key: nothing to rotate")
    spec = ctx.settings.cluster(cluster)
    assert spec is not None
    pending = spec.next_cluster_key
    new_secret, new, todo = begin_identity(
        root,
        ctx,
        identity,
        store,
        old=old,
        pending=pending,
        scope=scope,
        allow_dirty=allow_dirty,
        setting=f"clusters.{cluster}.next_cluster_key",
    )
    current = read_optional(root / SETTINGS_NAME)
    configs = step_configs(
        root,
        ctx,
        cluster_settings_text(current, cluster, old, new),
        lambda text, path: add_beside(text, path, old, new),
    )
    request = RotationRequest(
        files=tuple(str(root / p) for p in todo),
        reason=reason
        or f"cluster key rotation of {cluster}: begin, {short_key(old)} -> {short_key(new)}",
        commit=commit,
        allow_dirty=allow_dirty,
        action="key-rotate-begin",
        swap=(old, new),
        config_writes=configs,
        key_swap=(old, both_keys(old_secret, old, new_secret, new)),
    )
    result, stored_in, configs_commit = None, None, None
    if todo:
        result, stored_in = run_begin(
            root,
            request,
            identity,
            env,
            fault,
            store=store,
            new=None if pending is not None else (new_secret, new),
            recorded=lambda: _recorded(root, cluster, new),
            what=f"the new key of cluster {cluster}",
        )
    elif configs:
        # no file to re-encrypt (PGP files Flux decrypts with its PGP key, sweep 28): the new
        # identity is stored before the files that name it, as for the one cluster key
        new_key = None if pending is not None else (new_secret, new)
        stored_in, configs_commit = store_then_write(
            root, request, store, new_key, lambda: _recorded(root, cluster, new)
        )
    return StepResult(
        old_key=old,
        new_key=new,
        rotation=result,
        entries=(
            ("old.agekey", entry_text(old_secret, old)),
            ("new.agekey", entry_text(new_secret, new)),
        ),
        generated=pending is None,
        stored_in=stored_in,
        rewritten=tuple(todo),
        configs=tuple(p for p, _ in configs),
        cluster=cluster,
        commit=configs_commit,
    )


def _recorded(root: Path, cluster: str, new: str) -> bool:
    """Whether the repository on disk names ``new`` as the cluster's pending key (the run wrote
    its files): then the key must be kept. When that cannot be read, it is kept too."""
    try:
        spec = load_settings(root).cluster(cluster)
    except Exception:
        return True
    return spec is not None and spec.next_cluster_key == new


@locked_writer
def finish(
    root: Path,
    *,
    cluster: str,
    identity: IdentitySet,
    env: Mapping[str, str],
    check: Callable[[], ClusterView] | None,
    reason: str = "",
    commit: bool = False,
    allow_dirty: bool = False,
    fault: FaultHook | None = None,
) -> StepResult:
    """Step two for cluster ``cluster``; see the module docstring. ``check`` reads the
    cluster's live state (after the local checks pass); None skips it."""
    env = without_cluster_key_env(env)
    settings = load_settings(root)
    old = own_key(settings, cluster)
    spec = settings.cluster(cluster)
    assert spec is not None
    if spec.next_cluster_key is None:
        raise RefusedError(
            f"no rotation of cluster {cluster}'s key is under way (no "
            f"clusters.{cluster}.next_cluster_key in {SETTINGS_NAME})",
            hints=(f"start one with: secretsmgr key rotate --begin --cluster {sh_word(cluster)}",),
        )
    new = spec.next_cluster_key
    new_secret = secret_of(identity, new, f"new key of cluster {cluster}")
    new_only = identity.only([new])
    ctx = load_inventory(root, env=env)
    scope = _scope(ctx, old, new)
    if not scope:
        raise RefusedError(f"no SOPS file carries cluster {cluster}'s keys: nothing to finish")
    blocked = finish_blockers(ctx, new_only, scope)
    if blocked:
        raise RefusedError(
            f"{blocked[0]} would be left without a key cluster {cluster} holds after finish "
            f"({plural(len(blocked), 'file')} the new key cannot open)",
            hints=(
                f"run secretsmgr key rotate --begin --cluster {sh_word(cluster)} again: it "
                "re-encrypts them to both keys",
            ),
        )
    current = read_optional(root / SETTINGS_NAME)
    configs = step_configs(
        root,
        ctx,
        cluster_settings_text(current, cluster, new, None),
        lambda text, path: switch(text, path, old, new),
    )
    if check is not None:
        check_cluster(root, new, check)
    result = rotate(
        root,
        RotationRequest(
            files=tuple(str(root / e.path) for e in scope),
            reason=reason or f"cluster key rotation of {cluster}: finish, now {short_key(new)}",
            commit=commit,
            allow_dirty=allow_dirty,
            action="key-rotate-finish",
            swap=(old, new),
            swap_finish=True,
            config_writes=configs,
            key_swap=(old, new_key_alone(new_secret, new)),
        ),
        [new_only],
        env=env,
        fault=fault,
    )
    return StepResult(
        old_key=old,
        new_key=new,
        rotation=result,
        entries=(("age.agekey", entry_text(new_secret, new)),),
        rewritten=tuple(f.path for f in result.plan.files),
        configs=tuple(p for p, _ in configs),
        cluster=cluster,
    )
