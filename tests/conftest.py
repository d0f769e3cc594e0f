"""Shared fixtures: a fake OpenAI-compatible server on loopback for every tier."""

from __future__ import annotations

import pytest

from tests.fake_api import DEFAULT_MODELS, FakeAPI


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
