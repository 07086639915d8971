"""``key rotate`` and the copies of the cluster key a repository ships itself: a SOPS-encrypted
``sops-age`` Secret Flux applies (sweep 89, rust84/k8s-gitops: a Flux component put it in every
namespace, and after ``--finish`` it still held the retired key alone, which Flux would have
applied over the new one)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pyrage

from secretsmgr.keys.age import parse_identities
from secretsmgr.rotate.keymanifests import swap_identity
from tests.conftest import git, run_sops
from tests.rotate.helpers import CHANGELOG, DEMO_KEY, commit_all, porcelain
from tests.rotate.test_cluster_key import SECRET, SKIP, key_env, repo, run

__all__ = ["repo"]  # the fixture

OLD = "age1fq08vpk2qf5wmz4cg6w5uzqt2hqrz56dzp25pj57nrx606073frqc0n3qw"
SHIPPED = "gitops/infrastructure/flux-key.enc.yaml"  # stringData, beside another cluster's key
ENCODED = "gitops/infrastructure/flux-key-data.enc.yaml"  # data: base64 of the identity file
ELSEWHERE = "gitops/infrastructure/other-key.enc.yaml"  # a Secret of another name: not Flux's


def _identity() -> tuple[str, str]:
    ident = pyrage.x25519.Identity.generate()
    return str(ident), str(ident.to_public())


def _secret(name: str, section: str, value: str) -> str:
    if section == "data":
        value = base64.b64encode(value.encode()).decode()
        body = f"data:\n  age.agekey: {value}\n"
    else:
        body = "stringData:\n  age.agekey: |\n" + "".join(f"    {x}\n" for x in value.splitlines())
    return (
        f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n  namespace: flux-system\n"
        f"type: Opaque\n{body}"
    )


def _ship(repo: Path, env: dict[str, str], other: str) -> None:
    old = DEMO_KEY.read_text()
    (repo / SHIPPED).write_text(_secret("sops-age", "stringData", old + other), encoding="utf-8")
    (repo / ENCODED).write_text(_secret("sops-age", "data", old), encoding="utf-8")
    (repo / ELSEWHERE).write_text(_secret("backup-key", "stringData", old), encoding="utf-8")
    for rel in (SHIPPED, ENCODED, ELSEWHERE):
        run(repo, env, "encrypt", "-i", rel)
    commit_all(repo, "ship the key Secret")


def _held(repo: Path, rel: str, key_file: Path) -> list[str]:
    """The public keys of the identities the file's age.agekey entry holds (real sops)."""
    done = run_sops(["decrypt", "--output-type", "json", str(repo / rel)], key_file=key_file)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    if "data" in doc:
        text = base64.b64decode(doc["data"]["age.agekey"]).decode()
    else:
        text = doc["stringData"]["age.agekey"]
    return list(parse_identities(text, rel).publics)


def test_begin_and_finish_keep_the_shipped_key_secret_in_step(repo: Path, tmp_path: Path) -> None:
    env = key_env(tmp_path)
    other_secret, other = _identity()
    _ship(repo, env, f"# public key: {other}\n{other_secret}\n")
    new_file = tmp_path / "new.agekey"
    begun = run(repo, env, "key", "rotate", "--begin", "-o", str(new_file), "--commit")
    new = parse_identities(new_file.read_text(), "new").publics[0]
    assert f"updated the key in {ENCODED}, {SHIPPED}, key Secrets this repository" in begun.out
    assert "each holds both keys until --finish" in begun.out
    # during the overlap each copy holds both keys (the other cluster's stays)
    assert _held(repo, SHIPPED, new_file) == [OLD, new, other]
    assert _held(repo, ENCODED, new_file) == [OLD, new]
    assert _held(repo, ELSEWHERE, new_file) == [OLD]  # not a Secret Flux reads keys from
    last = json.loads((repo / CHANGELOG).read_text().splitlines()[-1])
    paths = {f["path"]: f.get("key_paths", []) for f in last["files"]}
    assert paths[SHIPPED] == ["stringData.age.agekey"]
    assert paths[ENCODED] == ["data.age.agekey"]
    assert SECRET.search((repo / CHANGELOG).read_text()) is None  # never a private key
    message = git(repo, "log", "-1", "--format=%B")
    assert "Cluster key entries of key Secrets this repository ships:" in message
    assert "Regenerated values" not in message

    finished = run(
        repo, key_env(tmp_path, new_file), "key", "rotate", "--finish", "--commit", *SKIP
    )
    assert "each holds the new key alone" in finished.out
    assert _held(repo, SHIPPED, new_file) == [new, other]
    assert _held(repo, ENCODED, new_file) == [new]
    for rel in (SHIPPED, ENCODED):
        text = run_sops(["decrypt", str(repo / rel)], key_file=new_file).stdout
        assert SECRET.search(DEMO_KEY.read_text()).group(0) not in text  # type: ignore[union-attr]
    assert porcelain(repo) == ""


def test_a_second_begin_leaves_the_key_lines_as_they_are(repo: Path, tmp_path: Path) -> None:
    env = key_env(tmp_path)
    _ship(repo, env, "")
    new_file = tmp_path / "new.agekey"
    run(repo, env, "key", "rotate", "--begin", "-o", str(new_file), "--commit")
    both = key_env(tmp_path, DEMO_KEY, new_file)
    run(repo, both, "key", "rotate", "--begin", "--commit")
    new = parse_identities(new_file.read_text(), "new").publics[0]
    assert _held(repo, SHIPPED, new_file) == [OLD, new]


def test_swap_identity_replaces_only_the_old_key_and_keeps_the_rest() -> None:
    old_secret, old = _identity()
    new_secret, new = _identity()
    keep_secret, keep = _identity()
    text = f"# created: today\n# public key: {old}\n{old_secret}\n"
    text += f"# public key: {keep}\n{keep_secret}\n"
    swapped = swap_identity(text, old, f"# public key: {new}\n{new_secret}\n")
    assert swapped is not None
    assert old_secret not in swapped and old not in swapped
    assert list(parse_identities(swapped, "x").publics) == [new, keep]
    assert "# created: today" in swapped
    assert swap_identity(f"{keep_secret}\n", old, new_secret) is None  # no old key: untouched


def test_a_key_secret_encrypted_whole_is_found_once_open(repo: Path, tmp_path: Path) -> None:
    """The attack review of stop 48: sops encrypts every value by default, kind and name too,
    so a key Secret encrypted with plain `sops encrypt` kept the retired key after finish."""
    env = key_env(tmp_path)
    whole = "gitops/infrastructure/flux-key.sops.yaml"  # no rule of the demo: sops's defaults
    outside = tmp_path / "outside" / "flux-key.yaml"  # no .sops.yaml above it: sops's defaults
    outside.parent.mkdir()
    outside.write_text(_secret("sops-age", "stringData", DEMO_KEY.read_text()))
    done = run_sops(["encrypt", "-i", "--age", OLD, str(outside)], cwd=outside.parent)
    assert done.returncode == 0, done.stderr
    (repo / whole).write_text(outside.read_text())
    assert "kind: ENC[" in (repo / whole).read_text()  # encrypted whole
    commit_all(repo, "ship the key Secret, encrypted whole")
    new_file = tmp_path / "new.agekey"
    begun = run(repo, env, "key", "rotate", "--begin", "-o", str(new_file), "--commit")
    new = parse_identities(new_file.read_text(), "new").publics[0]
    assert f"updated the key in {whole}, the key Secret" in begun.out
    assert _held(repo, whole, new_file) == [OLD, new]
    run(repo, key_env(tmp_path, new_file), "key", "rotate", "--finish", "--commit", *SKIP)
    assert _held(repo, whole, new_file) == [new]


def test_base64_wrapped_over_lines_is_read_and_a_copy_left_alone_is_named(
    repo: Path, tmp_path: Path
) -> None:
    """The second attack review of stop 48: `data` base64 wrapped at 76 columns (`base64`'s
    default, which Kubernetes reads) stopped the whole rotation; a bootstrap copy encrypted to
    the admin key alone was left with the retired key without a word."""
    env = key_env(tmp_path)
    wrapped = base64.encodebytes(DEMO_KEY.read_bytes()).decode()  # lines of 76
    assert "\n" in wrapped.strip()
    body = "".join(f"    {line}\n" for line in wrapped.splitlines())
    manifest = (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: sops-age\n  namespace: flux-system\n"
        f"type: Opaque\ndata:\n  age.agekey: >-\n{body}"
    )
    (repo / ENCODED).write_text(manifest, encoding="utf-8")
    run(repo, env, "encrypt", "-i", ENCODED)
    bootstrap = "bootstrap/sops-age.enc.yaml"  # outside Flux, on the admin key alone
    (repo / "bootstrap").mkdir()
    (repo / bootstrap).write_text(_secret("sops-age", "stringData", DEMO_KEY.read_text()))
    admin = "age1xfmf59p8t2m533vyfcv79rau54eahzeyudzsavganjpee5nakehqe2jp0u"
    run(repo, env, "encrypt", "-i", bootstrap, "--age", admin)
    commit_all(repo, "ship the key Secret twice")
    new_file = tmp_path / "new.agekey"
    begun = run(repo, env, "key", "rotate", "--begin", "-o", str(new_file), "--commit")
    new = parse_identities(new_file.read_text(), "new").publics[0]
    assert _held(repo, ENCODED, new_file) == [OLD, new]
    assert f"also: {bootstrap} holds a Secret named as Flux's key Secret" in begun.out
    finished = run(repo, key_env(tmp_path, new_file), "key", "rotate", "--finish", *SKIP)
    assert f"also: {bootstrap} holds a Secret named as Flux's key Secret" in finished.out
