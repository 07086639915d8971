"""Findings, rules and the audit report: plain data shared by the engine and the reporters."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, NewType

if TYPE_CHECKING:
    from secretsmgr.audit.context import AuditContext
    from secretsmgr.repo.scan import Detector

RuleId = NewType("RuleId", str)

# How a plaintext finding's fix starts when the repository has no .sops.yaml: encrypt finds no
# recipients there, so the fix sets up a key and a rule first (the check view says so once).
NO_SOPS_CONFIG = "no .sops.yaml in the repository"
# How the fix of a file whose ENC[…] values lost their sops: block starts (not encrypt -i)
LOST_METADATA = "restore it from git history with its sops: block"
# How the fix of a file HEAD holds encrypted and the index or working tree in clear starts
DECRYPTED_SINCE_HEAD = "take the encrypted version back"
# The start of a fix for a file that does not parse (encrypt would refuse it as it is)
YAML_FIRST = "fix the YAML first"


class Severity(StrEnum):
    """How bad a finding is; ``rank`` orders them for ``--fail-on``."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        """3 for error, 2 for warning, 1 for info."""
        return {"error": 3, "warning": 2, "info": 1}[self.value]


class Need(StrEnum):
    """What a rule needs beyond the repository itself."""

    CLUSTER_KEY = "cluster-key"
    HISTORY = "history"  # the changelog and the clock: audit only, never the commit gate
    GIT_HISTORY = "git-history"  # every past commit (audit --history): never the commit gate
    IDENTITY = "identity"
    CLUSTER = "cluster"


@dataclass(frozen=True, slots=True)
class Place:
    """A line (1-based; None when unknown) in a repository file."""

    path: str
    line: int | None = None


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem at one place. Identity = (rule, path, key_path); never a line number.

    ``line`` (1-based, in ``path``) only places the finding for a reader; ``fix_at`` is where
    the fix goes when that is another file (SM010: the layer's Kustomization).
    """

    rule: RuleId
    name: str
    severity: Severity
    path: str
    message: str
    key_path: str | None = None
    layers: tuple[str, ...] = ()
    fix: str | None = None
    # The document of a multi-document file (1-based) when one key path occurs in several.
    document: int | None = None
    # The cluster of each layer in ``layers`` (None in a repository without a cluster root).
    clusters: tuple[str | None, ...] = ()
    line: int | None = None
    fix_at: Place | None = None

    @property
    def layer(self) -> str | None:
        """The first layer (in dependsOn order) that reaches the file, or None."""
        return self.layers[0] if self.layers else None

    @property
    def cluster(self) -> str | None:
        """The cluster of the first layer, or None."""
        return self.clusters[0] if self.clusters else None

    @property
    def placements(self) -> tuple[tuple[str | None, str], ...]:
        """(cluster, layer) for every layer that applies the file, in order."""
        clusters = self.clusters or (None,) * len(self.layers)
        return tuple(zip(clusters, self.layers, strict=True))

    @property
    def sort_key(self) -> tuple[str, str, str, int]:
        """Report order and identity: path, rule, key path (document)."""
        return (self.path, self.rule, self.key_path or "", self.document or 0)


@dataclass(frozen=True, slots=True)
class Rule:
    """A registered audit rule."""

    id: RuleId
    name: str
    severity: Severity
    needs: frozenset[Need]
    summary: str
    check: Callable[[AuditContext], Iterable[Finding]] = field(repr=False)
    # Why the rule cannot run on this repository (e.g. no .sops.yaml for SM011), or None.
    precondition: Callable[[AuditContext], str | None] | None = field(
        default=None, repr=False, compare=False
    )
    # Looks at each file once while the repository is read; ``check`` reads what it found
    # through ``ctx.repo.hits_of(rule.id)``.
    detect: Detector | None = field(default=None, repr=False, compare=False)
    # The dataclass ``detect`` returns: the gate's blob cache stores hits in its fields.
    hit_type: type | None = field(default=None, repr=False, compare=False)
    # The file names ``detect`` must see in the whole repository, also in a run over named
    # files (the pre-commit hook's): what reads a named file may lie outside them.
    detect_everywhere: Callable[[str], bool] | None = field(default=None, repr=False, compare=False)

    @property
    def keyless(self) -> bool:
        """Whether ``check`` (the CI gate) may run it: no private identity needed."""
        return not self.needs & {Need.IDENTITY, Need.CLUSTER, Need.HISTORY, Need.GIT_HISTORY}

    def finding(
        self,
        path: str,
        message: str,
        *,
        key_path: str | None = None,
        layers: tuple[str, ...] = (),
        fix: str | None = None,
        severity: Severity | None = None,
        document: int | None = None,
        line: int | None = None,
        fix_at: Place | None = None,
    ) -> Finding:
        """A finding of this rule (``severity`` overrides the rule's own for this one)."""
        return Finding(
            self.id,
            self.name,
            severity or self.severity,
            path,
            message,
            key_path,
            layers,
            fix,
            document,
            line=line,
            fix_at=fix_at,
        )


@dataclass(frozen=True, slots=True)
class LayerSummary:
    """A layer as reports show it."""

    name: str
    path: str
    depends_on: tuple[str, ...]
    decryption: str | None  # "sops/sops-age", "sops (controller key)", or None
    sops_files: tuple[str, ...]
    cluster: str | None = None
    namespace: str = "flux-system"
    external: str | None = None  # the source, when the layer's files are outside this checkout
    unresolved: tuple[str, ...] = ()  # unknown variables in spec.path

    @property
    def key(self) -> tuple[str | None, str]:
        """(cluster, name): unique in a report."""
        return (self.cluster, self.name)


@dataclass(frozen=True, slots=True)
class AuditReport:
    """Everything a reporter renders; built by the engine, deterministic."""

    findings: tuple[Finding, ...]
    files: int
    sops_files: tuple[str, ...]
    layers: tuple[LayerSummary, ...]
    suppressed: int = 0
    skipped: tuple[tuple[RuleId, str], ...] = ()
    cluster_keys: tuple[str, ...] = ()
    cluster_key_source: str | None = None
    # Every SOPS file in scope and the (cluster, layer) pairs that apply it, in order.
    file_layers: tuple[tuple[str, tuple[tuple[str | None, str], ...]], ...] = ()
    notes: tuple[str, ...] = ()  # what the model could not know (external sources, versions)
    # those of ``notes`` that say which `.sops.yaml` key was taken as the cluster key
    key_notes: tuple[str, ...] = ()
    clusters: tuple[str | None, ...] = ()  # every cluster, in report order
    # findings already present (a committed baseline, or --new-since REV): counted, not shown
    baselined: int = 0
    # files check blocks as plaintext Secrets whose values HEAD already holds (the gate's):
    # encrypting them now hides nothing that git has not published
    committed_plaintext: tuple[str, ...] = ()
    # the findings ``ignore:`` entries took out (never shown as findings); and the errors the
    # staged `.secretsmgr.yaml` or baseline hide where HEAD's showed them (the gate's), each with
    # why (an ignore: entry's reason): a change that silences its own finding says so
    suppressed_findings: tuple[Finding, ...] = ()
    newly_ignored: tuple[tuple[Finding, str], ...] = ()
    # the repository root, when the command ran elsewhere (a subfolder, or --repo): paths and
    # fixes are written from the root, so a fix pasted where the command ran would miss
    run_from: str | None = None

    def count(self, severity: Severity) -> int:
        """How many findings have ``severity``."""
        return sum(1 for f in self.findings if f.severity is severity)

    def fails(self, threshold: Severity | None) -> bool:
        """Whether any finding is at or above ``threshold`` (None = never)."""
        if threshold is None:
            return False
        return any(f.severity.rank >= threshold.rank for f in self.findings)
