"""The Flux corpus: real-world repository layouts written by us, materialized for a test.

Each case under ``cases/`` is a repository tree. Its secrets are committed as plaintext
``*.plain`` sources (test values only); ``materialize`` copies the tree to a temp folder and
encrypts each one with the real sops binary, under the case's own `.sops.yaml` rules, to the
name without ``.plain``. So every SOPS file a test reads was written by sops 3.11.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.conftest import run_sops

CASES = Path(__file__).resolve().parent / "cases"
# Beside a source, ``NAME.plain.sops-args`` holds extra arguments for sops (one per line, e.g.
# ``--age`` and a key when the file's rule names a cloud key sops cannot reach here), and
# ``NAME.plain.keys`` names non-age key entries to add afterwards (``pgp``, ``kms``, …) and
# ``drop-age`` to leave only those: the file is then exactly what sops writes for such keys
# (its MAC covers values, not key entries).
_FORMATS = {".yaml": "yaml", ".yml": "yaml", ".json": "json", ".env": "dotenv"}


def case_names() -> list[str]:
    """Every case, sorted."""
    return sorted(p.name for p in CASES.iterdir() if p.is_dir())


def materialize(name: str, dest: Path) -> Path:
    """Copy case ``name`` to ``dest`` and encrypt its ``*.plain`` sources with the real sops."""
    shutil.copytree(CASES / name, dest)
    for plain in sorted(dest.rglob("*.plain")):
        target = plain.with_suffix("")
        args_file = plain.with_name(plain.name + ".sops-args")
        keys_file = plain.with_name(plain.name + ".keys")
        extra = args_file.read_text().split() if args_file.exists() else []
        fmt = _FORMATS[target.suffix]
        # sops reads the .sops.yaml it finds from its working directory upwards: run it where
        # the file's nearest one is, as a user in that folder would
        home = next(
            (d for d in (target.parent, *target.parent.parents) if (d / ".sops.yaml").is_file()),
            dest,
        )
        rel = target.relative_to(home).as_posix()
        done = run_sops(
            [
                "encrypt",
                "--input-type",
                fmt,
                "--output-type",
                fmt,
                "--filename-override",
                rel,
                *extra,
                str(plain),
            ],
            cwd=home,
        )
        assert done.returncode == 0, f"sops could not encrypt {rel}: {done.stderr}"
        text = done.stdout
        if keys_file.exists():
            text = _with_keys(text, target.suffix, keys_file.read_text().split())
        target.write_text(text, encoding="utf-8")
        for leftover in (plain, args_file, keys_file):
            leftover.unlink(missing_ok=True)
    return dest


def _with_keys(text: str, suffix: str, kinds: list[str]) -> str:
    """The encrypted ``text`` with non-age key entries added (and its age entries dropped)."""
    from dataclasses import replace

    from secretsmgr.sops import dump, format_for_path, load
    from secretsmgr.sops.model import KeyGroup
    from tests.sops.key_types import foreign

    sf = load(text, format_for_path("x" + suffix))
    group = sf.metadata.key_groups[0]
    age = () if "drop-age" in kinds else group.age
    entries = foreign(tuple(k for k in kinds if k != "drop-age"))
    sf.metadata = replace(sf.metadata, key_groups=(KeyGroup(age=age, foreign=entries),))
    return dump(sf)
