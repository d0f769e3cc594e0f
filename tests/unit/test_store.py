"""The conversation store, against a real SQLite file and a real PostgreSQL (`database_url`)."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest
import sqlalchemy as sa

from nexuschat.conversation import (
    Conversation,
    ConversationTree,
    Message,
    ReplyMeta,
    ToolCall,
    ToolResult,
)
from nexuschat.images import PreparedImage
from nexuschat.store import (
    BUSY_RETRY,
    MIGRATIONS,
    BusyRetry,
    NotFound,
    SchemaTooNew,
    Store,
    StoreBusy,
    StoreError,
    accounts,
    conversations,
    default_database_url,
    images,
    make_engine,
    message_images,
    messages,
    meta_from_json,
    meta_to_json,
    migrate,
    normalize_url,
    request_log,
    retry_busy,
    schema_version,
)

ALICE, BOB = "alice", "bob"


def image(seed: int, name: str = "a.png", mime: str = "image/png") -> PreparedImage:
    data = bytes((seed + i) % 256 for i in range(3000)) + b"\x00\xff\x00"  # NULs, high bytes
    return PreparedImage(data=data, mime=mime, width=30 + seed, height=20, name=name,
                         source_bytes=123_456 + seed, source_width=3000, source_height=2000)


META = ReplyMeta(model="m-1", finish_reason="length", prompt_tokens=12, completion_tokens=34,
                 total_tokens=46, ttft_s=0.1 + 0.2, duration_s=1 / 3, status="error",
                 error_code="error.rate_limited",
                 error_params={"retry_after": 2.5, "detail": None, "tries": [1, 2], "名": "值"})


def chat(*texts: str, **fields) -> Conversation:
    """A path alternating user / assistant turns, parent links made by append()."""
    conv = Conversation(**fields)
    for i, text in enumerate(texts):
        conv = conv.append(Message("user" if i % 2 == 0 else "assistant", text))
    return conv


@pytest.fixture
def store(database_url):
    with Store.open(database_url) as s:
        yield s


def count_rows(database_url: str, table: str) -> int:
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
    finally:
        engine.dispose()


# --- plain data ---------------------------------------------------------------------------


def test_meta_json_round_trips_exactly():
    import json

    for meta in (META, ReplyMeta(), None):
        assert meta_from_json(json.loads(json.dumps(meta_to_json(meta)))) == meta
    assert meta_from_json({"model": "x", "added_later": 1}) == ReplyMeta(model="x")


def test_default_url_is_a_sqlite_file_in_the_data_dir(tmp_path):
    assert default_database_url({"NEXUSCHAT_DATABASE_URL": "postgresql://x/y"}) == (
        "postgresql://x/y")
    explicit = tmp_path / "explicit"
    assert default_database_url({"NEXUSCHAT_DATA_DIR": str(explicit)}) == (
        f"sqlite:///{explicit}/nexuschat.sqlite3")
    assert explicit.is_dir()
    assert default_database_url({"XDG_DATA_HOME": str(tmp_path / "xdg")}) == (
        f"sqlite:///{tmp_path}/xdg/nexuschat/nexuschat.sqlite3")
    assert normalize_url("postgres://u:p@h/db").drivername == "postgresql+psycopg"


def test_open_without_a_url_uses_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("NEXUSCHAT_DATABASE_URL", raising=False)
    monkeypatch.setenv("NEXUSCHAT_DATA_DIR", str(tmp_path / "data"))
    with Store.open() as store:
        store.create(ALICE, chat("hi"))
        assert "data/nexuschat.sqlite3" in repr(store)
    assert (tmp_path / "data" / "nexuschat.sqlite3").is_file()


def test_sqlite_uses_wal_foreign_keys_and_a_busy_timeout(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'p.sqlite3'}")
    with engine.connect() as conn:
        pragma = {name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
                  for name in ("journal_mode", "foreign_keys", "busy_timeout")}
    engine.dispose()
    assert pragma["journal_mode"] == "wal" and pragma["foreign_keys"] == 1
    assert pragma["busy_timeout"] > 0
    with pytest.raises(ValueError):
        make_engine("sqlite://")


# --- round trips --------------------------------------------------------------------------


def test_round_trip_keeps_images_meta_attempts_and_settings(store):
    pictures = (image(1), image(2, "b.jpg", "image/jpeg"))
    first = Message("user", "What are these?\nTwo pictures.", images=pictures)
    conv = Conversation(system_prompt="Be brief.", model="claude", title="",
                        params={"temperature": 0.7, "stop": ["x"], "seed": None},
                        created_at=1000.5, updated_at=1001.25)
    conv = conv.append(first).append(
        Message("assistant", "Cats.", meta=META, earlier_attempts=("partial", "again")))
    store.create(ALICE, conv)

    loaded = store.load(ALICE, conv.id)
    assert loaded == replace(conv, title="What are these?")
    assert loaded.messages[0].images[0].data == image(1).data
    assert loaded.messages[1].meta == META and loaded.messages[1].meta.ttft_s == 0.1 + 0.2


def test_a_path_without_parent_links_is_chained(store):
    conv = Conversation(messages=(Message("user", "a"), Message("assistant", "b")))
    store.create(ALICE, conv)
    loaded = store.load(ALICE, conv.id)
    assert loaded.messages[1].parent_id == loaded.messages[0].id
    with pytest.raises(ValueError):
        store.create(ALICE, conv)  # the id is taken


def test_add_message_moves_the_leaf_titles_and_bumps_updated_at(store):
    conv = Conversation(updated_at=5.0)
    store.create(ALICE, conv)
    assert store.load(ALICE, conv.id).messages == ()
    pic = Message("user", "", images=(image(3),))
    store.add_message(ALICE, conv.id, pic)
    assert store.list(ALICE)[0].title == ""  # an image alone gives no title
    question = Message("user", "Why is the sky blue?", parent_id=pic.id)
    store.add_message(ALICE, conv.id, question)
    store.add_message(ALICE, conv.id, Message("user", "Another", parent_id=question.id))
    loaded = store.load(ALICE, conv.id)
    assert [m.content for m in loaded.messages] == ["", "Why is the sky blue?", "Another"]
    assert loaded.messages[0].images == (image(3),)
    assert loaded.title == "Why is the sky blue?" and loaded.updated_at > 5.0
    with pytest.raises(NotFound):
        store.add_message(ALICE, conv.id, Message("user", "x", parent_id="no-such-message"))
    with pytest.raises(ValueError):
        store.add_message(ALICE, conv.id, replace(question, content="same id"))
    assert store.load(ALICE, conv.id).messages[1] == question


def test_many_partial_saves_leave_the_last_one(store, database_url):
    conv = chat("Tell me a story")
    store.create(ALICE, conv)
    reply = Message("assistant", "", parent_id=conv.last.id)
    store.add_message(ALICE, conv.id, reply)
    text = ""
    for i in range(200):
        text += f"word{i} "
        partial = ReplyMeta(status="error", error_code="error.interrupted")
        store.save_message(ALICE, conv.id, replace(reply, content=text, meta=partial))
    final = replace(reply, content=text, meta=META, earlier_attempts=("first try",))
    store.save_message(ALICE, conv.id, final)
    assert store.load(ALICE, conv.id).messages[-1] == final
    assert count_rows(database_url, "messages") == 2
    assert store.list(ALICE, "word199")[0].id == conv.id  # the search text follows the saves
    with pytest.raises(NotFound):
        store.save_message(ALICE, conv.id, Message("assistant", "never stored"))


# --- branches -----------------------------------------------------------------------------


def branched(store) -> tuple[Conversation, dict[str, Message]]:
    """q1 -> a1 -> q2 -> {a2, a2b (regenerated)}, and q2 edited as q2x -> a2x."""
    conv = chat("q1", "a1", "q2", "a2")
    store.create(ALICE, conv)
    q1, a1, q2, a2 = conv.messages
    a2b = Message("assistant", "a2b", parent_id=q2.id)
    q2x = Message("user", "q2x", parent_id=a1.id)
    a2x = Message("assistant", "a2x", parent_id=q2x.id)
    for m in (a2b, q2x, a2x):
        store.add_message(ALICE, conv.id, m)
    return conv, {"q1": q1, "a1": a1, "q2": q2, "a2": a2, "a2b": a2b, "q2x": q2x, "a2x": a2x}


def test_branches_siblings_and_leaf_choice(store):
    conv, m = branched(store)
    shown = store.load(ALICE, conv.id)  # the stored leaf: the last added message
    assert [x.content for x in shown.messages] == ["q1", "a1", "q2x", "a2x"]
    assert shown.siblings == {m["q2x"].id: (m["q2"].id, m["q2x"].id)}

    other = store.load(ALICE, conv.id, leaf_id=m["a2"].id)
    assert [x.content for x in other.messages] == ["q1", "a1", "q2", "a2"]
    assert other.siblings == {m["q2"].id: (m["q2"].id, m["q2x"].id),
                              m["a2"].id: (m["a2"].id, m["a2b"].id)}
    assert store.load(ALICE, conv.id, leaf_id="unknown") == shown

    # Moving to sibling q2 shows its latest reply; set_leaf makes that stick.
    leaf = store.latest_leaf_under(ALICE, conv.id, m["q2"].id)
    assert leaf == m["a2b"].id
    assert store.latest_leaf_under(ALICE, conv.id, m["a2x"].id) == m["a2x"].id
    assert store.latest_leaf_under(ALICE, conv.id, m["q1"].id) == m["a2x"].id
    store.set_leaf(ALICE, conv.id, leaf)
    assert [x.content for x in store.load(ALICE, conv.id).messages] == ["q1", "a1", "q2", "a2b"]
    with pytest.raises(NotFound):
        store.set_leaf(ALICE, conv.id, "unknown")
    with pytest.raises(NotFound):
        store.latest_leaf_under(ALICE, conv.id, "unknown")


def test_editing_the_first_message_makes_root_siblings(store):
    conv = chat("first", "reply")
    store.create(ALICE, conv)
    edited = Message("user", "first, edited")  # no parent: another root
    store.add_message(ALICE, conv.id, edited)
    loaded = store.load(ALICE, conv.id)
    assert loaded.messages == (edited,)
    assert loaded.siblings == {edited.id: (conv.messages[0].id, edited.id)}


def test_a_leaf_pointing_nowhere_shows_the_latest_message(store, database_url):
    conv = chat("a", "b", "c")
    store.create(ALICE, conv)
    engine = make_engine(database_url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE conversations SET leaf_id = 'gone'"))
    engine.dispose()
    assert store.load(ALICE, conv.id).messages == conv.messages
    assert store.load_tree(ALICE, conv.id).leaf_id == conv.last.id


def test_load_tree_and_create_from_tree_keep_every_branch(store):
    conv, m = branched(store)
    store.add_message(ALICE, conv.id, Message("user", "pic", images=(image(7),),
                                              parent_id=m["a2x"].id))
    tree = store.load_tree(ALICE, conv.id)
    assert [x.content for x in tree.messages] == ["q1", "a1", "q2", "a2", "a2b", "q2x", "a2x",
                                                  "pic"]
    assert tree.leaf_id == tree.messages[-1].id
    assert tree.conversation == store.load(ALICE, conv.id)
    assert tree.messages[-1].images == (image(7),)

    # Importing it again (same ids) gets a new conversation id; anyone may import it.
    copy_id = store.create_from_tree(ALICE, tree)
    assert copy_id != conv.id
    copy = store.load_tree(ALICE, copy_id)
    assert copy.messages == tree.messages and copy.leaf_id == tree.leaf_id
    assert copy.conversation == replace(tree.conversation, id=copy_id)
    bobs = store.create_from_tree(BOB, replace(tree, leaf_id=m["a2b"].id))
    assert store.load(BOB, bobs).messages[-1].content == "a2b"

    fresh = chat("x", "y")
    tree2 = ConversationTree(conversation=fresh, messages=fresh.messages, leaf_id=None)
    assert store.create_from_tree(BOB, tree2) == fresh.id
    with pytest.raises(ValueError):
        store.create_from_tree(BOB, replace(tree2, messages=(Message("user", "orphan",
                                                                     parent_id="nope"),)))


# --- listing and search -------------------------------------------------------------------


def test_list_is_newest_first_with_counts_and_snippets(store):
    old = chat("Old question", "Old answer", updated_at=100.0)
    new = chat("New question", "New answer\nwith lines", "follow", updated_at=200.0)
    mid = chat("Mid", updated_at=150.0)
    for conv in (old, new, mid):
        store.create(ALICE, conv)
    listed = store.list(ALICE)
    assert [s.id for s in listed] == [new.id, mid.id, old.id]
    assert [s.message_count for s in listed] == [3, 1, 2]
    assert listed[0].title == "New question" and listed[0].snippet == "follow"
    assert listed[0].updated_at == 200.0
    assert [s.id for s in store.list(ALICE, limit=2)] == [new.id, mid.id]
    assert store.list(ALICE, limit=0) == []


def test_search_titles_and_text_any_case_all_words_chinese(store):
    a = chat("Kubernetes deployment", "Use a Deployment with 3 replicas.", updated_at=10.0)
    b = chat("如何学习中文？", "多听多说，每天练习。", updated_at=20.0)
    c = chat("ÉCOLE et Ärger", "Straße", title="Französisch", updated_at=30.0)
    d = chat("plain", "Deployment notes " + "filler " * 60 + "REPLICAS here", updated_at=40.0)
    for conv in (a, b, c, d):
        store.create(ALICE, conv)

    def ids(query):
        return [s.id for s in store.list(ALICE, query)]

    assert ids("deployment") == [d.id, a.id]
    assert ids("DEPLOYMENT replicas") == [d.id, a.id]
    assert ids("kubernetes replicas") == [a.id]  # words may match in title and text
    assert ids("deployment nothing") == []
    assert ids("中文") == [b.id] and ids("每天练习") == [b.id] and ids("练习 学习") == [b.id]
    assert ids("école ärger") == [c.id] and ids("französisch") == [c.id]
    assert ids("straße") == [c.id]
    assert ids("  ") == ids("") == [d.id, c.id, b.id, a.id]
    hit = store.list(ALICE, "replicas")[0]
    assert "REPLICAS" in hit.snippet and hit.snippet.startswith("…")


def test_search_treats_like_wildcards_as_text(store):
    store.create(ALICE, chat("100% sure", "a_b c\\d"))
    other = chat("1000 sure", "aXb cd")
    store.create(ALICE, other)
    assert len(store.list(ALICE, "100%")) == 1
    assert len(store.list(ALICE, "a_b")) == 1
    assert len(store.list(ALICE, "c\\d")) == 1
    assert len(store.list(ALICE, "%")) == 1


# --- settings and deletion ----------------------------------------------------------------


def test_rename_and_settings(store):
    conv = chat("hello", updated_at=50.0)
    store.create(ALICE, conv)
    store.update_settings(ALICE, conv.id, title="Renamed 重命名")
    store.update_settings(ALICE, conv.id, system_prompt="Pirate.", model="qwen",
                          params={"temperature": 1.5})
    store.update_settings(ALICE, conv.id)
    loaded = store.load(ALICE, conv.id)
    assert (loaded.title, loaded.system_prompt, loaded.model, loaded.params) == (
        "Renamed 重命名", "Pirate.", "qwen", {"temperature": 1.5})
    assert loaded.updated_at == 50.0
    assert [s.id for s in store.list(ALICE, "重命名")] == [conv.id]
    store.add_message(ALICE, conv.id, Message("user", "more", parent_id=conv.last.id))
    assert store.load(ALICE, conv.id).title == "Renamed 重命名"  # a rename sticks


def test_an_image_is_stored_once_and_deleted_with_its_last_user(store, database_url):
    shared, own = image(10), image(11)
    one = chat("x")
    one = one.append(Message("user", "twice", images=(shared, shared, own)))
    two = Conversation().append(Message("user", "again", images=(shared,)))
    store.create(ALICE, one)
    store.create(BOB, two)
    assert count_rows(database_url, "images") == 2
    assert count_rows(database_url, "message_images") == 4

    assert store.delete(ALICE, one.id) is True
    assert store.load(ALICE, one.id) is None
    assert count_rows(database_url, "messages") == 1
    assert count_rows(database_url, "message_images") == 1
    assert count_rows(database_url, "images") == 1  # the shared one is still used by Bob
    assert store.load(BOB, two.id).messages[0].images == (shared,)
    assert store.delete(BOB, two.id) is True
    assert count_rows(database_url, "images") == 0
    assert store.delete(BOB, two.id) is False


# --- owners -------------------------------------------------------------------------------


def test_an_owner_cannot_reach_another_owners_conversation(store):
    conv = chat("Alice's secret plan", "Noted.", updated_at=10.0)
    store.create(ALICE, conv)
    before = store.load_tree(ALICE, conv.id)
    last = conv.last

    assert store.list(BOB) == [] and store.list(BOB, "secret") == []
    assert store.load(BOB, conv.id) is None
    assert store.load(BOB, conv.id, leaf_id=last.id) is None
    assert store.load_tree(BOB, conv.id) is None
    assert store.delete(BOB, conv.id) is False
    attempts = [
        lambda: store.update_settings(BOB, conv.id, title="pwned"),
        lambda: store.update_settings(BOB, conv.id),
        lambda: store.add_message(BOB, conv.id, Message("user", "hi", parent_id=last.id)),
        lambda: store.save_message(BOB, conv.id, replace(last, content="changed")),
        lambda: store.set_leaf(BOB, conv.id, conv.messages[0].id),
        lambda: store.latest_leaf_under(BOB, conv.id, conv.messages[0].id),
    ]
    for attempt in attempts:
        with pytest.raises(NotFound):
            attempt()
    with pytest.raises(ValueError):
        store.create(BOB, replace(conv, title="mine now"))
    taken = store.create_from_tree(BOB, before)  # importing by id gets a new id
    assert taken != conv.id

    assert store.load_tree(ALICE, conv.id) == before
    assert [s.id for s in store.list(ALICE)] == [conv.id]
    assert [s.id for s in store.list(BOB)] == [taken]
    # A missing conversation answers exactly like someone else's.
    assert store.load(ALICE, "no-such-id") is None and store.delete(ALICE, "no-such-id") is False
    with pytest.raises(NotFound):
        store.set_leaf(ALICE, "no-such-id", last.id)


def test_adopt_moves_every_conversation_of_an_old_owner_once(store):
    old, new, carol = "session:old-link", "session:cookie", "carol"
    first = chat("from the old link", "Noted.", updated_at=10.0)
    second = chat("another old one", updated_at=20.0)
    others = chat("carol's own", updated_at=30.0)
    store.create(old, first)
    store.create(old, second)
    store.create(carol, others)
    before = store.load_tree(old, first.id)

    assert store.adopt(new, old) == 2
    assert store.list(old) == [] and store.load(old, first.id) is None
    assert [s.id for s in store.list(new)] == [second.id, first.id]
    assert store.load_tree(new, first.id) == before  # messages, leaf and settings come along
    assert [s.id for s in store.list(carol)] == [others.id]  # nobody else's moved
    assert store.adopt(carol, old) == 0  # a used-up token owns nothing any more
    assert store.adopt(new, new) == 0
    with pytest.raises(NotFound):
        store.add_message(old, first.id, Message("user", "still mine?",
                                                  parent_id=first.last.id))


# --- migrations ---------------------------------------------------------------------------


def schema_versions(database_url: str) -> list[int]:
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.text("SELECT version FROM schema_version ORDER BY 1"))
                        .scalars())
    finally:
        engine.dispose()


def test_migrations_from_empty_and_reopening_is_idempotent(database_url):
    with Store.open(database_url) as store:
        conv = chat("kept", "across", "reopens")
        store.create(ALICE, conv)
    for _ in range(2):
        with Store.open(database_url) as store:
            assert store.load(ALICE, conv.id).messages == conv.messages
    assert schema_versions(database_url) == list(range(1, len(MIGRATIONS) + 1))
    engine = make_engine(database_url)
    try:
        inspector = sa.inspect(engine)
        for table in (conversations, messages, images, message_images, schema_version,
                      request_log, accounts):
            found = {c["name"] for c in inspector.get_columns(table.name)}
            assert found == set(table.c.keys()), table.name
    finally:
        engine.dispose()


def test_a_pending_step_migrates_an_older_database_once(database_url):
    ran = []

    def v_next(conn):
        ran.append(1)
        conn.execute(sa.text("ALTER TABLE conversations ADD COLUMN pinned INTEGER"))
        conn.execute(sa.text("UPDATE conversations SET pinned = 1"))

    with Store.open(database_url) as store:  # the database at version N-1 ...
        conv = chat("before the upgrade", "yes")
        store.create(ALICE, conv)
    engine = make_engine(database_url)
    try:
        latest = len(MIGRATIONS) + 1
        assert migrate(engine, [*MIGRATIONS, v_next]) == latest  # ... migrates to N
        assert migrate(engine, [*MIGRATIONS, v_next]) == latest  # and only once
        assert ran == [1]
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT pinned FROM conversations")).scalar() == 1
    finally:
        engine.dispose()
    assert schema_versions(database_url)[-1] == latest
    with pytest.raises(SchemaTooNew):  # an older NexusChat refuses the newer schema
        Store.open(database_url)


def test_a_failing_step_changes_nothing(database_url):
    def broken(conn):
        conn.execute(sa.text("CREATE TABLE half_done (x INTEGER)"))
        raise RuntimeError("step failed")

    engine = make_engine(database_url)
    try:
        with pytest.raises(RuntimeError):
            migrate(engine, [*MIGRATIONS, broken])
        assert "half_done" not in sa.inspect(engine).get_table_names()
        assert migrate(engine) == len(MIGRATIONS)
    finally:
        engine.dispose()


def test_reasoning_is_stored_saved_and_loaded(store):
    conv = chat("2+2?")
    store.create(ALICE, conv)
    meta = replace(META, status="complete", error_code=None, error_params={},
                   raw_finish_reason="max_tokens", reasoning_tokens=81, reasoning_s=2.5,
                   refusal=False, skipped_parts=("image_url",))
    reply = Message("assistant", "4", meta=meta, reasoning="Add two and two.\n思考",
                    parent_id=conv.last.id)
    store.add_message(ALICE, conv.id, reply)
    assert store.load(ALICE, conv.id).last == reply
    longer = replace(reply, reasoning=reply.reasoning + " Then check." * 1000)
    store.save_message(ALICE, conv.id, longer)
    assert store.load(ALICE, conv.id).last.reasoning == longer.reasoning
    assert store.list(ALICE, "check") == []  # reasoning is not searched


def test_an_older_database_gets_the_reasoning_column_and_keeps_its_rows(database_url):
    engine = make_engine(database_url)
    try:
        assert migrate(engine, MIGRATIONS[:2]) == 2  # what the last release left
        with engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO conversations (id, owner, title, title_search, system_prompt, "
                "model, params, leaf_id, created_at, updated_at) VALUES ('c1', 'alice', 't', "
                "'t', '', 'm', '{}', 'm2', 1, 2)"))
            conn.execute(sa.text(
                "INSERT INTO messages (conversation_id, id, seq, parent_id, role, content, "
                "search_text, meta, earlier_attempts, created_at) VALUES "
                "('c1', 'm1', 1, NULL, 'user', 'q', 'q', NULL, '[]', 1), "
                "('c1', 'm2', 2, 'm1', 'assistant', 'a', 'a', :meta, '[]', 2)"),
                {"meta": '{"model": "m", "finish_reason": "max_tokens", "status": "complete",'
                         ' "error_params": {}}'})
    finally:
        engine.dispose()
    with Store.open(database_url) as store:
        old = store.load(ALICE, "c1")
        assert [m.reasoning for m in old.messages] == ["", ""]
        # Stored before finish reasons were normalized: the server's word is kept as raw.
        assert (old.last.meta.finish_reason, old.last.meta.raw_finish_reason) == (
            "length", "max_tokens")
        store.save_message(ALICE, "c1", replace(old.last, reasoning="now it can"))
        assert store.load(ALICE, "c1").last.reasoning == "now it can"
    assert schema_versions(database_url) == list(range(1, len(MIGRATIONS) + 1))


def test_tool_calls_and_results_are_stored_and_read_back(store):
    calls = (ToolCall("call_1", "calculate", '{"expression": "6*7"}', "builtin"),
             ToolCall("call_2", "atlas__capital", '{"country": "Japan"}', "atlas"))
    conv = chat("6*7 and Japan?")
    conv = conv.append(Message("assistant", "", meta=ReplyMeta(finish_reason="tool_calls"),
                               tool_calls=calls[:1]))
    store.create(ALICE, conv)
    # A partial save while the reply streams brings the second call; then the results.
    store.save_message(ALICE, conv.id, replace(conv.last, tool_calls=calls))
    conv = conv.replace_last(replace(conv.last, tool_calls=calls))
    for call, text, status in ((calls[0], "42", "ok"), (calls[1], "Error: boom", "error")):
        result = Message("tool", text, tool_result=ToolResult(call.id, call.name, status, 0.5))
        conv = conv.append(result)
        store.add_message(ALICE, conv.id, conv.last)
    loaded = store.load(ALICE, conv.id)
    assert loaded.messages[1].tool_calls == calls
    assert [m.tool_result for m in loaded.messages[2:]] == [
        ToolResult("call_1", "calculate", "ok", 0.5),
        ToolResult("call_2", "atlas__capital", "error", 0.5)]
    assert loaded.messages[0].tool_calls == () and loaded.messages[0].tool_result is None


def test_a_version_4_database_gets_the_tool_columns_and_keeps_its_rows(database_url):
    engine = make_engine(database_url)
    try:
        assert migrate(engine, MIGRATIONS[:4]) == 4
        with engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO conversations (id, owner, title, title_search, system_prompt, "
                "model, params, leaf_id, created_at, updated_at) VALUES ('c1', 'alice', 't', "
                "'t', '', 'm', '{}', 'm1', 1, 2)"))
            conn.execute(sa.text(
                "INSERT INTO messages (conversation_id, id, seq, parent_id, role, content, "
                "search_text, meta, earlier_attempts, created_at) VALUES "
                "('c1', 'm1', 1, NULL, 'user', 'q', 'q', NULL, '[]', 1)"))
    finally:
        engine.dispose()
    with Store.open(database_url) as store:
        old = store.load(ALICE, "c1")
        assert (old.last.tool_calls, old.last.tool_result) == ((), None)
    assert schema_versions(database_url) == list(range(1, len(MIGRATIONS) + 1))


# --- concurrency --------------------------------------------------------------------------


def test_two_threads_writing_at_once_do_not_fail(store):
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def writer(owner: str) -> None:
        try:
            conv = chat(f"{owner} starts")
            store.create(owner, conv)
            start.wait()
            parent = conv.last.id
            for i in range(40):
                reply = Message("assistant", "", parent_id=parent)
                store.add_message(owner, conv.id, reply)
                for j in range(3):
                    store.save_message(owner, conv.id, replace(reply, content=f"{i}.{j}"))
                store.list(owner, "starts")
                parent = reply.id
        except BaseException as e:  # reported below, in the test's thread
            errors.append(e)
            start.abort()  # the other writer must not wait for this one

    threads = [threading.Thread(target=writer, args=(who,)) for who in (ALICE, BOB)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for who in (ALICE, BOB):
        (summary,) = store.list(who)
        assert summary.message_count == 41
        assert store.load(who, summary.id).messages[-1].content == "39.2"


def test_a_write_lock_held_too_long_is_a_store_busy_error(tmp_path, monkeypatch):
    import sqlite3

    from nexuschat import store as store_module
    from nexuschat.conversation import Conversation, Message
    from nexuschat.store import Store, StoreBusy

    monkeypatch.setattr(store_module, "_SQLITE_BUSY_TIMEOUT_MS", 100)
    path = tmp_path / "busy.sqlite3"
    store = Store.open(f"sqlite:///{path}")
    conversation = Conversation()
    store.create("local", conversation)
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another writer holds the lock past the timeout
    try:
        with pytest.raises(StoreBusy):
            store.add_message("local", conversation.id, Message("user", "x"))
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    store.add_message("local", conversation.id, Message("user", "y"))  # fine once released
    store.close()


def test_a_busy_write_is_tried_three_times_half_a_second_then_a_second_apart():
    assert BUSY_RETRY.attempts == 3 and BUSY_RETRY.waits() == (0.5, 1.0)
    assert BusyRetry(attempts=4, first_wait_s=0.1, factor=3).waits() == pytest.approx(
        (0.1, 0.3, 0.9))
    assert BusyRetry(attempts=1).waits() == ()


def busy_for(failures: int):
    """A write that finds the database busy `failures` times, then returns how often it ran."""
    calls = []

    def write() -> int:
        calls.append(1)
        if len(calls) <= failures:
            raise StoreBusy("database is locked")
        return len(calls)

    return write


def test_retry_busy_waits_as_the_policy_says_and_returns_the_write_s_result():
    slept: list[float] = []
    assert retry_busy(busy_for(2), sleep=slept.append) == 3
    assert slept == [0.5, 1.0]
    slept.clear()
    assert retry_busy(busy_for(0), sleep=slept.append) == 1 and slept == []


def test_retry_busy_gives_up_with_the_last_store_busy():
    slept: list[float] = []
    write = busy_for(5)
    with pytest.raises(StoreBusy):
        retry_busy(write, BusyRetry(attempts=2, first_wait_s=0.25), sleep=slept.append)
    assert slept == [0.25]


@pytest.mark.parametrize("error", [StoreError("disk I/O error", "full"), NotFound("c1")])
def test_retry_busy_lets_any_other_error_through_at_once(error):
    slept: list[float] = []

    def broken() -> None:
        raise error

    with pytest.raises(type(error)):
        retry_busy(broken, sleep=slept.append)
    assert slept == []


def test_siblings_of_a_message_in_creation_order_and_owner_scoped(store):
    conversation = Conversation()
    store.create("alice", conversation)
    question = Message("user", "q")
    first, second = (Message("assistant", text, parent_id=question.id) for text in ("1", "2"))
    edited = Message("user", "q, edited")  # a second root
    for message in (question, first, second, edited):
        store.add_message("alice", conversation.id, message)
    assert store.siblings("alice", conversation.id, second.id) == (first.id, second.id)
    assert store.siblings("alice", conversation.id, edited.id) == (question.id, edited.id)
    store.add_message("alice", conversation.id, Message("assistant", "a", parent_id=edited.id))
    assert store.siblings("alice", conversation.id, store.load("alice", conversation.id)
                          .last.id) == ()
    with pytest.raises(NotFound):
        store.siblings("mallory", conversation.id, second.id)


def test_a_message_can_carry_the_conversations_settings_in_its_own_commit(store):
    conv = chat("hello")
    store.create(ALICE, conv)
    store.add_message(ALICE, conv.id, Message("user", "more", parent_id=conv.last.id),
                      system_prompt="Terse.", model="qwen-vl-max", params={"seed": 7})
    loaded = store.load(ALICE, conv.id)
    assert (loaded.system_prompt, loaded.model, loaded.params) == (
        "Terse.", "qwen-vl-max", {"seed": 7})
    store.add_message(ALICE, conv.id, Message("assistant", "ok", parent_id=loaded.last.id))
    again = store.load(ALICE, conv.id)
    assert (again.system_prompt, again.model, again.params) == (
        "Terse.", "qwen-vl-max", {"seed": 7})  # a message without settings leaves them


# --- honest failures: only a lock or pool wait is "busy" ---------------------------------------


def test_a_broken_schema_is_a_store_error_not_busy(database_url):
    from nexuschat.store import StoreBusy, StoreError

    with Store.open(database_url) as store:
        conversation = Conversation(messages=(Message("user", "kept?"),))
        store.create(ALICE, conversation)
        with store._engine.begin() as conn:  # a schema bug: the table is gone
            conn.execute(sa.text("DROP TABLE message_images"))
            conn.execute(sa.text("DROP TABLE messages"))
        with pytest.raises(StoreError) as caught:
            store.add_message(ALICE, conversation.id, Message("user", "and this?"))
        assert not isinstance(caught.value, StoreBusy)
        assert caught.value.reason == "schema"


def test_an_unreachable_database_is_a_store_error(tmp_path):
    from nexuschat.store import StoreBusy, StoreError

    for url in (f"sqlite:///{tmp_path / 'no-such-folder' / 'x.sqlite3'}",
                "postgresql+psycopg://nobody:nothing@127.0.0.1:9/nexuschat"):
        with pytest.raises(StoreError) as caught:
            Store.open(url)
        assert not isinstance(caught.value, StoreBusy), url
        assert caught.value.reason == "unreachable", (url, caught.value)


def test_a_held_write_lock_is_busy(tmp_path):
    from nexuschat.store import StoreBusy

    url = f"sqlite:///{tmp_path / 'locked.sqlite3'}"
    with Store.open(url) as store:
        conversation = Conversation(messages=(Message("user", "a"),))
        store.create(ALICE, conversation)
        holder = sa.create_engine(url)
        with holder.connect() as conn:
            conn.exec_driver_sql("BEGIN IMMEDIATE")  # another process holding the write lock
            with pytest.raises(StoreBusy) as caught:
                store.save_message(ALICE, conversation.id, conversation.messages[0], wait=False)
            assert caught.value.reason == "busy"
            conn.exec_driver_sql("ROLLBACK")
        holder.dispose()
