"""Whether the private half of a cluster key ``init`` keeps lies in git history.

``init`` adopts the key the rules name (sweeps 42, ZicTec/pi-cluster and marcotaco14/HL-Cluster:
its private half had been committed as ``age.agekey`` and deleted, and init pinned it and
printed the step that sends it to the cluster without a word). Only files named like key files
are read, on every ref; ``audit --history`` reads everything (SM009).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from secretsmgr.errors import SecretsmgrError
from secretsmgr.keys.age import parse_identities
from secretsmgr.repo import gitlog

_SECRET = re.compile(rb"AGE-SECRET-KEY-1[0-9A-Z]{58}")
# a base64 run a Secret manifest's data holds (a sops-age Secret: the key file in base64), also
# wrapped over lines as `base64` writes it under a `|` block (the attack review)
_BASE64 = re.compile(rb"(?:[A-Za-z0-9+/]{16,}[ \t]*\r?\n[ \t]*)*[A-Za-z0-9+/]{16,}={0,2}")
_SPACE = re.compile(rb"\s+")


def _secrets_in(data: bytes) -> list[bytes]:
    found = _SECRET.findall(data)
    for run in _BASE64.findall(data):
        joined = _SPACE.sub(b"", run)
        if len(joined) < 80:
            continue
        try:
            found += _SECRET.findall(base64.b64decode(joined + b"=" * (-len(joined) % 4)))
        except (binascii.Error, ValueError):
            continue
    return found


@dataclass(frozen=True, slots=True)
class LeakedKey:
    """A kept cluster key whose private half a committed file held."""

    public: str
    path: str
    commit: str


def leaked_keys(root: Path, publics: Collection[str]) -> tuple[LeakedKey, ...]:
    """The keys of ``publics`` whose private half a committed key file held (first commit)."""
    wanted = set(publics)
    if not wanted:
        return ()
    try:
        versions = gitlog.key_file_versions(root)
        blobs = gitlog.read_blobs(root, [blob for _, _, blob in versions])
    except SecretsmgrError:
        return ()  # no git here: nothing to say
    found: dict[str, LeakedKey] = {}
    for commit, path, blob in versions:
        for secret in _secrets_in(blobs.get(blob, b"")):
            try:
                identity = parse_identities(secret.decode("ascii"), path)
            except SecretsmgrError:
                continue
            for public in identity.publics:
                if public in wanted and public not in found:
                    found[public] = LeakedKey(public, path, commit)
    return tuple(found.values())
