"""The OS keyring as an identity source, against a real gnome-keyring Secret Service.

Every command runs as its own process (keyring caches its backend per process), with the
environment a desktop session would give it: a D-Bus session bus and an unlocked keyring.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from secretsmgr.keys.age import CLUSTER_MARK, generate_identity, parse_identities
from tests.conftest import FIXTURES, copy_tree, run_sops
from tests.secret_service import SecretService

pytestmark = pytest.mark.keyring

DEMO_KEY = FIXTURES / "keys" / "demo-only.agekey"
ADMIN_KEY = FIXTURES / "keys" / "demo-only-admin.agekey"
REDIS = "gitops/apps/redis/auth.enc.yaml"
PUBLIC = re.compile(r"^age1[0-9a-z]{58}$")
SECRET = re.compile(r"AGE-SECRET-KEY-1[0-9A-Z]+")


def run(
    env: dict[str, str], *args: str, cwd: Path | None = None, manifest: bool = False
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "secretsmgr", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    # Whatever happened, no private key is ever printed, except in a manifest asked for.
    if manifest:
        assert SECRET.search(result.stderr) is None, args
    else:
        assert SECRET.search(result.stdout + result.stderr) is None, args
    assert "Traceback" not in result.stderr
    return result


def stored(svc: SecretService, public: str) -> str:
    """The secret libsecret's own client finds for ``public``."""
    found = svc.secret_tool("lookup", "service", "secretsmgr", "username", public)
    assert found.returncode == 0, found.stderr
    return found.stdout.strip()


def public_of(path: Path) -> str:
    return parse_identities(path.read_text(encoding="utf-8"), path.name).publics[0]


def demo(tmp_path: Path) -> Path:
    return copy_tree(FIXTURES / "demo", tmp_path / "demo")


def test_backend_is_the_real_secret_service(service: SecretService) -> None:
    probe = subprocess.run(
        [sys.executable, "-c", "import keyring; print(type(keyring.get_keyring()).__module__)"],
        env=service.env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert probe.stdout.strip() == "keyring.backends.SecretService"


def test_generate_stores_the_identity_and_prints_only_the_public_key(
    service: SecretService,
) -> None:
    result = run(service.env, "key", "generate", "--keyring")
    assert result.returncode == 0, result.stderr
    public = result.stdout.strip()
    assert PUBLIC.match(public)
    secret = stored(service, public)
    assert parse_identities(secret, "keyring").publics == (public,)
    shown = run(service.env, "key", "show")
    assert shown.returncode == 0
    assert f"{public}  OS keyring (service secretsmgr)" in shown.stdout


def test_generate_defaults_to_the_keyring(service: SecretService) -> None:
    result = run(service.env, "key", "generate")
    assert result.returncode == 0
    assert stored(service, result.stdout.strip()).startswith("AGE-SECRET-KEY-1")


def test_import_copies_every_identity_and_leaves_the_file(
    service: SecretService, tmp_path: Path
) -> None:
    both = tmp_path / "keys.txt"
    both.write_text(DEMO_KEY.read_text() + ADMIN_KEY.read_text(), encoding="utf-8")
    before = both.read_bytes()
    result = run(service.env, "key", "import", str(both))
    assert result.returncode == 0, result.stderr
    assert "can now be deleted" in result.stdout
    assert both.read_bytes() == before  # never deleted, never changed
    # the demo key file records its key as a cluster key; the entry keeps that mark
    for path, is_cluster in ((DEMO_KEY, True), (ADMIN_KEY, False)):
        public = public_of(path)
        assert f"imported  {public}" in result.stdout
        entry = stored(service, public)
        assert entry.splitlines()[0] == SECRET.search(path.read_text()).group(0)  # type: ignore[union-attr]
        assert (CLUSTER_MARK in entry) is is_cluster
    again = run(service.env, "key", "import", str(both))
    assert again.returncode == 0
    assert again.stdout.count("already there") == 2


def test_decrypt_with_the_identity_only_in_the_keyring(
    service: SecretService, tmp_path: Path
) -> None:
    repo = demo(tmp_path)
    assert run(service.env, "key", "import", str(DEMO_KEY)).returncode == 0
    result = run(service.env, "decrypt", REDIS, cwd=repo)
    assert result.returncode == 0, result.stderr
    assert "kind: Secret" in result.stdout
    assert "ENC[" not in result.stdout


def test_every_stored_identity_is_tried(service: SecretService, tmp_path: Path) -> None:
    from tests.audit.helpers import enc, secret

    # two files, each readable by only one of two keyring identities
    first_secret, first = generate_identity()
    second_secret, second = generate_identity()
    for key in (first_secret, second_secret):
        keyfile = tmp_path / "one.txt"
        keyfile.write_text(key + "\n", encoding="utf-8")
        assert run(service.env, "key", "import", str(keyfile)).returncode == 0
    for name, public in (("a", first), ("b", second)):
        (tmp_path / f"{name}.enc.yaml").write_text(enc(secret(name), (public,)), encoding="utf-8")
        result = run(
            service.env, "--repo", str(tmp_path), "decrypt", f"{name}.enc.yaml", cwd=tmp_path
        )
        assert result.returncode == 0, result.stderr
        assert f"name: {name}" in result.stdout


def test_show_lists_every_source_in_contract_order(service: SecretService, tmp_path: Path) -> None:
    env = dict(service.env)
    env["SOPS_AGE_KEY"] = generate_identity()[0]
    env["SOPS_AGE_KEY_FILE"] = str(ADMIN_KEY)
    keys_txt = Path(env["XDG_CONFIG_HOME"]) / "sops" / "age" / "keys.txt"
    keys_txt.parent.mkdir(parents=True)
    keys_txt.write_text(generate_identity()[0] + "\n", encoding="utf-8")
    assert run(service.env, "key", "import", str(DEMO_KEY)).returncode == 0
    shown = run(env, "key", "show", cwd=demo(tmp_path))
    assert shown.returncode == 0, shown.stderr
    sources = [
        line.split("  ", 1)[1] for line in shown.stdout.splitlines() if line.startswith("age1")
    ]
    assert sources == [
        "SOPS_AGE_KEY",
        "SOPS_AGE_KEY_FILE",
        "OS keyring (service secretsmgr)",
        str(keys_txt),
    ]
    # the demo's cluster key: its private half is in the keyring
    assert (
        f"cluster key (.secretsmgr.yaml): {public_of(DEMO_KEY)}  private half found "
        "(recorded as a cluster key)"
    ) in (shown.stdout)


# ----------------------------------------------------------------------- locked and absent


@pytest.fixture
def locked(tmp_path: Path) -> Iterator[SecretService]:
    """A login keyring holding the demo key, reopened with the wrong password: locked."""
    home = tmp_path / "home"
    first = SecretService(home).start()
    try:
        assert run(first.env, "key", "import", str(DEMO_KEY)).returncode == 0
    finally:
        first.stop()
    again = SecretService(home, password="wrong-pass").start()
    yield again
    again.stop()


def test_locked_keyring_is_a_clear_error(locked: SecretService, tmp_path: Path) -> None:
    repo = demo(tmp_path)
    for args in (("decrypt", REDIS), ("key", "generate", "--keyring"), ("key", "show")):
        before = (repo / REDIS).read_bytes()
        result = run(locked.env, *args, cwd=repo)
        assert result.returncode == 2, (args, result.stderr)
        first = result.stderr.splitlines()[0]
        assert first.startswith("secretsmgr: error: ") and "locked" in first, result.stderr
        assert "secretsmgr: hint: unlock it" in result.stderr
        assert (repo / REDIS).read_bytes() == before


def test_locked_keyring_is_not_opened_when_a_key_file_suffices(
    locked: SecretService, tmp_path: Path
) -> None:
    repo = demo(tmp_path)
    env = dict(locked.env, SOPS_AGE_KEY_FILE=str(DEMO_KEY))
    result = run(env, "decrypt", REDIS, cwd=repo)
    assert (result.returncode, result.stderr) == (0, "")
    # the plaintext is exactly what the real sops makes of the file with the same key file
    expected = run_sops(["decrypt", str(repo / REDIS)], key_file=DEMO_KEY)
    assert expected.returncode == 0, expected.stderr
    assert result.stdout == expected.stdout
    # and the keyring really is locked: a command that needs it says so
    needs_it = run(locked.env, "decrypt", REDIS, cwd=repo)
    assert needs_it.returncode == 2 and "locked" in needs_it.stderr


def test_absent_keyring_falls_back_to_keys_txt(tmp_path: Path) -> None:
    import os

    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DBUS_", "PYTHON_KEYRING"))}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"))
    keys_txt = home / ".config" / "sops" / "age" / "keys.txt"
    keys_txt.parent.mkdir(parents=True)
    shutil.copy(DEMO_KEY, keys_txt)
    repo = demo(tmp_path)
    result = run(env, "decrypt", REDIS, cwd=repo)
    assert result.returncode == 0, result.stderr
    shown = run(env, "key", "show", cwd=repo)
    assert shown.returncode == 0
    assert f"{public_of(DEMO_KEY)}  {keys_txt}" in shown.stdout
    assert "OS keyring" not in shown.stdout
    stored_nowhere = run(env, "key", "generate", "--keyring")
    assert stored_nowhere.returncode == 2
    assert "no OS keyring is available" in stored_nowhere.stderr
    assert "secretsmgr: hint: " in stored_nowhere.stderr
    assert stored_nowhere.stdout == ""


def test_generate_to_a_file_is_0600_and_never_overwrites(tmp_path: Path) -> None:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("DBUS_")}
    target = tmp_path / "new.agekey"
    result = run(env, "key", "generate", "-o", str(target))
    assert result.returncode == 0
    assert target.stat().st_mode & 0o777 == 0o600
    assert parse_identities(target.read_text(), "f").publics == (result.stdout.strip(),)
    before = target.read_bytes()
    again = run(env, "key", "generate", "-o", str(target))
    assert again.returncode == 1
    assert target.read_bytes() == before


def test_locked_keyring_is_not_opened_for_export_when_a_key_file_has_the_key(
    locked: SecretService, tmp_path: Path
) -> None:
    env = dict(locked.env, SOPS_AGE_KEY_FILE=str(DEMO_KEY))
    result = subprocess.run(
        [sys.executable, "-m", "secretsmgr", "key", "export"],
        env=env,
        cwd=demo(tmp_path),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "age.agekey: |" in result.stdout


def test_a_failed_begin_leaves_no_new_identity_in_the_keyring(
    service: SecretService, tmp_path: Path
) -> None:
    from tests.rotate.helpers import git_copy, snapshot

    repo = git_copy(FIXTURES / "demo", tmp_path / "repo")
    before = snapshot(repo)
    env = dict(service.env, SOPS_AGE_KEY_FILE=str(DEMO_KEY), SECRETSMGR_FAULT_INJECT="replace:1")
    failed = run(env, "--repo", str(repo), "key", "rotate", "--begin")
    assert failed.returncode == 1, failed.stderr
    assert snapshot(repo) == before
    listed = service.secret_tool("search", "--all", "service", "secretsmgr")
    assert "secretsmgr" not in listed.stdout + listed.stderr
    # and a successful one keeps it there
    ok = run(
        dict(env, SECRETSMGR_FAULT_INJECT=""),
        *("--repo", str(repo), "key", "rotate", "--begin"),
        manifest=True,
    )
    assert ok.returncode == 0, ok.stderr
    new = re.search(r"new cluster key (age1[0-9a-z]+)", ok.stdout)
    assert new is not None
    assert stored(service, new.group(1)).startswith("AGE-SECRET-KEY-1")
