"""SM004 cluster-key-missing: the cluster key is not among the file's age recipients."""

from __future__ import annotations

from pathlib import Path

import pytest

from secretsmgr.audit.finding import AuditReport

from ..helpers import K1, K2, K3, enc, flux_kustomization, secret, sops_yaml, standard_repo, write
from .cases import Case, ids, run_case


def hit(root: Path) -> None:
    standard_repo(root, {"apps/auth.enc.yaml": enc(secret("auth"), (K2,))})


def shamir_hit(root: Path) -> None:
    standard_repo(
        root,
        {"apps/split.enc.yaml": enc(secret("split"), groups=[[K1], [K2]], threshold=2)},
        allowed=[K2],
    )
    write(
        root,
        ".sops.yaml",
        "creation_rules:\n  - path_regex: \\.enc\\.yaml$\n"
        "    encrypted_regex: ^(data|stringData)$\n"
        f"    shamir_threshold: 2\n    key_groups:\n      - age: [{K1}]\n      - age: [{K2}]\n",
    )


def cli_key_hit(root: Path) -> None:
    standard_repo(root, {"apps/db.enc.yaml": enc(secret("db"))})


def miss(root: Path) -> None:
    standard_repo(
        root,
        {"apps/db.enc.yaml": enc(secret("db"), (K1, K2))},
        allowed=[K2],
        rule_keys=(K1, K2),
    )


def rotation_miss(root: Path) -> None:
    standard_repo(
        root,
        {
            "apps/old.enc.yaml": enc(secret("old"), (K1, K2)),
            "apps/new.enc.yaml": enc(secret("new"), (K2, K1)),
        },
        rule_keys=(K1, K2),
        settings_extra=f"next_cluster_key: {K2}\n",
    )


def sops_yaml_fallback_miss(root: Path) -> None:
    standard_repo(
        root,
        {"apps/db.enc.yaml": enc(secret("db"), (K1, K3))},
        cluster_key=None,
        rule_keys=(K1, K3),
    )


def no_key(root: Path) -> None:
    write(root, "clusters/prod/apps.yaml", flux_kustomization())
    write(root, "apps/db.enc.yaml", enc(secret("db"), (K2,)))


def no_key_check(report: AuditReport) -> None:
    skipped = {str(rule): reason for rule, reason in report.skipped}
    assert skipped["SM004"] == "no cluster key known"
    assert skipped["SM005"] == "no cluster key known"
    assert skipped["SM011"] == "no .sops.yaml found"
    assert report.cluster_keys == ()


CASES = [
    Case(
        "SM004-hit",
        hit,
        {
            ("SM004", "apps/auth.enc.yaml"),
            ("SM005", "apps/auth.enc.yaml"),
            ("SM011", "apps/auth.enc.yaml"),
        },
    ),
    Case("SM004-shamir-hit", shamir_hit, {("SM004", "apps/split.enc.yaml")}),
    Case(
        "SM004-cli-key-hit",
        cli_key_hit,
        {("SM004", "apps/db.enc.yaml"), ("SM005", "apps/db.enc.yaml")},
        options={"cluster_key": K3},
    ),
    Case(
        "SM004-env-key-hit",
        cli_key_hit,
        {("SM004", "apps/db.enc.yaml"), ("SM005", "apps/db.enc.yaml")},
        options={"env": {"SECRETSMGR_CLUSTER_KEY": K2}},
    ),
    Case("SM004-miss", miss, set()),
    Case(
        "SM004-rotation-miss",
        rotation_miss,
        {("SM017", "apps/old.enc.yaml"), ("SM017", "apps/new.enc.yaml")},
    ),
    Case("SM004-sops-yaml-key-miss", sops_yaml_fallback_miss, set()),
    Case("SM004-no-key-skipped", no_key, set(), verify=no_key_check),
]


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_case(case: Case, tmp_path: Path) -> None:
    run_case(case, tmp_path)


def test_no_flux_and_only_sops_yaml_rules_is_no_guess(tmp_path: Path) -> None:
    # A repository without Flux whose rule names two keys (kid/home-ops): which one a cluster
    # holds is a guess, so SM004 stays silent; SM011 still compares the file with its rule.
    from secretsmgr.audit.engine import run_audit

    root = tmp_path / "repo"
    write(root, ".sops.yaml", sops_yaml((r"^secrets/.*\.sops\.yaml$", (K1, K2))))
    write(root, "secrets/app.sops.yaml", enc(secret("app")))  # to K1 only
    report = run_audit(root)
    rules = {f.rule for f in report.findings if f.path == "secrets/app.sops.yaml"}
    assert "SM004" not in rules and "SM011" in rules
    write(root, ".secretsmgr.yaml", f"cluster_key: {K2}\n")  # now the key is configured
    assert "SM004" in {f.rule for f in run_audit(root).findings}


def test_a_post_quantum_cluster_key_is_judged_and_its_fix_goes_through_sops(
    tmp_path: Path,
) -> None:
    # sweep 18 (ZPeppler/iac, Tanguille/cluster): a rule naming an age1pq1… key (age 1.3's
    # ML-KEM hybrid, which sops 3.11 writes) was dropped as "no age key": SM004 and SM005 were
    # skipped, and a file encrypted to another key passed the gate; --cluster-key refused it
    import os

    from secretsmgr.audit.engine import run_audit
    from secretsmgr.keys.bech32 import is_age_recipient
    from tests.keys.age_plugin_smtest import bech32_encode

    pq = bech32_encode("age1pq", os.urandom(1216))
    assert is_age_recipient(pq) and not is_age_recipient(bech32_encode("age1xy", b"k" * 32))
    standard_repo(
        tmp_path, {"apps/db.enc.yaml": enc(secret("db"), (K2,))}, cluster_key=None, rule_keys=(pq,)
    )
    found = {f.rule: f for f in run_audit(tmp_path).findings}
    assert "age1pq1" in found["SM004"].message and "SM005" in found
    assert (found["SM004"].fix or "").startswith(
        "only sops encrypts to a post-quantum age key (age1pq1…); "
    )
    assert "sops updatekeys -y apps/db.enc.yaml" in (found["SM005"].fix or "")
    pinned = run_audit(tmp_path, cluster_key=pq)
    assert "SM004" in {f.rule for f in pinned.findings}


def test_encrypting_to_a_post_quantum_key_is_a_clear_error() -> None:
    import os

    from secretsmgr.errors import ConfigError
    from secretsmgr.keys.age import AgeRecipient
    from tests.keys.age_plugin_smtest import bech32_encode

    with pytest.raises(ConfigError) as raised:
        AgeRecipient(bech32_encode("age1pq", os.urandom(1216)))
    assert "post-quantum age recipient" in raised.value.message
    assert raised.value.hints == ("sops 3.11 can: sops encrypt, sops updatekeys and sops rotate",)


def test_clusters_pinned_under_clusters_are_judged_when_a_rule_leaves_the_key_undecided(
    tmp_path: Path,
) -> None:
    # sweep 19 (buvis/clusters, after init): clusters: pins each cluster's key, and a rule
    # naming a PGP key beside both age keys left the repository's key undecided; SM004/SM005
    # were skipped ("no cluster key known") and a file on the other cluster's key passed
    from secretsmgr.audit.engine import run_audit
    from tests.init.helpers import commit, kustomization, two_cluster_repo

    root = two_cluster_repo(tmp_path / "repo")
    fingerprint = "FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4"
    write(
        root,
        ".sops.yaml",
        "creation_rules:\n  - path_regex: \\.enc\\.yaml$\n    encrypted_regex: "
        f"^(data|stringData)$\n    pgp: {fingerprint}\n    age: {K1},{K2}\n",
    )
    write(
        root,
        ".secretsmgr.yaml",
        "clusters:\n"
        f"  staging:\n    path: clusters/staging\n    cluster_key: {K1}\n"
        f"  production:\n    path: clusters/production\n    cluster_key: {K2}\n",
    )
    write(root, "apps/staging/db.enc.yaml", enc(secret("db"), (K2,)))  # production's key
    kustomization(root, "apps/staging", "../base", "settings.yaml", "db.enc.yaml")
    commit(root, "a file on the other cluster's key")
    report = run_audit(root)
    found = {(f.rule, f.path) for f in report.findings}
    assert ("SM004", "apps/staging/db.enc.yaml") in found
    assert not [n for n in report.key_notes if "took none as the cluster key" in n]
    # a file on both clusters' keys, as the shared rule says, is no stranger's (the third
    # review: SM005 on every file, with a fix that changed nothing)
    write(root, "apps/staging/db.enc.yaml", enc(secret("db"), (K1, K2)))
    commit(root, "synced to the rule")
    found = {(f.rule, f.path) for f in run_audit(root).findings}
    assert not {r for r, p in found if p == "apps/staging/db.enc.yaml"} & {"SM004", "SM005"}


def test_applied_files_under_no_rule_are_named_as_unjudged_when_the_header_names_a_key(
    tmp_path: Path,
) -> None:
    # sweep 20 (yabo-san/home-cluster): `.sops.yaml` only in clusters/staging/ names key A; the
    # layers' files, under no rule, are on key B. The header said "cluster key A", and neither
    # SM004 nor SM005 nor a note said a word
    from secretsmgr.audit.engine import run_audit
    from tests.init.helpers import kustomization, one_cluster_repo

    root = one_cluster_repo(tmp_path / "repo")  # a bootstrap at clusters/prod, a layer apps/
    write(root, "apps/db.enc.yaml", enc(secret("db"), (K2,)))
    kustomization(root, "apps", "podinfo.yaml", "db.enc.yaml")
    write(root, "clusters/prod/.sops.yaml", sops_yaml((r"\.enc\.yaml$", [K1])))
    report = run_audit(root)
    assert report.cluster_keys == (K1,)
    assert not [f for f in report.findings if f.rule in ("SM004", "SM005")]
    (note,) = [n for n in report.notes if "under no .sops.yaml rule" in n]
    assert "1 SOPS file the layers apply, e.g. apps/db.enc.yaml, is under no" in note
    # sweep 37, Osman-SK/home-cluster: the header named the key and the note said none was
    # known; the note says whose key the header's is
    assert (
        "the cluster key (audit's header) is what the rules name for the files they govern" in note
    )
    # pinned: judged, and no note
    write(root, ".secretsmgr.yaml", f"cluster_key: {K1}\n")
    report = run_audit(root)
    assert [f.rule for f in report.findings if f.rule == "SM004"] == ["SM004"]
    assert not [n for n in report.notes if "under no .sops.yaml rule" in n]


def test_no_unjudged_note_for_a_file_under_a_rule_that_names_no_age_key(tmp_path: Path) -> None:
    # the review: a file under an explicit PGP-only rule got "under no .sops.yaml rule"
    from secretsmgr.audit.engine import run_audit
    from tests.init.helpers import kustomization, one_cluster_repo

    root = one_cluster_repo(tmp_path / "repo")
    write(root, "apps/db.enc.yaml", enc(secret("db"), (K2,)))
    kustomization(root, "apps", "podinfo.yaml", "db.enc.yaml")
    write(
        root,
        ".sops.yaml",
        "creation_rules:\n  - path_regex: ^apps/\n"
        "    pgp: FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4\n"
        f"  - path_regex: ^clusters/\n    age: {K1}\n",
    )
    report = run_audit(root)
    assert not [n for n in report.notes if "under no .sops.yaml rule" in n], report.notes


def test_a_stale_sops_yaml_key_gets_no_one_sided_fix(tmp_path: Path) -> None:
    # sweep 22 (FalkWinkler/home-ops): .sops.yaml named a key none of the applied files was on,
    # every one of them being on another; SM004 said Flux cannot decrypt them and its fix,
    # like SM011's, moved them to the rule's key, which the cluster did not hold
    from secretsmgr.audit.engine import run_audit

    root = standard_repo(
        tmp_path / "repo",
        {
            "apps/db.enc.yaml": enc(secret("db"), (K2,)),
            "apps/auth.enc.yaml": enc(secret("auth"), (K2, K3)),
        },
        cluster_key=None,
    )
    report = run_audit(root)
    found = {(f.rule, f.path): f for f in report.findings}
    sm004 = found[("SM004", "apps/db.enc.yaml")]
    assert sm004.message.startswith(
        f"not encrypted to the key .sops.yaml names ({K1[:8]}…{K1[-4:]}), and no SOPS file the "
        f"layers apply is: all are on {K2[:8]}…{K2[-4:]}; Flux cannot decrypt it unless"
    )
    assert sm004.fix == (
        f"if the cluster holds {K2}, .sops.yaml is out of date: pin that key (cluster_key: {K2} "
        f"in .secretsmgr.yaml) and name it in the rules of .sops.yaml; if it holds {K1}: "
        "secretsmgr rotate apps/db.enc.yaml"
    )
    sm011 = found[("SM011", "apps/db.enc.yaml")]
    assert sm011.fix is not None and sm011.fix.startswith(f"if the cluster holds {K2} (every")
    # pinning the files' key ends SM004; one file on the rule's key keeps the plain message
    write(root, ".secretsmgr.yaml", f"cluster_key: {K2}\n")
    assert "SM004" not in {f.rule for f in run_audit(root).findings}
    write(root, ".secretsmgr.yaml", "")
    write(root, "apps/auth.enc.yaml", enc(secret("auth"), (K1,)))
    plain = {(f.rule, f.path): f for f in run_audit(root).findings}[("SM004", "apps/db.enc.yaml")]
    assert plain.message.startswith("not encrypted to the cluster key")
    assert plain.fix == "secretsmgr rotate apps/db.enc.yaml"


def test_a_stale_key_is_never_a_plugin_or_ssh_recipient(tmp_path: Path) -> None:
    # the review: files on a YubiKey's recipient alone made the fix say "pin that key", which
    # cluster_key refuses (a plugin's key is never a cluster key)
    from secretsmgr.audit.engine import run_audit
    from tests.keys.age_plugin_smtest import plugin_recipient

    token = plugin_recipient(K2)
    sealed = {
        "apps/db.enc.yaml": enc(secret("db"), (K2,)).replace(K2, token),
        "apps/auth.enc.yaml": enc(secret("auth"), (K2,)).replace(K2, token),
    }
    root = standard_repo(tmp_path / "repo", sealed, cluster_key=None)
    found = {(f.rule, f.path): f for f in run_audit(root).findings}
    sm004 = found[("SM004", "apps/db.enc.yaml")]
    assert sm004.message.startswith("not encrypted to the cluster key")
    assert sm004.fix == "secretsmgr rotate apps/db.enc.yaml"


def test_a_plaintext_secret_under_a_post_quantum_rule_is_encrypted_with_sops(
    tmp_path: Path,
) -> None:
    """sweep 42, CJ-Jackson/homelab: check's fix for a plaintext Secret under a rule naming an
    age1pq1… key was `secretsmgr encrypt -i`, which refuses such keys when pasted."""
    import os

    from secretsmgr.gate.judge import judge_index
    from secretsmgr.report.text import render_check
    from tests.conftest import git
    from tests.keys.age_plugin_smtest import bech32_encode

    pq = bech32_encode("age1pq", os.urandom(1216))
    root = standard_repo(tmp_path, {}, cluster_key=None, rule_keys=(pq,))
    write(root, "apps/db.enc.yaml", secret("db"))
    git(root, "init", "-q")
    git(root, "add", "-A")
    report = judge_index(root)
    fixes = {f.fix for f in report.findings if f.rule == "SM001"}  # one per value, one fix
    assert fixes == {"sops encrypt -i apps/db.enc.yaml"}
    assert "fix it with: sops encrypt -i apps/db.enc.yaml" in render_check(report)


def test_a_file_two_clusters_apply_needs_each_clusters_own_key(tmp_path: Path) -> None:
    # sweep 75, angelnu/k8s-gitops: each cluster's folder has a .sops.yaml naming its own key;
    # a new file of the shared base under a root rule naming one cluster's key passed audit and
    # check, and the other cluster applies it too; its fix (rotate) must reach both clusters
    from secretsmgr.audit.engine import run_audit
    from secretsmgr.rotate.plan import RotationRequest
    from secretsmgr.rotate.transaction import rotate
    from tests.conftest import run_sops
    from tests.init.helpers import clusters_with_own_rules, commit, kustomization

    from ..helpers import KEYS, identity

    root = clusters_with_own_rules(tmp_path / "repo", {"staging": [K1], "production": [K2]})
    # the shared base: one key named
    write(root, ".sops.yaml", sops_yaml((r"\.enc\.yaml$", [K1])))
    write(root, "apps/base/db.enc.yaml", enc(secret("db"), (K1,)))
    kustomization(root, "apps/base", "shared.yaml", "db.enc.yaml")
    # production's alone, under the same shared rule: production's key too
    write(root, "shared/prod-only.enc.yaml", enc(secret("prod-only"), (K1,)))
    kustomization(root, "shared", "prod-only.enc.yaml")
    kustomization(
        root, "apps/production", "../base", "settings.yaml", "own.enc.yaml", "../../shared"
    )
    commit(root, "a shared file on staging's key only")
    found = [(f.rule, f.path, f.message) for f in run_audit(root).findings]
    (missing,) = [(r, m) for r, p, m in found if p == "apps/base/db.enc.yaml" and r == "SM004"]
    assert f"cluster production's key ({K2[:8]}" in missing[1], missing
    (alone,) = [m for r, p, m in found if p == "shared/prod-only.enc.yaml" and r == "SM004"]
    assert f"cluster production's key ({K2[:8]}" in alone, alone
    assert not [(r, p) for r, p, _ in found if r in ("SM004", "SM005") and "own" in p], found

    rotate(
        root, RotationRequest(files=(str(root / "apps/base/db.enc.yaml"),)), [identity(1)], env={}
    )
    commit(root, "rotated")
    after = {(f.rule, f.path) for f in run_audit(root).findings}
    assert not {r for r, p in after if p == "apps/base/db.enc.yaml"} & {"SM004", "SM005"}, after
    opened = run_sops(
        ["decrypt", "apps/base/db.enc.yaml"], cwd=root, key_file=KEYS / "test-only-2.agekey"
    )
    assert opened.returncode == 0 and "name: db" in opened.stdout, opened.stderr


@pytest.mark.parametrize("layout", ["operator key first", "ci key on a cluster's rule"])
def test_an_operators_or_ci_key_on_a_clusters_rule_is_not_its_cluster_key(
    tmp_path: Path, layout: str
) -> None:
    # the attack review of this change: an operator's key listed first on each cluster's rule,
    # or a CI key beside test's key on a runner's rule, was taken for the cluster's key and
    # every shared file was SM004 (check blocked; init would have exported the wrong key); a
    # shared file on prod's and the CI key still lacks test's
    from secretsmgr.audit.engine import run_audit
    from tests.init.helpers import clusters_with_own_rules, commit, kustomization

    staging, production, other = K1, K2, K3  # other: the operator's, or CI's
    if layout == "operator key first":
        keys = {"staging": [other, staging], "production": [other, production]}
    else:  # production's runner's rule names the CI key too
        keys = {"staging": [staging], "production": [production, other]}
    root = clusters_with_own_rules(tmp_path / "repo", keys)
    write(root, ".sops.yaml", sops_yaml((r"\.enc\.yaml$", [staging, production])))
    write(root, "apps/base/db.enc.yaml", enc(secret("db"), (staging, production)))
    kustomization(root, "apps/base", "shared.yaml", "db.enc.yaml")
    commit(root, "every file as its rule says")
    found = [(f.rule, f.path) for f in run_audit(root).findings if f.rule in ("SM004", "SM005")]
    assert found == [], found
    write(root, "apps/base/db.enc.yaml", enc(secret("db"), (staging, other)))
    commit(root, "the shared file on staging's and the other key")
    found = [(f.rule, f.path) for f in run_audit(root).findings if f.rule == "SM004"]
    assert found == [("SM004", "apps/base/db.enc.yaml")], found


@pytest.mark.parametrize(("secret_ref", "reported"), [("", False), ("sops-age", True)])
def test_a_cloud_kms_file_the_controllers_identity_decrypts_needs_no_cluster_key(
    tmp_path: Path, secret_ref: str, reported: bool
) -> None:
    # sweep 84 (nishioka-shinji/my_infra): Flux decrypts with GCP KMS through workload identity
    # (decryption: {provider: sops}); once init named an age cluster key, each KMS file was
    # SM004 "Flux cannot decrypt it". A layer that reads a Secret may hold no KMS access.
    from dataclasses import replace

    from secretsmgr.sops import FileFormat, dump, load
    from secretsmgr.sops.model import KeyGroup
    from tests.sops.key_types import foreign

    from ..helpers import BOOTSTRAP_SYNC, age_secret_flag_patch, audit

    sealed = load(enc(secret("db")), FileFormat.YAML)
    sealed.metadata = replace(sealed.metadata, key_groups=(KeyGroup((), foreign(("gcp_kms",))),))
    standard_repo(
        tmp_path,
        {"apps/db.enc.yaml": dump(sealed)},
        layer=flux_kustomization(decryption=secret_ref),
    )
    found = [f.path for f in audit(tmp_path).findings if f.rule == "SM004"]
    assert found == (["apps/db.enc.yaml"] if reported else []), found
    if reported:
        return
    # the attack review: two key groups of which the KMS key opens one, threshold 2
    dev = load(enc(secret("db"), (K2,)), FileFormat.YAML).metadata.key_groups[0]
    split = replace(
        sealed.metadata,
        key_groups=(KeyGroup((), foreign(("kms",))), dev),
        shamir_threshold=2,
    )
    write(tmp_path, "apps/db.enc.yaml", dump(replace(sealed, metadata=split)))
    assert [f.path for f in audit(tmp_path).findings if f.rule == "SM004"] == ["apps/db.enc.yaml"]
    # a controller the repository gives --sops-age-secret decrypts with that age key and, as
    # before, with its workload identity (kustomize-controller imports age keys alone from that
    # Secret: the attack review of sweep 87 found the opposite assumed, and after init's step
    # added the flag every KMS file was SM004 again); the flag is read in each of its forms
    from secretsmgr.repo.inventory import load_inventory

    write(tmp_path, "apps/db.enc.yaml", dump(sealed))
    write(tmp_path, "clusters/prod/flux-system/gotk-sync.yaml", BOOTSTRAP_SYNC)
    write(
        tmp_path,
        "clusters/prod/flux-system/kustomization.yaml",
        "resources: [gotk-sync.yaml]\n" + age_secret_flag_patch("sops-age"),
    )
    assert [f.path for f in audit(tmp_path).findings if f.rule == "SM004"] == []
    assert load_inventory(tmp_path).layers.controller_age_secrets == ("sops-age",)
    # the third attack review: the flag as pflag's two arguments, and in a flow list
    for args in (
        "        args:\n          - --sops-age-secret\n          - sops-age\n",
        '        args: ["--sops-age-secret=sops-age", "--watch-all-namespaces"]\n',
    ):
        write(
            tmp_path,
            "clusters/prod/flux-system/kustomization.yaml",
            "resources: [gotk-sync.yaml, controller.yaml]\n",
        )
        write(
            tmp_path,
            "clusters/prod/flux-system/controller.yaml",
            "apiVersion: apps/v1\nkind: Deployment\n"
            "metadata: {name: kustomize-controller, namespace: flux-system}\n"
            "spec:\n  template:\n    spec:\n      containers:\n"
            "      - name: manager\n" + args,
        )
        assert [f.path for f in audit(tmp_path).findings if f.rule == "SM004"] == [], args
        assert load_inventory(tmp_path).layers.controller_age_secrets == ("sops-age",), args
