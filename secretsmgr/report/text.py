"""Terminal reports: the grouped ``audit`` view and the short ``check`` (pre-commit) view."""

from __future__ import annotations

from dataclasses import dataclass, field

from secretsmgr.audit.finding import (
    DECRYPTED_SINCE_HEAD,
    LOST_METADATA,
    NO_SOPS_CONFIG,
    YAML_FIRST,
    AuditReport,
    Finding,
    RuleId,
    Severity,
)
from secretsmgr.keys.bech32 import short_key
from secretsmgr.report._shared import (
    KEY_RULES,
    LayerKey,
    by_path,
    cluster_heading,
    counts_phrase,
    file_layers,
    heading,
    ignored_line,
    multi_cluster,
    one_line,
    plural,
    relative,
    worst,
)
from secretsmgr.shellword import sh_path, starts_as_command

MARKS = {Severity.ERROR: "✗", Severity.WARNING: "!", Severity.INFO: "·"}
OK_MARK = "✓"
PLAINTEXT_RULES = frozenset({"SM001", "SM002"})
_MAX_PAD = 48
_GAP = "   "

_RESET = "\033[0m"
_STYLES = {
    "error": "\033[31m",
    "warning": "\033[33m",
    "info": "\033[36m",
    "ok": "\033[32m",
    "bold": "\033[1m",
    "dim": "\033[2m",
}


@dataclass(frozen=True, slots=True)
class _Paint:
    enabled: bool

    def __call__(self, text: str, style: str) -> str:
        return f"{_STYLES[style]}{text}{_RESET}" if self.enabled else text


def exit_code(report: AuditReport, fail_on: Severity | None) -> int:
    """The exit code the CLI returns for ``report`` under ``--fail-on``."""
    return 1 if report.fails(fail_on) else 0


def _message(finding: Finding) -> str:
    if finding.key_path and finding.key_path not in finding.message:
        return one_line(f"{finding.message} (at {finding.key_path})")
    return one_line(finding.message)


@dataclass(slots=True)
class _Group:
    heading: str
    root: str
    key: LayerKey | None = None
    paths: list[str] = field(default_factory=list)
    cluster: str | None = None
    empty_layer: bool = False  # a layer with no SOPS file and no finding


def _groups(report: AuditReport) -> list[_Group]:
    layers_of = file_layers(report)
    findings = by_path(report)
    shown = [layer.key for layer in report.layers]
    groups = [
        _Group(heading(layer), layer.path, layer.key, cluster=layer.cluster)
        for layer in report.layers
    ]
    extra: dict[LayerKey, _Group] = {}
    orphans = _Group("not in any layer", "")
    for path in sorted(layers_of):
        keys = layers_of[path]
        placed = False
        for index, key in enumerate(shown):
            if key in keys:
                groups[index].paths.append(path)
                placed = True
        if placed:
            continue
        if not keys:
            orphans.paths.append(path)
        elif path in findings:  # only in layers left out by --layer, yet reported
            extra.setdefault(keys[0], _Group(keys[0][1], "", keys[0])).paths.append(path)
    for group, layer in zip(groups, report.layers, strict=True):
        group.empty_layer = not group.paths and layer.external is None and not layer.unresolved
    groups.extend(extra.values())
    if orphans.paths:
        groups.append(orphans)
    return groups


def render(
    report: AuditReport,
    *,
    color: bool = False,
    fail_on: Severity | None = Severity.ERROR,
    verbose: bool = False,
) -> str:
    """The ``audit`` report for a terminal: files grouped by cluster, then layer in dependsOn
    order; layers without SOPS files collapse into one line unless ``verbose``."""
    paint = _Paint(color)
    findings = by_path(report)
    layers_of = file_layers(report)
    groups = _groups(report)
    width = max(
        (len(one_line(relative(p, g.root))) for g in groups for p in g.paths if p in findings),
        default=0,
    )
    width = min(width, _MAX_PAD)
    clusters = multi_cluster(report)

    lines = [paint(_header(report), "bold")]
    lines += [paint(one_line(f"note: {note}"), "dim") for note in report.notes]
    lines += [paint(line, "dim") for line in _root_note(report)]
    lines.append("")
    hidden = 0
    current: object = object()
    for group in groups:
        elsewhere: dict[str, str] = {}  # a fix shown for another file of the group: that file
        if group.empty_layer and not verbose:
            hidden += 1
            continue
        if clusters and group.key is not None and group.cluster != current:
            current = group.cluster
            lines.append(paint(one_line(cluster_heading(group.cluster)), "bold"))
            lines.append("")
        lines.append(paint(one_line(group.heading), "bold"))
        if not group.paths and group.empty_layer:
            lines.append(paint("  (no SOPS files)", "dim"))
        for path in group.paths:
            rel = one_line(relative(path, group.root))
            here = findings.get(path, [])
            if not here:
                lines.append(f"  {paint(OK_MARK, 'ok')} {rel}")
                continue
            first = next(iter(layers_of.get(path, ())), None)
            if first is not None and group.key is not None and first != group.key:
                severity = worst(here) or Severity.INFO
                mark = paint(MARKS[severity], severity.value)
                where = f"see {_key_label(first, clusters)} above"
                lines.append(f"  {mark} {rel}{_GAP}{paint(where, 'dim')}")
                continue
            shown: set[str] = set()
            for finding in here:
                style = finding.severity.value
                head = f"{MARKS[finding.severity]} {finding.rule}"
                lines.append(f"  {paint(head, style)} {rel.ljust(width)}{_GAP}{_message(finding)}")
                if finding.fix:
                    fix = _fix_once(finding.fix, shown, elsewhere, rel)
                    lines.append(f"{' ' * 10}fix: {fix}")
        lines.append("")
    if hidden:
        lines.append(
            paint(f"{plural(hidden, 'layer')} without SOPS files (--verbose lists them)", "dim")
        )
        lines.append("")
    for rules, reason in _skipped(report.skipped):
        lines.append(paint(one_line(f"skipped: {', '.join(rules)} ({reason})"), "dim"))
    if report.skipped:
        lines.append("")
    code = exit_code(report, fail_on)
    summary = f"{counts_phrase(report)} — exit {code}"
    lines.append(paint(summary, "error" if code else "ok"))
    return "\n".join(lines) + "\n"


def _root_note(report: AuditReport) -> list[str]:
    """A line saying where the fixes run, when the command ran outside the root and a fix is
    shown (sweep 79: `git checkout HEAD -- gitops/…` pasted in gitops/ named no file)."""
    if report.run_from is None or not any(f.fix for f in report.findings):
        return []
    if not report.run_from.isprintable():
        # a newline in the folder's name: a one-line note cannot quote it for a shell (the
        # attack review: `(cd '/…/a\nb')` named another folder)
        return ["note: paths are from the repository root: run the fixes there"]
    where = sh_path(report.run_from)
    return [f"note: paths are from the repository root: run the fixes there (cd {where})"]


def _key_label(key: LayerKey, clusters: bool) -> str:
    cluster, name = key
    return f"{cluster}/{name}" if clusters and cluster is not None else name


def _header(report: AuditReport) -> str:
    keys = report.cluster_keys
    if not keys:
        key_text = "no cluster key"
    else:
        noun = "cluster key" if len(keys) == 1 else "cluster keys"
        key_text = f"{noun} {', '.join(short_key(k) for k in keys)}"
        if report.cluster_key_source:
            key_text += f" (from {report.cluster_key_source})"
    clusters = len(report.clusters)
    where = f"{plural(clusters, 'cluster')}, " if clusters > 1 else ""
    return (
        f"secretsmgr audit — {where}{plural(len(report.layers), 'layer')}, "
        f"{plural(len(report.sops_files), 'SOPS file')}, {key_text}"
    )


def _skipped(skipped: tuple[tuple[RuleId, str], ...]) -> list[tuple[list[str], str]]:
    by_reason: dict[str, list[str]] = {}
    for rule, reason in skipped:
        ids = by_reason.setdefault(reason, [])
        if rule not in ids:
            ids.append(rule)
    return [(sorted(ids), reason) for reason, ids in by_reason.items()]


def render_check(report: AuditReport, *, color: bool = False) -> str:
    """The short ``check`` view for pre-commit: one line per finding, then what is blocked.

    With a finding that rests on the cluster key, the notes on how that key was chosen from
    `.sops.yaml` follow the findings (the guess is what an operator needs to judge them).

    When every blocked file is plaintext (SM001/SM002) and each one's fix is the plain encrypt,
    the last line names the encrypt command; otherwise each finding's fix follows it on an
    indented line.
    """
    paint = _Paint(color)
    findings = by_path(report)
    blocked = [p for p, here in findings.items() if worst(here) is Severity.ERROR]
    plaintext = all(
        f.rule in PLAINTEXT_RULES
        and not (f.fix or "").startswith((LOST_METADATA, YAML_FIRST, DECRYPTED_SINCE_HEAD))
        for path in blocked
        for f in findings[path]
        if f.severity is Severity.ERROR
    )
    if plaintext and len(blocked) > 1:
        # one closing line stands for each file's fix only when each is the plain encrypt (or
        # that after init): a rule to add or a rename first is shown file by file (sweep 12)
        plaintext = all(
            (f.fix or "").endswith(f"secretsmgr encrypt -i {sh_path(path)}")
            and (f.fix or "").startswith((NO_SOPS_CONFIG, "secretsmgr encrypt -i "))
            for path in blocked
            for f in findings[path]
            if f.severity is Severity.ERROR
        )
    lines: list[str] = []
    elsewhere: dict[str, str] = {}
    for path, here in findings.items():
        shown: set[str] = set()
        for finding in here:
            # a warning or note says so in words: without colour an error and a warning of
            # the same rule read alike, and "fix the errors above" named none (sweep 100)
            level = "" if finding.severity is Severity.ERROR else f" ({finding.severity.value})"
            rule = paint(f"{finding.rule} {finding.name}{level}", finding.severity.value)
            lines.append(f"{one_line(path)}: {rule}: {_message(finding)}")
            if finding.fix and not (plaintext and finding.rule in PLAINTEXT_RULES):
                lines.append(f"  fix: {_fix_once(finding.fix, shown, elsewhere, one_line(path))}")
    if any(f.rule in KEY_RULES for f in report.findings):
        # the key came from a choice among a rule's keys: say which, as audit does
        lines += [paint(one_line(f"note: {note}"), "dim") for note in report.key_notes]
    if report.newly_ignored:
        # a change that adds an ignore: entry for its own finding passed without a word (the
        # attack review of stop 44): each such error is named, for the reviewer
        listed = [ignored_line(f, why) for f, why in report.newly_ignored[:3]]
        more = len(report.newly_ignored) - len(listed)
        lines.append(
            paint(
                one_line(
                    "note: this change's own settings or baseline hide errors that HEAD's "
                    "would show: "
                    + "; ".join(listed)
                    + (f"; and {plural(more, 'more error')}" if more else "")
                ),
                "warning",
            )
        )
    if lines:
        lines += [paint(line, "dim") for line in _root_note(report)]
    warned = [p for p, here in findings.items() if worst(here) is not Severity.ERROR]
    if warned:
        # which findings block is told by severity, which a line shows only in colour (sweep
        # 42: "5 files" listed, "4 files blocked", and nothing said which one passed)
        lines.append(
            paint(f"{plural(len(warned), 'file')} with warnings or notes only: not blocked", "dim")
        )
    if blocked:
        count = plural(len(blocked), "file")
        first = next(
            (f.fix for f in findings[blocked[0]] if f.severity is Severity.ERROR and f.fix), None
        )
        plain_fix = f"secretsmgr encrypt -i {sh_path(blocked[0])}"
        if plaintext and len(blocked) == 1 and (first or "").startswith(NO_SOPS_CONFIG):
            tail = one_line(first or "")  # a key and a rule first (no .sops.yaml)
        elif plaintext and len(blocked) == 1 and first not in (None, plain_fix):
            # a rename first (no rule matches); words to follow are no command to paste (sweep
            # 87's gate corpus: "fix it with: no .sops.yaml creation rule matches …" failed)
            said = one_line(first or "")
            tail = f"fix it with: {said}" if starts_as_command(said) else f"to fix it: {said}"
        elif plaintext and len(blocked) == 1:
            tail = f"encrypt it with: secretsmgr encrypt -i {one_line(sh_path(blocked[0]))}"
        elif plaintext and any(
            (f.fix or "").startswith(NO_SOPS_CONFIG) for path in blocked for f in findings[path]
        ):
            # no .sops.yaml: encrypt finds no recipients until init writes a key and a rule
            tail = (
                f"{NO_SOPS_CONFIG}: run secretsmgr init first (cluster key and creation rule), "
                "then encrypt each with: secretsmgr encrypt -i <file>"
            )
        elif plaintext:
            tail = "encrypt each with: secretsmgr encrypt -i <file>"
        else:
            tail = "fix the errors above, or see: secretsmgr audit"
        # values HEAD holds already (sweep 66): said before the closing line, which stays last
        lines += [
            paint(
                f"note: {one_line(path)} holds these values in git already (HEAD): once it is "
                "encrypted, change them at their source too (secretsmgr audit --history lists "
                "what git holds)",
                "dim",
            )
            for path in report.committed_plaintext[:3]
        ]
        more = len(report.committed_plaintext) - 3
        if more > 0:
            # sweep 106 (Tim275/pi-cluster): seven such files, three named, and no word of the
            # rest, whose values must change at their source too
            lines.append(
                paint(
                    f"note: and {plural(more, 'more file')} whose values git holds already "
                    "(secretsmgr audit --history lists them)",
                    "dim",
                )
            )
        lines.append(paint(f"{count} blocked — {tail}", "error"))
    return "\n".join(lines) + "\n" if lines else ""


def _fix_once(fix: str, shown: set[str], elsewhere: dict[str, str], path: str) -> str:
    """A finding's fix, or a pointer to the same fix printed above: for the same file (two keys
    of one plaintext Secret had the same ``mv … && secretsmgr encrypt -i`` line twice, and the
    second failed once the first had run: sweep 19), or for another file of the same layer (or
    check run) when the fix does not name this file (sweep 71: one layer's missing decryption
    printed the same patch 22 times)."""
    if fix in shown:
        return "the same as above (once for the file)"
    shown.add(fix)
    first = elsewhere.setdefault(fix, path)
    if first != path and path not in fix:
        return f"the same as for {first} above"
    return one_line(fix)
