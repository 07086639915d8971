"""``secretsmgr init``: set up an existing Flux repository.

``rules.py`` turns the Flux model into `.sops.yaml` creation rules (one per set of clusters),
``texts.py`` renders the files init writes, ``keychoice.py`` picks each cluster's key,
``filechanges.py`` decides what happens to each file, ``keystore.py`` keeps the identities it
makes, ``model.py`` holds the plan as data, and ``workflow.py`` plans and applies the whole run
under the repository's write lock.
"""
