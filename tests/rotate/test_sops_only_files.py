"""Files only sops can give a new data key (PGP, KMS, Vault keys only): every fix says so.

Sweep 10 (SovereignCloudStack/moin-cluster-config, FruitieX/homelab, crutonjohn/gitops: Flux
decrypts with `sops-gpg` or KMS, no age key anywhere): SM008 and SM014 said `secretsmgr rotate`,
which refuses such a file, and the refusal (and SM011) said to add "the cluster's age key" and
run `sops updatekeys`, which keeps the old data key.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from secretsmgr.audit.engine import run_audit
from tests.audit.helpers import flux_kustomization, write
from tests.audit.rules.history import lastmodified
from tests.cli.runner import assert_user_error, hints_of, run
from tests.interop.test_key_types import FOREIGN_ONLY

FP = "FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4"  # the PGP entry of tests/sops/key_types.py
OTHER = "0123456789ABCDEF0123456789ABCDEF01234567"
REGEX = "    encrypted_regex: ^(data|stringData)$\n"
FILE = "apps/s.enc.yaml"
NEW_KEY = f"a holder of its pgp keys gives it a new data key with sops: sops rotate -i {FILE}"


def _pgp_repo(root: Path, rule: str = f"{REGEX}    pgp: {FP}, {OTHER}\n") -> Path:
    """A Flux layer decrypting with a PGP key (`sops-gpg`), a `.sops.yaml` naming PGP keys."""
    write(root, ".sops.yaml", f"creation_rules:\n  - path_regex: \\.enc\\.yaml$\n{rule}")
    write(root, "clusters/prod/apps.yaml", flux_kustomization(decryption="sops-gpg"))
    write(root, FILE, FOREIGN_ONLY["pgp"])
    write(root, "apps/copy.enc.yaml", FOREIGN_ONLY["pgp"])  # a copied file (SM014)
    return root


def test_fixes_for_a_pgp_only_file_name_sops_rotate_and_no_age_key(tmp_path: Path) -> None:
    root = _pgp_repo(tmp_path)
    report = run_audit(root, now=lastmodified(root, FILE) + timedelta(days=91))
    fixes = {(f.rule, f.path): f.fix for f in report.findings}
    assert fixes[("SM008", FILE)] == NEW_KEY
    assert fixes[("SM014", FILE)] == NEW_KEY  # copy.enc.yaml sorts first
    # the rule names a key the file lacks: updatekeys by a holder, no age key to add
    assert fixes[("SM011", FILE)] == (
        f"a holder of its pgp keys syncs it to .sops.yaml rule 1: sops updatekeys -y {FILE}"
    )
    assert not any("age key" in (fix or "") for fix in fixes.values()), fixes


def test_rotate_refuses_a_pgp_only_file_with_the_sops_rotate_hint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _pgp_repo(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "nobody"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "nobody"))
    for args, path in (([str(root / FILE)], FILE), (["--all"], "apps/copy.enc.yaml")):
        code, out, err = run(["--repo", str(root), "rotate", "--dry-run", *args], capsys)
        assert (code, out) == (1, ""), err
        assert_user_error(err, f"{path}: encrypted to pgp keys only")
        # a selection names every such file it holds (sweep 22: the first of 28 alone)
        also = f" (and 1 more file only sops can rotate: {FILE})"
        assert err.splitlines()[0].endswith(
            "new data key for" + ("" if args[0] != "--all" else also)
        )
        # both files are sops's alone: no "rotate the others" (the review)
        assert hints_of(err) == [NEW_KEY.replace(FILE, path)]


def test_a_rule_that_names_no_key_is_no_recipient_drift(tmp_path: Path) -> None:
    # FruitieX/homelab: the rules name no key, keys come from SOPS_PGP_FP: SM011 said "extra
    # key pgp" on all 25 files
    root = _pgp_repo(tmp_path, REGEX)
    assert [f for f in run_audit(root).findings if f.rule == "SM011"] == []
    # the encryption rule is still compared
    write(root, ".sops.yaml", "creation_rules:\n  - encrypted_regex: ^(data)$\n")
    found = [f for f in run_audit(root).findings if f.rule == "SM011" and f.path == FILE]
    assert len(found) == 1 and "encryption rule" in found[0].message
    assert "extra key" not in found[0].message
    # a rule naming a key: the file's other key is still an extra key
    write(root, ".sops.yaml", f"creation_rules:\n  - path_regex: .*\n{REGEX}    pgp: {OTHER}\n")
    found = [f for f in run_audit(root).findings if f.rule == "SM011" and f.path == FILE]
    assert len(found) == 1 and "extra key pgp 3D16CEE4A27381B4" in found[0].message


def test_a_cluster_key_rotation_leaves_pgp_files_flux_decrypts_with_pgp(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # sweep 20: after init's step put the age key beside PGP in the rule, key rotate --begin
    # refused for ever over a PGP-only file ("a holder … sops rotate -i"), which Flux decrypts
    # with the PGP key and which carries no age key to rotate
    from tests.audit.helpers import K1, KEYS, enc, secret
    from tests.conftest import git

    root = _pgp_repo(tmp_path / "repo", rule=f"{REGEX}    pgp: {FP}\n    age: {K1}\n")
    write(root, ".secretsmgr.yaml", f"cluster_key: {K1}\n")
    write(root, "apps/db.enc.yaml", enc(secret("db")))
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "--no-gpg-sign", "-m", "a PGP repository with an age file")
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(KEYS / "test-only-1.agekey"))
    before = {p: (root / p).read_bytes() for p in (FILE, "apps/copy.enc.yaml")}
    args = ["--repo", str(root), "key", "rotate", "--begin", "-o", str(tmp_path / "new.agekey")]
    args += ["--namespace", "flux-system", "--secret", "sops-gpg", "--cluster-key", K1]
    code, out, err = run(args, capsys)  # no manifest for a Secret named for PGP keys
    assert code == 0 and "key export --apply --name sops-gpg --add" in out, err
    assert {p: (root / p).read_bytes() for p in before} == before
    assert (root / "apps/db.enc.yaml").read_text().count("recipient: age1") == 2


@pytest.mark.parametrize("nested", [False, True], ids=["root-config", "nested-config"])
def test_a_file_on_age_and_pgp_keys_gets_hints_that_lead_somewhere(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    nested: bool,
) -> None:
    # sweep 20: begin refused an age + PGP file with "sops rotate -i", which left it age + PGP:
    # the same refusal for ever. A key rotation says how sops moves its age key instead; a
    # plain --all says the sops rotation is for that file only
    from dataclasses import replace

    from secretsmgr.sops import FileFormat, dump, load
    from secretsmgr.sops.model import KeyGroup
    from tests.audit.helpers import K1, KEYS, enc, secret
    from tests.conftest import git
    from tests.sops.key_types import foreign

    root = _pgp_repo(tmp_path / "repo", rule=f"{REGEX}    pgp: {FP}\n    age: {K1}\n")
    if nested:  # sweep 36, luisgj/flux-sops: sops finds it only from its folder
        (root / ".sops.yaml").rename(root / "apps/.sops.yaml")
    write(root, ".secretsmgr.yaml", f"cluster_key: {K1}\n")
    both = load(enc(secret("db")), FileFormat.YAML)
    (group,) = both.metadata.key_groups
    groups = (KeyGroup(group.age, foreign(("pgp",))),)
    both.metadata = replace(both.metadata, key_groups=groups)
    write(root, "apps/both.enc.yaml", dump(both))
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "--no-gpg-sign", "-m", "age and PGP")
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(KEYS / "test-only-1.agekey"))
    args = ["--repo", str(root), "key", "rotate", "--begin", "-o", str(tmp_path / "new.agekey")]
    args += ["--namespace", "flux-system", "--secret", "sops-gpg", "--cluster-key", K1]
    code, out, err = run(args, capsys)
    assert (code, out) == (1, ""), err
    assert_user_error(err, "apps/both.enc.yaml: also encrypted to pgp keys")
    hints = hints_of(err)
    assert "a cluster-key rotation cannot move it" in err
    update = (
        "(cd apps && sops updatekeys -y both.enc.yaml)"
        if nested
        else "sops updatekeys -y apps/both.enc.yaml"
    )
    assert f"take them off its rule, then {update}, and" in hints[0], hints
    assert f"(first: {update})" in hints[1], hints
    # the review: the sops path needs a new key first, which begin had not made
    assert "make the new key (age-keygen)" in hints[1], hints
    # the second review: following it without moving cluster_key left SM004 on every file
    assert "set cluster_key in .secretsmgr.yaml to the new key" in hints[1], hints
    assert not hints[0].startswith("a holder of its pgp keys gives it a new data key"), hints
    code, out, err = run(["--repo", str(root), "rotate", "--all", "--dry-run"], capsys)
    assert code == 1
    # every file of the selection is sops's alone: no hint to rotate "the others" (the review)
    assert "rotate the others by name" not in err
    write(root, "apps/plain.enc.yaml", enc(secret("plain")))  # one secretsmgr can rotate
    code, out, err = run(["--repo", str(root), "rotate", "--all", "--dry-run"], capsys)
    assert code == 1
    # the others named, ready to paste (sweep 67: the hint was hard to read)
    pasted = (
        "then rotate the others by name (--all and --layer take this file again unless "
        "--exclude leaves it out): "
    )
    # no reason given; a dry run's hint is a dry run (sweep 80)
    assert pasted + "secretsmgr rotate apps/plain.enc.yaml --dry-run\n" in err, err
    monkeypatch.chdir(root)  # pasted at the repository's root
    code, out, err = run(["rotate", "apps/plain.enc.yaml", "--reason", "x", "--dry-run"], capsys)
    assert code == 0, err


def test_begin_over_pgp_files_only_still_stores_the_new_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # the review: every SOPS file was a PGP file Flux decrypts with its PGP key, so begin had
    # none to re-encrypt; it wrote next_cluster_key and the rules, and kept the new key nowhere
    # (`stored in None`, no -o file), so --finish could never run
    from secretsmgr.keys.age import parse_identities
    from secretsmgr.repo.settings import load_settings
    from tests.audit.helpers import K1, KEYS
    from tests.conftest import git

    root = _pgp_repo(tmp_path / "repo", rule=f"{REGEX}    pgp: {FP}\n    age: {K1}\n")
    write(root, ".secretsmgr.yaml", f"cluster_key: {K1}\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "--no-gpg-sign", "-m", "PGP files only")
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(KEYS / "test-only-1.agekey"))
    new_file = tmp_path / "new.agekey"
    args = ["--repo", str(root), "key", "rotate", "--begin", "-o", str(new_file)]
    args += ["--namespace", "flux-system", "--secret", "sops-gpg", "--cluster-key", K1]
    code, out, err = run(args, capsys)  # no manifest for a Secret named for PGP keys
    assert code == 0, err
    new = parse_identities(new_file.read_text(), "new").publics[0]
    assert load_settings(root).next_cluster_key == new
    assert f"(stored in {new_file}" in out


def test_log_verify_gives_a_pgp_file_the_sops_rotate_hint_not_secretsmgr_rotate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # sweep 28: log --verify said `secretsmgr rotate FILE` for a file rotate refuses
    from tests.conftest import git

    root = _pgp_repo(tmp_path)
    git(root, "init", "-q", "-b", "main")
    code, _, err = run(["--repo", str(root), "log", "--adopt", "--reason", "start"], capsys)
    assert code == 0, err
    write(root, "apps/new.enc.yaml", FOREIGN_ONLY["pgp"])
    code, out, err = run(["--repo", str(root), "log", "--verify"], capsys)
    assert code == 1, (out, err)
    assert_user_error(err, "apps/new.enc.yaml: lastmodified")
    hints = hints_of(err)
    assert not any("secretsmgr rotate" in h for h in hints), hints
    assert any("sops rotate -i apps/new.enc.yaml, then secretsmgr log --adopt" in h for h in hints)


def test_a_cluster_key_rotation_leaves_cloud_kms_files_the_controller_decrypts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # sweep 84 (nishioka-shinji/my_infra): Flux decrypts GCP KMS files through the controller's
    # workload identity; once init named an age cluster key, key rotate --begin refused over
    # each of them (it cannot re-wrap a KMS file), though they carry no age key to rotate
    from tests.audit.helpers import K1, KEYS, enc, secret
    from tests.conftest import git

    root = tmp_path / "repo"
    write(
        root,
        ".sops.yaml",
        f"creation_rules:\n  - path_regex: \\.enc\\.yaml$\n{REGEX}    age: {K1}\n",
    )
    write(root, ".secretsmgr.yaml", f"cluster_key: {K1}\n")
    write(root, "clusters/prod/apps.yaml", flux_kustomization(decryption=""))
    write(root, FILE, FOREIGN_ONLY["gcp_kms"])
    write(root, "apps/db.enc.yaml", enc(secret("db")))
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "--no-gpg-sign", "-m", "a KMS repository with an age file")
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(KEYS / "test-only-1.agekey"))
    before = (root / FILE).read_bytes()
    args = ["--repo", str(root), "key", "rotate", "--begin", "-o", str(tmp_path / "new.agekey")]
    warning = "the manifest on stdout holds a private key"
    code, _out, err = run([*args, "--cluster-key", K1], capsys, warnings=[warning])
    assert code == 0, err
    assert (root / FILE).read_bytes() == before
    assert (root / "apps/db.enc.yaml").read_text().count("recipient: age1") == 2


def test_a_pgp_file_outside_flux_gets_no_sm004_hint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # sweep 87 (vhaudiquet/homeprod): rotate refused a SwarmCD .env that no layer applies and
    # said "it lacks the cluster's age key too (SM004)", which SM004 never says outside Flux
    from tests.audit.helpers import K1

    root = _pgp_repo(tmp_path)
    write(root, ".secretsmgr.yaml", f"cluster_key: {K1}\n")
    write(root, "docker/app.enc.yaml", FOREIGN_ONLY["pgp"])
    monkeypatch.setenv("HOME", str(tmp_path / "nobody"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "nobody"))
    args = ["--repo", str(root), "rotate", "--dry-run", str(root / "docker/app.enc.yaml")]
    code, _out, err = run(args, capsys)
    assert code == 1
    assert_user_error(err, "docker/app.enc.yaml: encrypted to pgp keys only")
    assert not any("SM004" in hint for hint in hints_of(err)), err
    assert "SM004" not in {f.rule for f in run_audit(root).findings if f.path.startswith("docker")}


def test_the_sops_rotate_hint_says_to_record_it_where_there_is_a_changelog(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # sweep 87 (vhaudiquet/homeprod): `sops rotate -i`, pasted, wrote no changelog entry, and
    # log --verify then failed on the file
    root = _pgp_repo(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "nobody"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "nobody"))
    args = ["--repo", str(root), "rotate", "--dry-run", str(root / FILE)]
    _code, _out, err = run(args, capsys)
    assert hints_of(err) == [NEW_KEY]
    write(root, "secrets-changelog.jsonl", "")
    _code, _out, err = run(args, capsys)
    assert hints_of(err) == [f"{NEW_KEY}, then record it: secretsmgr log --adopt --reason '…'"]
