"""The Flux Kustomizations a flux-operator ``ResourceSet`` makes.

A ResourceSet (``fluxcd.controlplane.io``) renders its ``spec.resources`` objects and its
``spec.resourcesTemplate`` text once per input, with ``<< … >>`` template markers. A
Kustomization among them whose path, source and decryption hold no marker applies the same
folder for every input: a live Kustomization like one written out, under its name as written
(sweep 20, Samoth69/HomeOps: a ResourceSet's Kustomization applied a SOPS file that the model
called applied by nothing). One with any of those templated is left out: which inputs there
are is known only in the cluster.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping

from secretsmgr.errors import FormatError
from secretsmgr.repo.flux.objects import (
    OPERATOR_GROUP,
    api_group,
    as_list,
    as_map,
    as_str,
    is_flux_kustomization,
    meta,
)
from secretsmgr.sops.yamlio import safe_load_all

_MARKER = "<<"


def is_resource_set(doc: Mapping[str, object]) -> bool:
    """Whether ``doc`` is a flux-operator ResourceSet."""
    return doc.get("kind") == "ResourceSet" and api_group(doc) == OPERATOR_GROUP


def resource_set_kustomizations(doc: Mapping[str, object]) -> Iterator[dict[str, object]]:
    """The Flux Kustomizations ``doc`` (a ResourceSet) makes the same for every input, in the
    ResourceSet's namespace where they name none."""
    spec = as_map(doc.get("spec")) or {}
    objects: list[object] = list(as_list(spec.get("resources")))
    template = as_str(spec.get("resourcesTemplate"))
    if template:
        with contextlib.suppress(FormatError):  # markers where YAML cannot read them
            objects += safe_load_all(template)
    namespace = as_str(meta(doc).get("namespace"))
    for raw in objects:
        obj = as_map(raw)
        if obj is None or not is_flux_kustomization(obj):
            continue
        own = meta(obj)
        spec_of = as_map(obj.get("spec")) or {}
        # its path decides what it applies: a templated name is kept as written (the second
        # review: a per-input name over one fixed folder left that folder applied by nothing)
        path = spec_of.get("path")
        if (isinstance(path, str) and _MARKER in path) or not own.get("name"):
            continue
        # a source or a decryption Secret per input (``sops-<< inputs.tenant >>``: the review)
        if any(_MARKER in repr(spec_of.get(k)) for k in ("decryption", "sourceRef")):
            continue
        if _MARKER in str(own.get("namespace") or "") and spec_of.get("decryption"):
            continue  # the decryption Secret is looked up in a namespace per input
        if not own.get("namespace") and namespace:
            obj = {**obj, "metadata": {**own, "namespace": namespace}}
        yield obj


def resource_set_names(doc: Mapping[str, object]) -> Iterator[str]:
    """The names of the Flux Kustomizations ``doc`` (a ResourceSet) makes, templated ones as
    written (``tenants-<< inputs.tenant >>``)."""
    spec = as_map(doc.get("spec")) or {}
    objects: list[object] = list(as_list(spec.get("resources")))
    template = as_str(spec.get("resourcesTemplate"))
    if template:
        with contextlib.suppress(FormatError):
            objects += safe_load_all(template)
    for raw in objects:
        obj = as_map(raw)
        if obj is not None and is_flux_kustomization(obj):
            name = as_str(meta(obj).get("name"))
            if name:
                yield name
