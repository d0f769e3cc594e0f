"""The index behind conversation search (schema version 5), and the statements that read it.

Search compares folded text (`str.lower()` in Python: `messages.search_text`,
`conversations.title_search`) by substring: a query word matches where it occurs anywhere in
the text, across word boundaries, in any script. The index answers exactly that, only faster:

- SQLite: `message_search` holds each message's folded text under a `docid` that puts every
  owner's messages in one range (`owner key * 2**32 + n`, keys in `search_owners`), and an
  FTS5 table with the trigram tokenizer (case-sensitive: the text is folded already, so FTS5
  folds nothing of its own) indexes it as external content. A word of three or more
  characters is an FTS5 phrase (quoted: `AND`, `*`, `"`, `NEAR(` are text), limited to the
  owner's docid range; a shorter word (a trigram index cannot hold it: 天气, 北京) is an
  `instr` over the owner's range of `message_search`, which is contiguous on disk. Triggers on
  `messages` and `conversations` keep both in step with every write (inserts, partial saves,
  imports, cascaded deletes, an owner change), whoever makes it.
- PostgreSQL: a GIN index with pg_trgm's `gin_trgm_ops` on `messages.search_text`, which
  PostgreSQL itself keeps in step and which serves the same `LIKE '%word%'` as before (for
  patterns with a trigram in them; shorter ones are planned without it).
"""

from __future__ import annotations

import logging

import sqlalchemy as sa

log = logging.getLogger(__name__)

OWNER_SPAN = 2**32  # docids per owner: owner key * OWNER_SPAN + 1 ...
TRIGRAM = 3  # the shortest word the trigram index can find
PG_INDEX = "ix_messages_search_text_trgm"

_SPAN = str(OWNER_SPAN)
# The next docid in the owner range of `owner_key` (an SQL expression giving the key).
_NEXT_DOCID = (
    "(SELECT coalesce(max(s.docid), {key} * " + _SPAN + ") FROM message_search s "
    "WHERE s.docid BETWEEN {key} * " + _SPAN + " AND {key} * " + _SPAN + " + "
    + str(OWNER_SPAN - 1) + ")"
)
_KEY_OF = "(SELECT k.key FROM search_owners k WHERE k.owner = {owner})"

_SQLITE_DDL = (
    "CREATE TABLE search_owners (key INTEGER PRIMARY KEY, owner VARCHAR(255) NOT NULL UNIQUE)",
    # docid is an INTEGER PRIMARY KEY: stable across VACUUM and dumps, unlike an implicit rowid
    "CREATE TABLE message_search (docid INTEGER PRIMARY KEY, "
    "conversation_id VARCHAR(255) NOT NULL, message_id VARCHAR(255) NOT NULL, "
    "search_text TEXT NOT NULL, UNIQUE (conversation_id, message_id))",
    "CREATE VIRTUAL TABLE message_search_fts USING fts5(search_text, content='message_search', "
    "content_rowid='docid', tokenize='trigram case_sensitive 1')",
)

_SQLITE_BACKFILL = (
    "INSERT INTO search_owners (owner) SELECT DISTINCT owner FROM conversations ORDER BY owner",
    # in seq order within each conversation, so a later message has a larger docid
    "INSERT INTO message_search (docid, conversation_id, message_id, search_text) "
    "SELECT k.key * " + _SPAN + " + row_number() OVER "
    "(PARTITION BY k.key ORDER BY m.conversation_id, m.seq), m.conversation_id, m.id, "
    "m.search_text FROM messages m JOIN conversations c ON c.id = m.conversation_id "
    "JOIN search_owners k ON k.owner = c.owner",
    "INSERT INTO message_search_fts (message_search_fts) VALUES ('rebuild')",
)

_SQLITE_TRIGGERS = (
    # the FTS5 table follows message_search (external content: it is told old values)
    "CREATE TRIGGER message_search_ai AFTER INSERT ON message_search BEGIN "
    "INSERT INTO message_search_fts (rowid, search_text) VALUES (new.docid, new.search_text); "
    "END",
    "CREATE TRIGGER message_search_ad AFTER DELETE ON message_search BEGIN "
    "INSERT INTO message_search_fts (message_search_fts, rowid, search_text) "
    "VALUES ('delete', old.docid, old.search_text); END",
    "CREATE TRIGGER message_search_au AFTER UPDATE OF search_text ON message_search BEGIN "
    "INSERT INTO message_search_fts (message_search_fts, rowid, search_text) "
    "VALUES ('delete', old.docid, old.search_text); "
    "INSERT INTO message_search_fts (rowid, search_text) VALUES (new.docid, new.search_text); "
    "END",
    # message_search follows messages (a conversation's delete cascades to here too)
    "CREATE TRIGGER messages_search_ai AFTER INSERT ON messages BEGIN "
    "INSERT OR IGNORE INTO search_owners (owner) "
    "SELECT owner FROM conversations WHERE id = new.conversation_id; "
    "INSERT INTO message_search (docid, conversation_id, message_id, search_text) "
    "SELECT " + _NEXT_DOCID.format(key="k.key") + " + 1, new.conversation_id, new.id, "
    "new.search_text FROM conversations c JOIN search_owners k ON k.owner = c.owner "
    "WHERE c.id = new.conversation_id; END",
    "CREATE TRIGGER messages_search_au AFTER UPDATE OF search_text ON messages "
    "WHEN old.search_text IS NOT new.search_text BEGIN "
    "UPDATE message_search SET search_text = new.search_text "
    "WHERE conversation_id = new.conversation_id AND message_id = new.id; END",
    "CREATE TRIGGER messages_search_ad AFTER DELETE ON messages BEGIN "
    "DELETE FROM message_search WHERE conversation_id = old.conversation_id "
    "AND message_id = old.id; END",
    # a conversation that changes owner (Store.adopt) moves to the new owner's range
    "CREATE TRIGGER conversations_search_owner AFTER UPDATE OF owner ON conversations "
    "WHEN old.owner IS NOT new.owner BEGIN "
    "INSERT OR IGNORE INTO search_owners (owner) VALUES (new.owner); "
    "DELETE FROM message_search WHERE conversation_id = new.id; "
    "INSERT INTO message_search (docid, conversation_id, message_id, search_text) "
    "SELECT " + _NEXT_DOCID.format(key=_KEY_OF.format(owner="new.owner"))
    + " + row_number() OVER (ORDER BY m.seq), m.conversation_id, m.id, m.search_text "
    "FROM messages m WHERE m.conversation_id = new.id; END",
)


def create(conn: sa.Connection) -> None:
    """Schema step 5: the search index for this dialect, filled from the rows there are."""
    if conn.dialect.name == "sqlite":
        if not _sqlite_has_trigram(conn):
            log.warning("this SQLite (%s) has no FTS5 trigram tokenizer (3.34 or later has): "
                        "conversation search scans without an index",
                        conn.exec_driver_sql("SELECT sqlite_version()").scalar())
            return
        for statement in (*_SQLITE_DDL, *_SQLITE_BACKFILL, *_SQLITE_TRIGGERS):
            conn.exec_driver_sql(statement)
    elif conn.dialect.name == "postgresql":
        schema = _pg_trgm_schema(conn)
        if schema is None:
            log.warning("pg_trgm is not available: conversation search scans without an "
                        "index (run `CREATE EXTENSION pg_trgm` as a superuser, then "
                        "`%s`)", pg_index_ddl("public"))
            return
        conn.exec_driver_sql(pg_index_ddl(schema))


def _sqlite_has_trigram(conn: sa.Connection) -> bool:
    try:
        with conn.begin_nested():
            conn.exec_driver_sql("CREATE VIRTUAL TABLE temp.nexuschat_trigram_probe "
                                 "USING fts5(t, tokenize='trigram')")
            conn.exec_driver_sql("DROP TABLE temp.nexuschat_trigram_probe")
    except sa.exc.OperationalError:
        return False
    return True


def pg_index_ddl(schema: str) -> str:
    """The CREATE INDEX statement for PostgreSQL, the extension living in `schema`."""
    quoted = '"' + schema.replace('"', '""') + '"'
    return (f"CREATE INDEX IF NOT EXISTS {PG_INDEX} ON messages "
            f"USING gin (search_text {quoted}.gin_trgm_ops)")


def _pg_trgm_schema(conn: sa.Connection) -> str | None:
    """The schema pg_trgm is in, created here if this role may (it is a trusted extension
    from PostgreSQL 13: a database owner may); None if it is not there and cannot be."""
    try:
        with conn.begin_nested():
            conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except sa.exc.DBAPIError as exc:  # not installed on the server, or not allowed
        log.info("CREATE EXTENSION pg_trgm failed: %s", str(exc.orig).splitlines()[0])
    return conn.execute(sa.text(
        "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
        "WHERE e.extname = 'pg_trgm'")).scalar()


def pg_indexable(word: str) -> bool:
    """Whether pg_trgm finds a trigram in `LIKE '%word%'`: three word characters in a row.
    Without one, PostgreSQL would still pick the GIN index and read all of it (seconds on a
    big table), so such words are matched with strpos, which the index cannot serve."""
    run = 0
    for ch in word:
        run = run + 1 if ch.isalnum() else 0
        if run >= TRIGRAM:
            return True
    return False


def has_fts(conn: sa.Connection) -> bool:
    """Whether this SQLite database has the FTS5 index (schema 5 made it)."""
    return conn.dialect.name == "sqlite" and sa.inspect(conn).has_table("message_search_fts")


def fts_phrase(word: str) -> str:
    """`word` as one FTS5 phrase: quoted, so every character in it is text, never syntax."""
    return '"' + word.replace('"', '""') + '"'


def owner_range(conn: sa.Connection, owner: str) -> tuple[int, int] | None:
    """The owner's docid range in `message_search`; None if they never had a message."""
    key = conn.execute(sa.text("SELECT key FROM search_owners WHERE owner = :o"),
                       {"o": owner}).scalar()
    return None if key is None else (key * OWNER_SPAN, key * OWNER_SPAN + OWNER_SPAN - 1)


message_search = sa.table(  # for the statements below; created by `create`, not metadata
    "message_search", sa.column("docid", sa.BigInteger), sa.column("conversation_id", sa.String),
    sa.column("message_id", sa.String), sa.column("search_text", sa.Text),
)


def sqlite_docids(word: str, span: tuple[int, int], tag: int = 0) -> sa.Subquery:
    """The docids in `span` whose text contains `word` (folded), as a one-column subquery;
    `tag` keeps the parameter names of several words in one statement apart."""
    q, lo, hi = f"q{tag}", f"lo{tag}", f"hi{tag}"
    if len(word) >= TRIGRAM:
        text = sa.text(
            f"SELECT rowid AS docid FROM message_search_fts WHERE message_search_fts MATCH :{q} "
            f"AND rowid BETWEEN :{lo} AND :{hi}"
        ).bindparams(**{q: fts_phrase(word), lo: span[0], hi: span[1]})
    else:  # too short for a trigram: the owner's texts, which lie together
        text = sa.text(
            f"SELECT docid FROM message_search WHERE docid BETWEEN :{lo} AND :{hi} "
            f"AND instr(search_text, :{q}) > 0"
        ).bindparams(**{q: word, lo: span[0], hi: span[1]})
    return text.columns(docid=sa.BigInteger).subquery(f"docids{tag}")


def sqlite_text_hits(word: str, span: tuple[int, int], tag: int = 0) -> sa.Select:
    """The conversations (ids) with a message in `span` whose text contains `word`."""
    docs = sqlite_docids(word, span, tag)
    return (sa.select(message_search.c.conversation_id)
            .where(message_search.c.docid.in_(sa.select(docs.c.docid))))


def sqlite_latest_hits(word: str, span: tuple[int, int], ids: list[str]) -> sa.Select:
    """(conversation id, message id) of the latest message containing `word`, for each of
    `ids` that has one: docids grow with seq within a conversation."""
    docs = sqlite_docids(word, span)
    ms = message_search
    latest = (sa.select(sa.func.max(ms.c.docid).label("docid"))
              .where(ms.c.docid.in_(sa.select(docs.c.docid)), ms.c.conversation_id.in_(ids))
              .group_by(ms.c.conversation_id).subquery())
    return (sa.select(ms.c.conversation_id, ms.c.message_id)
            .join(latest, latest.c.docid == ms.c.docid))
