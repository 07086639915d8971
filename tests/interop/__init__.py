"""Interop with the real sops binary (marker: interop)."""
