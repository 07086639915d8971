"""Read and write the Flux ``sops-age`` Secret through the Kubernetes API.

The ``kubernetes`` client is an optional extra (``secretsmgr[cluster]``) that takes about half a
second to import, so it is imported inside the functions that talk to a cluster and nowhere else.

Every call builds its own ApiClient from the kubeconfig that ``env`` points at (``KUBECONFIG``,
else ``$HOME/.kube/config``); the client's global default configuration is never touched and
the kubeconfig is never written back. Requests use short timeouts and no urllib3 retries, so a
dead server fails in seconds. Each failure becomes a one-line :class:`ClusterError` naming the
context and the Secret; messages never hold a token or key material. Private key text read
from the cluster lives only long enough to derive its public keys.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import socket
import ssl
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from secretsmgr.errors import ClusterError, ConfigError
from secretsmgr.keys.age import parse_identities

AGEKEY_SUFFIX = ".agekey"
"""Flux's sops decryption uses the Secret entries whose names end with this suffix."""

REQUEST_TIMEOUT = (5.0, 15.0)
"""(connect, read) timeout in seconds for every API request."""

_FLUX_HINT = "Flux's sops decryption reads the age identities from the *.agekey entries"
_LONG_RUN = re.compile(r"[A-Za-z0-9+=_.\-]{32,}")


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
    with _session(ref, env) as session:
        secret = _call(
            session,
            "get",
            lambda: session.core.read_namespaced_secret(
                ref.name, ref.namespace, _request_timeout=REQUEST_TIMEOUT
            ),
        )
    texts = _entry_texts(session, secret)
    names = sorted(name for name in texts if name.endswith(AGEKEY_SUFFIX))
    if not names:
        raise ClusterError(
            f'secret {ref.label} in context "{session.context}" has no *{AGEKEY_SUFFIX} entry',
            hints=(f"{_FLUX_HINT}, e.g. age.agekey",),
        )
    entries: list[tuple[str, tuple[str, ...]]] = []
    for name in names:
        entries.append((name, _entry_publics(session, name, texts[name])))
    return ClusterKeys(ref=ref, context=session.context, entries=tuple(entries))


def apply_secret(
    ref: SecretRef, entries: Mapping[str, str], env: Mapping[str, str], *, dry_run: bool = False
) -> str:
    """Create the Secret from ``entries`` (name → text), or replace it whole if it exists.

    A new Secret is of type Opaque. An existing one is replaced, not merged: entries that are
    not in ``entries`` are gone afterwards, and so are its labels and annotations (kubectl's
    last-applied annotation would otherwise keep a copy of the old private key). Its type is
    kept, since the API refuses to change it. Returns ``"created"`` or ``"replaced"``.

    ``dry_run`` asks the API server to check the request (kubeconfig, reachability, namespace,
    permission to create or update) without storing anything: a preflight before a step that
    changes the repository.
    """
    extra: dict[str, str] = {"dry_run": "All"} if dry_run else {}
    data = dict(entries)
    with _session(ref, env) as session:
        current = _call(
            session,
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
                "create",
                lambda: session.core.create_namespaced_secret(
                    ref.namespace, created, _request_timeout=REQUEST_TIMEOUT, **extra
                ),
            )
            return "created"
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
        _call(
            session,
            "update",
            lambda: session.core.replace_namespaced_secret(
                ref.name, ref.namespace, replaced, _request_timeout=REQUEST_TIMEOUT, **extra
            ),
        )
        return "replaced"


def kubeconfig_paths(env: Mapping[str, str]) -> tuple[Path, ...]:
    """The kubeconfig files ``env`` names, existing or not (``KUBECONFIG`` is a path list)."""
    raw = env.get("KUBECONFIG", "")
    parts = [part for part in raw.split(os.pathsep) if part] or ["~/.kube/config"]
    home = env.get("HOME")
    paths: list[Path] = []
    for part in parts:
        if home and (part == "~" or part.startswith("~/")):
            paths.append(Path(home) / part[2:])
        else:
            paths.append(Path(os.path.expanduser(part)))
    return tuple(dict.fromkeys(paths))


# --- sessions -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Session:
    ref: SecretRef
    context: str
    server: str
    core: Any  # kubernetes.client.CoreV1Api bound to a private ApiClient
    api_exception: type[Exception]


@contextmanager
def _session(ref: SecretRef, env: Mapping[str, str]) -> Iterator[_Session]:
    """A CoreV1Api for ``ref.context`` of the kubeconfig in ``env``; closed on exit."""
    try:
        from kubernetes import client as kube_client
        from kubernetes import config as kube_config_pkg
        from kubernetes.client.exceptions import ApiException
        from kubernetes.config import kube_config
    except ImportError as exc:
        raise ClusterError(
            "talking to the cluster needs the Kubernetes client, which is not installed",
            hints=("pip install 'secretsmgr[cluster]'",),
        ) from exc

    candidates = kubeconfig_paths(env)
    existing = [path for path in candidates if path.is_file()]
    if not existing:
        shown = ", ".join(str(path) for path in candidates)
        raise ClusterError(
            f"no kubeconfig found at {shown}",
            hints=("set KUBECONFIG to the kubeconfig of the cluster Flux runs in",),
        )
    files = ", ".join(str(path) for path in existing)
    # Loading a kubeconfig fails in many ways: ConfigException, PyYAML errors, OSError, and
    # TypeError/AttributeError/KeyError for YAML of the wrong shape. All mean the same here.
    try:
        merger = kube_config.KubeConfigMerger(  # type: ignore[no-untyped-call]
            os.pathsep.join(map(str, existing))
        )
        merged = merger.config
        contexts, current = _contexts(merged)
    except Exception as exc:
        raise ClusterError(
            f"cannot read the kubeconfig {files}: {_one_line(str(exc)) or type(exc).__name__}"
        ) from None

    available = (
        f"available contexts: {', '.join(contexts)}"
        if contexts
        else "the kubeconfig defines no context"
    )
    context = ref.context or current
    if not context:
        raise ClusterError(
            f"the kubeconfig {files} has no current-context",
            hints=(f"pass --context; {available}",),
        )
    if context not in contexts:
        raise ClusterError(
            f'context "{context}" is not in the kubeconfig {files}', hints=(available,)
        )

    configuration = kube_client.Configuration()
    configuration.retries = 0  # urllib3 would otherwise retry a dead server three times
    try:
        api_client = kube_config_pkg.new_client_from_config_dict(  # type: ignore[no-untyped-call]
            config_dict=merged,
            context=context,
            persist_config=False,
            client_configuration=configuration,
        )
    except Exception as exc:  # also exec plugins, unreadable cert files, bad base64
        raise ClusterError(
            f'cannot use context "{context}" of the kubeconfig {files}: '
            f"{_one_line(str(exc)) or type(exc).__name__}",
        ) from None
    try:
        yield _Session(
            ref=ref,
            context=context,
            server=_safe_url(str(configuration.host)),
            core=kube_client.CoreV1Api(api_client),
            api_exception=ApiException,
        )
    finally:
        api_client.close()


def _contexts(merged: Any) -> tuple[list[str], str | None]:
    """Context names and current-context of a merged kubeconfig (a client ConfigNode)."""
    if merged is None:
        return [], None
    value = merged.value
    names: list[str] = []
    for node in value.get("contexts") or []:
        item = getattr(node, "value", node)
        if isinstance(item, Mapping) and isinstance(item.get("name"), str):
            names.append(item["name"])
    current = value.get("current-context")
    return names, current if isinstance(current, str) and current else None


def _call(
    session: _Session, verb: str, action: Callable[[], Any], *, missing_ok: bool = False
) -> Any:
    """Run one API request; None for a 404 when ``missing_ok``; ClusterError on failure."""
    import urllib3

    try:
        return action()
    except session.api_exception as exc:
        status = int(getattr(exc, "status", 0) or 0)
        if status == 404 and missing_ok:
            return None
        # from None: the response body stays out of tracebacks.
        raise _api_error(session, verb, exc) from None
    except (urllib3.exceptions.HTTPError, ssl.SSLError, OSError) as exc:
        raise _unreachable(session, _transport_reason(exc)) from exc


# --- errors ---------------------------------------------------------------------------------


def _api_error(session: _Session, verb: str, exc: Exception) -> ClusterError:
    status = int(getattr(exc, "status", 0) or 0)
    reason = _one_line(str(getattr(exc, "reason", "") or ""), limit=60)
    ref, ctx = session.ref, session.context
    in_ctx = f'in context "{ctx}"'
    if status == 0:
        # The client turns TLS failures it sees directly into ApiException(status=0).
        full = str(getattr(exc, "reason", "") or "")
        if "CERTIFICATE_VERIFY_FAILED" in full:
            what = "TLS certificate verification failed"
        else:
            what = "TLS handshake failed" if "SSL" in full else "request failed"
        return _unreachable(session, what)
    if status == 401:
        return ClusterError(
            f"the Kubernetes API at {session.server} rejected the credentials of context "
            f'"{ctx}" (401 unauthorized) while trying to {verb} secret {ref.label}',
            hints=("log in again or refresh the token of that context",),
        )
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


def _unreachable(session: _Session, why: str) -> ClusterError:
    hint = (
        "the server certificate does not match the context's certificate-authority"
        if "TLS" in why
        else f"is the cluster up? try: kubectl cluster-info --context {session.context}"
    )
    return ClusterError(
        f'cannot reach the Kubernetes API at {session.server} (context "{session.context}"): {why}',
        hints=(hint,),
    )


def _transport_reason(exc: BaseException) -> str:
    """A few words for a network failure, from the exception and what it wraps."""
    import urllib3

    chain: list[BaseException] = []
    todo: list[BaseException] = [exc]
    while todo and len(chain) < 20:
        item = todo.pop()
        if any(item is seen for seen in chain):
            continue
        chain.append(item)
        for inner in (getattr(item, "reason", None), item.__cause__, item.__context__):
            if isinstance(inner, BaseException):
                todo.append(inner)

    errors = urllib3.exceptions
    name_error: tuple[type[BaseException], ...] = (socket.gaierror,)
    name_error += tuple(
        t for t in (getattr(errors, "NameResolutionError", None),) if isinstance(t, type)
    )

    def has(*types: type[BaseException]) -> bool:
        return any(isinstance(item, types) for item in chain)

    if has(*name_error):
        return "host name not found"
    if has(ConnectionRefusedError):
        return "connection refused"
    if has(ssl.SSLCertVerificationError):
        return "TLS certificate verification failed"
    if has(ssl.SSLError, errors.SSLError):
        return "TLS handshake failed"
    if has(errors.NewConnectionError):
        return "connection failed"
    if has(errors.TimeoutError, TimeoutError):
        return "timed out"
    if has(errors.ProtocolError, ConnectionError):
        return "connection dropped"
    return "connection failed"


# --- entries --------------------------------------------------------------------------------


def _entry_texts(session: _Session, secret: Any) -> dict[str, str]:
    """Entry name → text, from ``data`` (base64) and ``stringData`` (plain, wins on clashes)."""
    texts: dict[str, str] = {}
    for name, encoded in (getattr(secret, "data", None) or {}).items():
        try:
            texts[name] = base64.b64decode(encoded or "", validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            raise ClusterError(
                f"entry {name} of secret {session.ref.label} in context "
                f'"{session.context}" is not base64-encoded UTF-8 text'
            ) from None
    for name, text in (getattr(secret, "string_data", None) or {}).items():
        texts[name] = text or ""
    return texts


def _entry_publics(session: _Session, name: str, text: str) -> tuple[str, ...]:
    """The public keys of the identities in one entry; the identities are dropped at once."""
    source = f"{session.ref.label} entry {name}"
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


def _one_line(text: str, *, limit: int = 160) -> str:
    """The first non-blank line of ``text``, long token-like runs masked, cut at ``limit``."""
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    line = _LONG_RUN.sub("…", line)
    return line if len(line) <= limit else line[:limit] + "…"


def _safe_url(url: str) -> str:
    """``url`` without any user:password part."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
