"""The hook judges what a commit really does: real git, real pre-commit, the demo repository.

Each case stages one change and commits through the installed hook: a change that leaves a
secret readable by the wrong party, or undecryptable by Flux, is blocked; one that only drifts
(a warning) passes, and ``pre-commit run --verbose`` shows the warning.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from tests.audit.helpers import enc, secret

from .conftest import VENV_BIN, _run

CLUSTER_KEY = "age1fq08vpk2qf5wmz4cg6w5uzqt2hqrz56dzp25pj57nrx606073frqc0n3qw"
ADMIN_KEY = "age1xfmf59p8t2m533vyfcv79rau54eahzeyudzsavganjpee5nakehqe2jp0u"


def _commit(repo: Path, env: dict[str, str], *paths: str) -> tuple[int, str]:
    _run(["git", "add", "-A", "--", *paths], repo, env)
    done = _run(["git", "commit", "--no-gpg-sign", "-m", "change"], repo, env, check=False)
    return done.returncode, done.stdout + done.stderr


def _verbose(repo: Path, env: dict[str, str]) -> tuple[int, str]:
    done = _run(
        [str(VENV_BIN / "pre-commit"), "run", "secretsmgr-check", "--verbose"],
        repo,
        env,
        check=False,
    )
    return done.returncode, done.stdout + done.stderr


def test_a_kustomization_losing_its_decryption_is_blocked(
    gitops: Path, hook_env: dict[str, str]
) -> None:
    path = gitops / "clusters/homelab/databases-kustomization.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(re.sub(r"  decryption:\n(    .*\n)+", "", text), encoding="utf-8")
    code, output = _commit(gitops, hook_env, "clusters/homelab/databases-kustomization.yaml")
    assert code != 0, output
    assert "gitops/apps/postgresql/credentials.enc.yaml: SM010" in output


def test_a_sops_yaml_change_shows_the_drift_it_causes(
    gitops: Path, hook_env: dict[str, str]
) -> None:
    path = gitops / ".sops.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("," + ADMIN_KEY, ""), encoding="utf-8")
    _run(["git", "add", ".sops.yaml"], gitops, hook_env)
    code, output = _verbose(gitops, hook_env)
    assert code == 0, output  # drift is a warning: nothing is readable by the wrong party
    assert "gitops/apps/redis/auth.enc.yaml: SM011" in output
    assert "gitops/infrastructure/cert-manager/cloudflare-api-token.enc.yaml: SM011" in output


def test_a_staged_copy_is_compared_with_the_tracked_files(
    gitops: Path, hook_env: dict[str, str]
) -> None:
    shutil.copy(gitops / "gitops/apps/redis/auth.enc.yaml", gitops / "gitops/apps/redis/x.enc.yaml")
    _run(["git", "add", "gitops/apps/redis/x.enc.yaml"], gitops, hook_env)
    code, output = _verbose(gitops, hook_env)
    assert code == 0 and "gitops/apps/redis/x.enc.yaml: SM014" in output, output


def test_a_plaintext_value_in_a_staged_sops_file_is_blocked(
    gitops: Path, hook_env: dict[str, str]
) -> None:
    from secretsmgr.sops import EncryptionRule, RuleKind

    text = secret("redis-auth", {"password": "clear-redis-pw"}) + "data:\n  x: eA==\n"
    rule = EncryptionRule(RuleKind.ENCRYPTED_REGEX, "^data$")
    target = gitops / "gitops/apps/redis/auth.enc.yaml"
    target.write_text(enc(text, (CLUSTER_KEY, ADMIN_KEY), rule=rule), encoding="utf-8")
    code, output = _commit(gitops, hook_env, "gitops/apps/redis/auth.enc.yaml")
    assert code != 0, output
    assert "gitops/apps/redis/auth.enc.yaml: SM003" in output
    assert "clear-redis-pw" not in output


def test_a_rename_into_a_layer_without_decryption_is_blocked(
    gitops: Path, hook_env: dict[str, str]
) -> None:
    _run(
        [
            "git",
            "mv",
            "gitops/apps/redis/auth.enc.yaml",
            "clusters/homelab/flux-system/auth.enc.yaml",
        ],
        gitops,
        hook_env,
    )
    kust = gitops / "gitops/apps/redis/kustomization.yaml"
    kust.write_text(kust.read_text(encoding="utf-8").replace("  - auth.enc.yaml\n", ""), "utf-8")
    flux = gitops / "clusters/homelab/flux-system/kustomization.yaml"
    flux.write_text(flux.read_text(encoding="utf-8") + "  - auth.enc.yaml\n", encoding="utf-8")
    code, output = _commit(gitops, hook_env)
    assert code != 0, output
    assert "clusters/homelab/flux-system/auth.enc.yaml: SM010" in output


def test_deleting_the_last_key_flux_holds_is_blocked(
    gitops: Path, hook_env: dict[str, str]
) -> None:
    target = gitops / "gitops/apps/redis/auth.enc.yaml"
    target.write_text(enc(secret("redis-auth"), (ADMIN_KEY,)), encoding="utf-8")
    code, output = _commit(gitops, hook_env, "gitops/apps/redis/auth.enc.yaml")
    assert code != 0, output
    assert "gitops/apps/redis/auth.enc.yaml: SM004" in output


def test_an_unrelated_commit_passes(gitops: Path, hook_env: dict[str, str]) -> None:
    readme = gitops / "README.md"
    readme.write_text(readme.read_text(encoding="utf-8") + "\nmore notes\n", encoding="utf-8")
    code, output = _commit(gitops, hook_env, "README.md")
    assert code == 0, output
