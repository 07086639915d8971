"""``keys/sources.py``: the contract's precedence, what is loaded when, and what is never asked.

Hermetic: every source lives under the test's HOME. The order is checked twice, on a machine
without a keyring (no D-Bus session: the ``fail`` backend, as on CI runners) and with the real
gnome-keyring (tests/secret_service.py), each in a fresh process because ``keyring`` picks its
backend once per process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from secretsmgr.errors import ConfigError
from secretsmgr.keys.age import AgeIdentity, generate_identity, parse_identities
from secretsmgr.keys.passphrase import is_protected
from secretsmgr.keys.sources import (
    FileKeySource,
    layered_identities,
    resolve_identities,
    standard_sources,
)
from secretsmgr.keys.stores import read_identity_file
from tests.cli.runner import run_process
from tests.conftest import FIXTURES
from tests.keys.sshkeys import keygen
from tests.secret_service import SecretService

DEMO_KEY = FIXTURES / "keys" / "demo-only.agekey"
DEMO = "age1fq08vpk2qf5wmz4cg6w5uzqt2hqrz56dzp25pj57nrx606073frqc0n3qw"


class Sources:
    """One identity in each source of the chain, all under ``home``; their public keys."""

    def __init__(self, home: Path) -> None:
        self.home = home
        home.mkdir(parents=True, exist_ok=True)
        self.env: dict[str, str] = {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}
        self.publics: dict[str, str] = {}
        secret, self.publics["SOPS_AGE_KEY"] = generate_identity()
        self.env["SOPS_AGE_KEY"] = secret
        key_file = home / "key-file.txt"
        secret, self.publics["SOPS_AGE_KEY_FILE"] = generate_identity()
        key_file.write_text(secret + "\n", encoding="utf-8")
        self.env["SOPS_AGE_KEY_FILE"] = str(key_file)
        self.keys_txt = home / ".config" / "sops" / "age" / "keys.txt"
        self.keys_txt.parent.mkdir(parents=True, exist_ok=True)
        secret, self.publics[str(self.keys_txt)] = generate_identity()
        self.keys_txt.write_text(secret + "\n", encoding="utf-8")
        ssh_dir = home / ".ssh"
        ssh_dir.mkdir(exist_ok=True)
        self.publics["SOPS_AGE_SSH_PRIVATE_KEY_FILE"] = keygen(home / "deploy", "ed25519")
        self.env["SOPS_AGE_SSH_PRIVATE_KEY_FILE"] = str(home / "deploy")
        for name, kind in (("id_ed25519", "ed25519"), ("id_rsa", "rsa")):
            self.publics[str(ssh_dir / name)] = keygen(ssh_dir / name, kind)

    def expected(self, keyring: str | None, keyring_public: str | None) -> list[list[object]]:
        """[source, [public without comment]] in the contract's order."""
        rows: list[list[object]] = []
        for name, public in self.publics.items():
            if name == str(self.keys_txt) and keyring is not None:
                rows.append([keyring, [keyring_public]])
            rows.append([name, [" ".join(public.split()[:2])]])
        return rows


def test_the_order_without_a_keyring_in_process(tmp_path: Path) -> None:
    src = Sources(tmp_path / "home")
    sources = standard_sources(src.env)
    assert [s.name for s in sources] == list(src.publics)
    got = resolve_identities(sources)
    assert [[name, list(publics)] for name, publics in got.by_source] == src.expected(None, None)
    assert len(got.identity.publics) == len(src.publics)


PROBE = """
import json, os
from secretsmgr.keys.oskeyring import keyring_source
from secretsmgr.keys.sources import resolve_identities, standard_sources
got = resolve_identities(standard_sources(os.environ, keyring_source))
print(json.dumps([[name, list(publics)] for name, publics in got.by_source]))
"""


def probe(env: dict[str, str]) -> list[list[object]]:
    """The chain as a fresh secretsmgr process sees it."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    parsed: list[list[object]] = json.loads(done.stdout)
    return parsed


def test_the_order_without_a_keyring(tmp_path: Path) -> None:
    src = Sources(tmp_path / "home")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DBUS_", "PYTHON_KEYRING"))}
    env.update(src.env)
    assert probe(env) == src.expected(None, None)


@pytest.mark.keyring
def test_the_order_with_the_real_keyring(service: SecretService) -> None:
    src = Sources(service.home)
    env = dict(service.env, **src.env)
    imported = run_process(["key", "import", str(DEMO_KEY)], env=service.env, expect=0, timeout=60)
    assert f"imported  {DEMO}" in imported.out
    assert probe(env) == src.expected("OS keyring (service secretsmgr)", DEMO)


# ------------------------------------------------------------------------- what is loaded when


class Counting:
    """A key source that counts its loads (the stand-in for the keyring's cost)."""

    def __init__(self, identity: AgeIdentity) -> None:
        self.identity = identity
        self.loads = 0
        self.name = "late"

    def load(self) -> AgeIdentity | None:
        self.loads += 1
        return self.identity


def armored_to(public: str) -> str:
    from secretsmgr.keys.age import AgeRecipient

    return AgeRecipient(public).wrap(b"k" * 32)


def test_a_late_source_is_opened_only_for_what_the_early_ones_lack(tmp_path: Path) -> None:
    secret, public = generate_identity()
    late_secret, late_public = generate_identity()
    env = {"HOME": str(tmp_path), "SOPS_AGE_KEY": secret}
    late = Counting(parse_identities(late_secret, "late"))
    layered = layered_identities(env, late)
    assert layered.unwrap(armored_to(public)) == b"k" * 32
    assert layered.secret_for(public) == secret and layered.only([public]).publics == (public,)
    assert late.loads == 0
    assert layered.unwrap(armored_to(late_public)) == b"k" * 32
    assert layered.secret_for(late_public) == late_secret
    assert late.loads == 1  # loaded once, then kept
    assert layered.early_publics() == (public,)
    assert layered.publics == (public, late_public)


def test_a_protected_file_is_asked_for_last_and_once(tmp_path: Path) -> None:
    import pyrage

    secret, public = generate_identity()
    protected_secret, protected_public = generate_identity()
    keys_txt = tmp_path / ".config" / "sops" / "age" / "keys.txt"
    keys_txt.parent.mkdir(parents=True)
    keys_txt.write_bytes(pyrage.passphrase.encrypt(f"{protected_secret}\n".encode(), "pw"))
    assert is_protected(keys_txt.read_bytes())
    asked: list[str] = []

    def prompt(what: str) -> str:
        asked.append(what)
        return "pw"

    env = {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / ".config")}
    env["SOPS_AGE_KEY"] = secret
    late = Counting(AgeIdentity((), ()))
    layered = layered_identities(env, late, prompt)
    assert layered.unwrap(armored_to(public)) == b"k" * 32
    assert (asked, late.loads) == ([], 0)  # nothing asked while the plain key suffices
    assert layered.unwrap(armored_to(protected_public)) == b"k" * 32
    assert layered.unwrap(armored_to(protected_public)) == b"k" * 32
    assert asked == [f"the identity file {keys_txt}"]  # once, after the keyring stand-in
    assert late.loads == 1
    assert layered.secret_for(protected_public) == protected_secret


def test_a_required_source_that_is_missing_is_an_error(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope")
    for variable in ("SOPS_AGE_SSH_PRIVATE_KEY_FILE", "SOPS_AGE_KEY_FILE"):
        with pytest.raises(ConfigError) as raised:
            layered_identities({"HOME": str(tmp_path), variable: missing}, None)
        assert raised.value.message == f"{variable}: {missing}: no such file"
    # a file named on the command line is named once
    with pytest.raises(ConfigError) as raised:
        read_identity_file(Path(missing))
    assert raised.value.message == f"{missing}: no such file"
    # a missing keys.txt or ~/.ssh key is simply absent
    assert FileKeySource(tmp_path / "keys.txt", "keys.txt").load() is None
    assert layered_identities({"HOME": str(tmp_path)}, None).publics == ()


def test_sops_age_key_may_hold_a_protected_identity_file_too(tmp_path: Path) -> None:
    import pyrage

    secret, public = generate_identity()
    armored = pyrage.passphrase.encrypt(f"{secret}\n".encode(), "pw", armored=True).decode()
    asked: list[str] = []

    def prompt(what: str) -> str:
        asked.append(what)
        return "pw"

    layered = layered_identities({"HOME": str(tmp_path), "SOPS_AGE_KEY": armored}, None, prompt)
    assert layered.early_publics() == () and asked == []
    assert layered.unwrap(armored_to(public)) == b"k" * 32
    assert asked == ["SOPS_AGE_KEY"]
