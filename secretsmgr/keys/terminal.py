"""The controlling terminal, for the few things only a person can answer.

A passphrase (of a passphrase-protected identity file) and an age plugin's questions are read
from ``/dev/tty``, never from stdin (which may carry a file) and never with echo on. With no
terminal the answer is a clear error (exit 2), never a silent fallback to an echoing read.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from secretsmgr.errors import KeyNotFoundError

TTY = "/dev/tty"

# Asks for a passphrase; the argument says what for (``the identity file keys.age``).
PassphrasePrompt = Callable[[str], str]


class NoTerminalError(KeyNotFoundError):
    """A passphrase is needed and there is no terminal to ask it on (exit 2)."""


def _ask(prompt: str, *, echo: bool) -> str:
    """One line from the terminal; echo off unless ``echo``. Raises OSError without one."""
    import termios

    fd = os.open(TTY, os.O_RDWR | os.O_NOCTTY)
    with open(fd, "r+b", buffering=0) as tty:
        saved = termios.tcgetattr(fd)
        if not echo:
            quiet = termios.tcgetattr(fd)
            quiet[3] &= ~termios.ECHO
            termios.tcsetattr(fd, termios.TCSAFLUSH, quiet)
        try:
            tty.write(prompt.encode("utf-8"))
            line = b""
            while not line.endswith(b"\n"):
                chunk = tty.read(1)
                if not chunk:
                    break
                line += chunk
        finally:
            termios.tcsetattr(fd, termios.TCSAFLUSH, saved)
            if not echo:
                tty.write(b"\n")
    return line.decode("utf-8", errors="replace").rstrip("\r\n")


def read_passphrase(what: str) -> str:
    """The passphrase for ``what``, typed on the terminal with echo off."""
    try:
        return _ask(f"secretsmgr: passphrase for {what}: ", echo=False)
    except (OSError, ImportError) as exc:
        raise NoTerminalError(
            f"{what} is passphrase-protected and there is no terminal to ask for its passphrase",
            hints=(
                "run the command in a terminal, or store the identity in the OS keyring once "
                "from one: secretsmgr key import FILE",
            ),
        ) from exc


class PluginCallbacks:
    """What an age plugin may ask of the user (pyrage's ``Callbacks``).

    pyrage cannot carry an exception out of a callback (it panics), so none of these raise: a
    question that cannot be asked gets no answer (None), and the plugin reports the failure.
    """

    def __init__(self, ask: Callable[[str, bool], str] | None = None) -> None:
        self._ask = ask or (lambda prompt, echo: _ask(prompt, echo=echo))

    def display_message(self, message: str) -> None:
        """A message from the plugin (``touch your key``): shown on stderr."""
        try:
            sys.stderr.write(f"secretsmgr: {message.strip()}\n")
            sys.stderr.flush()
        except Exception:  # a callback must never raise (see the class doc)
            return

    def confirm(self, message: str, yes_string: str, no_string: str | None) -> bool | None:
        """A yes/no question; None when it cannot be asked."""
        choices = yes_string if no_string is None else f"{yes_string}/{no_string}"
        try:
            answer = self._ask(f"secretsmgr: {message.strip()} [{choices}] ", True).strip()
        except Exception:  # a callback must never raise
            return None
        if answer == yes_string:
            return True
        if no_string is not None and answer == no_string:
            return False
        return None

    def request_public_string(self, description: str) -> str | None:
        """A value that is not secret (echoed); None when it cannot be asked."""
        try:
            return self._ask(f"secretsmgr: {description.strip()} ", True)
        except Exception:  # a callback must never raise
            return None

    def request_passphrase(self, description: str) -> str | None:
        """A secret value (echo off); None when it cannot be asked."""
        try:
            return self._ask(f"secretsmgr: {description.strip()} ", False)
        except Exception:  # a callback must never raise
            return None
