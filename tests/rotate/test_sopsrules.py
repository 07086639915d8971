"""`.sops.yaml` text edits of the cluster-key rotation (rotate/sopsrules.py).

``add_beside`` (begin) and ``switch`` (finish) in every form sops reads age keys in; the
result of each is also read back by the real sops elsewhere (tests/rotate/test_cluster_key.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from secretsmgr.errors import ConfigError
from secretsmgr.repo.sopsconfig import all_age_recipients, parse_sops_config
from secretsmgr.rotate.sopsrules import add_beside, switch

OLD = "age1fq08vpk2qf5wmz4cg6w5uzqt2hqrz56dzp25pj57nrx606073frqc0n3qw"
ADMIN = "age1xfmf59p8t2m533vyfcv79rau54eahzeyudzsavganjpee5nakehqe2jp0u"
NEW = "age1wk59fr3he9n3qw722fh85e6udyj2geqwcfu5anaql9xd2dam0c0qfp8vss"
PATH = Path(".sops.yaml")


def rules(text: str) -> list[set[str]]:
    return [set(all_age_recipients(r)) for r in parse_sops_config(text, PATH).rules]


def roundtrip(text: str) -> tuple[str, str]:
    """(after begin, after finish); begin again changes nothing."""
    added = add_beside(text, PATH, OLD, NEW)
    assert added is not None
    assert add_beside(added, PATH, OLD, NEW) is None
    switched = switch(added, PATH, OLD, NEW)
    assert switched is not None
    assert rules(switch(text, PATH, OLD, NEW) or "") == rules(switched)  # finish without begin
    return added, switched


FLAT = f"""# sops rules
creation_rules:
  # the databases
  - path_regex: db/.*  # first match wins
    encrypted_regex: ^(data|stringData)$
    age: {OLD},{ADMIN}  # cluster, admin
  - path_regex: quoted/.*
    age: '{OLD}'
  - path_regex: admin/.*
    age: {ADMIN}
"""


def test_flat_string_forms_keep_comments_order_and_quotes() -> None:
    added, switched = roundtrip(FLAT)
    assert added == FLAT.replace(f"{OLD},", f"{OLD},{NEW},").replace(f"'{OLD}'", f"'{OLD},{NEW}'")
    assert rules(added) == [{OLD, NEW, ADMIN}, {OLD, NEW}, {ADMIN}]
    assert switched == FLAT.replace(OLD, NEW)
    assert rules(switched) == [{NEW, ADMIN}, {NEW}, {ADMIN}]


def test_folded_string_as_in_the_sops_docs() -> None:
    text = f"creation_rules:\n  - path_regex: .*\n    age: >-\n      {ADMIN},\n      {OLD}\n"
    added, switched = roundtrip(text)
    assert added == text.replace(OLD, f"{OLD},{NEW}")
    assert switched == text.replace(OLD, NEW)


def test_key_groups_in_block_lists_get_a_line_of_their_own_crlf_kept() -> None:
    text = (
        "creation_rules:\r\n  - path_regex: .*\r\n    shamir_threshold: 1\r\n"
        f"    key_groups:\r\n      - age:\r\n          - {OLD}  # the cluster\r\n"
        f'          - "{ADMIN}"\r\n      - age:\r\n          - {ADMIN}\r\n'
    )
    added, switched = roundtrip(text)
    assert added == text.replace("# the cluster\r\n", f"# the cluster\r\n          - {NEW}\r\n")
    assert rules(added) == [{OLD, NEW, ADMIN}]
    groups = parse_sops_config(added, PATH).rules[0].key_groups
    assert [set(g.age) for g in groups] == [{OLD, NEW, ADMIN}, {ADMIN}]  # the same group
    assert switched == text.replace(f"{OLD}  # the cluster", NEW)  # the old key's line goes
    assert switch(text, PATH, OLD, NEW) == text.replace(OLD, NEW)
    assert "\n" not in switched.replace("\r\n", "")


def test_flow_lists() -> None:
    text = f"creation_rules:\n  - key_groups: [{{age: [{OLD}, {ADMIN}]}}]\n"
    added, switched = roundtrip(text)
    assert rules(added) == [{OLD, NEW, ADMIN}]
    assert switched == text.replace(OLD, NEW)
    last = f"creation_rules:\n  - age: [{ADMIN}, {OLD}]\n"
    assert switch(add_beside(last, PATH, OLD, NEW) or "", PATH, OLD, NEW) == last.replace(OLD, NEW)


def test_aliases_are_followed_to_their_anchor() -> None:
    text = (
        f"keys:\n  - &flux {OLD}\n  - &admin {ADMIN}\ncreation_rules:\n"
        "  - path_regex: a/.*\n    key_groups:\n      - age:\n"
        "          - *flux\n          - *admin\n"
        "  - path_regex: b/.*\n    key_groups:\n      - age:\n          - *flux\n"
    )
    added = add_beside(text, PATH, OLD, NEW)
    assert added is not None
    assert added.count(f"          - {NEW}\n") == 2
    assert rules(added) == [{OLD, NEW, ADMIN}, {OLD, NEW}]
    switched = switch(added, PATH, OLD, NEW)
    assert switched is not None and rules(switched) == [{NEW, ADMIN}, {NEW}]
    assert "*flux" not in switched
    # straight from the old key alone: the anchor itself is switched
    direct = switch(text, PATH, OLD, NEW)
    assert direct == text.replace(f"&flux {OLD}", f"&flux {NEW}")


def test_a_rule_naming_the_new_key_already_is_left_alone() -> None:
    text = f"creation_rules:\n  - age: {OLD},{NEW}\n  - age: {OLD}\n"
    added = add_beside(text, PATH, OLD, NEW)
    assert added == f"creation_rules:\n  - age: {OLD},{NEW}\n  - age: {OLD},{NEW}\n"
    assert add_beside(f"creation_rules:\n  - age: {OLD},{NEW}\n", PATH, OLD, NEW) is None


def test_nothing_to_do_without_the_old_key() -> None:
    text = f"# {OLD} was the key once\ncreation_rules:\n  - age: {ADMIN}\n"
    assert add_beside(text, PATH, OLD, NEW) is None
    assert switch(text, PATH, OLD, NEW) is None
    assert add_beside("creation_rules: []\n", PATH, OLD, NEW) is None


def test_comments_naming_the_key_are_not_touched() -> None:
    text = f"creation_rules:\n  # {OLD} is the cluster\n  - age: {OLD}  # {OLD}\n"
    added = add_beside(text, PATH, OLD, NEW)
    assert added == f"creation_rules:\n  # {OLD} is the cluster\n  - age: {OLD},{NEW}  # {OLD}\n"


def test_flat_fields_beside_key_groups_are_ignored_as_sops_does() -> None:
    text = f"creation_rules:\n  - age: {OLD}\n    key_groups:\n      - age:\n          - {ADMIN}\n"
    assert add_beside(text, PATH, OLD, NEW) is None


def test_a_bom_and_a_missing_final_newline() -> None:
    text = f"\ufeffcreation_rules:\n  - age:\n      - {OLD}"
    added = add_beside(text, PATH, OLD, NEW)
    assert added == f"\ufeffcreation_rules:\n  - age:\n      - {OLD}\n      - {NEW}\n"
    assert (
        switch(added or "", PATH, OLD, NEW) == f"\ufeffcreation_rules:\n  - age:\n      - {NEW}\n"
    )


def test_a_form_it_cannot_edit_is_refused_with_a_hint() -> None:
    # an alias used as the whole flat string: no place to add a key without touching the anchor
    text = f"x: &flux {OLD}\ncreation_rules:\n  - path_regex: a\n    age: *flux\n  - age: {ADMIN}\n"
    with pytest.raises(ConfigError) as caught:
        add_beside(text, PATH, OLD, NEW)
    assert caught.value.message == (
        ".sops.yaml: could not add age1wk59…8vss beside age1fq08…n3qw in creation rule 1 "
        "automatically"
    )
    assert caught.value.hints == (
        f"add {NEW} beside {OLD} in its age keys by hand, then run the step again",
    )
