"""A real kube-apiserver and etcd on 127.0.0.1 for the cluster tests, once per session.

The API server is v1.20.2, built from Debian's source package by
``scripts/build-kube-apiserver.sh``; etcd is Debian's ``etcd-server``. Authentication is a
static token file: ``admin`` (group system:masters) and ``nobody`` (no RBAC rights, so it gets
a real 403). TLS uses the self-signed certificate the API server writes into its --cert-dir.

The kubeconfig has three contexts: ``test`` (admin, current-context), ``nobody`` and ``down``
(a closed port on 127.0.0.1). Helpers seed and inspect Secrets with ``kubectl``, a different
client from the one secretsmgr uses, so they check its writes independently.
"""

from __future__ import annotations

import base64
import json
import os
import random
import secrets
import shutil
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.secret_service import SecretService

DEFAULT_KUBE_APISERVER = "/var/cache/secretsmgr-ci/kube-apiserver-v1.20.2"
# Read at import: the root conftest's autouse fixture drops SECRETSMGR_* from each test's env.
KUBE_APISERVER = Path(os.environ.get("SECRETSMGR_TEST_KUBE_APISERVER") or DEFAULT_KUBE_APISERVER)
REQUIRE_KUBE = os.environ.get("SECRETSMGR_REQUIRE_KUBE") == "1"
ETCD = shutil.which("etcd") or "/usr/bin/etcd"
KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"
FLUX_CRD = Path(__file__).with_name("kustomization-crd.yaml")
KS = "kustomizations.kustomize.toolkit.fluxcd.io"
_KS_PATH = "/apis/kustomize.toolkit.fluxcd.io/v1"
_TLS: dict[str, ssl.SSLContext] = {}  # server -> a context trusting its self-signed certificate
_FLUX_INSTALLED: set[str] = set()  # servers the Kustomization CRD is established on
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0


@dataclass(frozen=True)
class KubeAPI:
    """A running API server: its kubeconfig, URL, admin token and kubectl-based helpers."""

    kubeconfig: Path
    server: str
    token: str
    """The admin bearer token; tests check that it never shows up in an error."""
    root: Path

    def kubectl(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run kubectl as admin (context ``test``) with an environment of its own."""
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(self.root / "kubectl-home"),
            "KUBECONFIG": str(self.kubeconfig),
        }
        return subprocess.run(
            [KUBECTL, "--context", "test", "--request-timeout", "20s", *args],
            input=stdin,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )

    def _ok(self, *args: str, stdin: str | None = None) -> str:
        done = self.kubectl(*args, stdin=stdin)
        if done.returncode != 0:
            pytest.fail(f"kubectl {' '.join(args)} failed: {done.stderr.strip()}")
        return done.stdout

    def rest(
        self,
        method: str,
        path: str,
        body: object = None,
        *,
        content_type: str = "application/json",
        allow: tuple[int, ...] = (),
    ) -> dict[str, object] | None:
        """One request to the API server as admin (the test's own client: a kubectl process
        costs a few hundred milliseconds, a request a few); None for a status in ``allow``."""
        context = _TLS.get(self.server)
        if context is None:
            context = _TLS[self.server] = ssl.create_default_context(
                cafile=str(self.root / "certs" / "apiserver.crt")
            )
        request = urllib.request.Request(
            self.server + path,
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={
                "Authorization": f"Bearer {self.token}",
                "Accept": "application/json",
                "Content-Type": content_type,
            },
        )
        try:
            with urllib.request.urlopen(request, context=context, timeout=20) as response:
                answer: dict[str, object] = json.loads(response.read() or b"{}")
                return answer
        except urllib.error.HTTPError as exc:
            if exc.code in allow:
                return None
            pytest.fail(f"{method} {path} failed: {exc.code} {exc.read()[:300]!r}")

    def create_namespace(self, name: str) -> None:
        """Create a namespace (no error when it exists)."""
        namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        self.rest("POST", "/api/v1/namespaces", namespace, allow=(409,))

    def put_secret(self, namespace: str, name: str, data: dict[str, str]) -> None:
        """Make the Secret hold exactly ``data`` (entry → text): delete, then create."""
        manifest = {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": {"name": name, "namespace": namespace},
            "data": {k: base64.b64encode(v.encode()).decode("ascii") for k, v in data.items()},
        }
        self.delete_secret(namespace, name)
        self.rest("POST", f"/api/v1/namespaces/{namespace}/secrets", manifest)

    def get_secret_data(self, namespace: str, name: str) -> dict[str, str] | None:
        """The Secret's entries, decoded, or None when it does not exist."""
        found = self.rest("GET", f"/api/v1/namespaces/{namespace}/secrets/{name}", allow=(404,))
        if found is None:
            return None
        data = cast(dict[str, str], found.get("data") or {})
        return {k: base64.b64decode(v).decode() for k, v in data.items()}

    def get_secret(self, namespace: str, name: str) -> dict[str, object]:
        """The whole Secret object as the API returns it."""
        found = self.rest("GET", f"/api/v1/namespaces/{namespace}/secrets/{name}")
        assert found is not None
        return found

    def delete_secret(self, namespace: str, name: str) -> None:
        """Delete the Secret if it exists."""
        self.rest("DELETE", f"/api/v1/namespaces/{namespace}/secrets/{name}", allow=(404,))

    # --- Flux Kustomizations (the minimal CRD in kustomization-crd.yaml) ---

    def install_flux(self) -> None:
        """Install the Kustomization CRD (idempotent) and wait until the API serves it.

        A binary built before scripts/build-kube-apiserver.sh vendored reflect2 v1.0.2 dies on
        the first custom resource it decodes (taking every later test with it): such a binary,
        told by the missing stamp file beside it, fails (or skips) the test instead.
        """
        stamp = KUBE_APISERVER.with_name(KUBE_APISERVER.name + ".reflect2-1.0.2")
        if not stamp.exists():
            why = (
                f"{KUBE_APISERVER} has no {stamp.name} stamp: built before the reflect2 fix, it "
                "crashes on custom resources; delete it and run scripts/build-kube-apiserver.sh"
            )
            if REQUIRE_KUBE:
                pytest.fail(f"SECRETSMGR_REQUIRE_KUBE=1 but {why}")
            pytest.skip(why)
        if self.server in _FLUX_INSTALLED:
            return  # no test removes it
        self._ok("apply", "-f", str(FLUX_CRD))
        self._ok("wait", "--for", "condition=established", "--timeout", "60s", f"crd/{KS}")
        _FLUX_INSTALLED.add(self.server)

    def put_kustomization(self, namespace: str, name: str, *, decryption: bool = True) -> None:
        """Create (or replace the spec of) a Kustomization; ``decryption`` adds sops decryption."""
        spec: dict[str, object] = {
            "interval": "10m",
            "path": f"./gitops/{name}",
            "prune": True,
            "sourceRef": {"kind": "GitRepository", "name": "flux-system"},
        }
        if decryption:
            spec["decryption"] = {"provider": "sops", "secretRef": {"name": "sops-age"}}
        manifest = {
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
            "kind": "Kustomization",
            "metadata": {"name": name, "namespace": namespace},
            "spec": spec,
        }
        self.create_namespace(namespace)
        self.rest(  # server-side apply: created, or its spec made exactly this one
            "PATCH",
            f"{_KS_PATH}/namespaces/{namespace}/kustomizations/{name}?fieldManager=tests&force=true",
            manifest,
            content_type="application/apply-patch+yaml",
        )

    def set_kustomization_status(
        self, namespace: str, name: str, *, ready: bool, revision: str | None
    ) -> None:
        """What kustomize-controller would write: the Ready condition and the last revision,
        through the status subresource."""
        condition = {
            "type": "Ready",
            "status": "True" if ready else "False",
            "reason": "ReconciliationSucceeded" if ready else "ReconciliationFailed",
            "message": f"Applied revision: {revision}" if ready else "decryption failed",
            "lastTransitionTime": "2026-01-01T00:00:00Z",
        }
        status: dict[str, object] = {"conditions": [condition]}
        if revision is not None:
            status["lastAppliedRevision"] = revision
        self.rest(
            "PATCH",
            f"{_KS_PATH}/namespaces/{namespace}/kustomizations/{name}/status",
            {"status": status},
            content_type="application/merge-patch+json",
        )

    def delete_kustomizations(self) -> None:
        """Delete every Kustomization in every namespace."""
        found = self.rest("GET", f"{_KS_PATH}/kustomizations", allow=(404,)) or {}
        for item in cast(list[dict[str, dict[str, str]]], found.get("items") or []):
            meta = item["metadata"]
            where = f"{_KS_PATH}/namespaces/{meta['namespace']}/kustomizations/{meta['name']}"
            self.rest("DELETE", where, allow=(404,))  # no finalizers: gone at once


def _free_port() -> int:
    """A free port below the kernel's ephemeral range (32768 and up on Linux): a port the
    kernel hands out for port 0 may meanwhile become the source port of an outgoing connection,
    kube-apiserver's own to etcd among them, and the server's bind then fails with "address
    already in use" (it did once, in a CI run of stop 44)."""
    rng = random.SystemRandom()
    for _ in range(200):
        port = rng.randrange(20000, 32000)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port below the ephemeral range")


def _tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return f"--- {path.name}: (missing)"
    return f"--- {path.name} (last {lines} lines):\n" + "\n".join(text.splitlines()[-lines:])


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=STOP_TIMEOUT)


def _write_service_account_keys(root: Path) -> tuple[Path, Path]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = root / "sa.key"
    public = root / "sa.pub"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private, public


def _write_kubeconfig(
    path: Path, server: str, down: str, ca: Path, admin: str, nobody: str
) -> None:
    # JSON is YAML, and needs no quoting care.
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "test", "cluster": {"server": server, "certificate-authority": str(ca)}},
            {"name": "down", "cluster": {"server": down, "certificate-authority": str(ca)}},
        ],
        "users": [
            {"name": "admin", "user": {"token": admin}},
            {"name": "nobody", "user": {"token": nobody}},
        ],
        "contexts": [
            {"name": "test", "context": {"cluster": "test", "user": "admin"}},
            {"name": "nobody", "context": {"cluster": "test", "user": "nobody"}},
            {"name": "down", "context": {"cluster": "down", "user": "admin"}},
        ],
        "current-context": "test",
    }
    path.write_text(json.dumps(config, indent=2), encoding="utf-8")
    path.chmod(0o600)


def _wait_ready(
    url: str, ca: Path, token: str, procs: dict[str, subprocess.Popen[bytes]]
) -> str | None:
    """None once ``url`` answers 200, else why not (a process died or time ran out)."""
    deadline = time.monotonic() + READY_TIMEOUT
    last = "no answer yet"
    context: ssl.SSLContext | None = None
    while time.monotonic() < deadline:
        for name, proc in procs.items():
            if proc.poll() is not None:
                return f"{name} exited with status {proc.returncode}"
        if context is None and ca.is_file():
            context = ssl.create_default_context(cafile=str(ca))
        if context is not None:
            request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
            try:
                with urllib.request.urlopen(request, timeout=2, context=context) as response:
                    if response.status == 200:
                        return None
            except urllib.error.HTTPError as exc:
                last = f"HTTP {exc.code}"
            except (urllib.error.URLError, OSError) as exc:
                last = str(exc)
        time.sleep(0.2)
    return f"not ready after {READY_TIMEOUT:.0f} s ({last})"


def _missing_binaries() -> str | None:
    if not KUBE_APISERVER.is_file():
        return f"no kube-apiserver binary at {KUBE_APISERVER}"
    if not Path(ETCD).is_file():
        return f"no etcd binary at {ETCD}"
    if not Path(KUBECTL).exists():
        return f"no kubectl at {KUBECTL}"
    return None


@pytest.fixture(scope="session")
def kube_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeAPI]:
    """Start etcd and kube-apiserver on free 127.0.0.1 ports; stop both at session end."""
    missing = _missing_binaries()
    if missing is not None:
        if REQUIRE_KUBE:
            pytest.fail(
                f"SECRETSMGR_REQUIRE_KUBE=1 but {missing}: run scripts/build-kube-apiserver.sh"
            )
        pytest.skip(f"{missing}: run scripts/build-kube-apiserver.sh")

    root = tmp_path_factory.mktemp("kube")
    (root / "kubectl-home").mkdir()
    etcd_client, etcd_peer, secure, closed = (_free_port() for _ in range(4))
    admin_token = secrets.token_hex(16)
    nobody_token = secrets.token_hex(16)
    tokens = root / "tokens.csv"
    tokens.write_text(
        f"{admin_token},admin,admin,system:masters\n{nobody_token},nobody,nobody\n",
        encoding="utf-8",
    )
    tokens.chmod(0o600)
    sa_key, sa_pub = _write_service_account_keys(root)
    certs = root / "certs"
    ca = certs / "apiserver.crt"
    server = f"https://127.0.0.1:{secure}"
    kubeconfig = root / "kubeconfig"
    _write_kubeconfig(
        kubeconfig, server, f"https://127.0.0.1:{closed}", ca, admin_token, nobody_token
    )

    etcd_url = f"http://127.0.0.1:{etcd_client}"
    peer_url = f"http://127.0.0.1:{etcd_peer}"
    etcd_cmd = [
        ETCD,
        "--name=t",
        f"--data-dir={root / 'etcd'}",
        f"--listen-client-urls={etcd_url}",
        f"--advertise-client-urls={etcd_url}",
        f"--listen-peer-urls={peer_url}",
        f"--initial-advertise-peer-urls={peer_url}",
        f"--initial-cluster=t={peer_url}",
        "--logger=zap",  # etcd 3.4 exits at once on --log-outputs without it
        f"--log-outputs={root / 'etcd.log'}",
    ]
    apiserver_cmd = [
        str(KUBE_APISERVER),
        f"--etcd-servers={etcd_url}",
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        f"--secure-port={secure}",
        "--insecure-port=0",
        f"--cert-dir={certs}",
        f"--token-auth-file={tokens}",
        "--authorization-mode=RBAC",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        f"--service-account-key-file={sa_pub}",
        f"--service-account-signing-key-file={sa_key}",
        "--service-cluster-ip-range=10.0.0.0/24",
        "--enable-priority-and-fairness=false",
        "--logtostderr=false",
        f"--log-file={root / 'kube-apiserver.log'}",
    ]
    logs = [root / n for n in ("etcd.log", "etcd.out", "kube-apiserver.log", "kube-apiserver.out")]
    procs: dict[str, subprocess.Popen[bytes]] = {}
    started = time.monotonic()
    try:
        with (root / "etcd.out").open("wb") as out:
            procs["etcd"] = subprocess.Popen(
                etcd_cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        with (root / "kube-apiserver.out").open("wb") as out:
            procs["kube-apiserver"] = subprocess.Popen(
                apiserver_cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        why = _wait_ready(f"{server}/readyz", ca, admin_token, procs)
        if why is not None:
            pytest.fail(
                f"kube-apiserver did not come up: {why}\n" + "\n".join(_tail(p) for p in logs),
                pytrace=False,
            )
        (root / "startup-seconds").write_text(f"{time.monotonic() - started:.2f}\n")
        yield KubeAPI(kubeconfig=kubeconfig, server=server, token=admin_token, root=root)
    finally:
        for name in ("kube-apiserver", "etcd"):
            if name in procs:
                _stop(procs[name])


@pytest.fixture
def service(tmp_path: Path) -> Iterator[SecretService]:
    """A private gnome-keyring on its own D-Bus, for an operator's key store."""
    svc = SecretService(tmp_path / "home").start()
    yield svc
    svc.stop()


def operator_env(service: SecretService, kube: KubeAPI, **extra: str) -> dict[str, str]:
    """An operator's shell: the keyring session, the kubeconfig, a fixed git identity."""
    return dict(
        service.env,
        KUBECONFIG=str(kube.kubeconfig),
        GIT_AUTHOR_NAME="Ops Person",
        GIT_AUTHOR_EMAIL="ops@example.invalid",
        GIT_COMMITTER_NAME="Ops Person",
        GIT_COMMITTER_EMAIL="ops@example.invalid",
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL="/dev/null",
        **extra,
    )
