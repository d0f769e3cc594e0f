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


# Debian's Chromium for the browser checks here too (the e2e tier's settings).
from tests.e2e.conftest import browser_context_args, browser_type_launch_args  # noqa: E402

__all__ = ["browser_context_args", "browser_type_launch_args", "unavailable"]
