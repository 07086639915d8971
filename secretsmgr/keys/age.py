"""age recipients and identities through pyrage."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import pyrage
from pyrage import ssh, x25519

from secretsmgr.errors import ConfigError, FormatError
from secretsmgr.keys.bech32 import is_post_quantum, plugin_of_recipient, short_key

SECRET_PREFIX = "AGE-SECRET-KEY-1"
PQ_SECRET_PREFIX = "AGE-SECRET-KEY-PQ-1"
PLUGIN_PREFIX = "AGE-PLUGIN-"
# A comment line that records the identity on the next identity line as a cluster key (written
# by ``key generate``, ``key rotate --begin`` and ``init``); only such identities are exported.
CLUSTER_MARK = "# secretsmgr: cluster key"

# Bounds on an armored age file before pyrage reads it. pyrage 1.4.0 (rage's header parser)
# takes time quadratic in the header: 3 s for a 71 KB stanza, minutes for 0.5 MB, 2 s for
# 1,000 tiny stanzas. A sops data key needs one stanza (plus rage's grease stanza) of well under
# 2 KiB even for an 8192-bit ssh-rsa key or a post-quantum mlkem768 stanza; these bounds leave
# room for that and keep pyrage's worst case at a few tens of milliseconds.
AGE_ARMOR_MAX = 8 * 1024  # characters of the armored file (a sops ``enc``)
AGE_HEADER_MAX = 4 * 1024  # bytes of its header, version line to MAC line
AGE_STANZAS_MAX = 16
AGE_BODY_LINES_MAX = 24  # 64-column lines per stanza body: 1,152 bytes (ssh-rsa 8192: 1,024)
_BEGIN = "-----BEGIN AGE ENCRYPTED FILE-----"
_END = "-----END AGE ENCRYPTED FILE-----"
_VERSION_LINE = b"age-encryption.org/v1\n"
# One way to match each line (arguments are split by single spaces): linear time.
_ARG_LINE = re.compile(rb"-> [\x21-\x7e]+(?: [\x21-\x7e]+)*")
_BODY_LINE = re.compile(rb"[A-Za-z0-9+/]{0,64}")
_MAC_LINE = re.compile(rb"[A-Za-z0-9+/]{43}")


def _stanza_lines(header: list[bytes]) -> None:
    """Check the stanza lines of a header against the age v1 grammar and the bounds above."""
    count = 0
    i = 0
    while i < len(header):
        line = header[i]
        if not line.startswith(b"-> "):
            raise FormatError(f"age header line {i + 2} is not a stanza or the MAC line")
        count += 1
        if count > AGE_STANZAS_MAX:
            raise FormatError(f"age header has more than {AGE_STANZAS_MAX} stanzas")
        if not _ARG_LINE.fullmatch(line):
            raise FormatError(f"age stanza {count} has an empty or non-printable argument")
        i += 1
        for number in range(1, AGE_BODY_LINES_MAX + 2):
            if i >= len(header):
                raise FormatError(f"age stanza {count} has no final short body line")
            body = header[i]
            i += 1
            if number > AGE_BODY_LINES_MAX:
                raise FormatError(f"age stanza {count} has a body over {AGE_BODY_LINES_MAX} lines")
            if not _BODY_LINE.fullmatch(body):
                raise FormatError(f"age stanza {count} has a body line that is not base64")
            if len(body) < 64:
                break


def check_age_file(armored: str) -> None:
    """Refuse an armored age file that breaks the age v1 format or the bounds above.

    Runs in time linear in a bounded input, before pyrage sees the file. The message names
    the problem and never the file's content.
    """
    if len(armored) > AGE_ARMOR_MAX:
        raise FormatError(f"age file is larger than {AGE_ARMOR_MAX // 1024} KiB")
    text = armored.strip()
    lines = (text.replace("\r\n", "\n") if "\r" in text else text).split("\n")
    if len(lines) < 3 or lines[0] != _BEGIN or lines[-1] != _END:
        raise FormatError("not an ASCII-armored age file")
    body = lines[1:-1]
    if not set(map(len, body[:-1])) <= {64} or not 0 < len(body[-1]) <= 64:
        raise FormatError("age armor is not wrapped at 64 columns")
    try:
        binary = base64.b64decode("".join(body), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise FormatError("age armor is not valid base64") from exc
    if not binary.startswith(_VERSION_LINE):
        raise FormatError("not an age v1 file")
    mac_at = binary.find(b"\n--- ", 0, AGE_HEADER_MAX)
    if mac_at < 0:
        if len(binary) > AGE_HEADER_MAX:
            raise FormatError(f"age header is larger than {AGE_HEADER_MAX // 1024} KiB")
        raise FormatError("age header has no MAC line")
    mac_end = binary.find(b"\n", mac_at + 5)
    mac = binary[mac_at + 5 : mac_end]
    if mac_end < 0 or mac_end > AGE_HEADER_MAX or not _MAC_LINE.fullmatch(mac):
        raise FormatError("age header has a malformed MAC line")
    stanzas = binary[len(_VERSION_LINE) : mac_at].split(b"\n")
    if stanzas == [b""]:
        raise FormatError("age header has no stanza")
    _stanza_lines(stanzas)


# an OpenPGP v4 fingerprint (40 hex) or key id (16 hex), as .sops.yaml and sops name them
_PGP_FINGERPRINT = re.compile(r"^(?:0x)?(?:[0-9A-Fa-f]{16}|[0-9A-Fa-f]{40})$")


def canonical_recipient(text: str) -> str:
    """A recipient as sops and age write it: no blanks around it, and an ``age1…`` key given
    in Bech32's all-capital form in small letters (the write-side review of stop 53: a
    trailing space failed a rotation as "staged recipients differ from the plan", and
    ``AGE1…`` was written as it was given, then reported as a stranger)."""
    text = text.strip()
    if text.startswith("AGE1") and text == text.upper():
        return text.lower()
    return text


class AgeRecipient:
    """An ``age1…`` (or ``ssh-ed25519``/``ssh-rsa``, or an age plugin's ``age1NAME1…``) public
    key that wraps data keys. A plugin recipient's program is looked for on its first wrap."""

    __slots__ = ("_plugin", "_public", "_recipient")

    def __init__(self, public: str) -> None:
        public = public.strip()
        if public.upper().startswith("AGE-SECRET-KEY-"):
            raise ConfigError(
                "an age private key was given where a public key (age1…) belongs",
                hints=("derive the public key with: age-keygen -y KEYFILE",),
            )
        if is_post_quantum(public):
            raise ConfigError(
                f"post-quantum age recipient {short_key(public)}: pyrage, the age library "
                "secretsmgr uses, cannot encrypt to it",
                hints=("sops 3.11 can: sops encrypt, sops updatekeys and sops rotate",),
            )
        self._plugin = plugin_of_recipient(public)
        self._recipient: object = None
        try:
            if public.startswith(("ssh-ed25519 ", "ssh-rsa ")):
                self._recipient = ssh.Recipient.from_str(public)
            elif self._plugin is None:
                self._recipient = x25519.Recipient.from_str(public)
        except (pyrage.RecipientError, ValueError) as exc:
            # a templated .sops.yaml (sweep 74, 2zH/home-ops: `age: ${BOOTSTRAP_AGE_PUBLIC_KEY}`
            # in a folder of templates a bootstrap renders)
            variable = "${" in public or "{{" in public
            hints: tuple[str, ...] = ()
            if variable:
                hints = (
                    "it is a variable, not a key: the .sops.yaml that names it is a template, to "
                    "render before use; or name the key yourself: --age age1…",
                )
            elif _PGP_FINGERPRINT.match(public.replace(" ", "")):
                # sweep 95, SVendittelli/k3s-gitops: `--remove-recipient <PGP fingerprint>`
                hints = (
                    "it is an OpenPGP fingerprint, and only age recipients are written here; sops "
                    "adds or removes a PGP key: sops rotate -i --rm-pgp FINGERPRINT FILE (or "
                    "take it off the .sops.yaml rule, then sops updatekeys -y FILE)",
                )
            raise ConfigError(f"invalid age recipient {short_key(public)!r}", hints=hints) from exc
        self._public = public

    @property
    def public(self) -> str:
        """The recipient string."""
        return self._public

    def wrap(self, data: bytes) -> str:
        """Encrypt ``data`` to this recipient, ASCII-armored."""
        if self._recipient is None and self._plugin is not None:
            from secretsmgr.keys.plugin import plugin_recipient

            self._recipient = plugin_recipient(self._public, self._plugin)
        try:
            return bytes(pyrage.encrypt(data, [self._recipient], armored=True)).decode("ascii")
        except pyrage.EncryptError as exc:  # only a plugin's wrap fails: its program did
            if self._plugin is None:
                raise
            raise ConfigError(
                f"age-plugin-{self._plugin} could not wrap a data key for {short_key(self._public)}"
            ) from exc


@dataclass(frozen=True, slots=True)
class AgeIdentity:
    """One or more age identities tried together; ``publics`` lists their recipients.

    ``cluster`` holds the publics whose identity is recorded as a cluster key (a
    ``# secretsmgr: cluster key`` line above it, or the keyring entry's mark).
    """

    publics: tuple[str, ...]
    _identities: tuple[object, ...] = field(repr=False)
    source: str = ""
    cluster: frozenset[str] = frozenset()

    def is_cluster_key(self, public: str) -> bool:
        """Whether the identity of ``public`` is held here and recorded as a cluster key."""
        return public in self.cluster and public in self.publics

    def secret_for(self, public: str) -> str | None:
        """The ``AGE-SECRET-KEY-1…`` text of the identity whose recipient is ``public``.

        Only ``key export`` and ``key rotate`` call this, to build the cluster's Secret; the
        text must go nowhere but that manifest.
        """
        for pub, ident in zip(self.publics, self._identities, strict=True):
            if pub == public and isinstance(ident, x25519.Identity):
                return str(ident)
        return None

    def only(self, publics: Sequence[str]) -> AgeIdentity:
        """The subset of these identities whose recipients are in ``publics``."""
        pairs = [
            (p, i) for p, i in zip(self.publics, self._identities, strict=True) if p in publics
        ]
        kept = tuple(p for p, _ in pairs)
        return AgeIdentity(
            kept, tuple(i for _, i in pairs), self.source, self.cluster.intersection(kept)
        )

    def unwrap(self, armored: str) -> bytes | None:
        """Open an armored age file with any of the identities, or None.

        ``FormatError`` when the file breaks the age format or the bounds of
        ``check_age_file``: it never reaches pyrage then.
        """
        check_age_file(armored)
        try:
            return bytes(pyrage.decrypt(armored.encode("ascii"), list(self._identities)))
        except (pyrage.DecryptError, ValueError, UnicodeEncodeError):
            return None


def parse_identities(text: str, source: str) -> AgeIdentity:
    """Parse identity text (``keys.txt`` style); errors name the line, never its content."""
    publics: list[str] = []
    identities: list[object] = []
    cluster: set[str] = set()
    marked = False
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if line == CLUSTER_MARK:
            marked = True
            continue
        if not line or line.startswith("#"):
            continue
        if line.startswith(SECRET_PREFIX):
            try:
                ident = x25519.Identity.from_str(line)
            except (pyrage.IdentityError, ValueError) as exc:
                raise ConfigError(f"malformed identity on line {number} of {source}") from exc
            identities.append(ident)
            publics.append(str(ident.to_public()))
            if marked:
                cluster.add(publics[-1])
        elif line.startswith(PLUGIN_PREFIX):
            from secretsmgr.keys.plugin import plugin_identity

            public, ident = plugin_identity(line, f"line {number} of {source}")
            identities.append(ident)
            publics.append(public)
        elif line.startswith(PQ_SECRET_PREFIX):
            pass  # post-quantum identities are not supported in-process
        else:
            raise ConfigError(
                f"malformed identity on line {number} of {source}",
                hints=("identity files hold AGE-SECRET-KEY-1… lines; '#' starts a comment",),
            )
        marked = False
    return AgeIdentity(tuple(publics), tuple(identities), source, frozenset(cluster))


def merge_identities(parts: Iterable[AgeIdentity]) -> AgeIdentity:
    """One identity set holding every identity of ``parts``, duplicates dropped."""
    publics: list[str] = []
    identities: list[object] = []
    sources: list[str] = []
    cluster: set[str] = set()
    for part in parts:
        cluster |= part.cluster
        for public, ident in zip(part.publics, part._identities, strict=True):
            if public not in publics:
                publics.append(public)
                identities.append(ident)
        if part.source and part.source not in sources:
            sources.append(part.source)
    return AgeIdentity(tuple(publics), tuple(identities), ", ".join(sources), frozenset(cluster))


def generate_identity() -> tuple[str, str]:
    """A new X25519 identity: (secret ``AGE-SECRET-KEY-1…``, public ``age1…``)."""
    ident = x25519.Identity.generate()
    return str(ident), str(ident.to_public())
