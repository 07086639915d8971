"""One Kubernetes API session per call, built from the kubeconfig ``env`` points at.

Shared by the Secret reads and writes (``kube.py``) and the Flux reads (``flux.py``). The
``kubernetes`` client is imported here, inside ``open_session``, and nowhere at module level:
it takes about half a second to import and is an optional extra (``secretsmgr[cluster]``).

Every session has its own ApiClient; the client's global default configuration is never
touched and the kubeconfig is never written back. Requests use short timeouts and no urllib3
retries, so a dead server fails in seconds. Failures become one-line :class:`ClusterError`\\ s
that never hold a token or key material.
"""

from __future__ import annotations

import os
import re
import socket
import ssl
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from secretsmgr.errors import ClusterError

REQUEST_TIMEOUT = (5.0, 15.0)
"""(connect, read) timeout in seconds for every API request."""

_LONG_RUN = re.compile(r"[A-Za-z0-9+=_.\-]{32,}")


@dataclass(frozen=True, slots=True)
class Session:
    """An API client bound to one kubeconfig context, and the typed APIs over it."""

    context: str
    """The context actually used (the current-context when none was asked for)."""
    server: str
    """The API server URL, without any user:password part."""
    core: Any  # kubernetes.client.CoreV1Api
    custom: Any  # kubernetes.client.CustomObjectsApi
    apis: Any  # kubernetes.client.ApisApi (API group discovery)
    api_exception: type[Exception]


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


@contextmanager
def open_session(context: str | None, env: Mapping[str, str]) -> Iterator[Session]:
    """A session for ``context`` (None: the current-context) of the kubeconfig in ``env``."""
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
            f"cannot read the kubeconfig {files}: {one_line(str(exc)) or type(exc).__name__}"
        ) from None

    available = (
        f"available contexts: {', '.join(contexts)}"
        if contexts
        else "the kubeconfig defines no context"
    )
    chosen = context or current
    if not chosen:
        raise ClusterError(
            f"the kubeconfig {files} has no current-context",
            hints=(f"pass --context; {available}",),
        )
    if chosen not in contexts:
        raise ClusterError(
            f'context "{chosen}" is not in the kubeconfig {files}', hints=(available,)
        )

    configuration = kube_client.Configuration()
    configuration.retries = 0  # urllib3 would otherwise retry a dead server three times
    try:
        api_client = kube_config_pkg.new_client_from_config_dict(  # type: ignore[no-untyped-call]
            config_dict=merged,
            context=chosen,
            persist_config=False,
            client_configuration=configuration,
        )
    except Exception as exc:  # also exec plugins, unreadable cert files, bad base64
        raise ClusterError(
            f'cannot use context "{chosen}" of the kubeconfig {files}: '
            f"{one_line(str(exc)) or type(exc).__name__}",
        ) from None
    try:
        yield Session(
            context=chosen,
            server=safe_url(str(configuration.host)),
            core=_CoreSecrets(api_client),
            custom=kube_client.CustomObjectsApi(api_client),
            apis=kube_client.ApisApi(api_client),
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


def call(
    session: Session,
    action: Callable[[], Any],
    api_error: Callable[[int, str], ClusterError],
    *,
    missing_ok: bool = False,
) -> Any:
    """Run one API request; None for a 404 when ``missing_ok``; ClusterError on failure.

    ``api_error(status, reason)`` words an HTTP error answer for what was asked; failures to
    reach the server (and TLS failures the client reports as status 0) are worded here.
    """
    import urllib3

    try:
        return action()
    except session.api_exception as exc:
        status = int(getattr(exc, "status", 0) or 0)
        if status == 404 and missing_ok:
            return None
        if status == 0:
            # The client turns TLS failures it sees directly into ApiException(status=0).
            full = str(getattr(exc, "reason", "") or "")
            if "CERTIFICATE_VERIFY_FAILED" in full:
                what = "TLS certificate verification failed"
            else:
                what = "TLS handshake failed" if "SSL" in full else "request failed"
            raise unreachable(session, what) from None
        reason = one_line(str(getattr(exc, "reason", "") or ""), limit=60)
        # from None: the response body stays out of tracebacks.
        raise api_error(status, reason) from None
    except (urllib3.exceptions.HTTPError, ssl.SSLError, OSError) as exc:
        raise unreachable(session, _transport_reason(exc)) from exc


class _CoreSecrets:
    """The three calls on Secrets that secretsmgr makes, as the Kubernetes client's CoreV1Api
    makes them (same requests, same V1Secret answers and ApiException errors), without
    importing that API's module: it alone takes about 0.6 s, on every command that reads the
    cluster."""

    _TYPES = MappingProxyType({"200": "V1Secret", "201": "V1Secret", "202": "V1Secret"})

    def __init__(self, api_client: Any) -> None:
        self._client = api_client

    def _send(
        self,
        method: str,
        path: str,
        params: Mapping[str, str],
        *,
        body: object = None,
        dry_run: str | None = None,
        _request_timeout: object = None,
    ) -> Any:
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        request = self._client.param_serialize(
            method=method,
            resource_path=path,
            path_params=dict(params),
            query_params=[("dryRun", dry_run)] if dry_run else [],
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
        )
        answer = self._client.call_api(*request, _request_timeout=_request_timeout)
        answer.read()
        return self._client.response_deserialize(answer, dict(self._TYPES)).data

    def read_namespaced_secret(
        self, name: str, namespace: str, *, _request_timeout: object = None
    ) -> Any:
        """GET the Secret."""
        where = {"name": name, "namespace": namespace}
        path = "/api/v1/namespaces/{namespace}/secrets/{name}"
        return self._send("GET", path, where, _request_timeout=_request_timeout)

    def create_namespaced_secret(
        self,
        namespace: str,
        body: object,
        *,
        _request_timeout: object = None,
        dry_run: str | None = None,
    ) -> Any:
        """POST a new Secret."""
        path = "/api/v1/namespaces/{namespace}/secrets"
        return self._send(
            "POST",
            path,
            {"namespace": namespace},
            body=body,
            dry_run=dry_run,
            _request_timeout=_request_timeout,
        )

    def replace_namespaced_secret(
        self,
        name: str,
        namespace: str,
        body: object,
        *,
        _request_timeout: object = None,
        dry_run: str | None = None,
    ) -> Any:
        """PUT the Secret whole."""
        where = {"name": name, "namespace": namespace}
        path = "/api/v1/namespaces/{namespace}/secrets/{name}"
        return self._send(
            "PUT", path, where, body=body, dry_run=dry_run, _request_timeout=_request_timeout
        )


def unauthorized(session: Session, doing: str) -> ClusterError:
    """A 401: the context's credentials were rejected while ``doing`` something."""
    return ClusterError(
        f"the Kubernetes API at {session.server} rejected the credentials of context "
        f'"{session.context}" (401 unauthorized) while trying to {doing}',
        hints=("log in again or refresh the token of that context",),
    )


def unreachable(session: Session, why: str) -> ClusterError:
    """The server could not be reached (or its certificate was not trusted)."""
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


def one_line(text: str, *, limit: int = 160) -> str:
    """The first non-blank line of ``text``, long token-like runs masked, cut at ``limit``."""
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    line = _LONG_RUN.sub("…", line)
    return line if len(line) <= limit else line[:limit] + "…"


def safe_url(url: str) -> str:
    """``url`` without any user:password part."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
