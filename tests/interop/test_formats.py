"""Interop corners found while testing: many recipients in every store, and pinned divergences
between what sops 3.11 prints and what we print.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import TEST_KEY, run_sops

from secretsmgr import sops
from secretsmgr.errors import IntegrityError
from secretsmgr.keys.age import AgeRecipient, generate_identity, parse_identities
from secretsmgr.sops.document import same_data
from secretsmgr.sops.model import EncryptionRule
from secretsmgr.sops.tree import MapNode, SeqNode
from secretsmgr.sops.values import Comment

pytestmark = pytest.mark.interop

PUB = "age17m4zztwdtjwv5yastfc6v72cjnsrn7yuxlpmgwgr5c8s52lst4jq9x0tvy"
IDS = [parse_identities(TEST_KEY.read_text(encoding="utf-8"), "test-only-1")]
YAML = sops.FileFormat.YAML

PLAIN = {
    "yaml": "a: 1\nb:\n    - x\n",
    "json": '{"a": 1, "b": ["x"]}',
    "env": "A=1\nB=x\n",
}


@pytest.mark.parametrize("ext", sorted(PLAIN))
def test_twelve_recipients_written_by_sops_round_trip(ext: str, tmp_path: Path) -> None:
    """sops sorts the flattened dotenv names as strings (list_10 before list_2); so do we."""
    others = [generate_identity() for _ in range(11)]
    secrets = "".join(s + "\n" for s, _ in others)
    recipients = ",".join([p for _, p in others[:10]] + [PUB, others[10][1]])
    (tmp_path / f"x.{ext}").write_text(PLAIN[ext], encoding="utf-8")
    r = run_sops(["encrypt", "--age", recipients, f"x.{ext}"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    fmt = sops.format_for_path(f"x.{ext}")
    sf = sops.load(r.stdout, fmt)
    assert len(sf.metadata.age_recipients) == 12
    assert sf.metadata.age_recipients[10] == PUB
    assert sops.dump(sf) == r.stdout
    d = sops.decrypt(sf, IDS)
    assert sops.dump_plain(d.docs, fmt) == sops.dump_plain(sops.parse_plain(PLAIN[ext], fmt), fmt)
    last = parse_identities(secrets.splitlines()[-1], "twelfth")
    assert sops.decrypt(sf, [last]).docs == d.docs


def test_unencrypted_negative_zero_breaks_the_mac_in_sops_too(tmp_path: Path) -> None:
    """sops feeds -0.0 to the MAC as "-0", writes it as ``-0`` and reads that back as the int 0:
    sops cannot open its own file. We behave the same (documented, not fixed)."""
    (tmp_path / "x.yaml").write_text("a_unencrypted: -0.0\nb: 1\n", encoding="utf-8")
    r = run_sops(["encrypt", "--age", PUB, "x.yaml"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "a_unencrypted: -0\n" in r.stdout
    (tmp_path / "x.enc.yaml").write_text(r.stdout, encoding="utf-8")
    assert run_sops(["decrypt", "x.enc.yaml"], cwd=tmp_path, key_file=TEST_KEY).returncode == 51
    with pytest.raises(IntegrityError):
        sops.decrypt(sops.load(r.stdout, YAML), IDS)
    ours = sops.encrypt(
        [MapNode([("a_unencrypted", -0.0)])],
        fmt=YAML,
        groups=[[AgeRecipient(PUB)]],
        rule=EncryptionRule(),
    )
    with pytest.raises(IntegrityError):
        sops.decrypt(sops.load(sops.dump(ours), YAML), IDS)


def test_an_unencrypted_tab_and_line_break_breaks_the_mac_in_sops_too(tmp_path: Path) -> None:
    """sops feeds "\t\n" to the MAC but writes it as ``null``: it cannot open its own file,
    and neither can we (found by the random interop run at stop 32; documented, not fixed).
    Our own file keeps the value and opens in both."""
    (tmp_path / "x.yaml").write_text('a_unencrypted: "\\t\\n"\nb: 1\n', encoding="utf-8")
    r = run_sops(["encrypt", "--age", PUB, "x.yaml"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "a_unencrypted: null\n" in r.stdout
    (tmp_path / "x.enc.yaml").write_text(r.stdout, encoding="utf-8")
    assert run_sops(["decrypt", "x.enc.yaml"], cwd=tmp_path, key_file=TEST_KEY).returncode == 51
    with pytest.raises(IntegrityError):
        sops.decrypt(sops.load(r.stdout, YAML), IDS)
    ours = sops.encrypt(
        [MapNode([("a_unencrypted", "\t\n"), ("b", 1)])],
        fmt=YAML,
        groups=[[AgeRecipient(PUB)]],
        rule=EncryptionRule(),
    )
    (tmp_path / "ours.enc.yaml").write_text(sops.dump(ours), encoding="utf-8")
    done = run_sops(["decrypt", "ours.enc.yaml"], cwd=tmp_path, key_file=TEST_KEY)
    assert done.returncode == 0, done.stderr
    assert (
        sops.decrypt(sops.load(sops.dump(ours), YAML), IDS).docs[0].get("a_unencrypted") == "\t\n"
    )


def _sops_prints(docs: list[MapNode], tmp_path: Path) -> tuple[str, str]:
    sf = sops.encrypt(docs, fmt=YAML, groups=[[AgeRecipient(PUB)]], rule=EncryptionRule())
    path = tmp_path / "x.enc.yaml"
    path.write_text(sops.dump(sf), encoding="utf-8")
    r = run_sops(["decrypt", str(path)], key_file=TEST_KEY)
    assert r.returncode == 0
    return r.stdout, r.stderr


@pytest.mark.xfail(
    strict=True,
    reason="DIVERGENCE (sops quirk): an empty comment '#' inside a sequence at an encrypted path "
    "is printed by sops 3.11 as an empty-string item '- \"\"' (sops encrypt writes it that way "
    "too); we keep it a comment",
)
def test_empty_comment_in_an_encrypted_sequence(tmp_path: Path) -> None:
    docs = [MapNode([("l", SeqNode([Comment(""), "a"]))])]
    printed, _ = _sops_prints(docs, tmp_path)
    assert printed == sops.dump_plain(docs, YAML)


def test_empty_comment_in_an_encrypted_sequence_is_an_item_for_sops(tmp_path: Path) -> None:
    docs = [MapNode([("l", SeqNode([Comment(""), "a"]))])]
    printed, _ = _sops_prints(docs, tmp_path)
    assert printed == 'l:\n    - ""\n    - a\n'


def test_foot_comment_after_a_nested_block_survives_sops(tmp_path: Path) -> None:
    docs = sops.parse_plain("a:\n  b:\n    c: 1\n  # foot\nd: 1\n", YAML)
    printed, stderr = _sops_prints(docs, tmp_path)
    assert stderr == ""
    assert printed == sops.dump_plain(docs, YAML)


def test_hash_inside_a_comment_survives_our_encrypt(tmp_path: Path) -> None:
    text = "# see #42\na: 1\n"
    printed, _ = _sops_prints(sops.parse_plain(text, YAML), tmp_path)
    assert printed == text


def test_sops_places_that_foot_comment_in_the_inner_block(tmp_path: Path) -> None:
    (tmp_path / "x.yaml").write_text("a:\n  b:\n    c: 1\n  # foot\nd: 1\n", encoding="utf-8")
    r = run_sops(["encrypt", "--age", PUB, "x.yaml"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    d = sops.decrypt(sops.load(r.stdout, YAML), IDS)
    assert d.docs == [
        MapNode([("a", MapNode([("b", MapNode([("c", 1), Comment(" foot")]))])), ("d", 1)])
    ]


@pytest.mark.xfail(
    strict=True,
    reason="BUG: a tree whose mapping ends with a comment right after a nested block (e.g. left "
    "by deleting the key that followed it) is written with the comment below the block, where "
    "go-yaml (and now our reader) attach it to the innermost block: it was encrypted with AAD "
    "'a:' but is read at 'a:b:', so sops warns and prints the #ENC[...] line, and so do we",
)
def test_our_outer_foot_comment_after_a_nested_block_survives(tmp_path: Path) -> None:
    docs = [MapNode([("a", MapNode([("b", MapNode([("c", 1)])), Comment(" foot")])), ("d", 1)])]
    printed, stderr = _sops_prints(docs, tmp_path)
    assert stderr == ""
    assert "#ENC[" not in printed


FLOW_URL = (
    "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\n"
    "stringData: {DATABASE_URL: postgres://app:pw@db.internal:5432/app, nodes: [server:*]}\n"
)


def test_a_colon_in_a_flow_plain_value_reads_as_sops_reads_it(tmp_path: Path) -> None:
    # libyaml (YAML 1.1) refuses it; go-yaml, so sops and Flux, reads it: a plaintext Secret in
    # this style was skipped by SM001 without a word, and encrypt refused the file
    plain = tmp_path / "s.yaml"
    plain.write_text(FLOW_URL)
    done = run_sops(["encrypt", "--age", PUB, str(plain)], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    ours = sops.parse_plain(FLOW_URL, YAML)
    encrypted = tmp_path / "s.enc.yaml"
    encrypted.write_text(done.stdout)
    theirs = sops.decrypt(sops.load(done.stdout, YAML), IDS)
    assert same_data(theirs.docs, ours)
    secret = ours[0].get("stringData")
    assert isinstance(secret, MapNode)
    assert secret.get("DATABASE_URL") == "postgres://app:pw@db.internal:5432/app"
    assert secret.get("nodes") == SeqNode(["server:*"])
    mine = tmp_path / "m.enc.yaml"
    sealed = sops.encrypt(ours, fmt=YAML, groups=[[AgeRecipient(PUB)]], rule=EncryptionRule())
    mine.write_text(sops.dump(sealed))
    back = run_sops(["decrypt", str(mine)], cwd=tmp_path, key_file=TEST_KEY)
    assert back.returncode == 0, back.stderr
    assert same_data(sops.parse_plain(back.stdout, YAML), ours)
