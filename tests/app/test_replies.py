"""Replies as gateways send them, through the chat page: reasoning, the thinking switch, content
parts, refusals, JSON replies, odd finish reasons and error pages (issue 11)."""

from __future__ import annotations

from tests.app.conftest import KEY, all_text, new_app, provider_secrets, send
from tests.app.test_history import reopen

REASONING = "The user asks for two plus two. Adding them gives four."


def markdowns(at) -> list[str]:
    return [m.value for m in at.markdown]


def captions(at) -> str:
    return " ".join(c.value for c in at.caption)


def thinking_expanders(at):
    return [e for e in at.expander if "Thought for" in e.label or "Thinking" in e.label]


def conversation_id(at) -> str:
    value = at.query_params["c"]
    return value if isinstance(value, str) else value[0]


def test_a_reasoning_reply_shows_its_thinking_collapsed_above_the_answer(app, fake_api, db_url):
    fake_api.script({"kind": "reply", "reasoning": REASONING, "text": "Four.",
                     "reasoning_field": "reasoning_content"})
    send(app, "2+2?")
    assert not app.exception
    (expander,) = thinking_expanders(app)
    assert expander.label.startswith("Thought for ")
    assert expander.label.endswith(f"· {len(REASONING):,} characters")
    assert not expander.proto.expanded  # collapsed once the answer is there
    assert expander.icon == ":material/psychology:"
    assert [m.value for m in expander.markdown] == [REASONING]
    assert "Four." in markdowns(app)
    assert "11 reasoning tokens" in captions(app)

    # Stored: a reload shows both; and the next request does not carry the reasoning.
    again = reopen(fake_api, db_url, conversation_id(app))
    (stored,) = thinking_expanders(again)
    assert [m.value for m in stored.markdown] == [REASONING] and "Four." in markdowns(again)
    assert "11 reasoning tokens" in captions(again)
    send(again, "and 3+3?")
    sent = fake_api.chat_requests()[-1]["messages"]
    assert sent[1] == {"role": "assistant", "content": "Four."}
    assert REASONING not in repr(sent)


def test_every_reasoning_field_reaches_the_page(app, fake_api):
    for field in ("reasoning", "reasoning_details", "thinking_parts", "both"):
        fake_api.script({"kind": "reply", "reasoning": f"via {field}", "text": f"ok {field}",
                         "reasoning_field": field})
        send(app, field)
    labels = [e.label for e in thinking_expanders(app)]
    assert len(labels) == 4
    inside = [m.value for e in thinking_expanders(app) for m in e.markdown]
    assert inside == ["via reasoning", "via reasoning_details", "via thinking_parts",
                      "via both"]


def test_the_thinking_switch_appears_for_models_that_take_one(app, fake_api):
    assert not app.segmented_control  # Claude: no switch
    send(app, "claude")
    app.selectbox(key="w_model").select("qwen3.5-plus").run()
    switch = app.segmented_control(key="w_thinking")
    assert switch.value == "auto" and switch.options == ["Model default", "On", "Off"]
    send(app, "default")
    app.segmented_control(key="w_thinking").set_value("off").run()
    send(app, "off")
    app.segmented_control(key="w_thinking").set_value("on").run()
    app.number_input(key="w_thinking_budget").set_value(4096).run()
    send(app, "on with a budget")
    app.selectbox(key="w_model").select("claude-sonnet-4-6").run()
    assert not app.segmented_control
    send(app, "claude again")  # the choice stays, but Claude takes no switch
    sent = [{k: b[k] for k in ("enable_thinking", "thinking_budget") if k in b}
            for b in fake_api.chat_requests()]
    assert sent == [{}, {}, {"enable_thinking": False},
                    {"enable_thinking": True, "thinking_budget": 4096}, {}]


def test_the_thinking_choice_is_kept_with_the_conversation(app, fake_api, db_url):
    app.selectbox(key="w_model").select("qwen3.5-plus").run()
    app.segmented_control(key="w_thinking").set_value("off").run()
    send(app, "remember this")
    again = reopen(fake_api, db_url, conversation_id(app))
    assert again.segmented_control(key="w_thinking").value == "off"


def test_content_parts_are_joined_and_unknown_ones_noted(app, fake_api):
    fake_api.script({"kind": "reply", "text": "Joined from parts.", "content_parts": True,
                     "extra_parts": [{"type": "image_url",
                                      "image_url": {"url": "https://img.example/x.png"}}]})
    send(app, "parts please")
    assert not app.exception
    assert "Joined from parts." in markdowns(app)
    assert "left out: image\\_url" in captions(app) or "left out: image_url" in captions(app)
    assert not app.error


def test_a_refusal_is_shown_as_the_reply_in_its_own_style(app, fake_api):
    fake_api.script({"kind": "reply", "refusal": "I can't help with that request."})
    send(app, "something refused")
    assert not app.exception and not app.error
    assert "declined to answer" in captions(app)
    assert [i.value for i in app.info] == ["I can't help with that request."]


def test_a_json_completion_for_a_streaming_request_is_a_complete_reply(app, fake_api):
    fake_api.script({"kind": "reply", "text": "All at once.", "json_body": True})
    send(app, "json please")
    assert "All at once." in markdowns(app)
    assert not app.error  # no "ended without the server saying it was complete"
    assert "total tokens" in captions(app)


def test_non_openai_finish_reasons(app, fake_api):
    fake_api.script({"kind": "reply", "text": "A normal end.", "finish_reason": "end_turn"},
                    {"kind": "reply", "text": "Cut here", "finish_reason": "max_tokens"},
                    {"kind": "reply", "text": " and finished.", "finish_reason": "stop"})
    send(app, "one")
    assert not app.warning  # end_turn is a normal stop, not a note
    send(app, "two")
    assert "token limit" in " ".join(w.value for w in app.warning)
    continue_button = [b for b in app.button if b.key and b.key.startswith("continue-")]
    continue_button[0].click().run()
    assert "Cut here and finished." in markdowns(app)


def test_an_html_error_page_gives_its_title_only(app, fake_api):
    page = ("<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center>"
            "<h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n"
            "</html>\r\n")
    fake_api.script({"kind": "error", "status": 502, "body": page, "content_type": "text/html"})
    send(app, "through a proxy")
    (error,) = app.error
    assert "(502)" in error.value and "502 Bad Gateway" in error.value
    assert "<" not in error.value and "center" not in error.value and "\r" not in error.value
    assert [b for b in app.button if b.key and b.key.startswith("retry-")]


def test_a_fastapi_422_refusing_stream_options_is_retried_without(app, fake_api):
    fake_api.script({"kind": "error", "status": 422, "body": {"detail": [
        {"type": "extra_forbidden", "loc": ["body", "stream_options"],
         "msg": "Extra inputs are not permitted", "input": {"include_usage": True}}]}})
    send(app, "hello")
    assert "Echo: hello" in markdowns(app) and not app.error


def test_a_shape_that_breaks_the_stream_keeps_the_text_and_says_why(app, fake_api):
    fake_api.script({"kind": "raw", "events": [
        {"choices": [{"index": 0, "delta": {"content": "kept text"}}]},
        {"choices": [{"index": 0, "delta": {"content": [{"type": []}, 5, None]}}]},
        ["not", "a", "chunk"]]})
    send(app, "odd server")
    assert not app.exception
    assert "kept text" in markdowns(app)
    assert "could not be read" in " ".join(e.value for e in app.error)


def test_the_thinking_is_in_chinese_when_the_page_is(fake_api, db_url):
    at = new_app(provider_secrets(fake_api, db_url)).run()
    at.switch_page("app_pages/settings.py").run()
    at.selectbox(key="w_language").select("zh").run()
    at.switch_page("app_pages/chat.py").run()
    fake_api.script({"kind": "reply", "reasoning": "想一想", "text": "四"})
    send(at, "二加二？")
    (expander,) = [e for e in at.expander if e.label.startswith("已思考")]
    assert expander.label.endswith("· 3 个字符")
    assert "推理 1 tokens" in captions(at) and KEY not in all_text(at)
