"""The pure judgement of the live cluster before ``key rotate --finish`` (rotate/fluxcheck.py).

The ancestry predicate is a small table here; tests/cluster runs the same judgement with git's
``merge-base --is-ancestor`` against a real API server.
"""

from __future__ import annotations

import pytest

from secretsmgr.cluster.flux import choose_version
from secretsmgr.rotate.fluxcheck import ClusterView, evaluate, parse_revision, summary

NEW = "age1wk59fr3he9n3qw722fh85e6udyj2geqwcfu5anaql9xd2dam0c0qfp8vss"
OLD = "age1fq08vpk2qf5wmz4cg6w5uzqt2hqrz56dzp25pj57nrx606073frqc0n3qw"
BEGIN = "b" * 40
AFTER = "c" * 40  # descends from BEGIN
BEFORE = "a" * 40  # an ancestor of BEGIN
UNKNOWN = "d" * 40  # not in the clone
LABEL = "context prod: flux-system/sops-age"


def is_ancestor(ancestor: str, descendant: str) -> bool | None:
    order = {BEFORE: 0, BEGIN: 1, AFTER: 2}
    if descendant not in order:
        return None
    return order[ancestor] <= order[descendant]


def kustomization(
    name: str,
    revision: str | None = f"main@sha1:{AFTER}",
    ready: str | None = "True",
    decryption: bool = True,
    namespace: str = "flux-system",
    **spec: object,
) -> dict[str, object]:
    conditions = [] if ready is None else [{"type": "Ready", "status": ready, "reason": "Failed"}]
    status: dict[str, object] = {"conditions": conditions}
    if revision is not None:
        status["lastAppliedRevision"] = revision
    full_spec: dict[str, object] = dict(spec, path="./apps", prune=True)
    if decryption:
        full_spec["decryption"] = {"provider": "sops", "secretRef": {"name": "sops-age"}}
    return {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": name, "namespace": namespace},
        "spec": full_spec,
        "status": status,
    }


def view(
    *items: dict[str, object],
    publics: tuple[str, ...] = (OLD, NEW),
    others: dict[tuple[str, str], tuple[str, ...] | None] | None = None,
) -> ClusterView:
    # every namespace's sops-age holds both keys unless the test says otherwise
    spaces = {str(i["metadata"]["namespace"]) for i in items}  # type: ignore[index]
    found = {(ns, "sops-age"): (OLD, NEW) for ns in spaces if ns != "flux-system"}
    found.update(others or {})
    return ClusterView(LABEL, publics, items, others=found)


@pytest.mark.parametrize(
    ("revision", "sha"),
    [
        (f"main@sha1:{AFTER}", AFTER),  # Flux >= 0.33
        (f"refs/heads/release/v1@sha1:{AFTER}", AFTER),
        (f"v1.2.0@sha1:{AFTER}", AFTER),
        (f"sha1:{AFTER}", AFTER),  # a commit checked out without a branch
        (f"main/{AFTER}", AFTER),  # older Flux
        (f"release/v1/{AFTER}", AFTER),
        (f"HEAD/{AFTER}", AFTER),
        (AFTER, AFTER),  # a bare sha
        (AFTER.upper(), AFTER),
        ("abc1234", "abc1234"),
        (f"  main@sha1:{AFTER}\n", AFTER),
        ("latest@sha256:" + "e" * 64, None),  # an OCI artifact digest
        ("sha256:" + "e" * 64, None),
        ("main@sha1:not-a-sha", None),
        ("main/nothex", None),
        ("", None),
        ("v1.2.0", None),
    ],
)
def test_parse_revision(revision: str, sha: str | None) -> None:
    assert parse_revision(revision) == sha


@pytest.mark.parametrize(
    "revision", [f"main@sha1:{AFTER}", f"main/{AFTER}", AFTER, f"main/{BEGIN}"]
)
def test_ready_at_or_after_the_begin_commit_in_every_format(revision: str) -> None:
    assert evaluate(NEW, BEGIN, view(kustomization("apps", revision)), is_ancestor) == []


@pytest.mark.parametrize("revision", [f"main@sha1:{BEFORE}", f"main/{BEFORE}", BEFORE])
def test_a_revision_before_the_begin_commit_blocks(revision: str) -> None:
    (blocker,) = evaluate(NEW, BEGIN, view(kustomization("apps", revision)), is_ancestor)
    assert blocker.what == (
        f"kustomization flux-system/apps: applied {revision} (older than the begin commit "
        f"{BEGIN[:12]})"
    )
    assert blocker.hint == (
        "push the begin commit (git push), then "
        "flux reconcile kustomization apps -n flux-system --with-source"
    )


def test_the_secret_must_hold_the_new_key() -> None:
    (blocker,) = evaluate(NEW, BEGIN, view(kustomization("apps"), publics=(OLD,)), is_ancestor)
    assert blocker.what == f"the cluster ({LABEL}) does not hold the new key age1wk59…8vss yet"
    assert blocker.hint == "send the overlap Secret first: secretsmgr key rotate --begin --apply"


@pytest.mark.parametrize("ready", ["False", "Unknown", None])
def test_a_kustomization_that_is_not_ready_blocks(ready: str | None) -> None:
    item = kustomization("infra", ready=ready, namespace="infra-system")
    (blocker,) = evaluate(NEW, BEGIN, view(item), is_ancestor)
    assert blocker.what.startswith("kustomization infra-system/infra: not Ready (")
    assert "Failed" in blocker.what or "no Ready condition" in blocker.what
    assert blocker.hint == "flux reconcile kustomization infra -n infra-system --with-source"


def test_the_ready_message_is_kept_short_and_on_one_line() -> None:
    item = kustomization("apps", ready="False")
    status = item["status"]
    assert isinstance(status, dict)
    status["conditions"] = [
        {"type": "Ready", "status": "False", "reason": "BuildFailed", "message": "x" * 500 + "\ny"}
    ]
    (blocker,) = evaluate(NEW, BEGIN, view(item), is_ancestor)
    assert f"not Ready (BuildFailed: {'x' * 120})" in blocker.what
    assert "\n" not in blocker.what


def test_a_kustomization_without_decryption_is_ignored() -> None:
    stale = kustomization("plain", revision=f"main@sha1:{BEFORE}", ready="False", decryption=False)
    assert evaluate(NEW, BEGIN, view(kustomization("apps"), stale), is_ancestor) == []


def test_no_decrypting_kustomization_or_no_flux_at_all_blocks() -> None:
    plain = kustomization("plain", decryption=False)
    (none,) = evaluate(NEW, BEGIN, view(plain), is_ancestor)
    assert none.what == "no Flux Kustomization in context prod decrypts (none has spec.decryption)"
    no_flux = ClusterView(LABEL, (OLD, NEW), None)
    (missing,) = evaluate(NEW, BEGIN, no_flux, is_ancestor)
    assert "serves no Flux Kustomization API (kustomize.toolkit.fluxcd.io)" in missing.what
    assert missing.hint == "pass --context for the cluster Flux runs in"


def test_an_unknown_commit_asks_for_a_fetch() -> None:
    (blocker,) = evaluate(NEW, BEGIN, view(kustomization("apps", UNKNOWN)), is_ancestor)
    assert (
        blocker.what
        == f"kustomization flux-system/apps: applied commit {UNKNOWN[:12]} (not in this clone)"
    )
    assert blocker.hint.startswith("git fetch, then run secretsmgr key rotate --finish again")


def test_a_revision_that_is_no_commit_cannot_be_judged() -> None:
    oci = "latest@sha256:" + "e" * 64
    (blocker,) = evaluate(NEW, BEGIN, view(kustomization("apps", oci)), is_ancestor)
    assert f"applied {oci} (not a git commit)" in blocker.what
    assert "--skip-cluster-check" in blocker.hint


def test_no_revision_yet_and_suspended() -> None:
    item = kustomization("apps", revision=None, ready="False", suspend=True)
    (blocker,) = evaluate(NEW, BEGIN, view(item), is_ancestor)
    assert blocker.what == (
        "kustomization flux-system/apps: suspended, not Ready (Failed), has applied no revision yet"
    )
    assert blocker.hint == (
        "flux resume kustomization apps -n flux-system, then "
        "flux reconcile kustomization apps -n flux-system --with-source"
    )


def test_every_blocker_is_named_in_one_line_with_each_hint_once() -> None:
    items = (
        kustomization("b", ready="False"),
        kustomization("a", f"main/{BEFORE}"),
        kustomization("c"),
    )
    blockers = evaluate(NEW, BEGIN, view(*items, publics=(OLD,)), is_ancestor)
    message, hints = summary(blockers)
    assert message.startswith("the cluster is not ready for key rotate --finish: the cluster (")
    assert message.index("flux-system/a:") < message.index("flux-system/b:")  # sorted
    assert "flux-system/c" not in message
    assert "\n" not in message
    assert len(hints) == 3 and len(set(hints)) == 3


def test_the_served_version_is_chosen_v1_first() -> None:
    assert choose_version(["v1beta2", "v1", "v1beta1"], "v1") == "v1"
    assert choose_version(["v1beta1", "v1beta2"], "v1beta2") == "v1beta2"
    assert choose_version(["v1beta1"], "v1beta1") == "v1beta1"
    assert choose_version(["v2alpha1"], "v2alpha1") == "v2alpha1"
    assert choose_version([], None) is None


def test_each_kustomization_is_judged_by_the_secret_it_decrypts_with() -> None:
    # A Kustomization reads spec.decryption.secretRef in its own namespace: apps/sops-age here,
    # not the flux-system Secret that holds the new key.
    item = kustomization("apps", namespace="apps")
    lacking = view(item, others={("apps", "sops-age"): (OLD,)})
    (blocker,) = evaluate(NEW, BEGIN, lacking, is_ancestor)
    assert "decrypts with Secret apps/sops-age, which does not hold the new key" in blocker.what
    assert "--namespace apps --secret sops-age" in blocker.hint
    unread = view(item, others={("apps", "sops-age"): None})
    (blocker,) = evaluate(NEW, BEGIN, unread, is_ancestor)
    assert "could not be read" in blocker.what
    assert evaluate(NEW, BEGIN, view(item), is_ancestor) == []


def test_a_kustomization_without_a_secret_ref_is_not_taken_on_trust() -> None:
    item = kustomization("apps")
    spec = item["spec"]
    assert isinstance(spec, dict)
    spec["decryption"] = {"provider": "sops"}  # the controller's own keys
    (blocker,) = evaluate(NEW, BEGIN, view(item), is_ancestor)
    assert "without a secretRef" in blocker.what and "--skip-cluster-check" in blocker.hint
