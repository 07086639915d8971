"""INI files end to end: what sops writes we read, what we write sops reads, and the repository
sees ``*.ini`` SOPS files (by name and by their ``[sops]`` section)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import TEST_KEY, run_sops

from .runner import run

PUB1 = "age17m4zztwdtjwv5yastfc6v72cjnsrn7yuxlpmgwgr5c8s52lst4jq9x0tvy"
PLAIN = (
    "; database settings\n"
    "[db]\n"
    "user = admin\n"
    "# rotated monthly\n"
    "password = hunter2 ; inline\n"
    "url: postgres://db:5432/app\n"
    "[public_unencrypted]\n"
    "note = visible\n"
)
# what sops decrypt prints for PLAIN (checked with sops 3.11)
SHOWN = (
    "; database settings\n"
    "[db]\n"
    "user     = admin\n"
    "; rotated monthly\n"
    "; inline\n"
    "password = hunter2\n"
    "url      = postgres://db:5432/app\n"
    "\n"
    "[public_unencrypted]\n"
    "note = visible\n"
)


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    (root / ".sops.yaml").write_text(f"creation_rules:\n  - age: {PUB1}\n")
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(TEST_KEY))
    return root


def sops_plain(path: Path) -> str:
    done = run_sops(["decrypt", str(path)], key_file=TEST_KEY)
    assert done.returncode == 0, done.stderr
    return done.stdout


def one_error(err: str, *secrets: str) -> str:
    lines = err.strip().splitlines()
    assert lines and lines[0].startswith("secretsmgr: error: ")
    assert all(line.startswith(("secretsmgr: error: ", "secretsmgr: hint: ")) for line in lines)
    assert "Traceback" not in err
    assert not any(secret in err for secret in secrets)
    return lines[0]


@pytest.mark.interop
def test_a_file_sops_encrypted_decrypts_as_sops_decrypt_prints_it(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = repo / "app.sops.ini"
    path.write_text(PLAIN)
    done = run_sops(["encrypt", "-i", str(path)], cwd=repo)
    assert done.returncode == 0, done.stderr
    assert "[sops]" in path.read_text() and "hunter2" not in path.read_text()
    assert run(["--repo", str(repo), "decrypt", str(path)], capsys) == (0, SHOWN, "")
    assert sops_plain(path) == SHOWN
    extract = ["--repo", str(repo), "decrypt", "--extract"]
    assert run([*extract, "db.password", str(path)], capsys) == (0, "hunter2", "")
    assert run([*extract, '["public_unencrypted"]', str(path)], capsys)[:2] == (
        0,
        "note = visible\n",
    )


@pytest.mark.interop
def test_a_file_we_encrypt_sops_decrypts_to_the_same_text(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = repo / "app.sops.ini"
    path.write_text(PLAIN)
    assert run(["--repo", str(repo), "encrypt", "-i", str(path)], capsys) == (0, "", "")
    text = path.read_text()
    assert "hunter2" not in text and "note = visible" in text and "\n\n[sops]\n" in text
    assert sops_plain(path) == SHOWN
    assert run(["--repo", str(repo), "decrypt", str(path)], capsys) == (0, SHOWN, "")
    # tampering is caught by sops as by us
    lines = text.splitlines(keepends=True)
    lines[lines.index("note = visible\n")] = "note = changed\n"
    path.write_text("".join(lines))
    assert run_sops(["decrypt", str(path)], key_file=TEST_KEY).returncode == 51
    code, out, err = run(["--repo", str(repo), "decrypt", str(path)], capsys)
    assert (code, out) == (1, "") and "MAC mismatch" in one_error(err, "hunter2")


@pytest.mark.interop
def test_set_and_unset_do_what_sops_set_and_unset_do(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = repo / "app.sops.ini"
    path.write_text(PLAIN)
    assert run(["--repo", str(repo), "encrypt", "-i", str(path)], capsys)[0] == 0
    twin = repo / "twin.sops.ini"
    shutil.copy(path, twin)
    before = path.read_text()
    base = ["--repo", str(repo)]
    assert run([*base, "set", str(path), "db.password"], capsys, stdin=b"n3w\n") == (0, "", "")
    assert run([*base, "set", str(path), "cache.token"], capsys, stdin=b"t0ken") == (0, "", "")
    assert run([*base, "unset", str(path), "db.user"], capsys) == (0, "", "")
    for args in (
        ["set", str(twin), '["db"]["password"]', '"n3w"'],
        ["set", str(twin), '["cache"]["token"]', '"t0ken"'],
        ["unset", str(twin), '["db"]["user"]'],
    ):
        done = run_sops(args, key_file=TEST_KEY)
        assert done.returncode == 0, done.stderr
    assert sops_plain(path) == sops_plain(twin)
    assert "password = n3w\n" in sops_plain(path) and "[cache]\ntoken = t0ken\n" in sops_plain(path)
    # the url's ciphertext did not move: only what changed did
    url = next(line for line in before.splitlines() if line.startswith("url"))
    assert url in path.read_text().splitlines()


@pytest.mark.parametrize(
    ("args", "stdin", "words"),
    [
        (["set", "{f}", "password"], b"x", "name one as SECTION.KEY"),
        (["set", "{f}", "db.conn.url"], b"x", "name one as SECTION.KEY"),
        (["set", "{f}", "sops.mac"], b"x", "reserved for sops metadata"),
        (["set", "{f}", '["db"]["#note"]'], b"x", "not a section and key name"),
        (["set", "{f}", '["db"]["-"]'], b"x", "not a section and key name"),
        (["set", "--json", "{f}", "db.port"], b"5432", "holds only strings"),
        (["set", "{f}", "public_unencrypted.token"], b"hunter2", "leaves"),
        (["unset", "{f}", "db.nope"], b"", "not found"),
    ],
)
def test_set_and_unset_refusals_change_nothing(
    repo: Path, capsys: pytest.CaptureFixture[str], args: list[str], stdin: bytes, words: str
) -> None:
    path = repo / "app.sops.ini"
    path.write_text(PLAIN)
    assert run(["--repo", str(repo), "encrypt", "-i", str(path)], capsys)[0] == 0
    before = path.read_bytes()
    argv = ["--repo", str(repo), *(a.replace("{f}", str(path)) for a in args)]
    code, out, err = run(argv, capsys, stdin=stdin)
    assert code in (1, 2) and out == ""
    assert words in one_error(err, "hunter2")
    assert path.read_bytes() == before


def test_a_plaintext_ini_with_a_sops_section_or_a_bad_line_is_refused(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = repo / "app.sops.ini"
    for text, words in (
        ("[sops]\nk = v\n", "section [sops] is reserved"),
        ("[db]\npassword hunter2\n", "malformed INI at line 2"),
    ):
        path.write_text(text)
        code, out, err = run(["--repo", str(repo), "encrypt", "-i", str(path)], capsys)
        assert (code, out) == (1, "")
        assert words in one_error(err, "hunter2")
        assert path.read_text() == text


@pytest.mark.interop
def test_audit_sees_ini_sops_files_and_a_plaintext_one(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / "by-name.sops.ini").write_text(PLAIN)
    assert run_sops(["encrypt", "-i", str(repo / "by-name.sops.ini")], cwd=repo).returncode == 0
    (repo / "by-section.ini").write_text(PLAIN)
    assert run_sops(["encrypt", "-i", str(repo / "by-section.ini")], cwd=repo).returncode == 0
    (repo / "leak.sops.ini").write_text("[db]\npassword = hunter2-and-more\n")
    (repo / "tox.ini").write_text("[tox]\nenvlist = py311\n")
    code, out, err = run(
        ["--repo", str(repo), "audit", "--format", "json", "--fail-on", "never"],
        capsys,
    )
    assert (code, err) == (0, "") and "hunter2" not in out
    report = json.loads(out)
    by_rule: dict[str, set[str]] = {}
    for finding in report["findings"]:
        by_rule.setdefault(finding["rule"], set()).add(finding["path"])
    assert by_rule["SM002"] == {"leak.sops.ini"}
    assert "by-name.sops.ini" not in by_rule.get("SM006", set())
    assert report["summary"]["sops_files"] == 3
