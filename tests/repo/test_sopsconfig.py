from __future__ import annotations

from pathlib import Path

import pytest

from secretsmgr.errors import ConfigError
from secretsmgr.repo.sopsconfig import (
    CreationRule,
    EncryptionRuleSpec,
    KeyGroupSpec,
    all_age_recipients,
    config_relative_path,
    find_sops_config,
    load_sops_config,
    match_rule,
    parse_sops_config,
)

from .helpers import KEY_A, KEY_B, KEY_C

CFG = Path("/repo/.sops.yaml")


def test_flat_age_string_is_comma_separated() -> None:
    text = f"""
creation_rules:
  - path_regex: \\.enc\\.yaml$
    encrypted_regex: ^(data|stringData)$
    age: "{KEY_A}, {KEY_B},{KEY_A}"
"""
    config = parse_sops_config(text, CFG)
    assert config.path == CFG
    assert config.rules == (
        CreationRule(
            path_regex=r"\.enc\.yaml$",
            key_groups=(KeyGroupSpec(age=(KEY_A, KEY_B)),),
            shamir_threshold=0,
            encryption_rule=EncryptionRuleSpec("encrypted_regex", "^(data|stringData)$"),
            mac_only_encrypted=False,
        ),
    )
    assert (config.yaml_indent, config.json_indent) == (4, -1)


def test_flat_age_list_pgp_and_other_key_types() -> None:
    text = f"""
creation_rules:
  - age: [{KEY_A}, {KEY_B}]
    pgp: "FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4"
    kms: "arn:aws:kms:us-east-1:1:key/a,arn:aws:kms:us-east-1:1:key/b"
    hc_vault_transit_uri: "https://vault:8200/v1/sops/keys/k"
    mac_only_encrypted: true
    shamir_threshold: 2
"""
    (rule,) = parse_sops_config(text, CFG).rules
    assert rule.path_regex is None
    assert rule.key_groups == (
        KeyGroupSpec(
            age=(KEY_A, KEY_B),
            pgp=("FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4",),
            other=(
                "arn:aws:kms:us-east-1:1:key/a",
                "arn:aws:kms:us-east-1:1:key/b",
                "https://vault:8200/v1/sops/keys/k",
            ),
        ),
    )
    assert rule.mac_only_encrypted is True
    assert rule.shamir_threshold == 2
    assert rule.encryption_rule is None


def test_key_groups_with_merge_win_over_flat_keys() -> None:
    text = f"""
admins: &admins
  age: [{KEY_A}]
creation_rules:
  - path_regex: prod/
    age: {KEY_C}
    key_groups:
      - merge:
          - *admins
          - age: [{KEY_B}, {KEY_A}]
        age: [{KEY_C}, {KEY_B}]
        kms:
          - arn: arn:aws:kms:eu-west-1:1:key/x
            role: arn:aws:iam::1:role/r
      - age: [{KEY_B}]
        pgp: [ABCDEF]
"""
    (rule,) = parse_sops_config(text, CFG).rules
    assert rule.key_groups == (
        KeyGroupSpec(age=(KEY_A, KEY_B, KEY_C), other=("arn:aws:kms:eu-west-1:1:key/x",)),
        KeyGroupSpec(age=(KEY_B,), pgp=("ABCDEF",)),
    )
    assert all_age_recipients(rule) == (KEY_A, KEY_B, KEY_C)


def test_empty_key_groups_falls_back_to_flat_keys() -> None:
    (rule,) = parse_sops_config(f"creation_rules: [{{age: {KEY_A}, key_groups: []}}]", CFG).rules
    assert all_age_recipients(rule) == (KEY_A,)


def test_stores_indent_is_read() -> None:
    config = parse_sops_config("stores:\n  yaml: {indent: 2}\n  json: {indent: 3}\n", CFG)
    assert (config.yaml_indent, config.json_indent) == (2, 3)
    assert config.rules == ()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "creation_rules:\n  - encrypted_regex: ^data$\n    unencrypted_suffix: _plain\n",
            "creation rule 1 sets more than one encryption rule",
        ),
        ("creation_rules: [{path_regex: '(unclosed'}]", "invalid path_regex"),
        ("creation_rules: {a: 1}", "creation_rules must be a list"),
        ("creation_rules: [{age: 5}]", "age must be a string or a list of strings"),
        ("creation_rules: [{shamir_threshold: two}]", "shamir_threshold must be an integer"),
        ("creation_rules: [{mac_only_encrypted: 'yes'}]", "mac_only_encrypted must be true"),
        ("creation_rules:\n  - age: [\n", "malformed YAML"),
        ("- just\n- a list\n", "must be a mapping"),
    ],
)
def test_malformed_config_is_a_config_error_naming_the_file(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        parse_sops_config(text, CFG)
    assert info.value.message.startswith("/repo/.sops.yaml: ")


def test_an_empty_encryption_rule_value_counts_as_unset() -> None:
    text = "creation_rules:\n  - encrypted_regex: ''\n    unencrypted_suffix: _plain\n"
    (rule,) = parse_sops_config(text, CFG).rules
    assert rule.encryption_rule == EncryptionRuleSpec("unencrypted_suffix", "_plain")


RULES = f"""
creation_rules:
  - path_regex: ^gitops/apps/.*\\.enc\\.yaml$
    age: {KEY_A}
  - path_regex: \\.enc\\.yaml$
    age: {KEY_B}
  - age: {KEY_C}
"""


def test_path_regex_matches_the_path_relative_to_the_config_folder() -> None:
    config = parse_sops_config(RULES, CFG)
    rule = match_rule(config, Path("/repo/gitops/apps/db.enc.yaml"))
    assert rule is not None
    assert all_age_recipients(rule) == (KEY_A,)


def test_first_matching_rule_wins_and_a_rule_without_regex_matches_all() -> None:
    config = parse_sops_config(RULES, CFG)
    infra = match_rule(config, Path("/repo/gitops/infra/x.enc.yaml"))
    other = match_rule(config, Path("/repo/notes/readme.yaml"))
    assert infra is config.rules[1]
    assert other is config.rules[2]


def test_no_rule_matches_without_a_catch_all() -> None:
    config = parse_sops_config(f"creation_rules: [{{path_regex: ^only/, age: {KEY_A}}}]", CFG)
    assert match_rule(config, Path("/repo/elsewhere/x.yaml")) is None
    assert match_rule(config, Path("/repo/only/x.yaml")) is config.rules[0]


def test_a_file_outside_the_config_folder_matches_on_its_absolute_path() -> None:
    config = parse_sops_config(f"creation_rules: [{{path_regex: ^/other/, age: {KEY_A}}}]", CFG)
    assert config_relative_path(config, Path("/other/x.yaml")) == "/other/x.yaml"
    assert match_rule(config, Path("/other/x.yaml")) is config.rules[0]
    assert config_relative_path(config, Path("/repo/sub/../x.yaml")) == "x.yaml"


def test_find_sops_config_walks_up_and_honours_stop_at(tmp_path: Path) -> None:
    deep = tmp_path / "repo" / "gitops" / "apps" / "db"
    deep.mkdir(parents=True)
    top = tmp_path / "repo" / ".sops.yaml"
    top.write_text("creation_rules: []\n")
    assert find_sops_config(deep) == top

    nearer = tmp_path / "repo" / "gitops" / ".sops.yaml"
    nearer.write_text("creation_rules: []\n")
    assert find_sops_config(deep) == nearer

    nearer.unlink()
    assert find_sops_config(deep, stop_at=tmp_path / "repo" / "gitops") is None


def test_find_sops_config_ignores_sops_yml(tmp_path: Path) -> None:
    (tmp_path / ".sops.yml").write_text("creation_rules: []\n")
    assert find_sops_config(tmp_path, stop_at=tmp_path) is None


def test_load_sops_config_reads_the_file(tmp_path: Path) -> None:
    path = tmp_path / ".sops.yaml"
    path.write_text(RULES)
    config = load_sops_config(path)
    assert len(config.rules) == 3
    assert match_rule(config, tmp_path / "gitops/apps/a.enc.yaml") is config.rules[0]
    with pytest.raises(ConfigError, match="cannot read"):
        load_sops_config(tmp_path / "missing" / ".sops.yaml")


def test_a_glob_read_as_an_alias_says_to_quote_it() -> None:
    """sweep 46, Sapp00/home-lab: `path_regex: *.yaml$` failed with "unknown or recursive
    alias" and no word of why."""
    with pytest.raises(ConfigError) as err:
        parse_sops_config("creation_rules:\n  - path_regex: *.yaml$\n    age: x\n", CFG)
    assert "unknown or recursive alias at line 2" in err.value.message
    assert err.value.hints == ("a plain value that starts with * is read as an alias: quote it",)
