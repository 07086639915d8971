from __future__ import annotations

import time
from pathlib import Path

import pytest

from secretsmgr.errors import ConfigError
from secretsmgr.repo.flux import Decryption, find_layers, normalize_spec_path
from secretsmgr.repo.root import list_repo_files
from secretsmgr.repo.snapshot import WorktreeSnapshot

from .helpers import GitRepo


def flux_ks(
    name: str,
    path: str,
    depends_on: tuple[str, ...] = (),
    decryption: str = "  decryption:\n    provider: sops\n    secretRef:\n      name: sops-age\n",
) -> str:
    deps = "".join(f"    - name: {d}\n" for d in depends_on)
    return (
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\n"
        "kind: Kustomization\n"
        f"metadata:\n  name: {name}\n  namespace: flux-system\n"
        "spec:\n"
        "  interval: 10m0s\n"
        f"  path: {path}\n"
        "  prune: true\n"
        "  sourceRef:\n    kind: GitRepository\n    name: flux-system\n"
        + (f"  dependsOn:\n{deps}" if deps else "")
        + decryption
    )


SEED = {
    # Written in an order that differs from the dependsOn order on purpose.
    "clusters/prod/apps.yaml": flux_ks("apps", "./gitops/apps/applications", ("databases",)),
    "clusters/prod/databases.yaml": flux_ks(
        "databases", "./gitops/apps/databases", ("infrastructure",)
    ),
    "clusters/prod/infrastructure.yaml": flux_ks("infrastructure", "./gitops/infrastructure"),
    "gitops/infrastructure/kustomization.yaml": "resources: [cert-manager, traefik]\n",
    "gitops/infrastructure/cert-manager/kustomization.yaml": (
        "resources: [release.yaml, cloudflare-token.enc.yaml]\n"
    ),
    "gitops/infrastructure/cert-manager/release.yaml": "kind: HelmRelease\n",
    "gitops/infrastructure/cert-manager/cloudflare-token.enc.yaml": "kind: Secret\n",
    "gitops/infrastructure/traefik/kustomization.yaml": "resources: [config.yaml]\n",
    "gitops/infrastructure/traefik/config.yaml": "kind: ConfigMap\n",
    "gitops/apps/databases/kustomization.yaml": "resources:\n  - ../postgresql\n  - ../redis\n",
    "gitops/apps/postgresql/kustomization.yaml": "resources: [release.yaml, secret.enc.yaml]\n",
    "gitops/apps/postgresql/release.yaml": "kind: HelmRelease\n",
    "gitops/apps/postgresql/secret.enc.yaml": "kind: Secret\n",
    "gitops/apps/redis/kustomization.yaml": "resources: [release.yaml, secret.enc.yaml]\n",
    "gitops/apps/redis/release.yaml": "kind: HelmRelease\n",
    "gitops/apps/redis/secret.enc.yaml": "kind: Secret\n",
    "gitops/apps/applications/kustomization.yaml": "resources:\n  - ../authentik\n",
    "gitops/apps/authentik/kustomization.yaml": "resources: [release.yaml, secret.enc.yaml]\n",
    "gitops/apps/authentik/release.yaml": "kind: HelmRelease\n",
    "gitops/apps/authentik/secret.enc.yaml": "kind: Secret\n",
    "gitops/orphan/secret.enc.yaml": "kind: Secret\n",
    "docs/deployment-order.md": "kustomize.toolkit.fluxcd.io is mentioned here\n",
}


@pytest.fixture
def seed_repo(git_checkout: GitRepo) -> GitRepo:
    for rel, text in SEED.items():
        git_checkout.write(rel, text)
    git_checkout.commit_all("seed layout")
    return git_checkout


def test_seed_layout_orders_layers_by_depends_on(seed_repo: GitRepo) -> None:
    graph = find_layers(WorktreeSnapshot(seed_repo.path))
    assert graph.names() == ("infrastructure", "databases", "apps")
    databases = graph.get("databases")
    assert databases is not None
    assert databases.path == "gitops/apps/databases"
    assert databases.source == "clusters/prod/databases.yaml"
    assert databases.namespace == "flux-system"
    assert databases.depends_on == ("infrastructure",)
    assert databases.decryption == Decryption(provider="sops", secret_ref="sops-age")
    assert databases.decrypts_sops
    assert databases.missing == ()
    assert graph.unknown_dependencies == ()
    assert graph.get("nope") is None


def test_seed_layout_maps_each_secret_to_its_layer(seed_repo: GitRepo) -> None:
    graph = find_layers(WorktreeSnapshot(seed_repo.path))
    assert graph.layers_of("gitops/infrastructure/cert-manager/cloudflare-token.enc.yaml") == (
        "infrastructure",
    )
    assert graph.layers_of("gitops/apps/postgresql/secret.enc.yaml") == ("databases",)
    assert graph.layers_of("gitops/apps/redis/secret.enc.yaml") == ("databases",)
    assert graph.layers_of("gitops/apps/authentik/secret.enc.yaml") == ("apps",)
    assert graph.layers_of("gitops/orphan/secret.enc.yaml") == ()
    apps = graph.get("apps")
    assert apps is not None
    assert apps.files == {
        "gitops/apps/applications/kustomization.yaml",
        "gitops/apps/authentik/kustomization.yaml",
        "gitops/apps/authentik/release.yaml",
        "gitops/apps/authentik/secret.enc.yaml",
    }


def test_layers_from_a_subfolder_root_use_paths_relative_to_it(seed_repo: GitRepo) -> None:
    # With --repo pointing at a subfolder, spec.path is read relative to that folder.
    seed_repo.write("nested/clusters/x.yaml", flux_ks("x", "./apps"))
    seed_repo.write("nested/apps/s.enc.yaml", "kind: Secret\n")
    root = seed_repo.path / "nested"
    graph = find_layers(WorktreeSnapshot(root))
    assert graph.names() == ("x",)
    assert graph.layers_of("apps/s.enc.yaml") == ("x",)


def test_a_file_reached_by_two_layers_lists_both_in_order(git_checkout: GitRepo) -> None:
    git_checkout.write("flux/b.yaml", flux_ks("second", "./overlays/b", ("first",)))
    git_checkout.write("flux/a.yaml", flux_ks("first", "./overlays/a"))
    git_checkout.write("overlays/a/kustomization.yaml", "resources: [../../base]\n")
    git_checkout.write("overlays/b/kustomization.yaml", "resources: [../../base, extra.yaml]\n")
    git_checkout.write("overlays/b/extra.yaml", "kind: ConfigMap\n")
    git_checkout.write("base/kustomization.yaml", "resources: [shared.enc.yaml]\n")
    git_checkout.write("base/shared.enc.yaml", "kind: Secret\n")
    graph = find_layers(WorktreeSnapshot(git_checkout.path))
    assert graph.layers_of("base/shared.enc.yaml") == ("first", "second")
    assert graph.layers_of("overlays/b/extra.yaml") == ("second",)


def test_decryption_without_secret_ref_and_without_decryption(git_checkout: GitRepo) -> None:
    git_checkout.write(
        "flux/all.yaml",
        flux_ks("controller-wide", "./a", decryption="  decryption:\n    provider: sops\n")
        + "---\n"
        + flux_ks("plain", "./b", decryption=""),
    )
    graph = find_layers(WorktreeSnapshot(git_checkout.path))
    assert graph.names() == ("controller-wide", "plain")
    wide, plain = graph.layers
    assert wide.decryption == Decryption(provider="sops", secret_ref=None)
    assert wide.decrypts_sops
    assert plain.decryption is None
    assert not plain.decrypts_sops
    assert wide.missing == ("a",)


def test_a_kustomization_listed_only_in_a_comment_is_applied_by_nothing(
    git_checkout: GitRepo,
) -> None:
    # A base/overlay layout (seen on xunholy/k8s-gitops): the overlay lists one app's ks.yaml
    # and switches the other off with a comment; the other is not a root of its own.
    git_checkout.write("clusters/c/apps.yaml", flux_ks("apps", "./apps/overlays/c"))
    git_checkout.write(
        "apps/overlays/c/kustomization.yaml",
        "resources:\n  - ../../base/x/a/ks.yaml\n  # - ../../base/x/b/ks.yaml\n",
    )
    for app in ("a", "b"):
        git_checkout.write(f"apps/base/x/{app}/ks.yaml", flux_ks(app, f"./apps/base/x/{app}/app"))
        git_checkout.write(f"apps/base/x/{app}/app/kustomization.yaml", "resources: [s.yaml]\n")
        git_checkout.write(f"apps/base/x/{app}/app/s.yaml", "kind: ConfigMap\n")
    graph = find_layers(WorktreeSnapshot(git_checkout.path))
    assert sorted(graph.names()) == ["a", "apps"]
    assert graph.layers_of("apps/base/x/b/app/s.yaml") == ()


def test_two_roots_syncing_one_folder_are_one_cluster(git_checkout: GitRepo) -> None:
    # Mid migration (seen on damacus/home-ops): a legacy bootstrap Kustomization and a
    # FluxInstance both sync kubernetes/flux; every layer is reported once, in one cluster.
    url = "https://github.com/example/home-ops"
    git_checkout.write(
        "kubernetes/flux/config/cluster.yaml",
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n"
        f"  name: home\n  namespace: flux-system\nspec:\n  url: {url}\n"
        "  ref:\n    branch: main\n---\n"
        + flux_ks("cluster", "./kubernetes/flux").replace("name: flux-system\n", "name: home\n"),
    )
    git_checkout.write(
        "kubernetes/flux/instance.yaml",
        "apiVersion: fluxcd.controlplane.io/v1\nkind: FluxInstance\nmetadata:\n  name: flux\n"
        f"  namespace: flux-system\nspec:\n  sync:\n    kind: GitRepository\n    url: {url}\n"
        "    ref: refs/heads/main\n    path: kubernetes/flux\n",
    )
    git_checkout.write("kubernetes/flux/apps.yaml", flux_ks("apps", "./kubernetes/apps"))
    git_checkout.write("kubernetes/apps/s.yaml", "kind: ConfigMap\n")
    graph = find_layers(WorktreeSnapshot(git_checkout.path))
    assert len(graph.clusters) == 1, graph.clusters
    assert [x.name for x in graph.layers].count("apps") == 1
    assert any("counted as cluster" in note for note in graph.notes)


def test_a_folder_listed_only_in_a_comment_is_switched_off_too(git_checkout: GitRepo) -> None:
    # kustomize also takes a folder (``- ../../base/x/b``); commented out, it applies nothing
    git_checkout.write("clusters/c/apps.yaml", flux_ks("apps", "./apps/overlays/c"))
    git_checkout.write(
        "apps/overlays/c/kustomization.yaml",
        "resources:\n  - ../../base/x/a\n#- ../../base/x/b\n",
    )
    for app in ("a", "b"):
        git_checkout.write(f"apps/base/x/{app}/kustomization.yaml", "resources: [ks.yaml]\n")
        git_checkout.write(f"apps/base/x/{app}/ks.yaml", flux_ks(app, f"./apps/base/x/{app}/app"))
        git_checkout.write(f"apps/base/x/{app}/app/s.yaml", "kind: ConfigMap\n")
    graph = find_layers(WorktreeSnapshot(git_checkout.path))
    assert sorted(graph.names()) == ["a", "apps"]


def test_a_long_depends_on_cycle_is_named_on_one_short_line(git_checkout: GitRepo) -> None:
    # the attack review of stop 51: a cycle through 3,000 layers was one 30 KB error line
    n = 300
    for i in range(n):
        git_checkout.write(f"flux/k{i}.yaml", flux_ks(f"k{i}", f"./k{i}", (f"k{(i + 1) % n}",)))
    with pytest.raises(ConfigError) as caught:
        find_layers(WorktreeSnapshot(git_checkout.path))
    assert (
        caught.value.message
        == "dependsOn cycle: k0 → k1 → k2 → k3 → … 294 more … → k298 → k299 → k0"
    )


def test_a_depends_on_cycle_is_a_config_error(git_checkout: GitRepo) -> None:
    git_checkout.write("flux/a.yaml", flux_ks("a", "./a", ("b",)))
    git_checkout.write("flux/b.yaml", flux_ks("b", "./b", ("c",)))
    git_checkout.write("flux/c.yaml", flux_ks("c", "./c", ("a",)))
    git_checkout.write("flux/d.yaml", flux_ks("d", "./d"))
    with pytest.raises(ConfigError, match=r"^dependsOn cycle: a → b → c → a$"):
        find_layers(WorktreeSnapshot(git_checkout.path))


def test_a_dependency_no_manifest_defines_is_named_until_clusters_names_it(
    git_checkout: GitRepo,
) -> None:
    # sweep 83 (DRSchlaubi/kbs610): Terraform made the Kustomization `secrets` that applies
    # ./secrets; two layers depended on it, and nothing said why its files were applied by none
    from secretsmgr.repo.settings import ClusterSpec

    git_checkout.write("clusters/prod/apps.yaml", flux_ks("apps", "./apps", ("secrets",)))
    git_checkout.write("clusters/prod/web.yaml", flux_ks("web", "./web", ("secrets", "apps")))
    git_checkout.write("apps/kustomization.yaml", "resources: []\n")
    git_checkout.write("web/kustomization.yaml", "resources: []\n")
    git_checkout.write("secrets/db.enc.yaml", "kind: Secret\n")
    # a name a ResourceSet makes per input is defined here (the attack review of sweep 84)
    git_checkout.write(
        "clusters/prod/tenants.yaml",
        "apiVersion: fluxcd.controlplane.io/v1\nkind: ResourceSet\n"
        "metadata: {name: tenants, namespace: flux-system}\nspec:\n"
        "  inputs: [{tenant: team1}]\n  resourcesTemplate: |\n"
        "    apiVersion: kustomize.toolkit.fluxcd.io/v1\n    kind: Kustomization\n"
        "    metadata:\n      name: tenants-<< inputs.tenant >>\n      namespace: flux-system\n"
        "    spec:\n      path: ./tenants/<< inputs.tenant >>\n"
        "      sourceRef: {kind: GitRepository, name: flux-system}\n",
    )
    git_checkout.write("clusters/prod/team.yaml", flux_ks("team", "./team", ("tenants-team1",)))
    git_checkout.write("team/kustomization.yaml", "resources: []\n")
    graph = find_layers(WorktreeSnapshot(git_checkout.path))
    [note] = [n for n in graph.notes if "no manifest here defines" in n]
    assert note.startswith("layers apps, web depend on secrets, a Kustomization no manifest "), note
    assert "name it under clusters: in .secretsmgr.yaml (secrets, with that folder" in note
    named = [ClusterSpec("prod", "clusters/prod"), ClusterSpec("secrets", "secrets")]
    graph = find_layers(WorktreeSnapshot(git_checkout.path), named)
    assert not [n for n in graph.notes if "no manifest here defines" in n], graph.notes
    assert any("secrets/db.enc.yaml" in x.files for x in graph.layers)


def test_depends_on_names_a_namespace_and_same_names_are_no_cycle(git_checkout: GitRepo) -> None:
    # Two Kustomizations called paperless (the app, and its database), in two namespaces; the app
    # depends on the database by namespace and name: an order, not a cycle.
    def in_namespace(text: str, namespace: str) -> str:
        return text.replace("namespace: flux-system\n", f"namespace: {namespace}\n", 1)

    app = in_namespace(flux_ks("paperless", "./collab", ("paperless",)), "collab")
    app = app.replace(
        "    - name: paperless\n", "    - name: paperless\n      namespace: databases\n"
    )
    git_checkout.write("flux/app.yaml", app)
    git_checkout.write("flux/db.yaml", in_namespace(flux_ks("paperless", "./db"), "databases"))
    graph = find_layers(WorktreeSnapshot(git_checkout.path))
    # one name in two namespaces: each layer is named namespace/name
    assert [(x.namespace, x.name) for x in graph.layers] == [
        ("databases", "databases/paperless"),
        ("collab", "collab/paperless"),
    ]
    assert graph.unknown_dependencies == ()


def test_a_layer_depending_on_itself_is_a_cycle(git_checkout: GitRepo) -> None:
    git_checkout.write("flux/a.yaml", flux_ks("a", "./a", ("a",)))
    with pytest.raises(ConfigError, match=r"^dependsOn cycle: a → a$"):
        find_layers(WorktreeSnapshot(git_checkout.path))


def test_an_unknown_dependency_is_kept_and_recorded(git_checkout: GitRepo) -> None:
    git_checkout.write("flux/a.yaml", flux_ks("a", "./a", ("ghost",)))
    graph = find_layers(WorktreeSnapshot(git_checkout.path))
    layer = graph.get("a")
    assert layer is not None
    assert layer.depends_on == ("ghost",)
    assert graph.unknown_dependencies == (("a", "ghost"),)


def test_ties_keep_the_order_found(git_checkout: GitRepo) -> None:
    git_checkout.write("flux/z.yaml", flux_ks("zeta", "./z"))
    git_checkout.write(
        "flux/m.yaml", flux_ks("mu", "./m", ("zeta",)) + "---\n" + flux_ks("alpha", "./a")
    )
    graph = find_layers(WorktreeSnapshot(git_checkout.path))
    # Found in order: mu, alpha (flux/m.yaml), zeta (flux/z.yaml); mu waits for zeta.
    assert graph.names() == ("alpha", "zeta", "mu")


def test_same_name_in_two_cluster_folders_depends_on_the_nearest(git_checkout: GitRepo) -> None:
    for cluster in ("prod", "staging"):
        git_checkout.write(f"clusters/{cluster}/infra.yaml", flux_ks("infra", f"./{cluster}/infra"))
        git_checkout.write(
            f"clusters/{cluster}/apps.yaml", flux_ks("apps", f"./{cluster}/apps", ("infra",))
        )
        git_checkout.write(f"{cluster}/apps/s.enc.yaml", "kind: Secret\n")
    graph = find_layers(WorktreeSnapshot(git_checkout.path))
    assert [(layer.name, layer.source) for layer in graph.layers] == [
        ("infra", "clusters/prod/infra.yaml"),
        ("apps", "clusters/prod/apps.yaml"),
        ("infra", "clusters/staging/infra.yaml"),
        ("apps", "clusters/staging/apps.yaml"),
    ]
    assert graph.names() == ("infra", "apps")
    assert graph.layers_of("staging/apps/s.enc.yaml") == ("apps",)


def test_flux_spec_components_are_component_files(git_checkout: GitRepo) -> None:
    git_checkout.write("flux/a.yaml", flux_ks("a", "./app") + "  components:\n    - ../comp\n")
    git_checkout.write("app/kustomization.yaml", "resources: [d.yaml]\n")
    git_checkout.write("app/d.yaml", "kind: Deployment\n")
    git_checkout.write("comp/kustomization.yaml", "kind: Component\nresources: [s.enc.yaml]\n")
    git_checkout.write("comp/s.enc.yaml", "kind: Secret\n")
    layer = find_layers(WorktreeSnapshot(git_checkout.path)).get("a")
    assert layer is not None
    assert layer.component_files == {"comp/kustomization.yaml", "comp/s.enc.yaml"}


def test_other_kinds_and_unparsable_files_without_the_marker_are_skipped(
    git_checkout: GitRepo,
) -> None:
    git_checkout.write("charts/templates/x.yaml", "{{ if .Values.x }}\nkind: [\n")
    git_checkout.write(
        "flux/source.yaml",
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: {name: r}\n"
        "---\napiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        "---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Other\nmetadata: {name: o}\n",
    )
    assert find_layers(WorktreeSnapshot(git_checkout.path)).layers == ()


def test_an_unparsable_flux_manifest_is_a_note_naming_it(git_checkout: GitRepo) -> None:
    git_checkout.write(
        "flux/bad.yaml", "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: [Kustomization\n"
    )
    git_checkout.write("flux/good.yaml", flux_ks("good", "./a"))
    graph = find_layers(WorktreeSnapshot(git_checkout.path))
    assert graph.names() == ("good",)
    assert any(n.startswith("flux/bad.yaml: malformed YAML") for n in graph.notes)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("metadata: {name: a}\nspec: {dependsOn: [{namespace: x}]}\n", "has no name"),
        ("metadata: {name: a}\nspec: [1]\n", "spec is not a mapping"),
        ("metadata: {name: a}\nspec: {path: [x]}\n", "spec.path is not a string"),
    ],
)
def test_a_malformed_flux_kustomization_is_a_note(
    git_checkout: GitRepo, body: str, message: str
) -> None:
    git_checkout.write(
        "flux/bad.yaml", "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n" + body
    )
    graph = find_layers(WorktreeSnapshot(git_checkout.path))
    assert graph.names() == ("a",)
    assert any(message in note for note in graph.notes), graph.notes


def test_a_flux_kustomization_without_a_name_is_skipped(git_checkout: GitRepo) -> None:
    git_checkout.write(
        "flux/bad.yaml",
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {}\n",
    )
    assert find_layers(WorktreeSnapshot(git_checkout.path)).layers == ()


def test_normalize_spec_path() -> None:
    assert normalize_spec_path("./gitops/apps/") == "gitops/apps"
    assert normalize_spec_path("./") == "."
    assert normalize_spec_path("") == "."
    assert normalize_spec_path("/abs/path") == "abs/path"
    assert normalize_spec_path("./a/../b") == "b"


def test_ten_thousand_files_are_handled_quickly(tmp_path: Path) -> None:
    root = tmp_path / "big"
    for i in range(100):
        folder = root / "gitops" / f"app{i}"
        folder.mkdir(parents=True)
        (folder / "kustomization.yaml").write_text(
            "resources: [" + ", ".join(f"m{j}.yaml" for j in range(99)) + "]\n"
        )
        for j in range(99):
            (folder / f"m{j}.yaml").write_text(f"kind: ConfigMap\nmetadata: {{name: m{j}}}\n")
        (root / "flux").mkdir(exist_ok=True)
        deps = (f"app{i - 1}",) if i else ()
        (root / "flux" / f"app{i}.yaml").write_text(flux_ks(f"app{i}", f"./gitops/app{i}", deps))
    started = time.perf_counter()
    files = list_repo_files(root)
    graph = find_layers(WorktreeSnapshot(root, files))
    elapsed = time.perf_counter() - started
    assert len(files) == 10_100
    assert graph.names() == tuple(f"app{i}" for i in range(100))
    assert graph.layers_of("gitops/app42/m7.yaml") == ("app42",)
    assert elapsed < 5.0, f"took {elapsed:.2f}s"


@pytest.mark.parametrize(
    ("unpinned", "said"),
    [
        (("staging",), "cluster staging does not say which Flux version it runs"),
        (("production", "staging"), "the repository does not say which Flux version it runs"),
    ],
)
def test_the_version_note_names_the_cluster_that_does_not_pin_flux(
    tmp_path: Path, unpinned: tuple[str, ...], said: str
) -> None:
    import shutil

    case = Path(__file__).parents[1] / "flux_corpus" / "cases" / "two-clusters"
    root = tmp_path / "repo"
    shutil.copytree(case, root, ignore=shutil.ignore_patterns("*.plain"))
    # An unpinned cluster's components move out of its reach with another version: the
    # repository then names two versions, and that cluster reaches neither.
    (root / "archive").mkdir()
    for cluster in unpinned:
        components = root / "clusters" / cluster / "flux-system" / "gotk-components.yaml"
        moved = root / "archive" / f"{cluster}.yaml"
        moved.write_text(components.read_text().replace("v1.6.1", f"v1.{len(cluster)}.0"))
        components.unlink()
    graph = find_layers(WorktreeSnapshot(root))
    notes = [n for n in graph.notes if "Flux version" in n]
    assert len(notes) == 1 and notes[0].startswith(said), graph.notes


def test_a_build_naming_what_is_not_there_is_a_note(git_checkout: GitRepo) -> None:
    # VitoMinheere (a cluster's layers point at folders that do not exist) and a component
    # path that is missing: Flux fails such a build and applies nothing; the layer looked clean
    git_checkout.write("flux/apps.yaml", flux_ks("apps", "./apps/prod"))
    git_checkout.write("flux/infra.yaml", flux_ks("infra", "./infra"))
    git_checkout.write(
        "infra/kustomization.yaml", "resources: [a.yaml, b.yaml, d.yaml]\ncomponents: [../c]\n"
    )
    git_checkout.write("infra/a.yaml", "kind: ConfigMap\n")
    git_checkout.write("flux/ok.yaml", flux_ks("ok", "./ok"))
    git_checkout.write("ok/kustomization.yaml", "resources: [a.yaml]\n")
    git_checkout.write("ok/a.yaml", "kind: ConfigMap\n")
    git_checkout.write("flux/kustomization.yaml", "resources: [apps.yaml, infra.yaml, ok.yaml]\n")
    git_checkout.write("clusters/prod/sync.yaml", flux_ks("flux-system", "./flux"))
    notes = [n for n in find_layers(WorktreeSnapshot(git_checkout.path)).notes if "holds" in n]
    assert notes == [
        "layer apps: its spec.path (apps/prod) is not in what its source holds (missing here, or "
        "left out by its ignore rules): Flux fails this Kustomization and applies nothing",
        "layer infra: its build names c (in infra/kustomization.yaml), infra/b.yaml (in "
        "infra/kustomization.yaml), infra/d.yaml (in infra/kustomization.yaml), not in what its "
        "source holds "
        "(missing here, or left out by its ignore rules): Flux fails the whole build and "
        "applies nothing of it",
    ]
    # sweep 100 (CrystalMethod/homelab): a folder that is there but has no kustomization.yaml
    # was said to be missing or ignored; kubectl kustomize says it cannot find the file
    git_checkout.write("infra/kustomization.yaml", "resources: [a.yaml, helm]\ncomponents: [c]\n")
    git_checkout.write("infra/helm/repo.yaml", "kind: HelmRepository\n")
    git_checkout.write("infra/c/x.yaml", "kind: ConfigMap\n")
    notes = [n for n in find_layers(WorktreeSnapshot(git_checkout.path)).notes if "infra" in n]
    assert notes == [
        "layer infra: its build names infra/c (in infra/kustomization.yaml), infra/helm (in "
        "infra/kustomization.yaml), folders with no kustomization.yaml, which kustomize cannot "
        "build: Flux fails the whole build and applies nothing of it"
    ], notes
    # a last sweep of stop 53 (Bchast93/thousand-sunny): a Flux Kustomization's own
    # spec.components entry that is missing was said to be named by the kustomization.yaml
    git_checkout.write("infra/kustomization.yaml", "resources: [a.yaml]\n")
    git_checkout.write(
        "flux/infra.yaml", flux_ks("infra", "./infra") + "  components:\n    - ../gone\n"
    )
    notes = [n for n in find_layers(WorktreeSnapshot(git_checkout.path)).notes if "infra" in n]
    assert notes == [
        "layer infra: its build names gone (in flux/infra.yaml's spec.components), not in what "
        "its source holds (missing here, or left out by its ignore rules): Flux fails the "
        "whole build and applies nothing of it"
    ], notes
    git_checkout.write("flux/infra.yaml", flux_ks("infra", "./infra"))
    # sweep 61, hanspaerna/k3s-homelab-iac: an entry indented one space too far joined the
    # one above it; the note shows it as written
    git_checkout.write("infra/kustomization.yaml", "resources:\n  - a.yaml\n   - b.yaml\n")
    notes = [n for n in find_layers(WorktreeSnapshot(git_checkout.path)).notes if "holds" in n]
    assert "(the entry 'a.yaml - b.yaml' in infra/kustomization.yaml)" in notes[-1], notes


def _resource_set(template: str) -> str:
    body = "".join(f"    {line}\n" for line in template.splitlines())
    return (
        "apiVersion: fluxcd.controlplane.io/v1\nkind: ResourceSet\nmetadata:\n  name: dbs\n"
        "  namespace: database\nspec:\n  inputs:\n    - role: app\n"
        f"  resourcesTemplate: |\n{body}"
    )


def test_a_resource_sets_kustomization_is_a_layer_unless_its_path_is_templated(
    git_checkout: GitRepo,
) -> None:
    # sweep 20 (Samoth69/HomeOps): a ResourceSet's resourcesTemplate holds the Kustomization
    # that applies a SOPS file; the model called the file applied by nothing (SM012) and no
    # layer rule (SM010, SM015) saw it. A path with << inputs >> markers is known only live.
    made = flux_ks("cnpg", "./db/cnpg", decryption="  decryption:\n    provider: sops\n")
    made = made.replace("  namespace: flux-system\n", "")  # the ResourceSet's, database
    made += "  patches:\n    - patch: |-\n        roles:\n          <<- range $r := inputs >>\n"
    templated = flux_ks("per-input", "./db/<< inputs.role >>")
    # a decryption Secret per input (the review: init printed --name 'sops-<< inputs.t >>')
    templated += "---\n" + flux_ks("per-secret", "./db/cnpg").replace(
        "name: sops-age", "name: sops-<< inputs.role >>"
    )
    # a name per input over one fixed folder: that folder is applied (the second review)
    templated += "---\n" + flux_ks("shared-<< inputs.role >>", "./db/shared", decryption="")
    git_checkout.write("db/shared/secret.enc.yaml", "kind: Secret\n")
    git_checkout.write("clusters/prod/db.yaml", flux_ks("db", "./db/sets"))
    git_checkout.write("db/cnpg/secret.enc.yaml", "kind: Secret\n")
    git_checkout.write("db/app/secret.enc.yaml", "kind: Secret\n")
    git_checkout.commit_all("a ResourceSet")
    # its inputs come from a provider (inputsFrom): known only live
    provided = _resource_set(made + "---\n" + templated).replace(
        "  inputs:\n    - role: app\n", "  inputsFrom:\n    - kind: ResourceSetInputProvider\n"
    )
    git_checkout.write("db/sets/ks.yaml", provided)
    git_checkout.commit_all("a ResourceSet")
    graph = find_layers(WorktreeSnapshot(git_checkout.path))
    assert "cnpg" in graph.names() and "per-input" not in graph.names()
    assert "per-secret" not in graph.names()
    (cnpg,) = [x for x in graph.layers if x.name == "cnpg"]
    assert cnpg.namespace == "database" and cnpg.decrypts_sops
    assert graph.layers_of("db/cnpg/secret.enc.yaml") == ("cnpg",)
    assert graph.layers_of("db/app/secret.enc.yaml") == ()
    assert graph.layers_of("db/shared/secret.enc.yaml") == ("shared-<< inputs.role >>",)
    # its inputs written in it: one Kustomization each, as the operator renders them (the
    # seventh attack review of the gate: 36 files of m00nwtchr/homelab-cluster were SM010)
    git_checkout.write("db/sets/ks.yaml", _resource_set(made + "---\n" + templated))
    git_checkout.commit_all("inputs of its own")
    graph = find_layers(WorktreeSnapshot(git_checkout.path))
    assert graph.layers_of("db/cnpg/secret.enc.yaml") == ("cnpg", "per-secret")
    assert graph.layers_of("db/app/secret.enc.yaml") == ("per-input",)
    assert graph.layers_of("db/shared/secret.enc.yaml") == ("shared-app",)
    (per_secret,) = [x for x in graph.layers if x.name == "per-secret"]
    assert per_secret.decryption is not None and per_secret.decryption.secret_ref == "sops-app"
    # as flux-operator renders them (the last review of stop 55): a boolean as Go prints it,
    # an object it leaves out (reconcile: disabled), and no object at all where an input the
    # templates name is missing from one input (it renders with missingkey=error)
    flag = flux_ks("flags", "./db/<< inputs.on >>")
    off = flux_ks("off-<< inputs.role >>", "./db/off").replace(
        "metadata:\n", "metadata:\n  annotations:\n    fluxcd.controlplane.io/reconcile: disabled\n"
    )
    plain_off = flux_ks("plain-off", "./db/off").replace(
        "metadata:\n", "metadata:\n  annotations:\n    fluxcd.controlplane.io/reconcile: disabled\n"
    )
    inputs = "  inputs:\n    - role: app\n      on: true\n"
    git_checkout.write(
        "db/sets/ks.yaml",
        _resource_set(flag + "---\n" + off + "---\n" + plain_off).replace(
            "  inputs:\n    - role: app\n", inputs
        ),
    )
    git_checkout.write("db/true/secret.enc.yaml", "kind: Secret\n")
    git_checkout.write("db/off/secret.enc.yaml", "kind: Secret\n")
    git_checkout.commit_all("shapes")
    graph = find_layers(WorktreeSnapshot(git_checkout.path))
    assert graph.layers_of("db/true/secret.enc.yaml") == ("flags",)
    assert graph.layers_of("db/off/secret.enc.yaml") == ()
    missing = _resource_set(flag).replace(
        "  inputs:\n    - role: app\n", "  inputs:\n    - on: true\n    - role: x\n"
    )
    git_checkout.write("db/sets/ks.yaml", missing)
    git_checkout.commit_all("an input lacks a key")
    graph = find_layers(WorktreeSnapshot(git_checkout.path))
    assert graph.layers_of("db/true/secret.enc.yaml") == ()


def test_a_flux_kustomization_in_kustomizes_file_is_a_failed_build(git_checkout: GitRepo) -> None:
    """sweep 46, fzmubin98/k3s-GitOps-assignement: the layer's kustomization.yaml was Flux's own
    Kustomization object; kustomize refuses it (the oracle says so), and the layer was shown as
    clean with no word of why nothing of it deploys."""
    import subprocess

    from tests.flux_corpus.test_kustomize_oracle import kubectl

    git_checkout.write("clusters/prod/flux-system/sync.yaml", flux_ks("flux-system", "./apps"))
    git_checkout.write("apps/kustomization.yaml", flux_ks("apps", "./apps"))
    git_checkout.write("apps/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n")
    done = subprocess.run(
        [kubectl(), "kustomize", "apps"], cwd=git_checkout.path, capture_output=True, text=True
    )
    assert done.returncode != 0 and 'unknown field "spec"' in done.stderr
    notes = find_layers(WorktreeSnapshot(git_checkout.path)).notes
    assert any(
        "apps/kustomization.yaml is a Flux Kustomization, not a kustomize file" in n for n in notes
    ), notes


def test_a_kustomize_file_listed_as_a_resource_is_a_failed_build(git_checkout: GitRepo) -> None:
    """sweep 52, xitobuh/flux-cluster: the layer's kustomization.yaml listed `./default/ks.yaml`,
    a kustomize Kustomization meant as Flux's; kustomize refuses it (the oracle says so), and
    the layer was shown as clean with no note. A folder of the same file is fine."""
    import subprocess

    from tests.flux_corpus.test_kustomize_oracle import kubectl

    kustomize = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
    git_checkout.write("clusters/prod/flux-system/sync.yaml", flux_ks("flux-system", "./apps"))
    git_checkout.write("apps/kustomization.yaml", "resources:\n  - ./default/ks.yaml\n  - ./ok\n")
    git_checkout.write("apps/default/ks.yaml", kustomize + "resources:\n  - ./app\n")
    git_checkout.write("apps/default/app/cm.yaml", "apiVersion: v1\nkind: ConfigMap\n")
    git_checkout.write("apps/ok/kustomization.yaml", kustomize + "resources:\n  - cm.yaml\n")
    git_checkout.write("apps/ok/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n")
    done = subprocess.run(
        [kubectl(), "kustomize", "apps"], cwd=git_checkout.path, capture_output=True, text=True
    )
    assert done.returncode != 0 and "missing metadata.name" in done.stderr
    notes = find_layers(WorktreeSnapshot(git_checkout.path)).notes
    failed = [n for n in notes if "a kustomize file (kustomize.config.k8s.io), as a resource" in n]
    assert len(failed) == 1 and "its build lists apps/default/ks.yaml" in failed[0], notes
    assert not any("apps/ok/kustomization.yaml" in n for n in notes)


def test_a_layer_in_a_git_submodule_is_not_said_to_fail(tmp_path: Path) -> None:
    # sweep 57, shosti/eevans-infra: a layer at k8s/secrets, a git submodule its GitRepository
    # fetches (recurseSubmodules: true), was "not in what its source holds: Flux fails this
    # Kustomization"; a path that is in no submodule still is
    from secretsmgr.repo.inventory import load_inventory
    from tests.audit.helpers import flux_kustomization, sops_yaml, write

    write(tmp_path, ".sops.yaml", sops_yaml((r"\.enc\.yaml$", ["age1" + "q" * 58])))
    write(tmp_path, ".gitmodules", '[submodule "k8s/secrets"]\n\tpath = k8s/secrets\n\turl = x\n')
    write(tmp_path, "clusters/prod/apps.yaml", flux_kustomization("secrets", "./k8s/secrets"))
    write(tmp_path, "clusters/prod/more.yaml", flux_kustomization("gone", "./k8s/gone"))
    write(
        tmp_path,
        "clusters/prod/vendor.yaml",
        flux_kustomization("vendor", "./k8s/vendor"),
    )
    write(tmp_path, "k8s/vendor/kustomization.yaml", "resources:\n  - ../secrets/a.yaml\n")
    notes = load_inventory(tmp_path).layers.notes
    assert (
        "layer secrets: its spec.path (k8s/secrets) is in the git submodule k8s/secrets, not "
        "checked out here: those files are not judged (Flux fetches a submodule only where the "
        "GitRepository sets recurseSubmodules: true)"
    ) in notes, notes
    assert any(
        n.startswith("layer vendor: its build reads 1 file in the git submodule") for n in notes
    )
    assert (
        "1 Flux Kustomization points at a spec.path with nothing in this checkout, which Flux "
        "fails: clusters/prod/more.yaml (./k8s/gone)"
    ) in notes, notes
    # the attack review: a .gitmodules naming an ordinary folder hides no failed build there
    write(tmp_path, ".gitmodules", '[submodule "v"]\n\tPath = k8s/vendor\n')
    write(tmp_path, "k8s/vendor/kustomization.yaml", "resources:\n  - gone.yaml\n")
    notes = load_inventory(tmp_path).layers.notes
    assert any(n.startswith("layer vendor: its build names k8s/vendor/gone.yaml") for n in notes)


def _clustertool_layout(repo: GitRepo) -> None:
    """Vylkatis/home-ops (sweep 95), cut down: clustertool applies two self-applying roots at
    bootstrap, both over GitRepository `cluster`, which only ./repositories defines."""

    def ks(name: str, path: str) -> str:
        return flux_ks(name, path).replace(
            "name: flux-system\n  decryption", "name: cluster\n  decryption"
        )

    repo.write(
        "clusters/main/kubernetes/kustomization.yaml", "resources: [flux-entry.yaml, apps]\n"
    )
    repo.write(
        "clusters/main/kubernetes/flux-entry.yaml", ks("flux-entry", "./clusters/main/kubernetes")
    )
    repo.write("clusters/main/kubernetes/apps/kustomization.yaml", "resources: [cm.yaml]\n")
    repo.write("clusters/main/kubernetes/apps/cm.yaml", "kind: ConfigMap\nmetadata: {name: x}\n")
    repo.write("repositories/kustomization.yaml", "resources: [flux-entry.yaml, git]\n")
    repo.write("repositories/flux-entry.yaml", ks("flux-entry-repos", "./repositories"))
    repo.write("repositories/git/kustomization.yaml", "resources: [this-repo.yaml]\n")
    repo.write(
        "repositories/git/this-repo.yaml",
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\n"
        "metadata: {name: cluster, namespace: flux-system}\n"
        "spec:\n  url: ssh://git@github.com/someone/home-ops.git\n  ref: {branch: main}\n",
    )


@pytest.mark.parametrize("origin", [None, "https://github.com/someone/home-ops.git"])
def test_a_root_over_a_source_only_another_root_applies_is_of_its_cluster(
    git_checkout: GitRepo, origin: str | None
) -> None:
    # sweep 95, Vylkatis/home-ops: with no origin (a CI clone of a mirror) every layer was
    # "external"; with one, ./repositories was a second cluster that Flux never makes
    _clustertool_layout(git_checkout)
    if origin is not None:
        git_checkout.git("remote", "add", "origin", origin)
    graph = find_layers(WorktreeSnapshot(git_checkout.path))
    assert [c.name for c in graph.clusters] == ["main"]
    by_name = {layer.name: layer for layer in graph.layers}
    assert by_name["flux-entry"].external is None
    assert "clusters/main/kubernetes/apps/cm.yaml" in by_name["flux-entry"].files
    assert by_name["flux-entry-repos"].cluster == "main"
