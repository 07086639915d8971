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
_FORMATS = {".yaml": "yaml", ".yml": "yaml", ".json": "json", ".env": "dotenv"}


def case_names() -> list[str]:
    """Every case, sorted."""
    return sorted(p.name for p in CASES.iterdir() if p.is_dir())


def materialize(name: str, dest: Path) -> Path:
    """Copy case ``name`` to ``dest`` and encrypt its ``*.plain`` sources with the real sops."""
    shutil.copytree(CASES / name, dest)
    for plain in sorted(dest.rglob("*.plain")):
        target = plain.with_suffix("")
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
                str(plain),
            ],
            cwd=home,
        )
        assert done.returncode == 0, f"sops could not encrypt {rel}: {done.stderr}"
        target.write_text(done.stdout, encoding="utf-8")
        plain.unlink()
    return dest
