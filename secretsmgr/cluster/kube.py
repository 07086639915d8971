"""Read and write the Flux ``sops-age`` Secret through the Kubernetes API.

Each call opens its own session (``session.py``: the kubeconfig that ``env`` points at, short
timeouts, no retries, the client imported only then). Each failure becomes a one-line
:class:`ClusterError` naming the context and the Secret; messages never hold a token or key
material. Private key text read from the cluster lives only long enough to derive its public
keys.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from secretsmgr.cluster.session import REQUEST_TIMEOUT, Session, call, open_session, unauthorized
from secretsmgr.cluster.session import kubeconfig_paths as kubeconfig_paths
from secretsmgr.errors import ClusterError, ConfigError
from secretsmgr.keys.age import parse_identities

AGEKEY_SUFFIX = ".agekey"
"""Flux's sops decryption uses the Secret entries whose names end with this suffix."""

_FLUX_HINT = "Flux's sops decryption reads the age identities from the *.agekey entries"


@dataclass(frozen=True, slots=True)
class SecretRef:
    """Which Secret holds the cluster's age identities, and through which kubeconfig context."""

    namespace: str = "flux-system"
    name: str = "sops-age"
    context: str | None = None
    """A kubeconfig context name; None means the kubeconfig's current-context."""

    @property
    def label(self) -> str:
        """``namespace/name``, as messages show it."""
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True)
class Applied:
    """What ``apply_secret`` did: ``created``, ``replaced`` or ``updated``, and the entries it
    took out of the Secret that ``drop`` named."""

    verb: str
    removed: tuple[str, ...] = ()

    def line(self, ref: SecretRef, sent: Sequence[str], kept: bool) -> str:
        """What ``key export --apply`` says it did (``kept``: the Secret's other entries)."""
        where = f"context {ref.context}" if ref.context else "the current context"
        others = "; its other entries kept" if kept else ""
        removed = f", but not {' and '.join(self.removed)}" if self.removed else ""
        return f"{self.verb} secret {ref.label} in {where} ({', '.join(sent)}{others}{removed})\n"


@dataclass(frozen=True, slots=True)
class ClusterKeys:
    """The public keys of the age identities found in the cluster Secret (never the identities)."""

    ref: SecretRef
    context: str
    """The context actually used (the current-context when ``ref.context`` is None)."""
    entries: tuple[tuple[str, tuple[str, ...]], ...]
    """One ``(entry name, public keys)`` pair per ``*.agekey`` entry, sorted by entry name."""

    @property
    def publics(self) -> tuple[str, ...]:
        """Every public key over all entries, in first-seen order, without duplicates."""
        seen: dict[str, None] = {}
        for _name, publics in self.entries:
            for public in publics:
                seen.setdefault(public, None)
        return tuple(seen)


def read_cluster_keys(ref: SecretRef, env: Mapping[str, str]) -> ClusterKeys:
    """GET the Secret and return the public keys of each ``*.agekey`` entry.

    Raises ClusterError when the kubeconfig or context is unusable, the API cannot be reached
    or refuses the request, the Secret is missing, it has no ``*.agekey`` entry, or an entry
    holds no age identity.
    """
    with open_session(ref.context, env) as session:
        secret = _call(
            session,
            ref,
            "get",
            lambda: session.core.read_namespaced_secret(
                ref.name, ref.namespace, _request_timeout=REQUEST_TIMEOUT
            ),
        )
    texts = _entry_texts(session, ref, secret)
    names = sorted(name for name in texts if name.endswith(AGEKEY_SUFFIX))
    if not names:
        raise ClusterError(
            f'secret {ref.label} in context "{session.context}" has no *{AGEKEY_SUFFIX} entry',
            hints=(f"{_FLUX_HINT}, e.g. age.agekey",),
        )
    entries: list[tuple[str, tuple[str, ...]]] = []
    for name in names:
        entries.append((name, _entry_publics(session, ref, name, texts[name])))
    return ClusterKeys(ref=ref, context=session.context, entries=tuple(entries))


def apply_secret(
    ref: SecretRef,
    entries: Mapping[str, str],
    env: Mapping[str, str],
    *,
    dry_run: bool = False,
    keep_others: bool = False,
    drop: Collection[str] = (),
) -> Applied:
    """Create the Secret from ``entries`` (name → text), or replace it whole if it exists.

    ``keep_others``: an existing Secret keeps its entries whose names ``entries`` does not
    give (a PGP key's ``sops.asc`` in Flux's ``sops-gpg`` Secret, beside the age key added),
    except those named in ``drop`` (the entries of a finished key rotation).

    A new Secret is of type Opaque. An existing one is replaced, not merged: entries that are
    not in ``entries`` are gone afterwards, and so are its labels and annotations (kubectl's
    last-applied annotation would otherwise keep a copy of the old private key). Its type is
    kept, since the API refuses to change it. Returns ``"created"`` or ``"replaced"``
    (``"updated"`` with ``keep_others``), with the entries ``drop`` took out.

    ``dry_run`` asks the API server to check the request (kubeconfig, reachability, namespace,
    permission to create or update) without storing anything: a preflight before a step that
    changes the repository.
    """
    extra: dict[str, str] = {"dry_run": "All"} if dry_run else {}
    data = dict(entries)
    with open_session(ref.context, env) as session:
        current = _call(
            session,
            ref,
            "get",
            lambda: session.core.read_namespaced_secret(
                ref.name, ref.namespace, _request_timeout=REQUEST_TIMEOUT
            ),
            missing_ok=True,
        )
        if current is None:
            created = _secret_body(ref, data, resource_version=None, secret_type="Opaque")
            _call(
                session,
                ref,
                "create",
                lambda: session.core.create_namespaced_secret(
                    ref.namespace, created, _request_timeout=REQUEST_TIMEOUT, **extra
                ),
            )
            return Applied("created")
        if getattr(current, "immutable", None):
            raise ClusterError(
                f'secret {ref.label} in context "{session.context}" is immutable',
                hints=(f"delete it first: kubectl -n {ref.namespace} delete secret {ref.name}",),
            )
        metadata = getattr(current, "metadata", None)
        replaced = _secret_body(
            ref,
            data,
            resource_version=getattr(metadata, "resource_version", None),
            secret_type=getattr(current, "type", None) or "Opaque",
        )
        removed: tuple[str, ...] = ()
        if keep_others:  # as the API holds them: base64 under data
            held = getattr(current, "data", None) or {}
            replaced["data"] = {k: v for k, v in held.items() if k not in data and k not in drop}
            removed = tuple(k for k in sorted(held) if k in drop and k not in data)
        _call(
            session,
            ref,
            "update",
            lambda: session.core.replace_namespaced_secret(
                ref.name, ref.namespace, replaced, _request_timeout=REQUEST_TIMEOUT, **extra
            ),
        )
        return Applied("updated", removed) if keep_others else Applied("replaced")


# --- errors ---------------------------------------------------------------------------------


def _call(
    session: Session,
    ref: SecretRef,
    verb: str,
    action: Callable[[], Any],
    *,
    missing_ok: bool = False,
) -> Any:
    """One request about the Secret ``ref``; an error answer is worded for ``verb``."""
    return call(
        session,
        action,
        lambda status, reason: _api_error(session, ref, verb, status, reason),
        missing_ok=missing_ok,
    )


def _api_error(
    session: Session, ref: SecretRef, verb: str, status: int, reason: str
) -> ClusterError:
    ctx = session.context
    in_ctx = f'in context "{ctx}"'
    if status == 401:
        return unauthorized(session, f"{verb} secret {ref.label}")
    if status == 403:
        return ClusterError(
            f'forbidden: context "{ctx}" may not {verb} secrets in namespace {ref.namespace} '
            f"({ref.label}, 403)",
            hints=(
                f"check with: kubectl auth can-i {verb} secrets -n {ref.namespace} --context {ctx}",
            ),
        )
    if status == 404 and verb == "create":
        return ClusterError(
            f"namespace {ref.namespace} not found {in_ctx} (cannot create {ref.label})",
            hints=(f"kubectl create namespace {ref.namespace} --context {ctx}",),
        )
    if status == 404 and verb == "update":
        return ClusterError(
            f"secret {ref.label} disappeared {in_ctx} while being replaced",
            hints=("run the command again",),
        )
    if status == 404:
        return ClusterError(
            f"secret {ref.label} not found {in_ctx}",
            hints=(f"{_FLUX_HINT} of this Secret; check the context, namespace and name",),
        )
    if status == 409:
        return ClusterError(
            f"secret {ref.label} changed {in_ctx} while being written (409 conflict)",
            hints=("run the command again",),
        )
    shown = f"{status} {reason}".strip()
    return ClusterError(
        f"the Kubernetes API at {session.server} answered {shown} to {verb} secret "
        f'{ref.label} (context "{ctx}")'
    )


# --- entries --------------------------------------------------------------------------------


def _entry_texts(session: Session, ref: SecretRef, secret: Any) -> dict[str, str]:
    """Entry name → text, from ``data`` (base64) and ``stringData`` (plain, wins on clashes)."""
    texts: dict[str, str] = {}
    for name, encoded in (getattr(secret, "data", None) or {}).items():
        try:
            texts[name] = base64.b64decode(encoded or "", validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            raise ClusterError(
                f"entry {name} of secret {ref.label} in context "
                f'"{session.context}" is not base64-encoded UTF-8 text'
            ) from None
    for name, text in (getattr(secret, "string_data", None) or {}).items():
        texts[name] = text or ""
    return texts


def _entry_publics(session: Session, ref: SecretRef, name: str, text: str) -> tuple[str, ...]:
    """The public keys of the identities in one entry; the identities are dropped at once."""
    source = f"{ref.label} entry {name}"
    try:
        publics = parse_identities(text, source).publics
    except ConfigError as exc:
        raise ClusterError(
            f'{exc.message} (context "{session.context}")', hints=exc.hints
        ) from None
    if not publics:
        raise ClusterError(
            f'{source} holds no age identity (context "{session.context}")',
            hints=(f"{_FLUX_HINT}; each needs an AGE-SECRET-KEY-1… line",),
        )
    return publics


def _secret_body(
    ref: SecretRef, entries: dict[str, str], *, resource_version: str | None, secret_type: str
) -> dict[str, Any]:
    metadata: dict[str, str] = {"name": ref.name, "namespace": ref.namespace}
    if resource_version:
        metadata["resourceVersion"] = resource_version
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata,
        "type": secret_type,
        "stringData": entries,
    }
