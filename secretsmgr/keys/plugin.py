"""age plugin identities (``AGE-PLUGIN-NAME-1…``) through the age plugin protocol.

pyrage speaks the protocol (``pyrage.plugin.IdentityPluginV1``): it runs ``age-plugin-NAME``
from ``PATH`` when a file key is to be unwrapped and hands it the stanzas, as age and sops do.
The plugin's questions (a PIN, a touch) go through ``keys.terminal``.

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
    if shutil.which(binary) is None:
        raise ConfigError(
            f"the age plugin identity on {where} needs {binary}, which is not on PATH",
            hints=(f"install {binary} (or put it on PATH), or remove that line",),
        )
    try:
        plugin = pyrage.plugin.IdentityPluginV1(name, [ident], PluginCallbacks())
    except (pyrage.DecryptError, ValueError) as exc:
        raise ConfigError(f"cannot start {binary} for the identity on {where}") from exc
    return f"{binary} identity …{line.strip()[-4:].lower()}", plugin
