"""What ``secretsmgr init`` decides and does, as plain data: the plan, its files and keys."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from secretsmgr.changelog.adopt import AdoptPlan
from secretsmgr.init.keystore import NewKey
from secretsmgr.repo.inventory import LiveKeys

ADOPT_REASON = "secretsmgr init: the SOPS files as they were"
NEW = "new"


class FileState(StrEnum):
    """What the run does to one file."""

    CREATE = "create"
    REPLACE = "replace"
    UPDATE = "update"
    UP_TO_DATE = "up to date"
    KEPT = "kept"
    NOT_WRITTEN = "not written"


@dataclass(frozen=True, slots=True)
class FileChange:
    """One file init writes, or leaves as it is."""

    path: str
    state: FileState
    summary: str
    text: str | None = field(default=None, repr=False)
    forced: bool = False  # kept, and ``--force`` would write it (its summary says so)

    @property
    def writes(self) -> bool:
        """Whether applying the plan writes this file."""
        return self.state in (FileState.CREATE, FileState.REPLACE, FileState.UPDATE)


@dataclass(frozen=True, slots=True)
class KeptConfig:
    """A `.sops.yaml` init keeps that governs files the layers apply (the root's, or one in a
    folder of its own), and what its rules lack for the cluster key."""

    path: str  # the config, relative to the root
    folders: tuple[str, ...] = ()  # the layers' folders it governs
    unnamed: tuple[str, ...] = ()  # cluster keys of its files' clusters that no rule names
    # a new secret in a layer's folder it governs that none of its rules matches, and then a
    # path beside a SOPS file the layers apply that one of its rules matches (or None)
    unmatched: str | None = None
    example: str | None = None
    # the rules ``init --force`` would write there: (path_regex, age keys), one per set of
    # clusters, for the step that says what to add
    rules: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class ClusterKey:
    """The key of one cluster and where it came from (``new``: made by this run)."""

    cluster: str | None
    public: str
    source: str


@dataclass(frozen=True, slots=True)
class InitOptions:
    """What the command line asked for."""

    cluster_key: str | None = None
    live: tuple[LiveKeys, ...] = ()  # --from-cluster: one Secret, or one per cluster context
    output: Path | None = None  # -o FILE for new identities; None = the OS keyring
    force: bool = False


@dataclass(frozen=True, slots=True)
class InitPlan:
    """Everything a run would do; nothing is written until it is applied."""

    root: Path
    clusters: tuple[ClusterKey, ...]
    new_keys: tuple[NewKey, ...] = field(repr=False)
    store: str | None  # where new identities go
    files: tuple[FileChange, ...]
    adopt: AdoptPlan
    layers: int
    sops_files: int
    # layers applying SOPS files without sops decryption, each with the spec.decryption to give
    # it (what its cluster's decrypting layers use)
    undecrypted: tuple[tuple[str, str], ...]
    notes: tuple[str, ...]
    secret_name: str = "secret.enc.yaml"  # a new secret's name the `.sops.yaml` rules match
    # (namespace, name) of each Secret a cluster's decrypting layers read their key from:
    # Flux looks it up in the Kustomization's own namespace (not always flux-system)
    targets: Mapping[str | None, tuple[tuple[str, str], ...]] = field(default_factory=dict)
    # clusters whose layers decrypt with kustomize-controller's own keys (no secretRef), and
    # the Secret its --sops-age-secret flag names, when the repository sets one
    controller_key: frozenset[str | None] = frozenset()
    controller_secret: str | None = None
    controller_namespace: Mapping[str | None, str] = field(default_factory=dict)
    held: frozenset[str] = frozenset()  # cluster keys an identity at hand opens
    ignored: tuple[str, ...] = ()  # files init writes or keeps that git ignores
    # each kept `.sops.yaml` governing files the layers apply that names a cluster key in no
    # rule, or has no rule for a new secret in a layer's folder
    kept_configs: tuple[KeptConfig, ...] = ()
    # whether a `.sops.yaml` init writes (or finds as it would write it) governs files the
    # layers apply: a new secret in their folders matches a rule
    rules_written: bool = True
    # whether the checkout holds a `.sops.yaml` before init runs (anywhere)
    sops_config_found: bool = True
    # clusters whose layers apply a file on PGP keys: their decryption Secret may hold one
    pgp_clusters: frozenset[str | None] = frozenset()
    # ``namespace/name`` of each Secret a Flux source reads its credentials from, with those
    # sources: the key goes beside them (`--add`), never over them
    source_secrets: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # the kept `.sops.yaml` rule a new secret matches names PGP, KMS or Vault keys too: only
    # sops encrypts to every key it names
    rule_needs_sops: bool = False
    # ... and one of those keys is a PGP key, whose public half sops reads from GnuPG's keyring
    rule_needs_gpg: bool = False
    # the kept rule for a new secret there has no encrypted_regex (nor any other encryption
    # rule): it encrypts apiVersion, kind and metadata too (sweep 74, MTRNord/cluster: SM015)
    rule_encrypts_whole: str | None = None
    # clusters none of whose layers decrypts sops (cluster, its layers' labels, whether some
    # are flux bootstrap's, in gotk-sync.yaml): a first secret there reaches the cluster
    # encrypted (sweep 30, ttretau/homelab-gitops: the decryption was commented out)
    # (cluster, layers, written by flux bootstrap, namespaces other than Flux's they are in)
    no_decryption: tuple[tuple[str | None, tuple[str, ...], bool, tuple[str, ...]], ...] = ()
    # ... the spec.decryption each of those clusters' layers should get (the Secret the key
    # goes to: what the repository's decrypting layers read, else sops-age)
    no_decryption_spec: Mapping[str | None, str] = field(default_factory=dict)
    # whether `pre-commit` is on PATH: the hook step says how to get it when it is not
    pre_commit_found: bool = True
    # the folders of this checkout's layers that decrypt SOPS files, when some layers do not:
    # where a new secret goes (sweep 60, lab-xyz/lab: the step's PATH could be clusters/, which
    # Flux applies without decryption)
    decrypting_folders: tuple[str, ...] = ()
    # files the layers apply that are not on their cluster's key: key export refuses it until
    # `rotate --all` puts them on it
    off_key: bool = False

    @property
    def changes(self) -> bool:
        """Whether applying the plan changes anything."""
        return (
            bool(self.new_keys) or self.adopt.entry is not None or any(f.writes for f in self.files)
        )


@dataclass(frozen=True, slots=True)
class InitResult:
    """What a run did."""

    plan: InitPlan
    stored_in: str | None = None
    seq: int | None = None
