"""Credential detectors for SM018, built on detect-secrets' plugins.

The plugins judge one value at a time (the gate parses documents first, so a value is a value,
whatever its quoting): the known-format plugins (AWS, GitHub, GitLab, Slack, Stripe, JWT,
private-key blocks, basic-auth URLs, …) give errors; the keyword list (a secret-sounding key
name) and the two high-entropy plugins give warnings. detect-secrets is imported on first use
only: a warm ``check`` never loads it.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from functools import cache
from itertools import pairwise
from typing import Any
from urllib.parse import unquote

from secretsmgr.audit.jwts import nkey_seed_in, public_jwt_text
from secretsmgr.audit.manifests import ENC_PREFIX, is_placeholder, pgp_public_packets
from secretsmgr.repo.placeholders import (
    API_KEY_NAME,
    CRYPT_HASH,
    EXAMPLE_WORDS,
    HTPASSWD_USER,
    PRIVATE_KEY_BLOCK,
    PUBLIC_ID_OF,
    REFERENCE_SCHEMES,
    URL_PASSWORD,
    YOUR_WORDS,
    clamped_key,
    example_stand_in,
    has_template,
    is_envsubst_name,
    is_weak_password,
    literal_default,
    looks_like_token,
    named_public_key,
    names_password,
    names_sensitive,
    network_address,
    plain_mail_address,
    resolve_defaults,
    setting_name,
    split_camel,
    ssh_public_keys,
    strip_templates,
)
from secretsmgr.sops.yamlio.manifest import BINARY_TAGS, TaggedStr

# detect-secrets plugins whose match is a credential by its format alone.
KNOWN_FORMATS = (
    "artifactory.ArtifactoryDetector",
    "aws.AWSKeyDetector",
    "azure_storage_key.AzureStorageKeyDetector",
    "basic_auth.BasicAuthDetector",
    "discord.DiscordBotTokenDetector",
    "github_token.GitHubTokenDetector",
    "gitlab_token.GitLabTokenDetector",
    "jwt.JwtTokenDetector",
    "mailchimp.MailchimpDetector",
    "npm.NpmDetector",
    "openai.OpenAIDetector",
    "private_key.PrivateKeyDetector",
    "pypi_token.PypiTokenDetector",
    "sendgrid.SendGridDetector",
    "slack.SlackDetector",
    "square_oauth.SquareOAuthDetector",
    "stripe.StripeDetector",
    "telegram_token.TelegramBotTokenDetector",
    "twilio.TwilioKeyDetector",
)
# base64 of "-----BEGIN", then the rest of the encoded PEM text (line breaks allowed).
_BASE64_PEM = re.compile(r"LS0tLS1CRUdJTi[A-Za-z0-9+/=\s]{40,}")
# A HashiCorp Vault service, batch or recovery token (``hvs.``/``hvb.``/``hvr.`` and the token;
# Vault 1.10 on): both cases and a digit, so ``hvs.<a host name>`` is none. The older ``s.``
# tokens have no prefix to tell them by.
_VAULT_TOKEN = re.compile(
    r"(?<![A-Za-z0-9_.-])hv[sbr]\.(?=[\w-]*\d)(?=[\w-]*[a-z])(?=[\w-]*[A-Z])[A-Za-z0-9_-]{24,}"
    r"(?![A-Za-z0-9_-])"
)
# A Kubernetes bootstrap token (kubeadm's ``token``, Talos' ``bootstraptoken`` and its trustd
# ``machine.token``): six and sixteen of [a-z0-9], the secret part holding a letter and a digit
# (a random one lacks either once in 180). kubeadm's documented example is public.
BOOTSTRAP_TOKEN = re.compile(
    r"(?<![A-Za-z0-9_.-])[a-z0-9]{6}\.(?=[a-z0-9]{0,15}[0-9])(?=[a-z0-9]{0,15}[a-z])[a-z0-9]{16}"
    r"(?![A-Za-z0-9_.-])"
)
# The whole value under a key naming a token: the secret part may lack a digit (sweep 20,
# albatrossflavour/home-ops: a Talos machine.token of letters after the dot went unreported);
# a digit somewhere still tells it from two words (``server.monitoringsystem``)
_WHOLE_BOOTSTRAP_TOKEN = re.compile(r"(?=[a-z0-9.]*[0-9])[a-z0-9]{6}\.[a-z0-9]{16}")
# Either shape inside a text: where a known format may sit (SM018's pass over a whole file)
BOOTSTRAP_SHAPE = re.compile(
    r"(?<![A-Za-z0-9_.-])(?=[a-z0-9.]{0,22}[0-9])[a-z0-9]{6}\.[a-z0-9]{16}(?![A-Za-z0-9_.-])"
)
# kubeadm's documented examples are public
_EXAMPLE_BOOTSTRAP_TOKENS = frozenset(("abcdef.0123456789abcdef", "07401b.f395accd246ae52d"))
_TOKEN_WORD = re.compile(r"(?i)token")
_TOKEN_END = re.compile(r"(?i)token$")


def _bootstrap_token(key: str, text: str) -> bool:
    """A bootstrap token in ``text`` under a key that names a token (``token``,
    ``bootstraptoken``, ``KUBEADM_TOKEN``), or right after the word (``--token …``,
    ``token: …`` in an embedded config): that shape alone is also an image tag or a name."""
    if "." not in text:
        return False
    keyed = _TOKEN_WORD.search(key) is not None
    if (
        _TOKEN_END.search(key)
        and _WHOLE_BOOTSTRAP_TOKEN.fullmatch(text)
        and text not in _EXAMPLE_BOOTSTRAP_TOKENS
    ):
        # the whole value, under a key that is a token's (``token``, ``bootstraptoken``, not
        # ``tokenIssuer: node01.monitoringsystem``, the review): one token in 180 has no
        # digit after the dot
        return True
    for found in BOOTSTRAP_TOKEN.finditer(text):
        if found.group(0) in _EXAMPLE_BOOTSTRAP_TOKENS:
            continue
        if keyed or _TOKEN_WORD.search(text, max(0, found.start() - 16), found.start()):
            return True
    return False


# A UUID is an id as a rule, but some services issue their secrets as UUIDs (sweep 22,
# red-lichtie/homelab-cluster: a Proxmox VE API token secret in a committed .auto.tfvars).
UUID = re.compile(
    r"(?<![0-9A-Za-z_-])[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
    r"[0-9a-fA-F]{12}(?![0-9A-Za-z_-])"
)
# A whole Proxmox VE API token, ``USER@REALM!TOKENID=SECRET`` (the bpg provider's ``api_token``,
# the ``PVEAPIToken=`` header): the secret is a UUID after a token id.
_PROXMOX_TOKEN = re.compile(
    r"(?<![\w.@!-])[\w.-]{1,64}@[\w.-]{1,64}![A-Za-z][\w.-]{0,63}=" + UUID.pattern
)
# Keys under which a UUID is a service's secret, not an id: a token secret (Proxmox VE's
# ``pm_api_token_secret``, ``PROXMOX_API_TOKEN_SECRET``, ``tokenSecret``), a Heroku API key
_TOKEN_SECRET_KEY = re.compile(r"(?i)token[._-]?secret$")
_HEROKU_KEY = re.compile(r"(?i)heroku(?:[._-]?api)?[._-]?(?:key|token)$")


# What the two start with, for a pass over a whole file: a regex that starts with a fixed
# character is many times faster than one that starts with a class (``UUID`` itself)
_PROXMOX_HINT = re.compile(r"@[\w.-]{1,64}![A-Za-z][\w.-]{0,63}=[0-9a-fA-F]{8}-")
UUID_HINT = re.compile(r"-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-")


def holds_uuid_secret(text: str) -> bool:
    """Whether ``text`` may hold a UUID in a known format: a whole Proxmox VE API token, or a
    UUID where a key naming a token secret or a Heroku key may hold it (cheap tests first:
    this runs over every file)."""
    if "!" in text and _PROXMOX_HINT.search(text) and _PROXMOX_TOKEN.search(text):
        return True
    named = ("ecret" in text or "ECRET" in text) and ("oken" in text or "OKEN" in text)
    return bool(
        (named or "eroku" in text or "EROKU" in text)
        and UUID_HINT.search(text)
        and UUID.search(text)
    )


def _stand_in_uuid(uuid: str) -> bool:
    """A UUID no service issued: one digit over and over (the nil UUID, a test's
    ``test@pam!test=00000000-…``: sweep 28, connormckinnon93/cloudlab's .tftest.hcl) or the
    digits in order."""
    digits = uuid.replace("-", "").lower()
    return len(set(digits)) == 1 or digits in _SEQUENTIAL_UUIDS


_SEQUENTIAL_UUIDS = frozenset(("12345678123412341234123456789012", "0123456789abcdef" * 2))


def _uuid_verdict(key: str, value: str) -> Verdict | None:
    """A secret in a UUID's shape: a Proxmox VE API token anywhere, a UUID under a key that
    names a token secret (Proxmox VE's) or a Heroku API key."""
    if "-" not in value:
        return None
    if "@" in value and "!" in value:
        tokens = [m.group() for m in _PROXMOX_TOKEN.finditer(value)]
        if any(not _stand_in_uuid(t.rpartition("=")[2]) for t in tokens):
            return Verdict("Proxmox API Token", True)
    if len(value) != 36 or not UUID.fullmatch(value) or _stand_in_uuid(value):
        return None
    if _TOKEN_SECRET_KEY.search(key):
        return Verdict("API Token Secret", True)
    if _HEROKU_KEY.search(key):
        return Verdict("Heroku API Key", True)
    return None


# Cloudflare's Global API Key: 37 lower-case hex digits, no prefix; known by its key's name
# (``BOOTSTRAP_CLOUDFLARE_APIKEY``, ``cloudflare_api_key``, ``CF_API_KEY``; sweep 32,
# rational-net/virgo-k8s: a keyword warning only)
_CLOUDFLARE_KEY = re.compile(
    r"(?i)(?:cloudflare|(?:^|[_.-])cf)[_.-]?(?:global[_.-]?)?api[_.-]?key$"
)
_CLOUDFLARE_GLOBAL = re.compile(r"^[0-9a-f]{37}$")


def cloudflare_key_under(key_path: str, value: str) -> Verdict | None:
    """Cloudflare's Global API Key under a parent that names Cloudflare (the external-dns
    chart's ``cloudflare: {apiKey: …}``; the review)."""
    if not _CLOUDFLARE_GLOBAL.match(value):
        return None  # every value of a file comes here: the key path is looked at only after
    parent, _, key = key_path.rpartition(".")
    return _cloudflare_global_key(f"{parent.rpartition('.')[2]}_{key}", value) if parent else None


def _cloudflare_global_key(key: str, value: str) -> Verdict | None:
    if _CLOUDFLARE_GLOBAL.match(value) and _CLOUDFLARE_KEY.search(key):
        return Verdict("Cloudflare Global API Key", True)
    return None


# A Cloudflare Tunnel's secret, as cloudflared's credentials file holds it (``{"AccountTag": …,
# "TunnelSecret": "<base64 of 32 bytes or more>", "TunnelID": …}``): sweep 42, marcotaco14's
# tunnel credentials, committed as JSON and in an editor's swap file, were a keyword warning
# and no exposure in history; the key name is cloudflared's own
_TUNNEL_SECRET = re.compile(r'"TunnelSecret"\s*:\s*"([A-Za-z0-9+/]{43,}={0,2})"')
_TUNNEL_VALUE = re.compile(r"^[A-Za-z0-9+/]{43,}={0,2}$")


def _tunnel_secret(key: str, value: str) -> Verdict | None:
    if key != "TunnelSecret" or not _TUNNEL_VALUE.match(value):
        return None
    try:
        raw = base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
    return Verdict("Cloudflare Tunnel Secret", True) if len(raw) >= 32 else None


# A DNS TSIG key (RFC 2845), the HMAC secret of dynamic DNS updates: base64 of 16 bytes or more
# under a key or flag naming one (external-dns's --rfc2136-tsig-secret, cert-manager's
# tsigSecretSecretRef names a Secret instead; sweep 61, dkw99/home-ops: a 64-byte key in a
# committed Deployment's args had no finding)
_TSIG_KEY = re.compile(r"(?i)tsig[._-]?secret$")
_TSIG_VALUE = re.compile(r"^[A-Za-z0-9+/]{22,}={0,2}$")


def _tsig_secret(key: str, value: str) -> Verdict | None:
    if not _TSIG_KEY.search(key) or not _TSIG_VALUE.match(value):
        return None
    try:
        raw = base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
    if raw[:1] == b"\x30" and raw[1:2] in (b"\x81", b"\x82", b"\x83"):
        return None  # DER (a certificate's start), not a key's random bytes: the review
    if all(32 <= b < 127 for b in raw):
        return None  # base64 of text, not of a key's random bytes
    return Verdict("DNS TSIG Key", True) if len(raw) >= 16 and len(set(raw)) >= 12 else None


# A WireGuard private key (``wg genkey``): base64 of 32 bytes clamped as X25519 wants them
# (``clamped_key``), under a key naming a private key (wg-quick's ``PrivateKey``,
# ``WG_PRIVATE_KEY``, ``privateKey``); sweep 87's gate corpus: a wg0.conf in a ConfigMap
# passed. A random value is clamped so one time in 32.
_PRIVATE_KEY_NAME = re.compile(r"(?i)(?:^|[._-])private[._-]?key$")
_WG_KEY = re.compile(r"^[A-Za-z0-9+/]{43}=$")


def _wireguard_private_key(key: str, value: str) -> Verdict | None:
    if not _WG_KEY.match(value) or not _PRIVATE_KEY_NAME.search(split_camel(key)):
        return None
    return Verdict("WireGuard Private Key", True) if clamped_key(base64.b64decode(value)) else None


def tunnel_secret_in(text: str) -> bool:
    """Whether ``text`` holds cloudflared's ``"TunnelSecret": "<base64>"`` (JSON)."""
    return '"TunnelSecret"' in text and any(
        _tunnel_secret("TunnelSecret", m[1]) for m in _TUNNEL_SECRET.finditer(text)
    )


# A K3s secure join token: K10, the cluster CA's sha256, then `::user:password` (sweep 44, a
# probe on Cyberius9/Gitops: a k3s-ansible `k3s_token` in host_vars passed; anyone holding it
# joins a node to the cluster)
# (the review: the bootstrap-token form `K10<hex>::<id>.<secret>`, capitals in the hash, and a
# password with other characters passed)
# A Tailscale key: an auth key (joins a device), an API access token, an OAuth client's secret,
# a webhook's or SCIM's secret: `tskey-<kind>-<id>-<secret>` (sweep 58, LeafdTK/k8s-gitops: a
# Talos extension's `TAILSCALE_AUTHKEY` was a keyword warning, and check passed it)
# Services' API tokens by the shape their issuer gives them, a fixed prefix then a random run
# of a fixed length (detect-secrets knows none of them; the fifth attack review of the gate: in
# a ConfigMap or an env value, each was a warning at most, or nothing): (name, prefix, shape)
_PREFIXED_TOKENS = tuple(
    (name, prefix, re.compile(rf"(?<![A-Za-z0-9_-]){shape}(?![A-Za-z0-9_-])"))
    for name, prefix, shape in (
        ("Anthropic API Key", "sk-ant-", r"sk-ant-(?:api|admin)\d\d-[A-Za-z0-9_-]{80,100}AA"),
        ("Hugging Face Token", "hf_", r"hf_[A-Za-z0-9]{34}"),
        ("npm Access Token", "npm_", r"npm_[A-Za-z0-9]{36}"),
        ("Grafana Service Account Token", "glsa_", r"glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}"),
        ("Pulumi Access Token", "pul-", r"pul-[a-f0-9]{40}"),
        ("DigitalOcean Token", "_v1_", r"do[opr]_v1_[a-f0-9]{64}"),
        ("Slack App Token", "xapp-", r"xapp-\d-[A-Za-z0-9]{8,}-\d{8,}-[a-f0-9]{32,}"),
        ("Shopify Access Token", "shp", r"shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}"),
        ("Databricks Token", "dapi", r"dapi[a-f0-9]{32}(?:-\d)?"),
        ("Linear API Key", "lin_api_", r"lin_api_[A-Za-z0-9]{40}"),
        ("Groq API Key", "gsk_", r"gsk_[A-Za-z0-9]{52}"),
        ("Replicate API Token", "r8_", r"r8_[A-Za-z0-9]{37}"),
        ("1Password Service Account Token", "ops_eyJ", r"ops_eyJ[A-Za-z0-9+/]{250,}={0,3}"),
        ("Notion Token", "ntn_", r"ntn_\d{11}[A-Za-z0-9]{35}"),
        ("PlanetScale Token", "pscale_", r"pscale_(?:tkn|pw|oauth)_[A-Za-z0-9_.-]{32,64}"),
        ("Postman API Key", "PMAK-", r"PMAK-[a-f0-9]{24}-[a-f0-9]{34}"),
        ("Doppler Token", "dp.", r"dp\.(?:pt|st|ct|sa|scim|audit)\.[A-Za-z0-9]{40,44}"),
        ("Sentry Token", "sntr", r"sntr[ysu]_[A-Za-z0-9+/=_]{40,}"),
    )
)
PREFIXED_TOKEN_PARTS = tuple(prefix for _, prefix, _ in _PREFIXED_TOKENS)
# an Azure connection string's key (Service Bus, Event Hubs, IoT Hub, SignalR: the seventh
# attack review of the gate; a Storage account's AccountKey= is detect-secrets' own)
_AZURE_ACCESS_KEY = re.compile(
    r"(?i)(?:^|[;\s\"'])(?:Shared)?AccessKey\s*=\s*(?P<key>[A-Za-z0-9+/]{40,88}={0,2})(?=[;\s\"']|$)"
)


def _prefixed_token(text: str) -> str | None:
    """The service whose API token ``text`` holds by its issuer's shape, or None."""
    for name, prefix, shape in _PREFIXED_TOKENS:
        if prefix in text and shape.search(text):
            return name
    return None


_TAILSCALE_KEY = re.compile(
    r"(?<![A-Za-z0-9])tskey-(?:auth|api|client|webhook|scim)-[A-Za-z0-9]{6,}-[A-Za-z0-9]{16,}"
    r"(?![A-Za-z0-9])"
)
_K3S_TOKEN = re.compile(
    r"(?<![A-Za-z0-9])K10[0-9a-fA-F]{64}::(?:[A-Za-z0-9_-]{1,64}:[^\s\"'`]{6,}"
    r"|[a-z0-9]{6}\.[a-z0-9]{16})"
)


# A Google API key (Maps, Firebase, …): AIza and 35 more characters.
_GOOGLE_API_KEY = re.compile(r"(?<![A-Za-z0-9_-])AIza[0-9A-Za-z_-]{35}(?![A-Za-z0-9_-])")
# A keyword that runs on into another word names something else: passwordless_flow,
# OAUTH_KEYCLOAK_REALM (auth_key + cloak), keyboard, secretary.
_RUNS_ON = "(?!less|cloak|board|ary|stroke|frame|note|pad)"
# a key whose last word is token (``API_TOKEN``, ``access_Token`` after split_camel); never
# ``max_tokens``, ``tokenizer``, ``token_url``
_TOKEN_KEY = re.compile(r"(?i)(?:^|[._-])token$")
# Key names that hold a reference, a file name or a switch, never the secret itself
# (``existingSecret: app-creds``, ``passwordKey: pw``, ``secretName``, ``tokenFile``).
_REFERENCE_KEY = re.compile(
    r"(?i)(?:name|ref|key|keys|file|path|dir|secret_?name|existing_?secret|enabled|"
    r"length|policy|mode|type|format|source|from|template|annotation|label|selector|"
    r"mount|volume|env|provider|manager|hash|algorithm|method|generate|create|namespace|"
    r"complexity|strength|rules?|requirements?|timeout|ttl|expiry|expiration|lifetime|hint|"
    r"attr|attribute|algo|limits?|rate|quota|"
    # ``tsigSecretAlg: hmac-sha256``, ``jwt_secret_alg`` (sweep 26, matjahs: external-dns)
    r"(?:^|[._-])alg|(?-i:(?<=[a-z0-9])Alg)|"
    # a Terraform kubernetes backend's `secret_suffix = "authentik"` names its state's Secret
    # (sweep 75: five warnings on martinohmann/home-ops and jokajak/home-ops)
    r"suffix|prefix|"
    # Woodpecker CI's `from_secret: slack_webhook`: the name of a secret it stores (sweep 58)
    r"(?:^|[._-])from_?secret)$"
)
# A key that names a scheme (``htpasswd_encryption = autodetect``: sweep 37, a-mcf's radicale
# config) and a value that is one: only then a setting (the attack review: under
# SECRET_ENCRYPTION a passphrase is still a secret)
_SCHEME_KEY = re.compile(r"(?i)(?:encryption|scheme|ciphers?)$")
# a scheme's name: words of algorithms, modes and paddings (``aes-256-gcm``, ``XChaCha20-Poly1305``,
# ``AES/GCM/NoPadding``, ``BLF-CRYPT``, ``aescbc``, ``secretbox``; the third attack review),
# or a switch; a word of another kind (``tangerine-falcon-92``) makes it none
_SCHEME_WORD = re.compile(
    r"(?i)^(?:x?chacha\d*|poly1305|salsa\d*|aes(?:\d{3})?(?:gcm|cbc|ctr|ecb)?(?:siv)?|3?des|tripledes|gcm|cbc|ctr|siv|ecb|ofb|cfb|"
    r"(?:no|pkcs\d|iso\d*|oaep)padding|secretbox|box|blowfish|blf|twofish|camellia\d*|sm4|crypt|bcrypt|scrypt|yescrypt|"
    r"argon2(?:id|i|d)?|pbkdf2?|s?sha\d*|md5|ntlm|rsa|ecdsa|ed25519|hmac|scram|plain(?:text)?|"
    r"none|auto(?:detect)?|identity|kms(?:v\d)?|tls(?:v?\d)?|ssl|starttls|required|optional|"
    r"disabled|enabled|\d+)$"
)


def _scheme_name(value: str) -> bool:
    """Whether ``value`` names a scheme: every word of it an algorithm's, a mode's or a
    switch's, and one at least not a number."""
    words = [w for w in re.split(r"[-_/.]", value) if w]
    return (
        0 < len(words) <= 6
        and all(_SCHEME_WORD.match(w) for w in words)
        and any(not w.isdigit() for w in words)
    )


# Projects named after secrets (an editor's icon map, a chart list): ``external-secrets: …``
_PROJECT_KEY = re.compile(r"(?i)(?:^|[._])(?:external|sealed)-secrets$")
# Values an application reads as an instruction to make the secret itself (mautrix's
# ``shared_secret: generate``)
_MAKE_IT = frozenset(("generate", "autogenerate"))
# ``…Key`` names the key a credential sits under in a Secret (``passwordKey: pw``), unless the
# word before it makes the credential's own name (``api_key``, ``SECRET_KEY``, ``privateKey``,
# ``AWS_SECRET_ACCESS_KEY``: sweep 13); such a key holding a key's name (``secretKey:
# secret-key``, letters only) is still a reference.
_CREDENTIAL_KEY = re.compile(
    r"(?i)(?:^|[._-])(?:api|auth|service|account|db|database|priv|private|client|secret|"
    r"access|encryption|master|signing|session|app|license|crypto|cookie|jwt|hmac|shared|root|"
    r"totp|otp)"
    r"[._-]?key$"
)
_KEY_NAME_VALUE = re.compile(r"^[A-Za-z]+(?:[._-][A-Za-z]+)*$")
# keys whose secret is words (a passphrase, a wallet's mnemonic, recovery codes, a salt)
_WORDS_KEY = re.compile(
    r"(?i)(?:passphrase|mnemonic|seed[._-]?phrase|recovery[._-]?codes?|(?:^|[._-])(?:salt|pepper))$"
)
# A Kubernetes object name (``app-creds``): under ``pullSecret``/``configSecret`` a reference.
_OBJECT_NAME = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)+$")
# A Kubernetes field that names a Secret object (``envFromSecret: grafana``,
# ``existingSecret: app``): camel case, ``…Secret`` or ``…Secrets``, and a name for a value.
_SECRET_FIELD = re.compile(r"[a-z]Secrets?$")
# The same word inside camel case (``sonarSecretProperties``): only a name that says it is a
# Secret's (``sonarqube-properties-secret``) is taken for one.
_SECRET_INSIDE_FIELD = re.compile(r"[a-z]Secrets?(?:Properties|Name|Ref|Config|Configuration)$")
# A field that names an object of a secret store's kind (the Secrets Store CSI driver's
# ``secretProviderClass``, External Secrets' ``secretStore``; sweep 29, RamonCollazo)
_SECRET_KIND_FIELD = re.compile(r"(?i)(?:^|[._-])secret[_-]?(?:provider[_-]?class|store)$")
_SECRET_OBJECT = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*-(?:secrets?|creds|credentials)$")
# ``<secret>/<key>``: a Secret's name and one of its keys (the netbird chart's
# ``envFromSecret: {RELAY_PASSWORD: netbird/relayPassword}`` maps a variable to one).
_SECRET_KEY_REF = re.compile(r"^[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?/[-._A-Za-z0-9]{1,253}$")
# A password's word alone, in capitals (``password: PASSWORD``): a stand-in, not the password.
_BARE_STAND_IN = frozenset(("PASSWORD", "PASSWD", "SECRET"))
_BARE_WORDS = frozenset(word.lower() for word in _BARE_STAND_IN)
# The last word of a key that names a place in a secret manager (1Password's item and vault)
_MANAGER_PLACE = re.compile(r"(?i)(?:^|[._-])(?:item|vault)$")
# What such a place is called: words, digits only after a separator (``Automation``, ``Home
# Lab``, ``kubernetes``, ``vault-2``; never ``q7Wm2ZpK…`` or ``s.Xq7Wm2…``)
_PLACE_NAME = re.compile(r"^[A-Za-z]+(?:[ ._-](?:[A-Za-z]+|[0-9]+))*$")
# a key that names a secret manager before its vault or item (``ONEPASSWORD_VAULT``,
# ``OP_TALSECRET_ITEM``, ``BW_ITEM``): there a name with digits in a word is one too
# (``k3s_cluster``: sweep 84, 3nm1/home-ops); under a bare ``VAULT`` or ``ANSIBLE_VAULT`` it
# may be a password (the attack review)
_MANAGER_KEY = re.compile(
    r"(?i)^(?:op|onepassword|1password|bitwarden|bw|doppler|infisical|akeyless|keeper)[._-]"
)
_LOOSE_PLACE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?:[ ._-][A-Za-z0-9]+)*$")


def _manager_place(key: str, value: object) -> bool:
    """Whether ``value`` under ``key`` names a secret manager's vault or item (a place, no
    secret: ``OP_TALSECRET_ITEM: talsecret``, ``ONEPASSWORD_VAULT: k3s_cluster``)."""
    if not isinstance(value, str) or not _MANAGER_PLACE.search(key) or len(value) > 63:
        return False
    if _PLACE_NAME.match(value):
        return True
    return bool(
        _MANAGER_KEY.match(key) and _LOOSE_PLACE_NAME.match(value) and not looks_like_token(value)
    )


_DNS_NAME = re.compile(r"^[a-z](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*$")
# Secret-manager references resolved elsewhere (1Password, vals, Vault, cloud secret managers).
_REFERENCE_VALUE = re.compile(
    # 1Password's op:// (sweep 47, thaynes43/haynes-ops: 1P://Vault/item/FIELD too)
    rf"^(?:(?i:op)|1[pP]|{REFERENCE_SCHEMES})://[^\s:@?#]+$|^ref\+[a-z0-9]+://|^vault:"
    # LiteLLM's ``os.environ/OPENAI_API_KEY``; doco-cd's external secret ``project:env:/path``
    r"|^os\.environ/[A-Za-z_][A-Za-z0-9_]*$"
    r"|^[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}:[\w.-]+:/[\w./-]*$"
)
# Argo CD's ``$<secret name>:<key>``: read from that Secret (sweep 43, justin8's
# ``configs.secret.githubSecret``); the name a Secret's (lower-case, with `-` or `.`), the key
# a key's name, never a token (the attack review: ``$db-main:<random>`` passed), and only after
# the known formats are ruled out
_ARGO_REFERENCE = re.compile(
    r"^\$[a-z0-9]+(?:[-.][a-z0-9]+)+:(?P<key>[A-Za-z][A-Za-z0-9._-]{0,252})$"
)
# A password hash in PHC or crypt form (Authelia's ``client_secret: $argon2id$…``): what a
# program checks a secret against, kept in its configuration on purpose; also htpasswd lines
# of them (``admin:$2y$05$…``: zot's ``secretFiles.htpasswd``, sweep 22)
_HASHED = re.compile(
    rf"^(?:{HTPASSWD_USER}:)?{CRYPT_HASH}(?:\n(?:{HTPASSWD_USER}:)?{CRYPT_HASH})*$"
)


def is_password_hash(text: str) -> bool:
    """Whether ``text`` is a password hash, or htpasswd lines of them: no secret itself."""
    return _HASHED.match(text.strip()) is not None


# An /etc/passwd entry whose password field holds none (sweep 36, mrled/psyops: a ConfigMap's
# `passwd: user:x:1000:1000:…` was a keyword warning); a hash there is judged as before
_PASSWD_ENTRY = re.compile(r"^\s*[\w.-]{1,32}:(?:x|\*|!\*?|!!):\d+:\d+:[^:\n]*:[^:\n]*:[^:\n]*\s*$")
_CSS_COLOR = re.compile(r"^#(?:[0-9A-Fa-f]{3}|[0-9A-Fa-f]{6})$")
# Stakater Reloader's annotations with no prefix path (``secret.reloader.stakater.com``:
# sweep 22, FalkWinkler/home-ops) and what they take: a list of object names. Only these: a
# dotted key of a config (``smtp.example.com: …``) may hold a password in lower case.
_DOMAIN_KEY = re.compile(r"^(?:secret|configmap)\.reloader\.stakater\.com$")
_NAME_LIST = re.compile(
    r"^[a-z0-9](?:[-a-z0-9.]*[a-z0-9])?(?:\s*,\s*[a-z0-9](?:[-a-z0-9.]*[a-z0-9])?)*$"
)
# A key that names an existing Secret or one of its keys (``existingSecretAdminPassword``).
_EXISTING_SECRET_KEY = re.compile(r"(?i)^existing_?secret")
_NAME_LIKE = re.compile(r"^[A-Za-z][A-Za-z_.-]{0,62}$")
# A documentation page (mkdocs ``nav``: ``External Secrets: security/external-secrets.md``).
# An entry of a password store (``pass``, gopass, Vault's KV): lower-case words in two or more
# folders, digits only after a separator (``gpg/home-cluster-private``: nicholaswilde's
# Taskfile passes it to ``pass``; sweep 18). A random part (``gpg/q7wm2zpk9v``) is no word.
_STORE_PATH = re.compile(
    r"^[a-z]+(?:[._-](?:[a-z]+|[0-9]+))*(?:/[a-z]+(?:[._-](?:[a-z]+|[0-9]+))*)+$"
)
_DOC_PATH = re.compile(r"(?i)^[\w.-]+(?:/[\w.-]+)*\.(?:md|markdown|rst|adoc|html?)$")
# Lock files: checksums and revisions of dependencies, never credentials.
_LOCK_NAMES = frozenset(
    (
        *("package-lock.json", "pnpm-lock.yaml", "npm-shrinkwrap.json", "go.sum"),
        *("flake.lock", "Chart.lock", "yarn.lock", "poetry.lock", "Pipfile.lock", "uv.lock"),
        *("Cargo.lock", "Gemfile.lock", "composer.lock", "mix.lock", ".terraform.lock.hcl"),
    )
)
# ``scheme://:password@host`` (Redis): a password with no user, which the basic-auth plugin
# does not read.
_PASSWORD_ONLY_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]{0,31}://:([^\s:/?#@]{1,512})@")
# ``user:password@`` of a URL, both parts (``URL_PASSWORD`` captures the password alone).
_URL_USER_PASSWORD = re.compile(
    r"([A-Za-z][A-Za-z0-9+.-]{0,31})://([^\s:/@]{0,256}):([^\s@/]{1,512})@"
)
# a URL's authority: what lies between `//` and the path, query or fragment
_URL_AUTHORITY = re.compile(r"[A-Za-z][A-Za-z0-9+.-]{0,31}://([^\s/?#]{1,1024})")
# every ``user:password@`` of a URL, a password with a ``/`` in it too (base64)
_URL_ANY_PASSWORD = re.compile(r"[A-Za-z][A-Za-z0-9+.-]{0,31}://[^\s:/@]{0,256}:[^\s@]{1,512}@")
# The sample credentials of documentation (``postgres://user:password@host/database``).
_PASSWORD_WORDS = frozenset(("password", "passwd", "pass"))
# A stand-in that a start-up script fills in (blocky's `sed "s/POSTGRES_PASSWORD/$…/"`,
# mautrix's `_DBPASS_`): a word in capitals between underscores, or a variable's name in
# capitals that ends in a password's word; letters only (``HUNTER2_PASS``, ``_K8SQ7ZP2M_`` are
# passwords). A password of that shape is a name, not a secret.
_STAND_IN_PASSWORD = re.compile(
    r"^(?:_+[A-Z]+(?:_[A-Z]+)*_+|[A-Z]+(?:_[A-Z]+)*_(?:PASSWORD|PASSWD|PASS|PWD)"
    # or an instruction in capitals (d-uzlov's ``osp:REPLACEOSPDBPASSWORD@``)
    r"|REPLACE_?[A-Z]+(?:_[A-Z]+)*)$"
)
_USER_WORDS = frozenset(("user", "username", "usr"))
# where the password is kept, written as the password
_KEPT_ELSEWHERE = frozenset(
    (
        *("external-secret", "externalsecret", "external_secret", "existing-secret"),
        *("existingsecret", "existing_secret", "from-secret", "in-secret", "see-secret"),
    )
)
# A variable that names a host (``${SECRET_SYNOLOGY_IP}:9000@region``), not a user.
_HOST_VARIABLE = re.compile(r"(?i)^\$\{?[A-Z0-9_]*(?:IP|HOST|HOSTNAME|ADDR|ADDRESS|SERVER)\}?$")
_VARIABLE = re.compile(
    # ``$${VAR}``/``$$VAR``: Flux's escape of a shell's variable, which it hands on as
    # ``${VAR}`` (the seventh attack review of the gate: `redis://:$${PASS}@…` was a password)
    r"^(?:\$?\$?\{[^{}]*\}|\$\$?[A-Za-z_][A-Za-z0-9_]*|\$\$?\([A-Za-z_][A-Za-z0-9_.-]*\)|%[sdvq]|"
    r"%[A-Za-z_]+%|<[^<>]*>|<<[^<>]*>>|"
    # Kubernetes' $(VAR) in env, a printf verb (%s), Grafana's $__env{VAR}, Stalwart's
    # %{env:VAR}%, keycloak-config-cli's lookups $(env:VAR) and $(file:UTF-8:/path) (sweep 30,
    # MatherlyNet/talos-cluster: a realm's client secrets, filled in when the job runs); only
    # those that name where the value is: $(base64Decoder:…) or $(const:…) hold it (the review)
    r"\$__[a-z]+\{[^{}]*\}|%\{[a-z]+:[^{}]*\}%|\$\((?:env|sys):[A-Za-z_][A-Za-z0-9_.]{0,127}\)|"
    r"\$\(file:(?:[A-Za-z0-9_-]{1,32}:)?/[^()\s]{1,512}\))$"
)
# The name of an environment variable (``client_secret: !Env OIDC_CLIENT_SECRET`` in authentik
# blueprints, whose tag the reader drops): where the value comes from, not the value.
# A list of such names (``GH_AW_SECRET_NAMES: ANTHROPIC_API_KEY,GITHUB_TOKEN``) too.
_ENV_NAME = re.compile(
    r"^[A-Z][A-Z0-9]*(?:_{1,2}[A-Z0-9]+)+(?:\s*,\s*[A-Z][A-Z0-9]*(?:_{1,2}[A-Z0-9]+)*)*$"
)
# A lower-case name that says what it names (``password: !secret wifi_password`` in ESPHome,
# whose tag the reader drops): a reference, not the value.
_SECRET_NAME = re.compile(
    r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*_(?:password|passwd|pass|pwd|secret|token|key|credentials?)"
    r"(?:_[a-z0-9]+)*$"
)
# The name of a secret manager's entry, words joined by hyphens ending in the secret's word
# (Azure Key Vault's names allow nothing else): sweep 22, bancey/lab-ops's prod.tfvars maps
# each variable to its entry (``mariadb_root_password = "MariaDB-Root-Password"``).
_ENTRY_NAME = re.compile(
    r"^[A-Za-z]+(?:-[A-Za-z]+)*-(?i:password|passwd|pass|pwd|secret|token|key|credentials?)$"
)
_PATH = re.compile(
    r"^(?:\.{0,2}/|~/|\.[A-Za-z0-9_-]+/)[^\s]*$"
    # a file or a lookup table under its type (Gitea's `JWT_SECRET_URI = file:/data/jwt`,
    # Postfix's `smtp_sasl_password_maps = lmdb:/etc/postfix/sasl_passwd`: the second attack
    # review of sweep 87)
    r"|^(?:file|lmdb|hash|texthash|btree|cdb|dbm|sdbm|regexp|pcre|unix):/[\w./-]+$"
)
# A file name with a key or config file's extension (``secret_entry: sops.agekey``): the
# name of where a credential is kept, not the credential.
_FILE_NAME = re.compile(
    r"(?i)^[a-z0-9_-]+(?:\.[a-z0-9_-]+)*\."
    r"(?:agekey|key|pem|crt|cer|der|p12|pfx|jks|keystore|asc|gpg|pub|json|ya?ml|toml|ini|"
    r"conf|cfg|env|txt)$"
)
# A disk's /dev/disk/by-id name (Rook, OpenEBS, Talos): bus, then vendor_model_serial; a serial
# number looks random, so only the shape tells it apart: a bus prefix and underscores.
_DISK_ID = re.compile(r"^(?:nvme|ata|scsi|usb|mmc|virtio)-[A-Za-z0-9.-]+(?:_[A-Za-z0-9.-]+)+$")
# Keys whose values are identifiers, digests or versions: high entropy, yet no secret (``fp``:
# a PGP key's fingerprint, sops's SOPS_PGP_FP and a Terraform variable ``key_fp``, sweep 22).
_IDENTIFIER_KEY = re.compile(
    r"(?i)(?:^|[._-])(?:tag|digest|(?:base64)?sha\d*|md5|checksum(?:[._-][a-z]+)?|hash|revision|commit|version|uid|uuid|id|"
    r"image|fingerprint|fpr?|thumbprint|ca_?bundle|cert|crt|certificate|pub(?:lic)?[_-]?keys?|pub|public|head|"
    r"integrity|etag|nonce|salt_?id|repository|url|host|domain|email|account(?:_?id)?|"
    r"project|region|zone|cluster|age|pgp|kms|recipients?|cluster_?key|[a-z_]*_regex|"
    r"rev|sum|schematic(?:_?id)?(?:_[a-z0-9]+)?|template|"
    # an OAuth/OIDC audience: public, as the client id beside it (sweep 90, shamubernetes)
    r"audience|aud)$"
)
# A git ref pinned to a commit (``source-ref: 0d2a07…``, a Renovate git-refs datasource): the
# key says ref and the value is a SHA-1 or SHA-256 object name, no credential
_REF_KEY = re.compile(r"(?i)(?:^|[._-])(?:git[._-]?)?ref$")
_GIT_OBJECT = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
# Public keys are meant to be shared: age recipients, SSH and PGP public keys; PostHog's
# project API key, which its web snippet puts into every page (its personal keys are `phx_`;
# sweep 36, pindaroli/k8s-lab: n8n's chart defaults)
_PUBLIC = re.compile(
    r"^(?:age1[02-9ac-hj-np-z]{58}(?:\s*,\s*age1[02-9ac-hj-np-z]{58})*|"
    r"(?:ssh|ecdsa|sk)-[a-z0-9-]+ [A-Za-z0-9+/=]+.*|phc_[A-Za-z0-9]{32,64}|"
    # a domain's ownership proof, published in its DNS as a TXT record (sweep 85,
    # mak011p/k8s-gitops-hayden: a Terraform cloudflare_record was an entropy warning)
    r"(?:google|facebook|apple|atlassian|docusign|stripe|adobe-idp|MS)-(?:site|domain)?-?"
    r"verification=[A-Za-z0-9_-]{8,96}|MS=ms[0-9]{8})$"
)
_BASE64_TEXT = re.compile(r"[A-Za-z0-9+/]+={0,2}")
_BASE58 = re.compile(r"[1-9A-HJ-NP-Za-km-z]{32,64}")
# a key that names a blockchain account's address (`selfAddress`, `wallet_address`)
_CHAIN_ADDRESS_KEY = re.compile(r"(?i)(?:^|[._-])(?:address|addr|wallet)$")


def _pgp_public_key(value: str) -> bool:
    """Whether ``value`` is an OpenPGP public key in base64 (what Terraform's ``pgp_key`` of an
    IAM access key takes): packets of public keys only (``pgp_public_packets``), never a
    secret key's."""
    text = "".join(value.split())
    if len(text) < 64 or not _BASE64_TEXT.fullmatch(text):
        return False
    try:
        data = base64.b64decode(text + "=" * (-len(text) % 4))
    except ValueError:
        return False
    return pgp_public_packets(data)


def _chain_address(key: str, value: str) -> bool:
    """Whether ``value`` under a key naming an address is a blockchain account's (base58, as
    Substrate's SS58 and Bitcoin's are): public by design."""
    named = _CHAIN_ADDRESS_KEY.search(split_camel(key)) is not None
    return named and _BASE58.fullmatch(value) is not None


_REFERENCE_TAGS = frozenset(("!KeyOf", "!Find", "!Context", "!Ref", "!GetAtt", "!ImportValue"))
# a key whose last word names a point in time
_TIME_KEY = re.compile(
    r"(?i)(?:^|[._-])(?:m?time|date|timestamp|at|since|until|expiry|expires|expiration|created|"
    r"updated|modified)$"
)
# a date or a date and time (with or without a zone)
_DATE_TIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}(?:[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:[Zz]| ?UTC|[+-]\d{2}:?\d{2})?)?$"
)
_BORING = re.compile(r"(?i)^(?:true|false|yes|no|on|off|null|none|~|\d+(?:\.\d+)*[a-z]{0,3})$")
# an example word anywhere in a value, or a request to fill it in
_WORDS = re.compile(rf"(?i)(?:{EXAMPLE_WORDS}|your[-_]|xxxx|\*\*\*|secret-here)")
_B64_CHARS = re.compile(r"^[A-Za-z0-9+/=_-]{20,}$")
_HEX_CHARS = re.compile(r"^[0-9a-fA-F]{20,}$")


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a detector says about a value: the kind (detect-secrets' type) and how sure."""

    kind: str
    known: bool  # a known format (error); else keyword or entropy (warning)


@cache
def _plugins() -> tuple[tuple[Any, ...], Any, Any, Any]:
    import importlib
    import logging

    # detect-secrets configures logging when imported: it routes every Python warning into
    # logging and gives its own logger a stderr handler. Neither is ours to change.
    # It imports requests too, whose urllib3 hangs a NullHandler on its logger: that would
    # silence urllib3's records that ``--debug`` shows. Put back what was there.
    captured = getattr(logging, "_warnings_showwarning", None) is not None
    urllib3_log = logging.getLogger("urllib3")
    urllib3_handlers = list(urllib3_log.handlers)
    importlib.import_module("detect_secrets.core.log")
    importlib.import_module("detect_secrets.plugins.base")
    if not captured:
        logging.captureWarnings(False)
    urllib3_log.handlers = urllib3_handlers
    quiet = logging.getLogger("detect-secrets")
    quiet.handlers = []
    quiet.propagate = False
    known = []
    for ref in KNOWN_FORMATS:
        module, _, name = ref.partition(".")
        cls = getattr(importlib.import_module(f"detect_secrets.plugins.{module}"), name)
        known.append(cls())
    from detect_secrets.plugins.high_entropy_strings import (
        Base64HighEntropyString,
        HexHighEntropyString,
    )
    from detect_secrets.plugins.keyword import DENYLIST

    # and `pass` as a word of its own (sweep 47, k8s-1/sops: SMTP_PASS, ADMIN_PASS had no
    # finding where DB_PASS did; never bypass, compass, passenger)
    words = (
        *DENYLIST,
        r"(?<![a-z0-9])(?<!proxy_)pass(?![a-z])(?![-_]?(?:through|encrypt))",
        # the sixth attack review of the gate: a passphrase (borg's, restic's) and a key
        # that encrypts or signs (n8n's N8N_ENCRYPTION_KEY, LiteLLM's master key, Rails's
        # SECRET_KEY_BASE) named no keyword, and a postBuild variable under them passed
        r"passphrase",
        # the last word of the name (never JWT_KEY_ISSUER: the seventh review)
        r"(?:encryption|master|signing|hmac|session|cookie|jwt|shared|totp|otp|license)[._-]?"
        r"key(?:s|[._-]?base)?$",
        # a Wi-Fi or IPsec pre-shared key, a salt or pepper, a wallet's words, recovery codes
        # (the seventh attack review of the gate: each under a postBuild variable passed)
        r"(?:^|[._-])(?:psk|salt|pepper|mnemonic|seed[._-]?phrase|recovery[._-]?codes?)$",
    )
    keyword = re.compile("(?i)(?:" + "|".join(words) + ")" + _RUNS_ON)
    return tuple(known), Base64HighEntropyString(), HexHighEntropyString(), keyword


# jwt.io's sample token ("John Doe"), whose secret jwt.io prints beside it: that token alone,
# the whole value (the attack review: a value merely ending in its signature passed, a GitHub
# token before it too)
_JWT_IO_SAMPLE = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwi"
    "aWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)


def is_placeholder_value(value: str) -> bool:
    """A value nobody could log in with: empty, a variable, a template, an example word."""
    return is_placeholder(value) or _example(value)


# Stripe's publishable key, made for browser code (sweep 57, mstaicu/aperitif; its secret and
# restricted keys, sk_ and rk_, are judged); a release's checksum (matchbox_sha256sum) and a
# Tang server's thumbprint (thp): public by form, under a key that names no secret (the attack
# review: `STRIPE_SECRET_KEY: pk_live_…` and `db_password_sha256sum` passed)
_STRIPE_PUBLISHABLE = re.compile(r"^pk_(?:live|test)_[A-Za-z0-9]{24,110}$")
_CHECKSUM_KEY = re.compile(r"(?i)(?:^|[._-])(?:sha\d*|md5)sum$")
_THUMBPRINT_KEY = re.compile(r"(?i)(?:^|[._-])thp$")
# a hash of public data: a DNS TLSA record's certificate digest (octoDNS's
# certificate_association_data; sweep 87, vhaudiquet/homeprod), an SSHFP or DS record's, a
# certificate's or a key's fingerprint
_DIGEST_KEY = re.compile(r"(?i)(?:^|[._-])(?:certificate_association_data|fingerprint|digest)$")
_HEX_DIGEST = re.compile(r"^[0-9a-fA-F]{32,128}$")
_B64URL_DIGEST = re.compile(r"^[A-Za-z0-9_-]{27,86}$")
_NAMES_SECRET = re.compile(r"(?i)secret|passw|private|token|credential|auth")


def _public_by_key(key: str, value: str) -> bool:
    if _NAMES_SECRET.search(key):
        return False
    if _STRIPE_PUBLISHABLE.match(value):
        return True
    if (_CHECKSUM_KEY.search(key) or _DIGEST_KEY.search(key)) and _HEX_DIGEST.match(value):
        return True
    return bool(_THUMBPRINT_KEY.search(key) and _B64URL_DIGEST.match(value))


def _example(value: str) -> bool:
    """Example words (``changeme``, ``your-token``) or two characters repeated. In a URL with
    credentials only its passwords are judged: a real password at ``smtp.example.com`` is one."""
    if len(set(value)) <= 2 or value == _JWT_IO_SAMPLE or YOUR_WORDS.match(value):
        return True
    passwords = URL_PASSWORD.findall(value)
    if passwords:
        return all(_VARIABLE.match(pw) or _WORDS.search(pw) for pw in passwords)
    return bool(_WORDS.search(value))


def _no_password(user: str, password: str, scheme: str = "") -> bool:
    """A URL's ``user:password`` that holds no password: a variable (quoted or not:
    ``"${PG_PASSWORD}"``), the word itself (``user:password@host``), or a port after a host
    (Longhorn's ``s3://minio.lan:9000@us-east-1/bucket``: its s3 URLs alone are read so)."""
    password, user = password.strip("\"'"), user.strip("\"'")
    if _VARIABLE.match(password) or _STAND_IN_PASSWORD.match(password):
        return True
    if password.lower() in _KEPT_ELSEWHERE:
        # the password's place named in its stead (sweep 90, shamubernetes/home-k8s: a chart's
        # `postgresql://firecrawl:external-secret@…`, the real URL in an ExternalSecret)
        return True
    if password.lower() in _PASSWORD_WORDS and user.lower() in _USER_WORDS:
        return True  # the sample itself: user:password@host
    if scheme == "xiaomi" and user.isdigit() and password.lower() in _XIAOMI_REGIONS:
        return True  # go2rtc's xiaomi://USER_ID:REGION@host: the cloud region, not a password
    host = "." in user or user == "localhost" or bool(_HOST_VARIABLE.match(user))
    return scheme == "s3" and host and password.isdigit() and len(password) <= 5


_XIAOMI_REGIONS = frozenset(("cn", "de", "i2", "ru", "sg", "us"))


def _variable_passwords(value: str) -> bool:
    """Every ``user:password@`` in the URL(s) of ``value`` holds no password of its own."""
    found = list(_URL_USER_PASSWORD.finditer(value))
    if len(_URL_ANY_PASSWORD.findall(value)) > len(found):
        return False  # a password with a '/' in it, which the pattern above does not see
    return bool(found) and all(
        _no_password(m[2], m[3], m[1].lower()) or _stock_local(value, m.start()) for m in found
    )


# a stock login's word: a database's or a service's own name (postgres, root, mysql, admin)
_STOCK_WORD = re.compile(r"^[a-z]{2,16}$")
# a local host, and a port after it at most: this machine, or a name only a cluster's or a
# Compose project's DNS resolves (one label, `ryot-db`; `NAME.NAMESPACE.svc[.cluster.local]`)
_LOCAL_HOST = re.compile(
    r"^(?:localhost|127\.0\.0\.1|\[::1\]|[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?"
    r"|[a-z0-9-]{1,63}\.[a-z0-9-]{1,63}\.svc(?:\.cluster\.local)?)(?::[0-9]{1,5})?$",
    re.IGNORECASE,
)


def _stock_local(value: str, at: int) -> bool:
    """Whether the URL at ``at`` is a throwaway database's stock login on this machine or
    inside a cluster: one ``@`` in its own authority, a local host after it (and a port at
    most), and a password that is the user's name, a word of letters
    (``postgres://postgres:postgres@localhost``, a CI job's service container as GitHub's docs
    write it: sweep 54, jonpulsifer/infra, two errors that blocked the gate;
    ``…@ryot-db:5432``, the image's default beside its in-cluster Service: sweep 59,
    hmajid2301/k3s-config, an SM019 error). The attack reviews: ``tok:tok@localhost@remote``
    goes to the remote host; a token as both user and password is a token; a local URL vouched
    for the same login to a remote host beside it."""
    found = _URL_AUTHORITY.match(value, at)
    if found is None:
        return False
    authority = found[1].rstrip("\"'),;")
    if authority.count("@") != 1:
        return False
    userinfo, _, host = authority.partition("@")
    user, colon, password = userinfo.partition(":")
    return bool(
        colon
        and _LOCAL_HOST.match(host)
        and user == password
        and _STOCK_WORD.match(user)
        and not looks_like_token(user)
    )


# A GitHub token as GitHub issues them: `ghp_` (and gho_, ghu_, ghs_, ghr_) and 36 letters and
# digits, then no more; a fine-grained `github_pat_…`. The plugin's pattern has no end, so
# `ghp_` and 37 hex digits, symbiontik's README sample, was an error (sweep 27)
_GITHUB_TOKEN = re.compile(r"gh[pousr]_[A-Za-z0-9]{36}(?![A-Za-z0-9])|github_pat_\w{22,}")
# a fine-grained token, which detect-secrets' plugin does not know (sweep 49: one in a shell
# script or a Terraform description had no finding, in a ConfigMap an entropy warning)
_GITHUB_FINE = re.compile(
    r"(?<![A-Za-z0-9_])github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59}(?![A-Za-z0-9])"
)


# JFrog's API key (AKCp and 69 more) and encrypted password (AP, a hex digit, some 60 more):
# detect-secrets takes AP and 9 characters, so `alertname: APCUPS5MinutesRemain` (an
# Alertmanager route's matcher, sweep 68, astrateam-net/astranova) blocked check; 32 or more
# characters with a digit, as JFrog writes them
_ARTIFACTORY = re.compile(
    r"(?:^|[\s=:\"'])(?=(?:AKC|AP[0-9A-F])[a-zA-Z]*[0-9])(?:AKC[a-zA-Z0-9]{29,}|AP[0-9A-F][a-zA-Z0-9]{29,})"
)


_AWS_KEY_ID = re.compile(r"(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)([A-Z0-9]{16})")
_TYPED_ROWS = ("QWERTYUIOPASDFGHJKLZXCVBNM", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "0123456789")


def _typed_aws_ids(text: str) -> bool:
    """Whether every AWS key id in ``text`` holds eight characters in a row of the keyboard or
    of the alphabet: typed for a test, never issued (sweep 77, devantler-tech/platform: AKIA
    and the keyboard's top row, a canary file for a secret scanner's test, was an error)."""
    bodies = [m[1] for m in _AWS_KEY_ID.finditer(text)]
    return bool(bodies) and all(
        any(body[i : i + 8] in row for row in _TYPED_ROWS for i in range(len(body) - 7))
        for body in bodies
    )


# a Matrix homeserver's or bridge's signing key as Synapse writes its `.signing.key` file and
# mautrix bridges take it in config (`server_key: ed25519 <id> <base64 of 32 bytes>`): the
# private half; the public one is written `ed25519:<id>` (sweep 85, wrmilling/k3s-gitops: a
# bridge's key in a plain Secret of substituted credentials had no finding)
_MATRIX_SIGNING_KEY = re.compile(
    r"(?<![\w:])ed25519 [A-Za-z0-9_]{1,32} ([A-Za-z0-9+/]{43}=?)(?![A-Za-z0-9+/=])"
)


def _matrix_signing_key(text: str) -> bool:
    """Whether ``text`` holds a Matrix signing key's private half (see above)."""
    for found in _MATRIX_SIGNING_KEY.finditer(text):
        try:
            if len(base64.b64decode(found[1].rstrip("=") + "=", validate=True)) == 32:
                return True
        except (ValueError, binascii.Error):
            continue
    return False


# an HTTP Authorization header's basic credentials: ``Basic`` and base64 of ``user:password``
_BASIC_HEADER = re.compile(
    r"(?<![A-Za-z0-9])[Bb]asic[ \t]+([A-Za-z0-9+/]{8,}={0,2})(?![A-Za-z0-9+/=])"
)


def _basic_header(text: str) -> bool:
    """Whether ``text`` holds ``Basic <base64 of user:password>`` with a password that is no
    stand-in (sweep 80, emerconn/fleet-infra: OpenObserve's tracing header passed)."""
    for found in _BASIC_HEADER.finditer(text):
        try:
            decoded = base64.b64decode(found[1], validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            continue
        user, colon, password = decoded.partition(":")
        if (
            colon
            and user
            and decoded.isprintable()
            and len(password) >= 3
            and not is_placeholder(password)
        ):
            return True
    return False


# SQL that gives a login its password (sweep 80, rohits-dev: an init script in a ConfigMap
# created two MySQL users with their passwords and had no finding): a statement that makes or
# changes a login (``CREATE [OR REPLACE] USER|ROLE|LOGIN``, ``ALTER …``, MySQL 5's ``GRANT …
# IDENTIFIED BY``, ``SET PASSWORD``), up to its ``;``, and in it each literal after
# ``IDENTIFIED [WITH plugin] BY``, ``PASSWORD``, ``PASSWORD =`` or ``PASSWORD(``: quoted
# ('…' with '' inside, E'…', "…") or dollar-quoted ($$…$$, $tag$…$tag$)
# where such a statement may be: its first words, or the words that give a password
SQL_LOGIN = re.compile(
    r"(?i)\b(?:(?:CREATE|ALTER)\s+(?:OR\s+REPLACE\s+)?(?:USER|ROLE|LOGIN)|IDENTIFIED\s+(?:BY|WITH)"
    r"|SET\s+PASSWORD)\b"
)
_SQL_STATEMENT = re.compile(
    r"(?is)\b(?:(?:CREATE|ALTER)\s+(?:OR\s+REPLACE\s+)?(?:USER|ROLE|LOGIN)|GRANT|SET\s+PASSWORD)\b"
    r"(?:[^;'\"$]|'(?:[^'\n]|'')*'|\"[^\"\n]*\"|\$(?!\w*\$)|\$(\w*)\$.{0,256}?\$\1\$){0,4000}"
)
_SQL_SECRET = re.compile(
    r"(?is)(?:\bIDENTIFIED\s+(?:WITH\s+['\"`]?[\w-]+['\"`]?\s+)?BY(?:\s+PASSWORD)?"
    r"|\bSET\s+PASSWORD\b(?:\s+FOR\b[^=;]{1,300})?\s*=|\bPASSWORD)"
    r"\s*(?:=\s*)?(?:PASSWORD\s*)?(?:\(\s*)?"
    r"(?:E?'(?P<single>(?:[^'\n]|''){1,256})'|\"(?P<double>[^\"\n]{1,256})\""
    r"|\$(?P<tag>\w*)\$(?P<dollar>.{1,256}?)\$(?P=tag)\$)"
)
# the names a statement gives logins: after USER/ROLE/LOGIN (IF NOT EXISTS), TO, or a comma,
# quoted or not, before an optional @'host'
_SQL_NAME = re.compile(
    r"(?is)(?:\b(?:USER|ROLE|LOGIN)\s+(?:IF\s+(?:NOT\s+)?EXISTS\s+)?|\bTO\s+|,\s*|\bFOR\s+)"
    r"['\"`]?([\w.-]+)['\"`]?"
)
# what such a statement may hold that is no password: a hash of one (PostgreSQL's md5… and
# SCRAM-SHA-256$…, MySQL's *<40 hex>) and a variable of the client or the shell around it
_SQL_HASH = re.compile(r"(?i)^(?:md5[0-9a-f]{32}|SCRAM-SHA-256\$\S+|\*[0-9a-f]{40})$")
# a database image's stock login, as its own default password (the regression over clones:
# ZeroNull7/home-k8s's `ALTER USER cotoami WITH PASSWORD 'postgres'`, a keyword warning before)
_SQL_STOCK = frozenset(("postgres", "mysql", "mariadb", "root", "admin"))
_SQL_COMMENT = re.compile(r"(?m)^[ \t]*(?:--|#).*$")


def sql_password_in(text: str) -> bool:
    """Whether ``text`` holds SQL that sets a login's password to a literal of its own: no
    hash, variable, template or stand-in, nor the login's own name (a throwaway database's
    stock login: ZeiZel/self-hosted's `CREATE USER coder … PASSWORD 'coder'`). Lines that are
    whole comments (``--``, ``#``) are no statement."""
    lowered = text.lower()
    if "identified" not in lowered and "password" not in lowered:
        return False
    for statement in _SQL_STATEMENT.finditer(_SQL_COMMENT.sub("", text)):
        body = statement[0]
        names = {name.lower() for name in _SQL_NAME.findall(body)}
        for found in _SQL_SECRET.finditer(body):
            password = found["single"] or found["double"] or found["dollar"] or ""
            password = password.replace("''", "'") if found["single"] else password
            if (
                len(password) < 3
                or password.lower() in names
                or password.lower() in _SQL_STOCK
                or _SQL_HASH.match(password)
                or "$" in password
                or "%" in password
                or password == "?"
                or is_placeholder(password)
                or example_stand_in(password)
                or _STAND_IN_PASSWORD.match(password)
            ):
                continue
            return True
    return False


# A Discord webhook's URL, the token after its id (68 characters as Discord issues them)
_DISCORD_WEBHOOK = re.compile(
    r"discord(?:app)?\.com/api/(?:v\d+/)?webhooks/\d{16,20}/[A-Za-z0-9_-]{60,}"
)
# A Microsoft Teams incoming webhook (Office 365 connector): the URL is the credential, its
# 32 hex digits after IncomingWebhook/ the secret (the fourth attack review of the gate: one in
# a Flux Provider's address passed)
_TEAMS_WEBHOOK = re.compile(
    r"(?:\.webhook\.office\.com/webhookb2/|outlook\.office(?:365)?\.com/webhook/)"
    r"[0-9a-fA-F-]{36}@[0-9a-fA-F-]{36}/IncomingWebhook/"
    r"[0-9a-fA-F]{32}/"
)
# A Google OAuth access token (``ya29.…``) or refresh token (``1//0…``), as rclone's Google
# Drive remote keeps both in its ``token = {json}`` line (the second attack review of sweep 87)
_GOOGLE_OAUTH = re.compile(
    r"(?<![A-Za-z0-9_-])(?:ya29\.[A-Za-z0-9_-]{30,}|1//0[A-Za-z0-9_-]{40,})(?![A-Za-z0-9_-])"
)
# An OpenAI API key: its secret part holds the base64 of "OpenAI" (``T3BlbkFJ``), in the legacy
# keys and the project, service-account and admin ones
_OPENAI_KEY = re.compile(
    r"(?<![A-Za-z0-9])sk-(?:(?:proj|svcacct|admin)-)?[A-Za-z0-9_-]{16,}T3BlbkFJ[A-Za-z0-9_-]{16,}"
)


def _known_format(text: str, value: str, *, sql: bool = True) -> Verdict | None:
    """The known-format plugin that matches ``text`` (``value`` with its variables taken out),
    except basic auth whose passwords are all variables."""
    if nkey_seed_in(text):  # first: its base32 may spell an AWS key id by chance
        return Verdict("NATS NKey Seed", True)
    if _basic_header(text):
        return Verdict("HTTP Basic Authorization", True)
    if "ed25519 " in text and _matrix_signing_key(text):
        return Verdict("Matrix Signing Key", True)
    if sql and sql_password_in(text):
        return Verdict("SQL Password", True)
    # formats detect-secrets does not know (sweep 87's gate corpus: a Discord webhook in an
    # alerting ConfigMap and an OpenAI project key passed, or were keyword warnings)
    if "/webhooks/" in text and _DISCORD_WEBHOOK.search(text):
        return Verdict("Discord Webhook", True)
    if "IncomingWebhook/" in text and _TEAMS_WEBHOOK.search(text):
        return Verdict("Microsoft Teams Webhook", True)
    if "T3BlbkFJ" in text and _OPENAI_KEY.search(text):
        return Verdict("OpenAI API Key", True)
    if ("ya29." in text or "1//0" in text) and _GOOGLE_OAUTH.search(text):
        return Verdict("Google OAuth Token", True)
    for plugin in _plugins()[0]:
        try:
            if any(True for _ in plugin.analyze_string(text)):
                if plugin.secret_type == "Basic Auth Credentials" and _variable_passwords(value):
                    continue
                if (
                    plugin.secret_type == "Private Key"
                    and "-----BEGIN" in text
                    and not PRIVATE_KEY_BLOCK.search(text)
                ):
                    continue  # a PEM header alone: a script that writes one, not a key
                if (
                    plugin.secret_type == "AWS Access Key"
                    and _typed_aws_ids(text)
                    and not any(True for _ in plugin.analyze_string(_AWS_KEY_ID.sub("", text)))
                ):
                    # a key id typed for a test, not issued (see _typed_aws_ids), and nothing
                    # else the detector finds (a secret access key beside it: the review)
                    continue
                if plugin.secret_type == "GitHub Token" and not _GITHUB_TOKEN.search(text):
                    continue  # longer than any GitHub token: an invented sample (see below)
                if plugin.secret_type == "JSON Web Token" and _public_jwts_only(text):
                    continue  # Supabase's anon key inside a Kong config's text (sweep 65)
                if plugin.secret_type == "Artifactory Credentials" and not _ARTIFACTORY.search(
                    text
                ):
                    continue  # a short word run after AP (an alert's name: sweep 68)
                return Verdict(plugin.secret_type, True)
        except Exception:
            continue
    bare = _PASSWORD_ONLY_URL.findall(text)  # the user may be a variable taken out of text
    if any(not _no_password("", pw) for pw in bare) and not _variable_passwords(value):
        return Verdict("Basic Auth Credentials", True)
    if "github_pat_" in text and _GITHUB_FINE.search(text):
        return Verdict("GitHub Token", True)
    if _GOOGLE_API_KEY.search(text):
        return Verdict("Google API Key", True)
    if _VAULT_TOKEN.search(text):
        return Verdict("HashiCorp Vault Token", True)
    if tunnel_secret_in(text):
        return Verdict("Cloudflare Tunnel Secret", True)
    if "K10" in text and _K3S_TOKEN.search(text):
        return Verdict("K3s Join Token", True)
    if "tskey-" in text and _TAILSCALE_KEY.search(text):
        return Verdict("Tailscale Key", True)
    service = _prefixed_token(text)
    if service is not None:
        return Verdict(service, True)
    azure = _AZURE_ACCESS_KEY.search(text) if "AccessKey" in text else None
    if azure is not None and len(set(azure["key"].rstrip("="))) > 4:  # a key of zeros: a stand-in
        return Verdict("Azure Shared Access Key", True)
    if _encoded_private_key(text):
        return Verdict("Private Key", True)
    if "://" in text and ("?" in text or "#" in text):
        for found in QUERY_SECRET.finditer(text):
            given = unquote(found[1])
            if _PUBLISHABLE.match(given):
                continue  # a token made for browser code (sweep 87, bo0tzz/kube: a map's)
            if looks_like_token(given) and not has_template(given) and not _example(given):
                return Verdict("URL Query Credential", True)
    return None


# A token its issuer makes for browser code, public by design: a Mapbox public token (``pk.``
# and a base64url payload and signature; its secret ones start ``sk.``) and a Stripe
# publishable key
_PUBLISHABLE = re.compile(
    r"^(?:pk\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}|pk_(?:live|test)_[A-Za-z0-9]{24,110})$"
)

_JSON_OBJECT = re.compile(r'^\{\s*"')

# The whole of a value in base64, line breaks allowed (``base64`` wraps at 76 characters)
_BASE64_WHOLE = re.compile(r"[A-Za-z0-9+/\r\n]{40,}={0,2}")


def _decoded_text(text: str) -> str | None:
    """``text`` base64-decoded, when all of it is base64 of readable UTF-8, with a JSON string's
    ``\\n`` escapes as line breaks: a Google service account's JSON key, a kubeconfig or a
    ``.dockerconfigjson`` pasted encoded into a Helm value or a ConfigMap passed as a mere
    high-entropy string (a warning), whatever it held."""
    stripped = text.strip()
    if len(stripped) < 40 or not _BASE64_WHOLE.fullmatch(stripped):
        return None
    data = "".join(stripped.split())
    try:
        decoded = base64.b64decode(data + "=" * (-len(data) % 4), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    if not decoded.replace("\n", "").replace("\r", "").replace("\t", "").isprintable():
        return None
    return decoded.replace("\\n", "\n")


def _encoded_private_key(text: str) -> bool:
    """A base64-encoded PEM private key with key material (a kubeconfig's
    ``client-key-data``, a ``tls.key`` copied out of a Secret), anywhere in ``text``: a text
    holding several (a manifest inlined in a Talos config) is judged by each, not by its first
    (sweep 89, chrede88/home-ops: a certificate above a key in one hid the key)."""
    for found in _BASE64_PEM.finditer(text):
        data = "".join(found.group(0).split())
        try:
            decoded = base64.b64decode(data[: len(data) - len(data) % 4])
        except (binascii.Error, ValueError):
            continue
        if PRIVATE_KEY_BLOCK.search(decoded.decode("ascii", "replace")) is not None:
            return True
    return False


_REGISTRY_USER = re.compile(r"[\w.@+$-]{1,256}")


def _registry_auth(key: str, value: str) -> Verdict | None:
    """A registry login as a Docker ``config.json`` (a ``.dockerconfigjson``) keeps it under
    ``auths.<registry>.auth``: base64 of ``user:password`` (the attack review of sweep 93: a
    committed `.docker/config.json` got no finding at all; only one a secretGenerator reads
    was reported)."""
    if key != "auth" or len(value) < 8 or not _B64_TEXT.fullmatch(value):
        return None
    try:
        text = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    user, colon, password = text.partition(":")
    if not colon or not _REGISTRY_USER.fullmatch(user) or not password.isprintable():
        return None
    if len(password) < 4 or is_placeholder(password) or _no_password(user, password):
        return None
    return Verdict("Registry Login (auth: base64 of user:password)", True)


def _bootstrap_verdict(key: str, text: str) -> Verdict | None:
    return Verdict("Kubernetes Bootstrap Token", True) if _bootstrap_token(key, text) else None


def names_secret_key(key_path: str, value: str) -> bool:
    """Whether ``value`` is a ``<secret>/<key>`` reference in a map under a field that names a
    Secret (``envFromSecret.RELAY_PASSWORD: netbird/relayPassword``), not a credential."""
    parent = key_path.rpartition(".")[0].rpartition(".")[2]
    return bool(_SECRET_FIELD.search(parent)) and _SECRET_KEY_REF.match(value.strip()) is not None


# Terraform's state, JSON: every attribute of every resource it manages, secrets among them;
# its backups (``terraform state mv`` names one ``.tfstate.<time>.backup``) and a JSON copy
# (``terraform show -json``, ``prod.tfstate.json``; the review)
_TFSTATE = re.compile(r"(?i)\.tfstate(?:\.\d+)?(?:\.backup|\.json)?$")


def is_terraform_state(path: str) -> bool:
    """Whether ``path`` names a Terraform (OpenTofu) state, a backup or a JSON copy of one."""
    return _TFSTATE.search(path.rsplit("/", 1)[-1]) is not None


def is_lock_file(path: str) -> bool:
    """Whether ``path`` is a dependency lock file (``flake.lock``, ``jsonnetfile.lock.json``)."""
    name = path.rsplit("/", 1)[-1]
    return name in _LOCK_NAMES or name.endswith(".lock.json")  # jsonnetfile.lock.json


# Ansible Vault's envelope: its header line, then hex only (anything else beside it is judged)
_ANSIBLE_VAULT = re.compile(r"^\$ANSIBLE_VAULT;1\.[12];AES256(?:;[\w.-]+)?\s*\n[0-9a-fA-F\s]+$")


def _base64_template(value: str) -> bool:
    """Whether ``value`` is base64 of readable text with ``{{ … }}`` fields and nothing secret
    in it: a payload or message template an application stores encoded (sweep 20,
    JefeDavis/k8s-HomeOps: Overseerr's default webhook JSON was a high-entropy warning)."""
    if len(value) < 40 or not _B64_TEXT.fullmatch(value):
        return False
    try:
        text = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return False
    if "{{" not in text or not text.replace("\n", "").replace("\t", "").isprintable():
        return False
    stripped = strip_templates(text)
    return _known_format(stripped, stripped) is None and not URL_PASSWORD.search(stripped)


_B64_TEXT = re.compile(r"[A-Za-z0-9+/]+={0,2}")


# What base64 of a value shows public once decoded (sweep 46, Philip-Mitchell-721/zidlab: a
# SAML identity provider's certificate in DER, `MII…`, was a likely credential; so was base64 of
# a repository's URL or of a sentence): a URL with no user, query or fragment, and no path
# segment a token could be (a webhook's: the attack review); a sentence with a capital or
# punctuation, not a run of lower-case words (a mnemonic or passphrase)
_PUBLIC_URL = re.compile(r"[a-z][a-z0-9+.-]*://[^\s@?#]+")
_TOKEN_SEGMENT = re.compile(r"/(?=[^/]*\d)[^/]{20,}")
_SENTENCE = re.compile(r"[A-Z,.!?;]")
# a key that may name a secret, more widely than detect-secrets' keyword list does
# a key naming a TLS Secret by its certificate's words (``CERT_SECRET_EXTERNAL``)
_TLS_SECRET_KEY = re.compile(r"(?i)(?:^|[._-])(?:cert|certificate|tls)(?:[._-]|$)")
_PASSWORD_OR_KEY = re.compile(r"(?i)pass|pwd|token|(?:^|[._-])keys?(?:[._-]|$)")
_SECRET_NAME_KEY = re.compile(
    r"(?i)pass|secret|token|key|cred|auth|seed|mnemonic|phrase|psk|pin|priv|cert|sign|salt|hash"
)
_PROSE = re.compile(r"[A-Za-z][A-Za-z ,.;'!?()-]{19,}")


def _der_private_key(value: str) -> Verdict | None:
    """A private key in base64 DER with no PEM armour (``MII…``: a Java or SAML application's
    ``privateKey``), protected by a passphrase or not."""
    # a DER SEQUENCE (0x30) starts `M`; an Ed25519 key in PKCS#8 is 64 characters
    if not value.startswith("M") or len(value) < 64 or not _B64_TEXT.fullmatch(value):
        return None
    from secretsmgr.keys.pem import der_is_private_key

    try:
        der = base64.b64decode(value, validate=True)
    except ValueError:  # binascii.Error
        return None
    if not der_is_private_key(der):
        return None
    return Verdict("Private Key (base64 DER)", True)


def _base64_public(key: str, value: str) -> bool:
    if value.startswith("M") and len(value) >= 64 and _B64_TEXT.fullmatch(value):
        from secretsmgr.keys.pem import der_is_public

        try:
            return der_is_public(base64.b64decode(value, validate=True))
        except ValueError:  # binascii.Error
            return False
    decoded = _decoded_text(value)
    if decoded is None:
        return False
    text = decoded.strip()
    if ssh_public_keys(text):
        return True  # the repository's own reader of key lines: the blob must be the key
    if _SECRET_NAME_KEY.search(key):
        return False  # a passphrase of words, a webhook's URL: still a likely credential
    if _PROSE.fullmatch(text):
        return text.count(" ") >= 3 and _SENTENCE.search(text) is not None
    return bool(_PUBLIC_URL.fullmatch(text)) and not _TOKEN_SEGMENT.search(text.split("://")[1])


# A key that is a password and nothing else (``password``, ``adminPassword``, ``DB_PASS``):
# four or five characters there are still a password, a weak one (sweep 41: Grafana's
# ``adminPassword`` of five letters behind a public ingress passed unreported); elsewhere values
# that short are switches and names
_PASSWORD_KEY = re.compile(r"(?i)(?:^|[._-])(?:pass(?:word|wd|phrase)?|pwd)$")


# stand-ins, and modes a password setting takes (``password: auto``, ``file``, ``vault``: the
# review)
_SHORT_STAND_IN = frozenset(
    (
        *("pass", "pwd", "unset", "blank", "empty", "auto", "file", "vault", "env", "ldap"),
        *("oidc", "sso", "local", "basic", "plain", "hash", "none", "fake"),
    )
)


def _short_password(key: str, value: str) -> bool:
    if len(value) < 4 or " " in value or value.lower() in _SHORT_STAND_IN:
        return False
    return _PASSWORD_KEY.search(split_camel(key)) is not None


# a JWT standing alone among a config's words (not glued to other text: `x-eyJ…` is judged)
_JWT_ANY = re.compile(
    r"(?<![A-Za-z0-9_.-])eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+(?![A-Za-z0-9_.-])"
)


_JWT_START = re.compile(r"eyJ[A-Za-z0-9_-]+\.eyJ")


def _public_jwts_only(text: str) -> bool:
    """Whether every JWT in ``text`` is one made to be public (a line of a config that holds
    Supabase's anon key: sweep 65, ZeiZel/self-hosted's `kong.yml`)."""
    found = _JWT_ANY.findall(text)
    glued = len(_JWT_START.findall(text)) != len(found)
    return bool(found) and not glued and all(public_jwt(token) for token in found)


def public_jwt(value: str) -> bool:
    """Whether ``value`` is, whole, a JWT made to be public (``jwts``) that holds no known
    format in its claims."""
    text = public_jwt_text(value)
    return text is not None and _known_format(text, text) is None


# What a committed Secret holds that is a setting by its key and form, so no exposure in
# history (sweep 61): a switch, a port or a count, a log level, a host, a user name of letters,
# an address with no credential or token in it. Only these forms (the attack review: "any
# value under *_USER, *_NAME or *_URL that judge_value misses" passed `Tr0ub4dor&3horse`,
# ntfy topics and Discord webhooks).
_SWITCH_WORDS = frozenset(
    ("true", "false", "yes", "no", "on", "off", "enabled", "disabled", "none", "auto", "default")
)
_LOG_LEVELS = frozenset(("trace", "debug", "info", "warn", "warning", "error", "fatal", "critical"))
_NUMBER_KEY = re.compile(
    r"(?i)(?:^|[._-])(?:port|port[._-]?number|timeout|ttl|interval|retries|retry|size|count|"
    r"limit|max|min|workers|threads|replicas|days|hours|minutes|seconds)$"
)
_LEVEL_KEY = re.compile(r"(?i)(?:^|[._-])(?:log_?level|level|verbosity)$")
_HOST_KEY = re.compile(
    r"(?i)(?:^|[._-])(?:host(?:name)?|server|endpoint|address|addr|domain|brokers?|"
    r"bootstrap[._-]?servers)$"
)
_USER_KEY = re.compile(r"(?i)(?:^|[._-])(?:user(?:name)?|login|db_?user|owner|client[_-]?id)$")
_NAME_KEY = re.compile(
    r"(?i)(?:^|[._-])(?:database|db|(?:db|database)[._-]?name|schema|bucket|region|zone)$"
)
# a person's, a site's or a table's name, as an app's setup Secret holds them (sweep 79,
# dfroberg/cluster: a WordPress Secret's first and last name, blog name and table prefix were
# SM019 errors whose fix regenerated them)
_PERSON_KEY = re.compile(
    r"(?i)(?:^|[._-])(?:first|last|full|display|nick|blog|site|app)[._-]?name$"
)
_PERSON_NAME = re.compile(r"^[A-Z]?[a-z]{1,31}(?: [A-Z]?[a-z]{1,31}){0,3}$")
_PREFIX_KEY = re.compile(r"(?i)(?:^|[._-])(?:table[._-]?)?prefix$")
_PREFIX_VALUE = re.compile(r"^[a-z][a-z0-9]{0,11}_?$|^[a-z]{1,8}_[a-z0-9]{1,12}_?$")
# a switch's key (`ALLOW_EMPTY_PASSWORD: "no"`): on or off, whatever it names
_SWITCH_KEY = re.compile(
    r"(?i)(?:^|[._-])(?:allow|enable|enabled|disable|disabled|use|require|required|skip)(?:[._-]|$)"
)
_ADDRESS_KEY = re.compile(r"(?i)(?:^|[._-])(?:url|uri|endpoint|repository|repo|address|addr)$")
_DOTTED_HOST = re.compile(
    r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+"
    r"(?::[0-9]{1,5})?$"
)
_ONE_LABEL = re.compile(r"^[a-z](?:[a-z-]{0,30}[a-z])?(?::[0-9]{1,5})?$")
_LETTERS_NAME = re.compile(r"^[a-z][a-z._-]{0,31}$")
_PLAIN_ADDRESS = re.compile(
    r"^(?:[a-z][a-z0-9+.-]*:)?[a-z][a-z0-9+.-]*://(?P<host>[a-z0-9.-]+(?::[0-9]{1,5})?)"
    r"(?P<path>(?:/[a-z0-9._-]*)*)$"
)


# five consonants in a row: random letters have them, names and words almost never (the
# attack review: `qzmvkrwptlxhfjd` passed as a host, a token as a subdomain)
_CONSONANT_RUN = re.compile(r"(?i)[bcdfghjklmnpqrstvwxz]{5}")


def _plain_host(text: str) -> bool:
    host = text.rpartition(":")[0] if ":" in text else text
    labels = host.split(".")
    if any(len(label) > 20 or label.count("-") > 2 for label in labels):
        return False
    if _CONSONANT_RUN.search(host):
        return False
    return bool(_DOTTED_HOST.match(text) or _ONE_LABEL.match(text))


# a path segment of an address under a URL key: an API's (`api`, `v1`); under a repository key
# (restic's `rest:http://nas:8888/jellyfin`) a plain name too; any other may be a secret
# topic or a webhook's id (the attack review: ntfy topics of words passed)
_API_SEGMENT = re.compile(r"^(?:|api|v\d{1,2})$")
_NAME_SEGMENT = re.compile(r"^[a-z][a-z0-9]{0,15}$")
_REPOSITORY_KEY = re.compile(r"(?i)(?:^|[._-])(?:repository|repo)$")
# what a setting's key may not name (wider than a password: `KEY_USER: letmein`)
_SECRETISH_KEY = re.compile(
    r"(?i)(?:^|[._-])(?:pass\w*|pwd|secrets?|tokens?|keys?|auth|cred\w*|private|api\w*|"
    r"cookies?|sessions?)(?:[._-]|$)"
)


# sweep 67 (yyewolf/infra, YoungFlores/casego-gitops: ten SM019 errors on settings): a version
# under a key ending in version (even beside api: ``OS_IDENTITY_API_VERSION: "3"``); a word
# under a key naming a kind of thing (``DB_TYPE: mariadb``); a region's name (``US``,
# ``eu-west-1``); a mail address of plain words under a user's or a sender's key, also after a
# display name (``MAIL_FROM: CaseGo <noreply@casego.example>``); a value that only spells out
# its key (a sample's ``OS_USERNAME: "Username"``, ``OS_TENANT_NAME: "Open Stack Tenant
# Name"``); a plain address with an API's path under an auth's URL key
# (``OS_AUTH_URL: https://keystone.example.com/v3``)
_VERSION_KEY = re.compile(r"(?i)(?:^|[._-])version$")
_VERSION = re.compile(r"^v?[0-9]{1,4}(?:\.[0-9]{1,4}){0,3}$")
_KIND_KEY = re.compile(
    r"(?i)(?:^|[._-])(?:type|kind|driver|engine|dialect|provider|backend|protocol|scheme|"
    r"format|mode|extension|mechanism)$"
)
# a database extension's name: words joined by `_` (pg_stat_statements, postgis_topology)
_EXTENSION_KEY = re.compile(r"(?i)(?:^|[._-])extensions?$")
_EXTENSION_NAME = re.compile(r"^[a-z][a-z0-9]{1,15}(?:_[a-z][a-z0-9]{1,15}){0,3}$")
# what a protocol or an authentication mechanism is called, whatever its consonants (sweep 80,
# zacheryph/k8s-gitops: `protocol: https` and Kafka's `sasl.mechanism: SCRAM-SHA-512` beside
# substituted credentials were SM001 and SM019 errors)
_PROTOCOL_NAMES = frozenset(
    (
        *("http", "https", "tcp", "udp", "grpc", "grpcs", "ws", "wss", "ssl", "tls", "mtls"),
        *("smtp", "smtps", "starttls", "imap", "imaps", "ldap", "ldaps", "ftp", "sftp", "ssh"),
        *("plaintext", "sasl_plaintext", "sasl_ssl", "plain", "gssapi", "oauthbearer"),
        *("scram-sha-256", "scram-sha-512", "aws_msk_iam", "basic", "bearer", "digest", "ntlm"),
    )
)
# a kind's name: a word or two, never a weak password (``letmein``) or a passphrase of three
# words or more (the attack review: ``correct-horse-battery`` under ENCRYPTION_MODE)
_KIND_WORD = re.compile(r"^[a-z]{2,16}(?:[_-][a-z]{2,16})?$")
_REGION_KEY = re.compile(
    r"(?i)(?:^|[._-])(?:region|zone|location|country(?:[._-]?code)?)(?:[._-]name)?$"
)
# a cloud's region by its own shape (the attack review: any word and digits passed, `hunter42`):
# AWS's and GCP's (us-east-1, eu-central-1a, europe-west1, northamerica-northeast1), a
# datacenter's code (fra1, nyc3), two or three capitals (US, EU), OpenStack's RegionOne,
# Azure's (westeurope, eastus2, uksouth, germanywestcentral), auto and global
_PLACE = (
    r"(?:us|eu|ap|sa|ca|me|af|il|mx|cn|uk|in|jp|kr|au|br|europe|asia|australia|africa|"
    r"northamerica|southamerica|me|france|germany|japan|india|canada|brazil|korea|uae|norway|"
    r"switzerland|sweden|poland|italy|qatar|israel|spain|mexico|chile|taiwan|indonesia)"
)
_DIRECTION = r"(?:east|west|north|south|central|northeast|northwest|southeast|southwest)"
_REGION = re.compile(
    rf"^(?:{_PLACE}(?:-gov)?(?:-{_DIRECTION}){{1,2}}-?[0-9]{{1,2}}[a-z]?|[a-z]{{3}}[0-9]|"
    rf"[A-Z]{{2,3}}|RegionOne|auto|global|{_DIRECTION}?{_PLACE}{_DIRECTION}?(?:central)?[0-9]?)$"
)
_SENDER_KEY = re.compile(
    r"(?i)(?:^|[._-])(?:from|sender|reply[._-]?to|e?mail(?:[._-]?address)?|to|recipients?)$"
)
_DISPLAYED_ADDRESS = re.compile(r"^[A-Za-z][A-Za-z .'-]{0,63}<([^<>\s]+)>$")
_URL_KEY = re.compile(r"(?i)(?:^|[._-])(?:url|uri|endpoint)$")
# ... or a word of it, beside a word that says which (``INTERNAL_URL_DIRECT``)
_URL_WORD = re.compile(r"(?i)(?:^|[._-])(?:url|uri|endpoint)(?:[._-])")
# what an auth's URL key or a version's may name beside it (api, auth); never a password,
# token, key or secret
_NAMES_NO_SECRET = re.compile(
    r"(?i)^(?:(?!pass|pwd|secret|token|keys?(?:[._-]|$)|cred|private).)*$"
)


_NAMING_WORDS = frozenset(("user", "username", "name", "id", "login", "tenant", "project"))


def _spells_out(key: str, text: str) -> bool:
    """Whether ``text`` is ``key``'s last words written out (``Username`` under
    ``OS_USERNAME``), maybe after its first words' initials written out (``Open Stack Tenant
    Name`` under ``OS_TENANT_NAME``): what a sample puts in for a value."""
    words = [w for w in re.split(r"[._\s-]+", split_camel(key).lower()) if w]
    told = [w for w in re.split(r"[\s_-]+", text.lower()) if w]
    if not words or not told or not all(w.isalpha() for w in told) or names_sensitive(key):
        return False
    if len(told) < 2 and words[-1] not in _NAMING_WORDS:
        # one word equal to its key is a default password as often (the attack review:
        # `admin: admin`, `postgres: postgres`); under a user's or a name's key it is a sample's
        return False
    joined = "".join(told)
    if any("".join(words[i:]) == joined for i in range(len(words))):
        return True
    for i in range(1, len(words)):
        tail = words[i:]
        head = told[: len(told) - len(tail)]
        if (
            told[len(told) - len(tail) :] == tail
            and len(head) >= 2
            and "".join(w[0] for w in head) == "".join(words[:i])
        ):
            return True
    return False


_AUTH_WORD = re.compile(r"(?i)(?:^|[._-])(?:basic[._-])?auth(?=[._-])")


def _schemeless(part: str) -> str:
    """A broker's ``host:port`` without a protocol's name before it (``SASL_SSL://``)."""
    scheme, sep, rest = part.strip().partition("://")
    return rest if sep and scheme.lower() in _PROTOCOL_NAMES else part.strip()


def _user_name(key: str, text: str) -> bool:
    """Whether ``text`` under a key whose last word names a user is a user's name: letters,
    no dot, no run of consonants, and nothing a credential's judge flags."""
    if plain_mail_address(text):
        return True  # alerts@example.com (the attack review)
    return (
        _USER_NAME_WORDS.match(text.lower()) is not None
        and not _CONSONANT_RUN.search(text)
        and judge_value(key, text) is None
        and not looks_like_token(text)
        and not is_weak_password(text)
    )


# a user's name: a word, or a few joined (`admin`, `Admin`, `john.doe`, `svc-backup`)
_USER_NAME_WORDS = re.compile(r"^[a-z]{2,16}(?:[._-][a-z]{2,16}){0,2}$")


def _named_setting(key: str, text: str) -> bool:
    """The settings of sweep 67 (see above) that a key naming no password may hold."""
    if _KIND_KEY.search(key) and text.lower() in _PROTOCOL_NAMES:
        return True
    if _KIND_KEY.search(key) and _KIND_WORD.match(text):
        return not (_CONSONANT_RUN.search(text) or is_weak_password(text))
    if _EXTENSION_KEY.search(key) and _EXTENSION_NAME.match(text):
        return not is_weak_password(text)  # PG_EXTENSION: pg_stat_statements (the review)
    if _REGION_KEY.search(key) and _REGION.match(text):
        return True
    if _USER_KEY.search(key) or _SENDER_KEY.search(key):
        shown = _DISPLAYED_ADDRESS.match(text) if _SENDER_KEY.search(key) else None
        address = shown[1] if shown is not None else text
        if plain_mail_address(address):
            return True
    return _spells_out(key, text)


_PATH_KEY = re.compile(
    r"(?i)(?:^|[._-])(?:path|dir|directory|folder|mount(?:point)?|cache|home)(?:[._-][a-z]+)?$"
)
_ABSOLUTE_PATH = re.compile(r"^/[A-Za-z0-9._-]+(?:/[A-Za-z0-9._-]+)*/?$")


_ID_KEY = re.compile(rf"(?i)(?:^|[._-])(?:{PUBLIC_ID_OF})[._-]?id$")
_UUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")


# A file system's mount options (``mount-options: nfsvers=3,nconnect=8,nolock,soft``): flags and
# short numbers or words, none naming a login (CIFS takes ``username=``/``password=`` there)
_MOUNT_KEYS = frozenset(("mountoptions", "mountoption", "mountopts", "options"))
_MOUNT_OPTION = re.compile(r"[a-z][a-z0-9_]{0,31}(?:=[A-Za-z0-9.:/_-]{1,32})?")
_MOUNT_LOGIN = re.compile(r"(?i)user|pass|pw|cred|domain|dom$|key|token|secret|auth|login|sig|sas")
# an option's value: a number, a version, a word of one case, a path or an address; a run of
# mixed case and digits is none (the review: `pw=Hunter2Secret`)
_MOUNT_VALUE = re.compile(r"[0-9.:]+|[a-z][a-z0-9_.-]*|[A-Z][A-Z0-9_]*|/[A-Za-z0-9._/-]*")


def _mount_options(key: str, value: str) -> bool:
    """Whether ``value`` under a mount-options key is a list of mount options and nothing else
    (sweep 94, DapperDivers/dapper-cluster: an NFS StorageClass's options in a Secret were an
    SM019 error in history, "change the value at its source")."""
    squashed = key.lower().replace("-", "").replace("_", "").replace(".", "")
    if squashed not in _MOUNT_KEYS or (squashed == "options" and "=" not in value):
        return False
    parts = [p.strip() for p in value.strip().strip("'\"").split(",")]
    return len(parts) >= 2 and all(
        _MOUNT_OPTION.fullmatch(p)
        and not _MOUNT_LOGIN.search(p.partition("=")[0])
        and (not p.partition("=")[2] or _MOUNT_VALUE.fullmatch(p.partition("=")[2]))
        for p in parts
    )


def plain_setting(key: str, value: object) -> bool:
    """Whether a Secret's value under ``key`` is a setting by its key and its form (see
    above): no credential to change when it was committed."""
    judged_as = setting_name(key, value)
    if judged_as is not None:
        return plain_setting(judged_as, value)
    if named_public_key(key, value):
        return True  # a public key: nothing to change when it was committed (Liana64)
    if _manager_place(key, value) and _MANAGER_KEY.match(key):
        # which vault or item a named secret manager holds it in (3nm1/home-ops); a bare
        # VAULT, ANSIBLE_VAULT or PASSWORD_ITEM may hold the password itself (the review)
        return True
    words = split_camel(key)
    if isinstance(value, str | int) and not isinstance(value, bool):
        text = str(value).strip()
        if _VERSION_KEY.search(words) and _VERSION.match(text) and _NAMES_NO_SECRET.match(words):
            return True  # a version, even beside api (never a password's or token's key)
        found = _PLAIN_ADDRESS.match(text) if isinstance(value, str) else None
        if (
            found is not None
            and _URL_KEY.search(words)
            and _NAMES_NO_SECRET.match(words)
            and _plain_host(found["host"])
            and all(_API_SEGMENT.match(part) for part in found["path"].split("/"))
            and not looks_like_token(text)
        ):
            return True  # an auth's or an API's address, with no path but an API's
    if _SWITCH_KEY.search(words) and str(value).strip().lower() in _SWITCH_WORDS:
        return True  # ALLOW_EMPTY_PASSWORD: "no"
    if isinstance(value, str) and _mount_options(key, value):
        return True
    if (
        _KIND_KEY.search(words)
        and isinstance(value, str)
        and value.strip().lower() in _PROTOCOL_NAMES
    ):
        return True  # AUTH_TYPE: basic, AUTH_MECHANISM: PLAIN (the attack review)
    unauth = _AUTH_WORD.sub("", words)
    if (
        _USER_KEY.search(words)
        and not (names_password(unauth) or _SECRETISH_KEY.search(unauth))
        and isinstance(value, str)
        and _user_name(key, value.strip())
    ):
        # BASIC_AUTH_USERNAME: admin names the user of an authentication (sweep 80,
        # zacheryph/k8s-gitops: an SM001 error beside a substituted password)
        return True
    if names_password(key) or _SECRETISH_KEY.search(words):
        return False
    if isinstance(value, bool):
        return True
    if isinstance(value, str) and _ID_KEY.search(words) and _UUID.fullmatch(value.strip()):
        # which one (a Cloudflare tunnel's, an account's): an identifier (sweep 87,
        # kilip/homelab-old: SM019 said to regenerate a tunnel's id)
        return True
    if isinstance(value, int):
        return _NUMBER_KEY.search(words) is not None and 0 <= value < 100_000
    if not isinstance(value, str) or "\n" in value.strip():
        return False
    text = value.strip()
    parts = [part.strip() for part in text.split(",")]
    if _HOST_KEY.search(words) and all(
        _schemeless(part) != part and _plain_host(_schemeless(part)) for part in parts
    ):
        return True  # brokers after a protocol's name (SASL_SSL://kafka:9093; the review)
    if not text or judge_value(key, text) is not None or looks_like_token(text):
        return False
    key = words
    lower = text.lower()
    if lower in _SWITCH_WORDS or network_address(text):
        return True  # a switch, or a network's address (`NAS: 10.0.0.20`, `LAN: 10.0.0.0/16`)
    if _PATH_KEY.search(key) and _ABSOLUTE_PATH.match(text) and not _MIXED_CASE_RUN.search(text):
        return True  # where something is mounted or kept (`NFS_PATH: /mnt/media`)
    if text.isdigit():
        return len(text) <= 5 and _NUMBER_KEY.search(key) is not None
    if _LEVEL_KEY.search(key):
        return lower in _LOG_LEVELS
    if _HOST_KEY.search(key) and all(_plain_host(_schemeless(part)) for part in text.split(",")):
        return True  # a host, or a list of them (KAFKA_BROKERS: SASL_SSL://redpanda:9093)
    if _named_setting(key, text):
        return True
    if _NAME_KEY.search(key) and _LETTERS_NAME.match(text):
        return "." not in text and not _CONSONANT_RUN.search(text)
    if _PERSON_KEY.search(key) and _PERSON_NAME.match(text):
        return not _CONSONANT_RUN.search(text)
    if _PREFIX_KEY.search(key) and _PREFIX_VALUE.match(text):
        return True
    found = _PLAIN_ADDRESS.match(text)
    if found is not None and not (_ADDRESS_KEY.search(key) or _HOST_KEY.search(key)):
        # under any other key, an address with no path at all (sweep 65, wty-andrew/homedium:
        # a Dex Secret's `issuer: https://dex.example.com` was an exposure)
        return found["path"] in ("", "/") and _plain_host(found["host"])
    if found is not None and _plain_host(found["host"]):  # under an address's key
        segment = _NAME_SEGMENT if _REPOSITORY_KEY.search(key) else _API_SEGMENT
        return all(
            _API_SEGMENT.match(part) or (segment.match(part) and not _CONSONANT_RUN.search(part))
            for part in found["path"].split("/")
        )
    return False


# A chart's stand-in that writes out its key, maybe after what it should be encoded as or whose it
# is: Harbor's ``accesskeysecret: accesskeysecret``, ``accountkey: base64encodedaccountkey``,
# ``secretkey: awssecretkey`` (sweep 71, ZeroNull7/home-k8s: two keyword warnings). As empty of
# a secret as ``password: password``; a digit or any other character after it is judged.
_KEY_AS_VALUE_PREFIX = re.compile(
    r"^(?:base64[-_]?(?:encoded)?[-_]?|encoded[-_]?|your[-_]?|my[-_]?|aws[-_]?)?"
)
_SEPARATORS = re.compile(r"[-_.]")
# one part of a path of words: a name of letters (digits after them, separators between), or a
# number (a project's); no random mix of capitals, small letters and digits
_PATH_WORD = re.compile(
    r"^(?:[A-Za-z][A-Za-z]*[0-9]{0,4}(?:[_.-](?:[A-Za-z]+[0-9]{0,4}|[0-9]{1,6}))*|[0-9]{1,20})$"
)
_CAMEL_PART = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+")
_VOWEL = re.compile(r"[aeiouyAEIOUY]")


def _camel_words(value: str) -> bool:
    """Whether ``value`` is a camelCase name of words: letters and digits only, and most of it
    in parts of three or more letters with a vowel (``deviceFamilyIsAMDAthlon64X2DualCore``;
    not a random run, whose parts are mostly a letter or two)."""
    if not value.isalnum() or not value[:1].islower() or len(value) > 80:
        return False
    worded = sum(
        len(part) for part in _CAMEL_PART.findall(value) if len(part) >= 3 and _VOWEL.search(part)
    )
    return worded * 10 >= len(value) * 6


def _word_path(value: str) -> bool:
    """Whether ``value`` is two or more parts between slashes, each a word or a number."""
    parts = value.strip("/").split("/")
    return len(parts) >= 2 and all(
        _PATH_WORD.match(part) and not _MIXED_CASE_RUN.search(part) for part in parts
    )


_MIXED_CASE_RUN = re.compile(
    r"(?=[A-Za-z0-9]*[a-z])(?=[A-Za-z0-9]*[A-Z])(?=[A-Za-z0-9]*\d)[A-Za-z0-9]{12,}"
)
_LOCALPART_KEY = re.compile(r"(?i)(?:^|[._-])localpart$")
# a URL's query parameter named for a credential, and its value: a webhook's shared secret
# (sweep 75, imerkle/home-ops: `…/alerts?secret=…` in an AlertmanagerConfig), an API key
# (`?key=`, a private feed's key), an Azure Functions key (`?code=`), ntfy's `?auth=`, and an
# Azure SAS signature (`sig=`, often valid for years). An S3 or GCS presigned URL's
# `X-Amz-Signature` is not one: it expires within a week of its `X-Amz-Date`.
QUERY_SECRET = re.compile(
    r"[?&#](?i:secret|token|password|passwd|pwd|api[_-]?key|apikey|access[_-]?token|"
    r"auth[_-]?token|client[_-]?secret|webhook[_-]?secret|key|code|auth|sig|access[_-]?key|"
    r"subscription[_-]?key|app[_-]?key)"
    r"=([^&#\s\"'<>]{12,512})"
)
# one ``name=value`` of a URL's query
_QUERY_PARAMETER = re.compile(r"[?&]([A-Za-z][A-Za-z0-9_.-]{0,63})=([^&#\s]{1,512})")
# ``NAME=value`` inside a longer value, NAME ending in a credential's word, after a space, a
# `?`, `&`, `;` or `,` (or a flag's dashes): judged as the value under NAME
_INLINE_HINT = re.compile(r"(?i)(?:passw|pwd[= ]|token[= ]|secret[= ]|api_?key[= ])")
# ... or a flag's value after a space (Valheim's `-password X`, a Source server's
# `+rcon_password X`: the second review of stop 54), never another flag
_FLAG_SETTING = re.compile(
    r"(?i)(?:^|\s)[-+]{1,2}((?:[A-Za-z][\w.-]{0,62})?(?:password|passwd|pwd|token|secret|"
    r"apikey|api_key))[ \t]+([^\s\"'+-][^\s\"']{3,511})"
)
_INLINE_SETTING = re.compile(
    r"(?i)(?:^|[\s?&;,])-{0,2}((?:[A-Za-z][\w.-]{0,62})?(?:password|passwd|pwd|token|secret|"
    r"apikey|api_key))=([^\s?&;,\"']{4,512})"
)


def _key_as_value(key: str, value: str) -> bool:
    # a chart writes these in small letters; capitals make a password of the words as often
    # (the attack review: `adminPassword: MyAdminPassword`), unless the value is the key itself
    if value != value.lower() and value != key:
        return False
    rest = _KEY_AS_VALUE_PREFIX.sub("", value.lower(), count=1)
    if not re.fullmatch(r"[a-z][a-z_.-]{5,63}", rest):
        return False
    bare_key = _SEPARATORS.sub("", key.lower())
    return len(bare_key) >= 6 and _SEPARATORS.sub("", rest) == bare_key


_PASSWORD_WORD = re.compile(r"(?i)(?:^|[._-])(?:pass|passwd|password|pwd)(?:[._-]|$)")


def _plain_url(key: str, value: str) -> bool:
    """Whether ``value`` is a service's address: a scheme, a host of no random label (and a
    port), and at most an API's path (``/api``, ``/v1``), under a key that names no password
    (the attack review of sweep 83: a token as the host, `/hunter2` as the path, and
    `DB_PASSWORD_URI: mysql://db/letmein` were warnings before, and stay so)."""
    found = _PLAIN_ADDRESS.match(value)
    if found is None or _PASSWORD_WORD.search(key):
        return False
    host = found["host"].rpartition(":")[0] or found["host"]
    return all(_API_SEGMENT.match(part) for part in found["path"].split("/")) and not any(
        looks_like_token(label) for label in re.split(r"[.-]", host) if label
    )


def _without_example(word: str) -> str:
    """``word`` of a text, or what of it holds no example: a sample (``AKIA…EXAMPLE``, jwt.io's
    token) or a URL at an example host is nothing; a URL elsewhere loses only the parts of its
    path that hold one (``https://ghp_…@github.com/example-org/charts``)."""
    scheme, sep, rest = word.partition("://")
    if not sep:
        sample = _WORDS.search(word) or word == _JWT_IO_SAMPLE or YOUR_WORDS.match(word)
        return "" if sample else word  # (not "two characters": `IF`, `OR` are SQL's words)
    if not _example(word):
        return word
    authority, slash, path = rest.partition("/")
    if _WORDS.search(authority):
        return ""
    kept = [p for p in path.split("/") if not _WORDS.search(p)] if slash else []
    return f"{scheme}://{authority}" + "".join(f"/{p}" for p in kept)


def known_in_lines(text: str) -> Verdict | None:
    """A known format in ``text`` beside example words, which take out only the words (or the
    parts of a URL between its slashes) that hold them: an example word in a comment or a
    name beside a token (``# TODO``, ``…/example-org/…``, a login called ``mastodon``) hides
    nothing, while a sample token (``AKIA…EXAMPLE``) or a URL's credentials at
    ``example.com`` stay samples (sweep 80, rohits-dev: an SQL script's ``insert`` lines made
    the whole script a stand-in; the attack review of sweep 83: a comment's TODO did so for
    its line). SQL passwords are judged in the whole text: each password is judged itself."""
    if sql_password_in(text):
        return Verdict("SQL Password", True)
    lines = [
        " ".join(filter(None, map(_without_example, line.split()))) for line in text.splitlines()
    ]
    kept = "\n".join(lines).strip()
    return _known_format(kept, kept, sql=False) if kept else None


def judge_value(key: str, value: str) -> Verdict | None:
    """Whether the value under ``key`` (the last key-path component) is a credential."""
    return _judge(key, value, 0)


def _decoded_verdict(key: str, value: str, depth: int) -> Verdict | None:
    """A known format in ``value`` base64-decoded, judged as the decoded text would be (its
    stand-ins stay stand-ins); base64 of base64 is decoded once more, and no further."""
    decoded = _decoded_text(value) if depth < 2 else None
    inner = _judge(key, decoded, depth + 1) if decoded is not None else None
    if inner is None or not inner.known:
        return None
    return Verdict(inner.kind if depth else f"{inner.kind} (base64)", True)


def _judge(key: str, value: str, depth: int) -> Verdict | None:
    # a tag of an application that resolves it as a reference (authentik's blueprint !KeyOf and
    # !Find, CloudFormation's !Ref): any other tag is dropped by kustomize, and the literal is
    # what gets deployed
    tagged = isinstance(value, TaggedStr) and value.tag in _REFERENCE_TAGS
    if isinstance(value, TaggedStr) and value.tag in BINARY_TAGS:
        # bytes that are no text (sweep 47, thaynes43/haynes-ops: a firmware blob's base64 in a
        # Talos machine file spelled an AWS key id by chance): judged in the bytes, not in
        # their base64 (a token among them is still one: the attack review)
        encoded = "".join(value.split())
        raw = base64.b64decode(encoded).decode("latin-1")
        inner = _known_format(raw, raw)
        return Verdict(f"{inner.kind} (base64)", True) if inner else _der_private_key(encoded)
    value = value.strip()
    if (len(value) < 6 and not _short_password(key, value)) or value.startswith(ENC_PREFIX):
        return None  # empty, or SOPS ciphertext
    if _BORING.match(value) or (
        network_address(value) and not names_password(setting_name(key, value) or key)
    ):
        return None  # a switch, a number, a network's address (sweep 75: SECRET_CIDR: 10.0.0.0/16)
    if _ANSIBLE_VAULT.match(value):
        return None  # Ansible Vault's ``!vault |`` envelope: ciphertext already
    if value.upper().startswith("AGE-SECRET-KEY-"):
        return None  # an age private key: SM009's (its bech32 may spell an AWS key id's shape)
    if tunnel_secret_in(value):
        # cloudflared's credentials as one line of JSON (the attack review: `{…}` read as a
        # `{VAR}` stand-in below)
        return Verdict("Cloudflare Tunnel Secret", True)
    if value == "inherit" and key == "secrets":
        return None  # a GitHub Actions reusable-workflow call passes the caller's secrets on
    if _PUBLIC.match(value) or _HASHED.match(value) or public_jwt(value):
        return None
    if _pgp_public_key(value) or _chain_address(key, value):
        return None  # public by what it is (sweep 81: Terraform's pgp_key, SS58 addresses)
    if _REFERENCE_VALUE.match(value) and _known_format(value, value) is None:
        return None  # a reference with a token in it is a token (the attack review)
    if _SCHEME_KEY.search(key) and _scheme_name(value):
        return None  # a scheme's name under a key that asks for one
    if _CSS_COLOR.match(value):
        return None  # sweep 23, sbaker5/k3s-flux: node_colors.Secret: "#FF6B6B"
    if all(_PASSWD_ENTRY.match(line) for line in value.splitlines() if line.strip()):
        return None  # /etc/passwd lines: the password is elsewhere (x) or locked (*, !)
    default = literal_default(value) if "${" in value else None
    if default is not None and depth < 2:
        # the value Flux writes where the variable is unset: committed, judged as it is
        # (the attack review: ``${DB_PASSWORD:=…}`` and ``${TOKEN:=ghp_…}`` passed)
        return _judge(key, default, depth + 1)
    if "{{" in value or has_template(value):
        # Beside a variable only a known format is judged (``ghp_… ${SUFFIX}``,
        # ``postgres://app:pw@${DB_HOST}``), with the variables taken out.
        text = strip_templates(value).replace("{{", " ")
        if not text.strip(" \t\"',;"):
            return None
        if _example(text):
            return known_in_lines(text)  # the words that hold no example word still count
        return (
            # a password that is a variable with a default is that default (the review)
            _known_format(text, resolve_defaults(value))
            or _bootstrap_verdict(key, text)
            or _uuid_verdict(key, text.strip())
        )
    if value.strip("\"'") in _BARE_STAND_IN or is_placeholder(value):
        return None
    if _example(value):
        return known_in_lines(value)  # the words that hold no example word still count
    if value.lower() in _BARE_WORDS and value.lower() in key.lower():
        return None  # the key's own word as its value (a dev realm's "secret": "secret")
    if _key_as_value(key, value):
        return None  # a chart's ``accesskeysecret: accesskeysecret``
    # one line of JSON with no object in it is no {VAR}: its known formats are judged
    # (``{"token": "ghp_…"}`` passed as a stand-in)
    json_object = _VARIABLE.match(value) is not None and _JSON_OBJECT.match(value) is not None
    if (_VARIABLE.match(value) and not json_object) or _PATH.match(value):
        return None  # {VAR}, $VAR, <<VAR>>, a path: filled in or pointed to, not committed
    verdict = (
        _known_format(value, value)
        or _bootstrap_verdict(key, value)
        or _uuid_verdict(key, value)
        or _cloudflare_global_key(key, value)
        or _tunnel_secret(key, value)
        or _tsig_secret(key, value)
        or _wireguard_private_key(key, value)
        or _decoded_verdict(key, value, depth)
        or _registry_auth(key, value)
        or _der_private_key(value)
    )
    if verdict is not None:
        return verdict
    if json_object:
        return None  # as before: only a known format in it is judged
    argo = _ARGO_REFERENCE.match(value)
    if argo is not None and not looks_like_token(argo["key"]):
        return None
    if tagged or (_DATE_TIME.match(value) and _TIME_KEY.search(split_camel(key))):
        # a reference an application resolves, or the time something happened under a key that
        # says so (argocdServerAdminPasswordMtime); a date under a password key is a password
        return None
    if _BASE64_PEM.match(value):
        return None  # base64 PEM with no private key: a certificate (certificate-authority-data)
    if _base64_template(value):
        return None  # base64 of a template of {{ … }} fields (Overseerr's webhook payload)
    if _base64_public(key, value):
        return None  # a certificate (DER), a public URL, an SSH public key or prose, in base64
    _, b64, hexa, keyword = _plugins()
    if "/" in key:
        return None  # an annotation or label key (``secret.reloader.stakater.com/reload``)
    if _DOMAIN_KEY.match(key) and _NAME_LIST.match(value):
        return None  # ``secret.reloader.stakater.com: db-creds,app-secret`` names Secrets
    if _EXISTING_SECRET_KEY.match(key) and _NAME_LIKE.match(value):
        return None  # existingSecretAdminPassword: harbor-credentials names a Secret
    if _DOC_PATH.match(value):
        return None
    if _manager_place(key, value):
        return None  # OP_TALSECRET_ITEM: talsecret names a secret manager's item or vault
    uuid = len(value) == 36 and UUID.fullmatch(value) is not None
    if (
        _SECRET_FIELD.search(key)
        and len(value) <= 63
        and _DNS_NAME.match(value)
        and not uuid
        and not looks_like_token(value)
    ):
        # envFromSecret: grafana names a Secret; a UUID there is a client secret, and a random
        # run of letters and digits is a key (sweep 80, Marx2: postgrest's `jwtSecret`)
        return None
    if _SECRET_INSIDE_FIELD.search(key) and len(value) <= 63 and _SECRET_OBJECT.match(value):
        return None  # sonarSecretProperties: sonarqube-properties-secret names a Secret
    if _SECRET_KIND_FIELD.search(key) and len(value) <= 63 and _DNS_NAME.match(value):
        return None  # secretProviderClass: infisical-oci names a SecretProviderClass
    if "://" in value and "?" in value and depth < 2:
        # a query parameter named like a credential holds one, under any key (sweep 75,
        # imerkle/home-ops: an AlertmanagerConfig's webhook `url: …/alerts?secret=…` passed)
        for name, given in _QUERY_PARAMETER.findall(value):
            if keyword.search(name):
                inner = _judge(name, unquote(given), depth + 1)
                if inner is not None:
                    return inner
    if (
        ("=" in value or " " in value)
        and "://" not in value
        and depth < 2
        and _INLINE_HINT.search(value)
    ):
        # a setting named like a credential inside a longer value: a game server's launch line
        # (`Map?password=…?MaxPlayers=8`), a command's `-password=…` (sweep 105,
        # hyperbolic2346/blookums: a HelmRelease env value written in clear had no finding)
        for name, given in _INLINE_SETTING.findall(value) + _FLAG_SETTING.findall(value):
            inner = _judge(name, given, depth + 1)
            if inner is not None:
                return inner
    # SECRET_S3_BUCKET is judged as S3_BUCKET: the prefix says where it is kept, the rest what
    # it is (the fourth attack review of the gate: home-ops' settings warned as keywords)
    # (a random run there is judged under the whole key still)
    kept = setting_name(key, value)
    if kept is not None and not looks_like_token(value, parts=False):
        key = kept
    key = split_camel(key)  # clientId -> client_Id: one rule for both spellings
    if _IDENTIFIER_KEY.search(key):
        return None
    if _LOCALPART_KEY.search(key) and not _NAMES_SECRET.search(key):
        # a Matrix user's public name before ``:server`` (a mautrix bridge's random
        # ``sender_localpart`` beside its encrypted tokens: ten warnings in sweep 71,
        # shikanime/manifests); not under a key that names a secret (the attack review)
        return None
    if _public_by_key(key, value):
        return None
    if _REF_KEY.search(key) and _GIT_OBJECT.match(value):
        return None  # source-ref: a commit's SHA (sweep 31, nwarila-platform's workflow)
    # client_secret: !Env OIDC_CLIENT_SECRET names a variable: not a keyword hit, though a
    # random all-capitals token still meets the entropy checks below
    named_variable = bool(
        _ENV_NAME.match(value) or _SECRET_NAME.match(value) or _ENTRY_NAME.match(value)
    )
    if (
        keyword.search(key)
        and (
            not _REFERENCE_KEY.search(key)
            or (_CREDENTIAL_KEY.search(key) is not None and not _KEY_NAME_VALUE.match(value))
        )
        and not _PROJECT_KEY.search(key)
        and value.lower() not in _MAKE_IT
        # words with spaces are prose, unless a password's key holds a random run among them
        # (sweep 69: `J_PASSWORD: This is a test Qm7vXc2Rk9Lp4Wt6Hs` in a ConfigMap passed),
        # or the key names words as the secret (a passphrase, a wallet's mnemonic, recovery
        # codes: the seventh attack review of the gate)
        and (
            " " not in value
            or (names_password(key) and looks_like_token(value))
            or (_WORDS_KEY.search(key) is not None and len(value.split()) >= 3)
        )
        and not named_variable
    ):
        # a UUID under a key naming a secret or password is one made with uuidgen, not an
        # object's name (sweep 22: PROXMOX_API_TOKEN_SECRET=<uuid> passed as a Secret's name)
        names_object = (_OBJECT_NAME.match(value) and not uuid) or (
            _DNS_NAME.match(value) is not None and value.endswith("-tls")
        )
        if names_object and re.search(r"(?i)secrets?$", key):
            return None  # configSecret: app-creds names a Secret
        if (
            _DNS_NAME.match(value) is not None
            and value.endswith(("-tls", "-cert", "-certificate"))
            and _TLS_SECRET_KEY.search(key)
            and not _PASSWORD_OR_KEY.search(key)
        ):
            # a TLS Secret's name a variable hands to `secretName:` (sweep 89, josmase/flux:
            # `CERT_SECRET_EXTERNAL: hejsan-xyz-tls` in a postBuild.substitute)
            return None
        if _FILE_NAME.match(value):
            return None  # secret_entry: sops.agekey names a file or a Secret's entry
        if _STORE_PATH.match(value):
            return None  # SECRET: gpg/home-cluster-private names an entry of a password store
        if (_URL_KEY.search(key) or _URL_WORD.search(key)) and _plain_url(key, value):
            # a service's address under its setting's key (sweep 83, auricom/home-cluster:
            # `DRONE_SECRET_PLUGIN_ENDPOINT: http://drone-kubernetes-secrets:3000`; sweep 87's
            # regression, doonga/greyrock-ops: `SECRET_INTERNAL_URL_DIRECT: http://10.1.4.151:8123`)
            return None
        return Verdict("Secret Keyword", False)
    if (
        (_TOKEN_KEY.search(key) or API_KEY_NAME.fullmatch(key))
        and " " not in value
        and "://" not in value
        and not named_variable
        and not _FILE_NAME.match(value)
        and not _STORE_PATH.match(value)
        and not uuid  # an object's id as often (a Bitwarden secret's id: edgard/home-ops)
        and looks_like_token(value)
    ):
        # a token's key (``API_TOKEN``, ``accessToken``): detect-secrets' keywords name none,
        # so a short random one had no finding where a longer one met the entropy checks
        # (sweep 67, a careless user's ConfigMap)
        return Verdict("Secret Keyword", False)
    if "://" in value:
        return None  # a URL without credentials: structure, not randomness
    from detect_secrets.filters.heuristic import is_potential_uuid, is_sequential_string

    if is_potential_uuid(value) or is_sequential_string(value):
        return None
    if _DISK_ID.match(value) and re.search(r"(?i)dev|disk", key):
        return None  # nvme-Samsung_SSD_980_PRO_1TB_S5GXNF0R…: a /dev/disk/by-id name
    if _word_path(value):
        # a path or resource name of words (sweep 72: GCP's workload identity provider
        # `projects/9705…/locations/global/…`, a vendored collection's FILES.json file names)
        return None
    if key.isdigit() and _camel_words(value):
        return None  # an enum's label by its number (SNMP: `136: deviceFamilyIsAMDAthlon64X2`)
    if _HEX_CHARS.match(value) and hexa.calculate_shannon_entropy(value) > hexa.entropy_limit:
        return Verdict(hexa.secret_type, False)
    if _B64_CHARS.match(value) and b64.calculate_shannon_entropy(value) > b64.entropy_limit:
        return Verdict(b64.secret_type, False)
    return None


# ``key = value`` or ``key: value`` (a config file's line); the words that set a password with
# the value after a space (Redis's requirepass and masterauth, nslcd's bindpw, OpenLDAP's
# rootpw, a ``.netrc``'s ``machine h login u password p``, SQL's ``PASSWORD 'p'``); an XML
# element that holds one (Maven's ``<password>``)
_CONFIG_PAIR = re.compile(r"^([A-Za-z_][\w.-]{0,63})[ \t]*[=:][ \t]*(\S.{0,511})$")
_CONFIG_PASSWORD = frozenset(
    ("requirepass", "masterauth", "password", "passwd", "passphrase", "bindpw", "rootpw")
)
_XML_SECRET = re.compile(
    r"<(password|passphrase|secret|token|apiKey|api_key|privateKey)>([^<]{1,512})</\1>", re.I
)
_COMMENTED = re.compile(r"[ \t]+[#;].*$")
_ENDS_PASSWORD = re.compile(r"(?i)(?:password|passwd)$")
_PLAIN_LOGIN = re.compile(r"^[\w.@+-]{1,64}:\{(?:PLAIN|CLEARTEXT|CLEAR)\}(\S{1,512})$", re.I)
_EXPORT = re.compile(r"^export[ \t]+(?=[A-Za-z_][A-Za-z0-9_]*=)")
_WP_SALT = re.compile(r"(?:^|_)(?:KEY|SALT)$")


def _npm_password(name: str, value: str) -> str | None:
    """The password an .npmrc's ``_auth`` (base64 of user:password) or ``_password`` (base64
    of the password) holds; the value as written when it is no base64 of text."""
    try:
        text = base64.b64decode(value.strip("\"'"), validate=True).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return value
    if name == "_auth":
        user, colon, password = text.partition(":")
        return password if colon and password != user else None
    return text


_NPMRC_AUTH = re.compile(r"^//[^\s=]{1,512}:(_authToken|_auth|_password)[ \t]*=[ \t]*(\S{1,1024})$")
_PHP_DEFINE = re.compile(r"""\bdefine\(\s*['"](\w{1,64})['"]\s*,\s*['"]([^'"]{1,512})['"]\s*\)""")
_USERLIST = re.compile(r'^"[^"]*"[ \t]+"([^"]*)"')


def _own_value(key: str, value: str) -> bool:
    """Whether ``value`` under ``key`` is a secret of its own: no variable, stand-in or hash,
    and a credential by the detectors (a plain word after a password's key is a setting, such
    as PAM's ``password requisite``)."""
    value = value.strip().strip("\"'`").rstrip(";,")
    if not value or is_placeholder(value) or is_envsubst_name(value) or "${" in value:
        return False
    if _CONFIG_HASH.match(value) or value.startswith("["):
        # a hash in the form its service stores (slapd's `{SSHA}…`, supervisord's `{SHA}…`,
        # SCRAM, md5), or PAM's control (`password [success=1 default=ignore] pam_unix.so`)
        return False
    return judge_value(key, value) is not None and looks_like_token(value)


_CONFIG_HASH = re.compile(
    r"^(?:\{[A-Z0-9._-]{2,20}\}\S+|SCRAM-SHA-(?:1|256)\$\S+|md5[0-9a-f]{32}|"
    r"\$(?:1|2[abxy]?|5|6|y|argon2(?:id|i|d)|pbkdf2[\w-]*)\$\S+)$"
)
_WIFI_KEY = re.compile(r"(?i)(?:^|_)(?:wpa_)?(?:psk|passphrase)$")
# nginx directives named `…_pass` (where a request goes), no password
_PASS_DIRECTIVE = re.compile(r"(?i)^(?:proxy|fastcgi|uwsgi|scgi|grpc|memcached)_pass$")


def url_credential(line: str) -> bool:
    """Whether ``line`` holds a URL whose ``user:password@`` is a credential of its own (no
    stand-in, no variable): a ``.git-credentials`` line, a proxy's address."""
    return any(
        found["password"] != found["user"]  # anonymous:anonymous, an FTP mirror's public login
        and judge_value("url", found.group(0)) is not None
        for found in _URL_WITH_PASSWORD.finditer(line)
    )


_URL_WITH_PASSWORD = re.compile(
    r"[A-Za-z][A-Za-z0-9+.-]{0,31}://(?P<user>[^\s:/@]{0,256}):(?P<password>[^\s@]{1,512})@\S*"
)


def config_credential(line: str, name: str = "") -> str | None:
    """The key of a config line that sets a credential to a value of its own, else None: a
    ``key = value`` line whose key names a secret, a word that sets a password with the value
    after a space (``requirepass``, a ``.netrc``'s ``password``, mosquitto's
    ``remote_password``), an XML element, a ``.pgpass`` line (``name`` is the file's)."""
    stripped = _EXPORT.sub("", line.strip())  # a shell's `export NAME=value`
    npm = _NPMRC_AUTH.match(stripped)
    if npm is not None:
        # an .npmrc's login for one registry (`//host/:_authToken=…`; `_auth` and `_password`
        # are base64 of user:password and of the password): the fifth attack review of the gate
        given = npm[2] if npm[1] == "_authToken" else _npm_password(npm[1], npm[2])
        judged = "token" if npm[1] == "_authToken" else "password"
        return npm[1] if given is not None and _own_value(judged, given) else None
    if not stripped or stripped.startswith(("#", ";", "//", "[", "<!--")):
        return None
    plain = _PLAIN_LOGIN.match(stripped)
    if plain is not None:
        # an htpasswd or dovecot login whose password is kept as it is (`{PLAIN}`: the seventh
        # attack review of the gate, two such logins passed)
        return "password" if _own_value("password", plain[1]) else None
    php = _PHP_DEFINE.search(stripped)
    if php is not None:
        # wp-config.php's `define('DB_PASSWORD', '…');` (the fifth attack review of the gate)
        key = php[1]
        # WordPress's keys and salts (AUTH_KEY, NONCE_SALT) sign its cookies
        salt = _WP_SALT.search(key) is not None
        named = names_sensitive(key) or names_password(key) or salt
        return key if named and _own_value("password" if salt else key, php[2]) else None
    found = _XML_SECRET.search(stripped)
    if found is not None:
        return found[1] if _own_value(found[1], found[2]) else None
    if name == ".pgpass" and stripped.count(":") >= 4:
        value = stripped.split(":", 4)[4]  # host:port:database:user:password
        return "password" if _own_value("password", value) else None
    pair = _USERLIST.match(stripped) if name == "userlist.txt" else None
    if pair is not None:
        # pgbouncer's auth file: "user" "password", a hash of it (md5…, SCRAM-SHA-256$…) or
        # the password itself
        value = pair[1]
        hashed = value.startswith("SCRAM-SHA-256$") or re.fullmatch(r"md5[0-9a-f]{32}", value)
        return "password" if not hashed and _own_value("password", value) else None
    m = _CONFIG_PAIR.match(stripped)
    if m is not None:
        key, value = m.group(1), _COMMENTED.sub("", m.group(2))
        # a name run together ending in one (PGPASSWORD, dbpassword: the seventh attack review)
        if not (names_sensitive(key) or names_password(key) or _ENDS_PASSWORD.search(key)):
            return None
        # a Wi-Fi network's passphrase or PSK (hostapd's `wpa_passphrase=`, wpa_supplicant's
        # `psk="…"`) is its password (the second attack review of sweep 87)
        judged = "password" if _WIFI_KEY.search(key) else key
        return key if _own_value(judged, value) else None
    words = stripped.split()
    for key, value in pairwise(words):
        named = key.lower() in _CONFIG_PASSWORD or (
            names_password(key) and not _PASS_DIRECTIVE.match(key)
        )
        if named and _own_value("password", value):
            return key
    return None
