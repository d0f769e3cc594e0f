from nexuschat.config import (
    DEFAULT_BASE_URL,
    DEFAULT_MODEL,
    key_source,
    resolve_deployment,
    resolve_settings,
)


def test_defaults_with_nothing_configured():
    s = resolve_settings({}, {}, {"NEXUSCHAT_PROVIDER": "api"})
    assert (s.base_url, s.api_key, s.model) == (DEFAULT_BASE_URL, "", DEFAULT_MODEL)
    assert not s.has_key
    # With no key and no URL at all, the bundled local model is the provider (test_local_config).
    assert resolve_settings({}, {}, {}).is_local


def test_widget_beats_secrets_beats_environment():
    env = {"NEXUSCHAT_API_KEY": "env-key", "NEXUSCHAT_BASE_URL": "http://env/v1",
           "NEXUSCHAT_MODEL": "env-model"}
    secrets = {"NEXUSCHAT_API_KEY": "secret-key", "NEXUSCHAT_MODEL": "secret-model"}
    widgets = {"NEXUSCHAT_API_KEY": "typed-key", "NEXUSCHAT_BASE_URL": "  "}
    s = resolve_settings(widgets, secrets, env)
    assert s.api_key == "typed-key"
    assert s.model == "secret-model"
    assert s.base_url == "http://env/v1"  # a blank widget does not count
    assert key_source(widgets, secrets, env) == "widget"
    assert key_source({}, secrets, env) == "secrets"
    assert key_source({}, {}, env) == "env"
    assert key_source({}, {}, {}) == ""


def test_openai_api_key_is_a_fallback():
    assert resolve_settings({}, {}, {"OPENAI_API_KEY": "sk-x"}).api_key == "sk-x"
    both = {"OPENAI_API_KEY": "sk-x", "NEXUSCHAT_API_KEY": "nx"}
    assert resolve_settings({}, {}, both).api_key == "nx"


def test_the_key_is_not_in_repr():
    s = resolve_settings({}, {}, {"NEXUSCHAT_API_KEY": "sk-very-secret-123"})
    assert "sk-very-secret-123" not in repr(s)
    assert "sk-very-secret-123" not in str(s)


def test_timeouts_from_environment_with_bad_values_ignored():
    s = resolve_settings({}, {}, {"NEXUSCHAT_READ_TIMEOUT": "2.5",
                                  "NEXUSCHAT_CONNECT_TIMEOUT": "x"})
    assert (s.read_timeout, s.connect_timeout) == (2.5, 10.0)


def test_deploy_mode_is_hosted_unless_said_or_bound_to_loopback():
    from nexuschat.config import deploy_mode

    assert deploy_mode(None, "127.0.0.1") == "local"
    assert deploy_mode("", "localhost") == "local"
    assert deploy_mode(None, "") == "hosted"
    assert deploy_mode(None, "0.0.0.0") == "hosted"
    assert deploy_mode("Hosted", "127.0.0.1") == "hosted"
    assert deploy_mode("local", "0.0.0.0") == "local"
    assert deploy_mode("bogus", None) == "hosted"


# --- hosted deploys: the deployer's key goes to the deployer's base URL only ---------------

DEPLOY = {"NEXUSCHAT_MODE": "hosted", "NEXUSCHAT_API_KEY": "sk-deploy-key-123456",
          "NEXUSCHAT_BASE_URL": "https://nexusflow.hk/v1"}
STRANGER = "https://stranger.example/v1"


def hosted(widgets: dict, **extra: str):
    return resolve_settings(widgets, {**DEPLOY, **extra}, {}, server_address="0.0.0.0")


def test_hosted_with_the_deploy_key_ignores_a_typed_base_url():
    s = hosted({"NEXUSCHAT_BASE_URL": STRANGER})
    assert (s.base_url, s.api_key, s.key_owner) == ("https://nexusflow.hk/v1",
                                                    "sk-deploy-key-123456", "deploy")
    assert s.network is not None and s.network.base_url == s.base_url
    assert s.can_send


def test_hosted_without_visitor_keys_ignores_a_typed_key_and_url_together():
    s = hosted({"NEXUSCHAT_API_KEY": "sk-visitor-999999", "NEXUSCHAT_BASE_URL": STRANGER})
    assert (s.base_url, s.api_key) == ("https://nexusflow.hk/v1", "sk-deploy-key-123456")


def test_a_visitor_key_may_use_only_the_listed_urls():
    allowed = {"NEXUSCHAT_ALLOW_USER_KEYS": "true"}
    own = hosted({"NEXUSCHAT_API_KEY": "sk-visitor-999999"}, **allowed)
    assert (own.api_key, own.key_owner, own.base_url) == ("sk-visitor-999999", "visitor",
                                                          "https://nexusflow.hk/v1")
    refused = hosted({"NEXUSCHAT_API_KEY": "sk-visitor-999999",
                      "NEXUSCHAT_BASE_URL": STRANGER}, **allowed)
    assert refused.url_problem == "policy.url_not_allowed" and not refused.can_send
    assert refused.url_problem_detail == "https://nexusflow.hk/v1"
    listed = hosted({"NEXUSCHAT_API_KEY": "sk-visitor-999999", "NEXUSCHAT_BASE_URL": STRANGER},
                    NEXUSCHAT_ALLOWED_BASE_URLS="https://stranger.example/v1/, "
                    "http://10.0.0.7:8000/v1", **allowed)
    assert listed.can_send and listed.base_url == STRANGER
    assert listed.network.trusted_hosts == {"nexusflow.hk", "stranger.example", "10.0.0.7"}


def test_any_public_https_url_with_a_star():
    star = {"NEXUSCHAT_ALLOW_USER_KEYS": "1", "NEXUSCHAT_ALLOWED_BASE_URLS": "*"}

    def problem(url: str) -> str:
        return hosted({"NEXUSCHAT_API_KEY": "sk-visitor-999999",
                       "NEXUSCHAT_BASE_URL": url}, **star).url_problem

    assert problem(STRANGER) == ""
    assert problem("http://stranger.example/v1") == "policy.url_https_only"
    for private in ("https://127.0.0.1/v1", "https://2130706433/v1", "https://0177.0.0.1/v1",
                    "https://[::ffff:127.0.0.1]/v1", "https://localhost./v1",
                    "https://169.254.169.254/latest", "https://10.0.0.1/v1",
                    "https://100.100.100.200/v1", "https://[fd00:ec2::254]/v1"):
        assert problem(private) == "policy.url_private", private
    assert problem("javascript:alert(1)") == "policy.url_invalid"
    assert problem("https://user:pass@stranger.example/v1") == "policy.url_invalid"


def test_a_deploy_without_a_key_always_asks_visitors_for_theirs():
    s = resolve_settings({"NEXUSCHAT_PROVIDER": "api"}, {"NEXUSCHAT_MODE": "hosted"}, {},
                         server_address="0.0.0.0")
    assert s.needs_key and not s.can_send
    # ...even when its base URL is not nexusflow's
    s = resolve_settings({"NEXUSCHAT_PROVIDER": "api"},
                         {"NEXUSCHAT_MODE": "hosted", "NEXUSCHAT_BASE_URL": "http://vllm:8000/v1"},
                         {}, server_address="0.0.0.0")
    assert s.needs_key
    typed = resolve_settings({"NEXUSCHAT_API_KEY": "sk-visitor-999999"},
                             {"NEXUSCHAT_MODE": "hosted"}, {}, server_address="0.0.0.0")
    assert typed.key_owner == "visitor" and typed.can_send


def test_local_mode_keeps_its_freedom():
    s = resolve_settings({"NEXUSCHAT_BASE_URL": "http://127.0.0.1:9/v1"}, DEPLOY | {
        "NEXUSCHAT_MODE": "local"}, {})
    assert s.base_url == "http://127.0.0.1:9/v1" and s.network is None and s.can_send


def test_the_deployment_repr_hides_the_key():
    from nexuschat.config import resolve_deployment

    deployment = resolve_deployment(DEPLOY, {}, "0.0.0.0")
    assert deployment.hosted and "sk-deploy-key-123456" not in repr(deployment)


def test_allowed_base_urls_may_be_a_list_in_secrets():
    from nexuschat.config import resolve_deployment

    deployment = resolve_deployment({**DEPLOY, "NEXUSCHAT_ALLOWED_BASE_URLS": [
        "https://openrouter.ai/api/v1/", "*", "not a url"]}, {}, "0.0.0.0")
    assert deployment.allowed_base_urls == ("https://nexusflow.hk/v1",
                                            "https://openrouter.ai/api/v1", "*")
    assert deployment.trusted_hosts == {"nexusflow.hk", "openrouter.ai"}


def test_the_deployers_model_catalog_is_resolved_with_the_settings():
    from nexuschat.models import bundled, capabilities

    tables = {"model": [{"id": "house-model", "vision": True, "max_output_tokens": 1000}]}
    settings = resolve_settings({}, {"NEXUSCHAT_MODELS": tables}, {})
    assert capabilities("house-model", catalog=settings.catalog).max_output_tokens == 1000
    assert resolve_deployment({"NEXUSCHAT_MODELS": tables}, {}).catalog is settings.catalog
    # The environment holds TOML text; secrets win over it; nothing: the bundled catalog.
    env = {"NEXUSCHAT_MODELS": '[[model]]\nid = "env-model"\nvision = true\n'}
    assert capabilities("env-model", catalog=resolve_settings({}, {}, env).catalog).vision
    assert not capabilities("env-model",
                            catalog=resolve_settings({}, {"NEXUSCHAT_MODELS": tables},
                                                     env).catalog).vision
    assert resolve_settings({}, {}, {}).catalog is bundled()


def test_an_invalid_model_catalog_leaves_the_bundled_one_and_its_reasons():
    settings = resolve_settings({}, {"NEXUSCHAT_MODELS": {"model": [{"idd": "x"}]}}, {})
    assert sorted(p.code for p in settings.catalog.problems) == [
        "catalog.problem.missing", "catalog.problem.unknown_field"]
    assert settings.catalog.curated == resolve_settings({}, {}, {}).catalog.curated
