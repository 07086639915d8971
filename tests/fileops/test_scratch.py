"""The plaintext scratch folder: memory-backed only, private, and always removed."""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from secretsmgr.errors import UserError
from secretsmgr.fsutil import filesystem_type, memory_dir, scratch_file

SHM = Path("/dev/shm")
needs_shm = pytest.mark.skipif(filesystem_type(str(SHM)) != "tmpfs", reason="no tmpfs /dev/shm")


def test_filesystem_type_reads_the_last_and_longest_mount(tmp_path: Path) -> None:
    table = tmp_path / "mountinfo"
    table.write_text(
        "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n"
        "25 22 0:23 / /dev/shm rw,relatime - tmpfs tmpfs rw\n"
        "30 25 0:27 / /dev/shm rw,relatime - ext4 /dev/sdb rw\n"  # stacked: this one is seen
        "31 22 0:28 / /run/user/1000 rw shared:5 - tmpfs tmpfs rw\n"
        "32 22 0:29 / /mnt/with\\040space rw - ramfs none rw\n"
    )
    assert filesystem_type("/dev/shm/x", str(table)) == "ext4"
    assert filesystem_type("/run/user/1000/x", str(table)) == "tmpfs"
    assert filesystem_type("/run/user/10000", str(table)) == "ext4"
    assert filesystem_type("/mnt/with space/y", str(table)) == "ramfs"
    assert filesystem_type("/x", str(tmp_path / "missing")) is None


@pytest.fixture
def private_tmpfs() -> Iterator[Path]:
    """A folder of ours with mode 0700 on the /dev/shm tmpfs (a stand-in $XDG_RUNTIME_DIR)."""
    folder = Path(tempfile.mkdtemp(prefix="xdg-test-", dir=SHM))
    try:
        yield folder
    finally:
        folder.chmod(0o700)
        os.rmdir(folder)


@needs_shm
def test_dev_shm_comes_first() -> None:
    assert memory_dir({"XDG_RUNTIME_DIR": "/elsewhere"}) == SHM


@needs_shm
def test_xdg_runtime_dir_is_used_only_when_private_and_in_memory(
    private_tmpfs: Path, tmp_path: Path
) -> None:
    no_shm = str(tmp_path / "no-shm")
    assert memory_dir({"XDG_RUNTIME_DIR": str(private_tmpfs)}, shm=no_shm) == private_tmpfs
    private_tmpfs.chmod(0o755)
    with pytest.raises(UserError, match="no memory-backed folder"):
        memory_dir({"XDG_RUNTIME_DIR": str(private_tmpfs)}, shm=no_shm)
    on_disk = tmp_path / "runtime"
    on_disk.mkdir(mode=0o700)
    assert filesystem_type(str(on_disk)) not in ("tmpfs", "ramfs")
    with pytest.raises(UserError, match="no memory-backed folder"):
        memory_dir({"XDG_RUNTIME_DIR": str(on_disk)}, shm=no_shm)
    with pytest.raises(UserError):
        memory_dir({"XDG_RUNTIME_DIR": "relative/dir"}, shm=no_shm)
    with pytest.raises(UserError):
        memory_dir({}, shm=str(on_disk))  # a /dev/shm that is not memory-backed


@needs_shm
def test_scratch_file_is_private_and_removed_with_what_the_editor_left(
    private_tmpfs: Path,
) -> None:
    with scratch_file(private_tmpfs, "db.enc.yaml", "secret\n") as temp:
        assert temp.name == "db.enc.yaml" and temp.read_text() == "secret\n"
        assert stat.S_IMODE(temp.stat().st_mode) == 0o600
        assert stat.S_IMODE(temp.parent.stat().st_mode) == 0o700
        (temp.parent / ".db.enc.yaml.swp").write_text("swap")
        (temp.parent / "backup").mkdir()
        (temp.parent / "backup" / "x").write_text("x")
        box = temp.parent
    assert not box.exists()
    with pytest.raises(RuntimeError), scratch_file(private_tmpfs, "x", "y") as temp:
        box = temp.parent
        raise RuntimeError
    assert not box.exists()
