"""Cluster-key rotation in two steps, each a rotation transaction.

``begin``: a new identity; every SOPS file re-encrypted to old + new key with a fresh data key,
``next_cluster_key`` written to ``.secretsmgr.yaml`` and the new key added beside the old one in
every ``.sops.yaml`` rule naming it, in the same transaction. Flux, given a Secret holding both
private keys, decrypts every state of the repository during the overlap, and a file made with
plain ``sops`` meanwhile is on both keys.

``finish``: refused unless every file opens with the new key alone and (unless the caller skips
it) the live cluster holds the new key with every decrypting Kustomization Ready at a revision
containing the begin commit (``finishgate.py``); then every file is re-encrypted to the new key
only, ``cluster_key`` becomes the new key and the ``.sops.yaml`` rules name it alone.

Each step holds the repository's write lock from its first read to its last write. Both steps
are safe to re-run: a repeated ``begin`` reuses the pending key and re-encrypts only
the files not yet on both keys; a failed step changes nothing (the transaction rolls back).
This module knows neither the CLI nor the keyring nor the cluster: callers pass identities and
a reader of the cluster in, and get the Secret's entries back.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol, TypedDict

from secretsmgr.errors import (
    DecryptionError,
    KeyNotFoundError,
    RefusedError,
    RotatedNotCommittedError,
    UsageError,
)
from secretsmgr.fsutil import check_write_target, read_optional, write_atomic
from secretsmgr.keys.age import AgeRecipient, generate_identity
from secretsmgr.keys.bech32 import short_key
from secretsmgr.keys.manifest import entry_text
from secretsmgr.keys.protocols import Identity, IdentitySet
from secretsmgr.plural import plural
from secretsmgr.repo import git
from secretsmgr.repo.cloudkms import flux_needs_no_age
from secretsmgr.repo.inventory import Inventory, load_inventory
from secretsmgr.repo.lock import repo_lock
from secretsmgr.repo.settings import SETTINGS_NAME, Settings, load_settings
from secretsmgr.repo.sopsconfig import SOPS_CONFIG_NAME
from secretsmgr.repo.sopsentry import SopsEntry
from secretsmgr.rotate.faults import FaultHook
from secretsmgr.rotate.finishgate import check_cluster
from secretsmgr.rotate.fluxcheck import ClusterView
from secretsmgr.rotate.keymanifests import both_keys, key_secrets_left_alone, new_key_alone
from secretsmgr.rotate.plan import RotationRequest
from secretsmgr.rotate.record import locked_writer
from secretsmgr.rotate.settingsedit import settings_text
from secretsmgr.rotate.sopsrules import add_beside, switch
from secretsmgr.rotate.transaction import RotationResult, failure_text, refuse_dirty, rotate
from secretsmgr.shellword import sh_path
from secretsmgr.sops.datakey import unwrap_data_key


class IdentityStore(Protocol):
    """Where ``begin`` keeps the new identity (the keyring, or a file given with ``-o``)."""

    def check(self) -> None:
        """Refuse before a key is made when it could not be kept (no keyring, say)."""
        ...

    def store(self, secret: str) -> str:
        """Keep the ``AGE-SECRET-KEY-1…`` text; say where it went."""
        ...

    def discard(self, public: str) -> None:
        """Forget it again: the step that needed it failed and changed nothing."""
        ...


@dataclass(frozen=True, slots=True)
class LiveCluster:
    """The live cluster's keys as read, where they were read, and how to send the Secret."""

    publics: tuple[str, ...]
    label: str
    export_hint: str


@dataclass(frozen=True, slots=True)
class StepResult:
    """What a step did, and the Secret entries Flux needs next (private: never printed)."""

    old_key: str
    new_key: str
    rotation: RotationResult | None
    entries: tuple[tuple[str, str], ...] = field(repr=False)
    generated: bool = False
    stored_in: str | None = None
    rewritten: tuple[str, ...] = ()
    configs: tuple[str, ...] = ()
    cluster: str | None = None  # the cluster whose own key this step rotates; None: cluster_key
    commit: str | None = None  # the commit of a step that wrote configuration files only
    left: tuple[str, ...] = ()  # files outside Flux that never carried the cluster key
    # of ``left``, those that hold a Secret named as Flux's key Secret: nothing updates them
    key_secrets_left: tuple[str, ...] = ()


# ------------------------------------------------------------------ the two steps


def refuse_own_cluster_keys(settings: Settings) -> None:
    """``RefusedError`` when ``clusters:`` gives a cluster a key of its own: key rotate rewrites
    the top-level ``cluster_key`` and every file to one key pair, so a cluster's own key would
    be taken off the files it applies (an operator's acceptance run: staging could no longer
    decrypt), and an equal one would be left naming the old key. Rotating one cluster's key
    among several is ``key rotate --cluster`` (``clusterown.py``)."""
    own = [c for c in settings.clusters if c.cluster_key]
    if not own:
        return
    names = ", ".join(f"{c.name} ({short_key(c.cluster_key or '')})" for c in own)
    keys = {c.cluster_key for c in own} | {settings.cluster_key or own[0].cluster_key}
    if len(keys) == 1:
        hint = (
            f"they all name one key: keep it as cluster_key in {SETTINGS_NAME} and remove the "
            "cluster_key lines under clusters:, then begin again"
        )
    else:
        # a cluster whose key no other names: --cluster refuses a shared one (sweep 69,
        # dramirez-qb/k3d-cluster: the hint named a cluster sharing its key, and the pasted
        # command was refused in turn)
        counts = Counter(c.cluster_key for c in own)
        if settings.cluster_key:
            counts[settings.cluster_key] += 1
        alone = next((c for c in own if counts[c.cluster_key] == 1), None)
        hint = (
            f"rotate one cluster's own key with: secretsmgr key rotate --begin --cluster "
            f"{alone.name}"
            if alone is not None
            else "every cluster's key is shared with another: give each cluster a key of its "
            "own first (docs/key-rotation.md, Several clusters)"
        )
    raise RefusedError(
        f"key rotate replaces the one cluster_key of {SETTINGS_NAME}, and its clusters: gives "
        f"{plural(len(own), 'cluster')} a key of its own: {names}; nothing was changed",
        hints=(hint,),
    )


def _current_key(ctx: Inventory, cli_key: str | None) -> str:
    settings = ctx.settings
    if cli_key is not None:
        AgeRecipient(cli_key)  # a clear error (never an echo) for a private or malformed key
    refuse_own_cluster_keys(settings)
    key = settings.cluster_key
    if key is None:
        suggestion = cli_key.strip() if cli_key else None
        init = f"secretsmgr init --cluster-key {suggestion}" if suggestion else "secretsmgr init"
        if suggestion is None and ctx.repo_cluster_keys:
            suggestion = ctx.repo_cluster_keys[0]
        example = suggestion or "age1…"
        raise KeyNotFoundError(
            f"key rotate keeps its state in {SETTINGS_NAME}, which names no cluster_key",
            hints=(
                f"pin it (cluster_key: {example}, the rules' other keys as allowed_recipients): "
                f"{init}",
            ),
        )
    if cli_key is not None and cli_key.strip() != key:
        raise UsageError(
            f"--cluster-key {short_key(cli_key)} differs from cluster_key in {SETTINGS_NAME} "
            f"({short_key(key)})"
        )
    return key


def secret_of(identity: IdentitySet, public: str, what: str, *extra_hints: str) -> str:
    secret = identity.secret_for(public)
    if secret is None:
        raise KeyNotFoundError(
            f"the private half of the {what} ({short_key(public)}) was not found",
            hints=(
                "store it in the OS keyring (secretsmgr key import FILE), "
                "or set SOPS_AGE_KEY_FILE to it",
                "secretsmgr key show lists the keys found and where",
                *extra_hints,
            ),
        )
    return secret


def in_rotation(ctx: Inventory, entry: SopsEntry, old: str) -> bool:
    """Whether a cluster-key rotation moves ``entry``: it carries the cluster key ``old``, or a
    live Flux layer applies it (then it must carry the new key). A file outside Flux that
    never carried the key (an archived one, encrypted to other keys) is left as it is: begin
    refused, as no identity opened it, and the key could never be rotated (sweep 18); nor is
    a PGP file that Flux decrypts with the repository's PGP key, or a cloud KMS file that it
    decrypts with the controller's identity (``flux_needs_no_age``)."""
    if _holds_no_secret(entry):
        # a template named like a SOPS file carries no key (sweep 70, nprodromou/apk3s-rh:
        # begin left six alone, and finish refused them for ever)
        return False
    sf = entry.sops_file
    if sf is not None and old not in sf.metadata.age_recipients and flux_needs_no_age(ctx, entry):
        # a PGP (or controller KMS) file its layers decrypt without an age key needs none (sweep
        # 20: after init's step put the age key beside PGP in the rule, begin refused for ever
        # over a PGP-only file it could not re-encrypt, whatever sops command was run)
        return False
    return (
        sf is None or old in sf.metadata.age_recipients or bool(ctx.layers.placements(entry.path))
    )


class _LeftAlone(TypedDict):
    left: tuple[str, ...]
    key_secrets_left: tuple[str, ...]


def _left_alone(ctx: Inventory, old: str) -> _LeftAlone:
    """``StepResult.left`` and ``key_secrets_left``: the SOPS files a rotation of ``old``
    leaves as they are, and the key Secrets among them."""
    entries = [e for e in ctx.sops_files if e.has_metadata and not in_rotation(ctx, e, old)]
    return {
        "left": tuple(e.path for e in entries),
        "key_secrets_left": key_secrets_left_alone(ctx, entries),
    }


def _holds_no_secret(entry: SopsEntry) -> bool:
    """A file named like a SOPS file that never was one and holds nothing to encrypt: a
    template of placeholders, an empty file, a sops configuration (SM002 information). It can
    carry no key, so a rotation has nothing to do with it (sweep 19, dcplaya/k8s-at-home:
    ``tmpl/secret.enc.yaml`` of ``${VAR}`` values made key rotate refuse for ever)."""
    return (
        not entry.has_metadata
        and entry.error is None
        and (entry.template or entry.empty or entry.config_file)
    )


def valid_sops_files(ctx: Inventory) -> list[str]:
    files = [e for e in ctx.sops_files if not _holds_no_secret(e)]
    broken = [e.path for e in files if e.sops_file is None]
    if broken:
        raise RefusedError(
            f"{broken[0]} is not a readable SOPS file ({plural(len(broken), 'such file')})",
            hints=("fix it first: secretsmgr audit shows why",),
        )
    return [e.path for e in files]


@locked_writer
def begin(
    root: Path,
    *,
    identity: IdentitySet,
    store: IdentityStore,
    env: Mapping[str, str],
    cluster_key: str | None = None,
    live: LiveCluster | None = None,
    reason: str = "",
    commit: bool = False,
    allow_dirty: bool = False,
    fault: FaultHook | None = None,
) -> StepResult:
    """Step one; see the module docstring. ``identity`` holds every identity found.

    Everything that can refuse is checked before the new identity is stored anywhere (a dry
    run of the whole transaction included); when the transaction still fails, the stored
    identity is discarded again. ``live``: the cluster's keys, when they were read.
    """
    ctx = load_inventory(root, env=env)
    old = _current_key(ctx, cluster_key)
    if live is not None and old not in live.publics:
        raise RefusedError(
            f"the cluster ({live.label}) does not hold the current cluster key {short_key(old)}",
            hints=(f"fix that first: {live.export_hint}",),
        )
    old_secret = secret_of(identity, old, "current cluster key")
    paths = valid_sops_files(ctx)
    if not paths:
        raise RefusedError("no SOPS file in this repository: nothing to rotate")
    pending = ctx.settings.next_cluster_key
    scope = [e for e in ctx.sops_files if e.sops_file is not None and in_rotation(ctx, e, old)]
    new_secret, new, todo = begin_identity(
        root,
        ctx,
        identity,
        store,
        old=old,
        pending=pending,
        scope=scope,
        allow_dirty=allow_dirty,
        setting="next_cluster_key",
    )
    configs = step_configs(
        root,
        ctx,
        settings_text(read_optional(root / SETTINGS_NAME), old, new),
        lambda text, path: add_beside(text, path, old, new),
    )
    request = RotationRequest(
        files=tuple(str(root / p) for p in todo),
        reason=reason or f"cluster key rotation: begin, {short_key(old)} -> {short_key(new)}",
        commit=commit,
        allow_dirty=allow_dirty,
        action="key-rotate-begin",
        cluster_keys=(old, new),
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
            recorded=lambda: _recorded(root, new),
            what="the new cluster key",
        )
    elif configs:
        new_key = None if pending is not None else (new_secret, new)
        stored_in, configs_commit = store_then_write(
            root, request, store, new_key, lambda: _recorded(root, new)
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
        commit=configs_commit,
        **_left_alone(ctx, old),
    )


def store_then_write(
    root: Path,
    request: RotationRequest,
    store: IdentityStore,
    new: tuple[str, str] | None,
    recorded: Callable[[], bool],
) -> tuple[str | None, str | None]:
    """(where the new identity went, the commit) of a begin step with no file to re-encrypt
    (every one left alone: PGP files Flux decrypts with its PGP key): ``new`` (secret,
    public), when begin made it, is stored before the settings that name it are written, and
    discarded again if they are not (the review: begin committed next_cluster_key and kept
    the key nowhere)."""
    stored_in = store.store(new[0]) if new is not None else None
    try:
        return stored_in, write_configs(root, request)
    except RotatedNotCommittedError:
        raise  # the files name it: kept
    except Exception:
        if new is not None and not recorded():
            store.discard(new[1])
        raise


def begin_identity(
    root: Path,
    ctx: Inventory,
    identity: IdentitySet,
    store: IdentityStore,
    *,
    old: str,
    pending: str | None,
    scope: Sequence[SopsEntry],
    allow_dirty: bool,
    setting: str,
) -> tuple[str, str, list[str]]:
    """(new secret, new public key, files to re-encrypt) of a begin step: the ``pending`` key
    (named in ``setting``) and the files of ``scope`` not yet on both keys; else a new identity
    (once the store and a clean tree allow it) and every file of ``scope``."""
    if pending is not None:
        secret = secret_of(
            identity,
            pending,
            f"pending new key ({setting})",
            f"if it is lost, remove {setting} from {SETTINGS_NAME} and begin again "
            "(every file is still readable with the old key)",
        )
        todo = [
            e.path
            for e in scope
            if e.sops_file is not None
            and not {old, pending} <= set(e.sops_file.metadata.age_recipients)
        ]
        return secret, pending, todo
    store.check()  # before a key is made
    paths = [e.path for e in scope]
    if not allow_dirty:
        refuse_dirty(root, [*paths, SETTINGS_NAME, *sops_config_paths(ctx)])
    secret, public = generate_identity()
    return secret, public, paths


def step_configs(
    root: Path, ctx: Inventory, settings_after: str, sops_edit: Callable[[str, Path], str | None]
) -> tuple[tuple[str, str], ...]:
    """The configuration writes of a step: ``.secretsmgr.yaml`` (when it changes) and every
    ``.sops.yaml`` that ``sops_edit`` changes (the new key added beside the old one at begin,
    put in its place at finish)."""
    configs: tuple[tuple[str, str], ...] = ()
    if settings_after != read_optional(root / SETTINGS_NAME):
        configs = ((SETTINGS_NAME, settings_after),)
    return configs + edit_sops_configs(root, ctx, sops_edit)


def run_begin(
    root: Path,
    request: RotationRequest,
    identity: IdentitySet,
    env: Mapping[str, str],
    fault: FaultHook | None,
    *,
    store: IdentityStore,
    new: tuple[str, str] | None,
    recorded: Callable[[], bool],
    what: str,
) -> tuple[RotationResult, str | None]:
    """The transaction of a begin step: with a ``new`` (secret, public) identity, a dry run
    first, then the identity stored, then the run; a run that fails before its commit point
    discards the identity again unless ``recorded()`` says the repository names it. (result,
    where the new identity was stored)."""
    stored_in = None
    if new is not None:
        rotate(root, replace(request, dry_run=True), [identity], env=env)
        stored_in = store.store(new[0])
    try:
        return rotate(root, request, [identity], env=env, fault=fault), stored_in
    except RotatedNotCommittedError as exc:
        # past the commit point (a failed git commit): the files are encrypted to the new key
        # now, so it is kept, and the user is told where
        public = short_key(new[1]) if new is not None else ""
        raise RotatedNotCommittedError(
            exc.message,
            hints=(*exc.hints, f"{what} {public} is kept in {stored_in}"),
        ) from exc
    except Exception:
        if new is not None and not recorded():
            store.discard(new[1])  # rolled back: nothing is encrypted to it
        raise


def write_configs(root: Path, request: RotationRequest) -> str | None:
    """A re-run begin step with every file already on both keys: put back what its
    configuration files lost since (the new key taken out of a ``.sops.yaml`` rule by hand, so
    that a file made with plain sops would be on the old key only), each written atomically
    under the write lock; committed when asked. The commit's sha, or None."""
    paths = [rel for rel, _ in request.config_writes]
    with repo_lock(root):
        # every target is checked (no link, inside the repository, clean) before any is
        # written, so a refusal changes nothing
        targets = [(check_write_target(root, rel), text) for rel, text in request.config_writes]
        if request.commit:
            git.refuse_unfinished(root)
        if not request.allow_dirty:
            refuse_dirty(root, paths)
        for target, text in targets:
            write_atomic(target, text)
        if not request.commit:
            return None
        message = f"secrets: {request.action}: {', '.join(paths)}\n\n{request.reason}\n"
        try:
            return git.commit(root, paths, message)
        except Exception as exc:
            raise RotatedNotCommittedError(
                f"updated {', '.join(paths)} but the commit failed: {failure_text(exc)}",
                hints=("the files are changed on disk; commit them yourself",),
            ) from exc


def _recorded(root: Path, new: str) -> bool:
    """Whether the repository on disk names ``new`` as the pending cluster key (the run wrote
    its files): then the key must be kept. When that cannot be read, it is kept too."""
    try:
        return load_settings(root).next_cluster_key == new
    except Exception:
        return True


def sops_config_paths(ctx: Inventory) -> list[str]:
    return sorted(f for f in ctx.all_files if Path(f).name == SOPS_CONFIG_NAME)


def edit_sops_configs(
    root: Path, ctx: Inventory, edit: Callable[[str, Path], str | None]
) -> tuple[tuple[str, str], ...]:
    """(path, new text) of every `.sops.yaml` the edit changes."""
    out = []
    for rel in sops_config_paths(ctx):
        text = read_optional(root / rel)
        changed = edit(text, root / rel) if text is not None else None
        if changed is not None:
            out.append((rel, changed))
    return tuple(out)


def finish_blockers(
    ctx: Inventory, new_only: Identity, entries: Sequence[SopsEntry] | None = None
) -> list[str]:
    """SOPS files (of ``entries``, default all) the new key alone cannot open (each would be
    lost at finish)."""
    blocked = []
    for entry in ctx.sops_files if entries is None else entries:
        sf = entry.sops_file
        if sf is None:
            blocked.append(entry.path)
            continue
        try:
            unwrap_data_key(sf.metadata, [new_only])
        except DecryptionError:
            blocked.append(entry.path)
    return blocked


@locked_writer
def finish(
    root: Path,
    *,
    identity: IdentitySet,
    env: Mapping[str, str],
    cluster: Callable[[], ClusterView] | None,
    reason: str = "",
    commit: bool = False,
    allow_dirty: bool = False,
    fault: FaultHook | None = None,
) -> StepResult:
    """Step two; see the module docstring. ``cluster`` reads the live cluster (after the local
    checks pass); None skips the cluster check (``--skip-cluster-check``)."""
    settings = load_settings(root)
    refuse_own_cluster_keys(settings)
    if settings.next_cluster_key is None or settings.cluster_key is None:
        raise RefusedError(
            "no cluster-key rotation is under way (no next_cluster_key in .secretsmgr.yaml)",
            hints=("start one with: secretsmgr key rotate --begin",),
        )
    old, new = settings.cluster_key, settings.next_cluster_key
    new_secret = secret_of(identity, new, "new cluster key")
    new_only = identity.only([new])
    ctx = load_inventory(root, env=env)
    scope = [e for e in ctx.sops_files if in_rotation(ctx, e, old)]
    unread = [e.path for e in scope if e.sops_file is None]
    if unread:
        # named as a SOPS file, with no sops metadata sops reads: a plaintext file (SM002), not
        # one on the old key (sweep A of stop 55: a plaintext Secret committed mid-rotation was
        # "readable only by the old key", and the hint's --begin refused it too)
        raise RefusedError(
            f"{unread[0]} is no SOPS file sops can read ({plural(len(unread), 'file')}): "
            "it is in plaintext, or its sops metadata is broken; nothing was changed",
            hints=(
                f"see what it is: secretsmgr check {sh_path(Path(unread[0]))}",
                f"a plaintext one: secretsmgr encrypt -i {sh_path(Path(unread[0]))}, commit it, "
                "then finish again",
            ),
        )
    blocked = finish_blockers(ctx, new_only, scope)
    if blocked:
        raise RefusedError(
            f"{blocked[0]} would be left readable only by the old key "
            f"({plural(len(blocked), 'file')} the new key cannot open)",
            hints=(
                "run secretsmgr key rotate --begin again, with both keys at hand (one identity "
                "file holding the old key's and the new key's lines, named by "
                "SOPS_AGE_KEY_FILE): it re-encrypts them to both keys",
            ),
        )
    configs = step_configs(
        root,
        ctx,
        settings_text(read_optional(root / SETTINGS_NAME), new, None),
        lambda text, path: switch(text, path, old, new),
    )
    if cluster is not None:
        check_cluster(root, new, cluster)
    result = rotate(
        root,
        RotationRequest(
            files=tuple(str(root / e.path) for e in scope),
            reason=reason or f"cluster key rotation: finish, now {short_key(new)} only",
            commit=commit,
            allow_dirty=allow_dirty,
            action="key-rotate-finish",
            cluster_keys=(new,),
            retire=(old,),  # even where it is an allowed recipient too
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
        **_left_alone(ctx, old),
    )
