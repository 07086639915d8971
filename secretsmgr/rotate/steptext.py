"""The summary ``key rotate`` prints after a step: public keys, counts and the next step."""

from __future__ import annotations

import os
from collections.abc import Sequence

from secretsmgr.keys.bech32 import short_key
from secretsmgr.plural import plural
from secretsmgr.repo.flux.objects import pgp_secret_name
from secretsmgr.rotate.clusterkey import StepResult
from secretsmgr.rotate.export import pgp_secret_export
from secretsmgr.shellword import sh_path, sh_word


def _listed(secrets: Sequence[tuple[str, str]]) -> str:
    """``ns/name, ns/name, ns/name and N more``."""
    shown = ", ".join(f"{ns}/{name}" for ns, name in secrets[:3])
    return shown + (f" and {len(secrets) - 3} more" if len(secrets) > 3 else "")


def _shown(paths: Sequence[str]) -> str:
    """``a, b, c and N more``, each path once."""
    unique = list(dict.fromkeys(paths))
    return ", ".join(unique[:3]) + (f" and {len(unique) - 3} more" if len(unique) > 3 else "")


def step_summary(
    result: StepResult,
    begin: bool,
    *,
    applied: bool = False,
    send: str | None = None,
    also: Sequence[tuple[str, str]] = (),
    named: tuple[str | None, str | None] = (None, None),
    beside: str = "the PGP key",
) -> str:
    """What a ``key rotate`` step did and what comes next, a line each (never a private key).

    ``send``: the command that sends the keys to a Secret named for PGP keys, beside its PGP
    key (or to one a Flux source reads credentials from, beside them: ``beside`` says which),
    when the step printed no manifest (one applied would have replaced it whole).
    ``also``: the other Secrets decrypting Kustomizations of this checkout read, which finish
    checks too (sweep 26, QNimbus/home-ops: twelve app namespaces' copies). ``named``: the
    ``--namespace`` and ``--secret`` given, which the finish line repeats (sweep 68,
    PatrickPedersen/prox-ops: begin needed them, and the pasted finish line was refused)."""
    rot = result.rotation
    logged = f"; changelog seq {rot.seq}" if rot is not None and rot.seq is not None else ""
    commit = f"; committed {rot.commit[:7]}" if rot is not None and rot.commit else ""
    committed = bool(rot is not None and rot.commit) or bool(result.commit)
    push = "push" if committed else "commit and push"
    lines = []
    whose = "cluster key" if result.cluster is None else f"key of cluster {result.cluster}"
    pending_in = (
        "next_cluster_key"
        if result.cluster is None
        else f"clusters.{result.cluster}.next_cluster_key"
    )
    if begin:
        if result.generated:
            lines.append(f"new {whose} {result.new_key} (stored in {result.stored_in})")
        else:
            lines.append(f"pending new {whose} {result.new_key} (from {pending_in})")
        lines.append(
            f"re-encrypted {plural(len(result.rewritten), 'file')} to "
            f"{short_key(result.old_key)} + {short_key(result.new_key)}{logged}{commit}"
        )
        if result.configs:
            done = f"; committed {result.commit[:7]}" if result.commit else ""
            lines.append(f"updated {', '.join(result.configs)}{done}")
        # sweep 31: "send the Secret" said not how; this output is its manifest
        how = (
            "" if applied else "send the Secret holding both keys (kubectl apply -f this output), "
        )
        if send is not None:
            how = f"send both keys beside {beside}: {send}; then "
        # --finish refuses until the begin commit is in what Flux applied (sweep 20: the
        # steps said push, never commit)
        finish = "secretsmgr key rotate --finish" + (
            f" --cluster {sh_word(result.cluster)}" if result.cluster else ""
        )
        if named[0] is not None:
            finish += f" --namespace {sh_word(named[0])}"
        if named[1] is not None:
            finish += f" --secret {sh_word(named[1])}"
        if (
            send is None  # else the step has the key file take the new key's lines first
            and result.generated
            and result.stored_in
            and os.path.isfile(result.stored_in)
        ):
            # finish needs the new key's private half, which -o wrote to no place identities
            # are read from (sweep 64: the pasted line failed "not found")
            finish = f"SOPS_AGE_KEY_FILE={sh_path(result.stored_in)} {finish}"
        lines.append(f"next: {how}{push}, let Flux apply it, then: {finish}")
        if also:
            # begin --apply sends both keys: both private halves at hand, in one identity file
            # (sweep 68: with either key file alone the pasted step was refused)
            lines.append(
                f"also: Kustomizations here decrypt with {_listed(also)}, which finish checks too: "
                "send both keys to each (secretsmgr key rotate --begin --apply --namespace NS "
                "--secret NAME, with SOPS_AGE_KEY_FILE naming one file that holds the old key's "
                "and the new key's lines), or let what makes those copies take the new key"
            )
    else:
        lines.append(
            # "only" read as if the allowed recipients went too (sweep 84, j0sh3rs/home-ops)
            f"re-encrypted {plural(len(result.rewritten), 'file')} to "
            f"{short_key(result.new_key)}, without {short_key(result.old_key)} (retired; any "
            f"allowed_recipients kept){logged}{commit}"
        )
        lines.append(f"updated {', '.join(result.configs)}")
        if applied:
            lines.append(f"next: {push}")
        elif send is not None:
            lines.append(
                f"next: send the new key beside {beside}, which also takes old.agekey and "
                f"new.agekey out of the Secret: {send}; then {push}"
            )
        else:
            lines.append(f"next: send the Secret holding only the new key, then {push}")
        plain = [pair for pair in also if not pgp_secret_name(pair[1])]
        if plain:
            # they still hold the retired key beside the new one (sweep 68: nothing said so)
            lines.append(
                f"also: {_listed(plain)} still {'holds' if len(plain) == 1 else 'hold'} the "
                "retired key: send each the new key alone "
                "(secretsmgr key export --namespace NS --name NAME)"
            )
        for ns, name in [pair for pair in also if pgp_secret_name(pair[1])]:
            # a Secret named for PGP keys keeps them: the new key goes beside them, never alone
            # (sweep 83, giantswarm/gitops-template: the line above, pasted with --apply,
            # would have dropped the PGP key Flux decrypts that layer's files with)
            lines.append(
                f"also: {ns}/{name} still holds the retired key: send the new key beside its PGP "
                f"key: {pgp_secret_export(ns, name, result.cluster)}"
            )
    shipped = [r.path for r in (rot.plan.regenerations if rot is not None else ()) if r.cluster_key]
    if shipped:
        # the repository's own copy of the key Secret: Flux applies it over what was sent
        # (sweep 89, rust84/k8s-gitops: it kept the retired key alone after finish)
        holds = "both keys until --finish" if begin else "the new key alone"
        many = len(set(shipped)) > 1
        lines.insert(
            2 if begin else 1,
            f"updated the key in {_shown(shipped)}, "
            + (
                f"key Secrets this repository ships to the cluster: each holds {holds}"
                if many
                else f"the key Secret this repository ships to the cluster: it holds {holds}"
            ),
        )
    if result.key_secrets_left:
        # a copy of the key Secret this rotation does not own (the second attack review of
        # stop 48: a bootstrap copy on an admin key kept the retired key)
        left = result.key_secrets_left
        verb = "holds" if len(left) == 1 else "hold"
        lines.append(
            f"also: {_shown(left)} {verb} a Secret named as Flux's key Secret, which this "
            "rotation leaves alone (it is not on the cluster key): applied, it sends the retired "
            "key: put the new key in its *.agekey entry yourself (secretsmgr set FILE KEY_PATH, "
            "the new key file on stdin, with an identity that opens it)"
        )
    if result.left:
        lines.insert(
            1 if begin else 0,
            f"left alone: {plural(len(result.left), 'file')} that never carried the {whose} "
            f"(outside Flux, or on PGP or KMS keys Flux decrypts with; e.g. {result.left[0]})",
        )
    return "\n".join(lines) + "\n"
