"""FORMAT CORE: SOPS files in and out, bit-compatible with sops 3.11.

Bytes/trees in, bytes/trees out: nothing here knows of the CLI, git, the keyring or the
environment. Public surface: ``load``, ``dump``, ``encrypt``, ``decrypt``, ``verify_mac``.
"""

from secretsmgr.sops.document import (
    Decrypted,
    FileFormat,
    SopsFile,
    decrypt,
    dump,
    dump_plain,
    encrypt,
    format_for_path,
    load,
    parse_plain,
    seal,
    verify_mac,
)
from secretsmgr.sops.limits import MAX_FILE_BYTES
from secretsmgr.sops.model import EncryptionRule, RuleKind, SopsMetadata

__all__ = [
    "MAX_FILE_BYTES",
    "Decrypted",
    "EncryptionRule",
    "FileFormat",
    "RuleKind",
    "SopsFile",
    "SopsMetadata",
    "decrypt",
    "dump",
    "dump_plain",
    "encrypt",
    "format_for_path",
    "load",
    "parse_plain",
    "seal",
    "verify_mac",
]
