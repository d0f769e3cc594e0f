"""The settings page through AppTest, and what its values do to requests."""

from __future__ import annotations

from tests.app.conftest import image_captions, png_bytes, send


def open_settings(at):
    return at.switch_page("app_pages/settings.py").run()


def back_to_chat(at):
    return at.switch_page("app_pages/chat.py").run()


def test_settings_page_runs_and_sends_nothing_by_default(app):
    open_settings(app)
    assert not app.exception
    assert "No optional fields are sent" in " ".join(c.value for c in app.caption)


def test_set_fields_are_sent_and_only_those(app, fake_api):
    open_settings(app)
    app.radio(key="w_sampling").set_value("temperature").run()
    app.number_input(key="w_temperature").set_value(0.3).run()
    app.number_input(key="w_max_tokens").set_value(64).run()
    app.text_area(key="w_stop").input("END\nSTOP").run()
    app.number_input(key="w_seed").set_value(7).run()
    app.text_input(key="w_user").input("user-42").run()
    assert "temperature, max_tokens, stop, seed, user" in " ".join(c.value for c in app.caption)
    back_to_chat(app)
    send(app, "with params")
    (body,) = fake_api.chat_requests()
    assert body["temperature"] == 0.3 and body["max_tokens"] == 64
    assert body["stop"] == ["END", "STOP"] and body["seed"] == 7 and body["user"] == "user-42"
    assert "top_p" not in body and "presence_penalty" not in body


def test_top_p_replaces_temperature(app, fake_api):
    open_settings(app)
    app.radio(key="w_sampling").set_value("top_p").run()
    app.number_input(key="w_top_p").set_value(0.5).run()
    back_to_chat(app)
    send(app, "nucleus")
    (body,) = fake_api.chat_requests()
    assert body["top_p"] == 0.5 and "temperature" not in body


def test_out_of_range_values_are_explained_and_hold_the_message(app, fake_api):
    open_settings(app)
    app.radio(key="w_sampling").set_value("temperature").run()
    app.number_input(key="w_temperature").set_value(2.0).run()
    app.text_area(key="w_stop").input("a\nb\nc\nd\ne").run()
    errors = " ".join(e.value for e in app.error)
    assert "temperature must be at least 0 and below 2" in errors
    assert "At most 4 stop sequences" in errors
    back_to_chat(app)
    send(app, "please answer")
    assert fake_api.chat_requests() == []
    assert "kept but not sent" in " ".join(e.value for e in app.error)
    assert any("please answer" in m.value for m in app.markdown)
    open_settings(app)
    app.number_input(key="w_temperature").set_value(1.0).run()
    app.text_area(key="w_stop").input("a").run()
    back_to_chat(app)
    app.button(key="send-draft").click().run()
    (body,) = fake_api.chat_requests()
    assert body["temperature"] == 1.0 and body["stop"] == ["a"]


def test_settings_survive_switching_pages(app):
    open_settings(app)
    app.number_input(key="w_max_tokens").set_value(99).run()
    back_to_chat(app)
    open_settings(app)
    assert app.number_input(key="w_max_tokens").value == 99


def test_economy_preset_shrinks_images_further(app, fake_api):
    open_settings(app)
    app.radio(key="w_preset").set_value("economy").run()
    back_to_chat(app)
    send(app, "small please", ("big.png", png_bytes((2000, 1000)), "image/png"))
    assert "768×384" in image_captions(app)


def test_a_capability_override_lets_a_model_see(app, fake_api):
    app.selectbox(key="w_model").select("text-only-model").run()
    open_settings(app)
    app.selectbox(key="w_caps_model").select("text-only-model").run()
    app.toggle(key="caps-vision-text-only-model").set_value(True).run()
    back_to_chat(app)
    send(app, "now you can see", ("x.png", png_bytes(), "image/png"))
    (body,) = fake_api.chat_requests()
    assert body["model"] == "text-only-model"
    assert body["messages"][0]["content"][1]["type"] == "image_url"


def test_images_can_be_reviewed_before_they_are_sent(app, fake_api):
    open_settings(app)
    app.toggle(key="w_review_images").set_value(True).run()
    back_to_chat(app)
    send(app, "check first", ("big.png", png_bytes((3136, 1000)), "image/png"))
    assert fake_api.chat_requests() == []
    assert "1568×500" in image_captions(app)
    app.button(key="send-draft").click().run()
    (body,) = fake_api.chat_requests()
    assert body["messages"][0]["content"][1]["type"] == "image_url"
    assert not app.info or "Check the images" not in " ".join(i.value for i in app.info)
