"""Placeholders: a value that is only a variable or template is filled in later; text beside a
variable that holds a secret of its own is still a secret."""

from __future__ import annotations

import pytest

from secretsmgr.audit.manifests import is_placeholder as manifest_placeholder
from secretsmgr.repo.placeholders import is_login_address, is_placeholder, is_secret_file_setting

PLACEHOLDERS = [
    "${DB_PASSWORD}",
    "${VAR:=default}",
    "{{ .Values.password }}",
    "{% raw %}x{% endraw %}",
    "<github_token>",
    "op://vault/item name/field",
    "azure://shelken-homelab/client-secret",  # filled in by the repository's inject script
    "",
    "${SECRET_X}/path",
    "Bearer ${TOKEN}",
    "s3:http://minio.storage.svc:9000/restic/${APP}",
    "postgres://app:${DB_PASSWORD}@${DB_HOST}:5432/app",
    "redis://:${REDIS_PASSWORD}@${REDIS_HOST}:6379/0",
    "db:\n  host: ${DB_HOST}\n  password: ${DB_PASSWORD}\n",
    'db:\n  password: "${DB_PASSWORD}"\n',
    "token_file: /run/token\nuser: ${USER}",
    # sweep 12 (Logik-Dev/k8s-homelab): authentik reads these from a mounted file or a variable
    "file:///postgres-creds/password",
    "env://AUTHENTIK_POSTGRESQL__PASSWORD",
    "file:////redis-creds/password",  # sweep 27, Bibletoon/HomeCluster: four slashes
]
# the second review of sweep 12: shaped like a reference, but no path or no variable name
NOT_REFERENCES = ["file:///Tr0ub4dor", "file:////Tr0ub4dor", "env://Hunter2SuperSecret"]


@pytest.mark.parametrize("value", NOT_REFERENCES)
def test_a_password_shaped_like_a_file_or_env_reference_is_none(value: str) -> None:
    assert not is_placeholder(value)


SECRETS_BESIDE_A_VARIABLE = [
    "postgres://app:Tr0ub4dor-and-3-horses@${DB_HOST}:5432/app",
    "redis://:Tr0ub4dor-and-3-horses@${REDIS_HOST}:6379/0",  # a password with no user
    "db:\n  host: ${DB_HOST}\n  password: Tr0ub4dor-and-3-horses\n",
    "PASSWORD=Tr0ub4dor\nHOST=${DB_HOST}\n",
    '{"api_key": "Tr0ub4dor", "host": "{{ .Values.host }}"}',
    "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n"
    "-----END OPENSSH PRIVATE KEY-----\n${X}",
]


@pytest.mark.parametrize("value", PLACEHOLDERS)
def test_a_value_that_is_only_variables_and_structure_is_a_placeholder(value: str) -> None:
    assert is_placeholder(value) and manifest_placeholder(value)


@pytest.mark.parametrize("value", SECRETS_BESIDE_A_VARIABLE)
def test_a_secret_beside_a_variable_is_no_placeholder(value: str) -> None:
    assert not is_placeholder(value) and not manifest_placeholder(value)


def test_literal_values_are_no_placeholders() -> None:
    assert not is_placeholder("hunter2") and not is_placeholder("s3:http://minio:9000/x")
    # a random run before the request is a password made from it (sweep 15's words rule)
    assert not is_placeholder("q7Wm2Zp-replace-me")
    # only x, y and z repeated stand in: a run of another letter, or of a digit (a PIN), may be
    # the live value
    assert not is_placeholder("aaa") and not is_placeholder("0000") and not is_placeholder("yyyq")
    assert not manifest_placeholder("password: hunter2 {{ unclosed")
    assert manifest_placeholder("{{ unclosed")


def test_comments_empty_values_and_stand_in_words_beside_a_variable_are_no_secret() -> None:
    # wrmilling/k3s-gitops (a bridge config) and JJGadgets/Biohazard (a PHP config)
    assert is_placeholder(
        "# e.g. postgres://user:password@host/db\nuri: postgres://app:${DB_PASS}@db/app\n"
        "token: null\nsecret: generate\n"
    )
    assert is_placeholder("<?php $CONFIG = array(\n  'secret' => '',\n  'host' => '${HOST}',\n);")
    assert not is_placeholder("<?php $CONFIG = array('secret' => 'hunter2', 'h' => '${HOST}');")


@pytest.mark.parametrize(
    "value",
    [
        "REPLACE_WITH_AUTHENTIK_CLIENT_SECRET",
        "changeme",
        "your-token-here",
        "xxxx",
        # sweep 36 (mrled/psyops: nine SM019 errors in history): `access-key-id: xxx` and
        # `secret-access-key: yyy`, side by side in an example file
        "yyy",
        "ZZZZ",
        # sweep 40 (jesse-gonzalez/gitops-nai-llm: 14 SM019 errors in history): what a sample
        # asks for
        "required_secret",
        "required_api_key",
        "optional_secret",
        "Replace me",
        # bo0tzz/clusterfuck and webgrip/homelab-cluster (SM001 at HEAD, SM019 in history)
        "PLACEHOLDER_REPLACE_ME",
        "PLACEHOLDER_REPLACE_ME_AT_LEAST_32_CHARACTERS",
        "TODO_REPLACE_ME",
        "__REPLACE_ME__",
        "FILL_ME_IN",
        "REPLACE_ME__openssl_rand_base64_32",
        # secret-manager references naming one field (osnabrugge)
        "azkv://keyvault-kube/azurekv#AZURE_CLIENT_SECRET",
        "azure://keyvault-kube/azurekv#AZURE_CLIENT_ID",
        "op://vault/item#field",
        "ref+ref+op://home-ops/1password/OP_CONNECT_TOKEN",  # OxygnCorp: vals through a wrapper
        "dummy-value",  # Benjaminmnoer/iac (SM001 at HEAD, SM019 in history)
        "dummy_password",
        # tcurdt/kube (SM001 at HEAD, SM019 in history): the words run together
        "YOURTOKEN",
        "YOURAPIKEY",
        "YourPassword",
        "yourtokenhere",
        # cmu-sei/Polar (SM019 in history): requests to fill in, and the Java keystore default
        "INSERT_BASE64_STRING",
        "INSERT_YOUR_BASE64_STRING",
        "changeit",
        # sweep 15 (devusb, X-McKay: SM001 errors): what it stands for, or words then the request
        "PLACEHOLDERPASSWORD",
        "PLACEHOLDER_PASSWORD",
        "example-api-key-replace-me",
        # sweep 17 (Darkflame72's kagent: an SM001 error): keys a local model server never checks
        "not-required",
        "not-needed",
        "no-key",
        "sk-no-key-required",
        "EMPTY",
        # sweep 18 (casmith/home-ops: an SM018 warning): a start-up script's marker
        "__SECRET_KEY__",
        "__API_TOKEN__",
        # sweep 22 (Ivanhahanov/ctf-school-ctfd: an SM001 error): the hash of an htpasswd line
        "ctf-ci:$2y$10$REPLACE_WITH_A_REAL_BCRYPT_HASH",
        "$2y$10$REPLACE_WITH_A_REAL_BCRYPT_HASH",
        # sweep 23 (sbaker5/k3s-flux: an SM001 error that failed the gate): words, bracketed
        "[PLACEHOLDER-GENERATE-NEW-KEY]",
        "PLACEHOLDER-GENERATE-NEW-KEY",
        "[YOUR_API_KEY]",
        # sweep 25 (fabricesemti80/k8s-home-cluster-mk3: an SM018 warning): what to generate
        "SOMETHING-RANDOM-BASE64",
        "GENERATE-A-RANDOM-STRING",
        "RANDOM_STRING",
        # sweep 28 (vincentserpoul/gitops-infra: two SM001 errors): a variable's name, filled in
        "DB_PASSWORD",
        "REDIS_AUTH_TOKEN",
        # sweep 48 (DiverOfDark/homelab: 14 SM001 errors): an app's sample default
        "change-this-in-production",
        "your-secret-key-change-this-in-production-readur",
        "CHANGE_THIS",
        # sweep 94 (cmu-sei/Polar: an SM019 error in history): NEO4J_AUTH's user/password form
        "neo4j/changeme",
        "neo4j/your-password-here",
    ],
)
def test_a_value_asking_to_be_replaced_is_a_placeholder(value: str) -> None:
    # geoffdavis/talos-gitops: "manual secret for testing (replace with actual values)" made 23
    # SM001 errors
    assert is_placeholder(value)


def test_a_secret_mentioning_such_a_word_is_none() -> None:
    for value in (
        "hunter2",
        "replace-me-not-Xq9v",
        "my changeme password 42",
        "Xxx9!",
        "azkv://user:Tr0ub4dor@vault/x",
        "TODO_REPLACE_ME_Xq9vLw2p",
        "not-required-Xq9vLw2p",
        "ctf-ci:$2y$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
        "[hunter2-Xq9v]",
        "placeholder-Xq9v2",
        "change-this-Xk9m2Qz7Lp",  # a password made from it
        "neo4j/Zq8rT2mXvL9pW4kN",  # user/password with a real one
        "neo4j/changeme-Xq9vLw2p",
        "a/b/changeme",  # a path, not user/password
        # the review: a password or a token before the slash is no user
        "P4ssw0rd.Prod-9/xxx",
        "ghp_abcdefghijklmnopqrstuvwxyz0123456789/todo",
        "Summer2024x/changeme",
        "p4ssw0rd/changeme",
        # the attack review: words of any kind after it make a password too
        "change-this-kx7-pq9-zz3-mm1",
        "change-this-qwhfzkrtplmvbnxcazsd",
        "your-zqpxkwvh-change-this",
        "Empty",  # a word someone chose
        # from the review: a random word after REPLACE_ME, or a fragment that is no field name
        "replace-me-9f86d081884c7d659a2feaa0c55ad015a3bf4f1b",
        "REPLACE_ME_Q7X2K9WZ4P8M3N6V",
        "op://prod/db#Zq8rT2mVx91LkPw",
        "azkv://kv/item#ghp_16C7e42F292c6912E7710c838347Ae178B4a",
        "dummy-value-Xq9vLw2p",
        # a real token after the stand-in's words
        "YOURTOKENq7Wm2ZpK9vR4tY8uXb3N",
        "yourtokenXq9v",
        "YOUR_TOKEN_9f86d081884c7d659a2f",
        "INSERT_Xq9vLw2p",
        "insert_q7Wm2ZpK9vR4",
        "changeit-Xq9v7",
        "RANDOM_Q7X2K9WZ4P8M3N6V",
        "Q7X2K9WZ_PASSWORD",  # a random run, not a word
        "Db_Password",
        # the fourth review: passphrases a person may choose in capitals
        "CORRECT_HORSE_BATTERY_KEY",
        "TROUBADOR_ORANGE_STAPLE_SECRET",
        "ACME_PROD_PASS",
        "SOMETHING-RANDOM-Xq9vLw2p",
        "random-kangaroo-velvet",  # a passphrase in lower case
        # a marker's form around a random run
        "__Q7WM2ZPK9VR4__",
        "__q7Wm2ZpK9vR4__",
        "__hunter2__",
        # a shell variable without braces: Flux substitutes only ${…}, so in a Secret it applies
        # $WORDS reaches the cluster as written and may be the password (the reviews of sweep 19)
        "$BOOTSTRAP_DOMAIN",
        "$KANGAROO_JUMP42",
        "$K9QX2MZ7",
        "$Q7WM2ZPK9VR4",
        "$q7Wm2ZpK9vR4",
        "$DB_PASSWORD Xq9vLw2p",
        # one word: Flux leaves $WORD as it is, so it may be the password itself (the review)
        "$HUNTER2",
        "$WELCOME123",
        "$MYSECRETPASSWORD",
        "$PASSWORD1",
        "$TRUSTNO1",
        "Xq9vLw2p$DB_PASSWORD",
        "$DB_PASSWORD_q7Wm2ZpK",
    ):
        assert not is_placeholder(value), value


def test_a_config_whose_credentials_are_all_empty_is_a_skeleton() -> None:
    # Vikaspogu/home-ops (history): velero's cloud credentials file, committed empty
    from secretsmgr.repo.placeholders import is_credential_skeleton

    assert is_credential_skeleton('[default]\naws_access_key_id=""\naws_secret_access_key=""\n')
    assert is_credential_skeleton("[default]\nregion = eu-west-1\naws_secret_access_key = ${KEY}\n")
    assert not is_credential_skeleton("[default]\naws_secret_access_key=Tr0ub4dor\n")
    assert not is_credential_skeleton('[default]\naws_secret_access_key=""\nTr0ub4dorXq9v\n')
    assert not is_credential_skeleton("host=db\nport=5432\n")  # no credential line: a config
    assert not is_credential_skeleton('aws_secret_access_key=""')  # one line: not a file
    # from the review: empty password and token lines beside a filled-in secret_key/passphrase
    hidden = "[server]\npassword =\napi_token =\nsecret_key = 8c1f0d7b3e9a\npassphrase = Tr0ub\n"
    assert not is_credential_skeleton(hidden)
    assert not is_credential_skeleton("[s]\npassword =\nendpoint = https://u:pw@db/x\n")


@pytest.mark.parametrize(
    "value",
    [
        # thetillhoff/infra (SM001 at HEAD, SM019 in history): the password part is a stand-in
        "postgresql://trading:CHANGEME@postgres.trading.svc.cluster.local:5432/trading",
        "postgresql://TODO:TODO@umami:5432/umami",
        "postgres://app:REPLACE_ME@db/app",
        "postgres://app:changeme@db:5432/app?sslmode=disable&connect_timeout=10",
        "redis://:changeme@redis:6379/0",
        "postgres://app:REPLACE_ME@${DB_HOST}/app",
    ],
)
def test_a_connection_string_whose_password_is_a_stand_in_is_a_placeholder(value: str) -> None:
    assert is_placeholder(value) and manifest_placeholder(value)


@pytest.mark.parametrize(
    "value",
    [
        "postgresql://trading:Zq8rT2mVx91LkPw3@postgres:5432/trading",  # a real password
        "postgres://AKIAIOSFODNN7EXAMPLE:changeme@db/x",  # a random user
        "postgres://ghp_16C7e42F292c6912E7710c838347Ae178B4a:x@h/",
        "https://u:changeme@hooks.slack.com/services/T0/B0/q7Wm2ZpK9vR4tY8uXb3NcLd5",  # a token
        "postgres://u:changeme@db/x?password=Tr0ub4dor3",  # a password in the query
        "postgres://u:changeme@db/x?sslmode=q7Wm2ZpK9vR4tY8uXb3N",
        "postgres://u:changeme@db/x#Tr0ub4dor3",
        "mysql://u:changeme-Xq9v7@db/x",  # a password made from the stand-in
        "postgres://app:Tr0ub4dor-and-3@${DB_HOST}/app",
    ],
)
def test_a_connection_string_with_a_secret_in_it_is_no_placeholder(value: str) -> None:
    assert not is_placeholder(value) and not manifest_placeholder(value)


YTT_DOCKER_CONFIG = (
    '{\n  "auths": {\n    "(@= data.values.registry_1_url @)": {\n'
    '      "username": "(@= data.values.registry_1_username @)",\n'
    '      "password": "(@= data.values.registry_1_password @)"\n    }\n  }\n}\n'
)


@pytest.mark.parametrize(
    "value",
    [
        "#{ github.webhook_token }#",  # cbirkenbeul/homelab: makejinja (onedr0p/cluster-template)
        "#{cloudflare_token}#",
        "Bearer #{ token }#",
        YTT_DOCKER_CONFIG,  # making/k8s-gitops: a ytt text template
        "(@= data.values.password @)",
        "https://#{ domain }#/api/v1/hooks/#{ hook_id }#",
        "#{ user }#:#{ password }#@db01.example.com:5432/app?connect_timeout=10",
        "#{ registry | default('ghcr.io/org') }#/app:1.25.3",
    ],
)
def test_makejinja_and_ytt_variables_are_placeholders(value: str) -> None:
    assert is_placeholder(value) and manifest_placeholder(value)


@pytest.mark.parametrize(
    "value",
    [
        YTT_DOCKER_CONFIG.replace("(@= data.values.registry_1_password @)", "Tr0ub4dor-and-3"),
        YTT_DOCKER_CONFIG.replace('"username"', '"auth": "dXNlcjpUcjB1YjRkb3I=", "username"'),
        YTT_DOCKER_CONFIG.replace("(@= data.values.registry_1_username @)", "q7Wm2ZpK9vR4tY8uXb3N"),
        "#{ token }#q7Wm2ZpK9vR4tY8uXb3N",
        "password: Tr0ub4dor3\nurl: #{ url }#",
        # the review of the tenth sweep: a literal inside the expression or glued to it
        "#{ github.token | default('q7Wm2ZpK9vR4') }#",
        "#{ x }#P@ssw0rd!Real#2024",
        '(@= data.values.pw or "Tr0ub4dor3x" @)',
        "#{x}",  # no closing #: no makejinja variable
        "a#{ 1 }#b",  # no expression
    ],
)
def test_a_secret_beside_a_makejinja_or_ytt_variable_is_no_placeholder(value: str) -> None:
    assert not is_placeholder(value) and not manifest_placeholder(value)


@pytest.mark.parametrize(
    "value",
    [
        "${x}q7Wm2ZpK9vR4tY8uXb3N",
        '{"auths": {"{{ .Values.registry }}": {"auth": "dXNlcjpUcjB1YjRkb3I="}}}',
        "https://hooks.slack.com/services/${TEAM}/B0E1F2G3H/q7Wm2ZpK9vR4tY8uXb3NcD5e",
    ],
)
def test_a_token_or_a_docker_auth_beside_a_variable_is_no_placeholder(value: str) -> None:
    """The review of the tenth sweep: around ``${…}`` and ``{{ … }}`` only a secret line was
    looked for, so a random token glued to a variable, or a registry's auth beside one, passed."""
    assert not is_placeholder(value) and not manifest_placeholder(value)


@pytest.mark.parametrize(
    "value",
    [
        "https://${DOMAIN}/api/v1/hooks",
        '{"auths": {"{{ .Values.registry }}": {"auth": "{{ .Values.auth | b64enc }}"}}}',
        "postgres://${DB_USER}:${DB_PASSWORD}@db.example.com:5432/app",
        "${GRAFANA_ADMIN_PASSWORD}",
    ],
)
def test_variables_with_plain_text_around_them_stay_placeholders(value: str) -> None:
    assert is_placeholder(value) and manifest_placeholder(value)


# sweep 12 (jmuchovej/homelab): Nix's substituteAll fills ``@agekey@`` in from sops-nix
# ... and a start-up script's ``@@NAME@@`` (netbird's config: the review of stop 55)
@pytest.mark.parametrize(
    "value", ["@agekey@", "@dc-domain@", " @DB_PASSWORD@ ", "@@DATASTORE_ENCRYPTION_KEY@@"]
)
def test_a_whole_nix_or_autoconf_variable_is_a_placeholder(value: str) -> None:
    assert is_placeholder(value) and manifest_placeholder(value)


@pytest.mark.parametrize(
    "value",
    [
        "@agekey@Xk9f2hunter",
        "p@ss@word",
        "@a b@",
        "@@",
        "@1x@",
        # the review of sweep 12: passwords wrapped in @ to meet a complexity rule
        "@Summer2024@",
        "@my-Root-Passw0rd@",
        "@Hunter2_Secret@",
        "@@Summer2024@@",
        "@@DB_PASSWORD@",
    ],
)
def test_at_signs_around_more_than_a_name_are_no_placeholder(value: str) -> None:
    assert not is_placeholder(value)


@pytest.mark.parametrize(
    ("value", "stand_in"),
    [
        # will-white/home-k8s-cluster (sweep 13): three such values were SM001 errors, and
        # SM019 errors in history for ever after
        ("ENC[PLACEHOLDER_NEEDS_REAL_SOPS_ENCRYPTION]", True),
        ("ENC[TODO]", True),
        ("ENC[AES256_GCM,data:abc=,iv:x=,tag:y=,type:str]", False),  # ciphertext is no stand-in
        ("ENC[hunter2hunter2]", False),
        ("ENC[PLACEHOLDER_q7Wm2ZpKx9vR4]", False),  # a random run after the word
    ],
)
def test_a_stand_in_dressed_as_ciphertext_is_a_placeholder(value: str, stand_in: bool) -> None:
    assert is_placeholder(value) is stand_in


def test_values_no_one_would_take_for_a_secret_are_stand_ins() -> None:
    # sweep 20: SM019 on `abcdef` (Samoth69) and `whatever` (9albi) in history, an SM018
    # warning on `sk-111111111111 # fake key needed to make ui happy` (JefeDavis)
    from secretsmgr.audit.credentials import judge_value

    for value in ("abcdef", "whatever", "sk-111111111111", "xy_aaaaaaaa"):
        assert is_placeholder(value), value
    assert judge_value("AUDIO_OPENAI_API_KEY", "sk-111111111111") is None
    # a digit or a letter out of the run, too short a run: a value again; and digits alone
    # are a weak PIN, alarm code or password, still a live one (the review)
    for value in ("abcdef1", "aaaaaab", "sk-1111", "abcdeg", "112233"):
        assert not is_placeholder(value), value
    for value in ("12345678", "1234567890", "000000", "123456", "aaaaaaaa"):
        assert not is_placeholder(value), value


@pytest.mark.parametrize(
    ("value", "stand_in"),
    [
        # sweep 41, HermannH34/kubernetes-homelab: SM019 exposures of a sample's stand-ins
        ("sk-xxxx", True),
        # sweep 82 (SilentSage432/sage-gitops): Tailscale's OAuth client, a longer prefix
        ("tsclient-xxxx", True),
        ("tssecret-xxxx", True),
        ("tssecret-Zq8vN3pL0xR7", False),
        ("xoxb-xxxx-xxxx", True),
        ("sk_live_VOTRE_CLE", True),
        ("whsec_VOTRE_SECRET", True),
        ("sk_live_YOUR_KEY", True),
        ("REMPLACER_PAR_UNE_VALEUR_ALEATOIRE_32_CHARS", True),
        ("https://VOTRE_DOMAINE", True),
        ("https://grafana.your-domain.com/login", True),
        ("DEIN_PASSWORT", True),
        ("tu_contraseña", True),
        # a prefix before a random run, a real host, a path or query with a token, a word that
        # only starts like a possessive: secrets or plain values still
        ("sk_live_51H8abcDEFxYz123", False),
        ("whsec_Xq9vTr7pLm2wZr5LbN7c", False),
        ("su_Xq9vTr7pLm2w", False),
        ("my_SUPER_SECRET", False),
        ("https://app.example.org", False),
        ("https://user:Xq9vTr7pLm2w@your-domain.com", False),
        ("https://your-domain.com?token=Xq9vTr7pLm2w", False),
        ("https://your-domain.com/hook/9f86d081884c7d659a2feaf0c55ad015", False),
        ("https://todo.example.com/hook", False),
        # the review of those: random runs and word passphrases dressed as requests
        ("tu-Xk29fQ7pLm4vRt8w-password", False),
        ("su-horse-staple-key", False),
        ("Ihr-Bergsee-Wert", False),
        ("Remplacer-par-Xk29fQ7pLm4vRt8w!", False),
        ("ersetzen_mit_Xk29fQ7pLm4vRt8w", False),
        ("sk-proj-tu-Xk29fQ7pLm4vRt8w-key", False),
        ("ghp_replacewithXk29fQ7pLm4vRt8w", False),
        ("ab-cd-todo", False),
        ("https://your-domain/hook/AbCdEfGhIjKlMnOpQrSt", False),
        ("your-Xk29fQ7pLm4vRt8w-password", False),
        ("votre-mot-de-passe", True),
        ("your-token-here", True),
    ],
)
def test_a_token_prefix_a_host_or_words_of_another_language_before_a_stand_in(
    value: str, stand_in: bool
) -> None:
    assert is_placeholder(value) is stand_in


_PEM = "-----BEGIN OPENSSH PRIVATE KEY-----\n{}\n-----END OPENSSH PRIVATE KEY-----\n"


@pytest.mark.parametrize(
    ("value", "stand_in"),
    [
        # sweep 58, kasefuchs/homelab: a kind cluster's words that say there is no secret
        ("no-one-cares", True),
        ("nobody-cares", True),
        ("definitely-not-a-real-secret", True),
        ("not a secret", True),
        ("nobody-cares-Xk29fQ7pLm4vRt8w", False),
        ("not-a-real-Xk29fQ7pLm4vRt8w", False),
        # the attack review: words around the phrase may be a random run or a passphrase
        ("qzjxkvbwmtrplhfdnw-nobody-cares", False),
        # sweep 60, claughinghouse/k3s-ops: a test Secret's sentence
        ("This is a test", True),
        ("just a test.", True),
        ("test", False),
        ("this is a test Xk29fQ7pLm4vRt8w", False),
        ("a test", False),
        ("A_TEST", False),
        ("a-test-value", False),
        ("this_is_a_test", False),
        ("It is just a test secret.", False),
        # sweep 62, spoletum/flux: a values file of instructions in comments
        ("# Add your values from envs/dev/app.sops.yaml here\n# Encrypt before committing\n", True),
        ("# password: hunter2\n# more\n", False),
        ("# token Xk29fQ7pLm4vRt8wQ2\n# x\n", False),
        ("# header\nkey: value\n", False),
        # the attack review: a credential in words, a passphrase beside an instruction
        ("# password hunter2\n# rotate later\n", False),
        ("# admin / Tr0ub4dor&3\n# x\n", False),
        ("# correct horse battery staple\n# add it\n", False),
        ("# put your values here\n# correct horse battery staple\n", False),
        ("# AKIAIOSFODNN7EXAMPLE wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n# put it here\n", False),
        ("tangerine-who-cares-velvet-canyon", False),
        # Nosmoht/talos-platform-base: a test fixture's value that calls itself fake
        ("fake-for-test-only", True),
        ("FAKE_TOKEN", True),
        ("fake_key_for_testing", True),
        ("fake-api-key-not-real", True),
        ("fake-test", True),
        # the attack review: "fake" alone or before what it stands for only is a weak password
        # a person may choose, as testpassword is
        ("fake", False),
        ("fakepassword", False),
        ("FakePassword!", False),
        ("fake_password", False),
        ("fake-real-password", False),
        ("fake-secret-key-data", False),
        ("Fake Passwd!", False),
        # words outside a sample's own, or a random run, after "fake": a passphrase, a secret
        ("fake-horse-battery-staple", False),
        ("fake-Xk29fQ7p", False),
        ("fakeXk29fQ7pLm4vRt8w", False),
        ("fake123", False),
        ("fake-for-Xk29fQ7pLm4v", False),
        # sweep 58, DeepAchut/Homelab-ops: a token cut short, and PEM armour around a request
        ("AIzaSy...", True),
        ("sk-ant-\u2026", True),
        ("Zq8vN3pL0xR7...", False),
        ("Zq7vK2mP...", False),
        ("hunter22...", False),
        ("Zq7vK2mP\u2026\u2026", False),
        ("ghp_...", True),
        ("AIzaSyXk29fQ7pLm4vRt8w...", False),
        ("...AIzaSyXk29fQ7pLm4vRt8w", False),
        (_PEM.format("REPLACE WITH ACTUAL ed25519 PRIVATE KEY"), True),
        (_PEM.format("<your private key here>"), True),
        (_PEM.format("..."), True),
        (
            _PEM.format("b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW"),
            False,
        ),
        (_PEM.format("my key is Xk29fQ7pLm4vRt8w here"), False),
        (
            _PEM.format("REPLACE WITH\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMw"),
            False,
        ),
        (_PEM.format("your passphrase here: tangerine velvet canyon orbit"), False),
        (_PEM.format("replace b3Blbn Nz aC1r ZXkt dj EAAA ABG5 vbmU"), False),
        (_PEM.format("paste your private key here"), True),
    ],
)
def test_words_denying_a_secret_a_token_cut_short_and_empty_armour_are_stand_ins(
    value: str, stand_in: bool
) -> None:
    assert is_placeholder(value) is stand_in


def test_a_variable_whose_default_is_another_variable_is_taken_out_whole() -> None:
    """sweep 49, Nomsplease/Home-Ops: `postgresql://${DATABASE_OWNER:=${APP}}@host/${APP}` kept
    `${DATABASE_OWNER:=}` once the inner variable was out, and its `:` read as user:password
    (SM001 at HEAD, SM019 in history); a password beside it is still one."""
    url = "postgresql://${DATABASE_OWNER:=${APP}}@pooler-rw.databases.svc:5432/${APP}?ssl=1"
    assert is_placeholder(url)
    assert not is_placeholder("postgresql://${U:=${APP}}:Zq8rT2vLm5Xw9@host/db")


@pytest.mark.parametrize(
    ("key", "value", "setting"),
    [
        # an Alertmanager config's global smtp_auth_username, its password in a file
        ("smtp_auth_username", "alerts@example.org", True),
        ("auth_username", "firstname.lastname@mail.example.co.uk", True),
        ("SMTP_USER", "ops01@company.io", True),
        ("smtpUsername", "john@o2.co.uk", True),
        # under a key naming the password, or not naming a user: judged as before
        ("smtp_auth_password", "alerts@example.org", False),
        ("auth_token", "alerts@example.org", False),
        # no address, or one made of a password or a random run
        ("smtp_auth_username", "hunter2", False),
        ("smtp_auth_username", "apikey", False),
        ("smtp_auth_username", "P@ssw0rd.com", False),
        ("smtp_auth_username", "s3cr3t9@pw.io", False),
        ("smtp_auth_username", "Xk29fQ7pLm4v@gmail.com", False),
        ("smtp_auth_username", "Tr0ub4dor@horse.io", False),
        ("smtp_auth_username", "mqwkzvtp.xhrjdnfl@gmail.com", False),
        ("smtp_auth_username", "AKIAIOSFODNN7EXAMPLE", False),
        # the attack review: a weak password before the @, a random run in the domain
        ("smtp_auth_username", "letmein@secret.pw", False),
        ("smtp_auth_username", "password@example.com", False),
        ("smtp_auth_username", "hunter2@hunter2.io", False),
        ("smtp_auth_username", "summer2024@home.net", False),
        ("smtp_auth_username", "ops@QwErTyUiOpAsDf.com", False),
    ],
)
def test_a_mail_address_as_a_logins_user_is_a_setting(key: str, value: str, setting: bool) -> None:
    assert is_login_address(key, value) is setting
    assert is_secret_file_setting(key, value) is setting


@pytest.mark.parametrize(
    ("value", "stand_in"),
    [
        # sweep 68, Kagiso-me/homelab-infrastructure: an Alertmanager Secret's webhook URLs
        ("https://hooks.slack.com/services/REPLACE_WITH_SLACK_WEBHOOK_URL", True),
        ("https://REPLACE_WITH_WEBHOOK_URL", True),
        ("https://discord.com/api/webhooks/REPLACE/REPLACE/slack", True),
        ("https://discord.com/api/webhooks/xxx/yyy/slack", True),
        ("https://hc-ping.com/REPLACE", True),
        # a real webhook, a topic, a token after the request, a random host
        ("https://discord.com/api/webhooks/123456/AbCdEf123456xyzQWE/slack", False),
        ("https://hooks.slack.com/services/T0123ABC/B0456DEF/Xk29fQ7pLm4vRt8w", False),
        ("https://ntfy.sh/homelab-alerts", False),
        ("https://hc-ping.com/REPLACE/Xk29fQ7pLm4v", False),
        ("https://Xk29fQ7pLm4v/", False),
        ("https://discord.com/api/webhooks/xxx/yyy/Xk29fQ7pLm4v", False),
    ],
)
def test_a_url_that_asks_to_be_replaced_is_a_stand_in(value: str, stand_in: bool) -> None:
    assert is_placeholder(value) is stand_in


@pytest.mark.parametrize(
    ("value", "stand_in"),
    [
        # sweep 69 (a careless user's copy of dramirez-qb/k3d-cluster): a random run after
        # REPLACE_WITH_ passed as a request; words after it are one
        ("REPLACE_WITH_Qm7vXc2Rk9Lp4Wt6Hs", False),
        ("REPLACE_THIS_Xk29fQ7pLm4v", False),
        ("REPLACE_WITH_CLIENT_SECRET", True),
        ("REPLACE_WITH_openssl_rand_hex_32", True),
        ("replace-with-real-secret-access-key", True),
        ("Replace with your token", True),
        ("replace-with-yourApiKey", True),
    ],
)
def test_only_words_follow_a_request_to_replace(value: str, stand_in: bool) -> None:
    assert is_placeholder(value) is stand_in


def test_an_ini_interpolation_and_a_kustomize_var_are_stand_ins() -> None:
    # the reviews of stop 51: `password = %(ENV_PW)s` in an INI config a secretGenerator reads,
    # and a Secret's `$(DBCONN)` that kustomize's vars: fill, were credentials in clear
    from secretsmgr.repo.placeholders import is_placeholder

    assert is_placeholder("%(ENV_PW)s") and is_placeholder("$(DBCONN)")
    assert not is_placeholder("%(x)s-Zq8rT2vLp0XwN4mK")  # a value beside it is no stand-in
    assert not is_placeholder("$(zq8rT2vLp0X)")  # a lower-case word in $(…) may be the value
