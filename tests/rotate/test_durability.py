"""How a transaction makes many files durable: one syncfs(2) per filesystem on Linux 5.8 and
later while little else is dirty, through folders held open from before the writes (so a
writeback error since is reported to it, whoever else syncs); else an fsync per file
(``fsutil.sync_token``, ``fsync_files``, ``fsync_dirs``)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from secretsmgr import fsutil


def _written(folder: Path, count: int) -> list[Path]:
    paths = []
    for i in range(count):
        path = folder / f"f{i}.new"
        fsutil.write_new(path, f"value {i}\n", 0o644)
        paths.append(path)
    return paths


def _count_fsyncs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = os.fsync

    def counting(fd: int) -> None:
        calls.append(fd)
        real(fd)

    monkeypatch.setattr(os, "fsync", counting)
    return calls


def _syncfs_here(folder: Path) -> bool:
    local = fsutil._mount_types().get(os.stat(folder).st_dev) in fsutil._SYNCFS_TYPES
    return local and fsutil._syncfs_reports_errors()


def test_many_files_take_one_syncfs_and_no_fsync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not _syncfs_here(tmp_path):
        pytest.skip("needs Linux 5.8 or later and a local filesystem")
    monkeypatch.setattr(fsutil, "_dirty_bytes", lambda: 0)
    with fsutil.sync_token([tmp_path]) as token:
        assert set(token.fds) == {os.stat(tmp_path).st_dev}
        paths = _written(tmp_path, fsutil._SYNCFS_MIN)
        calls = _count_fsyncs(monkeypatch)
        fsutil.fsync_files(paths, token)
    assert calls == []
    assert token.fds == {}  # let go of


def test_without_a_token_each_file_is_fsynced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a folder opened only after the writes might not hear of an error another sync had seen
    paths = _written(tmp_path, fsutil._SYNCFS_MIN)
    monkeypatch.setattr(fsutil, "_dirty_bytes", lambda: 0)
    calls = _count_fsyncs(monkeypatch)
    fsutil.fsync_files(paths)
    assert len(calls) == len(paths)


def test_a_few_files_are_fsynced_one_by_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with fsutil.sync_token([tmp_path]) as token:
        paths = _written(tmp_path, fsutil._SYNCFS_MIN - 1)
        calls = _count_fsyncs(monkeypatch)
        fsutil.fsync_files(paths, token)
    assert len(calls) == len(paths)


def test_fuse_and_network_filesystems_keep_the_fsync_per_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # FUSE's syncfs may write nothing (sshfs, virtiofs); NFS commits on fsync
    device = os.stat(tmp_path).st_dev
    monkeypatch.setattr(fsutil, "_dirty_bytes", lambda: 0)
    for table in ({device: "fuse.sshfs"}, {device: "virtiofs"}, {device: "nfs4"}, {}):
        monkeypatch.setattr(fsutil, "_mount_types", lambda table=table: table)
        with fsutil.sync_token([tmp_path]) as token:
            assert token.fds == {}
            folder = tmp_path / str(len(table)) / str(next(iter(table.values()), "none"))
            folder.mkdir(parents=True)
            paths = _written(folder, fsutil._SYNCFS_MIN)
            calls = _count_fsyncs(monkeypatch)
            fsutil.fsync_files(paths, token)
            assert len(calls) == len(paths)
            monkeypatch.undo()
            monkeypatch.setattr(fsutil, "_dirty_bytes", lambda: 0)


def test_a_file_on_a_filesystem_the_token_does_not_hold_is_fsynced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fsutil, "_dirty_bytes", lambda: 0)
    token = fsutil.SyncToken({})  # as for a filesystem of another device than the folders'
    paths = _written(tmp_path, fsutil._SYNCFS_MIN)
    calls = _count_fsyncs(monkeypatch)
    fsutil.fsync_files(paths, token)
    assert len(calls) == len(paths)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/mountinfo")
def test_mount_types_name_the_filesystem_of_a_folder(tmp_path: Path) -> None:
    types = fsutil._mount_types()
    assert types.get(os.stat(tmp_path).st_dev)
    assert types.get(os.stat("/proc").st_dev) == "proc"


def test_a_busy_page_cache_keeps_the_fsync_per_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # syncing the filesystem would also wait for what other programs left dirty on it
    with fsutil.sync_token([tmp_path]) as token:
        paths = _written(tmp_path, fsutil._SYNCFS_MIN)
        monkeypatch.setattr(
            fsutil, "_dirty_bytes", lambda: len(paths) * fsutil._SYNCFS_DIRTY_PER_PATH + 1
        )
        calls = _count_fsyncs(monkeypatch)
        fsutil.fsync_files(paths, token)
    assert len(calls) == len(paths)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/meminfo")
def test_dirty_bytes_reads_the_page_cache() -> None:
    dirty = fsutil._dirty_bytes()
    assert dirty is not None and dirty >= 0


@pytest.mark.parametrize(
    ("release", "platform", "sound"),
    [
        ("6.18.44-fc-v1272", "linux", True),
        ("5.8.0-63-generic", "linux", True),
        ("5.7.19", "linux", False),  # syncfs did not report writeback errors before 5.8
        ("4.19.0-25-amd64", "linux", False),
        ("23.1.0", "darwin", False),
        ("weird", "linux", False),
    ],
)
def test_syncfs_only_where_it_reports_errors(
    release: str, platform: str, sound: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = os.uname()
    fake = os.uname_result((real.sysname, real.nodename, release, real.version, real.machine))
    monkeypatch.setattr(os, "uname", lambda: fake)
    monkeypatch.setattr(sys, "platform", platform)
    assert fsutil._syncfs_reports_errors() is sound


def test_a_vanished_file_is_an_error_either_way(tmp_path: Path) -> None:
    for count in (2, fsutil._SYNCFS_MIN):
        folder = tmp_path / str(count)
        folder.mkdir()
        with fsutil.sync_token([folder]) as token:
            paths = _written(folder, count)
            paths[-1].unlink()
            with pytest.raises(OSError):
                fsutil.fsync_files(paths, token)


def test_folders_are_synced_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folders = [tmp_path / f"d{i}" for i in range(fsutil._SYNCFS_MIN)]
    for folder in folders:
        folder.mkdir()
    monkeypatch.setattr(fsutil, "_dirty_bytes", lambda: 0)
    with fsutil.sync_token(folders) as token:
        calls = _count_fsyncs(monkeypatch)
        fsutil.fsync_dirs(folders, token)
        assert len(calls) == (0 if _syncfs_here(tmp_path) else len(folders))
        fsutil.fsync_dirs(folders[:3], token)
        assert len(calls) == (3 if _syncfs_here(tmp_path) else len(folders) + 3)
