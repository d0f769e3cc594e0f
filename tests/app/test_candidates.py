"""`n` > 1 through AppTest: candidates side by side, each with its own finish; pick one to
continue; the others stay as versions; a one-choice model is told and sent one."""

from __future__ import annotations

import threading

from nexuschat.store import Store
from nexuschat.turns import INTERRUPTED
from tests.app.conftest import new_app, provider_secrets, send

THREE = {"kind": "reply", "texts": ["Red, like a fire truck.", "Green.", "A deep ocean blue."],
         "finish_reasons": ["stop", "length", "stop"]}


def texts(at) -> list[str]:
    return [m.value for m in at.markdown]


def captions(at) -> str:
    return " ".join(c.value for c in at.caption)


def picks(at) -> list:
    return [b for b in at.button if (b.key or "").startswith("pick-")]


def stored_replies(at) -> list:
    store = Store.open(at.secrets["NEXUSCHAT_DATABASE_URL"])
    tree = store.load_tree("local", at.query_params["c"])
    return [m for m in tree.messages if m.role == "assistant"], tree


def with_n(app, n: int):
    app.session_state["w_n"] = n
    return app


def test_three_candidates_stream_side_by_side_and_are_stored_as_siblings(app, fake_api):
    fake_api.script(THREE)
    send(with_n(app, 3), "a colour?")
    assert not app.exception
    assert fake_api.chat_requests()[-1]["n"] == 3
    shown = texts(app)
    for text in THREE["texts"]:
        assert text in shown
    assert len(picks(app)) == 3
    assert "Candidate 1 · shown" in captions(app) and "Candidate 3" in captions(app)
    assert "for all 3 candidates of the request" in captions(app)  # the usage, once
    assert captions(app).count("for all 3 candidates") == 1
    # Each candidate's own finish: only the second was cut at the token limit.
    assert [w.value for w in app.warning] == [
        "Stopped at the token limit (finish_reason: length)."]
    replies, tree = stored_replies(app)
    assert [r.content for r in replies] == THREE["texts"]
    assert len({r.parent_id for r in replies}) == 1  # siblings under the question
    assert [r.meta.candidate for r in replies] == [0, 1, 2]
    assert [r.meta.finish_reason for r in replies] == ["stop", "length", "stop"]
    assert all(r.status == "complete" for r in replies)
    assert tree.leaf_id == replies[0].id  # candidate 1 is the shown branch


def test_picking_candidate_two_continues_from_it(app, fake_api):
    fake_api.script(THREE, {"kind": "reply", "text": "Then green it is."})
    send(with_n(app, 3), "a colour?")
    picks(app)[1].click().run()
    assert not app.exception
    assert not picks(app)  # picked: one reply, with its versions
    assert "Green." in texts(app) and "Red, like a fire truck." not in texts(app)
    assert "2/3" in captions(app)
    with_n(app, 1)
    send(app, "why green?")
    sent = fake_api.chat_requests()[-1]
    assert "n" not in sent
    assert [m["content"] for m in sent["messages"]] == ["a colour?", "Green.", "why green?"]
    _, tree = stored_replies(app)
    assert tree.conversation.messages[1].content == "Green."


def test_before_picking_the_next_message_continues_from_candidate_one(app, fake_api):
    fake_api.script(THREE, {"kind": "reply", "text": "ok"})
    send(with_n(app, 3), "a colour?")
    with_n(app, 1)
    send(app, "and another?")
    assert not picks(app)  # the new message ends the side-by-side view
    sent = fake_api.chat_requests()[-1]["messages"]
    assert [m["content"] for m in sent] == ["a colour?", "Red, like a fire truck.",
                                           "and another?"]
    assert "1/3" in captions(app)  # the others are versions of that reply


def test_regenerate_with_n_makes_n_new_siblings(app, fake_api):
    fake_api.script({"kind": "reply", "text": "single"},
                    {"kind": "reply", "texts": ["again one", "again two"]})
    send(app, "question")
    with_n(app, 2)
    next(b for b in app.button if (b.key or "").startswith("regenerate-")).click().run()
    assert not app.exception
    assert len(picks(app)) == 2 and "again two" in texts(app)
    replies, _ = stored_replies(app)
    assert [r.content for r in replies] == ["single", "again one", "again two"]
    assert len({r.parent_id for r in replies}) == 1
    picks(app)[0].click().run()
    assert "2/3" in captions(app)


def test_a_new_session_shows_the_first_candidate_with_its_versions(app, fake_api, db_url):
    fake_api.script(THREE)
    send(with_n(app, 3), "a colour?")
    again = new_app(provider_secrets(fake_api, db_url))
    again.query_params["c"] = app.query_params["c"]
    again.run()
    assert not again.exception and not picks(again)
    assert "Red, like a fire truck." in texts(again) and "1/3" in captions(again)


def test_a_model_that_gives_one_choice_is_told_before_sending_and_sent_one(fake_api, db_url):
    fake_api.set_models(["claude-sonnet-4-6", "smollm-fake"])
    told = {"en": "gives one reply per request", "zh": "每次请求只生成一条回复"}
    for language, words in told.items():
        at = new_app(provider_secrets(fake_api, db_url))
        at.session_state["w_language"] = language
        at.run()
        at.selectbox(key="w_model").select("smollm-fake").run()
        with_n(at, 3).run()
        assert words in captions(at)  # before anything is sent
    send(at, "hello")
    assert not at.exception
    assert "n" not in fake_api.chat_requests()[-1]
    assert not picks(at)


def test_settings_offer_n_and_the_ceiling_per_candidate(fake_api, db_url):
    at = new_app(provider_secrets(fake_api, db_url, NEXUSCHAT_LIMIT_MAX_TOKENS="4096"))
    at.switch_page("app_pages/settings.py").run()
    control = at.number_input(key="w_n")
    assert (control.value, control.min, control.max) == (1, 1, 4)
    control.set_value(3).run()
    assert "each may write at most 1,365 tokens" in captions(at)
    sent = next(c.value for c in at.caption if c.value.startswith("Fields sent with each request"))
    assert "n" in sent.split(": ", 1)[1].split(", ")


def test_partial_saves_while_streaming_hold_every_candidate(app, fake_api):
    """Crash safety: mid-stream, the database has a row for each candidate, marked interrupted
    and holding what arrived (watched from another thread while the turn runs)."""
    fake_api.script({"kind": "reply", "tokens": 60, "tokens_per_second": 30})
    store = Store.open(app.secrets["NEXUSCHAT_DATABASE_URL"])
    seen: list[list] = []
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            for summary in store.list("local"):
                tree = store.load_tree("local", summary.id)
                replies = [m for m in tree.messages if m.role == "assistant"]
                if len(replies) == 2 and all(m.meta.error_code == INTERRUPTED and m.content
                                             for m in replies):
                    seen.append(replies)
                    return
            done.wait(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        send(with_n(app, 2), "count")
    finally:
        done.set()
        watcher.join()
    assert seen, "no partial save held both candidates"
    assert len({m.parent_id for m in seen[0]}) == 1
    replies, tree = stored_replies(app)
    assert [r.status for r in replies] == ["complete", "complete"]  # then the final save
    assert replies[1].content.endswith("(choice 1)")
    assert tree.leaf_id == replies[0].id  # the first candidate stays the shown one


def test_candidates_come_from_the_first_request_of_a_tool_turn_only(app, fake_api):
    # The model (candidate 1) calls the calculator: the loop goes on with that candidate, and
    # the request after the tool results asks for one reply, not n again.
    send(with_n(app, 2), "Please calculate 6*7")
    assert not app.exception
    first, second = fake_api.chat_requests()
    assert first["n"] == 2 and "tools" in first
    assert "n" not in second
    assert second["messages"][-1]["content"] == "42"
    assert any("The tools answered: 42." in m.value for m in app.markdown)
