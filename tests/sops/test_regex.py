"""Go regular expressions through RE2: what sops accepts, what it refuses, and in linear time."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from secretsmgr.errors import ConfigError, FormatError
from secretsmgr.repo.settings import parse_settings
from secretsmgr.repo.sopsconfig import match_rule, parse_sops_config
from secretsmgr.sops.model import EncryptionRule, RuleKind
from secretsmgr.sops.regex import compile_go, escape
from secretsmgr.sops.rules import encrypted_leaves, path_is_encrypted
from secretsmgr.sops.tree import MapNode

# Checked with a Go program (go1.19 regexp) and, where it matters, with the sops 3.11 binary
# (go1.25: tests/interop/test_go_regex.py).
VALID_IN_GO = [
    (r"((?i)talos|kubernetes)/.*\.ya?ml", "TALOS/x.yml", True),  # flags mid-pattern
    (r"(?i)^SECRET$", "secret", True),
    (r"(?U)a+", "aa", True),  # ungreedy flag
    (r"\z", "a", True),
    (r"\p{Greek}+", "αβ", True),
    (r"\pN", "٣", True),
    (r"[[:alpha:]]", "a", True),
    (r"\Qa.b\E", "a.b", True),
    (r"\Qa.b\E", "axb", False),
    (r"^\w+$", "pässword", False),  # \w is ASCII in Go (Python's re says True)
    (r"\bx", "éx", True),  # \b is ASCII too
    (r"^a$", "a\n", False),  # $ is the end of text only (Python's re says True)
    (r"(?P<name>db)", "db", True),
    (r"(?<name>db)", "db", True),  # Go >= 1.22, which built sops 3.11
    (r"x{,3}", "x{,3}", True),  # not a repetition in Go
]


@pytest.mark.parametrize(("pattern", "text", "expected"), VALID_IN_GO)
def test_go_valid_patterns_compile_and_match_as_go(pattern: str, text: str, expected: bool) -> None:
    assert compile_go(pattern).search(text) is expected


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        (r"(a)\1", "invalid escape sequence: \\1"),  # backreference
        (r"foo(?=bar)", "invalid perl operator: (?="),  # lookahead
        (r"(?<!x)y", "invalid perl operator: (?<!"),  # lookbehind
        (r"\C", "invalid escape sequence: \\C"),  # RE2 only: any byte
        (r"a\Z", "invalid escape sequence: \\Z"),
        (r"(?x)a", "invalid perl operator: (?x"),
        (r"a**", "bad repetition operator: **"),
        (r"a{1001}", "invalid repetition size: {1001}"),
        (r"(a", "missing ): (a"),
    ],
)
def test_patterns_go_refuses_are_refused_with_the_reason(pattern: str, reason: str) -> None:
    with pytest.raises(FormatError) as info:
        compile_go(pattern)
    assert info.value.message == reason


def test_c_escape_inside_quoted_text_is_literal() -> None:
    assert compile_go(r"\Q\C\E").search(r"x\Cy")


def test_a_refused_pattern_writes_nothing_to_stderr() -> None:
    # RE2 logs parse errors to stderr unless told not to; a CI log must stay clean.
    code = (
        "from secretsmgr.sops.regex import compile_go\n"
        "try:\n    compile_go('(a)\\\\1')\nexcept Exception:\n    pass\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.stderr == ""


def test_escape_makes_every_ascii_character_literal() -> None:
    text = "".join(chr(c) for c in range(1, 128)) + "ä€"
    assert compile_go(escape(text)).fullmatch(text)


# ----------------------------------------------------------------------------- where it is used


def _config(rules: str) -> str:
    return f"creation_rules:\n{rules}"


def test_sops_config_accepts_an_re2_only_path_regex(tmp_path: Path) -> None:
    text = _config(
        "  - path_regex: ((?i)talos|kubernetes)/.*\\.ya?ml\n"
        "    encrypted_regex: ((?i)data|stringdata)$\n"
        "    age: age17m4zztwdtjwv5yastfc6v72cjnsrn7yuxlpmgwgr5c8s52lst4jq9x0tvy\n"
    )
    config = parse_sops_config(text, tmp_path / ".sops.yaml")
    rule = match_rule(config, tmp_path / "Kubernetes" / "apps" / "db.yaml")
    assert rule is config.rules[0]
    assert match_rule(config, tmp_path / "ansible" / "db.yaml") is None


@pytest.mark.parametrize(
    ("field", "pattern", "reason"),
    [
        ("path_regex", r"secrets/(?!public).*", "invalid perl operator: (?!"),
        ("encrypted_regex", r"^(data)\1$", "invalid escape sequence: \\1"),
        ("unencrypted_comment_regex", r"\C", "invalid escape sequence: \\C"),
    ],
)
def test_sops_config_names_file_rule_and_field_of_a_regex_go_refuses(
    tmp_path: Path, field: str, pattern: str, reason: str
) -> None:
    path = tmp_path / ".sops.yaml"
    text = _config(
        f"  - path_regex: ^first/\n    age: age1x\n  - {field}: '{pattern}'\n    age: age1y\n"
    )
    with pytest.raises(ConfigError) as info:
        parse_sops_config(text, path)
    assert info.value.message == f"{path}: creation rule 2 has an invalid {field}: {reason}"
    assert info.value.exit_code == 2


def test_metadata_regex_go_refuses_is_malformed_metadata() -> None:
    from secretsmgr.sops.metadata import parse_metadata

    node = MapNode(
        [
            ("lastmodified", "2026-01-01T00:00:00Z"),
            ("mac", "ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]"),
            ("encrypted_regex", "^(?=data)"),
            ("version", "3.11.0"),
        ]
    )
    with pytest.raises(FormatError) as info:
        parse_metadata(node)
    assert info.value.message == (
        "sops metadata: encrypted_regex is not a valid Go regular expression: "
        "invalid perl operator: (?="
    )


def test_encryption_rules_use_go_semantics() -> None:
    rule = EncryptionRule(RuleKind.ENCRYPTED_REGEX, r"^\w+word$")
    tree = MapNode([("password", "a"), ("pässword", "b")])
    assert [p for p, _ in encrypted_leaves(tree, rule)] == [("password",)]
    # (?i) holds from where it stands to the end of its group (checked with Go's regexp)
    mid_flags = EncryptionRule(RuleKind.UNENCRYPTED_REGEX, r"^(name|(?i)public)$")
    assert not path_is_encrypted(mid_flags, ("PUBLIC",))
    assert path_is_encrypted(mid_flags, ("Name",))
    assert not path_is_encrypted(mid_flags, ("name",))


def test_a_broken_ignore_glob_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as info:
        parse_settings("ignore:\n  - rule: SM001\n    path: 'a/[z-a]'\n    reason: x\n")
    assert "a/[z-a]" in info.value.message
