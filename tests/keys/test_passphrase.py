"""Passphrase-protected age identity files, made by the real ``age -p``, opened on a real pty.

Every command runs as its own process: on a pseudo-terminal (pexpect) where a person would
type the passphrase, and with no terminal at all (a new session, stdin from /dev/null) where a
script or CI runs it.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pexpect
import pytest

from tests.cli.runner import Result, run_process, run_terminal
from tests.conftest import FIXTURES, copy_tree
from tests.secret_service import SecretService

DEMO_KEY = FIXTURES / "keys" / "demo-only.agekey"
REDIS = "gitops/apps/redis/auth.enc.yaml"
PASSPHRASE = "correct horse battery staple"
SECRET = re.compile(r"AGE-SECRET-KEY-1[0-9A-Z]+")


def need_age() -> str:
    age = shutil.which("age")
    if age is None:
        if os.environ.get("CI"):
            pytest.fail("age missing in CI: apt-get install age")
        pytest.skip("age missing: apt-get install age")
    return age


def protect(source: Path, target: Path, *, armored: bool) -> Path:
    """``age -p [-a] -o target source``, the passphrase typed on a pty, as a person would."""
    args = ["-p", *(["-a"] if armored else []), "-o", str(target), str(source)]
    child = pexpect.spawn(need_age(), args, encoding="utf-8", timeout=60)
    child.expect("passphrase")
    child.sendline(PASSPHRASE)
    child.expect("onfirm")
    child.sendline(PASSPHRASE)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    return target


@pytest.fixture(scope="module")
def protected(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The demo cluster key in a passphrase-protected file, armored and binary."""
    folder = tmp_path_factory.mktemp("protected")
    return {
        "armored": protect(DEMO_KEY, folder / "demo.age.txt", armored=True),
        "binary": protect(DEMO_KEY, folder / "demo.age", armored=False),
    }


def env_with(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra)
    return env


PROMPT = "secretsmgr: passphrase for the identity file .*: "


def on_terminal(
    args: list[str], env: dict[str, str], answer: str | None, cwd: Path
) -> tuple[int, str]:
    """Run secretsmgr on a pty; type ``answer`` at the passphrase prompt. (exit, pty text)."""
    done = run_terminal(
        args,
        env=env,
        cwd=cwd,
        answer=None if answer is None else (PROMPT, answer),
        secrets=[SECRET, *([answer] if answer else [])],  # never a key, never an echo
    )
    return done.code, done.out


def without_terminal(args: list[str], env: dict[str, str], cwd: Path) -> Result:
    """Run secretsmgr with no controlling terminal (a new session) and stdin from /dev/null."""
    return run_process(args, env=env, cwd=cwd, no_terminal=True, secrets=[SECRET])


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    return copy_tree(FIXTURES / "demo", tmp_path / "demo")


@pytest.mark.parametrize("kind", ["armored", "binary"])
def test_the_passphrase_is_asked_on_the_terminal_and_never_echoed(
    kind: str, protected: dict[str, Path], demo: Path
) -> None:
    env = env_with(SOPS_AGE_KEY_FILE=str(protected[kind]))
    code, text = on_terminal(["decrypt", REDIS], env, PASSPHRASE, demo)
    assert code == 0, text
    assert "kind: Secret" in text and "ENC[" not in text
    assert PASSPHRASE not in text  # echo was off while it was typed
    assert SECRET.search(text) is None


def test_a_protected_keys_txt_opens_too(protected: dict[str, Path], demo: Path) -> None:
    env = env_with()
    keys_txt = Path(env["XDG_CONFIG_HOME"]) / "sops" / "age" / "keys.txt"
    keys_txt.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(protected["binary"], keys_txt)
    code, text = on_terminal(["decrypt", REDIS], env, PASSPHRASE, demo)
    assert code == 0, text
    assert "kind: Secret" in text


def test_a_wrong_passphrase_is_a_clear_error(protected: dict[str, Path], demo: Path) -> None:
    env = env_with(SOPS_AGE_KEY_FILE=str(protected["armored"]))
    code, text = on_terminal(["decrypt", REDIS], env, "not the passphrase", demo)
    assert code == 2, text
    assert (
        f"secretsmgr: error: cannot open the identity file {protected['armored']}: wrong "
        "passphrase, or not encrypted with a passphrase"
    ) in text
    assert "not the passphrase" not in text and "Traceback" not in text


def test_no_terminal_is_an_exit_2_error_with_a_hint(protected: dict[str, Path], demo: Path) -> None:
    env = env_with(SOPS_AGE_KEY_FILE=str(protected["armored"]))
    result = without_terminal(["decrypt", REDIS], env, demo)
    assert (result.code, result.out) == (2, "")
    assert result.err.splitlines() == [
        f"secretsmgr: error: the identity file {protected['armored']} is passphrase-protected "
        "and there is no terminal to ask for its passphrase",
        "secretsmgr: hint: run the command in a terminal, or store the identity in the OS "
        "keyring once from one: secretsmgr key import FILE",
    ]


def test_the_passphrase_is_asked_only_when_no_other_identity_opens_the_file(
    protected: dict[str, Path], demo: Path
) -> None:
    # a protected keys.txt beside a plain SOPS_AGE_KEY_FILE that opens the file: no prompt,
    # so no terminal is needed (sops asks lazily the same way)
    env = env_with(SOPS_AGE_KEY_FILE=str(DEMO_KEY))
    keys_txt = Path(env["XDG_CONFIG_HOME"]) / "sops" / "age" / "keys.txt"
    keys_txt.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(protected["armored"], keys_txt)
    result = without_terminal(["decrypt", REDIS], env, demo)
    assert result.code == 0, result.err
    assert "kind: Secret" in result.out and result.err == ""
    # and key show lists the protected file without asking
    shown = without_terminal(["key", "show"], env, demo)
    assert shown.code == 0, shown.err
    assert re.search(
        rf"^-\s+{re.escape(str(keys_txt))} \(passphrase-protected: opened only when a file "
        r"needs it\)$",
        shown.out,
        re.M,
    ), shown.out


@pytest.mark.keyring
def test_key_import_opens_a_protected_file_once_then_the_keyring_suffices(
    protected: dict[str, Path], service: SecretService, tmp_path: Path
) -> None:
    demo = copy_tree(FIXTURES / "demo", tmp_path / "demo")
    code, text = on_terminal(
        ["key", "import", str(protected["binary"])], service.env, PASSPHRASE, tmp_path
    )
    assert code == 0, text
    assert "imported  age1fq08vpk2qf5wmz4cg6w5uzqt2hqrz56dzp25pj57nrx606073frqc0n3qw" in text
    stored = service.secret_tool(
        "lookup",
        "service",
        "secretsmgr",
        "username",
        "age1fq08vpk2qf5wmz4cg6w5uzqt2hqrz56dzp25pj57nrx606073frqc0n3qw",
    )
    # the key, still recorded as a cluster key (the demo file marks it)
    assert stored.stdout.splitlines() == [
        SECRET.search(DEMO_KEY.read_text()).group(0),  # type: ignore[union-attr]
        "# secretsmgr: cluster key",
    ]
    result = without_terminal(["decrypt", REDIS], service.env, demo)
    assert result.code == 0, result.err
    assert "kind: Secret" in result.out
