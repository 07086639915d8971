"""``key …``: the operator's identities, the cluster's Secret, and cluster-key rotation.

Private keys go to exactly three places, each one asked for: the OS keyring, a file named with
``-o``, and the ``sops-age`` Secret manifest (stdout, with a warning, or the cluster itself with
``--apply``). Everything printed otherwise is a public key.
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from secretsmgr.cli.cluster_opts import (
    ClusterChoice,
    ContextOpt,
    FromClusterOpt,
    NamespaceOpt,
    SecretOpt,
    label,
)
from secretsmgr.cli.context import out, repo_root

if TYPE_CHECKING:
    from secretsmgr.keys.oskeyring import OsKeyring
    from secretsmgr.keys.sources import LayeredIdentity
    from secretsmgr.rotate.clusterkey import StepResult

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
    "secretsmgr: warning: the manifest on stdout holds a private key: "
    "apply it (kubectl apply -f -) and never commit it\n"
)


def _keyring() -> OsKeyring:
    from secretsmgr.keys.oskeyring import keyring_source

    return keyring_source()


def _write_identity_file(path: Path, secret: str, public: str) -> None:
    """A new ``keys.txt``-style file, mode 0600; an existing file is never overwritten."""
    from secretsmgr.errors import InputFileError, RefusedError

    if path.exists() or path.is_symlink():
        raise RefusedError(f"{path} exists; secretsmgr never overwrites a key file")
    created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    text = f"# created: {created}\n# public key: {public}\n{secret}\n"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise InputFileError(f"{path}: cannot write ({exc.strerror})") from exc
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


def _all_identities() -> LayeredIdentity:
    """Every identity source; the keyring is opened only for a key the others lack."""
    from secretsmgr.cli.context import load_identities

    return load_identities()


class _KeyringStore:
    """``key rotate --begin`` keeps the new identity in the OS keyring."""

    def __init__(self) -> None:
        self._keyring = _keyring()

    def store(self, secret: str) -> str:
        self._keyring.store(secret)
        return self._keyring.name

    def discard(self, public: str) -> None:
        self._keyring.delete(public)


class _FileStore:
    """... or in a new file given with ``-o``."""

    def __init__(self, path: Path) -> None:
        self._path = path

    def store(self, secret: str) -> str:
        from secretsmgr.keys.age import parse_identities

        public = parse_identities(secret, "the new identity").publics[0]
        _write_identity_file(self._path, secret, public)
        return str(self._path)

    def discard(self, public: str) -> None:
        self._path.unlink(missing_ok=True)


def _preflight(choice: ClusterChoice) -> None:
    """Before a step changes the repository, make sure its Secret can be sent afterwards."""
    from secretsmgr.cluster.kube import apply_secret

    apply_secret(choice.ref(), {"preflight.agekey": "# preflight\n"}, os.environ, dry_run=True)


def _export_hint(choice: ClusterChoice) -> str:
    parts = ["secretsmgr key export --apply"]
    if choice.namespace != "flux-system":
        parts.append(f"--namespace {choice.namespace}")
    if choice.secret != "sops-age":
        parts.append(f"--name {choice.secret}")
    if choice.context is not None:
        parts.append(f"--context {choice.context}")
    return " ".join(parts)


def _emit_secret(
    entries: tuple[tuple[str, str], ...],
    choice: ClusterChoice,
    apply: bool,
) -> None:
    """Print the manifest (stdout, warning on stderr) or send it to the cluster."""
    from secretsmgr.keys.manifest import secret_manifest

    if not apply:
        text = secret_manifest(choice.namespace, choice.secret, entries)
        sys.stderr.write(PRIVATE_WARNING)
        out(text)
        return
    from secretsmgr.cluster.kube import apply_secret

    ref = choice.ref()
    done = apply_secret(ref, dict(entries), os.environ)
    where = f"context {ref.context}" if ref.context else "the current context"
    names = ", ".join(name for name, _ in entries)
    out(f"{done} secret {ref.label} in {where} ({names})\n")


# ----------------------------------------------------------------------------- commands


@key_app.command("generate")
def generate_cmd(
    keyring: Annotated[
        bool, typer.Option("--keyring", help="Store it in the OS keyring (the default).")
    ] = False,
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="Write it to a new file (mode 0600).", metavar="FILE"),
    ] = None,
) -> int:
    """Generate an age identity; print only its public key."""
    from secretsmgr.errors import UsageError
    from secretsmgr.keys.age import generate_identity

    if keyring and output is not None:
        raise UsageError("--keyring and -o cannot be used together")
    secret, public = generate_identity()
    if output is not None:
        _write_identity_file(output, secret, public)
        where = f"{output} (mode 0600)"
    else:
        store = _keyring()
        store.store(secret)
        where = store.name
    out(f"{public}\n")  # stdout holds the public key only: $(secretsmgr key generate) works
    if sys.stderr.isatty():
        sys.stderr.write(f"secretsmgr: stored the new identity in {where}\n")
    return 0


@key_app.command("import")
def import_cmd(
    file: Annotated[Path, typer.Argument(help="A keys.txt-style identity file.")],
) -> int:
    """Copy the identities of FILE into the OS keyring (FILE is left in place)."""
    from secretsmgr.errors import KeyNotFoundError
    from secretsmgr.fsutil import read_text
    from secretsmgr.keys.age import parse_identities

    identity = parse_identities(read_text(file), str(file))
    if not identity.publics:
        raise KeyNotFoundError(f"{file}: holds no AGE-SECRET-KEY-1… identity")
    store = _keyring()
    lines = []
    for public in identity.publics:
        secret = identity.secret_for(public)
        assert secret is not None
        _, new = store.store(secret)
        lines.append(f"{'imported' if new else 'already there'}  {public}")
    count = len(identity.publics)
    lines.append(
        f"{count} {'identity' if count == 1 else 'identities'} from {file} in {store.name}"
    )
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
    from secretsmgr.errors import KeyNotFoundError, SecretsmgrError
    from secretsmgr.keys.sources import resolve_identities, standard_sources

    rows: list[tuple[str, str]] = []
    failure: SecretsmgrError | None = None
    sources = standard_sources(os.environ, _keyring)
    for source in sources:
        try:
            got = resolve_identities([source])
        except SecretsmgrError as exc:
            failure = failure or exc
            continue
        for name, publics in got.by_source:
            rows.extend((public, name) for public in publics)
    live = ClusterChoice(from_cluster, context, namespace, secret).read()
    if live is not None:
        for entry, publics in live.entries:
            rows.extend((public, f"cluster ({label(live)}, entry {entry})") for public in publics)
    held = {public for public, source in rows if not source.startswith("cluster (")}
    repo_lines = _repo_keys(ctx, held)
    if rows:
        width = max(len(p) for p, _ in rows)
        out("".join(f"{p.ljust(width)}  {s}\n" for p, s in rows))
    out("".join(repo_lines))
    if failure is not None:
        raise failure
    if not rows:
        raise KeyNotFoundError(
            "no age key found in any source",
            hints=(
                "generate one: secretsmgr key generate --keyring",
                "or import a key file: secretsmgr key import FILE",
            ),
        )
    return 0


def _repo_keys(ctx: typer.Context, held: set[str]) -> list[str]:
    """The repository's cluster key(s) and whether a private half was found for each."""
    from secretsmgr.errors import SecretsmgrError
    from secretsmgr.repo.settings import load_settings

    try:
        settings = load_settings(repo_root(ctx))
    except SecretsmgrError:
        return []
    lines = []
    for what, key in (
        ("cluster key", settings.cluster_key),
        ("next cluster key", settings.next_cluster_key),
    ):
        if key is not None:
            state = "private half found" if key in held else "no private half here"
            lines.append(f"{what} (.secretsmgr.yaml): {key}  {state}\n")
    return lines


@key_app.command("export")
def export_cmd(
    ctx: typer.Context,
    namespace: Annotated[
        str, typer.Option("--namespace", help="Namespace of the Secret.", metavar="N")
    ] = "flux-system",
    name: Annotated[str, typer.Option("--name", help="Name of the Secret.", metavar="S")] = (
        "sops-age"
    ),
    apply: ApplyOpt = False,
    context: ContextOpt = None,
    cluster_key: Annotated[
        str | None,
        typer.Option("--cluster-key", help="The cluster's age public key.", metavar="K"),
    ] = None,
) -> int:
    """The sops-age Secret with the cluster key(s) only: stdout, or the cluster with --apply."""
    from secretsmgr.errors import KeyNotFoundError, UsageError
    from secretsmgr.keys.manifest import check_names, entry_text
    from secretsmgr.repo.settings import load_settings, resolve_cluster_key

    check_names(namespace, name)
    if context is not None and not apply:
        raise UsageError("--context needs --apply")
    root = repo_root(ctx)
    settings = load_settings(root)
    if cluster_key is None and settings.next_cluster_key is not None:
        keys: tuple[str, ...] = (settings.cluster_key or "", settings.next_cluster_key)
        names: tuple[str, ...] = ("old.agekey", "new.agekey")
    else:
        resolved = resolve_cluster_key(cluster_key, os.environ, settings, ())
        if resolved is None:
            raise KeyNotFoundError(
                "no cluster key is known for this repository",
                hints=("set cluster_key in .secretsmgr.yaml, or pass --cluster-key age1…",),
            )
        keys, _source = resolved
        count = len(keys)
        names = ("age.agekey",) if count == 1 else tuple(f"key{i}.agekey" for i in range(count))
    identity = _all_identities()
    entries = []
    for entry_name, public in zip(names, keys, strict=True):
        secret = identity.secret_for(public)
        if secret is None:
            raise KeyNotFoundError(
                f"the private half of the cluster key {public[:12]}… was not found",
                hints=(
                    "import it: secretsmgr key import FILE, or set SOPS_AGE_KEY_FILE",
                    "secretsmgr key show lists the keys found and where",
                ),
            )
        entries.append((entry_name, entry_text(secret, public)))
    _emit_secret(tuple(entries), ClusterChoice(False, context, namespace, name), apply)
    return 0


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
    namespace: NamespaceOpt = "flux-system",
    secret: SecretOpt = "sops-age",
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
) -> int:
    """Replace the cluster key in two steps, with Flux able to decrypt throughout."""
    from secretsmgr.errors import RefusedError, SecretsmgrError, UsageError
    from secretsmgr.rotate import clusterkey
    from secretsmgr.rotate.faults import fault_hook
    from secretsmgr.rotate.journal import recover

    if begin == finish:
        raise UsageError("give exactly one of --begin and --finish")
    if output is not None and not begin:
        raise UsageError("-o is for --begin (where the new identity goes)")
    choice = ClusterChoice(from_cluster, context, namespace, secret)
    choice.require_use(applying=True)
    choice.ref()  # names the API server would refuse are refused before anything changes
    root = repo_root(ctx)
    recovered = recover(root).message
    if recovered:
        sys.stderr.write(f"secretsmgr: {recovered}\n")
    from secretsmgr.repo.settings import load_settings

    settings = load_settings(root)
    if begin and output is not None and settings.next_cluster_key is not None:
        raise UsageError(
            "-o: a rotation is under way, so no new identity is made "
            f"(next_cluster_key is {settings.next_cluster_key[:12]}…)"
        )
    identity = _all_identities()
    live = choice.read()
    if apply:
        _preflight(choice)
    result: StepResult
    if begin:
        if live is not None:
            current = cluster_key or settings.cluster_key
            if current is not None and current not in live.publics:
                raise RefusedError(
                    f"the cluster ({label(live)}) does not hold the current cluster key "
                    f"{current[:12]}…",
                    hints=(f"fix that first: {_export_hint(choice)}",),
                )
        store = _FileStore(output) if output is not None else _KeyringStore()
        result = clusterkey.begin(
            root,
            identity=identity,
            store=store,
            env=os.environ,
            cluster_key=cluster_key,
            reason=reason,
            commit=commit,
            allow_dirty=allow_dirty,
            fault=fault_hook(),
        )
    else:
        result = clusterkey.finish(
            root,
            identity=identity,
            env=os.environ,
            cluster_publics=live.publics if live is not None else None,
            reason=reason,
            commit=commit,
            allow_dirty=allow_dirty,
            fault=fault_hook(),
        )
    summary = _summary(result, begin)
    # Without --apply the manifest follows on stdout: the summary is YAML comments there, so
    # `secretsmgr key rotate --begin | kubectl apply -f -` works.
    out(summary if apply else "".join(f"# {line}\n" for line in summary.splitlines()))
    try:
        _emit_secret(result.entries, choice, apply)
    except SecretsmgrError as exc:
        raise type(exc)(
            f"the repository step is done, but sending the Secret failed: {exc.message}",
            hints=(*exc.hints, f"send it once that is fixed: {_export_hint(choice)}"),
        ) from exc
    return 0


def _summary(result: StepResult, begin: bool) -> str:
    from secretsmgr.rotate.clusterkey import short

    rot = result.rotation
    logged = f"; changelog seq {rot.seq}" if rot is not None and rot.seq is not None else ""
    commit = f"; committed {rot.commit[:7]}" if rot is not None and rot.commit else ""
    lines = []
    if begin:
        if result.generated:
            lines.append(f"new cluster key {result.new_key} (stored in {result.stored_in})")
        else:
            lines.append(f"pending new cluster key {result.new_key} (from next_cluster_key)")
        lines.append(
            f"re-encrypted {len(result.rewritten)} files to {short(result.old_key)} + "
            f"{short(result.new_key)}{logged}{commit}"
        )
        lines.append(
            "next: send the Secret holding both keys, then: secretsmgr key rotate --finish"
        )
    else:
        lines.append(
            f"re-encrypted {len(result.rewritten)} files to {short(result.new_key)} only; "
            f"{short(result.old_key)} retired{logged}{commit}"
        )
        lines.append(f"updated {', '.join(result.configs)}")
        lines.append("next: send the Secret holding only the new key")
    return "\n".join(lines) + "\n"
