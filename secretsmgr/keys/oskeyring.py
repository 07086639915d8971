"""The OS keyring as an identity source (service ``secretsmgr``, username = the public key).

Through the ``keyring`` library: the Secret Service (gnome-keyring, KWallet) on Linux, Keychain
on macOS, Credential Locker on Windows. Three states are told apart, because they need
different answers:

* **absent** — no keyring backend at all (no D-Bus session, a headless CI runner, or
  ``PYTHON_KEYRING_BACKEND=keyring.backends.null.Keyring``): reading falls back to the other
  sources without a word; storing is an error with a hint.
* **locked** — a keyring exists but will not open: always an error with a hint.
* **broken** — a backend error (no collection, a D-Bus failure): an error naming its kind.

The ``keyring`` module is imported on first use only: it costs tens of milliseconds, and most
runs find their key in ``SOPS_AGE_KEY_FILE`` or ``keys.txt`` first.

An entry's secret is the ``AGE-SECRET-KEY-1…`` line, followed by a ``# secretsmgr: cluster key``
line when the identity is recorded as a cluster key (made by ``key generate``, ``key rotate``
or ``init``, or imported from a file that marks it so). The mark comes after the key, so the
entry still starts with the key, and sops reads it as an identity file (``SOPS_AGE_KEY``).
Entries written before the mark existed hold the key alone: they open files as before, and
``key export`` takes them only when the key is named with ``--cluster-key``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from secretsmgr.errors import ConfigError, KeyNotFoundError
from secretsmgr.keys.age import (
    CLUSTER_MARK,
    SECRET_PREFIX,
    AgeIdentity,
    merge_identities,
    parse_identities,
)
from secretsmgr.keys.bech32 import short_key

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend

SERVICE = "secretsmgr"
SOURCE_NAME = "OS keyring"
_LOCKED_HINT = (
    "unlock it (log in to the desktop session, or run: gnome-keyring-daemon --unlock), "
    "or give the key through SOPS_AGE_KEY_FILE"
)
_ABSENT_HINT = (
    "start a Secret Service (gnome-keyring, KWallet) in this session, or keep the key in a "
    "file (secretsmgr key generate -o FILE) and set SOPS_AGE_KEY_FILE to it"
)


class KeyringLockedError(KeyNotFoundError):
    """The keyring exists but is locked (exit 2)."""


class KeyringAbsentError(KeyNotFoundError):
    """No keyring backend is available here (exit 2 when one is needed)."""


def _is_absent(backend: object) -> bool:
    from keyring.backends import fail, null

    return isinstance(backend, fail.Keyring | null.Keyring)


def _translate(exc: Exception, doing: str) -> KeyNotFoundError:
    from keyring import errors

    if isinstance(exc, errors.KeyringLocked):
        return KeyringLockedError(
            f"the OS keyring is locked: cannot {doing}", hints=(_LOCKED_HINT,)
        )
    if isinstance(exc, errors.NoKeyringError):
        return KeyringAbsentError(
            f"no OS keyring is available: cannot {doing}", hints=(_ABSENT_HINT,)
        )
    if isinstance(exc, errors.InitError):
        # e.g. no default collection, and the prompt to create one could not be shown
        return KeyringLockedError(
            f"the OS keyring could not be opened ({type(exc).__name__}): cannot {doing}",
            hints=(_LOCKED_HINT,),
        )
    return KeyNotFoundError(
        f"the OS keyring failed ({type(exc).__name__}): cannot {doing}", hints=(_LOCKED_HINT,)
    )


@dataclass(slots=True)
class OsKeyring:
    """The keyring as secretsmgr uses it: list, load and store age identities."""

    service: str = SERVICE
    _backend: Any = None

    @property
    def name(self) -> str:
        """How ``key show`` and messages call this source."""
        return f"{SOURCE_NAME} (service {self.service})"

    def backend(self) -> KeyringBackend | None:
        """The active backend, or None when there is none (absent)."""
        if self._backend is None:
            import keyring
            from keyring import errors

            try:
                self._backend = keyring.get_keyring()
            except errors.KeyringError as exc:  # pragma: no cover - get_keyring rarely raises
                raise _translate(exc, "use it") from exc
        backend: KeyringBackend = self._backend
        return None if _is_absent(backend) else backend

    def backend_name(self) -> str:
        """The backend's class, for messages (``SecretService.Keyring``)."""
        backend = self.backend()
        if backend is None:
            return "none"
        cls = type(backend)
        return f"{cls.__module__.rsplit('.', 1)[-1]}.{cls.__name__}"

    def _entries(self, backend: KeyringBackend) -> list[tuple[str, str]]:
        """(username, secret) of every stored entry of the service."""
        from keyring.backends import SecretService

        if isinstance(backend, SecretService.Keyring):
            # The Secret Service can be searched by attribute: every identity is found, not
            # only the first one keyring's get_credential would return.
            from contextlib import closing

            service: Any = backend  # keyring's SecretService methods are untyped
            scheme = service.schemes[service.scheme]
            collection = service.get_preferred_collection()
            found: list[tuple[str, str]] = []
            with closing(collection.connection):
                for item in collection.search_items({scheme["service"]: self.service}):
                    service.unlock(item)
                    user = item.get_attributes().get(scheme["username"], "")
                    found.append((user, item.get_secret().decode("utf-8")))
            return found
        credential = backend.get_credential(self.service, None)
        if credential is None:
            return []
        return [(credential.username, credential.password)]

    def load(self) -> AgeIdentity | None:
        """Every identity stored under the service; None when there is no keyring at all."""

        backend = self.backend()
        if backend is None:
            return None
        try:
            entries = self._entries(backend)
        except Exception as exc:  # keyring's errors, and D-Bus errors it does not wrap
            raise _translate(exc, "read identities from it") from exc
        parts: list[AgeIdentity] = []
        for user, secret in sorted(entries):
            if not secret.strip().startswith(SECRET_PREFIX):
                continue  # not an age identity: not ours to interpret
            try:
                parsed = parse_identities(secret, f"{SOURCE_NAME} entry {user}")
            except ConfigError as exc:
                raise ConfigError(
                    f"{SOURCE_NAME} entry {user!r} of service {self.service} "
                    "is not a valid age identity",
                    hints=(f"remove it: secret-tool clear service {self.service} username {user}",),
                ) from exc
            if CLUSTER_MARK in (line.strip() for line in secret.splitlines()):
                parsed = AgeIdentity(
                    parsed.publics, parsed._identities, parsed.source, frozenset(parsed.publics)
                )
            parts.append(parsed)
        merged = merge_identities(parts)
        return AgeIdentity(merged.publics, merged._identities, self.name, merged.cluster)

    def store(self, secret: str, *, cluster: bool = False) -> tuple[str, bool]:
        """Store one ``AGE-SECRET-KEY-1…`` identity; (its public key, whether it was new).

        ``cluster`` records it as a cluster key (an entry already there gains the mark; the
        mark is never taken away). The entry is read back and compared before this returns, so
        a backend that silently drops writes is caught here, not at the next decrypt.
        """

        ident = parse_identities(secret, "the identity to store")
        if len(ident.publics) != 1 or ident.secret_for(ident.publics[0]) is None:
            raise ConfigError("exactly one identity can be stored at a time")
        public = ident.publics[0]
        key = ident.secret_for(public)
        assert key is not None
        backend = self.backend()
        if backend is None:
            raise KeyringAbsentError(
                "no OS keyring is available to store the identity in", hints=(_ABSENT_HINT,)
            )
        try:
            existing = backend.get_password(self.service, public)
            marked = existing is not None and CLUSTER_MARK in existing
            text = entry_text(key, cluster=cluster or marked)
            if existing is not None and existing.strip() == text.strip():
                return public, False
            backend.set_password(self.service, public, text)
            back = backend.get_password(self.service, public)
        except Exception as exc:  # keyring's errors, and D-Bus errors it does not wrap
            raise _translate(exc, "store the identity") from exc
        if back is None or back.strip() != text.strip():
            raise KeyNotFoundError(
                f"the OS keyring did not keep the identity for {short_key(public)}",
                hints=("check the keyring backend: secretsmgr key show",),
            )
        return public, existing is None

    def delete(self, public: str) -> None:
        """Remove the entry for ``public`` (an identity a failed step made); absent is fine."""
        from keyring import errors

        backend = self.backend()
        if backend is None:
            return
        try:
            backend.delete_password(self.service, public)
        except errors.PasswordDeleteError:
            return
        except errors.KeyringError as exc:
            raise _translate(exc, "remove the identity") from exc


def entry_text(key: str, *, cluster: bool) -> str:
    """The secret of a keyring entry: the key, then the cluster-key mark when recorded."""
    return f"{key.strip()}\n{CLUSTER_MARK}" if cluster else key.strip()


def keyring_absent() -> bool:
    """Whether no OS keyring backend is available here (one that fails to open counts as
    there: its own error says why)."""
    from secretsmgr.errors import UserError

    try:
        return keyring_source().backend() is None
    except UserError:
        return False


def keyring_source() -> OsKeyring:
    """The keyring source of the contract's chain."""
    return OsKeyring()
