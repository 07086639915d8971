"""``--from-cluster [--context C] [--namespace N] [--secret S]``, shared by several commands."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from secretsmgr.cluster.kube import ClusterKeys, SecretRef
    from secretsmgr.repo.inventory import LiveKeys

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
    from_cluster: bool, context: str | None, namespace: str, secret: str
) -> LiveKeys | None:
    """The audit's view of the live keys, as ``audit`` and ``check`` take the options."""
    choice = ClusterChoice(from_cluster, context, namespace, secret)
    choice.require_use()
    keys = choice.read()
    if keys is None:
        return None
    from secretsmgr.repo.inventory import LiveKeys

    return LiveKeys(label(keys), keys.publics)
