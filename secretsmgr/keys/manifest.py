"""The ``sops-age`` Secret manifest Flux decrypts with (pure text, no I/O)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from secretsmgr.errors import UsageError

# Kubernetes object names: DNS-1123 subdomain; namespaces: DNS-1123 label.
_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_ENTRY = re.compile(r"[-._a-zA-Z0-9]+\.agekey")
# the entries of a cluster-key rotation's overlap (``key rotate --begin``): the old key and the
# new one, replaced by ``age.agekey`` at ``--finish``
OVERLAP_ENTRIES = ("old.agekey", "new.agekey")


def check_names(namespace: str, name: str) -> None:
    """Refuse names the API server would refuse, before anything is generated or sent."""
    if len(namespace) > 63 or not _LABEL.fullmatch(namespace):
        raise UsageError(f"invalid namespace {namespace!r} (lowercase letters, digits and '-')")
    if len(name) > 253 or not _SUBDOMAIN.fullmatch(name):
        raise UsageError(f"invalid Secret name {name!r} (lowercase letters, digits, '-' and '.')")


def entry_text(secret: str, public: str) -> str:
    """One ``*.agekey`` entry: an age identity file (a comment naming the public key)."""
    return f"# public key: {public}\n{secret.strip()}\n"


def secret_manifest(namespace: str, name: str, entries: Sequence[tuple[str, str]]) -> str:
    """The Secret as YAML: ``stringData`` with one ``<entry>.agekey`` per (entry, text) pair."""
    check_names(namespace, name)
    lines = [
        "# Flux's SOPS decryption key (age identities), written by secretsmgr.",
        "# It holds a private key: apply it to the cluster and never commit it.",
        "apiVersion: v1",
        "kind: Secret",
        "metadata:",
        f"  name: {name}",
        f"  namespace: {namespace}",
        "type: Opaque",
        "stringData:",
    ]
    for entry, text in entries:
        if not _ENTRY.fullmatch(entry):
            raise UsageError(f"invalid Secret entry name {entry!r} (must end in .agekey)")
        lines.append(f"  {entry}: |")
        lines.extend(f"    {line}" for line in text.strip("\n").split("\n"))
    return "\n".join(lines) + "\n"
