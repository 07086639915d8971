"""``secretsmgr init``: set up an existing Flux repository.

``rules.py`` turns the Flux model into `.sops.yaml` creation rules (one per set of clusters),
``texts.py`` renders the files init writes, ``keystore.py`` keeps the identities it makes, and
``workflow.py`` plans and applies the whole run under the repository's write lock.
"""
