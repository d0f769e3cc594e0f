"""The interface language: English by default, Chinese by choice or by the browser's locale."""

from __future__ import annotations

from tests.app.conftest import new_app, provider_secrets

ENGLISH = {"nav": ["Chat", "Conversations", "Usage", "Settings"], "settings": "Settings",
           "new_chat": "New chat", "placeholder": "Ask anything, or attach images",
           "generation": "Generation"}
CHINESE = {"nav": ["聊天", "历史对话", "用量", "设置"], "settings": "设置",
           "new_chat": "新建对话", "placeholder": "输入任何问题，或附加图片",
           "generation": "生成参数"}


def run(at):
    return at.run()


def open_settings(at):
    return at.switch_page("app_pages/settings.py").run()


def back_to_chat(at):
    return at.switch_page("app_pages/chat.py").run()


def choose(at, language: str):
    return at.selectbox(key="w_language").select(language).run()


def nav_titles(at) -> list[str] | None:
    """The page titles given to st.navigation; AppTest keeps them only in a private registry."""
    pages = getattr(at, "_registered_pages", None)
    if not pages:
        return None
    return [info["page_name"] for info in pages.values()]


def assert_settings_page_in(at, strings: dict) -> None:
    assert not at.exception
    assert [title.value for title in at.title] == [strings["settings"]]
    assert strings["generation"] in [s.value for s in at.subheader]
    assert strings["new_chat"] in [b.label for b in at.sidebar.button]
    titles = nav_titles(at)
    if titles is not None:
        assert titles == strings["nav"]


def assert_chat_page_in(at, strings: dict) -> None:
    assert not at.exception
    assert at.chat_input[0].placeholder == strings["placeholder"]
    assert strings["new_chat"] in [b.label for b in at.sidebar.button]
    titles = nav_titles(at)
    if titles is not None:
        assert titles == strings["nav"]


def test_english_by_default(app):
    assert_chat_page_in(app, ENGLISH)
    open_settings(app)
    assert_settings_page_in(app, ENGLISH)
    assert app.selectbox(key="w_language").value == "auto"


def test_choosing_chinese_then_english(app):
    open_settings(app)
    choose(app, "zh")
    assert_settings_page_in(app, CHINESE)
    assert app.selectbox(key="w_language").value == "zh"
    back_to_chat(app)  # the choice outlives the page that holds its widget
    assert_chat_page_in(app, CHINESE)
    open_settings(app)
    assert app.selectbox(key="w_language").value == "zh"
    choose(app, "en")
    assert_settings_page_in(app, ENGLISH)
    back_to_chat(app)
    assert_chat_page_in(app, ENGLISH)


def test_chinese_validation_messages(app):
    open_settings(app)
    choose(app, "zh")
    app.text_area(key="w_stop").input("a\nb\nc\nd\ne").run()
    assert "最多只能设置 4 个停止序列。" in [e.value for e in app.error]


def test_a_chinese_browser_gets_chinese_until_english_is_chosen(fake_api, db_url):
    at = new_app(provider_secrets(fake_api, db_url))
    at.context["locale"] = "zh-CN"
    run(at)
    assert_chat_page_in(at, CHINESE)
    open_settings(at)
    assert_settings_page_in(at, CHINESE)
    choose(at, "en")  # an explicit choice wins over the browser
    assert_settings_page_in(at, ENGLISH)
    choose(at, "auto")
    assert_settings_page_in(at, CHINESE)


def test_other_browser_locales_get_english(fake_api, db_url):
    at = new_app(provider_secrets(fake_api, db_url))
    at.context["locale"] = "fr-FR"
    run(at)
    assert_chat_page_in(at, ENGLISH)


def test_settings_survive_a_change_of_language(app, fake_api):
    open_settings(app)
    app.radio(key="w_sampling").set_value("temperature").run()
    app.number_input(key="w_temperature").set_value(0.3).run()
    app.radio(key="w_preset").set_value("economy").run()
    choose(app, "zh")
    assert app.radio(key="w_sampling").value == "temperature"
    assert app.number_input(key="w_temperature").value == 0.3
    assert app.radio(key="w_preset").value == "economy"
    assert app.radio(key="w_provider").value == "api"
    assert "每次请求发送的字段：temperature" in [c.value for c in app.caption]


def test_an_import_is_reported_in_the_chosen_language(app):
    # The import runs in a callback, before the run picks the language: the notice must not.
    open_settings(app)
    choose(app, "zh")
    app.switch_page("app_pages/conversations.py").run()
    app.file_uploader(key="import-file").set_value(("x.json", b"{nope", "application/json")).run()
    assert [e.value for e in app.error] == ["该文件不是 JSON 文本（UTF-8），无法导入。"]
