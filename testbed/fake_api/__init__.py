"""An OpenAI-compatible fake API server for tests, scriptable to fail at the HTTP boundary."""

from testbed.fake_api.server import DEFAULT_MODELS, FakeAPI, FakeAPIControl

__all__ = ["DEFAULT_MODELS", "FakeAPI", "FakeAPIControl"]
