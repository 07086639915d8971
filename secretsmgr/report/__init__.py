"""Reporters: pure ``render(report) -> str`` functions, one per output format; no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import assert_never

from secretsmgr.audit.finding import AuditReport, Rule, Severity


class OutputFormat(StrEnum):
    """Output formats of ``audit`` and ``check``."""

    TEXT = "text"
    JSON = "json"
    SARIF = "sarif"
    GITHUB = "github"


def render(
    report: AuditReport,
    fmt: OutputFormat,
    *,
    color: bool = False,
    fail_on: Severity | None = Severity.ERROR,
    short: bool = False,
    rules: Sequence[Rule] | None = None,
    verbose: bool = False,
) -> str:
    """Render ``report`` as ``fmt``.

    ``color``, ``fail_on`` and ``verbose`` (list layers without SOPS files) only shape text;
    ``short`` picks the one-line-per-finding ``check`` view of text; ``rules`` (default: the
    registry) fills SARIF's ``driver.rules``.
    """
    match fmt:
        case OutputFormat.TEXT:
            from secretsmgr.report import text

            if short:
                return text.render_check(report, color=color)
            return text.render(report, color=color, fail_on=fail_on, verbose=verbose)
        case OutputFormat.JSON:
            from secretsmgr.report import json_report

            return json_report.render(report)
        case OutputFormat.SARIF:
            from secretsmgr.report import sarif
            from secretsmgr.report.rule_help import load_rule_help

            if rules is None:
                from secretsmgr.audit.registry import RULES

                rules = RULES
            return sarif.render(report, rules, load_rule_help(rule.id for rule in rules))
        case OutputFormat.GITHUB:
            from secretsmgr.report import github

            return github.render(report)
        case _:
            assert_never(fmt)
