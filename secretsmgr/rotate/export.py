"""``key export``: the ``sops-age`` Secret's entries, holding the cluster key(s) and no other.

The keys come from the one cluster-key source order every command follows
(``repository_keys``: ``--cluster-key`` > ``SECRETSMGR_CLUSTER_KEY`` > ``.secretsmgr.yaml`` >
the `.sops.yaml` rules), both of them while a rotation is under way. So that no line of repository
configuration can send an operator's key to the cluster, a private key leaves the machine only
when its identity is recorded as a cluster key where it is kept (made by ``key generate``,
``key rotate`` or ``init``, or marked ``# secretsmgr: cluster key`` in its file), or when the
operator, not the repository, named the key (``--cluster-key``, ``SECRETSMGR_CLUSTER_KEY``).
``key rotate`` sends its Secret under the same rule (``check_rotation_keys``), and the settings
refuse a ``next_cluster_key`` that is one of ``allowed_recipients``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from secretsmgr.errors import KeyNotFoundError, RefusedError, UsageError
from secretsmgr.keys.age import CLUSTER_MARK
from secretsmgr.keys.bech32 import short_key
from secretsmgr.keys.manifest import check_names, entry_text
from secretsmgr.plural import plural
from secretsmgr.repo.flux import find_layers
from secretsmgr.repo.flux.objects import pgp_secret_name
from secretsmgr.repo.inventory import load_inventory
from secretsmgr.repo.repokeys import repository_keys
from secretsmgr.repo.settings import (
    CLUSTER_KEY_ENV,
    SETTINGS_NAME,
    load_settings,
    settings_of,
    without_cluster_key_env,
)
from secretsmgr.repo.snapshot import WorktreeSnapshot
from secretsmgr.shellword import sh_word


class ClusterKeyHolder(Protocol):
    """The identities at hand, asked about one public key at a time."""

    def secret_for(self, public: str) -> str | None:
        """The ``AGE-SECRET-KEY-1…`` text for ``public``, or None."""
        ...

    def is_cluster_key(self, public: str) -> bool:
        """Whether that identity is recorded as a cluster key."""
        ...


@dataclass(frozen=True, slots=True)
class ExportedKey:
    """One entry of the Secret: its name, the public key, who named it, and the identity file."""

    entry: str
    public: str
    named_by: str
    text: str = field(repr=False)


def _named(
    root: Path,
    env: Mapping[str, str],
    cluster_key: str | None,
    on_note: Callable[[str], None] | None = None,
) -> tuple[list[tuple[str, str, str]], bool]:
    """((entry, public, named by) …, whether the operator named them); ``on_note`` hears which
    key a `.sops.yaml` rule naming several was taken as the cluster's."""
    settings = load_settings(root)
    if cluster_key is None and settings.next_cluster_key is not None:
        assert settings.cluster_key is not None  # the settings refuse next without current
        pair = [
            ("old.agekey", settings.cluster_key, "cluster_key"),
            ("new.agekey", settings.next_cluster_key, "next_cluster_key"),
        ]
        return pair, False
    resolved = repository_keys(root, env, cluster_key)
    if resolved is None:
        raise KeyNotFoundError(
            "no cluster key is known for this repository",
            hints=(f"set cluster_key in {SETTINGS_NAME}, or pass --cluster-key age1…",),
        )
    keys, source = resolved.keys, resolved.source
    for text in resolved.notes:
        if on_note is not None:
            on_note(text)
    names = ["age.agekey"] if len(keys) == 1 else [f"key{i}.agekey" for i in range(len(keys))]
    named = source in ("--cluster-key", CLUSTER_KEY_ENV)
    if source == SETTINGS_NAME:
        return [(n, k, "cluster_key") for n, k in zip(names, keys, strict=True)], named
    return [(n, k, source) for n, k in zip(names, keys, strict=True)], named


def _vet(
    identity: ClusterKeyHolder,
    public: str,
    named_by: str,
    *,
    by_operator: bool,
    name_it: str = "",
    doing: str = "export {}",
) -> str | None:
    """The key's private half, refused unless export's rules hold (see the module docstring).

    ``name_it``: the command by which the operator may name the key, for the hint; ``doing``:
    what the command would do with it (``{}``: the key), for the message. A key not held at
    all gives None.
    """
    shown = f"{short_key(public)} ({named_by})"
    secret = identity.secret_for(public)
    if secret is not None and not by_operator and not identity.is_cluster_key(public):
        named = f"if it is the cluster's key, name it: {name_it} --cluster-key {public}"
        raise RefusedError(
            f"refusing to {doing.format(shown)}: its identity is not recorded as a cluster key",
            hints=(
                *((named,) if name_it else ()),
                f"{'or ' if name_it else ''}record it: add a line '{CLUSTER_MARK}' above it in "
                "its key file",
            ),
        )
    return secret


def export_keys(
    root: Path,
    identity: ClusterKeyHolder,
    env: Mapping[str, str],
    cluster_key: str | None = None,
    on_note: Callable[[str], None] | None = None,
) -> tuple[ExportedKey, ...]:
    """The Secret's entries for the repository at ``root``; see the module docstring."""
    named, by_operator = _named(root, env, cluster_key, on_note)
    return _entries(
        identity, named, by_operator=by_operator, name_it="secretsmgr key export", whose=""
    )


def _entries(
    identity: ClusterKeyHolder,
    named: Sequence[tuple[str, str, str]],
    *,
    by_operator: bool,
    name_it: str,
    whose: str,
) -> tuple[ExportedKey, ...]:
    """The Secret's entries for ``named`` (entry, public key, who named it), each vetted by
    export's rules (``_vet``); a key not held at all is an error naming ``whose`` key it is
    (empty: the cluster key)."""
    out = []
    for entry, public, named_by in named:
        secret = _vet(identity, public, named_by, by_operator=by_operator, name_it=name_it)
        if secret is None:
            what = f"{whose} key" if whose else "the cluster key"
            raise KeyNotFoundError(
                f"the private half of {what} {short_key(public)} ({named_by}) was not found",
                hints=(
                    "import it: secretsmgr key import FILE, or set SOPS_AGE_KEY_FILE",
                    "secretsmgr key show lists the keys found and where",
                ),
            )
        out.append(ExportedKey(entry, public, named_by, entry_text(secret, public)))
    return tuple(out)


def export_cluster_keys(
    root: Path, identity: ClusterKeyHolder, cluster: str
) -> tuple[tuple[ExportedKey, ...], str | None]:
    """``key export --cluster NAME``: the Secret's entries for that cluster's own key (both keys
    while a rotation of it is under way), and its ``clusters.NAME.context`` (None when unset)."""
    from secretsmgr.rotate.clusterown import own_key

    settings = load_settings(root)
    current = own_key(settings, cluster)
    spec = settings.cluster(cluster)
    assert spec is not None
    where = f"clusters.{cluster}.cluster_key"
    named = [("age.agekey", current, where)]
    if spec.next_cluster_key is not None:
        named = [
            ("old.agekey", current, where),
            ("new.agekey", spec.next_cluster_key, f"clusters.{cluster}.next_cluster_key"),
        ]
    exported = _entries(
        identity, named, by_operator=False, name_it="", whose=f"cluster {cluster}'s"
    )
    return exported, spec.context


# what key rotate does with a key (sweep 52: "refusing to export" puzzled an operator who ran
# key rotate --begin)
_HAND_ON = "hand {} to Flux in the sops-age Secret"


def check_rotation_keys(
    root: Path,
    identity: ClusterKeyHolder,
    cluster_key: str | None,
    *,
    begin: bool,
    cluster: str | None = None,
    begin_command: str = "secretsmgr key rotate --begin",
) -> None:
    """Before ``key rotate`` changes anything: the keys its Secret will hold pass export's rules.
    ``begin_command``: the run again with the options it was given, for the hint that names
    the key (sweep 42: it dropped ``-o``, and pasted it failed where there is no keyring).

    ``--begin`` sends the current key (``--cluster-key`` names it for the operator) and, when a
    rotation is pending, ``next_cluster_key``; ``--finish`` sends ``next_cluster_key``. A key
    not held is left to the step itself, which says what is missing.
    """
    settings = load_settings(root)
    spec = settings.cluster(cluster) if cluster is not None else None
    if spec is not None:  # --cluster: that cluster's own keys
        where = f"clusters.{spec.name}"
        if begin and spec.cluster_key is not None:
            _vet(
                identity,
                spec.cluster_key,
                f"{where}.cluster_key",
                by_operator=False,
                doing=_HAND_ON,
            )
        if spec.next_cluster_key is not None:
            _vet(
                identity,
                spec.next_cluster_key,
                f"{where}.next_cluster_key",
                by_operator=False,
                doing=_HAND_ON,
            )
        return
    if begin and cluster_key is not None and cluster_key.strip():
        _vet(identity, cluster_key.strip(), "--cluster-key", by_operator=True, doing=_HAND_ON)
    elif begin and settings.cluster_key is not None:
        _vet(
            identity,
            settings.cluster_key,
            "cluster_key",
            by_operator=False,
            name_it=begin_command,
            doing=_HAND_ON,
        )
    if settings.next_cluster_key is not None:
        _vet(
            identity,
            settings.next_cluster_key,
            "next_cluster_key",
            by_operator=False,
            doing=_HAND_ON,
        )


@dataclass(frozen=True, slots=True)
class ExportTarget:
    """Where a ``--cluster-key`` export goes: the kube context it is applied through (None when
    the manifest is printed), and the public keys the Secret there holds now (None: unread)."""

    context: str | None = None
    live: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class _ClusterFacts:
    name: str | None
    keys: frozenset[str]  # the cluster keys the repository names for it
    files: tuple[tuple[str, frozenset[str]], ...]  # (path, age recipients) of the files it applies


def _cluster_facts(root: Path, env: Mapping[str, str]) -> tuple[_ClusterFacts, ...]:
    """Each cluster's keys as the repository names them (never the operator's own choice:
    ``SECRETSMGR_CLUSTER_KEY`` is left out), and the recipients of the files it applies."""
    from secretsmgr.repo.inventory import load_inventory
    from secretsmgr.repo.sopsconfig import all_age_recipients

    inv = load_inventory(root, env=without_cluster_key_env(env))
    settings = inv.settings
    rotation = {settings.cluster_key, settings.next_cluster_key} - {None}
    names = [c.name for c in inv.layers.clusters] or [None]
    keys_of = {g.cluster: set(g.keys) for g in inv.keys_by_cluster()}
    out = []
    for name in names:
        files = [
            e
            for e in inv.sops_files
            if e.sops_file is not None
            and (not inv.layers.clusters or name in inv.layers.clusters_of(e.path))
        ]
        keys = keys_of.get(name, set())
        if keys & rotation:  # both keys while a rotation is under way
            keys |= {k for k in rotation if k is not None}
        spec = settings.cluster(name) if name is not None else None
        if spec is not None and spec.next_cluster_key is not None:  # its own rotation
            keys |= {spec.next_cluster_key} | ({spec.cluster_key} if spec.cluster_key else set())
        if not inv.settings_name_keys:  # the rules are the policy: any of their cluster keys
            allowed = set(settings.allowed_recipients)
            for e in files:
                if e.creation_rule is not None:
                    keys |= set(all_age_recipients(e.creation_rule)) - allowed
        recipients = tuple(
            (e.path, frozenset(e.sops_file.metadata.age_recipients))
            for e in files
            if e.sops_file is not None
        )
        out.append(_ClusterFacts(name, frozenset(keys), recipients))
    return tuple(out)


def other_cluster_at(
    root: Path, cluster: str, target: ExportTarget, *, named: bool = True
) -> str | None:
    """``--cluster NAME --apply``: why the Secret at ``target`` is another cluster's (its
    ``clusters.<other>.context`` is the target context, or the Secret holds that cluster's own
    keys and none of NAME's), else None. Sending NAME's keys there would replace the key Flux
    decrypts that other cluster with.

    Where clusters have keys of their own and the context was neither named (``--context``)
    nor pinned (``named``), a Secret that does not hold NAME's key yet (a first export) is
    refused too: nothing says the current context reaches NAME (the attack review: a second
    cluster's steps pasted in the first one's context put its key there)."""
    settings = load_settings(root)
    if target.context is not None:
        pinned = [c.name for c in settings.clusters if c.context == target.context]
        if pinned and cluster not in pinned:
            return f"context {target.context} is clusters.{pinned[0]}.context"
        if pinned:
            return None
    # each cluster's keys: its own, else the repository's cluster_key, which a cluster with no
    # key of its own (listed or not) decrypts with (the attack review: a Secret holding the
    # repository's key was taken for nobody's, and NAME's key replaced it)
    shared = _present(settings.cluster_key, settings.next_cluster_key)
    keys_of: dict[str | None, frozenset[str]] = {
        c.name: _present(c.cluster_key, c.next_cluster_key) or shared for c in settings.clusters
    }
    mine = keys_of.get(cluster, shared)
    if shared and shared != mine:
        keys_of.setdefault(None, shared)  # the clusters without a key of their own
    live = set(target.live or ())
    holders = [name for name, keys in keys_of.items() if keys & live]
    if live and holders and not mine & live:
        held = ", ".join(short_key(k) for k in target.live or ())
        whose = ", ".join(
            _cluster_name(h) if h is not None else "the clusters that use cluster_key"
            for h in holders
        )
        return f"the Secret there holds {held}, the key of {whose}"
    others = {k for keys in keys_of.values() for k in keys} - mine
    if not named and others and not mine & live:
        count = len({keys for keys in keys_of.values() if keys})
        return (
            f"{count} cluster keys are in use and nothing says this context reaches cluster "
            f"{cluster} (clusters.{cluster}.context is not set, and the Secret there does not "
            + ("hold its key yet)" if live else "exist yet, or could not be read)")
        )
    return None


def _present(*keys: str | None) -> frozenset[str]:
    return frozenset(k for k in keys if k is not None)


def _cluster_name(name: str | None) -> str:
    return f"cluster {name}" if name is not None else "the cluster"


def check_named_key(
    root: Path,
    env: Mapping[str, str],
    key: str,
    named_by: str,
    target: ExportTarget | None,
    *,
    force: bool,
    on_warn: Callable[[str], None],
) -> None:
    """Before a key the operator named (``--cluster-key``, ``SECRETSMGR_CLUSTER_KEY``) goes into
    a Secret: it must be a cluster key the repository names for the target cluster, and every
    SOPS file that cluster applies must be encrypted to it; else Flux could not decrypt once the
    Secret holds it. Refused (nothing sent) unless ``force``, which warns instead.

    The target cluster is the one whose ``clusters.<name>.context`` is the context the Secret
    is applied through; else the one whose key the Secret there holds now; else any cluster the
    key is named for (with a warning saying which, when the clusters' keys differ).
    """
    facts = _cluster_facts(root, env)
    target = target or ExportTarget()
    shown = f"{short_key(key)} ({named_by})"
    settings = load_settings(root)
    target_name: list[str | None] = []
    why = ""
    if target.context is not None:
        mapped = [c.name for c in settings.clusters if c.context == target.context]
        if mapped and any(f.name == mapped[0] for f in facts):
            target_name, why = [mapped[0]], f"clusters.{mapped[0]}.context: {target.context}"
    if not target_name and target.live:
        holders = [f.name for f in facts if f.keys & set(target.live)]
        if len(holders) == 1:
            held = ", ".join(short_key(k) for k in target.live)
            target_name, why = holders, f"the Secret there holds {held}"
    candidates = [f for f in facts if not target_name or f.name == target_name[0]]
    fits = [f for f in candidates if key in f.keys and all(key in r for _, r in f.files)]
    if fits:
        several = len({f.keys for f in facts}) > 1
        if target.context is not None and not target_name and several:
            name = fits[0].name
            on_warn(
                f"took context {target.context} for {_cluster_name(name)} (the cluster "
                f"{short_key(key)} is named for): nothing in {SETTINGS_NAME} says which cluster "
                f"that context reaches; pin it: clusters.{name}.context: {target.context}"
            )
        return
    problem, hints = _misfit(key, candidates, target_name, why)
    if force:
        on_warn(f"--force: exporting {shown} although {problem}; Flux may be unable to decrypt")
        return
    raise RefusedError(
        f"refusing to export {shown}: {problem}, so Flux could not decrypt with it",
        hints=(*hints, "if the cluster must hold it all the same, add --force"),
    )


def _misfit(
    key: str, candidates: list[_ClusterFacts], target: list[str | None], why: str
) -> tuple[str, tuple[str, ...]]:
    """(why ``key`` does not fit the candidate clusters, hints naming the keys that do)."""
    where = f" ({why})" if why else ""
    named = [f for f in candidates if key in f.keys]
    if not named:
        whose = (
            f"it is not a cluster key this repository names for {_cluster_name(target[0])}{where}"
            if target
            else "it is not a cluster key this repository names (cluster_key, next_cluster_key, "
            "clusters.<name>.cluster_key, or a .sops.yaml rule)"
        )
        # one hint a key: clusters that share it are named together (sweep 22, tcordina:
        # two clusters on one key gave the same command twice)
        by_key: dict[str, list[str]] = {}
        for f in candidates:
            if len(f.keys) == 1:
                by_key.setdefault(next(iter(f.keys)), []).append(_cluster_name(f.name))
        hints = tuple(
            (f"{names[0]}'s key" if len(names) == 1 else f"the key of {' and '.join(names)}")
            + f": secretsmgr key export --cluster-key {k}"
            for k, names in by_key.items()
        )
        return whose, hints[:3]
    first = named[0]
    closed = [path for path, recipients in first.files if key not in recipients]
    return (
        f"{plural(len(closed), 'SOPS file')} {_cluster_name(first.name)} applies "
        f"{'is' if len(closed) == 1 else 'are'} not encrypted to it ({closed[0]}"
        f"{', …' if len(closed) > 1 else ''}){where}",
        (f"see which: secretsmgr audit --cluster-key {key}",),
    )


def credential_readers(root: Path, namespace: str, name: str) -> tuple[str, ...]:
    """The Flux sources of the repository that read their credentials from the Secret
    ``namespace/name`` (``GitRepository flux-system``): a key sent there goes beside them, as
    replacing the Secret would leave Flux unable to fetch (sweep 93, shangkuei/fluxcd)."""
    # the layer graph alone: no SOPS file needs reading for it
    snap = WorktreeSnapshot(root)
    settings = settings_of(snap)
    graph = find_layers(snap, settings.clusters, dict(settings.sources))
    return tuple(graph.source_secrets.get(f"{namespace}/{name}", ()))


def secret_target(
    root: Path,
    namespace: str | None,
    name: str | None,
    cluster: str | None,
    *,
    name_option: str,
    add: bool = False,
) -> tuple[str, str]:
    """(namespace, name) of the Secret the key goes to when the options do not both say.

    The Secret the decrypting layers read (the Kustomization's namespace and its
    ``decryption.secretRef``; sweep 19: a layer reading ``sops-keys`` got a ``sops-age`` Secret
    Flux never reads), counting only layers of this checkout that hold a SOPS file (the review:
    a tenant's Kustomization over another source, or an app's over no secret, is no place for
    the cluster's key), narrowed by the option given; ``flux-system/sops-age`` when none says.
    Several such Secrets, a Secret named for PGP keys unless ``add`` (replacing it would drop
    the PGP key; only ``--add`` keeps it, and ``key rotate`` never replaces it) and a name the
    API server would refuse (``${VAR}``) are usage errors: the operator names the Secret."""
    if namespace is not None and name is not None:
        return namespace, name
    inv = load_inventory(root)
    by_cluster = inv.layers.decryption_secrets(holding={e.path for e in inv.sops_files})
    found = {
        (ns, ref): None
        for owner, pairs in by_cluster.items()
        if cluster is None or owner == cluster
        for ns, ref in pairs
        if (namespace is None or ns == namespace) and (name is None or ref == name)
    }
    if not found:
        # layers that name no Secret: the one kustomize-controller's --sops-age-secret names
        controller = inv.layers.controller_key_clusters({e.path for e in inv.sops_files})
        mine = controller and (cluster is None or cluster in controller)
        flags = inv.layers.controller_age_secrets if mine and name is None else ()
        where = inv.layers.controller_namespace(cluster) if mine else "flux-system"
        if len(flags) > 1:
            # two clusters' controllers, or a stale copy: which one reads which is not told
            # here (the second review: a second name made the export fall back to sops-age)
            raise UsageError(
                "kustomize-controller's --sops-age-secret flag names "
                f"{len(flags)} Secrets in this repository ({', '.join(flags[:4])}): name the "
                "one the key goes to",
                hints=(f"{name_option} S (and --namespace N)",),
            )
        return namespace or where, name or (flags[0] if flags else "sops-age")
    pairs = list(found)
    example = f"--namespace {sh_word(pairs[0][0])} {name_option} {sh_word(pairs[0][1])}"
    if len(pairs) > 1:
        listed = ", ".join(f"{ns}/{n}" for ns, n in pairs[:4]) + (", …" if len(pairs) > 4 else "")
        raise UsageError(
            f"the decrypting layers read {len(pairs)} Secrets ({listed}): name the one the key "
            "goes to",
            hints=(f"one command per Secret, e.g. {example}",),
        )
    target = pairs[0]
    try:
        check_names(*target)
    except UsageError as exc:
        raise UsageError(
            f"the decrypting layers read the Secret {target[0]}/{target[1]}, which is no name "
            "to send to (a variable Flux fills in?): name it",
            hints=(f"{name_option} S (and --namespace N)",),
        ) from exc
    if pgp_secret_name(target[1]) and not add and name is None:
        raise UsageError(
            f"the decrypting layers read {target[0]}/{target[1]}, a Secret named for PGP keys: "
            "the Secret sent or printed for it holds the age key alone and, applied, would "
            "replace the PGP key Flux decrypts other files with: name the Secret to go on",
            hints=(f"keep the PGP key beside it: {pgp_secret_export(*target)}",),
        )
    return target


def other_secrets(
    root: Path, target: tuple[str, str], cluster: str | None
) -> list[tuple[str, str]]:
    """The Secrets decrypting Kustomizations of this checkout read, ``target`` aside: a
    ``key rotate --finish`` checks each holds the new key."""
    found = load_inventory(root).layers.decryption_secrets(local=True)
    pairs = {p for owner, ps in found.items() if cluster in (None, owner) for p in ps}
    return sorted(pairs - {target})


def pgp_secret_export(namespace: str, name: str, cluster: str | None = None) -> str:
    """How the key reaches a Secret named for PGP keys without replacing it: ``key export
    --apply --add`` keeps its other entries (``key rotate`` adds to such a Secret itself);
    ``cluster``: the cluster whose key it is (sweep 28: without it, the command pasted in a
    repository of two clusters' keys was refused)."""
    which = f"--cluster {sh_word(cluster)} " if cluster is not None else ""
    where = f"{which}--namespace {sh_word(namespace)} --name {sh_word(name)}"
    return f"secretsmgr key export {where} --apply --add"
