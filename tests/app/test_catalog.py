"""The model catalog in the page: the deployer's NEXUSCHAT_MODELS, the limits it gives the
max_tokens control, what a model will not do said before sending, and a bad setting explained."""

from __future__ import annotations

from tests.app.conftest import all_text, new_app, png_bytes, provider_secrets, send

HOUSE = "house-model"
CATALOG = {
    "family": [{"name": "House", "match": "^house-", "vision": True, "tools": True,
                "context_window": 32768, "max_output_tokens": 1000}],
    "model": [{"id": "claude-sonnet-4-6", "max_output_tokens": 16000}],
}


def app_with(fake_api, db_url, catalog, **extra):
    fake_api.set_models([HOUSE, "claude-sonnet-4-6", "text-only-model"])
    return new_app(provider_secrets(fake_api, db_url, NEXUSCHAT_MODELS=catalog, **extra)).run()


def pick(at, model):
    return at.selectbox(key="w_model").select(model).run()


def captions(at) -> str:
    return "\n".join(str(c.value) for c in at.caption)


def test_the_deployers_catalog_gives_the_models_flags_and_limits(fake_api, db_url):
    at = pick(app_with(fake_api, db_url, CATALOG), HOUSE)
    assert not at.exception
    assert ("Can see images: yes · Can use tools: yes · Context: 32,768 tokens · "
            "Longest reply: 1,000 tokens") in captions(at)
    # It sees images: nothing is held back, the image goes as a picture.
    send(at, "what is this?", ("red.png", png_bytes(), "image/png"))
    (body,) = fake_api.chat_requests()
    assert body["model"] == HOUSE
    assert any(part.get("type") == "image_url" for part in body["messages"][-1]["content"])


def test_max_tokens_cannot_pass_the_models_longest_reply(fake_api, db_url):
    at = pick(app_with(fake_api, db_url, CATALOG), HOUSE)
    at.switch_page("app_pages/settings.py").run()
    field = at.number_input(key="w_max_tokens")
    assert field.max == 1000
    assert "house-model writes at most 1,000 tokens in one reply." in captions(at)
    # A value set for a model with a longer reply comes down to this one's.
    pick(at, "claude-sonnet-4-6")
    assert at.number_input(key="w_max_tokens").max == 16000
    at.number_input(key="w_max_tokens").set_value(5000).run()
    pick(at, HOUSE)
    assert at.number_input(key="w_max_tokens").value == 1000 and not at.exception


def test_a_model_switched_after_setting_max_tokens_is_told_and_capped(fake_api, db_url):
    at = app_with(fake_api, db_url, CATALOG)
    at.switch_page("app_pages/settings.py").run()
    at.number_input(key="w_max_tokens").set_value(12000).run()  # fine for claude (16000 here)
    at.switch_page("app_pages/chat.py").run()
    assert "Max tokens is" not in captions(at)
    pick(at, HOUSE)
    assert ("Max tokens is 12,000, more than house-model writes in one reply: 1,000 tokens "
            "are asked for.") in captions(at)
    send(at, "long answer please")
    assert fake_api.chat_requests()[-1]["max_tokens"] == 1000


def test_the_hosted_ceiling_and_the_models_both_apply(fake_api, db_url):
    at = app_with(fake_api, db_url, CATALOG, NEXUSCHAT_LIMIT_MAX_TOKENS="600")
    at.switch_page("app_pages/settings.py").run()
    assert at.number_input(key="w_max_tokens").max == 600  # claude's 16000, the app's 600
    pick(at, HOUSE)
    assert at.number_input(key="w_max_tokens").max == 600
    at.switch_page("app_pages/chat.py").run()
    send(at, "unset: the app's ceiling")
    assert fake_api.chat_requests()[-1]["max_tokens"] == 600


def test_a_model_that_cannot_see_says_so_before_anything_is_sent(fake_api, db_url):
    at = app_with(fake_api, db_url, CATALOG)
    send(at, "look", ("red.png", png_bytes(), "image/png"))
    pick(at, "text-only-model")
    assert ("text-only-model cannot read images: the images in this conversation are sent to "
            "it as a short note") in captions(at)


BAD = {"model": [{"id": "house-model", "vison": True, "max_output_tokens": "lots"}]}


def test_an_invalid_setting_is_explained_once_in_the_sidebar(fake_api, db_url):
    at = app_with(fake_api, db_url, BAD)
    assert not at.exception
    (warning,) = [w for w in at.sidebar.warning]
    text = str(warning.value).replace("\\", "")  # shown literally: Markdown escapes
    assert "model catalog (NEXUSCHAT_MODELS in its secrets) is not valid" in text
    assert "model[0].vison: there is no such field (a typo?)" in text
    assert "model[0].max_output_tokens: should be a whole number of tokens, above 0" in text
    # The bundled catalog stands meanwhile.
    assert "Longest reply: 128,000 tokens" in captions(at)
    at.switch_page("app_pages/settings.py").run()
    assert len(at.sidebar.warning) == 1  # the sidebar's one place, on every page
    at.button(key="dismiss-catalog-problem").click().run()
    assert len(at.sidebar.warning) == 0
    at.switch_page("app_pages/chat.py").run()
    assert len(at.sidebar.warning) == 0 and not at.exception


def test_the_invalid_setting_in_chinese(fake_api, db_url):
    at = app_with(fake_api, db_url, BAD)
    at.switch_page("app_pages/settings.py").run()
    at.selectbox(key="w_language").select("zh").run()
    at.switch_page("app_pages/chat.py").run()
    (warning,) = at.sidebar.warning
    text = str(warning.value).replace("\\", "")
    assert "本应用的模型目录（密钥配置中的 NEXUSCHAT_MODELS）无效" in text
    assert "model[0].vison：没有这个字段（是否拼写有误？）" in text
    assert "上下文：1,000,000 个 token" in captions(at)


def test_the_catalog_can_be_toml_text_in_the_environment(fake_api, db_url, monkeypatch):
    monkeypatch.setenv("NEXUSCHAT_MODELS",
                       '[[model]]\nid = "text-only-model"\nmax_output_tokens = 2048\n')
    fake_api.set_models(["claude-sonnet-4-6", "text-only-model"])
    at = new_app(provider_secrets(fake_api, db_url)).run()
    pick(at, "text-only-model")
    assert "Longest reply: 2,048 tokens" in captions(at)
    assert "NEXUSCHAT_MODELS" not in all_text(at)
