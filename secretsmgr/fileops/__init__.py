"""One encrypted file at a time: encrypt, decrypt, edit, set and unset.

- ``text``: text in, text out (policy from ``.sops.yaml``, encrypt, decrypt, re-seal).
- ``keypath``: key paths (``data.password``, ``["data"]["password"]``) and tree edits.
- ``target``: where a write may go (no symlinks) and special outputs (FIFOs, devices).
- ``editor``: running ``$SOPS_EDITOR``/``$EDITOR`` on a memory-backed scratch file.
- ``files``: the file operations the commands call, under the repository's write lock.
"""
