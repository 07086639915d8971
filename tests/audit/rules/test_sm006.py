"""SM006 malformed-sops: malformed metadata or ``ENC[…]`` value."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from secretsmgr.audit.finding import AuditReport
from secretsmgr.sops import FileFormat, dump, load
from secretsmgr.sops.model import KeyGroup, SopsMetadata
from secretsmgr.sops.tree import MapNode, SeqNode

from ..helpers import enc, secret, standard_repo
from .cases import ENC_FIELD, Case, ids, run_case


def hit(root: Path) -> None:
    broken = ENC_FIELD.sub(
        lambda m: f"{m[1]}: " + re.sub(r",tag:[^,]*", "", m[2]), enc(secret("db")), count=1
    )
    bad_version = enc(secret("v")).replace("version: 3.11.0", "version: '3.11'")
    sf = load(enc(secret("pgp")), FileFormat.YAML)
    pgp = SeqNode([MapNode([("created_at", "2026-01-01T00:00:00Z"), ("enc", "x"), ("fp", "AB")])])
    meta = sf.metadata
    sf.metadata = SopsMetadata(
        key_groups=(KeyGroup(age=(), foreign=(("pgp", pgp),)),),
        lastmodified=meta.lastmodified,
        mac=meta.mac,
        rule=meta.rule,
        version=meta.version,
    )
    standard_repo(
        root,
        {
            "apps/db.enc.yaml": broken,
            "apps/version.enc.yaml": bad_version,
            "apps/pgp.enc.yaml": dump(sf),
            "apps/junk.enc.yaml": "key: [unclosed\n",
        },
    )


def hit_check(report: AuditReport) -> None:
    found = {(f.path, f.key_path) for f in report.findings if f.rule == "SM006"}
    assert ("apps/db.enc.yaml", "stringData.password") in found
    assert ("apps/version.enc.yaml", None) in found
    assert ("apps/pgp.enc.yaml", "sops") in found
    assert ("apps/junk.enc.yaml", None) in found


def miss(root: Path) -> None:
    # metadata.annotations is left in clear by the Flux rule: an ENC-looking plain string there
    # is just a string to sops.
    plain = (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  annotations:\n"
        "    example: ENC[this is not sops]\nstringData:\n  password: pw\n"
    )
    standard_repo(
        root,
        {
            "apps/db.enc.yaml": enc(plain),
            "apps/values.yaml": "sops:\n  enabled: true\n",  # a Helm values key, not metadata
        },
    )


CASES = [
    Case(
        "SM006-hit",
        hit,
        {
            ("SM006", "apps/db.enc.yaml"),
            ("SM006", "apps/version.enc.yaml"),
            ("SM006", "apps/pgp.enc.yaml"),
            ("SM004", "apps/pgp.enc.yaml"),
            ("SM005", "apps/pgp.enc.yaml"),
            ("SM011", "apps/pgp.enc.yaml"),
            ("SM006", "apps/junk.enc.yaml"),
        },
        verify=hit_check,
    ),
    Case("SM006-miss", miss, set()),
]


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_case(case: Case, tmp_path: Path) -> None:
    run_case(case, tmp_path)
