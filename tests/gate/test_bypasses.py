"""The gate parses, it does not grep: every way past the old pre-filters is a finding now."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from secretsmgr.audit.engine import run_audit
from secretsmgr.keys.age import generate_identity
from tests.audit.helpers import standard_repo, write

SECRET_KEY, SECRET_PUBLIC = generate_identity()

TAIL = "metadata:\n  name: s\nstringData:\n  pw: hunter2\n"
SM001_BYPASSES = {
    "flow-style": "{apiVersion: v1, kind: Secret, metadata: {name: s}, data: {pw: aGk=}}\n",
    "space-before-colon": "apiVersion: v1\nkind : Secret\nmetadata:\n  name: s\n"
    "stringData:\n  pw: hunter2\n",
    "quoted-key": 'apiVersion: v1\n"kind": Secret\n' + TAIL,
    "str-tag": "apiVersion: v1\nkind: !!str Secret\n" + TAIL,
    "escaped": 'apiVersion: v1\nkind: "Secr\\x65t"\n' + TAIL,
    "unicode-escape": 'apiVersion: v1\nkind: "\\u0053ecret"\n' + TAIL,
    "anchor": "x: &k Secret\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n"
    "stringData:\n  pw: hunter2\n",
    "indented-kind": "  apiVersion: v1\n  kind: Secret\n  metadata:\n    name: s\n"
    "  stringData:\n    pw: hunter2\n",
    "list": "apiVersion: v1\nkind: List\nitems:\n  - apiVersion: v1\n    kind: Secret\n"
    "    metadata:\n      name: s\n    stringData:\n      pw: hunter2\n",
    "utf16": None,  # built below: the same Secret, UTF-16 with a BOM
    # built below: one byte of Windows-1252 in a comment (the attack review of sweep 93: not
    # UTF-8, so read as nothing, and the Secret passed)
    "latin1-comment": None,
    # the pre-filter that spares a parse of files that only say secretRef or ExternalSecret
    # must let each of these through
    "comment-before-value": "apiVersion: v1\nkind: # the core kind\n  Secret\n" + TAIL,
    "value-on-next-line": "apiVersion: v1\nkind:\n  'Secret'\n" + TAIL,
    "verbatim-tag": "apiVersion: v1\nkind: !<tag:yaml.org,2002:str> Secret\n" + TAIL,
    "alias": "x: &k Secret\napiVersion: v1\nkind: *k\n" + TAIL,
    "complex-key": "apiVersion: v1\n? kind\n: Secret\n" + TAIL,
    "json-spacing": '{"apiVersion": "v1", "kind" :\n "Secret", "stringData": {"pw": "hunter2"}}\n',
    # from the review of that pre-filter: spellings a pattern for "kind: Secret" missed
    "literal-strip": "apiVersion: v1\nkind: |-\n  Secret\n" + TAIL,
    "folded-strip": "apiVersion: v1\nkind: >-\n  Secret\n" + TAIL,
    "tag-plus": "apiVersion: v1\nkind: !a+b Secret\n" + TAIL,
    "tag-named-handle": "%TAG !e! tag:yaml.org,2002:\n---\napiVersion: v1\nkind: !e!str Secret\n"
    + TAIL,
    "tag-then-comment": "apiVersion: v1\nkind: !!str # c\n  Secret\n" + TAIL,
    "anchor-then-comment": "apiVersion: v1\nkind: &a # c\n  Secret\n" + TAIL,
    "alias-key": "apiVersion: v1\nmetadata: {name: &k kind}\n*k : Secret\n"
    "stringData:\n  pw: hunter2\n",
    "flow-explicit-key-comment": "{apiVersion: v1, ? kind # c\n : Secret, "
    "stringData: {pw: hunter2}}\n",
}


@pytest.mark.parametrize("case", sorted(SM001_BYPASSES))
def test_sm001_finds_a_plaintext_secret_however_it_is_written(case: str, tmp_path: Path) -> None:
    text = SM001_BYPASSES[case]
    standard_repo(tmp_path, {})
    if text is None:
        plain = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  pw: hunter2\n"
        (tmp_path / "apps").mkdir(exist_ok=True)
        data = (
            plain.replace("metadata:", "# owner: Ren\xe9\nmetadata:").encode("cp1252")
            if case == "latin1-comment"
            else plain.encode("utf-16")
        )
        (tmp_path / "apps" / "s.yaml").write_bytes(data)
    else:
        write(tmp_path, "apps/s.yaml", text)
    report = run_audit(tmp_path, keyless_only=True)
    found = [(f.rule, f.path) for f in report.findings]
    assert ("SM001", "apps/s.yaml") in found, found
    assert report.fails(report.findings[0].severity)
    for f in report.findings:
        assert "hunter2" not in f.message


def test_sm001_names_list_items_by_key_path(tmp_path: Path) -> None:
    standard_repo(tmp_path, {"apps/s.yaml": SM001_BYPASSES["list"]})
    report = run_audit(tmp_path, keyless_only=True)
    assert [f.key_path for f in report.findings if f.rule == "SM001"] == ["items.0.stringData.pw"]


def test_sm001_json_with_escapes(tmp_path: Path) -> None:
    standard_repo(tmp_path, {})
    write(
        tmp_path,
        "apps/s.json",
        '{"apiVersion": "v1", "kind": "\\u0053ecret", "data": {"k": "dg=="}}',
    )
    report = run_audit(tmp_path, keyless_only=True)
    assert ("SM001", "apps/s.json") in {(f.rule, f.path) for f in report.findings}


def test_secret_generator_literals_are_plaintext_secrets(tmp_path: Path) -> None:
    standard_repo(tmp_path, {})
    write(
        tmp_path,
        "apps/kustomization.yaml",
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        "secretGenerator:\n  - name: db\n    literals:\n      - password=hunter2\n"
        "      - user=${DB_USER}\n      - empty=\n",
    )
    report = run_audit(tmp_path, keyless_only=True)
    hits = [f for f in report.findings if f.rule == "SM001"]
    assert [(f.path, f.key_path) for f in hits] == [
        ("apps/kustomization.yaml", "secretGenerator.0.literals.password")
    ]
    assert "hunter2" not in hits[0].message and "db.enc.env" in (hits[0].fix or "")


def test_configmap_and_sealed_secret_are_no_sm001(tmp_path: Path) -> None:
    standard_repo(
        tmp_path,
        {
            "apps/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n"
            "data:\n  note: Secret\\n\n",
            "apps/list.yaml": "apiVersion: v1\nkind: List\nitems:\n  - apiVersion: v1\n"
            "    kind: ConfigMap\n    metadata: {name: c}\n    data: {a: b}\n",
        },
    )
    report = run_audit(tmp_path, keyless_only=True)
    assert not [f for f in report.findings if f.rule == "SM001"]


def _keyfile() -> bytes:
    return f"# created: 2026-01-01\n# public key: {SECRET_PUBLIC}\n{SECRET_KEY}\n".encode()


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(SECRET_KEY.lower().encode() + b"\n", id="lowercase"),
        pytest.param(b"k: " + base64.b64encode(_keyfile()) + b"\n", id="base64"),
        pytest.param(b"k: " + base64.b64encode(b"ab" + _keyfile()) + b"\n", id="base64-shifted"),
        pytest.param(
            b"k: |\n"
            + b"".join(b"  " + ln + b"\n" for ln in base64.encodebytes(_keyfile()).split()),
            id="base64-wrapped",
        ),
        pytest.param(
            b"k: " + base64.b64encode(SECRET_KEY.lower().encode()) + b"\n", id="base64-lowercase"
        ),
    ],
)
def test_sm009_finds_disguised_private_keys(content: bytes, tmp_path: Path) -> None:
    standard_repo(tmp_path, {})
    (tmp_path / "notes.yaml").write_bytes(content)
    report = run_audit(tmp_path, keyless_only=True)
    hits = [f for f in report.findings if f.rule == "SM009"]
    assert [f.path for f in hits] == ["notes.yaml"]
    assert SECRET_PUBLIC[:7] in hits[0].message
    assert SECRET_KEY not in hits[0].message and SECRET_KEY.lower() not in hits[0].message


def test_sm009_lowercase_key_really_is_a_key() -> None:
    import pyrage

    ident = pyrage.x25519.Identity.from_str(SECRET_KEY.lower())
    assert str(ident.to_public()) == SECRET_PUBLIC


def test_sm009_ignores_random_base64(tmp_path: Path) -> None:
    standard_repo(tmp_path, {})
    write(
        tmp_path, "notes.yaml", "k: " + base64.b64encode(b"AGE-SECRET-KEY-1" + b"X" * 58).decode()
    )
    report = run_audit(tmp_path, keyless_only=True)
    assert not [f for f in report.findings if f.rule == "SM009"]
