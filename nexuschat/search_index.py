"""The index behind conversation search (schema version 7), and the statements that read it.

Search compares folded text (`str.lower()` in Python: `messages.search_text`,
`conversations.title_search`) by substring: a query word matches where it occurs anywhere in
the text, across word boundaries, in any script. The index answers exactly that, only faster:

- SQLite: `message_search` holds each message's folded text under a `docid` that puts every
  owner's messages in one range (`owner key * 2**32 + n`, keys in `search_owners`), and an
  FTS5 table with the trigram tokenizer (case-sensitive: the text is folded already, so FTS5
  folds nothing of its own) indexes it as external content. A word of three or more
  characters is an FTS5 phrase (quoted: `AND`, `*`, `"`, `NEAR(` are text), limited to the
  owner's docid range. A shorter word (no trigram index holds it: 天气, 北京, 好) is one token
  of `message_grams`, a contentless FTS5 table of each message's distinct characters and
  character pairs (`grams`, spelled as hex code points, since no tokenizer of SQLite's splits
  Chinese into characters), in the same docid ranges. Triggers on `messages` and
  `conversations` keep all of it in step with every write (inserts, partial saves, imports,
  cascaded deletes, an owner change), whoever makes it; the pairs come from `nexuschat_grams`,
  a function every connection of `store.make_engine` registers.
- PostgreSQL: `message_search` (conversation, message, owner, folded text, `grams`) kept by
  triggers, and one GIN index over (owner, text with pg_trgm's `gin_trgm_ops`, grams) through
  btree_gin: a word's posting lists are intersected with the owner's inside the index, so the
  rows read and rechecked are the owner's matches only. A word with a trigram in it is
  `LIKE '%word%'`; a shorter one is `grams @> ARRAY[word]` (exact); a longer one without
  three word characters in a row (pg_trgm finds no trigram in `a.b`) is `grams @>` its pairs,
  rechecked with strpos.

Either way, a word in at least `COMMON` of the owner's `SAMPLE` newest conversations is not
gathered from the index at all: the list walks the owner's conversations newest first and
stops at its limit, and such a word is found early in nearly every conversation it looks at.
The decision reads those few conversations only (`Store._common`, the same walk), never the
index: on PostgreSQL a bitmap scan of the GIN cannot stop early, so counting a common word's
matches there read every one of them (and every owner's entries for it) before the list began.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

log = logging.getLogger(__name__)

OWNER_SPAN = 2**32  # docids per owner: owner key * OWNER_SPAN + 1 ...
TRIGRAM = 3  # the shortest word the trigram index can find
SAMPLE = 16  # the owner's newest conversations that decide whether a word is common
COMMON = 14  # a word in at least this many of them is checked conversation by conversation
PG_INDEX = "ix_message_search_owner_text_grams"
_BLANKS = " \t\n\r"  # never in a query word (it is split on whitespace): not worth a gram

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
    # characters and pairs (nexuschat_grams): only which docids have one, so detail=none
    "CREATE VIRTUAL TABLE message_grams USING fts5(grams, content='', detail=none, "
    "tokenize='ascii')",
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
    "INSERT INTO message_grams (rowid, grams) "
    "SELECT docid, nexuschat_grams(search_text) FROM message_search",
)

_SQLITE_TRIGGERS = (
    # the FTS5 table follows message_search (external content: it is told old values)
    # the FTS5 tables follow message_search (external content and contentless: both are told
    # the old values, the grams recomputed from the old text)
    "CREATE TRIGGER message_search_ai AFTER INSERT ON message_search BEGIN "
    "INSERT INTO message_search_fts (rowid, search_text) VALUES (new.docid, new.search_text); "
    "INSERT INTO message_grams (rowid, grams) "
    "VALUES (new.docid, nexuschat_grams(new.search_text)); END",
    "CREATE TRIGGER message_search_ad AFTER DELETE ON message_search BEGIN "
    "INSERT INTO message_search_fts (message_search_fts, rowid, search_text) "
    "VALUES ('delete', old.docid, old.search_text); "
    "INSERT INTO message_grams (message_grams, rowid, grams) "
    "VALUES ('delete', old.docid, nexuschat_grams(old.search_text)); END",
    "CREATE TRIGGER message_search_au AFTER UPDATE OF search_text ON message_search BEGIN "
    "INSERT INTO message_search_fts (message_search_fts, rowid, search_text) "
    "VALUES ('delete', old.docid, old.search_text); "
    "INSERT INTO message_search_fts (rowid, search_text) VALUES (new.docid, new.search_text); "
    "INSERT INTO message_grams (message_grams, rowid, grams) "
    "VALUES ('delete', old.docid, nexuschat_grams(old.search_text)); "
    "INSERT INTO message_grams (rowid, grams) "
    "VALUES (new.docid, nexuschat_grams(new.search_text)); END",
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


_PG_DDL = (
    "CREATE TABLE message_search (conversation_id VARCHAR(255) NOT NULL, "
    "message_id VARCHAR(255) NOT NULL, owner TEXT NOT NULL, search_text TEXT NOT NULL, "
    "grams TEXT[] NOT NULL, PRIMARY KEY (conversation_id, message_id))",  # no FK: see triggers
    # the characters and pairs of a text, as `grams` below has them (the characters split
    # once: substr(t, i, 2) walks the text from its start each time, quadratic in UTF-8)
    "CREATE FUNCTION nexuschat_grams(t text) RETURNS text[] LANGUAGE sql IMMUTABLE "
    "PARALLEL SAFE AS $$ SELECT coalesce(array_agg(DISTINCT g), '{}') "
    "FROM (SELECT string_to_array(t, NULL) AS c) AS x, "
    "LATERAL (SELECT a FROM unnest(x.c) AS a UNION ALL "
    "SELECT a || b FROM unnest(x.c, x.c[2:]) AS p(a, b) WHERE b IS NOT NULL) AS s(g) "
    "WHERE g !~ '[ \\t\\n\\r]' $$",
)
_PG_BACKFILL = (
    "INSERT INTO message_search (conversation_id, message_id, owner, search_text, grams) "
    "SELECT m.conversation_id, m.id, c.owner, m.search_text, nexuschat_grams(m.search_text) "
    "FROM messages m JOIN conversations c ON c.id = m.conversation_id",
)
_PG_TRIGGERS = (
    # search_path pinned: the triggers find these tables whatever path a writer has
    "CREATE FUNCTION nexuschat_search_message() RETURNS trigger LANGUAGE plpgsql "
    "SET search_path FROM CURRENT AS $$ BEGIN "
    "IF TG_OP = 'INSERT' THEN "
    "INSERT INTO message_search (conversation_id, message_id, owner, search_text, grams) "
    "SELECT NEW.conversation_id, NEW.id, c.owner, NEW.search_text, "
    "nexuschat_grams(NEW.search_text) FROM conversations c WHERE c.id = NEW.conversation_id; "
    "ELSIF TG_OP = 'DELETE' THEN "
    "DELETE FROM message_search "
    "WHERE conversation_id = OLD.conversation_id AND message_id = OLD.id; "
    "ELSIF NEW.search_text IS DISTINCT FROM OLD.search_text THEN "
    "UPDATE message_search SET search_text = NEW.search_text, "
    "grams = nexuschat_grams(NEW.search_text) "
    "WHERE conversation_id = NEW.conversation_id AND message_id = NEW.id; "
    "END IF; RETURN NULL; END $$",
    # deletes (a conversation's cascade too) by trigger, not a foreign key, which would keep
    # `messages` from being dropped or rebuilt by a later step without this table in mind
    "CREATE TRIGGER messages_search AFTER INSERT OR DELETE OR UPDATE OF search_text ON messages "
    "FOR EACH ROW EXECUTE FUNCTION nexuschat_search_message()",
    # a conversation that changes owner (Store.adopt) takes its messages' rows along
    "CREATE FUNCTION nexuschat_search_owner() RETURNS trigger LANGUAGE plpgsql "
    "SET search_path FROM CURRENT AS $$ BEGIN "
    "UPDATE message_search SET owner = NEW.owner WHERE conversation_id = NEW.id; "
    "RETURN NULL; END $$",
    "CREATE TRIGGER conversations_search_owner AFTER UPDATE OF owner ON conversations "
    "FOR EACH ROW WHEN (OLD.owner IS DISTINCT FROM NEW.owner) "
    "EXECUTE FUNCTION nexuschat_search_owner()",
)
_PG_EXTENSIONS = ("pg_trgm", "btree_gin")


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
        schema = _pg_extensions_schema(conn)
        if schema is None:
            log.warning("pg_trgm or btree_gin is not available: conversation search scans "
                        "without an index (run `CREATE EXTENSION pg_trgm; CREATE EXTENSION "
                        "btree_gin` as a superuser before starting NexusChat)")
            return
        for statement in (*_PG_DDL, *_PG_BACKFILL):
            conn.exec_driver_sql(statement)
        conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '256MB'")  # the GIN build
        conn.exec_driver_sql(pg_index_ddl(schema))
        for statement in _PG_TRIGGERS:
            conn.exec_driver_sql(statement)


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
    """The CREATE INDEX statement for PostgreSQL, pg_trgm living in `schema` (btree_gin's
    operator class for the owner is the default one for text, found wherever it lives)."""
    quoted = '"' + schema.replace('"', '""') + '"'
    return (f"CREATE INDEX IF NOT EXISTS {PG_INDEX} ON message_search "
            f"USING gin (owner, search_text {quoted}.gin_trgm_ops, grams)")


def _pg_extensions_schema(conn: sa.Connection) -> str | None:
    """The schema pg_trgm is in, both extensions created here if this role may (they are
    trusted from PostgreSQL 13: a database owner may); None if either is not there."""
    for name in _PG_EXTENSIONS:
        try:
            with conn.begin_nested():
                conn.exec_driver_sql(f"CREATE EXTENSION IF NOT EXISTS {name}")
        except sa.exc.DBAPIError as exc:  # not installed on the server, or not allowed
            log.info("CREATE EXTENSION %s failed: %s", name, str(exc.orig).splitlines()[0])
    found = dict(conn.execute(sa.text(
        "SELECT e.extname, n.nspname FROM pg_extension e "
        "JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname IN :names"
    ).bindparams(sa.bindparam("names", expanding=True)), {"names": list(_PG_EXTENSIONS)}).all())
    return found["pg_trgm"] if len(found) == len(_PG_EXTENSIONS) else None


def pg_indexable(word: str) -> bool:
    """Whether pg_trgm finds a trigram in `LIKE '%word%'`: three word characters in a row.
    Without one, PostgreSQL would still pick the GIN index and read all of the owner's part
    of it, so such words go through `grams` instead."""
    run = 0
    for ch in word:
        run = run + 1 if ch.isalnum() else 0
        if run >= TRIGRAM:
            return True
    return False


def grams(text: str) -> list[str]:
    """The distinct characters and pairs of adjacent characters of `text`, blanks aside."""
    found = {ch for ch in text if ch not in _BLANKS}
    found.update(a + b for a, b in zip(text, text[1:], strict=False)
                 if a not in _BLANKS and b not in _BLANKS)
    return sorted(found)


def gram_token(gram: str) -> str:
    """One gram as an ASCII token of `message_grams` ("5317x4eac" for 北京)."""
    return "x".join(f"{ord(ch):x}" for ch in gram)


def sqlite_grams(text: str | None) -> str:
    """`nexuschat_grams(text)` for SQLite: the tokens of `grams(text)`, space-separated (each
    character spelled once: it runs for every message written)."""
    text = text or ""
    spelled = [None if ch in _BLANKS else f"{ord(ch):x}" for ch in text]
    found = {h for h in spelled if h is not None}
    found.update(f"{a}x{b}" for a, b in zip(spelled, spelled[1:], strict=False)
                 if a is not None and b is not None)
    return " ".join(sorted(found))


def register_sqlite_functions(dbapi_connection) -> None:
    """What the SQLite triggers call, on every connection (a write without it fails)."""
    dbapi_connection.create_function("nexuschat_grams", 1, sqlite_grams, deterministic=True)


def kind(conn: sa.Connection) -> str | None:
    """Which index this database has ("sqlite", "postgresql"), or None: scan."""
    table = {"sqlite": "message_grams", "postgresql": "message_search"}.get(conn.dialect.name)
    return conn.dialect.name if table and sa.inspect(conn).has_table(table) else None


def fts_phrase(word: str) -> str:
    """`word` as one FTS5 phrase: quoted, so every character in it is text, never syntax."""
    return '"' + word.replace('"', '""') + '"'


def owner_range(conn: sa.Connection, owner: str) -> tuple[int, int] | None:
    """The owner's docid range in SQLite's `message_search`; None if they never had a message."""
    key = conn.execute(sa.text("SELECT key FROM search_owners WHERE owner = :o"),
                       {"o": owner}).scalar()
    return None if key is None else (key * OWNER_SPAN, key * OWNER_SPAN + OWNER_SPAN - 1)


message_search = sa.table(  # for the statements below; created by `create`, not metadata
    "message_search", sa.column("docid", sa.BigInteger), sa.column("conversation_id", sa.String),
    sa.column("message_id", sa.String), sa.column("owner", sa.String),
    sa.column("search_text", sa.Text), sa.column("grams", pg.ARRAY(sa.Text)),
)


class OwnerIndex:
    """One owner's part of the index, for the statements of one search."""

    def __init__(self, conn: sa.Connection, dialect: str, owner: str):
        self.dialect = dialect
        self.owner = owner
        self.span = owner_range(conn, owner) if dialect == "sqlite" else None
        self._tags = 0

    @property
    def empty(self) -> bool:
        """The owner never had a message (SQLite knows it without a search)."""
        return self.dialect == "sqlite" and self.span is None

    def _tag(self) -> int:
        self._tags += 1
        return self._tags

    def _docids(self, word: str) -> sa.Subquery:
        """SQLite: the docids of the owner's messages containing `word`."""
        assert self.span is not None
        t = self._tag()
        q, lo, hi = f"q{t}", f"lo{t}", f"hi{t}"
        table, match = (("message_search_fts", fts_phrase(word)) if len(word) >= TRIGRAM
                        else ("message_grams", fts_phrase(gram_token(word))))
        return (sa.text(f"SELECT rowid AS docid FROM {table} WHERE {table} MATCH :{q} "
                        f"AND rowid BETWEEN :{lo} AND :{hi}")
                .bindparams(**{q: match, lo: self.span[0], hi: self.span[1]})
                .columns(docid=sa.BigInteger).subquery(f"docids{t}"))

    def _pg_where(self, word: str) -> list[sa.ColumnElement]:
        ms = message_search
        if pg_indexable(word):
            escaped = word
            for ch in ("\\", "%", "_"):
                escaped = escaped.replace(ch, "\\" + ch)
            found = [ms.c.search_text.like(f"%{escaped}%", escape="\\")]
        elif len(word) < TRIGRAM:
            found = [ms.c.grams.contains(sa.cast([word], pg.ARRAY(sa.Text)))]
        else:  # its pairs narrow it down, the text decides
            pairs = sorted({a + b for a, b in zip(word, word[1:], strict=False)})
            found = [ms.c.grams.contains(sa.cast(pairs, pg.ARRAY(sa.Text))),
                     sa.func.strpos(ms.c.search_text, word) > 0]
        return [ms.c.owner == self.owner, *found]

    def conversations(self, word: str) -> sa.Select:
        """The ids of the owner's conversations with a message containing `word`."""
        ms = message_search
        if self.dialect == "sqlite":
            docs = self._docids(word)
            return sa.select(ms.c.conversation_id).where(ms.c.docid.in_(sa.select(docs.c.docid)))
        return sa.select(ms.c.conversation_id).where(*self._pg_where(word))

    def latest(self, word: str, ids: list[str]) -> sa.Select:
        """(conversation_id, message_id) of the latest message containing `word` in each of
        `ids` that has one."""
        ms = message_search
        if self.dialect == "sqlite":  # docids grow with seq within a conversation
            docs = self._docids(word)
            latest = (sa.select(sa.func.max(ms.c.docid).label("docid"))
                      .where(ms.c.docid.in_(sa.select(docs.c.docid)),
                             ms.c.conversation_id.in_(ids))
                      .group_by(ms.c.conversation_id).subquery())
            return (sa.select(ms.c.conversation_id, ms.c.message_id)
                    .join(latest, latest.c.docid == ms.c.docid))
        found = (sa.select(ms.c.conversation_id, ms.c.message_id)
                 .where(*self._pg_where(word), ms.c.conversation_id.in_(ids)))
        return found
