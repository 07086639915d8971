"""SM001 plaintext-secret: a Kubernetes Secret with values and no SOPS metadata."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import cast

from secretsmgr.audit.context import AuditContext
from secretsmgr.audit.finding import Finding, Rule, RuleId, Severity
from secretsmgr.errors import FormatError
from secretsmgr.repo.inventory import ScannedFile
from secretsmgr.repo.placeholders import is_placeholder
from secretsmgr.sops.document import FileFormat
from secretsmgr.sops.locate import DocumentKeys, key_lines
from secretsmgr.sops.metadata import SOPS_KEY
from secretsmgr.sops.yamlio import safe_load_all

# A top-level ``kind: Secret`` (a pre-filter; the parse decides).
_SECRET_HINT = {
    FileFormat.YAML: re.compile(rb"""^kind:[ \t]*["']?Secret["']?[ \t]*(?:#.*)?\r?$""", re.M),
    FileFormat.JSON: re.compile(rb'"kind"\s*:\s*"Secret"'),
}


@dataclass(frozen=True, slots=True)
class PlaintextSecret:
    """A plaintext value in a Kubernetes Secret without SOPS metadata."""

    path: str
    key_path: str
    secret: str
    document: int = 1  # 1-based, in the file
    line: int | None = None


def _is_plaintext_value(value: object) -> bool:
    if isinstance(value, str):
        # a placeholder (${VAR}, {{ … }}, <token>, op://…) or empty string is filled in later
        return not is_placeholder(value) and not value.startswith("ENC[AES256_GCM,")
    if value is None:
        return False
    return not isinstance(value, dict | list) or bool(value)


def find_plaintext_secrets(path: str, text: str, fmt: FileFormat) -> list[PlaintextSecret]:
    """Plaintext ``data``/``stringData`` values of ``kind: Secret`` documents in ``text``."""
    try:
        if fmt is FileFormat.JSON:
            docs: list[object] = [json.loads(text)]
        else:
            docs = list(safe_load_all(text))
    except (FormatError, ValueError, RecursionError):
        return []  # not a manifest we can read (templates, fragments): nothing to say
    found: list[PlaintextSecret] = []
    located: list[DocumentKeys] | None = None
    for number, raw in enumerate(docs, start=1):
        if not isinstance(raw, dict):
            continue
        doc = cast(dict[str, object], raw)
        if doc.get("kind") != "Secret" or doc.get("apiVersion") != "v1" or SOPS_KEY in doc:
            continue
        meta = doc.get("metadata")
        meta_d = cast(dict[str, object], meta) if isinstance(meta, dict) else {}
        name, namespace = meta_d.get("name"), meta_d.get("namespace")
        label = f"{namespace}/{name}" if namespace else str(name or "(unnamed)")
        for section in ("stringData", "data"):
            values = doc.get(section)
            if not isinstance(values, dict):
                continue
            for key, value in cast(dict[object, object], values).items():
                if _is_plaintext_value(value):
                    located = key_lines(text, fmt) if located is None else located
                    key_path = f"{section}.{key}"
                    lines = located[number - 1].lines if number <= len(located) else {}
                    line = lines.get(key_path)
                    found.append(PlaintextSecret(path, key_path, label, number, line))
    return found


def detect(file: ScannedFile) -> list[PlaintextSecret]:
    """Plaintext Secrets in a YAML/JSON file that carries no SOPS metadata."""
    if file.format is None or (file.sops is not None and file.sops.has_metadata):
        return []
    hint = _SECRET_HINT.get(file.format)
    if hint is None or not hint.search(file.data):
        return []
    try:
        text = file.data.decode("utf-8")
    except UnicodeDecodeError:
        return []
    return find_plaintext_secrets(file.path, text, file.format)


def check(ctx: AuditContext) -> Iterator[Finding]:
    """One finding per plaintext ``data``/``stringData`` value of every Secret document; the
    value is never shown. Two documents with the same key path each get their own finding."""
    hits = [h for h in ctx.repo.hits_of(RULE.id) if isinstance(h, PlaintextSecret)]
    counts = Counter((h.path, h.key_path) for h in hits)
    repeated = {where for where, n in counts.items() if n > 1}
    for hit in hits:
        yield RULE.finding(
            hit.path,
            f"Secret {hit.secret} holds a plaintext value at {hit.key_path} "
            "and the file has no SOPS metadata",
            key_path=hit.key_path,
            fix=f"secretsmgr encrypt -i {hit.path}",
            document=hit.document if (hit.path, hit.key_path) in repeated else None,
            line=hit.line,
        )


RULE = Rule(
    id=RuleId("SM001"),
    name="plaintext-secret",
    severity=Severity.ERROR,
    needs=frozenset(),
    summary="A Kubernetes Secret with data/stringData and no SOPS metadata",
    check=check,
    detect=detect,
)
