"""The line of a key path in YAML, JSON and dotenv texts."""

from __future__ import annotations

from secretsmgr.sops.document import FileFormat
from secretsmgr.sops.locate import find_line, key_lines

MULTI = """# a comment
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: flux-system
spec:
  url: ssh://git@example.org/repo
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: flux-system
  annotations: {a.b/c: "x"}
spec:
  path: ./clusters/prod
  patches:
    - patch: |
        spec: {}
      target:
        kind: Kustomization
stringData:
  config.yaml: |
    password: not-a-key
  list:
    - name: inner
      value: 1
"""


def test_lines_of_dotted_key_paths_per_document() -> None:
    docs = key_lines(MULTI, FileFormat.YAML)
    assert [(d.kind, d.name) for d in docs] == [
        ("GitRepository", "flux-system"),
        ("Kustomization", "flux-system"),
    ]
    assert find_line(docs, "spec") == 6
    assert find_line(docs, "spec", kind="Kustomization", name="flux-system") == 14
    assert find_line(docs, "metadata.annotations.a.b/c") == 13  # a key with dots in it
    assert find_line(docs, "stringData.config.yaml") == 22
    assert find_line(docs, "stringData.list.name") == 25  # sequence items add nothing
    assert find_line(docs, "spec.patches.target.kind") == 20
    assert find_line(docs, "stringData.password") is None  # inside a block scalar: text
    assert find_line(docs, "spec", kind="Secret") is None


def test_json_and_dotenv() -> None:
    text = '{\n  "apiVersion": "v1",\n  "data": {\n    "token": "dg=="\n  }\n}\n'
    assert find_line(key_lines(text, FileFormat.JSON), "data.token") == 4
    env = "# comment\nAPI_KEY=ENC[x]\n\nsops_mac=ENC[y]\n"
    docs = key_lines(env, FileFormat.DOTENV)
    assert (find_line(docs, "API_KEY"), find_line(docs, "sops_mac")) == (2, 4)


def test_a_text_that_does_not_parse_has_no_lines() -> None:
    assert key_lines("key: [unclosed\n", FileFormat.YAML) == []
    assert key_lines("", FileFormat.YAML) == []
    assert find_line([], "a") is None


def test_keys_inside_sequences_are_found_by_their_item_index_too() -> None:
    from secretsmgr.sops.document import FileFormat
    from secretsmgr.sops.locate import key_lines

    text = (
        "spec:\n  containers:\n  - name: a\n    env:\n    - {name: X, value: '1'}\n"
        "    - name: Y\n      value: '2'\n  - name: b\n    args: [p, q]\n    env: []\n"
    )
    (doc,) = key_lines(text, FileFormat.YAML)
    assert doc.lines["spec.containers.0.env.1.value"] == 7
    assert doc.lines["spec.containers.0.env.0.value"] == 5
    assert doc.lines["spec.containers.1.name"] == 8
    assert doc.lines["spec.containers.1.env"] == 10  # after a flow sequence of scalars
    # SOPS key paths name no index: those lines are kept, first one wins
    assert doc.lines["spec.containers.env.value"] == 5
    assert doc.lines["spec.containers.name"] == 3
