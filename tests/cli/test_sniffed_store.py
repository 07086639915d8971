"""A SOPS file under a name that says no store (a secretGenerator source such as
``.env.secret.app.encrypted``, which Flux decrypts by its metadata) is read in the store its
metadata is written in, by every command, against the real sops."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from secretsmgr.sops.document import FileFormat, format_for_text, sniff_store
from tests.conftest import TEST_KEY, run_sops

from .runner import run

PUB1 = "age17m4zztwdtjwv5yastfc6v72cjnsrn7yuxlpmgwgr5c8s52lst4jq9x0tvy"
NAME = "apps/.env.secret.app.encrypted"
PLAIN = "DATABASE_URL=postgres://app:s3cr3t-Value-42@db:5432/app\nAUTH_SECRET=aZ9xQ2wE7rT5yU1i\n"


def _sops_dotenv(repo: Path) -> Path:
    """The file as a user makes it: sops with the dotenv store named on the command line."""
    path = repo / NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(PLAIN)
    args = ["encrypt", "--input-type", "dotenv", "--output-type", "dotenv", "--age", PUB1]
    done = run_sops([*args, "-i", str(path)], cwd=repo)
    assert done.returncode == 0, done.stderr
    return path


def _sops_decrypts(path: Path) -> str:
    args = ["decrypt", "--input-type", "dotenv", "--output-type", "dotenv", str(path)]
    done = run_sops(args, cwd=path.parent, key_file=TEST_KEY)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(TEST_KEY))
    return root


def test_the_store_comes_from_the_metadata_when_the_name_says_none() -> None:
    text = "A=ENC[AES256_GCM,data:x]\nsops_mac=ENC[AES256_GCM,data:y]\n"
    assert sniff_store(text.encode()) is FileFormat.DOTENV
    assert format_for_text(NAME, text) is FileFormat.DOTENV
    assert format_for_text("apps/notes.txt", "A=1\n") is FileFormat.YAML  # as before
    assert sniff_store(b"[sops]\nmac = ENC[AES256_GCM,data:y]\n") is FileFormat.INI
    assert sniff_store(b'{\n\t"sops": {\n\t\t"mac": "ENC[AES256_GCM,data:y]"\n') is FileFormat.JSON


@pytest.mark.interop
def test_audit_decrypt_and_rotate_read_it_as_dotenv(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # activescott/home-infra-k8s-flux: 32 such files, and audit counted none of them
    path = _sops_dotenv(repo)
    _code, out, _ = run(["--repo", str(repo), "audit", "--format", "json"], capsys)
    assert json.loads(out)["summary"]["sops_files"] == 1
    assert run(["--repo", str(repo), "decrypt", str(path)], capsys) == (0, _sops_decrypts(path), "")
    (repo / ".sops.yaml").write_text(f"creation_rules:\n  - age: {PUB1}\n")
    code, out, err = run(["--repo", str(repo), "rotate", "--all", "--allow-dirty"], capsys)
    assert code == 0, err
    assert "sops_mac=ENC[" in path.read_text()  # still the dotenv store
    assert _sops_decrypts(path) == PLAIN


@pytest.mark.interop
def test_a_value_added_in_clear_is_sm003(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _sops_dotenv(repo)
    path.write_text("LEAKED=hunter2-in-clear\n" + path.read_text())
    code, out, _ = run(["--repo", str(repo), "audit", "--format", "json"], capsys)
    found = {(f["rule"], f["path"], f.get("key_path")) for f in json.loads(out)["findings"]}
    assert ("SM003", NAME, "LEAKED") in found
    assert code == 1
