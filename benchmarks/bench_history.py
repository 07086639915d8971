"""``audit --history`` over a generated history: cold (no cache) and warm (a re-run).

Run: .venv/bin/python -m benchmarks.bench_history [COMMITS ...]   (default: 5000)

The history is written with ``git fast-import``: 60 SOPS Secrets and 20 ConfigMaps, and each
commit changes one file (a Secret re-encrypted with a new value, in-process and
sops-compatible, or a ConfigMap edit), so every commit brings one new blob. One Secret is
committed in plaintext early and encrypted later (an SM019 to find). Each run is a fresh
process, wall-clock.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.bench_audit import _measure_once
from benchmarks.genrepo import RULE, _secret, warm_tool
from secretsmgr.keys.age import AgeRecipient, generate_identity
from secretsmgr.sops import FileFormat, dump, encrypt, parse_plain

SECRETSMGR = str(Path(sys.executable).with_name("secretsmgr"))
ENV = dict(os.environ, GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1")


def _blob(out: list[bytes], mark: int, data: bytes) -> None:
    out.append(b"blob\nmark :%d\ndata %d\n" % (mark, len(data)) + data + b"\n")


def generate(root: Path, commits: int) -> None:
    """A repository at ``root`` with ``commits`` commits, one new blob each."""
    _, public = generate_identity()
    recipient = AgeRecipient(public)
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], env=ENV, check=True)
    stream: list[bytes] = []
    mark = 0
    when = 1_700_000_000
    sops_yaml = (
        "creation_rules:\n  - path_regex: .*\\.enc\\.yaml$\n"
        f"    encrypted_regex: ^(data|stringData)$\n    age: {public}\n"
    ).encode()
    for n in range(commits):
        files: list[tuple[str, bytes]] = []
        if n == 0:
            files.append((".sops.yaml", sops_yaml))
            files.append((".secretsmgr.yaml", f"cluster_key: {public}\n".encode()))
            files.append(("apps/leaked.yaml", _secret("leaked", "apps").encode()))
        elif n == 50:
            files.append(("apps/leaked.yaml", b""))  # deleted below
        if n % 10 == 9:
            i = n % 20
            body = (
                f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cm{i}}}\ndata:\n  rev: '{n}'\n"
            )
            files.append((f"apps/cm-{i:02d}.yaml", body.encode()))
        else:
            i = n % 60
            docs = parse_plain(_secret(f"s{i:02d}", "apps"), FileFormat.YAML)
            sf = encrypt(docs, fmt=FileFormat.YAML, groups=[[recipient]], rule=RULE)
            files.append((f"apps/secret-{i:02d}.enc.yaml", dump(sf).encode()))
        lines = [b"commit refs/heads/main\n"]
        changes: list[bytes] = []
        for path, data in files:
            if path == "apps/leaked.yaml" and not data:
                changes.append(b"D apps/leaked.yaml\n")
                continue
            mark += 1
            _blob(stream, mark, data)
            changes.append(b"M 100644 :%d %s\n" % (mark, path.encode()))
        when += 600
        msg = f"change {n}".encode()
        lines.append(b"committer bench <bench@example.invalid> %d +0000\n" % when)
        lines.append(b"data %d\n%s\n" % (len(msg), msg))
        stream.extend(lines + changes + [b"\n"])
    subprocess.run(
        ["git", "fast-import", "--quiet"], cwd=root, input=b"".join(stream), env=ENV, check=True
    )
    subprocess.run(["git", "checkout", "-q", "main"], cwd=root, env=ENV, check=True)


def main(sizes: list[int]) -> None:
    warm_tool()
    print(f"audit --history (cpu count {os.cpu_count()}); wall-clock, fresh processes")
    with tempfile.TemporaryDirectory() as tmp:
        for commits in sizes:
            root = Path(tmp) / f"hist{commits}"
            start = time.perf_counter()
            generate(root, commits)
            made = time.perf_counter() - start
            args = [SECRETSMGR, "--repo", str(root), "audit", "--history", "--format", "json"]
            cache = root / ".git" / "secretsmgr" / "cache"
            shutil.rmtree(cache, ignore_errors=True)
            cold = _measure_once(args, None, root)[0]
            warm = sorted(_measure_once(args, None, root)[0] for _ in range(3))
            plain = sorted(
                _measure_once(
                    [SECRETSMGR, "--repo", str(root), "audit", "--format", "json"], None, root
                )[0]
                for _ in range(3)
            )
            print(f"\n{commits} commits (generated in {made:.1f} s)")
            print(f"  audit --history cold   {cold:7.2f} s")
            print(f"  audit --history warm   {warm[1]:7.2f} s (median of 3)")
            print(f"  audit (no history)     {plain[1]:7.2f} s (median of 3)")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [5000])
