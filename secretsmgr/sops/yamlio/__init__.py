"""YAML in and out, in three parts over one event walk; the only package that imports ruamel.

- ``events``: ruamel's C parser (libyaml) events, and ``walk``, the one walk over them, which
  also owns the limits every reader shares (depth, aliases).
- ``parser``: the comment-keeping, go-yaml-faithful reader of SOPS files (``parse_yaml``).
- ``manifest``: the fast loader of manifests and config files to plain data (``safe_load_all``).
- ``emitter``: the go-yaml v3 writer, byte for byte what ``sops -d`` prints (``emit_yaml``).

Nothing here keeps a document's text, or anything parsed from it, after a call returns.
"""

from secretsmgr.sops.yamlio.emitter import emit_yaml, format_scalar
from secretsmgr.sops.yamlio.events import MAX_ALIAS_NODES, MAX_DEPTH
from secretsmgr.sops.yamlio.manifest import load_all_noting_duplicates, safe_load_all
from secretsmgr.sops.yamlio.parser import parse_yaml

__all__ = [
    "MAX_ALIAS_NODES",
    "MAX_DEPTH",
    "emit_yaml",
    "format_scalar",
    "load_all_noting_duplicates",
    "parse_yaml",
    "safe_load_all",
]
