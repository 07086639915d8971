"""The rule pages (``docs/rules/SMxxx.md``) as SARIF help: read only when SARIF is rendered.

The pages ship inside the package as ``secretsmgr/report/rule_docs`` (a link to
``docs/rules`` in the repository, copied into wheels as package data), so ``check`` and every
other format never read them.
"""

from __future__ import annotations

import importlib.resources
import re
from collections.abc import Iterable
from dataclasses import dataclass

_FENCE = re.compile(r"^```[^\n]*\n", re.MULTILINE)
_CODE = re.compile(r"`([^`\n]*)`")
_BOLD = re.compile(r"\*\*([^*\n]+)\*\*")
_LINK = re.compile(r"\[([^\]\n]+)\]\(([^)\s]+)\)")
_HEADING = re.compile(r"^#{1,6} +", re.MULTILINE)
_SECTION = re.compile(r"^## +(.+?)\s*$", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class RuleHelp:
    """A rule page: what the rule detects (plain text), and the page as text and markdown."""

    description: str
    text: str
    markdown: str


def plain(markdown: str) -> str:
    """Markdown as plain text: no fences, backticks, bold or heading marks; links as text."""
    text = _FENCE.sub("", markdown)
    text = _CODE.sub(r"\1", text)
    text = _BOLD.sub(r"\1", text)
    text = _LINK.sub(r"\1 (\2)", text)
    return _HEADING.sub("", text).strip()


def _sections(body: str) -> dict[str, str]:
    marks = list(_SECTION.finditer(body))
    return {
        m[1]: body[m.end() : marks[i + 1].start() if i + 1 < len(marks) else len(body)].strip()
        for i, m in enumerate(marks)
    }


def parse_rule_page(page: str) -> RuleHelp:
    """A page as help: the markdown without its ``# SMxxx name`` title (SARIF names the rule),
    and the "What it detects" section as the description."""
    lines = page.strip().splitlines()
    body = "\n".join(lines[1:] if lines and lines[0].startswith("# ") else lines).strip()
    detects = _sections(body).get("What it detects", "")
    description = " ".join(plain(detects).split()) if detects else ""
    return RuleHelp(description=description, text=plain(body), markdown=body)


def load_rule_help(rule_ids: Iterable[str]) -> dict[str, RuleHelp]:
    """The help of every rule in ``rule_ids`` whose page ships with the package."""
    pages = importlib.resources.files("secretsmgr.report").joinpath("rule_docs")
    helps: dict[str, RuleHelp] = {}
    for rule_id in rule_ids:
        page = pages.joinpath(f"{rule_id}.md")
        if page.is_file():
            helps[rule_id] = parse_rule_page(page.read_text(encoding="utf-8"))
    return helps
