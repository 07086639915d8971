"""SM012 not-deployed-by-flux: no live Flux layer applies the SOPS file."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from posixpath import basename, dirname, join, normpath

from secretsmgr.audit.context import AuditContext
from secretsmgr.audit.finding import Finding, Rule, RuleId, Severity
from secretsmgr.audit.hcl import HclCall, hcl_calls, hcl_values
from secretsmgr.repo.flux import Layer
from secretsmgr.repo.flux.kfile import KUSTOMIZATION_NAMES
from secretsmgr.repo.scan import ScannedFile
from secretsmgr.repo.sopsentry import SopsEntry
from secretsmgr.shellword import UNDECODED
from secretsmgr.sops import FileFormat


@dataclass(frozen=True, slots=True)
class ToolRead:
    """A file a Terraform/OpenTofu or Terragrunt file of the repository reads as SOPS: the
    paths it may be, the first that exists is it (one, or find_in_parent_folders' walk up)."""

    reader: str
    line: int
    paths: tuple[str, ...]
    # the folder each path is read from: the reader's own, or a folder above it, which counts
    # only where a root module (a .tf file) is there to run Terraform from (the attack review
    # of stop 34: an example .tf in docs/ silenced SM012 for a file a layer forgot)
    bases: tuple[str, ...] = ()


# sweep 24, andrasmaroy/infra and Tuxprogrammer/homelab: terraform/flux/providers.tf reads
# secrets.sops.yaml beside it (data "sops_file"), and SM012 said no tool used it
_SOPS_FILE = b"sops_file"  # the carlpett/sops provider's data source (sops_external: no file)
_DECRYPT = b"sops_decrypt_file"  # Terragrunt's function
_MODULE_DIR = ("${path.module}/", "${get_terragrunt_dir()}/")
_ROOT_DIR = ("${path.root}/", "${path.cwd}/")


# A Terraform file that reads a SOPS file is small; a larger one is not parsed for it
_MAX_READER = 256 * 1024


def _inside(path: str) -> bool:
    return path != ".." and not path.startswith("../")


def _paths(reader: str, written: str, *, upward: bool) -> tuple[str, ...]:
    """The repository paths ``written`` may name, nearest first: relative to ``reader``'s
    folder (Terraform's module, Terragrunt's config folder), and with ``upward`` (a bare
    path, ``${path.root}``, ``${path.cwd}``: the provider reads from where Terraform runs, the
    root module, which may call this folder as a module) relative to each folder above it
    too (sweep 24, andrasmaroy/infra: terraform/media/radarr/providers.tf reads
    "radarr/secrets.sops.yaml", terraform/media/main.tf calling it as ./radarr). None when
    it holds another interpolation or is absolute."""
    return tuple(p for p, _ in _based_paths(reader, written, upward=upward))


def _based_paths(reader: str, written: str, *, upward: bool) -> list[tuple[str, str]]:
    """``_paths`` with the folder each one is read from."""
    if written.startswith(_MODULE_DIR):
        written, upward = written.partition("/")[2], False
    elif written.startswith(_ROOT_DIR):
        written = written.partition("/")[2]
    if not written or "${" in written or "%{" in written or written.startswith("/"):
        return []
    folder = dirname(reader)
    out = [(normpath(join(folder, written)), folder)]
    while upward and folder:
        folder = dirname(folder)
        out.append((normpath(join(folder, written)), folder))
    return [(p, base) for p, base in out if _inside(p)]


def _parents(reader: str, name: str) -> tuple[str, ...]:
    """Where Terragrunt's ``find_in_parent_folders(name)`` looks, nearest first: from the
    folder above the config's own up to the root."""
    if not name or "${" in name or "%{" in name or name.startswith("/"):
        return ()
    out: list[str] = []
    folder = dirname(reader)
    while folder:
        folder = dirname(folder)
        out.append(normpath(join(folder, name)))
    return tuple(p for p in out if _inside(p))


def _call_paths(reader: str, call: HclCall) -> tuple[str, ...]:
    if call.argument is not None:
        return _paths(reader, call.argument, upward=False)
    inner = call.inner
    if inner is not None and inner.name == "find_in_parent_folders" and inner.argument:
        return _parents(reader, inner.argument)
    return ()


def _may_read(path: str) -> bool:
    """A Terraform/OpenTofu (``.tf``) or Terragrunt (``.hcl``) file."""
    return path.endswith((".tf", ".hcl"))


def detect(file: ScannedFile) -> list[ToolRead]:
    """The SOPS files a ``.tf`` or ``.hcl`` file reads: a ``data "sops_file"`` block's
    ``source_file``, Terragrunt's ``sops_decrypt_file(…)`` (only files naming either are
    parsed)."""
    if not _may_read(file.path):
        return []
    data = file.data
    if _SOPS_FILE not in data and _DECRYPT not in data:
        return []
    if len(data) > _MAX_READER:
        return []  # the attack review of stop 34: hostile megabytes parsed on every hook run
    text = data.decode("utf-8", errors="replace")
    out: list[ToolRead] = []
    if _SOPS_FILE in data:
        for value in hcl_values(text):
            parts = value.key_path.split(".")
            # an ephemeral resource reads it too (carlpett/sops 1.3; sweep 28, cloudlab)
            if parts[0] not in ("data", "ephemeral") or parts[1:2] != ["sops_file"]:
                continue
            if parts[3:] != ["source_file"]:
                continue
            based = [] if value.listed else _based_paths(file.path, value.value, upward=True)
            if based:
                paths, bases = zip(*based, strict=True)
                out.append(ToolRead(file.path, value.line, paths, bases))
    if _DECRYPT in data:
        for call in hcl_calls(text, frozenset(("sops_decrypt_file",))):
            if paths := _call_paths(file.path, call):
                out.append(ToolRead(file.path, call.line, paths))
    return out


def read_by_tools(hits: Iterable[object], files: Iterable[str]) -> Mapping[str, ToolRead]:
    """The repository's files that a Terraform or Terragrunt file reads, with the read."""
    present = frozenset(files)
    modules = {dirname(f) for f in present if f.endswith(".tf")}
    out: dict[str, ToolRead] = {}
    for hit in hits:
        if isinstance(hit, ToolRead):
            own = dirname(hit.reader)
            path = next(
                (
                    p
                    for i, p in enumerate(hit.paths)
                    if p in present
                    and (i >= len(hit.bases) or hit.bases[i] == own or hit.bases[i] in modules)
                ),
                None,
            )
            if path is not None:
                out.setdefault(path, hit)
    return out


def _glob_for(path: str, applied: set[str]) -> str:
    """The widest folder above ``path`` that holds no file a live layer reads (``applied``:
    every folder that holds one), as a glob: ``outside_flux`` silences SM010 too, so it must
    not take in what Flux applies (``kubernetes/**`` where ``kubernetes/talos/**`` is meant)."""
    folder, best = dirname(path), ""
    while folder and folder not in applied:
        best, folder = folder, dirname(folder)
    return _as_yaml_glob(f"{best}/**" if best else path)


def _as_yaml_glob(glob: str) -> str:
    """``glob`` as the fix writes it between double quotes in `.secretsmgr.yaml`: a byte of a
    name that is no UTF-8 as ``?`` (YAML text is UTF-8, and ``"\\xe9"`` reads as é, another
    name: the review of stop 51), a backslash and a quote escaped."""
    text = glob.translate(_AS_ANY_CHAR)
    return text.replace("\\", "\\\\").replace('"', '\\"')


_AS_ANY_CHAR = dict.fromkeys(UNDECODED, "?")


def _own_folder(path: str) -> str:
    """The file's own folder as a glob: where a source this checkout may be is not mapped, the
    folders Flux applies are unknown, and a wider glob would silence them all."""
    folder = dirname(path)
    return _as_yaml_glob(f"{folder}/**" if folder else path)


def _folders(files: Iterable[str]) -> set[str]:
    out: set[str] = set()
    for path in files:
        folder = dirname(path)
        while folder and folder not in out:
            out.add(folder)
            folder = dirname(folder)
    return out


def check(ctx: AuditContext) -> Iterator[Finding]:
    """SOPS files outside every live layer's build, unless ``outside_flux:`` names them.

    Such a file may well be used elsewhere (Talos, Ansible, Terraform, bootstrap): it is only
    reported as information, never with advice to delete it.
    """
    settings = ctx.repo.settings
    layers = ctx.repo.layers.layers
    # the repository says so itself: its Terraform or Terragrunt reads the file
    tools = read_by_tools(ctx.repo.hits_of(RULE.id), ctx.repo.all_files)
    applied: set[str] | None = None
    mirrored: dict[str, str] | None = None
    files: frozenset[str] | None = None
    for entry in ctx.repo.sops_files:
        if not entry.has_metadata:
            continue  # plaintext named like a SOPS file: SM002's (a template is information)
        if ctx.repo.layers_of(entry.path) or settings.is_outside_flux(entry.path):
            continue
        if entry.path in tools:
            continue
        if applied is None:
            applied = _folders(p for layer in layers for p in layer.files)
        glob = _glob_for(entry.path, applied)
        dropping = next((x for x in layers if entry.path in x.ignored), None)
        if dropping is not None:
            yield RULE.finding(
                entry.path,
                f"not deployed by Flux: the source of layer {ctx.repo.layers.shown(dropping)} "
                f"({dropping.source_ref}) leaves it out (.sourceignore or spec.ignore)",
                fix=(
                    "if that is on purpose (another tool uses it), list it in .secretsmgr.yaml: "
                    f'outside_flux: ["{glob}"]; otherwise take it out of the ignore rules of '
                    f"{dropping.source_ref}"
                ),
            )
            continue
        if mirrored is None:
            mirrored = {**_mirrored(layers), **ctx.repo.layers.mirrors}
        layer, folder = _unmapped_reader(layers, mirrored, entry.path) or (None, "")
        shown = ctx.repo.layers.shown(layer) if layer is not None else ""
        if layer is not None and layer.source_elsewhere:
            yield RULE.finding(
                entry.path,
                f"not applied: layer {shown} reads {layer.external}, which no manifest "
                f"here defines ({layer.source_elsewhere} is), so Flux cannot reconcile it",
                fix=(
                    f"set sourceRef.namespace: {layer.source_elsewhere.split('/')[1]} in "
                    f"{layer.source} (a sourceRef without one is looked up in the "
                    "Kustomization's own namespace)"
                ),
            )
            continue
        if layer is not None:
            below = f"/{entry.path}".find(f"/{layer.external_path}/") >= 0
            where = (
                f"at {layer.external_path}, and this file is below {folder}{layer.external_path}"
                if below
                else f"at {layer.external_path}; {folder} looks like a copy of it (a "
                f"Kustomization reading it lies there below its own spec.path), and this file "
                f"is below {folder}"
            )
            yield RULE.finding(
                entry.path,
                f"not placed: layer {shown} reads {layer.external}, which is not mapped "
                f"to this checkout, {where}: if that source is built from this repository, Flux "
                "deploys it",
                fix=(
                    f"if {layer.external} is built from this repository's "
                    f"{folder or 'root'} (an OCI artifact pushed from it, a mirror of it), map "
                    f'it in .secretsmgr.yaml: sources: {{"{layer.external}": {folder or "."}}}; '
                    "if another tool uses the file, list it in .secretsmgr.yaml: "
                    f'outside_flux: ["{_own_folder(entry.path)}"]'
                ),
            )
            continue
        if files is None:
            files = frozenset(ctx.repo.all_files)
        by_hand = _hand_root(ctx, entry.path, files)
        if by_hand is not None:
            name, folder, secret = by_hand
            yield RULE.finding(
                entry.path,
                f"not deployed by a Flux object of this repository: it lies in {folder} "
                f"beside the Kustomizations of cluster {name}, which nothing here applies: if "
                "a Kustomization made outside git (flux create kustomization "
                f"--path=./{folder}) applies that folder, Flux deploys this file",
                fix=(
                    "if so, name that folder as a cluster root in .secretsmgr.yaml (clusters:, "
                    f"docs/configuration.md): {name} with path: {folder}, and the decryption "
                    "that Kustomization has, if any (made with --decryption-provider=sops "
                    f"--decryption-secret={secret}: decryption: {{provider: sops, secretRef: "
                    f"{{name: {secret}}}}}); if another tool uses "
                    "the file, list it in .secretsmgr.yaml: outside_flux: "
                    f'["{_own_folder(entry.path)}"]; otherwise list it in the kustomization.yaml '
                    "of the layer that should apply it"
                ),
            )
            continue
        owner = _dormant_owner(ctx, entry.path, files)
        if owner is not None:
            yield RULE.finding(
                entry.path,
                "not deployed by Flux: no live Flux Kustomization applies this SOPS file",
                fix=(
                    "if another tool uses it (Talos, Ansible, Terraform, bootstrap), list it in "
                    f'.secretsmgr.yaml: outside_flux: ["{glob}"]; otherwise {owner}'
                ),
            )
            continue
        listing = _listing(entry.path, layers, files, ctx.repo.layers.shown)
        first = _unlisted_in(ctx, entry.path, listing, files) if listing is not None else None
        where = (
            f"under resources: in {listing[0]} (layer {listing[1]} builds it)"
            + (
                f", as {listing[2]}, the folder whose kustomization leads to it"
                if listing[2].startswith("./") and first is None
                else f", as {listing[2]}, after listing it in {first}, which does not yet"
                if listing[2].startswith("./")
                else f" as {listing[2]}"
                if "/" in listing[2]
                else ""
            )
            if listing is not None
            else "in the kustomization.yaml of the layer that should apply it"
        )
        commented = _commented_entry(ctx, entry.path, listing) if listing is not None else None
        folder_on = False
        if commented is not None and listing is not None:
            # the entry is there, switched off (sweep 93, prehor/home-ops: "list it under
            # resources:" where `# - ./postgres-recorder-secret.sops.yaml` stood)
            where = f"uncomment the line {commented} in {listing[0]} (layer {listing[1]} builds it)"
            folder_on = first is not None and not commented.rstrip("\"' /").endswith(
                basename(entry.path)
            )
            if folder_on:
                # a folder whose kustomization does not lead to the file: what below it applies
                # the file (a Kustomization it holds?) shows only then
                where += ", then audit again: it shows which layer applies the file"
        else:
            where = f"list it {where}"
        if listing is not None and not _manifest(entry):
            # kustomize fails a build on a resource that is no object (the last sweep of stop
            # 54, bornav/fluxcd: a note encrypted whole, documentation.txt): a generator reads it
            how = "envs:" if entry.format is FileFormat.DOTENV else "files:"
            # the path from that kustomization's folder (its files: entries are read from there:
            # the second review of stop 54, a file below a folder it does not list)
            rel = posixpath.relpath(entry.path, posixpath.dirname(listing[0]) or ".")
            entry_as = f" as {rel}" if "/" in rel else ""
            where = (
                f"have a secretGenerator in {listing[0]} read it under {how}{entry_as} (layer "
                f"{listing[1]} builds it; Flux decrypts a generator's SOPS sources): it is no "
                "Kubernetes object, which kustomize fails on as a resource"
            )
        if (
            not folder_on
            and listing is not None
            and any(ctx.repo.layers.shown(x) == listing[1] and x.decryption is None for x in layers)
        ):
            # listed there, it is applied still encrypted (sweep 83, DRSchlaubi/kbs610: the
            # pasted fix turned three SM012 infos into three SM010 errors)
            where += (
                f"; layer {listing[1]} has no spec.decryption: give it one too (the SM010 fix "
                "audit then prints says how), or Flux applies the file still encrypted"
            )
        yield RULE.finding(
            entry.path,
            "not deployed by Flux: no live Flux Kustomization applies this SOPS file",
            fix=(
                "if another tool uses it (Talos, Ansible, Terraform, bootstrap), list it in "
                f'.secretsmgr.yaml: outside_flux: ["{glob}"]; otherwise {where}'
            ),
        )


def _manifest(entry: SopsEntry) -> bool:
    """Whether a SOPS file is a Kubernetes object a build can list as a resource: YAML or
    JSON, not sops's binary store, its first document of a ``kind``."""
    sf = entry.sops_file
    if sf is None or entry.store is not None:
        return False
    if entry.format not in (FileFormat.YAML, FileFormat.JSON) or not sf.docs:
        return False
    return isinstance(sf.docs[0].get("kind"), str)


def _dormant_owner(ctx: AuditContext, path: str, files: frozenset[str]) -> str | None:
    """For a file below the spec.path of a Flux Kustomization of this checkout that nothing
    applies: how to apply that Kustomization again, the commented-out entry that left it out
    where there is one (sweep 83, TkPegatron/homelab-as-code: `#- ./thanos/ks.yaml`; the fix
    said to list the Secret in the parent layer's kustomization, which would apply it without
    its app). None for a file no such Kustomization holds."""
    owners = [
        (spec_path, name, origin, decrypts)
        for name, origin, spec_path, decrypts in ctx.repo.layers.dormant
        if spec_path != "." and path.startswith(spec_path + "/")
    ]
    if not owners:
        return None
    spec_path, name, origin, decrypts = max(owners)
    which = (
        f"Flux Kustomization {name} ({origin}, spec.path {spec_path}) holds it, and nothing "
        "applies it"
    )
    # applied, it needs a decryption (the attack review of sweep 84: the pasted fix made an
    # SM010 error), unless a parent's patch gives it one, as cluster-apps does in many
    # repositories (TkPegatron/homelab-as-code)
    then = (
        ""
        if decrypts
        else f"; {name} has no spec.decryption of its own: unless a parent's patch gives it "
        "one, add it too (audit's SM010 then says how)"
    )
    # the kustomization files from the Kustomization's folder up (three): the commented-out
    # entry first, wherever it is (the attack review: `#- ./thanos` one folder up was passed
    # over for a listing below it that nothing builds)
    found_files: list[tuple[str, str, str]] = []  # (file, the path from it, its text)
    folder = dirname(origin)
    for _ in range(3):
        found = next(
            (join(folder, n) for n in KUSTOMIZATION_NAMES if join(folder, n) in files), None
        )
        if found is not None:
            try:
                text = (ctx.repo.root / found).read_text(encoding="utf-8", errors="replace")
            except OSError:
                text = ""
            found_files.append((found, origin[len(folder) + 1 :] if folder else origin, text))
        if not folder:
            break
        folder = dirname(folder)
    for found, rel, text in found_files:
        line = _entry_line(text, rel)
        if line is not None:
            # a kustomization nothing builds either: its own entry upward is off too (the
            # attack review: the uncommented line still deployed nothing)
            upward = (
                ""
                if ctx.repo.layers.placements(found)
                else f", and make a live layer build {found}: nothing applies it now"
            )
            return f"{which}: uncomment the line {line} in {found}{upward}{then}"
    for found, rel, text in found_files:
        unbuilt = not ctx.repo.layers.placements(found)
        if unbuilt and _entry_line(text, rel, listed=True):
            # listed, in a kustomization nothing builds (the attack review: after the pasted
            # uncomment the fix said to list what was listed)
            return (
                f"{which}: {found} lists it, but no live layer builds {found}: list its "
                f"folder where a live layer's kustomization reaches it{then}"
            )
    built = [(found, rel) for found, rel, _ in found_files if ctx.repo.layers.placements(found)]
    if built and dirname(built[0][0]) == dirname(origin):
        # the kustomization file beside it, which a live layer builds (sweep 94,
        # Balssh/homelab-k3s: "the kustomization.yaml that lists the Kustomizations beside it"
        # left the user to find clusters/production/flux-system/kustomization.yaml)
        found, rel = built[0]
        return f"{which}: list {rel} under resources: in {found}{then}"
    return (
        f"{which}: list {origin} in the kustomization.yaml that lists the Kustomizations "
        f"beside it{then}"
    )


def _commented_entry(ctx: AuditContext, path: str, listing: tuple[str, str, str]) -> str | None:
    """The commented-out line of the kustomization file of ``listing`` that lists ``path``
    itself (``# - ./secret.sops.yaml``), as written; None when it has none."""
    kfile = listing[0]
    folder = dirname(kfile)
    rel = path[len(folder) + 1 :] if folder else path
    try:
        text = (ctx.repo.root / kfile).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    line = _entry_line(text, rel, folder=False)
    if line is None and listing[2].startswith("./") and listing[2] != "./":
        # ... or the folder the fix would list (`# - ./frontend/`): switched off, with
        # everything below it (sweep 95, honya-bookstore/infrastructure: the fix said to list
        # ./frontend and to list the file in its kustomization, a folder of Flux objects)
        line = _entry_line(text, listing[2][2:].rstrip("/"), folder=False)
    if line is None:
        return None
    # under resources: only (the second attack review of stop 49: one under a
    # configMapGenerator's files:, uncommented, put the ciphertext in a ConfigMap)
    section = None
    for row in text.splitlines():
        if row.strip() == line.strip():
            return line if section == "resources" else None
        if re.match(r"^[A-Za-z_][\w-]*:", row):
            section = row.partition(":")[0]
    return None


def _entry_line(text: str, rel: str, *, listed: bool = False, folder: bool = True) -> str | None:
    """The commented-out line of a kustomization file's ``text`` that lists ``rel``
    (``#- ./thanos/ks.yaml``) or its folder (``# - ./thanos``), as written; with ``listed``,
    the line that lists it, not commented out. None when there is none."""
    names = [rel] + ([dirname(rel)] if dirname(rel) and folder else [])
    mark = "" if listed else r"#[ \t]*"
    for name in names:
        found = re.search(
            rf"(?m)^[ \t]*({mark}-[ \t]*[\"']?(?:\./)?{re.escape(name)}/?[\"']?)[ \t]*(?:#.*)?$",
            text,
        )
        if found is not None:
            return found[1]
    return None


def _unlisted_in(
    ctx: AuditContext, path: str, listing: tuple[str, str, str], files: frozenset[str]
) -> str | None:
    """For a listing of a folder (``./app``): that folder's kustomization file when it does not
    name ``path`` either (sweep 80, Marx2/homelab: `./qbittorrent` was "the folder whose
    kustomization leads to it", and its kustomization.yaml listed another file only)."""
    kfile, _layer, entry = listing
    if not entry.startswith("./"):
        return None
    folder = join(dirname(kfile), entry[2:])
    nearest = next((join(folder, n) for n in KUSTOMIZATION_NAMES if join(folder, n) in files), None)
    if nearest is None:
        return None
    try:
        text = (ctx.repo.root / nearest).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    first = path[len(folder) + 1 :].split("/", 1)[0]
    # the file, or the folder below that leads to it (`./sub`), named in a line that is no
    # comment (`#- app.yaml` switched it off), in a block or a flow list
    text = re.sub(r"(?m)^[ \t]*#.*$", "", text)
    named = re.search(rf"(?:^|[\s\"'\[,/]){re.escape(first)}(?=$|[\s\"',\]#/])", text, re.M)
    return None if named else nearest


def _listing(
    path: str, layers: Sequence[Layer], files: frozenset[str], shown: Callable[[Layer], str]
) -> tuple[str, str, str] | None:
    """The kustomization file nearest above ``path`` that a live layer builds: (that file, the
    layer, the entry to list there). The entry is ``path`` itself where that file is the nearest
    one; past kustomization files no layer builds (a tree whose link upward is commented out:
    sweep 79, webgrip/homelab-cluster's `# - ./zomboid`), it is the highest of their folders,
    which holds a kustomization file of its own, when it lies right below. None otherwise
    (stop 43 left the fix saying only "the kustomization.yaml of the layer")."""
    folder, below = dirname(path), ""
    while True:
        found = [join(folder, n) for n in KUSTOMIZATION_NAMES if join(folder, n) in files]
        if found:
            kfile = found[0]
            readers = sorted(shown(x) for x in layers if kfile in x.files)
            if readers:
                if not below:
                    return kfile, readers[0], path[len(folder) + 1 :] if folder else path
                entry = below[len(folder) + 1 :] if folder else below
                # a folder further down may sit below one that holds a Flux Kustomization
                # (the regression run: `./qbittorrent/tools` beside `qbittorrent/ks.yaml`):
                # only a folder right below is named
                return (kfile, readers[0], f"./{entry}") if "/" not in entry else None
            below = folder  # built by none: list this folder in the next one up
        if not folder:
            return None
        folder = dirname(folder)


def _hand_root(ctx: AuditContext, path: str, files: frozenset[str]) -> tuple[str, str, str] | None:
    """The cluster whose roots are Kustomizations nothing here applies, defined in a folder
    ``path`` lies below: a cluster set up by hand (sweep 57, Enoxime/homelab: `flux create
    kustomization --path=./kubernetes/clusters/bootstrap00 --decryption-provider=sops`, as its
    docs say; the SOPS files beside its Kustomizations were "not deployed", and the fix's
    outside_flux would hide them). With the cluster's name, that folder, and the Secret its
    layers decrypt with."""
    graph = ctx.repo.layers
    for cluster in graph.clusters:
        folder = dirname(cluster.root)
        if cluster.path is not None or not folder or cluster.root not in files:
            continue
        if not path.startswith(folder + "/"):
            continue
        # a kustomization file on the way decides what a Flux build of the folder takes: then
        # the file is one it does not list (the review: `clusters/prod/forgot.sops.yaml`)
        below = dirname(path)
        while True:
            if any(join(below, n) in files for n in KUSTOMIZATION_NAMES):
                return None
            if below == folder:
                break
            below = dirname(below)
        refs = [
            x.decryption.secret_ref
            for x in graph.layers
            if x.cluster == cluster.name
            and x.decryption is not None
            and x.decryption.is_sops
            and x.decryption.secret_ref
        ]
        secret = max(set(refs), key=refs.count) if refs else "sops-age"
        return cluster.name or folder.rpartition("/")[2], folder, secret or "sops-age"
    return None


def _mirrored(layers: Sequence[Layer]) -> dict[str, str]:
    """The external sources a layer reads that is defined by a file inside its own path there
    (the cluster's root, as a bootstrap lays it out): this checkout is a mirror of them under
    another name (jahanson/homelab mirrors a Forgejo repository; sweep 18), with "" for the
    folder that holds the source's root (the graph's ``mirrors`` name copies in a folder).
    A repository of another owner is none (sweep 80, d4rkfella: keycloak's own repository has
    a kubernetes/ folder too, and the fix said to map it onto this checkout)."""
    return {
        layer.external: ""
        for layer in layers
        if layer.external is not None
        and layer.external_path
        and not layer.another_owner
        and layer.source.startswith(layer.external_path.rstrip("/") + "/")
    }


def _unmapped_reader(
    layers: Sequence[Layer], mirrored: Mapping[str, str], path: str
) -> tuple[Layer, str] | None:
    """A layer reading an external source at a folder that this file is below, with the
    repository folder that would hold that source's root (``k8s/`` for a layer at
    ``clusters/prod/variables`` and a file in ``k8s/clusters/prod/variables/``): a source
    pushed from this repository (an OCI artifact, a mirror) that is not mapped. A GitRepository
    whose URL names another repository counts only when it is ``mirrored`` (every file was
    "not deployed", with outside_flux for the whole tree as the fix); otherwise its layout may
    match by chance (dfroberg/cluster)."""
    for layer in layers:
        if layer.external is None or not layer.external_path:
            continue
        if layer.another_repository and layer.external not in mirrored:
            continue  # a GitRepository of another repository: its layout may match by chance
        at = f"/{path}".find(f"/{layer.external_path}/")
        if at >= 0:
            return layer, path[:at]
    # a mirror's copy in a folder: any file below that folder may be in it (mer0x: the
    # Kustomizations below kubernetes/clusters/merox apply kubernetes/infrastructure/…)
    for layer in layers:
        folder = mirrored.get(layer.external or "")
        if folder and path.startswith(folder):
            return layer, folder
    return None


def precondition(ctx: AuditContext) -> str | None:
    """Without any Flux Kustomization every file would be reported: say so once instead."""
    graph = ctx.repo.layers
    if graph.layers:
        return None
    if graph.kustomizations:
        return "no live Flux layer: no cluster root applies the Flux Kustomizations found"
    return "no Flux Kustomization found"


RULE = Rule(
    id=RuleId("SM012"),
    name="not-deployed-by-flux",
    severity=Severity.INFO,
    needs=frozenset(),
    summary="A SOPS file no live Flux layer applies (silenced by outside_flux:)",
    check=check,
    precondition=precondition,
    detect=detect,
    hit_type=ToolRead,
    detect_everywhere=_may_read,  # a .tf file reading a named SOPS file may not be named
)
