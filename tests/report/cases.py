"""Hand-built audit reports for the reporter tests (no engine, no repository)."""

from __future__ import annotations

from secretsmgr.audit.finding import (
    AuditReport,
    Finding,
    LayerSummary,
    Need,
    Rule,
    RuleId,
    Severity,
)

CLUSTER_KEY = "age1fq08vpk2qf5wmz4cg6w5uzqt2hqrz56dzp25pj57nrx606073frqc0n3qw"
STRANGER = "age1uue76tehvt32fqn3fnjtzemtejqdjdtthsd284tqz67sydch0uhskcn3c3"

_E, _W, _I = Severity.ERROR, Severity.WARNING, Severity.INFO
_TABLE = (
    ("SM001", "plaintext-secret", _E, (), "a Kubernetes Secret with data in plaintext"),
    ("SM002", "missing-sops-metadata", _E, (), "a *.enc.* file with no SOPS metadata"),
    ("SM003", "unencrypted-value", _E, (), "a value the rule says must be encrypted is not"),
    ("SM004", "cluster-key-missing", _E, (Need.CLUSTER_KEY,), "the cluster key is not a recipient"),
    ("SM005", "unexpected-recipient", _W, (Need.CLUSTER_KEY,), "a recipient that is not allowed"),
    ("SM006", "malformed-sops", _E, (), "malformed SOPS metadata or ENC value"),
    ("SM007", "mac-mismatch", _E, (Need.IDENTITY,), "the MAC does not match"),
    ("SM008", "stale-data-key", _W, (), "the data key is older than max_age_days"),
    ("SM009", "private-key-committed", _E, (), "an age private key in a file"),
    ("SM010", "layer-without-decryption", _E, (), "a SOPS file in a layer without decryption"),
    ("SM011", "creation-rule-drift", _W, (), "recipients or rule differ from .sops.yaml"),
    ("SM012", "not-deployed-by-flux", _I, (), "a SOPS file no live Flux layer applies"),
    ("SM013", "changelog-gap", _W, (), "the file's lastmodified has no changelog entry"),
    ("SM014", "shared-data-key", _W, (), "two files share a wrapped data key or MAC"),
    ("SM015", "flux-cannot-decrypt", _E, (), "a SOPS file Flux will not decrypt"),
    ("SM016", "cluster-key-drift", _E, (Need.CLUSTER,), "the live cluster lacks the cluster key"),
)
RULES: tuple[Rule, ...] = tuple(
    Rule(RuleId(i), name, sev, frozenset(needs), summary, lambda _ctx: ())
    for i, name, sev, needs, summary in _TABLE
)
BY_ID = {rule.id: rule for rule in RULES}


def finding(rule: str, path: str, message: str, *layers: str, **kw: str) -> Finding:
    """A finding of the test rule ``rule``."""
    return BY_ID[RuleId(rule)].finding(path, message, layers=tuple(layers), **kw)


INFRA = LayerSummary(
    "infrastructure",
    "gitops/infrastructure",
    (),
    "sops/sops-age",
    (
        "gitops/infrastructure/cert-manager/cloudflare-api-token.enc.yaml",
        "gitops/infrastructure/storage/backup-credentials.enc.yaml",
    ),
)
DATABASES = LayerSummary(
    "databases",
    "gitops/apps/databases",
    ("infrastructure",),
    "sops/sops-age",
    (
        "gitops/apps/postgresql/credentials.enc.yaml",
        "gitops/apps/redis/auth.enc.yaml",
        "gitops/apps/redis/sentinel.enc.yaml",
    ),
)
APPS = LayerSummary(
    "apps",
    "gitops/apps/applications",
    ("databases",),
    "sops (controller key)",
    ("gitops/apps/authentik/secret.enc.yaml", "gitops/apps/redis/sentinel.enc.yaml"),
)
MONITORING = LayerSummary(
    "monitoring",
    "gitops/monitoring",
    ("apps",),
    None,
    ("gitops/monitoring/grafana-admin.enc.yaml",),
)

SOPS_FILES = tuple(
    sorted(
        {p for layer in (INFRA, DATABASES, APPS, MONITORING) for p in layer.sops_files}
        | {"old/legacy.enc.yaml"}
    )
)

BROKEN = AuditReport(
    findings=(
        # deliberately out of order: reporters sort
        finding(
            "SM012",
            "old/legacy.enc.yaml",
            "no Kustomization reaches this file",
            fix="add it to a kustomization.yaml, or delete it",
        ),
        finding(
            "SM004",
            "gitops/apps/redis/auth.enc.yaml",
            "cluster key is not a recipient (recipients: age1uue76te…3c3)",
            "databases",
            fix="secretsmgr rotate gitops/apps/redis/auth.enc.yaml  (needs a key that can read it)",
        ),
        finding(
            "SM005",
            "gitops/apps/redis/auth.enc.yaml",
            f"unexpected recipient {STRANGER[:12]}…",
            "databases",
        ),
        finding(
            "SM001",
            "gitops/apps/redis/redis-acl.yaml",
            "Secret 'redis-acl' has stringData in plaintext (1 key)",
            "databases",
            key_path="stringData.acl-password",
            fix="secretsmgr encrypt -i gitops/apps/redis/redis-acl.yaml, then rename to *.enc.yaml",
        ),
        finding(
            "SM003",
            "gitops/apps/authentik/secret.enc.yaml",
            "value is not encrypted",
            "apps",
            key_path="stringData.ADMIN_TOKEN",
        ),
        finding(
            "SM009",
            "gitops/apps/authentik/notes.txt",
            "an age private key on line 7, message with 100% odd chars: a,b\r\nnext",
        ),
        finding(
            "SM010",
            "gitops/monitoring/grafana-admin.enc.yaml",
            "layer 'monitoring' has no sops decryption",
            "monitoring",
        ),
        finding(
            "SM014",
            "gitops/apps/redis/sentinel.enc.yaml",
            "shares its data key with gitops/apps/redis/sentinel-copy.enc.yaml",
            "databases",
            "apps",
        ),
    ),
    files=54,
    sops_files=SOPS_FILES,
    layers=(INFRA, DATABASES, APPS, MONITORING),
    suppressed=1,
    skipped=(
        (RuleId("SM007"), "no identity: use --verify-mac with a key"),
        (RuleId("SM016"), "no cluster access: use --from-cluster"),
    ),
    cluster_keys=(CLUSTER_KEY,),
    cluster_key_source=".secretsmgr.yaml",
)

CLEAN = AuditReport(
    findings=(),
    files=40,
    sops_files=tuple(sorted(p for layer in (INFRA, DATABASES) for p in layer.sops_files)),
    layers=(INFRA, DATABASES),
    cluster_keys=(CLUSTER_KEY,),
    cluster_key_source=".sops.yaml",
)

# A pre-commit style run: one plaintext Secret, no cluster key known.
CHECK_ONE = AuditReport(
    findings=(
        finding(
            "SM001",
            "gitops/apps/redis/redis-acl.yaml",
            "Secret 'redis-acl' has stringData in plaintext",
            "databases",
            key_path="stringData.acl-password",
        ),
    ),
    files=1,
    sops_files=(),
    layers=(),
    skipped=((RuleId("SM004"), "no cluster key"), (RuleId("SM005"), "no cluster key")),
)

CASES: dict[str, AuditReport] = {"broken": BROKEN, "clean": CLEAN, "check-one": CHECK_ONE}
