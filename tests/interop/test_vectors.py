"""Every vector in tests/vectors/: our decrypt and the real sops agree on it.

ok             -> our output is byte-identical to expected.<ext> and to ``sops decrypt``;
mac-mismatch   -> IntegrityError, sops exits 51;
no-identity    -> DecryptionError, sops exits 128;
malformed-enc  -> FormatError, sops exits 25 ("does not match sops' data format").
ok vectors also go through dump(load(x)) == x, an in-place re-seal with the same data key and
IVs, and a re-encrypt with the same rule and recipients that ``sops decrypt`` must read back.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from conftest import run_sops
from vectors.loader import KEYS_DIR, Vector, all_vectors

from secretsmgr import sops
from secretsmgr.errors import DecryptionError, FormatError, IntegrityError
from secretsmgr.keys.age import AgeIdentity, AgeRecipient, parse_identities
from secretsmgr.sops.encvalue import is_enc
from secretsmgr.sops.model import RuleKind
from secretsmgr.sops.tree import MapNode, Node, SeqNode
from secretsmgr.sops.values import Comment

pytestmark = pytest.mark.interop

VECTORS = all_vectors()
OK = [v for v in VECTORS if v.expect == "ok"]
SOPS_EXIT = {"mac-mismatch": 51, "no-identity": 128, "malformed-enc": 25}
OUR_ERROR: dict[str, type[Exception]] = {
    "mac-mismatch": IntegrityError,
    "no-identity": DecryptionError,
    "malformed-enc": FormatError,
}


def ids(vectors: list[Vector]) -> list[str]:
    return [v.name for v in vectors]


def identities(v: Vector) -> list[AgeIdentity]:
    return [parse_identities(v.identity_text(), f"vector {v.name}")]


def read(v: Vector) -> str:
    return v.encrypted.read_bytes().decode("utf-8")


def expected(v: Vector) -> str:
    assert v.expected is not None
    return v.expected.read_bytes().decode("utf-8")


def fmt_of(v: Vector) -> sops.FileFormat:
    return sops.format_for_path(v.encrypted.name)


def enc_strings(docs: list[MapNode]) -> list[str]:
    """Every ENC[...] leaf in walk order, comment or value alike."""
    out: list[str] = []

    def visit(node: Node | Comment) -> None:
        if isinstance(node, MapNode):
            for item in node.items:
                visit(item if isinstance(item, Comment) else item[1])
        elif isinstance(node, SeqNode):
            for element in node.items:
                visit(element)
        else:
            text = node.text if isinstance(node, Comment) else node
            if isinstance(text, str) and is_enc(text):
                out.append(text)

    for doc in docs:
        visit(doc)
    return out


@pytest.mark.parametrize("v", VECTORS, ids=ids(VECTORS))
def test_our_decrypt_matches_expect(v: Vector) -> None:
    fmt = fmt_of(v)
    if v.expect == "ok":
        d = sops.decrypt(sops.load(read(v), fmt), identities(v))
        assert sops.dump_plain(d.docs, fmt) == expected(v)
    else:
        with pytest.raises(OUR_ERROR[v.expect]):
            sops.decrypt(sops.load(read(v), fmt), identities(v))


@pytest.mark.parametrize("v", VECTORS, ids=ids(VECTORS))
def test_sops_agrees_with_expect(v: Vector) -> None:
    r = run_sops(["decrypt", str(v.encrypted)], key_text=v.identity_text())
    if v.expect == "ok":
        assert (r.returncode, r.stderr) == (0, "")
        assert r.stdout == expected(v)
    else:
        assert r.returncode == SOPS_EXIT[v.expect], r.stderr
        assert r.stdout == ""
    if v.expect == "malformed-enc":
        assert "does not match sops' data format" in r.stderr


def _sops_section_sorted(text: str) -> str:
    """An INI file with its ``[sops]`` lines sorted: sops writes them in Go map order (random
    on every write), secretsmgr sorted."""
    head, sep, meta = text.partition("[sops]\n")
    return head + sep + "".join(sorted(meta.splitlines(keepends=True)))


@pytest.mark.parametrize("v", VECTORS, ids=ids(VECTORS))
def test_dump_of_load_is_byte_identical(v: Vector) -> None:
    text = read(v)
    if fmt_of(v) is sops.FileFormat.INI:
        text = _sops_section_sorted(text)
    assert sops.dump(sops.load(text, fmt_of(v))) == text


@pytest.mark.parametrize("v", OK, ids=ids(OK))
def test_reseal_with_same_key_and_ivs_keeps_every_enc_value(v: Vector, tmp_path: Path) -> None:
    """Like ``sops set`` with no change: every ENC value comes out byte-identical."""
    fmt = fmt_of(v)
    sf = sops.load(read(v), fmt)
    d = sops.decrypt(sf, identities(v))
    again = sops.seal(
        d.docs,
        fmt=fmt,
        data_key=d.data_key,
        metadata=sf.metadata,
        ivs=d.ivs,
        lastmodified=sf.metadata.lastmodified,
    )
    assert enc_strings(again.docs) == enc_strings(sf.docs)
    assert again.metadata.key_groups == sf.metadata.key_groups
    path = tmp_path / v.encrypted.name
    path.write_text(sops.dump(again), encoding="utf-8")
    r = run_sops(["decrypt", str(path)], key_text=v.identity_text())
    assert (r.returncode, r.stderr, r.stdout) == (0, "", expected(v))


@pytest.mark.parametrize("v", OK, ids=ids(OK))
def test_reencrypt_round_trip_through_sops(v: Vector, tmp_path: Path) -> None:
    """decrypt -> encrypt anew (same rule, recipients, flags) -> ``sops decrypt`` == expected."""
    fmt = fmt_of(v)
    sf = sops.load(read(v), fmt)
    d = sops.decrypt(sf, identities(v))
    meta = sf.metadata
    groups = [[AgeRecipient(r) for r in g.recipients] for g in meta.key_groups]
    fresh = sops.encrypt(
        d.docs,
        fmt=fmt,
        groups=groups,
        rule=meta.rule,
        mac_only_encrypted=meta.mac_only_encrypted,
        shamir_threshold=meta.shamir_threshold,
    )
    assert fresh.metadata.rule == meta.rule
    assert fresh.metadata.mac_only_encrypted == meta.mac_only_encrypted
    assert fresh.metadata.shamir_threshold == meta.shamir_threshold
    assert fresh.metadata.age_recipients == meta.age_recipients
    text = sops.dump(fresh)
    assert len(enc_strings(fresh.docs)) == len(enc_strings(sf.docs))
    path = tmp_path / v.encrypted.name
    path.write_text(text, encoding="utf-8")
    r = run_sops(["decrypt", str(path)], key_text=v.identity_text())
    assert (r.returncode, r.stderr) == (0, "")
    assert r.stdout == expected(v)
    ours = sops.decrypt(sops.load(text, fmt), identities(v))
    assert sops.dump_plain(ours.docs, fmt) == expected(v)
    assert sops.dump(sops.load(text, fmt)) == text


KEY_GROUPS = next(v for v in VECTORS if v.name == "key-groups")
KEY_FILES = sorted(p.name for p in KEYS_DIR.glob("test-only-*.agekey"))


@pytest.mark.parametrize(
    "names", list(itertools.combinations(KEY_FILES, 2)), ids=lambda n: "+".join(n)
)
def test_key_groups_open_with_any_two_of_three_keys(names: tuple[str, ...]) -> None:
    text = "".join((KEYS_DIR / n).read_text(encoding="utf-8") for n in names)
    d = sops.decrypt(
        sops.load(read(KEY_GROUPS), sops.FileFormat.YAML), [parse_identities(text, "t")]
    )
    assert d.data_key.hex() == "3ace366d1d1a58899b15134b779eaa55a05e3eeb8b276979e1e4a8bd8bc91411"
    assert sops.dump_plain(d.docs, sops.FileFormat.YAML) == expected(KEY_GROUPS)
    r = run_sops(["decrypt", str(KEY_GROUPS.encrypted)], key_text=text)
    assert (r.returncode, r.stdout) == (0, expected(KEY_GROUPS))


@pytest.mark.parametrize("name", KEY_FILES)
def test_key_groups_refuse_a_single_key(name: str) -> None:
    text = (KEYS_DIR / name).read_text(encoding="utf-8")
    with pytest.raises(DecryptionError):
        sops.decrypt(
            sops.load(read(KEY_GROUPS), sops.FileFormat.YAML), [parse_identities(text, "t")]
        )
    assert run_sops(["decrypt", str(KEY_GROUPS.encrypted)], key_text=text).returncode == 128


# Data keys and plaintext MACs published in the shared vectors README (../shared/vectors).
README_KEYS = {
    "k8s-secret": ("3a5a3ac09d8513b65d30f05da1a1e0b8fb6bd4d9ca10eafa55e2c4ae38163679", "23E4330C"),
    "k8s-secret-maconly": (
        "6ff3b7aa8552adffad21cfb0139924649d8386b740f84b0386e92a739c1e9ddf",
        "9C510B85",
    ),
    "nested": ("359839ca9afa9e5860dcf1674349f3c60d79147f3f5a81f0883d8a46b31dc428", "D10F1274"),
    "with-comments": (
        "204075b805b7c4f810f83f11ff150695d0d7947b94529ff2e667f400e8e1b68b",
        "D7E5C0AE",
    ),
    "multi-doc": ("c6e3edc0f034bdfd47559102d45cbb8f1fe43703c909b6eb177412c6e37100e5", "98955E77"),
    "app-json": ("62dfde24fc5b39f5624b3e255e94d664409729752dd2727f332836af437797b5", "952155B6"),
    "app-env": ("6bc51c99d1a93915a6358f2d443117a8aa695b464af60ba3b154e716e25ab128", "7B2CA402"),
}


@pytest.mark.parametrize("name", sorted(README_KEYS))
def test_data_key_and_mac_match_the_published_values(name: str) -> None:
    from secretsmgr.sops.document import stored_mac
    from secretsmgr.sops.mac import compute_mac

    v = next(v for v in VECTORS if v.name == name)
    sf = sops.load(read(v), fmt_of(v))
    d = sops.decrypt(sf, identities(v))
    key_hex, mac_prefix = README_KEYS[name]
    assert d.data_key.hex() == key_hex
    mac = stored_mac(sf.metadata, d.data_key)
    assert mac.startswith(mac_prefix)
    assert len(mac) == 128
    assert compute_mac(d.docs, sf.metadata.rule, sf.metadata.mac_only_encrypted) == mac


def test_metadata_rules_are_read_from_the_files() -> None:
    by_name = {v.name: sops.load(read(v), fmt_of(v)).metadata for v in VECTORS}
    assert by_name["k8s-secret"].rule == sops.EncryptionRule(
        RuleKind.ENCRYPTED_REGEX, "^(data|stringData)$"
    )
    assert by_name["k8s-secret-maconly"].mac_only_encrypted is True
    assert by_name["nested"].rule == sops.EncryptionRule()
    assert by_name["key-groups"].shamir_threshold == 2
    assert len(by_name["key-groups"].key_groups) == 3
    assert by_name["app-env"].version == "3.11.0"
