"""SM004 cluster-key-missing: a cluster that applies the file cannot open it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from secretsmgr.audit.context import AuditContext
from secretsmgr.audit.finding import Finding, Need, Rule, RuleId, Severity
from secretsmgr.keys.bech32 import is_post_quantum, short_key
from secretsmgr.repo.cloudkms import on_controller_kms
from secretsmgr.repo.inventory import ExpectedKeys
from secretsmgr.repo.pgpkeys import on_flux_pgp, repository_pgp_ids
from secretsmgr.repo.settings import SETTINGS_NAME
from secretsmgr.repo.sopsconfig import SOPS_CONFIG_NAME
from secretsmgr.repo.sopsentry import SopsEntry
from secretsmgr.shellword import sh_path
from secretsmgr.sops.tree import SeqNode


def _held(entry: SopsEntry) -> str:
    """What the file is encrypted to, for the message: ``age1abc…xyz, 1 pgp key``."""
    sf = entry.sops_file
    assert sf is not None
    parts = [short_key(r) for r in dict.fromkeys(sf.metadata.age_recipients)]
    for group in sf.metadata.key_groups:
        for name, value in group.foreign:
            count = len(value.items) if isinstance(value, SeqNode) else 1
            parts.append(f"{count} {name} key" + ("s" if count != 1 else ""))
    return ", ".join(parts) or "no key"


def _whose(group: ExpectedKeys, named: bool) -> str:
    shown = ", ".join(short_key(k) for k in group.keys)
    if named and group.cluster:
        return f"cluster {group.cluster}'s key ({shown})"
    return f"the cluster key ({shown})"


def check(ctx: AuditContext) -> Iterator[Finding]:
    """Files that some cluster applying them cannot decrypt: none of that cluster's keys is an
    age recipient (or, with several key groups, the groups it opens are below the threshold).

    A file no live layer applies (Talos, Ansible, …) needs no cluster key; in a repository
    without any Flux layer every file is judged against the repository's key when one is
    configured (``--cluster-key``, the environment, `.secretsmgr.yaml`, the live cluster), never
    against a key guessed from the `.sops.yaml` rules (SM011 compares files with their rules).
    """
    graph = ctx.repo.layers
    named = len(graph.clusters) > 1  # a one-cluster repository does not name its cluster
    repo_pgp = repository_pgp_ids(ctx.repo)
    # per (cluster, keys from .sops.yaml): the one key every file its layers apply is on instead
    files_key: dict[tuple[str | None, tuple[str, ...]], str | None] = {}
    for entry in ctx.repo.sops_files:
        sf = entry.sops_file
        if sf is None or (graph.layers and not graph.placements(entry.path)):
            continue
        if on_controller_kms(ctx.repo, entry):
            continue
        if on_flux_pgp(ctx.repo, entry, repo_pgp):
            # the repository's own PGP keys only, in layers that decrypt with a PGP Secret
            # (Flux's guide names it sops-gpg): the age cluster key is not the one they need
            # (init in a PGP repository turned every file into an SM004 error: sweep 18)
            continue
        groups = sf.metadata.key_groups
        threshold = sf.metadata.shamir_threshold or len(groups)
        missing: list[str] = []
        short: list[str] = []
        stale: tuple[ExpectedKeys, str] | None = None
        for expected in ctx.repo.expected_keys(entry):
            if not graph.layers and expected.source == SOPS_CONFIG_NAME:
                continue  # no Flux and no configured key: which key is the cluster's is a guess
            keys = set(expected.keys)
            if not keys & set(sf.metadata.age_recipients):
                missing.append(_whose(expected, named))
                if expected.source == SOPS_CONFIG_NAME and stale is None:
                    found = (expected.cluster, expected.keys)
                    if found not in files_key:
                        files_key[found] = ctx.repo.key_of_applied_files(*found)
                    other = files_key[found]
                    stale = (expected, other) if other is not None else None
            elif len(groups) > 1:
                opened = sum(1 for g in groups if keys & set(g.recipients))
                if opened < threshold:
                    short.append(
                        f"{_whose(expected, named)} opens {opened} of the {threshold} key groups"
                    )
        if missing and stale is not None and len(missing) == 1:
            expected, other = stale
            shown = ", ".join(short_key(k) for k in expected.keys)
            yield RULE.finding(
                entry.path,
                f"not encrypted to the key {SOPS_CONFIG_NAME} names ({shown}), and no SOPS file "
                f"the layers apply is: all are on {short_key(other)}; Flux cannot decrypt it "
                f"unless that is the key it holds (encrypted to {_held(entry)})",
                fix=f"if the cluster holds {other}, {SOPS_CONFIG_NAME} is out of date: pin that "
                f"key (cluster_key: {other} in {SETTINGS_NAME}) and name it in the rules of "
                f"{SOPS_CONFIG_NAME}; if it holds {expected.keys[0]}: "
                + _fix(ctx, entry, sf.metadata.foreign_kinds),
            )
        elif missing:
            yield RULE.finding(
                entry.path,
                f"not encrypted to {' nor '.join(missing)}: Flux cannot decrypt it "
                f"(encrypted to {_held(entry)})",
                fix=_fix(ctx, entry, sf.metadata.foreign_kinds),
            )
        elif short:
            yield RULE.finding(
                entry.path,
                "; ".join(short) + " needed: Flux cannot decrypt it",
                fix=_fix(ctx, entry, sf.metadata.foreign_kinds),
            )


def _fix(ctx: AuditContext, entry: SopsEntry, kinds: Sequence[str]) -> str:
    """``secretsmgr rotate``, unless the file holds keys only sops can wrap a data key for
    (``kinds``: pgp, KMS, Vault): then a holder of them syncs the file to its rule with sops."""
    keys = ctx.repo.cluster_keys_for(entry)
    if any(is_post_quantum(k) for k in keys):
        # pyrage cannot encrypt to a post-quantum recipient: rotate would refuse
        how = ctx.repo.sops_configs.updatekeys_hint(entry.path, kinds or ("age",), keys)
        return f"only sops encrypts to a post-quantum age key (age1pq1…); {how}"
    if not kinds:
        return f"secretsmgr rotate {sh_path(entry.path)}"
    how = ctx.repo.sops_configs.updatekeys_hint(entry.path, kinds, keys)
    return f"only sops wraps a data key for these keys; {how}"


RULE = Rule(
    id=RuleId("SM004"),
    name="cluster-key-missing",
    severity=Severity.ERROR,
    needs=frozenset({Need.CLUSTER_KEY}),
    summary="A cluster that applies the file is not among its age recipients",
    check=check,
)
