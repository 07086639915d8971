"""SM023 edited-outside-sops: a hand edit under the old MAC, seen key-less in check, audit and
audit --history; the real sops is the oracle that such a file no longer decrypts, and that its
own writes are no finding."""

from __future__ import annotations

from pathlib import Path

import pytest

from secretsmgr.audit.engine import run_audit
from tests.audit.helpers import K1, KEYS, secret, sops_yaml, write
from tests.conftest import git, run_sops
from tests.gate.helpers import commit, history_findings, judge

KEY = KEYS / "test-only-1.agekey"
FILE = "apps/token.enc.yaml"


def _repo(tmp_path: Path) -> Path:
    """A repository whose one SOPS file the real sops encrypted (values under stringData
    only), committed."""
    root = tmp_path / "r"
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    write(root, ".sops.yaml", sops_yaml((r"\.enc\.yaml$", [K1])))
    text = secret("token", {"token": "q7Wm2ZpK9vR4tY8u"}).replace(
        "namespace: prod", "namespace: receiver"
    )
    write(root, FILE, text)
    done = run_sops(["encrypt", "-i", FILE], cwd=root, key_file=KEY)
    assert done.returncode == 0, done.stderr
    commit(root, "encrypted by sops")
    return root


def _hand_edit(root: Path) -> None:
    path = root / FILE
    path.write_text(path.read_text().replace("namespace: receiver", "namespace: flux-system"))


def _sops_refuses(root: Path) -> bool:
    done = run_sops(["decrypt", FILE], cwd=root, key_file=KEY)
    return done.returncode != 0 and "MAC mismatch" in done.stderr


def _sm023(findings: object) -> list[str]:
    return [f.path for f in findings if f.rule == "SM023"]  # type: ignore[attr-defined]


@pytest.mark.interop
def test_sm023_fires_in_check_on_a_staged_hand_edit_until_it_is_restored(tmp_path: Path) -> None:
    # sweep 71, FruitieX/homelab: a SOPS Secret's namespace changed by hand under the old MAC
    root = _repo(tmp_path)
    _hand_edit(root)
    assert _sops_refuses(root)  # the oracle: sops cannot decrypt it any more
    git(root, "add", FILE)
    (finding,) = [f for f in judge(root).findings if f.rule == "SM023"]
    assert finding.path == FILE and "changed outside sops" in finding.message
    assert f"git checkout HEAD -- {FILE}" in (finding.fix or "")
    # audit sees the working tree's edit too
    assert _sm023(run_audit(root, keyless_only=True).findings) == [FILE]
    git(root, "checkout", "HEAD", "--", FILE)
    assert _sm023(judge(root, [FILE]).findings) == []
    assert not _sops_refuses(root)


@pytest.mark.interop
def test_sm023_misses_what_sops_writes_and_formatting(tmp_path: Path) -> None:
    # a near miss each: sops set (a new MAC), updatekeys-like recipient changes keep values and
    # MAC, and a reindented file with the same values
    root = _repo(tmp_path)
    done = run_sops(
        ["set", FILE, '["metadata"]["namespace"]', '"flux-system"'], cwd=root, key_file=KEY
    )
    assert done.returncode == 0, done.stderr
    git(root, "add", FILE)
    assert _sm023(judge(root).findings) == []
    commit(root, "sops set")
    path = root / FILE
    path.write_text(path.read_text().replace("namespace: flux-system", 'namespace: "flux-system"'))
    git(root, "add", FILE)
    assert _sm023(judge(root).findings) == []
    assert not _sops_refuses(root)


@pytest.mark.interop
def test_sm023_fires_in_history_on_a_committed_hand_edit_until_sops_rewrites_it(
    tmp_path: Path,
) -> None:
    root = _repo(tmp_path)
    written = git(root, "rev-parse", "HEAD").strip()
    _hand_edit(root)
    commit(root, "move it by hand")
    edited = git(root, "rev-parse", "HEAD").strip()
    found = history_findings(root)
    (message,) = found[("SM023", FILE)]
    assert f"in commit {edited[:12]}" in message and f"of commit {written[:12]}" in message
    # the cure the fix names: sops edit --ignore-mac writes a new MAC (here: decrypt ignoring
    # the MAC, then encrypt again, as saving in the editor does)
    plain = run_sops(["decrypt", "--ignore-mac", FILE], cwd=root, key_file=KEY)
    assert plain.returncode == 0, plain.stderr
    (root / FILE).write_text(plain.stdout)
    done = run_sops(["encrypt", "-i", FILE], cwd=root, key_file=KEY)
    assert done.returncode == 0, done.stderr
    commit(root, "rewritten by sops")
    assert ("SM023", FILE) not in history_findings(root)
    assert not _sops_refuses(root)


@pytest.mark.interop
def test_sm023_misses_an_edit_undone_by_hand_and_values_the_mac_does_not_cover(
    tmp_path: Path,
) -> None:
    root = _repo(tmp_path)
    _hand_edit(root)
    commit(root, "edited by hand")
    path = root / FILE
    path.write_text(path.read_text().replace("namespace: flux-system", "namespace: receiver"))
    commit(root, "undone by hand")
    assert ("SM023", FILE) not in history_findings(root)
    assert not _sops_refuses(root)
    # mac_only_encrypted: values in clear are outside the MAC, so editing them breaks nothing
    other = _repo(tmp_path / "only")
    config = other / ".sops.yaml"
    config.write_text(config.read_text() + "    mac_only_encrypted: true\n")
    plain = run_sops(["decrypt", FILE], cwd=other, key_file=KEY)
    (other / FILE).write_text(plain.stdout)
    done = run_sops(["encrypt", "-i", FILE], cwd=other, key_file=KEY)
    assert done.returncode == 0, done.stderr
    assert "mac_only_encrypted: true" in (other / FILE).read_text()
    commit(other, "mac over encrypted values only")
    _hand_edit(other)
    assert not _sops_refuses(other)  # the oracle: sops still decrypts it
    git(other, "add", FILE)
    assert _sm023(judge(other).findings) == []


@pytest.mark.interop
def test_sm023_misses_empty_values_sops_leaves_out_of_the_mac(tmp_path: Path) -> None:
    # the attack review: an empty value adds no bytes to the MAC; adding or dropping one by
    # hand breaks nothing, and was an SM023 error
    root = _repo(tmp_path)
    path = root / FILE
    path.write_text(path.read_text().replace("stringData:\n", 'stringData:\n    extra: ""\n'))
    assert not _sops_refuses(root)
    git(root, "add", FILE)
    assert _sm023(judge(root).findings) == []


@pytest.mark.interop
def test_sm023_fires_on_lastmodified_changed_by_hand_and_on_a_moved_or_copied_edit(
    tmp_path: Path,
) -> None:
    import os
    import re

    from tests.cli.runner import run_shell

    root = _repo(tmp_path)
    path = root / FILE
    text = path.read_text()
    path.write_text(re.sub(r'lastmodified: "\d{4}', 'lastmodified: "2030', text))
    assert _sops_refuses(root) or run_sops(["decrypt", FILE], cwd=root, key_file=KEY).returncode
    git(root, "add", FILE)
    assert _sm023(judge(root).findings) == [FILE]
    git(root, "checkout", "HEAD", "--", FILE)
    # moved by hand and edited in the same change (and copied, and edited)
    git(root, "mv", FILE, "apps/moved.enc.yaml")
    moved = root / "apps/moved.enc.yaml"
    moved.write_text(moved.read_text().replace("namespace: receiver", "namespace: other"))
    copy = root / "apps/copy.enc.yaml"
    copy.write_text(text.replace("namespace: receiver", "namespace: third"))
    git(root, "add", "-A")
    found = {f.path: f for f in judge(root).findings if f.rule == "SM023"}
    assert set(found) == {"apps/moved.enc.yaml", "apps/copy.enc.yaml"}
    assert (
        "a copy of apps/token.enc.yaml changed outside sops" in found["apps/copy.enc.yaml"].message
    )
    # the fix, pasted up to the edit, puts back a file sops opens
    (restore,) = re.findall(r"\((git show [^,]+), or cp\)", found["apps/copy.enc.yaml"].fix or "")
    run_shell(restore, env=dict(os.environ), cwd=root, expect=0)
    assert run_sops(["decrypt", "apps/copy.enc.yaml"], cwd=root, key_file=KEY).returncode == 0
    commit(root, "moved and copied by hand")
    history = history_findings(root)
    assert ("SM023", "apps/moved.enc.yaml") in history


@pytest.mark.interop
def test_sm023_fires_on_a_merge_resolved_with_the_other_sides_mac(tmp_path: Path) -> None:
    # the attack review: both branches changed a value with sops; the conflict was resolved by
    # keeping both value lines and the merged branch's lastmodified and MAC
    root = _two_branches(tmp_path, "merge")
    assert _sops_refuses(root)
    git(root, "add", FILE)
    (finding,) = [f for f in judge(root).findings if f.rule == "SM023"]
    assert "a conflict resolved by hand: it keeps the MAC of MERGE_HEAD" in finding.message
    assert f"git checkout MERGE_HEAD -- {FILE}" in (finding.fix or "")


@pytest.mark.interop
def test_sm023_history_fixes_work_when_pasted_after_a_move(tmp_path: Path) -> None:
    # sweep 72: `git checkout SINCE -- NEWPATH` failed for a file moved since; the attack
    # review: `sops edit --ignore-mac`, saved unchanged, writes nothing
    import os
    import re

    from tests.cli.runner import run_shell

    root = _repo(tmp_path)
    _hand_edit(root)
    commit(root, "edited by hand")
    git(root, "mv", FILE, "apps/moved.enc.yaml")
    commit(root, "moved")
    from secretsmgr.audit.engine import load_context, run_rules
    from secretsmgr.gate.history import walk_repository

    report = run_rules(load_context(root, history=walk_repository(root)))
    (fix,) = [f.fix or "" for f in report.findings if f.rule == "SM023"]
    rewrite, _, restore = fix.partition("; or put back what sops wrote (")
    rewrite = rewrite.split("(check the values after): ", 1)[1]
    restore = restore.split(") and redo", 1)[0]
    assert re.fullmatch(
        r"git show [0-9a-f]{12}:apps/token\.enc\.yaml > apps/moved\.enc\.yaml", restore
    )
    env = dict(os.environ) | {"SOPS_AGE_KEY_FILE": str(KEY)}
    run_shell(rewrite, env=env, cwd=root, expect=0)
    assert run_sops(["decrypt", "apps/moved.enc.yaml"], cwd=root, key_file=KEY).returncode == 0
    git(root, "checkout", "HEAD", "--", "apps/moved.enc.yaml")
    run_shell(restore, env=env, cwd=root, expect=0)
    assert run_sops(["decrypt", "apps/moved.enc.yaml"], cwd=root, key_file=KEY).returncode == 0


@pytest.mark.interop
def test_sm023_lets_check_pass_the_restore_audit_history_prints(tmp_path: Path) -> None:
    # the attack review: the pasted `git show SINCE:F > F` puts back what sops wrote, and
    # check blocked it as a hand edit of HEAD (which was the hand edit)
    root = _repo(tmp_path)
    written = git(root, "rev-parse", "HEAD").strip()
    _hand_edit(root)
    commit(root, "edited by hand")
    (root / FILE).write_text(git(root, "show", f"{written}:{FILE}"))
    assert not _sops_refuses(root)
    git(root, "add", FILE)
    assert _sm023(judge(root).findings) == []


@pytest.mark.interop
def test_sm023_copies_are_judged_against_their_sources_last_commit(tmp_path: Path) -> None:
    # the attack review: an unchanged copy was blamed for its source's hand edit; a copy
    # edited by hand passed once sops rewrote its source
    root = _repo(tmp_path)
    text = (root / FILE).read_text()
    (root / "apps/copy.enc.yaml").write_text(text)
    _hand_edit(root)
    git(root, "add", "-A")
    found = {f.path for f in judge(root).findings if f.rule == "SM023"}
    assert found == {FILE}
    git(root, "checkout", "HEAD", "--", FILE)
    git(root, "rm", "-q", "--cached", "apps/copy.enc.yaml")
    edited = text.replace("namespace: receiver", "namespace: copied")
    (root / "apps/copy.enc.yaml").write_text(edited)
    done = run_sops(
        ["set", FILE, '["stringData"]["token"]', '"new-token-1"'], cwd=root, key_file=KEY
    )
    assert done.returncode == 0, done.stderr
    git(root, "add", "-A")
    found = {f.path for f in judge(root).findings if f.rule == "SM023"}
    assert found == {"apps/copy.enc.yaml"}


@pytest.mark.interop
def test_sm023_fires_on_a_cherry_pick_conflict_and_an_old_version_edited_by_hand(
    tmp_path: Path,
) -> None:
    root = _two_branches(tmp_path, "cherry-pick")
    assert _sops_refuses(root)
    git(root, "add", FILE)
    (finding,) = [f for f in judge(root).findings if f.rule == "SM023"]
    assert "CHERRY_PICK_HEAD" in finding.message
    _git_may_fail(root, "cherry-pick", "--abort")
    # an older version put back and edited by hand, committed
    old = git(root, "rev-parse", "HEAD~1").strip()
    git(root, "checkout", old, "--", FILE)
    _hand_edit(root)
    commit(root, "old version, edited by hand")
    assert _sops_refuses(root)
    assert ("SM023", FILE) in history_findings(root)


def _two_branches(tmp_path: Path, how: str) -> Path:
    """Both branches change the file with sops (feature its namespace, main its token); `how`
    (merge, cherry-pick) stops on the conflict, which is resolved by hand: main's values with
    feature's namespace, under feature's sops block (a file sops refuses)."""
    root = _repo(tmp_path)
    git(root, "checkout", "-q", "-b", "feature")
    set_ns = ["set", FILE, '["metadata"]["namespace"]', '"feature-ns"']
    assert run_sops(set_ns, cwd=root, key_file=KEY).returncode == 0
    commit(root, "feature")
    feature = (root / FILE).read_text()
    git(root, "checkout", "-q", "main")
    set_token = ["set", FILE, '["stringData"]["token"]', '"main-token-9"']
    assert run_sops(set_token, cwd=root, key_file=KEY).returncode == 0
    commit(root, "main")
    main = (root / FILE).read_text()
    _git_may_fail(root, how, *(["--no-ff"] if how == "merge" else []), "feature")
    merged = main.split("sops:")[0].replace("namespace: receiver", "namespace: feature-ns")
    (root / FILE).write_text(merged + "sops:" + feature.split("sops:")[1])
    return root


def _git_may_fail(root: Path, *args: str) -> None:
    import os
    import subprocess

    from tests.conftest import GIT_ENV

    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")} | GIT_ENV
    subprocess.run(["git", *args], cwd=root, env=env, check=False, capture_output=True)


@pytest.mark.interop
def test_sm023_history_fix_for_a_file_no_rule_governs_works_when_pasted(tmp_path: Path) -> None:
    """sweep 91, noahlehmann/homelab-k8s-gitops: the only `.sops.yaml` sat in a folder below
    no secret; the pasted rewrite ended in `sops encrypt --filename-override`, which found no
    creation rule. It now encrypts to the file's own keys and rule, reading no `.sops.yaml`."""
    import os

    from secretsmgr.audit.engine import load_context, run_rules
    from secretsmgr.gate.history import walk_repository
    from tests.cli.runner import run_shell

    root = _repo(tmp_path)
    (root / ".sops.yaml").rename(root / "apps" / "unused.sops.yaml")  # governs nothing here
    write(root, "clusters/sops/.sops.yaml", sops_yaml((r"\.enc\.yaml$", [K1])))
    commit(root, "the rules moved where they govern nothing")
    _hand_edit(root)
    commit(root, "edited by hand")
    report = run_rules(load_context(root, history=walk_repository(root)))
    (fix,) = [f.fix or "" for f in report.findings if f.rule == "SM023"]
    rewrite = fix.split("(check the values after): ", 1)[1].partition("; or put back")[0]
    assert "sops --config /dev/null encrypt --age " in rewrite, rewrite
    assert "--encrypted-regex" in rewrite, rewrite
    env = dict(os.environ) | {"SOPS_AGE_KEY_FILE": str(KEY)}
    run_shell(rewrite, env=env, cwd=root, expect=0)
    done = run_sops(["decrypt", FILE], cwd=root, key_file=KEY)
    assert done.returncode == 0, done.stderr
    assert "namespace: flux-system" in done.stdout and "q7Wm2ZpK9vR4tY8u" in done.stdout
    text = (root / FILE).read_text()
    assert "encrypted_regex: ^(data|stringData)$" in text, text


def test_sm023_offers_no_sops_line_that_cannot_say_the_files_own_rule(tmp_path: Path) -> None:
    """The third attack review of stop 48: `sops encrypt` has no `--mac-only-encrypted` (only
    `sops -e` has): for such a file under no rule, only the restore is offered."""
    from secretsmgr.audit.engine import load_context, run_rules
    from secretsmgr.gate.history import walk_repository

    root = tmp_path / "r"
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    text = secret("token", {"token": "q7Wm2ZpK9vR4tY8u"}).replace(
        "namespace: prod", "namespace: receiver"
    )
    write(root, FILE, text)
    # sops 3.11's `encrypt` has no --mac-only-encrypted: the top-level `sops -e` has
    flags = ["--age", K1, "--encrypted-regex", "^(data|stringData)$", "--mac-only-encrypted"]
    done = run_sops(["-e", "-i", *flags, FILE], cwd=root, key_file=KEY)
    assert done.returncode == 0, done.stderr
    assert "mac_only_encrypted: true" in (root / FILE).read_text()
    commit(root, "encrypted by sops, no .sops.yaml")
    path = root / FILE
    import re

    # mac_only_encrypted: the MAC covers the encrypted values and lastmodified only
    edited = re.sub(
        r'lastmodified: "[^"]+"', 'lastmodified: "2020-01-01T00:00:00Z"', path.read_text()
    )
    assert edited != path.read_text()
    path.write_text(edited)
    commit(root, "edited by hand")
    report = run_rules(load_context(root, history=walk_repository(root)))
    fixes = [f.fix or "" for f in report.findings if f.rule == "SM023"]
    assert fixes, [f.rule for f in report.findings]
    for fix in fixes:
        assert fix.startswith("put back what sops wrote (git show "), fix
        assert "sops --config" not in fix and "sops encrypt" not in fix
