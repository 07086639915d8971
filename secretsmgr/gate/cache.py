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
from secretsmgr.gate.codec import CodecError, decode, encode, restricted, supports

FORMAT = "secretsmgr-cache/1"
MAX_GRAPHS = 8
_BLOB = re.compile(r"^[0-9a-f]{40}(?:[0-9a-f]{24})?$")
_KEY = re.compile(r"^[0-9a-f]{40}(?:[0-9a-f]{24})?:[a-z0-9+-]{1,80}$")
_HEX = re.compile(r"^[0-9a-f]{32,64}$")
_READ = re.compile(r"^[0-9a-f]{40}(?:[0-9a-f]{24})?(?::[0-9a-f]{32})?$")  # blob[:normalized]
COMMIT_FIELD = "\0commit"  # a fingerprint map's own commit (no path can be this key)
_PRINT_RUNS = re.compile(r"(?:(?:[0-9a-f]{32})+(?:\n|\Z))*\Z")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class SopsSummary:
    """What history and SM014 need of a SOPS file, never a value.

    ``fingerprints``: digests of each wrapped data key and of the MAC (shared = copied file);
    ``values``: a digest of every ``ENC[…]`` value in file order (unchanged values across a
    recipient change = the same data key); ``recipients``: age public keys; ``wrapped``:
    digests of the data key as PGP, KMS and Vault keys wrap it (kept by ``sops edit``: the
    same data key).
    """

    fingerprints: tuple[str, ...]
    recipients: tuple[str, ...]
    values: str
    lastmodified: str
    wrapped: tuple[str, ...] = ()
    mac: str = ""  # a digest of the stored MAC (ciphertext): renewed by every sops write
    covered: str = ""  # what the MAC covers, key-less (``sops.mac.MacState.covered``)


@dataclass(frozen=True, slots=True)
class BlobFacts:
    """What one blob yields: each detector's hits, and its SOPS summary when it is one."""

    hits: Mapping[str, tuple[object, ...]]
    sops: SopsSummary | None


def code_fingerprint(extra: Sequence[str] = ()) -> str:
    """A digest of the code that computes cached facts: the package version and the source
    bytes of the files named in ``extra`` (a name that is no file counts as text)."""
    digest = hashlib.sha256(f"{FORMAT}/{secretsmgr.__version__}".encode("utf-8", "surrogateescape"))
    for name in extra:
        digest.update(name.encode("utf-8", "surrogateescape"))
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
        self._graphs: dict[str, dict[str, dict[str, Any]]] = {}  # key -> variant -> entry
        self._prints: dict[str, dict[str, str]] = {}
        self._built: set[str] = set()
        self._last: dict[str, dict[str, str]] = {}

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
                    stem = name[7:-5]
                    self._write(name, self._graphs.get(stem.split("-")[0], {}).get(stem) or {})
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

    def _variants(self, key: str) -> dict[str, dict[str, Any]]:
        """The cached builds under ``key`` (one per set of inputs), by file name."""
        known = self._graphs.get(key)
        if known is not None:
            return known
        found: dict[str, dict[str, Any]] = {}
        if self.folder is not None and _HEX.match(key):
            with contextlib.suppress(OSError):
                files = (self.folder / "graphs").glob(f"{key}-*.json")
                for path in sorted(files, key=lambda p: p.stat().st_mtime):
                    body = self._read(f"graphs/{path.name}")
                    if isinstance(body, dict) and sorted(body) == ["graph", "reads", "type"]:
                        reads = body["reads"]
                        if isinstance(reads, dict) and all(
                            isinstance(v, str) and _READ.match(v) for v in reads.values()
                        ):
                            found[path.stem] = body
        self._graphs[key] = found
        return found

    def graph(
        self,
        key: str,
        model: type[T],
        still_valid: Callable[[Mapping[str, str]], bool],
        build: Callable[[], tuple[T, Mapping[str, str | None]]],
        keep: tuple[frozenset[str], frozenset[str]] | None = None,
    ) -> T:
        """The model cached under ``key`` whose build inputs ``still_valid`` accepts; else
        ``build()`` -> (model, {path read: blob id[:digest]}) and cache that beside the others
        (the index and HEAD may need two builds of the same paths).

        ``keep`` = (every path, paths to keep): path sets and path-keyed maps of a cached model
        are cut down to the paths kept (see ``codec.restricted``).
        """
        variants = self._variants(key)
        for name, entry in reversed(variants.items()):  # the newest build first
            if entry.get("type") != model.__qualname__ or not still_valid(entry["reads"]):
                continue
            try:
                with restricted(keep):
                    value: T = decode(model, entry["graph"])
                self._last[key] = entry["reads"]
                return value
            except CodecError as exc:
                self.discarded.append(f"graphs/{name}.json: {exc}")
        value, read = build()
        self._built.add(key)
        self._last[key] = {p: b for p, b in read.items() if b is not None}
        if not supports(model) or any(blob is None for blob in read.values()):
            return value  # a model the codec cannot hold, or a read outside git: not cached
        try:
            encoded = encode(value)
        except CodecError:
            return value
        reads = dict(read)
        digest = hashlib.sha256(
            json.dumps(reads, sort_keys=True).encode("utf-8", "surrogateescape")
        ).hexdigest()[:16]
        name = f"{key}-{digest}"
        variants[name] = {"type": model.__qualname__, "reads": reads, "graph": encoded}
        self._dirty.add(f"graphs/{name}.json")
        self._prune("graphs", name)
        return value

    def graph_was_built(self, key: str) -> bool:
        """Whether this run built (not decoded) a graph under ``key``: it is whole."""
        return key in self._built

    def variant_reads(self, key: str) -> list[dict[str, str]]:
        """The inputs of every cached build under ``key`` (newest first)."""
        return [dict(e["reads"]) for e in reversed(self._variants(key).values())]

    def graph_reads(self, key: str) -> dict[str, str] | None:
        """The inputs of the graph last answered for ``key`` in this run."""
        reads = self._last.get(key)
        return dict(reads) if reads is not None else None

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
        commit = body.get(COMMIT_FIELD)
        prints = [v for k, v in body.items() if k != COMMIT_FIELD]
        try:
            joined = "\n".join(prints)  # TypeError unless every value is a string
        except TypeError:
            joined = "-"
        if not _PRINT_RUNS.match(joined) or not (
            commit is None or (isinstance(commit, str) and _BLOB.match(commit))
        ):
            self.discarded.append(f"prints/{key}.json: malformed")
            self._dirty.add(f"prints/{key}.json")
            return None
        self._prints[key] = body
        return body

    def latest_prints(self) -> str | None:
        """The key of the newest stored fingerprint map (to update it instead of rebuilding)."""
        if self.folder is None:
            return None
        try:
            files = sorted((self.folder / "prints").glob("*.json"), key=lambda p: p.stat().st_mtime)
        except OSError:
            return None
        return files[-1].stem if files else None

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
