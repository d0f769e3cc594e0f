"""The deploy tier: what a deployer runs (a Community Cloud install, the Docker image) checked
as it is. Tools it needs that are missing fail with CI=true and skip with a reason elsewhere."""

from __future__ import annotations

import os

import pytest


def unavailable(reason: str) -> None:
    """Fail in CI (its machine installs everything), skip elsewhere."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI must run this: {reason}")
    pytest.skip(reason)



# Debian's Chromium for the browser checks here too (the e2e tier's launch settings). Only the
# launch settings: the context settings are the e2e tier's own (its base URL), and a session
# fixture first asked for here would keep this folder's values for that tier too. Browser
# checks here open their own context from the session's `browser`.
from tests.e2e.conftest import browser_type_launch_args  # noqa: E402

__all__ = ["browser_type_launch_args", "unavailable"]
