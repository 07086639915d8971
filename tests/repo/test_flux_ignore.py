"""Which files a Flux source artifact holds: Flux's gitignore dialect, checked against a direct
port of its matcher (fluxcd/pkg sourceignore/gitignore) on generated paths and patterns."""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence

from hypothesis import given
from hypothesis import strategies as st

from secretsmgr.repo.flux.ignore import (
    EXCLUDE_DEFAULT,
    Pattern,
    SourceFilter,
    ignore_patterns,
    read_patterns,
)


def _go_match(pattern: str, name: str) -> bool:
    # filepath.Match for the pattern alphabet generated below (no classes, no escapes)
    return fnmatch.fnmatchcase(name, pattern)


def _reference(pattern: Pattern, path: Sequence[str], is_dir: bool) -> bool | None:
    """gitignore/pattern.go Match, line by line: True exclude, False include, None no match."""
    if len(path) <= len(pattern.domain) or tuple(path[: len(pattern.domain)]) != pattern.domain:
        return None
    rest = list(path[len(pattern.domain) :])
    if not pattern.is_glob:
        matched = False
        for i, name in enumerate(rest):
            if not _go_match(pattern.parts[0], name):
                continue
            matched = not (pattern.dir_only and not is_dir and i == len(rest) - 1)
            break
    else:
        matched, traverse = False, False
        for i, part in enumerate(pattern.parts):
            if part == "":
                traverse = False
                continue
            if part == "**":
                if i == len(pattern.parts) - 1:
                    break
                traverse = True
                continue
            if "**" in part or not rest:
                return None
            if traverse:
                traverse = False
                while rest:
                    name = rest.pop(0)
                    if _go_match(part, name):
                        matched = True
                        break
                    if not rest:
                        matched = False
            else:
                if not _go_match(part, rest[0]):
                    return None
                matched = True
                rest.pop(0)
        if matched and pattern.dir_only and not is_dir and not rest:
            matched = False
    if not matched:
        return None
    return not pattern.include


def _reference_excludes(patterns: Sequence[Pattern], path: str) -> bool:
    for pattern in reversed(patterns):
        decision = _reference(pattern, path.split("/"), False)
        if decision is not None:
            return decision
    return False


NAMES = st.sampled_from(["a", "b", "tmpl", "x.yaml", "y.md", ".sops.yaml", "keep.md", "deep"])
PATHS = st.lists(NAMES, min_size=1, max_size=5).map("/".join)
PARTS = st.sampled_from(["a", "b", "tmpl", "*.yaml", "*.md", "keep.md", "**", "*", "deep", "x*"])
LINES = st.builds(
    lambda neg, lead, parts, trail: (
        ("!" if neg else "") + ("/" if lead else "") + "/".join(parts) + ("/" if trail else "")
    ),
    st.booleans(),
    st.booleans(),
    st.lists(PARTS, min_size=1, max_size=3),
    st.booleans(),
)
DOMAINS = st.lists(st.sampled_from(["a", "b"]), max_size=1).map(tuple)


@given(st.lists(st.tuples(LINES, DOMAINS), max_size=5), st.lists(PATHS, min_size=1, max_size=8))
def test_the_filter_decides_as_flux_matcher_does(
    lines: list[tuple[str, tuple[str, ...]]], paths: list[str]
) -> None:
    patterns = [p for line, domain in lines for p in read_patterns(line, domain)]
    flt = SourceFilter(patterns)
    for path in paths:
        assert flt.excludes(path) == _reference_excludes(flt.patterns, path), (lines, path)


def test_defaults_apply_only_when_no_pattern_is_given() -> None:
    plain = SourceFilter([])
    assert plain.excludes("apps/.sops.yaml")
    assert plain.excludes(".github/workflows/ci.yaml")
    assert plain.excludes("docs/diagram.png")
    assert not plain.excludes("apps/secret.sops.yaml")
    given_one = SourceFilter(read_patterns("*.draft.yaml\n"))
    assert not given_one.excludes("apps/.sops.yaml")  # source-controller drops the defaults
    assert given_one.excludes(".git/config")  # but always keeps the VCS exclusions
    assert given_one.excludes("apps/x.draft.yaml")
    assert len(EXCLUDE_DEFAULT) == 20


def test_sourceignore_files_anchor_at_their_folder_in_walk_order() -> None:
    files = {
        ".sourceignore": "*.md\n",
        "apps/.sourceignore": "!keep.md\nwip/\n",
        "apps/b/.sourceignore": "*.md\n",
    }
    patterns = ignore_patterns(files, lambda p: files[p])
    flt = SourceFilter(patterns)
    assert flt.excludes("README.md")
    assert not flt.excludes("apps/keep.md")
    assert flt.excludes("apps/b/keep.md")  # the deeper file is read later and wins
    assert flt.excludes("apps/wip/secret.sops.yaml")
    assert not flt.excludes("wip/secret.sops.yaml")  # apps/'s wip/ is anchored at apps/
