"""Generate GitOps repositories of typical SOPS-encrypted Secrets in the seed's layout.

Files are encrypted in-process (sops-compatible; the benchmarks check a sample with the real
sops). The key is a throwaway generated per run and never written outside the temp folder.
"""

from __future__ import annotations

import os
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path

from secretsmgr.keys.age import AgeRecipient, generate_identity
from secretsmgr.sops import EncryptionRule, FileFormat, RuleKind, dump, encrypt, parse_plain

LAYERS = (
    ("infrastructure", "gitops/infrastructure", None),
    ("databases", "gitops/apps/databases", "infrastructure"),
    ("apps", "gitops/apps/applications", "databases"),
)
RULE = EncryptionRule(RuleKind.ENCRYPTED_REGEX, "^(data|stringData)$")


@dataclass(frozen=True)
class Repo:
    root: Path
    secret_key: str
    public_key: str
    files: list[Path]


def _secret(name: str, namespace: str) -> str:
    return (
        "apiVersion: v1\nkind: Secret\nmetadata:\n"
        f"  name: {name}\n  namespace: {namespace}\n"
        f"  labels:\n    app.kubernetes.io/name: {name}\n"
        "type: Opaque\nstringData:\n"
        f"  username: {name}-user\n"
        f"  password: {secrets.token_urlsafe(24)}\n"
        f"  url: postgres://{name}.{namespace}.svc:5432/{name}\n"
        "  config.yaml: |\n    log_level: info\n    pool: 10\n"
    )


def generate(root: Path, count: int) -> Repo:
    """Write ``count`` encrypted Secrets spread over the three layers, plus Flux manifests."""
    secret, public = generate_identity()
    recipient = AgeRecipient(public)
    (root / "clusters" / "bench").mkdir(parents=True)
    (root / ".sops.yaml").write_text(
        "creation_rules:\n  - path_regex: .*\\.enc\\.yaml$\n"
        f"    encrypted_regex: ^(data|stringData)$\n    age: {public}\n"
    )
    (root / ".secretsmgr.yaml").write_text(f"cluster_key: {public}\n")
    services: dict[str, list[str]] = {name: [] for name, _, _ in LAYERS}
    files: list[Path] = []
    for i in range(count):
        layer, base, _ = LAYERS[i % 3]
        service = f"svc{i // 3 % max(1, count // 30):03d}-{layer[:3]}"
        folder = (
            root / "gitops" / "apps" / service
            if layer != "infrastructure"
            else (root / "gitops" / "infrastructure" / service)
        )
        folder.mkdir(parents=True, exist_ok=True)
        if service not in services[layer]:
            services[layer].append(service)
        path = folder / f"secret-{i:05d}.enc.yaml"
        docs = parse_plain(_secret(f"s{i:05d}", service), FileFormat.YAML)
        path.write_text(dump(encrypt(docs, fmt=FileFormat.YAML, groups=[[recipient]], rule=RULE)))
        files.append(path)
    for layer, base, dep in LAYERS:
        kfolder = root / base
        kfolder.mkdir(parents=True, exist_ok=True)
        prefix = "" if layer == "infrastructure" else "../"
        (kfolder / "kustomization.yaml").write_text(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n"
            + "".join(f"  - {prefix}{s}\n" for s in services[layer])
        )
        depends = f"  dependsOn:\n    - name: {dep}\n" if dep else ""
        (root / "clusters" / "bench" / f"{layer}.yaml").write_text(
            "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n"
            f"metadata:\n  name: {layer}\n  namespace: flux-system\nspec:\n"
            f"  interval: 10m0s\n  path: ./{base}\n  prune: true\n{depends}"
            "  sourceRef:\n    kind: GitRepository\n    name: flux-system\n"
            "  decryption:\n    provider: sops\n    secretRef:\n      name: sops-age\n"
        )
    for folder in {p.parent for p in files}:
        (folder / "kustomization.yaml").write_text(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n"
            + "".join(f"  - {p.name}\n" for p in sorted(folder.glob("*.enc.yaml")))
        )
    return Repo(root, secret, public, files)


def warm_tool() -> None:
    """Measure secretsmgr as an installed tool runs: with its bytecode cached.

    Some environments set PYTHONDONTWRITEBYTECODE, which makes every process recompile every
    module (~50 ms); pip-installed tools have their bytecode written at install time.
    """
    import os
    import subprocess
    import sys

    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    tool = str(Path(sys.executable).with_name("secretsmgr"))
    subprocess.run([tool, "--help"], capture_output=True, check=True)


# git for every benchmark: a fixed identity, no user or system configuration
GIT_ENV = {
    "GIT_AUTHOR_NAME": "secretsmgr bench",
    "GIT_AUTHOR_EMAIL": "bench@example.invalid",
    "GIT_COMMITTER_NAME": "secretsmgr bench",
    "GIT_COMMITTER_EMAIL": "bench@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
}


def git(root: Path, *args: str) -> None:
    """Run git in ``root`` with ``GIT_ENV`` (and no other GIT_ variable of the caller)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")} | GIT_ENV
    subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True)


def commit_tree(root: Path) -> None:
    """``git init`` and one commit of everything: a repository as pre-commit meets it."""
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "--no-gpg-sign", "-m", "generated")
