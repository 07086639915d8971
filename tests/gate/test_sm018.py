"""SM018 plaintext-credential: detect-secrets' own examples hit and miss, in every place the rule
looks (HelmRelease values, ConfigMap, postBuild.substitute, env, plain files)."""

from __future__ import annotations

from pathlib import Path

import pytest

from secretsmgr.audit.credentials import judge_value
from secretsmgr.audit.engine import run_audit
from secretsmgr.audit.finding import Severity
from tests.audit.helpers import K1, standard_repo


def _jwt() -> str:
    """A token signed here with a random secret (jwt.io's sample is a stand-in)."""
    import base64
    import hashlib
    import hmac
    import os

    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode().rstrip("=")

    body = part(b'{"alg":"HS256","typ":"JWT"}') + "." + part(b'{"sub":"ci-bot","iat":1716239022}')
    signature = hmac.new(os.urandom(32), body.encode(), hashlib.sha256).digest()
    return f"{body}.{part(signature)}"


JWT = _jwt()
# (detector, value that detect-secrets' tests flag, value they do not flag)
EXAMPLES = [
    ("AWS Access Key", "AKIAZZZZZZZZZZZZZZZZ", "AKIAZZZ"),
    ("Slack Token", "xoxb-34532454-e039d02840a0b9379c", "xoxb-"),
    ("Stripe Access Key", "sk_live_ReTllpYQYfIZu2Jnf2lAPFjD", "sk_live_"),
    ("GitHub Token", "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", "foo"),
    ("JSON Web Token", JWT, "eyJAAAA.eyJBBB"),
    # detect-secrets' own example is https://username:password@yelp.com: the word "password"
    # for a password is a sample value here (imerkle's postgres://user:password@host/database)
    ("Basic Auth Credentials", "https://username:Zq8vLw2p@yelp.com", "http://localhost:5000/"),
    ("GitLab Token", "glpat-" + "x1Y2z3A4b5C6d7E8f9G0", "glpat-short"),
    (
        "Private Key",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0t\n"
        "-----END RSA PRIVATE KEY-----",
        "-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----",
    ),
]


@pytest.mark.parametrize(("kind", "hit", "miss"), EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_each_detector_hits_its_example_and_misses_its_near_miss(
    kind: str, hit: str, miss: str
) -> None:
    verdict = judge_value("value", hit)
    assert verdict is not None and verdict.kind == kind and verdict.known
    missed = judge_value("value", miss)
    assert missed is None or not missed.known


def test_keyword_and_entropy_are_warnings_and_placeholders_nothing() -> None:
    assert judge_value("password", "hunter2xx") == judge_value("db_password", "hunter2xx")
    assert (judge_value("password", "hunter2xx") or None).known is False  # type: ignore[union-attr]
    assert judge_value("password", "hunter2.xx") is not None  # no key file's extension
    assert judge_value("password", "Hunter2_Hunter2") is not None  # not a variable's name
    # capitals and underscores, but random: the entropy check still sees it
    assert judge_value("password", "K7X9Q2M4_ZP8RW3N6T5Y1B9C4XJ") is not None
    entropy = judge_value("blob", "Q29ycmVjdEhvcnNlQmF0dGVyeVN0YXBsZTI0Xy9aQkN")
    assert entropy is not None and not entropy.known
    for placeholder in ("${DB_PASSWORD}", "changeme", "<your-token>", "{{ .Values.pw }}", "xxxxxx"):
        assert judge_value("password", placeholder) is None, placeholder
    for key, value in (
        ("existingSecret", "app-credentials"),
        ("passwordSecretKeyRef", "db-pass"),
        ("image.tag", "3f2a9c1e4b5d6e7f8091a2b3c4d5e6f708192a3b"),
        ("uid", "0b9d1b5e-8f2c-4c5a-9d7e-2f3a4b5c6d7e"),
        ("enabled", "true"),
        ("flux_sops_secret_entry", "sops.agekey"),  # allenporter/k8s-gitops: an entry's name
        ("tls_secret", "server.pem"),
        # sulibot/home-ops (authentik !Env) and gi8lino/k8s-gitops (Grafana $__env{})
        ("client_secret", "ACTUAL_OIDC_CLIENT_SECRET"),
        ("client_secret", "$__env{GRAFANA_AUTH_CLIENT_SECRET}"),
        ("client_secret", "$__file{/etc/secrets/client}"),
        ("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE"),  # the AWS docs' own example
        ("SECRET", "gpg/home-cluster-private"),  # nicholaswilde: a `pass` entry (sweep 18)
        ("vault_secret", "kv/data/app-1"),
        # sweep 36, mrled/psyops: /etc/passwd lines hold no password (x: in /etc/shadow)
        ("passwd", "user:x:1000:1000:user:/tmp/home:/bin/sh"),
        ("passwd", "root:x:0:0:root:/root:/bin/bash\nnobody:*:65534:65534::/:/bin/false\n"),
        # sweep 37, a-mcf/k3s-gitops: radicale's `htpasswd_encryption = autodetect`, a scheme
        ("htpasswd_encryption", "autodetect"),
        ("password_scheme", "bcrypt"),
        # the third attack review: scheme names that are no single word
        ("secret_encryption", "XChaCha20-Poly1305"),
        ("SECRET_ENCRYPTION", "aescbc"),
        ("password_scheme", "BLF-CRYPT"),
        ("secret_cipher", "AES/GCM/NoPadding"),
        ("jwt_secret_encryption", "AES-256-GCM-SIV"),
        ("SESSION_SECRET_CIPHER", "aes256gcm"),
        ("password_cipher", "Blowfish"),
    ):
        assert judge_value(key, value) is None, key
    # a hash in the password field is judged as it was, and a password after a passwd line
    assert judge_value("passwd", "user:x:1000:1000::/h:/bin/sh\nQ7wm2ZpK9vR4tY8uXb3N") is not None
    assert judge_value("htpasswd_encryption", "Xk82Lq0ZpWm4Rt7Vn1Bc9Hy3Jd6") is not None  # random
    # the attack review: under such a key a passphrase is still a secret
    for key in ("SECRET_ENCRYPTION", "password_scheme", "backupPasswordEncryption"):
        assert judge_value(key, "tangerine-falcon-92") is not None, key
        assert judge_value(key, "aesXk82Lq0ZpWm4Rt7V") is not None, key  # a scheme's prefix
    for key, value in (("SECRET", "gpg/q7wm2zpk9vx"), ("password", "Tr0ub4dor/x")):
        assert judge_value(key, value) is not None, value  # a random or mixed part: no word


HELM = """apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: app, namespace: apps}
spec:
  values:
    auth:
      existingSecret: app-creds
      rootPassword: s3cr3t-Root-pw
    aws:
      accessKeyId: AKIAZZZZZZZZZZZZZZZZ
    image: {tag: v1.2.3}
"""
CONFIGMAP = """apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data:
  GITHUB_TOKEN: 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
  LOG_LEVEL: info
"""
SUBSTITUTE = """apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: apps, namespace: flux-system}
spec:
  path: ./apps
  sourceRef: {kind: GitRepository, name: flux-system}
  postBuild:
    substitute:
      SLACK_WEBHOOK: xoxb-34532454-e039d02840a0b9379c
      CLUSTER_NAME: prod
"""
DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  template:
    spec:
      containers:
        - name: web
          env:
            - {name: DATABASE_URL, value: "postgres://app:pa55w0rd@db:5432/app"}
            - {name: PORT, value: "8080"}
            - name: API_KEY
              valueFrom: {secretKeyRef: {name: web, key: api-key}}
"""


def test_sm018_looks_where_credentials_hide(tmp_path: Path) -> None:
    standard_repo(
        tmp_path,
        {
            "apps/helm.yaml": HELM,
            "apps/cm.yaml": CONFIGMAP,
            "clusters/prod/subst.yaml": SUBSTITUTE,
            "apps/deploy.yaml": DEPLOYMENT,
            "config/app.json": '{"stripe": {"secret": "sk_live_ReTllpYQYfIZu2Jnf2lAPFjD"}}',
            "config/.env": "# local\nexport DB_PASSWORD=hunter2-local\nDEBUG=true\n",
        },
    )
    report = run_audit(tmp_path, keyless_only=True)
    got = {(f.path, f.key_path, f.severity) for f in report.findings if f.rule == "SM018"}
    assert got == {
        ("apps/helm.yaml", "spec.values.auth.rootPassword", Severity.WARNING),
        ("apps/helm.yaml", "spec.values.aws.accessKeyId", Severity.ERROR),
        ("apps/cm.yaml", "data.GITHUB_TOKEN", Severity.ERROR),
        ("clusters/prod/subst.yaml", "spec.postBuild.substitute.SLACK_WEBHOOK", Severity.ERROR),
        (
            "apps/deploy.yaml",
            "spec.template.spec.containers.0.env.0.value",
            Severity.ERROR,
        ),
        ("config/app.json", "stripe.secret", Severity.ERROR),
        ("config/.env", "DB_PASSWORD", Severity.WARNING),
    }
    lines = {f.key_path: f.message for f in report.findings if f.rule == "SM018"}
    assert "line 10" in lines["spec.values.aws.accessKeyId"]
    for f in report.findings:
        for value in ("s3cr3t-Root-pw", "AKIAZZZZ", "ghp_", "pa55w0rd", "sk_live", "hunter2"):
            assert value not in f.message and value not in (f.fix or "")


def test_sm018_key_paths_can_be_allow_listed(tmp_path: Path) -> None:
    standard_repo(
        tmp_path,
        {"apps/helm.yaml": HELM},
        settings_extra=(
            "ignore:\n  - {rule: SM018, path: apps/*.yaml, key_path: spec.values.auth.*, "
            "reason: a throwaway dev password}\n"
        ),
    )
    report = run_audit(tmp_path, keyless_only=True)
    assert [f.key_path for f in report.findings if f.rule == "SM018"] == [
        "spec.values.aws.accessKeyId"
    ]
    assert report.suppressed == 1


def test_sm018_never_reads_sops_values_or_secrets(tmp_path: Path) -> None:
    from tests.audit.helpers import enc, secret

    standard_repo(
        tmp_path,
        {
            "apps/db.enc.yaml": enc(secret("db", {"password": "sk_live_ReTllpYQYfIZu2Jnf2lAPFjD"})),
            "apps/plain.yaml": secret("p", {"token": "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"}),
        },
    )
    report = run_audit(tmp_path, keyless_only=True)
    assert not [f for f in report.findings if f.rule == "SM018"]
    assert ("SM001", "apps/plain.yaml") in {(f.rule, f.path) for f in report.findings}


def test_a_variable_beside_a_credential_does_not_hide_it() -> None:
    # Each was missed while any ${…} or {{…}} in a value made the whole value a placeholder,
    # and an example word anywhere (the host smtp.example.com) made it an example.
    token = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
    for key, value, kind in (
        ("DSN", "postgres://app:Tr0ub4dor-and-3@${DB_HOST}:5432/app", "Basic Auth Credentials"),
        ("DSN", "postgres://app:Tr0ub4dor-and-3@{{ .Values.host }}/app", "Basic Auth Credentials"),
        ("api_token", f"{token} ${{SUFFIX}}", "GitHub Token"),
        ("SMTP_URL", "smtps://mailer:Xq9vLm2pR7wz@smtp.example.com:465", "Basic Auth Credentials"),
        # Redis puts a password with no user in its URL; the basic-auth plugin needs a user
        ("REDIS_URL", "redis://:Xq9vLm2pR7wz@redis.db.svc:6379/0", "Basic Auth Credentials"),
        ("REDIS_URL", "redis://:Xq9vLm2pR7wz@${REDIS_HOST}:6379/0", "Basic Auth Credentials"),
    ):
        verdict = judge_value(key, value)
        assert verdict is not None and verdict.known and verdict.kind == kind, (key, value)
    for key, value in (
        ("DSN", "postgres://app:${DB_PASSWORD}@${DB_HOST}:5432/app"),
        ("SMTP_URL", "smtps://mailer:changeme@smtp.example.com:465"),
        ("REDIS_URL", "redis://:${REDIS_PASSWORD}@redis:6379/0"),
        ("REDIS_URL", "redis://:$(REDIS_PASSWORD)@redis:6379/0"),  # Kubernetes env syntax
        # a script's printf format (joryirving/home-ops): the token comes from the environment
        ("entrypoint.sh", "printf 'https://x-access-token:%s@github.com\n' \"$GITHUB_TOKEN\""),
        ("REDIS_URL", "redis://:changeme@redis:6379/0"),
        ("REDIS_URL", "redis://:@redis:6379/0"),
        ("REGISTRY", "https://registry:5000/v2/app@sha256:0123456789abcdef"),
        ("password", "pre-${SUFFIX}"),  # keyword and entropy judge whole literal values only
        ("REPO", "s3:http://minio.storage.svc:9000/restic/${APP}"),
    ):
        assert judge_value(key, value) is None, (key, value)


ISSUER = """apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata: {name: letsencrypt}
spec:
  acme:
    email: ops@example.org
    solvers:
      - dns01:
          route53:
            region: eu-west-1
            accessKeyID: AKIA2XQZ7RM4KDP3WN6L
            hostedZoneID: Z2ABCDEFGHIJKL
          webhook: {config: {password: hunter2xyzA9}}
"""


def test_known_formats_are_found_anywhere_in_an_object_keywords_only_where_expected(
    tmp_path: Path,
) -> None:
    # wrmilling/k3s-gitops: an AWS key ID in a ClusterIssuer was not looked at. Outside the
    # places credentials are usually kept, only a known format is a finding (a keyword or an
    # entropy hit in an arbitrary custom resource is too often a setting).
    standard_repo(tmp_path, {"apps/issuer.yaml": ISSUER})
    report = run_audit(tmp_path, keyless_only=True)
    got = {(f.path, f.key_path, f.severity) for f in report.findings if f.rule == "SM018"}
    assert got == {
        (
            "apps/issuer.yaml",
            "spec.acme.solvers.0.dns01.route53.accessKeyID",
            Severity.ERROR,
        )
    }


def test_an_http_basic_authorization_value_is_a_credential() -> None:
    # sweep 80 (emerconn/fleet-infra): OpenObserve's tracing header, `Basic ` and the base64 of
    # an address and a password, passed; a stand-in password or no user:password is none
    import base64

    def basic(text: str) -> str:
        return "Basic " + base64.b64encode(text.encode()).decode()

    verdict = judge_value("ZO_TRACING_HEADER_VALUE", basic("root@example.com:Ip3OdaFShIl8"))
    assert verdict is not None and verdict.known and verdict.kind == "HTTP Basic Authorization"
    found = judge_value("Authorization", basic("admin:Tr0ub4dor-and-3"))
    assert found is not None and found.known
    for value in (basic("user:changeme"), basic("no colon at all"), 'Basic realm="x"'):
        verdict = judge_value("ZO_TRACING_HEADER_VALUE", value)
        assert verdict is None or not verdict.known, value


def test_a_service_address_under_a_secret_keyword_key_is_no_credential() -> None:
    # sweep 83 (auricom/home-cluster): drone's `DRONE_SECRET_PLUGIN_ENDPOINT`, an in-cluster
    # URL, was a keyword warning; a token in the path or a password in it still is one
    for key, value in (
        ("DRONE_SECRET_PLUGIN_ENDPOINT", "http://drone-kubernetes-secrets:3000"),
        ("secretEndpoint", "https://vault.vault.svc:8200/v1"),
        ("SECRETS_URL", "http://secrets.example.org/api"),
        # sweep 87's regression (doonga/greyrock-ops): the URL's word before the one that says
        # which, in an ExternalSecret's template
        ("SECRET_INTERNAL_URL_DIRECT", "http://10.1.4.151:8123"),
    ):
        assert judge_value(key, value) is None, (key, value)
    for key, value in (
        ("SECRET_ENDPOINT", "http://secrets:3000/hook/8f3kqz9vlw2prtxy7kp3mn9q"),
        ("SECRET_URL", "https://bot:Xq9vTr7pLm2w@hooks.internal/x"),
        ("SECRET_ENDPOINT", "Xq9vTr7pLm2wZk4s"),
        # the attack review: a token as the host, a password as the path, a password's key
        ("DRONE_SECRET_PLUGIN_ENDPOINT", "http://a8f3k2j9d7q1x5:3000"),
        ("SECRET_ENDPOINT", "http://drone-secrets:3000/hunter2"),
        ("DB_PASSWORD_URI", "mysql://db/letmein"),
        ("SECRET_URL_DIRECT", "http://drone-secrets:3000/hunter2"),
    ):
        assert judge_value(key, value) is not None, (key, value)


def test_a_secret_managers_vault_or_item_is_no_credential_and_a_password_still_is() -> None:
    # sweep 84 (3nm1/home-ops): ONEPASSWORD_VAULT: k3s_cluster names a 1Password vault; the
    # attack review: under keys naming a password or secret the words are passwords
    for key, value in (("ONEPASSWORD_VAULT", "k3s_cluster"), ("OP_TALSECRET_ITEM", "talsecret")):
        assert judge_value(key, value) is None, (key, value)
    for key, value in (
        ("PASSWORD_ITEM", "letmein99"),
        ("SECRET_ITEM", "hunter2pass"),
        ("SECRET_KEY_ITEM", "django-insecure-abc123"),
    ):
        assert judge_value(key, value) is not None, (key, value)


def test_published_proofs_and_here_stand_ins_are_no_credentials() -> None:
    # sweep 85 (mak011p/k8s-gitops-hayden): a Terraform TXT record's google-site-verification
    # token was an entropy warning, and `age.agekey: AGE_PRIVATE_KEY_HERE` a secret
    from secretsmgr.repo.placeholders import is_placeholder
    from secretsmgr.repo.sopsentry import exposed_value

    assert judge_value("content", "google-site-verification=em-7Xq9vTr7pLm2wZk4sTq8vLp3nR") is None
    assert is_placeholder("AGE_PRIVATE_KEY_HERE") and is_placeholder("paste-token-here")
    assert not is_placeholder("Xq9vTr7pLm2w_HERE")
    # the attack review: words before "here" that say nothing of what goes there are a password
    for value in ("correct-horse-battery-here", "LETMEIN_HERE", "hunter_here"):
        assert not is_placeholder(value), value
    # sweep 85 (samip5/k8s-cluster): base64 of an SSH public key in a file named for SOPS, not
    # yet encrypted, was an exposure in history; the private key beside it still is
    import base64

    line = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx1c2VybmFtZWZvcmV4YW1wbGU0 flux"
    assert not exposed_value("identity.pub", base64.b64encode(line.encode()).decode())
    assert exposed_value(
        "identity",
        base64.b64encode(
            b"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n"
            b"-----END OPENSSH PRIVATE KEY-----\n"
        ).decode(),
    )


def test_a_pgp_public_key_and_a_chain_address_are_no_credentials() -> None:
    # sweep 81: Terraform's `pgp_key` (a base64 OpenPGP public key, ipni/storetheindex) and the
    # SS58 addresses of Substrate accounts (`selfAddress`, digicatapult) were entropy warnings
    import base64
    import random

    rng = random.Random(81)
    body = bytes(rng.randrange(256) for _ in range(268))
    public = base64.b64encode(bytes([0x99, 0x01, 0x0D, 0x04]) + body).decode()
    private = base64.b64encode(bytes([0x95, 0x01, 0x0D, 0x04]) + body).decode()
    assert judge_value("pgp_key", public) is None
    assert judge_value("pgp_key", private) is not None  # a secret key's packet (tag 5)
    alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
    ss58 = "5" + "".join(rng.choice(alphabet) for _ in range(47))
    assert judge_value("selfAddress", ss58) is None
    assert judge_value("wallet", ss58) is None
    assert judge_value("password", ss58) is not None  # the key says what it is


def test_names_of_secrets_and_password_settings_are_no_credentials() -> None:
    # ESPHome's !secret wifi_password, Grafana's envFromSecret, a chart's secrets: name, and
    # Forgejo's PASSWORD_COMPLEXITY (anthr76/infra, PurdueAF/purdue-af, wrmilling, JJGadgets)
    for key, value in (
        ("password", "wifi_password"),
        ("envFromSecret", "grafana"),
        ("secrets", "servicex-secrets"),
        ("FORGEJO__security__PASSWORD_COMPLEXITY", "lower,upper"),
        # sweep 11 (trosvald/home-ops): the SonarQube chart's field naming a Secret
        ("sonarSecretProperties", "sonarqube-properties-secret"),
        # sweep 29 (RamonCollazo/kube-homelab): the CSI driver's SecretProviderClass, by name
        ("secretProviderClass", "infisical-oci"),
        ("secretStore", "vault-backend"),
        # sweep 11 (h3mmy/bloopySphere): a disk's /dev/disk/by-id name, a serial in it
        ("NODE_1_DEVICE_0", "nvme-Sabrent_Rocket_Q_4TB_A4F1070B1C3D27E5F8A9"),
    ):
        assert judge_value(key, value) is None, key
    for key, value in (
        ("client_secret", "hunter2xyz"),
        ("secret", "Grafana9xZq"),
        # inside camel case, only a name that says it is a Secret's
        ("sonarSecretProperties", "sonarqube-properties"),
        ("adminSecretValue", "Tr0ub4dor-and-3"),
        ("secretProviderClass", "Xk9mP2vL7qR4wT8n"),  # no object's name
        # sweep 80 (Marx2/homelab): postgrest's jwtSecret, a random run of lower-case letters
        # and digits, was taken for the name of a Secret
        ("jwtSecret", "q7wm2zpk9xr4ty8uwb3nd6ha0lc5ve1js"),
        # the disk-name shape exempts entropy alone: a password's key is still a keyword hit
        ("password", "nvme-Sabrent_Rocket_Q_4TB_A4F1070B1C3D27E5F8A9"),
        ("token", "nvme-Q7mZp9K2xR4tY8uWb3N"),
    ):
        assert judge_value(key, value) is not None, key


def test_the_fix_renames_only_when_no_creation_rule_matches(tmp_path: Path) -> None:
    standard_repo(
        tmp_path,
        {
            "config/app.json": '{"stripe": {"secret": "sk_live_ReTllpYQYfIZu2Jnf2lAPFjD"}}',
            "config/app.enc.json": '{"stripe": {"secret": "sk_live_ReTllpYQYfIZu2Jnf2lAPFjD"}}',
        },
    )
    report = run_audit(tmp_path, keyless_only=True)
    fixes = {f.path: f.fix or "" for f in report.findings if f.rule == "SM018"}
    # the rule the new name matches is Flux's (^(data|stringData)$), which would encrypt none
    # of it: encrypt refuses the renamed file, so a rule comes first (sweep 55: a Helm values
    # file's pasted rename and encrypt failed)
    assert fixes["config/app.json"].startswith(
        ".sops.yaml rule 1 (encrypted_regex: ^(data|stringData)$) would leave stripe.secret in "
        "clear in app.enc.json: add a rule for config/app.enc.json above it (a path_regex for "
        "its name, the same keys, no encrypted_regex), then rename config/app.json to "
        "app.enc.json and "
        "secretsmgr encrypt -i config/app.enc.json;"
    )
    # the Flux rule would encrypt none of its values: encrypt refuses it, a rule comes first
    assert fixes["config/app.enc.json"].startswith(
        ".sops.yaml rule 1 would encrypt none of its values: add a rule for it above rule 1"
    )
    # sweep 46 (zidlab: talos/talsecret.yaml beside a rule for *.sops.yaml only): the name
    # that rule matches
    (tmp_path / ".sops.yaml").write_text(
        "creation_rules:\n  - path_regex: \\.sops\\.(yaml|json)$\n    age: " + K1 + "\n"
    )
    report = run_audit(tmp_path, keyless_only=True)
    fixes = {f.path: f.fix or "" for f in report.findings if f.rule == "SM018"}
    assert fixes["config/app.json"].startswith(
        "rename config/app.json to app.sops.json, which a .sops.yaml creation rule matches, then "
        "secretsmgr encrypt -i config/app.sops.json;"
    )
    # sixth sweep (dashaun-cloud, rtrox): with no rule for either name, the rule comes first
    (tmp_path / ".sops.yaml").unlink()
    report = run_audit(tmp_path, keyless_only=True)
    fixes = {f.path: f.fix or "" for f in report.findings if f.rule == "SM018"}
    assert fixes["config/app.json"].startswith(
        "add a .sops.yaml creation rule that matches config/app.json (none does), then "
        "secretsmgr encrypt -i config/app.json;"
    )


def test_attribute_names_env_macros_and_tls_secret_names_are_no_credentials() -> None:
    # MTRNord/cluster (Stalwart's %{env:NAME}%, an rspamd TLS Secret's name) and
    # wahooli/gitops-repo (LDAP attribute names)
    for key, value in (
        ("password", "%{env:MAIL_PASSWORD}%"),
        ("basic_auth_password_attribute", "userPassword"),
        ("SASLAUTHD_LDAP_PASSWORD_ATTR", "userPassword"),
        ("secret", "rspamd.mtrnord.blog-tls"),
        # sweep 30, MatherlyNet/talos-cluster: keycloak-config-cli's lookups
        ("secret", "$(env:OIDC_CLIENT_SECRET)"),
        ("clientSecret", "$(file:UTF-8:/run/secrets/google)"),
    ):
        assert judge_value(key, value) is None, key
    assert judge_value("secret", "hunter2-tls9X") is not None
    # sweep 31: a workflow's commit pin (nwarila-platform) and a Discord application's public
    # key (zachbomb); a token under a ref key is still one
    sha = "0d2a0752d4c6e1f0a9b8c7d6e5f4a3b2c1d0e9f8"
    hexkey = "9f3c2a71d8e4b6f05c1a7e3d9b2f4c8a6e0d1b3f5a7c9e2d4f6a8b0c1e3d5f7a"
    for key, value in (
        ("source-ref", sha),
        ("ref", sha),
        ("discord-app-public-key", hexkey),
        ("discordAppPublicKey", hexkey),
    ):
        assert judge_value(key, value) is None, key
    assert judge_value("source-ref", "ghp_9fK2mQx7LpR4vT8nW3zY6bC1dH5jA0sE2uGi") is not None
    assert judge_value("app-private-key", hexkey) is not None
    # sweep 32, rational-net/virgo-k8s: Cloudflare's Global API Key has no prefix; its key's
    # name and 37 hex digits make it a known format (an error), elsewhere it stays a guess
    cloudflare = "92a0f3c1d5e7b9a2c4e6f8a0b2c4d6e8f0a1b"
    for key in (
        "BOOTSTRAP_CLOUDFLARE_APIKEY",
        "cloudflare_api_key",
        "CF_API_KEY",
        "cloudflareGlobalApiKey",
    ):
        verdict = judge_value(key, cloudflare)
        assert verdict is not None and verdict.known, key
        assert verdict.kind == "Cloudflare Global API Key"
    for key, value in (("api_key", cloudflare), ("CLOUDFLARE_API_KEY", cloudflare[:-1])):
        verdict = judge_value(key, value)
        assert verdict is None or not verdict.known, key
    # a lookup is the whole value: a secret beside one is still a secret; a lookup that holds
    # the value (keycloak-config-cli's base64Decoder, const) is no reference (the review)
    assert judge_value("secret", "$(env:X)Zq8rT2mWv9K") is not None
    token = "ghp_9fK2mQx7LpR4vT8nW3zY6bC1dH5jA0sE2uGi"
    for wrapped in (f"$(const:{token})", f"$(x:{token})", "$(base64Decoder:WnE4clQybVd2OUs=)"):
        assert judge_value("clientSecret", wrapped) is not None, wrapped


def test_in_a_sops_file_the_fix_changes_the_rule_not_encrypt(tmp_path: Path) -> None:
    # shikanime/manifests: a value its narrow encrypted_regex leaves in clear; the fix said
    # `secretsmgr encrypt -i` (after renaming), which refuses an encrypted file
    from secretsmgr.sops.model import EncryptionRule, RuleKind
    from tests.audit.helpers import K1, enc, write

    only_token = EncryptionRule(RuleKind.ENCRYPTED_REGEX, "^as_token$")
    # (its hs_token here; the random sender_localpart is a public Matrix name: sweep 71)
    text = "as_token: x\nhs_token: Q29ycmVjdEhvcnNlQmF0dGVyeVN0YXBsZTI0Xy9aQkN\n"
    standard_repo(tmp_path, {"apps/registration.enc.yaml": enc(text, rule=only_token)})
    fixes = [
        f.fix or ""
        for f in run_audit(tmp_path, keyless_only=True).findings
        if f.rule == "SM018" and f.path == "apps/registration.enc.yaml"
    ]
    assert len(fixes) == 1
    assert fixes[0].startswith(
        "the file's encryption rule (encrypted_regex: ^as_token$) leaves hs_token in "
        "clear: change the rule in .sops.yaml rule 1, then re-encrypt"
    ), fixes[0]
    assert "encrypt -i" not in fixes[0] and "secretsmgr decrypt -o" in fixes[0]
    # sweep 32, ksefuke-labs/homelab-ops: a nested .sops.yaml whose regex names the key in
    # another case; the fix named the root's .sops.yaml and said to widen the regex
    mixed = EncryptionRule(RuleKind.ENCRYPTED_REGEX, "^(as_token|Hs_Token)$")
    write(
        tmp_path,
        "apps/bridge/.sops.yaml",
        "creation_rules:\n  - path_regex: .*\n"
        "    encrypted_regex: ^(as_token|Hs_Token)$\n    age: " + K1 + "\n",
    )
    standard_repo(tmp_path, {"apps/bridge/registration.enc.yaml": enc(text, rule=mixed)})
    (fix,) = [
        f.fix or ""
        for f in run_audit(tmp_path, keyless_only=True).findings
        if f.rule == "SM018" and f.path == "apps/bridge/registration.enc.yaml"
    ]
    assert "(it names hs_token in another case: regexes match case)" in fix, fix
    assert "change the rule in apps/bridge/.sops.yaml rule 1" in fix, fix
    # sweep 87 (vhaudiquet/homeprod): where other files follow the rule, changing it changes
    # them too: a rule of the file's own goes above it
    standard_repo(tmp_path, {"apps/bridge/other.enc.yaml": enc("as_token: y\n", rule=mixed)})
    (fix,) = [
        f.fix or ""
        for f in run_audit(tmp_path, keyless_only=True).findings
        if f.rule == "SM018" and f.path == "apps/bridge/registration.enc.yaml"
    ]
    assert (
        "add a rule for apps/bridge/registration.enc.yaml above apps/bridge/.sops.yaml rule 1, "
        "which 1 other SOPS file follows (a path_regex for its name, the same keys, a rule that "
        "encrypts it), then re-encrypt"
    ) in fix, fix
    # files no rule matches follow no rule together (the last pass: "-1 other SOPS files")
    (tmp_path / "apps/bridge/.sops.yaml").unlink()
    (tmp_path / ".sops.yaml").unlink()
    fixes = [
        f.fix or ""
        for f in run_audit(tmp_path, keyless_only=True).findings
        if f.rule == "SM018" and f.path == "apps/bridge/registration.enc.yaml"
    ]
    assert fixes and not any("other SOPS file" in f for f in fixes), fixes


def _deployment(name: str, env: tuple[tuple[str, str], ...]) -> str:
    items = "".join(f"        - name: {k}\n          value: {v!r}\n" for k, v in env)
    return (
        f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n"
        "  template:\n    spec:\n      containers:\n      - name: c\n        image: x\n"
        f"        env:\n{items}"
    )


def test_each_document_is_judged_and_located_on_its_own(tmp_path: Path) -> None:
    # ispringle/gitops: the second Deployment's POSTGRES_PASSWORD was never judged (its key path
    # had been judged in the first document, where it held DB_TYPE), and the first one's
    # password was reported on DB_TYPE's line, which holds the same text.
    first = _deployment("frontend", (("DB_TYPE", "postgres"), ("DB_PASSWD", "postgres")))
    second = _deployment("database", (("POSTGRES_PASSWORD", "Zq8vLw2pRt"),))
    standard_repo(tmp_path, {"apps/deploy.yaml": first + "---\n" + second})
    report = run_audit(tmp_path, keyless_only=True)
    got = sorted(
        (f.key_path, f.line, f.message.split(":")[0]) for f in report.findings if f.rule == "SM018"
    )
    lines = (first + "---\n" + second).splitlines()
    assert got == [
        # each names its variable (WISVCH: "env.1" named by its index alone)
        (
            "spec.template.spec.containers.0.env.0.value",
            29,
            "Deployment database env POSTGRES_PASSWORD",
        ),
        ("spec.template.spec.containers.0.env.1.value", 15, "Deployment frontend env DB_PASSWD"),
    ]
    assert "Zq8vLw2pRt" in lines[28] and "DB_PASSWD" in lines[13]


def test_hashes_references_names_and_ids_from_real_repositories_are_no_credentials() -> None:
    # each was a warning or an error on a public Flux repository (sweep of 2026-12-03)
    for key, value in (
        ("client_secret", "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"),
        ("client_secret", "$pbkdf2-sha512$310000$c8p78n7pUMln0jzvd4aK4Q$JNRBzwAo0ek5qKn50cFzz"),
        ("existingSecretAdminPassword", "harbor-credentials"),
        ("SCHEMATIC_AMD", "376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba"),
        ("rev", "1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b"),
        ("template", "d1498e900d2e7b5cd6b3e3f5d5f7e6b1"),
        ("External Secrets", "security/external-secrets.md"),
        ("ClientSecret", "azure://shelken-homelab/client-secret"),
        # sweep 23 (sbaker5/k3s-flux): a colour per Kubernetes kind
        ("Secret", "#FF6B6B"),
        # sweep 22 (FalkWinkler/home-ops): Stakater Reloader's annotations name Secrets
        ("secret.reloader.stakater.com", "onepassword-secret"),
        ("secret.reloader.stakater.com", "db-credentials,app-secret"),
        # sweep 22 (Jdavid77/home-cluster: zot's secretFiles.htpasswd): htpasswd lines
        ("htpasswd", "admin:$2y$05$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"),
        ("htpasswd", "a:$2y$05$N9qo8uLOickgx2ZMRZoMy\nb.c@d:$apr1$r31.....$HqJZimcKQFAMYayBlzkrA/"),
    ):
        assert judge_value(key, value) is None, (key, value)
    # a real one beside them still is
    for key, value in (
        ("existingSecretPassword", "Zq8vLw2pRtXy7Kp3"),
        ("client_secret", "Zq8vLw2pRtXy7Kp3Mn9QwErT"),
        ("password", "azure://app:Zq8vLw2pRt@db.example.org"),
        ("htpasswd", "admin:Zq8vLw2pRtXy7Kp3"),
        ("secret.reloader.stakater.com", "Zq8vLw2pRtXy7Kp3Mn9QwErT"),
        ("htpasswd", "a:$2y$05$N9qo8uLOickgx2ZMRZoMy\nb:Zq8vLw2pRtXy7Kp3"),
    ):
        assert judge_value(key, value) is not None, (key, value)


def test_a_script_that_writes_a_key_header_holds_no_private_key() -> None:
    # gavinmcfall/home-ops: a ConfigMap script rebuilds a PEM file from a mounted key
    script = (
        'echo "-----BEGIN OPENSSH PRIVATE KEY-----"\n'
        "cat /ssh/id_ed25519 | tr -d ' \\n' | fold -w 70\n"
        'echo "-----END OPENSSH PRIVATE KEY-----"\n'
    )
    assert judge_value("sync-certs.sh", script) is None
    body = "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW"
    key = f"-----BEGIN OPENSSH PRIVATE KEY-----\n{body}\n-----END OPENSSH PRIVATE KEY-----\n"
    pgp = (
        "-----BEGIN PGP PRIVATE KEY BLOCK-----\nVersion: GnuPG v2.0.22 (GNU/Linux)\n\n"
        f"lQcYBF0L9gUBEACrYsKIj/rXFQPURHz\n{body}\n-----END PGP PRIVATE KEY BLOCK-----\n"
    )
    for value in (key, key.replace("\n", "\\n"), pgp):  # as written, escaped newlines, PGP
        verdict = judge_value("id_ed25519", value)
        assert verdict is not None and verdict.kind == "Private Key"


def test_lock_files_are_not_read_for_credentials(tmp_path: Path) -> None:
    lock = '{"dependencies": [{"password": "Zq8vLw2pRtXy7Kp3Mn9QwErTzq8vLw2pRtXy7Kp3Mn9Q"}]}'
    standard_repo(tmp_path, {"mixins/jsonnetfile.lock.json": lock, "mixins/other.json": lock})
    report = run_audit(tmp_path, keyless_only=True)
    assert [f.path for f in report.findings if f.rule == "SM018"] == ["mixins/other.json"]


def test_review_cases_keep_real_credentials_and_stay_fast() -> None:
    from secretsmgr.audit.credentials import is_lock_file
    from secretsmgr.repo.placeholders import PRIVATE_KEY_BLOCK, is_placeholder

    # a header line that reads many ways must not backtrack exponentially (this hung)
    assert PRIVATE_KEY_BLOCK.search("-----BEGIN PRIVATE KEY-----\n" + "a: " * 60 + "!") is None
    # PuTTY and SSH2 keys have no PEM header: the key-material check is for PEM only
    putty = "PuTTY-User-Key-File-2: ssh-rsa\nEncryption: none\nPublic-Lines: 6\nAAAAB3NzaC1y"
    ssh2 = "---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----\nP2/56wAAAi4AAAA3aWYtbW9kbntzaWdu"
    for value in (putty, ssh2):
        verdict = judge_value("key", value)
        assert verdict is not None and verdict.kind == "Private Key"
    # a hash is one token: a hash line before a key does not hide the key
    verdict = judge_value("x", "$6$abc$def\naws_access_key_id = AKIAIOSFODNN7EXAMPLQ")
    assert verdict is not None and verdict.kind == "AWS Access Key"
    # lock files by their real names only
    assert [is_lock_file(n) for n in ("flake.lock", "x/jsonnetfile.lock.json", "Chart.lock")] == [
        True,
        True,
        True,
    ]
    assert not any(is_lock_file(n) for n in ("redis-lock.yaml", "lock.yaml", "app_lock.yml"))
    # a reference with a query (a SAS token) is no placeholder
    assert not is_placeholder("azure://acct/container?sig=Zq8vLw2pRtXy7Kp3")


def test_sweep_of_2026_12_03_placeholders_ports_and_names_are_no_credentials() -> None:
    for key, value in (
        # imerkle: quoted variables in a URL; the bridge's sample URL
        ("database", 'postgres://"${PG_USER}":"${PG_PASSWORD}"@pg-rw.db.svc:5432/app'),
        ("uri", "postgres://user:password@host/database?sslmode=disable"),
        # damacus: Longhorn's s3://host:port@region/path
        ("backup-target", "s3://${SECRET_SYNOLOGY_IP}:9000@us-east-1/longhorn"),
        ("backup-target", "s3://minio.lan:9000@us-east-1/longhorn"),
        # adampetrovic: a stand-in word
        ("HBOX_MAILER_PASSWORD", "unused"),
        # a keyword running on into another word (WISVCH, 1activegeek)
        ("NUXT_OAUTH_KEYCLOAK_REALM", "wisvch"),
        ("passwordless_flow", "flow-passwordless"),
        # AlinaNova21: a list of environment-variable names
        ("GH_AW_SECRET_NAMES", "ANTHROPIC_API_KEY,GH_AW_GITHUB_TOKEN,GITHUB_TOKEN"),
    ):
        assert judge_value(key, value) is None, (key, value)
    for key, value in (
        ("database", 'postgres://"app":"Tr0ub4dor3"@pg-rw.db.svc:5432/app'),
        ("uri", "postgres://user:1234@host/database"),  # a PIN after a user, not a host
        ("OAUTH_KEYCLOAK_PASSWORD", "Zq8vLw2pRtXy7Kp3"),  # a later keyword still counts
        ("maps", "AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY"),  # a Google API key
        # from the review: real passwords that look like a port or a sample word
        ("url", "postgres://app.rw:48213@db:5432/app"),
        ("url", "postgres://${DB_USER}:48213@db:5432/app"),
        ("url", "amqp://admin:secret@rabbitmq.default.svc:5672/"),
        ("url", "redis://:pass@redis:6379"),
        ("url", "mongodb://root:pw@mongo:27017"),
    ):
        assert judge_value(key, value) is not None, (key, value)


def test_sixth_sweep_stand_ins_a_script_fills_in_are_no_credentials() -> None:
    # rtrox's blocky (sed "s/POSTGRES_PASSWORD/$…/"), samcday's mautrix (_DBPASS_), ryan4yin's
    # sample DSN (user:pass)
    # Stormcargo's Taskfile: a 1Password item and vault, by name
    for key, value in (
        ("OP_TALSECRET_ITEM", "talsecret"),
        ("OP_TALSECRET_VAULT", "kubernetes"),
        ("onepassword_vault", "Automation"),  # geoffdavis/talos-gitops
        ("OP_VAULT", "Home Lab"),
    ):
        assert judge_value(key, value) is None, key
    # the review: a random value under such a key is still judged
    for key in ("ANSIBLE_VAULT", "SECRET_ITEM"):
        assert judge_value(key, "q7Wm2ZpK9vR4tY6uX1sD3fGhJ8kL0nB5") is not None, key
    for value in (
        "postgresql://POSTGRES_USER:POSTGRES_PASSWORD@postgres:5432/POSTGRES_DB_NAME",
        "postgres://_DBUSER_:_DBPASS_@synapse-db.postgres.svc.cluster.local/mautrix_signal",
        "postgres://mautrix_signal:__PASSWORD__@db-rw/mautrix",
        "postgres://app:DB_PASS@db/app",
        "postgres://user:pass@postgres.example.org:5432/database?sslmode=verify-full",
    ):
        assert judge_value("database", value) is None, value
    for value in (
        "postgres://app:Pass_Word_9@db/app",  # mixed case: a password
        "postgres://app:PASSWORD9X@db/app",  # no underscore: a password
        "postgres://admin:pass@db/app",  # not the sample user
        "postgres://app:_Zq8vT3x_@db/app",  # lower case between underscores
        # the review: digits make a password (HUNTER2_PASS, _K8SQ7ZP2M_); a stand-in beside a
        # real password with a '/' in it (base64) does not hide it
        "postgres://app:HUNTER2_PASS@db/app",
        "postgres://app:_K8SQ7ZP2M_@db/app",
        "postgres://app:DB_PASS@db/a postgres://admin:Zq8r/T2mXk9vB@db-primary/admin",
    ):
        assert judge_value("database", value) is not None, value


def test_a_vault_token_is_a_known_format_anywhere_and_in_history(tmp_path: Path) -> None:
    # the sixth sweep's review: `VAULT: hvs.…` passed every check (no keyword for "token" in
    # detect-secrets, and the dot kept it from the entropy checks)
    from secretsmgr.audit.rules.sm018_plaintext_credential import detect_known
    from secretsmgr.repo.scan import scan_file

    token = "hvs.CAESIJlU9JMYEhOPYv4igdhm9PnK3W4aB5VZ2gQsRr2ZRt8IGh4KHGh2cy5UVjlmT2lNSWt4"
    for key in ("VAULT", "api_token", "x"):
        verdict = judge_value(key, token)
        assert verdict is not None and verdict.known, key
    assert judge_value("x", "https://hvs.abcdefghijklmnopqrstuvwxyz.example.com/") is None
    issuer = (
        "apiVersion: cert-manager.io/v1\nkind: ClusterIssuer\nmetadata: {name: vault}\n"
        f"spec:\n  vault:\n    server: https://vault.example.org\n    token: {token}\n"
    )
    hits = detect_known(scan_file("issuer.yaml", issuer.encode()))
    assert [(h.key_path, h.kind) for h in hits] == [("spec.vault.token", "HashiCorp Vault Token")]


def test_a_kubeconfig_client_key_is_a_private_key(tmp_path: Path) -> None:
    # oscaromeu/home-ops committed a kubeconfig: client-key-data is a base64 PEM private key;
    # the certificates beside it are public
    from base64 import b64encode

    from secretsmgr.audit.credentials import judge_value as judge

    body = "MHcCAQEEIIaiGNsqzut4bFGgu4p8Zq8vLw2pRtXy7Kp3Mn9QwErToAoGCCqGSM49"
    key = b64encode(
        f"-----BEGIN EC PRIVATE KEY-----\n{body}\n-----END EC PRIVATE KEY-----\n".encode()
    ).decode()
    cert = b64encode(
        f"-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n".encode()
    ).decode()
    config = (
        "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n"
        f"    certificate-authority-data: {cert}\n    server: https://10.0.0.1:6443\n"
        "  name: default\nusers:\n- name: default\n  user:\n"
        f"    client-certificate-data: {cert}\n    client-key-data: {key}\n"
    )
    standard_repo(tmp_path, {"kubeconfig": config, "clusters/admin.kubeconfig": config})
    hits = [f for f in run_audit(tmp_path, keyless_only=True).findings if f.rule == "SM018"]
    assert sorted((f.path, f.key_path, f.severity) for f in hits) == [
        ("clusters/admin.kubeconfig", "users.0.user.client-key-data", Severity.ERROR),
        ("kubeconfig", "users.0.user.client-key-data", Severity.ERROR),
    ]
    assert all(f.fix is not None and "encrypt" in f.fix for f in hits)
    assert judge("certificate-authority-data", cert) is None


def test_a_key_after_a_certificate_in_an_inlined_manifest_is_found(tmp_path: Path) -> None:
    """sweep 89, chrede88/home-ops: a Talos patch inlines a Secret whose ``tls.crt`` precedes
    ``tls.key``, both base64 PEM; only the first encoded PEM of the text was decoded, so the
    certificate hid the key (in check and in history). The certificate alone is still none."""
    from base64 import b64encode

    body = "MHcCAQEEIIaiGNsqzut4bFGgu4p8Zq8vLw2pRtXy7Kp3Mn9QwErToAoGCCqGSM49"

    def pem(label: str) -> str:
        return b64encode(
            f"-----BEGIN {label}-----\n{body}\n-----END {label}-----\n".encode()
        ).decode()

    def patch(*entries: tuple[str, str]) -> str:
        data = "".join(f"          {name}: {value}\n" for name, value in entries)
        return (
            "cluster:\n  inlineManifests:\n    - name: cilium\n      contents: |\n"
            "        apiVersion: v1\n        kind: Secret\n        metadata:\n"
            "          name: hubble-ca\n          namespace: kube-system\n"
            f"        data:\n{data}"
        )

    cert, key = pem("CERTIFICATE"), pem("RSA PRIVATE KEY")
    files = {
        "talos/patches/crt-then-key.yaml": patch(("ca.crt", cert), ("ca.key", key)),
        "talos/patches/two-certs.yaml": patch(("ca.crt", cert), ("tls.crt", cert)),
    }
    standard_repo(tmp_path, files)
    hits = [f for f in run_audit(tmp_path, keyless_only=True).findings if f.rule == "SM018"]
    assert [(f.path, f.severity) for f in hits] == [
        ("talos/patches/crt-then-key.yaml", Severity.ERROR)
    ]
    assert "Private Key" in hits[0].message


def test_a_kubernetes_bootstrap_token_is_a_known_format() -> None:
    # the seventh sweep: Talos' secrets.bootstraptoken and trustdinfo.token (vhaudiquet), a
    # Talos machine config's machine.token and cluster.token in history (umizoom) passed every
    # check: no keyword for "token", and the dot kept them from the entropy checks
    from secretsmgr.audit.rules.sm018_plaintext_credential import detect_known
    from secretsmgr.repo.scan import scan_file

    token = "k3x9qz.p7r2m5v8w1t4y6u0"
    for key in ("bootstraptoken", "token", "KUBEADM_TOKEN", "joinToken"):
        verdict = judge_value(key, token)
        assert verdict is not None and verdict.known, key
        assert verdict.kind == "Kubernetes Bootstrap Token", key
    assert judge_value("cmd", f"kubeadm join 10.0.0.1:6443 --token {token}") is not None
    # kubeadm's documented examples are public; names and hosts of that shape hold no digit or
    # run on; the shape alone, under a key that names no token, is an image tag, an address,
    # a bucket (the review: these failed check)
    for key, value in (
        ("token", "abcdef.0123456789abcdef"),
        ("cmd", "kubeadm join --token 07401b.f395accd246ae52d 10.0.0.1:6443"),
        ("token", "server.kubernetesservice"),
        ("token", f"{token}.example.com"),
        ("x", token),
        ("image", "ghcr.io/example/web:master.0f1e2d3c4b5a6978"),
        ("TAG", "canary.0123abc456def789"),
        ("ALERT_FROM", "jordan.henderson1990abc@example.com"),
        ("BUCKET", "velero.backups2024homelab"),
    ):
        verdict = judge_value(key, value)
        assert verdict is None or verdict.kind != "Kubernetes Bootstrap Token", value
    kubeadm = (
        "apiVersion: kubeadm.k8s.io/v1beta3\nkind: InitConfiguration\nbootstrapTokens:\n"
        f"  - token: {token}\n    ttl: 24h0m0s\n"
    )
    hits = detect_known(scan_file("kubeadm.yaml", kubeadm.encode()))
    assert [(h.key_path, h.kind) for h in hits] == [
        ("bootstrapTokens.0.token", "Kubernetes Bootstrap Token")
    ]


def test_a_very_long_value_is_judged_without_backtracking() -> None:
    # digicatapult/vitalam-flux-infra: three ConfigMaps each hold a 782,362-character hex
    # chain spec; a URL pattern (any scheme length) and the random-token lookaheads backtracked
    # from every position, and audit, check and layers never finished (a 200k value: 26 s)
    import secrets
    import time

    from secretsmgr.repo.placeholders import is_credential_skeleton, is_placeholder

    run = secrets.token_hex(200_000)
    values = (run, f"https://example.com/{run}", f"x://{run}", f"x://a:{run}@", run.upper())
    started = time.perf_counter()
    for value in values:
        judge_value("chainspec.json", value)
        is_placeholder(value)
        is_credential_skeleton(f"a=b\npassword={value}\n")
    # a guard against quadratic time, not a speed target: linear work takes about a second
    assert time.perf_counter() - started < 30


def test_workflow_secrets_inherit_and_traefik_secret_urns_are_no_credentials() -> None:
    # the seventh sweep: `secrets: inherit` in GitHub Actions workflows (jordi-axpo, Joker9944)
    # and Traefik's urn:k8s:secret:NAME:KEY references (Joker9944: 8 warnings)
    assert judge_value("secrets", "inherit") is None
    assert judge_value("clientSecret", "urn:k8s:secret:prowlarr-oidc:CLIENT_SECRET") is None
    assert judge_value("password", "urn:k8s:secret:traefik-oidc-redis:password") is None
    # still judged: another value under secrets
    assert judge_value("secrets", "Xq7pL2vR9mK4wZ1aa") is not None


def test_the_reviews_secrets_behind_new_exemptions_are_still_reported() -> None:
    # the review of the seventh sweep's change smuggled real secrets past each new exemption
    import base64

    from secretsmgr.repo.placeholders import is_placeholder

    still_secret = (
        "https://mm.example.com/hooks/ghh9yxbq5fgqtrpcx7mm4yey1w#xxx",  # a fragment
        "https://grafana.example.com/api/xxx?user=admin&password=Tr0ub4dor-3",  # a query
        "https://gotify.example.com/message?token=AQfsdf9F8.dj5Ps&title=xxx",
        "https://hc-ping.com/0b6f2b1e-5c1a-4f1e-9d3b-2c7a8e9f1a2b/unused",  # a UUID before
        "https://todo.example.com/api/todo/hook/9f86d081884c7d659a2feaf0c55ad015",
        "ChangeMe#Prod-9f86d0",
        "changeme-Xq9vT2mK8pL4wR7n",
        "urn:k8s:secret:oidc:Xq9vT2mK8pL4wR7nAbCdEf12",
    )
    for value in still_secret:
        assert not is_placeholder(value), value
    for value in (
        "https://discord.com/api/webhooks/xxx/yyy",
        "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
        "changeme",
        "CHANGE_ME_PLEASE",
        "urn:k8s:secret:prowlarr-oidc:CLIENT_SECRET",
    ):
        assert is_placeholder(value), value
    assert base64.b64decode("Y2hhbmdlbWUtWHE5dlQybUs4cEw0d1I3bg==") == b"changeme-Xq9vT2mK8pL4wR7n"


def test_long_runs_of_template_openers_and_urls_are_read_in_linear_time() -> None:
    # the review: a 215 kB list of http://host:port addresses took check 50 s, and a run of
    # "${" or "{{" with nothing closing it never finished
    import time

    from secretsmgr.repo.placeholders import is_placeholder

    urls = ",".join(f"http://etcd-{i}.etcd:2379" for i in range(8000))
    started = time.perf_counter()
    for value in ("${" * 100_000, "{{" * 100_000, "{%" * 100_000, urls):
        is_placeholder(value)
        judge_value("targets", value)
    assert time.perf_counter() - started < 30  # a guard against quadratic time (about 2 s)


def test_a_known_format_in_a_list_item_is_found() -> None:
    # the review: a string that is a list item (a container's args, cloud-init's runcmd) was
    # never judged, so a GitHub token in args and a bootstrap token in runcmd passed
    from secretsmgr.audit.rules.sm018_plaintext_credential import detect_known
    from secretsmgr.repo.scan import scan_file

    job = (
        "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec:\n  template:\n    spec:\n"
        "      containers:\n        - name: gh\n          image: gh:2\n"
        '          args: ["--token=ghp_R7xK2mQ9vT4wL8nP3sY6zB1cD5fG0hJ2kM4a", "--verbose"]\n'
        "        - name: join\n          image: kubeadm:1.30\n"
        '          args: ["join", "--token", "5tq8wz.h2k7m4n9p1r6x3v0", "--tag", "v1.x1x2x3"]\n'
    )
    hits = detect_known(scan_file("job.yaml", job.encode()))
    assert [(h.key_path, h.kind) for h in hits] == [
        ("spec.template.spec.containers.0.args.0", "GitHub Token"),
        # the value after its flag (args: [--token, VALUE]) is read under the flag's name
        ("spec.template.spec.containers.1.args.2", "Kubernetes Bootstrap Token"),
    ]
    cloud = (
        "#cloud-config\nruncmd:\n  - kubeadm join 10.0.0.1:6443 --token 5tq8wz.h2k7m4n9p1r6x3v0\n"
    )
    hits = detect_known(scan_file("cloud-init.yaml", cloud.encode()))
    assert [(h.key_path, h.kind) for h in hits] == [("runcmd.0", "Kubernetes Bootstrap Token")]


def test_a_go2rtc_xiaomi_region_is_no_password() -> None:
    # judging list items showed shelken's go2rtc streams, xiaomi://USER_ID:REGION@host: the
    # region (cn, de, …) sits where a password would; a password there is still one
    assert judge_value("0", "xiaomi://626144510:cn@192.168.0.159?did=1105758690&subtype=hd") is None
    verdict = judge_value("0", "xiaomi://626144510:Tr0ub4dor-3@192.168.0.159?did=1")
    assert verdict is not None and verdict.known
    # and a camera's stream URL with its password in a list is still reported (rajsinghtech)
    verdict = judge_value("0", "rtsp://frigate:Ap7xQ2mK9v@192.168.50.247:554/Streaming/Channels/1")
    assert verdict is not None and verdict.known
    # a stand-in that asks to be replaced, in capitals (d-uzlov's docker-compose environment)
    compose = "OSP_CORE_DB=mysql+pymysql://osp:REPLACEOSPDBPASSWORD@osp_db/osp"
    assert judge_value("4", compose) is None


def test_ci_secret_references_and_api_examples_pass_and_a_ci_file_gets_a_ci_fix(
    tmp_path: Path,
) -> None:
    # sweep 11 (RawkodeAcademy): get-secretmanager-secrets' `secrets:` input (Google Secret
    # Manager resource names) and an OpenAPI `example:` were SM018 warnings, and the fix said
    # to SOPS-encrypt the workflow, which GitHub then cannot run
    from secretsmgr.audit.engine import run_audit
    from tests.conftest import git

    refs = (
        "CLOUDFLARE_TOKEN:projects/458678766461/secrets/cloudflare-token\n"
        "API_KEY:projects/my-project/secrets/api-key/versions/latest\n"
    )
    token = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"

    def workflow(secrets: str) -> str:
        body = "".join(f"            {line}\n" for line in secrets.splitlines())
        return (
            "name: deploy\non: [push]\njobs:\n  deploy:\n    runs-on: ubuntu-latest\n"
            "    steps:\n      - uses: google-github-actions/get-secretmanager-secrets@v2\n"
            f"        with:\n          secrets: |\n{body}"
        )

    api = (
        "openapi: 3.0.0\ninfo: {title: t, version: '1'}\ncomponents:\n  schemas:\n    Org:\n"
        "      properties:\n        apikey:\n          type: string\n"
        "          example: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\n"
    )
    standard_repo(
        tmp_path,
        {
            ".github/workflows/deploy.yaml": workflow(refs),
            "api/openapi.yaml": api,
            # not an OpenAPI document: the same value is still judged
            "api/settings.yaml": api.replace("openapi: 3.0.0\n", ""),
            # a real token beside the references
            ".github/workflows/leak.yaml": workflow(refs + f"GH:{token}\n"),
        },
    )
    git(tmp_path, "init", "-q", "-b", "main")  # git lists the dot folder's files
    found = {f.path: f for f in run_audit(tmp_path).findings if f.rule == "SM018"}
    assert set(found) == {"api/settings.yaml", ".github/workflows/leak.yaml"}, found
    fix = found[".github/workflows/leak.yaml"].fix or ""
    assert "CI service's own secrets" in fix and "secretsmgr encrypt" not in fix
    assert found[".github/workflows/leak.yaml"].line == 12  # the token's own line
    assert "secretsmgr encrypt" in (found["api/settings.yaml"].fix or "")


def test_the_new_exemptions_let_no_known_format_through() -> None:
    # the review of sweep 11's exemptions: each of these passed for a moment
    token = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
    for key, value in (
        ("SLACK_TOKEN", "###ZARF_VAR_X###xoxb-" + "1234567890-abcdefghijkl"),
        ("GITHUB_TOKEN", f"projects/p/secrets/{token}"),
        ("env", f"A:projects/1/secrets/a-b\nB:op://v/i/f?t={token}\n"),
    ):
        assert judge_value(key, value) is not None, (key, value)
    for key, value in (
        ("appSecretToken", "hunter2-and-3-secret"),
        ("clientSecretValue", "hunter2-and-3-secret"),
    ):
        assert judge_value(key, value) is not None, key
    assert judge_value("token", "nvme-x_Q7mZp9K2xR4tY8uWb3NqL0vXe") is not None


def test_an_api_example_hides_no_known_format_and_swagger_in_values_is_no_api(
    tmp_path: Path,
) -> None:
    token = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
    api = (
        "openapi: 3.0.0\ncomponents:\n  schemas:\n    Org:\n      properties:\n        key:\n"
        f"          example: {token}\n"
    )
    values = "swagger: {enabled: true}\nregistries:\n  example:\n    password: Tr0ub4dor-and-3x\n"
    standard_repo(tmp_path, {"api/openapi.yaml": api, "chart/values.yaml": values})
    found = {f.path for f in run_audit(tmp_path).findings if f.rule == "SM018"}
    assert found == {"api/openapi.yaml", "chart/values.yaml"}, found


def test_a_credential_named_with_key_is_judged_and_a_setting_is_not() -> None:
    # sweep 13: 254CARBON/infra's AWS_SECRET_ACCESS_KEY held a chosen password and no rule
    # looked at it (a key ending in "key" was taken for a reference, as passwordKey is)
    for key in ("AWS_SECRET_ACCESS_KEY", "DJANGO_SECRET_KEY", "apiKey", "secret_key", "privateKey"):
        verdict = judge_value(key, "hunter2hunter2")
        assert verdict is not None and not verdict.known, key
    for key, value in (
        ("passwordKey", "admin-password"),  # the key a password sits under in a Secret
        ("secretKey", "secret-key"),  # a key's name, letters only
        ("api_key_rate_limit", "60/minute"),  # shamubernetes: a limit
        ("PASSWORD_HASH_ALGO", "argon2"),  # Liana64's forgejo: an algorithm
        ("shared_secret", "generate"),  # mautrix: the bridge makes one itself
        ("folders.external-secrets", "folder_security"),  # an editor's icon map
        # references the regression run over the sweeps' repositories met once api_key counted
        ("api_key", "SONARR__API_KEY"),  # recyclarr's !env_var (a .NET-style variable name)
        ("api_key", "os.environ/OPENAI_API_KEY"),  # LiteLLM
        ("SABNZBD_API_KEY", "7ada94fa-d930-4461-83ca-5eb11a28b33f:prod:/apollo/SABNZBD_API_KEY"),
        # a realm JSON's "secret": "secret" (the key's own word), and keycloak-config-cli's
        # realm checksum (a realm JSON in a ConfigMap, the regression run)
        ("secret", "secret"),
        ("import-checksum-default", "3f2a9c1e4b5d6e7f8091a2b3c4d5e6f708192a3b3f2a9c1e4b5d6e7f80"),
    ):
        assert judge_value(key.rpartition(".")[2], value) is None, key


def _talos_key() -> str:
    import base64
    import secrets

    return base64.b64encode(secrets.token_bytes(32)).decode()


def test_a_talos_machine_configs_random_keys_are_a_known_format_and_history_names_them(
    tmp_path: Path,
) -> None:
    # stop 31's left-alone list (sweep 19, buvis/clusters): a committed controlplane.yaml's
    # cluster.secret and aescbcEncryptionSecret were keyword warnings, so audit --history
    # named the file's other key paths but not its most sensitive ones
    from secretsmgr.audit.rules.sm018_plaintext_credential import detect, detect_known
    from secretsmgr.gate.history import walk_repository
    from secretsmgr.repo.scan import scan_file
    from tests.audit.helpers import write
    from tests.gate.helpers import commit, gitops

    config = (
        "version: v1alpha1\ndebug: false\nmachine:\n  type: controlplane\n"
        "  token: k3x9qz.p7r2m5v8w1t4y6u0\n"
        f"cluster:\n  id: q7Wm2ZpK9vR4tY8uXb3N\n  secret: {_talos_key()}\n"
        f"  aescbcEncryptionSecret: {_talos_key()}\n"
        f"  secretboxEncryptionSecret: {_talos_key()}\n"
        "  clusterName: home\n"
    )
    secret_paths = {
        "cluster.secret",
        "cluster.aescbcEncryptionSecret",
        "cluster.secretboxEncryptionSecret",
    }
    for scan in (detect, detect_known):
        hits = {h.key_path: h for h in scan(scan_file("talos/controlplane.yaml", config.encode()))}
        assert secret_paths <= set(hits), scan
        assert all(hits[p].known and hits[p].kind == "Talos Cluster Secret" for p in secret_paths)
        assert hits["machine.token"].kind == "Kubernetes Bootstrap Token"
    # talosctl gen secrets / talhelper's bundle, plain
    bundle = (
        f"cluster:\n  id: q7Wm2ZpK9vR4tY8uXb3N\n  secret: {_talos_key()}\n"
        f"secrets:\n  bootstraptoken: k3x9qz.p7r2m5v8w1t4y6u0\n"
        f"  secretboxencryptionsecret: {_talos_key()}\n"
        "trustdinfo:\n  token: a1b2c3.d4e5f6a7b8c9d0e1\n"
        "certs:\n  etcd:\n    crt: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t\n"
    )
    hits = {h.key_path: h for h in detect_known(scan_file("talos/secrets.yaml", bundle.encode()))}
    assert {"cluster.secret", "secrets.secretboxencryptionsecret"} <= set(hits)
    assert hits["cluster.secret"].kind == "Talos Cluster Secret"

    # not a Talos file, a placeholder, a value too short to be a key: no such verdict
    def kind_at(rel: str, text: str, key_path: str) -> str | None:
        kinds = {h.key_path: h.kind for h in detect(scan_file(rel, text.encode()))}
        return kinds.get(key_path)

    secret_line = next(line for line in config.splitlines() if line.startswith("  secret: "))
    plain = f"cluster:\n{secret_line}\n"
    assert kind_at("app/values.yaml", plain, "cluster.secret") != "Talos Cluster Secret"
    stand_in = config.replace(secret_line, "  secret: ${CLUSTER_SECRET}")
    assert kind_at("talos/cp.yaml", stand_in, "cluster.secret") is None
    short = config.replace(secret_line, "  secret: MTIzNDU2Nzg=")  # 8 bytes
    assert kind_at("talos/cp.yaml", short, "cluster.secret") != "Talos Cluster Secret"
    # history: committed, then removed
    root = gitops(tmp_path / "r", {"talos/controlplane.yaml": config})
    (root / "talos" / "controlplane.yaml").unlink()
    write(root, "talos/README.md", "generated with talosctl gen config\n")
    commit(root, "take the machine config out")
    facts = walk_repository(root)
    exposed = {e.key_path for e in facts.exposures if e.path == "talos/controlplane.yaml"}
    assert secret_paths <= exposed, exposed


def test_a_bootstrap_token_with_no_digit_after_the_dot_is_still_one_under_a_tokens_key(
    tmp_path: Path,
) -> None:
    # sweep 20 (albatrossflavour/home-ops): a Talos worker config's machine.token had letters
    # only after the dot (one random token in 180) and was reported by nothing, in history too
    from secretsmgr.audit.rules.sm018_plaintext_credential import detect_known
    from secretsmgr.gate.history import walk_repository
    from secretsmgr.repo.scan import scan_file
    from tests.gate.helpers import commit, gitops

    token = "kqm9zw.hmvtqbnrjcpdlfwa"
    verdict = judge_value("token", token)
    assert verdict is not None and verdict.kind == "Kubernetes Bootstrap Token"
    config = f"version: v1alpha1\nmachine:\n  type: worker\n  token: {token}\ncluster:\n  id: x\n"
    hits = detect_known(scan_file("talos/worker.yaml", config.encode()))
    assert [h.key_path for h in hits] == ["machine.token"]
    # still no token: two words, a digit-less pair, a value under a key naming none
    for key, value in (
        ("token", "server.monitoringsystem"),
        ("token", "kqmxzw.hmvtqbnrjcpdlfwa"),
        # a key that is about a token, not one: host names (the review)
        ("tokenIssuer", "node01.monitoringsystem"),
        ("token_backend", "store2.encryptedcookies"),
        ("image", token),
        ("token", "abcdef.0123456789abcdef"),
    ):
        found = judge_value(key, value)
        assert found is None or found.kind != "Kubernetes Bootstrap Token", (key, value)
    root = gitops(tmp_path / "r", {"talos/worker.yaml": config})
    (root / "talos" / "worker.yaml").unlink()
    commit(root, "take it out")
    exposed = {(e.path, e.key_path) for e in walk_repository(root).exposures}
    assert ("talos/worker.yaml", "machine.token") in exposed


def test_the_encrypt_fix_says_when_the_matching_rule_would_leave_the_credential_in_clear(
    tmp_path: Path,
) -> None:
    # sweep 20 (0xTheFr34k/Homelab): the fix for a plaintext Talos config was `secretsmgr
    # encrypt -i talos/controlplane.yaml`; its rule's encrypted_regex left machine.ca.key in
    # clear, encrypt exited 0, and only a second check said so
    from tests.audit.helpers import K1, write

    config = (
        "version: v1alpha1\nmachine:\n  type: controlplane\n"
        f"cluster:\n  secret: {_talos_key()}\n"
        f"secrets:\n  aescbcEncryptionSecret: x\nextra:\n  secret: {_talos_key()}\n"
    )
    root = standard_repo(tmp_path, {"talos/controlplane.yaml": config})
    write(
        root,
        ".sops.yaml",
        "creation_rules:\n  - path_regex: talos/.*\\.yaml$\n"
        f"    encrypted_regex: ^(data|stringData)$\n    age: {K1}\n"
        "  - path_regex: \\.(enc|sops)\\.(yaml|yml|json)$\n"
        f"    encrypted_regex: ^(data|stringData)$\n    age: {K1}\n",
    )
    found = {f.key_path: f for f in run_audit(root).findings if f.rule == "SM018"}
    fix = found["cluster.secret"].fix or ""
    assert "rule 1 (encrypted_regex: ^(data|stringData)$) would leave cluster.secret in clear" in (
        fix
    ), fix
    assert "add a rule for talos/controlplane.yaml above it" in fix
    # a rule that encrypts it: the plain command
    write(
        root,
        ".sops.yaml",
        f"creation_rules:\n  - path_regex: talos/.*\\.yaml$\n    age: {K1}\n",
    )
    found = {f.key_path: f for f in run_audit(root).findings if f.rule == "SM018"}
    assert (found["cluster.secret"].fix or "").startswith(
        "secretsmgr encrypt -i talos/controlplane.yaml;"
    )
    # a name without a text store's extension: sops encrypts it whole (binary store), so the
    # rule's regex leaves nothing in clear (the review)
    write(
        root,
        ".sops.yaml",
        "creation_rules:\n  - path_regex: talos/\n"
        f"    encrypted_regex: ^(data|stringData)$\n    age: {K1}\n",
    )
    token = "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"
    write(root, "talos/kubeconfig", f"users:\n  - user:\n      token: {token}\n")
    found = {(f.path, f.key_path): f for f in run_audit(root).findings if f.rule == "SM018"}
    fix = found[("talos/kubeconfig", "users.0.user.token")].fix or ""
    assert fix.startswith("secretsmgr encrypt -i talos/kubeconfig;"), fix


def test_base64_of_a_template_of_fields_is_no_credential() -> None:
    # sweep 20 (JefeDavis/k8s-HomeOps): Overseerr keeps its default webhook payload, JSON with
    # {{ … }} fields, base64-encoded in settings.json: a high-entropy warning
    import base64

    payload = '{\n  "notification_type": "{{notification_type}}",\n  "subject": "{{subject}}"\n}'
    assert judge_value("jsonPayload", base64.b64encode(payload.encode()).decode()) is None
    # a secret beside the fields is still judged
    leaky = '{"url": "https://u:Zq8vLw2pQx@hooks.example.org", "m": "{{message}}"}'
    assert judge_value("jsonPayload", base64.b64encode(leaky.encode()).decode()) is not None


def test_a_dotenv_value_its_own_comment_gives_as_the_example_is_no_finding(
    tmp_path: Path,
) -> None:
    # sweep 24 and 33, symbiontik/k3s-gitops: a cluster template's bootstrap.env shows
    # "# e.g. 1a8d…" above the same Cloudflare key, left as it was; once Cloudflare's Global
    # API Key became a known format this was an error
    example = "1a8d6a2b3c4d5e6f708192a3b4c5d6e7f8091"
    other = "92a0f3c1d5e7b9a2c4e6f8a0b2c4d6e8f0a1b"
    text = (
        f"# Your global Cloudflare API Key\n# e.g. {example}\n"
        f'export CLOUDFLARE_APIKEY="{example}"\n'
    )
    standard_repo(tmp_path, {"bootstrap.env": text})
    found = [f for f in run_audit(tmp_path, keyless_only=True).findings if f.rule == "SM018"]
    assert found == []
    (tmp_path / "bootstrap.env").write_text(text.replace(f'"{example}"', f'"{other}"'))
    found = [f for f in run_audit(tmp_path, keyless_only=True).findings if f.rule == "SM018"]
    assert [(f.key_path, f.severity.value) for f in found] == [("CLOUDFLARE_APIKEY", "error")]


def test_a_cloudflare_global_key_under_a_cloudflare_parent_is_known(tmp_path: Path) -> None:
    # the review: the external-dns chart's values spell it cloudflare: {apiKey: …}
    key = "92a0f3c1d5e7b9a2c4e6f8a0b2c4d6e8f0a1b"
    values = (
        "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: dns\n"
        "spec:\n  values:\n    provider: cloudflare\n    cloudflare:\n"
        f"      apiKey: {key}\n      email: ops@example.org\n"
    )
    standard_repo(tmp_path, {"apps/dns.yaml": values})
    found = [f for f in run_audit(tmp_path, keyless_only=True).findings if f.rule == "SM018"]
    assert [(f.key_path, f.severity.value) for f in found] == [
        ("spec.values.cloudflare.apiKey", "error")
    ], found
    assert "Cloudflare Global API Key" in found[0].message


def test_tls_secret_names_are_no_credentials_and_single_underscore_markers_still_are() -> None:
    """sweep 89: josmase/flux's postBuild.substitute names its TLS Secrets
    (`CERT_SECRET_EXTERNAL: hejsan-xyz-tls`), a warning each. A password that ends in -tls is
    still one; so is a value between single underscores (samcday/home-cluster's `_DBPASS_`, a
    sed marker, stays a warning: the attack review of stop 48 passed `_SUMMER_2024_` with it)."""
    from secretsmgr.audit.credentials import sql_password_in

    for key, value in (
        ("CERT_SECRET_EXTERNAL", "hejsan-xyz-tls"),
        ("certSecret", "local-example-org-tls"),
    ):
        assert judge_value(key, value) is None, (key, value)
    for key, value in (
        ("password", "hunter2-tls"),
        ("CERT_PASSWORD", "cluster-ca-tls"),
        ("password", "_Ab1_"),
        ("password", "_SUMMER_2024_"),
        ("DB_PASSWORD", "_QWZRTXKPLMVNBHGF_"),
        ("password", "_DBPASS_"),
    ):
        assert judge_value(key, value) is not None, (key, value)
    # stand-in words are no excuse for a password a human chose (the attack review)
    for password in ("key-to-the-kingdom", "Replace this 8fK2mQ9x vL3pZ7wR", "SomePassword"):
        sql = f"CREATE USER app WITH PASSWORD '{password}';"
        assert sql_password_in(sql), password


def test_a_url_naming_where_its_password_is_kept_and_an_audience_are_no_credentials() -> None:
    """sweep 90, shamubernetes/home-k8s: a chart's `postgresql://firecrawl:external-secret@…`
    (the real URL in an ExternalSecret) was an error; `gateAudience` was a warning beside the
    same value under `gateClientID`, which had none."""
    url = "postgresql://firecrawl:external-secret@postgres17-pooler.db.svc:5432/firecrawl"
    assert judge_value("url", url) is None
    assert judge_value("gateAudience", "gate-JxtMq8Lw2pTr0ub4dor3Mh3J") is None
    assert judge_value("url", url.replace("external-secret", "Xk29fQ7pLmTr0ub4")) is not None
    assert judge_value("audience_secret", "gate-JxtMq8Lw2pTr0ub4dor3Mh3J") is not None
