"""The YAML goldens of tests/sops/yaml_goldens.py, re-checked against the real sops.

For every golden: ``sops decrypt`` of our encryption of the tree prints the golden; the golden is
sops's own fixed point (``sops encrypt`` then ``sops decrypt`` prints it unchanged); and we
decrypt sops's encryption of it to the same data.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import TEST_KEY, run_sops
from sops.treeutil import canon
from sops.yaml_goldens import GOLDENS, Golden

from secretsmgr import sops
from secretsmgr.keys.age import AgeRecipient, parse_identities
from secretsmgr.sops.model import EncryptionRule

pytestmark = pytest.mark.interop

PUB = "age17m4zztwdtjwv5yastfc6v72cjnsrn7yuxlpmgwgr5c8s52lst4jq9x0tvy"
YAML = sops.FileFormat.YAML
IDS = [parse_identities(TEST_KEY.read_text(encoding="utf-8"), "test-only-1")]


def decrypt_with_sops(path: Path) -> str:
    r = run_sops(["decrypt", str(path)], key_file=TEST_KEY)
    assert (r.returncode, r.stderr) == (0, ""), r.stderr
    return r.stdout


@pytest.mark.parametrize("golden", GOLDENS, ids=[g.name for g in GOLDENS])
def test_golden_is_what_sops_prints(golden: Golden, tmp_path: Path) -> None:
    ours = sops.encrypt(
        [golden.tree], fmt=YAML, groups=[[AgeRecipient(PUB)]], rule=EncryptionRule()
    )
    path = tmp_path / "ours.enc.yaml"
    path.write_text(sops.dump(ours), encoding="utf-8")
    assert decrypt_with_sops(path) == golden.sops_output

    (tmp_path / "plain.yaml").write_text(golden.sops_output, encoding="utf-8")
    r = run_sops(["encrypt", "--age", PUB, "plain.yaml"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    theirs = tmp_path / "theirs.enc.yaml"
    theirs.write_text(r.stdout, encoding="utf-8")
    assert decrypt_with_sops(theirs) == golden.sops_output

    sf = sops.load(r.stdout, YAML)
    assert canon(sops.decrypt(sf, IDS).docs) == canon([golden.tree], printed="yaml")
    if golden.bug is None:
        assert sops.dump(sf) == r.stdout
