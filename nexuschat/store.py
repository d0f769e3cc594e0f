"""Conversations kept in a database (SQLite by default, PostgreSQL for hosted deploys).

Every public method takes the owner first and every statement is scoped by it. A conversation
that is missing and one that belongs to someone else look the same, so an id reveals nothing:
queries (`load`, `load_tree`, `list`, `delete`) answer None / [] / False, and commands that must
change something (`add_message`, `save_message`, `set_leaf`, `latest_leaf_under`,
`update_settings`) raise `NotFound`, a KeyError.

Schema migrations are a short ordered list of steps in this module, each run in its own
transaction and recorded in `schema_version`; `Store.open` applies the pending ones. Not Alembic:
the schema is a handful of tables that must work on two dialects, migrations have to run at app
start (Streamlit Cloud and the like give no shell to run a CLI in), and one list in one file,
tested against both databases, is easier to follow than a migration environment.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.dialects import sqlite

from nexuschat import search_index
from nexuschat.conversation import (
    Conversation,
    ConversationTree,
    Message,
    ReplyMeta,
    ToolCall,
    ToolResult,
    first_user_title,
    make_title,
    new_id,
)
from nexuschat.errors import Problem
from nexuschat.gateway import normalize_finish_reason
from nexuschat.images import PreparedImage
from nexuschat.limits import WINDOW_S, LimitHit, Usage, day_start
from nexuschat.tree import branch, latest_leaf, pick_leaf
from nexuschat.usage import DAY_S, DayUsage, ModelSpeed, OwnerUsage, Standing, UsageReport, day_of
from nexuschat.user_tools import MAX_TOOLS_PER_OWNER, UserTool

DATABASE_URL_ENV = "NEXUSCHAT_DATABASE_URL"
DATA_DIR_ENV = "NEXUSCHAT_DATA_DIR"
SQLITE_FILENAME = "nexuschat.sqlite3"
SNIPPET_CHARS = 120
_SQLITE_BUSY_TIMEOUT_MS = 15_000  # a writer waits this long for another one instead of failing
_MIGRATION_LOCK = 0x6E657875  # pg_advisory_xact_lock key: one migrating replica at a time
_LIKE_ESCAPE = "\\"
T = TypeVar("T")


class NotFound(KeyError):
    """No such conversation (or message) for this owner; someone else's counts as none."""


class StoreError(RuntimeError):
    """The database could not do what was asked; `reason` says why in one word (an i18n key's
    last part: unreachable, full, read_only, schema, unexpected)."""

    def __init__(self, detail: str, reason: str = "unexpected") -> None:
        super().__init__(detail)
        self.reason = reason


class StoreBusy(StoreError):
    """The database could not take the write in time (locked, or no free connection): a
    passing overload, worth retrying; every other failure is a plain StoreError."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail, "busy")


class SchemaTooNew(RuntimeError):
    """The database was migrated by a newer NexusChat than this one."""


@dataclass(frozen=True)
class BusyRetry:
    """How a write the database was too busy for is tried again: attempts, and the waits."""

    attempts: int = 3
    first_wait_s: float = 0.5
    factor: float = 2.0  # each wait this many times the one before

    def waits(self) -> tuple[float, ...]:
        """The pauses between attempts, in seconds (one fewer than the attempts)."""
        return tuple(self.first_wait_s * self.factor**i for i in range(self.attempts - 1))


BUSY_RETRY = BusyRetry()  # 3 attempts, 0.5 s and 1 s apart


def retry_busy(write: Callable[[], T], policy: BusyRetry = BUSY_RETRY, *,
               sleep: Callable[[float], object] = time.sleep) -> T:
    """`write()`, tried again after each of the policy's waits while it raises StoreBusy; the
    last attempt's StoreBusy is raised."""
    for wait in policy.waits():
        try:
            return write()
        except StoreBusy:
            sleep(wait)
    return write()


@dataclass(frozen=True)
class ConversationSummary:
    """One row of the conversation list."""

    id: str
    title: str
    updated_at: float
    message_count: int  # every stored message, all branches
    snippet: str  # around the first search word, or the start of the current leaf


# --- schema -------------------------------------------------------------------------------

_METADATA = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)
_ID = sa.String(255)

schema_version = sa.Table(
    "schema_version", _METADATA,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("applied_at", sa.Double, nullable=False),
)

conversations = sa.Table(
    "conversations", _METADATA,
    sa.Column("id", _ID, primary_key=True),
    sa.Column("owner", _ID, nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("title_search", sa.Text, nullable=False),  # lower() in Python: see _folded
    sa.Column("system_prompt", sa.Text, nullable=False),
    sa.Column("model", sa.Text, nullable=False),
    sa.Column("params", sa.JSON, nullable=False),
    sa.Column("leaf_id", _ID),  # the message shown last; no FK: it may point at nothing
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("updated_at", sa.Double, nullable=False),
    sa.Index(None, "owner", "updated_at"),
)

# Message ids are unique within their conversation only: an exported conversation can be
# imported again (by anyone) with the ids it has.
messages = sa.Table(
    "messages", _METADATA,
    sa.Column("conversation_id", _ID,
              sa.ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("id", _ID, primary_key=True),
    sa.Column("seq", sa.Integer, nullable=False),  # creation order within the conversation
    sa.Column("parent_id", _ID),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("content", sa.Text, nullable=False),
    sa.Column("search_text", sa.Text, nullable=False),
    sa.Column("meta", sa.JSON(none_as_null=True)),
    sa.Column("earlier_attempts", sa.JSON, nullable=False),
    sa.Column("created_at", sa.Double, nullable=False),
    # What a reasoning model thought before answering (schema version 3); never searched.
    sa.Column("reasoning", sa.Text, nullable=False, server_default=""),
    # A reply's tool calls, and which call a tool message answers (schema version 5).
    sa.Column("tool_calls", sa.JSON, nullable=False, server_default="[]"),
    sa.Column("tool_result", sa.JSON(none_as_null=True)),
    sa.UniqueConstraint("conversation_id", "seq"),
)

# Content-addressed: the compressed bytes that were sent, once however many messages use them.
images = sa.Table(
    "images", _METADATA,
    sa.Column("sha256", sa.String(64), primary_key=True),
    sa.Column("mime", sa.String(100), nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
    sa.Column("width", sa.Integer, nullable=False),
    sa.Column("height", sa.Integer, nullable=False),
)

message_images = sa.Table(
    "message_images", _METADATA,
    sa.Column("conversation_id", _ID, primary_key=True),
    sa.Column("message_id", _ID, primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("sha256", sa.String(64), sa.ForeignKey("images.sha256"), nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("source_bytes", sa.BigInteger, nullable=False),
    sa.Column("source_width", sa.Integer, nullable=False),
    sa.Column("source_height", sa.Integer, nullable=False),
    sa.ForeignKeyConstraint(["conversation_id", "message_id"],
                            ["messages.conversation_id", "messages.id"], ondelete="CASCADE"),
    sa.Index(None, "sha256"),  # "is this image still used?" when a conversation is deleted
)


# One row per request sent on an owner's behalf: what the hosted limits count (every replica
# reads the same rows) and what the Usage page sums (schema version 6 added what it cost, its
# conversation and how long it took). Kept when conversations are deleted, so deleting one
# gives no tokens back.
request_log = sa.Table(
    "request_log", _METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("owner", _ID, nullable=False),
    sa.Column("started_at", sa.Double, nullable=False),
    sa.Column("ended_at", sa.Double),  # None while the reply is being written
    sa.Column("model", sa.Text, nullable=False),
    sa.Column("deploy_key", sa.Boolean, nullable=False),  # the deployer's key paid for it
    sa.Column("status", sa.String(16)),  # complete / stopped / error, once ended
    sa.Column("error_code", sa.Text),
    sa.Column("prompt_tokens", sa.Integer),
    sa.Column("completion_tokens", sa.Integer),
    sa.Column("total_tokens", sa.Integer),  # as the server reported it
    sa.Column("estimated_tokens", sa.Integer),  # from characters, where it reported none
    sa.Column("ttft_s", sa.Double),
    # Schema version 6 (nexuschat.cost): the conversation it answered, the prompt tokens read
    # from the provider's cache, what it cost in `currency` at the price stored with its
    # reply (None: no usage or no price), and how long it took (tokens per second).
    sa.Column("conversation_id", _ID),
    sa.Column("cached_tokens", sa.Integer),
    sa.Column("cost", sa.Double),
    sa.Column("currency", sa.String(3)),
    sa.Column("duration_s", sa.Double),
    sa.Index(None, "owner", "started_at"),
    sa.Index(None, "conversation_id"),  # a conversation's total
    sa.Index(None, "started_at"),  # an admin's totals of every owner over a period
)
V6_LOG_COLUMNS = ("conversation_id", "cached_tokens", "cost", "currency", "duration_s")
V6_LOG_INDEXES = ("ix_request_log_conversation_id", "ix_request_log_started_at")

# --- migrations ---------------------------------------------------------------------------
# Append a step to change the schema; never edit a released one. Step 1 creates the tables as
# declared above, so a later step that alters a declared table must first freeze step 1 (copy
# the old Table definitions into it). A test checks that migrating from empty gives exactly the
# declared columns.

Step = Callable[[sa.Connection], None]


def _v1_tables() -> list[sa.Table]:
    """The tables as version 1 created them (frozen here when version 3 altered `messages`)."""
    md = sa.MetaData(naming_convention=_METADATA.naming_convention)
    v1_conversations = sa.Table(
        "conversations", md,
        sa.Column("id", _ID, primary_key=True),
        sa.Column("owner", _ID, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("title_search", sa.Text, nullable=False),
        sa.Column("system_prompt", sa.Text, nullable=False),
        sa.Column("model", sa.Text, nullable=False),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("leaf_id", _ID),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("updated_at", sa.Double, nullable=False),
        sa.Index(None, "owner", "updated_at"),
    )
    v1_messages = sa.Table(
        "messages", md,
        sa.Column("conversation_id", _ID,
                  sa.ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("id", _ID, primary_key=True),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("parent_id", _ID),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("search_text", sa.Text, nullable=False),
        sa.Column("meta", sa.JSON(none_as_null=True)),
        sa.Column("earlier_attempts", sa.JSON, nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.UniqueConstraint("conversation_id", "seq"),
    )
    v1_images = sa.Table(
        "images", md,
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("mime", sa.String(100), nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("width", sa.Integer, nullable=False),
        sa.Column("height", sa.Integer, nullable=False),
    )
    v1_message_images = sa.Table(
        "message_images", md,
        sa.Column("conversation_id", _ID, primary_key=True),
        sa.Column("message_id", _ID, primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("sha256", sa.String(64), sa.ForeignKey("images.sha256"), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("source_bytes", sa.BigInteger, nullable=False),
        sa.Column("source_width", sa.Integer, nullable=False),
        sa.Column("source_height", sa.Integer, nullable=False),
        sa.ForeignKeyConstraint(["conversation_id", "message_id"],
                                ["messages.conversation_id", "messages.id"],
                                ondelete="CASCADE"),
        sa.Index(None, "sha256"),
    )
    return [v1_conversations, v1_messages, v1_images, v1_message_images]


def _v1_initial(conn: sa.Connection) -> None:
    tables = _v1_tables()
    tables[0].metadata.create_all(conn, tables=tables, checkfirst=False)


def _v2_request_log(conn: sa.Connection) -> None:
    # The table as version 2 created it (frozen here when version 6 added its cost columns).
    md = sa.MetaData(naming_convention=_METADATA.naming_convention)
    sa.Table(
        "request_log", md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("owner", _ID, nullable=False),
        sa.Column("started_at", sa.Double, nullable=False),
        sa.Column("ended_at", sa.Double),
        sa.Column("model", sa.Text, nullable=False),
        sa.Column("deploy_key", sa.Boolean, nullable=False),
        sa.Column("status", sa.String(16)),
        sa.Column("error_code", sa.Text),
        sa.Column("prompt_tokens", sa.Integer),
        sa.Column("completion_tokens", sa.Integer),
        sa.Column("total_tokens", sa.Integer),
        sa.Column("estimated_tokens", sa.Integer),
        sa.Column("ttft_s", sa.Double),
        sa.Index(None, "owner", "started_at"),
    ).create(conn, checkfirst=False)


def _v3_reasoning(conn: sa.Connection) -> None:
    # A column with a constant default: existing rows read "" (no rewrite on either dialect).
    conn.execute(sa.text("ALTER TABLE messages ADD COLUMN reasoning TEXT NOT NULL DEFAULT ''"))


def _v4_user_tools(conn: sa.Connection) -> None:
    user_tools.create(conn, checkfirst=False)  # declared with its methods, at the end


def _v5_tools(conn: sa.Connection) -> None:
    # Constant defaults again: existing rows read no calls and no result, without a rewrite.
    conn.execute(sa.text("ALTER TABLE messages ADD COLUMN tool_calls JSON NOT NULL DEFAULT '[]'"))
    conn.execute(sa.text("ALTER TABLE messages ADD COLUMN tool_result JSON"))


def _v6_cost(conn: sa.Connection) -> None:
    # Nullable columns without a default: existing rows read None (no cost recorded), no
    # rewrite on either dialect. Then the indexes for a conversation's total and an admin's
    # totals, and the login names those totals are shown by (declared with their methods).
    for name in V6_LOG_COLUMNS:
        kind = request_log.c[name].type.compile(dialect=conn.dialect)
        conn.execute(sa.text(f"ALTER TABLE request_log ADD COLUMN {name} {kind}"))
    for index in request_log.indexes:
        if index.name in V6_LOG_INDEXES:
            index.create(conn)
    accounts.create(conn, checkfirst=False)


def _v7_search_index(conn: sa.Connection) -> None:
    search_index.create(conn)  # SQLite: FTS5 tables + triggers; PostgreSQL: message_search, GIN


MIGRATIONS: tuple[Step, ...] = (_v1_initial, _v2_request_log, _v3_reasoning, _v4_user_tools,
                                _v5_tools, _v6_cost, _v7_search_index)
MIGRATION_WAIT_S = 600.0  # SQLite: how long a starting process waits for another's migration


def migrate(engine: sa.Engine, steps: Sequence[Step] = MIGRATIONS) -> int:
    """Apply the pending steps in order, each in its own transaction; returns the version."""
    with _transaction(engine) as conn:
        current = _schema_version(conn)
    _refuse_newer(current, len(steps))
    for version, step in enumerate(steps, 1):
        if version > current:
            current = _wait_for_lock(lambda v=version, s=step: _apply(engine, v, s, len(steps)))
    return current


def _apply(engine: sa.Engine, version: int, step: Step, known: int) -> int:
    """Run one step unless another process has; the version the database is at after it."""
    with _transaction(engine, write=True) as conn:
        if conn.dialect.name == "postgresql":  # replicas starting together take turns
            # keyed by schema too: a long step (indexing a big database) holds the lock, and
            # other deploys (or tests) in other schemas of the database need not wait for it
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(
                _MIGRATION_LOCK, sa.func.hashtext(sa.func.current_schema()))))
        schema_version.create(conn, checkfirst=True)
        current = _schema_version(conn)  # another process may have got here first
        _refuse_newer(current, known)
        if version <= current:
            return current
        step(conn)
        conn.execute(schema_version.insert().values(version=version, applied_at=time.time()))
        return version


def _wait_for_lock(apply: Callable[[], T], wait_s: float | None = None) -> T:
    """`apply()`, again while SQLite's write lock is held by another process's migration
    (a long step, such as indexing a big database, outlasts the busy timeout)."""
    deadline = time.monotonic() + (MIGRATION_WAIT_S if wait_s is None else wait_s)
    while True:
        try:
            return apply()
        except StoreBusy:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _schema_version(conn: sa.Connection) -> int:
    if not sa.inspect(conn).has_table(schema_version.name):
        return 0
    return conn.execute(sa.select(sa.func.max(schema_version.c.version))).scalar() or 0


def _refuse_newer(current: int, known: int) -> None:
    if current > known:
        raise SchemaTooNew(
            f"the database is at schema version {current}, this NexusChat knows {known}: "
            "upgrade NexusChat (or point it at another database)"
        )


# --- engine -------------------------------------------------------------------------------


def data_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """`NEXUSCHAT_DATA_DIR`, else `$XDG_DATA_HOME/nexuschat` or `~/.local/share/nexuschat`."""
    configured = environ.get(DATA_DIR_ENV, "").strip()
    if configured:
        return Path(configured).expanduser()
    xdg = environ.get("XDG_DATA_HOME", "").strip()
    return (Path(xdg) if xdg else Path.home() / ".local" / "share") / "nexuschat"


def default_database_url(environ: Mapping[str, str] = os.environ) -> str:
    """`NEXUSCHAT_DATABASE_URL`, else a SQLite file in the user's data dir (created)."""
    url = environ.get(DATABASE_URL_ENV, "").strip()
    if url:
        return url
    folder = data_dir(environ)
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / SQLITE_FILENAME}"


def normalize_url(url: str | sa.URL) -> sa.URL:
    """`postgres://` and `postgresql://` (as hosts hand them out) use psycopg 3."""
    parsed = sa.make_url(url)
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def make_engine(url: str | sa.URL) -> sa.Engine:
    """An engine set up for the store: SQLite in WAL mode with foreign keys and a busy timeout."""
    parsed = normalize_url(url)
    if parsed.get_backend_name() != "sqlite":
        return sa.create_engine(parsed, pool_pre_ping=True)
    if parsed.database in (None, "", ":memory:"):
        # Each connection would get a database of its own; the store uses many connections.
        raise ValueError("an in-memory SQLite database cannot hold the store: use a file")
    engine = sa.create_engine(parsed)
    sa.event.listen(engine, "connect", _sqlite_connect)
    sa.event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_connect(dbapi_connection, _record) -> None:
    # The driver's own implicit BEGIN is turned off; _sqlite_begin emits ours.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer
    # WAL's recommended durability: a commit is safe from a crash of the app (the test kills
    # it mid-reply), and is written to disk at the next checkpoint rather than fsynced each
    # time; only an OS crash or power cut can lose the last commits. Three fsynced commits
    # per turn were a third of the app's own time to first token.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={_SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()
    search_index.register_sqlite_functions(dbapi_connection)  # the search index's triggers


def _sqlite_begin(conn: sa.Connection) -> None:
    # A deferred transaction that reads and then writes fails at once with SQLITE_BUSY when
    # another writer committed in between (the busy timeout does not apply), so writers take
    # the write lock up front and wait their turn.
    write = conn.get_execution_options().get("nexuschat_write", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


@contextmanager
def _transaction(engine: sa.Engine, write: bool = False,
                 wait: bool = True) -> Iterator[sa.Connection]:
    try:
        with engine.connect() as conn:
            if write:
                conn.execution_options(nexuschat_write=True)
            with _busy_timeout(conn, None if wait else 0), conn.begin():
                yield conn
    except sa.exc.TimeoutError as exc:  # no free connection in the pool: a passing overload
        raise StoreBusy(str(exc)[:200]) from exc
    except (sa.exc.OperationalError, sa.exc.ProgrammingError, sa.exc.InternalError,
            sa.exc.DataError) as exc:  # not IntegrityError: callers say what a duplicate means
        raise failure(exc) from exc


# SQLite's result codes (sqlite3.Error.sqlite_errorcode, primary code in the low byte).
_SQLITE_BUSY = {5, 6}  # SQLITE_BUSY, SQLITE_LOCKED: another writer holds the lock
_SQLITE_REASONS = {8: "read_only", 13: "full", 14: "unreachable", 10: "unreachable",
                   1: "schema", 11: "schema", 26: "schema"}  # READONLY, FULL, CANTOPEN, IOERR,
#                                                             ERROR (no such table...), CORRUPT,
#                                                             NOTADB
# PostgreSQL SQLSTATEs worth retrying: lock or statement timeout, serialization failure,
# deadlock, too many connections; and classes that say why nothing else will help.
_PG_BUSY = {"55P03", "57014", "40001", "40P01", "53300"}
_PG_REASONS = {"53100": "full", "25006": "read_only", "42P01": "schema", "42703": "schema",
               "08": "unreachable", "57P": "unreachable"}


def failure(exc: sa.exc.DBAPIError) -> StoreError:
    """A database error as what it means for the user: StoreBusy for a lock or connection-pool
    wait (retry soon), else a StoreError with its reason (retrying will not help)."""
    orig = exc.orig
    detail = str(orig if orig is not None else exc).splitlines()[0][:200] if str(orig) else ""
    code = getattr(orig, "sqlite_errorcode", None)
    if code is not None:
        primary = code & 0xFF
        if primary in _SQLITE_BUSY:
            return StoreBusy(detail)
        return StoreError(detail, _SQLITE_REASONS.get(primary, "unexpected"))
    state = str(getattr(orig, "sqlstate", "") or "")
    if state in _PG_BUSY:
        return StoreBusy(detail)
    for prefix, reason in _PG_REASONS.items():
        if state.startswith(prefix):
            return StoreError(detail, reason)
    if isinstance(exc, sa.exc.OperationalError) and not state:
        return StoreError(detail, "unreachable")  # no answer at all: a connection that failed
    return StoreError(detail)


@contextmanager
def _busy_timeout(conn: sa.Connection, ms: int | None) -> Iterator[None]:
    """SQLite: wait `ms` (0: not at all) for another writer's lock, then the usual again."""
    if ms is None or conn.dialect.name != "sqlite":
        yield  # PostgreSQL locks rows, and writers of different conversations never meet
        return
    dbapi = conn.connection.driver_connection
    dbapi.execute(f"PRAGMA busy_timeout={ms}")
    try:
        yield
    finally:
        dbapi.execute(f"PRAGMA busy_timeout={_SQLITE_BUSY_TIMEOUT_MS}")


# --- plain data <-> rows ------------------------------------------------------------------


def meta_to_json(meta: ReplyMeta | None) -> dict | None:
    """A reply's metadata as JSON-ready data (None stays None)."""
    return None if meta is None else asdict(meta)


def meta_from_json(data: Mapping | None) -> ReplyMeta | None:
    """The inverse of `meta_to_json`; keys this version does not know are ignored.

    A reply stored before finish reasons were normalized has only the server's word: it is
    kept as the raw one and normalized (`max_tokens` was stored as it came).
    """
    if data is None:
        return None
    known = {f.name for f in fields(ReplyMeta)}
    values = {k: v for k, v in data.items() if k in known}
    if "error_params" in values:
        values["error_params"] = dict(values["error_params"] or {})
    if "skipped_parts" in values:
        values["skipped_parts"] = tuple(str(v) for v in values["skipped_parts"] or ())
    if "raw_finish_reason" not in values and isinstance(values.get("finish_reason"), str):
        values["raw_finish_reason"] = values["finish_reason"]
        values["finish_reason"] = normalize_finish_reason(values["finish_reason"])
    return ReplyMeta(**values)


def calls_to_json(calls: Sequence[ToolCall]) -> list[dict]:
    """A reply's tool calls as JSON-ready data."""
    return [asdict(call) for call in calls]


def calls_from_json(data: object) -> tuple[ToolCall, ...]:
    """The inverse of `calls_to_json`; entries that are not calls are left out."""
    if not isinstance(data, list):
        return ()
    return tuple(
        ToolCall(str(c.get("id") or ""), str(c.get("name") or ""), str(c.get("arguments") or ""),
                 str(c.get("source") or ""))
        for c in data if isinstance(c, Mapping)
    )


def result_to_json(result: ToolResult | None) -> dict | None:
    """Which call a tool message answers, as JSON-ready data (None stays None)."""
    return None if result is None else asdict(result)


def result_from_json(data: object) -> ToolResult | None:
    """The inverse of `result_to_json`; keys this version does not know are ignored."""
    if not isinstance(data, Mapping):
        return None
    status = data.get("status") if data.get("status") in ("ok", "error", "stopped") else "ok"
    duration = data.get("duration_s")
    return ToolResult(str(data.get("call_id") or ""), str(data.get("name") or ""), status,
                      duration if isinstance(duration, int | float) else None)


def _folded(text: str) -> str:
    # Searching compares lower-cased text, lowered here rather than by SQL lower(), which
    # folds only ASCII on SQLite and depends on the server's locale on PostgreSQL.
    return text.lower()


def _like_pattern(word: str) -> str:
    for ch in (_LIKE_ESCAPE, "%", "_"):
        word = word.replace(ch, _LIKE_ESCAPE + ch)
    return f"%{word}%"


def _contains(conn: sa.Connection, column: sa.ColumnElement, word: str) -> sa.ColumnElement:
    """`column` contains `word` (both folded), as a plain comparison no index serves."""
    if conn.dialect.name == "postgresql":
        return sa.func.strpos(column, word) > 0
    return sa.func.instr(column, word) > 0


def _has_message_with(conn: sa.Connection, conversation_id: sa.ColumnElement,
                      word: str) -> sa.ColumnElement:
    """The conversation has a message containing `word`: its messages read in order up to the
    first that does. A scalar subquery with LIMIT 1, not EXISTS: PostgreSQL turns EXISTS
    into a join over every message, and the list's LIMIT then no longer stops the work."""
    m = messages
    first = (sa.select(sa.literal(1)).where(m.c.conversation_id == conversation_id,
                                           _contains(conn, m.c.search_text, word))
             .limit(1).correlate(conversations).scalar_subquery())
    return first.is_not(None)


def _snippet(text: str, word: str = "") -> str:
    flat = " ".join(text.split())
    at = flat.lower().find(word) if word else -1
    start = max(0, at - SNIPPET_CHARS // 3) if at > 0 else 0
    piece = flat[start:start + SNIPPET_CHARS]
    return ("…" if start else "") + piece + ("…" if start + SNIPPET_CHARS < len(flat) else "")


def _message_row(conversation_id: str, message: Message, seq: int) -> dict:
    return {
        "conversation_id": conversation_id,
        "id": message.id,
        "seq": seq,
        "parent_id": message.parent_id,
        "role": message.role,
        "content": message.content,
        "search_text": _folded(message.content),
        "meta": meta_to_json(message.meta),
        "earlier_attempts": list(message.earlier_attempts),
        "created_at": message.created_at,
        "reasoning": message.reasoning,
        "tool_calls": calls_to_json(message.tool_calls),
        "tool_result": result_to_json(message.tool_result),
    }


def _links(rows: Sequence[sa.Row]) -> list[tuple[str, str | None]]:
    """(id, parent id) of each message row; `rows` are in seq order, as the tree wants."""
    return [(row.id, row.parent_id) for row in rows]


# --- the store ----------------------------------------------------------------------------


class Store:
    """All conversations of all owners; thread-safe, holds nothing but the engine."""

    def __init__(self, engine: sa.Engine):
        self._engine = engine
        with _transaction(engine) as conn:  # None (no trigram FTS5, no pg_trgm): the scan
            self._index = search_index.kind(conn)

    @classmethod
    def open(cls, url: str | None = None) -> Store:
        """Connect (None: `default_database_url()`) and apply pending migrations."""
        engine = make_engine(url or default_database_url())
        try:
            migrate(engine)
        except BaseException:
            engine.dispose()
            raise
        return cls(engine)

    def close(self) -> None:
        """Release the connection pool."""
        self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    def __repr__(self) -> str:  # never the password
        return f"Store({self._engine.url.render_as_string(hide_password=True)!r})"

    # --- reading ---

    def list(self, owner: str, query: str = "", limit: int = 200) -> list[ConversationSummary]:
        """The owner's conversations, newest first; `query` words must all match (any case):
        each is found in the title or some message's text, as a substring of the folded text
        (the index finds them: nexuschat/search_index.py)."""
        c, m = conversations, messages
        leaf = m.alias("leaf")
        count = (sa.select(sa.func.count()).where(m.c.conversation_id == c.c.id)
                 .correlate(c).scalar_subquery())
        stmt = (
            sa.select(c.c.id, c.c.title, c.c.updated_at, count.label("n"),
                      sa.func.substr(leaf.c.content, 1, 4 * SNIPPET_CHARS).label("leaf_text"))
            .select_from(c.outerjoin(leaf, sa.and_(leaf.c.conversation_id == c.c.id,
                                                   leaf.c.id == c.c.leaf_id)))
            .where(c.c.owner == owner)
            .order_by(c.c.updated_at.desc(), c.c.created_at.desc(), c.c.id)
            .limit(max(0, limit))
        )
        words = _folded(query).split()
        with _transaction(self._engine) as conn:
            index = search_index.OwnerIndex(conn, self._index, owner) if self._index else None
            common = {w: index is None or self._common(conn, owner, w) for w in set(words)}
            for word in words:
                if common[word]:  # checked conversation by conversation, newest first
                    in_text = _has_message_with(conn, c.c.id, word)
                elif index.empty:
                    in_text = sa.false()
                else:
                    in_text = c.c.id.in_(index.conversations(word))
                pattern = _like_pattern(word)
                stmt = stmt.where(sa.or_(c.c.title_search.like(pattern, escape=_LIKE_ESCAPE),
                                         in_text))
            rows = conn.execute(stmt).all()
            ids = [r.id for r in rows]
            if not words or not ids:
                hits = {}
            elif common[words[0]]:
                hits = self._latest_hits(conn, ids, words[0])
            else:
                hits = self._indexed_latest_hits(conn, ids, words[0], index)
        return [
            ConversationSummary(
                r.id, r.title, r.updated_at, r.n,
                _snippet(hits[r.id], words[0]) if r.id in hits else _snippet(r.leaf_text or ""),
            )
            for r in rows
        ]

    @staticmethod
    def _common(conn: sa.Connection, owner: str, word: str) -> bool:
        """Whether `word` is in at least COMMON of the owner's SAMPLE newest conversations
        (title or a message), read as the walk reads them: the index is not asked."""
        if search_index.COMMON <= 0:
            return True
        c = conversations
        newest = (sa.select(c.c.id, c.c.title_search).where(c.c.owner == owner)
                  .order_by(c.c.updated_at.desc(), c.c.created_at.desc(), c.c.id)
                  .limit(search_index.SAMPLE).subquery())
        m = messages
        first = (sa.select(sa.literal(1)).where(m.c.conversation_id == newest.c.id,
                                               _contains(conn, m.c.search_text, word))
                 .limit(1).correlate(newest).scalar_subquery())
        found = conn.execute(
            sa.select(sa.func.count()).select_from(newest)
            .where(sa.or_(newest.c.title_search.like(_like_pattern(word), escape=_LIKE_ESCAPE),
                          first.is_not(None)))).scalar()
        return found >= search_index.COMMON

    @staticmethod
    def _latest_hits(conn: sa.Connection, ids: list[str], word: str) -> dict[str, str]:
        """The text of the latest message containing `word`, for each conversation: each
        conversation's messages read from its last one back, to the first with the word."""
        c, m = conversations, messages
        latest = (sa.select(m.c.content).where(m.c.conversation_id == c.c.id,
                                               _contains(conn, m.c.search_text, word))
                  .order_by(m.c.seq.desc()).limit(1).correlate(c).scalar_subquery())
        rows = conn.execute(sa.select(c.c.id, latest.label("content")).where(c.c.id.in_(ids)))
        return {r.id: r.content for r in rows if r.content is not None}

    @staticmethod
    def _indexed_latest_hits(conn: sa.Connection, ids: list[str], word: str,
                             index: search_index.OwnerIndex) -> dict[str, str]:
        """`_latest_hits` through the index, for a word in few of the owner's messages."""
        if index.empty:
            return {}
        m = messages
        found = index.latest(word, ids).subquery()
        rows = conn.execute(
            sa.select(m.c.conversation_id, m.c.content).join(
                found, sa.and_(m.c.conversation_id == found.c.conversation_id,
                               m.c.id == found.c.message_id))
            .order_by(m.c.seq))
        return {r.conversation_id: r.content for r in rows}  # the latest one stays

    def load(self, owner: str, conversation_id: str,
             leaf_id: str | None = None) -> Conversation | None:
        """The branch ending at `leaf_id` (default: the current leaf), or None if not the owner's.

        A `leaf_id` that is not in the conversation is ignored; a stored leaf that points
        nowhere falls back to the latest message.
        """
        with _transaction(self._engine) as conn:
            loaded = self._load(conn, owner, conversation_id, leaf_id, whole_tree=False)
        return None if loaded is None else loaded.conversation

    def load_tree(self, owner: str, conversation_id: str) -> ConversationTree | None:
        """Every message of every branch in creation order, the current branch and its leaf."""
        with _transaction(self._engine) as conn:
            return self._load(conn, owner, conversation_id, None, whole_tree=True)

    def _load(self, conn: sa.Connection, owner: str, conversation_id: str,
              leaf_id: str | None, *, whole_tree: bool) -> ConversationTree | None:
        header = conn.execute(
            sa.select(conversations).where(conversations.c.id == conversation_id,
                                           conversations.c.owner == owner)
        ).first()
        if header is None:
            return None
        # Every branch in one query: branches are few (edits, regenerations), so the path is
        # most of the rows anyway, and the tree is needed to find the path and its siblings.
        rows = conn.execute(
            sa.select(messages).where(messages.c.conversation_id == conversation_id)
            .order_by(messages.c.seq)
        ).all()
        leaf = pick_leaf([r.id for r in rows], leaf_id, header.leaf_id)
        shown = branch(_links(rows), leaf)
        wanted = {r.id for r in rows} if whole_tree else set(shown.path)
        pictures = self._images(conn, conversation_id, wanted)
        built = {
            r.id: Message(
                role=r.role, content=r.content, images=pictures.get(r.id, ()),
                meta=meta_from_json(r.meta), earlier_attempts=tuple(r.earlier_attempts),
                id=r.id, parent_id=r.parent_id, created_at=r.created_at,
                reasoning=r.reasoning, tool_calls=calls_from_json(r.tool_calls),
                tool_result=result_from_json(r.tool_result),
            )
            for r in rows if r.id in wanted
        }
        conversation = Conversation(
            messages=tuple(built[mid] for mid in shown.path), system_prompt=header.system_prompt,
            id=header.id, title=header.title, model=header.model, params=dict(header.params),
            created_at=header.created_at, updated_at=header.updated_at, siblings=shown.siblings,
        )
        every = tuple(built[r.id] for r in rows) if whole_tree else ()
        return ConversationTree(conversation=conversation, messages=every, leaf_id=leaf)

    @staticmethod
    def _images(conn: sa.Connection, conversation_id: str,
                wanted: set[str]) -> dict[str, tuple[PreparedImage, ...]]:
        mi = message_images
        uses = [
            u for u in conn.execute(
                sa.select(mi).where(mi.c.conversation_id == conversation_id)
                .order_by(mi.c.message_id, mi.c.position)
            )
            if u.message_id in wanted
        ]
        if not uses:
            return {}
        blobs = {
            b.sha256: b for b in conn.execute(
                sa.select(images).where(images.c.sha256.in_({u.sha256 for u in uses}))
            )
        }
        out: dict[str, list[PreparedImage]] = {}
        for u in uses:
            blob = blobs[u.sha256]
            out.setdefault(u.message_id, []).append(PreparedImage(
                data=bytes(blob.data), mime=blob.mime, width=blob.width, height=blob.height,
                name=u.name, source_bytes=u.source_bytes, source_width=u.source_width,
                source_height=u.source_height,
            ))
        return {k: tuple(v) for k, v in out.items()}

    def siblings(self, owner: str, conversation_id: str, message_id: str) -> tuple[str, ...]:
        """The ids of `message_id` and its siblings (its parent's children) in creation order;
        () when it has none. Cheaper than `load` after a turn, when only these can change."""
        with _transaction(self._engine) as conn:
            self._require(conn, owner, conversation_id)
            parent = (sa.select(messages.c.parent_id)
                      .where(messages.c.conversation_id == conversation_id,
                             messages.c.id == message_id).scalar_subquery())
            group = conn.execute(
                sa.select(messages.c.id)
                .where(messages.c.conversation_id == conversation_id,
                       messages.c.parent_id.is_not_distinct_from(parent))
                .order_by(messages.c.seq)
            ).scalars().all()
        return tuple(group) if len(group) > 1 else ()

    def latest_leaf_under(self, owner: str, conversation_id: str, message_id: str) -> str:
        """Descend from `message_id` through the most recent child each time to a leaf."""
        with _transaction(self._engine) as conn:
            self._require(conn, owner, conversation_id)
            rows = conn.execute(
                sa.select(messages.c.id, messages.c.parent_id)
                .where(messages.c.conversation_id == conversation_id).order_by(messages.c.seq)
            ).all()
        if message_id not in {r.id for r in rows}:
            raise NotFound(message_id)
        return latest_leaf(_links(rows), message_id)

    # --- writing ---

    def create(self, owner: str, conversation: Conversation) -> None:
        """Store a new conversation and its messages (a path; a missing parent link is the
        previous message). Raises ValueError if its id is taken."""
        path: list[Message] = []
        for m in conversation.messages:
            if path and m.parent_id is None:
                m = replace(m, parent_id=path[-1].id)
            path.append(m)
        leaf = path[-1].id if path else None
        self._insert_conversation(owner, conversation, path, leaf)

    def create_from_tree(self, owner: str, tree: ConversationTree) -> str:
        """Import every branch with the ids given; returns the id (a new one if it was taken)."""
        items = list(tree.messages or tree.conversation.messages)
        ids = [m.id for m in items]
        if len(set(ids)) != len(ids):
            raise ValueError("two messages have the same id")
        dangling = [m.id for m in items if m.parent_id is not None and m.parent_id not in ids]
        if dangling:
            raise ValueError(f"messages whose parent is missing: {dangling[:5]}")
        leaf = pick_leaf(ids, tree.leaf_id)
        conversation = tree.conversation
        with _transaction(self._engine) as conn:
            taken = conn.execute(
                sa.select(conversations.c.id).where(conversations.c.id == conversation.id)
            ).first()
        if taken:
            conversation = replace(conversation, id=new_id())
        self._insert_conversation(owner, conversation, items, leaf)
        return conversation.id

    def _insert_conversation(self, owner: str, conversation: Conversation,
                             items: list[Message], leaf: str | None) -> None:
        title = conversation.title or first_user_title(items)
        try:
            with _transaction(self._engine, write=True) as conn:
                conn.execute(conversations.insert().values(
                    id=conversation.id, owner=owner, title=title, title_search=_folded(title),
                    system_prompt=conversation.system_prompt, model=conversation.model,
                    params=dict(conversation.params), leaf_id=leaf,
                    created_at=conversation.created_at, updated_at=conversation.updated_at,
                ))
                self._insert_messages(conn, conversation.id, items, first_seq=1)
        except sa.exc.IntegrityError as e:
            raise ValueError(f"conversation {conversation.id!r} already exists") from e

    def add_message(self, owner: str, conversation_id: str, message: Message, *,
                    system_prompt: str | None = None, model: str | None = None,
                    params: dict | None = None) -> None:
        """Append under `message.parent_id` (None: a new root), make it the current leaf,
        bump updated_at, and title an untitled conversation from a user message; the settings
        given are stored with it, in the same transaction."""
        with _transaction(self._engine, write=True) as conn:
            header = conn.execute(
                sa.select(conversations.c.title).where(conversations.c.id == conversation_id,
                                                       conversations.c.owner == owner)
                .with_for_update()  # PostgreSQL: one writer per conversation numbers its seq
            ).first()
            if header is None:
                raise NotFound(conversation_id)
            if message.parent_id is not None:
                self._require_message(conn, conversation_id, message.parent_id)
            last = conn.execute(
                sa.select(sa.func.max(messages.c.seq))
                .where(messages.c.conversation_id == conversation_id)
            ).scalar()
            try:
                self._insert_messages(conn, conversation_id, [message], (last or 0) + 1)
            except sa.exc.IntegrityError as e:
                raise ValueError(f"message {message.id!r} already exists") from e
            values: dict = {"leaf_id": message.id, "updated_at": time.time()}
            values.update({k: v for k, v in (("system_prompt", system_prompt), ("model", model),
                                             ("params", params)) if v is not None})
            title = "" if header.title or message.role != "user" else make_title(message.content)
            if title:
                values.update(title=title, title_search=_folded(title))
            conn.execute(conversations.update()
                         .where(conversations.c.id == conversation_id).values(**values))

    def save_message(self, owner: str, conversation_id: str, message: Message, *,
                     wait: bool = True) -> None:
        """Rewrite a stored message's content, reasoning, meta, earlier attempts and tool
        calls (one UPDATE).

        `wait=False`: raise StoreBusy at once when another writer holds SQLite's lock.
        """
        owned = sa.select(conversations.c.id).where(conversations.c.id == conversation_id,
                                                    conversations.c.owner == owner)
        stmt = (
            messages.update()
            .where(messages.c.conversation_id == conversation_id, messages.c.id == message.id,
                   messages.c.conversation_id.in_(owned))
            .values(content=message.content, search_text=_folded(message.content),
                    meta=meta_to_json(message.meta),
                    earlier_attempts=list(message.earlier_attempts),
                    reasoning=message.reasoning, tool_calls=calls_to_json(message.tool_calls),
                    tool_result=result_to_json(message.tool_result))
        )
        with _transaction(self._engine, write=True, wait=wait) as conn:
            if conn.execute(stmt).rowcount == 0:
                raise NotFound(message.id)

    def set_leaf(self, owner: str, conversation_id: str, leaf_id: str) -> None:
        """Show the branch ending at `leaf_id` from now on."""
        with _transaction(self._engine, write=True) as conn:
            self._require(conn, owner, conversation_id)
            self._require_message(conn, conversation_id, leaf_id)
            conn.execute(conversations.update().where(conversations.c.id == conversation_id)
                         .values(leaf_id=leaf_id))

    def update_settings(self, owner: str, conversation_id: str, *, title: str | None = None,
                        system_prompt: str | None = None, model: str | None = None,
                        params: dict | None = None) -> None:
        """Change the given settings (title: rename); the others and updated_at stay."""
        values: dict = {}
        if title is not None:
            values.update(title=title, title_search=_folded(title))
        if system_prompt is not None:
            values["system_prompt"] = system_prompt
        if model is not None:
            values["model"] = model
        if params is not None:
            values["params"] = dict(params)
        with _transaction(self._engine, write=True) as conn:
            if not values:
                self._require(conn, owner, conversation_id)
                return
            done = conn.execute(
                conversations.update().where(conversations.c.id == conversation_id,
                                             conversations.c.owner == owner).values(**values)
            )
            if done.rowcount == 0:
                raise NotFound(conversation_id)

    def adopt(self, owner: str, previous_owner: str) -> int:
        """Give `owner` every conversation of `previous_owner`, in one transaction; how many.

        Afterwards `previous_owner` owns nothing: an old owner id (a token from a leaked link)
        reaches nothing any more.
        """
        if previous_owner == owner:
            return 0
        with _transaction(self._engine, write=True) as conn:
            return conn.execute(
                conversations.update().where(conversations.c.owner == previous_owner)
                .values(owner=owner)
            ).rowcount

    def delete(self, owner: str, conversation_id: str) -> bool:
        """Delete a conversation, its messages and the images nothing else uses."""
        mi = message_images
        with _transaction(self._engine, write=True) as conn:
            shas = set(conn.execute(
                sa.select(mi.c.sha256).join(conversations, conversations.c.id
                                            == mi.c.conversation_id)
                .where(mi.c.conversation_id == conversation_id, conversations.c.owner == owner)
            ).scalars())
            gone = conn.execute(
                conversations.delete().where(conversations.c.id == conversation_id,
                                             conversations.c.owner == owner)
            ).rowcount
            if gone and shas:
                unused = sa.and_(images.c.sha256.in_(shas),
                                 ~sa.exists().where(mi.c.sha256 == images.c.sha256))
                try:
                    with conn.begin_nested():
                        conn.execute(images.delete().where(unused))
                except sa.exc.IntegrityError:
                    pass  # a concurrent writer just used one of them again: keep them all
        return bool(gone)

    # --- helpers ---

    @staticmethod
    def _require(conn: sa.Connection, owner: str, conversation_id: str) -> None:
        found = conn.execute(
            sa.select(conversations.c.id).where(conversations.c.id == conversation_id,
                                                conversations.c.owner == owner)
        ).first()
        if found is None:
            raise NotFound(conversation_id)

    @staticmethod
    def _require_message(conn: sa.Connection, conversation_id: str, message_id: str) -> None:
        found = conn.execute(
            sa.select(messages.c.id).where(messages.c.conversation_id == conversation_id,
                                           messages.c.id == message_id)
        ).first()
        if found is None:
            raise NotFound(message_id)

    # --- the request log (hosted limits) ---

    def admit(self, owner: str, check: Callable[[Usage], LimitHit | None], *, model: str,
              deploy_key: bool, now: float | None = None, stale_after_s: float = 900.0,
              conversation_id: str | None = None) -> int | LimitHit:
        """Log a request as started, unless `check` finds a limit in the owner's usage; the
        row's id, or the limit. Check and insert are one transaction, taken in turn per owner
        (SQLite's write lock, or a PostgreSQL advisory lock), so two replicas cannot both
        admit the last allowed request."""
        now = time.time() if now is None else now
        with _transaction(self._engine, write=True) as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(
                    sa.func.hashtext(owner))))
            hit = check(self._usage(conn, owner, now, stale_after_s))
            if hit is not None:
                return hit
            return conn.execute(request_log.insert().values(
                owner=owner, started_at=now, model=model, deploy_key=deploy_key,
                conversation_id=conversation_id,
            ).returning(request_log.c.id)).scalar_one()

    def finish_request(self, owner: str, request_id: int, *, status: str,
                       error_code: str | None = None, prompt_tokens: int | None = None,
                       completion_tokens: int | None = None, total_tokens: int | None = None,
                       estimated_tokens: int | None = None, ttft_s: float | None = None,
                       now: float | None = None, cached_tokens: int | None = None,
                       cost: float | None = None, currency: str | None = None,
                       duration_s: float | None = None) -> None:
        """Record how a logged request ended, what it used and (schema version 5) what it
        cost and how long it took."""
        with _transaction(self._engine, write=True) as conn:
            conn.execute(request_log.update().where(request_log.c.id == request_id,
                                                    request_log.c.owner == owner).values(
                ended_at=time.time() if now is None else now, status=status,
                error_code=error_code, prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens, total_tokens=total_tokens,
                estimated_tokens=estimated_tokens, ttft_s=ttft_s, cached_tokens=cached_tokens,
                cost=cost, currency=currency if cost is not None else None,
                duration_s=duration_s))

    def usage(self, owner: str, now: float | None = None,
              stale_after_s: float = 900.0) -> Usage:
        """The owner's recent use: what the per-request limits are judged on."""
        with _transaction(self._engine) as conn:
            return self._usage(conn, owner, time.time() if now is None else now, stale_after_s)

    @staticmethod
    def _usage(conn: sa.Connection, owner: str, now: float, stale_after_s: float) -> Usage:
        r = request_log
        mine = r.c.owner == owner
        since = min(now - WINDOW_S, now - stale_after_s, day_start(now))
        rows = conn.execute(
            sa.select(r.c.started_at, r.c.ended_at, r.c.deploy_key,
                      sa.func.coalesce(r.c.total_tokens, r.c.estimated_tokens))
            .where(mine, r.c.started_at >= since)
            .order_by(r.c.started_at)
        ).all()
        today = day_start(now)
        return Usage(
            recent_starts=tuple(row[0] for row in rows if row[0] > now - WINDOW_S),
            tokens_today=sum(row[3] or 0 for row in rows if row[2] and row[0] >= today),
            open_streams=sum(1 for row in rows
                             if row[1] is None and row[0] > now - stale_after_s),
        )

    @staticmethod
    def _insert_messages(conn: sa.Connection, conversation_id: str, items: Sequence[Message],
                         first_seq: int) -> None:
        if not items:
            return
        conn.execute(messages.insert(),
                     [_message_row(conversation_id, m, first_seq + i) for i, m in enumerate(items)])
        blobs: dict[str, PreparedImage] = {}
        uses = []
        for m in items:
            for position, img in enumerate(m.images):
                sha = img.sha256
                blobs.setdefault(sha, img)
                uses.append({
                    "conversation_id": conversation_id, "message_id": m.id, "position": position,
                    "sha256": sha, "name": img.name, "source_bytes": img.source_bytes,
                    "source_width": img.source_width, "source_height": img.source_height,
                })
        if not uses:
            return
        _put_images(conn, [
            {"sha256": sha, "mime": img.mime, "data": img.data, "width": img.width,
             "height": img.height}
            for sha, img in blobs.items()
        ])
        conn.execute(message_images.insert(), uses)

    # --- tools users define (the function-calling playground; the table is at the end) ---

    def list_tools(self, owner: str) -> list[UserTool]:
        """The owner's tool definitions, by name."""
        t = user_tools
        with _transaction(self._engine) as conn:
            rows = conn.execute(sa.select(t.c.name, t.c.description, t.c.parameters)
                                .where(t.c.owner == owner).order_by(t.c.name)).all()
        return [UserTool(row.name, row.description, dict(row.parameters)) for row in rows]

    def save_tool(self, owner: str, tool: UserTool, *, old_name: str | None = None,
                  limit: int = MAX_TOOLS_PER_OWNER, now: float | None = None) -> Problem | None:
        """Store a checked definition: the one named `old_name` changes (renamed when the
        names differ), else the one named `tool.name`, else it is added; None, or why not
        (the new name is another tool's, or the owner has `limit` tools already)."""
        now = time.time() if now is None else now
        t = user_tools
        mine = t.c.owner == owner
        values = {"name": tool.name, "description": tool.description,
                  "parameters": dict(tool.parameters), "updated_at": now}
        renaming = old_name is not None and old_name != tool.name
        try:
            with _transaction(self._engine, write=True) as conn:
                if conn.dialect.name == "postgresql":  # one writer of an owner's tools at once
                    conn.execute(sa.select(sa.func.pg_advisory_xact_lock(
                        sa.func.hashtext("user_tools:" + owner))))
                names = set(conn.execute(sa.select(t.c.name).where(mine)).scalars())
                if renaming and tool.name in names:
                    return Problem("tools.error.name_taken", name=tool.name)
                # Renaming one that another tab deleted meanwhile: what was typed is added.
                target = old_name if renaming and old_name in names else tool.name
                if target in names:
                    conn.execute(t.update().where(mine, t.c.name == target).values(**values))
                    return None
                if len(names) >= limit:
                    return Problem("tools.error.limit", limit=limit)
                conn.execute(t.insert().values(owner=owner, created_at=now, **values))
        except sa.exc.IntegrityError:  # only if the rules above were bypassed
            return Problem("tools.error.name_taken", name=tool.name)
        return None

    def delete_tool(self, owner: str, name: str) -> bool:
        """Delete one of the owner's tool definitions; whether there was one."""
        t = user_tools
        with _transaction(self._engine, write=True) as conn:
            return bool(conn.execute(t.delete().where(t.c.owner == owner, t.c.name == name))
                        .rowcount)

    # --- usage: what the Usage page sums (schema version 5; the accounts table is at the end) ---

    def usage_report(self, owner: str | None, start: float, end: float,
                     offset_s: int = 0) -> UsageReport:
        """The owner's requests started in [start, end) (None: every owner's), summed per
        day (at `offset_s` seconds east of UTC) and model, errors per code, and each model's
        median time to first token and tokens per second: SQL aggregates over the request
        log's (owner, started_at) index, one transaction."""
        r = request_log
        where = [r.c.started_at >= start, r.c.started_at < end]
        if owner is not None:
            where.append(r.c.owner == owner)
        with _transaction(self._engine) as conn:
            days = self._usage_days(conn, where, offset_s)
            errors = conn.execute(
                sa.select(r.c.error_code, sa.func.count().label("n"))
                .where(*where, r.c.status == "error")
                .group_by(r.c.error_code).order_by(sa.desc("n"), r.c.error_code)).all()
            ttft = self._medians(conn, where, r.c.ttft_s, r.c.ttft_s.is_not(None))
            generating = r.c.duration_s - r.c.ttft_s
            rate = r.c.completion_tokens / sa.case((generating > 0, generating), else_=None)
            rates = self._medians(conn, where, rate,
                                  sa.and_(r.c.completion_tokens > 0, generating > 0))
        replies = {m: n for m, (_, n) in ttft.items()}
        models = sorted(set(ttft) | set(rates))
        return UsageReport(
            days=tuple(days),
            errors=tuple((code or "error.unexpected", int(n)) for code, n in errors),
            speeds=tuple(ModelSpeed(m, max(replies.get(m, 0), rates.get(m, (None, 0))[1]),
                                    ttft.get(m, (None, 0))[0], rates.get(m, (None, 0))[0])
                         for m in models),
        )

    @staticmethod
    def _usage_days(conn: sa.Connection, where: list, offset_s: int) -> list[DayUsage]:
        r = request_log
        shifted = (r.c.started_at + int(offset_s)) / DAY_S
        if conn.dialect.name == "postgresql":  # a cast rounds there; floor first
            shifted = sa.func.floor(shifted)
        priced = r.c.cost.is_not(None)
        counted = sa.or_(r.c.prompt_tokens.is_not(None), r.c.completion_tokens.is_not(None))
        inner = sa.select(
            sa.cast(shifted, sa.Integer).label("day"), r.c.model,
            sa.case((r.c.status == "error", 1), else_=0).label("failed"),
            r.c.prompt_tokens, r.c.completion_tokens, r.c.cached_tokens,
            sa.case((r.c.currency == "USD", r.c.cost), else_=0.0).label("usd"),
            sa.case((r.c.currency == "CNY", r.c.cost), else_=0.0).label("cny"),
            sa.case((sa.and_(counted, ~priced), 1), else_=0).label("unpriced"),
        ).where(*where).subquery()
        rows = conn.execute(
            sa.select(inner.c.day, inner.c.model, sa.func.count(), sa.func.sum(inner.c.failed),
                      sa.func.sum(inner.c.prompt_tokens), sa.func.sum(inner.c.completion_tokens),
                      sa.func.sum(inner.c.cached_tokens), sa.func.sum(inner.c.usd),
                      sa.func.sum(inner.c.cny), sa.func.sum(inner.c.unpriced))
            .group_by(inner.c.day, inner.c.model).order_by(inner.c.day, inner.c.model)).all()
        return [DayUsage(day_of(row[0]), row[1], int(row[2]), int(row[3] or 0), int(row[4] or 0),
                         int(row[5] or 0), int(row[6] or 0), float(row[7] or 0.0),
                         float(row[8] or 0.0), int(row[9] or 0)) for row in rows]

    @staticmethod
    def _medians(conn: sa.Connection, where: list, value, present) -> dict[str, tuple]:
        """{model: (median of `value`, how many rows had one)}: the middle row (the mean of
        the two middle ones) by window functions, on both dialects."""
        r = request_log
        ranked = sa.select(
            r.c.model, value.label("v"),
            sa.func.row_number().over(partition_by=r.c.model, order_by=value).label("rn"),
            sa.func.count().over(partition_by=r.c.model).label("n"),
        ).where(*where, present).subquery()
        middle = sa.or_(ranked.c.rn == (ranked.c.n + 1) // 2,
                        ranked.c.rn == (ranked.c.n + 2) // 2)
        rows = conn.execute(sa.select(ranked.c.model, sa.func.avg(ranked.c.v),
                                      sa.func.max(ranked.c.n))
                            .where(middle).group_by(ranked.c.model)).all()
        return {row[0]: (float(row[1]), int(row[2])) for row in rows}

    def count_requests(self, owner: str, start: float, end: float) -> int:
        """How many requests the owner started in [start, end) (the benchmark's baseline)."""
        r = request_log
        with _transaction(self._engine) as conn:
            return conn.execute(sa.select(sa.func.count()).where(
                r.c.owner == owner, r.c.started_at >= start, r.c.started_at < end)).scalar_one()

    def conversation_spend(self, owner: str, conversation_id: str) -> tuple[dict, int, int]:
        """What a conversation's requests cost: ({currency: amount}, requests, requests with
        usage but no price), from the request log (every branch, retry and continuation)."""
        r = request_log
        with _transaction(self._engine) as conn:
            rows = conn.execute(
                sa.select(r.c.currency, sa.func.count(), sa.func.sum(r.c.cost),
                          sa.func.sum(sa.case((sa.and_(r.c.cost.is_(None),
                                                       r.c.prompt_tokens.is_not(None)), 1),
                                              else_=0)))
                .where(r.c.conversation_id == conversation_id, r.c.owner == owner)
                .group_by(r.c.currency)).all()
        amounts = {cur: float(total) for cur, _, total, _ in rows if cur and total is not None}
        return (amounts, sum(int(n) for _, n, _, _ in rows),
                sum(int(u or 0) for _, _, _, u in rows))

    def usage_by_owner(self, start: float, end: float) -> list[OwnerUsage]:
        """Every owner's totals over [start, end), most tokens first, with the login name each
        was last seen with (for the deploy's admins)."""
        r, a = request_log, accounts
        rows = sa.select(
            r.c.owner, sa.func.count().label("n"),
            sa.func.sum(sa.case((r.c.status == "error", 1), else_=0)).label("errors"),
            sa.func.sum(sa.func.coalesce(r.c.total_tokens, r.c.estimated_tokens)).label("tokens"),
            sa.func.sum(sa.case((r.c.currency == "USD", r.c.cost), else_=0.0)).label("usd"),
            sa.func.sum(sa.case((r.c.currency == "CNY", r.c.cost), else_=0.0)).label("cny"),
        ).where(r.c.started_at >= start, r.c.started_at < end).group_by(r.c.owner).subquery()
        with _transaction(self._engine) as conn:
            found = conn.execute(
                sa.select(rows, a.c.name, a.c.email)
                .select_from(rows.outerjoin(a, a.c.owner == rows.c.owner))).all()
        out = [OwnerUsage(row.owner, row.name or row.email or "", int(row.n),
                          int(row.errors or 0), int(row.tokens or 0), float(row.usd or 0.0),
                          float(row.cny or 0.0)) for row in found]
        return sorted(out, key=lambda o: (-o.tokens, -o.requests, o.owner))

    def standings(self, now: float | None = None,
                  stale_after_s: float = 900.0) -> list[Standing]:
        """Every owner active today or in the last minutes, as the per-request limits judge
        them (the same counts as `usage`, grouped by owner in one query)."""
        now = time.time() if now is None else now
        r, a = request_log, accounts
        today = day_start(now)
        since = min(now - WINDOW_S, now - stale_after_s, today)
        counts = sa.select(
            r.c.owner,
            sa.func.sum(sa.case((r.c.started_at > now - WINDOW_S, 1), else_=0)).label("minute"),
            sa.func.sum(sa.case((sa.and_(r.c.deploy_key, r.c.started_at >= today),
                                 sa.func.coalesce(r.c.total_tokens, r.c.estimated_tokens)),
                                else_=0)).label("tokens"),
            sa.func.sum(sa.case((sa.and_(r.c.ended_at.is_(None),
                                         r.c.started_at > now - stale_after_s), 1),
                                else_=0)).label("open"),
        ).where(r.c.started_at >= since).group_by(r.c.owner).subquery()
        with _transaction(self._engine) as conn:
            rows = conn.execute(
                sa.select(counts, a.c.name, a.c.email)
                .select_from(counts.outerjoin(a, a.c.owner == counts.c.owner))
                .order_by(counts.c.owner)).all()
        return [Standing(row.owner, row.name or row.email or "", int(row.minute or 0),
                         int(row.tokens or 0), int(row.open or 0)) for row in rows]

    def remember_account(self, owner: str, name: str, email: str,
                         now: float | None = None) -> None:
        """Keep the login name and email an owner was last seen with (what admins read)."""
        values = {"name": name[:255], "email": email[:255],
                  "seen_at": time.time() if now is None else now}
        with _transaction(self._engine, write=True) as conn:
            insert = (pg.insert(accounts) if conn.dialect.name == "postgresql"
                      else sqlite.insert(accounts))
            conn.execute(insert.values(owner=owner, **values)
                         .on_conflict_do_update(index_elements=[accounts.c.owner], set_=values))


def _put_images(conn: sa.Connection, rows: list[dict]) -> None:
    """Insert the images not stored yet."""
    dialect = conn.dialect.name
    if dialect == "postgresql":
        stmt = pg.insert(images)
        # A no-op update rather than DO NOTHING: it locks an existing row until commit, so a
        # concurrent delete's image clean-up cannot remove it before our reference lands.
        conn.execute(stmt.on_conflict_do_update(index_elements=[images.c.sha256],
                                                set_={"sha256": stmt.excluded.sha256}), rows)
    elif dialect == "sqlite":  # writers are serialized (BEGIN IMMEDIATE): no race to guard
        conn.execute(sqlite.insert(images).on_conflict_do_nothing(), rows)
    else:
        have = set(conn.execute(sa.select(images.c.sha256)
                                .where(images.c.sha256.in_([r["sha256"] for r in rows])))
                   .scalars())
        new = [r for r in rows if r["sha256"] not in have]
        if new:
            conn.execute(images.insert(), new)


# --- tools users define (schema version 4) ---------------------------------------------------
# One row per tool a user wrote in Settings: a name unique per owner, what the model reads, and
# the JSON Schema of its arguments as checked by nexuschat.user_tools (kept in the key order it
# was typed in: JSON, not JSONB). Created by `_v4_user_tools`; read and written by the Store's
# `list_tools`, `save_tool` and `delete_tool`.
user_tools = sa.Table(
    "user_tools", _METADATA,
    sa.Column("owner", _ID, primary_key=True),
    sa.Column("name", sa.String(64), primary_key=True),  # user_tools.NAME: at most 64
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("parameters", sa.JSON, nullable=False),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("updated_at", sa.Double, nullable=False),
)


# --- who an owner is (schema version 5) ------------------------------------------------------
# One row per signed-in owner: the login's name and email as last seen, so the deploy's admins
# read the Usage page's totals by name rather than by `user:<iss>:<sub>`. Written once per
# session (`Store.remember_account`), read by `usage_by_owner` and `standings`.
accounts = sa.Table(
    "accounts", _METADATA,
    sa.Column("owner", _ID, primary_key=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("email", sa.String(255), nullable=False),
    sa.Column("seen_at", sa.Double, nullable=False),
)
