"""Every rule: at least one repository where it fires and one near miss where it stays quiet.

A near miss must produce no finding at all (key-less, plus SM007 where noted): that is the
zero-false-positive promise for correct Flux files.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from secretsmgr.audit.finding import AuditReport
from secretsmgr.keys.age import generate_identity
from secretsmgr.repo.inventory import LiveKeys
from secretsmgr.sops import EncryptionRule, FileFormat, RuleKind, dump, load
from secretsmgr.sops.model import KeyGroup, SopsMetadata
from secretsmgr.sops.tree import MapNode, SeqNode

from .helpers import (
    K1,
    K2,
    K3,
    audit,
    enc,
    flux_kustomization,
    identity,
    pairs,
    secret,
    sops_yaml,
    standard_repo,
    write,
)

Builder = Callable[[Path], None]


@dataclass
class Case:
    """A small repository, what must fire on it, and how to audit it."""

    id: str
    build: Builder
    expect: set[tuple[str, str]]
    options: dict[str, object] = field(default_factory=dict)
    verify: Callable[[AuditReport], None] | None = None


def _insert_after(text: str, anchor: str, line: str) -> str:
    head, sep, tail = text.partition(anchor + "\n")
    assert sep, f"anchor {anchor!r} not found"
    return head + sep + line + "\n" + tail


ENC_FIELD = re.compile(r"(api-token|password): (ENC\[[^\n]*\])")


# ----------------------------------------------------------------------------- SM001


def sm001_hit(root: Path) -> None:
    standard_repo(root, {"apps/redis-acl.yaml": secret("redis-acl", {"acl-password": "hunter2"})})
    write(
        root,
        "apps/multi.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\ndata:\n  a: b\n---\n"
        'apiVersion: v1\nkind: "Secret"\nmetadata:\n  name: tok\ndata:\n  token: aHVudGVyMg==\n',
    )
    write(root, "apps/secret.json", '{"apiVersion": "v1", "kind": "Secret", "data": {"k": "dg=="}}')


def sm001_check(report: AuditReport) -> None:
    by_path = {(f.path, f.key_path) for f in report.findings}
    assert ("apps/redis-acl.yaml", "stringData.acl-password") in by_path
    assert ("apps/multi.yaml", "data.token") in by_path
    for f in report.findings:
        assert "hunter2" not in f.message and "aHVudGVyMg" not in f.message
        # no creation rule matches these names: rename to *.enc.* first, then encrypt
        assert f.fix is not None and f.fix.startswith(f"mv {f.path} ")
        assert "secretsmgr encrypt -i " in f.fix


def sm001_miss(root: Path) -> None:
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


# ----------------------------------------------------------------------------- SM002


def sm002_hit(root: Path) -> None:
    standard_repo(
        root,
        {
            "apps/backup.enc.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n"
            "data:\n  bucket: backups\n"
        },
    )


def sm002_miss(root: Path) -> None:
    standard_repo(
        root,
        {
            "apps/db.enc.yaml": enc(secret("db")),
            "apps/other.sops.yaml": enc(secret("other")),
            "apps/notes.enc.bak": "not a sops file, not named like one\n",
            "apps/readme.enc.md": "# notes\n",
        },
    )


# ----------------------------------------------------------------------------- SM003


def sm003_hit(root: Path) -> None:
    text = enc(secret("db"))
    text = _insert_after(text, "stringData:", "    ADMIN_TOKEN: plain-value")
    text = _insert_after(text, "stringData:", "    PORT: 5432")
    write(root, ".sops.yaml", "")
    standard_repo(root, {"apps/db.enc.yaml": text})


def sm003_check(report: AuditReport) -> None:
    keys = {f.key_path for f in report.findings if f.rule == "SM003"}
    assert keys == {"stringData.ADMIN_TOKEN", "stringData.PORT"}
    assert all("plain-value" not in f.message for f in report.findings)


def sm003_dotenv_hit(root: Path) -> None:
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


def sm003_miss(root: Path) -> None:
    text = enc(secret("db", {"password": "pw", "empty": '""', "nothing": "null"}))
    # A hand-written plain comment where sops would have encrypted one: not a value.
    text = _insert_after(text, "stringData:", "    # rotated by the DBA team")
    # With encrypted_regex ^(data|stringData)$ metadata and kind stay in clear: correct.
    standard_repo(root, {"apps/db.enc.yaml": text})


# ----------------------------------------------------------------------------- SM004/SM005


def sm004_hit(root: Path) -> None:
    standard_repo(root, {"apps/auth.enc.yaml": enc(secret("auth"), (K2,))})


def sm004_shamir_hit(root: Path) -> None:
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


def sm004_cli_key_hit(root: Path) -> None:
    standard_repo(root, {"apps/db.enc.yaml": enc(secret("db"))})


def sm004_miss(root: Path) -> None:
    standard_repo(
        root,
        {"apps/db.enc.yaml": enc(secret("db"), (K1, K2))},
        allowed=[K2],
        rule_keys=(K1, K2),
    )


def sm004_rotation_miss(root: Path) -> None:
    standard_repo(
        root,
        {
            "apps/old.enc.yaml": enc(secret("old"), (K1, K2)),
            "apps/new.enc.yaml": enc(secret("new"), (K2, K1)),
        },
        rule_keys=(K1, K2),
        settings_extra=f"next_cluster_key: {K2}\n",
    )


def sm004_sops_yaml_fallback_miss(root: Path) -> None:
    standard_repo(
        root,
        {"apps/db.enc.yaml": enc(secret("db"), (K1, K3))},
        cluster_key=None,
        rule_keys=(K1, K3),
    )


def sm004_no_key(root: Path) -> None:
    write(root, "clusters/prod/apps.yaml", flux_kustomization())
    write(root, "apps/db.enc.yaml", enc(secret("db"), (K2,)))


def no_key_check(report: AuditReport) -> None:
    skipped = {str(rule): reason for rule, reason in report.skipped}
    assert skipped["SM004"] == "no cluster key known"
    assert skipped["SM005"] == "no cluster key known"
    assert skipped["SM011"] == "no .sops.yaml found"
    assert report.cluster_keys == ()


def sm005_hit(root: Path) -> None:
    standard_repo(root, {"apps/db.enc.yaml": enc(secret("db"), (K1, K3))}, rule_keys=(K1, K3))


def sm005_check(report: AuditReport) -> None:
    (finding,) = report.findings
    assert "age1d7u…w0l" in finding.message
    assert K3 not in finding.message
    assert finding.key_path is None


def sm005_miss(root: Path) -> None:
    standard_repo(
        root,
        {"apps/db.enc.yaml": enc(secret("db"), (K1, K3))},
        allowed=[K3],
        rule_keys=(K1, K3),
    )


# ----------------------------------------------------------------------------- SM006


def sm006_hit(root: Path) -> None:
    broken = ENC_FIELD.sub(
        lambda m: f"{m[1]}: " + re.sub(r",tag:[^,]*", "", m[2]), enc(secret("db")), count=1
    )
    bad_version = enc(secret("v")).replace("version: 3.11.0", "version: '3.11'")
    sf = load(enc(secret("pgp")), FileFormat.YAML)
    pgp = SeqNode([MapNode([("created_at", "2026-01-01T00:00:00Z"), ("enc", "x"), ("fp", "AB")])])
    meta = sf.metadata
    sf.metadata = SopsMetadata(
        key_groups=(KeyGroup(age=(), foreign=(("pgp", pgp),)),),
        lastmodified=meta.lastmodified,
        mac=meta.mac,
        rule=meta.rule,
        version=meta.version,
    )
    standard_repo(
        root,
        {
            "apps/db.enc.yaml": broken,
            "apps/version.enc.yaml": bad_version,
            "apps/pgp.enc.yaml": dump(sf),
            "apps/junk.enc.yaml": "key: [unclosed\n",
        },
    )


def sm006_check(report: AuditReport) -> None:
    found = {(f.path, f.key_path) for f in report.findings if f.rule == "SM006"}
    assert ("apps/db.enc.yaml", "stringData.password") in found
    assert ("apps/version.enc.yaml", None) in found
    assert ("apps/pgp.enc.yaml", "sops") in found
    assert ("apps/junk.enc.yaml", None) in found


def sm006_miss(root: Path) -> None:
    # metadata.annotations is left in clear by the Flux rule: an ENC-looking plain string there
    # is just a string to sops.
    plain = (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  annotations:\n"
        "    example: ENC[this is not sops]\nstringData:\n  password: pw\n"
    )
    standard_repo(
        root,
        {
            "apps/db.enc.yaml": enc(plain),
            "apps/values.yaml": "sops:\n  enabled: true\n",  # a Helm values key, not metadata
        },
    )


# ----------------------------------------------------------------------------- SM007


def sm007_hit(root: Path) -> None:
    tampered = enc(secret("db")).replace("name: db", "name: db-replica", 1)
    swapped = enc(secret("sw"))
    values = dict(re.findall(r"(password|username): (ENC\[[^\n]*\])", swapped))
    swapped = swapped.replace(values["password"], "@P").replace(values["username"], "@U")
    swapped = swapped.replace("@P", values["username"]).replace("@U", values["password"])
    standard_repo(root, {"apps/db.enc.yaml": tampered, "apps/swapped.enc.yaml": swapped})


def sm007_check(report: AuditReport) -> None:
    found = {(f.path, f.key_path) for f in report.findings}
    assert ("apps/db.enc.yaml", None) in found
    assert ("apps/swapped.enc.yaml", "stringData.password") in found
    for f in report.findings:
        assert "s3cr3t" not in f.message and "admin" not in f.message


def sm007_miss(root: Path) -> None:
    text = _insert_after(enc(secret("db")), "stringData:", "    # comments are not in the MAC")
    standard_repo(root, {"apps/db.enc.yaml": text})


# ----------------------------------------------------------------------------- SM009

SECRET_KEY, SECRET_PUBLIC = generate_identity()
PQ_KEY = "AGE-SECRET-KEY-PQ-1" + "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L" * 2


def sm009_hit(root: Path) -> None:
    standard_repo(root, {})
    write(root, "apps/notes.txt", f"scratch\n\nmy key:\n{SECRET_KEY}\n")
    write(root, "docs/pq.md", f"- {PQ_KEY}\n")


def sm009_check(report: AuditReport) -> None:
    by_path = {f.path: f for f in report.findings}
    notes = by_path["apps/notes.txt"]
    assert "line 4" in notes.message and "AGE-SECRET-KEY-1…" in notes.message
    assert SECRET_PUBLIC[:7] in notes.message
    assert "line 1" in by_path["docs/pq.md"].message
    for f in report.findings:
        for text in (f.message, f.fix or ""):
            assert SECRET_KEY not in text and SECRET_KEY[16:40] not in text
            assert PQ_KEY not in text and PQ_KEY[19:40] not in text


def sm009_miss(root: Path) -> None:
    standard_repo(
        root,
        {},
        settings_extra=(
            'ignore:\n  - {rule: SM009, path: "keys/*.agekey", reason: "test-only keys"}\n'
        ),
    )
    write(
        root,
        "docs/keys.md",
        "Identities look like AGE-SECRET-KEY-1… or AGE-SECRET-KEY-PQ-1…, e.g.\n"
        "AGE-SECRET-KEY-1XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX\n"
        f"The public key {SECRET_PUBLIC} is fine to share.\n",
    )
    write(root, "keys/test.agekey", f"# test only\n{SECRET_KEY}\n")


def sm009_miss_check(report: AuditReport) -> None:
    assert report.suppressed == 1


# ----------------------------------------------------------------------------- SM010


def sm010_hit(root: Path) -> None:
    standard_repo(root, {"apps/db.enc.yaml": enc(secret("db"))})
    write(root, "clusters/prod/apps.yaml", flux_kustomization(decryption=None))
    write(root, "clusters/prod/other.yaml", flux_kustomization("other", "./other", provider="x"))
    write(root, "other/o.enc.yaml", enc(secret("o")))


def sm010_check(report: AuditReport) -> None:
    by_path = {f.path: f for f in report.findings}
    assert "layer apps (clusters/prod/apps.yaml)" in by_path["apps/db.enc.yaml"].message
    assert "provider x" in by_path["other/o.enc.yaml"].message


def sm010_miss(root: Path) -> None:
    # {provider: sops} without secretRef is valid: the controller-wide key.
    standard_repo(
        root, {"apps/db.enc.yaml": enc(secret("db"))}, layer=flux_kustomization(decryption="")
    )
    # A layer without decryption that reaches only Flux manifests (like flux-system).
    write(root, "clusters/prod/flux-system.yaml", flux_kustomization("flux-system", "./clusters"))


# ----------------------------------------------------------------------------- SM011


def sm011_hit(root: Path) -> None:
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


def sm011_check(report: AuditReport) -> None:
    by_path = {f.path: f for f in report.findings}
    assert "encrypted_regex: ^(data)$" in by_path["apps/backup.enc.yaml"].message
    assert "no .sops.yaml creation rule" in by_path["misc/unmatched.sops.yaml"].message


def sm011_miss(root: Path) -> None:
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


# ----------------------------------------------------------------------------- SM012


def sm012_hit(root: Path) -> None:
    standard_repo(root, {"apps/db.enc.yaml": enc(secret("db")), "old/legacy.enc.yaml": ""})
    write(root, "old/legacy.enc.yaml", enc(secret("legacy")))


def sm012_miss(root: Path) -> None:
    standard_repo(
        root,
        {
            "apps/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\n"
            "kind: Kustomization\nresources:\n  - ../shared/db.enc.yaml\n",
            "shared/db.enc.yaml": enc(secret("db")),
        },
    )


def sm012_no_layers(root: Path) -> None:
    write(root, ".sops.yaml", sops_yaml((r"\.enc\.yaml$", (K1,))))
    write(root, "secrets/db.enc.yaml", enc(secret("db")))


def no_layers_check(report: AuditReport) -> None:
    assert ("SM012", "no Flux Kustomization found") in report.skipped


# ----------------------------------------------------------------------------- SM014


def sm014_hit(root: Path) -> None:
    text = enc(secret("sentinel"))
    standard_repo(root, {"apps/sentinel.enc.yaml": text, "apps/sentinel-copy.enc.yaml": text})


def sm014_check(report: AuditReport) -> None:
    (finding,) = report.findings
    assert "apps/sentinel.enc.yaml" in finding.message


def sm014_miss(root: Path) -> None:
    standard_repo(
        root,
        {"apps/a.enc.yaml": enc(secret("same")), "apps/b.enc.yaml": enc(secret("same"))},
    )


# ----------------------------------------------------------------------------- SM015


def _kustomization(body: str) -> str:
    return "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n" + body


def sm015_hit(root: Path) -> None:
    quoted = enc(secret("gen")).replace("mac: ENC[", "mac: 'ENC[")
    quoted = re.sub(r"(mac: 'ENC\[[^\n]*\])", r"\1'", quoted)
    multi = enc(secret("multi")) + "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n"
    standard_repo(
        root,
        {
            "apps/kustomization.yaml": _kustomization(
                "resources:\n  - off.enc.yaml\n  - multi.enc.yaml\n"
                "components:\n  - ../components/extra\n"
                "secretGenerator:\n  - name: gen\n    files:\n      - gen.enc.yaml\n"
            ),
            "apps/off.enc.yaml": enc(disabled_metadata_secret()),
            "apps/gen.enc.yaml": quoted,
            "apps/multi.enc.yaml": multi,
            "components/extra/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1alpha1\n"
            "kind: Component\nresources:\n  - extra.enc.yaml\n",
            "components/extra/extra.enc.yaml": enc(secret("extra")),
        },
    )


def disabled_metadata_secret() -> str:
    return (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: off\n  annotations:\n"
        "    kustomize.toolkit.fluxcd.io/decrypt: Disabled\nstringData:\n  password: pw\n"
    )


def sm015_check(report: AuditReport) -> None:
    by_path = {f.path: f.message for f in report.findings}
    assert "Component" in by_path["components/extra/extra.enc.yaml"]
    assert "decrypt: Disabled" in by_path["apps/off.enc.yaml"]
    assert "mac: ENC[" in by_path["apps/gen.enc.yaml"]
    assert "document 2" in by_path["apps/multi.enc.yaml"]
    assert all(f.layers == ("apps",) for f in report.findings)


def sm015_big_hit(root: Path) -> None:
    standard_repo(root, {"apps/big.enc.yaml": enc(secret("big", {"blob": "x" * (4 << 20)}))})


def sm015_miss(root: Path) -> None:
    enabled = disabled_metadata_secret().replace("Disabled", "Enabled")
    standard_repo(
        root,
        {
            "apps/kustomization.yaml": _kustomization(
                "resources:\n  - on.enc.yaml\n"
                "secretGenerator:\n  - name: gen\n    files:\n      - gen.enc.yaml\n"
            ),
            "apps/on.enc.yaml": enc(enabled),
            "apps/gen.enc.yaml": enc(secret("gen")),
        },
    )


# ----------------------------------------------------------------------------- the table

VERIFY = {"verify_mac": True, "identities": [identity(1)]}


# ----------------------------------------------------------------------------- SM016, SM017


def live(*keys: str) -> dict[str, object]:
    """Audit options with a live cluster holding ``keys`` (as --from-cluster reads it)."""
    return {"live_cluster": LiveKeys("context test: flux-system/sops-age", keys)}


def sm016_hit(root: Path) -> None:
    standard_repo(root, {"apps/db.enc.yaml": enc(secret("db"), (K1,))})


def sm016_pending_hit(root: Path) -> None:
    standard_repo(
        root,
        {"apps/db.enc.yaml": enc(secret("db"), (K1, K2))},
        rule_keys=(K1,),
        settings_extra=f"next_cluster_key: {K2}\n",
    )


def sm016_sops_yaml_hit(root: Path) -> None:
    standard_repo(
        root,
        {"apps/db.enc.yaml": enc(secret("db"), (K1, K3))},
        cluster_key=None,
        rule_keys=(K1, K3),
    )


def sm016_pending_check(report: AuditReport) -> None:
    (finding,) = [f for f in report.findings if f.rule == "SM016"]
    assert "pending new cluster key" in finding.message
    assert finding.fix == "secretsmgr key rotate --begin --apply"


def sm017_hit(root: Path) -> None:
    standard_repo(
        root,
        {
            "apps/both.enc.yaml": enc(secret("both"), (K1, K2)),
            "apps/old.enc.yaml": enc(secret("old"), (K1,)),
            "apps/new.enc.yaml": enc(secret("new"), (K2,)),
        },
        rule_keys=(K1,),
        settings_extra=f"next_cluster_key: {K2}\n",
    )


def sm017_check(report: AuditReport) -> None:
    got = {f.path: f for f in report.findings if f.rule == "SM017"}
    assert "ready to finish" in got["apps/both.enc.yaml"].message
    assert "old key only" in got["apps/old.enc.yaml"].message
    assert got["apps/old.enc.yaml"].fix == "secretsmgr key rotate --begin"
    assert "new key only" in got["apps/new.enc.yaml"].message
    assert all(f.severity.value == "info" for f in got.values())


# ----------------------------------------------------------------------------- SM018


def sm018_hit(root: Path) -> None:
    standard_repo(root, {})
    write(
        root,
        "apps/helm.yaml",
        "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: a}\n"
        "spec:\n  values:\n    s3: {accessKey: AKIAZZZZZZZZZZZZZZZZ}\n",
    )
    write(
        root,
        "apps/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"
        "data:\n  SLACK: xoxb-34532454-e039d02840a0b9379c\n",
    )


def sm018_miss(root: Path) -> None:
    standard_repo(
        root,
        {
            "apps/helm.yaml": "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\n"
            "metadata: {name: a}\nspec:\n  values:\n    auth:\n      existingSecret: a-creds\n"
            "      password: ${APP_PASSWORD}\n"
            "    image: {tag: 3f2a9c1e4b5d6e7f8091a2b3c4d5e6f708192a3b}\n"
            "  valuesFrom: [{kind: Secret, name: a-values}]\n",
            "apps/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"
            "data:\n  LOG_LEVEL: info\n  URL: https://example.org/path\n",
            "apps/db.enc.yaml": enc(secret("db", {"password": "AKIAZZZZZZZZZZZZZZZZ"})),
        },
    )


CASES = [
    Case(
        "SM001-hit",
        sm001_hit,
        {
            ("SM001", "apps/redis-acl.yaml"),
            ("SM001", "apps/multi.yaml"),
            ("SM001", "apps/secret.json"),
        },
        verify=sm001_check,
    ),
    Case("SM001-miss", sm001_miss, set()),
    Case("SM002-hit", sm002_hit, {("SM002", "apps/backup.enc.yaml")}),
    Case("SM002-miss", sm002_miss, set()),
    Case("SM003-hit", sm003_hit, {("SM003", "apps/db.enc.yaml")}, verify=sm003_check),
    Case(
        "SM003-dotenv-hit",
        sm003_dotenv_hit,
        {("SM003", "apps/app.env")},
    ),
    Case("SM003-miss", sm003_miss, set()),
    Case(
        "SM004-hit",
        sm004_hit,
        {
            ("SM004", "apps/auth.enc.yaml"),
            ("SM005", "apps/auth.enc.yaml"),
            ("SM011", "apps/auth.enc.yaml"),
        },
    ),
    Case("SM004-shamir-hit", sm004_shamir_hit, {("SM004", "apps/split.enc.yaml")}),
    Case(
        "SM004-cli-key-hit",
        sm004_cli_key_hit,
        {("SM004", "apps/db.enc.yaml"), ("SM005", "apps/db.enc.yaml")},
        options={"cluster_key": K3},
    ),
    Case(
        "SM004-env-key-hit",
        sm004_cli_key_hit,
        {("SM004", "apps/db.enc.yaml"), ("SM005", "apps/db.enc.yaml")},
        options={"env": {"SECRETSMGR_CLUSTER_KEY": K2}},
    ),
    Case("SM004-miss", sm004_miss, set()),
    Case(
        "SM004-rotation-miss",
        sm004_rotation_miss,
        {("SM017", "apps/old.enc.yaml"), ("SM017", "apps/new.enc.yaml")},
    ),
    Case("SM004-sops-yaml-key-miss", sm004_sops_yaml_fallback_miss, set()),
    Case("SM004-no-key-skipped", sm004_no_key, set(), verify=no_key_check),
    Case(  # the live keys are the cluster keys too (--from-cluster): SM004 and SM005 agree
        "SM016-hit",
        sm016_hit,
        {
            ("SM016", ".secretsmgr.yaml"),
            ("SM004", "apps/db.enc.yaml"),
            ("SM005", "apps/db.enc.yaml"),
        },
        options=live(K2),
    ),
    Case(
        "SM016-pending-hit",
        sm016_pending_hit,
        {("SM016", ".secretsmgr.yaml"), ("SM017", "apps/db.enc.yaml")},
        options=live(K1),
        verify=sm016_pending_check,
    ),
    Case(
        "SM016-sops-yaml-hit",
        sm016_sops_yaml_hit,
        {("SM016", ".sops.yaml"), ("SM004", "apps/db.enc.yaml"), ("SM005", "apps/db.enc.yaml")},
        options=live(K2),
    ),
    Case("SM016-miss", sm016_hit, set(), options=live(K2, K1)),
    Case(  # one of the rule's keys is held: no drift (K1 is a stranger to the live keys)
        "SM016-sops-yaml-miss",
        sm016_sops_yaml_hit,
        {("SM005", "apps/db.enc.yaml")},
        options=live(K3),
    ),
    Case(
        "SM017-hit",
        sm017_hit,
        {
            ("SM017", "apps/both.enc.yaml"),
            ("SM017", "apps/old.enc.yaml"),
            ("SM017", "apps/new.enc.yaml"),
            ("SM011", "apps/old.enc.yaml"),
            ("SM011", "apps/new.enc.yaml"),
        },
        verify=sm017_check,
    ),
    Case("SM017-miss", sm016_hit, set()),
    Case("SM005-hit", sm005_hit, {("SM005", "apps/db.enc.yaml")}, verify=sm005_check),
    Case("SM005-miss", sm005_miss, set()),
    Case(
        "SM006-hit",
        sm006_hit,
        {
            ("SM006", "apps/db.enc.yaml"),
            ("SM006", "apps/version.enc.yaml"),
            ("SM006", "apps/pgp.enc.yaml"),
            ("SM005", "apps/pgp.enc.yaml"),
            ("SM011", "apps/pgp.enc.yaml"),
            ("SM006", "apps/junk.enc.yaml"),
        },
        verify=sm006_check,
    ),
    Case("SM006-miss", sm006_miss, set()),
    Case(
        "SM007-hit",
        sm007_hit,
        {("SM007", "apps/db.enc.yaml"), ("SM007", "apps/swapped.enc.yaml")},
        options=VERIFY,
        verify=sm007_check,
    ),
    Case("SM007-miss", sm007_miss, set(), options=VERIFY),
    Case(
        "SM009-hit",
        sm009_hit,
        {("SM009", "apps/notes.txt"), ("SM009", "docs/pq.md")},
        verify=sm009_check,
    ),
    Case("SM009-miss", sm009_miss, set(), verify=sm009_miss_check),
    Case(
        "SM010-hit",
        sm010_hit,
        {("SM010", "apps/db.enc.yaml"), ("SM010", "other/o.enc.yaml")},
        verify=sm010_check,
    ),
    Case("SM010-miss", sm010_miss, set()),
    Case(
        "SM011-hit",
        sm011_hit,
        {("SM011", "apps/backup.enc.yaml"), ("SM011", "misc/unmatched.sops.yaml")},
        verify=sm011_check,
    ),
    Case("SM011-miss", sm011_miss, set()),
    Case("SM012-hit", sm012_hit, {("SM012", "old/legacy.enc.yaml")}),
    Case("SM012-miss", sm012_miss, set()),
    Case("SM012-no-layers-skipped", sm012_no_layers, set(), verify=no_layers_check),
    Case("SM014-hit", sm014_hit, {("SM014", "apps/sentinel-copy.enc.yaml")}, verify=sm014_check),
    Case("SM014-miss", sm014_miss, set()),
    Case(
        "SM015-hit",
        sm015_hit,
        {
            ("SM015", "components/extra/extra.enc.yaml"),
            ("SM015", "apps/off.enc.yaml"),
            ("SM015", "apps/gen.enc.yaml"),
            ("SM015", "apps/multi.enc.yaml"),
        },
        verify=sm015_check,
    ),
    Case("SM015-big-hit", sm015_big_hit, {("SM015", "apps/big.enc.yaml")}),
    Case("SM015-miss", sm015_miss, set()),
    Case("SM018-hit", sm018_hit, {("SM018", "apps/helm.yaml"), ("SM018", "apps/cm.yaml")}),
    Case("SM018-miss", sm018_miss, set()),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_rule_case(case: Case, tmp_path: Path) -> None:
    case.build(tmp_path)
    report = audit(tmp_path, **case.options)
    assert pairs(report) == case.expect
    for finding in report.findings:
        assert "\n" not in finding.message
    if case.verify is not None:
        case.verify(report)


def test_every_rule_has_a_hit_and_a_miss() -> None:
    from secretsmgr.audit.registry import RULES
    from tests.gate import test_history as test_git_history

    from . import test_history_rules

    # The history rules (SM008, SM013) need a changelog and a clock, SM019/SM020 past commits:
    # their cases live in test_history_rules.py and tests/gate/test_history.py as
    # test_sm0xx_fires… / test_sm0xx_near_miss… functions.
    history = [
        n for m in (test_history_rules, test_git_history) for n in dir(m) if n.startswith("test_sm")
    ]
    for rule in RULES:
        tag = f"test_{rule.id.lower()}_"
        if any(n.startswith(tag) for n in history):
            assert any(n.startswith(tag + "fires") for n in history), rule.id
            assert any(n.startswith(tag + "near_miss") for n in history), rule.id
            continue
        ids = [c.id for c in CASES if c.id.startswith(rule.id + "-")]
        assert any("hit" in i for i in ids), rule.id
        assert any("miss" in i for i in ids), rule.id
        assert any(rule.id in {r for r, _ in c.expect} for c in CASES), rule.id
