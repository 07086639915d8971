"""Files ``init`` writes that a layer's build would read: kept out of the source first.

A Flux Kustomization whose folder has no kustomization.yaml gets one from kustomize-controller,
which takes every YAML file below it and fails on one that holds no Kubernetes object (`path:
./` over the repository root: `.secretsmgr.yaml` and `.pre-commit-config.yaml` there stop the
whole layer, and so the cluster). Before anything is written, the model builds the layers with
the files init is about to write; when a build would read one, init writes a `.sourceignore`
that keeps them out of the source artifact, proved the same way: with it, every layer reads
exactly what it reads now.

The files are init's own at the root, whether this run writes them or an earlier one did (a
repository an earlier init left failing is repaired). source-controller drops its default
exclusions (`**/.sops.yaml`, images, CI files) as soon as there is any ignore pattern, so a new
`.sourceignore` lists them too, unless the source has patterns of its own already (a
``spec.ignore``), which turned them off. An existing `.sourceignore` is extended only with
``--force``; without, init refuses. A layer that fails on other files of the repository anyway
is left to its note.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from secretsmgr.errors import RefusedError
from secretsmgr.fsutil import read_optional
from secretsmgr.init.model import FileChange, FileState
from secretsmgr.init.rules import TOOL_FILES
from secretsmgr.repo.flux import LayerGraph, find_layers
from secretsmgr.repo.flux.ignore import EXCLUDE_DEFAULT, IGNORE_FILE
from secretsmgr.repo.flux.kfile import KUSTOMIZATION_NAMES
from secretsmgr.repo.inventory import Inventory
from secretsmgr.repo.snapshot import OverlaySnapshot, WorktreeSnapshot

_NO_OBJECT = "no Kubernetes object"  # the model's note on a generated build that fails
_HEADER = (
    "# secretsmgr init: files of its own that are no Kubernetes objects, kept out of the Flux\n"
    "# source (a folder without a kustomization.yaml gets one that takes every YAML file)\n"
)
_DEFAULTS = (
    "# source-controller's default exclusions, which any .sourceignore turns off: kept\n"
    + "".join(f"{pattern}\n" for pattern in EXCLUDE_DEFAULT)
)


def _graph(inv: Inventory, files: Mapping[str, str]) -> LayerGraph:
    base = WorktreeSnapshot(inv.root, inv.all_files)
    overlay = OverlaySnapshot(base, {p: t.encode("utf-8") for p, t in files.items()})
    settings = inv.settings
    return find_layers(overlay, settings.clusters, dict(settings.sources))


def _reads(
    graph: LayerGraph, leaving: Sequence[str]
) -> dict[tuple[str | None, str, str], frozenset[str]]:
    """What each layer's build reads, ``leaving`` out (files init writes: one it replaces may
    be read now, and must not be after)."""
    return {layer.key: layer.files.difference(leaving) for layer in graph.layers}


def _may_read_root(inv: Inventory) -> bool:
    """Whether a layer over this checkout builds the root with a generated kustomization (the
    only way a file init writes at the root is read by a build)."""
    if any(name in inv.all_files for name in KUSTOMIZATION_NAMES):
        return False
    return any(x.external is None and x.path in ("", ".") for x in inv.layers.layers)


def sourceignore_change(
    inv: Inventory, changes: Sequence[FileChange], force: bool
) -> FileChange | None:
    """The `.sourceignore` change that keeps init's files (those ``changes`` write, and those
    an earlier run wrote) out of every layer's build, or None when no build reads them, or
    every build that does fails on other files of the repository anyway. ``RefusedError`` when
    one must change an existing `.sourceignore` and ``force`` is off, or when no such change
    keeps the builds as they are."""
    written = {c.path: c.text for c in changes if c.writes and c.text is not None}
    ours = sorted({p for p in TOOL_FILES if p in written or p in inv.all_files})
    if not ours or not _may_read_root(inv):
        return None
    before = _reads(inv.layers, ours)
    after = _graph(inv, written)
    read = sorted({p for x in after.layers for p in x.files if p in ours})
    if not read:
        return None
    affected = {x.key for x in after.layers if x.files & set(read)}
    layers = sorted({after.shown(x) for x in after.layers if x.key in affected})
    lines = "".join(f"/{p}\n" for p in read)
    existing = read_optional(inv.root / IGNORE_FILE)
    if existing is not None:
        candidates = [existing + ("" if existing.endswith("\n") or not existing else "\n")]
        candidates[0] += _HEADER + lines
    else:
        # the defaults first, as source-controller keeps them where no pattern is given; none
        # where the source has patterns of its own (spec.ignore), which turned them off already
        candidates = [_HEADER + lines + _DEFAULTS, _HEADER + lines]
    what = (
        f"keeps {', '.join(read)} out of layer {', '.join(layers)}: its folder has no "
        "kustomization.yaml, and Flux's generated one fails on files that are no objects"
    )
    for text in candidates:
        proved = _graph(inv, {**written, IGNORE_FILE: text})
        still = {p for x in proved.layers for p in x.files if p in ours}
        if still or _reads(proved, ours) != before:
            continue
        if all(
            any(_NO_OBJECT in p for p in x.problems) for x in proved.layers if x.key in affected
        ):
            # those builds fail on files of the repository's own (their note says so): init's
            # files change nothing there
            return None
        if existing is None:
            return FileChange(IGNORE_FILE, FileState.CREATE, what, text)
        if not force:
            raise RefusedError(
                f"init would write {', '.join(read)} where layer {', '.join(layers)} "
                "builds them (its folder has no kustomization.yaml), and Flux fails on "
                "files that are no Kubernetes objects",
                hints=(
                    f"add {', '.join('/' + p for p in read)} to {IGNORE_FILE} (each on a "
                    "line), or run init with --force, which adds them",
                ),
            )
        return FileChange(IGNORE_FILE, FileState.UPDATE, what, text)
    raise RefusedError(
        f"init would write {', '.join(read)} where layer {', '.join(layers)} builds them (its "
        "folder has no kustomization.yaml), and no .sourceignore init can write keeps them out",
        hints=(
            "give that folder a kustomization.yaml that lists what the layer applies, then run "
            "init again",
        ),
    )
