"""Whether a committed private key block holds a secret, in clear or under a passphrase: OpenPGP
packet streams built here byte by byte (real keys of each format are in test_sm009)."""

from __future__ import annotations

import base64

from secretsmgr.audit.keyprotection import CLEAR, NO_SECRET, PROTECTED, key_state

_ED25519 = bytes.fromhex("092b06010401da470f01")
_CV25519 = bytes.fromhex("0a2b060104019755010501")


def _packet(tag: int, body: bytes) -> bytes:
    """A new-format packet (five-octet length)."""
    return bytes([0xC0 | tag, 255]) + len(body).to_bytes(4, "big") + body


def _mpi(data: bytes) -> bytes:
    return (len(data) * 8).to_bytes(2, "big") + data


def _stub_primary() -> bytes:
    """A v4 EdDSA secret key GnuPG exported without its secret (gnu-dummy)."""
    public = b"\x04" + b"\x00" * 4 + bytes([22]) + _ED25519 + _mpi(b"\x40" + b"\x11" * 32)
    return _packet(5, public + b"\xff\x00" + bytes([101, 0]) + b"GNU\x01")


def _subkey(usage: int) -> bytes:
    """A v4 ECDH secret subkey: in clear (usage 0) or under a passphrase (254)."""
    kdf = b"\x03\x01\x08\x07"
    public = b"\x04" + b"\x00" * 4 + bytes([18]) + _CV25519 + _mpi(b"\x40" + b"\x22" * 32) + kdf
    secret = _mpi(b"\x33" * 32) if usage == 0 else b"\x09\x03\x08" + b"\x44" * 48
    return _packet(7, public + bytes([usage]) + secret)


def _armor(raw: bytes) -> bytes:
    body = base64.b64encode(raw).decode()
    lines = "\n".join(body[i : i + 64] for i in range(0, len(body), 64))
    return (
        f"-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n{lines}\n-----END PGP PRIVATE KEY BLOCK-----\n"
    ).encode()


def test_a_stub_alone_holds_no_secret_and_a_clear_subkey_after_it_is_clear() -> None:
    assert key_state(_armor(_stub_primary())) == NO_SECRET
    assert key_state(_armor(_stub_primary() + _subkey(0))) == CLEAR
    assert key_state(_armor(_stub_primary() + _subkey(254))) == PROTECTED


def test_a_clear_subkey_after_thousands_of_packets_is_still_found() -> None:
    # the third attack review: only 64 packets were read, so a stub and 70 user ids before a
    # clear subkey made the block "no secret", and the gate passed it
    uids = b"".join(_packet(13, f"Fake {i} <f{i}@example.invalid>".encode()) for i in range(5000))
    assert key_state(_armor(_stub_primary() + uids + _subkey(0))) == CLEAR


def test_a_block_of_more_than_400_lines_is_found() -> None:
    # the fourth attack review: a key with a photo id runs past 400 armored lines, which the
    # block's pattern allowed at most, so a clear key of that size was reported by nothing
    from secretsmgr.audit.rules.sm009_private_key_committed import find_pem_keys

    photo = _packet(17, b"\x01" * 30_000)
    block = _armor(_stub_primary() + photo + _subkey(0))
    assert block.count(b"\n") > 600
    (hit,) = find_pem_keys("keys/backup.asc", b"# exported\n" + block)
    assert (hit.line, hit.protected) == (2, False)
