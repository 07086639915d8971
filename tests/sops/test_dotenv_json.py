"""The dotenv and JSON stores: metadata flattening (spec §13) and Go's number formatting."""

from __future__ import annotations

import pytest
from conftest import VECTORS
from hypothesis import given
from hypothesis import strategies as st

from secretsmgr.errors import FormatError
from secretsmgr.keys.age import generate_identity
from secretsmgr.sops import load
from secretsmgr.sops.document import FileFormat
from secretsmgr.sops.dotenvio import emit_dotenv, flatten_metadata, parse_dotenv, unflatten_metadata
from secretsmgr.sops.jsonio import emit_json, parse_json
from secretsmgr.sops.metadata import format_metadata, parse_metadata
from secretsmgr.sops.model import AgeStanza, EncryptionRule, KeyGroup, RuleKind, SopsMetadata
from secretsmgr.sops.tree import MapNode, SeqNode
from secretsmgr.sops.values import Comment

M, S, C = MapNode, SeqNode, Comment
MAC = "ENC[AES256_GCM,data:eA==,iv:AAAA,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:str]"
ENC = "-----BEGIN AGE ENCRYPTED FILE-----\nYWdl\n-----END AGE ENCRYPTED FILE-----\n"


def _stanzas(n: int) -> tuple[AgeStanza, ...]:
    return tuple(
        AgeStanza(generate_identity()[1], ENC.replace("YWdl", f"YWdl{i}")) for i in range(n)
    )


metadatas = st.builds(
    SopsMetadata,
    key_groups=st.one_of(
        st.integers(1, 12).map(lambda n: (KeyGroup(age=_stanzas(n)),)),
        st.integers(2, 4).map(lambda n: tuple(KeyGroup(age=_stanzas(2)) for _ in range(n))),
    ),
    lastmodified=st.just("2026-11-26T03:27:29Z"),
    mac=st.just(MAC),
    rule=st.sampled_from(
        [EncryptionRule(), EncryptionRule(RuleKind.ENCRYPTED_REGEX, "^(data|stringData)$")]
    ),
    mac_only_encrypted=st.booleans(),
    version=st.just("3.11.0"),
).map(
    lambda m: SopsMetadata(
        key_groups=m.key_groups,
        lastmodified=m.lastmodified,
        mac=m.mac,
        rule=m.rule,
        mac_only_encrypted=m.mac_only_encrypted,
        shamir_threshold=len(m.key_groups) if len(m.key_groups) > 1 else 0,
        version=m.version,
    )
)


@given(metadatas)
def test_dotenv_metadata_flatten_unflatten_round_trip(meta: SopsMetadata) -> None:
    pairs = flatten_metadata(format_metadata(meta))
    assert pairs == sorted(pairs)
    assert all(name.startswith("sops_") for name, _ in pairs)
    assert parse_metadata(unflatten_metadata(pairs)) == meta


def test_flattened_names_follow_sops() -> None:
    meta = SopsMetadata(
        key_groups=(KeyGroup(age=(AgeStanza("age1x", ENC),)),),
        lastmodified="2026-11-26T03:27:29Z",
        mac=MAC,
        mac_only_encrypted=True,
    )
    assert flatten_metadata(format_metadata(meta)) == [
        ("sops_age__list_0__map_enc", ENC),
        ("sops_age__list_0__map_recipient", "age1x"),
        ("sops_lastmodified", "2026-11-26T03:27:29Z"),
        ("sops_mac", MAC),
        ("sops_mac_only_encrypted", "true"),
        ("sops_unencrypted_suffix", "_unencrypted"),
        ("sops_version", "3.11.0"),
    ]


def test_more_than_ten_list_items_keep_their_order() -> None:
    stanzas = _stanzas(12)
    meta = SopsMetadata(key_groups=(KeyGroup(age=stanzas),), lastmodified="x", mac=MAC)
    pairs = flatten_metadata(format_metadata(meta))
    assert pairs[2][0] == "sops_age__list_10__map_enc"  # sorted as strings, like sops
    assert parse_metadata(unflatten_metadata(pairs)).key_groups[0].age == stanzas


def test_app_env_vector_metadata_lines() -> None:
    text = (VECTORS / "app-env" / "file.enc.env").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line.startswith("sops_")]
    meta = load(text, FileFormat.DOTENV).metadata
    rendered = [
        f"{k}={v.replace(chr(10), chr(92) + 'n')}"
        for k, v in flatten_metadata(format_metadata(meta))
    ]
    assert rendered == lines


def test_dotenv_parse_and_emit() -> None:
    text = "# c\nA=1\n\nB=x=y\nMULTI=l1\\nl2\nexport FOO=bar\nEMPTY=\n"
    doc = parse_dotenv(text)
    assert doc == [
        M(
            [
                C(" c"),
                ("A", "1"),
                ("B", "x=y"),
                ("MULTI", "l1\nl2"),
                ("export FOO", "bar"),
                ("EMPTY", ""),
            ]
        )
    ]
    assert emit_dotenv(doc[0]) == text.replace("\n\n", "\n")


@pytest.mark.parametrize("text", ["NOVALUE\n", "=x\n"])
def test_dotenv_refuses(text: str) -> None:
    with pytest.raises(FormatError):
        parse_dotenv(text)


def test_dotenv_cannot_hold_nested_values() -> None:
    with pytest.raises(FormatError):
        emit_dotenv(M([("a", M([("b", "c")]))]))


# ----------------------------------------------------------------------------- JSON


def test_json_numbers_are_all_floats() -> None:
    assert parse_json('{"a": 5432, "b": 0.5, "c": [1, true, null, "x"]}') == [
        M([("a", 5432.0), ("b", 0.5), ("c", S([1.0, True, None, "x"]))])
    ]
    assert isinstance(parse_json('{"a": 1}')[0].get("a"), float)  # type: ignore[union-attr]


def test_json_emitter_is_go_shaped() -> None:
    doc = M(
        [("a", 5432.0), ("f", 1e21), ("g", 1e-7), ("s", "<&>\u2028"), ("e", M([])), ("l", S([]))]
    )
    assert emit_json(doc) == (
        "{\n"
        '\t"a": 5432,\n'
        '\t"f": 1e+21,\n'
        '\t"g": 1e-7,\n'
        '\t"s": "\\u003c\\u0026\\u003e\\u2028",\n'
        '\t"e": {},\n'
        '\t"l": []\n'
        "}\n"
    )


def test_json_vector_expected_output() -> None:
    expected = (VECTORS / "app-json" / "expected.json").read_text(encoding="utf-8")
    assert emit_json(parse_json(expected)[0]) == expected


@pytest.mark.parametrize("text", ["[1]", '{"a": NaN}', '{"a": 1', '"x"'])
def test_json_refuses(text: str) -> None:
    with pytest.raises(FormatError):
        parse_json(text)
