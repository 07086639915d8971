"""Hypothesis properties checked against the real sops binary.

* our encrypt -> ``sops decrypt`` prints exactly our ``dump_plain`` and the same data
  (YAML, JSON, dotenv);
* ``sops encrypt`` -> our decrypt gives the plaintext back, and ``dump(load(x)) == x``;
* tampering: every change the MAC (or GCM) covers raises ``IntegrityError``, every change it
  does not cover still decrypts, exactly as sops does (spec §5).

Known type changes (spec §2.1 "Types are not preserved"): sops prints a YAML float with Go's
``%g`` (go-yaml), so an integral float below 1e6 comes back as an int (``2.0`` -> ``2``); JSON
output uses encoding/json's ``%f`` below 1e21, so there an integral float below 1e21 comes back
as an int. Nothing else may change type.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import TEST_KEY, run_sops
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sops.strategies import dotenv_docs, ini_docs, json_texts, yaml_docs
from sops.treeutil import canon, through_yaml

from secretsmgr import sops
from secretsmgr.errors import IntegrityError
from secretsmgr.keys.age import AgeRecipient, parse_identities
from secretsmgr.sops import cipher
from secretsmgr.sops.encvalue import format_enc, is_enc, parse_enc
from secretsmgr.sops.model import EncryptionRule, RuleKind
from secretsmgr.sops.rules import path_is_encrypted
from secretsmgr.sops.tree import MapNode, Node, SeqNode, aad_for
from secretsmgr.sops.tree import Path as TreePath
from secretsmgr.sops.values import Comment, Timestamp, serialize

pytestmark = pytest.mark.interop

PUB = "age17m4zztwdtjwv5yastfc6v72cjnsrn7yuxlpmgwgr5c8s52lst4jq9x0tvy"
IDS = [parse_identities(TEST_KEY.read_text(encoding="utf-8"), "test-only-1")]
RECIPIENTS = [[AgeRecipient(PUB)]]
DATA_KEY = bytes(range(32))
YAML, JSON, DOTENV = sops.FileFormat.YAML, sops.FileFormat.JSON, sops.FileFormat.DOTENV
INI = sops.FileFormat.INI

# The rules the properties draw from, with the `sops encrypt` flags that select the same rule.
RULES: list[tuple[EncryptionRule, list[str]]] = [
    (EncryptionRule(), []),
    (
        EncryptionRule(RuleKind.ENCRYPTED_REGEX, "^(data|stringData|secret)$"),
        ["--encrypted-regex", "^(data|stringData|secret)$"],
    ),
    (
        EncryptionRule(RuleKind.UNENCRYPTED_REGEX, "^(name|n)$"),
        ["--unencrypted-regex", "^(name|n)$"],
    ),
    (EncryptionRule(RuleKind.ENCRYPTED_SUFFIX, "a"), ["--encrypted-suffix", "a"]),
]
rules = st.sampled_from(RULES)

SLOW_OK = settings(
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


# ----------------------------------------------------------------------------- helpers


def strip_comments(node: Node) -> Node:
    """The tree without comment items (what JSON output can carry)."""
    if isinstance(node, MapNode):
        return MapNode(
            [
                (k, strip_comments(v))
                for k, v in (i for i in node.items if not isinstance(i, Comment))
            ]
        )
    if isinstance(node, SeqNode):
        return SeqNode([strip_comments(e) for e in node.items if not isinstance(e, Comment)])
    return node


def encrypt(docs: list[MapNode], fmt: sops.FileFormat, rule: EncryptionRule, mac_only: bool) -> str:
    sf = sops.encrypt(
        docs, fmt=fmt, groups=RECIPIENTS, rule=rule, mac_only_encrypted=mac_only, data_key=DATA_KEY
    )
    return sops.dump(sf)


def sops_encrypt(work: Path, name: str, plain: str, rule_flags: list[str], mac_only: bool) -> str:
    """``sops encrypt`` a plaintext; ``mac_only_encrypted`` only exists in .sops.yaml."""
    (work / name).write_text(plain, encoding="utf-8")
    if mac_only:
        flag_to_key = {f: f.lstrip("-").replace("-", "_") for f in rule_flags[::2]}
        lines = ["creation_rules:", f"  - age: {PUB}", "    mac_only_encrypted: true"]
        for flag, value in zip(rule_flags[::2], rule_flags[1::2], strict=True):
            lines.append(f"    {flag_to_key[flag]}: {json.dumps(value)}")
        (work / ".sops.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
        args = ["encrypt", name]
    else:
        (work / ".sops.yaml").unlink(missing_ok=True)
        args = ["encrypt", "--age", PUB, *rule_flags, name]
    r = run_sops(args, cwd=work)
    assert r.returncode == 0, r.stderr
    return r.stdout


def sops_decrypt(path: Path, *extra: str) -> str:
    r = run_sops(["decrypt", *extra, str(path)], key_file=TEST_KEY)
    assert (r.returncode, r.stderr) == (0, ""), r.stderr
    return r.stdout


# ----------------------------------------------------------------------------- YAML


@SLOW_OK
@given(docs=yaml_docs(), rule=rules, mac_only=st.booleans())
def test_yaml_we_encrypt_sops_decrypts(
    docs: list[MapNode], rule: tuple[EncryptionRule, list[str]], mac_only: bool
) -> None:
    text = encrypt(docs, YAML, rule[0], mac_only)
    # In process first: exact types, comments and order.
    ours = sops.decrypt(sops.load(text, YAML), IDS)
    assert canon(ours.docs) == through_yaml(docs, rule[0])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.enc.yaml"
        path.write_text(text, encoding="utf-8")
        printed = sops_decrypt(path)
        # Byte-identical to what we print, and the same data once read back.
        assert printed == sops.dump_plain(docs, YAML)
        assert canon(sops.parse_plain(printed, YAML)) == canon(docs, printed="yaml")
        if len(docs) == 1:
            as_json = json.loads(sops_decrypt(path, "--output-type", "json"))
            assert canon(as_json, printed="json") == canon(strip_comments(docs[0]), printed="json")


@SLOW_OK
@given(docs=yaml_docs(), rule=rules, mac_only=st.booleans())
def test_yaml_sops_encrypts_we_decrypt(
    docs: list[MapNode], rule: tuple[EncryptionRule, list[str]], mac_only: bool
) -> None:
    plain = sops.dump_plain(docs, YAML)
    with tempfile.TemporaryDirectory() as tmp:
        enc = sops_encrypt(Path(tmp), "x.yaml", plain, rule[1], mac_only)
    sf = sops.load(enc, YAML)
    assert (sf.metadata.rule, sf.metadata.mac_only_encrypted) == (rule[0], mac_only)
    d = sops.decrypt(sf, IDS)
    assert canon(d.docs) == canon(sops.parse_plain(plain, YAML))
    assert canon(d.docs) == canon(docs, printed="yaml")
    assert sops.dump_plain(d.docs, YAML) == plain
    assert sops.dump(sf) == enc


# ----------------------------------------------------------------------------- JSON and dotenv


@SLOW_OK
@given(text=json_texts(), rule=rules, mac_only=st.booleans())
def test_json_both_directions(
    text: str, rule: tuple[EncryptionRule, list[str]], mac_only: bool
) -> None:
    data = json.loads(text)
    docs = sops.parse_plain(text, JSON)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        path = work / "ours.enc.json"
        path.write_text(encrypt(docs, JSON, rule[0], mac_only), encoding="utf-8")
        printed = sops_decrypt(path)
        assert printed == sops.dump_plain(docs, JSON)
        assert canon(json.loads(printed), printed="json") == canon(data, printed="json")
        enc = sops_encrypt(work, "x.json", text, rule[1], mac_only)
    sf = sops.load(enc, JSON)
    d = sops.decrypt(sf, IDS)
    assert canon(d.docs) == canon(docs)
    assert sops.dump_plain(d.docs, JSON) == printed
    assert sops.dump(sf) == enc


@SLOW_OK
@given(doc=dotenv_docs(), rule=rules, mac_only=st.booleans())
def test_dotenv_both_directions(
    doc: MapNode, rule: tuple[EncryptionRule, list[str]], mac_only: bool
) -> None:
    plain = sops.dump_plain([doc], DOTENV)
    assert canon(sops.parse_plain(plain, DOTENV)) == canon([doc])
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        path = work / "ours.enc.env"
        path.write_text(encrypt([doc], DOTENV, rule[0], mac_only), encoding="utf-8")
        assert sops_decrypt(path) == plain
        enc = sops_encrypt(work, "x.env", plain, rule[1], mac_only)
    sf = sops.load(enc, DOTENV)
    assert sops.decrypt(sf, IDS).docs == [doc]
    assert sops.dump(sf) == enc


@SLOW_OK
@given(doc=ini_docs(), rule=rules, mac_only=st.booleans())
def test_ini_both_directions(
    doc: MapNode, rule: tuple[EncryptionRule, list[str]], mac_only: bool
) -> None:
    plain = sops.dump_plain([doc], INI)
    if plain.strip():
        assert sops.parse_plain(plain, INI) == [doc]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        path = work / "ours.enc.ini"
        path.write_text(encrypt([doc], INI, rule[0], mac_only), encoding="utf-8")
        assert sops_decrypt(path) == plain
        if not plain.strip():
            return  # an empty INI file: sops encrypts it, secretsmgr refuses to
        enc = sops_encrypt(work, "x.ini", plain, rule[1], mac_only)
    sf = sops.load(enc, INI)
    assert sops.decrypt(sf, IDS).docs == [doc]
    # sops writes the [sops] keys in random order; every other byte is the same
    head, _, meta = enc.partition("[sops]\n")
    assert sops.dump(sf) == head + "[sops]\n" + "".join(sorted(meta.splitlines(keepends=True)))


def test_ini_comments_sops_would_write_otherwise_print_as_sops_prints_them() -> None:
    """Comment texts our reader never makes (padded, several lines, an empty first line):
    sops and secretsmgr print them alike (an empty first line makes sops panic; not here)."""
    doc = MapNode(
        [
            ("DEFAULT", MapNode()),
            ("a", MapNode([Comment("  padded section"), ("k", "v"), Comment(" x\n#  y ")])),
            ("b", MapNode([("k", "v"), Comment("one\n;two\nthree  ")])),
        ]
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ours.enc.ini"
        path.write_text(encrypt([doc], INI, EncryptionRule(), False), encoding="utf-8")
        assert sops_decrypt(path) == sops.dump_plain([doc], INI)


# ----------------------------------------------------------------------------- tampering

Ptr = tuple[int, ...]


@dataclass
class Target:
    """One item of a tree: where it is (indices into .items from the document list down)."""

    ptr: Ptr
    path: TreePath
    kind: str  # "pair" (a key with its value), "leaf" (a scalar), "comment"
    container: MapNode | SeqNode


def targets(docs: list[MapNode]) -> Iterator[Target]:
    def visit(node: MapNode | SeqNode, ptr: Ptr, path: TreePath) -> Iterator[Target]:
        for i, item in enumerate(node.items):
            here = (*ptr, i)
            if isinstance(item, Comment):
                yield Target(here, path, "comment", node)
                continue
            child_path = path
            value: Node = item  # type: ignore[assignment]  # a sequence element
            if isinstance(node, MapNode):
                assert isinstance(item, tuple)
                child_path = (*path, item[0])
                value = item[1]
                yield Target(here, child_path, "pair", node)
            if isinstance(value, MapNode | SeqNode):
                yield from visit(value, here, child_path)
            else:
                yield Target(here, child_path, "leaf", node)

    for d, doc in enumerate(docs):
        yield from visit(doc, (d,), ())


def container(docs: list[MapNode], ptr: Ptr) -> MapNode | SeqNode:
    """The mapping or sequence whose items[ptr[-1]] the pointer names."""
    node: Node = docs[ptr[0]]
    for i in ptr[1:-1]:
        assert isinstance(node, MapNode | SeqNode)
        item = node.items[i]
        node = item[1] if isinstance(node, MapNode) else item  # type: ignore[index,assignment]
    assert isinstance(node, MapNode | SeqNode)
    return node


def get_leaf(docs: list[MapNode], ptr: Ptr) -> Any:
    parent = container(docs, ptr)
    item = parent.items[ptr[-1]]
    return item[1] if isinstance(parent, MapNode) else item  # type: ignore[index]


def set_leaf(docs: list[MapNode], ptr: Ptr, value: Any) -> None:
    parent = container(docs, ptr)
    if isinstance(parent, MapNode):
        key = parent.items[ptr[-1]][0]  # type: ignore[index]
        parent.items[ptr[-1]] = (key, value)
    else:
        parent.items[ptr[-1]] = value


def has_enc(node: Node | Comment) -> bool:
    if isinstance(node, MapNode):
        return any(has_enc(i if isinstance(i, Comment) else i[1]) for i in node.items)
    if isinstance(node, SeqNode):
        return any(has_enc(e) for e in node.items)
    if isinstance(node, Comment):
        return is_enc(node.text)
    return isinstance(node, str) and is_enc(node)


def other_value(value: Any) -> Any:
    """A value of the same type whose plaintext bytes differ."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value - 1 if value > 0 else value + 1
    if isinstance(value, float):
        return 0.5 if value != 0.5 else 0.25
    if isinstance(value, Timestamp):
        return Timestamp(("1" if value.text[0] != "1" else "2") + value.text[1:])
    assert isinstance(value, str)
    return value + "x"


def flip(raw: bytes, index: int) -> bytes:
    b = bytearray(raw)
    b[index % len(b)] ^= 0x01
    return bytes(b)


def fed(rule: EncryptionRule, mac_only: bool, path: TreePath, value: Any) -> bytes:
    """The bytes a plaintext leaf contributes to the MAC."""
    if value is None or (mac_only and not path_is_encrypted(rule, path)):
        return b""
    return serialize(value)[0]


@dataclass
class Mutation:
    """A change to an encrypted file; ``covered`` says whether sops must refuse it."""

    name: str
    covered: bool
    sops_exit: int  # 51 MAC mismatch, 25 a value fails to decrypt, 0 accepted
    apply: Callable[[sops.SopsFile, list[MapNode]], None]


def mutations(
    sf: sops.SopsFile, plain: list[MapNode], rule: EncryptionRule, mac_only: bool, salt: int
) -> list[Mutation]:
    """Every applicable mutation of ``sf`` (``plain`` is its plaintext, item for item)."""
    out: list[Mutation] = []

    def later(sf2: sops.SopsFile, _p: list[MapNode]) -> None:
        stamp = datetime.strptime(sf2.metadata.lastmodified, "%Y-%m-%dT%H:%M:%SZ")
        text = (stamp + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        sf2.metadata = dataclasses.replace(sf2.metadata, lastmodified=text)

    def mac_flip(sf2: sops.SopsFile, _p: list[MapNode]) -> None:
        enc = parse_enc(sf2.metadata.mac)
        mac = format_enc(dataclasses.replace(enc, data=flip(enc.data, salt)))
        sf2.metadata = dataclasses.replace(sf2.metadata, mac=mac)

    out += [Mutation("lastmodified+1s", True, 51, later), Mutation("mac-bit", True, 51, mac_flip)]

    for t in targets(sf.docs):
        if t.kind == "leaf":
            enc_value = get_leaf(sf.docs, t.ptr)
            plain_value = get_leaf(plain, t.ptr)
            if path_is_encrypted(rule, t.path) and isinstance(enc_value, str) and is_enc(enc_value):
                for part in ("data", "iv", "tag"):

                    def bit(
                        sf2: sops.SopsFile, _p: list[MapNode], ptr: Ptr = t.ptr, part: str = part
                    ) -> None:
                        enc = parse_enc(get_leaf(sf2.docs, ptr))
                        changed = dataclasses.replace(enc, **{part: flip(getattr(enc, part), salt)})
                        set_leaf(sf2.docs, ptr, format_enc(changed))

                    out.append(Mutation(f"enc-{part}-bit {t.path}", True, 25, bit))

                def reencrypt(
                    sf2: sops.SopsFile, _p: list[MapNode], t: Target = t, v: Any = plain_value
                ) -> None:
                    new = cipher.encrypt_value(other_value(v), DATA_KEY, aad_for(t.path))
                    set_leaf(sf2.docs, t.ptr, new)

                out.append(Mutation(f"enc-other-value {t.path}", True, 51, reencrypt))
            elif plain_value is not None and not path_is_encrypted(rule, t.path):

                def edit(
                    sf2: sops.SopsFile, p: list[MapNode], ptr: Ptr = t.ptr, v: Any = plain_value
                ) -> None:
                    set_leaf(sf2.docs, ptr, other_value(v))
                    set_leaf(p, ptr, other_value(v))

                out.append(
                    Mutation(f"clear-edit {t.path}", not mac_only, 0 if mac_only else 51, edit)
                )
            if isinstance(t.container, SeqNode) and t.ptr[-1] + 1 < len(t.container.items):
                nxt = (*t.ptr[:-1], t.ptr[-1] + 1)
                b_plain = get_leaf(plain, nxt)
                if not isinstance(b_plain, MapNode | SeqNode | Comment):
                    fa = fed(rule, mac_only, t.path, plain_value)
                    fb = fed(rule, mac_only, t.path, b_plain)
                    covered = fa + fb != fb + fa

                    def swap(sf2: sops.SopsFile, p: list[MapNode], ptr: Ptr = t.ptr) -> None:
                        for docs in (sf2.docs, p):
                            items = container(docs, ptr).items
                            i = ptr[-1]
                            items[i], items[i + 1] = items[i + 1], items[i]

                    out.append(Mutation(f"seq-swap {t.path}", covered, 51 if covered else 0, swap))
        elif t.kind == "pair":
            assert isinstance(t.container, MapNode)
            key, value = t.container.items[t.ptr[-1]]  # type: ignore[misc]
            siblings = {i[0] for i in t.container.items if not isinstance(i, Comment)}
            new = "z" + key
            while new in siblings:
                new = "z" + new
            if not has_enc(value) and path_is_encrypted(rule, (key,)) == path_is_encrypted(
                rule, (new,)
            ):

                def rename(
                    sf2: sops.SopsFile, p: list[MapNode], ptr: Ptr = t.ptr, new: str = new
                ) -> None:
                    for docs in (sf2.docs, p):
                        items = container(docs, ptr).items
                        items[ptr[-1]] = (new, items[ptr[-1]][1])  # type: ignore[index]

                out.append(Mutation(f"rename-clear-key {t.path}", False, 0, rename))
        else:  # comment
            text = t.container.items[t.ptr[-1]]
            assert isinstance(text, Comment)

            def drop(sf2: sops.SopsFile, p: list[MapNode], ptr: Ptr = t.ptr) -> None:
                for docs in (sf2.docs, p):
                    del container(docs, ptr).items[ptr[-1]]

            out.append(Mutation(f"drop-comment {t.path}", False, 0, drop))
            if not is_enc(text.text):

                def reword(sf2: sops.SopsFile, p: list[MapNode], ptr: Ptr = t.ptr) -> None:
                    for docs in (sf2.docs, p):
                        items = container(docs, ptr).items
                        items[ptr[-1]] = Comment(items[ptr[-1]].text + "!")  # type: ignore[union-attr]

                out.append(Mutation(f"edit-clear-comment {t.path}", False, 0, reword))
            # Move it below the next item, but keep a key after it: a comment that ends a
            # mapping after a nested block is re-attached by go-yaml (test_yamlio.py).
            if t.ptr[-1] + 2 < len(t.container.items):

                def move(sf2: sops.SopsFile, p: list[MapNode], ptr: Ptr = t.ptr) -> None:
                    for docs in (sf2.docs, p):
                        items = container(docs, ptr).items
                        i = ptr[-1]
                        items[i], items[i + 1] = items[i + 1], items[i]

                out.append(Mutation(f"move-comment-down {t.path}", False, 0, move))

    for d in range(len(sf.docs)):

        def insert(sf2: sops.SopsFile, p: list[MapNode], d: int = d) -> None:
            for docs in (sf2.docs, p):
                keys = {i[0] for i in docs[d].items if not isinstance(i, Comment)}
                name = "zz"
                while name in keys:
                    name += "z"
                docs[d].items.insert(0, (name, None))

        def insert_empty(sf2: sops.SopsFile, p: list[MapNode], d: int = d) -> None:
            for docs in (sf2.docs, p):
                keys = {i[0] for i in docs[d].items if not isinstance(i, Comment)}
                name = "zz"
                while name in keys:
                    name += "z"
                docs[d].items.append((name, ""))

        out += [
            Mutation("insert-null", False, 0, insert),
            Mutation("insert-empty", False, 0, insert_empty),
        ]
    return out


def check_mutation(
    docs: list[MapNode], rule: EncryptionRule, mac_only: bool, data: st.DataObject, with_sops: bool
) -> None:
    sf = sops.encrypt(
        docs, fmt=YAML, groups=RECIPIENTS, rule=rule, mac_only_encrypted=mac_only, data_key=DATA_KEY
    )
    salt = data.draw(st.integers(0, 1 << 16), label="salt")
    options = mutations(sf, docs, rule, mac_only, salt)
    mutation = data.draw(st.sampled_from(options), label="mutation")
    broken, plain = copy.deepcopy(sf), copy.deepcopy(docs)
    mutation.apply(broken, plain)
    text = sops.dump(broken)
    if mutation.covered:
        with pytest.raises(IntegrityError):
            sops.decrypt(sops.load(text, YAML), IDS)
    else:
        assert canon(sops.decrypt(sops.load(text, YAML), IDS).docs) == through_yaml(plain, rule)
    if with_sops:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "x.enc.yaml"
            path.write_text(text, encoding="utf-8")
            r = run_sops(["decrypt", str(path)], key_file=TEST_KEY)
        assert r.returncode == mutation.sops_exit, (mutation.name, r.stderr)
        if not mutation.covered:
            assert r.stdout == sops.dump_plain(plain, YAML)


@SLOW_OK
@given(docs=yaml_docs(), rule=rules, mac_only=st.booleans(), data=st.data())
def test_tamper_in_process(
    docs: list[MapNode], rule: tuple[EncryptionRule, list[str]], mac_only: bool, data: st.DataObject
) -> None:
    check_mutation(docs, rule[0], mac_only, data, with_sops=False)


@settings(SLOW_OK, max_examples=12)
@given(docs=yaml_docs(), rule=rules, mac_only=st.booleans(), data=st.data())
def test_tamper_sops_agrees(
    docs: list[MapNode], rule: tuple[EncryptionRule, list[str]], mac_only: bool, data: st.DataObject
) -> None:
    check_mutation(docs, rule[0], mac_only, data, with_sops=True)


# ----------------------------------------------------------------------------- pinned divergences


K8S = Path(__file__).resolve().parent.parent / "vectors" / "k8s-secret" / "file.enc.yaml"


# sops 3.11 logs 'Found possibly unencrypted comment' and keeps such a comment as it is
# (spec §7.3; comments are not covered by the MAC). So do we.
@pytest.mark.parametrize("edit", ["flip-data", "garbage"])
def test_undecryptable_encrypted_comment_is_kept_like_sops(edit: str, tmp_path: Path) -> None:
    text = K8S.read_text(encoding="utf-8")
    line = next(x for x in text.split("\n") if x.startswith("    #ENC["))
    if edit == "flip-data":
        enc = parse_enc(line.strip()[1:])
        bad = "    #" + format_enc(dataclasses.replace(enc, data=flip(enc.data, 0)))
    else:
        bad = "    #ENC[AES256_GCM,data:garbage"
    broken = text.replace(line, bad)
    path = tmp_path / "x.enc.yaml"
    path.write_text(broken, encoding="utf-8")
    r = run_sops(["decrypt", str(path)], key_file=TEST_KEY)
    assert r.returncode == 0
    assert "Found possibly unencrypted comment" in r.stderr
    assert bad in r.stdout
    d = sops.decrypt(sops.load(broken, YAML), IDS)
    assert sops.dump_plain(d.docs, YAML) == r.stdout


def test_plaintext_comment_at_an_encrypted_path_is_kept(tmp_path: Path) -> None:
    text = K8S.read_text(encoding="utf-8").replace("data:\n", "data:\n    # added by hand\n", 1)
    path = tmp_path / "x.enc.yaml"
    path.write_text(text, encoding="utf-8")
    r = run_sops(["decrypt", str(path)], key_file=TEST_KEY)
    assert r.returncode == 0
    d = sops.decrypt(sops.load(text, YAML), IDS)
    assert sops.dump_plain(d.docs, YAML) == r.stdout
    assert "    # added by hand\n" in r.stdout


def test_tamper_machinery_generates_every_kind() -> None:
    """Sanity check of the tamper machinery on a fixed tree: every kind is generated."""
    doc = sops.parse_plain(
        "a_unencrypted:\n    - x\n    - y\n    - null\n# c\nsecret: s\nempty: ''\n", YAML
    )
    sf = sops.encrypt(doc, fmt=YAML, groups=RECIPIENTS, rule=EncryptionRule(), data_key=DATA_KEY)
    names = {m.name.split(" ")[0] for m in mutations(sf, doc, EncryptionRule(), False, 0)}
    assert names == {
        "lastmodified+1s",
        "mac-bit",
        "enc-data-bit",
        "enc-iv-bit",
        "enc-tag-bit",
        "enc-other-value",
        "clear-edit",
        "seq-swap",
        "rename-clear-key",
        "drop-comment",
        "move-comment-down",
        "insert-null",
        "insert-empty",
    }
