"""A file HEAD holds encrypted, staged (or on disk) without its sops block: ``sops -d -i``."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from secretsmgr.audit.engine import run_audit
from secretsmgr.sops.model import EncryptionRule, RuleKind
from tests.audit.helpers import K1, K2, KEYS, enc, flux_kustomization, sops_yaml, write
from tests.cli.runner import run
from tests.conftest import git

from .helpers import commit, found, judge, stage

CONFIG = "apps/authelia-config.yaml"
# sweep 28, HortaFCUL/infra: an Authelia ConfigMap, encrypted by a `.*\.yaml` rule's
# encrypted_regex, named like no SOPS file
PLAIN = (
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: authelia-config\n  namespace: auth\n"
    "data:\n  configuration.yml: |\n    jwt_secret: Xq3vR8tLm2NwP7sKd9FhJ4cB\n"
    "    session:\n      secret: Hn5Wc2Lp8Rt4Yv7Bx3Kd6Mq9\n"
)
OTHER = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: plain\ndata:\n  level: info\n"


def _repo(root: Path, *, committed: bool = True) -> Path:
    write(root, ".sops.yaml", sops_yaml((r".*\.yaml", [K1])))
    write(root, ".secretsmgr.yaml", f"cluster_key: {K1}\n")
    write(root, "clusters/prod/apps.yaml", flux_kustomization("apps", "./apps"))
    write(root, CONFIG, enc(PLAIN))
    write(root, "apps/plain.yaml", OTHER)
    git(root, "init", "-q", "-b", "main")
    if committed:
        commit(root, "state")
    return root


def _lost(report_findings: set[tuple[str, str]]) -> set[str]:
    return {path for rule, path in report_findings if rule == "SM002"}


def test_check_blocks_a_file_decrypted_in_place_and_staged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _repo(tmp_path / "r")
    assert _lost(found(judge(root, []))) == set()
    stage(root, CONFIG, PLAIN)
    stage(root, "apps/plain.yaml", OTHER + "  more: yes\n")  # never encrypted: no loss
    code, out, err = run(["--repo", str(root), "check"], capsys)
    assert code == 1, (out, err)
    assert f"{CONFIG}: SM002" in out + err
    assert "apps/plain.yaml: SM002" not in out + err
    assert "Xq3vR8tLm2NwP7sKd9FhJ4cB" not in out + err
    report = judge(root)
    assert _lost(found(report)) == {CONFIG}
    fix = next(f.fix for f in report.findings if f.rule == "SM002")
    assert fix is not None and f"git checkout HEAD -- {CONFIG}" in fix
    # the fix given works: HEAD's encrypted copy back, nothing to report
    git(root, "checkout", "HEAD", "--", CONFIG)
    assert _lost(found(judge(root, [CONFIG]))) == set()


def test_audit_reports_the_working_tree_copy_and_check_the_index_only(tmp_path: Path) -> None:
    root = _repo(tmp_path / "r")
    write(root, CONFIG, PLAIN)  # decrypted on disk, not staged
    assert _lost(found(run_audit(root))) == {CONFIG}
    assert _lost(found(judge(root, None))) == set()  # the index still holds it encrypted
    git(root, "add", CONFIG)
    assert _lost(found(judge(root, None))) == {CONFIG}


def test_no_head_no_loss(tmp_path: Path) -> None:
    root = _repo(tmp_path / "r", committed=False)
    stage(root, CONFIG, PLAIN)  # a first commit: nothing to compare with
    assert _lost(found(judge(root))) == set()
    assert _lost(found(run_audit(root))) == set()
    stage(root, CONFIG, enc(PLAIN))
    commit(root, "encrypted")
    git(root, "mv", CONFIG, "apps/moved.yaml")  # renamed, still encrypted: no loss
    assert _lost(found(judge(root))) == set()
    git(root, "reset", "-q", "--hard")
    stage(root, CONFIG, PLAIN)
    assert _lost(found(judge(root))) == {CONFIG}


MOVED = "apps/authelia/config.yaml"


def test_check_blocks_a_file_decrypted_and_renamed_in_one_change(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``sops -d old > new; git rm old``: no name says SOPS and HEAD has nothing at the new path
    (sweep 29 and the fourth review: check passed it)."""
    root = _repo(tmp_path / "r")
    git(root, "rm", "-q", CONFIG)
    stage(root, MOVED, PLAIN.replace("namespace: auth", "namespace: auth  # moved"))
    code, out, err = run(["--repo", str(root), "check"], capsys)
    assert code == 1, (out, err)
    assert f"{MOVED}: SM002" in out + err and CONFIG in out + err
    # what it is judged by, with no key at hand (sweep 52: "holds the values of" overclaimed)
    assert f"looks like {CONFIG} decrypted under another name (values in clear of the " in out
    assert "Xq3vR8tLm2NwP7sKd9FhJ4cB" not in out + err
    report = judge(root)
    assert _lost(found(report)) == {MOVED}
    fix = next(f.fix for f in report.findings if f.rule == "SM002")
    assert fix is not None
    # the fix given works: the encrypted file back, the copy gone, nothing to report
    done = subprocess.run(
        fix.split(": ", 1)[1].split(" (edits")[0], shell=True, cwd=root, check=False
    )
    assert done.returncode == 0
    assert not (root / MOVED).exists() and (root / CONFIG).read_text() == enc_text(root)
    assert _lost(found(judge(root))) == set()


def test_a_link_to_a_decrypted_copy_is_a_loss_too(tmp_path: Path) -> None:
    root = _repo(tmp_path / "r")
    git(root, "rm", "-q", CONFIG)
    stage(root, MOVED, PLAIN)
    os.symlink("authelia/config.yaml", root / CONFIG)
    git(root, "add", CONFIG)
    assert _lost(found(judge(root))) == {MOVED}


def test_a_rename_pairs_only_the_same_values_in_clear(tmp_path: Path) -> None:
    root = _repo(tmp_path / "r")
    git(root, "rm", "-q", CONFIG)
    # a template under the new name (the values now come from a variable): no secret in clear
    templated = PLAIN.replace("Xq3vR8tLm2NwP7sKd9FhJ4cB", "${JWT}").replace(
        "Hn5Wc2Lp8Rt4Yv7Bx3Kd6Mq9", "${SESSION}"
    )
    stage(root, MOVED, templated)
    assert _lost(found(judge(root))) == set()
    # another file altogether added beside the deletion
    stage(root, MOVED, OTHER.replace("name: plain", "name: other"))
    assert _lost(found(judge(root))) == set()
    # the same values in clear, one key more: still the decrypted copy
    stage(root, MOVED, PLAIN + "    extra: 1\n")
    assert _lost(found(judge(root))) == {MOVED}
    # the encrypted file kept: the copy is a new plain file like any other (SM018's to judge)
    git(root, "reset", "-q", "HEAD", "--", CONFIG)
    git(root, "checkout", "HEAD", "--", CONFIG)
    assert _lost(found(judge(root))) == set()


def enc_text(root: Path) -> str:
    """HEAD's copy of the encrypted file."""
    done = subprocess.run(
        ["git", "show", f"HEAD:{CONFIG}"], cwd=root, capture_output=True, text=True, check=True
    )
    return done.stdout


def test_the_cache_does_not_answer_for_another_head(tmp_path: Path) -> None:
    """The same plaintext blob, judged when HEAD held it in clear and when HEAD held it
    encrypted: the second is a loss whatever the cache knows of the blob."""
    root = _repo(tmp_path / "r", committed=False)
    stage(root, CONFIG, PLAIN)
    commit(root, "in clear first")
    stage(root, CONFIG, PLAIN + "    other: 1\n")
    assert _lost(found(judge(root))) == set()
    stage(root, CONFIG, enc(PLAIN))
    commit(root, "encrypted")
    stage(root, CONFIG, PLAIN + "    other: 1\n")
    assert _lost(found(judge(root))) == {CONFIG}


# the review of the pairing: a ConfigMap of two encrypted values, as Flux's rule encrypts it
DB = "apps/db.enc.yaml"
DB_PLAIN = (
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: db\n  namespace: data\n"
    "data:\n  region: eu-west-3\n  license: Kq7vT2mRx9LwP4sN8dF3hJ6c\n  pin: '4711'\n"
)
SPLIT = DB_PLAIN + "---\n" + DB_PLAIN.replace("name: db", "name: db-two").replace("Kq7v", "Wq7v")


def _db_repo(root: Path, text: str = DB_PLAIN) -> Path:
    root = _repo(root, committed=False)
    write(root, DB, enc(text))
    commit(root, "state")
    return root


def test_a_copy_is_paired_after_ordinary_edits_and_splits(tmp_path: Path) -> None:
    root = _db_repo(tmp_path / "r")
    git(root, "rm", "-q", DB)
    for copy in (
        DB_PLAIN.replace("  region: eu-west-3\n", ""),  # a key dropped
        DB_PLAIN.replace("  namespace: data\n", ""),  # a value kept in clear dropped
        DB_PLAIN.replace("eu-west-3", "us-east-1-b"),  # a value edited
        # another shape: a Secret's stringData, a ConfigMap's data under other names
        DB_PLAIN.replace("kind: ConfigMap", "kind: Secret").replace("data:", "stringData:"),
    ):
        stage(root, "apps/db.yaml", copy)
        assert _lost(found(judge(root))) == {"apps/db.yaml"}, copy
    git(root, "rm", "-q", "--cached", "apps/db.yaml")
    # a name no extension reads as YAML
    stage(root, "apps/db.yaml.bak", DB_PLAIN)
    assert _lost(found(judge(root))) == {"apps/db.yaml.bak"}


def test_each_document_of_a_split_file_is_paired(tmp_path: Path) -> None:
    root = _db_repo(tmp_path / "r", SPLIT)
    git(root, "rm", "-q", DB)
    first, second = SPLIT.split("---\n")
    stage(root, "apps/db-one.yaml", first)
    stage(root, "apps/db-two.yaml", second)
    assert _lost(found(judge(root))) == {"apps/db-one.yaml", "apps/db-two.yaml"}


def test_a_copy_written_over_a_file_head_has_is_paired_and_both_come_back(
    tmp_path: Path,
) -> None:
    root = _db_repo(tmp_path / "r")
    template = DB_PLAIN.replace("Kq7vT2mRx9LwP4sN8dF3hJ6c", "${LICENSE}")
    stage(root, "apps/db.yaml", template)
    commit(root, "a template beside it")
    git(root, "rm", "-q", DB)
    stage(root, "apps/db.yaml", DB_PLAIN)
    report = judge(root)
    assert _lost(found(report)) == {"apps/db.yaml"}
    fix = next(f.fix for f in report.findings if f.rule == "SM002") or ""
    command = fix.split(": ", 1)[1].split(" (edits")[0]
    assert command == f"git checkout HEAD -- {DB} apps/db.yaml", fix
    subprocess.run(command, shell=True, cwd=root, check=True)
    assert (root / "apps/db.yaml").read_text() == template
    assert _lost(found(judge(root))) == set()


def test_a_copy_among_many_deleted_files_is_still_paired(tmp_path: Path) -> None:
    root = _db_repo(tmp_path / "r")
    for i in range(1100):
        write(root, f"apps/bulk/f{i:04}.yaml", f"n: {i}\n")
    commit(root, "bulk")
    git(root, "rm", "-q", "-r", "apps/bulk", DB)
    stage(root, "apps/bulk/db.yaml", DB_PLAIN)
    assert _lost(found(judge(root))) == {"apps/bulk/db.yaml"}


def test_audit_pairs_an_untracked_copy_and_its_fix_works_before_git_add(tmp_path: Path) -> None:
    root = _db_repo(tmp_path / "r")
    (root / DB).unlink()
    write(root, "apps/db.yaml", DB_PLAIN)  # not added to git yet
    report = run_audit(root)
    assert _lost(found(report)) == {"apps/db.yaml"}
    fix = next(f.fix for f in report.findings if f.rule == "SM002") or ""
    done = subprocess.run(fix.split(": ", 1)[1].split(" (edits")[0], shell=True, cwd=root)
    assert done.returncode == 0, fix
    assert not (root / "apps/db.yaml").exists() and (root / DB).exists()
    assert _lost(found(run_audit(root))) == set()


def test_a_file_sharing_only_key_names_is_no_copy(tmp_path: Path) -> None:
    root = _db_repo(tmp_path / "r")
    git(root, "rm", "-q", DB)
    other = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-settings\n  namespace: web\n"
        "data:\n  region: us-east-1\n  license: community\n"
    )
    stage(root, "apps/web.yaml", other)
    assert _lost(found(judge(root))) == set()


def test_the_fix_offers_encrypt_only_in_place_and_where_a_rule_governs(tmp_path: Path) -> None:
    # sweep 31, bjw-s/home-ops: every rule ends in .sops.yaml; `encrypt -i secret.yaml` failed;
    # a copy's shape may leave a rule nothing to encrypt, so a copy is only ever restored
    root = _db_repo(tmp_path / "r")
    git(root, "rm", "-q", DB)
    stage(root, "apps/db.yaml", DB_PLAIN)  # `.*\.yaml` governs it: still no encrypt
    fix = next(f.fix for f in judge(root).findings if f.rule == "SM002") or ""
    assert fix and "secretsmgr encrypt" not in fix, fix
    git(root, "reset", "-q", "--hard")
    write(root, ".sops.yaml", sops_yaml((r".*\.enc\.yaml$", [K1])))
    commit(root, "rules for SOPS names only")
    git(root, "rm", "-q", DB)
    stage(root, "apps/db.yaml", DB_PLAIN)
    report = judge(root)
    fix = next(f.fix for f in report.findings if f.rule == "SM002") or ""
    assert fix and "secretsmgr encrypt" not in fix, fix
    stage(root, "apps/db.enc.yaml", DB_PLAIN)  # back under its name, decrypted in place
    git(root, "rm", "-q", "--cached", "apps/db.yaml")
    fix = next(f.fix for f in judge(root).findings if f.rule == "SM002") or ""
    assert "secretsmgr encrypt -i apps/db.enc.yaml" in fix, fix
    write(root, ".sops.yaml", sops_yaml((r".*\.sops\.yaml$", [K1])))
    fix = next(f.fix for f in run_audit(root).findings if f.rule == "SM002") or ""
    assert fix.startswith("take the encrypted version back") and "encrypt -i" not in fix, fix


def test_a_copy_that_changed_its_shape_is_paired(tmp_path: Path) -> None:
    # the review: a ConfigMap's values rewritten as a .env file or a flat vars file
    root = _db_repo(tmp_path / "r")
    git(root, "rm", "-q", DB)
    stage(root, "apps/db.env", "region=eu-west-3\nlicense=Kq7vT2mRx9LwP4sN8dF3hJ6c\npin=4711\n")
    assert _lost(found(judge(root))) == {"apps/db.env"}
    git(root, "rm", "-q", "--cached", "apps/db.env")
    stage(root, "apps/vars.yaml", "license: Kq7vT2mRx9LwP4sN8dF3hJ6c\npin: '4711'\n")
    assert _lost(found(judge(root))) == {"apps/vars.yaml"}
    git(root, "rm", "-q", "--cached", "apps/vars.yaml")
    # sweep 33, DRAGandDROP/talos-k8s: Helm values under the keys' other spelling
    values = "app:\n  auth:\n    License: Kq7vT2mRx9LwP4sN8dF3hJ6c\n    PIN: '4711'\n"
    stage(root, "apps/values.yaml", values)
    assert _lost(found(judge(root))) == {"apps/values.yaml"}


WHOLE = (
    "apiVersion: v1\nkind: Secret\nmetadata:\n  name: grafana-admin\n  namespace: apps\n"
    "stringData:\n  password: Zq8rT2mWv9KpL3xN\n"
)


def test_the_same_envelope_is_no_copy(tmp_path: Path) -> None:
    """The review: a Secret encrypted whole, deleted beside an ExternalSecret of its name (a
    migration) or any v1 object of its namespace, was paired by apiVersion and namespace
    lengths; a ConfigMap of the same name holding another host under one shared key too."""
    root = _repo(tmp_path / "r", committed=False)
    everything = EncryptionRule(RuleKind.UNENCRYPTED_SUFFIX, "_unencrypted")
    write(root, "apps/grafana.sops.yaml", enc(WHOLE, rule=everything))
    write(root, DB, enc(DB_PLAIN.replace("region: eu-west-3", "host: smtp.mailgun.org")))
    commit(root, "state")
    git(root, "rm", "-q", "apps/grafana.sops.yaml", DB)
    external = (
        "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata:\n"
        "  name: grafana-admin\n  namespace: apps\nspec:\n  refreshInterval: 1h\n"
    )
    stage(root, "apps/grafana-admin.yaml", external)
    stage(
        root,
        "apps/web.yaml",
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n"
        "  namespace: apps\nspec:\n  type: ClusterIP\n",
    )
    stage(
        root,
        "apps/db.yaml",
        DB_PLAIN.replace("region: eu-west-3", "host: mail.internal.lan").replace(
            "  license: Kq7vT2mRx9LwP4sN8dF3hJ6c\n  pin: '4711'\n", "  port: '587'\n"
        ),
    )
    assert _lost(found(judge(root))) == set()


# the third review: a Secret of a user, a password and a host, as `kubectl create secret` and
# Flux's rule leave it
CREDS = (
    "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: apps\n"
    "stringData:\n  DB_USER: appuser\n  DB_PASSWORD: Xq3vR8tLm2NwP7sKd9FhJ4cB\n"
    "  DB_HOST: postgres.apps.svc\n"
)
CREDS_DATA = (
    "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: apps\ndata:\n"
    "  DB_USER: YXBwdXNlcg==\n  DB_PASSWORD: WHEzdlI4dExtMk53UDdzS2Q5RmhKNGNC\n"
    "  DB_HOST: cG9zdGdyZXMuYXBwcy5zdmM=\n"
)
SETTINGS = "  DB_USER: appuser\n  DB_HOST: postgres.apps.svc\n"


def _creds_repo(root: Path, text: str) -> Path:
    root = _repo(root, committed=False)
    write(root, "apps/db.enc.yaml", enc(text))
    commit(root, "state")
    git(root, "rm", "-q", "apps/db.enc.yaml")
    return root


@pytest.mark.parametrize(
    ("source", "name", "copy"),
    [
        # data: decoded into a ConfigMap (base64 lengths are 4/3 of the values')
        (
            CREDS_DATA,
            "apps/db.yaml",
            OTHER.replace("  level: info\n", SETTINGS)
            + "  DB_PASSWORD: Xq3vR8tLm2NwP7sKd9FhJ4cB\n",
        ),
        # inlined into a Deployment's env list
        (
            CREDS,
            "apps/deploy.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\nspec:\n  template:\n"
            "    spec:\n      containers:\n        - name: app\n          env:\n"
            "            - {name: DB_USER, value: appuser}\n"
            "            - {name: DB_PASSWORD, value: Xq3vR8tLm2NwP7sKd9FhJ4cB}\n",
        ),
        # a .env with quotes and export
        (
            CREDS,
            "apps/db.env",
            'export DB_USER="appuser"\nexport DB_PASSWORD="Xq3vR8tLm2NwP7sKd9FhJ4cB"\n',
        ),
    ],
    ids=["decoded", "env-list", "dotenv-quoted"],
)
def test_copies_in_other_shapes_are_paired(
    tmp_path: Path, source: str, name: str, copy: str
) -> None:
    root = _creds_repo(tmp_path / "r", source)
    stage(root, name, copy)
    assert _lost(found(judge(root))) == {name}


def test_settings_split_off_a_password_are_no_copy(tmp_path: Path) -> None:
    """The third review: the user and host moved to a ConfigMap, the password kept encrypted in
    a new SOPS file (or gone to an external store): a split, not a copy."""
    root = _creds_repo(tmp_path / "r", CREDS)
    stage(root, "apps/settings.yaml", OTHER.replace("  level: info\n", SETTINGS))
    assert _lost(found(judge(root))) == set()
    password = CREDS.replace("  DB_USER: appuser\n", "").replace(
        "  DB_HOST: postgres.apps.svc\n", ""
    )
    stage(root, "apps/db-password.enc.yaml", enc(password))
    assert _lost(found(judge(root))) == set()


def test_of_many_deleted_files_of_one_layout_the_copy_names_its_own(tmp_path: Path) -> None:
    """The third review: 3,000 Secrets of one layout; lengths fit several, and the copy of the
    last one was not compared with it (only the first 64 were)."""
    root = _repo(tmp_path / "r", committed=False)
    for i in range(150):
        text = CREDS.replace("name: db", f"name: db{i}").replace("appuser", f"user{i:05}")
        write(root, f"apps/gone/s{i}.enc.yaml", enc(text))
    commit(root, "many")
    git(root, "rm", "-q", "-r", "apps/gone")
    last = CREDS.replace("kind: Secret", "kind: ConfigMap").replace("stringData", "data")
    stage(root, "apps/gone/copy149.yaml", last.replace("appuser", "user00149"))
    report = judge(root)
    assert _lost(found(report)) == {"apps/gone/copy149.yaml"}
    (finding,) = [f for f in report.findings if f.rule == "SM002"]
    assert "looks like apps/gone/s149.enc.yaml decrypted" in finding.message, finding.message


def _copy_listed(root: Path) -> Path:
    """DB decrypted to apps/db.yaml, the original deleted and its kustomization entry moved to
    the copy, all staged."""
    root = _repo(root, committed=False)
    write(root, DB, enc(DB_PLAIN))
    write(root, "apps/kustomization.yaml", "resources:\n  - plain.yaml\n  - db.enc.yaml\n")
    commit(root, "state")
    git(root, "rm", "-q", DB)
    stage(root, "apps/db.yaml", DB_PLAIN)
    stage(root, "apps/kustomization.yaml", "resources:\n  - plain.yaml\n  - db.yaml\n")
    return root


def test_the_restore_renames_the_kustomization_entry_back(tmp_path: Path) -> None:
    # sweep 40, Quazmoz/K8SHomelab: the copy's kustomization entry was renamed to it; the fix
    # brought the encrypted file back and took the copy out, but left the entry naming the
    # copy, so the layer's build failed on a file no longer there
    root = _copy_listed(tmp_path / "r")
    fix = next(f.fix for f in judge(root).findings if f.rule == "SM002") or ""
    done = subprocess.run(fix.split(": ", 1)[1].split(" (edits")[0], shell=True, cwd=root)
    assert done.returncode == 0, fix
    assert (root / "apps/kustomization.yaml").read_text() == (
        "resources:\n  - plain.yaml\n  - db.enc.yaml\n"
    )
    assert not (root / "apps/db.yaml").exists() and (root / DB).exists()
    assert git(root, "status", "--porcelain").strip() == ""


def test_a_copy_in_another_folder_gets_no_entry_written_across_folders(tmp_path: Path) -> None:
    # the fifth attack review: the copy went to apps/web, whose kustomization names it; the
    # restore renamed that entry to `../db.enc.yaml`, which kustomize refuses from there
    root = _repo(tmp_path / "r", committed=False)
    write(root, DB, enc(DB_PLAIN))
    commit(root, "state")
    git(root, "rm", "-q", DB)
    stage(root, "apps/web/db.yaml", DB_PLAIN)
    stage(root, "apps/web/kustomization.yaml", "resources:\n  - db.yaml\n")
    fix = next(f.fix for f in judge(root).findings if f.rule == "SM002") or ""
    assert "sed " not in fix, fix
    assert "then put back the kustomization entries as HEAD has them (git diff HEAD)" in fix


def test_a_copy_gets_one_cure_and_it_works_after_the_copy_was_encrypted(tmp_path: Path) -> None:
    """sweep 42, ZicTec/pi-cluster: a decrypted copy under another name had SM001's `encrypt -i`
    first and SM002's restore second; pasted in that order, the restore's `git rm --cached`
    refused the copy (staged content differing from both the file and HEAD) and stopped
    halfway. Every plaintext finding of the copy gives the restore now, and the restore works
    whatever was done to the copy since it was staged."""
    root = _copy_listed(tmp_path / "r")
    report = judge(root)
    fixes = {f.rule: f.fix for f in report.findings if f.path == "apps/db.yaml"}
    assert "SM002" in fixes and len(fixes) > 1 and len(set(fixes.values())) == 1, fixes
    # the copy encrypted on disk in the meantime (what SM001's fix did before)
    (root / "apps/db.yaml").write_text(enc(DB_PLAIN))
    restore = (fixes["SM002"] or "").split(": ", 1)[1].split(" (edits")[0]
    done = subprocess.run(restore, shell=True, cwd=root, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert not (root / "apps/db.yaml").exists() and (root / DB).exists()
    assert git(root, "status", "--porcelain").strip() == ""


def test_a_file_encrypted_on_disk_after_staging_is_told_to_be_staged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """sweep 42, ZicTec/pi-cluster: after the printed `secretsmgr encrypt -i` ran, check (which
    reads the index) printed it again, and pasted again encrypt refused the file as encrypted
    already; the fix is `git add` then, and after it check passes."""
    root = _repo(tmp_path / "r")
    secret = (
        "apiVersion: v1\nkind: Secret\nmetadata: {name: s2}\n"
        "stringData:\n  password: Q7mZx2Lk9PwR4tVb\n"
    )
    stage(root, "apps/s2.yaml", secret)
    run(["--repo", str(root), "check"], capsys, expect=1)
    (root / "apps/s2.yaml").write_text(enc(secret))  # what `encrypt -i` does, not staged
    code, out, err = run(["--repo", str(root), "check"], capsys)
    assert code == 1
    # the fix is a command alone, pasteable whole (sweep 82: words in brackets after it were a
    # shell syntax error); the why is in the message
    assert "fix it with: git add apps/s2.yaml\n" in (out + err), out + err
    assert "(in the index; on disk it is encrypted since it was staged)" in out
    git(root, "add", "apps/s2.yaml")
    run(["--repo", str(root), "check"], capsys, expect=0)


@pytest.mark.parametrize(
    "disk",
    [
        lambda secret: enc(secret, (K2,)),  # a stranger's key, not the rule's
        lambda secret: enc(secret.replace("password", "token")),  # another document
        # the values in clear under a sops block copied from another file
        lambda secret: (
            secret + enc(OTHER).partition("\nsops:")[1] + enc(OTHER).partition("\nsops:")[2]
        ),
        # the second review: a KMS key the rule does not name beside the age key, and a
        # narrower encryption rule than the creation rule's
        lambda secret: enc(secret).replace(
            "\nsops:\n",
            "\nsops:\n    kms:\n        - arn: arn:aws:kms:us-east-1:111122223333:key/x\n"
            '          created_at: "2026-01-01T00:00:00Z"\n          enc: AQICAHhX\n'
            '          aws_profile: ""\n',
        ),
        lambda secret: enc(secret, rule=EncryptionRule(RuleKind.ENCRYPTED_REGEX, "^password$")),
    ],
)
def test_git_add_is_told_only_for_the_staged_document_encrypted_as_its_rule_says(
    tmp_path: Path, disk: object
) -> None:
    """The attack review: a file encrypted to a stranger's key (which then passed the gate),
    another document, and values in clear under a copied sops block each got `git add`."""
    assert callable(disk)
    root = _repo(tmp_path / "r")
    secret = (
        "apiVersion: v1\nkind: Secret\nmetadata: {name: s2}\n"
        "stringData:\n  password: Q7mZx2Lk9PwR4tVb\n"
    )
    stage(root, "apps/s2.yaml", secret)
    (root / "apps/s2.yaml").write_text(disk(secret))
    fixes = {f.fix for f in judge(root).findings if f.path == "apps/s2.yaml"}
    assert fixes and not any((fix or "").startswith("git add") for fix in fixes), fixes


def test_git_add_is_told_only_for_a_file_split_as_its_shamir_rule_says(tmp_path: Path) -> None:
    """The second review: under a rule of two key groups, threshold 2, a file encrypted to both
    keys in one group (either opens it alone) got `git add`, then passed the gate."""
    root = _repo(tmp_path / "r")
    write(
        root,
        ".sops.yaml",
        "creation_rules:\n  - path_regex: .*\\.yaml$\n    encrypted_regex: ^(data|stringData)$\n"
        f"    shamir_threshold: 2\n    key_groups:\n      - age: [{K1}]\n      - age: [{K2}]\n",
    )
    commit(root, "shamir")
    secret = (
        "apiVersion: v1\nkind: Secret\nmetadata: {name: s2}\n"
        "stringData:\n  password: Q7mZx2Lk9PwR4tVb\n"
    )
    stage(root, "apps/s2.yaml", secret)

    def fixes() -> set[str | None]:
        return {f.fix for f in judge(root).findings if f.path == "apps/s2.yaml"}

    (root / "apps/s2.yaml").write_text(enc(secret, groups=[[K1, K2]]))
    assert not any((fix or "").startswith("git add") for fix in fixes())
    (root / "apps/s2.yaml").write_text(enc(secret, groups=[[K1], [K2]], threshold=2))
    assert any((fix or "").startswith("git add") for fix in fixes())


def test_a_private_key_after_a_certificate_is_no_public_value_under_any_rule(
    tmp_path: Path,
) -> None:
    """The review: a value starting with a certificate counted as public whatever followed
    (a private key's block), so `git add` was offered for a file leaving it in clear."""
    from secretsmgr.repo.sopsentry import exposed_value
    from tests.audit.helpers import CERT_PEM

    label = "PRIVATE" + " KEY"  # built here: the repository's own gate sees no key block
    key = (
        f"-----BEGIN {label}-----\n"
        "MC4CAQAwBQYDK2VwBCIEIOj2b3c9Nm4pqY7b0R0ZkM1rJd5b6y8Gm1kZ0c6X7Q2a\n"
        f"-----END {label}-----\n"
    )
    assert exposed_value("tls_bundle", CERT_PEM + key)
    assert exposed_value(
        "password", "-----BEGIN CERTIFICATE-----\nhunter2\n-----END CERTIFICATE-----\n"
    )
    assert not exposed_value("ca.crt", CERT_PEM)


def _mosquitto(root: Path) -> Path:
    """A committed layer whose kustomization lists one SOPS Secret, apps/secret.sops.yaml."""
    from tests.audit.helpers import secret

    write(root, ".sops.yaml", sops_yaml((r"\.sops\.yaml$", [K1])))
    write(root, ".secretsmgr.yaml", f"cluster_key: {K1}\n")
    write(root, "clusters/prod/apps.yaml", flux_kustomization("apps", "./apps"))
    write(root, "apps/kustomization.yaml", "resources:\n  - ./secret.sops.yaml\n")
    write(root, "apps/secret.sops.yaml", enc(secret("mosquitto", {"pwd": "Qz7Lp2Vx9Rk4"})))
    git(root, "init", "-q", "-b", "main")
    commit(root, "state")
    return root


def test_a_rename_fix_stages_what_replaces_the_plaintext(tmp_path: Path) -> None:
    """sweep 50, Dilski/home-cluster: `git mv secret.sops.yaml secret.yaml`, a plaintext Secret
    written there and its kustomization entry renamed, all staged; SM001's rename fix, pasted,
    encrypted the file but left the index naming a file it lacked, the encrypted file deleted,
    and check passed: the commit would have dropped the Secret and broken the layer."""
    from tests.audit.helpers import secret

    root = _mosquitto(tmp_path / "r")
    git(root, "mv", "apps/secret.sops.yaml", "apps/secret.yaml")
    stage(root, "apps/secret.yaml", secret("broker", {"admin": "Mh3Jd8Ks1Wq6"}))
    stage(root, "apps/kustomization.yaml", "resources:\n  - ./secret.yaml\n")
    fix = next(f.fix for f in judge(root).findings if f.rule == "SM001") or ""
    assert fix.startswith("mv apps/secret.yaml apps/secret.sops.yaml"), fix
    from tests.cli.runner import run_shell

    run_shell(fix, env=dict(os.environ), cwd=root, expect=0)
    assert not [f for f in judge(root).findings if f.rule == "SM001"]
    staged = git(root, "diff", "--cached", "--name-status").split("\n")
    assert "M\tapps/secret.sops.yaml" in staged, staged  # encrypted anew, in the index
    assert git(root, "show", ":apps/kustomization.yaml") == "resources:\n  - ./secret.sops.yaml\n"


def test_a_rename_fix_stages_the_changelog_entry_encrypt_writes(tmp_path: Path) -> None:
    """sweep 53: where the repository keeps a changelog, the pasted rename fix's `encrypt`
    appends an entry to it, which the fix left modified and unstaged: the commit would hold a
    SOPS file its committed changelog never saw."""
    from tests.audit.helpers import KEYS, secret
    from tests.cli.runner import run_shell

    root = _mosquitto(tmp_path / "r")
    from tests.conftest import GIT_ENV

    env = dict(os.environ, **GIT_ENV, SOPS_AGE_KEY_FILE=str(KEYS / "test-only-1.agekey"))
    run_shell("secretsmgr rotate --all --reason start --commit", env=env, cwd=root, expect=0)
    assert (root / "secrets-changelog.jsonl").exists()
    git(root, "mv", "apps/secret.sops.yaml", "apps/secret.yaml")
    stage(root, "apps/secret.yaml", secret("broker", {"admin": "Mh3Jd8Ks1Wq6"}))
    stage(root, "apps/kustomization.yaml", "resources:\n  - ./secret.yaml\n")
    fix = next(f.fix for f in judge(root).findings if f.rule == "SM001") or ""
    run_shell(fix, env=env, cwd=root, expect=0)
    assert "secrets-changelog.jsonl" in git(root, "diff", "--cached", "--name-only")
    assert git(root, "diff", "--name-only").strip() == ""  # nothing left unstaged
    assert not [f for f in judge(root).findings if f.severity.value == "error"]


def _value_added_in_clear(root: Path) -> tuple[str, str]:
    """A committed SOPS Secret's path, and its text with a value added in clear by hand (not
    written: the caller stages it)."""
    plain = "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData:\n  password: pw1\n"
    rel = "apps/db.yaml"
    stage(root, rel, enc(plain))
    commit(root, "db")
    text = (root / rel).read_text()
    added = text.replace("stringData:\n", "stringData:\n    extra: Zq8vR4m2-added\n", 1)
    assert added != text
    return rel, added


def test_a_value_added_in_clear_then_set_on_disk_is_told_to_be_staged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """sweep 59, prtzb/chezmoi-l8s: after SM003's `secretsmgr set` ran, check (which reads the
    index) printed the same `set` again, which pasted would have replaced the new value; the
    fix is `git add` once no value is in clear on disk, and after it check passes."""
    root = _repo(tmp_path / "r")
    rel, added = _value_added_in_clear(root)
    stage(root, rel, added)
    (fix,) = [f.fix for f in judge(root).findings if f.rule == "SM003"]
    assert fix is not None and "secretsmgr set" in fix
    # what `set` leaves on disk: the value encrypted, not staged; a half-done edit is not it
    (root / rel).write_text(added.replace("Zq8vR4m2-added", "Zq8vR4m2-edited"))
    (fix,) = [f.fix for f in judge(root).findings if f.rule == "SM003"]
    assert fix is not None and "secretsmgr set" in fix
    (root / rel).write_text(added)
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(KEYS / "test-only-1.agekey"))
    stdin = tmp_path / "value"
    stdin.write_text("new-value")
    args = ["--repo", str(root), "set", str(root / rel), "stringData.extra", "--value-file"]
    run([*args, str(stdin)], capsys, expect=0)  # SM003's own fix, pasted
    code, out, err = run(["--repo", str(root), "check"], capsys)
    assert code == 1
    assert f"  fix: git add {rel}\n" in (out + err)
    assert "(in the index; on disk no value is in clear since it was staged)" in out
    git(root, "add", rel)
    run(["--repo", str(root), "check"], capsys, expect=0)


def test_a_value_only_staged_is_not_said_to_be_in_git(tmp_path: Path) -> None:
    """sweeps 57 and 59: the gate's fixes said to rotate a value "it is in git" of a file that
    was only staged; a file HEAD holds keeps the words."""
    root = _repo(tmp_path / "r")
    token = "ghp_" + "q7Wm2ZpK9vR4tY8uXb3Nf5Hs1a2B3c4D5e6F"
    config = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: n}\ndata:\n"
    stage(root, "apps/new.yaml", f"{config}  GITHUB_TOKEN: {token}\n")
    stage(root, "apps/plain.yaml", OTHER + f"  GITHUB_TOKEN: {token}\n")
    fixes = {f.path: f.fix or "" for f in judge(root).findings if f.rule == "SM018"}
    assert fixes["apps/new.yaml"].endswith(
        "rotate the credential if it was ever committed (the file is new: staged, not in git yet)"
    ), fixes
    # sweep 60, cubic3d/ops: a committed file the token was added to: not in git either
    assert fixes["apps/plain.yaml"].endswith(
        "rotate the credential if it was ever committed (this change to the file is staged, not "
        "in git yet)"
    ), fixes
    # committed as it is staged: in git
    commit(root, "leak")
    fixes = {f.path: f.fix or "" for f in judge(root, ["apps/plain.yaml"]).findings}
    assert fixes["apps/plain.yaml"].endswith("rotate the credential: it is in git"), fixes
    # the attack review: another line of the file changed, the value's line is HEAD's
    stage(
        root,
        "apps/plain.yaml",
        OTHER.replace("level: info", "level: debug") + f"  GITHUB_TOKEN: {token}\n",
    )
    fixes = {f.path: f.fix or "" for f in judge(root).findings if f.rule == "SM018"}
    assert fixes["apps/plain.yaml"].endswith("rotate the credential: it is in git"), fixes


def test_a_file_whose_own_rule_was_narrowed_on_disk_is_not_told_to_be_staged(
    tmp_path: Path,
) -> None:
    """the attack review: after a value added in clear, the file's own encrypted_regex
    narrowed on disk left the value in clear yet "no value in clear" by that rule, and the
    advice to `git add` committed it"""
    root = _repo(tmp_path / "r")
    rel, added = _value_added_in_clear(root)
    stage(root, rel, added)
    narrowed = added.replace("encrypted_regex: ^(data|stringData)$", "encrypted_regex: ^(data)$")
    assert narrowed != added
    (root / rel).write_text(narrowed)
    (fix,) = [f.fix for f in judge(root).findings if f.rule == "SM003"]
    assert fix is not None and "git add" not in fix, fix


def test_check_says_when_a_blocked_plaintext_secrets_values_are_in_git_already(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """sweep 66 (thomas-chauvet/poc-sops-k8s-age): a plaintext Secret committed before the
    hook, then edited and staged, was blocked with "encrypt it with: …" alone; its password
    was in git already. A new file's values are not, and no note says so."""
    root = _repo(tmp_path / "r")
    secret = "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData:\n"
    stage(root, "apps/new-secret.yaml", secret + "  password: Zq8vN3pL0xR7Wm2\n")
    assert judge(root).committed_plaintext == ()
    commit(root, "committed in clear, before the hook")
    stage(
        root,
        "apps/new-secret.yaml",
        secret.replace("name: db", "name: db2") + "  password: Zq8vN3pL0xR7Wm2\n",
    )
    assert judge(root).committed_plaintext == ("apps/new-secret.yaml",)
    code, out, err = run(["--repo", str(root), "check"], capsys)
    assert code == 1
    assert "note: apps/new-secret.yaml holds these values in git already (HEAD)" in out + err
    assert "Zq8vN3pL0xR7Wm2" not in out + err
    # a new value in it is staged only: nothing is said of the file
    stage(root, "apps/new-secret.yaml", secret + "  password: Hq8vR3nLw2Kx7TzP\n")
    assert judge(root).committed_plaintext == ()
    # the attack review: a committed user name beside a new, only staged password is no file
    # whose values are all in git
    stage(root, "apps/new-secret.yaml", secret + "  username: admin\n  password: Zq8vN3pL0xR7Wm2\n")
    commit(root, "both in clear")
    stage(root, "apps/new-secret.yaml", secret + "  username: admin\n  password: Wm4Kd8LmBr2Nx7Q\n")
    assert judge(root).committed_plaintext == ()
    # beyond three such files, the rest are counted (sweep 106, Tim275/pi-cluster: seven, three
    # named, and no word of the other four)
    # (apps/new-secret.yaml, committed with them, is a fifth)
    for n in range(4):
        body = secret.replace("name: db", f"name: x{n}") + f"  password: Zq8vN3pL0xR7Wm{n}\n"
        stage(root, f"apps/x{n}.yaml", body)
    commit(root, "four more in clear")
    for n in range(4):
        path = root / f"apps/x{n}.yaml"
        stage(root, f"apps/x{n}.yaml", path.read_text().replace("name: x", "name: y"))
    code, out, err = run(["--repo", str(root), "check"], capsys)
    assert code == 1 and (out + err).count("holds these values in git already") == 3
    assert "note: and 2 more files whose values git holds already" in out + err, out + err


def test_a_file_sops_encrypted_to_a_pgp_rule_after_staging_is_told_to_be_staged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """sweep 71, dashaun-cloud/flux-control: under a nested PGP rule, after the printed
    `(cd … && sops encrypt -i …)` ran, check printed it again, and pasted again sops refused
    the file as encrypted already. A real GnuPG key and the real sops."""
    import shlex

    from tests.cli.runner import run_shell
    from tests.keys.gpgkeys import gnupg_home, gpg_key

    with gnupg_home() as env:
        fpr = gpg_key(env)
        root = _repo(tmp_path / "r")
        rule = (
            "  - path_regex: .*\\.yaml$\n    encrypted_regex: ^(data|stringData)$\n"
            f"    pgp: {fpr}\n"
        )
        write(root, "tenants/a/.sops.yaml", "creation_rules:\n" + rule)
        commit(root, "a tenant's PGP rule")
        secret = (
            "apiVersion: v1\nkind: Secret\nmetadata: {name: z}\n"
            "stringData:\n  password: Q7mZx2Lk9PwR4tVb\n"
        )
        stage(root, "tenants/a/zipkin db.yaml", secret)
        code, out, err = run(["--repo", str(root), "check"], capsys)
        assert code == 1
        fix = "(cd tenants/a && sops encrypt -i 'zipkin db.yaml')"
        assert fix in out + err, out + err
        run_shell(fix, env=env, cwd=root, expect=0)
        code, out, err = run(["--repo", str(root), "check"], capsys)
        assert code == 1 and "sops encrypt" not in out + err, out + err
        told = f"fix it with: git add {shlex.quote('tenants/a/zipkin db.yaml')}\n"
        assert told in out + err, out + err
        run_shell(told.split(": ", 1)[1].strip(), env=env, cwd=root, expect=0)  # pasted whole
        run(["--repo", str(root), "check"], capsys, expect=0)


def test_an_encrypted_file_that_no_longer_parses_is_said_so_not_decrypted_in_place(
    tmp_path: Path,
) -> None:
    # sweep 97, bergvandenp/flux-cluster: one line added two spaces too deep under data: of an
    # encrypted Secret was "now without its sops block (decrypted in place?)", and the fix to
    # encrypt it again failed on the YAML; its sops block was there all along
    root = _repo(tmp_path / "r")
    text = (root / CONFIG).read_text()
    assert "\ndata:\n" in text and "\nsops:\n" in text
    stage(root, CONFIG, text.replace("\ndata:\n", "\ndata:\n      extra: Zk4mWq8Lr2Tx\n", 1))
    report = judge(root)
    (finding,) = [f for f in report.findings if f.rule == "SM002"]
    assert finding.path == CONFIG
    assert "now unreadable: malformed YAML at line" in finding.message, finding.message
    assert "decrypted in place" not in finding.message
    assert finding.fix is not None and "encrypt -i" not in finding.fix
    assert f"git checkout HEAD -- {CONFIG}" in finding.fix
    assert "Zk4mWq8Lr2Tx" not in finding.message + finding.fix


def _replaced(root: Path, name: str, secret: str, copy: str) -> set[str]:
    """``secret`` committed encrypted as apps/NAME.enc.yaml, then deleted and ``copy`` staged
    as apps/NAME.yaml in one change: the files SM002 takes for a decrypted copy."""
    stage(root, f"apps/{name}.enc.yaml", enc(secret))
    commit(root, name)
    git(root, "rm", "-q", f"apps/{name}.enc.yaml")
    stage(root, f"apps/{name}.yaml", copy)
    return _lost(found(judge(root)))


def _as_configmap(secret: str) -> str:
    return secret.replace("kind: Secret", "kind: ConfigMap").replace("stringData:", "data:")


def test_a_few_short_settings_of_the_same_lengths_are_no_copy(tmp_path: Path) -> None:
    # the attack review of stop 52: a deleted Secret of {username: app, host: db, port: "5432"}
    # and an unrelated ConfigMap {username: www, host: lb, port: "8080"} added in the same
    # change: every length fits, so it was "decrypted under another name", and the fix
    # brought the Secret back and removed the new file
    root = _repo(tmp_path / "r")
    settings = (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: default\n"
        'stringData:\n  username: app\n  host: db\n  port: "5432"\n'
    )
    web = _as_configmap(settings).replace("app", "www").replace("host: db", "host: lb")
    assert _replaced(root, "db", settings, web.replace("5432", "8080")) == set()
    # the same values in clear under the new name are a copy, as long as they say enough
    longer = settings.replace("username: app", "username: reporting-service-account")
    git(root, "reset", "-q", "--hard")
    assert _replaced(root, "db2", longer, _as_configmap(longer)) == {"apps/db2.yaml"}


def test_a_short_pre_shared_key_is_a_secret_named_so_and_pairs_a_copy(tmp_path: Path) -> None:
    # the review of stop 52: a Wi-Fi Secret (ssid: Home, psk: 10 characters) deleted and
    # written as a plain ConfigMap passed once short values needed 16 bytes to pair
    root = _repo(tmp_path / "r")
    wifi = (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: wifi\n  namespace: default\n"
        "stringData:\n  ssid: Home\n  psk: q7Wm2ZpK9v\n"
    )
    assert _replaced(root, "wifi", wifi, _as_configmap(wifi)) == {"apps/wifi.yaml"}


def test_a_file_decrypted_in_place_then_broken_is_not_said_to_hold_ciphertext(
    tmp_path: Path,
) -> None:
    root = _repo(tmp_path / "r")
    stage(root, CONFIG, PLAIN.replace("data:\n", "data:\n      extra: x\n", 1))
    (finding,) = [f for f in judge(root).findings if f.rule == "SM002"]
    assert "decrypted in place" in finding.message and "unreadable" not in finding.message
