"""SM019 exposed-in-history: a value once committed in plaintext, not regenerated since.

Git keeps every version: a Secret committed in clear and encrypted later is still readable by
anyone with the repository. The value must change. Resolved when the changelog records that
key path of that file as regenerated (``secretsmgr rotate --regenerate``) after the exposure.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from secretsmgr.audit.context import AuditContext
from secretsmgr.audit.finding import Finding, Need, Rule, RuleId, Severity
from secretsmgr.audit.history import Exposure, env_slot
from secretsmgr.audit.rules.sm002_missing_sops_metadata import EDITOR_LEFTOVER
from secretsmgr.changelog.chain import plain_key_path
from secretsmgr.repo.settings import glob_literal
from secretsmgr.shellword import sh_path, sh_word
from secretsmgr.sops.tree import MapNode


def _kept_in(exposure: Exposure) -> str:
    """The file that keeps the exposed value now: an editor's decrypted copy (the VS Code sops
    extension's ``.decrypted~X``) leaked what X holds, and X is where it changes (sweep 44,
    BeastCave/home-kube: the copy was gone, and no `set` could close the finding)."""
    folder, _, name = exposure.current.rpartition("/")
    if name.startswith(EDITOR_LEFTOVER) and len(name) > len(EDITOR_LEFTOVER):
        original = name[len(EDITOR_LEFTOVER) :]
        return f"{folder}/{original}" if folder else original
    return exposure.current


def _regenerated_after(ctx: AuditContext, exposure: Exposure) -> bool:
    """Whether a changelog entry after the exposure gave that key path a new value: ``rotate
    --regenerate`` and ``set`` record the key paths they change in ``key_paths`` (``set`` of the
    very same value cannot be told apart without a key: the operator vouches for it)."""
    for entry in ctx.changelog:
        # a new value: regenerated, or set; unset only removes the key, and the leaked value may
        # still be live where it was issued
        if entry.action not in ("rotate", "set") or not _later(entry.time, exposure.date):
            continue
        for record in entry.files:
            # the fix names a value's key path as the file holds it now (data.x committed,
            # stringData.x today): either records the new value
            named = {exposure.key_path, _twin(exposure.key_path)}
            # a file of several documents records "KEY (document N)" (the review of stop 52)
            recorded = {plain_key_path(key) for key in record.key_paths}
            if record.path in (exposure.path, exposure.current, _kept_in(exposure)) and (
                named & recorded
            ):
                return True
    return False


def _later(changelog_time: str, commit_date: str) -> bool:
    """Whether a changelog time (UTC, ``…Z``) is after a commit date (ISO with offset)."""
    from datetime import datetime

    try:
        entry = datetime.fromisoformat(changelog_time.replace("Z", "+00:00"))
        commit = datetime.fromisoformat(commit_date.replace("Z", "+00:00"))
    except ValueError:
        return False
    return entry > commit


def _still_plain(ctx: AuditContext) -> set[tuple[str, str]]:
    """(path, key path) of values plaintext today: the current rules report those (an env
    entry's key path by its variable: ``env_slot``)."""
    now: set[tuple[str, str]] = set()
    for rule in ("SM001", "SM002", "SM003", "SM018"):
        for hit in ctx.repo.hits_of(rule):
            key_path = getattr(hit, "key_path", None)
            if isinstance(key_path, str):
                now.add(
                    (getattr(hit, "path", ""), env_slot(key_path, getattr(hit, "variable", None)))
                )
    for entry in ctx.repo.sops_files:
        now.update((entry.path, k) for k in entry.plaintext_leaves)
    return now


def _foreign_only(ctx: AuditContext, path: str) -> str:
    """The kinds of key (``pgp``, ``pgp and awskms``) of a SOPS file that no age key opens,
    which only sops writes; "" when an age key is among its recipients."""
    entry = next((e for e in ctx.repo.sops_files if e.path == path), None)
    meta = entry.sops_file.metadata if entry is not None and entry.sops_file is not None else None
    if meta is None or meta.age_recipients or not meta.foreign_kinds:
        return ""
    return " and ".join(meta.foreign_kinds)


def _twin(key_path: str) -> str | None:
    """``stringData.x`` for ``data.x`` and the other way round; None for any other path."""
    section, _, rest = key_path.partition(".")
    if section not in ("data", "stringData") or not rest:
        return None
    return f"{'stringData' if section == 'data' else 'data'}.{rest}"


def _holds(node: object, key_path: str) -> bool:
    """Whether ``node`` has a leaf at ``key_path`` (keys may hold dots: each split tried)."""
    if not key_path:
        return not isinstance(node, MapNode)
    if not isinstance(node, MapNode):
        return False
    for item in node.items:
        if isinstance(item, tuple):
            key = str(item[0])
            if key_path == key:
                return _holds(item[1], "")
            if key_path.startswith(key + ".") and _holds(item[1], key_path[len(key) + 1 :]):
                return True
    return False


def _key_path_now(ctx: AuditContext, path: str, key_path: str) -> str | None:
    """The key path of a value as the file holds it today: committed under ``data`` and
    encrypted since under ``stringData`` (or the other way round), the fix names where it is
    now (sweep 72, Benjaminmnoer/iac: both pasted commands were refused for ``data.username``);
    None when the file holds it under neither (sweep 93, shangkuei/fluxcd: ``Data.plex.token``,
    since renamed, and both pasted commands were refused)."""
    entry = next((e for e in ctx.repo.sops_files if e.path == path), None)
    docs = entry.sops_file.docs if entry is not None and entry.sops_file is not None else ()
    if not docs:
        return key_path
    twin = _twin(key_path)
    for candidate in (key_path, twin):
        if candidate is not None and any(_holds(doc, candidate) for doc in docs):
            return candidate
    return None


def _named(variables: list[str]) -> str:
    """`` (DATABASE_URL)``, or `` (API_TOKEN, then DATABASE_URL)`` for an env index that held
    the values of several variables in turn; "" for none."""
    return f" ({', then '.join(variables)})" if variables else ""


def check(ctx: AuditContext) -> Iterator[Finding]:
    """One finding per exposed key path; never the value."""
    assert ctx.history is not None
    today = _still_plain(ctx)
    sops_now = {e.path for e in ctx.repo.sops_files if e.sops_file is not None}
    live = [
        exposure
        for exposure in ctx.history.exposures
        # plaintext today (its own rules say so; an env entry's by its variable, wherever it
        # sits in the list now), or given a new value since
        if (exposure.current, env_slot(exposure.key_path, exposure.name)) not in today
        and not _regenerated_after(ctx, exposure)
    ]
    # variables that held values at one env index in turn: one finding names them all
    names: dict[tuple[str, str], list[str]] = {}
    for exposure in live:
        variables = names.setdefault((exposure.current, exposure.key_path), [])
        if exposure.name and exposure.name not in variables:
            variables.append(exposure.name)
    for exposure in live:
        kept = _kept_in(exposure) if _kept_in(exposure) in sops_now else exposure.current
        if exposure.key_path.lower().endswith(".agekey"):
            # an age key file: a random value in its place would break Flux's decryption
            # (sweep 49, SjurSutterudSagen/home-ops: the fix said rotate --regenerate)
            fix = (
                "the value is an age private key: replace the key it is and re-encrypt what it "
                "opens (secretsmgr key rotate --begin, then --finish, for the cluster's; see SM009)"
            )
        elif kept in sops_now and (held := _foreign_only(ctx, kept)):
            # no age key opens it, so neither writer can (sweep 83, Ryan-McD/flux-bigbang-
            # cluster: the fix named rotate --regenerate and set for a file on a PGP key alone)
            fix = (
                f"a holder of its {held} keys gives it a new value with sops (sops edit "
                f"{sh_path(kept)}; revoke one a service issued there first); sops records "
                "nothing in the changelog, so then list the finding in .secretsmgr.yaml: "
                f"ignore: [{{rule: SM019, path: {json.dumps(glob_literal(exposure.current))}, "
                f"key_path: {json.dumps(glob_literal(exposure.key_path))}, reason: "
                '"a new value set with sops"}]'
            )
        elif kept in sops_now and (where := _key_path_now(ctx, kept, exposure.key_path)) is None:
            fix = (
                f"{exposure.key_path} is no longer in {sh_path(kept)}: if its value lives on "
                "under another key path, change it at its source and store the new one there "
                f"(secretsmgr set {sh_path(kept)} KEY_PATH, from stdin); the changelog cannot "
                "record the former key path, so then list the finding in .secretsmgr.yaml: "
                f"ignore: [{{rule: SM019, path: {json.dumps(glob_literal(exposure.current))}, "
                f"key_path: {json.dumps(glob_literal(exposure.key_path))}, reason: "
                '"changed at its source"}]'
            )
        elif kept in sops_now:
            # either writer records the key path in the changelog, which closes the finding
            assert where is not None
            # set records the key path only where a changelog is kept (rotate starts one):
            # without one, its new value closed nothing (sweep 93)
            first = (
                ""
                if ctx.changelog_present
                else ", in a changelog started first (secretsmgr log --adopt --reason "
                '"before new values")'
            )
            fix = (
                f"a value you choose: secretsmgr rotate --regenerate {sh_word(where)} "
                f"{sh_path(kept)}; one a service issued (a cloud key, a token): revoke it "
                f"there, then store the new one with secretsmgr set {sh_path(kept)} "
                f"{sh_word(where)} (it reads the value from stdin){first}"
            )
        else:
            fix = (
                "change the value at its source (it stays readable in git history); keep the "
                "new one only in a SOPS file"
            )
        # a moved file's exposure is named where the file is now (sweep 46, sakura-dragon)
        was = f" as {exposure.path}" if exposure.moved_to else ""
        yield RULE.finding(
            exposure.current,
            f"{exposure.key_path}{_named(names[(exposure.current, exposure.key_path)])} was "
            "committed "
            f"in plaintext ({exposure.rule}){was} in "
            f"{exposure.commit[:12]} ({exposure.date[:10]}): exposed since, in git history",
            key_path=exposure.key_path,
            fix=fix,
        )


RULE = Rule(
    id=RuleId("SM019"),
    name="exposed-in-history",
    severity=Severity.ERROR,
    needs=frozenset({Need.GIT_HISTORY}),
    summary="A value once committed in plaintext and not regenerated since",
    check=check,
)
