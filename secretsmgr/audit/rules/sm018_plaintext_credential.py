"""SM018 plaintext-credential: a credential outside a Secret, in clear.

Where: HelmRelease ``spec.values``, ConfigMap ``data``, Flux Kustomization
``spec.postBuild.substitute``, container ``env`` values of any object, and plain
YAML/JSON/dotenv/INI files that are no Kubernetes objects, Terraform (HCL) files and states;
in the rest of any object (a ClusterIssuer's ``accessKeyID``), known formats only. Known
formats (detect-secrets' AWS, GitHub, Slack, JWT, private-key… plugins) are errors; a
secret-sounding key or a high-entropy value is a warning.
Placeholders are not findings; key paths can be allow-listed (``ignore:`` with ``key_path``).
Secrets themselves are SM001's and SM003's; SOPS-encrypted values are never looked at.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import io
import json
import posixpath
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import cast

from secretsmgr.audit.context import AuditContext, own_rule_fix, reencrypt_fix, rule_encrypts
from secretsmgr.audit.credentials import (
    BOOTSTRAP_SHAPE,
    PREFIXED_TOKEN_PARTS,
    QUERY_SECRET,
    SQL_LOGIN,
    UUID_HINT,
    Verdict,
    cloudflare_key_under,
    config_credential,
    holds_uuid_secret,
    is_lock_file,
    is_placeholder_value,
    is_terraform_state,
    judge_value,
    names_secret_key,
    plain_setting,
    public_jwt,
    tunnel_secret_in,
)
from secretsmgr.audit.finding import Finding, Rule, RuleId, Severity
from secretsmgr.audit.hcl import hcl_values
from secretsmgr.audit.manifests import (
    Obj,
    decode_text,
    documents,
    generator_literals,
    is_public_material,
    is_secret,
    label,
    numbered_objects,
    repeats_a_key,
)
from secretsmgr.audit.rules.sm001_plaintext_secret import (
    PlaintextSecret,
    encrypt_steps,
    env_sources,
    filled_variables,
    generator_readers,
)
from secretsmgr.audit.rules.sm009_private_key_committed import find_pem_keys
from secretsmgr.errors import FormatError
from secretsmgr.plural import plural
from secretsmgr.repo.flux import UseKind
from secretsmgr.repo.flux.kfile import KUSTOMIZATION_NAMES
from secretsmgr.repo.placeholders import (
    PRIVATE_KEY_BLOCK,
    URL_PASSWORD,
    clamped_key,
    names_credential,
    split_camel,
)
from secretsmgr.repo.scan import ScannedFile
from secretsmgr.repo.sopsconfig import CreationRule
from secretsmgr.repo.sopsentry import SopsEntry
from secretsmgr.shellword import sh_path, sh_word
from secretsmgr.sops.document import FileFormat
from secretsmgr.sops.iniio import ini_key_lines, parse_ini
from secretsmgr.sops.locate import DocumentKeys, find_line, key_lines
from secretsmgr.sops.metadata import SOPS_KEY
from secretsmgr.sops.regex import compile_go
from secretsmgr.sops.tree import MapNode
from secretsmgr.sops.values import Comment
from secretsmgr.sops.yamlio import safe_load_all

# Client configurations that hold a private key or token, named with no extension:
# ``kubeconfig``, ``admin.kubeconfig``, Talos's ``talosconfig``, ``.kube/config``.
_CLIENT_CONFIG = re.compile(
    r"(?:.*/)?(?:[^/]*\.)?(?:kubeconfig|talosconfig)$|(?:.*/)?\.kube/config$"
)
MAX_SIZE = 1024 * 1024  # larger files are data, not configuration: read line by line
# The largest file read line by line for known formats (a Terraform state of many resources,
# a .tf padded with a long comment: the attack review of stop 34 hid a key in each)
MAX_LINE_SCAN = 32 * 1024 * 1024
_WORD_BREAK = re.compile(r"[\s\"'`,;()\[\]{}<>]+")
# Terraform and OpenTofu files, and other tools' files in HCL's native syntax (Terragrunt,
# Packer, Nomad, Vault): sweep 22, red-lichtie/homelab-cluster committed a Proxmox API token
# secret in files/terraform/credentails.auto.tfvars, a file no reader looked at
_HCL_NAME = re.compile(r"(?i)\.(?:tf|tfvars|tfbackend|hcl)$")
_DOTENV_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*?)\s*$")
# A ``key: value`` line of YAML or JSON, read as text when the file does not parse.
_MAPPING_LINE = re.compile(
    r"^[ \t]*(?:-[ \t]+)?[\"']?([A-Za-z_][\w.-]{0,127})[\"']?[ \t]*:"
    r"[ \t]+(\S[^\n]{0,4095}?)[ \t,]*$"
)
UNPARSED = "file (it does not parse: read line by line)"
REPEATED = "file (a key given twice, which Flux refuses: read line by line)"
LOOSE = "file (a line its format does not read: read as text)"
OVERSIZE = "file (over 1 MiB: read line by line)"


@dataclass(frozen=True, slots=True)
class CredentialHit:
    """A credential-looking value: where (key path, line), what kind; never the value."""

    path: str
    key_path: str
    line: int
    kind: str
    known: bool
    where: str
    variable: str | None = None  # a container env entry's name, which history names too
    document: int | None = None  # the document (1-based) of a file of several


def _walked(node: object, seen: set[int]) -> bool:
    """Whether ``node`` is a mapping or list this walk has been through already (reached again
    through a YAML alias); else it is marked walked."""
    if not isinstance(node, dict | list):
        return False
    if id(node) in seen:
        return True
    seen.add(id(node))
    return False


def _strings(
    node: object, prefix: str, seen: set[int] | None = None
) -> Iterator[tuple[str, str, str, bool]]:
    """(key path, key, value, is a list item) of every string below ``node``, in one walk: a
    mapping's values under their key, list items (a container's ``args``, cloud-init's
    ``runcmd``) under the list's key, or under the flag before them (``args: [--token, X]``).

    A mapping or list reached again through a YAML alias (``<<: *common``, ``env: *env``) is
    the one its anchor holds, walked once there: its values get no second key path (tyzbit's
    merge keys gave one key 11 findings under ``…<<…`` paths)."""
    seen = set() if seen is None else seen
    if _walked(node, seen):
        return
    if isinstance(node, dict):
        for key, value in cast(dict[object, object], node).items():
            if prefix == "" and key == SOPS_KEY:
                continue
            if isinstance(value, dict | list):
                yield from _strings(value, f"{prefix}{key}.", seen)
            elif isinstance(value, str):
                yield f"{prefix}{key}", str(key), value, False
    elif isinstance(node, list):
        parent = prefix.rstrip(".").rpartition(".")[2]
        flag = ""  # the item before, when it is an argument's flag
        for number, item in enumerate(node):
            if isinstance(item, str):
                yield f"{prefix}{number}", flag or parent, item, True
            else:
                yield from _strings(item, f"{prefix}{number}.", seen)
            is_flag = isinstance(item, str) and item.startswith("-") and " " not in item
            flag = item.lstrip("-") if is_flag else ""


def _leaves(node: object, prefix: str) -> Iterator[tuple[str, str, str]]:
    """(key path, last key, value) of every string a mapping below ``node`` holds."""
    for key_path, key, value, listed in _strings(node, prefix):
        if not listed:
            yield key_path, key, value


# A list of ``{name, value}`` environment variables: a container's ``env``, and a chart's
# ``extraEnv``, ``extraEnvVars``, ``envVars``, ``additionalEnv`` (sweep 70: a random
# API_SECRET under a HelmRelease's `extraEnv` had no finding where `env` had one), and a
# tf-controller Terraform's ``spec.vars`` (the fourth attack review of the gate: a
# `db_password` var passed where the same env entry warned)
_ENV_LIST_KEY = re.compile(
    r"(?i)^(?:(?:extra|additional|global|common)?[_-]?env(?:ironment)?"
    r"(?:[_-]?vars?|[_-]?variables)?|vars)$"
)


def _env(node: object, prefix: str, seen: set[int] | None = None) -> Iterator[tuple[str, str, str]]:
    """``{name, value}`` entries of environment lists (``_ENV_LIST_KEY``) anywhere below
    ``node``; what an alias reaches again is walked once, at its anchor (see ``_strings``)."""
    seen = set() if seen is None else seen
    if _walked(node, seen):
        return
    if isinstance(node, dict):
        items = cast(dict[object, object], node)
        lists = {
            at: env
            for at, env in items.items()
            if isinstance(at, str) and isinstance(env, list) and _ENV_LIST_KEY.match(at)
        }
        for at, env in lists.items():
            for number, raw in enumerate(env):
                if isinstance(raw, dict):
                    var = cast(dict[str, object], raw)
                    name, value = var.get("name"), var.get("value")
                    if isinstance(name, str) and isinstance(value, str):
                        yield f"{prefix}{at}.{number}.value", name, value
        for key, value in items.items():
            if key not in lists:
                yield from _env(value, f"{prefix}{key}.", seen)
    elif isinstance(node, list):
        for number, item in enumerate(node):
            yield from _env(item, f"{prefix}{number}.", seen)


def _get(obj: Obj, *keys: str) -> object:
    node: object = obj
    for key in keys:
        if not isinstance(node, dict):
            return None
        node = cast(Obj, node).get(key)
    return node


# Where a known format (detect-secrets' plugins) can start: the extra pass over the rest of an
# object judges only values holding one of these (substring tests: a regex over every file was
# the slowest part of the audit). Formats without a fixed part (Twilio, Telegram, Mailchimp)
# are judged only where credentials are usually kept.
_KNOWN_PARTS = (
    *("AKIA", "ASIA", "AGPA", "AIDA", "AROA", "AIPA", "ANPA", "ANVA", "A3T"),
    *("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "glpat-", "gldt-", "glptt-"),
    *("xox", "hooks.slack.com", "k_live_", "T3BlbkFJ", "SG.", "eyJ", "-----BEGIN"),
    *("npm_", "_authToken", "pypi-", "sq0", "AccountKey=", "AKC", "AIza", "hvs.", "hvb.", "hvr."),
    "LS0tLS1CRUdJTi",  # base64 of "-----BEGIN": a kubeconfig's client-key-data
    '"TunnelSecret"',  # cloudflared's credentials file (JSON)
    "K10",  # a K3s secure join token
    "tskey-",  # a Tailscale key
    "/webhooks/",  # a Discord webhook's URL
    "IncomingWebhook/",  # a Microsoft Teams webhook's URL
    *("ya29.", "1//0"),  # Google OAuth access and refresh tokens
    *PREFIXED_TOKEN_PARTS,  # services' API tokens by their issuers' shapes
    "AccessKey",  # an Azure connection string's SharedAccessKey=
)


def _known_parts(text: str) -> tuple[str, ...] | None:
    """The fixed parts of known formats that ``text`` holds (``://`` for a URL with
    credentials), or None when it holds none."""
    parts = [part for part in _KNOWN_PARTS if part in text]
    # a bootstrap token has no fixed part: one marker for the tokens, as for UUIDs
    if ("oken" in text or "OKEN" in text) and "." in text and BOOTSTRAP_SHAPE.search(text):
        parts.append(BOOTSTRAP_PART)
    if "://" in text and "@" in text and URL_PASSWORD.search(text):  # the regex is slow
        parts.append("://")
    # a Proxmox API token, a token secret's or Heroku's UUID: one marker for them all (the
    # review: each UUID a part of its own made the pass over a file quadratic)
    if holds_uuid_secret(text):
        parts.append(UUID_PART)
    if "://" in text and ("?" in text or "#" in text) and QUERY_SECRET.search(text):
        parts.append(QUERY_PART)
    if SQL_LOGIN.search(text):
        # SQL that makes or changes a login (the attack review of sweep 83: an init.sql a
        # configMapGenerator reads, a Job's `psql -c`, a script's line: no finding)
        parts.append(SQL_PART)
    return tuple(dict.fromkeys(parts)) or None


# Stand in ``parts`` for every UUID-shaped part and every bootstrap-token-shaped one: a value
# holds one when the shape's regex finds it (a file of 20,000 UUIDs made 20,000 parts, each
# value tested against all of them: seconds, where one regex takes milliseconds)
UUID_PART = "\x00uuid"
BOOTSTRAP_PART = "\x00bootstrap"
QUERY_PART = "\x00query"  # a URL's query parameter named for a credential
SQL_PART = "\x00sql"  # SQL that gives a login a password (SQL_LOGIN finds its statements)
_SHAPES = {
    UUID_PART: UUID_HINT,
    BOOTSTRAP_PART: BOOTSTRAP_SHAPE,
    QUERY_PART: QUERY_SECRET,
    SQL_PART: SQL_LOGIN,
}


def holds_part(value: str, parts: tuple[str, ...]) -> bool:
    """Whether ``value`` holds one of the known-format ``parts`` (``_known_parts``)."""
    return any(
        (part in value) if part not in _SHAPES else (_SHAPES[part].search(value) is not None)
        for part in parts
    )


def _candidates(
    prefix: str, obj: Obj, parts: tuple[str, ...] | None = _KNOWN_PARTS
) -> Iterator[tuple[str, str, str, str, bool, str | None]]:
    """(where, key path, key, value, known formats only, env variable) for the parts of ``obj``
    SM018 looks
    at: every check in the places credentials are kept by mistake, known formats everywhere
    else in the object (a ClusterIssuer's ``accessKeyID: AKIA…``)."""
    kind, api = obj.get("kind"), obj.get("apiVersion")
    yield from _config_literals(prefix, obj)
    if not isinstance(kind, str) or not isinstance(api, str) or (kind, api) == ("Config", "v1"):
        # no Kubernetes object, or a kubeconfig (kind Config): a file, every value judged; an
        # environment list's values under their variables first (sweep 70: a chart's values
        # file that a configMapGenerator reads had `env: [{name: DB_PASSWORD, value: …}]`)
        for key_path, key, value in _env(obj, prefix):
            yield "file", key_path, key, value, False, key
        for key_path, key, value, listed in _strings(obj, prefix):
            if not listed:
                yield "file", key_path, key, value, False, None
            elif parts is not None and holds_part(value, parts):
                yield "file", key_path, key, value, True, None  # a list item: known formats only
        return
    if is_secret(obj) or kind.endswith("List"):
        return
    name = f"{kind} {label(obj)}"
    # container env entries first, judged under their variable: a HelmRelease's values walk
    # below reaches the same leaf under the key `value` (sweep 24: a WireGuard public key)
    for key_path, key, value in _env(obj, prefix):
        what = "var" if key_path.rpartition(".vars.")[1] else "env"
        yield (
            f"{name} {what} {key}",
            key_path,
            key,
            value,
            False,
            key,
        )  # the variable, not its index
    strings = list(_strings(obj, prefix))  # one walk for the flags and the known formats
    yield from _flag_arguments(name, strings)
    if kind == "HelmRelease":
        for key_path, key, value in _leaves(_get(obj, "spec", "values"), f"{prefix}spec.values."):
            yield f"{name} values", key_path, key, value, False, None
    elif kind == "Application" and api.startswith("argoproj.io/"):
        # Argo CD's Helm values, as a HelmRelease's (sweep 48, DiverOfDark/homelab: a password
        # in valuesObject had no finding where spec.values would have had one)
        sources: list[tuple[str, object]] = [("spec.source", _get(obj, "spec", "source"))]
        many = _get(obj, "spec", "sources")
        if isinstance(many, list):
            sources += [(f"spec.sources.{i}", item) for i, item in enumerate(many)]
        for at, source in sources:
            values = (
                _get(cast(Obj, source), "helm", "valuesObject")
                if isinstance(source, dict)
                else None
            )
            for key_path, key, value in _leaves(values, f"{prefix}{at}.helm.valuesObject."):
                yield f"{name} values", key_path, key, value, False, None
    elif kind in ("ExternalSecret", "ClusterExternalSecret") and api.startswith(
        "external-secrets.io/"
    ):
        # the template of the Secret it makes: a literal there is that Secret's value, in git
        # (sweep 87's gate corpus: a database password beside `{{ .secret_key }}` passed)
        target = _get(obj, "spec", "target")
        if kind == "ClusterExternalSecret":
            target = _get(obj, "spec", "externalSecretSpec", "target")
            at = "spec.externalSecretSpec.target.template.data."
        else:
            at = "spec.target.template.data."
        data = _get(cast(Obj, target), "template", "data") if isinstance(target, dict) else None
        for key_path, key, value in _leaves(data, f"{prefix}{at}"):
            yield f"{name} template", key_path, key, value, False, None
    elif kind == "ConfigMap":
        for key_path, key, value in _leaves(obj.get("data"), f"{prefix}data."):
            yield name, key_path, key, value, False, None
        yield from _embedded(name, prefix, obj.get("data"))
        # binaryData that decodes to text is that text in the pod (the attack review of stop
        # 53: an OpenSSH private key and a GitHub token there, base64, passed); a binary file
        # is left alone
        budget = MAX_SIZE  # decoded bytes judged per ConfigMap (the last review of stop 53:
        # 50 keys of gzip, each 1 MiB unzipped, took the gate from 0.7 s to 23 s)
        for key_path, key, value in _leaves(obj.get("binaryData"), f"{prefix}binaryData."):
            raw = _bytes_of_base64(value, budget) if budget > 0 else None
            if raw is None:
                continue
            budget -= len(raw)
            text = _clean_text(raw)
            if text is not None:
                yield name, key_path, key, text, False, None
            else:
                # no clean text (a BOM, a Latin-1 comment, a form feed, gzip): its bytes, for
                # known formats only (the review of stop 53: a token there passed)
                yield name, key_path, key, raw.decode("utf-8", "replace"), True, None
    elif kind == "Certificate" and api.startswith("cert-manager.io/"):
        # a keystore's literal password (cert-manager 1.15's `password`, beside
        # `passwordSecretRef`): the attack review of stop 53 found it silent
        stores = _get(obj, "spec", "keystores")
        for store in ("pkcs12", "jks"):
            held = _get(cast(Obj, stores), store, "password") if isinstance(stores, dict) else None
            if isinstance(held, str):
                at = f"{prefix}spec.keystores.{store}.password"
                yield f"{name} keystore", at, "password", held, False, None
    elif kind == "GrafanaDatasource" and api.startswith("grafana.integreatly.org/"):
        # the values grafana-operator hands Grafana as secure settings
        secure = _get(obj, "spec", "datasource", "secureJsonData")
        for key_path, key, value in _leaves(secure, f"{prefix}spec.datasource.secureJsonData."):
            yield f"{name} secureJsonData", key_path, key, value, False, None
    elif kind == "Kustomization" and api.startswith("kustomize.toolkit.fluxcd.io/"):
        subst = _get(obj, "spec", "postBuild", "substitute")
        for key_path, key, value in _leaves(subst, f"{prefix}spec.postBuild.substitute."):
            yield f"{name} postBuild.substitute", key_path, key, value, False, None
    if parts is None:
        return  # no value in the file can hold a known format
    for key_path, key, value, _ in strings:
        if key_path.startswith(f"{prefix}binaryData."):
            continue  # base64 of a binary file: a key format inside it is chance (AKIA, ABIA…)
        if holds_part(value, parts):
            yield name, key_path, key, value, True, None


def _bytes_of_base64(value: str, limit: int = MAX_SIZE) -> bytes | None:
    """The bytes ``value`` is base64 of, gzip undone, a UTF-8 BOM dropped, at most ``limit`` of
    them; None where it is no base64."""
    try:
        raw = base64.b64decode("".join(value.split()), validate=True)
    except ValueError:
        return None
    if raw.startswith(b"\x1f\x8b"):
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(raw)) as unzipped:
                raw = unzipped.read(limit)
        except (OSError, EOFError):
            pass
    return raw.removeprefix(b"\xef\xbb\xbf")[:limit]


def _clean_text(raw: bytes) -> str | None:
    """``raw`` as UTF-8 text of printable characters and line breaks, or None."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    printable = all(c.isprintable() or c in "\t\r\n" for c in text)
    return text if printable and text.strip() else None


def _text_of_base64(value: str) -> str | None:
    """The UTF-8 text ``value`` is base64 of, or None (not base64, or binary content)."""
    raw = _bytes_of_base64(value)
    return _clean_text(raw) if raw is not None else None


# A command line's argument that gives a flag its value: `--rfc2136-tsig-secret=VALUE`
_FLAG_VALUE = re.compile(r"^--?([A-Za-z][\w.-]{0,63})(?:=| +)(\S.*)$")
_ARGUMENT_LISTS = frozenset(("args", "command", "extraArgs", "extra_args", "extraArguments"))


def _flag_arguments(
    name: str, strings: Sequence[tuple[str, str, str, bool]]
) -> Iterator[tuple[str, str, str, str, bool, str | None]]:
    """Values a container's (or a chart's) argument list gives a flag that names a secret:
    `--NAME=VALUE`, or `--NAME` then `VALUE`, judged under NAME as an env variable's value is
    (sweep 61, dkw99/home-ops: external-dns's `--rfc2136-tsig-secret=<64-byte key>` in a
    committed Deployment had no finding, list items being judged for known formats only).
    ``strings``: the object's, as ``_strings`` walks it."""
    for key_path, key, value, listed in strings:
        if not listed or key_path.rpartition(".")[0].rpartition(".")[2] not in _ARGUMENT_LISTS:
            continue
        found = _FLAG_VALUE.match(value)
        if found is None and value.startswith("-"):
            continue  # another flag, not the value of the one before (`--without-password`)
        flag, given = (found[1], found[2].strip("\"'")) if found else (key, value)
        if flag in _ARGUMENT_LISTS or not _SECRET_WORD.search(flag):
            continue  # an item with no flag before it, or a flag of no secret
        yield f"{name} args", key_path, flag, given, False, None


def _config_literals(
    prefix: str, obj: Obj
) -> Iterator[tuple[str, str, str, str, bool, str | None]]:
    """A kustomization's ``configMapGenerator`` literals (``KEY=value``), judged like a
    ConfigMap's data: the generator writes them into one."""
    kind = obj.get("kind")
    if kind not in (None, "Kustomization", "Component"):
        return
    api = obj.get("apiVersion")
    if api is not None and not str(api).startswith("kustomize.config.k8s.io/"):
        return
    for _gen, name, where, literals in generator_literals(obj, "configMapGenerator", prefix):
        for index, literal in enumerate(literals):
            if not isinstance(literal, str):
                continue
            key, sep, value = literal.partition("=")
            if sep and key.strip():
                shown = f"configMapGenerator {name or '(unnamed)'}"
                yield (
                    shown,
                    f"{where}.{index}",
                    key.strip(),
                    value.strip().strip("\"'"),
                    False,
                    None,
                )


_EMBEDDED_YAML = re.compile(r"(?i)\.(?:ya?ml|json)$")
# an INI-style config a ConfigMap holds (grafana.ini, rclone.conf, wg0.conf, my.cnf)
_EMBEDDED_INI = re.compile(r"(?i)\.(?:ini|conf|cfg|cnf)$")


def _ini_tree(text: str) -> dict[str, object] | None:
    """An INI text as ``{section: {key: value}}``, or None when sops' INI reader refuses it
    (an nginx or Caddy config named ``.conf``)."""
    try:
        doc = parse_ini(text)[0]
    except FormatError:
        return None
    tree: dict[str, object] = {}
    for item in doc.items if isinstance(doc, MapNode) else ():
        if isinstance(item, tuple) and isinstance(item[1], MapNode):
            tree[item[0]] = dict(i for i in item[1].items if isinstance(i, tuple))
    return tree


def _embedded(
    name: str, prefix: str, data: object
) -> Iterator[tuple[str, str, str, str, bool, str | None]]:
    """The values of a YAML, JSON or INI file a ConfigMap holds (``values.yaml: |`` that a
    HelmRelease reads through ``valuesFrom``, a ``grafana.ini``): each judged as the
    HelmRelease's own values are (sweep 14: a password there got no warning; sweep 87's gate
    corpus: Grafana's admin_password, rclone's and WireGuard's keys in a ConfigMap passed)."""
    if not isinstance(data, dict):
        return
    for key, text in cast(dict[object, object], data).items():
        if not isinstance(key, str) or not isinstance(text, str) or "\n" not in text.strip():
            continue
        if len(text) > MAX_SIZE:
            continue
        if _EMBEDDED_INI.search(key):
            tree = _ini_tree(text)
            for key_path, leaf, value in _leaves(tree, f"{prefix}data.{key}."):
                yield f"{name} {key}", key_path, leaf, value, False, None
            continue
        if not _EMBEDDED_YAML.search(key):
            continue
        try:
            docs = safe_load_all(text)
        except (FormatError, RecursionError):
            continue
        for doc in docs:
            for key_path, leaf, value in _leaves(doc, f"{prefix}data.{key}."):
                yield f"{name} {key}", key_path, leaf, value, False, None


# a key naming public keys, whose map holds one per name (``amneziawg_config_public_keys:
# {apex: <base64>}``): each value is judged for known formats only
_PUBLIC_PARENT = re.compile(r"(?i)(?:^|[._-])pub(?:lic)?[_-]?keys?$")
# a map of digests (a code map's `file_hashes`, `checksums`): an MD5, SHA-1, SHA-256 or SHA-512
# in hex below it is a file's fingerprint (sweep 81, rwade628/homelab: nine entropy warnings)
_DIGEST_PATH = re.compile(
    r"(?i)(?:^|[._-])(?:hash(?:es)?|checksums?|digests?|sha\d*sums?|md5(?:sums?)?)(?=[._-]|$)"
)
_HEX_DIGEST = re.compile(r"[0-9a-f]{32}|[0-9a-f]{40}|[0-9a-f]{64}|[0-9a-f]{128}")


def _public_key_shape(value: str) -> bool:
    """A WireGuard (or any Curve25519) public key's form: base64 of 32 bytes (the attack
    review: a `root_password` under a `*_public_keys` map passed)."""
    text = value.strip()
    if len(text) != 44 or not text.endswith("="):
        return False
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return False
    # a WireGuard private key is clamped; a public key is so by chance one time in 32, and
    # then its warning stays
    return len(raw) == 32 and not clamped_key(raw)


def _embedded_line(
    text: str, located: list[DocumentKeys], key_path: str, key: str, value: str
) -> int | None:
    """The line of a value inside a file embedded in a block scalar (a ConfigMap's
    ``config.yaml``): after the line of the longest part of ``key_path`` the document names,
    the first line that is no comment and holds both ``key`` and ``value`` (sweep 57,
    shosti/eevans-infra: a password's line was a comment's that mentioned its value)."""
    parts = key_path.split(".")
    start = None
    for end in range(len(parts) - 1, 0, -1):
        start = find_line(located, ".".join(parts[:end]))
        if start is not None:
            break
    if start is None or not key or not value:
        return None
    for number, line in enumerate(text.splitlines()[start - 1 :], start=start):
        stripped = line.strip()
        if stripped.startswith("#") or key not in stripped or value not in stripped:
            continue
        if stripped.index(key) < stripped.index(value):
            return number
    return None


def _line_of(text: str, value: str, key: str) -> int:
    at = text.find(value) if value else -1
    if at < 0:
        at = text.find(key)
    return text.count("\n", 0, at) + 1 if at >= 0 else 1


# A comment that explains a word as a setting's mode (``# generated - this will generate a token``
# in flux-cluster-template's sample config): the word in a value is that mode, not a password
_MODE_WORD = re.compile(r"^\s*#\s*([A-Za-z][A-Za-z_-]*)\s+(?:-|:|=|\u2013|\u2014)\s+\S")


def _dotenv(file: ScannedFile, text: str) -> Iterator[CredentialHit]:
    yield from _loose_lines(file, text, LOOSE, _DOTENV_LINE)
    yield from _dotenv_items(file, text)


# ``# e.g. VALUE`` / ``# example: VALUE`` in a comment: the value a template shows
_EXAMPLE_COMMENT = re.compile(r"(?i)^\s*#.*?\b(?:e\.g\.|example:)\s*[\"']?([^\s\"']{6,})")


def _dotenv_items(file: ScannedFile, text: str) -> Iterator[CredentialHit]:
    lines = text.splitlines()
    modes = {m.group(1) for raw in lines if (m := _MODE_WORD.match(raw))}
    # a value the file's own comments give as the example, left as it was (sweep 24,
    # symbiontik/k3s-gitops: a cluster template's "# e.g. 1a8d…" Cloudflare key, unchanged)
    examples = {m.group(1) for raw in lines if (m := _EXAMPLE_COMMENT.match(raw))}
    for number, raw in enumerate(lines, start=1):
        if raw.lstrip().startswith("#"):
            continue
        m = _DOTENV_LINE.match(raw)
        if m is None:
            continue
        key, value = m.group(1), m.group(2).strip("\"'")
        if value in examples:
            continue
        verdict = judge_value(key, value)
        if verdict is not None and not (value in modes and not verdict.known):
            yield CredentialHit(file.path, key, number, verdict.kind, verdict.known, "file")


def _hcl(file: ScannedFile, text: str, formats_only: bool) -> Iterator[CredentialHit]:
    """The string values of a Terraform (or other HCL) file, each judged as a plain file's
    value is; strings inside an expression, list items, descriptions and module sources for
    known formats only."""
    parts = _known_parts(text) if formats_only else None
    for item in hcl_values(text):
        value = item.value
        if formats_only and not ((parts and holds_part(value, parts)) or _UNFIXED.search(value)):
            continue
        verdict = judge_value(item.key, value)
        if verdict is None or (item.listed and not verdict.known):
            continue
        line = _line_inside(text, item.line, value, item.key, verdict.kind) or item.line
        yield CredentialHit(file.path, item.key_path, line, verdict.kind, verdict.known, "file")


def _unparsed(
    file: ScannedFile,
    text: str,
    line: re.Pattern[str] = _MAPPING_LINE,
    where: str = UNPARSED,
    *,
    keywords: bool = False,
) -> Iterator[CredentialHit]:
    """Known formats on the ``key: value`` lines (``line``: a key and a value) of a YAML or
    JSON file that does not parse (an alias to no anchor): git stores the value all the same.
    Keyword and entropy hits are left out, as the key's context is unknown, unless
    ``keywords`` (a file that parses but gives a key twice: each line's key is its own)."""
    for number, raw in enumerate(text.splitlines(), start=1):
        m = line.match(raw)
        if m is None or raw.lstrip().startswith("#"):
            continue
        value = re.sub(r"[ \t]+#.*$", "", m.group(2)).strip().strip("\"'")
        verdict = judge_value(m.group(1), value)
        if verdict is not None and (verdict.known or keywords):
            yield CredentialHit(file.path, m.group(1), number, verdict.kind, verdict.known, where)


# What names a line read as text: its first word (a directive, a variable); in prose, only a
# word a ``=`` or ``:`` follows (`token: …`; not the "the" of "the token of the bot: …")
_LINE_NAME = re.compile(
    r"(?:(?:export|declare|typeset|local|readonly)(?:\s+-\w+)*\s+)?([A-Za-z_][A-Za-z_.-]{0,63})(?![\w])"
)
_ASSIGNED_NAME = re.compile(r"([A-Za-z_][A-Za-z_.-]{0,63})(?=\s*[=:])")


def _loose_lines(
    file: ScannedFile,
    text: str,
    where: str,
    taken: re.Pattern[str] | None = None,
    name: re.Pattern[str] = _LINE_NAME,
    *,
    comments: bool = False,
) -> Iterator[CredentialHit]:
    """Known formats in the lines of ``text`` that its reader takes as no item (``taken``
    matches the ones it does): an nginx directive or an indented continuation in a
    configMapGenerator's .conf, a .env line that is no assignment (the attack review of stop
    34: `key AKIA…`, `proxy_set_header Authorization "Bearer …";`); with no ``taken``, every
    line. Comment lines are skipped as everywhere; a PEM block is SM009's. Each word is judged
    on its own, so that an example word beside a token (`# TODO: move it`, `example.com` in
    its URL) hides nothing, and only words that may hold a format are judged at all (the
    second attack review: 700,000 URLs in a 30 MiB file were each judged)."""
    parts = _known_parts(text)
    if parts is None and not _UNFIXED.search(text):
        return
    fixed = tuple(p for p in parts or () if p not in _SHAPES and p != "://")
    shapes = tuple(p for p in parts or () if p in _SHAPES)
    urls = parts is not None and "://" in parts
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped or (not comments and stripped.startswith(("#", ";", "//"))):
            continue
        if taken is not None and taken.match(raw):
            continue
        verdict = next(
            (v for w in _WORD_BREAK.split(raw) if (v := _loose_verdict(w, fixed, urls))), None
        )
        if verdict is None and len(raw) <= _WHOLE_LINE and _in_context(raw, shapes, urls):
            # formats a word cannot show alone (the third review): a bootstrap token after
            # `--token`, a Proxmox token or a token secret's UUID, a URL whose user is a
            # variable (`postgres://${DB_USER}:pw@`) or whose password holds `;`
            found = judge_value("", raw.strip())
            if found is not None and found.known and found.kind != "Private Key":
                verdict = found
            elif tunnel_secret_in(raw):  # a JSON line judge_value takes for structure
                verdict = Verdict("Cloudflare Tunnel Secret", True)
        if verdict is not None:
            # the line's first word names it, unless it could be the secret itself (a token
            # alone on its line, the third review: printed whole)
            key = name.match(stripped)
            shown = key.group(1) if key else f"line {number}"
            yield CredentialHit(file.path, shown, number, verdict.kind, True, where)


def _escaped_keys(file: ScannedFile, text: str, where: str) -> Iterator[CredentialHit]:
    """The private keys of a file over 1 MiB, which the lines read as text leave to SM009:
    SM009 reads a PEM block by its line breaks in a file of no structured format, so here come
    a block with ``\\n`` escapes on one line (a Terraform state's JSON string: sweep 54,
    DBAverage/k8s-talos, two EC keys and no finding), escaped twice (a service account's JSON
    inside a state string), and in YAML or JSON any block, which SM009 leaves to this rule (the
    attack review: a ConfigMap's multi-line `tls.key` over 1 MiB had no finding)."""
    if "PRIVATE KEY" not in text:
        return
    flat = text.replace("\\\\n", "\\n").replace("\\\\r", "\\r")  # same lines, one escape
    structured = file.format in (FileFormat.YAML, FileFormat.JSON)
    lines: list[str] = []
    seen: set[int] = set()
    number, pos = 1, 0
    for found in PRIVATE_KEY_BLOCK.finditer(flat):
        number += flat.count("\n", pos, found.start())  # counted on from the last block
        pos = found.start()
        lines = lines or flat.split("\n")  # the lines as counted (splitlines breaks on more)
        raw = lines[number - 1]
        if number in seen or not (structured or "\\n" in raw):
            continue
        seen.add(number)
        # the key the block is the value of: on its line, or on the line before (``tls.key: |``)
        owner = (
            raw if not raw.strip().startswith("-----") else lines[number - 2] if number > 1 else ""
        )
        key = _KEY_OF_LINE.match(owner)
        shown = key.group(1) if key else f"line {number}"
        yield CredentialHit(file.path, shown, number, "Private Key", True, where)


# the key a line gives a value (``"private_key_pem": "…``, ``tls.key: |``)
_KEY_OF_LINE = re.compile(r"^\s*[\"']?([A-Za-z_][\w.-]{0,127})[\"']?\s*[:=]")


# A line read as text is judged whole, for the formats that need its context, up to this length
_WHOLE_LINE = 4096


def _in_context(line: str, shapes: tuple[str, ...], urls: bool) -> bool:
    """Whether ``line`` may hold a format that needs more than one word to show it."""
    return bool(
        (shapes and holds_part(line, shapes))
        or (urls and "://" in line and "@" in line)
        or "PVEAPIToken" in line
        or '"TunnelSecret"' in line  # cloudflared's JSON: the key names the value
    )


# Where a word read as text may be cut into the values it carries (`?token=…&`, `key=…`)
_PIECE_BREAK = re.compile(r"[=&?#]+")


def _loose_verdict(word: str, fixed: tuple[str, ...], urls: bool) -> Verdict | None:
    """The known format of one word of a line read as text, or of one of its pieces."""
    if "SECRET-KEY-" in word.upper():
        # an age private key is SM009's: its bech32 run can spell another format by chance
        # (A3T… and 16 more, an AWS key id's shape, once in ~500 keys: a flaky test found it)
        return None
    if not (
        any(p in word for p in fixed)
        or (urls and "://" in word and URL_PASSWORD.search(word))
        or _UNFIXED.search(word)
    ):
        return None
    for piece in (word, *_PIECE_BREAK.split(word)):
        verdict = judge_value("", piece)
        if verdict is not None and verdict.known and verdict.kind != "Private Key":
            return verdict
    return None


# ``key = value`` or ``key: value`` on a line of a text no parser reads (an nginx or app .conf a
# configMapGenerator puts into a ConfigMap): its known formats are found there all the same
_KEY_VALUE_LINE = re.compile(r"^\s*([A-Za-z_][\w.-]{0,127})\s*[=:]\s*(\S.*?)\s*;?\s*$")
# A line an INI reader takes: a section header, or a key with `=` or `:` (sops' INI store)
_INI_ITEM = re.compile(r"^\s*(?:\[[^\]]*\]\s*$|[^=:\s][^=:]*[=:])")


def _ini(file: ScannedFile, text: str) -> Iterator[CredentialHit]:
    try:
        doc = parse_ini(text)[0]
    except FormatError:
        yield from _unparsed(file, text, _KEY_VALUE_LINE)
        yield from _loose_lines(file, text, UNPARSED, _KEY_VALUE_LINE)
        return
    parsed = list(_ini_items(file, text, doc))
    yield from parsed
    # a line inside a multi-line value is read twice: what its item reported is not again
    kinds = {hit.kind for hit in parsed if hit.known}
    yield from (h for h in _loose_lines(file, text, LOOSE, _INI_ITEM) if h.kind not in kinds)


def _ini_items(file: ScannedFile, text: str, doc: object) -> Iterator[CredentialHit]:
    lines = ini_key_lines(text)
    assert isinstance(doc, MapNode)
    for section in doc.items:
        if isinstance(section, Comment) or not isinstance(section[1], MapNode):
            continue
        for item in section[1].items:
            if isinstance(item, Comment) or not isinstance(item[1], str):
                continue
            verdict = judge_value(item[0], item[1])
            if verdict is not None:
                key_path = f"{section[0]}.{item[0]}"
                line = lines.get(key_path, 1)
                yield CredentialHit(file.path, key_path, line, verdict.kind, verdict.known, "file")


# Known formats with no fixed part (detect-secrets' Telegram, Mailchimp, Twilio, Discord and
# Artifactory ``AP…`` patterns): a value that matches none of these and holds no fixed part
# of the others is in no known format.
_UNFIXED = re.compile(
    r"\d{8,10}:[0-9A-Za-z_-]{35}|[0-9a-z]{32}-us[0-9]|(?:AC|SK)[a-z0-9]{32}"
    r"|[MNO][a-zA-Z\d_-]{23,25}\.[a-zA-Z\d_-]{6}\.[a-zA-Z\d_-]{27}|AP[\dABCDEF][a-zA-Z0-9]{8}"
    r"|S[OAUNCXP][A-Z2-7]{56}"  # a NATS nkey seed (its checksum is checked later)
)


def _text(data: bytes) -> str:
    """The text of a file; bytes that are no UTF-8 (a Latin-1 comment) replaced, not a reason
    to read nothing (the attack review of stop 34: one such byte hid a .tf file's AWS key)."""
    text = decode_text(data)
    return data.decode("utf-8", "replace") if text is None else text


def detect_known(file: ScannedFile) -> list[CredentialHit]:
    """Known-format hits only: what ``audit --history`` counts as an exposure. A file, and a
    value, that can hold no known format is not judged."""
    if len(file.data) > MAX_LINE_SCAN:
        return []
    text = _text(file.data)
    talos = "cluster:" in text and ("v1alpha1" in text or "certs:" in text)
    if _known_parts(text) is None and not _UNFIXED.search(text) and not talos:
        return []
    return [hit for hit in detect(file, formats_only=True) if hit.known]


def _only_secrets(file: ScannedFile) -> bool:
    """A YAML SOPS file whose every document is a core v1 Secret, as its SOPS entry
    read it. SM018 judges no Secret's values (SM001 and SM003 do), so the manifest reader has
    nothing to hand it there and need not parse the file a second time. The two readers agree
    on such a file: the SOPS reader refuses what they could read apart (duplicate and merge
    keys, a document that is no mapping), and drops only empty documents, which hold no object.
    """
    sf = file.sops.sops_file if file.sops is not None else None
    # YAML only: the SOPS reader takes the first of two equal keys in JSON, which sops keeps
    # and a JSON reader (kubectl's) takes the last of (the review's duplicate "kind")
    if sf is None or sf.format is not FileFormat.YAML or file.format is not FileFormat.YAML:
        return False
    if not sf.docs:
        return False
    return all(doc.get("kind") == "Secret" and doc.get("apiVersion") == "v1" for doc in sf.docs)


# A Pulumi stack file's secret (``config: {hcloud:token: {secure: …}}``): ciphertext the stack's
# secrets provider made, ``v1:NONCE:CIPHERTEXT`` (passphrase) or base64 of a versioned blob
# (``AAABA…``: Pulumi Cloud, a cloud KMS). SOPS-encrypting the file would break ``pulumi up``.
_PULUMI_STACK = re.compile(r"(?:^|/)Pulumi\.[^/]+\.ya?ml$")
_PULUMI_SECURE = re.compile(
    r"^(?:v1:[A-Za-z0-9+/]{16}:[A-Za-z0-9+/]{16,}={0,2}|AAABA[A-Za-z0-9+/]{40,}={0,2})$"
)


def _pulumi_ciphertext(path: str, prefix: str, obj: Obj, key_path: str, value: str) -> bool:
    """``config.<key>.secure`` (or a ``secure`` deeper in a structured config value) of a
    ``Pulumi.<stack>.yaml``, alone in its mapping, in the shape of Pulumi's ciphertext; any
    other value of the file is judged as usual."""
    if prefix or not _PULUMI_STACK.search(path) or not _PULUMI_SECURE.match(value):
        return False
    config = obj.get("config")
    if not isinstance(config, dict):
        return False
    if not key_path.startswith("config.") or not key_path.endswith(".secure"):
        return False
    # at config.<key>.secure, or deeper in a structured value (a list of {name, value:
    # {secure: …}}: budimanjojo/home-cluster): the mapping that holds it holds it alone
    held: object = config
    for part in key_path.split(".")[1:-1]:
        if isinstance(held, dict):
            held = cast(Obj, held).get(part)
        elif isinstance(held, list) and part.isdigit() and int(part) < len(held):
            held = held[int(part)]
        else:
            return False
    return held == {"secure": value}


# Renovate's configuration files: values under ``encrypted`` (``hostRules[].encrypted.token``)
# are encrypted to the Renovate app's key, to be committed (sweep 25, invakid404/home-cluster)
_RENOVATE_CONFIG = re.compile(r"(?:^|/)(?:renovate\.json5?|\.renovaterc(?:\.json5?)?)$")
# The versions of the packets an OpenPGP message begins with (RFC 9580 5.1, 5.3): a public-key
# encrypted session key (tag 1: 3 or 6), a symmetric-key one (tag 3: 4, 5 or 6)
_PGP_VERSIONS = {1: (3, 6), 3: (4, 5, 6)}


def _pgp_message(head: bytes, size: int) -> bool:
    """Whether ``head`` (the first decoded bytes of ``size``) opens an OpenPGP message: a
    session-key packet's header (old or new format), a length that fits, its version. A random
    key begins so about once in 40,000 (its first byte alone, once in 40: the review)."""
    if len(head) < 4:
        return False
    first = head[0]
    if first & 0xC0 == 0xC0:  # new format: the tag, then one, two or five length octets
        tag, at = first & 0x3F, 1
        if head[1] < 192:
            length, at = head[1], 2
        elif head[1] < 224:
            length, at = ((head[1] - 192) << 8) + head[2] + 192, 3
        else:
            return False  # a partial or five-octet length: no session-key packet has one
    elif first & 0xC0 == 0x80:  # old format: the tag and the size of the length
        tag, kind = (first >> 2) & 0x0F, first & 0x03
        if kind == 0:
            length, at = head[1], 2
        elif kind == 1:
            length, at = (head[1] << 8) + head[2], 3
        else:
            return False
    else:
        return False
    return tag in _PGP_VERSIONS and 8 <= length < size and head[at] in _PGP_VERSIONS[tag]


def _committed_ciphertext(path: str, key_path: str, value: str) -> bool:
    """An entropy or keyword hit that is ciphertext meant for git: base64 of an OpenPGP
    encrypted message (Renovate's ``wcFMA…``), or any value under ``encrypted`` in a Renovate
    configuration (its older RSA ciphertext has no such mark)."""
    parts = key_path.split(".")
    if "encrypted" in parts[:-1] and _RENOVATE_CONFIG.search(path):
        return True
    text = value.strip()
    if parts[-1] == "secure" and posixpath.basename(path) == ".travis.yml" and len(text) >= 64:
        return True  # `travis encrypt`'s RSA ciphertext (sweep 82: in a committed node_modules)
    if len(text) < 64 or not re.fullmatch(r"[A-Za-z0-9+/]+={0,2}", text):
        return False
    try:
        head = base64.b64decode(text[:16], validate=True)
    except ValueError:
        return False
    return _pgp_message(head, len(text) * 3 // 4)


# Talos: the machine config ``talosctl gen config`` writes (``version: v1alpha1``, ``machine:``,
# ``cluster:``) and the secrets bundle of ``talosctl gen secrets`` and talhelper (``cluster:``,
# ``secrets:``, ``certs:``) hold random keys under names no keyword check can call known: the
# cluster's discovery secret and the etcd encryption keys of every Secret in the cluster (sweep
# 19, buvis/clusters: a committed controlplane.yaml gave keyword warnings for them, and
# history named its other key paths only). Their certificate keys and tokens are known
# formats already (base64 of a PEM private key, a bootstrap token).
_TALOS_KEYS = frozenset(
    (
        "cluster.secret",
        "cluster.aescbcEncryptionSecret",
        "cluster.secretboxEncryptionSecret",
        "secrets.aescbcencryptionsecret",
        "secrets.secretboxencryptionsecret",
        # the Terraform provider's talos_machine_secrets, in a state (sweep 90, damoun/fleet-
        # infra: a committed state's etcd encryption key and cluster secret went unnamed by
        # history, which counts known formats only)
        "secrets.aescbc_encryption_secret",
        "secrets.secretbox_encryption_secret",
    )
)
_TALOS = Verdict("Talos Cluster Secret", True)
_MACHINE_SECRETS = ".machine_secrets."


def _talos_secret(obj: Obj, key_path: str, value: str) -> bool:
    """Whether ``value`` at ``key_path`` (from the object's top) is one of a Talos machine
    config's or secrets bundle's random keys: base64 of at least 16 bytes, as Talos writes them
    (32), never a placeholder (``${CLUSTER_SECRET}``). A Terraform state's
    ``…attributes.machine_secrets`` is such a bundle."""
    if _MACHINE_SECRETS in key_path and key_path not in _TALOS_KEYS:
        above, _, key_path = key_path.partition(_MACHINE_SECRETS)
        node: object = obj
        for part in (*above.split("."), "machine_secrets"):
            if isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            elif isinstance(node, dict):
                node = node.get(part)
            else:
                return False
        if not isinstance(node, dict):
            return False
        obj = cast(Obj, node)
    if key_path not in _TALOS_KEYS or not isinstance(obj.get("cluster"), dict):
        return False
    machine_config = obj.get("version") == "v1alpha1" and isinstance(obj.get("machine"), dict)
    bundle = isinstance(obj.get("secrets"), dict) and isinstance(obj.get("certs"), dict)
    if not (machine_config or bundle):
        return False
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except ValueError:
        return False
    return len(raw) >= 16


_ENC_VALUE = re.compile(r"ENC\[[^\]\n]*\]")


def _clear_of_sops(text: str) -> str:
    """A YAML SOPS file's text with each ``ENC[…]`` value emptied and each document's ``sops:``
    block blanked, line for line: what is left is what its rule keeps in clear."""
    lines = text.split("\n")
    inside = False
    for number, line in enumerate(lines):
        if line.startswith("sops:"):
            inside = True
        elif inside and line and not line[0].isspace() and not line.startswith("#"):
            inside = False  # the next top-level key, or ``---``
        lines[number] = "" if inside else _ENC_VALUE.sub("ENC[]", line)
    return "\n".join(lines)


_JSON_SOPS_KEY = re.compile(r'^(?P<indent>[ \t]*)"sops"[ \t]*:[ \t]*\{[ \t]*$')


def _clear_of_sops_json(text: str) -> str:
    """A JSON SOPS file's text, as sops writes it (one key a line), with each ``ENC[…]`` value
    emptied and its ``"sops"`` object blanked, line for line (the review of stop 53: a JSON
    file over 1 MiB was not read at all)."""
    lines = text.split("\n")
    closing: str | None = None
    for number, line in enumerate(lines):
        if closing is None and (opened := _JSON_SOPS_KEY.match(line)) is not None:
            closing = opened["indent"] + "}"
            lines[number] = ""
        elif closing is not None:
            if line.rstrip().rstrip(",") == closing:
                closing = None
            lines[number] = ""
        else:
            lines[number] = _ENC_VALUE.sub("ENC[]", line)
    return "\n".join(lines)


def detect(file: ScannedFile, *, formats_only: bool = False) -> list[CredentialHit]:
    """Credential-looking values in the file (never in SOPS-encrypted values); with
    ``formats_only``, only values that may hold a known format are judged."""
    hcl = False
    if file.format is None and file.sops is None:
        if _CLIENT_CONFIG.match(file.path):
            file = replace(file, format=FileFormat.YAML)  # YAML under a name with no extension
        elif is_terraform_state(file.path):
            file = replace(file, format=FileFormat.JSON)
        elif (
            _TEXT_NAME.search(file.path)
            or _SCRIPT_NAME.search(file.path)
            or _CONFIG_NAME.search(file.path)
        ):
            return _plain_text(file)
        elif _SWAP_NAME.search(file.path):
            return _swap_file(file)
        else:
            hcl = _HCL_NAME.search(file.path) is not None
    if (file.format is None and not hcl) or is_lock_file(file.path):
        return []  # a lock file (.terraform.lock.hcl among them): provider hashes
    if len(file.data) > MAX_SIZE:
        if len(file.data) > MAX_LINE_SCAN:
            return []
        text = _text(file.data)
        if file.sops is not None and file.sops.has_metadata:
            # what its rule left in clear, line by line, its ciphertext and metadata blanked
            # (the attack review of stop 53: a token in the values of a HelmRelease beside a
            # large dashboard, 1.1 MB, had no finding; kustomize-controller reads up to 5 MiB)
            if file.format is FileFormat.JSON:
                return list(_loose_lines(file, _clear_of_sops_json(text), OVERSIZE))
            if file.format is not FileFormat.YAML:
                return []
            return list(_loose_lines(file, _clear_of_sops(text), OVERSIZE))
        return [*_loose_lines(file, text, OVERSIZE), *_escaped_keys(file, text, OVERSIZE)]
    text = _text(file.data)
    if file.format is None:  # a Terraform (HCL) file; a PEM block there is SM009's
        pem = {hit.line for hit in find_pem_keys(file.path, file.data)}
        hits = _hcl(file, text, formats_only)
        return [h for h in hits if not (h.kind == "Private Key" and h.line in pem)]
    if file.format is FileFormat.DOTENV:
        if file.sops is not None and file.sops.has_metadata:
            return []
        return list(_dotenv(file, text))
    if file.format is FileFormat.INI:
        if file.sops is not None and file.sops.has_metadata:
            return []
        return list(_ini(file, text))
    if _only_secrets(file):
        # a Secret's values are SM001's and SM003's; its annotations, in clear beside them,
        # are this rule's (parsed only where the text has some)
        return _secret_annotations(file, text, documents(file)) if "annotations" in text else []
    # by (document, key path): each document of a file is judged, and located, on its own
    found: dict[tuple[int, str], tuple[CredentialHit, str, str]] = {}
    judged: set[tuple[int, str]] = set()
    reported: set[tuple[int, str, str]] = set()  # (document, key, value) found already
    parts = _known_parts(text)
    docs = documents(file)
    if not docs and text.strip() and (parts is not None or _UNFIXED.search(text)):
        return list(_unparsed(file, text))
    state = is_terraform_state(file.path) is not None
    decrypted: set[tuple[int, str]] = set()  # a state's sops_file reads, reported whole
    for number, prefix, obj in numbered_objects(docs):
        if state:
            for at, source in _state_sops_reads(obj):
                if not source.startswith("/"):  # relative to the module: the state's folder
                    source = posixpath.normpath(posixpath.join(_module_of(file.path), source))
                kind = f"the decrypted content of {source} (a sops_file data source)"
                hit = CredentialHit(file.path, at, 0, kind, True, "Terraform state")
                found[number, at] = (hit, "", "")
                decrypted.add((number, at))
        for where, key_path, key, value, known_only, variable in _candidates(prefix, obj, parts):
            if (number, key_path) in judged:
                continue
            judged.add((number, key_path))
            if state and _STATE_PRIVATE.match(key_path):
                continue  # Terraform's own per-instance metadata (timeouts, schema version)
            # OpenTofu's state encryption: ciphertext and its key's public salt, where only a
            # known format is judged (the attack review: a forged one hid a token)
            tofu = state and _tofu_encrypted(obj) and _TOFU_CIPHER.match(key_path[len(prefix) :])
            if _pulumi_ciphertext(file.path, prefix, obj, key_path, value):
                continue
            if (
                formats_only
                and not (
                    (parts and holds_part(value, parts))
                    or key == "TunnelSecret"  # cloudflared's: the key names the format
                    or _UNFIXED.search(value)
                    or _talos_secret(obj, key_path[len(prefix) :], value)
                )
            ):
                continue
            verdict = _TALOS if _talos_secret(obj, key_path[len(prefix) :], value) else None
            verdict = verdict or judge_value(key, value)
            if (
                verdict is not None
                and not verdict.known
                and _PUBLIC_PARENT.search(key_path.rpartition(".")[0].rpartition(".")[2])
                and not _SECRET_WORD.search(key)
                and _public_key_shape(value)
            ):
                verdict = None  # a map of public keys by name (sweep 58, kasefuchs: WireGuard)
            if verdict is None or not verdict.known:
                verdict = cloudflare_key_under(key_path, value) or verdict
            if (
                verdict is not None
                and not verdict.known
                and _DIGEST_PATH.search(key_path[len(prefix) :])
                and _HEX_DIGEST.fullmatch(value.strip().lower())
            ):
                verdict = None
            if verdict is not None and not verdict.known and names_secret_key(key_path, value):
                verdict = None  # envFromSecret: {VAR: secret/key} names where the value is
            if verdict is not None and not verdict.known and tofu:
                verdict = None
            if verdict is not None and not verdict.known and _api_example(obj, key_path):
                verdict = None  # an OpenAPI sample (a known format there is still reported)
            if verdict is not None and not verdict.known and _sigstore_bundle(obj):
                verdict = None  # a signature, a certificate, a log entry: public by design
            if (
                verdict is not None
                and not verdict.known
                and _committed_ciphertext(file.path, key_path[len(prefix) :], value)
            ):
                verdict = None  # encrypted for its reader, to be committed
            if verdict is not None and any(
                n == number and key_path.startswith(f"{at}.") for n, at in decrypted
            ):
                continue  # inside a decrypted SOPS file a state holds, reported whole
            if verdict is not None and (verdict.known or not known_only):
                if (number, key, value) in reported:
                    continue  # merged in again (`<<: *env` in three containers): one finding
                reported.add((number, key, value))
                hit = CredentialHit(
                    file.path, key_path, 0, verdict.kind, verdict.known, where, variable, number
                )
                found[number, key_path] = (hit, value, key)
    _drop_whole_files(found)
    repeated = repeats_a_key(file)
    annotated = [h for h in _secret_annotations(file, text, docs) if h.known or not formats_only]
    if not found and not repeated:
        return annotated
    # The line of the key path itself in its own document, so that a value also written
    # earlier (inside a URL, in another document) does not point there; searching the text for
    # the value is the fallback.
    located = key_lines(text, file.format)
    out = []
    for (number, _), (hit, value, key) in found.items():
        lines = located[number - 1].lines if number <= len(located) else {}
        line = lines.get(hit.key_path) or find_line(located, hit.key_path)
        line = line or _embedded_line(text, located, hit.key_path, key, value)
        line = line or _line_of(text, value, key)
        out.append(replace(hit, line=_line_inside(text, line, value, key, hit.kind) or line))
    out = _innermost(out)
    if repeated:
        # a key given twice in a mapping: its first value is in no document, but in git (sweep
        # 51, RovxBot/homelab-infra: a token under the first of two GITHUB_TOKEN keys passed).
        # Each line's hit that a parsed hit stands for (the same last key and kind) moves it to
        # its own line; the others are values no document holds (the attack review: matched
        # by line, the parsed hit sat on the first key's line and hid that value's kind)
        # keyword hits too where every value is judged (sweep 67, yyewolf/infra: a HelmRelease
        # whose first `server:` held a random WOODPECKER_GITHUB_SECRET had no finding, which a
        # file without the repeated key gives a warning); a Secret's values are SM001's
        keywords = not formats_only and not any(is_secret(o) for _, _, o in numbered_objects(docs))
        read = list(_unparsed(file, text, where=REPEATED, keywords=keywords))
        for i, hit in enumerate(out):
            leaf = hit.key_path.rpartition(".")[2]
            alike = [h for h in read if h.key_path == leaf and h.kind == hit.kind]
            # its own line first; else the last (the value a reader keeps is the later one)
            same = next((h for h in alike if h.line == hit.line), alike[-1] if alike else None)
            if same is not None:
                read.remove(same)
                out[i] = replace(hit, line=same.line)
        out += read
    return out + annotated


LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
# annotations in which a tool keeps a copy of the whole object it applied, by what writes them
_OBJECT_COPIES = {
    LAST_APPLIED: "kubectl's last-applied-configuration",
    "kapp.k14s.io/original": "kapp's original",
}


def _secret_annotations(file: ScannedFile, text: str, docs: list[object]) -> list[CredentialHit]:
    """A Secret's annotations, which no SOPS rule of ``data``/``stringData`` encrypts: the
    copy of the Secret kubectl keeps in ``last-applied-configuration`` (``kubectl get secret
    -o yaml``, then sops: the values stayed in clear beside their ciphertext), reported when it
    holds a value; and any other annotation holding a known format (the attack review of
    stop 53: none of them was read)."""
    hits: list[CredentialHit] = []
    located: list[DocumentKeys] | None = None
    for number, prefix, obj in numbered_objects(docs):
        meta = obj.get("metadata")
        notes = meta.get("annotations") if is_secret(obj) and isinstance(meta, dict) else None
        if not isinstance(notes, dict):
            continue
        name = f"Secret {label(obj)} annotation"
        for key, value in cast(dict[object, object], notes).items():
            if not isinstance(key, str) or not isinstance(value, str) or value.startswith("ENC["):
                continue
            known = True
            if key in _OBJECT_COPIES:
                held = _applied_values(value)
                kind = (
                    f"a copy of the Secret's values ({plural(held, 'key')}, {_OBJECT_COPIES[key]})"
                )
                if not held:
                    continue
            else:
                # a known format; or a credential by the annotation's own name, a warning (the
                # review of stop 53: `ops.example.com/admin-password: …` passed)
                leaf = key.rpartition("/")[2]
                verdict = judge_value(leaf, value)
                if verdict is None or not (verdict.known or names_credential(leaf)):
                    continue  # a digest under checksum/config is no credential
                if not verdict.known and _HEX_DIGEST.fullmatch(value.strip().lower()):
                    continue  # nor one under checksum/secret (Helm's way to roll pods)
                kind, known = verdict.kind, verdict.known
            if located is None:
                located = key_lines(text, FileFormat.YAML)
            at = f"{prefix}metadata.annotations.{key}"
            lines = located[number - 1].lines if number <= len(located) else {}
            line = lines.get(at) or find_line(located, at) or _line_of(text, value, key) or 0
            hits.append(CredentialHit(file.path, at, line, kind, known, name, None, number))
    return hits


def _annotation_fix(hit: CredentialHit, encrypted: bool) -> str:
    """Take the value out of a Secret's annotation (no rule of its values encrypts it), then
    rotate it: git holds it in clear."""
    how = f"secretsmgr edit {sh_path(hit.path)}" if encrypted else f"edit {sh_path(hit.path)}"
    if hit.key_path.endswith(LAST_APPLIED):
        return (
            f"delete the {LAST_APPLIED} annotation ({how}; kubectl wrote it with the Secret's "
            "values), then rotate the values it holds: git has them in clear"
        )
    return f"take the value out of the annotation ({how}), then rotate it: git has it in clear"


def _applied_values(text: str) -> int:
    """How many values in clear the Secret kubectl recorded in ``text`` holds (its ``data``,
    base64, and ``stringData``): none where it is no such JSON or its values are placeholders."""
    try:
        applied = json.loads(text)
    except (ValueError, RecursionError):
        return 0
    if not isinstance(applied, dict):
        return 0
    count = 0
    for section in ("data", "stringData"):
        values = applied.get(section)
        items = cast(dict[object, object], values).items() if isinstance(values, dict) else ()
        for key, value in items:
            if not isinstance(value, str) or not value.strip():
                continue
            if is_public_material(f"{section}.{key}", value):
                continue  # a CA certificate (the review of stop 53)
            if section == "data":
                decoded = _text_of_base64(value)
                value = decoded if decoded is not None else value
            if not is_placeholder_value(value) and not value.startswith("ENC["):
                count += 1
    return count


def _drop_whole_files(found: dict[tuple[int, str], tuple[CredentialHit, str, str]]) -> None:
    """A ConfigMap's file judged whole (a known format in its text) and again at its own key
    paths: the whole-file finding goes when a key path inside names the same kind, so that each
    credential is named where it is (sweep 41: an AWS key found in the whole text hid a
    password and a Slack token beside it, and removing the key passed the gate)."""
    for number, at in list(found):
        hit = found[number, at][0]
        # the file's own values: walked from it (named "<object> <data key>"), so a sibling
        # data key that starts with the same name (values.yaml.bak) is none of them (the review)
        own = f"{hit.where} {at.rpartition('data.')[2]}"
        inner = [
            h
            for (n, path), (h, _, _) in found.items()
            if n == number and path.startswith(f"{at}.") and h.where == own
        ]
        if any(h.kind == hit.kind for h in inner):
            del found[number, at]


# Text files a credential is dropped into (`apikey.txt`, `bot.token`), and shell scripts (sweep
# 36, pindaroli/k8s-lab: an OPNsense API key and secret as `key=`/`secret=` lines of a .txt,
# a Telegram bot token in a Proxmox hook script; neither file was read at all)
_TEXT_NAME = re.compile(
    r"(?i)\.(?:txt|token|secrets?|creds|credentials)$"
    # a client's credentials file, named with no extension (Velero's and the AWS CLI's
    # `credentials-velero`, `.netrc`, `.pgpass`, `.git-credentials`, `.s3cfg`; sweep 87's gate
    # corpus: an AWS key pair in credentials-velero passed)
    r"|(?:^|/)(?:\.?credentials(?:[-_][\w-]*)?|\.netrc|\.pgpass|\.git-credentials|\.s3cfg"
    # a registry login under the key a dockerconfigjson Secret gives it
    r"|\.dockerconfigjson|\.dockercfg)$"
)
_SCRIPT_NAME = re.compile(r"(?i)\.(?:sh|bash|zsh|ksh)$")
# a service's configuration in its own syntax (wg0.conf, rclone.conf, my.cnf, an nginx .conf):
# known formats, and lines that set a credential to a value of its own (sweep 87's gate corpus:
# notes/wg0.conf passed)
_CONFIG_NAME = re.compile(r"(?i)\.(?:conf|cfg|cnf)$")
TEXT = "file (read as text)"
SCRIPT = "script (known formats only)"
CONFIG = "config file (read line by line)"


# A Secret a script writes from a heredoc (``cat > db.yaml <<EOF`` … ``kind: Secret`` …
# ``stringData:``): its literal values are the Secret's, judged as a manifest's are, keyword
# hits included (sweep 67, YoungFlores/casego-gitops: a script held the live database
# passwords its SOPS file encrypts, and nothing was said)
HEREDOC = "script (a Secret written from a heredoc)"
_HEREDOC_START = re.compile(r"<<-?[ \t]*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\1")
_SECRET_KIND = re.compile(r"^[ \t]*kind:[ \t]*['\"]?Secret['\"]?[ \t]*$")
_DATA_FIELD = re.compile(r"^([ \t]*)(stringData|data):[ \t]*$")
# a key whose last word names the password itself (not ``targetGroupAuthType``)
_PASSWORD_LAST = re.compile(r"(?i)(?:^|[._-])(?:pass(?:word|wd|phrase)?|pwd|secret|token)$")
_DATA_ENTRY = re.compile(r"^([ \t]+)([A-Za-z0-9_.-]{1,253}):[ \t]+(\S.*?)[ \t]*$")


def _heredoc_secrets(file: ScannedFile, text: str) -> Iterator[CredentialHit]:
    """Each literal one-line value under ``stringData``/``data`` of a Secret that a heredoc
    of the script holds, judged under its key (``data``'s decoded from base64); a value with
    a shell expansion in it (``$VAR``, ``$(cmd)``) is filled in when the script runs."""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        start = _HEREDOC_START.search(lines[i])
        if start is None or lines[i].lstrip().startswith("#"):
            i += 1
            continue
        end = next(
            (j for j in range(i + 1, len(lines)) if lines[j].strip() == start.group(2)),
            len(lines),
        )
        body = range(i + 1, end)
        if any(_SECRET_KIND.match(lines[j]) for j in body):
            yield from _heredoc_values(file, lines, body)
        i = end + 1


def _heredoc_values(
    file: ScannedFile, lines: Sequence[str], body: range
) -> Iterator[CredentialHit]:
    field: tuple[int, str] | None = None  # (indent, stringData or data)
    for j in body:
        raw = lines[j]
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        opened = _DATA_FIELD.match(raw)
        if opened is not None:
            field = (len(opened.group(1)), opened.group(2))
            continue
        if field is not None and len(raw) - len(raw.lstrip()) <= field[0]:
            field = None  # back out of the block
        entry = _DATA_ENTRY.match(raw)
        if field is None or entry is None:
            continue
        value = entry.group(3).strip("\"'")
        if "$" in value or "`" in value or value in ("|", ">", "|-", ">-"):
            continue
        if field[1] == "data":
            try:
                value = base64.b64decode(value, validate=True).decode("utf-8")
            except (ValueError, UnicodeDecodeError):
                continue
        key = entry.group(2)
        if is_placeholder_value(value):
            continue
        verdict = judge_value(key, value)
        if (
            verdict is None
            and _PASSWORD_LAST.search(split_camel(key))
            and not plain_setting(key, value)
        ):
            # a Secret's value under a password's key counts whatever its form, as SM001
            # counts it in a manifest (the script's passwords were words joined by `_`)
            verdict = Verdict("Secret Keyword", False)
        if verdict is not None:
            yield CredentialHit(
                file.path, f"{field[1]}.{key}", j + 1, verdict.kind, verdict.known, HEREDOC
            )


# An editor's swap file (Vim's ``.secret.yaml.swp``, ``.swo``…): binary blocks around the text
# being edited (sweep 42, marcotaco14/HL-Cluster: a tunnel's credentials in clear in a
# committed swap file, read by nothing)
_SWAP_NAME = re.compile(r"(?:^|/)\.[^/]+\.sw[a-p]$")
SWAP = "editor swap file (known formats only)"


def _swap_file(file: ScannedFile) -> list[CredentialHit]:
    """Known formats in the text an editor's swap file holds (its binary parts as breaks)."""
    if len(file.data) > MAX_LINE_SCAN:
        return []
    text = file.data.replace(b"\0", b"\n").decode("utf-8", "replace")
    return list(_loose_lines(file, text, SWAP))


def _plain_text(file: ScannedFile) -> list[CredentialHit]:
    """A text file, a shell script or a service's config: known formats on every line. In a
    text file, also each ``name: value`` or ``name=value`` line (and a file named for a
    secret, ``*.token``, holds its value alone on a line) judged as a dotenv value is,
    keyword and entropy hits included; a script's assignments are settings and variables far
    more often than secrets, so only known formats count there; in a config, also a known
    format its key names (wg-quick's ``PrivateKey = …``), and in a config or a text file a
    line that sets a password to a value of its own (``_config_lines``)."""
    if len(file.data) > MAX_LINE_SCAN:
        return []
    text = decode_text(file.data)  # UTF-8, or UTF-16/32 with a BOM (PowerShell's `>`)
    if text is None:
        if b"\0" in file.data[:8192]:
            return []  # binary data
        text = file.data.decode("utf-8", "replace")
    if not _TEXT_NAME.search(file.path):
        where = SCRIPT if _SCRIPT_NAME.search(file.path) else CONFIG
        hits = list(_loose_lines(file, text, where))
        if "<<" in text and "Secret" in text:
            taken = {hit.line for hit in hits}
            hits += [h for h in _heredoc_secrets(file, text) if h.line not in taken]
        if where == CONFIG:
            hits += _named_formats(file, text, {hit.line for hit in hits})
            hits += _config_lines(file, text, {hit.line for hit in hits}, CONFIG)
        return hits
    # a text file has no comment syntax: a `# token` heading hides nothing (the attack review)
    hits = list(_loose_lines(file, text, TEXT, name=_ASSIGNED_NAME, comments=True))
    found = {hit.line for hit in hits}
    extension = posixpath.splitext(file.path)[1].lower().lstrip(".")
    alone = _SECRET_WORDS.get(extension)  # the word a value alone on its line is judged under
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if number in found or not stripped or stripped.startswith("#"):
            continue
        pair = _PAIR_LINE.match(raw)
        bare = _SCHEME.sub("", stripped)  # `Bearer …` in a .token file: the token
        if pair is not None:
            key, value = pair.group(2), pair.group(3).strip().rstrip(",;").strip().strip("\"'")
        elif alone is not None and " " not in bare and len(bare) >= _BARE_VALUE:
            key, value = alone, bare
        else:
            continue
        if len(value) < _LONG_VALUE and not _SECRET_WORD.search(key):
            continue  # neither a keyword hit nor an entropy hit can come of it (the review:
            # judging every `name: value` line of 5,000 files took 9 s where 2 s did before)
        verdict = judge_value(key.replace(" ", "_"), value)
        # a value alone in a file named for a secret is one unless it is a stand-in (the review:
        # a Consul token's UUID, a 24-character token in a .token file passed); not a path or a
        # name of words (`my-app-credentials-production`: the third review), so it mixes
        # letters and digits
        alone_there = pair is None and len(value) >= _LONG_VALUE - 4 and _MIXED.search(value)
        if (
            verdict is None
            and alone_there
            and not is_placeholder_value(value)
            and not public_jwt(value)  # a NATS user's JWT above its seed in a .creds file
        ):
            verdict = Verdict("Secret Keyword", False)
        if verdict is not None:
            hits.append(CredentialHit(file.path, key, number, verdict.kind, verdict.known, TEXT))
    # a line no `name: value` pair reads: a .netrc's `machine … password …`, a .pgpass line
    return hits + _config_lines(file, text, {hit.line for hit in hits}, TEXT)


def _config_lines(file: ScannedFile, text: str, taken: set[int], where: str) -> list[CredentialHit]:
    """The lines of a config or credentials file that set a credential to a value of its own
    (``config_credential``: `password = …` in an rclone.conf or my.cnf, a .netrc's
    `password …`, a .pgpass line, mosquitto's `remote_password …`), as keyword hits, on lines
    not reported yet (the attack review of sweep 87: the same lines in a ConfigMap were
    warnings, in a committed file nothing)."""
    name = posixpath.basename(file.path)
    hits: list[CredentialHit] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if number in taken:
            continue
        key = config_credential(raw, name)
        if key is not None:
            hits.append(CredentialHit(file.path, key, number, "Secret Keyword", False, where))
    return hits


def _named_formats(file: ScannedFile, text: str, taken: set[int]) -> list[CredentialHit]:
    """Known formats of a config's ``key = value`` lines that only their key tells (a
    WireGuard private key under ``PrivateKey``), on lines not reported yet."""
    hits: list[CredentialHit] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        pair = _KEY_VALUE_LINE.match(raw)
        if number in taken or pair is None or raw.lstrip().startswith(("#", ";")):
            continue
        verdict = judge_value(pair[1], pair[2].strip("\"'"))
        if verdict is not None and verdict.known:
            hits.append(CredentialHit(file.path, pair[1], number, verdict.kind, True, CONFIG))
    return hits


# A ``name: value`` or ``name = value`` line of a text file (not ``name==1.2``, a pin), the
# name quoted or a list item's too (``"password": "…",``, ``- password: …``: the review)
_PAIR_LINE = re.compile(
    r"^\s*(?:-\s+)?(?:export\s+)?([\"']?)"
    # a name of up to four words, as notes have them (`admin password: …`: sweep 39)
    r"([A-Za-z_][A-Za-z0-9_.-]{0,63}(?: [A-Za-z_][A-Za-z0-9_.-]{0,31}){0,3})\1"
    r"\s*[:=](?!=)\s*(\S.*)$"
)
# an HTTP authorization scheme before a token
_SCHEME = re.compile(r"^(?i:bearer|basic|token)\s+")
_BARE_VALUE = 8  # a shorter word alone in a file named for a secret is a setting (`Opaque`)
# letters and digits, and no path (two slashes at least: base64 may start with `/` or `.`, the
# fourth review) nor URL
_MIXED = re.compile(r"^(?!(?:\.{1,2}/|~/|/)[^/\s]+/|.*://)(?=.*\d)(?=.*[A-Za-z])")
# What a key must hold for the keyword check to judge it, cheaply (a superset of detect-secrets'
# list), and the length below which no entropy check finds a value random
_SECRET_WORD = re.compile(
    r"(?i)pass|pwd|secret|token|key|auth|cred|private|api|bearer|cookie|contrase"
)
_LONG_VALUE = 20
# the files named for what they hold: a line that is one word holds it
_SECRET_WORDS = {
    "token": "token",
    "secret": "secret",
    "secrets": "secret",
    "creds": "credentials",
    "credentials": "credentials",
}


# ``resources[].instances[].private``: base64 of Terraform's JSON of timeouts and schema
# version, in every managed resource (sweep 32, nea0d/k8s-homelab-flux)
_STATE_PRIVATE = re.compile(r"^resources\.\d+\.instances\.\d+\.private$")

# A state OpenTofu encrypted (``encryption { … }``): the resources are inside
# ``encrypted_data``, and ``meta`` holds each key provider's public parameters (a PBKDF2 salt
# and iteration count, base64 of JSON), sweep 45, turtton/infra: that salt was a credential
_TOFU_CIPHER = re.compile(r"^(?:encrypted_data|meta\.key_provider\..+)$")


def _tofu_encrypted(state: object) -> bool:
    return (
        isinstance(state, dict)
        and isinstance(state.get("encrypted_data"), str)
        and "encryption_version" in state
        and "resources" not in state
    )


# the data sources of the sops providers (carlpett/sops): their attributes hold the file
# decrypted, data (the values by key) and raw (the whole file)
_SOPS_DATA_SOURCES = frozenset(("sops_file", "sops_external"))


def _module_of(state: str) -> str:
    """The folder of the root module whose state ``state`` is: its own, or the one above a
    workspace's ``terraform.tfstate.d/NAME/`` (the review)."""
    folder = posixpath.dirname(state)
    parts = folder.split("/")
    if "terraform.tfstate.d" in parts:
        return "/".join(parts[: parts.index("terraform.tfstate.d")])
    return folder


def _state_sops_reads(state: object) -> list[tuple[str, str]]:
    """(key path, the SOPS file) of each instance of a sops data source a Terraform state
    holds with its values: the file in clear, whatever its values look like (sweep 32,
    nea0d/k8s-homelab-flux: a committed state held a Cloudflare key of secret.sops.yaml, and
    check passed it with a warning)."""
    if not isinstance(state, dict) or not isinstance(state.get("resources"), list):
        return []
    out: list[tuple[str, str]] = []
    for r, resource in enumerate(state["resources"]):
        if not isinstance(resource, dict) or resource.get("type") not in _SOPS_DATA_SOURCES:
            continue
        instances = resource.get("instances")
        for i, instance in enumerate(instances if isinstance(instances, list) else []):
            attributes = instance.get("attributes") if isinstance(instance, dict) else None
            if not isinstance(attributes, dict):
                continue
            if not (attributes.get("raw") or attributes.get("data")):
                continue
            source = attributes.get("source_file")
            name = source if isinstance(source, str) and source else "a SOPS file"
            out.append((f"resources.{r}.instances.{i}.attributes", name))
    return out


def _line_inside(text: str, start: int, value: str, key: str, kind: str) -> int | None:
    """For a multi-line value (a config file in a block scalar), the file line of the value's
    first line that holds the credential on its own (``kind`` again), found in the text at or
    after the key's line ``start``; None when the value is one line or no line says so."""
    if "\n" not in value.strip():
        return None
    target = next(
        (
            part.strip()
            for part in value.splitlines()
            if part.strip()
            and (verdict := judge_value(key, part.strip())) is not None
            and verdict.kind == kind
        ),
        None,
    )
    if target is None:
        return None
    for number, line in enumerate(text.splitlines()[start - 1 :], start=start):
        if target in line:
            return number
    return None


_RENAMED = re.compile(
    r"^(?P<stem>.+?)(?P<ext>\.(?:ya?ml|json|env|ini|txt|token|secrets?|creds|credentials))$"
)


def _sigstore_bundle(doc: object) -> bool:
    """A Sigstore bundle (``cosign sign-blob --bundle``, CloudNativePG's published
    ``*.sigstore.json``): a signature, a Fulcio certificate, a timestamp and a Rekor entry,
    all public and checked by anyone."""
    if not isinstance(doc, dict):
        return False
    media = cast(Obj, doc).get("mediaType")
    return isinstance(media, str) and media.startswith("application/vnd.dev.sigstore.bundle")


def _api_example(doc: object, key_path: str) -> bool:
    """A sample value in an OpenAPI or Swagger document (``…properties.apikey.example``):
    documentation of a field, not a credential of this repository."""
    if not isinstance(doc, dict):
        return False
    version = cast(Obj, doc).get("openapi", cast(Obj, doc).get("swagger"))
    if not isinstance(version, str | int | float) or not str(version)[:1].isdigit():
        return False  # a values file's swagger: {enabled: true} is no API document
    parts = key_path.split(".")
    return parts[0] in ("components", "definitions", "paths") and bool(
        {"example", "examples", "x-example"} & set(parts)
    )


# Files a CI service reads in clear: an encrypted workflow cannot run, so the credential
# belongs in the service's own secret store.
_CI_FILE = re.compile(
    r"^(?:\.github/(?:workflows|actions)/|\.gitea/workflows/|\.forgejo/workflows/|"
    r"\.gitlab/|\.gitlab-ci\.ya?ml$|\.circleci/|\.buildkite/|\.woodpecker|\.drone\.ya?ml$)"
)


# Docker Compose's files: compose.yaml, docker-compose.yml, docker-compose.override.yml…
_COMPOSE_FILE = re.compile(r"(?:^|/)(?:docker-)?compose(?:\.[\w-]+)*\.ya?ml$")
_TEXT_STORES = frozenset((".yaml", ".yml", ".json", ".env", ".ini"))


def _terraform_fix(hit: CredentialHit) -> str | None:
    """The fix in a Terraform state or HCL file, which its tool cannot read encrypted (None for
    other files)."""
    name = posixpath.basename(hit.path)
    if is_terraform_state(name):
        return (
            f"take the state out of git (git rm --cached {sh_path(hit.path)}, and *.tfstate in "
            ".gitignore) and keep it in a remote backend or encrypted (OpenTofu's state "
            "encryption), then rotate every credential it held: it is in git"
        )
    if not _HCL_NAME.search(name):
        return None
    ext = name.rpartition(".")[2].lower()
    env = "a SOPS-encrypted .env file"
    if name.lower().endswith(".pkr.hcl"):
        # Packer reads a variable from PKR_VAR_<name> (sweep 39, janpuc/homelab: the fix named
        # Terragrunt's reader, which Packer does not have)
        where = (
            f"replace the literal in {name} with a variable (sensitive = true) and set it as "
            f"PKR_VAR_<name> in {env} that Packer runs with (sops exec-env FILE.enc.env "
            "'packer build .')"
        )
    elif ext == "hcl":
        where = (
            f"move the value out of {name} (its tool cannot read it encrypted) into a file it "
            f"reads encrypted (Terragrunt's sops_decrypt_file) or into {env} whose variables it "
            "runs with (sops exec-env FILE.enc.env 'COMMAND')"
        )
    elif ext == "tfbackend" or hit.key_path.startswith("terraform.backend."):
        # a backend block takes no variables: its credentials come from the environment
        where = (
            f"take the value out of {name} and give the backend its credentials from the "
            f"environment (AWS_SECRET_ACCESS_KEY for s3, say), kept in {env}: "
            "sops exec-env FILE.enc.env 'terraform init'"
        )
    else:
        parts = hit.key_path.split(".")
        variable = (
            parts[1] if len(parts) == 3 and parts[0] == "variable" and parts[2] == "default" else ""
        )
        if variable:
            # a variable's default (sweep 61, hanspaerna/k3s-homelab-iac: "replace the
            # literal with a variable" of what was one already)
            where = (
                f"remove the default of variable {variable} in {name} and set it as "
                f"TF_VAR_{variable} in {env} that Terraform runs with (sops exec-env "
                "FILE.enc.env 'terraform apply')"
            )
            return f"{where}; then rotate it: it is in git"
        first = (
            f"replace the literal in {name} with a variable (sensitive = true)"
            if ext == "tf"
            else f"move the value out of {name} (Terraform cannot read an encrypted .{ext} file)"
        )
        where = (
            f"{first} and set it as TF_VAR_<name> in {env} that Terraform runs with "
            "(sops exec-env FILE.enc.env 'terraform apply'), or read it with the sops "
            "provider's sops_file data source"
        )
    return f"{where}; then rotate it: it is in git"


def _fix(ctx: AuditContext, hit: CredentialHit) -> str:
    if hit.where.startswith("configMapGenerator ") or (
        hit.where == "file" and posixpath.basename(hit.path) in KUSTOMIZATION_NAMES
    ):
        # kustomize cannot read an encrypted kustomization file, and Flux decrypts none
        return (
            f"move the value out of {posixpath.basename(hit.path)} (kustomize cannot read it "
            "encrypted) into a secretGenerator's envs: file of KEY=value lines (NAME.enc.env, "
            "encrypted with secretsmgr encrypt -i), read it from that Secret, and rotate it: "
            "it is in git"
        )
    if hit.where == "file" and (terraform := _terraform_fix(hit)) is not None:
        return terraform
    if hit.where == "file" and _CI_FILE.match(hit.path):
        return (
            "move the value into the CI service's own secrets (in GitHub Actions, a repository "
            "or environment secret read as ${{ secrets.NAME }}) and rotate it: it is in git "
            "(the CI cannot read an encrypted workflow)"
        )
    if hit.where == "file" and _COMPOSE_FILE.search(hit.path):
        # Docker Compose reads no encrypted compose file (sweep 25, negative7/home-cluster's
        # truenas/compose.yaml: the fix encrypted it)
        env = posixpath.join(posixpath.dirname(hit.path), "secrets.enc.env")
        encrypt = encrypt_steps(ctx, env, [hit.key_path.rpartition(".")[2]], why="")
        return (
            f"move the value into a SOPS-encrypted .env file ({env}: KEY=value lines; "
            f"{encrypt}) and write ${{KEY}} in its place, then run "
            f"Compose with it: sops exec-env {sh_path(env)} 'docker compose up -d'; and rotate "
            "it: it is in git (Compose cannot read an encrypted compose file)"
        )
    if hit.where == "file" and generator_readers(ctx, hit.path, UseKind.CONFIGMAP_SOURCE):
        # Flux decrypts secretGenerator sources only: an encrypted configMapGenerator file
        # gives the ConfigMap ENC[…] text (SM015), and the app an unusable config (sweep 18)
        return (
            f"read {hit.path} with a secretGenerator instead of its configMapGenerator (Flux "
            f"decrypts secretGenerator sources only) and mount that Secret, then encrypt it "
            f"(secretsmgr encrypt -i; it needs a .sops.yaml creation rule that matches it), "
            "or move the value into a SOPS-encrypted Secret; and rotate it: it is in git"
        )
    if hit.where == SWAP:
        return (
            f"remove the editor's swap file from git (git rm --cached {sh_path(hit.path)}, and "
            "*.sw[a-p] in .gitignore) and rotate the credential: it is in git"
        )
    if hit.where in (SCRIPT, HEREDOC):
        # every path from the repository root, where the fix is pasted (the attack review and
        # sweep 37: `./deploy.sh` beside `scripts/secrets.enc.env` ran nothing)
        env = posixpath.join(posixpath.dirname(hit.path), "secrets.enc.env")
        name = hit.key_path.rpartition(".")[2] if hit.where == HEREDOC else hit.key_path
        encrypt = encrypt_steps(ctx, env, [name], why="")
        said = f" (${{{name}:?}} in the heredoc)" if hit.where == HEREDOC else ""
        return (
            f"read the value from the environment in {posixpath.basename(hit.path)}{said}, keep "
            "it in "
            f"a SOPS-encrypted .env file ({env}: KEY=value lines; {encrypt}) and run the "
            f"script with it: sops exec-env {sh_path(env)} {sh_word('./' + hit.path)}; and "
            "rotate it: it is in git"
        )
    if hit.where in ("file", TEXT):
        configs = ctx.repo.sops_configs
        m = _RENAMED.match(hit.path)
        stem, ext = (m.group("stem"), m.group("ext")) if m else (hit.path, ".yaml")
        # either name encrypted files go by, the first a rule matches (sweep 46, zidlab's
        # talos/talsecret.yaml under a rule for *.sops.yaml: the fix asked for a new rule)
        names = [f"{stem}.enc{ext}", f"{stem}.sops{ext}"]
        target = next((n for n in names if configs.rule_for(n)[1] is not None), names[0])
        entry = next((e for e in ctx.repo.sops_files if e.path == hit.path), None)
        if entry is not None and entry.encrypts_none:
            encrypt = own_rule_fix(entry)  # encrypt refuses its rule, as SM002's fix says
        elif (found := configs.rule_for(hit.path))[1] is not None:
            encrypt = configs.encrypt_command(hit.path)
            # encrypting under it would leave this value in clear and exit 0 (sweep 20,
            # 0xTheFr34k: a Talos config's machine.ca.key under ^(…|cluster|token)$)
            encrypt = _rule_first(found, hit.path, hit.key_path, "", encrypt) or encrypt
        elif (renamed := configs.rule_for(target))[1] is not None:
            name = posixpath.basename(target)
            then = f"rename {hit.path} to {name}"
            encrypt = (
                f"{then}, which a .sops.yaml creation rule matches, then "
                f"{configs.encrypt_command(target)}"
            )
            # that rule would leave the value in clear, and encrypt refuses a file it would
            # encrypt nothing of (sweep 55, a Helm values file under a rule of
            # ^(data|stringData)$: the pasted rename and encrypt failed)
            and_encrypt = f"{then} and {configs.encrypt_command(target)}"
            encrypt = _rule_first(renamed, target, hit.key_path, f" in {name}", and_encrypt) or (
                encrypt
            )
        else:  # no rule for either name, or no .sops.yaml at all (dashaun-cloud, rtrox)
            encrypt = (
                f"add a .sops.yaml creation rule that matches {hit.path} (none does), then "
                f"secretsmgr encrypt -i {sh_path(hit.path)}"
            )
        return f"{encrypt}; or move the value into a SOPS-encrypted Secret"
    if hit.where.startswith("Provider ") and hit.key_path in _PROVIDER_FIELDS:
        # a Flux notification Provider reads its address, proxy and token from the Secret
        # spec.secretRef names (the fourth attack review of the gate: the fix named
        # valuesFrom and secretKeyRef, which a Provider has not)
        field = hit.key_path.rpartition(".")[2]
        return (
            f"move {field} into a SOPS-encrypted Secret under the key {field}, name it in the "
            f"Provider's spec.secretRef and take spec.{field} out (Flux reads it from there), "
            "then rotate the credential: it is in git"
        )
    return (
        "move the value into a SOPS-encrypted Secret and reference it (valuesFrom, "
        "secretKeyRef or postBuild.substituteFrom), then rotate the credential: it is in git"
    )


# what a Flux notification Provider also reads from its spec.secretRef's Secret
_PROVIDER_FIELDS = frozenset(("spec.address", "spec.proxy", "spec.username"))


def _rule_first(
    found: tuple[str | None, CreationRule | None, int | None],
    path: str,
    key_path: str,
    where: str,
    then: str,
) -> str | None:
    """The fix when the creation rule ``found`` (of ``path``) would leave ``key_path`` in
    clear: a rule of its own for the file, above it, then ``then``; None when it would not.
    sops reads a name without a text store's extension (kubeconfig, talosconfig) in its binary
    store, which encrypts the whole file (the review)."""
    label, rule, number = found
    if posixpath.splitext(path)[1].lower() not in _TEXT_STORES or rule_encrypts(rule, key_path):
        return None
    assert rule is not None and rule.encryption_rule is not None
    spec = rule.encryption_rule
    return (
        f"{label} rule {number} ({spec.kind}: {spec.value}) would leave {key_path} in "
        f"clear{where}: add a rule for {path} above it (a path_regex for its name, the same "
        f"keys, no encrypted_regex), then {then}"
    )


def _others(following: Counter[tuple[str | None, int | None]], entry: SopsEntry) -> int:
    """How many other SOPS files follow the creation rule ``entry`` follows (none without one:
    the second pass, a file with no rule was told "-1 other SOPS files follow")."""
    if entry.creation_rule_number is None:
        return 0
    return max(0, following[entry.sops_config, entry.creation_rule_number] - 1)


def _sops_fix(entry: SopsEntry, key_path: str, followers: int = 0) -> str:
    """In a SOPS file, a value its rule leaves in clear: ``encrypt`` would refuse the file.

    Names the `.sops.yaml` and rule that govern the file (a nested one, not the root's), the
    file's own rule, and a regex that misses the key only by case (sweep 32,
    ksefuke-labs/homelab-ops: ``secretboxencryptionSecret`` in the rule, Talos writes
    ``secretboxencryptionsecret``). Where ``followers`` other SOPS files follow that rule, a rule
    of the file's own above it changes none of them (sweep 87, vhaudiquet/homeprod: the fix said
    to change `.*.yaml`'s rule, which every manifest of the repository follows)."""
    where = ".sops.yaml"
    if entry.sops_config is not None and entry.creation_rule_number is not None:
        where = f"{entry.sops_config} rule {entry.creation_rule_number}"
    sf = entry.sops_file
    rule = sf.metadata.rule if sf is not None else None
    said = f" ({rule.kind.value}: {rule.value})" if rule is not None else ""
    case = ""
    if rule is not None and rule.kind.value == "encrypted_regex":
        key = key_path.rpartition(".")[2]
        try:
            exact = compile_go(rule.value).search(key)
            folded = compile_go("(?i)" + rule.value).search(key)
        except FormatError:
            exact = folded = False
        if folded and not exact:
            case = f" (it names {key} in another case: regexes match case)"
    change = f"change the rule in {where}"
    if followers:
        others = plural(followers, "other SOPS file")
        change = (
            f"add a rule for {entry.path} above {where}, which {others} "
            f"{'follows' if followers == 1 else 'follow'} (a path_regex for its name, the same "
            "keys, a rule that encrypts it)"
        )
    return (
        f"the file's encryption rule{said} leaves {key_path} in clear{case}: {change}, then "
        f"re-encrypt: {reencrypt_fix(entry)}"
    )


def _innermost(hits: list[CredentialHit]) -> list[CredentialHit]:
    """``hits`` without one that another stands for: the same kind on the same line, at a key
    path inside it (sweep 80, emerconn/fleet-infra: a Kustomization's inline patch, judged as
    a string and as the HelmRelease it holds, gave one credential two errors)."""
    return [
        hit
        for hit in hits
        if not any(
            other.line == hit.line
            and other.kind == hit.kind
            and other.key_path.startswith(f"{hit.key_path}.")
            for other in hits
        )
    ]


def check(ctx: AuditContext) -> Iterator[Finding]:
    """One finding per credential; known formats are errors, keyword and entropy warnings."""
    encrypted = {e.path: e for e in ctx.repo.sops_files if e.has_metadata}
    following: Counter[tuple[str | None, int | None]] = Counter(
        (e.sops_config, e.creation_rule_number)
        for e in encrypted.values()
        if e.creation_rule_number is not None
    )
    generated = env_sources(ctx)  # a secretGenerator's envs: file: SM001 reports every value
    filled = filled_variables(ctx)  # postBuild variables put in a Secret: SM001 reports them
    # a Secret a HelmRelease's values hand its chart whole: SM001 reports its values
    charted = {
        (h.path, h.key_path)
        for h in ctx.repo.hits_of("SM001")
        if isinstance(h, PlaintextSecret) and h.key_path.startswith("spec.values.")
    }
    hits = ctx.repo.hits_of(RULE.id)
    # a key path in several documents of a file names its document: findings are one per
    # (path, key path, document), and a warning in the first hid a token in the second (the
    # attack review of stop 53)
    counts = Counter((h.path, h.key_path) for h in hits if isinstance(h, CredentialHit))
    for hit in hits:
        assert isinstance(hit, CredentialHit)
        if (hit.where == "file" and hit.path in generated) or (hit.path, hit.key_path) in charted:
            continue
        if any(
            hit.path == path and (hit.key_path == where or hit.key_path.endswith(f".{where}"))
            for path, where in filled
        ):
            continue
        what = hit.kind if hit.known else f"a likely credential ({hit.kind.lower()})"
        at = "" if hit.key_path == f"line {hit.line}" else f" at {hit.key_path}"  # a bare line
        finding = RULE.finding(
            hit.path,
            f"{hit.where}: {what} in plaintext{at}, line {hit.line}",
            key_path=hit.key_path,
            line=hit.line,
            document=hit.document if counts[hit.path, hit.key_path] > 1 else None,
            fix=_annotation_fix(hit, hit.path in encrypted)
            if hit.where.endswith(" annotation")
            else _sops_fix(
                encrypted[hit.path], hit.key_path, _others(following, encrypted[hit.path])
            )
            if hit.path in encrypted
            else _fix(ctx, hit),
        )
        yield finding if hit.known else replace(finding, severity=Severity.WARNING)


RULE = Rule(
    id=RuleId("SM018"),
    name="plaintext-credential",
    severity=Severity.ERROR,
    needs=frozenset(),
    summary="A credential outside a Secret (HelmRelease values, ConfigMap, substitute, env, file)",
    check=check,
    detect=detect,
    hit_type=CredentialHit,
)
