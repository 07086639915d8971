"""SM001 plaintext-secret: a Kubernetes Secret with values and no SOPS metadata.

Also kustomize ``secretGenerator`` ``literals:``: the values sit in kustomization.yaml in clear.
Detection works on parsed documents (any key quoting, flow style, tags, ``List`` items).
"""

from __future__ import annotations

import base64
import binascii
import json
import posixpath
import re
import shlex
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import cast

from secretsmgr.audit.context import AuditContext, restore_metadata_hint
from secretsmgr.audit.credentials import (
    UUID,
    config_credential,
    is_password_hash,
    judge_value,
    known_in_lines,
    plain_setting,
    url_credential,
)
from secretsmgr.audit.finding import (
    NO_SOPS_CONFIG,
    YAML_FIRST,
    Finding,
    Rule,
    RuleId,
    Severity,
)
from secretsmgr.audit.manifests import (
    Obj,
    decode_text,
    documents,
    generator_literals,
    is_placeholder,
    is_plaintext_value,
    is_public_material,
    is_secret,
    json6902_secret,
    label,
    may_be_secret,
    may_hold_secret_kind,
    may_mention,
    numbered_objects,
    secret_values,
)
from secretsmgr.audit.rules.sm006_malformed_sops import restore_fixes
from secretsmgr.errors import FormatError, SecretsmgrError
from secretsmgr.keys.pem import der_is_open_keystore, der_is_private_key
from secretsmgr.plural import plural
from secretsmgr.repo.flux import Layer, Use, UseKind
from secretsmgr.repo.flux.kfile import KUSTOMIZATION_NAMES
from secretsmgr.repo.flux.objects import go_field
from secretsmgr.repo.flux.substitute import handed_on, is_disabled, references
from secretsmgr.repo.placeholders import (
    PRIVATE_KEY_BLOCK,
    URL_PASSWORD,
    is_credential_skeleton,
    is_envsubst_name,
    is_placeholder_pairs,
    is_plain_setting,
    is_secret_file_setting,
    is_setting_key,
    literal_defaults,
    looks_like_token,
    names_credential,
    names_password,
    names_sensitive,
    resolve_defaults,
    split_camel,
    stand_in_words,
)
from secretsmgr.repo.scan import ScannedFile
from secretsmgr.repo.sopsconfig import SopsConfig
from secretsmgr.repo.sopsentry import secret_text, structured_format
from secretsmgr.shellword import sh_path, starts_as_command
from secretsmgr.sops import FileFormat
from secretsmgr.sops.document import parse_documents
from secretsmgr.sops.encvalue import is_enc, parse_enc
from secretsmgr.sops.limits import is_too_large, limit_text, max_file_bytes
from secretsmgr.sops.locate import DocumentKeys, key_lines
from secretsmgr.sops.metadata import parse_metadata
from secretsmgr.sops.model import EncryptionRule, RuleKind, SopsMetadata
from secretsmgr.sops.rules import iter_leaves, path_is_encrypted
from secretsmgr.sops.tree import MapNode, SeqNode
from secretsmgr.sops.values import Comment
from secretsmgr.sops.yamlio import safe_load_all


@dataclass(frozen=True, slots=True)
class PlaintextSecret:
    """A plaintext value in a Kubernetes Secret (or a secretGenerator) without SOPS metadata."""

    path: str
    key_path: str
    secret: str
    generator: bool = False
    document: int = 1  # 1-based, in the file
    line: int | None = None
    unread: bool = False  # over the file-size limit: not parsed, so not cleared either
    source: str | None = None  # a whole file that holds a secret: what it holds (see _source)
    beside_ciphertext: bool = False  # its Secret holds ENC[…] values with no sops: block
    # a whole ``$NAME_OF_WORDS`` (envsubst's): reported, but no exposure in history
    envsubst: bool = False
    # its key's own name as a shell variable (``RESTIC_PASSWORD: $RESTIC_PASSWORD``): a
    # template's stand-in, reported only where a live layer applies it as written
    variable_name: bool = False
    unparsed: bool = False  # the file does not parse: found reading it line by line
    sniffed: bool = False  # a Secret manifest under a name of no YAML format (secret.txt)
    env_source: bool = False  # a KEY=value line of a file a secretGenerator may read (envs:)
    env_bare: int = 0  # that file's first line with a key alone (sops refuses it), or 0
    patch_ops: bool = False  # a JSON 6902 patch file's value under /data or /stringData
    only_secret: bool = False  # ...that only a Secret holds (stringData, base64 under data)
    credential: bool = False  # an env_source line whose key or value says credential
    # a whole SOPS-encrypted document as the value (sops' JSON or YAML, ``sops:`` block and
    # all): ciphertext Flux applies as written, no plaintext (sweep 41, HermannH34)
    sops_document: bool = False
    # a setting by its key and form (a host, a port, a switch, a URL with no credential):
    # reported in a Secret of secrets, but exposing nothing in history (sweep 61: a Secret's
    # port, log level and `false` were SM019 errors, "change the value at its source")
    setting: bool = False
    # an example's stand-in (``changeme``, lorem ipsum): reported, since a layer would deploy
    # it, but no credential was exposed in history (sweep 83, TkPegatron/homelab-as-code: a
    # filler under `PLACEHOLDER` was an SM019 error)
    stand_in: bool = False
    # the file is UTF-16 (a byte-order mark, PowerShell's `>`): encrypt reads UTF-8 only, so
    # the fix re-encodes it first (the attack review of stop 44: the fix renamed, then failed)
    utf16: bool = False
    # bytes that are not UTF-8 (a Windows-1252 editor's "é"): sops and kustomize refuse the
    # file, so the fix makes it UTF-8 first (the attack review of sweep 93): how, by
    # ``_reencoding`` ("" when the file is UTF-8)
    not_utf8: str = ""
    # every leaf of the file, as (object, key path): what a file taken for a decrypted copy
    # must hold nothing beyond (the second attack review of stop 49: a copy's extra keys and
    # a ConfigMap beside its Secret were removed with it)
    shape: frozenset[tuple[str, str]] = frozenset()
    # the file's name says it is a sample (``secret.sample.yaml``) and the value shows it is
    # one (``_sample_words``): where no layer applies the file, a warning, and no exposure in
    # history (sweep 91, fma965/f9-k3s: 38 errors on `"Redis Password"`, `admin@domain.tld`)
    sample: bool = False
    # the value is one postBuild variable (``${DB_PASSWORD}``): no value here, but the layer
    # that applies the file may substitute one written in clear elsewhere (_filled)
    fills: str = ""
    fills_inside: bool = False  # ... as a part of a longer value (a URL's password)
    fills_key: str = ""  # ... the setting it is the value of there (``password`` in a URL)
    # ... and the key path in the Secret it fills (``stringData.password``), where the object
    # is not the document (a List's item, a patch, a Kyverno rule's, a postRenderer's)
    in_secret: str = ""


_AGE_SECRET = re.compile(r"(?i)AGE-SECRET-KEY-(?:PQ-)?1[0-9A-Z]{20,}")


def _literals(path: str, prefix: str, obj: Obj) -> Iterator[PlaintextSecret]:
    for gen, name, where, literals in generator_literals(obj, "secretGenerator", prefix):
        # its secrets come from files (SOPS-encrypted ones, which Flux decrypts): a literal
        # that says where or who beside them is a setting, as in a substituted Secret
        sourced = any((go_field(gen, f) or ("", None))[1] for f in ("files", "envs"))
        here: list[tuple[PlaintextSecret, bool]] = []
        for literal in literals:
            if not isinstance(literal, str):
                continue
            key, sep, value = literal.partition("=")
            value = value.strip("\"'")
            if not sep or is_placeholder(value) or is_public_material(key.strip(), value):
                continue
            if key.strip().lower().endswith(".agekey") and not _AGE_SECRET.search(value):
                # an age key file's entry holding no age key (sweep 74, darioblanco/gitops:
                # `sops.agekey="empty"` was an exposure "of an age private key" in history)
                continue
            if sourced and _setting(key.strip(), value, value):
                continue
            if _cluster_address(f"{where}.{key.strip()}", value):
                continue  # a service's address, as a Secret's value is judged
            here.append(
                (
                    PlaintextSecret(path, f"{where}.{key.strip()}", str(name or "(unnamed)"), True),
                    _service_origin(key.strip(), value),
                )
            )
        # a generator of nothing but service addresses holds no secret (sweep 90,
        # shamubernetes/home-k8s: `url=https://elasticsearch.thezoo.house`, two SM001 errors);
        # beside a secret they are reported with it, as a Secret's settings are
        if not all(origin for _, origin in here):
            yield from (hit for hit, _ in here)


def _substituted(value: object) -> bool:
    """A value Flux or a template fills in (``${SECRET_DB_PASSWORD}``), not an empty one."""
    return isinstance(value, str) and bool(value.strip()) and is_placeholder(value)


def _kept_out(key_path: str, value: object) -> bool:
    """A secret the author kept out of git: substituted (``${SECRET_DB_PASSWORD}``), or a
    credential left empty in a skeleton (``password: ""``, ``RADARR_APIKEY:``)."""
    if _substituted(value):
        return True
    empty = value is None or (isinstance(value, str) and not value.strip())
    return empty and names_credential(key_path.rpartition(".")[2])


def _stand_in_inside(key_path: str, value: object) -> bool:
    """A secret the author left as a stand-in inside the value: a config whose every credential
    is a placeholder (Argo CD's cluster ``config`` of ``{"bearerToken": "REPLACE_WITH_TOKEN"}``,
    ngochien2000ht/data-platform-infra), or a ``data`` value that decodes to one (``Y2hhbmdlbWU=``).
    Like a substituted value, it shows the Secret is a template whose secret parts stay out of
    git."""
    text = secret_text(key_path, value)
    if text is None or not text.strip():
        return False
    if key_path.startswith("data.") and "\n" not in text.strip() and _substituted(text):
        # under a key that names a credential (the attack review: a `note` of changeme beside
        # a real password under `db`)
        return names_credential(key_path.rpartition(".")[2])
    return is_credential_skeleton(text) and _credential_stand_in(text)


# a key and its value in a JSON object, a YAML mapping or an INI/dotenv line
_PAIR = re.compile(r"""^\s*["']?([A-Za-z0-9_.-]+)["']?\s*[:=]\s*(.*?)\s*,?\s*$""", re.MULTILINE)


def _credential_stand_in(text: str) -> bool:
    """Whether a key that names a credential holds a stand-in in ``text`` (a skeleton's stand-in
    under any key, such as a `name`, shows no secret kept out: the attack review)."""
    return any(
        names_credential(key) and value.strip("\"' ") and is_placeholder(value.strip("\"' "))
        for key, value in _PAIR.findall(text.replace("{", "\n").replace("}", "\n"))
    )


# mittwald's kubernetes-secret-generator: ``autogenerate: password,token`` names the keys its
# string generator fills in the cluster (split at commas, as the controller does). It runs when
# the ``type`` annotation is missing, ``string`` or unknown; the ``ssh-keypair`` and
# ``basic-auth`` generators ignore the list. A key that already holds a value is kept as it is.
_GENERATOR = "secret-generator.v1.mittwald.de/"
_OTHER_GENERATORS = frozenset(("ssh-keypair", "basic-auth"))


def _generated_in_cluster(obj: Obj) -> bool:
    """Whether a key that mittwald's secret generator fills in is left out of the Secret (or
    left empty): its secret is made in the cluster, kept out of git."""
    meta = obj.get("metadata")
    notes = cast(Obj, meta).get("annotations") if isinstance(meta, dict) else None
    if not isinstance(notes, dict):
        return False
    named = cast(Obj, notes).get(_GENERATOR + "autogenerate")
    if not isinstance(named, str) or cast(Obj, notes).get(_GENERATOR + "type") in _OTHER_GENERATORS:
        return False
    held = dict(secret_values(obj))
    return any(key and not _value_in(held, key) for key in named.split(","))


def _value_in(held: Mapping[str, object], key: str) -> bool:
    """Whether ``key`` holds a value under ``data`` or ``stringData``."""
    return any(
        (value := held.get(f"{section}.{key}")) is not None
        and not (isinstance(value, str) and not value.strip())
        for section in ("data", "stringData")
    )


# A parameter of a cipher or a key, not the key (``CRYPTO_KEY_CIPHER: aes-xts-plain64``,
# ``CRYPTO_KEY_SIZE: "256"``, ``CRYPTO_PBKDF: argon2i``): the last word of the key says so.
_PARAMETER_KEY = re.compile(
    r"(?i)(?:^|[._-])(?:size|length|bits|cipher|hash|algorithm|algo|kdf|pbkdf2?|iterations|"
    r"rounds|digest|curve)$"
)
_SHORT_TOKEN = re.compile(r"^[\w.+-]{1,40}$")
# (and what turns a thing off or leaves it to its default: sweep 29, Rojikku/home-ops's rclone
# `RCLONE_CONFIG_NAS_MD5SUM_COMMAND: none` beside substituted secrets, 28 errors)
_SWITCH = frozenset(
    ("true", "false", "yes", "no", "on", "off", "enabled", "disabled", "none", "null", "auto")
)
# An HTTP address with no path, credentials or query (``http://plex.media:32400``): where a
# service is; a webhook or push URL holds its token in its path or host's scheme.
_PLAIN_URL = re.compile(r"^https?://[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?(?::\d{1,5})?/?$")


# a query parameter that carries a credential: ``?password=…``, ``&auth=…``, ``?api_key=…``;
# not a path (``sslkey=/var/run/secrets/tls.key``) or a variable (``password=${DB_PASS}``)
_QUERY_SECRET = re.compile(
    r"(?i)[?&][\w.-]*(?:pass(?:word|wd)?|pwd|auth|token|secret|key|sig(?:nature)?|credentials?)"
    r"[\w.-]*=(?![/.~$%{<])[^&#\s]+"
)


# A Proxmox VE or Backup Server API token's id, USER@REALM!TOKENNAME (sweep 58,
# DeepAchut/Homelab-ops: `PROXMOX_TOKEN_ID: root@pam!hermes-readonly` beside an empty
# `PROXMOX_TOKEN_VALUE` blocked check): it names the token, the UUID is its secret
# (its token name in lower-case words, and a key that names a token's id and no other
# credential: the attack review passed `CLIENT_SECRET_ID: root@pam!<UUID>` and a random name)
_PVE_TOKEN_ID = re.compile(
    r"^[a-z0-9._-]{1,64}@[a-z0-9._-]{1,64}![a-z][a-z0-9]{0,15}(?:[._-][a-z0-9]{1,15}){0,3}$"
)
_TOKEN_ID_KEY = re.compile(
    r"(?i)^(?:(?:proxmox|pve|pbs|api)[._-]?)?token[._-]?id$|^[a-z]+[._-]token[._-]?id$"
)


# a run of 16 or more letters and digits with both in it and no separator (a token, an access
# key id, a hex id; `eks-prod-ap-southeast-1` is words), a base64url run of 20 or more with
# capitals, small letters and digits, or a UUID
_TOKEN_RUN = re.compile(
    r"(?=[A-Za-z0-9]*[0-9])(?=[A-Za-z0-9]*[A-Za-z])[A-Za-z0-9]{16,}|"
    r"(?=[\w-]*[0-9])(?=[\w-]*[a-z])(?=[\w-]*[A-Z])[A-Za-z0-9_-]{20,}|"
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)
_PASSWORD_SYMBOLS = re.compile(r"[^A-Za-z0-9\s_-]")


def _secret_looking(text: str) -> bool:
    """A value no setting holds (the attack review of sweep 71: beside a stand-in config, a
    Telegram bot URL, a Discord webhook, an access key id and a password passed as settings):
    in a URL, a path part that is a token or a UUID; elsewhere such a run anywhere, or one word
    of 8 or more characters with a digit, a lower-case letter and a capital or symbol (no
    host, path or address: those hold dots, slashes or colons)."""
    if "://" in text:
        path = text.split("://", 1)[1].partition("/")[2]
        return any(_TOKEN_RUN.fullmatch(part) for part in re.split(r"[/?#&=:;,]", path) if part)
    if _TOKEN_RUN.search(text):
        return True
    if len(text) < 8 or " " in text or re.search(r"[./:@]", text):
        return False
    return bool(
        re.search(r"[0-9]", text)
        and re.search(r"[a-z]", text)
        and (re.search(r"[A-Z]", text) or _PASSWORD_SYMBOLS.search(text))
    )


def _setting(key_path: str, value: object, text: str | None) -> bool:
    """A literal beside secrets kept out of git that says where, who or how, not a secret: a
    host, a port, an address without credentials, a driver, a user name, a switch, a cipher's
    parameter. Only in a Secret whose secrets are substituted or left empty, which shows the
    author kept the secret parts out of git. ``text``: the value as ``_text`` reads it (a
    ``data`` value is judged decoded)."""
    key = key_path.rpartition(".")[2]
    if isinstance(value, bool):
        return True
    if isinstance(value, int | float):
        return bool(is_setting_key(key) or _PARAMETER_KEY.search(split_camel(key)))
    if text is None or "\n" in text.strip():
        return False
    text = text.strip()
    if judge_value(key, text) is not None or _QUERY_SECRET.search(text):
        return False  # a credential, or a URL with one in its query (?password=, ?auth=)
    login = URL_PASSWORD.search(text)
    if login is not None and not is_placeholder(login.group(1)):
        return False  # a URL's password, one a URL parser cuts at `#` too (the review of stop 53)
    if _secret_looking(text):
        return False  # a token in a webhook's path, a random id, a password under a host's key
    if text.lower() in _SWITCH or _PLAIN_URL.match(text):
        return True
    if _PVE_TOKEN_ID.match(text) and _TOKEN_ID_KEY.search(split_camel(key)):
        return True  # which Proxmox API token: its secret is the UUID beside it
    if _PARAMETER_KEY.search(split_camel(key)) and _SHORT_TOKEN.match(text):
        # a cipher's (``CRYPTO_KEY_CIPHER``), not a password's (``ADMIN_PASSWORD_HASH``)
        return not names_password(key)
    # what history judges a setting is one here too (sweep 80, zacheryph/k8s-gitops: `protocol:
    # https`, `BASIC_AUTH_USERNAME: admin` and a cache's path beside substituted credentials)
    return bool(is_setting_key(key)) or plain_setting(key, text)


# Argo CD's declarative repository and cluster Secrets (the ``argocd.argoproj.io/secret-type``
# label) hold settings beside their credentials: a public repository's Secret holds its name,
# type and URL only (code-dot-org/k8s-gitops, kevinobee/k8s-gitops failed the gate on them).
# The fields Argo CD documents as settings, each with the form Argo CD reads; ``username``,
# ``password``, ``sshPrivateKey``, ``tlsClientCertKey``, ``githubAppPrivateKey``,
# ``gcpServiceAccountKey``, ``bearerToken`` and a cluster's ``config`` are credentials and stay
# reported.
_ARGOCD_LABEL = "argocd.argoproj.io/secret-type"

_SWITCH_TEXT = re.compile(r"(?i)^(?:true|false)$")
_NUMBER_TEXT = re.compile(r"^[0-9]{1,20}$")
# An address Argo CD reads: http(s), ssh, git or oci, a user only if it is ``git`` (ssh), no
# password, query or fragment; or scp's ``git@host:path``, or an OCI reference without scheme
_ARGOCD_URL = re.compile(
    r"^(?:(?:https?|ssh|git|oci)://(?:git@)?[A-Za-z0-9.-]+(?::[0-9]{1,5})?(?:/[^\s?#@:]*)?"
    r"|git@[A-Za-z0-9.-]+:[^\s?#@:]+|[a-z0-9.-]+\.[a-z]{2,}(?::[0-9]{1,5})?/[^\s?#@:]*)$"
)
_HOST_LIST = re.compile(r"^[A-Za-z0-9.*:/_-]+(?:\s*,\s*[A-Za-z0-9.*:/_-]+)*$")
_OBJECT_NAME_TEXT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$")
_ARGOCD_FORMS: dict[str, re.Pattern[str]] = {
    **dict.fromkeys(
        (
            "enableLfs", "enableOCI", "insecure", "insecureIgnoreHostKey", "insecureOCIForceHttp",
            "forceHttpBasicAuth", "useAzureWorkloadIdentity", "clusterResources",
        ),
        _SWITCH_TEXT,
    ),
    **dict.fromkeys(("githubAppID", "githubAppInstallationID", "depth"), _NUMBER_TEXT),
    **dict.fromkeys(("url", "proxy", "githubAppEnterpriseBaseUrl", "server"), _ARGOCD_URL),
    "type": re.compile(r"^(?:git|helm|oci)$"),
    "noProxy": _HOST_LIST,
    "namespaces": _HOST_LIST,
    "name": _OBJECT_NAME_TEXT,
    "project": _OBJECT_NAME_TEXT,
}  # fmt: skip
_CLUSTER_ONLY = frozenset({"server", "namespaces", "clusterResources"})
_ARGOCD_REPOSITORY = frozenset(_ARGOCD_FORMS) - _CLUSTER_ONLY
_ARGOCD_SETTINGS = {
    "repository": _ARGOCD_REPOSITORY,
    "repo-creds": _ARGOCD_REPOSITORY,
    "repository-write": _ARGOCD_REPOSITORY,
    "repo-write-creds": _ARGOCD_REPOSITORY,
    "cluster": _CLUSTER_ONLY | {"name", "project"},
}


def _argocd_settings(obj: Obj) -> frozenset[str]:
    """The keys of ``obj`` that Argo CD reads as settings, when it is one of Argo CD's
    repository or cluster Secrets (none otherwise)."""
    meta = obj.get("metadata")
    labels = cast(Obj, meta).get("labels") if isinstance(meta, dict) else None
    kind = cast(Obj, labels).get(_ARGOCD_LABEL) if isinstance(labels, dict) else None
    return _ARGOCD_SETTINGS.get(kind, frozenset()) if isinstance(kind, str) else frozenset()


def _argocd_setting(key_path: str, value: object, text: str | None) -> bool:
    """A value of an Argo CD setting in the form Argo CD reads it (a switch, a number, a
    repository type, an address with no credential in it, a name), holding no token (the
    review: a token as a URL's user or in its path passed)."""
    key = key_path.rpartition(".")[2]
    if isinstance(value, bool) or (isinstance(value, int) and _NUMBER_TEXT is _ARGOCD_FORMS[key]):
        return True
    if text is None or "\n" in text.strip():
        return False
    text = text.strip()
    return bool(
        _ARGOCD_FORMS[key].match(text)
        and not looks_like_token(text)
        and judge_value(key, text) is None
        and not _QUERY_SECRET.search(text)
    )


def _encoded_placeholder(key_path: str, text: str | None) -> bool:
    """A ``data`` value whose base64 decodes to a placeholder (``Y2hhbmdlLW1l``: change-me),
    as the same word under ``stringData`` is; ``text`` is the decoded value."""
    if not key_path.startswith("data.") or text is None:
        return False
    return bool(text.strip()) and is_placeholder(text)


# The address of a service inside the cluster (a Flux notification Provider's ``address`` for
# Alertmanager: ``http://NAME.NAMESPACE.svc.cluster.local:9093/api/v2/alerts``): no user or
# password, query or fragment, and a path of plain lower-case words and version numbers. A
# webhook holds its token in its path (``/hooks/q7Wm2ZpK…``, a hex run): no such word.
_CLUSTER_URL = re.compile(
    r"^https?://(?:[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?\.){2,}svc(?:\.cluster\.local)?"
    r"(?::\d{1,5})?(?P<path>/[^\s?#@]*)?$"
)
_PATH_WORD = re.compile(
    r"^(?:[a-z]{1,16}(?:[-_][a-z]{1,16}){0,3}|v\d{1,2}(?:\.\d{1,3}){0,2}(?:(?:alpha|beta)\d?)?)?$"
)


# An in-cluster service's host name (``pg-16-rw.database.svc.cluster.local``) and a port
# number under a key named for one (``MQTT_PORT: "1883"``): where a service is (sweep 19,
# qlonik/musical-parakeet: a Secret of hosts and ports failed the gate)
_CLUSTER_HOST = re.compile(
    r"^(?:[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?\.){2,}svc(?:\.cluster\.local)?(?::\d{1,5})?$"
)
_PORT_KEY = re.compile(r"(?i)(?:^|[._-])port$")
# a URL of a scheme, a host name and a port at most: no user, path, query or fragment
_ORIGIN_URL = re.compile(
    r"^https?://(?P<host>(?:[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]{2,63})(?::\d{1,5})?/?$"
)


def _service_origin(key: str, text: str) -> bool:
    """A service's address and nothing after it (``https://elasticsearch.example.org``) under a
    key that names no secret; a random label may be a capability URL's token."""
    origin = _ORIGIN_URL.match(text.strip())
    if origin is None or names_sensitive(key):
        return False
    return not any(looks_like_token(label) for label in origin["host"].split("."))


def _cluster_address(key_path: str, text: str | None) -> bool:
    """An in-cluster service URL or host name with no secret in it, or a port number, under a
    key that names no credential."""
    key = key_path.rpartition(".")[2]
    if text is None or names_credential(key):
        return False
    text = text.strip()
    if _CLUSTER_HOST.match(text) and not names_sensitive(key):
        # each name a word, not a random run (the third review: zx9vq2wr7tlm8k3p.x.svc)
        return not any(looks_like_token(label) for label in re.split(r"[.:]", text))
    if _PORT_KEY.search(key) and not names_sensitive(key) and text.isdigit():
        return 0 < int(text) <= 65535  # ADMIN_PIN_PORT: 4821 names a PIN; 83921 is no port
    found = _CLUSTER_URL.match(text)
    if found is None:
        return False
    return all(_PATH_WORD.match(part) for part in (found["path"] or "").split("/"))


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    if len({key for key, _ in pairs}) != len(pairs):
        raise ValueError("a key written twice")
    return dict(pairs)


def _empty_json(text: str | None) -> bool:
    """A value (decoded, under ``data``) that is an empty JSON object or list, or an empty docker
    config (``{"auths": {}}``): ``e30K`` (``{}``) in a ``.dockerconfigjson`` that Carvel
    secretgen-controller fills in the cluster. Nothing in it can be a secret."""
    if text is None or not text.strip().startswith(("{", "[")) or len(text) > 64:
        return False
    try:
        doc: object = json.loads(text, object_pairs_hook=_unique_keys)
    except ValueError:  # a key written twice too: Go's decoder keeps the first auths' entries
        return False
    if isinstance(doc, dict) and set(doc) == {"auths"}:
        doc = cast(Obj, doc)["auths"]
    return doc in ({}, [])


def _no_secret_config(text: str | None) -> bool:
    """A value (decoded, under ``data``) that is a config of stand-ins: INI, dotenv, YAML or
    JSON whose every credential is a placeholder (``is_credential_skeleton``), ``name:
    REPLACE_ME`` lines (``is_placeholder_pairs``), or a YAML or JSON config of plain settings
    (``_settings_config``)."""
    return text is not None and (
        is_credential_skeleton(text) or is_placeholder_pairs(text) or _settings_config(text)
    )


_MIN_SETTINGS = 2  # one value alone is judged as a value, not as a config


def _settings_config(text: str) -> bool:
    """A YAML or JSON config (a mapping or a list over several lines) that holds no secret: a
    key that names anything kept secret (``names_sensitive``) holds a stand-in or the path of a
    file that holds it (``bearer_token_file: /var/run/secrets/…/token``), and every other value
    is a plain setting by its form (``is_plain_setting``) that SM018's judgement passes. A
    prometheus-operator ``additionalScrapeConfigs`` Secret and an rclone remote with anonymous
    access (``parameters: {anonymous: true}``) failed the gate (sweep 18)."""
    if "\n" not in text.strip() or PRIVATE_KEY_BLOCK.search(text):
        return False
    try:
        docs = parse_documents(text, FileFormat.YAML)
    except (FormatError, RecursionError, UnicodeError):
        return False
    leaves = [
        (next((str(p) for p in reversed(path) if isinstance(p, str)), ""), leaf)
        for doc in docs
        if isinstance(doc, MapNode | SeqNode)
        for path, leaf, _ in iter_leaves(doc, EncryptionRule())
        if not isinstance(leaf, Comment)
    ]
    if len(leaves) < _MIN_SETTINGS or _notifies(docs):
        return False
    for key, value in leaves:
        # a login's user name under a key naming auth (``smtp_auth_username``) is judged as
        # any sensitive key's value: three attack reviews made passwords pass as names
        if names_sensitive(key):
            if not is_secret_file_setting(key, value):
                return False
        elif not is_plain_setting(key, value) or (
            isinstance(value, str) and judge_value(key, value) is not None
        ):
            return False
    return True


def _notifies(docs: Sequence[object]) -> bool:
    """Whether a config holds an Alertmanager receiver integration (a ``receivers`` item's
    ``webhook_configs``, ``slack_configs``, ``incidentio_configs`` …): a webhook or chat URL, a
    routing key, each a credential however plain it looks (a heartbeat URL, an ntfy topic: the
    review); the chart's default config has a "null" receiver with none. ``email_configs`` is
    judged value by value instead: an address, a smarthost and a password file's path are
    settings; its ``auth_username`` and ``auth_password`` are sensitive keys' values (sweep 51:
    a receiver of ``to`` alone was an error)."""
    for doc in docs:
        if not isinstance(doc, MapNode | SeqNode):
            continue
        for path, _leaf, _ in iter_leaves(doc, EncryptionRule()):
            names = [p for p in path if isinstance(p, str)]
            if "receivers" in names[:-1] and any(
                n.endswith("_configs") and n != "email_configs"
                for n in names[names.index("receivers") + 1 :]
            ):
                return True
    return False


def _line(lines: Mapping[str, int], key_path: str) -> int | None:
    """The line of ``key_path``; inside an inline patch (text the file holds as one string),
    the line where the patch starts."""
    found = lines.get(key_path)
    head = _PATCHED.match(key_path) if found is None else None
    if head is not None:
        found = lines.get(head.group(0) + "patch") or lines.get(head.group(0).rstrip("."))
    return found


# A storage driver's mount options kept in a Secret (csi-driver-nfs reads ``mountOptions``
# there): only options of NFS and CIFS known to hold no credential, with plain values (sweep
# 42, dapper-cluster: an SM001 error and three SM019 exposures for ``nfsvers=3,hard,nolock``;
# the attack review: a blocklist of credential names let ``pw=…``, ``psk=…``, ``sas=…`` and a
# bare token through)
_MOUNT_KEY = re.compile(r"(?i)(?:^|\.)mount_?options$")
_MOUNT_FLAGS = frozenset(
    (
        *("hard", "soft", "nolock", "lock", "intr", "nointr", "noac", "ac", "ro", "rw"),
        *("sync", "async", "noatime", "nodiratime", "relatime", "atime", "nosuid", "nodev"),
        *("noexec", "suid", "dev", "exec", "bg", "fg", "cto", "nocto", "fsc", "nofail"),
        *("_netdev", "resvport", "noresvport", "nobrl", "noperm", "nounix", "mfsymlinks"),
        *("noserverino", "serverino", "seal", "nosharesock", "tcp", "udp", "rdma", "v3", "v4"),
    )
)
_MOUNT_SETTINGS = frozenset(
    (
        *("nfsvers", "vers", "proto", "timeo", "retrans", "rsize", "wsize", "nconnect"),
        *("actimeo", "acregmin", "acregmax", "acdirmin", "acdirmax", "sec", "port"),
        *("mountport", "mountproto", "local_lock", "lookupcache", "retry", "namlen", "uid"),
        *("gid", "file_mode", "dir_mode", "cache", "iocharset", "minorversion", "max_connect"),
    )
)
_MOUNT_VALUE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,15}$")


def _mount_options(key_path: str, text: str | None) -> bool:
    if text is None or not _MOUNT_KEY.search(key_path):
        return False
    for option in (o.strip() for o in text.strip().split(",")):
        name, eq, value = option.partition("=")
        if not eq and name in _MOUNT_FLAGS:
            continue
        if not (eq and name in _MOUNT_SETTINGS and _MOUNT_VALUE.match(value)):
            return False
    return True


# What sops writes in its metadata block; anything else there is no sops document's
_SOPS_FIELDS = frozenset(
    (
        *("age", "pgp", "kms", "gcp_kms", "hckms", "azure_kv", "hc_vault", "key_groups"),
        *("shamir_threshold", "lastmodified", "mac", "version", "mac_only_encrypted"),
        *("unencrypted_suffix", "encrypted_suffix", "unencrypted_regex", "encrypted_regex"),
        *("unencrypted_comment_regex", "encrypted_comment_regex"),
    )
)
# A key sops left in clear that reads as a word, never as a token or a password
_PLAIN_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?:[_.-][A-Za-z0-9]+)*$")


def _unique_pairs(pairs: list[tuple[str, object]]) -> dict[str, object]:
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("duplicate key")  # the text holds both values; a reader keeps one
    return dict(pairs)


def _sealed(node: object) -> bool:
    """Whether every leaf of ``node`` is well-formed ``ENC[…]`` ciphertext, an empty string or
    null (what sops leaves in clear), under keys that read as words (comments: see the caller)."""
    if isinstance(node, MapNode):
        pairs = [item for item in node.items if not isinstance(item, Comment)]
        return all(
            _PLAIN_KEY.match(key) is not None and not looks_like_token(key) and _sealed(value)
            for key, value in pairs
        )
    if isinstance(node, SeqNode):
        return all(_sealed(item) for item in node.items if not isinstance(item, Comment))
    if node is None or node == "":
        return True
    if not isinstance(node, str) or not is_enc(node):
        return False  # a number, a switch, a string in clear
    try:
        parse_enc(node)
    except FormatError:
        return False
    return True


def _sops_document(text: str) -> bool:
    """Whether ``text`` is a whole SOPS-encrypted JSON or YAML document as sops writes it:
    nothing in clear but its metadata block (known fields only, parsed as sops' metadata), every
    other value well-formed ciphertext, no comment but an encrypted one, no duplicate key.
    Anything less is plaintext as before (the attack review: a made-up ``sops`` block beside a
    number, a comment, a key or a duplicate in clear passed as a warning)."""
    if "sops" not in text or "ENC[" not in text or len(text) > 1 << 20:
        return False
    if re.search(r"#(?!ENC\[)", text):
        return False  # a comment in clear (sops writes only #ENC[…] ones)
    fmt = FileFormat.JSON if text.lstrip().startswith("{") else FileFormat.YAML
    try:
        if fmt is FileFormat.JSON:
            json.loads(text, object_pairs_hook=_unique_pairs)
        docs = parse_documents(text, fmt)
        if len(docs) != 1 or not isinstance(docs[0], MapNode):
            return False
        meta = docs[0].get("sops")
        if not isinstance(meta, MapNode):
            return False
        fields = {item[0] for item in meta.items if not isinstance(item, Comment)}
        if not fields <= _SOPS_FIELDS:
            return False
        parse_metadata(meta)
        mac = meta.get("mac")
        if not isinstance(mac, str):
            return False
        parse_enc(mac)
    except (ValueError, RecursionError, SecretsmgrError):
        return False
    rest = docs[0].without("sops")
    return any(not isinstance(i, Comment) for i in rest.items) and _sealed(rest)


# a file name that says sample, example or template (``secret.sample.yaml``,
# ``secret.example.yaml``, ``values.yaml.tmpl``, ``.env.dist``)
_SAMPLE_NAME = re.compile(
    r"(?i)(?:^|[._-])(?:sample|samples|example|examples|template|tmpl|tpl|dist)(?:[._-]|$)"
)


def is_sample_name(path: str) -> bool:
    """Whether the file name of ``path`` says it is a sample, an example or a template."""
    return _SAMPLE_NAME.search(path.rsplit("/", 1)[-1]) is not None


# a placeholder domain or address (``admin@domain.tld``, ``wss://domain.tld/ws``)
_SAMPLE_DOMAIN = re.compile(
    r"(?i)(?:^|[@/.])(?:domain\.tld|example\.(?:com|org|net)|[a-z0-9-]+\.tld|localhost)(?:$|[:/])"
)
# a run that masks the secret (``XXXXXXXX``, ``########``, ``********``)
_MASKED = re.compile(r"X{6,}|x{6,}|#{6,}|\*{6,}")
# a bracketed variable's name (``"[AUTHENTIK_SECRET_KEY]"``)
_BRACKETED_NAME = re.compile(r"^\[[A-Z][A-Z0-9_]*\]$")


def _sample_words(key_path: str, text: object, value: object) -> bool:
    """Whether a sample's value shows it is one: words of what to put there (`"Redis
    Password"`, `"Retrieve from Authentik"`), a stand-in, a placeholder address or a variable's
    name in brackets, and no known credential format. A random value is a password's even in
    a sample (the third attack review of stop 48: a template's 40-character token passed)."""
    shown = text if isinstance(text, str) else value
    if not isinstance(shown, str) or not shown.strip():
        return False
    shown = shown.strip()
    verdict = judge_value(key_path.rpartition(".")[2], shown)
    if verdict is not None and verdict.known:
        return False
    if stand_in_words(shown) or is_placeholder(shown) or len(set(shown)) <= 2:
        return True
    if _MASKED.search(shown) and not looks_like_token(_MASKED.sub("", shown)):
        return True  # `Bearer XXXXXXXX`, `…/webhooks/##########`: the secret masked
    if looks_like_token(shown) and not _SAMPLE_DOMAIN.search(shown):
        return False
    return bool(_SAMPLE_DOMAIN.search(shown) or _BRACKETED_NAME.match(shown)) or (
        " " in shown and "\n" not in shown
    )


def _known_beside_variables(value: object) -> bool:
    """Whether a value of variables (a config whose credentials are ``${SECRET_…}``) holds a
    credential of a known format in its literal text all the same (sweep 85, wrmilling/
    k3s-gitops: a mautrix bridge's `server_key: ed25519 …` signing key passed, the config's
    other secrets being substituted)."""
    if not isinstance(value, str) or "\n" not in value.strip() or value.startswith("ENC["):
        return False
    verdict = judge_value("", value)
    return verdict is not None and verdict.known


def find_plaintext_secrets(file: ScannedFile) -> list[PlaintextSecret]:
    """Plaintext ``data``/``stringData`` values of Secrets, and secretGenerator literals."""
    found: list[PlaintextSecret] = []
    sample_file = is_sample_name(file.path)
    located: list[DocumentKeys] | None = None
    for number, prefix, obj in numbered_objects(documents(file)):
        here: list[PlaintextSecret] = []
        if is_secret(obj):
            name = label(obj)
            values = list(secret_values(obj))
            # ENC[…] values in a file with no sops: block (it was lost, tcurdt/kube): the
            # secrets were encrypted, kept out of git in clear, like ``${VAR}`` ones
            ciphertext = any(isinstance(v, str) and is_enc(v) for _, v in values)
            substituted = (
                ciphertext
                or _generated_in_cluster(obj)
                or any(_kept_out(key_path, value) for key_path, value in values)
                or any(_stand_in_inside(key_path, value) for key_path, value in values)
            )
            argocd = _argocd_settings(obj)
            substituted_here = not is_disabled(obj)  # Flux leaves a disabled object as written
            for key_path, value in values:
                # the variable the value is, or that its default is (``${A:-${PW}}``)
                variables = handed_on(value) if substituted_here else ()
                if variables:
                    here += [
                        PlaintextSecret(
                            file.path,
                            prefix + key_path,
                            name,
                            envsubst=True,
                            fills=variable,
                            in_secret=key_path,
                        )
                        for variable in variables
                    ]
                    if not (isinstance(value, str) and literal_defaults(value)):
                        continue  # else the text a replacing operator puts in is judged too
                if substituted_here:
                    here += [
                        PlaintextSecret(
                            file.path,
                            prefix + key_path,
                            name,
                            envsubst=True,
                            fills=used,
                            fills_inside=True,
                            fills_key=setting,
                            in_secret=key_path,
                        )
                        for used, setting in _credential_references(value)
                    ]
                if isinstance(value, str) and "${" in value:
                    # variables that all have literal defaults: judged as the value Flux writes
                    # where they are unset, a setting as a setting (the review of stop 53:
                    # `${ENABLE_SIGNUP:=false}` was an error where `false` passed)
                    resolved = resolve_defaults(value)
                    if "${" not in resolved:
                        value = resolved
                    elif resolved != value and _secret_default(value):
                        # beside variables without one (the last review of stop 53:
                        # `postgres://${USER}:${PW:=…}@db` passed)
                        value = _ANY_VARIABLE.sub("x", resolved)
                if is_public_material(key_path, value):
                    continue
                if not is_plaintext_value(value) and not _known_beside_variables(value):
                    continue
                # the text the value hands out, decoded once (under data, from base64)
                text = secret_text(key_path, value)
                if _cluster_address(key_path, text) or (
                    # base64 of a config of variables, a known format in it all the same (the
                    # third attack review of this stop: a Matrix key under data: passed)
                    _encoded_placeholder(key_path, text) and not _known_beside_variables(text)
                ):
                    continue
                named = _own_name(key_path, value)
                if named and not (isinstance(value, str) and value.strip().startswith("$")):
                    continue  # `password: PASSWORD`: an example's stand-in
                if key_path.partition(".")[2] in argocd and _argocd_setting(key_path, value, text):
                    continue
                if _no_secret_config(text) or _empty_json(text) or _mount_options(key_path, text):
                    continue
                if text is not None and _sops_document(text):
                    here.append(
                        PlaintextSecret(file.path, prefix + key_path, name, sops_document=True)
                    )
                    continue
                # a data value that is no base64 (kubectl refuses it) is read as it stands (sweep
                # 72, Benjaminmnoer/iac: `username: k8s-user` beside a `dummy-value` password was
                # an exposure)
                shown = (
                    value
                    if text is None and isinstance(value, str) and _PLAIN_WORD.match(value)
                    else text
                )
                if substituted and _setting(key_path, value, shown):
                    continue
                sampled = sample_file and _sample_words(key_path, text, value)
                here.append(
                    PlaintextSecret(
                        file.path,
                        prefix + key_path,
                        name,
                        beside_ciphertext=ciphertext,
                        envsubst=named or is_envsubst_name(value),
                        variable_name=named,
                        setting=plain_setting(
                            key_path.rpartition(".")[2], text if text is not None else value
                        ),
                        # under data, the value as it stands too: no base64 at all, it is
                        # read as words (sweep 89, josmase/flux: `htpasswd: Replace with …`)
                        stand_in=stand_in_words(text if text is not None else value)
                        or stand_in_words(value)
                        or sampled,
                        sample=sampled,
                    )
                )
        here.extend(_literals(file.path, prefix, obj))
        if here and file.format is not None:
            if located is None:
                text = decode_text(file.data) or ""
                located = key_lines(text, file.format)
            lines = located[number - 1].lines if number <= len(located) else {}
            here = [replace(h, document=number, line=_line(lines, h.key_path)) for h in here]
        found.extend(here)
    return found


def _own_name(key_path: str, value: object) -> bool:
    """A value that is its key's name in capitals (``password: PASSWORD``, ``secret_key:
    SECRET_KEY``): an example's stand-in (sweep 22, tinoha/homelab's ``*.example.yaml``, which
    SM018 passed and SM001 made three errors of); ``password: password`` is a weak password.
    Or that name as a shell variable (``RESTIC_PASSWORD: $RESTIC_PASSWORD``: a template a script
    fills with envsubst or string.Template; sweep 36, mrled/psyops, five errors). Another
    ``$WORDS`` stays a finding: Flux applies it as written, so it may be the password itself
    (``password: $CORRECT_HORSE_BATTERY_STAPLE``, the attack review)."""
    if not isinstance(value, str):
        return False
    key = key_path.partition(".")[2]
    shown = value.strip()
    if shown.startswith("$"):
        shown = shown[1:]
    return (
        len(shown) >= 4
        and shown.isupper()
        and shown == re.sub(r"[^A-Za-z0-9]+", "_", split_camel(key)).strip("_").upper()
    )


def _patch_ops(file: ScannedFile, text: str) -> list[PlaintextSecret]:
    """The plaintext values a JSON 6902 patch file (a list of ``op``/``path``/``value``)
    writes under ``/data`` or ``/stringData``: the check reports them only where a layer's
    kustomization applies the file as a patch to a Secret (or names no target kind)."""
    if "/data" not in text and "/stringData" not in text:
        return []
    found: list[PlaintextSecret] = []
    for number, doc in enumerate(documents(file), start=1):
        if not isinstance(doc, list):
            continue
        secret = json6902_secret(cast(list[object], doc), None)
        if secret is None:
            continue
        for key_path, value in secret_values(secret):
            if not is_plaintext_value(value) or is_public_material(key_path, value):
                continue
            shown = secret_text(key_path, value)
            if _encoded_placeholder(key_path, shown) or _no_secret_config(shown):
                continue
            section, _, key = key_path.partition(".")
            at = text.find(f"/{section}/{key}")
            line = text.count("\n", 0, at) + 1 if at >= 0 else None
            # a ConfigMap has data too, in clear: base64 of text there says Secret
            only = section == "stringData" or (shown is not None and shown != value)
            found.append(
                PlaintextSecret(
                    file.path,
                    key_path,
                    "(patched)",
                    document=number,
                    line=line,
                    patch_ops=True,
                    only_secret=only,
                )
            )
    return found


def detect(file: ScannedFile) -> list[PlaintextSecret]:
    """Plaintext Secrets in a YAML/JSON file that carries no SOPS metadata (SM003's then), and
    any other file whose whole content is a secret (see ``_source``)."""
    if file.sops is not None and file.sops.has_metadata:
        return []
    # a manifest under a name of no structured format (a copy's, or a layer's resource the
    # inventory reads as YAML): its fix renames it to .enc.yaml first
    sniffed = structured_format(file.path) is None
    if file.format is FileFormat.DOTENV:
        return _env_source(file)
    if file.format is FileFormat.JSON and b'"auths"' in file.data:
        # a registry login under a JSON name (`.dockerconfigjson=dockerconfig.json`: the attack
        # review of sweep 87), reported where a secretGenerator reads it under files:
        text = decode_text(file.data)
        if text is not None and _registry_login(text):
            return [PlaintextSecret(file.path, "", "", source="a registry login (auths)")]
    if file.format is None:
        if not _COPY_NAME.search(file.path) or not _secret_manifest(file.data):
            # one line of JSON is one token too: a manifest first
            held = _source(file.data, file.path)
            return [] if held is None else [PlaintextSecret(file.path, "", "", source=held)]
        # a Secret manifest under another name (secret.txt, a .bak copy, no extension):
        # kustomize reads any name a kustomization lists, and git holds it all the same
        file = replace(file, format=FileFormat.YAML)
    if is_too_large(len(file.data)):
        # Refusing to parse must not mean passing: a file too large to read is not cleared.
        lowered = file.data.lower()
        if b"Secret" in file.data or any(
            w in lowered for w in (b"secretgenerator", b"\\", b"\x00")
        ):
            return [PlaintextSecret(file.path, "(not read)", "", unread=True)]
        return []
    text = decode_text(file.data)
    if text is None:
        return []
    patched = _patch_ops(file, text)
    if not (
        may_hold_secret_kind(text)
        or may_mention(text.casefold(), "secretgenerator")
        # a patch by a target's name or labels writes stringData into a Secret whatever kind
        # it says (the second attack review of stop 52)
        or may_mention(text, "stringData")
    ):
        # no kind: Secret can parse out of it (secretRef, ExternalSecret are no such)
        return patched
    found = find_plaintext_secrets(file) + patched
    if not found and not documents(file) and file.format is FileFormat.YAML:
        found = _unparsed_secrets(file.path, text)
    if found and file.format in (FileFormat.YAML, FileFormat.JSON):
        shape = frozenset(leaf for doc in documents(file) for leaf in _leaves(doc))
        found = [replace(hit, shape=shape) for hit in found]
    if file.data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        found = [replace(hit, utf16=True) for hit in found]
    elif "\ufffd" in text and not _utf8(file.data):
        how = _reencoding(file.data, documents(file))
        found = [replace(hit, not_utf8=how) for hit in found]
    return [replace(hit, sniffed=True) for hit in found] if sniffed else found


def _reencoding(data: bytes, docs: Sequence[object]) -> str:
    """How a text that is not UTF-8 becomes UTF-8 with its values kept: ``drop`` when no key or
    value of its documents holds the bytes (they sit in comments: dropping them changes no
    value), ``legacy`` when they do and no byte of it reads as UTF-8 beyond ASCII (one legacy
    encoding throughout, Windows-1252 most often, but only its author knows: Windows-1251 reads
    as other letters), else ``hand`` (mixed). The attack reviews of stop 49: dropping the bytes
    changed a password, also one in a block scalar's `#` line; Windows-1252 misread a
    Cyrillic one."""
    if not any("\ufffd" in text for doc in docs for text in _texts(doc)):
        return "drop"
    decoded = data.decode("utf-8", "replace")
    return "legacy" if all(ch == "\ufffd" for ch in decoded if ord(ch) > 127) else "hand"


def _texts(node: object) -> Iterator[str]:
    """Every key and string value of a plain parsed document."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield str(key)
            yield from _texts(value)
    elif isinstance(node, list):
        for value in node:
            yield from _texts(value)
    elif isinstance(node, str):
        yield node


def _utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


# Names a manifest gets as a copy or a plain file (no extension, .txt, a backup): a template's
# (.j2, .tpl), an example's or a script's name says it is no manifest to apply
_COPY_NAME = re.compile(
    r"(?:^|/)[^/.]+$|\.(?:txt|bak|backup|old|orig|save|copy|tmp|out"
    # what sops -d output is named (the second review: db.yaml.dec passed)
    r"|dec|decrypted|plain|plaintext|unencrypted|cleartext|clear|local)$|~$",
    re.IGNORECASE,
)


def _secret_manifest(data: bytes) -> bool:
    """Whether a file of no structured format is a Secret manifest: YAML or JSON that parses to
    a Secret (``kubectl get secret -o json``, a ``kind: List`` backup), or, when it does not
    parse, a YAML layout with ``kind: Secret`` and ``apiVersion:`` at column 0 and nothing but
    top-level keys, document markers and comments at column 0 (for the line reader)."""
    if is_too_large(len(data)) or b"Secret" not in data:
        return False
    text = decode_text(data)
    if text is None:
        return False
    try:
        docs = safe_load_all(text)
    except (FormatError, RecursionError):
        lines = text.splitlines()
        return (
            any(_KIND_SECRET.match(line) for line in lines)
            and any(line.startswith("apiVersion:") for line in lines)
            and all(_YAML_TOP.match(line) for line in lines)
        )
    return any(is_secret(obj) for _, _, obj in numbered_objects(docs))


# Every line at column 0 of a manifest: a key, a document marker, a comment, or nothing there
# (a script or a document that quotes a manifest has other lines at column 0)
_YAML_TOP = re.compile(r"^(?:[\s#]|$|---|\.\.\.|[\"']?[A-Za-z_][\w.-]*[\"']?[ \t]*:(?:[ \t]|$))")


# Read line by line when a YAML file does not parse: a Secret's own lines at column 0
_KIND_SECRET = re.compile(r"^kind:[ \t]*([\"']?)Secret\1[ \t]*(?:#.*)?$")
_SECTION = re.compile(r"^(data|stringData|metadata):[ \t]*(?:#.*)?$")
_NAME = re.compile(r"(?:^metadata:[ \t]*\{.*?|^[ \t]+)\bname:[ \t]*[\"']?([\w.-]{1,253})")
_ENTRY = re.compile(r"^([ \t]+)([\"']?)([\w.-]{1,253})\2[ \t]*:(?:[ \t]+(.*))?$")
_BLOCK = re.compile(r"^[|>][-+0-9]*$")
_PROPERTY = re.compile(r"^(?:(?:&[^\s]+|![^\s]*)[ \t]+)+")  # an anchor or a tag before a value


def _deeper(line: str, indent: str) -> bool:
    """Whether ``line`` is indented deeper than ``indent``."""
    return line.startswith(indent) and len(line) - len(line.lstrip()) > len(indent)


def _template_outside_values(lines: list[str]) -> bool:
    """Whether template actions (``{{``, ``{%``) appear on a line that is no comment and not
    inside a column-0 ``data:``/``stringData:`` section: a Helm chart's Secret is, an
    Alertmanager config with ``{{ template … }}`` in a Secret's value is not (the second
    review of sweep 12)."""
    section = False
    for line in lines:
        if line and not line[0].isspace() and not line.startswith("#"):
            section = _SECTION.match(line) is not None and not line.startswith("metadata")
            if "{{" in line or "{%" in line:
                return True
            continue
        if line.lstrip().startswith("#") or section:
            continue
        if "{{" in line or "{%" in line:
            return True
    return False


def _unparsed_secrets(path: str, text: str) -> list[PlaintextSecret]:
    """The plaintext values of Secrets in a YAML file that does not parse (a password with a
    character YAML reserves, a tab, a stray quote): kustomize cannot build it, yet git holds
    the value all the same. Only a Secret's own layout is read: ``kind: Secret`` and
    ``data:``/``stringData:`` at column 0, one ``key: value`` per line below (what looks like a
    flow collection or an alias there is a value too: a Secret's values are strings, and such a
    password is often what broke the file). A file with a ``sops:`` block (SM006's) or template
    actions outside comments (a Helm chart's, skipped as unparsable templates are) is left
    alone."""
    lines = text.splitlines()
    if "/templates/" in f"/{path}" or _template_outside_values(lines):
        return []  # a template (a comment, or a value, that quotes one does not make it one)
    if any(line.startswith("sops:") for line in lines):
        return []
    found: list[PlaintextSecret] = []
    starts = [0, *(i for i, line in enumerate(lines) if line.startswith("---"))]
    ends = [*starts[1:], len(lines)]
    for number, (start, end) in enumerate(zip(starts, ends, strict=True), start=1):
        doc = lines[start:end]
        if not any(_KIND_SECRET.match(line) for line in doc):
            continue
        name = "(unnamed)"
        here: list[tuple[int, str, str]] = []  # (line, section, key)
        section: str | None = None
        block: str | None = None  # the indent of a block scalar's key: deeper lines are text
        for offset, line in enumerate(doc):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            if block is not None and _deeper(line, block):
                continue  # a block scalar's text, read with its key
            block = None
            if not line[0].isspace():
                head = _SECTION.match(line)
                section = head.group(1) if head else None
                if line.startswith("metadata:") and (m := _NAME.match(line)):
                    name = m.group(1)
                continue
            if section == "metadata":
                if name == "(unnamed)" and (m := _NAME.match(line)):
                    name = m.group(1)
                continue
            # every key: value line of the section, also one indented deeper than the one
            # above (such a line is often what broke the file: the second review)
            entry = _ENTRY.match(line) if section is not None else None
            if entry is None:
                continue  # a plain value continued from the line above
            indent = entry.group(1)
            value = re.sub(r"[ \t]+#.*$", "", entry.group(4) or "").strip()
            value = _PROPERTY.sub("", value)
            below = [x for x in doc[offset + 1 :] if x.strip()]
            if _BLOCK.match(value):  # the lines below, deeper than the key
                held: list[str] = []
                for x in doc[offset + 1 :]:
                    if x.strip() and not _deeper(x, indent):
                        break
                    held.append(x.strip())
                value, block = "\n".join(held).strip(), indent
            elif not value and below and _deeper(below[0], indent) and not _ENTRY.match(below[0]):
                value = below[0].strip()  # the value on the line after its key
            value = value.strip("\"'")
            key_path = f"{section}.{entry.group(3)}"
            if not value or not is_plaintext_value(value) or is_public_material(key_path, value):
                continue
            here.append((start + offset + 1, section or "", entry.group(3)))
        found += [
            PlaintextSecret(path, f"{sec}.{key}", name, document=number, line=at, unparsed=True)
            for at, sec, key in here
        ]
    return found


_SOURCE_MAX = 16 * 1024  # a password or a key file; larger ones are data
_TOKEN = re.compile(r"^\S{8,512}$")


def _source(data: bytes, path: str = "") -> str | None:
    """What a file that is no structured format holds when its content is a secret: a private
    key block, a config line that sets a credential to a value of its own (a ``.netrc``'s
    password, rclone's ``secret_access_key = …``, Redis's ``requirepass``, WireGuard's
    ``PrivateKey``, an XML ``<password>``, a ``.pgpass`` line), one token (a password file), or
    one line under a name that names a secret (a PIN; words under a passphrase's name). A
    secretGenerator ``files:`` source becomes a Secret value as it is; the check reports it only
    where a layer reads it so (the attack review of stop 44: all but the one token passed)."""
    if len(data) > _SOURCE_MAX:
        return None
    held = _der_private_key(data)
    if held is not None:
        return held
    if b"\x00" in data:
        return None
    text = decode_text(data)
    if text is None:
        return None
    if PRIVATE_KEY_BLOCK.search(text):
        return "a private key"
    if _registry_login(text):
        return "a registry login (auths)"
    name = posixpath.basename(path)
    for number, line in enumerate(text.splitlines(), start=1):
        key = config_credential(line, name)
        if key is not None:
            return f"a credential ({key}, line {number})"
        if url_credential(line):
            # a .git-credentials line, a proxy's address (the fifth attack review of the gate:
            # under a file name with no extension, an https URL passed as "an address")
            return f"a URL's password (line {number})"
    known = known_in_lines(text)
    if known is not None and known.kind != "Basic Auth Credentials":  # URLs: judged above
        # a token in a config of its own (a .gitconfig's extraheader: the seventh attack review)
        return f"a credential ({known.kind})"
    value = text.strip()
    if is_password_hash(value):
        return None  # htpasswd's bcrypt login (the seventh attack review: one line was a secret)
    if "\n" in value:
        return _token_line(value)
    if is_placeholder(value) or is_public_material("", value):
        return None
    if value.startswith(("-----BEGIN", "ENC[", "/", "./")) or _SCHEME.match(value):
        return None  # a certificate, a path, an address (one with a password is found above)
    if _DOMAIN.fullmatch(value) and not looks_like_token(value):
        return None  # a domain's name (example.org), not a password
    if _TOKEN.match(value):
        return "a secret value"
    stem = name.partition(".")[0]
    if " " in value:
        # words: a passphrase only under a name that says so (a policy's text is no secret)
        return "a secret value" if _PASSPHRASE_NAME.search(stem) and len(value) <= 256 else None
    if 4 <= len(value) <= 512 and stem and names_sensitive(stem):
        return "a secret value"  # db-pin: the file's name says what it is
    return None


_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]{0,31}://")


def _token_line(text: str) -> str | None:
    """In a file of two to four one-word lines (a user's name, then a password: an auth file),
    the line that is a random token (the fourth attack review of the gate: `admin` and a token
    on the next line passed, where the token alone was reported); a list of names, hosts,
    addresses or paths is none."""
    lines = [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    if not 2 <= len(lines) <= 4 or any(" " in line or "\t" in line for _, line in lines):
        return None
    for number, line in lines:
        if (
            _TOKEN.match(line)
            and _random_token(line)
            and not is_placeholder(line)
            and not is_public_material("", line)
        ):
            return f"a secret value (line {number})"
    return None


def _der_private_key(data: bytes) -> str | None:
    """Whether ``data`` is a private key in DER, binary with no PEM armour (``openssl pkcs8
    -topk8 -nocrypt -outform DER``), or a PKCS#12 keystore holding one that opens with no
    password (the attack reviews of stop 52: each passed under a secretGenerator's files:): one
    ASN.1 SEQUENCE spanning the whole file, parsed."""
    if len(data) < 32 or data[0] != 0x30:
        return None
    if data[1] == 0x83:  # a keystore with a long chain (64 KiB or more)
        whole = len(data) == 5 + int.from_bytes(data[2:5], "big")
    elif data[1] == 0x82:
        whole = len(data) == 4 + int.from_bytes(data[2:4], "big")
    elif data[1] == 0x81:
        whole = len(data) == 3 + data[2]
    else:
        whole = len(data) == 2 + data[1]
    if not whole:
        return None
    if der_is_private_key(data):
        return "a private key (DER)"
    if der_is_open_keystore(data):
        return "a keystore (PKCS#12) whose private key opens with no password"
    return None


def _registry_login(text: str) -> bool:
    """Whether ``text`` is a registry's login as a ``.dockerconfigjson`` holds it: ``auths``
    with an ``auth``, ``password`` or ``identitytoken`` of its own (sweep 87's gate corpus:
    one a secretGenerator reads under ``files:`` passed)."""
    if '"auths"' not in text:
        return False
    try:
        doc = json.loads(text)
    except ValueError:
        return False
    auths = doc.get("auths") if isinstance(doc, dict) else None
    return isinstance(auths, dict) and any(
        isinstance(login, dict)
        and any(
            isinstance(login.get(k), str) and login[k].strip() and not is_placeholder(login[k])
            for k in ("auth", "password", "identitytoken")
        )
        for login in auths.values()
    )


_DOMAIN = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,24}")
_PASSPHRASE_NAME = re.compile(r"(?i)pass-?phrase|mnemonic|seed-?words")
_ENV_MAX = 256 * 1024
# kustomize's keys: letters, digits, ``-``, ``_`` and ``.`` (a ``.dockerconfigjson`` too)
_ENV_LINE = re.compile(r"^[ \t]*(?:export[ \t]+)?([-._A-Za-z0-9]+)[ \t]*=(.*)$")
_ENV_FROM_ENVIRONMENT = re.compile(r"^[ \t]*[-._A-Za-z0-9]+[ \t]*$")


def _env_source(file: ScannedFile) -> list[PlaintextSecret]:
    """The plaintext values of a file of ``KEY=value`` lines, which a secretGenerator's
    ``envs:`` puts in a Secret one key each (kustomize reads such a file under any name); the
    check reports them only where a layer's generator reads the file so. A line with a key
    alone takes its value from the environment of the build: nothing committed. A line that
    is no ``KEY=value`` is passed over (kustomize refuses it, git holds the rest all the same).
    Beside a value kept out of git (``${VAR}``, an empty credential), a setting is no secret,
    as in a Secret manifest."""
    if len(file.data) > _ENV_MAX or b"=" not in file.data or b"\x00" in file.data:
        return []
    text = decode_text(file.data)
    if text is None:
        return []
    pairs: list[tuple[int, str, str]] = []
    bare = 0  # the first line with a key alone: sops's dotenv store refuses it
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        if _ENV_FROM_ENVIRONMENT.match(raw):
            bare = bare or number
            continue
        m = _ENV_LINE.match(raw)
        if m is not None:
            pairs.append((number, m.group(1), m.group(2).strip().strip("\"'")))
    kept_out = any(_kept_out(key, value) for _, key, value in pairs)
    return [
        PlaintextSecret(
            file.path,
            key,
            "",
            line=number,
            env_source=True,
            env_bare=bare,
            # a password's, token's or secret's key, or a value the detectors flag (not any
            # KEY word: MINIO_KMS_KES_KEY_FILE names a file, the sweep regression)
            credential=names_password(key) or judge_value(key, value) is not None,
        )
        for number, key, value in pairs
        if value
        and not is_placeholder(value)
        and not is_public_material(key, value)
        and not (kept_out and _setting(key, value, value))
    ]


_RENAMED = re.compile(r"^(?P<stem>.+?)(?P<ext>\.(?:ya?ml|json))$")
# what a SOPS name or a decrypted copy's name adds to a file's stem (db.enc, db.dec)
_COPY_WORD = re.compile(
    r"\.(?:enc|sops|dec|decrypted|plain|plaintext|unencrypted|cleartext|clear)$", re.IGNORECASE
)


# Where a kustomization lists a file (GNU sed -E): a block item (``- db.yaml``), a line of a
# multi-line flow list, or an item of a flow list (``[a.yaml, db.yaml]``); quoted or not, with a
# ``./`` or not, before the end of the line, a comment, a comma or the closing bracket.
_LISTED_BEFORE = (
    r"""(^[[:space:]]*-[[:space:]]*["\x27]?|^[[:space:]]*["\x27]?|[[,][[:space:]]*["\x27]?"""
    # a patches: entry (``- path: db.yaml``): the second review of sweep 13
    r"""|^[[:space:]]*-?[[:space:]]*path:[[:space:]]*["\x27]?)"""
)
_LISTED_AFTER = r"""(["\x27]?[[:space:]]*($|[],#]))"""


def _sed_rename(old: str, new: str, kfile: str) -> str:
    """The sed command that renames the entry ``old`` to ``new`` in ``kfile`` (run twice, so
    that two entries side by side in a flow list both change)."""
    name = re.sub(r"([\\.\[\](){}*+?|^$/])", r"\\\1", old)
    replacement = re.sub(r"([\\&/])", r"\\\1", new)
    expr = f"s/{_LISTED_BEFORE}(\\.\\/)?{name}{_LISTED_AFTER}/\\1\\2{replacement}\\3/g"
    script = shlex.quote(expr)  # a name holding a quote cannot end the script early
    return f"sed -i -E -e {script} -e {script} {sh_path(kfile)}"


def _listings(ctx: AuditContext, path: str, target: str) -> list[tuple[str, str, str]]:
    """(kustomization file, entry now, entry after the rename) for the kustomization of the
    file's own folder and each one above it whose text names the file by its path from there
    (``app/db.yaml`` in the parent's ``resources:``: the review of sweep 12 left it unedited)."""
    files = set(ctx.repo.all_files)
    found: list[tuple[str, str, str]] = []
    folder = own = posixpath.dirname(path)
    while True:
        for name in KUSTOMIZATION_NAMES:
            kfile = posixpath.join(folder, name)
            if kfile not in files:
                continue
            old = posixpath.relpath(path, folder or ".")
            if folder == own or old in _read(ctx.repo.root / kfile):
                found.append((kfile, old, posixpath.relpath(target, folder or ".")))
            break
        if not folder:
            break
        folder = posixpath.dirname(folder)
    # and a kustomization beside or below another folder that names it by a path climbing out
    # of its own (sweep 51, RovxBot/homelab-infra: each app's `../../secrets/NAME`, left naming
    # a file no longer there: the layer's build failed, and check passed)
    for kfile in ctx.repo.all_files:
        folder = posixpath.dirname(kfile)
        if posixpath.basename(kfile) not in KUSTOMIZATION_NAMES or any(
            k == kfile for k, _old, _new in found
        ):
            continue
        old = posixpath.relpath(path, folder or ".")
        if old.startswith("../") and old in _read(ctx.repo.root / kfile):
            found.append((kfile, old, posixpath.relpath(target, folder or ".")))
    return found


def _naming(
    ctx: AuditContext,
    path: str,
    target: str,
    listings: list[tuple[str, str, str]] | None = None,
) -> list[tuple[str, str, str]]:
    """``_listings`` (given, or found) whose text names the file (its own folder's
    kustomization may name none: sweep 49, mrzjordan16/flux-Error's, a Flux object)."""
    return [
        (kfile, entry, new)
        for kfile, entry, new in (
            listings if listings is not None else _listings(ctx, path, target)
        )
        if entry in _read(ctx.repo.root / kfile)
    ]


def renamed_entries(ctx: AuditContext, path: str, back: str) -> list[str]:
    """The commands that rename the entry ``path`` back to ``back`` in each kustomization file
    that names ``path``, and stage it."""
    return [
        f"{_sed_rename(entry, target, kfile)} && git add {sh_path(kfile)}"
        for kfile, entry, target in _naming(ctx, path, back)
    ]


def listed_by(ctx: AuditContext, path: str) -> list[str]:
    """The kustomization files a live layer builds that name ``path``: its own folder's, and
    each above it whose text names it by its path from there; else any whose text names it by
    its path from its own folder (a sibling's ``../db/secret.enc.yaml``: the attack review)."""
    found = [k for k, _old, _new in _listings(ctx, path, path) if ctx.repo.layers_of(k)]
    if found:
        return found
    return [
        kfile
        for kfile in ctx.repo.all_files
        if posixpath.basename(kfile) in KUSTOMIZATION_NAMES
        and ctx.repo.layers_of(kfile)
        and posixpath.relpath(path, posixpath.dirname(kfile) or ".") in _read(ctx.repo.root / kfile)
    ]


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


_OWN_SUFFIX = re.compile(
    r"(?:\.[A-Za-z0-9_-]{1,16}){0,2}\.(?:enc|sops|secret|encrypted)(?:\.[A-Za-z0-9_-]{1,16})?$"
)


# a whole file name (before its extension) that names an encrypted secret, nothing else
_NAMING_STEM = re.compile(r"(?:secrets?|credentials|creds)(?:\.(?:enc|sops|encrypted))?")


def _with_suffix(stem: str, suffix: str) -> str:
    """``stem`` given one of the repository's endings, its naming word once: ``db`` and
    ``.secret.sops.yaml`` make ``db.secret.sops.yaml``, ``00_secret`` makes
    ``00_secret.sops.yaml`` (never ``secret.secret.sops.yaml``)."""
    word, dot, rest = suffix[1:].partition(".")
    last = re.split(r"[._-]", posixpath.basename(stem))[-1]
    if (
        dot
        and _NAMING_STEM.fullmatch(word)
        and last.lower().rstrip("s") == word.lower().rstrip("s")
    ):
        return f"{stem}.{rest}"
    return f"{stem}{suffix}"


def _own_suffixes(ctx: AuditContext, ext: str) -> list[str]:
    """The endings of the repository's SOPS file names before ``ext`` that name encryption
    (``.enc.age``, ``.secret.sops``), most used first; at most three."""
    counts: Counter[str] = Counter()
    # the SOPS files read, and those `check` did not read that are named like one
    read = [e.path for e in ctx.repo.sops_files if e.sops_file is not None]
    for path in sorted((*read, *ctx.repo.unread_sops_named)):
        name = posixpath.basename(path)
        if not name.endswith(ext):
            continue
        stem = name[: -len(ext)]
        if _NAMING_STEM.fullmatch(stem):
            # files named for what they are, one a folder (`secret.sops.yaml`): a new one is
            # `db.secret.sops.yaml`, which a rule like `.+secret(\.sops)?\.ya?ml` matches
            # (sweep 75, angelnu/k8s-gitops: the fix added a rule of its own instead)
            counts[f".{stem}{ext}"] += 1
            continue
        found = _OWN_SUFFIX.search(stem)
        if found is not None and found.start() > 0:
            counts[found[0] + ext] += 1
    return [suffix for suffix, _ in counts.most_common(3)]


# a name's start that says it is encrypted (`secret-sops-cloudflare.yaml`, `sops.db.yaml`)
_OWN_PREFIX = re.compile(r"^(?:(?:secrets?|creds?)[-_.])?(?:sops|enc|encrypted)[-_.]", re.I)


def _own_prefixes(ctx: AuditContext, ext: str) -> list[str]:
    """The starts of the repository's SOPS file names that name encryption (`secret-sops-`),
    most used first; at most two (sweep 80, emerconn/fleet-infra: its rule matches
    `secret-sops.*.yaml`, and the fix added a rule for `.enc.yaml` instead of the rename)."""
    counts: Counter[str] = Counter()
    read = [e.path for e in ctx.repo.sops_files if e.sops_file is not None]
    for path in (*read, *ctx.repo.unread_sops_named):
        name = posixpath.basename(path)
        found = _OWN_PREFIX.match(name) if name.endswith(ext) else None
        if found is not None and len(name) > found.end() + len(ext):
            counts[found[0]] += 1
    return [prefix for prefix, _ in counts.most_common(2)]


def _keys_of_clusters_applying(ctx: AuditContext, path: str) -> list[str]:
    """The age key of each cluster whose layers apply ``path``: pinned under ``clusters:``, or
    by the rules of the files it alone applies; else the repository's cluster key (sweep 75,
    angelnu/k8s-gitops: the rule a fix added for a file both clusters apply named prod's key
    only, and the test cluster could not decrypt the file)."""
    repo = ctx.repo
    keys: dict[str, None] = {}
    for name in repo.layers.clusters_of(path):
        cluster = repo.layers.cluster(name)
        if cluster is not None and cluster.cluster_key:
            keys[cluster.cluster_key] = None
        else:
            keys.update(dict.fromkeys(repo.own_rule_keys.get(name, ())))
    return list(keys) or list(repo.cluster_keys[:1])


def _rules_pgp(config: SopsConfig | None) -> list[str]:
    """The PGP fingerprints every rule of ``config`` names, when its rules name PGP keys and no
    age key (a repository whose Flux decrypts with sops-gpg); else none."""
    if config is None or not config.rules:
        return []
    groups = [g for rule in config.rules for g in rule.key_groups]
    if any(g.age for g in groups):
        return []
    common: dict[str, None] | None = None
    for rule in config.rules:
        named = dict.fromkeys(fp for g in rule.key_groups for fp in g.pgp)
        common = named if common is None else {k: None for k in common if k in named}
    return list(common or {})


def _shared_key(ctx: AuditContext) -> tuple[str, str] | None:
    """(kind, key) of the one key every SOPS file of the repository is encrypted to: a PGP
    fingerprint, a KMS or Vault key id, or an age key; None when they differ or none is."""
    common: set[tuple[str, str]] | None = None
    for entry in ctx.repo.sops_files:
        sf = entry.sops_file
        if sf is None:
            continue
        keys = _keys_on(sf.metadata)
        common = keys if common is None else common & keys
    if not common or len(common) != 1:
        return None
    return next(iter(common))


# sops's flag for a key of each kind a file's metadata names
_SOPS_KEY_FLAGS = {
    "pgp": "--pgp",
    "kms": "--kms",
    "gcp_kms": "--gcp-kms",
    "azure_kv": "--azure-kv",
    "hc_vault": "--hc-vault-transit",
}


# a one-word value read as it stands under data: when it is no base64 (a user name)
_PLAIN_WORD = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")

_MANIFEST_FIELDS = (("apiVersion",), ("kind",), ("metadata", "name"))


def _rule_misfit(ctx: AuditContext, path: str, key_path: str) -> str | None:
    """The file's creation rule would not make a Secret Flux applies (sweep 72): its
    ``encrypted_regex`` leaves the value in clear (sulibot/home-ops: a rule for other keys'
    names; check then said SM003), or it encrypts what kustomize and Flux read in clear,
    ``apiVersion``, ``kind`` and ``metadata`` (Ramblurr/home-ops: a catch-all rule; SM015).
    The fix is a rule of the file's own above it."""
    if not key_path.startswith(("data.", "stringData.")):
        return None  # a List's item or a generator's literal: judged elsewhere
    where, rule, number = ctx.repo.sops_configs.rule_for(path)
    if rule is None or not any(g.age or g.pgp or g.other for g in rule.key_groups):
        return None
    spec = rule.encryption_rule
    try:
        judged = EncryptionRule(RuleKind(spec.kind), spec.value) if spec else EncryptionRule()
    except (FormatError, ValueError):
        return None
    value_path = tuple(key_path.split(".", 1)) if "." in key_path else (key_path,)
    clear = not path_is_encrypted(judged, value_path)
    hides = any(path_is_encrypted(judged, field) for field in _MANIFEST_FIELDS)
    if not clear and not hides:
        return None
    what = (
        f"would leave {key_path} in clear"
        if clear
        else "would encrypt apiVersion, kind and metadata too, which Flux cannot apply"
    )
    how = f"{spec.kind}: {spec.value}" if spec else "no encrypted_regex: every value"
    return (
        f"{where or '.sops.yaml'} rule {number} {what} ({how}): add a rule for this file above "
        f"rule {number} (a path_regex for its name, the cluster's keys, encrypted_regex: "
        f"^(data|stringData)$), then {ctx.repo.sops_configs.encrypt_command(path)}"
    )


def _keyless_rule_hint(ctx: AuditContext, path: str, where: str | None, number: int | None) -> str:
    """The file's creation rule names no key (sops takes them from the environment then:
    ``SOPS_PGP_FP``, ``SOPS_AGE_RECIPIENTS``), so a pasted ``encrypt -i`` finds none (sweep 71,
    FruitieX/homelab): encrypt to the key every other SOPS file is on, naming it."""
    rule = f"{where or '.sops.yaml'} rule {number}"
    shared = _shared_key(ctx)
    if shared is None:
        near = _nearby_key(ctx, path)
        if near is not None:
            return _nearby_hint(ctx, path, rule, *near)
        return (
            f"{rule} names no key, so encrypt finds none to encrypt to: name the cluster's key "
            f"in it (age: age1…, or pgp: FINGERPRINT), then "
            f"{ctx.repo.sops_configs.encrypt_command(path)}"
        )
    kind, key = shared
    command = _encrypt_to(ctx, path, kind, key)
    spare = f"add {kind}: {key} to that rule to spare the flag next time"
    if not command:
        return (
            f"{rule} names no key, and every SOPS file here is on {kind} key {key}: {spare}, "
            "then encrypt it with sops"
        )
    return (
        f"{rule} names no key, so encrypt finds none; every SOPS file here is on {kind} key "
        f"{key}: {command}; {spare}"
    )


_NEIGHBOURS = 50  # SOPS files read for their keys, at most, in a folder with none judged


def _keys_of(ctx: AuditContext, paths: Sequence[str]) -> list[set[tuple[str, str]]]:
    """The keys each SOPS file of ``paths`` is encrypted to: from the run's own entries, else
    read from the working tree (``check`` judges the staged files only)."""
    from secretsmgr.repo.sopsentry import read_sops_entry

    entries = {e.path: e for e in ctx.repo.sops_files}
    found = []
    for rel in paths[:_NEIGHBOURS]:
        entry = entries.get(rel)
        if entry is None:
            fmt = structured_format(rel)
            data = _neighbour_bytes(ctx.repo.root, rel) if fmt is not None else None
            entry = read_sops_entry(rel, data, fmt) if fmt is not None and data else None
        sf = entry.sops_file if entry is not None else None
        if sf is not None:
            found.append(_keys_on(sf.metadata))
    return found


def _keys_on(meta: SopsMetadata) -> set[tuple[str, str]]:
    """(kind, key) of every key a SOPS file is encrypted to (``age``, ``pgp``, ``kms``…)."""
    keys = {("age", k) for k in meta.age_recipients}
    return keys | {(kind, k) for g in meta.key_groups for kind, k in g.foreign_ids()}


_NEIGHBOUR_BYTES = 1 << 20  # a SOPS file read for its keys, at most


def _neighbour_bytes(root: Path, rel: str) -> bytes | None:
    """The bytes of the regular file ``rel`` of the working tree, never through a link, never
    more than ``_NEIGHBOUR_BYTES`` (the attack review of stop 49: a link to a file outside the
    repository was read and its key named, a link to a FIFO hung check, one to /dev/zero
    crashed it); None otherwise."""
    from secretsmgr.errors import SecretsmgrError
    from secretsmgr.fsutil import confined, read_regular

    try:
        disk, _ = confined(root, rel)  # no link on the way
        data = read_regular(disk, limit=_NEIGHBOUR_BYTES, links=False)  # nor as the file
    except (OSError, SecretsmgrError):
        return None
    return data if len(data) <= _NEIGHBOUR_BYTES else None


def _nearby_key(ctx: AuditContext, path: str) -> tuple[str, str, str] | None:
    """(kind, key, folder): the one key the SOPS files of the nearest folder above ``path``
    that holds any are all encrypted to (hmcts/sds-flux-config, sweep 93: one rule of no key
    for nine environments, each on its own Azure Key Vault key, and the fix said to name an age
    or PGP key, which the cluster could not read)."""
    from secretsmgr.repo.sopsentry import is_named_sops

    folder = posixpath.dirname(path)
    while True:
        below = f"{folder}/" if folder else ""
        named = [p for p in ctx.repo.all_files if p.startswith(below) and p != path]
        held = _keys_of(ctx, [p for p in named if is_named_sops(p)])
        if held:
            common = set.intersection(*held)
            if len(common) != 1:
                return None
            kind, key = next(iter(common))
            return kind, key, folder
        if not folder:
            return None
        folder = posixpath.dirname(folder)


def _encrypt_to(ctx: AuditContext, path: str, kind: str, key: str) -> str:
    """The command that encrypts ``path`` to the one key ``key`` of ``kind``: ``secretsmgr
    encrypt --age`` or sops with the kind's flag; "" for a kind sops has no flag for."""
    if kind == "age":
        return f"secretsmgr encrypt --age {key} -i {sh_path(path)}"
    if kind in _SOPS_KEY_FLAGS:
        return ctx.repo.sops_configs.sops_command(f"encrypt {_SOPS_KEY_FLAGS[kind]} {key} -i", path)
    return ""


def _nearby_hint(ctx: AuditContext, path: str, rule: str, kind: str, key: str, folder: str) -> str:
    """The fix for a file under a rule of no key, from the key its neighbours are on."""
    where = f"{folder}/" if folder else "the repository's root"
    command = _encrypt_to(ctx, path, kind, key)
    if not command:
        return (
            f"{rule} names no key, and every SOPS file below {where} is on {kind} key {key}: "
            "encrypt it with sops to that key"
        )
    return (
        f"{rule} names no key, so encrypt finds none; every SOPS file below {where} is on "
        f"{kind} key {key}: {command}"
    )


def rename_hint(
    ctx: AuditContext, path: str, *, yaml_name: bool = False, secret: str | None = None
) -> str:
    """``_rename_hint``, said with what sops needs first when the command is sops's under a rule
    that names PGP keys: each key's public half in the GnuPG keyring (sweep 75,
    carpenike/k8s-gitops: pasted, `sops encrypt -i` printed "gpg: …: skipped: No public key"
    and left the file in clear)."""
    ext, target, names = _rename_names(ctx, path, yaml_name=yaml_name)
    original = _encrypted_original(ctx, path, names, secret)
    if original is not None:
        return _take_out_copy(path, original)
    hint = _rename_hint(ctx, path, ext, target, names, yaml_name=yaml_name)
    return pgp_first(ctx, (path, *names), hint)


def pgp_first(ctx: AuditContext, paths: Sequence[str], hint: str) -> str:
    """``hint``, after what sops needs first when it runs sops under a rule (of one of
    ``paths``) that names PGP keys: each key's public half in the GnuPG keyring."""
    if "sops encrypt" not in hint:
        return hint
    rules = [ctx.repo.sops_configs.rule_for(p)[1] for p in paths]
    if any(r is not None and any(g.pgp for g in r.key_groups) for r in rules):
        return (
            "with the public half of each PGP key the rule names in your GnuPG keyring "
            f"(gpg --import): {hint}"
        )
    return hint


def _rename_names(
    ctx: AuditContext, path: str, *, yaml_name: bool = False
) -> tuple[str, str, list[str]]:
    """(the extension, the ``.enc`` name a rule the fix adds matches, every name a rename may
    give PATH: the repository's own endings first, then ``.enc`` and ``.sops``). ``yaml_name``:
    PATH is a YAML manifest under another name (see ``_rename_hint``)."""
    m = _RENAMED.match(path)
    if yaml_name:
        stem = re.sub(r"(?:\.ya?ml)?(?:\.[A-Za-z0-9~_-]{1,16})?$", "", path) or path
        ext = ".yaml"
    else:
        stem, ext = (m.group("stem"), m.group("ext")) if m else (path, ".yaml")
    # db.enc.yaml -> db.sops.yaml, not db.enc.sops; a copy's own word goes too (the attack
    # review of sweep 93: db.enc.yaml.bak was to become db.enc.secret.enc.yaml, and
    # db.dec.yaml, beside db.enc.yaml, to be encrypted as a second copy)
    stem = _COPY_WORD.sub("", stem) or stem
    # the names the repository's own SOPS files have (sweep 72: xunholy's `*.enc.age.yaml`,
    # Ramblurr's `*.secret.sops.yaml`, which only their rules match), then the two names this
    # project's docs and sops's users give encrypted files; the first one a creation rule
    # matches wins (a repository that encrypts *.sops.yaml only: DapperDivers)
    names = list(dict.fromkeys(_with_suffix(stem, suffix) for suffix in _own_suffixes(ctx, ext)))
    folder, base = posixpath.split(stem)
    if not _OWN_PREFIX.match(base):
        names += [posixpath.join(folder, f"{p}{base}{ext}") for p in _own_prefixes(ctx, ext)]
    names += [n for n in (f"{stem}.enc{ext}", f"{stem}.sops{ext}") if n not in names]
    return ext, f"{stem}.enc{ext}", names


def _encrypted_original(
    ctx: AuditContext, path: str, names: Sequence[str], secret: str | None
) -> str | None:
    """The SOPS file beside ``path`` that ``path`` is a decrypted copy of (``sops -d
    db.enc.yaml > db.dec.yaml``): one of its other ``names`` (``_rename_names``), encrypted,
    holding (in clear, as sops keeps them) every Secret of ``path`` (``namespace/name``) with
    every key path ``path`` has a value at. A file that holds anything more is no copy: a
    Secret of another namespace, a second Secret or a new key would be lost with it (the attack
    review of stop 49: `staging/db` beside `prod/db`, and a new `staging/smtp`, were to be
    removed)."""
    if not secret:
        return None
    shapes = [
        h.shape
        for h in ctx.repo.hits_of(RULE.id)
        if isinstance(h, PlaintextSecret) and h.path == path and h.shape
    ]
    if not shapes:
        return None
    mine = shapes[0]
    for entry in ctx.repo.sops_files:
        if entry.path == path or entry.path not in names or entry.sops_file is None:
            continue
        if mine <= {leaf for doc in entry.sops_file.docs for leaf in _leaves(doc)}:
            return entry.path
    return None


def _leaves(doc: object, prefix: str = "", label: str = "") -> Iterator[tuple[str, str]]:
    """(object, key path) of every leaf of a document, parsed plain (dicts and lists) or by
    the SOPS reader (``MapNode``, ``SeqNode``); the object is ``kind namespace/name``."""
    if isinstance(doc, MapNode):
        items = [(str(k), v) for k, v in _pairs(doc)]
    elif isinstance(doc, dict):
        items = [(str(k), v) for k, v in doc.items()]
    elif isinstance(doc, SeqNode | list):
        values = doc.items if isinstance(doc, SeqNode) else doc
        for value in values:
            if not isinstance(value, Comment):
                yield from _leaves(value, f"{prefix}[].", label)
        return
    else:
        yield label, prefix.rstrip(".")
        return
    if not prefix:
        found = dict(items)
        meta = found.get("metadata")
        meta_items = dict(_pairs(meta)) if isinstance(meta, MapNode) else meta
        named = meta_items if isinstance(meta_items, dict) else {}
        ns, name = named.get("namespace"), named.get("name")
        label = f"{found.get('kind')} {ns}/{name}" if ns else f"{found.get('kind')} {name}"
    for key, value in items:
        yield from _leaves(value, f"{prefix}{key}.", label)


def _pairs(node: MapNode) -> list[tuple[str, object]]:
    return [item for item in node.items if isinstance(item, tuple)]


def _take_out_copy(path: str, original: str) -> str:
    return (
        f"{original} exists already (the encrypted original?): take the plaintext copy out "
        f"instead: git rm -q --cached --ignore-unmatch {sh_path(path)}; rm -f "
        f"{sh_path(path)} (to carry a newer value over, set it in {original} with secretsmgr "
        "edit)"
    )


def init_writes_rules(ctx: AuditContext) -> bool:
    """Whether ``init`` would write creation rules here: only for the folders of layers that
    read this checkout (sweep 94, cmu-sei/Polar: its layers read an OCI artifact, init wrote no
    `.sops.yaml`, and the fix that sent the user to init, then to encrypt, went round)."""
    layers = ctx.repo.layers.layers
    if any(x.external is None and x.files for x in layers):
        return True
    # a decrypting layer's folder that holds nothing its build reads yet (a `secrets/` with a
    # `.gitkeep`): init writes its rule too (the review of this change)
    empty = {x.path for x in layers if x.external is None and x.decrypts_sops and not x.files}
    empty -= {"", "."}
    return bool(empty) and any(
        f.startswith(folder + "/") for f in ctx.repo.all_files for folder in empty
    )


def _rename_hint(
    ctx: AuditContext,
    path: str,
    ext: str,
    target: str,
    names: Sequence[str],
    *,
    yaml_name: bool = False,
    away: bool = False,
) -> str:
    """``secretsmgr encrypt -i PATH``, or, when no creation rule matches PATH, the rename to a
    name one matches (of ``names``, from ``_rename_names``; ``target`` the one a rule the fix
    adds matches) and the kustomization line that lists it, first. ``yaml_name``: PATH is a
    YAML manifest under another name, which encrypt would keep whole in sops's binary store
    (no Secret Flux could apply): the rename to a ``.enc.yaml`` name comes first. ``away``:
    only a rename to a name whose rule fits, else ""."""
    configs = ctx.repo.sops_configs
    if not ctx.repo.has_sops_config and init_writes_rules(ctx):
        # encrypt would find no recipients (neuland-ingolstadt, huangyingting): a key and a
        # creation rule come first
        then = f"rename it to {target}, then secretsmgr encrypt -i {sh_path(target)}"
        return (
            f"{NO_SOPS_CONFIG}: set up the cluster key and a creation rule first with "
            "secretsmgr init (see README.md, New repository), then "
            + (then if yaml_name else f"secretsmgr encrypt -i {sh_path(path)}")
        )
    governing_rule = configs.rule_for(path)
    if governing_rule[1] is not None and not yaml_name and not away:
        if not any(g.age or g.pgp or g.other for g in governing_rule[1].key_groups):
            return _keyless_rule_hint(ctx, path, governing_rule[0], governing_rule[2])
        return configs.encrypt_command(path)
    others = [n for n in names if n != path]  # db.enc.yaml itself is no other name of it
    # a name whose rule would not make a Secret Flux applies is no target (the attack review:
    # the repository's `*.values.sops.yaml` ending, whose rule encrypts a chart's keys only,
    # and encrypt refused the renamed file halfway through the pasted line)
    matched = next(
        (
            n
            for n in others
            if configs.rule_for(n)[1] is not None
            and _rule_misfit(ctx, n, "stringData.value") is None
        ),
        None,
    )
    if matched is None and away:
        return ""  # no name of the repository's has a rule that fits either
    if matched is None:
        # no rule for any of the names (Saharariel, osnabrugge): the rule comes first
        governing = configs.rule_for(path)[0]
        # no .sops.yaml in the file's folder or above (sweep 22, hansjlachmann/pi-cluster: the
        # only one was clusters/staging/.sops.yaml; "add one to .sops.yaml" led there, and
        # encrypt still found none): one at the root is the one to create
        elsewhere = [configs.label(c) for c in configs.all_loaded()] if not governing else []
        # sweep 87 (etenzy/hcloud-infra): its one .sops.yaml, clusters/io/.sops.yaml, serves a
        # script's `sops --config`, and the fix named an age key the repository has not
        shown = ", ".join(elsewhere[:2]) + (
            f" and {len(elsewhere) - 2} more" if len(elsewhere) > 2 else ""
        )
        aside = (
            f" ({shown} {'is' if len(elsewhere) == 1 else 'are'} read only by a sops run from "
            "its folder or given --config)"
            if elsewhere
            else ""
        )
        add = (
            f"add one to {governing}"
            if governing
            else f"no .sops.yaml is above the file{aside}: create one at the repository root "
            "with one"
        )
        keys = _keys_of_clusters_applying(ctx, path)
        # the PGP keys of the configs elsewhere only when they are one set: two clusters' keys
        # are no rule for a file of neither (the second attack review)
        sets = {tuple(_rules_pgp(c)) for c in configs.all_loaded()} - {()}
        pgp = (
            []
            if keys
            else _rules_pgp(configs.governing(path)) or (list(sets.pop()) if len(sets) == 1 else [])
        )
        # a repository on PGP keys alone names its keys, and sops encrypts to them (sweep 80,
        # zacheryph/k8s-gitops: the rule was to name "<the cluster key>", an age key it has not)
        keys_field = (
            f"pgp: {','.join(pgp)}" if pgp else f"age: {','.join(keys) or '<the cluster key>'}"
        )
        if not _secret_shaped(ctx, path):
            # no data or stringData (a Talos secrets file, a config): a rule of its own that
            # encrypts every value, under the name it has (the sweep of stop 52: the .enc.yaml
            # rule with ^(data|stringData)$ would encrypt nothing, and encrypt refused it)
            again = (
                configs.sops_command("encrypt -i", path)
                if pgp
                else f"secretsmgr encrypt -i {sh_path(path)}"
            )
            return (
                f"no .sops.yaml creation rule matches {path}: {add} (path_regex: "
                f"{_name_regex(path)}, {keys_field}, no encrypted_regex: it holds no Secret's "
                f"data, so every value is encrypted), then {again}"
            )
        encrypt = (
            configs.sops_command("encrypt -i", target)
            if pgp
            else f"secretsmgr encrypt -i {sh_path(target)}"
        )
        named = [path, *(posixpath.basename(n) for n in others)]
        rename = (
            ""
            if target == path
            else f"rename the file to {target} (and its kustomization.yaml entry), then "
        )
        return (
            f"no .sops.yaml creation rule matches {', '.join(named[:-1])} or {named[-1]}: "
            f"{add} (path_regex: \\.enc{re.escape(ext)}$, encrypted_regex: "
            f"^(data|stringData)$, {keys_field}), then {rename}{encrypt}"
        )
    target = matched
    present = set(ctx.repo.all_files)
    original = next(
        (o for o in others if o in present or (ctx.repo.root / o).exists()), None
    )  # the index, or the working tree (an encrypted original not yet added)
    if original is not None and not any(
        e.path == original and not e.has_metadata for e in ctx.repo.sops_files
    ):
        # a decrypted copy beside its encrypted original (the review of sweep 12: mv put the
        # stale copy over the rotated secret, and encrypt sealed it)
        return _take_out_copy(path, original)
    if original is not None:
        # the target is there in clear too: a fix stopped after its `mv` (a last sweep of
        # stop 53: "the encrypted original?" sent the user to delete the staged name only)
        return (
            f"{original} exists already and is in clear too (a fix stopped halfway?): take the "
            f"copy out (git rm -q --cached --ignore-unmatch {sh_path(path)}; rm -f "
            f"{sh_path(path)}), then encrypt it: secretsmgr encrypt -i {sh_path(original)}"
        )
    listings = _listings(ctx, path, target)
    renames = [_sed_rename(old, new, kfile) for kfile, old, new in listings]
    if configs.needs_sops(target):
        # sops (PGP keys in the keyring, KMS access) first, into the new name: a failed
        # encryption renames nothing and leaves no plaintext under a SOPS name (sweep 83,
        # TkPegatron/homelab-as-code)
        steps = [configs.encrypt_renamed_command(path, target), *renames]
    else:
        steps = [f"mv {sh_path(path)} {sh_path(target)}", *renames]
        steps.append(configs.encrypt_command(target))
    # in git, the staged plaintext must leave the index too, and what replaces it come in
    # (sweep 50, Dilski/home-cluster: after the pasted fix the index held a kustomization
    # naming a file it lacked, the encrypted file deleted, and check passed)
    staged = [target, *(kfile for kfile, _old, _new in _naming(ctx, path, target, listings))]
    if ctx.changelog_present:
        # encrypt records the new file there: staged with it, or the commit holds a file its
        # committed changelog never saw (sweep 53: left modified and unstaged)
        staged.append(ctx.repo.settings.changelog)
    steps.append(
        f"{{ git rm -q --cached --ignore-unmatch {sh_path(path)} 2>/dev/null || true; }} && "
        f"{{ git add -- {' '.join(sh_path(p) for p in staged)} 2>/dev/null || true; }}"
    )
    return " && ".join(steps)


# A patch's plaintext values: a Secret of its own with the patched Secret's name would clash
# with it in the build (the second review of sweep 13), an encrypted strategic-merge patch in a
# file under patches: keeps the one Secret (kustomize-controller decrypts those files)
PATCH_FIX = (
    "write the values as a strategic-merge patch of the Secret instead (kind: Secret, its "
    "metadata.name, the values under stringData) in a file listed under patches:, encrypt "
    "that file (secretsmgr encrypt -i FILE), then rotate the secret: it is in git"
)


# A HelmRelease's postRenderer patch: helm-controller applies it to what the chart renders, and
# no kustomization's patch file reaches that Secret (sweep 64, berezovskyi-oleksandr/homelab:
# the patch file PATCH_FIX names failed the layer's build, "no resource matches")
_POST_RENDERED = re.compile(r"^(?:items\.\d+\.)*spec\.postRenderers\.\d+\.")
POST_RENDER_FIX = (
    "pass the value into the chart instead (valuesFrom a SOPS-encrypted Secret, for a chart "
    "value its template reads), or keep this HelmRelease file SOPS-encrypted with an "
    "encrypted_regex that covers the patch (a postRenderer patches what helm-controller "
    "renders, which no kustomization's patch file reaches); then rotate the secret: it is in "
    "git"
)


# helm (and Flux's helm-controller) renders a chart's templates as they are: an encrypted one
# would render a Secret of ENC[…] text with a `sops:` field (ekenheim, sweep 18)
CHART_FIX = (
    "take the value out of the chart (this is a Helm chart's template: helm renders it as it "
    "is and decrypts nothing, so encrypting it breaks the release): pass it in through the "
    "chart's values from an encrypted Secret (a HelmRelease's valuesFrom), or have the "
    "template name a Secret that an encrypted file creates"
)


def _chart_template(ctx: AuditContext, path: str) -> bool:
    """Whether ``path`` is under a Helm chart's ``templates/`` folder (beside its Chart.yaml)."""
    parts = path.split("/")
    return any(
        part == "templates" and "/".join([*parts[:i], "Chart.yaml"]) in ctx.repo.all_files
        for i, part in enumerate(parts[:-1])
    )


def _fix(
    ctx: AuditContext, hit: PlaintextSecret, keys_in: Mapping[str, tuple[str, bool, str | None]]
) -> str:
    what, alone, name = keys_in.get(hit.path, ("", True, None))
    if what and (alone or name is None or hit.secret.rpartition("/")[2] == name):
        # a sops-age manifest: encrypting it would still commit the key (another Secret of its
        # file is encrypted as usual)
        return (
            f"take it out of the repository ({hit.path} holds {what}, see SM009; "
            f"keep the key elsewhere if you need it): {take_out(ctx, hit.path, alone, name)}"
        )
    if hit.generator:
        folder = posixpath.dirname(hit.path)
        env = posixpath.join(folder, f"{hit.secret}.enc.env")
        key = re.sub(r"^.*?\.literals\.|^literals\.", "", hit.key_path, flags=re.IGNORECASE)
        encrypt = encrypt_steps(ctx, env, [key], why="")
        if _GENERATOR_CONFIG.match(hit.key_path):
            # Flux decrypts the files a kustomization's secretGenerator: names, not those of a
            # generator's own config (the attack review of stop 51)
            return (
                f"move SecretGenerator {hit.secret} into the kustomization that lists it under "
                f"generators:, as a secretGenerator: entry (name: {hit.secret}) that lists "
                f"envs: [{posixpath.basename(env)}], with its literals as KEY=value lines in "
                f"{env} (Flux decrypts only the files of a secretGenerator:), then {encrypt}"
            )
        return (
            f"move the literals of secretGenerator {hit.secret} to {env} (KEY=value lines) and "
            f"list envs: [{posixpath.basename(env)}] instead of literals:, then {encrypt}"
        )
    if hit.beside_ciphertext:  # encrypt -i would encrypt the ENC[…] text as a value
        return restore_metadata_hint(hit.path)
    if hit.unparsed:  # encrypt refuses a file that does not parse
        hint = rename_hint(ctx, hit.path, yaml_name=hit.sniffed, secret=hit.secret)
        return f"{YAML_FIRST} (it does not parse); then: {hint}"
    if _POST_RENDERED.match(hit.key_path):
        return POST_RENDER_FIX
    if _PATCHED.match(hit.key_path):
        # a kustomization read by kustomize or Flux cannot be encrypted itself
        return PATCH_FIX
    if _chart_template(ctx, hit.path):
        return CHART_FIX
    hint = rename_hint(ctx, hit.path, yaml_name=hit.sniffed, secret=hit.secret)
    misfit = None if hit.sniffed else _rule_misfit(ctx, hit.path, hit.key_path)
    if misfit is not None:
        # a name the repository's own rule for Secrets matches needs no new rule (sweep 76,
        # jbaikge/homelab-talos: the catch-all rule misfit, and `*.sops.yaml` had the right one)
        ext, target, names = _rename_names(ctx, hit.path)
        away = _rename_hint(ctx, hit.path, ext, target, names, away=True)
        return pgp_first(ctx, (hit.path, *names), away) if away else misfit
    # kustomize-controller decrypts a patch file under patches: only
    if _layers_using(ctx, hit.path, lambda use: use.kind is UseKind.LEGACY_PATCH):
        return _undecrypted(ctx, hit.path) + (
            f"list {hit.path} under patches: (- path: …) instead of patchesStrategicMerge: in "
            f"its kustomization, as Flux decrypts only those patch files, then: {hint}"
        )
    return _undecrypted(ctx, hit.path) + hint


def _undecrypted(ctx: AuditContext, path: str) -> str:
    """What the fix must say first when a layer that applies ``path`` has no decryption: once
    encrypted, the file reaches the cluster still encrypted (sweep 88, Stocy/flux: the pasted
    fix was followed by an SM010 error, then a third round). Said before the commands, which
    then stay one line to paste (the second attack review: after them, the words broke it)."""
    bare = next((x for x in ctx.repo.layers.placements(path) if not x.decrypts_sops), None)
    if bare is None:
        return ""
    return (
        f"layer {ctx.repo.layers.shown(bare)} has no spec.decryption, so Flux would apply the "
        "file still encrypted: give it one (the SM010 fix audit then prints says how), then: "
    )


# A key path inside a patch written inline in a kustomization or a Flux Kustomization
_PATCHED = re.compile(
    r"^(?:items\.\d+\.)*(?:spec\.(?:postRenderers\.\d+\.kustomize\.|kustomize\.)?)?"
    r"(?:patches|patchesStrategicMerge|patchesJson6902)\.\d+\."
    # a patch transformer's config, in its own file or inline under transformers:
    r"|^(?:transformers\.\d+\.(?:\d+\.)?)?(?:patch|patches|jsonOp)\."
)
# the literals of a generator's own config (kind: SecretGenerator), in its file or inline
_GENERATOR_CONFIG = re.compile(
    r"^(?:items\.\d+\.)*(?:generators\.\d+\.(?:\d+\.)?)?(?:items\.\d+\.)*literals\.",
    re.IGNORECASE,  # kustomize reads `Literals:` too (the review of stop 51)
)


def check(ctx: AuditContext) -> Iterator[Finding]:
    """One finding per plaintext ``data``/``stringData`` value of every Secret document; the
    value is never shown. Two documents with the same key path each get their own finding."""
    hits = [h for h in ctx.repo.hits_of(RULE.id) if isinstance(h, PlaintextSecret)]
    env_keys: dict[str, list[str]] = {}
    for plain in hits:
        if plain.env_source:
            env_keys.setdefault(plain.path, []).append(plain.key_path)
    counts = Counter((h.path, h.key_path) for h in hits)
    repeated = {where for where, n in counts.items() if n > 1}
    # the manifests that hold a key Flux decrypts with (SM009's): an age key, or a PGP key at
    # a Secret's *.asc key that a layer decrypts with (sops-gpg); the file's fix takes it out
    refs = flux_key_secrets(ctx)
    keys_in: dict[str, tuple[str, bool, str | None]] = {}
    for h in ctx.repo.hits_of("SM009"):
        path, alone, name = getattr(h, "path", ""), getattr(h, "alone", True), None
        if getattr(h, "kind", "age") == "age":
            keys_in[path] = ("an age private key", alone, getattr(h, "secret_name", None))
        elif getattr(h, "secret_key", None) is not None:
            name = getattr(h, "secret_name", None)
            if name in refs:
                keys_in[path] = ("an OpenPGP private key Flux decrypts with", alone, name)
    told: set[tuple[str, int]] = set()  # Secrets of variable names already reported
    # SOPS files whose sops block does not read (SM006's): a value in clear there is not in a
    # file "without SOPS metadata", and encrypt -i refuses it
    broken_sops = {e.path for e in ctx.repo.sops_files if e.error is not None}
    restore: dict[str, str] | None = None
    for path, credentials in sorted(_generated_configs(ctx).items()):
        readers = generator_readers(ctx, path)
        key_path, line, what = credentials[0]
        more = f" (and {plural(len(credentials) - 1, 'more')})" if len(credentials) > 1 else ""
        yield RULE.finding(
            path,
            f"holds {what} in plaintext at {key_path}{more}, and a secretGenerator "
            f"of layer {ctx.repo.layers.shown(readers[0])} puts it in a Secret (files:)",
            key_path=key_path,
            line=line,
            fix=f"{encrypt_steps(ctx, path, [k for k, _, _ in credentials])}, then rotate the "
            "secret: it is in git",
        )
    yield from _filled(ctx, [h for h in hits if h.fills])
    for hit in hits:
        if hit.fills:
            continue  # judged with the layers that substitute it (_filled)
        if hit.variable_name:
            if (hit.path, hit.document) not in told:
                told.add((hit.path, hit.document))
                finding = _variable_finding(ctx, hit)
                if finding is not None:
                    yield finding
            continue
        if hit.patch_ops:
            finding = _patch_file_finding(ctx, hit)
            if finding is not None:
                yield finding
            continue
        if hit.env_source:
            finding = _env_finding(ctx, hit, env_keys[hit.path])
            if finding is not None:
                yield finding
            continue
        if hit.source is not None:
            finding = _source_finding(ctx, hit)
            if finding is not None:
                yield finding
            continue
        if hit.sops_document:
            yield _sops_document_finding(ctx, hit, keys_in)
            continue
        if hit.unread:
            yield RULE.finding(
                hit.path,
                f"is over the {limit_text(max_file_bytes())} file-size limit and was not read: "
                "it may hold a plaintext Secret",
                fix="secretsmgr --max-file-size <size> audit (to read it), or keep such large "
                "files out of the repository",
            )
            continue
        if hit.generator:
            kind = "SecretGenerator" if _GENERATOR_CONFIG.match(hit.key_path) else "secretGenerator"
            message = f"{kind} {hit.secret} has a plaintext literal at {hit.key_path}"
        elif hit.unparsed:
            message = (
                f"Secret {hit.secret} holds a plaintext value at {hit.key_path}, and the file "
                "does not parse as YAML (read line by line): git holds the value all the same"
            )
        elif _PATCHED.match(hit.key_path):
            message = (
                f"an inline patch of Secret {hit.secret} holds a plaintext value at {hit.key_path}"
            )
        elif hit.path in broken_sops:
            message = (
                f"Secret {hit.secret} holds a plaintext value at {hit.key_path} in a SOPS file "
                "whose sops block cannot be read (SM006)"
            )
        else:
            message = (
                f"Secret {hit.secret} holds a plaintext value at {hit.key_path} "
                "and the file has no SOPS metadata"
            )
        fix = _fix(ctx, hit, keys_in)
        if _LIST_ITEM.match(hit.key_path) and not hit.generator:
            # kustomize builds a List's items without its sops block, so an encrypted List is
            # applied still encrypted (kubectl kustomize shows ENC[…] values in the Secret):
            # the Secret goes into a file of its own (the review of stop 54)
            fix = (
                f"move Secret {hit.secret} out of the List in {sh_path(hit.path)} into a file of "
                "its own (one kind: Secret document; kustomize builds a List's items without its "
                "sops block, so an encrypted List reaches the cluster still encrypted), list that "
                "file under resources:, encrypt it (secretsmgr encrypt -i FILE), then rotate the "
                "value: it is in git"
            )
        if hit.path in broken_sops:
            # sweep 94, Dapacruz/k8s-infra: a second stringData: pasted above the sops block
            # made the file unreadable; "encrypt -i" failed on it. Restore it first (SM006's
            # way), then set the value the sops way.
            if restore is None:
                restore = restore_fixes(ctx)
            fix = (
                f"{restore.get(hit.path, 'repair the file (SM006)')}; then, if the value "
                f"belongs there: secretsmgr set {sh_path(hit.path)} {sh_path(hit.key_path)} "
                "(reads it from stdin)"
            )
        severity = None
        if hit.sample and ctx.repo.layers.layers and not ctx.repo.layers_of(hit.path):
            # a repository with Flux layers, none of which applies the file (without any,
            # "no layer" says nothing: `kubectl apply -k`, Argo CD; the third attack review)
            # documentation no layer applies: what a real value in it would be, not one
            message += " (a sample file no Flux layer applies)"
            fix = (
                "keep stand-ins only in a sample (the real values go in the SOPS file it is "
                f"copied to); if this one is real, take it out and: {fix}"
            )
            severity = Severity.WARNING
        if hit.utf16:
            quoted = sh_path(hit.path)
            fix = (
                f"iconv -f UTF-16 -t UTF-8 {quoted} | tr -d '\\r' > {quoted}.utf8 && "
                f"mv {quoted}.utf8 {quoted} && git add {quoted} && {fix}"
            )
        elif hit.not_utf8:
            # sops, encrypt and kustomize read UTF-8 only: the file is made UTF-8 first
            message += " (some of its bytes are not UTF-8, which sops and kustomize refuse)"
            fix = _utf8_first(hit.path, hit.not_utf8, fix)
        yield RULE.finding(
            hit.path,
            message,
            key_path=hit.key_path,
            fix=fix,
            severity=severity,
            document=hit.document if (hit.path, hit.key_path) in repeated else None,
            line=hit.line,
        )


def filled_variables(
    ctx: AuditContext, hits: Sequence[PlaintextSecret] | None = None
) -> dict[tuple[str, str], tuple[PlaintextSecret, Layer, bool]]:
    """The postBuild variables written in clear that a layer substitutes into a Secret as a
    whole value, judged as that value would be there: (file, key path) of each variable ->
    (the Secret's hit, the layer, whether a patch above the Kustomization set it, not its own
    file). The attack review of stop 52: a
    Secret's ``password: ${DBP}`` with ``postBuild.substitute: {DBP: …}`` passed the gate."""
    if hits is None:
        hits = [h for h in ctx.repo.hits_of(RULE.id) if isinstance(h, PlaintextSecret) and h.fills]
    found: dict[tuple[str, str], tuple[PlaintextSecret, Layer, bool]] = {}
    for hit in hits:
        for layer in _substituting(ctx, hit):
            known = layer.variables.get(hit.fills)
            if known is None:
                continue
            value, origin = known
            where = _variable_key_path(origin, layer.source, hit.fills)
            patched = not origin  # set by a patch of the Kustomization above it
            origin = origin or layer.source
            if (origin, where) in found or not _secret_value(
                hit.in_secret or hit.key_path, value, hit.fills, hit.fills_key
            ):
                continue
            found[(origin, where)] = (hit, layer, patched)
    return found


# how a build reads a file whose Secret a layer's postBuild fills: a resource, a patch, or the
# kustomization file's own inline patches
_FILLED_USES = frozenset(
    (UseKind.RESOURCE, UseKind.PATCH, UseKind.LEGACY_PATCH, UseKind.KUSTOMIZATION)
)


def _substituting(ctx: AuditContext, hit: PlaintextSecret) -> list[Layer]:
    """The layers whose postBuild substitution reaches the Secret ``hit`` is in: those whose
    build reads its file (as a resource, a patch, or a kustomization's inline patch), and for
    a patch in a Flux Kustomization's own ``spec.patches``, that Kustomization's layer (the
    fourth attack review of the gate: a base Secret and an overlay's patch of ``${PW}``
    passed, the patch being no resource)."""
    layers = _layers_using(ctx, hit.path, lambda use: use.kind in _FILLED_USES)
    if hit.key_path.startswith("spec.patches."):
        layers += [x for x in ctx.repo.layers.layers if x.source == hit.path]
    return layers


def _variable_key_path(origin: str, layer_source: str, variable: str) -> str:
    """Where ``variable`` is written in ``origin``: the Flux Kustomization's substitute, a
    kustomization's configMapGenerator literal, a ConfigMap's data, or a KEY=value line."""
    if origin in (layer_source, ""):
        return f"spec.postBuild.substitute.{variable}"
    if posixpath.basename(origin) in KUSTOMIZATION_NAMES:
        return f"configMapGenerator.literals.{variable}"
    if origin.lower().endswith((".yaml", ".yml", ".json")):
        return f"data.{variable}"
    return variable


def _credential_references(value: object) -> list[tuple[str, str]]:
    """(variable, the setting it is the value of) for each variable a value uses where a
    credential goes, inside a longer value: a URL's password (``postgres://app:${PW}@db``), a
    setting whose name ends in a credential's word (``password: ${PW}``, ``Password=${SA};``,
    JSON's ``"api_key": "${K}"``) or a config's ``requirepass ${PW}`` (the reviews of stop 52:
    a connection string passed; ``bypass`` and ``existingSecret`` were taken for passwords)."""
    if not isinstance(value, str):
        return []
    found: list[tuple[str, str]] = []
    for name in references(value):
        var = _VAR.format(re.escape(name))
        if re.search(_IN_URL + var + "@", value):
            found.append((name, "password"))
            continue
        if re.search(_DOCKER_AUTH + var, value):
            found.append((name, "auth"))  # a docker config's base64 of user:password
            continue
        line = re.search(_ON_LINE + var, value) or re.search(_SPACED + var, value)
        if line is not None:
            key = line.group("key")
            # Redis's requirepass and masterauth set a password
            found.append((name, "password" if key in ("requirepass", "masterauth") else key))
    return found


# ``${NAME}`` (or with a default or an operator); a URL's userinfo before a password; a setting
# whose name ends in a credential's word, then ``:`` or ``=``; a config line's keyword and a space
_VAR = r"\$\{{{}(?:[-=:^,/#%][^}}]*)?\}}"  # an operator on the value too (``${PW:0}``)
# a registry login's `auth` (base64 of user:password): a docker config's JSON `"auth": "…"`,
# the value maybe on the next line, or YAML's `auth: …` (k3s registries.yaml)
_DOCKER_AUTH = r"""(?i)(?<![\w-])["']?auth["']?[ \t]*:\s*["']?"""
_IN_URL = r"://[^/\s]*?:"  # the user may be an email address (smtp://a@example.com:PW@host)
_ON_LINE = (
    r"(?i)(?<![\w.-])(?P<key>[\w.-]*?(?:password|passwd|passphrase|pwd|secret|token|"
    r"(?:api|secret|private|access|signing|encryption|master|hmac|session|cookie|jwt|shared|"
    r"totp|license)[_-]?key(?:[_-]?base)?|(?<![a-z])(?:pass|psk|salt|pepper|seed|credentials)))"
    r"[\"']?[ \t]*[:=][ \t]*[\"']?"
)
# a config's keyword and a space: at a line's start (redis.conf), or after a .netrc's login
_SPACED = (
    r"(?im)(?:^[ \t]*|\blogin[ \t]+\S+[ \t]+)"
    r"(?P<key>requirepass|masterauth|password|passwd|passphrase|auth-token|rpcsecret)"
    r"[ \t]+[\"']?"
)


def _secret_value(key_path: str, value: str, variable: str, setting: str) -> bool:
    """Whether ``value`` of ``variable`` is a secret where a Secret's ``key_path`` takes it
    (``setting``: the setting it is the value of inside a longer value, ``password`` in a URL):
    judged as a credential under the variable's name, the Secret key's (its file extension
    aside: password.txt) or that setting's, by name and look (a duration, a store's name, a
    uuid under TOKEN_TTL, SECRET_STORE, AUTH_CLIENT_ID are none), or a known credential's
    format; a placeholder, a setting (a host, a domain, a port) or a stand-in never (the
    reviews of stop 52: a cluster's TZ and CLUSTER_NAME were errors)."""
    if not is_plaintext_value(value) or is_public_material(key_path, value):
        return False
    if setting == "auth":
        # the attack review of stop 53: `"auth": "${GHCR_AUTH}"` in a docker config, base64 of
        # bot:password in postBuild.substitute, passed (no credential's word names `auth`)
        return _docker_auth(value)
    if setting:
        # inside a longer value: the setting it stands for says what it is, and the Secret's
        # key names the whole value (DATABASE_URL, secret.yaml), not this part of it (the last
        # review of stop 52: a URL's password was "a setting", existingSecret under
        # secret.yaml "a secret")
        if stand_in_words(value):
            return False
        names = (variable, setting.replace("-", "_"))
        return any(judge_value(name, value) is not None for name in names)
    text = secret_text(key_path, value)
    shown = value if text is None else text
    if (
        _cluster_address(key_path, text)
        or _setting(key_path, value, shown)
        or _no_secret_config(text)
        or stand_in_words(shown)
    ):
        return False
    key = posixpath.splitext(key_path.partition(".")[2])[0] or key_path
    verdicts = [judge_value(name, shown) for name in (variable, key)]
    if any(v is not None and (v.known or v.kind == _KEYWORD) for v in verdicts):
        return True  # a known format, or a credential's name
    # an id's, a commit's, a build's or a version's name says what it is (the review of stop
    # 54: CF_ACCOUNT_ID, GIT_COMMIT, TAILNET_ID, APP_BUILD became errors); a ping's or a
    # webhook's id works as a password
    named_id = any(_ID_WORD.search(n) and not _SECRET_ID.search(n) for n in (variable, key))
    if any(v is not None for v in verdicts):
        return not named_id  # high entropy, as the same value written in the Secret is judged
    # a random token under bland names (`value: ${MY_VAR}`: the fourth attack review of the
    # gate); a name, a host, a path, a UUID (an id: a dashboard's, the review of stop 52) or a
    # hex run (a hash or an id as often) is none
    return _random_token(shown) and _HEX_RUN.fullmatch(shown.strip()) is None and not named_id


def _random_token(text: str) -> bool:
    """Whether ``text`` is one random run: no name, host, path, address or UUID (an id)."""
    return (
        looks_like_token(text, parts=False)
        and not any(c in text for c in "./:@ \t\n")
        and UUID.fullmatch(text.strip()) is None
    )


_HEX_RUN = re.compile(r"[0-9a-fA-F]+")
_LIST_ITEM = re.compile(r"items\.\d+\.")  # a Secret as an item of a kind: List
_KEYWORD = "Secret Keyword"  # the verdict of a credential's name (credentials.judge_value)
_SECRET_ID = re.compile(r"(?i)(?:ping|webhook|hook|role|secret|api|access)[._-]?id(?:[._-]|$)")
_ID_WORD = re.compile(
    r"(?i)(?:^|[._-])(?:id|ids|uid|fingerprint|commit|sha|sha\d*|hash|digest|build|version|"
    r"revision|rev|tag|serial|account|tenant|project|org|slug)(?:[._-]|$)|[a-z](?:Id|ID)$"
)


_ANY_VARIABLE = re.compile(r"\$\{[^{}$]{1,256}\}")


def _secret_default(value: str) -> bool:
    """Whether a variable's literal default in ``value`` is a credential by its name and look
    or a known format (``${DB_PASSWORD:=…}``; ``${PORT:=5432}`` is none)."""
    return any(
        not is_placeholder(default) and judge_value(name, default) is not None
        for name, default in literal_defaults(value)
    )


def _docker_auth(value: str) -> bool:
    """Whether ``value`` is a docker config's ``auth``: base64 of ``user:password`` with a
    password that is no stand-in."""
    try:
        text = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return False
    _user, colon, password = text.partition(":")
    return bool(colon) and is_plaintext_value(password) and not stand_in_words(password)


def _filled(ctx: AuditContext, hits: Sequence[PlaintextSecret]) -> Iterator[Finding]:
    for (origin, where), (hit, layer, patched) in sorted(filled_variables(ctx, hits).items()):
        here = (
            "set in clear by a patch of the Kustomization that applies this one (not written "
            "in this file)"
            if patched
            else "written here in clear"
        )
        place = f"where it is set (git grep -n {hit.fills})" if patched else sh_path(origin)
        yield RULE.finding(
            origin,
            f"postBuild variable {hit.fills} is {here}, and layer "
            f"{ctx.repo.layers.shown(layer)} substitutes it into Secret {hit.secret}"
            f"{', inside the value' if hit.fills_inside else ''} at "
            f"{hit.key_path} ({hit.path})",
            key_path=where,
            fix=f"keep {hit.fills} in a SOPS-encrypted Secret that the layer's "
            f"postBuild.substituteFrom reads (kind: Secret), and take it out of {place}; then "
            "rotate the value: it is in git",
        )


def _utf8_first(path: str, how: str, fix: str) -> str:
    """``fix`` after the step that makes ``path`` UTF-8 (``_reencoding``): a command before a
    fix that is one (``… && fix``), words before words (the attack review of stop 49: an
    `iconv … &&` before a fix in words was a shell syntax error when pasted)."""
    quoted = sh_path(path)
    if how == "hand":
        return (
            f"save {quoted} as UTF-8 in your editor first (its values hold bytes of another "
            f"encoding, which only you can tell), then: {fix}"
        )
    into = f"-t UTF-8 {quoted} > {quoted}.utf8 && mv {quoted}.utf8 {quoted}"
    if how == "legacy":
        # which encoding the values were written in, only their author knows: said, not done
        step = f"iconv -f WINDOWS-1252 {into}"
        return (
            f"make it UTF-8 first from the encoding it was saved in, and check its values "
            f"after (Western European text: {step}; another, such as WINDOWS-1251, by its "
            f"name), then: {fix}"
        )
    step = f"iconv -c -f UTF-8 {into}"
    if starts_as_command(fix):
        return f"{step} && {fix}"
    return f"make it UTF-8 first ({step}), then: {fix}"


def _sops_document_finding(
    ctx: AuditContext, hit: PlaintextSecret, keys_in: Mapping[str, tuple[str, bool, str | None]]
) -> Finding:
    """A SOPS-encrypted document pasted in as a Secret's value: no plaintext, but Flux
    decrypts only the manifest's own ``sops:`` block, so the Secret holds ciphertext."""
    return RULE.finding(
        hit.path,
        f"Secret {hit.secret} holds a whole SOPS-encrypted document at {hit.key_path}: "
        "ciphertext, no plaintext, but Flux decrypts only a manifest's own sops metadata, so "
        "the Secret would hold the ciphertext as its value",
        key_path=hit.key_path,
        severity=Severity.WARNING,
        fix="put the document's decrypted content in the value (sops decrypt it with its key), "
        f"then encrypt the Secret as a whole: {_fix(ctx, hit, keys_in)}",
        line=hit.line,
    )


def _variable_finding(ctx: AuditContext, hit: PlaintextSecret) -> Finding | None:
    """A Secret holding its keys' own names as shell variables (``$RESTIC_PASSWORD``): a
    template a script fills, no secret; where a live layer applies it as a resource, Flux sends
    the names as written (its ``postBuild`` substitutes only ``${NAME}``): a warning (the attack
    review: the applied Secret went silent)."""
    applied = _layers_using(ctx, hit.path, lambda use: use.kind is UseKind.RESOURCE)
    if not applied:
        return None
    finding = RULE.finding(
        hit.path,
        f"Secret {hit.secret} holds variable names ($NAME) for values, at {hit.key_path} and "
        f"any others like it: layer {ctx.repo.layers.shown(applied[0])} applies them as "
        "written (Flux's postBuild substitutes only ${NAME})",
        key_path=hit.key_path,
        fix="write ${NAME} and give the layer postBuild.substituteFrom a SOPS-encrypted Secret "
        "that holds the values, or keep the template out of the layer and apply what a script "
        "renders from it",
        document=hit.document,
        line=hit.line,
    )
    return replace(finding, severity=Severity.WARNING)


def flux_key_secrets(ctx: AuditContext) -> set[str | None]:
    """The Secrets Flux decrypts with: every layer's ``decryption.secretRef`` and
    ``sops-gpg``, the name Flux's PGP guide gives it."""
    refs: set[str | None] = {"sops-gpg"}
    for layer in ctx.repo.layers.layers:
        if layer.decryption is not None and layer.decryption.secret_ref:
            refs.add(layer.decryption.secret_ref)
    return refs


def take_out(ctx: AuditContext, path: str, alone: bool, secret: str | None) -> str:
    """How a committed key leaves the repository: the whole file when the Secret is all it
    holds, else that Secret's document alone (the review of sweep 12: ``rm`` of a file that also
    held a Deployment, which Flux's prune would then delete). A kustomization that lists the
    file must drop its line, or its build fails (sweep 19, mtumilowicz)."""
    if not alone:
        return f"delete the Secret {secret or ''} document from {path} (its other documents stay)"
    remove = f"git rm -q --cached --ignore-unmatch {sh_path(path)}; rm -f {sh_path(path)}"
    listed = [kfile for kfile, _entry, _new in _naming(ctx, path, path)]
    if listed:
        return f"{remove}; then delete its line from the resources: of {', '.join(listed)}"
    return remove


def _layers_using(ctx: AuditContext, path: str, wanted: Callable[[Use], bool]) -> list[Layer]:
    """The live layers whose build reads ``path`` in a way ``wanted`` accepts."""
    return [
        layer
        for layer in ctx.repo.layers.placements(path)
        if any(wanted(use) for use in layer.uses.get(path, ()))
    ]


def generator_readers(
    ctx: AuditContext, path: str, kind: UseKind = UseKind.SECRET_FILE
) -> list[Layer]:
    """The live layers whose secretGenerator reads ``path`` under ``files:`` (or ``kind``)."""
    return _layers_using(ctx, path, lambda use: use.kind is kind)


def env_sources(ctx: AuditContext) -> set[str]:
    """The plaintext files a live layer's secretGenerator reads under ``envs:`` (SM001 reports
    each of their values), or reads whole under ``files:`` (SM001 reports the file): SM018
    leaves them to it (a registry login's file was reported twice: the attack review of sweep
    93)."""
    return {
        h.path
        for h in ctx.repo.hits_of(RULE.id)
        if isinstance(h, PlaintextSecret)
        and (
            (h.env_source and _env_readers(ctx, h)[0])
            or (h.source is not None and generator_readers(ctx, h.path))
        )
    } | set(_generated_configs(ctx))


def _generated_configs(ctx: AuditContext) -> dict[str, list[tuple[str, int, str]]]:
    """The plaintext config files (JSON, YAML, INI…) a live layer's secretGenerator puts whole
    in a Secret under ``files:`` that hold a credential SM018 finds by its format or its key's
    name, with (key path, line, what it is) of each: a Secret's value in clear. The attack
    review of stop 51: ``{"db": {"password": …}}`` there was a warning, while the same line in
    a ``.properties`` file was this rule's error. A high-entropy value alone is left to SM018."""
    found: dict[str, list[tuple[str, int, str]]] = {}
    encrypted = {e.path for e in ctx.repo.sops_files if e.has_metadata}
    own = {h.path for h in ctx.repo.hits_of(RULE.id) if isinstance(h, PlaintextSecret) and h.source}
    for hit in ctx.repo.hits_of("SM018"):
        path = getattr(hit, "path", "")
        if (
            getattr(hit, "where", "") != "file"
            or "Entropy" in getattr(hit, "kind", "")
            or path in encrypted
            or path in own
        ):
            continue
        if path in found or generator_readers(ctx, path):
            kind = str(getattr(hit, "kind", ""))
            what = (
                f"a credential ({kind})"
                if getattr(hit, "known", False) and kind
                else "a likely credential"
            )
            found.setdefault(path, []).append(
                (getattr(hit, "key_path", ""), getattr(hit, "line", 0), what)
            )
    return found


def _env_readers(ctx: AuditContext, hit: PlaintextSecret) -> tuple[list[Layer], str]:
    """The live layers whose secretGenerator puts ``hit``'s line in a Secret, and how: every
    line of an ``envs:`` file, the credentials of a ``KEY=value`` file under ``files:`` (the
    whole file is one value there: glotzerhotze's minio config.env, sweep 15)."""
    readers = generator_readers(ctx, hit.path, UseKind.SECRET_ENV)
    if readers:
        return readers, "envs:"
    if hit.credential:
        return generator_readers(ctx, hit.path), "files:"
    return [], ""


_REGEX_SPECIAL = frozenset(".^$*+?()[]{}|\\")


def _secret_shaped(ctx: AuditContext, path: str) -> bool:
    """Whether a YAML/JSON file holds a document with ``data`` or ``stringData`` (what a
    Secret's ``encrypted_regex`` encrypts); True when it cannot be read (the usual rule then)."""
    if structured_format(path) not in (FileFormat.YAML, FileFormat.JSON):
        return True
    try:
        docs = parse_documents(
            _read(ctx.repo.root / path), structured_format(path) or FileFormat.YAML
        )
    except SecretsmgrError:
        return True
    return (
        any(isinstance(doc, MapNode) and (doc.has("data") or doc.has("stringData")) for doc in docs)
        or not docs
    )


def _name_regex(path: str) -> str:
    """A path_regex matching files named as ``path`` is (``(^|/)db\\.env$``), Go-safe."""
    name = posixpath.basename(path)
    return "(^|/)" + "".join(f"\\{c}" if c in _REGEX_SPECIAL else c for c in name) + "$"


def encrypt_steps(
    ctx: AuditContext,
    path: str,
    keys: Sequence[str] = (),
    *,
    why: str = " (Flux decrypts a SOPS-encrypted generator source)",
) -> str:
    """How a file (a generator's source, a new encrypted .env) gets encrypted: its name must
    match a creation rule, and for a ``KEY=value`` file (``keys``: its plaintext keys) the rule
    must encrypt every value, which a Secret's ``encrypted_regex: ^(data|stringData)$`` does not
    (``encrypt`` refuses it); under a rule naming PGP, KMS or Vault keys, sops encrypts it, from
    the rule's folder."""
    encrypt = f"secretsmgr encrypt -i {sh_path(path)}{why}"
    if not ctx.repo.has_sops_config and init_writes_rules(ctx):
        return (
            f"{NO_SOPS_CONFIG}: set up the cluster key and a creation rule first with "
            f"secretsmgr init (see README.md, New repository), then {encrypt}"
        )
    if not ctx.repo.has_sops_config:
        return (
            f"{NO_SOPS_CONFIG}: write one at the repository root whose creation rule matches "
            f"{path} (a path_regex for its name, the cluster's age key, no encrypted_regex), "
            f"then {encrypt}"
        )
    where, rule, number = ctx.repo.sops_configs.rule_for(path)
    own = "a path_regex for its name, the same keys, no encrypted_regex"
    if rule is None:
        # the rule's keys where the repository says them (sweep 94, FrankelJb/home-ops: the
        # user wrote the rule by hand, the keys looked up)
        known = _keys_of_clusters_applying(ctx, path)
        near = None if known else _nearby_key(ctx, path)
        if near is not None and near[0] != "age":
            # no age key here: the files around it are on a PGP or KMS key, which encrypt
            # does not take (sweep 97, MxNxPx/flux2-kustomize-helm-example: the pasted
            # `secretsmgr encrypt -i` was refused, "no age recipients")
            kind, key, folder = near
            command = _encrypt_to(ctx, path, kind, key)
            below = f"{folder}/" if folder else "the repository's root"
            first = f"with the public half of PGP key {key} in your GnuPG keyring (gpg --import): "
            return (
                (first if kind == "pgp" and command else "")
                + f"no creation rule matches {path}, and the SOPS files below {below} are on "
                f"{kind} key {key}: "
                + (f"{command}{why}" if command else "encrypt it with sops to that key")
            )
        spelled = (
            f"path_regex: {_name_regex(path)}, age: {','.join(known)}, no encrypted_regex"
            if known
            else "a path_regex for its name, no encrypted_regex"
        )
        return (
            f"add a creation rule that matches {path} to {where or '.sops.yaml'} ({spelled}), "
            f"then {encrypt}"
        )
    spec = rule.encryption_rule
    if keys and spec is not None:
        try:
            judged = EncryptionRule(RuleKind(spec.kind), spec.value)
            clear = not all(path_is_encrypted(judged, (key,)) for key in keys)
        except (FormatError, ValueError):
            clear = False
        if clear:
            return (
                f"{where or '.sops.yaml'} rule {number} would leave its values in clear "
                f"({spec.kind}): add a rule for it above rule {number} ({own}), then {encrypt}"
            )
    return f"{ctx.repo.sops_configs.encrypt_command(path)}{why}"


def _env_finding(ctx: AuditContext, hit: PlaintextSecret, keys: Sequence[str]) -> Finding | None:
    """A plaintext ``KEY=value`` of a file a live layer's secretGenerator reads under ``envs:``
    (``keys``: every plaintext key of the file, which one creation rule must all encrypt)."""
    readers, how = _env_readers(ctx, hit)
    if not readers:
        return None
    encrypt = encrypt_steps(ctx, hit.path, keys if how == "envs:" else ())
    store = structured_format(hit.path)
    if store in (FileFormat.INI, FileFormat.YAML, FileFormat.JSON):
        # sops picks its store by the name: an .ini would come back as `KEY = value` lines,
        # which kustomize reads as keys with a space (the review of sweep 13)
        stem = posixpath.splitext(hit.path)[0]
        renamed = encrypt_steps(ctx, f"{stem}.env", keys if how == "envs:" else ())
        encrypt = (
            f"rename it to {stem}.env (and its envs: entry), as sops reads a {store.value} "
            f"file as {store.value}, then {renamed}"
        )
    if hit.env_bare:
        encrypt = (
            f"give line {hit.env_bare} (a key alone) a value or take it out, as sops's dotenv "
            f"store refuses such a line, then {encrypt}"
        )
    return RULE.finding(
        hit.path,
        f"holds {hit.key_path} in plaintext, and a secretGenerator of layer "
        f"{ctx.repo.layers.shown(readers[0])} puts it in a Secret ({how})",
        key_path=hit.key_path,
        fix=f"{encrypt}, then rotate the secret: it is in git",
        line=hit.line,
    )


def _patch_file_finding(ctx: AuditContext, hit: PlaintextSecret) -> Finding | None:
    """A plaintext value of a JSON 6902 patch file that a live layer applies to a Secret."""
    patching = _layers_using(
        ctx,
        hit.path,
        lambda use: (
            use.kind in (UseKind.PATCH, UseKind.LEGACY_PATCH)
            and (hit.only_secret if use.target is None else may_be_secret(use.target))
        ),
    )
    if not patching:
        return None
    return RULE.finding(
        hit.path,
        f"a JSON 6902 patch file puts a plaintext value at {hit.key_path} into a Secret "
        f"(layer {ctx.repo.layers.shown(patching[0])} applies it)",
        key_path=hit.key_path,
        fix=PATCH_FIX,
        document=hit.document,
        line=hit.line,
    )


def _source_finding(ctx: AuditContext, hit: PlaintextSecret) -> Finding | None:
    """A plaintext file a live layer's secretGenerator reads under ``files:``."""
    readers = generator_readers(ctx, hit.path)
    if not readers:
        return None
    return RULE.finding(
        hit.path,
        f"holds {hit.source} in plaintext, and a secretGenerator of layer "
        f"{ctx.repo.layers.shown(readers[0])} puts it in a Secret (files:)",
        fix=f"{encrypt_steps(ctx, hit.path)}, then rotate the secret: it is in git",
    )


RULE = Rule(
    id=RuleId("SM001"),
    name="plaintext-secret",
    severity=Severity.ERROR,
    needs=frozenset(),
    summary="A Kubernetes Secret with data/stringData and no SOPS metadata",
    check=check,
    detect=detect,
    hit_type=PlaintextSecret,
)
