"""Shamir secret sharing over GF(2^8) with the AES polynomial, byte-compatible with sops.

A share is the evaluations at x for every secret byte, followed by one byte holding x.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from secretsmgr.errors import FormatError


def _mul(a: int, b: int) -> int:
    result = 0
    while b:
        if b & 1:
            result ^= a
        a <<= 1
        if a & 0x100:
            a ^= 0x11B
        b >>= 1
    return result


_EXP = [0] * 512
_LOG = [0] * 256
_x = 1
for _i in range(255):
    _EXP[_i] = _x
    _LOG[_x] = _i
    _x = _mul(_x, 3)
for _i in range(255, 512):
    _EXP[_i] = _EXP[_i - 255]


def gf_mul(a: int, b: int) -> int:
    """Multiply in GF(2^8) mod x^8+x^4+x^3+x+1."""
    if a == 0 or b == 0:
        return 0
    return _EXP[_LOG[a] + _LOG[b]]


def gf_div(a: int, b: int) -> int:
    """Divide in GF(2^8); b must be non-zero."""
    if b == 0:
        raise ZeroDivisionError("division by zero in GF(256)")
    if a == 0:
        return 0
    return _EXP[(_LOG[a] - _LOG[b]) % 255]


def split(secret: bytes, parts: int, threshold: int) -> list[bytes]:
    """Split ``secret`` into ``parts`` shares, any ``threshold`` of which recover it."""
    if not 2 <= threshold <= parts <= 255:
        raise FormatError("shamir: need 2 <= threshold <= parts <= 255")
    shares = [bytearray() for _ in range(parts)]
    for byte in secret:
        coeffs = [byte] + [secrets.randbelow(256) for _ in range(threshold - 1)]
        for i in range(parts):
            x = i + 1
            y = 0
            for c in reversed(coeffs):
                y = gf_mul(y, x) ^ c
            shares[i].append(y)
    for i in range(parts):
        shares[i].append(i + 1)
    return [bytes(s) for s in shares]


def combine(shares: Sequence[bytes]) -> bytes:
    """Recover the secret by Lagrange interpolation at 0 (the last byte of each share is x)."""
    if len(shares) < 2:
        raise FormatError("shamir: at least two shares are needed")
    length = len(shares[0])
    if length < 2 or any(len(s) != length for s in shares):
        raise FormatError("shamir: shares differ in length")
    xs = [s[-1] for s in shares]
    if len(set(xs)) != len(xs):
        raise FormatError("shamir: duplicate share")
    out = bytearray()
    for pos in range(length - 1):
        value = 0
        for i, share in enumerate(shares):
            basis = 1
            for j, xj in enumerate(xs):
                if i != j:
                    basis = gf_mul(basis, gf_div(xj, xj ^ xs[i]))
            value ^= gf_mul(share[pos], basis)
        out.append(value)
    return bytes(out)
