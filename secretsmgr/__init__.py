"""secretsmgr: own the whole life of SOPS secrets in a Flux GitOps repository."""

__version__ = "0.2.0"
