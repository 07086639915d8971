"""Key paths, tree edits, the edit merge and ``set``'s value parsing, on in-memory trees."""

from __future__ import annotations

import pytest

from secretsmgr.errors import UsageError
from secretsmgr.fileops.keypath import (
    MISSING,
    apply,
    diff,
    format_key_path,
    get,
    parse_key_path,
    parse_value,
    resolve,
    resolve_for_set,
    scalar_leaves,
    set_at,
    unset_at,
)
from secretsmgr.sops import FileFormat, dump_plain, parse_plain
from secretsmgr.sops.tree import MapNode, SeqNode

DOC = """apiVersion: v1
kind: Secret
stringData:
    # the password
    password: pw
    config.yaml: |
        a: 1
items:
    - one
    - two
"""


def doc() -> MapNode:
    return parse_plain(DOC, FileFormat.YAML)[0]


def yaml(node: MapNode) -> str:
    return dump_plain([node], FileFormat.YAML)


@pytest.mark.parametrize(
    ("spec", "parts"),
    [
        ('["data"]["password"]', ["data", "password"]),
        ("['a'][0][-1]", ["a", 0, -1]),
        ('["a.b"]', ["a.b"]),
        ('["q\\"x"]', ['q\\"x']),
    ],
)
def test_bracket_paths_parse_exactly(spec: str, parts: list[object]) -> None:
    assert parse_key_path(spec) == parts


@pytest.mark.parametrize("spec", ['["a"', '["a"]x', "[a]"])
def test_malformed_bracket_paths_are_usage_errors(spec: str) -> None:
    with pytest.raises(UsageError):
        parse_key_path(spec)


@pytest.mark.parametrize("spec", ["data[", 'stringData]["x"]', "a.b[0]"])
def test_a_dotted_path_that_would_make_a_key_holding_a_bracket_is_a_usage_error(
    spec: str,
) -> None:
    # the interop review of stop 55: `set FILE 'data['` made a key named `data[`, exit 0
    with pytest.raises(UsageError, match="malformed key path"):
        resolve_for_set(doc(), spec)


def test_dotted_paths_find_keys_holding_dots_and_list_indexes() -> None:
    root = doc()
    assert resolve(root, "stringData.config.yaml") == ("stringData", "config.yaml")
    assert resolve(root, "items.1") == ("items", 1)
    assert get(root, resolve(root, "items.1")) == "two"
    with pytest.raises(UsageError, match="not found"):
        resolve(root, "stringData.nope")


def test_set_paths_create_the_missing_part_split_at_dots() -> None:
    root = doc()
    assert resolve_for_set(root, "stringData.config.yaml") == ("stringData", "config.yaml")
    assert resolve_for_set(root, "stringData.token") == ("stringData", "token")
    assert resolve_for_set(root, "metadata.labels.app") == ("metadata", "labels", "app")
    assert resolve_for_set(root, '["stringData"]["tls.crt"]') == ("stringData", "tls.crt")


def test_format_key_path_is_dotted_only_when_that_reads_back() -> None:
    assert format_key_path(("stringData", "password")) == "stringData.password"
    assert format_key_path(("stringData", "tls.crt")) == '["stringData"]["tls.crt"]'
    assert format_key_path(("items", 0)) == '["items"][0]'


def test_set_at_replaces_appends_and_creates_like_sops() -> None:
    root = doc()
    out = set_at(root, ("stringData", "password"), "new")
    assert isinstance(out, MapNode)
    assert yaml(out) == DOC.replace("password: pw", "password: new")
    assert yaml(root) == DOC  # the input tree is untouched
    out = set_at(root, ("items", 7), "three")  # past the end: appended, as sops does
    assert get(out, ("items",)) == SeqNode(["one", "two", "three"])
    out = set_at(root, ("a", "b", 0, "c"), "v")
    assert get(out, ("a",)) == MapNode([("b", SeqNode([MapNode([("c", "v")])]))])
    assert get(set_at(root, ("items", -1), "last"), ("items", 1)) == "last"


@pytest.mark.parametrize(
    ("path", "message"),
    [
        (("stringData", "password", "x"), "holds a value"),
        (("stringData", 0), "indexes a list"),
        (("items", "x"), "use a number"),
        (("items", -5), "out of range"),
    ],
)
def test_set_at_refuses_to_replace_a_value_or_mix_up_lists(
    path: tuple[str | int, ...], message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        set_at(doc(), path, "v")


def test_unset_at_keeps_the_parent_and_refuses_a_missing_path() -> None:
    out = unset_at(doc(), ("stringData", "password"), "stringData.password")
    assert isinstance(out, MapNode)
    assert get(out, ("stringData", "password")) is MISSING
    assert get(out, ("stringData", "config.yaml")) == "a: 1\n"
    only = unset_at(unset_at(out, ("stringData", "config.yaml"), "x"), ("items", 0), "y")
    assert list(scalar_leaves(get(only, ("stringData",)))) == []  # emptied, but still there
    assert get(only, ("items",)) == SeqNode(["two"])
    with pytest.raises(UsageError, match=r"key path x\.y not found"):
        unset_at(doc(), ("x", "y"), "x.y")


def test_diff_and_apply_carry_a_users_edit_onto_a_newer_version() -> None:
    base = parse_plain("a: 1\nb: {c: 2, d: 3}\ngone: x\nkeep: k\n", FileFormat.YAML)
    ours = parse_plain("a: 10\nb: {c: 2, e: 5}\ngone: changed\n", FileFormat.YAML)
    theirs = parse_plain("a: 1\nb: {c: 20, d: 3}\nkeep: k\nnew: v\n", FileFormat.YAML)
    changes = diff(base, ours)
    assert {(c.path, c.value is MISSING, c.added) for c in changes} == {
        ((0, "a"), False, False),
        ((0, "b", "e"), False, True),
        ((0, "gone"), False, False),
        ((0, "b", "d"), True, False),
        ((0, "keep"), True, False),
    }
    merged, skipped = apply(theirs, changes)
    assert skipped == ["gone"]  # changed by us, removed by them: not applied
    assert dump_plain(merged, FileFormat.YAML) == ("a: 10\nb:\n    c: 20\n    e: 5\nnew: v\n")


def test_apply_skips_added_documents_and_keys_whose_mapping_is_gone() -> None:
    base = parse_plain("a: {b: 1}\n", FileFormat.YAML)
    ours = parse_plain("a: {b: 1, c: 2}\n---\nz: 1\n", FileFormat.YAML)
    theirs = parse_plain("x: 1\n", FileFormat.YAML)
    merged, skipped = apply(theirs, diff(base, ours))
    assert skipped == ["a.c", "document 2"]
    assert dump_plain(merged, FileFormat.YAML) == "x: 1\n"


@pytest.mark.parametrize(
    ("data", "as_json", "value"),
    [
        (b"pw\n", False, "pw"),
        (b"pw\r\n", False, "pw"),
        (b"pw", False, "pw"),
        (b" spaced \n", False, " spaced "),
        (
            b"-----BEGIN X-----\nAAAA\n-----END X-----\n",
            False,
            "-----BEGIN X-----\nAAAA\n-----END X-----\n",
        ),
        (b'"quoted"', True, "quoted"),
        (b"5", True, 5),
        (b"1.5", True, 1.5),
        (b"true", True, True),
        (b"null", True, None),
        (b'{"k": [1, "two"]}', True, MapNode([("k", SeqNode([1, "two"]))])),
    ],
)
def test_parse_value(data: bytes, as_json: bool, value: object) -> None:
    got = parse_value(data, as_json=as_json)
    assert type(got) is type(value) and got == value


@pytest.mark.parametrize(
    ("data", "as_json", "message"),
    [
        (b"", False, "empty"),
        (b"\n", False, "empty"),
        (b'""', True, "empty"),
        (b"\xff\xfe", False, "not UTF-8"),
        (b"{", True, "not valid JSON"),
        (b"NaN", True, "NaN"),
        (b"[" * 100 + b"]" * 100, True, "deeper"),
    ],
)
def test_parse_value_refusals(data: bytes, as_json: bool, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_value(data, as_json=as_json)
