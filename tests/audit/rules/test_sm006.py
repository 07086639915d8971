"""SM006 malformed-sops: malformed metadata, ``ENC[…]`` value or age entry."""

from __future__ import annotations

import base64
import re
from dataclasses import replace
from pathlib import Path

import pytest

from secretsmgr.audit.finding import AuditReport
from secretsmgr.sops import FileFormat, dump, load
from secretsmgr.sops.model import KeyGroup
from tests.conftest import git
from tests.sops.key_types import KINDS, foreign

from ..helpers import audit, enc, secret, standard_repo
from .cases import ENC_FIELD, Case, ids, run_case


def _huge_age_entry(text: str) -> str:
    """``text`` with its age entry's enc replaced by an armored age file of 2,000 stanzas."""
    header = b"age-encryption.org/v1\n" + b"".join(b"-> g%d\nAAAA\n" % i for i in range(2000))
    binary = header + b"--- " + b"A" * 43 + b"\n" + bytes(64)
    b64 = base64.b64encode(binary).decode()
    armor = "\n".join(
        ["-----BEGIN AGE ENCRYPTED FILE-----"]
        + [b64[i : i + 64] for i in range(0, len(b64), 64)]
        + ["-----END AGE ENCRYPTED FILE-----"]
    )
    sf = load(text, FileFormat.YAML)
    group = sf.metadata.key_groups[0]
    stanza = replace(group.age[0], enc=armor + "\n")
    sf.metadata = replace(sf.metadata, key_groups=(replace(group, age=(stanza,)),))
    return dump(sf)


def _with_foreign_keys(text: str, *, keep_age: bool) -> str:
    """``text`` with PGP, AWS/GCP/HuaweiCloud KMS, Azure Key Vault and Vault entries (and its
    age entry only if ``keep_age``), in the shapes sops 3.11 writes."""
    sf = load(text, FileFormat.YAML)
    meta = sf.metadata
    group = KeyGroup(age=meta.key_groups[0].age if keep_age else (), foreign=foreign(KINDS))
    sf.metadata = replace(meta, key_groups=(group,))
    return dump(sf)


def hit(root: Path) -> None:
    broken = ENC_FIELD.sub(
        lambda m: f"{m[1]}: " + re.sub(r",tag:[^,]*", "", m[2]), enc(secret("db")), count=1
    )
    bad_version = enc(secret("v")).replace("version: 3.11.0", "version: '3.11'")
    standard_repo(
        root,
        {
            "apps/db.enc.yaml": broken,
            "apps/version.enc.yaml": bad_version,
            "apps/huge.enc.yaml": _huge_age_entry(enc(secret("huge"))),
            "apps/junk.enc.yaml": "key: [unclosed\n",
            # sweep 93, hmcts/sds-flux-config: a file not named as SOPS, `version:` mistyped;
            # no report of any kind named it
            "apps/values.yaml": enc(secret("p")).replace("version: 3.11.0", "ersion: 3.11.0"),
        },
    )


def hit_check(report: AuditReport) -> None:
    found = {(f.path, f.key_path): f for f in report.findings if f.rule == "SM006"}
    assert ("apps/db.enc.yaml", "stringData.password") in found
    assert ("apps/version.enc.yaml", None) in found
    assert ("apps/junk.enc.yaml", None) in found
    assert found["apps/values.yaml", None].message == (
        "malformed SOPS metadata: sops metadata has no version (`ersion:` beside it: "
        "a misspelling?)"
    )
    huge = found["apps/huge.enc.yaml", "sops.age"]
    assert huge.message == "age entry 1 cannot be used: age file is larger than 8 KiB"


def miss(root: Path) -> None:
    # metadata.annotations is left in clear by the Flux rule: an ENC-looking plain string there
    # is just a string to sops.
    plain = (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  annotations:\n"
        "    example: ENC[this is not sops]\nstringData:\n  password: pw\n"
    )
    standard_repo(
        root,
        {
            "apps/db.enc.yaml": enc(plain),
            "apps/values.yaml": "sops:\n  enabled: true\n",  # a Helm values key, not metadata
            # a chart's settings for a sops sidecar: a MAC setting, but no key list
            "apps/chart.yaml": "sops:\n  mac: sha256\n  lastmodified: never\n",
        },
    )


CASES = [
    Case(
        "SM006-hit",
        hit,
        {
            ("SM006", "apps/db.enc.yaml"),
            ("SM006", "apps/version.enc.yaml"),
            ("SM006", "apps/huge.enc.yaml"),
            ("SM006", "apps/junk.enc.yaml"),
            ("SM006", "apps/values.yaml"),
        },
        verify=hit_check,
    ),
    Case("SM006-miss", miss, set()),
]


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_case(case: Case, tmp_path: Path) -> None:
    run_case(case, tmp_path)


def test_every_sops_key_type_is_valid_metadata(tmp_path: Path) -> None:
    """Every non-age key type, with or without age: never SM006."""
    standard_repo(
        tmp_path,
        {
            "apps/mixed.enc.yaml": _with_foreign_keys(enc(secret("m")), keep_age=True),
            "apps/foreign.enc.yaml": _with_foreign_keys(enc(secret("f")), keep_age=False),
        },
    )
    report = audit(tmp_path)
    assert not [f for f in report.findings if f.rule == "SM006"], report.findings


def test_the_fix_restores_from_git_only_what_git_holds(tmp_path: Path) -> None:
    """A committed file broken since: git checkout. A file never committed: write it anew."""
    from tests.rotate.helpers import commit_all

    good = enc(secret("c"))
    standard_repo(tmp_path, {"apps/committed.enc.yaml": good})
    git(tmp_path, "init", "-q", "-b", "main")
    commit_all(tmp_path, "initial")
    broken = good.replace("ENC[AES256_GCM,data:", "ENC[AES256_GCM,dat:", 1)
    (tmp_path / "apps" / "committed.enc.yaml").write_text(broken)
    (tmp_path / "apps" / "new.enc.yaml").write_text(broken)
    fixes = {f.path: f.fix for f in audit(tmp_path).findings if f.rule == "SM006"}
    assert fixes == {
        "apps/committed.enc.yaml": "git checkout HEAD -- apps/committed.enc.yaml",
        "apps/new.enc.yaml": "git has no copy: remove it and write it anew with "
        "secretsmgr edit apps/new.enc.yaml",
    }


def test_the_fix_when_git_holds_the_same_broken_bytes(tmp_path: Path) -> None:
    """sweep 93, hmcts/sds-flux-config: the file was committed broken, and the fix restored
    the same bytes from HEAD."""
    from tests.rotate.helpers import commit_all

    good = enc(secret("c"))
    standard_repo(
        tmp_path,
        {
            "apps/typo.enc.yaml": good.replace("version: 3.11.0", "ersion: 3.11.0"),
            "apps/cut.enc.yaml": good.replace("ENC[AES256_GCM,data:", "ENC[AES256_GCM,dat:", 1),
        },
    )
    git(tmp_path, "init", "-q", "-b", "main")
    commit_all(tmp_path, "initial")
    fixes = {f.path: f.fix for f in audit(tmp_path).findings if f.rule == "SM006"}
    assert fixes == {
        "apps/typo.enc.yaml": "correct the misspelled key of the sops block in "
        "apps/typo.enc.yaml by hand (the MAC covers the values, not the block's keys); git's "
        "copy is the same",
        # the attack review of stop 49: no earlier copy to restore: the fix said to restore one
        "apps/cut.enc.yaml": "git holds it only as it is now: remove it and write it anew with "
        "secretsmgr edit apps/cut.enc.yaml",
    }
    # with a good copy in git before it, the fix restores that one
    (tmp_path / "apps/cut.enc.yaml").write_text(good)
    commit_all(tmp_path, "mended")
    (tmp_path / "apps/cut.enc.yaml").write_text(
        good.replace("ENC[AES256_GCM,data:", "ENC[AES256_GCM,dat:", 1)
    )
    commit_all(tmp_path, "broken again")
    fixes = {f.path: f.fix for f in audit(tmp_path).findings if f.rule == "SM006"}
    restore = (
        "git's last copy is the same: restore an earlier one (git log --oneline --follow "
        "--name-only -- {p} names each commit and the file's name then; git show "
        "COMMIT:THAT_NAME > {p}) and make the change again with secretsmgr edit {p}"
    )
    assert fixes["apps/cut.enc.yaml"] == restore.format(p="apps/cut.enc.yaml")
    # renamed as the fix says, the file reads again (its MAC still verifies)
    typo = tmp_path / "apps/typo.enc.yaml"
    typo.write_text(typo.read_text().replace("ersion: 3.11.0", "version: 3.11.0"))
    fixes = {f.path: f.fix for f in audit(tmp_path).findings if f.rule == "SM006"}
    assert "apps/typo.enc.yaml" not in fixes
    # renamed in the commit that broke it: the good copy is under its former name (the second
    # attack review of stop 49: the fix said git held none)
    (tmp_path / "apps/moved.enc.yaml").write_text(good)
    commit_all(tmp_path, "a good file")
    git(tmp_path, "mv", "apps/moved.enc.yaml", "apps/moved.sops.yaml")
    moved = tmp_path / "apps/moved.sops.yaml"
    # broken otherwise than cut.enc.yaml: git takes an identical file for a copy's source
    moved.write_text(good.replace("ENC[AES256_GCM,data:", "ENC[AES256_GCM,dta:", 1))
    commit_all(tmp_path, "renamed, and broken")
    fixes = {f.path: f.fix for f in audit(tmp_path).findings if f.rule == "SM006"}
    assert fixes["apps/moved.sops.yaml"] == restore.format(p="apps/moved.sops.yaml"), fixes
    # made from a copy of another Secret, broken from its first commit: what git follows past
    # the copy is the other Secret (sweep 103, douz/blogs-infrastructure: "restore an earlier
    # one" put the other credential's ciphertext under this name)
    copy = tmp_path / "apps/copy.enc.yaml"
    copy.write_text(
        good.replace("name: c\n", "name: other\n").replace(
            "ENC[AES256_GCM,data:", "ENC[AES256_GCM,dat:", 1
        )
    )
    commit_all(tmp_path, "a copy of moved, by hand")
    assert "C" in git(tmp_path, "log", "--follow", "--name-status", "--format=", "--", str(copy))
    fixes = {f.path: f.fix for f in audit(tmp_path).findings if f.rule == "SM006"}
    assert fixes["apps/copy.enc.yaml"] == (
        "git holds it only as it is now: remove it and write it anew with secretsmgr edit "
        "apps/copy.enc.yaml"
    ), fixes


def test_a_utf16_sops_file_is_named_so_and_its_fix_re_encodes_it(tmp_path: Path) -> None:
    """DRSchlaubi/kbs610 (sweep 10): a SOPS file PowerShell's `>` wrote as UTF-16LE with a BOM
    and CRLF: 'not valid UTF-8', and the fix restored the same committed bytes."""
    import subprocess

    from secretsmgr.audit.engine import run_audit

    from ..helpers import enc, secret, standard_repo

    text = enc(secret("db"))
    standard_repo(tmp_path, {})
    path = tmp_path / "apps/db.enc.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.replace("\n", "\r\n").encode("utf-16"))  # BOM + UTF-16LE
    found = [f for f in run_audit(tmp_path).findings if f.rule == "SM006"]
    assert len(found) == 1
    assert found[0].message == (
        "UTF-16 text (a byte-order mark), not UTF-8: sops reads it, but SOPS files are read "
        "here as UTF-8 only"
    )
    fix = found[0].fix or ""
    assert "git checkout" not in fix
    command = fix.rpartition(">: ")[2]
    subprocess.run(["sh", "-c", command], cwd=tmp_path, check=True)
    assert path.read_text(encoding="utf-8") == text
    assert [f for f in run_audit(tmp_path).findings if f.rule == "SM006"] == []
    # bytes that are no UTF-8 and carry no BOM are still "not valid UTF-8"
    path.write_bytes(b"\xc3\x28" + text.encode())
    found = [f for f in run_audit(tmp_path).findings if f.rule == "SM006"]
    assert len(found) == 1 and found[0].message.endswith("not valid UTF-8")


def test_an_encrypted_comment_without_its_tag_is_no_broken_value(tmp_path: Path) -> None:
    # sweep 65, ZeiZel/self-hosted: two `#ENC[…,type:comment]` lines without `tag:` were an
    # SM006 error (named at the top key, line 1) while sops decrypts the file with a warning and
    # keeps the comment as it is; a value's ENC[…] without its tag stays one
    import re

    from secretsmgr.audit.engine import run_audit

    from ..helpers import enc, standard_repo, write

    standard_repo(tmp_path, {})
    text = enc(
        "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData:\n  # a note\n  a: hello\n"
    )
    assert "type:comment]" in text
    no_tag = re.sub(r"(#ENC\[[^\]]*?),tag:[^,\]]*(,type:comment\])", r"\1\2", text)
    assert no_tag != text
    write(tmp_path, "apps/s.enc.yaml", no_tag)
    assert not [f for f in run_audit(tmp_path).findings if f.rule == "SM006"]
    broken_value = re.sub(r"(a: ENC\[[^\]]*?),tag:[^,\]]*", r"\1", text)
    assert broken_value != text
    write(tmp_path, "apps/s.enc.yaml", broken_value)
    assert [f.key_path for f in run_audit(tmp_path).findings if f.rule == "SM006"] == [
        "stringData.a"
    ]
