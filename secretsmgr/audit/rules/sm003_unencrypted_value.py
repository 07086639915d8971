"""SM003 unencrypted-value: a value that must be encrypted and is not ``ENC[…]``.

Two sources: the file's own encryption rule (sops metadata), and, whatever that rule says, every
value under a Secret's ``data``/``stringData`` (a file encrypted with ``--encrypted-regex
'^data$'`` leaves ``stringData.password`` readable by anyone with the repository).
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from dataclasses import dataclass

from secretsmgr.audit.context import (
    AuditContext,
    creation_rule_encrypts,
    reencrypt_fix,
    widen_hint,
)
from secretsmgr.audit.credentials import judge_value, plain_setting
from secretsmgr.audit.finding import Finding, Rule, RuleId, Severity
from secretsmgr.audit.manifests import (
    documents,
    is_plaintext_value,
    is_public_material,
    is_secret,
    objects,
    secret_values,
)
from secretsmgr.audit.rules.sm001_plaintext_secret import generator_readers
from secretsmgr.errors import FormatError
from secretsmgr.plural import plural
from secretsmgr.repo.flux import UseKind
from secretsmgr.repo.placeholders import names_password
from secretsmgr.repo.scan import ScannedFile
from secretsmgr.repo.sopsentry import SopsEntry, dotted, values_left_clear
from secretsmgr.shellword import sh_path
from secretsmgr.sops.encvalue import is_enc
from secretsmgr.sops.metadata import SOPS_KEY
from secretsmgr.sops.model import EncryptionRule, RuleKind
from secretsmgr.sops.rules import encrypted_leaves, path_is_encrypted
from secretsmgr.sops.tree import MapNode
from secretsmgr.sops.values import Comment


@dataclass(frozen=True, slots=True)
class PlainSecretValue:
    """A Secret value left in clear inside a SOPS file."""

    path: str
    key_path: str
    # a setting by its key and form (a user name, a host, a repository URL with no
    # credential): no exposure in history (sweep 61, hanspaerna/k3s-homelab-iac: a restic
    # repository's address beside a password left in clear was an SM019 error)
    setting: bool = False


def _rule_covers_secret_values(rule: EncryptionRule) -> bool:
    """Whether the file's rule selects every value under ``data`` and ``stringData`` (as
    ``encrypted_regex: ^(data|stringData)$`` does): then a plain Secret value is already one of
    the rule's plaintext leaves, and the file need not be parsed again."""
    if rule.kind not in (RuleKind.ENCRYPTED_REGEX, RuleKind.ENCRYPTED_SUFFIX):
        return False
    try:
        return all(path_is_encrypted(rule, (section,)) for section in ("data", "stringData"))
    except FormatError:
        return False


def _encrypted_secret(obj: dict[str, object]) -> bool:
    """A Secret whose ``kind`` itself is encrypted (a rule with no encrypted_regex, only an
    ``_unencrypted`` suffix): ``stringData`` is a Secret's alone (sweeps 14 and 15: a
    ``password_unencrypted`` there passed check)."""
    kind = obj.get("kind")
    return isinstance(kind, str) and is_enc(kind) and isinstance(obj.get("stringData"), dict)


def detect(file: ScannedFile) -> list[PlainSecretValue]:
    """Plain ``data``/``stringData`` values of Secrets in a file with SOPS metadata."""
    if file.sops is None or not file.sops.has_metadata:
        return []
    # the secrets among the values its own rule leaves plain are hits too: ``check`` reports
    # them from the entry, and ``audit --history`` counts them as exposed (SM019); a value
    # added in clear to a file on ``^(data|stringData)$`` and encrypted later was no exposure
    # (sweep 19), and a setting among them is none (the review)
    found = dict.fromkeys(k for k in file.sops.exposed_leaves if k != "(top level)")
    sf = file.sops.sops_file
    covered = sf is not None and _rule_covers_secret_values(sf.metadata.rule)
    if covered and not found:
        return []  # every Secret value is one the rule selects: plaintext_leaves has them all
    values: dict[str, object] = {}
    for prefix, obj in objects(documents(file)):
        if not (is_secret(obj) or _encrypted_secret(obj)) or (prefix and SOPS_KEY in obj):
            continue
        for key_path, value in secret_values(obj):
            values[prefix + key_path] = value
            if covered:
                continue
            if is_plaintext_value(value) and not is_public_material(key_path, value):
                # a certificate beside its encrypted key (a sealed-secrets key backup under
                # `encrypted_regex: ^(tls\.key)$`: sweep 43, justin8/home-cluster) is public
                found[prefix + key_path] = None
    return [
        PlainSecretValue(
            file.path,
            key_path,
            setting=key_path in values
            and plain_setting(key_path.rpartition(".")[2], values[key_path]),
        )
        for key_path in found
    ]


def _base64_note(key_path: str) -> str:
    """What ``set`` takes under a Secret's ``data`` (sweep 41: the value piped in as text was
    refused there, and the fix had not said so)."""
    if key_path.startswith("data."):
        return "; under a Secret's data, pipe it through base64 -w0 first"
    return ""


def sops_index(key_path: str) -> str:
    """A dotted key path as sops's index (``["data"]["tls.key"]``): under a Secret's ``data``
    or ``stringData`` the rest is one key (``tls.key``), elsewhere each dot parts two and a
    number is a list index."""
    head, _, rest = key_path.partition(".")
    parts = [head, rest] if head in ("data", "stringData") and rest else key_path.split(".")
    return "".join(f"[{p}]" if p.isdigit() else f'["{p}"]' for p in parts)


def check(ctx: AuditContext) -> Iterator[Finding]:
    """Leaves selected by the metadata's encryption rule that hold a plain value, and plain
    Secret values whatever the rule.

    Empty strings, nulls, comments and placeholders are not findings: sops leaves them as they
    are, and Flux fills placeholders in.
    """
    secret_plain: dict[str, list[str]] = {}
    for hit in ctx.repo.hits_of(RULE.id):
        assert isinstance(hit, PlainSecretValue)
        secret_plain.setdefault(hit.path, []).append(hit.key_path)
    for entry in ctx.repo.sops_files:
        if entry.sops_file is None:
            continue
        rule = entry.sops_file.metadata.rule
        fix = reencrypt_fix(entry)
        clear = None if entry.store == "binary" else values_left_clear(entry.sops_file.docs, rule)
        if clear is not None:
            # a values file re-encrypted under a Secret rule (sweep 12): a sops: block over
            # nothing encrypted, which no other rule looks at; an error when a secret is among
            # them (sweep 20, kaminek: a CLOUDFLARE_API_KEY file the author thought encrypted)
            secrets = [k for k in clear if k in entry.exposed_leaves]
            first = secrets[0] if secrets else clear[0]
            more = f" and {plural(len(clear) - 1, 'more value')}" if len(clear) > 1 else ""
            what = ", a secret, readable by anyone with the repository" if secrets else ""
            yield RULE.finding(
                entry.path,
                f"no value is encrypted: the file's rule ({rule.kind.value}: {rule.value}) "
                f"leaves {first}{more} in clear under its sops: block{what}",
                severity=Severity.ERROR if secrets else Severity.WARNING,
                key_path=first,
                fix=(
                    f"give it a .sops.yaml creation rule of its own (a path_regex for its name, "
                    f"the same keys, no encrypted_regex: every value encrypted), re-encrypt: "
                    f"{fix}; then change "
                    f"{first} at its source: git keeps the value in clear"
                    if secrets
                    else "if it holds secrets, give it a .sops.yaml creation rule of its own (a "
                    "path_regex for its name, the same keys, no encrypted_regex: every value "
                    "encrypted), then "
                    f"re-encrypt: {fix}"
                ),
            )
        metadata = entry.sops_file.metadata
        for key_path in entry.plaintext_leaves:
            # sops never writes a value its rule selects in clear: it was added by hand, and
            # decrypt refuses the file, so re-encrypting cannot be the cure (an operator's
            # acceptance run: the printed one-liner failed at decrypt and still exited 0)
            where = sh_path(entry.path)
            if metadata.foreign_kinds and not metadata.age_recipients:
                # secretsmgr opens age keys only, and sops no file with a value in clear
                # (sweep 57, lab-xyz/lab: both printed commands failed on a PGP-only file)
                # (the attack review: deleting a value the MAC covers, one edited in clear,
                # broke the file for sops: only the committed file restores it)
                fix = (
                    "sops opens no file with a value added in clear: "
                    f"{_by_hand(ctx, entry.path, key_path)}; "
                    f"then have a holder of its {' and '.join(metadata.foreign_kinds)} keys "
                    f"encrypt a new value in its place: sops set --value-stdin {where} "
                    f"{shlex.quote(sops_index(key_path))} (stdin: the value as a JSON string"
                    f"{_base64_note(key_path)})"
                )
            elif (later := _later_document(entry, key_path)) is not None:
                # set and unset act on the first document (sweep 71: the printed `set` was
                # refused for a value added in clear to a Secret's second document)
                fix = (
                    f"{key_path} is in document {later}, and set and unset act on the first: "
                    f"{_by_hand(ctx, entry.path, key_path)}; then give it a value "
                    f"encrypted: secretsmgr edit {where}"
                )
            else:
                fix = (
                    f"encrypt a new value in its place (read from stdin"
                    f"{_base64_note(key_path)}; the one in clear may be in git already): "
                    f"secretsmgr set {where} {shlex.quote(key_path)}, or drop it: "
                    f"secretsmgr unset {where} {shlex.quote(key_path)}; without the key: "
                    f"{_by_hand(ctx, entry.path, key_path)}"
                )
            yield RULE.finding(
                entry.path,
                f"{key_path} is not encrypted although the file's rule "
                f"({rule.kind.value}: {rule.value}) says it must be",
                key_path=key_path,
                fix=fix,
            )
        yield from _generator_values(ctx, entry, fix)
        for key_path in secret_plain.get(entry.path, ()):
            if key_path in entry.plaintext_leaves or (clear is not None and key_path in clear):
                continue
            yield RULE.finding(
                entry.path,
                f"{key_path} is a Secret value in plaintext: the file's rule "
                f"({rule.kind.value}: {rule.value}) leaves it unencrypted",
                key_path=key_path,
                fix=fix
                if creation_rule_encrypts(entry, key_path)
                else widen_hint(entry, key_path, too=True),
            )


def _by_hand(ctx: AuditContext, path: str, key_path: str) -> str:
    """The key-less way out of a value added in clear: the last commit's file when it holds
    none (the change added it), or deleting the key with its value, whose lines a block scalar
    spreads over (the attack review: the committed file restored nothing, and one line deleted
    of a PEM block left the rest)."""
    delete = f"delete {key_path} by hand (the key and every line of its value)"
    if path in ctx.earlier.by_path:
        return (
            f"restore the file as committed (git checkout HEAD -- {sh_path(path)}), or, if "
            f"{key_path} is new there, {delete}"
        )
    return f"if {key_path} is new there, {delete}: it is in git already, so choose a new value"


def _later_document(entry: SopsEntry, key_path: str) -> int | None:
    """The number of the document (2 or more) that holds ``key_path`` in clear, when the first
    does not: ``set`` and ``unset`` reach the first document only."""
    sf = entry.sops_file
    if sf is None or len(sf.docs) < 2:
        return None
    for number, tree in enumerate(sf.docs, start=1):
        for path, leaf in encrypted_leaves(tree, sf.metadata.rule):
            if (dotted(path) or "(top level)") != key_path or isinstance(leaf, Comment):
                continue
            if isinstance(leaf, str) and (leaf == "" or leaf.startswith("ENC[")):
                continue
            if leaf is not None:
                return None if number == 1 else number
    return None


def _generator_values(ctx: AuditContext, entry: SopsEntry, fix: str) -> Iterator[Finding]:
    """Credentials a SOPS ``KEY=value`` file leaves in clear (its rule's ``encrypted_regex``)
    that a live layer's secretGenerator puts in a Secret under ``envs:`` (the review of sweep
    13: ``API_TOKEN`` passed beside an encrypted ``DB_PASSWORD``): a key naming one, or a value
    the credential detectors flag. Settings the rule leaves readable are the author's choice
    (vaskozl/home-infra: ``BASE_URL``, ``GITLAB_HOST``)."""
    sf = entry.sops_file
    if sf is None or sf.format.value != "dotenv" or entry.store is not None or not sf.docs:
        return
    readers = generator_readers(ctx, entry.path, UseKind.SECRET_ENV)
    doc = sf.docs[0]
    if not readers or not isinstance(doc, MapNode):
        return
    done = set(entry.plaintext_leaves)
    for item in doc.items:
        if isinstance(item, Comment) or item[0] in done:
            continue
        key, value = item
        if not isinstance(value, str) or is_enc(value) or not is_plaintext_value(value):
            continue
        if not names_password(key) and judge_value(key, value) is None:
            continue  # a setting the rule leaves readable on purpose (BASE_URL, GITLAB_HOST)
        yield RULE.finding(
            entry.path,
            f"{key} is in plaintext (the file's rule leaves it unencrypted), and a "
            f"secretGenerator of layer {ctx.repo.layers.shown(readers[0])} puts it in a Secret "
            "(envs:)",
            key_path=key,
            fix=fix if creation_rule_encrypts(entry, key) else widen_hint(entry, key, too=True),
        )


RULE = Rule(
    id=RuleId("SM003"),
    name="unencrypted-value",
    severity=Severity.ERROR,
    needs=frozenset(),
    summary="A value that must be encrypted (by the file's rule, or as a Secret value) is plain",
    check=check,
    detect=detect,
    hit_type=PlainSecretValue,
)
