"""The Usage page (AppTest) over known rows of the request log: its totals in both languages
and currencies, each chart's table and CSV, the empty state, and the admins' view of every
user with their standing against the hosted limits."""

from __future__ import annotations

import time

import pytest

from nexuschat.store import Store
from tests.app.conftest import new_app, provider_secrets
from tests.app.test_identity import AUTH, ISSUER

USAGE = "app_pages/usage.py"
ALICE = {"is_logged_in": True, "iss": ISSUER, "sub": "alice", "name": "Alice Admin",
         "email": "alice@example.com"}
ALICE_OWNER = f"user:{ISSUER}:alice"
BOB_OWNER = f"user:{ISSUER}:bob"


def log(store: Store, owner: str, model: str, *, status: str = "complete", prompt=None,
        completion=None, cost=None, currency=None, ttft=None, duration=None, error=None,
        ago_s: float = 60.0) -> None:
    """One finished request, as quota.finisher records it."""
    now = time.time() - ago_s
    row = store.admit(owner, lambda usage: None, model=model, deploy_key=True, now=now)
    total = None if prompt is None else prompt + (completion or 0)
    store.finish_request(owner, row, status=status, error_code=error, prompt_tokens=prompt,
                         completion_tokens=completion, total_tokens=total, ttft_s=ttft,
                         cost=cost, currency=currency, duration_s=duration, now=now + 1)


def seed(db_url: str, owner: str = "local") -> None:
    """Two Sonnet replies ($0.01 + $0.02), a DeepSeek one (¥0.50), one without a price, a
    failure; and a request of 40 days ago, outside the default period."""
    with Store.open(db_url) as store:
        log(store, owner, "claude-sonnet-4-6", prompt=1000, completion=200, cost=0.01,
            currency="USD", ttft=0.5, duration=2.5)  # 200 tokens in 2 s: 100/s
        log(store, owner, "claude-sonnet-4-6", prompt=3000, completion=300, cost=0.02,
            currency="USD", ttft=1.5, duration=4.5)  # 300 in 3 s: 100/s
        log(store, owner, "deepseek-chat", prompt=500, completion=500, cost=0.5, currency="CNY",
            ttft=0.25, duration=5.25)  # 500 in 5 s
        log(store, owner, "text-only-model", prompt=100, completion=10)
        log(store, owner, "claude-sonnet-4-6", status="error", error="error.rate_limited")
        log(store, owner, "claude-sonnet-4-6", prompt=10**6, completion=10**6, cost=100.0,
            currency="USD", ago_s=40 * 86_400)


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def usage_page(fake_api, db_url, language: str = "en", **extra):
    at = new_app(provider_secrets(fake_api, db_url, **extra))
    at.session_state["w_language"] = language
    at.run()
    return at.switch_page(USAGE).run()


def test_the_usage_page_sums_the_period_in_dollars(fake_api, db_url):
    seed(db_url)
    at = usage_page(fake_api, db_url)
    assert not at.exception and not at.error
    # $0.01 + $0.02 + ¥0.50 at 7.1 yuan per dollar = $0.100423; the old $100 is outside.
    assert metrics(at) == {"Cost": "$0.1004", "Tokens": "5,610", "Requests": "5",
                           "Failed requests": "1"}
    assert any("1 request had no known price" in c.value for c in at.caption)
    headers = [h.value for h in at.subheader]
    assert headers == ["Cost per day", "Tokens per day", "Per model", "Requests per day",
                       "Speed per model (medians)"]
    tables = {d.proto.id: d for d in at.dataframe}
    assert len(at.dataframe) == 6  # cost, tokens, models, requests, errors, speed
    per_model = next(d.value for d in at.dataframe if "Median tokens per second" in d.value)
    sonnet = per_model[per_model["Model"] == "claude-sonnet-4-6"].iloc[0]
    assert (sonnet["Requests"], sonnet["Failed"], sonnet["Prompt tokens"]) == (3, 1, 4000)
    assert sonnet["Cost"] == pytest.approx(0.03)
    assert sonnet["Median seconds to first token"] == pytest.approx(1.0)  # of 0.5 and 1.5
    assert sonnet["Median tokens per second"] == pytest.approx(100.0)
    deepseek = per_model[per_model["Model"] == "deepseek-chat"].iloc[0]
    assert deepseek["Cost"] == pytest.approx(0.5 / 7.1)
    errors = next(d.value for d in at.dataframe if "Error" in d.value.columns)
    assert errors.to_dict("records") == [{"Error": "rate_limited", "Requests": 1}]
    assert tables  # every chart has its table...
    downloads = [b for b in at.get("download_button")]
    assert len(downloads) == 6  # ...and its CSV


def test_the_usage_page_in_chinese_shows_yuan_at_the_configured_rate(fake_api, db_url):
    seed(db_url)
    at = usage_page(fake_api, db_url, "zh", NEXUSCHAT_USD_CNY="7")
    assert not at.exception and not at.error
    # $0.03 x 7 + ¥0.50 = ¥0.71
    assert metrics(at) == {"费用": "¥0.7100", "Token": "5,610", "请求": "5", "失败的请求": "1"}
    assert [h.value for h in at.subheader][:2] == ["每日费用", "每日 token"]
    at.segmented_control(key="usage-currency").set_value("USD").run()
    assert metrics(at)["费用"] == "US$0.1014"  # 0.03 + 0.5 / 7


def test_a_period_without_requests_says_how_data_appears(fake_api, db_url):
    at = usage_page(fake_api, db_url)
    assert not at.exception
    (info,) = at.info
    assert "Usage appears here as you chat" in info.value
    assert not at.metric and not at.dataframe


def test_the_period_picks_the_days_shown(fake_api, db_url):
    seed(db_url)
    at = usage_page(fake_api, db_url)
    first, last = at.date_input(key="usage-period").value
    at.date_input(key="usage-period").set_value(
        (first.replace(year=first.year - 1), last)).run()
    assert metrics(at)["Cost"] == "$100.10"  # the request of 40 days ago is in now
    assert metrics(at)["Requests"] == "6"


def test_admins_see_every_user_by_login_name_and_their_standing(fake_api, db_url):
    seed(db_url, ALICE_OWNER)
    seed(db_url, BOB_OWNER)
    with Store.open(db_url) as store:
        store.remember_account(BOB_OWNER, "", "bob@example.com")

    def signed_in(user: dict, **extra):
        at = new_app(provider_secrets(fake_api, db_url, NEXUSCHAT_MODE="hosted", **extra))
        at.secrets["auth"] = AUTH
        at.user = user
        return at.run().switch_page(USAGE).run()

    at = signed_in(ALICE, NEXUSCHAT_ADMINS="alice@example.com, carol@example.com")
    assert not at.exception and not at.error
    assert "Every user" in [h.value for h in at.header]
    users = next(d.value for d in at.dataframe if "User" in d.value.columns
                 and "Cost" in d.value.columns)
    assert sorted(users["User"]) == ["Alice Admin", "bob@example.com"]  # names, not ids
    assert list(users["Requests"]) == [6 - 1, 6 - 1]  # each: the period's 5
    standing = next(d.value for d in at.dataframe if "Limit per minute" in d.value.columns)
    assert sorted(standing["User"]) == ["Alice Admin", "bob@example.com"]
    assert list(standing["Limit per minute"]) == [10, 10]  # the hosted default
    assert list(standing["Requests in the last minute"]) == [0, 0]  # a minute ago, or more
    # Alice's own totals above are hers alone.
    assert metrics(at)["Requests"] == "5"

    bob = {"is_logged_in": True, "iss": ISSUER, "sub": "bob", "email": "bob@example.com"}
    not_admin = signed_in(bob, NEXUSCHAT_ADMINS="alice@example.com")
    assert "Every user" not in [h.value for h in not_admin.header]
    assert not any("User" in d.value.columns for d in not_admin.dataframe)
