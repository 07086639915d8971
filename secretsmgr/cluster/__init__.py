"""Cluster: the seam to the Kubernetes API (the Flux ``sops-age`` Secret)."""
