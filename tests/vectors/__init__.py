"""Test vectors made with the real sops binary; see loader.py and regen.py."""
