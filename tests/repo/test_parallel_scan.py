"""A large repository is read on every core: the same inventory, in the same order, as one
process reads it, and the same first error."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import secretsmgr.repo.inventory as inventory
from benchmarks.genrepo import generate
from secretsmgr.errors import SecretsmgrError
from secretsmgr.repo.inventory import SCAN_FORK_MIN, Inventory, load_inventory
from secretsmgr.repo.scan import ScannedFile
from secretsmgr.workers import worker_count

pytestmark = pytest.mark.skipif(worker_count(300) < 2, reason="needs two cores")


def pid_detector(file: ScannedFile) -> list[tuple[str, int]]:
    return [(file.path, os.getpid())]


def projection(inv: Inventory) -> list[tuple[object, ...]]:
    out: list[tuple[object, ...]] = []
    for e in inv.sops_files:
        sf = e.sops_file
        out.append(
            (
                e.path,
                e.format,
                e.has_metadata,
                e.error,
                e.sha256,
                e.sops_config,
                e.creation_rule_number,
                e.plaintext_leaves,
                None if sf is None else (sf.metadata, sf.docs),
            )
        )
    return out


def mixed_repo(tmp_path: Path) -> Path:
    repo = generate(tmp_path / "repo", SCAN_FORK_MIN)  # the scan forks from this many files
    root = repo.root
    (root / "gitops" / "apps" / "plain.yaml").write_text(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: p\nstringData:\n  password: hunter2\n"
    )
    (root / "gitops" / "apps" / "broken.enc.yaml").write_text("a: [\n")
    first = sorted(repo.files)[3]
    (root / "gitops" / "apps" / "link.enc.yaml").symlink_to(first)
    return root


def test_the_parallel_read_equals_the_serial_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = mixed_repo(tmp_path)
    detectors = {"pid": pid_detector}
    parallel = load_inventory(root, detectors=detectors)
    monkeypatch.setattr(inventory, "worker_count", lambda *_a, **_k: 1)
    serial = load_inventory(root, detectors=detectors)

    assert projection(parallel) == projection(serial)
    assert len(parallel.sops_files) == SCAN_FORK_MIN + 1  # the generated ones + the broken one
    assert any(e.error for e in parallel.sops_files)
    assert [s.path for s in parallel.symlinks] == [s.path for s in serial.symlinks]
    assert parallel.cluster_keys == serial.cluster_keys
    par_hits = [(path, pid) for path, pid in parallel.hits["pid"]]  # type: ignore[misc]
    ser_hits = [(path, pid) for path, pid in serial.hits["pid"]]  # type: ignore[misc]
    assert [p for p, _ in par_hits] == [p for p, _ in ser_hits]
    # the parallel read really ran in other processes; the serial one in this one
    assert {pid for _, pid in ser_hits} == {os.getpid()}
    assert os.getpid() not in {pid for _, pid in par_hits}


def test_a_broken_sops_yaml_is_the_same_error_either_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = mixed_repo(tmp_path)
    (root / ".sops.yaml").write_text("creation_rules: [\n")
    with pytest.raises(SecretsmgrError) as parallel:
        load_inventory(root)
    monkeypatch.setattr(inventory, "worker_count", lambda *_a, **_k: 1)
    with pytest.raises(SecretsmgrError) as serial:
        load_inventory(root)
    assert type(parallel.value) is type(serial.value)
    assert parallel.value.message == serial.value.message
    assert ".sops.yaml" in serial.value.message


def test_a_broken_nested_sops_yaml_is_the_same_finding_either_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # sweep 106 (Odinyg/homelab): one below the root is a rule-less config the audit reports,
    # not a refusal of every command
    root = mixed_repo(tmp_path)
    (root / "gitops" / "apps" / ".sops.yaml").write_text("creation_rules: [\n")
    parallel = load_inventory(root).sops_configs.unreadable()
    monkeypatch.setattr(inventory, "worker_count", lambda *_a, **_k: 1)
    serial = load_inventory(root).sops_configs.unreadable()
    assert parallel == serial and list(serial) == ["gitops/apps/.sops.yaml"]
    assert str(root) not in serial["gitops/apps/.sops.yaml"]
