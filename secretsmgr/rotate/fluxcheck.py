"""Is the live cluster ready for ``key rotate --finish``? A pure judgement of what was read.

Finish re-encrypts every file to the new key alone and then replaces the Secret with the new key
alone. Flux keeps decrypting only if, before that, (1) the ``sops-age`` Secret already holds
the new key and (2) every Kustomization that decrypts (``spec.decryption``) is Ready at a
revision that contains the begin commit: it has decrypted the files on both keys with the
overlap Secret. ``evaluate`` takes the Secret's public keys, the Kustomizations as the API
returned them, and a git ancestry predicate; it returns what blocks finish, each with a hint.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from secretsmgr.keys.bech32 import short_key

Ancestry = Callable[[str, str], bool | None]
"""``is_ancestor(ancestor, descendant)``: True/False, None when ``descendant`` is a commit the
local clone does not have."""

_SHA = re.compile(r"[0-9a-fA-F]{7,40}")


@dataclass(frozen=True, slots=True)
class ClusterView:
    """What was read from the live cluster for finish (public keys only)."""

    label: str
    """``context test: flux-system/sops-age``: where the Secret was read."""
    secret_publics: tuple[str, ...]
    kustomizations: tuple[Mapping[str, object], ...] | None
    """Every Kustomization, as the API returned it; None when no Flux API is served."""
    apply_hint: str = "secretsmgr key rotate --begin --apply"
    """How to send the overlap Secret to this cluster."""
    secret_ref: tuple[str, str] = ("flux-system", "sops-age")
    """(namespace, name) of the Secret ``secret_publics`` come from."""
    others: Mapping[tuple[str, str], tuple[str, ...] | None] = field(default_factory=dict)
    """The public keys of every other Secret a decrypting Kustomization names (its own
    namespace, ``spec.decryption.secretRef.name``); None where it could not be read."""


@dataclass(frozen=True, slots=True)
class Blocker:
    """One reason finish must wait, and what to do about it."""

    what: str
    hint: str


def parse_revision(revision: str) -> str | None:
    """The git commit of a Kustomization's ``lastAppliedRevision``, None when it names none.

    ``main@sha1:<sha>`` (Flux ≥ 0.33; also ``sha1:<sha>`` and ``refs/tags/v1@sha1:<sha>``),
    ``main/<sha>`` (older Flux) or a bare ``<sha>``. An OCI or bucket digest (``sha256:…``) is
    not a commit.
    """
    text = revision.strip()
    if "@" in text:
        text = text.rpartition("@")[2]
    if ":" in text:
        algorithm, _, text = text.partition(":")
        if algorithm != "sha1":
            return None
    elif "/" in text:
        text = text.rpartition("/")[2]
    return text.lower() if _SHA.fullmatch(text) else None


def _at(obj: object, *path: str) -> object:
    for key in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def _text(obj: object, *path: str) -> str:
    value = _at(obj, *path)
    return value if isinstance(value, str) else ""


def decrypting(items: Iterable[Mapping[str, object]]) -> list[Mapping[str, object]]:
    """The Kustomizations that decrypt (a ``spec.decryption``), by namespace and name."""
    found = [k for k in items if isinstance(_at(k, "spec", "decryption"), Mapping)]
    return sorted(
        found, key=lambda k: (_text(k, "metadata", "namespace"), _text(k, "metadata", "name"))
    )


def ready(item: Mapping[str, object]) -> tuple[bool, str]:
    """Whether its Ready condition is ``True``; else the condition's reason (or why none)."""
    conditions = _at(item, "status", "conditions")
    for condition in conditions if isinstance(conditions, Sequence) else ():
        if _text(condition, "type") != "Ready":
            continue
        if _text(condition, "status") == "True":
            return True, ""
        reason = _text(condition, "reason") or f"Ready is {_text(condition, 'status') or 'unset'}"
        message = _text(condition, "message").strip().splitlines()
        return False, f"{reason}: {message[0][:120]}" if message else reason
    return False, "no Ready condition yet"


_FETCH = (
    "git fetch, then run secretsmgr key rotate --finish again (a Kustomization of another "
    "repository: check it yourself, then finish with --skip-cluster-check)"
)
_UNKNOWABLE = "check it yourself, then: secretsmgr key rotate --finish --skip-cluster-check"


def _revision_problem(revision: str, begin: str, is_ancestor: Ancestry) -> tuple[str, str] | None:
    """(what, hint) when ``revision`` does not (provably) contain ``begin``, else None.

    The hint is empty where reconciling is the cure, ``git push`` where the begin commit must
    reach the source first.
    """
    if not revision:
        return "has applied no revision yet", ""
    sha = parse_revision(revision)
    if sha is None:
        return f"applied {revision} (not a git commit)", _UNKNOWABLE
    contains = is_ancestor(begin, sha)
    if contains is None:
        return f"applied commit {sha[:12]} (not in this clone)", _FETCH
    if not contains:
        return f"applied {revision} (older than the begin commit {begin[:12]})", "git push"
    return None


def _kustomization(item: Mapping[str, object], begin: str, is_ancestor: Ancestry) -> Blocker | None:
    """What keeps one decrypting Kustomization from being ready for finish, if anything."""
    namespace, name = _text(item, "metadata", "namespace"), _text(item, "metadata", "name")
    problems: list[str] = []
    steps: list[str] = []
    if _at(item, "spec", "suspend") is True:
        problems.append("suspended")
        steps.append(f"flux resume kustomization {name} -n {namespace}")
    is_ready, why = ready(item)
    if not is_ready:
        problems.append(f"not Ready ({why})")
    found = _revision_problem(_text(item, "status", "lastAppliedRevision"), begin, is_ancestor)
    special = None
    if found is not None:
        problems.append(found[0])
        if found[1] == "git push":
            steps.insert(0, "push the begin commit (git push)")
        elif found[1]:
            special = found[1]
    if not problems:
        return None
    steps.append(f"flux reconcile kustomization {name} -n {namespace} --with-source")
    hint = special or ", then ".join(steps)
    return Blocker(f"kustomization {namespace}/{name}: {', '.join(problems)}", hint)


def evaluate(new_key: str, begin: str, view: ClusterView, is_ancestor: Ancestry) -> list[Blocker]:
    """What keeps finish from running now; empty when the cluster is ready."""
    blockers: list[Blocker] = []
    if new_key not in view.secret_publics:
        blockers.append(
            Blocker(
                f"the cluster ({view.label}) does not hold the new key {short_key(new_key)} yet",
                f"send the overlap Secret first: {view.apply_hint}",
            )
        )
    where = view.label.partition(":")[0]
    if view.kustomizations is None:
        blockers.append(
            Blocker(
                f"{where} serves no Flux Kustomization API (kustomize.toolkit.fluxcd.io)",
                "pass --context for the cluster Flux runs in",
            )
        )
        return blockers
    items = decrypting(view.kustomizations)
    if not items:
        blockers.append(
            Blocker(
                f"no Flux Kustomization in {where} decrypts (none has spec.decryption)",
                "pass --context for the cluster Flux runs in",
            )
        )
    for item in items:
        blocker = _kustomization(item, begin, is_ancestor)
        if blocker is not None:
            blockers.append(blocker)
        blocker = _its_secret(item, new_key, view)
        if blocker is not None:
            blockers.append(blocker)
    return blockers


def secret_ref(item: Mapping[str, object]) -> tuple[str, str] | None:
    """The Secret a decrypting Kustomization reads its keys from: (its namespace,
    ``spec.decryption.secretRef.name``); None when it names none (the controller's own keys)."""
    name = _text(item, "spec", "decryption", "secretRef", "name")
    return (_text(item, "metadata", "namespace"), name) if name else None


def _its_secret(item: Mapping[str, object], new_key: str, view: ClusterView) -> Blocker | None:
    """What keeps the Secret this Kustomization decrypts with from serving the new key."""
    namespace, name = _text(item, "metadata", "namespace"), _text(item, "metadata", "name")
    ref = secret_ref(item)
    if ref is None:
        return Blocker(
            f"kustomization {namespace}/{name} decrypts without a secretRef (the controller's "
            "own keys): not checked",
            _UNKNOWABLE,
        )
    if ref == view.secret_ref:
        return None  # the Secret checked above
    publics = view.others.get(ref)
    where = f"{ref[0]}/{ref[1]}"
    if publics is None:
        return Blocker(
            f"kustomization {namespace}/{name} decrypts with Secret {where}, which could not "
            "be read",
            _UNKNOWABLE,
        )
    if new_key not in publics:
        return Blocker(
            f"kustomization {namespace}/{name} decrypts with Secret {where}, which does not "
            f"hold the new key {short_key(new_key)}",
            f"send the overlap Secret there too: secretsmgr key rotate --begin --apply "
            f"--namespace {ref[0]} --secret {ref[1]}",
        )
    return None


def summary(blockers: Sequence[Blocker]) -> tuple[str, tuple[str, ...]]:
    """One message line and the hints (each once, in order) for a refusal."""
    message = "the cluster is not ready for key rotate --finish: " + "; ".join(
        b.what for b in blockers
    )
    return message, tuple(dict.fromkeys(b.hint for b in blockers if b.hint))
