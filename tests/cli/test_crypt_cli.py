"""encrypt / decrypt / edit through ``main([...])``: exit codes, stdout, stderr hygiene."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, TEST_KEY, VECTORS, run_sops

from .runner import assert_user_error, run, run_process

DEMO_KEY = FIXTURES / "keys" / "demo-only.agekey"
STRANGER_KEY = FIXTURES / "keys" / "demo-only-stranger.agekey"
PUB1 = "age17m4zztwdtjwv5yastfc6v72cjnsrn7yuxlpmgwgr5c8s52lst4jq9x0tvy"
SECRET_VALUE = "s3cr3t-Value-42"

PLAIN_SECRET = f"""apiVersion: v1
kind: Secret
metadata:
  name: db
  namespace: prod
type: Opaque
stringData:
  # the admin password
  password: {SECRET_VALUE}
  config.yaml: |
    host: db.internal
    port: 5432
  username: admin
"""


def assert_clean_error(err: str, *secrets: str) -> None:
    assert_user_error(err)
    for secret in secrets:
        assert secret not in err


PLAIN_SECRET_WITH = (
    "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: Zq8-vL2m-Pw77\n"
)
PLAIN_DATA_WITH = (
    "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ndata:\n"
    "  password: WnE4LXZMMm0tUHc3Nw==\n"  # base64 of Zq8-vL2m-Pw77
)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "secrets").mkdir(parents=True)
    (root / ".sops.yaml").write_text(
        "creation_rules:\n"
        "  - path_regex: secrets/.*\\.yaml$\n"
        "    encrypted_regex: ^(data|stringData)$\n"
        f"    age: {PUB1}\n"
    )
    (root / "secrets" / "db.enc.yaml").write_text(PLAIN_SECRET)
    return root


@pytest.fixture
def key_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(TEST_KEY))


def test_encrypt_in_place_is_read_by_real_sops(
    repo: Path, key_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    target = repo / "secrets" / "db.enc.yaml"
    code, out, err = run(["encrypt", "-i", str(target)], capsys)
    assert (code, out, err) == (0, "", "")
    text = target.read_text()
    assert SECRET_VALUE not in text
    assert "mac: ENC[AES256_GCM," in text and "encrypted_regex: ^(data|stringData)$" in text
    result = run_sops(["decrypt", str(target)], key_file=TEST_KEY)
    assert result.returncode == 0, result.stderr
    assert f"password: {SECRET_VALUE}" in result.stdout
    code, out, err = run(["decrypt", str(target)], capsys)
    assert code == 0 and err == ""
    assert out == result.stdout


def test_encrypt_to_stdout_leaves_file_alone(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = repo / "secrets" / "db.enc.yaml"
    code, out, err = run(["encrypt", str(target)], capsys)
    assert code == 0 and err == ""
    assert out.startswith("apiVersion: v1\n") and "sops:\n" in out
    assert target.read_text() == PLAIN_SECRET


def test_encrypt_refuses_an_encrypted_file_and_changes_nothing(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = repo / "secrets" / "db.enc.yaml"
    run(["encrypt", "-i", str(target)], capsys, expect=0)
    before = target.read_bytes()
    code, out, err = run(["encrypt", "-i", str(target)], capsys)
    assert code == 1 and out == ""
    assert_clean_error(err, SECRET_VALUE)
    assert "already encrypted" in err
    assert target.read_bytes() == before


def test_encrypt_without_any_rule_is_a_config_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "x.yaml"
    target.write_text(PLAIN_SECRET)
    code, _, err = run(["encrypt", str(target)], capsys)
    assert code == 2
    assert_clean_error(err, SECRET_VALUE)
    assert "--age" in err
    code, out, err = run(["encrypt", "--age", PUB1, str(target)], capsys)
    assert code == 0 and err == "" and "recipient: " + PUB1 in out


@pytest.mark.parametrize(
    ("keys", "kinds"),
    [
        ("    pgp: FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4\n", "PGP"),
        ("    kms: arn:aws:kms:eu-west-1:111122223333:key/x\n", "KMS or Vault"),
    ],
)
def test_encrypt_refuses_a_rule_naming_keys_it_cannot_encrypt_to(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], keys: str, kinds: str
) -> None:
    # sweep 19 (dcplaya, SVendittelli): a rule naming an age and a PGP key gave a file on the
    # age key alone, without a word; the PGP key's holders could not read it (SM011 at once)
    (tmp_path / ".sops.yaml").write_text(
        f"creation_rules:\n  - path_regex: .*\\.yaml$\n    age: {PUB1}\n{keys}"
    )
    target = tmp_path / "x.yaml"
    target.write_text(PLAIN_SECRET)
    code, out, err = run(["encrypt", "-i", str(target)], capsys)
    assert code == 2 and out == ""
    assert_clean_error(err, SECRET_VALUE)
    assert f"the matching creation rule also names {kinds} keys" in err
    assert "encrypt it with sops" in err and "--age" in err
    assert target.read_text() == PLAIN_SECRET
    code, out, err = run(["encrypt", "--age", PUB1, str(target)], capsys)
    assert code == 0 and err == "" and "recipient: " + PUB1 in out


def test_encrypt_of_a_file_no_rule_matches_names_what_the_rules_match(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # sweep 19 (falterfriday/fluxcd): rules for *-secret.yaml only; init's step encrypts
    # PATH/secret.enc.yaml and the error said only "no age recipients to encrypt to"
    (tmp_path / ".sops.yaml").write_text(
        f"creation_rules:\n  - path_regex: .*-secret\\.yaml$\n    age: {PUB1}\n"
    )
    target = tmp_path / "secret.enc.yaml"
    target.write_text(PLAIN_SECRET)
    code, out, err = run(["encrypt", "-i", str(target)], capsys)
    assert code == 2 and out == ""
    assert_clean_error(err, SECRET_VALUE)
    assert (
        "no creation rule of " in err and "matches it (its rules match: .*-secret\\.yaml$)" in err
    )
    assert "name the file so that a rule matches it" in err
    assert target.read_text() == PLAIN_SECRET


def test_malformed_yaml_is_refused_with_a_line_number(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = repo / "secrets" / "bad.yaml"
    target.write_text("a: [1, 2\nb: " + SECRET_VALUE + "\n")
    before = target.read_bytes()
    code, out, err = run(["encrypt", "-i", str(target)], capsys)
    assert code == 1 and out == ""
    assert_clean_error(err, SECRET_VALUE)
    assert "malformed YAML at line" in err
    assert target.read_bytes() == before


def test_decrypt_vector_matches_sops(key_env: None, capsys: pytest.CaptureFixture[str]) -> None:
    path = VECTORS / "k8s-secret" / "file.enc.yaml"
    code, out, err = run(["decrypt", str(path)], capsys)
    assert (code, err) == (0, "")
    assert out == run_sops(["decrypt", str(path)], key_file=TEST_KEY).stdout


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("stringData.password", SECRET_VALUE),
        ('["stringData"]["password"]', SECRET_VALUE),
        ("stringData.config.yaml", "host: db.internal\nport: 5432\n"),
        ("metadata.name", "db"),
    ],
)
def test_decrypt_extract(
    repo: Path, key_env: None, capsys: pytest.CaptureFixture[str], spec: str, expected: str
) -> None:
    target = repo / "secrets" / "db.enc.yaml"
    run(["encrypt", "-i", str(target)], capsys, expect=0)
    code, out, err = run(["decrypt", "--extract", spec, str(target)], capsys)
    assert (code, out, err) == (0, expected, "")


EXTRACTED = {
    "x.yaml": (
        "el: []\nl:\n  - a\n  - b\nlm:\n  - x: 1\n    y:\n      - q\nm:\n  a: [1, 2]\n"
        "n: 5\nb: true\nf: 1.5\nz: null\ns: text\n",
        ("el", "l", "lm", "m", "n", "b", "f", "z", "s"),
    ),
    "x.json": (
        '{"arr": [1, "two", {"a": [1]}], "m": {"x": [true]}, "e": [], "n": 5, "s": "x"}\n',
        ("arr", "m", "e", "n", "s"),
    ),
}


@pytest.mark.parametrize("name", sorted(EXTRACTED))
def test_decrypt_extract_prints_what_sops_prints(
    tmp_path: Path, key_env: None, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    # the interop review of stop 55: an empty list printed nothing (sops: `[]`), a list was
    # indented, JSON's printed as YAML, a number had no line end (and one from JSON must not)
    text, keys = EXTRACTED[name]
    target = tmp_path / name
    target.write_text(text)
    done = run_sops(["encrypt", "--age", PUB1, "-i", str(target)], cwd=Path("/"))
    assert done.returncode == 0, done.stderr
    for key in keys:
        theirs = run_sops(["decrypt", "--extract", f'["{key}"]', str(target)], key_file=TEST_KEY)
        assert theirs.returncode == 0, theirs.stderr
        code, out, err = run(["decrypt", "--extract", key, str(target)], capsys)
        assert (code, err) == (0, ""), err
        assert out == theirs.stdout, key


def test_extract_missing_path_is_a_usage_error(
    repo: Path, key_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    target = repo / "secrets" / "db.enc.yaml"
    run(["encrypt", "-i", str(target)], capsys, expect=0)
    code, _, err = run(["decrypt", "--extract", "stringData.nope", str(target)], capsys)
    assert code == 2
    assert_clean_error(err, SECRET_VALUE)


def test_decrypt_without_any_identity(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = repo / "secrets" / "db.enc.yaml"
    run(["encrypt", "-i", str(target)], capsys, expect=0)
    code, out, err = run(["decrypt", str(target)], capsys)
    assert code == 2 and out == ""
    assert_clean_error(err, SECRET_VALUE)
    assert "no age identity found" in err and "hint:" in err
    # the place sops looks, as it is here (sixth sweep: it printed $XDG_CONFIG_HOME as such)
    import os

    from secretsmgr.keys.sources import default_keys_file

    assert f"hint: or put the key in {default_keys_file(os.environ)}\n" in err
    assert "$XDG" not in err
    # which key opens it, as key rotate says (sweep 60 operator run: set and edit said only
    # "no age identity found")
    from secretsmgr.keys.age import parse_identities
    from secretsmgr.keys.bech32 import short_key

    public = parse_identities(TEST_KEY.read_text(), TEST_KEY.name).publics[0]
    (needed,) = [h for h in err.splitlines() if "opens with the private key of" in h]
    assert needed.startswith(f"secretsmgr: hint: {target} opens with the private key of ")
    assert short_key(public) in needed, needed
    code, out, err = run(["set", str(target), "stringData.x", "--value-file", str(target)], capsys)
    assert code == 2 and f"opens with the private key of {short_key(public)}" in err


def test_decrypt_with_the_wrong_key(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    target = repo / "secrets" / "db.enc.yaml"
    run(["encrypt", "-i", str(target)], capsys, expect=0)
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(STRANGER_KEY))
    code, out, err = run(["decrypt", str(target)], capsys)
    assert code == 1 and out == ""
    assert_clean_error(err, SECRET_VALUE, STRANGER_KEY.read_text().split()[-1])
    assert "could not recover the data key" in err
    # the key to add is the one tried, never a stand-in that fails when pasted (sweep 22)
    from secretsmgr.keys.age import parse_identities

    (tried,) = parse_identities(STRANGER_KEY.read_text(), "test").publics
    assert f"secretsmgr rotate --add-recipient {tried} {target}" in err


def test_decrypt_tampered_file_fails_and_leaves_it(
    repo: Path, key_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    target = repo / "secrets" / "db.enc.yaml"
    run(["encrypt", "-i", str(target)], capsys, expect=0)
    target.write_text(target.read_text().replace("namespace: prod", "namespace: prud"))
    before = target.read_bytes()
    code, out, err = run(["decrypt", "-i", str(target)], capsys)
    assert code == 1 and out == ""
    assert_clean_error(err, SECRET_VALUE)
    assert "MAC mismatch" in err and "git checkout" in err
    assert target.read_bytes() == before
    assert run_sops(["decrypt", str(target)], key_file=TEST_KEY).returncode == 51


def test_a_tampered_file_git_holds_as_it_is_is_sent_to_history_not_to_head(
    repo: Path, key_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    # sweep 103 (Mackeul/k8s-cluster): a namespace added by hand after encryption and
    # committed; the hint to restore HEAD's copy restored the same broken bytes
    from tests.conftest import GIT_ENV

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=repo, check=True, env={**os.environ, **GIT_ENV})

    target = repo / "secrets" / "db.enc.yaml"
    run(["encrypt", "-i", str(target)], capsys, expect=0)
    git("init", "-q")
    git("add", "-A")
    git("commit", "-qm", "encrypted")
    target.write_text(target.read_text().replace("namespace: prod", "namespace: prud"))
    code, _, err = run(["decrypt", str(target)], capsys)
    assert code == 1 and "git checkout HEAD" in err  # HEAD's copy verifies: restore it
    git("commit", "-qam", "edited by hand")
    code, _, err = run(["decrypt", str(target)], capsys)
    assert code == 1 and "MAC mismatch" in err
    assert "git checkout HEAD" not in err and "secretsmgr audit --history" in err


def test_missing_file_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["decrypt", "/nonexistent/x.enc.yaml"], capsys)
    assert code == 2
    assert_clean_error(err)


def test_unknown_command_and_bad_flags_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["frobnicate"], capsys)[0] == 2
    code, _, err = run(["decrypt", "--bogus", "x"], capsys)
    assert code == 2 and "Traceback" not in err


def test_internal_errors_exit_3_without_traceback(
    repo: Path, key_env: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import secretsmgr.fileops.files as files

    def boom(*_a: object, **_k: object) -> str:
        raise RuntimeError(SECRET_VALUE)

    monkeypatch.setattr(files, "decrypt_text", boom)
    code, _, err = run(["decrypt", str(repo / "secrets" / "db.enc.yaml")], capsys)
    assert code == 3
    assert err.startswith("secretsmgr: internal error: RuntimeError")
    assert "Traceback" not in err and SECRET_VALUE not in err


def _editor(tmp_path: Path, body: str) -> str:
    script = tmp_path / "editor.py"
    script.write_text(
        "import os, stat, sys\n"
        "path = sys.argv[1]\n"
        "st = os.stat(path)\n"
        f"seen = open({str(tmp_path / 'seen')!r}, 'w')\n"
        "seen.write(f'{path}\\n{stat.S_IMODE(st.st_mode):o}')\n"
        "seen.close()\n"
        "text = open(path).read()\n" + body
    )
    return f"{sys.executable} {script}"


@pytest.fixture
def encrypted(repo: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    target = repo / "secrets" / "db.enc.yaml"
    run(["encrypt", "-i", str(target)], capsys, expect=0)
    return target


def test_edit_changes_one_value_and_keeps_the_others(
    encrypted: Path,
    key_env: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = encrypted.read_text()
    monkeypatch.setenv(
        "EDITOR",
        _editor(
            tmp_path, "open(path, 'w').write(text.replace('username: admin', 'username: root'))\n"
        ),
    )
    code, out, err = run(["edit", str(encrypted)], capsys)
    assert (code, out, err) == (0, "", "")
    after = encrypted.read_text()
    changed = {
        a.split(":")[0].strip()
        for a, b in zip(before.splitlines(), after.splitlines(), strict=True)
        if a != b
    }
    # Only the edited value and the MAC changed (and lastmodified, unless within the same
    # second); every other ciphertext is kept byte for byte.
    assert changed - {"lastmodified"} == {"username", "mac"}
    result = run_sops(["decrypt", str(encrypted)], key_file=TEST_KEY)
    assert result.returncode == 0 and "username: root" in result.stdout
    seen_path, mode = (tmp_path / "seen").read_text().splitlines()
    assert mode == "600"
    assert seen_path.startswith(("/dev/shm/", os.environ.get("XDG_RUNTIME_DIR") or "/dev/shm/"))
    assert not Path(seen_path).exists() and not Path(seen_path).parent.exists()


def test_edit_without_change_leaves_the_file_byte_identical(
    encrypted: Path,
    key_env: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = encrypted.read_bytes()
    monkeypatch.setenv("SOPS_EDITOR", _editor(tmp_path, "pass\n"))
    assert run(["edit", str(encrypted)], capsys) == (0, "", "")
    assert encrypted.read_bytes() == before


@pytest.mark.parametrize(
    ("body", "code"),
    [("sys.exit(4)\n", 1), ("open(path, 'w').write('a: [1, 2\\n')\n", 1)],
    ids=["editor-fails", "invalid-yaml"],
)
def test_failed_edit_changes_nothing_and_leaves_no_plaintext(
    encrypted: Path,
    key_env: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    body: str,
    code: int,
) -> None:
    before = encrypted.read_bytes()
    monkeypatch.setenv("EDITOR", _editor(tmp_path, body))
    got, _, err = run(["edit", str(encrypted)], capsys)
    assert got == code
    assert_clean_error(err, SECRET_VALUE)
    assert encrypted.read_bytes() == before
    seen_path = (tmp_path / "seen").read_text().splitlines()[0]
    assert not Path(seen_path).exists()
    leftovers = [p for p in encrypted.parent.iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_decrypt_onto_the_file_itself_is_refused_pointing_at_in_place(
    encrypted: Path, key_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    # the write-side review of stop 53: `decrypt F -o F` wrote the plaintext over the
    # encrypted file with no word
    before = encrypted.read_bytes()
    code, out, err = run(["decrypt", "-o", str(encrypted), str(encrypted)], capsys)
    assert (code, out) == (2, "")
    assert "is the file being decrypted" in err and "secretsmgr decrypt -i" in err
    assert encrypted.read_bytes() == before


def test_decrypt_to_file_is_private(
    encrypted: Path, key_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_file = tmp_path / "plain.yaml"
    assert run(["decrypt", "-o", str(out_file), str(encrypted)], capsys) == (0, "", "")
    assert stat.S_IMODE(out_file.stat().st_mode) == 0o600
    assert SECRET_VALUE in out_file.read_text()


def test_every_demo_secret_round_trips_with_only_the_demo_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A user with only secretsmgr and the demo key can decrypt, edit and re-encrypt."""
    demo = shutil.copytree(FIXTURES / "demo", tmp_path / "demo")
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(DEMO_KEY))
    files = sorted(demo.rglob("*.enc.yaml"))
    assert len(files) == 4
    for path in files:
        code, plain, err = run(["decrypt", str(path)], capsys)
        assert code == 0 and err == ""
        monkeypatch.setenv("EDITOR", _editor(tmp_path, "open(path, 'a').write('# edited\\n')\n"))
        assert run(["edit", str(path)], capsys)[0] == 0
        sops_out = run_sops(["decrypt", str(path)], key_file=DEMO_KEY)
        assert sops_out.returncode == 0, sops_out.stderr
        assert sops_out.stdout == plain + "# edited\n"
        plain_copy = tmp_path / "plain" / path.name
        plain_copy.parent.mkdir(exist_ok=True)
        plain_copy.write_text(plain)
        assert run(["encrypt", "--age", PUB1, "-o", str(path), str(plain_copy)], capsys)[0] == 0
        assert run_sops(["decrypt", str(path)], key_file=TEST_KEY).stdout == plain


def test_edit_and_encrypt_inside_a_repo_are_logged_in_its_changelog(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The demo keeps a changelog: writes through secretsmgr leave the chain complete."""
    demo = shutil.copytree(FIXTURES / "demo", tmp_path / "demo")
    log = demo / "secrets-changelog.jsonl"
    before = log.read_text().splitlines()
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(DEMO_KEY))
    target = demo / "gitops" / "apps" / "redis" / "auth.enc.yaml"
    monkeypatch.setenv("EDITOR", _editor(tmp_path, "open(path, 'a').write('# edited\\n')\n"))
    assert run(["--repo", str(demo), "edit", str(target)], capsys) == (0, "", "")
    new_secret = demo / "gitops" / "apps" / "redis" / "extra.enc.yaml"
    new_secret.write_text(PLAIN_SECRET)
    assert run(["--repo", str(demo), "encrypt", "-i", str(new_secret)], capsys) == (0, "", "")
    lines = log.read_text().splitlines()
    assert lines[: len(before)] == before
    entries = [json.loads(line) for line in lines[len(before) :]]
    assert [e["action"] for e in entries] == ["edit", "encrypt"]
    assert [e["files"][0]["path"] for e in entries] == [
        "gitops/apps/redis/auth.enc.yaml",
        "gitops/apps/redis/extra.enc.yaml",
    ]
    assert SECRET_VALUE not in log.read_text()
    code, out, err = run(["--repo", str(demo), "log", "--verify"], capsys)
    assert code == 0 and err == "" and "every SOPS file's state has an entry\n" in out


# ----------------------------------------------------------------------------- special outputs


def test_decrypt_into_a_fifo_writes_through_it(
    encrypted: Path, key_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fifo = tmp_path / "plain.fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []

    def reader() -> None:
        with open(fifo, "rb") as handle:
            received.append(handle.read())

    thread = threading.Thread(target=reader)
    thread.start()
    got = run(["decrypt", "-o", str(fifo), str(encrypted)], capsys)
    thread.join(timeout=30)
    assert got == (0, "", "")
    assert SECRET_VALUE.encode() in received[0]
    assert stat.S_ISFIFO(fifo.lstat().st_mode)  # still a FIFO, not a plaintext file
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_decrypt_into_dev_null_leaves_the_device(
    encrypted: Path, key_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    before = os.stat("/dev/null")
    assert run(["decrypt", "-o", "/dev/null", str(encrypted)], capsys) == (0, "", "")
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and after.st_ino == before.st_ino
    assert not any(p.startswith(".null.") for p in os.listdir("/dev"))


@pytest.mark.parametrize("into", ["pipe", "file"])
def test_decrypt_to_dev_stdout_writes_to_the_real_stdout(
    encrypted: Path, key_env: None, tmp_path: Path, into: str
) -> None:
    """/dev/stdout is the process's own stdout (a pipe, or a file the shell opened)."""
    args = ["decrypt", "-o", "/dev/stdout", str(encrypted)]
    env = {**os.environ, "SOPS_AGE_KEY_FILE": str(TEST_KEY)}
    if into == "pipe":
        done = run_process(args, env=env, expect=0, timeout=60)
        assert done.err == ""
        assert SECRET_VALUE in done.out
        return
    target = tmp_path / "out.yaml"
    with open(target, "wb") as handle:
        done = run_process(args, env=env, stdout=handle, expect=0, timeout=60)
    assert done.err == ""
    assert SECRET_VALUE in target.read_text()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_encrypt_into_a_fifo_and_dev_null(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plain = repo / "secrets" / "db.enc.yaml"
    fifo = tmp_path / "enc.fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []
    thread = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    thread.start()
    assert run(["encrypt", "-o", str(fifo), str(plain)], capsys) == (0, "", "")
    thread.join(timeout=30)
    assert b"mac: ENC[AES256_GCM," in received[0] and SECRET_VALUE.encode() not in received[0]
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert run(["encrypt", "-o", "/dev/null", str(plain)], capsys) == (0, "", "")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_decrypt_to_a_symlink_is_refused_and_the_link_kept(
    encrypted: Path, key_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    elsewhere = tmp_path / "elsewhere.yaml"
    elsewhere.write_text("keep\n")
    link = tmp_path / "link.yaml"
    link.symlink_to(elsewhere)
    code, out, err = run(["decrypt", "-o", str(link), str(encrypted)], capsys)
    assert code == 1 and out == ""
    assert_clean_error(err, SECRET_VALUE)
    assert "symlink" in err
    assert link.is_symlink() and elsewhere.read_text() == "keep\n"


# ----------------------------------------------------------------------------- symlinked targets


def test_writers_refuse_symlinked_targets_and_folders(
    repo: Path, key_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outside = tmp_path / "other-checkout"
    outside.mkdir()
    victim = outside / "prod.enc.yaml"
    victim.write_text(PLAIN_SECRET)
    run(["--repo", str(outside), "encrypt", "--age", PUB1, "-i", str(victim)], capsys, expect=0)
    before = victim.read_bytes()
    (repo / "secrets" / "linked.enc.yaml").symlink_to(victim)
    (repo / "linked-dir").symlink_to(outside, target_is_directory=True)
    capsys.readouterr()
    attempts = [
        ["encrypt", "-i", str(repo / "secrets" / "linked.enc.yaml")],
        ["decrypt", "-i", str(repo / "secrets" / "linked.enc.yaml")],
        ["edit", str(repo / "secrets" / "linked.enc.yaml")],
        ["edit", str(repo / "linked-dir" / "prod.enc.yaml")],
        ["unset", str(repo / "linked-dir" / "prod.enc.yaml"), "stringData.username"],
    ]
    for args in attempts:
        code, out, err = run(["--repo", str(repo), *args], capsys)
        assert (code, out) == (1, ""), args
        assert_clean_error(err, SECRET_VALUE)
        assert "symlink" in err, args
    assert victim.read_bytes() == before
    assert (repo / "secrets" / "linked.enc.yaml").is_symlink()


def test_a_repository_reached_through_a_link_is_fine(
    repo: Path, key_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Folders above the repository root are the user's business."""
    via = tmp_path / "via"
    via.symlink_to(repo, target_is_directory=True)
    target = via / "secrets" / "db.enc.yaml"
    assert run(["--repo", str(repo), "encrypt", "-i", str(target)], capsys) == (0, "", "")
    assert "sops:" in (repo / "secrets" / "db.enc.yaml").read_text()


def test_encrypt_of_an_encrypted_file_hints_at_edit(
    encrypted: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(["encrypt", "-i", str(encrypted)], capsys)
    assert code == 1
    assert_clean_error(err)
    assert f"secretsmgr: hint: to change its values: secretsmgr edit {encrypted}\n" in err


# ----------------------------------------------------------------------------- editors


def _scratch_boxes() -> set[str]:
    return {p.name for p in Path("/dev/shm").glob("secretsmgr-*")}


def _no_box_left(before: set[str]) -> bool:
    """No scratch folder beyond ``before`` remains. Tests run in parallel: a folder another
    worker's edit holds goes away when that edit ends; one this (finished) run left never does.
    """
    deadline = time.monotonic() + 10
    while (_scratch_boxes() - before) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not (_scratch_boxes() - before)


@pytest.mark.parametrize(
    ("editor", "code", "words"),
    [
        ('vi "x', 2, "not a valid command line"),
        ("{tmp}", 2, "it is a folder"),
        ("{tmp}/no-such-editor", 2, "editor not found"),
        ("{tmp}/not-executable", 2, "cannot run the editor"),
        ("{py} -c 'import os,sys; os.unlink(sys.argv[1])'", 1, "removed the file"),
        ('{py} -c \'import sys; open(sys.argv[1], "wb").write(b"a: \\xff\\n")\'', 1, "UTF-8"),
        ("{py} -c 'import sys; sys.exit(3)'", 1, "exited with status 3"),
        ("{py} -c 'import os; os.kill(os.getpid(), 9)'", 1, "exited with signal 9"),
        ("   ", 2, "is empty"),
    ],
    ids=[
        "bad-quoting",
        "a-folder",
        "missing",
        "not-executable",
        "deletes",
        "non-utf8",
        "exit-3",
        "killed",
        "blank",
    ],
)
def test_every_editor_failure_is_a_user_error(
    encrypted: Path,
    key_env: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    editor: str,
    code: int,
    words: str,
) -> None:
    (tmp_path / "not-executable").write_text("#!/bin/sh\n")
    monkeypatch.setenv("EDITOR", editor.format(tmp=tmp_path, py=sys.executable))
    before = encrypted.read_bytes()
    boxes = _scratch_boxes()
    got, out, err = run(["edit", str(encrypted)], capsys)
    assert (got, out) == (code, "")
    assert_clean_error(err, SECRET_VALUE)
    assert words in err
    assert encrypted.read_bytes() == before
    assert _no_box_left(boxes)


# ----------------------------------------------------------------------------- new files


def _writing_editor(tmp_path: Path, text: str) -> str:
    script = tmp_path / "write.py"
    script.write_text(
        "import shutil, sys\n"
        f"shutil.copy(sys.argv[1], {str(tmp_path / 'buffer')!r})\n"
        f"open(sys.argv[1], 'w').write({text!r})\n"
    )
    return f"{sys.executable} {script}"


def test_edit_of_a_missing_file_creates_it_with_its_creation_rule(
    repo: Path,
    key_env: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    target = repo / "secrets" / "new.enc.yaml"
    monkeypatch.setenv("EDITOR", _writing_editor(tmp_path, PLAIN_SECRET))
    assert run(["--repo", str(repo), "edit", str(target)], capsys) == (0, "", "")
    assert (tmp_path / "buffer").read_text().startswith("hello: Welcome to SOPS!")
    text = target.read_text()
    assert SECRET_VALUE not in text and "encrypted_regex: ^(data|stringData)$" in text
    assert f"recipient: {PUB1}" in text
    result = run_sops(["decrypt", str(target)], key_file=TEST_KEY)
    assert result.returncode == 0 and f"password: {SECRET_VALUE}" in result.stdout


def test_edit_of_a_missing_file_saved_unchanged_creates_nothing(
    repo: Path,
    key_env: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    target = repo / "secrets" / "new.enc.yaml"
    monkeypatch.setenv("EDITOR", "true")
    code, _, err = run(["--repo", str(repo), "edit", str(target)], capsys)
    assert code == 1
    assert_clean_error(err)
    assert "was not created" in err
    assert not target.exists()


def test_edit_of_a_missing_file_without_a_rule_stops_before_the_editor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("EDITOR", _writing_editor(tmp_path, "a: b\n"))
    target = tmp_path / "norule.yaml"
    code, _, err = run(["--repo", str(tmp_path), "edit", str(target)], capsys)
    assert code == 2
    assert_clean_error(err)
    assert "add a creation rule" in err and "--age" not in err  # edit takes no --age
    assert not (tmp_path / "buffer").exists() and not target.exists()


@pytest.mark.interop
@pytest.mark.parametrize("name", ["new.yaml", "new.json", "new.env", "new.ini"])
def test_new_file_buffer_is_the_one_sops_shows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """sops 3.11 opens its stores' example document; ours is byte for byte the same."""
    from secretsmgr.fileops.text import example_text
    from secretsmgr.sops import format_for_path

    (tmp_path / ".sops.yaml").write_text(f"creation_rules:\n  - age: {PUB1}\n")
    copier = tmp_path / "copy.sh"
    copier.write_text(f'#!/bin/sh\ncp "$1" {tmp_path / "sops-buffer"}\n')
    copier.chmod(0o755)
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": os.environ["HOME"],
        "SOPS_DISABLE_VERSION_CHECK": "1",
        "EDITOR": str(copier),
    }
    from tests.conftest import sops_binary

    done = subprocess.run(
        [sops_binary(), "edit", name], cwd=tmp_path, env=env, capture_output=True, check=False
    )
    assert done.returncode == 200  # sops: "File has not changed, exiting."
    assert not (tmp_path / name).exists()
    expected = (tmp_path / "sops-buffer").read_text()
    assert example_text(format_for_path(name)) == expected


def test_encrypt_of_an_encrypted_file_says_so_before_any_recipient_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # with no .sops.yaml it said "no age recipients to encrypt to", which is not the problem
    from secretsmgr.keys.age import AgeRecipient
    from secretsmgr.sops import FileFormat, dump, encrypt, parse_plain
    from secretsmgr.sops.model import EncryptionRule

    pub = "age17m4zztwdtjwv5yastfc6v72cjnsrn7yuxlpmgwgr5c8s52lst4jq9x0tvy"
    target = tmp_path / "db.yaml"
    sealed = encrypt(
        parse_plain("password: hunter2\n", FileFormat.YAML),
        fmt=FileFormat.YAML,
        groups=[[AgeRecipient(pub)]],
        rule=EncryptionRule(),
    )
    target.write_text(dump(sealed))
    before = target.read_bytes()
    code, out, err = run(["encrypt", "-i", str(target)], capsys)
    assert (code, out) == (1, "")
    assert "already encrypted" in err and f"secretsmgr edit {target}" in err
    assert "recipients" not in err
    assert target.read_bytes() == before


def test_encrypt_refuses_a_rule_that_would_leave_a_secret_value_in_clear(
    repo: Path, key_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    # Heavybullets8/heavy-ops: a narrow encrypted_regex shadowed the Secret rule, and the
    # SM011 fix re-encrypted with it: sops (and we) wrote stringData.password in clear, exit 0
    (repo / ".sops.yaml").write_text(
        "creation_rules:\n"
        "  - path_regex: secrets/.*\\.yaml$\n"
        "    encrypted_regex: ^(token|crt|key)$\n"
        f"    age: {PUB1}\n"
    )
    target = repo / "secrets" / "db.enc.yaml"
    before = target.read_bytes()
    code, out, err = run(["encrypt", "-i", str(target)], capsys)
    assert code == 1 and out == ""
    assert_clean_error(err, SECRET_VALUE)
    assert "would leave stringData.password of a Secret in clear (3 such values)" in err
    assert "encrypted_regex: ^(data|stringData)$" in err
    assert target.read_bytes() == before
    # an empty value or a placeholder hides nothing: those still encrypt
    target.write_text(
        "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\n"
        "stringData:\n  password: ${DB_PASSWORD}\n  empty: ''\n  token: t0ken-value\n"
    )
    code, out, err = run(["encrypt", "-i", str(target)], capsys)
    assert (code, err) == (0, "")


def test_encrypt_refuses_a_rule_that_would_encrypt_no_value_of_the_file(
    repo: Path, key_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    # sweep 12 (KakatkarAkshay/cloudlab_applications): Helm values under the Secret rule; sops
    # (and we) wrote every value in clear beneath a valid sops: block
    (repo / ".sops.yaml").write_text(
        "creation_rules:\n  - path_regex: secrets/.*\\.yaml$\n"
        f"    encrypted_regex: ^(data|stringData)$\n    age: {PUB1}\n"
    )
    target = repo / "secrets" / "app.values.enc.yaml"
    target.write_text(f"env:\n  - name: API_KEY\n    value: {SECRET_VALUE}\n")
    before = target.read_bytes()
    code, out, err = run(["encrypt", "-i", str(target)], capsys)
    assert code == 1 and out == ""
    assert_clean_error(err, SECRET_VALUE)
    assert "would encrypt no value of this file: env.name and every other value" in err
    assert "creation rule of its own" in err
    assert target.read_bytes() == before
    # one value the rule encrypts, or nothing but placeholders and structure: written
    for text in (
        f"env: [{{name: A, value: x}}]\ndata:\n  k: {SECRET_VALUE}\n",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\nvalue: ${VALUE}\n",
    ):
        target.write_text(text)
        code, out, err = run(["encrypt", "-i", str(target)], capsys)
        assert (code, err) == (0, "")


def test_encrypt_keeps_sops_own_opt_out_of_the_default_rule(
    repo: Path, key_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    # from the review: under sops's default rule a key ending in _unencrypted is the user's own
    # choice to keep it clear; the refusal is for encrypted_* rules that miss a Secret value
    (repo / ".sops.yaml").write_text(
        f"creation_rules:\n  - path_regex: secrets/.*\\.yaml$\n    age: {PUB1}\n"
    )
    target = repo / "secrets" / "db.enc.yaml"
    target.write_text(
        "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\n"
        "stringData:\n  password: s3cr3t-Value-42\n  note_unencrypted: kept in clear\n"
    )
    code, _out, err = run(["encrypt", "-i", str(target)], capsys)
    assert (code, err) == (0, "")
    text = target.read_text()
    assert "note_unencrypted: kept in clear" in text and SECRET_VALUE not in text


def test_encrypt_says_so_when_git_ignores_the_file_it_wrote(
    repo: Path, key_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    # sweep 31, nwarila-platform/talos-cluster: a deny-all .gitignore left the new SOPS file
    # out of the commit, and nothing said so
    from tests.conftest import git

    git(repo, "init", "-q", "-b", "main")
    (repo / ".gitignore").write_text("*\n!.gitignore\n!.sops.yaml\n")
    target = repo / "secrets" / "db.enc.yaml"
    args = ["--repo", str(repo), "encrypt", "-i", str(target)]
    code, out, err = run(args, capsys, warnings=["git ignores"])
    assert (code, out) == (0, ""), err
    assert err == (
        "secretsmgr: warning: git ignores secrets/db.enc.yaml: no commit takes it, so Flux "
        "never gets it; commit it with git add -f secrets/db.enc.yaml, or change .gitignore\n"
    )
    # not ignored: nothing to say
    (repo / ".gitignore").write_text("")
    target.write_text(PLAIN_SECRET)
    code, out, err = run(["--repo", str(repo), "encrypt", "-i", str(target)], capsys)
    assert (code, out, err) == (0, "", "")


def test_a_file_of_two_key_groups_opened_by_one_says_it_needs_another_group(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The attack review of stop 37: a shamir file (two key groups, threshold 2) with a key of
    the first group at hand said the keys tried were not among its recipients, and hinted at a
    rotate --add-recipient that rotate refuses for such files."""
    from secretsmgr.keys.age import parse_identities
    from tests.audit.helpers import enc

    (demo,) = parse_identities(DEMO_KEY.read_text(), "test").publics
    (stranger,) = parse_identities(STRANGER_KEY.read_text(), "test").publics
    target = tmp_path / "shamir.enc.yaml"
    target.write_text(enc(PLAIN_SECRET, groups=[[demo], [stranger]], threshold=2))
    before = target.read_bytes()
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(DEMO_KEY))
    code, out, err = run(["decrypt", str(target)], capsys)
    assert code == 1 and out == ""
    assert_clean_error(err, SECRET_VALUE)
    assert "1 of 2 key groups opened" in err
    assert "split across 2 key groups, 2 needed" in err
    assert "not among its recipients" not in err and "--add-recipient" not in err
    assert target.read_bytes() == before


@pytest.mark.parametrize(
    ("content", "code", "words"),
    [
        # content refused: exit 1, as a tampered file; a file that cannot be opened: exit 2
        # (the attack review of stop 37: non-UTF-8 bytes gave 2, malformed YAML 1)
        (b"a: 1\nb: \xff\xfe\n", 1, "not a UTF-8 text file"),
        (b"a: 1\nb: [\n", 1, "malformed YAML"),
        (b"a: 1\na: 2\n", 1, "duplicate key"),
        (b'{"a": ' + b"[" * 3000 + b"]" * 3000 + b"}", 1, "nesting deeper than"),
        (None, 2, "no such file"),
        (b"", 2, "is a directory"),
    ],
)
def test_a_file_whose_content_is_refused_exits_1_and_one_not_opened_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes | None, code: int, words: str
) -> None:
    target = tmp_path / ("x.enc.json" if content and content.startswith(b"{") else "x.enc.yaml")
    if words == "is a directory":
        target.mkdir()
    elif content is not None:
        target.write_bytes(content)
    args = ["encrypt", "--age", PUB1, "-i", str(target)]
    got, out, err = run(args, capsys)
    assert (got, out) == (code, "")
    assert_clean_error(err)
    assert words in err
    if content:
        assert target.read_bytes() == content


def test_encrypt_under_a_templated_sops_yaml_says_it_is_a_template(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # sweep 74, 2zH/home-ops: `age: ${BOOTSTRAP_AGE_PUBLIC_KEY}` in a folder of templates; the
    # printed encrypt failed on "invalid age recipient" and said nothing more
    from tests.audit.helpers import K1

    monkeypatch.chdir(tmp_path)
    (tmp_path / "t").mkdir()
    (tmp_path / "t/.sops.yaml").write_text(
        "creation_rules:\n  - path_regex: .*\\.sops\\.yaml$\n"
        "    encrypted_regex: ^(data|stringData)$\n    age: ${BOOTSTRAP_AGE_PUBLIC_KEY}\n"
    )
    plain = "apiVersion: v1\nkind: Secret\nmetadata: {name: x}\nstringData:\n  a: Xq9vLw2pTr0ub4\n"
    (tmp_path / "t/x.sops.yaml").write_text(plain)
    code, out, err = run(["encrypt", "-i", "t/x.sops.yaml"], capsys)
    assert (code, out) == (2, "")
    assert "invalid age recipient" in err and "the .sops.yaml that names it is a template" in err
    assert (tmp_path / "t/x.sops.yaml").read_text() == plain
    code, _, err = run(["encrypt", "--age", K1, "-i", "t/x.sops.yaml"], capsys)
    assert code == 0, err
    assert "ENC[AES256_GCM" in (tmp_path / "t/x.sops.yaml").read_text()


def test_a_pgp_fingerprint_given_as_a_recipient_says_sops_handles_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # sweep 95, SVendittelli/k3s-gitops: `rotate --remove-recipient <PGP fingerprint>` said
    # "invalid age recipient" and nothing more
    from tests.audit.helpers import K1

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(TEST_KEY))
    plain = "apiVersion: v1\nkind: Secret\nmetadata: {name: x}\nstringData:\n  a: Xq9vLw2pTr0ub4\n"
    (tmp_path / "x.enc.yaml").write_text(plain)
    assert run(["encrypt", "--age", K1, "-i", "x.enc.yaml"], capsys)[0] == 0
    before = (tmp_path / "x.enc.yaml").read_bytes()
    fingerprint = "6E6537871E9C8F3DA5CE6E6537871E9C8F3DA5CE"
    code, out, err = run(["rotate", "x.enc.yaml", "--remove-recipient", fingerprint], capsys)
    assert (code, out) == (2, "")
    assert "invalid age recipient" in err and "it is an OpenPGP fingerprint" in err
    assert "sops rotate -i --rm-pgp FINGERPRINT FILE" in err
    assert (tmp_path / "x.enc.yaml").read_bytes() == before


def test_encrypt_of_a_plaintext_with_a_stray_sops_block_says_so_not_edit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the attack review of stop 52: "already encrypted … secretsmgr edit FILE", and edit then
    # failed: "sops metadata has no lastmodified"
    target = tmp_path / "stray.enc.yaml"
    target.write_text(
        "apiVersion: v1\nkind: Secret\nmetadata: {name: a}\nstringData: {p: Zq8rT2vLp0Xw}\n"
        'sops: {mac: "ENC[x]", version: 3.11.0}\n'
    )
    before = target.read_bytes()
    code, out, err = run(["encrypt", "-i", str(target)], capsys)
    assert (code, out) == (1, "")
    assert "has a sops: block that sops cannot read (sops metadata has no lastmodified)" in err
    assert "secretsmgr edit" not in err and "delete the sops: block" in err
    assert "Zq8rT2vLp0Xw" not in err and target.read_bytes() == before


@pytest.mark.parametrize(
    ("text", "refused"),
    [
        ('# sets the password "Zq8-vL2m-Pw77" everywhere\n' + PLAIN_SECRET_WITH, True),
        # base64 of it under data, said in clear above
        ("# the db password is Zq8-vL2m-Pw77\n" + PLAIN_DATA_WITH, True),
        ("# the database's credentials\n" + PLAIN_SECRET_WITH, False),
        # a comment inside stringData is encrypted with it
        (PLAIN_SECRET_WITH.replace("stringData:\n", "stringData:\n  # Zq8-vL2m-Pw77\n"), False),
    ],
)
def test_encrypt_refuses_a_comment_left_in_clear_that_holds_a_value_it_encrypts(
    repo: Path,
    key_env: None,
    capsys: pytest.CaptureFixture[str],
    text: str,
    refused: bool,
) -> None:
    # sweep 106 (Tim275/pi-cluster): a comment above the Secret spelled out its password;
    # encrypt wrote the file with exit 0, the comment (and the password) in clear
    target = repo / "secrets" / "db.enc.yaml"
    target.write_text(text)
    code, _, err = run(["encrypt", "-i", str(target)], capsys)
    assert (code == 1) is refused, err
    if refused:
        assert "holds a value this file encrypts" in err and "Zq8-vL2m-Pw77" not in err
        assert target.read_text() == text


def test_edit_and_set_refuse_to_leave_a_value_they_encrypt_in_a_clear_comment(
    repo: Path,
    key_env: None,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # the same leak as encrypt's, by the commands that change an encrypted file (left open at
    # stop 54): edit wrote a comment spelling the password out above stringData, in clear
    target = repo / "secrets" / "db.enc.yaml"
    target.write_text(PLAIN_SECRET_WITH)
    assert run(["encrypt", "-i", str(target)], capsys)[0] == 0
    before = target.read_bytes()
    body = (
        "text = text.replace('stringData:', '# the password is Zq8-vL2m-Pw77\\nstringData:')\n"
        "open(path, 'w').write(text)\n"
    )
    monkeypatch.setenv("EDITOR", _editor(tmp_path, body))
    code, _, err = run(["edit", str(target)], capsys)
    assert code == 1 and "holds a value this file encrypts" in err, err
    assert "Zq8-vL2m-Pw77" not in err and target.read_bytes() == before
    # a comment naming a value the file will hold once set: set refuses it too
    was = "# was: N3w-Pw-4242\\nstringData:"
    body = f"open(path, 'w').write(text.replace('stringData:', '{was}'))\n"
    monkeypatch.setenv("EDITOR", _editor(tmp_path, body))
    assert run(["edit", str(target)], capsys)[0] == 0
    commented = target.read_bytes()
    code, _, err = run(["set", str(target), "stringData.password"], capsys, stdin="N3w-Pw-4242")
    assert code == 1 and "holds a value this file encrypts" in err, err
    assert target.read_bytes() == commented
    # a line of a value of several lines, spelt out in a comment (the write-side review)
    code, _, err = run(
        ["set", str(target), "stringData.k2"], capsys, stdin="Zq8vLm3Tp0Xw\nsecondLINE99\n"
    )
    assert code == 0, err
    body = (
        "open(path, 'w').write(text.replace('stringData:', '# line: Zq8vLm3Tp0Xw\\nstringData:'))\n"
    )
    monkeypatch.setenv("EDITOR", _editor(tmp_path, body))
    before_edit = target.read_bytes()
    code, _, err = run(["edit", str(target)], capsys)
    assert code == 1 and "holds a value this file encrypts" in err, err
    assert target.read_bytes() == before_edit
    # a file that leaks so already can still be changed (the change must not be held hostage)
    real = run_sops(
        ["set", str(target), '["stringData"]["password"]', '"N3w-Pw-4242"'],
        key_file=TEST_KEY,
    )
    assert real.returncode == 0, real.stderr
    assert run(["set", str(target), "stringData.user"], capsys, stdin="An0ther-Pw-77")[0] == 0


def test_a_clear_value_that_reads_back_as_another_is_refused_with_its_cause(
    tmp_path: Path, key_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    # the interop review of stop 55: an unencrypted -0.0 (sops writes -0, which reads as 0,
    # and then refuses its own file) was refused as a file "changed outside SOPS"
    (tmp_path / ".sops.yaml").write_text(
        f"creation_rules:\n  - age: {PUB1}\n    encrypted_regex: ^pw$\n"
    )
    target = tmp_path / "b.yaml"
    target.write_text("pw: s3cret-Zq8v\nzero: -0.0\n")
    code, out, err = run(["encrypt", "-i", str(target)], capsys)
    assert (code, out) == (1, "")
    assert "a value the rule leaves in clear would read back as another" in err
    assert "outside SOPS" not in err and "s3cret" not in err
    assert target.read_text() == "pw: s3cret-Zq8v\nzero: -0.0\n"
