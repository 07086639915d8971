"""``--regenerate`` cannot split a shared value or leave a copy where it cannot look.

The demo's PostgreSQL password (``stringData.password`` in the databases layer) is also
authentik's ``AUTHENTIK_POSTGRESQL__PASSWORD`` in the apps layer.
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import pytest

from secretsmgr.changelog.chain import parse_entries, verify
from secretsmgr.errors import UsageError
from secretsmgr.keys.age import AgeRecipient
from secretsmgr.rotate.regenerate import MAX_ATTEMPTS, regenerate
from secretsmgr.sops import EncryptionRule, FileFormat, RuleKind, dump, encrypt, parse_plain
from tests.cli.runner import Result, run
from tests.conftest import git
from tests.rotate.helpers import (
    AUTHENTIK,
    CHANGELOG,
    DEMO_KEY,
    PG,
    REDIS,
    TEST2_PUBLIC,
    commit_all,
    snapshot,
    sops_json,
)

pytestmark = pytest.mark.interop
REGEN = ["--layer", "databases", "--regenerate", "stringData.password", "--reason", "leak"]
SHARED = f"{AUTHENTIK}: stringData.AUTHENTIK_POSTGRESQL__PASSWORD"


def rotate(repo: Path, capsys: pytest.CaptureFixture[str], *args: str) -> Result:
    return run(["--repo", str(repo), "rotate", *args], capsys)


def password(repo: Path, path: str, key: str = "password") -> str:
    value = sops_json(repo / path, DEMO_KEY)["stringData"][key]  # type: ignore[index]
    assert isinstance(value, str)
    return value


def add_demo_secret(repo: Path, rel: str, plain: str, message: str) -> None:
    """``plain`` encrypted to the demo key at ``rel`` (stringData and data encrypted), committed."""
    sf = encrypt(
        parse_plain(plain, FileFormat.YAML),
        fmt=FileFormat.YAML,
        groups=[[AgeRecipient("age1fq08vpk2qf5wmz4cg6w5uzqt2hqrz56dzp25pj57nrx606073frqc0n3qw")]],
        rule=EncryptionRule(RuleKind.ENCRYPTED_REGEX, "^(data|stringData)$"),
    )
    (repo / rel).write_text(dump(sf))
    commit_all(repo, message)


def add_unreadable_file(repo: Path, value: str = "not-the-password") -> str:
    """A SOPS file only test-only-2 can read (not the demo key the tests hold)."""
    rel = "gitops/apps/other/other.enc.yaml"
    plain = f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: other\nstringData:\n  p: {value}\n"
    sf = encrypt(
        parse_plain(plain, FileFormat.YAML),
        fmt=FileFormat.YAML,
        groups=[[AgeRecipient(TEST2_PUBLIC)]],
        rule=EncryptionRule(RuleKind.ENCRYPTED_REGEX, "^(data|stringData)$"),
    )
    (repo / rel).parent.mkdir(parents=True)
    (repo / rel).write_text(dump(sf))
    commit_all(repo, "a file the operator cannot read")
    return rel


@pytest.mark.parametrize("key_path", ["metadata.name", "kind"])
def test_a_value_the_rule_leaves_in_plaintext_is_never_regenerated(
    demo_repo: Path, demo_key: Path, capsys: pytest.CaptureFixture[str], key_path: str
) -> None:
    before = snapshot(demo_repo)
    args = [str(demo_repo / REDIS), "--regenerate", key_path, "--reason", "r"]
    code, out, err = rotate(demo_repo, capsys, *args)
    assert (code, out) == (1, "")
    assert f"{REDIS}: its encryption rule leaves {key_path} in plaintext" in err
    assert snapshot(demo_repo) == before


def test_a_shared_value_is_refused_without_linked_naming_the_other_file(
    demo_repo: Path, demo_key: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = snapshot(demo_repo)
    code, out, err = rotate(demo_repo, capsys, *REGEN)
    assert (code, out) == (1, "")
    lines = err.splitlines()
    assert lines[0] == (
        "secretsmgr: error: --regenerate would split a shared value: "
        f"{AUTHENTIK} (stringData.AUTHENTIK_POSTGRESQL__PASSWORD) holds it too "
        "(1 other place in 1 file)"
    )
    assert (
        lines[1] == f"secretsmgr: hint: rewrite it everywhere with --linked (also in: {AUTHENTIK})"
    )
    assert "--unlinked" in lines[2]
    assert snapshot(demo_repo) == before


def test_unlinked_insists_and_splits_on_purpose(
    demo_repo: Path, demo_key: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = password(demo_repo, PG)
    code, out, err = rotate(demo_repo, capsys, *REGEN, "--unlinked")
    assert (code, err) == (0, "")
    assert password(demo_repo, PG) != old
    assert password(demo_repo, AUTHENTIK, "AUTHENTIK_POSTGRESQL__PASSWORD") == old
    assert "  stringData.password in gitops/apps/postgresql/credentials.enc.yaml\n" in out


def test_linked_refuses_when_a_file_cannot_be_decrypted(
    demo_repo: Path, demo_key: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hidden = add_unreadable_file(demo_repo)
    before = snapshot(demo_repo)
    code, _out, err = rotate(demo_repo, capsys, *REGEN, "--linked")
    assert code == 1
    assert err.splitlines()[0] == (
        f"secretsmgr: error: --linked cannot rewrite the value in {hidden}: it cannot be "
        "decrypted with the identities at hand (1 such file)"
    )
    assert f"secretsmgr: hint: files it cannot read: {hidden}" in err
    assert snapshot(demo_repo) == before
    # without --linked the same file blocks too: the value might sit there
    only_redis = ["--regenerate", "stringData.redis-password", str(demo_repo / REDIS)]
    code, _out, err = rotate(demo_repo, capsys, *only_redis)
    assert code == 1
    assert "cannot tell whether the value also sits in " + hidden in err
    assert snapshot(demo_repo) == before
    # a shared value and a file none of the keys at hand opens: that file might hold it, and
    # the files the keys open are the user's to change (sweep B of stop 55: the hint said the
    # hidden file held it, and sent the user to its key's holder for the shared one)
    code, _out, err = rotate(demo_repo, capsys, *REGEN)
    assert code == 1 and "would split a shared value" in err
    lines = err.splitlines()
    assert lines[1] == (
        f"secretsmgr: hint: --linked refuses while {hidden} cannot be decrypted with the "
        "identities at hand (it might hold the value too): run it with that file's key at hand "
        "as well"
    )
    assert f"secretsmgr set in {AUTHENTIK}, and ask a holder of {hidden}'s key" in lines[2]
    assert snapshot(demo_repo) == before
    code, _out, err = rotate(demo_repo, capsys, *only_redis, "--unlinked")
    assert (code, err) == (0, "")


def test_linked_run_records_every_regenerated_key_path(
    demo_repo: Path, demo_key: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = password(demo_repo, PG)
    code, out, err = rotate(demo_repo, capsys, *REGEN, "--linked", "--commit")
    assert (code, err) == (0, "")
    new = password(demo_repo, PG)
    assert new != old and password(demo_repo, AUTHENTIK, "AUTHENTIK_POSTGRESQL__PASSWORD") == new

    data = (demo_repo / CHANGELOG).read_bytes()
    assert verify(data) is None
    # --layer databases, and the linked value reached apps: the entry names both layers, so
    # log -l apps lists it
    assert parse_entries(data)[-1].layers == ("databases", "apps")
    code, listed, _ = run(["--repo", str(demo_repo), "log", "-l", "apps"], capsys)
    assert code == 0 and re.search(r"(?m)^\s*2 .* rotate\s+databases,apps\s+3\s+leak$", listed)
    files = {f.path: f.key_paths for f in parse_entries(data)[-1].files}
    assert files == {
        PG: ("stringData.password",),
        REDIS: (),
        AUTHENTIK: ("stringData.AUTHENTIK_POSTGRESQL__PASSWORD",),
    }
    message = git(demo_repo, "log", "-1", "--format=%B")
    assert "Regenerated values (new random values):\n" in message
    assert f"- stringData.password in {PG}\n" in message
    assert f"- stringData.AUTHENTIK_POSTGRESQL__PASSWORD in {AUTHENTIK} (same value)\n" in message
    assert re.search(r"\n\nSecrets-Changelog-Seq: \d+\n*$", message)  # still a trailer

    assert f"  stringData.AUTHENTIK_POSTGRESQL__PASSWORD in {AUTHENTIK} (same value)\n" in out
    assert "change the credential in the service itself too" in out
    assert f"secretsmgr decrypt --extract stringData.password {PG}" in out
    for value in (old, new):
        assert value not in out and value.encode() not in data and value not in message


def test_a_run_without_regenerate_prints_no_reminder(
    demo_repo: Path, demo_key: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _err = rotate(demo_repo, capsys, "--layer", "databases")
    assert code == 0 and "service" not in out and out.count("\n") == 2
    assert out.splitlines()[1].startswith("next: commit the rotated files")  # sweep 68
    assert all(
        not f.key_paths for f in parse_entries((demo_repo / CHANGELOG).read_bytes())[-1].files
    )
    assert b"key_paths" not in (demo_repo / CHANGELOG).read_bytes().splitlines()[-1]


# --- the value itself ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "alphabet"),
    [
        ("7", "0123456789"),
        ("ab", "0123456789abcdef"),
        ("Zz9", None),
        ("YQ==", None),  # base64 of "a": the padding stays
        ("abcd=", None),
        ("N_ByVh1aRcM2juwebHdB-XHrAV2img3d", None),
    ],
)
def test_short_and_padded_values_get_a_fresh_value_of_their_shape(
    old: str, alphabet: str | None
) -> None:
    for _ in range(20):
        new = regenerate(old, "f: k")
        assert new != old and len(new) == len(old)
        body = old.rstrip("=")
        assert new.endswith(old[len(body) :])
        if alphabet is not None:
            assert set(new) <= set(alphabet)


@pytest.mark.parametrize("old", ["==", "=", ""])
def test_a_value_with_nothing_to_randomize_is_refused(old: str) -> None:
    with pytest.raises(UsageError, match="f: k: "):
        regenerate(old, "f: k")


def test_the_draw_is_bounded_even_when_it_keeps_matching(monkeypatch: pytest.MonkeyPatch) -> None:
    draws: list[str] = []

    def same(chars: str) -> str:
        draws.append("1")
        return "1"

    monkeypatch.setattr(secrets, "choice", same)
    with pytest.raises(UsageError, match="could not draw a value different"):
        regenerate("1", "f: k")
    assert len(draws) == MAX_ATTEMPTS


def test_the_rule_decides_which_slots_stay_in_plaintext_not_the_value(
    demo_repo: Path, demo_key: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A value that merely looks encrypted (ENC[…] in an annotation the rule leaves in clear)
    is still in clear: a new credential there is refused all the same."""
    rel = "gitops/apps/redis/looks-encrypted.enc.yaml"
    plain = (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: odd\n  annotations:\n"
        "    note: ENC[not-really-encrypted]\nstringData:\n  p: a-real-value\n"
    )
    sf = encrypt(
        parse_plain(plain, FileFormat.YAML),
        fmt=FileFormat.YAML,
        groups=[[AgeRecipient("age1fq08vpk2qf5wmz4cg6w5uzqt2hqrz56dzp25pj57nrx606073frqc0n3qw")]],
        rule=EncryptionRule(RuleKind.ENCRYPTED_REGEX, "^(data|stringData)$"),
    )
    (demo_repo / rel).write_text(dump(sf))
    commit_all(demo_repo, "a file with an ENC-looking annotation")
    before = snapshot(demo_repo)
    args = [str(demo_repo / rel), "--regenerate", "metadata.annotations.note", "--reason", "r"]
    code, out, err = rotate(demo_repo, capsys, *args)
    assert (code, out) == (1, ""), err
    assert "leaves metadata.annotations.note in plaintext" in err
    assert snapshot(demo_repo) == before


def _data_secret(repo: Path, rel: str, encoded: str, field: str = "data:\n  password") -> None:
    """A Secret holding ``encoded`` under ``data.password`` (or ``field``), encrypted as the
    demo's files."""
    from tests.rotate.helpers import age_recipients

    plain = f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: pgd\n{field}: {encoded}\n"
    sf = encrypt(
        parse_plain(plain, FileFormat.YAML),
        fmt=FileFormat.YAML,
        groups=[[AgeRecipient(r) for r in age_recipients(repo / PG)]],
        rule=EncryptionRule(RuleKind.ENCRYPTED_REGEX, "^(data|stringData)$"),
    )
    (repo / rel).parent.mkdir(parents=True, exist_ok=True)
    (repo / rel).write_text(dump(sf))
    commit_all(repo, "a Secret with data")


def test_a_data_value_is_regenerated_as_the_text_it_encodes(
    demo_repo: Path, demo_key: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """sweep 16: the base64 text itself was regenerated (the credential became random bytes),
    and the same password under stringData elsewhere was neither refused nor rewritten."""
    import base64

    old = password(demo_repo, PG)
    rel = "gitops/apps/other/pg-data.enc.yaml"
    _data_secret(demo_repo, rel, base64.b64encode(f"{old}\n".encode()).decode())
    args = [str(demo_repo / rel), "--regenerate", "data.password", "--reason", "leak"]
    before = snapshot(demo_repo)
    code, out, err = rotate(demo_repo, capsys, *args)
    assert (code, out) == (1, "") and "would split a shared value" in err
    assert AUTHENTIK in err and PG in err and old not in err
    assert snapshot(demo_repo) == before

    assert rotate(demo_repo, capsys, *args, "--linked")[0] == 0
    new = password(demo_repo, PG)
    assert new != old and len(new) == len(old) and new.isprintable()
    assert password(demo_repo, AUTHENTIK, "AUTHENTIK_POSTGRESQL__PASSWORD") == new
    stored = sops_json(demo_repo / rel, DEMO_KEY)["data"]["password"]  # type: ignore[index]
    assert base64.b64decode(stored) == f"{new}\n".encode()


def test_a_data_value_of_binary_content_is_not_regenerated(
    demo_repo: Path, demo_key: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import base64

    rel = "gitops/apps/other/blob.enc.yaml"
    _data_secret(demo_repo, rel, base64.b64encode(b"\x00\x01binary\xff").decode())
    before = snapshot(demo_repo)
    args = [str(demo_repo / rel), "--regenerate", "data.password", "--unlinked", "--reason", "x"]
    code, out, err = rotate(demo_repo, capsys, *args)
    assert (code, out) == (2, "")
    assert "holds base64 of binary content" in err
    assert snapshot(demo_repo) == before


def test_the_base64_text_and_a_copy_with_a_line_break_are_the_same_value(
    demo_repo: Path, demo_key: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The review of sweep 16: after data values were compared decoded, the same base64 text
    kept raw elsewhere (a chart value that takes base64) and a copy ending in a line break
    (``pw: |``) were no longer found: the rotation split the credential without a word."""
    import base64

    old = password(demo_repo, PG)
    encoded = base64.b64encode(old.encode()).decode()
    rel, raw, block = (
        "gitops/apps/other/pg-data.enc.yaml",
        "gitops/apps/other/raw.enc.yaml",
        "gitops/apps/other/block.enc.yaml",
    )
    _data_secret(demo_repo, rel, encoded)
    _data_secret(demo_repo, raw, encoded, "stringData:\n  copy")
    _data_secret(demo_repo, block, f"|\n    {old}", "stringData:\n  copy")
    args = [str(demo_repo / rel), "--regenerate", "data.password", "--reason", "leak"]
    code, out, err = rotate(demo_repo, capsys, *args)
    assert (code, out) == (1, "") and raw in err and block in err
    assert rotate(demo_repo, capsys, *args, "--linked")[0] == 0
    new = password(demo_repo, PG)
    assert password(demo_repo, raw, "copy") == base64.b64encode(new.encode()).decode()
    assert password(demo_repo, block, "copy") == f"{new}\n"


def test_a_value_in_a_list_and_a_bracket_path_are_regenerated(
    demo_repo: Path, demo_key: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Sweep 17 (JvandeLocht's Helm values: credentials in a list of maps): `users.0.token`
    and sops's `["users"][0]["token"]` were "no target file has that key path", although
    docs/cli.md's key paths and set/unset take both."""
    rel = "gitops/apps/other/tokens.enc.yaml"
    field = (
        "stringData:\n  users:\n    - name: a\n      token: tok-a-123456\n"
        "    - name: b\n      token"
    )
    _data_secret(demo_repo, rel, "tok-b-654321", field)
    for spec, index in (
        ("stringData.users.0.token", 0),
        ('["stringData"]["users"][1]["token"]', 1),
    ):
        args = [str(demo_repo / rel), "--regenerate", spec, "--unlinked", "--reason", "t"]
        assert rotate(demo_repo, capsys, *args)[0] == 0
        users = sops_json(demo_repo / rel, DEMO_KEY)["stringData"]["users"]  # type: ignore[index]
        token = users[index]["token"]  # type: ignore[index]
        assert token not in ("tok-a-123456", "tok-b-654321") and len(token) == 12
        commit_all(demo_repo, spec)


def test_a_named_value_ending_in_a_line_break_is_the_same_credential_without_it(
    demo_repo: Path, demo_key: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The second review: regenerating ``a: |`` (the text and a line break) left ``b`` (the
    text alone) with the old credential, without a word, and dropped the line break."""
    rel = "gitops/apps/other/block.enc.yaml"
    _data_secret(
        demo_repo, rel, "|\n    Secr3tValue-long", "stringData:\n  b: Secr3tValue-long\n  a"
    )
    args = [str(demo_repo / rel), "--regenerate", "stringData.a", "--reason", "t"]
    code, out, err = rotate(demo_repo, capsys, *args)
    assert (code, out) == (1, "") and "stringData.b" in err
    assert rotate(demo_repo, capsys, *args, "--linked")[0] == 0
    values = sops_json(demo_repo / rel, DEMO_KEY)["stringData"]  # type: ignore[index]
    new = values["b"]  # type: ignore[index]
    assert new != "Secr3tValue-long" and len(new) == len("Secr3tValue-long")
    assert values["a"] == f"{new}\n"  # type: ignore[index]


def test_a_value_holding_the_old_one_inside_is_shared_too(
    demo_repo: Path, demo_key: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the attack review of stop 52: `url: postgres://app:OLD@pg/app` beside the password kept
    # the old password after --linked, and without --linked nothing was refused
    old = password(demo_repo, PG)
    rel = "gitops/apps/authentik/dsn.enc.yaml"
    plain = (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: dsn\n"
        f"stringData:\n  url: postgres://authentik:{old}@postgresql:5432/authentik\n"
        "  note: unrelated\n"
    )
    add_demo_secret(demo_repo, rel, plain, "a connection URL holding the password")
    before = snapshot(demo_repo)
    code, _out, err = rotate(demo_repo, capsys, *REGEN)
    assert code == 1 and f"{rel} (stringData.url) holds it too" in err, err
    assert snapshot(demo_repo) == before
    code, out, err = rotate(demo_repo, capsys, *REGEN, "--linked")
    assert (code, err) == (0, "")
    new = password(demo_repo, PG)
    url = sops_json(demo_repo / rel, DEMO_KEY)["stringData"]["url"]  # type: ignore[index]
    assert url == f"postgres://authentik:{new}@postgresql:5432/authentik" and old not in url
    assert f"  stringData.url in {rel} (the old value inside it)\n" in out


@pytest.mark.parametrize("shape", ["several-times", "in-base64-too"])
def test_linked_refuses_a_value_holding_the_old_one_where_it_cannot_tell_which(
    demo_repo: Path, demo_key: Path, capsys: pytest.CaptureFixture[str], shape: str
) -> None:
    # the review of stop 52: `postgres://postgres:postgres@postgres…` lost its scheme, user,
    # host and database to the new value; a docker config's `auth` (base64 of user:OLD) kept
    # the old password while `password` beside it changed
    import base64
    import json

    old = password(demo_repo, PG)
    rel = "gitops/apps/authentik/dsn.enc.yaml"
    if shape == "several-times":
        url = f"{old}://{old}:{old}@pg/{old}"
        body = f"  url: {url}\n"
    else:
        auth = base64.b64encode(f"robot:{old}".encode()).decode()
        config = json.dumps({"auths": {"r.io": {"password": old, "auth": auth}}})
        body = f"  config.json: '{config}'\n"
    plain = f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: dsn\nstringData:\n{body}"
    add_demo_secret(demo_repo, rel, plain, "a value holding the password where it cannot be told")
    before = snapshot(demo_repo)
    code, _out, err = rotate(demo_repo, capsys, *REGEN, "--linked")
    assert code == 1
    assert f"--linked cannot rewrite {rel}" in err and "more than once" in err
    assert snapshot(demo_repo) == before


@pytest.mark.parametrize("shape", ["several-times", "needs-escaping"])
def test_a_split_refusal_offers_linked_only_where_linked_would_rewrite(
    demo_repo: Path, demo_key: Path, capsys: pytest.CaptureFixture[str], shape: str
) -> None:
    # left open at stop 52: the refusal said "rewrite it everywhere with --linked", and the
    # pasted --linked then refused the same file
    old = "Xy7!kq9*Lm2&Pz4+" if shape == "needs-escaping" else password(demo_repo, PG)
    rel_pw = "gitops/apps/authentik/pw.enc.yaml"
    rel = "gitops/apps/authentik/dsn.enc.yaml"
    secret = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {}\nstringData:\n  {}\n"
    add_demo_secret(demo_repo, rel_pw, secret.format("pw", f'password: "{old}"'), "pw")
    url = f"{old}://{old}:{old}@pg/db" if shape == "several-times" else f"postgres://a:{old}@db/a"
    add_demo_secret(demo_repo, rel, secret.format("dsn", f'url: "{url}"'), "dsn")
    before = snapshot(demo_repo)
    args = [str(demo_repo / rel_pw), "--regenerate", "stringData.password", "--reason", "r"]
    code, _out, err = rotate(demo_repo, capsys, *args)
    assert code == 1 and "would split a shared value" in err
    assert "with --linked (also in" not in err
    lines = err.splitlines()
    assert lines[1].startswith(f"secretsmgr: hint: --linked cannot rewrite it in {rel}: ")
    assert "stringData.url: " in lines[1]
    assert "then put the new value there by hand" in lines[2]
    assert f"secretsmgr edit {rel}" in lines[2]
    # the review of stop 53: the escaping warning of --linked's own refusal was lost
    assert ("escaped as that text needs" in lines[2]) is (shape == "needs-escaping")
    # the hint's way works: --unlinked regenerates the named file and leaves the other alone
    code, _out, err = rotate(demo_repo, capsys, *args, "--unlinked")
    assert (code, err) == (0, "")
    assert snapshot(demo_repo)[rel] == before[rel]
    assert old in sops_json(demo_repo / rel, DEMO_KEY)["stringData"]["url"]  # type: ignore[index]


def test_an_old_value_that_is_part_of_a_longer_word_is_left_alone(
    demo_repo: Path, demo_key: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = password(demo_repo, PG)
    rel = "gitops/apps/authentik/dsn.enc.yaml"
    plain = f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: dsn\nstringData:\n  w: x{old}y\n"
    add_demo_secret(demo_repo, rel, plain, "a longer word")
    code, _out, err = rotate(demo_repo, capsys, *REGEN, "--linked")
    assert (code, err) == (0, "")
    assert sops_json(demo_repo / rel, DEMO_KEY)["stringData"]["w"] == f"x{old}y"  # type: ignore[index]


@pytest.mark.parametrize("old", ["Xy7!kq9*Lm2&Pz4+", "s3cr.et~pass-word_1"])
def test_linked_refuses_to_put_a_value_that_needs_escaping_inside_another(
    demo_repo: Path, demo_key: Path, capsys: pytest.CaptureFixture[str], old: str
) -> None:
    # the reviews of stop 52: an old password of printable characters inside a URL got a new one
    # from the same characters (`g}A{d1#=…`), and the URL's host went behind the `#`; an old
    # value with `.` and `~` (safe in a URL) draws from those characters too
    rel_pw = "gitops/apps/authentik/pw.enc.yaml"
    rel_url = "gitops/apps/authentik/url.enc.yaml"
    secret = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {}\nstringData:\n  {}\n"
    add_demo_secret(demo_repo, rel_pw, secret.format("pw", f'password: "{old}"'), "pw")
    url = f'url: "postgres://app:{old}@db:5432/app"'
    add_demo_secret(demo_repo, rel_url, secret.format("url", url), "url")
    before = snapshot(demo_repo)
    args = [str(demo_repo / rel_pw), "--regenerate", "stringData.password", "--linked"]
    code, _out, err = rotate(demo_repo, capsys, *args, "--reason", "r")
    assert code == 1
    assert f"--linked cannot rewrite {rel_url} (stringData.url)" in err
    assert "may change what the text around it means" in err
    assert snapshot(demo_repo) == before


def test_each_document_a_value_is_regenerated_in_is_named(
    demo_repo: Path, demo_key: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the sweep of stop 52 (david-driscoll/stargate-command-cluster): a file of three Secrets,
    # each with stringData.password: all three changed, one was named, the linked file held
    # the second's value while the printed --extract showed the first's
    rel = "gitops/apps/authentik/passwords.enc.yaml"
    one = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {}\nstringData:\n  password: {}\n"
    plain = (
        one.format("superuser", "Aq3nV8sLx2Ry6Wd") + "---\n" + one.format("app", "Bk9mP2vQ8rT5wL3")
    )
    add_demo_secret(demo_repo, rel, plain, "two Secrets in one file")
    add_demo_secret(
        demo_repo, "gitops/apps/authentik/uses.enc.yaml", one.format("uses", "Bk9mP2vQ8rT5wL3"), "u"
    )
    args = [str(demo_repo / rel), "--regenerate", "stringData.password", "--linked"]
    code, out, err = rotate(demo_repo, capsys, *args, "--reason", "r", "--commit")
    assert (code, err) == (0, "")
    assert f"  stringData.password (document 1) in {rel}\n" in out
    assert f"  stringData.password (document 2) in {rel}\n" in out
    assert (
        "  stringData.password in gitops/apps/authentik/uses.enc.yaml "
        f"(same value: stringData.password (document 2) in {rel})\n"
    ) in out
    assert f"the new values are in {rel} (one per document): secretsmgr decrypt {rel}" in out
    entry = parse_entries((demo_repo / CHANGELOG).read_bytes())[-1]
    recorded = {k for f in entry.files if f.path == rel for k in f.key_paths}
    assert recorded == {"stringData.password (document 1)", "stringData.password (document 2)"}


def test_an_old_value_on_a_config_line_is_rewritten_there(
    demo_repo: Path, demo_key: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a password of safe characters on a line of a multi-line config (followed by a line
    # break) is rewritten in place, not refused as if its new value needed escaping
    old = password(demo_repo, PG)
    rel = "gitops/apps/authentik/config.enc.yaml"
    plain = (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: cfg\nstringData:\n"
        f"  config.yaml: |\n    db:\n      password: {old}\n      host: pg\n"
    )
    add_demo_secret(demo_repo, rel, plain, "a config holding the password")
    code, out, err = rotate(demo_repo, capsys, *REGEN, "--linked")
    assert (code, err) == (0, ""), err
    new = password(demo_repo, PG)
    config = sops_json(demo_repo / rel, DEMO_KEY)["stringData"]["config.yaml"]  # type: ignore[index]
    assert config == f"db:\n  password: {new}\n  host: pg\n" and old not in config
    assert f"  stringData.config.yaml in {rel} (the old value inside it" in out


def test_a_value_in_a_later_document_alone_is_named_with_it_and_history_is_closed(
    demo_repo: Path, demo_key: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the last review of stop 52: the --extract hint failed for a key path only document 2
    # holds, and SM019 stayed open after the fix it advises (the changelog names the document)
    from secretsmgr.changelog.chain import parse_entries as entries_of

    rel = "gitops/apps/authentik/multi.enc.yaml"
    first = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  a: b\n"
    second = (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  password: Aq3nV8sLx2\n"
    )
    add_demo_secret(demo_repo, rel, first + "---\n" + second, "two documents")
    args = [str(demo_repo / rel), "--regenerate", "stringData.password", "--unlinked"]
    code, out, err = rotate(demo_repo, capsys, *args, "--reason", "r")
    assert (code, err) == (0, "")
    assert f"  stringData.password (document 2) in {rel}\n" in out
    assert f"the new value is in {rel} (document 2): secretsmgr decrypt {rel}" in out
    (record,) = [f for f in entries_of((demo_repo / CHANGELOG).read_bytes())[-1].files]
    assert record.key_paths == ("stringData.password (document 2)",)
