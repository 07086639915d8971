"""Load and validate ``tests/vectors/<case>/vector.toml``.

A case directory holds exactly ``file.enc.<ext>`` (``yaml``, ``json``, ``env`` or ``ini``), ``vector.toml``
and, when ``expect = "ok"``, ``expected.<ext>`` whose sha256 is ``plaintext_sha256``. The loader
is strict: unknown keys, unknown ``expect`` values, missing keys, wrong types, identities that are
not files under ``keys/`` and stray files are all errors (``VectorError``).
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

VECTORS_DIR = Path(__file__).resolve().parent
KEYS_DIR = VECTORS_DIR / "keys"
GENERATED_BY = "sops 3.11.0"
EXPECTS = frozenset({"ok", "mac-mismatch", "no-identity", "malformed-enc"})
REQUIRED_KEYS = frozenset({"expect", "identities", "generated-by", "comment"})
OPTIONAL_KEYS = frozenset({"plaintext_sha256"})
EXTENSIONS = ("yaml", "json", "env", "ini")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_IDENTITY = re.compile(r"test-only-[0-9]+\.agekey")


class VectorError(ValueError):
    """A vector directory or its vector.toml is malformed."""


@dataclass(frozen=True)
class Vector:
    """One validated test vector."""

    name: str
    directory: Path
    expect: str
    identities: tuple[str, ...]
    plaintext_sha256: str | None
    generated_by: str
    comment: str
    ext: str

    @property
    def encrypted(self) -> Path:
        """The encrypted file (``file.enc.<ext>``)."""
        return self.directory / f"file.enc.{self.ext}"

    @property
    def expected(self) -> Path | None:
        """What ``sops decrypt`` prints (only for ``expect = "ok"``)."""
        return self.directory / f"expected.{self.ext}" if self.expect == "ok" else None

    @property
    def identity_paths(self) -> tuple[Path, ...]:
        """The identity files, in order."""
        return tuple(KEYS_DIR / name for name in self.identities)

    def identity_text(self) -> str:
        """All identity files concatenated (what ``SOPS_AGE_KEY`` gets)."""
        return "".join(p.read_text(encoding="utf-8") for p in self.identity_paths)


def parse_vector_toml(text: str, where: str = "vector.toml") -> dict[str, Any]:
    """Parse and check the keys and value types of a vector.toml; file checks are separate."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise VectorError(f"{where}: not valid TOML: {exc}") from exc
    unknown = set(data) - REQUIRED_KEYS - OPTIONAL_KEYS
    if unknown:
        raise VectorError(f"{where}: unknown key(s): {', '.join(sorted(unknown))}")
    missing = REQUIRED_KEYS - set(data)
    if missing:
        raise VectorError(f"{where}: missing key(s): {', '.join(sorted(missing))}")
    expect = data["expect"]
    if not isinstance(expect, str) or expect not in EXPECTS:
        raise VectorError(f"{where}: unknown expect {expect!r} (one of {sorted(EXPECTS)})")
    identities = data["identities"]
    if (
        not isinstance(identities, list)
        or not identities
        or not all(isinstance(i, str) and _IDENTITY.fullmatch(i) for i in identities)
        or len(set(identities)) != len(identities)
    ):
        raise VectorError(f"{where}: identities must be a non-empty list of test-only-N.agekey")
    if data["generated-by"] != GENERATED_BY:
        raise VectorError(f"{where}: generated-by must be {GENERATED_BY!r}")
    comment = data["comment"]
    if not isinstance(comment, str) or not comment.strip():
        raise VectorError(f"{where}: comment must be a non-empty string")
    sha = data.get("plaintext_sha256")
    if expect == "ok":
        if not isinstance(sha, str) or not _SHA256.fullmatch(sha):
            raise VectorError(f"{where}: an ok vector needs plaintext_sha256 (64 lowercase hex)")
    elif sha is not None:
        raise VectorError(f"{where}: plaintext_sha256 is only for expect = 'ok'")
    return data


def load_vector(directory: Path) -> Vector:
    """Load one case directory and check its files against its vector.toml."""
    name = directory.name
    toml_path = directory / "vector.toml"
    if not toml_path.is_file():
        raise VectorError(f"{name}: no vector.toml")
    data = parse_vector_toml(toml_path.read_text(encoding="utf-8"), f"{name}/vector.toml")
    encs = [e for e in EXTENSIONS if (directory / f"file.enc.{e}").is_file()]
    if len(encs) != 1:
        raise VectorError(f"{name}: needs exactly one file.enc.{{{','.join(EXTENSIONS)}}}")
    vector = Vector(
        name=name,
        directory=directory,
        expect=data["expect"],
        identities=tuple(data["identities"]),
        plaintext_sha256=data.get("plaintext_sha256"),
        generated_by=data["generated-by"],
        comment=data["comment"],
        ext=encs[0],
    )
    allowed = {"vector.toml", vector.encrypted.name}
    if vector.expected is not None:
        allowed.add(vector.expected.name)
        if not vector.expected.is_file():
            raise VectorError(f"{name}: an ok vector needs {vector.expected.name}")
        digest = hashlib.sha256(vector.expected.read_bytes()).hexdigest()
        if digest != vector.plaintext_sha256:
            raise VectorError(f"{name}: sha256 of {vector.expected.name} is {digest}")
    stray = sorted(p.name for p in directory.iterdir() if p.name not in allowed)
    if stray:
        raise VectorError(f"{name}: unexpected file(s): {', '.join(stray)}")
    for path in vector.identity_paths:
        if not path.is_file():
            raise VectorError(f"{name}: identity file {path.name} not found in keys/")
    return vector


NOT_CASES = frozenset({"keys", "__pycache__"})


def all_vectors(root: Path = VECTORS_DIR) -> list[Vector]:
    """Every case directory under ``root`` (any directory but keys/), sorted by name."""
    return [
        load_vector(d)
        for d in sorted(root.iterdir())
        if d.is_dir() and d.name not in NOT_CASES and not d.name.startswith(".")
    ]
