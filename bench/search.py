"""Conversation search on a big database, against the LIKE scan it replaced; run as
`python -m bench.search` (SQLite; PostgreSQL too when NEXUSCHAT_TEST_POSTGRES_URL is set).

The database holds 1,000,000 messages: one owner with 100,000 (1,000 conversations of 100),
the rest spread over 900 other owners. Messages are written round by round (message k of every
conversation, then k+1), so an owner's rows are spread through the table as a live database's
are. Texts are drawn from an English, Chinese and accented vocabulary with fixed rates, some
words at other rates for the other owners (`kubernetes`: rare for the owner searched, common
for everyone else; the case an index that ignored the owner would be slowest at).

The database is written at schema 6 (before the index), the old search (Store.list's LIKE scan:
the same statements, no index) is timed there, then the schema-5 migration runs (timed: the
backfill) and the new search is timed on the same rows: the same run, the same data.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import random
import sqlite3
import sys
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

from bench.harness import machine, percentile, write_section
from nexuschat.store import MIGRATIONS, Store, conversations, make_engine, messages, migrate
from testbed.databases import fresh_schema

SECTION = "## Conversation search"
GOAL_MS = 100.0  # p95 of the new search, per query, each database
OWNER = "owner:searched"
MESSAGES_PER_CONVERSATION = 100
OWNER_CONVERSATIONS = 1_000  # 100,000 messages
OTHER_OWNERS = 900
OTHER_CONVERSATIONS = 10  # each: 900 × 10 × 100 = 900,000 messages
WORDS_PER_MESSAGE = (12, 60)
CLUSTERED = "hyperloop"



def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


COMMON_EN = _words("the of and to in is you that it for on with as this be are not have at or can "
             "use your from will an by if code file run data error function value return "
             "list set get new one time call test user model request should make")
CHINESE = _words("我们 你们 可以 这个 一个 没有 什么 问题 时候 因为 所以 如果 已经 需要 使用 数据 "
           "代码 文件 模型 函数 请求 错误 测试 用户 时间 上海 学习 工作 中文 今天 明天 "
           "谢谢 好的 非常 应该 怎么 为什么 现在")
ACCENTED = _words("résumé naïve façade über straße élève déjà vu señor crème")
# word: (share of the searched owner's messages, share of the others') it is planted in
PLANTED = {
    "deployment": (0.05, 0.05), "zebrafish": (0.0005, 0.0005), "kubernetes": (0.0002, 0.05),
    "天气": (0.03, 0.03), "北京": (0.01, 0.01), "麒麟": (0.0002, 0.0002),
    "一帆风顺": (0.005, 0.005), "python编程": (0.003, 0.003), "café": (0.01, 0.01),
}
QUERIES = (  # (what it shows, the query)
    ("Latin, common (5%)", "deployment"),
    ("Latin, very common 3 characters", "the"),
    ("Latin, rare (0.05%)", "zebrafish"),
    ("Latin, rare here, common for others", "kubernetes"),
    ("accented", "café"),
    ("Chinese 2 characters, common (3%)", "天气"),
    ("Chinese 2 characters (1%)", "北京"),
    ("Chinese 2 characters, rare (0.02%)", "麒麟"),
    ("Chinese 4 characters (0.5%)", "一帆风顺"),
    ("Chinese 1 character, common", "好"),
    ("mixed Chinese-English", "Python编程"),
    ("two words, Latin + Chinese", "deployment 天气"),
    ("no match, 3+ characters", "qxzvw"),
    ("no match, 2 characters", "鑫鑫"),
    ("in every message of 2.5% of conversations", CLUSTERED),
)


HOW = (
    "How the new search answers each kind (DEVELOPERS.md, Conversation search): a word found in "
    "at least 14 of the owner's 16 newest conversations (`the`, `deployment` at 5%, `天气` at "
    "3%, `好`) is checked conversation by conversation, newest first, until the 200 the page "
    "lists are found; that decision reads those 16 conversations, never the index. Any other "
    "word comes from the index (SQLite: the FTS5 trigram phrase, or for one or two characters "
    "the gram token, in the owner's docid range; PostgreSQL: the GIN over owner, trigrams and "
    "grams), including `hyperloop`, in every message of 2.5% of the conversations. Not bounded "
    "by this design: a word in nearly all of the 16 newest conversations and few older ones, "
    "which makes the walk read the older conversations' messages to the end (not measured here)."
)


def texts(rng: random.Random, count: int, mine: bool) -> list[str]:
    """`count` message texts: common words, Chinese, accents, and the planted words."""
    vocab = COMMON_EN + CHINESE + ACCENTED
    weights = [8] * len(COMMON_EN) + [4] * len(CHINESE) + [1] * len(ACCENTED)
    out = []
    for _ in range(count):
        words = rng.choices(vocab, weights, k=rng.randint(*WORDS_PER_MESSAGE))
        for word, (here, elsewhere) in PLANTED.items():
            if rng.random() < (here if mine else elsewhere):
                words.insert(rng.randrange(len(words) + 1), word)
        out.append(" ".join(words))
    return out


def build(url: str, rng: random.Random, scale: float, others: float) -> tuple[int, float]:
    """Write the database at schema 6 (before the index); how many messages, and the seconds
    it took. Rows go in through the driver in big batches (SQLite: executemany in one
    transaction; PostgreSQL: COPY), a round of every conversation's next message at a time."""
    started = time.perf_counter()
    engine = make_engine(url)
    migrate(engine, MIGRATIONS[:6])
    owners = [(OWNER, max(1, int(OWNER_CONVERSATIONS * scale)), True)] + [
        (f"owner:{i}", OTHER_CONVERSATIONS, False) for i in range(int(OTHER_OWNERS * others))]
    convs = [(uuid.uuid4().hex, owner, mine) for owner, n, mine in owners for _ in range(n)]
    # every 40th of the owner's conversations has CLUSTERED in each message: common in the
    # owner's messages, in few of their conversations (the walk's worst case)
    clustered = {cid for i, (cid, _o, _m) in enumerate(c for c in convs if c[2]) if i % 40 == 0}
    rng.shuffle(convs)
    now = 1_700_000_000.0
    conv_rows = [(cid, owner, f"chat {i}", f"chat {i}", "", "m", "{}", None, now + i, now + i)
                 for i, (cid, owner, _mine) in enumerate(convs)]
    mine_count = sum(1 for c in convs if c[2])
    conv_cols = ("id, owner, title, title_search, system_prompt, model, params, leaf_id, "
                 "created_at, updated_at")
    msg_cols = ("conversation_id, id, seq, parent_id, role, content, search_text, meta, "
                "earlier_attempts, created_at, reasoning")
    total = 0
    with engine.connect() as conn:
        dbapi = conn.connection.driver_connection
        sqlite = engine.dialect.name == "sqlite"
        if sqlite:
            dbapi.execute("BEGIN")
            dbapi.executemany(f"INSERT INTO conversations ({conv_cols}) VALUES "
                              "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", conv_rows)
        else:
            cur = dbapi.cursor()
            with cur.copy(f"COPY conversations ({conv_cols}) FROM STDIN") as copy:
                for row in conv_rows:
                    copy.write_row(row)
        for seq in range(1, MESSAGES_PER_CONVERSATION + 1):  # round by round: interleaved
            mine_texts = iter(texts(rng, mine_count, True))
            other_texts = iter(texts(rng, len(convs) - mine_count, False))
            rows = []
            for cid, _owner, mine in convs:
                content = next(mine_texts if mine else other_texts)
                if cid in clustered:
                    content += " " + CLUSTERED
                rows.append((cid, f"m{seq}", seq, f"m{seq - 1}" if seq > 1 else None,
                             "user" if seq % 2 else "assistant", content, content.lower(),
                             None, "[]", now + seq, ""))
            if sqlite:
                dbapi.executemany(f"INSERT INTO messages ({msg_cols}) VALUES "
                                  "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
            else:
                with cur.copy(f"COPY messages ({msg_cols}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            total += len(rows)
            if seq % 20 == 0:
                print(f"  {total:,} messages written", flush=True)
        dbapi.execute("COMMIT") if sqlite else dbapi.commit()
        if not sqlite:
            dbapi.autocommit = True
            dbapi.execute("VACUUM ANALYZE")
        else:
            dbapi.execute("ANALYZE")
    engine.dispose()
    return total, time.perf_counter() - started


def like_scan(engine: sa.Engine, owner: str, query: str, limit: int = 200) -> list[str]:
    """What `Store.list` did before the index (main, schema 6), frozen here as the baseline:
    the owner's conversations newest first, each word LIKE in the title or EXISTS a message
    with it, then the latest message with the first word for each one listed."""
    c, m = conversations, messages
    leaf = m.alias("leaf")
    count = (sa.select(sa.func.count()).where(m.c.conversation_id == c.c.id)
             .correlate(c).scalar_subquery())
    stmt = (sa.select(c.c.id, c.c.title, c.c.updated_at, count.label("n"),
                      sa.func.substr(leaf.c.content, 1, 480).label("leaf_text"))
            .select_from(c.outerjoin(leaf, sa.and_(leaf.c.conversation_id == c.c.id,
                                                   leaf.c.id == c.c.leaf_id)))
            .where(c.c.owner == owner)
            .order_by(c.c.updated_at.desc(), c.c.created_at.desc(), c.c.id).limit(limit))
    words = query.lower().split()
    patterns = ["%" + w.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
                for w in words]
    for pattern in patterns:
        in_text = (sa.exists().where(m.c.conversation_id == c.c.id,
                                     m.c.search_text.like(pattern, escape="\\")).correlate(c))
        stmt = stmt.where(sa.or_(c.c.title_search.like(pattern, escape="\\"), in_text))
    with engine.connect() as conn:
        ids = [r.id for r in conn.execute(stmt)]
        if words and ids:
            latest = (sa.select(m.c.conversation_id, sa.func.max(m.c.seq).label("seq"))
                      .where(m.c.conversation_id.in_(ids),
                             m.c.search_text.like(patterns[0], escape="\\"))
                      .group_by(m.c.conversation_id).subquery())
            conn.execute(sa.select(m.c.conversation_id, m.c.content).join(
                latest, sa.and_(m.c.conversation_id == latest.c.conversation_id,
                                m.c.seq == latest.c.seq))).all()
    return ids


def timed(search, query: str, runs: int) -> tuple[list[float], int]:
    """Wall ms of `runs` searches (after one warm-up), and how many conversations matched."""
    found = len(search(OWNER, query))
    out = []
    for _ in range(runs):
        started = time.perf_counter()
        search(OWNER, query)
        out.append((time.perf_counter() - started) * 1000)
    return out, found


def measure(name: str, url: str, scale: float, others: float, runs_old: int,
            runs_new: int) -> dict:
    """Build, time the old scan, migrate, time the new search; the numbers for the table."""
    rng = random.Random(1234)
    print(f"{name}: writing the database...", flush=True)
    total, build_s = build(url, rng, scale, others)
    print(f"{name}: {total:,} messages in {build_s:.0f} s; the LIKE scan...", flush=True)
    engine = make_engine(url)
    results: dict = {"name": name, "total": total, "build_s": build_s, "rows": {}}
    for label, query in QUERIES:
        results["rows"][label] = {"query": query,
                                  "old": timed(lambda o, q: like_scan(engine, o, q), query,
                                               runs_old)}
        print(f"  {label}: {percentile(results['rows'][label]['old'][0], 50):.0f} ms",
              flush=True)
    started = time.perf_counter()
    migrate(engine)
    results["migrate_s"] = time.perf_counter() - started
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    new = Store(engine)
    print(f"{name}: indexed in {results['migrate_s']:.0f} s; the new search...", flush=True)
    for label, query in QUERIES:
        results["rows"][label]["new"] = timed(new.list, query, runs_new)
        print(f"  {label}: {percentile(results['rows'][label]['new'][0], 95):.0f} ms p95",
              flush=True)
    engine.dispose()
    return results


def table(all_results: list[dict]) -> tuple[str, list[str]]:
    """The Markdown table and the goal lines."""
    lines = ["| database | query | matches | LIKE scan p50 ms | p95 ms | new search p50 ms "
             "| p95 ms | scan / new (p50) |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    goals = []
    for res in all_results:
        worst = 0.0
        for label, row in res["rows"].items():
            (old, found_old), (new, found_new) = row["old"], row["new"]
            assert found_old == found_new, (label, found_old, found_new)
            o50, o95, n50, n95 = (percentile(old, 50), percentile(old, 95),
                                  percentile(new, 50), percentile(new, 95))
            worst = max(worst, n95)
            lines.append(f"| {res['name']} | {label}: `{row['query']}` | {found_new} | "
                         f"{o50:.1f} | {o95:.1f} | {n50:.1f} | {n95:.1f} | {o50 / n50:.1f} |")
        ok = worst < GOAL_MS
        goals.append(f"- {'PASS' if ok else 'FAIL'}: {res['name']}, every query's p95 < "
                     f"{GOAL_MS:.0f} ms (worst {worst:.1f} ms)")
    return "\n".join(lines), goals


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the owners")
    parser.add_argument("--runs", type=int, default=20, help="timed searches per query")
    parser.add_argument("--runs-old", type=int, default=5, help="timed LIKE scans per query")
    parser.add_argument("--no-write", action="store_true", help="leave PERFORMANCE.md alone")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--others", type=float, default=None,
                        help="fraction of the other owners (default: --scale)")
    args = parser.parse_args(argv)
    others = args.scale if args.others is None else args.others
    all_results = []
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.sqlite3'}"
        all_results.append(measure("SQLite", url, args.scale, others, args.runs_old,
                                   args.runs))
    pg = os.environ.get("NEXUSCHAT_TEST_POSTGRES_URL", "").strip()
    pg_version = ""
    if pg and not args.no_postgres:
        with fresh_schema(pg, prefix="nexuschat_bench") as url:
            all_results.append(measure("PostgreSQL", url, args.scale, others, args.runs_old,
                                       args.runs))
            engine = sa.create_engine(url, poolclass=sa.NullPool)
            with engine.connect() as conn:
                pg_version = conn.exec_driver_sql("SHOW server_version").scalar()
            engine.dispose()
    text, goals = table(all_results)
    print(text + "\n" + "\n".join(goals))
    build = "; ".join(f"{r['name']}: {r['total']:,} messages written in {r['build_s']:.0f} s, "
                      f"indexed by the migration in {r['migrate_s']:.0f} s" for r in all_results)
    met = all(g.startswith("- PASS") for g in goals)
    section = "\n".join([
        SECTION, "",
        f"Measured {datetime.date.today().isoformat()} on {machine()}, Python "
        f"{platform.python_version()}, SQLite {sqlite3.sqlite_version}"
        + (f", PostgreSQL {pg_version} (Debian, default settings but fsync off)"
           if pg_version else "")
        + f"; 1-minute load average {os.getloadavg()[0]:.1f} at the end. "
        f"`Store.list(owner, query)` for one owner holding 100,000 of the database's "
        f"1,000,000 messages (`bench/search.py` says how they are made); {args.runs} timed "
        f"searches per query after a warm-up for the new search, {args.runs_old} for the "
        "LIKE scan (schema 6, same rows, same run); matches are conversations (at most 200 "
        f"listed). {build}.", "",
        text, "", *goals, "",
        HOW, "",
        f"Goal: every query under {GOAL_MS:.0f} ms at p95 on both databases: "
        f"**{'met' if met else 'not met'}**.", "",
        "Reproduce from the repository root: `NEXUSCHAT_TEST_POSTGRES_URL=... "
        ".venv/bin/python -m bench.search` (builds both databases: several minutes; it "
        "rewrites this section and exits non-zero if the goal is missed).",
    ])
    if not args.no_write:
        write_section(SECTION, section)
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
