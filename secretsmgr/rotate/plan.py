"""What a rotation will do, computed without touching disk."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from secretsmgr.plural import plural


def policy_recipients(
    cluster_keys: Sequence[str],
    allowed: Sequence[str],
    add: Sequence[str] = (),
    remove: Sequence[str] = (),
) -> tuple[str, ...]:
    """cluster key(s) + allowed + added − removed, first occurrence order, no duplicates."""
    out: list[str] = []
    for key in (*cluster_keys, *allowed, *add):
        if key not in out and key not in remove:
            out.append(key)
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Regeneration:
    """One value replaced by a new random one (the value itself is never kept here)."""

    path: str
    key_path: str
    linked: bool = False


@dataclass(frozen=True, slots=True)
class FilePlan:
    """One file of a rotation."""

    path: str
    layers: tuple[str, ...]
    recipients_before: tuple[str, ...]
    recipients_after: tuple[str, ...]
    regenerated: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RotationPlan:
    """Every file, in dependsOn order of their first layer, and what changes in each."""

    files: tuple[FilePlan, ...]
    layers: tuple[str, ...]
    reason: str
    regenerations: tuple[Regeneration, ...] = field(default=())

    @property
    def label(self) -> str:
        """How commit messages name the run: the layers, or ``files``."""
        return ",".join(self.layers) if self.layers else "files"


def _short(key: str) -> str:
    return f"{key[:8]}…{key[-4:]}" if len(key) > 16 else key


def render_plan(plan: RotationPlan, *, dry_run: bool) -> str:
    """The plan as the terminal shows it (never a value)."""
    scope = f"layer {plan.label}" if plan.layers else "files"
    count = plural(len(plan.files), "file")
    lines = [f'rotate plan — {scope} ({count}), reason: "{plan.reason}"']
    width = max((len(f.path) for f in plan.files), default=0)
    for f in plan.files:
        before, after = set(f.recipients_before), set(f.recipients_after)
        if before == after:
            change = f"recipients {', '.join(_short(k) for k in f.recipients_after)} (unchanged)"
        else:
            added = [f"+{_short(k)}" for k in f.recipients_after if k not in before]
            removed = [f"-{_short(k)}" for k in f.recipients_before if k not in after]
            change = "recipients " + ", ".join(added + removed)
        lines.append(f"  {f.path.ljust(width)}   new data key; {change}")
    for r in plan.regenerations:
        tag = " (linked)" if r.linked else ""
        lines.append(f"  regenerate {r.key_path} in {r.path}{tag}")
    if dry_run:
        lines.append("nothing written (--dry-run)")
    return "\n".join(lines) + "\n"
