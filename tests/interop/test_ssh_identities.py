"""ssh keys as age recipients and identities, both ways against the real sops 3.11.

Keys are made here with the real ``ssh-keygen`` (ed25519 and rsa, one of them with a
passphrase); sops reads the private key from ``SOPS_AGE_SSH_PRIVATE_KEY_FILE`` or ``~/.ssh``,
and so does secretsmgr.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.cli.runner import run
from tests.conftest import FIXTURES, run_sops
from tests.keys.sshkeys import keygen

pytestmark = pytest.mark.interop

DEMO_KEY = FIXTURES / "keys" / "demo-only.agekey"
DEMO_PUBLIC = "age1fq08vpk2qf5wmz4cg6w5uzqt2hqrz56dzp25pj57nrx606073frqc0n3qw"
PASSWORD = "ssh-interop-Value-7"
PLAIN = f"""apiVersion: v1
kind: Secret
metadata:
  name: db
stringData:
  password: {PASSWORD}
"""


def sops(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """The real sops; ``env`` adds variables (the ssh key file) to its scratch environment."""
    return run_sops(args, cwd=cwd, extra_env=env)


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, Path | str]:
    folder = tmp_path / "keys"
    folder.mkdir()
    return {
        "ed": folder / "ed",
        "ed_pub": keygen(folder / "ed", "ed25519"),
        "rsa": folder / "rsa",
        "rsa_pub": keygen(folder / "rsa", "rsa"),
    }


def repo_with(tmp_path: Path, *recipients: str, allowed: tuple[str, ...] = ()) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    listed = ", ".join(recipients)
    (root / ".sops.yaml").write_text(
        "creation_rules:\n"
        "  - path_regex: .*\\.enc\\.yaml$\n"
        "    encrypted_regex: ^(data|stringData)$\n"
        f"    age: {json.dumps(listed)}\n",
        encoding="utf-8",
    )
    settings = f"cluster_key: {DEMO_PUBLIC}\n"
    if allowed:
        settings += "allowed_recipients:\n" + "".join(f"  - {json.dumps(a)}\n" for a in allowed)
    (root / ".secretsmgr.yaml").write_text(settings, encoding="utf-8")
    (root / "db.enc.yaml").write_text(PLAIN, encoding="utf-8")
    return root


def metadata_recipients(path: Path) -> list[str]:
    return [
        line.split("recipient: ", 1)[1].strip()
        for line in path.read_text(encoding="utf-8").splitlines()
        if "recipient: " in line
    ]


def test_sops_encrypts_to_ssh_recipients_and_we_decrypt_with_each_key(
    tmp_path: Path,
    keys: dict[str, Path | str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root = repo_with(tmp_path, str(keys["ed_pub"]), str(keys["rsa_pub"]))
    made = sops(["encrypt", "-i", "db.enc.yaml"], root)
    assert made.returncode == 0, made.stderr
    # sops keeps each recipient exactly as .sops.yaml gives it, comment included
    assert metadata_recipients(root / "db.enc.yaml") == [keys["ed_pub"], keys["rsa_pub"]]
    expected = sops(["decrypt", "db.enc.yaml"], root, SOPS_AGE_SSH_PRIVATE_KEY_FILE=str(keys["ed"]))
    assert expected.returncode == 0, expected.stderr
    assert PASSWORD in expected.stdout

    # the variable sops reads ...
    monkeypatch.setenv("SOPS_AGE_SSH_PRIVATE_KEY_FILE", str(keys["ed"]))
    code, out, err = run(["--repo", str(root), "decrypt", str(root / "db.enc.yaml")], capsys)
    assert (code, err) == (0, "")
    assert out == expected.stdout
    # ... and ~/.ssh/id_rsa, where sops looks without it
    monkeypatch.delenv("SOPS_AGE_SSH_PRIVATE_KEY_FILE")
    ssh_dir = Path(os.environ["HOME"]) / ".ssh"
    ssh_dir.mkdir()
    shutil.copy(keys["rsa"], ssh_dir / "id_rsa")
    code, out, err = run(["--repo", str(root), "decrypt", str(root / "db.enc.yaml")], capsys)
    assert (code, err) == (0, "")
    assert out == expected.stdout


def test_we_encrypt_to_ssh_recipients_and_sops_decrypts_with_the_ssh_key(
    tmp_path: Path,
    keys: dict[str, Path | str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ssh_pubs = (str(keys["ed_pub"]), str(keys["rsa_pub"]))
    root = repo_with(tmp_path, DEMO_PUBLIC, *ssh_pubs, allowed=ssh_pubs)
    code, _, err = run(["--repo", str(root), "encrypt", "-i", str(root / "db.enc.yaml")], capsys)
    assert (code, err) == (0, "")
    assert PASSWORD not in (root / "db.enc.yaml").read_text(encoding="utf-8")
    assert metadata_recipients(root / "db.enc.yaml") == [
        DEMO_PUBLIC,
        keys["ed_pub"],
        keys["rsa_pub"],
    ]
    for key in ("ed", "rsa"):
        opened = sops(
            ["decrypt", "db.enc.yaml"], root, SOPS_AGE_SSH_PRIVATE_KEY_FILE=str(keys[key])
        )
        assert opened.returncode == 0, (key, opened.stderr)
        assert f"password: {PASSWORD}" in opened.stdout
    # a rotation keeps the ssh recipients allowed_recipients lists (each exactly as in
    # .sops.yaml), so sops still reads it with an ssh key alone
    monkeypatch.setenv("SOPS_AGE_SSH_PRIVATE_KEY_FILE", str(keys["ed"]))
    code, _, err = run(
        ["--repo", str(root), "rotate", "--allow-dirty", str(root / "db.enc.yaml")], capsys
    )
    assert code == 0, err
    again = sops(["decrypt", "db.enc.yaml"], root, SOPS_AGE_SSH_PRIVATE_KEY_FILE=str(keys["rsa"]))
    assert again.returncode == 0, again.stderr
    assert f"password: {PASSWORD}" in again.stdout


def test_a_passphrase_protected_ssh_key_is_named_as_unsupported(
    tmp_path: Path,
    keys: dict[str, Path | str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    locked = tmp_path / "keys" / "locked"
    locked_pub = keygen(locked, "ed25519", passphrase="open sesame")
    root = repo_with(tmp_path, locked_pub, str(keys["ed_pub"]))
    assert sops(["encrypt", "-i", "db.enc.yaml"], root).returncode == 0
    target = str(root / "db.enc.yaml")

    # named by the variable: an error (exit 2) that says what is wrong, and nothing else
    monkeypatch.setenv("SOPS_AGE_SSH_PRIVATE_KEY_FILE", str(locked))
    code, out, err = run(["--repo", str(root), "decrypt", target], capsys)
    assert (code, out) == (2, "")
    assert err.splitlines()[0] == (
        "secretsmgr: error: SOPS_AGE_SSH_PRIVATE_KEY_FILE is a passphrase-protected ssh key, "
        "which secretsmgr cannot use"
    )
    assert err.splitlines()[1].startswith("secretsmgr: hint: ")

    # lying in ~/.ssh: skipped (another identity opens the file), and key show says why
    monkeypatch.delenv("SOPS_AGE_SSH_PRIVATE_KEY_FILE")
    ssh_dir = Path(os.environ["HOME"]) / ".ssh"
    ssh_dir.mkdir()
    shutil.copy(locked, ssh_dir / "id_ed25519")
    shutil.copy(keys["ed"], ssh_dir / "id_rsa")  # any name sops reads; it holds an ed25519 key
    code, out, err = run(["--repo", str(root), "decrypt", target], capsys)
    assert (code, err) == (0, "")
    assert f"password: {PASSWORD}" in out
    code, out, err = run(["--repo", str(root), "key", "show"], capsys)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    note = f"{ssh_dir / 'id_ed25519'} (skipped: a passphrase-protected ssh key, which secretsmgr"
    assert any(line.startswith("- ") and note in line for line in lines), out
    assert any(line.endswith(str(ssh_dir / "id_rsa")) and "ssh-ed25519 …" in line for line in lines)


def test_audit_treats_an_ssh_recipient_like_any_other(
    tmp_path: Path,
    keys: dict[str, Path | str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(DEMO_KEY))
    for allowed, expect_sm005 in (((), True), ((str(keys["ed_pub"]),), False)):
        shutil.rmtree(tmp_path / "repo", ignore_errors=True)
        root = repo_with(tmp_path, DEMO_PUBLIC, str(keys["ed_pub"]), allowed=allowed)
        assert sops(["encrypt", "-i", "db.enc.yaml"], root).returncode == 0
        code, out, err = run(["--repo", str(root), "audit", "--format", "json"], capsys)
        assert (code, err) == (0, "")  # SM005 is a warning
        report = json.loads(out)
        rules = {f["rule"] for f in report["findings"]}
        # never a cluster key candidate (no SM004/SM011 about it), an ordinary recipient else
        assert "SM004" not in rules
        assert ("SM005" in rules) is expect_sm005, report["findings"]
        if expect_sm005:
            (sm005,) = [f for f in report["findings"] if f["rule"] == "SM005"]
            assert sm005["message"].startswith("unexpected recipient ssh-ed2")
