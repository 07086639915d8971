"""`.secretsmgr.yaml` as text: a commented file from ``Settings``, and the settings that pin a
repository's cluster key(s).

``init`` writes the file this way; ``key rotate --begin`` can do the same in a repository that
names its cluster key only in `.sops.yaml` (``render_settings(pinned_settings(inv, keys))``), so
that its state has a home. Every text rendered here parses back to the same ``Settings``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from secretsmgr import __version__
from secretsmgr.keys.bech32 import is_sops_recipient
from secretsmgr.repo.inventory import Inventory
from secretsmgr.repo.settings import SETTINGS_NAME, ClusterSpec, Settings, parse_settings
from secretsmgr.repo.sopsconfig import SOPS_CONFIG_NAME, all_age_recipients

PROJECT_URL = "https://github.com/secretsmgr/secretsmgr"
SCHEMA_URL = (
    "https://raw.githubusercontent.com/secretsmgr/secretsmgr/"
    f"v{__version__}/secretsmgr/repo/secretsmgr.schema.json"
)
DOCS_URL = f"{PROJECT_URL}/blob/v{__version__}/docs/configuration.md"
_DEFAULTS = Settings()


def _q(text: str) -> str:
    """A YAML double-quoted scalar (JSON's escapes are valid YAML)."""
    return json.dumps(text, ensure_ascii=False)


def _keys_block(name: str, keys: tuple[str, ...]) -> list[str]:
    return [f"{name}:", *(f"  - {k}" for k in keys)] if keys else [f"{name}: []"]


def _clusters_block(clusters: tuple[ClusterSpec, ...]) -> list[str]:
    lines = ["clusters:"]
    for spec in clusters:
        lines.append(f"  {_q(spec.name)}:")
        lines.append(f"    path: {_q(spec.path)}")
        if spec.cluster_key:
            lines.append(f"    cluster_key: {spec.cluster_key}")
        if spec.next_cluster_key:
            lines.append(f"    next_cluster_key: {spec.next_cluster_key}")
        if spec.context:
            lines.append(f"    context: {_q(spec.context)}")
    return lines


def render_settings(settings: Settings) -> str:
    """A commented `.secretsmgr.yaml` holding ``settings``; keys at their default are shown
    commented out, with an example."""
    s = settings
    out = [
        f"# yaml-language-server: $schema={SCHEMA_URL}",
        "# Settings for this repository, written by `secretsmgr init`.",
        f"# Every key is described in {DOCS_URL}",
        "# An unknown or mistyped key is an error (exit 2).",
        "",
    ]
    out += [
        "# The public half of the age key in the Secret Flux decrypts with (flux-system/",
        "# sops-age unless the Kustomizations' decryption.secretRef names another): every SOPS",
        "# file a cluster applies must be encrypted to it (SM004). `secretsmgr key export`",
        "# sends its private half to the cluster; `secretsmgr key rotate` replaces it.",
    ]
    out.append(f"cluster_key: {s.cluster_key}" if s.cluster_key else "# cluster_key: age1…")
    if s.next_cluster_key:
        out.append(f"next_cluster_key: {s.next_cluster_key}")
    if s.clusters:
        out += [
            "",
            "# The clusters of this repository: the folder of each one's Flux root, and its own",
            "# key for the files it applies.",
            *_clusters_block(s.clusters),
        ]
    out += [
        "",
        "# Other recipients a SOPS file may carry (a break-glass admin key); any other raises",
        "# SM005. `secretsmgr rotate` encrypts every file to the cluster key and these.",
    ]
    out += _keys_block("allowed_recipients", s.allowed_recipients)
    out += ["", "# SM008: a data key older than this many days is stale."]
    if s.max_age_days != _DEFAULTS.max_age_days:
        out.append(f"max_age_days: {s.max_age_days}")
    else:
        out.append(f"# max_age_days: {_DEFAULTS.max_age_days}")
    out += ["", "# The hash-chained changelog of every change secretsmgr makes."]
    if s.changelog != _DEFAULTS.changelog:
        out.append(f"changelog: {_q(s.changelog)}")
    else:
        out.append(f"# changelog: {_DEFAULTS.changelog}")
    out += ["", "# Suppressions: a rule, a path glob and the reason, for each one."]
    if s.ignore:
        out.append("ignore:")
        out += [
            f"  - {{rule: {e.rule}, path: {_q(e.path)}, reason: {_q(e.reason)}"
            + (f", key_path: {_q(e.key_path)}}}" if e.key_path else "}")
            for e in s.ignore
        ]
    else:
        out += [
            "# ignore:",
            '#   - {rule: SM009, path: "tests/keys/*.agekey", reason: "throwaway test keys"}',
        ]
    out += [
        "",
        "# SOPS files another tool decrypts (Talos, Ansible, Terraform): no SM010/SM012.",
    ]
    if s.outside_flux:
        out += ["outside_flux:", *(f"  - {_q(g)}" for g in s.outside_flux)]
    else:
        out += ["# outside_flux:", "#   - talos/**"]
    out += ["", "# Flux sources built from a folder of this repository (Kind/namespace/name)."]
    if s.sources:
        out += ["sources:", *(f"  {_q(k)}: {_q(v)}" for k, v in s.sources)]
    else:
        out += ["# sources:", '#   "OCIRepository/flux-system/cluster": kubernetes/']
    text = "\n".join(out) + "\n"
    if parse_settings(text) != settings:  # pragma: no cover - a bug in this renderer
        raise AssertionError(f"{SETTINGS_NAME} rendered from settings does not read back")
    return text


def implied_allowed(inv: Inventory, cluster_keys: tuple[str, ...]) -> tuple[str, ...]:
    """The age keys `.sops.yaml` rules name besides ``cluster_keys``, while the repository names
    its cluster key only there: what it already treats as allowed (see ``clusterkeys``).

    Only rules for the clusters' files count: a rule that names one of ``cluster_keys`` or
    governs a SOPS file a layer applies. ``allowed_recipients`` puts a key on every file that
    ``rotate`` writes, so another cluster's key or a docker host's, each named by a rule of its
    own, made every cluster file readable by them after a rotation (sweep 20, Samoth69/HomeOps);
    their own files follow their own rules (SM005 expects them there)."""
    if inv.repo_cluster_key_source != SOPS_CONFIG_NAME or inv.settings_name_keys:
        return ()
    applied = {
        (e.sops_config, e.creation_rule_number)
        for e in inv.sops_files
        if inv.layers.layers_of(e.path)
    }
    configs = inv.sops_configs
    named = (
        key
        for config in configs.all_loaded()
        for number, rule in enumerate(config.rules, start=1)
        if (configs.label(config), number) not in inv.flux_free_rules
        and (
            (configs.label(config), number) in applied
            or any(k in cluster_keys for k in all_age_recipients(rule))
        )
        for key in all_age_recipients(rule)
    )
    # ssh keys and plugin recipients too (sweep 21, Onmar/home-prod: two YubiKeys' recipients
    # were left out, so every file they were on had SM005 warnings after init)
    return tuple(k for k in dict.fromkeys(named) if is_sops_recipient(k) and k not in cluster_keys)


def pinned_settings(
    inv: Inventory, keys: Mapping[str | None, str], specs: tuple[ClusterSpec, ...] = ()
) -> Settings:
    """``inv``'s settings with the cluster key(s) written down: ``cluster_key`` when every
    cluster has the same key, else one ``clusters:`` entry per cluster (``specs`` give their
    paths). Keys the `.sops.yaml` rules name besides them become ``allowed_recipients``, so
    nothing that was expected before becomes unexpected."""
    s = inv.settings
    distinct = tuple(dict.fromkeys(keys.values()))
    allowed = (*s.allowed_recipients, *implied_allowed(inv, distinct))
    allowed = tuple(k for k in dict.fromkeys(allowed) if k not in distinct)
    if len(distinct) == 1:
        cluster_key: str | None = distinct[0]
        clusters = tuple(ClusterSpec(c.name, c.path, None, c.context) for c in specs)
    else:
        cluster_key = None
        clusters = tuple(ClusterSpec(c.name, c.path, keys[c.name], c.context) for c in specs)
    return Settings(
        cluster_key=cluster_key,
        next_cluster_key=None,
        allowed_recipients=allowed,
        max_age_days=s.max_age_days,
        changelog=s.changelog,
        ignore=s.ignore,
        clusters=clusters or s.clusters,
        sources=s.sources,
        outside_flux=s.outside_flux,
    )
