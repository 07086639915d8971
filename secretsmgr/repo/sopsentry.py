"""One SOPS file as the repository holds it: how a file is recognised as SOPS (its name or its
metadata), read without any key, and summarised for the rules and the writers (``SopsEntry``).

``inventory.py`` reads every file of a repository through ``read_sops_entry``.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import posixpath
import re
import tomllib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace

from secretsmgr.errors import FormatError
from secretsmgr.keys.pem import public_blocks_parse
from secretsmgr.repo.placeholders import (
    API_KEY_NAME,
    PRIVATE_KEY_BLOCK,
    URL_PASSWORD,
    about_secret,
    has_template,
    holds_literal_secret,
    is_credential_skeleton,
    is_envsubst_name,
    is_placeholder,
    is_plain_setting,
    is_setting_value,
    looks_like_token,
    named_public_key,
    names_sensitive,
    network_address,
    setting_name,
    split_camel,
    ssh_public_keys,
    stand_in_words,
    strip_templates,
)
from secretsmgr.repo.sopsconfig import SOPS_CONFIG_NAME, CreationRule
from secretsmgr.sops.document import (
    FileFormat,
    SopsFile,
    copy_store,
    has_metadata,
    load,
    parse_documents,
)
from secretsmgr.sops.encvalue import is_enc, parse_enc
from secretsmgr.sops.metadata import SOPS_KEY, parse_metadata
from secretsmgr.sops.model import EncryptionRule, RuleKind
from secretsmgr.sops.rules import encrypted_leaves, iter_leaves
from secretsmgr.sops.tree import MapNode, Node, SeqNode
from secretsmgr.sops.tree import Path as KeyPath
from secretsmgr.sops.values import Comment
from secretsmgr.sops.yamlio import safe_load_all

# ``*.enc.*`` and ``*.sops.*`` in every store this reads (YAML, JSON, dotenv, INI).
NAMED_SOPS_SUFFIXES = tuple(
    f".{word}.{ext}" for word in ("enc", "sops") for ext in ("yaml", "yml", "json", "env", "ini")
)
DECRYPT_ANNOTATION = "kustomize.toolkit.fluxcd.io/decrypt"

_FORMATS = {
    ".yaml": FileFormat.YAML,
    ".yml": FileFormat.YAML,
    ".json": FileFormat.JSON,
    ".ini": FileFormat.INI,
}
_DOTENV_SUFFIX = ".env"
# A top-level ``sops`` key (YAML, JSON), flattened ``sops_`` metadata (dotenv) or a ``[sops]``
# section (INI).
SOPS_HINT = {
    FileFormat.YAML: re.compile(rb"^sops:", re.MULTILINE),
    FileFormat.JSON: re.compile(rb'"sops"\s*:'),
    FileFormat.DOTENV: re.compile(rb"^sops_(?:mac|version)=", re.MULTILINE),
    FileFormat.INI: re.compile(rb"^[ \t]*\[sops\]", re.MULTILINE),
}
# What Flux's kustomize-controller looks for before decrypting a generator or patch file (for
# INI, only that the bytes hold ``[sops]``).
FLUX_MARKERS = {
    FileFormat.YAML: b"mac: ENC[",
    FileFormat.JSON: b'"mac": "ENC[',
    FileFormat.DOTENV: b"sops_mac=ENC[",
    FileFormat.INI: b"[sops]",
}
# A SOPS file saved as UTF-16 with a byte-order mark (Windows PowerShell 5's `>` writes so):
# sops reads it, secretsmgr reads UTF-8 only (SM006 names the re-encoding)
UTF16_ERROR = "UTF-16 text (a byte-order mark), not UTF-8"
# The stores whose one document is read whole by ``load`` (metadata flattened into it).
_FLAT_STORES = (FileFormat.DOTENV, FileFormat.INI)


@dataclass(frozen=True, slots=True, eq=False)
class SopsEntry:
    """One SOPS file: named like one, or carrying SOPS metadata.

    ``sops_file`` is None when the file has no metadata (SM002) or when it cannot be read as
    SOPS (``error`` says why, SM006). Key paths are dotted (``stringData.password``).
    """

    path: str
    format: FileFormat
    size: int
    named: bool
    has_metadata: bool
    sops_file: SopsFile | None = field(default=None, repr=False)
    error: str | None = None
    plaintext_leaves: tuple[str, ...] = ()
    malformed_leaves: tuple[str, ...] = ()
    bare_documents: tuple[int, ...] = ()
    decrypt_disabled: bool = False
    has_flux_marker: bool = True
    sops_config: str | None = None
    creation_rule: CreationRule | None = None
    creation_rule_number: int | None = None
    text: str = field(default="", repr=False)  # the file as read, for writers (rotation)
    sha256: str = ""  # of the file's bytes: what a changelog entry's sha256_after must match
    # Named like a SOPS file, no metadata, and every value it would encrypt is a placeholder
    # (``${VAR}``, ``{{ … }}``, ``<token>``, empty): an envsubst or Jinja template.
    template: bool = False
    # Named like a SOPS file, no metadata: every document a Bitnami SealedSecret, whose
    # ``spec.encryptedData`` is the sealed-secrets controller's ciphertext (no value in clear)
    sealed: bool = False
    # Named like a SOPS file, no metadata, and no item at all (an empty file, comments only)
    empty: bool = False
    blank: bool = False  # and not even a comment: no byte but white space
    # Named like a SOPS file, no metadata: a sops configuration (``creation_rules:``) that
    # ``sops --config FILE`` reads (0x4272616E646F6E/homelab's docs/k8s.sops.yaml)
    config_file: bool = False
    # Named like a SOPS file, no metadata: its creation rule would encrypt none of its values
    # (``encrypt`` refuses it; a rule of its own comes first)
    encrypts_none: bool = False
    # The store sops reads the file in, when it is not the one ``format`` names: ``binary`` for
    # a binary-store file (read here as the JSON object it is encrypted to)
    store: str | None = None
    # Named like a SOPS file, no metadata, yet ``ENC[…]`` values: its ``sops`` block was lost
    # (the values are ciphertext no key opens without the data key it held)
    lost_metadata: bool = False
    # Key paths of the secrets it holds in clear (``exposed_value``): every such value of a file
    # named like a SOPS file with no metadata, the plaintext leaves' of a SOPS file; git keeps
    # them readable once committed (SM019 in history)
    exposed_leaves: tuple[str, ...] = ()

    @property
    def is_valid(self) -> bool:
        """Whether the file parsed as SOPS (metadata and documents)."""
        return self.sops_file is not None


def is_named_sops(path: str) -> bool:
    """Whether the file name says SOPS (``*.enc.yaml``, ``*.sops.env`` …): a name before the
    suffix, so never ``.sops.yaml`` itself (nor a misnamed ``.sops.yml`` config)."""
    name = posixpath.basename(path)
    return name != SOPS_CONFIG_NAME and any(
        name.endswith(suffix) and len(name) > len(suffix) for suffix in NAMED_SOPS_SUFFIXES
    )


# Named like a SOPS file in a store secretsmgr does not pick by extension: sops's binary store
# (``*.sops``, ``*.sops.sh``, ``*.sops.pem``), or a copy of a text store's file under another
# last extension (``config.sops.yaml.disabled``, ``db.enc.json.bak``). ``.enc.`` alone says
# little (``notes.enc.md``, openssl's ``*.enc``), and a template (``*.sops.yaml.j2``) or an
# example is no secret; a ``.sops.yaml`` config copy is never one.
_BINARY_NAME = re.compile(r"(?i)[^/]+\.sops(?:\.[^./]+)?")
_NOT_SECRETS = frozenset(
    {
        # templates, examples and docs
        *("j2", "jinja", "jinja2", "tmpl", "tpl", "template", "gotmpl", "erb", "example"),
        *("sample", "dist", "in", "md", "rst", "txt"),
        # encrypted, compressed, signed or checksummed some other way; public keys; editor junk
        *("asc", "gpg", "pgp", "age", "gz", "tgz", "zip", "bz2", "xz", "zst", "7z"),
        *("sig", "sha1", "sha256", "sha512", "md5", "pub", "swp", "swo", "lock"),
    }
)
_SOPS_TRACE = re.compile(rb"ENC\[AES256_GCM,|\bsops\b")


def named_other_store(path: str) -> FileFormat | str | None:
    """The store an ``is_named_other`` file would be in: a text store, ``"binary"``, or None."""
    name = posixpath.basename(path)
    lower = name.lower()
    if lower.startswith(".sops.") or is_named_sops(path) or structured_format(path) is not None:
        return None
    if lower.rpartition(".")[2] in _NOT_SECRETS:
        return None
    return copy_store(name) or ("binary" if _BINARY_NAME.fullmatch(name) else None)


def binary_entry(entry: SopsEntry) -> SopsEntry:
    """``entry``, read as JSON, as the binary-store file it is: sops always encrypts its one
    value, whatever rule its metadata records, so ``data`` in clear is a plaintext leak."""
    sf = entry.sops_file
    data = sf.docs[0].get("data") if sf is not None and sf.docs else None
    plain = ("data",) if isinstance(data, str) and data and not is_enc(data) else ()
    return replace(entry, store="binary", plaintext_leaves=plain or entry.plaintext_leaves)


def is_named_other(path: str) -> bool:
    """Whether the name says SOPS in a store not picked here by extension (``*.sops``,
    ``*.sops.sh``, ``x.sops.yaml.disabled``; not ``*.sops.yaml.j2``, ``notes.enc.md``)."""
    return named_other_store(path) is not None


def named_other_entry(
    path: str,
    data: bytes,
    rule: tuple[str | None, CreationRule | None, int | None] = (None, None, None),
) -> SopsEntry | None:
    """The entry of an ``is_named_other`` file that is not a binary-store SOPS file: read in the
    text store its name carries (``x.sops.yaml.disabled``); a file with no trace of SOPS is
    plaintext under a SOPS name (SM002); anything else, in no store read here, is left out."""
    store = named_other_store(path)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return None  # no SOPS file is binary: some other tool's file (an archive, a keystore)
    if isinstance(store, FileFormat):
        return read_sops_entry(path, data, store, rule, named=True)
    if store is None or _SOPS_TRACE.search(data):
        return None
    return SopsEntry(
        path=path,
        format=FileFormat.YAML,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        named=True,
        has_metadata=False,
        has_flux_marker=False,
        sops_config=rule[0],
        creation_rule=rule[1],
        creation_rule_number=rule[2],
        template=_binary_template(path, data),
        empty=not data.strip(),
        blank=not data.strip(),
        store="binary",
    )


def structured_format(path: str) -> FileFormat | None:
    """The store of a YAML/JSON/dotenv/INI file by extension (in any case: content is what
    Flux and kustomize read), or None for anything else; YAML for a kustomization file named
    ``Kustomization`` (the attack review of stop 51: its secretGenerator literals passed)."""
    base = posixpath.basename(path)
    if base == "Kustomization":  # kustomize's third name for kustomization.yaml: YAML
        return FileFormat.YAML
    name = base.lower()
    if name.endswith(_DOTENV_SUFFIX):
        return FileFormat.DOTENV
    return _FORMATS.get(posixpath.splitext(name)[1])


def dotted(path: KeyPath) -> str | None:
    """A key path as ``a.b.c``; None for the top level."""
    return ".".join(path) if path else None


def secret_text(key_path: str, value: object) -> str | None:
    """The text a Secret value hands out: a ``stringData`` string as it is, a ``data`` value
    decoded from base64 (None when it is no base64 of UTF-8 text, or no string)."""
    if not isinstance(value, str):
        return None
    if not key_path.startswith("data."):
        return value
    try:
        return base64.b64decode("".join(value.split()), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None


def _decrypt_disabled(tree: MapNode) -> bool:
    meta = tree.get("metadata")
    annotations = meta.get("annotations") if isinstance(meta, MapNode) else None
    value = annotations.get(DECRYPT_ANNOTATION) if isinstance(annotations, MapNode) else None
    return isinstance(value, str) and value.strip().lower() == "disabled"


def _scan_leaves(sf: SopsFile) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """Dotted paths of values the file's own rule encrypts that are plain (SM003), of those
    the ones that are secrets once readable in git (``exposed_value``), and of broken ENC."""
    plain: dict[str, None] = {}
    exposed: dict[str, None] = {}
    broken: dict[str, None] = {}
    rule = sf.metadata.rule
    for tree in sf.docs:
        secret = tree.get("kind") == "Secret"
        for path, leaf in encrypted_leaves(tree, rule):
            if isinstance(leaf, Comment):
                # a comment's ENC[…] that does not parse is kept as it is by sops (a warning:
                # "possibly unencrypted comment") and by secretsmgr: no broken value (sweep 65,
                # ZeiZel/self-hosted: two comments without tag: were an SM006 error)
                continue
            if leaf is None or leaf == "":
                continue  # sops leaves empty strings and nulls as they are
            if isinstance(leaf, str) and leaf.startswith("ENC["):
                try:
                    parse_enc(leaf)
                except FormatError:
                    broken[dotted(path) or "(top level)"] = None
            elif not is_placeholder(leaf):
                plain[dotted(path) or "(top level)"] = None
                named = [str(p) for p in path if isinstance(p, str)]
                # a Secret's value is a secret whatever it looks like, as SM001 judges it (the
                # second review: ``ADMIN: hunter2`` added in clear was no exposure)
                in_secret = secret and bool(path) and path[0] in ("data", "stringData")
                if in_secret or (path and exposed_value(named[-1] if named else "", leaf)):
                    exposed[dotted(path) or "(top level)"] = None
    return tuple(plain), tuple(exposed), tuple(broken)


_SECRET_VALUES = EncryptionRule(RuleKind.ENCRYPTED_REGEX, "^(data|stringData)$")
_TEMPLATE_SYNTAX = re.compile(
    rb"\{\{[^{}\n]{0,2048}\}\}|\{%[^{}\n]{0,2048}%\}"
)  # linear on a long line
_SHELL_VARIABLE = re.compile(rb"\$\{[A-Za-z_][A-Za-z0-9_]*\}")
STRUCTURE = frozenset({"apiVersion", "kind", "metadata", "type"})  # never a secret value


# A mapping that points at a secret kept elsewhere: cert-manager's ``apiTokenSecretRef``, a
# container's ``secretKeyRef``, a ``keySelector``; its ``key`` and ``name`` name an entry and a
# Secret, never hold one (its other fields are judged: ``smtpAuthRef.password``, the review)
_REFERENCE = re.compile(r"(?i)(?:ref|selector)$")


def _clear_leaves(
    docs: Sequence[Node], rule: EncryptionRule
) -> list[tuple[str, str, object, bool]]:
    """(key path, key it is judged under, value, in a Secret's data) of every value ``rule``
    leaves in clear, when it encrypts no value of ``docs`` at all (a Kubernetes object's
    apiVersion, kind, metadata and type aside, as are empty values and placeholders); empty
    when it encrypts one. A secret reference's fields are judged as settings (key ``""``)."""
    clear: list[tuple[str, str, object, bool]] = []
    for doc in docs:
        manifest = isinstance(doc, MapNode) and doc.has("apiVersion") and doc.has("kind")
        secret = manifest and isinstance(doc, MapNode) and doc.get("kind") == "Secret"
        for path, leaf, encrypted in iter_leaves(doc, rule):
            if isinstance(leaf, Comment):
                continue
            if encrypted:
                return []
            if not path or (manifest and path[0] in STRUCTURE):
                continue
            if leaf is None or leaf == "" or (isinstance(leaf, str) and is_placeholder(leaf)):
                continue
            named = [str(p) for p in path if isinstance(p, str)]
            key = named[-1] if named else ""
            if len(named) >= 2 and key in ("key", "name") and _REFERENCE.search(named[-2]):
                key = ""  # sweep 22, mebezac: `key: api-token` was a secret for its key
            in_secret = secret and path[0] in ("data", "stringData")
            clear.append((".".join(str(part) for part in path), key, leaf, in_secret))
    return clear


def values_left_clear(docs: Sequence[Node], rule: EncryptionRule) -> list[str] | None:
    """When ``rule`` encrypts no value of ``docs`` at all, the key paths of the values it
    leaves in clear (see ``_clear_leaves``); None when it encrypts one, or there is none."""
    return [path for path, _key, _leaf, _secret in _clear_leaves(docs, rule)] or None


def clear_secrets(docs: Sequence[Node], rule: EncryptionRule) -> tuple[str, ...]:
    """Key paths of the secrets among the values a rule that encrypts nothing leaves in clear
    under a ``sops:`` block: every value of a Secret's data, as SM001 counts them (the review:
    ``stringData.ADMIN: hunter2`` under ``^data$`` passed), else ``exposed_value`` (sweep 20,
    kaminek/infrastructure: a ``CLOUDFLARE_API_KEY`` file encrypted under a Secret's
    ``^(data|stringData)$`` rule kept the token in clear, a warning that ``check`` passed and
    history never counted)."""
    clear = _clear_leaves(docs, rule)
    if not clear:
        return ()
    found = [
        path for path, key, leaf, in_secret in clear if in_secret or _strictly_exposed(key, leaf)
    ]
    # an env entry's value judged under its name (the review: `- {name: DB_PASSWORD, value:
    # hunter2x}` was judged under `value`)
    found += [path for doc in docs for path in _env_secrets(doc, "")]
    return tuple(dict.fromkeys(found))


def _env_secrets(node: Node, prefix: str) -> Iterator[str]:
    """Key paths (list indexes left out, as sops's are) of ``value`` in ``{name, value}``
    entries below ``node`` whose value is a secret under its name."""
    if isinstance(node, MapNode):
        name, value = node.get("name"), node.get("value")
        if isinstance(name, str) and isinstance(value, str) and exposed_value(name, value):
            yield f"{prefix}value"
        for item in node.items:
            if not isinstance(item, Comment) and isinstance(item[1], MapNode | SeqNode):
                yield from _env_secrets(item[1], f"{prefix}{item[0]}.")
    elif isinstance(node, SeqNode):
        for element in node.items:
            if isinstance(element, MapNode | SeqNode):
                yield from _env_secrets(element, prefix)


# What anyone may read: an SSH or age public key, a certificate, a content digest (the second
# review: ``ssh_public_key`` and ``image_digest`` were exposures)
_PUBLIC = re.compile(
    r"^\s*(?:age1[02-9ac-hj-np-z]{58}\s*$|(?:sha256|sha384|sha512):[0-9a-f]{32,128}\s*$)"
)


def _public(value: str) -> bool:
    """A public value, also base64 of a certificate (a Talos secrets file's ``certs.*.crt``),
    and OpenSSH public key lines (``authorized_keys``, ``known_hosts``)."""
    if _PUBLIC.match(value) or ssh_public_keys(value):
        return True
    if value.lstrip().startswith("-----BEGIN "):
        # PEM blocks alone, each what its label says (the attack review: a private key after
        # a certificate, or a password under its label, was public here)
        return public_blocks_parse(value)
    if len(value) < 40 or not _BASE64.fullmatch(value.strip()):
        return False
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("ascii")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return False
    if ssh_public_keys(decoded):
        return True  # base64 of an identity.pub or a known_hosts (sweep 85, samip5/k8s-cluster)
    return decoded.lstrip().startswith("-----BEGIN ") and public_blocks_parse(decoded)


_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")


# A webhook whose URL is the credential: Slack's and Discord's
_SECRET_WEBHOOK = re.compile(
    r"hooks\.slack\.com/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]{16,}"
    r"|discord(?:app)?\.com/api/webhooks/\d{16,20}/[\w-]{40,}"
)
_MAX_EMBEDDED = 256 * 1024


# tokens a service marks by a prefix (GitHub, GitLab, Slack, AWS, OpenAI/Stripe, Vault, npm)
_PREFIXED_TOKEN = re.compile(
    r"(?<![A-Za-z0-9])(?:gh[pousr]_|github_pat_|glpat-|xox[abposr]-|AKIA|ASIA|sk-|sk_live_|"
    r"hv[sbr]\.|npm_|pypi-|AIza|SG\.|dop_v1_|glsa_|xapp-|rk_live_|hf_|pul-|shpat_|"
    r"AGE-SECRET-KEY-(?:PQ-)?1)[A-Za-z0-9_.-]{16,}"
    # base64 of a JSON object: a JWT, a cloudflared tunnel token (1Solon's, in a Deployment's
    # args; the regression run of sweep 22's change lost it)
    r"|(?<![A-Za-z0-9])eyJ[A-Za-z0-9_-]{30,}"
    r"|(?<![0-9])[0-9]{8,10}:[A-Za-z0-9_-]{35}(?![A-Za-z0-9_-])"  # a Telegram bot token
)


def _strictly_exposed(key: str, value: object) -> bool:
    """``exposed_value`` for a leaf nobody chose to encrypt (of a config kept as text, or of a
    file whose rule encrypts nothing): under a key that names no secret, only a form that is one
    by itself (a URL password, a private key, a webhook, a prefixed token) counts; model
    numbers, kinds, udev rules (sweep 21), image references, API versions and a tunnel's
    UUID host name (sweep 22: Jdavid77's Talos config, mebezac's DNSEndpoint) read as tokens by
    their look."""
    if names_sensitive(key) or not isinstance(value, str) or API_KEY_NAME.fullmatch(key):
        return exposed_value(key, value)
    if "\n" in value.strip() and len(value) <= _MAX_EMBEDDED:
        leaves = _embedded_leaves(value)
        if leaves is not None:  # a config kept as text: its own leaves (the review of sweep 22)
            return any(_strictly_exposed(k, v) for k, v in leaves)
    if "ENC[" in value:  # SOPS ciphertext is none, whatever its look (drag0n141's k8s-m01)
        value = _ENC_RUN.sub("ENC[]", value)
        if not value.replace("ENC[]", "").strip():
            return False
    return bool(
        URL_PASSWORD.search(value)
        or PRIVATE_KEY_BLOCK.search(value)
        or _SECRET_WEBHOOK.search(value)
        or _PREFIXED_TOKEN.search(value)
        # ``--db-password=…`` in args, ``Password=…;`` in a connection string
        or holds_literal_secret(value)
        or any(
            not is_placeholder(m["v"]) and not _REFERENCE_VALUE.match(m["v"])
            for m in _CONNECTION_PASSWORD.finditer(value)
        )
        # a generated key or token (mixed case and digits), never a certificate, nor an id
        # under a key that says so (sweep 74, MTRNord/cluster: an OIDC `clientID`, which the
        # login page hands out, was "a secret")
        or (_generated(value) and not _public(value) and not _ID_KEY.search(split_camel(key)))
    )


_ID_KEY = re.compile(r"(?i)(?:^|[._-])(?:id|uid|uuid)$")


# A run a generated key or token is made of (no ``/``: a path's words are no token)
_RANDOM_RUN = re.compile(r"[A-Za-z0-9+_=-]{16,}")


def _generated(value: str) -> bool:
    """Whether ``value`` holds a run of 16 or more characters that itself mixes upper case,
    lower case and digits, variables taken out (the regression run: a Talos image's hex digest
    beside ``${TALOS_VERSION}`` read as one)."""
    text = strip_templates(value) if has_template(value) else value
    return any(
        re.search("[a-z]", run) and re.search("[A-Z]", run) and re.search("[0-9]", run)
        for run in _RANDOM_RUN.findall(text)
    )


# ``Password=…`` (or ``Pwd=``) in an ADO.NET or ODBC connection string, after a ``;`` or at
# its start (the review of sweep 22; the second review: a shell's ``PWD=/opt/app`` is none)
_CONNECTION_PASSWORD = re.compile(
    r"(?i)(?:^|;)\s*[\"']?(?:password|pwd|passwd)\s*=\s*(?P<v>[^;\s\"']{4,})"
)
# Kubernetes' ``$(VAR)`` and Windows' ``%VAR%``: a variable the program fills in
_REFERENCE_VALUE = re.compile(r"^(?:\$\([A-Za-z_][A-Za-z0-9_]*\)|%[A-Za-z_][A-Za-z0-9_]*%)$")


def _embedded_leaves(text: str) -> list[tuple[str, object]] | None:
    """(last key, value) of every scalar of ``text`` read as YAML mappings, or None when it is
    no such document (prose, a script, a PEM block, a parse error)."""
    try:
        docs = safe_load_all(text)
    except (FormatError, RecursionError):
        return None
    if not docs or not all(isinstance(d, dict) for d in docs):
        return None
    out: list[tuple[str, object]] = []

    def walk(node: object, key: str, depth: int) -> None:
        if depth > 32:
            return
        if isinstance(node, dict):
            name, value = node.get("name"), node.get("value")
            if isinstance(name, str) and value is not None and not isinstance(value, dict | list):
                out.append((name, value))  # `- {name: apiKey, value: …}` (justingarfield)
            for k, v in node.items():
                walk(v, str(k), depth + 1)
        elif isinstance(node, list):
            for item in node:
                walk(item, key, depth + 1)
        else:
            out.append((key, node))

    for doc in docs:
        walk(doc, "", 0)
    return out


_ENC_RUN = re.compile(r"ENC\[[^\]\s]*\]")
_SWITCHES = frozenset(
    ["true", "false", "yes", "no", "on", "off", "enabled", "disabled", "none", "null"]
)


# the last word of a key that names an address: an endpoint, a URL, an issuer, a domain
_ENDPOINT_KEY = re.compile(r"(?i)(?:^|[._-])(?:endpoint|url|uri|issuer|domain|host(?:name)?)$")
_KEY_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,62}$")
_HOST_NAME = re.compile(r"^\.?[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})+$")
_URL_PARTS = re.compile(r"^https?://([A-Za-z0-9.-]+(?::[0-9]{1,5})?)(/[A-Za-z0-9._~/-]*)?$")
_MIXED_RUN = re.compile(r"(?=[A-Za-z0-9]*[0-9])(?=[A-Za-z0-9]*[A-Za-z])[A-Za-z0-9]{12,}")


def _plain_url(value: str) -> bool:
    """A host name, or an http(s) address with no user, password, query or fragment, with no
    token-like run of letters and digits (a webhook's path holds its token)."""
    text = value.strip()
    if _HOST_NAME.match(text):
        return not _MIXED_RUN.search(text)  # a host or a cookie's domain
    found = _URL_PARTS.match(text)
    return found is not None and not _MIXED_RUN.search(found[2] or "")


def exposed_value(key: str, value: object) -> bool:
    """Whether a value once readable in git is a secret that must change: under a key that
    names one (a PIN or PSK code too, as a number), or a token, a URL password, a private key
    by its form; never a placeholder, an empty credential or a setting (an identifier, a port,
    a user name, a schedule, prose). The review of sweep 19: ``ok: true``, ``port: "5432"`` and
    a cron line were exposures; ``pin: 4821`` was not."""
    if isinstance(value, str) and "\n" in value.strip() and len(value) <= _MAX_EMBEDDED:
        leaves = _embedded_leaves(value)
        if leaves is not None:
            # a config kept as text (a Talos machine config, a values file): its own leaves are
            # judged, not the text as one token (sweep 21: drag0n141's encrypted Talos config
            # inside a binary-store file was an exposure for its long words)
            return any(_strictly_exposed(k, v) for k, v in leaves)
    if isinstance(value, str) and "ENC[" in value:
        # SOPS ciphertext inside a text (a binary-store file holding an encrypted YAML, sweep 21:
        # drag0n141's Talos templates): what is left around it is judged
        value = _ENC_RUN.sub("ENC[]", value)
        if not value.replace("ENC[]", "").strip():
            return False
    if is_placeholder(value) or (isinstance(value, str) and is_credential_skeleton(value)):
        return False
    if stand_in_words(value):
        return False  # lorem ipsum filler under any key (sweep 87, kilip/homelab-old)
    if isinstance(value, str) and _SECRET_WEBHOOK.search(value):
        return True  # the URL is the credential, under any key (the third review: webhook_url)
    if is_envsubst_name(value) or is_setting_value(key, value) or about_secret(key, value):
        return False
    if named_public_key(key, value):
        return False  # a VPN server's public key (sweep 85, Liana64/k8s-gitops)
    key = setting_name(key, value) or key  # SECRET_NFS_PATH_MEDIA as NFS_PATH_MEDIA, EMAIL_1
    if is_setting_value(key, value):
        return False  # SECRET_CLOUDFLARE_TUNNEL_ID as CLOUDFLARE_TUNNEL_ID: an identifier
    if isinstance(value, str) and network_address(value.strip()) and not names_sensitive(key):
        return False  # a network's address (sweep 75: SECRET_NAS_IP: 10.0.0.20, 18 on sob)
    if key == "key" and isinstance(value, str) and _KEY_NAME.match(value):
        # which key: a secretKeyRef's (`key: ACCESS_KEY_ID`) or a label selector's (`key: app`)
        # (sweep 74, MTRNord/cluster: SM019 exposures under a rule that encrypts `key`)
        return looks_like_token(value)
    if isinstance(value, str) and _ENDPOINT_KEY.search(split_camel(key)) and _plain_url(value):
        # where a token is fetched, not a token (sweep 74, MTRNord/cluster: an OIDC
        # `tokenEndpoint` was "a secret" for the 16 letters of its host's name)
        return False
    if API_KEY_NAME.fullmatch(key):
        return isinstance(value, str) and looks_like_token(value.strip())
    if names_sensitive(key):
        if isinstance(value, str):  # a switch ("0", "1", "false") is no secret under any name
            text = value.strip()
            return len(text) > 2 and text.lower() not in _SWITCHES and not _public(value)
        return not isinstance(value, bool)
    if not isinstance(value, str) or _public(value):
        return False
    return bool(
        looks_like_token(value)
        or URL_PASSWORD.search(value)
        or holds_literal_secret(value)
        or PRIVATE_KEY_BLOCK.search(value)
    )


def _exposed(values: list[tuple[str, object, bool, str]], strict: bool) -> tuple[str, ...]:
    """Key paths of the values a plaintext file named like a SOPS file holds in clear: what git
    keeps readable once it is committed (SM019 counts them; sweep 19, larivierec: a Talos
    ``talsecret.sops.yaml`` committed before it was encrypted). ``strict``: the file is a Talos
    config, whose secrets are under keys that say so or known by their form:
    ``_strictly_exposed`` (sweep 87, Heavybullets8/heavy-ops: an audit policy's
    ``apiVersion``, a disk's model and containerd settings were three SM019 errors)."""
    judge = _strictly_exposed if strict else exposed_value
    return tuple(
        dict.fromkeys(
            dotted_path for key, value, _in_secret, dotted_path in values if judge(key, value)
        )
    )


def _talos_config(doc: Node) -> bool:
    """Whether ``doc`` is a Talos machine config (``version: v1alpha1``, ``machine:`` and
    ``cluster:``) or a secrets bundle of ``talosctl gen secrets`` (``secrets:`` and ``certs:``)."""
    if not isinstance(doc, MapNode) or not isinstance(doc.get("cluster"), MapNode):
        return False
    machine = doc.get("version") == "v1alpha1" and isinstance(doc.get("machine"), MapNode)
    return machine or (isinstance(doc.get("secrets"), MapNode) and doc.has("certs"))


def _binary_template(path: str, data: bytes) -> bool:
    """Whether a plaintext file sops keeps in its binary store holds template syntax; a TOML
    file that still reads as TOML is judged value by value, as a YAML one is (sweep 52,
    xitobuh/flux-cluster: glauth's users file with a real bcrypt hash beside two
    ``${BOOTSTRAP_…}`` passwords was called a template whose every value is a placeholder)."""
    if not (_TEMPLATE_SYNTAX.search(data) or _SHELL_VARIABLE.search(data)):
        return False
    if not path.lower().endswith(".toml"):
        return True
    try:
        text = data.decode("utf-8")
        doc = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        return True  # the syntax itself breaks TOML (an unquoted ``{{ … }}``): not filled in yet
    values = list(_toml_values(doc, ""))
    # a token anywhere is filled in, whatever the key says (the attack review: a Slack token
    # under `user`, a GitLab token as a table's name or in a comment passed as settings)
    comments = (line.partition("#")[2] for line in text.splitlines() if "#" in line)
    words = [w for c in comments for w in re.split(r"[\s\"'=,]+", c) if w]
    keys = [part for _, _, _, at in values for part in at.split(".")]
    if any(
        isinstance(text_value, str) and not is_placeholder(text_value) and _tokenish(text_value)
        for text_value in (*(v for _, v, _, _ in values), *keys, *words)
    ):
        return False
    return _is_template(values)


def _public_key_only(text: str) -> bool:
    """SSH public key lines, with no token beside a key's blob (in its options, hosts or
    comment: the second review hid one in a line's hosts field)."""
    if not ssh_public_keys(text):
        return False
    words = text.split()
    blobs = {w for w in words if w.startswith("AAAA")}
    return not any(looks_like_token(w) for w in words if w not in blobs)


def _tokenish(text: str) -> bool:
    """A token, or a URL with one in its path (a webhook); an SSH public key is none."""
    if _public_key_only(text):
        return False
    return looks_like_token(text) or any(looks_like_token(p) for p in re.split(r"[/?&=]", text))


def _toml_values(node: object, at: str) -> Iterator[tuple[str, object, bool, str]]:
    """(key, value, False, dotted path) of each leaf of a TOML document; a date or a time, and
    an SSH public key (glauth's ``sshkeys``), is a setting, and left out."""
    items = (
        node.items()
        if isinstance(node, dict)
        else enumerate(node)
        if isinstance(node, list)
        else ()
    )
    for key, value in items:
        path = f"{at}.{key}" if at else str(key)
        if isinstance(value, dict | list):
            yield from _toml_values(value, path)
        elif not isinstance(value, datetime.date | datetime.time) and not (
            isinstance(value, str) and _public_key_only(value)
        ):
            yield str(key), value, False, path


def _is_template(values: list[tuple[str, object, bool, str]]) -> bool:
    """Whether a plaintext file named like a SOPS file is a template: every value it would
    encrypt is a placeholder (or a credentials file whose every credential is empty: velero's
    ``[default]`` / ``aws_secret_access_key=``), but for settings (``admin-user: admin``)
    beside the placeholders (``admin-password: ${BOOTSTRAP_GRAFANA_ADMIN_PASSWORD}``). In a
    manifest that is no Secret, a plain value under a key that names nothing kept secret is
    such a setting too (``is_plain_setting``: an envoy SecurityPolicy template's
    ``defaultAction: Deny``, juftin/home-ops)."""
    filled = [
        is_placeholder(v) or (isinstance(v, str) and is_credential_skeleton(v))
        for _, v, _secret, _path in values
    ]
    return any(filled) and all(
        ok or is_setting_value(key, value) or (not in_secret and is_plain_setting(key, value))
        for ok, (key, value, in_secret, _path) in zip(filled, values, strict=True)
    )


def _encrypts_none(docs: list[Node], creation_rule: CreationRule | None) -> bool:
    """Whether the creation rule would encrypt no value of the plaintext ``docs``."""
    spec = creation_rule.encryption_rule if creation_rule is not None else None
    if spec is None:
        return False
    try:
        rule = EncryptionRule(RuleKind(spec.kind), spec.value)
        return values_left_clear(docs, rule) is not None
    except (FormatError, ValueError):
        return False


def _sealed_secret(doc: object) -> bool:
    """Whether ``doc`` is a Bitnami SealedSecret (``bitnami.com/*``, ``kind: SealedSecret``)."""
    if not isinstance(doc, MapNode):
        return False
    api = doc.get("apiVersion")
    return (
        doc.get("kind") == "SealedSecret"
        and isinstance(api, str)
        and api.startswith("bitnami.com/")
    )


# what a SealedSecret holds that is no value in clear: its ciphertext, and the metadata and
# type of the Secret it unseals into (its template's data is plaintext: still judged)
_SEALED_OWN = re.compile(r"^spec\.(?:encryptedData\.|template\.(?:metadata|type)(?:\.|$))")


def _external_secret(doc: MapNode) -> bool:
    """Whether ``doc`` is an external-secrets.io ExternalSecret (or its cluster-wide kind)."""
    api = doc.get("apiVersion")
    return (
        isinstance(api, str)
        and api.startswith("external-secrets.io/")
        and doc.get("kind") in ("ExternalSecret", "ClusterExternalSecret")
    )


def _would_encrypt(
    docs: list[Node], creation_rule: CreationRule | None
) -> list[tuple[str, object, bool, str]]:
    """(key, value, in a Secret, key path) of each value a plaintext file would have encrypted
    under its rule. The key is the last one; in a Kubernetes object that is no Secret, a list
    item's is its list's (``values: [Deny]``). ``in a Secret`` is false only in such an
    object: a dotenv, INI or plain YAML file's keys are judged as a Secret's."""
    spec = creation_rule.encryption_rule if creation_rule is not None else None
    general = EncryptionRule(RuleKind(spec.kind), spec.value) if spec else EncryptionRule()
    values: list[tuple[str, object, bool, str]] = []
    for doc in docs:
        if not isinstance(doc, MapNode):
            continue
        secret = doc.get("kind") == "Secret" and (doc.has("data") or doc.has("stringData"))
        manifest = not secret and isinstance(doc.get("kind"), str) and doc.has("apiVersion")
        rule = _SECRET_VALUES if secret else general
        # an ExternalSecret names where its values are (a store, an item): only its target's
        # template can hold one (sweep 21, Nospamas: `extract.key: pushover` and the store's
        # kind were history exposures)
        references = _external_secret(doc)
        sealed = _sealed_secret(doc)
        for path, leaf in encrypted_leaves(doc, rule):
            if isinstance(leaf, Comment) or not path or path[0] in STRUCTURE:
                continue
            if references and "template" not in path:
                continue
            if sealed and _SEALED_OWN.match(dotted(path) or ""):
                continue  # ciphertext, or the name and type of the Secret it unseals into
            named = [str(p) for p in path if isinstance(p, str)] if manifest else []
            key = named[-1] if named else str(path[-1])
            values.append((key, leaf, not manifest, dotted(path) or "(top level)"))
    return values


# What a sops 3.11 configuration holds: its top-level keys, a creation or destination rule's
# keys, and the stores' settings
_CONFIG_KEYS = frozenset({"creation_rules", "destination_rules", "stores"})
_RULE_KEYS = frozenset(
    {
        "path_regex", "age", "pgp", "kms", "aws_profile", "gcp_kms", "azure_keyvault",
        "hc_vault_transit_uri", "hckms", "key_groups", "shamir_threshold", "unencrypted_suffix",
        "encrypted_suffix", "unencrypted_regex", "encrypted_regex",
        "unencrypted_comment_regex", "encrypted_comment_regex", "mac_only_encrypted",
        "s3_bucket", "s3_prefix", "gcs_bucket", "gcs_prefix", "vault_path", "vault_address",
        "vault_kv_mount_name", "vault_kv_version", "omit_extensions", "recreation_rule",
    }
)  # fmt: skip
_STORE_NAMES = frozenset({"yaml", "json", "json_binary", "dotenv", "ini"})


def _is_sops_config(doc: Node | None) -> bool:
    """Whether ``doc`` is a sops configuration: a ``creation_rules`` list of rules, and no key
    a configuration does not have (a value under another key is a value to encrypt)."""
    if not isinstance(doc, MapNode) or not isinstance(doc.get("creation_rules"), SeqNode):
        return False
    for key, value in (i for i in doc.items if not isinstance(i, Comment)):
        if key not in _CONFIG_KEYS:
            return False
        if key == "stores":
            if not isinstance(value, MapNode) or not all(
                n in _STORE_NAMES and isinstance(v, MapNode) and _keys_of(v) <= {"indent"}
                for n, v in (i for i in value.items if not isinstance(i, Comment))
            ):
                return False
        elif not isinstance(value, SeqNode) or not all(
            isinstance(r, MapNode) and _keys_of(r) <= _RULE_KEYS
            for r in value.items
            if not isinstance(r, Comment)
        ):
            return False
    return True


def _keys_of(node: MapNode) -> set[str]:
    return {str(i[0]) for i in node.items if not isinstance(i, Comment)}


def _holds_nothing(docs: list[Node], fmt: FileFormat) -> bool:
    """Whether no document holds any item (an empty file, comments only, ``{}``, ``---``; an
    INI file whose sections hold no key)."""
    if fmt is FileFormat.INI and docs and isinstance(docs[0], MapNode):
        docs = [i[1] for i in docs[0].items if not isinstance(i, Comment)]
    for doc in docs:
        if isinstance(doc, MapNode | SeqNode):
            if any(not isinstance(item, Comment) for item in doc.items):
                return False
        elif doc is not None and doc != "" and not isinstance(doc, Comment):
            return False
    return True


# what a Secret that holds nothing may have besides an empty ``data``/``stringData``
_BARE_SECRET_KEYS = frozenset(("apiVersion", "kind", "metadata", "type", "immutable"))
_BARE_METADATA_KEYS = frozenset(("name", "namespace"))
# what those may hold: an object's name (or a variable for one), a Secret's type
_BARE_NAME = re.compile(r"^(?:[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?|\$\{[A-Za-z_][\w:=-]*\})$")
_BARE_TYPE = re.compile(r"^(?:Opaque|(?:[a-z0-9.-]+\.)?kubernetes\.io/[\w.-]+)$")


def _empty_secrets(docs: list[Node]) -> bool:
    """Whether every document is a Secret whose ``data`` and ``stringData`` are there and hold
    nothing, with no other field and no comment that could hold a value (a base an overlay
    patches its values into: sweep 38, 1spyral/home-lab's eight ``data: {}``; the fourth
    review: a top-level ``password:``, a misspelt ``Data:``, an annotation or a comment beside
    ``data: {}`` hold one)."""
    found = [d for d in docs if d is not None]
    return bool(found) and all(_bare_secret(d) for d in found)


def _bare_secret(doc: Node) -> bool:
    if not isinstance(doc, MapNode) or doc.get("kind") != "Secret":
        return False
    if any(isinstance(item, Comment) for item in doc.items):
        return False
    keys = {item[0] for item in doc.items if not isinstance(item, Comment)}
    values = [doc.get(k) for k in ("data", "stringData") if k in keys]
    if not values or not keys <= _BARE_SECRET_KEYS | {"data", "stringData"}:
        return False
    if any(v not in (None, "") and not (isinstance(v, MapNode) and not v.items) for v in values):
        return False
    kind = doc.get("type")  # free text: a token there is a value (the fifth review)
    if kind is not None and not (isinstance(kind, str) and _BARE_TYPE.match(kind)):
        return False
    meta = doc.get("metadata")
    if meta is None:
        return True
    if not isinstance(meta, MapNode) or any(isinstance(i, Comment) for i in meta.items):
        return False
    items = [i for i in meta.items if not isinstance(i, Comment)]
    return all(
        key in _BARE_METADATA_KEYS and isinstance(value, str) and _BARE_NAME.match(value)
        for key, value in items
    )


_BLOCK_STAMPS = ("mac", "lastmodified")
_BLOCK_KEYS = ("age", "pgp", "kms", "gcp_kms", "azure_kv", "hc_vault", "key_groups")


def _broken_block(first: Node, fmt: FileFormat) -> bool:
    """Whether a file not named as SOPS still carries a ``sops`` block sops wrote (a MAC or a
    timestamp, and a key list) that cannot be read as one: it is a SOPS file, SM006, not
    nothing (sweep 93, hmcts/sds-flux-config: `version:` typed as `ersion:` in a Secret's
    block; sops calls it unencrypted, and the file was in no report at all)."""
    if fmt not in (FileFormat.YAML, FileFormat.JSON) or not isinstance(first, MapNode):
        return False
    block = first.get(SOPS_KEY)
    return (
        isinstance(block, MapNode)
        and any(block.has(k) for k in _BLOCK_STAMPS)
        and any(block.has(k) for k in _BLOCK_KEYS)
    )


def _holds_enc(doc: MapNode) -> bool:
    """Whether a document holds an ``ENC[…]`` value or comment anywhere."""
    return any(
        is_enc(leaf.text if isinstance(leaf, Comment) else leaf)
        for _, leaf, _ in iter_leaves(doc, EncryptionRule())
        if isinstance(leaf, Comment | str)
    )


def read_sops_entry(
    path: str,
    data: bytes,
    fmt: FileFormat,
    rule: tuple[str | None, CreationRule | None, int | None] = (None, None, None),
    *,
    named: bool | None = None,
) -> SopsEntry | None:
    """A SOPS entry for a YAML/JSON/dotenv/INI file, or None when it is not a SOPS file.

    ``rule`` is (config label, creation rule, rule number) from the governing `.sops.yaml`;
    ``named``: whether the name says SOPS (default: ``is_named_sops``).
    """
    named = is_named_sops(path) if named is None else named
    base = SopsEntry(
        path=path,
        format=fmt,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        named=named,
        has_metadata=False,
        has_flux_marker=FLUX_MARKERS[fmt] in data,
        sops_config=rule[0],
        creation_rule=rule[1],
        creation_rule_number=rule[2],
    )
    try:
        text = data.decode("utf-8")
        docs = parse_documents(text, fmt)
    except UnicodeDecodeError:
        if named and data.startswith((b"\xff\xfe", b"\xfe\xff")):
            return replace(base, error=UTF16_ERROR)  # Windows PowerShell's `>` (kbs610)
        return replace(base, error="not valid UTF-8") if named else None
    except FormatError as exc:
        if named and _TEMPLATE_SYNTAX.search(data) and not SOPS_HINT[fmt].search(data):
            # a Jinja/Helm template is not YAML yet; one with a sops block is a SOPS file this
            # reader cannot read (the attack review: `{{ … }}` in a clear annotation of a file
            # nested past the depth limit made key rotate leave it on the retired key)
            return replace(base, template=True)
        return replace(base, error=exc.message) if named else None
    first = docs[0] if docs else None
    if not has_metadata(docs, fmt):
        if not named and not _broken_block(first, fmt):
            return None
        if fmt is FileFormat.DOTENV or not (isinstance(first, MapNode) and first.has(SOPS_KEY)):
            values = _would_encrypt(docs, rule[1])  # no metadata: SM002
            sealed = bool(docs) and all(_sealed_secret(d) for d in docs if d is not None)
            if sealed and not values:
                # sweep 56, tropnikovvl/k3s-gitops: SealedSecrets named *.enc.yaml were an
                # SM002 error "stored in plaintext" and four SM019 exposures
                return replace(base, sealed=True)
            entry = replace(
                base,
                template=_is_template(values),
                empty=_holds_nothing(docs, fmt) or (not values and _empty_secrets(docs)),
                blank=not data.strip(),
                config_file=len(docs) == 1 and _is_sops_config(first),
                encrypts_none=_encrypts_none(docs, rule[1]),
                lost_metadata=any(isinstance(d, MapNode) and _holds_enc(d) for d in docs),
            )
            if entry.template or entry.empty or entry.config_file or entry.lost_metadata:
                return entry
            strict = any(_talos_config(d) for d in docs)
            return replace(entry, exposed_leaves=_exposed(values, strict))
    try:
        if fmt in _FLAT_STORES:
            sf = load(text, fmt)
            bare: list[int] = []
        else:
            assert isinstance(first, MapNode)
            metadata = parse_metadata(first.get(SOPS_KEY))
            trees: list[MapNode] = []
            bare = []
            for number, doc in enumerate(docs, start=1):
                if doc is None:
                    continue
                if not isinstance(doc, MapNode):
                    raise FormatError("the top level of every document must be a mapping")
                if number > 1 and not doc.has(SOPS_KEY) and _holds_enc(doc):
                    bare.append(number)  # a plain manifest after it is applied as it stands
                trees.append(doc.without(SOPS_KEY))
            sf = SopsFile(fmt, trees, metadata)
        plain, exposed, broken = _scan_leaves(sf)
        if not plain:
            exposed += clear_secrets(sf.docs, sf.metadata.rule)
    except FormatError as exc:
        return replace(base, has_metadata=True, error=exc.message)
    return replace(
        base,
        text=text,
        has_metadata=True,
        sops_file=sf,
        plaintext_leaves=plain,
        exposed_leaves=exposed,
        malformed_leaves=broken,
        bare_documents=tuple(bare),
        decrypt_disabled=any(_decrypt_disabled(t) for t in sf.docs),
    )
