"""SM002 missing-sops-metadata: a ``*.enc.*`` file with no SOPS metadata."""

from __future__ import annotations

from pathlib import Path

import pytest

from secretsmgr.sops import EncryptionRule, FileFormat

from ..helpers import K1, enc, secret, standard_repo
from .cases import Case, ids, run_case

DEFAULT = EncryptionRule()


def hit(root: Path) -> None:
    standard_repo(
        root,
        {
            "apps/backup.enc.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n"
            "data:\n  bucket: backups\n",
            # every *.enc.* / *.sops.* store this reads, not only YAML
            "apps/app.enc.env": "API_KEY=hunter2-but-longer\n",
            "apps/db.sops.json": '{"db": {"pw": "hunter2-but-longer"}}\n',
            "apps/db.sops.yml": "db:\n  pw: hunter2-but-longer\n",
            "apps/app.sops.ini": "[db]\npw = hunter2-but-longer\n",
            "apps/app.enc.ini": "top = hunter2-but-longer\n",
        },
    )


def miss(root: Path) -> None:
    standard_repo(
        root,
        {
            "apps/db.enc.yaml": enc(secret("db")),
            "apps/other.sops.yaml": enc(secret("other")),
            "apps/notes.enc.bak": "not a sops file, not named like one\n",
            "apps/readme.enc.md": "# notes\n",
            "apps/.sops.yml": "creation_rules: []\n",  # a misnamed config, not a SOPS file
            "apps/tox.ini": "[tox]\nuser = not-named-like-sops\n",
        },
    )


CASES = [
    Case(
        "SM002-hit",
        hit,
        {
            ("SM002", "apps/backup.enc.yaml"),
            ("SM002", "apps/app.enc.env"),
            ("SM002", "apps/db.sops.json"),
            ("SM002", "apps/db.sops.yml"),
            ("SM002", "apps/app.sops.ini"),
            ("SM002", "apps/app.enc.ini"),
            # a chosen password under API_KEY is a credential too (sweep 13: a key ending in
            # KEY was taken for a reference)
            ("SM018", "apps/app.enc.env"),
        },
    ),
    Case("SM002-miss", miss, set()),
]


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_case(case: Case, tmp_path: Path) -> None:
    run_case(case, tmp_path)


def test_an_empty_sops_named_file_is_information_not_a_leak(tmp_path: Path) -> None:
    # An empty talenv.sops.yaml (seen in a real repository) holds nothing in plaintext.
    from secretsmgr.audit.engine import run_audit
    from secretsmgr.audit.finding import Severity

    root = standard_repo(
        tmp_path / "repo",
        {
            "apps/empty.sops.yaml": "",
            "apps/blank.enc.yaml": "\n",
            "apps/sections.sops.ini": "; to fill in\n[db]\n",
            # sweep 24, KnightDoom/taloscluster: a commented-out example Secret
            "apps/example.sops.yaml": "# apiVersion: v1\n# kind: Secret\n",
            # sweep 38, 1spyral/home-lab: a base Secret an overlay patches its values into
            "apps/base.enc.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: b\ndata: {}\n",
            # one with a value is still a leak, and so is one beside data: {} (the fourth
            # review: a top-level field, a misspelt Data:, an annotation, a comment)
            "apps/filled.enc.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: f\n"
            "stringData:\n  password: Xk82Lq0ZpWm4Rt7V\n",
            "apps/field.enc.yaml": "kind: Secret\nmetadata: {name: f}\ndata: {}\n"
            "password: Xk82Lq0ZpWm4Rt7V\n",
            "apps/typo.enc.yaml": "kind: Secret\nmetadata: {name: t}\nData:\n  pw: WGs4Mkxx\n",
            "apps/note.enc.yaml": "kind: Secret\nmetadata:\n  name: n\n  annotations:\n"
            "    token: Xk82Lq0ZpWm4Rt7V\ndata: {}\n",
            "apps/comment.enc.yaml": "kind: Secret\nmetadata: {name: c}\n"
            "data: {} # password=Xk82Lq0ZpWm4Rt7V\n",
            # the fifth review: a label's value, the type and a namespace are free text too
            "apps/label.enc.yaml": "kind: Secret\nmetadata:\n  name: l\n  labels:\n"
            "    token: Xk82Lq0ZpWm4Rt7V\ndata: {}\n",
            "apps/kind.enc.yaml": "kind: Secret\nmetadata: {name: k}\ntype: Xk82Lq0ZpWm4Rt7V\n"
            "stringData: {}\n",
            "apps/space.enc.yaml": "kind: Secret\nmetadata:\n  name: s\n"
            "  namespace: 'postgres://admin:Xk82Lq0Z@db/app'\ndata: {}\n",
        },
    )
    found = [f for f in run_audit(root).findings if f.rule == "SM002"]
    leaks = ("filled", "field", "typo", "note", "comment", "label", "kind", "space")
    for f in [f for f in found if f.path.split("/")[1].split(".")[0] in leaks]:
        assert f.severity is Severity.ERROR, f.path
        found.remove(f)
    assert {f.path for f in found} == {
        "apps/empty.sops.yaml",
        "apps/blank.enc.yaml",
        "apps/sections.sops.ini",
        "apps/example.sops.yaml",
        "apps/base.enc.yaml",
    }
    assert {f.severity for f in found} == {Severity.INFO}
    assert all("holds no value" in f.message for f in found)
    said = {f.path: f.message.partition(":")[0] for f in found}
    assert said["apps/blank.enc.yaml"] == "empty"
    assert said["apps/example.sops.yaml"].startswith("nothing to encrypt (only comments")


def test_a_sops_configuration_under_a_sops_name_is_information_not_a_leak(
    tmp_path: Path,
) -> None:
    # sweep 12 (0x4272616E646F6E/homelab): docs/k8s.sops.yaml is creation_rules for
    # `sops --config`; the fix (encrypt it) would leave sops unable to read it
    from secretsmgr.audit.engine import run_audit
    from secretsmgr.audit.finding import Severity

    config = (
        "# sops --config docs/k8s.sops.yaml\ncreation_rules:\n"
        "  - path_regex: .*\\.sops\\.yaml$\n    encrypted_regex: ^(data|stringData)$\n"
        "    age: age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p\n"
    )
    root = standard_repo(
        tmp_path / "repo",
        {
            "docs/k8s.sops.yaml": config,
            # a configuration's key beside another top-level key is no configuration
            "docs/app.sops.yaml": config + "password: hunter2-Xk9f\n",
            # the review of sweep 12: values under stores, or a rule key sops has not
            "docs/stores.sops.yaml": config + "stores:\n  db_password: hunter2-Xk9f\n",
            "docs/rule.sops.yaml": config + "    db_password: hunter2-Xk9f\n",
            "docs/indent.sops.yaml": config + "stores:\n  yaml:\n    indent: 2\n",
        },
    )
    found = {f.path: f for f in run_audit(root).findings if f.rule == "SM002"}
    assert found["docs/k8s.sops.yaml"].severity is Severity.INFO
    assert "sops configuration" in found["docs/k8s.sops.yaml"].message
    assert found["docs/app.sops.yaml"].severity is Severity.ERROR
    assert found["docs/stores.sops.yaml"].severity is Severity.ERROR
    assert found["docs/rule.sops.yaml"].severity is Severity.ERROR
    assert found["docs/indent.sops.yaml"].severity is Severity.INFO


def test_an_encrypted_ini_file_is_a_sops_entry_not_a_leak(tmp_path: Path) -> None:
    from secretsmgr.audit.engine import run_audit

    text = enc("[db]\npassword = pw\n", rule=DEFAULT, fmt=FileFormat.INI)
    root = standard_repo(tmp_path / "repo", {"apps/db.sops.ini": text, "apps/plain.ini": text})
    report = run_audit(root)
    assert [f for f in report.findings if f.rule in ("SM002", "SM006", "SM003")] == []
    # both are SOPS files: by name, and by their [sops] section
    assert {f.path for f in report.findings if f.rule == "SM011"} == {
        "apps/db.sops.ini",
        "apps/plain.ini",
    }


def test_a_plaintext_file_the_rule_would_not_encrypt_is_still_a_leak(tmp_path: Path) -> None:
    # Not empty: a ConfigMap named like a SOPS file, nothing under data/stringData, a password
    # elsewhere. It is stored in plaintext, whatever the rule would have encrypted.
    from secretsmgr.audit.engine import run_audit
    from secretsmgr.audit.finding import Severity

    text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: v\nspec:\n  password: Zx9vQ2Lm\n"
    root = standard_repo(tmp_path / "repo", {"apps/values.sops.yaml": text})
    found = [f for f in run_audit(root).findings if f.rule == "SM002"]
    assert [(f.path, f.severity) for f in found] == [("apps/values.sops.yaml", Severity.ERROR)]


def test_settings_beside_placeholders_leave_a_template_a_template(tmp_path: Path) -> None:
    # CloudHub-Social/CloudHub-Cluster's tmpl/…/grafana-admin-secret.sops.yaml: a literal
    # admin-user beside the substituted password made it an error, the repository's only one
    from secretsmgr.audit.finding import Severity

    from ..helpers import audit

    standard_repo(
        tmp_path,
        {
            "tmpl/grafana.sops.yaml": secret(
                "grafana",
                {"admin-user": "admin", "admin-password": "${BOOTSTRAP_GRAFANA_ADMIN_PASSWORD}"},
            ),
            # sixth sweep (RareCompute): velero's credentials file with every credential
            # empty; one with a credential filled in is a secret
            "tmpl/velero.sops.yaml": secret(
                "velero",
                {"cloud": "|\n    [default]\n    aws_access_key_id=\n    aws_secret_access_key=\n"},
            ),
            "tmpl/velero-filled.sops.yaml": secret(
                "velero",
                {
                    "cloud": "|\n    [default]\n    aws_access_key_id=\n"
                    "    aws_secret_access_key=Zq8vLw2pRtXy7Kp3Mn9QwErT\n"
                },
            ),
            # the review: a webhook URL (the credential itself) beside one empty token
            "tmpl/alerts.sops.yaml": secret(
                "alerts",
                {
                    "alerts.env": "|\n    SLACK_TOKEN=\n    SLACK_WEBHOOK_URL=https://hooks.slack."
                    "com/services/T04QZ7K2M/B05RX8L3N/q7Wm2ZpK9vR4tY6uX1sD3fGh\n"
                },
            ),
            # a literal secret beside a placeholder is no template
            "tmpl/db.sops.yaml": secret(
                "db", {"username": "app", "password": "hunter2-but-longer", "url": "${DB_URL}"}
            ),
        },
    )
    found = {f.path: f for f in audit(tmp_path).findings if f.rule == "SM002"}
    assert found["tmpl/grafana.sops.yaml"].severity is Severity.INFO
    assert "a template, not a secret" in found["tmpl/grafana.sops.yaml"].message
    assert found["tmpl/db.sops.yaml"].severity is Severity.ERROR
    assert found["tmpl/velero.sops.yaml"].severity is Severity.INFO
    assert found["tmpl/velero-filled.sops.yaml"].severity is Severity.ERROR
    assert found["tmpl/alerts.sops.yaml"].severity is Severity.ERROR


def test_a_credential_id_is_no_setting_beside_placeholders(tmp_path: Path) -> None:
    from secretsmgr.audit.finding import Severity

    from ..helpers import audit

    standard_repo(
        tmp_path,
        {
            "tmpl/vault.sops.yaml": secret(
                "vault",
                {"VAULT_SECRET_ID": "3f1e2d4c-aaaa-bbbb-cccc-1234567890ab", "TOKEN": "${T}"},
            )
        },
    )
    (finding,) = [f for f in audit(tmp_path).findings if f.rule == "SM002"]
    assert finding.severity is Severity.ERROR


# a well-formed but fake ENC value (random-looking bytes, no key made it)
FAKE_ENC = (
    "ENC[AES256_GCM,data:q1w2e3r4t5y6,iv:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=,"
    "tag:AAAAAAAAAAAAAAAAAAAAAA==,type:str]"
)
LOST = (
    "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: app\nstringData:\n"
    f"  DB_PASSWORD: {FAKE_ENC}\n  DB_USER: admin\n"
    '  DB_HOST: hippo-primary.postgres-system.svc\n  DB_PORT: "5432"\n  DB_NAME: myapp\n'
)


def test_enc_values_without_a_sops_block_say_the_metadata_is_lost(tmp_path: Path) -> None:
    """tcurdt/kube (sweep 10): a Secret of ENC[…] values whose sops: block was lost: SM002 said
    'stored in plaintext' and `encrypt -i` (which would encrypt the ENC text as the value), SM001
    reported host, port, name and user beside the encrypted password."""
    from secretsmgr.report.text import render_check

    from ..helpers import audit

    standard_repo(tmp_path, {"apps/db.enc.yaml": LOST, "apps/other.enc.yaml": LOST})
    report = audit(tmp_path)
    found = [f for f in report.findings if f.path == "apps/db.enc.yaml"]
    assert [f.rule for f in found] == ["SM002"], found
    assert "SOPS metadata (the sops: block) is missing" in found[0].message
    assert "plaintext" not in found[0].message
    fix = found[0].fix or ""
    assert fix.startswith("restore it from git history with its sops: block")
    assert "git checkout COMMIT -- apps/db.enc.yaml" in fix
    # the check view prints that fix for each file, not "encrypt each with encrypt -i"
    shown = render_check(report)
    assert "encrypt each" not in shown and shown.count("restore it from git history") == 2


def test_a_real_secret_beside_enc_values_without_a_sops_block_is_still_reported(
    tmp_path: Path,
) -> None:
    from ..helpers import audit

    token = "  API_TOKEN: q8Zr2xLw9vTn4bKp7YcM3sHd\n"
    standard_repo(tmp_path, {"apps/db.enc.yaml": LOST + token, "apps/plain.enc.yaml": secret()})
    found = {(f.rule, f.key_path) for f in audit(tmp_path).findings if f.rule in ("SM001", "SM002")}
    assert ("SM001", "stringData.API_TOKEN") in found
    assert not any(k in (p or "") for _, p in found for k in ("DB_HOST", "DB_PORT", "DB_USER"))
    sm001 = next(f for f in audit(tmp_path).findings if f.key_path == "stringData.API_TOKEN")
    assert (sm001.fix or "").startswith("restore it from git history")
    # a named file in plaintext with no ENC value is still "stored in plaintext"
    plain = next(
        f for f in audit(tmp_path).findings if f.rule == "SM002" and f.path == "apps/plain.enc.yaml"
    )
    assert "stored in plaintext" in plain.message
    assert plain.fix == "secretsmgr encrypt -i apps/plain.enc.yaml"


def test_the_fix_of_a_file_its_rule_would_not_encrypt_gives_it_a_rule_first(
    tmp_path: Path,
) -> None:
    # the review of sweep 12: the fix said `encrypt -i`, which refuses a rule that would
    # encrypt none of the file's values (Helm values under the Secret rule)
    from secretsmgr.audit.engine import run_audit

    root = standard_repo(
        tmp_path / "repo",
        {"apps/vals.sops.yaml": "db:\n  password: hunter2-Xk9f\n"},
    )
    (found,) = [f for f in run_audit(root).findings if f.rule == "SM002"]
    assert found.fix is not None
    assert found.fix.startswith(".sops.yaml rule 1 would encrypt none of its values")
    assert found.fix.endswith("then secretsmgr encrypt -i apps/vals.sops.yaml")
    (warning,) = [f for f in run_audit(root).findings if f.rule == "SM018"]
    assert (warning.fix or "").startswith(".sops.yaml rule 1 would encrypt none of its values")


def test_a_template_naming_a_secret_and_an_issuer_is_a_template(tmp_path: Path) -> None:
    # juftin/home-ops (sweep 13): a SecurityPolicy template (<CLIENT_ID>, <REDIRECT_URL>) named
    # .sops.yaml failed check as plaintext, for its OIDC issuer and the name of the Secret
    # clientSecret refers to
    from ..helpers import audit

    standard_repo(
        tmp_path,
        {
            "specs/oauth-policy.sops.yaml": "kind: SecurityPolicy\nmetadata: {name: oauth}\n"
            "spec:\n  oidc:\n    provider:\n      issuer: https://accounts.google.com\n"
            '    clientID: "<CLIENT_ID>"\n    clientSecret:\n      name: google-oauth\n'
            '    redirectURL: "<REDIRECT_URL>"\n',
        },
    )
    # its catch-all rule encrypts every value (the issuer and the name too)
    (tmp_path / ".sops.yaml").write_text(f"creation_rules:\n  - age: {K1}\n")
    found = [f for f in audit(tmp_path).findings if f.rule == "SM002"]
    assert [(f.severity.value, "template" in f.message) for f in found] == [("info", True)]


_POLICY = """\
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: oauth, namespace: network}
spec:
  targetRefs:
    - group: gateway.networking.k8s.io
      kind: Gateway
      name: envoy-oauth-<GATEWAY_NAME>
  oidc:
    provider: {issuer: "https://accounts.google.com"}
    clientID: "<CLIENT_ID>"
    logoutPath: /logout
  authorization:
    defaultAction: Deny
    rules:
      - name: allow-list
        action: Allow
        principal:
          jwt:
            claims:
              - name: email_verified
                values: ["true"]
              - name: email
                values: [user@example.com]
"""


@pytest.mark.parametrize(
    ("extra", "template"),
    [
        ("", True),
        # a credential's key, a password's form or a random token: a secret, not a template
        ("    token: Summer2024x\n", False),
        ("    cookieDomain: P@ssw0rd!2024\n", False),
        ("    cookieDomain: q7Wm2ZpK9vR4tY8uXb3Nf5Hs\n", False),
        ("    cookieDomain: https://u:hunter2x@idp.example.com/\n", False),
        # the review of this session: a password under a key names_credential did not know
        ("    SMTP_PW: mellon2024gandalf\n", False),
        ("    rootPw: hunter2hunter\n", False),
    ],
)
def test_a_manifest_template_s_enum_values_are_settings(
    tmp_path: Path, extra: str, template: bool
) -> None:
    # juftin/home-ops (sweep 13, left alone at stop 29): the whole SecurityPolicy template
    # failed check, for its enum values (Deny, Allow), an API group, a path and a list of claims
    from ..helpers import audit

    standard_repo(
        tmp_path,
        {
            "specs/oauth-policy.sops.yaml": _POLICY.replace(
                "    logoutPath", extra + "    logoutPath"
            )
        },
    )
    (tmp_path / ".sops.yaml").write_text(f"creation_rules:\n  - age: {K1}\n")
    (found,) = [f for f in audit(tmp_path).findings if f.rule == "SM002"]
    assert (found.severity.value, "template" in found.message) == (
        ("info", True) if template else ("error", False)
    )


def test_a_plain_file_s_values_are_not_judged_as_a_manifest_s(tmp_path: Path) -> None:
    # only a Kubernetes object's plain values pass as settings: a dotenv or plain YAML file's
    # keys are arbitrary, and a value under any of them may be the secret
    from ..helpers import audit

    standard_repo(
        tmp_path,
        {
            "apps/app.sops.env": "DB_PASSWORD=${DB_PASSWORD}\nSIGNING=hunter22\n",
            "apps/vals.sops.yaml": "db: {password: '<PASSWORD>'}\nsigning: hunter22\n",
        },
    )
    (tmp_path / ".sops.yaml").write_text(f"creation_rules:\n  - age: {K1}\n")
    found = {f.path: f.severity.value for f in audit(tmp_path).findings if f.rule == "SM002"}
    assert found == {"apps/app.sops.env": "error", "apps/vals.sops.yaml": "error"}


def test_the_fix_renames_to_the_name_a_creation_rule_matches_first(tmp_path: Path) -> None:
    # sweep 16 (Jonnobrow/cafe: rules for *.sops.yaml only): SM002 said `encrypt -i db.enc.yaml`,
    # which finds no recipients; SM001's rename proposed db.enc.sops.yaml
    from secretsmgr.audit.engine import run_audit

    from ..helpers import sops_yaml, write

    standard_repo(tmp_path, {"apps/db.enc.yaml": secret("db")})
    write(tmp_path, ".sops.yaml", sops_yaml((r"\.sops\.yaml$", [K1])))
    fixes = {f.rule: f.fix for f in run_audit(tmp_path).findings if f.path == "apps/db.enc.yaml"}
    for rule in ("SM001", "SM002"):
        assert (fixes[rule] or "").startswith(
            "mv apps/db.enc.yaml apps/db.sops.yaml && secretsmgr encrypt -i apps/db.sops.yaml"
        )


def test_an_editors_decrypted_copy_is_removed_not_encrypted(tmp_path: Path) -> None:
    # sweep 19 (Deenyoro/AG-Talos-Kubernetes): `.decrypted~config.sops.json`, an editor's
    # plaintext copy beside the real file; the fix encrypted it into a second SOPS file
    from secretsmgr.audit.engine import run_audit

    root = standard_repo(
        tmp_path / "repo",
        {"apps/.decrypted~config.sops.json": '{"db_url": "postgres://u:Tr0ub4dor3@db/app"}\n'},
    )
    (found,) = [f for f in run_audit(root).findings if f.rule == "SM002"]
    assert found.fix == (
        "an editor's decrypted copy (once committed, the values it held stay in git: change "
        "them in the file it copies): remove it and ignore such copies: git rm -q --cached "
        "--ignore-unmatch 'apps/.decrypted~config.sops.json'; rm -f "
        "'apps/.decrypted~config.sops.json'; echo '.decrypted~*' >> .gitignore"
    )


def test_a_toml_template_is_judged_value_by_value(tmp_path: Path) -> None:
    # sweep 52, xitobuh/flux-cluster: glauth's users file (sops keeps .toml in its binary
    # store) held a real bcrypt hash beside two ${BOOTSTRAP_…} passwords, and was an info
    # saying every value it would encrypt is a placeholder
    from secretsmgr.audit.finding import Severity

    from ..helpers import audit

    bcrypt = "24326124313224" + "6b4c7a3958744a32507a4e5171564d7a775a6e4f" * 2
    users = (
        '[[users]]\nname = "svc"\nuidnumber = 5001\n'
        f'passbcrypt = "{bcrypt}"\n\n'
        '[[users]]\nname = "admin"\npassbcrypt = "${BOOTSTRAP_ADMIN_HASH}"\n'
    )
    standard_repo(
        tmp_path,
        {
            "tmpl/glauth-users.sops.toml": users,
            "tmpl/glauth-admins.sops.toml": '[[users]]\nname = "admin"\n'
            'uidnumber = 5002\npassbcrypt = "${BOOTSTRAP_ADMIN_HASH}"\n',
            "tmpl/glauth-raw.sops.toml": "[[users]]\nname = {{ admin_name }}\n",
        },
    )
    found = {f.path: f for f in audit(tmp_path).findings if f.rule == "SM002"}
    assert found["tmpl/glauth-users.sops.toml"].severity is Severity.ERROR
    assert found["tmpl/glauth-admins.sops.toml"].severity is Severity.INFO
    assert found["tmpl/glauth-raw.sops.toml"].severity is Severity.INFO


@pytest.mark.parametrize(
    ("extra", "template"),
    [
        # the attack review: a token under a key that names who or what, as a table's name,
        # in a comment, a webhook URL; a date is a setting by its type, an SSH public key too
        ('user = "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"\n', False),
        ('username = "0123456789abcdef0123456789abcdef01234567"\n', False),
        ('name = "glpat-Xk9mQ2vR7tL4wZ8nB3cD"\n', False),
        (
            'endpoint = "https://hooks.slack.com/services/T04QZ7K2M/B05RX8L3N/q7Wm2ZpK9vR4tY6u"\n',
            False,
        ),
        ('[users."glpat-Xk9mQ2vR7tL4wZ8nB3cD"]\nname = "x"\n', False),
        ("# the old one: glpat-Xk9mQ2vR7tL4wZ8nB3cD\n", False),
        ("started = 1979-05-27T07:32:00Z\n", True),
        (
            'sshkeys = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAABAgMEBQYHCAkKCwwNDg8QERITFBUW'
            'FxgZGhscHR4f admin@laptop"]\n',
            True,
        ),
        ('name = "svc"\nuidnumber = 5001\n', True),
        # the second review: a token in an SSH key line's hosts field
        (
            'sshkeys = ["ghp_aB3dE5fG7hJ9kL1mN3pQ5rS7tV9wX1yZ2c4E ssh-ed25519 AAAAC3NzaC1lZDI1NTE5'
            'AAAAIAABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4f ci"]\n',
            False,
        ),
    ],
)
def test_a_toml_template_holds_no_token_anywhere(
    tmp_path: Path, extra: str, template: bool
) -> None:
    from secretsmgr.audit.finding import Severity

    from ..helpers import audit

    standard_repo(tmp_path, {"tmpl/app.sops.toml": 'password = "${PW}"\n' + extra})
    (found,) = [f for f in audit(tmp_path).findings if f.rule == "SM002"]
    assert (found.severity is Severity.INFO) is template, found.message


_SEALED = """apiVersion: bitnami.com/v1alpha1
kind: SealedSecret
metadata:
  name: cloudflare
  namespace: cert-manager
spec:
  encryptedData:
    api-key: AgBy3i4OJSWK+PiTySYZZA9rO43cGDEq{tail}
  template:
    metadata:
      name: cloudflare
      namespace: cert-manager
    type: Opaque
"""


def test_a_sealed_secret_named_like_a_sops_file_holds_no_value_in_clear(tmp_path: Path) -> None:
    # sweep 56, tropnikovvl/k3s-gitops: SealedSecrets named *.enc.yaml were an SM002 error
    # ("stored in plaintext", check blocked) and four SM019 exposures in history; a value in
    # its template's data is plaintext all the same
    from secretsmgr.audit.finding import Severity
    from tests.audit.helpers import write as write_file
    from tests.gate.helpers import commit, gitops, history_findings

    from ..helpers import audit

    sealed = _SEALED.format(tail="Qm9vN3pL0xR7tY2mW9kB" * 20)
    leaky = sealed + "    data:\n      password: Zq8vN3pL0xR7tY2m\n"
    standard_repo(tmp_path, {"apps/cf.enc.yaml": sealed, "apps/leaky.enc.yaml": leaky})
    found = {f.path: f for f in audit(tmp_path).findings if f.rule == "SM002"}
    assert found["apps/cf.enc.yaml"].severity is Severity.INFO
    assert "SealedSecret" in found["apps/cf.enc.yaml"].message
    assert found["apps/leaky.enc.yaml"].severity is Severity.ERROR
    root = gitops(tmp_path / "r")
    write_file(root, "apps/cf.enc.yaml", sealed)
    commit(root, "sealed")
    (root / "apps/cf.enc.yaml").unlink()
    commit(root, "gone")
    assert ("SM019", "apps/cf.enc.yaml") not in history_findings(root)


def test_a_plain_sops_named_dotenv_no_rule_matches_gets_a_rule_first(tmp_path: Path) -> None:
    # sweep 63, amreshh/proxmox: a root `tf.enc.env` under a repository whose only .sops.yaml
    # is in flux/; the fix `secretsmgr encrypt -i tf.enc.env` failed "no .sops.yaml found"
    from secretsmgr.audit.engine import run_audit
    from tests.audit.helpers import K1, sops_yaml, standard_repo, write

    standard_repo(tmp_path, {})
    (tmp_path / ".sops.yaml").unlink()
    write(tmp_path, "flux/.sops.yaml", sops_yaml((r"\.enc\.yaml$", [K1])))
    write(tmp_path, "tf.enc.env", "TF_VAR_token=Zq8vN3pL0xR7Wm2Q\n")
    (found,) = [f for f in run_audit(tmp_path).findings if f.rule == "SM002"]
    assert found.fix == (
        "add a .sops.yaml creation rule that matches tf.enc.env (none does), then secretsmgr "
        "encrypt -i tf.enc.env"
    )


def test_a_plaintext_file_of_no_secret_shape_gets_a_rule_of_its_own_that_works(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the sweep of stop 52 (david-driscoll/stargate-command-cluster): talos/talsecret.sops.yaml
    # in clear, no rule for it; the fix added an .enc.yaml rule with ^(data|stringData)$ and a
    # rename, and encrypt then refused it (no value would be encrypted)
    import re

    from secretsmgr.audit.engine import run_audit
    from tests.cli.runner import run

    standard_repo(tmp_path, {})
    (tmp_path / ".sops.yaml").write_text(
        f"creation_rules:\n  - path_regex: ^apps/\n    encrypted_regex: ^(data|stringData)$\n"
        f"    age: {K1}\n"
    )
    (tmp_path / "talos").mkdir()
    talos = "cluster:\n  id: abc\n  secret: Kq9wZ2xP7vR4mN8tY3uB6sD1fG5hJ0lA\n"
    (tmp_path / "talos" / "talsecret.sops.yaml").write_text(talos)
    (finding,) = [f for f in run_audit(tmp_path).findings if f.rule == "SM002"]
    assert finding.fix is not None and "encrypted_regex: ^(data" not in finding.fix, finding.fix
    assert "rename" not in finding.fix
    regex = re.search(r"path_regex: (\S+),", finding.fix)
    assert regex is not None and regex.group(1) == r"(^|/)talsecret\.sops\.yaml$"
    # pasted: the rule, then the command it names
    with (tmp_path / ".sops.yaml").open("a") as rules:
        rules.write(f"  - path_regex: {regex.group(1)}\n    age: {K1}\n")
    code, _out, err = run(
        ["--repo", str(tmp_path), "encrypt", "-i", str(tmp_path / "talos/talsecret.sops.yaml")],
        capsys,
    )
    assert (code, err) == (0, "")
    assert not [f for f in run_audit(tmp_path).findings if f.rule == "SM002"]
