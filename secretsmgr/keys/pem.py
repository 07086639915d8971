"""Whether PEM text labelled public (a certificate, a public key, a CRL) really is that."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable

_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----([A-Za-z0-9+/=\s]+)-----END \1-----")


def _loaders() -> dict[str, Callable[[bytes], object]]:
    # imported when a value looks like public PEM: x509 costs the gate's start-up otherwise
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import load_der_public_key

    return {
        "CERTIFICATE": x509.load_der_x509_certificate,
        "PUBLIC KEY": load_der_public_key,
        "X509 CRL": x509.load_der_x509_crl,
    }


def public_blocks_parse(text: str) -> bool:
    """Whether ``text`` is PEM blocks alone, each parsing as what its label says, the label a
    public one: a private key's DER, or a password, under a CERTIFICATE label does not."""
    if "-----BEGIN " not in text:
        return False
    blocks = _BLOCK.findall(text)
    if _BLOCK.sub("", text).strip():
        return False  # text beside the blocks (a password line, a private key's header)
    loaders = _loaders() if blocks else {}
    for label, body in blocks:
        loader = loaders.get(label)
        if loader is None:
            return False
        try:
            loader(base64.b64decode("".join(body.split()), validate=True))
        except (ValueError, TypeError, binascii.Error):
            return False
    return bool(blocks)


def der_is_public(der: bytes) -> bool:
    """Whether ``der`` (PEM's body, with no armour) parses as a certificate or a public key."""
    loaders = _loaders()
    for label in ("CERTIFICATE", "PUBLIC KEY"):
        try:
            loaders[label](der)
        except Exception:  # ValueError, or an algorithm this build does not support
            continue
        return True
    return False


def der_is_private_key(der: bytes) -> bool:
    """Whether ``der`` parses as a private key (PKCS#8, PKCS#1, SEC 1), with a passphrase or
    without."""
    from cryptography.hazmat.primitives.serialization import load_der_private_key

    try:
        load_der_private_key(der, password=None)
    except TypeError:
        return True  # encrypted: a key still, behind a passphrase
    except Exception:  # ValueError, or an algorithm this build does not support
        return False
    return True


def der_is_open_keystore(der: bytes) -> bool:
    """Whether ``der`` is a PKCS#12 keystore (``.p12``, ``.pfx``) that holds a private key and
    opens with no password or an empty one: the key in it is as good as in clear."""
    from cryptography.hazmat.primitives.serialization import pkcs12

    for password in (None, b""):
        try:
            key, _cert, _more = pkcs12.load_key_and_certificates(der, password)
        except Exception:  # ValueError: not PKCS#12, or it needs a password
            continue
        return key is not None
    return False
