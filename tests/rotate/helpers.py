"""Shared helpers of the rotation tests: git copies of fixtures, tree snapshots, sops checks."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from secretsmgr.keys.age import AgeIdentity, parse_identities
from secretsmgr.sops import decrypt, dump_plain, format_for_path, load
from secretsmgr.sops.datakey import unwrap_data_key
from tests.conftest import FIXTURES, GIT_ENV, VECTORS, git, run_sops

DEMO = FIXTURES / "demo"
DEMO_KEY = FIXTURES / "keys" / "demo-only.agekey"
TEST2_KEY = VECTORS / "keys" / "test-only-2.agekey"
TEST2_PUBLIC = "age1wk59fr3he9n3qw722fh85e6udyj2geqwcfu5anaql9xd2dam0c0qfp8vss"

PG = "gitops/apps/postgresql/credentials.enc.yaml"
REDIS = "gitops/apps/redis/auth.enc.yaml"
AUTHENTIK = "gitops/apps/authentik/secret.enc.yaml"
CLOUDFLARE = "gitops/infrastructure/cert-manager/cloudflare-api-token.enc.yaml"
DATABASES = (PG, REDIS)
DEMO_SOPS_FILES = (CLOUDFLARE, PG, REDIS, AUTHENTIK)
CHANGELOG = "secrets-changelog.jsonl"
JOURNAL = ".secretsmgr-rotation.journal"


def git_copy(src: Path, dst: Path, *, drop: Iterable[str] = ()) -> Path:
    """Copy ``src`` to ``dst`` (minus ``drop``), make it a git repository with one commit."""
    shutil.copytree(src, dst)
    for name in drop:
        (dst / name).unlink(missing_ok=True)
    git(dst, "init", "-q", "-b", "main")
    commit_all(dst, "initial")
    return dst


def commit_all(repo: Path, message: str) -> None:
    """Stage everything and commit it with the fixed test identity."""
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--no-gpg-sign", "-m", message)


def head(repo: Path) -> str:
    """The sha of HEAD."""
    return git(repo, "rev-parse", "HEAD").strip()


def porcelain(repo: Path) -> str:
    """``git status --porcelain`` including every untracked file."""
    return git(repo, "status", "--porcelain", "--untracked-files=all")


def log_lines(repo: Path) -> list[bytes]:
    """The changelog's lines (none when it does not exist)."""
    path = repo / CHANGELOG
    return path.read_bytes().splitlines() if path.exists() else []


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (recursively, .git excluded) and its bytes."""
    found: dict[str, bytes] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        for name in filenames:
            path = Path(dirpath) / name
            found[path.relative_to(root).as_posix()] = path.read_bytes()
    return found


def changed(before: Mapping[str, bytes], after: Mapping[str, bytes]) -> set[str]:
    """Paths added, removed or modified between two snapshots."""
    return {p for p in before.keys() | after.keys() if before.get(p) != after.get(p)}


def journal_path(root: Path) -> Path:
    """Where the transaction keeps the journal of ``root`` (inside .git, keyed by the root)."""
    from secretsmgr.repo.pending import journal_path as where

    found = where(root)
    assert found is not None, "no journal outside git"
    return found


def litter(root: Path) -> list[str]:
    """Leftovers of a transaction: the journal, temp files (hidden *.new/*.old/*.tmp)."""
    journal = journal_path(root)
    found = [JOURNAL] if journal.exists() else []
    folder = journal.parent
    found += [f"journals/{p.name}" for p in folder.glob(".*")] if folder.is_dir() else []
    return sorted(
        found
        + [
            p
            for p in snapshot(root)
            if p.endswith(JOURNAL)
            or (p.rsplit("/", 1)[-1].startswith(".") and p.endswith((".new", ".old", ".tmp")))
        ]
    )


def identity_from(key_file: Path | None = None, key_text: str | None = None) -> AgeIdentity:
    """The identities in a key file or key text."""
    text = key_text if key_text is not None else Path(str(key_file)).read_text()
    return parse_identities(text, "tests")


def data_key(path: Path, identity: AgeIdentity) -> bytes:
    """The data key of a SOPS file, unwrapped with ``identity``."""
    sf = load(path.read_text(encoding="utf-8"), format_for_path(path.name))
    return unwrap_data_key(sf.metadata, [identity])


def plaintext(path: Path, identity: AgeIdentity, data: bytes | None = None) -> str:
    """Our own decryption of a SOPS file (MAC verified) as plain text; ``data`` = its bytes."""
    fmt = format_for_path(path.name)
    text = (path.read_bytes() if data is None else data).decode("utf-8")
    return dump_plain(decrypt(load(text, fmt), [identity]).docs, fmt)


def age_recipients(path: Path) -> tuple[str, ...]:
    """The age recipients in a file's sops metadata."""
    sf = load(path.read_text(encoding="utf-8"), format_for_path(path.name))
    return sf.metadata.age_recipients


def sops_decrypt(
    path: Path, *, key_file: Path | None = None, key_text: str | None = None, json_out: bool = False
) -> str:
    """The real ``sops decrypt`` output; fails the test when sops fails."""
    args = ["decrypt", *(["--output-type", "json"] if json_out else []), str(path)]
    done = run_sops(args, key_file=key_file, key_text=key_text)
    assert done.returncode == 0, f"sops decrypt {path.name}: exit {done.returncode}"
    return done.stdout


def sops_json(path: Path, key_file: Path) -> dict[str, object]:
    """The real sops' decryption of a file as a JSON object."""
    doc = json.loads(sops_decrypt(path, key_file=key_file, json_out=True))
    assert isinstance(doc, dict)
    return doc


def sops_decrypt_many(paths: Iterable[Path], key_text: str) -> dict[Path, str]:
    """``sops decrypt`` of several files, a few at a time."""
    todo = list(paths)
    with ThreadPoolExecutor(max_workers=4) as pool:
        outs = list(pool.map(lambda p: sops_decrypt(p, key_text=key_text), todo))
    return dict(zip(todo, outs, strict=True))


def subprocess_env(**extra: str) -> dict[str, str]:
    """os.environ (already hermetic) plus the fixed git identity plus ``extra``."""
    env = dict(os.environ)
    env.update(GIT_ENV)
    env.update(extra)
    return env


def secret_values(doc: Mapping[str, object]) -> set[str]:
    """Every string under ``data``/``stringData`` of a decrypted Secret (base64 decoded too)."""
    import base64
    import binascii

    found: set[str] = set()
    for section in ("data", "stringData"):
        values = doc.get(section)
        if not isinstance(values, dict):
            continue
        for value in values.values():
            if not isinstance(value, str):
                continue
            found.add(value)
            if section == "data":
                with contextlib.suppress(binascii.Error, UnicodeDecodeError):
                    found.add(base64.b64decode(value, validate=True).decode("utf-8"))
    return found
