"""The ``spec.decryption`` a layer that applies SOPS files without one should get: what its
cluster's decrypting layers use, else the repository's, else one for the keys the files are
on. SM010's fix and ``init``'s step say the same."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from secretsmgr.repo.flux import Layer
from secretsmgr.repo.sopsentry import SopsEntry


def decryption_text(
    layers: Sequence[Layer],
    bad: Layer,
    kinds: frozenset[str],
    controller_secrets: Sequence[str] = (),
) -> str:
    """The ``spec.decryption`` to add to ``bad``: the one its cluster's decrypting layers use
    (``sops-gpg``, ``sops-keys``), else the repository's, else one for the file's keys
    (``kinds``: ``sops-age`` when an age key opens it, ``sops-gpg`` for PGP keys only, no
    secretRef for cloud KMS keys only, which the controller's own identity opens). An age file
    in a repository that gives kustomize-controller ``--sops-age-secret`` needs no secretRef
    (sweep 77, coolguy1771/home-ops: the fix said to export a key to the app's namespace)."""
    for pool in ([x for x in layers if x.cluster == bad.cluster], layers):
        refs = Counter(
            x.decryption.secret_ref or ""
            for x in pool
            if x.decryption is not None and x.decryption.is_sops
        )
        if refs:
            ref = refs.most_common(1)[0][0]
            if not ref:
                return "{provider: sops}"
            return f"{{provider: sops, secretRef: {{name: {ref}}}}}"
    if ("age" in kinds or not kinds) and controller_secrets:
        return (
            "{provider: sops} (kustomize-controller's --sops-age-secret flag names "
            f"{controller_secrets[0]}, which holds the key)"
        )
    if "age" in kinds or not kinds:
        return "{provider: sops, secretRef: {name: sops-age}}"
    if "pgp" in kinds:  # kustomize-controller reads PGP keys from the Secret's *.asc entries
        return "{provider: sops, secretRef: {name: sops-gpg}} (the PGP private key at sops.asc)"
    if "hc_vault" in kinds:  # no ambient identity for Vault: a token in the Secret
        return "{provider: sops, secretRef: {name: sops-vault}} (a Vault token at sops.vault-token)"
    return "{provider: sops} (the controller's cloud identity opens KMS keys)"


def key_kinds(entry: SopsEntry) -> frozenset[str]:
    """The kinds of keys that open ``entry`` (``age``, ``pgp``, ``kms``…)."""
    sf = entry.sops_file
    if sf is None:
        return frozenset()
    age = ("age",) if sf.metadata.age_recipients else ()
    return frozenset((*age, *sf.metadata.foreign_kinds))
