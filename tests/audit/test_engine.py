"""The engine: skips, suppressions, scoping, ordering and the report's bookkeeping."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from secretsmgr.audit.engine import NO_IDENTITY, NOT_REQUESTED, load_context, run_audit, run_rules
from secretsmgr.errors import ConfigError, UsageError
from secretsmgr.sops.model import EncryptionRule, RuleKind
from secretsmgr.sops.rules import encrypted_leaves, iter_leaves
from secretsmgr.sops.tree import MapNode, Node, SeqNode
from secretsmgr.sops.values import Comment

from .helpers import K1, K2, enc, flux_kustomization, identity, pairs, secret, standard_repo, write


def _broken_repo(root: Path) -> Path:
    standard_repo(
        root,
        {
            "apps/plain.yaml": secret("plain"),
            "apps/b.enc.yaml": enc(secret("b"), (K2,)),
            "apps/a.enc.yaml": enc(secret("a")),
        },
    )
    write(root, "clusters/prod/db.yaml", flux_kustomization("db", "./db"))
    write(root, "db/plain.yaml", secret("dbplain"))
    return root


def test_findings_are_sorted_by_path_rule_key_path(tmp_path: Path) -> None:
    report = run_audit(_broken_repo(tmp_path))
    keys = [f.sort_key for f in report.findings]
    assert keys == sorted(keys)
    assert len(set(keys)) == len(keys)


def test_report_bookkeeping(tmp_path: Path) -> None:
    report = run_audit(_broken_repo(tmp_path))
    assert report.sops_files == ("apps/a.enc.yaml", "apps/b.enc.yaml")
    assert dict(report.file_layers) == {
        "apps/a.enc.yaml": ((None, "apps"),),
        "apps/b.enc.yaml": ((None, "apps"),),
    }
    assert [(s.name, s.decryption, s.sops_files) for s in report.layers] == [
        ("apps", "sops/sops-age", ("apps/a.enc.yaml", "apps/b.enc.yaml")),
        ("db", "sops/sops-age", ()),
    ]
    assert report.cluster_keys == (K1,)
    assert report.cluster_key_source == ".secretsmgr.yaml"
    assert report.files == sum(1 for p in tmp_path.rglob("*") if p.is_file())


def test_layer_filter_keeps_only_that_layer(tmp_path: Path) -> None:
    report = run_audit(_broken_repo(tmp_path), layer_filter=["db"])
    assert pairs(report) == {("SM001", "db/plain.yaml")}
    assert report.sops_files == ()


def test_unknown_layer_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as err:
        run_audit(_broken_repo(tmp_path), layer_filter=["nope"])
    assert err.value.message == "unknown layer: nope"
    assert err.value.hints == ("layers: apps, db",)


def test_ignore_entries_suppress_and_count(tmp_path: Path) -> None:
    root = _broken_repo(tmp_path)
    settings = (root / ".secretsmgr.yaml").read_text(encoding="utf-8")
    write(
        root,
        ".secretsmgr.yaml",
        settings + 'ignore:\n  - {rule: SM001, path: "**/plain.yaml", reason: "fixtures"}\n',
    )
    report = run_audit(root)
    assert not any(f.rule == "SM001" for f in report.findings)
    assert report.suppressed == 4  # two keys in each of two files


def test_files_outside_the_repository_are_refused(tmp_path: Path) -> None:
    root = _broken_repo(tmp_path / "repo")
    with pytest.raises(UsageError):
        run_audit(root, files=["../elsewhere.yaml"])
    with pytest.raises(UsageError):
        run_audit(root, files=[str(tmp_path / "other.yaml")])


def test_files_subset_still_maps_layers(tmp_path: Path) -> None:
    root = _broken_repo(tmp_path)
    report = run_audit(root, files=["./apps/b.enc.yaml"])
    assert {f.path for f in report.findings} == {"apps/b.enc.yaml"}
    assert all(f.layers == ("apps",) for f in report.findings)


def test_files_subset_refuses_a_missing_file_and_expands_a_folder(tmp_path: Path) -> None:
    root = _broken_repo(tmp_path)
    with pytest.raises(UsageError, match=r"missing\.yaml: no such file"):
        run_audit(root, files=["./apps/b.enc.yaml", "missing.yaml"])
    report = run_audit(root, files=["apps"])
    assert "apps/b.enc.yaml" in {f.path for f in report.findings}


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        ({}, NOT_REQUESTED),
        ({"verify_mac": True}, NO_IDENTITY),
        ({"keyless_only": True, "verify_mac": True}, None),
    ],
)
def test_sm007_skip_reasons(tmp_path: Path, options: dict[str, bool], reason: str | None) -> None:
    report = run_audit(_broken_repo(tmp_path), **options)  # type: ignore[arg-type]  # bools
    skipped = {str(rule): why for rule, why in report.skipped}
    if reason is None:
        assert skipped["SM007"].startswith("needs a private identity")
    else:
        assert skipped["SM007"] == reason


def test_unopened_files_are_reported_as_not_verified(tmp_path: Path) -> None:
    report = run_audit(_broken_repo(tmp_path), verify_mac=True, identities=[identity(1)])
    assert ("SM007", "1 file not verified, no identity opens: apps/b.enc.yaml") in report.skipped
    assert not any(f.rule == "SM007" for f in report.findings)


def test_rules_never_read_the_disk(tmp_path: Path) -> None:
    root = _broken_repo(tmp_path / "repo")
    ctx = load_context(root, verify_mac=True, identities=[identity(1)])
    before = run_rules(ctx)
    shutil.rmtree(root)
    assert run_rules(ctx) == before


def test_malformed_settings_are_a_config_error(tmp_path: Path) -> None:
    root = _broken_repo(tmp_path)
    write(root, ".secretsmgr.yaml", "cluster_key: nope\n")
    with pytest.raises(ConfigError):
        run_audit(root)


def test_every_finding_is_one_line(tmp_path: Path) -> None:
    report = run_audit(_broken_repo(tmp_path))
    assert report.findings
    assert all("\n" not in f.message and "\r" not in f.message for f in report.findings)


# ------------------------------------------------------------------ encrypted_leaves == sops walk

keys = st.sampled_from(["data", "stringData", "a", "b_unencrypted", "x_enc", "meta"])
scalars = st.one_of(st.none(), st.text(max_size=3), st.integers(), st.booleans())
comments = st.builds(Comment, st.text(max_size=3))


def _trees() -> st.SearchStrategy[Node]:
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(st.one_of(st.tuples(keys, inner), comments), max_size=4).map(
                lambda items: MapNode(list(items))
            ),
            st.lists(st.one_of(inner, comments), max_size=3).map(lambda items: SeqNode(items)),
        ),
        max_leaves=12,
    )


RULES = [
    EncryptionRule(),
    EncryptionRule(RuleKind.ENCRYPTED_REGEX, "^(data|stringData)$"),
    EncryptionRule(RuleKind.UNENCRYPTED_REGEX, "^meta"),
    EncryptionRule(RuleKind.ENCRYPTED_SUFFIX, "_enc"),
    EncryptionRule(RuleKind.ENCRYPTED_COMMENT_REGEX, "sops:enc"),
]


@given(tree=_trees(), rule=st.sampled_from(RULES))
def test_encrypted_leaves_agrees_with_the_sops_walk(tree: Node, rule: EncryptionRule) -> None:
    doc = tree if isinstance(tree, MapNode) else MapNode([("top", tree)])
    expected = [(p, leaf) for p, leaf, encrypted in iter_leaves(doc, rule) if encrypted]
    assert list(encrypted_leaves(doc, rule)) == expected


def _tenant_sync(namespace: str, path: str, decryption: bool = True) -> str:
    return (
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n"
        f"metadata: {{name: infra-sync, namespace: {namespace}}}\n"
        f"spec:\n  interval: 1m\n  targetNamespace: {namespace}\n  path: {path}\n"
        "  prune: true\n  sourceRef: {kind: GitRepository, name: tenant}\n"
        + ("  decryption: {provider: sops}\n" if decryption else "")
    )


def _same_name_two_namespaces(root: Path, staging_decrypts: bool = True) -> Path:
    """dnv-gssit/kubeit-flux-example: ``infra-sync`` in sops-prod and in sops-staging."""
    for env in ("prod", "staging"):
        write(
            root,
            f"cluster/{env}/infrastructure-sync.yaml",
            _tenant_sync(f"sops-{env}", f"infra/{env}", env == "prod" or staging_decrypts),
        )
        write(root, f"cluster/{env}/kustomization.yaml", "resources: [infrastructure-sync.yaml]\n")
        write(root, f"infra/{env}/kustomization.yaml", "resources: [secret.yaml]\n")
    write(root, "infra/prod/secret.yaml", secret("basic-auth-prod"))
    write(root, "infra/staging/secret.yaml", enc(secret("basic-auth-staging")))
    return root


def test_layers_of_one_name_in_two_namespaces_stay_apart(tmp_path: Path) -> None:
    from tests.flux_corpus.test_kustomize_oracle import kustomize

    root = _same_name_two_namespaces(tmp_path)
    # the oracle: each folder's build holds only its own Secret
    assert "basic-auth-staging" not in kustomize(root, "infra/prod")
    assert "basic-auth-prod" not in kustomize(root, "infra/staging")
    report = run_audit(root)
    by_name = {x.name: x for x in report.layers}
    assert sorted(by_name) == ["sops-prod/infra-sync", "sops-staging/infra-sync"]
    assert by_name["sops-staging/infra-sync"].sops_files == ("infra/staging/secret.yaml",)
    assert by_name["sops-prod/infra-sync"].sops_files == ()
    sm001 = [f for f in report.findings if f.rule == "SM001"]
    assert {(f.path, f.layers) for f in sm001} == {
        ("infra/prod/secret.yaml", ("sops-prod/infra-sync",))
    }


def test_sm010_of_one_namespace_is_not_filed_under_the_other(tmp_path: Path) -> None:
    root = _same_name_two_namespaces(tmp_path, staging_decrypts=False)
    report = run_audit(root)
    sm010 = [f for f in report.findings if f.rule == "SM010"]
    assert [(f.path, f.layers) for f in sm010] == [
        ("infra/staging/secret.yaml", ("sops-staging/infra-sync",))
    ]
    assert sm010[0].fix_at is not None
    assert sm010[0].fix_at.path == "cluster/staging/infrastructure-sync.yaml"


def test_a_unique_layer_name_is_shown_without_its_namespace(tmp_path: Path) -> None:
    root = _same_name_two_namespaces(tmp_path)
    write(
        root,
        "cluster/staging/infrastructure-sync.yaml",
        _tenant_sync("sops-staging", "infra/staging").replace(
            "name: infra-sync", "name: infra-staging"
        ),
    )
    report = run_audit(root)
    assert sorted(x.name for x in report.layers) == ["infra-staging", "infra-sync"]


def test_a_layer_name_two_namespaces_share_is_ambiguous(tmp_path: Path) -> None:
    """``--layer infra-sync`` with two such layers said "unknown layer"; it names both now, and
    ``namespace/name`` picks one."""
    root = _same_name_two_namespaces(tmp_path)
    with pytest.raises(UsageError) as err:
        run_audit(root, layer_filter=["infra-sync"])
    assert err.value.message == (
        "layer 'infra-sync' is ambiguous: sops-prod/infra-sync, sops-staging/infra-sync"
    )
    assert err.value.hints == ("name one: --layer sops-prod/infra-sync",)
    report = run_audit(root, layer_filter=["sops-prod/infra-sync"])
    assert [x.name for x in report.layers] == ["sops-prod/infra-sync"]
