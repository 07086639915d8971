"""The cluster key each `.sops.yaml` rule names: one key, or a stated choice among several."""

from __future__ import annotations

from pathlib import Path

from secretsmgr.repo.clusterkeys import RuleKeys, chosen_keys, key_notes, rule_keys
from secretsmgr.repo.sopsconfig import CreationRule, KeyGroupSpec

from .helpers import KEY_A, KEY_B, KEY_C

SSH = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHdQ+uH3n6tZ8+0sR1F3Yc4u2Zy3m0t3bqkQq3vU1xqj"


def rule(*groups: tuple[str, ...]) -> CreationRule:
    return CreationRule(path_regex=None, key_groups=tuple(KeyGroupSpec(age=g) for g in groups))


def keys_of(*rules: CreationRule, allowed: tuple[str, ...] = ()) -> list[RuleKeys]:
    found = rule_keys(((".sops.yaml", n, r) for n, r in enumerate(rules, 1)), allowed)
    return [found[(".sops.yaml", n)] for n in range(1, len(rules) + 1)]


def test_a_rule_with_one_age_key_names_the_cluster_key_without_a_note() -> None:
    (only,) = keys_of(rule((KEY_A,)))
    assert only.cluster_keys == (KEY_A,)
    assert only.others == ()
    assert only.note is None


def test_of_two_keys_in_one_rule_the_first_is_taken_and_the_note_says_how_to_pin_it() -> None:
    (both,) = keys_of(rule((KEY_A, KEY_B)))
    assert both.cluster_keys == (KEY_A,)
    assert both.others == (KEY_B,)
    note = both.note
    assert note is not None
    assert "rule 1 names several age keys" in note
    assert "listed first" in note
    assert f"cluster_key: {KEY_A}" in note
    assert "allowed_recipients" in note


def test_a_key_in_allowed_recipients_is_never_the_cluster_key() -> None:
    (both,) = keys_of(rule((KEY_A, KEY_B)), allowed=(KEY_A,))
    assert both.cluster_keys == (KEY_B,)
    assert both.others == (KEY_A,)
    assert both.note is None  # allowed_recipients settled it: nothing was guessed


def test_the_key_fewer_rules_name_wins_over_a_shared_operator_key() -> None:
    staging, production = keys_of(rule((KEY_C, KEY_A)), rule((KEY_C, KEY_B)))
    assert staging.cluster_keys == (KEY_A,)
    assert production.cluster_keys == (KEY_B,)
    assert staging.others == production.others == (KEY_C,)
    assert staging.note is not None and "the fewest rules name" in staging.note
    assert chosen_keys([staging, production]) == (KEY_A, KEY_B)
    # one choice per rule, the same reason and the same other key: one note for both rules
    (note,) = key_notes([staging, production])
    assert note.startswith(".sops.yaml rules 1 and 2 name several age keys: took 2 keys")
    # the same choice in several rules is one note with the line that pins it
    (same,) = key_notes(keys_of(rule((KEY_A, KEY_B)), rule((KEY_A, KEY_B))))
    assert same.startswith(".sops.yaml rules 1 and 2 name several age keys: took")
    assert f"cluster_key: {KEY_A}" in same


def test_each_key_group_gives_its_own_cluster_key() -> None:
    (groups,) = keys_of(rule((KEY_A,), (KEY_B,)))
    assert groups.cluster_keys == (KEY_A, KEY_B)
    assert groups.note is None


def test_ssh_recipients_are_never_cluster_keys() -> None:
    (mixed,) = keys_of(rule((SSH, KEY_A)))
    assert mixed.cluster_keys == (KEY_A,)
    assert mixed.note is None


def test_an_inventory_takes_one_key_per_rule_and_the_rule_keeps_the_others(
    tmp_path: Path,
) -> None:
    from secretsmgr.repo.inventory import load_inventory

    (tmp_path / ".sops.yaml").write_text(
        f"creation_rules:\n  - path_regex: .*\\.enc\\.yaml$\n    age: {KEY_A},{KEY_B}\n"
    )
    inv = load_inventory(tmp_path)
    assert inv.cluster_keys == (KEY_A,)
    assert inv.cluster_key_source == ".sops.yaml"
    assert len(inv.key_notes) == 1
    # pinned: the same repository with cluster_key names no choice any more
    (tmp_path / ".secretsmgr.yaml").write_text(f"cluster_key: {KEY_B}\n")
    pinned = load_inventory(tmp_path)
    assert pinned.cluster_keys == (KEY_B,)
    assert pinned.key_notes == ()


FINGERPRINT = "75B5F14CB9CF5A951C935E86203E3E4D22C1B89B"


def test_beside_pgp_keys_an_age_key_taken_only_by_its_order_is_no_cluster_key() -> None:
    # IEEE-TAMU/cluster-infra: Flux holds the PGP key (sops-gpg); the rule's two age keys are
    # people's. Taking the first as the cluster key hid that a file had lost the PGP key.
    mixed = CreationRule(
        path_regex=None, key_groups=(KeyGroupSpec(age=(KEY_A, KEY_B), pgp=(FINGERPRINT,)),)
    )
    (keys,) = keys_of(mixed)
    assert keys.cluster_keys == () and keys.others == (KEY_A, KEY_B) and keys.undecided
    assert keys.note is not None and "took none as the cluster key" in keys.note
    # one age key, or one that fewer rules name, still is the cluster key beside PGP keys
    one = CreationRule(
        path_regex=None, key_groups=(KeyGroupSpec(age=(KEY_A,), pgp=(FINGERPRINT,)),)
    )
    assert keys_of(one)[0].cluster_keys == (KEY_A,)
    rarer = CreationRule(
        path_regex=None, key_groups=(KeyGroupSpec(age=(KEY_C, KEY_B), pgp=(FINGERPRINT,)),)
    )
    assert keys_of(rule((KEY_C, KEY_A)), rarer)[1].cluster_keys == (KEY_B,)


def test_an_inventory_says_why_it_has_no_cluster_key(tmp_path: Path) -> None:
    from secretsmgr.repo.inventory import load_inventory

    (tmp_path / ".sops.yaml").write_text(
        "creation_rules:\n  - path_regex: .*\\.enc\\.yaml$\n"
        f"    age: {KEY_A},{KEY_B}\n    pgp: {FINGERPRINT}\n"
    )
    inv = load_inventory(tmp_path)
    assert inv.cluster_keys == ()
    (note,) = inv.key_notes
    assert "PGP or cloud KMS keys" in note


def test_a_rule_for_files_flux_never_applies_names_no_cluster_key(tmp_path: Path) -> None:
    # martinohmann/home-ops: a rule for .github/secrets names the cluster key and a CI key;
    # the CI key (named by the fewest rules) was taken for a cluster key, and the note said to
    # pin it as cluster_key, which made every Flux file fail SM004
    from secretsmgr.repo.inventory import load_inventory
    from tests.audit.helpers import K1, K2, enc, flux_kustomization, secret, sops_yaml, write
    from tests.conftest import git

    write(
        tmp_path,
        ".sops.yaml",
        sops_yaml((r"apps/.*\.sops\.yaml$", (K1,)), (r"\.github/secrets/.*\.sops\..*", (K1, K2))),
    )
    write(tmp_path, "clusters/prod/apps.yaml", flux_kustomization())
    write(tmp_path, "apps/db.sops.yaml", enc(secret("db")))
    write(tmp_path, ".github/secrets/ci.sops.yaml", enc(secret("ci"), (K1, K2)))
    git(tmp_path, "init", "-q", "-b", "main")  # git lists the dot folder's files
    inv = load_inventory(tmp_path)
    assert len(inv.sops_files) == 2
    assert inv.cluster_keys == (K1,)
    assert inv.key_notes == ()
    assert inv.flux_free_rules == frozenset({(".sops.yaml", 2)})
    # with no layer applying any file, every rule still counts
    (tmp_path / "clusters/prod/apps.yaml").unlink()
    assert set(load_inventory(tmp_path).cluster_keys) == {K1, K2}


def test_a_rule_naming_the_keys_of_an_applied_rule_is_no_host_rule(tmp_path: Path) -> None:
    # sweep 24, skullcow/cluster: five rules name the same three keys; rule 3's only files
    # (archive/kubernetes/…/*.sops.toml, which its unanchored regex matches) lie outside every
    # layer, so it was taken for a host's rule and the note named "rules 1, 2, 4 and 5"
    import json

    from secretsmgr.repo.inventory import load_inventory
    from secretsmgr.sops import FileFormat
    from tests.audit.helpers import K1, K2, K3, enc, flux_kustomization, secret, sops_yaml, write
    from tests.conftest import git

    every = (K1, K2, K3)
    rules = ((r"kubernetes/.*\.sops\.yaml", every), (r"kubernetes/.*\.sops\.json", every))
    write(tmp_path, ".sops.yaml", sops_yaml(*rules))
    write(tmp_path, "kubernetes/flux/apps.yaml", flux_kustomization(path="./kubernetes/apps"))
    write(tmp_path, "kubernetes/apps/kustomization.yaml", "resources: [db.sops.yaml]\n")
    write(tmp_path, "kubernetes/apps/db.sops.yaml", enc(secret("db"), every))
    old = enc(json.dumps({"password": "x"}), (K1,), fmt=FileFormat.JSON)
    write(tmp_path, "archive/kubernetes/glauth/users.sops.json", old)
    git(tmp_path, "init", "-q", "-b", "main")
    inv = load_inventory(tmp_path)
    assert len(inv.sops_files) == 2
    assert not inv.layers_of("archive/kubernetes/glauth/users.sops.json")
    assert inv.flux_free_rules == frozenset()
    assert inv.cluster_keys == (K1,)
    (note,) = inv.key_notes
    assert note.startswith(".sops.yaml rules 1 and 2 name several age keys")
    # a rule naming keys of its own for the same unapplied files is still a host's
    rules = ((r"kubernetes/.*\.sops\.yaml", every), (r"kubernetes/.*\.sops\.json", (K1, K2)))
    write(tmp_path, ".sops.yaml", sops_yaml(*rules))
    inv = load_inventory(tmp_path)
    assert inv.flux_free_rules == frozenset({(".sops.yaml", 2)})
    (note,) = inv.key_notes
    assert note.startswith(".sops.yaml rule 1 names several age keys")


def test_a_nested_config_no_layer_reads_names_no_cluster_key(tmp_path: Path) -> None:
    # sweep 12 (nkaz156/k8s-cluster): the cluster's secrets live in another repository; the
    # only .sops.yaml is secrets-demo/'s ("a demo key, Flux is not pointed at it"), and init
    # would have pinned that demo key as the cluster key
    from secretsmgr.repo.inventory import load_inventory
    from tests.audit.helpers import K1, K2, enc, flux_kustomization, secret, sops_yaml, write
    from tests.conftest import git

    write(tmp_path, "secrets-demo/.sops.yaml", sops_yaml((r".*\.sops\.yaml$", (K2,))))
    write(tmp_path, "secrets-demo/example.sops.yaml", enc(secret("demo"), (K2,)))
    write(tmp_path, "clusters/prod/apps.yaml", flux_kustomization())
    write(tmp_path, "apps/kustomization.yaml", "resources: []\n")
    git(tmp_path, "init", "-q", "-b", "main")
    assert load_inventory(tmp_path).cluster_keys == ()
    # a nested config inside a layer's folder still names the cluster key
    write(tmp_path, "apps/db/.sops.yaml", sops_yaml((r".*\.sops\.yaml$", (K1,))))
    assert load_inventory(tmp_path).cluster_keys == (K1,)


def test_a_nested_config_governing_no_file_apart_from_every_layer_names_no_cluster_key(
    tmp_path: Path,
) -> None:
    # sweep 13 (vaskozl/home-infra): a docker host's awry/.sops.yaml (no SOPS file under it)
    # beside a cluster whose files are PGP only; init pinned the host's age key as the cluster
    # key, and then every cluster file failed check with SM004
    from secretsmgr.repo.inventory import load_inventory
    from tests.audit.helpers import K1, K2, flux_kustomization, sops_yaml, write
    from tests.conftest import git

    write(tmp_path, "awry/.sops.yaml", sops_yaml((r".*\.enc\.env$", (K2,))))
    write(tmp_path, "awry/compose.yaml", "services: {}\n")
    write(tmp_path, "clusters/prod/apps.yaml", flux_kustomization())
    write(tmp_path, "apps/kustomization.yaml", "resources: []\n")
    git(tmp_path, "init", "-q", "-b", "main")
    assert load_inventory(tmp_path).cluster_keys == ()
    # a config in a folder a layer's build reaches through resources: (the review: a layer at
    # clusters/prod listing ../../kubernetes/apps) still names the cluster key
    write(tmp_path, "kubernetes/.sops.yaml", sops_yaml((r".*\.sops\.yaml$", (K1,))))
    write(tmp_path, "kubernetes/apps/kustomization.yaml", "resources: []\n")
    write(tmp_path, "apps/kustomization.yaml", "resources: [../kubernetes/apps]\n")
    assert load_inventory(tmp_path).cluster_keys == (K1,)
    # the root config's rule, with no file yet, still names the cluster key
    (tmp_path / "kubernetes/.sops.yaml").unlink()
    write(tmp_path, ".sops.yaml", sops_yaml((r"apps/.*\.sops\.yaml$", (K1,))))
    assert load_inventory(tmp_path).cluster_keys == (K1,)


def test_a_rule_naming_the_keys_clusters_pins_leaves_nothing_to_pin(tmp_path: Path) -> None:
    """An operator's acceptance run: with clusters: pinning prod's and staging's keys, a file no
    layer applies yet under the shared base rule (both keys) made the note say to pin prod's key
    as cluster_key, after which rotate gave each cluster's files the other's key."""
    from secretsmgr.repo.inventory import load_inventory
    from tests.audit.helpers import K1, K2, enc, flux_kustomization, secret, sops_yaml, write
    from tests.conftest import git

    write(
        tmp_path,
        ".sops.yaml",
        sops_yaml((r"apps/prod/.*", (K1,)), (r"apps/base/.*", (K1, K2))),
    )
    clusters = (
        f"clusters:\n  prod:\n    path: clusters/prod\n    cluster_key: {K1}\n"
        f"  staging:\n    path: clusters/staging\n    cluster_key: {K2}\n"
    )
    write(tmp_path, ".secretsmgr.yaml", clusters)
    write(tmp_path, "clusters/prod/apps.yaml", flux_kustomization("apps", "./apps/prod"))
    write(tmp_path, "apps/prod/db.sops.yaml", enc(secret("db")))
    write(tmp_path, "apps/prod/kustomization.yaml", "resources: [db.sops.yaml, ../base/web]\n")
    write(tmp_path, "apps/base/web/kustomization.yaml", "resources: [web.sops.yaml]\n")
    write(tmp_path, "apps/base/web/web.sops.yaml", enc(secret("web"), (K1, K2)))
    write(tmp_path, "apps/base/new/db.sops.yaml", enc(secret("new"), (K1, K2)))  # no layer yet
    git(tmp_path, "init", "-q", "-b", "main")
    assert load_inventory(tmp_path).key_notes == ()


def test_of_keys_the_rules_cannot_tell_apart_the_one_every_file_carries_is_taken(
    tmp_path: Path,
) -> None:
    # sweep 11 (h3mmy/bloopySphere): a rule lists "personal, flux"; every applied file carries
    # the flux key, 17 only that one. The personal key, listed first, was taken: 15 false SM004
    # errors failed check, and init would have pinned it.
    from secretsmgr.audit.engine import run_audit
    from tests.audit.helpers import K1, K2, enc, flux_kustomization, secret, sops_yaml, write

    personal, flux = K2, K1
    write(tmp_path, ".sops.yaml", sops_yaml((r"apps/.*\.sops\.yaml$", (personal, flux))))
    write(tmp_path, "clusters/prod/apps.yaml", flux_kustomization())
    write(tmp_path, "apps/a.sops.yaml", enc(secret("a"), (personal, flux)))
    write(tmp_path, "apps/b.sops.yaml", enc(secret("b"), (flux,)))
    # one stray file on the flux key alone is no evidence against the order: SM004 reports it
    (stray,) = [f for f in run_audit(tmp_path).findings if f.rule == "SM004"]
    assert stray.path == "apps/b.sops.yaml"
    write(tmp_path, "apps/c.sops.yaml", enc(secret("c"), (flux,)))
    report = run_audit(tmp_path)
    assert not [f for f in report.findings if f.rule == "SM004"], report.findings
    (note,) = [n for n in report.notes if "several age keys" in n]
    assert "the one key every file of the rule carries" in note
    # no file tells them apart: the order still decides, and says so
    for name in ("b", "c"):
        write(tmp_path, f"apps/{name}.sops.yaml", enc(secret(name), (personal, flux)))
    (note,) = [n for n in run_audit(tmp_path).notes if "several age keys" in n]
    assert "listed first" in note
    # unit: the evidence settles only a tie the rules leave
    files = {(".sops.yaml", 1): [frozenset({KEY_B}), frozenset({KEY_B}), frozenset({KEY_A, KEY_B})]}
    found = rule_keys([(".sops.yaml", 1, rule((KEY_A, KEY_B)))], (), files)
    assert found[(".sops.yaml", 1)].cluster_keys == (KEY_B,)


def _one_layer(root: Path, rules: tuple[tuple[str, tuple[str, ...]], ...]) -> None:
    """A git repository with ``rules`` in `.sops.yaml` and one layer that applies one SOPS
    file, kubernetes/apps/db.sops.yaml, encrypted to K1."""
    from tests.audit.helpers import K1, enc, flux_kustomization, secret, sops_yaml, write
    from tests.conftest import git

    write(root, ".sops.yaml", sops_yaml(*rules))
    write(root, "kubernetes/flux/apps.yaml", flux_kustomization(path="./kubernetes/apps"))
    write(root, "kubernetes/apps/kustomization.yaml", "resources: [db.sops.yaml]\n")
    write(root, "kubernetes/apps/db.sops.yaml", enc(secret("db"), (K1,)))
    git(root, "init", "-q", "-b", "main")


def test_a_rule_governing_no_path_of_the_checkout_names_no_cluster_key(tmp_path: Path) -> None:
    # sweep 29, danmharris/homelab: a root rule for nixos/.*/secrets.yml (no such folder any
    # more) named a host's key beside the cluster's; the host's key became a cluster key and
    # the note advised pinning it
    from secretsmgr.repo.inventory import load_inventory
    from tests.audit.helpers import K1, K2, write

    rules = ((r"kubernetes/.*\.ya?ml", (K1,)), (r"nixos/.*/secrets\.yml", (K1, K2)), (".*", (K1,)))
    _one_layer(tmp_path, rules)
    inv = load_inventory(tmp_path)
    assert inv.flux_free_rules == frozenset({(".sops.yaml", 2)})
    assert inv.cluster_keys == (K1,) and inv.key_notes == ()
    # once the folder holds a file (a secret to come), the rule counts again
    write(tmp_path, "nixos/host/configuration.nix", "{ }\n")
    write(tmp_path, "nixos/host/secrets.yml", "password: x\n")
    inv = load_inventory(tmp_path)
    assert inv.flux_free_rules == frozenset() and set(inv.cluster_keys) >= {K1}


def test_a_rule_matching_only_sops_own_config_governs_nothing(tmp_path: Path) -> None:
    # sweep 31, bjw-s/home-ops: a last rule `.*\.sops\.ya?ml$` naming a person's key matches
    # `.sops.yaml` itself and no SOPS file; the header listed that key as a cluster key while
    # the note called it allowed
    from secretsmgr.repo.inventory import load_inventory
    from tests.audit.helpers import K1, K2

    rules = ((r"kubernetes/.*\.sops\.ya?ml$", (K1,)), (r".*\.sops\.ya?ml$", (K2,)))
    _one_layer(tmp_path, rules)
    inv = load_inventory(tmp_path)
    assert inv.flux_free_rules == frozenset({(".sops.yaml", 2)})
    assert inv.cluster_keys == (K1,)


def test_a_rule_naming_an_extra_key_beside_the_one_every_file_carries_takes_that_one(
    tmp_path: Path,
) -> None:
    # sweep 38, 1spyral/home-lab: a job's rule names Y and X, the catch-all rule names X alone,
    # every file carries X and only the job's carry Y. "The fewest rules" took Y; pinning it, as
    # the note said, made every other file an SM004 error, while init took X
    from secretsmgr.repo.inventory import load_inventory
    from tests.audit.helpers import K1, K2, enc, flux_kustomization, secret, sops_yaml, write
    from tests.conftest import git

    rules = ((r"apps/jobs/.*\.yaml$", (K2, K1)), (r"apps/.*\.yaml$", (K1,)))
    write(tmp_path, ".sops.yaml", sops_yaml(*rules))
    write(tmp_path, "clusters/prod/apps.yaml", flux_kustomization())
    for name in ("a", "b", "c"):
        write(tmp_path, f"apps/{name}.yaml", enc(secret(name)))  # on K1 alone
    write(tmp_path, "apps/jobs/j.yaml", enc(secret("j"), (K2, K1)))
    git(tmp_path, "init", "-q", "-b", "main")
    inv = load_inventory(tmp_path)
    assert inv.cluster_keys == (K1,), inv.key_notes
    (note,) = inv.key_notes
    assert "every SOPS file its cluster applies carries, which a rule names alone" in note
    # Ramblurr/home-lab's shape stays as it was: the catch-all names the operator's key alone,
    # and every file carries both keys; the fewest rules name the cluster's
    for name in ("a", "b", "c"):
        write(tmp_path, f"apps/{name}.yaml", enc(secret(name), (K2, K1)))
    write(tmp_path, ".sops.yaml", sops_yaml((r"apps/jobs/.*", (K2, K1)), (r"apps/.*", (K2,))))
    assert load_inventory(tmp_path).cluster_keys == (K1, K2)


def test_another_clusters_catch_all_for_the_operators_key_decides_nothing(tmp_path: Path) -> None:
    # the attack review: clusters a and b each encrypt to their own key and the operator's O, a
    # catch-all rule names O alone for cluster mgmt. O is on every applied file and named alone,
    # so the rule above took O for clusters a and b too: a file of cluster a on O alone passed
    # SM004, and init would have pinned O for all three
    from secretsmgr.repo.inventory import load_inventory
    from tests.audit.helpers import K1, K2, K3, enc, flux_kustomization, secret, sops_yaml, write
    from tests.conftest import git

    rules = (
        (r"apps-a/.*\.sops\.yaml$", (K1, K3)),
        (r"apps-b/.*\.sops\.yaml$", (K2, K3)),
        (r".*\.sops\.yaml$", (K3,)),
    )
    write(tmp_path, ".sops.yaml", sops_yaml(*rules))
    for cluster, keys in (("a", (K1, K3)), ("b", (K2, K3)), ("mgmt", (K3,))):
        ks = flux_kustomization("apps", f"./apps-{cluster}")
        write(tmp_path, f"clusters/{cluster}/flux-system/gotk-sync.yaml", _sync(cluster))
        write(tmp_path, f"clusters/{cluster}/apps.yaml", ks)
        for n in range(3):
            write(tmp_path, f"apps-{cluster}/s{n}.sops.yaml", enc(secret(f"s{n}"), keys))
    git(tmp_path, "init", "-q", "-b", "main")
    inv = load_inventory(tmp_path)
    assert {c.name for c in inv.layers.clusters} == {"a", "b", "mgmt"}
    assert set(inv.cluster_keys) == {K1, K2, K3}, inv.key_notes
    assert not [n for n in inv.key_notes if "which a rule names alone" in n]


def _sync(cluster: str) -> str:
    """A Flux bootstrap's sync of ``clusters/<cluster>``."""
    return (
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n"
        "  name: flux-system\n  namespace: flux-system\nspec:\n  url: https://example.invalid/r\n"
        "---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n"
        "  name: flux-system\n  namespace: flux-system\nspec:\n"
        f"  path: ./clusters/{cluster}\n"
        "  sourceRef:\n    kind: GitRepository\n    name: flux-system\n"
    )
