"""``init``: set up an existing Flux repository; ``log --adopt``: start the changelog late."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from secretsmgr.cli.cluster_opts import ContextOpt, FromClusterOpt, NamespaceOpt, SecretOpt
from secretsmgr.cli.context import out, repo_root

if TYPE_CHECKING:
    from secretsmgr.changelog.adopt import AdoptPlan
    from secretsmgr.init.workflow import ClusterKey, InitPlan, InitResult
    from secretsmgr.keys.protocols import Identity


def identities_at_hand() -> list[Identity]:
    """Every identity the contract's sources hold, or none: adopting never needs one, it only
    records ``datakey_id`` for the files they open. A locked keyring is passed over."""
    from secretsmgr.errors import KeyNotFoundError
    from secretsmgr.keys.oskeyring import keyring_source
    from secretsmgr.keys.sources import layered_identities

    layered = layered_identities(os.environ, keyring_source())
    try:
        return [layered.complete()]
    except KeyNotFoundError:
        return [layered_identities(os.environ, None).complete()]


def adopted_line(plan: AdoptPlan, seq: int | None, *, dry_run: bool = False) -> str:
    """``adopted 5 SOPS files (changelog seq 1) …`` or why nothing was recorded."""
    from secretsmgr.report._shared import plural

    if plan.entry is None:
        return "nothing to adopt: every SOPS file's state has a changelog entry"
    count = plural(len(plan.files), "SOPS file")
    where = f"changelog seq {seq}" if seq is not None else f"{plan.changelog}, seq {plan.entry.seq}"
    verb = "would adopt" if dry_run else "adopted"
    line = f"{verb} {count} as they are ({where}); nothing re-encrypted"
    if plan.unopened:
        line += (
            f"; {plural(len(plan.unopened), 'file')} without a datakey_id "
            "(no identity at hand opens them)"
        )
    return line


def adopt_cmd(root: Path, reason: str, *, adopt: bool, others: bool) -> int:
    """``log --adopt --reason TEXT``."""
    from secretsmgr.changelog.adopt import adopt as adopt_files
    from secretsmgr.errors import UsageError

    if not adopt:
        raise UsageError("--reason goes with --adopt")
    if others:
        raise UsageError("--adopt cannot be combined with --layer or --verify")
    plan = adopt_files(root, reason, identities_at_hand(), env=os.environ)
    seq = plan.entry.seq if plan.entry is not None else None
    out(adopted_line(plan, seq) + "\n")
    return 0


def _cluster_line(key: ClusterKey, plan: InitPlan, result: InitResult, dry_run: bool) -> str:
    from secretsmgr.init.workflow import NEW

    name = f"cluster {key.cluster}" if key.cluster is not None else "cluster key"
    if key.source != NEW:
        return f"{name}: {key.public} (from {key.source})"
    if dry_run:
        return f"{name}: a new age identity, to be kept in {plan.store}"
    return f"{name}: {key.public} (new; its private key is in {result.stored_in})"


def _next_steps(result: InitResult, output: Path | None) -> list[str]:
    from secretsmgr.init.workflow import NEW

    plan = result.plan
    steps: list[str] = []
    keys = {k.public: k for k in plan.clusters}
    env = f"SOPS_AGE_KEY_FILE={output} " if output is not None and plan.new_keys else ""
    for public, key in keys.items():
        if key.source.startswith("cluster ("):
            steps.append("the cluster already holds its key (read from it with --from-cluster)")
            continue
        pick = f" --cluster-key {public}" if len(keys) > 1 else ""
        who = f" (cluster {key.cluster})" if len(keys) > 1 and key.cluster else ""
        made = " new" if key.source == NEW else ""
        steps.append(
            f"give Flux the{made} key{who}: {env}secretsmgr key export{pick} | kubectl apply -f -"
            f"  (or: {env}secretsmgr key export{pick} --apply)"
        )
    if plan.undecrypted:
        steps.append(
            "give these layers sops decryption (spec.decryption: {provider: sops, secretRef: "
            f"{{name: sops-age}}}}): {', '.join(plan.undecrypted)}"
        )
    steps += [
        "encrypt a secret: secretsmgr encrypt -i PATH/secret.enc.yaml  (.sops.yaml picks the keys)",
        "check, then commit: secretsmgr audit; git add -A; git commit",
        "turn the hook on in this clone: pre-commit install",
    ]
    return [f"  {n}. {step}" for n, step in enumerate(steps, start=1)]


def render_init(result: InitResult, *, dry_run: bool, output: Path | None) -> str:
    """What ``init`` did (or would do): keys, files, the changelog entry, then what next."""
    from secretsmgr.init.workflow import FileState
    from secretsmgr.report._shared import plural

    plan = result.plan
    names = [k.cluster for k in plan.clusters if k.cluster is not None]
    where = f" ({', '.join(names)})" if names else ""
    lines = [
        f"secretsmgr init — {plural(len(plan.clusters), 'cluster')}{where}, "
        f"{plural(plan.layers, 'layer')}, {plural(plan.sops_files, 'SOPS file')}"
    ]
    lines += [_cluster_line(k, plan, result, dry_run) for k in plan.clusters]
    rows = [(f.state.value, f.path, f.summary) for f in plan.files]
    if plan.adopt.entry is not None:
        rows.append(
            ("adopt", plan.adopt.changelog, adopted_line(plan.adopt, result.seq, dry_run=dry_run))
        )
    else:
        rows.append(
            (FileState.UP_TO_DATE.value, plan.adopt.changelog, adopted_line(plan.adopt, None))
        )
    verb_width = max(len(r[0]) for r in rows) + (6 if dry_run else 0)
    path_width = max(len(r[1]) for r in rows)
    for state, path, summary in rows:
        writes = state in ("create", "replace", "update", "adopt")
        shown = f"would {state}" if dry_run and writes else state
        lines.append(f"  {shown.ljust(verb_width)}  {path.ljust(path_width)}  {summary}")
    lines += [f"note: {note}" for note in plan.notes]
    if dry_run:
        lines.append("nothing written (--dry-run)")
    elif not plan.changes:
        lines.append("nothing changed: the repository is already set up")
    else:
        lines += ["next:", *_next_steps(result, output)]
    return "\n".join(lines) + "\n"


def init_cmd(
    ctx: typer.Context,
    cluster_key: Annotated[
        str | None,
        typer.Option(
            "--cluster-key", help="Use this age public key as the cluster key.", metavar="K"
        ),
    ] = None,
    from_cluster: FromClusterOpt = False,
    context: ContextOpt = None,
    namespace: NamespaceOpt = "flux-system",
    secret: SecretOpt = "sops-age",
    keyring: Annotated[
        bool, typer.Option("--keyring", help="Keep a new cluster key in the OS keyring (default).")
    ] = False,
    output: Annotated[
        Path | None,
        typer.Option(
            "-o",
            "--output",
            help="Keep a new cluster key in this new file (mode 0600) instead.",
            metavar="FILE",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be written; write nothing.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Rewrite .sops.yaml and .secretsmgr.yaml if they exist.")
    ] = False,
) -> int:
    """Set up an existing Flux repository: cluster key, .sops.yaml, .secretsmgr.yaml, hook."""
    from secretsmgr.cli.cluster_opts import ClusterChoice, label
    from secretsmgr.errors import UsageError
    from secretsmgr.init.workflow import InitOptions, init
    from secretsmgr.repo.inventory import LiveKeys

    if cluster_key is not None and from_cluster:
        raise UsageError("--cluster-key and --from-cluster cannot be used together")
    if keyring and output is not None:
        raise UsageError("--keyring and -o cannot be used together")
    choice = ClusterChoice(from_cluster, context, namespace, secret)
    choice.require_use()
    keys = choice.read()
    live = LiveKeys(label(keys), keys.publics) if keys is not None else None
    result = init(
        repo_root(ctx),
        InitOptions(cluster_key, live, output, force),
        identities_at_hand(),
        env=os.environ,
        dry_run=dry_run,
    )
    out(render_init(result, dry_run=dry_run, output=output))
    return 0
