"""SM011 creation-rule-drift: recipients or rule differ from the matching ``.sops.yaml`` rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from secretsmgr.audit.finding import AuditReport
from secretsmgr.keys.age import AgeRecipient
from secretsmgr.sops import EncryptionRule, FileFormat, RuleKind, dump, encrypt, parse_plain

from ..helpers import K1, K2, K3, enc, flux_kustomization, secret, sops_yaml, standard_repo, write
from .cases import Case, ids, run_case


def hit(root: Path) -> None:
    narrow = EncryptionRule(RuleKind.ENCRYPTED_REGEX, "^(data)$")
    standard_repo(
        root,
        {
            "apps/backup.enc.yaml": enc(
                "apiVersion: v1\nkind: Secret\nmetadata:\n  name: b\ndata:\n  k: dg==\n",
                rule=narrow,
            ),
        },
    )
    write(root, "other/x.yaml", "")
    write(
        root,
        ".sops.yaml",
        sops_yaml((r"^apps/.*\.enc\.yaml$", (K1,)), (r"^never/", (K1,))),
    )
    write(root, "clusters/prod/misc.yaml", flux_kustomization("misc", "./misc"))
    write(root, "misc/unmatched.sops.yaml", enc(secret("u")))


def hit_check(report: AuditReport) -> None:
    by_path = {f.path: f for f in report.findings}
    assert "encrypted_regex: ^(data)$" in by_path["apps/backup.enc.yaml"].message
    assert "no .sops.yaml creation rule" in by_path["misc/unmatched.sops.yaml"].message


def miss(root: Path) -> None:
    standard_repo(
        root,
        {
            "apps/db.enc.yaml": enc(secret("db"), (K2, K1)),  # same set, other order
            "apps/team/x.enc.yaml": enc(secret("x"), (K1, K3)),
        },
        allowed=[K2, K3],
        rule_keys=(K1, K2),
    )
    # The nearest .sops.yaml governs files below it.
    write(root, "apps/team/.sops.yaml", sops_yaml((r"\.enc\.yaml$", (K1, K3))))


def rotation(root: Path) -> None:
    # a rotation under way: the rule names old + new (as begin leaves it), or the old key only
    # (a rotation begun before begin edited .sops.yaml): a file on both keys is clean either way
    standard_repo(
        root,
        {"apps/db.enc.yaml": enc(secret("db"), (K1, K2))},
        rule_keys=(K1, K2),
        settings_extra=f"next_cluster_key: {K2}\n",
    )
    write(root, "apps/team/.sops.yaml", sops_yaml((r"\.enc\.yaml$", (K1,))))
    write(root, "apps/team/x.enc.yaml", enc(secret("x"), (K2, K1)))


def rotation_old_only(root: Path) -> None:
    standard_repo(
        root,
        {"apps/db.enc.yaml": enc(secret("db"), (K1,))},
        rule_keys=(K1,),
        settings_extra=f"next_cluster_key: {K2}\n",
    )


def rotation_old_only_check(report: AuditReport) -> None:
    (finding,) = [f for f in report.findings if f.rule == "SM011"]
    assert "missing recipient" in finding.message and "old key only" in finding.message
    assert finding.fix == "secretsmgr key rotate --begin"


CASES = [
    Case(
        "SM011-hit",
        hit,
        {("SM011", "apps/backup.enc.yaml"), ("SM011", "misc/unmatched.sops.yaml")},
        verify=hit_check,
    ),
    Case("SM011-miss", miss, set()),
    Case(
        "SM011-rotation-miss",
        rotation,
        {("SM017", "apps/db.enc.yaml"), ("SM017", "apps/team/x.enc.yaml")},
    ),
    Case(
        "SM011-rotation-old-only",
        rotation_old_only,
        {("SM011", "apps/db.enc.yaml"), ("SM017", "apps/db.enc.yaml")},
        verify=rotation_old_only_check,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_case(case: Case, tmp_path: Path) -> None:
    run_case(case, tmp_path)


FP = "FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4"  # the PGP entry of tests/sops/key_types.py


def _with_foreign(text: str, kinds: tuple[str, ...]) -> str:
    from dataclasses import replace

    from secretsmgr.sops import dump, load
    from secretsmgr.sops.document import FileFormat
    from secretsmgr.sops.model import KeyGroup
    from tests.sops.key_types import foreign

    sf = load(text, FileFormat.YAML)
    group = sf.metadata.key_groups[0]
    sf.metadata = replace(sf.metadata, key_groups=(KeyGroup(group.age, foreign(kinds)),))
    return dump(sf)


@pytest.mark.parametrize(
    ("rule_keys", "drift"),
    [
        (f"    pgp: {FP}\n", None),
        # a rule's fingerprint in lower case with spaces names the same key
        ("    pgp: fbc7 b9e2 a4f9 289a c0c1  d484 3d16 cee4 a273 81b4\n", None),
        ("    pgp: 0123456789ABCDEF0123456789ABCDEF01234567\n", "missing key pgp 89ABCDEF01234567"),
        ("", "extra key pgp 3D16CEE4A27381B4"),
        # sixth sweep (kitos9112): a missing key id is shown as the rule writes it, not as
        # 0X… (which is found nowhere)
        (f"    pgp: {FP}, 0x03249595a54e0bc8\n", "missing key pgp 0x03249595a54e0bc8"),
        (
            f"    pgp: {FP}\n    kms: arn:aws:kms:eu-west-1:111122223333:key/other\n",
            "missing key arn:aws:kms:eu-west-1:111122223333:key/other",
        ),
    ],
)
def test_pgp_and_kms_keys_are_compared_with_the_rule(
    tmp_path: Path, rule_keys: str, drift: str | None
) -> None:
    from ..helpers import audit

    standard_repo(tmp_path, {"apps/db.enc.yaml": _with_foreign(enc(secret("db")), ("pgp",))})
    write(
        tmp_path,
        ".sops.yaml",
        "creation_rules:\n  - path_regex: \\.enc\\.yaml$\n"
        f"    encrypted_regex: ^(data|stringData)$\n    age: {K1}\n{rule_keys}",
    )
    found = [f for f in audit(tmp_path).findings if f.rule == "SM011"]
    if drift is None:
        assert found == []
    else:
        assert len(found) == 1 and drift in found[0].message, found
        # the rule's KMS key: the holder needs access to it too (sweep 96, adrianmo/aks-flux)
        access = (
            ", with access to the KMS or Vault keys the rule names," if "kms" in rule_keys else ""
        )
        assert found[0].fix == (
            f"a holder of its pgp keys{access} syncs it to .sops.yaml rule 1: "
            "sops updatekeys -y apps/db.enc.yaml"
        )


def test_a_file_on_kms_and_age_keys_is_synced_with_sops_not_rotated(tmp_path: Path) -> None:
    # sweep 96 (iT3E/tnwks-ops): an age recipient missing from a file on a KMS key and an age
    # key; the fix said `secretsmgr rotate`, which refuses a file on KMS keys
    from secretsmgr.keys.age import generate_identity

    from ..helpers import audit

    standard_repo(tmp_path, {"apps/db.enc.yaml": _with_foreign(enc(secret("db")), ("kms",))})
    from tests.sops.key_types import ENTRIES

    other = generate_identity()[1]
    arn = ENTRIES["kms"][0][1]
    write(
        tmp_path,
        ".sops.yaml",
        "creation_rules:\n  - path_regex: \\.enc\\.yaml$\n"
        f"    encrypted_regex: ^(data|stringData)$\n    age: {K1},{other}\n"
        f"    kms: {arn}+arn:aws:iam::111122223333:role/sops\n",
    )
    (found,) = [f for f in audit(tmp_path).findings if f.rule == "SM011"]
    assert "missing recipient" in found.message, found
    assert found.fix is not None and "secretsmgr rotate" not in found.fix
    assert found.fix.endswith("sops updatekeys -y apps/db.enc.yaml"), found.fix


def test_an_age_file_whose_rule_also_names_a_pgp_key_is_synced_by_its_age_key_holder(
    tmp_path: Path,
) -> None:
    # sweep 19 (dcplaya, SVendittelli): "a holder of its  keys syncs it" named no key type
    from ..helpers import audit

    standard_repo(tmp_path, {"apps/db.enc.yaml": enc(secret("db"))})
    write(
        tmp_path,
        ".sops.yaml",
        "creation_rules:\n  - path_regex: \\.enc\\.yaml$\n"
        f"    encrypted_regex: ^(data|stringData)$\n    age: {K1}\n    pgp: {FP}\n",
    )
    (found,) = [f for f in audit(tmp_path).findings if f.rule == "SM011"]
    assert "missing key pgp" in found.message
    # sweep 52, Pumba98: pasted without the PGP key's public half, sops failed "No public key";
    # said before the command, which ends the fix as pasted (the attack review: in it, the
    # words broke bash)
    assert found.fix == (
        "a holder of its age keys, with the public half of each PGP key the rule names in "
        "their GnuPG keyring (gpg --import), syncs it to .sops.yaml rule 1: "
        "sops updatekeys -y apps/db.enc.yaml"
    )


def test_kms_gcp_azure_and_vault_keys_named_by_the_rule_are_no_drift(tmp_path: Path) -> None:
    from tests.sops.key_types import ENTRIES

    from ..helpers import audit

    kinds = ("kms", "gcp_kms", "azure_kv", "hc_vault")
    standard_repo(tmp_path, {"apps/db.enc.yaml": _with_foreign(enc(secret("db")), kinds)})
    arn, gcp = ENTRIES["kms"][0][1], ENTRIES["gcp_kms"][0][1]
    write(
        tmp_path,
        ".sops.yaml",
        "creation_rules:\n  - path_regex: \\.enc\\.yaml$\n"
        f"    encrypted_regex: ^(data|stringData)$\n    age: {K1}\n"
        # a KMS key with its role, as ARN+ROLE (the file keeps the role beside the ARN)
        f"    kms: {arn}+arn:aws:iam::111122223333:role/sops\n    gcp_kms: {gcp}\n"
        # an Azure key named without its version names every version of it
        "    azure_keyvault: https://sops-test.vault.azure.net/keys/sops-key\n"
        "    hc_vault_transit_uri: http://127.0.0.1:9/v1/sops/keys/firstkey\n",
    )
    assert [f for f in audit(tmp_path).findings if f.rule == "SM011"] == []


def test_a_long_rule_regex_is_cut_in_the_message(tmp_path: Path) -> None:
    from ..helpers import audit

    long_regex = "^(" + "|".join(f"field{i}" for i in range(60)) + ")$"
    standard_repo(tmp_path, {"apps/db.enc.yaml": enc(secret("db"))})
    write(
        tmp_path,
        ".sops.yaml",
        "creation_rules:\n  - path_regex: \\.enc\\.yaml$\n"
        f"    encrypted_regex: '{long_regex}'\n    age: {K1}\n",
    )
    (finding,) = [f for f in audit(tmp_path).findings if f.rule == "SM011"]
    assert "encrypted_regex: ^(data|stringData)$ (rule says encrypted_regex: ^(field0|" in (
        finding.message
    )
    assert f"… ({len(long_regex)} characters))" in finding.message
    assert long_regex not in finding.message and len(finding.message) < 240


def test_two_long_regexes_show_where_they_differ(tmp_path: Path) -> None:
    # seventh sweep (vhaudiquet/homeprod): both regexes were cut to the same 48 characters,
    # so the message never showed what differed (`|token`)
    from secretsmgr.audit.rules.sm011_creation_rule_drift import _clip

    base = "^(password|value|ssh-key|api-key|user|username|pass|secret|key|clientSecret|apiKey"
    got, wanted = base + ")$", base + "|token)$"
    assert _clip(got, wanted) == f"…t|apiKey)$ ({len(got)} characters)"
    assert _clip(wanted, got) == f"…t|apiKey|token)$ ({len(wanted)} characters)"
    # a difference at the start, and a short value, as before
    assert _clip("x" + got, got).startswith("x^(password|") and _clip("^(a)$", got) == "^(a)$"
    # sweep 22 (red-lichtie/homelab-cluster): a 62-character rule cut in its middle hid what
    # the file's ^(data|stringData)$ lacks; one that fits a line is shown whole
    talos = "^(data|stringData|key|token|secretboxEncryptionSecret|secret|ca|crt)$"
    assert _clip(talos, "^(data|stringData)$") == talos


def test_a_sops_yaml_in_another_folder_is_named(tmp_path: Path) -> None:
    # etenzy/hcloud-infra keeps clusters/io/.sops.yaml (the Flux guide's place) and its files in
    # infrastructure/io/: the finding said "(no .sops.yaml)" and to add a creation rule
    from ..helpers import audit

    standard_repo(tmp_path, {"apps/db.enc.yaml": enc(secret("db"))})
    (tmp_path / ".sops.yaml").unlink()
    write(tmp_path, "clusters/io/.sops.yaml", sops_yaml((r"\.enc\.yaml$", (K1,))))
    (finding,) = [f for f in audit(tmp_path).findings if f.rule == "SM011"]
    assert finding.message == (
        "no .sops.yaml in this file's folder or above: clusters/io/.sops.yaml is read only by a "
        "sops run from its folder, never by secretsmgr or a sops run from the repository root"
    )
    assert finding.fix is not None and finding.fix.startswith("move that .sops.yaml")


def test_a_file_outside_flux_is_not_told_to_move_a_layers_sops_yaml_over_it(
    tmp_path: Path,
) -> None:
    # sweep 71, henrysachs/k8s-gitops: Talos files no layer applies were told to move
    # kubernetes/apps/.sops.yaml up, which would re-encrypt them under a Secret rule
    from ..helpers import audit

    standard_repo(tmp_path, {"apps/db.enc.yaml": enc(secret("db"))})
    (tmp_path / ".sops.yaml").unlink()
    write(tmp_path, "apps/.sops.yaml", sops_yaml((r"\.enc\.yaml$", (K1,))))
    write(tmp_path, "talos/secrets.enc.yaml", enc("cluster:\n  token: abc\n"))
    found = {f.path: f.fix or "" for f in audit(tmp_path).findings if f.rule == "SM011"}
    assert found["talos/secrets.enc.yaml"].startswith(
        "add a .sops.yaml above this file with a rule"
    )
    assert "move" not in found["talos/secrets.enc.yaml"].split(":")[0]


def test_several_sops_yaml_elsewhere_are_named_in_the_plural(tmp_path: Path) -> None:
    # rajsinghtech/kubernetes-manifests: "clusters/common/.sops.yaml, … and others governs"
    from ..helpers import audit

    standard_repo(tmp_path, {"apps/db.enc.yaml": enc(secret("db"))})
    (tmp_path / ".sops.yaml").unlink()
    for name in ("a", "b", "c"):
        write(tmp_path, f"clusters/{name}/.sops.yaml", sops_yaml((r"\.enc\.yaml$", (K1,))))
    (finding,) = [f for f in audit(tmp_path).findings if f.rule == "SM011"]
    assert finding.message == (
        "no .sops.yaml in this file's folder or above: clusters/a/.sops.yaml, "
        "clusters/b/.sops.yaml and others are read only by a sops run from their folders, never "
        "by secretsmgr or a sops run from the repository root"
    )
    (tmp_path / "clusters/c/.sops.yaml").unlink()
    (finding,) = [f for f in audit(tmp_path).findings if f.rule == "SM011"]
    assert "clusters/a/.sops.yaml and clusters/b/.sops.yaml are read only" in finding.message


def test_the_fix_never_re_encrypts_under_a_rule_that_leaves_a_secret_value_clear(
    tmp_path: Path,
) -> None:
    # Heavybullets8/heavy-ops: rule 1's narrow encrypted_regex shadows the Secret rule; the fix
    # re-encrypted under it and wrote stringData in clear. It now says to widen the rule first.
    from ..helpers import audit

    standard_repo(tmp_path, {"apps/db.enc.yaml": enc(secret("db"))})
    write(
        tmp_path,
        ".sops.yaml",
        "creation_rules:\n  - path_regex: \\.enc\\.yaml$\n"
        f"    encrypted_regex: ^(token|crt|key)$\n    age: {K1}\n",
    )
    (found,) = [f for f in audit(tmp_path).findings if f.rule == "SM011"]
    assert found.fix is not None
    assert found.fix.startswith(
        ".sops.yaml rule 1 would leave stringData.password in clear: widen its encrypted_regex"
    )
    assert "then re-encrypt: " in found.fix


def test_the_fix_never_re_encrypts_values_the_file_encrypts_under_a_rule_that_would_not(
    tmp_path: Path,
) -> None:
    # sweep 12 (KakatkarAkshay/cloudlab_applications): Helm values encrypted whole by an older
    # rule, now matched by the Secret rule (^(data|stringData)$); the printed re-encrypt wrote
    # every value in clear under a valid sops: block, and check then had nothing to say
    from ..helpers import audit

    values = "env:\n  - name: API_KEY\n    value: sk-Xk9f-hunter2-Qz\nreplicas: 2\n"
    standard_repo(
        tmp_path,
        {
            "apps/app.values.enc.yaml": enc(values, rule=EncryptionRule()),
            "apps/db.enc.yaml": enc(secret("db"), rule=EncryptionRule()),
        },
    )
    found = {f.path: f for f in audit(tmp_path).findings if f.rule == "SM011"}
    fix = found["apps/app.values.enc.yaml"].fix or ""
    assert fix.startswith("do not re-encrypt under this rule: it would leave env.name and 2 more")
    assert "add a rule for this file above rule 1 in .sops.yaml" in fix
    assert "no encrypted_regex" in fix and "decrypt" not in fix
    # a Secret encrypted whole loses only metadata from the clear under the Secret rule: that
    # re-encrypt stays the fix (its data and stringData stay encrypted)
    assert "decrypt -o" in (found["apps/db.enc.yaml"].fix or "")


def test_a_misspelled_creation_rules_key_is_named(tmp_path: Path) -> None:
    # osnabrugge: `creationRules:` — sops reads only creation_rules and refuses to encrypt
    from ..helpers import audit

    standard_repo(tmp_path, {"apps/db.enc.yaml": enc(secret("db"))})
    write(
        tmp_path,
        ".sops.yaml",
        sops_yaml((r"\.enc\.yaml$", (K1,))).replace("creation_rules", "creationRules"),
    )
    (found,) = [f for f in audit(tmp_path).findings if f.rule == "SM011"]
    assert found.fix == (
        "rename creationRules to creation_rules in .sops.yaml: sops reads only that key, so it "
        "finds no rule at all there (and refuses to encrypt)"
    )


def test_mac_only_encrypted_is_drift_only_where_some_value_is_in_clear(tmp_path: Path) -> None:
    # sweep 12 (jfroy/flatops): a rule with mac_only_encrypted: true and no encrypted_regex;
    # every value encrypted, the MAC covers the same values either way: no drift to fix
    from ..helpers import audit

    every = "a: x1-value\nb: x2-value\n"
    some = "a: x1-value\nb_unencrypted: in clear\n"
    standard_repo(
        tmp_path,
        {
            "apps/all.enc.yaml": enc(every, rule=EncryptionRule()),
            "apps/some.enc.yaml": enc(some, rule=EncryptionRule()),
        },
    )
    write(
        tmp_path,
        ".sops.yaml",
        f"creation_rules:\n  - path_regex: \\.enc\\.yaml$\n    mac_only_encrypted: true\n"
        f"    age: {K1}\n",
    )
    found = {f.path: f.message for f in audit(tmp_path).findings if f.rule == "SM011"}
    assert "apps/all.enc.yaml" not in found
    assert "mac_only_encrypted is false (rule says true)" in found["apps/some.enc.yaml"]


def test_a_rule_missing_the_clusters_key_is_not_followed_blindly(tmp_path: Path) -> None:
    # sweep 14 (Ramblurr/home-lab): a file not named *.sops.yaml falls to a catch-all rule that
    # names the operator's key alone; the fix re-encrypted to the rule and dropped the cluster
    # key its layer decrypts with (the other files of the cluster carry it)
    from secretsmgr.audit.engine import run_audit

    flux = EncryptionRule(RuleKind.ENCRYPTED_REGEX, "^(data|stringData)$")
    standard_repo(
        tmp_path,
        {
            "apps/dns.sops.yaml": enc(secret("dns"), (K2, K1), rule=flux),
            "apps/vars.yaml": enc(secret("vars"), (K2, K1), rule=flux),
        },
    )
    write(
        tmp_path,
        ".sops.yaml",
        "creation_rules:\n  - path_regex: \\.sops\\.yaml$\n"
        "    encrypted_regex: ^(data|stringData)$\n"
        f"    key_groups:\n      - age: [{K2}, {K1}]\n  - age: {K2}\n",
    )
    write(tmp_path, ".secretsmgr.yaml", "")  # no pinned key: the rules name it
    findings = run_audit(tmp_path).findings
    assert not [f for f in findings if f.rule == "SM005"]  # the cluster key is no stranger
    found = [f for f in findings if f.rule == "SM011"]
    assert [f.path for f in found] == ["apps/vars.yaml"]
    assert found[0].fix is not None and found[0].fix.startswith(
        f"add {K1} to .sops.yaml rule 2 first: it is a key of the cluster that applies the file"
    )


def test_an_age_key_under_pgp_is_named_and_encrypt_says_so(tmp_path: Path) -> None:
    # Michaelpalacce/HomeLab (sweep 18): `pgp: age1…` in every rule; SM011 said the file's key
    # was both extra and missing, and encrypt's hint asked for a rule that matches (one did)
    from secretsmgr.errors import ConfigError
    from secretsmgr.fileops.text import resolve_policy

    from ..helpers import audit

    standard_repo(tmp_path, {"apps/db.enc.yaml": enc(secret("db"))})
    write(
        tmp_path, ".sops.yaml", f"creation_rules:\n  - path_regex: \\.enc\\.yaml$\n    pgp: {K1}\n"
    )
    (found,) = [f for f in audit(tmp_path).findings if f.rule == "SM011"]
    assert found.message.startswith(
        ".sops.yaml rule 1 lists the age key age1"
    ) and "under pgp:" in (found.message)
    assert found.fix == "move it from pgp: to age: in .sops.yaml rule 1"
    with pytest.raises(ConfigError) as raised:
        resolve_policy(tmp_path / "apps/new.enc.yaml")
    (hint,) = raised.value.hints
    assert hint.startswith("the matching rule lists the age key age1") and hint.endswith(
        "under pgp:; move it under age:"
    )
    write(
        tmp_path,
        ".sops.yaml",
        "creation_rules:\n  - path_regex: \\.enc\\.yaml$\n    pgp: ABCD1234\n",
    )
    with pytest.raises(ConfigError) as raised:
        resolve_policy(tmp_path / "apps/new.enc.yaml")
    assert raised.value.hints[0].startswith("the matching rule names no age key (only PGP")


def test_re_encrypting_under_a_rule_that_would_break_the_build_is_not_the_fix(
    tmp_path: Path,
) -> None:
    # sweep 19 (coldb/homelab): a rule with no encrypted_regex over files on ^(data|stringData)$
    # in layers with namespace:; the fix re-encrypted them whole, which SM015 then reported
    from ..helpers import audit

    standard_repo(
        tmp_path,
        {
            "apps/kustomization.yaml": (
                "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
                "namespace: apps\nresources:\n  - db.enc.yaml\n"
            ),
            "apps/db.enc.yaml": enc(secret("db")),
        },
    )
    write(
        tmp_path, ".sops.yaml", f"creation_rules:\n  - path_regex: \\.enc\\.yaml$\n    age: {K1}\n"
    )
    (found,) = [f for f in audit(tmp_path).findings if f.rule == "SM011"]
    assert "(the rule sets none: sops encrypts every value)" in found.message
    assert found.fix == (
        "do not re-encrypt under .sops.yaml rule 1: it would encrypt the object's apiVersion, "
        "kind and metadata, which a layer here rewrites (SM015); give the rule "
        "encrypted_regex: ^(data|stringData)$"
    )


def test_a_rule_that_sets_nothing_is_given_the_files_regex_not_followed(tmp_path: Path) -> None:
    # sweep 75 (justingarfield/home-ops): no layer rewrites metadata here, and every fix was to
    # re-encrypt under the rule that sets nothing, which encrypts apiVersion, kind and metadata
    from ..helpers import audit

    standard_repo(tmp_path, {"apps/db.enc.yaml": enc(secret("db"))})
    write(
        tmp_path, ".sops.yaml", f"creation_rules:\n  - path_regex: \\.enc\\.yaml$\n    age: {K1}\n"
    )
    (found,) = [f for f in audit(tmp_path).findings if f.rule == "SM011"]
    assert found.fix is not None
    assert found.fix.startswith(
        "give .sops.yaml rule 1 encrypted_regex: ^(data|stringData)$ (as the file has it)"
    ), found.fix
    # followed: the drift is gone
    write(
        tmp_path,
        ".sops.yaml",
        "creation_rules:\n  - path_regex: \\.enc\\.yaml$\n"
        f"    encrypted_regex: ^(data|stringData)$\n    age: {K1}\n",
    )
    assert not [f for f in audit(tmp_path).findings if f.rule == "SM011"]


def test_a_drift_rotate_would_bring_back_names_the_policy_change_first(tmp_path: Path) -> None:
    # sweep 20 (Samoth69/HomeOps, after init): allowed_recipients listed keys the file's rule
    # did not name; rotate encrypted the file to them (the policy), SM011 said "extra
    # recipient" and offered the same rotate as its fix, for ever
    from secretsmgr.audit.engine import run_audit
    from tests.audit.helpers import K2, K3, sops_yaml

    root = standard_repo(tmp_path, {"apps/db.enc.yaml": enc(secret("db"), (K1, K2))}, allowed=(K2,))
    found = {f.path: f for f in run_audit(root).findings if f.rule == "SM011"}
    fix = found["apps/db.enc.yaml"].fix or ""
    assert "allowed_recipients in .secretsmgr.yaml puts age1wk59…8vss on every file" in fix, fix
    assert fix.endswith("then: secretsmgr rotate apps/db.enc.yaml")
    # a key the rule names that the policy does not give: rotate would not add it
    write(root, ".sops.yaml", sops_yaml((r"\.enc\.yaml$", [K1, K2, K3])))
    found = {f.path: f for f in run_audit(root).findings if f.rule == "SM011"}
    fix = found["apps/db.enc.yaml"].fix or ""
    assert "names age1d7u0…uw0l, neither a cluster key nor in allowed_recipients" in fix, fix
    # both ways, and what listing it does (the review)
    assert "take it off the rule, or list it under allowed_recipients" in fix, fix
    assert "which puts it on every file rotate writes" in fix
    # a drift rotate does cure: the plain fix
    write(root, "apps/db.enc.yaml", enc(secret("db"), (K1,)))
    write(root, ".sops.yaml", sops_yaml((r"\.enc\.yaml$", [K1, K2])))
    found = {f.path: f for f in run_audit(root).findings if f.rule == "SM011"}
    assert found["apps/db.enc.yaml"].fix == "secretsmgr rotate apps/db.enc.yaml"


def test_a_rule_an_earlier_one_shadows_is_named_unless_it_changes_nothing(tmp_path: Path) -> None:
    """sweep 41, wcl6-ml/Homelab: two clusters' rules under the same `.*.yaml`, the second with
    the second cluster's key, which sops never uses; a catch-all rule first shadows every rule
    after it; a duplicate naming the same keys and encryption rule is harmless."""
    from secretsmgr.audit.engine import run_audit

    def rule(regex: str | None, key: str, enc: str = "^(data|stringData)$") -> str:
        where = f"  - path_regex: {regex}\n    " if regex is not None else "  - "
        return f"{where}encrypted_regex: {enc}\n    age: {key}\n"

    config = "creation_rules:\n" + "".join(
        (
            rule(".*.yaml", K1),
            rule(".*.yaml", K2),  # shadowed, another key
            rule(".*.yaml", K1),  # shadowed, the same: harmless
            rule(r"apps/.*\.json$", K1, "^data$"),
        )
    )
    standard_repo(tmp_path, {})
    write(tmp_path, ".sops.yaml", config)
    found = [f.message for f in run_audit(tmp_path).findings if f.path == ".sops.yaml"]
    assert found == [
        "rule 2 (path_regex: .*.yaml) is never used: rule 1 before it has the same path_regex, "
        "and sops takes the first rule that matches"
    ]
    write(tmp_path, ".sops.yaml", "creation_rules:\n" + rule(None, K1) + rule("apps/.*", K2))
    found = [f.message for f in run_audit(tmp_path).findings if f.path == ".sops.yaml"]
    assert found == [
        "rule 2 (path_regex: apps/.*) is never used: rule 1 before it matches every path, and "
        "sops takes the first rule that matches"
    ]


def test_no_rule_of_the_nearer_config_names_the_rule_above_that_matches(tmp_path: Path) -> None:
    # sweep 64, Sol-Duara-Inc/pdvd-platform: clusters/.sops.yaml of broken rules under a root
    # .sops.yaml whose rule matches; sops run from the root uses the root's, secretsmgr the
    # nearer one, and the fix said only "add a creation rule"
    from ..helpers import audit

    standard_repo(tmp_path, {"clusters/prod/db.enc.yaml": enc(secret("db"))})
    write(tmp_path, "clusters/.sops.yaml", sops_yaml((r"prod/.*\.yaml982369", [K1])))
    (found,) = [f for f in audit(tmp_path).findings if f.rule == "SM011"]
    assert found.fix == (
        "add a creation rule whose path_regex matches it to clusters/.sops.yaml, or remove "
        "clusters/.sops.yaml if .sops.yaml rule 1 is meant for it: that rule matches it, and a "
        "sops run from the repository root uses it"
    ), found


def test_the_updatekeys_fix_names_every_access_once_and_the_policy_first(tmp_path: Path) -> None:
    # the review of stop 51: a rule naming PGP and KMS keys gave "(gpg --import),, with access
    # …"; and a file on KMS beside age keys lost the warning that the rule's other age key is
    # no cluster key nor allowed, which the rotate fix had said first
    from secretsmgr.keys.age import generate_identity
    from tests.sops.key_types import ENTRIES

    from ..helpers import audit

    arn = ENTRIES["kms"][0][1]
    standard_repo(tmp_path, {"apps/db.enc.yaml": enc(secret("db"))})
    write(
        tmp_path,
        ".sops.yaml",
        "creation_rules:\n  - path_regex: \\.enc\\.yaml$\n"
        f"    encrypted_regex: ^(data|stringData)$\n    age: {K1}\n    pgp: {FP}\n"
        f"    kms: {arn}+arn:aws:iam::111122223333:role/sops\n",
    )
    (found,) = [f for f in audit(tmp_path).findings if f.rule == "SM011"]
    assert found.fix is not None and ",," not in found.fix, found.fix
    assert "(gpg --import), with access to the KMS or Vault keys the rule names," in found.fix

    stranger = generate_identity()[1]
    standard_repo(tmp_path, {"apps/db.enc.yaml": _with_foreign(enc(secret("db")), ("kms",))})
    write(
        tmp_path,
        ".sops.yaml",
        "creation_rules:\n  - path_regex: \\.enc\\.yaml$\n"
        f"    encrypted_regex: ^(data|stringData)$\n    age: {K1},{stranger}\n"
        f"    kms: {arn}+arn:aws:iam::111122223333:role/sops\n",
    )
    (found,) = [f for f in audit(tmp_path).findings if f.rule == "SM011"]
    assert found.fix is not None and "neither a cluster key nor in allowed_recipients" in found.fix
    assert found.fix.endswith("sops updatekeys -y apps/db.enc.yaml"), found.fix


@pytest.mark.parametrize(("value", "drift"), [("a_unencrypted", True), ("b", False)])
def test_encrypting_every_value_by_regex_is_no_drift_from_a_rule_that_sets_none(
    tmp_path: Path, value: str, drift: bool
) -> None:
    # sweep 104 (JJGadgets/homelab): `encrypted_regex: .*` against a rule with no encryption
    # rule: every value encrypted either way, and the fix re-encrypted the file for nothing; a
    # key ending in _unencrypted, which sops's default leaves in clear, still makes a drift
    from ..helpers import audit

    rule = EncryptionRule(RuleKind.ENCRYPTED_REGEX, ".*")
    docs = parse_plain(f"a: one\n{value}: two\n", FileFormat.YAML)
    sealed = encrypt(docs, fmt=FileFormat.YAML, groups=[[AgeRecipient(K1)]], rule=rule)
    standard_repo(tmp_path, {"talos/env.sops.yaml": dump(sealed)})
    write(tmp_path, ".sops.yaml", f"creation_rules:\n  - age: {K1}\n")
    found = [f for f in audit(tmp_path).findings if f.rule == "SM011"]
    assert bool(found) is drift, found
    # the other way round: the rule says .*, the file was encrypted with none
    sealed = encrypt(docs, fmt=FileFormat.YAML, groups=[[AgeRecipient(K1)]], rule=EncryptionRule())
    write(tmp_path, "talos/env.sops.yaml", dump(sealed))
    write(tmp_path, ".sops.yaml", f"creation_rules:\n  - age: {K1}\n    encrypted_regex: .*\n")
    found = [f for f in audit(tmp_path).findings if f.rule == "SM011"]
    assert bool(found) is drift, found


def test_an_unreadable_sops_yaml_below_the_root_is_a_finding_not_a_refusal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # sweep 106 (Odinyg/homelab): a malformed .sops.yaml in a folder of no SOPS file (a bare
    # list, no creation_rules:) made layers, audit, check and init refuse, exit 2
    from tests.cli.runner import run

    from ..helpers import audit

    standard_repo(tmp_path, {"apps/db.enc.yaml": enc(secret("db"))})
    write(tmp_path, "clusters/dev/.sops.yaml", f"- path_regex: .*\n  age: {K1}\n")
    (found,) = [f for f in audit(tmp_path).findings if f.rule == "SM011"]
    assert (found.path, found.severity.value) == ("clusters/dev/.sops.yaml", "warning")
    assert "cannot be read (the document must be a mapping)" in found.message
    assert str(tmp_path) not in found.message
    for args in (["layers"], ["check"], ["init", "--dry-run", "--cluster-key", K1]):
        code, _, err = run(["--repo", str(tmp_path), *args], capsys)
        assert code == 0, (args, err)
    # governing a SOPS file, it is an error
    write(tmp_path, "clusters/dev/s.enc.yaml", enc(secret("s")))
    (found,) = [f for f in audit(tmp_path).findings if f.path == "clusters/dev/.sops.yaml"]
    assert found.severity.value == "error" and "it governs 1 SOPS file" in found.message
