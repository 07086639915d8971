"""What ``init`` writes, piece by piece: rules from the Flux model, the pre-commit config."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from secretsmgr.init.rules import PathGroup, path_groups
from secretsmgr.init.texts import has_hook, precommit_text, sops_yaml_text, with_hook
from secretsmgr.repo.inventory import load_inventory
from secretsmgr.repo.settings import ClusterSpec, Settings, parse_settings
from secretsmgr.repo.settingsfile import render_settings
from secretsmgr.repo.sopsconfig import parse_sops_config
from secretsmgr.sops.regex import compile_go
from secretsmgr.sops.yamlio import safe_load_all
from tests.init.helpers import (
    commit,
    configmap,
    kustomization,
    layer,
    one_cluster_repo,
    two_cluster_repo,
)

K1 = "age17m4zztwdtjwv5yastfc6v72cjnsrn7yuxlpmgwgr5c8s52lst4jq9x0tvy"
K2 = "age1wk59fr3he9n3qw722fh85e6udyj2geqwcfu5anaql9xd2dam0c0qfp8vss"
K3 = "age1d7u0zvv3mvs79d268nzswczue4qf0xvntel8rstr37w8hsywsdasj9uw0l"


def test_one_cluster_gets_one_rule_over_its_top_folders(tmp_path: Path) -> None:
    repo = one_cluster_repo(tmp_path / "repo")
    (group,) = path_groups(load_inventory(repo).layers)
    assert group == PathGroup(("prod",), ("apps/", "clusters/"))
    assert group.path_regex == "^(?:apps/|clusters/)"


def test_shared_folders_get_a_rule_naming_every_cluster_that_applies_them(
    tmp_path: Path,
) -> None:
    repo = two_cluster_repo(tmp_path / "repo")
    groups = path_groups(load_inventory(repo).layers)
    assert [(g.clusters, g.paths) for g in groups] == [
        (("production",), ("apps/production/", "clusters/production/")),
        (("staging",), ("apps/staging/", "clusters/staging/")),
        (("production", "staging"), ("apps/base/",)),
    ]


def test_a_file_at_the_top_is_matched_exactly_and_nothing_else_is_claimed(
    tmp_path: Path,
) -> None:
    repo = one_cluster_repo(tmp_path / "repo")
    layer(repo, "prod", "top", ".")  # a layer over the whole checkout, as some repos do
    kustomization(repo, ".", "root-cm.yaml")
    configmap(repo, "root-cm.yaml", "root")
    (repo / "talos").mkdir()
    (repo / "talos" / "secret.sops.yaml").write_text("a: 1\n")
    commit(repo, "top layer")
    groups = path_groups(load_inventory(repo).layers)
    paths = [p for g in groups for p in g.paths]
    assert "root-cm.yaml" in paths and "kustomization.yaml" in paths
    assert not any(p.startswith("talos") for p in paths)
    regex = compile_go(groups[0].path_regex)
    assert regex.search("root-cm.yaml") and not regex.search("root-cm.yaml.bak")
    assert not regex.search("talos/secret.sops.yaml")


def test_special_characters_of_folder_names_are_escaped_for_re2() -> None:
    group = PathGroup(("a",), ("apps (old)/", "x.y+z/", "a[1].yaml"))
    regex = compile_go(group.path_regex)
    assert regex.search("apps (old)/secret.yaml")
    assert regex.search("x.y+z/s.yaml") and not regex.search("xzy+z/s.yaml")
    assert regex.search("a[1].yaml") and not regex.search("a1.yaml")


def test_the_sops_yaml_names_each_cluster_key_and_the_allowed_ones(tmp_path: Path) -> None:
    groups = [PathGroup(("a",), ("apps/a/",)), PathGroup(("a", "b"), ("base/",))]
    text = sops_yaml_text(groups, {"a": K1, "b": K2}, [K3])
    config = parse_sops_config(text, tmp_path / ".sops.yaml")
    assert [r.key_groups[0].age for r in config.rules] == [(K1, K3), (K1, K2, K3)]
    assert {r.encryption_rule.value for r in config.rules if r.encryption_rule} == {
        "^(data|stringData)$"
    }


def test_settings_render_with_every_value_and_read_back() -> None:
    from secretsmgr.repo.settings import IgnoreEntry

    settings = Settings(
        cluster_key=None,
        allowed_recipients=(K3,),
        max_age_days=30,
        changelog="ops/log.jsonl",
        ignore=(
            IgnoreEntry("SM009", 'keys/"odd" *.agekey', "test: keys"),
            IgnoreEntry("SM018", "apps/**", "image tags", key_path="spec.values.*.tag"),
        ),
        clusters=(
            ClusterSpec("staging", "clusters/staging", K1, "stage-ctx"),
            ClusterSpec("prod: eu", "clusters/prod", K2, None),
        ),
        sources=(("OCIRepository/flux-system/cluster", "kubernetes/"),),
        outside_flux=("talos/**",),
    )
    text = render_settings(settings)
    assert parse_settings(text) == settings
    assert text.startswith("# yaml-language-server: $schema=https://")
    assert parse_settings(render_settings(Settings())) == Settings()


def test_a_hook_is_added_to_a_block_list_of_repos_and_nothing_else_changes() -> None:
    text = (
        "# mine\ndefault_stages: [pre-commit]\nrepos:\n"
        "- repo: https://github.com/pre-commit/pre-commit-hooks\n  rev: v4.6.0\n"
        "  hooks:\n  - id: trailing-whitespace\n\n# the end\nci:\n  autofix_prs: false\n"
    )
    assert not has_hook(text)
    added = with_hook(text)
    assert added is not None and has_hook(added)
    doc = safe_load_all(added)[0]
    assert [r["repo"] for r in doc["repos"]] == [
        "https://github.com/pre-commit/pre-commit-hooks",
        "https://github.com/secretsmgr/secretsmgr",
    ]
    assert doc["ci"] == {"autofix_prs": False} and doc["default_stages"] == ["pre-commit"]
    assert added.startswith("# mine\n")
    assert with_hook("repos: []\n") is None  # a flow list: init says what to add instead


@pytest.mark.skipif(shutil.which("git") is None, reason="git")
def test_real_pre_commit_accepts_the_config_init_writes(tmp_path: Path) -> None:
    config = tmp_path / ".pre-commit-config.yaml"
    config.write_text(precommit_text())
    done = subprocess.run(
        [sys.executable, "-m", "pre_commit", "validate-config", str(config)],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PRE_COMMIT_HOME": str(tmp_path)},
    )
    assert done.returncode == 0, done.stdout + done.stderr
