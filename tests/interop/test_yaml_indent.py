"""``stores.yaml.indent``: files sops writes with any indent are written back exactly so.

go-yaml puts what a key holds at the next multiple of the indent past the key's column; with
indent 2 a mapping inside a list item (keys two past the dash) nests two columns deeper than
``dash + indent``. We emitted ``dash + indent`` (the key's own column: invalid YAML), so
``encrypt``, ``set``, ``unset`` and ``edit`` refused every file under the onedr0p template's
``indent: 2``, and ``rotate`` wrote the ``sops:`` block at 4 (sweep 16).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import TEST_KEY, run_sops

from secretsmgr import sops
from secretsmgr.repo.sopsconfig import load_sops_config
from tests.cli.runner import run_process
from tests.rotate.helpers import commit_all, subprocess_env

pytestmark = pytest.mark.interop

PUB = "age17m4zztwdtjwv5yastfc6v72cjnsrn7yuxlpmgwgr5c8s52lst4jq9x0tvy"
PLAIN = """\
top: |
  block at top
stringData:
  password: hunter2-in-the-plaintext
list:
  - name: a
    value: |
      block
    nested:
      deeper:
        - x
        - y: 1
          z: |
            zz
          w:
            - |
              seq block
            - - a
              - b: |
                  deep block
  - - inner
    - - innermost
      - k: v
        m: |
          mm
  - |
    block item
  - k: v
    l:
      - 1
  - # c
    k: v
"""


def _config(indent: int) -> str:
    return (
        "creation_rules:\n"
        f"  - age: {PUB}\n"
        "    encrypted_regex: ^password$\n"
        f"stores:\n  yaml:\n    indent: {indent}\n"
    )


@pytest.mark.parametrize("indent", [0, 1, 2, 3, 5, 6, 8, 10])
def test_what_sops_writes_under_an_indent_is_written_back_byte_for_byte(
    tmp_path: Path, indent: int
) -> None:
    # 0 is unset (4); go-yaml takes 2..9 and writes 2 for anything else (the review: indent 0
    # crashed every writer, 1 and 10 were written as given)
    (tmp_path / ".sops.yaml").write_text(_config(indent))
    (tmp_path / "s.yaml").write_text(PLAIN)
    done = run_sops(["encrypt", "s.yaml"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    ours = load_sops_config(tmp_path / ".sops.yaml").yaml_indent
    assert sops.dump(sops.load(done.stdout, sops.FileFormat.YAML), ours) == done.stdout
    env = subprocess_env(SOPS_AGE_KEY_FILE=str(TEST_KEY))
    run_process(["encrypt", "-i", "s.yaml"], cwd=tmp_path, env=env, expect=0)
    assert _shape((tmp_path / "s.yaml").read_text()) == _shape(done.stdout)


def _shape(text: str) -> list[str]:
    """Each key's or list item's line as indent and key (what an indent changes); the
    ciphertexts, the age armor and ``lastmodified`` left out."""
    return [
        line[: len(line) - len(line.lstrip())] + line.strip().split(":")[0]
        for line in text.splitlines()
        if (":" in line or line.strip().startswith("- "))
        and not line.strip().startswith(("ENC[", "-----"))
        and "lastmodified" not in line
    ]


def test_the_writers_keep_a_two_space_indent(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True)
    (repo / ".sops.yaml").write_text(_config(2))
    (repo / "s.yaml").write_text(PLAIN)
    (repo / "theirs.yaml").write_text(PLAIN)
    env = subprocess_env(SOPS_AGE_KEY_FILE=str(TEST_KEY))
    run_process(["encrypt", "-i", "s.yaml"], repo=repo, cwd=repo, env=env, expect=0)
    assert run_sops(["encrypt", "-i", "theirs.yaml"], cwd=repo).returncode == 0
    ours = (repo / "s.yaml").read_text()
    assert "hunter2" not in ours
    assert _shape(ours) == _shape((repo / "theirs.yaml").read_text())

    run_process(
        ["set", "s.yaml", "stringData.password"], repo=repo, cwd=repo, env=env, stdin="b", expect=0
    )
    commit_all(repo, "encrypted")
    run_process(["rotate", "s.yaml", "--reason", "t"], repo=repo, cwd=repo, env=env, expect=0)
    rotated = (repo / "s.yaml").read_text()
    assert _shape(rotated) == _shape(ours)
    opened = run_sops(["decrypt", "s.yaml"], cwd=repo, key_file=TEST_KEY)
    assert opened.returncode == 0, opened.stderr
    theirs = run_sops(["decrypt", "theirs.yaml"], cwd=repo, key_file=TEST_KEY).stdout
    assert opened.stdout == theirs.replace("hunter2-in-the-plaintext", "b")


def test_decrypt_prints_with_the_indent_sops_prints_with(tmp_path: Path) -> None:
    # the interop review of stop 55: `sops -d` prints under stores.yaml.indent, decrypt at 4
    (tmp_path / ".sops.yaml").write_text(_config(2))
    (tmp_path / "s.yaml").write_text(PLAIN)
    assert run_sops(["encrypt", "-i", "s.yaml"], cwd=tmp_path).returncode == 0
    env = subprocess_env(SOPS_AGE_KEY_FILE=str(TEST_KEY))
    ours = run_process(["decrypt", "s.yaml"], cwd=tmp_path, env=env, expect=0).out
    assert ours == run_sops(["decrypt", "s.yaml"], cwd=tmp_path, key_file=TEST_KEY).stdout


@pytest.mark.parametrize("indent", [None, 0, 2, 4])
def test_json_files_keep_the_indent_of_stores_json_indent(
    tmp_path: Path, indent: int | None
) -> None:
    # the interop review of stop 55: encrypt wrote tabs where sops writes stores.json.indent
    # spaces, and set of one value re-indented a whole file sops wrote so
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True)
    stores = "" if indent is None else f"stores:\n  json:\n    indent: {indent}\n"
    (repo / ".sops.yaml").write_text(f"creation_rules:\n  - age: {PUB}\n{stores}")
    plain = '{"a": {"b": "x", "l": [1, {"c": "d"}]}, "pw": "hunter2-zz"}\n'
    (repo / "ours.json").write_text(plain)
    (repo / "theirs.json").write_text(plain)
    env = subprocess_env(SOPS_AGE_KEY_FILE=str(TEST_KEY))
    run_process(["encrypt", "-i", "ours.json"], repo=repo, cwd=repo, env=env, expect=0)
    assert run_sops(["encrypt", "-i", "theirs.json"], cwd=repo).returncode == 0
    ours, theirs = (repo / "ours.json").read_text(), (repo / "theirs.json").read_text()
    assert _json_shape(ours) == _json_shape(theirs)
    for name in ("ours.json", "theirs.json"):
        before = (repo / name).read_text().splitlines()
        run_process(["set", name, "pw"], repo=repo, cwd=repo, env=env, stdin="n3w-pw", expect=0)
        after = (repo / name).read_text().splitlines()
        changed = [b for a, b in zip(before, after, strict=True) if a != b]
        # the value and the mac (and lastmodified, once a second has passed)
        assert 2 <= len(changed) <= 3 and '"pw"' in changed[0], changed
    decrypted = run_process(["decrypt", "theirs.json"], cwd=repo, env=env, expect=0).out
    assert decrypted == run_sops(["decrypt", "theirs.json"], cwd=repo, key_file=TEST_KEY).stdout
    commit_all(repo, "encrypted")
    run_process(["rotate", "theirs.json", "--reason", "t"], repo=repo, cwd=repo, env=env, expect=0)
    assert _json_shape((repo / "theirs.json").read_text()) == _json_shape(theirs)


def _json_shape(text: str) -> list[str]:
    """Each line's indent and first word, the ciphertexts and armor left out."""
    return [
        line[: len(line) - len(line.lstrip())] + line.strip().split(":")[0]
        for line in text.splitlines()
        if "-----" not in line and "lastmodified" not in line
    ]


def _as_sops_writes_it(tmp_path: Path, regex: str, indent: int, plain: str) -> dict[str, str]:
    """``s.yaml``: ``plain`` encrypted by the real sops under ``indent`` and ``regex``, which
    our writer writes back byte for byte and our decrypt prints as ``sops -d`` does; the
    environment that holds the key."""
    (tmp_path / ".sops.yaml").write_text(_config(indent).replace("^password$", regex))
    (tmp_path / "s.yaml").write_text(plain)
    done = run_sops(["encrypt", "s.yaml"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert sops.dump(sops.load(done.stdout, sops.FileFormat.YAML), indent) == done.stdout
    (tmp_path / "s.yaml").write_text(done.stdout)
    env = subprocess_env(SOPS_AGE_KEY_FILE=str(TEST_KEY))
    ours = run_process(["decrypt", "s.yaml"], cwd=tmp_path, env=env, expect=0).out
    assert ours == run_sops(["decrypt", "s.yaml"], cwd=tmp_path, key_file=TEST_KEY).stdout
    return env


LONG = "k" * 131
LONG_KEYS = f"""\
{LONG}:
  a: 1
  b: [x, y]
{LONG}2:
  - p
  - q: 1
    r: 2
{LONG}3: |
  block
  text
{LONG}4: {{}}
{LONG}5: []
"m\\nk":
  x: 1
? {"y" * 1100}
: z
"a\\rb": r
"c\\x85d": s
list:
  - {LONG}: v
    other: w
  - {LONG}9:
      deep: 1
  - - {LONG}: [1]
"""


@pytest.mark.parametrize("indent", [2, 3, 4])
def test_keys_go_yaml_writes_explicitly_are_written_back_byte_for_byte(
    tmp_path: Path, indent: int
) -> None:
    # the interop review of stop 55: a key over 128 bytes or of several lines is `? key`
    # then `: value` in go-yaml; ours were plain keys, and one over 1024 characters made
    # decrypt's output unreadable and set, edit and encrypt refuse the file
    env = _as_sops_writes_it(tmp_path, "^other$", indent, LONG_KEYS)
    run_process(["set", "s.yaml", "list.0.other"], cwd=tmp_path, env=env, stdin="nv", expect=0)
    after = run_sops(["decrypt", "s.yaml"], cwd=tmp_path, key_file=TEST_KEY)
    assert after.returncode == 0 and "other: nv" in after.stdout, after.stderr


BLOCKS = """\
a: "  two-indented\\nbase\\n"
b: "  lead\\nx"
e: " one space\\n"
t: "tab\\t\\nx"
u: "a\\tb\\nc\\td\\n"
v: "\\nstart"
w: "\\n\\nstart\\n"
m:
  n: "  nested\\nz\\n"
  o: "tab\\tx\\ny"
"""


@pytest.mark.parametrize("indent", [2, 4])
def test_block_scalars_go_yaml_writes_with_an_indent_or_a_tab_are_written_so(
    tmp_path: Path, indent: int
) -> None:
    # the write-side review of stop 55: a value of several lines holding a tab, or starting
    # with a space or an empty line, is a literal block in go-yaml (`|4-` naming the indent);
    # decrypt printed it double-quoted, unlike sops -d
    _as_sops_writes_it(tmp_path, "^zzz$", indent, BLOCKS)


def test_extract_prints_with_the_indents_sops_prints_with(tmp_path: Path) -> None:
    # the write-side review of stop 55: --extract of a mapping or a list ignored the indents
    config = _config(2) + "  json:\n    indent: 3\n"
    (tmp_path / ".sops.yaml").write_text(config)
    (tmp_path / "f.yaml").write_text("m:\n  x: 1\n  y: [1, {z: 2}]\nl: [a, [b]]\n")
    (tmp_path / "f.json").write_text('{"m": {"x": 1, "y": [1, {"z": 2}]}, "l": ["a", ["b"]]}\n')
    env = subprocess_env(SOPS_AGE_KEY_FILE=str(TEST_KEY))
    for name in ("f.yaml", "f.json"):
        assert run_sops(["encrypt", "-i", name], cwd=tmp_path).returncode == 0
        for key in ("m", "l"):
            ours = run_process(["decrypt", "--extract", key, name], cwd=tmp_path, env=env).out
            theirs = run_sops(
                ["decrypt", "--extract", f'["{key}"]', name], cwd=tmp_path, key_file=TEST_KEY
            )
            assert ours == theirs.stdout, (name, key)
