"""SM003 unencrypted-value: a value the file's rule says must be encrypted, in clear."""

from __future__ import annotations

from pathlib import Path

import pytest

from secretsmgr.audit.finding import AuditReport
from secretsmgr.sops import EncryptionRule, FileFormat, RuleKind

from ..helpers import K1, enc, secret, standard_repo, write
from .cases import Case, ids, insert_after, run_case


def hit(root: Path) -> None:
    text = enc(secret("db"))
    text = insert_after(text, "stringData:", "    ADMIN_TOKEN: plain-value")
    text = insert_after(text, "stringData:", "    PORT: 5432")
    write(root, ".sops.yaml", "")
    standard_repo(root, {"apps/db.enc.yaml": text})


def hit_check(report: AuditReport) -> None:
    keys = {f.key_path for f in report.findings if f.rule == "SM003"}
    assert keys == {"stringData.ADMIN_TOKEN", "stringData.PORT"}
    assert all("plain-value" not in f.message for f in report.findings)


def dotenv_hit(root: Path) -> None:
    default = EncryptionRule(RuleKind.UNENCRYPTED_SUFFIX, "_unencrypted")
    text = enc("API_KEY=abc\nMODE_unencrypted=debug\n", rule=default, fmt=FileFormat.DOTENV)
    standard_repo(root, {})
    write(
        root,
        ".sops.yaml",
        "creation_rules:\n  - path_regex: \\.env$\n    age: " + K1 + "\n",
    )
    write(root, "apps/app.env", "EXTRA=plain\n" + text)
    write(
        root,
        "apps/kustomization.yaml",
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        "secretGenerator:\n  - name: app\n    envs:\n      - app.env\n",
    )


def ini_hit(root: Path) -> None:
    text = enc("[db]\nuser = admin\n", rule=EncryptionRule(), fmt=FileFormat.INI)
    # a key added by hand in clear to a section the rule encrypts; the clear one is fine
    text = text.replace("[db]\n", "[db]\npassword = plain-value\n", 1)
    text = text.replace("[sops]\n", "[public_unencrypted]\nnote = visible\n\n[sops]\n", 1)
    standard_repo(root, {"apps/app.sops.ini": text})
    write(root, ".sops.yaml", "creation_rules:\n  - path_regex: \\.ini$\n    age: " + K1 + "\n")
    write(
        root,
        "apps/kustomization.yaml",
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        "secretGenerator:\n  - name: app\n    files:\n      - app.sops.ini\n",
    )


def ini_hit_check(report: AuditReport) -> None:
    found = [f for f in report.findings if f.rule == "SM003"]
    assert [f.key_path for f in found] == ["db.password"]
    assert all("plain-value" not in f.message for f in report.findings)


def miss(root: Path) -> None:
    text = enc(secret("db", {"password": "pw", "empty": '""', "nothing": "null"}))
    # A hand-written plain comment where sops would have encrypted one: not a value.
    text = insert_after(text, "stringData:", "    # rotated by the DBA team")
    # With encrypted_regex ^(data|stringData)$ metadata and kind stay in clear: correct.
    standard_repo(root, {"apps/db.enc.yaml": text})


CASES = [
    Case("SM003-hit", hit, {("SM003", "apps/db.enc.yaml")}, verify=hit_check),
    Case("SM003-dotenv-hit", dotenv_hit, {("SM003", "apps/app.env")}),
    Case("SM003-ini-hit", ini_hit, {("SM003", "apps/app.sops.ini")}, verify=ini_hit_check),
    Case("SM003-miss", miss, set()),
]


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_case(case: Case, tmp_path: Path) -> None:
    run_case(case, tmp_path)


def test_the_fix_names_the_rule_when_re_encrypting_would_leave_the_value_in_clear(
    tmp_path: Path,
) -> None:
    """sulibot/home-ops: a rule encrypting only ^(adminKey|userKey)$ leaves a Ceph Secret's
    stringData.userID in clear; re-encrypting under that rule changes nothing, so the fix says
    to widen it first. Where the rule would encrypt the value, the fix re-encrypts."""
    from ..helpers import audit

    narrow = EncryptionRule(RuleKind.ENCRYPTED_REGEX, "^(adminKey|userKey)$")
    ceph = secret("ceph", {"userID": "csi-user", "userKey": "k3y-Value"})
    standard_repo(tmp_path, {})
    write(
        tmp_path,
        ".sops.yaml",
        "creation_rules:\n"
        "  - path_regex: ceph\\.enc\\.yaml$\n    encrypted_regex: ^(adminKey|userKey)$\n"
        f"    age: {K1}\n"
        "  - path_regex: \\.enc\\.yaml$\n    encrypted_regex: ^(data|stringData)$\n"
        f"    age: {K1}\n",
    )
    write(tmp_path, "apps/ceph.enc.yaml", enc(ceph, rule=narrow))
    write(tmp_path, "apps/other.enc.yaml", enc(ceph, rule=narrow))
    fixes = {(f.path, f.key_path): f.fix for f in audit(tmp_path).findings if f.rule == "SM003"}
    ceph_fix = fixes[("apps/ceph.enc.yaml", "stringData.userID")]
    assert ceph_fix is not None
    assert ceph_fix.startswith(".sops.yaml rule 1 leaves stringData.userID in clear too: widen")
    other_fix = fixes[("apps/other.enc.yaml", "stringData.userID")]
    assert other_fix is not None and other_fix.startswith("(P=$(mktemp /dev/shm/")


def test_the_printed_fix_for_a_value_added_by_hand_works(tmp_path: Path) -> None:
    """An operator's acceptance run: the printed re-encrypt one-liner failed at decrypt (sops
    never writes such a value in clear; the file no longer decrypts) and still exited 0. Then
    the fix restored the file from git first, which does nothing once the value is committed:
    ``set`` now opens such a file itself."""
    import shlex

    from tests.cli.runner import run_process
    from tests.conftest import run_sops
    from tests.rotate.helpers import (
        DEMO,
        DEMO_KEY,
        REDIS,
        commit_all,
        git_copy,
        subprocess_env,
    )

    repo = git_copy(DEMO, tmp_path / "demo")
    path = repo / REDIS
    path.write_text(insert_after(path.read_text(), "stringData:", "    extra: added-by-hand"))
    commit_all(repo, "leak")
    env = subprocess_env(SOPS_AGE_KEY_FILE=str(DEMO_KEY))
    found = run_process(["audit"], repo=repo, env=env, expect=1).out.splitlines()
    (at,) = [n for n, line in enumerate(found) if " SM003 " in line]
    fix = found[at + 1].strip().removeprefix("fix: ")
    command = fix.partition("): ")[2].partition(", or drop it: ")[0]
    args = shlex.split(command)
    assert args[:2] == ["secretsmgr", "set"]
    run_process(args[1:], repo=repo, env=env, stdin="now-encrypted", expect=0)
    opened = run_sops(
        ["decrypt", "--extract", '["stringData"]["extra"]', str(path)], key_file=DEMO_KEY
    )
    assert opened.returncode == 0 and opened.stdout == "now-encrypted"
    clean = run_process(["audit"], repo=repo, env=env)
    assert " SM003 " not in clean.out
    assert "added-by-hand" not in path.read_text()


def test_a_sops_file_whose_rule_encrypts_no_value_is_reported(tmp_path: Path) -> None:
    # sweep 12 (KakatkarAkshay/cloudlab_applications): Helm values re-encrypted under the
    # Secret rule hold every value in clear beneath a valid sops: block; no rule said a word
    from secretsmgr.audit.engine import run_audit
    from secretsmgr.audit.finding import Severity

    flux = EncryptionRule(RuleKind.ENCRYPTED_REGEX, "^(data|stringData)$")
    values = "env:\n  - name: API_KEY\n    value: sk-Xk9f-hunter2-Qz\nreplicas: 2\n"
    standard_repo(
        tmp_path,
        {
            "apps/app.values.enc.yaml": enc(values, rule=flux),
            # structure and placeholders only: nothing to encrypt, nothing to say
            "apps/cm.enc.yaml": enc(
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\nvalue: ${V}\n", rule=flux
            ),
            "apps/db.enc.yaml": enc(secret("db"), rule=flux),
        },
    )
    found = [f for f in run_audit(tmp_path).findings if f.rule == "SM003"]
    # an API key among them: an error at its key path (sweep 20); settings alone stay a warning
    assert [(f.path, f.severity, f.key_path) for f in found] == [
        ("apps/app.values.enc.yaml", Severity.ERROR, "env.value")
    ]
    assert found[0].message.startswith("no value is encrypted: the file's rule (encrypted_regex")
    assert "and 2 more values in clear" in found[0].message
    assert "sk-Xk9f" not in found[0].message


def test_a_dotenv_value_its_rule_leaves_clear_is_reported_where_a_generator_reads_it(
    tmp_path: Path,
) -> None:
    # the review of sweep 13: API_TOKEN beside an encrypted DB_PASSWORD (encrypted_regex
    # ^(DB_.*)$) became a Secret value in plaintext under envs:, and check passed
    from secretsmgr.audit.engine import run_audit

    partial = EncryptionRule(RuleKind.ENCRYPTED_REGEX, "^(DB_.*)$")
    # the settings such a rule leaves readable on purpose are no findings (vaskozl/home-infra)
    text = enc(
        "DB_PASSWORD=Tr0ub4dor-and-3\nAPI_TOKEN=q7Wm2ZpKx9\nBASE_URL=https://api.example.org\n"
        "DO_NOT_TRACK=1\n",
        rule=partial,
        fmt=FileFormat.DOTENV,
    )
    standard_repo(
        tmp_path,
        {
            "apps/kustomization.yaml": "secretGenerator:\n  - name: app\n    envs: [app.enc.env]\n",
            "apps/app.enc.env": text,
            "apps/unread.enc.env": text,  # no generator reads it: the rule's choice stands
        },
    )
    found = [f for f in run_audit(tmp_path).findings if f.rule == "SM003"]
    assert [(f.path, f.key_path, f.severity.value) for f in found] == [
        ("apps/app.enc.env", "API_TOKEN", "error")
    ]


def test_a_secret_whose_kind_is_encrypted_still_has_its_values_judged(tmp_path: Path) -> None:
    # sweeps 14 and 15: under sops's default rule (every value but *_unencrypted encrypted,
    # kind too) stringData.password_unencrypted passed check: the object was no Secret to us
    from secretsmgr.audit.engine import run_audit

    text = enc(
        secret("db", {"password_unencrypted": "q7Wm2ZpKx9vR4tY8", "user": "app"}),
        rule=EncryptionRule(),
    )
    standard_repo(tmp_path, {"apps/db.enc.yaml": text})
    found = [
        (f.key_path, f.severity.value) for f in run_audit(tmp_path).findings if f.rule == "SM003"
    ]
    assert found == [("stringData.password_unencrypted", "error")]


def test_a_secret_a_rule_encrypting_nothing_left_in_clear_is_an_error_and_an_exposure(
    tmp_path: Path,
) -> None:
    # sweep 20 (kaminek/infrastructure): CLOUDFLARE_API_KEY alone, "encrypted" under the
    # Secret rule ^(data|stringData)$: the token stayed in clear beneath a sops: block; check
    # passed (a warning) and audit --history never counted it after the author re-encrypted it
    from secretsmgr.audit.engine import run_audit
    from secretsmgr.audit.finding import Severity
    from secretsmgr.gate.history import walk_repository
    from tests.gate.helpers import commit, gitops, history_findings

    flux = EncryptionRule(RuleKind.ENCRYPTED_REGEX, "^(data|stringData)$")
    token = "CLOUDFLARE_API_KEY: Zq8rT2mVx91LkPwAb4Xy7Qe3Rt6Uo9Ip0As2Df5G\nzone: example.org\n"
    root = gitops(tmp_path / "r", {"infra/issuer.enc.yaml": enc(token, rule=flux)})
    found = [f for f in run_audit(root).findings if f.rule == "SM003"]
    assert [(f.path, f.severity, f.key_path) for f in found] == [
        ("infra/issuer.enc.yaml", Severity.ERROR, "CLOUDFLARE_API_KEY")
    ]
    assert "a secret, readable by anyone" in found[0].message
    assert "Zq8rT2" not in found[0].message + (found[0].fix or "")
    # settings alone under such a rule stay a warning
    write(root, "infra/issuer.enc.yaml", enc("zone: example.org\nreplicas: 2\n", rule=flux))
    found = [f for f in run_audit(root).findings if f.rule == "SM003"]
    assert [f.severity for f in found] == [Severity.WARNING]
    # history: the token was readable from the first commit, whatever came after
    write(root, "infra/issuer.enc.yaml", enc(secret("issuer", {"CLOUDFLARE_API_KEY": "rolled"})))
    commit(root, "encrypt it properly")
    exposed = {(e.key_path, e.rule) for e in walk_repository(root).exposures}
    assert ("CLOUDFLARE_API_KEY", "SM003") in exposed
    assert ("zone", "SM003") not in exposed
    assert ("SM019", "infra/issuer.enc.yaml") in history_findings(root)


def test_the_review_secret_values_and_settings_under_a_rule_that_encrypts_nothing(
    tmp_path: Path,
) -> None:
    # the review of sweep 20's change: (1) a Secret's stringData under `^data$` (nothing
    # encrypted) passed check, its values judged by their look (ADMIN: hunter2); (2) a values
    # file of settings about secrets (existingSecret, passwordKey, token_url, tokenTTL) became
    # an error; (3) an env entry's value was judged under `value`, not its name
    from secretsmgr.audit.engine import run_audit
    from secretsmgr.audit.finding import Severity
    from secretsmgr.gate.history import walk_repository
    from tests.gate.helpers import commit, gitops

    data_only = EncryptionRule(RuleKind.ENCRYPTED_REGEX, "^data$")
    flux = EncryptionRule(RuleKind.ENCRYPTED_REGEX, "^(data|stringData)$")
    settings = (
        "admin:\n  existingSecret: grafana-admin\n  userKey: admin-user\n"
        "  passwordKey: admin-password\ntls:\n  - secretName: grafana-tls\n"
        "auth:\n  auth_url: https://auth.example.com/oauth/authorize\n"
        "  token_url: https://auth.example.com/token\n  tokenTTL: 24h\n  authType: basic\n"
        "  signingAlgorithm: RS256\n  keySize: 4096\n  cookieDomain: example.com\n"
    )
    env = "env:\n  - name: DB_PASSWORD\n    value: hunter2x\n  - name: LOG_LEVEL\n    value: info\n"
    files = {
        "apps/users.enc.yaml": enc(secret("users", {"ADMIN": "hunter2"}), rule=data_only),
        "apps/grafana-values.enc.yaml": enc(settings, rule=flux),
        "apps/app-values.enc.yaml": enc(env, rule=flux),
    }
    root = gitops(tmp_path / "r", files)
    found = {f.path: f for f in run_audit(root).findings if f.rule == "SM003"}
    assert (found["apps/users.enc.yaml"].severity, found["apps/users.enc.yaml"].key_path) == (
        Severity.ERROR,
        "stringData.ADMIN",
    )
    assert found["apps/grafana-values.enc.yaml"].severity is Severity.WARNING
    assert (
        found["apps/app-values.enc.yaml"].severity,
        found["apps/app-values.enc.yaml"].key_path,
    ) == (
        Severity.ERROR,
        "env.value",
    )
    # history: after SM003's own fix (a rule with no regex), no exposure of the settings
    write(root, "apps/grafana-values.enc.yaml", enc(settings, rule=EncryptionRule()))
    commit(root, "encrypt the values whole")
    exposed = {(e.path, e.key_path) for e in walk_repository(root).exposures}
    assert not [p for p in exposed if p[0] == "apps/grafana-values.enc.yaml"], exposed
    assert ("apps/users.enc.yaml", "stringData.ADMIN") in exposed
    assert ("apps/app-values.enc.yaml", "env.value") in exposed


def test_the_second_review_secret_named_keys_and_env_switches(tmp_path: Path) -> None:
    # the second review: `secretKey: super-secret-minio-pass` and `SECRET_KEY: …` were taken
    # for the name of a Secret's entry (passwordKey: admin-password is one), so check passed
    # them; `{name: DB_PASSWORD_FILE, value: /run/secrets/db}` and a "false" switch under a
    # password name were errors
    from secretsmgr.audit.engine import run_audit
    from secretsmgr.audit.finding import Severity
    from tests.gate.helpers import gitops

    flux = EncryptionRule(RuleKind.ENCRYPTED_REGEX, "^(data|stringData)$")
    keyed = "minio:\n  secretKey: super-secret-minio-pass\n  passwordKey: admin-password\n"
    switches = (
        "env:\n  - name: DB_PASSWORD_FILE\n    value: /run/secrets/db\n"
        "  - name: OIDC_PASSWORD_LOGIN_ENABLED\n    value: 'false'\n"
    )
    files = {
        "apps/minio-values.enc.yaml": enc(keyed, rule=flux),
        "apps/app-values.enc.yaml": enc(switches, rule=flux),
    }
    root = gitops(tmp_path / "r", files)
    found = {f.path: f for f in run_audit(root).findings if f.rule == "SM003"}
    minio = found["apps/minio-values.enc.yaml"]
    assert (minio.severity, minio.key_path) == (Severity.ERROR, "minio.secretKey")
    assert found["apps/app-values.enc.yaml"].severity is Severity.WARNING


def test_a_webhook_whose_url_is_the_credential_is_a_secret_under_a_url_key(tmp_path: Path) -> None:
    # the third review: a Slack webhook under `webhook_url` was an SM018 error but no SM003
    # error or history exposure (a URL under a url key is a setting, unless it is one of these)
    from secretsmgr.audit.engine import run_audit
    from secretsmgr.audit.finding import Severity
    from tests.gate.helpers import gitops

    flux = EncryptionRule(RuleKind.ENCRYPTED_REGEX, "^(data|stringData)$")
    hook = "https://hooks.slack.com/services/T0ABCDEFG/B0HIJKLMN/q7Wm2ZpK9vR4tY8uXb3NcD5f"
    values = f"alerts:\n  webhook_url: {hook}\n  homepage_url: https://example.org/docs\n"
    root = gitops(tmp_path / "r", {"apps/alerts.enc.yaml": enc(values, rule=flux)})
    (found,) = [f for f in run_audit(root).findings if f.rule == "SM003"]
    assert (found.severity, found.key_path) == (Severity.ERROR, "alerts.webhook_url")


def test_sweep_22_references_and_identifiers_under_a_rule_that_encrypts_nothing(
    tmp_path: Path,
) -> None:
    # sweep 22: a ClusterIssuer's `apiTokenSecretRef: {name, key: api-token}` (mebezac) and a
    # DNSEndpoint's tunnel host `<uuid>.cfargotunnel.com` were errors for a secret; a Talos
    # config's image references, API versions and kinds were history exposures (Jdavid77)
    from secretsmgr.audit.engine import run_audit
    from secretsmgr.audit.finding import Severity
    from secretsmgr.gate.history import walk_repository
    from tests.gate.helpers import commit, gitops

    flux = EncryptionRule(RuleKind.ENCRYPTED_REGEX, "^(data|stringData)$")
    issuer = (
        "apiVersion: cert-manager.io/v1\nkind: ClusterIssuer\nmetadata:\n  name: letsencrypt\n"
        "spec:\n  acme:\n    email: ops@example.org\n    solvers:\n      - dns01:\n"
        "          cloudflare:\n            apiTokenSecretRef:\n"
        "              name: cert-manager-secret\n              key: api-token\n"
    )
    endpoint = (
        "apiVersion: externaldns.k8s.io/v1alpha1\nkind: DNSEndpoint\nmetadata:\n  name: tunnel\n"
        "spec:\n  endpoints:\n    - dnsName: ingress.example.org\n      recordType: CNAME\n"
        "      targets:\n        - 3f2a1c9e-5b7d-4e8f-9a0b-1c2d3e4f5a6b.cfargotunnel.com\n"
    )
    talos = (
        "machine:\n  token: q7wm2z.pkx9vr4ty8zz1abc\n  install:\n"
        "    image: ghcr.io/siderolabs/installer:v1.7.0\ncluster:\n  apiServer:\n"
        "    image: registry.k8s.io/kube-apiserver:v1.30.0\n    admissionControl:\n"
        "      - name: PodSecurity\n        configuration:\n"
        "          apiVersion: pod-security.admission.config.k8s.io/v1alpha1\n"
        "          kind: PodSecurityConfiguration\n  extraManifests:\n"
        "    - https://raw.githubusercontent.com/example/approver/main/deploy/install.yaml\n"
    )
    files = {
        "apps/issuer.sops.yaml": enc(issuer, rule=flux),
        "apps/endpoint.sops.yaml": enc(endpoint, rule=flux),
        "talos/controlplane.sops.yaml": enc(talos, rule=flux),
    }
    root = gitops(tmp_path / "r", files)
    found = {f.path: f for f in run_audit(root).findings if f.rule == "SM003"}
    assert found["apps/issuer.sops.yaml"].severity is Severity.WARNING
    assert found["apps/endpoint.sops.yaml"].severity is Severity.WARNING
    talos_finding = found["talos/controlplane.sops.yaml"]
    assert (talos_finding.severity, talos_finding.key_path) == (Severity.ERROR, "machine.token")
    write(root, "talos/controlplane.sops.yaml", enc(talos, rule=EncryptionRule()))
    commit(root, "encrypt it whole")
    exposed = sorted(e.key_path for e in walk_repository(root).exposures)
    assert exposed == ["machine.token"]


def test_the_review_of_sweep_22_secrets_in_configs_args_and_refs_stay_errors(
    tmp_path: Path,
) -> None:
    # the review of sweep 22's change: a password inside a config kept as text, in an
    # argument, in a connection string, and beside `username` under a `…Ref` mapping became
    # warnings (check passed) and were no history exposures any more
    from secretsmgr.audit.engine import run_audit
    from secretsmgr.audit.finding import Severity
    from secretsmgr.gate.history import walk_repository
    from tests.gate.helpers import commit, gitops

    flux = EncryptionRule(RuleKind.ENCRYPTED_REGEX, "^(data|stringData)$")
    head = "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: {n}\n"
    values = {
        "config": "spec:\n  values:\n    config: |\n      database:\n"
        "        password: Xk9vQ2mZ7pL4wq\n",
        "args": "spec:\n  values:\n    extraArgs:\n      - --db-password=Rt7wP2qL9zXk4m\n",
        "conn": "spec:\n  values:\n    connection: "
        '"Server=db;User Id=sa;Password=Qm4zX8kL2pV7rt;"\n',
        "ref": "spec:\n  values:\n    smtpAuthRef:\n      username: mailer\n"
        "      password: Lp3vZ9qX7mK2wt\n",
        # the regression run over sweeps 19 and 20 (1Solon): a cloudflared tunnel token
        "tunnel": "spec:\n  values:\n    args: [tunnel, run, --token, "
        "eyJhIjoiMGQ0ZmE3YjEiLCJ0IjoiNmQ5ZTFhNDIiLCJzIjoiWXpReU9UTTIifQ]\n",
    }
    files = {f"apps/{n}.sops.yaml": enc(head.format(n=n) + v, rule=flux) for n, v in values.items()}
    root = gitops(tmp_path / "r", files)
    found = {f.path: f for f in run_audit(root).findings if f.rule == "SM003"}
    assert {p: f.severity for p, f in found.items()} == dict.fromkeys(files, Severity.ERROR)
    for path in files:
        write(root, path, enc(head.format(n="x") + "spec: {}\n", rule=flux))
    commit(root, "take them out")
    exposed = {e.path for e in walk_repository(root).exposures}
    assert exposed == set(files)


def test_the_second_review_known_formats_and_variables_in_a_file_encrypting_nothing() -> None:
    # the second review: under a key naming no secret, known formats beyond the first list (an
    # age identity, SendGrid, a Google key, a Telegram bot token) and a generated token were
    # no secrets any more, while $(VAR) in a connection string and a shell's PWD= were
    from secretsmgr.repo.sopsentry import clear_secrets
    from secretsmgr.sops.tree import MapNode

    secrets = {
        "age": "AGE-SECRET-KEY-1" + "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L" * 2,
        "sendgrid": "SG." + "a1B2c3D4e5F6g7H8i9J0kL" + "." + "Zq8vLw2pRt" * 4,
        "google": "AIza" + "Sy" + "b1C2d3E4f5G6h7I8j9K0l1M2n3O4p5Q6r",
        "telegram": "123456789:" + "AAE" + "q7Wm2ZpKx9vR4tY8uXb3N5c6Dd7Ee8Ff",
        "generated": "Zq8vLw2pRtXy7Kp3Mn9QwErTyUiOp12345",
    }
    settings = {
        "dsn": "Host=db;Username=app;Password=$(POSTGRES_PASSWORD);Database=app",
        "windows": "Server=db;Password=%DB_PASSWORD%;",
        "script": "cd /tmp && PWD=/opt/app ./run",
        # the regression run (drag0n141's Talos config, sweep 21): an image's hex digest beside
        # a variable, and SOPS ciphertext, are no generated tokens
        "image": "factory.talos.dev/installer/de3b865124c5616da8084826167f8c0b:${TALOS_VERSION}",
        "ciphertext": "ENC[AES256_GCM,data:Xy7Qp9Lm2Zt8Kw3Rv5Nb4Hj6Gf1Ds0Aq==,iv:Ab3Cd4Ef5Gh6Ij7K"
        "l8Mn9Op0Qr=,tag:Qw1Er2Ty3Ui4Op5As6Df7Gh8==,type:str]",
    }
    rule = EncryptionRule(RuleKind.ENCRYPTED_REGEX, "^(data|stringData)$")
    doc = MapNode([(f"arg_{k}", v) for k, v in {**secrets, **settings}.items()])
    assert sorted(clear_secrets([doc], rule)) == sorted(f"arg_{k}" for k in secrets)


def test_a_number_tuning_a_secret_word_is_a_setting_under_a_rule_that_encrypts_nothing(
    tmp_path: Path,
) -> None:
    # sweep 24, spiceratops/k8s-gitops: qbittorrent tools' tracker config under a Secret's
    # `^(data|stringData)$` rule, `required_seed_ratio: 1.01` and `required_seed_days: 7.1`,
    # was an SM003 error and two SM019 exposures: "seed" names a secret, a ratio of one none
    from secretsmgr.audit.engine import run_audit
    from secretsmgr.audit.finding import Severity
    from secretsmgr.gate.history import walk_repository
    from tests.gate.helpers import gitops

    flux = EncryptionRule(RuleKind.ENCRYPTED_REGEX, "^(data|stringData)$")
    trackers = (
        "trackers:\n  - name: alpharatio\n    urls: [alpharatio.cc]\n"
        "    required_seed_ratio: 1.01\n    required_seed_days: 7.1\n"
        "    max_seed_hours: 48\n    session_count: 3\n"
    )
    wallet = "wallet:\n  seed: 48213907\n  seed_days: 7\n"  # the seed itself, a number
    files = {
        "apps/trackers.enc.yaml": enc(trackers, rule=flux),
        "apps/wallet.enc.yaml": enc(wallet, rule=flux),
    }
    root = gitops(tmp_path / "r", files)
    found = {f.path: f for f in run_audit(root).findings if f.rule == "SM003"}
    assert found["apps/trackers.enc.yaml"].severity is Severity.WARNING
    assert (found["apps/wallet.enc.yaml"].severity, found["apps/wallet.enc.yaml"].key_path) == (
        Severity.ERROR,
        "wallet.seed",
    )
    exposed = {(e.path, e.key_path) for e in walk_repository(root).exposures}
    assert exposed == {("apps/wallet.enc.yaml", "wallet.seed")}


def test_the_fix_for_a_value_added_by_hand_under_data_says_base64_and_works(
    tmp_path: Path,
) -> None:
    """sweep 41 (sayedppqq/fluxcd-proj): the fix for `data.api-token` added in clear was `set`
    reading stdin, which refuses text that is no base64 under a Secret's data; the fix says so
    now, and the value piped through base64 is taken."""
    import base64
    import shlex

    from tests.cli.runner import run_process
    from tests.conftest import run_sops
    from tests.rotate.helpers import DEMO, DEMO_KEY, REDIS, commit_all, git_copy, subprocess_env

    repo = git_copy(DEMO, tmp_path / "demo")
    path = repo / REDIS
    path.write_text(insert_after(path.read_text(), "type: Opaque", "data:\n  api-token: dmFsdWU="))
    commit_all(repo, "leak")
    env = subprocess_env(SOPS_AGE_KEY_FILE=str(DEMO_KEY))
    found = run_process(["audit"], repo=repo, env=env, expect=1).out.splitlines()
    (at,) = [n for n, line in enumerate(found) if " SM003 " in line]
    fix = found[at + 1].strip().removeprefix("fix: ")
    assert "under a Secret's data, pipe it through base64 -w0 first" in fix
    args = shlex.split(fix.partition("): ")[2].partition(", or drop it: ")[0])
    assert args[:2] == ["secretsmgr", "set"]
    encoded = base64.b64encode(b"fresh-token-42").decode()
    run_process(args[1:], repo=repo, env=env, stdin=encoded, expect=0)
    opened = run_sops(
        ["decrypt", "--extract", '["data"]["api-token"]', str(path)], key_file=DEMO_KEY
    )
    assert opened.returncode == 0 and opened.stdout == encoded
    assert " SM003 " not in run_process(["audit"], repo=repo, env=env).out
    assert "dmFsdWU=" not in path.read_text()


def test_a_certificate_beside_its_encrypted_key_is_public(tmp_path: Path) -> None:
    """sweep 43, justin8/home-cluster: a sealed-secrets controller key backup (a List holding a
    kubernetes.io/tls Secret) under `encrypted_regex: ^(tls\\.key)$` left the certificate in
    clear on purpose; SM003 blocked check on it. A value in clear that is no certificate beside
    it is still reported."""
    import base64

    from secretsmgr.audit.engine import run_audit
    from secretsmgr.sops.model import EncryptionRule, RuleKind
    from tests.audit.helpers import CERT_PEM

    cert = CERT_PEM
    crt = base64.b64encode(cert.encode()).decode()
    plain = (
        "apiVersion: v1\nkind: List\nitems:\n  - apiVersion: v1\n    kind: Secret\n"
        "    metadata: {name: sealed-secrets-key}\n    type: kubernetes.io/tls\n    data:\n"
        f"      tls.crt: {crt}\n      tls.key: c2VjcmV0LWtleS1ieXRlcw==\n"
    )
    rule = EncryptionRule(RuleKind.ENCRYPTED_REGEX, r"^(tls\.key)$")
    standard_repo(tmp_path, {"apps/sealed-secrets-key.sops.yaml": enc(plain, rule=rule)})
    assert not [f for f in run_audit(tmp_path).findings if f.rule == "SM003"]
    token = base64.b64encode(b"Q7mZx2Lk9PwR4tVb").decode()
    with_token = plain + f"      token: {token}\n"
    standard_repo(tmp_path / "b", {"apps/sealed-secrets-key.sops.yaml": enc(with_token, rule=rule)})
    found = {f.key_path for f in run_audit(tmp_path / "b").findings if f.rule == "SM003"}
    assert found == {"items.0.data.token"}


@pytest.mark.parametrize(
    "value",
    [
        # the attack review: each passed as public material beside the encrypted key
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl "
        "token=ghp_ZZZZzzzzYYYYyyyyXXXXxxxxWWWWwwww0123",
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl "
        "hunter2hunter2",
        "-----BEGIN CERTIFICATE-----\n"
        "MC4CAQAwBQYDK2VwBCIEIOj2b3c9Nm4pqY7b0R0ZkM1rJd5b6y8Gm1kZ0c6X7Q2a\n"
        "-----END CERTIFICATE-----\n",
        "-----BEGIN CERTIFICATE-----\ncGFzc3dvcmQ9WnE4dkx3MnBSdDl4S200Tg==\n"
        "-----END CERTIFICATE-----\n",
    ],
)
def test_a_private_value_dressed_as_public_material_is_still_reported(
    tmp_path: Path, value: str
) -> None:
    import json

    from secretsmgr.audit.engine import run_audit
    from secretsmgr.sops.model import EncryptionRule, RuleKind

    plain = (
        "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData:\n"
        f"  pub: {json.dumps(value)}\n  tls.key: c2VjcmV0\n"
    )
    rule = EncryptionRule(RuleKind.ENCRYPTED_REGEX, r"^(tls\.key)$")
    standard_repo(tmp_path, {"apps/s.sops.yaml": enc(plain, rule=rule)})
    found = {f.key_path for f in run_audit(tmp_path).findings if f.rule == "SM003"}
    assert found == {"stringData.pub"}


def test_the_fix_for_a_value_in_clear_in_a_later_document_does_not_say_set(
    tmp_path: Path,
) -> None:
    """sweep 71: a value added in clear to a Secret file's second document got the fix
    `secretsmgr set FILE stringData.C`, which acts on the first document and was refused; the
    fix of a value in the first document also offers the key-less restore."""
    import re
    import shlex
    import subprocess

    from secretsmgr.audit.engine import run_audit

    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)

    two = secret("one", {"A": "x1"}) + "---\n" + secret("two", {"B": "x2"})
    standard_repo(tmp_path, {"apps/two.enc.yaml": enc(two), "apps/one.enc.yaml": enc(secret())})
    git("init", "-q")
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "clean")
    for name, after in (("two.enc.yaml", "  name: two\n"), ("one.enc.yaml", "  name: db\n")):
        path = tmp_path / "apps" / name
        text = path.read_text()
        at = text.index("stringData:", text.index(after)) + len("stringData:\n")
        path.write_text(text[:at] + "    C: hunter2-in-clear\n" + text[at:])
    fixes = {
        f.path: f.fix or ""
        for f in run_audit(tmp_path, keyless_only=True).findings
        if f.rule == "SM003" and f.key_path == "stringData.C"
    }
    later = fixes["apps/two.enc.yaml"]
    assert later.startswith("stringData.C is in document 2, and set and unset act on the first")
    assert "secretsmgr set" not in later and "secretsmgr edit apps/two.enc.yaml" in later
    first = fixes["apps/one.enc.yaml"]
    assert "secretsmgr set apps/one.enc.yaml stringData.C" in first
    assert "without the key: restore the file as committed (git checkout HEAD -- " in first
    # each restore, pasted as printed, leaves nothing in clear
    for fix in (later, first):
        (restore,) = re.findall(r"\((git checkout HEAD -- [^)]+)\)", fix)
        git(*shlex.split(restore)[1:])
    assert not any(f.rule == "SM003" for f in run_audit(tmp_path, keyless_only=True).findings)


def test_the_key_less_fix_of_a_committed_value_in_clear_does_not_restore_head(
    tmp_path: Path,
) -> None:
    """the attack review: restoring HEAD changes nothing once the value in clear is committed,
    and deleting one line of a block scalar leaves the rest of the value behind"""
    import subprocess

    from secretsmgr.audit.engine import run_audit

    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)

    standard_repo(tmp_path, {"apps/one.enc.yaml": enc(secret())})
    path = tmp_path / "apps/one.enc.yaml"
    text = path.read_text()
    at = text.index("stringData:") + len("stringData:\n")
    path.write_text(text[:at] + "    C: |\n      line one\n      line two\n" + text[at:])
    git("init", "-q")
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "committed in clear")
    (fix,) = [
        f.fix or ""
        for f in run_audit(tmp_path, keyless_only=True).findings
        if f.rule == "SM003" and f.key_path == "stringData.C"
    ]
    assert "git checkout HEAD" not in fix, fix
    assert "delete stringData.C by hand (the key and every line of its value)" in fix
    assert "it is in git already, so choose a new value" in fix
