"""``key …``: the operator's identities, the cluster's Secret, and cluster-key rotation.

Private keys go to exactly three places, each one asked for: the OS keyring, a file named with
``-o``, and the ``sops-age`` Secret manifest (stdout, with a warning, or the cluster itself with
``--apply``). Everything printed otherwise is a public key.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from secretsmgr.cli.context import note, out, recover_interrupted, repo_root, warn
from secretsmgr.cli.keysteps import (
    export_hint,
    kept_beside,
    refuse_replacing_credentials,
    rotate_step,
    rotate_summary,
    warn_exported,
)
from secretsmgr.cli.options import (
    ClusterChoice,
    ContextOpt,
    FromClusterOpt,
    NamespaceOpt,
    SecretOpt,
    TargetNameOpt,
    TargetNamespaceOpt,
    TargetSecretOpt,
    label,
)
from secretsmgr.init.keystore import new_key_store
from secretsmgr.keys.bech32 import short_key
from secretsmgr.plural import plural

if TYPE_CHECKING:
    from secretsmgr.keys.sources import LayeredIdentity
    from secretsmgr.rotate.clusterkey import StepResult
    from secretsmgr.rotate.export import ExportTarget

key_app = typer.Typer(
    help="Manage age keys: the OS keyring, the cluster's sops-age Secret, key rotation.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
)

ApplyOpt = Annotated[
    bool,
    typer.Option("--apply", help="Send the Secret to the cluster instead of printing it."),
]
PRIVATE_WARNING = (
    "the manifest on stdout holds a private key: apply it (kubectl apply -f -) and never commit it"
)
ClusterNameOpt = Annotated[
    str | None,
    typer.Option(
        "--cluster",
        help="The cluster (under clusters: in .secretsmgr.yaml) whose own key this is for; "
        "its clusters.NAME.context is the default --context.",
        metavar="NAME",
    ),
]


def _all_identities() -> LayeredIdentity:
    """Every identity source; the keyring is opened only for a key the others lack."""
    from secretsmgr.cli.context import load_identities

    return load_identities()


def _preflight(choice: ClusterChoice) -> None:
    """Before a step changes the repository, make sure its Secret can be sent afterwards."""
    from secretsmgr.cluster.kube import apply_secret

    apply_secret(choice.ref(), {"preflight.agekey": "# preflight\n"}, os.environ, dry_run=True)


def _emit_secret(
    entries: tuple[tuple[str, str], ...],
    choice: ClusterChoice,
    apply: bool,
    *,
    add: bool = False,
    rotating: bool = False,
    cluster: str | None = None,
) -> None:
    """Print the manifest (stdout, warning on stderr) or send it to the cluster; ``add``: keep
    the Secret's other entries (a PGP key), but not a finished rotation's ``old.agekey`` and
    ``new.agekey`` when the keys sent are neither (the retired key would stay beside the PGP
    key; sweep 22, FrederikS/homelab), unless a rotation is under way (``rotating``)."""
    from secretsmgr.keys.manifest import OVERLAP_ENTRIES, secret_manifest

    if not apply:
        from secretsmgr.repo.flux.objects import pgp_secret_name
        from secretsmgr.rotate.export import pgp_secret_export

        text = secret_manifest(choice.namespace, choice.secret, entries)
        if pgp_secret_name(choice.secret):
            # sweep 25, Stackclash/home-cluster: --name sops-gpg printed the age key alone
            # with "apply it", which replaces the Secret and the PGP key Flux decrypts with
            where = f"{choice.namespace}/{choice.secret}"
            warn(
                f"the manifest on stdout holds a private key, and only it: applied, it replaces "
                f"{where}, named for PGP keys, and any PGP key in it; to add the key beside "
                f"them: {pgp_secret_export(choice.namespace, choice.secret, cluster)}. Never "
                "commit it"
            )
        else:
            warn(PRIVATE_WARNING)
        out(text)
        return
    from secretsmgr.cluster.kube import apply_secret

    ref = choice.ref()
    sent = [name for name, _ in entries]
    drop = OVERLAP_ENTRIES if add and not rotating and not set(sent) & set(OVERLAP_ENTRIES) else ()
    done = apply_secret(ref, dict(entries), os.environ, keep_others=add, drop=drop)
    out(done.line(ref, sent, add))


# ----------------------------------------------------------------------------- commands


@key_app.command("generate")
def generate_cmd(
    ctx: typer.Context,
    keyring: Annotated[
        bool, typer.Option("--keyring", help="Store it in the OS keyring (the default).")
    ] = False,
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="Write it to a new file (mode 0600).", metavar="FILE"),
    ] = None,
) -> int:
    """Generate a cluster key (an age identity recorded as one); print only its public key."""
    from secretsmgr.errors import UsageError
    from secretsmgr.keys.stores import generate_cluster_key

    if keyring and output is not None:
        raise UsageError("--keyring and -o cannot be used together")
    public, where = generate_cluster_key(new_key_store(repo_root(ctx), output))
    out(f"{public}\n")  # stdout holds the public key only: $(secretsmgr key generate) works
    mode = " (mode 0600)" if output is not None else ""
    note(f"stored the new identity in {where}{mode}")
    return 0


@key_app.command("import")
def import_cmd(
    file: Annotated[
        Path,
        typer.Argument(help="A keys.txt-style identity file (passphrase-protected or not)."),
    ],
) -> int:
    """Copy the identities of FILE into the OS keyring (FILE is left in place)."""
    from secretsmgr.keys.stores import import_identities

    done = import_identities(file)
    lines = [f"{'imported' if new else 'already there'}  {public}" for public, new in done.rows]
    count = len(done.rows)
    lines.append(f"{plural(count, 'identity', 'identities')} from {file} in {done.keyring}")
    lines.append(f"{file} can now be deleted; secretsmgr leaves it in place")
    out("\n".join(lines) + "\n")
    return 0


@key_app.command("show")
def show_cmd(
    ctx: typer.Context,
    from_cluster: FromClusterOpt = False,
    context: ContextOpt = None,
    namespace: NamespaceOpt = "flux-system",
    secret: SecretOpt = "sops-age",
) -> int:
    """Print every public key found, each with its source (never a private key)."""
    from secretsmgr.errors import KeyNotFoundError
    from secretsmgr.keys.oskeyring import keyring_source
    from secretsmgr.keys.sources import describe_sources, standard_sources

    found, failure = describe_sources(standard_sources(os.environ, keyring_source))
    # ssh-rsa keys run to hundreds of characters: shown short (their .pub file has them)
    rows = [
        ("-", f"{row.source} ({row.public})")
        if row.is_note
        else (short_key(row.public) if row.public.startswith("ssh-") else row.public, row.source)
        for row in found
    ]
    live = ClusterChoice(from_cluster, context, namespace, secret).read()
    if live is not None:
        for entry, publics in live.entries:
            rows.extend((public, f"cluster ({label(live)}, entry {entry})") for public in publics)
    held = {row.public: row.is_cluster_key for row in found if not row.is_note}
    repo_lines = _repo_keys(ctx, held)
    if rows:
        width = max(len(p) for p, _ in rows)
        out("".join(f"{p.ljust(width)}  {s}\n" for p, s in rows))
    out("".join(repo_lines))
    if failure is not None:
        raise failure
    if all(p == "-" for p, _ in rows):
        from secretsmgr.cli.keysteps import file_keys, no_key_hints

        on_files = [] if repo_lines else file_keys(ctx)
        hints = no_key_hints(bool(repo_lines), os.environ, on_files)
        # "key" alone read as a contradiction after the cluster key's line above (sweeps 71
        # and 72): what no source holds is an identity, a private key
        what = "no age identity (private key)" if repo_lines else "no age key"
        raise KeyNotFoundError(f"{what} found in any source", hints=hints)
    return 0


def _repo_keys(ctx: typer.Context, held: dict[str, bool]) -> list[str]:
    """The repository's cluster key lines of ``key show`` (none outside a repository)."""
    from secretsmgr.errors import SecretsmgrError
    from secretsmgr.repo.repokeys import cluster_key_lines

    try:
        root = repo_root(ctx)
    except SecretsmgrError:
        return []
    return cluster_key_lines(root, os.environ, held)


@key_app.command("export")
def export_cmd(
    ctx: typer.Context,
    namespace: TargetNamespaceOpt = None,
    name: TargetNameOpt = None,
    apply: ApplyOpt = False,
    add: Annotated[
        bool,
        typer.Option(
            "--add",
            help="With --apply: keep the Secret's other entries (a PGP key in sops-gpg) "
            "instead of replacing it whole.",
        ),
    ] = False,
    context: ContextOpt = None,
    cluster_key: Annotated[
        str | None,
        typer.Option("--cluster-key", help="The cluster's age public key.", metavar="K"),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Export a key you named although the repository does not name it for the "
            "cluster, or its files are not encrypted to it; with --cluster NAME --apply, send "
            "it to a context that is another cluster's (Flux may be unable to decrypt).",
        ),
    ] = False,
    cluster: ClusterNameOpt = None,
) -> int:
    """The sops-age Secret with the cluster key(s) only: stdout, or the cluster with --apply."""
    from secretsmgr.errors import UsageError
    from secretsmgr.keys.manifest import check_names
    from secretsmgr.repo.settings import CLUSTER_KEY_ENV
    from secretsmgr.rotate.export import (
        check_named_key,
        export_cluster_keys,
        export_keys,
        secret_target,
    )

    check_names(namespace or "flux-system", name or "sops-age")
    if context is not None and not apply:
        raise UsageError("--context needs --apply")
    if add and not apply:
        raise UsageError(
            "--add needs --apply",
            hints=("a manifest cannot say which entries to keep: kubectl apply replaces them",),
        )
    if cluster is not None and cluster_key is not None:
        raise UsageError("--cluster and --cluster-key exclude each other")
    root = repo_root(ctx)
    if cluster is not None:
        exported, own_context = export_cluster_keys(root, _all_identities(), cluster)
        if apply and context is None:
            context = own_context
    else:
        exported = export_keys(root, _all_identities(), os.environ, cluster_key, warn)
    where = secret_target(root, namespace, name, cluster, name_option="--name", add=add)
    choice = ClusterChoice(False, context, *where)
    if apply and not add:
        refuse_replacing_credentials(root, where)
    if cluster is not None and apply:
        _refuse_other_cluster(root, cluster, choice, force=force)
    by_operator = [key for key in exported if key.named_by in ("--cluster-key", CLUSTER_KEY_ENV)]
    if by_operator:  # a key the operator named must be one Flux can decrypt this cluster with
        target = _export_target(choice) if apply else None
        for key in by_operator:
            check_named_key(
                root,
                os.environ,
                key.public,
                key.named_by,
                target,
                force=force,
                on_warn=warn,
            )
    from secretsmgr.repo.settings import load_settings

    pending = load_settings(root).pending_rotations if add and apply else ()
    rotating = any(name is None or name == cluster for name, _, _ in pending)
    entries = tuple((k.entry, k.text) for k in exported)
    _emit_secret(entries, choice, apply, add=add, rotating=rotating, cluster=cluster)
    warn_exported(root, exported)
    return 0


def _refuse_other_cluster(root: Path, cluster: str, choice: ClusterChoice, force: bool) -> None:
    """``--cluster NAME --apply``: refused (unless ``force``) when the target is another
    cluster of the repository, whose Secret NAME's keys would replace."""
    from secretsmgr.errors import RefusedError
    from secretsmgr.rotate.export import other_cluster_at

    target = _export_target(choice)
    problem = other_cluster_at(root, cluster, target, named=choice.context is not None)
    if problem is None:
        return
    where = f"context {target.context}: {choice.ref().label}"
    if force:
        warn(f"--force: sending cluster {cluster}'s key to {where} although {problem}")
        return
    raise RefusedError(
        f"refusing to send cluster {cluster}'s key to {where}: {problem}; in another cluster "
        "it would replace the key Flux decrypts with; nothing was changed",
        hints=(
            f"send it through cluster {cluster}'s context: --context CONTEXT, or pin it as "
            f"clusters.{cluster}.context in .secretsmgr.yaml",
        ),
    )


def _export_target(choice: ClusterChoice) -> ExportTarget:
    """The context the Secret goes to, and the keys the Secret there holds now (if readable)."""
    from secretsmgr.cluster.kube import read_cluster_keys
    from secretsmgr.cluster.session import open_session
    from secretsmgr.errors import ClusterError
    from secretsmgr.rotate.export import ExportTarget

    ref = choice.ref()
    try:
        live = read_cluster_keys(ref, os.environ)
    except ClusterError:  # no Secret yet (or unreadable: sending it will say why)
        with open_session(ref.context, os.environ) as session:
            return ExportTarget(session.context, None)
    return ExportTarget(live.context, live.publics)


@key_app.command("rotate")
def rotate_cmd(
    ctx: typer.Context,
    begin: Annotated[
        bool, typer.Option("--begin", help="Step 1: new key; every file to old + new key.")
    ] = False,
    finish: Annotated[
        bool, typer.Option("--finish", help="Step 2: every file to the new key only.")
    ] = False,
    apply: ApplyOpt = False,
    from_cluster: FromClusterOpt = False,
    context: ContextOpt = None,
    namespace: TargetNamespaceOpt = None,
    secret: TargetSecretOpt = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "-o",
            "--output",
            help="--begin: write the new identity to this new file instead of the keyring.",
            metavar="FILE",
        ),
    ] = None,
    cluster_key: Annotated[
        str | None,
        typer.Option("--cluster-key", help="The current cluster key (age1…).", metavar="K"),
    ] = None,
    reason: Annotated[str, typer.Option("--reason", help="Recorded in the changelog.")] = "",
    commit: Annotated[bool, typer.Option("--commit", help="Commit files and changelog.")] = False,
    allow_dirty: Annotated[
        bool, typer.Option("--allow-dirty", help="Proceed with uncommitted changes.")
    ] = False,
    skip_cluster_check: Annotated[
        bool,
        typer.Option(
            "--skip-cluster-check",
            help="--finish: do not check that the cluster holds the new key and that Flux "
            "applied the begin commit.",
        ),
    ] = False,
    cluster: ClusterNameOpt = None,
) -> int:
    """Replace the cluster key in two steps, with Flux able to decrypt throughout."""
    from secretsmgr.cli.keysteps import rotation_identities
    from secretsmgr.errors import SecretsmgrError, UsageError
    from secretsmgr.rotate.export import check_rotation_keys, other_secrets, secret_target

    if begin == finish:
        raise UsageError("give exactly one of --begin and --finish")
    if output is not None and not begin:
        raise UsageError("-o is for --begin (where the new identity goes)")
    if cluster_key is not None and not begin:
        raise UsageError(
            "--cluster-key is for --begin (finish takes the keys from .secretsmgr.yaml)"
        )
    if skip_cluster_check and begin:
        raise UsageError("--skip-cluster-check is for --finish")
    if cluster is not None and cluster_key is not None:
        raise UsageError(
            "--cluster-key is not for --cluster (the key is clusters.NAME.cluster_key)"
        )
    from secretsmgr.keys.manifest import check_names

    ClusterChoice(from_cluster, context, "flux-system", "sops-age").require_use(applying=True)
    # names the API server would refuse are refused before anything changes
    check_names(namespace or "flux-system", secret or "sops-age")
    root = repo_root(ctx)
    # a Secret named for PGP keys (sops-gpg) is never replaced whole: --apply adds the keys
    # beside its PGP key, and without it no manifest is printed (kubectl apply would drop the
    # PGP key), only the key export --apply --add that does (sweep 22, FrederikS/homelab)
    target = secret_target(root, namespace, secret, cluster, name_option="--secret", add=True)
    choice = ClusterChoice(from_cluster, context, *target)
    # a Secret holding a Flux source's credentials (a Git deploy key) is never replaced whole
    # either: the keys go beside them (sweep 93, shangkuei/fluxcd)
    beside = kept_beside(root, target)
    recover_interrupted(root)
    from secretsmgr.repo.settings import load_settings

    settings = load_settings(root)
    pending = settings.next_cluster_key
    if cluster is not None:
        from secretsmgr.rotate.clusterown import own_key

        own_key(settings, cluster)  # an unknown cluster, or one without a key of its own
        spec = settings.cluster(cluster)
        assert spec is not None
        pending = spec.next_cluster_key
        if context is None and spec.context:
            choice = replace(choice, context=spec.context)
    if begin and output is not None and pending is not None:
        raise UsageError(
            "-o: a rotation is under way, so no new identity is made "
            f"(the pending key is {short_key(pending)})"
        )
    identity = rotation_identities(settings, cluster, cluster_key if begin else pending, begin)
    from secretsmgr.cli.keysteps import begin_again

    step = (cluster, commit, reason, allow_dirty)
    again = begin_again(apply, context, output, (namespace, secret), *step) if begin else ""
    check_rotation_keys(
        root, identity, cluster_key, begin=begin, cluster=cluster, begin_command=again
    )
    live = choice.read() if begin else None  # finish reads the cluster after its own checks
    if apply:
        _preflight(choice)
        if cluster is not None:
            _refuse_other_cluster(root, cluster, choice, force=False)
    result: StepResult
    from secretsmgr.cli.keysteps import keep_in_a_file

    hint = keep_in_a_file(cluster, cluster_key, apply, context, (namespace, secret))
    store = new_key_store(root, output, "secretsmgr key rotate --begin", hint)
    result = rotate_step(
        root,
        cluster,
        begin,
        choice,
        live,
        identity,
        store,
        cluster_key=cluster_key,
        reason=reason,
        commit=commit,
        allow_dirty=allow_dirty,
        skip_cluster_check=skip_cluster_check,
    )
    also, named = other_secrets(root, target, cluster), (namespace, secret)
    summary, send = rotate_summary(result, begin, choice, apply, output, beside, also, named)
    if send is not None:  # no manifest: the summary says how the keys go beside the PGP key
        out(summary)
        return 0
    # Without --apply the manifest follows on stdout: the summary is YAML comments there, so
    # `secretsmgr key rotate --begin | kubectl apply -f -` works.
    out(summary if apply else "".join(f"# {line}\n" for line in summary.splitlines()))
    try:
        _emit_secret(result.entries, choice, apply, add=beside is not None)
    except SecretsmgrError as exc:
        raise type(exc)(
            f"the repository step is done, but sending the Secret failed: {exc.message}",
            hints=(
                *exc.hints,
                f"send it once that is fixed: {export_hint(choice, cluster=cluster)}",
            ),
        ) from exc
    return 0
