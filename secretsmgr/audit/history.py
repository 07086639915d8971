"""What git history holds, as the history rules (SM009, SM019, SM020) read it.

``secretsmgr.gate.history`` walks every commit reachable from HEAD (key-less, cached by blob id)
and fills these records; the rules decide what is still a problem today. Never a value: key
paths, paths, commits, dates and public keys only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_ENV_ENTRY = re.compile(r"\.env\.[0-9]+\.value$")


def env_slot(key_path: str, name: str | None) -> str:
    """Where a container env entry's value sits, by its variable rather than its list index
    (``….env.[DATABASE_URL].value``): an entry added above it moves the index, not the value
    (bo0tzz/kube: one DATABASE_URL was two SM019 errors, at env.1 and then env.2)."""
    if name and _ENV_ENTRY.search(key_path):
        return _ENV_ENTRY.sub(lambda _m: f".env.[{name}].value", key_path)
    return key_path


@dataclass(frozen=True, slots=True)
class Exposure:
    """A value committed in plaintext: first seen at ``commit`` (SM001/SM003/SM018 then)."""

    path: str
    key_path: str
    commit: str
    date: str  # committer date, ISO 8601
    rule: str  # the rule that saw it in that commit
    name: str | None = None  # a container env entry's variable (``DATABASE_URL``)
    # where the file is now, when git moved it unchanged since (``git mv``), else None
    moved_to: str | None = None

    @property
    def current(self) -> str:
        """The path that holds the value's file today (or last did)."""
        return self.moved_to or self.path


@dataclass(frozen=True, slots=True)
class RecipientRemoval:
    """A recipient taken off a SOPS file while its data key stayed (values byte-identical).

    ``resolved_by`` is the first later commit that re-encrypted the file under a new data key
    (every ENC value and every wrapped key changed at once), if any.
    """

    path: str
    recipient: str
    commit: str
    date: str
    resolved_by: str | None = None


@dataclass(frozen=True, slots=True)
class PastKey:
    """A private key in a past version of a file (first commit that held it there); ``kind``
    is ``age`` or a PEM label (``EC PRIVATE KEY``)."""

    path: str
    commit: str
    date: str
    public: str | None
    kind: str = "age"


@dataclass(frozen=True, slots=True)
class HandEdit:
    """A SOPS file changed outside sops at ``commit``: what its MAC covers changed while the
    MAC and ``lastmodified`` stayed those of the version before (``since``, the last commit
    sops wrote it in). Only edits HEAD still holds under that MAC are kept."""

    path: str
    commit: str
    date: str
    since: str
    since_path: str  # the file's path in ``since`` (a later move renames it)


@dataclass(frozen=True, slots=True)
class HistoryFacts:
    """Everything the walk found, plus how much it walked."""

    commits: int
    blobs: int
    exposures: tuple[Exposure, ...] = ()
    removals: tuple[RecipientRemoval, ...] = ()
    past_keys: tuple[PastKey, ...] = ()
    unwalked: tuple[str, ...] = ()  # branches with commits HEAD does not reach
    # (age recipient, path) of every SOPS file a past version of which was encrypted to it
    encrypted_to: tuple[tuple[str, str], ...] = ()
    hand_edits: tuple[HandEdit, ...] = ()  # SOPS files HEAD holds edited outside sops
    # (path, commit) of each version whose blob git could not read (a partial or shallow
    # clone, a broken link): its values were not judged
    unreadable: tuple[tuple[str, str], ...] = ()

    def files_encrypted_to(self, recipient: str) -> list[str]:
        """Every path a version of which was encrypted to ``recipient``, in the walk's order."""
        return [path for r, path in self.encrypted_to if r == recipient]
