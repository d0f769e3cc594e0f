"""Run the fake API in the foreground: python -m testbed.fake_api [--port N] [--expected-key K]."""

import argparse
import signal
import threading

from testbed.fake_api.server import FakeAPI


def main() -> None:
    """Serve until SIGTERM/SIGINT, after printing FAKE_API_URL=... once listening."""
    parser = argparse.ArgumentParser(prog="python -m testbed.fake_api")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--expected-key", default=None)
    args = parser.parse_args()

    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    fake = FakeAPI(expected_key=args.expected_key).start(port=args.port)
    print(f"FAKE_API_URL={fake.base_url}", flush=True)
    try:
        while not done.wait(0.5):
            pass
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
