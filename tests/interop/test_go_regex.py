"""Go regexes against the real sops: RE2-only `.sops.yaml` rules pick the same creation rule and
encrypt the same leaves for sops and for us; sops refuses what we refuse."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import VECTORS, git, run_sops

from secretsmgr import sops
from secretsmgr.fileops.text import encrypt_text, resolve_policy
from secretsmgr.keys.age import AgeIdentity, parse_identities
from secretsmgr.sops.encvalue import is_enc
from secretsmgr.sops.rules import iter_leaves
from tests.cli.runner import run

pytestmark = pytest.mark.interop

PUB1 = "age17m4zztwdtjwv5yastfc6v72cjnsrn7yuxlpmgwgr5c8s52lst4jq9x0tvy"
PUB2 = "age1wk59fr3he9n3qw722fh85e6udyj2geqwcfu5anaql9xd2dam0c0qfp8vss"
PUB3 = "age1d7u0zvv3mvs79d268nzswczue4qf0xvntel8rstr37w8hsywsdasj9uw0l"
KEYS = VECTORS / "keys"
YAML = sops.FileFormat.YAML

# Each rule uses syntax Python's re refuses or reads differently: a flag group mid-pattern,
# \z, a (?<name>) group (Go >= 1.22), \w that is ASCII-only, $ at the end of text only.
SOPS_YAML = f"""creation_rules:
  - path_regex: ((?i)talos|kubernetes)/.*\\.ya?ml\\z
    encrypted_regex: ^(data|(?i)stringdata)$
    age: {PUB1}
  - path_regex: (?<env>prod|staging)/[^/]+\\.yaml$
    unencrypted_regex: ^(\\w+_public|apiVersion|kind|name)$
    age: {PUB2}
  - age: {PUB3}
"""

PLAIN = """apiVersion: v1
kind: Secret
metadata:
    name: db
    pässword_public: one
    token_public: two
StringData:
    password: three
stringdata:
    user: four
data:
    k: five
other: six
"""

# file -> (the rule sops must pick, its recipient)
FILES = {
    "Talos/cluster/secret.yaml": (1, PUB1),
    "kubernetes/apps/db.yml": (1, PUB1),
    "prod/db.yaml": (2, PUB2),
    "prod/deep/db.yaml": (3, PUB3),  # [^/]+ stops rule 2
    "talos.yaml": (3, PUB3),
}


def _encrypted_paths(text: str) -> list[str]:
    sf = sops.load(text, YAML)
    return [
        ".".join(path)
        for doc in sf.docs
        for path, leaf, _ in iter_leaves(doc, sf.metadata.rule)
        if isinstance(leaf, str) and is_enc(leaf)
    ]


def _identities() -> list[AgeIdentity]:
    return [
        parse_identities((KEYS / f"test-only-{n}.agekey").read_text(encoding="utf-8"), str(n))
        for n in (1, 2, 3)
    ]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    (root / ".sops.yaml").write_text(SOPS_YAML, encoding="utf-8")
    for rel in FILES:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(PLAIN, encoding="utf-8")
    return root


@pytest.mark.parametrize("rel", sorted(FILES))
def test_sops_and_we_pick_the_same_rule_and_encrypt_the_same_leaves(repo: Path, rel: str) -> None:
    number, recipient = FILES[rel]
    done = run_sops(["encrypt", rel], cwd=repo)
    assert done.returncode == 0, done.stderr
    theirs = done.stdout
    assert sops.load(theirs, YAML).metadata.age_recipients == (recipient,)

    policy = resolve_policy(repo / rel)
    ours = encrypt_text(PLAIN, YAML, policy).text
    assert sops.load(ours, YAML).metadata.age_recipients == (recipient,)
    assert _encrypted_paths(ours) == _encrypted_paths(theirs)
    if number == 1:
        assert _encrypted_paths(ours) == ["StringData.password", "stringdata.user", "data.k"]
    if number == 2:  # pässword_public is not \w+_public in Go: it is encrypted
        assert "metadata.pässword_public" in _encrypted_paths(ours)
        assert "metadata.token_public" not in _encrypted_paths(ours)

    # each reads the other's file to the same plaintext
    decrypted = sops.decrypt(sops.load(theirs, YAML), _identities())
    assert sops.dump_plain(decrypted.docs, YAML) == PLAIN
    out = repo / "ours.enc.yaml"
    out.write_text(ours, encoding="utf-8")
    key = KEYS / f"test-only-{number if number < 3 else 3}.agekey"
    back = run_sops(["decrypt", str(out)], key_file=key)
    assert back.returncode == 0, back.stderr
    assert back.stdout == PLAIN


def test_audit_of_files_sops_wrote_with_re2_rules_finds_nothing_malformed(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for rel in FILES:
        done = run_sops(["encrypt", "-i", rel], cwd=repo)
        assert done.returncode == 0, done.stderr
        (repo / rel).rename((repo / rel).with_suffix(".enc.yaml"))
    keys = "\n".join((KEYS / f"test-only-{n}.agekey").read_text() for n in (1, 2, 3))
    (repo / "all.agekey").write_text(keys, encoding="utf-8")
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(repo / "all.agekey"))
    code, out, err = run(["--repo", str(repo), "audit", "--format", "json", "--verify-mac"], capsys)
    assert err == ""
    report = json.loads(out)
    rules = {f["rule"] for f in report["findings"]}
    assert not rules & {"SM003", "SM006", "SM007"}, report["findings"]
    assert code in (0, 1)


def test_sops_refuses_the_regex_we_refuse(repo: Path) -> None:
    (repo / ".sops.yaml").write_text(
        f"creation_rules:\n  - path_regex: ^(?!prod)\n    age: {PUB1}\n", encoding="utf-8"
    )
    done = run_sops(["encrypt", "talos.yaml"], cwd=repo)
    assert done.returncode != 0
    assert "invalid or unsupported Perl syntax" in done.stderr
    with pytest.raises(Exception) as info:
        resolve_policy(repo / "talos.yaml")
    assert "creation rule 1 has an invalid path_regex: invalid perl operator: (?!" in str(
        info.value
    )


def test_metadata_with_a_regex_go_refuses_is_sm006(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    done = run_sops(["encrypt", "prod/db.yaml"], cwd=repo)
    assert done.returncode == 0, done.stderr
    broken = done.stdout.replace(
        "unencrypted_regex: ^(\\w+_public|apiVersion|kind|name)$",
        "unencrypted_regex: ^(\\w+_public|apiVersion|kind|name)(?=x)$",
    )
    assert broken != done.stdout
    (repo / "prod" / "db.enc.yaml").write_text(broken, encoding="utf-8")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    target = str(repo / "prod" / "db.enc.yaml")
    _, out, err = run(["--repo", str(repo), "check", "--format", "json", target], capsys, expect=1)
    assert err == ""
    findings = json.loads(out)["findings"]
    sm006 = [f for f in findings if f["rule"] == "SM006"]
    assert len(sm006) == 1
    assert "unencrypted_regex is not a valid Go regular expression" in sm006[0]["message"]
