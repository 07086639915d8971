"""The `.secretsmgr.yaml` JSON Schema, our validator and the settings loader agree.

The ``jsonschema`` package (test extra) is the judge of the schema; ``secretsmgr.repo.schema``
must give the same verdict on every document, and the loader must never accept a document the
schema rejects (it may refuse more: checksums, next_cluster_key without cluster_key).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from secretsmgr.errors import ConfigError
from secretsmgr.repo.schema import SCHEMA_FILE, describe, settings_schema, validate
from secretsmgr.repo.settings import parse_settings
from secretsmgr.sops.yamlio import safe_load_all
from tests.conftest import ROOT

from .helpers import KEY_A, KEY_B, KEY_C

JUDGE = jsonschema.Draft202012Validator(settings_schema())


def judged_valid(doc: object) -> bool:
    return JUDGE.is_valid(doc)


def ours_valid(doc: object) -> bool:
    try:
        validate(doc, ".secretsmgr.yaml")
    except ConfigError:
        return False
    return True


def loader_accepts(text: str) -> bool:
    try:
        parse_settings(text)
    except ConfigError:
        return False
    return True


def test_the_schema_is_a_valid_draft_2020_12_schema_shipped_as_package_data() -> None:
    jsonschema.Draft202012Validator.check_schema(settings_schema())
    assert SCHEMA_FILE.parent.name == "repo"
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert "repo/*.json" in pyproject


def test_the_schema_names_every_setting_the_loader_reads() -> None:
    from secretsmgr.repo.settings import Settings

    properties = settings_schema()["properties"]
    assert isinstance(properties, dict)
    assert set(properties) == set(Settings.__dataclass_fields__)


DOCUMENTS = [
    "",
    f"cluster_key: {KEY_A}\n",
    f"cluster_key: {KEY_A}\nnext_cluster_key: {KEY_B}\nallowed_recipients: [{KEY_C}]\n",
    "max_age_days: 30\nchangelog: ops/log.jsonl\n",
    "ignore:\n  - {rule: SM009, path: 'tests/*.agekey', reason: test keys}\n",
    "ignore:\n  - {rule: SM018, path: 'apps/**', reason: tags, key_path: spec.*.tag}\n",
    "ignore:\n  - {rule: SM018, path: 'apps/**', reason: tags, key_path: ' '}\n",
    "ignore:\n  - {rule: SM018, path: 'apps/**', reason: tags, key_path: [a]}\n",
    f"clusters:\n  prod: {{path: clusters/prod, cluster_key: {KEY_A}, context: prod}}\n",
    "clusters:\n  prod: {path: clusters/prod}\n",
    "sources:\n  OCIRepository/flux-system/cluster: kubernetes/\n",
    "outside_flux: [talos/**, ansible/**]\n",
    "allowed_recipients: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHdQ test@host']\n",
    "allowed_recipients:\nignore:\nclusters:\nsources:\noutside_flux:\ncluster_key:\n",
    # rejected
    "cluster-key: x\n",
    "max_age_days: 0\n",
    "max_age_days: 1.5\n",
    "max_age_days: '30'\n",
    "max_age_days:\n",
    "changelog:\n",
    "changelog: '   '\n",
    "ignore: {}\n",
    "ignore:\n  - {rule: SM9, path: a, reason: r}\n",
    "ignore:\n  - {rule: SM009, path: a}\n",
    "ignore:\n  - {rule: SM009, path: a, reason: r, extra: 1}\n",
    "ignore:\n  - rule\n",
    "clusters:\n  prod: {cluster_key: null}\n",
    "clusters:\n  prod: clusters/prod\n",
    "clusters:\n  prod: {path: p, context: [a]}\n",
    "sources:\n  flux-system/cluster: k/\n",
    "sources:\n  OCIRepository/a/b: /abs\n",
    "sources:\n  OCIRepository/a/b: a/../../x\n",
    "outside_flux: [1]\n",
    "outside_flux: ['']\n",
    "allowed_recipients: nope\n",
    f"allowed_recipients: [{KEY_A}, 3]\n",
    "cluster_key: AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ\n",
]


@pytest.mark.parametrize("text", DOCUMENTS)
def test_our_validator_the_judge_and_the_loader_agree(text: str) -> None:
    docs = safe_load_all(text)
    doc = docs[0] if docs and docs[0] is not None else {}
    assert ours_valid(doc) == judged_valid(doc), JUDGE.iter_errors(doc)
    if loader_accepts(text):
        assert judged_valid(doc)
    if not judged_valid(doc):
        assert not loader_accepts(text)


# Documents built from the schema's own vocabulary, right and wrong.
_KEYS = [KEY_A, KEY_B, " " + KEY_C, KEY_A[:-1], "age1", "ssh-ed25519 AAAA", "ssh-rsa", "ssh-rsa  B"]
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 200),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.sampled_from(
        [*_KEYS, "", " ", "SM001", "SM0001", "talos/**", "../x", "/x", "ok/", "OCIRepository/a/b"]
    ),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.sampled_from(
                [
                    "rule",
                    "path",
                    "reason",
                    "key_path",
                    "cluster_key",
                    "context",
                    "x",
                    "OCIRepository/a/b",
                    "",
                ]
            ),
            inner,
            max_size=4,
        ),
    ),
    max_leaves=8,
)
_DOCS = st.dictionaries(
    st.sampled_from([*settings_schema()["properties"], "unknown", "cluster-key"]),  # type: ignore[list-item]
    _VALUES,
    max_size=4,
)


@given(_DOCS)
def test_on_any_document_our_validator_says_what_jsonschema_says(doc: dict[str, object]) -> None:
    assert ours_valid(doc) == judged_valid(doc)


def test_messages_name_the_place_of_the_error() -> None:
    assert describe(("ignore", 1, "reason")) == "ignore entry 2: reason"
    assert describe(("clusters", "prod", "path")) == "clusters.prod.path"
    assert describe(("allowed_recipients", 0)) == "allowed_recipients entry 1"
    assert describe(()) == ""


def _yaml_blocks(page: Path) -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", page.read_text(encoding="utf-8"), re.DOTALL)


def test_every_example_of_the_configuration_reference_is_valid() -> None:
    page = ROOT / "docs" / "configuration.md"
    blocks = [b for b in _yaml_blocks(page) if "# invalid" not in b]
    assert len(blocks) >= 10
    for block in blocks:
        docs = safe_load_all(block)
        doc = docs[0] if docs and docs[0] is not None else {}
        assert judged_valid(doc), block
        parse_settings(block)  # raises if the loader disagrees


def test_the_settings_files_of_this_project_are_valid() -> None:
    for path in [ROOT / ".secretsmgr.yaml", *ROOT.glob("fixtures/*/.secretsmgr.yaml")]:
        doc = safe_load_all(path.read_text(encoding="utf-8"))[0]
        assert judged_valid(json.loads(json.dumps(doc))), path
