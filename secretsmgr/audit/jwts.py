"""NATS nkey seeds, and JWTs made to be public: read, not verified (a signature proves
nothing about secrecy).

- Supabase's anon key: role ``anon`` from a ``supabase…`` issuer, made to ship in browser code
  (Row Level Security guards the data; sweep 51, Justin-De-Sio/homelab). Its ``service_role``
  key bypasses that and stays a credential.
- NATS's account and operator JWTs (``alg: ed25519-nkey``): signed claims that the account
  resolver hands to anyone who asks (sweep 57, mstaicu/aperitif: a `nats-accounts` Secret was
  two SM019 errors). A user JWT is useless without its seed (the ``SU…`` nkey beside it in a
  ``.creds`` file, which is judged on its own) unless it is a bearer token, which stays one.
"""

from __future__ import annotations

import base64
import binascii
import json
import re

_JWT_WHOLE = re.compile(r"^(eyJ[A-Za-z0-9_-]+)\.(eyJ[A-Za-z0-9_-]+)\.[A-Za-z0-9_-]+$")
# a NATS public nkey: its role letter (Operator, Account, User), then 55 base32 characters
_NKEY = re.compile(r"^[OAU][A-Z2-7]{55}$")


def _part(text: str) -> dict[str, object] | None:
    try:
        found = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (ValueError, binascii.Error):
        return None
    return found if isinstance(found, dict) else None


def _folded(mapping: dict[str, object]) -> dict[str, list[object]]:
    """Each key lower-cased, with every value under it: Go's encoding/json, which NATS decodes
    claims with, matches a field's name in any case (the attack review: `Bearer_Token: true`)."""
    out: dict[str, list[object]] = {}
    for key, value in mapping.items():
        out.setdefault(key.lower(), []).append(value)
    return out


def _nats_public(header: dict[str, object], payload: dict[str, object]) -> bool:
    head, body = _folded(header), _folded(payload)
    claims = body.get("nats", [None])
    if head.get("alg") != ["ed25519-nkey"] or len(claims) != 1 or not isinstance(claims[0], dict):
        return False
    if "role" in body:
        return False  # a claim another service grants by (the attack review: Supabase's)
    for name in ("iss", "sub"):
        found = body.get(name, [])
        if len(found) != 1 or not isinstance(found[0], str) or not _NKEY.match(found[0]):
            return False
    fields = _folded(claims[0])
    if "bearer_token" in fields:
        return False  # a user JWT that logs in alone, whatever its value says
    kind = fields.get("type", [])
    return kind in (["account"], ["operator"], ["user"])


def public_jwt_text(value: str) -> str | None:
    """The decoded header and payload of ``value`` when it is, whole, a JWT made to be public
    (see the module's list), for the caller to look for known formats in (the attack review: a
    token in an account JWT's description passed with it); None otherwise."""
    found = _JWT_WHOLE.match(value)
    if found is None:
        return None
    header, payload = _part(found[1]), _part(found[2])
    if header is None or payload is None:
        return None
    issuer = payload.get("iss")
    supabase = (
        payload.get("role") == "anon" and isinstance(issuer, str) and issuer.startswith("supabase")
    )
    if not supabase and not _nats_public(header, payload):
        return None
    return json.dumps([header, payload])


# A NATS nkey seed (`nsc`'s `.creds` files, `nats-server` configs): S, the key's role letter,
# then base32 of the seed with a CRC-16 of it (the sweep 57 fix above: made public, a `.creds`
# file's user JWT no longer hid that no finding named the seed below it)
_NKEY_SEED = re.compile(r"(?<![A-Za-z0-9])S[OAUNCXP][A-Z2-7]{56}(?![A-Za-z0-9])")


def _crc16(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021 if crc & 0x8000 else crc << 1) & 0xFFFF
    return crc


def nkey_seed_in(text: str) -> bool:
    """Whether ``text`` holds a NATS nkey seed whose checksum holds."""
    if "S" not in text:
        return False
    for found in _NKEY_SEED.finditer(text):
        seed = found[0]
        try:
            raw = base64.b32decode(seed + "=" * (-len(seed) % 8))
        except (ValueError, binascii.Error):
            continue
        if len(raw) == 36 and _crc16(raw[:-2]) == int.from_bytes(raw[-2:], "little"):
            return True
    return False
