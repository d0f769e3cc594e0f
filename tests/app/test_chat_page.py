"""The chat page through AppTest: the real app, real client, fake API over HTTP."""

from __future__ import annotations

import re

from nexuschat.turns import CONTINUE_PROMPT
from tests.app.conftest import KEY, all_text, image_captions, new_app, png_bytes, send


def markdowns(at) -> list[str]:
    return [m.value for m in at.markdown]


def test_without_a_key_the_page_says_how_to_set_one():
    # (The keyless default is the local model: tests/integration.) On this machine the owner
    # can also use secrets or the environment; a hosted visitor is told only what they can do
    # (tests/app/test_hosted.py).
    at = new_app({"NEXUSCHAT_PROVIDER": "api", "NEXUSCHAT_MODE": "local"}).run()
    assert not at.exception
    info = " ".join(i.value for i in at.info)
    assert "NEXUSCHAT_API_KEY" in info and "secrets.toml" in info and "sidebar" in info
    assert at.chat_input[0].disabled


def test_a_key_typed_in_the_sidebar_enables_the_chat(fake_api):
    at = new_app({"NEXUSCHAT_BASE_URL": "https://nexusflow.hk/v1",
                  "NEXUSCHAT_MODE": "local"}).run()
    assert at.chat_input[0].disabled
    at.text_input(key="w_api_key").input("sk-typed-in-sidebar-000").run()
    assert not at.chat_input[0].disabled
    assert "sk-typed-in-sidebar-000" not in all_text(at)


def test_a_question_streams_an_answer_with_its_facts(app, fake_api):
    send(app, "hello there")
    assert not app.exception
    assert "Echo: hello there" in markdowns(app)
    captions = " ".join(c.value for c in app.caption)
    assert "claude-sonnet-4-6" in captions and "total tokens" in captions
    (body,) = fake_api.chat_requests()
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["messages"] == [{"role": "user", "content": "hello there"}]
    assert not {"temperature", "top_p", "max_tokens", "stop", "seed", "user"} & set(body)
    assert KEY not in all_text(app)


def test_an_attached_image_is_prepared_shown_and_sent(app, fake_api):
    send(app, "what colour?", ("red.png", png_bytes((3000, 1000)), "image/png"))
    assert not app.exception
    (body,) = fake_api.chat_requests()
    parts = body["messages"][0]["content"]
    assert parts[0] == {"type": "text", "text": "what colour?"}
    assert parts[1]["image_url"]["url"].startswith("data:image/")
    assert "Echo: what colour? [images: 1]" in markdowns(app)
    assert re.search(r"1568×52[23] · \d+ B · ~[\d,]+ tokens · from 3000×1000",
                     image_captions(app))
    assert len(app.image) == 1


def test_several_images_in_one_message(app, fake_api):
    send(app, "compare", ("a.png", png_bytes(), "image/png"),
         ("b.png", png_bytes(color=(0, 0, 255)), "image/png"))
    (body,) = fake_api.chat_requests()
    assert [p["type"] for p in body["messages"][0]["content"]] == [
        "text", "image_url", "image_url"]


def test_images_for_a_text_only_model_are_held_not_dropped(app, fake_api):
    app.selectbox(key="w_model").select("qwen3.5-plus").run()
    send(app, "see this?", ("cat.png", png_bytes(), "image/png"))
    assert fake_api.chat_requests() == []
    warning = " ".join(w.value for w in app.warning)
    assert "qwen3.5-plus" in warning and "cannot read images" in warning
    app.button(key="switch-claude-sonnet-4-6").click().run()
    assert not app.exception
    (body,) = fake_api.chat_requests()
    assert body["model"] == "claude-sonnet-4-6"
    assert body["messages"][0]["content"][1]["type"] == "image_url"
    assert app.selectbox(key="w_model").value == "claude-sonnet-4-6"


def test_text_only_escape_from_the_vision_guard(app, fake_api):
    app.selectbox(key="w_model").select("qwen3.5-plus").run()
    send(app, "just text then", ("cat.png", png_bytes(), "image/png"))
    app.button(key="send-text-only").click().run()
    (body,) = fake_api.chat_requests()
    assert body["model"] == "qwen3.5-plus"
    assert body["messages"][0]["content"] == "just text then"


def test_a_broken_image_is_explained_and_nothing_is_sent(app, fake_api):
    send(app, "look", ("broken.png", b"not an image at all", "image/png"))
    assert fake_api.chat_requests() == []
    assert "broken.png" in " ".join(w.value for w in app.warning)
    assert any("look" in m for m in markdowns(app))  # the text is kept
    app.button(key="discard-draft").click().run()
    assert not app.warning


def test_multi_turn_resends_the_whole_conversation_with_system_prompt(app, fake_api):
    app.text_area(key="w_system_prompt").input("Answer in one word.").run()
    send(app, "first", ("p.png", png_bytes(), "image/png"))
    send(app, "second")
    first, second = fake_api.chat_requests()
    roles = [m["role"] for m in second["messages"]]
    assert roles == ["system", "user", "assistant", "user"]
    assert second["messages"][0]["content"] == "Answer in one word."
    assert second["messages"][1]["content"][1]["type"] == "image_url"
    assert second["messages"][2]["content"] == "Echo: first [images: 1]"


def test_server_error_keeps_the_question_and_retry_resends(app, fake_api):
    fake_api.script({"kind": "error", "status": 500, "message": "boom"})
    send(app, "try me")
    assert not app.exception
    assert "server had an error" in " ".join(e.value for e in app.error)
    assert "try me" in markdowns(app)
    retry = [b for b in app.button if b.key and b.key.startswith("retry-")]
    retry[0].click().run()
    assert "Echo: try me" in markdowns(app)
    assert not app.error
    assert len(fake_api.chat_requests()) == 2


def test_a_cut_stream_keeps_the_partial_reply(app, fake_api):
    fake_api.script({"kind": "cut", "after_chunks": 3})
    send(app, "one two three four five")
    assert any(m.startswith("Echo: one two") for m in markdowns(app))
    assert "closed before the reply was complete" in " ".join(e.value for e in app.error)


def test_rate_limit_says_how_long_to_wait(app, fake_api):
    fake_api.script({"kind": "error", "status": 429, "message": "slow",
                     "headers": {"Retry-After": "1"}})
    send(app, "quick")
    assert "wait 1 s" in " ".join(e.value for e in app.error)


def test_length_finish_offers_continue_which_extends_the_reply(app, fake_api):
    fake_api.script({"kind": "reply", "text": "The start", "finish_reason": "length"},
                    {"kind": "reply", "text": " and the end."})
    send(app, "long story")
    assert "token limit" in " ".join(w.value for w in app.warning)
    continue_button = [b for b in app.button if b.key and b.key.startswith("continue-")]
    continue_button[0].click().run()
    second = fake_api.chat_requests()[1]
    assert second["messages"][-1] == {"role": "user", "content": CONTINUE_PROMPT}
    assert second["messages"][-2] == {"role": "assistant", "content": "The start"}
    assert "The start and the end." in markdowns(app)
    assert "The start" not in markdowns(app)  # continued in place, not drawn twice
    assert len(app.chat_message) == 2


def test_a_retried_continuation_is_drawn_once(app, fake_api):
    fake_api.script({"kind": "reply", "text": "The start", "finish_reason": "length"},
                    {"kind": "error", "status": 500, "message": "boom"},
                    {"kind": "reply", "text": " and the end."})
    send(app, "long story")
    [b for b in app.button if b.key and b.key.startswith("continue-")][0].click().run()
    assert "server had an error" in " ".join(e.value for e in app.error)
    [b for b in app.button if b.key and b.key.startswith("retry-")][0].click().run()
    assert fake_api.chat_requests()[-1]["messages"][-1] == {"role": "user",
                                                            "content": CONTINUE_PROMPT}
    assert markdowns(app) == ["long story", "The start and the end."]  # not "The start" too
    assert len(app.chat_message) == 2


def test_the_reply_gets_its_controls_and_the_question_its_edit_in_the_same_run(app, fake_api):
    send(app, "first")
    send(app, "second")
    keys = [b.key or "" for b in app.button]
    assert sum(k.startswith("edit-") for k in keys) == 2
    assert sum(k.startswith("regenerate-") for k in keys) == 2
    assert "stop-stream" not in keys
    assert [m.value for m in app.markdown if m.value.startswith("Echo")] == [
        "Echo: first", "Echo: second"]


def test_usage_missing_is_said_not_invented(app, fake_api):
    fake_api.script({"kind": "reply", "ignore_stream_options": True})
    send(app, "no usage")
    assert "usage not reported" in " ".join(c.value for c in app.caption)


def test_model_list_comes_from_the_server_and_falls_back(fake_api):
    fake_api.set_models(["claude-sonnet-4-6", "qwen-vl-max", "server-only-model"])
    at = new_app({"NEXUSCHAT_API_KEY": KEY, "NEXUSCHAT_BASE_URL": fake_api.base_url}).run()
    assert "server-only-model" in at.selectbox(key="w_model").options
    fake_api.fail_models(503)
    at.button(key="refresh-models").click().run()
    assert "server-only-model" not in at.selectbox(key="w_model").options
    assert "built-in list" in " ".join(c.value for c in at.caption)


def test_switching_to_a_text_only_model_sends_earlier_images_as_notes(app, fake_api):
    send(app, "a picture", ("p.png", png_bytes(), "image/png"))
    app.selectbox(key="w_model").select("qwen3.5-plus").run()
    assert "cannot read images" in " ".join(c.value for c in app.caption)
    send(app, "and in words?")
    last = fake_api.chat_requests()[-1]
    assert all(isinstance(m["content"], str) for m in last["messages"])
    assert "[image not shown to this model: p.png]" in last["messages"][0]["content"]
