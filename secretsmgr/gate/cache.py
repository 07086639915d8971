"""The gate's cache: what each git blob yields, layer graphs and fingerprint maps, in the git dir.

A blob id names its bytes, so what a detector found in a blob holds wherever and whenever that
blob appears: in the index, in HEAD, in any past commit. The cache keeps, per blob (and per
reading of it: its format and whether its name says SOPS), the detector hits of every rule and a
summary of its SOPS metadata (fingerprints of wrapped data keys and MAC, recipients, a digest of
its ENC values). Layer graphs are kept keyed by everything their build read, and per commit the
map of SOPS files to fingerprints (the repository-wide copy check, SM014).

Never a value: hits hold key paths, line numbers and names; fingerprints are sha256 digests of
ciphertext. Files are JSON (never pickle): a header line (format and version, a fingerprint of
the code that computed the facts, a sha256 of the body's bytes), then the body. Blob facts are
sharded by the first two hex digits of the blob id, so a run loads only the shards it needs.
Anything that does not match (damaged, truncated, written by other code, foreign) is discarded
and rebuilt; entries are decoded strictly (every field, every type) before use.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

import secretsmgr
from secretsmgr.errors import SecretsmgrError
from secretsmgr.fsutil import write_atomic
from secretsmgr.gate.codec import CodecError, decode, encode, supports

FORMAT = "secretsmgr-cache/1"
MAX_GRAPHS = 8
_BLOB = re.compile(r"^[0-9a-f]{40}(?:[0-9a-f]{24})?$")
_KEY = re.compile(r"^[0-9a-f]{40}(?:[0-9a-f]{24})?:[a-z+-]{1,40}$")
_HEX = re.compile(r"^[0-9a-f]{32,64}$")
_PRINT_RUNS = re.compile(r"(?:(?:[0-9a-f]{32})+(?:\n|\Z))*\Z")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class SopsSummary:
    """What history and SM014 need of a SOPS file, never a value.

    ``fingerprints``: digests of each wrapped data key and of the MAC (shared = copied file);
    ``values``: a digest of every ``ENC[…]`` value in file order (unchanged values across a
    recipient change = the same data key); ``recipients``: age public keys.
    """

    fingerprints: tuple[str, ...]
    recipients: tuple[str, ...]
    values: str
    lastmodified: str


@dataclass(frozen=True, slots=True)
class BlobFacts:
    """What one blob yields: each detector's hits, and its SOPS summary when it is one."""

    hits: Mapping[str, tuple[object, ...]]
    sops: SopsSummary | None


def code_fingerprint(extra: Sequence[str] = ()) -> str:
    """A digest of the code that computes cached facts: the package version and the source
    bytes of the files named in ``extra`` (a name that is no file counts as text)."""
    digest = hashlib.sha256(f"{FORMAT}/{secretsmgr.__version__}".encode())
    for name in extra:
        digest.update(name.encode())
        with contextlib.suppress(OSError):
            digest.update(Path(name).read_bytes())
    return digest.hexdigest()[:32]


class BlobCache:
    """The cache folder of one repository; ``save`` once at the end of a run."""

    def __init__(self, folder: Path | None, hit_types: Mapping[str, type], code: str) -> None:
        """A cache under ``folder`` (None = in memory only) for detectors whose hits are
        ``hit_types[rule]`` dataclasses; ``code`` from ``code_fingerprint``."""
        self.folder = folder
        self.hit_types = {k: t for k, t in hit_types.items() if supports(t)}
        self.code = code
        self.discarded: list[str] = []  # cache files thrown away, and why
        self._shards: dict[str, dict[str, Any]] = {}
        self._dirty: set[str] = set()  # relative names of files to write
        self._graphs: dict[str, dict[str, Any]] = {}
        self._prints: dict[str, dict[str, str]] = {}

    # ------------------------------------------------------------------ files

    def _read(self, name: str) -> object | None:
        """The body of cache file ``name`` if it is ours and intact; else None (discarded)."""
        if self.folder is None:
            return None
        try:
            raw = (self.folder / name).read_bytes()
        except OSError:
            return None
        try:
            head, sep, body = raw.partition(b"\n")
            header = json.loads(head) if sep else None
            if not isinstance(header, dict) or sorted(header) != ["checksum", "code", "format"]:
                raise CodecError("not a secretsmgr cache")
            if header["format"] != FORMAT:
                raise CodecError("another cache format")
            if header["code"] != self.code:
                raise CodecError("written by other code")
            if header["checksum"] != hashlib.sha256(body).hexdigest():
                raise CodecError("checksum mismatch")
            data: object = json.loads(body)
            return data
        except (ValueError, CodecError) as exc:
            self.discarded.append(f"{name}: {str(exc)[:60] or type(exc).__name__}")
            self._dirty.add(name)
            return None

    def _write(self, name: str, body: object) -> None:
        assert self.folder is not None
        text = json.dumps(body, separators=(",", ":"), ensure_ascii=True)
        header = {
            "format": FORMAT,
            "code": self.code,
            "checksum": hashlib.sha256(text.encode("ascii")).hexdigest(),
        }
        target = self.folder / name
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_atomic(target, json.dumps(header, sort_keys=True) + "\n" + text, mode=0o600)

    def save(self) -> None:
        """Write what this run added, atomically per file; errors are ignored (it is a cache)."""
        if self.folder is None:
            return
        for name in sorted(self._dirty):
            with contextlib.suppress(OSError, SecretsmgrError):
                if name.startswith("blobs/"):
                    self._write(name, self._shards.get(name[6:8], {}))
                elif name.startswith("graphs/"):
                    self._write(name, self._graphs.get(name[7:-5]) or {})
                elif name.startswith("prints/"):
                    self._write(name, self._prints.get(name[7:-5]) or {})
        self._dirty.clear()

    # ------------------------------------------------------------------ blobs

    def _shard(self, blob: str) -> dict[str, Any]:
        prefix = blob[:2]
        shard = self._shards.get(prefix)
        if shard is None:
            body = self._read(f"blobs/{prefix}.json")
            shard = {}
            if isinstance(body, dict) and all(
                isinstance(k, str) and _KEY.match(k) and k.startswith(prefix) for k in body
            ):
                shard = body
            elif body is not None:
                self.discarded.append(f"blobs/{prefix}.json: malformed")
                self._dirty.add(f"blobs/{prefix}.json")
            self._shards[prefix] = shard
        return shard

    def _decode_facts(self, entry: object) -> BlobFacts:
        if not isinstance(entry, dict) or sorted(entry) != ["hits", "sops"]:
            raise CodecError("malformed entry")
        hits_raw = entry["hits"]
        if not isinstance(hits_raw, dict) or sorted(hits_raw) != sorted(self.hit_types):
            raise CodecError("entry for other detectors")
        hits: dict[str, tuple[object, ...]] = {}
        for rule, items in hits_raw.items():
            if not isinstance(items, list):
                raise CodecError("malformed hits")
            hits[rule] = tuple(decode(self.hit_types[rule], item) for item in items)
        sops = None if entry["sops"] is None else decode(SopsSummary, entry["sops"])
        return BlobFacts(hits, sops)

    def facts(
        self, blob: str, variant: str, path: str, compute: Callable[[], BlobFacts]
    ) -> BlobFacts:
        """The facts of ``blob`` read as ``variant``, with hit paths set to ``path``."""
        if not _BLOB.match(blob):
            return compute()
        key = f"{blob}:{variant}"
        shard = self._shard(blob)
        entry = shard.get(key)
        if entry is not None:
            try:
                return _with_path(self._decode_facts(entry), path)
            except CodecError as exc:
                # one bad entry: trust nothing else in its file either
                self.discarded.append(f"blobs/{blob[:2]}.json: {exc}")
                shard.clear()
                self._dirty.add(f"blobs/{blob[:2]}.json")
        found = compute()
        try:
            encoded = {
                "hits": {
                    rule: [encode(h) for h in found.hits.get(rule, ())] for rule in self.hit_types
                },
                "sops": None if found.sops is None else encode(found.sops),
            }
        except CodecError:
            return found
        shard[key] = encoded
        self._dirty.add(f"blobs/{blob[:2]}.json")
        return found

    # ------------------------------------------------------------------ layer graphs

    def graph(
        self,
        key: str,
        model: type[T],
        blob_of: Callable[[str], str | None],
        build: Callable[[], tuple[T, Mapping[str, str | None]]],
    ) -> T:
        """The model cached under ``key`` if every file its build read still has the blob it
        had; else ``build()`` -> (model, {path read: blob id}) and cache that."""
        entry = self._graphs.get(key)
        if entry is None and _HEX.match(key):
            body = self._read(f"graphs/{key}.json")
            if isinstance(body, dict) and sorted(body) == ["graph", "reads", "type"]:
                entry = body
        if entry is not None and entry.get("type") == model.__qualname__:
            reads = entry["reads"]
            if isinstance(reads, dict) and all(
                isinstance(b, str) and blob_of(p) == b for p, b in reads.items()
            ):
                try:
                    value: T = decode(model, entry["graph"])
                    self._graphs[key] = entry
                    return value
                except CodecError as exc:
                    self.discarded.append(f"graphs/{key}.json: {exc}")
        value, read = build()
        if not supports(model) or any(blob is None for blob in read.values()):
            return value  # a model the codec cannot hold, or a read outside git: not cached
        try:
            encoded = encode(value)
        except CodecError:
            return value
        self._graphs[key] = {"type": model.__qualname__, "reads": dict(read), "graph": encoded}
        self._dirty.add(f"graphs/{key}.json")
        self._prune("graphs", key)
        return value

    def graph_reads(self, key: str) -> dict[str, str] | None:
        """The files (and blobs) the graph cached under ``key`` was built from."""
        entry = self._graphs.get(key)
        reads = entry.get("reads") if entry is not None else None
        return dict(reads) if isinstance(reads, dict) else None

    def _prune(self, kind: str, keep: str) -> None:
        """Keep the newest MAX_GRAPHS files of ``kind`` (by modification time)."""
        if self.folder is None:
            return
        with contextlib.suppress(OSError):
            files = sorted((self.folder / kind).glob("*.json"), key=lambda p: p.stat().st_mtime)
            for old in files[: max(0, len(files) - MAX_GRAPHS + 1)]:
                if old.stem != keep:
                    old.unlink()

    # ------------------------------------------------------------------ fingerprint maps

    def prints(self, key: str) -> dict[str, str] | None:
        """The path -> fingerprints map stored under ``key`` (a commit), or None.

        Each value is the file's 32-hex-digit fingerprints run together.
        """
        if key in self._prints:
            return self._prints[key]
        body = self._read(f"prints/{key}.json") if _HEX.match(key) else None
        if not isinstance(body, dict):
            return None
        try:
            joined = "\n".join(body.values())  # TypeError unless every value is a string
        except TypeError:
            joined = "-"
        if not _PRINT_RUNS.match(joined):
            self.discarded.append(f"prints/{key}.json: malformed")
            self._dirty.add(f"prints/{key}.json")
            return None
        self._prints[key] = body
        return body

    def store_prints(self, key: str, prints: dict[str, str]) -> None:
        """Remember the fingerprint map of commit ``key``."""
        if not _HEX.match(key):
            return
        self._prints[key] = prints
        self._dirty.add(f"prints/{key}.json")
        self._prune("prints", key)


def _with_path(facts: BlobFacts, path: str) -> BlobFacts:
    hits = {
        rule: tuple(_repath(h, path) for h in items) for rule, items in facts.hits.items() if items
    }
    return BlobFacts(hits, facts.sops)


def _repath(hit: object, path: str) -> object:
    if getattr(hit, "path", path) == path:
        return hit
    return replace(hit, path=path)  # type: ignore[type-var]  # hits are dataclasses


def cache_folder(state_dir: Path) -> Path:
    """Where the cache of a repository lives inside its secretsmgr state folder."""
    return state_dir / "cache"


def digest_paths(paths: Sequence[str], extra: str = "") -> str:
    """A key for a model built from exactly these paths (and ``extra``)."""
    digest = hashlib.sha256(extra.encode("utf-8", "surrogateescape"))
    digest.update("\0".join(paths).encode("utf-8", "surrogateescape"))
    return digest.hexdigest()
