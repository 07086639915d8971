"""Values that stand for a secret filled in elsewhere, never a committed secret themselves.

A Flux post-build variable (``${VAR}``, ``${VAR:=default}``), a Helm/Go/Jinja template
(``{{ … }}``, ``{% … %}``), an angle-bracket placeholder (``<github_token>``), a secret-manager
reference (``op://vault/item/field`` for 1Password, ``ref+…`` for vals, ``vault:…``,
``secret://…`` and the like), or an empty string, which sops itself never encrypts.
"""

from __future__ import annotations

import re

_TEMPLATE = re.compile(r"\$\{[^}]*\}|\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)
_ANGLE = re.compile(r"^\s*<[^<>\s][^<>]*>\s*$")
# References a bootstrap tool resolves from a secret manager (1Password ``op inject``, vals,
# Vault, cloud secret managers, a ``secret://`` resolver): the repository holds the address, not
# the secret. 1Password vault and item names may hold spaces.
_REFERENCE = re.compile(
    r"^\s*(?:op://[^/\n]+/[^/\n]+/[^\n]+"
    r"|(?:secret|vault|awssm|gcpsm|azkv|bws|akv|infisical|doppler)://\S+"
    r"|ref\+[a-z0-9]+://\S+|vault:\S+)\s*$"
)


def is_placeholder(value: object) -> bool:
    """Whether ``value`` is a placeholder (or empty) rather than a literal secret."""
    if value is None:
        return True
    if not isinstance(value, str):
        return False
    if not value.strip():
        return True
    return bool(_TEMPLATE.search(value) or _ANGLE.match(value) or _REFERENCE.match(value))
