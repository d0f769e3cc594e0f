"""Five browser sessions chatting at once with one server: no errors, no cross-talk (issue 5).

The correctness half of bench/load.py, with the same driver (testbed/sessions.py): five
fresh Chromium contexts against one `streamlit run` in hosted mode (every session its own
owner), all sending their turns at the same time, each question unique and with an image, the
replies streamed with overlap. No timing assertions: every wait is bounded, nothing is timed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from testbed.app_server import CHROMIUM, KEY
from testbed.sessions import (
    HostedStreamlitServer,
    LoadFakeAPI,
    LoadPlan,
    check_requests,
    drive,
    make_images,
)

pytestmark = pytest.mark.e2e

PLAN = LoadPlan(sessions=list(range(1, 6)), turns=3, pad=40, timeout_s=30)
TOKENS_PER_SECOND = 100  # 40 tokens take 0.4 s: the five streams overlap


@pytest.fixture
def load_fake() -> Iterator[LoadFakeAPI]:
    with LoadFakeAPI(pad=PLAN.pad, tokens_per_second=TOKENS_PER_SECOND) as fake:
        yield fake


@pytest.fixture
def hosted_app(load_fake, tmp_path) -> Iterator[HostedStreamlitServer]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium package")
    server = HostedStreamlitServer(load_fake.base_url, tmp_path, name="hosted")
    server.start()
    try:
        yield server
    finally:
        server.stop()
        assert not server.leaked_key(), f"the API key appears in {server.log_path}"


def test_concurrent_sessions_see_only_their_own_conversation(hosted_app, load_fake, tmp_path):
    images = make_images(tmp_path / "images", PLAN.sessions)

    results = drive(hosted_app.url, PLAN, images)

    errors = [e for r in results for e in r.errors]
    assert not errors, "\n".join(errors)
    crosstalk = [c for r in results for c in r.crosstalk]
    assert not crosstalk, "\n".join(crosstalk)
    assert [r.turns_done for r in results] == [PLAN.turns] * len(PLAN.sessions)
    crosstalk, gaps = check_requests(load_fake.requests, PLAN)
    assert not crosstalk, "\n".join(crosstalk)
    assert not gaps, "\n".join(gaps)
    # Every session is its own owner: one conversation each, listed for it alone.
    ids = [r.conversation_id for r in results]
    assert None not in ids and len(set(ids)) == len(ids)
    assert [r.listed for r in results] == [[cid] for cid in ids]
    assert KEY not in hosted_app.log()
