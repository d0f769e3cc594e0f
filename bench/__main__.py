"""The regression benchmarks, one after another: `python -m bench [NAME ...]` (`make bench`).

Each rewrites its own section of docs/PERFORMANCE.md and exits non-zero when it misses its
goal; this runs them in turn (or only those named) and says which missed. The investigations
(bench/investigations/) reach into Streamlit's internals and are run by hand.
"""

from __future__ import annotations

import subprocess
import sys
import time

from bench.harness import ROOT

REGRESSION = ("images", "safe_text", "i18n", "history", "reasoning", "streaming", "local", "load")


def main(names: list[str]) -> int:
    chosen = names or list(REGRESSION)
    unknown = [n for n in chosen if n not in REGRESSION]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; the set is {', '.join(REGRESSION)}")
        return 2
    results = {}
    for name in chosen:
        print(f"\n=== bench.{name}", flush=True)
        started = time.monotonic()
        code = subprocess.run([sys.executable, "-m", f"bench.{name}"], cwd=ROOT).returncode
        results[name] = (code, time.monotonic() - started)
    print("\n" + "\n".join(f"{'ok    ' if code == 0 else 'MISSED'} bench.{name} ({seconds:.0f} s)"
                           for name, (code, seconds) in results.items()))
    return 0 if all(code == 0 for code, _ in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
