"""The repository as Flux reconciles it: clusters, live Kustomizations (layers), sources."""

from secretsmgr.repo.flux.build import Use, UseKind
from secretsmgr.repo.flux.model import Cluster, Layer, LayerGraph, find_layers
from secretsmgr.repo.flux.objects import Decryption, normalize_spec_path
from secretsmgr.repo.flux.version import FluxVersion

__all__ = [
    "Cluster",
    "Decryption",
    "FluxVersion",
    "Layer",
    "LayerGraph",
    "Use",
    "UseKind",
    "find_layers",
    "normalize_spec_path",
]
