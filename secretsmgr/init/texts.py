"""The texts ``init`` writes: `.sops.yaml` and `.pre-commit-config.yaml` (settings: see
``repo/settingsfile.py``). Pure: data in, text out; each text is parsed back by the caller."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from secretsmgr import __version__
from secretsmgr.errors import FormatError
from secretsmgr.init.rules import PathGroup, exact_regex
from secretsmgr.repo.settingsfile import PROJECT_URL
from secretsmgr.sops.document import FileFormat, parse_documents
from secretsmgr.sops.model import DEFAULT_RULE, EncryptionRule
from secretsmgr.sops.tree import MapNode, Node, SeqNode
from secretsmgr.sops.values import Comment
from secretsmgr.sops.yamlio import emit_yaml

FLUX_ENCRYPTED_REGEX = "^(data|stringData)$"
HOOK_ID = "secretsmgr-check"
PRE_COMMIT_NAME = ".pre-commit-config.yaml"
HOOK_REV = f"v{__version__}"  # the release whose CLI wrote the file; README documents the same


def _single_quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _cluster_label(clusters: Sequence[str | None]) -> str:
    named = [c for c in clusters if c is not None]
    if not named:
        return "the cluster"
    if len(named) == 1:
        return f"cluster {named[0]}"
    return "clusters " + ", ".join(named)


def rule_recipients(
    group: PathGroup, keys: Mapping[str | None, str], allowed: Sequence[str]
) -> list[str]:
    """The age keys of ``group``'s rule: each of its clusters' key, then ``allowed``."""
    return list(dict.fromkeys([keys[c] for c in group.clusters] + list(allowed)))


@dataclass(frozen=True, slots=True)
class OwnRule:
    """SOPS files of a group already encrypted under another encryption rule than Flux's (a
    dotenv or a Helm values file encrypted whole): a rule of their own keeps them as they are,
    so init's `.sops.yaml` never contradicts them (SM011) nor re-encrypts them otherwise."""

    paths: tuple[str, ...]  # relative to the config's folder
    rule: EncryptionRule
    mac_only: bool = False  # mac_only_encrypted: true


def _rule_field(rule: EncryptionRule) -> list[str]:
    if rule == DEFAULT_RULE:
        return []  # sops's own default: no field
    return [f"    {rule.kind.value}: {_single_quoted(rule.value)}"]


def sops_yaml_text(
    groups: Sequence[PathGroup],
    keys: Mapping[str | None, str],
    allowed: Sequence[str],
    pgp: Mapping[str | None, Sequence[str]] | None = None,
    own: Mapping[int, Sequence[OwnRule]] | None = None,
    whole: frozenset[int] = frozenset(),
    mac_only: frozenset[int] = frozenset(),
    kms: Mapping[str | None, Sequence[tuple[str, str]]] | None = None,
) -> str:
    """`.sops.yaml` with rules for each group: each cluster's key plus ``allowed``, the PGP
    keys ``pgp`` gives its clusters (the ones Flux decrypts their PGP files with), and the
    cloud KMS keys ``kms`` gives them, as (rule field, key) (the ones kustomize-controller's
    own identity decrypts their files with).

    A group's rules: first one per ``own`` rule of its files (``own`` maps a group's index to
    them), then, for the groups of ``whole`` (whose folders hold such files), one for the
    dotenv and INI files of its folders, encrypted whole (their keys are never data or
    stringData: under Flux's encrypted_regex sops would encrypt none of their values; sweep 31,
    vikbaranov/flux-gitops), then the folders' rule, Flux's encrypted_regex, with
    ``mac_only_encrypted: true`` for the groups of ``mac_only``."""
    lines = [
        "# sops creation rules, written by `secretsmgr init`. Each rule covers the folders that",
        "# the same Flux clusters apply, and names each of those clusters' key (the public half",
        "# of the key in the Secret its Kustomizations decrypt with, flux-system/sops-age unless",
        "# they name another) plus the allowed_recipients of .secretsmgr.yaml.",
        "# sops matches path_regex against the path relative to this file and takes the first",
        "# rule that matches; only values under data and stringData are encrypted, as Flux",
        *(
            [
                "# expects of a Secret (dotenv and INI files, and files already encrypted",
                "# otherwise, have rules of their own, above their folders').",
            ]
            if any((own or {}).values()) or whole
            else ["# expects of a Secret."]  # sweep 40: it spoke of rules it had not written
        ),
        "# A file below none of these folders matches no rule: add one.",
        "creation_rules:",
    ]
    for number, group in enumerate(groups):
        recipients = [f"    age: {','.join(rule_recipients(group, keys, allowed))}"]
        fingerprints = dict.fromkeys(k for c in group.clusters for k in (pgp or {}).get(c, ()))
        if fingerprints:
            recipients.append(f"    pgp: {','.join(fingerprints)}")
        clouds: dict[str, dict[str, None]] = {}
        for field, key in (k for c in group.clusters for k in (kms or {}).get(c, ())):
            clouds.setdefault(field, {})[key] = None
        recipients += [f"    {field}: {','.join(ids)}" for field, ids in clouds.items()]
        label = _cluster_label(group.clusters)
        for rule in (own or {}).get(number, ()):
            regex = exact_regex(rule.paths)
            lines += [
                f"  # {label}: {', '.join(rule.paths)}, encrypted as they are",
                f"  - path_regex: {_single_quoted(regex)}",
                *_rule_field(rule.rule),
                *(["    mac_only_encrypted: true"] if rule.mac_only else []),
                *recipients,
            ]
        folders = [p for p in group.paths if p.endswith("/")]
        if folders and number in whole:
            regex = PathGroup((), tuple(folders)).path_regex + r".*\.(?:env|ini)$"
            lines += [
                f"  # {label}: dotenv and INI files in the folders of the rule below, every "
                "value encrypted",
                f"  - path_regex: {_single_quoted(regex)}",
                *recipients,
            ]
        lines += [
            f"  # {label}: {', '.join(group.paths)}",
            f"  - path_regex: {_single_quoted(group.path_regex)}",
            f"    encrypted_regex: {_single_quoted(FLUX_ENCRYPTED_REGEX)}",
            *(["    mac_only_encrypted: true"] if number in mac_only else []),
            *recipients,
        ]
    return "\n".join(lines) + "\n"


KEPT_SETTINGS = "# kept from the former .sops.yaml by `secretsmgr init --force`:"
KEPT_RULES = (
    "  # kept from the former .sops.yaml: the only rules of SOPS files no rule above matches"
)


def _uncommented(node: Node) -> Node:
    """``node`` without its comments (a kept rule's former place is gone, and a comment such as
    "this rule MUST be above the others" would now mislead)."""
    if isinstance(node, MapNode):
        return MapNode([(k, _uncommented(v)) for k, v in _no_comments(node.items)])
    if isinstance(node, SeqNode):
        return SeqNode([_uncommented(v) for v in node.items if not isinstance(v, Comment)])
    return node


def _no_comments(items: list[tuple[str, Node] | Comment]) -> list[tuple[str, Node]]:
    return [item for item in items if not isinstance(item, Comment)]


def kept_rules_text(existing: str, numbers: Sequence[int]) -> str | None:
    """The creation rules ``numbers`` (1-based, in order) of the former `.sops.yaml`
    ``existing``, as items to follow the rules ``sops_yaml_text`` writes: read, not copied, as
    ``other_settings`` reads the settings (aliases resolved). None when they do not read back."""
    if not numbers:
        return ""
    try:
        docs = parse_documents(existing, FileFormat.YAML)
    except (FormatError, RecursionError):
        return None
    rules = docs[0].get("creation_rules") if docs and isinstance(docs[0], MapNode) else None
    if not isinstance(rules, SeqNode):
        return None
    items = [item for item in rules.items if not isinstance(item, Comment)]
    if any(not 0 < n <= len(items) for n in numbers):
        return None
    picked = SeqNode([_uncommented(items[n - 1]) for n in numbers])
    body = emit_yaml([MapNode([("creation_rules", picked)])], 2).splitlines()[1:]
    if not all(line.startswith("  ") for line in body):  # pragma: no cover - emit_yaml's shape
        return None
    return "\n".join([KEPT_RULES, *body]) + "\n"


def other_settings(existing: str) -> tuple[str, tuple[str, ...]] | None:
    """The top-level settings of a `.sops.yaml` beside ``creation_rules`` (``stores:``, its
    YAML indent among them; ``destination_rules:``), written again as YAML with their names:
    read, not copied, so that a quoted key, an alias of an anchor in the rules dropped, or CRLF
    line ends carry over as sops reads them (the attack review: a copy of the text took a
    quoted `"creation_rules"` along, and the old rules won). ("", ()) when there is none;
    None when the file does not read as one mapping (a key written twice, a second document)."""
    if not existing.strip():
        return "", ()
    try:
        docs = parse_documents(existing, FileFormat.YAML)
    except (FormatError, RecursionError):
        return None
    if len(docs) != 1 or not isinstance(docs[0], MapNode):
        return None
    kept: list[tuple[str, Node] | Comment] = [
        item
        for item in docs[0].items
        if not isinstance(item, Comment) and item[0] != "creation_rules"
    ]
    names = tuple(item[0] for item in kept if not isinstance(item, Comment))
    if not names:
        return "", ()
    return f"{KEPT_SETTINGS}\n{emit_yaml([MapNode(kept)], 2)}", names


def _repo_entry(indent: str) -> list[str]:
    return [
        f"{indent}- repo: {PROJECT_URL}",
        f"{indent}  rev: {HOOK_REV}",
        f"{indent}  hooks:",
        f"{indent}    - id: {HOOK_ID}",
    ]


def precommit_text() -> str:
    """A new `.pre-commit-config.yaml` with the ``secretsmgr-check`` hook."""
    lines = [
        "# pre-commit hooks (https://pre-commit.com); run `pre-commit install` once per clone.",
        "# secretsmgr-check blocks plaintext Secrets, unencrypted SOPS values, secrets Flux",
        "# cannot decrypt and committed age private keys before they reach git history.",
        "repos:",
        *_repo_entry("  "),
    ]
    return "\n".join(lines) + "\n"


def has_hook(text: str) -> bool:
    """Whether a pre-commit config already names the ``secretsmgr-check`` hook."""
    return re.search(rf"(?m)^\s*-?\s*id:\s*['\"]?{HOOK_ID}['\"]?\s*(?:#.*)?$", text) is not None


def with_hook(text: str) -> str | None:
    """``text`` with our repository entry appended to its top-level block ``repos:`` list, or
    None when the file is not laid out that way (the caller then says what to add)."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if re.match(r"^repos:\s*(#.*)?$", line)), None)
    if start is None:
        return None
    end = start + 1
    indent: str | None = None
    while end < len(lines):
        line = lines[end]
        if line.strip() and not line.startswith((" ", "\t", "-", "#")):
            break  # the next top-level key
        if indent is None and line.lstrip().startswith("- "):
            indent = line[: len(line) - len(line.lstrip())]
        end += 1
    while end > start + 1 and not lines[end - 1].strip():
        end -= 1
    if indent is None:
        return None
    out = [*lines[:end], *_repo_entry(indent), *lines[end:]]
    return "\n".join(out) + "\n"
