"""``python -m secretsmgr``."""

from secretsmgr.cli.app import run

run()
