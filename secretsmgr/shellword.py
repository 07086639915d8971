"""File names inside the commands secretsmgr prints (a finding's ``fix:``, a ``hint:``).

A user pastes those commands into a shell, and a file name is whatever someone committed: it
may hold spaces, ``;``, ``$(…)`` or quotes, or start with ``-``. ``sh_path`` makes it one word
that reads back as exactly that name and that no command takes for an option.
"""

from __future__ import annotations

import os
import shlex


def sh_path(path: str | os.PathLike[str]) -> str:
    """``path`` as one shell word: quoted where the shell would split or expand it, and a
    relative name starting with ``-`` written ``./-…``."""
    text = os.fspath(path)
    if text.startswith("-"):
        text = f"./{text}"
    return shlex.quote(text)


def sh_word(text: str) -> str:
    """Any other name in a printed command (a cluster, a key path): quoted where the shell
    would split or expand it."""
    return shlex.quote(text)


# the commands a printed fix starts with: pasted as it stands, not read
_COMMAND_WORDS = frozenset(
    ("mv", "git", "secretsmgr", "sops", "sed", "cd", "gpg", "kubectl", "iconv")
)


def starts_as_command(text: str) -> bool:
    """Whether a fix starts as a shell command (``mv …``, ``(cd … && …)``), not with words."""
    return text.lstrip("( ").split(" ", 1)[0] in _COMMAND_WORDS
