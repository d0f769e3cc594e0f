"""The Usage page in a real browser, with data: two replies through the fake API, then the page
shows their cost, and Vega has drawn the charts (marks on a canvas or in an SVG), screenshot
in /tmp. Waits are Playwright's auto-waiting `expect`, never sleeps."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_browser_chat import TIMEOUT_MS, messages, open_chat, send

pytestmark = pytest.mark.e2e

SCREENSHOT = Path("/tmp/nexuschat-e2e-usage.png")
# How many marks a chart's SVG has, or how many coloured pixels its canvas has: bars are
# coloured, while axes, grid lines and labels are grey, so an empty chart (axes only) or a
# failed one counts none.
DRAWN = """(chart) => {
    const svg = chart.querySelectorAll("svg .mark-rect path, svg .mark-rect rect");
    if (svg.length) return svg.length;
    let drawn = 0;
    for (const canvas of chart.querySelectorAll("canvas")) {
        if (!canvas.width || !canvas.height) continue;
        const px = canvas.getContext("2d").getImageData(0, 0, canvas.width,
                                                        canvas.height).data;
        for (let i = 0; i < px.length; i += 4) {
            const hue = Math.max(px[i], px[i + 1], px[i + 2])
                - Math.min(px[i], px[i + 1], px[i + 2]);
            if (px[i + 3] > 0 && hue > 60) drawn++;
        }
    }
    return drawn;
}"""


def test_the_usage_page_draws_its_charts_from_real_replies(page: Page, fake_api):
    fake_api.script({"kind": "reply", "tokens": 200, "prompt_tokens": 1000,
                     "balance": "12.5", "balance_currency": "USD"},
                    {"kind": "reply", "tokens": 100, "prompt_tokens": 2000})
    open_chat(page)
    send(page, "first question")
    expect(messages(page).nth(1)).to_contain_text("$0.0060")  # 1,000 x $3 + 200 x $15
    send(page, "second question")
    expect(messages(page).nth(3)).to_contain_text("$0.0075")  # 2,000 x $3 + 100 x $15
    expect(page.get_by_test_id("stSidebar")).to_contain_text("Balance: $12.50")

    page.get_by_test_id("stSidebarNav").get_by_text("Usage").click()
    expect(page.get_by_role("heading", name="Usage")).to_be_visible()
    cost = page.get_by_test_id("stMetric").filter(has_text="Cost")
    expect(cost).to_contain_text(re.compile(r"\$0\.0\d{3}"))  # this session's and earlier
    charts = page.get_by_test_id("stVegaLiteChart")
    expect(charts.first).to_be_visible()
    assert charts.count() >= 5  # cost, tokens, per model, requests, the two speeds
    first = charts.first
    first.scroll_into_view_if_needed()
    page.wait_for_function(f"(el) => ({DRAWN})(el) > 0", arg=first.element_handle(),
                           timeout=TIMEOUT_MS)
    assert first.evaluate(DRAWN) > 0
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert SCREENSHOT.stat().st_size > 10_000
    expect(page.get_by_text("Download CSV").first).to_be_visible()
