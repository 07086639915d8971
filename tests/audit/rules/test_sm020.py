"""SM020 removed-recipient-can-read: real sops updatekeys and rotate in real commits."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.audit.helpers import K1, K2, KEYS, secret, sops_yaml, write
from tests.conftest import git, run_sops
from tests.gate.helpers import commit, history_findings


def two_recipients(tmp_path: Path) -> tuple[Path, Path]:
    """A repository whose one SOPS file real sops encrypted to K1 and K2, committed; and the
    key file (both test identities)."""
    root = tmp_path / "r"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    write(root, ".sops.yaml", sops_yaml((r"\.enc\.yaml$", [K1, K2])))
    write(root, "apps/db.enc.yaml", secret("db", {"password": "pw-two"}))
    keys = tmp_path / "keys.txt"
    keys.write_text(
        (KEYS / "test-only-1.agekey").read_text() + (KEYS / "test-only-2.agekey").read_text()
    )
    done = run_sops(["encrypt", "-i", "apps/db.enc.yaml"], cwd=root, key_file=keys)
    assert done.returncode == 0, done.stderr
    commit(root, "two recipients")
    return root, keys


@pytest.mark.interop
def test_sm020_fires_after_updatekeys_until_a_rotate(tmp_path: Path) -> None:
    root, keys = two_recipients(tmp_path)
    write(root, ".sops.yaml", sops_yaml((r"\.enc\.yaml$", [K1])))
    done = run_sops(["updatekeys", "-y", "apps/db.enc.yaml"], cwd=root, key_file=keys)
    assert done.returncode == 0, done.stderr
    commit(root, "drop K2")
    removed = git(root, "rev-parse", "HEAD").strip()
    found = history_findings(root)
    assert ("SM020", "apps/db.enc.yaml") in found, found
    message = found[("SM020", "apps/db.enc.yaml")][0]
    assert K2[:7] in message and removed[:12] in message and "still decrypts" in message
    # a later edit keeps the data key: still readable
    done = run_sops(
        ["set", "apps/db.enc.yaml", '["stringData"]["username"]', '"root"'], cwd=root, key_file=keys
    )
    assert done.returncode == 0, done.stderr
    commit(root, "edit")
    assert ("SM020", "apps/db.enc.yaml") in history_findings(root)
    # a new data key cures it
    done = run_sops(["rotate", "-i", "apps/db.enc.yaml"], cwd=root, key_file=keys)
    assert done.returncode == 0, done.stderr
    commit(root, "rotate")
    assert ("SM020", "apps/db.enc.yaml") not in history_findings(root)


@pytest.mark.interop
def test_sm020_near_miss_a_rotation_that_removes_the_recipient(tmp_path: Path) -> None:
    root, keys = two_recipients(tmp_path)
    done = run_sops(["rotate", "-i", "--rm-age", K2, "apps/db.enc.yaml"], cwd=root, key_file=keys)
    assert done.returncode == 0, done.stderr
    commit(root, "rotate K2 out")
    assert ("SM020", "apps/db.enc.yaml") not in history_findings(root)


def test_sm020_stays_after_an_edit_of_a_file_left_on_kms_keys_only(tmp_path: Path) -> None:
    # sweep 20 (ol3d/home-ops): the age key was taken off (KMS left), then `sops edit` gave
    # the values new IVs and a new MAC under the same data key; with no age stanza left, the
    # MAC was its only fingerprint, so the edit looked like a new data key and SM020 went away
    from dataclasses import replace

    from secretsmgr.sops import FileFormat, decrypt, dump, load, seal
    from secretsmgr.sops.model import KeyGroup
    from tests.audit.helpers import enc, identity
    from tests.sops.key_types import foreign

    root = tmp_path / "r"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    write(root, ".sops.yaml", sops_yaml((r"\.enc\.yaml$", [K1])))
    first = load(enc(secret("db", {"password": "pw-kms"}), (K1,)), FileFormat.YAML)
    (group,) = first.metadata.key_groups
    kms = foreign(("kms",))
    first.metadata = replace(first.metadata, key_groups=(KeyGroup(group.age, kms),))
    write(root, "apps/db.enc.yaml", dump(first))
    commit(root, "age and KMS")
    kms_only = replace(first.metadata, key_groups=(KeyGroup((), kms),))
    write(root, "apps/db.enc.yaml", dump(replace(first, metadata=kms_only)))
    commit(root, "drop the age key")
    assert ("SM020", "apps/db.enc.yaml") in history_findings(root)
    opened = decrypt(first, [identity(1)])
    edited = seal(opened.docs, fmt=FileFormat.YAML, data_key=opened.data_key, metadata=kms_only)
    write(root, "apps/db.enc.yaml", dump(edited))
    commit(root, "sops edit")
    assert ("SM020", "apps/db.enc.yaml") in history_findings(root)
