"""SARIF 2.1.0 for GitHub code scanning: rules from the registry with their pages as help, one
result per finding, placed at the line of its key path.

What GitHub needs (the SARIF Multitool's GH rules, checked in the tests): every rule has a
``shortDescription``, ``fullDescription`` and ``help.text``; every result a message text,
``partialFingerprints`` and a location with a relative URI and ``region.startLine``; every
related location a message. ``properties.security-severity`` and ``tags`` (``security``)
make GitHub rate an alert: above 9.0 critical, 7.0-8.9 high, 4.0-6.9 medium, below 4.0 low.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from secretsmgr import __version__
from secretsmgr.audit.finding import AuditReport, Finding, Place, Rule, Severity
from secretsmgr.report._shared import hidden_message, primary_place, sorted_findings
from secretsmgr.report.rule_help import RuleHelp
from secretsmgr.shellword import json_text

SARIF_SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
SARIF_VERSION = "2.1.0"
INFORMATION_URI = "https://github.com/secretsmgr/secretsmgr"
HELP_URI = INFORMATION_URI + "/blob/main/docs/rules/{id}.md"
FINGERPRINT = "secretsmgr/v1"
SRCROOT = "%SRCROOT%"
LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
TAGS = ("security", "secrets")
# (security-severity, extra tags) per rule; a rule missing here is rated by its severity.
SECURITY: dict[str, tuple[float, tuple[str, ...]]] = {
    "SM001": (9.5, ("external/cwe/cwe-312",)),  # a secret in git for ever: cleartext storage
    "SM002": (8.0, ("external/cwe/cwe-312",)),  # named encrypted, is not: maybe cleartext
    "SM003": (9.0, ("external/cwe/cwe-312",)),
    "SM004": (5.0, ("flux",)),  # Flux cannot decrypt: an outage, not a leak
    "SM005": (6.5, ("external/cwe/cwe-732",)),  # one more key can read it
    "SM006": (5.0, ()),
    "SM007": (7.5, ("external/cwe/cwe-345",)),  # changed outside sops: integrity
    "SM008": (3.0, ("external/cwe/cwe-324",)),  # a key past its expiration date
    "SM009": (9.5, ("external/cwe/cwe-321",)),  # a private key committed
    "SM010": (5.0, ("flux",)),
    "SM011": (3.0, ()),
    "SM012": (1.0, ("flux",)),
    "SM013": (2.0, ()),
    "SM014": (4.0, ("external/cwe/cwe-323",)),  # one data key for two files
    "SM015": (5.0, ("flux",)),
    "SM016": (6.0, ("flux",)),
    "SM017": (1.0, ()),
    "SM021": (6.0, ("flux", "external/cwe/cwe-59")),  # a link: never deployed, may point away
}
BY_SEVERITY = {Severity.ERROR: 7.0, Severity.WARNING: 4.0, Severity.INFO: 1.0}


def fingerprint(finding: Finding) -> str:
    """sha256 of (rule, path, key path): stable across line moves and runs."""
    raw = "\0".join((finding.rule, finding.path, finding.key_path or ""))
    return hashlib.sha256(raw.encode("utf-8", "surrogateescape")).hexdigest()


def artifact_uri(path: str) -> str:
    """A repository-relative POSIX path as a relative URI reference (percent-encoded)."""
    return quote(path.encode("utf-8", "surrogateescape"), safe="/")


def rule_descriptor(rule: Rule, page: RuleHelp | None = None) -> dict[str, Any]:
    """A ``reportingDescriptor`` for one registered rule (its page as help, when shipped)."""
    url = HELP_URI.format(id=rule.id)
    score, extra = SECURITY.get(rule.id, (BY_SEVERITY[rule.severity], ()))
    if page is None:  # a page that is not shipped: still the fields GitHub requires
        page = RuleHelp(rule.summary, f"{rule.summary}. See {url}", f"{rule.summary}. See {url}")
    return {
        "id": rule.id,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": page.description or rule.summary},
        "help": {"text": page.text, "markdown": page.markdown},
        "helpUri": url,
        "defaultConfiguration": {"level": LEVELS[rule.severity]},
        "properties": {
            "needs": sorted(need.value for need in rule.needs),
            "security-severity": f"{score:.1f}",
            "tags": [*TAGS, *extra],
        },
    }


def location(place: Place, message: str | None = None) -> dict[str, Any]:
    """A ``location`` at a line of a repository file (line 1 when the line is unknown)."""
    entry: dict[str, Any] = {
        "physicalLocation": {
            "artifactLocation": {"uri": artifact_uri(place.path), "uriBaseId": SRCROOT},
            "region": {"startLine": place.line or 1},
        }
    }
    if message is not None:
        entry["message"] = {"text": message}
    return entry


def result(finding: Finding, index: int | None) -> dict[str, Any]:
    """A SARIF ``result`` for one finding (``ruleIndex`` when the rule is registered).

    A finding whose fix goes in another file (SM010: the layer's Kustomization) sits there, and
    its own file is a related location.
    """
    entry: dict[str, Any] = {"ruleId": finding.rule}
    if index is not None:
        entry["ruleIndex"] = index
    entry["level"] = LEVELS[finding.severity]
    place = primary_place(finding)
    elsewhere = place.path != finding.path
    message = f"{finding.path}: {finding.message}" if elsewhere else finding.message
    entry["message"] = {"text": message}
    entry["locations"] = [location(place)]
    if elsewhere:
        own = Place(finding.path, finding.line)
        entry["relatedLocations"] = [{"id": 1, **location(own, "the file this finding is about")}]
    entry["partialFingerprints"] = {FINGERPRINT: fingerprint(finding)}
    properties: dict[str, Any] = {"layers": list(finding.layers)}
    if finding.cluster is not None:
        properties["cluster"] = finding.cluster
    if finding.key_path:
        properties["keyPath"] = finding.key_path
    if finding.fix:
        properties["fix"] = finding.fix
    entry["properties"] = properties
    return entry


def render(
    report: AuditReport, rules: Sequence[Rule], helps: Mapping[str, RuleHelp] | None = None
) -> str:
    """The SARIF log, ``indent=2`` with a trailing newline; ``helps`` by rule id."""
    helps = helps or {}
    index = {rule.id: i for i, rule in enumerate(rules)}
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "secretsmgr",
                "version": __version__,
                "semanticVersion": __version__,
                "informationUri": INFORMATION_URI,
                "rules": [rule_descriptor(rule, helps.get(rule.id)) for rule in rules],
            }
        },
        "results": [result(f, index.get(f.rule)) for f in sorted_findings(report)],
    }
    log = {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [run],
    }
    if report.newly_ignored:
        # errors the change's own settings or baseline hide (check's): notifications of the run
        # beside its results, where a reviewer of the log finds them
        run["invocations"] = [
            {
                "executionSuccessful": True,
                "toolExecutionNotifications": [
                    {
                        "level": "warning",
                        "message": {"text": hidden_message(f, why)},
                        "locations": [location(Place(f.path, f.line))],
                    }
                    for f, why in report.newly_ignored
                ],
            }
        ]
    return json_text(log)
