"""Whether a committed private key block is encrypted with a passphrase.

A passphrase-protected key in git is still a leak (its passphrase can be guessed offline, for
ever), but "in clear" would be untrue of it. Each format says so in its own place:

- PEM: PKCS#8's ``ENCRYPTED PRIVATE KEY`` label, or OpenSSL's ``Proc-Type: 4,ENCRYPTED``
  header (traditional RSA/EC keys);
- OpenSSH (``openssh-key-v1``): the cipher name after the magic, ``none`` when in clear;
- OpenPGP (RFC 4880/9580): the S2K usage octet after the public key material of each secret
  key and subkey packet, 0 when in clear; GnuPG's stubs (a key exported without its secret)
  hold none.

Pure: bytes in, an answer out; nothing here keeps or shows key material. Anything that does not
parse is taken as not protected (the stricter wording).
"""

from __future__ import annotations

import base64
import binascii

_OPENSSH_MAGIC = b"openssh-key-v1\x00"
# OpenPGP public-key algorithms: how many MPIs their v4 public key material holds
_MPIS = {1: 2, 2: 2, 3: 2, 16: 3, 20: 3, 17: 4}
_OID_MPI = (19, 22)  # ECDSA, EdDSA (legacy): an OID, then one MPI
_ECDH = 18  # an OID, one MPI, then the KDF parameters (a length octet, then that many)
_NATIVE = {25: 32, 26: 56, 27: 32, 28: 57}  # X25519, X448, Ed25519, Ed448: fixed-size keys


CLEAR, PROTECTED, NO_SECRET = "clear", "protected", "no secret"


def key_state(block: bytes) -> str:
    """``CLEAR``, ``PROTECTED`` (by a passphrase) or ``NO_SECRET`` (an OpenPGP export of
    GnuPG's stubs alone: ``--export-secret-subkeys`` of a key with no subkey) for the PEM or
    ASCII-armored private key ``block``."""
    lines = block.decode("ascii", "replace").splitlines()
    if not lines:
        return CLEAR
    head = lines[0]
    if "ENCRYPTED PRIVATE KEY" in head:
        return PROTECTED
    headers = [line for line in lines[1:10] if ":" in line]
    if any(h.startswith("Proc-Type:") and "ENCRYPTED" in h for h in headers):
        return PROTECTED
    body = "".join(
        line.strip()
        for line in lines[1:-1]
        if line.strip() and ":" not in line and not line.startswith("=")
    )
    try:
        raw = base64.b64decode(body + "=" * (-len(body) % 4), validate=False)
    except (binascii.Error, ValueError):
        return CLEAR
    if "OPENSSH PRIVATE KEY" in head:
        return PROTECTED if _openssh_cipher(raw) not in (None, b"none") else CLEAR
    if "PGP PRIVATE KEY BLOCK" in head:
        return _pgp_state(raw)
    return CLEAR


def _openssh_cipher(raw: bytes) -> bytes | None:
    """The cipher name of an ``openssh-key-v1`` key, or None when it is none."""
    if not raw.startswith(_OPENSSH_MAGIC):
        return None
    at = len(_OPENSSH_MAGIC)
    size = int.from_bytes(raw[at : at + 4], "big")
    name = raw[at + 4 : at + 4 + size]
    return name if len(name) == size and size else None


def _pgp_state(raw: bytes) -> str:
    """Protected where every secret key and subkey packet of ``raw`` that holds a secret is
    (the attack review: an export of subkeys starts with the primary key's GnuPG stub, S2K
    usage 255, and the subkey after it was in clear); no secret where each is a stub.
    Unreadable: in clear."""
    protected = stubs = False
    at = 0
    view = memoryview(raw)
    for _ in range(_MAX_PACKETS):
        packet = _packet_body(view[at:])  # a view: no copy of the rest for each packet
        if packet is None:
            break
        tag, body, size = packet
        if tag in _PGP_SECRET_KEYS:
            usage = _pgp_usage(body)
            if usage is None or usage == 0:
                return CLEAR
            if _gnu_stub(body, usage):
                stubs = True
            else:
                protected = True
        at += size
    else:  # packets left unread may hold a secret in clear (the attack review: 34 user ids)
        return CLEAR
    if protected:
        return PROTECTED
    return NO_SECRET if stubs else CLEAR


_PGP_SECRET_KEYS = (5, 7)  # a secret key, a secret subkey
_MAX_PACKETS = 4096


def _gnu_stub(body: bytes, usage: int) -> bool:
    """A v4 packet GnuPG exports without its secret (``gnu-dummy``, or one kept on a card):
    usage 254/255, a cipher octet, then S2K type 101 with the marker ``GNU``."""
    if body[:1] != b"\x04" or usage not in (254, 255):
        return False
    end = _v4_material_end(body, body[5])
    if end is None:
        return False
    s2k = body[end + 1 : end + 7]  # after the usage octet: cipher, type, hash, "GNU"
    return len(s2k) == 6 and s2k[1] == 101 and s2k[3:6] == b"GNU"


def _packet_body(raw: memoryview) -> tuple[int, bytes, int] | None:
    """The tag and body of the first OpenPGP packet of ``raw``, and its whole size."""
    if not raw or not raw[0] & 0x80:
        return None
    first = raw[0]
    if first & 0x40:  # the new format: the tag in six bits, then a variable length
        tag = first & 0x3F
        if len(raw) < 2:
            return None
        octet = raw[1]
        if octet < 192:
            start, length = 2, octet
        elif octet < 224:
            start, length = 3, ((octet - 192) << 8) + raw[2] + 192 if len(raw) > 2 else 0
        elif octet == 255:
            start, length = 6, int.from_bytes(raw[2:6], "big")
        else:  # a partial length: the first part is enough to read the header
            start, length = 2, 1 << (octet & 0x1F)
    else:  # the old format: the tag in four bits, the length's size in two
        tag = (first >> 2) & 0x0F
        size = {0: 1, 1: 2, 2: 4}.get(first & 0x03)
        if size is None:  # an indeterminate length: to the end
            start, length = 1, len(raw) - 1
        else:
            start, length = 1 + size, int.from_bytes(raw[1 : 1 + size], "big")
    if length <= 0:
        return None
    return tag, bytes(raw[start : start + length]), start + length


def _pgp_usage(body: bytes) -> int | None:
    """The S2K usage octet of a secret key packet's ``body``, or None."""
    if len(body) < 7:
        return None
    version, algo = body[0], body[5]
    if version in (5, 6):  # the public material's size is given (RFC 9580)
        size = int.from_bytes(body[6:10], "big")
        at = 10 + size
    elif version == 4:
        end = _v4_material_end(body, algo)
        if end is None:
            return None
        at = end
    else:
        return None
    return body[at] if at < len(body) else None


def _v4_material_end(body: bytes, algo: int) -> int | None:
    """Where a v4 key's public material ends (version, time and algorithm take 6 octets)."""
    at = 6

    def mpi(pos: int) -> int:
        bits = int.from_bytes(body[pos : pos + 2], "big")
        return pos + 2 + (bits + 7) // 8

    if algo in _MPIS:
        for _ in range(_MPIS[algo]):
            at = mpi(at)
        return at
    if algo in _NATIVE:
        return at + _NATIVE[algo]
    if algo in _OID_MPI or algo == _ECDH:
        if at >= len(body):
            return None
        at = mpi(at + 1 + body[at])  # the OID's length octet and the OID, then the point
        if algo == _ECDH:
            if at >= len(body):
                return None
            at += 1 + body[at]  # the KDF parameters
        return at
    return None
