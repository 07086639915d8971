"""Shamir secret sharing over GF(2^8), byte-compatible with sops (spec §8)."""

from __future__ import annotations

import itertools

import pytest
from conftest import VECTORS
from hypothesis import given
from hypothesis import strategies as st

from secretsmgr.errors import FormatError
from secretsmgr.keys.age import parse_identities
from secretsmgr.sops import load, shamir
from secretsmgr.sops.document import FileFormat

KEYS = VECTORS / "keys"
# The key-groups vector's data key, published in the shared vectors README.
KEY_GROUPS_DATA_KEY = "3ace366d1d1a58899b15134b779eaa55a05e3eeb8b276979e1e4a8bd8bc91411"


def test_field_arithmetic_matches_fips_197() -> None:
    assert shamir.gf_mul(0x57, 0x83) == 0xC1
    assert shamir.gf_mul(0x57, 0x13) == 0xFE
    assert shamir.gf_mul(0x53, 0xCA) == 0x01
    assert shamir.gf_div(0x01, 0x53) == 0xCA
    assert shamir.gf_mul(0, 0x53) == shamir.gf_div(0, 0x53) == 0


@given(st.integers(1, 255), st.integers(1, 255))
def test_division_inverts_multiplication(a: int, b: int) -> None:
    assert shamir.gf_div(shamir.gf_mul(a, b), b) == a


def test_division_by_zero() -> None:
    with pytest.raises(ZeroDivisionError):
        shamir.gf_div(1, 0)


@st.composite
def splits(draw: st.DrawFn) -> tuple[bytes, int, int, list[int]]:
    secret = draw(st.binary(min_size=1, max_size=40))
    parts = draw(st.integers(2, 8))
    threshold = draw(st.integers(2, parts))
    chosen = draw(st.permutations(range(parts)))[: draw(st.integers(threshold, parts))]
    return secret, parts, threshold, list(chosen)


@given(splits())
def test_any_threshold_subset_recovers_the_secret(case: tuple[bytes, int, int, list[int]]) -> None:
    secret, parts, threshold, chosen = case
    shares = shamir.split(secret, parts, threshold)
    assert len(shares) == parts
    assert all(len(s) == len(secret) + 1 for s in shares)
    assert [s[-1] for s in shares] == list(range(1, parts + 1))
    assert shamir.combine([shares[i] for i in chosen]) == secret


def test_fewer_shares_than_the_threshold_give_something_else() -> None:
    secret = bytes(range(32))
    shares = shamir.split(secret, 3, 3)
    assert shamir.combine(shares[:2]) != secret


def _key_group_shares() -> list[bytes]:
    text = (VECTORS / "key-groups" / "file.enc.yaml").read_text(encoding="utf-8")
    meta = load(text, FileFormat.YAML).metadata
    keys = [
        parse_identities((KEYS / f"test-only-{i}.agekey").read_text(encoding="utf-8"), "t")
        for i in (1, 2, 3)
    ]
    shares = []
    for group, ident in zip(meta.key_groups, keys, strict=True):
        share = ident.unwrap(group.age[0].enc)
        assert share is not None
        shares.append(share)
    return shares


def test_sops_written_shares_combine_to_the_published_data_key() -> None:
    shares = _key_group_shares()
    assert [len(s) for s in shares] == [33, 33, 33]
    assert [s[-1] for s in shares] == [1, 2, 3]
    for pair in itertools.permutations(shares, 2):
        assert shamir.combine(list(pair)).hex() == KEY_GROUPS_DATA_KEY
    assert shamir.combine(shares).hex() == KEY_GROUPS_DATA_KEY


@pytest.mark.parametrize(("parts", "threshold"), [(3, 1), (2, 3), (256, 2), (1, 1)])
def test_split_refuses_bad_parameters(parts: int, threshold: int) -> None:
    with pytest.raises(FormatError):
        shamir.split(b"secret", parts, threshold)


def test_combine_refuses_bad_shares() -> None:
    a, b = shamir.split(b"secret", 2, 2)
    with pytest.raises(FormatError):
        shamir.combine([a])
    with pytest.raises(FormatError):
        shamir.combine([a, a])
    with pytest.raises(FormatError):
        shamir.combine([a, b + b"x"])
