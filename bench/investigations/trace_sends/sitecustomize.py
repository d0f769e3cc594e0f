"""Loaded by `bench.load --trace` into the app server (this directory on PYTHONPATH): stamps
when each websocket message carrying a load-test reply leaves the server.

Only active when BENCH_TRACE_SENDS names the output file (not a NEXUSCHAT_ name: the test
servers' environment drops those). One line per sent message that holds a reply to "session N
turn T" with padding tokens: `N T last-token-index time.time()`.
"""

import os

_OUT = os.environ.get("BENCH_TRACE_SENDS")

if _OUT:
    import atexit
    import re
    import time

    import starlette.websockets

    _TURN = re.compile(rb"session (\d+) turn (\d+)")
    _TOKEN = re.compile(rb"w(\d+)")
    _log = open(_OUT, "a", buffering=1 << 20)  # noqa: SIM115 - open for the process's life
    atexit.register(_log.close)  # written out at exit: no write on the event loop per message
    _send_bytes = starlette.websockets.WebSocket.send_bytes

    async def _traced_send_bytes(self, data: bytes) -> None:
        await _send_bytes(self, data)
        turn = _TURN.search(data, 0, 400)
        if turn:
            tokens = _TOKEN.findall(data[-80:])
            if tokens:
                _log.write(f"{int(turn[1])} {int(turn[2])} {int(tokens[-1])} {time.time():.4f}\n")

    starlette.websockets.WebSocket.send_bytes = _traced_send_bytes
