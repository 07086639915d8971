"""``rotate`` of a SOPS file that no layer applies yet takes its recipients from the
`.sops.yaml` rule governing it, as ``encrypt`` does (op24 problem 8)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.cli.runner import run
from tests.init.helpers import SECRET, commit, two_cluster_repo, write

KEY = re.compile(r"recipient: (age1[0-9a-z]{58})")


def recipients(path: Path) -> list[str]:
    return KEY.findall(path.read_text(encoding="utf-8"))


def test_rotate_keeps_every_cluster_key_the_shared_rule_names_on_an_unlisted_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # init's 2-cluster repository: clusters: pins each cluster's key, the shared apps/base rule
    # names both. A file there that no kustomization lists yet was encrypted to both keys, and
    # `rotate FILE` dropped staging's (SM011 then offered the same rotate as its fix).
    repo = two_cluster_repo(tmp_path / "fleet")
    keys = tmp_path / "keys" / "cluster.agekey"
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(keys))
    run(["--repo", str(repo), "init", "-o", str(keys)], capsys, expect=0)
    commit(repo, "init")
    smtp = write(repo, "apps/base/smtp.enc.yaml", SECRET.format(name="smtp", value="x-1"))
    run(["--repo", str(repo), "encrypt", "-i", str(smtp)], capsys, expect=0)
    both = recipients(smtp)
    assert len(both) == 2
    commit(repo, "smtp")
    run(["--repo", str(repo), "rotate", str(smtp)], capsys, expect=0, may_warn=["no layer"])
    assert sorted(recipients(smtp)) == sorted(both)
    audit = run(["--repo", str(repo), "audit"], capsys)
    assert "SM011" not in audit.out and "SM005" not in audit.out, audit.out


def _cluster_and_host(
    root: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    cluster_keys: tuple[str, ...],
    host_keys: tuple[str, ...],
) -> tuple[Path, Path, Path]:
    """A one-cluster repository whose layer applies apps/db.enc.yaml (rule 1, on
    ``cluster_keys``) beside docker/nas/secrets.sops.yaml that no layer applies (rule 2, on
    ``host_keys``), committed; every test identity in SOPS_AGE_KEY_FILE. (repo, db, host)."""
    from secretsmgr.sops import EncryptionRule
    from tests.audit.helpers import KEYS, enc
    from tests.init.helpers import kustomization, one_cluster_repo

    repo = one_cluster_repo(root)
    write(
        repo,
        ".sops.yaml",
        "creation_rules:\n"
        f"  - path_regex: ^apps/.*\\.enc\\.yaml$\n    encrypted_regex: ^(data|stringData)$\n"
        f"    age: {','.join(cluster_keys)}\n"
        f"  - path_regex: ^docker/.*\\.sops\\.yaml$\n    age: {','.join(host_keys)}\n",
    )
    db = write(repo, "apps/db.enc.yaml", enc(SECRET.format(name="db", value="v4l"), cluster_keys))
    kustomization(repo, "apps", "podinfo.yaml", "db.enc.yaml")
    host = write(
        repo,
        "docker/nas/secrets.sops.yaml",
        enc("TRAEFIK_TOKEN: Zq8rT2mVx91LkPw\n", host_keys, rule=EncryptionRule()),
    )
    commit(repo, "a cluster and a host")
    keys = tmp_path / "keys.txt"
    keys.write_text("".join((KEYS / f"test-only-{n}.agekey").read_text() for n in (1, 2, 3)))
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(keys))
    return repo, db, host


def test_a_hosts_file_under_a_rule_of_its_own_keeps_its_rules_keys(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # sweep 20 (Samoth69/HomeOps): rules for the cluster's files and for docker hosts' files,
    # each naming its own key. init put every host key into allowed_recipients, so a rotation
    # made each cluster file readable by every host; and rotate --all (or key rotate --begin)
    # re-encrypted a host's file to the cluster key, locking the host out
    from secretsmgr.repo.settings import load_settings
    from tests.audit.helpers import K1, K2

    repo, db, host = _cluster_and_host(tmp_path / "repo", tmp_path, monkeypatch, (K1,), (K2,))
    base = ["--repo", str(repo)]
    out = run([*base, "init"], capsys, expect=0).out
    assert "SM005" not in out, out  # the host's file follows its own rule (the review)
    settings = load_settings(repo)
    assert settings.cluster_key == K1 and settings.allowed_recipients == ()
    commit(repo, "init")
    run([*base, "rotate", "--all", "--reason", "yearly"], capsys, expect=0)
    assert (recipients(db), recipients(host)) == ([K1], [K2])
    audit = run([*base, "audit"], capsys, expect=0)
    assert not re.search(r"SM00[45]|SM011", audit.out), audit.out
    commit(repo, "rotated")
    began = [*base, "key", "rotate", "--begin", "--cluster-key", K1]
    began += ["-o", str(tmp_path / "next.agekey")]
    run(began, capsys, expect=0, warnings=["the manifest on stdout holds a private key"])
    assert recipients(host) == [K2] and len(recipients(db)) == 2


def test_a_hosts_file_keeps_its_host_key_through_a_cluster_key_rotation_and_named_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # the review of sweep 20's change: a host rule naming the host's key and the cluster key.
    # key rotate --begin re-encrypted the host's file to the cluster keys alone (the host
    # locked out); `rotate FILE` put the cluster key where `rotate --all` did not; and rotate
    # added allowed_recipients that the host's rule leaves out, so SM011's fix looped
    from tests.audit.helpers import K1, K2, K3

    repo, db, host = _cluster_and_host(tmp_path / "repo", tmp_path, monkeypatch, (K1, K2), (K3, K1))
    write(repo, ".secretsmgr.yaml", f"cluster_key: {K1}\nallowed_recipients: [{K2}]\n")
    commit(repo, "pinned")
    keys = tmp_path / "keys.txt"
    base = ["--repo", str(repo)]
    run([*base, "rotate", str(host), "--reason", "one file"], capsys, expect=0)
    assert sorted(recipients(host)) == sorted([K3, K1])  # as --all gives it
    commit(repo, "one file")
    run([*base, "rotate", "--all", "--reason", "all"], capsys, expect=0)
    assert sorted(recipients(host)) == sorted([K3, K1])
    audit = run([*base, "audit"], capsys, expect=0)
    assert "SM011" not in audit.out, audit.out
    commit(repo, "rotated")
    new_key = tmp_path / "next.agekey"
    began = [*base, "key", "rotate", "--begin", "--cluster-key", K1, "-o", str(new_key)]
    run(began, capsys, expect=0, warnings=["the manifest on stdout holds a private key"])
    new = [k for k in recipients(db) if k not in (K1, K2)]
    assert len(new) == 1 and sorted(recipients(host)) == sorted([K3, K1, *new])
    commit(repo, "begin")
    keys.write_text(keys.read_text() + new_key.read_text())
    finish = [*base, "key", "rotate", "--finish", "--skip-cluster-check"]
    warned = ["the manifest on stdout holds a private key", "--skip-cluster-check: not checking"]
    run(finish, capsys, expect=0, warnings=warned)
    assert sorted(recipients(host)) == sorted([K3, *new])


def test_with_a_layer_of_unknown_path_a_hosts_file_keeps_both_key_sets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # the second review: a layer over ./apps/${CLUSTER_NAME} (a variable not known here) may
    # apply a file that looks like a host's; taking the rule's keys alone dropped its allowed
    # key. Unsure, rotate keeps the policy's keys and the rule's: nobody is locked out
    from tests.audit.helpers import K1, K2, K3
    from tests.init.helpers import layer

    repo, _db, host = _cluster_and_host(
        tmp_path / "repo", tmp_path, monkeypatch, (K1, K2), (K3, K1)
    )
    write(repo, ".secretsmgr.yaml", f"cluster_key: {K1}\nallowed_recipients: [{K2}]\n")
    layer(repo, "prod", "per-cluster", "apps/${CLUSTER_NAME}")
    commit(repo, "a layer whose path is filled in by the cluster")
    run(["--repo", str(repo), "rotate", "--all", "--reason", "all"], capsys, expect=0)
    assert sorted(recipients(host)) == sorted([K1, K2, K3])


def test_rotate_keeps_a_files_own_keys_where_no_cluster_key_is_known(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fourth and fifth attack reviews: with no cluster key known, `rotate --all` synced
    a file Flux applies to the policy alone: `allowed_recipients` (or `--add-recipient`) and
    nothing else, dropping the key Flux decrypts with."""
    from secretsmgr.keys.age import generate_identity
    from tests.audit.helpers import K1, KEYS, enc, secret, standard_repo
    from tests.audit.helpers import write as put

    _, operator = generate_identity()
    standard_repo(tmp_path, {}, cluster_key=None, allowed=(operator,), rule_keys=())
    (tmp_path / ".sops.yaml").unlink()
    db = put(tmp_path, "apps/db.enc.yaml", enc(secret("db", {"pw": "v4lue-1"}), (K1, operator)))
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(KEYS / "test-only-1.agekey"))
    monkeypatch.chdir(tmp_path)
    run(["rotate", "--all"], capsys, expect=0)
    assert sorted(recipients(db)) == sorted((K1, operator))
