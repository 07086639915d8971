"""SM010 layer-without-decryption: Flux applies the file still encrypted."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, replace

from secretsmgr.audit.context import AuditContext
from secretsmgr.audit.finding import Finding, Place, Rule, RuleId, Severity
from secretsmgr.repo.decryptionfix import decryption_text as _decryption_text
from secretsmgr.repo.decryptionfix import key_kinds as _key_kinds
from secretsmgr.repo.flux import Layer, UseKind
from secretsmgr.repo.flux.objects import KUSTOMIZE_GROUP
from secretsmgr.repo.scan import ScannedFile
from secretsmgr.shellword import sh_word
from secretsmgr.sops.document import FileFormat
from secretsmgr.sops.locate import key_lines

_MARKER = KUSTOMIZE_GROUP.encode("ascii")


@dataclass(frozen=True, slots=True)
class SpecLine:
    """Where a Flux Kustomization's ``spec`` starts (where ``decryption`` goes)."""

    path: str
    name: str
    line: int


def detect(file: ScannedFile) -> list[SpecLine]:
    """The ``spec`` line of every Flux Kustomization in a YAML file."""
    if file.format is not FileFormat.YAML or (
        _MARKER not in file.data and b"FluxInstance" not in file.data
    ):
        return []
    try:
        text = file.data.decode("utf-8")
    except UnicodeDecodeError:
        return []
    return [
        SpecLine(
            file.path, doc.name if doc.kind == "Kustomization" else _INSTANCE, doc.lines["spec"]
        )
        for doc in key_lines(text, FileFormat.YAML)
        if doc.kind in ("Kustomization", "FluxInstance")
        and doc.name is not None
        and "spec" in doc.lines
    ]


_INSTANCE = "(FluxInstance)"  # the name a FluxInstance's spec line is recorded under


def _spec_line(hits: list[SpecLine], layer: Layer) -> int | None:
    """The layer's own ``spec`` line; the only Kustomization's of its manifest when a build
    renamed it (namePrefix); None when that is ambiguous or unknown."""
    here = [hit for hit in hits if hit.path == layer.source]
    own = layer.name.rpartition("/")[2]  # ``namespace/name`` when the name is ambiguous
    named = [hit.line for hit in here if hit.name == own]
    return named[0] if named else here[0].line if len(here) == 1 else None


def _configmap_only(layer: Layer, path: str) -> bool:
    """Whether ``layer`` uses the file only as a configMapGenerator input or in a kustomize
    configuration field, which Flux never decrypts, with or without spec.decryption (SM015
    says so)."""
    uses = layer.uses.get(path, ())
    never = (UseKind.CONFIGMAP_SOURCE, UseKind.OTHER)
    return bool(uses) and all(use.kind in never for use in uses)


def _why(layer: Layer) -> str:
    if layer.decryption is None:
        return "has no spec.decryption"
    provider = layer.decryption.provider or "(none)"
    return f"has decryption provider {provider}, not sops"


def _fix_text(decryption: str, layer: Layer, hits: list[SpecLine], several: bool = False) -> str:
    """Where the decryption goes: the Kustomization (for a bootstrap's, see ``_fix_all``); a
    FluxInstance's patches of the sync Kustomization it generates (it has no spec.decryption);
    `.secretsmgr.yaml` for a root applied from outside the repository, which it describes."""
    settings = _SETTINGS_ROOT.search(layer.source)
    if settings is not None:
        return (
            f"set clusters.{settings.group(1)}.decryption in .secretsmgr.yaml to the "
            f"spec.decryption that whatever applies this root gives it (Terraform, a cloud "
            f"provider's Flux extension), for example {decryption}"
        )
    if any(h.path == layer.source and h.name == _INSTANCE for h in hits):
        return (
            f"add to {layer.source} a spec.kustomize.patches entry that targets "
            f"{{kind: Kustomization}} and adds /spec/decryption {decryption} "
            "(a FluxInstance has no spec.decryption of its own)"
        )
    # a file of several Kustomizations: which one (sweep 76, ebadfd/k3s-infra: apps.yaml holds
    # six, and the top of the file is another layer's)
    target = (
        f"the Kustomization {layer.name.rpartition('/')[2]} in {layer.source}"
        if several
        else layer.source
    )
    ref = _SECRET_REF.search(decryption)
    if ref is not None and layer.namespace and layer.namespace != "flux-system":
        # Flux reads the Secret in the Kustomization's own namespace (sweep 20, tscibilia:
        # the key had gone to flux-system/sops-age, and nothing said to export it again)
        return (
            f"add spec.decryption {decryption} to {target}; Flux reads that Secret in the "
            f"Kustomization's namespace, {layer.namespace}: give it the key there (secretsmgr "
            f"key export --namespace {sh_word(layer.namespace)} --name {sh_word(ref.group(1))})"
        )
    return f"add spec.decryption {decryption} to {target}"


_SECRET_REF = re.compile(r"secretRef: \{name: ([^}\s]+)\}")


def _bootstrap_kustomization(layer: Layer, files: Collection[str]) -> str | None:
    """The kustomization.yaml beside a bootstrap's ``gotk-sync.yaml``, which flux bootstrap
    writes and rewrites: the decryption goes there, as a patch (Flux's documented way)."""
    folder, name = posixpath.split(layer.source)
    kustomization = posixpath.join(folder, "kustomization.yaml")
    return kustomization if name == _BOOTSTRAP_SYNC and kustomization in files else None


def _fix_all(
    layers: Sequence[Layer],
    bad: Sequence[Layer],
    hits: list[SpecLine],
    files: Collection[str],
    kinds: frozenset[str],
    controller_secrets: Callable[[str | None], Sequence[str]] = lambda _cluster: (),
) -> str:
    """The fix for every layer of ``bad``; one sentence for the same patch in several
    bootstrap folders. ``controller_secrets``: the ``--sops-age-secret`` Secrets a cluster's
    kustomize-controller is given."""
    patches: dict[tuple[str, str], list[str]] = {}
    others: list[str] = []
    for layer in bad:
        decryption = _decryption_text(layers, layer, kinds, controller_secrets(layer.cluster))
        where = _bootstrap_kustomization(layer, files)
        if where is None:
            several = sum(1 for x in layers if x.source == layer.source) > 1
            others.append(_fix_text(decryption, layer, hits, several))
        else:
            patches.setdefault((layer.name.rpartition("/")[2], decryption), []).append(where)
    texts = [
        f"add to {' and '.join(dict.fromkeys(wheres))} a patches entry that targets "
        f"{{kind: Kustomization, name: {name}}} and adds /spec/decryption {decryption} "
        f"({_BOOTSTRAP_SYNC} is written by flux bootstrap, which overwrites it)"
        for (name, decryption), wheres in patches.items()
    ]
    return "; and ".join(dict.fromkeys([*texts, *others]))


_BOOTSTRAP_SYNC = "gotk-sync.yaml"  # the file flux bootstrap writes (and rewrites)


_SETTINGS_ROOT = re.compile(r"\(\.secretsmgr\.yaml clusters\.([^)]+)\)$")


def _name(layer: Layer, clusters: bool) -> str:
    return f"{layer.label}" if clusters else layer.name


def _unscanned(ctx: AuditContext, layers: Sequence[Layer], hits: list[SpecLine]) -> list[SpecLine]:
    """The spec lines of the manifests of ``layers`` that the run did not scan (check of a
    staged file: the FluxInstance whose sync the layer is went unread, and the fix said to add
    spec.decryption to it, which it has not; sweep 80, emerconn/fleet-infra), read from disk."""
    seen = {hit.path for hit in hits}
    out: list[SpecLine] = []
    for source in dict.fromkeys(x.source for x in layers):
        if source in seen or not source.endswith((".yaml", ".yml")):
            continue
        try:
            data = (ctx.repo.root / source).read_bytes()
        except OSError:
            continue
        out += detect(ScannedFile(source, data, FileFormat.YAML, None))
        seen.add(source)
    return out


def check(ctx: AuditContext) -> Iterator[Finding]:
    """SOPS files a live layer applies although its Flux Kustomization does not decrypt sops.

    The decryption is the layer's own after its parent's ``spec.patches`` (a parent that adds
    ``spec.decryption`` to every child is honoured). A file under an ``outside_flux:`` glob is
    a warning, not an error: the glob says another tool uses it, the model says a layer applies
    it, and a glob wider than meant (``kubernetes/**``) must not silence a real error. The
    finding is on the SOPS file; the message names the layer and manifest.
    """
    graph = ctx.repo.layers
    if not graph.layers:
        return
    clusters = len(graph.clusters) > 1
    spec_lines = [hit for hit in ctx.repo.hits_of(RULE.id) if isinstance(hit, SpecLine)]
    files = frozenset(ctx.repo.all_files)
    for entry in ctx.repo.sops_files:
        if not entry.has_metadata:
            continue
        bad = [
            layer
            for layer in graph.placements(entry.path)
            if not layer.decrypts_sops and not _configmap_only(layer, entry.path)
        ]
        if not bad:
            continue
        spec_lines += _unscanned(ctx, bad, spec_lines)
        parts = [f"layer {_name(x, clusters)} ({x.source}) {_why(x)}" for x in bad]
        message = "; ".join(parts) + ": Flux applies this file still encrypted"
        outside = ctx.repo.settings.is_outside_flux(entry.path)
        if outside:
            message = f"listed in outside_flux, yet {message}"
        finding = RULE.finding(
            entry.path,
            message,
            fix=_fix_all(
                graph.layers,
                bad,
                spec_lines,
                files,
                _key_kinds(entry),
                graph.controller_age_secrets_of,
            )
            + ("; or, if Flux does not use it, narrow the outside_flux glob" if outside else ""),
            fix_at=Place(bad[0].source, _spec_line(spec_lines, bad[0])),
            layers=tuple(x.label for x in bad),  # reports file it under these
        )
        yield replace(finding, severity=Severity.WARNING) if outside else finding


RULE = Rule(
    id=RuleId("SM010"),
    name="layer-without-decryption",
    severity=Severity.ERROR,
    needs=frozenset(),
    summary="A SOPS file in a layer whose Kustomization has no sops decryption",
    check=check,
    detect=detect,
)
