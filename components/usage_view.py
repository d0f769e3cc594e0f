"""The Usage page's pieces: the period and currency, the totals, each chart with its table and
a CSV download, and the admins' view of every user (nexuschat.usage reshapes; the store sums).

Charts are Altair (Streamlit ships it), drawn by Vega in the browser: model ids, error codes
and login names are data there (SVG or canvas text, never Markdown), and cells in
st.dataframe are plain text.
"""

from __future__ import annotations

import datetime as dt
import time

import altair as alt
import pandas as pd
import streamlit as st

from components import identity, persistence, quota, spend, state
from nexuschat import describe
from nexuschat.cost import CURRENCIES
from nexuschat.i18n import current_language, format_money, format_number, t
from nexuschat.usage import (
    UsageReport,
    per_day,
    per_model,
    period_bounds,
    standing_row,
    token_days,
)

PERIOD = "usage-period"  # the date_input: (first day, last day), the viewer's days
CURRENCY = "usage-currency"  # the segmented control: the currency totals are shown in
DEFAULT_DAYS = 30
# Table columns as the page names them (the CSV files keep these machine names).
COLUMNS = {
    "day": "usage.col.day", "model": "usage.col.model", "requests": "usage.col.requests",
    "errors": "usage.col.errors", "prompt_tokens": "usage.col.prompt_tokens",
    "completion_tokens": "usage.col.completion_tokens",
    "cached_tokens": "usage.col.cached_tokens", "cost": "usage.col.cost",
    "unpriced": "usage.col.unpriced", "median_ttft_s": "usage.col.median_ttft_s",
    "median_tokens_per_s": "usage.col.median_tokens_per_s", "kind": "usage.col.kind",
    "tokens": "usage.col.tokens", "error": "usage.col.error", "user": "usage.col.user",
    "requests_last_minute": "usage.col.requests_last_minute",
    "requests_per_minute": "usage.col.requests_per_minute",
    "tokens_today": "usage.col.tokens_today", "tokens_per_day": "usage.col.tokens_per_day",
    "open_streams": "usage.col.open_streams",
    "concurrent_streams": "usage.col.concurrent_streams",
    "closest_limit": "usage.col.closest_limit",
}
TOKEN_KINDS = {"prompt": "usage.kind.prompt", "completion": "usage.kind.completion"}


def offset_s() -> int:
    """The browser's offset from UTC in seconds, east positive (0 when it did not say)."""
    minutes = st.context.timezone_offset
    return -int(minutes) * 60 if isinstance(minutes, int | float) else 0


def today() -> dt.date:
    """The viewer's date now."""
    return dt.datetime.fromtimestamp(time.time() + offset_s(), dt.UTC).date()


def render_controls() -> tuple[tuple[dt.date, dt.date], str]:
    """The period (default: the last 30 days) and the currency totals are shown in (by
    default the language's: yuan in Chinese, dollars otherwise)."""
    now = today()
    left, right = st.columns([3, 2], vertical_alignment="bottom")
    picked = left.date_input(t("usage.period"), value=(now - dt.timedelta(days=DEFAULT_DAYS - 1),
                                                       now),
                             max_value=now, key=PERIOD, format="YYYY-MM-DD")
    first, last = _range(picked, now)
    currency = right.segmented_control(
        t("usage.currency"), CURRENCIES, key=CURRENCY,
        default="CNY" if current_language() == "zh" else "USD", required=True)
    return (first, last), currency or "USD"


def _range(picked: object, now: dt.date) -> tuple[dt.date, dt.date]:
    if isinstance(picked, dt.date):
        return picked, picked
    days = [d for d in (picked or ()) if isinstance(d, dt.date)]
    if not days:
        return now - dt.timedelta(days=DEFAULT_DAYS - 1), now
    return min(days), max(days)  # one day picked so far: that day


def report(period: tuple[dt.date, dt.date], owner: str | None = None) -> UsageReport:
    """This owner's use over the period (one store call: SQL aggregates)."""
    start, end = period_bounds(*period, offset_s())
    return persistence.store().usage_report(owner or persistence.owner(), start, end,
                                            offset_s())


def render_empty() -> None:
    """How data appears here, when there is none for the period."""
    st.info(t("usage.empty"), icon=":material/query_stats:")


def render_totals(found: UsageReport, currency: str) -> None:
    """Cost, requests, tokens and errors over the period, as metrics."""
    rate = spend.usd_cny()
    cost, tokens = st.columns(2)
    requests, errors = st.columns(2)
    amount = found.cost(currency, rate)
    cost.metric(t("usage.total_cost"), format_money(amount, currency),
                help=describe.money_help({currency: amount}, rate), border=True)
    tokens.metric(t("usage.total_tokens"),
                  format_number(found.prompt_tokens + found.completion_tokens),
                  help=t("usage.tokens_help", prompt=format_number(found.prompt_tokens),
                         completion=format_number(found.completion_tokens)), border=True)
    requests.metric(t("usage.total_requests"), format_number(found.requests), border=True)
    errors.metric(t("usage.total_errors"), format_number(found.error_count), border=True)
    if found.unpriced:
        st.caption(t("usage.unpriced", count=found.unpriced))


def _table(rows: list[dict], columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=columns)


def render_data(frame: pd.DataFrame, name: str, *, expanded: bool = False) -> None:
    """A chart's table (columns in the page's words) and its CSV download."""
    with st.expander(t("usage.table"), expanded=expanded):
        st.dataframe(frame.rename(columns={c: t(COLUMNS[c]) for c in frame.columns}),
                     hide_index=True, key=f"usage-table-{name}")
    st.download_button(t("usage.download"), frame.to_csv(index=False).encode("utf-8"),
                       file_name=f"nexuschat-usage-{name}.csv", mime="text/csv",
                       key=f"usage-csv-{name}", icon=":material/download:", type="tertiary")


def _chart(chart: alt.Chart, name: str) -> None:
    st.altair_chart(chart, width="stretch", key=f"usage-chart-{name}")


def render_cost(found: UsageReport, currency: str) -> None:
    """Cost per day, stacked by model."""
    st.subheader(t("usage.cost_per_day"))
    rows = per_day(found, currency, spend.usd_cny())
    frame = _table(rows, ["day", "model", "requests", "errors", "prompt_tokens",
                          "completion_tokens", "cached_tokens", "cost"])
    frame["day"] = frame["day"].map(dt.date.isoformat)
    _chart(alt.Chart(frame).mark_bar().encode(
        x=alt.X("day:O", title=t("usage.col.day")),
        y=alt.Y("sum(cost):Q", title=t("usage.cost_in", currency=currency)),
        color=alt.Color("model:N", title=t("usage.col.model")),
        tooltip=["day", "model", alt.Tooltip("cost:Q", format=".6f")]), "cost")
    render_data(frame, "cost-per-day")


def render_tokens(found: UsageReport) -> None:
    """Prompt and completion tokens per day, stacked."""
    st.subheader(t("usage.tokens_per_day"))
    frame = _table(token_days(found), ["day", "kind", "tokens"])
    frame["day"] = frame["day"].map(dt.date.isoformat)
    frame["kind"] = frame["kind"].map(lambda k: t(TOKEN_KINDS[k]))
    _chart(alt.Chart(frame).mark_bar().encode(
        x=alt.X("day:O", title=t("usage.col.day")),
        y=alt.Y("sum(tokens):Q", title=t("usage.col.tokens")),
        color=alt.Color("kind:N", title=t("usage.col.kind")),
        tooltip=["day", "kind", "tokens"]), "tokens")
    render_data(frame, "tokens-per-day")


def render_models(found: UsageReport, currency: str) -> None:
    """Per model over the period: cost and tokens, with its speed in the table."""
    st.subheader(t("usage.per_model"))
    frame = _table(per_model(found, currency, spend.usd_cny()),
                   ["model", "requests", "errors", "prompt_tokens", "completion_tokens", "cost",
                    "unpriced", "median_ttft_s", "median_tokens_per_s"])
    _chart(alt.Chart(frame).mark_bar().encode(
        y=alt.Y("model:N", title=t("usage.col.model"), sort="-x"),
        x=alt.X("cost:Q", title=t("usage.cost_in", currency=currency)),
        tooltip=["model", "requests", alt.Tooltip("cost:Q", format=".6f")]), "models")
    render_data(frame, "per-model")


def render_requests(found: UsageReport) -> None:
    """Requests per day, and the failed ones by kind."""
    st.subheader(t("usage.requests"))
    days: dict[str, list[int]] = {}
    for d in found.days:
        pair = days.setdefault(d.day.isoformat(), [0, 0])
        pair[0] += d.requests
        pair[1] += d.errors
    frame = _table([{"day": day, "requests": n, "errors": e} for day, (n, e) in
                    sorted(days.items())], ["day", "requests", "errors"])
    _chart(alt.Chart(frame).mark_bar().encode(
        x=alt.X("day:O", title=t("usage.col.day")),
        y=alt.Y("requests:Q", title=t("usage.col.requests")),
        tooltip=["day", "requests", "errors"]), "requests")
    render_data(frame, "requests-per-day")
    if found.errors:
        st.markdown(t("usage.errors_by_kind"))
        errors = _table([{"error": code.removeprefix("error."), "requests": n}
                         for code, n in found.errors], ["error", "requests"])
        _chart(alt.Chart(errors).mark_bar().encode(
            y=alt.Y("error:N", title=t("usage.col.error"), sort="-x"),
            x=alt.X("requests:Q", title=t("usage.col.requests")),
            tooltip=["error", "requests"]), "errors")
        render_data(errors, "errors-by-kind")


def render_speed(found: UsageReport) -> None:
    """Median time to first token and tokens per second per model."""
    if not found.speeds:
        return
    st.subheader(t("usage.speed"))
    frame = _table([{"model": s.model, "requests": s.replies, "median_ttft_s": s.median_ttft_s,
                     "median_tokens_per_s": s.median_tokens_per_s} for s in found.speeds],
                   ["model", "requests", "median_ttft_s", "median_tokens_per_s"])
    ttft, rate = st.columns(2)
    with ttft:
        _chart(alt.Chart(frame).mark_bar().encode(
            y=alt.Y("model:N", title=t("usage.col.model")),
            x=alt.X("median_ttft_s:Q", title=t("usage.col.median_ttft_s")),
            tooltip=["model", alt.Tooltip("median_ttft_s:Q", format=".2f")]), "ttft")
    with rate:
        _chart(alt.Chart(frame).mark_bar().encode(
            y=alt.Y("model:N", title=t("usage.col.model")),
            x=alt.X("median_tokens_per_s:Q", title=t("usage.col.median_tokens_per_s")),
            tooltip=["model", alt.Tooltip("median_tokens_per_s:Q", format=".1f")]), "rate")
    render_data(frame, "speed-per-model")


def render_admin(period: tuple[dt.date, dt.date], currency: str) -> None:
    """For the deploy's admins (NEXUSCHAT_ADMINS, with a login): every user's totals by
    login name, and where each stands against the hosted limits now."""
    if not identity.is_admin():
        return
    st.divider()
    st.header(t("usage.admin"))
    start, end = period_bounds(*period, offset_s())
    rate = spend.usd_cny()
    users = persistence.store().usage_by_owner(start, end)
    if not users:
        st.caption(t("usage.admin_empty"))
    else:
        frame = _table([{"user": u.name or u.owner, "requests": u.requests, "errors": u.errors,
                         "tokens": u.tokens, "cost": u.cost(currency, rate)} for u in users],
                       ["user", "requests", "errors", "tokens", "cost"])
        _chart(alt.Chart(frame).mark_bar().encode(
            y=alt.Y("user:N", title=t("usage.col.user"), sort="-x"),
            x=alt.X("cost:Q", title=t("usage.cost_in", currency=currency)),
            tooltip=["user", "requests", "tokens", alt.Tooltip("cost:Q", format=".6f")]),
            "users")
        render_data(frame, "per-user")
    st.subheader(t("usage.standing"))
    limits = state.limits()
    standings = persistence.store().standings(stale_after_s=quota.STALE_STREAM_S)
    if not standings:
        st.caption(t("usage.standing_empty"))
        return
    frame = _table([standing_row(s, limits) for s in standings], list(
        standing_row(standings[0], limits)))
    st.caption(t("usage.standing_help"))
    render_data(frame, "standing", expanded=True)
