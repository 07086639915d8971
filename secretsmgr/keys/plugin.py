"""age plugin identities (``AGE-PLUGIN-NAME-1…``) and recipients (``age1NAME1…``) through the
age plugin protocol.

pyrage speaks the protocol (``pyrage.plugin.IdentityPluginV1``, ``RecipientPluginV1``): it runs
``age-plugin-NAME`` from ``PATH`` when a file key is to be unwrapped or wrapped, as age and sops
do. Wrapping to a YubiKey's recipient needs the plugin program, never the key itself. The
plugin's questions (a PIN, a touch) go through ``keys.terminal``.

A plugin identity has no public key secretsmgr can compute, so it is listed under a stand-in
(``age-plugin-NAME identity …abcd``, the last characters of its checksum), never its text.
"""

from __future__ import annotations

import shutil

import pyrage

from secretsmgr.errors import ConfigError


def plugin_binary(name: str) -> str:
    """The program age runs for the plugin ``name``."""
    return f"age-plugin-{name}"


def _require(binary: str, what: str, hint: str) -> None:
    """A ``ConfigError`` when ``binary`` is not on ``PATH``: ``what`` needs it."""
    if shutil.which(binary) is None:
        raise ConfigError(
            f"{what} needs {binary}, which is not on PATH",
            hints=(f"install {binary} (or put it on PATH){hint}",),
        )


def plugin_identity(line: str, where: str) -> tuple[str, object]:
    """(stand-in public, pyrage identity) for one ``AGE-PLUGIN-…`` line.

    A missing plugin program is an error naming it; the line itself is never shown.
    """
    from secretsmgr.keys.terminal import PluginCallbacks

    try:
        ident = pyrage.plugin.Identity.from_str(line.strip())
    except (pyrage.IdentityError, ValueError) as exc:
        raise ConfigError(f"malformed age plugin identity on {where}") from exc
    name = str(ident.plugin())
    binary = plugin_binary(name)
    _require(binary, f"the age plugin identity on {where}", ", or remove that line")
    try:
        plugin = pyrage.plugin.IdentityPluginV1(name, [ident], PluginCallbacks())
    except (pyrage.DecryptError, ValueError) as exc:
        raise ConfigError(f"cannot start {binary} for the identity on {where}") from exc
    return f"{binary} identity …{line.strip()[-4:].lower()}", plugin


def plugin_recipient(public: str, name: str) -> object:
    """The pyrage recipient that wraps data keys for ``public`` through ``age-plugin-NAME``.

    A missing plugin program is an error naming it and the recipient (shortened).
    """
    from secretsmgr.keys.bech32 import short_key
    from secretsmgr.keys.terminal import PluginCallbacks

    binary = plugin_binary(name)
    _require(binary, f"age plugin recipient {short_key(public)}", ": it wraps data keys for it")
    try:
        recipient = pyrage.plugin.Recipient.from_str(public)
        return pyrage.plugin.RecipientPluginV1(name, [recipient], [], PluginCallbacks())
    except (pyrage.RecipientError, pyrage.EncryptError, ValueError) as exc:
        raise ConfigError(f"invalid age plugin recipient {short_key(public)!r}") from exc
