"""History through AppTest: conversations survive a new session, branch, and stay private."""

from __future__ import annotations

import json

from tests.app.conftest import KEY, image_captions, new_app, png_bytes, provider_secrets, send


def reopen(fake_api, db_url, conversation_id, **extra):
    """A brand-new session (a reload, another tab, a restarted server) opening ?c=<id>."""
    at = new_app(provider_secrets(fake_api, db_url, **extra))
    at.query_params["c"] = conversation_id
    return at.run()


def texts(at) -> list[str]:
    return [m.value for m in at.markdown]


def test_a_reload_brings_back_the_conversation_with_images_and_settings(app, fake_api, db_url):
    app.text_area(key="w_system_prompt").input("Be terse.").run()
    app.selectbox(key="w_model").select("qwen-vl-max").run()
    send(app, "what is this", ("dot.png", png_bytes((900, 300)), "image/png"))
    conversation_id = app.query_params["c"]
    assert conversation_id

    again = reopen(fake_api, db_url, conversation_id if isinstance(conversation_id, str)
                   else conversation_id[0])
    assert not again.exception
    assert "what is this" in texts(again)
    assert "Echo: what is this [images: 1]" in texts(again)
    assert len(again.image) == 1
    assert "900×300" in image_captions(again)
    assert "total tokens" in " ".join(c.value for c in again.caption)
    assert again.text_area(key="w_system_prompt").value == "Be terse."
    assert again.selectbox(key="w_model").value == "qwen-vl-max"
    send(again, "and now?")
    last = fake_api.chat_requests()[-1]
    assert [m["role"] for m in last["messages"]] == ["system", "user", "assistant", "user"]
    assert last["messages"][1]["content"][1]["type"] == "image_url"


def test_an_unknown_or_foreign_id_starts_fresh_with_a_notice(fake_api, db_url):
    at = reopen(fake_api, db_url, "no-such-conversation")
    assert not at.exception
    assert "does not exist" in " ".join(w.value for w in at.warning)


def test_hosted_sessions_cannot_open_each_others_conversations(fake_api, db_url):
    hosted = {"NEXUSCHAT_MODE": "hosted"}
    alice = new_app(provider_secrets(fake_api, db_url, **hosted)).run()
    send(alice, "alice's secret plan")
    conversation_id = alice.query_params["c"]
    bob = reopen(fake_api, db_url, conversation_id, **hosted)
    assert "alice's secret plan" not in texts(bob)
    assert "does not exist" in " ".join(w.value for w in bob.warning)
    bob.switch_page("app_pages/conversations.py").run()
    assert "alice" not in " ".join(b.label for b in bob.button)


def test_conversations_page_lists_searches_and_opens(app, fake_api):
    send(app, "first topic about zebras")
    app.button(key="new-chat").click().run()
    send(app, "second topic about 熊猫")
    app.switch_page("app_pages/conversations.py").run()
    titles = [b.label for b in app.button if (b.key or "").startswith("open-")]
    assert titles == ["second topic about 熊猫", "first topic about zebras"]  # newest first
    app.text_input(key="conversation-search").input("熊猫").run()
    titles = [b.label for b in app.button if (b.key or "").startswith("open-")]
    assert titles == ["second topic about 熊猫"]
    app.text_input(key="conversation-search").input("").run()
    opener = next(b for b in app.button if b.label == "first topic about zebras")
    opener.click().run()
    assert "first topic about zebras" in texts(app)
    assert "second topic about 熊猫" not in texts(app)


def test_rename_from_the_conversations_page(app, fake_api):
    send(app, "to be renamed")
    conversation_id = app.query_params["c"]
    app.switch_page("app_pages/conversations.py").run()
    app.text_input(key=f"rename-text-{conversation_id}").input("Renamed chat").run()
    app.button(key=f"rename-{conversation_id}").click().run()
    assert "Renamed chat" in [b.label for b in app.button]


def test_edit_creates_a_branch_and_the_request_follows_the_shown_path(app, fake_api):
    send(app, "original question")
    send(app, "follow up")
    first_user = next(b for b in app.button if (b.key or "").startswith("edit-"))
    first_user.click().run()
    editor = next(a for a in app.text_area if (a.key or "").startswith("edit-text-"))
    editor.input("edited question").run()
    next(b for b in app.button if (b.key or "").startswith("send-edit-")).click().run()
    assert not app.exception
    sent = fake_api.chat_requests()[-1]["messages"]
    assert [m["content"] for m in sent] == ["edited question"]
    assert "1/2" not in " ".join(c.value for c in app.caption)
    assert "2/2" in " ".join(c.value for c in app.caption)
    assert "follow up" not in texts(app)
    prev = next(b for b in app.button if (b.key or "").startswith("prev-"))
    prev.click().run()
    assert "original question" in texts(app) and "follow up" in texts(app)
    assert "1/2" in " ".join(c.value for c in app.caption)
    send(app, "continue the old branch")
    sent = fake_api.chat_requests()[-1]["messages"]
    assert [m["content"] for m in sent if m["role"] == "user"] == [
        "original question", "follow up", "continue the old branch"]


def test_regenerate_makes_a_sibling_reply(app, fake_api):
    fake_api.script({"kind": "reply", "text": "first answer"},
                    {"kind": "reply", "text": "second answer"})
    send(app, "question")
    next(b for b in app.button if (b.key or "").startswith("regenerate-")).click().run()
    assert "second answer" in texts(app) and "first answer" not in texts(app)
    assert "2/2" in " ".join(c.value for c in app.caption)
    sent = fake_api.chat_requests()[-1]["messages"]
    assert [m["role"] for m in sent] == ["user"]
    next(b for b in app.button if (b.key or "").startswith("prev-")).click().run()
    assert "first answer" in texts(app)


def test_export_json_then_import_gives_the_same_conversation(app, fake_api):
    send(app, "export me", ("e.png", png_bytes(), "image/png"))
    conversation_id = app.query_params["c"]
    from components import persistence  # noqa: F401 - the same store the app used
    from nexuschat import exports
    from nexuschat.store import Store

    store = Store.open(app.secrets["NEXUSCHAT_DATABASE_URL"])
    exported = exports.to_json(store.load_tree("local", conversation_id))
    assert KEY.encode() not in exported
    app.switch_page("app_pages/conversations.py").run()
    app.file_uploader(key="import-file").set_value(("chat.json", exported,
                                                    "application/json")).run()
    assert not app.exception
    assert "Imported" in " ".join(s.value for s in app.success)
    titles = [b.label for b in app.button if (b.key or "").startswith("open-")]
    assert titles.count("export me") == 2


def test_importing_a_plain_openai_messages_array(app, fake_api):
    messages = [{"role": "system", "content": "sys"},
                {"role": "user", "content": "imported question"},
                {"role": "assistant", "content": "imported answer"}]
    app.switch_page("app_pages/conversations.py").run()
    app.file_uploader(key="import-file").set_value(
        ("messages.json", json.dumps(messages).encode(), "application/json")).run()
    assert "Imported imported question. It is open on the Chat page." in " ".join(
        s.value for s in app.success)
    app.switch_page("app_pages/chat.py").run()
    assert texts(app)[:2] == ["imported question", "imported answer"]
    assert app.text_area(key="w_system_prompt").value == "sys"


def test_a_bad_import_file_is_explained(app):
    app.switch_page("app_pages/conversations.py").run()
    app.file_uploader(key="import-file").set_value(("x.json", b"{nope", "application/json")).run()
    assert not app.exception
    assert [e.value for e in app.error] == [
        "The file is not JSON text (UTF-8), so it cannot be imported."]


def test_delete_asks_first_then_removes_the_conversation(app, fake_api):
    send(app, "short lived")
    conversation_id = app.query_params["c"]
    app.switch_page("app_pages/conversations.py").run()
    app.button(key=f"delete-{conversation_id}").click().run()
    assert "cannot be undone" in " ".join(m.value for m in app.markdown)
    app.button(key="delete-cancelled").click().run()
    assert any(b.label == "short lived" for b in app.button)
    app.button(key=f"delete-{conversation_id}").click().run()
    app.button(key="delete-confirmed").click().run()
    assert not any(b.label == "short lived" for b in app.button)
    assert "No conversations yet" in " ".join(c.value for c in app.caption)


def test_long_conversations_draw_the_latest_messages_and_more_on_demand(fake_api, db_url):
    from nexuschat.conversation import Conversation, Message, ReplyMeta
    from nexuschat.store import Store

    messages = []
    for i in range(50):
        messages.append(Message("user", f"question {i}"))
        messages.append(Message("assistant", f"answer {i}", meta=ReplyMeta(model="m")))
    store = Store.open(db_url)
    conversation = Conversation()
    store.create("local", Conversation(id=conversation.id, messages=tuple(messages)))
    at = reopen(fake_api, db_url, conversation.id)
    assert "answer 49" in texts(at) and "question 30" in texts(at)
    assert "question 29" not in texts(at)
    at.button(key="show-earlier").click().run()
    assert "question 10" in texts(at) and "question 9" not in texts(at)
    at.button(key="show-earlier").click().run()
    assert "question 0" in texts(at)
    assert not [b for b in at.button if b.key == "show-earlier"]
    send(at, "one more")
    sent = fake_api.chat_requests()[-1]["messages"]
    assert len(sent) == 101  # the request always carries the whole branch
