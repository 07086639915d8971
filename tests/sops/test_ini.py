"""The INI store: go-ini's reading and writing as sops uses them, and the ``[sops]`` section.

The expected trees and texts here were checked against the real sops 3.11 (see docs/formats.md,
"INI"); the binary itself judges the same kind of files in tests/interop/test_properties.py
(both directions), tests/interop/test_vectors.py (the app-ini vector) and
tests/cli/test_ini_cli.py.
"""

from __future__ import annotations

import re

import pytest
from conftest import VECTORS
from hypothesis import given

from secretsmgr import sops
from secretsmgr.errors import AlreadyEncryptedError, FormatError
from secretsmgr.sops.document import FileFormat, copy_store, format_for_path
from secretsmgr.sops.iniio import emit_ini, ini_key_lines, parse_ini, value_text
from secretsmgr.sops.metadata import format_metadata
from secretsmgr.sops.model import SopsMetadata
from secretsmgr.sops.tree import MapNode
from secretsmgr.sops.values import Comment

from .strategies import ini_docs
from .test_dotenv_json import metadatas

M, C = MapNode, Comment
INI = FileFormat.INI


def test_keys_before_any_section_are_the_default_section_which_always_comes_first() -> None:
    assert parse_ini("[db]\nuser = admin\n") == [
        M([("DEFAULT", M()), ("db", M([("user", "admin")]))])
    ]
    assert parse_ini("top = 1\n[db]\nk = v\n")[0] == M(
        [("DEFAULT", M([("top", "1")])), ("db", M([("k", "v")]))]
    )


def test_comments_go_to_the_section_or_to_the_key_after_them() -> None:
    text = (
        "; top\n# second\n[db]\n; before user\nuser = admin\n"
        "# before pw\npassword = hunter2 ; inline\n; lost at the end\n"
    )
    assert parse_ini(text)[0] == M(
        [
            ("DEFAULT", M()),
            (
                "db",
                M(
                    [
                        C("top\n# second"),
                        ("user", "admin"),
                        C("before user"),
                        ("password", "hunter2"),
                        C("before pw\n; inline"),
                    ]
                ),
            ),
        ]
    )


def test_comments_are_written_back_where_they_were_read() -> None:
    text = "; top\n# second\n[db]\n; before user\nuser = admin\n; inline\npassword = hunter2\n"
    assert emit_ini(parse_ini(text)[0]) == (
        "; top\n# second\n[db]\n; before user\nuser     = admin\n; inline\npassword = hunter2\n"
    )


@pytest.mark.parametrize(
    ("line", "value"),
    [
        ("k = a=b=c", "a=b=c"),
        ("k: http://x", "http://x"),
        ('k = "quoted"', "quoted"),
        ("k = 'single'", "single"),
        ('k = "  spaced  "', "  spaced  "),
        ("k = `back#tick`", "back#tick"),
        ("k = pass#word", "pass"),  # an unquoted # starts a comment, as in go-ini
        ('k = say "hi"', 'say "hi"'),
        ("k =", ""),
        ("k = abc\\\n  def", "abcdef"),
        ('k = """multi\nline"""', "multi\nline"),
    ],
)
def test_values_are_read_as_go_ini_reads_them(line: str, value: str) -> None:
    doc = parse_ini(f"[s]\n{line}\n")[0]
    section = doc.get("s")
    assert isinstance(section, MapNode)
    assert section.get("k") == value


def test_a_duplicate_key_keeps_its_place_and_takes_the_last_value_and_sections_repeat() -> None:
    assert parse_ini("[a]\nk = 1\nj = 2\nk = 3\n[a]\nk = 4\n")[0] == M(
        [
            ("DEFAULT", M()),
            ("a", M([("k", "3"), ("j", "2")])),
            ("a", M([("k", "4")])),
        ]
    )


def test_bom_and_crlf_are_read_and_lf_is_written() -> None:
    doc = parse_ini("\ufeff[s]\r\nk = v\r\n; c\r\nj = w\r\n")[0]
    assert emit_ini(doc) == "[s]\nk = v\n; c\nj = w\n"


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("plain", "plain"),
        ("has;semi", "`has;semi`"),
        ("has#hash", "`has#hash`"),
        ("two\nlines", '"""two\nlines"""'),
        ("back`tick", '"""back`tick"""'),
        (" lead", '" lead"'),
        ("", ""),
    ],
)
def test_values_are_quoted_only_when_they_must_be(value: str, written: str) -> None:
    assert emit_ini(M([("s", M([("k", value)]))])) == f"[s]\nk = {written}\n"
    assert parse_ini(emit_ini(M([("s", M([("k", value)]))])))[0].get("s") == M([("k", value)])


def test_keys_are_aligned_by_bytes_and_quoted_when_they_hold_a_delimiter() -> None:
    doc = M([("s", M([("a", "1"), ("b=c", "2"), ("é", "3")]))])
    assert emit_ini(doc) == "[s]\na     = 1\n`b=c` = 2\né    = 3\n"


def test_an_empty_default_section_writes_nothing_and_sections_are_separated_by_a_blank() -> None:
    doc = M([("DEFAULT", M()), ("a", M([("k", "1")])), ("b", M())])
    assert emit_ini(doc) == "[a]\nk = 1\n\n[b]\n"
    assert emit_ini(M([("DEFAULT", M())])) == ""


def test_an_empty_comment_line_is_written_so_that_it_reads_back() -> None:
    # sops itself panics writing this comment (go-ini indexes the empty first line)
    doc = parse_ini(";\n# x\n[s]\nk = v\n")[0]
    assert emit_ini(doc) == ";\n# x\n[s]\nk = v\n"
    assert parse_ini(emit_ini(doc))[0] == doc


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("[a]\nnodelim\n", "line 2: not a comment"),
        ("[a\nk=v\n", "line 1: a [section] header is not closed"),
        ("[]\n", "line 1: empty section name"),
        ("[a]\n= v\n", "line 2: empty key name"),
        ('[a]\nk = """never closed\n', 'line 2: a """ value is not closed'),
        ('[a]\n"never closed = v\n', "line 2: a quoted key is not closed"),
    ],
)
def test_malformed_ini_is_refused_by_line_without_quoting_it(text: str, why: str) -> None:
    with pytest.raises(FormatError, match=re.escape(why)) as err:
        parse_ini(text)
    assert "never closed" not in err.value.message and "nodelim" not in err.value.message


def test_nested_values_and_values_outside_a_section_are_refused() -> None:
    with pytest.raises(FormatError):
        emit_ini(M([("top", "v")]))
    with pytest.raises(FormatError):
        emit_ini(M([("s", M([("k", M())]))]))


@pytest.mark.parametrize(
    ("value", "text"),
    [(True, "true"), (5432, "5432"), (5432.0, "5432.0"), (1.5, "1.5"), (1e21, "1E+21")],
)
def test_typed_values_are_written_as_sops_writes_them(value: object, text: str) -> None:
    assert value_text(value) == text  # type: ignore[arg-type]  # every scalar type sops may decrypt


def test_key_lines() -> None:
    lines = ini_key_lines("top = 1\n[db]\n; c\nuser = a\n[db]\nuser = b\n")
    assert lines == {"DEFAULT.top": 1, "db": 2, "db.user": 4}
    assert ini_key_lines("[broken\n") == {}


@given(ini_docs())
def test_emit_then_parse_is_the_same_tree(doc: MapNode) -> None:
    assert parse_ini(emit_ini(doc)) == [doc]


# ----------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("name", "fmt"),
    [("app.ini", INI), ("app.sops.ini", INI), ("APP.INI", INI), ("app.ini.txt", FileFormat.YAML)],
)
def test_ini_names(name: str, fmt: FileFormat) -> None:
    assert format_for_path(name) is fmt


def test_a_copy_of_an_ini_sops_file_is_read_as_ini() -> None:
    assert copy_store("app.sops.ini.bak") is INI


# ----------------------------------------------------------------------------- metadata


@given(metadatas)
def test_metadata_round_trips_through_the_sops_section(meta: SopsMetadata) -> None:
    sf = sops.SopsFile(INI, [M([("DEFAULT", M()), ("s", M([("k", "v")]))])], meta)
    text = sops.dump(sf)
    assert "\n\n[sops]\n" in text and text.count("[sops]") == 1
    again = sops.load(text, INI)
    assert format_metadata(again.metadata) == format_metadata(meta)
    assert again.docs == sf.docs


def test_the_vector_metadata_lines_are_those_sops_wrote_in_another_order() -> None:
    text = (VECTORS / "app-ini" / "file.enc.ini").read_text(encoding="utf-8")
    theirs = text.partition("[sops]\n")[2].splitlines()
    ours = sops.dump(sops.load(text, INI)).partition("[sops]\n")[2].splitlines()
    assert ours == sorted(theirs)
    assert "age__list_0__map_enc       = -----BEGIN AGE ENCRYPTED FILE-----\\n" in text


def test_mac_only_encrypted_is_true_only_when_written_true() -> None:
    text = (VECTORS / "app-ini" / "file.enc.ini").read_text(encoding="utf-8")
    for written, meant in (("true", True), ("TRUE", False), ("yes", False)):
        changed = text.replace("[sops]\n", f"[sops]\nmac_only_encrypted = {written}\n")
        assert sops.load(changed, INI).metadata.mac_only_encrypted is meant


def test_a_plaintext_with_a_sops_section_is_refused() -> None:
    with pytest.raises(FormatError, match=r"section \[sops\] is reserved"):
        sops.parse_plain("[sops]\nk = v\n", INI)
    text = (VECTORS / "app-ini" / "file.enc.ini").read_text(encoding="utf-8")
    with pytest.raises(AlreadyEncryptedError):
        sops.parse_plain(text, INI)


def test_a_file_without_a_sops_section_has_no_metadata() -> None:
    with pytest.raises(FormatError, match="sops metadata not found"):
        sops.load("[db]\nuser = admin\n", INI)
