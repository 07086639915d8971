"""YAML in and out: our emitter against what sops 3.11 prints, and our reader on sops's output."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from secretsmgr.errors import FormatError
from secretsmgr.sops.tree import MapNode, SeqNode
from secretsmgr.sops.values import Comment, Timestamp
from secretsmgr.sops.yamlio import emit_yaml, format_scalar, parse_yaml, safe_load_all

from .strategies import KEY_CHARS, VALUE_CHARS, scalars, timestamps
from .treeutil import canon
from .yaml_goldens import GOLDENS, Golden

M, S, C = MapNode, SeqNode, Comment


def golden_params() -> list[object]:
    return [
        pytest.param(
            g,
            id=g.name,
            marks=[pytest.mark.xfail(strict=True, reason=g.bug)] if g.bug else [],
        )
        for g in GOLDENS
    ]


@pytest.mark.parametrize("golden", golden_params())
def test_emitter_prints_what_sops_prints(golden: Golden) -> None:
    assert emit_yaml([golden.tree]) == golden.sops_output


@pytest.mark.parametrize("golden", GOLDENS, ids=[g.name for g in GOLDENS])
def test_reader_reads_sops_output_back(golden: Golden) -> None:
    """Even where our emitter differs, what sops printed reads back as the same data."""
    assert canon(parse_yaml(golden.sops_output)) == canon([golden.tree], printed="yaml")


def test_multi_document_output() -> None:
    docs = [M([("a", 1)]), M([("b", S(["x"]))])]
    assert emit_yaml(docs) == "a: 1\n---\nb:\n    - x\n"
    assert parse_yaml("a: 1\n---\nb:\n    - x\n") == docs


def test_empty_documents() -> None:
    assert emit_yaml([M([])]) == "{}\n"
    assert parse_yaml("a: 1\n---\n") == [M([("a", 1)]), None]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("yes", '"yes"'),
        ("No", '"No"'),
        ("off", '"off"'),
        ("y", '"y"'),
        ("plain text", "plain text"),
        (" lead", "' lead'"),
        ("trail ", "'trail '"),
        ("a: b", "'a: b'"),
        ("a #b", "'a #b'"),
        ("a#b", "a#b"),
        ("it's", "it's"),
        ("-x", "-x"),
        ("- x", "'- x'"),
        ("@x", "'@x'"),
        ("%x", "'%x'"),
        ("{a}", "'{a}'"),
        ("42", '"42"'),
        ("0x1F", '"0x1F"'),
        ("1e3", '"1e3"'),
        (".inf", '".inf"'),
        ("~", '"~"'),
        ("", '""'),
        (True, "true"),
        (None, "null"),
        (-7, "-7"),
        (2.0, "2"),
        (1e20, "1e+20"),
        (1000000.0, "1e+06"),
        (100000.0, "100000"),
        (0.00001, "1e-05"),
        (math.inf, ".inf"),
        (-math.inf, "-.inf"),
        (math.nan, ".nan"),
        (Timestamp("2024-01-02T00:00:00Z"), "2024-01-02T00:00:00Z"),
    ],
)
def test_format_scalar(value: object, text: str) -> None:
    assert format_scalar(value) == text  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "header", "body"),
    [
        ("a\nb\n", "|", ["a", "b"]),
        ("a\nb", "|-", ["a", "b"]),
        ("a\nb\n\n", "|+", ["a", "b", ""]),
    ],
)
def test_literal_blocks(value: str, header: str, body: list[str]) -> None:
    assert format_scalar(value) == (header, body)


@given(st.text(VALUE_CHARS, max_size=30))
def test_any_string_value_reads_back(value: str) -> None:
    assert parse_yaml(emit_yaml([M([("k", value)])])) == [M([("k", value)])]


@given(st.text(KEY_CHARS, min_size=1, max_size=12).filter(lambda k: k != "<<"))
def test_any_string_key_reads_back(key: str) -> None:
    assert parse_yaml(emit_yaml([M([(key, key)])])) == [M([(key, key)])]


@given(scalars())
def test_any_scalar_reads_back_with_the_documented_type_change(value: object) -> None:
    doc = M([("k", value)])  # type: ignore[list-item]
    assert canon(parse_yaml(emit_yaml([doc]))) == canon([doc], printed="yaml")


@given(timestamps())
def test_timestamps_are_written_plain_and_read_as_timestamps(ts: Timestamp) -> None:
    assert emit_yaml([M([("t", ts)])]) == f"t: {ts.text}\n"
    assert parse_yaml(f"t: {ts.text}\n") == [M([("t", ts)])]


def test_a_merge_key_is_a_key_written_as_sops_writes_it_and_read_back() -> None:
    tree = [M([("d", M([("<<", M([("x", 1)])), ("z", 2)]))])]
    assert emit_yaml(tree) == "d:\n    !!merge <<:\n        x: 1\n    z: 2\n"
    assert parse_yaml(emit_yaml(tree)) == tree
    assert parse_yaml("base: &b {x: 1}\nd:\n  <<: *b\n  z: 2\n")[0] == M(
        [("base", M([("x", 1)])), *tree[0].items]
    )


# ----------------------------------------------------------------------------- reading


def test_inline_comment_moves_above_its_key() -> None:
    assert parse_yaml("a: 1 # note\nb: 2\n") == [M([C(" note"), ("a", 1), ("b", 2)])]


def test_comment_text_is_kept_verbatim() -> None:
    assert parse_yaml("#  two spaces\n#\n#x\na: 1\n") == [
        M([C("  two spaces"), C(""), C("x"), ("a", 1)])
    ]


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("# see #42\na: 1\n", [M([C(" see #42"), ("a", 1)])]),
        ("a:\n    # x # y\n    b: 1\n", [M([("a", M([C(" x # y"), ("b", 1)]))])]),
        ("a: 1 # x # y\n", [M([C(" x # y"), ("a", 1)])]),
    ],
)
def test_hash_inside_a_comment_does_not_start_another_comment(text: str, tree: object) -> None:
    assert parse_yaml(text) == tree


def test_foot_comment_of_a_mapping_stays_in_it() -> None:
    text = "a:\n    b: 1\n    # foot\nc: 2\n"
    assert parse_yaml(text) == [M([("a", M([("b", 1), C(" foot")])), ("c", 2)])]


def test_foot_comment_after_nested_block_goes_where_go_yaml_puts_it() -> None:
    text = "a:\n  b:\n    c: 1\n  # foot\nd: 1\n"
    assert parse_yaml(text) == [M([("a", M([("b", M([("c", 1), C(" foot")]))])), ("d", 1)])]


def test_foot_comment_after_nested_block_at_end_of_file_stays_outer() -> None:
    # Verified with sops 3.11: with nothing after it, go-yaml keeps it in the outer mapping.
    text = "a:\n  b:\n    c: 1\n  # foot\n"
    assert parse_yaml(text) == [M([("a", M([("b", M([("c", 1)])), C(" foot")]))])]


def test_anchors_and_aliases_are_expanded() -> None:
    assert parse_yaml("a: &x {k: 1}\nb: *x\n") == [M([("a", M([("k", 1)])), ("b", M([("k", 1)]))])]


def test_flow_collections_read_as_block() -> None:
    assert parse_yaml("a: [1, {b: c}]\n") == [M([("a", S([1, M([("b", "c")])]))])]


def test_tagged_scalars() -> None:
    assert parse_yaml("a: !!str 1\nb: !!float 1\nc: !!binary aGk=\n") == [
        M([("a", "1"), ("b", 1.0), ("c", "hi")])
    ]


@pytest.mark.parametrize(
    "text",
    [
        "a: 1\na: 2\n",  # duplicate key
        "1: x\n",  # non-string key
        "true: x\n",
        "~: x\n",
        "? [a]\n: x\n",  # complex key
        "d:\n  <<: 1\n",  # a merge key holding a value (sops leaves it unencrypted)
        "b: &b x\nd:\n  <<: *b\n",
        "a: *nope\n",  # unknown alias
        "a: [1\n",  # malformed
        "a: 18446744073709551615\n",  # above int64, within uint64
    ],
)
def test_reader_refuses(text: str) -> None:
    with pytest.raises(FormatError):
        parse_yaml(text)


def test_reader_errors_do_not_echo_content() -> None:
    with pytest.raises(FormatError) as info:
        parse_yaml("password: [hunter2\n")
    assert "hunter2" not in str(info.value)


# ----------------------------------------------------------------------------- both readers


def _alias_bomb(levels: int) -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, levels):
        refs = ", ".join([f"*a{i - 1}"] * 10)
        lines.append(f"a{i}: &a{i} [{refs}]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("reader", [parse_yaml, safe_load_all], ids=["parser", "manifest"])
def test_both_readers_refuse_an_alias_bomb(reader: object) -> None:
    assert reader(_alias_bomb(4))  # type: ignore[operator]  # 11,110 nodes: fine
    with pytest.raises(FormatError, match="excessive aliasing"):
        reader(_alias_bomb(9))  # type: ignore[operator]  # a billion laughs


@pytest.mark.parametrize("reader", [parse_yaml, safe_load_all], ids=["parser", "manifest"])
@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: " + "[" * 300 + "]" * 300 + "\n", "nesting deeper than 200 levels"),
        ("a: &x [1, *x]\n", "unknown or recursive alias at line 1"),
        ("a: *nope\n", "unknown or recursive alias at line 1"),
        ("? [a]\n: x\n", "complex mapping key at line 1"),
        ("a: [1\n", "malformed YAML at line 2"),
    ],
)
def test_both_readers_refuse_the_same_way(reader: object, text: str, message: str) -> None:
    with pytest.raises(FormatError) as info:
        reader(text)  # type: ignore[operator]  # one of the two readers
    assert info.value.message == message


def test_manifest_loader_shares_aliased_objects_and_resolves_like_go_yaml() -> None:
    docs = safe_load_all("base: &b {k: 1}\nuse: *b\nt: 2024-01-02\nn: 0777\ny: yes\n---\n")
    assert docs[0]["use"] is docs[0]["base"]
    assert (docs[0]["t"], docs[0]["n"], docs[0]["y"]) == ("2024-01-02T00:00:00Z", 511, "yes")
    assert docs[1] is None


def test_no_reader_keeps_the_text_it_parsed() -> None:
    import sys

    marker = "kept-nowhere-" + "x" * 20
    text = f"password: {marker}\n"
    parse_yaml(text)
    safe_load_all(text)
    for name, module in list(sys.modules.items()):
        if not name.startswith("secretsmgr.sops"):
            continue
        for value in vars(module).values():
            items = value if isinstance(value, list | tuple) else [value]
            for item in items:
                assert item is not text, f"{name} keeps the parsed text"
                if isinstance(item, tuple | list):
                    assert text not in item, f"{name} keeps the parsed text"


def test_the_manifest_reader_keeps_label_and_annotation_text_as_written() -> None:
    # kustomize compares label text (`on=True` matches `on: True`, `n=5` does not match `n: 05`);
    # everywhere else a plain scalar resolves as go-yaml resolves it
    doc = safe_load_all(
        "metadata:\n  labels: {on: True, n: 05, hex: 0x10, f: 5.10, q: 'true', empty: }\n"
        "  annotations:\n    kustomize.toolkit.fluxcd.io/prune: false\n"
        "spec: {suspend: True, replicas: 05}\n"
    )[0]
    assert doc["metadata"]["labels"] == {
        "on": "True",
        "n": "05",
        "hex": "0x10",
        "f": "5.10",
        "q": "true",
        "empty": "",
    }
    assert doc["metadata"]["annotations"] == {"kustomize.toolkit.fluxcd.io/prune": "false"}
    assert doc["spec"] == {"suspend": True, "replicas": 5}
    # an anchor on such a value still serves its aliases
    anchored = safe_load_all("metadata:\n  labels: {app: &name web}\nspec: {name: *name}\n")[0]
    assert anchored["spec"] == {"name": "web"}


@pytest.mark.parametrize("opening", ["[", '{"a":'])
def test_deep_nesting_is_refused_before_the_rest_is_parsed(
    opening: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the attack review of sweep 93: 100,000 levels in 200 KB took libyaml 77 s (its time
    # grows with the square of the nesting) before the walk refused them; the events are now
    # counted as they come, and the parser is left at the first level too deep
    from secretsmgr.sops.yamlio import events

    pulled = 0
    real = events._CParser
    assert real is not None

    class Counting:
        def __init__(self, text: str) -> None:
            self._parser = real(text)

        def get_event(self) -> object:
            nonlocal pulled
            pulled += 1
            return self._parser.get_event()

    monkeypatch.setattr(events, "_CParser", Counting)
    closing = "]" if opening == "[" else "}"
    text = opening * 100_000 + "1" + closing * 100_000
    with pytest.raises(FormatError, match="nesting deeper than 200 levels"):
        events.parse_events(text)
    assert pulled <= 2 * events.MAX_DEPTH + 5, pulled  # a key and a start a level
    shallow = opening * events.MAX_DEPTH + "1" + closing * events.MAX_DEPTH
    assert events.parse_events(shallow)  # as deep as allowed: read


@pytest.mark.parametrize("value", ["x\u2028y\nz\n", "a\rb\nc", "p\u2029\nq"])
def test_a_value_with_a_break_other_than_newline_reads_back(value: str) -> None:
    # the last review of stop 55: a literal block holding U+2028 ended its line there, and
    # decrypt's output (and edit's buffer) did not read back
    doc = M([("k", value)])
    assert parse_yaml(emit_yaml([doc])) == [doc]
