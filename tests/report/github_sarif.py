"""GitHub code scanning's SARIF ingestion rules, checked by hand.

The same checks as the SARIF Multitool's GitHub rules (``Sarif.Multitool validate --rule-kind
Ghas``, sarif-sdk ``src/Sarif.Multitool.Library/Rules/GH*.cs``), for machines without the
Multitool: each problem is ``"GHnnnn: json/pointer: what"``. GH1002 (inline thread-flow
locations) is left out: secretsmgr writes no code flows.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

# GH1004: what GitHub displays by default (the Multitool's limits)
LIMITS = {"runs": 5, "rules": 1000, "results": 1000, "locations": 10}
FINAL_SCHEMA_ENDINGS = ("2.1.0", "2.1.0.json", "2.1.0-rtm.6", "2.1.0-rtm.6.json")


def _blank(value: object) -> bool:
    return not isinstance(value, str) or not value.strip()


def _text(holder: Any) -> str | None:
    return holder.get("text") if isinstance(holder, dict) else None


def _location(loc: Any, where: str, related: bool) -> Iterator[str]:
    physical = loc.get("physicalLocation") if isinstance(loc, dict) else None
    if not isinstance(physical, dict):
        yield f"GH1001: {where}: no physicalLocation"
        return
    artifact = physical.get("artifactLocation")
    uri = artifact.get("uri") if isinstance(artifact, dict) else None
    if _blank(uri):
        yield f"GH1001: {where}/physicalLocation: no artifactLocation.uri"
    else:
        parts = urlsplit(uri)
        if parts.scheme and parts.scheme != "file":
            yield f"GH1005: {where}: {uri!r} is not a file path"
        if parts.scheme == "file":
            yield f"GH1006: {where}: absolute file URI {uri!r} without a checkout path"
    region = physical.get("region")
    if not isinstance(region, dict):
        yield f"GH1003: {where}/physicalLocation: no region"
    elif not isinstance(region.get("startLine"), int) or region["startLine"] < 1:
        yield f"GH1003: {where}/physicalLocation/region: no startLine"
    if related and not isinstance(loc.get("message"), dict):
        yield f"GH1007: {where}: a related location without a message"


def _rule(rule: Any, where: str) -> Iterator[str]:
    if _blank(rule.get("id")):
        yield f"GH2012: {where}: no id"
    for field in ("shortDescription", "fullDescription"):
        if _blank(_text(rule.get(field))):
            yield f"GH2012: {where}: no {field}.text"
    if not isinstance(rule.get("help"), dict):
        yield f"GH2012: {where}: no help"
    elif _blank(rule["help"].get("text")):
        yield f"GH2012: {where}/help: no text"


def _result(result: Any, where: str) -> Iterator[str]:
    if _blank(_text(result.get("message"))):
        yield f"GH1007: {where}/message: no text (GitHub needs the flattened message)"
    locations = result.get("locations")
    if not isinstance(locations, list) or not locations:
        yield f"GH1001: {where}: no locations"
        locations = []
    if len(locations) > LIMITS["locations"]:
        yield f"GH1004: {where}/locations: {len(locations)} > {LIMITS['locations']}"
    for i, loc in enumerate(locations):
        yield from _location(loc, f"{where}/locations/{i}", related=False)
    for i, loc in enumerate(result.get("relatedLocations") or []):
        yield from _location(loc, f"{where}/relatedLocations/{i}", related=True)
    if not isinstance(result.get("partialFingerprints"), dict):
        yield f"GH1015: {where}: no partialFingerprints"


def problems(log: Any) -> list[str]:
    """Every GitHub ingestion problem of a SARIF log (empty: GitHub takes it as it is)."""
    found: list[str] = []
    schema = log.get("$schema")
    if _blank(schema):
        found.append("GH1013: /: no $schema")
    elif not str(schema).endswith(FINAL_SCHEMA_ENDINGS):
        found.append(f"GH1011: /$schema: {schema!r} is not the final 2.1.0 schema")
    if log.get("version") != "2.1.0":
        found.append("GH1013: /version: not 2.1.0")
    runs = log.get("runs")
    if not isinstance(runs, list):
        return [*found, "GH1013: /: no runs"]
    if len(runs) > LIMITS["runs"]:
        found.append(f"GH1004: /runs: {len(runs)} > {LIMITS['runs']}")
    for r, run in enumerate(runs):
        where = f"/runs/{r}"
        driver = (run.get("tool") or {}).get("driver")
        if not isinstance(driver, dict):
            found.append(f"GH1018: {where}/tool: no driver")
            driver = {}
        if _blank(driver.get("name")):
            found.append(f"GH1018: {where}/tool/driver: no name")
        rules = driver.get("rules")
        if not isinstance(rules, list):
            found.append(f"GH1018: {where}/tool/driver: no rules")
            rules = []
        if len(rules) > LIMITS["rules"]:
            found.append(f"GH1004: {where}/tool/driver/rules: {len(rules)} > {LIMITS['rules']}")
        for i, rule in enumerate(rules):
            found.extend(_rule(rule, f"{where}/tool/driver/rules/{i}"))
        results = run.get("results")
        if not isinstance(results, list):
            found.append(f"GH1014: {where}: no results")
            results = []
        if len(results) > LIMITS["results"]:
            found.append(f"GH1004: {where}/results: {len(results)} > {LIMITS['results']}")
        for i, result in enumerate(results):
            found.extend(_result(result, f"{where}/results/{i}"))
    return found
