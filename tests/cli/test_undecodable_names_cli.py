"""File names whose bytes are no UTF-8 (``café`` saved in Latin-1), committed or passed.

Stop 51: ``check``, ``audit --history`` and SARIF output stopped with an internal error on
such a name (a path hashed as strict UTF-8), ``.sops.yaml`` rules could not be matched
against it (RE2 takes UTF-8 only), and ``set``/``unset`` wrote the file, then failed to
record it in the changelog. Every read command now judges the file, messages show the bytes
escaped (``caf\\xe9``), and a write the changelog could not record is refused before it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.audit.helpers import flux_kustomization
from tests.cli.runner import Result, run_process
from tests.conftest import GIT_ENV, TEST_KEY, git

PUB1 = "age17m4zztwdtjwv5yastfc6v72cjnsrn7yuxlpmgwgr5c8s52lst4jq9x0tvy"
CAFE = os.fsdecode(b"caf\xe9")  # a Latin-1 name, as git and the file system hold it
SECRET = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\nstringData:\n  password: {pw}\n"


def _run(args: list[str], cwd: Path, home: Path, stdin: str = "") -> Result:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "SOPS_AGE_KEY_FILE": str(TEST_KEY),
        "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
        **GIT_ENV,
    }
    done = run_process(args, env=env, cwd=cwd, stdin=stdin, timeout=120)
    assert "Traceback" not in done.err and "internal error" not in done.err, done.err
    return done


def _files(root: Path) -> dict[str, bytes]:
    return {
        os.fsencode(p.relative_to(root)).decode("latin-1"): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.parts
    }


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """An encrypted Secret and a plaintext one, both under a Latin-1 name, in a Flux layer."""
    root = tmp_path / "repo"
    (root / "apps").mkdir(parents=True)
    (root / "clusters" / "prod" / "flux-system").mkdir(parents=True)
    (root / "clusters" / "prod" / "flux-system" / "apps.yaml").write_text(flux_kustomization())
    (root / ".sops.yaml").write_text(
        "creation_rules:\n  - path_regex: \\.yaml$\n"
        f"    encrypted_regex: ^(data|stringData)$\n    age: {PUB1}\n"
    )
    (root / "apps" / f"s{CAFE}.yaml").write_text(SECRET.format(name="db", pw="Hy6tR3eWq9UiO1pA"))
    git(root, "init", "-q", "-b", "main")
    done = _run(["encrypt", "-i", f"apps/s{CAFE}.yaml"], root, tmp_path)
    assert done.code == 0, done.err
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "one secret")
    return root


def test_every_read_command_judges_a_file_under_an_undecodable_name(
    repo: Path, tmp_path: Path
) -> None:
    plain = repo / "apps" / f"{CAFE}.yaml"
    plain.write_text(SECRET.format(name="leak", pw="Zq8rT2vLp0XwN4mK"))
    git(repo, "add", "-A")
    for args in (["check"], ["audit"], ["audit", "--history"]):
        done = _run(args, repo, tmp_path)
        assert done.code == 1, (args, done.out, done.err)
        assert "SM001" in done.out and "apps/caf\\xe9.yaml" in done.out  # UTF-8 text out
        assert "Zq8rT2vLp0XwN4mK" not in done.out + done.err
    for args in (["audit", "--format", "json"], ["check", "--format", "json"]):
        done = _run(args, repo, tmp_path)
        found = {(f["rule"], f["path"]) for f in json.loads(done.out)["findings"]}
        assert ("SM001", "apps/caf\\xe9.yaml") in found, done.out
    sarif = json.loads(_run(["audit", "--format", "sarif"], repo, tmp_path).out)
    uris = {
        loc["physicalLocation"]["artifactLocation"]["uri"]
        for result in sarif["runs"][0]["results"]
        for loc in result["locations"]
    }
    assert "apps/caf%E9.yaml" in uris, uris  # the file's own bytes, percent-encoded
    assert "apps/scaf%E9.yaml" not in uris  # .sops.yaml's rule matched it: it is encrypted
    layers = _run(["layers"], repo, tmp_path)
    assert layers.code == 0 and "SM001" in layers.out


def test_a_write_the_changelog_could_not_record_is_refused_before_it(
    repo: Path, tmp_path: Path
) -> None:
    name = f"apps/s{CAFE}.yaml"
    git(repo, "mv", name, "apps/s.yaml")
    git(repo, "commit", "-q", "-m", "a UTF-8 name")
    assert _run(["log", "--adopt", "--reason", "start"], repo, tmp_path).code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "adopt")
    git(repo, "mv", "apps/s.yaml", name)
    git(repo, "commit", "-q", "-m", "a Latin-1 name")
    before = _files(repo)
    for args, stdin in (
        (["set", name, "stringData.other"], "v"),
        (["unset", name, "stringData.password"], ""),
        (["rotate", name], ""),
        (["rotate", "--all"], ""),
        (["log", "--adopt", "--reason", "again"], ""),
    ):
        done = _run(args, repo, tmp_path, stdin=stdin)
        assert done.code == 1, (args, done.err)
        first = done.err.splitlines()[0]
        assert "caf\\xe9.yaml" in first and "not UTF-8 text" in first, done.err
        assert "rename the file to a UTF-8 name" in done.err
        assert _files(repo) == before, args
    # a reason or a key path in another encoding: refused the same way, nothing written
    bad = os.fsdecode(b"r\xff")
    done = _run(["rotate", "--all", "--reason", bad], repo, tmp_path)
    assert done.code == 1 and "the reason r\\xff is not UTF-8 text" in done.err, done.err
    done = _run(["set", name, f"stringData.{bad}"], repo, tmp_path, stdin="v")
    assert done.code == 2 and "KEY_PATH stringData.r\\xff is not UTF-8 text" in done.err
    assert _files(repo) == before


def test_a_printed_command_names_the_bytes_themselves() -> None:
    from secretsmgr.shellword import one_line, sh_path

    name = f"apps/{CAFE} x.yaml"
    assert sh_path(name) == "$'apps/caf\\xe9 x.yaml'"  # bash writes the byte \xe9 back
    assert one_line(f"error: {name}") == "error: apps/caf\\xe9 x.yaml"


@pytest.mark.parametrize("name", ["a b\nc", f"a{CAFE} b\nc", f"a{CAFE}\tc", f"a{CAFE}\x1bc"])
def test_checks_closing_command_names_the_file_itself_when_pasted(
    repo: Path, tmp_path: Path, name: str
) -> None:
    # the review of stop 51: the summary line escaped the name twice (`$'apps/a b\\nc.yaml'`),
    # a tab became a space, and the pasted command named another file
    import subprocess

    path = f"apps/{name}.yaml"
    (repo / os.fsencode(path).decode("utf-8", "surrogateescape")).write_text(
        SECRET.format(name="leak", pw="Zq8rT2vLp0XwN4mK")
    )
    git(repo, "add", "-A")
    done = _run(["check"], repo, tmp_path)
    assert done.code == 1, done.err
    (closing,) = [line for line in done.out.splitlines() if "blocked — encrypt it with: " in line]
    word = closing.split("secretsmgr encrypt -i ", 1)[1]
    pasted = subprocess.run(
        ["bash", "-c", f"printf %s {word}"], capture_output=True, check=True
    ).stdout
    assert pasted == os.fsencode(path), (closing, pasted)


def test_the_outside_flux_entry_printed_for_such_a_name_silences_it_when_pasted(
    repo: Path, tmp_path: Path
) -> None:
    # the review of stop 51: `outside_flux: ["apps/caf\xe9.yaml"]` reads in YAML as café in
    # UTF-8, another name, and SM012 stayed
    git(repo, "mv", f"apps/s{CAFE}.yaml", f"s{CAFE}.yaml")  # at the top: no layer applies it
    git(repo, "commit", "-q", "-m", "moved out of the layer")
    done = _run(["audit"], repo, tmp_path)
    assert 'outside_flux: ["scaf?.yaml"]' in done.out, done.out
    (repo / ".secretsmgr.yaml").write_text('outside_flux: ["scaf?.yaml"]\n')
    done = _run(["audit", "--format", "json"], repo, tmp_path)
    assert not [f for f in json.loads(done.out)["findings"] if f["rule"] == "SM012"], done.out
