"""A database that fails for good is said plainly, not called "busy"; nothing typed is lost."""

from __future__ import annotations

import sqlalchemy as sa

from tests.app.conftest import new_app, provider_secrets, send


def break_schema(db_url: str) -> None:
    """A schema bug behind the app's back: the messages table is gone."""
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE message_images"))
        conn.execute(sa.text("DROP TABLE messages"))
    engine.dispose()


def test_a_broken_database_says_so_and_keeps_the_message(fake_api, db_url):
    at = new_app(provider_secrets(fake_api, db_url)).run()
    send(at, "first, saved")
    break_schema(db_url)
    send(at, "second, not saved")
    assert not at.exception
    errors = " ".join(e.value for e in at.error)
    assert "not in the shape this version of NexusChat expects" in errors
    assert "busy" not in errors
    assert "second, not saved" in " ".join(m.value for m in at.markdown)  # held, to send again
    assert at.button(key="send-draft")
    assert len(fake_api.chat_requests()) == 1  # nothing was sent without being saved


def test_in_chinese_too(fake_api, db_url):
    at = new_app(provider_secrets(fake_api, db_url))
    at.session_state["w_language"] = "zh"
    at.run()
    send(at, "先保存")
    break_schema(db_url)
    send(at, "再试")
    assert "结构与此版本的 NexusChat 不符" in " ".join(e.value for e in at.error)
