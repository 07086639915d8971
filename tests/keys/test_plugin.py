"""age plugin identities through the real plugin protocol (pyrage runs the plugin program).

The plugin is ``tests/keys/age_plugin_smtest.py`` (X25519 behind the plugin protocol); the real
sops 3.11 opens the same file through the same plugin first, so the plugin is checked against
filippo.io/age's client before secretsmgr is checked against it.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from secretsmgr.keys.age import generate_identity
from tests.cli.runner import run
from tests.conftest import run_sops
from tests.keys.age_plugin_smtest import install, plugin_identity

pytestmark = pytest.mark.interop

PLAIN = "stringData:\n    password: plugged-in-42\n"


@pytest.fixture
def setup(tmp_path: Path) -> dict[str, str | Path]:
    """A file sops encrypted to an age1 key whose secret only the plugin identity carries."""
    secret, public = generate_identity()
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / ".sops.yaml").write_text(
        f"creation_rules:\n  - path_regex: .*\\.enc\\.yaml$\n    age: {public}\n",
        encoding="utf-8",
    )
    (repo / "s.enc.yaml").write_text(PLAIN, encoding="utf-8")
    bin_dir = tmp_path / "bin"
    install(bin_dir)
    keys = tmp_path / "plugin-keys.txt"
    keys.write_text(f"# an age plugin identity\n{plugin_identity(secret)}\n", encoding="utf-8")
    return {"repo": repo, "bin": bin_dir, "keys": keys, "identity": plugin_identity(secret)}


def sops(args: list[str], cwd: Path, path: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The real sops, with ``path`` as its PATH (where it finds the plugin)."""
    return run_sops(args, cwd=cwd, path=path, extra_env=env)


def test_a_plugin_identity_opens_what_sops_opens_through_the_same_plugin(
    setup: dict[str, str | Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo, bin_dir = Path(setup["repo"]), Path(setup["bin"])
    path = f"{bin_dir}:/usr/bin:/bin"
    assert sops(["encrypt", "-i", "s.enc.yaml"], repo, "/usr/bin:/bin").returncode == 0
    by_sops = sops(["decrypt", "s.enc.yaml"], repo, path, SOPS_AGE_KEY=str(setup["identity"]))
    assert by_sops.returncode == 0, by_sops.stderr
    assert by_sops.stdout == PLAIN

    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(setup["keys"]))
    code, out, err = run(["--repo", str(repo), "decrypt", str(repo / "s.enc.yaml")], capsys)
    assert (code, out, err) == (0, by_sops.stdout, "")
    # what the plugin tells the user reaches stderr; its identity text never appears
    monkeypatch.setenv("SMTEST_SAY", "touch your key")
    code, out, err = run(
        ["--repo", str(repo), "decrypt", str(repo / "s.enc.yaml")],
        capsys,
        notes=["secretsmgr: touch your key"],
    )
    assert (code, out, err) == (0, PLAIN, "secretsmgr: touch your key\n")
    code, out, err = run(["key", "show"], capsys, expect=0, secrets=[str(setup["identity"])])
    assert f"age-plugin-smtest identity …{str(setup['identity'])[-4:].lower()}" in out
    assert str(setup["identity"]) not in out + err


def test_a_missing_plugin_program_is_named(
    setup: dict[str, str | Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo = Path(setup["repo"])
    assert sops(["encrypt", "-i", "s.enc.yaml"], repo, "/usr/bin:/bin").returncode == 0
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(setup["keys"]))
    code, out, err = run(["--repo", str(repo), "decrypt", str(repo / "s.enc.yaml")], capsys)
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        "secretsmgr: error: the age plugin identity on line 2 of SOPS_AGE_KEY_FILE needs "
        "age-plugin-smtest, which is not on PATH",
        "secretsmgr: hint: install age-plugin-smtest (or put it on PATH), or remove that line",
    ]
    assert str(setup["identity"]) not in err
