"""secretsmgr.cluster.kube against a real kube-apiserver (see conftest.py): no mocks.

Every error case also checks that neither private key text nor a bearer token reaches the
message or the hints.
"""

from __future__ import annotations

import json
import re
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from secretsmgr.cluster import kube
from secretsmgr.cluster.kube import (
    ClusterKeys,
    SecretRef,
    apply_secret,
    kubeconfig_paths,
    read_cluster_keys,
)
from secretsmgr.errors import ClusterError, UserError
from secretsmgr.keys.age import generate_identity

from .conftest import KubeAPI

pytestmark = pytest.mark.kube

PRIVATE_KEY = re.compile(r"AGE-SECRET-KEY-1[02-9AC-HJ-NP-Z]{8,}")

ROOT = Path(__file__).resolve().parents[2]


def key_file(*identities: tuple[str, str]) -> str:
    """An age-keygen style key file holding ``identities`` ((secret, public) pairs)."""
    lines: list[str] = []
    for secret, public in identities:
        lines += ["# created: 2024-01-01T00:00:00Z", f"# public key: {public}", secret]
    return "\n".join(lines) + "\n"


@pytest.fixture
def ns(kube_api: KubeAPI) -> str:
    """A fresh namespace for one test."""
    name = f"t-{secrets.token_hex(4)}"
    kube_api.create_namespace(name)
    return name


@pytest.fixture
def leaks() -> list[str]:
    """Texts that must never appear in an error (fixtures and tests add to it)."""
    return []


@pytest.fixture
def env(kube_api: KubeAPI, tmp_path: Path, leaks: list[str]) -> dict[str, str]:
    """The environment secretsmgr would see: the test kubeconfig and a private HOME."""
    leaks.append(kube_api.token)
    return {"KUBECONFIG": str(kube_api.kubeconfig), "HOME": str(tmp_path)}


@pytest.fixture
def make_kubeconfig(kube_api: KubeAPI, tmp_path: Path, leaks: list[str]) -> Callable[..., Path]:
    """Write a variant of the test kubeconfig (edited by a callback) into tmp_path."""
    leaks.append(kube_api.token)

    def make(edit: Callable[[dict[str, Any]], None], name: str = "variant.kubeconfig") -> Path:
        config = json.loads(kube_api.kubeconfig.read_text(encoding="utf-8"))
        edit(config)
        path = tmp_path / name
        path.write_text(json.dumps(config), encoding="utf-8")
        return path

    return make


def expect_error(forbidden: list[str], action: Callable[[], object]) -> ClusterError:
    """Run ``action``, expect a clean ClusterError and return it."""
    with pytest.raises(ClusterError) as caught:
        action()
    err = caught.value
    assert isinstance(err, UserError) and err.exit_code == 2
    shown = "\n".join([err.message, *err.hints, str(err)])
    assert "\n" not in err.message, err.message
    assert not PRIVATE_KEY.search(shown.upper()), shown
    for text in forbidden:
        assert text not in shown, f"leaked into: {shown}"
    return err


# --- reading ---------------------------------------------------------------------------------


def test_reads_the_public_key_of_age_agekey(
    kube_api: KubeAPI, ns: str, env: dict[str, str]
) -> None:
    secret, public = generate_identity()
    kube_api.put_secret(ns, "sops-age", {"age.agekey": key_file((secret, public))})

    keys = read_cluster_keys(SecretRef(namespace=ns), env)

    assert keys == ClusterKeys(
        ref=SecretRef(namespace=ns), context="test", entries=(("age.agekey", (public,)),)
    )
    assert keys.publics == (public,)
    assert keys.ref.label == f"{ns}/sops-age"
    assert secret not in repr(keys)


def test_several_agekey_entries_sorted_other_entries_ignored(
    kube_api: KubeAPI, ns: str, env: dict[str, str]
) -> None:
    one, two, three = generate_identity(), generate_identity(), generate_identity()
    kube_api.put_secret(
        ns,
        "keys",
        {
            "zz.agekey": key_file(three, one),
            "aa.agekey": key_file(one, two),
            "notes.txt": "not a key file at all\n",
            "age.agekey.bak": "also ignored\n",
        },
    )

    keys = read_cluster_keys(SecretRef(namespace=ns, name="keys"), env)

    assert keys.entries == (
        ("aa.agekey", (one[1], two[1])),
        ("zz.agekey", (three[1], one[1])),
    )
    assert keys.publics == (one[1], two[1], three[1])


def test_explicit_context_and_kubeconfig_path_list(
    kube_api: KubeAPI, ns: str, tmp_path: Path, make_kubeconfig: Callable[..., Path]
) -> None:
    secret, public = generate_identity()
    kube_api.put_secret(ns, "sops-age", {"age.agekey": key_file((secret, public))})
    points_down = make_kubeconfig(lambda c: c.update({"current-context": "down"}))
    env = {"KUBECONFIG": f"{tmp_path / 'absent'}:{points_down}", "HOME": str(tmp_path)}

    keys = read_cluster_keys(SecretRef(namespace=ns, context="test"), env)

    assert keys.context == "test"
    assert keys.ref.context == "test"
    assert keys.publics == (public,)


def test_home_kube_config_is_the_default(kube_api: KubeAPI, ns: str, tmp_path: Path) -> None:
    secret, public = generate_identity()
    kube_api.put_secret(ns, "sops-age", {"age.agekey": key_file((secret, public))})
    (tmp_path / ".kube").mkdir()
    (tmp_path / ".kube" / "config").write_bytes(kube_api.kubeconfig.read_bytes())

    keys = read_cluster_keys(SecretRef(namespace=ns), {"HOME": str(tmp_path)})

    assert keys.publics == (public,)


def test_missing_secret_is_404(ns: str, env: dict[str, str], leaks: list[str]) -> None:
    err = expect_error(leaks, lambda: read_cluster_keys(SecretRef(namespace=ns), env))
    assert err.message == f'secret {ns}/sops-age not found in context "test"'
    assert any("*.agekey" in hint for hint in err.hints)


def test_secret_without_agekey_entries(
    kube_api: KubeAPI, ns: str, env: dict[str, str], leaks: list[str]
) -> None:
    secret, _public = generate_identity()
    leaks.append(secret)
    kube_api.put_secret(ns, "sops-age", {"keys.txt": secret + "\n", "age.key": secret + "\n"})

    err = expect_error(leaks, lambda: read_cluster_keys(SecretRef(namespace=ns), env))

    assert "has no *.agekey entry" in err.message and f"{ns}/sops-age" in err.message
    assert any("Flux" in hint and "*.agekey" in hint for hint in err.hints)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("# only a comment\n\n", "holds no age identity"),
        # built at run time so the repository's own SM009 gate has no near-key to report
        ("AGE-SECRET-KEY-" + "1NOTAREALKEYBUTCLOSE0000000000000000000000000000000\n", "line 1"),
    ],
    ids=["empty", "malformed"],
)
def test_agekey_entry_without_a_usable_identity(
    kube_api: KubeAPI,
    ns: str,
    env: dict[str, str],
    leaks: list[str],
    text: str,
    expected: str,
) -> None:
    good, _ = generate_identity()
    leaks += [good, text.strip()]
    kube_api.put_secret(ns, "sops-age", {"a.agekey": key_file((good, _)), "b.agekey": text})

    err = expect_error(leaks, lambda: read_cluster_keys(SecretRef(namespace=ns), env))

    assert expected in err.message
    assert f"{ns}/sops-age entry b.agekey" in err.message
    assert 'context "test"' in err.message


# --- writing ---------------------------------------------------------------------------------


def test_apply_creates_an_opaque_secret(kube_api: KubeAPI, ns: str, env: dict[str, str]) -> None:
    secret, public = generate_identity()
    ref = SecretRef(namespace=ns)

    assert apply_secret(ref, {"age.agekey": key_file((secret, public))}, env).verb == "created"

    assert kube_api.get_secret_data(ns, "sops-age") == {"age.agekey": key_file((secret, public))}
    assert kube_api.get_secret(ns, "sops-age")["type"] == "Opaque"
    assert read_cluster_keys(ref, env).publics == (public,)


def test_apply_replaces_whole_and_drops_old_entries(
    kube_api: KubeAPI, ns: str, env: dict[str, str]
) -> None:
    old, new = generate_identity(), generate_identity()
    kube_api.put_secret(ns, "sops-age", {"old.agekey": key_file(old), "extra": "left over"})
    kube_api.kubectl("-n", ns, "annotate", "secret", "sops-age", f"copy={old[0]}")
    ref = SecretRef(namespace=ns)

    assert apply_secret(ref, {"age.agekey": key_file(new)}, env).verb == "replaced"

    assert kube_api.get_secret_data(ns, "sops-age") == {"age.agekey": key_file(new)}
    metadata = kube_api.get_secret(ns, "sops-age")["metadata"]
    assert isinstance(metadata, dict)
    assert old[0] not in json.dumps(metadata)
    assert read_cluster_keys(ref, env).entries == (("age.agekey", (new[1],)),)
    # A second apply replaces again (fresh resourceVersion each time).
    assert apply_secret(ref, {"age.agekey": key_file(old)}, env).verb == "replaced"
    assert kube_api.get_secret_data(ns, "sops-age") == {"age.agekey": key_file(old)}


def test_apply_keeping_others_adds_beside_a_pgp_key(
    kube_api: KubeAPI, ns: str, env: dict[str, str]
) -> None:
    # sweep 18: a PGP repository's layers read sops-gpg; init's step gives Flux the new age key
    # in that Secret, which must keep the PGP key the other files need
    old, new = generate_identity(), generate_identity()
    armored = "-----BEGIN PGP PRIVATE KEY BLOCK-----\n(test)\n-----END PGP PRIVATE KEY BLOCK-----\n"
    kube_api.put_secret(ns, "sops-gpg", {"sops.asc": armored, "age.agekey": key_file(old)})
    ref = SecretRef(namespace=ns, name="sops-gpg")

    assert apply_secret(ref, {"age.agekey": key_file(new)}, env, keep_others=True).verb == "updated"

    assert kube_api.get_secret_data(ns, "sops-gpg") == {
        "sops.asc": armored,
        "age.agekey": key_file(new),
    }


def test_apply_refuses_an_immutable_secret(
    kube_api: KubeAPI, ns: str, env: dict[str, str], leaks: list[str]
) -> None:
    old, new = generate_identity(), generate_identity()
    leaks += [old[0], new[0]]
    manifest = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "sops-age", "namespace": ns},
        "immutable": True,
        "stringData": {"age.agekey": key_file(old)},
    }
    assert kube_api.kubectl("create", "-f", "-", stdin=json.dumps(manifest)).returncode == 0

    err = expect_error(
        leaks, lambda: apply_secret(SecretRef(namespace=ns), {"a.agekey": new[0]}, env)
    )

    assert err.message == f'secret {ns}/sops-age in context "test" is immutable'
    assert kube_api.get_secret_data(ns, "sops-age") == {"age.agekey": key_file(old)}


def test_apply_into_a_missing_namespace(env: dict[str, str], leaks: list[str]) -> None:
    secret, _public = generate_identity()
    leaks.append(secret)
    ref = SecretRef(namespace="no-such-namespace")

    err = expect_error(leaks, lambda: apply_secret(ref, {"age.agekey": secret}, env))

    assert err.message.startswith("namespace no-such-namespace not found in context")
    assert err.hints == ("kubectl create namespace no-such-namespace --context test",)


# --- refusals and failures -------------------------------------------------------------------


def test_forbidden_get_for_a_user_without_rights(
    kube_api: KubeAPI, ns: str, env: dict[str, str], leaks: list[str]
) -> None:
    secret, public = generate_identity()
    leaks.append(secret)
    kube_api.put_secret(ns, "sops-age", {"age.agekey": key_file((secret, public))})
    ref = SecretRef(namespace=ns, context="nobody")

    read_err = expect_error(leaks, lambda: read_cluster_keys(ref, env))
    apply_err = expect_error(leaks, lambda: apply_secret(ref, {"age.agekey": secret}, env))

    for err in (read_err, apply_err):
        assert err.message.startswith('forbidden: context "nobody" may not get secrets')
        assert f"{ns}/sops-age" in err.message and "403" in err.message
        assert err.hints == (
            f"check with: kubectl auth can-i get secrets -n {ns} --context nobody",
        )
    assert kube_api.get_secret_data(ns, "sops-age") == {"age.agekey": key_file((secret, public))}


def test_forbidden_create_and_update_name_the_verb(
    kube_api: KubeAPI, ns: str, env: dict[str, str], leaks: list[str]
) -> None:
    secret, public = generate_identity()
    leaks.append(secret)
    kube_api.kubectl("-n", ns, "create", "role", "reader", "--verb=get", "--resource=secrets")
    kube_api.kubectl("-n", ns, "create", "rolebinding", "reader", "--role=reader", "--user=nobody")
    ref = SecretRef(namespace=ns, context="nobody")
    entries = {"age.agekey": key_file((secret, public))}

    def apply() -> object:
        return apply_secret(ref, entries, env)

    # RBAC is enforced from the authorizer's cache, which lags the binding by a moment.
    for _ in range(50):
        err = expect_error(leaks, apply)
        if "may not create" in err.message:
            break
        time.sleep(0.1)
    assert err.message.startswith(
        f'forbidden: context "nobody" may not create secrets in namespace {ns}'
    )

    kube_api.put_secret(ns, "sops-age", {"age.agekey": "placeholder"})
    err = expect_error(leaks, apply)
    assert err.message.startswith(
        f'forbidden: context "nobody" may not update secrets in namespace {ns}'
    )
    assert kube_api.get_secret_data(ns, "sops-age") == {"age.agekey": "placeholder"}


def test_unauthorized_token(
    ns: str, tmp_path: Path, make_kubeconfig: Callable[..., Path], leaks: list[str]
) -> None:
    bogus = secrets.token_hex(16)
    leaks.append(bogus)

    def edit(config: dict[str, Any]) -> None:
        config["users"].append({"name": "stranger", "user": {"token": bogus}})
        config["contexts"].append(
            {"name": "stranger", "context": {"cluster": "test", "user": "stranger"}}
        )

    env = {"KUBECONFIG": str(make_kubeconfig(edit)), "HOME": str(tmp_path)}
    ref = SecretRef(namespace=ns, context="stranger")

    err = expect_error(leaks, lambda: read_cluster_keys(ref, env))

    assert "401 unauthorized" in err.message and 'context "stranger"' in err.message


def test_unreachable_server_fails_fast(
    kube_api: KubeAPI, env: dict[str, str], leaks: list[str]
) -> None:
    secret, _public = generate_identity()
    leaks.append(secret)
    down = json.loads(kube_api.kubeconfig.read_text())["clusters"][1]["cluster"]["server"]
    ref = SecretRef(context="down")

    started = time.monotonic()
    read_err = expect_error(leaks, lambda: read_cluster_keys(ref, env))
    apply_err = expect_error(leaks, lambda: apply_secret(ref, {"age.agekey": secret}, env))
    elapsed = time.monotonic() - started

    assert elapsed < 10, f"took {elapsed:.1f} s"
    for err in (read_err, apply_err):
        assert err.message == (
            f'cannot reach the Kubernetes API at {down} (context "down"): connection refused'
        )
        assert err.hints == ("is the cluster up? try: kubectl cluster-info --context down",)


def test_silent_server_times_out_without_retries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, leaks: list[str]
) -> None:
    """A server that accepts TCP but never answers TLS: one short timeout, no retry loop."""
    monkeypatch.setattr(kube, "REQUEST_TIMEOUT", (0.5, 0.5))
    pytest.importorskip("kubernetes.client")  # pay the ~1 s import before timing
    token = secrets.token_hex(16)
    leaks.append(token)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # the kernel completes handshakes; nobody ever reads
        server = f"https://127.0.0.1:{silent.getsockname()[1]}"
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "hung", "cluster": {"server": server}}],
            "users": [{"name": "u", "user": {"token": token}}],
            "contexts": [{"name": "hung", "context": {"cluster": "hung", "user": "u"}}],
            "current-context": "hung",
        }
        path = tmp_path / "hung.kubeconfig"
        path.write_text(json.dumps(config), encoding="utf-8")

        started = time.monotonic()
        err = expect_error(leaks, lambda: read_cluster_keys(SecretRef(), {"KUBECONFIG": str(path)}))
        elapsed = time.monotonic() - started

    assert err.message == f'cannot reach the Kubernetes API at {server} (context "hung"): timed out'
    assert elapsed < 1.4, f"took {elapsed:.2f} s: retried?"


def test_untrusted_server_certificate(
    kube_api: KubeAPI, tmp_path: Path, make_kubeconfig: Callable[..., Path], leaks: list[str]
) -> None:
    def edit(config: dict[str, Any]) -> None:
        del config["clusters"][0]["cluster"]["certificate-authority"]  # system CAs only

    env = {"KUBECONFIG": str(make_kubeconfig(edit)), "HOME": str(tmp_path)}

    err = expect_error(leaks, lambda: read_cluster_keys(SecretRef(), env))

    assert err.message.startswith(f"cannot reach the Kubernetes API at {kube_api.server}")
    assert "TLS" in err.message


def test_unknown_context_lists_the_available_ones(env: dict[str, str], leaks: list[str]) -> None:
    err = expect_error(leaks, lambda: read_cluster_keys(SecretRef(context="prod"), env))

    assert err.message.startswith('context "prod" is not in the kubeconfig')
    assert err.hints == ("available contexts: test, nobody, down",)


def test_kubeconfig_without_current_context(
    tmp_path: Path, make_kubeconfig: Callable[..., Path], leaks: list[str]
) -> None:
    path = make_kubeconfig(lambda c: c.pop("current-context"))
    env = {"KUBECONFIG": str(path), "HOME": str(tmp_path)}

    err = expect_error(leaks, lambda: read_cluster_keys(SecretRef(), env))

    assert "has no current-context" in err.message
    assert err.hints == ("pass --context; available contexts: test, nobody, down",)


def test_no_kubeconfig(tmp_path: Path, leaks: list[str]) -> None:
    err = expect_error(leaks, lambda: read_cluster_keys(SecretRef(), {"HOME": str(tmp_path)}))
    assert err.message == f"no kubeconfig found at {tmp_path / '.kube' / 'config'}"

    env = {"KUBECONFIG": f"{tmp_path / 'a'}:{tmp_path / 'b'}", "HOME": str(tmp_path)}
    err = expect_error(leaks, lambda: apply_secret(SecretRef(), {"x.agekey": "y"}, env))
    assert err.message == f"no kubeconfig found at {tmp_path / 'a'}, {tmp_path / 'b'}"


def test_unparseable_kubeconfig(tmp_path: Path, leaks: list[str]) -> None:
    path = tmp_path / "broken"
    path.write_text("clusters: [unclosed\n", encoding="utf-8")

    err = expect_error(leaks, lambda: read_cluster_keys(SecretRef(), {"KUBECONFIG": str(path)}))

    assert err.message.startswith(f"cannot read the kubeconfig {path}")


# --- no server needed ------------------------------------------------------------------------


def test_kubeconfig_paths_expand_home_from_env(tmp_path: Path) -> None:
    env = {"KUBECONFIG": "~/one::/abs/two:~/one", "HOME": str(tmp_path)}
    assert kubeconfig_paths(env) == (tmp_path / "one", Path("/abs/two"))
    assert kubeconfig_paths({"HOME": "/h", "KUBECONFIG": ""}) == (Path("/h/.kube/config"),)


def test_secret_ref_defaults() -> None:
    ref = SecretRef()
    assert (ref.namespace, ref.name, ref.context, ref.label) == (
        "flux-system",
        "sops-age",
        None,
        "flux-system/sops-age",
    )


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )


def test_importing_the_module_does_not_import_the_client() -> None:
    done = _python(
        "import sys, secretsmgr.cluster.kube\n"
        "assert 'kubernetes' not in sys.modules, 'kubernetes imported eagerly'\n"
    )
    assert done.returncode == 0, done.stderr


def test_missing_client_is_a_cluster_error() -> None:
    done = _python(
        "import sys\n"
        "sys.modules['kubernetes'] = None  # what an uninstalled package looks like\n"
        "from secretsmgr.cluster.kube import SecretRef, read_cluster_keys\n"
        "from secretsmgr.errors import ClusterError\n"
        "try:\n"
        "    read_cluster_keys(SecretRef(), {'KUBECONFIG': '/nonexistent'})\n"
        "except ClusterError as exc:\n"
        "    print(exc.message); print(exc.hints)\n"
    )
    assert done.returncode == 0, done.stderr
    assert "needs the Kubernetes client" in done.stdout
    assert "pip install 'secretsmgr[cluster]'" in done.stdout


def test_opening_a_session_leaves_the_core_api_module_unloaded(tmp_path: Path) -> None:
    # the Kubernetes client's CoreV1Api module takes about 0.6 s to import, on every command
    # that reads the cluster; the Secret calls are made without it (and tested above against
    # the real API server)
    config = tmp_path / "kubeconfig"
    config.write_text(
        "apiVersion: v1\nkind: Config\n"
        "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:9'}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n",
        encoding="utf-8",
    )
    probe = (
        "import sys\nfrom secretsmgr.cluster.session import open_session\n"
        f"with open_session(None, {{'KUBECONFIG': {str(config)!r}}}) as s:\n"
        "    assert hasattr(s.core, 'read_namespaced_secret')\n"
        "print('kubernetes.client.api.core_v1_api' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
