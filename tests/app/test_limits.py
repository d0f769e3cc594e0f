"""The deploy's limits in the page: each, when met, says which limit, its number and when it
resets, in the user's language, and keeps the message (text and images) to send later."""

from __future__ import annotations

import io
import time

from PIL import Image

from nexuschat.store import Store
from tests.app.conftest import all_text, new_app, png_bytes, provider_secrets, send

VISITOR_KEY = "sk-visitor-limits-3333333"


def limited(fake_api, db_url: str, mode: str = "hosted", allow_user_keys: str = "",
            **limits: str):
    secrets = provider_secrets(fake_api, db_url, NEXUSCHAT_MODE=mode,
                               NEXUSCHAT_ALLOW_USER_KEYS=allow_user_keys,
                               **{f"NEXUSCHAT_LIMIT_{k.upper()}": v for k, v in limits.items()})
    return new_app(secrets).run()


def noise_png(size=(400, 300)) -> bytes:
    """A PNG that does not compress away (unlike a flat colour)."""
    out = io.BytesIO()
    Image.effect_noise(size, 100).convert("RGB").save(out, "PNG")
    return out.getvalue()


def warnings(at) -> str:
    return " ".join(w.value for w in at.warning)


def held_text(at) -> str:
    return " ".join(m.value for m in at.markdown)


def test_requests_per_minute_hold_the_next_message_with_when_it_resets(fake_api, db_url):
    at = limited(fake_api, db_url, requests_per_minute="2")
    send(at, "one")
    send(at, "two")
    send(at, "three, kept for later")
    assert not at.exception
    assert len(fake_api.chat_requests()) == 2
    said = warnings(at)
    assert "You have sent 2 requests in the last minute" in said
    assert "It resets in" in said
    assert "three, kept for later" in held_text(at)
    assert at.button(key="send-draft")  # to send when it resets


def test_the_same_limit_in_chinese(fake_api, db_url):
    at = new_app(provider_secrets(fake_api, db_url, NEXUSCHAT_MODE="hosted",
                                  NEXUSCHAT_LIMIT_REQUESTS_PER_MINUTE="1"))
    at.session_state["w_language"] = "zh"
    at.run()
    send(at, "一")
    send(at, "二")
    said = warnings(at)
    assert "过去一分钟内已发送 1 个请求" in said and "后重置" in said


def test_tokens_per_day_count_the_deploys_key_only(fake_api, db_url):
    at = limited(fake_api, db_url, tokens_per_day="5")
    send(at, "spend some tokens please")  # the fake API reports more than 5 in all
    send(at, "and more")
    assert len(fake_api.chat_requests()) == 1
    assert "today's 5 tokens" in warnings(at) and "midnight UTC" in warnings(at)

    own = limited(fake_api, db_url, tokens_per_day="5", allow_user_keys="true")
    own.text_input(key="w_api_key").input(VISITOR_KEY).run()
    send(own, "on my own key")
    send(own, "and again")
    assert "today's" not in warnings(own)
    assert len(fake_api.chat_requests()) == 3


def test_concurrent_streams_count_replies_still_being_written(fake_api, db_url):
    at = limited(fake_api, db_url, mode="local", concurrent_streams="1")
    with Store.open(db_url) as store:  # a reply of this owner's being written elsewhere
        open_row = store.admit("local", lambda usage: None, model="m", deploy_key=True)
    send(at, "while another streams")
    assert "Replies being written for you right now: 1" in warnings(at)
    assert fake_api.chat_requests() == []
    with Store.open(db_url) as store:
        store.finish_request("local", open_row, status="complete")
    at.button(key="send-draft").click().run()
    assert "Echo: while another streams" in held_text(at)


def test_too_many_images_keep_the_first_ones_and_name_the_rest(fake_api, db_url):
    at = limited(fake_api, db_url, images_per_message="1")
    send(at, "compare", ("a.png", png_bytes(), "image/png"),
         ("b.png", png_bytes(color=(0, 0, 255)), "image/png"))
    assert fake_api.chat_requests() == []
    said = warnings(at)
    assert "This message has 2 images; this app takes at most 1 per message." in said
    assert "Not read: b.png." in said
    assert len(at.image) == 1
    at.button(key="send-draft").click().run()
    (body,) = fake_api.chat_requests()
    assert [p["type"] for p in body["messages"][0]["content"]] == ["text", "image_url"]


def test_files_over_the_upload_limit_are_not_read(fake_api, db_url):
    at = limited(fake_api, db_url, upload_mb="0.001")
    big = noise_png()
    assert len(big) > 1100
    send(at, "look at this", ("big.png", big, "image/png"))
    said = warnings(at)
    assert "this app takes at most 0.001 MB per message" in said and "Not read: big.png" in said
    assert not at.image and fake_api.chat_requests() == []
    at.button(key="send-text-only").click().run()
    assert fake_api.chat_requests()[0]["messages"][-1]["content"] == "look at this"


def test_a_message_over_the_length_limit_is_kept_whole(fake_api, db_url):
    at = limited(fake_api, db_url, message_chars="10")
    text = "a message of forty-one characters, really"
    send(at, text)  # pasted whole: held whole (a browser-side cap would cut it silently)
    assert "This message has 41 characters; this app takes at most 10" in warnings(at)
    assert text in held_text(at)
    assert fake_api.chat_requests() == []
    assert not [b for b in at.button if b.key == "send-draft"]


def test_an_edit_over_the_length_limit_is_not_sent(fake_api, db_url):
    at = limited(fake_api, db_url, message_chars="10")
    send(at, "short")
    question = next(b for b in at.button if b.key and b.key.startswith("edit-"))
    question.click().run()
    editor = next(a for a in at.text_area if a.key and a.key.startswith("edit-text-"))
    editor.input("far too long for this app").run()
    next(b for b in at.button if b.key and b.key.startswith("send-edit-")).click().run()
    assert "this app takes at most 10" in warnings(at)
    assert len(fake_api.chat_requests()) == 1


def test_max_tokens_is_capped_on_the_deploys_key(fake_api, db_url):
    at = limited(fake_api, db_url, max_tokens="300", allow_user_keys="true")
    send(at, "default length")
    at.session_state["w_max_tokens"] = 100_000
    send(at, "asked for a lot")
    assert [r.get("max_tokens") for r in fake_api.chat_requests()] == [300, 300]
    at.switch_page("app_pages/settings.py").run()
    assert "This app caps each reply at 300 tokens." in all_text(at)
    # The input cannot go past the ceiling: a value above it comes down to it.
    assert at.number_input(key="w_max_tokens").value == 300
    at.switch_page("app_pages/chat.py").run()
    at.text_input(key="w_api_key").input(VISITOR_KEY).run()
    at.session_state["w_max_tokens"] = 100_000  # own key: within the model's 128,000
    send(at, "my own key, my own limit")
    assert fake_api.chat_requests()[-1]["max_tokens"] == 100_000


def test_a_limit_met_by_a_regenerate_shows_on_the_reply_with_retry(fake_api, db_url):
    at = limited(fake_api, db_url, requests_per_minute="1")
    send(at, "only one a minute")
    next(b for b in at.button if b.key and b.key.startswith("regenerate-")).click().run()
    errors = " ".join(e.value for e in at.error)
    assert "You have sent 1 request in the last minute" in errors and "resets in" in errors
    assert [b for b in at.button if b.key and b.key.startswith("retry-")]
    assert len(fake_api.chat_requests()) == 1
    assert time.time()  # (the reset time is in the message; no clock is asserted)
