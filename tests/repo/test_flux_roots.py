"""Cluster roots and live Kustomizations: what Flux applies, and what nothing applies."""

from __future__ import annotations

import subprocess

import pytest

from secretsmgr.repo.flux import find_layers
from secretsmgr.repo.settings import ClusterSpec
from secretsmgr.repo.snapshot import WorktreeSnapshot
from secretsmgr.sops.yamlio import safe_load_all

from .helpers import GitRepo
from .test_flux_model import flux_ks

SYNC = """\
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {{name: flux-system, namespace: flux-system}}
spec: {{url: '{url}', ref: {{branch: main}}}}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {{name: flux-system, namespace: flux-system}}
spec:
  path: ./{path}
  sourceRef: {{kind: GitRepository, name: flux-system}}
"""


def bootstrap(repo: GitRepo, path: str, url: str = "ssh://git@github.com/example/ops") -> None:
    repo.write(f"{path}/flux-system/gotk-sync.yaml", SYNC.format(path=path, url=url))
    repo.write(f"{path}/flux-system/kustomization.yaml", "resources: [gotk-sync.yaml]\n")


def graph(repo: GitRepo, clusters: tuple[ClusterSpec, ...] = ()):  # type: ignore[no-untyped-def]
    return find_layers(WorktreeSnapshot(repo.path), clusters)


def test_a_bootstrap_is_a_cluster_named_after_its_folder(git_checkout: GitRepo) -> None:
    bootstrap(git_checkout, "clusters/home")
    git_checkout.write("clusters/home/apps.yaml", flux_ks("apps", "./apps"))
    git_checkout.write("apps/s.enc.yaml", "kind: Secret\n")
    g = graph(git_checkout)
    assert [(x.cluster, x.name) for x in g.layers] == [("home", "flux-system"), ("home", "apps")]
    assert g.layers_of("apps/s.enc.yaml") == ("apps",)
    assert g.clusters_of("apps/s.enc.yaml") == ("home",)


def test_a_kustomization_whose_path_is_no_string_applies_nothing(git_checkout: GitRepo) -> None:
    """kptasznik/homelab (sweep 22): ``path:`` followed by a list item (``- ./apps/prod``),
    which Flux refuses, was read as the whole repository: the layer became a cluster root named
    ``apps`` that applied every file, the monitoring layer's files too."""
    bootstrap(git_checkout, "clusters/prod")
    git_checkout.git("remote", "add", "origin", "https://github.com/example/ops.git")
    git_checkout.write(
        "clusters/prod/apps.yaml",
        flux_ks("apps", "./apps/prod").replace(
            "  path: ./apps/prod\n", "  path:\n    - ./apps/prod\n"
        ),
    )
    git_checkout.write("clusters/prod/monitoring.yaml", flux_ks("monitoring", "./monitoring"))
    git_checkout.write("apps/prod/kustomization.yaml", "resources: [s.enc.yaml]\n")
    git_checkout.write("apps/prod/s.enc.yaml", "kind: Secret\n")
    git_checkout.write("monitoring/kustomization.yaml", "resources: [m.enc.yaml]\n")
    git_checkout.write("monitoring/m.enc.yaml", "kind: Secret\n")
    g = graph(git_checkout)
    assert [c.name for c in g.clusters] == ["prod"]
    assert g.clusters[0].path == "clusters/prod"
    assert sorted(g.names()) == ["apps", "flux-system", "monitoring"]
    apps = g.get("apps")
    assert apps is not None and not apps.files and apps.path != "."
    assert g.layers_of("apps/prod/s.enc.yaml") == ()
    assert g.layers_of("monitoring/m.enc.yaml") == ("monitoring",)
    assert any(
        n.startswith("layer apps: spec.path is not a string") and "applies nothing" in n
        for n in g.notes
    ), g.notes


def test_a_bootstrap_patch_of_the_source_is_not_its_definition(git_checkout: GitRepo) -> None:
    """Michaelpalacce/HomeLab (sweep 18): a gotk-patch.yaml setting the GitRepository's
    interval (no url) sorts before gotk-sync.yaml and was taken as the source: every layer was
    "external", and no layer rule judged a file."""
    bootstrap(git_checkout, "clusters/home")
    git_checkout.write(
        "clusters/home/flux-system/gotk-patch.yaml",
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\n"
        "metadata: {name: flux-system, namespace: flux-system}\nspec: {interval: 10m}\n",
    )
    git_checkout.write(
        "clusters/home/flux-system/kustomization.yaml",
        "resources: [gotk-sync.yaml]\npatches: [{path: gotk-patch.yaml}]\n",
    )
    git_checkout.write("clusters/home/apps.yaml", flux_ks("apps", "./apps"))
    git_checkout.write("apps/s.enc.yaml", "kind: Secret\n")
    git_checkout.git("remote", "add", "origin", "https://github.com/example/ops.git")
    g = graph(git_checkout)
    assert [(x.cluster, x.name) for x in g.layers] == [("home", "flux-system"), ("home", "apps")]
    assert g.layers_of("apps/s.enc.yaml") == ("apps",)
    assert not [n for n in g.notes if "outside this checkout" in n]


_IGNORE_PATCH = (
    "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\n"
    "metadata: {name: flux-system, namespace: flux-system}\n"
    "spec:\n  ignore: |\n    *.md\n    apps/skip/\n"
)
_IGNORE_OP = (
    "  - target: {kind: GitRepository, name: flux-system}\n"
    "    patch: |\n      - op: add\n        path: /spec/ignore\n"
    '        value: "apps/skip/"\n'
)


@pytest.mark.parametrize("form", ["patch file", "json6902", "outer folder"])
def test_a_bootstrap_source_is_read_after_the_patches_that_build_it(
    git_checkout: GitRepo, form: str
) -> None:
    """ShadyF/k8s-homelab (sweep 22): gotk-patches.yaml, a patch of flux-system/'s
    kustomization.yaml, sets the GitRepository's spec.ignore; only the object as written was
    read, so the three files it leaves out were judged as the apps layer's."""
    bootstrap(git_checkout, "clusters/prod")
    git_checkout.write("clusters/prod/apps.yaml", flux_ks("apps", "./apps"))
    git_checkout.write("apps/keep/s.enc.yaml", "kind: Secret\n")
    git_checkout.write("apps/skip/s.enc.yaml", "kind: Secret\n")
    built = "clusters/prod/flux-system"
    if form == "patch file":
        git_checkout.write(f"{built}/gotk-patches.yaml", _IGNORE_PATCH)
        git_checkout.write(
            f"{built}/kustomization.yaml",
            "resources: [gotk-sync.yaml]\npatches:\n  - path: gotk-patches.yaml\n",
        )
    elif form == "json6902":
        git_checkout.write(
            f"{built}/kustomization.yaml", "resources: [gotk-sync.yaml]\npatches:\n" + _IGNORE_OP
        )
    else:  # the cluster folder's kustomization.yaml, which the bootstrap builds, patches it
        built = "clusters/prod"
        git_checkout.write(
            f"{built}/kustomization.yaml",
            "resources: [flux-system, apps.yaml]\npatches:\n" + _IGNORE_OP,
        )
    # the oracle: the GitRepository Flux applies carries the ignore
    from tests.flux_corpus.test_kustomize_oracle import kustomize

    out = kustomize(git_checkout.path, built)
    repos = [d for d in safe_load_all(out) if isinstance(d, dict) and d["kind"] == "GitRepository"]
    assert len(repos) == 1 and "apps/skip/" in repos[0]["spec"]["ignore"]
    g = graph(git_checkout)
    assert [c.name for c in g.clusters] == ["prod"]
    assert g.layers_of("apps/keep/s.enc.yaml") == ("apps",)
    assert g.layers_of("apps/skip/s.enc.yaml") == ()
    apps = g.get("apps")
    assert apps is not None and "apps/skip/s.enc.yaml" in apps.ignored


def test_a_mapped_oci_source_is_read_after_the_patches_that_build_it(git_checkout: GitRepo) -> None:
    bootstrap(git_checkout, "clusters/prod")
    git_checkout.write(
        "clusters/prod/oci.yaml",
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: OCIRepository\n"
        "metadata: {name: manifests, namespace: flux-system}\n"
        "spec: {url: 'oci://ghcr.io/example/manifests', ref: {tag: latest}}\n",
    )
    git_checkout.write(
        "clusters/prod/apps.yaml",
        flux_ks("apps", "./apps").replace(
            "    kind: GitRepository\n    name: flux-system\n",
            "    kind: OCIRepository\n    name: manifests\n",
        ),
    )
    git_checkout.write(
        "clusters/prod/kustomization.yaml",
        "resources: [flux-system, oci.yaml, apps.yaml]\npatches:\n"
        + _IGNORE_OP.replace("GitRepository, name: flux-system", "OCIRepository, name: manifests"),
    )
    git_checkout.write("apps/keep/s.enc.yaml", "kind: Secret\n")
    git_checkout.write("apps/skip/s.enc.yaml", "kind: Secret\n")
    from tests.flux_corpus.test_kustomize_oracle import kustomize

    out = kustomize(git_checkout.path, "clusters/prod")
    oci = [d for d in safe_load_all(out) if isinstance(d, dict) and d["kind"] == "OCIRepository"]
    assert oci[0]["spec"]["ignore"] == "apps/skip/"
    g = find_layers(
        WorktreeSnapshot(git_checkout.path), sources={"OCIRepository/flux-system/manifests": "."}
    )
    assert g.layers_of("apps/keep/s.enc.yaml") == ("apps",)
    assert g.layers_of("apps/skip/s.enc.yaml") == ()


def test_a_kustomization_the_bootstrap_does_not_reach_is_not_live(git_checkout: GitRepo) -> None:
    bootstrap(git_checkout, "clusters/home")
    git_checkout.write("clusters/home/kustomization.yaml", "resources: [flux-system, apps.yaml]\n")
    git_checkout.write("clusters/home/apps.yaml", flux_ks("apps", "./apps"))
    git_checkout.write("clusters/home/old.yaml", flux_ks("old", "./old"))  # not listed
    git_checkout.write("old/s.enc.yaml", "kind: Secret\n")
    g = graph(git_checkout)
    assert g.names() == ("flux-system", "apps")
    assert g.layers_of("old/s.enc.yaml") == ()


def test_settings_name_clusters_and_their_keys(git_checkout: GitRepo) -> None:
    for name in ("staging", "production"):
        bootstrap(git_checkout, f"clusters/{name}")
    specs = (
        ClusterSpec("stage", "clusters/staging", "age1stage"),
        ClusterSpec("prod", "clusters/production", "age1prod", context="prod-ctx"),
    )
    g = graph(git_checkout, specs)
    assert [c.name for c in g.clusters] == ["prod", "stage"]
    prod = g.cluster("prod")
    assert prod is not None and (prod.cluster_key, prod.context) == ("age1prod", "prod-ctx")


def test_a_settings_cluster_without_a_bootstrap_is_built_from_its_path(
    git_checkout: GitRepo,
) -> None:
    git_checkout.write("clusters/lab/apps.yaml", flux_ks("apps", "./apps"))
    git_checkout.write("apps/s.enc.yaml", "kind: Secret\n")
    g = graph(git_checkout, (ClusterSpec("lab", "clusters/lab", "age1lab"),))
    assert g.clusters_of("apps/s.enc.yaml") == ("lab",)


def test_a_manually_applied_root_beside_a_bootstrap_is_a_cluster_of_its_own(
    git_checkout: GitRepo,
) -> None:
    bootstrap(git_checkout, "clusters/home")
    git_checkout.write("k8s/clusters/lab/deploy.yaml", flux_ks("lab-apps", "./k8s/apps"))
    git_checkout.write("k8s/apps/s.enc.yaml", "kind: Secret\n")
    g = graph(git_checkout)
    assert g.clusters_of("k8s/apps/s.enc.yaml") == ("lab",)


def test_an_archived_copy_pointing_into_a_live_layer_is_not_a_root(git_checkout: GitRepo) -> None:
    bootstrap(git_checkout, "clusters/home")
    git_checkout.write("clusters/home/apps.yaml", flux_ks("apps", "./apps"))
    git_checkout.write("apps/kustomization.yaml", "resources:\n  # - ./retired/ks.yaml\n")
    git_checkout.write("apps/retired/ks.yaml", flux_ks("retired", "./apps/retired/app"))
    git_checkout.write("_archive/retired/ks.yaml", flux_ks("retired", "./apps/retired/app"))
    git_checkout.write("apps/retired/app/s.enc.yaml", "kind: Secret\n")
    g = graph(git_checkout)
    assert g.names() == ("flux-system", "apps")
    assert [c.name for c in g.clusters] == ["home"]


def test_a_kustomization_in_an_archive_folder_beside_a_bootstrap_is_retired(
    git_checkout: GitRepo,
) -> None:
    # willnotcy/Hephaestus moved a retired app's ks.yaml to apps/archive/cura/cura-prod/:
    # nothing applies it, its path is no live layer's, and it became a cluster without
    # decryption (two false SM010s)
    bootstrap(git_checkout, "clusters/home")
    git_checkout.write("clusters/home/apps.yaml", flux_ks("apps", "./apps/production"))
    git_checkout.write("apps/production/kustomization.yaml", "resources: []\n")
    git_checkout.write("apps/archive/cura/cura-prod/ks.yaml", flux_ks("cura", "./apps/base/cura"))
    git_checkout.write("apps/base/cura/s.enc.yaml", "kind: Secret\n")
    # the same file outside an archive folder is a manually applied root, as before
    git_checkout.write("apps/lab/ks.yaml", flux_ks("lab", "./apps/base/lab"))
    git_checkout.write("apps/base/lab/s.enc.yaml", "kind: Secret\n")
    g = graph(git_checkout)
    assert g.clusters_of("apps/base/cura/s.enc.yaml") == ()
    assert g.clusters_of("apps/base/lab/s.enc.yaml") == ("lab",)
    assert any("archive folder" in note and "cura-prod/ks.yaml" in note for note in g.notes)
    # with nothing else alive, it is the only thing to go by and stays a root
    solo = GitRepo(git_checkout.path / "solo")
    solo.write("apps/archive/cura/ks.yaml", flux_ks("cura", "./apps/base/cura"))
    solo.write("apps/base/cura/s.enc.yaml", "kind: Secret\n")
    assert find_layers(WorktreeSnapshot(solo.path), ()).names() == ("cura",)


@pytest.mark.parametrize("folder", ["kube_old", "old-cluster", "k8s.bak", "deprecated-flux"])
def test_a_tree_moved_aside_under_a_name_that_says_old_is_retired(
    git_checkout: GitRepo, folder: str
) -> None:
    # sweep E of stop 55, aflyingcougar/homelab: the old tree moved to kube_old/ (its root
    # syncs a path gone since) held an apps Kustomization nothing applies, which became a
    # cluster "kube_old" reading kubernetes/apps, a folder no live cluster deploys
    _beside_a_live_cluster(git_checkout, f"{folder}/flux/apps.yaml", "cluster-apps", "./apps")
    git_checkout.write("apps/s.enc.yaml", "kind: Secret\n")
    g = graph(git_checkout)
    assert [c.name for c in g.clusters] == ["home"]
    assert g.clusters_of("apps/s.enc.yaml") == ()
    # a word that only holds the letters is no archive's name
    other = GitRepo(git_checkout.path / "other")
    _beside_a_live_cluster(other, "golden/flux/apps.yaml", "cluster-apps", "./apps")
    other.write("apps/s.enc.yaml", "kind: Secret\n")
    assert find_layers(WorktreeSnapshot(other.path), ()).clusters_of("apps/s.enc.yaml") != ()
    # nor a live namespace's word (velero's backup-system: the regression over 52 clones)
    velero = GitRepo(git_checkout.path / "velero")
    _beside_a_live_cluster(velero, "apps/backup-system/velero/ks.yaml", "velero", "./apps/velero")
    velero.write("apps/velero/s.enc.yaml", "kind: Secret\n")
    found = find_layers(WorktreeSnapshot(velero.path), ())
    assert found.clusters_of("apps/velero/s.enc.yaml") != ()


def _beside_a_live_cluster(repo: GitRepo, file: str, name: str, path: str) -> None:
    """A bootstrapped cluster ``home`` whose apps layer builds an empty folder, and beside it
    a Flux Kustomization ``name`` over ``path`` in ``file`` that nothing applies."""
    bootstrap(repo, "clusters/home")
    repo.write("clusters/home/apps.yaml", flux_ks("apps", "./apps/production"))
    repo.write("apps/production/kustomization.yaml", "resources: []\n")
    repo.write(file, flux_ks(name, path))


def test_another_git_repository_is_this_checkout_only_with_the_same_url(
    git_checkout: GitRepo,
) -> None:
    bootstrap(git_checkout, "clusters/home", url="https://github.com/example/ops.git")
    git_checkout.write(
        "clusters/home/sources.yaml",
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\n"
        "metadata: {name: same, namespace: flux-system}\n"
        "spec: {url: 'ssh://git@github.com/example/ops', ignore: '*.draft.yaml'}\n"
        "---\napiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\n"
        "metadata: {name: other, namespace: flux-system}\n"
        "spec: {url: 'https://github.com/someone/else'}\n",
    )
    git_checkout.write(
        "clusters/home/apps.yaml",
        flux_ks("mine", "./apps")
        .replace("name: flux-system\n  dep", "name: same\n  dep")
        .replace("    name: flux-system\n", "    name: same\n", 1)
        + "---\n"
        + flux_ks("theirs", "./").replace("    name: flux-system\n", "    name: other\n", 1),
    )
    git_checkout.write("apps/s.enc.yaml", "kind: Secret\n")
    git_checkout.write("apps/s.draft.yaml", "kind: Secret\n")
    g = graph(git_checkout)
    mine, theirs = g.get("mine"), g.get("theirs")
    assert mine is not None and mine.external is None
    assert "apps/s.enc.yaml" in mine.files and "apps/s.draft.yaml" not in mine.files
    assert theirs is not None and theirs.external == "GitRepository/flux-system/other"
    assert theirs.files == frozenset()  # its path ./ is never resolved against this checkout


def test_a_kustomization_kept_in_the_folder_it_builds_is_a_root(git_checkout: GitRepo) -> None:
    # PurdueAF/purdue-af and j0sh3rs/k3s-at-home: the folder's kustomization.yaml does not list
    # the Flux Kustomization beside it, which was applied by hand (or by bootstrap). It was
    # dropped as "no longer listed by its parent", so SM010 was missed and check passed.
    no_decryption = ""
    git_checkout.write(
        "deploy/prod/flux-kustomization.yaml", flux_ks("app", "./deploy/prod/", (), no_decryption)
    )
    git_checkout.write("deploy/prod/kustomization.yaml", "resources:\n  - ../../apps/s.enc.yaml\n")
    git_checkout.write("apps/s.enc.yaml", "kind: Secret\n")
    g = graph(git_checkout)
    assert g.names() == ("app",)
    assert g.layers_of("apps/s.enc.yaml") == ("app",)
    layer = g.layers[0]
    assert layer.decryption is None


def test_a_kustomization_that_applies_nothing_is_no_cluster(git_checkout: GitRepo) -> None:
    # haraldkoch/kochhaus-home (40 "clusters", 3 real) and JJGadgets/Biohazard: archived
    # ks.yaml files whose path is gone, and one without a sourceRef, each became a cluster.
    for name in ("main", "edge"):
        git_checkout.write(f"k8s/{name}/flux/apps.yaml", flux_ks("apps", f"./k8s/{name}/apps"))
        git_checkout.write(f"k8s/{name}/apps/s.enc.yaml", "kind: Secret\n")
    git_checkout.write(".archive/apps/retired/ks.yaml", flux_ks("retired", "./k8s/gone/app"))
    no_source = flux_ks("dnsdist", "./k8s/main/apps").replace(
        "  sourceRef:\n    kind: GitRepository\n    name: flux-system\n", ""
    )
    git_checkout.write("k8s/dns/dnsdist/ks.yaml", no_source)
    g = graph(git_checkout)
    assert sorted(c.name for c in g.clusters) == ["edge", "main"]
    assert g.clusters_of("k8s/main/apps/s.enc.yaml") == ("main",)


SOURCE = """\
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {{name: ops, namespace: flux-system}}
spec: {{url: '{url}'}}
"""


def _layer_reading_ops(repo: GitRepo) -> None:
    # a Kustomization kept in the folder it builds, reading the repository's GitRepository
    # from another file: only the URL says the source is this checkout
    repo.write("deploy/sources.yaml", SOURCE.format(url="https://github.com/acme/ops"))
    repo.write(
        "deploy/apps.yaml",
        flux_ks("apps", "./apps").replace("    name: flux-system\n", "    name: ops\n", 1),
    )
    repo.write("apps/s.enc.yaml", "kind: Secret\n")


@pytest.mark.parametrize(
    ("origin", "mine", "why"),
    [
        ("https://github.com/acme/ops.git", True, None),
        ("git@github-work:acme/ops.git", True, "the same repository under another host name"),
        ("https://github.com/me/ops.git", True, "origin may be a fork"),
        ("https://github.com/me/other.git", False, None),
    ],
)
def test_origin_as_a_fork_or_an_ssh_alias_still_names_this_checkout(
    git_checkout: GitRepo, origin: str, mine: bool, why: str | None
) -> None:
    # j0sh3rs/k3s-at-home cloned from a fork, or through an ssh host alias: every layer was
    # "external" and nothing was judged, with exit 0
    _layer_reading_ops(git_checkout)
    subprocess.run(
        ["git", "-C", str(git_checkout.path), "remote", "add", "origin", origin], check=True
    )
    g = graph(git_checkout)
    layer = g.get("apps")
    assert layer is not None
    assert (layer.external is None) is mine
    assert ("apps/s.enc.yaml" in layer.files) is mine
    notes = [n for n in g.notes if n.startswith("origin ")]
    assert (why is not None) == bool(notes) and (why is None or why in notes[0])


def test_the_origin_note_shows_both_urls_as_written(git_checkout: GitRepo) -> None:
    # sweep 100 (Alexsaphir/Talos-Flux): both were printed in small letters, a local path and a
    # URL that named nothing that exists
    git_checkout.write("deploy/sources.yaml", SOURCE.format(url="https://git.example.com/Home/Ops"))
    git_checkout.write(
        "deploy/apps.yaml",
        flux_ks("apps", "./apps").replace("    name: flux-system\n", "    name: ops\n", 1),
    )
    git_checkout.write("apps/s.enc.yaml", "kind: Secret\n")
    origin = "/tmp/Clones/My-Fork/Ops"
    subprocess.run(
        ["git", "-C", str(git_checkout.path), "remote", "add", "origin", origin], check=True
    )
    notes = [n for n in graph(git_checkout).notes if n.startswith("origin ")]
    assert notes and notes[0].startswith(
        f"origin {origin} is not a GitRepository URL here; https://git.example.com/Home/Ops is "
        "taken as this checkout"
    ), notes


def test_two_repositories_of_the_origins_name_are_not_guessed_between(
    git_checkout: GitRepo,
) -> None:
    _layer_reading_ops(git_checkout)
    git_checkout.write("deploy/upstream.yaml", SOURCE.format(url="https://github.com/upstream/ops"))
    subprocess.run(
        [
            "git",
            "-C",
            str(git_checkout.path),
            "remote",
            "add",
            "origin",
            "https://github.com/me/ops",
        ],
        check=True,
    )
    layer = graph(git_checkout).get("apps")
    assert layer is not None and layer.external is not None


def test_two_bootstraps_of_one_folder_keep_the_folders_name(git_checkout: GitRepo) -> None:
    # JJGadgets/Biohazard syncs its cluster folder from two mirrors of the repository: two
    # roots named "biohazard" were taken for two clusters and renamed to their full path
    bootstrap(git_checkout, "clusters/home", url="https://github.com/example/ops")
    mirror = SYNC.format(path="clusters/home", url="https://git.example.org/ops").replace(
        "flux-system", "mirror"
    )
    git_checkout.write("clusters/home/flux-system/mirror.yaml", mirror)
    git_checkout.write(
        "clusters/home/flux-system/kustomization.yaml", "resources: [gotk-sync.yaml, mirror.yaml]\n"
    )
    git_checkout.write("clusters/home/apps.yaml", flux_ks("apps", "./apps"))
    git_checkout.write("apps/s.enc.yaml", "kind: Secret\n")
    g = graph(git_checkout)
    assert [c.name for c in g.clusters] == ["home"]
    assert g.clusters_of("apps/s.enc.yaml") == ("home",)


def test_a_path_with_nothing_in_the_checkout_gets_a_note(git_checkout: GitRepo) -> None:
    # thaddeuscleo/cleoverse-gitops: 32 archived ks.yaml files whose path is gone showed as
    # clean layers, and nothing said that Flux would fail them
    git_checkout.write(".archives/apps/a/ks.yaml", flux_ks("a", "./cluster/apps/a"))
    git_checkout.write(".archives/apps/b/ks.yaml", flux_ks("b", "./cluster/apps/b"))
    notes = [n for n in graph(git_checkout).notes if "nothing in this checkout" in n]
    assert notes == [
        "2 Flux Kustomizations point at a spec.path with nothing in this checkout, which Flux "
        "fails: .archives/apps/a/ks.yaml (./cluster/apps/a), .archives/apps/b/ks.yaml "
        "(./cluster/apps/b)"
    ]


def test_a_root_syncing_a_path_this_checkout_lacks_is_no_cluster_beside_a_live_one(
    git_checkout: GitRepo,
) -> None:
    # sweep 84: cbc02009/k8s-home-ops's FluxInstance in `.archive/nas` and jmuchovej/homelab's
    # `clusters/@dc-domain@/flux` (Nix fills it in) each became a cluster, and init gave it a
    # key; alone (a new repository's root before its folder) it is still one
    git_checkout.write(
        "nix/manifests/flux-instance.yaml",
        "apiVersion: fluxcd.controlplane.io/v1\nkind: FluxInstance\nmetadata:\n  name: flux\n"
        "  namespace: flux-system\nspec:\n  sync:\n    kind: GitRepository\n"
        "    url: ssh://git@github.com/example/ops\n    ref: refs/heads/main\n"
        "    path: clusters/@dc-domain@/flux\n",
    )
    alone = graph(git_checkout)
    assert [c.root for c in alone.clusters] == ["nix/manifests/flux-instance.yaml"]
    bootstrap(git_checkout, "clusters/home")
    git_checkout.write("clusters/home/apps.yaml", flux_ks("apps", "./apps"))
    git_checkout.write("apps/s.enc.yaml", "kind: Secret\n")
    g = graph(git_checkout)
    assert [c.name for c in g.clusters] == ["home"], g.clusters
    assert (
        "nix/manifests/flux-instance.yaml syncs clusters/@dc-domain@/flux, which this checkout "
        "does not hold (an archived root, or a path a tool fills in): not counted as a cluster"
    ) in g.notes, g.notes
    named = graph(git_checkout, (ClusterSpec("dc", "clusters/@dc-domain@/flux"),))
    assert "dc" in [c.name for c in named.clusters], named.clusters


def test_one_file_of_kustomizations_counts_only_those_whose_path_holds_nothing(
    git_checkout: GitRepo,
) -> None:
    # sweep 37, evilpandas/talos-cluster-infrastructure: one file held four Kustomizations,
    # two over missing paths; the note counted four (by file) and named one of them
    docs = [flux_ks(name, f"./infrastructure/{name}") for name in ("ctl", "mon", "sec", "cfg")]
    git_checkout.write("clusters/home/infrastructure.yaml", "---\n".join(docs))
    for name in ("ctl", "cfg"):
        git_checkout.write(f"infrastructure/{name}/cm.yaml", "kind: ConfigMap\n")
    g = graph(git_checkout)
    notes = [n for n in g.notes if "nothing in this checkout" in n]
    assert notes == [
        "2 Flux Kustomizations point at a spec.path with nothing in this checkout, which Flux "
        "fails: clusters/home/infrastructure.yaml (./infrastructure/mon), "
        "clusters/home/infrastructure.yaml (./infrastructure/sec)"
    ], g.notes


def _shared_child(repo: GitRepo, overlay: str) -> None:
    """``apps/<overlay>`` builds ``apps/base``, which defines a Flux Kustomization ``shared``."""
    repo.write(f"apps/{overlay}/kustomization.yaml", "resources: [../base]\n")
    repo.write("apps/base/kustomization.yaml", "resources: [shared.yaml]\n")
    repo.write("apps/base/shared.yaml", flux_ks("shared", "./shared"))
    repo.write("shared/s.enc.yaml", "kind: Secret\n")


def test_a_cluster_folder_not_bootstrapped_yet_is_a_cluster_of_its_own(
    git_checkout: GitRepo,
) -> None:
    # darioblanco/gitops: clusters/dev is bootstrapped, clusters/prod not yet (no gotk-sync).
    # Both reach one Kustomization through a shared base; prod was folded into dev, with two
    # flux-system/apps in one cluster, which Kubernetes cannot hold.
    bootstrap(git_checkout, "clusters/dev")
    git_checkout.write("clusters/dev/apps.yaml", flux_ks("apps", "./apps/dev"))
    git_checkout.write("clusters/prod/apps.yaml", flux_ks("apps", "./apps/prod"))
    _shared_child(git_checkout, "dev")
    _shared_child(git_checkout, "prod")
    g = graph(git_checkout)
    assert sorted(c.name or "" for c in g.clusters) == ["dev", "prod"]
    assert sorted(x.label for x in g.layers if x.name != "flux-system") == [
        "dev/apps",
        "dev/shared",
        "prod/apps",
        "prod/shared",
    ]
    assert g.clusters_of("shared/s.enc.yaml") == ("dev", "prod")
    assert not any("counted as cluster" in note for note in g.notes)


def test_a_manual_root_reaching_a_clusters_kustomization_joins_that_cluster(
    git_checkout: GitRepo,
) -> None:
    bootstrap(git_checkout, "clusters/dev")
    git_checkout.write("clusters/dev/apps.yaml", flux_ks("apps", "./apps/dev"))
    git_checkout.write("manual/extra.yaml", flux_ks("extra", "./apps/extra"))
    _shared_child(git_checkout, "dev")
    _shared_child(git_checkout, "extra")
    g = graph(git_checkout)
    assert [c.name for c in g.clusters] == ["dev"]
    assert sorted(x.label for x in g.layers) == [
        "dev/apps",
        "dev/extra",
        "dev/flux-system",
        "dev/shared",
    ]
    assert any("counted as cluster dev" in note for note in g.notes)


TENANT_SYNC = """\
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: dev-team, namespace: apps}
spec: {url: 'https://github.com/example/multi-tenancy', ref: {branch: dev-team}}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: dev-team, namespace: apps}
spec:
  sourceRef: {kind: GitRepository, name: dev-team}
"""


def test_a_tenants_whole_tree_sync_is_no_bootstrap(git_checkout: GitRepo) -> None:
    # fluxcd/flux2-multi-tenancy, before its clusters are bootstrapped: a tenant's sync (no
    # spec.path: the whole tree of its branch) lies in tenants/base, and each cluster's tenants
    # layer patches its path. Its build of this whole checkout reached its own file, so it was
    # taken for a bootstrap and named the production cluster "dev-team"; and as a candidate it
    # reached every other Kustomization, so none was a root.
    git_checkout.git("remote", "add", "origin", "https://github.com/example/multi-tenancy")
    git_checkout.write("tenants/base/dev-team/kustomization.yaml", "resources: [sync.yaml]\n")
    git_checkout.write("tenants/base/dev-team/sync.yaml", TENANT_SYNC)
    for env in ("production", "staging"):
        git_checkout.write(
            f"tenants/{env}/kustomization.yaml",
            "resources: [../base/dev-team]\npatches:\n  - path: patch.yaml\n",
        )
        git_checkout.write(
            f"tenants/{env}/patch.yaml",
            "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n"
            f"metadata: {{name: dev-team, namespace: apps}}\nspec: {{path: ./{env}}}\n",
        )
        git_checkout.write(f"clusters/{env}/tenants.yaml", flux_ks("tenants", f"./tenants/{env}"))
    g = graph(git_checkout)
    assert sorted(c.name or "" for c in g.clusters) == ["production", "staging"]
    assert sorted((x.label, x.path) for x in g.layers) == [
        ("production/dev-team", "production"),
        ("production/tenants", "tenants/production"),
        ("staging/dev-team", "staging"),
        ("staging/tenants", "tenants/staging"),
    ]


INSTANCE_VALUES = """\
instance:
  distribution:
    version: 2.8.8
  sync:
    kind: GitRepository
    url: https://github.com/example/home-ops
    ref: refs/heads/main
    path: kubernetes/flux
  kustomize:
    patches:
      - patch: |
          - op: add
            path: /spec/decryption
            value:
              provider: sops
              secretRef:
                name: sops-age
        target:
          group: kustomize.toolkit.fluxcd.io
          kind: Kustomization
"""


@pytest.mark.parametrize("form", ["values file", "HelmRelease"])
def test_the_flux_instance_chart_is_a_cluster_root(git_checkout: GitRepo, form: str) -> None:
    # auricom, Diaoul, rafaribe (home-ops): flux-operator installed by the flux-instance Helm
    # chart. Its sync Kustomization was missing, with the decryption its patch adds, and the
    # version the chart pins.
    git_checkout.git("remote", "add", "origin", "https://github.com/example/home-ops")
    app = "kubernetes/apps/flux-system/flux-instance/app"
    if form == "values file":
        git_checkout.write(f"{app}/helm/values.yaml", "---\n" + INSTANCE_VALUES)
    else:
        values = "".join(f"    {line}\n" for line in INSTANCE_VALUES.splitlines())
        git_checkout.write(
            f"{app}/helmrelease.yaml",
            "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n"
            "  name: flux-instance\n  namespace: flux-system\nspec:\n  values:\n" + values,
        )
    git_checkout.write("kubernetes/flux/apps.yaml", flux_ks("apps", "./kubernetes/apps"))
    git_checkout.write("kubernetes/flux/s.sops.yaml", "kind: Secret\n")
    g = graph(git_checkout)
    root = g.layers[0]
    assert (root.name, root.path) == ("flux-system", "kubernetes/flux")
    assert root.decryption is not None and root.decryption.describe() == "sops/sops-age"
    assert g.layers_of("kubernetes/flux/s.sops.yaml") == ("flux-system",)
    assert [c.version.assumed for c in g.clusters] == [False]  # the chart pins 2.8.8
    assert not any("which Flux version" in note for note in g.notes)


def test_a_root_another_cluster_applies_is_that_cluster(git_checkout: GitRepo) -> None:
    # gavinmcfall/home-ops mid migration: a legacy bootstrap syncs kubernetes/flux, and the
    # flux-instance HelmRelease in its apps syncs kubernetes/flux/cluster: one cluster
    bootstrap(git_checkout, "kubernetes/flux", url="https://github.com/example/home-ops")
    git_checkout.write("kubernetes/flux/cluster/apps.yaml", flux_ks("apps", "./kubernetes/apps"))
    git_checkout.write(
        "kubernetes/apps/flux-instance/values.yaml",
        INSTANCE_VALUES.replace("path: kubernetes/flux\n", "path: kubernetes/flux/cluster\n"),
    )
    g = graph(git_checkout)
    assert len(g.clusters) == 1, g.clusters
    # its path lies inside the bootstrap's, which applies its Kustomizations (and the file)
    assert any("whose Kustomizations" in n or "is applied by cluster" in n for n in g.notes)


def test_commented_out_templates_and_unlisted_modules_are_no_clusters(
    git_checkout: GitRepo,
) -> None:
    # shelken/home-ops (an item commented out with a comment after it, a commented folder) and
    # piontec/free-oci-kubernetes (modules that wait for the cluster's layers, templates with
    # ${…} in their names): each became a cluster of its own beside the real one
    bootstrap(git_checkout, "clusters/home")
    git_checkout.write("clusters/home/infra.yaml", flux_ks("infra", "./infra"))
    git_checkout.write(
        "infra/kustomization.yaml",
        "resources:\n  - live/ks.yaml\n  # - retired/ks.yaml # moved to daed\n  # - ceph\n",
    )
    git_checkout.write("infra/live/ks.yaml", flux_ks("live", "./infra/live/app"))
    git_checkout.write("infra/live/app/cm.yaml", "kind: ConfigMap\n")
    git_checkout.write("infra/retired/ks.yaml", flux_ks("retired", "./infra/retired/app"))
    git_checkout.write("infra/retired/app/cm.yaml", "kind: ConfigMap\n")
    git_checkout.write("infra/ceph/ceph/ks.yaml", flux_ks("ceph", "./infra/ceph/ceph/app"))
    git_checkout.write("infra/ceph/ceph/app/cm.yaml", "kind: ConfigMap\n")
    git_checkout.write("modules/db/ks.yaml", flux_ks("db", "./modules/db/app", ("infra",)))
    git_checkout.write("modules/db/app/s.sops.yaml", "kind: Secret\n")
    git_checkout.write(
        "modules/wp/ks.yaml", flux_ks("wordpress-${wp_name}", "./modules/wp/${wp_name}")
    )
    g = graph(git_checkout)
    assert [c.name for c in g.clusters] == ["home"]
    assert sorted(x.name for x in g.layers) == ["flux-system", "infra", "live"]
    assert g.layers_of("modules/db/app/s.sops.yaml") == ()


def test_a_vendored_flux_instance_chart_is_no_root(git_checkout: GitRepo) -> None:
    # the chart's own values.yaml has sync: {url: "", path: ""}: taken for a root syncing the
    # whole tree, it swallowed the real clusters (review of the flux-instance support)
    bootstrap(git_checkout, "clusters/prod")
    bootstrap(git_checkout, "clusters/staging")
    for env in ("prod", "staging"):
        git_checkout.write(f"clusters/{env}/apps.yaml", flux_ks("apps", f"./apps/{env}"))
        git_checkout.write(f"apps/{env}/cm.yaml", "kind: ConfigMap\n")
    defaults = "instance:\n  sync:\n    kind: GitRepository\n    url: ''\n    path: ''\n"
    git_checkout.write("charts/flux-instance/values.yaml", defaults)
    git_checkout.write("charts/other/Chart.yaml", "name: other\n")
    git_checkout.write("charts/other/values.yaml", INSTANCE_VALUES)  # a chart's own copy
    g = graph(git_checkout)
    assert sorted(c.name or "" for c in g.clusters) == ["prod", "staging"]
    assert not any("is applied by cluster" in note for note in g.notes)


def test_a_cluster_not_bootstrapped_yet_keeps_layers_that_depend_on_its_own(
    git_checkout: GitRepo,
) -> None:
    # prod's apps depends on prod's own infrastructure, not on dev's live one
    bootstrap(git_checkout, "clusters/dev")
    for env in ("dev", "prod"):
        git_checkout.write(
            f"clusters/{env}/infrastructure.yaml", flux_ks("infrastructure", f"./infra/{env}")
        )
        git_checkout.write(
            f"clusters/{env}/apps.yaml", flux_ks("apps", f"./apps/{env}", ("infrastructure",))
        )
        git_checkout.write(f"infra/{env}/cm.yaml", "kind: ConfigMap\n")
        git_checkout.write(f"apps/{env}/s.enc.yaml", "kind: Secret\n")
    g = graph(git_checkout)
    assert g.clusters_of("apps/prod/s.enc.yaml") == ("prod",)
    assert sorted(x.label for x in g.layers if x.cluster == "prod") == [
        "prod/apps",
        "prod/infrastructure",
    ]


def test_a_bootstrap_of_the_whole_tree_below_the_top_is_still_a_bootstrap(
    git_checkout: GitRepo,
) -> None:
    # kube/flux-system/gotk-sync.yaml with path ./ : bootstrap wrote a path, so it is one
    git_checkout.write(
        "kube/flux-system/gotk-sync.yaml",
        SYNC.format(path="", url="ssh://git@github.com/example/ops"),  # path: ./
    )
    git_checkout.write("apps/ks.yaml", flux_ks("apps", "./apps/app"))
    git_checkout.write("apps/app/cm.yaml", "kind: ConfigMap\n")
    g = graph(git_checkout)
    assert [x.name for x in g.layers] == ["flux-system", "apps"]
    assert all(x.external is None for x in g.layers)


FOREIGN = """\
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {{name: {name}{namespace}}}
spec: {{url: '{url}', ref: {{tag: v1.0.0}}}}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {{name: {name}, namespace: database}}
spec:
  {path}sourceRef: {{kind: GitRepository, name: {name}}}
"""


@pytest.mark.parametrize(
    ("where", "path", "namespace"),
    [
        # d4rkfella: a live ks.yaml with its source beside it; USA-RedDragon: a secrets repo
        ("kubernetes/apps/keycloak/ks.yaml", "path: ./kubernetes\n  ", ", namespace: database"),
        ("clusters/home/secrets.yaml", "path: ./\n  ", ", namespace: database"),
        # bykaj: archived, no spec.path, the source given no namespace
        ("archive/cnpg/crds.yaml", "", ""),
    ],
)
def test_a_kustomization_of_another_repository_is_no_root(
    git_checkout: GitRepo, where: str, path: str, namespace: str
) -> None:
    # it was the cluster root, its path resolved in this checkout: the real layers lost their
    # parent's decryption patch (false SM010), or the repository's own source became "external"
    git_checkout.git("remote", "add", "origin", "https://github.com/example/home-ops")
    git_checkout.write(
        "kubernetes/apps/flux-instance/values.yaml",
        INSTANCE_VALUES.replace("path: kubernetes/flux\n", "path: kubernetes/flux/cluster\n"),
    )
    git_checkout.write(
        "kubernetes/flux/cluster/apps.yaml",
        flux_ks("apps", "./kubernetes/apps").replace(
            "spec:\n", "spec:\n  decryption: {provider: sops}\n", 1
        ),
    )
    git_checkout.write("kubernetes/apps/db/s.sops.yaml", "kind: Secret\n")
    name = "theirs"
    git_checkout.write(
        where,
        FOREIGN.format(
            name=name, namespace=namespace, path=path, url="https://github.com/someone/else.git"
        ),
    )
    g = graph(git_checkout)
    assert [c.root for c in g.clusters] == ["kubernetes/apps/flux-instance/values.yaml"]
    assert g.layers_of("kubernetes/apps/db/s.sops.yaml") == ("apps",)
    theirs = g.get(name)
    assert theirs is None or (theirs.external is not None and theirs.files == frozenset())
    # the same file naming this checkout is still a bootstrap (a gotk-sync.yaml)
    git_checkout.write(
        where,
        FOREIGN.format(
            name=name, namespace=namespace, path=path, url="ssh://git@github.com/example/home-ops"
        ),
    )
    assert any(c.root == where for c in graph(git_checkout).clusters) or path == ""


def _values_release(values: str, namespace: str = "") -> str:
    body = "".join(f"    {line}\n" for line in values.splitlines())
    where = f"  namespace: {namespace}\n" if namespace else ""
    return (
        "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n"
        f"  name: flux-instance\n{where}spec:\n  values:\n{body}"
    )


def test_an_instance_syncing_inside_a_cluster_it_belongs_to_is_that_cluster(
    git_checkout: GitRepo,
) -> None:
    # damacus/home-ops: a bootstrap syncs kubernetes/flux; the flux-instance values (in a layer
    # switched off) sync kubernetes/flux/cluster, whose Kustomizations the bootstrap applies.
    # Every layer was listed twice, under two clusters.
    bootstrap(git_checkout, "kubernetes/flux", url="https://github.com/example/home-ops")
    git_checkout.write("kubernetes/flux/cluster/apps.yaml", flux_ks("apps", "./kubernetes/apps"))
    git_checkout.write(
        "kubernetes/apps/flux-instance/app/helm/values.yaml",
        INSTANCE_VALUES.replace("path: kubernetes/flux\n", "path: kubernetes/flux/cluster\n"),
    )
    git_checkout.write("kubernetes/apps/db/s.sops.yaml", "kind: Secret\n")
    g = graph(git_checkout)
    assert len(g.clusters) == 1, g.clusters
    assert g.layers_of("kubernetes/apps/db/s.sops.yaml") == ("apps",)
    assert any("whose Kustomizations" in note for note in g.notes)


def test_a_shared_instance_whose_path_each_cluster_fills_in_is_no_cluster(
    git_checkout: GitRepo,
) -> None:
    # aclerici38/home-ops: clusters home and cloud both apply one flux-instance HelmRelease
    # with sync.path "${FLUX_PATH}": it was a third cluster named ${FLUX_PATH}
    shared = "kubernetes/apps/shared/flux-instance/hr.yaml"
    git_checkout.write(
        shared,
        _values_release(
            INSTANCE_VALUES.replace("path: kubernetes/flux\n", 'path: "${FLUX_PATH}"\n')
        ),
    )
    for name in ("home", "cloud"):
        bootstrap(git_checkout, f"clusters/{name}", url="https://github.com/example/home-ops")
        git_checkout.write(
            f"clusters/{name}/instance.yaml",
            flux_ks("flux-instance", "./kubernetes/apps/shared/flux-instance"),
        )
    g = graph(git_checkout)
    assert sorted(str(c.name) for c in g.clusters) == ["cloud", "home"]
    assert any("each filling in its sync path" in note for note in g.notes)


def test_an_instance_named_by_the_namespace_its_kustomization_gives_it(
    git_checkout: GitRepo,
) -> None:
    # soulwhisper/home-ops: the HelmRelease has no namespace; the Kustomization applying it
    # sets targetNamespace gitops-system, so flux-operator names the sync source
    # gitops-system/gitops-system, which the sync folder's Kustomizations read. It was
    # "external" and 92 Kustomizations went unmodelled.
    git_checkout.git("remote", "add", "origin", "https://github.com/example/home-ops")
    git_checkout.write(
        "kubernetes/apps/gitops-system/flux-instance/app/helmrelease.yaml",
        _values_release(INSTANCE_VALUES),
    )
    git_checkout.write(
        "kubernetes/flux/apps.yaml",
        flux_ks("apps", "./kubernetes/apps")
        .replace("namespace: flux-system", "namespace: gitops-system")
        .replace("    name: flux-system\n", "    name: gitops-system\n"),
    )
    git_checkout.write("kubernetes/apps/db/s.sops.yaml", "kind: Secret\n")
    g = graph(git_checkout)
    apps = g.get("apps")
    assert apps is not None and apps.external is None
    assert g.layers_of("kubernetes/apps/db/s.sops.yaml") == ("apps",)
    assert g.layers[0].name == "gitops-system"


@pytest.mark.parametrize(
    "origin",
    [
        "/srv/git/upstream",  # a clone of a local path
        "https://github.com/example/home-ops-renamed",  # renamed: Flux follows the redirect
    ],
)
def test_a_bootstrap_named_flux_system_stays_one_whatever_origin_says(
    git_checkout: GitRepo, origin: str
) -> None:
    # the review: the same-file source check dropped a real flux bootstrap when origin was a
    # local path or the repository had been renamed since gotk-sync.yaml was written
    bootstrap(git_checkout, "clusters/home", url="ssh://git@github.com/example/home-ops")
    git_checkout.git("remote", "add", "origin", origin)
    git_checkout.write("clusters/home/apps.yaml", flux_ks("apps", "./apps"))
    git_checkout.write("apps/s.enc.yaml", "kind: Secret\n")
    g = graph(git_checkout)
    assert [c.name for c in g.clusters] == ["home"]
    assert g.layers_of("apps/s.enc.yaml") == ("apps",)


def test_notes_name_the_cluster_and_unapplied_kustomizations_are_counted(
    git_checkout: GitRepo,
) -> None:
    # seventh sweep: jesse-gonzalez (7 clusters, each with a flux-system layer) got "layer
    # flux-system: its build names …" without the cluster; hmcts (Flux applied by an AKS
    # extension, 84 Kustomizations in templates) was told "no Flux Kustomization found"
    for name in ("dev", "prod"):
        bootstrap(git_checkout, f"clusters/{name}")
    git_checkout.write(
        "clusters/prod/flux-system/kustomization.yaml", "resources: [gotk-sync.yaml, gone.yaml]\n"
    )
    notes = graph(git_checkout).notes
    assert any(n.startswith("layer prod/flux-system: its build names") for n in notes), notes

    other = GitRepo(git_checkout.path / "other")
    other.write("apps/ks.yaml", flux_ks("web", "./apps/${ENVIRONMENT}"))
    g = find_layers(WorktreeSnapshot(other.path), ())
    assert (g.layers, g.kustomizations) == ((), 1)
    assert any("no cluster root that applies it" in n and "clusters:" in n for n in g.notes)


def test_a_sibling_not_bootstrapped_keeps_its_same_named_kustomization_apart(
    git_checkout: GitRepo,
) -> None:
    # seventh sweep (iT3E/tnwks-ops): clusters/wsl's sync build does not list flux-system/,
    # and clusters/ms-01 (not bootstrapped yet) defines a cluster-apps too: ms-01's replaced
    # wsl's, and the live cluster showed ms-01's layers and SOPS files
    bootstrap(git_checkout, "clusters/wsl")
    git_checkout.git("remote", "add", "origin", "ssh://git@github.com/example/ops")
    git_checkout.write("clusters/wsl/kustomization.yaml", "resources: [apps.yaml]\n")
    for name in ("wsl", "ms01"):
        git_checkout.write(
            f"clusters/{name}/apps.yaml", flux_ks("cluster-apps", f"./clusters/{name}/apps")
        )
        git_checkout.write(f"clusters/{name}/apps/s.enc.yaml", "kind: Secret\n")
    git_checkout.write("clusters/ms01/kustomization.yaml", "resources: [apps.yaml]\n")
    g = graph(git_checkout)
    assert g.clusters_of("clusters/wsl/apps/s.enc.yaml") == ("wsl",)
    assert g.clusters_of("clusters/ms01/apps/s.enc.yaml") == ("ms01",)


@pytest.mark.parametrize("waits", [True, False])
def test_a_cluster_folder_not_bootstrapped_keeps_its_copy_of_a_shared_kustomization(
    git_checkout: GitRepo, waits: bool
) -> None:
    # sweep 103 (chathaway-codes/logrit-kubernetes, flux2-kustomize-helm-example's layout):
    # clusters/production, not bootstrapped yet, has the infrastructure.yaml of the live
    # clusters/staging, and its apps wait for it; the copy was dropped as a backup, its apps
    # were taken for an optional module nobody listed, and a SOPS file they apply without
    # decryption was "not deployed" (SM012, info) instead of SM010
    bootstrap(git_checkout, "clusters/staging")
    git_checkout.write("clusters/staging/kustomization.yaml", "resources: [flux-system]\n")
    git_checkout.write(
        "clusters/staging/flux-system/kustomization.yaml",
        "resources: [gotk-sync.yaml, ../infrastructure.yaml, ../apps.yaml]\n",
    )
    git_checkout.write("clusters/production/flux-system/gotk-sync.yaml", "# made by bootstrap\n")
    git_checkout.write(
        "clusters/production/flux-system/kustomization.yaml", "resources: [gotk-sync.yaml]\n"
    )
    deps = ("infra-controllers",) if waits else ()
    for name in ("staging", "production"):
        git_checkout.write(
            f"clusters/{name}/infrastructure.yaml",
            flux_ks("infra-controllers", "./infrastructure/controllers", decryption=""),
        )
        git_checkout.write(
            f"clusters/{name}/apps.yaml", flux_ks("apps", f"./apps/{name}", deps, decryption="")
        )
    git_checkout.write("infrastructure/controllers/kustomization.yaml", "resources: [ns.yaml]\n")
    git_checkout.write("infrastructure/controllers/ns.yaml", "kind: Namespace\n")
    git_checkout.write("apps/staging/kustomization.yaml", "resources: [ns.yaml]\n")
    git_checkout.write("apps/staging/ns.yaml", "kind: Namespace\n")
    git_checkout.write("apps/production/kustomization.yaml", "resources: [db.enc.yaml]\n")
    git_checkout.write("apps/production/db.enc.yaml", "kind: Secret\n")
    g = graph(git_checkout)
    assert g.clusters_of("apps/production/db.enc.yaml") == ("production",)
    assert sorted(x.label for x in g.layers if x.cluster == "production") == [
        "production/apps",
        "production/infra-controllers",
    ]
    assert sorted(g.clusters_of("infrastructure/controllers/ns.yaml")) == ["production", "staging"]


def test_a_folder_holding_a_copy_and_an_example_that_waits_for_it_is_no_cluster(
    git_checkout: GitRepo,
) -> None:
    # the review of stop 54: with the copies of a cluster folder not bootstrapped kept, an
    # examples/ folder holding a copy of a live cluster's infrastructure.yaml and an example
    # app waiting for it became cluster "examples" (no flux-system/ folder of its own)
    bootstrap(git_checkout, "clusters/home")
    git_checkout.write(
        "clusters/home/flux-system/kustomization.yaml",
        "resources: [gotk-sync.yaml, ../infrastructure.yaml]\n",
    )
    infra = flux_ks("infra", "./infrastructure", decryption="")
    git_checkout.write("clusters/home/infrastructure.yaml", infra)
    git_checkout.write("examples/infrastructure.yaml", infra)
    git_checkout.write(
        "examples/example-app.yaml", flux_ks("example", "./apps/example", ("infra",))
    )
    for folder in ("infrastructure", "apps/example"):
        git_checkout.write(f"{folder}/kustomization.yaml", "resources: [ns.yaml]\n")
        git_checkout.write(f"{folder}/ns.yaml", "kind: Namespace\n")
    g = graph(git_checkout)
    assert [c.name for c in g.clusters] == ["home"], g.clusters
    assert g.layers_of("apps/example/ns.yaml") == ()


def _catalog(repo: GitRepo) -> None:
    """sergelogvinov/gitops-examples: a cluster folder applied from outside the repository
    (its GitRepository is not defined here) lists the catalog entries it uses."""
    repo.write(
        "clusters/c0/bootstrap.yaml",
        flux_ks("cluster-bootstrap", "./clusters/c0", decryption="").replace(
            "name: flux-system\n", "name: gitops-clusters\n"
        ),
    )
    repo.write("clusters/c0/kustomization.yaml", "resources: [fluxcd.yaml, ../../apps/base/cm]\n")
    repo.write("clusters/c0/fluxcd.yaml", flux_ks("cluster", "./clusters/c0/vars"))
    repo.write("clusters/c0/vars/cm.yaml", "kind: ConfigMap\n")
    repo.write("apps/base/cm/kustomization.yaml", "resources: [fluxcd.yaml]\n")
    repo.write(
        "apps/base/cm/fluxcd.yaml", flux_ks("cert-manager", "./apps/base/cm/app", ("cluster",))
    )
    repo.write("apps/base/cm/app/ns.yaml", "kind: Namespace\n")


def test_a_catalog_module_nobody_lists_waiting_for_an_implicit_clusters_layers_is_no_root(
    git_checkout: GitRepo,
) -> None:
    # eighth sweep (sergelogvinov/gitops-examples): apps/*/*/fluxcd.yaml modules no cluster
    # lists, which dependsOn the cluster's `cluster` and `cert-manager`, were 31 clusters (or,
    # with no name clash among them, live layers of the one cluster: a false SM010)
    _catalog(git_checkout)
    git_checkout.write("apps/db/foo/kustomization.yaml", "resources: [fluxcd.yaml]\n")
    git_checkout.write(
        "apps/db/foo/fluxcd.yaml",
        flux_ks("foo", "./apps/db/foo/app", ("cluster", "cert-manager"), decryption=""),
    )
    git_checkout.write("apps/db/foo/app/s.sops.yaml", "kind: Secret\n")
    # another module, of a name another one has: the clash made each a cluster of its own
    for folder in ("bar", "bar2"):
        git_checkout.write(f"apps/db/{folder}/kustomization.yaml", "resources: [fluxcd.yaml]\n")
        git_checkout.write(
            f"apps/db/{folder}/fluxcd.yaml", flux_ks("bar", f"./apps/db/{folder}/app", ("cluster",))
        )
        git_checkout.write(f"apps/db/{folder}/app/cm.yaml", "kind: ConfigMap\n")
    g = graph(git_checkout)
    assert len(g.clusters) == 1, g.clusters
    assert sorted(x.name for x in g.layers) == ["cert-manager", "cluster", "cluster-bootstrap"]
    assert g.layers_of("apps/db/foo/app/s.sops.yaml") == ()


def test_a_catalog_module_listed_by_the_cluster_is_live(git_checkout: GitRepo) -> None:
    # the same module once the cluster lists it: live, and its missing decryption is seen
    _catalog(git_checkout)
    git_checkout.write(
        "clusters/c0/kustomization.yaml",
        "resources: [fluxcd.yaml, ../../apps/base/cm, ../../apps/db/foo]\n",
    )
    git_checkout.write("apps/db/foo/kustomization.yaml", "resources: [fluxcd.yaml]\n")
    git_checkout.write(
        "apps/db/foo/fluxcd.yaml",
        flux_ks("foo", "./apps/db/foo/app", ("cluster", "cert-manager"), decryption=""),
    )
    git_checkout.write("apps/db/foo/app/s.sops.yaml", "kind: Secret\n")
    g = graph(git_checkout)
    assert g.layers_of("apps/db/foo/app/s.sops.yaml") == ("foo",)
    assert not g.get("foo").decrypts_sops  # type: ignore[union-attr]


def test_a_manually_applied_root_waiting_for_its_own_siblings_is_a_root(
    git_checkout: GitRepo,
) -> None:
    # no bootstrap, no kustomization.yaml: infra and apps are both applied by hand, apps
    # waits for infra, which nothing else applies: both are roots (one cluster)
    git_checkout.write("clusters/prod/infra.yaml", flux_ks("infra", "./infra"))
    git_checkout.write("clusters/prod/apps.yaml", flux_ks("apps", "./apps", ("infra",)))
    git_checkout.write("infra/cm.yaml", "kind: ConfigMap\n")
    git_checkout.write("apps/s.sops.yaml", "kind: Secret\n")
    g = graph(git_checkout)
    assert sorted(x.name for x in g.layers) == ["apps", "infra"]
    assert g.layers_of("apps/s.sops.yaml") == ("apps",)


PATCH = """\
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {{name: app}}
spec:
  path: {path}
{decryption}"""
DECRYPT = "  decryption: {provider: sops, secretRef: {name: sops-age}}\n"


def _base(repo: GitRepo) -> None:
    """honya-bookstore/infrastructure: kubernetes/cluster/base is a kustomize base of Flux
    Kustomizations (no bootstrap in the repository) that cluster folders include and patch."""
    repo.write("cluster/base/kustomization.yaml", "resources: [app.ks.yaml]\n")
    repo.write("cluster/base/app.ks.yaml", flux_ks("app", "./app/base/", decryption=""))
    repo.write("app/base/kustomization.yaml", "resources: [s.sops.yaml]\n")
    repo.write("app/base/s.sops.yaml", "kind: Secret\n")


def _overlay(repo: GitRepo, name: str, decryption: str = DECRYPT) -> None:
    repo.write(
        f"cluster/{name}/kustomization.yaml",
        "resources: [../base/]\npatches:\n  - path: app.ks.patch.yaml\n",
    )
    repo.write(
        f"cluster/{name}/app.ks.patch.yaml",
        PATCH.format(path=f"app/{name}/", decryption=decryption),
    )
    repo.write(f"app/{name}/kustomization.yaml", "resources: [../base]\n")


def test_a_base_only_a_cluster_folder_includes_is_that_cluster_as_it_patches_it(
    git_checkout: GitRepo,
) -> None:
    # the cluster folder holds only ../base/ and a patch: it was not seen at all, and the base
    # was a cluster of its own whose app had no decryption (a false SM010)
    _base(git_checkout)
    _overlay(git_checkout, "prod")
    g = graph(git_checkout)
    assert len(g.clusters) == 1, g.clusters
    assert [(x.name, x.path, x.decrypts_sops) for x in g.layers] == [("app", "app/prod", True)]
    assert g.layers_of("app/base/s.sops.yaml") == ("app",)


def test_two_cluster_folders_sharing_a_base_are_two_clusters(git_checkout: GitRepo) -> None:
    # each builds the base's app with its own patch; one that adds no decryption is still
    # judged without it (SM010 stays on the file it applies)
    _base(git_checkout)
    _overlay(git_checkout, "prod")
    _overlay(git_checkout, "staging", decryption="")
    g = graph(git_checkout)
    assert sorted(c.name or "" for c in g.clusters) == ["prod", "staging"]
    assert sorted((x.cluster or "", x.path, x.decrypts_sops) for x in g.layers) == [
        ("prod", "app/prod", True),
        ("staging", "app/staging", False),
    ]
    assert sorted(c or "" for c in g.clusters_of("app/base/s.sops.yaml")) == ["prod", "staging"]


def test_a_base_nothing_includes_is_still_a_root(git_checkout: GitRepo) -> None:
    # applied by hand (kubectl apply -k cluster/base): its unpatched app is live
    _base(git_checkout)
    g = graph(git_checkout)
    assert [(x.name, x.path, x.decrypts_sops) for x in g.layers] == [("app", "app/base", False)]


def _oci(ks: str) -> str:
    return ks.replace(
        "    kind: GitRepository\n    name: flux-system\n",
        "    kind: OCIRepository\n    name: flux-system\n",
    )


def _shared_sync_folder(repo: GitRepo) -> None:
    """Ivanhahanov/ctf-school-ctfd: deploy/clusters/base holds the Kustomizations kind and cloud
    share through ``../base``; each cluster's flux-system (applied by make, not listed) syncs
    its folder from an OCIRepository."""
    repo.write("clusters/base/kustomization.yaml", "resources: [sync.yaml]\n")
    repo.write(
        "clusters/base/sync.yaml",
        _oci(flux_ks("infra", "./infra", decryption=""))
        + "---\n"
        + _oci(flux_ks("app", "./app", ("infra",), decryption="")),
    )
    repo.write("infra/kustomization.yaml", "resources: [s.enc.yaml]\n")
    repo.write("infra/s.enc.yaml", "kind: Secret\n")
    repo.write("app/kustomization.yaml", "resources: [s.enc.yaml]\n")
    repo.write("app/s.enc.yaml", "kind: Secret\n")
    for name in ("kind", "cloud"):
        repo.write(
            f"clusters/{name}/flux-system.yaml",
            "apiVersion: source.toolkit.fluxcd.io/v1\nkind: OCIRepository\n"
            "metadata: {name: flux-system, namespace: flux-system}\n"
            "spec: {url: 'oci://${REGISTRY}/deploy', ref: {tag: '${TAG}'}}\n---\n"
            + _oci(flux_ks("flux-system", f"./clusters/{name}", decryption="")),
        )
        repo.write(f"clusters/{name}/kustomization.yaml", "resources: [../base, secrets.yaml]\n")
        repo.write(
            f"clusters/{name}/secrets.yaml",
            _oci(flux_ks("secrets", f"./clusters/{name}/secrets", ("infra",))),
        )
        repo.write(f"clusters/{name}/secrets/kustomization.yaml", "resources: [s.enc.yaml]\n")
        repo.write(f"clusters/{name}/secrets/s.enc.yaml", "kind: Secret\n")


def test_a_folder_of_kustomizations_cluster_roots_include_is_no_cluster(
    git_checkout: GitRepo,
) -> None:
    # sweep 22: its Kustomizations, which nothing in the checkout applies as the OCIRepository
    # is not mapped, were taken as applied by hand from their own folder: a third cluster "base"
    _shared_sync_folder(git_checkout)
    # the oracle: each cluster's folder builds the shared Kustomizations (Flux applies them)
    for name in ("kind", "cloud"):
        names = _kustomize_names(git_checkout.path, f"clusters/{name}")
        assert sorted(names) == ["app", "infra", "secrets"]
    g = graph(git_checkout)
    assert sorted(c.name or "" for c in g.clusters) == ["cloud", "kind"]
    assert all(x.path != "clusters/base" for x in g.layers)
    assert g.layers_of("clusters/base/sync.yaml") == ()


def test_a_mapped_source_puts_a_shared_folder_under_each_cluster(git_checkout: GitRepo) -> None:
    _shared_sync_folder(git_checkout)
    g = find_layers(
        WorktreeSnapshot(git_checkout.path), sources={"OCIRepository/flux-system/flux-system": "."}
    )
    assert sorted(c.name or "" for c in g.clusters) == ["cloud", "kind"]
    assert sorted(c or "" for c in g.clusters_of("app/s.enc.yaml")) == ["cloud", "kind"]
    assert g.clusters_of("clusters/kind/secrets/s.enc.yaml") == ("kind",)


def test_layers_reading_one_outside_source_share_one_note(git_checkout: GitRepo) -> None:
    """PingCAP-QE/ee-ops (eighth sweep): 20 of its 26 opening notes named one GitRepository."""
    bootstrap(git_checkout, "clusters/home")
    git_checkout.write(
        "clusters/home/ci.yaml",
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\n"
        "metadata: {name: ci, namespace: flux-system}\n"
        "spec: {url: 'https://github.com/someone/ci'}\n---\n"
        + "---\n".join(
            flux_ks(name, f"./{name}").replace("    name: flux-system\n", "    name: ci\n", 1)
            for name in ("jobs", "tasks", "pipelines", "triggers", "steps", "configs", "hooks")
        ),
    )
    notes = [n for n in graph(git_checkout).notes if "not judged" in n]
    # another repository by its URL: nothing to map (sweep 77, pascaliske: ten upstream CRD
    # repositories, each with a note saying to map it)
    assert notes == [
        "7 layers read 1 other repository (ci): its files are not in this checkout, and not judged"
    ]
    # a URL that may be this checkout's keeps the note that says how to map it
    text = (git_checkout.path / "clusters/home/ci.yaml").read_text(encoding="utf-8")
    git_checkout.write("clusters/home/ci.yaml", text.replace("someone/ci", "someone/${REPO}"))
    notes = [n for n in graph(git_checkout).notes if "not judged" in n]
    assert notes == [
        "7 layers read GitRepository/flux-system/ci, a source outside this checkout (jobs, "
        "tasks, pipelines, triggers, steps and 2 more): their files are not judged (map it with "
        "sources: in .secretsmgr.yaml)"
    ]


def test_a_folder_a_flux_kustomization_applies_from_outside_is_no_base_applied_by_hand(
    git_checkout: GitRepo,
) -> None:
    """xunholy/k8s-gitops (regression check of the shared-base rule): the cluster overlay is
    the path of a Kustomization reading an OCI copy of the repository, whose spec.patches give
    every child decryption. Built as a folder applied by hand it lent its children no patch,
    and 59 layers showed no decryption."""
    bootstrap(git_checkout, "clusters/prod")
    git_checkout.write(
        "clusters/prod/kustomization.yaml", "resources: [flux-system, oci.yaml, apps.yaml]\n"
    )
    git_checkout.write(
        "clusters/prod/oci.yaml",
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: OCIRepository\n"
        "metadata: {name: manifests, namespace: flux-system}\n"
        "spec: {url: oci://ghcr.io/example/manifests, ref: {tag: latest}}\n",
    )
    git_checkout.write(
        "clusters/prod/apps.yaml",
        flux_ks("apps", "./apps/overlays/prod").replace(
            "    kind: GitRepository\n    name: flux-system\n",
            "    kind: OCIRepository\n    name: manifests\n",
        )
        + "  patches:\n    - patch: |-\n        apiVersion: kustomize.toolkit.fluxcd.io/v1\n"
        "        kind: Kustomization\n        metadata: {name: _}\n        spec:\n"
        "          decryption: {provider: sops, secretRef: {name: sops-age}}\n"
        "      target: {kind: Kustomization}\n",
    )
    git_checkout.write(
        "apps/overlays/prod/kustomization.yaml", "resources: [../../base/foo/ks.yaml]\n"
    )
    git_checkout.write(
        "apps/base/foo/ks.yaml",
        flux_ks("foo", "./apps/base/foo/app", decryption="").replace(
            "    kind: GitRepository\n    name: flux-system\n",
            "    kind: ExternalArtifact\n    name: foo\n",
        ),
    )
    git_checkout.write("apps/base/foo/app/kustomization.yaml", "resources: [secret.sops.yaml]\n")
    git_checkout.write("apps/base/foo/app/secret.sops.yaml", "kind: Secret\n")
    g = graph(git_checkout)
    assert g.get("foo") is None  # Flux applies it from the OCI copy: not judged here
    apps = g.get("apps")
    assert apps is not None and apps.external == "OCIRepository/flux-system/manifests"


def _kustomize_names(root: object, folder: str) -> list[str]:
    """The metadata.name of each object ``kubectl kustomize FOLDER`` outputs (the oracle)."""
    from pathlib import Path

    from secretsmgr.sops.yamlio import safe_load_all
    from tests.flux_corpus.test_kustomize_oracle import kustomize

    out = kustomize(Path(str(root)), folder)
    return [d["metadata"]["name"] for d in safe_load_all(out) if isinstance(d, dict)]


# crutonjohn/gitops: the sync builds a bootstrap Kustomization whose postBuild.substitute fills in
# the path of the Kustomizations it applies (``./clusters/apps/${CLUSTER_NAME}``)
_SUBSTITUTED_PARENT = {
    "clusters/env/prod/flux-system/gotk-sync.yaml": (
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\n"
        "metadata: {name: gitops-main, namespace: flux-system}\n"
        "spec: {url: 'ssh://git@github.com/example/gitops', ref: {branch: main}}\n---\n"
        + flux_ks("flux-system", "./clusters/env/prod", decryption="")
    ),
    "clusters/env/prod/flux-system/kustomization.yaml": "resources: [gotk-sync.yaml]\n",
    "clusters/env/prod/kustomization.yaml": "resources: [bootstrap.yaml]\n",
    "clusters/env/prod/bootstrap.yaml": flux_ks(
        "bootstrap", "./clusters/env/prod/bootstrap", decryption=""
    )
    + "  postBuild:\n    substitute: {CLUSTER_NAME: prod}\n",
    "clusters/env/prod/bootstrap/kustomization.yaml": "resources: [install.yaml]\n",
    "clusters/env/prod/bootstrap/install.yaml": flux_ks("apps", "./clusters/apps/${CLUSTER_NAME}"),
    "clusters/apps/prod/kustomization.yaml": "resources: [games]\n",
    "clusters/apps/prod/games/kustomization.yaml": "resources:\n  - a/ks.yaml\n  # - b/ks.yaml\n",
    "clusters/apps/prod/games/a/ks.yaml": flux_ks("a", "./clusters/apps/prod/games/a/app"),
    "clusters/apps/prod/games/a/app/s.enc.yaml": "kind: Secret\n",
    "clusters/apps/prod/games/b/ks.yaml": flux_ks("b", "./clusters/apps/prod/games/b/app"),
    "clusters/apps/prod/games/b/app/s.enc.yaml": "kind: Secret\n",
    "clusters/apps/prod/games/c/ks.yaml": flux_ks("c", "./clusters/apps/prod/games/c/app"),
    "clusters/apps/prod/games/c/app/s.enc.yaml": "kind: Secret\n",
}


def test_a_path_postbuild_fills_in_decides_what_its_parent_lists(git_checkout: GitRepo) -> None:
    for path, text in _SUBSTITUTED_PARENT.items():
        git_checkout.write(path, text)
    # the oracle: games lists only a (b is commented out, c is not listed)
    assert _kustomize_names(git_checkout.path, "clusters/apps/prod/games") == ["a"]
    g = graph(git_checkout)
    assert [c.name for c in g.clusters] == [None]  # one cluster, no `apps` beside it
    assert sorted(g.names()) == ["a", "apps", "bootstrap", "flux-system"]
    assert g.layers_of("clusters/apps/prod/games/a/app/s.enc.yaml") == ("a",)
    assert g.layers_of("clusters/apps/prod/games/b/app/s.enc.yaml") == ()
    assert g.layers_of("clusters/apps/prod/games/c/app/s.enc.yaml") == ()


def test_a_path_variable_nothing_here_defines_makes_no_cluster_of_its_children(
    git_checkout: GitRepo,
) -> None:
    # the value comes from outside (a substituteFrom ConfigMap not in the repository): which
    # folder it names is unknown, so nothing below the folders it may name is a root
    for path, text in _SUBSTITUTED_PARENT.items():
        git_checkout.write(path, text)
    git_checkout.write(
        "clusters/env/prod/bootstrap.yaml",
        flux_ks("bootstrap", "./clusters/env/prod/bootstrap", decryption="")
        + "  postBuild:\n    substituteFrom:\n    - {kind: ConfigMap, name: cluster-vars}\n",
    )
    g = graph(git_checkout)
    assert [c.name for c in g.clusters] == [None]
    assert sorted(g.names()) == ["apps", "bootstrap", "flux-system"]
    assert g.get("apps") is not None and g.get("apps").unresolved == ("CLUSTER_NAME",)  # type: ignore[union-attr]
    assert g.layers_of("clusters/apps/prod/games/a/app/s.enc.yaml") == ()
    assert any("CLUSTER_NAME" in n for n in g.notes)


def test_a_substituted_path_still_makes_an_unlisted_kustomization_live_elsewhere(
    git_checkout: GitRepo,
) -> None:
    # narrow: a Kustomization outside every folder the path may name stays a root of its own
    for path, text in _SUBSTITUTED_PARENT.items():
        git_checkout.write(path, text)
    git_checkout.write("other/ks.yaml", flux_ks("other", "./other/app"))
    git_checkout.write("other/app/s.enc.yaml", "kind: Secret\n")
    g = graph(git_checkout)
    assert g.layers_of("other/app/s.enc.yaml") == ("other",)
    assert g.layers_of("clusters/apps/prod/games/b/app/s.enc.yaml") == ()


@pytest.mark.parametrize("origin", [None, "/srv/mirrors/fleet.git"])
def test_without_a_hosted_origin_another_repositorys_source_is_not_this_checkout(
    git_checkout: GitRepo, origin: str | None
) -> None:
    # sweep 11 (ipni/storetheindex in a clone of a mirror): a GitRepository of another
    # repository with this one's folder layout became a root of this checkout, whose
    # Kustomization (no decryption: the app repository has no secrets) failed the gate with
    # SM010. The bootstrap source (its flux-system folder) names this repository.
    git_checkout.write(
        "clusters/prod/flux-system/gotk-sync.yaml",
        SYNC.format(path="clusters/prod", url="https://github.com/example/fleet.git")
        .replace("name: flux-system, namespace", "name: fleet, namespace", 1)
        .replace("name: flux-system}", "name: fleet}")
        .replace("  sourceRef:", "  decryption: {provider: sops}\n  sourceRef:"),
    )
    git_checkout.write(
        "clusters/prod/flux-system/kustomization.yaml", "resources: [gotk-sync.yaml]\n"
    )
    git_checkout.write(
        "clusters/prod/app-deploy/flux-cd.yaml",
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\n"
        "metadata: {name: app-deploy, namespace: flux-system}\n"
        "spec: {url: 'https://github.com/example/app-deploy.git'}\n---\n"
        + flux_ks("app-deploy", "./clusters/prod", decryption="").replace(
            "    name: flux-system\n", "    name: app-deploy\n", 1
        ),
    )
    git_checkout.write("clusters/prod/app-deploy/kustomization.yaml", "resources: [flux-cd.yaml]\n")
    git_checkout.write("clusters/prod/s.enc.yaml", "kind: Secret\n")
    if origin is not None:
        git_checkout.git("remote", "add", "origin", origin)
    g = graph(git_checkout)
    assert [c.name for c in g.clusters] == ["prod"]
    (own,) = [x for x in g.layers if x.name == "flux-system"]
    assert own.decrypts_sops
    assert g.layers_of("clusters/prod/s.enc.yaml") == ("flux-system",)


RENAMED_BOOTSTRAP = """\
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: home-infra, namespace: flux-system}
spec: {url: 'https://github.com/example/home-infra.git', ref: {branch: main}}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: cluster, namespace: flux-system}
spec:
  path: ./kubernetes/main/flux
  sourceRef: {kind: GitRepository, name: home-infra}
"""


def test_a_hand_written_bootstrap_of_a_renamed_repository_is_still_this_checkout(
    git_checkout: GitRepo,
) -> None:
    # Liana64/k8s-gitops (sweep 13), renamed to home-infra: with origin still on the old name
    # every layer was "external" (61 clusters, one per app folder) and a missing decryption
    # (SM010) passed check
    git_checkout.git("remote", "add", "origin", "https://github.com/example/k8s-gitops.git")
    git_checkout.write("kubernetes/main/flux/config/cluster.yaml", RENAMED_BOOTSTRAP)
    git_checkout.write(
        "kubernetes/main/flux/config/kustomization.yaml", "resources: [cluster.yaml]\n"
    )
    git_checkout.write(
        "kubernetes/main/flux/apps.yaml",
        flux_ks("apps", "./kubernetes/main/apps").replace("name: flux-system", "name: home-infra"),
    )
    git_checkout.write("kubernetes/main/apps/s.sops.yaml", "kind: Secret\n")
    g = graph(git_checkout)
    assert [c.name for c in g.clusters] == ["main"]
    assert g.layers_of("kubernetes/main/apps/s.sops.yaml") == ("apps",)
    assert all(x.external is None for x in g.layers)


def test_another_repositorys_kustomization_path_takes_no_root_away(git_checkout: GitRepo) -> None:
    # the review of sweep 22: a Kustomization of github.com/example/shop with path ./prod made
    # clusters/prod a folder Flux applies, so the base it includes was no root any more, its
    # layer went, and the gate passed a file on the wrong key
    git_checkout.git("remote", "add", "origin", "https://github.com/example/ops.git")
    git_checkout.write(
        "clusters/base/source.yaml",
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\n"
        "metadata: {name: home, namespace: flux-system}\n"
        "spec: {url: 'https://github.com/example/ops', ref: {branch: main}}\n",
    )
    git_checkout.write(
        "clusters/base/apps.yaml",
        flux_ks("apps", "./apps").replace("name: flux-system", "name: home"),
    )
    git_checkout.write("clusters/base/kustomization.yaml", "resources: [source.yaml, apps.yaml]\n")
    git_checkout.write("clusters/prod/kustomization.yaml", "resources: [../base]\n")
    git_checkout.write("apps/kustomization.yaml", "resources: [db.enc.yaml]\n")
    git_checkout.write("apps/db.enc.yaml", "kind: Secret\n")
    assert [x.name for x in graph(git_checkout).layers] == ["apps"]
    git_checkout.write(
        "apps/shop.yaml",
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\n"
        "metadata: {name: shop, namespace: flux-system}\n"
        "spec: {url: 'https://github.com/example/shop', ref: {branch: main}}\n---\n"
        + flux_ks("shop", "./prod", decryption="").replace("name: flux-system", "name: shop"),
    )
    git_checkout.write("apps/kustomization.yaml", "resources: [db.enc.yaml, shop.yaml]\n")
    g = graph(git_checkout)
    assert g.layers_of("apps/db.enc.yaml") == ("apps",)


def test_a_vendor_artifacts_path_tail_takes_no_root_away(git_checkout: GitRepo) -> None:
    # the second review: a vendor OCIRepository's Kustomization with path ./prod, listed in
    # clusters/prod, made that folder one Flux applies by its tail; the base's layer went
    git_checkout.git("remote", "add", "origin", "https://github.com/example/ops.git")
    git_checkout.write(
        "clusters/base/apps.yaml",
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\n"
        "metadata: {name: flux-system, namespace: flux-system}\n"
        "spec: {url: 'https://github.com/example/ops', ref: {branch: main}}\n---\n"
        + flux_ks("apps", "./apps"),
    )
    git_checkout.write("clusters/base/kustomization.yaml", "resources: [apps.yaml]\n")
    git_checkout.write(
        "clusters/prod/vendor.yaml",
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: OCIRepository\n"
        "metadata: {name: vendor, namespace: flux-system}\n"
        "spec: {url: 'oci://ghcr.io/vendor/manifests', ref: {tag: v1}}\n---\n"
        + _oci(flux_ks("vendor", "./prod", decryption="")).replace(
            "name: flux-system", "name: vendor"
        ),
    )
    git_checkout.write("clusters/prod/kustomization.yaml", "resources: [../base, vendor.yaml]\n")
    git_checkout.write("apps/kustomization.yaml", "resources: [db.enc.yaml]\n")
    git_checkout.write("apps/db.enc.yaml", "kind: Secret\n")
    assert graph(git_checkout).layers_of("apps/db.enc.yaml") == ("apps",)


_GENERATOR = """apiVersion: source.extensions.fluxcd.io/v1beta1
kind: ArtifactGenerator
metadata: {name: flux-system, namespace: flux-system}
spec:
  sources:
    - {alias: monorepo, kind: GitRepository, name: flux-system}
    - {alias: other, kind: GitRepository, name: vendor}
  artifacts:
    - name: infrastructure
      copy:
        - {from: "@monorepo/infrastructure/**", to: "@artifact/"}
    - name: apps
      copy:
        - {from: "@monorepo/apps/base/**", to: "@artifact/base/"}
        - {from: "@monorepo/apps/production/**", to: "@artifact/production/"}
    - name: vendored
      copy:
        - {from: "@other/charts/**", to: "@artifact/"}
"""


def _reads_artifact(name: str, path: str, artifact: str) -> str:
    """A Flux Kustomization whose source is the ExternalArtifact ``artifact``."""
    return flux_ks(name, path).replace(
        "kind: GitRepository\n    name: flux-system",
        f"kind: ExternalArtifact\n    name: {artifact}",
    )


def test_an_artifact_generator_copying_a_folder_of_this_checkout_maps_its_layers(
    git_checkout: GitRepo,
) -> None:
    """sweep 48, FelixDobler/kubernetes (Flux 2.7): every layer read an ExternalArtifact an
    ArtifactGenerator made from the repository's own GitRepository, and none was mapped; the
    SOPS files were in no layer. A copy of another repository's folder stays outside."""
    bootstrap(git_checkout, "clusters/prod")
    git_checkout.write("clusters/prod/artifacts.yaml", _GENERATOR)
    for name, path, artifact in (
        ("infra", "./controllers", "infrastructure"),
        ("apps", "./production/web", "apps"),
        ("vendored", "./", "vendored"),
    ):
        git_checkout.write(f"clusters/prod/{name}.yaml", _reads_artifact(name, path, artifact))
    git_checkout.write(
        "infrastructure/controllers/kustomization.yaml", "resources: [s.sops.yaml]\n"
    )
    git_checkout.write("infrastructure/controllers/s.sops.yaml", "kind: Secret\n")
    git_checkout.write("apps/production/web/kustomization.yaml", "resources: [../../base/web]\n")
    git_checkout.write("apps/base/web/kustomization.yaml", "resources: [db.sops.yaml]\n")
    git_checkout.write("apps/base/web/db.sops.yaml", "kind: Secret\n")
    g = graph(git_checkout)
    infra, apps, vendored = g.get("infra"), g.get("apps"), g.get("vendored")
    assert infra is not None and "infrastructure/controllers/s.sops.yaml" in infra.files
    assert apps is not None and "apps/base/web/db.sops.yaml" in apps.files
    assert vendored is not None and vendored.external == "ExternalArtifact/flux-system/vendored"


def test_an_artifact_generator_maps_only_when_this_cluster_applies_it_whole(
    git_checkout: GitRepo,
) -> None:
    """The attack review: a leftover generator of the same name that no layer applies, or
    another cluster's, mapped the wrong folder (an SM010 error became an info), and a copy
    with `exclude` took the files it leaves out."""
    bootstrap(git_checkout, "clusters/prod")
    generator = _GENERATOR.split("    - name: apps\n")[0]  # infrastructure only
    git_checkout.write("clusters/prod/artifacts.yaml", generator)
    git_checkout.write(
        "archive/old.yaml",
        generator.replace("@monorepo/infrastructure/**", "@monorepo/archive/demo/**"),
    )  # applied by no layer, and sorted first
    text = _reads_artifact("infra", "./controllers", "infrastructure")
    git_checkout.write("clusters/prod/infra.yaml", text)
    git_checkout.write(
        "infrastructure/controllers/kustomization.yaml", "resources: [s.sops.yaml]\n"
    )
    git_checkout.write("infrastructure/controllers/s.sops.yaml", "kind: Secret\n")
    git_checkout.write("archive/demo/controllers/kustomization.yaml", "resources: []\n")
    infra = graph(git_checkout).get("infra")
    assert infra is not None and "infrastructure/controllers/s.sops.yaml" in infra.files
    excluding = generator.replace(
        'to: "@artifact/"}', 'to: "@artifact/", exclude: ["controllers/**"]}'
    )
    git_checkout.write("clusters/prod/artifacts.yaml", excluding)
    infra = graph(git_checkout).get("infra")
    assert infra is not None and infra.external == "ExternalArtifact/flux-system/infrastructure"


def test_an_artifact_generator_a_later_layer_applies_is_seen(git_checkout: GitRepo) -> None:
    """The fifth attack review: the layer reading the artifact was walked before the layer
    applying its generator, and stayed external (its SOPS file in no layer)."""
    bootstrap(git_checkout, "clusters/prod")
    generator = _GENERATOR.split("    - name: apps\n")[0]
    git_checkout.write("infra/generators/gen.yaml", generator)
    git_checkout.write("infra/generators/kustomization.yaml", "resources: [gen.yaml]\n")
    git_checkout.write("clusters/prod/z-gens.yaml", flux_ks("gens", "./infra/generators"))
    text = _reads_artifact("a-infra", "./controllers", "infrastructure")
    git_checkout.write("clusters/prod/a-infra.yaml", text)
    git_checkout.write(
        "infrastructure/controllers/kustomization.yaml", "resources: [s.sops.yaml]\n"
    )
    git_checkout.write("infrastructure/controllers/s.sops.yaml", "kind: Secret\n")
    infra = graph(git_checkout).get("a-infra")
    assert infra is not None and "infrastructure/controllers/s.sops.yaml" in infra.files, infra


_STAGING_SOURCE = """\
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {{name: staging, namespace: flux-system}}
spec: {{url: 'ssh://git@github.com/example/ops', ref: {{{ref}}}}}
"""


@pytest.mark.parametrize(
    ("ref", "said"),
    [
        ("branch: staging", "branch staging"),
        ("tag: v1.2.0", "tag v1.2.0"),
        ("commit: 0a1b2c3d", "commit 0a1b2c3d"),
        ("branch: main", None),  # the same branch as the cluster's own source: no note
        ("name: refs/heads/main", None),  # the same branch, by its full name (the review)
        ("name: refs/heads/staging", "branch staging"),
        ("name: refs/pull/7/head", "ref refs/pull/7/head"),
    ],
)
def test_a_layer_reading_this_repository_at_another_branch_is_noted(
    git_checkout: GitRepo, ref: str, said: str | None
) -> None:
    """joshrnoll/homelab-as-code (sweep 66): a GitRepository with the repository's own URL
    and ``branch: staging`` fed a layer whose files on that branch (a SOPS file more) were
    judged as this checkout of main holds them, and nothing said so."""
    bootstrap(git_checkout, "clusters/talos")
    git_checkout.write("clusters/talos/staging-source.yaml", _STAGING_SOURCE.format(ref=ref))
    git_checkout.write(
        "clusters/talos/apps-staging.yaml",
        flux_ks("apps-staging", "./apps/staging").replace(
            "    name: flux-system\n", "    name: staging\n"
        ),
    )
    git_checkout.write("apps/staging/kustomization.yaml", "resources: [s.enc.yaml]\n")
    git_checkout.write("apps/staging/s.enc.yaml", "kind: Secret\n")
    g = graph(git_checkout)
    assert g.layers_of("apps/staging/s.enc.yaml") == ("apps-staging",)  # still mapped here
    noted = [n for n in g.notes if "reads GitRepository/flux-system/staging" in n]
    if said is None:
        assert not noted, g.notes
    else:
        assert noted == [
            "layer apps-staging of cluster talos reads GitRepository/flux-system/staging, "
            f"which follows {said} of this repository while the cluster's own source follows "
            "branch main: its files are judged as this checkout holds them; audit a checkout "
            f"of {said} too"
        ]


def test_a_kustomization_a_live_layer_depends_on_is_applied_in_its_cluster(
    git_checkout: GitRepo,
) -> None:
    """dramirez-qb/k3d-cluster (sweep 69): a Taskfile applied `cluster-common`, whose
    `common-apps` depends on Flux's own Kustomization; no walk reached it (an optional module,
    by the rule for roots), and its SOPS files were "not deployed by Flux" although the
    cluster's apps depend on it, which Flux holds back until it is Ready there."""
    bootstrap(git_checkout, "clusters/home")
    git_checkout.write(
        "clusters/home/apps.yaml", flux_ks("home-apps", "./home/apps", ("common-apps",))
    )
    git_checkout.write("home/apps/kustomization.yaml", "resources: [h.enc.yaml]\n")
    git_checkout.write("home/apps/h.enc.yaml", "kind: Secret\n")
    git_checkout.write("common/kustomization.yaml", "resources: [apps.yaml]\n")
    git_checkout.write(
        "common/apps.yaml", flux_ks("common-apps", "./common/apps", ("flux-system",))
    )
    git_checkout.write("common/apps/kustomization.yaml", "resources: [c.enc.yaml]\n")
    git_checkout.write("common/apps/c.enc.yaml", "kind: Secret\n")
    g = graph(git_checkout)
    assert g.layers_of("common/apps/c.enc.yaml") == ("common-apps",)
    assert g.clusters_of("common/apps/c.enc.yaml") == ("home",)
    assert not g.unknown_dependencies
    # a dependency nothing here defines stays unknown, and nothing more is mapped
    git_checkout.write(
        "clusters/home/apps.yaml", flux_ks("home-apps", "./home/apps", ("elsewhere",))
    )
    g = graph(git_checkout)
    assert g.layers_of("common/apps/c.enc.yaml") == ()
    assert ("home-apps", "elsewhere") in g.unknown_dependencies


def test_a_dependency_switched_off_in_its_parent_is_no_layer_and_is_named(
    git_checkout: GitRepo,
) -> None:
    """brettinternet/homeops (sweep 93): `# - ./cloudnative-pg/ks.yaml` in the database
    folder's kustomization, and live layers depending on it; taken for a root applied by hand,
    it was a layer with no decryption: an SM010 error on an untouched repository, whose fix
    changed nothing Flux applies. Nothing applies it: the dependent waits, and a note says so."""
    bootstrap(git_checkout, "clusters/home")
    git_checkout.write("clusters/home/apps.yaml", flux_ks("apps", "./apps"))
    git_checkout.write(
        "apps/kustomization.yaml", "resources:\n  - ./auth/ks.yaml\n  # - ./db/ks.yaml\n"
    )
    git_checkout.write("apps/auth/ks.yaml", flux_ks("auth", "./apps/auth/app", ("db",)))
    git_checkout.write("apps/auth/app/kustomization.yaml", "resources: [a.enc.yaml]\n")
    git_checkout.write("apps/auth/app/a.enc.yaml", "kind: Secret\n")
    git_checkout.write("apps/db/ks.yaml", flux_ks("db", "./apps/db/app", decryption=""))
    git_checkout.write("apps/db/app/kustomization.yaml", "resources: [d.enc.yaml]\n")
    git_checkout.write("apps/db/app/d.enc.yaml", "kind: Secret\n")
    g = graph(git_checkout)
    assert g.layers_of("apps/db/app/d.enc.yaml") == ()
    assert "db" not in g.names()
    assert any(
        n.startswith(
            "layer home/auth depends on db, which nothing applies (the entry of "
            "apps/db/ks.yaml is commented out)"
        )
        for n in g.notes
    ), g.notes
    # listed again, it is a layer as before
    git_checkout.write(
        "apps/kustomization.yaml", "resources:\n  - ./auth/ks.yaml\n  - ./db/ks.yaml\n"
    )
    assert graph(git_checkout).layers_of("apps/db/app/d.enc.yaml") == ("db",)


def _cluster_settings(cluster: str) -> str:
    """A cluster's own cluster-settings ConfigMap, its CLUSTER_NAME its name."""
    return (
        "apiVersion: v1\nkind: ConfigMap\n"
        "metadata: {name: cluster-settings, namespace: flux-system}\n"
        f"data: {{CLUSTER_NAME: {cluster}}}\n"
    )


def test_each_cluster_fills_in_a_shared_path_with_its_own_settings(git_checkout: GitRepo) -> None:
    # sweep 75, angelnu/k8s-gitops: prod and test both apply ./apps; a Kustomization there has
    # `path: ./apps/vpn/secret/${CLUSTER_NAME}`, filled in from each cluster's own
    # cluster-settings ConfigMap; the test cluster's was read as prod's (the first by path)
    repo = git_checkout
    for cluster in ("prod", "test"):
        bootstrap(repo, f"clusters/{cluster}")
        repo.write(
            f"clusters/{cluster}/kustomization.yaml",
            "resources: [flux-system, apps.yaml, vars]\n",
        )
        repo.write(
            f"clusters/{cluster}/apps.yaml",
            flux_ks("cluster-apps", "./apps")
            + "  postBuild:\n    substituteFrom:\n"
            + "      - {kind: ConfigMap, name: cluster-settings}\n",
        )
        repo.write(f"clusters/{cluster}/vars/kustomization.yaml", "resources: [settings.yaml]\n")
        repo.write(f"clusters/{cluster}/vars/settings.yaml", _cluster_settings(cluster))
        repo.write(f"apps/vpn/secret/{cluster}/kustomization.yaml", "resources: [s.enc.yaml]\n")
        repo.write(f"apps/vpn/secret/{cluster}/s.enc.yaml", "kind: Secret\n")
    repo.write("apps/kustomization.yaml", "resources: [vpn/secret/ks.yaml]\n")
    repo.write(
        "apps/vpn/secret/ks.yaml", flux_ks("vpn-secret", "./apps/vpn/secret/${CLUSTER_NAME}")
    )
    g = graph(repo)
    assert sorted(str(c.name) for c in g.clusters) == ["prod", "test"]
    for cluster in ("prod", "test"):
        (placed,) = g.placements(f"apps/vpn/secret/{cluster}/s.enc.yaml")
        assert (placed.cluster, placed.name) == (cluster, "vpn-secret")


def test_a_substituting_kustomization_both_clusters_share_reads_each_clusters_settings(
    git_checkout: GitRepo,
) -> None:
    # the attack review: the Kustomization that substitutes sits in base/flux/apps.yaml, which
    # both clusters include; of the two cluster-settings, the nearest to that shared file tied,
    # and test's `./apps/${CLUSTER_NAME}` was prod's (its files "not in any layer")
    repo = git_checkout
    for cluster in ("prod", "test"):
        bootstrap(repo, f"clusters/{cluster}")
        repo.write(
            f"clusters/{cluster}/kustomization.yaml",
            "resources: [flux-system, settings.yaml, ../../base/flux]\n",
        )
        repo.write(f"clusters/{cluster}/settings.yaml", _cluster_settings(cluster))
        repo.write(f"apps/{cluster}/kustomization.yaml", "resources: [s.enc.yaml]\n")
        repo.write(f"apps/{cluster}/s.enc.yaml", "kind: Secret\n")
    repo.write("base/flux/kustomization.yaml", "resources: [apps.yaml]\n")
    repo.write(
        "base/flux/apps.yaml",
        flux_ks("apps", "./base/apps", decryption="")
        + "  postBuild:\n    substituteFrom:\n      - {kind: ConfigMap, name: cluster-settings}\n",
    )
    repo.write("base/apps/kustomization.yaml", "resources: [cluster-apps.yaml]\n")
    repo.write("base/apps/cluster-apps.yaml", flux_ks("cluster-apps", "./apps/${CLUSTER_NAME}"))
    g = graph(repo)
    for cluster in ("prod", "test"):
        (placed,) = g.placements(f"apps/{cluster}/s.enc.yaml")
        assert (placed.cluster, placed.name) == (cluster, "cluster-apps")


def test_the_controllers_flag_counts_for_the_cluster_that_applies_it(
    git_checkout: GitRepo,
) -> None:
    # the attack review of stop 44: one cluster's --sops-age-secret patch, or an example file
    # nothing applies, made every cluster's SM010 fix a decryption with no secretRef
    patch = (
        "patches:\n  - patch: |-\n      - op: add\n"
        "        path: /spec/template/spec/containers/0/args/-\n"
        "        value: --sops-age-secret=sops-age-home\n"
        "    target: {kind: Deployment, name: kustomize-controller}\n"
    )
    for name in ("home", "lab"):
        bootstrap(git_checkout, f"clusters/{name}")
    kfile = "clusters/home/flux-system/kustomization.yaml"
    git_checkout.write(kfile, "resources: [gotk-sync.yaml]\n" + patch)
    git_checkout.write(
        "examples/kustomization.yaml", "resources: []\n" + patch.replace("home", "x")
    )
    g = graph(git_checkout)
    assert g.controller_age_secrets == ("sops-age-home",)
    assert g.controller_age_secrets_of("home") == ("sops-age-home",)
    assert g.controller_age_secrets_of("lab") == ()


@pytest.mark.parametrize("origin", [None, "/srv/mirrors/home-cluster-flux.git"])
def test_without_a_hosted_origin_a_source_of_another_repository_is_no_cluster(
    git_checkout: GitRepo, origin: str | None
) -> None:
    # sweep 80 (USA-RedDragon/home-cluster-flux, cloned from a local mirror): the bootstrap
    # source flux-system is not in git, and a `secrets` GitRepository of another repository,
    # with its Kustomization of path ./ in the same file, became a cluster of this checkout
    # (more Kustomizations read flux-system than any source git defines: it is this checkout's)
    if origin is not None:
        git_checkout.git("remote", "add", "origin", origin)
    git_checkout.write("clusters/home/flux-system/apps.yaml", flux_ks("apps", "./apps"))
    git_checkout.write("clusters/home/flux-system/infra.yaml", flux_ks("infra", "./infra"))
    git_checkout.write(
        "clusters/home/flux-system/secrets.yaml",
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\n"
        "metadata: {name: secrets, namespace: flux-system}\n"
        "spec: {url: 'ssh://git@github.com/example/home-cluster-secrets.git'}\n---\n"
        + flux_ks("secrets", "./").replace("    name: flux-system\n", "    name: secrets\n", 1),
    )
    git_checkout.write(
        "clusters/home/flux-system/kustomization.yaml",
        "resources: [apps.yaml, infra.yaml, secrets.yaml]\n",
    )
    git_checkout.write("apps/kustomization.yaml", "resources: [s.enc.yaml]\n")
    git_checkout.write("apps/s.enc.yaml", "kind: Secret\n")
    g = graph(git_checkout)
    assert [c.name for c in g.clusters] == [None]  # one cluster, and no `secrets` one
    secrets = g.get("secrets")
    assert secrets is not None and secrets.external == "GitRepository/flux-system/secrets"
    assert g.layers_of("apps/s.enc.yaml") == ("apps",)


def test_without_a_hosted_origin_a_second_clusters_own_source_is_still_this_checkout(
    git_checkout: GitRepo,
) -> None:
    # the attack review: prod reads the flux-system source bootstrap made in the cluster;
    # staging's root reads a source of this repository's staging branch, defined beside it.
    # Taken for another repository, staging's layer without decryption passed the gate
    git_checkout.write("clusters/prod/flux-system/apps.yaml", flux_ks("apps", "./apps"))
    git_checkout.write("clusters/prod/flux-system/infra.yaml", flux_ks("infra", "./infra"))
    git_checkout.write("clusters/prod/flux-system/dbs.yaml", flux_ks("dbs", "./dbs"))
    git_checkout.write(
        "clusters/staging/sync.yaml",
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\n"
        "metadata: {name: fleet-staging, namespace: flux-system}\n"
        "spec: {url: 'ssh://git@github.com/example/fleet', ref: {branch: staging}}\n---\n"
        + flux_ks("staging", "./clusters/staging").replace(
            "    name: flux-system\n", "    name: fleet-staging\n", 1
        ),
    )
    git_checkout.write(
        "clusters/staging/apps.yaml",
        flux_ks("apps-staging", "./apps-staging", decryption="").replace(
            "    name: flux-system\n", "    name: fleet-staging\n", 1
        ),
    )
    git_checkout.write("apps-staging/db.enc.yaml", "kind: Secret\n")
    g = graph(git_checkout)
    layer = g.get("apps-staging")
    assert layer is not None and layer.external is None
    assert "apps-staging/db.enc.yaml" in layer.files


def test_a_configured_root_takes_the_kustomization_its_own_build_patches_in(
    git_checkout: GitRepo,
) -> None:
    # sweep 93, hmcts/sds-flux-config: AKS's Flux extension applies clusters/ENV/NN; the build
    # of each holds the flux-system Kustomization that applies it, from a base its patch gives
    # decryption and the postBuild substitute the layers' paths name. Named under clusters:,
    # each root was a Kustomization of no decryption and no substitute: SM010 on its file, and
    # every layer "spec.path uses ${ENVIRONMENT}, not known here" (73 files SM012)
    git_checkout.write(
        "apps/flux-system/base/flux.yaml",
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\n"
        "metadata: {name: flux-config, namespace: flux-system}\n"
        "spec: {url: 'https://github.com/example/flux-config', ref: {branch: main}}\n"
        "---\n"
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n"
        "metadata: {name: flux-system, namespace: flux-system}\n"
        "spec:\n  path: ./clusters/placeholder\n"
        "  sourceRef: {kind: GitRepository, name: flux-config}\n",
    )
    git_checkout.write(
        "apps/flux-system/base/kustomization.yaml", "resources: [flux.yaml, secret.enc.yaml]\n"
    )
    secret = "apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: flux-system}\n"
    git_checkout.write("apps/flux-system/base/secret.enc.yaml", secret)
    app = flux_ks("web", "./apps/web/${ENVIRONMENT}").replace(
        "name: flux-system", "name: flux-config"
    )
    git_checkout.write("apps/web/base/ks.yaml", app)
    git_checkout.write("apps/web/dev/kustomization.yaml", "resources: [secret.enc.yaml]\n")
    git_checkout.write("apps/web/dev/secret.enc.yaml", secret.replace("flux-system}", "web}"))
    git_checkout.write(
        "clusters/base/kustomization.yaml",
        "resources:\n  - ../../apps/flux-system/base\n  - ../../apps/web/base/ks.yaml\n",
    )
    for env in ("dev", "test"):
        git_checkout.write(
            f"clusters/{env}/01/kustomization.yaml",
            "resources: [../../base]\npatches:\n  - path: flux-system.yaml\n",
        )
        git_checkout.write(
            f"clusters/{env}/01/flux-system.yaml",
            "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n"
            "metadata: {name: flux-system, namespace: flux-system}\n"
            f"spec:\n  path: ./clusters/{env}/01\n  decryption: {{provider: sops}}\n"
            f"  postBuild:\n    substitute: {{ENVIRONMENT: {env}}}\n",
        )
    # the oracle: kustomize renders the root's own Kustomization, decryption and all
    from tests.flux_corpus.test_kustomize_oracle import kustomize

    built = kustomize(
        git_checkout.path, "clusters/dev/01", "--load-restrictor", "LoadRestrictionsNone"
    )
    own = next(d for d in safe_load_all(built) if d and d["metadata"]["name"] == "flux-system")
    assert own["spec"]["path"] == "./clusters/dev/01" and own["spec"]["decryption"]
    specs = tuple(ClusterSpec(f"{e}-01", f"clusters/{e}/01") for e in ("dev", "test"))
    g = graph(git_checkout, specs)
    roots = [x for x in g.layers if x.name == "flux-system"]
    assert [(x.cluster, x.decrypts_sops) for x in roots] == [("dev-01", True), ("test-01", True)]
    placed = g.placements("apps/web/dev/secret.enc.yaml")
    assert [(x.cluster, x.name, x.decrypts_sops) for x in placed] == [("dev-01", "web", True)]
    assert g.layers_of("apps/flux-system/base/secret.enc.yaml") == ("flux-system",)


def test_every_flux_object_that_reads_credentials_names_its_secret(git_checkout: GitRepo) -> None:
    # the attack review of stop 49: only sources' secretRefs were known, so a HelmRepository's
    # login Secret, which the layers also decrypted with, could be replaced whole
    bootstrap(git_checkout, "clusters/prod")
    objects = [
        ("source.toolkit.fluxcd.io/v1", "HelmRepository", "charts", "creds"),
        ("image.toolkit.fluxcd.io/v1beta2", "ImageRepository", "app", "regcred"),
        ("notification.toolkit.fluxcd.io/v1beta3", "Provider", "slack", "slack-url"),
        ("notification.toolkit.fluxcd.io/v1", "Receiver", "github", "webhook-token"),
    ]
    docs = "---\n".join(
        f"apiVersion: {api}\nkind: {kind}\nmetadata: {{name: {name}, namespace: flux-system}}\n"
        f"spec:\n  secretRef: {{name: {secret}}}\n"
        for api, kind, name, secret in objects
    )
    # a HelmRelease's kubeConfig secretRef, a ConfigMap: no credentials of a source
    docs += (
        "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: flux-system}\n"
        "data: {secretRef: nope}\n"
    )
    git_checkout.write("clusters/prod/sources.yaml", docs)
    # the second attack review of stop 49: in the namespace the build gives it (a
    # kustomization's namespace:), and only what a live layer applies
    git_checkout.write("clusters/prod/apps.yaml", flux_ks("apps", "./apps"))
    git_checkout.write("apps/kustomization.yaml", "namespace: apps\nresources: [repo.yaml]\n")
    git_checkout.write(
        "apps/repo.yaml",
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository\n"
        "metadata: {name: private-charts}\nspec:\n  secretRef: {name: regcred}\n",
    )
    git_checkout.write(
        "unused/repo.yaml",
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository\n"
        "metadata: {name: old, namespace: flux-system}\nspec:\n  secretRef: {name: stale}\n",
    )
    g = graph(git_checkout)
    assert dict(g.source_secrets) == {
        "flux-system/creds": ("HelmRepository charts",),
        "flux-system/regcred": ("ImageRepository app",),
        "flux-system/slack-url": ("Provider slack",),
        "flux-system/webhook-token": ("Receiver github",),
        "apps/regcred": ("HelmRepository private-charts",),
    }


def _gitrepo(name: str, url: str, ref: str = "{branch: main}") -> str:
    return (
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\n"
        f"metadata: {{name: {name}, namespace: flux-system}}\n"
        f"spec: {{interval: 1m, url: {url}, ref: {ref}}}\n"
    )


@pytest.mark.parametrize("origin", [None, "git@github.com:acme/fleet.git"])
def test_two_clusters_reading_sources_of_one_name_stay_two(
    git_checkout: GitRepo, origin: str | None
) -> None:
    # the review of stop 51: cluster b's GitRepository flux-system, applied at its bootstrap
    # from outside every layer, was taken for cluster a's, and b was folded into a
    url = "ssh://git@github.com/acme/fleet"
    bootstrap(git_checkout, "clusters/a", url)
    git_checkout.write(
        "clusters/b/flux-system/gotk-sync.yaml", flux_ks("flux-system", "./clusters/b")
    )
    git_checkout.write("clusters/b/flux-system/kustomization.yaml", "resources: [gotk-sync.yaml]\n")
    git_checkout.write("bootstrap/b-source.yaml", _gitrepo("flux-system", url))
    for c in ("a", "b"):
        git_checkout.write(f"clusters/{c}/apps.yaml", flux_ks("apps", f"./apps/{c}"))
        git_checkout.write(f"apps/{c}/kustomization.yaml", "resources: [cm.yaml]\n")
        git_checkout.write(f"apps/{c}/cm.yaml", f"kind: ConfigMap\nmetadata: {{name: {c}}}\n")
    if origin is not None:
        git_checkout.git("remote", "add", "origin", origin)
    g = graph(git_checkout)
    assert sorted(c.name for c in g.clusters) == ["a", "b"]
    apps = {layer.cluster: layer.files for layer in g.layers if layer.name == "apps"}
    assert "apps/a/cm.yaml" in apps["a"] and "apps/b/cm.yaml" in apps["b"]


def test_another_repositorys_kustomization_copied_here_stays_external_without_origin(
    git_checkout: GitRepo,
) -> None:
    # the review of stop 51: vendor/platform's Kustomization, also copied into ./infra of this
    # checkout (whose bootstrap names acme/fleet), applies its own file there; with no origin
    # it was taken for a root of this checkout and the vendor's files judged as its own
    bootstrap(git_checkout, "clusters/prod", "ssh://git@github.com/acme/fleet")
    platform = flux_ks("platform", "./infra").replace(
        "name: flux-system\n  decryption", "name: platform\n  decryption"
    )
    git_checkout.write(
        "clusters/prod/platform.yaml",
        _gitrepo("platform", "https://github.com/vendor/platform", "{tag: v1.0.0}")
        + "---\n"
        + platform,
    )
    git_checkout.write("infra/platform.yaml", platform)
    git_checkout.write("infra/cm.yaml", "kind: ConfigMap\nmetadata: {name: p}\n")
    g = graph(git_checkout)
    layers = [layer for layer in g.layers if layer.name == "platform"]
    assert [layer.external for layer in layers] == ["GitRepository/flux-system/platform"]


@pytest.mark.parametrize("origin", [None, "https://github.com/acme/fleet.git"])
def test_a_kustomization_applied_by_hand_reads_this_checkout_without_origin_too(
    git_checkout: GitRepo, origin: str | None
) -> None:
    # sweep 96 (iT3E/tnwks-ops): cluster ms-01, not bootstrapped yet, has Kustomizations over
    # the GitRepository flux-system that cluster wsl's gotk-sync defines for this repository;
    # without origin every one of them was "a source outside this checkout"
    bootstrap(git_checkout, "clusters/wsl", "ssh://git@github.com/acme/fleet")
    # the cluster's folder leaves its flux-system folder out (iT3E's): the bootstrap
    # Kustomization does not apply itself, and is a root applied by hand too
    git_checkout.write("clusters/wsl/kustomization.yaml", "resources: [cm.yaml]\n")
    git_checkout.write("clusters/wsl/cm.yaml", "kind: ConfigMap\nmetadata: {name: w}\n")
    git_checkout.write("clusters/ms-01/kustomization.yaml", "resources: [apps.yaml]\n")
    git_checkout.write("clusters/ms-01/apps.yaml", flux_ks("apps", "./clusters/ms-01/apps"))
    git_checkout.write("clusters/ms-01/apps/kustomization.yaml", "resources: [cm.yaml]\n")
    git_checkout.write("clusters/ms-01/apps/cm.yaml", "kind: ConfigMap\nmetadata: {name: m}\n")
    if origin is not None:
        git_checkout.git("remote", "add", "origin", origin)
    g = graph(git_checkout)
    (apps,) = [layer for layer in g.layers if layer.name.endswith("apps")]
    assert apps.external is None and "clusters/ms-01/apps/cm.yaml" in apps.files


def test_flux_named_in_a_file_no_layer_reads_leaves_the_version_as_the_components_say(
    git_checkout: GitRepo,
) -> None:
    # the review of stop 51: an old install kustomization in docs/ (no layer reads it) set the
    # version to Flux 0.x, and SM015 then failed check on a Component's generator source; beside
    # committed components it made two versions, and the version read "assumed"
    bootstrap(git_checkout, "clusters/prod", "ssh://git@github.com/acme/fleet")
    git_checkout.write(
        "other/gotk-components.yaml", "image: ghcr.io/fluxcd/kustomize-controller:v1.4.0\n"
    )
    git_checkout.write(
        "docs/old-install/kustomization.yaml",
        "resources:\n  - https://github.com/fluxcd/flux2/manifests/install?ref=v0.31.1\n",
    )
    g = graph(git_checkout)
    (cluster,) = g.clusters
    assert cluster.version.controller == (1, 4, 0), cluster.version
    # with no components, a bootstrap's install kustomization applied by hand says it (sweep
    # 96's regression run, dramirez-qb/k3d-cluster), unless the line is switched off
    (git_checkout.path / "other/gotk-components.yaml").unlink()
    (cluster,) = graph(git_checkout).clusters
    assert cluster.version.label == "kustomize-controller v0.x (Flux before 2.0)", cluster.version
    git_checkout.write(
        "docs/old-install/kustomization.yaml",
        "resources:\n  # - https://github.com/fluxcd/flux2/manifests/install?ref=v0.31.1\n",
    )
    (cluster,) = graph(git_checkout).clusters
    assert cluster.version.assumed, cluster.version
    # read by the cluster's own build, it is the version
    git_checkout.write(
        "clusters/prod/flux-system/kustomization.yaml",
        "resources:\n  - gotk-sync.yaml\n"
        "  - github.com/fluxcd/flux2/manifests/install?ref=v2.3.0\n",
    )
    (cluster,) = graph(git_checkout).clusters
    assert cluster.version.controller == (1, 3, 0), cluster.version
