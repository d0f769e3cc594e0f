"""The Usage page's SQL aggregates over the request log (nexuschat/store.py, schema version 6),
against a real SQLite file and a real PostgreSQL (`database_url`), and their reshaping
(nexuschat/usage.py)."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from nexuschat.limits import Limits
from nexuschat.store import MIGRATIONS, Store, make_engine, migrate
from nexuschat.usage import (
    DAY_S,
    UsageReport,
    day_number,
    per_day,
    per_model,
    period_bounds,
    standing_row,
    token_days,
)

DAY = dt.date(2026, 11, 30)
MIDNIGHT = day_number(DAY) * DAY_S  # 2026-11-30 00:00 UTC
EIGHT_EAST = 8 * 3600  # Beijing


@pytest.fixture
def store(database_url):
    with Store.open(database_url) as s:
        yield s


def log(store: Store, owner: str, at: float, model: str = "m", *, status: str = "complete",
        prompt=None, completion=None, cached=None, cost=None, currency=None, ttft=None,
        duration=None, error=None, conversation=None, deploy_key=True, end=True) -> int:
    row = store.admit(owner, lambda usage: None, model=model, deploy_key=deploy_key, now=at,
                      conversation_id=conversation)
    if end:
        total = None if prompt is None else prompt + (completion or 0)
        store.finish_request(owner, row, status=status, error_code=error, prompt_tokens=prompt,
                             completion_tokens=completion, total_tokens=total,
                             cached_tokens=cached, cost=cost, currency=currency, ttft_s=ttft,
                             duration_s=duration, now=at + 1)
    return row


def test_days_are_the_viewers_and_sums_are_per_currency(store):
    # 20:00 UTC on the 30th is 04:00 on the 1st in Beijing.
    log(store, "alice", MIDNIGHT + 3600, "a", prompt=100, completion=10, cached=40,
        cost=0.01, currency="USD")
    log(store, "alice", MIDNIGHT + 20 * 3600, "a", prompt=200, completion=20, cost=0.02,
        currency="USD")
    log(store, "alice", MIDNIGHT + 20 * 3600, "b", prompt=300, completion=30, cost=0.5,
        currency="CNY")
    log(store, "alice", MIDNIGHT + 21 * 3600, "b", prompt=5, completion=5)  # no price
    log(store, "alice", MIDNIGHT + 22 * 3600, "b", status="error", error="error.server")
    log(store, "bob", MIDNIGHT + 3600, "a", prompt=10**6, cost=99.0, currency="USD")

    utc = store.usage_report("alice", *period_bounds(DAY, DAY + dt.timedelta(days=1), 0))
    assert [(d.day, d.model, d.requests) for d in utc.days] == [(DAY, "a", 2), (DAY, "b", 3)]
    a, b = utc.days
    assert (a.prompt_tokens, a.completion_tokens, a.cached_tokens) == (300, 30, 40)
    assert (a.cost_usd, a.cost_cny, b.cost_usd, b.cost_cny) == pytest.approx((0.03, 0, 0, 0.5))
    assert (b.errors, b.unpriced) == (1, 1)
    assert utc.cost("USD", 5.0) == pytest.approx(0.03 + 0.1)
    assert utc.errors == (("error.server", 1),)

    east = store.usage_report("alice", *period_bounds(DAY, DAY + dt.timedelta(days=1),
                                                      EIGHT_EAST), EIGHT_EAST)
    assert [(d.day, d.model, d.requests) for d in east.days] == [
        (DAY, "a", 1), (DAY + dt.timedelta(days=1), "a", 1), (DAY + dt.timedelta(days=1), "b", 3)]
    only_the_30th = store.usage_report("alice", *period_bounds(DAY, DAY, EIGHT_EAST), EIGHT_EAST)
    assert only_the_30th.requests == 1  # the rest fell on the 1st, Beijing time

    everyone = store.usage_report(None, *period_bounds(DAY, DAY, 0))
    assert everyone.requests == 6 and everyone.cost("USD", 5.0) == pytest.approx(99.13)
    assert store.count_requests("alice", *period_bounds(DAY, DAY, 0)) == 5


def test_medians_of_time_to_first_token_and_tokens_per_second_per_model(store):
    for ttft, duration, completion in ((0.2, 1.2, 50), (0.4, 2.4, 100), (3.0, 4.0, 30)):
        log(store, "alice", MIDNIGHT + 60, "odd", prompt=1, completion=completion, ttft=ttft,
            duration=duration)  # 50/s, 50/s, 30/s
    for ttft in (1.0, 2.0):
        log(store, "alice", MIDNIGHT + 60, "even", prompt=1, completion=10, ttft=ttft,
            duration=ttft + 1)  # 10/s each
    log(store, "alice", MIDNIGHT + 60, "even", status="error", error="error.server")
    log(store, "alice", MIDNIGHT + 60, "silent", prompt=1, completion=0, ttft=None,
        duration=1.0)
    speeds = {s.model: s for s in store.usage_report(
        "alice", *period_bounds(DAY, DAY, 0)).speeds}
    assert set(speeds) == {"odd", "even"}  # no timing: no speed
    assert speeds["odd"].median_ttft_s == pytest.approx(0.4)
    assert speeds["odd"].median_tokens_per_s == pytest.approx(50.0)
    assert speeds["odd"].replies == 3
    assert speeds["even"].median_ttft_s == pytest.approx(1.5)  # the mean of the middle two
    assert speeds["even"].median_tokens_per_s == pytest.approx(10.0)


def test_a_conversations_total_counts_every_request_it_made(store):
    log(store, "alice", MIDNIGHT, prompt=1, completion=1, cost=0.25, currency="USD",
        conversation="c1")
    log(store, "alice", MIDNIGHT + 5, prompt=1, completion=1, cost=0.5, currency="USD",
        conversation="c1")  # a regenerated reply, another branch
    log(store, "alice", MIDNIGHT + 9, prompt=1, completion=1, cost=2.0, currency="CNY",
        conversation="c1")
    log(store, "alice", MIDNIGHT + 9, prompt=1, completion=1, conversation="c1")  # no price
    log(store, "alice", MIDNIGHT + 9, cost=9.0, currency="USD", conversation="c2")
    log(store, "bob", MIDNIGHT + 9, cost=9.0, currency="USD", conversation="c1")  # not hers
    amounts, requests, unpriced = store.conversation_spend("alice", "c1")
    assert amounts == {"USD": pytest.approx(0.75), "CNY": pytest.approx(2.0)}
    assert (requests, unpriced) == (4, 1)
    assert store.conversation_spend("alice", "nothing") == ({}, 0, 0)


def test_admins_read_every_owner_by_login_name_and_their_standing(store):
    now = MIDNIGHT + 12 * 3600
    log(store, "user:x:alice", now - 10, prompt=100, completion=50, cost=0.2, currency="USD")
    log(store, "user:x:alice", now - 5, end=False)  # a reply being written
    log(store, "user:x:bob", now - 3600, prompt=10, completion=10, cost=1.0, currency="CNY",
        deploy_key=False)
    log(store, "session:abc", now - 86_400, prompt=1, completion=1)  # yesterday
    store.remember_account("user:x:alice", "Alice", "alice@example.com")
    store.remember_account("user:x:alice", "Alice A.", "alice@example.com", now=now)  # renamed
    store.remember_account("user:x:bob", "", "bob@example.com")

    totals = store.usage_by_owner(*period_bounds(DAY, DAY, 0))
    assert [(o.name, o.requests, o.tokens) for o in totals] == [
        ("Alice A.", 2, 150), ("bob@example.com", 1, 20)]  # most tokens first
    assert totals[0].cost("USD", 7.0) == pytest.approx(0.2)
    assert totals[1].cost("USD", 8.0) == pytest.approx(1 / 8)

    standings = {s.owner: s for s in store.standings(now, stale_after_s=600)}
    assert set(standings) == {"user:x:alice", "user:x:bob"}  # yesterday's visitor: not today
    alice = standings["user:x:alice"]
    assert (alice.name, alice.requests_last_minute, alice.tokens_today, alice.open_streams) == (
        "Alice A.", 2, 150, 1)
    assert standings["user:x:bob"].tokens_today == 0  # their own key: not the deploy's tokens
    row = standing_row(alice, Limits(requests_per_minute=4, tokens_per_day=300,
                                     concurrent_streams=2))
    assert row["user"] == "Alice A." and row["closest_limit"] == pytest.approx(0.5)
    assert standing_row(alice, Limits())["closest_limit"] is None


def test_the_reshaped_tables_for_the_charts(store):
    log(store, "alice", MIDNIGHT + 60, "a", prompt=100, completion=10, cost=1.0, currency="USD")
    log(store, "alice", MIDNIGHT + DAY_S + 60, "a", prompt=200, completion=20, cost=7.0,
        currency="CNY")
    log(store, "alice", MIDNIGHT + DAY_S + 60, "b", prompt=1, completion=1)
    report = store.usage_report("alice", *period_bounds(DAY, DAY + dt.timedelta(days=1), 0))
    assert [(r["day"], r["model"], r["cost"]) for r in per_day(report, "USD", 7.0)] == [
        (DAY, "a", 1.0), (DAY + dt.timedelta(days=1), "a", 1.0),
        (DAY + dt.timedelta(days=1), "b", 0.0)]
    models = per_model(report, "CNY", 7.0)
    assert [(m["model"], m["requests"], m["cost"], m["unpriced"]) for m in models] == [
        ("a", 2, pytest.approx(14.0), 0), ("b", 1, 0.0, 1)]
    assert token_days(report)[:2] == [{"day": DAY, "kind": "prompt", "tokens": 100},
                                      {"day": DAY, "kind": "completion", "tokens": 10}]
    assert UsageReport().empty and not report.empty


def test_an_older_database_gets_the_cost_columns_and_keeps_its_log(database_url):
    engine = make_engine(database_url)
    try:
        assert migrate(engine, MIGRATIONS[:5]) == 5  # the release before costs
        with engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO request_log (owner, started_at, ended_at, model, deploy_key, "
                "status, prompt_tokens, completion_tokens, total_tokens, ttft_s) VALUES "
                "('alice', :at, :at, 'm', :yes, 'complete', 10, 5, 15, 0.5)"),
                {"at": MIDNIGHT + 60, "yes": True})
    finally:
        engine.dispose()
    with Store.open(database_url) as store:
        report = store.usage_report("alice", *period_bounds(DAY, DAY, 0))
        (day,) = report.days
        assert (day.requests, day.prompt_tokens, day.cost_usd, day.unpriced) == (1, 10, 0.0, 1)
        assert report.speeds[0].median_ttft_s == pytest.approx(0.5)
        assert report.speeds[0].median_tokens_per_s is None  # no duration recorded then
    engine = make_engine(database_url)
    try:
        names = {i["name"] for i in sa.inspect(engine).get_indexes("request_log")}
        assert {"ix_request_log_owner_started_at", "ix_request_log_conversation_id",
                "ix_request_log_started_at"} <= names
        assert len(MIGRATIONS) >= 6
    finally:
        engine.dispose()
