"""Options shared by several commands, declared once so every command spells them alike.

Short options are the same everywhere: ``-l`` is ``--layer``, ``-f`` is ``--format``, ``-o``
is ``--output``. The ``--from-cluster [--context C] [--namespace N] [--secret S]`` group comes
with ``ClusterChoice``, which reads the live keys only when asked.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from secretsmgr.report import OutputFormat

if TYPE_CHECKING:
    from secretsmgr.audit.finding import Severity
    from secretsmgr.cluster.kube import ClusterKeys, SecretRef
    from secretsmgr.repo.inventory import LiveKeys
    from secretsmgr.repo.settings import ClusterSpec

FormatOpt = Annotated[
    OutputFormat,
    typer.Option("--format", "-f", help="Output format.", case_sensitive=False),
]
NewSinceOpt = Annotated[
    str | None,
    typer.Option(
        "--new-since",
        help="Fail only on findings that are new since commit REV (older ones are counted).",
        metavar="REV",
    ),
]
OutputOpt = Annotated[
    Path | None,
    typer.Option("--output", "-o", help="Write the report to FILE (atomically).", metavar="FILE"),
]
LayerOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--layer", "-l", help="Layer L (repeatable; secretsmgr layers lists them).", metavar="L"
    ),
]
ExcludeOpt = Annotated[
    list[Path] | None,
    typer.Option("--exclude", help="Leave FILE out of --all or --layer.", metavar="FILE"),
]
ClusterKeyOpt = Annotated[
    str | None,
    typer.Option("--cluster-key", help="The cluster's age public key.", metavar="K"),
]
ReasonOpt = Annotated[str, typer.Option("--reason", help="Why; recorded in the changelog.")]
MergeOpt = Annotated[
    bool,
    typer.Option(
        "--merge",
        help="Join a changelog git stopped a merge or rebase on: this branch's entries, "
        "then the other branch's, re-chained.",
    ),
]
CommitOpt = Annotated[bool, typer.Option("--commit", help="Commit files and changelog.")]
AllowDirtyOpt = Annotated[
    bool, typer.Option("--allow-dirty", help="Proceed with uncommitted changes in the targets.")
]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Print the plan, write nothing.")]
VerboseOpt = Annotated[
    bool, typer.Option("--verbose", "-v", help="Also list layers without SOPS files.")
]


class FailOn(StrEnum):
    """``--fail-on``: the lowest severity that makes the run exit 1."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"
    NEVER = "never"


def threshold(fail_on: FailOn) -> Severity | None:
    """The severity ``--fail-on`` names; None for ``never``."""
    from secretsmgr.audit.finding import Severity

    return None if fail_on is FailOn.NEVER else Severity(fail_on.value)


FailOnOpt = Annotated[
    FailOn,
    typer.Option("--fail-on", help="Exit 1 on findings at or above this severity."),
]

FromClusterOpt = Annotated[
    bool,
    typer.Option(
        "--from-cluster",
        help="Read the cluster key from the live sops-age Secret (Kubernetes API).",
    ),
]
ContextOpt = Annotated[
    str | None,
    typer.Option("--context", help="kubeconfig context (default: the current one).", metavar="C"),
]
NamespaceOpt = Annotated[
    str, typer.Option("--namespace", help="Namespace of the Secret.", metavar="N")
]
SecretOpt = Annotated[str, typer.Option("--secret", help="Name of the Secret.", metavar="S")]
# key export / key rotate: by default the Secret(s) the decrypting Kustomizations read
TargetNamespaceOpt = Annotated[
    str | None,
    typer.Option(
        "--namespace",
        help="Namespace of the Secret (default: the decrypting Kustomizations', else flux-system).",
        metavar="N",
    ),
]
_TARGET_NAME = "Name of the Secret (default: their decryption.secretRef, else sops-age)."
TargetNameOpt = Annotated[str | None, typer.Option("--name", help=_TARGET_NAME, metavar="S")]
TargetSecretOpt = Annotated[str | None, typer.Option("--secret", help=_TARGET_NAME, metavar="S")]


@dataclass(frozen=True, slots=True)
class ClusterChoice:
    """What the options asked for."""

    from_cluster: bool
    context: str | None
    namespace: str
    secret: str

    def ref(self) -> SecretRef:
        """The Secret to read or write."""
        from secretsmgr.cluster.kube import SecretRef
        from secretsmgr.keys.manifest import check_names

        check_names(self.namespace, self.secret)
        return SecretRef(namespace=self.namespace, name=self.secret, context=self.context)

    def require_use(self, applying: bool = False) -> None:
        """``--context`` means nothing without ``--from-cluster`` (or ``--apply``)."""
        from secretsmgr.errors import UsageError

        if self.context is not None and not (self.from_cluster or applying):
            raise UsageError("--context needs --from-cluster" + (" or --apply" if applying else ""))

    def read(self) -> ClusterKeys | None:
        """The live keys when ``--from-cluster`` was given, else None."""
        if not self.from_cluster:
            return None
        from secretsmgr.cluster.kube import read_cluster_keys

        return read_cluster_keys(self.ref(), os.environ)


def label(keys: ClusterKeys) -> str:
    """``context test: flux-system/sops-age`` for messages."""
    return f"context {keys.context}: {keys.ref.label}"


def live_cluster(
    from_cluster: bool,
    context: str | None,
    namespace: str,
    secret: str,
    root: Path | None = None,
) -> LiveKeys | tuple[LiveKeys, ...] | None:
    """The audit's view of the live keys, as ``audit`` and ``check`` take the options.

    Without ``--context``, when ``.secretsmgr.yaml`` at ``root`` names a kube context for its
    clusters (``clusters.NAME.context``), each such cluster's Secret is read through its own
    context; otherwise the one Secret of the current (or given) context stands for every cluster.
    """
    choice = ClusterChoice(from_cluster, context, namespace, secret)
    choice.require_use()
    if not from_cluster:
        return None
    from secretsmgr.repo.inventory import LiveKeys

    clusters: tuple[ClusterSpec, ...] = ()
    if context is None and root is not None:
        from secretsmgr.repo.settings import load_settings

        clusters = load_settings(root).clusters
        contexts = [(c.name, c.context) for c in clusters if c.context]
        if contexts:
            unread = [c.name for c in clusters if not c.context]
            lives = []
            for name, own in contexts:
                keys = ClusterChoice(True, own, namespace, secret).read()
                assert keys is not None
                lives.append(LiveKeys(label(keys), keys.publics, cluster=name))
            if unread:
                lives[0] = replace(lives[0], note=_unread_note(unread))
            return tuple(lives)
    keys = choice.read()
    assert keys is not None
    return _one_context(keys, clusters)


def _unread_note(names: list[str]) -> str:
    shown = ", ".join(names)
    return (
        f"no cluster Secret read for {shown} (no clusters.<name>.context in .secretsmgr.yaml): "
        f"SM016 not checked there; set clusters.{names[0]}.context"
    )


def _one_context(
    keys: ClusterKeys, clusters: Sequence[ClusterSpec]
) -> LiveKeys | tuple[LiveKeys, ...]:
    """The one Secret read, when ``.secretsmgr.yaml`` names no context: taken for the cluster
    whose own key it holds when the clusters' keys differ (one cluster's Secret is not the
    other's), else for every cluster; with a note saying which, in a several-cluster repository."""
    from secretsmgr.repo.inventory import LiveKeys

    named = [c for c in clusters if c.cluster_key]
    if len(named) < 2 or len({c.cluster_key for c in named}) < 2:
        return LiveKeys(label(keys), keys.publics)
    holders = [c.name for c in named if c.cluster_key in keys.publics]
    pin = f"clusters.<name>.context: {keys.context}"
    if len(holders) == 1:
        others = [c.name for c in clusters if c.name != holders[0]]
        note = (
            f"took context {keys.context} for cluster {holders[0]} (its Secret holds that "
            f"cluster's key); {', '.join(others)} not read: set {pin} for each cluster"
        )
        return (LiveKeys(label(keys), keys.publics, cluster=holders[0], note=note),)
    note = (
        f"took context {keys.context} for every cluster ({', '.join(c.name for c in clusters)}): "
        f"its Secret holds none of their keys, and nothing says which cluster it reaches; "
        f"set {pin} for each cluster"
    )
    return LiveKeys(label(keys), keys.publics, note=note)
