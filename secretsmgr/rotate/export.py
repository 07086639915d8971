"""``key export``: the ``sops-age`` Secret's entries, holding the cluster key(s) and no other.

The keys come from the one cluster-key source order every command follows
(``repository_keys``: ``--cluster-key`` > ``SECRETSMGR_CLUSTER_KEY`` > ``.secretsmgr.yaml`` >
the `.sops.yaml` rules), both of them while a rotation is under way. So that no line of repository
configuration can send an operator's key to the cluster, a private key leaves the machine only
when its identity is recorded as a cluster key where it is kept (made by ``key generate``,
``key rotate`` or ``init``, or marked ``# secretsmgr: cluster key`` in its file), or when the
operator, not the repository, named the key (``--cluster-key``, ``SECRETSMGR_CLUSTER_KEY``).
``key rotate`` sends its Secret under the same rule (``check_rotation_keys``), and the settings
refuse a ``next_cluster_key`` that is one of ``allowed_recipients``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from secretsmgr.errors import KeyNotFoundError, RefusedError
from secretsmgr.keys.age import CLUSTER_MARK
from secretsmgr.keys.bech32 import short_key
from secretsmgr.keys.manifest import entry_text
from secretsmgr.repo.repokeys import repository_keys
from secretsmgr.repo.settings import CLUSTER_KEY_ENV, SETTINGS_NAME, load_settings


class ClusterKeyHolder(Protocol):
    """The identities at hand, asked about one public key at a time."""

    def secret_for(self, public: str) -> str | None:
        """The ``AGE-SECRET-KEY-1…`` text for ``public``, or None."""
        ...

    def is_cluster_key(self, public: str) -> bool:
        """Whether that identity is recorded as a cluster key."""
        ...


@dataclass(frozen=True, slots=True)
class ExportedKey:
    """One entry of the Secret: its name, the public key, who named it, and the identity file."""

    entry: str
    public: str
    named_by: str
    text: str = field(repr=False)


def _named(
    root: Path,
    env: Mapping[str, str],
    cluster_key: str | None,
    on_note: Callable[[str], None] | None = None,
) -> tuple[list[tuple[str, str, str]], bool]:
    """((entry, public, named by) …, whether the operator named them); ``on_note`` hears which
    key a `.sops.yaml` rule naming several was taken as the cluster's."""
    settings = load_settings(root)
    if cluster_key is None and settings.next_cluster_key is not None:
        assert settings.cluster_key is not None  # the settings refuse next without current
        pair = [
            ("old.agekey", settings.cluster_key, "cluster_key"),
            ("new.agekey", settings.next_cluster_key, "next_cluster_key"),
        ]
        return pair, False
    resolved = repository_keys(root, env, cluster_key)
    if resolved is None:
        raise KeyNotFoundError(
            "no cluster key is known for this repository",
            hints=(f"set cluster_key in {SETTINGS_NAME}, or pass --cluster-key age1…",),
        )
    keys, source = resolved.keys, resolved.source
    for text in resolved.notes:
        if on_note is not None:
            on_note(text)
    names = ["age.agekey"] if len(keys) == 1 else [f"key{i}.agekey" for i in range(len(keys))]
    named = source in ("--cluster-key", CLUSTER_KEY_ENV)
    if source == SETTINGS_NAME:
        return [(n, k, "cluster_key") for n, k in zip(names, keys, strict=True)], named
    return [(n, k, source) for n, k in zip(names, keys, strict=True)], named


def _vet(
    identity: ClusterKeyHolder,
    public: str,
    named_by: str,
    *,
    by_operator: bool,
    name_it: str = "",
) -> str | None:
    """The key's private half, refused unless export's rules hold (see the module docstring).

    ``name_it``: the command by which the operator may name the key, for the hint. A key not
    held at all gives None.
    """
    shown = f"{short_key(public)} ({named_by})"
    secret = identity.secret_for(public)
    if secret is not None and not by_operator and not identity.is_cluster_key(public):
        named = f"if it is the cluster's key, name it: {name_it} --cluster-key {public}"
        raise RefusedError(
            f"refusing to export {shown}: its identity is not recorded as a cluster key",
            hints=(
                *((named,) if name_it else ()),
                f"{'or ' if name_it else ''}record it: add a line '{CLUSTER_MARK}' above it in "
                "its key file",
            ),
        )
    return secret


def export_keys(
    root: Path,
    identity: ClusterKeyHolder,
    env: Mapping[str, str],
    cluster_key: str | None = None,
    on_note: Callable[[str], None] | None = None,
) -> tuple[ExportedKey, ...]:
    """The Secret's entries for the repository at ``root``; see the module docstring."""
    named, by_operator = _named(root, env, cluster_key, on_note)
    out = []
    for entry, public, named_by in named:
        secret = _vet(
            identity,
            public,
            named_by,
            by_operator=by_operator,
            name_it="secretsmgr key export",
        )
        if secret is None:
            raise KeyNotFoundError(
                f"the private half of the cluster key {short_key(public)} ({named_by}) was not "
                "found",
                hints=(
                    "import it: secretsmgr key import FILE, or set SOPS_AGE_KEY_FILE",
                    "secretsmgr key show lists the keys found and where",
                ),
            )
        out.append(ExportedKey(entry, public, named_by, entry_text(secret, public)))
    return tuple(out)


def check_rotation_keys(
    root: Path, identity: ClusterKeyHolder, cluster_key: str | None, *, begin: bool
) -> None:
    """Before ``key rotate`` changes anything: the keys its Secret will hold pass export's rules.

    ``--begin`` sends the current key (``--cluster-key`` names it for the operator) and, when a
    rotation is pending, ``next_cluster_key``; ``--finish`` sends ``next_cluster_key``. A key
    not held is left to the step itself, which says what is missing.
    """
    settings = load_settings(root)
    if begin and cluster_key is not None and cluster_key.strip():
        _vet(identity, cluster_key.strip(), "--cluster-key", by_operator=True)
    elif begin and settings.cluster_key is not None:
        _vet(
            identity,
            settings.cluster_key,
            "cluster_key",
            by_operator=False,
            name_it="secretsmgr key rotate --begin",
        )
    if settings.next_cluster_key is not None:
        _vet(identity, settings.next_cluster_key, "next_cluster_key", by_operator=False)
