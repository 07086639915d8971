"""The pure changelog chain: serialization, parsing, verification, appending."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from dataclasses import replace

import pytest

from secretsmgr.changelog.chain import (
    GENESIS,
    Entry,
    append,
    covered,
    datakey_id,
    find_break,
    line_hash,
    next_entry,
    parse_entries,
    serialize,
    verify,
)
from secretsmgr.errors import ChainError
from tests.changelog.helpers import chain, record

T = "2026-01-01T00:00:00Z"


def first_entry(reason: str = "postgres password leak drill", key: bytes = b"k" * 32) -> Entry:
    """The first entry of a changelog, its file's data key being ``key``."""
    return next_entry(
        b"",
        time="2026-11-26T10:03:10Z",
        actor="bob@example.org",
        action="rotate",
        reason=reason,
        layers=["databases"],
        files=[replace(record("gitops/db.enc.yaml"), datakey_id=datakey_id(key))],
    )


# --- datakey_id ------------------------------------------------------------------------------


def test_datakey_id_is_the_truncated_hmac_of_the_fixed_label() -> None:
    key = bytes(range(32))
    expected = hmac.new(key, b"secretsmgr changelog datakey-id v1", hashlib.sha256).hexdigest()
    assert datakey_id(key) == expected[:32]
    assert len(datakey_id(key)) == 32 and int(datakey_id(key), 16) >= 0


def test_datakey_id_is_deterministic_and_differs_per_key() -> None:
    keys = [os.urandom(32) for _ in range(50)]
    assert [datakey_id(k) for k in keys] == [datakey_id(k) for k in keys]
    assert len({datakey_id(k) for k in keys}) == len(keys)
    assert datakey_id(b"\x00" * 32) != datakey_id(b"\x00" * 31 + b"\x01")


def test_entry_never_holds_the_data_key() -> None:
    key = os.urandom(32)
    line = serialize(first_entry(key=key)).decode("utf-8")
    assert datakey_id(key) in line
    for shown in (
        key.hex(),
        key.hex().upper(),
        base64.b64encode(key).decode(),
        base64.b64encode(key).decode().rstrip("="),
        base64.urlsafe_b64encode(key).decode().rstrip("="),
    ):
        assert shown not in line


# --- serialize / parse -----------------------------------------------------------------------


def test_serialize_is_canonical_compact_sorted_utf8() -> None:
    entry = first_entry(reason="rotation — café")
    line = serialize(entry)
    assert not line.endswith(b"\n") and b"\n" not in line
    assert "café".encode() in line and b"\\u" not in line
    obj = json.loads(line)
    assert (
        line == json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    )
    assert list(obj) == sorted(obj)
    assert set(obj) == {
        "seq",
        "time",
        "actor",
        "action",
        "reason",
        "layers",
        "files",
        "prev",
        "hash",
    }
    assert set(obj["files"][0]) == {
        "path", "lastmodified", "recipients_before", "recipients_after",
        "datakey_id", "sha256_before", "sha256_after",
    }  # fmt: skip
    body = {k: v for k, v in obj.items() if k != "hash"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert obj["hash"] == hashlib.sha256(canonical.encode()).hexdigest()


def test_serialize_reproduces_byte_for_byte() -> None:
    assert serialize(first_entry()) == serialize(first_entry())


def test_parse_entries_round_trips_append() -> None:
    data = chain(3)
    entries = parse_entries(data)
    assert [e.seq for e in entries] == [1, 2, 3]
    assert entries[0].prev == GENESIS
    rebuilt = b"".join(serialize(e) + b"\n" for e in entries)
    assert rebuilt == data


def test_parse_entries_accepts_a_missing_final_newline_and_empty_input() -> None:
    assert parse_entries(b"") == []
    assert len(parse_entries(chain(2).rstrip(b"\n"))) == 2


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b"{not json", "changelog line 2 is not valid JSON"),
        (b"\xff\xfe", "changelog line 2 is not valid JSON"),
        (b"", "changelog line 2 is not valid JSON"),
        (b"[1, 2]", "changelog line 2 is not a JSON object"),
        (b'{"seq": 2}', "changelog line 2 has no time"),
    ],
)
def test_parse_entries_names_the_bad_line(line: bytes, message: str) -> None:
    data = chain(1) + line + b"\n" + chain(1)
    with pytest.raises(ChainError) as info:
        parse_entries(data)
    assert info.value.message == message


def test_parse_entries_rejects_wrong_types_and_unknown_fields() -> None:
    obj = json.loads(chain(1))
    for bad in ({**obj, "seq": True}, {**obj, "seq": "1"}, {**obj, "layers": [1]}):
        with pytest.raises(ChainError, match="changelog line 1"):
            parse_entries(json.dumps(bad).encode())
    with pytest.raises(ChainError, match="unknown field extra"):
        parse_entries(json.dumps({**obj, "extra": 1}).encode())
    files = [{**obj["files"][0], "value": "x"}]
    with pytest.raises(ChainError, match="file 1 has an unknown field value"):
        parse_entries(json.dumps({**obj, "files": files}).encode())


# --- verify ----------------------------------------------------------------------------------


def test_verify_accepts_an_intact_chain() -> None:
    assert verify(b"") is None
    for n in range(1, 6):
        assert verify(chain(n)) is None
        assert verify(chain(n).rstrip(b"\n")) is None


def test_first_entry_links_to_genesis_and_next_to_the_previous_line() -> None:
    data = chain(2)
    first, second = data.split(b"\n")[:2]
    entries = parse_entries(data)
    assert entries[0].prev == GENESIS
    assert entries[1].prev == hashlib.sha256(first).hexdigest()
    assert second == serialize(entries[1])


def test_verify_reports_a_first_seq_other_than_one() -> None:
    line = chain(2).split(b"\n")[1]  # seq 2 standing alone
    found = find_break(line + b"\n")
    assert found is not None and found.seq == 1
    assert "seq 2 found where 1 belongs" in found.reason


def test_verify_reports_a_content_edit_on_the_edited_line() -> None:
    lines = chain(3).split(b"\n")
    lines[2] = lines[2].replace(b"rotation 3", b"rotation X")  # the last line
    found = find_break(b"\n".join(lines))
    assert found is not None and found.seq == 3
    assert "does not match its hash" in found.reason


def test_verify_reports_a_non_canonical_line() -> None:
    lines = chain(2).split(b"\n")
    lines[1] = json.dumps(json.loads(lines[1]), indent=1).replace("\n", "").encode()
    found = find_break(b"\n".join(lines))
    assert found is not None and found.seq == 2
    assert "canonical" in found.reason


def test_verify_reports_a_relinked_prev() -> None:
    data = chain(2)
    entries = parse_entries(data)
    forged = replace(entries[1], prev=GENESIS)
    bad = data.split(b"\n")[0] + b"\n" + serialize(forged) + b"\n"
    found = find_break(bad)
    assert found is not None and found.seq == 2 and "prev does not match" in found.reason


def test_verify_reports_a_blank_line_in_the_middle() -> None:
    lines = chain(3).split(b"\n")
    assert verify(b"\n".join([lines[0], b"", *lines[1:]])) == 2


def test_verify_reports_a_truncated_last_line() -> None:
    data = chain(3)
    assert verify(data[:-10]) == 3


# --- next_entry / append ---------------------------------------------------------------------


def test_next_entry_follows_the_last_line() -> None:
    data = chain(2)
    entry = next_entry(
        data, time="2026-12-01T00:00:00Z", actor="a", action="encrypt", reason="r",
        layers=[], files=[],
    )  # fmt: skip
    assert entry.seq == 3
    assert entry.prev == hashlib.sha256(data.split(b"\n")[1]).hexdigest()
    assert entry.layers == () and entry.files == ()


def test_next_entry_refuses_a_broken_chain() -> None:
    data = chain(2).replace(b"rotation 1", b"rotation X")
    with pytest.raises(ChainError, match="changelog broken at seq 1"):
        next_entry(data, time=T, actor="a", action="rotate", reason="r", layers=[], files=[])


def test_append_adds_a_missing_newline_first() -> None:
    data = chain(1).rstrip(b"\n")
    entry = next_entry(data, time=T, actor="a", action="rotate", reason="r", layers=[], files=[])
    new = append(data, entry)
    assert new == data + b"\n" + serialize(entry) + b"\n"
    assert verify(new) is None


def test_append_refuses_an_entry_for_another_state() -> None:
    stale = next_entry(
        chain(1), time=T, actor="a", action="rotate", reason="r", layers=[], files=[]
    )
    with pytest.raises(ChainError, match="seq 2 does not follow the changelog"):
        append(chain(2), stale)


def test_append_refuses_an_age_private_key() -> None:
    key = "AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ"
    entry = first_entry(reason=f"oops {key}")
    with pytest.raises(ChainError) as info:
        append(b"", entry)
    assert key not in info.value.message


def test_covered_lists_every_path_lastmodified_and_content() -> None:
    entries = parse_entries(chain(3))
    states = covered(entries)
    assert set(states) == {
        (r.path, "2026-11-26T10:03:09Z", r.sha256_after) for e in entries for r in e.files
    }
    assert {p for p, _, _ in states} == {f"gitops/s{i}.enc.yaml" for i in (1, 2, 3)}
    assert covered([]) == {}


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"time": "not a time"}, "time is not a UTC time"),
        ({"time": "2026-02-30T10:00:00Z"}, "time is not a UTC time"),
        ({"reason": "AGE-SECRET-KEY-1" + "Q" * 58}, "holds an age private key"),
        ({"path": "../../etc/passwd"}, "its path is not a path in the repository"),
        ({"path": "/etc/passwd"}, "its path is not a path in the repository"),
        ({"path": "apps/./x.enc.yaml"}, "its path is not a path in the repository"),
    ],
)
def test_a_line_with_a_valid_hash_but_impossible_contents_breaks_the_chain(
    change: dict[str, str], words: str
) -> None:
    """What every writer refuses to write, a reader refuses to trust (a forged line whose
    hash was recomputed: log --verify and every writer stop at it)."""
    data = chain(2)
    good = parse_entries(data)[-1]
    files = good.files
    if "path" in change:
        files = (replace(files[0], path=change["path"]),)
    forged = replace(
        good,
        seq=3,
        time=change.get("time", good.time),
        reason=change.get("reason", good.reason),
        files=files,
        prev=line_hash(data.splitlines()[-1]),
    )
    data += serialize(forged) + b"\n"
    found = find_break(data)
    assert found is not None and found.seq == 3 and words in found.reason, found
    with pytest.raises(ChainError):
        append(data[: -len(serialize(forged)) - 1], forged)  # a writer refuses it too
