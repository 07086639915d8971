"""SM011 creation-rule-drift: the file no longer matches its `.sops.yaml` creation rule."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator, Sequence
from dataclasses import replace

from secretsmgr.audit.context import (
    OLD_KEY_ONLY,
    AuditContext,
    creation_rule_encrypts,
    keys_of_its_clusters,
    reencrypt_fix,
    rotation_cure,
    widen_hint,
)
from secretsmgr.audit.finding import Finding, Rule, RuleId, Severity
from secretsmgr.keys.bech32 import short_key
from secretsmgr.plural import plural
from secretsmgr.repo.settings import SETTINGS_NAME
from secretsmgr.repo.sopsconfig import (
    SOPS_CONFIG_NAME,
    CreationRule,
    age_keys_under_pgp,
    all_age_recipients,
    malformed_pgp,
    nearest_pgp,
)
from secretsmgr.repo.sopsentry import STRUCTURE, SopsEntry
from secretsmgr.shellword import sh_path
from secretsmgr.sops.model import EncryptionRule, RuleKind, SopsMetadata, pgp_id
from secretsmgr.sops.rules import encrypted_leaves, iter_leaves, path_is_encrypted
from secretsmgr.sops.tree import MapNode
from secretsmgr.sops.values import Comment

# what a key that is no PGP fingerprint is, by its first part: the field sops reads it under
_KEY_FIELD = {
    "arn": "kms",
    "projects": "gcp_kms",
    "https": "azure_keyvault or hc_vault_transit_uri",
}


def _keys(keys: list[str]) -> str:
    return ", ".join(short_key(k) for k in keys)


def _governs(configs: list[str]) -> str:
    """Where ``configs`` are read: sops reads the `.sops.yaml` nearest its working directory,
    while this tool reads the one nearest each file (sweep 22, kptasznik/homelab: "governs only
    the files below its own folder" was wrong of sops, which uses it when run from there)."""
    if len(configs) == 1:
        where = f"{configs[0]} is read only by a sops run from its folder"
    else:
        named = (
            f"{configs[0]} and {configs[1]}"
            if len(configs) == 2
            else f"{configs[0]}, {configs[1]} and others"
        )
        where = f"{named} are read only by a sops run from their folders"
    return f"{where}, never by secretsmgr or a sops run from the repository root"


def check(ctx: AuditContext) -> Iterator[Finding]:
    """Compare recipients (as a set), the encryption rule and ``mac_only_encrypted``."""
    yield from _unreadable_configs(ctx)
    elsewhere: list[str] | None = None
    rotations = ctx.repo.rotations
    per_cluster: dict[str | None, frozenset[str]] = {}  # each cluster's keys, read once
    files_key: dict[tuple[str | None, tuple[str, ...]], str | None] = {}  # see _files_key
    for entry in ctx.repo.sops_files:
        sf = entry.sops_file
        if sf is None:
            continue
        rule = entry.creation_rule
        if rule is None:
            if entry.sops_config is None and elsewhere is None:
                elsewhere = _configs_elsewhere(ctx)  # once, for the first such file
            if entry.sops_config is None and elsewhere:
                # the Flux guide's layout: clusters/<name>/.sops.yaml beside files kept in
                # another tree, which that config does not govern
                # a file no layer applies (Talos's, Terraform's) is no file that config is meant
                # for: moving it up put Talos keys under a Secret rule (sweep 71, henrysachs)
                outside = bool(ctx.repo.layers.layers) and not ctx.repo.layers_of(entry.path)
                yield RULE.finding(
                    entry.path,
                    f"no .sops.yaml in this file's folder or above: {_governs(elsewhere)}",
                    fix="add a .sops.yaml above this file with a rule of its own (the keys and "
                    "the encryption it has now): that config is meant for the layers' files, and "
                    "moved up it would re-encrypt this one under their rule"
                    if outside
                    else "move that .sops.yaml to a folder above every file it is meant for "
                    "(with path_regex rules relative to it), or add one above this file",
                )
                continue
            where = entry.sops_config or "no .sops.yaml"
            configs = ctx.repo.sops_configs
            spelled = next(
                (
                    c.misspelled
                    for c in configs.all_loaded()
                    if c.misspelled and configs.label(c) == entry.sops_config
                ),
                None,
            )
            above = configs.rule_above(entry.path) if not spelled else None
            fix = (
                f"rename {spelled} to creation_rules in {where}: sops reads only that key, so it "
                "finds no rule at all there (and refuses to encrypt)"
                if spelled
                else (
                    f"add a creation rule whose path_regex matches it to {where}, or remove "
                    f"{where} if {above[0]} rule {above[1]} is meant for it: that rule matches "
                    "it, and a sops run from "
                    f"{posixpath.dirname(above[0]) or 'the repository root'} uses it"
                )
                if above
                else "add a creation rule whose path_regex matches it"
            )
            yield RULE.finding(
                entry.path, f"no .sops.yaml creation rule matches this path ({where})", fix=fix
            )
            continue
        label = f"{entry.sops_config} rule {entry.creation_rule_number}"
        misplaced = age_keys_under_pgp(rule)
        if misplaced:
            # Michaelpalacce/HomeLab (sweep 18): `pgp: age1…`; sops reads it as a PGP
            # fingerprint and fails, and the drift said the same key was extra and missing
            yield RULE.finding(
                entry.path,
                f"{label} lists the age key {_keys(misplaced)} under pgp:, where sops reads a PGP "
                "fingerprint: sops cannot encrypt to it there",
                fix=f"move it from pgp: to age: in {label}",
            )
            continue
        broken = malformed_pgp(rule)
        if broken:
            # sweeps 57 and 60, lab-xyz/lab: `C30C…396r38…` in the rule, the files on
            # `…396E38…`; the drift said "missing key …, extra key pgp <last 16>", hiding it
            fingerprints = [
                k for g in sf.metadata.key_groups for f, k in g.foreign_ids() if f == "pgp" and k
            ]
            near = nearest_pgp(broken[0], fingerprints)
            mends = f" (the file's key is {near})" if near else ""
            moved = _KEY_FIELD.get(broken[0].split(":", 1)[0].lower()) if ":" in broken[0] else None
            yield RULE.finding(
                entry.path,
                f"{label} names {broken[0]} under pgp:, which is no PGP fingerprint (hex digits "
                f"only): sops cannot encrypt to it{mends}",
                # the attack review: a KMS ARN under pgp: was "corrected" to another key's id
                fix=f"move it from pgp: to {moved}: in {label}"
                if moved
                else f"correct it in {label}" + (f": {near}" if near else ""),
            )
            continue
        problems: list[str] = []
        want = all_age_recipients(rule)
        for _cluster, old, new in rotations:
            if old in want and new not in want:
                want += (new,)  # during a cluster-key rotation both keys are the rule's
        have = tuple(dict.fromkeys(sf.metadata.age_recipients))
        # a rule that names no key at all leaves them to sops's flags and environment
        # (SOPS_PGP_FP, SOPS_AGE_RECIPIENTS): there are no recipients to drift from
        keyless = not any(g.age or g.pgp or g.other for g in rule.key_groups)
        missing = [k for k in want if k not in have]
        extra = [] if keyless else [k for k in have if k not in want]
        # during a rotation, a file on the old key without the new one: SM017's case, same cure
        curing = [c for c, old, new in rotations if old in have and missing == [new]]
        old_only = bool(curing)
        if missing:
            problems.append(f"missing recipient {_keys(missing)}")
            if old_only:
                problems[-1] += f" (the new cluster key: {OLD_KEY_ONLY})"
        if extra:
            problems.append(f"extra recipient {_keys(extra)}")
        foreign = [] if keyless else foreign_drift(rule, sf.metadata)
        problems += foreign
        spec = rule.encryption_rule
        wanted = EncryptionRule(RuleKind(spec.kind), spec.value) if spec else EncryptionRule()
        got = sf.metadata.rule
        if entry.store == "binary":  # sops ignores both settings for a binary-store file
            wanted, got = got, got
        if _every_value_encrypted(sf.docs, got) and _every_value_encrypted(sf.docs, wanted):
            # `encrypted_regex: .*` against a rule that sets none, or the other way round: every
            # value encrypted either way (sweep 104, JJGadgets/homelab: the fix re-encrypted
            # talenv.sops.yaml for nothing; the second review of stop 54: the other direction)
            got = wanted
        if got != wanted:
            problems.append(
                f"encryption rule {got.kind.value}: {_clip(got.value, wanted.value)} "
                + (
                    f"(rule says {wanted.kind.value}: {_clip(wanted.value, got.value)})"
                    if spec is not None
                    # sops's default then: every value but keys ending in _unencrypted
                    else "(the rule sets none: sops encrypts every value)"
                )
            )
        mac_only_differs = (
            sf.metadata.mac_only_encrypted != rule.mac_only_encrypted
            and entry.store != "binary"
            # every value encrypted: the MAC covers the same values either way (jfroy/flatops)
            and not _every_value_encrypted(sf.docs, got)
        )
        if mac_only_differs:
            problems.append(
                f"mac_only_encrypted is {str(sf.metadata.mac_only_encrypted).lower()} "
                f"(rule says {str(rule.mac_only_encrypted).lower()})"
            )
        if problems:
            rule_change = got != wanted or mac_only_differs
            exposed = [k for k in secret_key_paths(sf.docs) if not creation_rule_encrypts(entry, k)]
            revealed = _revealed(sf.docs, got, wanted) if rule_change else []
            if rule_change and exposed:
                # re-encrypting under this creation rule would write a Secret value in clear
                fix = widen_hint(entry, exposed[0], too=False)
            elif revealed:
                # a values file encrypted whole by an older rule, now matched by a Secret rule
                # (KakatkarAkshay/cloudlab_applications): re-encrypting would write it in clear
                fix = _own_rule_hint(entry, revealed, got)
            elif rule_change and _breaks_flux(ctx, entry, sf.docs, wanted):
                # re-encrypting would encrypt an object's identity that a layer's transformer
                # rewrites: SM015 at once (sweep 19, coldb/homelab: a rule with no regex)
                fix = (
                    f"do not re-encrypt under {label}: it would "
                    "encrypt the object's apiVersion, kind and metadata, which a layer here "
                    "rewrites (SM015); give the rule encrypted_regex: ^(data|stringData)$"
                )
            elif rule_change and spec is None and _identity_encrypted(sf.docs, got, wanted):
                # a Flux object under a rule that sets nothing: re-encrypting would encrypt its
                # apiVersion, kind and metadata, which kustomize reads before Flux decrypts
                # (sweep 75, justingarfield/home-ops: 31 fixes re-encrypted to that rule, as
                # init's own step said to give the rule the regex)
                fix = (
                    f"give {label} encrypted_regex: {got.value} (as the file has it): under no "
                    "setting sops encrypts the object's apiVersion, kind and metadata too, which "
                    "kustomize reads before Flux decrypts (SM015 where a layer rewrites them)"
                    if got.kind is RuleKind.ENCRYPTED_REGEX
                    else f"do not re-encrypt under {label}: it would encrypt the object's "
                    "apiVersion, kind and metadata too; give the rule encrypted_regex: "
                    "^(data|stringData)$"
                )
            elif rule_change:
                fix = reencrypt_fix(entry)
            elif foreign or sf.metadata.foreign_kinds:
                # PGP, KMS, Vault: keys only sops can use (rotate refuses a file on any of them:
                # sweep 96, iT3E/tnwks-ops, an age key missing from a file on KMS and age keys)
                fix = ctx.repo.sops_configs.updatekeys_hint(
                    entry.path, sf.metadata.foreign_kinds, ctx.repo.cluster_keys_for(entry)
                )
                # the rule's keys the policy does not allow go on with sops too: said first
                # (the review of stop 51: the rotate fix said so, this one did not)
                first = _policy_first(ctx, entry, label, extra, missing)
                if first:
                    fix = f"{first}, then: {fix}"
            elif old_only and not extra:
                fix = rotation_cure(curing[0])
            else:
                fix = f"secretsmgr rotate {sh_path(entry.path)}"
                first = _policy_first(ctx, entry, label, extra, missing)
                if first:
                    fix = f"{first}, then: {fix}"
            # a cluster key the file carries and the rule does not name: every cure above
            # follows the rule's recipients and would drop it (Ramblurr/home-lab, sweep 14: a
            # catch-all rule naming the operator's key alone)
            # another cluster's key on the file is no such key: following the rule drops it
            ours = keys_of_its_clusters(ctx, entry.path, per_cluster) if extra else frozenset()
            dropped = [k for k in extra if k in ours]
            if dropped:
                fix = (
                    f"add {', '.join(dropped)} to {label} first: it is a key of the cluster that "
                    "applies the file (its other files carry it), which the rule does not name, "
                    "so following the rule now would drop it and Flux could no longer decrypt "
                    f"the file; then: {fix}"
                )
            stale = _files_key(ctx, entry, extra, files_key) if missing and not dropped else None
            if stale is not None:
                # sweep 22, FalkWinkler/home-ops: the rule named a key no applied file was on,
                # and its cure would have moved the one live file off the key Flux held
                fix = (
                    f"if the cluster holds {stale} (every SOPS file the layers apply is on it, "
                    f"none on the key {label} names), name it in the rule instead: following the "
                    f"rule would move the file off it; if the cluster holds the rule's key: {fix}"
                )
            yield RULE.finding(entry.path, f"differs from {label}: " + "; ".join(problems), fix=fix)
    yield from _unreachable_rules(ctx)


# A path_regex every path matches: sops takes the first rule that matches, so none after it
# is ever used
_CATCH_ALL = frozenset(("", ".*", "^.*$", "^.*", ".*$", ".+", "^.+$", ".*?"))


def _catches(earlier: CreationRule, later: CreationRule) -> bool:
    """Whether ``earlier`` matches every path ``later`` would (the same path_regex, or one
    that matches any path)."""
    before = earlier.path_regex or ""
    return before in _CATCH_ALL or before == (later.path_regex or "")


def _unreachable_rules(ctx: AuditContext) -> Iterator[Finding]:
    """A creation rule that an earlier one of its `.sops.yaml` shadows, naming other keys or
    another encryption rule (sweep 41, wcl6-ml/Homelab: two clusters' rules under the same
    `.*.yaml`, the second, with the second cluster's key, never used); a duplicate that names
    the same keys changes nothing and is left alone."""
    configs = ctx.repo.sops_configs
    for config in configs.all_loaded():
        label = configs.label(config)
        if label.startswith("/"):
            continue  # a config outside the repository (sops' fallback): not ours to judge
        for later_at, later in enumerate(config.rules):
            for earlier_at, earlier in enumerate(config.rules[:later_at]):
                if not _catches(earlier, later):
                    continue
                if (earlier.key_groups, earlier.encryption_rule) == (
                    later.key_groups,
                    later.encryption_rule,
                ):
                    break
                shown = f" (path_regex: {later.path_regex})" if later.path_regex else ""
                catch = (
                    "matches every path"
                    if (earlier.path_regex or "") in _CATCH_ALL
                    else "has the same path_regex"
                )
                yield RULE.finding(
                    label,
                    f"rule {later_at + 1}{shown} is never used: rule {earlier_at + 1} before it "
                    f"{catch}, and sops takes the first rule that matches",
                    fix=f"narrow rule {earlier_at + 1}'s path_regex to the files it is for (a "
                    "cluster's folder, with one rule per cluster), or move the narrower rule "
                    "first",
                )
                break


def _files_key(
    ctx: AuditContext,
    entry: SopsEntry,
    extra: Sequence[str],
    known: dict[tuple[str | None, tuple[str, ...]], str | None],
) -> str | None:
    """The key among ``extra`` that every SOPS file a cluster applying ``entry`` is on, where
    the key that cluster gets from `.sops.yaml` is on none of them (see SM004); ``known``
    keeps the answer per cluster and keys."""
    for group in ctx.repo.expected_keys(entry):
        if group.source == SOPS_CONFIG_NAME:
            found = (group.cluster, group.keys)
            if found not in known:
                known[found] = ctx.repo.key_of_applied_files(*found)
            other = known[found]
            if other is not None and other in extra:
                return other
    return None


def _them(keys: list[str]) -> str:
    return "it" if len(keys) == 1 else "them"


def _policy_first(
    ctx: AuditContext, entry: SopsEntry, label: str, extra: list[str], missing: list[str]
) -> str:
    """What must change before ``rotate`` can cure the drift, or "": ``rotate`` writes the
    policy (cluster keys and ``allowed_recipients``), not the rule, so a key
    allowed_recipients puts on every file that the rule leaves out
    drifts again after it (sweep 20, Samoth69/HomeOps: SM011's rotate fix brought back the same
    SM011, for ever); a key the rule names that the policy does not give must leave the rule
    or join allowed_recipients, on every file (the review: the first version did not say so)."""
    repo = ctx.repo
    if repo.follows_own_rule(entry):
        return ""  # rotate gives it its rule's keys
    own = set(repo.cluster_keys_for(entry))
    allowed = set(repo.allowed_for(entry))
    sticky = [k for k in extra if k in allowed and k not in own]
    # a file no layer applies yet gets the cluster keys its rule names too: only applied ones
    unreached = [k for k in missing if k not in own | allowed] if repo.layers_of(entry.path) else []
    if unreached:
        # the policy has no per-rule keys: SM005 calls such a key on a file unexpected, and
        # rotate drops it; both ways are named with what they do (the review: the first
        # version said "list it" and did not say that it goes on every file)
        them = _them(unreached)
        return (
            f"{label} names {_keys(unreached)}, neither a cluster key nor in "
            f"allowed_recipients, which rotate writes: take {them} off the rule, or list "
            f"{them} under allowed_recipients in {SETTINGS_NAME}, which puts {them} on every "
            "file rotate writes"
        )
    if sticky:
        return (
            f"allowed_recipients in {SETTINGS_NAME} puts {_keys(sticky)} on every file rotate "
            f"writes, and {label} does not name {_them(sticky)}: add {_them(sticky)} to the "
            f"rule, or take {_them(sticky)} out of allowed_recipients"
        )
    return ""


def _unreadable_configs(ctx: AuditContext) -> Iterator[Finding]:
    """A `.sops.yaml` below the root that cannot be read: sops run from its folder (or below)
    fails on it, and secretsmgr reads it as one with no rule. An error where it governs SOPS
    files, a warning where it governs none (sweep 106, Odinyg/homelab: a malformed one in a
    folder of no SOPS file made every command refuse)."""
    configs = ctx.repo.sops_configs
    for rel, why in sorted(configs.unreadable().items()):
        folder = posixpath.dirname(rel)
        governed = [e.path for e in ctx.repo.sops_files if configs.folder_of(e.path) == folder]
        finding = RULE.finding(
            rel,
            f"cannot be read ({why.removeprefix(rel + ': ')}): sops run from {folder}/ or "
            "below fails on it, and no creation rule of it is known"
            + (f"; it governs {plural(len(governed), 'SOPS file')}" if governed else ""),
            fix="repair it (a mapping with a creation_rules: list) or remove it: git rm "
            + sh_path(rel),
        )
        yield replace(finding, severity=Severity.ERROR if governed else Severity.WARNING)


def _every_value_encrypted(docs: Sequence[MapNode], rule: EncryptionRule) -> bool:
    """Whether every value of the file is one its rule encrypts."""
    return all(
        encrypted
        for doc in docs
        for _, leaf, encrypted in iter_leaves(doc, rule)
        if not isinstance(leaf, Comment)
    )


def _revealed(docs: Sequence[MapNode], got: EncryptionRule, wanted: EncryptionRule) -> list[str]:
    """The key paths of the values the file's own rule encrypts and ``wanted`` would not (a
    Kubernetes object's apiVersion, kind, metadata and type are no secret to keep)."""
    out: list[str] = []
    for doc in docs:
        now = {p for p, leaf in encrypted_leaves(doc, got) if not isinstance(leaf, Comment)}
        then = {p for p, leaf in encrypted_leaves(doc, wanted) if not isinstance(leaf, Comment)}
        manifest = doc.has("apiVersion") and doc.has("kind")
        out += [".".join(p) for p in sorted(now - then) if not (manifest and p[0] in STRUCTURE)]
    return out


def _own_rule_hint(entry: SopsEntry, revealed: list[str], got: EncryptionRule) -> str:
    """The fix when re-encrypting under the creation rule would leave values in clear: give
    the file a rule of its own (sops takes the first rule that matches), or keep it."""
    where = entry.sops_config or ".sops.yaml"
    number = entry.creation_rule_number
    more = f" and {plural(len(revealed) - 1, 'more value')}" if len(revealed) > 1 else ""
    above = f"above rule {number}" if number else "first"
    how = (
        "no encrypted_regex"
        if got == EncryptionRule()
        else f"{got.kind.value}: {_clip(got.value, '')}"
    )
    return (
        f"do not re-encrypt under this rule: it would leave {revealed[0]}{more} in clear, "
        f"which this file encrypts now; add a rule for this file {above} in {where} (a "
        f"path_regex that matches it and {how}, as the file was made), or leave the file as "
        "it is"
    )


def secret_key_paths(docs: Sequence[MapNode]) -> list[str]:
    """``data.KEY``/``stringData.KEY`` of every value of the core v1 Secrets in ``docs``."""
    found: list[str] = []
    for doc in docs:
        if doc.get("kind") != "Secret" or doc.get("apiVersion") != "v1":
            continue
        for section in ("stringData", "data"):
            values = doc.get(section)
            if isinstance(values, MapNode):
                found += [
                    f"{section}.{item[0]}" for item in values.items if not isinstance(item, Comment)
                ]
    return found


_SHOWN = 80  # longer rule values (a regex of every key name) are cut in the message


def _clip(value: str, other: str) -> str:
    """``value``, or, when it is too long to read in one line, the part where it differs from
    ``other`` with a little around it, and its length."""
    if len(value) <= _SHOWN:
        return value
    start = 0  # the common start of the two: the window opens a little before it ends
    while start < min(len(value), len(other)) and value[start] == other[start]:
        start += 1
    lo = max(0, start - 8)
    hi = min(len(value), lo + _SHOWN - 12)
    shown = ("…" if lo else "") + value[lo:hi] + ("…" if hi < len(value) else "")
    return f"{shown} ({len(value)} characters)"


def _configs_elsewhere(ctx: AuditContext) -> list[str]:
    """The repository's own `.sops.yaml` files (relative paths), when any."""
    configs = ctx.repo.sops_configs
    labels = [configs.label(c) for c in configs.all_loaded()]
    return [label for label in labels if not label.startswith("/")]


def foreign_drift(rule: CreationRule, metadata: SopsMetadata) -> list[str]:
    """Non-age keys (PGP fingerprints, KMS ARNs, GCP, Azure, Vault and HCKMS key ids) the rule
    names and the file lacks, or the file has and the rule does not name."""
    # key id as compared -> as the rule writes it (a PGP id in any case, 0x before it or not)
    written = {pgp_id(k): k.strip() for g in rule.key_groups for k in g.pgp}
    # a KMS key given as ARN+ROLE_ARN: the file keeps the role beside the ARN
    written |= {
        k.split("+", 1)[0].rstrip("/"): k.split("+", 1)[0].rstrip("/")
        for g in rule.key_groups
        for k in g.other
    }
    want = list(written)
    kinds = {k: f for g in metadata.key_groups for f, k in g.foreign_ids()}
    have = list(kinds)
    missing = [w for w in want if not any(_names(w, h) for h in have)]
    extra = [h for h in have if not any(_names(w, h) for w in want)]
    problems = []
    if missing:
        problems.append("missing key " + ", ".join(_foreign(written[k]) for k in missing))
    if extra:
        problems.append("extra key " + ", ".join(_foreign(k, kinds.get(k)) for k in extra))
    return problems


def _names(want: str, have: str) -> bool:
    """Whether the rule's key id ``want`` names the file's ``have`` (an Azure key named in the
    rule without its version names every version of it)."""
    if have == want or (want.count("/keys/") == 1 and have.startswith(want + "/")):
        return True
    # a PGP key id (its fingerprint's last 8 or 16 hex digits) names that fingerprint (the
    # attack review: "missing key pgp X; extra key pgp X" of the same key)
    return (
        len(want) in (8, 16)
        and len(have) == 40
        and bool(_FINGERPRINT.fullmatch(want))
        and bool(_FINGERPRINT.fullmatch(have))
        and have.endswith(want)
    )


def _foreign(key: str, kind: str | None = None) -> str:
    if _FINGERPRINT.fullmatch(pgp_id(key)):  # a fingerprint's last 16, a short id as written
        return f"pgp {pgp_id(key)[-16:]}" if len(pgp_id(key)) > 16 else f"pgp {key}"
    return f"{kind} {key}" if kind else key


_FINGERPRINT = re.compile(r"[0-9A-F]{8,40}")


def precondition(ctx: AuditContext) -> str | None:
    """SM011 compares against `.sops.yaml`; without one there is nothing to compare."""
    return None if ctx.repo.has_sops_config else "no .sops.yaml found"


def _identity_encrypted(
    docs: Sequence[object], got: EncryptionRule, wanted: EncryptionRule
) -> bool:
    """Whether ``docs`` are Kubernetes objects whose kind or name ``got`` leaves in clear and
    ``wanted`` would encrypt."""
    objects = any(isinstance(d, MapNode) and d.has("kind") and d.has("metadata") for d in docs)
    identity = (("kind",), ("metadata", "name"))
    return (
        objects
        and any(path_is_encrypted(wanted, p) for p in identity)
        and not any(path_is_encrypted(got, p) for p in identity)
    )


def _breaks_flux(
    ctx: AuditContext, entry: SopsEntry, docs: Sequence[object], wanted: EncryptionRule
) -> bool:
    """Whether encrypting ``docs`` under ``wanted`` would encrypt a Kubernetes object's
    identity (its kind or metadata) in a decrypting layer whose build rewrites its metadata."""
    layers = [
        x
        for x in ctx.repo.layers.placements(entry.path)
        if x.decrypts_sops and entry.path in x.transformed
    ]
    objects = any(isinstance(d, MapNode) and d.has("kind") and d.has("metadata") for d in docs)
    return (
        bool(layers)
        and objects
        and (
            path_is_encrypted(wanted, ("kind",)) or path_is_encrypted(wanted, ("metadata", "name"))
        )
    )


RULE = Rule(
    id=RuleId("SM011"),
    name="creation-rule-drift",
    severity=Severity.WARNING,
    needs=frozenset(),
    summary="Recipients or encryption rule differ from the matching .sops.yaml rule",
    check=check,
    precondition=precondition,
)
