"""SM014 shared-data-key: two files under one data key (a copied encrypted file)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from secretsmgr.audit.context import AuditContext
from secretsmgr.audit.finding import Finding, Rule, RuleId, Severity
from secretsmgr.repo.sopsconfig import sops_rotate_hint
from secretsmgr.shellword import sh_path


def _fingerprints(stanzas: list[str], mac: str) -> list[tuple[str, str]]:
    keys = [("wrapped data key", "".join(enc.split())) for enc in stanzas]
    return [*keys, ("MAC", mac.strip())]


def path_order(path: str) -> list[list[str]]:
    """Path order compared name by name, so ``x.enc.yaml`` sorts before ``x-copy.enc.yaml``."""
    return [part.split(".") for part in path.split("/")]


def check(ctx: AuditContext) -> Iterator[Finding]:
    """Each file that shares a wrapped data key or MAC with an earlier file (path order)."""
    first_seen: dict[str, str] = {}
    for entry in sorted(ctx.repo.sops_files, key=lambda e: path_order(e.path)):
        sf = entry.sops_file
        if sf is None:
            continue
        stanzas = [s.enc for g in sf.metadata.key_groups for s in g.age]
        shared: tuple[str, str] | None = None
        for what, fingerprint in _fingerprints(stanzas, sf.metadata.mac):
            other = first_seen.get(fingerprint)
            if other is not None and other != entry.path and shared is None:
                shared = (what, other)
            first_seen.setdefault(fingerprint, entry.path)
        if shared is not None:
            what, other = shared
            rotate = sops_rotate_hint(entry.path, sf.metadata) or (
                f"secretsmgr rotate {sh_path(entry.path)}"
            )
            if _BACKUP.sub("", entry.path) == other and not ctx.repo.layers_of(entry.path):
                # sweep 26, NovaMachina/home-ops: secret.sops.yaml.bak, an older version of the
                # file beside it (sops keeps the data key through edits), applied by nothing
                yield RULE.finding(
                    entry.path,
                    f"shares its {what} with {other}: a backup of an encrypted file",
                    fix=f"remove it if nothing reads it: git rm {sh_path(entry.path)}; "
                    f"else give it a data key of its own: {rotate}",
                )
                continue
            yield RULE.finding(
                entry.path, f"shares its {what} with {other}: a copied encrypted file", fix=rotate
            )


# A backup's name: an editor's or a person's copy kept beside the file, under its name and
# a suffix (the third review: a copy elsewhere named .old is no backup of it)
_BACKUP = re.compile(r"(?i)(?:\.(?:bak|orig|old|backup|save)|~)$")


RULE = Rule(
    id=RuleId("SM014"),
    name="shared-data-key",
    severity=Severity.WARNING,
    needs=frozenset(),
    summary="Two files share a wrapped data key or MAC (a copied encrypted file)",
    check=check,
)
