"""SM019 exposed-in-history: from real commits (more history cases: tests/gate/test_history.py)."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest

from secretsmgr.audit.engine import load_context
from secretsmgr.audit.history import Exposure, HistoryFacts
from secretsmgr.audit.registry import get_rule
from secretsmgr.changelog.chain import FileRecord
from secretsmgr.gate.history import walk_repository
from tests.audit.helpers import K1, KEYS, enc, secret, write
from tests.cli.runner import run
from tests.conftest import git
from tests.gate.helpers import commit, gitops, history_findings


def test_sm019_fires_on_a_secret_committed_in_plaintext_then_encrypted(tmp_path: Path) -> None:
    root = gitops(tmp_path / "r", {"apps/api.yaml": secret("api", {"token": "leaked-token-1"})})
    (root / "apps/api.yaml").unlink()
    write(root, "apps/api.enc.yaml", enc(secret("api", {"token": "leaked-token-1"})))
    commit(root, "encrypt it")
    found = history_findings(root)
    assert ("SM019", "apps/api.yaml") in found
    message = found[("SM019", "apps/api.yaml")][0]
    assert "stringData.token" in message and "leaked-token-1" not in message
    first = git(root, "rev-list", "--max-parents=0", "HEAD").strip()
    assert first[:12] in message


def test_sm019_near_miss_regenerated_after_the_exposure(tmp_path: Path) -> None:
    root = gitops(tmp_path / "r")
    ctx = load_context(root)
    exposure = Exposure(
        "apps/db.enc.yaml", "stringData.password", "a" * 40, "2026-01-01T00:00:00Z", "SM001"
    )
    facts = HistoryFacts(commits=1, blobs=1, exposures=(exposure,))
    rule = get_rule("SM019")

    def with_changelog(
        time: str, regenerated: tuple[str, ...], action: str = "rotate"
    ) -> list[object]:
        # the changelog's own record: rotate --regenerate and set fill key_paths
        record = FileRecord(
            "apps/db.enc.yaml", time, (), (), None, "0" * 64, "1" * 64, key_paths=regenerated
        )
        entry = SimpleNamespace(time=time, files=(record,), action=action)

        return list(rule.check(replace(ctx, history=facts, changelog=(entry,))))  # type: ignore[arg-type]

    assert len(with_changelog("2025-12-01T00:00:00Z", ("stringData.password",))) == 1  # before
    assert len(with_changelog("2026-02-01T00:00:00Z", ("stringData.username",))) == 1  # other
    assert with_changelog("2026-02-01T00:00:00Z", ("stringData.password",)) == []
    assert with_changelog("2026-02-01T00:00:00Z", ("stringData.password",), "set") == []
    # a file of several documents records the document too (the last review of stop 52)
    assert with_changelog("2026-02-01T00:00:00Z", ("stringData.password (document 2)",)) == []
    # from the review: unset only removes the key; the leaked value may still be live
    assert len(with_changelog("2026-02-01T00:00:00Z", ("stringData.password",), "unset")) == 1


def test_the_printed_fixes_close_the_finding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # fifth sweep: the rule read a changelog field no writer fills, so neither rotate
    # --regenerate (its own fix) nor set could ever close it. Both now do, run for real.
    from tests.audit.helpers import KEYS
    from tests.cli.runner import run

    plain = secret("api", {"token": "leaked-token-1", "apikey": "leaked-key-2"})
    root = gitops(tmp_path / "r", {"apps/api.enc.yaml": plain})  # committed in clear
    write(root, "apps/api.enc.yaml", enc(plain))
    commit(root, "encrypt it")
    found = history_findings(root)[("SM019", "apps/api.enc.yaml")]
    assert len(found) == 2
    time.sleep(1.1)  # the changelog counts whole seconds after the exposing commit
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(KEYS / "test-only-1.agekey"))
    monkeypatch.chdir(root)
    args = ["rotate", "--regenerate", "stringData.token", "apps/api.enc.yaml", "--reason", "x"]
    assert run(args, capsys).code == 0
    commit(root, "regenerate the token")
    assert run(["set", "apps/api.enc.yaml", "stringData.apikey"], capsys, stdin="new-key").code == 0
    commit(root, "store the new key")
    assert ("SM019", "apps/api.enc.yaml") not in history_findings(root)


def test_an_editors_copy_is_closed_by_a_new_value_in_the_file_it_copies(tmp_path: Path) -> None:
    """sweep 44, BeastCave/home-kube: the VS Code sops extension's `.decrypted~X` copy was
    committed and deleted; its SM019 could only be closed by a changelog record for the copy,
    a file gone for good. A new value set in X closes it, and the fix names X."""
    root = gitops(tmp_path / "r", {"apps/db.sops.yaml": enc(secret("db", {"password": "x"}))})
    ctx = load_context(root)
    copy = "apps/.decrypted~db.sops.yaml"
    exposure = Exposure(copy, "stringData.password", "a" * 40, "2026-01-01T00:00:00Z", "SM002")
    facts = HistoryFacts(commits=1, blobs=1, exposures=(exposure,))
    rule = get_rule("SM019")
    [open_finding] = list(rule.check(replace(ctx, history=facts)))
    assert "secretsmgr set apps/db.sops.yaml stringData.password" in (open_finding.fix or "")
    record = FileRecord(
        "apps/db.sops.yaml",
        "2026-02-01T00:00:00Z",
        (),
        (),
        None,
        "0" * 64,
        "1" * 64,
        key_paths=("stringData.password",),
    )
    entry = SimpleNamespace(time="2026-02-01T00:00:00Z", files=(record,), action="set")
    assert list(rule.check(replace(ctx, history=facts, changelog=(entry,)))) == []  # type: ignore[arg-type]


def test_a_moved_files_exposure_follows_it_and_closes_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """sweep 46, sakura-dragon/clusters: a `git mv` of a plaintext Secret left its exposures at
    the old path (beside SM001 at the new one while still plaintext); once the file was
    encrypted and each value set anew, they stayed, with nothing left to close them."""
    from tests.audit.helpers import KEYS
    from tests.cli.runner import run
    from tests.conftest import git

    plain = secret("bot", {"PLATFORM": "gitea-host-1", "AUTHOR": "Bot <bot@example.org>"})
    root = gitops(tmp_path / "r", {"apps/base/x/settings.enc.yaml": plain})
    git(root, "mv", "apps/base/x/settings.enc.yaml", "apps/x.enc.yaml")
    commit(root, "move it")
    found = history_findings(root)
    assert not any(rule == "SM019" for rule, _ in found)  # plaintext today: SM001's
    assert len(found[("SM001", "apps/x.enc.yaml")]) == 2
    write(root, "apps/x.enc.yaml", enc(plain))
    commit(root, "encrypt it")
    found = history_findings(root)
    assert [k for k in found if k[0] == "SM019"] == [("SM019", "apps/x.enc.yaml")]
    assert all(
        " as apps/base/x/settings.enc.yaml in " in m for m in found[("SM019", "apps/x.enc.yaml")]
    )
    assert len(found[("SM019", "apps/x.enc.yaml")]) == 2
    time.sleep(1.1)  # the changelog counts whole seconds after the exposing commit
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(KEYS / "test-only-1.agekey"))
    monkeypatch.chdir(root)
    assert run(["log", "--adopt", "--reason", "start the changelog"], capsys).code == 0
    for key in ("stringData.PLATFORM", "stringData.AUTHOR"):
        assert run(["set", "apps/x.enc.yaml", key], capsys, stdin="new-value").code == 0
    commit(root, "new values")
    after = history_findings(root)
    assert not any(rule == "SM019" for rule, _ in after)


def test_a_file_a_merge_changed_and_then_moved_keeps_its_lineage(tmp_path: Path) -> None:
    """sweep 75, tvories/k8s-gitops: a HelmRelease changed on two branches (the merge made a
    blob of its own, which `git log` lists in no commit) was archived by `git mv`; its exposure
    stayed at the old path, beside SM018 at the new one, though the value is plaintext today."""
    from tests.conftest import git

    lines = [f"    setting{i}: value-{i}" for i in range(12)]
    release = (
        "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\n"
        "metadata: {name: benji, namespace: backup}\nspec:\n  values:\n"
        "    databaseEngine: postgresql://benji:Xq9vLw2pTr0ub4dor3@db:5432/benji\n"
    )
    root = gitops(tmp_path / "r", {"apps/benji.yaml": release + "\n".join(lines) + "\n"})
    git(root, "checkout", "-q", "-b", "side")
    side = [*lines]
    side[10] = "    setting10: changed-on-the-side"
    write(root, "apps/benji.yaml", release + "\n".join(side) + "\n")
    commit(root, "a side change")
    git(root, "checkout", "-q", "main")
    main = [*lines]
    main[1] = "    setting1: changed-on-main"
    write(root, "apps/benji.yaml", release + "\n".join(main) + "\n")
    commit(root, "a main change")
    git(root, "merge", "-q", "--no-edit", "--no-gpg-sign", "side")
    (root / "archive").mkdir()
    git(root, "mv", "apps/benji.yaml", "archive/benji.yaml")
    commit(root, "archive it")
    found = history_findings(root)
    assert not [k for k in found if k[0] == "SM019"], found  # plaintext today: SM018's
    assert ("SM018", "archive/benji.yaml") in found, found


def test_a_file_made_anew_where_one_moved_away_is_its_own(tmp_path: Path) -> None:
    """The attack review: after `git mv a b`, a plaintext file committed at a again had its
    exposure sent to b (whose value was never exposed), and a new value set in b closed it; an
    exposure at a before the move was dropped for the one after it."""
    root = gitops(tmp_path / "r", {"apps/a.enc.yaml": secret("db", {"password": "first-Qz7Lp2"})})
    write(root, "apps/a.enc.yaml", enc(secret("db", {"password": "first-Qz7Lp2"})))
    commit(root, "encrypt a")
    git(root, "mv", "apps/a.enc.yaml", "apps/b.enc.yaml")
    commit(root, "move it to b")
    write(root, "apps/a.enc.yaml", secret("db2", {"password": "second-Mh3Jd8"}))
    commit(root, "a new a, in clear")
    write(root, "apps/a.enc.yaml", enc(secret("db2", {"password": "second-Mh3Jd8"})))
    commit(root, "encrypt the new a")
    found = {k: m for k, m in history_findings(root).items() if k[0] == "SM019"}
    assert set(found) == {("SM019", "apps/a.enc.yaml"), ("SM019", "apps/b.enc.yaml")}
    assert " as apps/a.enc.yaml in " in found[("SM019", "apps/b.enc.yaml")][0]
    assert " as " not in found[("SM019", "apps/a.enc.yaml")][0]


def test_two_files_of_one_content_moved_at_once_both_follow(tmp_path: Path) -> None:
    """The second attack review: of two files holding the same bytes moved in one commit, only
    the first kept its exposure's lineage; the other was named at a path gone since."""
    plain = secret("db", {"password": "same-Qz7Lp2"})
    root = gitops(tmp_path / "r", {"apps/a1.enc.yaml": plain, "apps/a2.enc.yaml": plain})
    git(root, "mv", "apps/a1.enc.yaml", "apps/z1.enc.yaml")
    git(root, "mv", "apps/a2.enc.yaml", "apps/z2.enc.yaml")
    commit(root, "move both")
    for name in ("z1", "z2"):
        write(root, f"apps/{name}.enc.yaml", enc(plain))
    commit(root, "encrypt both")
    found = {k[1] for k in history_findings(root) if k[0] == "SM019"}
    assert found == {"apps/z1.enc.yaml", "apps/z2.enc.yaml"}


def test_an_exposed_age_key_file_is_replaced_not_regenerated(tmp_path: Path) -> None:
    """sweep 49, SjurSutterudSagen/home-ops: the sops-age Secret committed in clear, encrypted
    later; SM019's fix said `rotate --regenerate stringData.age.agekey`, random bytes where
    Flux reads its key."""
    from secretsmgr.audit.engine import run_rules
    from secretsmgr.gate.history import walk_repository

    manifest = secret("sops-age", {"age.agekey": "a-plain-Xk29fQ7pLm-counted"})
    root = gitops(tmp_path / "r", {"clusters/prod/sops-age.enc.yaml": manifest})
    write(root, "clusters/prod/sops-age.enc.yaml", enc(manifest))
    commit(root, "encrypt it")
    report = run_rules(load_context(root, history=walk_repository(root)))
    [fix] = [f.fix for f in report.findings if f.rule == "SM019"]
    assert fix is not None and "--regenerate" not in fix
    assert "secretsmgr key rotate --begin" in fix


def _exposed(found: dict[tuple[str, str], list[str]], path: str) -> list[str]:
    """The key paths SM019 calls exposed in ``path`` (from each finding's message)."""
    return [m.split(" was committed")[0].rpartition(" ")[2] for m in found[("SM019", path)]]


def _exposed_once_encrypted(
    tmp_path: Path, values: dict[str, str], committed: str, encrypted: str
) -> tuple[list[str], dict[tuple[str, str], list[str]]]:
    """(the key paths SM019 calls exposed in ``committed``, every finding) once a Secret of
    ``values`` committed there in clear is encrypted at ``encrypted`` (the same path: in place)."""
    root = gitops(tmp_path / "r", {committed: secret("api", values)})
    if encrypted != committed:
        (root / committed).unlink()
    write(root, encrypted, enc(secret("api", values)))
    commit(root, "encrypt it")
    found = history_findings(root)
    return _exposed(found, committed), found


def test_settings_in_a_committed_secret_are_no_exposure(tmp_path: Path) -> None:
    # sweep 61 (hanspaerna/k3s-homelab-iac, elcattivo66/home-ops): a plaintext Secret's port,
    # switches, host, user and a restic repository's address were SM019 errors, "change the
    # value at its source"; its password still is one, in a plain Secret and beside ciphertext
    values = {
        "SMTP_PORT": '"587"',
        "USE_TLS": '"false"',
        "DB_HOST": "db.apps.svc",
        "DB_USER": "app",
        "RESTIC_REPOSITORY": "rest:http://nas:8888/jellyfin",
        "DB_PASSWORD": "Zq8vN3pL0xR7Wm2",
        # the attack review: under a setting's key, values of no setting's form still count
        "ADMIN_USERNAME": "Tr0ub4dor&3horse",
        "ROOT_NAME": "hunter2",
        "LOG_LEVEL": "hunter2hunter2",
        "SMTP_SERVER": "correcthorsebatterystaple",
        "NTFY_URL": "https://ntfy.sh/k3x9Qm2LpZr7Vw4T",
        "API_HOST": "AKIAQ3EGRTZ7XWJ4KD5N",
        # the second review: a topic of words, a token as a host, a key naming a secret
        "ALERT_URL": "https://ntfy.sh/homelab-purple-falcon-dishwasher",
        "WEBHOOK_HOST": "qzmvkrwp-tlxhfjdb-nsgycwoe.hooks.example.com",
        "SMTP_SERVER2": "qzmvkrwptlxhfjd",
        "KEY_USER": "letmein",
        "RENOVATE_ENDPOINT": "https://gitea.example.org/api/v1",
        # sweep 65, wty-andrew/homedium: a Dex client's issuer and id
        "issuer": "https://dex.example.com",
        "client-id": "gitea-dex",
        "OIDC_ISSUER": "https://auth.example.com/application/o/qzmvkrwp/",
        # sweep 79, dfroberg/cluster: a WordPress setup Secret's settings
        "ALLOW_EMPTY_PASSWORD": "no",
        "MARIADB_HOST": "wordpress-mariadb",
        "MARIADB_PORT_NUMBER": '"3306"',
        "WORDPRESS_DATABASE_NAME": "amn",
        "WORDPRESS_FIRST_NAME": "Danny",
        "WORDPRESS_LAST_NAME": "Froberg",
        "WORDPRESS_BLOG_NAME": "amn",
        "WORDPRESS_TABLE_PREFIX": "wp_a9kx2_",
        # sweep 80, zacheryph/k8s-gitops: settings beside substituted credentials
        "protocol": "https",
        "BASIC_AUTH_USERNAME": "admin",
        "DB_VECTOR_EXTENSION": "pgvector",
        "TRANSFORMERS_CACHE": "/usr/src/app/.transformers_cache",
        "KAFKA_BROKERS": "kafka-a.example.com:9093,kafka-b.example.com:9093",
        "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        # the attack review of sweep 80: an auth word before a kind's or a user's key
        "AUTH_TYPE": "basic",
        "AUTH_MECHANISM": "PLAIN",
        "AUTH_USERNAME": "john.doe",
        "SMTP_AUTH_USERNAME": "alerts@example.com",
        "PG_EXTENSION": "pg_stat_statements",
        "KAFKA_BOOTSTRAP_SERVERS": "SASL_SSL://kafka:9093,SASL_SSL://kafka-b.example.com:9093",
        # sweep 84, 3nm1/home-ops: the 1Password vault a ClusterSecretStore reads
        "ONEPASSWORD_VAULT": "k3s_cluster",
        # sweep 85, Liana64/k8s-gitops: a VPN server's WireGuard public key
        "WIREGUARD_PUBLIC_KEY": "dnLz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=",
        # sweep 94, DapperDivers/dapper-cluster: an NFS StorageClass's mount options
        "mount-options": "nfsvers=3,nconnect=8,nolock,soft,noatime,nodiratime",
        # ... but a CIFS login among them is one
        "mountOptions": "username=bob,password=Hq8vR3nLw2Kx7T,vers=3.0",
        "options": "vers=3.0,pw=Hunter2Secret",  # the review: a password under a short name
        # still exposures: a token under a name's key, a switch's key holding no switch, a
        # weak password under an authentication's user key, a token as a mechanism
        "SITE_NAME": "Xk9mQ2pL7vR4",
        "ALLOW_PASSWORD": "Hq8vR3nLw2Kx",
        "SMTP_AUTH_USER": "letmein",
        "SASL_MECHANISM": "Zq8vN3pL0xR7",
        "OP_VAULT": "q7Wm2ZpKx9Lv3T",  # a random run under a vault's key is no vault's name
        # the attack review: a vault's password under a key naming no secret manager
        "ANSIBLE_VAULT": "correct-horse-battery-staple9",
        "VAULT": "letmein99",
        "WIREGUARD_PRIVATE_KEY": "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=",
        # the attack review: a private key, clamped as `wg genkey` makes it, under a public
        # key's name (the shape alone cannot tell them apart)
        "PEER_PUBLIC_KEY": "4Bn1kqXQm1G+8c2kzVtqWl8S3cT1fV0bN2vH7yE9a2c=",
        "PUBLIC_KEY_PASSPHRASE": "Hq8vR3nLw2Kx7Tz",  # a public key's name, not its form
    }
    root = gitops(tmp_path / "r", {"apps/api.yaml": secret("api", values)})
    encrypted = enc(secret("api", values))
    plain_too = encrypted.replace(
        "stringData:\n",
        "stringData:\n    RESTIC_REPOSITORY: rest:http://nas:8888/x\n"
        "    restic_password: Hq8vR3nLw2Kx7TzP\n",
        1,
    )
    write(root, "apps/other.enc.yaml", plain_too)
    commit(root, "add another")
    (root / "apps/api.yaml").unlink()
    write(root, "apps/api.enc.yaml", encrypted)
    write(root, "apps/other.enc.yaml", encrypted)
    commit(root, "encrypt them")
    found = history_findings(root)
    exposed = _exposed(found, "apps/api.yaml")
    assert sorted(exposed) == sorted(
        f"stringData.{k}"
        for k in (
            *("DB_PASSWORD", "ADMIN_USERNAME", "ROOT_NAME", "LOG_LEVEL", "SMTP_SERVER"),
            *("NTFY_URL", "API_HOST", "ALERT_URL", "WEBHOOK_HOST", "SMTP_SERVER2", "KEY_USER"),
            "OIDC_ISSUER",
            *("SITE_NAME", "ALLOW_PASSWORD", "SMTP_AUTH_USER", "SASL_MECHANISM", "OP_VAULT"),
            *("ANSIBLE_VAULT", "VAULT", "WIREGUARD_PRIVATE_KEY", "PUBLIC_KEY_PASSPHRASE"),
            "PEER_PUBLIC_KEY",
            "mountOptions",
            "options",
        )
    ), found
    other = _exposed(found, "apps/other.enc.yaml")
    assert other == ["stringData.restic_password"], found


def test_stand_ins_in_a_committed_secret_are_reported_but_no_exposure(tmp_path: Path) -> None:
    # sweep 83 (TkPegatron/homelab-as-code): a cluster-secrets Secret's lorem ipsum filler,
    # committed in plaintext before its real values went in encrypted, was an SM019 error
    values = {
        "PLACEHOLDER": "lorem impsum garblewarble flibbity gibbit",
        "ADMIN_PASSWORD": "changeme",
        "API_TOKEN": "your-token-here",
        # sweep 85 (wrmilling/k3s-gitops): a shell variable's name, a digit in a word
        "secret-access-key": "$R53_SECRET_ACCESS_KEY",
        "DB_PASSWORD": "Zq8vN3pL0xR7Wm2",
        # the attack review: passwords with an example word inside are passwords
        "SMTP_PASSWORD": "Mastodon!2024",
        "ADMIN_PIN": "insertCoin42",
        "MASTODON_SECRET": "MastodonRocks",
        # sweep 87 (kilip/homelab-old): the filler's classic opening, and a tunnel's identifier
        # under a cluster-secrets name (a bare SECRET_ID is Vault's credential)
        "SECRET_EXAMPLE": "Neque porro quisquam est qui dolorem ipsum quia dolor sit amet...",
        "SECRET_CLOUDFLARE_TUNNEL_ID": "d6d3ddd0-0e51-4cf7-96c3-8c52ff415ed5",
        "SECRET_ID": "5b1e0c4a-7f2d-4c8e-9a61-3d2f8b7c6e15",
        # the review: a webhook's id works as its password (Home Assistant's), and "ipsum"
        # inside a password is the password's
        "SECRET_HASS_WEBHOOK_ID": "0c2f4e6a-8b1d-4f3a-9c5e-7d9b1f3a5c7e",
        "SMTP_PASS": "Gipsum-Rq7vX2pLm",
    }
    root = gitops(tmp_path / "r", {"apps/api.yaml": secret("api", values)})
    now = history_findings(root)
    # at the commit itself a layer would deploy every one of them: SM001 names the file
    assert ("SM001", "apps/api.yaml") in now
    (root / "apps/api.yaml").unlink()
    write(root, "apps/api.enc.yaml", enc(secret("api", values)))
    commit(root, "encrypt it")
    found = history_findings(root)
    assert sorted(_exposed(found, "apps/api.yaml")) == [
        "stringData.ADMIN_PIN",
        "stringData.DB_PASSWORD",
        "stringData.MASTODON_SECRET",
        "stringData.SECRET_HASS_WEBHOOK_ID",
        "stringData.SECRET_ID",
        "stringData.SMTP_PASS",
        "stringData.SMTP_PASSWORD",
    ], found


def test_filler_in_a_plaintext_file_named_like_a_sops_file_is_no_exposure(tmp_path: Path) -> None:
    # sweep 87 (kilip/homelab-old): a cluster-secrets.sops.yaml committed before it was
    # encrypted; its lorem ipsum filler was an SM019 error beside the real token
    values = {
        "SECRET_EXAMPLE": "Neque porro quisquam est qui dolorem ipsum quia dolor sit amet...",
        "SECRET_API_TOKEN": "Zq8vN3pL0xR7Wm2Kd5Tb",
    }
    root = gitops(tmp_path / "r", {"apps/vars.sops.yaml": secret("vars", values)})
    write(root, "apps/vars.sops.yaml", enc(secret("vars", values)))
    commit(root, "encrypt it")
    found = history_findings(root)
    assert _exposed(found, "apps/vars.sops.yaml") == ["stringData.SECRET_API_TOKEN"], found


@pytest.mark.parametrize("rel", ["apps/api.enc.yaml", "apps/db [prod]/api*.enc.yaml"])
def test_a_file_on_pgp_keys_alone_is_given_a_new_value_with_sops(tmp_path: Path, rel: str) -> None:
    # sweep 83 (Ryan-McD/flux-bigbang-cluster): the fix said rotate --regenerate and set for a
    # file no age key opens; pasted, both are refused. The ignore entry it names closes it, in
    # a folder whose name a glob would read as a class too (the attack review)
    import shlex

    from secretsmgr.audit.engine import run_rules
    from tests.cli.runner import run_shell
    from tests.keys.gpgkeys import gnupg_home, gpg_key

    with gnupg_home() as env:
        fpr = gpg_key(env)
        plain = secret("api", {"token": "Xq9vLw2pTr0ub4dor3"})
        root = gitops(tmp_path / "r", {rel: plain})
        write(
            root,
            ".sops.yaml",
            "creation_rules:\n  - path_regex: \\.enc\\.yaml$\n"
            f"    encrypted_regex: ^(data|stringData)$\n    pgp: {fpr}\n",
        )
        run_shell(f"sops encrypt -i {shlex.quote(rel)}", env=env, cwd=root, expect=0)
        commit(root, "encrypt it with a PGP key")

        def fixes() -> list[str]:
            ctx = load_context(root, history=walk_repository(root))
            return [f.fix or "" for f in run_rules(ctx).findings if f.rule == "SM019"]

        (fix,) = fixes()
        said = "a holder of its pgp keys gives it a new value with sops (sops edit "
        assert fix.startswith(f"{said}{shlex.quote(rel)};"), fix
        assert "secretsmgr rotate" not in fix and "secretsmgr set" not in fix, fix
        entry = fix.split("ignore: ", 1)[1]
        write(root, ".secretsmgr.yaml", f"cluster_key: {K1}\nignore: {entry}\n")
        assert fixes() == []


def test_a_secrets_kinds_versions_regions_and_mail_addresses_are_no_exposure(
    tmp_path: Path,
) -> None:
    # sweep 67 (yyewolf/infra, YoungFlores/casego-gitops): a database's type, a sender's
    # address, an API's version, a region, "Default", an auth URL, a sample's values that
    # spell out their keys, and SMTP users' and senders' addresses were SM019 errors
    values = {
        "UPTIME_KUMA_DB_TYPE": "mariadb",
        "emailFrom": "authentik@example.fr",
        "OS_IDENTITY_API_VERSION": '"3"',
        "OS_REGION_NAME": "US",
        "OS_USER_DOMAIN_NAME": "Default",
        "OS_AUTH_URL": "https://keystone.example.com/v3",
        "OS_TENANT_NAME": "Open Stack Tenant Name",
        "OS_USERNAME": "Username",
        "SMTP_USER": "alerts@example.org",
        "SMTP_FROM": "noreply@casego.example",
        "MAIL_FROM": "CaseGo <noreply@casego.example>",
        "DB_PASSWORD": "Zq8vN3pL0xR7Wm2",
        # a password, a random run or a token's key in those places still counts
        "DB_TYPE": "hunter2",
        "SMTP_USERNAME": "letmein@secret.pw",
        "REPLY_TO": "Xk29fQ7pLm4v@gmail.com",
        "OS_PASSWORD": "Password",
        "AUTH_TOKEN_URL": "https://keystone.example.com/v3",
        "API_VERSION": "Xk29fQ7p",
        "OS_REGION": "Zq8vN3pL0xR7Wm2",
        # the second attack review: a default password equal to its key, a version under a
        # password's or token's key, a weak password or a passphrase as a kind, a word and
        # digits or a passphrase as a region, a password's abbreviation spelled out
        "admin": "admin",
        "ADMIN_PASSWORD_VERSION": '"1987"',
        "API_TOKEN_VERSION": '"8675"',
        "STORAGE_TYPE": "letmein",
        "ENCRYPTION_MODE": "correct-horse-battery",
        "S3_REGION": "hunter42",
        "BACKUP_LOCATION": "correct-horse-battery-staple",
        "WIFI_PSK": "Wifi Psk",
    }
    exposed, found = _exposed_once_encrypted(tmp_path, values, "apps/api.yaml", "apps/api.enc.yaml")
    assert sorted(exposed) == sorted(
        f"stringData.{k}"
        for k in (
            *("DB_PASSWORD", "DB_TYPE", "SMTP_USERNAME", "REPLY_TO", "OS_PASSWORD"),
            *("AUTH_TOKEN_URL", "API_VERSION", "OS_REGION", "admin", "ADMIN_PASSWORD_VERSION"),
            *("API_TOKEN_VERSION", "STORAGE_TYPE", "ENCRYPTION_MODE", "S3_REGION"),
            *("BACKUP_LOCATION", "WIFI_PSK"),
        )
    ), found


def test_cluster_secrets_of_addresses_paths_ports_and_countries_are_no_exposure(
    tmp_path: Path,
) -> None:
    # sweep 75 (sob/home-ops, carpenike/k8s-gitops, tvories/k8s-gitops): a Flux repository's
    # cluster-secrets Secret of substitution variables named SECRET_*, numbered ones, a country
    # and a dummy value were eighteen SM019 errors that nothing could close
    values = {
        "SECRET_DOMAIN": "example.com",
        "SECRET_NFS_PATH_MEDIA": "/mnt/media",
        "SECRET_NAS_DOOM": "10.0.0.20",
        "SECRET_CIDR": "10.0.0.0/16",
        "SECRET_LB_RANGE": "10.0.0.200-10.0.0.250",
        "SECRET_EMAIL": "me@example.com",
        "EMAIL_1": "joe.smith@example.org",
        "PERSONAL_DOMAIN": "smith.example.net",
        "VPN_COUNTRY": "CA",
        "VPN_FORWARDED_PORT_1": '"58812"',
        "DUMMY_SECRET": "dummyvalue",
        # a credential kept the same way still counts, and so does a random value in those places
        "SECRET_API_TOKEN": "example.com",
        "SECRET_ID": "Zq8vN3pL0xR7Wm2",
        "SECRET_CLOUDFLARE_TOKEN": "Xk29fQ7pLm4vQ8rT",
        "SECRET_NFS_PATH": "/mnt/Qm7vXc2Rk9Lp4Wt6Hs",
        "SECRET_HOST_DOMAIN": "Qm7vXc2Rk9Lp4Wt6.example.com",
        "PASSWORD_1": "hunter2hunter",
        "SECRET_PORT": "hunter22",
    }
    exposed, found = _exposed_once_encrypted(tmp_path, values, "apps/api.yaml", "apps/api.enc.yaml")
    assert sorted(exposed) == sorted(
        f"stringData.{k}"
        for k in (
            *("SECRET_API_TOKEN", "SECRET_ID", "SECRET_CLOUDFLARE_TOKEN", "SECRET_NFS_PATH"),
            *("SECRET_HOST_DOMAIN", "PASSWORD_1", "SECRET_PORT"),
        )
    ), found


def test_a_plaintext_file_named_like_a_sops_file_of_settings_exposes_no_setting(
    tmp_path: Path,
) -> None:
    # sweep 75, sob/home-ops: twelve of the eighteen came from the file's name (SM002), whose
    # values are judged by their form: addresses and paths under SECRET_* names were secrets
    values = {
        "SECRET_NGINX_INTERNAL_VIP": "10.1.100.200",
        "SECRET_METAL_CIDR": "10.1.100.0/24",
        "SECRET_NFS_PATH_CONFIG": "/volume1/kubernetes/config",
        "SECRET_ACME_EMAIL": "admin@example.org",
        "SECRET_DOMAIN": "example.org",
        "SECRET_API_TOKEN": "Xk29fQ7pLm4vQ8rTz3Wy",
    }
    named = "apps/cluster-secrets.sops.yaml"
    exposed, found = _exposed_once_encrypted(tmp_path, values, named, named)
    assert exposed == ["stringData.SECRET_API_TOKEN"], found


def test_the_fix_names_the_key_path_the_file_holds_now(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """sweep 72, Benjaminmnoer/iac: committed under data, encrypted since under stringData;
    both pasted commands were refused for `data.username`."""
    import base64

    committed = (
        "apiVersion: v1\nkind: Secret\nmetadata: {name: smb}\ndata:\n"
        f"  username: {base64.b64encode(b'Xq9vLw2pTr0ub4dor3').decode()}\n"
    )
    root = gitops(tmp_path / "r", {"apps/smb.enc.yaml": committed})
    write(root, "apps/smb.enc.yaml", enc(secret("smb", {"username": "now-encrypted-1"})))
    commit(root, "encrypt it")
    ctx = load_context(root, history=walk_repository(root))
    (fix,) = [f.fix or "" for f in get_rule("SM019").check(ctx)]
    assert "secretsmgr set apps/smb.enc.yaml stringData.username" in fix, fix
    # sweep 93: set records the key path only in a changelog; with none kept, its new value
    # closed nothing, and the fix did not say so
    assert fix.endswith(
        ', in a changelog started first (secretsmgr log --adopt --reason "before new values")'
    ), fix
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(KEYS / "test-only-1.agekey"))
    monkeypatch.chdir(root)
    time.sleep(1.1)  # the changelog counts whole seconds after the exposing commit
    assert run(["log", "--adopt", "--reason", "before new values"], capsys).code == 0
    setter = ["set", "apps/smb.enc.yaml", "stringData.username"]
    assert run(setter, capsys, stdin="a-new-value").code == 0
    # ... and the new value at the key path it has now closes the finding (sweep 93: the
    # changelog's stringData.username was not taken for data.username, and it stayed open)
    commit(root, "a new value")
    ctx = load_context(root, history=walk_repository(root))
    assert [f.fix for f in get_rule("SM019").check(ctx)] == []


def test_a_key_path_the_file_no_longer_holds_gets_the_ignore_entry_not_a_writer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """sweep 93, shangkuei/fluxcd: values under `Data.plex.token`, left in clear by the rule,
    then re-encrypted under `stringData.plex_token`; the fix named `Data.plex.token` to
    `rotate --regenerate` and to `set`, and both were refused."""
    import yaml

    from secretsmgr.sops import EncryptionRule, RuleKind

    flux = EncryptionRule(RuleKind.ENCRYPTED_REGEX, "^(data|stringData)$")
    nested = (
        "apiVersion: v1\nkind: Secret\nmetadata: {name: pmm}\n"
        "Data:\n  plex:\n    token: y6ruQ8vLw2pTr0ub4dor\n"
        # an API key under `api` or `api_v3` is one too (they passed); an address, a version
        # and a switch under such names are not
        "  tmdb:\n    api_v3: b0b0c3e1a2f94d7e8c6b5a4f3e2d1c0b\n    url: https://api.tmdb.example\n"
        "  mdb:\n    api: zcbnq8LpW2vRt5Ym9Kd3Xa7Fh\n  sonarr:\n    api: https://sonarr.example.org/api\n"
        "    api_version: v3\n  radarr:\n    api: true\n"
        # the attack review of stop 49: a Helm chart's values under `api` were exposures
        "  ports:\n    api: 8080\n  targetPorts:\n    api: http-api\n  paths:\n    api: /api/v1\n"
        "  backend:\n    api: backend-svc:8080\n  datasource:\n    api: prometheus\n"
    )
    root = gitops(tmp_path / "r", {"apps/pmm.enc.yaml": enc(nested, rule=flux)})
    write(root, "apps/pmm.enc.yaml", enc(secret("pmm", {"plex_token": "a-new-token-9"})))
    commit(root, "re-encrypted under stringData")
    ctx = load_context(root, history=walk_repository(root))
    findings = list(get_rule("SM019").check(ctx))
    assert sorted(f.key_path or "" for f in findings) == [
        "Data.mdb.api",
        "Data.plex.token",
        "Data.tmdb.api_v3",
    ], findings
    (finding,) = [f for f in findings if f.key_path == "Data.plex.token"]
    fix = finding.fix or ""
    assert fix.startswith("Data.plex.token is no longer in apps/pmm.enc.yaml: "), fix
    assert "rotate --regenerate" not in fix
    entry = fix.partition("ignore: ")[2]
    settings = root / ".secretsmgr.yaml"
    settings.write_text(settings.read_text() + f"ignore: {entry}\n")
    assert yaml.safe_load(settings.read_text())["ignore"][0]["key_path"] == "Data.plex.token"
    left = history_findings(root)[("SM019", "apps/pmm.enc.yaml")]
    assert [m.partition(" ")[0] for m in left] == ["Data.mdb.api", "Data.tmdb.api_v3"], left


def _deployment(env: list[tuple[str, str]]) -> str:
    entries = "".join(
        f"            - name: {n}\n              value: {json.dumps(v)}\n" for n, v in env
    )
    return (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: locplace, namespace: apps}\n"
        "spec:\n  template:\n    spec:\n      containers:\n        - name: server\n"
        "          image: ghcr.io/example/server:1\n          env:\n" + entries
    )


@pytest.mark.parametrize("deleted", [True, False])
def test_an_env_entry_moved_down_the_list_is_one_exposure(tmp_path: Path, deleted: bool) -> None:
    """bo0tzz/kube: an env entry added above DATABASE_URL moved it from env.1 to env.2, and the
    one URL (one password) was two SM019 errors; while the file still holds it in clear, the
    old index was SM019 beside SM018's error at the new one."""
    url = "postgresql://app:nMBKq7Lw2pTr0ub4@192.168.1.16:5432/app"
    first = _deployment([("PORT", "8080"), ("DATABASE_URL", url)])
    root = gitops(tmp_path / "r", {"apps/locplace.yaml": first})
    later = _deployment([("PORT", "8080"), ("LOG_LEVEL", "info"), ("DATABASE_URL", url)])
    write(root, "apps/locplace.yaml", later)
    commit(root, "bump the server")
    if deleted:
        (root / "apps/locplace.yaml").unlink()
        commit(root, "retire it")
    found = history_findings(root)
    exposed = found.get(("SM019", "apps/locplace.yaml"), [])
    if deleted:
        assert len(exposed) == 1, exposed
        assert "containers.0.env.1.value (DATABASE_URL)" in exposed[0]
    else:
        assert exposed == []  # plaintext today: SM018 says so, at the index it has now
        assert len(found[("SM018", "apps/locplace.yaml")]) == 1


def test_two_variables_at_one_index_in_turn_are_both_named(tmp_path: Path) -> None:
    """The slot is the variable's, not the index's: a token replaced by another variable's
    password at the same index exposed two values (one finding, for the one key path, names
    both); while the second is plaintext today, the first is still SM019."""
    first = _deployment([("API_TOKEN", "ghp_" + "Zq8Lw2pTr0ub4dor3Mh3Jd8Kx7Vn1Bc5Fg9H")])
    root = gitops(tmp_path / "r", {"apps/locplace.yaml": first})
    url = "postgresql://app:nMBKq7Lw2pTr0ub4@192.168.1.16:5432/app"
    write(root, "apps/locplace.yaml", _deployment([("DATABASE_URL", url)]))
    commit(root, "another variable")
    found = history_findings(root)
    [exposed] = found[("SM019", "apps/locplace.yaml")]
    assert "env.0.value (API_TOKEN) was committed" in exposed
    assert "DATABASE_URL" in found[("SM018", "apps/locplace.yaml")][0]
    (root / "apps/locplace.yaml").unlink()
    commit(root, "retire it")
    [exposed] = history_findings(root)[("SM019", "apps/locplace.yaml")]
    assert "env.0.value (API_TOKEN, then DATABASE_URL) was committed" in exposed


def test_stand_ins_committed_as_an_example_are_no_exposure(tmp_path: Path) -> None:
    """sweep 89, josmase/flux: 16 SM019 errors for example values a Secret was first committed
    with (`some-api-key`, `something`, a description of the value, a request to replace it,
    under `data` too where it is no base64); real passwords beside them still count."""
    values = {
        "token": "some-api-key",
        "github_token": "some-token",
        "password": "something",
        "RENOVATE_TOKEN": "any-personal-user-token-for-github-com-with-read-write-to-repository",
        "REGISTRY_PASSWORD": "password-of-registry-used-for-cache",
        "htpasswd": "Replace with $ htpasswd -Bbn username password | base64",
        # still secrets: a passphrase of words, a password with a digit, one of words + digits
        "passphrase": "correct-horse-battery-staple",
        "db_password": "something7",
        "admin_password": "hunter-of-the-night-key",
        # the attack review of stop 48: passphrases and a request followed by a token
        "vault_password": "key-to-the-kingdom",
        "root_password": "Secret-Of-The-Ooze",
        "api_token": "sometoken",
        "backup_password": "Replace this 8fK2mQ9x vL3pZ7wR",
        "queue_password": "_QWZRTXKPLMVNBHGF_",
    }
    exposed, found = _exposed_once_encrypted(tmp_path, values, "apps/api.yaml", "apps/api.enc.yaml")
    kept = ("passphrase", "db_password", "admin_password", "vault_password", "root_password")
    kept += ("api_token", "backup_password", "queue_password")
    assert sorted(exposed) == sorted(f"stringData.{k}" for k in kept), found


def test_a_request_under_data_that_is_no_base64_is_no_exposure(tmp_path: Path) -> None:
    request = "Replace with $ htpasswd -Bbn username password | base64"
    manifest = (
        "apiVersion: v1\nkind: Secret\nmetadata: {name: htpasswd, namespace: registry}\n"
        f"data:\n  htpasswd: {request}\n"
    )
    root = gitops(tmp_path / "r", {"apps/htpasswd.yaml": manifest})
    write(root, "apps/htpasswd.yaml", enc(secret("htpasswd", {"htpasswd": "admin:$2y$05$x"})))
    commit(root, "encrypt it")
    assert not [k for k in history_findings(root) if k[0] == "SM019"]
