"""Small Flux repositories for the audit tests, written into tmp folders (no git needed)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from secretsmgr.audit.engine import run_audit
from secretsmgr.audit.finding import AuditReport
from secretsmgr.keys.age import AgeIdentity, AgeRecipient, parse_identities
from secretsmgr.sops import EncryptionRule, FileFormat, RuleKind, dump, encrypt, parse_plain

ROOT = Path(__file__).resolve().parents[2]
KEYS = ROOT / "tests" / "vectors" / "keys"
K1 = "age17m4zztwdtjwv5yastfc6v72cjnsrn7yuxlpmgwgr5c8s52lst4jq9x0tvy"
K2 = "age1wk59fr3he9n3qw722fh85e6udyj2geqwcfu5anaql9xd2dam0c0qfp8vss"
K3 = "age1d7u0zvv3mvs79d268nzswczue4qf0xvntel8rstr37w8hsywsdasj9uw0l"
FLUX_RULE = EncryptionRule(RuleKind.ENCRYPTED_REGEX, "^(data|stringData)$")


def identity(number: int = 1) -> AgeIdentity:
    """The test-only identity ``test-only-<number>.agekey``."""
    path = KEYS / f"test-only-{number}.agekey"
    return parse_identities(path.read_text(encoding="utf-8"), path.name)


def write(root: Path, rel: str, text: str) -> Path:
    """Write ``text`` at ``root/rel``, creating folders."""
    target = root / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return target


def secret(name: str = "db", values: Mapping[str, str] | None = None, **extra: str) -> str:
    """A v1 Secret manifest with ``stringData``; ``extra`` adds raw top-level YAML blocks."""
    values = {"password": "s3cr3t-value", "username": "admin"} if values is None else values
    body = "".join(f"  {k}: {v}\n" for k, v in values.items())
    text = (
        "apiVersion: v1\nkind: Secret\n"
        f"metadata:\n  name: {name}\n  namespace: prod\n"
        + "".join(extra.values())
        + "type: Opaque\n"
        + ("stringData:\n" + body if values else "stringData: {}\n")
    )
    return text


def enc(
    text: str,
    recipients: Sequence[str] = (K1,),
    *,
    rule: EncryptionRule = FLUX_RULE,
    fmt: FileFormat = FileFormat.YAML,
    groups: Sequence[Sequence[str]] | None = None,
    threshold: int = 0,
    mac_only: bool = False,
) -> str:
    """Encrypt plaintext ``text`` in-process, as sops would."""
    docs = parse_plain(text, fmt)
    key_groups = [[AgeRecipient(k) for k in g] for g in (groups or [recipients])]
    sf = encrypt(
        docs,
        fmt=fmt,
        groups=key_groups,
        rule=rule,
        mac_only_encrypted=mac_only,
        shamir_threshold=threshold,
    )
    return dump(sf)


def flux_kustomization(
    name: str = "apps",
    path: str = "./apps",
    decryption: str | None = "sops-age",
    provider: str = "sops",
) -> str:
    """A Flux Kustomization; ``decryption`` None = no decryption, "" = no secretRef."""
    text = (
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n"
        f"metadata:\n  name: {name}\n  namespace: flux-system\n"
        f"spec:\n  interval: 10m\n  path: {path}\n  prune: true\n"
        "  sourceRef:\n    kind: GitRepository\n    name: flux-system\n"
    )
    if decryption is not None:
        text += f"  decryption:\n    provider: {provider}\n"
        if decryption:
            text += f"    secretRef:\n      name: {decryption}\n"
    return text


# A Flux bootstrap of clusters/prod (flux-system's GitRepository and Kustomization), as
# ``flux bootstrap`` writes gotk-sync.yaml: with it, standard_repo's layer has a cluster root.
BOOTSTRAP_SYNC = (
    "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\n"
    "metadata: {name: flux-system, namespace: flux-system}\n"
    "spec: {url: 'ssh://git@github.com/example/ops', ref: {branch: main}}\n---\n"
    "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n"
    "metadata: {name: flux-system, namespace: flux-system}\n"
    "spec:\n  path: ./clusters/prod\n  sourceRef: {kind: GitRepository, name: flux-system}\n"
)


def age_secret_flag_patch(secret: str) -> str:
    """A kustomization's ``patches:`` that give kustomize-controller ``--sops-age-secret``."""
    return (
        "patches:\n  - patch: |-\n      - op: add\n"
        "        path: /spec/template/spec/containers/0/args/-\n"
        f"        value: --sops-age-secret={secret}\n"
        "    target: {kind: Deployment, name: kustomize-controller}\n"
    )


def sops_yaml(*rules: tuple[str, Sequence[str]], extra: str = "") -> str:
    """A `.sops.yaml` with (path_regex, recipients) rules and the Flux encrypted_regex."""
    out = "creation_rules:\n"
    for regex, keys in rules:
        out += (
            f"  - path_regex: {regex}\n    encrypted_regex: ^(data|stringData)$\n"
            f"    age: {','.join(keys)}\n"
        )
    return out + extra


def standard_repo(
    root: Path,
    files: Mapping[str, str],
    *,
    cluster_key: str | None = K1,
    allowed: Iterable[str] = (),
    rule_keys: Sequence[str] = (K1,),
    settings_extra: str = "",
    layer: str | None = None,
) -> Path:
    """A repo with one decrypting layer ``apps`` over ``./apps`` (no kustomization.yaml: Flux
    includes every manifest below), `.sops.yaml` and `.secretsmgr.yaml`, plus ``files``."""
    write(root, ".sops.yaml", sops_yaml((r"\.(enc|sops)\.(yaml|yml|json)$", rule_keys)))
    settings = f"cluster_key: {cluster_key}\n" if cluster_key else ""
    allowed = list(allowed)
    if allowed:
        settings += "allowed_recipients:\n" + "".join(f"  - {k}\n" for k in allowed)
    write(root, ".secretsmgr.yaml", settings + settings_extra)
    write(root, "clusters/prod/apps.yaml", layer if layer is not None else flux_kustomization())
    for rel, text in files.items():
        write(root, rel, text)
    return root


def audit(root: Path, **kwargs: object) -> AuditReport:
    """``run_audit`` with an empty environment."""
    return run_audit(root, **kwargs)  # type: ignore[arg-type]  # test convenience


def pairs(report: AuditReport) -> set[tuple[str, str]]:
    """The (rule, path) pairs of a report."""
    return {(f.rule, f.path) for f in report.findings}


def self_signed(common_name: str = "secretsmgr-test") -> tuple[Any, Any]:
    """A fresh EC key and a real self-signed certificate for it (the rules parse a
    certificate's DER)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _self_signed_pem() -> str:
    from cryptography.hazmat.primitives import serialization

    pem: bytes = self_signed()[1].public_bytes(serialization.Encoding.PEM)
    return pem.decode("ascii")


CERT_PEM = _self_signed_pem()
