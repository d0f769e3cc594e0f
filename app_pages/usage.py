"""Usage: what your requests cost and used over a period, per day and model, how fast each
model answered, and for the deploy's admins every user's totals."""

import streamlit as st

from components import usage_view
from nexuschat.i18n import t

st.title(t("usage.title"))
period, currency = usage_view.render_controls()
report = usage_view.report(period)
if report.empty:
    usage_view.render_empty()
else:
    usage_view.render_totals(report, currency)
    usage_view.render_cost(report, currency)
    usage_view.render_tokens(report)
    usage_view.render_models(report, currency)
    usage_view.render_requests(report)
    usage_view.render_speed(report)
usage_view.render_admin(period, currency)
