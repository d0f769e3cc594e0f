"""Every page runs without an exception, with and without a configured provider."""

import pytest

from tests.app.conftest import KEY, new_app

PAGES = ["app_pages/chat.py", "app_pages/settings.py"]


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("configured", [False, True])
def test_every_page_runs(page, configured, fake_api):
    secrets = {"NEXUSCHAT_API_KEY": KEY, "NEXUSCHAT_BASE_URL": fake_api.base_url} \
        if configured else {}
    at = new_app(secrets).run()
    at.switch_page(page).run()
    assert not at.exception
    assert at.sidebar.button  # the shared sidebar is on every page
