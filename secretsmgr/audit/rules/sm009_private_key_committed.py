"""SM009 private-key-committed: an age identity in a file of the repository, or a PEM private
key in a file that is no structured manifest (a bare ``ca.key``: one in a YAML, JSON or dotenv
value is SM001's or SM018's)."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace

from secretsmgr.audit.context import AuditContext
from secretsmgr.audit.credentials import is_terraform_state
from secretsmgr.audit.finding import NO_SOPS_CONFIG, Finding, Rule, RuleId, Severity
from secretsmgr.audit.history import PastKey
from secretsmgr.audit.keyprotection import NO_SECRET, PROTECTED, key_state
from secretsmgr.audit.manifests import (
    decode_text,
    documents,
    is_secret,
    label,
    numbered_objects,
    secret_values,
)
from secretsmgr.audit.rules.sm001_plaintext_secret import (
    flux_key_secrets,
    generator_readers,
    init_writes_rules,
    take_out,
)
from secretsmgr.errors import ConfigError
from secretsmgr.keys.age import parse_identities
from secretsmgr.keys.bech32 import short_key, split_bech32
from secretsmgr.repo.placeholders import PRIVATE_KEY_BLOCK
from secretsmgr.repo.scan import ScannedFile
from secretsmgr.repo.sopsentry import SopsEntry
from secretsmgr.shellword import sh_path
from secretsmgr.sops.document import FileFormat
from secretsmgr.sops.locate import key_lines

# bech32 is case-insensitive and pyrage accepts the lowercase form: match either case.
_PRIVATE_KEY = re.compile(rb"AGE-SECRET-KEY-(?:PQ-)?1[0-9A-Z]{20,}", re.IGNORECASE)
_PREFIXES = (b"AGE-SECRET-KEY-", b"age-secret-key-")


def _base64_needles(prefixes: tuple[bytes, ...]) -> re.Pattern[bytes]:
    """What one of ``prefixes`` looks like inside base64, at each of the three alignments.

    Only the characters that depend on the prefix alone are kept; whitespace may split them
    (wrapped base64 in a YAML block scalar).
    """
    needles: set[bytes] = set()
    for prefix in prefixes:
        for shift in range(3):
            encoded = base64.b64encode(b"\0" * shift + prefix)
            first = -(-8 * shift // 6)  # the first character made of prefix bits only
            last = 8 * (shift + len(prefix)) // 6  # one past the last such character
            needles.add(encoded[first:last])
    parts = [rb"\s*".join(re.escape(bytes([c])) for c in n) for n in sorted(needles)]
    return re.compile(b"|".join(parts))


_IN_BASE64 = _base64_needles(_PREFIXES)
# A PEM block inside base64: a Secret's `data` in a file no manifest reader reads (a
# `.yaml.j2` that Ansible copies: jr0dd/home-ops, sweep 18)
_PEM_IN_BASE64 = _base64_needles((b"-----BEGIN ",))


# A whole PEM private key: its header, key material (at least 64 base64 characters, which a
# documentation excerpt such as ``MIIEvQ…`` does not have) and its footer; up to 50,000 lines
# (an OpenPGP key with a photo id runs past 400: the fourth attack review).
_PEM_KEY = re.compile(
    rb"-----BEGIN (?P<label>[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?)-----\r?\n"
    rb"(?:[A-Za-z-]{1,40}:[^\n]{0,200}\n){0,8}\s{0,4}"
    rb"(?:[A-Za-z0-9+/=]{1,128}\r?\n){1,50000}?(?:=[A-Za-z0-9+/]{4}\r?\n)?"
    rb"-----END (?P=label)-----"
)
# Prose, where a key is an example: not read for PEM keys.
# (not .txt: a deploy-key.txt is a key file; the review of sweep 12)
_PROSE = (".md", ".markdown", ".rst", ".adoc", ".html", ".htm")
# Files whose PEM blocks no value reader sees whole: no structured format, and INI and dotenv
# read line by line (the attack review of stop 34: a key in a configMapGenerator's tls.key,
# read as INI, was reported by nothing)
_TEXT_READ = (None, FileFormat.INI, FileFormat.DOTENV)
_PEM_MATERIAL = 64
# A template's name: its renderer (Ansible, Helm, gomplate) reads it, not sops
_TEMPLATE_SUFFIXES = frozenset(
    {"j2", "jinja", "jinja2", "tmpl", "tpl", "gotmpl", "erb", "template"}
)


@dataclass(frozen=True, slots=True)
class PrivateKeyHit:
    """A private key found in a file; the key itself is never kept. ``kind`` is ``age`` or
    the PEM label (``EC PRIVATE KEY``)."""

    path: str
    line: int
    post_quantum: bool
    public: str | None
    encoded: bool = False
    kind: str = "age"
    secret_key: str | None = None  # where a Secret holds it (Flux's ``sops-gpg``: data.sops.asc)
    secret_name: str | None = None  # that Secret's name
    alone: bool = True  # the Secret is its file's only document
    protected: bool = False  # a PEM or armored key encrypted with a passphrase


def _looks_like_key(token: str) -> bool:
    """A valid bech32 key, or a random-looking one (a damaged key); not a placeholder."""
    if split_bech32(token) is not None:
        return True
    body = token.rpartition("1")[2]
    return len(set(body.upper())) >= 12


def _public_of(token: str) -> str | None:
    token = token.upper()
    if token.startswith("AGE-SECRET-KEY-PQ-"):
        return None
    try:
        publics = parse_identities(token, "a committed file").publics
    except ConfigError:
        return None
    return publics[0] if publics else None


# age-keygen's comment above the key it writes
_PUBLIC_COMMENT = re.compile(rb"#\s*public key:\s*(age1[0-9a-z]{58})\s*$")


def _commented_public(data: bytes, offset: int) -> str | None:
    """The public key age-keygen's comment names in the comment lines right above a key that
    does not parse (damaged: sweep 45, prachitat/pi-cluster's age.agekey lacked two characters,
    a guess away from the real key, and the fix said `<its public key>`); secretsmgr's own mark
    may sit between them (the review)."""
    line_start = data.rfind(b"\n", 0, offset) + 1
    comments = data[:line_start].splitlines()
    block = []
    while comments and comments[-1].lstrip().startswith(b"#"):
        block.append(comments.pop())
    found = next((m for line in block if (m := _PUBLIC_COMMENT.match(line.strip()))), None)
    return found.group(1).decode("ascii") if found else None


def _plain_keys(data: bytes) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for m in _PRIVATE_KEY.finditer(data):
        token = m.group().decode("ascii")
        if _looks_like_key(token):
            found.append((m.start(), token))
    return found


_B64_SPAN = re.compile(rb"[A-Za-z0-9+/=\s]*")
_NOT_B64 = re.compile(rb"[^A-Za-z0-9+/=\s]")


def _base64_run(data: bytes, at: int) -> tuple[int, int, bytes]:
    """The base64 run (whitespace allowed) around offset ``at``: (start, end, run without
    spaces). Found by regular expressions, in C: a walk byte by byte in Python, once per
    certificate of a 20 MB bundle on one line, took minutes (the review of sweep 18)."""
    match = _B64_SPAN.match(data, at)
    end = match.end() if match is not None else at
    start, step = at, 256
    while start > 0:  # back to the last byte that is no base64, in growing chunks
        low = max(0, start - step)
        ends = [m.end() for m in _NOT_B64.finditer(data, low, start)]
        if ends:
            start = ends[-1]
            break
        start, step = low, step * 2
    while start < at and data[start : start + 1].isspace():
        start += 1
    return start, end, b"".join(data[start:end].split()).rstrip(b"=")


def _decoded_runs(data: bytes, needles: re.Pattern[bytes]) -> Iterator[tuple[int, bytes]]:
    """(start, decoded bytes) of each base64 run holding one of ``needles``: each of the four
    ways to cut the run into whole base64 quads, where the run decodes. Each run once."""
    reached = 0
    for m in needles.finditer(data):
        if m.start() < reached:
            continue  # inside the run already decoded
        start, reached, run = _base64_run(data, m.start())
        # padding ends a value: the run may go on into the next line's key (`kind` after a
        # `data:` value in kubectl's sorted output: sweep 46, fzmubin98's sops-age Secret)
        for piece in (run, *(run.split(b"=") if b"=" in run else ())):
            for skip in range(4):
                chunk = piece[skip:]
                if len(chunk) % 4 == 1:
                    chunk = chunk[:-1]
                chunk += b"=" * (-len(chunk) % 4)
                try:
                    yield start, base64.b64decode(chunk, validate=True)
                except (ValueError, binascii.Error):
                    continue


def _encoded_keys(data: bytes) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    done: set[int] = set()
    for start, decoded in _decoded_runs(data, _IN_BASE64):
        if start in done:
            continue
        keys = _plain_keys(decoded)
        if keys:
            found.extend((start, token) for _, token in keys)
            done.add(start)
    return found


def find_private_keys(path: str, data: bytes) -> list[PrivateKeyHit]:
    """Every age private key in ``data``, in clear (either case) or inside a base64 run;
    placeholders such as ``AGE-SECRET-KEY-1XXXX…`` skipped."""
    hits: list[PrivateKeyHit] = []
    for encoded, keys in ((False, _plain_keys(data)), (True, _encoded_keys(data))):
        for offset, token in keys:
            line = data.count(b"\n", 0, offset) + 1
            pq = token.upper().startswith("AGE-SECRET-KEY-PQ-")
            public = _public_of(token) or (None if encoded else _commented_public(data, offset))
            hits.append(PrivateKeyHit(path, line, pq, public, encoded))
    hits.sort(key=lambda h: h.line)
    return hits


def find_pem_keys(path: str, data: bytes) -> list[PrivateKeyHit]:
    """Every whole PEM private key block in ``data`` (header, material, footer)."""
    hits: list[PrivateKeyHit] = []
    if b"PRIVATE KEY" not in data:
        return hits
    for m in _PEM_KEY.finditer(data):
        material = sum(len(line.strip()) for line in m.group().splitlines()[1:-1])
        if material < _PEM_MATERIAL or not PRIVATE_KEY_BLOCK.search(m.group().decode("ascii")):
            continue
        line = data.count(b"\n", 0, m.start()) + 1
        state = key_state(m[0])
        if state == NO_SECRET:
            continue  # GnuPG's stubs alone: nothing secret in the block
        kind = m["label"].decode("ascii")
        hits.append(PrivateKeyHit(path, line, False, None, kind=kind, protected=state == PROTECTED))
    return hits


def find_encoded_pem_keys(path: str, data: bytes) -> list[PrivateKeyHit]:
    """Every whole PEM private key block inside a base64 run of ``data`` (a certificate's run
    is decoded and passed over)."""
    hits: list[PrivateKeyHit] = []
    done: set[int] = set()
    for start, decoded in _decoded_runs(data, _PEM_IN_BASE64):
        found = find_pem_keys(path, decoded) if start not in done else []
        if found:
            line = data.count(b"\n", 0, start) + 1
            hits += [replace(h, line=line, encoded=True) for h in found]
            done.add(start)
    return hits


def detect(file: ScannedFile) -> list[PrivateKeyHit]:
    """Every age private key in the file, every PEM private key in a file that is neither a
    structured manifest (whose values SM001 and SM018 judge), a SOPS file nor prose, and the
    OpenPGP private keys of a Secret in clear under ``*.asc`` keys: Flux's ``sops-gpg``."""
    hits = find_private_keys(file.path, file.data)
    if hits and file.format is not None:
        hits = _in_secret(file, hits)
    if file.format in _TEXT_READ and file.sops is None and not file.path.lower().endswith(_PROSE):
        hits += find_pem_keys(file.path, file.data) + find_encoded_pem_keys(file.path, file.data)
    elif (
        file.format is not None
        and b".asc" in file.data
        and b"Secret" in file.data
        and (file.sops is None or not file.sops.has_metadata)
    ):
        hits += _flux_pgp_keys(file)
    return hits


PGP_KIND = "PGP PRIVATE KEY BLOCK"


def _in_secret(file: ScannedFile, hits: list[PrivateKeyHit]) -> list[PrivateKeyHit]:
    """``hits`` with the Secret that holds the age key (a ``sops-age`` manifest) named, and
    whether it is its file's only object: beside a Deployment, only its document goes."""
    docs = documents(file)
    objects = list(numbered_objects(docs))
    for _number, _prefix, obj in objects:
        if not is_secret(obj):
            continue
        for _key_path, value in secret_values(obj):
            raw = value.encode("utf-8", "surrogateescape") if isinstance(value, str) else b""
            if raw and not _plain_keys(raw):
                try:
                    raw = base64.b64decode(b"".join(raw.split()), validate=True)
                except (binascii.Error, ValueError):
                    continue
            if _plain_keys(raw):
                name = label(obj).rpartition("/")[2] or None
                return [replace(h, secret_name=name, alone=len(objects) == 1) for h in hits]
    return hits


def _flux_pgp_keys(file: ScannedFile) -> list[PrivateKeyHit]:
    """OpenPGP private keys in clear (base64 under ``data``, or as text under ``stringData``)
    at a Secret's ``*.asc`` key, where kustomize-controller reads the keys it decrypts with."""
    found: list[tuple[str, int, str]] = []
    docs = documents(file)
    for number, prefix, obj in numbered_objects(docs):
        if not is_secret(obj):
            continue
        name = label(obj).rpartition("/")[2]
        for key_path, value in secret_values(obj):
            if not key_path.endswith(".asc") or not isinstance(value, str):
                continue
            raw = value.encode("utf-8", "surrogateescape")
            if key_path.startswith("data."):
                try:
                    raw = base64.b64decode("".join(value.split()), validate=True)
                except (binascii.Error, ValueError):
                    continue
            if any(h.kind == PGP_KIND for h in find_pem_keys(file.path, raw)):
                found.append((prefix + key_path, number, name))
    if not found:
        return []
    text = decode_text(file.data) or ""
    located = key_lines(text, file.format) if file.format is not None else []
    hits = []
    alone = sum(1 for _ in numbered_objects(docs)) == 1  # a List's items count (2nd review)
    for key_path, number, name in found:
        lines = located[number - 1].lines if number <= len(located) else {}
        line = lines.get(key_path, 1)
        encoded = key_path.startswith("data.")
        hits.append(
            PrivateKeyHit(
                file.path, line, False, None, encoded, PGP_KIND, key_path, name or None, alone
            )
        )
    return hits


def _redacted(hit: PrivateKeyHit) -> str:
    if hit.kind == "age":
        form = "AGE-SECRET-KEY-PQ-1…" if hit.post_quantum else "AGE-SECRET-KEY-1…"
    else:
        form = f"-----BEGIN {hit.kind}-----"
    # a key of a Secret's `data` (Flux's sops-gpg) is base64 by the Secret's form: not said
    encoded = hit.encoded and not (hit.kind == PGP_KIND and hit.secret_key is not None)
    return f"{form} (base64-encoded)" if encoded else form


def _stop_trusting(ctx: AuditContext, public: str | None) -> str:
    """The rest of the fix after "purge it from git history": how to stop trusting the leaked
    key. A cluster key is replaced by a key rotation (which moves the rules too); any other
    recipient is removed from the files encrypted to it, and from the `.sops.yaml` rules that
    name it (sweep 39: wac-gitops' leaked key opened no file, and the `rotate` the fix gave
    failed; ionos' rule still named a key whose private half was in history)."""
    if public is not None and public in {*ctx.repo.cluster_keys, *ctx.repo.repo_cluster_keys}:
        return "rotate away from it: secretsmgr key rotate --begin (then --finish)"
    naming = _rules_naming(ctx, public) if public is not None else []
    rules = (
        f"; take it out of {' and '.join(naming)}, which still "
        f"{'names' if len(naming) == 1 else 'name'} it (files made under "
        f"{'it' if len(naming) == 1 else 'them'} would be encrypted to it)"
        if naming
        else ""
    )
    carried = public is None or any(
        public in e.sops_file.metadata.age_recipients
        for e in ctx.repo.sops_files
        if e.sops_file is not None
    )
    if not carried:
        # one may have been, its data key kept by `sops updatekeys` (the fifth review): the
        # history walk names such files (SM020)
        if ctx.history is not None:
            # this is that walk: sending the reader to it again was circular (sweep 41); a file
            # deleted since is no SM020 finding, yet its past versions are as open
            past = ctx.history.files_encrypted_to(public) if public is not None else []
            if past:
                # named (sweep 47, mbaykara/flux-lab: a deleted file's values open to the key)
                shown = ", ".join(past[:5]) + (
                    f" and {len(past) - 5} more" if len(past) > 5 else ""
                )
                return (
                    f"no SOPS file is encrypted to it now{rules}; past versions of {shown} were, "
                    "and stay readable with it in git history: change the values they held"
                )
            return (
                f"no SOPS file is encrypted to it now{rules}; past versions of files that were "
                "stay readable with it in git history (SM020 names the files still on such a "
                "data key): change the values they held"
            )
        return (
            f"no SOPS file is encrypted to it now{rules} (one that was, and kept its data key, "
            "is still open to it in git history: secretsmgr audit --history names it, SM020)"
        )
    return f"rotate away from it: {_rotate_away(ctx, public)}{rules}"


def _rules_naming(ctx: AuditContext, public: str) -> list[str]:
    """``CONFIG rule N`` for each creation rule of the repository's `.sops.yaml` files that
    names ``public`` as an age recipient."""
    configs = ctx.repo.sops_configs
    return [
        f"{configs.label(config)} rule {number}"
        for config in configs.all_loaded()
        for number, rule in enumerate(config.rules, start=1)
        if any(public in group.age for group in rule.key_groups)
    ]


def _rotate_away(ctx: AuditContext, public: str | None) -> str:
    """How to stop trusting the leaked key: a cluster key is replaced by a key rotation, any
    other recipient is removed from every file."""
    if public is not None and public in {*ctx.repo.cluster_keys, *ctx.repo.repo_cluster_keys}:
        return "secretsmgr key rotate --begin (then --finish)"
    remove = f"secretsmgr rotate --all --remove-recipient {public or '<its public key>'}"
    # no cluster key known for the files it opens (a `.sops.yaml` rule's may govern none of
    # them: sweep 40, Nate-Wil/micro-cluster's leaked key was the one recipient of the file
    # Flux applies); where a rule names the cluster key for them, an operator's key alone on a
    # file is that file's mistake (SM004), never the cluster key (the fifth review)
    unkeyed = public is not None and (not ctx.repo.cluster_keys or _unkeyed(ctx, public))
    flux = _flux_key(ctx, public) if public is not None and unkeyed else None
    if flux is None:
        alone = _alone_on(ctx, public) if public is not None and unkeyed else []
        if alone:
            # removed alone it leaves those files no recipient, and rotate refuses (sweep 49,
            # mrzjordan16/flux-Error: its one file, on the leaked key, read by no layer here);
            # a new key for them alone, named (the attack review: with --all, files on other
            # keys got it too)
            files = " ".join(sh_path(p) for p in alone)
            carrying = [
                e
                for e in ctx.repo.sops_files
                if (sf := e.sops_file) is not None
                and public in sf.metadata.age_recipients
                and e.path not in alone
            ]
            # the files it opens beside other keys: by name too (--all opens every file); those
            # beside PGP or KMS keys by sops, which rotate refuses (the fifth review)
            ours = [sh_path(e.path) for e in carrying if _age_only(e)]
            theirs = [sh_path(e.path) for e in carrying if not _age_only(e)]
            rest = f"; then: secretsmgr rotate --remove-recipient {public} {' '.join(ours)}"
            rest = rest if ours else ""
            if theirs:
                rest += f"; and: sops rotate -i --rm-age {public} FILE, for {', '.join(theirs)}"
            return (
                f"for {'the file' if len(alone) == 1 else 'the files'} it alone opens, name a new "
                "age key (secretsmgr key generate -o FILE prints its public key): secretsmgr "
                f"rotate --remove-recipient {public} --add-recipient NEW_KEY {files}{rest}"
            )
        return remove
    # nothing names the cluster key, and this one opens what Flux applies: removing it would
    # leave a file it alone opens with no recipient (sweep 19, 1Solon/Home-Server-Configuration)
    # the rotation starts from a clean tree: init's files are committed first (sweep 45,
    # giefko/sre-devops-gitops-lab: the second command, pasted right after the first, exited 1)
    pin = (
        f"secretsmgr init --cluster-key {public}; commit what it writes; then "
        f"secretsmgr key rotate --begin --cluster-key {public} (then --finish)"
    )
    if flux:
        return f"pin it as the cluster key, then replace it: {pin}"
    # beside other keys on every such file: the cluster's, or an operator's (the review)
    return (
        f"if it is the key Flux decrypts with (secretsmgr key show --from-cluster lists the "
        f"cluster's), pin it and replace it: {pin}; otherwise: {remove}"
    )


def _age_only(entry: SopsEntry) -> bool:
    """Whether secretsmgr can rotate ``entry``: age keys only, one key group."""
    sf = entry.sops_file
    return sf is not None and not sf.metadata.foreign_kinds and len(sf.metadata.key_groups) <= 1


def _alone_on(ctx: AuditContext, public: str) -> list[str]:
    """The SOPS files ``public`` is the only key of."""
    return [
        e.path
        for e in ctx.repo.sops_files
        if (sf := e.sops_file) is not None
        and set(sf.metadata.age_recipients) == {public}
        and not sf.metadata.foreign_kinds
    ]


def _unkeyed(ctx: AuditContext, public: str) -> bool:
    """Whether no cluster key is known for any SOPS file encrypted to ``public`` that a layer
    applies."""
    carrying = [
        e
        for e in ctx.repo.sops_files
        if e.sops_file is not None
        and public in e.sops_file.metadata.age_recipients
        and ctx.repo.layers_of(e.path)
    ]
    return bool(carrying) and not any(ctx.repo.cluster_keys_for(e) for e in carrying)


def _flux_key(ctx: AuditContext, public: str) -> bool | None:
    """Whether Flux surely decrypts with ``public`` (True: it is on every age-encrypted SOPS
    file a decrypting layer applies, alone on one of them), maybe does (False: on some of
    them, so the cluster's Secret may hold it beside other keys, or it is an operator's: the
    second review), or it is on none of them (None)."""
    applied = [
        sf.metadata
        for entry in ctx.repo.sops_files
        if (sf := entry.sops_file) is not None
        and sf.metadata.age_recipients
        and any(layer.decrypts_sops for layer in ctx.repo.layers.placements(entry.path))
    ]
    carrying = [m for m in applied if public in m.age_recipients]
    if not carrying:
        return None
    alone = any(set(m.age_recipients) == {public} and not m.foreign_kinds for m in carrying)
    return alone and len(carrying) == len(applied)


def _lines(hits: list[PrivateKeyHit]) -> str:
    """The lines of ``hits``: the first five, then an ellipsis."""
    return ", ".join(str(h.line) for h in hits[:5]) + (", …" if len(hits) > 5 else "")


def _encrypt_hint(ctx: AuditContext, path: str) -> str:
    """``secretsmgr encrypt -i PATH``, after the `.sops.yaml` it needs when there is none
    (rastydnb/home-cheap-gke-cluster: encrypt found no recipients and exited 2)."""
    configs = ctx.repo.sops_configs
    label, rule, _ = configs.rule_for(path) if ctx.repo.has_sops_config else (None, None, None)
    if rule is not None:  # sops where the rule names PGP, KMS or Vault keys
        return configs.encrypt_command(path)
    if ctx.repo.has_sops_config:
        # a rule for the cluster's folder only (sweep 45, prachitat/pi-cluster: a tls.key at the
        # root; encrypt found no recipients and exited 2)
        where = label or "a .sops.yaml above it"
        keys = " ".join(f"--age {key}" for key in ctx.repo.cluster_keys)
        if not keys:
            return (
                f"no creation rule matches {path}: add one to {where} first, then "
                f"secretsmgr encrypt -i {sh_path(path)}"
            )
        return (
            f"no creation rule matches {path}, so name the cluster's key: secretsmgr encrypt -i "
            f"{sh_path(path)} {keys} (or add a rule to {where} first)"
        )
    if ctx.repo.layers.clusters and init_writes_rules(ctx):
        return (
            f"{NO_SOPS_CONFIG}: set up the cluster key and a creation rule first with "
            "secretsmgr init (see README.md, New repository), then secretsmgr encrypt -i "
            f"{sh_path(path)}"
        )
    # init sets up a Flux repository only, and writes rules for the folders its layers read:
    # without them, the rule is written by hand
    return (
        f"{NO_SOPS_CONFIG}: write one whose creation rule names an age key (secretsmgr key "
        f"generate prints a new one) first, then secretsmgr encrypt -i {sh_path(path)}"
    )


def _pem_finding(ctx: AuditContext, path: str, hits: list[PrivateKeyHit]) -> Finding:
    first = hits[0]
    pgp = all(h.kind.startswith("PGP ") for h in hits)  # ASCII-armored, not PEM
    # a passphrase-protected key is still a leak (the passphrase can be guessed offline, for as
    # long as git keeps it), but not one in clear (sweep 36, mrled/psyops: a GnuPG key)
    if all(h.protected for h in hits):
        how = "protected by a passphrase (which can be guessed offline)"
    elif any(h.protected for h in hits):
        how = "in clear or protected by a passphrase"
    else:
        how = "in clear"
    if len(hits) == 1:
        what = "an OpenPGP private key" if pgp else "a PEM private key"
        message = f"{what} ({_redacted(first)}) {how} on line {first.line}"
    else:
        what = "OpenPGP private keys" if pgp else "PEM private keys"
        message = f"{len(hits)} {what} ({_redacted(first)}, …) {how} on lines {_lines(hits)}"
    if path.lower().rpartition(".")[2] in _TEMPLATE_SUFFIXES:
        # encrypting a template would hand its renderer ciphertext (jr0dd's Ansible `.j2`)
        keep = "keep the new one out of the template: fill it in from a value kept encrypted"
    elif is_terraform_state(path):
        # a state sops encrypts is one Terraform cannot read, and still in git (sweep 90,
        # damoun/fleet-infra: this fix said encrypt, SM018's beside it to take the state out)
        keep = (
            f"take the state out of git (git rm --cached {sh_path(path)}, and *.tfstate in "
            ".gitignore) and keep it in a remote backend or encrypted by OpenTofu"
        )
    else:
        keep = f"commit the new one only encrypted: {_encrypt_hint(ctx, path)}"
    return RULE.finding(
        path,
        message,
        fix=f"remove it, purge it from git history and replace the key where it is trusted; {keep}",
        line=first.line,
    )


def _flux_pgp_finding(ctx: AuditContext, path: str, hits: list[PrivateKeyHit]) -> Finding:
    """Flux's OpenPGP decryption key in a Secret in clear: whoever reads the repository opens
    every file encrypted to it, so encrypting the manifest now does not help."""
    first = hits[0]
    out = take_out(ctx, path, first.alone, first.secret_name)
    where = ", ".join(h.secret_key or "" for h in hits[:3]) + (", …" if len(hits) > 3 else "")
    return RULE.finding(
        path,
        f"an OpenPGP private key (-----BEGIN {PGP_KIND}-----) in clear at {where} of a Secret, "
        "where Flux reads the keys it decrypts with",
        fix=f"take it out of the repository ({out}; "
        "keep the key elsewhere if you need it), purge it from git history, and rotate away "
        "from it: a new key in "
        ".sops.yaml in its place, sops updatekeys -y on every file encrypted to it, and the new "
        "private key only in the cluster's Secret",
        key_path=first.secret_key,
        line=first.line,
    )


def _past_keys(ctx: AuditContext, current: set[tuple[str, str]]) -> dict[str, list[PastKey]]:
    """Keys that past versions held (audit --history), by path, leaving out a key the file
    still holds today (by public key; a PEM key by its label): a key file overwritten with a
    new key still has the old one in history (sweep 41, HermannH34: the second key of
    age.agekey went unreported)."""
    out: dict[str, list[PastKey]] = {}
    for key in ctx.history.past_keys if ctx.history is not None else ():
        if (key.path, key.public or key.kind) not in current:
            out.setdefault(key.path, []).append(key)
    return out


def _past_what(key: PastKey, ctx: AuditContext) -> str:
    if key.kind == "age":
        owner = f" (public key {short_key(key.public)})" if key.public else ""
        if key.public in {*ctx.repo.cluster_keys, *ctx.repo.repo_cluster_keys}:
            # said outright (sweep 51, glamprinakis: the reader had to match the public key
            # with the audit's header to see that every SOPS file was open)
            owner = f" (public key {short_key(key.public)}: the cluster key, which opens every "
            owner += "SOPS file encrypted to it, in every commit)"
        return f"an age private key{owner}"
    form = "an OpenPGP" if key.kind.startswith("PGP ") else "a PEM"
    return f"{form} private key (-----BEGIN {key.kind}-----)"


def _past_fix(ctx: AuditContext, key: PastKey) -> str:
    if key.kind == "age":
        return _stop_trusting(ctx, key.public or None)
    return "replace the key where it is trusted"


def _when(key: PastKey) -> str:
    return f"{key.commit[:12]} ({key.date[:10]})"


def _past(ctx: AuditContext, path: str, keys: list[PastKey]) -> Finding:
    """One finding for the keys a file's past versions held."""
    if len(keys) == 1:
        key = keys[0]
        fix = _past_fix(ctx, key)
        return RULE.finding(
            path,
            f"{_past_what(key, ctx)} was committed in {_when(key)} and is still in git history",
            fix=(
                "purge it from git history; "
                if key.kind == "age"
                else "purge it from git history and "
            )
            + fix,
        )
    listed = "; ".join(f"{_past_what(key, ctx)} in {_when(key)}" for key in keys)
    return RULE.finding(
        path,
        f"{len(keys)} private keys were committed and are still in git history: {listed}",
        fix="purge them from git history; " + _each_fix(ctx, keys),
    )


def _each_fix(ctx: AuditContext, keys: list[PastKey]) -> str:
    fixes = {key.public or key.kind: _past_fix(ctx, key) for key in keys}
    if len(set(fixes.values())) == 1:
        return next(iter(fixes.values()))
    return "; ".join(
        f"for {short_key(name) if name.startswith('age1') else name}: {fix}"
        for name, fix in fixes.items()
    )


def _with_past(ctx: AuditContext, finding: Finding, keys: list[PastKey]) -> Finding:
    """The file's finding today, naming the other keys its past versions held too (one
    finding per file: a second would be taken for the same one)."""
    listed = "; ".join(f"{_past_what(key, ctx)} in {_when(key)}" for key in keys)
    earlier = "an earlier key is" if len(keys) == 1 else f"{len(keys)} earlier keys are"
    return replace(
        finding,
        message=f"{finding.message}; {earlier} still in git history: {listed}",
        fix=f"{finding.fix}; for the earlier: {_each_fix(ctx, keys)}",
    )


def check(ctx: AuditContext) -> Iterator[Finding]:
    """One finding per file naming the line(s) and a redacted form; never the key."""
    by_path: dict[str, list[PrivateKeyHit]] = {}
    refs = flux_key_secrets(ctx)
    for hit in ctx.repo.hits_of(RULE.id):
        assert isinstance(hit, PrivateKeyHit)
        if hit.kind != "age" and generator_readers(ctx, hit.path):
            continue  # a secretGenerator source in clear: SM001 reports it
        if hit.secret_key is not None and hit.secret_name not in refs:
            continue  # an application's PGP key in a Secret: SM001's, to encrypt
        by_path.setdefault(hit.path, []).append(hit)
    current = {(h.path, h.public or h.kind) for hits in by_path.values() for h in hits}
    past = _past_keys(ctx, current)
    for path, hits in by_path.items():
        found = list(_today(ctx, path, hits))
        earlier = past.pop(path, None)
        whole = next((i for i, f in enumerate(found) if f.key_path is None), None)
        if earlier and whole is not None:
            found[whole] = _with_past(ctx, found[whole], earlier)
        elif earlier:
            found.append(_past(ctx, path, earlier))
        yield from found
    for path, keys in past.items():
        yield _past(ctx, path, keys)


def _today(ctx: AuditContext, path: str, hits: list[PrivateKeyHit]) -> Iterator[Finding]:
    """The findings of the keys a file holds today."""
    flux_pgp = [h for h in hits if h.secret_key is not None]
    pem = [h for h in hits if h.kind != "age" and h.secret_key is None]
    if pem:
        yield _pem_finding(ctx, path, pem)
    if flux_pgp:
        yield _flux_pgp_finding(ctx, path, flux_pgp)
    hits = [h for h in hits if h.kind == "age"]
    if not hits:
        return
    first = hits[0]
    owner = f" (public key {short_key(first.public)})" if first.public else ""
    if len(hits) == 1:
        message = f"age private key {_redacted(first)}{owner} on line {first.line}"
    else:
        message = f"{len(hits)} age private keys ({_redacted(first)}) on lines {_lines(hits)}"
    yield RULE.finding(
        path,
        message,
        fix="remove it, purge it from git history; " + _stop_trusting(ctx, first.public or None),
        line=first.line,
    )


RULE = Rule(
    id=RuleId("SM009"),
    name="private-key-committed",
    severity=Severity.ERROR,
    needs=frozenset(),
    summary="An age private key, or a PEM private key in a file that is no manifest",
    check=check,
    detect=detect,
    hit_type=PrivateKeyHit,
)
