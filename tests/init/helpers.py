"""Small Flux repositories in real git checkouts, for the ``init`` tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from tests.conftest import git

FLUX_VERSION_NOTE = (
    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: kustomize-controller\n"
    "  namespace: flux-system\nspec:\n  template:\n    spec:\n      containers:\n"
    "        - name: manager\n          image: ghcr.io/fluxcd/kustomize-controller:v1.6.1\n"
)
SECRET = (
    "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n  namespace: apps\n"
    "type: Opaque\nstringData:\n  password: {value}\n"
)


# A tenant's Kustomization over a source of its own, decrypting with a Secret of its namespace
TENANT = (
    "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n"
    "  name: team-a\n  namespace: team-a\nspec:\n  url: https://example.com/team-a\n"
    "  ref:\n    branch: main\n---\n"
    "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n"
    "  name: team-a\n  namespace: team-a\nspec:\n  path: ./\n  prune: true\n"
    "  sourceRef:\n    kind: GitRepository\n    name: team-a\n"
    "  decryption:\n    provider: sops\n    secretRef:\n      name: team-a-sops\n"
)


def write(root: Path, rel: str, text: str) -> Path:
    target = root / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return target


def bootstrap(root: Path, cluster: str, under: str = "clusters") -> None:
    """``clusters/<cluster>/flux-system`` as ``flux bootstrap`` leaves it (trimmed); ``under``
    another folder than ``clusters``, as ``flux bootstrap --path`` makes it."""
    base = f"{under}/{cluster}/flux-system"
    write(root, f"{base}/gotk-components.yaml", FLUX_VERSION_NOTE)
    write(
        root,
        f"{base}/gotk-sync.yaml",
        "---\napiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\n"
        "metadata:\n  name: flux-system\n  namespace: flux-system\n"
        "spec:\n  interval: 1m0s\n  ref:\n    branch: main\n"
        "  url: ssh://git@github.com/example/fleet\n"
        "---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n"
        "metadata:\n  name: flux-system\n  namespace: flux-system\n"
        f"spec:\n  interval: 10m0s\n  path: ./{under}/{cluster}\n  prune: true\n"
        "  sourceRef:\n    kind: GitRepository\n    name: flux-system\n",
    )
    write(
        root,
        f"{base}/kustomization.yaml",
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        "resources:\n  - gotk-components.yaml\n  - gotk-sync.yaml\n",
    )


def layer(
    root: Path,
    cluster: str,
    name: str,
    path: str,
    decryption: bool = True,
    under: str = "clusters",
) -> None:
    """A Flux Kustomization ``name`` of ``cluster`` (in ``under/cluster``) over ``path``."""
    text = (
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n"
        f"metadata:\n  name: {name}\n  namespace: flux-system\n"
        f"spec:\n  interval: 10m\n  path: ./{path}\n  prune: true\n"
        "  sourceRef:\n    kind: GitRepository\n    name: flux-system\n"
    )
    if decryption:
        text += "  decryption:\n    provider: sops\n    secretRef:\n      name: sops-age\n"
    write(root, f"{under}/{cluster}/{name}.yaml", text)


def kustomization(root: Path, folder: str, *resources: str) -> None:
    body = "".join(f"  - {r}\n" for r in resources)
    write(
        root,
        f"{folder}/kustomization.yaml",
        f"apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n{body}",
    )


def configmap(root: Path, rel: str, name: str) -> None:
    write(
        root,
        rel,
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: apps\n"
        "data:\n  greeting: hello\n",
    )


def one_cluster_repo(root: Path) -> Path:
    """A bare Flux repository: cluster ``prod``, a decrypting ``apps`` layer, no SOPS file."""
    root.mkdir(parents=True, exist_ok=True)
    bootstrap(root, "prod")
    layer(root, "prod", "apps", "apps")
    kustomization(root, "apps", "podinfo.yaml")
    configmap(root, "apps/podinfo.yaml", "podinfo")
    return commit(root)


def two_cluster_repo(root: Path) -> Path:
    """Clusters ``staging`` and ``production`` sharing ``apps/base``."""
    root.mkdir(parents=True, exist_ok=True)
    for cluster in ("staging", "production"):
        bootstrap(root, cluster)
        layer(root, cluster, "apps", f"apps/{cluster}")
        kustomization(root, f"apps/{cluster}", "../base", "settings.yaml")
        configmap(root, f"apps/{cluster}/settings.yaml", f"{cluster}-settings")
    kustomization(root, "apps/base", "shared.yaml")
    configmap(root, "apps/base/shared.yaml", "shared")
    return commit(root)


def clusters_with_own_rules(root: Path, keys: Mapping[str, Sequence[str]]) -> Path:
    """``two_cluster_repo`` where each cluster's folder (``apps/CLUSTER``) has a `.sops.yaml` of
    its own for ``*.enc.yaml`` naming ``keys[cluster]``, and a SOPS file on those keys that only
    that cluster applies (``own.enc.yaml``); not committed."""
    from tests.audit.helpers import enc, secret, sops_yaml, write

    root = two_cluster_repo(root)
    for cluster, named in keys.items():
        write(root, f"apps/{cluster}/.sops.yaml", sops_yaml((r"\.enc\.yaml$", named)))
        write(root, f"apps/{cluster}/own.enc.yaml", enc(secret(f"{cluster}-own"), tuple(named)))
        kustomization(root, f"apps/{cluster}", "../base", "settings.yaml", "own.enc.yaml")
    return root


def commit(root: Path, message: str = "flux repository") -> Path:
    if not (root / ".git").exists():
        git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "--no-gpg-sign", "--allow-empty", "-m", message)
    return root


def tree(root: Path) -> dict[str, bytes]:
    """Every file of the work tree (not .git) with its bytes."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }
