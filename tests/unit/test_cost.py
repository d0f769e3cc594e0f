"""Cost arithmetic (nexuschat/cost.py), prices in the catalog, the input estimate
(nexuschat/estimate.py), balances and running out of them (nexuschat/gateway.py), money in
both languages."""

from __future__ import annotations

import dataclasses
import json

import pytest

from nexuschat.conversation import Conversation, Message, ReplyMeta
from nexuschat.cost import (
    DEFAULT_USD_CNY,
    Price,
    PriceTier,
    convert,
    exchange_rate,
    price_from_dict,
    reply_cost,
    request_cost,
    spend_of,
)
from nexuschat.estimate import (
    MESSAGE_TOKENS,
    REPLY_TOKENS,
    estimate_cost,
    estimate_request,
    text_tokens,
)
from nexuschat.gateway import is_out_of_balance, read_balance, read_usage
from nexuschat.i18n import format_money, use_language
from nexuschat.images import PreparedImage
from nexuschat.models import CatalogError, capabilities, deployer_catalog, load_catalog
from nexuschat.store import meta_from_json, meta_to_json
from nexuschat.turns import apply_reply

SONNET = Price("USD", 3.0, 15.0, 0.3, "2026-12-02")
DEEPSEEK = Price("CNY", 2.0, 3.0, 0.2, "2026-12-02")
QWEN_MAX = Price("CNY", 2.5, 10.0, 0.5, "2026-12-02",
                 (PriceTier(32768, 4.0, 16.0, 0.8), PriceTier(131072, 7.0, 28.0, 1.4)))


def meta(**fields) -> ReplyMeta:
    usage = {"prompt_tokens": 1000, "completion_tokens": 200, "total_tokens": 1200}
    return ReplyMeta(model="claude-sonnet-4-6", **{**usage, **fields})


# --- arithmetic ----------------------------------------------------------------------------


def test_a_request_costs_its_tokens_at_the_price_per_million():
    cost = request_cost(SONNET, 1000, 200)
    assert cost.currency == "USD"
    assert cost.input == pytest.approx(0.003) and cost.output == pytest.approx(0.003)
    assert cost.amount == pytest.approx(0.006)
    assert request_cost(DEEPSEEK, 1_000_000, 1_000_000).amount == pytest.approx(5.0)  # ¥2 + ¥3


def test_cached_prompt_tokens_cost_the_cached_rate_and_never_more_than_the_prompt():
    cost = request_cost(SONNET, 1000, 200, cached_tokens=400)
    assert cost.amount == pytest.approx((600 * 3 + 400 * 0.3 + 200 * 15) / 1e6)  # $0.00492
    assert cost.cached_tokens == 400
    assert request_cost(SONNET, 100, 0, cached_tokens=10**6).cached_tokens == 100
    no_cache_price = dataclasses.replace(SONNET, cached_input=None)
    assert request_cost(no_cache_price, 1000, 200, cached_tokens=400).amount == pytest.approx(
        0.006)  # no cached rate: every prompt token at the input price


def test_a_longer_prompt_is_priced_at_its_tier():
    assert request_cost(QWEN_MAX, 32768, 1000).amount == pytest.approx(
        (32768 * 2.5 + 1000 * 10) / 1e6)
    assert request_cost(QWEN_MAX, 32769, 1000).amount == pytest.approx(
        (32769 * 4 + 1000 * 16) / 1e6)
    assert request_cost(QWEN_MAX, 200_000, 0, cached_tokens=100_000).amount == pytest.approx(
        (100_000 * 7 + 100_000 * 1.4) / 1e6)


def test_missing_usage_or_a_missing_price_has_no_cost():
    assert request_cost(SONNET, None, None) is None
    assert request_cost(SONNET, None, 10).amount == pytest.approx(150 / 1e6)  # half said
    assert reply_cost(ReplyMeta(model="m"), SONNET) is None  # the server reported no usage
    assert reply_cost(meta()) is None  # no stored price, no catalog price: unknown
    assert reply_cost(meta(), None) is None


def test_the_stored_price_wins_over_a_changed_catalog():
    stored = meta(price=SONNET.to_dict(), cached_tokens=400)
    dearer = Price("USD", 30.0, 150.0, as_of="2027-01-01")
    assert reply_cost(stored, dearer).amount == pytest.approx(0.00492)
    assert reply_cost(meta(), dearer).amount == pytest.approx(0.06)  # stored without: today's
    # Kept through the store's JSON column, unchanged.
    again = meta_from_json(json.loads(json.dumps(meta_to_json(stored))))
    assert again == stored and reply_cost(again, dearer).amount == pytest.approx(0.00492)


def test_prices_round_trip_and_anything_else_is_no_price():
    assert price_from_dict(QWEN_MAX.to_dict()) == QWEN_MAX
    assert price_from_dict(SONNET.to_dict()) == SONNET
    for bad in ({}, None, "3", {"currency": "EUR", "input": 1, "output": 1},
                {"currency": "USD", "input": "3", "output": 1},
                {"currency": "USD", "input": -1, "output": 1},
                {"currency": "USD", "input": True, "output": 1},
                {"currency": "USD", "input": 1, "output": float("nan")},
                {"currency": "USD", "input": 1, "output": 1, "tiers": [{"above": "x"}]}):
        assert price_from_dict(bad) is None, bad


def test_currencies_convert_at_the_exchange_rate_and_a_bad_setting_keeps_the_default():
    assert convert(1.0, "USD", "CNY", 7.2) == pytest.approx(7.2)
    assert convert(7.2, "CNY", "USD", 7.2) == pytest.approx(1.0)
    assert convert(5.0, "CNY", "CNY", 7.2) == 5.0
    assert exchange_rate("7.25") == 7.25 and exchange_rate("7,1") == 7.1
    for bad in ("", None, "abc", "0", "-7", "inf", "nan"):
        assert exchange_rate(bad) == DEFAULT_USD_CNY
    spend = spend_of([request_cost(SONNET, 1000, 200), None,
                      request_cost(DEEPSEEK, 1_000_000, 0)])
    assert spend.amounts == {"USD": pytest.approx(0.006), "CNY": pytest.approx(2.0)}
    assert spend.unpriced == 1
    assert spend.total("USD", 8.0) == pytest.approx(0.006 + 0.25)


def test_a_continuation_adds_its_tokens_and_keeps_one_price():
    conv = Conversation().append(Message("user", "q")).append(
        Message("assistant", "part", meta=meta(price=SONNET.to_dict(), cached_tokens=100)))
    more = ReplyMeta(model="claude-sonnet-4-6", prompt_tokens=1300, completion_tokens=100,
                     total_tokens=1400, cached_tokens=1000, price=SONNET.to_dict())
    merged = apply_reply(conv, "continue", " more", more).last.meta
    assert (merged.prompt_tokens, merged.cached_tokens) == (2300, 1100)
    assert merged.price == SONNET.to_dict()
    elsewhere = dataclasses.replace(more, price=DEEPSEEK.to_dict())
    assert apply_reply(conv, "continue", " more", elsewhere).last.meta.price == {}


# --- the catalog ---------------------------------------------------------------------------


def test_the_bundled_catalog_prices_the_picker_models_and_leaves_others_unknown():
    assert capabilities("claude-sonnet-4-6").price == SONNET
    assert (capabilities("claude-opus-4-7").price.input,
            capabilities("claude-opus-4-7").price.output) == (5.0, 25.0)
    assert capabilities("claude-haiku-4-5").price.output == 5.0
    assert capabilities("deepseek-chat").price == DEEPSEEK
    assert capabilities("qwen3-max").price == QWEN_MAX
    assert capabilities("qwen-vl-max").price.currency == "CNY"
    for unknown in ("qwen3.5-plus", "kimi-k2", "glm-4.6", "text-only-model"):
        assert capabilities(unknown).price is None
    for model in ("claude-sonnet-4-6", "qwen3-max", "deepseek-reasoner"):
        assert capabilities(model).price.as_of  # each with the date it was taken


def test_a_deployer_prices_a_model_or_changes_a_price_field_by_field():
    catalog = deployer_catalog({"model": [
        {"id": "claude-sonnet-4-6", "price": {"currency": "USD", "input": 2, "output": 10,
                                              "as_of": "2027-01-01"}},
        {"id": "kimi-k2", "price": {"currency": "CNY", "input": 4, "output": 16,
                                    "as_of": "2027-01-01"}}]})
    assert not catalog.problems
    sonnet = capabilities("claude-sonnet-4-6", catalog=catalog)
    assert (sonnet.price.input, sonnet.price.as_of, sonnet.vision) == (2.0, "2027-01-01", True)
    assert sonnet.context_window == 1_000_000  # the bundled entry's other fields stand
    assert capabilities("kimi-k2", catalog=catalog).price.currency == "CNY"


@pytest.mark.parametrize(("price", "problem"), [
    ('{currency = "EUR", input = 1, output = 1, as_of = 2026-12-02}', "catalog.problem.choice"),
    ('{currency = "USD", input = "1", output = 1, as_of = 2026-12-02}', "catalog.problem.price"),
    ('{currency = "USD", input = -1, output = 1, as_of = 2026-12-02}', "catalog.problem.price"),
    ('{currency = "USD", input = 1, output = 1, as_of = "soon"}', "catalog.problem.date"),
    ('{currency = "USD", input = 1, output = 1}', "catalog.problem.missing"),
    ('{currency = "USD", input = 1, output = 1, as_of = 2026-12-02, typo = 1}',
     "catalog.problem.unknown_field"),
])
def test_a_bad_price_is_refused_with_where_and_what(price, problem):
    with pytest.raises(CatalogError) as info:
        load_catalog(f'[[model]]\nid = "x"\nprice = {price}\n')
    assert info.value.problems[0].code == problem
    assert info.value.problems[0].params["where"].startswith("model[0].price")


def test_tiers_must_go_up():
    with pytest.raises(CatalogError):
        load_catalog('[[model]]\nid = "x"\nprice = {currency = "CNY", input = 1, output = 1, '
                     'as_of = 2026-12-02, tiers = [{above = 9, input = 2, output = 2}, '
                     '{above = 3, input = 3, output = 3}]}\n')


# --- usage, balances, running out -----------------------------------------------------------


def test_cached_tokens_are_read_wherever_a_server_reports_them():
    assert read_usage({"prompt_tokens": 9, "prompt_tokens_details": {"cached_tokens": 4}})[
        "cached_tokens"] == 4
    assert read_usage({"prompt_cache_hit_tokens": 3})["cached_tokens"] == 3  # DeepSeek
    assert read_usage({"cache_read_input_tokens": 2})["cached_tokens"] == 2  # Anthropic-style
    assert read_usage({"prompt_tokens_details": {"cached_tokens": -1}})["cached_tokens"] is None


def test_a_balance_is_read_from_the_documented_headers_and_body_fields():
    assert read_balance({"X-Balance": "12.34"}) == {"amount": 12.34, "currency": ""}
    assert read_balance({"x-balance": "1,012.50 usd"}) == {"amount": 1012.5, "currency": "USD"}
    assert read_balance({"x-account-balance": "¥5"}) == {"amount": 5.0, "currency": "CNY"}
    assert read_balance({"x-credits-remaining": "7", "x-balance-currency": "CNY"}) == {
        "amount": 7.0, "currency": "CNY"}
    assert read_balance(None, {"balance": {"amount": 3, "currency": "USD"}}) == {
        "amount": 3.0, "currency": "USD"}
    assert read_balance(None, {"usage": {"balance": "9.5 CNY"}}) == {"amount": 9.5,
                                                                      "currency": "CNY"}
    for nothing in ({"x-balance": "plenty"}, {"x-other": "1"}, {}):
        assert read_balance(nothing) is None
    assert read_balance(None, {"balance": True}) is None
    assert read_balance(None, {"balance": float("inf")}) is None


@pytest.mark.parametrize(("status", "body", "message", "out"), [
    (402, None, "", True),  # DeepSeek: Insufficient Balance
    (429, {"error": {"code": "insufficient_quota"}}, "", True),  # OpenAI
    (400, {"code": "Arrearage"}, "", True),  # DashScope
    (403, {"error": {"type": "insufficient_user_quota"}}, "", True),  # one-api
    (500, {}, "用户余额不足", True),
    (429, {"error": {"code": "rate_limit_exceeded"}}, "Too many requests", False),
    (400, {"error": {"code": ["insufficient_quota"]}}, "", False),
])
def test_running_out_of_balance_is_told_apart(status, body, message, out):
    assert is_out_of_balance(status, body, message) is out


def test_money_is_written_the_languages_way():
    try:
        assert format_money(0.00492, "USD") == "$0.0049"
        assert format_money(0.000366, "USD") == "$0.000366"
        assert format_money(1234.5, "CNY") == "CN¥1,234.50"
        use_language("zh")
        assert format_money(1234.5, "CNY") == "¥1,234.50"
        assert format_money(0.01, "USD") == "US$0.0100"
    finally:
        use_language("en")


# --- the estimate before sending -------------------------------------------------------------


def test_text_is_estimated_by_characters_cjk_apart():
    assert text_tokens("") == 0
    assert text_tokens("abcd" * 10) == 10  # four characters a token
    assert text_tokens("你好世界" * 5) == 12  # 20 x 0.6
    assert text_tokens("ab你好") == 2  # 0.5 + 1.2, rounded up


def test_the_next_request_counts_the_system_prompt_turns_and_images():
    picture = PreparedImage(data=b"x", mime="image/png", width=1000, height=750, name="a.png",
                            source_bytes=1, source_width=1000, source_height=750)
    conv = Conversation(system_prompt="abcd" * 5).append(
        Message("user", "abcd" * 10, images=(picture,))).append(
        Message("assistant", "abcd" * 2)).append(
        Message("assistant", "failed", meta=ReplyMeta(status="error")))  # not resent
    found = estimate_request(conv, "claude-sonnet-4-6")
    assert (found.text_tokens, found.image_tokens, found.messages) == (5 + 10 + 2, 1000, 3)
    assert found.tokens == 17 + 1000 + 3 * MESSAGE_TOKENS + REPLY_TOKENS
    blind = estimate_request(conv, "claude-sonnet-4-6", vision=False)
    assert blind.image_tokens == 0 and blind.text_tokens > found.text_tokens  # the text note
    assert found.exceeds(1000) and not found.exceeds(2000) and not found.exceeds(None)
    assert estimate_cost(found, SONNET).amount == pytest.approx(found.tokens * 3 / 1e6)
    assert estimate_cost(found, None) is None
    assert estimate_request(Conversation(), "m").tokens == 0
