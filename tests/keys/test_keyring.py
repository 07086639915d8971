"""The OS keyring as an identity source, against a real gnome-keyring Secret Service.

Every command runs as its own process (keyring caches its backend per process), with the
environment a desktop session would give it: a D-Bus session bus and an unlocked keyring.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from secretsmgr.keys.age import CLUSTER_MARK, generate_identity, parse_identities
from tests.cli.runner import Result, run_process
from tests.conftest import FIXTURES, copy_tree, run_sops
from tests.secret_service import SecretService

pytestmark = pytest.mark.keyring

DEMO_KEY = FIXTURES / "keys" / "demo-only.agekey"
ADMIN_KEY = FIXTURES / "keys" / "demo-only-admin.agekey"
REDIS = "gitops/apps/redis/auth.enc.yaml"
PUBLIC = re.compile(r"^age1[0-9a-z]{58}$")
SECRET = re.compile(r"AGE-SECRET-KEY-1[0-9A-Z]+")


def run(
    env: dict[str, str],
    *args: str,
    cwd: Path | None = None,
    manifest: bool = False,
    expect: int | None = None,
    warnings: Sequence[str] = (),
) -> Result:
    """The shared runner, as a process: ``keyring`` picks its backend once per process."""
    # Whatever happened, no private key is ever printed, except in a manifest asked for.
    done = run_process(
        args,
        env=env,
        cwd=cwd,
        expect=expect,
        warnings=warnings,
        secrets=() if manifest else [SECRET],
        timeout=60,
    )
    assert SECRET.search(done.err) is None, args
    return done


def stored(svc: SecretService, public: str) -> str:
    """The secret libsecret's own client finds for ``public``."""
    found = svc.secret_tool("lookup", "service", "secretsmgr", "username", public)
    assert found.returncode == 0, found.stderr
    return found.stdout.strip()


def usernames(svc: SecretService) -> list[str]:
    """Every public key the keyring holds an entry of service secretsmgr for."""
    listed = svc.secret_tool("search", "--all", "service", "secretsmgr")
    text = listed.stdout + listed.stderr
    return sorted(line.split(" = ", 1)[1] for line in text.splitlines() if "username = " in line)


def secret_of(path: Path) -> str:
    found = SECRET.search(path.read_text(encoding="utf-8"))
    assert found is not None
    return found.group(0)


def public_of(path: Path) -> str:
    return parse_identities(path.read_text(encoding="utf-8"), path.name).publics[0]


def import_key(svc: SecretService, path: Path, env: dict[str, str] | None = None) -> None:
    """``key import PATH``: its output names each public key, the keyring holds each secret."""
    done = run(env or svc.env, "key", "import", str(path), expect=0)
    for public in parse_identities(path.read_text(encoding="utf-8"), path.name).publics:
        assert f"  {public}" in done.out, done.out
        assert parse_identities(stored(svc, public), "keyring").publics == (public,)


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
    result = run(service.env, "key", "generate", "--keyring", expect=0)
    public = result.out.strip()
    assert PUBLIC.match(public)
    secret = stored(service, public)
    assert parse_identities(secret, "keyring").publics == (public,)
    shown = run(service.env, "key", "show", expect=0)
    assert f"{public}  OS keyring (service secretsmgr)" in shown.out
    assert usernames(service) == [public]


def test_generate_defaults_to_the_keyring(service: SecretService) -> None:
    result = run(service.env, "key", "generate", expect=0)
    public = result.out.strip()
    assert PUBLIC.match(public), result.out  # the output is the public key, nothing else
    secret = stored(service, public)
    assert secret.startswith("AGE-SECRET-KEY-1")
    assert parse_identities(secret, "keyring").publics == (public,)
    assert usernames(service) == [public]


def test_import_copies_every_identity_and_leaves_the_file(
    service: SecretService, tmp_path: Path
) -> None:
    both = tmp_path / "keys.txt"
    both.write_text(DEMO_KEY.read_text() + ADMIN_KEY.read_text(), encoding="utf-8")
    before = both.read_bytes()
    result = run(service.env, "key", "import", str(both), expect=0)
    assert "can now be deleted" in result.out
    assert both.read_bytes() == before  # never deleted, never changed
    # the demo key file records its key as a cluster key; the entry keeps that mark
    for path, is_cluster in ((DEMO_KEY, True), (ADMIN_KEY, False)):
        public = public_of(path)
        assert f"imported  {public}" in result.out
        entry = stored(service, public)
        assert entry.splitlines()[0] == SECRET.search(path.read_text()).group(0)  # type: ignore[union-attr]
        assert (CLUSTER_MARK in entry) is is_cluster
    entries = {p: stored(service, p) for p in (public_of(DEMO_KEY), public_of(ADMIN_KEY))}
    again = run(service.env, "key", "import", str(both), expect=0)
    assert again.out.count("already there") == 2
    for public, entry in entries.items():  # nothing added, nothing changed
        assert f"already there  {public}" in again.out
        assert stored(service, public) == entry
    assert usernames(service) == sorted(entries)


def test_decrypt_with_the_identity_only_in_the_keyring(
    service: SecretService, tmp_path: Path
) -> None:
    repo = demo(tmp_path)
    import_key(service, DEMO_KEY)
    result = run(service.env, "decrypt", REDIS, cwd=repo, expect=0)
    assert "kind: Secret" in result.out
    assert "ENC[" not in result.out
    # the plaintext is exactly what the real sops makes of the file with the key file
    expected = run_sops(["decrypt", str(repo / REDIS)], key_file=DEMO_KEY)
    assert expected.returncode == 0, expected.stderr
    assert result.out == expected.stdout


def test_every_stored_identity_is_tried(service: SecretService, tmp_path: Path) -> None:
    from tests.audit.helpers import enc, secret

    # two files, each readable by only one of two keyring identities
    first_secret, first = generate_identity()
    second_secret, second = generate_identity()
    for key in (first_secret, second_secret):
        keyfile = tmp_path / "one.txt"
        keyfile.write_text(key + "\n", encoding="utf-8")
        import_key(service, keyfile)
    assert usernames(service) == sorted((first, second))
    for name, public in (("a", first), ("b", second)):
        (tmp_path / f"{name}.enc.yaml").write_text(enc(secret(name), (public,)), encoding="utf-8")
        result = run(
            service.env,
            *("--repo", str(tmp_path), "decrypt", f"{name}.enc.yaml"),
            cwd=tmp_path,
            expect=0,
        )
        assert f"name: {name}" in result.out


def test_show_lists_every_source_in_contract_order(service: SecretService, tmp_path: Path) -> None:
    env = dict(service.env)
    env["SOPS_AGE_KEY"] = generate_identity()[0]
    env["SOPS_AGE_KEY_FILE"] = str(ADMIN_KEY)
    keys_txt = Path(env["XDG_CONFIG_HOME"]) / "sops" / "age" / "keys.txt"
    keys_txt.parent.mkdir(parents=True)
    keys_txt.write_text(generate_identity()[0] + "\n", encoding="utf-8")
    import_key(service, DEMO_KEY)
    shown = run(env, "key", "show", cwd=demo(tmp_path), expect=0)
    sources = [line.split("  ", 1)[1] for line in shown.out.splitlines() if line.startswith("age1")]
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
    ) in (shown.out)


# ----------------------------------------------------------------------- locked and absent


@pytest.fixture
def locked(tmp_path: Path) -> Iterator[SecretService]:
    """A login keyring holding the demo key, reopened with the wrong password: locked."""
    home = tmp_path / "home"
    first = SecretService(home).start()
    try:
        import_key(first, DEMO_KEY)
    finally:
        first.stop()
    again = SecretService(home, password="wrong-pass").start()
    yield again
    again.stop()


def test_locked_keyring_is_a_clear_error(locked: SecretService, tmp_path: Path) -> None:
    repo = demo(tmp_path)
    for args in (("decrypt", REDIS), ("key", "generate", "--keyring"), ("key", "show")):
        before = (repo / REDIS).read_bytes()
        result = run(locked.env, *args, cwd=repo, expect=2)
        if args != ("key", "show"):  # show lists what it found before it reached the keyring
            assert result.out == ""
        first = result.err.splitlines()[0]
        assert first.startswith("secretsmgr: error: ") and "locked" in first, result.err
        assert "secretsmgr: hint: unlock it" in result.err
        assert (repo / REDIS).read_bytes() == before


def test_locked_keyring_is_not_opened_when_a_key_file_suffices(
    locked: SecretService, tmp_path: Path
) -> None:
    repo = demo(tmp_path)
    env = dict(locked.env, SOPS_AGE_KEY_FILE=str(DEMO_KEY))
    result = run(env, "decrypt", REDIS, cwd=repo, expect=0)
    assert result.err == ""
    # the plaintext is exactly what the real sops makes of the file with the same key file
    expected = run_sops(["decrypt", str(repo / REDIS)], key_file=DEMO_KEY)
    assert expected.returncode == 0, expected.stderr
    assert result.out == expected.stdout
    # and the keyring really is locked: a command that needs it says so
    needs_it = run(locked.env, "decrypt", REDIS, cwd=repo, expect=2)
    assert "locked" in needs_it.err and needs_it.out == ""


def test_absent_keyring_falls_back_to_keys_txt(tmp_path: Path) -> None:
    import os

    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DBUS_", "PYTHON_KEYRING"))}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"))
    keys_txt = home / ".config" / "sops" / "age" / "keys.txt"
    keys_txt.parent.mkdir(parents=True)
    shutil.copy(DEMO_KEY, keys_txt)
    repo = demo(tmp_path)
    result = run(env, "decrypt", REDIS, cwd=repo, expect=0)
    expected = run_sops(["decrypt", str(repo / REDIS)], key_file=DEMO_KEY)
    assert expected.returncode == 0, expected.stderr
    assert result.out == expected.stdout  # opened with the key from keys.txt
    shown = run(env, "key", "show", cwd=repo, expect=0)
    assert f"{public_of(DEMO_KEY)}  {keys_txt}" in shown.out
    assert "OS keyring" not in shown.out
    before = {p: p.read_bytes() for p in home.rglob("*") if p.is_file()}
    stored_nowhere = run(env, "key", "generate", "--keyring", expect=2)
    assert "no OS keyring is available" in stored_nowhere.err
    assert "secretsmgr: hint: " in stored_nowhere.err
    assert stored_nowhere.out == ""
    # and no key file was written in its place
    assert {p: p.read_bytes() for p in home.rglob("*") if p.is_file()} == before


def test_generate_to_a_file_is_0600_and_never_overwrites(tmp_path: Path) -> None:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("DBUS_")}
    target = tmp_path / "new.agekey"
    result = run(env, "key", "generate", "-o", str(target), expect=0)
    assert PUBLIC.match(result.out.strip()), result.out
    assert target.stat().st_mode & 0o777 == 0o600
    assert parse_identities(target.read_text(), "f").publics == (result.out.strip(),)
    before = target.read_bytes()
    again = run(env, "key", "generate", "-o", str(target), expect=1)
    assert again.out == ""
    assert again.err.splitlines()[0] == (
        f"secretsmgr: error: {target} exists; secretsmgr never overwrites a key file"
    )
    assert "name a new file with -o; one that a run killed before its end left" in again.err
    assert target.read_bytes() == before


def test_locked_keyring_is_not_opened_for_export_when_a_key_file_has_the_key(
    locked: SecretService, tmp_path: Path
) -> None:
    env = dict(locked.env, SOPS_AGE_KEY_FILE=str(DEMO_KEY))
    result = run(
        env,
        *("key", "export"),
        cwd=demo(tmp_path),
        manifest=True,
        expect=0,
        warnings=["holds a private key", "exported the private key of"],
    )
    assert "age.agekey: |" in result.out
    # exactly the demo cluster key, read from the key file, went into the manifest
    assert SECRET.findall(result.out) == [secret_of(DEMO_KEY)]
    assert f"# public key: {public_of(DEMO_KEY)}" in result.out


def test_a_failed_begin_leaves_no_new_identity_in_the_keyring(
    service: SecretService, tmp_path: Path
) -> None:
    from tests.rotate.helpers import git_copy, snapshot

    repo = git_copy(FIXTURES / "demo", tmp_path / "repo")
    before = snapshot(repo)
    env = dict(service.env, SOPS_AGE_KEY_FILE=str(DEMO_KEY), SECRETSMGR_FAULT_INJECT="replace:1")
    failed = run(env, "--repo", str(repo), "key", "rotate", "--begin", expect=1)
    assert failed.out == "" and failed.err.startswith("secretsmgr: error: ")
    assert snapshot(repo) == before
    listed = service.secret_tool("search", "--all", "service", "secretsmgr")
    assert "secretsmgr" not in listed.stdout + listed.stderr
    # and a successful one keeps it there
    ok = run(
        dict(env, SECRETSMGR_FAULT_INJECT=""),
        *("--repo", str(repo), "key", "rotate", "--begin"),
        manifest=True,
        expect=0,
        warnings=["holds a private key"],
    )
    new = re.search(r"new cluster key (age1[0-9a-z]+)", ok.out)
    assert new is not None
    secret = stored(service, new.group(1))
    assert secret.startswith("AGE-SECRET-KEY-1")
    assert parse_identities(secret, "keyring").publics == (new.group(1),)
    assert usernames(service) == [new.group(1)]
    # the overlap manifest holds the old key and exactly the new key the keyring keeps
    assert SECRET.findall(ok.out) == [secret_of(DEMO_KEY), SECRET.search(secret).group(0)]  # type: ignore[union-attr]
