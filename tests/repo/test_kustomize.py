from __future__ import annotations

from pathlib import Path

import pytest

from secretsmgr.errors import ConfigError
from secretsmgr.repo.git import walk_files
from secretsmgr.repo.kustomize import is_remote, normalize, resolve_tree


def build(root: Path, files: dict[str, str]) -> set[str]:
    """Write ``files`` under ``root`` and return the repo file set."""
    for rel, text in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return set(walk_files(root))


def test_resources_follow_parent_folders_and_their_kustomizations(tmp_path: Path) -> None:
    files = build(
        tmp_path,
        {
            "apps/databases/kustomization.yaml": "resources: [../postgresql, ../redis/]\n",
            "apps/postgresql/kustomization.yaml": "resources: [release.yaml, secret.enc.yaml]\n",
            "apps/postgresql/release.yaml": "kind: HelmRelease\n",
            "apps/postgresql/secret.enc.yaml": "kind: Secret\n",
            "apps/postgresql/unlisted.enc.yaml": "kind: Secret\n",
            "apps/redis/kustomization.yml": "resources:\n  - ./secret.enc.yaml\n",
            "apps/redis/secret.enc.yaml": "kind: Secret\n",
            "apps/authentik/kustomization.yaml": "resources: [secret.enc.yaml]\n",
            "apps/authentik/secret.enc.yaml": "kind: Secret\n",
        },
    )
    tree = resolve_tree(tmp_path, "apps/databases", files)
    assert tree.files == {
        "apps/databases/kustomization.yaml",
        "apps/postgresql/kustomization.yaml",
        "apps/postgresql/release.yaml",
        "apps/postgresql/secret.enc.yaml",
        "apps/redis/kustomization.yml",
        "apps/redis/secret.enc.yaml",
    }
    assert tree.kustomization_files == {
        "apps/databases/kustomization.yaml",
        "apps/postgresql/kustomization.yaml",
        "apps/redis/kustomization.yml",
    }
    assert tree.component_files == frozenset()
    assert tree.missing == ()


def test_components_mark_every_file_reached_through_them(tmp_path: Path) -> None:
    files = build(
        tmp_path,
        {
            "app/kustomization.yaml": "resources: [deploy.yaml]\ncomponents: [../comp]\n",
            "app/deploy.yaml": "kind: Deployment\n",
            "comp/kustomization.yaml": (
                "kind: Component\nresources: [secret.enc.yaml, nested]\n"
                "patches: [{path: patch.yaml}]\n"
            ),
            "comp/secret.enc.yaml": "kind: Secret\n",
            "comp/patch.yaml": "kind: Deployment\n",
            "comp/nested/kustomization.yaml": "resources: [cm.yaml]\n",
            "comp/nested/cm.yaml": "kind: ConfigMap\n",
        },
    )
    tree = resolve_tree(tmp_path, "app", files)
    assert tree.component_files == {
        "comp/kustomization.yaml",
        "comp/secret.enc.yaml",
        "comp/patch.yaml",
        "comp/nested/kustomization.yaml",
        "comp/nested/cm.yaml",
    }
    assert "app/deploy.yaml" in tree.files
    assert "app/deploy.yaml" not in tree.component_files


def test_a_file_reached_directly_and_through_a_component_is_a_component_file(
    tmp_path: Path,
) -> None:
    files = build(
        tmp_path,
        {
            "app/kustomization.yaml": "resources: [../shared]\ncomponents: [../comp]\n",
            "shared/kustomization.yaml": "resources: [s.enc.yaml]\n",
            "shared/s.enc.yaml": "kind: Secret\n",
            "comp/kustomization.yaml": "kind: Component\nresources: [../shared]\n",
        },
    )
    tree = resolve_tree(tmp_path, "app", files)
    assert "shared/s.enc.yaml" in tree.component_files


def test_patches_in_every_spelling_are_followed(tmp_path: Path) -> None:
    files = build(
        tmp_path,
        {
            "k/kustomization.yaml": """
resources: []
patches:
  - path: p1.yaml
    target: {kind: Deployment}
  - p2.yaml
  - patch: |-
      - op: replace
        path: /spec/replicas
        value: 2
patchesStrategicMerge:
  - p3.yaml
  - |-
    apiVersion: v1
    kind: ConfigMap
patchesJson6902:
  - path: p4.yaml
crds: [crd.yaml]
""",
            "k/p1.yaml": "a: 1\n",
            "k/p2.yaml": "a: 1\n",
            "k/p3.yaml": "a: 1\n",
            "k/p4.yaml": "a: 1\n",
            "k/crd.yaml": "a: 1\n",
            "k/unused.yaml": "a: 1\n",
        },
    )
    tree = resolve_tree(tmp_path, "k", files)
    assert tree.files == {
        "k/kustomization.yaml",
        "k/p1.yaml",
        "k/p2.yaml",
        "k/p3.yaml",
        "k/p4.yaml",
        "k/crd.yaml",
    }
    assert tree.missing == ()


def test_generator_inputs_are_generator_files(tmp_path: Path) -> None:
    files = build(
        tmp_path,
        {
            "g/kustomization.yaml": """
secretGenerator:
  - name: creds
    files:
      - password=secrets/db.enc.txt
      - tls.crt
    envs: [app.enc.env]
  - name: legacy
    env: legacy.env
configMapGenerator:
  - name: cfg
    files: [../shared/settings.json]
""",
            "g/secrets/db.enc.txt": "x",
            "g/tls.crt": "x",
            "g/app.enc.env": "A=1",
            "g/legacy.env": "B=2",
            "shared/settings.json": "{}",
        },
    )
    tree = resolve_tree(tmp_path, "g", files)
    assert tree.generator_files == {
        "g/secrets/db.enc.txt",
        "g/tls.crt",
        "g/app.enc.env",
        "g/legacy.env",
        "shared/settings.json",
    }
    assert tree.generator_files < tree.files


def test_a_folder_without_kustomization_is_taken_whole_as_flux_does(tmp_path: Path) -> None:
    files = build(
        tmp_path,
        {
            "infra/a.yaml": "kind: Namespace\n",
            "infra/certs/issuer.yml": "kind: ClusterIssuer\n",
            "infra/certs/deep/secret.enc.yaml": "kind: Secret\n",
            "infra/README.md": "# docs\n",
            "infra/data.enc.json": "{}",
            "infra/kusto/kustomization.yaml": "resources: [listed.yaml]\n",
            "infra/kusto/listed.yaml": "kind: ConfigMap\n",
            "infra/kusto/not-listed.enc.yaml": "kind: Secret\n",
            "elsewhere/x.yaml": "kind: Secret\n",
        },
    )
    tree = resolve_tree(tmp_path, "./infra", files)
    assert tree.files == {
        "infra/a.yaml",
        "infra/certs/issuer.yml",
        "infra/certs/deep/secret.enc.yaml",
        "infra/kusto/kustomization.yaml",
        "infra/kusto/listed.yaml",
    }


def test_the_repository_root_as_start(tmp_path: Path) -> None:
    files = build(
        tmp_path,
        {"kustomization.yaml": "resources: [a.yaml, sub]\n", "a.yaml": "", "sub/b.yaml": ""},
    )
    tree = resolve_tree(tmp_path, ".", files)
    assert tree.files == {"kustomization.yaml", "a.yaml"}
    assert tree.missing == ("sub",)  # kustomize refuses a resource folder without kustomization


def test_remote_and_outside_references_are_ignored(tmp_path: Path) -> None:
    files = build(
        tmp_path,
        {
            "k/kustomization.yaml": """
resources:
  - https://github.com/fluxcd/flux2/manifests/install?ref=v2.3.0
  - github.com/org/repo//deploy?ref=main
  - git@github.com:org/repo.git
  - ../../outside
  - /etc/passwd
  - local.yaml
""",
            "k/local.yaml": "",
        },
    )
    tree = resolve_tree(tmp_path, "k", files)
    assert tree.files == {"k/kustomization.yaml", "k/local.yaml"}
    assert tree.missing == ()


def test_cycles_terminate(tmp_path: Path) -> None:
    files = build(
        tmp_path,
        {
            "a/kustomization.yaml": "resources: [../b, x.yaml]\n",
            "a/x.yaml": "",
            "b/kustomization.yaml": "resources: [../a, y.yaml]\ncomponents: [../a]\n",
            "b/y.yaml": "",
        },
    )
    tree = resolve_tree(tmp_path, "a", files)
    assert tree.files == {"a/kustomization.yaml", "a/x.yaml", "b/kustomization.yaml", "b/y.yaml"}
    assert tree.component_files == {
        "a/kustomization.yaml",
        "a/x.yaml",
        "b/kustomization.yaml",
        "b/y.yaml",
    }


def test_missing_references_are_recorded(tmp_path: Path) -> None:
    files = build(
        tmp_path,
        {
            "k/kustomization.yaml": (
                "resources: [gone.yaml, ../nowhere]\npatches: [{path: nopatch.yaml}]\n"
                "secretGenerator: [{name: s, files: [k=absent.enc.txt]}]\n"
            ),
        },
    )
    tree = resolve_tree(tmp_path, "k", files)
    assert tree.missing == ("k/absent.enc.txt", "k/gone.yaml", "k/nopatch.yaml", "nowhere")
    assert tree.generator_files == frozenset()
    assert resolve_tree(tmp_path, "no/such/dir", files).missing == ("no/such/dir",)


def test_files_outside_the_repo_file_list_count_as_missing(tmp_path: Path) -> None:
    files = build(tmp_path, {"k/kustomization.yaml": "resources: [ignored.yaml]\n"})
    (tmp_path / "k" / "ignored.yaml").write_text("kind: Secret\n")  # on disk, not in the list
    assert resolve_tree(tmp_path, "k", files).missing == ("k/ignored.yaml",)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("resources: [\n", "malformed YAML"),
        ("resources: {a: b}\n", "resources must be a list of strings"),
        ("- a\n", "a kustomization must be a mapping"),
        ("patches: [3]\n", "patches entries must be mappings or strings"),
        ("secretGenerator: [x]\n", "secretGenerator entries must be mappings"),
    ],
)
def test_a_malformed_kustomization_is_a_config_error_naming_it(
    tmp_path: Path, text: str, message: str
) -> None:
    files = build(tmp_path, {"k/kustomization.yaml": text})
    with pytest.raises(ConfigError, match=message) as info:
        resolve_tree(tmp_path, "k", files)
    assert info.value.message.startswith("k/kustomization.yaml: ")


def test_two_kustomization_files_in_one_folder_are_an_error(tmp_path: Path) -> None:
    files = build(tmp_path, {"k/kustomization.yaml": "", "k/kustomization.yml": ""})
    with pytest.raises(ConfigError, match="more than one kustomization file"):
        resolve_tree(tmp_path, "k", files)


def test_helpers() -> None:
    assert normalize("a/b", "../c/./d.yaml") == "a/c/d.yaml"
    assert normalize(".", "x") == "x"
    assert normalize("a", "../../x") is None
    assert is_remote("https://example.com/x.yaml")
    assert is_remote("github.com/org/repo/deploy")
    assert not is_remote("../github.com-notes/x.yaml")
