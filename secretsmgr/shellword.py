"""File names inside the commands secretsmgr prints (a finding's ``fix:``, a ``hint:``).

A user pastes those commands into a shell, and a file name is whatever someone committed: it
may hold spaces, ``;``, ``$(…)`` or quotes, or start with ``-``. ``sh_path`` makes it one word
that reads back as exactly that name and that no command takes for an option.
"""

from __future__ import annotations

import json
import os
import shlex


def sh_path(path: str | os.PathLike[str]) -> str:
    """``path`` as one shell word: quoted where the shell would split or expand it, and a
    relative name starting with ``-`` written ``./-…``."""
    text = os.fspath(path)
    if text.startswith("-"):
        text = f"./{text}"
    return sh_word(text)


def sh_word(text: str) -> str:
    """Any other name in a printed command (a cluster, a key path): quoted where the shell
    would split or expand it; with a control character (a newline in a file name), in
    bash's ``$'…'`` form, so the command stays on its one line (the attack review of stop 50:
    a hint broke in two at a name's newline)."""
    if not any(_control(c) for c in text):
        return shlex.quote(text)
    return "$'" + "".join(_ansi_c(c) for c in text) + "'"


_ESCAPES = {"\n": "\\n", "\t": "\\t", "\r": "\\r", "\\": "\\\\", "'": "\\'"}


def _ansi_c(char: str) -> str:
    """``char`` as bash's ``$'…'`` writes it."""
    if char in _ESCAPES:
        return _ESCAPES[char]
    if not _control(char):
        return char
    code = ord(char)
    if code in UNDECODED:  # the byte itself, which bash's $'…' writes back as it was
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 128 else f"\\u{code:04x}"


def one_line(text: str) -> str:
    """``text`` with its control characters shown (``\\n``, ``\\r``, ``\\x1b``): a message is
    one line, and a file's name sends the terminal no escape sequence (the review of stop 50:
    ``ESC[2K`` in a name rewrote the error line)."""
    if not any(_control(c) for c in text):
        return text
    return "".join(_ansi_c(c) if _control(c) and c != "\t" else c for c in text)


# a byte that is no UTF-8, as ``surrogateescape`` keeps it in a name: shown as ``\xNN``
UNDECODED = range(0xDC80, 0xDD00)  # each such byte, as its lone surrogate
_UNDECODED = {code: f"\\x{code - 0xDC00:02x}" for code in UNDECODED}
_UNDECODED_JSON = {code: "\\" + shown for code, shown in _UNDECODED.items()}


def bytes_shown(text: str) -> str:
    """``text`` with each byte that is no UTF-8 (a file name saved in Latin-1, say) written
    ``\\xNN``: a report stays UTF-8 text, and the name stays readable (stop 51: ``caf\\xe9``)."""
    return text if text.isascii() else text.translate(_UNDECODED)


def json_text(doc: object) -> str:
    """``doc`` as indented JSON (UTF-8 as it is), a name's bytes that are no UTF-8 as the
    string ``\\xNN`` (JSON has no way to hold a byte, and RFC 8259 texts are UTF-8)."""
    return json.dumps(doc, indent=2, ensure_ascii=False).translate(_UNDECODED_JSON) + "\n"


def _control(char: str) -> bool:
    """A C0 or C1 control character, or DEL (C1's CSI acts on some terminals too), or a byte
    that is no UTF-8 (a lone surrogate, as ``surrogateescape`` keeps a file name's)."""
    code = ord(char)
    return code < 32 or 127 <= code < 160 or code in UNDECODED


# the commands a printed fix starts with: pasted as it stands, not read
_COMMAND_WORDS = frozenset(
    ("mv", "git", "secretsmgr", "sops", "sed", "cd", "gpg", "kubectl", "iconv")
)


def starts_as_command(text: str) -> bool:
    """Whether a fix starts as a shell command (``mv …``, ``(cd … && …)``), not with words."""
    return text.lstrip("( ").split(" ", 1)[0] in _COMMAND_WORDS
