"""Run the registered rules over a repository and assemble the report."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from secretsmgr.audit.context import AuditContext, build_context
from secretsmgr.audit.finding import (
    DECRYPTED_SINCE_HEAD,
    AuditReport,
    Finding,
    LayerSummary,
    Need,
    Rule,
    RuleId,
)
from secretsmgr.audit.history import HistoryFacts
from secretsmgr.audit.registry import RULES
from secretsmgr.errors import SecretsmgrError
from secretsmgr.keys.protocols import Identity
from secretsmgr.plural import plural
from secretsmgr.repo.earlier import EarlierStates, head_mac_states
from secretsmgr.repo.flux import Layer
from secretsmgr.repo.flux.graph import unknown_layer
from secretsmgr.repo.inventory import EMPTY_ENV, LiveKeys, load_inventory
from secretsmgr.repo.scan import Detector, InventoryCache
from secretsmgr.repo.settings import SETTINGS_NAME
from secretsmgr.repo.snapshot import Snapshot
from secretsmgr.sops.locate import DocumentKeys, find_line, key_lines

NO_CLUSTER_KEY = "no cluster key known"


def _any_cluster_key(ctx: AuditContext) -> bool:
    """Whether some cluster key is known: the repository's, or a cluster's own (``clusters:``
    pins, with no key for the whole repository: sweep 19, buvis/clusters, where a rule naming
    a PGP key beside both clusters' keys left the repository's undecided and SM004/SM005 were
    skipped, passing a file on the other cluster's key)."""
    return bool(ctx.repo.cluster_keys) or any(c.cluster_key for c in ctx.repo.layers.clusters)


NO_IDENTITY = "no identity (use --verify-mac with a key)"
NO_AGE_FILE = "no SOPS file is encrypted to an age key; secretsmgr opens age keys only"
NOT_REQUESTED = "MAC verification not requested (use --verify-mac)"
KEYLESS_ONLY = "needs a private identity; check runs only key-less rules"
NO_CLUSTER = "needs the live cluster (use --from-cluster)"
HISTORY_ONLY = "reads the changelog and the clock; the commit gate does not"
# what else the history walk finds (sweep 94, Dapacruz/k8s-infra: a file edited by hand in a
# past commit, values changed under the same MAC, was SM023 with --history only, unsaid)
NO_GIT_HISTORY = (
    "walks past commits (use audit --history, which also looks there for private keys, SM009, "
    "and for committed edits made outside sops, SM023)"
)


def load_context(
    root: Path,
    *,
    files: Sequence[str] | None = None,
    cluster_key: str | None = None,
    env: Mapping[str, str] = EMPTY_ENV,
    identities: Sequence[Identity] = (),
    max_age_days: int | None = None,
    verify_mac: bool = False,
    now: datetime | None = None,
    live_cluster: LiveKeys | Sequence[LiveKeys] | None = None,
    rules: Sequence[Rule] = RULES,
    snapshot: Snapshot | None = None,
    cache: InventoryCache | None = None,
    history: HistoryFacts | None = None,
    earlier: EarlierStates | None = None,
) -> AuditContext:
    """Read the repository at ``root`` with the detectors of ``rules`` and build their context.

    ``snapshot`` reads another state than the working tree (the index, a commit); ``cache``
    answers detector hits and layer graphs it already knows.
    """
    repo = load_inventory(
        root,
        files=files,
        cluster_key_cli=cluster_key,
        env=env,
        live_keys=live_cluster,
        detectors=detectors(rules),
        everywhere=everywhere(rules),
        snapshot=snapshot,
        cache=cache,
    )
    if earlier is None and any(rule.id == "SM023" for rule in rules):
        # the files this state changes since HEAD, as HEAD holds them (SM023)
        earlier = head_mac_states(
            root, snapshot, {e.path: e for e in repo.sops_files if e.sops_file is not None}
        )
    return build_context(
        repo,
        identities=identities,
        max_age_days=max_age_days,
        verify_mac=verify_mac,
        now=now,
        live_cluster=live_cluster,
        history=history,
        earlier=earlier,
    )


def run_audit(
    root: Path,
    *,
    files: Sequence[str] | None = None,
    cluster_key: str | None = None,
    env: Mapping[str, str] = EMPTY_ENV,
    identities: Sequence[Identity] = (),
    max_age_days: int | None = None,
    layer_filter: Sequence[str] = (),
    keyless_only: bool = False,
    verify_mac: bool = False,
    now: datetime | None = None,
    live_cluster: LiveKeys | Sequence[LiveKeys] | None = None,
    history: HistoryFacts | None = None,
    identity_error: SecretsmgrError | None = None,
) -> AuditReport:
    """Audit the repository at ``root``; findings are data, never exceptions.

    Raises ``ConfigError`` for a malformed `.sops.yaml`/`.secretsmgr.yaml`/Flux manifest and
    ``UsageError`` for an unknown layer or a file outside the repository. ``identity_error``:
    why ``verify_mac`` has no identity; raised when some file is encrypted to an age key (one
    could have opened it), while files with PGP or KMS keys only are not verified, with a note.
    """
    ctx = load_context(
        root,
        files=files,
        cluster_key=cluster_key,
        env=env,
        identities=identities,
        max_age_days=max_age_days,
        verify_mac=verify_mac and not keyless_only,
        now=now,
        live_cluster=live_cluster,
        history=history,
    )
    if identity_error is not None and ctx.verify_mac and not ctx.identities and _age_encrypted(ctx):
        raise identity_error
    return run_rules(ctx, layer_filter=layer_filter, keyless_only=keyless_only)


def detectors(rules: Sequence[Rule]) -> dict[str, Detector]:
    """The file detectors of ``rules``, by rule id."""
    return {rule.id: rule.detect for rule in rules if rule.detect is not None}


def everywhere(rules: Sequence[Rule]) -> dict[str, Callable[[str], bool]]:
    """The file names each rule's detector must see beyond the files a run names, by rule id."""
    return {
        rule.id: rule.detect_everywhere
        for rule in rules
        if rule.detect is not None and rule.detect_everywhere is not None
    }


def _age_encrypted(ctx: AuditContext) -> bool:
    """Whether some SOPS file has an age recipient (an age identity could open it)."""
    return any(e.sops_file and e.sops_file.metadata.age_recipients for e in ctx.repo.sops_files)


def _missing(rule: Rule, ctx: AuditContext, keyless_only: bool) -> str | None:
    if keyless_only and not rule.keyless:
        if Need.GIT_HISTORY in rule.needs:
            return NO_GIT_HISTORY
        return HISTORY_ONLY if Need.HISTORY in rule.needs else KEYLESS_ONLY
    if Need.GIT_HISTORY in rule.needs and ctx.history is None:
        return NO_GIT_HISTORY
    if Need.CLUSTER in rule.needs and not ctx.live_clusters:
        return NO_CLUSTER
    if Need.IDENTITY in rule.needs:
        if not ctx.verify_mac:
            return NOT_REQUESTED
        if not ctx.identities:
            return NO_IDENTITY if _age_encrypted(ctx) else NO_AGE_FILE
    if Need.CLUSTER_KEY in rule.needs and not _any_cluster_key(ctx):
        return NO_CLUSTER_KEY
    return rule.precondition(ctx) if rule.precondition is not None else None


def _check_layers(ctx: AuditContext, layer_filter: Sequence[str]) -> frozenset[str]:
    graph = ctx.repo.layers
    known = graph.names()
    unknown = [name for name in layer_filter if graph.get(name) is None]
    if unknown:
        raise unknown_layer(unknown[0], known)
    return frozenset(layer_filter)


def _summary(layer: Layer, sops: set[str]) -> LayerSummary:
    return LayerSummary(
        name=layer.name,
        path=layer.path,
        depends_on=layer.depends_on,
        decryption=layer.decryption.describe() if layer.decryption else None,
        sops_files=tuple(sorted(layer.files & sops)),
        cluster=layer.cluster,
        namespace=layer.namespace,
        external=layer.external,
        unresolved=layer.unresolved,
    )


def _collect(
    rules: Iterable[Rule], ctx: AuditContext, keyless_only: bool
) -> tuple[list[Finding], list[tuple[RuleId, str]]]:
    findings: list[Finding] = []
    skipped: list[tuple[RuleId, str]] = []
    for rule in rules:
        reason = _missing(rule, ctx, keyless_only)
        if reason is not None:
            skipped.append((rule.id, reason))
            continue
        findings.extend(rule.check(ctx))
        if Need.IDENTITY in rule.needs and ctx.unopened:
            shown = ", ".join(ctx.unopened[:3]) + (", …" if len(ctx.unopened) > 3 else "")
            noun = "file" if len(ctx.unopened) == 1 else "files"
            skipped.append(
                (rule.id, f"{len(ctx.unopened)} {noun} not verified, no identity opens: {shown}")
            )
    return findings, skipped


def _with_lines(findings: list[Finding], ctx: AuditContext) -> list[Finding]:
    """Findings with the line of their key path, found in the SOPS texts already read."""
    texts = {e.path: e for e in ctx.repo.sops_files if e.text}
    parsed: dict[str, list[DocumentKeys]] = {}
    located: list[Finding] = []
    for finding in findings:
        entry = texts.get(finding.path)
        if finding.line is None and finding.key_path and entry is not None:
            if entry.path not in parsed:
                parsed[entry.path] = key_lines(entry.text, entry.format)
            docs = parsed[entry.path]
            if finding.document is not None:
                docs = docs[finding.document - 1 : finding.document]
            line = find_line(docs, finding.key_path)
            finding = replace(finding, line=line) if line is not None else finding
        located.append(finding)
    return located


_PLAIN_RULES = frozenset(("SM001", "SM003", "SM018"))


def _one_cure(findings: list[Finding]) -> list[Finding]:
    """Where a file's values came out of an encrypted file (SM002: decrypted in place, or
    under another name while the change deletes the original), the cure is taking the
    encrypted version back: its other plaintext findings give that cure too, not an `encrypt`
    of the copy (sweep 42, ZicTec/pi-cluster: SM001's encrypt, pasted first, left the restore
    failing halfway)."""
    cures = {
        f.path: f.fix
        for f in findings
        if f.rule == "SM002" and (f.fix or "").startswith(DECRYPTED_SINCE_HEAD)
    }
    if not cures:
        return findings
    return [
        replace(f, fix=cures[f.path]) if f.path in cures and f.rule in _PLAIN_RULES else f
        for f in findings
    ]


def run_rules(
    ctx: AuditContext,
    *,
    layer_filter: Sequence[str] = (),
    keyless_only: bool = False,
    rules: Sequence[Rule] = RULES,
) -> AuditReport:
    """Run ``rules`` over a built context: skips, suppressions, layers, order."""
    wanted = _check_layers(ctx, layer_filter)
    graph = ctx.repo.layers

    def chosen(layer: Layer) -> bool:
        return not wanted or layer.name in wanted or layer.label in wanted

    def placed(path: str) -> tuple[Layer, ...]:
        return graph.placements(path)

    def in_scope(path: str) -> bool:
        return not wanted or any(chosen(x) for x in placed(path))

    raw, skipped = _collect(rules, ctx, keyless_only)
    seen: set[tuple[str, str, str, int]] = set()
    findings: list[Finding] = []
    suppressed: list[Finding] = []
    for finding in raw:
        if finding.sort_key in seen:
            continue
        seen.add(finding.sort_key)
        if not in_scope(finding.path):
            continue
        if ctx.repo.settings.is_ignored(finding.rule, finding.path, finding.key_path):
            suppressed.append(finding)
            continue
        here = placed(finding.path)
        if not here and finding.layers:  # a file no layer places now (SM015: deleted, listed)
            here = tuple(x for x in graph.layers if {x.label, x.name} & set(finding.layers))
        if finding.layers:  # the layers the finding is about (SM010: those not decrypting) first
            about = set(finding.layers)
            here = tuple(sorted(here, key=lambda x: x.label not in about))
        findings.append(
            replace(
                finding,
                layers=tuple(x.name for x in here),
                clusters=tuple(x.cluster for x in here),
            )
        )
    findings = _with_lines(findings, ctx)
    findings = _one_cure(findings)
    findings.sort(key=lambda f: f.sort_key)

    sops_paths = sorted(e.path for e in ctx.repo.sops_files if in_scope(e.path))
    sops_set = set(sops_paths)
    summaries = tuple(_summary(x, sops_set) for x in graph.layers if chosen(x))
    files = sum(1 for f in ctx.repo.files if in_scope(f)) if wanted else len(ctx.repo.files)
    header_keys, header_source = ctx.repo.header_keys
    return AuditReport(
        findings=tuple(findings),
        files=files,
        sops_files=tuple(sops_paths),
        layers=summaries,
        suppressed=len(suppressed),
        suppressed_findings=tuple(suppressed),
        skipped=tuple(skipped),
        cluster_keys=header_keys,
        cluster_key_source=header_source,
        file_layers=tuple((p, tuple((x.cluster, x.name) for x in placed(p))) for p in sops_paths),
        notes=graph.notes
        + ctx.repo.key_notes
        + _unkeyed_note(ctx)
        + tuple(x.note for x in ctx.live_clusters if x.note)
        + _history_notes(ctx.history),
        key_notes=ctx.repo.key_notes,
        clusters=tuple(c.name for c in graph.clusters),
    )


def _unkeyed_note(ctx: AuditContext) -> tuple[str, ...]:
    """SOPS files the layers apply for which no cluster key is known while the header names
    one: no `.sops.yaml` rule governs them and `.secretsmgr.yaml` pins none, so SM004 and
    SM005 pass them by (sweep 20, yabo-san/home-cluster: every file on another key than the
    one the header showed, and audit said nothing)."""
    repo = ctx.repo
    if not repo.cluster_keys or repo.settings_name_keys:
        return ()
    unkeyed = [
        e.path
        for e in repo.sops_files
        if e.sops_file is not None
        and e.creation_rule is None  # a PGP-only rule names no age key: no note (the review)
        and repo.layers_of(e.path)
        and not repo.cluster_keys_for(e)
    ]
    if not unkeyed:
        return ()
    count = plural(len(unkeyed), "SOPS file")
    return (
        f"{count} the layers apply, e.g. {unkeyed[0]}, {'is' if len(unkeyed) == 1 else 'are'} "
        "under no .sops.yaml rule: the cluster key (audit's header) is what the rules name for "
        "the files "
        "they govern, not for these, so SM004/SM005 do not judge them: pin the key Flux "
        f"decrypts them with in {SETTINGS_NAME} (cluster_key: age1…) to check them",
    )


def _history_notes(history: HistoryFacts | None) -> tuple[str, ...]:
    """What ``--history`` did not walk: branches HEAD does not reach (rtrox/home-cluster kept
    private keys on two pushed branches), named so that nobody reads "no findings" as more."""
    if history is None:
        return ()
    notes: list[str] = []
    if history.unwalked:
        refs = history.unwalked
        shown = ", ".join(refs[:3]) + (f" and {len(refs) - 3} more" if len(refs) > 3 else "")
        notes.append(
            f"--history walked the commits HEAD reaches; {plural(len(refs), 'branch', 'branches')} "
            f"({shown}) {'holds' if len(refs) == 1 else 'hold'} others: check each one out and "
            "run audit --history there"
        )
    if history.unreadable:
        # a partial (--filter) or broken clone: "no findings" would say more than was read
        path, commit = history.unreadable[0]
        one = len(history.unreadable) == 1
        notes.append(
            f"--history could not read {plural(len(history.unreadable), 'past version')} (git "
            f"has not the object: a partial or broken clone?), e.g. {path} in {commit[:12]}: "
            f"{'its' if one else 'their'} values were not judged; fetch the missing objects "
            "(git fetch --refetch, or a fresh clone) and run it again"
        )
    return tuple(notes)
