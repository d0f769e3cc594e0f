"""The tools users define, kept per owner in the store: on a real SQLite file and a real
PostgreSQL (`database_url`)."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from nexuschat.store import MIGRATIONS, Store, make_engine, migrate, user_tools
from nexuschat.user_tools import MAX_TOOLS_PER_OWNER, UserTool

ALICE, BOB = "alice", "bob"
# Key order as typed (not sorted), and text that is not ASCII: both must come back as stored.
WEATHER = UserTool("weather", "Das Wetter · 天气", {
    "type": "object", "required": ["city"],
    "properties": {"city": {"type": "string", "description": "城市"},
                   "unit": {"enum": ["C", "F"]}}})
CLOCK = UserTool("clock", "", {"type": "object", "properties": {}})


@pytest.fixture
def store(database_url):
    with Store.open(database_url) as s:
        yield s


def test_a_saved_tool_comes_back_exactly(store):
    assert store.list_tools(ALICE) == []
    assert store.save_tool(ALICE, WEATHER) is None
    assert store.save_tool(ALICE, CLOCK) is None
    assert store.list_tools(ALICE) == [CLOCK, WEATHER]  # by name
    (_, weather) = store.list_tools(ALICE)
    assert list(weather.parameters) == ["type", "required", "properties"]


def test_saving_by_the_same_name_updates_it(store):
    store.save_tool(ALICE, WEATHER, now=100.0)
    changed = UserTool("weather", "Only the forecast", {"type": "object", "properties": {}})
    assert store.save_tool(ALICE, changed, now=200.0) is None
    assert store.list_tools(ALICE) == [changed]
    with store._engine.connect() as conn:
        row = conn.execute(sa.select(user_tools)).one()
    assert (row.created_at, row.updated_at) == (100.0, 200.0)


def test_renaming_keeps_one_row_and_refuses_another_tools_name(store):
    store.save_tool(ALICE, WEATHER)
    store.save_tool(ALICE, CLOCK)
    renamed = UserTool("forecast", WEATHER.description, WEATHER.parameters)
    assert store.save_tool(ALICE, renamed, old_name="weather") is None
    assert [t.name for t in store.list_tools(ALICE)] == ["clock", "forecast"]
    onto_clock = UserTool("clock", "would overwrite the clock", {"type": "object"})
    refused = store.save_tool(ALICE, onto_clock, old_name="forecast")
    assert (refused.code, refused.params) == ("tools.error.name_taken", {"name": "clock"})
    assert store.list_tools(ALICE) == [CLOCK, renamed]  # nothing changed


def test_renaming_a_tool_deleted_meanwhile_adds_what_was_typed(store):
    store.save_tool(ALICE, WEATHER)
    store.delete_tool(ALICE, "weather")  # another tab
    renamed = UserTool("forecast", "typed in the first tab", {"type": "object"})
    assert store.save_tool(ALICE, renamed, old_name="weather") is None
    assert store.list_tools(ALICE) == [renamed]


def test_delete(store):
    store.save_tool(ALICE, WEATHER)
    assert store.delete_tool(ALICE, "weather") is True
    assert store.delete_tool(ALICE, "weather") is False
    assert store.list_tools(ALICE) == []


def test_owners_see_and_change_only_their_own_tools(store):
    store.save_tool(ALICE, WEATHER)
    bobs = UserTool("weather", "Bob's own", {"type": "object"})
    assert store.save_tool(BOB, bobs) is None  # the same name is no clash across owners
    assert store.list_tools(ALICE) == [WEATHER] and store.list_tools(BOB) == [bobs]
    assert store.delete_tool(BOB, "weather") is True
    assert store.list_tools(ALICE) == [WEATHER]
    renamed = UserTool("mine", "", {"type": "object"})
    store.save_tool(BOB, renamed, old_name="weather")  # Bob's is gone: his new one is added
    assert store.list_tools(ALICE) == [WEATHER] and store.list_tools(BOB) == [renamed]


def test_an_owner_may_keep_at_most_the_limit(store):
    for i in range(3):
        assert store.save_tool(ALICE, UserTool(f"t{i}", "", {"type": "object"}), limit=3) is None
    refused = store.save_tool(ALICE, UserTool("t3", "", {"type": "object"}), limit=3)
    assert (refused.code, refused.params) == ("tools.error.limit", {"limit": 3})
    # At the limit, changing or renaming one still works, and other owners are not counted.
    assert store.save_tool(ALICE, UserTool("t0", "new", {"type": "object"}), limit=3) is None
    assert store.save_tool(ALICE, UserTool("u0", "", {"type": "object"}), old_name="t0",
                           limit=3) is None
    assert store.save_tool(BOB, UserTool("t3", "", {"type": "object"}), limit=3) is None
    assert [t.name for t in store.list_tools(ALICE)] == ["t1", "t2", "u0"]
    assert MAX_TOOLS_PER_OWNER == 32


def test_two_writers_at_the_limit_do_not_both_add(store):
    for i in range(MAX_TOOLS_PER_OWNER - 1):
        store.save_tool(ALICE, UserTool(f"t{i:02}", "", {"type": "object"}))
    start = threading.Barrier(4)
    results: list = []

    def add(name: str) -> None:
        start.wait()
        results.append(store.save_tool(ALICE, UserTool(name, "", {"type": "object"})))

    threads = [threading.Thread(target=add, args=(f"late{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(p is None for p in results) == [False, False, False, True]
    assert len(store.list_tools(ALICE)) == MAX_TOOLS_PER_OWNER


def test_an_older_database_gets_the_table_and_keeps_its_conversations(database_url):
    engine = make_engine(database_url)
    try:
        assert migrate(engine, MIGRATIONS[:3]) == 3  # the release before tools
        with engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO conversations (id, owner, title, title_search, system_prompt, "
                "model, params, leaf_id, created_at, updated_at) VALUES ('c1', 'alice', 't', "
                "'t', '', 'm', '{}', NULL, 1, 2)"))
        assert migrate(engine) == len(MIGRATIONS)
        columns = {c["name"] for c in sa.inspect(engine).get_columns("user_tools")}
        assert columns == set(user_tools.c.keys())
    finally:
        engine.dispose()
    with Store.open(database_url) as store:
        assert [c.id for c in store.list(ALICE)] == ["c1"]
        assert store.save_tool(ALICE, WEATHER) is None
        assert store.list_tools(ALICE) == [WEATHER]
