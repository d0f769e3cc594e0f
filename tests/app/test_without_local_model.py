"""Installed as Community Cloud installs it (requirements.txt: no `local` extra) and without a
key, the app says what to configure, in the user's language, instead of failing. Runs where the
extra is missing: tests/deploy/test_cloud_install.py runs it in such an environment and checks
that it ran."""

from __future__ import annotations

import pytest

from nexuschat.local import find_setup
from tests.app.conftest import new_app

pytestmark = pytest.mark.skipif(
    find_setup().missing != "server",
    reason="the offline model is installed here (tests/deploy/test_cloud_install.py runs this "
           "where it is not)",
)

SAYS = {
    "en": ("The local model is not installed", "set a key"),
    "zh": ("本地模型尚未安装", "密钥"),
}


@pytest.mark.parametrize("language", ["en", "zh"])
def test_this_computer_without_the_offline_model_says_how_to_get_one_or_use_a_key(
        language, db_url):
    at = new_app({"NEXUSCHAT_DATABASE_URL": db_url, "NEXUSCHAT_MODE": "local"})
    at.session_state["w_language"] = language
    at.run()
    assert not at.exception
    shown = " ".join(box.value for box in (*at.info, *at.warning))
    for words in SAYS[language]:
        assert words in shown, shown
