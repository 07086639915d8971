"""The blob cache: warm answers equal cold ones, a damaged or foreign cache is discarded, and
the cache never holds a value."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from secretsmgr.gate.judge import judge_index, open_cache
from tests.audit.helpers import enc, secret
from tests.conftest import git

from .helpers import found, gitops, judge, stage

VALUES = ("db-pass-value-2", "plain-pw-in-cm", "AKIAIOSFODNN7EXAMPLE", "t0ken-value-1")


def _cache_files(root: Path) -> list[Path]:
    folder = root / ".git" / "secretsmgr" / "cache"
    return sorted(p for p in folder.rglob("*.json"))


def _repo(tmp_path: Path) -> Path:
    root = gitops(tmp_path / "r")
    stage(root, "apps/plain.yaml", secret("plain", {"password": "plain-pw-in-cm"}))
    stage(root, "apps/new.enc.yaml", enc(secret("new", {"password": "new-value-5"})))
    return root


def test_warm_and_cold_runs_agree_and_the_cache_is_written(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    cold = judge(root)
    assert _cache_files(root)
    warm = judge(root)
    assert warm.findings == cold.findings
    assert ("SM001", "apps/plain.yaml") in found(warm)
    whole_cold = judge_index(root, None)
    assert judge_index(root, None).findings == whole_cold.findings


def test_the_cache_never_holds_a_value(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    judge(root)
    judge_index(root, None)
    for path in _cache_files(root):
        text = path.read_text(encoding="utf-8")
        for value in VALUES:
            assert value not in text, path
        assert "ENC[" not in text and "AGE-SECRET-KEY" not in text.upper()


@pytest.mark.parametrize(
    "damage",
    ["truncate", "flip", "foreign", "not-json", "bad-entry"],
)
def test_a_damaged_or_foreign_cache_is_discarded(tmp_path: Path, damage: str) -> None:
    root = _repo(tmp_path)
    expected = judge(root).findings
    judge_index(root, None)
    for path in _cache_files(root):
        raw = path.read_bytes()
        head, _, body = raw.partition(b"\n")
        if damage == "truncate":
            path.write_bytes(raw[: len(raw) // 2])
        elif damage == "flip":
            path.write_bytes(head + b"\n" + body.replace(b"SM0", b"SM9", 1))
        elif damage == "foreign":
            header = json.loads(head)
            header["code"] = "0" * 32
            path.write_bytes(json.dumps(header).encode() + b"\n" + body)
        elif damage == "not-json":
            path.write_bytes(b"\x80\x04\x95 pickle? never\n")
        elif damage == "bad-entry" and b"blobs" in path.parent.name.encode():
            # a consistent checksum over a body whose entry claims a hit with a wrong type
            import hashlib

            doc = json.loads(body)
            key = next(iter(doc))
            doc[key]["hits"] = {k: [{"path": 1}] for k in doc[key]["hits"]}
            new = json.dumps(doc, separators=(",", ":")).encode()
            header = json.loads(head)
            header["checksum"] = hashlib.sha256(new).hexdigest()
            path.write_bytes(json.dumps(header).encode() + b"\n" + new)
    cache = open_cache(root)
    again = judge_index(root, [p for p in ("apps/plain.yaml", "apps/new.enc.yaml")], cache=cache)
    assert again.findings == expected
    # and the cache was rewritten clean: a second run reads it without discarding anything
    cache2 = open_cache(root)
    judge_index(root, ["apps/plain.yaml", "apps/new.enc.yaml"], cache=cache2)
    assert cache2.store.discarded == []


def test_a_cache_cannot_hide_a_finding_it_never_saw(tmp_path: Path) -> None:
    """Poisoning needs write access to .git (where hooks live too); even so, an entry for a
    blob is only ever used for that blob: a new plaintext file is judged afresh."""
    root = _repo(tmp_path)
    judge(root)
    git(root, "commit", "-q", "--no-gpg-sign", "-m", "x")
    stage(root, "apps/other.yaml", secret("o", {"password": "another-plain-pw"}))
    assert ("SM001", "apps/other.yaml") in found(judge(root))


def test_one_blob_under_two_names_is_judged_under_each_name(tmp_path: Path) -> None:
    """Detectors read names too: a ``.j2`` template is no manifest, the same bytes as
    ``secret.txt`` are; an ssh key copied into a ``.md`` file is prose, as ``id_ed25519`` it
    is a key. The review of sweep 12: the first name's hits, cached by blob, were reused for
    the second, and check passed the plaintext Secret, run after run."""
    from tests.audit.rules.test_sm009 import _pem_keys

    root = _repo(tmp_path)
    manifest = secret("db", {"password": "hunter2-SuperSecret"})
    _, ssh = _pem_keys()
    for rel, text in (
        ("apps/secret.j2", manifest),
        ("apps/secret.txt", manifest),
        ("keys/a.md", ssh),
        ("keys/id_ed25519", ssh),
    ):
        stage(root, rel, text)
    for _ in range(2):  # cold, then warm
        hits = found(judge_index(root, None))
        assert ("SM001", "apps/secret.txt") in hits and ("SM009", "keys/id_ed25519") in hits
        assert ("SM001", "apps/secret.j2") not in hits and ("SM009", "keys/a.md") not in hits


def test_an_edited_secret_keeps_the_cached_layer_graph(tmp_path: Path) -> None:
    root = gitops(tmp_path / "r")
    judge(root, ["apps/db.enc.yaml"])  # fills the cache from HEAD's state
    stage(root, "apps/db.enc.yaml", enc(secret("db", {"password": "a-new-value"})))
    cache = open_cache(root)
    judge_index(root, ["apps/db.enc.yaml"], cache=cache)
    assert not cache.store._built, "the layer graph was rebuilt for a value edit"
    # a change the build reads (a Flux Kustomization) is a new build
    text = (root / "clusters/prod/apps.yaml").read_text().replace("10m", "5m")
    stage(root, "clusters/prod/apps.yaml", text)
    cache = open_cache(root)
    judge_index(root, ["clusters/prod/apps.yaml"], cache=cache)
    assert cache.store._built


def test_the_code_fingerprint_covers_the_whole_repository_model() -> None:
    # The cached layer graphs come from repo/flux, the cached hits from repo/scan.py and
    # repo/sopsentry.py: an upgrade that changes any of them must not reuse old answers.
    from secretsmgr.audit.registry import RULES
    from secretsmgr.gate.facts import _sources

    names = {Path(p).relative_to(Path(p).parents[2]).as_posix() for p in _sources(RULES)}
    for module in (
        "repo/flux/model.py",
        "repo/flux/build.py",
        "repo/scan.py",
        "repo/sopsentry.py",
        "repo/placeholders.py",
        "repo/inventory.py",
    ):
        assert any(n.endswith(module) for n in names), module


def test_a_cached_layer_graph_is_not_used_once_git_origin_changes(tmp_path: Path) -> None:
    # sixth sweep (rtrox layout): whether a GitRepository is this checkout depends on git's
    # origin, which the graph cache did not key on: after `git remote add`, check kept the
    # graph built without it and passed while audit failed
    from secretsmgr.audit.engine import run_audit
    from tests.audit.helpers import flux_kustomization

    sync = (
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\n"
        "metadata:\n  name: home\n  namespace: flux-system\n"
        "spec:\n  url: https://github.com/acme/home-ops\n  ref: {branch: main}\n---\n"
        + flux_kustomization("home", "./clusters/prod", decryption=None).replace(
            "name: flux-system\n", "name: home\n"
        )
    )
    root = gitops(
        tmp_path / "r",
        {
            "clusters/prod/sync.yaml": sync,
            "clusters/prod/apps.yaml": flux_kustomization(
                "apps", "./apps", decryption=None
            ).replace("name: flux-system\n", "name: home\n"),
        },
    )
    every = ["apps/db.enc.yaml", "clusters/prod/sync.yaml"]
    outcomes = []
    # (another owner's: a bootstrap under its owner's other name is a renamed repository's)
    for origin in (None, "https://github.com/else/other-repo", "https://github.com/acme/home-ops"):
        if origin is not None:
            verb = "set-url" if any(o[0] for o in outcomes) else "add"
            git(root, "remote", verb, "origin", origin)
        gate = {r for r in found(judge(root, every)) if r[1] == "apps/db.enc.yaml"}
        audit = {(f.rule, f.path) for f in run_audit(root).findings if f.path == "apps/db.enc.yaml"}
        assert gate == audit, (origin, gate, audit)
        outcomes.append((origin, gate))
    # this checkout with no origin and under its own URL; another repository's source otherwise
    assert [("SM010", "apps/db.enc.yaml") in o[1] for o in outcomes] == [True, False, True]
