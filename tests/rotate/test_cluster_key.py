"""``key rotate --begin/--finish`` and ``key export`` on a real git copy of the demo.

Keys come from files here (``SOPS_AGE_KEY_FILE``, ``-o`` for the new identity); the keyring and
the live cluster are exercised in tests/keys and tests/cluster.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from secretsmgr.errors import ConfigError
from secretsmgr.keys.age import parse_identities
from secretsmgr.repo.settings import parse_settings
from secretsmgr.rotate.settingsedit import set_setting, settings_text
from secretsmgr.rotate.sopsrules import switch as switch_sops_config
from tests.cli.runner import Result, run_inline, run_process
from tests.conftest import FIXTURES, git, run_sops
from tests.rotate.helpers import (
    CHANGELOG,
    DEMO,
    DEMO_KEY,
    DEMO_SOPS_FILES,
    REDIS,
    age_recipients,
    commit_all,
    git_copy,
    head,
    journal_path,
    porcelain,
    snapshot,
    subprocess_env,
)

OLD = "age1fq08vpk2qf5wmz4cg6w5uzqt2hqrz56dzp25pj57nrx606073frqc0n3qw"
ADMIN = "age1xfmf59p8t2m533vyfcv79rau54eahzeyudzsavganjpee5nakehqe2jp0u"
SECRET = re.compile(r"AGE-SECRET-KEY-1[0-9A-Z]+")
SKIP = ("--skip-cluster-check",)  # no cluster here: tests/cluster checks it against a real one
FINISH = ("--finish", *SKIP)


def key_env(tmp_path: Path, *files: Path) -> dict[str, str]:
    """The operator's keys: one keys file holding ``files`` (default: the demo key)."""
    keys = tmp_path / "operator-keys.txt"
    keys.write_text("".join(f.read_text() for f in files or (DEMO_KEY,)), encoding="utf-8")
    return subprocess_env(SOPS_AGE_KEY_FILE=str(keys))


def run(
    repo: Path, env: dict[str, str], *args: str, expect: int = 0, warnings: tuple[str, ...] = ()
) -> Result:
    """``secretsmgr --repo REPO ARGS`` through the shared runner, in this process (the runs
    with a fault hook start a process of their own).

    ``key rotate`` and ``key export`` print a Secret manifest holding private keys: on a
    success each warns that it does.
    """
    if args[:2] in (("key", "rotate"), ("key", "export")):
        warnings = ("the manifest on stdout holds a private key", *warnings)
    if "--skip-cluster-check" in args:
        warnings = ("--skip-cluster-check: not checking", *warnings)
    return run_inline(args, repo=repo, env=env, expect=expect, warnings=warnings)


def late_secret(repo: Path) -> Path:
    """A plaintext Secret that joins the repository during a rotation's overlap."""
    added = repo / "gitops/apps/redis/extra.enc.yaml"
    added.write_text(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: extra\n  namespace: redis\n"
        "stringData:\n  token: late-arrival\n",
        encoding="utf-8",
    )
    return added


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return git_copy(DEMO, tmp_path / "demo")


def begin(repo: Path, tmp_path: Path, env: dict[str, str], name: str = "new.agekey") -> str:
    """Run --begin writing the new identity to ``tmp_path/name``; its public key."""
    out = tmp_path / name
    result = run(repo, env, "key", "rotate", "--begin", "-o", str(out), "--commit")
    public = parse_identities(out.read_text(), name).publics[0]
    assert f"new cluster key {public}" in result.out
    return public


def test_begin_prints_an_overlap_manifest_kubectl_can_read(repo: Path, tmp_path: Path) -> None:
    env = key_env(tmp_path)
    new_file = tmp_path / "new.agekey"
    result = run(repo, env, "key", "rotate", "--begin", "-o", str(new_file), "--commit")
    new = parse_identities(new_file.read_text(), "new").publics[0]
    assert new_file.stat().st_mode & 0o777 == 0o600
    assert "holds a private key" in result.err
    # the summary lines are YAML comments: the whole stdout is one Secret manifest
    lines = result.out.splitlines()
    assert lines[0].startswith("# new cluster key")
    # committed: the next step is to push (sweep 20: without --commit it says to commit too)
    (step,) = [
        x
        for x in lines
        if x.startswith(
            "# next: send the Secret holding both keys (kubectl apply -f this output), push, let"
        )
    ]
    # sweep 64: finish needs the new key, which -o wrote to no place identities are read from
    assert step.endswith(f"then: SOPS_AGE_KEY_FILE={new_file} secretsmgr key rotate --finish")
    manifest = "\n".join(lines)
    assert "kind: Secret" in manifest and "  name: sops-age" in manifest
    assert "  namespace: flux-system" in manifest
    assert re.findall(r"^  (\S+\.agekey): \|$", manifest, re.M) == ["old.agekey", "new.agekey"]
    secrets = SECRET.findall(manifest)
    assert secrets == [
        SECRET.search(DEMO_KEY.read_text()).group(0),
        SECRET.search(new_file.read_text()).group(0),
    ]  # type: ignore[union-attr]
    for rel in DEMO_SOPS_FILES:
        assert set(age_recipients(repo / rel)) == {OLD, new, ADMIN}
    settings = parse_settings((repo / ".secretsmgr.yaml").read_text())
    assert (settings.cluster_key, settings.next_cluster_key) == (OLD, new)
    assert "# secretsmgr policy for this demo" in (repo / ".secretsmgr.yaml").read_text()
    last = json.loads((repo / CHANGELOG).read_text().splitlines()[-1])
    assert last["action"] == "key-rotate-begin"
    assert SECRET.search((repo / CHANGELOG).read_text()) is None
    assert porcelain(repo) == ""
    # the real sops opens every file with the new key alone already
    for rel in DEMO_SOPS_FILES:
        assert run_sops(["decrypt", str(repo / rel)], key_file=new_file).returncode == 0


def test_begin_without_commit_says_to_commit_before_the_push(repo: Path, tmp_path: Path) -> None:
    # sweep 20: the next step said "push"; --finish refuses until the begin commit is applied
    result = run(repo, key_env(tmp_path), "key", "rotate", "--begin", "-o", str(tmp_path / "n"))
    assert (
        "# next: send the Secret holding both keys (kubectl apply -f this output), commit and "
        "push, let Flux apply it" in (result.out)
    )


def test_finish_refuses_without_a_rotation_under_way(repo: Path, tmp_path: Path) -> None:
    before = snapshot(repo)
    result = run(repo, key_env(tmp_path), "key", "rotate", "--finish", expect=1)
    assert "no cluster-key rotation is under way" in result.err
    assert "secretsmgr: hint: start one with: secretsmgr key rotate --begin" in result.err
    assert snapshot(repo) == before


def test_finish_refuses_a_file_only_the_old_key_opens_and_begin_again_fixes_it(
    repo: Path, tmp_path: Path
) -> None:
    env = key_env(tmp_path)
    new = begin(repo, tmp_path, env)
    # during the overlap someone adds a file with sops, naming the recipients by hand (the
    # old key and the admin key, as before the rotation): it is on the old key only
    added = late_secret(repo)
    rel = str(added.relative_to(repo))
    by_hand = ["--age", f"{OLD},{ADMIN}", "--encrypted-regex", "^(data|stringData)$"]
    made = run_sops(
        ["encrypt", *by_hand, "-i", rel],
        cwd=repo,
        key_file=DEMO_KEY,
    )
    assert made.returncode == 0, made.stderr
    assert set(age_recipients(added)) == {OLD, ADMIN}
    commit_all(repo, "an extra secret")
    audit = run(repo, env, "audit", "--format", "json", "--fail-on", "never")
    found = json.loads(audit.out)["findings"]
    states = {f["path"]: f["message"] for f in found if f["rule"] == "SM017"}
    assert "old key only" in states["gitops/apps/redis/extra.enc.yaml"]
    assert "this file is ready;" in states[REDIS]
    # SM011 (the creation rule names both keys) agrees, and both give the same cure
    late = [
        f
        for f in found
        if f["path"] == "gitops/apps/redis/extra.enc.yaml" and f["rule"] in ("SM011", "SM017")
    ]
    assert len(late) == 2
    assert all("old key only" in f["message"] for f in late)
    text = run(repo, env, "audit", "--fail-on", "never").out
    # the same fix for the same file is printed once, then pointed at
    assert text.count("fix: secretsmgr key rotate --begin\n") == 1, text
    assert "fix: secretsmgr key rotate --begin\n" in text.split("SM017 gitops/apps/redis/extra")[0]
    assert "fix: the same as above (once for the file)" in text

    env_with_new = key_env(tmp_path, DEMO_KEY, tmp_path / "new.agekey")
    before, sha = snapshot(repo), head(repo)
    refused = run(repo, env_with_new, "key", "rotate", "--finish", expect=1)
    assert "gitops/apps/redis/extra.enc.yaml would be left readable only by the old key" in (
        refused.err
    )
    assert "key rotate --begin again" in refused.err
    assert snapshot(repo) == before and head(repo) == sha

    # begin again: no new key, only the one file re-encrypted
    again = run(repo, env_with_new, "key", "rotate", "--begin", "--commit")
    assert f"pending new cluster key {new}" in again.out
    assert "re-encrypted 1 file " in again.out
    assert set(age_recipients(added)) == {OLD, new, ADMIN}
    finished = run(repo, env_with_new, "key", "rotate", "--finish", "--commit", *SKIP)
    assert "re-encrypted 5 files" in finished.out
    for rel in (*DEMO_SOPS_FILES, "gitops/apps/redis/extra.enc.yaml"):
        assert set(age_recipients(repo / rel)) == {new, ADMIN}
    actions = [json.loads(x)["action"] for x in (repo / CHANGELOG).read_text().splitlines()]
    assert actions[-3:] == ["key-rotate-begin", "key-rotate-begin", "key-rotate-finish"]
    run(repo, env_with_new, "log", "--verify")


def test_finish_names_a_plaintext_file_as_plaintext_and_encrypt_mends_it(
    repo: Path, tmp_path: Path
) -> None:
    # sweep A of stop 55: a plaintext Secret committed during the overlap was "readable only
    # by the old key", and the hint's --begin refused it too ("not a readable SOPS file")
    env = key_env(tmp_path)
    begin(repo, tmp_path, env)
    added = late_secret(repo)
    commit_all(repo, "a plaintext secret, by mistake")
    env_with_new = key_env(tmp_path, DEMO_KEY, tmp_path / "new.agekey")
    before, sha = snapshot(repo), head(repo)
    refused = run(repo, env_with_new, "key", "rotate", "--finish", expect=1)
    assert "gitops/apps/redis/extra.enc.yaml is no SOPS file sops can read" in refused.err
    assert "only by the old key" not in refused.err and "late-arrival" not in refused.err
    assert "secretsmgr encrypt -i gitops/apps/redis/extra.enc.yaml, commit it" in refused.err
    assert snapshot(repo) == before and head(repo) == sha
    # the hint, pasted: encrypted during the overlap, the file is on both keys and finish runs
    run(repo, env_with_new, "encrypt", "-i", str(added))
    commit_all(repo, "encrypted")
    run(
        repo,
        env_with_new,
        "key",
        "rotate",
        "--finish",
        "--skip-cluster-check",
        "--commit",
    )


def test_finish_needs_the_new_private_key(repo: Path, tmp_path: Path) -> None:
    env = key_env(tmp_path)
    begin(repo, tmp_path, env)
    before = snapshot(repo)
    result = run(repo, env, "key", "rotate", "--finish", expect=2)
    assert "private half of the new cluster key" in result.err
    assert snapshot(repo) == before


def test_without_any_identity_each_step_names_the_key_it_needs(repo: Path, tmp_path: Path) -> None:
    # sweep 31 (bjw-s/home-ops): "no age identity found" and the usual sources, not which key
    before = snapshot(repo)
    out = tmp_path / "new.agekey"
    result = run(repo, subprocess_env(), "key", "rotate", "--begin", "-o", str(out), expect=2)
    assert "private half of the current cluster key (age1fq08" in result.err, result.err
    assert not out.exists() and snapshot(repo) == before
    public = begin(repo, tmp_path, key_env(tmp_path))
    result = run(repo, subprocess_env(), "key", "rotate", *FINISH, expect=2)
    assert f"private half of the new cluster key ({public[:8]}" in result.err, result.err


def test_begin_refuses_a_dirty_repo_before_making_a_key(repo: Path, tmp_path: Path) -> None:
    (repo / REDIS).write_text((repo / REDIS).read_text() + "# local edit\n", encoding="utf-8")
    out = tmp_path / "new.agekey"
    result = run(repo, key_env(tmp_path), "key", "rotate", "--begin", "-o", str(out), expect=1)
    assert "uncommitted changes" in result.err
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ((), "give exactly one of --begin and --finish"),
        (("--begin", "--finish"), "give exactly one of --begin and --finish"),
        (("--finish", "-o", "new.agekey"), "-o is for --begin"),
        (("--finish", "--cluster-key", OLD), "--cluster-key is for --begin"),
        (("--begin", "--skip-cluster-check"), "--skip-cluster-check is for --finish"),
    ],
)
def test_options_of_the_other_step_are_usage_errors(
    repo: Path, tmp_path: Path, args: tuple[str, ...], words: str
) -> None:
    before = snapshot(repo)
    result = run(repo, key_env(tmp_path), "key", "rotate", *args, expect=2)
    assert words in result.err
    assert snapshot(repo) == before


def test_begin_without_a_keyring_names_the_file_option_before_making_a_key(
    repo: Path, tmp_path: Path
) -> None:
    before = snapshot(repo)  # no D-Bus session in the tests: no keyring
    result = run(repo, key_env(tmp_path), "key", "rotate", "--begin", expect=2)
    assert "no OS keyring is available to keep the new cluster key in" in result.err
    assert "secretsmgr key rotate --begin -o " in result.err
    assert "key generate" not in result.err
    assert snapshot(repo) == before
    # the Secret named keeps its options in the hint (sweep 93, tosih/home-ops: they were
    # dropped, and pasted, begin asked again which of eight Secrets)
    named = ("--namespace", "flux-system", "--secret", "sops-age")
    result = run(repo, key_env(tmp_path), "key", "rotate", "--begin", *named, expect=2)
    assert (
        "secretsmgr key rotate --begin --namespace flux-system --secret sops-age -o " in result.err
    ), result.err
    assert snapshot(repo) == before


@pytest.mark.parametrize("mode", ["raise", "kill"])
def test_an_interrupted_begin_restores_files_and_settings(
    repo: Path, tmp_path: Path, mode: str
) -> None:
    env = key_env(tmp_path)
    before = snapshot(repo)
    fault = "replace:2" if mode == "raise" else "replace:2:kill"
    new_key = tmp_path / "keys" / "new" / "new.agekey"  # in folders begin makes
    args = ["key", "rotate", "--begin", "-o", str(new_key)]
    failed = run_process(args, repo=repo, env=dict(env, SECRETSMGR_FAULT_INJECT=fault))
    assert failed.code != 0
    if mode == "raise":  # the new identity of a step that changed nothing is discarded
        assert not new_key.exists() and not (tmp_path / "keys").exists()
    if mode == "kill":
        # the next run finds the journal and rolls back files and .secretsmgr.yaml alike
        assert journal_path(repo).exists()
        recovered = run(repo, env, "key", "rotate", "--finish", expect=1)
        assert "rolled back an interrupted rotation" in recovered.err
        assert "no cluster-key rotation is under way" in recovered.err
    after = snapshot(repo)
    assert after == before, sorted(k for k in after if after.get(k) != before.get(k))


def test_a_begin_whose_git_commit_fails_keeps_the_new_key_its_files_need(
    repo: Path, tmp_path: Path
) -> None:
    """An operator's acceptance run: git refused the begin commit (a failing signing program),
    after the files were re-encrypted to the new key, and begin threw that key away."""
    env = key_env(tmp_path)
    git(repo, "config", "commit.gpgsign", "true")
    git(repo, "config", "gpg.program", "false")
    new_key = tmp_path / "new.agekey"
    args = ("key", "rotate", "--begin", "-o", str(new_key), "--commit")
    failed = run(repo, env, *args, expect=1)
    assert "but the commit failed" in failed.err
    public = parse_identities(new_key.read_text(), "new.agekey").publics[0]
    assert f"the new cluster key {public[:8]}" in failed.err and str(new_key) in failed.err
    assert parse_settings((repo / ".secretsmgr.yaml").read_text()).next_cluster_key == public
    # every file it re-encrypted opens with the kept key alone
    for rel in DEMO_SOPS_FILES:
        opened = run_sops(["decrypt", str(repo / rel)], key_file=new_key)
        assert opened.returncode == 0, (rel, opened.stderr)


@pytest.mark.parametrize(
    ("own_key", "hint"),
    [
        (ADMIN, "key rotate --begin --cluster homelab"),
        (OLD, "remove the cluster_key lines under clusters:"),
    ],
)
@pytest.mark.parametrize("step", ["--begin", "--finish"])
def test_key_rotate_refuses_clusters_with_keys_of_their_own(
    repo: Path, tmp_path: Path, own_key: str, hint: str, step: str
) -> None:
    """An operator's acceptance run: with clusters.staging.cluster_key beside cluster_key,
    begin re-encrypted every file to the repository's key pair alone and took staging's key off
    the files staging applies (exit 0). A cluster's key equal to cluster_key would be left
    naming the old key after finish."""
    settings = repo / ".secretsmgr.yaml"
    settings.write_text(
        settings.read_text(encoding="utf-8")
        + f"clusters:\n  homelab:\n    path: clusters/homelab\n    cluster_key: {own_key}\n",
        encoding="utf-8",
    )
    commit_all(repo, "a key of its own")
    before = snapshot(repo)
    args = (
        "key",
        "rotate",
        step,
        *(("-o", str(tmp_path / "new.agekey")) if step == "--begin" else SKIP),
    )
    refused = run(repo, key_env(tmp_path), *args, expect=1, warnings=())
    assert "a key of its own: homelab" in refused.err and hint in refused.err
    assert snapshot(repo) == before and not (tmp_path / "new.agekey").exists()


def test_export_prints_the_cluster_key_only_with_a_warning(repo: Path, tmp_path: Path) -> None:
    env = key_env(tmp_path, DEMO_KEY, FIXTURES / "keys" / "demo-only-admin.agekey")
    result = run(
        repo,
        env,
        *("key", "export", "--namespace", "flux-system", "--name", "sops-age"),
        warnings=("exported the private key of",),
    )
    assert result.err.startswith("secretsmgr: warning: the manifest on stdout holds a private")
    assert SECRET.findall(result.out) == [SECRET.search(DEMO_KEY.read_text()).group(0)]  # type: ignore[union-attr]
    assert f"# public key: {OLD}" in result.out
    assert re.findall(r"^  (\S+\.agekey): \|$", result.out, re.M) == ["age.agekey"]


def test_export_without_the_private_half_is_a_clear_error(repo: Path, tmp_path: Path) -> None:
    env = key_env(tmp_path, FIXTURES / "keys" / "demo-only-admin.agekey")
    result = run(repo, env, "key", "export", expect=2)
    assert result.out == ""
    assert result.err.startswith("secretsmgr: error: the private half of the cluster key")


_LAYER_FILES = ("infrastructure.yaml", "databases-kustomization.yaml", "apps-kustomization.yaml")


def _decrypt_with(repo: Path, names: dict[str, str]) -> None:
    """Point each demo layer's ``decryption.secretRef`` at another Secret (file: name)."""
    for file, name in names.items():
        path = repo / "clusters" / "homelab" / file
        path.write_text(path.read_text().replace("name: sops-age", f"name: {name}"))
    commit_all(repo, "decrypt with another Secret")


def _secret_names(manifest: str) -> list[tuple[str, str]]:
    docs = re.split(r"^---$", manifest, flags=re.M)
    found = []
    for doc in docs:
        meta = re.search(r"^metadata:\n  name: (\S+)\n  namespace: (\S+)$", doc, re.M)
        if meta:
            found.append((meta.group(2), meta.group(1)))
    return found


def test_export_and_begin_send_the_key_to_the_secret_the_layers_decrypt_with(
    repo: Path, tmp_path: Path
) -> None:
    # sweep 19: a layer decrypting with sops-keys got a flux-system/sops-age Secret from
    # `key export` and `key rotate --begin`, which Flux never reads
    _decrypt_with(
        repo,
        {
            "infrastructure.yaml": "sops-keys",
            "databases-kustomization.yaml": "sops-keys",
            "apps-kustomization.yaml": "sops-keys",
        },
    )
    env = key_env(tmp_path)
    warned = ("exported the private key of",)
    exported = run(repo, env, "key", "export", warnings=warned)
    assert _secret_names(exported.out) == [("flux-system", "sops-keys")]
    named = run(repo, env, "key", "export", "--name", "sops-age", warnings=warned)
    assert _secret_names(named.out) == [("flux-system", "sops-age")]  # the option still wins
    began = run(repo, env, "key", "rotate", "--begin", "-o", str(tmp_path / "new.agekey"))
    assert _secret_names(began.out) == [("flux-system", "sops-keys")]


def test_export_asks_which_secret_when_the_layers_read_several(repo: Path, tmp_path: Path) -> None:
    # sweep 19 (rust84/k8s-gitops): Kustomizations in each app's namespace, each reading its
    # namespace's sops-age. The review: one manifest per Secret sent the cluster's key to
    # places nobody named; the operator names each Secret instead
    path = repo / "clusters" / "homelab" / "apps-kustomization.yaml"
    text = path.read_text()
    assert "  namespace: flux-system\n" in text
    text = text.replace("  namespace: flux-system\n", "  namespace: apps\n", 1)
    text = text.replace(
        "    name: flux-system\n", "    name: flux-system\n    namespace: flux-system\n"
    )
    text = text.replace(
        "    - name: databases\n", "    - name: databases\n      namespace: flux-system\n"
    )
    path.write_text(text)
    commit_all(repo, "apps in their own namespace")
    refused = run(repo, key_env(tmp_path), "key", "export", expect=2)
    assert "the decrypting layers read 2 Secrets (flux-system/sops-age, apps/sops-age)" in (
        refused.err
    )
    assert "e.g. --namespace flux-system --name sops-age" in refused.err and refused.out == ""
    before = snapshot(repo)
    args = ("key", "rotate", "--begin", "-o", str(tmp_path / "n"))
    began = run(repo, key_env(tmp_path), *args, expect=2)
    assert "--secret sops-age" in began.err  # refused before any change
    assert snapshot(repo) == before and not (tmp_path / "n").exists()
    only = run(
        repo,
        key_env(tmp_path),
        *("key", "export", "--namespace", "apps"),
        warnings=("exported the private",),
    )
    assert _secret_names(only.out) == [("apps", "sops-age")]


def test_export_never_picks_a_secret_of_a_layer_without_the_clusters_files(
    repo: Path, tmp_path: Path
) -> None:
    # the review: a tenant's Kustomization over its own source, and an app's over no SOPS file,
    # each reading a Secret of its own namespace, got the cluster's private key
    from tests.init.helpers import TENANT as tenant

    (repo / "clusters" / "homelab" / "team-a.yaml").write_text(tenant)
    commit_all(repo, "a tenant")
    exported = run(repo, key_env(tmp_path), "key", "export", warnings=("exported the private",))
    assert _secret_names(exported.out) == [("flux-system", "sops-age")]


def test_export_will_not_replace_a_pgp_named_secret_unasked(repo: Path, tmp_path: Path) -> None:
    # the review: the layers read sops-gpg; a plain --apply would replace it, PGP key and all
    _decrypt_with(repo, dict.fromkeys(_LAYER_FILES, "sops-gpg"))
    refused = run(repo, key_env(tmp_path), "key", "export", expect=2)
    assert "flux-system/sops-gpg, a Secret named for PGP keys" in refused.err
    assert "--namespace flux-system --name sops-gpg --apply --add" in refused.err
    named = run(
        repo,
        key_env(tmp_path),
        *("key", "export", "--name", "sops-gpg"),
        warnings=("exported the private",),
    )
    assert _secret_names(named.out) == [("flux-system", "sops-gpg")]
    # sweep 25, Stackclash/home-cluster: named, the manifest was printed with "apply it
    # (kubectl apply -f -)", which replaces the Secret and the PGP key in it
    assert "kubectl apply" not in named.err
    assert "applied, it replaces flux-system/sops-gpg, named for PGP keys" in named.err
    assert "--namespace flux-system --name sops-gpg --apply --add" in named.err


@pytest.mark.parametrize("named", [(), ("--namespace", "flux-system", "--secret", "sops-gpg")])
def test_a_rotation_to_a_pgp_named_secret_prints_no_manifest_and_names_export_add(
    repo: Path, tmp_path: Path, named: tuple[str, ...]
) -> None:
    # sweep 22, FrederikS/homelab and ShadyF/k8s-homelab: the layers decrypt with sops-gpg;
    # begin printed a Secret sops-gpg of old.agekey and new.agekey with "apply it (kubectl
    # apply -f -)", which would replace the PGP key Flux decrypts the other files with, and
    # finish one of age.agekey alone. The steps name key export --apply --add instead, and
    # finish's says it takes begin's entries out
    _decrypt_with(repo, dict.fromkeys(_LAYER_FILES, "sops-gpg"))
    env = key_env(tmp_path)
    new_file = tmp_path / "new.agekey"
    args = ("key", "rotate", "--begin", "-o", str(new_file), "--commit", *named)
    began = run_inline(args, repo=repo, env=env, expect=0)
    assert began.err == "" and "kind: Secret" not in began.out, began.out
    assert SECRET.search(began.out) is None
    export = "secretsmgr key export --apply --name sops-gpg --add"
    (step,) = [line for line in began.out.splitlines() if line.startswith("next:")]
    # -o put the new key where export does not look: the step says to read it too (the review)
    assert step == (
        f"next: send both keys beside the PGP key: {export}, with the new key read too: "
        f"{new_file} is no default key source, so first add its lines to the key file that "
        "holds the current key; then push, let Flux apply it, then: secretsmgr key rotate "
        "--finish" + (" --namespace flux-system --secret sops-gpg" if named else "")
    )
    # the step's export sends both keys to that Secret (printed here: no cluster)
    sent = run(repo, key_env(tmp_path, DEMO_KEY, new_file), "key", "export", "--name", "sops-gpg")
    assert re.findall(r"^  (\S+\.agekey): \|$", sent.out, re.M) == ["old.agekey", "new.agekey"]
    warned = ("--skip-cluster-check: not checking",)
    finish = ("key", "rotate", *FINISH, "--commit", *named)
    both = key_env(tmp_path, DEMO_KEY, new_file)
    done = run_inline(finish, repo=repo, env=both, expect=0, warnings=warned)
    assert "kind: Secret" not in done.out and SECRET.search(done.out) is None, done.out
    (step,) = [line for line in done.out.splitlines() if line.startswith("next:")]
    assert step == (
        "next: send the new key beside the PGP key, which also takes old.agekey and new.agekey "
        f"out of the Secret: {export}; then push"
    )


def test_begin_refuses_a_secret_name_flux_fills_in_before_any_change(
    repo: Path, tmp_path: Path
) -> None:
    # the review: secretRef.name: ${SOPS_SECRET:=sops-age} was found invalid only after begin
    # had re-encrypted every file
    _decrypt_with(repo, dict.fromkeys(_LAYER_FILES, "${SOPS_SECRET:=sops-age}"))
    before = snapshot(repo)
    args = ("key", "rotate", "--begin", "-o", str(tmp_path / "n"))
    refused = run(repo, key_env(tmp_path), *args, expect=2)
    assert "which is no name to send to" in refused.err
    assert snapshot(repo) == before and not (tmp_path / "n").exists()


def test_export_refuses_bad_names(repo: Path, tmp_path: Path) -> None:
    result = run(repo, key_env(tmp_path), "key", "export", "--name", "Bad_Name", expect=2)
    assert result.out == "" and "invalid Secret name" in result.err


# ------------------------------------------------------------------ configuration text edits


SETTINGS = """# policy
cluster_key: age1old  # the cluster
allowed_recipients:
  - age1admin
"""


def test_set_setting_keeps_comments_and_order() -> None:
    out = set_setting(SETTINGS, "cluster_key", "age1new")
    assert out == SETTINGS.replace("age1old", "age1new")
    out = set_setting(out, "next_cluster_key", "age1next", after="cluster_key")
    assert out.splitlines()[2] == "next_cluster_key: age1next"
    assert set_setting(out, "next_cluster_key", None) == SETTINGS.replace("age1old", "age1new")
    assert set_setting(None, "cluster_key", "age1x") == "cluster_key: age1x\n"


def test_settings_text_is_verified_by_parsing() -> None:
    text = (DEMO / ".secretsmgr.yaml").read_text()
    new = "age1wk59fr3he9n3qw722fh85e6udyj2geqwcfu5anaql9xd2dam0c0qfp8vss"
    out = settings_text(text, OLD, new)
    parsed = parse_settings(out)
    assert (parsed.cluster_key, parsed.next_cluster_key) == (OLD, new)
    assert parse_settings(settings_text(out, new, None)).next_cluster_key is None


def test_switch_sops_config_in_string_and_list_form(tmp_path: Path) -> None:
    new = "age1wk59fr3he9n3qw722fh85e6udyj2geqwcfu5anaql9xd2dam0c0qfp8vss"
    text = (DEMO / ".sops.yaml").read_text()
    out = switch_sops_config(text, tmp_path / ".sops.yaml", OLD, new)
    assert out is not None and OLD not in out and new in out
    assert out.count("\n") == text.count("\n")
    listed = f"creation_rules:\n  - path_regex: x\n    age:\n      - {OLD}\n      - {ADMIN}\n"
    switched = switch_sops_config(listed, tmp_path / ".sops.yaml", OLD, new)
    assert switched == listed.replace(OLD, new)
    assert switch_sops_config(listed, tmp_path / ".sops.yaml", new, OLD) is None


def test_git_history_of_a_full_rotation(repo: Path, tmp_path: Path) -> None:
    env = key_env(tmp_path)
    begin(repo, tmp_path, env)
    env_new = key_env(tmp_path, tmp_path / "new.agekey")  # the old key is no longer needed
    run(repo, env_new, "key", "rotate", "--finish", "--commit", *SKIP)
    subjects = git(repo, "log", "--format=%s", "-2").splitlines()
    assert subjects == [
        "secrets: key-rotate-finish infrastructure,databases,apps (4 files)",
        "secrets: key-rotate-begin infrastructure,databases,apps (4 files)",
    ]
    changed = git(repo, "show", "--name-only", "--format=", "HEAD").split()
    assert {".secretsmgr.yaml", ".sops.yaml", CHANGELOG} <= set(changed)


def test_encrypt_during_the_overlap_adds_the_pending_key(repo: Path, tmp_path: Path) -> None:
    env = key_env(tmp_path)
    new = begin(repo, tmp_path, env)
    added = late_secret(repo)
    run(repo, env, "encrypt", "-i", str(added))
    assert set(age_recipients(added)) == {OLD, new, ADMIN}
    commit_all(repo, "an extra secret")
    env_new = key_env(tmp_path, tmp_path / "new.agekey")
    finished = run(repo, env_new, "key", "rotate", "--finish", "--commit", *SKIP)
    assert "re-encrypted 5 files" in finished.out
    assert set(age_recipients(added)) == {new, ADMIN}


def test_bad_secret_names_are_refused_before_the_repository_changes(
    repo: Path, tmp_path: Path
) -> None:
    env = key_env(tmp_path)
    begin(repo, tmp_path, env)
    env_new = key_env(tmp_path, tmp_path / "new.agekey")
    before = snapshot(repo)
    bad = run(repo, env_new, "key", "rotate", "--finish", "--namespace", "Bad_NS", expect=2)
    assert "invalid namespace" in bad.err
    assert snapshot(repo) == before


def test_an_unusable_kubeconfig_is_refused_before_a_key_is_made(repo: Path, tmp_path: Path) -> None:
    env = dict(key_env(tmp_path), KUBECONFIG=str(tmp_path / "missing-kubeconfig"))
    before = snapshot(repo)
    out = tmp_path / "new.agekey"
    failed = run(repo, env, "key", "rotate", "--begin", "--apply", "-o", str(out), expect=2)
    assert failed.err.startswith("secretsmgr: error: ")
    assert snapshot(repo) == before
    assert not out.exists()


def test_rotation_state_lives_in_secretsmgr_yaml(repo: Path, tmp_path: Path) -> None:
    git(repo, "rm", "-q", ".secretsmgr.yaml")
    commit_all(repo, "no settings")
    before = snapshot(repo)
    out = tmp_path / "new.agekey"
    failed = run(repo, key_env(tmp_path), "key", "rotate", "--begin", "-o", str(out), expect=2)
    assert "names no cluster_key" in failed.err
    assert f"cluster_key: {OLD}" in failed.err  # the hint offers the key .sops.yaml names
    assert "allowed_recipients" in failed.err
    assert snapshot(repo) == before and not out.exists()


def test_a_pasted_private_key_is_never_echoed(repo: Path, tmp_path: Path) -> None:
    pasted = SECRET.search(DEMO_KEY.read_text()).group(0)  # type: ignore[union-attr]
    env = key_env(tmp_path)
    for args in (
        ("key", "rotate", "--begin", "--cluster-key", pasted, "-o", str(tmp_path / "n")),
        ("key", "export", "--cluster-key", pasted),
    ):
        result = run(repo, env, *args, expect=2)
        assert pasted[:20] not in result.out + result.err
        assert "private key" in result.err


def test_finish_retires_the_old_key_even_where_it_was_allowed(repo: Path, tmp_path: Path) -> None:
    settings = repo / ".secretsmgr.yaml"
    settings.write_text(
        settings.read_text().replace(f"  - {ADMIN}\n", f"  - {ADMIN}\n  - {OLD}\n"),
        encoding="utf-8",
    )
    commit_all(repo, "old key allowed too")
    env = key_env(tmp_path)
    new = begin(repo, tmp_path, env)
    run(repo, key_env(tmp_path, tmp_path / "new.agekey"), "key", "rotate", "--finish", *SKIP)
    for rel in DEMO_SOPS_FILES:
        assert set(age_recipients(repo / rel)) == {new, ADMIN}


def test_crlf_configuration_survives_a_failed_and_a_good_finish(repo: Path, tmp_path: Path) -> None:
    for name in (".secretsmgr.yaml", ".sops.yaml"):
        path = repo / name
        path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    commit_all(repo, "windows line endings")
    env = key_env(tmp_path)
    new = begin(repo, tmp_path, env)
    assert (
        b"next_cluster_key: " + new.encode() + b"\r\n" in (repo / ".secretsmgr.yaml").read_bytes()
    )
    env_new = key_env(tmp_path, tmp_path / "new.agekey")
    before = snapshot(repo)
    failed = run_process(
        ["key", "rotate", *FINISH],
        repo=repo,
        env=dict(env_new, SECRETSMGR_FAULT_INJECT="changelog:0"),
        expect=1,
    )
    assert "\nsecretsmgr: error: rotation failed while writing" in failed.err
    assert snapshot(repo) == before
    run(repo, env_new, "key", "rotate", "--finish", *SKIP)
    for name in (".secretsmgr.yaml", ".sops.yaml"):
        data = (repo / name).read_bytes()
        assert data.count(b"\n") == data.count(b"\r\n"), name


def test_set_setting_edge_cases() -> None:
    doc = "%YAML 1.2\n---\n# policy\nmax_age_days: 30\n"
    out = set_setting(doc, "cluster_key", OLD)
    assert out == f"%YAML 1.2\n---\n# policy\ncluster_key: {OLD}\nmax_age_days: 30\n"
    assert parse_settings(out).cluster_key == OLD
    commented = f"cluster_key: {OLD}\n  # the cluster's key\nmax_age_days: 30\n"
    assert set_setting(commented, "cluster_key", ADMIN).startswith(f"cluster_key: {ADMIN}\n")
    with pytest.raises(ConfigError, match="spans several lines"):
        set_setting("cluster_key: >-\n  age1abc\n", "cluster_key", OLD)
    with pytest.raises(ConfigError, match="same key"):
        parse_settings(f"cluster_key: {OLD}\nnext_cluster_key: {OLD}\n")


def test_switch_removes_the_old_key_where_the_new_one_is_beside_it(tmp_path: Path) -> None:
    new = "age1wk59fr3he9n3qw722fh85e6udyj2geqwcfu5anaql9xd2dam0c0qfp8vss"
    both = f"creation_rules:\n  - path_regex: x\n    age: {OLD},{new}\n  - age: {OLD}\n"
    out = switch_sops_config(both, tmp_path / ".sops.yaml", OLD, new)
    assert out == f"creation_rules:\n  - path_regex: x\n    age: {new}\n  - age: {new}\n"


# ------------------------------------------------------------------ .sops.yaml and the overlap


def test_begin_adds_the_new_key_to_sops_yaml_so_plain_sops_encrypts_to_both(
    repo: Path, tmp_path: Path
) -> None:
    listed = (
        f"  - path_regex: .*\\.enc\\.json$\n    key_groups:\n      - age:\n"
        f"          - {OLD}  # flux\n"
    )
    with (repo / ".sops.yaml").open("a", encoding="utf-8") as handle:
        handle.write(listed)
    commit_all(repo, "a rule in list form")
    before = (repo / ".sops.yaml").read_text()
    env = key_env(tmp_path)
    new = begin(repo, tmp_path, env)
    after = (repo / ".sops.yaml").read_text()
    # the new key beside the old one in every rule naming it; comments and order kept
    with_new = listed + f"          - {new}\n"
    assert after == before.replace(listed, with_new).replace(f"{OLD},", f"{OLD},{new},")
    assert ".sops.yaml" in git(repo, "show", "--name-only", "--format=", "HEAD").split()
    # a file made with plain sops during the overlap, from the rules alone, is on both keys
    added = late_secret(repo)
    rel = str(added.relative_to(repo))
    made = run_sops(["encrypt", "-i", rel], cwd=repo, key_file=DEMO_KEY)
    assert made.returncode == 0, made.stderr
    assert set(age_recipients(added)) == {OLD, new, ADMIN}
    kustomization = repo / "gitops/apps/redis/kustomization.yaml"
    kustomization.write_text(kustomization.read_text() + "  - extra.enc.yaml\n", "utf-8")
    run(repo, env, "log", "--adopt", "--reason", "made with sops")  # in the changelog too
    commit_all(repo, "an extra secret")
    # the audit is clean: SM017 says every file is ready, SM011 has nothing to say
    audit = run(repo, env, "audit", "--format", "json")
    found = json.loads(audit.out)["findings"]
    assert {f["rule"] for f in found} == {"SM017"}
    assert all("this file is ready;" in f["message"] for f in found)
    assert rel in {f["path"] for f in found}
    # finish removes the old key from the rules again, and moves the file to the new key
    env_new = key_env(tmp_path, tmp_path / "new.agekey")
    finished = run(repo, env_new, "key", "rotate", "--finish", "--commit", *SKIP)
    assert "updated .secretsmgr.yaml, .sops.yaml" in finished.out
    switched = before.replace(f"{OLD},", f"{new},").replace(f"- {OLD}  # flux", f"- {new}")
    assert (repo / ".sops.yaml").read_text() == switched
    assert set(age_recipients(added)) == {new, ADMIN}
    assert json.loads(run(repo, env_new, "audit", "--format", "json").out)["findings"] == []


def test_finish_refuses_a_begin_step_that_is_not_committed(repo: Path, tmp_path: Path) -> None:
    env = key_env(tmp_path)
    out = tmp_path / "new.agekey"
    run(repo, env, "key", "rotate", "--begin", "-o", str(out))  # no --commit
    commit_all(repo, "only some of it")  # the files, but not .secretsmgr.yaml
    git(repo, "reset", "-q", "HEAD~1")
    git(repo, "add", "gitops")
    git(repo, "commit", "-q", "-m", "files only")
    before, sha = snapshot(repo), head(repo)
    refused = run(repo, key_env(tmp_path, out), "key", "rotate", "--finish", expect=1)
    assert "the begin step is not committed" in refused.err
    assert "commit and push the begin step first" in refused.err
    assert snapshot(repo) == before and head(repo) == sha


def test_finish_reads_the_cluster_unless_skipped(repo: Path, tmp_path: Path) -> None:
    begin(repo, tmp_path, key_env(tmp_path))
    env = dict(key_env(tmp_path, tmp_path / "new.agekey"), KUBECONFIG=str(tmp_path / "none"))
    before, sha = snapshot(repo), head(repo)
    failed = run(repo, env, "key", "rotate", "--finish", "--commit", expect=2)
    assert failed.err.startswith("secretsmgr: error: no kubeconfig found")
    # sweeps 64 and 65: the hint named KUBECONFIG only, not the way past
    assert (
        "hint: or, having checked it yourself: secretsmgr key rotate --finish "
        "--skip-cluster-check" in failed.err
    )
    assert snapshot(repo) == before and head(repo) == sha
    skipped = run(repo, env, "key", "rotate", "--finish", "--commit", *SKIP)
    assert skipped.err.startswith("secretsmgr: warning: --skip-cluster-check: not checking")
    assert head(repo) != sha
    misused = run(repo, env, "key", "rotate", "--begin", *SKIP, expect=2)
    assert "--skip-cluster-check is for --finish" in misused.err


def test_the_begin_commit_is_the_last_begin_run(repo: Path, tmp_path: Path) -> None:
    # begin (C1); a file on the old key only arrives; begin again (C2) re-encrypts it. Flux must
    # have applied C2, not only C1, before finish: C2 is the begin commit, once committed.
    from secretsmgr.errors import RefusedError
    from secretsmgr.rotate.finishgate import begin_commit

    env = key_env(tmp_path)
    new = begin(repo, tmp_path, env)
    first = head(repo)
    assert begin_commit(repo, new) == first
    added = late_secret(repo)
    by_hand = ["--age", f"{OLD},{ADMIN}", "--encrypted-regex", "^(data|stringData)$"]
    made = run_sops(["encrypt", *by_hand, "-i", str(added.relative_to(repo))], cwd=repo)
    assert made.returncode == 0, made.stderr
    commit_all(repo, "a late secret on the old key")
    env_new = key_env(tmp_path, DEMO_KEY, tmp_path / "new.agekey")
    run(repo, env_new, "key", "rotate", "--begin")  # not committed yet
    with pytest.raises(RefusedError, match="last key-rotate-begin entry of the changelog"):
        begin_commit(repo, new)
    commit_all(repo, "begin again")
    assert begin_commit(repo, new) == head(repo) != first


def test_a_changelog_git_ignores_leaves_the_begin_commit_to_the_settings(
    repo: Path, tmp_path: Path
) -> None:
    from secretsmgr.rotate.finishgate import begin_commit

    git(repo, "rm", "-q", "--cached", CHANGELOG)
    (repo / ".gitignore").write_text(f"{CHANGELOG}\n", encoding="utf-8")
    commit_all(repo, "the changelog stays local")
    new = begin(repo, tmp_path, key_env(tmp_path))
    assert begin_commit(repo, new) == head(repo)


def test_key_show_with_no_key_at_hand_points_at_a_key_file_the_repository_needs(
    repo: Path, tmp_path: Path
) -> None:
    """An operator's acceptance run: right after `init -o FILE` (not a default source), `key
    show` said no key was found and suggested generating one: wrong advice when the repository
    already names its cluster key."""
    env = {k: v for k, v in subprocess_env().items() if not k.startswith("SOPS_AGE")}
    env["HOME"] = str(tmp_path / "home")
    shown = run(repo, env, "key", "show", expect=2)
    assert "no age identity (private key) found in any source" in shown.err
    assert "set SOPS_AGE_KEY_FILE to it" in shown.err and "key generate" not in shown.err
    (repo / ".secretsmgr.yaml").unlink()
    (repo / ".sops.yaml").unlink()
    # sweep 22: with no OS keyring, "generate one: secretsmgr key generate --keyring" failed
    # when pasted; the default key file it names instead is one every later command reads
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")  # this test's own default key file
    # sweep 26, Roxedus/Talos-BotBox: no configuration, but the SOPS files say which key opens
    # them; a key generated then opens none of them
    unconfigured = run(repo, env, "key", "show", expect=2)
    from secretsmgr.keys.bech32 import short_key

    on_files = f"the SOPS files here are encrypted to {short_key(OLD)}"
    assert on_files in unconfigured.err and "key generate" not in unconfigured.err
    for path in DEMO_SOPS_FILES:
        (repo / path).unlink()
    # sweep 37, a-mcf/k3s-gitops: files on PGP keys only; an age key generated opens none
    from tests.interop.test_key_types import FOREIGN_ONLY

    (repo / "pgp.enc.yaml").write_text(FOREIGN_ONLY["pgp"], encoding="utf-8")
    pgp = run(repo, env, "key", "show", expect=2)
    assert "the SOPS files here are on pgp keys, not age keys" in pgp.err, pgp.err
    assert "key generate" not in pgp.err
    (repo / "pgp.enc.yaml").unlink()
    bare = run(repo, env, "key", "show", expect=2)
    keys_file = tmp_path / "config/sops/age/keys.txt"
    assert f"secretsmgr key generate -o {keys_file}" in bare.err
    assert "--keyring" not in bare.err
    generated = run(repo, env, "key", "generate", "-o", str(keys_file), expect=0)
    shown = run(repo, env, "key", "show", expect=0)
    assert generated.out.strip() in shown.out


def test_begin_again_with_every_file_done_puts_the_new_key_back_in_sops_yaml(
    repo: Path, tmp_path: Path
) -> None:
    # stop 25's "left alone": a re-run begin with no file to re-encrypt wrote nothing, so a
    # .sops.yaml rule that lost the new key since begin stayed that way, and a file made with
    # plain sops meanwhile would be on the old key only
    env = key_env(tmp_path)
    new = begin(repo, tmp_path, env)
    config = repo / ".sops.yaml"
    assert new in config.read_text()
    config.write_text(config.read_text().replace(f",{new}", "").replace(new, ""), encoding="utf-8")
    assert new not in config.read_text()
    commit_all(repo, "someone took the new key out of the rules")
    files, sha = {rel: (repo / rel).read_bytes() for rel in DEMO_SOPS_FILES}, head(repo)
    log = (repo / CHANGELOG).read_bytes()

    env_with_new = key_env(tmp_path, DEMO_KEY, tmp_path / "new.agekey")
    again = run(repo, env_with_new, "key", "rotate", "--begin", "--commit")
    assert "re-encrypted 0 files " in again.out
    assert re.search(r"^# updated \.sops\.yaml; committed [0-9a-f]{7}$", again.out, re.M), again.out
    assert {rel: (repo / rel).read_bytes() for rel in DEMO_SOPS_FILES} == files
    assert (repo / CHANGELOG).read_bytes() == log
    assert porcelain(repo) == "" and head(repo) != sha
    # plain sops now puts a new file on both keys again
    added = late_secret(repo)
    made = run_sops(["encrypt", "-i", str(added.relative_to(repo))], cwd=repo, key_file=DEMO_KEY)
    assert made.returncode == 0, made.stderr
    assert {OLD, new} <= set(age_recipients(added))
    # nothing left to do: a third begin writes nothing and commits nothing
    added.unlink()
    sha = head(repo)
    third = run(repo, env_with_new, "key", "rotate", "--begin", "--commit")
    assert "updated" not in third.out and head(repo) == sha


def test_a_file_outside_flux_that_never_carried_the_key_is_left_alone(
    repo: Path, tmp_path: Path
) -> None:
    """soulwhisper/homelab-ops (sweep 18): an archived SOPS file, encrypted to two old keys and
    applied by no layer, made --begin refuse ("no identity opens this file"): the cluster key
    could never be rotated while it was there. A file no layer applies that carries the key
    still moves (it would lose its key at finish)."""
    from secretsmgr.keys.age import generate_identity
    from tests.audit.helpers import enc, secret

    stranger = generate_identity()[1]
    archived = repo / ".archived/old.enc.yaml"
    archived.parent.mkdir()
    archived.write_text(enc(secret("old"), (stranger,)), encoding="utf-8")
    # an empty file named like one holds no key at all: no example of it (sweep 77, mrwulf)
    (repo / ".archived/a-draft.enc.yaml").write_text("", encoding="utf-8")
    talos = repo / "talos/talsecret.enc.yaml"  # outside Flux, on the cluster key
    talos.parent.mkdir()
    talos.write_text(enc(secret("talos"), (OLD,)), encoding="utf-8")
    commit_all(repo, "archive")
    before = archived.read_bytes()
    env = key_env(tmp_path)
    out = tmp_path / "new.agekey"
    result = run(repo, env, "key", "rotate", "--begin", "-o", str(out), "--commit")
    new = parse_identities(out.read_text(), "new").publics[0]
    assert (
        "# left alone: 1 file that never carried the cluster key "
        "(outside Flux, or on PGP or KMS keys Flux decrypts with; e.g. .archived/old.enc.yaml)"
    ) in result.out
    assert {OLD, new} <= set(age_recipients(talos))
    env_new = key_env(tmp_path, out)
    done = run(repo, env_new, "key", "rotate", "--finish", "--commit", *SKIP)
    assert "left alone: 1 file that never carried" in done.out
    assert new in age_recipients(talos) and OLD not in age_recipients(talos)
    assert archived.read_bytes() == before


def test_export_asks_which_secret_when_clusters_decrypt_with_different_ones(
    tmp_path: Path,
) -> None:
    from tests.audit.helpers import enc, secret
    from tests.init.helpers import commit, kustomization, two_cluster_repo, write

    repo = two_cluster_repo(tmp_path / "repo")
    layer = repo / "clusters" / "staging" / "apps.yaml"
    layer.write_text(layer.read_text().replace("name: sops-age", "name: sops-staging"))
    for cluster in ("staging", "production"):
        write(repo, f"apps/{cluster}/db.enc.yaml", enc(secret("db"), (OLD,)))
        kustomization(repo, f"apps/{cluster}", "../base", "settings.yaml", "db.enc.yaml")
    write(repo, ".secretsmgr.yaml", f"cluster_key: {OLD}\n")
    commit(repo, "staging reads another Secret")
    env = key_env(tmp_path)
    refused = run(repo, env, "key", "export", expect=2)
    assert "the decrypting layers read 2 Secrets (flux-system/" in refused.err, refused.err
    assert "flux-system/sops-staging" in refused.err
    assert refused.out == ""
    named = run(
        repo,
        env,
        *("key", "export", "--name", "sops-staging"),
        warnings=("exported the private",),
    )
    assert _secret_names(named.out) == [("flux-system", "sops-staging")]


def test_begin_leaves_alone_a_template_named_like_a_sops_file(repo: Path, tmp_path: Path) -> None:
    # sweep 19 (dcplaya/k8s-at-home): tmpl/secret.enc.yaml, a Secret of ${VAR} values that audit
    # calls a template (SM002 information), made begin refuse: "not a readable SOPS file"
    template = repo / "tmpl" / "secret.enc.yaml"
    template.parent.mkdir()
    template.write_text(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: cloudflare\n  namespace: apps\n"
        "stringData:\n  token: ${BOOTSTRAP_CLOUDFLARE_TOKEN}\n"
    )
    (repo / "broken.enc.yaml").write_text("sops:\n  mac: [\n")  # still refused
    commit_all(repo, "a template and a broken file")
    env = key_env(tmp_path)
    refused = run(repo, env, "key", "rotate", "--begin", "-o", str(tmp_path / "n.agekey"), expect=1)
    assert "broken.enc.yaml is not a readable SOPS file (1 such file)" in refused.err
    (repo / "broken.enc.yaml").unlink()
    commit_all(repo, "no broken file")
    before = template.read_bytes()
    begin(repo, tmp_path, env)
    assert template.read_bytes() == before
    # sweep 70 (nprodromou/apk3s-rh): finish refused for ever, "would be left readable only by
    # the old key", and its hint (begin again) changed nothing
    both = key_env(tmp_path, DEMO_KEY, tmp_path / "new.agekey")
    run(repo, both, "key", "rotate", *FINISH, "--commit")
    assert template.read_bytes() == before


_TOOLS_LAYER = (
    "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n"
    "metadata: {name: tools, namespace: tools}\n"
    "spec:\n  interval: 10m\n  path: ./gitops/tools\n  prune: true\n"
    "  sourceRef: {kind: GitRepository, name: flux-system, namespace: flux-system}\n"
    "  decryption: {provider: sops, secretRef: {name: sops-age}}\n"
)


def _tools_layer(repo: Path) -> None:
    """A layer ``tools`` over ``gitops/tools`` in namespace tools, decrypting with its own
    ``tools/sops-age``."""
    (repo / "clusters/homelab/tools.yaml").write_text(_TOOLS_LAYER)
    (repo / "gitops/tools").mkdir()


def test_begin_names_the_other_secrets_finish_will_check(repo: Path, tmp_path: Path) -> None:
    # sweep 26, QNimbus/home-ops: Kustomizations in twelve app namespaces decrypt with their own
    # sops-age copies and apply no SOPS file; begin named flux-system/sops-age alone, and
    # finish then refused for each of the others
    _tools_layer(repo)
    (repo / "gitops/tools/settings.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: tools}\n"
        "data: {level: info}\n"
    )
    commit_all(repo, "a layer decrypting with its own copy")
    out = tmp_path / "new.agekey"
    result = run(repo, key_env(tmp_path), "key", "rotate", "--begin", "-o", str(out), "--commit")
    also = [line for line in result.out.splitlines() if "also: " in line]
    assert len(also) == 1 and "decrypt with tools/sops-age, which finish checks too" in also[0]


def test_a_layer_file_no_identity_opens_gets_the_hints_rotate_gives(
    repo: Path, tmp_path: Path
) -> None:
    """sweep 42, marcotaco14/HL-Cluster: a file a layer applies, encrypted to another key only,
    made --begin stop with "no identity opens this file" and no hint; rotate gives the keys
    tried and where a key comes from, and key rotate now does too."""
    from secretsmgr.keys.age import generate_identity
    from tests.audit.helpers import enc, secret

    stranger = generate_identity()[1]
    other = repo / "gitops/apps/redis/other.enc.yaml"
    other.write_text(enc(secret("other"), (stranger,)), encoding="utf-8")
    kustomization = other.parent / "kustomization.yaml"
    kustomization.write_text(kustomization.read_text() + "  - other.enc.yaml\n")
    commit_all(repo, "another key")
    out = tmp_path / "new.agekey"
    failed = run(repo, key_env(tmp_path), "key", "rotate", "--begin", "-o", str(out), expect=1)
    assert "gitops/apps/redis/other.enc.yaml" in failed.err
    assert "secretsmgr: hint: the identities tried (" in failed.err
    assert "secretsmgr key show lists the keys found" in failed.err
    # sweep 95: and what to do when that key is gone for good
    assert "its values are lost with the key: make the Secret anew" in failed.err
    assert "; nothing was changed" in failed.err  # all or nothing: say which
    assert not out.exists() and git(repo, "status", "--porcelain").strip() == ""
    # pasted: the Secret made anew, begin goes on
    other.write_text(secret("other"), encoding="utf-8")
    run(repo, key_env(tmp_path), "encrypt", "-i", str(other), expect=0)
    commit_all(repo, "the Secret made anew")
    run(repo, key_env(tmp_path), "key", "rotate", "--begin", "-o", str(out), expect=0)


def test_the_finish_line_repeats_the_secret_begin_was_told(repo: Path, tmp_path: Path) -> None:
    # sweep 68, PatrickPedersen/prox-ops: layers holding SOPS files read two Secrets, so begin
    # needed --namespace and --secret; the finish line it printed had neither and was refused
    # when pasted, and finish did not say the other Secret still held the retired key
    import shlex

    from tests.audit.helpers import enc, secret

    _tools_layer(repo)
    (repo / "gitops/tools/db.enc.yaml").write_text(enc(secret("db"), (OLD,)), encoding="utf-8")
    commit_all(repo, "a second layer with its own Secret")
    out = tmp_path / "new.agekey"
    refused = run(repo, key_env(tmp_path), "key", "rotate", "--begin", "-o", str(out), expect=2)
    assert "name the one the key goes to" in refused.err
    named = ("--namespace", "flux-system", "--secret", "sops-age")
    began = run(
        repo, key_env(tmp_path), "key", "rotate", "--begin", "-o", str(out), *named, "--commit"
    )
    [line] = [x for x in began.out.splitlines() if x.startswith("# next: ")]
    pasted = line.split(", then: ", 1)[1]
    assert pasted.endswith("key rotate --finish --namespace flux-system --secret sops-age")
    words = shlex.split(pasted)
    env = key_env(tmp_path, DEMO_KEY, out)
    assert words[0].startswith("SOPS_AGE_KEY_FILE=")
    finished = run(repo, env, *words[2:], *SKIP, "--commit")
    assert "also: tools/sops-age still holds the retired key" in finished.out


def test_finish_sends_the_new_key_beside_the_pgp_key_of_another_secret(
    repo: Path, tmp_path: Path
) -> None:
    # sweep 83, giantswarm/gitops-template: another layer decrypted with a Secret named for PGP
    # keys; finish said to send it "the new key alone" with a key export that, pasted with
    # --apply, replaces the Secret and its PGP key
    import shlex

    (repo / "clusters/homelab/tools.yaml").write_text(
        _TOOLS_LAYER.replace("name: sops-age", "name: sops-gpg")
    )
    (repo / "gitops/tools").mkdir()
    (repo / "gitops/tools/settings.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: tools}\n"
        "data: {level: info}\n"
    )
    commit_all(repo, "a layer decrypting with a Secret named for PGP keys")
    out = tmp_path / "new.agekey"
    named = ("--namespace", "flux-system", "--secret", "sops-age")
    began = run(
        repo, key_env(tmp_path), "key", "rotate", "--begin", "-o", str(out), *named, "--commit"
    )
    [line] = [x for x in began.out.splitlines() if x.startswith("# next: ")]
    words = shlex.split(line.split(", then: ", 1)[1])
    finished = run(repo, key_env(tmp_path, DEMO_KEY, out), *words[2:], *SKIP, "--commit")
    # sweep 84 (j0sh3rs/home-ops): "to NEW only" read as if the allowed recipients went too
    [done] = [x for x in finished.out.splitlines() if x.startswith("# re-encrypted ")]
    assert done.endswith("(retired; any allowed_recipients kept)") or ", without " in done, done
    assert " only;" not in done, done
    [also] = [x for x in finished.out.splitlines() if x.startswith("# also: ")]
    assert also == (
        "# also: tools/sops-gpg still holds the retired key: send the new key beside its PGP key: "
        "secretsmgr key export --namespace tools --name sops-gpg --apply --add"
    )


def test_a_sops_file_with_template_syntax_this_reader_cannot_read_is_no_template() -> None:
    """The attack review: a real sops file with `{{ … }}` in a clear annotation, nested past
    this reader's depth limit, was taken for a template (no secret), and key rotate --finish
    left it readable by the retired key alone; it is an unreadable SOPS file, which begin and
    finish refuse."""
    from secretsmgr.repo.sopsentry import FileFormat, read_sops_entry

    deep = "deep: " + "{a: " * 205 + "1" + "}" * 205 + "\n"
    text = (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: d\n  annotations:\n"
        '    note: "{{ .Values.x }}"\n' + deep + "stringData:\n"
        "    password: ENC[AES256_GCM,data:abc=,iv:abc=,tag:abc=,type:str]\n"
        "sops:\n    mac: ENC[AES256_GCM,data:abc=,iv:abc=,tag:abc=,type:str]\n"
    )
    entry = read_sops_entry("apps/d.enc.yaml", text.encode(), FileFormat.YAML)
    assert entry is not None and not entry.template and entry.error is not None
    # a template with no sops block stays one
    plain = text.split("stringData:")[0]
    template = read_sops_entry("apps/t.enc.yaml", plain.encode(), FileFormat.YAML)
    assert template is not None and template.template
