"""Any edit, deletion or reordering breaks the chain exactly where it happened."""

from __future__ import annotations

from datetime import datetime

from hypothesis import given
from hypothesis import strategies as st

from secretsmgr.changelog.chain import FileRecord, append, next_entry, verify

texts = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
# what a reader accepts, as a writer must write it: repository paths and UTC times
segments = st.text("abz09._-é ", min_size=1, max_size=6).filter(lambda t: t not in (".", ".."))
paths = st.lists(segments, min_size=1, max_size=3).map("/".join)
times = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)).map(
    lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ")
)
records = st.builds(
    FileRecord,
    path=paths,
    lastmodified=texts,
    recipients_before=st.lists(texts, max_size=2).map(tuple),
    recipients_after=st.lists(texts, max_size=2).map(tuple),
    datakey_id=texts,
    sha256_before=texts,
    sha256_after=texts,
)
actions = st.sampled_from(["rotate", "encrypt", "key-rotate-begin", "key-rotate-finish"])


@st.composite
def changelogs(draw: st.DrawFn, min_size: int = 1) -> list[bytes]:
    """The lines of a valid changelog (without newlines)."""
    data = b""
    for _ in range(draw(st.integers(min_size, 6))):
        entry = next_entry(
            data,
            time=draw(times),
            actor=draw(texts),
            action=draw(actions),
            reason=draw(texts),
            layers=draw(st.lists(texts, max_size=3)),
            files=draw(st.lists(records, max_size=3)),
        )
        data = append(data, entry)
    lines = data.split(b"\n")[:-1]
    assert verify(data) is None
    return lines


def join(lines: list[bytes]) -> bytes:
    return b"".join(line + b"\n" for line in lines)


@given(changelogs(), st.data())
def test_editing_any_byte_breaks_at_that_line(lines: list[bytes], data: st.DataObject) -> None:
    k = data.draw(st.integers(0, len(lines) - 1), label="line")
    pos = data.draw(st.integers(0, len(lines[k]) - 1), label="byte")
    value = data.draw(st.integers(0, 255).filter(lambda b: b != lines[k][pos]), label="value")
    edited = bytearray(lines[k])
    edited[pos] = value
    assert verify(join([*lines[:k], bytes(edited), *lines[k + 1 :]])) == k + 1


@given(changelogs(min_size=2), st.data())
def test_deleting_any_line_but_the_last_breaks_at_its_seq(
    lines: list[bytes], data: st.DataObject
) -> None:
    k = data.draw(st.integers(0, len(lines) - 2), label="line")
    assert verify(join(lines[:k] + lines[k + 1 :])) == k + 1


@given(changelogs())
def test_deleting_the_last_line_leaves_a_valid_shorter_chain(lines: list[bytes]) -> None:
    # Nothing inside the file can tell; `log --verify` catches it through lastmodified coverage.
    assert verify(join(lines[:-1])) is None


@given(changelogs(min_size=2), st.data())
def test_swapping_two_lines_breaks_at_the_first(lines: list[bytes], data: st.DataObject) -> None:
    i = data.draw(st.integers(0, len(lines) - 2), label="i")
    j = data.draw(st.integers(i + 1, len(lines) - 1), label="j")
    swapped = list(lines)
    swapped[i], swapped[j] = swapped[j], swapped[i]
    assert verify(join(swapped)) == i + 1


@given(changelogs(), st.data())
def test_inserting_a_copy_breaks_at_the_copy(lines: list[bytes], data: st.DataObject) -> None:
    src = data.draw(st.integers(0, len(lines) - 1), label="copied")
    at = data.draw(st.integers(0, len(lines)), label="at")
    # next to its original, the second of the two identical lines is the intruder
    expected = src + 2 if at in (src, src + 1) else at + 1
    assert verify(join([*lines[:at], lines[src], *lines[at:]])) == expected


@given(changelogs(), st.data())
def test_truncating_anywhere_inside_a_line_breaks_at_that_line(
    lines: list[bytes], data: st.DataObject
) -> None:
    k = data.draw(st.integers(0, len(lines) - 1), label="line")
    cut = data.draw(st.integers(1, len(lines[k]) - 1), label="cut")
    assert verify(join(lines[:k]) + lines[k][:cut]) == k + 1
