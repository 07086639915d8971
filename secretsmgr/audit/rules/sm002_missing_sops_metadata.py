"""SM002 missing-sops-metadata: a file named like a SOPS file that was never encrypted, or one
HEAD holds encrypted that is now without its sops block (decrypted in place, or decrypted under
a new name)."""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from dataclasses import dataclass

from secretsmgr.audit.context import AuditContext, own_rule_fix, restore_metadata_hint
from secretsmgr.audit.finding import DECRYPTED_SINCE_HEAD, Finding, Rule, RuleId, Severity
from secretsmgr.audit.rules.sm001_plaintext_secret import (
    pgp_first,
    rename_hint,
    renamed_entries,
)
from secretsmgr.repo.lost import LostFile
from secretsmgr.repo.scan import ScannedFile
from secretsmgr.repo.sopsentry import SopsEntry, is_named_sops
from secretsmgr.shellword import sh_path
from secretsmgr.sops.document import FileFormat


@dataclass(frozen=True, slots=True)
class PlainNamedValue:
    """A value in clear in a file named like a SOPS file that has no SOPS metadata (never the
    value): ``check`` reports the file; ``audit --history`` counts each as exposed (SM019)."""

    path: str
    key_path: str


def detect(file: ScannedFile) -> list[PlainNamedValue]:
    """The key paths a plaintext file named like a SOPS file holds in clear."""
    entry = file.sops
    if entry is None or entry.has_metadata:
        return []
    return [PlainNamedValue(file.path, key_path) for key_path in entry.exposed_leaves]


def check(ctx: AuditContext) -> Iterator[Finding]:
    """Named ``*.enc.*``/``*.sops.yaml`` files that parse but carry no ``sops`` block.

    A template (every value it would encrypt is a placeholder such as ``${VAR}``) or an empty
    file (nothing it would encrypt) is reported as information only: it holds no secret.
    A file HEAD holds encrypted and this state without metadata, under any name, is an error
    (the inventory's ``lost_since_head``), and so is a new file holding the values of an
    encrypted file the change deletes.
    """
    lost = {f.path for f in ctx.repo.lost_since_head if f.was == f.path}
    deferred: set[str] = set()
    for entry in ctx.repo.sops_files:
        if not entry.named or entry.has_metadata or entry.error is not None:
            continue
        if entry.empty:
            # sweep 24, KnightDoom/taloscluster: 16 lines of a commented-out example were "empty"
            what = (
                "empty"
                if entry.blank
                else "nothing to encrypt (only comments, empty documents or Secrets with no data)"
            )
            yield RULE.finding(
                entry.path,
                f"{what}: named like a SOPS file, it holds no value to encrypt",
                severity=Severity.INFO,
            )
            continue
        if entry.sealed:
            yield RULE.finding(
                entry.path,
                "a SealedSecret (its encryptedData is the sealed-secrets controller's "
                "ciphertext), named like a SOPS file: no value in clear; a name without "
                ".enc/.sops keeps SOPS tools off it",
                severity=Severity.INFO,
            )
            continue
        if entry.config_file:
            yield RULE.finding(
                entry.path,
                "a sops configuration (creation_rules, for sops --config), not a secret: "
                "named like a SOPS file, it holds no value to encrypt",
                severity=Severity.INFO,
            )
            continue
        if entry.template:
            yield RULE.finding(
                entry.path,
                "a template, not a secret: named like a SOPS file, every value it would "
                "encrypt is a placeholder (${VAR}, {{ … }}, <token>, an empty credential)",
                severity=Severity.INFO,
            )
            continue
        if entry.lost_metadata:
            # tcurdt/kube (sweep 10): ENC[…] values, the sops: block gone
            yield RULE.finding(
                entry.path,
                "its values are ENC[…] ciphertext but its SOPS metadata (the sops: block) is "
                "missing: no key can open them without it, and Flux applies the ENC[…] text "
                "as it stands",
                fix=restore_metadata_hint(entry.path),
            )
            continue
        if entry.path in lost:
            deferred.add(entry.path)
            continue  # decrypted in place: reported below, with HEAD's copy as the fix
        yield RULE.finding(
            entry.path,
            "named like a SOPS file but has no SOPS metadata: it is stored in plaintext",
            fix=_fix(ctx, entry),
        )
    named = {e.path for e in ctx.repo.sops_files if e.named and not e.has_metadata}
    for lost_file in ctx.repo.lost_since_head:
        path = lost_file.path
        if path in named and path not in deferred:
            continue  # named: an empty file, a template, ENC[…] values were said so above
        if lost_file.was != path:
            yield _copied(ctx, lost_file)
            continue
        if lost_file.unparsed is not None:
            yield RULE.finding(
                path,
                f"encrypted at HEAD, and now unreadable: {lost_file.unparsed}; sops, Flux "
                "and this audit cannot tell its values from its sops block",
                fix="fix it by hand where the error says (its ENC[…] values and sops block "
                "need no change), or take the encrypted version back: "
                f"git checkout HEAD -- {sh_path(path)}",
            )
            continue
        # sweep 28, HortaFCUL/infra: `sops -d -i` of a ConfigMap under an encrypted_regex
        # rule, committed with its secrets in clear; no name said SOPS, so nothing else saw it
        yield RULE.finding(
            path,
            "encrypted at HEAD, now without its sops block (decrypted in place?): its values "
            "would be committed in clear",
            fix=f"{DECRYPTED_SINCE_HEAD}: git checkout HEAD -- {sh_path(path)}"
            + _or_encrypt(ctx, path, "encrypt it again"),
        )


def _or_encrypt(ctx: AuditContext, path: str, what: str) -> str:
    """The other way out, encrypting the file where it is: only when a creation rule governs
    it, as ``encrypt`` needs one (sweep 31, bjw-s/home-ops: every rule ends in ``.sops.yaml``,
    and ``encrypt -i secret.yaml`` was refused)."""
    if ctx.repo.sops_configs.rule_for(path)[1] is None:
        return ""
    return f" (or {what}: secretsmgr encrypt -i {sh_path(path)})"


def _copied(ctx: AuditContext, lost: LostFile) -> Finding:
    """A file holding in clear the values of an encrypted file this change deletes (sweep 29
    and the fourth review: ``sops -d db.enc.yaml > db.yaml; git rm db.enc.yaml`` passed)."""
    new, old = sh_path(lost.path), sh_path(lost.was)
    if lost.in_head:  # written over a file HEAD has: both come back
        back = f"git checkout HEAD -- {old} {new}"
    else:
        # -f: the copy may have changed since it was staged (encrypted by another fix: sweep
        # 42), and it is removed next anyway
        unstage = f"git rm -q -f --cached --ignore-unmatch {new}"
        # a kustomization's entry moved to the copy goes back too, or the build names a file
        # no longer there (sweep 40, Quazmoz/K8SHomelab: the restore left it renamed)
        same = posixpath.dirname(lost.path) == posixpath.dirname(lost.was)
        entries = renamed_entries(ctx, lost.path, lost.was) if same else []
        back = " && ".join([f"git checkout HEAD -- {old}", *entries, unstage, f"rm {new}"])
        if not same and renamed_entries(ctx, lost.path, lost.path):
            # in another folder, the entry is not the original's renamed (the fifth review: a
            # `../` entry written there is refused by kustomize): HEAD's entries come back
            back += "; then put back the kustomization entries as HEAD has them (git diff HEAD)"
    return RULE.finding(
        lost.path,
        # made by the values' lengths, which ciphertext keeps (no key at hand): said so (sweep
        # 52: "holds the values of" read as a claim it could not make of made-up values)
        f"looks like {lost.was} decrypted under another name (values in clear of the lengths "
        "its ciphertext holds), which HEAD holds encrypted and this change deletes: they would "
        "be committed in clear",
        # no `encrypt` of the copy offered: its shape (a Deployment's env, a .env under Flux's
        # encrypted_regex) often leaves the rule nothing to encrypt, and encrypt refuses it
        fix=f"{DECRYPTED_SINCE_HEAD}: {back} (edits made to {lost.path} are lost)",
    )


EDITOR_LEFTOVER = ".decrypted~"


def _fix(ctx: AuditContext, entry: SopsEntry) -> str:
    """``encrypt`` picks the store by extension (a name with no text store's is kept whole, as
    sops keeps it); a copy (``x.sops.yaml.disabled``) is encrypted in the store its name says.
    A name no creation rule matches is renamed to one first (sweep 16: encrypt found no
    recipients for ``db.enc.yaml`` where only ``*.sops.yaml`` has a rule)."""
    if posixpath.basename(entry.path).startswith(EDITOR_LEFTOVER):
        # an editor's decrypted copy beside the real file (the VS Code sops extension's
        # ``.decrypted~config.sops.json``): encrypting it makes a second SOPS file of the same
        # secret; it goes, and git ignores its kind (sweep 19, Deenyoro)
        quoted = sh_path(entry.path)
        return (
            "an editor's decrypted copy (once committed, the values it held stay in git: "
            "change them in the file it copies): remove it and ignore such copies: git rm -q "
            f"--cached --ignore-unmatch {quoted}; rm -f {quoted}; echo '{EDITOR_LEFTOVER}*' >> "
            ".gitignore"
        )
    if entry.encrypts_none and entry.store != "binary":
        return own_rule_fix(entry)  # encrypt refuses a rule that would encrypt none of it
    text_store = entry.format in (FileFormat.YAML, FileFormat.JSON)
    unmatched = ctx.repo.sops_configs.rule_for(entry.path)[1] is None
    if unmatched and text_store:
        return rename_hint(ctx, entry.path)
    if unmatched:
        # encrypt finds no recipients (sweep 63, amreshh/proxmox: a root `tf.enc.env` under a
        # repository whose one .sops.yaml is in flux/; the pasted fix failed)
        return (
            f"add a .sops.yaml creation rule that matches {entry.path} (none does), then "
            f"secretsmgr encrypt -i {sh_path(entry.path)}"
        )
    if is_named_sops(entry.path) or entry.store == "binary":
        # sops under a rule naming PGP, KMS or Vault keys, which encrypt refuses (sweep 75,
        # carpenike/k8s-gitops: the pasted `secretsmgr encrypt -i` was refused)
        command = ctx.repo.sops_configs.encrypt_command(entry.path)
        return pgp_first(ctx, (entry.path,), command)
    store = entry.format.value
    return f"sops encrypt -i --input-type {store} --output-type {store} {sh_path(entry.path)}"


RULE = Rule(
    id=RuleId("SM002"),
    name="missing-sops-metadata",
    severity=Severity.ERROR,
    needs=frozenset(),
    summary="A *.enc.* file with no SOPS metadata, or a file decrypted since HEAD",
    check=check,
    detect=detect,
    hit_type=PlainNamedValue,
)
