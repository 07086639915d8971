"""A small age plugin for tests: ``age-plugin-smtest``, speaking the age plugin protocol.

Its identities (``AGE-PLUGIN-SMTEST-1…``) carry an X25519 secret key; in the ``identity-v1``
phase it unwraps the X25519 stanzas of that key, exactly as age does natively. So a file
encrypted to an ordinary ``age1…`` recipient opens through the plugin, and the real sops (which
runs plugins with filippo.io/age) cross-checks this implementation.

Its recipients (``age1smtest1…``) carry an X25519 public key; in the ``recipient-v1`` phase it
wraps each file key into an ordinary X25519 stanza for it. So a file encrypted to a plugin
recipient opens with the matching native ``AGE-SECRET-KEY-1…``, whoever wrote it.

Set ``SMTEST_SAY`` to make it send that message to the user first (the ``msg`` command).
Run as a program by the tests (``install(folder)`` writes the launcher); never imported by
secretsmgr.
"""

from __future__ import annotations

import base64
import os
import sys
from pathlib import Path

from secretsmgr.keys.bech32 import CHARSET, _polymod

HRP = "age-plugin-smtest-"
RECIPIENT_HRP = "age1smtest"


def _expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def _bits(data: bytes | list[int], src: int, dst: int, pad: bool) -> list[int]:
    acc, bits, out = 0, 0, []
    for value in data:
        acc = (acc << src) | value
        bits += src
        while bits >= dst:
            bits -= dst
            out.append((acc >> bits) & ((1 << dst) - 1))
    if pad and bits:
        out.append((acc << (dst - bits)) & ((1 << dst) - 1))
    return out


def bech32_encode(hrp: str, data: bytes) -> str:
    """Bech32 (BIP 173) of ``data`` under ``hrp``, lowercase."""
    five = _bits(data, 8, 5, True)
    check = _polymod([*_expand(hrp), *five, 0, 0, 0, 0, 0, 0]) ^ 1
    five += [(check >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(CHARSET[v] for v in five)


def bech32_decode(text: str) -> tuple[str, bytes]:
    lower = text.lower()
    hrp, _, data = lower.rpartition("1")
    values = [CHARSET.index(c) for c in data]
    assert _polymod(_expand(hrp) + values) == 1, "bad checksum"
    return hrp, bytes(_bits(values[:-6], 5, 8, False))


def plugin_identity(age_secret: str) -> str:
    """``AGE-PLUGIN-SMTEST-1…`` holding the X25519 secret of an ``AGE-SECRET-KEY-1…``."""
    _, secret = bech32_decode(age_secret)
    return bech32_encode(HRP, secret).upper()


def plugin_recipient(age_public: str) -> str:
    """``age1smtest1…`` holding the X25519 public key of an ``age1…`` recipient."""
    _, public = bech32_decode(age_public)
    return bech32_encode(RECIPIENT_HRP, public)


# ----------------------------------------------------------------------------- the protocol


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def _read_stanza(stream: object) -> tuple[list[str], bytes]:
    read = stream.readline  # type: ignore[attr-defined]
    header = read().rstrip("\n")
    assert header.startswith("-> "), header
    body = ""
    while True:
        line = read().rstrip("\n")
        body += line
        if len(line) < 64:
            break
    return header[3:].split(" "), _unb64(body)


def _send(command: str, body: bytes = b"") -> None:
    encoded = _b64(body)
    lines = [encoded[i : i + 64] for i in range(0, len(encoded), 64)] or [""]
    if len(lines[-1]) == 64:
        lines.append("")
    sys.stdout.write(f"-> {command}\n" + "\n".join(lines) + "\n")
    sys.stdout.flush()


def _unwrap_x25519(secret: bytes, share: bytes, body: bytes) -> bytes | None:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.asymmetric.x25519 import (
        X25519PrivateKey,
        X25519PublicKey,
    )
    from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
    from cryptography.hazmat.primitives.hashes import SHA256
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    private = X25519PrivateKey.from_private_bytes(secret)
    ours = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    shared = private.exchange(X25519PublicKey.from_public_bytes(share))
    key = HKDF(SHA256(), 32, share + ours, b"age-encryption.org/v1/X25519").derive(shared)
    try:
        return ChaCha20Poly1305(key).decrypt(b"\x00" * 12, body, None)
    except InvalidTag:
        return None


def _wrap_x25519(public: bytes, file_key: bytes) -> tuple[str, bytes]:
    from cryptography.hazmat.primitives.asymmetric.x25519 import (
        X25519PrivateKey,
        X25519PublicKey,
    )
    from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
    from cryptography.hazmat.primitives.hashes import SHA256
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    ephemeral = X25519PrivateKey.generate()
    share = ephemeral.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(public))
    key = HKDF(SHA256(), 32, share + public, b"age-encryption.org/v1/X25519").derive(shared)
    return _b64(share), ChaCha20Poly1305(key).encrypt(b"\x00" * 12, file_key, None)


def recipient_v1() -> int:
    publics: list[bytes] = []
    file_keys: list[bytes] = []
    while True:
        args, body = _read_stanza(sys.stdin)
        if args[0] == "add-recipient":
            publics.append(bech32_decode(args[1])[1])
        elif args[0] == "wrap-file-key":
            file_keys.append(body)
        elif args[0] == "done":
            break
    for index, file_key in enumerate(file_keys):
        for public in publics:
            share, body = _wrap_x25519(public, file_key)
            _send(f"recipient-stanza {index} X25519 {share}", body)
            _read_stanza(sys.stdin)  # ok
    _send("done")
    return 0


def identity_v1() -> int:
    secrets: list[bytes] = []
    stanzas: list[tuple[int, list[str], bytes]] = []
    while True:
        args, body = _read_stanza(sys.stdin)
        if args[0] == "add-identity":
            secrets.append(bech32_decode(args[1])[1])
        elif args[0] == "recipient-stanza":
            stanzas.append((int(args[1]), args[2:], body))
        elif args[0] == "done":
            break
    if os.environ.get("SMTEST_SAY"):
        _send("msg", os.environ["SMTEST_SAY"].encode("utf-8"))
        _read_stanza(sys.stdin)  # ok
    opened: set[int] = set()
    for index, args, body in stanzas:
        if index in opened or args[0] != "X25519" or len(args) != 2:
            continue
        for secret in secrets:
            key = _unwrap_x25519(secret, _unb64(args[1]), body)
            if key is not None:
                _send(f"file-key {index}", key)
                _read_stanza(sys.stdin)  # ok
                opened.add(index)
                break
    _send("done")
    return 0


def install(folder: Path) -> Path:
    """Write the ``age-plugin-smtest`` launcher into ``folder`` (put it on PATH)."""
    folder.mkdir(parents=True, exist_ok=True)
    program = folder / "age-plugin-smtest"
    here = Path(__file__).resolve()
    program.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        f"sys.path.insert(0, {str(here.parent)!r})\n"
        "import age_plugin_smtest\n"
        "sys.exit(age_plugin_smtest.main(sys.argv[1:]))\n",
        encoding="utf-8",
    )
    program.chmod(0o755)
    return program


def main(argv: list[str]) -> int:
    if argv == ["--age-plugin=identity-v1"]:
        return identity_v1()
    if argv == ["--age-plugin=recipient-v1"]:
        return recipient_v1()
    sys.stderr.write(f"age-plugin-smtest: unsupported: {' '.join(argv)}\n")
    return 1
