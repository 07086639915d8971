"""The kustomize build as kustomize-controller runs it: which files one build reads, and how."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from secretsmgr.repo.flux.build import (
    Artifact,
    Builder,
    RepoFiles,
    UseKind,
    flux_overlay,
    is_remote,
)
from secretsmgr.repo.flux.ignore import SourceFilter
from secretsmgr.repo.git import walk_files


def build(root: Path, files: dict[str, str]) -> set[str]:
    """Write ``files`` under ``root`` and return the repo file set."""
    for rel, text in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return set(walk_files(root))


@dataclass(frozen=True)
class Tree:
    files: frozenset[str]
    component_files: frozenset[str]
    generator_files: frozenset[str]
    kustomization_files: frozenset[str]
    missing: tuple[str, ...]
    problems: tuple[str, ...]
    uses: dict[str, set[UseKind]]


def resolve_tree(root: Path, start: str, files: set[str]) -> Tree:
    """Build ``start`` (a folder of the repository at ``root``) with no Flux overlay."""
    repo = RepoFiles(sorted(files), lambda p: (root / p).read_bytes())
    folder = start.removeprefix("./") or "."
    result = Builder(repo, Artifact("", SourceFilter([]))).build(
        folder, flux_overlay((), (), None, "", "")
    )
    generators = {UseKind.SECRET_FILE, UseKind.SECRET_ENV, UseKind.CONFIGMAP_SOURCE}
    return Tree(
        files=frozenset(result.uses),
        component_files=frozenset(
            p for p, u in result.uses.items() if any(x.via_component for x in u)
        ),
        generator_files=frozenset(
            p for p, u in result.uses.items() if any(x.kind in generators for x in u)
        ),
        kustomization_files=frozenset(
            p for p, u in result.uses.items() if any(x.kind is UseKind.KUSTOMIZATION for x in u)
        ),
        missing=tuple(sorted(result.missing)),
        problems=tuple(result.problems),
        uses={p: {x.kind for x in u} for p, u in result.uses.items()},
    )


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
    # kustomize-controller decrypts files named by `patches:` (>= v1.5), never the legacy fields
    assert tree.uses["k/p1.yaml"] == tree.uses["k/p2.yaml"] == {UseKind.PATCH}
    assert tree.uses["k/p3.yaml"] == tree.uses["k/p4.yaml"] == {UseKind.LEGACY_PATCH}
    assert tree.uses["k/crd.yaml"] == {UseKind.OTHER}


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
    assert tree.uses["g/secrets/db.enc.txt"] == {UseKind.SECRET_FILE}
    assert tree.uses["g/app.enc.env"] == tree.uses["g/legacy.env"] == {UseKind.SECRET_ENV}
    assert tree.uses["shared/settings.json"] == {UseKind.CONFIGMAP_SOURCE}


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
        ("- a\n", "a kustomization must be a mapping"),
        ("patches: [3]\n", "a patches entry is not a mapping"),
        ("secretGenerator: [x]\n", "a secretGenerator entry is not a mapping"),
    ],
)
def test_a_malformed_kustomization_is_a_problem_naming_it_never_a_crash(
    tmp_path: Path, text: str, message: str
) -> None:
    # One broken kustomization (a template, a typo) must not stop the audit of the rest.
    files = build(tmp_path, {"k/kustomization.yaml": text, "k/s.enc.yaml": "kind: Secret\n"})
    tree = resolve_tree(tmp_path, "k", files)
    assert any(p.startswith("k/kustomization.yaml: ") and message in p for p in tree.problems)


def test_two_kustomization_files_in_one_folder_are_a_problem(tmp_path: Path) -> None:
    files = build(tmp_path, {"k/kustomization.yaml": "", "k/kustomization.yml": ""})
    tree = resolve_tree(tmp_path, "k", files)
    assert tree.problems == ("k: more than one kustomization file",)


def test_helpers() -> None:
    assert is_remote("https://example.com/x.yaml")
    assert is_remote("github.com/org/repo/deploy")
    assert not is_remote("../github.com-notes/x.yaml")
