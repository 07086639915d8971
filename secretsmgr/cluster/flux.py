"""Read Flux's Kustomizations (``kustomize.toolkit.fluxcd.io``) through the Kubernetes API.

``key rotate --finish`` asks whether Flux has applied the begin step: it lists every
Kustomization of the cluster, in whichever API version of the group the server serves (v1, else
v1beta2, else v1beta1, else the server's preferred one), as the plain objects the API returns.
Judging them is pure and lives in ``rotate/fluxcheck.py``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from secretsmgr.cluster.session import REQUEST_TIMEOUT, Session, call, open_session, unauthorized
from secretsmgr.errors import ClusterError

GROUP = "kustomize.toolkit.fluxcd.io"
PLURAL = "kustomizations"
VERSIONS = ("v1", "v1beta2", "v1beta1")
"""The Kustomization versions read, best first (each has ``spec.decryption`` and
``status.lastAppliedRevision``)."""


@dataclass(frozen=True, slots=True)
class Kustomizations:
    """Every Kustomization of one context, or none when the cluster does not serve the API."""

    context: str
    version: str | None
    """The API version read; None when the group is not served (no Flux there)."""
    items: tuple[Mapping[str, object], ...]


def choose_version(served: Sequence[str], preferred: str | None) -> str | None:
    """The version to read: the first of VERSIONS the server serves, else its preferred one."""
    for version in VERSIONS:
        if version in served:
            return version
    return preferred if preferred in served else None


def list_kustomizations(context: str | None, env: Mapping[str, str]) -> Kustomizations:
    """Every Kustomization in every namespace (one discovery request, one list request)."""
    with open_session(context, env) as session:
        groups = call(
            session,
            lambda: session.apis.get_api_versions(_request_timeout=REQUEST_TIMEOUT),
            lambda status, reason: _api_error(session, "discover", status, reason),
        )
        served, preferred = _group_versions(groups)
        version = choose_version(served, preferred)
        if version is None:
            return Kustomizations(session.context, None, ())
        listed = call(
            session,
            lambda: session.custom.list_cluster_custom_object(
                GROUP, version, PLURAL, _request_timeout=REQUEST_TIMEOUT
            ),
            lambda status, reason: _api_error(session, "list", status, reason),
        )
    items = listed.get("items") if isinstance(listed, Mapping) else None
    if not isinstance(items, list):
        raise ClusterError(
            f'the Kubernetes API of context "{session.context}" answered the list of '
            f"{PLURAL}.{GROUP}/{version} with no items"
        )
    found = tuple(item for item in items if isinstance(item, Mapping))
    return Kustomizations(session.context, version, found)


def _group_versions(groups: Any) -> tuple[list[str], str | None]:
    """The versions of GROUP the server serves, and its preferred one (from V1APIGroupList)."""
    for group in getattr(groups, "groups", None) or []:
        if getattr(group, "name", None) != GROUP:
            continue
        served = [str(v.version) for v in getattr(group, "versions", None) or []]
        preferred = getattr(getattr(group, "preferred_version", None), "version", None)
        return served, str(preferred) if preferred else None
    return [], None


def _api_error(session: Session, verb: str, status: int, reason: str) -> ClusterError:
    ctx = session.context
    what = f"{PLURAL}.{GROUP}" if verb == "list" else "API groups"
    if status == 401:
        return unauthorized(session, f"{verb} {what}")
    if status == 403:
        return ClusterError(
            f'forbidden: context "{ctx}" may not {verb} {what} in all namespaces (403)',
            hints=(f"check with: kubectl auth can-i {verb} {what} -A --context {ctx}",),
        )
    shown = f"{status} {reason}".strip()
    return ClusterError(
        f"the Kubernetes API at {session.server} answered {shown} to {verb} {what} "
        f'(context "{ctx}")'
    )
