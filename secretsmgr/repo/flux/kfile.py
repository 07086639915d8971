"""kustomization files as kustomize-controller reads them: the references they make."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import cast

from secretsmgr.errors import FormatError
from secretsmgr.repo.flux.objects import as_list, as_map, as_str, go_fields
from secretsmgr.repo.flux.patch import Patch, Target, parse_target
from secretsmgr.repo.flux.replace import Replacement, parse_replacements
from secretsmgr.sops.yamlio import safe_load_all

KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
_REMOTE_PREFIXES = ("git@", "git::", "gh:", "ssh:", "github.com/", "github.com:", "oci:")


class UseKind(StrEnum):
    """How a build reads a file."""

    RESOURCE = "resource"
    SECRET_FILE = "secretGenerator files"
    SECRET_ENV = "secretGenerator envs"
    CONFIGMAP_SOURCE = "configMapGenerator input"
    PATCH = "patch"  # kustomize `patches:` with a path: decrypted by kustomize-controller >= 1.5
    LEGACY_PATCH = "legacy patch"  # patchesStrategicMerge / patchesJson6902 files: never
    KUSTOMIZATION = "kustomization"
    OTHER = "other"  # crds, configurations, replacements, generator/transformer configs


@dataclass(frozen=True, slots=True)
class Use:
    """One way a build reads a file; ``via_component`` = reached through a kustomize Component."""

    kind: UseKind
    via_component: bool
    target: str | None = None  # a patch's target kind, when its kustomization names one


@dataclass(frozen=True, slots=True)
class PatchRef:
    """A patch of a kustomization file: a file (``path``) or inline text."""

    path: str | None
    inline: str | None
    target: Target | None
    kind: UseKind  # PATCH or LEGACY_PATCH
    json6902: bool = False


@dataclass(frozen=True, slots=True)
class KFile:
    """The parts of one kustomization file the model follows (paths relative to its folder)."""

    path: str
    resources: tuple[str, ...] = ()
    components: tuple[str, ...] = ()
    patches: tuple[PatchRef, ...] = ()
    inline_patches: tuple[Patch, ...] = ()  # Flux spec.patches, already parsed
    secret_files: tuple[str, ...] = ()
    secret_envs: tuple[str, ...] = ()
    configmap_sources: tuple[str, ...] = ()
    other_files: tuple[str, ...] = ()
    # ``generators:`` entries: config files (also in other_files) and inline configs, whose
    # builtin SecretGenerator/ConfigMapGenerator read files of this folder (generator_sources)
    generator_configs: tuple[str, ...] = ()
    inline_generators: tuple[str, ...] = ()
    namespace: str | None = None
    name_prefix: str = ""
    name_suffix: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    replacements: tuple[Replacement, ...] = ()  # inline entries (replace.py)
    # commonAnnotations given (the model builds no annotations; SM015 asks whether a
    # transformer writes into an object's metadata)
    annotates: bool = False
    problems: tuple[str, ...] = ()


def git_address(ref: str) -> bool:
    """Whether kustomize reads ``ref`` as a git address even where a folder of that name is
    here (a URL, ``github.com/…``): it fetches it (the last review of stop 55); the other
    remote-looking names (``db?ref=main``, ``git@db``, ``gh:db``) it reads from a folder."""
    return "://" in ref or ref.startswith(("github.com/", "github.com:"))


def is_remote(ref: str) -> bool:
    """Whether a kustomize reference points outside the repository (a URL, a git remote)."""
    return "://" in ref or ref.startswith(_REMOTE_PREFIXES) or "?ref=" in ref


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [v for v in as_list(value) if isinstance(v, str)]


# The fields of kustomize's types that this module reads, as kustomize names them: it reads a
# kustomization file through Go's encoding/json, so a key in any case fills them (go_fields).
KUSTOMIZATION_FIELDS = (
    "resources",
    "bases",
    "components",
    "crds",
    "configurations",
    "generators",
    "transformers",
    "validators",
    "replacements",
    "openapi",
    "patches",
    "patchesStrategicMerge",
    "patchesJson6902",
    "secretGenerator",
    "configMapGenerator",
    "commonLabels",
    "labels",
    "namespace",
    "namePrefix",
    "nameSuffix",
)
GENERATOR_FIELDS = ("files", "envs", "env")
PATCH_FIELDS = ("path", "patch", "target")
TARGET_FIELDS = (
    "group",
    "version",
    "kind",
    "name",
    "namespace",
    "labelSelector",
    "annotationSelector",
)
PATH_FIELDS = ("path",)
LABEL_FIELDS = ("pairs",)


_FLUX_API = "kustomize.toolkit.fluxcd.io/"


def _generator_refs(gen: Mapping[str, object]) -> tuple[list[str], list[str]]:
    """(files, envs) a generator reads: ``files`` entries as ``KEY=path`` or ``path``."""
    files = []
    for source in _strings(gen.get("files")):
        key, sep, ref_path = source.partition("=")
        files.append(ref_path if sep else key)
    return files, [*_strings(gen.get("envs")), *_strings(gen.get("env"))]


def generator_sources(docs: Iterable[object]) -> tuple[list[str], list[str], list[str]]:
    """(secret files, secret envs, ConfigMap sources) that the builtin generator configs among
    ``docs`` read (``apiVersion: builtin``, ``kind: SecretGenerator``/``ConfigMapGenerator``,
    as a kustomization's ``generators:`` lists them): paths relative to that kustomization's
    folder, as kustomize resolves them (the review of stop 52: a SecretGenerator config's
    ``envs:`` file of passwords was no layer's, and the gate only warned)."""
    secret_files: list[str] = []
    secret_envs: list[str] = []
    configmap: list[str] = []
    for doc in docs:
        if not isinstance(doc, dict) or doc.get("apiVersion") != "builtin":
            continue
        kind = doc.get("kind")
        if kind not in ("SecretGenerator", "ConfigMapGenerator"):
            continue
        gen = go_fields(doc, GENERATOR_FIELDS) or {}
        files, envs = _generator_refs(gen)
        if kind == "SecretGenerator":
            secret_files += files
            secret_envs += envs
        else:
            configmap += files + envs
    return secret_files, secret_envs, configmap


def parse_kfile(path: str, text: str) -> KFile:
    """The references of a kustomization file; malformed parts become ``problems``."""
    problems: list[str] = []
    try:
        docs = [d for d in safe_load_all(text) if d is not None]
    except FormatError as exc:
        return KFile(path, problems=(f"{path}: {exc.message}",))
    data = go_fields(docs[0], KUSTOMIZATION_FIELDS) if docs else {}
    if data is None:
        return KFile(path, problems=(f"{path}: a kustomization must be a mapping",))
    first = docs[0] if docs else None
    if isinstance(first, dict) and str(first.get("apiVersion", "")).startswith(_FLUX_API):
        # Flux's own object in kustomize's file (sweep 46, fzmubin98/k3s-GitOps-assignement):
        # kustomize refuses its unknown field `spec`, and the whole build fails
        problems.append(
            f"{path} is a Flux Kustomization, not a kustomize file: kustomize refuses its spec "
            "field, so Flux fails this build and applies nothing of it"
        )
    resources = [
        *_strings(data.get("resources")),
        *_strings(data.get("bases")),
    ]
    other = [
        *_strings(data.get("crds")),
        *_strings(data.get("configurations")),
        # an item with a line break is an inline transformer's YAML, not a path (kustomize
        # reads both: jfroy/flatops's AnnotationsTransformer)
        *(v for v in _strings(data.get("generators")) if "\n" not in v),
        *(v for v in _strings(data.get("transformers")) if "\n" not in v),
        *(v for v in _strings(data.get("validators")) if "\n" not in v),
    ]
    for entry in as_list(data.get("replacements")):
        ref = go_fields(entry, PATH_FIELDS)
        if ref and as_str(ref.get("path")):
            other.append(cast(str, ref.get("path")))
    openapi = go_fields(data.get("openapi"), PATH_FIELDS)
    if openapi and as_str(openapi.get("path")):
        other.append(cast(str, openapi.get("path")))
    patches: list[PatchRef] = []
    for entry in as_list(data.get("patches")):
        if isinstance(entry, str):
            if "\n" not in entry:
                patches.append(PatchRef(entry, None, None, UseKind.PATCH))
            continue
        ref = go_fields(entry, PATCH_FIELDS)
        if ref is None:
            problems.append(f"{path}: a patches entry is not a mapping")
            continue
        patches.append(
            PatchRef(
                as_str(ref.get("path")),
                as_str(ref.get("patch")),
                parse_target(go_fields(ref.get("target"), TARGET_FIELDS)),
                UseKind.PATCH,
            )
        )
    for entry in as_list(data.get("patchesStrategicMerge")):
        if isinstance(entry, str):
            is_file = "\n" not in entry and not entry.lstrip().startswith(("{", "apiVersion"))
            patches.append(
                PatchRef(
                    entry if is_file else None,
                    None if is_file else entry,
                    None,
                    UseKind.LEGACY_PATCH,
                )
            )
    for entry in as_list(data.get("patchesJson6902")):
        ref = go_fields(entry, PATCH_FIELDS)
        if ref is None:
            continue
        patches.append(
            PatchRef(
                as_str(ref.get("path")),
                as_str(ref.get("patch")),
                parse_target(go_fields(ref.get("target"), TARGET_FIELDS)),
                UseKind.LEGACY_PATCH,
                json6902=True,
            )
        )
    secret_files: list[str] = []
    secret_envs: list[str] = []
    configmap: list[str] = []
    for field_name, is_secret in (("secretGenerator", True), ("configMapGenerator", False)):
        for entry in as_list(data.get(field_name)):
            gen = go_fields(entry, GENERATOR_FIELDS)
            if gen is None:
                problems.append(f"{path}: a {field_name} entry is not a mapping")
                continue
            files, envs = _generator_refs(gen)
            if is_secret:
                secret_files += files
                secret_envs += envs
            else:
                configmap += files + envs
    labels: dict[str, str] = {}
    for k, v in (as_map(data.get("commonLabels")) or {}).items():
        labels[k] = str(v)
    for entry in as_list(data.get("labels")):
        label_entry = go_fields(entry, LABEL_FIELDS) or {}
        pairs = as_map(label_entry.get("pairs")) or {}
        labels.update({k: str(v) for k, v in pairs.items()})
    return KFile(
        path=path,
        resources=tuple(resources),
        components=tuple(_strings(data.get("components"))),
        patches=tuple(patches),
        secret_files=tuple(secret_files),
        secret_envs=tuple(secret_envs),
        configmap_sources=tuple(configmap),
        other_files=tuple(other),
        generator_configs=tuple(v for v in _strings(data.get("generators")) if "\n" not in v),
        inline_generators=tuple(v for v in _strings(data.get("generators")) if "\n" in v),
        namespace=as_str(data.get("namespace")),
        name_prefix=as_str(data.get("namePrefix")) or "",
        name_suffix=as_str(data.get("nameSuffix")) or "",
        labels=labels,
        annotates=bool(as_map(data.get("commonAnnotations"))),
        replacements=parse_replacements(data.get("replacements")),
        problems=tuple(problems),
    )
