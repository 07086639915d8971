"""Whole files in process: decrypt(encrypt(tree)) == tree in every store, and what is refused."""

from __future__ import annotations

import dataclasses

import pytest
from conftest import TEST_KEY, VECTORS
from hypothesis import given
from hypothesis import strategies as st

from secretsmgr import sops
from secretsmgr.errors import AlreadyEncryptedError, DecryptionError, FormatError, IntegrityError
from secretsmgr.keys.age import AgeRecipient, generate_identity, parse_identities
from secretsmgr.sops.model import EncryptionRule, RuleKind
from secretsmgr.sops.tree import MapNode

from .strategies import dotenv_docs, ini_docs, json_texts, yaml_docs
from .treeutil import canon, enc_strings, through_yaml

YAML, JSON, DOTENV = sops.FileFormat.YAML, sops.FileFormat.JSON, sops.FileFormat.DOTENV
INI = sops.FileFormat.INI
PUB = "age17m4zztwdtjwv5yastfc6v72cjnsrn7yuxlpmgwgr5c8s52lst4jq9x0tvy"
IDS = [parse_identities(TEST_KEY.read_text(encoding="utf-8"), "test-only-1")]
GROUPS = [[AgeRecipient(PUB)]]
DATA_KEY = bytes(range(32))

rules = st.sampled_from(
    [
        EncryptionRule(),
        EncryptionRule(RuleKind.ENCRYPTED_REGEX, "^(data|stringData|secret)$"),
        EncryptionRule(RuleKind.UNENCRYPTED_REGEX, "^(name|n)$"),
        EncryptionRule(RuleKind.ENCRYPTED_SUFFIX, "a"),
        EncryptionRule(RuleKind.ENCRYPTED_COMMENT_REGEX, "sops:enc"),
        EncryptionRule(RuleKind.UNENCRYPTED_COMMENT_REGEX, "sops:clear"),
    ]
)


def _round_trip(
    docs: list[MapNode], fmt: sops.FileFormat, rule: EncryptionRule, mac_only: bool
) -> tuple[str, sops.Decrypted]:
    sf = sops.encrypt(
        docs, fmt=fmt, groups=GROUPS, rule=rule, mac_only_encrypted=mac_only, data_key=DATA_KEY
    )
    text = sops.dump(sf)
    loaded = sops.load(text, fmt)
    assert (loaded.metadata.rule, loaded.metadata.mac_only_encrypted) == (rule, mac_only)
    assert sops.dump(loaded) == text
    return text, sops.decrypt(loaded, IDS)


@given(docs=yaml_docs(), rule=rules, mac_only=st.booleans())
def test_yaml_decrypt_of_encrypt(docs: list[MapNode], rule: EncryptionRule, mac_only: bool) -> None:
    _, d = _round_trip(docs, YAML, rule, mac_only)
    assert d.data_key == DATA_KEY
    assert canon(d.docs) == through_yaml(docs, rule)


@given(text=json_texts(), rule=rules, mac_only=st.booleans())
def test_json_decrypt_of_encrypt(text: str, rule: EncryptionRule, mac_only: bool) -> None:
    docs = sops.parse_plain(text, JSON)
    _, d = _round_trip(docs, JSON, rule, mac_only)
    assert canon(d.docs) == canon(docs)


@given(doc=dotenv_docs(), rule=rules, mac_only=st.booleans())
def test_dotenv_decrypt_of_encrypt(doc: MapNode, rule: EncryptionRule, mac_only: bool) -> None:
    _, d = _round_trip([doc], DOTENV, rule, mac_only)
    assert d.docs == [doc]


@given(doc=ini_docs(), rule=rules, mac_only=st.booleans())
def test_ini_decrypt_of_encrypt(doc: MapNode, rule: EncryptionRule, mac_only: bool) -> None:
    text, d = _round_trip([doc], INI, rule, mac_only)
    assert d.docs == [doc]
    assert sops.dump_plain(d.docs, INI) == sops.dump_plain([doc], INI)
    assert text.startswith("[sops]\n") or "\n\n[sops]\n" in text


@given(docs=yaml_docs(), rule=rules)
def test_reseal_with_the_same_key_and_ivs_reuses_enc_values(
    docs: list[MapNode], rule: EncryptionRule
) -> None:
    """Like ``sops set`` with no change. IVs are remembered per (plaintext, path), as sops does,
    so equal values at the same path (list items) may all come out as the same one of them.
    """
    text, d = _round_trip(docs, YAML, rule, False)
    first = sops.load(text, YAML)
    again = sops.seal(
        d.docs,
        fmt=YAML,
        data_key=d.data_key,
        metadata=first.metadata,
        ivs=d.ivs,
        lastmodified=first.metadata.lastmodified,
    )
    before, after = enc_strings(first.docs), enc_strings(again.docs)
    assert len(after) == len(before)
    assert set(after) <= set(before)
    assert canon(sops.decrypt(again, IDS).docs) == canon(d.docs)


def test_equal_list_items_share_one_remembered_iv_like_sops() -> None:
    docs = sops.parse_plain("l:\n    - x\n    - x\n", YAML)
    text, d = _round_trip(docs, YAML, EncryptionRule(), False)
    first = sops.load(text, YAML)
    again = sops.seal(d.docs, fmt=YAML, data_key=d.data_key, metadata=first.metadata, ivs=d.ivs)
    before, after = enc_strings(first.docs), enc_strings(again.docs)
    assert before[0] != before[1]
    assert after[0] == after[1] and after[0] in before


def test_changed_value_gets_a_new_enc_and_the_rest_stay() -> None:
    docs = sops.parse_plain("a: one\nb: two\n", YAML)
    text, d = _round_trip(docs, YAML, EncryptionRule(), False)
    first = sops.load(text, YAML)
    d.docs[0].items[1] = ("b", "three")
    again = sops.seal(d.docs, fmt=YAML, data_key=d.data_key, metadata=first.metadata, ivs=d.ivs)
    assert again.docs[0].get("a") == first.docs[0].get("a")
    assert again.docs[0].get("b") != first.docs[0].get("b")
    assert sops.decrypt(again, IDS).docs[0].get("b") == "three"


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("x.enc.yaml", YAML),
        ("x.yml", YAML),
        ("x.json", JSON),
        ("X.JSON", JSON),
        (".env", DOTENV),
        ("app.enc.env", DOTENV),
        ("x.txt", YAML),
        ("app.enc.ini", INI),
        ("X.INI", INI),
    ],
)
def test_format_for_path(name: str, fmt: sops.FileFormat) -> None:
    assert sops.format_for_path(name) is fmt


@pytest.mark.parametrize(
    ("text", "fmt"),
    [("", YAML), ("   \n", YAML), ("- a\n", YAML), ("a: 1\n---\n- b\n", YAML), ("[1]", JSON)],
)
def test_parse_plain_refuses(text: str, fmt: sops.FileFormat) -> None:
    with pytest.raises(FormatError):
        sops.parse_plain(text, fmt)


def test_parse_plain_drops_empty_documents() -> None:
    assert sops.parse_plain("a: 1\n---\n---\nb: 2\n", YAML) == [
        MapNode([("a", 1)]),
        MapNode([("b", 2)]),
    ]


def test_parse_plain_refuses_an_encrypted_file() -> None:
    text = (VECTORS / "k8s-secret" / "file.enc.yaml").read_text(encoding="utf-8")
    with pytest.raises(AlreadyEncryptedError):
        sops.parse_plain(text, YAML)


def test_encrypt_needs_a_recipient() -> None:
    with pytest.raises(FormatError):
        sops.encrypt([MapNode([("a", "b")])], fmt=YAML, groups=[[]], rule=EncryptionRule())


@pytest.mark.parametrize("text", ["a: 1\n", "a: 1\nsops:\n    version: 3.11.0\n", "- 1\n"])
def test_load_refuses_files_without_metadata(text: str) -> None:
    with pytest.raises(FormatError):
        sops.load(text, YAML)


@pytest.mark.parametrize(
    ("old", "new"),
    [("version: 3.11.0", 'version: "3.11"'), ("version: 3.11.0", "version: secretsmgr-1.0")],
)
def test_load_refuses_a_non_semver_version(old: str, new: str) -> None:
    text = (VECTORS / "k8s-secret" / "file.enc.yaml").read_text(encoding="utf-8")
    with pytest.raises(FormatError):
        sops.load(text.replace(old, new), YAML)


def test_load_accepts_a_v_prefixed_version() -> None:
    text = (VECTORS / "k8s-secret" / "file.enc.yaml").read_text(encoding="utf-8")
    sf = sops.load(text.replace("version: 3.11.0", "version: v3.11.0"), YAML)
    assert sops.decrypt(sf, IDS).docs[0].get("kind") == "Secret"


def test_wrong_identity_is_a_decryption_error() -> None:
    text = sops.dump(
        sops.encrypt([MapNode([("a", "b")])], fmt=YAML, groups=GROUPS, rule=EncryptionRule())
    )
    other = parse_identities(generate_identity()[0], "other")
    with pytest.raises(DecryptionError):
        sops.decrypt(sops.load(text, YAML), [other])


def test_verify_false_skips_only_the_mac() -> None:
    text = (VECTORS / "k8s-secret-tampered" / "file.enc.yaml").read_text(encoding="utf-8")
    sf = sops.load(text, YAML)
    with pytest.raises(IntegrityError):
        sops.decrypt(sf, IDS)
    assert sops.decrypt(sf, IDS, verify=False).docs[0].get("kind") == "Secret"


def test_mac_aad_is_normalized_lastmodified() -> None:
    """sops drops fractional seconds and writes +00:00 as Z before using lastmodified as AAD."""
    docs = [MapNode([("a", "b")])]
    sf = sops.encrypt(docs, fmt=YAML, groups=GROUPS, rule=EncryptionRule(), data_key=DATA_KEY)
    stamp = sf.metadata.lastmodified
    for spelling in (stamp.replace("Z", ".123Z"), stamp.replace("Z", "+00:00")):
        moved = dataclasses.replace(sf.metadata, lastmodified=spelling)
        assert sops.decrypt(sops.SopsFile(YAML, sf.docs, moved), IDS).docs == docs


# ----------------------------------------------------------------------------- one verify path


def _secret(comment: bool = False) -> str:
    note = "    # rotate yearly\n" if comment else ""
    text = f"kind: Secret\nstringData:\n{note}    password: hunter2\n    user: admin\n"
    return sops.dump(
        sops.encrypt(
            sops.parse_plain(text, YAML),
            fmt=YAML,
            groups=GROUPS,
            rule=EncryptionRule(RuleKind.ENCRYPTED_REGEX, "^stringData$"),
            data_key=DATA_KEY,
        )
    )


def _value_line(text: str, key: str) -> str:
    return next(line for line in text.splitlines() if line.strip().startswith(key + ":"))


def test_a_value_failing_authentication_names_its_key_path() -> None:
    text = _secret()
    pw, user = _value_line(text, "password"), _value_line(text, "user")
    swapped = text.replace(pw, "@").replace(user, pw.replace("password", "user"))
    swapped = swapped.replace("@", user.replace("user", "password"))
    with pytest.raises(IntegrityError) as info:
        sops.decrypt(sops.load(swapped, YAML), IDS)
    assert info.value.key_path == ("stringData", "password")
    assert info.value.message.startswith("stringData.password: value fails to authenticate")
    from secretsmgr.errors import about

    assert about("f.enc.yaml", info.value).key_path == ("stringData", "password")  # type: ignore[attr-defined]


def test_a_mac_failure_has_no_key_path() -> None:
    tampered = _secret().replace("kind: Secret", "kind: Secrets")
    with pytest.raises(IntegrityError) as info:
        sops.decrypt(sops.load(tampered, YAML), IDS)
    assert (info.value.key_path, info.value.message) == (
        None,
        "MAC mismatch — the file was changed outside SOPS",
    )


def test_audit_reading_feeds_a_plain_value_to_the_mac() -> None:
    from secretsmgr.sops.document import decrypt_docs

    text = _secret()
    same = text.replace(_value_line(text, "user").strip(), "user: admin")
    changed = text.replace(_value_line(text, "user").strip(), "user: root")
    with pytest.raises(FormatError):
        decrypt_docs(sops.load(same, YAML), DATA_KEY)  # sops refuses it: not ENC[…]
    decrypt_docs(sops.load(same, YAML), DATA_KEY, audit=True)  # the MAC still holds
    with pytest.raises(IntegrityError) as info:
        decrypt_docs(sops.load(changed, YAML), DATA_KEY, audit=True)
    assert info.value.key_path is None


def test_audit_reading_reports_a_tampered_encrypted_comment() -> None:
    from secretsmgr.sops.document import decrypt_docs

    text = _secret(comment=True)
    comment = next(line for line in text.splitlines() if line.strip().startswith("#ENC["))
    data = comment.split("data:")[1][:4]
    flipped = ("B" if data[0] == "A" else "A") + data[1:]
    tampered = text.replace(comment, comment.replace("data:" + data, "data:" + flipped))
    assert tampered != text
    decrypt_docs(sops.load(tampered, YAML), DATA_KEY)  # sops keeps a comment it cannot open
    with pytest.raises(IntegrityError) as info:
        decrypt_docs(sops.load(tampered, YAML), DATA_KEY, audit=True)
    assert info.value.key_path == ("stringData",)


def test_same_data_tells_types_apart_and_takes_nan_for_itself() -> None:
    # the interop review of stop 55: `1`, `1.0` and `true` were the same (Python's ==), and
    # `.nan` never was, so rotate refused a file holding one as not reading back
    from secretsmgr.sops.document import same_data
    from secretsmgr.sops.tree import MapNode, SeqNode

    def doc(value: object) -> list[MapNode]:
        return [MapNode([("a", SeqNode([value]))])]  # type: ignore[list-item]

    assert same_data(doc(float("nan")), doc(float("nan")))
    assert same_data(doc(1), doc(1)) and same_data(doc("x"), doc("x"))
    assert not same_data(doc(1), doc(1.0))
    assert not same_data(doc(1), doc(True))
    assert not same_data(doc(0), doc(None)) and not same_data(doc("1"), doc(1))
    assert not same_data([MapNode([("a", 1)])], [MapNode([("b", 1)])])


@pytest.mark.parametrize("threshold", ["99999999999999999999", "256", "-1", "1.5", "true"])
def test_a_shamir_threshold_sops_cannot_read_is_refused_not_rewritten(threshold: str) -> None:
    # the write-side review of stop 55: 99999999999999999999 was read as 1e20 and written back
    from secretsmgr.errors import FormatError
    from secretsmgr.sops import FileFormat, load

    text = (VECTORS / "k8s-secret" / "file.enc.yaml").read_text()
    text = text.replace("    version:", f"    shamir_threshold: {threshold}\n    version:")
    with pytest.raises(FormatError, match="shamir_threshold"):
        load(text, FileFormat.YAML)
