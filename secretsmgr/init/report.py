"""What ``init`` did, or would do, for a person: keys, files, the changelog entry, what next.

Pure: an ``InitResult`` in, text out. Public keys are shown in full; a private key never is.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

from secretsmgr.changelog.adopt import adopt_summary
from secretsmgr.init.model import NEW, ClusterKey, FileState, InitPlan, InitResult, KeptConfig
from secretsmgr.init.texts import HOOK_ID, PRE_COMMIT_NAME
from secretsmgr.keys.bech32 import short_key
from secretsmgr.plural import plural
from secretsmgr.repo.flux.objects import pgp_secret_name
from secretsmgr.repo.sopsconfig import SOPS_CONFIG_NAME
from secretsmgr.shellword import sh_path, sh_word

_WRITES = frozenset({"create", "replace", "update", "adopt"})


def _cluster_line(key: ClusterKey, result: InitResult, dry_run: bool) -> str:
    name = f"cluster {key.cluster}" if key.cluster is not None else "cluster key"
    if key.source != NEW:
        return f"{name}: {key.public} (from {key.source})"
    if dry_run and result.plan.store is None:
        return f"{name}: a new age identity, with nowhere to keep it here (see the note below)"
    if dry_run:
        return f"{name}: a new age identity, to be kept in {result.plan.store}"
    return f"{name}: {key.public} (new; its private key is in {result.stored_in})"


_DEFAULT_TARGET = ("flux-system", "sops-age")


def _export_step(plan: InitPlan, key: ClusterKey, keys: int, env: str) -> str:
    """Give Flux the key: one command per Secret its cluster's layers read."""
    new = key.source == NEW
    # A key init did not make may sit in a key file unmarked as a cluster key: export sends it
    # when the operator names it, so the step names it.
    pick = f" --cluster-key {key.public}" if keys > 1 or not new else ""
    if new and keys > 1 and key.cluster:  # pinned as clusters.NAME.cluster_key
        pick = f" --cluster {sh_word(key.cluster)}"
    who = f" (cluster {key.cluster})" if keys > 1 and key.cluster else ""
    sharing = [c.cluster for c in plan.clusters if c.public == key.public and c.cluster]
    if len(sharing) > 1:
        # sweep 22, bancey/lab-ops: three clusters on one key got one command, said once
        who = (
            f" (clusters {', '.join(sharing)} share it: once in each cluster's kubectl context, "
            "--context NAME with --apply)"
        )
    if not new and key.public not in plan.held:
        env = ""  # no identity at hand opens it: its holder runs the step (ergho, sweep 18)
        give = "if the cluster lacks it, a holder of its private key gives Flux the key"
    else:
        give = "give Flux the new key" if new else "if the cluster lacks it, give Flux the key"
    targets = plan.targets.get(key.cluster, ()) or (_DEFAULT_TARGET,)
    if key.cluster in plan.controller_key:
        # no layer names a Secret: kustomize-controller decrypts with its own keys (sweep 20,
        # JefeDavis/k8s-HomeOps: the step sent the key to flux-system/sops-age, read by nothing)
        if plan.controller_secret is None:
            return (
                f"{give}{who}: its layers decrypt with kustomize-controller's own keys "
                "(decryption names no secretRef), so no Secret is read for them: give the "
                "controller the flag --sops-age-secret=sops-age (a Secret in its namespace, "
                f"{plan.controller_namespace.get(key.cluster, 'flux-system')}), then "
                f"{env}secretsmgr key export{pick} --apply; or name it in "
                "each layer's decryption.secretRef (cloud KMS keys need neither)"
            )
        where = plan.controller_namespace.get(key.cluster, "flux-system")
        targets = ((where, plan.controller_secret),)
        give += " (the Secret kustomize-controller's --sops-age-secret flag names)"
    commands = []
    for namespace, name in targets:
        where = (
            ""
            if (namespace, name) == _DEFAULT_TARGET
            else (f" --namespace {sh_word(namespace)} --name {sh_word(name)}")
        )
        export = f"{env}secretsmgr key export{pick}{where}"
        readers = plan.source_secrets.get(f"{namespace}/{name}")
        if readers:
            # the Secret holds a Flux source's credentials (a Git deploy key): --apply alone
            # replaces it whole, and Flux could no longer fetch the repository (sweep 93,
            # shangkuei/fluxcd: its layers decrypt with flux-system)
            commands.append(
                f"{export} --apply --add  (--add keeps the credentials {' and '.join(readers)} "
                f"reads from {namespace}/{name})"
            )
        elif pgp_secret_name(name):
            # the Secret holds the PGP key Flux decrypts the other files with: add beside it
            # (kubectl apply or --apply alone would leave the age key only)
            commands.append(f"{export} --apply --add  (beside the PGP key in {namespace}/{name})")
        elif key.cluster in plan.pgp_clusters:
            # files on PGP keys: the Secret may hold one (the review: flux-sops did), so --add;
            # but nothing says it does (sweep 24, conlon/homelab: sops-age was made from an age
            # key file only, the GPG key in a sops-gpg Flux no longer reads)
            commands.append(
                f"{export} --apply --add  (--add keeps any other key {namespace}/{name} holds, "
                "such as a PGP key)"
            )
        elif keys > 1 and len(sharing) < 2:
            # Clusters with keys of their own: a pipe to kubectl applies in whichever context is
            # current, so pasting the next cluster's step there would replace this key and Flux
            # could no longer decrypt. --apply with the cluster's context refuses a context
            # pinned to another cluster, or whose Secret holds another cluster's key.
            commands.append(
                f"{export} --apply --context CONTEXT  (CONTEXT: the kubectl context of cluster "
                f"{key.cluster}; or pin it as clusters.{key.cluster}.context in .secretsmgr.yaml "
                "and leave --context out)"
            )
        else:
            commands.append(f"{export} | kubectl apply -f -  (or: {export} --apply)")
    if plan.off_key:
        # export refuses a key the files are not on (sweep 64: step 1 failed when pasted)
        give = (
            "once the files are on it (the note: secretsmgr rotate --all with an identity that "
            f"opens them; key export refuses it before), {give}"
        )
    if len(commands) > 2:  # one Secret per app namespace (rust84/k8s-gitops: 17, sweep 19)
        return f"{give}{who}, one Secret each:" + "".join(f"\n       {c}" for c in commands)
    return f"{give}{who}: " + "; and ".join(commands)


def _hook_step(plan: InitPlan) -> str:
    """How to add the hook to a kept `.pre-commit-config.yaml`: ``init --force`` only where it
    rewrites nothing else the run keeps (sweep 22, Jdavid77/home-cluster: the step sent the
    user to --force, which replaced a `.sops.yaml` of three rules with one)."""
    by_hand = f"add the {HOOK_ID} hook to the kept {PRE_COMMIT_NAME}"
    if not next(f for f in plan.files if f.path == PRE_COMMIT_NAME).forced:
        return f"{by_hand} by hand (README.md, Pre-commit and CI, has the lines)"
    rewritten = [f.path for f in plan.files if f.forced and f.path != PRE_COMMIT_NAME]
    if not rewritten:
        return f"{by_hand} (init --force adds it; see README.md)"
    return (
        f"{by_hand} by hand (README.md, Pre-commit and CI, has the lines; init --force would "
        f"add it but also rewrite {' and '.join(rewritten)})"
    )


def _encrypt_step(plan: InitPlan) -> str:
    # a new file no kustomization lists is applied by no layer (sweep 42: SM012 came as a
    # surprise after the step); a folder with none Flux builds whole (sweep 60: a user would
    # have made one that listed the new file alone)
    where = ""
    command = _encrypt_command(plan)
    if plan.decrypting_folders and "(PATH below" not in command:
        shown = ", ".join(plan.decrypting_folders[:3])
        more = " and others" if len(plan.decrypting_folders) > 3 else ""
        where = f" (PATH below a folder whose layer decrypts SOPS files: {shown}{more})"
    first = (
        f"give {plan.rule_encrypts_whole} encrypted_regex: ^(data|stringData)$ (with none, sops "
        "encrypts a Secret's apiVersion, kind and metadata too, which a layer that rewrites "
        "metadata cannot apply: SM015); then "
        if plan.rule_encrypts_whole
        else ""
    )
    return (
        f"{first}{command}{where}; then, if its folder has a kustomization.yaml, list "
        "it under resources: there, so a layer applies it"
    )


def _within(path: str, folder: str) -> bool:
    """Whether ``path`` is ``folder`` or below it (every path is below the root, ``""``)."""
    return not folder or path == folder or path.startswith(folder + "/")


def _encrypt_command(plan: InitPlan) -> str:
    if plan.rule_needs_sops:
        # sops needs a PGP key's public half in the keyring (sweep 39, janpuc/homelab: the
        # pasted step failed "key … is not available in keyring")
        why = (
            "with sops, which encrypts to the PGP (KMS, Vault) keys the rules name too (a PGP "
            "key's public half in your GnuPG keyring: gpg --import it first)"
            if plan.rule_needs_gpg
            # a rule that keeps the cloud KMS keys Flux decrypts with (sweep 84)
            else "with sops, which encrypts to the KMS or Vault keys the rules name too (with "
            "your credentials for them)"
        )
        nested = [k.path for k in plan.kept_configs if k.path != SOPS_CONFIG_NAME]
        # the root .sops.yaml is init's own, not kept: the rule is the nested one's
        kept_root = any(k.path == SOPS_CONFIG_NAME for k in plan.kept_configs)
        # a nested config over no folder whose layer decrypts is no place for a secret (sweep
        # 72, Benjaminmnoer/iac: cluster/.sops.yaml governs the flux-system layer alone, which
        # has no decryption, and the step put the new secret there: SM004 and SM010)
        governs = not plan.decrypting_folders or any(
            _within(f, posixpath.dirname(n)) or _within(posixpath.dirname(n), f)
            for n in nested
            for f in plan.decrypting_folders
        )
        if len(nested) == 1 and not kept_root and governs:
            # sops finds .sops.yaml from the current folder up, never from the file's (sweep
            # 36, luisgj/flux-sops: the step pasted at the root found no config)
            folder = posixpath.dirname(nested[0])
            return (
                f"encrypt a secret {why}, from the folder of {nested[0]} (sops reads "
                f".sops.yaml from the current folder up): (cd {sh_path(folder)} && sops "
                f"encrypt -i PATH/{plan.secret_name})  (PATH below {folder})"
            )
        if nested and governs:
            return (
                f"encrypt a secret {why}, from the folder of the .sops.yaml that governs it "
                f"(sops reads .sops.yaml from the current folder up): sops encrypt -i "
                f"PATH/{plan.secret_name}"
            )
        return f"encrypt a secret {why}: sops encrypt -i PATH/{plan.secret_name}"
    return (
        f"encrypt a secret: secretsmgr encrypt -i PATH/{plan.secret_name}  (.sops.yaml picks "
        "the keys)"
    )


def _kept_rules_step(kept: KeptConfig) -> str:
    """Where a new secret goes when no rule of a kept `.sops.yaml` matches one in the layers'
    folders it governs: beside the SOPS files its rules match, or a rule to add (sweep 22,
    tinoha/homelab: kubernetes/.sops.yaml matches */secrets/*.yaml only, and the step's
    PATH/secret.enc.yaml in a layer's folder was refused)."""
    lack = (
        f"no creation rule of the kept {kept.path} matches a new secret in the layers' folders "
        f"({kept.unmatched})"
    )
    force = (
        "init --force rewrites it with init's rules alone"
        if kept.path == SOPS_CONFIG_NAME
        else "init never rewrites it"
    )
    if kept.example is not None:
        return (
            f"{lack}: encrypt one where its rules expect secrets, e.g. secretsmgr encrypt -i "
            f"{sh_path(kept.example)}  (or add a rule for those folders to it; {force})"
        )
    rules = "; ".join(f"path_regex: '{regex}' with age: {keys}" for regex, keys in kept.rules)
    return (
        f"{lack}: add a rule for them after its own rules, e.g. {rules} ({force}), then: "
        f"secretsmgr encrypt -i {sh_path(kept.unmatched or '')}"
    )


_LISTED = 12  # layers a step names before "and N more"


def _some(labels: tuple[str, ...]) -> str:
    """``labels`` for one line: the first few, then how many more and where they are listed
    (sweep 94, soulwhisper/home-ops: 124 layers in one step)."""
    if len(labels) <= _LISTED:
        return ", ".join(labels)
    rest = len(labels) - _LISTED
    return f"{', '.join(labels[:_LISTED])} and {rest} more (secretsmgr layers --verbose lists them)"


def _no_decryption_step(
    cluster: str | None,
    labels: tuple[str, ...],
    bootstrap: bool,
    clusters: bool,
    elsewhere: tuple[str, ...] = (),
    spec: str = "{provider: sops, secretRef: {name: sops-age}}",
) -> str:
    """No layer of the cluster decrypts sops yet: the first secret would reach it encrypted."""
    which = f" of cluster {cluster}" if clusters and cluster else ""
    how = (
        " (for the Kustomizations flux bootstrap writes in gotk-sync.yaml, as a patches entry "
        "in the kustomization.yaml beside it: bootstrap rewrites gotk-sync.yaml)"
        if bootstrap
        else ""
    )
    step = (
        f"no layer{which} decrypts sops yet: give the layers that will apply secrets "
        f"spec.decryption {spec}{how}; the layers: " + _some(labels)
    )
    if elsewhere:
        # a secretRef is read in the Kustomization's own namespace (sweep 89, xunholy/anz-next-
        # demo-23: tenants' layers would have read a sops-age Secret nobody sent there)
        spaces = ", ".join(elsewhere[:4]) + (", …" if len(elsewhere) > 4 else "")
        named = re.search(r"secretRef: \{name: ([^}]+)\}", spec)
        secret = named.group(1) if named else "its Secret"
        which_cluster = f"--cluster {sh_word(cluster)} " if clusters and cluster else ""
        step += (
            f"; a layer in another namespace ({spaces}) reads {secret} from its own: send the "
            f"key there too (secretsmgr key export {which_cluster}--namespace NS --apply"
            + (", with the --context of the step that sends its key" if which_cluster else "")
            + ") for each layer that will apply secrets"
        )
    return step


def next_steps(result: InitResult, output: Path | None) -> list[str]:
    """The numbered steps after a run: the Secret for Flux first."""
    plan = result.plan
    steps: list[str] = []
    keys = {k.public: k for k in plan.clusters}
    env = f"SOPS_AGE_KEY_FILE={sh_path(output)} " if output is not None and plan.new_keys else ""
    for key in keys.values():
        if key.source.startswith("cluster ("):
            steps.append("the cluster already holds its key (read from it with --from-cluster)")
            continue
        steps.append(_export_step(plan, key, len(keys), env))
    specs: dict[str, list[str]] = {}
    for label, spec in plan.undecrypted:
        specs.setdefault(spec, []).append(label)
    for spec, labels in specs.items():
        steps.append(
            f"give these layers sops decryption (spec.decryption: {spec}): {', '.join(labels)}"
        )
    steps += [
        # several clusters, even on one key (sweep 39, xmikova/wac-gitops: "no layer decrypts"
        # while another cluster's layer did)
        _no_decryption_step(
            cluster,
            labels,
            bootstrap,
            len({k.cluster for k in plan.clusters}) > 1,
            elsewhere,
            plan.no_decryption_spec.get(cluster, "{provider: sops, secretRef: {name: sops-age}}"),
        )
        for cluster, labels, bootstrap, elsewhere in plan.no_decryption
        if not set(labels) & {label for label, _ in plan.undecrypted}
    ]
    states = {f.path: f.state for f in plan.files}
    for kept in plan.kept_configs:
        if kept.unnamed:  # encrypt finds no age key in the kept rules (adtennant: PGP keys only)
            force = (
                "; init --force rewrites the file with the cluster keys alone"
                if kept.path == SOPS_CONFIG_NAME
                else ""
            )
            steps.append(
                f"name the cluster key in the creation rules of the kept {kept.path} (age: "
                f"{', '.join(kept.unnamed)}, beside the keys they name{force})"
            )
    # a sweep helper pasted the step on a machine without pre-commit: say how to get it
    install = "" if plan.pre_commit_found else "pip install pre-commit; "
    if states.get(PRE_COMMIT_NAME) is FileState.KEPT:
        steps.append(
            f"{_hook_step(plan)}, then turn it on in this clone: {install}pre-commit install"
        )
    else:
        steps.append(
            f"turn the hook on in this clone (before the first commit): {install}pre-commit install"
        )
    unmatched = [k for k in plan.kept_configs if k.unmatched is not None]
    steps += [_kept_rules_step(k) for k in unmatched]
    # PATH/NAME in some layer's folder matches a rule (else only the steps above say where)
    # with no rule written nor kept, encrypt finds no keys (sweep 94, cmu-sei/Polar: its layers
    # read an OCI artifact; the note says to run init again once a layer reads a folder here)
    configs = [f for f in plan.files if posixpath.basename(f.path) == SOPS_CONFIG_NAME]
    none = all(f.state is FileState.NOT_WRITTEN for f in configs) and not plan.sops_config_found
    if not none and (
        not unmatched or plan.rules_written or len(unmatched) < len(plan.kept_configs)
    ):
        steps.append(_encrypt_step(plan))
    forced = f"git add -f {' '.join(sh_path(p) for p in plan.ignored)}; " if plan.ignored else ""
    steps.append(f"check, then commit: secretsmgr audit; git add -A; {forced}git commit")
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
        if plan.changes:
            # what the run would ask next (sweeps 71 and 72: a layer without decryption was
            # said only after the run)
            lines += ["next, once init has run:", *next_steps(result, output)]
        lines.append("nothing written (--dry-run)")
    elif not plan.changes:
        lines.append("nothing changed: the repository is already set up")
    else:
        lines += ["next:", *next_steps(result, output)]
    text = "\n".join(lines) + "\n"
    if dry_run:
        # a dry run's new key is thrown away: it names none that a pasted rule would encrypt
        # to (sweep 75, ryan4yin/k8s-gitops: two runs printed two keys in rules to paste)
        for key in plan.clusters:
            if key.source == NEW:
                stand_in = f"<new key of cluster {key.cluster}>" if key.cluster else "<new key>"
                text = text.replace(key.public, stand_in).replace(short_key(key.public), stand_in)
    return text
