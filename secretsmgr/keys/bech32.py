"""Public key strings: bech32 checksums (BIP 173) as age keys use them, ssh recipients, and the
one way keys are shortened in messages. Standard library only; no key material is kept."""

from __future__ import annotations

CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_GEN = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)


def _polymod(values: list[int]) -> int:
    chk = 1
    for value in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ value
        for i, gen in enumerate(_GEN):
            if (top >> i) & 1:
                chk ^= gen
    return chk


def split_bech32(text: str) -> tuple[str, str] | None:
    """(hrp, data) of a bech32 string with a valid checksum (any single case), else None."""
    if text != text.lower() and text != text.upper():
        return None
    lower = text.lower()
    hrp, sep, data = lower.rpartition("1")
    if not sep or not hrp or len(data) < 6 or any(c not in CHARSET for c in data):
        return None
    expanded = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    if _polymod(expanded + [CHARSET.index(c) for c in data]) != 1:
        return None
    return hrp, data


# age's recipients: X25519 (``age1…``) and, since age 1.3 and in sops 3.11, the post-quantum
# hybrid ML-KEM-768 + X25519 (``age1pq1…``, ~2,000 characters; ZPeppler/iac, sweep 18)
AGE_HRPS = frozenset({"age", "age1pq"})


def is_age_recipient(text: str) -> bool:
    """Whether ``text`` is a lowercase ``age1…`` or ``age1pq1…`` recipient with a valid
    checksum."""
    parsed = split_bech32(text) if text == text.lower() else None
    return parsed is not None and parsed[0] in AGE_HRPS


# age's own recipient kinds that look like ``age1NAME1…``: never a plugin's
_NATIVE_NAMES = frozenset({"pq", "tag", "tagpq"})
_PLUGIN_NAME = frozenset("abcdefghijklmnopqrstuvwxyz0123456789+-._")


def plugin_of_recipient(text: str) -> str | None:
    """The plugin name of an age plugin recipient (``age1yubikey1…`` → ``yubikey``: the
    recipient ``age-plugin-yubikey`` wraps data keys for), or None for anything else."""
    if not text.startswith("age1") or text.count("1") < 2:
        return None  # an X25519 key's data holds no "1" (checked first: it is every key's case)
    parsed = split_bech32(text) if text == text.lower() else None
    if parsed is None or not parsed[0].startswith("age1"):
        return None
    name = parsed[0][4:]
    if not name or name in _NATIVE_NAMES or not set(name) <= _PLUGIN_NAME:
        return None
    return name


def is_sops_recipient(text: str) -> bool:
    """Whether sops takes ``text`` as an age recipient: an age key, an ssh key or an age
    plugin's recipient (what ``allowed_recipients`` may hold)."""
    return is_age_recipient(text) or is_ssh_recipient(text) or plugin_of_recipient(text) is not None


def is_post_quantum(text: str) -> bool:
    """Whether ``text`` looks like a post-quantum age recipient (``age1pq1…``)."""
    return text.strip().lower().startswith("age1pq1")


def is_ssh_recipient(text: str) -> bool:
    """Whether ``text`` is an ``ssh-ed25519``/``ssh-rsa`` public key (sops takes both)."""
    kind, _, blob = text.strip().partition(" ")
    return kind in ("ssh-ed25519", "ssh-rsa") and bool(blob.strip())


def short_key(key: str) -> str:
    """A public key for messages: ``age1ql3z…7w9x`` (8…4), ``ssh-ed25519 …Xy12abcd`` for ssh.

    The one shortener of the code base: the same key looks the same in every message.
    """
    key = key.strip()
    kind, _, blob = key.partition(" ")
    if kind.startswith("ssh-") and blob:
        blob = blob.split()[0]
        return f"{kind} …{blob[-8:]}" if len(blob) > 8 else f"{kind} {blob}"
    return key if len(key) <= 16 else f"{key[:8]}…{key[-4:]}"
