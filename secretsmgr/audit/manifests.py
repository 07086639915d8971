"""Manifests as the cluster reads them: parsed documents, never a grep over bytes.

The gate's detectors (SM001, SM003, SM018) look at Kubernetes objects the way the API server
and kustomize see them after YAML parsing: any key quoting (``"kind": Secret``), flow style,
tags (``kind: !!str Secret``), spaces before the colon, ``kind: List`` items, escapes in
double-quoted scalars. Parsing uses the C loader (``sops.yamlio.safe_load_all``); the only
pre-filters are ones no quoting trick can defeat (see ``may_mention``).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterator
from typing import cast

from secretsmgr.errors import FormatError
from secretsmgr.keys.pem import public_blocks_parse
from secretsmgr.repo.flux.objects import go_field
from secretsmgr.repo.placeholders import holds_secret_around, ssh_public_keys, strip_templates
from secretsmgr.repo.placeholders import is_placeholder as repo_placeholder
from secretsmgr.repo.scan import ScannedFile
from secretsmgr.sops.document import FileFormat
from secretsmgr.sops.yamlio import load_all_noting_duplicates, safe_load_all

Obj = dict[str, object]


# the kind of a kustomize generator's own config, for a kustomization's generator field
_BUILTIN_GENERATORS = {
    "secretGenerator": "SecretGenerator",
    "configMapGenerator": "ConfigMapGenerator",
}


def generator_literals(
    obj: Obj, field: str, prefix: str = ""
) -> Iterator[tuple[Obj, object, str, list[object]]]:
    """Each generator under a kustomization's ``field`` (``secretGenerator``,
    ``configMapGenerator``; kustomize reads field names in any case) that lists literals, or
    ``obj`` itself when it is such a generator's config (``kind: SecretGenerator``): (the
    generator, its name, the key path of its literals, the literals)."""
    builtin = _BUILTIN_GENERATORS[field]
    if obj.get("kind") == builtin:
        # a generator's own config (``kind: SecretGenerator``, listed under ``generators:``):
        # its literals sit at the top (the attack review of stop 51: they passed the gate)
        listed = go_field(obj, "literals")
        if listed is not None and isinstance(listed[1], list):
            meta = obj.get("metadata")
            name = cast(Obj, meta).get("name") if isinstance(meta, dict) else None
            yield obj, name, f"{prefix}{listed[0]}", cast(list[object], listed[1])
        return
    found = go_field(obj, field)
    if found is None or not isinstance(found[1], list):
        return
    for number, raw in enumerate(cast(list[object], found[1])):
        if not isinstance(raw, dict):
            continue
        gen = cast(Obj, raw)
        name = (go_field(gen, "name") or ("", None))[1]
        listed = go_field(gen, "literals")
        if listed is not None and isinstance(listed[1], list):
            where = f"{prefix}{found[0]}.{number}.{listed[0]}"
            yield gen, name, where, cast(list[object], listed[1])


# ``< placeholder >`` markers with spaces inside, which ``repo.placeholders`` does not take
_ANGLE = re.compile(r"^\s*<[^<>]{1,80}>\s*$")
ENC_PREFIX = "ENC[AES256_GCM,"

# the file is held (ids are reused), with its documents and whether a mapping repeats a key
_last: tuple[ScannedFile, list[object], bool] | None = None


def decode_text(data: bytes) -> str | None:
    """The text of a file as a YAML/JSON reader takes it: UTF-8 (a byte that is not read as
    U+FFFD), or UTF-16/32 with a BOM; None for anything else."""
    if data[:4] in (b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff"):
        codec = "utf-32"
    elif data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        codec = "utf-16"
    else:
        codec = "utf-8-sig"
    try:
        return data.decode(codec)
    except UnicodeDecodeError:
        if codec != "utf-8-sig" or b"\x00" in data:
            return None
        # text with a byte of another encoding (a Windows-1252 editor's "é" in a comment) is
        # still read: one such byte hid a plaintext Secret from the gate (the attack review of
        # sweep 93); kustomize refuses the file, but git keeps the password
        return data.decode(codec, "replace")


def may_mention(text: str, word: str) -> bool:
    """Whether ``word`` can appear in any parsed value of ``text``.

    A parsed string differs from its bytes only through escapes (``"Secr\\x65t"``,
    ``"\\u0053ecret"``), which need a backslash; without one, a parsed ``word`` is in the text.
    """
    return word in text or "\\" in text


def may_hold_secret_kind(text: str) -> bool:
    """Whether a document of ``text`` can parse as ``kind: Secret``: the word must stand in the
    text as a token of its own (``secretRef``, ``ExternalSecret`` and ``SecretStore`` are no
    such token), or be spelled through an escape. Whatever else YAML allows around it (tags,
    anchors and aliases, block scalars, comments, complex keys, directives), a scalar that reads
    ``Secret`` holds those letters side by side: only an escape or a folded line could part
    them, and folding inserts a space."""
    if "\\" in text:
        return True
    return _SECRET_TOKEN.search(text) is not None


_SECRET_TOKEN = re.compile(r"(?<![A-Za-z0-9_])(?:Cluster)?Secret(?![A-Za-z0-9_])")


def documents(file: ScannedFile) -> list[object]:
    """The parsed documents of a YAML/JSON file (empty when it does not parse).

    The last result is kept, so several detectors of one file parse it once.
    """
    return _loaded(file)[0]


def repeats_a_key(file: ScannedFile) -> bool:
    """Whether a mapping of the YAML file gives a key twice: its documents hold the later
    value only, and kustomize and Flux refuse the file, but git holds both."""
    return _loaded(file)[1]


def _loaded(file: ScannedFile) -> tuple[list[object], bool]:
    global _last
    if _last is not None and _last[0] is file:
        return _last[1], _last[2]
    docs: list[object] = []
    repeated = False
    text = decode_text(file.data) if file.format in (FileFormat.YAML, FileFormat.JSON) else None
    if text is not None:
        try:
            if file.format is FileFormat.JSON:
                docs = [json.loads(text)]
            else:
                docs, repeated = load_all_noting_duplicates(text)
        except (FormatError, ValueError, RecursionError):
            try:  # JSON is YAML: a .json file with several documents or comments
                docs = safe_load_all(text) if file.format is FileFormat.JSON else []
            except (FormatError, RecursionError):
                docs = []
    _last = (file, docs, repeated)
    return docs, repeated


def objects(docs: list[object]) -> Iterator[tuple[str, Obj]]:
    """Every mapping a document holds as an object, with its key-path prefix.

    Items of ``kind: List`` (or ``SecretList``, …) count as objects of their own, as kubectl
    and kustomize apply them: ``items.0.``, ``items.1.``… prefix their key paths.
    """
    for _, prefix, obj in numbered_objects(docs):
        yield prefix, obj


def numbered_objects(docs: list[object]) -> Iterator[tuple[int, str, Obj]]:
    """``objects`` with the 1-based number of the document each one is in."""
    for number, raw in enumerate(docs, start=1):
        if isinstance(raw, dict):
            for prefix, obj in _expand(cast(Obj, raw), "", 0):
                yield number, prefix, obj


def _expand(doc: Obj, prefix: str, depth: int, *, inline: bool = True) -> Iterator[tuple[str, Obj]]:
    yield prefix, doc
    kind = doc.get("kind")
    items = doc.get("items")
    if isinstance(kind, str) and kind.endswith("List") and isinstance(items, list) and depth < 8:
        for number, item in enumerate(items):
            if isinstance(item, dict):
                yield from _expand(cast(Obj, item), f"{prefix}items.{number}.", depth + 1)
    spec = doc.get("spec")
    if isinstance(spec, dict) and kind in ("ClusterPolicy", "Policy") and depth < 8:
        yield from _generated_by_policy(cast(Obj, spec), prefix, depth)
    made = (
        cast(Obj, spec).get("resources")
        if kind == "ResourceSet" and isinstance(spec, dict)
        else None
    )
    if isinstance(made, list) and depth < 8:
        # flux-operator's ResourceSet applies each object of spec.resources for every input
        # (the attack review of stop 52: a Secret written there in clear passed)
        for number, item in enumerate(made):
            if isinstance(item, dict):
                yield from _expand(cast(Obj, item), f"{prefix}spec.resources.{number}.", depth + 1)
    if kind == "HelmRelease" and isinstance(spec, dict) and depth < 8:
        yield from _chart_secrets(cast(Obj, spec), prefix, depth)
    if depth == 0 and inline:
        # a config written inline is expanded as its own file would be, once (no config
        # inside it is run by kustomize: its fields are the config's)
        for place, configs in _inline_configs(doc):
            for index, config in enumerate(configs):
                here = place if len(configs) == 1 else f"{place}{index}."
                yield from _expand(config, f"{prefix}{here}", 0, inline=False)
    if depth == 0:
        for where, content, target in _inline_patches(doc):
            if isinstance(content, str):
                try:
                    parsed = safe_load_all(content)
                except (FormatError, RecursionError):
                    continue
            else:
                parsed = [content]
            for number, patch in enumerate(parsed):
                at = where if len(parsed) == 1 else f"{where}{number}."
                if isinstance(patch, list):
                    patch = json6902_secret(cast(list[object], patch), target)
                if isinstance(patch, dict):
                    yield from _expand(_as_target(cast(Obj, patch), target), f"{prefix}{at}", 1)


def _chart_secrets(spec: Obj, prefix: str, depth: int) -> Iterator[tuple[str, Obj]]:
    """The Secrets a HelmRelease's values hand its chart to render as they are: a whole
    ``v1`` Secret manifest anywhere in ``values`` (a "raw" chart's ``resources:``, which it
    writes out with toYaml, as a ResourceSet's), and bjw-s app-template's ``secrets.<name>``
    (``stringData``/``data``, rendered into a Secret). The fourth attack review of the gate:
    both passed with a warning on ``password`` at most."""
    values = spec.get("values")
    if not isinstance(values, dict):
        return
    base = f"{prefix}spec.values."
    found: list[tuple[str, Obj]] = []
    _manifests_in(cast(Obj, values), "", found, 0)
    for where, obj in found:
        yield from _expand(obj, base + where, depth + 1)
    chart = spec.get("chart")
    inner = cast(Obj, chart).get("spec") if isinstance(chart, dict) else None
    name = cast(Obj, inner).get("chart") if isinstance(inner, dict) else None
    ref = spec.get("chartRef")
    named = (
        name
        if isinstance(name, str)
        else (cast(Obj, ref).get("name") if isinstance(ref, dict) else None)
    )
    secrets = values.get("secrets")
    if named != "app-template" or not isinstance(secrets, dict):
        return
    for key, body in cast(Obj, secrets).items():
        if (
            isinstance(body, dict)
            and any(f in body for f in ("data", "stringData"))
            and body.get("enabled") is not False  # not rendered (the review of stop 54)
        ):
            made: Obj = {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": key},
                **{f: body[f] for f in ("data", "stringData") if f in body},
            }
            yield from _expand(made, f"{base}secrets.{key}.", depth + 1)


def _manifests_in(node: object, where: str, found: list[tuple[str, Obj]], depth: int) -> None:
    """Each ``v1`` Secret manifest in ``node`` (a chart's values), with its key path."""
    if depth > 16:
        return
    if isinstance(node, dict):
        obj = cast(Obj, node)
        if obj.get("kind") == "Secret" and obj.get("apiVersion") == "v1":
            found.append((where, obj))
            return
        for key, value in obj.items():
            _manifests_in(value, f"{where}{key}.", found, depth + 1)
    elif isinstance(node, list):
        for number, item in enumerate(node):
            _manifests_in(item, f"{where}{number}.", found, depth + 1)


def _as_target(patch: Obj, target: object) -> Obj:
    """A strategic-merge patch as the objects it changes: with a ``target`` whose ``kind``
    names Secrets, kustomize patches those whatever kind and name the patch itself says (the
    attack review of stop 52: ``kind: ConfigMap`` over a Secret target hid its stringData)."""
    if not isinstance(target, dict) or patch.get("kind") == "Secret":
        return patch
    kind = cast(Obj, target).get("kind")
    if kind is None:
        # a target by name or labels alone: its patch is a Secret's where it writes
        # stringData, which no other kind has (the second attack review of stop 52)
        if "stringData" not in patch:
            return patch
    elif not may_be_secret(kind) or not any(f in patch for f in ("data", "stringData")):
        return patch
    name = cast(Obj, target).get("name")
    meta = patch.get("metadata")
    # a target's name is a regex to kustomize: used as the Secret's name when it is a plain one
    named = isinstance(name, str) and re.fullmatch(r"[A-Za-z0-9._-]+", name) is not None
    metadata = {**(meta if isinstance(meta, dict) else {}), **({"name": name} if named else {})}
    return {**patch, "apiVersion": "v1", "kind": "Secret", "metadata": metadata}


def _generated_by_policy(spec: Obj, prefix: str, depth: int) -> Iterator[tuple[str, Obj]]:
    """The Secrets a Kyverno policy's ``generate`` rules write with ``data:`` (the object's
    body, as the rule gives it): each as the Secret it makes (the attack review of stop 52)."""
    rules = spec.get("rules")
    for number, rule in enumerate(rules if isinstance(rules, list) else []):
        generate = cast(Obj, rule).get("generate") if isinstance(rule, dict) else None
        if not isinstance(generate, dict) or generate.get("kind") != "Secret":
            continue
        body = generate.get("data")
        if not isinstance(body, dict):
            continue
        namespace = generate.get("namespace")
        if isinstance(namespace, str) and "{{" in namespace:
            namespace = None  # each namespace the rule matches: said by the name alone
        made: Obj = {
            "metadata": {"name": generate.get("name"), "namespace": namespace},
            **cast(Obj, body),
            "apiVersion": generate.get("apiVersion") or "v1",
            "kind": "Secret",
        }
        yield from _expand(made, f"{prefix}spec.rules.{number}.generate.data.", depth + 1)


def may_be_secret(kind: object) -> bool:
    """Whether a patch target's ``kind`` (an anchored regex to kustomize; None: any) can name
    a Secret (``Secret|ConfigMap``, ``.*``: the second review of sweep 13)."""
    if kind is None:
        return True
    if not isinstance(kind, str):
        return False
    try:
        return re.fullmatch(f"(?:{kind})", "Secret") is not None
    except re.error:
        return True


def json6902_secret(ops: list[object], target: object) -> Obj | None:
    """The Secret values a JSON 6902 patch adds (``- op: add, path: /stringData/password,
    value: …``) as a Secret of its own, when it targets a Secret or writes under ``/data`` or
    ``/stringData``; None otherwise."""
    kind = cast(Obj, target).get("kind") if isinstance(target, dict) else None
    sections: dict[str, dict[str, object]] = {}
    for raw in ops:
        op = cast(Obj, raw) if isinstance(raw, dict) else {}
        path, value = op.get("path"), op.get("value")
        if op.get("op") not in ("add", "replace") or not isinstance(path, str):
            continue
        parts = [p.replace("~1", "/").replace("~0", "~") for p in path.split("/")[1:]]
        if not parts or parts[0] not in ("data", "stringData"):
            continue
        if len(parts) == 2:
            sections.setdefault(parts[0], {})[parts[1]] = value
        elif len(parts) == 1 and isinstance(value, dict):
            sections.setdefault(parts[0], {}).update(cast(dict[str, object], value))
    if not sections or not may_be_secret(kind):
        return None
    name = cast(Obj, target).get("name") if isinstance(target, dict) else None
    secret: Obj = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name or "(patched)"}}
    secret.update(sections)
    return secret


_PATCH_LISTS = ("patches", "patchesStrategicMerge", "patchesJson6902")
_PLUGIN_LISTS = ("generators", "transformers")
_KUSTOMIZE_API = "kustomize.config.k8s.io/"
# kustomize's patch transformers, configured as objects (``transformers: [patch.yaml]``), and
# the field each one's inline patch sits in
_PATCH_TRANSFORMERS = {
    "PatchTransformer": "patch",
    "PatchStrategicMergeTransformer": "patches",
    "PatchJson6902Transformer": "jsonOp",
}


def _inline_configs(doc: Obj) -> Iterator[tuple[str, list[Obj]]]:
    """(key-path prefix, objects) of each generator or transformer config a kustomization
    writes inline (``generators: [|- apiVersion: builtin …]``): kustomize runs them as if
    listed from a file (the attack review of stop 51: a SecretGenerator's literals there)."""
    api = doc.get("apiVersion")
    if api is not None and not (isinstance(api, str) and api.startswith(_KUSTOMIZE_API)):
        return
    for name in _PLUGIN_LISTS:
        entries = doc.get(name)
        for number, entry in enumerate(entries if isinstance(entries, list) else []):
            if not isinstance(entry, str) or "\n" not in entry.strip():
                continue  # a file's name, read as a file of its own
            try:
                parsed = safe_load_all(entry)
            except (FormatError, RecursionError):
                continue
            objects = [cast(Obj, p) for p in parsed if isinstance(p, dict)]
            if objects:
                yield f"{name}.{number}.", objects


def _inline_patches(doc: Obj) -> Iterator[tuple[str, object, object]]:
    """(key-path prefix, patch, target) of each patch written inline: text to parse, or an
    object (a HelmRelease post-renderer's) — in a kustomization (``patches[].patch``,
    ``patchesStrategicMerge``, ``patchesJson6902``), a Flux Kustomization (``spec.patches``), a
    HelmRelease's ``spec.postRenderers[].kustomize`` or a FluxInstance's ``spec.kustomize``:
    what they hold ends up in the built object, a Secret's values or a HelmRelease's too."""
    api = doc.get("apiVersion")
    api = api if isinstance(api, str) else ""
    holders: list[tuple[str, Obj]] = []
    spec = doc.get("spec")
    spec_d = cast(Obj, spec) if isinstance(spec, dict) else {}
    if api.startswith("kustomize.toolkit.fluxcd.io/"):
        holders.append(("spec.", {"patches": spec_d.get("patches")}))
    elif api.startswith("helm.toolkit.fluxcd.io/"):
        renderers = spec_d.get("postRenderers")
        for number, renderer in enumerate(renderers if isinstance(renderers, list) else []):
            kustomize = cast(Obj, renderer).get("kustomize") if isinstance(renderer, dict) else None
            if isinstance(kustomize, dict):
                holders.append((f"spec.postRenderers.{number}.kustomize.", cast(Obj, kustomize)))
    elif api.startswith("fluxcd.controlplane.io/"):
        kustomize = spec_d.get("kustomize")
        if isinstance(kustomize, dict):
            holders.append(("spec.kustomize.", cast(Obj, kustomize)))
    elif doc.get("kind") in _PATCH_TRANSFORMERS:
        # a patch transformer's config (``transformers: [tr.yaml]``): its one inline patch, to
        # its target (the attack review of stop 51: stringData added to an encrypted Secret)
        field = _PATCH_TRANSFORMERS[cast(str, doc.get("kind"))]
        content = doc.get(field)
        if isinstance(content, str) and _inline_text(content):
            yield f"{field}.", content, doc.get("target")
        return
    elif not api or api.startswith("kustomize.config.k8s.io/"):
        holders.append(("", doc))
    for base, holder in holders:
        for name in _PATCH_LISTS:
            entries = holder.get(name)
            if not isinstance(entries, list):
                continue
            for number, entry in enumerate(entries):
                if isinstance(entry, dict) and "patch" in entry:
                    content, at = cast(Obj, entry).get("patch"), f"{base}{name}.{number}.patch."
                    target: object = cast(Obj, entry).get("target")
                else:  # an inline patchesStrategicMerge item: text, or an object
                    content, at, target = entry, f"{base}{name}.{number}.", None
                if isinstance(content, str):
                    if _inline_text(content):
                        yield at, content, target
                elif isinstance(content, list) or (
                    isinstance(content, dict) and "kind" in content  # an object, not {path: …}
                ):
                    yield at, content, target


def _inline_text(text: str) -> bool:
    """Whether a patch entry's text is the patch itself, not the name of a patch file."""
    body = text.strip()
    return ":" in body and ("\n" in body or body.startswith(("{", "[")))


def is_secret(obj: Obj) -> bool:
    """A core v1 Secret (``apiVersion: v1``, ``kind: Secret``), or a clustersecret.io
    ``ClusterSecret``, whose ``data`` its operator copies into a Secret in every namespace it
    matches (the attack review of stop 52: a password there passed)."""
    kind, api = obj.get("kind"), obj.get("apiVersion")
    if kind == "Secret" and api == "v1":
        return True
    return kind == "ClusterSecret" and isinstance(api, str) and api.startswith("clustersecret.io/")


def label(obj: Obj) -> str:
    """``namespace/name`` of an object, or its name, or ``(unnamed)``."""
    meta = obj.get("metadata")
    meta_d = cast(Obj, meta) if isinstance(meta, dict) else {}
    name, namespace = meta_d.get("name"), meta_d.get("namespace")
    return f"{namespace}/{name}" if namespace else str(name or "(unnamed)")


def is_placeholder(value: str) -> bool:
    """Empty, a Flux variable, a template, an ``<angle>`` marker or a secret-manager reference
    (``op://vault/item/field``, ``vault:…``): nothing committed (``repo.placeholders``, plus an
    unclosed ``{{`` and an angle marker with spaces inside)."""
    if repo_placeholder(value) or bool(_ANGLE.match(value)):
        return True
    return "{{" in value and not holds_secret_around(strip_templates(value).replace("{{", ""))


# An ASCII-armored OpenPGP public key block (RFC 9580 §6.2): armor headers (``Comment: …``),
# a blank line, base64 lines and an optional ``=XXXX`` checksum. What the packets inside are is
# read, not taken from the label (see ``pgp_public_packets``).
_PGP_PUBLIC_BLOCK = re.compile(
    r"[ \t]*-----BEGIN PGP PUBLIC KEY BLOCK-----[ \t]*\r?\n"
    r"(?:[A-Za-z][A-Za-z0-9-]*: [^\n]*\n)*"
    r"(?P<body>[A-Za-z0-9+/=\s]+?)"
    r"-----END PGP PUBLIC KEY BLOCK-----[ \t]*(?:\r?\n|\Z)"
)
_PGP_CHECKSUM = re.compile(r"^=[A-Za-z0-9+/]{4}$")
# The packets of a transferable public key: public key and subkey, user ID and attribute,
# signature, trust. A secret key or subkey (5, 7) is never among them.
_PGP_PUBLIC_TAGS = frozenset((2, 6, 12, 13, 14, 17))


def pgp_public_packets(data: bytes) -> bool:
    """Whether ``data`` is a run of OpenPGP packets of public keys only, the first of them a
    public key (tag 6): a secret-key packet under a public label is no public key."""
    pos, first = 0, None
    while pos < len(data):
        head = data[pos]
        if not head & 0x80:
            return False
        if head & 0x40:  # new format: the tag in six bits, then a length of 1, 2 or 5 octets
            tag = head & 0x3F
            octet = data[pos + 1] if pos + 1 < len(data) else 0
            if octet < 192:
                length, pos = octet, pos + 2
            elif octet < 224:
                second = data[pos + 2] if pos + 2 < len(data) else 0
                length, pos = ((octet - 192) << 8) + second + 192, pos + 3
            elif octet == 255:
                length, pos = int.from_bytes(data[pos + 2 : pos + 6], "big"), pos + 6
            else:
                return False  # a partial length: literal or encrypted data, never a key
        else:  # old format: four bits of tag, and a length of 1, 2 or 4 octets
            tag, size = (head >> 2) & 0x0F, head & 0x03
            if size == 3:
                return False  # an indeterminate length
            width = 1 << size
            length, pos = int.from_bytes(data[pos + 1 : pos + 1 + width], "big"), pos + 1 + width
        if tag not in _PGP_PUBLIC_TAGS or pos + length > len(data):
            return False
        first = tag if first is None else first
        pos += length
    return first == 6


def _pgp_public_keys(text: str) -> bool:
    """Only ASCII-armored OpenPGP public key blocks (a Flux GitRepository's ``spec.verify``
    keyring, ``author1.asc``), one or more, whose packets are public keys only."""
    pos, found = 0, False
    text = text.strip()
    while pos < len(text):
        block = _PGP_PUBLIC_BLOCK.match(text, pos)
        if block is None:
            return False
        lines = [line.strip() for line in block["body"].split("\n") if line.strip()]
        if lines and _PGP_CHECKSUM.match(lines[-1]):
            lines.pop()
        try:
            packets = base64.b64decode("".join(lines), validate=True)
        except (binascii.Error, ValueError):
            return False
        if not pgp_public_packets(packets):
            return False
        found = True
        pos = block.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return found


def is_public_material(key_path: str, value: object) -> bool:
    """Certificates and public keys in PEM (``ca.crt``, ``tls.crt``), OpenSSH public key lines
    (``authorized_keys``, ``known_hosts``), ASCII-armored OpenPGP public key blocks (a Flux
    ``spec.verify`` keyring) and container image references under an image key:
    public by design, never a secret, whether in ``stringData`` or base64 under ``data``. One
    private block or other line and it is not.
    """
    if not isinstance(value, str):
        return False
    text = value
    if key_path.startswith("data."):
        try:
            text = base64.b64decode("".join(value.split()), validate=True).decode("ascii")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return False
    if _IMAGE_KEY.search(key_path) and _IMAGE_REF.match(text.strip()):
        return True  # plugin-barman-cloud's SIDECAR_IMAGE: ghcr.io/cloudnative-pg/…:v0.10.0
    # PEM blocks alone, each parsing as its label says (the attack review: a private key's DER,
    # or a password, under a CERTIFICATE label passed)
    if text.startswith("eyJ"):
        from secretsmgr.audit.credentials import public_jwt  # it reads this module

        if public_jwt(text.strip()):
            return True  # an account's NATS JWT, Supabase's anon key
    return public_blocks_parse(text) or ssh_public_keys(text) or _pgp_public_keys(text)


# A container image reference under a key that names one: public by design.
_IMAGE_KEY = re.compile(r"(?i)(?:^|[._-])image$|[a-z]Image$")
# a registry or organisation path, then a version tag or a digest (``ci-bot:Zq8vLw2pRt9x`` is
# no image reference)
_IMAGE_REF = re.compile(
    r"^[a-z0-9.-]+(?::\d{1,5})?(?:/[a-z0-9._-]+)+"
    r"(?::v?\d+(?:\.\d+)*(?:[-+.][\w.-]*)?|:latest)?(?:@sha256:[0-9a-f]{64})?$"
)


def is_plaintext_value(value: object) -> bool:
    """A value a Secret would hand out in clear: not empty, not a placeholder, not ``ENC[…]``."""
    if value is None:
        return False
    if isinstance(value, str):
        return not is_placeholder(value) and not value.startswith(ENC_PREFIX)
    return not isinstance(value, dict | list) or bool(value)


def secret_values(obj: Obj) -> Iterator[tuple[str, object]]:
    """``(section.key, value)`` for every entry under a Secret's ``data``/``stringData``."""
    copies = obj.get("kind") == "ClusterSecret"
    for section in ("stringData", "data"):
        values = obj.get(section)
        if isinstance(values, dict):
            for key, value in cast(dict[object, object], values).items():
                if isinstance(key, str) and key.startswith("$"):
                    continue  # a patch directive ($patch: delete), never a Secret key
                if copies and key == "valueFrom" and isinstance(value, dict):
                    continue  # a ClusterSecret copying another Secret (secretKeyRef)
                yield f"{section}.{key}", value
