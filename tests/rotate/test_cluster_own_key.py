"""``key rotate --cluster NAME``: one cluster's own key replaced, every other cluster's key left
where it is, in a two-cluster repository ``init`` set up; the real sops reads every step.

Before this existed, ``key rotate`` refused any repository whose ``clusters:`` gave a cluster a
key of its own, which is what ``init`` writes for a repository with several clusters: an
operator who started with ``init`` could not rotate a cluster key with secretsmgr at all.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from secretsmgr.errors import ConfigError
from secretsmgr.keys.age import parse_identities
from secretsmgr.repo.settings import load_settings, parse_settings
from secretsmgr.rotate.settingsedit import cluster_settings_text, set_cluster_setting
from tests.cli.runner import Result, run_inline
from tests.conftest import run_sops
from tests.init.helpers import SECRET, kustomization, two_cluster_repo, write
from tests.rotate.helpers import age_recipients, commit_all, porcelain, snapshot, subprocess_env
from tests.rotate.helpers import head as git_head

PRIVATE = re.compile(r"AGE-SECRET-KEY-1[0-9A-Z]+")
STAGING = "apps/staging/s.enc.yaml"
PRODUCTION = "apps/production/p.enc.yaml"
SHARED = "apps/base/shared.enc.yaml"
SKIP = "--skip-cluster-check"


def run(repo: Path, env: dict[str, str], *args: str, expect: int = 0) -> Result:
    """``secretsmgr --repo REPO ARGS``; whatever happens, no output holds a private key but a
    Secret manifest on stdout, which warns that it does."""
    may = (
        "the manifest on stdout holds a private key",
        "--skip-cluster-check: not checking",
        "exported the private key of",
    )
    return run_inline(args, repo=repo, env=env, expect=expect, may_warn=may)


def one_key_file(source: Path, public: str, target: Path) -> Path:
    """A key file holding only the identity of ``public`` from ``source``."""
    secret = parse_identities(source.read_text(), source.name).secret_for(public)
    assert secret is not None
    target.write_text(secret + "\n")
    return target


def keys_of(path: Path) -> tuple[str, ...]:
    return parse_identities(path.read_text(), path.name).publics


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, dict[str, str], dict[str, str]]:
    """A two-cluster repository after ``init -o`` and three Secrets the real sops encrypted:
    (repo, env with the operator's key file, {cluster: key})."""
    repo = two_cluster_repo(tmp_path / "repo")
    keyfile = tmp_path / "clusters.agekey"
    env = subprocess_env(SOPS_AGE_KEY_FILE=str(keyfile))
    run(repo, env, "init", "-o", str(keyfile))
    for rel in (STAGING, PRODUCTION, SHARED):
        write(repo, rel, SECRET.format(name="db", value="s3cret-" + rel.split("/")[1]))
        folder, name = rel.rsplit("/", 1)
        others = ["shared.yaml"] if folder == "apps/base" else ["../base", "settings.yaml"]
        kustomization(repo, folder, *others, name)
        done = run_sops(["--encrypt", "--in-place", rel], cwd=repo)
        assert done.returncode == 0, done.stderr
    run(repo, env, "log", "--adopt", "--reason", "made with sops")
    commit_all(repo, "secrets")
    keys = {c.name: c.cluster_key or "" for c in load_settings(repo).clusters}
    return repo, env, keys


def audit(repo: Path, env: dict[str, str]) -> list[dict[str, object]]:
    result = run_inline(("audit", "--format", "json"), repo=repo, env=env, may_warn=("",))
    findings: list[dict[str, object]] = json.loads(result.out)["findings"]
    return findings


def sops_opens(repo: Path, rel: str, key_file: Path) -> bool:
    return run_sops(["decrypt", str(repo / rel)], key_file=key_file).returncode == 0


@pytest.mark.interop
def test_one_clusters_key_is_rotated_and_the_others_stays(
    setup: tuple[Path, dict[str, str], dict[str, str]], tmp_path: Path
) -> None:
    repo, env, keys = setup
    staging, production = keys["staging"], keys["production"]
    prod_before = (repo / PRODUCTION).read_bytes()
    settings_before = (repo / ".secretsmgr.yaml").read_text()
    new_file = tmp_path / "staging-next.agekey"

    begun = run(
        repo,
        env,
        "key",
        "rotate",
        "--begin",
        "--cluster",
        "staging",
        "-o",
        str(new_file),
        "--commit",
    )
    (new,) = keys_of(new_file)
    assert f"# new key of cluster staging {new}" in begun.out
    assert "key rotate --finish --cluster staging" in begun.out
    assert re.findall(r"^  (\S+\.agekey): \|$", begun.out, re.M) == ["old.agekey", "new.agekey"]
    held = {m.group(0) for m in PRIVATE.finditer(begun.out)}
    assert len(held) == 2  # staging's old and new keys: never production's
    assert (repo / PRODUCTION).read_bytes() == prod_before
    assert set(age_recipients(repo / STAGING)) == {staging, new}
    assert set(age_recipients(repo / SHARED)) == {staging, new, production}
    text = (repo / ".secretsmgr.yaml").read_text()
    spec = parse_settings(text).cluster("staging")
    assert spec is not None and (spec.cluster_key, spec.next_cluster_key) == (staging, new)
    # one line added under clusters.staging, every other line as it was
    assert [line for line in text.splitlines() if line not in settings_before.splitlines()] == [
        f"    next_cluster_key: {new}"
    ]
    assert porcelain(repo) == ""
    # the real sops: the new key alone opens staging's files, production's key its own
    for rel in (STAGING, SHARED):
        assert sops_opens(repo, rel, new_file), rel
    prod_only = one_key_file(tmp_path / "clusters.agekey", production, tmp_path / "prod.agekey")
    assert sops_opens(repo, SHARED, prod_only) and sops_opens(repo, PRODUCTION, prod_only)
    old_only = one_key_file(tmp_path / "clusters.agekey", staging, tmp_path / "old.agekey")
    # a file plain sops makes during the overlap is on both of staging's keys
    write(repo, "apps/staging/late.enc.yaml", SECRET.format(name="late", value="l4te-value"))
    kustomization(repo, "apps/staging", "../base", "settings.yaml", "s.enc.yaml", "late.enc.yaml")
    done = run_sops(["--encrypt", "--in-place", "apps/staging/late.enc.yaml"], cwd=repo)
    assert done.returncode == 0, done.stderr
    assert set(age_recipients(repo / "apps/staging/late.enc.yaml")) == {staging, new}
    # the audit sees a rotation under way and nothing wrong
    findings = audit(repo, env)
    others = {(f["rule"], f["path"]) for f in findings if f["rule"] != "SM017"}
    assert others == {("SM013", "apps/staging/late.enc.yaml")}, findings  # not in the changelog
    assert any("cluster-key rotation of cluster staging" in str(f["message"]) for f in findings)
    commit_all(repo, "a file made during the overlap")

    both = tmp_path / "both.agekey"  # the operator adds the new key to their key file
    both.write_text((tmp_path / "clusters.agekey").read_text() + new_file.read_text())
    env = {**env, "SOPS_AGE_KEY_FILE": str(both)}
    finished = run(repo, env, "key", "rotate", "--finish", "--cluster", "staging", SKIP, "--commit")
    assert re.findall(r"^  (\S+\.agekey): \|$", finished.out, re.M) == ["age.agekey"]
    assert (repo / PRODUCTION).read_bytes() == prod_before
    assert set(age_recipients(repo / STAGING)) == {new}
    assert set(age_recipients(repo / "apps/staging/late.enc.yaml")) == {new}
    assert set(age_recipients(repo / SHARED)) == {new, production}
    spec = load_settings(repo).cluster("staging")
    assert spec is not None and (spec.cluster_key, spec.next_cluster_key) == (new, None)
    other = load_settings(repo).cluster("production")
    assert other is not None and other.cluster_key == production
    sops_yaml = (repo / ".sops.yaml").read_text()
    assert staging not in sops_yaml and new in sops_yaml and production in sops_yaml
    for rel in (STAGING, SHARED, "apps/staging/late.enc.yaml"):
        assert sops_opens(repo, rel, new_file), rel
    assert not sops_opens(repo, STAGING, old_only) and not sops_opens(repo, SHARED, old_only)
    assert sops_opens(repo, SHARED, prod_only)
    assert [f for f in audit(repo, env) if f["rule"] != "SM012"] == []
    verify = run(repo, env, "log", "--verify")
    assert "ok" in verify.out
    log = (repo / "secrets-changelog.jsonl").read_text()
    actions = [json.loads(line)["action"] for line in log.splitlines()]
    assert actions[-2:] == ["key-rotate-begin", "key-rotate-finish"]
    assert PRIVATE.search(log) is None
    assert porcelain(repo) == ""


def test_export_sends_one_clusters_keys(
    setup: tuple[Path, dict[str, str], dict[str, str]], tmp_path: Path
) -> None:
    repo, env, keys = setup
    exported = run(repo, env, "key", "export", "--cluster", "production")
    assert re.findall(r"^  (\S+\.agekey): \|$", exported.out, re.M) == ["age.agekey"]
    assert f"# public key: {keys['production']}" in exported.out
    assert keys["staging"] not in exported.out
    new_file = tmp_path / "next.agekey"
    run(repo, env, "key", "rotate", "--begin", "--cluster", "production", "-o", str(new_file))
    env_both = subprocess_env(SOPS_AGE_KEY_FILE=str(tmp_path / "both.agekey"))
    (tmp_path / "both.agekey").write_text(
        (tmp_path / "clusters.agekey").read_text() + new_file.read_text()
    )
    during = run(repo, env_both, "key", "export", "--cluster", "production")
    assert re.findall(r"^  (\S+\.agekey): \|$", during.out, re.M) == ["old.agekey", "new.agekey"]
    assert f"# public key: {keys_of(new_file)[0]}" in during.out


@pytest.mark.parametrize(
    ("edit", "args", "code", "message"),
    [
        (None, ("--begin", "--cluster", "nosuch"), 2, "no such cluster in .secretsmgr.yaml"),
        (None, ("--finish", "--cluster", "staging", SKIP), 1, "no rotation of cluster staging"),
        ("shared", ("--begin", "--cluster", "staging"), 1, "is also named by production"),
        (None, ("--begin",), 1, "key rotate --begin --cluster"),
        (
            None,
            ("--begin", "--cluster", "staging", "--cluster-key", "age1x"),
            2,
            "not for --cluster",
        ),
    ],
)
def test_refusals_change_nothing(
    setup: tuple[Path, dict[str, str], dict[str, str]],
    tmp_path: Path,
    edit: str | None,
    args: tuple[str, ...],
    code: int,
    message: str,
) -> None:
    repo, env, keys = setup
    if edit == "shared":  # production's key given to staging too
        settings = repo / ".secretsmgr.yaml"
        settings.write_text(settings.read_text().replace(keys["staging"], keys["production"]))
        commit_all(repo, "one key for both")
    before = snapshot(repo)
    out = tmp_path / "never.agekey"
    extra = ("-o", str(out)) if "--begin" in args else ()
    refused = run(repo, env, "key", "rotate", *args, *extra, expect=code)
    assert message in refused.err, refused.err
    assert snapshot(repo) == before and not out.exists()


SETTINGS = """\
# the clusters
clusters:
  # production first
  "production":
    path: clusters/production
    cluster_key: {a}  # prod's key
  staging:
    path: clusters/staging

    cluster_key: {b}
    context: kind-staging
allowed_recipients: []
"""


def test_a_clusters_keys_are_set_line_by_line() -> None:
    from secretsmgr.keys.age import generate_identity

    a, b, c = (generate_identity()[1] for _ in range(3))
    text = SETTINGS.format(a=a, b=b)
    begun = cluster_settings_text(text, "production", a, c)
    assert begun.splitlines()[:7] == [
        *text.splitlines()[:6],
        f"    next_cluster_key: {c}",
    ]
    assert begun.replace(f"    next_cluster_key: {c}\n", "") == text
    done = cluster_settings_text(begun, "production", c, None)
    assert done == text.replace(a, c)  # the comment after the key stays
    staged = cluster_settings_text(text, "staging", b, c)
    assert f"    cluster_key: {b}\n    next_cluster_key: {c}\n    context: kind-staging" in staged
    assert cluster_settings_text(text.replace("\n", "\r\n"), "staging", b, c) == staged.replace(
        "\n", "\r\n"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("clusters: {staging: {path: x, cluster_key: K}}\n", "flow style"),
        ("clusters:\n  staging: {path: x, cluster_key: K}\n", "flow style"),
        ("clusters:\n  other:\n    path: x\n", "no entry 'staging'"),
        ("cluster_key: K\n", "no clusters:"),
        ("clusters:\n  staging:\n    path: x\n    cluster_key: >-\n      K\n", "several lines"),
    ],
)
def test_a_clusters_keys_that_cannot_be_edited_in_place_are_refused(
    text: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        set_cluster_setting(text, "staging", "cluster_key", "age1new")


def test_the_audit_header_names_the_keys_pinned_under_clusters(
    setup: tuple[Path, dict[str, str], dict[str, str]],
) -> None:
    """An operator's acceptance run: with each cluster's key pinned under clusters:, the
    header said the keys came "from .sops.yaml"."""
    repo, env, keys = setup
    header = run(repo, env, "audit").out.splitlines()[0]
    assert header.endswith("(from .secretsmgr.yaml clusters:)"), header
    assert all(k[:8] in header for k in keys.values())


@pytest.mark.interop
def test_a_file_with_several_key_groups_is_refused_not_flattened(
    setup: tuple[Path, dict[str, str], dict[str, str]], tmp_path: Path
) -> None:
    """A Shamir file (``shamir_threshold: 2``, staging's key in one group, staging's or
    production's in the other) needs a key of each group. Begin re-encrypts each file to one
    group of its recipients: production's key alone would open it. Refused, nothing changed."""
    repo, env, keys = setup
    staging, production = keys["staging"], keys["production"]
    write(
        repo,
        "apps/staging/.sops.yaml",
        "creation_rules:\n  - path_regex: kg\\.enc\\.yaml$\n"
        "    encrypted_regex: '^(data|stringData)$'\n    shamir_threshold: 2\n"
        f"    key_groups:\n      - age: [{staging}]\n      - age: [{staging}, {production}]\n",
    )
    rel = "apps/staging/kg.enc.yaml"
    write(repo, rel, SECRET.format(name="kg", value="k3y-groups"))
    kustomization(repo, "apps/staging", "../base", "settings.yaml", "s.enc.yaml", "kg.enc.yaml")
    done = run_sops(["--encrypt", "--in-place", "kg.enc.yaml"], cwd=repo / "apps/staging")
    assert done.returncode == 0, done.stderr
    run(repo, env, "log", "--adopt", "--reason", "made with sops")
    commit_all(repo, "a shamir file")
    prod_only = one_key_file(tmp_path / "clusters.agekey", production, tmp_path / "prod.agekey")
    assert not sops_opens(repo, rel, prod_only)
    before = snapshot(repo)
    out = tmp_path / "never.agekey"
    args = ("key", "rotate", "--begin", "--cluster", "staging", "-o", str(out))
    refused = run(repo, env, *args, expect=1)
    assert f"{rel} has 2 key groups" in refused.err, refused.err
    assert snapshot(repo) == before and not out.exists()


def test_finish_waits_for_its_own_begin_not_another_clusters(
    setup: tuple[Path, dict[str, str], dict[str, str]], tmp_path: Path
) -> None:
    """Two rotations at once (found in the review of --cluster): production's begin
    re-encrypts the shared file, which already carries staging's new key; staging's finish took
    that later begin for its own and asked staging's cluster to have applied it."""
    from secretsmgr.rotate.finishgate import begin_commit

    repo, env, _keys = setup
    staging_new, prod_new = tmp_path / "staging.agekey", tmp_path / "prod.agekey"
    run(
        repo,
        env,
        "key",
        "rotate",
        "--begin",
        "--cluster",
        "staging",
        "-o",
        str(staging_new),
        "--commit",
    )
    staging_begin = git_head(repo)
    both = tmp_path / "both.agekey"
    both.write_text((tmp_path / "clusters.agekey").read_text() + staging_new.read_text())
    env = {**env, "SOPS_AGE_KEY_FILE": str(both)}
    run(
        repo,
        env,
        "key",
        "rotate",
        "--begin",
        "--cluster",
        "production",
        "-o",
        str(prod_new),
        "--commit",
    )
    assert git_head(repo) != staging_begin
    assert begin_commit(repo, keys_of(staging_new)[0]) == staging_begin
    assert begin_commit(repo, keys_of(prod_new)[0]) == git_head(repo)


def test_removing_a_clusters_own_key_points_at_its_rotation(
    setup: tuple[Path, dict[str, str], dict[str, str]],
) -> None:
    repo, env, keys = setup
    before = snapshot(repo)
    args = ("rotate", "--remove-recipient", keys["staging"], STAGING)
    refused = run(repo, env, *args, expect=1)
    assert "names the cluster key: Flux could no longer decrypt" in refused.err
    assert "key rotate --begin --cluster staging / --finish --cluster staging" in refused.err
    assert snapshot(repo) == before


def test_begin_again_puts_the_new_key_back_in_a_rule_that_lost_it(
    setup: tuple[Path, dict[str, str], dict[str, str]], tmp_path: Path
) -> None:
    # as for the repository-wide rotation: a re-run begin with every file done still repairs
    # the .sops.yaml rules (it wrote nothing before)
    repo, env, _keys = setup
    new_file = tmp_path / "staging-next.agekey"
    run(repo, env, "key", "rotate", "--begin", "--cluster", "staging", "-o", str(new_file))
    (new,) = keys_of(new_file)
    commit_all(repo, "begin")
    config = repo / ".sops.yaml"
    with_new = config.read_text()
    assert new in with_new
    config.write_text(re.sub(rf",?\s*{new}", "", with_new), encoding="utf-8")
    assert new not in config.read_text()
    commit_all(repo, "the new key taken out by hand")
    files = {rel: (repo / rel).read_bytes() for rel in (STAGING, PRODUCTION, SHARED)}
    both = subprocess_env(SOPS_AGE_KEY_FILE=str(tmp_path / "both.agekey"))
    (tmp_path / "both.agekey").write_text(
        (tmp_path / "clusters.agekey").read_text() + new_file.read_text()
    )
    again = run(repo, both, "key", "rotate", "--begin", "--cluster", "staging")
    assert "re-encrypted 0 files " in again.out and "# updated .sops.yaml" in again.out
    assert config.read_text() == with_new
    assert {rel: (repo / rel).read_bytes() for rel in files} == files


def test_a_cluster_of_pgp_files_flux_decrypts_with_its_pgp_key_rotates_its_age_key(
    tmp_path: Path,
) -> None:
    # sweep 28, Serubin/flux-infra: two clusters whose layers decrypt with sops-gpg, every file
    # on the repository's PGP key; after init gave each cluster an age key, `key rotate --begin
    # --cluster prod` refused over a PGP-only file for ever (docs: such files are left alone),
    # and with nothing to re-encrypt the new identity would have been kept nowhere; the
    # export warning's --apply --add command left --cluster out and was refused when pasted
    from dataclasses import replace as with_

    from secretsmgr.sops import FileFormat, dump, load
    from secretsmgr.sops.model import KeyGroup
    from tests.audit.helpers import enc, secret
    from tests.sops.key_types import foreign

    repo = two_cluster_repo(tmp_path / "repo")
    for cluster in ("staging", "production"):
        ks = repo / f"clusters/{cluster}/apps.yaml"
        ks.write_text(ks.read_text().replace("name: sops-age", "name: sops-gpg"))
    sealed = load(enc(secret("db")), FileFormat.YAML)
    sealed.metadata = with_(sealed.metadata, key_groups=(KeyGroup((), foreign(("pgp",))),))
    write(repo, STAGING, dump(sealed))
    kustomization(repo, "apps/staging", "../base", "settings.yaml", "s.enc.yaml")
    commit_all(repo, "a PGP secret")
    keyfile = tmp_path / "clusters.agekey"
    env = subprocess_env(SOPS_AGE_KEY_FILE=str(keyfile))
    run(repo, env, "init", "-o", str(keyfile))
    commit_all(repo, "init")
    before = (repo / STAGING).read_bytes()
    new_file = tmp_path / "staging-next.agekey"
    args = ("key", "rotate", "--begin", "--cluster", "staging", "-o", str(new_file))
    begun = run(repo, env, *args)
    (new,) = keys_of(new_file)  # stored, though no file was re-encrypted
    assert "re-encrypted 0 files" in begun.out
    assert load_settings(repo).cluster("staging").next_cluster_key == new  # type: ignore[union-attr]
    assert (repo / STAGING).read_bytes() == before
    exported = run(repo, env, "key", "export", "--cluster", "production", "--name", "sops-gpg")
    assert "key export --cluster production --namespace flux-system --name sops-gpg" in (
        exported.err
    )


def test_a_context_another_cluster_decrypts_with_the_repositorys_key_is_not_overwritten(
    tmp_path: Path,
) -> None:
    """The attack review: with `cluster_key: B` for every cluster without a key of its own and
    `clusters.prod.cluster_key: A`, a Secret holding B was taken for nobody's, and
    `key export --cluster prod --apply` there would have replaced stage's key."""
    from secretsmgr.rotate.export import ExportTarget, other_cluster_at
    from tests.audit.helpers import K1, K2

    (tmp_path / ".secretsmgr.yaml").write_text(
        f"cluster_key: {K2}\nclusters:\n  prod:\n    path: clusters/prod\n    cluster_key: {K1}\n"
        "  stage:\n    path: clusters/stage\n",
        encoding="utf-8",
    )
    stage_secret = ExportTarget("ctx", (K2,))
    problem = other_cluster_at(tmp_path, "prod", stage_secret, named=False)
    assert problem is not None and "the key of cluster stage" in problem, problem
    assert other_cluster_at(tmp_path, "prod", stage_secret, named=True) is not None
    # a first export goes only where the context is named (or pinned): B is another key in use
    first = ExportTarget("ctx", None)
    problem = other_cluster_at(tmp_path, "prod", first, named=False)
    assert problem is not None and "nothing says this context reaches cluster prod" in problem
    assert other_cluster_at(tmp_path, "prod", first, named=True) is None
    # stage's own Secret, and prod's, are theirs
    assert other_cluster_at(tmp_path, "stage", stage_secret, named=False) is None
    assert other_cluster_at(tmp_path, "prod", ExportTarget("ctx", (K1,)), named=False) is None


@pytest.mark.interop
def test_begin_with_no_keyring_hints_the_same_begin_with_a_key_file(
    setup: tuple[Path, dict[str, str], dict[str, str]], tmp_path: Path
) -> None:
    """Sweep 40: with no OS keyring, `key rotate --begin --cluster production` hinted `key
    rotate --begin -o FILE`, which, pasted, was refused for a repository of two clusters; the
    hint keeps the options given, and pasted it begins the rotation."""
    import shlex

    repo, env, _ = setup
    env = {**env, "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    refused = run(repo, env, "key", "rotate", "--begin", "--cluster", "production", expect=2)
    (hint,) = [line for line in refused.err.splitlines() if "keep it in a new file" in line]
    command = hint.split("instead: ", 1)[1]
    assert command.startswith("secretsmgr key rotate --begin --cluster production -o "), hint
    words = shlex.split(command)[1:]
    words[-1] = str(tmp_path / "next.agekey")  # the hint's file, in this test's folder
    run(repo, env, *words)
    assert keys_of(tmp_path / "next.agekey")


def test_the_hints_for_shared_cluster_keys_lead_somewhere() -> None:
    """Sweep 69 (dramirez-qb/k3d-cluster after init): clusters: gave `cluster` and `home` one
    key and `remote` another; begin's hint named `--cluster cluster`, whose refusal offered to
    "rotate the shared key for every cluster at once", which begin had just refused."""
    from secretsmgr.errors import RefusedError
    from secretsmgr.rotate.clusterkey import refuse_own_cluster_keys
    from secretsmgr.rotate.clusterown import own_key
    from tests.audit.helpers import K1, K2

    settings = parse_settings(
        "clusters:\n"
        f"  cluster: {{path: kubernetes/flux, cluster_key: {K1}}}\n"
        f"  home: {{path: kubernetes/cluster-home, cluster_key: {K1}}}\n"
        f"  remote: {{path: kubernetes/cluster-remote, cluster_key: {K2}}}\n"
    )
    with pytest.raises(RefusedError) as begin:
        refuse_own_cluster_keys(settings)
    assert begin.value.hints == (
        "rotate one cluster's own key with: secretsmgr key rotate --begin --cluster remote",
    )
    assert own_key(settings, "remote") == K2
    with pytest.raises(RefusedError) as shared:
        own_key(settings, "cluster")
    assert "at once" not in " ".join(shared.value.hints)
    # every cluster on one key: that key can be rotated repository-wide, and the hint says how
    one = parse_settings(
        "clusters:\n"
        f"  cluster: {{path: kubernetes/flux, cluster_key: {K1}}}\n"
        f"  home: {{path: kubernetes/cluster-home, cluster_key: {K1}}}\n"
    )
    with pytest.raises(RefusedError) as both:
        own_key(one, "cluster")
    assert "remove the cluster_key lines under clusters:" in both.value.hints[0]
