"""``key export`` sends cluster keys only: no line of configuration exports an operator's key.

Keys come from files here (``SOPS_AGE_KEY_FILE``); the keyring's mark is covered in
tests/keys/test_keyring.py.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from secretsmgr.errors import ConfigError
from secretsmgr.keys.age import CLUSTER_MARK, generate_identity, parse_identities
from secretsmgr.repo.settings import parse_settings
from tests.cli.runner import Result, run
from tests.conftest import FIXTURES, copy_tree

DEMO_KEY = FIXTURES / "keys" / "demo-only.agekey"
ADMIN_KEY = FIXTURES / "keys" / "demo-only-admin.agekey"
DEMO = "age1fq08vpk2qf5wmz4cg6w5uzqt2hqrz56dzp25pj57nrx606073frqc0n3qw"
ADMIN = "age1xfmf59p8t2m533vyfcv79rau54eahzeyudzsavganjpee5nakehqe2jp0u"
SECRET = re.compile(r"AGE-SECRET-KEY-1[0-9A-Z]+")


def secret_of(path: Path) -> str:
    found = SECRET.search(path.read_text(encoding="utf-8"))
    assert found is not None
    return found.group(0)


def unmarked(path: Path, tmp_path: Path) -> Path:
    """A copy of a key file without the cluster-key mark (as age-keygen writes files)."""
    copy = tmp_path / f"plain-{path.name}"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    copy.write_text("".join(x for x in lines if x.strip() != CLUSTER_MARK), encoding="utf-8")
    return copy


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return copy_tree(FIXTURES / "demo", tmp_path / "demo")


def set_config(repo: Path, text: str) -> None:
    (repo / ".secretsmgr.yaml").write_text(text, encoding="utf-8")


def export(
    repo: Path,
    keys: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    *extra: str,
) -> Result:
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(keys))
    # a success warns that the manifest holds a private key, and names each key it exported
    done = run(
        ["--repo", str(repo), "key", "export", *extra],
        capsys,
        warnings=["the manifest on stdout holds a private key", "exported the private key of"],
    )
    assert SECRET.search(done.err) is None  # a private key only ever goes to stdout
    return done


def both(tmp_path: Path, *files: Path) -> Path:
    """One identity file holding several (a cluster key beside a personal key)."""
    joined = tmp_path / "keys.txt"
    joined.write_text("".join(f.read_text(encoding="utf-8") for f in files), encoding="utf-8")
    return joined


def test_the_recorded_cluster_key_is_exported_and_named(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = both(tmp_path, ADMIN_KEY, DEMO_KEY)  # the personal key first: order changes nothing
    code, out, err = export(repo, keys, capsys, monkeypatch)
    assert code == 0, err
    assert SECRET.findall(out) == [secret_of(DEMO_KEY)]
    assert err.splitlines() == [
        "secretsmgr: warning: the manifest on stdout holds a private key: apply it "
        "(kubectl apply -f -) and never commit it",
        "secretsmgr: warning: exported the private key of age1fq08…n3qw (cluster_key) as "
        "age.agekey",
    ]


def test_an_unrecorded_identity_is_exported_only_when_the_operator_names_it(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = unmarked(DEMO_KEY, tmp_path)  # e.g. a key made with age-keygen, or an old keyring
    code, out, err = export(repo, keys, capsys, monkeypatch)
    assert (code, out) == (1, "")
    assert err.splitlines() == [
        "secretsmgr: error: refusing to export age1fq08…n3qw (cluster_key): its identity is not "
        "recorded as a cluster key",
        f"secretsmgr: hint: if it is the cluster's key, name it: secretsmgr key export "
        f"--cluster-key {DEMO}",
        f"secretsmgr: hint: or record it: add a line '{CLUSTER_MARK}' above it in its key file",
    ]
    shown = run(["--repo", str(repo), "key", "show"], capsys, expect=0, secrets=[SECRET])
    assert (
        f"cluster key (.secretsmgr.yaml): {DEMO}  private half found (not recorded as a "
        "cluster key: see key export)"
    ) in shown.out
    code, out, err = export(repo, keys, capsys, monkeypatch, "--cluster-key", DEMO)
    assert code == 0, err
    assert SECRET.findall(out) == [secret_of(DEMO_KEY)]
    assert err.splitlines()[-1] == (
        "secretsmgr: warning: exported the private key of age1fq08…n3qw (--cluster-key) as "
        "age.agekey"
    )


def test_next_cluster_key_may_not_be_an_allowed_recipient(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # the reproduction: one config line would have put the admin's key in the cluster
    set_config(
        repo, f"cluster_key: {DEMO}\nnext_cluster_key: {ADMIN}\nallowed_recipients: [{ADMIN}]\n"
    )
    code, out, err = export(repo, both(tmp_path, DEMO_KEY, ADMIN_KEY), capsys, monkeypatch)
    assert (code, out) == (2, "")
    assert err.startswith(
        "secretsmgr: error: .secretsmgr.yaml: next_cluster_key is listed in allowed_recipients"
    )
    with pytest.raises(ConfigError, match="next_cluster_key is listed in allowed_recipients"):
        parse_settings(
            f"cluster_key: {DEMO}\nnext_cluster_key: {ADMIN}\nallowed_recipients:\n  - {ADMIN}\n"
        )


@pytest.mark.parametrize("key_line", ["cluster_key", "next_cluster_key"])
def test_an_operator_key_named_in_configuration_is_never_exported(
    key_line: str,
    repo: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the admin key, no longer listed as allowed, named as a cluster key: its identity (the
    # admin's own file) was never recorded as a cluster key, so nothing leaves
    config = (
        f"cluster_key: {ADMIN}\n"
        if key_line == "cluster_key"
        else (f"cluster_key: {DEMO}\nnext_cluster_key: {ADMIN}\n")
    )
    set_config(repo, config)
    code, out, err = export(repo, both(tmp_path, DEMO_KEY, ADMIN_KEY), capsys, monkeypatch)
    assert (code, out) == (1, "")
    assert err.startswith(
        f"secretsmgr: error: refusing to export age1xfmf…jp0u ({key_line}): its identity is not "
        "recorded as a cluster key"
    )


def test_generated_keys_are_recorded_and_the_overlap_exports_both(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    new_file = tmp_path / "new.agekey"
    generated = run(["key", "generate", "-o", str(new_file)], capsys, expect=0, secrets=[SECRET])
    new = generated.out.strip()
    text = new_file.read_text(encoding="utf-8")
    assert text.splitlines()[-2:] == [CLUSTER_MARK, secret_of(new_file)]
    assert parse_identities(text, "f").cluster == frozenset({new})
    set_config(repo, f"cluster_key: {DEMO}\nnext_cluster_key: {new}\n")
    code, out, err = export(repo, both(tmp_path, DEMO_KEY, new_file), capsys, monkeypatch)
    assert code == 0, err
    assert SECRET.findall(out) == [secret_of(DEMO_KEY), secret_of(new_file)]
    assert re.findall(r"^  (\S+\.agekey): \|$", out, re.M) == ["old.agekey", "new.agekey"]
    assert err.splitlines()[1:] == [
        "secretsmgr: warning: exported the private key of age1fq08…n3qw (cluster_key) as "
        "old.agekey",
        f"secretsmgr: warning: exported the private key of {new[:8]}…{new[-4:]} "
        "(next_cluster_key) as new.agekey",
    ]


def test_the_mark_belongs_to_the_next_identity_only() -> None:
    first, first_public = generate_identity()
    second, second_public = generate_identity()
    text = f"# personal\n{first}\n{CLUSTER_MARK}\n# public key: {second_public}\n\n{second}\n"
    parsed = parse_identities(text, "keys.txt")
    assert parsed.publics == (first_public, second_public)
    assert parsed.cluster == frozenset({second_public})
    assert parsed.is_cluster_key(second_public) and not parsed.is_cluster_key(first_public)
    trailing = parse_identities(f"{first}\n{CLUSTER_MARK}\n", "keys.txt")
    assert trailing.cluster == frozenset()  # a mark with no identity after it marks nothing
    assert parse_identities(f"{CLUSTER_MARK}\n{first}\n", "k").only([]).cluster == frozenset()


def test_allowed_recipients_take_ssh_keys_as_sops_does() -> None:
    ssh = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHMMHETjreJ3gYTqupVpQaO7asFA5fehfFfv6GQvpLh7 me@host"
    settings = parse_settings(f"cluster_key: {DEMO}\nallowed_recipients:\n  - {ssh}\n")
    assert settings.allowed_recipients == (ssh,)
    with pytest.raises(ConfigError, match="cluster_key must be an age public key"):
        parse_settings(f"cluster_key: {ssh}\n")


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("step", ["--begin", "--finish"])
def test_key_rotate_sends_no_unrecorded_key_either(
    step: str,
    repo: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # begin would put the current key in old.agekey, finish the next key in age.agekey
    stranger_secret, stranger = generate_identity()  # e.g. made with age-keygen: no mark
    stranger_file = tmp_path / "stranger.agekey"
    stranger_file.write_text(stranger_secret + "\n", encoding="utf-8")
    if step == "--begin":
        set_config(repo, f"cluster_key: {ADMIN}\n")
        named, shown = "cluster_key", "age1xfmf…jp0u"
    else:
        set_config(repo, f"cluster_key: {DEMO}\nnext_cluster_key: {stranger}\n")
        named, shown = "next_cluster_key", f"{stranger[:8]}…{stranger[-4:]}"
    before = snapshot(repo)
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(both(tmp_path, DEMO_KEY, ADMIN_KEY, stranger_file)))
    out_file = tmp_path / "new.agekey"
    args = ["--repo", str(repo), "key", "rotate", step]
    given = ["-o", str(out_file), "--commit", "--reason", "yearly key"] if step == "--begin" else []
    got = run(args + given, capsys, expect=1)
    assert got.out == ""
    # what key rotate does with the key, not "export" (sweep 52: it puzzled an operator)
    assert got.err.startswith(
        f"secretsmgr: error: refusing to hand {shown} ({named}) to Flux in the sops-age Secret: "
        "its identity is not recorded as a cluster key"
    )
    assert snapshot(repo) == before and not out_file.exists()
    if step == "--begin":
        # the hint is the same run with the key named: -o kept (sweep 42: it was dropped, and
        # pasted where there is no keyring it failed), --commit and --reason too (sweep A of
        # stop 55), and it is taken when pasted
        hint = (
            "secretsmgr key rotate --begin --commit --reason 'yearly key' "
            f"-o {out_file} --cluster-key {ADMIN}"
        )
        assert f"name it: {hint}" in got.err
        again = run(
            ["--repo", str(repo), *shlex.split(hint)[1:]],
            capsys,
            may_warn=["holds a private key"],
        )
        assert "not recorded as a cluster key" not in again.err


STRANGER_KEY = FIXTURES / "keys" / "demo-only-stranger.agekey"


def public_of(path: Path) -> str:
    found = re.search(r"age1[0-9a-z]{58}", path.read_text(encoding="utf-8"))
    assert found is not None
    return found.group(0)


@pytest.mark.parametrize("key_file", [STRANGER_KEY, ADMIN_KEY])
def test_a_named_key_the_cluster_could_not_decrypt_with_is_refused_unless_forced(
    key_file: Path,
    repo: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # op24 problem 5: `key export --cluster-key K` put ANY key into the Secret (exit 0); Flux
    # could then open no file. A stranger's key, or the admin key (every file is encrypted to
    # it, but it is an allowed recipient, not a cluster key), is refused, nothing printed.
    named = public_of(key_file)
    keys = both(tmp_path, DEMO_KEY, key_file)
    code, out, err = export(repo, keys, capsys, monkeypatch, "--cluster-key", named)
    assert (code, out) == (1, "")
    assert err.splitlines()[0] == (
        f"secretsmgr: error: refusing to export {named[:8]}…{named[-4:]} (--cluster-key): it is "
        "not a cluster key this repository names (cluster_key, next_cluster_key, "
        "clusters.<name>.cluster_key, or a .sops.yaml rule), so Flux could not decrypt with it"
    )
    assert (
        f"secretsmgr: hint: cluster homelab's key: secretsmgr key export --cluster-key {DEMO}"
        in (err.splitlines())
    )
    assert err.splitlines()[-1] == (
        "secretsmgr: hint: if the cluster must hold it all the same, add --force"
    )
    monkeypatch.setenv("SECRETSMGR_CLUSTER_KEY", named)  # the environment names it: the same
    code, out, err = export(repo, keys, capsys, monkeypatch)
    assert (code, out) == (1, "") and "refusing to export" in err
    monkeypatch.delenv("SECRETSMGR_CLUSTER_KEY")
    done = run(
        ["--repo", str(repo), "key", "export", "--cluster-key", named, "--force"],
        capsys,
        warnings=["--force: exporting", "holds a private key", "exported the private key of"],
    )
    assert done.code == 0, done.err
    assert SECRET.findall(done.out) == [secret_of(key_file)]


def test_a_named_cluster_key_is_refused_while_files_are_not_encrypted_to_it(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # the repository names the key (as cluster_key), but no file is encrypted to it yet
    stranger = public_of(STRANGER_KEY)
    set_config(repo, f"cluster_key: {stranger}\nallowed_recipients: [{ADMIN}, {DEMO}]\n")
    keys = both(tmp_path, STRANGER_KEY)
    code, out, err = export(repo, keys, capsys, monkeypatch, "--cluster-key", stranger)
    assert (code, out) == (1, "")
    assert re.match(
        r"secretsmgr: error: refusing to export age1\S+ \(--cluster-key\): \d+ SOPS files "
        r"cluster homelab applies are not encrypted to it \(\S+, …\), so Flux could not "
        r"decrypt with it",
        err,
    ), err
    # the key the repository names, on every file: exported as before
    set_config(repo, f"cluster_key: {DEMO}\nallowed_recipients: [{ADMIN}]\n")
    code, out, err = export(
        repo, both(tmp_path, DEMO_KEY), capsys, monkeypatch, "--cluster-key", DEMO
    )
    assert code == 0, err


def test_clusters_sharing_a_key_get_one_hint_for_it() -> None:
    # sweep 22 (tcordina/home-ops): two clusters on one key gave the same hint twice
    from secretsmgr.rotate.export import _ClusterFacts, _misfit

    shared, other = DEMO, public_of(ADMIN_KEY)
    facts = [
        _ClusterFacts("prod", frozenset({shared}), ()),
        _ClusterFacts("staging", frozenset({shared}), ()),
        _ClusterFacts("lab", frozenset({other}), ()),
    ]
    _, hints = _misfit(public_of(STRANGER_KEY), facts, [], "")
    assert hints == (
        "the key of cluster prod and cluster staging: secretsmgr key export --cluster-key "
        + shared,
        f"cluster lab's key: secretsmgr key export --cluster-key {other}",
    )
