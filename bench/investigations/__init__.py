"""Investigations: benchmarks that reach into Streamlit's private internals to explain a number.

Written for Streamlit 1.67.0 (the version in pyproject's range when they were made); a later
Streamlit may move what they patch or speak, so they are not part of `make bench`:

- ttft.py: time to first token, with timers monkeypatched around Streamlit's script runner,
  `Page.run` and the app's own parts (`--serve-probed`), and an optional pyinstrument profile;
- ws_sessions.py: a client of Streamlit's websocket protocol (`/_stcore/stream`, protobuf
  BackMsg / ForwardMsg), twenty of which bench/load.py drives without twenty browsers;
- trace_sends/: a sitecustomize that stamps each message as Streamlit's send loop writes it
  (bench/load.py --trace).

Run them from the repository root: `python -m bench.investigations.ttft`.
"""
