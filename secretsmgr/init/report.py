"""What ``init`` did, or would do, for a person: keys, files, the changelog entry, what next.

Pure: an ``InitResult`` in, text out. Public keys are shown in full; a private key never is.
"""

from __future__ import annotations

from pathlib import Path

from secretsmgr.changelog.adopt import adopt_summary
from secretsmgr.init.model import NEW, ClusterKey, FileState, InitResult
from secretsmgr.plural import plural
from secretsmgr.shellword import sh_path, sh_word

_WRITES = frozenset({"create", "replace", "update", "adopt"})


def _cluster_line(key: ClusterKey, result: InitResult, dry_run: bool) -> str:
    name = f"cluster {key.cluster}" if key.cluster is not None else "cluster key"
    if key.source != NEW:
        return f"{name}: {key.public} (from {key.source})"
    if dry_run and result.plan.store is None:
        return f"{name}: a new age identity, with nowhere to keep it (see the error below)"
    if dry_run:
        return f"{name}: a new age identity, to be kept in {result.plan.store}"
    return f"{name}: {key.public} (new; its private key is in {result.stored_in})"


def next_steps(result: InitResult, output: Path | None) -> list[str]:
    """The numbered steps after a run: the Secret for Flux first."""
    plan = result.plan
    steps: list[str] = []
    keys = {k.public: k for k in plan.clusters}
    env = f"SOPS_AGE_KEY_FILE={sh_path(output)} " if output is not None and plan.new_keys else ""
    for public, key in keys.items():
        if key.source.startswith("cluster ("):
            steps.append("the cluster already holds its key (read from it with --from-cluster)")
            continue
        # A key init did not make may sit in a key file unmarked as a cluster key: export
        # sends it when the operator names it, so the step names it.
        new = key.source == NEW
        pick = f" --cluster-key {public}" if len(keys) > 1 or not new else ""
        if new and len(keys) > 1 and key.cluster:  # pinned as clusters.NAME.cluster_key
            pick = f" --cluster {sh_word(key.cluster)}"
        who = f" (cluster {key.cluster})" if len(keys) > 1 and key.cluster else ""
        give = "give Flux the new key" if new else "if the cluster lacks it, give Flux the key"
        steps.append(
            f"{give}{who}: {env}secretsmgr key export{pick} | kubectl apply -f -"
            f"  (or: {env}secretsmgr key export{pick} --apply)"
        )
    if plan.undecrypted:
        steps.append(
            "give these layers sops decryption (spec.decryption: {provider: sops, secretRef: "
            f"{{name: sops-age}}}}): {', '.join(plan.undecrypted)}"
        )
    steps += [
        "turn the hook on in this clone (before the first commit): pre-commit install",
        f"encrypt a secret: secretsmgr encrypt -i PATH/{plan.secret_name}  (.sops.yaml picks "
        "the keys)",
        "check, then commit: secretsmgr audit; git add -A; git commit",
    ]
    return [f"  {n}. {step}" for n, step in enumerate(steps, start=1)]


def render_init(result: InitResult, *, dry_run: bool, output: Path | None) -> str:
    """The whole report of a run."""
    plan = result.plan
    names = [k.cluster for k in plan.clusters if k.cluster is not None]
    where = f" ({', '.join(names)})" if names else ""
    lines = [
        f"secretsmgr init — {plural(len(plan.clusters), 'cluster')}{where}, "
        f"{plural(plan.layers, 'layer')}, {plural(plan.sops_files, 'SOPS file')}"
    ]
    lines += [_cluster_line(k, result, dry_run) for k in plan.clusters]
    rows = [(f.state.value, f.path, f.summary) for f in plan.files]
    # a dry run's row already says "would adopt"
    adopted = adopt_summary(plan.adopt, result.seq, dry_run=dry_run, verb=not dry_run)
    state = "adopt" if plan.adopt.entry is not None else FileState.UP_TO_DATE.value
    rows.append((state, plan.adopt.changelog, adopted))
    shown = [(f"would {s}" if dry_run and s in _WRITES else s, p, t) for s, p, t in rows]
    verb_width = max(len(r[0]) for r in shown)
    path_width = max(len(r[1]) for r in shown)
    lines += [f"  {s.ljust(verb_width)}  {p.ljust(path_width)}  {t}" for s, p, t in shown]
    lines += [f"note: {note}" for note in plan.notes]
    if dry_run:
        lines.append("nothing written (--dry-run)")
    elif not plan.changes:
        lines.append("nothing changed: the repository is already set up")
    else:
        lines += ["next:", *next_steps(result, output)]
    return "\n".join(lines) + "\n"
