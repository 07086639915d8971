"""Rotation: the transaction, its recovery, the CLI and interop with the real sops."""
