"""The loopback world NexusChat is tested and measured in, shared by tests/ and bench/.

- `testbed.fake_api`: an OpenAI-compatible server on loopback (real HTTP, JSON and SSE),
  scriptable to answer in every shape real gateways use and to fail on demand;
- `testbed.sessions`: many real browser sessions chatting with one app server at once
  (tests/e2e/test_concurrent_sessions.py checks them; bench/load.py also times them).

Nothing here is shipped with the app; it lives outside tests/ so that the benchmarks do not
import from the test suite.
"""
