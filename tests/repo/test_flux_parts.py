"""The pieces of the Flux model: postBuild substitution, kustomize patches and selectors, the
Flux version a repository states, cluster names, git URL spellings."""

from __future__ import annotations

from types import MappingProxyType

import pytest

from secretsmgr.repo.flux.model import cluster_name, normalize_url
from secretsmgr.repo.flux.patch import (
    Patch,
    Target,
    json6902,
    matches,
    merge_patch,
    selector_matches,
)
from secretsmgr.repo.flux.substitute import Variables, substitute_doc, substitute_text
from secretsmgr.repo.flux.version import from_instance, from_manifest_bytes, from_manifests_source

KNOWN = Variables(MappingProxyType({"CLUSTER": "prod", "EMPTY": ""}), complete=True)
PARTIAL = Variables(MappingProxyType({"CLUSTER": "prod"}), complete=False)


@pytest.mark.parametrize(
    ("text", "variables", "expected", "unknown"),
    [
        ("./apps/${CLUSTER}", KNOWN, "./apps/prod", set()),
        ("./apps/${MISSING}", KNOWN, "./apps/", set()),  # unset in a complete set: empty
        ("${MISSING:=dev}/${MISSING:-x}", KNOWN, "dev/x", set()),
        ("${EMPTY:-fallback}|${EMPTY-fallback}", KNOWN, "fallback|", set()),
        ("$${CLUSTER} stays", KNOWN, "${CLUSTER} stays", set()),
        ("./apps/${TENANT}", PARTIAL, "./apps/${TENANT}", {"TENANT"}),
        ("${CLUSTER}-${TENANT:=x}", PARTIAL, "prod-${TENANT:=x}", {"TENANT"}),
        ("$CLUSTER is not a reference", KNOWN, "$CLUSTER is not a reference", set()),
    ],
)
def test_substitution_resolves_what_it_knows_and_reports_the_rest(
    text: str, variables: Variables, expected: str, unknown: set[str]
) -> None:
    found: set[str] = set()
    assert substitute_text(text, variables, found) == expected
    assert found == unknown


# What fluxcd/pkg envsubst (kustomize-controller's substitution) wrote for each, with C=prod,
# E="", U=ABC, P=a/b/c, M="" and S=ß (run through it at stop 55: the fifth attack review of the
# gate found these operators hid a postBuild variable, and a literal, from the model)
ENVSUBST = Variables(
    MappingProxyType({"C": "prod", "E": "", "U": "ABC", "P": "a/b/c", "M": "", "S": "ß"}),
    complete=True,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${E=fb}", "fb"),
        ("${E:+fb}|${M:+fb}|${C:+fb}|${M:?fb}", "fb|fb|prod|fb"),
        ("${C:1:2}|${C: -2}|${C:-2}|${C:-3:2}|${C:1}|${C:9}", "ro|prod|prod|prod|rod|"),
        ("${#C}|${#M}", "4|0"),
        (
            "${C/r/X}|${C//o/0}|${C/#p/P}|${C/%d/D}|${C/x/Zq}|${C/r/}",
            "pXod|pr0d|Prod|proD|prod|pod",
        ),
        ("${C#p*}|${C##*o}|${C%o*}|${C%%o*}|${C#[a-p]}|${C##?}|${C%?}", "rod|d|pr|pr|rod|rod|pro"),
        ("${P#*/}|${P##*/}|${P%/*}|${P%%/*}", "b/c|c|a/b|a"),
        ("${C^^}|${C^}|${C,,}|${U,}|${U,,}", "PROD|Prod|prod|aBC|abc"),
        ("${E:=a}|${A:-${B:-pw}}", "a|pw"),
        # the review of stop 55, each against the same envsubst
        ("${C/#p/}|${C/%d/}|${P//\\//-}|${P/a\\/b/X}|${P/${P}/X}", "prod|prod|a-b-c|X/c|X"),
        ("${C//${E}/-}|${E//${E}/-}|${M:-${E:-${A:-lit}}}|${E:-{x}", "-p-r-o-d-|-|lit|{x"),
        ("$$${C}|x$$y|$${C}|${E:-$$}|${C,^}|${S^^}", "$prod|x$y|${C}|$$|prod|ß"),
        ("${C/}/}|${C/r///X}|${C//o/\\}|${C:99999999999999999999}", "prod|pXod|pr\\d|prod"),
    ],
)
def test_substitution_operators_write_what_flux_writes(text: str, expected: str) -> None:
    assert substitute_text(text, ENVSUBST, set()) == expected


def test_an_object_can_opt_out_and_no_variable_means_no_substitution() -> None:
    doc = {
        "metadata": {"labels": {"kustomize.toolkit.fluxcd.io/substitute": "disabled"}},
        "x": "${CLUSTER}",
    }
    assert substitute_doc(doc, KNOWN)[0]["x"] == "${CLUSTER}"
    none = Variables(MappingProxyType({}), complete=True)
    assert substitute_doc({"x": "${A:=b}"}, none)[0]["x"] == "${A:=b}"  # Flux skips the step


def test_json_merge_patch_merges_maps_replaces_lists_and_deletes_nulls() -> None:
    base = {"spec": {"path": "./a", "dependsOn": [{"name": "x"}], "prune": True}}
    patch = {
        "spec": {"dependsOn": [{"name": "y"}], "prune": None, "decryption": {"provider": "sops"}}
    }
    assert merge_patch(base, patch) == {
        "spec": {"path": "./a", "dependsOn": [{"name": "y"}], "decryption": {"provider": "sops"}}
    }


def test_json6902_operations() -> None:
    doc = {"spec": {"list": [1, 2]}, "metadata": {"name": "a"}}
    out = json6902(
        doc,
        [
            {"op": "add", "path": "/spec/decryption", "value": {"provider": "sops"}},
            {"op": "add", "path": "/spec/list/-", "value": 3},
            {"op": "replace", "path": "/metadata/name", "value": "b"},
            {"op": "remove", "path": "/spec/list/0"},
            {"op": "remove", "path": "/no/such"},  # kustomize fails; the model skips it
        ],
    )
    assert out == {
        "spec": {"list": [2, 3], "decryption": {"provider": "sops"}},
        "metadata": {"name": "b"},
    }
    assert doc["spec"] == {"list": [1, 2]}  # the input is never changed


KS = {
    "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
    "kind": "Kustomization",
    "metadata": {"name": "app-1", "namespace": "flux-system", "labels": {"tier": "apps"}},
}


@pytest.mark.parametrize(
    ("target", "hit"),
    [
        (Target(kind="Kustomization"), True),
        (Target(group="kustomize.toolkit.fluxcd.io", kind="Kustomization"), True),
        (Target(group="helm.toolkit.fluxcd.io", kind="Kustomization"), False),
        (Target(name="app-.*"), True),  # names are regular expressions
        (Target(name="app"), False),
        (Target(namespace="flux-system", version="v1"), True),
        (Target(label_selector="tier=apps"), True),
        (Target(label_selector="tier in (apps, infra),!skip"), True),
        (Target(label_selector="tier!=apps"), False),
        (Target(annotation_selector="x"), False),
    ],
)
def test_patch_targets(target: Target, hit: bool) -> None:
    assert matches(target, KS) is hit


def test_an_untargeted_strategic_merge_patch_needs_the_same_kind_and_name() -> None:
    patch = Patch(
        None,
        documents=({"kind": "Kustomization", "metadata": {"name": "app-1"}, "spec": {"x": 1}},),
    )
    assert patch.apply(dict(KS))["spec"] == {"x": 1}
    other = Patch(
        None, documents=({"kind": "Kustomization", "metadata": {"name": "b"}, "spec": {"x": 1}},)
    )
    assert "spec" not in other.apply(dict(KS))


def test_a_targeted_patch_never_renames_its_target() -> None:
    patch = Patch(
        Target(kind="Kustomization"), documents=({"metadata": {"name": "_"}, "spec": {"y": 2}},)
    )
    assert patch.apply(dict(KS))["metadata"]["name"] == "app-1"


def test_selector_syntax() -> None:
    labels = {"a": "1", "b": "2"}
    assert selector_matches("a=1,b==2", labels)
    assert selector_matches("a, !c", labels)
    assert not selector_matches("c", labels)
    assert selector_matches("b notin (3, 4)", labels)
    assert selector_matches(None, labels)


@pytest.mark.parametrize(
    ("data", "version"),
    [
        (b"image: ghcr.io/fluxcd/kustomize-controller:v1.4.0\n", (1, 4, 0)),
        (b"# Flux Version: v2.5.1\n", (1, 5, 1)),
        (b"image: docker.io/fluxcd/kustomize-controller:v1.6.1@sha256:abc\n", (1, 6, 1)),
        (b"image: ghcr.io/fluxcd/helm-controller:v1.2.0\n", None),
    ],
)
def test_the_flux_version_from_committed_components(
    data: bytes, version: tuple[int, int, int] | None
) -> None:
    assert from_manifest_bytes(data) == version


def test_the_flux_version_of_flux_installing_itself_from_its_release_artifact() -> None:
    # Ramblurr/home-ops and gavinmcfall/home-ops pull oci://ghcr.io/fluxcd/flux-manifests at a tag
    def oci(url: str, tag: object, kind: str = "OCIRepository") -> dict[str, object]:
        return {"kind": kind, "spec": {"url": url, "ref": {"tag": tag}}}

    manifests = "oci://ghcr.io/fluxcd/flux-manifests"
    assert from_manifests_source(oci(manifests, "v2.2.3")) == (1, 2, 3)
    assert from_manifests_source(oci(manifests, "v2.9.3")) == (1, 9, 3)
    # USA-RedDragon/home-cluster-flux: the tag pinned to its digest, as Renovate writes it
    pinned = "v2.9.4@sha256:57804ca34eab87a2071ec03c4a523e89e1c8775937586ba89fc6c66148700f02"
    assert from_manifests_source(oci(manifests, pinned)) == (1, 9, 4)
    assert from_manifests_source(oci(manifests, "latest")) is None
    assert from_manifests_source(oci(manifests, None)) is None
    assert (
        from_manifests_source(oci("oci://ghcr.io/stefanprodan/manifests/podinfo", "6.5.0")) is None
    )
    assert from_manifests_source(oci(manifests, "v2.2.3", kind="GitRepository")) is None  # no flux2


def test_the_flux_version_of_a_flux2_release_taken_from_github() -> None:
    # sweep 95 (SinLess-Games/Production-Cluster): a GitRepository of fluxcd/flux2 at
    # v0.31.3, and a kustomization's remote manifests/install?ref=v0.31.1; the repository
    # "did not say which Flux version it runs"
    from secretsmgr.repo.flux.version import BEFORE_V1, FluxVersion, from_install_reference

    def git(url: str, tag: str) -> dict[str, object]:
        return {"kind": "GitRepository", "spec": {"url": url, "ref": {"tag": tag}}}

    assert from_manifests_source(git("https://github.com/fluxcd/flux2", "v0.31.3")) == BEFORE_V1
    assert from_manifests_source(git("ssh://git@github.com/fluxcd/flux2.git", "v2.4.0")) == (
        1,
        4,
        0,
    )
    assert from_manifests_source(git("https://github.com/someone/flux2", "v2.4.0")) is None
    assert from_manifests_source(git("https://github.com/fluxcd/flux2", "main")) is None
    listed = b"resources:\n  - github.com/fluxcd/flux2/manifests/install?ref=v2.3.0\n"
    assert from_install_reference(listed) == (1, 3, 0)
    asset = b"- https://github.com/fluxcd/flux2/releases/download/v0.31.1/install.yaml\n"
    assert from_install_reference(asset) == BEFORE_V1
    assert from_install_reference(b"- github.com/fluxcd/flux2/manifests/install\n") is None
    # a line switched off says nothing (the review of stop 51)
    assert from_install_reference(b"  # - " + listed.split(b"- ", 1)[1]) is None
    # a Flux before 2.0 is named so, never as "Flux 2.26"
    assert FluxVersion(BEFORE_V1, "x.yaml").label == "kustomize-controller v0.x (Flux before 2.0)"
    assert FluxVersion((0, 26, 3), "x.yaml").label == (
        "kustomize-controller v0.26.3 (Flux before 2.0)"
    )
    assert not FluxVersion(BEFORE_V1, "x.yaml").decrypts_component_sources


def test_the_flux_version_of_a_flux_instance() -> None:
    assert from_instance("2.4.x") == (1, 4, 0)
    assert from_instance("2.5.3") == (1, 5, 3)
    assert from_instance(">=2.5.0") == (1, 5, 0)
    assert from_instance("2.x") is not None and from_instance("2.x") >= (1, 5, 0)
    assert from_instance("1.x") is None and from_instance(None) is None


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("clusters/production", "production"),
        ("clusters/prod/flux", "prod"),
        ("kubernetes/cluster-0/flux", "cluster-0"),
        ("kubernetes/flux/cluster", "fallback"),
        ("kubernetes/main/flux/cluster", "main"),  # a cluster named main is a cluster
        (".", "fallback"),
        # Stocy/flux: a second bootstrap in bootstrap/flux-system was named flux-system
        ("bootstrap/flux-system", "bootstrap"),
        ("flux-system", "fallback"),
    ],
)
def test_cluster_names(path: str, name: str) -> None:
    assert cluster_name(path, "fallback") == name


def test_git_urls_compare_across_spellings() -> None:
    same = {
        normalize_url("ssh://git@github.com/Example/home-ops"),
        normalize_url("https://github.com/example/home-ops.git"),
        normalize_url("git@github.com:example/home-ops.git"),
        normalize_url("ssh://git@github.com:22/example/home-ops/"),
    }
    assert same == {"github.com/example/home-ops"}


def test_kustomization_fields_are_read_in_any_case_as_go_reads_them() -> None:
    # kustomize decodes kustomization.yaml with Go's encoding/json: a key fills the field it
    # equals, else the one it equals ignoring case, and a later key for the field wins
    from secretsmgr.repo.flux.objects import go_field, go_fields

    fields = ("secretGenerator", "resources")
    data = {"SecretGenerator": [1], "resources": ["b"], "Resources": ["a"], "other": 3}
    # of two spellings the one that sorts last wins, wherever it was written: kustomize turns
    # the YAML into JSON through a Go map, whose keys come out sorted (from the review)
    assert go_fields(data, fields) == {"secretGenerator": [1], "resources": ["b"], "other": 3}
    assert go_fields("not a mapping", fields) is None
    assert go_field(data, "secretGenerator") == ("SecretGenerator", [1])
    assert go_field(data, "resources") == ("resources", ["b"])
    assert go_field(data, "patches") is None
    assert go_field({80: "http", "secretgenerator": [2]}, "secretGenerator") == (  # type: ignore[dict-item]
        "secretgenerator",
        [2],
    )


def test_an_inline_transformer_is_no_file_the_build_reads() -> None:
    """kustomize takes a transformer as a path or as its YAML inline; the YAML was taken for a
    path, and a note said Flux fails the build (sweep 12: jfroy/flatops)."""
    from secretsmgr.repo.flux.kfile import parse_kfile

    text = (
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        "transformers:\n  - |-\n    apiVersion: builtin\n    kind: AnnotationsTransformer\n"
        "    metadata: {name: a}\n    annotations: {x: y}\n"
        "    fieldSpecs: [{path: metadata/annotations, create: true}]\n"
        "  - labels.yaml\n"
    )
    kfile = parse_kfile("k/kustomization.yaml", text)
    assert kfile.other_files == ("labels.yaml",)


def test_a_secret_is_named_for_pgp_keys_by_the_word_not_its_letters() -> None:
    # the attack review of sweep 84: `pgpool-sops`, an age Secret, was told to take the new
    # cluster key beside a PGP key it does not hold
    from secretsmgr.repo.flux.objects import pgp_secret_name

    for name in ("sops-gpg", "sops-pgp", "gpg-key", "flux-gpg-secret", "sops.gpg", "GPG"):
        assert pgp_secret_name(name), name
    for name in ("pgpool-sops", "sops-age", "gpgpu-keys"):
        assert not pgp_secret_name(name), name
