"""``set``/``unset``: one value changed, everything else byte-identical, sops reads the result."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, TEST_KEY, run_sops

from .runner import finish_process, run, run_process, start_process

PUB1 = "age17m4zztwdtjwv5yastfc6v72cjnsrn7yuxlpmgwgr5c8s52lst4jq9x0tvy"
DEMO_KEY = FIXTURES / "keys" / "demo-only.agekey"
NEW_VALUE = "n3w-S3cret-Value"

SECRET = """apiVersion: v1
kind: Secret
metadata:
    name: db
stringData:
    # the admin password
    password: old-password
    username: admin
    config.yaml: |
        host: db.internal
"""


def one_error(err: str, *secrets: str) -> str:
    lines = err.strip().splitlines()
    assert lines and lines[0].startswith("secretsmgr: error: ")
    assert all(line.startswith(("secretsmgr: error: ", "secretsmgr: hint: ")) for line in lines)
    assert "Traceback" not in err
    for secret in secrets:
        assert secret not in err
    return lines[0]


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    (root / ".sops.yaml").write_text(
        "creation_rules:\n"
        "  - path_regex: \\.yaml$\n"
        "    encrypted_regex: ^(data|stringData)$\n"
        f"    age: {PUB1}\n"
        f"  - age: {PUB1}\n"
    )
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(TEST_KEY))
    return root


def encrypted(repo: Path, name: str, text: str, capsys: pytest.CaptureFixture[str]) -> Path:
    path = repo / name
    path.write_text(text)
    run(["--repo", str(repo), "encrypt", "-i", str(path)], capsys, expect=0)
    return path


def sops_plain(path: Path) -> str:
    done = run_sops(["decrypt", str(path)], key_file=TEST_KEY)
    assert done.returncode == 0, done.stderr
    return done.stdout


def changed_lines(before: str, after: str) -> set[str]:
    a, b = before.splitlines(), after.splitlines()
    assert len(a) == len(b)
    return {x.split(":")[0].strip() for x, y in zip(a, b, strict=True) if x != y}


def test_set_changes_one_ciphertext_and_the_mac(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = encrypted(repo, "db.yaml", SECRET, capsys)
    before = path.read_text()
    args = ["--repo", str(repo), "set", str(path), "stringData.password"]
    assert run(args, capsys, stdin=f"{NEW_VALUE}\n".encode()) == (0, "", "")
    after = path.read_text()
    assert NEW_VALUE not in after
    assert changed_lines(before, after) - {"lastmodified"} == {"password", "mac"}
    expected = SECRET.replace("old-password", NEW_VALUE)  # one-line value: newline dropped
    assert sops_plain(path) == expected


def test_set_and_unset_keep_the_files_sops_version_as_sops_does(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the interop review of stop 55: `sops set` keeps the version an older sops wrote,
    # secretsmgr's set raised it to 3.11.0 (a diff line of its own); edit raises it, as sops's
    path = encrypted(repo, "db.yaml", SECRET, capsys)
    path.write_text(path.read_text().replace("version: 3.11.0", "version: 3.7.3"))
    done = run_sops(["set", str(path), '["stringData"]["username"]', '"root"'], key_file=TEST_KEY)
    assert done.returncode == 0 and "version: 3.7.3" in path.read_text(), done.stderr
    args = ["--repo", str(repo), "set", str(path), "stringData.password"]
    assert run(args, capsys, stdin=NEW_VALUE)[0] == 0
    args = ["--repo", str(repo), "unset", str(path), "stringData.username"]
    assert run(args, capsys)[0] == 0
    assert "version: 3.7.3" in path.read_text()
    assert NEW_VALUE in sops_plain(path)


def test_set_is_a_no_op_for_the_same_value(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = encrypted(repo, "db.yaml", SECRET, capsys)
    before = path.read_bytes()
    args = ["--repo", str(repo), "set", str(path), '["stringData"]["username"]']
    assert run(args, capsys, stdin=b"admin") == (0, "", "")
    assert path.read_bytes() == before


def test_a_multi_line_value_is_kept_exactly_and_a_value_file_too(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = encrypted(repo, "db.yaml", SECRET, capsys)
    pem = "-----BEGIN CERT-----\nAAAA\n-----END CERT-----\n"
    args = ["--repo", str(repo), "set", str(path), '["stringData"]["tls.crt"]']
    assert run(args, capsys, stdin=pem.encode()) == (0, "", "")
    value_file = tmp_path / "token"
    value_file.write_bytes(b"tok\r\n")
    args = [
        "--repo",
        str(repo),
        "set",
        "--value-file",
        str(value_file),
        str(path),
        "stringData.token",
    ]
    assert run(args, capsys) == (0, "", "")
    doc = json.loads(
        run_sops(["decrypt", "--output-type", "json", str(path)], key_file=TEST_KEY).stdout
    )
    assert doc["stringData"]["tls.crt"] == pem
    assert doc["stringData"]["token"] == "tok"


def test_the_value_is_never_an_argument(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = encrypted(repo, "db.yaml", SECRET, capsys)
    before = path.read_bytes()
    code, _, err = run(["set", str(path), "stringData.password", NEW_VALUE], capsys)
    assert code == 2
    one_error(err)
    assert path.read_bytes() == before
    # sweep 18: the parser's message quoted the extra arguments, the value with them
    assert NEW_VALUE not in err and "standard input or --value-file" in err
    code, _, err = run(["encrypt", str(path), "x", NEW_VALUE], capsys)
    assert code == 2 and NEW_VALUE not in err and "unexpected extra arguments" in err


@pytest.mark.interop
@pytest.mark.parametrize(
    ("name", "text", "ours", "theirs"),
    [
        ("a.yaml", "data:\n    a: b\n", ["--json", '["data"]["x"]["y"]'], ['["data"]["x"]["y"]']),
        (
            "b.yaml",
            "data:\n    list:\n        - 1\n",
            ["--json", '["data"]["list"][5]'],
            ['["data"]["list"][5]'],
        ),
        ("c.json", '{"a": {"b": 1}}', ["--json", '["a"]["c"]["d"]'], ['["a"]["c"]["d"]']),
        ("d.env", "A=1\n", ["--json", '["B"]'], ['["B"]']),
    ],
    ids=["yaml-nested", "yaml-list-append", "json", "dotenv"],
)
def test_set_creates_keys_as_sops_set_does(
    repo: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    text: str,
    ours: list[str],
    theirs: list[str],
) -> None:
    """The same set through secretsmgr and through ``sops set`` decrypts to the same text."""
    path = encrypted(repo, name, text, capsys)
    twin = repo / f"twin-{name}"
    shutil.copy(path, twin)
    value = '"v4lue"'
    code, _, err = run(
        ["--repo", str(repo), "set", *ours[:1], str(path), *ours[1:]],
        capsys,
        stdin=value.encode(),
    )
    assert (code, err) == (0, "")
    done = run_sops(["set", str(twin), *theirs, value], key_file=TEST_KEY)
    assert done.returncode == 0, done.stderr
    assert sops_plain(path) == sops_plain(twin)
    assert "v4lue" in sops_plain(path)
    # the other direction: a file sops changed is one we read and change again
    remove = theirs[0].replace("[5]", "[-1]")  # the appended item is the last one
    assert run(["--repo", str(repo), "unset", str(twin), remove], capsys)[0] == 0
    assert "v4lue" not in sops_plain(twin)


@pytest.mark.interop
def test_unset_removes_a_key_as_sops_unset_does(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = encrypted(repo, "db.yaml", SECRET, capsys)
    twin = repo / "twin.yaml"
    shutil.copy(path, twin)
    before = path.read_text()
    assert run(["--repo", str(repo), "unset", str(path), "stringData.username"], capsys) == (
        0,
        "",
        "",
    )
    done = run_sops(["unset", str(twin), '["stringData"]["username"]'], key_file=TEST_KEY)
    assert done.returncode == 0, done.stderr
    assert sops_plain(path) == sops_plain(twin) == SECRET.replace("    username: admin\n", "")
    kept = [line for line in before.splitlines() if "username" not in line]
    after = path.read_text().splitlines()
    assert {line.split(":")[0].strip() for line in set(after) - set(kept)} <= {
        "lastmodified",
        "mac",
    }


def test_set_and_unset_on_json_and_dotenv(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    env_file = encrypted(repo, "app.env", "A=1\nB=2\n", capsys)
    json_file = encrypted(repo, "app.json", '{"a": "1", "b": {"c": "2"}}', capsys)
    assert run(["--repo", str(repo), "set", str(env_file), "C"], capsys, stdin=b"three\n")[0] == 0
    assert run(["--repo", str(repo), "unset", str(env_file), "A"], capsys)[0] == 0
    assert sops_plain(env_file) == "B=2\nC=three\n"
    assert run(["--repo", str(repo), "set", str(json_file), "b.d"], capsys, stdin=b"4")[0] == 0
    assert run(["--repo", str(repo), "unset", str(json_file), "b.c"], capsys)[0] == 0
    assert json.loads(sops_plain(json_file)) == {"a": "1", "b": {"d": "4"}}
    # every number of a JSON file is a float to sops 3.11, as `sops set` writes one (the interop
    # review of stop 55: set --json wrote `type:int`)
    args = ["--repo", str(repo), "set", "--json", str(json_file), "n"]
    assert run(args, capsys, stdin=b'{"x": [7, true, 1.5]}')[0] == 0
    types = re.findall(r"type:(\w+)\]", json_file.read_text())
    assert types.count("float") == 2 and "int" not in types, types
    assert json.loads(sops_plain(json_file))["n"] == {"x": [7, True, 1.5]}


@pytest.mark.parametrize(
    ("file", "args", "stdin", "code", "words"),
    [
        ("db.yaml", ["unset", "{f}", "stringData.nope"], b"", 2, "not found"),
        ("db.yaml", ["set", "{f}", "stringData.password"], b"", 2, "empty"),
        ("db.yaml", ["set", "{f}", "stringData.password"], b"\xff", 2, "not UTF-8"),
        ("db.yaml", ["set", "{f}", "stringData.tls.crt"], b"x", 2, '["stringData"]["name.with'),
        ("db.yaml", ["set", "--json", "{f}", "stringData.n"], b"5", 2, "leave out --json"),
        ("db.yaml", ["set", "--json", "{f}", "stringData"], b'{"a": 1}', 2, "stringData.NAME"),
        # the attack review of stop 53: a string over the whole mapping exited 0
        ("db.yaml", ["set", "{f}", "stringData"], b"NEWVAL", 2, "a mapping of keys"),
        ("db.yaml", ["set", "{f}", "data"], b"TkVXVkFM", 2, "set one key under it: data.NAME"),
        (
            "db.yaml",
            ["set", "{f}", "metadata.labels.app"],
            b"x",
            1,
            "leaves metadata.labels.app in plaintext",
        ),
        ("db.yaml", ["set", "{f}", "sops.mac"], b"x", 2, "reserved"),
        ("db.yaml", ["set", "{f}", "data.token"], b"not base64!", 2, "stringData.token"),
        ("db.yaml", ["set", "{f}", "metadata.name.inner"], b"x", 2, "holds a value"),
        ("app.env", ["set", "{f}", "a.b"], b"x", 2, "only top-level keys"),
        ("app.env", ["set", "{f}", "sops_mac"], b"x", 2, "not a valid dotenv key"),
        ("app.env", ["set", "--json", "{f}", "N"], b"[1]", 2, "only strings"),
        # the review of stop 55: a number past a float's range was written as .inf
        ("db.yaml", ["set", "--json", "{f}", "n"], b"1e400", 2, "not valid JSON"),
        ("missing.yaml", ["set", "{f}", "a"], b"x", 2, "no such file"),
    ],
)
def test_set_and_unset_refusals_change_nothing(
    repo: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    file: str,
    args: list[str],
    stdin: bytes,
    code: int,
    words: str,
) -> None:
    if file == "db.yaml":
        encrypted(repo, file, SECRET, capsys)
    elif file == "app.env":
        encrypted(repo, file, "A=1\n", capsys)
    path = repo / file
    before = path.read_bytes() if path.exists() else None
    argv = ["--repo", str(repo), *(a.format(f=path) for a in args)]
    got, out, err = run(argv, capsys, stdin=stdin)
    assert (got, out) == (code, "")
    one_error(err, "old-password")
    assert words in err  # the error line, or the hint that fits it
    assert (path.read_bytes() if path.exists() else None) == before


def test_set_and_unset_are_logged_by_key_path_never_by_value(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    demo = shutil.copytree(FIXTURES / "demo", tmp_path / "demo")
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(DEMO_KEY))
    target = demo / "gitops" / "apps" / "redis" / "auth.enc.yaml"
    log = demo / "secrets-changelog.jsonl"
    before = log.read_text().splitlines()
    args = ["--repo", str(demo), "set", str(target), "stringData.extra"]
    assert run(args, capsys, stdin=NEW_VALUE.encode()) == (0, "", "")
    args = ["--repo", str(demo), "unset", str(target), '["stringData"]["extra"]']
    assert run(args, capsys) == (0, "", "")
    lines = log.read_text().splitlines()
    assert lines[: len(before)] == before
    entries = [json.loads(line) for line in lines[len(before) :]]
    assert [e["action"] for e in entries] == ["set", "unset"]
    assert [e["files"][0]["key_paths"] for e in entries] == [["stringData.extra"]] * 2
    assert [e["files"][0]["path"] for e in entries] == ["gitops/apps/redis/auth.enc.yaml"] * 2
    assert NEW_VALUE not in log.read_text()
    code, out, err = run(["--repo", str(demo), "log", "--verify"], capsys)
    assert code == 0 and err == "" and "every SOPS file's state has an entry\n" in out


def test_set_waits_for_another_writer_and_keeps_its_result(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer holding the repository lock finishes first; set then changes its result."""
    path = encrypted(repo, "db.yaml", SECRET, capsys)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    # the holder takes the lock before its set runs, and keeps it 1.5 s first (the lock is
    # re-entrant within a process, and dies with it)
    hold_first = (
        "import pathlib, time\n"
        "from secretsmgr.repo.lock import repo_lock\n"
        f"_held = repo_lock(pathlib.Path({str(repo)!r}))\n"
        "_held.__enter__()\n"
        "print('locked', flush=True)\n"
        "time.sleep(1.5)\n"
    )
    value_file = tmp_path / "first-value"
    args = ["--repo", str(repo), "set", "--value-file", str(value_file), str(path)]
    holder = start_process([*args, "stringData.first"], env=os.environ, preamble=hold_first)
    value_file.write_text("first\n")
    assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
    args = ["--repo", str(repo), "set", str(path), "stringData.second"]
    assert run(args, capsys, stdin=b"second") == (0, "", "")
    assert finish_process(holder, expect=0, timeout=60) == (0, "", "")
    plain = sops_plain(path)
    assert "first: first" in plain and "second: second" in plain


def test_racing_writers_lose_nothing(tmp_path: Path) -> None:
    """Six set processes, one unset and one edit race on one file: every run that succeeded
    is in the file and in the changelog, sops reads the result and the chain verifies."""
    from tests.rotate.helpers import REDIS, git_copy, subprocess_env

    repo = git_copy(FIXTURES / "demo", tmp_path / "repo")
    target = repo / REDIS
    editor = tmp_path / "editor.py"
    editor.write_text(
        "import sys\n"
        "text = open(sys.argv[1]).read()\n"
        "open(sys.argv[1], 'w').write(text.replace('app.kubernetes.io/name: redis\\n', "
        "'app.kubernetes.io/name: redis-edited\\n'))\n"  # the same on a re-opened buffer
    )
    env = subprocess_env(SOPS_AGE_KEY_FILE=str(DEMO_KEY), EDITOR=f"{sys.executable} {editor}")
    runs = [["set", str(target), f"stringData.key{n}"] for n in range(6)]
    runs.append(["unset", str(target), "stringData.redis-password"])
    runs.append(["edit", str(target)])
    procs = [start_process(args, repo=repo, env=env, stdin=True) for args in runs]
    # an edit whose file changed while its editor was open says so, and saves all the same
    results = [
        finish_process(
            proc, stdin=f"value-{n}\n", timeout=300, may_warn=["changed while the editor was open"]
        )
        for n, proc in enumerate(procs)
    ]
    codes = [done.code for done in results]
    assert all(code in (0, 1) for code in codes), results
    for done in results:
        if done.code == 1:  # acceptable refusals: the lock stayed busy, or the file kept changing
            assert "another secretsmgr is writing" in done.err or "keeps changing" in done.err
    assert codes.count(0) >= 1  # under load, some may give up waiting for the lock
    done = run_sops(["decrypt", "--output-type", "json", str(target)], key_file=DEMO_KEY)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    for n in range(6):
        assert (doc["stringData"].get(f"key{n}") == f"value-{n}") == (codes[n] == 0)
    assert ("redis-password" not in doc["stringData"]) == (codes[6] == 0)
    edited = doc["metadata"]["labels"]["app.kubernetes.io/name"] == "redis-edited"
    assert edited == (codes[7] == 0)
    entries = [
        json.loads(line) for line in (repo / "secrets-changelog.jsonl").read_text().splitlines()
    ]
    actions = [e["action"] for e in entries if e["files"][0]["path"] == REDIS]
    assert actions.count("set") == codes[:6].count(0)
    assert actions.count("unset") == (codes[6] == 0)
    assert actions.count("edit") == (codes[7] == 0)
    run_process(["log", "--verify"], repo=repo, env=env, expect=0)


@pytest.mark.parametrize(
    ("damage", "code", "words"),
    [
        ("forged", 1, "is broken at seq 1"),
        ("setting", 2, "unknown setting bogus"),
        ("deep", 1, "is broken at seq 2"),
    ],
)
@pytest.mark.parametrize("command", ["set", "unset", "encrypt", "edit"])
def test_a_bad_changelog_or_setting_refuses_the_write_before_it(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    damage: str,
    code: int,
    words: str,
    command: str,
) -> None:
    """The entry could not be appended: the file is never written first."""
    demo = shutil.copytree(FIXTURES / "demo", tmp_path / "demo")
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(DEMO_KEY))
    monkeypatch.setenv(
        "EDITOR", f"{sys.executable} -c \"open(__import__('sys').argv[1],'a').write('x: y\\n')\""
    )
    log = demo / "secrets-changelog.jsonl"
    if damage == "forged":
        log.write_text(log.read_text().replace("demo: initial", "forged", 1))
    elif damage == "setting":
        (demo / ".secretsmgr.yaml").write_text(
            (demo / ".secretsmgr.yaml").read_text() + "bogus: 1\n"
        )
    else:  # a line nested past any parser's depth: a broken chain, never a crash
        log.write_bytes(log.read_bytes() + b"[" * 100_000 + b"]" * 100_000 + b"\n")
    target = demo / "gitops" / "apps" / "redis" / "auth.enc.yaml"
    if command == "encrypt":
        target = demo / "gitops" / "apps" / "redis" / "new.enc.yaml"
        target.write_text(SECRET)
    args = {
        "set": ["set", str(target), "stringData.extra"],
        "unset": ["unset", str(target), "stringData.redis-password"],
        "encrypt": ["encrypt", "-i", str(target)],
        "edit": ["edit", str(target)],
    }[command]
    before = {p: p.read_bytes() for p in demo.rglob("*") if p.is_file()}
    got, out, err = run(["--repo", str(demo), *args], capsys, stdin=NEW_VALUE.encode())
    assert (got, out) == (code, ""), err
    assert words in one_error(err, NEW_VALUE, "old-password")
    assert {p: p.read_bytes() for p in demo.rglob("*") if p.is_file()} == before


@pytest.mark.parametrize("flag", ["+i", "+a"])
def test_a_changelog_that_cannot_be_replaced_refuses_the_write_before_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, flag: str
) -> None:
    """An immutable or append-only changelog cannot be replaced by the append: refused first."""
    if os.geteuid() != 0:
        pytest.skip("chattr needs root")
    demo = shutil.copytree(FIXTURES / "demo", tmp_path / "demo")
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(DEMO_KEY))
    log = demo / "secrets-changelog.jsonl"
    made = subprocess.run(["chattr", flag, str(log)], capture_output=True, check=False)
    if made.returncode != 0:
        pytest.skip(f"chattr {flag} is not supported here")
    target = demo / "gitops" / "apps" / "redis" / "auth.enc.yaml"
    before = target.read_bytes()
    try:
        got, out, err = run(
            ["--repo", str(demo), "set", str(target), "stringData.extra"],
            capsys,
            stdin=NEW_VALUE.encode(),
        )
    finally:
        subprocess.run(["chattr", flag.replace("+", "-"), str(log)], check=True)
    assert (got, out) == (1, "")
    assert "cannot replace the changelog" in one_error(err, NEW_VALUE)
    assert target.read_bytes() == before


def test_a_history_rewritten_after_a_kept_checkpoint_still_refuses_the_write(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Writers check only the lines after the prefix they verified last time, and only while the
    changelog still starts with exactly those bytes: a rewritten old line is found."""
    from tests.conftest import git

    demo = shutil.copytree(FIXTURES / "demo", tmp_path / "demo")
    git(demo, "init", "-q", "-b", "main")
    git(demo, "add", "-A")
    git(demo, "commit", "-q", "--no-gpg-sign", "-m", "demo")
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(DEMO_KEY))
    target = demo / "gitops" / "apps" / "redis" / "auth.enc.yaml"
    args = ["--repo", str(demo), "set", str(target), "stringData.extra"]
    assert run(args, capsys, stdin=NEW_VALUE.encode()) == (0, "", "")
    git_dir = Path(git(demo, "rev-parse", "--absolute-git-dir").strip())
    assert list((git_dir / "secretsmgr" / "chains").iterdir())  # a checkpoint was kept
    log = demo / "secrets-changelog.jsonl"
    log.write_text(log.read_text().replace("demo: initial", "demo: forged!", 1))
    before = {p: p.read_bytes() for p in demo.rglob("*") if p.is_file() and ".git" not in p.parts}
    for argv in (args, ["--repo", str(demo), "rotate", "--all", "--allow-dirty"]):
        got, out, err = run(argv, capsys, stdin=NEW_VALUE.encode())
        assert (got, out) == (1, ""), err
        assert "is broken at seq 1" in one_error(err, NEW_VALUE)
    after = {p: p.read_bytes() for p in demo.rglob("*") if p.is_file() and ".git" not in p.parts}
    assert after == before


def _add_in_clear(path: Path, after: str, line: str) -> bytes:
    """Add ``line`` by hand below the line starting with ``after`` (SM003's case)."""
    lines = path.read_text().splitlines(keepends=True)
    at = next(i for i, text in enumerate(lines) if text.startswith(after)) + 1
    path.write_text("".join([*lines[:at], line, *lines[at:]]))
    return path.read_bytes()


def test_a_value_added_in_clear_is_replaced_or_removed(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """sops refuses a file with a value added in clear; set/unset are its cure (SM003's fix),
    and refuse while another such value would be encrypted unasked."""
    path = encrypted(repo, "db.yaml", SECRET, capsys)
    twin = repo / "twin.yaml"
    before = _add_in_clear(path, "stringData:", "    extra: leaked-in-clear\n")
    twin.write_bytes(before)
    assert run_sops(["decrypt", str(path)], key_file=TEST_KEY).returncode != 0
    got, out, err = run(["--repo", str(repo), "decrypt", str(path)], capsys)
    assert (got, out) != (0, "")
    one_error(err, "leaked-in-clear", "old-password")
    assert "hint: added in clear by hand (SM003): encrypt a new value in its place: " in err
    assert f"secretsmgr set {path} stringData.extra" in err

    args = ["--repo", str(repo), "set", str(path), "stringData.password"]
    got, out, err = run(args, capsys, stdin=NEW_VALUE.encode())
    assert (got, out) == (1, "")
    assert "stringData.extra is in clear" in one_error(err, "leaked-in-clear", "old-password")
    assert path.read_bytes() == before

    args = ["--repo", str(repo), "set", str(path), "stringData.extra"]
    assert run(args, capsys, stdin=NEW_VALUE.encode()) == (0, "", "")
    assert "leaked-in-clear" not in path.read_text()
    with_extra = SECRET.replace("stringData:\n", f"stringData:\n    extra: {NEW_VALUE}\n")
    assert sops_plain(path) == with_extra

    assert run(["--repo", str(repo), "unset", str(twin), "stringData.extra"], capsys)[0] == 0
    assert sops_plain(twin) == SECRET

    env_file = encrypted(repo, "app.env", "A=1\n", capsys)
    env_file.write_text(env_file.read_text() + "B=leaked-in-clear\n")
    assert run(["--repo", str(repo), "set", str(env_file), "B"], capsys, stdin=b"two")[0] == 0
    assert sops_plain(env_file) == "A=1\nB=two\n"


def test_a_value_replaced_in_clear_still_fails_the_mac(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An encrypted value overwritten in clear changes what the MAC covers: still refused."""
    path = encrypted(repo, "db.yaml", SECRET, capsys)
    text = path.read_text()
    start = text.index("    username: ENC[")
    end = text.index("\n", start)
    path.write_text(text[:start] + "    username: root" + text[end:])
    before = path.read_bytes()
    args = ["--repo", str(repo), "set", str(path), "stringData.username"]
    got, out, err = run(args, capsys, stdin=b"admin")
    assert (got, out) == (1, "")
    assert "MAC mismatch" in one_error(err, "old-password")
    assert path.read_bytes() == before


def test_a_value_added_in_clear_elsewhere_is_never_sealed_unasked(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The review of sweep 16: a clear value in another list item, or in another document,
    counted as the one being set (their paths matched without list indexes or documents), and
    set sealed the attacker's value under a fresh MAC."""
    users = "users:\n    - name: a\n      password: pw-a\n    - name: b\n      password: pw-b\n"
    path = encrypted(repo, "values.yml", users, capsys)
    text = path.read_text()
    path.write_text(text.replace("sops:\n", "    - password: chosen-by-another\nsops:\n", 1))
    before = path.read_bytes()
    for args in (["set", str(path), "users.0.password"], ["unset", str(path), "users.0"]):
        got, out, err = run(["--repo", str(repo), *args], capsys, stdin=b"new")
        assert (got, out) == (1, "")
        assert '["users"][2]["password"] is in clear' in one_error(err, "chosen-by-another")
        assert path.read_bytes() == before
    args = ["--repo", str(repo), "unset", str(path), '["users"][2]']
    assert run(args, capsys)[0] == 0
    assert sops_plain(path) == users

    two = encrypted(repo, "two.yaml", SECRET + "---\n" + SECRET.replace("db", "db2"), capsys)
    text = two.read_text()
    at = text.index("stringData:", text.index("db2"))
    two.write_text(text[:at] + "stringData:\n    added: chosen-by-another" + text[at + 11 :])
    before = two.read_bytes()
    got, out, err = run(
        ["--repo", str(repo), "set", str(two), "stringData.password"], capsys, stdin=b"new"
    )
    assert (got, out) == (1, "")
    assert "in document 2 is in clear" in one_error(err, "chosen-by-another", "old-password")
    assert two.read_bytes() == before


def test_set_on_a_missing_file_says_how_to_make_one_before_asking_for_a_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # sweep 72: `set` on a new path said "no such file" alone (and, with no key at hand, "no
    # age identity found" first)
    for name in ("SOPS_AGE_KEY_FILE", "SOPS_AGE_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    code, out, err = run(["set", "new.enc.yaml", "stringData.X"], capsys, stdin="v")
    assert (code, out) == (2, "")
    assert "secretsmgr: error: new.enc.yaml: no such file" in err
    assert "secretsmgr encrypt -i new.enc.yaml" in err and "secretsmgr edit new.enc.yaml" in err
    code, _, err = run(["unset", "new.enc.yaml", "stringData.X"], capsys)
    assert code == 2 and "no such file" in err and "no age identity" not in err


def test_a_key_path_only_a_later_document_holds_is_refused_not_added_to_the_first(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # sweep 95 (Vikaspogu/k8s-gitops): `set … stringData.token` on a file of two Secrets added
    # a token to the first Secret and left the second's as it was, with exit 0
    token = (
        "apiVersion: v1\nkind: Secret\nmetadata:\n    name: tok\nstringData:\n    token: t0k-old\n"
    )
    path = encrypted(repo, "two.yaml", SECRET + "---\n" + token, capsys)
    before = path.read_bytes()
    for args, stdin in (
        (["set", str(path), "stringData.token"], NEW_VALUE.encode()),
        (["unset", str(path), "stringData.token"], b""),
    ):
        code, out, err = run(["--repo", str(repo), *args], capsys, stdin=stdin)
        assert (code, out) == (2, ""), err
        line = one_error(err, "t0k-old", "old-password", NEW_VALUE)
        assert "stringData.token is in document 2 of the file, not in the first" in line
        assert f"secretsmgr edit {path}" in err
        assert path.read_bytes() == before
    # a key both documents hold, or only the first: the first is changed, as sops does
    run(
        ["--repo", str(repo), "set", str(path), "stringData.username"],
        capsys,
        stdin=b"root",
        expect=0,
    )
    assert "username: root" in sops_plain(path).split("---")[0]
