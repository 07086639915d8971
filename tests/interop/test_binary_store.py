"""Files sops keeps in its binary store (``*.sops``, ``*.sops.sh``, ``*.sops.pem``): found, audited,
rotated and decrypted as the real sops writes and reads them; plaintext under such a name is
SM002, and a ``x.sops.yaml.disabled`` copy is read in the store its name carries."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.cli.runner import run
from tests.conftest import TEST_KEY, VECTORS, git, run_sops, sops_binary

pytestmark = pytest.mark.interop

PUB1 = "age17m4zztwdtjwv5yastfc6v72cjnsrn7yuxlpmgwgr5c8s52lst4jq9x0tvy"
OTHER_KEY = VECTORS / "keys" / "test-only-2.agekey"
ZONE = '$ORIGIN example.org.\n@ IN TXT "zone-s3cret-v4lue"\n'
SCRIPT = "export API_TOKEN=sh-s3cret-v4lue\n"


def _public(key_file: Path) -> str:
    return next(
        line.split(":", 1)[1].strip()
        for line in key_file.read_text().splitlines()
        if line.startswith("# public key:")
    )


@pytest.fixture
def repo(git_repo: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (git_repo / ".sops.yaml").write_text(f"creation_rules:\n  - age: {PUB1}\n")
    (git_repo / "dns").mkdir()
    for name, text in (("dns/db.zone.sops", ZONE), ("env.sops.sh", SCRIPT)):
        (git_repo / name).write_text(text)
        done = run_sops(["encrypt", "-i", name], cwd=git_repo)
        assert done.returncode == 0, done.stderr
    git(git_repo, "add", "-A")
    git(git_repo, "commit", "-q", "--no-gpg-sign", "-m", "binary files")
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(TEST_KEY))
    return git_repo


def _audit(repo: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, object]:
    result = run(["--repo", str(repo), "audit", "--format", "json", *extra], capsys)
    report: dict[str, object] = json.loads(result.out)
    return report


def test_binary_store_files_are_sops_files_and_are_audited(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (repo / "env.sops.sh").read_text().startswith('{\n\t"data": "ENC[')
    report = _audit(repo, capsys, "--verify-mac")
    assert report["findings"] == []
    assert report["summary"]["sops_files"] == 2  # type: ignore[index]
    # encrypted to a stranger instead of the cluster key: reported like any SOPS file
    stranger = repo / "dns" / "other.sops"
    stranger.write_text(ZONE)
    done = run_sops(["encrypt", "--age", _public(OTHER_KEY), "-i", "dns/other.sops"], cwd=repo)
    assert done.returncode == 0, done.stderr
    found = {(f["rule"], f["path"]) for f in _audit(repo, capsys)["findings"]}  # type: ignore[attr-defined]
    assert {("SM005", "dns/other.sops"), ("SM011", "dns/other.sops")} <= found


def test_rotate_and_set_keep_the_binary_store_and_sops_reads_the_result(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = (repo / "dns" / "db.zone.sops").read_bytes()
    assert run(["--repo", str(repo), "rotate", "--all", "--reason", "binary"], capsys).code == 0
    after = (repo / "dns" / "db.zone.sops").read_bytes()
    assert after != before and after.startswith(b'{\n\t"data": "ENC[')
    for name, text in (("dns/db.zone.sops", ZONE), ("env.sops.sh", SCRIPT)):
        done = run_sops(["decrypt", name], cwd=repo, key_file=TEST_KEY)
        assert (done.returncode, done.stdout) == (0, text), done.stderr
        # our decrypt prints what sops prints: the file as it was, not a JSON object
        ours = run(["--repo", str(repo), "decrypt", str(repo / name)], capsys)
        assert (ours.code, ours.out) == (0, text)
    new = "export API_TOKEN=n3w-v4lue\n"
    result = run(["--repo", str(repo), "set", str(repo / "env.sops.sh"), "data"], capsys, stdin=new)
    assert result.code == 0, result.err
    done = run_sops(["decrypt", "env.sops.sh"], cwd=repo, key_file=TEST_KEY)
    assert (done.returncode, done.stdout) == (0, new.rstrip("\n")), done.stderr  # as set reads
    assert run(["--repo", str(repo), "log", "--verify"], capsys).code == 0


@pytest.mark.parametrize(
    ("name", "text", "severity"),
    [
        ("plain.sops.sh", SCRIPT, "error"),
        ("zones/db.sops", ZONE, "error"),
        ("tls.sops.pem", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", "error"),
        ("app.sops.yaml.disabled", "kind: Secret\nstringData:\n    token: s3cret-v4lue\n", "error"),
        ("db.enc.json.bak", '{"password": "s3cret-v4lue"}\n', "error"),
        ("run.sops.sh", "export TOKEN=${TOKEN}\n", "info"),
        ("blank.sops", "\n", "info"),
        # a template or notes by name, and ``.enc.`` alone (openssl's, docs): not SOPS files
        ("values.sops.yaml.j2", "token: {{ vault_token }}\n", None),
        ("notes.enc.md", "# how we rotate\n", None),
        ("backup.enc.tar", "not sops at all\n", None),
        # signed, checksummed, public or example files beside a SOPS file (review findings)
        ("app.sops.yaml.asc", "-----BEGIN PGP SIGNATURE-----\nx\n", None),
        ("config.sops.yaml.sha256", "0" * 64 + "  config.sops.yaml\n", None),
        ("age.sops.pub", "age17m4zztwdtjwv5yastfc6v72cjnsrn7yuxlpmgwgr5c8s52lst4jq9x0tvy\n", None),
        ("secrets.sops.yaml.dist", "stringData:\n    token: changeme\n", None),
    ],
)
def test_plaintext_under_a_sops_name_in_another_store_is_sm002(
    repo: Path, capsys: pytest.CaptureFixture[str], name: str, text: str, severity: str | None
) -> None:
    path = repo / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    findings = [
        f
        for f in _audit(repo, capsys)["findings"]  # type: ignore[attr-defined]
        if f["path"] == name and f["rule"] == "SM002"  # SM018 may name a credential too
    ]
    assert [(f["rule"], f["severity"]) for f in findings] == (
        [("SM002", severity)] * bool(severity)
    )
    if severity == "error":
        git(repo, "add", "-A")
        result = run(["--repo", str(repo), "check"], capsys, expect=1)
        assert f"{name}: SM002" in result.out
        store = "yaml" if "yaml" in name else "json" if "json" in name else None
        fix = f"--input-type {store} --output-type {store}" if store else "secretsmgr encrypt -i"
        assert fix in result.out


def test_a_disabled_copy_is_read_in_the_store_its_name_carries_and_configs_are_left_out(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plain = "apiVersion: v1\nkind: Secret\nmetadata:\n    name: app\nstringData:\n    token: x1\n"
    (repo / "app.sops.yaml").write_text(plain)
    done = run_sops(["encrypt", "-i", "app.sops.yaml"], cwd=repo)
    assert done.returncode == 0, done.stderr
    (repo / "app.sops.yaml").rename(repo / "app.sops.yaml.disabled")
    (repo / ".sops.yaml.disabled").write_text("creation_rules: []\n")
    report = _audit(repo, capsys)
    assert report["findings"] == []
    assert report["summary"]["sops_files"] == 3  # type: ignore[index]


def test_encrypt_and_edit_keep_a_file_with_no_text_store_extension_whole(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """As sops does: the whole file is one value, written as ``{"data": …, "sops": …}``."""
    import sys

    pem = "-----BEGIN CERTIFICATE-----\nMIIBzertificate\n-----END CERTIFICATE-----\n"
    (repo / "tls.sops.pem").write_text(pem)
    assert run(["--repo", str(repo), "encrypt", "-i", str(repo / "tls.sops.pem")], capsys).code == 0
    assert (repo / "tls.sops.pem").read_text().startswith('{\n\t"data": "ENC[')
    done = run_sops(["decrypt", "tls.sops.pem"], cwd=repo, key_file=TEST_KEY)
    assert (done.returncode, done.stdout) == (0, pem), done.stderr
    again = run(
        ["--repo", str(repo), "encrypt", "-i", str(repo / "tls.sops.pem")], capsys, expect=1
    )
    assert "already encrypted" in again.err
    monkeypatch.setenv(
        "EDITOR", f"{sys.executable} -c \"open(__import__('sys').argv[1],'a').write('k=v\\n')\""
    )
    assert run(["--repo", str(repo), "edit", str(repo / "app.sops.conf")], capsys).code == 0
    done = run_sops(["decrypt", "app.sops.conf"], cwd=repo, key_file=TEST_KEY)
    assert (done.returncode, done.stdout) == (0, "k=v\n"), done.stderr


def test_edit_of_a_binary_store_file_shows_its_content_as_sops_edit_does(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    seen = tmp_path / "seen.txt"
    script = (
        "import shutil, sys; shutil.copy(sys.argv[1], SEEN); "
        "open(sys.argv[1], 'a').write('export MORE=1\\n')"
    )
    monkeypatch.setenv("EDITOR", f"{sys.executable} {tmp_path / 'editor.py'}")
    (tmp_path / "editor.py").write_text(script.replace("SEEN", repr(str(seen))))
    assert run(["--repo", str(repo), "edit", str(repo / "env.sops.sh")], capsys).code == 0
    assert seen.read_text() == SCRIPT  # the content, not a JSON object around it
    assert (repo / "env.sops.sh").read_text().startswith('{\n\t"data": "ENC[')
    done = run_sops(["decrypt", "env.sops.sh"], cwd=repo, key_file=TEST_KEY)
    assert (done.returncode, done.stdout) == (0, SCRIPT + "export MORE=1\n"), done.stderr


def _sops_bytes(repo: Path, name: str) -> bytes:
    """What the real ``sops decrypt`` prints for ``name``, as bytes (no newline translation)."""
    done = subprocess.run(
        [sops_binary(), "decrypt", name],
        cwd=repo,
        env={"SOPS_AGE_KEY_FILE": str(TEST_KEY), "PATH": "/usr/bin:/bin", "HOME": str(repo)},
        capture_output=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _sops_yaml_with_regex(repo: Path) -> None:
    (repo / ".sops.yaml").write_text(
        f"creation_rules:\n  - age: {PUB1}\n    encrypted_regex: ^(data|stringData)$\n"
    )


def test_the_rule_never_leaves_a_binary_store_file_in_clear(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """sops ignores encrypted_regex for the binary store; so does encrypt, and SM011 (no drift),
    and a binary-store file whose data is in clear is SM003."""
    (repo / ".sops.yaml").write_text(
        f"creation_rules:\n  - age: {PUB1}\n    encrypted_regex: ^pw$\n"
    )
    (repo / "q.sops").write_text("top s3cret\r\n\u00e9\n")
    assert run(["--repo", str(repo), "encrypt", "-i", str(repo / "q.sops")], capsys).code == 0
    assert '"data": "ENC[' in (repo / "q.sops").read_text()
    assert _sops_bytes(repo, "q.sops") == "top s3cret\r\n\u00e9\n".encode()  # CR kept
    _sops_yaml_with_regex(repo)
    assert [f for f in _audit(repo, capsys)["findings"] if f["rule"] == "SM011"] == []  # type: ignore[attr-defined]
    doc = json.loads((repo / "q.sops").read_text())
    doc["data"] = "top s3cret"
    (repo / "q.sops").write_text(json.dumps(doc, indent="\t") + "\n")
    found = {(f["rule"], f["path"]) for f in _audit(repo, capsys)["findings"]}  # type: ignore[attr-defined]
    assert ("SM003", "q.sops") in found


def test_content_that_is_not_utf8_rotates_and_decrypts_byte_for_byte(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = b"\xff\xfe\x00keystore\x80\r\n"
    (repo / "app.sops.jks").write_bytes(raw)
    done = run_sops(["encrypt", "-i", "app.sops.jks"], cwd=repo)
    assert done.returncode == 0, done.stderr
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--no-gpg-sign", "-m", "keystore")
    assert run(["--repo", str(repo), "rotate", "--all", "--reason", "jks"], capsys).code == 0
    out = tmp_path / "plain.jks"
    assert (
        run(
            ["--repo", str(repo), "decrypt", "-o", str(out), str(repo / "app.sops.jks")], capsys
        ).code
        == 0
    )
    assert out.read_bytes() == raw
    assert _sops_bytes(repo, "app.sops.jks") == raw


def test_set_keeps_a_copy_in_its_store_and_refuses_what_sops_could_not_read(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / "db.enc.json.bak").write_text('{"password": "s3cret", "n": 1}\n')
    json_type = ["--input-type", "json", "--output-type", "json"]
    done = run_sops(["encrypt", *json_type, "-i", "db.enc.json.bak"], cwd=repo)
    assert done.returncode == 0, done.stderr
    path = str(repo / "db.enc.json.bak")
    assert run(["--repo", str(repo), "set", path, "password"], capsys, stdin="n3w").code == 0
    done = run_sops(["decrypt", *json_type, "db.enc.json.bak"], cwd=repo, key_file=TEST_KEY)
    assert done.returncode == 0 and json.loads(done.stdout)["password"] == "n3w", done.stderr
    before = (repo / "env.sops.sh").read_bytes()
    script = str(repo / "env.sops.sh")
    for argv in (["set", script, "other"], ["unset", script, "data"]):
        result = run(["--repo", str(repo), *argv], capsys, stdin="x", expect=1)
        assert "kept whole by sops" in result.err
    assert (repo / "env.sops.sh").read_bytes() == before


def test_an_upper_case_extension_is_the_binary_store_for_sops_and_for_us(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """sops compares extensions case-sensitively: SECRET.YAML and APP.INI are binary-store
    files to it. Ours are written so, and sops's are found, audited, rotated and decrypted."""
    yaml_text, ini_text = "password: up-s3cret\n", "[db]\npassword = up-s3cret\n"
    (repo / "THEIRS.YAML").write_text(yaml_text)
    assert run_sops(["encrypt", "-i", "THEIRS.YAML"], cwd=repo).returncode == 0
    (repo / "OURS.INI").write_text(ini_text)
    assert run(["--repo", str(repo), "encrypt", "-i", str(repo / "OURS.INI")], capsys)[0] == 0
    for name, text in (("THEIRS.YAML", yaml_text), ("OURS.INI", ini_text)):
        assert (repo / name).read_text().startswith('{\n\t"data": "ENC[')
        assert run_sops(["decrypt", name], cwd=repo, key_file=TEST_KEY).stdout == text
        assert run(["--repo", str(repo), "decrypt", str(repo / name)], capsys)[:2] == (0, text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--no-gpg-sign", "-m", "upper-case names")
    report = _audit(repo, capsys, "--verify-mac")
    assert report["findings"] == []
    assert report["summary"]["sops_files"] == 4  # type: ignore[index]
    before = (repo / "THEIRS.YAML").read_text()
    assert run(["--repo", str(repo), "rotate", "--all"], capsys)[0] == 0
    assert (repo / "THEIRS.YAML").read_text() != before
    assert run_sops(["decrypt", "THEIRS.YAML"], cwd=repo, key_file=TEST_KEY).stdout == yaml_text


def test_a_der_key_is_encrypted_in_the_binary_store_and_sops_gives_its_bytes_back(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the review of stop 52: SM001's fix for a DER private key (encrypt -i) was an internal
    # error (UnicodeEncodeError: bytes that are no UTF-8 reached the YAML parser)
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
    )

    der = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        Encoding.DER, PrivateFormat.PKCS8, NoEncryption()
    )
    assert not der.isascii()
    (repo / "tls.der").write_bytes(der)
    code, _out, err = run(["--repo", str(repo), "encrypt", "-i", str(repo / "tls.der")], capsys)
    assert (code, err) == (0, "")
    assert (repo / "tls.der").read_text().startswith('{\n\t"data": "ENC[')
    done = subprocess.run(
        [sops_binary(), "decrypt", "tls.der"],
        cwd=repo,
        capture_output=True,
        env={"SOPS_AGE_KEY_FILE": str(TEST_KEY), "HOME": str(repo), "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == der
