"""Conversation search through the index (schema 5), on SQLite and PostgreSQL: the same
answers as the substring scan it replaced, whatever the script, length or punctuation."""

from __future__ import annotations

import multiprocessing
import random
from dataclasses import replace

import pytest
import sqlalchemy as sa

from nexuschat import search_index
from nexuschat.conversation import Message
from nexuschat.search_index import PG_INDEX
from nexuschat.store import MIGRATIONS, Store, make_engine, migrate
from tests.unit.test_store import ALICE, BOB, chat, count_rows, schema_versions


@pytest.fixture
def store(database_url):
    with Store.open(database_url) as s:
        yield s


def ids(searched: Store, query: str, owner: str = ALICE) -> list[str]:
    return [s.id for s in searched.list(owner, query)]


def oracle(convs: dict[str, tuple[str, list[str]]], query: str) -> set[str]:
    """Today's rule in plain Python: every folded word is in the title or some message."""
    words = query.lower().split()
    return {cid for cid, (title, texts) in convs.items()
            if all(w in title.lower() or any(w in t.lower() for t in texts) for w in words)}


def test_latin_case_and_accents_as_the_folding_has_them(store):
    plain = chat("Kubernetes rollout", "Use a Deployment.", updated_at=10.0)
    cafe = chat("menu", "Un CAFÉ au lait, s'il vous plaît", updated_at=20.0)
    bare = chat("menu", "a cafe latte", updated_at=30.0)
    for conv in (plain, cafe, bare):
        store.create(ALICE, conv)
    assert ids(store, "DEPLOYMENT") == ids(store, "deployment") == [plain.id]
    assert ids(store, "dep") == [plain.id]  # three characters: the trigram index
    assert ids(store, "café") == ids(store, "CAFÉ") == [cafe.id]  # é is not e (lower() only)
    assert ids(store, "cafe") == [bare.id]
    assert ids(store, "plaît") == [cafe.id] and ids(store, "plait") == []
    assert ids(store, "é") == [cafe.id]  # one character
    assert ids(store, "ca") == [bare.id, cafe.id]  # two characters, newest first


def test_chinese_two_character_and_longer_words_and_mixed_text(store):
    weather = chat("今天北京天气很好", "适合出去走走", updated_at=10.0)
    code = chat("学习Python编程", "用pip安装requests库", updated_at=20.0)
    idiom = chat("祝你一帆风顺", "谢谢！", updated_at=30.0)
    other = chat("上海的天空", "阴天", updated_at=40.0)
    for conv in (weather, code, idiom, other):
        store.create(ALICE, conv)
    assert ids(store, "天气") == [weather.id] and ids(store, "北京") == [weather.id]
    assert ids(store, "天") == [other.id, weather.id]
    assert ids(store, "一帆风顺") == [idiom.id] and ids(store, "帆风顺") == [idiom.id]
    assert ids(store, "天气很好") == [weather.id]
    assert ids(store, "python编程") == ids(store, "PYTHON") == [code.id]
    assert ids(store, "n编") == [code.id] and ids(store, "on编程") == [code.id]  # across scripts
    assert ids(store, "pip安装") == [code.id] and ids(store, "北京 走走") == [weather.id]
    assert ids(store, "天气 上海") == []


def test_a_word_matches_across_word_boundaries_and_punctuation(store):
    a = chat("notes", "hello-world, foo.bar and x=1;y=2", updated_at=10.0)
    b = chat("notes", "天气北京", updated_at=20.0)
    store.create(ALICE, a)
    store.create(ALICE, b)
    assert ids(store, "o-w") == [a.id] and ids(store, "lo-wor") == [a.id]
    assert ids(store, "o.b") == [a.id] and ids(store, "1;y=") == [a.id]
    assert ids(store, "气北") == [b.id] and ids(store, "气北京") == [b.id]
    assert ids(store, "rld,") == [a.id]


SPECIALS = ['100%', '%', '_', 'a_b', "it's", "'", '"', 'say "hi"', '""', '*', 'ab*', 'AND',
            'x AND', 'NEAR(', 'NEAR(a', 'near(a b)', '-x', '^st', '{col}:', 'col:v', '(', ')',
            '\\', 'c\\d', '+', 'a+b', ':', 'OR', 'NOT']


def test_special_characters_and_fts_syntax_are_plain_text(store):
    texts = {
        'pct': "100% sure",
        'und': "a_b and c\\d",
        'quote': "it's \"hi\" she said: say \"hi\" ok \"\"",
        'star': "ab* marks a glob",
        'ops': "x AND y OR NOT z, NEAR(a b) {col}: col:v ^start -x a+b (",
        'plain': "nothing special here at all",
    }
    convs = {}
    for text in texts.values():
        conv = chat("t", text)
        store.create(ALICE, conv)
        convs[conv.id] = ("t", [text])
    for word in SPECIALS:
        for query in (word, word.lower(), f"{word} t"):
            assert set(ids(store, query)) == oracle(convs, query), query


def test_owners_never_see_each_other_whatever_the_word_length(store):
    mine = chat("mine", "天气 report α", updated_at=10.0)
    theirs = chat("theirs", "天气 report α β", updated_at=20.0)
    store.create(ALICE, mine)
    store.create(BOB, theirs)
    for query in ("天气", "report", "α", "β", "theirs", "rep"):
        assert set(ids(store, query)) <= {mine.id}, query
        assert set(ids(store, query, BOB)) <= {theirs.id}, query
    assert ids(store, "β") == [] and ids(store, "β", BOB) == [theirs.id]
    assert ids(store, "report", "carol") == [] and ids(store, "天", "carol") == []


def test_saves_deletes_and_an_owner_change_are_found_at_once(store, database_url):
    conv = chat("streaming", "the question", "")
    store.create(ALICE, conv)
    reply = conv.messages[-1]
    for text in ("部分", "部分回答 partial", "完整的回答 final answer"):  # partial saves
        reply = replace(reply, content=text)
        store.save_message(ALICE, conv.id, reply, wait=False)
    assert ids(store, "final") == [conv.id] and ids(store, "回答") == [conv.id]
    assert ids(store, "partial") == [] and ids(store, "部分") == []
    store.add_message(ALICE, conv.id, Message("user", "追问 follow-up", parent_id=reply.id))
    assert ids(store, "追问") == ids(store, "follow-up") == [conv.id]

    store.adopt(BOB, ALICE)
    assert ids(store, "final") == [] and ids(store, "追问") == []
    assert ids(store, "final", BOB) == [conv.id] and ids(store, "追问", BOB) == [conv.id]
    store.add_message(BOB, conv.id, Message("user", "after the move", parent_id=reply.id))
    hit = store.list(BOB, "the")[0]
    assert hit.snippet == "after the move"  # the latest message with the word, after the move
    assert store.delete(BOB, conv.id)
    assert ids(store, "final", BOB) == [] and ids(store, "追问", BOB) == []
    assert count_rows(database_url, "message_search") == count_rows(database_url, "messages") == 0


@pytest.mark.parametrize("common", [search_index.COMMON, 0])
def test_the_snippet_is_the_latest_message_with_the_first_word(store, monkeypatch, common):
    monkeypatch.setattr(search_index, "COMMON", common)
    conv = chat("t", "early 天气 one", "middle", "late 天气 two", "last")
    store.create(ALICE, conv)
    assert store.list(ALICE, "天气")[0].snippet == "late 天气 two"
    assert store.list(ALICE, "two 天气")[0].snippet == "late 天气 two"
    assert store.list(ALICE, "early")[0].snippet == "early 天气 one"


@pytest.mark.parametrize("common", [search_index.COMMON, 0, 3])
def test_random_texts_give_what_the_substring_scan_gives(store, monkeypatch, common):
    # COMMON 0: every word goes conversation by conversation; 3: some words do, some not
    monkeypatch.setattr(search_index, "COMMON", common)
    rng = random.Random(20261201)
    alphabet = list("abcAB éÉ天气北京学习 -.'\"%_*:(") + ["NEAR(", "AND", "Py"]
    convs: dict[str, tuple[str, list[str]]] = {}
    for n in range(40):
        texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
                 for _ in range(rng.randint(1, 4))]
        title = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 8))).strip() or "t"
        conv = chat(*texts, title=title, updated_at=float(n))
        store.create(ALICE if n % 4 else BOB, conv)
        if n % 4:
            convs[conv.id] = (title, texts)
    for _ in range(300):
        query = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 6)))
        assert set(ids(store, query)) == oracle(convs, query), repr(query)


def _older_database(url: str) -> list[str]:
    """A database as schema 6 left it (before the index), with conversations of two owners."""
    engine = make_engine(url)
    try:
        assert migrate(engine, MIGRATIONS[:6]) == 6
        old = Store(engine)
        made = []
        for i in range(30):
            conv = chat(f"old {i}", f"天气 message {i} of alice", f"reply {i} kept")
            old.create(ALICE if i % 3 else BOB, conv)
            made.append(conv.id)
        return made
    finally:
        engine.dispose()


def test_the_migration_indexes_the_rows_already_there(database_url):
    made = _older_database(database_url)
    with Store.open(database_url) as store:  # noqa: F811  (not the fixture)
        alice = [cid for i, cid in enumerate(made) if i % 3]
        assert set(ids(store, "天气")) == set(alice)
        assert ids(store, "message 17") == [made[17]]
        assert set(ids(store, "kept", BOB)) == {cid for i, cid in enumerate(made) if not i % 3}
        conv = store.load(ALICE, made[1])
        store.add_message(ALICE, made[1], Message("user", "new 北京", parent_id=conv.last.id))
        assert ids(store, "北京") == [made[1]]
        assert store.list(ALICE, "天气")[0].snippet == "天气 message 1 of alice"


def _open_store(url: str) -> int:
    with Store.open(url) as opened:
        return len(opened.list(ALICE, "天气"))


def test_three_processes_starting_at_once_migrate_once(database_url):
    made = _older_database(database_url)
    context = multiprocessing.get_context("spawn")
    with context.Pool(3) as pool:
        found = pool.map(_open_store, [database_url] * 3)
    assert found == [len([c for i, c in enumerate(made) if i % 3])] * 3
    assert schema_versions(database_url) == list(range(1, len(MIGRATIONS) + 1))
    if database_url.startswith("sqlite"):
        assert count_rows(database_url, "message_search") == count_rows(database_url, "messages")


def test_postgresql_has_the_owner_scoped_index(database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL's index")
    Store.open(database_url).close()
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            found = conn.execute(sa.text(
                "SELECT indexdef FROM pg_indexes WHERE indexname = :name"), {"name": PG_INDEX}
            ).scalar()
    finally:
        engine.dispose()
    assert found and "(owner, search_text" in found and "gin_trgm_ops, grams)" in found


GRAM_TEXTS = ["", "a", "ab", "abc abc", "北京天气 很好", "x\ty\nz\r w", "😀x😀", "a  b", "é\u3000e",
              "'%_\\\"", "Python编程"]


def test_grams_are_the_characters_and_pairs_without_blanks():
    assert search_index.grams("北京 天") == ["京", "北", "北京", "天"]
    assert search_index.grams("a\tb") == ["a", "b"]
    assert search_index.sqlite_grams("北京") == "4eac 5317 5317x4eac"
    for text in GRAM_TEXTS:  # the same grams, spelled
        assert search_index.sqlite_grams(text).split() == sorted(
            search_index.gram_token(g) for g in search_index.grams(text)), repr(text)


def test_postgresql_computes_the_grams_python_does(database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL's nexuschat_grams")
    Store.open(database_url).close()
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            for text in GRAM_TEXTS:
                found = conn.execute(sa.text("SELECT nexuschat_grams(:t)"), {"t": text}).scalar()
                assert sorted(found) == search_index.grams(text), repr(text)
    finally:
        engine.dispose()


@pytest.mark.parametrize("common", [search_index.COMMON, 0])
def test_an_owner_without_messages_and_words_in_titles_only(store, monkeypatch, common):
    monkeypatch.setattr(search_index, "COMMON", common)
    titled = chat(title="北京 zebra", updated_at=10.0)  # no message: not in the index
    store.create(ALICE, titled)
    assert ids(store, "北京") == ids(store, "zebra") == ids(store, "京") == [titled.id]
    assert ids(store, "北京 zeb") == [titled.id] and ids(store, "上海") == []


def test_common_is_decided_by_the_newest_conversations(store, monkeypatch):
    # the newest SAMPLE conversations all have `recent`; `old` is only in the oldest ones;
    # `mixed` is in a few of the newest and many old ones: each path gives the rule's answer
    indexed = []
    real = search_index.OwnerIndex.conversations
    monkeypatch.setattr(search_index.OwnerIndex, "conversations",
                        lambda self, word: indexed.append(word) or real(self, word))
    sample = search_index.SAMPLE
    convs: dict[str, tuple[str, list[str]]] = {}
    order = []
    total = sample + 12
    for n in range(total):
        newest = n >= total - sample
        texts = ["filler text"] * 3 + [
            "recent word" if newest else "older",
            "old only" if n < 4 else "",
            "mixed" if (n % 5 == 0 if newest else n % 2 == 0) else "",
        ]
        conv = chat(*texts, title=f"t{n}", updated_at=float(n))
        store.create(ALICE, conv)
        convs[conv.id] = (f"t{n}", texts)
        order.insert(0, conv.id)
    store.create(BOB, chat("recent old mixed", "recent old mixed", updated_at=99.0))
    for query, walked in (("recent", True), ("old", False), ("mixed", False),
                          ("recent old", None), ("filler mixed", None)):
        indexed.clear()
        expected = [cid for cid in order if cid in oracle(convs, query)]
        assert ids(store, query) == expected, query
        for limit in (1, 3, sample + 1):
            assert [s.id for s in store.list(ALICE, query, limit=limit)] == expected[:limit]
        if walked is not None:
            assert (query not in indexed) == walked, query
