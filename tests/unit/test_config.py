from nexuschat.config import DEFAULT_BASE_URL, DEFAULT_MODEL, key_source, resolve_settings


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
