"""Shared fixtures: a fake OpenAI-compatible server on loopback for every tier, and databases."""

from __future__ import annotations

import os

import pytest

from testbed.databases import fresh_schema
from testbed.fake_api import DEFAULT_MODELS, FakeAPI

# A text whose key or placeholders do not fit raises under tests instead of being logged
# (nexuschat.i18n): set before any test runs, so app servers started by tests inherit it.
os.environ["NEXUSCHAT_STRICT_I18N"] = "1"


@pytest.fixture(scope="session")
def fake_api_server():
    """One fake API server for the whole run (reset between tests)."""
    with FakeAPI() as server:
        yield server


@pytest.fixture
def fake_api(fake_api_server):
    """The fake API, with an empty script and no recorded requests."""
    fake_api_server.reset()
    fake_api_server.set_models(DEFAULT_MODELS)
    yield fake_api_server
    fake_api_server.reset()


POSTGRES_URL_ENV = "NEXUSCHAT_TEST_POSTGRES_URL"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """A URL to an empty database: a SQLite file, or a fresh schema on a real PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'nexuschat.sqlite3'}"
    else:
        yield from _postgres_schema_url()


def _postgres_schema_url():
    """A schema of its own for one test (search_path points at it), dropped afterwards."""
    url = os.environ.get(POSTGRES_URL_ENV, "").strip()
    if not url:
        reason = f"{POSTGRES_URL_ENV} is not set (scripts/start-postgres prints it)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"PostgreSQL tests must run in CI: {reason}")
        pytest.skip(reason)
    with fresh_schema(url, prefix="nexuschat_test") as scoped:
        yield scoped


@pytest.fixture(scope="session")
def base_url() -> str | None:
    """No default page URL (pytest-playwright's own fixture warns); e2e overrides it."""
    return None
