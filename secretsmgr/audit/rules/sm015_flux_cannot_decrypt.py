"""SM015 flux-cannot-decrypt: a SOPS file the repository's kustomize-controller will not decrypt.

What kustomize-controller decrypts (fluxcd/kustomize-controller, internal/decryptor):
- every resource of the build output that carries SOPS metadata (``sops.mac``), unless annotated
  ``kustomize.toolkit.fluxcd.io/decrypt: Disabled`` (a SOPS Secret under a Component's
  ``resources:`` included), and each Secret data value holding a whole SOPS file (so a
  ``secretGenerator`` ``files:`` source is decrypted wherever it is). The MAC is not checked
  there, so an object a SOPS strategic-merge patch was merged into (kustomize carries the
  patch's ``sops`` block along) is decrypted too, at every version, whether the patch is named
  by ``patchesStrategicMerge`` or ``patches:``;
- before the build, the ``secretGenerator`` ``files``/``envs`` sources of the kustomizations its
  source walk visits, and since v1.5.0 (Flux 2.5) the files named by ``patches:`` too, with the
  walk recursing into ``components``. A file over 5 MiB stops the build; a generator source
  without the exact marker of its format (``mac: ENC[`` …) is left as it is.
It never decrypts ``configMapGenerator`` inputs, nor the files of kustomize's configuration fields
(``configurations``, ``crds``, ``generators``…: kustomize reads them as its own configuration),
and a SOPS file cannot be a ``patchesJson6902`` list of operations.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from secretsmgr.audit.context import AuditContext, reencrypt_fix
from secretsmgr.audit.finding import Finding, Rule, RuleId, Severity
from secretsmgr.audit.rules.sm001_plaintext_secret import listed_by
from secretsmgr.repo.flux import Layer, Use, UseKind
from secretsmgr.repo.sopsentry import DECRYPT_ANNOTATION, FLUX_MARKERS, SopsEntry
from secretsmgr.shellword import sh_path
from secretsmgr.sops import FileFormat
from secretsmgr.sops.encvalue import is_enc
from secretsmgr.sops.model import EncryptionRule
from secretsmgr.sops.rules import iter_leaves
from secretsmgr.sops.tree import MapNode

MAX_SIZE = 5 * 1024 * 1024  # kustomize-controller's maxEncryptedFileSize
_SOURCES = frozenset({UseKind.SECRET_FILE, UseKind.SECRET_ENV, UseKind.PATCH})
# read where no decryption reaches: a layer's decryption changes nothing (SM010 stays quiet)
_NEVER_DECRYPTED = frozenset({UseKind.CONFIGMAP_SOURCE, UseKind.OTHER})
_MOVE_GENERATOR = (
    "move the secretGenerator out of the Component into the layer's kustomization.yaml, "
    "or upgrade Flux to 2.5 or later"
)


def _version(layer: Layer) -> str:
    return layer.version.describe()


def _use_reasons(entry: SopsEntry, layer: Layer, use: Use) -> list[tuple[str, str]]:
    kind = use.kind
    if kind is UseKind.CONFIGMAP_SOURCE:
        return [
            (
                f"a configMapGenerator input (layer {layer.name}): Flux decrypts only "
                "secretGenerator inputs",
                _CONFIGMAP_FIX,
            )
        ]
    if kind is UseKind.OTHER:
        # sweep 31 (vikbaranov/flux-gitops): `- extra.enc.yaml` appended to a kustomization
        # landed under its last field, configurations:; kustomize reads it as a transformer
        # configuration, and the whole build failed where layers showed it applied and clean
        return [
            (
                f"named in a kustomize configuration field of layer {layer.name} (crds, "
                "configurations, generators, transformers, validators, replacements or "
                "openapi): kustomize reads it as its own configuration, not as a resource, "
                "and the build fails on it",
                _OTHER_FIX,
            )
        ]
    if kind not in _SOURCES:
        # a patchesStrategicMerge file: merged with its sops block, decrypted after the build
        return []
    out: list[tuple[str, str]] = []
    what = (
        "a patch" if kind is UseKind.PATCH else f"a secretGenerator {kind.value.split()[-1]} source"
    )
    modern = layer.version.decrypts_component_sources
    if kind is UseKind.PATCH and not modern:
        # not decrypted before the build, but merged with its sops block and decrypted after it
        return []
    if kind is UseKind.SECRET_ENV and use.via_component and not modern:
        out.append(
            (
                f"{what} inside a Component (layer {layer.name}): {_version(layer)} "
                "decrypts generator sources in Components only from v1.5.0 (Flux 2.5)",
                _MOVE_GENERATOR,
            )
        )
    if entry.size > MAX_SIZE:
        size = entry.size / (1024 * 1024)
        out.append(
            (
                f"{what} of {size:.1f} MiB (layer {layer.name}): over Flux's 5 MiB limit",
                "split it into smaller files",
            )
        )
    if not entry.has_flux_marker and kind is not UseKind.PATCH:  # a patch: decrypted after
        marker = FLUX_MARKERS[entry.format].decode()
        out.append(
            (
                f"{what} (layer {layer.name}) without the exact marker '{marker}' Flux looks for",
                reencrypt_fix(entry),
            )
        )
    return out


def _encrypted_list(entry: SopsEntry) -> bool:
    """Whether the SOPS file is a ``kind: …List`` whose items hold encrypted values."""
    sf = entry.sops_file
    if sf is None or entry.format not in (FileFormat.YAML, FileFormat.JSON):
        return False
    for doc in sf.docs:
        kind = doc.get("kind")
        if isinstance(kind, str) and kind.endswith("List") and doc.has("items"):
            return any(
                path[:1] == ("items",) and isinstance(leaf, str) and is_enc(leaf)
                for path, leaf, _ in iter_leaves(doc, EncryptionRule())
            )
    return False


def _reasons(ctx: AuditContext, entry: SopsEntry) -> list[tuple[str, str]]:
    """(reason, fix) pairs, each once, in a fixed order."""
    reasons: dict[str, str] = {}
    as_resource = False
    transformed: list[str] = []  # decrypting layers whose build rewrites its metadata
    for layer in ctx.repo.layers.placements(entry.path):
        for use in sorted(layer.uses.get(entry.path, ()), key=lambda u: (u.kind, u.via_component)):
            if not layer.decrypts_sops and use.kind not in _NEVER_DECRYPTED:
                continue  # SM010 reports layers that do not decrypt at all
            as_resource |= use.kind is UseKind.RESOURCE
            if use.kind is UseKind.RESOURCE and entry.path in layer.transformed:
                transformed.append(ctx.repo.layers.shown(layer))
            for reason, fix in _use_reasons(entry, layer, use):
                reasons.setdefault(reason, fix)
    encrypted = _encrypted_identity(entry) if transformed else []
    if encrypted:
        # Flux decrypts the build's output: a transformer that writes into encrypted metadata
        # leaves a value in clear where sops expects ciphertext (or kustomize cannot place the
        # object at all); untouched, such an object still decrypts (falterfriday/fluxcd)
        reasons.setdefault(
            f"its {', '.join(encrypted)} {'is' if len(encrypted) == 1 else 'are'} encrypted and "
            f"layer {transformed[0]}'s build rewrites its metadata (namespace, name or labels), "
            "which kustomize-controller does not support: the build or the decryption fails",
            _identity_fix(entry),
        )
    controller = _controller_identity_only(ctx, entry)
    if controller is not None:
        reasons.setdefault(*controller)
    if as_resource and _encrypted_list(entry):
        # kustomize builds a List's items as objects of their own, without the List's sops
        # block: Flux applies them still encrypted (the review of stop 54, `kubectl kustomize`
        # of an encrypted List shows ENC[…] in its Secret)
        reasons.setdefault(
            "it is a List, whose items kustomize builds without its sops block: Flux applies "
            "them still encrypted",
            f"move each item of {entry.path} into a file of its own (one object a document), "
            "list those under resources: and encrypt the Secrets among them (secretsmgr "
            "encrypt -i FILE)",
        )
    if entry.decrypt_disabled and as_resource:
        reasons.setdefault(
            f"annotated {DECRYPT_ANNOTATION}: Disabled",
            f"remove the {DECRYPT_ANNOTATION} annotation",
        )
    if entry.bare_documents:
        numbers = ", ".join(str(n) for n in entry.bare_documents)
        one = len(entry.bare_documents) == 1
        reasons.setdefault(
            f"{'document' if one else 'documents'} {numbers} "
            f"{'holds' if one else 'hold'} encrypted values but no sops block of "
            f"{'its' if one else 'their'} own",
            reencrypt_fix(entry),
        )
    return list(reasons.items())


# kustomize-controller's own identity (workload identity, an instance role) opens cloud KMS
# keys; age and PGP keys come from the Secret a decryption names, or its flag or environment
_CONTROLLER = "decrypts with kustomize-controller's own identity"


def _controller_identity_only(ctx: AuditContext, entry: SopsEntry) -> tuple[str, str] | None:
    """Where every layer that decrypts the file names no Secret (``decryption: {provider:
    sops}``), its cluster installs Flux from the repository (components or a FluxInstance the
    version is read from) and nothing in the repository gives kustomize-controller an age key
    (no ``--sops-age-secret``, no ``SOPS_AGE_*`` variable, no ``envFrom`` of a controller), and
    the file is on age or PGP keys alone: the controller opens nothing of it (sweep 96,
    adrianmo/aks-flux: a file on the age key alone, as encrypt's hint made it, in a layer that
    decrypts with Azure Key Vault; audit and check passed). A warning: a key can reach the
    controller in ways a repository does not show (the review of stop 51)."""
    sf = entry.sops_file
    if sf is None or set(sf.metadata.foreign_kinds) - {"pgp"}:
        return None  # a cloud KMS key the identity may open; Vault through its environment
    graph = ctx.repo.layers
    decrypting = [
        layer
        for layer in graph.placements(entry.path)
        if layer.decrypts_sops
        and layer.decryption is not None
        and any(use.kind not in _NEVER_DECRYPTED for use in layer.uses.get(entry.path, ()))
    ]
    if not decrypting or any(
        layer.decryption is not None and layer.decryption.secret_ref for layer in decrypting
    ):
        return None
    for layer in decrypting:
        if (
            layer.version.assumed  # Flux installed from outside: its controller is not seen
            or layer.version.named  # ... or from a release a file names, how is not seen
            or graph.controller_age_secrets_of(layer.cluster)
            or layer.cluster in graph.controller_age_env_clusters
        ):
            return None
    kinds = (["age"] if sf.metadata.age_recipients else []) + list(sf.metadata.foreign_kinds)
    held = " and ".join(kinds) or "no"
    shown = graph.shown(decrypting[0])
    secret = (
        "{name: sops-age}, which holds the age key; secretsmgr key export makes it"
        if sf.metadata.age_recipients
        else "{name: sops-gpg}, which holds the PGP private key at sops.asc"
    )
    rule = entry.creation_rule
    kms = rule is not None and any(group.other for group in rule.key_groups)
    also = (
        f"; or encrypt the file to the KMS key its .sops.yaml rule names, which the controller "
        f"opens (a holder of that key: sops updatekeys -y {sh_path(entry.path)})"
        if kms
        else ""
    )
    return (
        f"layer {shown} decrypts with kustomize-controller's own identity (its "
        f"spec.decryption names no secretRef), which opens cloud KMS keys only, and the file "
        f"is on {held} keys",
        f"give layer {shown} a decryption Secret (spec.decryption.secretRef: {secret}){also}",
    )


def _encrypted_identity(entry: SopsEntry) -> list[str]:
    """The fields of a Kubernetes object's identity the file holds encrypted: ``apiVersion``,
    ``kind``, ``metadata`` (a file encrypted with no ``encrypted_regex``, as plain ``sops
    encrypt`` does; sweep 19: mtumilowicz's overlay, whose ``namespace:`` made the build fail)."""
    sf = entry.sops_file
    found: dict[str, None] = {}
    for doc in sf.docs if sf is not None else ():
        if not (isinstance(doc, MapNode) and doc.has("apiVersion") and doc.has("kind")):
            continue
        for name in ("apiVersion", "kind"):
            value = doc.get(name)
            if isinstance(value, str) and is_enc(value):
                found[name] = None
        meta = doc.get("metadata")
        if isinstance(meta, MapNode) and any(
            isinstance(leaf, str) and is_enc(leaf) for _path, leaf, _ in iter_leaves(meta, _ALL)
        ):
            found["metadata"] = None
    return list(found)


def _identity_fix(entry: SopsEntry) -> str:
    """Re-encrypt under a rule that encrypts ``data``/``stringData`` only."""
    rule = entry.creation_rule.encryption_rule if entry.creation_rule is not None else None
    secret_only = (
        rule is not None
        and rule.kind == "encrypted_regex"
        and (rule.value in ("^(data|stringData)$", "^(stringData|data)$"))
    )
    fix = reencrypt_fix(entry)
    if secret_only:
        return f"re-encrypt it under its creation rule: {fix}"
    where = entry.sops_config or ".sops.yaml"
    # sops refuses a rule with two of them (the attack review of sweep 93: the fix said to
    # give encrypted_regex to a rule of unencrypted_suffix, and sops then refused the rule)
    other = rule.kind if rule is not None and rule.kind != "encrypted_regex" else None
    instead = f" in place of its {other}" if other else ""
    return (
        f"give its {where} creation rule encrypted_regex: ^(data|stringData)$ (Flux's "
        f"convention){instead}, then re-encrypt it: {fix}"
    )


_ALL = EncryptionRule()


_OTHER_FIX = (
    "list it under resources: in that kustomization.yaml, not under the configuration field"
)
_CONFIGMAP_FIX = (
    "move it to a secretGenerator; if the application decrypts it itself (it ships the "
    "ciphertext on purpose), add an ignore: entry for it"
)


def check(ctx: AuditContext) -> Iterator[Finding]:
    """One finding per SOPS file naming every reason Flux will leave it encrypted. Only
    configMapGenerator inputs, whatever the layer's decryption, are a warning: the ConfigMap
    holds ciphertext, never a secret in clear, and shipping it so can be meant (samcday's
    Butane files, which a pod decrypts)."""
    yield from _deleted_yet_listed(ctx)
    for entry in ctx.repo.sops_files:
        if entry.sops_file is None:
            continue
        reasons = _reasons(ctx, entry)
        if reasons:
            finding = RULE.finding(
                entry.path,
                "Flux will not decrypt it: " + "; ".join(r for r, _ in reasons),
                fix=reasons[0][1],
            )
            # a ConfigMap's ciphertext may be meant; a key the controller holds may come from
            # where the repository does not say: warnings, when no other reason is there
            meant = all(fix == _CONFIGMAP_FIX or _CONTROLLER in r for r, fix in reasons)
            yield replace(finding, severity=Severity.WARNING) if meant else finding


def _deleted_yet_listed(ctx: AuditContext) -> Iterator[Finding]:
    """A SOPS file the change deletes while a live layer's build still names it: the build
    fails, so Flux decrypts and applies nothing of that layer (sweep 37, Osman-SK/home-cluster:
    `git rm` of a listed Secret passed check)."""
    for path, layer, named in ctx.repo.deleted_listed:
        kfiles = listed_by(ctx, named)
        where = f" of {' and '.join(kfiles)}" if kfiles else " of the kustomization that names it"
        what = "it" if named == path else f"its folder {named}"
        gone = "deleted since HEAD" if named == path else f"deleted since HEAD with {named}"
        keep = f"{'the file' if named == path else 'the folder'}: git checkout HEAD -- "
        fix = f"take the entry of {named} out{where} in the same change, or keep {keep}"
        root = next(
            (x for x in ctx.repo.layers.layers if layer in (x.label, x.name) and x.path == named),
            None,
        )
        if not kfiles and root is not None:
            # the layer's own folder is gone (the third review: "the kustomization that names
            # it", where the Flux Kustomization's spec.path does)
            fix = (
                f"its spec.path names {named}: delete the Flux Kustomization {layer} "
                f"({root.source}) in the same change, or keep {keep}"
            )
        yield RULE.finding(
            path,
            f"{gone}, yet layer {layer}'s build still names {what}: the build fails, and Flux "
            "decrypts and applies nothing of the layer",
            layers=(layer,),  # listed under it, not "not in any layer" (the review)
            fix=fix + sh_path(named),
        )


RULE = Rule(
    id=RuleId("SM015"),
    name="flux-cannot-decrypt",
    severity=Severity.ERROR,
    needs=frozenset(),
    summary="A SOPS file the repository's Flux version will not decrypt",
    check=check,
)
