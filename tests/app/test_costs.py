"""What things cost, on the chat page (AppTest, the fake API): a reply's cost in its footer (its
currency, the other one on hover), "price unknown", the stored price winning over a changed
catalog, the conversation's total and the balance in the sidebar, running out of balance, and
the next request's estimate before sending."""

from __future__ import annotations

from nexuschat.estimate import estimate_request
from tests.app.conftest import new_app, provider_secrets, send
from tests.app.test_history import reopen
from tests.app.test_replies import conversation_id

# 1,000 prompt tokens (400 of them from the cache) and 200 completion tokens of Sonnet 4.6:
# (600 x $3 + 400 x $0.30 + 200 x $15) / 1M = $0.00492.
SONNET_REPLY = {"kind": "reply", "tokens": 200, "prompt_tokens": 1000,
                "usage_extra": {"prompt_tokens_details": {"cached_tokens": 400}}}


def footers(at) -> list:
    """The captions under replies (model · usage · cost · timings)."""
    return [c for c in at.main.caption if " in · " in c.value or "· 输入 " in c.value]


def sidebar_text(at) -> str:
    return "\n".join(c.value for c in at.sidebar.caption)


def test_a_reply_shows_its_cost_in_its_currency_and_the_other_on_hover(fake_api, db_url):
    at = new_app(provider_secrets(fake_api, db_url, NEXUSCHAT_USD_CNY="7.2")).run()
    fake_api.script({**SONNET_REPLY, "balance": "12.5", "balance_currency": "USD"})
    send(at, "What does this cost?")
    assert not at.exception
    (footer,) = footers(at)
    assert "1,000 in · 200 out · 1,200 total tokens · $0.0049 · " in footer.value
    help_text = footer.proto.help
    assert "CN¥0.0354 at 7.20 CNY per USD" in help_text  # 0.00492 x 7.2
    assert "$3.00 per million input tokens and $15.00 per million output tokens" in help_text
    assert "400 prompt tokens were read from the provider's cache" in help_text
    # The conversation's total and the balance the gateway reported, in the sidebar.
    assert "This conversation: $0.0049 (1 request)" in sidebar_text(at)
    assert "Balance: $12.50" in sidebar_text(at)
    stored = at.session_state["conversation"].last.meta
    assert stored.price["input"] == 3.0 and stored.cached_tokens == 400


def test_in_chinese_the_yuan_model_is_costed_in_yuan(fake_api, db_url):
    at = new_app(provider_secrets(fake_api, db_url, NEXUSCHAT_MODEL="deepseek-chat"))
    at.session_state["w_language"] = "zh"
    at.run()
    # DeepSeek: 1,000 x ¥2 + 200 x ¥3 per million = ¥0.0026
    fake_api.script({**SONNET_REPLY, "usage_extra": {}})
    send(at, "多少钱？")
    (footer,) = footers(at)
    assert "¥0.0026" in footer.value
    assert "US$0.000366" in footer.proto.help  # at the default 7.1 yuan per dollar
    assert "本对话：¥0.0026（1 次请求）" in sidebar_text(at)


def test_a_model_without_a_price_shows_tokens_and_price_unknown(fake_api, db_url):
    at = new_app(provider_secrets(fake_api, db_url, NEXUSCHAT_MODEL="text-only-model")).run()
    fake_api.script({"kind": "reply", "tokens": 5, "prompt_tokens": 10})
    send(at, "free?")
    (footer,) = footers(at)
    assert "10 in · 5 out · 15 total tokens · price unknown" in footer.value
    assert "$" not in footer.value and "¥" not in footer.value
    assert "1 request at an unknown price" in sidebar_text(at)


def test_a_reply_without_usage_has_no_cost(fake_api, db_url):
    at = new_app(provider_secrets(fake_api, db_url)).run()
    fake_api.script({"kind": "reply", "text": "no usage", "ignore_stream_options": True})
    send(at, "hi")
    (caption,) = [c.value for c in at.main.caption if "usage not reported" in c.value]
    assert "$" not in caption and "price unknown" not in caption


def test_the_stored_price_wins_over_a_changed_catalog(fake_api, db_url):
    at = new_app(provider_secrets(fake_api, db_url)).run()
    fake_api.script(SONNET_REPLY)
    send(at, "priced today")
    dearer = {"model": [{"id": "claude-sonnet-4-6", "price": {
        "currency": "USD", "input": 30, "output": 150, "as_of": "2027-01-01"}}]}
    later = reopen(fake_api, db_url, conversation_id(at), NEXUSCHAT_MODELS=dearer)
    assert not later.exception
    (footer,) = footers(later)
    assert "$0.0049" in footer.value  # not $0.0600 at the new price
    # The next request is estimated at the new price.
    fake_api.script({**SONNET_REPLY, "usage_extra": {}})
    send(later, "priced later")
    assert "$0.0600" in footers(later)[-1].value  # 1,000 x $30 + 200 x $150 per million


def test_running_out_of_balance_is_said_plainly_in_both_languages(fake_api, db_url):
    at = new_app(provider_secrets(fake_api, db_url)).run()
    fake_api.script({"kind": "error", "status": 402, "message": "Insufficient Balance"})
    send(at, "hello")
    (error,) = at.error
    assert "run out of balance or quota" in error.value and "Insufficient Balance" in error.value
    assert any(b.key and b.key.startswith("retry-") for b in at.button)
    fake_api.script({"kind": "error", "status": 429, "code": "insufficient_quota",
                     "message": "You exceeded your current quota"})
    at.session_state["w_language"] = "zh"
    at.button(key=next(b.key for b in at.button if b.key.startswith("retry-"))).click().run()
    assert any("账户余额或额度已用完" in e.value for e in at.error)


def test_the_estimate_counts_the_history_once_per_change_and_warns_past_the_window(fake_api,
                                                                                  db_url):
    tiny = {"model": [{"id": "claude-sonnet-4-6", "context_window": 40}]}
    at = new_app(provider_secrets(fake_api, db_url, NEXUSCHAT_MODELS=tiny)).run()
    assert not [c for c in at.caption if "Next request" in c.value]  # nothing to carry yet
    fake_api.script({"kind": "reply", "text": "A short answer of a few words."})
    send(at, "A question that is long enough to count for something here.")
    expected = estimate_request(at.session_state["conversation"], "claude-sonnet-4-6")
    (caption,) = [c for c in at.caption if "Next request" in c.value]
    assert caption.value.startswith(f"Next request: about {expected.tokens} input tokens")
    assert "(estimate)" in caption.value and "about $0.0000" in caption.value
    assert not at.warning
    held = at.session_state["request_estimate"]
    at.run()  # a rerun with nothing changed: the same estimate, not walked again
    assert at.session_state["request_estimate"] is held or \
        at.session_state["request_estimate"][1] is held[1]

    fake_api.script({"kind": "reply", "text": "More words, so that the window is passed now."})
    send(at, "Another question, so the conversation grows past the tiny window.")
    assert at.session_state["request_estimate"][1].tokens > 40
    (warning,) = at.warning
    assert "more than claude-sonnet-4-6's context window of 40 tokens" in warning.value
