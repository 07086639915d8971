"""The vector loader is strict, and the committed vectors satisfy it."""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

import pytest

from . import regen
from .loader import (
    EXPECTS,
    VECTORS_DIR,
    VectorError,
    all_vectors,
    load_vector,
    parse_vector_toml,
)

ALL_CASES = {
    "app-env",
    "app-ini",
    "app-json",
    "k8s-secret",
    "k8s-secret-maconly",
    "k8s-secret-tampered",
    "key-groups",
    "key-groups-one-key",
    "lastmodified-edited",
    "malformed-enc",
    "multi-doc",
    "nested",
    "with-comments",
    "wrong-key",
}

GOOD = """\
expect = "mac-mismatch"
identities = ["test-only-1.agekey"]
generated-by = "sops 3.11.0"
comment = "hand-broken: something"
"""


def test_every_case_loads() -> None:
    vectors = all_vectors()
    assert {v.name for v in vectors} == ALL_CASES
    assert [v.name for v in vectors] == sorted(ALL_CASES)
    assert {v.expect for v in vectors} == EXPECTS


def test_ok_vectors_carry_the_plaintext_hash() -> None:
    for v in all_vectors():
        if v.expect == "ok":
            assert v.expected is not None
            digest = hashlib.sha256(v.expected.read_bytes()).hexdigest()
            assert digest == v.plaintext_sha256
        else:
            assert v.expected is None
            assert v.plaintext_sha256 is None


def test_sops_made_and_hand_broken_cases_are_all_described_by_regen() -> None:
    assert set(regen.SOURCES) | set(regen.DERIVED) == ALL_CASES
    for v in all_vectors():
        if v.name in regen.SOURCES:
            src = regen.SOURCES[v.name]
            assert (v.expect, v.identities, v.ext, v.comment) == (
                "ok",
                src.identities,
                src.ext,
                src.comment,
            )
        else:
            d = regen.DERIVED[v.name]
            assert (v.expect, v.identities, v.comment) == (d.expect, d.identities, d.comment)
            assert "HAND-BROKEN" in v.comment


@pytest.mark.parametrize("name", sorted(regen.DERIVED))
def test_hand_broken_files_are_the_documented_edit_of_their_source(name: str) -> None:
    derived = regen.DERIVED[name]
    ext = regen.SOURCES[derived.source].ext
    source = (VECTORS_DIR / derived.source / f"file.enc.{ext}").read_text(encoding="utf-8")
    broken = (VECTORS_DIR / name / f"file.enc.{ext}").read_text(encoding="utf-8")
    assert derived.edit(source) == broken
    changed = [
        (a, b) for a, b in zip(source.split("\n"), broken.split("\n"), strict=True) if a != b
    ]
    assert len(changed) == (0 if derived.edit is regen.unchanged else 1)


def test_regen_toml_round_trips_through_the_loader() -> None:
    text = regen.vector_toml("ok", ("test-only-1.agekey",), "0" * 64, 'a "quoted" comment')
    data = parse_vector_toml(text)
    assert data["comment"] == 'a "quoted" comment'
    assert data["generated-by"] == regen.GENERATED_BY


def test_good_toml_parses() -> None:
    assert parse_vector_toml(GOOD)["expect"] == "mac-mismatch"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (GOOD + 'extra = "x"\n', "unknown key(s): extra"),
        (GOOD + "[table]\n", "unknown key(s): table"),
        (GOOD.replace("mac-mismatch", "mac-mistmatch"), "unknown expect 'mac-mistmatch'"),
        (GOOD.replace('"mac-mismatch"', "1"), "unknown expect 1"),
        (GOOD.replace("mac-mismatch", "OK"), "unknown expect 'OK'"),
        (GOOD.replace('comment = "hand-broken: something"\n', ""), "missing key(s): comment"),
        (GOOD.replace('expect = "mac-mismatch"\n', ""), "missing key(s): expect"),
        (GOOD.replace('["test-only-1.agekey"]', "[]"), "identities must be"),
        (GOOD.replace('["test-only-1.agekey"]', '"test-only-1.agekey"'), "identities must be"),
        (GOOD.replace("test-only-1.agekey", "../keys.txt"), "identities must be"),
        (
            GOOD.replace('["test-only-1.agekey"]', '["test-only-1.agekey", "test-only-1.agekey"]'),
            "identities must be",
        ),
        (GOOD.replace("sops 3.11.0", "sops 3.13.2"), "generated-by must be"),
        (GOOD.replace('"hand-broken: something"', '" "'), "comment must be"),
        (GOOD + f'plaintext_sha256 = "{"0" * 64}"\n', "only for expect = 'ok'"),
        (GOOD.replace("mac-mismatch", "ok"), "needs plaintext_sha256"),
        (
            GOOD.replace("mac-mismatch", "ok") + f'plaintext_sha256 = "{"A" * 64}"\n',
            "needs plaintext_sha256",
        ),
        ("expect = ", "not valid TOML"),
    ],
)
def test_loader_rejects(text: str, message: str) -> None:
    with pytest.raises(VectorError) as info:
        parse_vector_toml(text)
    assert message in str(info.value)


def _copy_case(tmp_path: Path, name: str) -> Path:
    dst = tmp_path / "cases" / name
    shutil.copytree(VECTORS_DIR / name, dst)
    return dst


def test_copied_case_loads(tmp_path: Path) -> None:
    case = _copy_case(tmp_path, "k8s-secret")
    vector = load_vector(case)
    assert vector.expect == "ok"
    assert vector.encrypted == case / "file.enc.yaml"
    assert vector.identity_text().count("AGE-SECRET-KEY-1") == 1


def test_loader_rejects_a_wrong_plaintext_hash(tmp_path: Path) -> None:
    case = _copy_case(tmp_path, "k8s-secret")
    (case / "expected.yaml").write_text("changed: true\n", encoding="utf-8")
    with pytest.raises(VectorError, match=re.escape("sha256 of expected.yaml")):
        load_vector(case)


def test_loader_rejects_an_ok_case_without_its_expected_file(tmp_path: Path) -> None:
    case = _copy_case(tmp_path, "app-json")
    (case / "expected.json").unlink()
    with pytest.raises(VectorError, match=re.escape("needs expected.json")):
        load_vector(case)


def test_loader_rejects_stray_files(tmp_path: Path) -> None:
    case = _copy_case(tmp_path, "wrong-key")
    (case / "notes.txt").write_text("x", encoding="utf-8")
    with pytest.raises(VectorError, match="unexpected file"):
        load_vector(case)


def test_loader_rejects_two_encrypted_files(tmp_path: Path) -> None:
    case = _copy_case(tmp_path, "wrong-key")
    shutil.copy(case / "file.enc.yaml", case / "file.enc.json")
    with pytest.raises(VectorError, match=re.escape("exactly one file.enc")):
        load_vector(case)


def test_loader_rejects_a_missing_identity_file(tmp_path: Path) -> None:
    case = _copy_case(tmp_path, "wrong-key")
    toml = case / "vector.toml"
    toml.write_text(
        toml.read_text(encoding="utf-8").replace("test-only-2", "test-only-9"), encoding="utf-8"
    )
    with pytest.raises(VectorError, match=re.escape("test-only-9.agekey not found")):
        load_vector(case)


def test_all_vectors_rejects_a_case_without_toml(tmp_path: Path) -> None:
    case = _copy_case(tmp_path, "wrong-key")
    (case / "vector.toml").unlink()
    with pytest.raises(VectorError, match=re.escape("no vector.toml")):
        all_vectors(tmp_path / "cases")
