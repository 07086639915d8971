"""``secretsmgr rotate`` via ``main([...])`` on git copies of fixtures/demo; sops is the judge."""

from __future__ import annotations

import hashlib
import json
import re
import string
import subprocess
from pathlib import Path

import pytest

from secretsmgr.changelog.chain import GENESIS, datakey_id, parse_entries, verify
from tests.cli.runner import Result, assert_user_error, hints_of, run
from tests.conftest import git, run_sops
from tests.rotate.helpers import (
    AUTHENTIK,
    CHANGELOG,
    CLOUDFLARE,
    DATABASES,
    DEMO_KEY,
    DEMO_SOPS_FILES,
    PG,
    REDIS,
    TEST2_KEY,
    TEST2_PUBLIC,
    age_recipients,
    changed,
    commit_all,
    data_key,
    head,
    identity_from,
    journal_path,
    litter,
    log_lines,
    porcelain,
    secret_values,
    snapshot,
    sops_decrypt,
    sops_json,
)

pytestmark = pytest.mark.interop

CLUSTER = "age1fq08vpk2qf5wmz4cg6w5uzqt2hqrz56dzp25pj57nrx606073frqc0n3qw"
ADMIN = "age1xfmf59p8t2m533vyfcv79rau54eahzeyudzsavganjpee5nakehqe2jp0u"
ENC = re.compile(r"ENC\[[^\]]*\]")


def rotate(repo: Path, capsys: pytest.CaptureFixture[str], *args: str) -> Result:
    return run(["--repo", str(repo), "rotate", *args], capsys)


def trailer_seq(repo: Path) -> str:
    """The Secrets-Changelog-Seq trailer of HEAD's message."""
    fmt = "--format=%(trailers:key=Secrets-Changelog-Seq,valueonly)"
    return git(repo, "log", "-1", fmt).strip()


def enc_stanzas(path: Path) -> list[str]:
    """The armored age stanzas (``enc: |`` blocks) of a YAML SOPS file."""
    text = path.read_text()
    return re.findall(
        r"-----BEGIN AGE ENCRYPTED FILE-----.*?-----END AGE ENCRYPTED FILE-----", text, re.S
    )


# --- 1. done-when --------------------------------------------------------------------------


def test_rotate_layer_commit_is_one_commit_same_plaintext_new_key(
    demo_repo: Path, demo_key: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ident = identity_from(DEMO_KEY)
    before = snapshot(demo_repo)
    plain_before = {f: sops_decrypt(demo_repo / f, key_file=DEMO_KEY) for f in DATABASES}
    keys_before = {f: data_key(demo_repo / f, ident) for f in DATABASES}
    stanzas_before = {f: enc_stanzas(demo_repo / f) for f in DATABASES}
    start = head(demo_repo)
    old_lines = log_lines(demo_repo)  # the demo may ship a changelog already
    seq = len(old_lines) + 1

    code, out, err = rotate(
        demo_repo, capsys, "--layer", "databases", "--reason", "quarterly rotation", "--commit"
    )
    assert (code, err) == (0, "")
    assert re.fullmatch(
        rf"rotated 2 files in \d+\.\d s; changelog seq {seq}; committed [0-9a-f]{{7}}\n", out
    )

    # one commit holding exactly the databases files and the changelog; nothing else changed
    assert git(demo_repo, "rev-list", "--count", f"{start}..HEAD").strip() == "1"
    names = git(demo_repo, "show", "--name-only", "--format=", "HEAD").split()
    assert sorted(names) == sorted([*DATABASES, CHANGELOG])
    message = git(demo_repo, "log", "-1", "--format=%B")
    assert message.splitlines()[0] == "secrets: rotate databases (2 files)"
    assert "quarterly rotation" in message
    assert trailer_seq(demo_repo) == str(seq)
    assert porcelain(demo_repo) == ""
    after = snapshot(demo_repo)
    assert changed(before, after) == {*DATABASES, CHANGELOG}

    # same plaintext for the real sops, new data key, new age stanzas
    for f in DATABASES:
        assert sops_decrypt(demo_repo / f, key_file=DEMO_KEY) == plain_before[f]
        assert data_key(demo_repo / f, ident) != keys_before[f]
        assert set(enc_stanzas(demo_repo / f)).isdisjoint(stanzas_before[f])
        assert age_recipients(demo_repo / f) == (CLUSTER, ADMIN)

    # the changelog: old lines untouched, one new entry chained to them
    log1 = (demo_repo / CHANGELOG).read_bytes()
    assert log1.splitlines()[:-1] == old_lines
    assert verify(log1) is None
    entry = parse_entries(log1)[-1]
    prev = hashlib.sha256(old_lines[-1]).hexdigest() if old_lines else GENESIS
    assert (entry.seq, entry.prev, entry.action) == (seq, prev, "rotate")
    assert (entry.layers, entry.reason) == (("databases",), "quarterly rotation")
    assert [r.path for r in entry.files] == list(DATABASES)
    for rec in entry.files:
        path = demo_repo / rec.path
        assert rec.sha256_before == hashlib.sha256(before[rec.path]).hexdigest()
        assert rec.sha256_after == hashlib.sha256(path.read_bytes()).hexdigest()
        assert rec.datakey_id == datakey_id(data_key(path, ident))
        assert rec.recipients_before == rec.recipients_after == (CLUSTER, ADMIN)
        assert f'lastmodified: "{rec.lastmodified}"' in path.read_text()

    # a second rotation appends the next seq, chained to the previous line
    code, out, err = rotate(
        demo_repo, capsys, "--layer", "databases", "--reason", "again", "--commit"
    )
    assert (code, err) == (0, "")
    assert f"changelog seq {seq + 1};" in out
    log2 = (demo_repo / CHANGELOG).read_bytes()
    assert log2.startswith(log1)
    assert verify(log2) is None
    second = parse_entries(log2)[-1]
    assert second.seq == seq + 1
    assert second.prev == hashlib.sha256(log1.splitlines()[-1]).hexdigest()
    assert trailer_seq(demo_repo) == str(seq + 1)
    for f in DATABASES:
        assert sops_decrypt(demo_repo / f, key_file=DEMO_KEY) == plain_before[f]


def test_log_verify_after_rotations_and_after_hand_edit(
    demo_repo: Path, demo_key: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert rotate(demo_repo, capsys, "--all", "--reason", "r-all", "--commit")[0] == 0
    assert rotate(demo_repo, capsys, "--layer", "databases", "--reason", "r-db", "--commit")[0] == 0
    count = len(log_lines(demo_repo))
    code, out, err = run(["--repo", str(demo_repo), "log", "--verify"], capsys)
    assert (code, err) == (0, "")
    assert f"chain ok ({count} entries)" in out

    # hand-edit the reason of the last entry: the chain breaks at that very line
    path = demo_repo / CHANGELOG
    path.write_bytes(path.read_bytes().replace(b'"reason":"r-db"', b'"reason":"R-DB"'))
    code, out, err = run(["--repo", str(demo_repo), "log", "--verify"], capsys)
    assert (code, out) == (1, "")
    assert_user_error(err, f"changelog broken at seq {count}")
    assert verify(path.read_bytes()) == count


def test_log_verify_wants_an_entry_for_every_sops_file(
    bare_demo_repo: Path, demo_key: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Contract: --verify also checks coverage, so a databases-only history is not enough."""
    repo = bare_demo_repo
    assert rotate(repo, capsys, "--layer", "databases", "--commit")[0] == 0
    assert verify((repo / CHANGELOG).read_bytes()) is None
    code, _out, err = run(["--repo", str(repo), "log", "--verify"], capsys)
    assert code == 1
    assert_user_error(err, "has no changelog entry")
    assert "broken" not in err


# --- 2. minimal diff -----------------------------------------------------------------------


def sops_block_shape(lines: list[str]) -> list[str]:
    """The sops block without armored stanza bodies, with lastmodified and mac blanked."""
    shape, armored = [], False
    for line in lines:
        if "-----END AGE ENCRYPTED FILE-----" in line:
            armored = False
        if not armored:
            line = re.sub(r'lastmodified: ".*"', "lastmodified: X", ENC.sub("ENC", line))
            shape.append(line)
        if "-----BEGIN AGE ENCRYPTED FILE-----" in line:
            armored = True
    return shape


def test_rotation_changes_only_enc_values_and_the_sops_block(
    demo_repo: Path, demo_key: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = {f: (demo_repo / f).read_text() for f in DEMO_SOPS_FILES}
    plain = {f: sops_decrypt(demo_repo / f, key_file=DEMO_KEY) for f in DEMO_SOPS_FILES}
    code, _out, err = rotate(demo_repo, capsys, "--all", "--reason", "diff")
    assert (code, err) == (0, "")
    for f in DEMO_SOPS_FILES:
        old = before[f].splitlines(keepends=True)
        new = (demo_repo / f).read_text().splitlines(keepends=True)
        assert new != old
        cut_old, cut_new = old.index("sops:\n"), new.index("sops:\n")
        assert cut_old == cut_new, f"{f}: lines above the sops block added or removed"
        for n, (a, b) in enumerate(zip(old[:cut_old], new[:cut_new], strict=True), start=1):
            if a != b:
                assert ENC.search(a), f"{f}:{n}: a line outside ENC[...] changed"
                assert ENC.sub("ENC", a) == ENC.sub("ENC", b), f"{f}:{n}: changed outside ENC"
        # inside the sops block only the armored stanzas, lastmodified and mac change
        assert sops_block_shape(new[cut_new:]) == sops_block_shape(old[cut_old:]), f
        assert sops_decrypt(demo_repo / f, key_file=DEMO_KEY) == plain[f]


# --- 6. refusals ---------------------------------------------------------------------------


def test_dirty_target_is_refused_unless_allow_dirty(
    demo_repo: Path, demo_key: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = demo_repo / REDIS
    target.write_text("# a local note\n" + target.read_text())
    before = snapshot(demo_repo)
    code, out, err = rotate(demo_repo, capsys, "--layer", "databases")
    assert (code, out) == (1, "")
    assert_user_error(err, REDIS, "uncommitted changes")
    assert "(1 file the run writes is dirty)" in err, err  # sweep 84: "2 targets" for one
    assert snapshot(demo_repo) == before

    code, out, err = rotate(demo_repo, capsys, "--layer", "databases", "--allow-dirty")
    assert (code, err) == (0, "")
    assert changed(before, snapshot(demo_repo)) == {*DATABASES, CHANGELOG}
    for f in DATABASES:
        sops_decrypt(demo_repo / f, key_file=DEMO_KEY)


def test_mac_mismatch_refuses_the_whole_run(
    demo_repo: Path, demo_key: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = demo_repo / REDIS
    target.write_text(target.read_text().replace("name: redis-auth", "name: redis-auth-x", 1))
    commit_all(demo_repo, "tamper")  # committed: the refusal must come from the MAC
    done = run_sops(["decrypt", str(target)], key_file=DEMO_KEY)
    assert done.returncode != 0 and "MAC" in done.stderr  # the real sops agrees it is tampered
    before = snapshot(demo_repo)
    code, out, err = rotate(demo_repo, capsys, "--layer", "databases", "--commit")
    assert (code, out) == (1, "")
    assert_user_error(err, REDIS, "MAC mismatch")
    assert snapshot(demo_repo) == before  # not even postgresql (first in order) was rotated
    assert porcelain(demo_repo) == ""


def test_unknown_layer_is_a_usage_error(
    demo_repo: Path, demo_key: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = snapshot(demo_repo)
    code, out, err = rotate(demo_repo, capsys, "--layer", "nosuchlayer")
    assert (code, out) == (2, "")
    assert_user_error(err, "unknown layer: nosuchlayer")
    assert snapshot(demo_repo) == before


def test_all_passes_over_an_empty_file_named_like_sops_and_refuses_a_plain_one(
    demo_repo: Path, demo_key: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # sixth sweep (kitos9112/k8s-home): a `code-server.enc.yaml` holding one comment, which
    # audit calls empty (SM002 info), refused every rotation with "not a valid SOPS file"
    empty = demo_repo / "gitops" / "apps" / "applications" / "code-server.enc.yaml"
    empty.write_text("# yamllint disable\n")
    commit_all(demo_repo, "an empty file named like a SOPS file")
    code, out, err = rotate(demo_repo, capsys, "--all", "--dry-run")
    assert (code, err) == (0, "")
    assert AUTHENTIK in out and "code-server" not in out
    code, out, err = rotate(demo_repo, capsys, "--dry-run", str(empty))
    assert (code, out) == (1, "")
    assert_user_error(err, "code-server.enc.yaml: empty, no SOPS metadata to rotate")
    assert hints_of(err) == ["it holds nothing to rotate: leave it out"]
    # the review: when every file selected is passed over, say so (--all was given)
    only = demo_repo.parent / "only"
    (only / "app").mkdir(parents=True)
    (only / "app" / "code-server.enc.yaml").write_text("# yamllint disable\n")
    code, out, err = run(["--repo", str(only), "rotate", "--all", "--dry-run"], capsys)
    assert (code, out) == (2, "")
    assert_user_error(
        err, "nothing to rotate: the SOPS-named files selected are empty or templates"
    )
    assert hints_of(err) == ["secretsmgr audit lists them (SM002)"]
    # a plaintext Secret named like a SOPS file is a leak to fix first, not something to skip
    empty.write_text("apiVersion: v1\nkind: Secret\nstringData:\n  token: Zq8vT3xW9pLm\n")
    commit_all(demo_repo, "a plaintext one")
    before = snapshot(demo_repo)
    code, out, err = rotate(demo_repo, capsys, "--all")
    assert (code, out) == (1, "")
    assert_user_error(err, "code-server.enc.yaml: not encrypted, no SOPS metadata to rotate")
    assert hints_of(err) == [
        "encrypt it first: secretsmgr encrypt -i gitops/apps/applications/code-server.enc.yaml"
    ]
    assert snapshot(demo_repo) == before


def test_dry_run_prints_the_plan_and_writes_nothing(
    demo_repo: Path, demo_key: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = snapshot(demo_repo)
    code, out, err = rotate(
        demo_repo, capsys, "--layer", "databases", "--reason", "plan", "--dry-run"
    )
    assert (code, err) == (0, "")
    for f in DATABASES:
        assert f in out
    assert AUTHENTIK not in out and CLOUDFLARE not in out
    assert out.splitlines()[-1] == "nothing written (--dry-run)"
    assert snapshot(demo_repo) == before
    assert porcelain(demo_repo) == "" and litter(demo_repo) == []


# --- 7. --regenerate --linked --------------------------------------------------------------


def test_regenerate_linked_rewrites_the_shared_password_everywhere(
    demo_repo: Path, demo_key: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    docs = {f: sops_json(demo_repo / f, DEMO_KEY) for f in DEMO_SOPS_FILES}
    old = docs[PG]["stringData"]["password"]  # type: ignore[index]
    assert docs[AUTHENTIK]["stringData"]["AUTHENTIK_POSTGRESQL__PASSWORD"] == old  # type: ignore[index]

    code, out, err = rotate(
        demo_repo,
        capsys,
        "--layer",
        "databases",
        "--regenerate",
        "stringData.password",
        "--linked",
        "--reason",
        "leak",
        "--commit",
    )
    assert (code, err) == (0, "")
    assert "rotated 3 files" in out

    after = {f: sops_json(demo_repo / f, DEMO_KEY) for f in DEMO_SOPS_FILES}
    new = after[PG]["stringData"]["password"]  # type: ignore[index]
    assert isinstance(new, str) and isinstance(old, str)
    assert new != old and len(new) == len(old)
    assert set(new) <= set(string.ascii_letters + string.digits + "-_")  # old is base64url
    assert after[AUTHENTIK]["stringData"]["AUTHENTIK_POSTGRESQL__PASSWORD"] == new  # type: ignore[index]

    # every other value is unchanged
    docs[PG]["stringData"]["password"] = new  # type: ignore[index]
    docs[AUTHENTIK]["stringData"]["AUTHENTIK_POSTGRESQL__PASSWORD"] = new  # type: ignore[index]
    assert after == docs

    names = git(demo_repo, "show", "--name-only", "--format=", "HEAD").split()
    assert sorted(names) == sorted([*DATABASES, AUTHENTIK, CHANGELOG])
    log = (demo_repo / CHANGELOG).read_text()
    for value in (old, new):
        assert value not in out and value not in err and value not in log
        assert value not in git(demo_repo, "log", "-p", "--format=%B")
    assert verify(log.encode()) is None


def test_regenerate_dry_run_names_paths_not_values(
    demo_repo: Path, demo_key: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = sops_json(demo_repo / PG, DEMO_KEY)["stringData"]["password"]  # type: ignore[index]
    before = snapshot(demo_repo)
    code, out, err = rotate(
        demo_repo,
        capsys,
        "--layer",
        "databases",
        "--regenerate",
        "stringData.password",
        "--linked",
        "--dry-run",
    )
    assert (code, err) == (0, "")
    assert f"regenerate stringData.password in {PG}" in out
    assert f"in {AUTHENTIK} (linked)" in out
    assert isinstance(old, str) and old not in out
    assert snapshot(demo_repo) == before


# --- 8. recipients -------------------------------------------------------------------------


@pytest.mark.parametrize("given", [f"{TEST2_PUBLIC} ", TEST2_PUBLIC.upper()])
def test_a_recipient_with_blanks_or_in_capitals_is_written_as_age_writes_it(
    demo_repo: Path, demo_key: Path, capsys: pytest.CaptureFixture[str], given: str
) -> None:
    # the write-side review of stop 53: a trailing space failed the run with "staged
    # recipients differ from the plan"; AGE1… in capitals was written as given, then reported
    # as a stranger, and the next plan swapped it for its small-letter form
    layer = ["--layer", "databases", "--commit"]
    code, _out, err = rotate(demo_repo, capsys, *layer, "--add-recipient", given)
    assert (code, err) == (0, "")
    for f in DATABASES:
        assert age_recipients(demo_repo / f) == (CLUSTER, ADMIN, TEST2_PUBLIC)
    code, _out, err = rotate(demo_repo, capsys, *layer, "--remove-recipient", given)
    assert (code, err) == (0, "")
    for f in DATABASES:
        assert age_recipients(demo_repo / f) == (CLUSTER, ADMIN)


def test_add_then_remove_recipient_locks_it_out(
    demo_repo: Path, demo_key: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = demo_repo / PG
    plain = sops_decrypt(target, key_file=DEMO_KEY)
    assert run_sops(["decrypt", str(target)], key_file=TEST2_KEY).returncode == 128

    code, _out, err = rotate(
        demo_repo, capsys, "--layer", "databases", "--add-recipient", TEST2_PUBLIC, "--commit"
    )
    assert (code, err) == (0, "")
    for f in DATABASES:
        assert age_recipients(demo_repo / f) == (CLUSTER, ADMIN, TEST2_PUBLIC)
        assert sops_decrypt(demo_repo / f, key_file=TEST2_KEY) == sops_decrypt(
            demo_repo / f, key_file=DEMO_KEY
        )
    assert sops_decrypt(target, key_file=TEST2_KEY) == plain
    leaked_key = data_key(target, identity_from(TEST2_KEY))  # what test-only-2 could keep

    code, out, err = rotate(
        demo_repo, capsys, "--layer", "databases", "--remove-recipient", TEST2_PUBLIC, "--commit"
    )
    assert (code, err) == (0, "")
    # sweep 83 (giantswarm/gitops-template): a key taken off files is named, never dropped
    # silently
    from secretsmgr.keys.bech32 import short_key

    [removed_line] = [line for line in out.splitlines() if line.startswith("removed recipient")]
    assert removed_line.startswith(
        f"removed recipient {short_key(TEST2_PUBLIC)} ({len(DATABASES)} files: "
    ), removed_line
    for f in DATABASES:
        assert age_recipients(demo_repo / f) == (CLUSTER, ADMIN)
        done = run_sops(["decrypt", str(demo_repo / f)], key_file=TEST2_KEY)
        assert done.returncode == 128, done.stderr
    assert sops_decrypt(target, key_file=DEMO_KEY) == plain
    # a fresh data key: the one test-only-2 saw no longer opens the file
    assert data_key(target, identity_from(DEMO_KEY)) != leaked_key
    entries = parse_entries((demo_repo / CHANGELOG).read_bytes())
    added, removed = entries[-2].files[0], entries[-1].files[0]
    assert added.recipients_after == removed.recipients_before == (CLUSTER, ADMIN, TEST2_PUBLIC)
    assert removed.recipients_after == (CLUSTER, ADMIN)
    assert not journal_path(demo_repo).exists()


def test_changelog_holds_no_value(
    demo_repo: Path, demo_key: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    public = b"".join(snapshot(demo_repo).values())  # e.g. username "authentik" is a path too
    values = {
        v
        for f in DEMO_SOPS_FILES
        for v in secret_values(sops_json(demo_repo / f, DEMO_KEY))
        if v.encode() not in public
    }
    assert len(values) >= 6
    assert rotate(demo_repo, capsys, "--all", "--reason", "audit")[0] == 0
    text = (demo_repo / CHANGELOG).read_text()
    assert json.loads(text.splitlines()[-1])["reason"] == "audit"
    for value in values:
        assert value not in text
    assert "AGE-SECRET-KEY" not in text


def test_a_file_with_pgp_or_kms_keys_is_refused_never_stripped(
    demo_repo: Path, demo_key: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A new data key cannot be wrapped for a PGP or KMS entry: rotating would silently drop
    that recipient (or leave it on the old key), so the whole run is refused."""
    from dataclasses import replace

    from secretsmgr.sops import FileFormat, dump, load
    from secretsmgr.sops.model import KeyGroup
    from tests.sops.key_types import foreign

    path = demo_repo / REDIS
    sf = load(path.read_text(encoding="utf-8"), FileFormat.YAML)
    age = sf.metadata.key_groups[0].age
    groups = (KeyGroup(age=age, foreign=foreign(("pgp",))),)
    path.write_text(dump(replace(sf, metadata=replace(sf.metadata, key_groups=groups))))
    commit_all(demo_repo, "a break-glass PGP key beside the age keys")
    before = snapshot(demo_repo)
    code, out, err = rotate(demo_repo, capsys, "--all")
    assert code == 1 and out == ""
    assert_user_error(err, REDIS, "pgp keys, which secretsmgr cannot wrap")
    assert f"sops rotate -i {REDIS}" in err
    assert snapshot(demo_repo) == before


def test_a_folder_it_cannot_write_in_is_a_clear_error_and_changes_nothing(
    demo_repo: Path, demo_key: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The temp file beside a target cannot be made (an immutable or read-only folder)."""
    import os
    import subprocess

    folder = (demo_repo / PG).parent
    if os.geteuid() == 0:  # root writes through permissions: make the folder immutable
        made = subprocess.run(["chattr", "+i", str(folder)], capture_output=True, check=False)
        if made.returncode != 0:
            pytest.skip(f"chattr +i is not supported here: {made.stderr.strip()!r}")
        undo = ["chattr", "-i", str(folder)]
    else:
        folder.chmod(0o555)
        undo = ["chmod", "755", str(folder)]
    before = snapshot(demo_repo)
    try:
        result = rotate(demo_repo, capsys, "--layer", "databases", "--reason", "r")
    finally:
        subprocess.run(undo, check=True)
    assert result.code == 2, result
    assert_user_error(result.err)
    assert f"{PG}: cannot write beside it" in result.err and "nothing was changed" in result.err
    assert snapshot(demo_repo) == before
    assert porcelain(demo_repo) == ""


def test_rotate_all_includes_ini_files_and_sops_reads_them_after(
    demo_repo: Path, demo_key: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rel = "gitops/apps/redis/app.sops.ini"
    path = demo_repo / rel
    path.write_text("; cache settings\n[redis]\npassword = r3dis-Pass\nport_unencrypted = 6379\n")
    # from outside the repository: its .sops.yaml has no rule for *.ini
    done = run_sops(["encrypt", "--age", f"{CLUSTER},{ADMIN}", "-i", str(path)], cwd=Path("/"))
    assert done.returncode == 0, done.stderr
    commit_all(demo_repo, "add an INI secret")
    ident = identity_from(DEMO_KEY)
    plain_before = sops_decrypt(path, key_file=DEMO_KEY)
    key_before = data_key(path, ident)
    assert rotate(demo_repo, capsys, "--all", "--reason", "ini", "--commit")[0] == 0
    assert data_key(path, ident) != key_before
    assert sops_decrypt(path, key_file=DEMO_KEY) == plain_before
    assert "port_unencrypted = 6379" in path.read_text()
    entries = parse_entries((demo_repo / CHANGELOG).read_bytes())
    assert rel in {f.path for f in entries[-1].files}


def test_a_file_holding_nan_or_values_of_equal_number_rotates(
    demo_repo: Path, demo_key: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the interop review of stop 55: rotate refused a file holding `.nan` ("staged file does
    # not decrypt to the plaintext": NaN is never equal to itself), which sops rotates
    rel = "gitops/apps/redis/tuning.sops.yaml"
    path = demo_repo / rel
    path.write_text("ratio: .nan\nlimit: -.inf\nn: 1\nf: 1.5\nb: true\npw: s3cret-Zq8v\n")
    done = run_sops(["encrypt", "--age", CLUSTER, "-i", str(path)], cwd=Path("/"))
    assert done.returncode == 0, done.stderr
    commit_all(demo_repo, "add a file with a NaN")
    plain_before = sops_decrypt(path, key_file=DEMO_KEY)
    code, _, err = rotate(demo_repo, capsys, str(path), "--reason", "nan")
    assert code == 0, err
    assert sops_decrypt(path, key_file=DEMO_KEY) == plain_before


def test_a_wrong_key_gets_the_hints_decrypt_gives(
    demo_repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An operator's acceptance run: rotate with a key that opens no file said only "no
    identity opens this file", where decrypt names the keys tried and where to get one."""
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(TEST2_KEY))
    before = snapshot(demo_repo)
    failed = run(["--repo", str(demo_repo), "rotate", "--all"], capsys)
    assert failed.code == 1
    assert_user_error(failed.err, "could not recover the data key: no identity opens this file")
    hints = hints_of(failed.err)
    assert any(f"identities tried ({TEST2_PUBLIC[:8]}" in h for h in hints), hints
    assert any("secretsmgr key import FILE" in h for h in hints), hints
    assert snapshot(demo_repo) == before


def test_a_file_with_several_key_groups_is_refused_never_flattened(
    demo_repo: Path, demo_key: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A Shamir file needs a key of each group; a rotation writes one group, after which any
    one of its keys would open it (found beside the key rotate --cluster review). Refused."""
    from secretsmgr.keys.age import AgeRecipient
    from secretsmgr.sops import FileFormat, dump, encrypt, load, parse_plain

    path = demo_repo / REDIS
    plain = sops_decrypt(path, key_file=DEMO_KEY)
    sf = load(path.read_text(encoding="utf-8"), FileFormat.YAML)
    groups = [[AgeRecipient(CLUSTER)], [AgeRecipient(ADMIN)]]
    docs = parse_plain(plain, FileFormat.YAML)
    path.write_text(dump(encrypt(docs, fmt=FileFormat.YAML, groups=groups, rule=sf.metadata.rule)))
    assert len(load(path.read_text(), FileFormat.YAML).metadata.key_groups) == 2
    commit_all(demo_repo, "a 2-of-2 file")
    before = snapshot(demo_repo)
    code, out, err = rotate(demo_repo, capsys, "--all")
    assert code == 1 and out == ""
    assert_user_error(err, f"{REDIS}: 2 key groups (shamir_threshold)")
    assert f"sops rotate -i {REDIS}" in err
    assert snapshot(demo_repo) == before


def test_a_layer_is_named_as_audit_shows_it_in_a_repository_of_several_clusters(
    tmp_path: Path, demo_key: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # sweep 19 (coldb/homelab): audit names the layer production/apps; rotate --layer
    # production/apps chose no file ("nothing to rotate")
    from tests.audit.helpers import enc, secret
    from tests.init.helpers import commit, kustomization, two_cluster_repo, write

    repo = two_cluster_repo(tmp_path / "repo")
    for cluster in ("staging", "production"):
        write(repo, f"apps/{cluster}/db.enc.yaml", enc(secret("db"), (CLUSTER,)))
        kustomization(repo, f"apps/{cluster}", "../base", "settings.yaml", "db.enc.yaml")
    write(repo, ".secretsmgr.yaml", f"cluster_key: {CLUSTER}\n")
    commit(repo, "a secret in each cluster")
    code, out, err = rotate(repo, capsys, "--layer", "staging/apps", "--dry-run")
    assert (code, err) == (0, ""), err
    assert "apps/staging/db.enc.yaml" in out and "apps/production/db.enc.yaml" not in out
    # sweep 31 (vikbaranov/flux-gitops): a bare name both clusters use took both, and failed
    # on the other cluster's key naming neither: it is refused, each named in the hint
    before = snapshot(repo)
    code, out, err = rotate(repo, capsys, "--layer", "apps")
    assert (code, out) == (2, "")
    assert_user_error(err, "layer 'apps' is in 2 clusters: production/apps, staging/apps")
    assert hints_of(err)[0] == "name one as CLUSTER/LAYER: --layer production/apps"
    assert snapshot(repo) == before
    code, out, err = rotate(
        repo, capsys, "--layer", "staging/apps", "--layer", "production/apps", "--dry-run"
    )
    assert (code, err) == (0, ""), err
    assert "apps/staging/db.enc.yaml" in out and "apps/production/db.enc.yaml" in out


def test_a_layer_that_applies_no_sops_file_is_named_as_such(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # sweep 20: `rotate --layer forgejo` said "nothing to rotate" and hinted "name --layer L",
    # which the operator had done
    from tests.init.helpers import one_cluster_repo

    repo = one_cluster_repo(tmp_path / "repo")  # layer apps: a ConfigMap, no SOPS file
    code, out, err = run(["--repo", str(repo), "rotate", "--layer", "apps"], capsys)
    assert (code, out) == (2, "")
    assert_user_error(err, "nothing to rotate: layer apps applies no SOPS file")
    assert hints_of(err) == ["secretsmgr layers shows which layer applies which SOPS file"]


def test_rotate_with_no_key_names_the_key_the_files_open_with(
    demo_repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # sweep 63: rotate said only "no age identity found", where set and key rotate name the key
    from secretsmgr.keys.bech32 import short_key

    monkeypatch.delenv("SOPS_AGE_KEY_FILE", raising=False)
    monkeypatch.delenv("SOPS_AGE_KEY", raising=False)
    code, out, err = rotate(demo_repo, capsys, "--layer", "databases")
    assert (code, out) == (2, "")
    assert_user_error(err, "no age identity found")
    assert hints_of(err)[0].startswith(
        f"the files open with the private key of {short_key(CLUSTER)}"
    ), err


def test_rotate_all_refused_on_a_file_no_identity_opens_names_the_others(
    demo_repo: Path, demo_key: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # sweep 72 (auricom/home-ops, ahgraber): --all refused on one file only the owner's key
    # opens and said nothing of the others, as it does after a PGP file
    from tests.audit.helpers import K2, enc, secret, write

    repo = demo_repo
    write(repo, "gitops/apps/authentik/stranger.enc.yaml", enc(secret("s"), (K2,)))
    commit_all(repo, "a file on a stranger's key")
    result = rotate(repo, capsys, "--all", "--reason", "x", "--dry-run")
    assert result.code == 1
    (hint,) = [h for h in hints_of(result.err) if "to rotate the rest now, name them" in h]
    assert "the 1 file no identity at hand opens, gitops/apps/authentik/stranger.enc.yaml," in hint
    command = hint.split("): ", 1)[1]
    assert command.startswith("secretsmgr rotate ") and "stranger" not in command, hint
    # the run's own reason, not a stand-in pasted into the changelog as it is (sweep 75), and
    # a dry run's hint is a dry run too (sweep 80, Liana64: pasted, it rotated)
    assert command.endswith(" --reason x --dry-run"), hint
    # sweep 88 (alex-matthews/home-ops): the hint of `--all --commit` dropped --commit, and
    # pasted, it committed nothing
    result = rotate(repo, capsys, "--all", "--reason", "x", "--commit")
    assert result.code == 1
    (hint,) = [h for h in hints_of(result.err) if "to rotate the rest now, name them" in h]
    assert hint.endswith(" --reason x --commit"), hint


def test_a_truncated_sops_file_is_said_malformed_not_unencrypted(
    demo_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the attack review: rotate called a truncated SOPS file "not encrypted" and said to encrypt
    # it, which encrypt refused the same way
    from tests.rotate.helpers import PG

    target = demo_repo / PG
    whole = target.read_bytes()
    for cut, said in (
        (whole[:300], "holds ENC[…] values but no sops: metadata (cut short"),  # still YAML
        (whole[:300] + b"\n  [unclosed: {\n", "malformed YAML"),
    ):
        target.write_bytes(cut)
        commit_all(demo_repo, "truncated by a bad merge")
        code, out, err = rotate(demo_repo, capsys, str(target), "--reason", "x")
        assert code == 1 and out == ""
        assert_user_error(err, f"{PG}: {said}")
        assert "encrypt" not in err and f"git checkout HEAD -- {PG}" in err, err


def test_rotate_all_refused_on_a_file_no_identity_opens_names_a_command_past_five_others(
    demo_repo: Path,
    demo_key: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # sweep 77 (mrwulf/home-cluster, jgilfoil/k8s-gitops): past five files the hint said "name
    # them" and named none; it names --all with the closed file left out, and that works
    from tests.audit.helpers import K2, enc, secret, write

    repo = demo_repo
    write(repo, "gitops/apps/authentik/stranger.enc.yaml", enc(secret("s"), (K2,)))
    for n in range(5):
        write(repo, f"gitops/apps/authentik/more-{n}.enc.yaml", enc(secret(f"m{n}"), (CLUSTER,)))
    commit_all(repo, "a file on a stranger's key, and more of ours")
    result = rotate(repo, capsys, "--all", "--reason", "x")
    assert result.code == 1
    (hint,) = [h for h in hints_of(result.err) if "to rotate the rest now, name them" in h]
    stranger = "gitops/apps/authentik/stranger.enc.yaml"
    command = f"secretsmgr rotate --all --exclude {stranger} --reason x"
    assert hint == f"to rotate the rest now, name them, leaving those out: {command}"
    before = (repo / stranger).read_bytes()
    monkeypatch.chdir(repo)  # pasted where the hint's paths are: the repository's root
    pasted = rotate(repo, capsys, *command.split()[2:])
    assert pasted.code == 0 and pasted.out.startswith("rotated "), pasted
    assert (repo / stranger).read_bytes() == before
    assert "gitops/apps/authentik/more-3.enc.yaml" in git(repo, "status", "--short")
    # --exclude leaves out of a selection only
    for args, said in (
        (("--exclude", stranger), "--exclude leaves files out of --all or --layer"),
        (("--all", "--exclude", "nope.enc.yaml"), "--exclude nope.enc.yaml: not a SOPS file of"),
        # named and excluded: refused, never rotated (the review)
        (("--all", "--exclude", stranger, stranger), f"{stranger}: both named and excluded"),
    ):
        result = rotate(repo, capsys, *args)
        assert result.code == 2
        assert_user_error(result.err, said)


def test_commit_is_refused_while_a_merge_waits_on_a_conflict(
    demo_repo: Path, demo_key: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the attack review of stop 52: rotate --commit committed into a rebase stopped on a
    # conflict (git commit -- PATHS allows it); it is refused before anything is written
    (demo_repo / "notes.txt").write_text("base\n")
    git(demo_repo, "add", "notes.txt")
    git(demo_repo, "commit", "-q", "--no-gpg-sign", "-m", "notes")
    git(demo_repo, "checkout", "-q", "-b", "other")
    (demo_repo / "notes.txt").write_text("theirs\n")
    git(demo_repo, "commit", "-q", "--no-gpg-sign", "-am", "theirs")
    git(demo_repo, "checkout", "-q", "-")
    (demo_repo / "notes.txt").write_text("ours\n")
    git(demo_repo, "commit", "-q", "--no-gpg-sign", "-am", "ours")
    merged = subprocess.run(
        ["git", "merge", "-q", "--no-gpg-sign", "other"], cwd=demo_repo, capture_output=True
    )
    assert merged.returncode != 0  # stopped on the conflict
    before = snapshot(demo_repo)
    code, out, err = run(
        ["--repo", str(demo_repo), "rotate", "--all", "--commit", "--reason", "r"], capsys
    )
    assert (code, out) == (1, "")
    assert "a merge is in progress here: --commit would commit into it" in err
    assert "git merge --continue or --abort" in err
    assert snapshot(demo_repo) == before
