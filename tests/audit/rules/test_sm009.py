"""SM009 private-key-committed: an age private key in a file."""

from __future__ import annotations

from pathlib import Path

import pytest

from secretsmgr.audit.finding import AuditReport
from secretsmgr.keys.age import generate_identity

from ..helpers import K1, enc, secret, sops_yaml, standard_repo, write
from .cases import Case, ids, run_case

SECRET_KEY, SECRET_PUBLIC = generate_identity()
PQ_KEY = "AGE-SECRET-KEY-PQ-1" + "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L" * 2


def hit(root: Path) -> None:
    standard_repo(root, {})
    write(root, "apps/notes.txt", f"scratch\n\nmy key:\n{SECRET_KEY}\n")
    write(root, "docs/pq.md", f"- {PQ_KEY}\n")


def hit_check(report: AuditReport) -> None:
    by_path = {f.path: f for f in report.findings}
    notes = by_path["apps/notes.txt"]
    assert "line 4" in notes.message and "AGE-SECRET-KEY-1…" in notes.message
    assert SECRET_PUBLIC[:7] in notes.message
    assert "line 1" in by_path["docs/pq.md"].message
    for f in report.findings:
        for text in (f.message, f.fix or ""):
            assert SECRET_KEY not in text and SECRET_KEY[16:40] not in text
            assert PQ_KEY not in text and PQ_KEY[19:40] not in text


def miss(root: Path) -> None:
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


def miss_check(report: AuditReport) -> None:
    assert report.suppressed == 1


CASES = [
    Case(
        "SM009-hit",
        hit,
        {("SM009", "apps/notes.txt"), ("SM009", "docs/pq.md")},
        verify=hit_check,
    ),
    Case("SM009-miss", miss, set(), verify=miss_check),
]


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_case(case: Case, tmp_path: Path) -> None:
    run_case(case, tmp_path)


def test_a_committed_cluster_key_manifest_gets_fixes_that_work(tmp_path: Path) -> None:
    """key export's manifest, committed: the cluster key is replaced by a key rotation (rotate
    --remove-recipient refuses the cluster key), and the Secret leaves the repository instead
    of being encrypted with the key inside."""
    from ..helpers import audit

    manifest = (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: sops-age\n  namespace: flux-system\n"
        f"stringData:\n  age.agekey: |\n    {SECRET_KEY}\n"
    )
    standard_repo(tmp_path, {"clusters/prod/sops-age.yaml": manifest}, cluster_key=SECRET_PUBLIC)
    fixes = {f.rule: f.fix for f in audit(tmp_path).findings if f.path.endswith("sops-age.yaml")}
    assert fixes["SM009"] is not None and "secretsmgr key rotate --begin" in fixes["SM009"]
    assert "--remove-recipient" not in fixes["SM009"]
    assert fixes["SM001"] == (
        "take it out of the repository (clusters/prod/sops-age.yaml holds an age private key, "
        "see SM009; keep the key elsewhere if you need it): "
        "git rm -q --cached --ignore-unmatch clusters/prod/sops-age.yaml; "
        "rm -f clusters/prod/sops-age.yaml"
    )
    # a kustomization that lists it must drop its line, or its build fails (sweep 19,
    # mtumilowicz): the fix says which
    write(
        tmp_path,
        "clusters/prod/kustomization.yaml",
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        "resources:\n  - sops-age.yaml\n",
    )
    fixes = {f.rule: f.fix for f in audit(tmp_path).findings if f.path.endswith("sops-age.yaml")}
    assert (fixes["SM001"] or "").endswith(
        "rm -f clusters/prod/sops-age.yaml; then delete its line from the resources: of "
        "clusters/prod/kustomization.yaml"
    )
    # only the files that name it (sweep 49, mrzjordan16/flux-Error: its folder's file, naming
    # none, was listed beside the parent's that did)
    write(tmp_path, "clusters/prod/kustomization.yaml", "resources:\n  - apps.yaml\n")
    write(tmp_path, "clusters/kustomization.yaml", "resources:\n  - prod/sops-age.yaml\n")
    fixes = {f.rule: f.fix for f in audit(tmp_path).findings if f.path.endswith("sops-age.yaml")}
    assert (fixes["SM001"] or "").endswith(
        "rm -f clusters/prod/sops-age.yaml; then delete its line from the resources: of "
        "clusters/kustomization.yaml"
    )
    # another recipient's key is removed from every file encrypted to it, by its public key;
    # with none, there is nothing to rotate (sweep 39, xmikova/wac-gitops: the rotate the fix
    # gave failed, as no file was encrypted to the key); a rule that still names it is named
    # (sweep 39, samuelbartels20/ionos)
    other_key, other = generate_identity()
    write(tmp_path, "apps/notes.txt", f"{other_key}\n")
    (notes,) = [f for f in audit(tmp_path).findings if f.path == "apps/notes.txt"]
    assert notes.fix == (
        "remove it, purge it from git history; no SOPS file is encrypted to it now (one that "
        "was, and kept its data key, is still open to it in git history: secretsmgr audit "
        "--history names it, SM020)"
    )
    write(tmp_path, "apps/x.enc.yaml", enc(secret("x"), (SECRET_PUBLIC, other)))
    write(tmp_path, "ops/.sops.yaml", sops_yaml((r".*", [other])))
    (notes,) = [f for f in audit(tmp_path).findings if f.path == "apps/notes.txt"]
    assert notes.fix == (
        "remove it, purge it from git history; rotate away from it: secretsmgr rotate --all "
        f"--remove-recipient {other}; take it out of ops/.sops.yaml rule 1, which still names it "
        "(files made under it would be encrypted to it)"
    )


def test_a_key_manifest_beside_other_objects_loses_only_its_document(tmp_path: Path) -> None:
    """The sops-age Secret in one file with the namespace and a Deployment (base64 under
    ``data`` too): ``rm`` of the whole file would have Flux prune the others."""
    import base64

    from ..helpers import audit

    encoded = base64.b64encode(f"{SECRET_KEY}\n".encode()).decode()
    manifest = (
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: flux-system\n---\n"
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: sops-age\n  namespace: flux-system\n"
        f"data:\n  age.agekey: {encoded}\n---\n"
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: other\n  namespace: flux-system\n"
        "stringData:\n  token: Tr0ub4dor-and-3\n"
    )
    standard_repo(tmp_path, {"clusters/prod/flux-system.yaml": manifest}, cluster_key=SECRET_PUBLIC)
    found = [f for f in audit(tmp_path).findings if f.path.endswith("system.yaml")]
    fixes = {f.rule: f.fix for f in found if f.key_path != "stringData.token"}
    assert fixes["SM001"] is not None
    other = next(f.fix for f in found if f.key_path == "stringData.token")
    assert other is not None and "secretsmgr encrypt -i" in other and "SM009" not in other
    assert fixes["SM001"].endswith(
        "delete the Secret sops-age document from clusters/prod/flux-system.yaml "
        "(its other documents stay)"
    )
    assert "rm -f" not in fixes["SM001"]


@pytest.mark.parametrize("pad", ["", "=", "=="])
def test_a_base64_key_file_in_kubectls_key_order_is_found(tmp_path: Path, pad: str) -> None:
    """sweep 46, fzmubin98/k3s-GitOps-assignement: `kubectl get secret -o yaml` sorts the keys,
    so `kind:` follows the `data:` value; base64 of a whole keys.txt (comment lines too) that
    ends in padding read on into `kind` and was never decoded: SM001 alone, whose fix encrypted
    Flux's key and committed it again. Each padding a key file's base64 can end with."""
    import base64

    from ..helpers import audit

    body = f"# created: 2024-01-01T00:00:00Z\n# public key: {SECRET_PUBLIC}\n{SECRET_KEY}\n"
    while True:  # a comment's length decides the padding: find one that ends in ``pad``
        encoded = base64.b64encode(body.encode()).decode()
        if len(encoded) - len(encoded.rstrip("=")) == len(pad):
            break
        body = "#" + body
    manifest = (
        f"apiVersion: v1\ndata:\n  age.agekey: {encoded}\nkind: Secret\nmetadata:\n"
        "  name: sops-age\n  namespace: flux-system\ntype: Opaque\n"
    )
    standard_repo(tmp_path, {"clusters/prod/sops-age.yaml": manifest})
    found = {f.rule: f for f in audit(tmp_path).findings if f.path.endswith("sops-age.yaml")}
    assert found["SM009"].line == 3 and "base64-encoded" in found["SM009"].message
    assert "git rm -q --cached" in (found["SM001"].fix or "")


def _pem_keys() -> tuple[str, str]:
    """A fresh EC key (traditional PEM) and an OpenSSH Ed25519 key, made here: never committed."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    ec_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    ssh = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    return ec_pem.decode(), ssh.decode()


def test_a_bare_pem_private_key_file_is_an_error_and_never_shown(tmp_path: Path) -> None:
    """huangyingting/flux2-gitops (eighth sweep): linkerd's trust-anchor ``ca.key`` sat in clear
    beside ``ca.crt``; no generator read it, so no rule looked at it."""
    from ..helpers import audit

    ec_pem, ssh = _pem_keys()
    cert = (
        "-----BEGIN CERTIFICATE-----\n"
        + "MIIBszCCAVmgAwIBAgIU" * 3
        + "\n-----END CERTIFICATE-----\n"
    )
    standard_repo(
        tmp_path,
        {
            "apps/linkerd/ca.crt": cert,
            "apps/linkerd/kustomization.yaml": "resources: []\n",
        },
    )
    write(tmp_path, "apps/linkerd/ca.key", ec_pem)
    write(tmp_path, "infra/ssh/deploy_key", ssh)
    write(tmp_path, "infra/ssh/deploy-key.txt", ssh)  # the review of sweep 12: no prose
    write(tmp_path, "docs/tls.md", f"Make one like this:\n\n```\n{ec_pem}```\n")  # prose
    head, body = ec_pem.split("\n", 1)
    write(
        tmp_path, "docs/example.key", f"{head}\nMIIEvQIBADANBgkq…\n-----END EC PRIVATE KEY-----\n"
    )
    found = {f.path: f for f in audit(tmp_path).findings if f.rule == "SM009"}
    assert set(found) == {"apps/linkerd/ca.key", "infra/ssh/deploy_key", "infra/ssh/deploy-key.txt"}
    assert found["apps/linkerd/ca.key"].message == (
        "a PEM private key (-----BEGIN EC PRIVATE KEY-----) in clear on line 1"
    )
    assert "OPENSSH PRIVATE KEY" in found["infra/ssh/deploy_key"].message
    for f in found.values():
        for text in (f.message, f.fix or ""):
            assert body.split("\n")[0] not in text and ssh.split("\n")[1] not in text


def test_a_base64_pem_key_in_a_template_no_manifest_reader_reads_is_found(
    tmp_path: Path,
) -> None:
    """jr0dd/home-ops (sweep 18): rendered cilium manifests kept as an Ansible `.yaml.j2`
    held two Secrets with base64 private keys under `data`; SM001 leaves templates by name to
    their renderer and SM009 read PEM blocks in clear only, so nothing reported them."""
    import base64

    from ..helpers import audit

    ec_pem, ssh = _pem_keys()
    cert = (
        "-----BEGIN CERTIFICATE-----\n"
        + "MIIBszCCAVmgAwIBAgIU" * 4
        + "\n-----END CERTIFICATE-----\n"
    )

    def b64(text: str) -> str:
        return base64.b64encode(text.encode()).decode()

    secret = (
        "---\napiVersion: v1\nkind: Secret\nmetadata: {{name: hubble-ca, namespace: kube-system}}\n"
        "data:\n  ca.crt: {crt}\n  ca.key: {key}\n"
    )
    standard_repo(tmp_path, {})
    write(
        tmp_path,
        "ansible/templates/cilium.yaml.j2",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cilium}\n"
        'data: {cluster-name: "{{ cluster_name }}"}\n'
        + secret.format(crt=b64(cert), key=b64(ec_pem)),
    )
    wrapped = b64(ssh)
    write(  # wrapped at 64 in a text file, at another alignment
        tmp_path,
        "ansible/files/key.b64.txt",
        "key:\n" + "\n".join(wrapped[i : i + 64] for i in range(0, len(wrapped), 64)) + "\n",
    )
    write(tmp_path, "ansible/templates/certs.yaml.j2", secret.format(crt=b64(cert), key=b64(cert)))
    found = {f.path: f for f in audit(tmp_path).findings if f.rule == "SM009"}
    assert set(found) == {"ansible/templates/cilium.yaml.j2", "ansible/files/key.b64.txt"}
    j2 = found["ansible/templates/cilium.yaml.j2"]
    assert j2.message == (
        "a PEM private key (-----BEGIN EC PRIVATE KEY----- (base64-encoded)) in clear on line 11"
    )
    assert (j2.fix or "").endswith(
        "keep the new one out of the template: fill it in from a value kept encrypted"
    )
    assert "OPENSSH PRIVATE KEY" in found["ansible/files/key.b64.txt"].message
    assert "encrypt -i ansible/files/key.b64.txt" in (found["ansible/files/key.b64.txt"].fix or "")
    for f in found.values():
        for text in (f.message, f.fix or ""):
            assert b64(ec_pem)[30:60] not in text and wrapped[64:90] not in text


def test_a_pem_key_a_secret_generator_reads_is_sm001s_alone(tmp_path: Path) -> None:
    from ..helpers import audit

    ec_pem, _ = _pem_keys()
    standard_repo(
        tmp_path,
        {
            "apps/linkerd/kustomization.yaml": "secretGenerator:\n  - name: issuer\n"
            "    files:\n      - tls.key=issuer.key\n",
        },
    )
    write(tmp_path, "apps/linkerd/issuer.key", ec_pem)
    rules = {f.rule for f in audit(tmp_path).findings if f.path == "apps/linkerd/issuer.key"}
    assert rules == {"SM001"}


def test_a_pem_key_in_a_past_version_is_reported_by_history(tmp_path: Path) -> None:
    from tests.audit.helpers import write as write_file
    from tests.gate.helpers import commit, gitops, history_findings

    ec_pem, _ = _pem_keys()
    root = gitops(tmp_path / "r")
    write_file(root, "apps/linkerd/ca.key", ec_pem)
    commit(root, "the CA")
    (root / "apps/linkerd/ca.key").unlink()
    commit(root, "oops")
    found = history_findings(root)
    message = found[("SM009", "apps/linkerd/ca.key")][0]
    assert message.startswith("a PEM private key (-----BEGIN EC PRIVATE KEY-----) was committed")
    assert ec_pem.split("\n")[1] not in message


def test_a_key_file_overwritten_with_a_new_key_has_both_keys_reported_by_history(
    tmp_path: Path,
) -> None:
    """sweep 41, HermannH34/kubernetes-homelab: age.agekey was committed, overwritten with a
    second key and deleted; history named the first key only, and files encrypted to the
    second were open to anyone. A key the file still holds today is reported once, as now."""
    from secretsmgr.keys.bech32 import short_key
    from tests.gate.helpers import commit, gitops, history_findings

    (one, one_pub), (two, two_pub), (three, three_pub) = (generate_identity() for _ in range(3))
    root = gitops(tmp_path / "r")
    key_file = root / "age.agekey"
    for secret_key in (one, two, three):
        key_file.write_text(f"# created: 2025-05-10\n{secret_key}\n")
        commit(root, "the key")
    publics = (one_pub, two_pub, three_pub)
    [message] = history_findings(root)[("SM009", "age.agekey")]  # one finding per file
    assert message.startswith(
        f"age private key AGE-SECRET-KEY-1… (public key {short_key(three_pub)})"
    )
    assert "; 2 earlier keys are still in git history: " in message
    assert all(short_key(p) in message for p in publics)
    key_file.unlink()
    commit(root, "gone")
    [message] = history_findings(root)[("SM009", "age.agekey")]
    assert message.startswith("3 private keys were committed and are still in git history: ")
    assert all(short_key(p) in message for p in publics)
    assert all(secret_key[20:40] not in message for secret_key in (one, two, three))
    # the fix in the history walk does not send the reader to that walk again (sweep 41)
    from secretsmgr.audit.engine import load_context, run_rules
    from secretsmgr.gate.history import walk_repository

    report = run_rules(load_context(root, history=walk_repository(root)))
    [fix] = [f.fix for f in report.findings if f.rule == "SM009"]
    assert fix is not None and fix.startswith("purge them from git history; no SOPS file is")
    assert "secretsmgr audit --history" not in fix and "change the values they held" in fix


def test_a_pem_key_in_a_repository_without_sops_yaml_says_what_encrypt_needs_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """rastydnb/home-cheap-gke-cluster (sweep 10): no `.sops.yaml`, and the fix named
    `secretsmgr encrypt -i`, which found no recipients (exit 2); so it did where `.sops.yaml`
    has no rule for the file (sweep 45, prachitat/pi-cluster: a rule for the cluster's folder
    only, a tls.key at the root)."""
    import shlex

    from tests.cli.runner import run

    from ..helpers import audit

    ec_pem, _ssh = _pem_keys()
    standard_repo(tmp_path, {})
    write(tmp_path, "terraform/certs/self-signed.key", ec_pem)
    encrypt = "commit the new one only encrypted: "
    fix = next(f.fix for f in audit(tmp_path).findings if f.rule == "SM009")
    command = f"secretsmgr encrypt -i terraform/certs/self-signed.key --age {K1}"
    assert fix is not None and fix.endswith(
        encrypt + "no creation rule matches terraform/certs/self-signed.key, so name the "
        f"cluster's key: {command} (or add a rule to .sops.yaml first)"
    )
    # pasted, it works
    (tmp_path / "terraform/certs/other.key").write_text(ec_pem)
    pasted = command.replace("self-signed", "other")
    monkeypatch.chdir(tmp_path)
    run(shlex.split(pasted)[1:], capsys, expect=0)
    assert "sops" in (tmp_path / "terraform/certs/other.key").read_text()
    (tmp_path / "terraform/certs/other.key").unlink()
    write(tmp_path, ".sops.yaml", sops_yaml(("", (K1,))))  # a rule for every file
    fix = next(f.fix for f in audit(tmp_path).findings if f.rule == "SM009")
    assert fix is not None and fix.endswith(
        encrypt + "secretsmgr encrypt -i terraform/certs/self-signed.key"
    )
    (tmp_path / ".sops.yaml").unlink()
    configmap = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\n"
    write(tmp_path, "apps/configmap.yaml", configmap)  # init writes a rule for apps/
    fix = next(f.fix for f in audit(tmp_path).findings if f.rule == "SM009")
    assert fix is not None and fix.endswith(
        encrypt + "no .sops.yaml in the repository: set up the cluster key and a creation rule "
        "first with secretsmgr init (see README.md, New repository), then secretsmgr encrypt -i "
        "terraform/certs/self-signed.key"
    )
    # the layer's folder is not in the checkout: init writes no rule, so the fix does not send
    # the user there (sweep 94, cmu-sei/Polar: the fix went round init and encrypt)
    (tmp_path / "apps/configmap.yaml").unlink()
    by_hand = (
        "no .sops.yaml in the repository: write one whose creation rule names an age key "
        "(secretsmgr key generate prints a new one) first, then secretsmgr encrypt -i "
        "terraform/certs/self-signed.key"
    )
    fix = next(f.fix for f in audit(tmp_path).findings if f.rule == "SM009")
    assert fix is not None and fix.endswith(encrypt + by_hand)
    # no Flux cluster for init to set up: the rule is written by hand
    (tmp_path / "clusters/prod/apps.yaml").unlink()
    fix = next(f.fix for f in audit(tmp_path).findings if f.rule == "SM009")
    assert fix is not None and fix.endswith(encrypt + by_hand)


def test_fluxs_pgp_key_in_a_secret_is_taken_out_not_encrypted(tmp_path: Path) -> None:
    """sweep 12 (arjunavinfra/fluxcd): the sops-gpg Secret, data.sops.asc in clear, was only
    SM001 whose fix encrypted it to an age key: the key that opens the layer's files stayed in
    git history and trusted, and the layer lost the key it decrypts with."""
    import base64
    import os

    from ..helpers import audit

    body = "\n".join(base64.b64encode(os.urandom(48)).decode() for _ in range(6))
    armored = (
        "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n"
        f"{body}\n=Xk9f\n-----END PGP PRIVATE KEY BLOCK-----\n"
    )
    encoded = base64.b64encode(armored.encode()).decode()
    manifest = (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: sops-gpg\n  namespace: flux-system\n"
        f"data:\n  sops.asc: {encoded}\n"
    )
    text_form = manifest.replace("data:\n  sops.asc: " + encoded, "stringData:\n  sops.asc: |\n")
    text_form += "".join(f"    {line}\n" for line in armored.splitlines())
    # a PGP key in another Secret (an application's signing key, the review of sweep 12: a
    # Deployment beside it) is SM001's to encrypt, not a file to delete
    deployment = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: signer}\n---\n"
    other = deployment + manifest.replace("sops-gpg", "release-signer-key")
    standard_repo(
        tmp_path,
        {
            "clusters/prod/sops-gpg.yaml": manifest,
            "clusters/stage/sops-gpg.yaml": text_form,
            "clusters/test/flux.yaml": deployment + manifest,
            "apps/signer.yaml": other,
        },
    )
    findings = audit(tmp_path).findings
    sm009 = {f.path: f for f in findings if f.rule == "SM009"}
    assert set(sm009) == {
        "clusters/prod/sops-gpg.yaml",
        "clusters/stage/sops-gpg.yaml",
        "clusters/test/flux.yaml",
    }
    # the key's Secret shares its file with another document: that document alone goes
    shared = sm009["clusters/test/flux.yaml"].fix or ""
    assert "delete the Secret sops-gpg document from clusters/test/flux.yaml" in shared
    assert "rm -f" not in shared
    found = sm009["clusters/prod/sops-gpg.yaml"]
    assert found.message.startswith("an OpenPGP private key (-----BEGIN PGP PRIVATE KEY BLOCK")
    assert found.key_path == "data.sops.asc" and found.line == 7
    assert sm009["clusters/stage/sops-gpg.yaml"].line == 7
    assert found.fix is not None and "sops updatekeys -y" in found.fix
    sm001 = {f.path: f.fix or "" for f in findings if f.rule == "SM001"}
    assert sm001["clusters/prod/sops-gpg.yaml"].startswith(
        "take it out of the repository (clusters/prod/sops-gpg.yaml holds an OpenPGP private key"
    )
    assert "take it out" not in sm001["apps/signer.yaml"]
    assert "rm -f" not in sm001["clusters/test/flux.yaml"]
    for f in findings:
        assert body.split("\n")[0] not in f.message + (f.fix or "")
        assert encoded[:40] not in f.message + (f.fix or "")


def test_a_long_run_of_base64_certificates_is_decoded_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The review of sweep 18: each certificate of a bundle base64-encoded on one line walked
    the whole run again (a 1 MB bundle took minutes, a 20 MB one never finished)."""
    import base64

    from secretsmgr.audit.rules import sm009_private_key_committed as sm009

    cert = (
        "-----BEGIN CERTIFICATE-----\n"
        + "MIIBszCCAVmgAwIBAgIU" * 4
        + "\n-----END CERTIFICATE-----\n"
    )
    ec_pem, _ = _pem_keys()
    bundle = base64.b64encode((cert * 500 + ec_pem).encode()).decode()
    calls: list[int] = []
    real = sm009._base64_run

    def counted(data: bytes, at: int) -> tuple[int, int, bytes]:
        calls.append(at)
        return real(data, at)

    monkeypatch.setattr(sm009, "_base64_run", counted)
    hits = sm009.find_encoded_pem_keys("ca-bundle.b64", f"bundle: {bundle}\n".encode())
    assert [h.kind for h in hits] == ["EC PRIVATE KEY"] and hits[0].line == 1
    assert len(calls) == 1


def test_a_passphrase_protected_key_is_reported_as_protected_not_in_clear(tmp_path: Path) -> None:
    # sweep 36, mrled/psyops: a GnuPG key exported with its passphrase was "in clear" (gpg
    # --list-packets: `skey[2]: [v4 protected]`); devopstales' unprotected one was in clear.
    # Real keys of each format, made here: still errors, in the right words
    import subprocess

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from secretsmgr.audit.engine import run_audit
    from tests.keys.gpgkeys import gnupg_home, gpg_key
    from tests.keys.sshkeys import keygen

    standard_repo(tmp_path, {})
    keys = tmp_path / "keys"
    keys.mkdir()
    ec_key = ec.generate_private_key(ec.SECP256R1())
    for name, form, encryption in (
        ("pkcs8-clear.pem", serialization.PrivateFormat.PKCS8, None),
        ("pkcs8-protected.pem", serialization.PrivateFormat.PKCS8, b"pw"),
        ("traditional-protected.pem", serialization.PrivateFormat.TraditionalOpenSSL, b"pw"),
    ):
        how: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(encryption)
            if encryption
            else serialization.NoEncryption()
        )
        pem = ec_key.private_bytes(serialization.Encoding.PEM, form, how)
        (keys / name).write_bytes(pem)
    keygen(keys / "ssh-clear", "ed25519")
    keygen(keys / "ssh-protected", "ed25519", passphrase="pw")
    with gnupg_home() as env:
        fpr = gpg_key(env)

        def gpg(passphrase: str, *args: str) -> bytes:
            command = ["gpg", "--batch", "--pinentry-mode", "loopback", "--armor"]
            done = subprocess.run(
                [*command, "--passphrase", passphrase, *args],
                env=env,
                check=True,
                capture_output=True,
            )
            return done.stdout

        (keys / "pgp-clear.asc").write_bytes(gpg("", "--export-secret-keys", fpr))
        # the attack review: an export of subkeys starts with the primary key's stub (no
        # secret, S2K usage 255), and its encryption subkey is in clear
        (keys / "pgp-subkeys-clear.asc").write_bytes(gpg("", "--export-secret-subkeys", fpr))
        gpg("pw", "--quick-gen-key", "p <p@x>", "ed25519", "sign", "0")  # with a passphrase
        (keys / "pgp-protected.asc").write_bytes(gpg("pw", "--export-secret-keys", "p@x"))
        # the second attack review: the subkeys of a key that has none are the primary key's
        # stub alone, which holds no secret (it was "in clear")
        stub = gpg("pw", "--export-secret-subkeys", "p@x")
        assert b"PRIVATE KEY BLOCK" in stub
        (keys / "pgp-stub-only.asc").write_bytes(stub)
    found = {
        f.path.removeprefix("keys/"): f.message
        for f in run_audit(tmp_path).findings
        if f.rule == "SM009" and f.severity.value == "error"
    }
    named = {p.name for p in keys.iterdir() if not p.name.endswith(".pub")}
    assert set(found) == named - {"pgp-stub-only.asc"}
    for name, message in found.items():
        protected_words = "protected by a passphrase (which can be guessed offline)"
        assert (protected_words in message) == ("protected" in name), (name, message)
        assert ("in clear" in message) == ("clear" in name), (name, message)


def test_an_operators_leaked_key_alone_on_one_applied_file_is_removed_not_pinned(
    tmp_path: Path,
) -> None:
    # the fifth attack review: the rule names the cluster key C for the applied files, one of
    # which an operator encrypted to their own key O alone (SM004's mistake); O's private key
    # leaked, and the fix said to pin O as the cluster key (init --cluster-key O)
    from secretsmgr.audit.engine import run_audit

    operator_key, operator = generate_identity()
    standard_repo(
        tmp_path,
        {
            "apps/a.enc.yaml": enc(secret("a"), (SECRET_PUBLIC, operator)),
            "apps/b.enc.yaml": enc(secret("b"), (operator,)),
            "ops/operator.agekey": f"{operator_key}\n",
        },
        cluster_key=None,
        rule_keys=(SECRET_PUBLIC,),
    )
    findings = run_audit(tmp_path).findings
    assert any(f.rule == "SM004" and f.path == "apps/b.enc.yaml" for f in findings)
    (leak,) = [f for f in findings if f.rule == "SM009"]
    assert "--cluster-key" not in (leak.fix or ""), leak.fix
    assert f"secretsmgr rotate --all --remove-recipient {operator}" in (leak.fix or "")


def test_a_damaged_key_is_named_by_the_public_key_its_comment_gives(tmp_path: Path) -> None:
    """sweep 45, prachitat/pi-cluster: an age.agekey whose key lacked two characters (a guess
    away from the real one) had no public key, and the fix said `<its public key>`; age-keygen's
    comment above it names it."""
    from secretsmgr.keys.age import short_key

    from ..helpers import audit

    damaged = SECRET_KEY[:-2]
    standard_repo(
        tmp_path,
        {
            "age.agekey": "# created: 2025-12-27T11:50:47-05:00\n"
            f"# public key: {SECRET_PUBLIC}\n{damaged}\n",
            # secretsmgr's own mark between them (the attack review)
            "ops/cluster.agekey": f"# public key: {SECRET_PUBLIC}\n# secretsmgr: cluster key\n"
            f"{damaged}\n",
        },
    )
    found = [f for f in audit(tmp_path).findings if f.rule == "SM009"]
    assert len(found) == 2
    for finding in found:
        assert f"(public key {short_key(SECRET_PUBLIC)})" in finding.message
        assert "<its public key>" not in (finding.fix or "")


def test_a_leaked_key_alone_on_a_file_no_layer_reads_is_replaced_by_a_new_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """sweep 49, mrzjordan16/flux-Error: no cluster key known, the committed key the one
    recipient of a file no layer here reads; the fix removed it, and rotate refused ("the
    policy leaves no recipient"). It names a new key to add, and pasted so, it works."""
    import shlex

    from secretsmgr.keys.age import generate_identity
    from tests.cli.runner import run

    from ..helpers import audit

    standard_repo(tmp_path, {}, cluster_key=None)
    (tmp_path / ".sops.yaml").unlink()
    write(tmp_path, "age.agekey", f"{SECRET_KEY}\n")
    write(tmp_path, "other/app.enc.yaml", enc(secret("app", {"k": "v4lue-1"}), (SECRET_PUBLIC,)))
    # a file on another key beside it keeps that key (the attack review: rotate --all with the
    # new key dropped the key Flux holds)
    _, kept = generate_identity()
    write(tmp_path, "other/b.enc.yaml", enc(secret("b", {"k": "v4lue-2"}), (kept,)))
    write(tmp_path, "other/c.enc.yaml", enc(secret("c", {"k": "v4lue-3"}), (kept, SECRET_PUBLIC)))
    # beside a KMS key: rotate refuses it, sops removes the age key (the fifth review)
    kms = enc(secret("d", {"k": "v4lue-4"}), (SECRET_PUBLIC,)).replace(
        "\nsops:\n",
        "\nsops:\n    kms:\n        - arn: arn:aws:kms:us-east-1:111122223333:key/x\n"
        '          created_at: "2026-01-01T00:00:00Z"\n          enc: AQICAHhX\n'
        '          aws_profile: ""\n',
    )
    write(tmp_path, "other/d.enc.yaml", kms)
    [fix] = [f.fix for f in audit(tmp_path).findings if f.rule == "SM009"]
    assert fix is not None and fix.endswith(
        f"; and: sops rotate -i --rm-age {SECRET_PUBLIC} FILE, for other/d.enc.yaml"
    )
    (tmp_path / "other/d.enc.yaml").unlink()
    [fix] = [f.fix for f in audit(tmp_path).findings if f.rule == "SM009"]
    remove = (
        f"secretsmgr rotate --remove-recipient {SECRET_PUBLIC} --add-recipient NEW_KEY "
        "other/app.enc.yaml"
    )
    assert fix is not None and remove in fix
    then = f"secretsmgr rotate --remove-recipient {SECRET_PUBLIC} other/c.enc.yaml"
    assert fix.endswith(f"; then: {then}")
    new_key, new = generate_identity()
    keys = tmp_path.parent / "keys.txt"  # the leaked key, and the new one (the operator's)
    keys.write_text(f"{SECRET_KEY}\n{new_key}\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(keys))
    assert run(shlex.split(remove.replace("NEW_KEY", new))[1:], capsys).code == 0
    assert new in (tmp_path / "other/app.enc.yaml").read_text()
    assert SECRET_PUBLIC not in (tmp_path / "other/app.enc.yaml").read_text()
    assert run(shlex.split(then)[1:], capsys).code == 0
    for name in ("b", "c"):
        text = (tmp_path / f"other/{name}.enc.yaml").read_text()
        assert kept in text and SECRET_PUBLIC not in text and new not in text


def test_history_says_when_the_committed_key_is_the_cluster_key(tmp_path: Path) -> None:
    # sweep 51, glamprinakis/Lamprinakis_HomeLab_Fresh: a guide committed the cluster's private
    # key; the finding named its public key only, and the reader had to match it with the
    # audit's header to learn that every SOPS file, in every commit, was open
    from tests.audit.helpers import KEYS
    from tests.gate.helpers import commit, gitops, history_findings

    root = gitops(tmp_path / "r")
    cluster = (KEYS / "test-only-1.agekey").read_text(encoding="utf-8")
    other, _ = generate_identity()
    (root / "docs").mkdir()
    (root / "docs/GUIDE.md").write_text(f"export SOPS_AGE_KEY='{cluster.split()[-1]}'\n")
    (root / "notes.agekey").write_text(other + "\n")
    commit(root, "the guide")
    (root / "docs/GUIDE.md").unlink()
    (root / "notes.agekey").unlink()
    commit(root, "gone")
    found = history_findings(root)
    [guide] = found[("SM009", "docs/GUIDE.md")]
    assert ": the cluster key, which opens every SOPS file encrypted to it" in guide
    [notes] = found[("SM009", "notes.agekey")]
    assert "the cluster key" not in notes


def test_a_key_in_a_terraform_state_is_taken_out_not_encrypted(tmp_path: Path) -> None:
    """sweep 90, damoun/fleet-infra: in a committed state backup, SM009's fix said encrypt it
    (pasted, sops made a state Terraform cannot read, still in git) while SM018's said take the
    state out of git."""
    import base64
    import json

    from ..helpers import audit

    ec_pem, _ = _pem_keys()
    key = base64.b64encode(ec_pem.encode()).decode()  # as the Talos provider keeps its keys
    state = {"version": 4, "resources": [{"instances": [{"attributes": {"key": key}}]}]}
    rel = "tofu/talos/terraform.tfstate.1772627403.backup"
    standard_repo(tmp_path, {rel: json.dumps(state, indent=2)})
    [finding] = [f for f in audit(tmp_path).findings if f.rule == "SM009"]
    assert finding.path == rel
    assert f"take the state out of git (git rm --cached {rel}" in (finding.fix or "")
    assert "encrypt -i" not in (finding.fix or "")
