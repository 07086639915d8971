"""Values that stand for a secret filled in elsewhere, never a committed secret themselves.

A Flux post-build variable (``${VAR}``, ``${VAR:=default}``), a Helm/Go/Jinja template
(``{{ … }}``, ``{% … %}``), an angle-bracket placeholder (``<github_token>``), a secret-manager
reference (``op://vault/item/field`` for 1Password, ``ref+…`` for vals, ``vault:…``,
``secret://…`` and the like), or an empty string, which sops itself never encrypts.

A value that mixes variables with text is a placeholder only when the text around them holds
no secret of its own: ``${SECRET_X}/path`` and ``Bearer ${TOKEN}`` are, but
``postgres://app:hunter2@${DB_HOST}/app`` (a password in the URL), a config whose
``password:`` line is literal, and a private key block beside a variable are not.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from itertools import pairwise

# No brace inside and bounded: from every ``${`` or ``{{`` of a long run without a closing
# one, a scan to the end of the value is quadratic.
_TEMPLATE = re.compile(r"\$\{[^{}]{0,512}\}|\{\{[^{}]{0,2048}\}\}|\{%[^{}]{0,2048}%\}")
_ANGLE = re.compile(r"^\s*<[^<>\s][^<>]*>\s*$")
# Template variables of other renderers, read more strictly (see _filled_by_template): makejinja's
# ``#{ github.webhook_token }#`` (onedr0p/cluster-template) and Carvel ytt's text templates
# ``(@= data.values.registry_password @)``; an expression that starts with a name, on one line;
# Zarf's package variables (``###ZARF_GIT_AUTH_PUSH###``, ``###ZARF_VAR_DB_PASSWORD###``), which
# it fills in at deploy time (an air-gapped Big Bang with Flux).
_OTHER_TEMPLATE = re.compile(
    r"#\{[ \t]*[A-Za-z_][^{}#\n]{0,512}\}#|\(@[=-]?[ \t]+[A-Za-z_][^@\n]{0,512}@\)"
    # flux-operator's ResourceSet inputs (``<< inputs.tenant >>``; the review of stop 52)
    r"|<<-?[ \t]*inputs\.[A-Za-z_][^<>\n]{0,512}>>"
)
# Zarf's package variable, and the ``@name@`` that Nix's substituteAll/replaceVars (and
# autoconf's, CMake's configure_file) fill in, as a whole value only (a token beside it is no
# stand-in): jmuchovej/homelab's ``age.agekey: "@agekey@"``
_ZARF_VARIABLE = re.compile(
    r"^\s*(?:###ZARF_[A-Z0-9_]{1,128}###"
    # an INI file's interpolation (Python's configparser: ``password = %(ENV_PW)s``) and
    # kustomize's ``vars:`` reference (``$(DB_PASSWORD)``), as a whole value (the reviews of
    # stop 51: each was a credential in clear)
    r"|%\([A-Za-z_][A-Za-z0-9_.-]{0,127}\)s|\$\([A-Z_][A-Z0-9_.]{0,127}\)"
    # a name in one case (a password wrapped in @ to meet a rule, @Summer2024@, is none), or
    # between two @ each side as a start-up script's sed fills it (netbird's
    # ``encryptionKey: "@@DATASTORE_ENCRYPTION_KEY@@"``: the review of stop 55)
    r"|(@@?)(?:[a-z][a-z_]{0,63}(?:-[a-z_]+){0,7}|[A-Z][A-Z_]{0,63}(?:-[A-Z_]+){0,7})\1)\s*$"
)
# a docker config's ``"auth": "dXNlcjpwYXNz"`` (base64 of user:password), which no key of
# _SECRET_LINE names
_AUTH_VALUE = re.compile(r"(?im)[\"']?\bauth[\"']?[ \t]*[:=][ \t]*[\"']?[A-Za-z0-9+/=_-]{4,}")
# References a bootstrap tool resolves from a secret manager (1Password ``op inject``, vals,
# Vault, cloud secret managers, a ``secret://`` resolver): the repository holds the address, not
# the secret. 1Password vault and item names may hold spaces.
# The schemes of such references: vals and external-secrets style names, and the cloud ones
# (``azure://vault/secret``, filled in by a repository's own inject script).
REFERENCE_SCHEMES = (
    "secret|vault|awssm|awsssm|ssm|aws|gcpsm|gcp|azkv|azurekv|azure|akv|bws|bw|bitwarden|"
    "infisical|doppler|keeper|akeyless|conjur"
)
# A word of a field name or an instruction: letters of one case, maybe a short number after
# them (``base64``), or a short number; never a random mix (``Zq8rT2m``, ``9f86d0``).
_WORD = r"(?:[a-z]+\d{0,3}|[A-Z]+\d{0,3}|\d{1,3})"
# A ``#name`` fragment picks one field of the stored secret (``azkv://vault/item#CLIENT_SECRET``,
# ``op://vault/item#field``); a fragment that is no field name may be the secret itself.
_FIELD = rf"#(?:[a-z]+(?:[A-Z][a-z]+)*\d{{0,3}}|[A-Z]+\d{{0,3}})(?:[_.-]{_WORD})*"
# a Google Secret Manager resource name (``projects/458678766461/secrets/api-token``,
# ``…/versions/latest``): a project id or number, then a secret's name in lower-case words
_GCP_NAME = (
    r"projects/[a-z0-9][a-z0-9-]{0,62}/secrets/[a-z0-9]{1,63}(?:[-_][a-z0-9]{1,63}){0,8}"
    r"(?:/versions/(?:latest|\d{1,10}))?"
)
_REFERENCE = re.compile(
    rf"^\s*(?:op://[^/\n]+/[^/\n]+/[^\n]+|op://[^/\s#]+/[^/\s#]+{_FIELD}"
    rf"|(?:{REFERENCE_SCHEMES})://[^\s:@?#]+(?:{_FIELD})?"
    r"|ref\+(?:[a-z0-9]+\+)*[a-z0-9]+://\S+|vault:\S+"
    # authentik's file:///path and env://NAME: it reads the value from a mounted file or a
    # variable (Logik-Dev/k8s-homelab)
    r"|file:///+[\w.-]+/[\w./-]+|env://[A-Z_][A-Z0-9_]{0,127}"
    # Traefik's reference to a key of a Kubernetes Secret (``urn:k8s:secret:oidc:CLIENT_SECRET``)
    rf"|urn:k8s:secret:[a-z0-9](?:[-a-z0-9.]*[a-z0-9])?:{_WORD}(?:[-_.]{_WORD})*"
    rf"|{_GCP_NAME})\s*$"
)
# A list of Secret Manager names, one a line, each maybe named (``NAME:projects/…/secrets/…``),
# as google-github-actions/get-secretmanager-secrets reads its ``secrets:`` input.
_GCP_LINE = re.compile(rf"^\s*(?:[A-Za-z_][A-Za-z0-9_.-]{{0,127}}\s*[:=]\s*)?{_GCP_NAME}\s*$")


def _reference_list(value: str) -> bool:
    """Whether every non-blank line of a multi-line ``value`` is a (named) Google Secret
    Manager resource name."""
    lines = [line for line in value.splitlines() if line.strip()]
    return len(lines) >= 2 and all(_GCP_LINE.match(line) for line in lines)


# What text around a template can still hold: a password in a URL, a ``password: …`` (or
# ``TOKEN=…``, ``'secret' => …``) line, a private key block. Comment lines do not count.
# The user may be empty: Redis URLs carry a password alone (``redis://:password@host``).
# Bounded parts: a long comma list of ``http://host:port`` would be scanned to its end from
# every ``://`` (quadratic) by an unbounded password.
URL_PASSWORD = re.compile(r"[A-Za-z][A-Za-z0-9+.-]{0,31}://[^\s:/@]{0,256}:([^\s@/]{1,512})@")
_SECRET_LINE = re.compile(
    r"(?im)(?:^|[{,(\[])[ \t]*(?:-[ \t]*)?[\"']?[\w.-]*?"
    r"(?:pass(?:word|wd)?|pwd|secret|token|api[_-]?key|private[_-]?key|access[_-]?key|"
    r"credentials?)[\"']?[ \t]*(?:[:=]>?)[ \t]*(?P<value>[^\n]*)$"
)
_COMMENT_LINE = re.compile(r"(?m)^[ \t]*(?:#|//|;|--[ \t]).*$")
# A private-key block with key material in it: the header, optional PEM headers (``Proc-Type:``)
# and a run of base64. A script that rebuilds a PEM file (``echo "-----BEGIN … KEY-----"``)
# holds only the header line. Newlines may be escaped (``\n`` in JSON or a quoted string).
PRIVATE_KEY_BLOCK = re.compile(
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----(?:\s|\\[nr])*"
    # each header line ends at its line break: one way to read ``a: b: c``, no backtracking
    r"(?:[A-Za-z-]+:[^\n\\]*(?:\n|\\n)(?:\s|\\[nr])*)*[A-Za-z0-9+/=]{16}"
)
_NOTHING = " \t\"',;"
# What a value beside such a key may be without being a secret: no value, a switch, a word
# that stands for one.
_NO_SECRET = frozenset(
    (
        *("null", "~", "none", "nil", "true", "false", "yes", "no", "{}", "[]", "|", ">"),
        *("password", "pass", "secret", "token", "changeme", "xxx", "generate", "redacted"),
        "unused",
    )
)


def has_template(value: str) -> bool:
    """Whether ``value`` holds a variable or template expression."""
    return _TEMPLATE.search(value) is not None


def strip_templates(value: str) -> str:
    """``value`` with every variable and template expression taken out, nested ones too
    (Flux's default from another variable, ``${OWNER:=${APP}}``: sweep 49, Nomsplease/Home-Ops,
    whose outer variable's `:` was left as a URL's user:password); a variable's literal default
    (``${DB_PASSWORD:=…}``) stays, as the value Flux writes when the variable is unset."""
    for _ in range(4):
        stripped = _TEMPLATE.sub("", resolve_defaults(value))
        if stripped == value:
            break
        value = stripped
    return value


# a Flux (envsubst) variable with a default: ``${NAME:=default}``, ``:-``, ``=`` or ``-``, and
# ``:?``/``:+``, which Flux reads as defaults too; or with a text a replacing operator puts in
# (``${NAME/pattern/text}``, ``//``, ``/#``, ``/%``; the pattern may be a variable), a literal
# Flux writes all the same (the fifth attack review of the gate: ``password: ${CLUSTER/x/…}``
# passed; the review of stop 55: ``${CLUSTER/${CLUSTER}/…}`` too)
_WITH_LITERAL = r"(?::?[-=]|:[?+]|/[#%/]?(?:[^{}$/]|\$\{[^{}]{0,256}\}){0,64}/+)"
_DEFAULTED = re.compile(
    rf"\$\{{(?P<name>[A-Za-z_][A-Za-z0-9_]{{0,127}}){_WITH_LITERAL}(?P<default>[^{{}}$]{{0,512}})\}}"
)


_DEFAULTED_START = re.compile(rf"\$\{{[A-Za-z_][A-Za-z0-9_]{{0,127}}{_WITH_LITERAL}")


def literal_defaults(value: str) -> list[tuple[str, str]]:
    """(variable, default) of each variable in ``value`` with a literal default that is not
    empty (``${DB_PASSWORD:=s3cret}``)."""
    return [(m["name"], m["default"]) for m in _DEFAULTED.finditer(value) if m["default"]]


def resolve_defaults(value: str) -> str:
    """``value`` with each variable that has a default replaced by it, innermost first
    (``${A:-${B:-pw}}`` is ``pw``); variables with none stay."""
    for _ in range(4):
        resolved = _DEFAULTED.sub(lambda m: m["default"], value)
        if resolved == value:
            break
        value = resolved
    return value


def literal_default(value: str) -> str | None:
    """What ``value`` comes to when all of it is one variable with a default (nested defaults
    resolved, the attack review: ``${A:-${B:-pw}}``); None otherwise."""
    stripped = value.strip()
    if not _DEFAULTED_START.match(stripped) or not stripped.endswith("}"):
        return None
    depth = 0
    for at, char in enumerate(stripped[1:], start=1):  # from the first variable's brace
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth == 0 and at < len(stripped) - 1:
            return None  # the first variable ends before the value does
    resolved = strip_templates(stripped)
    return resolved if "${" not in resolved else None


def _secret_word(text: str) -> bool:
    word = text.strip(_NOTHING)
    return bool(word) and word.lower() not in _NO_SECRET and not _STAND_IN.match(word)


def holds_literal_secret(text: str) -> bool:
    """Whether ``text`` (what is left around a value's variables) holds a secret of its own."""
    text = _COMMENT_LINE.sub("", text)
    if PRIVATE_KEY_BLOCK.search(text):
        return True
    if any(_secret_word(password) for password in URL_PASSWORD.findall(text)):
        return True
    return any(_secret_word(m["value"]) for m in _SECRET_LINE.finditer(text))


# The lines of a small config file: ``key = value`` / ``key: value``, or an INI section header.
_ASSIGNMENT = re.compile(r"^[ \t]*[\"']?(?P<key>[\w.-]+)[\"']?[ \t]*[:=](?P<value>[^\n]*)$")
_SECTION = re.compile(r"^[ \t]*\[[^\]\n]+\][ \t]*$")


# A random token inside a value (a webhook URL's last part: ``hooks.slack.com/services/T…/B…/
# q7Wm2ZpK9vR4…``): 16 or more letters and digits in a run, in a part (between spaces and
# slashes) that holds both cases and a digit. Found part by part: lookaheads from every
# position took quadratic time on a long run (a 782k-character chain spec).
_PART = re.compile(r"[^\s/]+")
_RUN = re.compile(r"[A-Za-z0-9_-]{16,}")
_LOWER, _UPPER, _DIGIT = re.compile("[a-z]"), re.compile("[A-Z]"), re.compile("[0-9]")


def _has_token(text: str) -> bool:
    return any(
        _RUN.search(part) and _LOWER.search(part) and _UPPER.search(part) and _DIGIT.search(part)
        for part in _PART.findall(text)
    )


def _stand_in(value: str) -> bool:
    """An empty value, a placeholder or a word that stands for a secret (``password``)."""
    value = value.strip(_NOTHING)
    return not value or is_placeholder(value) or value.lower() in _NO_SECRET


def _setting_literal(key: str, value: str) -> bool:
    """A filled-in value under a setting's key (``region = eu-west-1``) with no URL password or
    random token in it; a ``secret_key``, a ``passphrase`` or any other key holds a secret."""
    return is_setting_key(key) and not URL_PASSWORD.search(value) and not _has_token(value)


def _json_leaves(node: object, key: str) -> list[tuple[str, object]]:
    if isinstance(node, dict):
        return [leaf for name, value in node.items() for leaf in _json_leaves(value, str(name))]
    if isinstance(node, list):
        return [leaf for item in node for leaf in _json_leaves(item, key)]
    return [(key, node)]


def _json_skeleton(text: str) -> bool:
    """A JSON object (a cloud service key: opencost's ``service-key.json``) whose values are
    stand-ins, but for settings beside them; at least one is a stand-in."""
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        return False
    if not isinstance(doc, dict):
        return False
    stand_ins = 0
    for key, value in _json_leaves(doc, ""):
        if value is None or isinstance(value, bool):
            continue
        if isinstance(value, str) and "\n" not in value.strip():
            if _stand_in(value):
                stand_ins += 1
                continue
            if _setting_literal(key, value):
                continue
        elif isinstance(value, int | float) and is_setting_key(key):
            continue
        return False
    return stand_ins > 0


def is_credential_skeleton(text: str) -> bool:
    """Whether ``text`` is a config file (INI, dotenv or YAML lines, or a JSON object) whose
    every credential setting is empty or a stand-in: velero's ``[default]`` /
    ``aws_secret_access_key=""`` template holds no secret yet, nor does a service key whose
    every value is ``REPLACE_ME``. One filled-in credential, URL password, random token (a
    webhook URL under a ``…_URL`` key) or key block, or one line that is no setting, and it is
    not."""
    if text.lstrip().startswith("{"):
        return _json_skeleton(text)
    body = _COMMENT_LINE.sub("", text)
    lines = [line for line in body.splitlines() if line.strip()]
    if len(lines) < 2 or not _SECRET_LINE.search(body) or PRIVATE_KEY_BLOCK.search(body):
        return False
    for line in lines:
        m = _ASSIGNMENT.match(line)
        if m is None:
            if _SECTION.match(line):
                continue
            return False  # a line that is no setting: a file of another kind
        if not _stand_in(m["value"]) and not _setting_literal(m["key"], m["value"].strip(_NOTHING)):
            return False
    return True


# The name in a ``name:secret`` line (elasticsearch's file realm ``users``/``users_roles``, an
# htpasswd line): words (see _WORD), never a random mix that may be a key of its own.
_PAIR_NAME = re.compile(rf"^{_WORD}(?:[_.-]+{_WORD})*$")
# what follows it: one stand-in per comma-separated part, no ``//host``, ``@`` or colon
_PAIR_PART = re.compile(r"^[^\s:/@,]+$")


def is_placeholder_pairs(text: str) -> bool:
    """Whether every line of ``text`` is ``name:STAND-IN`` (``REPLACE_ME:REPLACE_ME``,
    ``superuser:REPLACE_ME``): a name that is a word, and after the colon, where a password, a
    hash or a user list sits, a placeholder. One filled-in part, and it is not."""
    lines = [line.strip() for line in _COMMENT_LINE.sub("", text).splitlines() if line.strip()]
    if not lines:
        return False
    for line in lines:
        name, colon, rest = line.partition(":")
        if not colon or not _PAIR_NAME.match(name):
            return False
        # each part of the rest (``role:user1,user2``) one stand-in: no ``//host``, ``@`` or
        # second colon of a URL (``postgres://app:pw@${DB_HOST}`` is no pair)
        parts = [part.strip() for part in rest.split(",")]
        if not all(_PAIR_PART.match(part) and is_placeholder(part) for part in parts):
            return False
    return True


# What to put in, asked for with a possessive (``YOURTOKEN``, ``your-api-key-here``,
# ``VOTRE_SECRET``, ``DEIN_PASSWORT``, ``tu_contraseña``: sweep 41, HermannH34): up to four
# words in one case between (never a random run, nor a two-letter possessive before words: a
# passphrase such as ``su-horse-staple-key``, the review), the last naming the thing
_POSSESSIVE = (
    rf"(?:(?:enter[_ -]|insert[_ -])?your(?:[_ -](?-i:{_WORD}[_ -]){{0,4}})?(?:password|"
    r"passphrase|passwd|token|key|secret|api[_ -]?key|value|id|here|domain|host(?:name)?)"
    r"(?:[_ -]?here)?|"
    rf"(?:votre|dein|deine|ihr|ihre|seu|sua|tuo|tua)(?:[_ -](?-i:{_WORD}[_ -]){{0,4}}|[_ -])"
    r"(?:mot[_ -]de[_ -]passe|mdp|cl[eé]|jeton|secret|domaine|valeur|identifiant|passwort|"
    r"kennwort|schl(?:ü|ue)ssel|geheimnis|wert|dominio|valor|senha|chave|segredo|chiave|segreto|"
    r"valore|password|token|api[_ -]?key|key|domain)|"
    r"tu[_ -](?:contrase(?:ñ|n)a|clave|secreto|token))"
)


# A whole value that asks to be replaced (``REPLACE_WITH_CLIENT_SECRET``, ``changeme``,
# ``your-token-here``, ``REPLACE_ME__openssl_rand_hex_16``, ``PLACEHOLDER_REPLACE_ME``,
# ``__REPLACE_ME__``, ``FILL_ME_IN``): a stand-in committed on purpose, never a secret.
_STAND_IN = re.compile(
    r"(?i)^\s*(?:_+|(?:placeholder|todo|fixme)[_ -]+)?"
    # an instruction may follow (``REPLACE_ME__openssl_rand_hex_16``, ``…_b64[0]_from_init``):
    # words (see _WORD), never a random mix of letters and digits
    # after "with" or "this", words only (sweep 69: ``REPLACE_WITH_Qm7vXc2Rk9Lp4Wt6Hs`` passed)
    rf"(?:replace[_ -]?(?:me(?-i:(?:[_-]+{_WORD}(?:\[\d+\])?)*)|"
    rf"with(?-i:(?:[_ -]+(?:{_WORD}|[a-z]+(?:[A-Z][a-z]+)+))*)[.!]*|"
    rf"this(?-i:(?:[_ -]+{_WORD})*)[.!]*)|"
    # ``changeme``, ``CHANGE_ME_PLEASE``; never ``ChangeMe#Prod-9f86d0`` (a password made from it)
    rf"change[_ -]?me(?-i:(?:[_-]+{_WORD})*)[!.]*|"
    # ``change-this-in-production``, ``your-secret-key-change-this-in-production`` (sweep 48,
    # DiverOfDark/homelab: a readur JWT secret, an app's sample, made its Secret's settings
    # errors): the words a sample uses, and an app's name after "in production"; never words
    # of any kind (the attack review: ``change-this-kx7-pq9-zz3-mm1`` is a password)
    r"(?:your(?:[_ -](?:secret|jwt|random|app|api|session|signing|encryption|key|password|"
    r"token)){0,4}[_ -])?change[_ -]?this(?:[_ -](?:in|for|before)[_ -](?:production|prod|"
    r"deployment|use)(?:[_ -][a-z]{2,12})?)?[!.]*|"
    r"fill[_ -]?(?:me|in)(?:[_ -]?in)?|set[_ -]?me|"
    # ``INSERT_BASE64_STRING``, ``INSERT_YOUR_BASE64_STRING`` (cmu-sei/Polar): a few words
    # after it, the last naming what to put in; never ``insert-dragon-velvet-canyon`` (a
    # passphrase) or ``INSERT_`` and a random run
    rf"insert(?-i:(?:[_ -]+{_WORD}){{0,3}})[_ -]+(?:base64|b64|string|value|data|here|pem|"
    r"cert(?:ificate)?|key|token|password|secret)|"
    # ``changeit``, the Java keystore's default: known to everyone, no secret to leak
    r"change[_ -]?it|"
    # ``YOURTOKEN``, ``YOURAPIKEY`` (tcurdt/kube): the same words run together, nothing after
    rf"{_POSSESSIVE}|"
    # the same requests in other languages (sweep 41, HermannH34's saas-starter values:
    # ``REMPLACER_PAR_UNE_VALEUR_ALEATOIRE_32_CHARS``): "replace with", then words in one case
    # (never a random run: the review)
    r"(?:remplace[rz]?[_ -]?par|ersetze[n]?[_ -]?(?:durch|mit)|reemplaza(?:r)?[_ -]?(?:con|por)|"
    rf"substitu(?:a|ir)[_ -]?(?:por|pelo|pela|com)|sostituire[_ -]?con)(?-i:(?:[_ -]+{_WORD})*)|"
    r"todo|fixme|tbd|x{3,}|y{3,}|z{3,}|\*{3,}|placeholder|"
    # a variable's name in capitals a script fills in (sweep 28, vincentserpoul/gitops-infra:
    # `superUserPassword: DB_PASSWORD`, replaced by sed before sops encrypts it): words, the
    # last one a credential's, letters only (HUNTER2_PASS is a password: the review of sweep 6)
    # (not KEY, SECRET or PASS: `CORRECT_HORSE_BATTERY_KEY`, `ACME_PROD_PASS` are passphrases
    # a person may choose, the fourth review of stop 34)
    r"(?-i:(?:[A-Z]+_){1,4}(?:PASSWORD|PASSWD|TOKEN|API_KEY|APIKEY))|"
    # what to generate, in capital words (sweep 25, fabricesemti80's sanitized traefik values:
    # ``SOMETHING-RANDOM-BASE64``; ``GENERATE-A-RANDOM-STRING``); never a random run after it
    rf"(?-i:(?:(?:SOMETHING|SOME|GENERATE|A|AN)[_-]+){{0,3}}RANDOM(?:[_-]+{_WORD}){{0,4}})|"
    # ``PLACEHOLDERPASSWORD``, ``PLACEHOLDER_API_KEY`` (devusb, sweep 15): what it stands for
    r"placeholder[_ -]?(?:password|passwd|pass|secret|token|api[_ -]?key|key|value|user(?:name)?)|"
    # ``example-api-key-replace-me`` (X-McKay, sweep 15): a few words, then the request
    rf"(?-i:(?:{_WORD}[_-]+){{1,5}})replace[_-]?me|"
    # ``dummy-value`` (Benjaminmnoer/iac), ``dummy_password``, ``dummyvalue`` (sweep 75)
    r"dummy(?:[_ -]?(?:value|password|passwd|secret|token|key|data))?|"
    # what a sample asks for (sweep 40, jesse-gonzalez/gitops-nai-llm's
    # cluster-secrets.sample.yaml: `required_secret`, `required_api_key`, `optional_secret`)
    r"(?:required|optional)[_ -](?:secret|password|passwd|token|api[_ -]?key|key|value)|"
    r"redacted|unused|not[_ -]used|"
    # a key a local model server never checks (sweep 17: Darkflame72's kagent): ``not-required``,
    # ``not-needed``, ``no-key``, llama.cpp's ``sk-no-key-required``, vLLM's ``EMPTY``
    r"(?:sk-)?no[_ -]?key(?:[_ -]required)?|not[_ -](?:required|needed)|(?-i:EMPTY))_*\s*$"
)


# A stand-in dressed as SOPS ciphertext (``ENC[PLACEHOLDER_NEEDS_REAL_SOPS_ENCRYPTION]``,
# will-white: sweep 13): a placeholder's first word, then words only; real ciphertext has
# ``AES256_GCM,data:…`` inside
_ENC_STAND_IN = re.compile(
    rf"^\s*ENC\[\s*(?i:placeholder|todo|fixme|tbd|replace|change[_ -]?me|redacted|dummy)"
    rf"(?:[_ -]+{_WORD})*\s*\]\s*$"
)


# A marker a start-up script replaces, in capitals between double underscores (searxng's
# ``secret_key: "__SECRET_KEY__"``, casmith/home-ops: sweep 18); never mixed case or digits
# alone, as a random run is. Not between single ones: ``_SUMMER_2024_`` is a password's (the
# attack review of stop 48 undid that for samcday/home-cluster's `_DBPASS_`, a warning)
_MARKER = re.compile(r"^\s*__[A-Z][A-Z]*(?:_[A-Z0-9]+)*__\s*$")


# A value no one would take for a secret (sweep 20): one character repeated after a short
# prefix (``sk-111111111111``, "fake key needed to make ui happy", JefeDavis), the alphabet in
# order from the start (``abcdef``: Samoth69), ``whatever`` (9albi). Never digits alone
# (``12345678``, ``000000``): a weak PIN, alarm code or password is still a live one (the
# review)
_TRIVIAL = re.compile(
    r"(?i)^\s*(?:[a-z]{2,3}[-_](.)\1{5,}|whatever|abcdef(?:g(?:h(?:i(?:j(?:k(?:l)?)?)?)?)?)?"
    # an ellipsis alone: "fill this in" (sweep 55, p-ssanders/gitops-reference's example
    # Secrets of `access-key-id: ...`: four SM001 errors)
    r"|\.{3,}|\u2026+)\s*$"
)


# A whole value that is an envsubst variable of two words or more (``$BOOTSTRAP_DOMAIN``): Flux
# leaves it as written (it substitutes only ``${…}``), so SM001 still reports it in a Secret;
# but it exposes nothing, so history counts no exposure for it (sweep 20, AskAlice: six SM019
# errors on an old envsubst template; sweep 19, sp3nx0r)
# (words of capitals, each from a letter, a digit after it at most: ``$R53_SECRET_KEY`` is a
# name, sweep 85, wrmilling/k3s-gitops; ``$P4SSW0RD_2024`` reads as a password, the review)
_ENVSUBST_NAME = re.compile(r"\s*\$[A-Z][A-Z0-9]*(?:_[A-Z][A-Z]*[0-9]*)+\s*")


def is_envsubst_name(value: object) -> bool:
    """Whether ``value`` is one ``$NAME_OF_WORDS`` and nothing else."""
    return isinstance(value, str) and _ENVSUBST_NAME.fullmatch(value) is not None


# A password hash in crypt or PHC form, and the user of an htpasswd line before one
CRYPT_HASH = (
    r"\$(?:apr1|argon2(?:id|i|d)|pbkdf2(?:-sha\d+)?|scrypt|2[abxy]|[1567y]|gy|sha\d*crypt)\$\S+"
)
HTPASSWD_USER = r"[\w.@-]{1,64}"
# such a hash whose last part is a stand-in: ``ctf-ci:$2y$10$REPLACE_WITH_A_REAL_BCRYPT_HASH``
# (sweep 22, Ivanhahanov/ctf-school-ctfd's registry-auth example)
_CRYPT_STAND_IN = re.compile(rf"^\s*(?:{HTPASSWD_USER}:)?(?={CRYPT_HASH}\s*$)\S*\$([^$\s]+)\s*$")


# ``PLACEHOLDER-GENERATE-NEW-KEY`` (sweep 23, sbaker5/k3s-flux: an SM001 error that failed
# the gate): "placeholder" and words after it, in brackets or not; never a mix with digits
_WORDS_STAND_IN = re.compile(r"(?i)^\s*\[?\s*placeholder(?:[_ -]+[a-z]+)*\s*\]?\s*$")
# Words only that say the value is none (sweep 58, kasefuchs/homelab: a kind cluster's
# `no-one-cares`, `nobody-cares`, `definitely-not-a-real-secret` were SM019 exposures): the
# phrase alone, an adverb before it and a noun after it at most (the attack review: any words
# around it let `qzjxkvbwmtrplhfdnw-nobody-cares` and a diceware passphrase through)
_DENIAL = re.compile(
    r"(?i)^\s*(?:(?:definitely|really|totally|absolutely|clearly|just)[-_ ])?"
    r"(?:(?:nobody|no[-_ ]?one|who)[-_ ]cares|not[-_ ]a[-_ ](?:real[-_ ])?"
    r"(?:secret|password|passwd|key|token|value)|not[-_ ]a[-_ ]real|"
    # a sentence that says it is a test, in words and spaces (sweep 60, claughinghouse/k3s-ops:
    # a `test-secret` holding "This is a test" was an SM019 exposure); `test`, `a-test-value`,
    # `this_is_a_test` stay weak passwords (the attack review)
    r"(?-i:[Tt])his is (?:just )?a test|(?-i:[Jj])ust a test)[.!]?\s*$"
)
# A value that calls itself fake in a sample's words (Nosmoht/talos-platform-base: a test
# fixture's `ca.crt: "fake-for-test-only"` was an SM001 error): "fake", then up to four words
# from a closed list, one of them saying what it is for (a test, an example, not real). "fake"
# alone or before what it stands for only (`fakepassword`, `FakePassword!`, `fake-real-password`)
# is a weak password a person may choose, as `testpassword` is (the attack review); so are
# `fake-horse-battery-staple` (other words) and `fake-Xk29fQ7p` (a random run)
_FAKE_PURPOSE = frozenset(
    (
        *("test", "tests", "testing", "unit", "ci", "e2e", "dev", "local", "example", "sample"),
        *("demo", "placeholder", "dummy", "only"),
    )
)
_FAKE_WORDS = _FAKE_PURPOSE | frozenset(
    (
        *("for", "use", "in", "not", "real", "just", "a", "do", "value", "data", "secret"),
        *("password", "passwd", "pass", "token", "key", "api", "cert", "certificate", "crt"),
        *("ca", "tls", "ssh", "private", "credential", "credentials"),
    )
)
_FAKE = re.compile(r"(?i)^\s*fake((?:[-_ ][a-z0-9]+){1,4})\.?\s*$")


def _says_fake(value: str) -> bool:
    """``fake`` and words of ``_FAKE_WORDS``, one saying what it is for (see above)."""
    found = _FAKE.match(value)
    if found is None:
        return False
    words = [w.lower() for w in re.split(r"[-_ ]", found[1]) if w]
    return all(w in _FAKE_WORDS for w in words) and any(
        w in _FAKE_PURPOSE or w == "not" for w in words
    )


# A token's known first characters, a few more at most, then an ellipsis (``AIzaSy...``,
# ``sk-ant-…``): a value cut short in a sample (sweep 58, DeepAchut/Homelab-ops: an SM019
# exposure in a commit that scrubbed its template); any other short run before dots may be a
# password (the attack review: `Zq7vK2mP...`, `hunter22...`)
_CUT_SHORT = re.compile(
    r"^\s*(?:AIza|sk[-_]|pk[-_]|rk[-_]|gh[pousr]_|github_pat_|glpat-|xox[abprs]-|AKIA|ASIA|"
    r"hv[sbr]\.|tskey-|whsec_|npm_|pypi-|SG\.|eyJ)[A-Za-z0-9_-]{0,4}(?:\.{3,}|\u2026+)\s*$"
)
# A PEM block whose body asks for a key in words (``REPLACE WITH ACTUAL ed25519 PRIVATE KEY``),
# or is a plain filler (``...``): armour around no key (sweep 58, DeepAchut: a documented
# example Secret's `SSH_PRIVATE_KEY` was an SM001 error that blocked check). Those words only:
# the attack review hid a passphrase in "your passphrase here: …" and base64 after "replace"
_PEM_WHOLE = re.compile(
    r"^\s*-----BEGIN ([A-Z0-9 ]{1,40})-----[ \t]*\r?\n(.{1,200}?)\r?\n[ \t]*-----END \1-----\s*$",
    re.S,
)
_KEY_WORD = r"(?:ed25519|rsa|ecdsa|dsa|openssh|ssh|pgp|gpg|tls|ssl|private|age|server|client)"
_PEM_REQUEST = re.compile(
    r"(?i)^<?\s*(?:(?:replace|insert|paste|put)(?:\s+(?:it|this))?\s+(?:with|in|here)\s+|"
    r"(?:insert|paste|put)\s+)?(?:(?:the|your|actual|real|a|an|own)\s+)*"
    rf"(?:{_KEY_WORD}\s+)*(?:key|certificate|cert)(?:\s+(?:here|goes\s+here))?\s*>?$"
)
_PEM_FILLER = re.compile(r"^(?:\.{3,}|\u2026+|x{3,}|X{3,}|\*{3,})$")


# What a template's comment lines may hold to be its instructions: prose of words and paths, an
# instruction's word among them, no word naming a credential and no word with digits or
# symbols outside a path (the attack review: `# password hunter2`, `# admin / Tr0ub4dor&3` and
# a diceware line passed as instructions)
_INSTRUCTION_WORD = re.compile(
    r"(?i)\b(?:add|put|replace|fill|insert|paste|encrypt(?:ed)?|here|your|values?|file|see|"
    r"todo|example|needs?|should|must|before|committing|run|copy|generated?)\b"
)
_CREDENTIAL_WORD = re.compile(
    r"(?i)pass|\bpw\b|pwd|secret|token|\bkeys?\b|api[_-]?key|\bauth\b|cred|login|\buser"
)
_PROSE = re.compile(r"^[A-Za-z0-9 .,:;'()/_-]*$")


def _comments_only(value: str) -> bool:
    """A file's text of comment lines only that read as a template's instructions (sweep 62,
    spoletum/flux: `values.yaml: |` of two `# Add your … here` lines was an SM019 exposure)."""
    lines = [line.strip() for line in value.splitlines() if line.strip()]
    if not lines or not all(line.startswith("#") for line in lines):
        return False
    prose = " ".join(line.lstrip("#").strip() for line in lines)
    if not _PROSE.match(prose) or _CREDENTIAL_WORD.search(prose):
        return False
    if not all(_INSTRUCTION_WORD.search(line) for line in lines):
        return False  # each line an instruction (a passphrase's words beside one: the review)
    # a word with a digit only inside a path or a file's name (`iac/k8s/envs/dev/x.yaml`)
    return not any(
        any(c.isdigit() for c in word) and "/" not in word and "." not in word
        for word in prose.split()
    )


def _pem_stand_in(value: str) -> bool:
    """One line inside the armour that asks for a key in those words, or a plain filler."""
    found = _PEM_WHOLE.match(value)
    if found is None or "\n" in found[2].strip():
        return False
    body = " ".join(found[2].split())
    return bool(_PEM_REQUEST.match(body) or _PEM_FILLER.match(body))


_BRACKETED = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*$")


# A token's prefix (``sk-``, ``sk_live_``, ``whsec_``, ``xoxb-``) before a stand-in: ``sk-xxxx``,
# ``sk_live_YOUR_KEY`` (sweep 41, HermannH34: an OpenAI key written ``sk-xxxx`` was an SM019
# exposure); lower-case words only, and after them only the plainest stand-ins: a run of x, a
# request to replace it, a possessive (the review: ``ghp_replacewith…`` and a random run);
# Tailscale's OAuth client's ``tsclient-xxxx`` and ``tssecret-xxxx`` too (sweep 82, SilentSage432)
_TOKEN_PREFIX = re.compile(r"^\s*(?:[a-z]{2,10}[-_]){1,2}(?=\S)")
_PREFIXED_STAND_IN = re.compile(
    rf"(?i)^(?:x{{3,}}(?:[-_]x{{3,}})*|\*{{3,}}|(?:replace|change|fill)[_-]?me|{_POSSESSIVE})\s*$"
)
# An address whose host is a stand-in (``https://VOTRE_DOMAINE``, ``https://your-domain.com``):
# no credentials, port or query, a path of plain words at most; the host names a domain to put
# in (a ``todo.`` host is a real name: the review of sweep 10)
_STAND_IN_HOST = re.compile(
    r"^\s*(?i:https?)://(?P<host>[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*)"
    r"(?P<path>(?:/(?:[a-z]{1,20}(?:[-_][a-z]{1,20}){0,3})?)*)\s*$"
)
_HOST_STAND_IN = re.compile(
    r"(?i)^(?:(?:your|votre|ton|dein|ihr|tu|su|seu|sua|tuo)[_-](?:[a-z]+[_-]){0,2}"
    r"(?:domain|domaine|dominio|host(?:name)?|server|site)|x{3,}|change[_-]?me|replace[_-]?me)$"
)


def _stand_in_host(value: str) -> bool:
    found = _STAND_IN_HOST.match(value)
    if found is None:
        return False
    host = found["host"]
    if "." not in host and found["path"] in ("", "/") and _STAND_IN.match(host):
        # the whole host a request to replace it (sweep 68, Kagiso-me/homelab-infrastructure:
        # ``https://REPLACE_WITH_WEBHOOK_URL``)
        return True
    return any(_HOST_STAND_IN.match(label) for label in host.split("."))


# what goes where the words say, in words alone (sweep 85, mak011p/k8s-gitops-hayden:
# `age.agekey: AGE_PRIVATE_KEY_HERE` was an SM001 error; PASTE_TOKEN_HERE, put-key-here):
# an instruction first, or the thing to put right before "here" (the attack review: any words
# before "here", `correct-horse-battery-here` or `LETMEIN_HERE`, passed the gate)
_HERE_STAND_IN = re.compile(
    r"(?i)^(?:(?:paste|put|enter|insert|add|replace|your)[_-](?:[a-z]+[_-]){0,4}"
    r"|(?:[a-z]+[_-]){0,4}(?:key|token|password|passwd|secret|value|cert|certificate|id)[_-])"
    r"here$"
)


def is_placeholder(value: object) -> bool:
    """Whether ``value`` is a placeholder (or empty) rather than a literal secret."""
    if value is None:
        return True
    if not isinstance(value, str):
        return False
    if not value.strip() or _ANGLE.match(value) or _REFERENCE.match(value):
        return True
    if _reference_list(value) or _ZARF_VARIABLE.match(value) or _MARKER.match(value):
        return True
    if _STAND_IN.match(value) or _placeholder_url(value) or _stand_in_credentials(value):
        return True
    if _ENC_STAND_IN.match(value) or _TRIVIAL.match(value) or _stand_in_host(value):
        return True
    prefixed = _TOKEN_PREFIX.match(value)
    if prefixed is not None and _PREFIXED_STAND_IN.match(value[prefixed.end() :]):
        return True
    crypt = _CRYPT_STAND_IN.match(value)
    if crypt is not None and _STAND_IN.match(crypt[1]):
        return True
    if _WORDS_STAND_IN.match(value) or _DENIAL.match(value) or _CUT_SHORT.match(value):
        return True
    if _says_fake(value) or _HERE_STAND_IN.match(value.strip()):
        return True
    if "\n" in value.strip() and _comments_only(value):
        return True
    if "-----BEGIN" in value and _pem_stand_in(value):
        return True
    bracketed = _BRACKETED.match(value)  # ``[YOUR_API_KEY]``
    if bracketed is not None and is_placeholder(bracketed[1]):
        return True
    slashed = _USER_SLASH.match(value) if len(value) < 256 else None  # ``neo4j/changeme``
    if slashed is not None and _STAND_IN.match(slashed[1]):
        return True
    if _OTHER_TEMPLATE.search(value):
        return _filled_by_template(value)
    if not _TEMPLATE.search(value):
        return False
    # the text around the variables holds no secret line, no random token and no docker
    # ``auth`` (``${x}q7Wm2ZpK9vR4tY8uXb3N`` and a docker config with a registry's auth beside a
    # variable are secrets: the review of the tenth sweep)
    return not holds_secret_around(strip_templates(value))


def holds_secret_around(text: str) -> bool:
    """Whether ``text`` (what is left around a value's variables) holds a secret line, a random
    token or a docker ``auth`` value."""
    return holds_literal_secret(text) or _has_token(text) or bool(_AUTH_VALUE.search(text))


# a quoted literal inside a template expression (``default('…')``)
_QUOTED = re.compile(r"'([^'\n]{1,512})'|\"([^\"\n]{1,512})\"")
_PLAIN_SYMBOLS = re.compile(r"[^A-Za-z0-9\s\-_./:@?=&%,+~]")


def _password_like(text: str) -> bool:
    """A run of 8 or more characters with a digit, a lower-case letter and an upper-case letter
    or a symbol that no path, URL or host holds (``P@ssw0rd!2024``)."""
    return any(
        len(part) >= 8
        and _DIGIT.search(part)
        and _LOWER.search(part)
        and (_UPPER.search(part) or _PLAIN_SYMBOLS.search(part))
        for part in text.split()
    )


def _filled_by_template(value: str) -> bool:
    """A value with makejinja or ytt variables in it whose text around them holds no secret: no
    literal secret (``holds_literal_secret``), no random token, no docker ``auth`` and no
    password-like run; nor does a quoted literal inside an expression (``default('…')``)."""
    literals = [
        a or b for found in _OTHER_TEMPLATE.finditer(value) for a, b in _QUOTED.findall(found[0])
    ]
    rest = strip_templates(_OTHER_TEMPLATE.sub(" ", value))
    return not any(
        holds_literal_secret(piece)
        or _has_token(piece)
        or _AUTH_VALUE.search(piece)
        or _password_like(piece)
        for piece in (rest, *literals)
    )


# An address whose secret part is a stand-in: a webhook's token written ``xxx/yyy`` (Gatus'
# ``https://discord.com/api/webhooks/xxx/yyy``), Slack's ``…/T00000000/B00000000/XXXXXXXX``.
# The stand-ins end the path, after parts that are words or numbers (an id is no credential
# alone); no query or fragment, where a password or token may sit.
_HTTP_URL = re.compile(r"^(?i:https?)://[^\s/?#@]+(?P<rest>/[^\s?#]*)$")
_URL_STAND_IN = re.compile(r"(?i)^(?:([a-z*.])\1{2,}|change[_-]?me|replace[_-]?me)$")
_URL_PLAIN_PART = re.compile(r"^(?:[A-Za-z]+(?:[-_][A-Za-z]+)*|\d+|[A-Z]\d+)$")


# what Discord puts after a webhook's id and token for Slack's or GitHub's payloads
_WEBHOOK_SUFFIX = frozenset(("slack", "github"))


def _url_stand_in(part: str) -> bool:
    """A URL path part that stands in for a value: ``xxx``, ``changeme``, ``REPLACE``, or a
    whole request to replace it (``REPLACE_WITH_SLACK_WEBHOOK_URL``, see _STAND_IN)."""
    return bool(_URL_STAND_IN.match(part) or part == "REPLACE" or _STAND_IN.match(part))


def _placeholder_url(value: str) -> bool:
    """An http(s) URL with no credentials, query or fragment whose path ends in stand-ins
    (``xxx``, ``yyy``, ``XXXXXXXX``, ``changeme``, ``REPLACE_WITH_…``) after plain words and
    numbers, maybe before a webhook's ``/slack`` or ``/github`` (sweep 68,
    Kagiso-me/homelab-infrastructure: an Alertmanager Secret's webhook URLs of
    ``REPLACE_WITH_SLACK_WEBHOOK_URL`` and ``…/webhooks/REPLACE/REPLACE/slack`` were SM001 and
    SM019 errors); a host that asks to be replaced is ``_stand_in_host``'s."""
    found = _HTTP_URL.match(value.strip())
    if found is None:
        return False
    parts = [part for part in found["rest"].split("/") if part]
    if len(parts) > 1 and parts[-1] in _WEBHOOK_SUFFIX:
        parts = parts[:-1]
    first = next((i for i, part in enumerate(parts) if _url_stand_in(part)), None)
    if first is None or not all(_url_stand_in(part) for part in parts[first:]):
        return False
    return all(_URL_PLAIN_PART.match(part) for part in parts[:first])


# A connection string whose password is a stand-in (thetillhoff/infra:
# ``postgresql://trading:CHANGEME@postgres.trading.svc.cluster.local:5432/trading``,
# ``postgresql://TODO:TODO@umami:5432/umami``): the user is a word, the password a request to
# replace it (see _STAND_IN), the host a name or address, the path plain words, and a query only
# settings of plain words (``?sslmode=disable``); no fragment. A random user (an access key id
# or a token sent as the user), a path or query holding a token, and a password that is no
# stand-in are reported.
_CREDENTIALS_URL = re.compile(
    r"^\s*[A-Za-z][A-Za-z0-9+.-]{0,31}://(?P<user>[^\s:/@]{0,64}):(?P<password>[^\s:/@?#]{1,64})@"
    r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,253})?(?::\d{1,5})?"
    r"(?P<path>(?:/[A-Za-z0-9_.-]{0,64}){0,8})(?:\?(?P<query>[^\s#]{0,512}))?\s*$"
)
_URL_USER = re.compile(rf"^(?:{_WORD}(?:[_.-]+{_WORD})*)?$")
# ``USER/PASSWORD`` in one value (Neo4j's ``NEO4J_AUTH``): a stand-in when the password is one
# (sweep 94, cmu-sei/Polar: ``neo4j/changeme`` was an exposure, ``changeme`` beside it not)
# The user is a plain lower-case name (``neo4j``, ``admin``, ``app_user``) of one digit at most:
# a password or token before the slash is no user (the review of this change: ``P4ssw0rd.Prod-9
# /xxx`` and ``ghp_…/todo`` were stand-ins)
_USER_SLASH = re.compile(r"^\s*(?=[a-z_.-]*(?:\d[a-z_.-]*)?/)[a-z][a-z0-9_.-]{0,15}/([^/\s]+)\s*$")
_PLAIN_WORD = re.compile(r"^(?:[A-Za-z]+(?:[-_.][A-Za-z]+)*|\d{1,6})?$")
# a query key naming a credential, also inside a longer word (libpq's ``sslpassword``)
_QUERY_CREDENTIAL = re.compile(r"(?i)pass|pwd|secret|token|key|auth|cred|sig")


def _stand_in_credentials(value: str) -> bool:
    """A ``scheme://user:STAND-IN@host[:port]/db`` address: no secret in it but a stand-in."""
    found = _CREDENTIALS_URL.match(value)
    if found is None or not _STAND_IN.match(found["password"]):
        return False
    if not (_URL_USER.match(found["user"]) or _STAND_IN.match(found["user"])):
        return False
    if not all(_PLAIN_WORD.match(part) for part in found["path"].split("/")):
        return False
    for setting in (found["query"] or "").split("&") if found["query"] else ():
        key, _, plain = setting.partition("=")
        if not key or _QUERY_CREDENTIAL.search(key) or not _PLAIN_WORD.match(key):
            return False
        if not _PLAIN_WORD.match(plain):
            return False
    return True


# The last word of a key that names where or who, not a secret: ``RESTIC_REPOSITORY``,
# ``POSTGRES_HOST``, ``NUXT_STORAGE_DRIVER``, ``username``.
_SETTING_KEY = re.compile(
    r"(?i)(?:^|[._-]|(?<=[a-z])(?=[A-Z]))(?:host(?:name)?|port|url|uri|endpoint|repository|repo|"
    r"bucket|region|zone|driver|database|db|db_?name|user(?:name)?|schema|ssl_?mode|prefix|"
    r"address|addr|server|"
    r"provider|type|mode|namespace|email|(?:client_?)?id|log_?level|level|insecure|debug|"
    r"enabled|timeout|file|path|dir|"
    # an object's name (``clientSecret: {name: oauth-client}`` names a Secret), an OIDC issuer
    # and audience (sweep 90, shamubernetes/home-k8s: `gateAudience` beside `gateClientID`, one
    # value, a warning under the one and not the other)
    r"name|issuer|audience|"
    # an OIDC client's scopes (sweep 77, devantler-tech/platform: `scopes: openid,profile` beside
    # a substituted client secret)
    r"scopes?)$"
)


# A word of a key that names a credential whatever its last word (``VAULT_SECRET_ID``,
# ``AWS_ACCESS_KEY_ID``, ``accessKeyId``): such a key is never a setting.
_PASSWORD_LIKE = "secret|password|passwd|pass|pwd|token|credentials?|auth"
_SECRET_WORD = re.compile(rf"(?i)(?:^|[._-])(?:{_PASSWORD_LIKE}|key|api_?key)(?=[._-]|$)")
# ``api`` (``api_v3``) as a whole key: an API key when its value looks like a token (sweep 93,
# shangkuei/fluxcd: ``tmdb.api_v3`` and ``mdb.api`` beside ``plex.token``); as often a port, a
# path, a host or a switch (the attack review of stop 49: `ports.api: 8080` was an exposure)
API_KEY_NAME = re.compile(r"(?i)api(?:_?v\d{1,2})?")
# The same without ``key``, which also names a cipher's (``CRYPTO_KEY_CIPHER``).
_PASSWORD_WORD = re.compile(rf"(?i)(?:^|[._-])(?:{_PASSWORD_LIKE})(?=[._-]|$)")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def split_camel(key: str) -> str:
    """``key`` with its camel-case words split by ``_`` (``clientId`` -> ``client_Id``), so that
    one pattern reads both spellings."""
    return _CAMEL.sub("_", key)


def names_credential(key: str) -> bool:
    """Whether a word of ``key`` names a credential (``RADARR_APIKEY``, ``certificatePassword``)."""
    return _SECRET_WORD.search(split_camel(key)) is not None


def names_password(key: str) -> bool:
    """Whether a word of ``key`` names a password, token or secret (``ADMIN_PASSWORD_HASH``);
    ``key`` alone does not (``CRYPTO_KEY_SIZE``)."""
    return _PASSWORD_WORD.search(split_camel(key)) is not None


def is_setting_key(key: str) -> bool:
    """Whether the last word of ``key`` names where or who (a host, a port, a user name), not
    a secret, and no word of it names a credential."""
    return _SETTING_KEY.search(key) is not None and not names_credential(key)


def is_setting_value(key: str, value: object) -> bool:
    """A literal under a setting key that holds no secret by its form: a number or a switch, or
    one short line with no password in a URL and no private key in it."""
    if not is_setting_key(key):
        return False
    if isinstance(value, bool | int | float):
        return True
    if not isinstance(value, str) or "\n" in value.strip() or len(value) > 200:
        return False
    return not (URL_PASSWORD.search(value) or PRIVATE_KEY_BLOCK.search(value))


# A plain value of a manifest that is no Secret: an enum (``Deny``), an API group
# (``gateway.networking.k8s.io``), a path, an address or a URL, in words, dots and slashes.
_PLAIN_SETTING = re.compile(r"^[A-Za-z0-9/][A-Za-z0-9 ._:/@+-]{0,199}$")
# A schedule: a cron macro or a cron expression of five or six fields
_CRON_NAME = r"(?:JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC|SUN|MON|TUE|WED|THU|FRI|SAT)"
_CRON_FIELD = rf"(?:[0-9*?][0-9*?/,-]*|{_CRON_NAME}(?:[-,]{_CRON_NAME})*|[0-9]*L|[0-9]#[0-9])"
_SCHEDULE = re.compile(
    r"(?i)^(?:@(?:yearly|annually|monthly|weekly|daily|midnight|hourly|reboot)|"
    r"@every [0-9]+[smh](?:[0-9]+[smh])*|"
    rf"{_CRON_FIELD}(?: {_CRON_FIELD}){{4,5}})$"
)
# A host name of DNS labels (a dot at least, the last label a word: a domain, a namespace),
# and a port
_HOST_PORT = re.compile(
    r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z](?:[a-z-]{0,61}[a-z])?(?::[0-9]{1,5})?$"
)
# A file name's extension (``.nfo``): a short word in one case
_EXTENSION = re.compile(r"^\.(?:[a-z][a-z0-9]{0,4}|[A-Z][A-Z0-9]{0,4})$")
# A run of letters and digits with no separator: 12 or more with both in it (a hex or base32
# key, ``mellon2024gandalf``), or 16 or more letters (``correcthorsebattery``): a token
_WORD_RUN = re.compile(r"[A-Za-z0-9]{12,}")
_LETTER = re.compile("[A-Za-z]")
# A word of a key that names something kept secret, beyond a credential's words: a
# passphrase, a Wi-Fi PSK, a PIN or alarm code, a salt or seed, a one-time-password secret, a
# cookie or session secret, a signature, a private part (the review of sweep 18)
_SENSITIVE_WORD = re.compile(
    r"(?i)(?:^|[._-])(?:pass\w*|pw|pwd|psk|pin|codes?|salt|seed|otp|totp|mfa|cookie|session|"
    r"signature|sig|signing|hash|private|priv|nonce|authorization|bearer|cred\w*|secret\w*|"
    r"token\w*|keys?|api_?keys?|auth\w*|recovery|licen[cs]e)[0-9]*(?=[._-]|$)"
)
# Parts of a value (between - _ . / : @ and spaces) that mix letters and digits: two or more
# read as a code or a password in leetspeak (``8f3k-2j9d``, ``s3cr3t-s1gn1ng-v4lue``)
_ALNUM_PART = re.compile(r"[A-Za-z0-9]+")
# The last word of a key whose value is where a secret is kept (``bearer_token_file``,
# ``passwordFile``), and such a value: an absolute path
_FILE_KEY = re.compile(r"(?i)(?:^|[._-])(?:file|path|dir)$")
_ABSOLUTE_PATH = re.compile(r"^/[\w./-]{1,255}$")


def looks_like_token(text: str, *, parts: bool = True) -> bool:
    """Whether ``text`` holds a run that reads as a key or token rather than a word (see
    ``_WORD_RUN``), a random token (``_has_token``) or something like a password; with
    ``parts``, two parts that mix letters and digits count too (``8f3k-2j9d``), which a host
    name's labels may (``hs110-exporter-kp115-1``)."""
    mixed = [p for p in _ALNUM_PART.findall(text) if _DIGIT.search(p) and _LETTER.search(p)]
    return (
        _has_token(text)
        or _password_like(text)
        or (parts and len(mixed) >= 2)
        or any(
            (_DIGIT.search(run) and _LETTER.search(run)) or len(run) >= 16
            for run in _WORD_RUN.findall(text)
        )
    )


# Under a key about a secret, a value that only names or tunes one (the review of sweep 20:
# ``existingSecret: grafana-admin``, ``passwordKey: admin-password``, ``token_url``,
# ``tokenTTL: 24h``, ``keySize: 4096``, ``signingAlgorithm: RS256``, ``cookieDomain``)
_ABOUT_NUMBER = frozenset(
    [
        "ttl",
        "duration",
        "lifetime",
        "expiry",
        "expiration",
        "timeout",
        "age",
        "size",
        "length",
        "bits",
        "rounds",
        "iterations",
        "cost",
        "interval",
        # a count or a measure of it (sweep 24, spiceratops: a tracker's required_seed_ratio
        # and required_seed_days)
        *("seconds", "minutes", "hours", "days", "weeks", "ratio", "count", "limit"),
        *("retries", "attempts", "threshold", "percent", "max", "min"),
    ]
)
_ABOUT_WORD = frozenset(
    [
        "algorithm",
        "algo",
        "alg",
        "type",
        "method",
        "mode",
        "scheme",
        "audience",
        "scope",
        "scopes",
        "provider",
        "kind",
        "format",
        "encoding",
        "cipher",
    ]
)
_ABOUT_PLACE = frozenset(["url", "uri", "endpoint", "issuer", "domain", "host"])
_DURATION = re.compile(r"\d+(?:\.\d+)?(?:ms|[smhdwy]|[mM]in|[hH]ours?|[dD]ays?)?")
_ONE_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_+-]{0,31}")
_PLAIN_URL = re.compile(r"(?:[a-z][a-z0-9+.-]*://)?[A-Za-z0-9.-]+(?::\d{1,5})?(?:/[\w./%-]*)?")
# the words before ``key`` in a key that names an entry of a Secret (``existingSecretPasswordKey:
# admin-password``, ``userKey: username``), never the secret itself
_NAMED_BY_KEY = frozenset(
    [
        "password",
        "passwd",
        "pass",
        "user",
        "username",
        "login",
        "email",
        "admin",
        "token",
        "cert",
        "certificate",
        "crt",
        "ca",
        "tls",
        "url",
        "uri",
        "host",
        "port",
        "database",
        "db",
    ]
)
_LABEL_NAME = re.compile(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?(?:\.[a-z]{2,})+/[A-Za-z0-9][-\w.]*")
_FILE_VALUE = re.compile(r"(?:[/~]|\.{1,2}/)?[\w.-]+(?:/[\w.-]+)*")
_NAME_VALUE = re.compile(
    r"[a-z0-9](?:[a-z0-9_-]*[a-z0-9])?(?:[./][a-z0-9](?:[a-z0-9_-]*[a-z0-9])?)*"
)


def about_secret(key: str, value: object) -> bool:
    """Whether ``value`` under ``key`` only names or tunes a secret (see ``_ABOUT_NUMBER``…):
    a number or duration under a key ending in ttl or size, one word under one ending in type
    or algorithm, a URL with no credentials or query under one ending in url or domain, a plain
    name under one ending in name, ref or ``existingSecret``, or a name with a separator under
    one ending in key, file or path beside another word (``passwordKey: admin-password``);
    never a random token."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return False
    text = str(value).strip()
    if not text or "\n" in text or len(text) > 253:
        return False
    words = [w for w in re.split(r"[._-]+", split_camel(key).lower()) if w]
    if not words:
        return False
    last, before = words[-1], words[:-1]
    if last in _ABOUT_NUMBER:
        return _DURATION.fullmatch(text) is not None
    if looks_like_token(text):
        return False
    if last in _ABOUT_WORD:
        return _ONE_WORD.fullmatch(text) is not None
    if last in _ABOUT_PLACE:
        return _PLAIN_URL.fullmatch(text) is not None
    if last in ("name", "ref") or (last == "secret" and before[-1:] == ["existing"]):
        return _NAME_VALUE.fullmatch(text) is not None
    if last in ("file", "path") and before:
        return _FILE_VALUE.fullmatch(text) is not None  # /run/secrets/db: where it is kept
    if last == "key" and before and _LABEL_NAME.fullmatch(text):
        return True  # topologyKey: kubernetes.io/hostname names a label (sweep 21)
    if last == "key" and before[-1:] and before[-1] in _NAMED_BY_KEY:
        # passwordKey: admin-password names the entry of a Secret; secretKey, apiKey,
        # accessKey, MEILI_MASTER_KEY are the secret itself (the second review)
        return _NAME_VALUE.fullmatch(text) is not None
    return False


def names_sensitive(key: str) -> bool:
    """Whether a word of ``key`` names a credential or anything else kept secret."""
    return names_credential(key) or _SENSITIVE_WORD.search(split_camel(key)) is not None


# An Alertmanager (or Prometheus) label matcher, ``severity = critical``, ``severity =~
# warning|info``, ``alertname = "Watchdog"``: the kube-prometheus-stack chart's default
# Alertmanager config Secret failed the gate (Cloufish/k8s-home-ops, sweep 19)
_MATCHER = re.compile(
    r"^([A-Za-z_][A-Za-z0-9_]{0,63})[ \t]*(?:=~|!~|!=|=)[ \t]*"
    r'("?)([^"|]{1,128}(?:\|[^"|]{1,128}){0,15})\2$'
)
# An absolute path with a glob in it (``templates: [/etc/alertmanager/config/*.tmpl]``)
_PATH_GLOB = re.compile(r"^/[A-Za-z0-9._-]{1,64}(?:/[A-Za-z0-9._*-]{1,64}){0,15}$")


_COLON_NOT_PORT = re.compile(r":(?!\d{1,5}$)")


_MATCHER_KEYS = frozenset({"matchers", "source_matchers", "target_matchers"})


def _matcher_setting(key: str, value: str) -> bool:
    """A label matcher, as an Alertmanager config lists them (under ``matchers`` and its
    kin: a compose file's ``RPCPASSWORD=hunter2`` is no matcher, the review), on a label that
    names nothing secret, each alternative a plain word."""
    found = _MATCHER.match(value) if key in _MATCHER_KEYS else None
    if found is None or names_sensitive(found.group(1)):
        return False
    return all(
        _PLAIN_SETTING.match(part.strip())
        and len(part.split()) <= 3
        and not looks_like_token(part)
        # a colon only before a port (``instance = node1:9100``): ``admin:hunter`` is a login
        and not _COLON_NOT_PORT.search(part)
        for part in found.group(3).split("|")
    )


def is_plain_setting(key: str, value: object) -> bool:
    """A literal under a key that names nothing secret that holds no secret by its form: a
    number or a switch, or one short line of words, dots and slashes (at most three words)
    with no password in a URL, no token (``looks_like_token``), a label matcher or a path
    with a glob. Judges a template's would-be values beside its placeholders, and a Secret's
    config of plain settings."""
    if names_sensitive(key):
        return False
    if isinstance(value, bool | int | float) or value is None:
        return True
    if not isinstance(value, str):
        return False
    if _matcher_setting(key, value.strip()):
        return True
    if _SCHEDULE.match(value.strip()) or _EXTENSION.match(value.strip()):
        return True  # `cron: "@daily"`, `ignoreexts: [.txt, .nfo]` (sweep 89, josmase/flux)
    if _HOST_PORT.match(value.strip()) and not looks_like_token(value, parts=False):
        # a service's address, its labels words with a number or two (sweep 89,
        # truxnell/home-cluster: a scrape target `hs110-exporter-kp115-1.monitoring:8110` was a
        # code for its two parts of letters and digits); a random label is still a token's
        return True
    if has_template(value):
        # what Flux fills in is no literal here; the rest is judged (sweep 89, truxnell:
        # `gateway.${INTERNAL_DOMAIN}:9882`)
        rest = strip_templates(value).strip()
        return rest != value.strip() and (not rest or is_plain_setting(key, rest))
    if _PATH_GLOB.match(value.strip()):
        return not looks_like_token(value)
    if not _PLAIN_SETTING.match(value.strip()):
        return False
    if len(value.split()) > 3:  # a passphrase (``correct horse battery staple``), a seed
        return False
    return not (URL_PASSWORD.search(value) or looks_like_token(value))


def is_secret_file_setting(key: str, value: object) -> bool:
    """Where a secret is read from, not the secret: an absolute path of plain words under a
    key whose last word is ``file``, ``path`` or ``dir`` (``bearer_token_file:
    /var/run/secrets/kubernetes.io/serviceaccount/token``), a switch, a stand-in, or a mail
    address under a key naming a login's user (``is_login_address``)."""
    if not isinstance(value, str):
        return value is None or isinstance(value, bool)
    if _stand_in(value) or is_login_address(key, value):
        return True
    return bool(
        _FILE_KEY.search(split_camel(key))
        and _ABSOLUTE_PATH.match(value.strip())
        and not looks_like_token(value)
    )


# A key whose last word names a login's user (``smtp_auth_username``, ``auth_user``), with no
# word naming the password beside it; and a mail address of plain words as its value
_USER_KEY = re.compile(r"(?i)(?:^|[._-])(?:user(?:_?name)?|login|e?mail)$")
_BESIDE_PASSWORD = re.compile(
    r"(?i)(?:^|[._-])(?:pass\w*|pw|pwd|secret\w*|token\w*|keys?)(?=[._-]|$)"
)
_MAIL_ADDRESS = re.compile(
    r"^[A-Za-z0-9](?:[A-Za-z0-9._+-]{0,62}[A-Za-z0-9])?@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.[A-Za-z]{2,24}$"
)

# each part of such an address: a word, a word with a number after it (``ops01``, ``o2``) or a
# number with letters after it (``123mail``); never letters and digits mixed (``s3cr3t9``)
_MAIL_WORD = re.compile(r"^(?:[A-Za-z]+[0-9]{0,4}|[0-9]{1,6}[A-Za-z]*)$")
# six consonants in a row: random letters (``mqwkzvtp``), not a name
_CONSONANT_RUN = re.compile(r"(?i)[b-df-hj-np-tv-xz]{6,}")


# a password people choose most, maybe with digits after it (``letmein@secret.pw``: the
# attack review)
_WEAK_PASSWORD = re.compile(
    r"(?i)^(?:pass(?:word|wd)?|secret|letmein|qwerty|hunter|changeme|welcome|iloveyou|"
    r"trustno1?|monkey|dragon|sunshine|summer|winter|spring|autumn|master|shadow|football|"
    r"baseball|superman|batman|princess|freedom|starwars|asdf|zxcvbn)[0-9]{0,6}$"
)


def is_weak_password(text: str) -> bool:
    """A password people choose most (``letmein``, ``qwerty``, ``hunter42``): a word of that
    list, maybe with digits after it."""
    return _WEAK_PASSWORD.match(text.strip()) is not None


# a letter in capitals after one in lower case inside a part: ``QwErTy``, ``lAke`` (random)
_CASE_SWITCH = re.compile(r"[a-z][A-Z]")


def plain_mail_address(value: str) -> bool:
    """A mail address of plain words (``alerts@example.org``, ``John.Smith@mail.example.co.uk``):
    each part a word, a word and a number or a number and letters; never letters and digits
    mixed (``s3cr3t9@pw.io``), a random run (``Xk29fQ7pLm4v@gmail.com``,
    ``mqwkzvtp.xhrjdnfl@gmail.com``, ``ops@QwErTyUiOp.com``), a password's shape
    (``P@ssw0rd.com``) or a weak password before the ``@`` (``letmein@secret.pw``)."""
    text = value.strip()
    if _MAIL_ADDRESS.match(text) is None:
        return False
    parts = re.split(r"[@._+-]+", text)
    local = text.partition("@")[0]
    return (
        all(
            _MAIL_WORD.match(part)
            and not _CONSONANT_RUN.search(part)
            and not _CASE_SWITCH.search(part)
            for part in parts
        )
        and not is_weak_password(local)
        and not looks_like_token(local)
        and not _password_like(text)
    )


def is_login_address(key: str, value: str) -> bool:
    """A mail address of plain words (``plain_mail_address``) as a login's user name under a
    key naming the user and no password (an Alertmanager config's ``smtp_auth_username:
    alerts@example.org`` made a Secret of settings an SM001 error): the address a mail server
    shows on every message, not a secret."""
    words = split_camel(key)
    if not _USER_KEY.search(words) or _BESIDE_PASSWORD.search(words):
        return False
    return plain_mail_address(value)


# One OpenSSH public key line: ``[hosts ]type base64 [comment]`` (authorized_keys, known_hosts).
_SSH_PUBLIC_LINE = re.compile(
    r"^(?:(?P<hosts>[A-Za-z0-9.\-_\[\]:,*?!|/+=@]+) )?"
    r"(?P<type>ssh-(?:ed25519|rsa|dss)|ecdsa-sha2-nistp(?:256|384|521)|"
    r"sk-(?:ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com) "
    r"(?P<blob>AAAA[A-Za-z0-9+/]+={0,3})(?: (?P<comment>[^\n]*))?$"
)


def _ssh_public_line(line: str) -> bool:
    """An OpenSSH public key line whose base64 blob really is a key of the type it names."""
    match = _SSH_PUBLIC_LINE.match(line)
    if match is None:
        return False
    try:
        blob = base64.b64decode(match["blob"], validate=True)
    except (binascii.Error, ValueError):
        return False
    kind = match["type"].encode("ascii")
    comment = match["comment"] or ""
    if comment and ("SECRET-KEY" in comment.upper() or looks_like_token(comment)):
        return False  # a token or a key after the blob (the attack review: taken as public)
    return blob[:4] == len(kind).to_bytes(4, "big") and blob[4 : 4 + len(kind)] == kind


def ssh_public_keys(text: str) -> bool:
    """Every line is an SSH public key (or blank, or a ``#`` comment), and there is one."""
    lines = [ln.strip() for ln in text.splitlines()]
    keys = [ln for ln in lines if ln and not ln.startswith("#")]
    return bool(keys) and all(_ssh_public_line(ln) for ln in keys)


# a key that names a public key (WIREGUARD_PUBLIC_KEY, serverPublicKey, identity.pub, PUBKEY)
_PUBLIC_KEY_NAME = re.compile(
    r"(?i)(?:^|[._-])pub(?:lic)?[._-]?keys?$|[a-z]Public[_-]?Keys?$|(?:^|[._-])pub$"
)
# a 32-byte public key as WireGuard, X25519 and ed25519 tools print it: base64, 44 characters
_KEY32 = re.compile(r"^[A-Za-z0-9+/]{43}=$")


def clamped_key(raw: bytes) -> bool:
    """Whether 32 bytes are clamped as X25519 wants a private key, as `wg genkey` makes one:
    the low three bits of the first byte clear, the top two of the last ``01``. A public key
    (or any random 32 bytes) is so one time in 32."""
    return len(raw) == 32 and raw[0] & 7 == 0 and raw[31] & 0xC0 == 0x40


def named_public_key(key: str, value: object) -> bool:
    """Whether ``value`` under ``key`` is a public key by both: a key that names one, and a
    32-byte key in base64 or an SSH public key line (sweep 85, Liana64/k8s-gitops: a VPN
    server's WireGuard public key committed in a plaintext Secret was an SM019 error, whose
    `--regenerate` fix would have broken the tunnel). A private PEM key under such a key is no
    32-byte key nor an SSH line, and a clamped 32-byte one may be a WireGuard private key: both
    count."""
    if not isinstance(value, str) or not _PUBLIC_KEY_NAME.search(key):
        return False
    text = value.strip()
    if _KEY32.match(text):
        # a clamped key under a public key's name may be the private one (the attack review);
        # a public key looks so one time in 32, and stays an exposure
        return not clamped_key(base64.b64decode(text))
    return ssh_public_keys(text)


# The cluster-secrets habit of Flux repositories (sweep 75, sob/home-ops, carpenike,
# tvories): substitution variables kept in a Secret are named SECRET_DOMAIN, SECRET_NFS_PATH,
# SECRET_NAS_IP; the prefix says where the value is kept, the rest what it is. Numbered ones
# (EMAIL_1, VPN_FORWARDED_PORT_1) are judged as their unnumbered key.
# the things whose identifier names one and opens nothing: a Cloudflare tunnel's or zone's,
# an account's, a cloud tenant's, subscription's or project's, an OAuth client's, a chat's
PUBLIC_ID_OF = (
    "tunnel|account|zone|tenant|subscription|project|client|org|organization|cluster|"
    "workspace|directory|application|team|channel|guild|chat|site"
)
_KEPT_IN_SECRET = re.compile(r"(?i)^secrets?[_-](?=[a-z])")
_SETTING_WORD = re.compile(
    r"(?i)(?:^|[._-])(?:domain|host(?:name)?|ip|ips|vip|cidr|subnet|range|network|gateway|"
    r"path|dir|mount|e?mail|port|country|region|zone|tz|timezone|"
    # a bucket's, a user's, a site's or a server's name (the fourth attack review of the gate:
    # home-ops' SECRET_S3_BUCKET, SECRET_DB_USER, SECRET_UNIFI_SITE, SECRET_VPN_SERVER warned)
    r"bucket|user|username|site|server)(?:[._-]|$)"
    # which one of a thing whose id is public (``SECRET_CLOUDFLARE_TUNNEL_ID``, sweep 87,
    # kilip/homelab-old: an SM019 error whose fix regenerated a tunnel's name); not a webhook's,
    # a ping's or a role's id, which work as passwords (the review), nor a bare ``SECRET_ID``
    rf"|(?:^|[._-])(?:{PUBLIC_ID_OF})[._-]id$"
)
_NUMBERED = re.compile(r"(?<=[A-Za-z])[._-]?[0-9]{1,3}$")
# an address of a network, never a credential: IPv4 with an optional prefix length or a range
_NETWORK_ADDRESS = re.compile(
    r"^(?:(?:25[0-5]|2[0-4][0-9]|1?[0-9]{1,2})\.){3}(?:25[0-5]|2[0-4][0-9]|1?[0-9]{1,2})"
    r"(?:/(?:3[0-2]|[12]?[0-9])|-(?:(?:25[0-5]|2[0-4][0-9]|1?[0-9]{1,2})\.){3}"
    r"(?:25[0-5]|2[0-4][0-9]|1?[0-9]{1,2}))?$"
)


def network_address(text: str) -> bool:
    """Whether ``text`` is an IPv4 address, a network (``10.0.0.0/16``) or a range of them."""
    return _NETWORK_ADDRESS.match(text) is not None


def setting_name(key: str, value: object) -> str | None:
    """The key a value is judged under when ``key`` only says where it is kept or which one
    it is (``SECRET_DOMAIN`` as ``DOMAIN``, ``EMAIL_1`` as ``EMAIL``); None when it is judged
    under ``key`` itself. The prefix goes only before the name of a setting (or for a network
    address), never before a credential's (``SECRET_ID``, ``SECRET_API_TOKEN``)."""
    bare = _NUMBERED.sub("", key)
    kept = _KEPT_IN_SECRET.match(bare)
    if kept is not None:
        rest = bare[kept.end() :]
        network = isinstance(value, str) and network_address(value.strip())
        if names_sensitive(rest) or not (network or _SETTING_WORD.search(split_camel(rest))):
            return None
        bare = rest
    return bare if bare != key and bare else None


EXAMPLE_WORDS = (
    r"changeme|change_me|replace_?me|example|placeholder|dummy|redacted|todo|fixme|insert|"
    # the GitLab chart's own fillers (sweep 28, SparksD2145/flux-infra: `password:
    # bogus-satisfy-upgrade` beside existingSecret, the runner's `secret: nonempty`)
    r"bogus|non-?empty|"
    # a filler's Latin (sweep 83, TkPegatron/homelab-as-code: `lorem impsum garblewarble`)
    r"lorem"
)


# a template's run-together request, the whole value (``yoursecretpassword``: sweep 57,
# mer0x/homelab-as-code); as a part of a value it may be a password's (the attack review)
YOUR_WORDS = re.compile(
    r"(?i)^your(?:[-_]?(?:secret|password|passwd|pass|token|api|apikey|key|own|value|here))+$"
)


# an example word standing alone, not inside another word (`mastodon` holds `todo`, and
# `insertCoin` is a password's start: the attack review of sweep 83)
# (and the filler's `ipsum`, only standing alone: sweep 87, kilip/homelab-old, `Neque porro
# quisquam est qui dolorem ipsum quia dolor…`; inside a word it may be a password's, the review)
_EXAMPLE_WORD = re.compile(rf"(?i)(?<![a-z])(?:{EXAMPLE_WORDS}|ipsum|xxxx+)(?![a-z])")


# a sentence that asks for the value: "replace with", then words of how (sweep 89,
# josmase/flux: `htpasswd: Replace with $ htpasswd -Bbn username password | base64`); what
# follows is checked for tokens (the attack review: `Replace this 8fK2mQ9x vL3pZ7wR`)
_REQUEST = re.compile(r"(?i)^\s*replace[ _-]+with(?P<rest>(?:\s+\S+){2,})\s*$")
# "some" and what goes there (sweep 89, josmase/flux: `token: some-api-key`, `github_token:
# some-token`, `password: something` in Secrets committed as examples)
_SOME = re.compile(
    r"(?i)^(?:something|some[-_ ](?:api[-_]?key|token|secret|password|passwd|pass|key|value|"
    r"user(?:name)?))$"
)
# a description of the value in words joined up (sweep 89, josmase/flux:
# `password-of-registry-used-for-cache`, `any-personal-user-token-for-github-com-for-fetching-
# changelogs`): five lower-case words at least, a word that names a credential followed by one
# that links, two links in all (`key-to-the-kingdom` and `Secret-Of-The-Ooze` are passphrases:
# the attack review of stop 48)
_DESCRIPTION_NOUNS = frozenset(("password", "passwd", "token", "username", "apikey"))
_DESCRIPTION_LINKS = frozenset(("of", "for", "used", "with", "from"))
_DESCRIPTION_RUN = re.compile(r"[a-z]+(?:[-_ ][a-z]+){4,}")


def _describes_value(value: str) -> bool:
    """Words joined by ``-``, ``_`` or spaces that say what the value is for."""
    if not _DESCRIPTION_RUN.fullmatch(value):
        return False
    words = re.split(r"[-_ ]", value)
    # the credential named, then what it is of or for (``token-for-…``, ``password-of-…``)
    return sum(word in _DESCRIPTION_LINKS for word in words) >= 2 and any(
        word in _DESCRIPTION_NOUNS and following in _DESCRIPTION_LINKS
        for word, following in pairwise(words)
    )


def example_stand_in(value: str) -> bool:
    """A stand-in by its words: an example word standing alone in it (``changeme``,
    ``REPLACE_ME``, lorem ipsum filler), a request to replace it with no token after
    (``Replace with $ htpasswd …``), ``your-token-here``, ``some-api-key``, or two characters
    repeated; never a value with a digit otherwise (``Example!2024`` is a password someone
    chose)."""
    request = _REQUEST.match(value)
    if request is not None:
        # a sentence asking for the value, digits or not (`… | base64`), with no token in it
        return not looks_like_token(request["rest"])
    if any(c.isdigit() for c in value):
        return False
    return len(set(value)) <= 2 or bool(
        YOUR_WORDS.match(value) or _EXAMPLE_WORD.search(value) or _SOME.match(value)
    )


def stand_in_words(value: object) -> bool:
    """A one-line value of words that is an example's stand-in by them (``changeme``, lorem
    ipsum): nothing anyone logs in with. An example word inside another (``mastodon``) or
    beside a digit (``insertCoin42``) is a password's (the attack review of sweep 83); an
    address or a path is judged as one (a token in a URL at ``example.com`` counts)."""
    if not isinstance(value, str):
        return False
    text = value.strip()
    # a dot inside a word is an address's (`example.com`); a sentence's end (`velit...`) is not
    address = _DOT_IN_WORD.search(text) is not None or "/" in text
    if "\n" in text or address:
        return False
    # a description of the value counts here, where a value committed once is judged for
    # exposure, not in the gate's SQL or URL checks (the second attack review of stop 48)
    return example_stand_in(text) or (not any(c.isdigit() for c in text) and _describes_value(text))


_DOT_IN_WORD = re.compile(r"\w\.\w")
