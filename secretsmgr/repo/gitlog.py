"""Reading the repository's past in git: the commits that changed a file, what each commit
held, what every commit changed, and commit ancestry.

Used to anchor the changelog in git (``changelog/anchor.py``), to find whether the cluster
applied the begin step of a key rotation (``rotate/finishgate.py``), and by the gate to walk
history (``audit --history``) and move its cache from one HEAD to the next.
Like ``repo/git.py``, every call runs git with the hook variables removed and raises
``ConfigError`` when git is unusable.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from secretsmgr.errors import ConfigError
from secretsmgr.repo.git import (
    _not_usable,
    _run,
    _show_prefix,
    git_path,
    resolve_commit,
)


@dataclass(frozen=True, slots=True)
class Commit:
    """A commit that changed a file: its id, the earlier such commits it descends from
    (git's rewritten parents for the path), and its committer time (Unix seconds)."""

    id: str
    parents: tuple[str, ...]
    committed: int


def _full(root: Path, path: str) -> str:
    """``path`` (relative to ``root``) as a path from the top of the repository."""
    return _show_prefix(root) + path


def blobs_followed(root: Path, path: str) -> list[str]:
    """The blob ids ``path`` had in each commit reachable from HEAD that changed it, newest
    first, following renames (``git log --follow``: under its former names too). A copy
    (status ``C``) is where the file began: what git follows past it is another file's history
    (sweep 103, douz/blogs-infrastructure: a Secret made from a copy of another was told to
    restore "an earlier one", the other Secret)."""
    args = ["log", "--follow", "--format=%x01", "--raw", "--no-abbrev", "-z", "--", path]
    try:
        out = _run(root, args)
    except (subprocess.CalledProcessError, FileNotFoundError) as exc:
        raise _not_usable(root, exc) from exc
    found = []
    for _head, rest in _log_chunks(out):
        for fields, _where in _raw_records(rest):
            if len(fields) >= 4:
                found.append(fields[3])
                if len(fields) >= 5 and fields[4].startswith("C"):
                    return found
    return found


def _log_chunks(out: bytes) -> Iterator[tuple[str, bytes]]:
    """(format line, raw records) of each commit of ``git log --format=%x01… --raw -z``."""
    for chunk in out.split(b"\x01")[1:]:
        head, _, rest = chunk.partition(b"\0")
        yield head.decode("ascii", "replace"), rest


def _raw_records(data: bytes) -> Iterator[tuple[list[str], str]]:
    """(metadata fields, path from the top) of each ``--raw -z`` record in ``data``: the fields
    are modes, blob ids and status (five of them for a plain change)."""
    parts = data.lstrip(b"\n").split(b"\0")
    for meta, raw_path in zip(parts[0::2], parts[1::2], strict=False):
        fields = meta.decode("ascii", "replace").lstrip(":").split(" ")
        yield fields, raw_path.decode("utf-8", "surrogateescape")


def _file_changes(data: bytes, prefix: str) -> list[tuple[str, str]]:
    """(path under ``prefix``, new blob id or "" when gone) of each regular file a ``--raw``
    listing changes there (links and submodules are left out)."""
    return _changes_and_deleted(data, prefix)[0]


def _changes_and_deleted(
    data: bytes, prefix: str
) -> tuple[list[tuple[str, str]], dict[str, str], dict[str, str]]:
    """``_file_changes``, {path under ``prefix``: the blob it held} of each regular file the
    listing deletes, and the same of each regular file it changes or deletes, in one pass."""
    changes: list[tuple[str, str]] = []
    deleted: dict[str, str] = {}
    before: dict[str, str] = {}
    for fields, path in _raw_records(data):
        if len(fields) != 5 or not path.startswith(prefix):
            continue
        old_mode, new_mode, old_blob, new_blob, status = fields
        gone = status.startswith("D") or set(new_blob) == {"0"}
        if gone or new_mode in ("100644", "100755"):
            changes.append((path[len(prefix) :], "" if gone else new_blob))
        if old_mode in ("100644", "100755") and set(old_blob) != {"0"}:
            before[path[len(prefix) :]] = old_blob
            if status.startswith("D"):
                deleted[path[len(prefix) :]] = old_blob
    return changes, deleted, before


def path_commits(root: Path, path: str, *, merges: bool = False) -> list[Commit]:
    """Every commit reachable from HEAD that changed ``path``, parents before children; with
    ``merges``, every merge that joins two histories of it too, each with its parents among
    these.

    Empty when the repository has no commit yet or never held ``path``.
    """
    # --full-history: every merge whose sides both changed the path, with its parents (git's
    # default simplification follows the parent a merge equals, and the other side's commits
    # are never seen: the review of stop 53 found a merge that dropped one side's changelog
    # entries passing that way); --simplify-merges leaves out the merges that join nothing of
    # the path (a path no commit held listed every merge of the history)
    history = ["--full-history", "--simplify-merges"] if merges else []
    args = ["log", "--topo-order", "--reverse", *history, "--parents", "--format=%H %P|%ct"]
    args += ["--", path]
    try:
        out = _run(root, args)
    except subprocess.CalledProcessError:
        return []  # no commit yet
    except FileNotFoundError as exc:
        raise _not_usable(root, exc) from exc
    commits: list[Commit] = []
    for line in out.decode("ascii", "replace").splitlines():
        ids, _, when = line.partition("|")
        first, *parents = ids.split()
        commits.append(Commit(first, tuple(parents), int(when)))
    return commits


def merge_parents(root: Path, commits: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """{commit: its parents} for each of ``commits`` that has more than one in git."""
    if not commits:
        return {}
    stdin = "".join(f"{c}\n" for c in commits).encode("ascii")
    try:
        out = _run(root, ["rev-list", "--no-walk=unsorted", "--parents", "--stdin"], stdin=stdin)
    except subprocess.CalledProcessError:
        return {}
    except FileNotFoundError as exc:
        raise _not_usable(root, exc) from exc
    found: dict[str, tuple[str, ...]] = {}
    for line in out.decode("ascii", "replace").splitlines():
        commit, *parents = line.split()
        if len(parents) > 1:
            found[commit] = tuple(parents)
    return found


def blobs_at(root: Path, queries: Sequence[tuple[str, str]]) -> list[str | None]:
    """The blob id each ``(commit, path)`` holds, None where the commit has no such file."""
    if not queries:
        return []
    full = [(c, _full(root, p)) for c, p in queries]
    # the batch reads one query a line: a name with a line break is asked on its own (the
    # attack review of stop 50: `new\nline.enc.yaml` split its query in two, and every later
    # answer went to the wrong file: log --verify failed with an internal error)
    batch = [i for i, (_, p) in enumerate(full) if "\n" not in p and "\r" not in p]
    stdin = b"".join(
        f"{full[i][0]}:{full[i][1]}\n".encode("utf-8", "surrogateescape") for i in batch
    )
    try:
        out = (
            _run(root, ["cat-file", "--batch-check=%(objectname) %(objecttype)"], stdin=stdin)
            if batch
            else b""
        )
    except (subprocess.CalledProcessError, FileNotFoundError) as exc:
        raise _not_usable(root, exc) from exc
    found: list[str | None] = [None] * len(full)
    # split at git's line ends only: str.splitlines() also breaks at \x0b, \x0c, U+2028…,
    # which a missing file's name, repeated in its answer, may hold (the review of this change)
    lines = out.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    if len(lines) != len(batch):
        raise ConfigError(f"git failed in {root}: {len(lines)} answers to {len(batch)} queries")
    for i, line in zip(batch, lines, strict=True):
        parts = line.decode("utf-8", "replace").split(" ")
        found[i] = parts[0] if len(parts) == 2 and parts[1] == "blob" else None
    asked = set(batch)
    for i, (commit, path) in enumerate(full):
        if i not in asked:
            found[i] = _tree_blob(root, commit, path)
    return found


def _tree_blob(root: Path, commit: str, path: str) -> str | None:
    """The blob ``path`` (from the top of the work tree) has in ``commit``, asked through
    ``ls-tree`` (the name on the command line, never in a line-based batch)."""
    args = ["ls-tree", "--full-tree", "-z", commit, "--", path]  # pathspecs are literal
    try:
        out = _run(root, args)
    except subprocess.CalledProcessError:
        return None  # no such commit
    except FileNotFoundError as exc:
        raise _not_usable(root, exc) from exc
    name = path.encode("utf-8", "surrogateescape")
    for record in out.split(b"\0"):
        meta, _, found = record.partition(b"\t")
        fields = meta.split()
        if found == name and len(fields) == 3 and fields[1] == b"blob":
            return fields[2].decode("ascii")
    return None


def later_blobs(root: Path, paths: Iterable[str]) -> dict[str, list[tuple[str, str]]]:
    """For each of ``paths``: (commit, blob id) of every commit reachable from HEAD that set it
    to a new content, parents before children (deletions are left out)."""
    wanted = {_full(root, p): p for p in paths}
    if not wanted:
        return {}
    args = ["log", "--topo-order", "--reverse", "--no-renames", "--raw", "--no-abbrev", "-z"]
    # pathspecs relative to root (git runs there); the output names paths from the top
    args += ["--format=%x01%H", "--", *sorted(wanted.values())]
    try:
        out = _run(root, args)
    except subprocess.CalledProcessError:
        return {}
    except FileNotFoundError as exc:
        raise _not_usable(root, exc) from exc
    found: dict[str, list[tuple[str, str]]] = {p: [] for p in wanted.values()}
    for head, rest in _log_chunks(out):
        commit = head.strip()
        for fields, path in _raw_records(rest):
            name = wanted.get(path)
            if name is None or len(fields) != 5 or fields[4].startswith("D"):
                continue
            found[name].append((commit, fields[3]))
    return found


def commit_order(root: Path) -> dict[str, int]:
    """The position of every commit reachable from HEAD, parents before children."""
    try:
        out = _run(root, ["rev-list", "--topo-order", "--reverse", "HEAD"])
    except subprocess.CalledProcessError:
        return {}
    except FileNotFoundError as exc:
        raise _not_usable(root, exc) from exc
    return {line: i for i, line in enumerate(out.decode("ascii", "replace").split())}


def unmerged_refs(root: Path) -> tuple[str, ...]:
    """Branches and remote branches with commits HEAD does not reach (a pushed branch is as
    public as the default one), by short name; symbolic ones (``origin/HEAD``) left out."""
    try:
        out = _run(
            root,
            [
                "for-each-ref",
                "--no-merged=HEAD",
                "--format=%(refname:short)%00%(symref)",
                "refs/heads",
                "refs/remotes",
            ],
        )
    except subprocess.CalledProcessError:
        return ()
    except FileNotFoundError as exc:
        raise _not_usable(root, exc) from exc
    names = []
    for line in out.decode("utf-8", "replace").splitlines():
        name, _, symref = line.partition("\0")
        if name and not symref:
            names.append(name)
    return tuple(names)


def shallow_boundary(root: Path) -> frozenset[str]:
    """The commits a shallow clone cut its history at (empty for a full clone): what git
    shows as their parents is not their history."""
    try:
        text = git_path(root, "shallow").read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError, ConfigError):
        return frozenset()
    return frozenset(text.split())


def read_blobs(root: Path, blobs: Iterable[str]) -> dict[str, bytes]:
    """The bytes of each blob (one ``cat-file --batch`` run); missing ones are left out."""
    wanted = list(dict.fromkeys(blobs))
    if not wanted:
        return {}
    stdin = "".join(f"{b}\n" for b in wanted).encode("ascii")
    try:
        out = _run(root, ["cat-file", "--batch"], stdin=stdin)
    except (subprocess.CalledProcessError, FileNotFoundError) as exc:
        raise _not_usable(root, exc) from exc
    found: dict[str, bytes] = {}
    at = 0
    for blob in wanted:
        end = out.index(b"\n", at)
        header = out[at:end].split()
        at = end + 1
        if len(header) != 3 or header[1] != b"blob":
            continue
        size = int(header[2])
        found[blob] = out[at : at + size]
        at += size + 1
    return found


def run_start(root: Path, path: str, holds: Callable[[bytes], bool]) -> str | None:
    """The commit that began the current state of ``path``: counting back from HEAD over the
    commits that changed it, the oldest of the unbroken run whose content ``holds`` accepts.

    None when HEAD's own ``path`` (or its absence: never accepted) is not accepted.
    """
    head_blob = blobs_at(root, [("HEAD", path)])[0]
    if head_blob is None:
        return None
    history = later_blobs(root, [path])[path]
    contents = read_blobs(root, {head_blob, *(blob for _, blob in history)})
    if not holds(contents.get(head_blob, b"")):
        return None
    start = None
    for commit, blob in reversed(history):
        if not holds(contents.get(blob, b"")):
            break
        start = commit
    return start


def is_ancestor(root: Path, ancestor: str, descendant: str) -> bool | None:
    """Whether commit ``ancestor`` is ``descendant`` or one of its ancestors (``git merge-base
    --is-ancestor``); None when this clone has no commit ``descendant``."""
    if resolve_commit(root, descendant) is None:
        return None
    try:
        _run(root, ["merge-base", "--is-ancestor", ancestor, descendant])
    except subprocess.CalledProcessError as exc:
        if exc.returncode == 1:  # a commit, but not an ancestor
            return False
        raise _not_usable(root, exc) from exc
    except FileNotFoundError as exc:
        raise _not_usable(root, exc) from exc
    return True


_Change = tuple[str, str, list[tuple[str, str]], dict[str, str], dict[str, str], tuple[str, ...]]


def log_changes(root: Path) -> list[_Change]:
    """Every commit reachable from HEAD, oldest first: (commit, committer date ISO 8601,
    [(path, new blob id or "" when deleted)], {deleted path: the blob it held}, {changed or
    deleted path: the blob it held}, its parents) for the files under ``root`` it changed
    against its first parent (merges list nothing: their sides' commits are walked
    themselves; a blob a merge made is seen where a later commit changes or deletes it)."""
    try:
        out = _run(
            root,
            [
                "log",
                "--reverse",
                "--no-renames",
                "--raw",
                "--no-abbrev",
                "-z",
                "--format=%x01%H %cI %P",
                "--",
                ".",
            ],
        )
    except subprocess.CalledProcessError:
        return []  # no commit yet
    except FileNotFoundError as exc:
        raise _not_usable(root, exc) from exc
    prefix = _show_prefix(root)
    commits: list[_Change] = []
    for head, rest in _log_chunks(out):
        sha, date, *parents = head.split()
        commits.append((sha, date, *_changes_and_deleted(rest, prefix), tuple(parents)))
    return commits


def introduced_by(root: Path, blob: str, path: str) -> tuple[str, str] | None:
    """(commit, committer date) of the first commit reachable from HEAD whose change against
    its first parent brings ``blob`` to ``path`` (a merge too): where a blob no plain commit
    made came from."""
    try:
        out = _run(
            root,
            [
                "log",
                "--reverse",
                "--diff-merges=first-parent",
                f"--find-object={blob}",
                "--format=%H %cI",
                "--",
                path,
            ],
        )
    except (subprocess.CalledProcessError, FileNotFoundError):
        return None
    first = out.decode("ascii", "replace").split("\n", 1)[0].split()
    return (first[0], first[1]) if len(first) == 2 else None


def changed_between(root: Path, old: str, new: str) -> list[tuple[str, str]]:
    """(path, blob id in ``new`` or "" when gone) of every file under ``root`` that differs
    between commits ``old`` and ``new`` (``diff-tree -r``)."""
    prefix = _show_prefix(root)
    try:
        out = _run(root, ["diff-tree", "-r", "-z", "--no-renames", old, new, "--", "."])
    except (subprocess.CalledProcessError, FileNotFoundError) as exc:
        raise _not_usable(root, exc) from exc
    return _file_changes(out, prefix)


# Where an age private key is kept, or committed by mistake: key files (age.agekey, keys.txt,
# key.txt, sops' key file names) and the sops-age Secret's manifest, read by name
_KEY_FILE_SPECS = (
    ":(glob,icase)**/*.agekey",
    ":(glob,icase)**/*key*.txt",
    ":(glob,icase)**/*age*key*",
    ":(glob,icase)**/*sops-age*",
    ":(glob,icase)**/*.age",
    ":(glob,icase)**/*identity*",
    ":(glob,icase)**/*.key",
)
# and by content, in any file: the key, or its base64 at each of the three alignments (a
# Secret manifest's data, a `.envrc` export: the attack review; a partial clone that lacks
# blobs cannot be searched so, and is read by name alone)
_KEY_CONTENT = "AGE-SECRET-KEY-1|QUdFLVNFQ1JFVC1LRVkt|RS1TRUNSRVQtS0VZ|R0UtU0VDUkVULUtFWS0x"
_MAX_KEY_BLOBS = 5000


def _key_log(root: Path, selection: list[str]) -> list[tuple[str, str, str]]:
    out = _run(
        root,
        ["log", "--all", "--reverse", "--no-renames", "--raw", "--no-abbrev", "-z", *selection],
        literal=False,  # the specs are globs
    )
    prefix = _show_prefix(root)
    return [
        (head.strip(), path, blob)
        for head, rest in _log_chunks(out)
        for path, blob in _file_changes(rest, prefix)
        if blob
    ]


def key_file_versions(root: Path) -> list[tuple[str, str, str]]:
    """(commit, path, blob) of every version a commit (on any ref) gave a file that may hold an
    age private key: one named like a key file, or one whose change added the key or its base64
    (git's own search, on every ref); oldest first, at most ``_MAX_KEY_BLOBS``."""
    found: list[tuple[str, str, str]] = []
    try:
        # the versions whose change added a key first: the cap never cuts those (the attack
        # review: 3,000 ordinary SOPS file versions pushed a later key out)
        with contextlib.suppress(subprocess.CalledProcessError):  # a partial clone lacks blobs
            found = _key_log(root, ["--format=%x01%H", "--extended-regexp", f"-G{_KEY_CONTENT}"])
        found += _key_log(root, ["--format=%x01%H", "--", *_KEY_FILE_SPECS])
    except subprocess.CalledProcessError:
        return []  # no commit yet
    except FileNotFoundError as exc:
        raise _not_usable(root, exc) from exc
    seen: set[str] = set()
    unique = []
    for version in found:
        if version[2] not in seen:
            seen.add(version[2])
            unique.append(version)
    return unique[:_MAX_KEY_BLOBS]
