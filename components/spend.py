"""What things cost, in the page: a reply's cost in its footer, the next request's estimate
under the conversation, the conversation's total and the account's balance in the sidebar
(nexuschat.cost and nexuschat.estimate decide; the store sums)."""

from __future__ import annotations

import streamlit as st

from components import persistence, state
from nexuschat import describe
from nexuschat.config import Settings
from nexuschat.conversation import Conversation, Message, ReplyMeta
from nexuschat.cost import USD_CNY_SETTING, Price, exchange_rate, reply_cost, reply_price
from nexuschat.estimate import RequestEstimate, estimate_cost, estimate_request
from nexuschat.i18n import format_money, format_number, t
from nexuschat.models import Capabilities, capabilities
from nexuschat.safe_text import plain_text
from nexuschat.store import StoreError

# (key, RequestEstimate): the next request's estimate, computed once per change of the
# conversation (id, messages, their last one), the model, images and the system prompt.
ESTIMATE = "request_estimate"
# (key, (amounts per currency, requests, unpriced)): the open conversation's total from the
# request log, read once per change of its last reply.
CONVERSATION_SPEND = "conversation_spend"
# dict | None: the balance the server reported after this session's latest reply
# (nexuschat.gateway.read_balance: amount, currency).
BALANCE = "account_balance"


def usd_cny() -> float:
    """Yuan per dollar: NEXUSCHAT_USD_CNY (secrets, then the environment), else the default."""
    return exchange_rate(state.setting(USD_CNY_SETTING))


def catalog_price(settings: Settings, model: str | None = None) -> Price | None:
    """The catalog's price for `model` (default: the settings' model) today."""
    return state.model_capabilities(settings, model).price


def price_record(settings: Settings) -> dict:
    """The price a reply sent with these settings stores ({}: unknown)."""
    price = catalog_price(settings)
    return price.to_dict() if price is not None else {}


def footer(meta: ReplyMeta, rate: float) -> tuple[str | None, str | None]:
    """A reply's cost for its footer, and the hover text (the other currency, its price).

    Its stored price wins; a reply stored before prices is costed at the catalog's price.
    """
    if not meta.has_usage:
        return None, None
    fallback = None
    if not meta.price:  # stored before prices: today's catalog price for its model
        fallback = capabilities(meta.model, None, state.catalog()).price
    price = reply_price(meta, fallback)
    cost = reply_cost(meta, fallback)
    note = describe.cost_note(meta, cost)
    return note, (describe.cost_help(cost, price, rate) if cost and price else None)


# --- before sending ------------------------------------------------------------------------


def estimate(conversation: Conversation, model: str, vision: bool) -> RequestEstimate:
    """The next request's input, estimated once per change of what it would carry (not per
    rerun or keystroke: the history is walked only when it changed)."""
    last = conversation.last
    key = (conversation.id, len(conversation.messages), last.id if last else None,
           len(last.content) if last else 0, model, vision,
           hash(conversation.system_prompt))
    held = st.session_state.get(ESTIMATE)
    if held is not None and held[0] == key:
        return held[1]
    found = estimate_request(conversation, model, vision=vision)
    st.session_state[ESTIMATE] = (key, found)
    return found


def render_estimate(conversation: Conversation, settings: Settings, caps: Capabilities) -> None:
    """Under the conversation: what the next request's input comes to before the message
    being typed (tokens and cost, an estimate), and a warning when it will not fit the
    model's context window."""
    found = estimate(conversation, settings.model, caps.vision)
    if not found.tokens:
        return
    cost = estimate_cost(found, caps.price)
    text = t("estimate.tokens", count=found.tokens)
    if caps.price is None:
        text += " · " + t("meta.price_unknown")
    elif cost is not None:
        text += " · " + t("estimate.cost", amount=format_money(cost.amount, cost.currency))
    st.caption(text, help=t("estimate.help"))
    if found.exceeds(caps.context_window):
        st.warning(t("estimate.too_long", model=plain_text(settings.model),
                     tokens=format_number(found.tokens), count=caps.context_window),
                   icon=":material/warning:")


# --- after a reply -------------------------------------------------------------------------


def remember_balance(reply: Message | None) -> None:
    """Keep the balance the server reported with this reply, for the sidebar."""
    if reply is not None and reply.meta is not None and reply.meta.balance:
        st.session_state[BALANCE] = dict(reply.meta.balance)


def conversation_spend(conversation: Conversation) -> tuple[dict, int, int] | None:
    """The open conversation's total (amounts per currency, requests, unpriced ones), read
    from the store once per change of its last reply; None before it is stored."""
    if st.session_state.get(persistence.STORED_ID) != conversation.id:
        return None
    last = conversation.last
    meta = last.meta if last else None
    key = (conversation.id, len(conversation.messages), last.id if last else None,
           meta.total_tokens if meta else None, meta.status if meta else None)
    held = st.session_state.get(CONVERSATION_SPEND)
    if held is not None and held[0] == key:
        return held[1]
    found = persistence.store().conversation_spend(persistence.owner(), conversation.id)
    st.session_state[CONVERSATION_SPEND] = (key, found)
    return found


def render_sidebar_spend() -> None:
    """The router's last step, after the page (and its reply) ran: the open conversation's
    total and the balance the server last reported, at the sidebar's end."""
    try:
        spent = conversation_spend(state.conversation())
    except StoreError:
        spent = None  # the page said what is wrong with the store
    balance = st.session_state.get(BALANCE)
    if not (spent and spent[1]) and not balance:
        return
    rate = usd_cny()
    with st.sidebar:
        if spent and spent[1]:
            amounts, requests, unpriced = spent
            text = t("spend.conversation", amount=describe.money_text(amounts), count=requests)
            if unpriced:
                text += " " + t("spend.unpriced", count=unpriced)
            st.caption(text, help=describe.money_help(amounts, rate) if amounts else None)
        if balance:
            currency = balance.get("currency") or ""
            amount = balance.get("amount", 0.0)
            shown = (format_money(amount, currency) if currency in ("USD", "CNY")
                     else format_number(amount, 2) + (f" {plain_text(currency)}" if currency
                                                      else ""))
            st.caption(t("spend.balance", amount=shown), help=t("spend.balance_help"))
