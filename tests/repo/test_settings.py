from __future__ import annotations

from pathlib import Path

import pytest

from secretsmgr.errors import ConfigError
from secretsmgr.repo.settings import (
    IgnoreEntry,
    Settings,
    glob_to_regex,
    is_age_recipient,
    load_settings,
    parse_settings,
    resolve_cluster_key,
)

from .helpers import KEY_A, KEY_B, KEY_C


def test_absent_file_gives_the_defaults(tmp_path: Path) -> None:
    settings = load_settings(tmp_path)
    assert settings == Settings()
    assert settings.max_age_days == 90
    assert settings.changelog == "secrets-changelog.jsonl"


def test_full_file_is_read(tmp_path: Path) -> None:
    (tmp_path / ".secretsmgr.yaml").write_text(
        f"""
cluster_key: {KEY_A}
next_cluster_key: {KEY_B}
allowed_recipients: [{KEY_C}]
max_age_days: 30
changelog: ops/changes.jsonl
ignore:
  - {{rule: SM009, path: "tests/keys/*.agekey", reason: "test-only keys"}}
"""
    )
    settings = load_settings(tmp_path)
    assert settings == Settings(
        cluster_key=KEY_A,
        next_cluster_key=KEY_B,
        allowed_recipients=(KEY_C,),
        max_age_days=30,
        changelog="ops/changes.jsonl",
        ignore=(IgnoreEntry("SM009", "tests/keys/*.agekey", "test-only keys"),),
    )
    assert settings.is_ignored("SM009", "tests/keys/a.agekey")
    assert not settings.is_ignored("SM001", "tests/keys/a.agekey")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "ignore:\n  - {rule: SM001, path: a, reason: ok}\n  - {rule: SM009, path: b}\n",
            r"^\.secretsmgr\.yaml: ignore entry 2 has no reason$",
        ),
        (
            "ignore:\n  - {rule: SM009, path: b, reason: '  '}\n",
            r"^\.secretsmgr\.yaml: ignore entry 1: reason must be a non-empty reason$",
        ),
        ("ignore:\n  - {path: b, reason: r}\n", "ignore entry 1 has no rule"),
        ("ignore:\n  - {rule: SM009, reason: r}\n", "ignore entry 1 has no path"),
        ("ignore:\n  - {rule: '*', path: '**', reason: r}\n", "rule must be a rule id like SM001"),
        (
            "ignore:\n  - {rule: SM001, path: a, reason: r, why: x}\n",
            "entry 1 has an unknown field: why",
        ),
        ("ignore: {rule: SM009}\n", "ignore must be a list"),
        ("cluster_key: age1notakey\n", "cluster_key must be an age public key"),
        ("cluster_key: [a]\n", "cluster_key must be an age public key"),
        (f"cluster_key: {KEY_A[:-1]}q\n", "cluster_key is not an age public key"),  # checksum
        ("cluster_key: AGE-SECRET-KEY-1ABC\n", "holds an age private key"),
        ("allowed_recipients: [nope]\n", "allowed_recipients entry 1 must be an age public key"),
        ("allowed_recipients: ['ssh-ed25519']\n", "or an ssh-ed25519/ssh-rsa public key"),
        ("clusters:\n  prod: {cluster_key: null}\n", "clusters.prod has no path"),
        ("clusters:\n  prod: {path: p, key: x}\n", "clusters.prod has an unknown field: key"),
        ("clusters: [a]\n", "clusters must be a mapping of cluster name to settings"),
        ("clusters:\n  p: {path: p, decryption: sops}\n", "clusters.p.decryption"),
        ("clusters:\n  p: {path: p, decryption: {secretRef: {name: a}}}\n", "decryption"),
        (
            "clusters:\n  p: {path: p, decryption: {provider: sops, secretRef: sops-age}}\n",
            "clusters.p.decryption.secretRef",
        ),
        ("sources:\n  cluster: k8s/\n", "sources key cluster is not Kind/namespace/name"),
        ("sources:\n  OCIRepository/a/b: ../x\n", "must be a folder inside the repository"),
        ("outside_flux: talos/**\n", "outside_flux must be a list of path globs"),
        ("changelog: ''\n", "changelog must be a non-empty path"),
        (f"next_cluster_key: {KEY_B}\n", "next_cluster_key is set without cluster_key"),
        ("max_age_days: 0\n", "max_age_days must be a positive integer"),
        ("max_age_days: true\n", "max_age_days must be a positive integer"),
        ("cluster-key: x\n", "unknown setting cluster-key"),
        ("- a\n", "must be a single mapping"),
        ("a: [\n", "malformed YAML"),
    ],
)
def test_malformed_settings_are_config_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_settings(text)


def test_an_unknown_setting_gets_the_nearest_known_one_as_a_hint() -> None:
    with pytest.raises(ConfigError) as info:
        parse_settings("cluster-key: x\n")
    assert info.value.hints == ("did you mean cluster_key?",)
    with pytest.raises(ConfigError) as info:
        parse_settings("zzz: 1\n")
    assert info.value.hints[0].startswith("known: cluster_key, next_cluster_key")


@pytest.mark.parametrize(
    "where", ["cluster_key: {k}", "allowed_recipients: [{k}]", "changelog: {k}"]
)
def test_a_private_key_anywhere_is_named_and_never_echoed(where: str) -> None:
    secret = "AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ"
    with pytest.raises(ConfigError, match="holds an age private key") as info:
        parse_settings(where.format(k=secret) + "\n")
    assert "QQQQ" not in info.value.message


def test_a_private_key_never_appears_in_the_message() -> None:
    secret = "AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ"
    with pytest.raises(ConfigError) as info:
        parse_settings(f"allowed_recipients: [{secret}]\n")
    assert "QQQQ" not in info.value.message


def test_is_age_recipient_checks_the_bech32_checksum() -> None:
    assert is_age_recipient(KEY_A)
    assert not is_age_recipient(KEY_A[:-1] + ("q" if KEY_A[-1] != "q" else "p"))
    assert not is_age_recipient(KEY_A.upper())
    assert not is_age_recipient("age1")
    assert not is_age_recipient("ssh-ed25519 AAAA")


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("tests/keys/*.agekey", "tests/keys/a.agekey", True),
        ("tests/keys/*.agekey", "tests/keys/sub/a.agekey", False),
        ("tests/**/*.agekey", "tests/a.agekey", True),
        ("tests/**/*.agekey", "tests/x/y/a.agekey", True),
        ("tests/**/*.agekey", "other/tests/a.agekey", False),
        ("**/secret.enc.yaml", "secret.enc.yaml", True),
        ("**/secret.enc.yaml", "a/b/secret.enc.yaml", True),
        ("gitops/**", "gitops/a/b/c.yaml", True),
        ("gitops/**", "gitopsx/a.yaml", False),
        ("file?.yaml", "file1.yaml", True),
        ("file?.yaml", "file/.yaml", False),
        ("file[0-9].yaml", "file7.yaml", True),
        ("file[!0-9].yaml", "file7.yaml", False),
        ("file[!0-9].yaml", "filex.yaml", True),
        ("a.yaml", "a_yaml", False),
        ("*", "a/b", False),
    ],
)
def test_glob_matching(pattern: str, path: str, expected: bool) -> None:
    assert glob_to_regex(pattern).fullmatch(path) is expected
    assert IgnoreEntry("SM001", pattern, "why").matches("SM001", path) is expected


def test_ignore_entry_matches_only_its_rule() -> None:
    entry = IgnoreEntry("SM009", "**", "everything, but only for SM009")
    assert entry.matches("SM009", "a/b.yaml")
    assert not entry.matches("SM001", "a/b.yaml")


def test_cluster_key_precedence() -> None:
    settings = Settings(cluster_key=KEY_B)
    rule_keys = (KEY_C,)
    env = {"SECRETSMGR_CLUSTER_KEY": KEY_C}
    assert resolve_cluster_key(KEY_A, env, settings, rule_keys) == ((KEY_A,), "--cluster-key")
    assert resolve_cluster_key(None, env, settings, rule_keys) == (
        (KEY_C,),
        "SECRETSMGR_CLUSTER_KEY",
    )
    assert resolve_cluster_key(None, {}, settings, rule_keys) == ((KEY_B,), ".secretsmgr.yaml")
    assert resolve_cluster_key(None, {"SECRETSMGR_CLUSTER_KEY": " "}, Settings(), rule_keys) == (
        (KEY_C,),
        ".sops.yaml",
    )
    assert resolve_cluster_key(None, {}, Settings(), ()) is None


def test_cluster_key_values_may_list_several_keys() -> None:
    assert resolve_cluster_key(f"{KEY_A},{KEY_B}", {}, Settings(), ()) == (
        (KEY_A, KEY_B),
        "--cluster-key",
    )
    during_rotation = Settings(cluster_key=KEY_A, next_cluster_key=KEY_B)
    assert resolve_cluster_key(None, {}, during_rotation, ()) == (
        (KEY_A, KEY_B),
        ".secretsmgr.yaml",
    )


def test_an_invalid_cluster_key_names_its_source() -> None:
    with pytest.raises(ConfigError, match=r"^--cluster-key is not an age public key"):
        resolve_cluster_key("age1bogus", {}, Settings(), ())
    with pytest.raises(ConfigError, match=r"^SECRETSMGR_CLUSTER_KEY key 2 is not"):
        resolve_cluster_key(None, {"SECRETSMGR_CLUSTER_KEY": f"{KEY_A} junk"}, Settings(), ())
    with pytest.raises(ConfigError, match=r"^\.sops\.yaml: age recipient 1 is not"):
        resolve_cluster_key(None, {}, Settings(), ("pgp-ish",))


@pytest.mark.parametrize("spelled", ["./logs/x.jsonl", "logs//x.jsonl", "logs/./x.jsonl"])
def test_the_changelog_path_is_spelled_as_git_spells_it(spelled: str) -> None:
    # git, the inventory and the anchoring compare it with repository paths as they are
    assert parse_settings(f"changelog: {spelled}\n").changelog == "logs/x.jsonl"


def test_a_changelog_path_with_a_nul_character_is_a_config_error(tmp_path: Path) -> None:
    # the attack review: every command that read it was an internal error (ValueError)
    from secretsmgr.errors import RefusedError
    from secretsmgr.fsutil import confined

    with pytest.raises(ConfigError, match="changelog must be a path without a NUL character"):
        parse_settings('changelog: "log\\u0000.jsonl"\n')
    with pytest.raises(RefusedError, match="NUL character"):
        confined(tmp_path, "apps/x\x00.enc.yaml")
