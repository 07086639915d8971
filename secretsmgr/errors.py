"""The one exception tree of secretsmgr, and the exit code each branch maps to.

Lower layers raise these; only ``secretsmgr.cli.app`` turns them into messages and exit codes.
A message is one lowercase line without a final period and never holds a secret value,
a data key or a private key.
"""

from __future__ import annotations


class SecretsmgrError(Exception):
    """Base of every expected failure: exit 1 unless a subclass says otherwise."""

    exit_code: int = 1

    def __init__(self, message: str, *, hints: tuple[str, ...] | list[str] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.hints = tuple(hints)


class RefusedError(SecretsmgrError):
    """An operation was refused and nothing was changed (exit 1)."""


class FormatError(RefusedError):
    """A file is not valid SOPS/YAML/JSON/dotenv as secretsmgr reads it."""


class ClearValueError(FormatError):
    """A value where the file's rule writes ``ENC[…]`` is in clear (added by hand: SM003).

    ``key_path`` names it (mapping keys from the document root).
    """

    def __init__(
        self,
        message: str,
        *,
        hints: tuple[str, ...] | list[str] = (),
        key_path: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message, hints=hints)
        self.key_path = key_path


class TooLargeError(FormatError):
    """An input is larger than the stated limit for it (a parameter with a default; a flag may
    raise it)."""


class IntegrityError(RefusedError):
    """The MAC does not match or a value fails to authenticate: changed outside SOPS.

    ``key_path`` names the value that failed (mapping keys from the document root), or is
    None when the MAC itself failed.
    """

    def __init__(
        self,
        message: str,
        *,
        hints: tuple[str, ...] | list[str] = (),
        key_path: tuple[str, ...] | None = None,
    ) -> None:
        super().__init__(message, hints=hints)
        self.key_path = key_path


class DecryptionError(RefusedError):
    """The data key could not be recovered with the identities at hand."""


class AlreadyEncryptedError(RefusedError):
    """The input already carries SOPS metadata."""


class ChainError(RefusedError):
    """The changelog hash chain is broken."""


class BusyError(RefusedError):
    """Another secretsmgr holds the repository's write lock: about the repository, not a file."""


class RotationAbortedError(RefusedError):
    """A rotation stopped before its commit point; every file is as it was."""


class RotatedNotCommittedError(RefusedError):
    """A rotation passed its commit point (its changelog entry is on disk) and a later step
    failed (the git commit): the files are changed, and whatever they need must be kept."""


class UserError(SecretsmgrError):
    """Usage or configuration error (exit 2)."""

    exit_code = 2


class UsageError(UserError):
    """A flag or argument does not make sense."""


class ConfigError(UserError):
    """A malformed or missing configuration (.sops.yaml, .secretsmgr.yaml, Flux manifests)."""


class KeyNotFoundError(UserError):
    """No key (identity or cluster key) was found where one is needed."""


class InputFileError(UserError):
    """A file named on the command line is missing or unreadable."""


class ClusterError(UserError):
    """The Kubernetes API could not be used: kubeconfig, reachability, RBAC or a missing Secret."""


def about(path: str, exc: SecretsmgrError) -> SecretsmgrError:
    """The same error with ``path: `` in front of its message (hints kept)."""
    clone = type(exc)(f"{path}: {exc.message}", hints=exc.hints)
    for name, value in vars(exc).items():  # what a subclass adds (IntegrityError.key_path)
        if name not in ("message", "hints"):
            setattr(clone, name, value)
    clone.__cause__ = exc.__cause__
    return clone
