"""Every page runs, in both languages, on this machine and on a hosted deploy without a key:
no exception, no error box, its own landmark drawn. The pages are the files in app_pages/,
and the router must offer each of them (no list kept by hand)."""

from __future__ import annotations

import re

import pytest

from tests.app.conftest import ROOT, new_app, provider_secrets

PAGES = sorted(f"app_pages/{p.name}" for p in (ROOT / "app_pages").glob("*.py"))
LANDMARKS = {  # what each page must draw, whatever the language
    "app_pages/chat.py": lambda at: at.chat_input and at.chat_input[0].key == "composer",
    "app_pages/conversations.py": lambda at: at.text_input(key="conversation-search"),
    "app_pages/settings.py": lambda at: at.selectbox(key="w_language"),
    "app_pages/usage.py": lambda at: at.date_input(key="usage-period"),
}


def test_the_router_offers_every_page_and_every_page_has_a_landmark():
    routed = re.findall(r'st\.Page\("(app_pages/[^"]+)"', (ROOT / "router.py").read_text())
    assert sorted(routed) == PAGES
    assert sorted(LANDMARKS) == PAGES


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("language", ["en", "zh"])
@pytest.mark.parametrize("deploy", ["local with a key", "hosted without a key"])
def test_every_page_runs(fake_api, db_url, page, language, deploy):
    secrets = provider_secrets(fake_api, db_url)
    if deploy == "hosted without a key":
        secrets = {**secrets, "NEXUSCHAT_MODE": "hosted", "NEXUSCHAT_PROVIDER": "api"}
        del secrets["NEXUSCHAT_API_KEY"]
    at = new_app(secrets)
    at.session_state["w_language"] = language
    at.run()
    at.switch_page(page).run()
    assert not at.exception
    assert [e.value for e in at.error] == []
    assert LANDMARKS[page](at)
