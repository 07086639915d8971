"""age plugin recipients (``age1yubikey1…``) in `.sops.yaml` rules and ``allowed_recipients``.

Wrapping a data key for a plugin recipient runs ``age-plugin-NAME`` (the recipient-v1 phase of
the age plugin protocol), as sops 3.11 does; the hardware is never needed for it. The plugin
here is ``tests/keys/age_plugin_smtest.py``: its recipients carry an X25519 public key and it
wraps into ordinary X25519 stanzas, so the matching native key opens what it wrapped, and the
real sops checks both the plugin and secretsmgr (sweep 21, Onmar/home-prod: two YubiKeys'
recipients beside the cluster key in every rule).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from secretsmgr.keys.age import generate_identity
from secretsmgr.repo.settings import load_settings
from secretsmgr.sops import FileFormat, load
from tests.cli.runner import run
from tests.conftest import GIT_ENV, git, run_sops
from tests.keys.age_plugin_smtest import install, plugin_recipient

pytestmark = pytest.mark.interop

SECRET = (
    "apiVersion: v1\nkind: Secret\nmetadata:\n    name: app\n    namespace: apps\n"
    "stringData:\n    password: plugged-in-42\n"
)


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path | str]:
    """A Flux repository whose rule names the cluster key and a plugin recipient (a YubiKey's
    stand-in) whose native key is kept aside to prove what was wrapped for it."""
    for name, value in GIT_ENV.items():
        monkeypatch.setenv(name, value)
    cluster_secret, cluster = generate_identity()
    token_secret, token_native = generate_identity()
    token = plugin_recipient(token_native)
    root = tmp_path / "repo"
    (root / "clusters/home").mkdir(parents=True)
    (root / "apps").mkdir()
    (root / "clusters/home/apps.yaml").write_text(
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n"
        "metadata:\n  name: apps\n  namespace: flux-system\nspec:\n  path: ./apps\n"
        "  sourceRef:\n    kind: GitRepository\n    name: flux-system\n"
        "  decryption:\n    provider: sops\n    secretRef:\n      name: sops-age\n",
        encoding="utf-8",
    )
    (root / ".sops.yaml").write_text(
        "creation_rules:\n  - path_regex: .*\\.sops\\.yaml$\n"
        "    encrypted_regex: ^(data|stringData)$\n    key_groups:\n      - age:\n"
        f"          - {cluster}  # the controller\n          - {token}  # a YubiKey\n",
        encoding="utf-8",
    )
    bin_dir = tmp_path / "bin"
    install(bin_dir)
    cluster_key = tmp_path / "cluster.agekey"
    cluster_key.write_text(cluster_secret + "\n", encoding="utf-8")
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(cluster_key))
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    return {
        "root": root,
        "bin": bin_dir,
        "cluster": cluster,
        "cluster_key": cluster_key,
        "token": token,
        "token_secret": token_secret,
    }


def recipients(path: Path) -> tuple[str, ...]:
    return load(path.read_text(encoding="utf-8"), FileFormat.YAML).metadata.age_recipients


def opens_with(path: Path, secret: str, cwd: Path) -> str:
    """What the real sops decrypts ``path`` to with only ``secret``."""
    done = run_sops(["decrypt", str(path)], cwd=cwd, key_text=secret)
    assert done.returncode == 0, done.stderr
    return done.stdout


def commit_all(root: Path) -> None:
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "start")


def sops_encrypt(repo: dict[str, Path | str], path: Path) -> None:
    """The real sops encrypts ``path`` in place by the rule, the plugin on its PATH."""
    done = run_sops(
        ["encrypt", "-i", str(path)], cwd=Path(repo["root"]), path=f"{repo['bin']}:/usr/bin:/bin"
    )
    assert done.returncode == 0, done.stderr


def test_a_plugin_recipient_gets_its_data_key_through_the_plugin_and_sops_agrees(
    repo: dict[str, Path | str], capsys: pytest.CaptureFixture[str]
) -> None:
    root, token = Path(repo["root"]), str(repo["token"])
    target = root / "apps/app.sops.yaml"
    target.write_text(SECRET, encoding="utf-8")
    run(["--repo", str(root), "encrypt", "-i", str(target)], capsys, expect=0)
    assert recipients(target) == (repo["cluster"], token)
    # the token's stanza opens with the token's key alone: the plugin wrapped it
    assert opens_with(target, str(repo["token_secret"]), root) == SECRET

    # sops wraps for the same recipient through the same plugin; secretsmgr reads its file
    by_sops = root / "apps/other.sops.yaml"
    by_sops.write_text(SECRET, encoding="utf-8")
    sops_encrypt(repo, by_sops)
    assert recipients(by_sops) == (repo["cluster"], token)
    code, out, _ = run(["--repo", str(root), "decrypt", str(by_sops)], capsys)
    assert (code, out) == (0, SECRET)


def test_init_keeps_the_plugin_recipient_allowed_and_rotate_keeps_it_on_the_files(
    repo: dict[str, Path | str], capsys: pytest.CaptureFixture[str]
) -> None:
    root, token = Path(repo["root"]), str(repo["token"])
    target = root / "apps/app.sops.yaml"
    target.write_text(SECRET, encoding="utf-8")
    sops_encrypt(repo, target)
    commit_all(root)

    code, out, _ = run(["--repo", str(root), "init"], capsys, may_warn=["note:"])
    assert code == 0
    assert "SM005" not in out  # the YubiKey is not a stranger on the files it is on
    settings = load_settings(root)
    assert (settings.cluster_key, settings.allowed_recipients) == (repo["cluster"], (token,))
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "init")
    code, out, _ = run(["--repo", str(root), "audit", "--format", "json"], capsys)
    assert code == 0 and "SM005" not in out and "SM004" not in out

    old = target.read_bytes()
    run(["--repo", str(root), "rotate", "--all", "--reason", "yearly"], capsys, expect=0)
    assert target.read_bytes() != old
    assert recipients(target) == (repo["cluster"], token)
    assert opens_with(target, str(repo["token_secret"]), root) == SECRET


def test_without_the_plugin_program_nothing_is_written_and_the_plugin_is_named(
    repo: dict[str, Path | str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root = Path(repo["root"])
    target = root / "apps/app.sops.yaml"
    target.write_text(SECRET, encoding="utf-8")
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    code, out, err = run(["--repo", str(root), "encrypt", "-i", str(target)], capsys)
    assert (code, out) == (2, "")
    token = str(repo["token"])
    missing = f"age plugin recipient {token[:8]}…{token[-4:]} needs age-plugin-smtest"
    hint = "install age-plugin-smtest (or put it on PATH): it wraps data keys for it"
    assert err.splitlines() == [
        f"secretsmgr: error: {target}: {missing}, which is not on PATH",
        f"secretsmgr: hint: {hint}",
    ]
    assert target.read_text(encoding="utf-8") == SECRET
    assert sorted(p.name for p in target.parent.iterdir()) == ["app.sops.yaml"]

    # a rotation stops before its first write, every file as it was
    sops_encrypt(repo, target)
    commit_all(root)
    before = target.read_bytes()
    code, out, err = run(["--repo", str(root), "rotate", "--all"], capsys)
    assert code == 2
    assert missing in err and hint in err
    assert target.read_bytes() == before
    assert git(root, "status", "--porcelain") == ""


def test_a_plugin_recipient_is_no_cluster_key(
    repo: dict[str, Path | str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root, token = Path(repo["root"]), str(repo["token"])
    monkeypatch.setenv("SECRETSMGR_CLUSTER_KEY", token)
    code, out, err = run(["--repo", str(root), "audit"], capsys)
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        "secretsmgr: error: SECRETSMGR_CLUSTER_KEY is an age plugin recipient "
        "(age-plugin-smtest): Flux cannot decrypt with a plugin's key, so it cannot be a "
        "cluster key",
        "secretsmgr: hint: list it under allowed_recipients in .secretsmgr.yaml",
    ]
    monkeypatch.delenv("SECRETSMGR_CLUSTER_KEY")
    (root / ".secretsmgr.yaml").write_text(f"cluster_key: {token}\n", encoding="utf-8")
    code, out, err = run(["--repo", str(root), "audit"], capsys)
    assert (code, out) == (2, "")
    assert "cluster_key must be an age public key" in err
    (root / ".secretsmgr.yaml").write_text(
        f"cluster_key: {repo['cluster']}\nallowed_recipients:\n  - {token}\n", encoding="utf-8"
    )
    assert load_settings(root).allowed_recipients == (token,)


def test_a_plugin_program_that_fails_is_named_and_nothing_is_written(
    repo: dict[str, Path | str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    root = Path(repo["root"])
    target = root / "apps/app.sops.yaml"
    target.write_text(SECRET, encoding="utf-8")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "age-plugin-smtest").write_text("#!/bin/sh\nexit 3\n", encoding="utf-8")
    (broken / "age-plugin-smtest").chmod(0o755)
    monkeypatch.setenv("PATH", f"{broken}:/usr/bin:/bin")
    code, out, err = run(["--repo", str(root), "encrypt", "-i", str(target)], capsys)
    assert (code, out) == (2, "")
    token = str(repo["token"])
    assert err == (
        f"secretsmgr: error: {target}: age-plugin-smtest could not wrap a data key for "
        f"{token[:8]}…{token[-4:]}\n"
    )
    assert target.read_text(encoding="utf-8") == SECRET
