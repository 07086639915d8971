"""Our go-yaml scalar resolver against the real one: sops encrypts a file of plain scalars, and the
``type:`` tag plus plaintext of every ENC value says what go-yaml resolved each one to.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from conftest import TEST_KEY, run_sops

from secretsmgr import sops
from secretsmgr.errors import FormatError
from secretsmgr.keys.age import parse_identities
from secretsmgr.sops.tree import MapNode
from secretsmgr.sops.values import resolve_plain

pytestmark = pytest.mark.interop

PUB = "age17m4zztwdtjwv5yastfc6v72cjnsrn7yuxlpmgwgr5c8s52lst4jq9x0tvy"

SPELLINGS = [
    # null and bool
    "~",
    "null",
    "Null",
    "NULL",
    "true",
    "True",
    "TRUE",
    "false",
    "FALSE",
    "tRue",
    "yes",
    "No",
    "on",
    "OFF",
    "y",
    "n",
    # integers
    "0",
    "-0",
    "+12",
    "0777",
    "-0777",
    "08",
    "09",
    "0x1F",
    "0X1f",
    "0o17",
    "0O17",
    "0b101",
    "1_000",
    "-1_000_000",
    "9223372036854775807",
    "-9223372036854775808",
    "18446744073709551616",
    "99999999999999999999999",
    "0x",
    "0b",
    "1__0",
    "_1",
    # floats
    "1.5",
    "1.",
    ".5",
    "-.5",
    "+.5",
    "1e3",
    "1E3",
    "1e+3",
    "1.5e-3",
    "1_0.5",
    ".inf",
    "+.inf",
    "-.Inf",
    ".INF",
    ".nan",
    ".NaN",
    ".NAN",
    "1e400",
    "-1e400",
    "1e-400",
    "0.1e1_0",
    # timestamps and near misses
    "2024-01-02",
    "2024-1-2",
    "2024-01-02T03:04:05Z",
    "2024-01-02t03:04:05.123456789Z",
    "2024-01-02T03:04:05+05:30",
    "2024-01-02 03:04:05",
    "2024-01-02 03:04:05.10",
    "2001-12-14 21:59:43.10 -5",
    "2024-02-30",
    "2023-02-29",
    "2024-02-29",
    "2024-13-01",
    "2024-01-02T25:00:00Z",
    "99999-01-01",
    # strings
    "1:20",
    "12:30:45",
    "0x1G",
    "1e",
    "e3",
    "+",
    ".",
    "..",
    "1.2.3",
    "abc",
    "ENC[x",
]


def _key(i: int) -> str:
    return f"v{i:03d}"


def test_resolver_agrees_with_go_yaml(tmp_path: Path) -> None:
    plain = "".join(f"{_key(i)}: {s}\n" for i, s in enumerate(SPELLINGS))
    (tmp_path / "x.yaml").write_text(plain, encoding="utf-8")
    r = run_sops(["encrypt", "--age", PUB, "x.yaml"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    ids = [parse_identities(TEST_KEY.read_text(encoding="utf-8"), "test")]
    decrypted = sops.decrypt(sops.load(r.stdout, sops.FileFormat.YAML), ids).docs[0]
    assert isinstance(decrypted, MapNode)
    wrong = []
    for i, spelling in enumerate(SPELLINGS):
        theirs = decrypted.get(_key(i))
        ours = resolve_plain(spelling)
        same = type(ours) is type(theirs) and (
            ours == theirs or (isinstance(ours, float) and math.isnan(ours) and math.isnan(theirs))  # type: ignore[arg-type]
        )
        if not same:
            wrong.append((spelling, ours, theirs))
    assert wrong == []


@pytest.mark.parametrize("spelling", ["18446744073709551615", "9223372036854775808"])
def test_integers_above_int64_within_uint64_are_refused_by_both(
    spelling: str, tmp_path: Path
) -> None:
    (tmp_path / "x.yaml").write_text(f"a: {spelling}\n", encoding="utf-8")
    r = run_sops(["encrypt", "--age", PUB, "x.yaml"], cwd=tmp_path)
    assert r.returncode != 0
    assert "uint64" in r.stderr
    with pytest.raises(FormatError):
        resolve_plain(spelling)
