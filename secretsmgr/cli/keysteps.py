"""Plumbing of ``key rotate``: the step of one cluster's own key, the live cluster's view for
``--finish``, and the commands that send the Secret (hints)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from secretsmgr.cli.context import fault_hook, repo_root, warn
from secretsmgr.cli.options import ClusterChoice, label
from secretsmgr.shellword import sh_path, sh_word

if TYPE_CHECKING:
    import typer

    from secretsmgr.cluster.kube import ClusterKeys, SecretRef
    from secretsmgr.keys.sources import LayeredIdentity
    from secretsmgr.repo.settings import Settings
    from secretsmgr.rotate.clusterkey import IdentityStore, StepResult
    from secretsmgr.rotate.export import ExportedKey
    from secretsmgr.rotate.fluxcheck import ClusterView

SKIP_WARNING = (
    "--skip-cluster-check: not checking that the cluster holds the new key and that Flux has "
    "applied the begin commit; if it has not, Flux cannot decrypt after this finish"
)


def rotation_identities(
    settings: Settings, cluster: str | None, key: str | None, begin: bool
) -> LayeredIdentity:
    """The operator's identities for a key rotation; without any, the error says which key's
    private half it needs (sweep 31: only the usual sources were hinted). ``key``: the current
    cluster key given for --begin (else the pinned one), the pending key for --finish."""
    from secretsmgr.cli.context import load_identities
    from secretsmgr.errors import KeyNotFoundError
    from secretsmgr.keys.bech32 import short_key

    try:
        return load_identities()
    except KeyNotFoundError as exc:
        if begin and key is None:
            spec = settings.cluster(cluster) if cluster is not None else None
            key = spec.cluster_key if spec is not None else settings.cluster_key
        named = f" ({short_key(key)})" if key else ""
        which = "current" if begin else "new"
        need = (
            f"key rotate re-encrypts every file, so it needs the private half of the {which} "
            f"cluster key{named} at hand"
        )
        raise KeyNotFoundError(exc.message, hints=(need, *exc.hints)) from exc


def export_hint(
    choice: ClusterChoice,
    begin: bool = False,
    cluster: str | None = None,
    new_key_file: Path | None = None,
    add: bool = False,
) -> str:
    """The command that sends the Secret (``key export``, or ``key rotate --begin``) to it;
    ``key export`` with ``--add`` to a Secret named for PGP keys, which keeps its PGP key, or
    with ``add`` (a Secret a Flux source reads its credentials from).
    ``new_key_file``: where ``key rotate --begin -o`` put the new key, which export must read
    too (the review of sweep 22: the step failed, that file being no default source)."""
    from secretsmgr.repo.flux.objects import pgp_secret_name

    parts = ["secretsmgr key rotate --begin --apply" if begin else "secretsmgr key export --apply"]
    if cluster is not None:
        parts.append(f"--cluster {sh_word(cluster)}")
    if choice.namespace != "flux-system":
        parts.append(f"--namespace {choice.namespace}")
    if choice.secret != "sops-age":
        parts.append(f"{'--secret' if begin else '--name'} {choice.secret}")
    if choice.context is not None:
        parts.append(f"--context {choice.context}")
    if not begin and (add or pgp_secret_name(choice.secret)):
        parts.append("--add")
    command = " ".join(parts)
    if new_key_file is not None:
        command += (
            f", with the new key read too: {sh_path(str(new_key_file))} is no default key "
            "source, so first add its lines to the key file that holds the current key"
        )
    return command


@contextlib.contextmanager
def _key_hints(identity: LayeredIdentity) -> Iterator[None]:
    from secretsmgr.cli.files import with_key_hints
    from secretsmgr.errors import DecryptionError

    try:
        yield
    except DecryptionError as exc:
        raise with_key_hints(exc, identity) from None


def rotate_step(
    root: Path,
    cluster: str | None,
    begin: bool,
    choice: ClusterChoice,
    live: ClusterKeys | None,
    identity: LayeredIdentity,
    store: IdentityStore,
    *,
    cluster_key: str | None,
    reason: str,
    commit: bool,
    allow_dirty: bool,
    skip_cluster_check: bool,
) -> StepResult:
    """A step of ``key rotate``: of ``cluster_key``, or of one cluster's own key (``--cluster``).
    ``live``: the Secret read at begin (``--from-cluster``); finish reads the cluster itself,
    after its own checks, unless ``skip_cluster_check`` (then it warns). A file no identity at
    hand opens gets the hints ``rotate`` gives (sweep 42: begin said only that none opens it)."""
    with _key_hints(identity):
        from secretsmgr.rotate import clusterkey, clusterown

        fault = fault_hook()
        if begin:
            held = None
            if live is not None:
                hint = export_hint(choice, cluster=cluster)
                held = clusterkey.LiveCluster(live.publics, label(live), hint)
            if cluster is None:
                return clusterkey.begin(
                    root,
                    identity=identity,
                    store=store,
                    env=os.environ,
                    cluster_key=cluster_key,
                    live=held,
                    reason=reason,
                    commit=commit,
                    allow_dirty=allow_dirty,
                    fault=fault,
                )
            return clusterown.begin(
                root,
                cluster=cluster,
                identity=identity,
                store=store,
                env=os.environ,
                live=held,
                reason=reason,
                commit=commit,
                allow_dirty=allow_dirty,
                fault=fault,
            )
        if skip_cluster_check:
            warn(SKIP_WARNING)
        view = None if skip_cluster_check else lambda: cluster_view(choice, cluster)
        if cluster is None:
            return clusterkey.finish(
                root,
                identity=identity,
                env=os.environ,
                cluster=view,
                reason=reason,
                commit=commit,
                allow_dirty=allow_dirty,
                fault=fault,
            )
        return clusterown.finish(
            root,
            cluster=cluster,
            identity=identity,
            env=os.environ,
            check=view,
            reason=reason,
            commit=commit,
            allow_dirty=allow_dirty,
            fault=fault,
        )


_SKIP_FINISH = "secretsmgr key rotate --finish --skip-cluster-check"


def cluster_view(choice: ClusterChoice, cluster: str | None = None) -> ClusterView:
    """The live Secret's public keys and every Flux Kustomization, for --finish."""
    from secretsmgr.cluster.flux import list_kustomizations
    from secretsmgr.cluster.kube import SecretRef, read_cluster_keys
    from secretsmgr.errors import ClusterError
    from secretsmgr.rotate.fluxcheck import ClusterView, decrypting, secret_ref

    ref = choice.ref()
    try:
        keys = read_cluster_keys(ref, os.environ)
    except ClusterError as exc:
        # the way past a cluster it cannot read, as the refusals after the read say (two
        # helpers in sweeps 64 and 65 had only the KUBECONFIG hint)
        named = f" --cluster {sh_word(cluster)}" if cluster else ""
        exc.hints = (*exc.hints, f"or, having checked it yourself: {_SKIP_FINISH}{named}")
        raise
    found = list_kustomizations(choice.context, os.environ)
    served = found.items if found.version is not None else None
    mine = (ref.namespace, ref.name)
    others = {
        other: _publics_of(SecretRef(other[0], other[1], choice.context))
        for other in {secret_ref(k) for k in decrypting(served or ())} - {mine, None}
        if other is not None
    }
    hint = export_hint(choice, begin=True, cluster=cluster)
    return ClusterView(label(keys), keys.publics, served, hint, mine, others)


def _publics_of(ref: SecretRef) -> tuple[str, ...] | None:
    """The public keys of another Secret a Kustomization decrypts with; None when unreadable."""
    from secretsmgr.cluster.kube import read_cluster_keys
    from secretsmgr.errors import ClusterError

    try:
        return read_cluster_keys(ref, os.environ).publics
    except ClusterError:
        return None


def file_keys(ctx: typer.Context) -> list[str]:
    """The age keys the SOPS files of the repository are encrypted to, the most used first
    (none outside a repository, or where it cannot be read); where they are on none, the other
    kinds of keys they are on, as ``pgp:``, ``kms:`` … entries (sweep 37, a-mcf/k3s-gitops: a
    PGP repository was told to generate an age key, which opens none of its files)."""
    from secretsmgr.errors import SecretsmgrError
    from secretsmgr.keys.bech32 import is_age_recipient
    from secretsmgr.repo.inventory import load_inventory

    try:
        inv = load_inventory(repo_root(ctx))
    except (SecretsmgrError, OSError):
        return []
    counts: dict[str, int] = {}
    kinds: dict[str, None] = {}
    for entry in inv.sops_files:
        if entry.sops_file is not None:
            for key in entry.sops_file.metadata.age_recipients:
                if is_age_recipient(key):
                    counts[key] = counts.get(key, 0) + 1
            kinds.update(dict.fromkeys(entry.sops_file.metadata.foreign_kinds))
    if not counts:
        return [f"{kind}:" for kind in kinds]
    return sorted(counts, key=lambda k: -counts[k])


def no_key_hints(
    repository_key: bool, env: Mapping[str, str], on_files: list[str] | None = None
) -> tuple[str, ...]:
    """What ``key show`` suggests when no source holds an age key: where a key the repository
    names may be (``repository_key``), or the key its SOPS files are on (``on_files``: sweep
    26, Roxedus/Talos-BotBox has no .sops.yaml, and the hint was to generate a key that opens
    none of them), else how to make one, in the keyring or, with none here, in the default key
    file."""
    from secretsmgr.keys.bech32 import short_key
    from secretsmgr.keys.oskeyring import keyring_absent
    from secretsmgr.keys.sources import default_keys_file

    keys_file = default_keys_file(env)
    if repository_key:  # the repository has a key: its private half is somewhere else
        return (
            "a key file init -o or key rotate --begin -o wrote is not read by default: set "
            f"SOPS_AGE_KEY_FILE to it, or add its lines to {keys_file}",
            "or import it into the OS keyring: secretsmgr key import FILE",
        )
    if on_files and all(key.endswith(":") for key in on_files):
        kinds = " and ".join(key.rstrip(":") for key in on_files)
        return (
            f"the SOPS files here are on {kinds} keys, not age keys: sops opens them with those "
            "(a GnuPG key for pgp); an age key opens none of them until they are encrypted to "
            "it (secretsmgr init makes one and says how)",
        )
    if on_files:
        return (
            f"the SOPS files here are encrypted to {short_key(on_files[0])}: set "
            "SOPS_AGE_KEY_FILE to the file that holds its private key (whoever encrypted them "
            f"has it), or add its lines to {keys_file}",
            "or import it into the OS keyring: secretsmgr key import FILE",
        )
    if keyring_absent():
        # sweep 22: "key generate --keyring" failed when pasted where there is none
        if keys_file.exists():
            return (
                "generate one into a new file (there is no OS keyring here): secretsmgr key "
                "generate -o KEYFILE, then set SOPS_AGE_KEY_FILE to it",
            )
        return (
            "generate one into the default key file (there is no OS keyring here): "
            f"secretsmgr key generate -o {sh_path(str(keys_file))}",
        )
    return (
        "generate one: secretsmgr key generate --keyring",
        "or import a key file: secretsmgr key import FILE",
    )


def _target_options(named: tuple[str | None, str | None]) -> list[str]:
    """``--namespace N --secret S`` as given (sweep 93, tosih/home-ops: the hints dropped them,
    and pasted, begin asked which of eight Secrets again)."""
    namespace, secret = named
    given = [f"--namespace {sh_word(namespace)}"] if namespace else []
    return given + ([f"--secret {sh_word(secret)}"] if secret else [])


def keep_in_a_file(
    cluster: str | None,
    cluster_key: str | None,
    apply: bool,
    context: str | None,
    named: tuple[str | None, str | None] = (None, None),
) -> str:
    """The same begin with ``-o``, the options given kept (sweep 40: the hint dropped
    ``--cluster``, and pasted it was refused for a repository of two clusters)."""
    given = [f"--cluster {sh_word(cluster)}"] if cluster else []
    given += [f"--cluster-key {cluster_key}"] if cluster_key else []
    given += ["--apply"] if apply else []
    given += [f"--context {sh_word(context)}"] if context else []
    given += _target_options(named)
    command = " ".join(["secretsmgr key rotate --begin", *given])
    return f"keep it in a new file outside the repository instead: {command} -o {_NEXT_KEY_FILE}"


def begin_again(
    apply: bool,
    context: str | None,
    output: Path | None,
    named: tuple[str | None, str | None] = (None, None),
    cluster: str | None = None,
    commit: bool = False,
    reason: str = "",
    allow_dirty: bool = False,
) -> str:
    """``key rotate --begin`` with the options given (not ``--cluster-key``, which the hint
    adds), and ``-o`` where there is no OS keyring to keep the new key in (sweep A of stop 55:
    the hint left out the ``--commit`` and ``--reason`` the operator gave)."""
    from secretsmgr.keys.oskeyring import keyring_absent

    given = ["--apply"] if apply else []
    given += [f"--context {sh_word(context)}"] if context else []
    given += _target_options(named)
    given += [f"--cluster {sh_word(cluster)}"] if cluster else []
    given += ["--commit"] if commit else []
    given += [f"--reason {sh_word(reason)}"] if reason else []
    given += ["--allow-dirty"] if allow_dirty else []
    if output is not None:
        given.append(f"-o {sh_path(str(output))}")
    elif keyring_absent():
        given.append(f"-o {_NEXT_KEY_FILE}")
    return " ".join(["secretsmgr key rotate --begin", *given])


_NEXT_KEY_FILE = "~/.config/sops/age/next-cluster.agekey"


def warn_exported(root: Path, exported: Sequence[ExportedKey]) -> None:
    """Which private keys left, and why each one was taken; and a key whose private half a
    committed key file held (sweep 42: key export sent a key leaked in history without a
    word)."""
    from secretsmgr.init.keyleaks import leaked_keys
    from secretsmgr.keys.bech32 import short_key

    for key in exported:
        warn(f"exported the private key of {short_key(key.public)} ({key.named_by}) as {key.entry}")
    for leak in leaked_keys(root, [key.public for key in exported]):
        warn(
            f"the private half of {short_key(leak.public)} was committed ({leak.path}, in "
            f"{leak.commit[:12]}): whoever has a clone holds it; replace it with a key "
            "rotation (docs/key-rotation.md)"
        )


def refuse_replacing_credentials(root: Path, where: tuple[str, str]) -> None:
    """``UsageError`` for ``key export --apply`` without ``--add`` to a Secret a Flux source of
    the repository reads its credentials from (sweep 93, shangkuei/fluxcd: its layers decrypt
    with flux-system, the Secret of its Git deploy key; --apply alone replaces it whole)."""
    from secretsmgr.errors import UsageError
    from secretsmgr.rotate.export import credential_readers

    readers = credential_readers(root, *where)
    if readers:
        raise UsageError(
            f"{where[0]}/{where[1]} holds the credentials {' and '.join(readers)} reads: "
            "--apply alone would replace the Secret, and Flux could no longer use them",
            hints=("keep them and add the key beside them: --apply --add",),
        )


def kept_beside(root: Path, target: tuple[str, str]) -> str | None:
    """What a key rotation keeps beside the keys in the Secret ``target`` (never replaced
    whole): ``the PGP key`` of a Secret named for PGP keys, the credentials a Flux source reads
    from it (sweep 93); None for a Secret of keys alone."""
    from secretsmgr.repo.flux.objects import pgp_secret_name
    from secretsmgr.rotate.export import credential_readers

    readers = credential_readers(root, *target)
    if readers:
        return f"the credentials {' and '.join(readers)} reads"
    return "the PGP key" if pgp_secret_name(target[1]) else None


def rotate_summary(
    result: StepResult,
    begin: bool,
    choice: ClusterChoice,
    apply: bool,
    output: Path | None,
    beside: str | None,
    also: Sequence[tuple[str, str]],
    named: tuple[str | None, str | None],
) -> tuple[str, str | None]:
    """A key rotate step's summary, and the ``key export --apply --add`` that sends the keys
    beside what the Secret keeps (``beside``: ``kept_beside``) when no manifest is printed."""
    from secretsmgr.rotate.steptext import step_summary

    send = None
    if beside is not None and not apply:
        send = export_hint(choice, cluster=result.cluster, new_key_file=output, add=True)
    summary = step_summary(
        result, begin, applied=apply, send=send, also=also, named=named, beside=beside or ""
    )
    return summary, send
