"""Unit tests of the format core (secretsmgr.sops)."""
