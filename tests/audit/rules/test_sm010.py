"""SM010 layer-without-decryption: a SOPS file in a layer with no sops decryption."""

from __future__ import annotations

from pathlib import Path

import pytest

from secretsmgr.audit.finding import AuditReport

from ..helpers import (
    BOOTSTRAP_SYNC,
    age_secret_flag_patch,
    enc,
    flux_kustomization,
    secret,
    sops_yaml,
    standard_repo,
    write,
)
from .cases import Case, ids, run_case


def hit(root: Path) -> None:
    standard_repo(root, {"apps/db.enc.yaml": enc(secret("db"))})
    write(root, "clusters/prod/apps.yaml", flux_kustomization(decryption=None))
    write(root, "clusters/prod/other.yaml", flux_kustomization("other", "./other", provider="x"))
    write(root, "other/o.enc.yaml", enc(secret("o")))


def hit_check(report: AuditReport) -> None:
    by_path = {f.path: f for f in report.findings}
    assert "layer apps (clusters/prod/apps.yaml)" in by_path["apps/db.enc.yaml"].message
    assert "provider x" in by_path["other/o.enc.yaml"].message


def miss(root: Path) -> None:
    # {provider: sops} without secretRef is valid: the controller-wide key.
    standard_repo(
        root, {"apps/db.enc.yaml": enc(secret("db"))}, layer=flux_kustomization(decryption="")
    )
    # A layer without decryption that reaches only Flux manifests (like flux-system).
    write(root, "clusters/prod/flux-system.yaml", flux_kustomization("flux-system", "./clusters"))


CASES = [
    Case(
        "SM010-hit",
        hit,
        {("SM010", "apps/db.enc.yaml"), ("SM010", "other/o.enc.yaml")},
        verify=hit_check,
    ),
    Case("SM010-miss", miss, set()),
]


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_case(case: Case, tmp_path: Path) -> None:
    run_case(case, tmp_path)


def test_outside_flux_makes_it_a_warning_not_silence(tmp_path: Path) -> None:
    # a glob wider than meant must not hide that Flux applies the file still encrypted
    from secretsmgr.audit.finding import Severity

    from ..helpers import audit

    standard_repo(tmp_path, {"apps/db.enc.yaml": enc(secret("db"))})
    write(tmp_path, "clusters/prod/apps.yaml", flux_kustomization(decryption=None))
    settings = tmp_path / ".secretsmgr.yaml"
    settings.write_text(settings.read_text() + 'outside_flux: ["apps/**"]\n')
    (finding,) = [f for f in audit(tmp_path).findings if f.rule == "SM010"]
    assert finding.severity is Severity.WARNING
    assert finding.message.startswith("listed in outside_flux, yet layer apps")
    assert finding.fix is not None and "narrow the outside_flux glob" in finding.fix


def test_a_configmap_generator_input_is_sm015s_warning_with_or_without_decryption(
    tmp_path: Path,
) -> None:
    # sixth sweep (samcday: Butane files a pod decrypts itself, shipped in a ConfigMap): Flux
    # never decrypts a configMapGenerator input, so adding spec.decryption (SM010's fix) only
    # turned the error into SM015's; it is one SM015 warning either way
    from secretsmgr.audit.engine import run_audit

    kust = (
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        "configMapGenerator:\n  - name: ignition\n    files: [base.enc.yaml]\n"
    )
    seen = []
    for decryption in (None, "sops-age"):
        root = standard_repo(
            tmp_path / str(decryption),
            {"apps/kustomization.yaml": kust, "apps/base.enc.yaml": enc(secret("b"))},
            layer=flux_kustomization(decryption=decryption),
        )
        seen.append(
            [(f.rule, f.severity.value) for f in run_audit(root).findings if f.rule < "SM016"]
        )
    assert seen == [[("SM015", "warning")], [("SM015", "warning")]]


def test_a_shared_file_is_filed_under_the_layer_without_decryption_and_the_fix_reuses_its_ref(
    tmp_path: Path,
) -> None:
    # willnotcy/Hephaestus: components/volsync's secret, applied by a decrypting layer and by
    # one without decryption, was filed under the decrypting one (text, JSON, SARIF), and the
    # fix named sops-age where every layer used sops-gpg
    from secretsmgr.audit.engine import run_audit

    standard_repo(
        tmp_path,
        {"shared/s.enc.yaml": enc(secret("s")), "apps/kustomization.yaml": "resources: []\n"},
        layer=flux_kustomization("apps", "./apps", decryption="sops-gpg"),
    )
    write(tmp_path, "apps/kustomization.yaml", "resources: [../shared]\n")
    write(tmp_path, "shared/kustomization.yaml", "resources: [s.enc.yaml]\n")
    write(tmp_path, "other/kustomization.yaml", "resources: [../shared]\n")
    write(tmp_path, "clusters/prod/zed.yaml", flux_kustomization("zed", "./other", decryption=None))
    found = [f for f in run_audit(tmp_path).findings if f.rule == "SM010"]
    assert len(found) == 1
    assert found[0].layer == "zed" and set(found[0].layers) == {"apps", "zed"}
    assert found[0].fix is not None and "secretRef: {name: sops-gpg}" in found[0].fix
    assert "sops-age" not in found[0].fix


def test_a_root_applied_from_outside_takes_its_decryption_from_the_settings(
    tmp_path: Path,
) -> None:
    # seventh sweep (hmcts/sds-flux-config): Flux comes from an AKS extension, the root is
    # named under clusters:, and SM010's fix said to add spec.decryption to a folder; a
    # FluxInstance's fix named a field it does not have
    from secretsmgr.audit.engine import run_audit

    write(tmp_path, ".sops.yaml", sops_yaml((r"\.enc\.yaml$", ("age1" + "q" * 58,))))
    write(tmp_path, "clusters/prod/kustomization.yaml", "resources: [../../apps]\n")
    write(tmp_path, "apps/db.enc.yaml", enc(secret("db")))
    write(tmp_path, "apps/kustomization.yaml", "resources: [db.enc.yaml]\n")
    write(tmp_path, ".secretsmgr.yaml", "clusters:\n  prod:\n    path: clusters/prod\n")
    (found,) = [f for f in run_audit(tmp_path).findings if f.rule == "SM010"]
    assert found.fix is not None and found.fix.startswith(
        "set clusters.prod.decryption in .secretsmgr.yaml to the spec.decryption"
    )
    write(
        tmp_path,
        ".secretsmgr.yaml",
        "clusters:\n  prod:\n    path: clusters/prod\n    decryption:\n"
        "      provider: sops\n      secretRef: {name: sops-age}\n",
    )
    assert [f for f in run_audit(tmp_path).findings if f.rule == "SM010"] == []


def test_a_flux_instance_gets_a_patch_as_its_fix(tmp_path: Path) -> None:
    from secretsmgr.audit.engine import run_audit

    write(tmp_path, ".sops.yaml", sops_yaml((r"\.enc\.yaml$", ("age1" + "q" * 58,))))
    write(
        tmp_path,
        "clusters/prod/flux-system/flux-instance.yaml",
        "apiVersion: fluxcd.controlplane.io/v1\nkind: FluxInstance\n"
        "metadata: {name: flux, namespace: flux-system}\n"
        "spec:\n  distribution: {version: 2.x}\n"
        "  sync: {kind: GitRepository, url: 'https://example.com/r.git', ref: refs/heads/main,"
        " path: clusters/prod}\n",
    )
    write(tmp_path, "clusters/prod/kustomization.yaml", "resources: [db.enc.yaml]\n")
    write(tmp_path, "clusters/prod/db.enc.yaml", enc(secret("db")))
    (found,) = [f for f in run_audit(tmp_path).findings if f.rule == "SM010"]
    assert found.fix is not None
    assert "spec.kustomize.patches entry" in found.fix and "add spec.decryption" not in found.fix
    # sweep 80 (emerconn/fleet-infra): check of a staged file and its kustomization.yaml left
    # the FluxInstance unread, and the fix said to add spec.decryption to it
    scope = ("clusters/prod/db.enc.yaml", "clusters/prod/kustomization.yaml")
    (scoped,) = [f for f in run_audit(tmp_path, files=scope).findings if f.rule == "SM010"]
    assert scoped.fix == found.fix


def test_a_resource_sets_kustomization_per_input_gives_its_children_decryption(
    tmp_path: Path,
) -> None:
    # the seventh attack review of the gate (m00nwtchr/homelab-cluster, 36 files blocked): a
    # ResourceSet's Kustomization per namespace (its inputs written in it) holds a component
    # that patches spec.decryption into the Kustomizations it applies; the model left the
    # templated Kustomization out, and each child was a root without decryption
    from secretsmgr.audit.engine import run_audit

    resource_set = (
        "apiVersion: fluxcd.controlplane.io/v1\nkind: ResourceSet\n"
        "metadata: {name: cluster-apps, namespace: flux-system}\n"
        "spec:\n  inputs:\n    - namespace: default\n  resources:\n"
        "    - apiVersion: kustomize.toolkit.fluxcd.io/v1\n      kind: Kustomization\n"
        "      metadata: {name: '<< inputs.namespace >>-apps', namespace: flux-system}\n"
        "      spec:\n        components: [../../components/common]\n"
        "        decryption: {provider: sops, secretRef: {name: sops-age}}\n"
        "        interval: 1h\n        path: './apps/<< inputs.namespace >>'\n"
        "        prune: true\n"
        "        sourceRef: {kind: GitRepository, name: flux-system, namespace: flux-system}\n"
    )
    component = "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n"
    standard_repo(
        tmp_path,
        {
            "clusters/prod/apps.yaml": resource_set,
            "clusters/prod/flux-system/gotk-sync.yaml": BOOTSTRAP_SYNC,
            "clusters/prod/flux-system/kustomization.yaml": "resources: [gotk-sync.yaml]\n",
            "components/common/kustomization.yaml": component + "components: [./sops]\n",
            "components/common/sops/kustomization.yaml": component
            + "patches:\n  - target: {group: kustomize.toolkit.fluxcd.io, kind: Kustomization}\n"
            "    patch: |-\n      - op: add\n        path: /spec/decryption\n"
            "        value: {provider: sops, secretRef: {name: sops-age}}\n",
            "apps/default/kustomization.yaml": "resources: [db/ks.yaml]\n",
            "apps/default/db/ks.yaml": flux_kustomization("db", "./apps/default/db/app", None),
            "apps/default/db/app/kustomization.yaml": "resources: [secret.enc.yaml]\n",
            "apps/default/db/app/secret.enc.yaml": enc(secret("db")),
        },
        layer="",
    )
    found = [f for f in run_audit(tmp_path).findings if f.rule == "SM010"]
    assert found == [], found


GOTK_SYNC = """\
# This manifest was generated by flux. DO NOT EDIT.
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {{name: flux-system, namespace: flux-system}}
spec: {{url: 'ssh://git@github.com/example/fleet', ref: {{branch: main}}}}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {{name: flux-system, namespace: flux-system}}
spec:
  path: ./clusters/{name}
  sourceRef: {{kind: GitRepository, name: flux-system}}
"""
PATCH = """\
patches:
  - target: {kind: Kustomization, name: flux-system}
    patch: |
      - op: add
        path: /spec/decryption
        value: {provider: sops, secretRef: {name: sops-age}}
"""


def test_a_bootstraps_fix_is_a_patch_beside_gotk_sync_naming_every_cluster(tmp_path: Path) -> None:
    # sweep 11 (bcit-ltc/flux): the fix said to edit gotk-sync.yaml, which flux bootstrap
    # writes ("DO NOT EDIT") and rewrites, and named one of the two clusters that lack it
    from secretsmgr.audit.engine import run_audit

    write(tmp_path, ".sops.yaml", sops_yaml())
    write(tmp_path, "infra/s.enc.yaml", enc(secret("s")))
    write(tmp_path, "infra/kustomization.yaml", "resources: [s.enc.yaml]\n")
    for name in ("one", "three"):
        write(tmp_path, f"clusters/{name}/flux-system/gotk-sync.yaml", GOTK_SYNC.format(name=name))
        write(
            tmp_path,
            f"clusters/{name}/flux-system/kustomization.yaml",
            "resources: [gotk-sync.yaml]\n",
        )
        write(
            tmp_path,
            f"clusters/{name}/kustomization.yaml",
            "resources: [flux-system, ../../infra]\n",
        )
    (found,) = [f for f in run_audit(tmp_path).findings if f.rule == "SM010"]
    assert found.fix == (
        "add to clusters/one/flux-system/kustomization.yaml and "
        "clusters/three/flux-system/kustomization.yaml a patches entry that targets "
        "{kind: Kustomization, name: flux-system} and adds /spec/decryption "
        "{provider: sops, secretRef: {name: sops-age}} (gotk-sync.yaml is written by flux "
        "bootstrap, which overwrites it)"
    )
    # doing what it says clears it, cluster by cluster
    write(
        tmp_path,
        "clusters/one/flux-system/kustomization.yaml",
        "resources: [gotk-sync.yaml]\n" + PATCH,
    )
    (left,) = [f for f in run_audit(tmp_path).findings if f.rule == "SM010"]
    assert "clusters/three/flux-system/kustomization.yaml a patches" in (left.fix or "")
    assert "clusters/one/" not in (left.fix or "")
    write(
        tmp_path,
        "clusters/three/flux-system/kustomization.yaml",
        "resources: [gotk-sync.yaml]\n" + PATCH,
    )
    assert not [f for f in run_audit(tmp_path).findings if f.rule == "SM010"]


@pytest.mark.parametrize(
    ("kinds", "decryption"),
    [
        (("pgp",), "{provider: sops, secretRef: {name: sops-gpg}}"),
        (("gcp_kms",), "{provider: sops} (the controller's cloud identity"),
        (("pgp", "kms"), "{provider: sops, secretRef: {name: sops-gpg}}"),
        # the review of sweep 12: kustomize-controller reads a Vault token from the Secret
        (("hc_vault",), "{provider: sops, secretRef: {name: sops-vault}} (a Vault token at"),
    ],
)
def test_with_no_decrypting_layer_the_fix_names_a_secret_for_the_files_keys(
    tmp_path: Path, kinds: tuple[str, ...], decryption: str
) -> None:
    # sweep 12 (Feleuxens/infrastructure): files on PGP keys only got sops-age, which key
    # export fills with age keys: following it, Flux still could not decrypt them
    from dataclasses import replace

    from secretsmgr.sops import FileFormat, dump, load
    from secretsmgr.sops.model import KeyGroup
    from tests.sops.key_types import foreign

    from ..helpers import audit

    sealed = load(enc(secret("db")), FileFormat.YAML)
    sealed.metadata = replace(sealed.metadata, key_groups=(KeyGroup((), foreign(kinds)),))
    standard_repo(
        tmp_path,
        {"apps/db.enc.yaml": dump(sealed)},
        layer=flux_kustomization(decryption=None),
    )
    (found,) = [f for f in audit(tmp_path).findings if f.rule == "SM010"]
    assert found.fix is not None and f"spec.decryption {decryption}" in found.fix
    # a file an age key opens keeps sops-age
    write(tmp_path, "apps/db.enc.yaml", enc(secret("db")))
    (found,) = [f for f in audit(tmp_path).findings if f.rule == "SM010"]
    assert "secretRef: {name: sops-age}" in (found.fix or "")


def test_a_kustomization_outside_flux_system_gets_the_secret_exported_to_its_namespace(
    tmp_path: Path,
) -> None:
    # sweep 20 (tscibilia/home-ops): the fix added a secretRef to a Kustomization in namespace
    # default, so Flux looks for default/sops-age, while the key had gone to flux-system
    from secretsmgr.audit.engine import run_audit

    layer = flux_kustomization(decryption=None).replace(
        "namespace: flux-system", "namespace: default"
    )
    root = standard_repo(tmp_path, {"apps/db.enc.yaml": enc(secret("db"))}, layer=layer)
    (finding,) = [f for f in run_audit(root).findings if f.rule == "SM010"]
    assert "Flux reads that Secret in the Kustomization's namespace, default" in (finding.fix or "")
    assert "secretsmgr key export --namespace default --name sops-age" in (finding.fix or "")


def test_the_fix_names_the_kustomization_in_a_file_of_several(tmp_path: Path) -> None:
    # sweep 76, ebadfd/k3s-infra: apps.yaml holds six Kustomizations and the fix named the file
    # alone; pasted at its top, the decryption went to another layer
    from ..helpers import audit

    both = flux_kustomization() + "---\n" + flux_kustomization("traefik", "./traefik", None)
    standard_repo(tmp_path, {"traefik/auth.enc.yaml": enc(secret("auth"))}, layer=both)
    (found,) = [f for f in audit(tmp_path).findings if f.rule == "SM010"]
    assert found.fix is not None
    assert found.fix.startswith(
        "add spec.decryption {provider: sops, secretRef: {name: sops-age}} to the Kustomization "
        "traefik in clusters/prod/apps.yaml"
    ), found.fix


def test_the_fix_needs_no_secret_ref_where_the_controller_holds_the_key(tmp_path: Path) -> None:
    # sweep 77 (coolguy1771/home-ops): the repository gives kustomize-controller
    # --sops-age-secret through a patch, and the fix said to add secretRef sops-age and export
    # the key to the app's namespace
    from secretsmgr.audit.engine import run_audit

    standard_repo(tmp_path, {"apps/db.enc.yaml": enc(secret("db"))})
    write(tmp_path, "clusters/prod/apps.yaml", flux_kustomization(decryption=None))
    (finding,) = [f for f in run_audit(tmp_path).findings if f.rule == "SM010"]
    assert finding.fix == (
        "add spec.decryption {provider: sops, secretRef: {name: sops-age}} to "
        "clusters/prod/apps.yaml"
    )
    patch = age_secret_flag_patch("sops-age-secret")
    # in a file nothing applies (an example): no flag (the attack review of this stop)
    write(tmp_path, "examples/flux-system/kustomization.yaml", "resources: []\n" + patch)
    (finding,) = [f for f in run_audit(tmp_path).findings if f.rule == "SM010"]
    assert "secretRef: {name: sops-age}" in (finding.fix or "")
    # in the bootstrap's own kustomization, which its layer builds
    write(tmp_path, "clusters/prod/flux-system/gotk-sync.yaml", BOOTSTRAP_SYNC)
    write(tmp_path, "clusters/prod/flux-system/kustomization.yaml", "resources: [gotk-sync.yaml]\n")
    (finding,) = [f for f in run_audit(tmp_path).findings if f.rule == "SM010"]
    assert "secretRef: {name: sops-age}" in (finding.fix or "")
    write(
        tmp_path,
        "clusters/prod/flux-system/kustomization.yaml",
        "resources: [gotk-sync.yaml]\n" + patch,
    )
    (finding,) = [f for f in run_audit(tmp_path).findings if f.rule == "SM010"]
    assert finding.fix == (
        "add spec.decryption {provider: sops} (kustomize-controller's --sops-age-secret flag "
        "names sops-age-secret, which holds the key) to clusters/prod/apps.yaml"
    )
