"""Every audit rule, listed explicitly in id order (no discovery by reflection).

Ids are permanent: never renumbered, never reused.
"""

from __future__ import annotations

from secretsmgr.audit.finding import Rule, RuleId
from secretsmgr.audit.rules import (
    sm001_plaintext_secret,
    sm002_missing_sops_metadata,
    sm003_unencrypted_value,
    sm004_cluster_key_missing,
    sm005_unexpected_recipient,
    sm006_malformed_sops,
    sm007_mac_mismatch,
    sm008_stale_data_key,
    sm009_private_key_committed,
    sm010_layer_without_decryption,
    sm011_creation_rule_drift,
    sm012_not_deployed_by_flux,
    sm013_changelog_gap,
    sm014_shared_data_key,
    sm015_flux_cannot_decrypt,
    sm016_cluster_key_drift,
    sm017_cluster_key_rotation,
    sm018_plaintext_credential,
    sm019_exposed_in_history,
    sm020_removed_recipient_can_read,
    sm021_symlinked_sops_file,
    sm022_interrupted_write,
    sm023_edited_outside_sops,
)

RULES: tuple[Rule, ...] = (
    sm001_plaintext_secret.RULE,
    sm002_missing_sops_metadata.RULE,
    sm003_unencrypted_value.RULE,
    sm004_cluster_key_missing.RULE,
    sm005_unexpected_recipient.RULE,
    sm006_malformed_sops.RULE,
    sm007_mac_mismatch.RULE,
    sm008_stale_data_key.RULE,
    sm009_private_key_committed.RULE,
    sm010_layer_without_decryption.RULE,
    sm011_creation_rule_drift.RULE,
    sm012_not_deployed_by_flux.RULE,
    sm013_changelog_gap.RULE,
    sm014_shared_data_key.RULE,
    sm015_flux_cannot_decrypt.RULE,
    sm016_cluster_key_drift.RULE,
    sm017_cluster_key_rotation.RULE,
    sm018_plaintext_credential.RULE,
    sm019_exposed_in_history.RULE,
    sm020_removed_recipient_can_read.RULE,
    sm021_symlinked_sops_file.RULE,
    sm022_interrupted_write.RULE,
    sm023_edited_outside_sops.RULE,
)

_BY_ID = {rule.id: rule for rule in RULES}


def get_rule(rule_id: str) -> Rule:
    """The rule with id ``rule_id`` (``KeyError`` when there is none)."""
    return _BY_ID[RuleId(rule_id)]
