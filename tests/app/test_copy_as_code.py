"""Copy as code on a reply: the request that produced it, as Python and cURL, with no key."""

from __future__ import annotations

from tests.app.conftest import KEY, all_text, new_app, png_bytes, provider_secrets, send


def hosted(fake_api, db_url):
    """A hosted deploy on its own key (the key must never reach the page)."""
    return new_app(provider_secrets(fake_api, db_url, NEXUSCHAT_MODE="hosted")).run()


def open_code(at):
    button = next(b for b in at.button if b.key and b.key.startswith("code-"))
    return button.click().run()


def code_blocks(at) -> list[str]:
    return [str(c.value) for c in at.code]


def test_a_reply_shows_its_request_as_python_and_curl_without_the_key(fake_api, db_url):
    at = hosted(fake_api, db_url)
    send(at, 'Say "hi" $(whoami)', ("red.png", png_bytes(), "image/png"))
    (sent,) = fake_api.chat_requests()
    open_code(at)
    assert not at.exception
    python, curl = code_blocks(at)
    assert f"OpenAI(base_url={fake_api.base_url!r}," in python
    assert "os.environ['NEXUSCHAT_API_KEY']" in python
    assert f"'max_tokens': {sent['max_tokens']}" in python  # the deploy's ceiling, as sent
    assert "Say \"hi\" $(whoami)" in python
    assert curl.startswith(f"curl {fake_api.base_url}/chat/completions \\")
    assert '"Authorization: Bearer $NEXUSCHAT_API_KEY"' in curl
    # The image is shortened on screen.
    url = sent["messages"][-1]["content"][1]["image_url"]["url"]
    assert url not in python and url not in curl and url[:30] in python and "…(" in curl
    assert "Images are shortened here" in "\n".join(c.value for c in at.caption)
    compile(python, "request.py", "exec")
    page = all_text(at) + "\n".join(code_blocks(at))
    assert KEY not in page
    assert {b.label for b in at.get("download_button")} == {"Download request.py",
                                                            "Download request.sh"}


def test_copy_as_code_in_chinese(fake_api, db_url):
    at = hosted(fake_api, db_url)
    at.switch_page("app_pages/settings.py").run()
    at.selectbox(key="w_language").select("zh").run()
    at.switch_page("app_pages/chat.py").run()
    send(at, "你好")
    open_code(at)
    captions = "\n".join(c.value for c in at.caption)
    assert "运行前请设置环境变量 NEXUSCHAT_API_KEY" in captions
    assert {b.label for b in at.get("download_button")} == {"下载 request.py",
                                                            "下载 request.sh"}
    assert all(KEY not in block for block in code_blocks(at))


def test_the_request_survives_a_reload_from_the_store(fake_api, db_url):
    at = new_app(provider_secrets(fake_api, db_url)).run()  # local mode: one owner
    send(at, "remember me")
    conversation_id = at.session_state["conversation"].id
    again = new_app(provider_secrets(fake_api, db_url))
    again.query_params["c"] = conversation_id
    again.run()
    assert any(m.value == "remember me" for m in again.markdown)
    open_code(again)
    assert "remember me" in code_blocks(again)[0] and not again.exception
