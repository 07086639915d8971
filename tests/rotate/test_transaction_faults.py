"""All or none: a failure injected at every step of ``rotate()`` (in-process, no kill).

What each step raises (documented here, asserted below); the tree is byte-identical to before
unless said otherwise:

- stage i, journal 0, write i, fsync 0: the injected exception itself (a RuntimeError),
  unwrapped.
- replace i, dirsync 0, changelog 0: ``RotationAbortedError`` "rotation failed while writing
  (Injected); every file was restored", ``__cause__`` = the injected exception. A
  SecretsmgrError or KeyboardInterrupt injected there comes through unwrapped.
- commit 0: ``RefusedError`` "rotated N files (changelog seq S) but the commit failed: …"; the
  rotation is complete and logged but uncommitted.
- commit 0 by a real git failure (a refusing pre-commit hook): ``RefusedError`` "rotated N files
  (changelog seq S) but the commit failed: …"; complete, logged, uncommitted.
"""

from __future__ import annotations

import dataclasses
import os
import stat
import tempfile
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from secretsmgr.changelog.chain import parse_entries, verify
from secretsmgr.errors import RefusedError, RotationAbortedError, SecretsmgrError
from secretsmgr.rotate.transaction import RotationRequest, RotationResult, rotate
from tests.rotate.helpers import (
    CHANGELOG,
    DATABASES,
    DEMO_KEY,
    DEMO_SOPS_FILES,
    changed,
    head,
    identity_from,
    litter,
    log_lines,
    plaintext,
    porcelain,
    secret_values,
    snapshot,
    sops_json,
)

REQUEST = RotationRequest(layers=("databases",), reason="fault test", commit=True)


class Injected(RuntimeError):
    """The failure the fault hook raises."""


def fault_at(step: str, index: int, exc: BaseException | None = None) -> Callable[[str, int], None]:
    def hook(at: str, i: int) -> None:
        if (at, i) == (step, index):
            raise exc if exc is not None else Injected(f"injected at {step}:{i}")

    return hook


def run(repo: Path, hook: Callable[[str, int], None] | None, **changes: object) -> RotationResult:
    request = dataclasses.replace(REQUEST, **changes)  # type: ignore[arg-type]
    return rotate(repo, request, [identity_from(DEMO_KEY)], env=os.environ, fault=hook)


BEFORE_REPLACE = [
    ("stage", 0),
    ("stage", 1),
    ("journal", 0),
    ("write", 0),
    ("write", 1),
    ("fsync", 0),
]
AFTER_REPLACE = [("replace", 0), ("replace", 1), ("dirsync", 0), ("changelog", 0)]


def test_no_fault_rotates_both_files(demo_repo: Path) -> None:
    steps: list[tuple[str, int]] = []
    result = run(demo_repo, lambda at, i: steps.append((at, i)))
    assert steps == [*BEFORE_REPLACE, *AFTER_REPLACE, ("commit", 0)]
    assert result.commit is not None and [f.path for f in result.plan.files] == list(DATABASES)
    assert porcelain(demo_repo) == "" and litter(demo_repo) == []


@pytest.mark.parametrize(("step", "index"), BEFORE_REPLACE + AFTER_REPLACE)
def test_fault_leaves_the_tree_byte_identical(demo_repo: Path, step: str, index: int) -> None:
    before = snapshot(demo_repo)
    start = head(demo_repo)
    with pytest.raises(BaseException) as info:
        run(demo_repo, fault_at(step, index))
    if (step, index) in BEFORE_REPLACE:
        # nothing was replaced yet: the injected exception comes through as it is
        assert type(info.value) is Injected
    else:
        assert isinstance(info.value, RotationAbortedError)
        assert isinstance(info.value, SecretsmgrError) and info.value.exit_code == 1
        assert info.value.message == (
            "rotation failed while writing (Injected); every file was restored"
        )
        assert isinstance(info.value.__cause__, Injected)
    assert snapshot(demo_repo) == before
    assert litter(demo_repo) == []
    assert head(demo_repo) == start and porcelain(demo_repo) == ""


@pytest.mark.parametrize(
    "exc", [RefusedError("disk said no"), KeyboardInterrupt()], ids=["refused", "ctrl-c"]
)
def test_fault_after_replace_with_other_exceptions_restores_too(
    demo_repo: Path, exc: BaseException
) -> None:
    before = snapshot(demo_repo)
    with pytest.raises(type(exc)) as info:
        run(demo_repo, fault_at("replace", 1, exc))
    assert info.value is exc  # re-raised unwrapped
    assert snapshot(demo_repo) == before and litter(demo_repo) == []


def test_fault_at_changelog_restores_an_existing_changelog(demo_repo: Path) -> None:
    run(demo_repo, None)  # seq N: the changelog now exists and is committed
    before = snapshot(demo_repo)
    with pytest.raises(RotationAbortedError):
        run(demo_repo, fault_at("changelog", 0))
    assert snapshot(demo_repo) == before and litter(demo_repo) == []


def assert_complete_but_uncommitted(repo: Path, before: dict[str, bytes], start: str) -> None:
    ident = identity_from(DEMO_KEY)
    old = {f: plaintext(repo / f, ident, before[f]) for f in DATABASES}
    assert head(repo) == start
    assert changed(before, snapshot(repo)) == {*DATABASES, CHANGELOG}
    assert litter(repo) == []
    data = (repo / CHANGELOG).read_bytes()
    assert verify(data) is None
    entry = parse_entries(data)[-1]
    assert [r.path for r in entry.files] == list(DATABASES)
    for f in DATABASES:  # rotated: same plaintext (MAC checked), other bytes
        assert plaintext(repo / f, ident) == old[f]


def test_fault_at_commit_leaves_the_rotation_complete(demo_repo: Path) -> None:
    before, start = snapshot(demo_repo), head(demo_repo)
    with pytest.raises(RefusedError, match="but the commit failed"):
        run(demo_repo, fault_at("commit", 0))
    assert_complete_but_uncommitted(demo_repo, before, start)


def test_fault_at_commit_says_the_commit_failed(demo_repo: Path) -> None:
    with pytest.raises(SecretsmgrError, match="but the commit failed"):
        run(demo_repo, fault_at("commit", 0))


def test_real_git_commit_failure_is_reported_and_rotation_kept(demo_repo: Path) -> None:
    hook = demo_repo / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\necho 'policy hook says no' >&2\nexit 1\n")
    hook.chmod(hook.stat().st_mode | stat.S_IXUSR)
    before, start = snapshot(demo_repo), head(demo_repo)
    seq = len(log_lines(demo_repo)) + 1
    with pytest.raises(RefusedError) as info:
        run(demo_repo, None)
    assert info.value.message == (
        f"rotated 2 files (changelog seq {seq}) but the commit failed: "
        "git commit failed: policy hook says no"
    )
    assert any("commit them yourself" in h for h in info.value.hints)
    assert_complete_but_uncommitted(demo_repo, before, start)


# --- no plaintext on disk ------------------------------------------------------------------


def loose_objects(git_dir: Path) -> dict[str, bytes]:
    """Every loose git object, inflated."""
    found = {}
    for path in (git_dir / "objects").glob("??/*"):
        found[f".git/{path.relative_to(git_dir).as_posix()}"] = zlib.decompress(path.read_bytes())
    return found


@pytest.mark.interop
@pytest.mark.parametrize("regenerate", [False, True], ids=["rotate", "regenerate-linked"])
def test_no_plaintext_ever_reaches_the_disk(
    demo_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, regenerate: bool
) -> None:
    scratch = tmp_path / "tmpdir"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setattr(tempfile, "tempdir", None)  # make gettempdir() read TMPDIR again
    assert tempfile.gettempdir() == str(scratch)

    public = b"".join(snapshot(demo_repo).values())  # a "secret" that is also a path is public
    docs = {f: sops_json(demo_repo / f, DEMO_KEY) for f in DEMO_SOPS_FILES}
    secrets = {v for d in docs.values() for v in secret_values(d) if v.encode() not in public}
    assert len(secrets) >= 6

    seen: dict[tuple[str, str], bytes] = {}  # (moment, path) -> bytes

    def grab(moment: str) -> None:
        for root, label in ((demo_repo, "repo"), (scratch, "tmp")):
            for rel, data in snapshot(root).items():
                seen[(moment, f"{label}/{rel}")] = data
        for rel, data in loose_objects(demo_repo / ".git").items():
            seen[(moment, f"repo/{rel}")] = data

    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:  # every temp file, complete, just before it is moved
        path = os.readlink(f"/proc/self/fd/{fd}")
        if not os.path.isdir(path):  # folders are fsynced too, after the renames
            seen[("fsync", path)] = Path(path).read_bytes()
        real_fsync(fd)

    def replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        seen[("replace", os.fspath(src))] = Path(src).read_bytes()
        grab(f"replace {os.fspath(dst)}")
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    steps: list[str] = []

    def hook(step: str, index: int) -> None:
        steps.append(f"{step}:{index}")
        grab(f"{step}:{index}")

    extra = {"regenerate": ("stringData.password",), "linked": True} if regenerate else {}
    result = run(demo_repo, hook, **extra)
    monkeypatch.undo()  # real os.replace again for the checks below
    grab("after")
    assert result.commit is not None
    assert "commit:0" in steps
    temps = {
        p
        for (moment, p) in seen
        if moment == "replace" and p.endswith(".new") and "/.git/" not in p and CHANGELOG not in p
    }
    assert len(temps) == (3 if regenerate else 2)  # every staged temp file was inspected

    after = {f: sops_json(demo_repo / f, DEMO_KEY) for f in DEMO_SOPS_FILES}
    new_secrets = {
        v for d in after.values() for v in secret_values(d) if v.encode() not in public
    } - secrets
    if regenerate:
        assert len(new_secrets) == 1  # the new postgresql password (shared with authentik)
    else:
        assert after == docs
    for (moment, path), data in seen.items():
        for value in secrets | new_secrets:
            assert value.encode() not in data, f"a secret value in {path} at {moment}"


def test_a_disk_error_at_the_sync_or_the_journal_is_a_plain_error_and_leaves_nothing(
    demo_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the attack review of stop 52: EIO from the fsync pass was "internal error: OSError"
    # (exit 3), and one from the journal's own fsync left the journal, so check held every
    # commit up as an interrupted rotation (SM022) until `recover`
    import errno

    import secretsmgr.rotate.transaction as transaction
    from secretsmgr.errors import InputFileError

    def failing(*_args: object) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    before = snapshot(demo_repo)
    monkeypatch.setattr(transaction, "fsync_files", failing)
    with pytest.raises(InputFileError) as info:
        run(demo_repo, None)
    assert info.value.message == (
        "cannot write the new files to disk (Input/output error); nothing was changed"
    )
    assert snapshot(demo_repo) == before and litter(demo_repo) == []
    monkeypatch.undo()
    real = transaction.write_journal

    def journal_then_fail(where: Path, journal: object) -> None:
        real(where, journal)  # type: ignore[arg-type]
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(transaction, "write_journal", journal_then_fail)
    with pytest.raises(OSError):
        run(demo_repo, None)
    assert snapshot(demo_repo) == before and litter(demo_repo) == []
